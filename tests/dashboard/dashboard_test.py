#!/usr/bin/python3
"""The dashboard in a real browser (Debian's headless Chromium, driven by
chromedriver through Selenium) against a running `shmyolo run` pipeline.

  dashboard_test.py SHMYOLO SHARED_DIR SOURCE_DIR OUT_DIR shapes|coco

shapes: synthetic cameras and the bundled shapes model, behind http.auth
        tokens: the page must ask for a token, refuse a wrong one, and after
        sign-in every tile must show
        boxes, the event log must fill, and an uploaded synthetic frame must
        list the detections `shmyolo detect` gives for it.
coco:   the people-walking clip and yolov8n; the tile must show people, and
        dog.jpg uploaded through the form must list what `shmyolo detect`
        gives (dog, bicycle, car, ...).
A screenshot of the page goes to OUT_DIR/dashboard-<scenario>.png.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SHMYOLO, SHARED, SOURCE, OUT, SCENARIO = sys.argv[1:6]
CONF = 0.25  # the dashboard form's default confidence


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def config(work):
    if SCENARIO == "shapes":
        model = f"{SOURCE}/models/shapes-320.onnx"
        # door: a zone over its left half and a line down its middle (drawn on
        # its tile), and snapshots of its tracks for the events list.
        cameras = ('  - {name: door, source: "synthetic:?width=640&height=480&seed=11", fps: 10,\n'
                   '     zones: [{name: left, points: [[0, 0], [320, 0], [320, 480], [0, 480]]}],\n'
                   '     lines: [{name: middle, from: [320, 0], to: [320, 480]}]}\n'
                   '  - {name: yard, source: "synthetic:?width=1280&height=720&seed=12", fps: 10}\n')
    else:
        model = f"{SHARED}/models/yolov8n/yolov8n_fp32_from_int8.onnx"
        cameras = f'  - {{name: street, source: "{SHARED}/media/vtest.avi", fps: 5}}\n'
    auth, token = "", None
    if SCENARIO == "shapes":
        made = subprocess.run([SHMYOLO, "token", "new", "--name", "browser"], check=True, capture_output=True,
                              text=True).stdout.splitlines()
        token = made[0].removeprefix("token: ")
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(made[-1] + "\n")
        auth = f", auth: {{tokens_file: {work}/tokens}}"
    path = os.path.join(work, "pipeline.yaml")
    with open(path, "w") as f:
        f.write(f"name: dash{os.getpid()}\nmodel: {{path: {model}}}\nworkers: {{count: 2, threads: 1}}\n"
                f"cameras:\n{cameras}http: {{bind: 127.0.0.1, port: 0, threads: 8{auth}}}\n"
                f"outputs: {{snapshots: {{dir: {work}/snapshots}}}}\n")
    return path, model, token


def upload_image(work):
    if SCENARIO == "coco":
        return f"{SHARED}/media/dog.jpg"
    out = os.path.join(work, "synth")
    subprocess.run([SHMYOLO, "synth", "--out", out, "--frames", "1", "--width", "640", "--height", "480",
                    "--seed", "99"], check=True, capture_output=True)
    images = sorted(os.listdir(os.path.join(out, "images")))
    return os.path.join(out, "images", images[0])


def expected_classes(model, image):
    r = subprocess.run([SHMYOLO, "detect", "--model", model, "--conf", str(CONF), image],
                       check=True, capture_output=True, text=True)
    return sorted(d["class"] for d in json.loads(r.stdout.splitlines()[0])["detections"])


def start_pipeline(cfg, shm):
    p = subprocess.Popen([SHMYOLO, "run", cfg, "--shm-dir", shm], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    log, port = [], [None]
    found = threading.Event()

    def read():
        for line in p.stderr:
            log.append(line)
            m = re.search(r"serving on [^ ]+:(\d+)", line)
            if m:
                port[0] = int(m.group(1))
                found.set()
    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while not found.wait(0.2) and p.poll() is None and time.monotonic() < deadline:
        pass
    if not found.is_set():
        p.kill()
        fail("the pipeline did not start serving:\n" + "".join(log))
    return p, port[0], log


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main():
    work = tempfile.mkdtemp(prefix="shmyolo-dash-")
    shm = tempfile.mkdtemp(prefix="shmyolo-dash-", dir="/dev/shm")
    try:
        check_in_browser(work, shm)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        left = os.listdir(shm)
        shutil.rmtree(shm, ignore_errors=True)
    if left:
        fail(f"left behind in shared memory: {left}")


def check_in_browser(work, shm):
    cfg, model, token = config(work)
    image = upload_image(work)
    want = expected_classes(model, image)
    if SCENARIO == "coco" and not {"dog", "bicycle", "car"} <= set(want):
        fail(f"shmyolo detect on dog.jpg gave {want}")
    pipeline, port, log = start_pipeline(cfg, shm)
    driver = None
    try:
        driver = browser()
        check_page(driver, port, image, want, token)
    finally:
        if driver:
            driver.quit()
        pipeline.send_signal(signal.SIGTERM)
        code = pipeline.wait(60)
    if code != 0:
        fail(f"the pipeline exited with {code}:\n" + "".join(log))


def sign_in(driver, wait, token):
    """The page asks for a token, refuses a wrong one, and takes the right one."""
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    if d_tiles := driver.find_elements(By.CSS_SELECTOR, ".tile"):
        fail(f"{len(d_tiles)} tiles shown before signing in")
    driver.find_element(By.ID, "token").send_keys("not-the-token")
    driver.find_element(By.ID, "sign-in").click()
    wait.until(lambda d: "not in http.auth.tokens_file" in d.find_element(By.ID, "login-error").text)
    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(lambda d: not d.find_element(By.ID, "login").is_displayed())
    if token in driver.page_source or driver.execute_script("return document.cookie"):
        fail("the token is readable by the page's scripts")


# The share of points down the door tile's middle (the line at x = 320 of
# 640, so x = 160 of its 320-wide picture) that are the line's yellow.
LINE_PIXELS = """
const img = arguments[0];
// The tile's picture is replaced as frames come: while the next one loads it
// is not drawable (drawImage throws on a broken image), so no line is seen yet.
if (!img.complete || img.naturalWidth === 0) return 0;
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext("2d");
g.drawImage(img, 0, 0);
let yellow = 0, n = 0;
for (let y = 10; y < c.height - 10; y += 7) {
  const [r, gr, b] = g.getImageData(Math.round(c.width / 2), y, 1, 1).data;
  n += 1;
  if (r > 170 && gr > 170 && b < 110) yellow += 1;
}
return yellow / n;
"""


def check_tracking(driver, wait):
    """Tracks listed with their ids, a line counter, track events with their
    snapshots, the zone and line drawn on the door tile, and each tile's chart."""
    try:
        wait.until(lambda d: int(d.find_element(By.ID, "tracks").get_attribute("data-tracks") or 0) >= 1)
    except Exception:
        fail("no tracks listed: " + driver.find_element(By.ID, "tracks").text)
    if "#" not in driver.find_element(By.ID, "tracks").text:
        fail("tracks listed without their ids: " + driver.find_element(By.ID, "tracks").text)
    if not driver.find_elements(By.CSS_SELECTOR, '#tracks .line[data-line="middle"]'):
        fail("no counter for the door's line: " + driver.find_element(By.ID, "tracks").text)
    try:
        wait.until(lambda d: any(d.execute_script("return arguments[0].naturalWidth", i) > 0
                                 for i in d.find_elements(By.CSS_SELECTOR, "#track-events li img")))
    except Exception:
        fail("no track event with a snapshot: " + driver.find_element(By.ID, "track-events").text)
    door = driver.find_element(By.CSS_SELECTOR, '.tile[data-camera="door"] img')
    try:
        wait.until(lambda d: d.execute_script(LINE_PIXELS, door) >= 0.6)
    except Exception:
        fail(f"the door's line is not drawn on its tile ({driver.execute_script(LINE_PIXELS, door):.2f} of points)")
    try:
        wait.until(lambda d: all(int(c.get_attribute("data-samples") or 0) >= 3
                                 for c in d.find_elements(By.CSS_SELECTOR, ".tile canvas.chart")))
    except Exception:
        fail("the tiles' charts have no samples")


