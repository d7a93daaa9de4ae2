"""KITTI object-detection AP (2-D box, BEV and 3-D) and AOS with the benchmark's semantics.

Written from the KITTI devkit's definition:

- Class names are compared ignoring case, as both reference devkits do (``strcasecmp`` in the
  C++ devkit, ``str.lower`` in the python port): the evaluated class, its neighbour class, the
  ``DontCare`` regions and the per-class overlap thresholds.
- Difficulties: Easy / Moderate / Hard keep ground truth with 2-D box height > 40 / 25 / 25
  px, occlusion <= 0 / 1 / 2 and truncation <= 0.15 / 0.30 / 0.50. Ground truth of the class
  outside the difficulty, and of the "neighbour" class (Van for Car, Person_sitting for
  Pedestrian), is *ignored*: matching it is neither a true nor a false positive. Detections
  whose 2-D box is shorter than the difficulty's minimum height are ignored too, whatever
  their class: such a detection can still take (and so neutralise) a ground truth.
- Matching per frame, greedy over ground truth: each ground truth takes the highest-scoring
  unmatched detection of the class with overlap > the class threshold (Car 0.7, Pedestrian and
  Cyclist 0.5). Unmatched detections are false positives, unless their 2-D box lies inside a
  ``DontCare`` region (intersection over the detection's own area > the threshold).
- Recall points: the scores of the true positives, thinned to 41 (R11: every 4th of them) or
  40 (R40) evenly spaced recall levels; precision is made non-increasing from the right; AP is
  the mean precision over 11 points (R11, including recall 0) or 40 points (R40, excluding 0).
- AOS (average orientation similarity) replaces precision by the orientation similarity
  ``sum over true positives of (1 + cos(gt.alpha - det.alpha)) / 2``, divided by the same
  ``tp + fp`` at each recall point, over the 2-D box matches; it is made non-increasing from
  the right on its own (not through precision) and averaged like AP.

BEV overlaps are rotated IoUs in the camera's x-z plane; 3-D overlaps add the extent along
the camera's ``y`` (each box spans ``[y - h, y]``: ``y`` is its bottom).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from xuframe.data._kitti import KittiObject
from xuframe.errors import InputError
from xuframe.ops import bev_iou, box_iou, boxes3d_iou
from xuframe.validation import check_float

__all__ = ["KITTI_MIN_OVERLAP", "kitti_ap"]

KITTI_MIN_OVERLAP = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}
# class names compared ignoring case (lower-cased on both sides), as both devkits do
_NEIGHBOUR = {"car": "van", "pedestrian": "person_sitting"}
_DONTCARE = "dontcare"
_NO_ALPHA = -10.0  # the KITTI results format's "no orientation given"
_MIN_HEIGHT = (40.0, 25.0, 25.0)
_MAX_OCCLUSION = (0, 1, 2)
_MAX_TRUNCATION = (0.15, 0.3, 0.5)
_DIFFICULTY = {"easy": 0, "moderate": 1, "hard": 2}


def _check_frames(frames: Any, what: str) -> None:
    """``frames``: a sequence (one per image) of sequences of :class:`KittiObject` whose
    numbers are finite (a missing score is None; AOS checks alpha's -10 on its own)."""
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Sequence):
        raise InputError(
            f"kitti_ap: {what}: expected a sequence of frames (one sequence of KittiObject per "
            f"image), got {type(frames).__name__}"
        )
    for f, frame in enumerate(frames):
        if isinstance(frame, (str, bytes)) or not isinstance(frame, Sequence):
            raise InputError(
                f"kitti_ap: {what}[{f}]: expected a sequence of KittiObject, got "
                f"{type(frame).__name__}"
            )
        for k, o in enumerate(frame):
            if not isinstance(o, KittiObject):
                raise InputError(
                    f"kitti_ap: {what}[{f}][{k}]: expected a KittiObject, got {type(o).__name__}"
                )
            if not isinstance(o.type, str):
                raise InputError(
                    f"kitti_ap: {what}[{f}][{k}]: expected a class name (str), got "
                    f"{type(o.type).__name__}"
                )
            numbers: dict[str, list[Any]] = {
                "truncated": [o.truncated],
                "occluded": [o.occluded],
                "alpha": [o.alpha],
                "bbox": list(o.bbox),
                "dimensions": list(o.dimensions),
                "location": list(o.location),
                "rotation_y": [o.rotation_y],
                "score": [] if o.score is None else [o.score],
            }
            for field, values in numbers.items():
                for v in values:
                    real = isinstance(v, (int, float, np.integer, np.floating))
                    if isinstance(v, bool) or not real or not math.isfinite(v):
                        raise InputError(
                            f"kitti_ap: {what}[{f}][{k}] ({o.type}): expected finite numbers in "
                            f"{field}, got {getattr(o, field)!r}"
                        )


