"""Indoor 3-D detection mAP (ScanNet, SUN RGB-D) with the rule every indoor paper reports.

The evaluation is that of VoteNet's ``eval_det`` and mmdetection3d's ``indoor_eval``, written
anew from their definition:

- **Per class**, the detections of that class in every scene are sorted by score, highest
  first. Ties in score keep the input order: scene order, then the detection's position in
  its scene (a stable sort; the references use numpy's default ``argsort``, which leaves tied
  scores in an unspecified order).
- **Matching**: each detection, in that order, is compared with the ground truth of its class
  in its own scene and looks only at the box of highest 3-D IoU (the first such box on ties).
  It is a true positive when that IoU is *strictly* above the threshold and that box has not
  been taken by an earlier detection; otherwise it is a false positive, even when another box
  of the scene would have matched. A detection in a scene without ground truth of its class
  is a false positive. There are no difficult flags or ignored regions (neither reference has
  them).
- **AP**: precision and recall after each detection; AP is the area under the precision
  envelope (precision made non-increasing from the right), over every recall step, i.e.
  VOC2010+ ``voc_ap`` or mmdetection3d's ``average_precision(mode="area")``. Equivalently,
  ``AP = 1/n_gt * sum over true positives of the highest precision at or after it``.
- **3-D IoU** of yawed boxes is :func:`xuframe.ops.boxes3d_iou` (exact), computed in float64
  from the boxes' values.

Where this differs from mmdetection3d: a class with detections but no ground truth gets NaN
there (recall ``0 / 0``), which makes the class mean NaN. Here such a class is *absent*: it has
no AP, is left out of the mean and is listed in :attr:`IndoorMAP.absent`. A class with ground
truth but no detections gets AP 0 in both.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from xuframe.data._indoor import IndoorScene
from xuframe.errors import InputError
from xuframe.ops import boxes3d_iou
from xuframe.types import Boxes3D, Detections
from xuframe.validation import (
    check_float,
    check_int,
    check_labels,
    check_memory,
    check_tensor,
)

__all__ = ["IndoorMAP", "indoor_map"]

# pairwise IoUs are computed for this many bytes of boxes3d_iou's intermediates at most
# (it needs about 64 bytes per pair): the rest of a large scene goes in further pieces
_PIECE_BYTES = 64 << 20
_PAIR_BYTES = 64
# the largest box value boxes3d_iou accepts (its products must stay finite)
_MAX_VALUE = 1e100


@attrs.frozen(eq=False)
class IndoorMAP:
    """What :func:`indoor_map` measured.

    - ``iou_thresholds``: the thresholds, in the order given.
    - ``ap[t][c]``: the VOC AP (area, all points) of class ``c`` at threshold ``t``, in
      ``[0, 1]``, for every class with ground truth (and only those).
    - ``recall[t][c]``: the share of class ``c``'s ground truth matched by some detection.
    - ``mean_ap[t]``: the mean of ``ap[t]`` over the classes with ground truth.
    - ``n_ground_truth[c]``: the ground-truth boxes of class ``c`` (classes with ground truth).
    - ``absent``: classes without ground truth, ascending: those that have detections, and
      with ``n_classes`` also those in ``0 .. n_classes - 1`` that have neither. They have
      no AP and are not in the mean.
    """

    iou_thresholds: tuple[float, ...]
    ap: dict[float, dict[int, float]]
    recall: dict[float, dict[int, float]]
    mean_ap: dict[float, float]
    n_ground_truth: dict[int, int]
    absent: tuple[int, ...]

    @property
    def classes(self) -> tuple[int, ...]:
        """The evaluated classes (those with ground truth), ascending."""
        return tuple(sorted(self.n_ground_truth))

    def as_dict(self, class_names: Sequence[str] | None = None) -> dict[str, float]:
        """Flat metrics for logging: ``"mAP@0.25"``, ``"AP@0.25/<class>"`` and
        ``"recall@0.25/<class>"`` for each threshold (written with ``:g``) and evaluated
        class, named by ``class_names[c]`` when given and by the index otherwise. Raises
        :class:`~xuframe.errors.InputError` when ``class_names`` is not a sequence of strings
        naming every evaluated class."""
        classes = self.classes
        names = {c: str(c) for c in classes}
        if class_names is not None:
            what = "IndoorMAP.as_dict: class_names"
            if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
                raise InputError(
                    f"{what}: expected a sequence of str, got {type(class_names).__name__}"
                )
            if classes and len(class_names) <= classes[-1]:
                raise InputError(
                    f"{what}: expected a name for each class up to {classes[-1]}, got "
                    f"{len(class_names)} names"
                )
            names = {c: class_names[c] for c in classes}
            if not all(isinstance(n, str) for n in names.values()):
                raise InputError(f"{what}: expected a sequence of str")
        out: dict[str, float] = {}
        for t in self.iou_thresholds:
            out[f"mAP@{t:g}"] = self.mean_ap[t]
            for c in classes:
                out[f"AP@{t:g}/{names[c]}"] = self.ap[t][c]
            for c in classes:
                out[f"recall@{t:g}/{names[c]}"] = self.recall[t][c]
        return out


def _thresholds(value: Any) -> tuple[float, ...]:
    what = "indoor_map: iou_thresholds"
    if isinstance(value, (str, bytes)):
        raise InputError(f"{what}: expected numbers in (0, 1], got {type(value).__name__}")
    if isinstance(value, Sequence) or (
        isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 1
    ):
        values = [
            check_float(v, f"{what}[{i}]", min=0.0, min_open=True, max=1.0)
            for i, v in enumerate(value)
        ]
    else:  # one threshold
        values = [check_float(value, what, min=0.0, min_open=True, max=1.0)]
    if not values:
        raise InputError(f"{what}: expected at least one threshold in (0, 1], got none")
    if len(set(values)) != len(values):
        raise InputError(f"{what}: expected distinct thresholds, got {values}")
    return tuple(values)


def _single_scene(value: Mapping[Any, Any]) -> bool:
    return isinstance(value.get("boxes"), Boxes3D)


def _paired(ground_truth: Any, detections: Any) -> tuple[list[Hashable], list[Any], list[Any]]:
    """The scenes as (ids, ground-truth entries, detection entries) in ground truth's order."""
    kinds = []
    for what, value in (("ground_truth", ground_truth), ("detections", detections)):
        if isinstance(value, Mapping):
            if _single_scene(value):
                raise InputError(
                    f"indoor_map: {what}: expected one entry per scene (a list, or a dict from "
                    "scene id to entry), got one scene's dict: wrap it in a list"
                )
            kinds.append("mapping")
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            kinds.append("sequence")
        else:
            raise InputError(
                f"indoor_map: {what}: expected a sequence with one entry per scene, or a "
                f"mapping from scene id to entry, got {type(value).__name__}"
            )
    if kinds[0] != kinds[1]:
        raise InputError(
            "indoor_map: expected ground_truth and detections of one kind: two sequences in "
            "the same scene order, or two mappings keyed by scene id; got a "
            f"{kinds[0]} and a {kinds[1]}"
        )
    if kinds[0] == "mapping":
        missing = [k for k in ground_truth if k not in detections]
        unknown = [k for k in detections if k not in ground_truth]
        if missing or unknown:
            raise InputError(
                "indoor_map: expected detections for exactly the scene ids of ground_truth; "
                f"no detections for {missing[:5]!r}, detections for unknown scenes "
                f"{unknown[:5]!r} (an empty Detections stands for a scene with none)"
            )
        ids: list[Hashable] = list(ground_truth)
        return ids, [ground_truth[k] for k in ids], [detections[k] for k in ids]
    if len(ground_truth) != len(detections):
        raise InputError(
            "indoor_map: expected one detections entry per ground-truth scene, got "
            f"{len(detections)} for {len(ground_truth)} scenes"
        )
    return list(range(len(ground_truth))), list(ground_truth), list(detections)


