"""COCO box mAP from xuframe's :class:`Detections`, computed by faster-coco-eval.

faster-coco-eval re-implements pycocotools' ``COCOeval`` in C++ with the same semantics (IoU
thresholds 0.50:0.95, 101-point interpolation, area ranges small < 32^2 < medium < 96^2 < large,
100 detections per image, crowd regions ignored); the tests check that our numbers equal
pycocotools' on a fixed set. Install with ``pip install 'xuframe[coco]'``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xuframe.data._coco import annotation_records
from xuframe.errors import InputError
from xuframe.types import Boxes2D, Detections

__all__ = ["COCO_METRICS", "coco_ground_truth", "coco_map", "coco_results", "write_coco_results"]

COCO_METRICS = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)


def coco_ground_truth(targets: Sequence[dict[str, Any]], n_classes: int) -> dict[str, Any]:
    """A COCO ground-truth dict from detection samples (``boxes``, ``labels``, optional ``crowd``
    and ``image_id``); category ids are ``label + 1``."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, t in enumerate(targets):
        if not isinstance(t.get("boxes"), Boxes2D) or "labels" not in t:
            raise InputError(f"coco_ground_truth: target {i} needs 'boxes' (Boxes2D) and 'labels'")
        image_id = int(t.get("image_id", i))
        images.append({"id": image_id, "width": 0, "height": 0, "file_name": ""})
        annotations += annotation_records(t, image_id, first_id=len(annotations) + 1)
    categories = [{"id": k + 1, "name": str(k)} for k in range(n_classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_results(
    predictions: Sequence[Detections], image_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """COCO results records (``image_id, category_id, bbox (xywh), score``) for per-image detections."""
    if len(predictions) != len(image_ids):
        raise InputError(
            f"coco_results: {len(predictions)} predictions for {len(image_ids)} image ids"
        )
    out = []
    for det, image_id in zip(predictions, image_ids, strict=True):
        if not isinstance(det.geometry, Boxes2D):
            raise InputError(
                f"coco_results: expected Boxes2D detections, got {type(det.geometry).__name__}"
            )
        for box, score, label in zip(
            det.geometry.tensor.tolist(), det.scores.tolist(), det.labels.tolist(), strict=True
        ):
            x1, y1, x2, y2 = box
            out.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(label) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                }
            )
    return out


def write_coco_results(
    path: str | os.PathLike[str], predictions: Sequence[Detections], image_ids: Sequence[int]
) -> Path:
    """Write :func:`coco_results` as json (atomically: a temporary file, then a rename)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(coco_results(predictions, image_ids)))
    tmp.replace(target)
    return target


def coco_map(
    predictions: Sequence[Detections], targets: Sequence[dict[str, Any]], n_classes: int
) -> dict[str, float]:
    """COCO box metrics (:data:`COCO_METRICS`) of per-image ``predictions`` against detection
    samples ``targets`` (same order). Metrics COCO cannot define (no ground truth in an area
    range) are ``-1``, as in pycocotools."""
    try:
        from faster_coco_eval import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            COCO,
            COCOeval_faster,
        )
    except ImportError as err:  # pragma: no cover - the coco extra
        raise ImportError("coco_map needs faster-coco-eval: pip install 'xuframe[coco]'") from err
    if len(predictions) != len(targets):
        raise InputError(f"coco_map: {len(predictions)} predictions for {len(targets)} targets")
    gt = coco_ground_truth(targets, n_classes)
    results = coco_results(predictions, [int(t.get("image_id", i)) for i, t in enumerate(targets)])
    if not results or not gt["annotations"]:
        return {name: 0.0 if results or gt["annotations"] else -1.0 for name in COCO_METRICS}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=lambda *a, **k: None)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {
        name: float(v)
        for name, v in zip(COCO_METRICS, evaluator.stats[: len(COCO_METRICS)], strict=True)
    }
