#!/usr/bin/python3
"""The pipeline's Modbus server read by an independent client (Debian's
python3-pymodbus), as a PLC would: after a synthetic camera's 30 frames the
registers agree with the JSON Lines, the acknowledge is taken, a write to a
read-only address and a read past the map are exceptions.

  modbus_pymodbus_test.py SHMYOLO MODEL
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from pymodbus.client import ModbusTcpClient

SHMYOLO, MODEL = sys.argv[1:3]


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def registers(client, address, count):
    r = client.read_input_registers(address, count, slave=1)
    return None if r.isError() else r.registers


def check(client, jsonl):
    if not eventually(lambda: (registers(client, 100, 4) or [])[0:1] == [3] and registers(client, 102, 2) == [0, 30]):
        fail(f"the camera's block never showed 30 results and finished: {registers(client, 100, 9)}")
    with open(jsonl) as f:
        lines = [json.loads(line) for line in f]
    if len(lines) != 30:
        fail(f"{len(lines)} JSON lines, not 30")
    last = lines[-1]["detections"]
    block = registers(client, 100, 14)
    if block[5] != 30:
        fail(f"result_sequence {block[5]}, not 30")
    if block[6] != len(last):
        fail(f"objects {block[6]}, the last JSON line has {len(last)}")
    per_class = [sum(1 for d in last if d["class"] == name) for name in ("circle", "square", "triangle", "person")]
    if block[10:14] != per_class:
        fail(f"class counts {block[10:14]}, the last JSON line has {per_class}")
    if block[8] != 1:
        fail("unacknowledged is not 1 before the acknowledge")
    if client.write_register(0, 30, slave=1).isError():
        fail("the acknowledge register refused a write")
    if not eventually(lambda: registers(client, 108, 1) == [0]):
        fail("unacknowledged stayed 1 after the acknowledge")
    bad = client.write_register(3, 1, slave=1)
    if not bad.isError() or bad.exception_code != 2:
        fail(f"a write past the acknowledges gave {bad}")
    past = client.read_input_registers(150, 60, slave=1)
    if not past.isError() or past.exception_code != 2:
        fail(f"a read past the map gave {past}")


def main():
    work = tempfile.mkdtemp(prefix="shmyolo-pymodbus-")
    shm = tempfile.mkdtemp(prefix="shmyolo-pymodbus-", dir="/dev/shm")
    port = free_port()
    jsonl = os.path.join(work, "out.jsonl")
    config = os.path.join(work, "plc.yaml")
    with open(config, "w") as f:
        f.write(f"name: pyplc{os.getpid()}\nshm_dir: {shm}\nmodel: {{path: {MODEL}, confidence: 0.5}}\n"
                "workers: {count: 2}\ncameras:\n"
                '  - {name: yard, source: "synthetic:?seed=1", fps: 10, frames: 30, delivery: queue}\n'
                "http: {port: 0}\n"
                f"outputs: {{jsonl: {jsonl}, modbus: {{port: {port}, classes: [circle, square, triangle, person]}}}}\n")
    pipeline = subprocess.Popen([SHMYOLO, "run", config], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = ModbusTcpClient("127.0.0.1", port=port)
    try:
        if not eventually(lambda: client.connect() and registers(client, 10, 1) == [1]):
            fail("no Modbus server answered with map version 1")
        check(client, jsonl)
    finally:
        client.close()
        pipeline.send_signal(signal.SIGTERM)
        code = pipeline.wait(60)
        log = pipeline.stderr.read()
        shutil.rmtree(work, ignore_errors=True)
        left = os.listdir(shm)
        shutil.rmtree(shm, ignore_errors=True)
    if code != 0:
        fail(f"the pipeline exited with {code}:\n{log}")
    if left:
        fail(f"left behind in shared memory: {left}")
    print("pymodbus: registers agree with the JSON Lines, the acknowledge is taken, exceptions where due")


main()
