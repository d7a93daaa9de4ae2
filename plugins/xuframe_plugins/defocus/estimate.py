"""Defocus map estimation from one image: re-blur gradient ratios at edges (Zhuo and Sim,
2011), propagated to every pixel by normalised convolution and an edge-aware guided filter.

Equations (E1)-(E5) are those of ``docs/plugins/defocus.md``.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
from scipy import ndimage

from xuframe.errors import InputError
from xuframe.validation import check_array, check_float

__all__ = [
    "DefocusEstimate",
    "edge_defocus",
    "estimate_defocus",
    "guided_filter",
    "noise_level",
    "propagate",
]

Array = np.ndarray[Any, Any]


def noise_level(grey: Array) -> float:
    """Immerkaer's (1996) estimate of the standard deviation of white noise in ``grey``: the
    mean absolute response to a Laplacian-difference mask that cancels smooth structure."""
    mask = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
    response = ndimage.convolve(grey, mask, mode="reflect")[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(response).mean() / 6.0)


def _nonmax_edges(grey: Array, scale: float) -> tuple[Array, Array]:
    """Pixels whose Gaussian-derivative gradient magnitude (at ``scale``) is a local maximum
    across the edge; and that magnitude everywhere."""
    gy = ndimage.gaussian_filter(grey, scale, order=(1, 0), mode="reflect")
    gx = ndimage.gaussian_filter(grey, scale, order=(0, 1), mode="reflect")
    mag = np.hypot(gx, gy)
    angle = (np.rint(np.arctan2(gy, gx) / (np.pi / 4)).astype(np.int64)) % 4  # 0, 45, 90, 135
    padded = np.pad(mag, 1, mode="edge")
    h, w = mag.shape
    steps = ((0, 1), (1, 1), (1, 0), (1, -1))  # (dy, dx) across the edge per direction
    keep = np.zeros_like(mag, dtype=bool)
    for d, (dy, dx) in enumerate(steps):
        a = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        b = padded[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        keep |= (angle == d) & (mag >= a) & (mag > b)
    return keep, mag


def _grey(grey: Any, what: str) -> Array:
    """A finite grey image ``(H, W)``, at least 3 x 3 pixels."""
    g = check_array(grey, f"{what}: grey", ndim=2)
    if min(g.shape) < 3:
        raise InputError(f"{what}: grey: expected at least 3 x 3 pixels, got {g.shape}")
    return g


def _scale(value: Any, what: str, grey: Array) -> float:
    """A Gaussian scale in px: > 0 and at most the image's shorter side (its filter is 4
    scales wide on each side)."""
    return check_float(value, what, min=0.0, min_open=True, max=float(min(grey.shape)))


def edge_defocus(
    grey: Array,
    *,
    scale: float = 1.0,
    reblur: float = 1.5,
    threshold: float | None = None,
    max_sigma: float = 8.0,
) -> tuple[Array, Array]:
    """Sparse defocus at edges: ``(sigma, weight)``, both ``(H, W)``; ``weight`` is 0 off edges.

    (E1) ``g1 = |grad G_s * y|``, ``g2 = |grad G_sqrt(s^2 + s0^2) * y|`` (Gaussian-derivative
    gradients at ``scale`` s and re-blurred by ``reblur`` s0);
    (E2) at an edge of blur ``sigma`` the ratio ``R = g1 / g2`` equals
    ``sqrt(sigma^2 + s^2 + s0^2) / sqrt(sigma^2 + s^2)``, so
    ``sigma = sqrt(s0^2 / (R^2 - 1) - s^2)``.

    The pre-smoothing ``s`` keeps pixel noise out of the ratio and is subtracted exactly.
    Edges are non-maximum-suppressed pixels with ``g1`` above ``threshold`` (default: 20 noise
    standard deviations of ``g1``, and at least 2% of its 99th percentile: weak edges are
    noisy and biased low by their neighbours); ``weight`` is ``g1`` there, so strong edges
    count more. ``sigma`` is clipped to ``max_sigma`` (a ratio near 1 means a blur the
    re-blur can no longer tell apart).

    ``grey`` ``(H, W)`` finite, at least 3 x 3; ``scale`` and ``reblur`` in ``(0, min(H, W)]``
    px; ``threshold`` a number >= 0 or None; ``max_sigma`` > 0. Raises
    :class:`~xuframe.errors.InputError` otherwise.
    """
    grey = _grey(grey, "edge_defocus")
    scale = _scale(scale, "edge_defocus: scale", grey)
    reblur = _scale(reblur, "edge_defocus: reblur", grey)
    if threshold is not None:
        threshold = check_float(threshold, "edge_defocus: threshold", min=0.0)
    max_sigma = check_float(max_sigma, "edge_defocus: max_sigma", min=0.0, min_open=True)
    noise = noise_level(grey)
    # the standard deviation of a Gaussian-derivative response to white noise of std 1
    g_noise = noise / (2.0 * math.sqrt(2.0 * math.pi) * scale**2)
    peaks, g1 = _nonmax_edges(grey, scale)
    if threshold is None:
        threshold = max(20.0 * g_noise, 0.02 * float(np.percentile(g1, 99)))
    edges = peaks & (g1 > threshold)
    g2 = ndimage.gaussian_gradient_magnitude(grey, math.hypot(scale, reblur), mode="reflect")
    ratio = g1[edges] / np.maximum(g2[edges], 1e-12)
    sigma2 = reblur**2 / np.maximum(ratio**2 - 1.0, 1e-6) - scale**2
    sigma = np.zeros_like(grey)
    weight = np.zeros_like(grey)
    sigma[edges] = np.sqrt(np.clip(sigma2, 0.0, max_sigma**2))
    weight[edges] = g1[edges]
    return sigma, weight


def guided_filter(guide: Array, src: Array, radius: int, eps: float) -> Array:
    """He et al.'s guided filter with a grey ``guide``: ``src`` smoothed within ``radius``,
    following the edges of ``guide`` (``eps`` sets how strong an edge must be to stop it)."""
    size = 2 * radius + 1

    def box(a: Array) -> Array:
        return ndimage.uniform_filter(a, size, mode="reflect")

    mean_i, mean_p = box(guide), box(src)
    var_i = box(guide * guide) - mean_i**2
    cov = box(guide * src) - mean_i * mean_p
    a = cov / (var_i + eps)
    b = mean_p - a * mean_i
    return np.asarray(box(a) * guide + box(b))


def propagate(
    sigma: Array, weight: Array, guide: Array, *, scales: tuple[float, ...] = (4, 8, 16, 32, 64)
) -> Array:
    """A dense map from sparse ``sigma`` with ``weight`` (0 where unknown).

    (E3) normalised convolution at the finest of ``scales`` (Gaussian widths, px) whose
    local support ``G * weight`` reaches a quarter of the mean edge weight, coarser scales
    filling in where edges are scarce; (E4) a guided filter with the image as guide, so the
    map changes at image edges rather than in smooth areas.
    """
    if not (weight > 0).any():
        return np.zeros_like(sigma)
    level = 0.25 * float(weight[weight > 0].mean())
    dense = np.full(sigma.shape, np.nan)
    for s in scales:
        support = ndimage.gaussian_filter(weight, s, mode="reflect")
        value = ndimage.gaussian_filter(weight * sigma, s, mode="reflect") / np.maximum(
            support, 1e-12
        )
        fill = np.isnan(dense) & (support * (2 * math.pi * s * s) >= level)
        dense[fill] = value[fill]
    if np.isnan(dense).any():  # coarser than every scale: the weighted mean
        dense[np.isnan(dense)] = float((weight * sigma).sum() / weight.sum())
    return guided_filter(guide, dense, radius=8, eps=1e-3)


@attrs.frozen(eq=False)
class DefocusEstimate:
    """A defocus map and the sparse edge measurements it was propagated from."""

    dense: Array  # (H, W) blur sigma per pixel
    sparse: Array  # (H, W) sigma at edges (0 elsewhere)
    weight: Array  # (H, W) edge strength (0 off edges)


def estimate_defocus(grey: Array, *, scale: float = 1.0, reblur: float = 1.5) -> DefocusEstimate:
    """(E1)-(E4) on a grey image ``(H, W)`` in [0, 1] (arguments as :func:`edge_defocus`)."""
    grey = _grey(grey, "estimate_defocus")
    sigma, weight = edge_defocus(grey, scale=scale, reblur=reblur)
    return DefocusEstimate(propagate(sigma, weight, grey), sigma, weight)