def _overlaps(
    gt: Sequence[KittiObject], dt: Sequence[KittiObject], metric: str
) -> np.ndarray[Any, Any]:
    if not gt or not dt:
        return np.zeros((len(gt), len(dt)))
    if metric == "bbox":
        a = torch.tensor([o.bbox for o in gt], dtype=torch.float64)
        b = torch.tensor([o.bbox for o in dt], dtype=torch.float64)
        return box_iou(a, b).numpy()

    def boxes(objs: Sequence[KittiObject]) -> torch.Tensor:
        # The camera frame seen as x, z horizontal and -y up: a heading (cos ry, -sin ry) in
        # the x-z plane is the angle -ry, and a box spanning [y - h, y] is centred at
        # -(y - h / 2) upwards. Rows x, z, up, l, w, h, yaw, as boxes3d_iou takes them.
        return torch.tensor(
            [
                [o.location[0], o.location[2], o.dimensions[0] / 2 - o.location[1],
                 o.dimensions[2], o.dimensions[1], o.dimensions[0], -o.rotation_y]
                for o in objs
            ],
            dtype=torch.float64,
        )  # fmt: skip

    a, b = boxes(gt), boxes(dt)
    if metric == "bev":
        return bev_iou(a[:, [0, 1, 3, 4, 6]], b[:, [0, 1, 3, 4, 6]]).numpy()
    return boxes3d_iou(a, b).numpy()


