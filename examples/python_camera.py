#!/usr/bin/env python3
"""Feeds a pipeline camera (`source: external`) from OpenCV's VideoCapture in Python.

    PYTHONPATH=build/python python3 examples/python_camera.py VIDEO [--pipeline pycam] [--camera door]

Each frame is letterboxed straight into a slot of the camera's ring, as shmyolo's own ingest does; the
pipeline's workers take it from there. Stops at the end of the video, on Ctrl-C, or when the pipeline stops.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # its own warnings would bury the one line below
import cv2  # noqa: E402

import shmyolo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", help="a video file, stream URL or device index")
    parser.add_argument("--pipeline", default="pycam")
    parser.add_argument("--camera", default="door")
    parser.add_argument("--fps", type=float, default=0, help="pace to this rate (0: as fast as the ring takes)")
    args = parser.parse_args()

    if not (args.video.isdigit() or "://" in args.video or os.path.exists(args.video)):
        print(f"python_camera: no file at {args.video}: check the path", file=sys.stderr)
        return 1
    capture = cv2.VideoCapture(int(args.video) if args.video.isdigit() else args.video)
    if not capture.isOpened():
        print(f"python_camera: cannot open {args.video}: check the path or URL", file=sys.stderr)
        return 1
    try:
        ring = shmyolo.Ring.attach(f"shmyolo.{args.pipeline}.cam.{args.camera}")
        producer = shmyolo.Producer(ring)
    except (OSError, shmyolo.BusError) as e:
        print(f"python_camera: {e}", file=sys.stderr)
        return 1
    period = 1.0 / args.fps if args.fps > 0 else 0.0
    next_due = time.monotonic()
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            producer.publish_frame(frame, capture_ns=time.time_ns())
            if period:
                next_due += period
                time.sleep(max(0.0, next_due - time.monotonic()))
    except shmyolo.BusError as e:  # the pipeline stopped and closed the ring
        print(f"python_camera: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    print(f"python_camera: published {producer.frames} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
