#!/usr/bin/env python3
"""The Python side of `shmyolo bench python` (src/bench/python_bench.cpp runs it with the C++ publishing figures).

In one run, for the same frames:
- publishing: a frame written from Python through a slot's numpy view and published, against one memcpy of the
  frame and a C++ producer doing the same;
- receiving: a C++ and a Python consumer, each in its own process and asleep until its frame comes, holding it
  (C++: the slot's pointer; Python: a numpy view of the slot) from the moment it was published. One producer
  publishes into their two rings in turn, so both see the same frames under the same conditions, interleaved;
- the design most Python systems use (multiprocessing.shared_memory, a semaphore, np.copy on read) moving them.
"""
import argparse
import ctypes
import json
import multiprocessing
import os
import statistics
import subprocess
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


def measure_publish(frame, frames):
    """Publishing from Python through the slot view (a latest ring, as the C++ producer's, so nothing waits),
    frame by frame in turn with one libc memcpy of the frame into one of 4 buffers as cold as the slots."""
    h, w, _ = frame.shape
    ring = shmyolo.Ring.create(f"shmyolo.bench-python-{os.getpid()}.frames", w, h, slots=4, delivery="latest")
    producer = shmyolo.Producer(ring)
    buffers = [np.zeros_like(frame) for _ in range(4)]  # pages touched, as the slots' are
    publish, copy = [], []
    for i in range(frames + WARM_UP):
        time.sleep(PACE_S)
        t0 = time.perf_counter_ns()
        ctypes.memmove(buffers[i % 4].ctypes.data, frame.ctypes.data, frame.nbytes)
        copied = time.perf_counter_ns() - t0
        time.sleep(PACE_S)
        t0 = time.perf_counter_ns()
        with producer.slot() as s:
            s.pixels[...] = frame
            s.publish()
        if i >= WARM_UP:
            publish.append(time.perf_counter_ns() - t0)
            copy.append(copied)
    ring.close()
    return p50_us(publish), p50_us(copy)


def measure_held_side_by_side(frame, frames, shmyolo_bin):
    """publish -> held for the C++ and the Python consumer: one producer, their two rings in turn."""
    h, w, _ = frame.shape
    base = f"shmyolo.bench-python-{os.getpid()}"
    rings = [shmyolo.Ring.create(f"{base}.{side}", w, h, slots=4, delivery="queue") for side in ("cpp", "py")]
    cpp = subprocess.Popen([shmyolo_bin, "bench", "python", "--consume-ring", rings[0].name,
                            "--frames", str(frames)], stdout=subprocess.PIPE)
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=shmyolo_consumer, args=(rings[1].name, frames, there))
    child.start()
    producers = [shmyolo.Producer(ring) for ring in rings]
    for i in range(2 * (frames + WARM_UP)):
        time.sleep(PACE_S)
        with producers[i % 2].slot(timeout=10) as s:
            s.pixels[...] = frame
            s.publish()
    cpp_held = np.frombuffer(cpp.stdout.read(8 * frames), np.int64)
    if cpp.wait() != 0 or len(cpp_held) != frames:
        raise RuntimeError("the C++ consumer process failed")
    python_held = here.recv()
    child.join()
    for ring in rings:
        ring.close()
    return p50_us(cpp_held), p50_us(python_held)


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
    parser.add_argument("--shmyolo", required=True, help="the shmyolo program, started as the C++ consumer")
    parser.add_argument("--json", default="")
    a = parser.parse_args()
    multiprocessing.set_start_method("fork")
    frame = np.random.default_rng(1).integers(0, 256, (a.height, a.width, 3), np.uint8)
    publish, memcpy_here = measure_publish(frame, a.frames)
    cpp_wake, wake = measure_held_side_by_side(frame, a.frames, a.shmyolo)
    seed_publish, seed_wake = measure_seed(frame, a.frames)
    memcpy = a.cpp_memcpy_us
    rows = [
        ("memcpy of the frame (C++)", memcpy, memcpy / memcpy, ""),
        ("publish: C++ producer", a.cpp_publish_us, a.cpp_publish_us / memcpy, "x memcpy"),
        ("memcpy, in turn with Python's publishes", memcpy_here, 1.0, ""),
        ("publish: Python, slot view", publish, publish / memcpy_here, "x that memcpy (target <= 1.2)"),
        ("publish: shared_memory + semaphore", seed_publish, seed_publish / memcpy_here, "x that memcpy"),
        ("publish -> held: C++ consumer", cpp_wake, 1.0, ""),
        ("publish -> held: Python, numpy view", wake, wake / cpp_wake, "x C++ (target <= 1.5)"),
        ("publish -> held: semaphore + np.copy", seed_wake, seed_wake / cpp_wake, "x C++"),
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
                       "python_publish_over_memcpy": publish / memcpy_here,
                       "python_held_over_cpp": wake / cpp_wake,
                       "seed_held_over_python": seed_wake / wake}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
