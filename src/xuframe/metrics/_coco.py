"""COCO box mAP from xuframe's :class:`Detections`, computed by faster-coco-eval.

faster-coco-eval re-implements pycocotools' ``COCOeval`` in C++ with the same semantics (IoU
thresholds 0.50:0.95, 101-point interpolation, area ranges small < 32^2 < medium < 96^2 < large,
100 detections per image, crowd regions ignored); the tests check that our numbers equal
pycocotools' on a fixed set, on random sets (hypothesis) and on every case where COCO leaves a
metric undefined (``-1``). faster-coco-eval is one of xuframe's own dependencies.

Image ids may be ints or strings, as pycocotools allows. faster-coco-eval itself turns every
image id into an int (a string id raises ``ValueError`` there), so :func:`coco_map` evaluates
under stand-in ids ``1 .. N`` numbered in the order pycocotools sorts the real ids; that order
is also how pycocotools breaks score ties between images, so the numbers stay the same.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from xuframe._files import as_path
from xuframe.data._coco import annotation_records
from xuframe.data._detection import ImageId, as_id, check_unique_ids, id_order, sample_image_id
from xuframe.errors import InputError, MissingExtraError
from xuframe.types import Boxes2D, Detections
from xuframe.validation import check_int, check_memory, check_tensor

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


def _check_sequence(value: Any, what: str, of: str) -> None:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise InputError(f"{what}: expected a sequence of {of}, got {type(value).__name__}")


def _target_ids(targets: Sequence[Mapping[str, Any]], where: str) -> list[ImageId]:
    """The targets' image ids (their position where a target has none), checked unique."""
    _check_sequence(targets, f"{where}: targets", "detection samples (dicts)")
    for i, t in enumerate(targets):
        if not isinstance(t, Mapping):
            raise InputError(f"{where}: target {i} is a {type(t).__name__}, expected a dict")
    ids = [sample_image_id(t, i, f"{where}: target {i}") for i, t in enumerate(targets)]
    check_unique_ids(ids, f"{where}: image")
    return ids


