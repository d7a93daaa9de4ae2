"""The built-in demo of ``votenet``: the shipped weights on held-out synthetic rooms, and a top
view of points, ground truth and detections (also of a real ScanNet scene).

Kept apart from the model so that ``votenet.py`` is only the model.
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
from xuframe.data import read_scannet
from xuframe.errors import InputError
from xuframe.ops import bev_corners
from xuframe.pictures import PALETTE, annotate
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.srdet.pretrained import HELD_OUT_SEED, evaluate
from xuframe_plugins.srdet.training import IndoorRooms

__all__ = ["DEMO_ROOMS", "MIN_SCORE", "demo", "held_out_view", "top_view"]

_TRUTH = (0, 160, 0)
_DETECTED = tuple(c for i, c in enumerate(PALETTE) if i != 2)

#: The score from which a detector's detections are drawn: SRDet's sigmoid class scores
#: (focal loss, one-to-one matching) sit lower than VoteNet's objectness x class products.
MIN_SCORE = {"votenet": 0.3, "srdet": 0.2}

#: Held-out rooms the demo measures (the manifest measures 40; 16 keep the demo fast).
DEMO_ROOMS = 16


def top_view(
    points: PointCloud,
    truth: Boxes3D,
    detections: Detections,
    classes: Sequence[str],
    *,
    min_score: float = 0.3,
    pixels_per_metre: float = 60.0,
) -> np.ndarray[Any, Any]:
    """A top view (``x`` to the right, ``y`` up) as an RGB uint8 array: points (grey, darker
    higher up), ground-truth boxes (green) and the detections scoring at least ``min_score``
    (one colour per class, labels indexing ``classes``), with a 1 m scale bar and a legend.
    Raises :class:`~xuframe.errors.InputError` for an empty cloud."""
    xyz = points.xyz.double().numpy()
    if len(xyz) == 0:
        raise InputError("top_view: points: expected a non-empty cloud")
    x0, y0 = xyz[:, :2].min(0) - 0.3
    x1, y1 = xyz[:, :2].max(0) + 0.3
    scale = float(pixels_per_metre)
    width, height = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * scale, (y1 - y) * scale

    z = xyz[:, 2]
    shade = np.clip(200 - 100 * (z - np.percentile(z, 1)), 60, 210).astype(int)
    for (x, y), g in zip(xyz[:, :2], shade, strict=True):
        draw.point(pixel(float(x), float(y)), fill=(int(g), int(g), int(g)))
    found = detections[detections.scores >= min_score]
    geometry = found.geometry
    assert isinstance(geometry, Boxes3D)
    colours = [_DETECTED[int(k) % len(_DETECTED)] for k in found.labels.tolist()]
    for boxes, rgbs in ((truth.tensor, [_TRUTH] * len(truth)), (geometry.tensor, colours)):
        if len(boxes):
            corners = bev_corners(boxes[:, [0, 1, 3, 4, 6]].double()).tolist()
            for box, rgb in zip(corners, rgbs, strict=True):
                ring = [pixel(x, y) for x, y in box]
                draw.line([*ring, ring[0]], fill=rgb, width=2)
    draw.line((6, height - 8, 6 + scale, height - 8), fill=(0, 0, 0), width=2)
    draw.text((6, height - 22), "1 m", fill=(0, 0, 0))
    legend = {"ground truth": _TRUTH}
    shown = sorted(set(found.labels.tolist()))
    legend.update({f"{classes[k]} >= {min_score:g}": _DETECTED[k % len(_DETECTED)] for k in shown})
    return annotate(np.asarray(image, dtype=np.uint8), legend=legend, min_width=0)


def held_out_view(
    model: Any, seed: int = 0, min_score: float | None = None
) -> np.ndarray[Any, Any]:
    """:func:`top_view` of the first held-out synthetic room (``IndoorRooms`` seed 1000 +
    ``seed``, at the model's ``num_points``) with ``model``'s detections scoring at least
    ``min_score`` (default: :data:`MIN_SCORE` of the model's name, else 0.3); puts ``model``
    in eval mode."""
    room = IndoorRooms(1, HELD_OUT_SEED + seed, n_points=model.config.num_points)[0]
    model.eval()
    with torch.no_grad():
        found = model.predict([room["points"]])[0]
    if min_score is None:
        min_score = MIN_SCORE.get(getattr(model, "name", ""), 0.3)
    return top_view(room["points"], room["boxes"], found, model.config.classes, min_score=min_score)


def demo(cls: Any, seed: int = 0, scannet: str | None = None) -> DemoResult:
    """Build ``cls`` with its shipped ``synthetic`` weights; report mAP@0.25 and mAP@0.5 on
    :data:`DEMO_ROOMS` held-out synthetic rooms (seed 1000 + ``seed``) and draw the first; with
    ``scannet`` (a ScanNet scene folder for :func:`~xuframe.data.read_scannet`), draw that
    scene with its boxes and the detections instead (its classes are not the synthetic
    rooms', so only the picture and the count of detections are reported)."""
    start = time.perf_counter()
    model = xuframe.create("detector", cls.name, weights="synthetic").eval()
    if scannet is not None:
        scene = read_scannet(scannet)
        with torch.no_grad():
            found = model.predict([scene.points])[0]
        seconds = time.perf_counter() - start
        drawn = MIN_SCORE.get(cls.name, 0.3)
        strong = int((found.scores >= drawn).sum())
        return DemoResult(
            {"detections": float(strong), "boxes": float(len(scene.boxes)), "seconds": seconds},
            summary=(
                f"{cls.name} (synthetic-trained) on the real ScanNet scene {scene.name}: {strong} "
                f"detections scoring >= {drawn:g} against {len(scene.boxes)} labelled boxes ({seconds:.1f} s)"
            ),
            headline="detections",
            picture=top_view(
                scene.points, scene.boxes, found, model.config.classes, min_score=drawn
            ),
        )
    metrics = evaluate(model, DEMO_ROOMS, HELD_OUT_SEED + seed)
    picture = held_out_view(model, seed)
    seconds = time.perf_counter() - start
    return DemoResult(
        {**metrics, "seconds": seconds},
        summary=(
            f"{cls.name} with its shipped weights (trained minutes on a CPU on synthetic rooms) "
            f"on {DEMO_ROOMS} held-out rooms: mAP@0.25 {metrics['mAP@0.25']:.3f}, mAP@0.5 "
            f"{metrics['mAP@0.5']:.3f} ({seconds:.0f} s)"
        ),
        headline="mAP@0.25",
        picture=picture,
    )
