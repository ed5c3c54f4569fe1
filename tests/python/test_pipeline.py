"""A camera fed from Python into a real pipeline: Python producer -> C++ workers (yolov8n) -> Python results."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import pytest

import shmyolo
from conftest import no_segments_of

SHARED = Path(os.environ["SHMYOLO_SHARED_DIR"])
FRAMES = 60


def start_pipeline(tmp_path: Path, name: str) -> subprocess.Popen:
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"""
name: {name}
model: {{path: {SHARED / 'models/yolov8n/yolov8n_fp32_from_int8.onnx'}, confidence: 0.25}}
workers: {{count: 2}}
cameras:
  - {{name: door, source: external, delivery: queue}}
outputs: {{jsonl: {tmp_path / 'out.jsonl'}, stats_interval: 60}}
""")
    return subprocess.Popen([os.environ["SHMYOLO_BIN"], "run", str(config), "--stats-json", str(tmp_path / "stats.json")],
                            stderr=subprocess.PIPE, text=True)


def wait_for_state(name: str, state: str, pipeline: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert pipeline.poll() is None, pipeline.stderr.read()
        try:
            if shmyolo.pipeline_info(name)["cameras"][0]["state"] == state:
                return
        except (FileNotFoundError, shmyolo.BusError):
            pass  # not created yet
        time.sleep(0.05)
    raise AssertionError(f"camera never became {state}")


def test_python_camera_through_the_workers_to_python_results(tmp_path):
    name = f"pyt{os.getpid()}"
    pipeline = start_pipeline(tmp_path, name)
    try:
        wait_for_state(name, "waiting", pipeline)  # no ingest process: it waits for its producer
        info = shmyolo.pipeline_info(name)
        assert info["cameras"][0]["external"] and info["classes"][0] == "person"
        results = shmyolo.Results(name)
        arrays = shmyolo.Results(name)  # a second reader sees every record too
        producer = shmyolo.Producer(shmyolo.Ring.attach(info["cameras"][0]["ring"]))
        capture = cv2.VideoCapture(str(SHARED / "media/vtest.avi"))
        for _ in range(FRAMES):
            ok, frame = capture.read()
            assert ok
            producer.publish_frame(frame)
        wait_for_state(name, "running", pipeline)
        got = [results.read(timeout=60) for _ in range(FRAMES)]
        assert [r["frame"] for r in got] == list(range(FRAMES))  # every frame once, in order
        assert all(r["camera"] == "door" and (r["width"], r["height"]) == (768, 576) for r in got)
        people = [d for r in got for d in r["detections"] if d["class"] == "person"]
        assert len(people) >= 3 * FRAMES  # vtest.avi shows several people in every frame
        assert any(d["track_id"] is not None for d in people)
        first = arrays.read(timeout=10, as_array=True)
        assert first["detections"].dtype == shmyolo.detection_dtype and first["frame"] == 0
        assert len(first["detections"]) == len(got[0]["detections"])
        assert results.missed == 0
        pipeline.send_signal(signal.SIGINT)
        _, err = pipeline.communicate(timeout=60)
        assert pipeline.returncode == 0, err
    finally:
        if pipeline.poll() is None:  # the test failed midway: stop it as a user would, so it removes its segments
            pipeline.send_signal(signal.SIGINT)
            try:
                pipeline.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pipeline.kill()
                pipeline.wait()
    with pytest.raises(shmyolo.BusError, match="closed"):
        producer.publish_frame(frame)  # the stopped pipeline closed the camera's ring
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(line["frame"] for line in lines) == list(range(FRAMES))
    for line, record in zip(lines, got):  # the Python reader saw what the JSON lines say
        assert [c for d in line["detections"] for c in d["box"]] == pytest.approx(
            [c for d in record["detections"] for c in d["box"]], abs=0.05)  # JSON keeps 1 decimal
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["cameras"][0]["frames_in"] == FRAMES and stats["cameras"][0]["frames_out"] == FRAMES
    del producer, results, arrays
    assert no_segments_of(f"shmyolo.{name}.")


def test_an_external_camera_takes_no_source_options(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f"""
name: bad{os.getpid()}
model: {{path: {SHARED / 'models/yolov8n/yolov8n_fp32_from_int8.onnx'}}}
cameras:
  - {{name: door, source: external, fps: 5}}
""")
    run = subprocess.run([os.environ["SHMYOLO_BIN"], "run", str(config)], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert "cameras[0].fps: not for source: external" in run.stderr
