#!/usr/bin/python3
"""Trains shmyolo's bundled demo detector on synthetic-camera scenes.

    /usr/bin/python3 tools/train_demo_model.py --shmyolo build/shmyolo --out models/shapes-320.onnx

Renders training and held-out frames with `shmyolo synth` (the renderer the
live demo uses), trains a compact anchor-free YOLO-style detector (strides
8/16/32, decoupled heads, box regression as distances to the box sides,
quality focal loss, GIoU loss), reports mAP@0.5 on the held-out set, and
exports ONNX in the Ultralytics YOLOv8 layout [batch, 4 + classes, anchors]
with Ultralytics-style metadata, so shmyolo loads it like any YOLOv8 export.

Needs only Debian 12 packages: python3-torch, python3-numpy, python3-onnx,
python3-opencv (and libopenblas0-pthread, which makes torch's BLAS calls 3-4x
faster than the reference BLAS it falls back to).
"""
import argparse
import json
import math
import pathlib
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT = 320                 # model input, square
STRIDES = (8, 16, 32)
# Box sizes (longest side, input pixels) each level learns; overlapping ranges
# let mid-sized objects train two levels. Synthetic objects are 12-35 % of the
# frame's short side, i.e. about 22-84 px after the letterbox.
LEVEL_RANGES = ((0, 64), (32, 128), (64, 1e9))
CENTER_RADIUS = 2.5         # positives lie within 2.5 strides of a box centre (YOLOX's centre sampling)
PAD = 114                   # Ultralytics' letterbox grey


# ----------------------------------------------------------------------------- data

def synth(shmyolo, out, cameras, frames, width, height, seed, every):
    """Starts `shmyolo synth`; the caller waits (two run side by side, one per core)."""
    return subprocess.Popen([shmyolo, "synth", "--out", str(out), "--cameras", str(cameras), "--frames",
                             str(frames), "--width", str(width), "--height", str(height), "--seed", str(seed),
                             "--every", str(every)], stdout=subprocess.DEVNULL)


