"""Movie scene segmentation metrics, as the MovieScenes benchmark (LGSS, CVPR 2020) reports them.

A movie is a sequence of ``N`` shots. Its scene boundaries are ``N`` 0/1 labels, one per shot:
label ``i`` is 1 when shot ``i`` is the last shot of a scene (the MovieScenes ``label`` files'
convention; the last shot's label is ignored, a scene always ends there). Scenes are inclusive
shot-index intervals ``(first, last)``.

* :func:`boundary_ap`: average precision of boundary scores (scikit-learn's
  ``average_precision_score``: precision summed over the recall steps, ties as one threshold).
* :func:`scene_miou`: the mean over the true scenes of their best IoU with a predicted scene,
  averaged with the same from the predicted side (symmetric).
* :func:`boundary_recall`: the fraction of true boundaries predicted at the same shot.
* :func:`boundary_recall_at`: the fraction of true boundaries with a predicted boundary within
  ``seconds`` (shot end times), looking at most ``max_shots`` shots away.
* :func:`scene_metrics`: all of them, averaged over movies (AP per movie gives mAP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xuframe.errors import InputError
from xuframe.validation import check_array, check_float, check_int, check_memory

__all__ = [
    "boundaries_from_scenes",
    "boundary_ap",
    "boundary_recall",
    "boundary_recall_at",
    "scene_metrics",
    "scene_miou",
    "scenes_from_boundaries",
]

Scenes = Sequence[tuple[int, int]]


def _floating(values: Any) -> bool:
    """Whether ``values`` (a tensor, array or sequence) hold floating-point numbers."""
    if isinstance(values, torch.Tensor):
        return values.is_floating_point()
    try:
        return bool(np.asarray(values).dtype.kind == "f")
    except (TypeError, ValueError):
        return False  # ragged or unreadable: check_array names it


def _labels(labels: Any, name: str = "labels") -> np.ndarray[Any, np.dtype[np.int64]]:
    if getattr(labels, "dtype", None) in (np.bool_, torch.bool):  # a mask: its 0s and 1s
        labels = labels.astype(np.int64) if isinstance(labels, np.ndarray) else labels.long()
    if _floating(labels):
        raise InputError(
            f"{name}: expected boundary labels as integers or booleans (0s and 1s), got "
            "floating-point values"
        )
    arr = check_array(labels, name, dtype=np.int64)
    if arr.ndim != 1 or len(arr) == 0:
        raise InputError(f"expected {name} as a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"expected {name} of 0s and 1s, got values {np.unique(arr)[:5]}")
    return arr.astype(np.int64)


def scenes_from_boundaries(labels: Any) -> list[tuple[int, int]]:
    """The scenes ``(first, last)`` that per-shot boundary labels describe (the last shot
    always closes a scene, whatever its label)."""
    arr = _labels(labels)
    ends = [int(i) for i in np.flatnonzero(arr[:-1])] + [len(arr) - 1]
    starts = [0] + [e + 1 for e in ends[:-1]]
    return list(zip(starts, ends, strict=True))


def _scenes(scenes: Any, what: str) -> list[tuple[int, int]]:
    """``scenes`` as ``(first, last)`` int pairs with ``first <= last``."""
    if isinstance(scenes, (str, bytes)):
        raise InputError(f"{what}: expected (first, last) pairs of ints, got a str")
    arr = check_array(scenes, what, dtype=np.int64)
    if arr.size == 0 and arr.ndim == 1:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what}: expected (first, last) pairs of ints, got shape {arr.shape}")
    if (arr[:, 1] < arr[:, 0]).any():
        k = int(np.flatnonzero(arr[:, 1] < arr[:, 0])[0])
        raise InputError(f"{what}: expected first <= last, scene {k} is {arr[k].tolist()}")
    return [(int(a), int(b)) for a, b in arr]


def boundaries_from_scenes(scenes: Scenes, n_shots: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per-shot boundary labels for scenes that tile ``0 .. n_shots - 1`` in order.
    Raises :class:`~xuframe.errors.InputError` for scenes that are not ``(first, last)`` int
    pairs tiling the shots, or an ``n_shots`` that is not an int >= 1 (or too large to hold)."""
    n_shots = check_int(n_shots, "boundaries_from_scenes: n_shots", min=1)
    pairs = _scenes(scenes, "boundaries_from_scenes: scenes")
    check_memory(8.0 * n_shots, f"boundaries_from_scenes: labels for n_shots={n_shots}")
    labels = np.zeros(n_shots, dtype=np.int64)
    expected = 0
    for first, last in pairs:
        if first != expected or last < first or last >= n_shots:
            raise InputError(
                f"expected scenes that tile 0..{n_shots - 1} in order, got {list(scenes)}"
            )
        labels[last] = 1
        expected = last + 1
    if expected != n_shots:
        raise InputError(f"the scenes end at shot {expected - 1}, not {n_shots - 1}")
    return labels


