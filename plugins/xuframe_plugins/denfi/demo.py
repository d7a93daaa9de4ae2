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
from xuframe.data import LidarScenes
from xuframe.ops import bev_corners
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.denfi.pretrained import HELD_OUT_SCENES, HELD_OUT_SEED, evaluate

__all__ = ["DEMO_SCENES_HELD_OUT", "bev_picture", "demo"]

#: How many held-out scenes the demo measures: the manifest's 32 (AP on fewer scenes swings
#: widely: moderate Car BEV 0.46 on the first 16, 0.84 on 32, 0.79 on 60).
DEMO_SCENES_HELD_OUT = HELD_OUT_SCENES


def demo(cls: Any, seed: int = 0) -> DemoResult:
    """Build ``cls`` with its shipped ``synthetic`` weights and report KITTI AP (R40) on
    32 held-out synthetic scenes (seed 1000 + ``seed``; seed 0 gives the manifest's
    numbers)."""
    start = time.perf_counter()
    model = xuframe.create("detector", cls.name, weights="synthetic")
    metrics = evaluate(model, DEMO_SCENES_HELD_OUT, seed=HELD_OUT_SEED + seed)
    scene = LidarScenes(1, seed=HELD_OUT_SEED + seed)[0]
    with torch.no_grad():
        found = model.predict([scene.points])[0]
    picture = bev_picture(
        scene.points, scene.boxes, found[found.scores >= 0.3], model.config.point_range
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
) -> np.ndarray[Any, Any]:
    """A bird's-eye view as an RGB uint8 array: points (grey), ground-truth boxes (green) and
    detections (red) inside ``point_range`` (x forward to the right, y to the left up)."""
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
    for boxes, colour in ((truth.tensor, (0, 160, 0)), (geometry.tensor, (220, 0, 0))):
        if len(boxes):
            for corners in bev_corners(boxes[:, [0, 1, 3, 4, 6]].double()).tolist():
                ring = [pixel(x, y) for x, y in corners]
                draw.line([*ring, ring[0]], fill=colour, width=2)
    return np.asarray(image, dtype=np.uint8)