def letterbox(image):
    """The same letterbox as shmyolo's: round(w*r) x round(h*r), INTER_LINEAR, centred, floor of half the pad."""
    h, w = image.shape[:2]
    r = min(INPUT / w, INPUT / h)
    nw, nh = min(INPUT, max(1, round(w * r))), min(INPUT, max(1, round(h * r)))
    px, py = (INPUT - nw) // 2, (INPUT - nh) // 2
    canvas = np.full((INPUT, INPUT, 3), PAD, np.uint8)
    canvas[py:py + nh, px:px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, nw / w, nh / h, px, py


def read_boxes(path, w, h, sx, sy, px, py):
    """YOLO txt (class cx cy w h, normalised) -> (classes, xyxy in input pixels)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    cls = np.array([int(r[0]) for r in rows], np.int64)
    b = np.array([[float(v) for v in r[1:5]] for r in rows], np.float32).reshape(-1, 4)
    xyxy = np.stack([(b[:, 0] - b[:, 2] / 2) * w * sx + px, (b[:, 1] - b[:, 3] / 2) * h * sy + py,
                     (b[:, 0] + b[:, 2] / 2) * w * sx + px, (b[:, 1] + b[:, 3] / 2) * h * sy + py], 1)
    return cls, xyxy.astype(np.float32)


def load_set(folder):
    """Letterboxed RGB images (uint8 NCHW), labelled boxes and hidden (ignored) boxes per image."""
    images, labels, hidden = [], [], []
    for path in sorted((folder / "images").glob("*.png")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        boxed, sx, sy, px, py = letterbox(bgr)
        images.append(np.ascontiguousarray(boxed[:, :, ::-1].transpose(2, 0, 1)))  # BGR HWC -> RGB CHW
        labels.append(read_boxes(folder / "labels" / (path.stem + ".txt"), w, h, sx, sy, px, py))
        hidden.append(read_boxes(folder / "hidden" / (path.stem + ".txt"), w, h, sx, sy, px, py))
    return torch.from_numpy(np.stack(images)), labels, hidden


# ----------------------------------------------------------------------------- model

def conv(cin, cout, k=3, s=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = conv(c, c // 2, 1), conv(c // 2, c, 3)

    def forward(self, x):
        return x + self.b(self.a(x))


class Head(nn.Module):
    """Decoupled classification and box branches for one level."""

    def __init__(self, c, classes, hidden=48):
        super().__init__()
        self.cls = nn.Sequential(conv(c, hidden), nn.Conv2d(hidden, classes, 1))
        self.box = nn.Sequential(conv(c, hidden), nn.Conv2d(hidden, 4, 1))
        nn.init.constant_(self.cls[-1].bias, -math.log((1 - 0.01) / 0.01))  # prior 0.01 (RetinaNet)

    def forward(self, x):
        return self.cls(x), self.box(x)


class ShapesNet(nn.Module):
    def __init__(self, classes, width=40):
        super().__init__()
        self.stem = nn.Sequential(conv(3, 16, 3, 2), conv(16, 32, 3, 2), Residual(32))
        self.c3 = nn.Sequential(conv(32, 64, 3, 2), Residual(64))
        self.c4 = nn.Sequential(conv(64, 80, 3, 2), Residual(80))
        self.c5 = nn.Sequential(conv(80, 96, 3, 2), Residual(96))
        self.lat5 = conv(96, width, 1)
        self.top4 = conv(width + 80, width, 1)
        self.top3 = conv(width + 64, width, 3)
        self.down3 = conv(width, width, 3, 2)
        self.out4 = conv(2 * width, width, 3)
        self.down4 = conv(width, width, 3, 2)
        self.out5 = conv(2 * width, width, 3)
        self.heads = nn.ModuleList(Head(width, classes, hidden=32) for _ in STRIDES)
        self.export = False

    def forward(self, x):
        p3 = self.c3(self.stem(x))
        p4 = self.c4(p3)
        p5 = self.lat5(self.c5(p4))
        t4 = self.top4(torch.cat([F.interpolate(p5, scale_factor=2.0, mode="nearest"), p4], 1))
        n3 = self.top3(torch.cat([F.interpolate(t4, scale_factor=2.0, mode="nearest"), p3], 1))
        n4 = self.out4(torch.cat([self.down3(n3), t4], 1))
        n5 = self.out5(torch.cat([self.down4(n4), p5], 1))
        cls, box = [], []
        for head, feature in zip(self.heads, (n3, n4, n5)):
            c, b = head(feature)
            cls.append(c.flatten(2))
            box.append(b.flatten(2))
        cls, box = torch.cat(cls, 2), torch.cat(box, 2)  # [B, classes, N], [B, 4, N]
        if not self.export:
            return cls, box
        xyxy = decode(box)
        cxcywh = torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], 1)
        return torch.cat([cxcywh, cls.sigmoid()], 1)  # Ultralytics v8: [B, 4 + classes, N]


def grid():
    """Cell centres and strides of every anchor point, level by level (Ultralytics' order)."""
    xs, ys, ss = [], [], []
    for s in STRIDES:
        n = INPUT // s
        y, x = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                              indexing="ij")
        xs.append((x.flatten() + 0.5) * s)
        ys.append((y.flatten() + 0.5) * s)
        ss.append(torch.full((n * n,), float(s)))
    return torch.cat(xs), torch.cat(ys), torch.cat(ss)


POINT_X, POINT_Y, POINT_S = grid()


def decode(box):
    """Distances to the four sides (softplus, in strides) -> xyxy in input pixels. box: [B, 4, N]."""
    d = F.softplus(box) * POINT_S
    return torch.stack([POINT_X - d[:, 0], POINT_Y - d[:, 1], POINT_X + d[:, 2], POINT_Y + d[:, 3]], 1)


# ----------------------------------------------------------------------------- loss

def box_iou_pairs(a, b):
    """IoU and GIoU of matching rows of a and b, xyxy."""
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1), (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(1) + 1e-7
    return iou, iou - (hull - union) / hull


def assign(xyxy):
    """Index of the box each anchor point learns (-1: background): points inside the box, near its centre, on a
    level whose size range fits it; a point claimed by several boxes takes the smallest."""
    n = POINT_X.numel()
    if len(xyxy) == 0:
        return torch.full((n,), -1, dtype=torch.long)
    b = torch.from_numpy(xyxy)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    size = torch.max(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    px, py, ps = POINT_X[:, None], POINT_Y[:, None], POINT_S[:, None]
    inside = (px > b[:, 0]) & (px < b[:, 2]) & (py > b[:, 1]) & (py < b[:, 3])
    central = ((px - cx).abs() < CENTER_RADIUS * ps) & ((py - cy).abs() < CENTER_RADIUS * ps)
    lo = torch.tensor([r[0] for r in LEVEL_RANGES])[torch.log2(POINT_S).long() - 3][:, None]
    hi = torch.tensor([r[1] for r in LEVEL_RANGES])[torch.log2(POINT_S).long() - 3][:, None]
    fits = (size >= lo) & (size <= hi)
    ok = inside & central & fits
    area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :].expand(n, -1)
    cost = torch.where(ok, area, torch.full_like(area, float("inf")))
    best, index = cost.min(1)
    return torch.where(torch.isfinite(best), index, torch.full_like(index, -1))


def loss_fn(cls, box, targets):
    """Quality focal loss (targets: the predicted box's IoU with its object) + GIoU loss, averaged per positive."""
    xyxy = decode(box)
    cls_target = torch.zeros_like(cls)
    box_losses, positives = [], 0
    for i, (classes, boxes, assigned) in enumerate(targets):
        pos = assigned >= 0
        if not pos.any():
            continue
        gt = torch.from_numpy(boxes)[assigned[pos]]
        pred = xyxy[i, :, pos].T
        iou, giou = box_iou_pairs(pred, gt)
        box_losses.append(1 - giou)
        cls_target[i, torch.from_numpy(classes)[assigned[pos]], pos.nonzero().squeeze(1)] = iou.detach().clamp(0.01)
        positives += int(pos.sum())
    prob = cls.sigmoid()
    qfl = F.binary_cross_entropy_with_logits(cls, cls_target, reduction="none") * (prob - cls_target).abs().pow(2)
    n = max(positives, 1)
    box_loss = torch.cat(box_losses).sum() / n if box_losses else cls.sum() * 0
    return qfl.sum() / n + 2.0 * box_loss, box_loss.detach()


# ----------------------------------------------------------------------------- evaluation

def iou_matrix(a, b):
    """IoU of every row of a with every row of b (numpy, xyxy)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def nms(boxes, scores, iou_threshold):
    """Greedy NMS, highest score first; indices kept."""
    order = np.argsort(-scores)
    ious = iou_matrix(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= ious[i] > iou_threshold
    return np.array(keep, np.int64)


def predict(model, images, conf=0.01, iou=0.45, batch=64, max_candidates=300):
    """Per image: (classes, scores, xyxy) after class-aware NMS at shmyolo's default IoU threshold."""
    model.eval()
    model.export = True
    results = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out = model(images[start:start + batch].float() / 255).numpy()
            for o in out:
                classes, scores = o[4:].argmax(0), o[4:].max(0)
                keep = np.nonzero(scores > conf)[0]
                keep = keep[np.argsort(-scores[keep])[:max_candidates]]
                c, s, b = classes[keep], scores[keep], o[:4, keep].T
                xyxy = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
                kept = nms(xyxy + c[:, None] * 4096.0, s, iou) if len(s) else np.zeros(0, np.int64)  # per class
                results.append((c[kept], s[kept], xyxy[kept]))
    model.export = False
    return results


def evaluate(predictions, labels, hidden, classes, conf=0.25):
    """mAP@0.5 (all-point interpolated, per class) and precision/recall at `conf`. A detection of a mostly hidden
    object is neither a true nor a false positive."""
    records = {c: [] for c in range(classes)}  # (score, is_tp)
    totals = [0] * classes
    tp = fp = 0
    for (pc, ps, pb), (gc, gb), (hc, hb) in zip(predictions, labels, hidden):
        for c in range(classes):
            totals[c] += int((gc == c).sum())
        used = np.zeros(len(gb), bool)
        ious = iou_matrix(pb, gb)
        hidden_ious = iou_matrix(pb, hb)
        for k in np.argsort(-ps):
            candidates = np.where((gc == pc[k]) & ~used, ious[k], 0) if len(gb) else np.zeros(0)
            if len(candidates) and candidates.max() >= 0.5:
                used[candidates.argmax()] = True
                hit = True
            elif len(hb) and ((hc == pc[k]) & (hidden_ious[k] >= 0.5)).any():
                continue
            else:
                hit = False
            records[int(pc[k])].append((float(ps[k]), hit))
            if ps[k] >= conf:
                tp, fp = tp + hit, fp + (not hit)
    aps = []
    for c in range(classes):
        if totals[c] == 0:
            continue
        rec = sorted(records[c], key=lambda r: -r[0])
        hits = np.cumsum([r[1] for r in rec]) if rec else np.zeros(0)
        recall = np.concatenate([[0], hits / totals[c], [hits[-1] / totals[c] if rec else 0]])
        precision = np.concatenate([[1], hits / np.arange(1, len(rec) + 1), [0]])
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        aps.append(float(np.sum((recall[1:] - recall[:-1]) * precision[1:])))
    total = sum(totals)
    return {"map50": float(np.mean(aps)), "ap50": aps, "precision": tp / max(tp + fp, 1), "recall": tp / max(total, 1)}


# ----------------------------------------------------------------------------- export

def export(model, path, names, summary):
    model.eval()
    model.export = True
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 3, INPUT, INPUT), str(path), opset_version=12,
                      input_names=["images"], output_names=["output0"],
                      dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}})
    m = onnx.load(str(path))
    metadata = {
        "description": "shmyolo demo detector: circle, square, triangle, person-like figure on synthetic scenes",
        "author": "shmyolo (tools/train_demo_model.py)",
        "license": "same as shmyolo",
        "task": "detect",
        "stride": str(max(STRIDES)),
        "batch": "1",
        "imgsz": f"[{INPUT}, {INPUT}]",
        "names": "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(names)) + "}",
        "heldout": json.dumps(summary),
    }
    for k, v in metadata.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


