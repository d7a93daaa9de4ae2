"""KITTI AP by distance from the sensor, since X-view's argument is that the ego view's
sectors grow coarse with distance."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import torch

from xuframe.data import KittiObject
from xuframe.errors import InputError
from xuframe.metrics import kitti_ap
from xuframe_plugins.denfi.training import _check_detector, detections_to_kitti

__all__ = ["DISTANCE_BINS", "distance_evaluator"]

#: BEV distance bins from the sensor, metres: 0-20, 20-40 and 40+.
DISTANCE_BINS: tuple[tuple[float, float], ...] = ((0.0, 20.0), (20.0, 40.0), (40.0, math.inf))


def _distance(obj: KittiObject) -> float:
    x, _, z = obj.location  # camera frame: x right, z forward
    return math.hypot(x, z)


def _in_bin(
    frames: Sequence[Sequence[KittiObject]], lo: float, hi: float, truth: bool
) -> list[list[KittiObject]]:
    """Objects outside ``[lo, hi)``: ground truth becomes DontCare (a detection on it is
    neither a hit nor a false positive), detections are dropped."""
    out = []
    for objects in frames:
        kept = []
        for obj in objects:
            inside = lo <= _distance(obj) < hi
            if inside:
                kept.append(obj)
            elif truth:
                kept.append(attrs.evolve(obj, type="DontCare"))
        out.append(kept)
    return out


@torch.no_grad()
def distance_evaluator(
    model: Any,
    batches: Iterable[Mapping[str, Any]],
    bins: Sequence[tuple[float, float]] = DISTANCE_BINS,
) -> dict[str, float]:
    """Moderate KITTI AP (R40) of ``model.predict`` per distance bin: keys
    ``<Class>/<bev|3d>/moderate@<lo>-<hi>m`` (``@40-infm`` for the last default bin) and
    ``<Class>/objects@<lo>-<hi>m``, the number of ground-truth objects of that class in the
    bin (AP is NaN where it is 0). Distances are BEV distances of box centres from the sensor.
    ``batches`` are collated :class:`~xuframe.data.KittiDataset` batches (``inputs``,
    ``kitti_objects``, ``calib``). Raises :class:`~xuframe.errors.InputError` for another
    model or batches."""
    classes = _check_detector(model, "distance_evaluator: model")
    checked = []
    for lo, hi in bins:
        if not (0 <= lo < hi):
            raise InputError(f"distance_evaluator: bins: expected 0 <= lo < hi, got ({lo}, {hi})")
        checked.append((float(lo), float(hi)))
    was_training = model.training
    model.eval()
    gt: list[Sequence[KittiObject]] = []
    dt: list[Sequence[KittiObject]] = []
    try:
        for batch in batches:
            if not isinstance(batch, Mapping) or not {"inputs", "kitti_objects", "calib"} <= set(
                batch
            ):
                raise InputError(
                    "distance_evaluator: batches need inputs, kitti_objects and calib "
                    "(KittiDataset)"
                )
            for dets, calib, objects in zip(
                model.predict(batch["inputs"]), batch["calib"], batch["kitti_objects"], strict=True
            ):
                dt.append(detections_to_kitti(dets, calib, classes))
                gt.append(objects)
    finally:
        model.train(was_training)
    if not gt:
        raise InputError("distance_evaluator: batches: expected at least one frame, got none")
    out: dict[str, float] = {}
    metrics: tuple[Literal["bev", "3d"], ...] = ("bev", "3d")
    for lo, hi in checked:
        tag = f"{lo:g}-{hi:g}m"
        truth, found = _in_bin(gt, lo, hi, True), _in_bin(dt, lo, hi, False)
        for cls in classes:
            count = sum(o.type == cls for frame in truth for o in frame)
            out[f"{cls}/objects@{tag}"] = float(count)
            for metric in metrics:
                out[f"{cls}/{metric}/moderate@{tag}"] = (
                    kitti_ap(truth, found, cls, metric=metric, difficulty="moderate")
                    if count
                    else math.nan
                )
    return out