def boundary_ap(labels: Any, scores: Any) -> float:
    """Average precision of ``scores`` for the boundary ``labels`` (both per shot), defined as
    scikit-learn's ``average_precision_score``: ``sum_n (R_n - R_{n-1}) P_n`` over the
    distinct score thresholds, high to low. NaN when there is no true boundary."""
    y = _labels(labels)
    s = check_array(scores, "boundary_ap: scores")
    if s.shape != y.shape:
        raise InputError(f"expected one score per label ({y.shape}), got shape {s.shape}")
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each threshold
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _iou_matrix(a: Scenes, b: Scenes) -> np.ndarray[Any, np.dtype[np.float64]]:
    sa, sb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    inter = (
        np.minimum(sa[:, None, 1], sb[None, :, 1]) - np.maximum(sa[:, None, 0], sb[None, :, 0]) + 1
    )
    inter = np.clip(inter, 0, None)
    union = (sa[:, None, 1] - sa[:, None, 0] + 1) + (sb[None, :, 1] - sb[None, :, 0] + 1) - inter
    iou: np.ndarray[Any, np.dtype[np.float64]] = inter / union
    return iou


def scene_miou(true_scenes: Scenes, pred_scenes: Scenes) -> float:
    """Symmetric best-match IoU of two scene lists (inclusive intervals, in shots or frames):
    the mean over true scenes of their best IoU with a predicted one, averaged with the same
    from the predicted side. Raises :class:`~xuframe.errors.InputError` for scenes that are not
    ``(first, last)`` int pairs with ``first <= last``, or none on a side."""
    true = _scenes(true_scenes, "scene_miou: true_scenes")
    pred = _scenes(pred_scenes, "scene_miou: pred_scenes")
    if len(true) == 0 or len(pred) == 0:
        raise InputError("scene_miou: expected at least one scene on each side")
    check_memory(8.0 * 4 * len(true) * len(pred), "scene_miou: the scene IoU matrix")
    iou = _iou_matrix(true, pred)
    return float((iou.max(1).mean() + iou.max(0).mean()) / 2)


def boundary_recall(labels: Any, predicted: Any) -> float:
    """The fraction of true boundaries (label 1, last shot excluded) predicted at the same
    shot; NaN when there is none."""
    y, p = _labels(labels), _labels(predicted, "predicted")
    if y.shape != p.shape:
        raise InputError(f"expected labels and predictions of one shape, got {y.shape}, {p.shape}")
    true = y[:-1] == 1
    return float((p[:-1][true] == 1).mean()) if true.any() else float("nan")


