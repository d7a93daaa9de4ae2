"""The built-in demo of ``pointrcnn`` and ``pircnn``: the shipped weights on held-out scenes.

Kept apart from the models so that ``model.py`` and ``pointrcnn.py`` are only the models; the
classes' ``demo`` classmethods call :func:`demo`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

import xuframe
from xuframe import DemoResult
from xuframe.data import SEMANTIC_CLASSES, LidarScenes, kitti_calibration
from xuframe.pictures import annotate
from xuframe_plugins.denfi.demo import bev_picture, real_frames
from xuframe_plugins.pircnn.frames import CameraFrame
from xuframe_plugins.pircnn.pointrcnn import DEMO_SCENES
from xuframe_plugins.pircnn.pretrained import HELD_OUT_SCENES, HELD_OUT_SEED, evaluate
from xuframe_plugins.pircnn.segmentation import SEMANTIC_PALETTE

__all__ = ["MIN_SCORE", "demo", "segmentation_picture"]

#: Detections drawn in the demo's picture score at least this.
MIN_SCORE = 0.3


def demo(cls: Any, seed: int = 0, kitti: str | None = None) -> DemoResult:
    """Build ``cls`` (``pointrcnn`` or ``pircnn``) with its shipped ``synthetic`` weights and
    report KITTI AP (R40) on 40 held-out synthetic scenes (30 m x 60 degrees in front of the
    sensor, seed 1000 + ``seed``; seed 0 gives the manifest's numbers), with a bird's-eye
    picture of one scene (and, for ``pircnn``, its camera image beside the segmenter's
    classes); with ``kitti``, a folder in KITTI layout (``velodyne/``, ``calib/``,
    ``label_2/``, and ``image_2/`` for ``pircnn``), the labelled objects found in its real
    frames (:func:`~xuframe_plugins.denfi.demo.real_frames`)."""
    start = time.perf_counter()
    model = xuframe.create("detector", cls.name, weights="synthetic")
    if kitti is not None:
        return real_frames(model, kitti, start)
    metrics = evaluate(model, HELD_OUT_SCENES, seed=HELD_OUT_SEED + seed)
    camera = bool(getattr(model, "needs_camera", False))
    scene = LidarScenes(1, seed=HELD_OUT_SEED + seed, images=camera, **DEMO_SCENES)[0]
    frame: Any = scene.points
    if camera:
        assert scene.image is not None  # rendered: images=camera
        frame = CameraFrame(scene.points, scene.image, kitti_calibration())
    with torch.no_grad():
        found = model.predict([frame])[0]
    picture = bev_picture(
        scene.points,
        scene.boxes,
        found[found.scores >= MIN_SCORE],
        model.config.point_range,
        pixels_per_metre=16.0,
        classes=model.config.classes,
    )
    if camera:
        picture = _stack(segmentation_picture(model, frame), picture)
    seconds = time.perf_counter() - start
    car, car_bev, car_loose = (
        metrics["Car/3d/moderate"],
        metrics["Car/bev/moderate"],
        metrics["Car/3d@0.5/moderate"],
    )
    return DemoResult(
        {**metrics, "seconds": seconds},
        summary=(
            f"{cls.name} with its shipped weights (small config, trained on synthetic scenes"
            f"{' with camera images' if camera else ''}) on {HELD_OUT_SCENES} held-out scenes: "
            f"moderate Car AP (R40) 3-D {car:.3f}, BEV {car_bev:.3f} at IoU 0.7, 3-D "
            f"{car_loose:.3f} at 0.5; mAP 3-D {metrics['mAP/3d']:.3f} over Car, Pedestrian, "
            f"Cyclist ({seconds:.0f} s)"
        ),
        headline="Car/3d/moderate",
        picture=picture,
    )


def segmentation_picture(model: Any, frame: CameraFrame) -> np.ndarray[Any, Any]:
    """``frame``'s camera image (top) over the classes ``model``'s segmenter gives its pixels
    (bottom, :data:`~xuframe_plugins.pircnn.segmentation.SEMANTIC_PALETTE`): what PACF reads
    at each point's pixel. An RGB uint8 array."""
    model.eval()
    image = frame.image.to(next(model.parameters()))
    labels = model.segmenter.predict(image[None])[0].cpu().numpy()
    photo = (frame.image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    legend = {
        name: tuple(int(v) for v in SEMANTIC_PALETTE[k]) for k, name in enumerate(SEMANTIC_CLASSES)
    }
    return annotate(np.concatenate([photo, SEMANTIC_PALETTE[labels]], axis=0), legend=legend)


def _stack(top: np.ndarray[Any, Any], bottom: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``top`` above ``bottom``, the narrower one centred on white."""
    width = max(top.shape[1], bottom.shape[1])

    def pad(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        left = (width - a.shape[1]) // 2
        out = np.full((a.shape[0], width, 3), 255, dtype=np.uint8)
        out[:, left : left + a.shape[1]] = a
        return out

    return np.concatenate([pad(top), pad(bottom)], axis=0)
