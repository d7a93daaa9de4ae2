"""The built-in demo of ``denfi`` and ``pillars-baseline``: the shipped weights on held-out scenes.

Kept apart from the model so that ``model.py`` is only the model; the classes' ``demo``
classmethods call :func:`demo`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

import xuframe
from xuframe import DemoResult
from xuframe.data import KittiDataset, LidarScenes, collate_lidar
from xuframe.errors import InputError
from xuframe.ops import bev_corners, bev_iou
from xuframe.pictures import PALETTE, annotate
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.denfi.pretrained import HELD_OUT_SCENES, HELD_OUT_SEED, evaluate
from xuframe_plugins.denfi.training import _inputs_of

__all__ = ["DEMO_SCENES_HELD_OUT", "bev_picture", "demo", "real_frames"]

# bev_picture's colours: ground truth green, detections by label from the palette without green
_TRUTH = (0, 160, 0)
_DETECTED = (PALETTE[3], PALETTE[0], PALETTE[1], PALETTE[4], PALETTE[9], PALETTE[6])

#: How many held-out scenes the demo measures: the manifest's 32 (AP on fewer scenes swings
#: widely: moderate Car BEV 0.46 on the first 16, 0.84 on 32, 0.79 on 60).
DEMO_SCENES_HELD_OUT = HELD_OUT_SCENES


def demo(cls: Any, seed: int = 0, kitti: str | None = None) -> DemoResult:
    """Build ``cls`` with its shipped ``synthetic`` weights and report KITTI AP (R40) on
    32 held-out synthetic scenes (seed 1000 + ``seed``; seed 0 gives the manifest's
    numbers); with ``kitti``, a folder in KITTI layout (``velodyne/``, ``calib/``,
    ``label_2/``), run on its frames instead (see :func:`real_frames`)."""
    start = time.perf_counter()
    model = xuframe.create("detector", cls.name, weights="synthetic")
    if kitti is not None:
        return real_frames(model, kitti, start)
    metrics = evaluate(model, DEMO_SCENES_HELD_OUT, seed=HELD_OUT_SEED + seed)
    scene = LidarScenes(1, seed=HELD_OUT_SEED + seed)[0]
    with torch.no_grad():
        found = model.predict([scene.points])[0]
    picture = bev_picture(
        scene.points,
        scene.boxes,
        found[found.scores >= 0.3],
        model.config.point_range,
        classes=model.config.classes,
    )
    seconds = time.perf_counter() - start
    car, car_3d, car_loose = (
        metrics["Car/bev/moderate"],
        metrics["Car/3d/moderate"],
        metrics["Car/bev@0.5/moderate"],
    )
    return DemoResult(
        {**metrics, "seconds": seconds},
        summary=(
            f"{cls.name} with its shipped weights (trained on 300 synthetic scenes) on "
            f"{DEMO_SCENES_HELD_OUT} held-out scenes: moderate Car AP (R40) BEV {car:.3f}, "
            f"3-D {car_3d:.3f} at IoU 0.7, BEV {car_loose:.3f} at 0.5; mAP BEV "
            f"{metrics['mAP/bev']:.3f} over Car, Pedestrian, Cyclist ({seconds:.0f} s)"
        ),
        headline="Car/bev/moderate",
        picture=picture,
    )


def bev_picture(
    points: PointCloud,
    truth: Boxes3D,
    detections: Detections,
    point_range: Sequence[float],
    pixels_per_metre: float = 8.0,
    classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
) -> np.ndarray[Any, Any]:
    """A bird's-eye view as an RGB uint8 array: points (grey), ground-truth boxes (green) and
    detections (one colour per class, their labels indexing ``classes``) inside ``point_range``
    (x forward to the right, y to the left up; the sensor at x = 0), with a 10 m scale bar and
    a legend of the colours below."""
    x0, y0, _, x1, y1, _ = (float(v) for v in point_range)
    scale = pixels_per_metre
    width, height = round((x1 - x0) * scale), round((y1 - y0) * scale)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * scale, (y1 - y) * scale

    xyz = points.xyz.numpy()
    inside = (xyz[:, 0] >= x0) & (xyz[:, 0] < x1) & (xyz[:, 1] >= y0) & (xyz[:, 1] < y1)
    for x, y in xyz[inside, :2]:
        draw.point(pixel(float(x), float(y)), fill=(150, 150, 150))
    geometry = detections.geometry
    assert isinstance(geometry, Boxes3D)
    colours = [_DETECTED[int(k) % len(_DETECTED)] for k in detections.labels.tolist()]
    for boxes, colour in ((truth.tensor, [_TRUTH] * len(truth.tensor)), (geometry.tensor, colours)):
        if len(boxes):
            corners = bev_corners(boxes[:, [0, 1, 3, 4, 6]].double()).tolist()
            for box, rgb in zip(corners, colour, strict=True):
                ring = [pixel(x, y) for x, y in box]
                draw.line([*ring, ring[0]], fill=rgb, width=2)
    bar = 10 * scale  # the scale bar: 10 m, bottom left
    draw.line((6, height - 8, 6 + bar, height - 8), fill=(0, 0, 0), width=2)
    draw.text((6, height - 22), "10 m", fill=(0, 0, 0))
    legend = {"ground truth": _TRUTH, "points": (150, 150, 150)}
    legend.update(
        {f"detected {name}": _DETECTED[k % len(_DETECTED)] for k, name in enumerate(classes)}
    )
    return annotate(np.asarray(image, dtype=np.uint8), legend=legend, min_width=0)


def real_frames(model: Any, folder: str, start: float | None = None) -> DemoResult:
    """Run ``model`` on every frame of the KITTI-layout ``folder`` (with its camera images,
    ``image_2/``, for a model that needs them, such as ``pircnn``) and count the labelled
    objects of each class it finds: a detection of the object's class scoring at least 0.3
    whose BEV IoU with it is at least 0.5 (Car) or 0.25 (Pedestrian, Cyclist), each detection
    used once, best scores first. The picture is the frame with the most labelled objects.
    Raises :class:`~xuframe.errors.InputError` for a folder that is not in KITTI layout."""
    start = time.perf_counter() if start is None else start
    data = KittiDataset(folder, images=bool(getattr(model, "needs_camera", False)))
    classes = list(model.config.classes)
    found = dict.fromkeys(classes, 0)
    total = dict.fromkeys(classes, 0)
    best: tuple[int, Any, Any, Any] | None = None
    for i in range(len(data)):
        sample = data[i]
        with torch.no_grad():
            dets = model.predict(_inputs_of(model, collate_lidar([sample])))[0]
        dets = dets[dets.scores >= 0.3]
        for k, name in enumerate(classes):
            truth = sample["boxes"].tensor[sample["labels"] == k]
            total[name] += len(truth)
            mine = dets.geometry.tensor[dets.labels == k]
            if len(truth) and len(mine):
                iou = bev_iou(truth[:, [0, 1, 3, 4, 6]].double(), mine[:, [0, 1, 3, 4, 6]].double())
                overlap = 0.5 if name == "Car" else 0.25
                used: set[int] = set()
                for row in iou:
                    free = [j for j in row.argsort(descending=True).tolist() if j not in used]
                    if free and row[free[0]] >= overlap:
                        used.add(free[0])
                        found[name] += 1
        if best is None or len(sample["labels"]) > best[0]:
            best = (len(sample["labels"]), sample["points"], sample["boxes"], dets)
    if best is None:
        raise InputError(f"{folder}: no frames")
    seconds = time.perf_counter() - start
    counted = [name for name in classes if total[name]]
    metrics: dict[str, float] = {f"{n}/found": found[n] for n in counted}
    metrics.update({f"{n}/labelled": total[n] for n in counted})
    metrics["seconds"] = seconds
    listing = ", ".join(f"{found[n]} of {total[n]} {n.lower()}s" for n in counted) or "nothing"
    return DemoResult(
        metrics,
        summary=(
            f"{model.name} with its synthetic-trained weights on {len(data)} real frames of "
            f"{folder}: found {listing} (BEV IoU >= 0.5 for cars, 0.25 otherwise; score >= 0.3)"
        ),
        headline=f"{counted[0]}/found" if counted else "seconds",
        picture=bev_picture(
            best[1], best[2], best[3], model.config.point_range, classes=model.config.classes
        ),
    )
