"""Segmentation of a defocus map into regions of near-constant blur (equations (S1)-(S3) of
``docs/plugins/defocus.md``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from xuframe.validation import check_array, check_float, check_int

__all__ = ["defocus_levels", "segment_defocus"]

Array = np.ndarray[Any, Any]


def _kmeans_1d(values: Array, weights: Array, k: int, iterations: int = 50) -> Array:
    """Weighted 1-D k-means (Lloyd's algorithm from quantile starts): sorted centres."""
    centres = np.quantile(values, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        nearest = np.abs(values[:, None] - centres[None]).argmin(1)
        new = centres.copy()
        for j in range(k):
            w = weights[nearest == j]
            if w.sum() > 0:
                new[j] = float((w * values[nearest == j]).sum() / w.sum())
        if np.allclose(new, centres):
            break
        centres = new
    return np.sort(centres)


def defocus_levels(
    dense: Array, *, max_levels: int = 4, min_gap: float = 0.5, min_fraction: float = 0.05
) -> Array:
    """(S1) the blur levels: weighted 1-D k-means on the map's values for ``k = max_levels,
    max_levels - 1, ..``, taking the largest ``k`` whose centres are all at least ``min_gap``
    apart and each hold ``min_fraction`` of the pixels. ``dense`` a finite, non-empty
    ``(H, W)`` map; ``max_levels`` an int >= 1; ``min_gap`` >= 0; ``min_fraction`` in
    [0, 1]. Raises :class:`~xuframe.errors.InputError` otherwise."""
    dense = check_array(dense, "defocus_levels: dense", ndim=2, non_empty=True)
    max_levels = check_int(max_levels, "defocus_levels: max_levels", min=1)
    min_gap = check_float(min_gap, "defocus_levels: min_gap", min=0.0)
    min_fraction = check_float(min_fraction, "defocus_levels: min_fraction", min=0.0, max=1.0)
    values = dense.ravel()
    step = max(1, values.size // 20000)  # a regular subsample keeps this fast on large maps
    sample = values[::step]
    weights = np.ones_like(sample)
    for k in range(max_levels, 1, -1):
        if np.unique(sample).size < k:
            continue
        centres = _kmeans_1d(sample, weights, k)
        share = np.bincount(np.abs(sample[:, None] - centres).argmin(1), minlength=k) / sample.size
        if np.diff(centres).min() >= min_gap and share.min() >= min_fraction:
            return centres
    return np.array([float(np.median(sample))])


def segment_defocus(
    dense: Array, centres: Array, *, smooth: int = 15, min_area: float = 0.002
) -> Array:
    """(S2) each pixel takes its nearest level; (S3) a majority vote in ``smooth`` x
    ``smooth`` windows cleans the labels, and connected pieces smaller than ``min_area`` of
    the image join the neighbouring label they share most border with. Labels ``0 .. K-1`` in
    order of increasing blur. ``dense`` a finite, non-empty ``(H, W)`` map; ``centres`` a
    non-empty 1-D array of finite levels; ``smooth`` an int >= 1 (px); ``min_area`` in
    [0, 1]. Raises :class:`~xuframe.errors.InputError` otherwise."""
    dense = check_array(dense, "segment_defocus: dense", ndim=2, non_empty=True)
    centres = check_array(centres, "segment_defocus: centres", ndim=1, non_empty=True)
    smooth = check_int(smooth, "segment_defocus: smooth", min=1, max=max(dense.shape))
    min_area = check_float(min_area, "segment_defocus: min_area", min=0.0, max=1.0)
    k = len(centres)
    labels = np.abs(dense[..., None] - centres).argmin(-1)
    if k == 1:
        return labels
    votes = np.stack(
        [
            ndimage.uniform_filter((labels == j).astype(float), smooth, mode="reflect")
            for j in range(k)
        ]
    )
    labels = votes.argmax(0)
    limit = min_area * labels.size
    for j in range(k):
        pieces, count = ndimage.label(labels == j)
        if count == 0:
            continue
        sizes = ndimage.sum_labels(np.ones_like(labels), pieces, index=np.arange(1, count + 1))
        for piece in np.flatnonzero(sizes < limit) + 1:
            inside = pieces == piece
            ring = ndimage.binary_dilation(inside) & ~inside
            neighbours = labels[ring]
            neighbours = neighbours[neighbours != j]
            if neighbours.size:
                labels[inside] = np.bincount(neighbours, minlength=k).argmax()
    return labels
