"""The frame bus from Python: zero-copy views, every frame once, crash safety, errors with one-line messages."""
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import shmyolo
from conftest import no_segments_of, run_python


def inside(view: np.ndarray, ring: shmyolo.Ring) -> bool:
    address, size = ring.mapping
    start = view.__array_interface__["data"][0]
    return address <= start and start + view.nbytes <= address + size


def test_views_are_the_slots_themselves(ring_name):
    ring = shmyolo.Ring.create(ring_name, 64, 48, delivery="queue")
    producer = shmyolo.Producer(ring)
    with producer.slot() as slot:
        assert slot.pixels.shape == (48, 64, 3) and slot.pixels.dtype == np.uint8
        assert inside(slot.pixels, ring)
        slot.pixels[:] = 7
        slot.pixels[10, 20] = (1, 2, 3)
        written = slot.pixels.__array_interface__["data"][0]
        seq = slot.publish(capture_ns=123)
    with shmyolo.Consumer(ring).claim(timeout=1) as frame:
        view = frame.pixels
        assert inside(view, ring)
        assert view.__array_interface__["data"][0] == written  # the very bytes the producer wrote
        assert not view.flags.writeable
        assert frame.seq == seq and frame.capture_unix_ns == 123
        assert tuple(view[10, 20]) == (1, 2, 3) and int(view[0, 0, 0]) == 7
        assert frame.meta["camera"] == 0 and frame.meta["frame"] == 0
    with pytest.raises(ValueError, match="released"):
        frame.pixels


def test_publish_frame_letterboxes_like_ingest(ring_name):
    ring = shmyolo.Ring.create(ring_name, 320, 320, delivery="queue")
    producer = shmyolo.Producer(ring)
    picture = np.full((240, 640, 3), 200, np.uint8)
    producer.publish_frame(picture)
    with shmyolo.Consumer(ring).claim(timeout=1) as frame:
        meta = frame.meta
        assert meta["source_size"] == (640, 240)
        assert meta["scale"] == pytest.approx((0.5, 0.5))
        assert meta["pad"] == pytest.approx((0.0, 100.0))  # centred, as Ultralytics pads
        assert int(frame.pixels[0, 0, 0]) == 114 and int(frame.pixels[160, 160, 0]) == 200


def test_wrong_shape_or_dtype_is_a_value_error(ring_name):
    producer = shmyolo.Producer(shmyolo.Ring.create(ring_name, 64, 64))
    with pytest.raises(ValueError, match=r"uint8 array of shape \(height, width, 3\).*float32"):
        producer.publish_frame(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(10, 10\)"):
        producer.publish_frame(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="scale 0 x 0 is not a placement scale: give publish"):
        with producer.slot() as slot:
            slot.publish(scale=0.0)


def test_wrong_ring_name_names_the_ring():
    with pytest.raises(FileNotFoundError, match="no ring named shmyolo.nothing-here.cam.x in"):
        shmyolo.Ring.attach("shmyolo.nothing-here.cam.x")
    with pytest.raises(ValueError, match="name"):
        shmyolo.Ring.create("bad name/with slash", 8, 8)


def test_a_consumer_must_say_how_the_ring_delivers(ring_name):
    ring = shmyolo.Ring.create(ring_name, 8, 8, delivery="queue")
    with pytest.raises(ValueError, match="delivers queue: every frame once"):
        shmyolo.Consumer(ring, latest=True)


def test_claim_times_out_with_a_timeout_error(ring_name):
    ring = shmyolo.Ring.create(ring_name, 8, 8, delivery="queue")
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"no frame in ring {ring_name}"):
        shmyolo.Consumer(ring).claim(timeout=0.2)
    assert time.monotonic() - start >= 0.2



def test_a_full_queue_makes_the_producer_wait_for_a_free_slot(ring_name):
    ring = shmyolo.Ring.create(ring_name, 8, 8, slots=2, delivery="queue")
    producer = shmyolo.Producer(ring)
    for _ in range(2):
        producer.publish_frame(np.zeros((8, 8, 3), np.uint8))
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"no free slot in ring {ring_name} within 0.3 s: its consumers are not"):
        producer.publish_frame(np.zeros((8, 8, 3), np.uint8), timeout=0.3)
    assert time.monotonic() - start >= 0.3
    consumer = shmyolo.Consumer(ring)

    def take_one_later():
        time.sleep(0.5)
        consumer.claim(timeout=1).release()

    helper = threading.Thread(target=take_one_later)
    helper.start()
    start = time.monotonic()
    with producer.slot() as slot:  # no timeout: waits until the helper frees a slot
        assert time.monotonic() - start >= 0.4
        slot.publish()
    helper.join()
    ring.close()
    with pytest.raises(shmyolo.BusError, match="closed"):
        producer.slot()  # a closed ring ends the wait


