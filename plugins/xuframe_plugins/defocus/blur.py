"""Defocus blur: Gaussian kernels, their transfer functions, and spatially varying synthesis.

Images here are float arrays ``(C, H, W)`` (one channel for grey). A region map is an integer
array ``(H, W)`` whose value ``l`` selects kernel ``l``. The blur model the solver inverts is
the one :func:`spatially_varying_blur` draws (equation (B1) in ``docs/plugins/defocus.md``):

    y = sum_l M_l (k_l * x) + n

with ``M_l`` the indicator of region ``l``: each pixel sees the whole image blurred by its own
region's kernel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from xuframe.errors import InputError
from xuframe.validation import check_array, check_choice, check_float, check_int, check_memory

__all__ = [
    "disc_kernel",
    "gaussian_kernel",
    "kernel_radius",
    "spatially_varying_blur",
    "synthetic_scene",
    "three_level_depth",
    "transfer_function",
    "two_level_halves",
]

Array = np.ndarray[Any, Any]


def kernel_radius(sigma: float) -> int:
    """The radius that holds a Gaussian of ``sigma`` to 3 sigma (at least 1)."""
    return max(1, math.ceil(3.0 * sigma))


def gaussian_kernel(sigma: float, radius: int | None = None) -> Array:
    """A normalised isotropic Gaussian ``(2r + 1, 2r + 1)``; ``sigma = 0`` gives the identity.

    ``sigma`` a finite number >= 0 (px); ``radius`` an int >= 0 or None (3 sigma). A kernel
    larger than :func:`xuframe.validation.memory_limit` allows is refused before it is made;
    bad arguments raise :class:`~xuframe.errors.InputError`."""
    sigma = check_float(sigma, "gaussian_kernel: sigma", min=0.0)
    r = (
        kernel_radius(sigma)
        if radius is None
        else check_int(radius, "gaussian_kernel: radius", min=0)
    )
    check_memory(8.0 * (2 * r + 1) ** 2, f"gaussian_kernel: the kernel of radius {r} px")
    k = np.zeros((2 * r + 1, 2 * r + 1))
    if sigma == 0:
        k[r, r] = 1.0
        return k
    t = np.arange(-r, r + 1)
    g = np.exp(-(t**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def disc_kernel(sigma: float) -> Array:
    """A normalised pillbox (the geometric-optics defocus PSF) of radius ``2 sigma``, which
    has the per-axis standard deviation ``sigma``; pixels on its rim count by the fraction of
    a 9 x 9 grid of sub-pixels inside it. ``sigma`` a finite number >= 0; sizes past the
    memory limit are refused (:class:`~xuframe.errors.InputError`)."""
    sigma = check_float(sigma, "disc_kernel: sigma", min=0.0)
    rho = 2.0 * sigma
    r = max(1, math.ceil(rho))
    check_memory(8.0 * 81 * (2 * r + 1) ** 2, f"disc_kernel: the kernel of radius {r} px")
    if sigma == 0:
        return gaussian_kernel(0.0, r)
    sub = (np.arange(9) + 0.5) / 9 - 0.5
    t = np.arange(-r, r + 1)
    yy = t[:, None, None, None] + sub[None, None, :, None]
    xx = t[None, :, None, None] + sub[None, None, None, :]
    k = ((yy**2 + xx**2) <= rho**2).mean(axis=(2, 3))
    return np.asarray(k / k.sum())


def transfer_function(kernel: Array, shape: tuple[int, int]) -> Array:
    """The real-FFT transfer function of a centred ``kernel`` on a periodic grid of ``shape``."""
    h, w = kernel.shape
    if h > shape[0] or w > shape[1]:
        raise InputError(f"transfer_function: kernel {kernel.shape} larger than image {shape}")
    padded = np.zeros(shape)
    padded[:h, :w] = kernel
    padded = np.roll(padded, (-(h // 2), -(w // 2)), axis=(0, 1))
    return sfft.rfft2(padded)


def _blur(image: Array, kernel: Array) -> Array:
    """``kernel * image`` per channel, the image extended by reflection at its borders."""
    r = kernel.shape[0] // 2
    padded = np.pad(image, ((0, 0), (r, r), (r, r)), mode="symmetric")
    out = np.stack([ndimage.convolve(c, kernel, mode="constant") for c in padded])
    return out[:, r:-r, r:-r] if r else out


def spatially_varying_blur(
    image: Array, regions: Array, sigmas: Any, psf: str = "gaussian"
) -> Array:
    """(B1) without noise: each pixel of region ``l`` takes the image blurred by a Gaussian
    (or, with ``psf="disc"``, a pillbox: :func:`disc_kernel`) of ``sigmas[l]``. ``image`` is
    ``(C, H, W)`` or ``(H, W)``; the result has its shape. ``regions`` ``(H, W)`` integer
    labels ``0 .. L - 1``; ``sigmas`` ``L`` finite numbers >= 0, each at most the image's
    shorter side (a wider blur is all border). Raises :class:`~xuframe.errors.InputError`
    for anything else."""
    check_choice(psf, "spatially_varying_blur: psf", ("gaussian", "disc"))
    make = gaussian_kernel if psf == "gaussian" else disc_kernel
    img = check_array(image, "spatially_varying_blur: image", non_empty=True)
    if img.ndim not in (2, 3):
        raise InputError(
            f"spatially_varying_blur: image: expected (H, W) or (C, H, W), got shape {img.shape}"
        )
    flat = img.ndim == 2
    x = img[None] if flat else img
    regions = check_array(regions, "spatially_varying_blur: regions", dtype=np.int64)
    if regions.shape != x.shape[1:]:
        raise InputError(f"spatially_varying_blur: regions {regions.shape} vs image {x.shape[1:]}")
    levels = check_array(sigmas, "spatially_varying_blur: sigmas", ndim=1)
    if regions.min() < 0 or regions.max() >= levels.size:
        raise InputError(
            f"spatially_varying_blur: regions: expected labels in 0 .. {levels.size - 1} (one "
            f"sigma each), got {int(regions.min())} .. {int(regions.max())}"
        )
    used = levels[np.unique(regions)]
    if (used < 0).any() or (used > min(x.shape[1:])).any():
        raise InputError(
            f"spatially_varying_blur: sigmas: expected values in [0, {min(x.shape[1:])}] px "
            f"(the image's shorter side), got {used.tolist()}"
        )
    out = np.zeros_like(x)
    for level in np.unique(regions):
        mask = regions == level
        out[:, mask] = _blur(x, make(float(levels[int(level)])))[:, mask]
    return out[0] if flat else out


def _shape(shape: Any, what: str) -> tuple[int, int]:
    """``(H, W)``: two ints >= 1 whose float64 image fits in memory."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise InputError(f"{what}: expected a shape (H, W), got {shape!r}")
    h, w = (check_int(v, f"{what}: shape", min=1) for v in shape)
    check_memory(8.0 * 4 * h * w, f"{what}: a {h} x {w} image")
    return h, w