# ----------------------------------------------------------------------------- main

def render_sets(args, work):
    """Training and held-out sets; 4:3 and 16:9 cameras, since the letterbox makes their objects differ in size."""
    for name, seed, cameras in (("train", args.seed, args.train_cameras), ("heldout", 900000, args.val_cameras)):
        folder = work / name
        if (folder / "done").exists():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        # Every 37th frame: consecutive frames of a camera are near duplicates.
        jobs = [synth(args.shmyolo, folder, cameras, args.frames_per_camera, 640, 480, seed, 37),
                synth(args.shmyolo, folder, cameras // 2, args.frames_per_camera, 960, 540, seed + 500000, 37)]
        if any(job.wait() != 0 for job in jobs):
            sys.exit(f"shmyolo synth failed; check {args.shmyolo} runs")
        (folder / "done").write_text("")


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    work = pathlib.Path(args.work)
    started = time.time()
    render_sets(args, work)
    names = (work / "train" / "classes.txt").read_text().split()
    images, labels, _ = load_set(work / "train")
    val_images, val_labels, val_hidden = load_set(work / "heldout")
    print(f"{len(images)} training and {len(val_images)} held-out frames ready in {time.time() - started:.0f} s",
          flush=True)
    assigned = [assign(b) for _, b in labels]
    model = ShapesNet(len(names))
    print(f"model: {sum(p.numel() for p in model.parameters())} parameters", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim == 4]
    other = [p for n, p in model.named_parameters() if p.ndim != 4]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": other, "weight_decay": 0}],
                            lr=args.lr)
    steps_per_epoch = len(images) // args.batch
    total = steps_per_epoch * args.epochs
    warmup = max(1, min(300, total // 10))
    step = 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(images))
        t0, running = time.time(), 0.0
        for b in range(steps_per_epoch):
            index = order[b * args.batch:(b + 1) * args.batch]
            x = images[index].float() / 255
            targets = []
            flip = torch.rand(len(index)) < 0.5
            for j, i in enumerate(index.tolist()):
                classes, boxes = labels[i]
                if flip[j]:
                    boxes = boxes.copy()
                    boxes[:, [0, 2]] = INPUT - boxes[:, [2, 0]]
                    targets.append((classes, boxes, assign(boxes)))
                else:
                    targets.append((classes, boxes, assigned[i]))
            x[flip] = x[flip].flip(3)
            lr = args.lr * min(1.0, (step + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * step / total)) * 0.95 + 0.05)
            for g in opt.param_groups:
                g["lr"] = lr
            cls, box = model(x)
            loss, box_loss = loss_fn(cls, box, targets)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            running += float(loss)
            step += 1
            if b % 50 == 0:
                print(f"epoch {epoch + 1}/{args.epochs} step {b}/{steps_per_epoch} loss {float(loss):.3f} "
                      f"(box {float(box_loss):.3f}) lr {lr:.5f} {time.time() - started:.0f} s", flush=True)
        print(f"epoch {epoch + 1}: loss {running / steps_per_epoch:.3f}, {time.time() - t0:.0f} s", flush=True)
        if epoch + 1 == args.epochs or (epoch + 1) % 2 == 0:
            result = evaluate(predict(model, val_images), val_labels, val_hidden, len(names))
            print(f"  held-out mAP@0.5 {result['map50']:.4f}, at confidence 0.25 precision {result['precision']:.4f} "
                  f"recall {result['recall']:.4f} ({time.time() - started:.0f} s)", flush=True)
    summary = {"map50": round(result["map50"], 4),
               "ap50": {n: round(a, 4) for n, a in zip(names, result["ap50"])},
               "precision@0.25": round(result["precision"], 4), "recall@0.25": round(result["recall"], 4),
               "heldout_frames": len(val_images), "training_frames": len(images), "epochs": args.epochs,
               "training_minutes": round((time.time() - started) / 60, 1)}
    export(model, pathlib.Path(args.out), names, summary)
    print(json.dumps(summary))
    print(f"wrote {args.out} ({pathlib.Path(args.out).stat().st_size} bytes)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shmyolo", default="build/shmyolo", help="the shmyolo program (for `shmyolo synth`)")
    p.add_argument("--out", default="models/shapes-320.onnx")
    p.add_argument("--work", default=".cache/demo-model", help="where rendered frames are kept between runs")
    p.add_argument("--train-cameras", type=int, default=600, help="4:3 cameras; half as many 16:9 ones are added")
    p.add_argument("--val-cameras", type=int, default=100)
    p.add_argument("--frames-per-camera", type=int, default=5)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.004)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1000)
    train(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