CONSUMER = """
import sys, shmyolo
ring = shmyolo.Ring.attach(sys.argv[1])
consumer = shmyolo.Consumer(ring)
print("ready", flush=True)
while True:
    try:
        with consumer.claim(timeout=5) as f:
            p = f.pixels
            # The frame is whole: every byte is its own number's.
            assert (p == p.flat[0]).all(), "torn frame"
            print(f.meta["frame"], flush=True)
    except (TimeoutError, shmyolo.BusError):
        break
"""


def test_queue_mode_gives_every_frame_once_across_processes(ring_name):
    ring = shmyolo.Ring.create(ring_name, 320, 240, slots=4, delivery="queue")
    consumers = [run_python(CONSUMER, ring_name) for _ in range(3)]
    for c in consumers:
        assert c.stdout.readline().strip() == "ready"
    producer = shmyolo.Producer(ring)
    frames = 2000
    for i in range(frames):
        with producer.slot() as slot:
            slot.pixels[:] = i % 251
            slot.publish()
    ring.close()  # consumers drain what is left, then see the ring closed
    seen = []
    for c in consumers:
        out, _ = c.communicate(timeout=60)
        assert c.returncode == 0
        seen += [int(line) for line in out.split()]
    assert sorted(seen) == list(range(frames))


def test_a_producer_killed_mid_slot_leaves_no_torn_frame(ring_name):
    ring = shmyolo.Ring.create(ring_name, 64, 64, slots=3, delivery="queue")
    child = run_python("""
import os, signal, sys, shmyolo
producer = shmyolo.Producer(shmyolo.Ring.attach(sys.argv[1]))
with producer.slot() as s:
    s.pixels[:] = 1
    s.publish()
slot = producer.slot()
slot.pixels[:32] = 2   # half a frame, then killed
print("half", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
""", ring_name)
    assert child.stdout.readline().strip() == "half"
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    consumer = shmyolo.Consumer(ring)
    with consumer.claim(timeout=1) as f:
        assert (f.pixels == 1).all()
    with pytest.raises(shmyolo.BusError, match="stale: its producer .* died"):
        consumer.claim(timeout=0.2)  # the half-written slot is never delivered: the ring says why
    producer = shmyolo.Producer(ring)  # takes over from the dead producer and frees its slot
    for _ in range(3):  # every slot is usable again
        with producer.slot() as s:
            s.pixels[:] = 3
            s.publish()
    for _ in range(3):
        with consumer.claim(timeout=1) as f:
            assert (f.pixels == 3).all()


def test_a_consumer_killed_mid_claim_has_its_frame_delivered_again(ring_name):
    ring = shmyolo.Ring.create(ring_name, 64, 64, delivery="queue")
    producer = shmyolo.Producer(ring)
    with producer.slot() as s:
        s.pixels[:] = 9
        seq = s.publish()
    child = run_python("""
import os, signal, sys, shmyolo
frame = shmyolo.Consumer(shmyolo.Ring.attach(sys.argv[1])).claim(timeout=5)
print(frame.seq, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
""", ring_name)
    assert int(child.stdout.readline()) == seq
    child.wait(timeout=10)
    with shmyolo.Consumer(ring).claim(timeout=5) as f:  # the dead claimer is noticed at once
        assert f.seq == seq and (f.pixels == 9).all()


def test_a_ring_removed_under_a_reader_is_said(ring_name):
    creator = run_python("""
import sys, time, shmyolo
ring = shmyolo.Ring.create(sys.argv[1], 8, 8, delivery="queue")
print("made", flush=True)
time.sleep(0.5)  # the reader is waiting by then
ring.close()
print("closed", flush=True)
""", ring_name)
    assert creator.stdout.readline().strip() == "made"
    consumer = shmyolo.Consumer(shmyolo.Ring.attach(ring_name))
    with pytest.raises(shmyolo.BusError, match=f"ring {ring_name} was closed by its creator"):
        consumer.claim(timeout=10)
    creator.wait(timeout=10)
    assert no_segments_of(ring_name)


def test_a_killed_creator_leaves_a_segment_gc_collects(ring_name):
    child = run_python("""
import os, signal, sys, shmyolo
ring = shmyolo.Ring.create(sys.argv[1], 8, 8)
print("made", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
""", ring_name)
    assert child.stdout.readline().strip() == "made"
    child.wait(timeout=10)
    (entry,) = [s for s in shmyolo.ls() if s["name"] == ring_name]
    assert entry["stale"]  # no Python resource tracker removed it behind anyone's back
    gc = subprocess.run([os.environ["SHMYOLO_BIN"], "gc"], capture_output=True, text=True, timeout=30)
    assert gc.returncode == 0, gc.stderr
    assert no_segments_of(ring_name)


def test_peek_latest_copies_the_newest_frame(ring_name):
    ring = shmyolo.Ring.create(ring_name, 16, 16)
    assert shmyolo.peek_latest(ring) is None
    producer = shmyolo.Producer(ring)
    for value in (5, 6):
        with producer.slot() as s:
            s.pixels[:] = value
            s.publish()
    pixels, meta = shmyolo.peek_latest(ring)
    assert (pixels == 6).all() and meta["seq"] == 1
    assert pixels.flags.owndata or not inside(pixels, ring)
