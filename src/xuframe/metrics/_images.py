"""Image metrics: PSNR, and the Frechet distance between two sets of feature vectors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]

from xuframe.errors import InputError
from xuframe.validation import check_array, check_float, check_memory

__all__ = ["frechet_distance", "psnr"]


def psnr(prediction: Any, target: Any, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)`` over all elements
    (numpy arrays or tensors of one shape; ``data_range`` is 1 for images in [0, 1], 2 for
    [-1, 1], 255 for uint8). Identical inputs give ``inf``.

    Raises :class:`~xuframe.errors.InputError` for inputs that are not arrays of finite real
    numbers, empty, or of different shapes, and a ``data_range`` that is not a finite number > 0.
    """
    a = check_array(prediction, "psnr: prediction", non_empty=True)
    b = check_array(target, "psnr: target", non_empty=True)
    if a.shape != b.shape:
        raise InputError(f"psnr: expected arrays of one shape, got {a.shape} and {b.shape}")
    data_range = check_float(data_range, "psnr: data_range", min=0.0, min_open=True)
    diff = a - b
    scale = float(np.abs(diff).max())  # scaled, so squares of huge values cannot overflow
    if scale == 0:
        return math.inf
    mse_scaled = float(np.mean((diff / scale) ** 2))
    return 20.0 * math.log10(data_range / scale) - 10.0 * math.log10(mse_scaled)


def frechet_distance(a: Any, b: Any) -> float:
    """``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between two feature sets
    ``(N, d)`` and ``(M, d)``: the FID formula, on whatever features are given.

    Raises :class:`~xuframe.errors.InputError` for inputs that are not 2-D arrays of finite
    real numbers (magnitude at most 1e100, so covariances cannot overflow) with N, M >= 2 and
    one ``d``, or whose ``d x d`` covariances would not fit in memory."""
    x = check_array(a, "frechet_distance: a", ndim=2, max_abs=1e100)
    y = check_array(b, "frechet_distance: b", ndim=2, max_abs=1e100)
    if x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2 or x.shape[1] < 1:
        raise InputError(
            f"frechet_distance: expected (N, d) and (M, d) with N, M >= 2, got {x.shape} and {y.shape}"
        )
    check_memory(
        8.0 * 6 * x.shape[1] ** 2, f"frechet_distance: covariances of d={x.shape[1]} features"
    )
    mu = x.mean(0) - y.mean(0)
    sa, sb = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(sa @ sb))
    return float(mu @ mu + np.trace(sa + sb - 2.0 * root))
