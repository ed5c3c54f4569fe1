#!/usr/bin/env python3
"""The Python side of `shmyolo bench python` (src/bench/python_bench.cpp runs it with the C++ figures).

Side by side in one run, for the same frames:
- publishing: a frame written from Python through a slot's numpy view and published, against one memcpy of the
  frame and a C++ producer doing the same;
- receiving: a consumer in another process, asleep until the frame comes, holding the frame (shmyolo: a numpy
  view of the slot) from the moment it was published, against the C++ consumer;
- the design most Python systems use (multiprocessing.shared_memory, a semaphore, np.copy on read) moving them.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import shmyolo

WARM_UP = 10  # frames before counting, as the C++ side
PACE_S = 0.005  # between frames: the consumer is asleep when one comes, as in a pipeline


def p50_us(samples_ns):
    return statistics.median(samples_ns) / 1000.0


def shmyolo_consumer(name, frames, out):
    consumer = shmyolo.Consumer(shmyolo.Ring.attach(name))
    wake = []
    for i in range(frames + WARM_UP):
        frame = consumer.claim(timeout=5)
        view = frame.pixels
        now = time.monotonic_ns()
        assert view.ndim == 3
        wake.append(now - frame.meta["publish_mono_ns"])
        frame.release()
    out.send(wake[WARM_UP:])


def measure_shmyolo(frame, frames):
    h, w, _ = frame.shape
    name = f"shmyolo.bench-python-{os.getpid()}.frames"
    ring = shmyolo.Ring.create(name, w, h, slots=4, delivery="queue")
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=shmyolo_consumer, args=(name, frames, there))
    child.start()
    producer = shmyolo.Producer(ring)
    publish = []
    for i in range(frames + WARM_UP):
        time.sleep(PACE_S)
        t0 = time.perf_counter_ns()
        with producer.slot() as s:
            s.pixels[...] = frame
            s.publish()
        if i >= WARM_UP:
            publish.append(time.perf_counter_ns() - t0)
    wake = here.recv()
    child.join()
    ring.close()
    return p50_us(publish), p50_us(wake)


def seed_consumer(buffer_name, stamp_name, shape, ready, frames, out):
    shm = shared_memory.SharedMemory(buffer_name)
    stamps = shared_memory.SharedMemory(stamp_name)
    buffer = np.ndarray(shape, np.uint8, shm.buf)
    stamp = np.ndarray((1,), np.int64, stamps.buf)
    wake = []
    for _ in range(frames + WARM_UP):
        ready.acquire()
        copy = np.copy(buffer)
        wake.append(time.monotonic_ns() - int(stamp[0]))
        assert copy.shape == shape
    out.send(wake[WARM_UP:])
    del buffer, stamp
    shm.close()
    stamps.close()


def measure_seed(frame, frames):
    shm = shared_memory.SharedMemory(create=True, size=frame.nbytes)
    stamps = shared_memory.SharedMemory(create=True, size=8)
    try:
        buffer = np.ndarray(frame.shape, np.uint8, shm.buf)
        stamp = np.ndarray((1,), np.int64, stamps.buf)
        ready = multiprocessing.Semaphore(0)
        here, there = multiprocessing.Pipe()
        child = multiprocessing.Process(target=seed_consumer,
                                        args=(shm.name, stamps.name, frame.shape, ready, frames, there))
        child.start()
        publish = []
        for i in range(frames + WARM_UP):
            time.sleep(PACE_S)
            t0 = time.perf_counter_ns()
            buffer[...] = frame
            stamp[0] = time.monotonic_ns()
            ready.release()
            if i >= WARM_UP:
                publish.append(time.perf_counter_ns() - t0)
        wake = here.recv()
        child.join()
        del buffer, stamp
        return p50_us(publish), p50_us(wake)
    finally:
        shm.close()
        shm.unlink()
        stamps.close()
        stamps.unlink()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--cpp-memcpy-us", type=float, required=True)
    parser.add_argument("--cpp-publish-us", type=float, required=True)
    parser.add_argument("--cpp-wake-us", type=float, required=True)
    parser.add_argument("--json", default="")
    a = parser.parse_args()
    multiprocessing.set_start_method("fork")
    frame = np.random.default_rng(1).integers(0, 256, (a.height, a.width, 3), np.uint8)
    publish, wake = measure_shmyolo(frame, a.frames)
    seed_publish, seed_wake = measure_seed(frame, a.frames)
    memcpy = a.cpp_memcpy_us
    rows = [
        ("memcpy of the frame (C++)", memcpy, memcpy / memcpy, ""),
        ("publish: C++ producer", a.cpp_publish_us, a.cpp_publish_us / memcpy, "x memcpy"),
        ("publish: Python, slot view", publish, publish / memcpy, "x memcpy (target <= 1.2)"),
        ("publish: shared_memory + semaphore", seed_publish, seed_publish / memcpy, "x memcpy"),
        ("publish -> held: C++ consumer", a.cpp_wake_us, 1.0, ""),
        ("publish -> held: Python, numpy view", wake, wake / a.cpp_wake_us, "x C++ (target <= 1.5)"),
        ("publish -> held: semaphore + np.copy", seed_wake, seed_wake / a.cpp_wake_us, "x C++"),
    ]
    print(f"shmyolo bench python: {a.width}x{a.height} bgr8 frames ({frame.nbytes / 1e6:.1f} MB), {a.frames} each, "
          f"one every {PACE_S * 1000:.0f} ms, consumers in another process, p50")
    print(f"  {'':40} {'us':>9} {'ratio':>7}")
    for name, us, ratio, note in rows:
        print(f"  {name:40} {us:9.1f} {ratio:7.2f}  {note}")
    if a.json:
        with open(a.json, "w") as out:
            json.dump({"width": a.width, "height": a.height, "frames": a.frames,
                       "p50_us": {name: us for name, us, _, _ in rows},
                       "python_publish_over_memcpy": publish / memcpy,
                       "python_held_over_cpp": wake / a.cpp_wake_us,
                       "seed_held_over_python": seed_wake / wake}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