def boundary_recall_at(
    labels: Any, predicted: Any, shot_end_times: Any, seconds: float = 3.0, max_shots: int = 5
) -> float:
    """The fraction of true boundaries with a predicted boundary at most ``max_shots`` shots
    away whose shot ends less than ``seconds`` from theirs (MovieScenes' Recall@3s uses
    ``seconds=3``, ``max_shots=5``, and shot end times in seconds); NaN when there is none."""
    y, p = _labels(labels), _labels(predicted, "predicted")
    t = check_array(shot_end_times, "boundary_recall_at: shot_end_times")
    seconds = check_float(seconds, "boundary_recall_at: seconds", min=0.0, finite=False)
    max_shots = check_int(max_shots, "boundary_recall_at: max_shots", min=0)
    if y.shape != p.shape or t.shape != y.shape:
        raise InputError(
            f"expected labels, predictions and shot times of one shape, got {y.shape}, "
            f"{p.shape}, {t.shape}"
        )
    true = np.flatnonzero(y[:-1])
    if len(true) == 0:
        return float("nan")
    pred = np.flatnonzero(p[:-1])
    hits = 0
    for i in true:
        near = pred[np.abs(pred - i) <= max_shots]
        hits += bool((np.abs(t[near] - t[i]) < seconds).any())
    return hits / len(true)


def scene_metrics(
    movies: Sequence[dict[str, Any]], threshold: float = 0.5, seconds: float = 3.0
) -> dict[str, float]:
    """MovieScenes' metrics over movies, each ``{"labels", "scores"}`` per shot and optionally
    ``"predicted"`` (0/1; default ``scores > threshold``) and ``"shot_end_times"`` (seconds).

    ``AP`` pools every movie's shots; ``mAP`` averages the per-movie APs; ``mIoU``,
    ``Recall`` and ``Recall@{seconds}s`` (when times are given) average per movie.
    """
    if isinstance(movies, (str, bytes, dict)) or not isinstance(movies, Sequence):
        raise InputError(
            f"scene_metrics: expected a sequence of movies (dicts), got {type(movies).__name__}"
        )
    if len(movies) == 0:
        raise InputError("scene_metrics: expected at least one movie")
    threshold = check_float(threshold, "scene_metrics: threshold")
    seconds = check_float(seconds, "scene_metrics: seconds", min=0.0, finite=False)
    for k, movie in enumerate(movies):
        if not isinstance(movie, dict) or "labels" not in movie or "scores" not in movie:
            raise InputError(
                f"scene_metrics: movie {k}: expected a dict with 'labels' and 'scores', got "
                f"{type(movie).__name__}"
            )
    aps, mious, recalls, recalls_at = [], [], [], []
    all_labels, all_scores = [], []
    for movie in movies:
        labels = _labels(movie["labels"])
        scores = check_array(movie["scores"], "scene_metrics: scores")
        if scores.shape != labels.shape:
            raise InputError(
                f"scene_metrics: expected one score per label ({labels.shape}), got {scores.shape}"
            )
        predicted = movie.get("predicted")
        pred = (scores > threshold).astype(np.int64) if predicted is None else _labels(predicted)
        all_labels.append(labels[:-1])
        all_scores.append(scores[:-1])
        aps.append(boundary_ap(labels[:-1], scores[:-1]) if labels[:-1].any() else float("nan"))
        mious.append(scene_miou(scenes_from_boundaries(labels), scenes_from_boundaries(pred)))
        recalls.append(boundary_recall(labels, pred))
        if movie.get("shot_end_times") is not None:
            recalls_at.append(boundary_recall_at(labels, pred, movie["shot_end_times"], seconds))
    out = {
        "AP": boundary_ap(np.concatenate(all_labels), np.concatenate(all_scores)),
        "mAP": _nanmean(aps),
        "mIoU": float(np.mean(mious)),
        "Recall": _nanmean(recalls),
    }
    if recalls_at:
        out[f"Recall@{seconds:g}s"] = _nanmean(recalls_at)
    return out


def _nanmean(values: list[float]) -> float:
    """The mean of the non-NaN values; NaN when all are NaN (movies without boundaries)."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")
