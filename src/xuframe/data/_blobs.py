"""Seeded Gaussian blobs: labelled point clouds for clustering tests, demos and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

from xuframe.errors import InputError
from xuframe.validation import check_array, check_float, check_int, check_memory

# The largest std and separation: points stay far from float64 overflow (squared distances
# of the clustering that follows included), as xuframe's solvers require (|x| <= 1e100).
_MAX_SCALE = 1e90


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
    ordered by cluster. Numpy integers and floats are accepted wherever ints and floats are.

    Raises :class:`~xuframe.errors.InputError` for ``n_clusters`` or ``dim`` that are not ints
    >= 1, an ``n_points`` that is not an int >= ``n_clusters`` or a list of ``n_clusters``
    positive ints, ``std`` and ``separation`` that are not finite numbers in ``[0, 1e90]``, a
    ``seed`` that is not an int >= 0, or points that would not fit in memory
    (:func:`~xuframe.validation.memory_limit`).
    """
    n_clusters = check_int(n_clusters, "make_blobs: n_clusters", min=1)
    dim = check_int(dim, "make_blobs: dim", min=1)
    std = check_float(std, "make_blobs: std", min=0.0, max=_MAX_SCALE)
    separation = check_float(separation, "make_blobs: separation", min=0.0, max=_MAX_SCALE)
    seed = check_int(seed, "make_blobs: seed", min=0)
    if isinstance(n_points, (int, np.integer)) and not isinstance(n_points, bool):
        total = check_int(n_points, "make_blobs: n_points", min=n_clusters)
        check_memory(8.0 * (total + n_clusters) * (3 * dim + 2), _memory_text(total, dim))
        counts = np.full(n_clusters, total // n_clusters, dtype=np.int64)
        counts[: total % n_clusters] += 1
    elif isinstance(n_points, (list, tuple, np.ndarray)):
        counts = check_array(n_points, "make_blobs: n_points", ndim=1, dtype=np.int64)
        if len(counts) != n_clusters or (len(counts) and counts.min() < 1):
            raise InputError(
                f"make_blobs: n_points: expected {n_clusters} positive counts (one per cluster), "
                f"got {counts.tolist() if len(counts) <= 20 else f'{len(counts)} counts'}"
            )
        summed = float(counts.sum(dtype=np.float64))
        check_memory(8.0 * (summed + n_clusters) * (3 * dim + 2), _memory_text(summed, dim))
    else:
        raise InputError(
            "make_blobs: n_points: expected an int or a list of per-cluster ints, got "
            f"{type(n_points).__name__}"
        )
    rng = np.random.default_rng(seed)
    side = separation * n_clusters ** (1.0 / dim)
    centres = rng.uniform(0.0, side, size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), counts)
    points = centres[labels] + rng.normal(0.0, std, size=(labels.size, dim))
    return points, labels.astype(np.int64)


def _memory_text(total: float, dim: int) -> str:
    return f"make_blobs: {total:.0f} points of dim={dim}"
