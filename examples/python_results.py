#!/usr/bin/env python3
"""Prints a running pipeline's detections, one line per camera frame, with track ids.

    PYTHONPATH=build/python python3 examples/python_results.py [--pipeline pycam]

Reading takes nothing from the pipeline's own outputs, and any number of readers may follow at once.
Ends when the pipeline stops, or on Ctrl-C.
"""
import argparse
import sys

import shmyolo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pycam")
    args = parser.parse_args()
    try:
        results = shmyolo.Results(args.pipeline)
    except (OSError, shmyolo.BusError) as e:
        print(f"python_results: {e}", file=sys.stderr)
        return 1
    try:
        for r in results:
            found = ", ".join(f"{d['class']} {d['score']:.2f} #{d.get('track_id')}" for d in r["detections"])
            print(f"{r['camera']} frame {r['frame']}: {found or 'nothing'}", flush=True)
    except KeyboardInterrupt:
        pass
    if results.missed:
        print(f"python_results: missed {results.missed} records (fell behind)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
