"""Image metrics: PSNR, and the Frechet distance between two sets of feature vectors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]

from xuframe.errors import InputError

__all__ = ["frechet_distance", "psnr"]


def _array(x: Any) -> np.ndarray[Any, Any]:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def psnr(prediction: Any, target: Any, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)`` over all elements
    (numpy arrays or tensors of one shape; ``data_range`` is 1 for images in [0, 1], 2 for
    [-1, 1], 255 for uint8). Identical inputs give ``inf``."""
    a, b = _array(prediction), _array(target)
    if a.shape != b.shape:
        raise InputError(f"psnr: expected arrays of one shape, got {a.shape} and {b.shape}")
    if not data_range > 0:
        raise InputError(f"psnr: expected data_range > 0, got {data_range}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def frechet_distance(a: Any, b: Any) -> float:
    """``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between two feature sets
    ``(N, d)`` and ``(M, d)``: the FID formula, on whatever features are given."""
    x, y = _array(a), _array(b)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise InputError(
            f"frechet_distance: expected (N, d) and (M, d) with N, M >= 2, got {x.shape} and {y.shape}"
        )
    mu = x.mean(0) - y.mean(0)
    sa, sb = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(sa @ sb))
    return float(mu @ mu + np.trace(sa + sb - 2.0 * root))