def _boxes(boxes: Boxes3D, what: str) -> torch.Tensor:
    """A Boxes3D's rows as a float64 CPU tensor, checked again (its tensor may have been
    changed since it was built): finite, of magnitude <= 1e100 as boxes3d_iou needs, sizes
    >= 0."""
    tensor = check_tensor(boxes.tensor, what, shape=(None, 7), max_abs=_MAX_VALUE)
    tensor = tensor.detach().cpu().to(torch.float64)
    bad = (tensor[:, 3:6] < 0).any(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise InputError(f"{what}: expected sizes l, w, h >= 0, box {i} is {tensor[i].tolist()}")
    return tensor


def _labels(value: Any, n: int, n_classes: int | None, what: str) -> np.ndarray[Any, Any]:
    labels = check_labels(value, what, n=n, n_classes=n_classes).cpu().numpy()
    if labels.size and int(labels.min()) < 0:
        raise InputError(f"{what}: expected class indices >= 0, got a label of {int(labels.min())}")
    return labels


_Scene = tuple[torch.Tensor, np.ndarray[Any, Any]]


def _ground_truth(entry: Any, n_classes: int | None, what: str) -> _Scene:
    if isinstance(entry, IndoorScene):
        boxes = _boxes(entry.boxes, f"{what}.boxes")
        return boxes, _labels(entry.labels, len(boxes), n_classes, f"{what}.labels")
    if (
        not isinstance(entry, Mapping)
        or not isinstance(entry.get("boxes"), Boxes3D)
        or "labels" not in entry
    ):
        keys = f" with keys {sorted(map(str, entry))}" if isinstance(entry, Mapping) else ""
        raise InputError(
            f"{what}: expected an IndoorScene or a dict with 'boxes' (Boxes3D) and 'labels', "
            f"got {type(entry).__name__}{keys}"
        )
    boxes = _boxes(entry["boxes"], f"{what}['boxes']")
    return boxes, _labels(entry["labels"], len(boxes), n_classes, f"{what}['labels']")


def _detections(
    entry: Any, n_classes: int | None, what: str
) -> tuple[torch.Tensor, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    if not isinstance(entry, Detections) or not isinstance(entry.geometry, Boxes3D):
        got = type(entry.geometry if isinstance(entry, Detections) else entry).__name__
        raise InputError(f"{what}: expected Detections of Boxes3D, got {got}")
    boxes = _boxes(entry.geometry, f"{what}.geometry")
    scores = check_tensor(entry.scores, f"{what}.scores", shape=(len(boxes),))
    labels = _labels(entry.labels, len(boxes), n_classes, f"{what}.labels")
    return boxes, scores.detach().cpu().to(torch.float64).numpy(), labels


def _best_match(
    det: torch.Tensor,
    det_labels: np.ndarray[Any, Any],
    gt: torch.Tensor,
    gt_labels: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each detection's highest IoU with the ground truth *of its class* in the scene, and the
    index of that box in ``gt`` (the first on ties; -1 and IoU 0 where the class has none).

    Only same-class pairs are computed (each pair's IoU is its own, whatever the batch), in
    pieces of detections whose intermediates stay under ``_PIECE_BYTES``."""
    best = np.zeros(len(det))
    where = np.full(len(det), -1, dtype=np.int64)
    if len(gt) == 0:
        return best, where
    rows = max(1, _PIECE_BYTES // (_PAIR_BYTES * len(gt)))
    for start in range(0, len(det), rows):
        same = det_labels[start : start + rows, None] == gt_labels[None, :]
        i, j = same.nonzero()  # row-major: by detection, then by box index
        if len(i) == 0:
            continue
        pick = torch.from_numpy(i + start)
        iou = boxes3d_iou(det[pick], gt[torch.from_numpy(j)], aligned=True).numpy()
        top = np.full(len(same), -1.0)
        np.maximum.at(top, i, iou)
        at_top = iou == top[i]
        # the first pair of each detection at its maximum: the lowest box index
        rows_at_top, first = np.unique(i[at_top], return_index=True)
        best[rows_at_top + start] = top[rows_at_top]
        where[rows_at_top + start] = j[at_top][first]
    return best, where


def _class_ap(
    scores: np.ndarray[Any, Any],
    best: np.ndarray[Any, Any],
    match: np.ndarray[Any, Any],
    n_gt: int,
    threshold: float,
) -> tuple[float, float]:
    """(AP, recall) of one class at one threshold. ``scores``, ``best`` (highest IoU) and
    ``match`` (the index of that ground truth among the class's, over all scenes) are per
    detection in input order."""
    if len(scores) == 0:
        return 0.0, 0.0
    order = np.argsort(-scores, kind="stable")
    hit = best[order] > threshold
    # a hit is a true positive when no earlier hit took the same ground truth
    tp = np.zeros(len(order), dtype=bool)
    hits = np.flatnonzero(hit)
    _, first = np.unique(match[order][hits], return_index=True)
    tp[hits[first]] = True
    precision = np.cumsum(tp) / np.arange(1, len(order) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(envelope[tp].sum() / n_gt), float(tp.sum() / n_gt)


def indoor_map(
    ground_truth: Sequence[IndoorScene | Mapping[str, Any]]
    | Mapping[Any, IndoorScene | Mapping[str, Any]],
    detections: Sequence[Detections] | Mapping[Any, Detections],
    iou_thresholds: float | Sequence[float] = (0.25, 0.5),
    *,
    n_classes: int | None = None,
) -> IndoorMAP:
    """Indoor 3-D detection mAP: per-class VOC AP and the class mean at each IoU threshold,
    with the matching of VoteNet's ``eval_det`` and mmdetection3d's ``indoor_eval``.

    ``ground_truth`` and ``detections`` hold one entry per scene: either two sequences in the
    same scene order, or two mappings from scene id to entry with the same ids (the order of
    ``ground_truth`` is then the scene order). A ground-truth entry is an
    :class:`~xuframe.data.IndoorScene` or a dict (a detection sample; other keys are ignored)
    with ``boxes`` (:class:`~xuframe.Boxes3D` ``(N, 7)``: ``x, y, z`` centre, ``l, w, h`` in
    metres, ``yaw`` in radians; any one frame, e.g. the depth frame) and ``labels`` (``N``
    integer class indices >= 0). A detection entry is a :class:`~xuframe.Detections` of
    :class:`~xuframe.Boxes3D` in the same frame (an empty one for a scene without
    detections). ``iou_thresholds``: one or more distinct numbers in ``(0, 1]``.
    ``n_classes``, when given, bounds the labels to ``0 .. n_classes - 1`` and lists every
    class of that range without ground truth as absent.

    Per class, detections over all scenes are taken by score, highest first (ties in scene
    order, then in position within the scene); each is a true positive when the ground-truth
    box of its class *in its scene* with the highest 3-D IoU (:func:`xuframe.ops.boxes3d_iou`)
    has IoU strictly above the threshold and was not taken by an earlier detection, and a
    false positive otherwise. AP is the area under the monotone precision envelope over all
    recall steps (VOC2010+, mmdetection3d's ``average_precision(mode="area")``).

    Classes: a class with ground truth but no detections has AP 0. A class without ground
    truth has no AP: it is reported in ``absent`` and left out of the mean (mmdetection3d
    gives NaN for a detected class without ground truth, and so a NaN mean).

    Returns an :class:`IndoorMAP`. Raises :class:`~xuframe.errors.InputError`, before any
    IoU is computed, on: entries that are not sequences or mappings of the kinds above,
    different scene counts or scene ids, boxes with NaN, infinite values or values of
    magnitude above 1e100, or negative sizes, scores that are NaN or infinite, labels that
    are not integers, negative or outside ``n_classes``, thresholds outside ``(0, 1]``,
    repeated or missing, a bad ``n_classes`` or one whose list of absent classes would not
    fit in memory (:func:`xuframe.validation.memory_limit`), and a set without any ground
    truth (its mAP is undefined).
    """
    thresholds = _thresholds(iou_thresholds)
    if n_classes is not None:
        n_classes = check_int(n_classes, "indoor_map: n_classes", min=1)
        # the absent classes are listed one by one (a Python int and a tuple slot each)
        check_memory(
            n_classes * 64.0, f"indoor_map: the list of absent classes for n_classes={n_classes}"
        )
    ids, gt_entries, det_entries = _paired(ground_truth, detections)
    gts = [
        _ground_truth(e, n_classes, f"indoor_map: ground_truth[{k!r}]")
        for k, e in zip(ids, gt_entries, strict=True)
    ]
    dets = [
        _detections(e, n_classes, f"indoor_map: detections[{k!r}]")
        for k, e in zip(ids, det_entries, strict=True)
    ]
    gt_classes = sorted({int(c) for _, labels in gts for c in labels})
    if not gt_classes:
        raise InputError(
            f"indoor_map: ground_truth: expected at least one box, got none in {len(ids)} "
            "scenes (mAP is undefined without ground truth)"
        )
    detected = {int(c) for _, _, labels in dets for c in labels}
    everything = detected | (set(range(n_classes)) if n_classes is not None else set())
    absent = tuple(sorted(everything - set(gt_classes)))

    # every detection's best same-class ground truth, numbered over all scenes
    scores, labels, best, match = [], [], [], []
    offset = 0
    for (gt_boxes, gt_labels), (det_boxes, det_scores, det_labels) in zip(gts, dets, strict=True):
        iou, index = _best_match(det_boxes, det_labels, gt_boxes, gt_labels)
        scores.append(det_scores)
        labels.append(det_labels)
        best.append(iou)
        match.append(np.where(index >= 0, index + offset, -1))
        offset += len(gt_boxes)
    all_scores, all_labels, all_best, all_match = (
        np.concatenate(x) for x in (scores, labels, best, match)
    )
    all_gt_labels = np.concatenate([gt_labels for _, gt_labels in gts])

    ap: dict[float, dict[int, float]] = {t: {} for t in thresholds}
    recall: dict[float, dict[int, float]] = {t: {} for t in thresholds}
    counts: dict[int, int] = {}
    for c in gt_classes:
        counts[c] = int((all_gt_labels == c).sum())
        mine = all_labels == c
        for t in thresholds:
            ap[t][c], recall[t][c] = _class_ap(
                all_scores[mine], all_best[mine], all_match[mine], counts[c], t
            )
    mean_ap = {t: float(np.mean([ap[t][c] for c in gt_classes])) for t in thresholds}
    return IndoorMAP(thresholds, ap, recall, mean_ap, counts, absent)
