"""Seeded Gaussian blobs: labelled point clouds for clustering tests, demos and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

from xuframe.errors import InputError


def make_blobs(
    n_points: int | list[int] = 300,
    n_clusters: int = 3,
    dim: int = 2,
    *,
    std: float = 1.0,
    separation: float = 10.0,
    seed: int = 0,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Points drawn from isotropic Gaussians around random centres, and their true labels.

    ``n_points`` is the total (split as evenly as possible) or a list of per-cluster counts.
    Centres are uniform in a cube of side ``separation * n_clusters ** (1 / dim)``, so the
    expected distance between centres is comparable to ``separation``. Returns ``(X, y)``
    with ``X`` ``(n, dim)`` float64 and ``y`` ``(n,)`` int64 in ``0 .. n_clusters - 1``,
    ordered by cluster.
    """
    if isinstance(n_points, int):
        if n_points < n_clusters or n_clusters < 1:
            raise InputError(
                f"make_blobs: expected 1 <= n_clusters <= n_points, got {n_clusters}, {n_points}"
            )
        counts = [n_points // n_clusters + (i < n_points % n_clusters) for i in range(n_clusters)]
    else:
        counts = list(n_points)
        if len(counts) != n_clusters or min(counts) < 1:
            raise InputError(f"make_blobs: expected {n_clusters} positive counts, got {counts}")
    if dim < 1 or std < 0:
        raise InputError(f"make_blobs: expected dim >= 1 and std >= 0, got dim={dim}, std={std}")
    rng = np.random.default_rng(seed)
    side = separation * n_clusters ** (1.0 / dim)
    centres = rng.uniform(0.0, side, size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), counts)
    points = centres[labels] + rng.normal(0.0, std, size=(labels.size, dim))
    return points, labels.astype(np.int64)