def _in_dontcare(
    gt: Sequence[KittiObject], dt: Sequence[KittiObject], min_overlap: float
) -> np.ndarray[Any, Any]:
    """Whether each detection's 2-D box lies in a DontCare region (intersection over the
    detection's own area above ``min_overlap``)."""
    regions = [o.bbox for o in gt if o.type.lower() == _DONTCARE]
    if not regions or not dt:
        return np.zeros(len(dt), dtype=bool)
    a = torch.tensor([o.bbox for o in dt], dtype=torch.float64)
    d = torch.tensor(regions, dtype=torch.float64)
    lt = torch.maximum(a[:, None, :2], d[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], d[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    own = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    return np.asarray((inter / own.clamp(min=1e-12) > min_overlap).any(1).numpy())


def _frame(
    gt: Sequence[KittiObject],
    dt: Sequence[KittiObject],
    cls: str,
    diff: int,
    overlap: np.ndarray[Any, Any],
    in_dontcare: np.ndarray[Any, Any],
    min_overlap: float,
    threshold: float | None,
) -> tuple[list[float], int, int, int, float]:
    """Match one frame (``cls`` lower-cased); returns (scores of true positives, tp, fp, number
    of counted gt, summed orientation similarity of the true positives)."""

    def height(o: KittiObject) -> float:
        return o.bbox[3] - o.bbox[1]

    gt_state = []
    for o in gt:
        kind = o.type.lower()
        if kind == cls:
            hard = (
                o.occluded > _MAX_OCCLUSION[diff]
                or o.truncated > _MAX_TRUNCATION[diff]
                or height(o) <= _MIN_HEIGHT[diff]
            )
            gt_state.append(1 if hard else 0)
        elif kind == _NEIGHBOUR.get(cls):
            gt_state.append(1)
        else:
            gt_state.append(-1)
    # too small: ignored whatever the class (both devkits test the height first); else counted
    # when of the class, left out otherwise
    dt_state = [
        1 if abs(height(o)) < _MIN_HEIGHT[diff] else (0 if o.type.lower() == cls else -1)
        for o in dt
    ]
    scores = np.array([o.score if o.score is not None else 1.0 for o in dt])
    assigned = np.zeros(len(dt), dtype=bool)
    tp_scores: list[float] = []
    tp = fp = counted = 0
    similarity = 0.0
    for i, state in enumerate(gt_state):
        if state == -1:
            continue
        best, best_j = (-np.inf, 0), -1
        for j in range(len(dt)):
            if dt_state[j] == -1 or assigned[j] or overlap[i, j] <= min_overlap:
                continue
            if threshold is not None and scores[j] < threshold:
                continue
            # collecting thresholds: the highest score; counting at a threshold: a counted
            # detection before an ignored one, then the largest overlap (as the devkit does)
            key = (
                (float(scores[j]), 0)
                if threshold is None
                else (float(dt_state[j] == 0), overlap[i, j])
            )
            if key > best:
                best, best_j = key, j
        if state == 0:
            counted += 1
        if best_j >= 0:
            assigned[best_j] = True
            if state == 0 and dt_state[best_j] == 0:
                tp += 1
                tp_scores.append(float(scores[best_j]))
                similarity += (1.0 + math.cos(gt[i].alpha - dt[best_j].alpha)) / 2.0
    for j in range(len(dt)):
        if assigned[j] or dt_state[j] != 0 or (threshold is not None and scores[j] < threshold):
            continue
        if in_dontcare[j]:
            continue
        fp += 1
    return tp_scores, tp, fp, counted, similarity


def kitti_ap(
    ground_truth: Sequence[Sequence[KittiObject]],
    detections: Sequence[Sequence[KittiObject]],
    cls: str = "Car",
    *,
    metric: Literal["bbox", "bev", "3d", "aos"] = "3d",
    difficulty: Literal["easy", "moderate", "hard"] = "moderate",
    interpolation: Literal["R40", "R11"] = "R40",
    min_overlap: float | None = None,
    devkit: Literal["cpp", "python"] = "cpp",
) -> float:
    """KITTI AP (or AOS) in ``[0, 1]`` for one class, metric and difficulty.

    ``ground_truth`` and ``detections`` are frames (one sequence of :class:`KittiObject` per
    image, the same number of frames in both); detections carry ``score`` (``None`` counts
    as 1). Class names match ignoring case: ``cls="Car"`` evaluates ground truth labelled
    ``car`` or ``CAR``, ``van`` is Car's neighbour class and ``dontcare`` a DontCare region,
    as in both reference devkits. ``min_overlap`` defaults to the benchmark's class threshold
    (``KITTI_MIN_OVERLAP``, looked up ignoring case: Car 0.7, Pedestrian / Cyclist 0.5, any
    other class 0.5).

    ``metric`` is ``"bbox"`` (2-D box IoU in pixels), ``"bev"`` (rotated IoU in the camera's
    x-z plane), ``"3d"`` (3-D IoU) or ``"aos"``: the average orientation similarity that the
    benchmark reports next to the 2-D box AP, computed as both devkits do:

    - matching is that of ``"bbox"`` (2-D boxes, the class's overlap, DontCare regions,
      ignored ground truth and detections), repeated at each sampled score threshold;
    - each true positive (a counted detection matched to counted ground truth) adds
      ``(1 + cos(gt.alpha - det.alpha)) / 2`` (``alpha``: the observation angle in radians;
      no wrapping needed); false positives add 0; detections matched to ignored ground truth,
      ignored detections and those inside DontCare add nothing and are not counted;
    - at each recall point the sum is divided by ``tp + fp`` (the precision's denominator),
      the 41 values are made non-increasing from the right on their own, and averaged as AP
      (R11 or R40), so AOS <= the 2-D box AP, with equality when every alpha is right.

    AOS needs an orientation for every detection of the class: an ``alpha`` of -10 (the
    results format's "not given", for which the devkits skip AOS) or a non-finite one raises
    :class:`~xuframe.errors.InputError`.

    ``devkit`` picks between the two reference implementations, which differ in one rule:
    ``"cpp"`` (the benchmark's C++ devkit, ``evaluate_object_3d_offline``) does not count a
    detection inside a ``DontCare`` region as a false positive in every metric; ``"python"``
    (the numba port in SECOND, OpenPCDet and MMDetection3D, which most papers' validation
    numbers come from) does so only in the 2-D ``bbox`` metric (and so in AOS, which the two
    compute alike). With ``"python"`` the results equal that port's to round-off (checked on
    60 synthetic frames, 108 settings; AOS and AP with case-mixed names on 40 more frames,
    72 settings), except that the port
    recognises DontCare only when spelt exactly ``DontCare``.

    Raises :class:`~xuframe.errors.InputError` for frames that are not sequences of
    :class:`KittiObject`, an object with a NaN or infinite number (box, dimensions, location,
    rotation, truncation, alpha or score), different numbers of frames, a ``cls`` that is not a
    string, a ``min_overlap`` outside ``(0, 1]``, an unknown ``metric``, ``difficulty``,
    ``interpolation`` or ``devkit``, or (AOS) a missing orientation.

    Source: the KITTI object devkit (``evaluate_object.cpp``; Geiger, Lenz and Urtasun, CVPR
    2012) and its python port (``kitti_object_eval_python``, Yan, SECOND)."""
    _check_frames(ground_truth, "ground_truth")
    _check_frames(detections, "detections")
    if len(ground_truth) != len(detections):
        raise InputError(
            f"kitti_ap: {len(ground_truth)} ground-truth frames, {len(detections)} detection frames"
        )
    if min_overlap is not None:
        min_overlap = check_float(
            min_overlap, "kitti_ap: min_overlap", min=0.0, max=1.0, min_open=True
        )
    if not isinstance(cls, str):
        raise InputError(f"kitti_ap: cls must be a class name (str), got {type(cls).__name__}")
    if (
        metric not in ("bbox", "bev", "3d", "aos")
        or difficulty not in _DIFFICULTY
        or interpolation not in ("R40", "R11")
        or devkit not in ("cpp", "python")
    ):
        raise InputError(
            "kitti_ap: expected metric in bbox/bev/3d/aos, difficulty in easy/moderate/hard, "
            "interpolation R40/R11 and devkit cpp/python; got "
            f"{metric!r}, {difficulty!r}, {interpolation!r}, {devkit!r}"
        )
    name = cls.lower()
    if metric == "aos":
        for f, frame in enumerate(detections):
            for o in frame:
                if o.type.lower() == name and not (math.isfinite(o.alpha) and o.alpha != _NO_ALPHA):
                    raise InputError(
                        f"kitti_ap: AOS needs each {cls} detection's observation angle alpha "
                        f"(radians); frame {f} has alpha {o.alpha} (-10 means not given)"
                    )
    thresholds_by_class = {k.lower(): v for k, v in KITTI_MIN_OVERLAP.items()}
    overlap = thresholds_by_class.get(name, 0.5) if min_overlap is None else min_overlap
    diff = _DIFFICULTY[difficulty]
    boxes: Literal["bbox", "bev", "3d"] = "bbox" if metric == "aos" else metric
    all_scores: list[float] = []
    n_gt = 0
    frames = list(zip(ground_truth, detections, strict=True))
    # overlaps and DontCare membership depend on the frame only: computed once, not per threshold
    overlaps = [_overlaps(gt, dt, boxes) for gt, dt in frames]
    if devkit == "python" and boxes != "bbox":
        dontcares = [np.zeros(len(dt), dtype=bool) for _, dt in frames]
    else:
        dontcares = [_in_dontcare(gt, dt, overlap) for gt, dt in frames]
    for (gt, dt), ov, dc in zip(frames, overlaps, dontcares, strict=True):
        s, _, _, counted, _ = _frame(gt, dt, name, diff, ov, dc, overlap, None)
        all_scores += s
        n_gt += counted
    if n_gt == 0:
        return 0.0
    # thresholds: the true-positive scores thinned to 41 evenly spaced recall levels
    ordered = sorted(all_scores, reverse=True)
    thresholds: list[float] = []
    current = 0.0
    for i, score in enumerate(ordered):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(ordered) - 1 else left
        if right - current < current - left and i < len(ordered) - 1:
            continue
        thresholds.append(score)
        current += 1 / 40
    # precision, or orientation similarity (AOS), at each sampled threshold
    curve = np.zeros(41)
    for k, t in enumerate(thresholds[:41]):
        tp = fp = 0
        similarity = 0.0
        for (gt, dt), ov, dc in zip(frames, overlaps, dontcares, strict=True):
            _, a, b, _, sim = _frame(gt, dt, name, diff, ov, dc, overlap, t)
            tp, fp, similarity = tp + a, fp + b, similarity + sim
        if tp + fp:
            curve[k] = (similarity if metric == "aos" else tp) / (tp + fp)
    for k in range(len(curve) - 2, -1, -1):  # non-increasing from the right
        curve[k] = max(curve[k], curve[k + 1])
    if interpolation == "R11":
        return float(curve[::4].sum() / 11)
    return float(curve[1:].sum() / 40)
