"""Clustering agreement metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from xuframe.errors import InputError


def _labels(values: Any, what: str) -> np.ndarray[Any, Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{what}: expected a 1-D array of labels, got shape {arr.shape}")
    return arr


def contingency_table(labels_true: Any, labels_pred: Any) -> np.ndarray[Any, Any]:
    """``n_ij``: how many points have true cluster ``i`` and predicted cluster ``j``."""
    a = _labels(labels_true, "labels_true")
    b = _labels(labels_pred, "labels_pred")
    if a.shape != b.shape:
        raise InputError(f"expected labels of equal length, got {a.shape[0]} and {b.shape[0]}")
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max(initial=-1) + 1, bi.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)
    return table


def _pairs(counts: np.ndarray[Any, Any]) -> float:
    c = counts.astype(np.float64)
    return float((c * (c - 1) / 2).sum())


def adjusted_rand_index(labels_true: Any, labels_pred: Any) -> float:
    """Hubert & Arabie's adjusted Rand index: 1 for identical partitions, about 0 for random ones.

    Label values are arbitrary (only the partition matters). Two partitions of fewer than
    two points, or both with a single cluster, agree fully (1.0).
    """
    table = contingency_table(labels_true, labels_pred)
    n = int(table.sum())
    if n < 2:
        return 1.0
    index = _pairs(table)
    rows = _pairs(table.sum(axis=1))
    cols = _pairs(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:  # both partitions trivial in the same way
        return 1.0
    return float((index - expected) / (maximum - expected))