def _ground_truth(
    targets: Sequence[Mapping[str, Any]],
    ids: Sequence[ImageId],
    n_classes: int,
    where: str,
    used: set[int] | None = None,
) -> dict[str, Any]:
    """The COCO ground-truth dict; its categories are every class, or only the labels in
    ``used`` and the targets when ``used`` is given (classes without ground truth or
    detections do not change COCO's metrics)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, (t, image_id) in enumerate(zip(targets, ids, strict=True)):
        if not isinstance(t.get("boxes"), Boxes2D) or "labels" not in t:
            raise InputError(f"{where}: target {i} needs 'boxes' (Boxes2D) and 'labels'")
        _check_labels(t["labels"], len(t["boxes"]), n_classes, f"{where}: target {i}")
        _check_detection_tensors(t["boxes"], None, t["labels"], f"{where}: target {i}")
        if used is not None:
            used.update(int(v) for v in t["labels"].tolist())
        images.append({"id": image_id, "width": 0, "height": 0, "file_name": ""})
        annotations += annotation_records(dict(t), image_id, first_id=len(annotations) + 1)
    classes = range(n_classes) if used is None else sorted(used)
    categories = [{"id": k + 1, "name": str(k)} for k in classes]
    return {"images": images, "annotations": annotations, "categories": categories}


def _check_detection_tensors(
    boxes: Boxes2D, scores: torch.Tensor | None, labels: object, where: str
) -> None:
    """The tensors inside a Boxes2D / Detections are real, finite, and labels integers (the
    value types check this when built; this catches one changed afterwards)."""
    check_tensor(boxes.tensor, f"{where}: boxes", ndim=2)
    if scores is not None:
        check_tensor(scores, f"{where}: scores", ndim=1)
    check_tensor(labels, f"{where}: labels", ndim=1, floating=False)


def _check_n_classes(n_classes: Any, where: str) -> int:
    return check_int(n_classes, f"{where}: n_classes", min=1)


def _check_labels(labels: object, n: int, n_classes: int, where: str) -> None:
    if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.is_floating_point():
        raise InputError(f"{where}: labels must be an integer tensor of shape ({n},)")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise InputError(
            f"{where}: labels must lie in 0 .. {n_classes - 1} (n_classes={n_classes}), got "
            f"{int(labels.min())} .. {int(labels.max())}"
        )


def coco_ground_truth(targets: Sequence[dict[str, Any]], n_classes: int) -> dict[str, Any]:
    """A COCO ground-truth dict from detection samples (``boxes``, ``labels``, optional ``crowd``
    and ``image_id``); category ids are ``label + 1``, annotation ids ``1 .. N``.

    An ``image_id`` (an int or a str) is kept as it is; a target without one gets its
    position. Raises :class:`InputError` for a target without ``boxes`` (Boxes2D) and
    ``labels``, a label outside ``0 .. n_classes - 1``, or an image id that is neither an int
    nor a str or appears twice."""
    n_classes = _check_n_classes(n_classes, "coco_ground_truth")
    check_memory(n_classes * 100.0, f"coco_ground_truth: a category list of n_classes={n_classes}")
    ids = _target_ids(targets, "coco_ground_truth")
    return _ground_truth(targets, ids, n_classes, "coco_ground_truth")


def coco_results(
    predictions: Sequence[Detections], image_ids: Sequence[int | str]
) -> list[dict[str, Any]]:
    """COCO results records (``image_id, category_id, bbox (xywh), score``) for per-image
    detections; category ids are ``label + 1`` and image ids (ints or strings) are kept.
    Raises :class:`InputError` when the lengths differ, a prediction is not a
    :class:`Detections` of :class:`Boxes2D` with labels >= 0, or an image id is neither an int
    nor a str."""
    _check_sequence(predictions, "coco_results: predictions", "Detections")
    _check_sequence(image_ids, "coco_results: image_ids", "image ids")
    if len(predictions) != len(image_ids):
        raise InputError(
            f"coco_results: {len(predictions)} predictions for {len(image_ids)} image ids"
        )
    out = []
    for k, (det, raw_id) in enumerate(zip(predictions, image_ids, strict=True)):
        if not isinstance(det, Detections) or not isinstance(det.geometry, Boxes2D):
            got = type(det.geometry if isinstance(det, Detections) else det).__name__
            raise InputError(f"coco_results: expected Detections of Boxes2D, got {got}")
        image_id = as_id(raw_id, f"coco_results: image id {k}")
        if len(det) and int(det.labels.min()) < 0:
            raise InputError(
                f"coco_results: prediction {k}: expected labels >= 0 (class indices), got "
                f"{int(det.labels.min())}"
            )
        for box, score, label in zip(
            det.geometry.tensor.tolist(), det.scores.tolist(), det.labels.tolist(), strict=True
        ):
            x1, y1, x2, y2 = box
            out.append(
                {
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                }
            )
    return out


def write_coco_results(
    path: str | os.PathLike[str], predictions: Sequence[Detections], image_ids: Sequence[int | str]
) -> Path:
    """Write :func:`coco_results` as json (atomically: a temporary file, then a rename; missing
    parent folders are made). Raises :class:`InputError` for what :func:`coco_results`
    refuses, a ``path`` that is not a str or ``os.PathLike``, or one that cannot be written
    (naming it and the reason)."""
    target = as_path(path, "the COCO results json to write")
    text = json.dumps(coco_results(predictions, image_ids))
    tmp = target.with_name(target.name + ".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        tmp.replace(target)
    except OSError as exc:
        raise InputError(
            f"write_coco_results: cannot write {target}: {exc.strerror or exc}"
        ) from exc
    return target


def coco_map(
    predictions: Sequence[Detections], targets: Sequence[dict[str, Any]], n_classes: int
) -> dict[str, float]:
    """COCO box metrics (:data:`COCO_METRICS`) of per-image ``predictions`` against detection
    samples ``targets`` (same order; image ids ints or strings, a target's position where it
    has none).

    A metric COCO cannot define is ``-1``, exactly as pycocotools returns it: an area range
    (or the whole set) without non-crowd ground truth gives ``-1`` for its AP and AR whether
    or not there are detections (crowd regions only ever ignore detections), and a class
    without ground truth is left out of the class mean. So an image set without ground truth
    gives ``-1`` everywhere, and ground truth without detections gives ``0`` where there is
    ground truth and ``-1`` elsewhere.

    Raises :class:`InputError` when the lengths differ, a target or prediction is malformed,
    a label lies outside ``0 .. n_classes - 1``, or an image id is not an int or a str or
    appears twice. Source: pycocotools ``COCOeval`` (``evaluate``, ``accumulate``,
    ``summarize``), computed by faster-coco-eval.
    """
    try:
        from faster_coco_eval import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            COCO,
            COCOeval_faster,
        )
    except ImportError as err:  # pragma: no cover - a dependency of xuframe
        raise MissingExtraError("faster_coco_eval") from err
    _check_sequence(predictions, "coco_map: predictions", "Detections")
    _check_sequence(targets, "coco_map: targets", "detection samples (dicts)")
    n_classes = _check_n_classes(n_classes, "coco_map")
    if len(predictions) != len(targets):
        raise InputError(f"coco_map: {len(predictions)} predictions for {len(targets)} targets")
    ids = _target_ids(targets, "coco_map")
    # faster-coco-eval turns image ids into ints: evaluate under stand-ins 1 .. N numbered in
    # pycocotools' image order (its sorted ids), which also decides its ties between images.
    stand_in = {v: k + 1 for k, v in enumerate(sorted(ids, key=id_order))}
    used: set[int] = set()
    for k, det in enumerate(predictions):
        if isinstance(det, Detections) and isinstance(det.geometry, Boxes2D):
            where = f"coco_map: prediction {k}"
            _check_detection_tensors(det.geometry, det.scores, det.labels, where)
            _check_labels(det.labels, len(det.labels), n_classes, where)
            used.update(int(v) for v in det.labels.tolist())
    gt = _ground_truth(targets, [stand_in[v] for v in ids], n_classes, "coco_map", used)
    results = coco_results(predictions, [stand_in[v] for v in ids])
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        # no detections: an empty result set built directly (pycocotools' loadRes fails on an
        # empty list, so no version's loadRes is relied on); COCO then scores each area range
        # with ground truth 0 and leaves the others -1
        coco_dt = (
            coco_gt.loadRes(results)
            if results
            else COCO({"images": gt["images"], "annotations": [], "categories": gt["categories"]})
        )
        evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=lambda *a, **k: None)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {
        name: float(v)
        for name, v in zip(COCO_METRICS, evaluator.stats[: len(COCO_METRICS)], strict=True)
    }
