"""The usual Python detection service that `shmyolo bench http` measures
shmyolo against: Flask behind Gunicorn's sync workers, each worker holding
the model and receiving and decoding its own uploads, detecting with OpenCV's
DNN module (Debian's python3-flask, gunicorn, python3-opencv).

  BASELINE_MODEL=yolov5n.onnx gunicorn --workers 4 flask_baseline:app

It answers POST /v1/detect (an image/jpeg or image/png body) with the
detections, as `shmyolo serve` does, for models with the YOLOv5 output layout
[1, N, 5 + classes]: RGB, /255, centred 640 letterbox padded with 114.
"""
import os

import cv2
import numpy as np
from flask import Flask, jsonify, request

cv2.setNumThreads(int(os.environ.get("BASELINE_THREADS", "1")))
NET = cv2.dnn.readNetFromONNX(os.environ["BASELINE_MODEL"])
SIZE = 640
CONF = float(os.environ.get("BASELINE_CONF", "0.25"))
IOU = 0.45

app = Flask(__name__)


def letterbox(image):
    h, w = image.shape[:2]
    r = min(SIZE / w, SIZE / h)
    nw, nh = round(w * r), round(h * r)
    px, py = (SIZE - nw) // 2, (SIZE - nh) // 2
    canvas = np.full((SIZE, SIZE, 3), 114, np.uint8)
    canvas[py:py + nh, px:px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, r, px, py


@app.post("/v1/detect")
def detect():
    image = cv2.imdecode(np.frombuffer(request.get_data(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return jsonify(error="the body is not a JPEG or PNG image"), 422
    canvas, r, px, py = letterbox(image)
    NET.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True))
    out = NET.forward()[0]
    scores = out[:, 5:] * out[:, 4:5]
    classes = scores.argmax(1)
    conf = scores[np.arange(len(classes)), classes]
    keep = conf >= CONF
    out, classes, conf = out[keep], classes[keep], conf[keep]
    boxes = np.stack([out[:, 0] - out[:, 2] / 2, out[:, 1] - out[:, 3] / 2, out[:, 2], out[:, 3]], 1)
    # Per-class NMS (OpenCV 4.6 has no NMSBoxesBatched): each class's boxes shifted apart.
    shifted = boxes + np.stack([classes * 4096.0, classes * 4096.0, 0 * classes, 0 * classes], 1)
    chosen = cv2.dnn.NMSBoxes(shifted.tolist(), conf.tolist(), CONF, IOU) if len(conf) else []
    detections = []
    for i in np.array(chosen).reshape(-1):
        x, y, w, h = boxes[i]
        x1, y1 = (x - px) / r, (y - py) / r
        detections.append({"class_id": int(classes[i]), "score": round(float(conf[i]), 3),
                           "box": [round(float(v), 1) for v in (x1, y1, x1 + w / r, y1 + h / r)]})
    return jsonify(width=image.shape[1], height=image.shape[0], detections=detections)