def two_level_halves(shape: tuple[int, int]) -> Array:
    """A region map: the left half 0, the right half 1."""
    shape = _shape(shape, "two_level_halves")
    regions = np.zeros(shape, dtype=np.int64)
    regions[:, shape[1] // 2 :] = 1
    return regions


def three_level_depth(shape: tuple[int, int]) -> Array:
    """A region map with levels 0, 1, 2 from a smooth depth: a ramp from top left to bottom
    right plus a round bump, cut at two thresholds."""
    h, w = _shape(shape, "three_level_depth")
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    depth = 0.6 * yy + 0.4 * xx + 0.5 * np.exp(-((yy - 0.35) ** 2 + (xx - 0.7) ** 2) / 0.02)
    lo, hi = np.quantile(depth, [1 / 3, 2 / 3])
    return (depth > lo).astype(np.int64) + (depth > hi).astype(np.int64)


def synthetic_scene(shape: tuple[int, int], seed: int = 0) -> Array:
    """A seeded grey test image in [0.1, 0.9]: overlapping discs and bars of random grey
    levels over a smooth gradient. ``shape`` two ints >= 1, ``seed`` an int >= 0."""
    h, w = _shape(shape, "synthetic_scene")
    rng = np.random.default_rng(check_int(seed, "synthetic_scene: seed", min=0))
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = 0.3 + 0.2 * (xx / w) + 0.1 * (yy / h)
    for _ in range(max(6, h * w // 400)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(2, max(3, min(h, w) / 6))
        level = rng.uniform(0.1, 0.9)
        if rng.random() < 0.5:
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = level
        else:
            img[(np.abs(yy - cy) < r) & (np.abs(xx - cx) < r / 3)] = level
    return np.clip(img, 0.1, 0.9)