def check_page(driver, port, image, want, token):
    driver.get(f"http://127.0.0.1:{port}/")
    # The page reloads after signing in and redraws its tiles: an element
    # found just before that is stale by the time it is asked; look again.
    wait = WebDriverWait(driver, 60, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
    if token:
        sign_in(driver, wait, token)
    tiles = 2 if SCENARIO == "shapes" else 1
    # Tiles: every camera shows frames, with boxes drawn on them.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".tile")) == tiles)
    wait.until(lambda d: all(int(t.get_attribute("data-frames")) >= 3 and int(t.get_attribute("data-detections")) > 0
                             for t in d.find_elements(By.CSS_SELECTOR, ".tile")))
    wait.until(lambda d: all("fps" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".tile .stats")))
    # Tile pictures really decoded in the browser. A tile swaps in its next
    # picture every 250 ms, and a picture being decoded has no width yet: one
    # look could land on that moment, so wait for a decoded one.
    try:
        wait.until(lambda d: all(d.execute_script("return arguments[0].naturalWidth", t) >= 100
                                 for t in d.find_elements(By.CSS_SELECTOR, ".tile img")))
    except Exception:  # selenium's TimeoutException: say what failed in one line
        fail("a tile's picture did not load within 60 s")
    # Live events arrive over the EventSource.
    wait.until(lambda d: int(d.find_element(By.ID, "events").get_attribute("data-count") or 0) >= 5)
    if SCENARIO == "coco" and "person" not in driver.find_element(By.ID, "events").text:
        fail("no person in the street camera's events: " + driver.find_element(By.ID, "events").text)
    if SCENARIO == "shapes":
        check_tracking(driver, wait)
    # The upload form lists the image's detections.
    driver.find_element(By.ID, "file").send_keys(image)
    driver.find_element(By.ID, "send").click()
    wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("data-done") in ("1", "error"))
    if driver.find_element(By.ID, "result").get_attribute("data-done") != "1":
        fail("the upload failed: " + driver.find_element(By.ID, "result").text)
    got = sorted(r.get_attribute("data-class") for r in driver.find_elements(By.CSS_SELECTOR, "tr.detection"))
    if got != want:
        fail(f"the form listed {got}; shmyolo detect gives {want}")
    os.makedirs(OUT, exist_ok=True)
    shot = os.path.join(OUT, f"dashboard-{SCENARIO}.png")
    driver.save_screenshot(shot)
    signed = "signed in with a token, " if token else ""
    print(f"dashboard ({SCENARIO}): {signed}tiles with boxes, events live, upload listed {got}; screenshot {shot}")


main()
