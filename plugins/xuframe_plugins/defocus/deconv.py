"""Per-region deconvolution with an outlier variable, and non-parametric kernel estimation.

For one region with kernel ``k`` and trust weights ``w`` (1 deep inside the region, falling
to 0 at and beyond its border), the image step minimises, over the latent image ``x`` and the
outlier image ``e`` (equation (D1) of ``docs/plugins/defocus.md``):

    J(x, e) = 1/2 ||k * x + e - y||^2 + lam sum_p |grad x|_p + tau sum_p w_p [e_p != 0]

``e`` absorbs what the region's kernel cannot explain: pixels of other regions, the ringing a
wrong label near a border would cause, and the padded frame. Half-quadratic splitting with an
auxiliary gradient field ``g`` and a rising penalty ``beta`` alternates three exact steps:
(D2) ``e`` by hard thresholding, (D3) ``g`` by isotropic shrinkage and (D4) ``x`` by one FFT
division. (D5) lowers the outlier price from a start where no trusted pixel is an outlier, and
(D6) keeps the result only if it lowered (D1) below its start. The kernel step (K1)-(K4) fits
``k`` to the gradients under symmetry, low rank, non-negativity and unit sum.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from xuframe.errors import InputError
from xuframe.validation import check_array, check_choice, check_float, check_int
from xuframe_plugins.defocus.blur import gaussian_kernel, transfer_function

__all__ = [
    "RegionSolution",
    "blind_kernel",
    "blur_periodic",
    "deconvolve_region",
    "richest_window",
    "estimate_kernel",
    "kernel_spread",
    "objective",
    "project_kernel",
    "trust_region_kernel",
]

Array = np.ndarray[Any, Any]


def _difference_transfer(shape: tuple[int, int]) -> tuple[Array, Array]:
    """Transfer functions of the periodic forward differences along x and y (real FFT)."""
    h, w = shape
    fx = np.exp(2j * np.pi * sfft.rfftfreq(w))[None, :] - 1.0
    fy = np.exp(2j * np.pi * sfft.fftfreq(h))[:, None] - 1.0
    return np.broadcast_to(fx, (h, w // 2 + 1)), np.broadcast_to(fy, (h, w // 2 + 1))


def _fft(a: Array) -> Array:
    return sfft.rfft2(a, workers=-1)


def _ifft(a: Array, shape: tuple[int, int]) -> Array:
    return sfft.irfft2(a, s=shape, workers=-1)


def _tv(gx: Array, gy: Array) -> float:
    return float(np.sqrt(gx * gx + gy * gy).sum())


def objective(
    y: Array, x: Array, e: Array, kernel: Array, weight: Array, lam: float, tau: float
) -> float:
    """(D1) at ``(x, e)`` on the periodic grid of ``y`` (``(C, H, W)`` arrays)."""
    shape = y.shape[1:]
    r = _ifft(transfer_function(kernel, shape) * _fft(x), shape) + e - y
    gx = np.roll(x, -1, axis=2) - x
    gy = np.roll(x, -1, axis=1) - x
    outliers = float((weight * (np.abs(e).sum(0) > 0)).sum())
    return 0.5 * float((r * r).sum()) + lam * _tv(gx, gy) + tau * outliers


def blur_periodic(x: Array, kernel: Array) -> Array:
    """``kernel * x`` on the periodic grid of ``x`` ``(C, H, W)``."""
    shape = x.shape[1:]
    return _ifft(transfer_function(kernel, shape) * _fft(x), shape)


@attrs.frozen(eq=False)
class RegionSolution:
    """The image step's output: the latent image, the outliers, and (D1) after each ``beta``
    stage."""

    x: Array
    e: Array
    history: list[float]


def _image(y: Any, what: str) -> Array:
    """A finite ``(C, H, W)`` image, at least 2 x 2 pixels."""
    a = check_array(y, what, ndim=3, non_empty=True)
    if min(a.shape[1:]) < 2:
        raise InputError(f"{what}: expected at least 2 x 2 pixels, got {a.shape[1:]}")
    return a


def _kernel(kernel: Any, what: str, shape: tuple[int, ...]) -> Array:
    """A finite, square, odd-sized kernel no larger than ``shape``."""
    k = check_array(kernel, what, ndim=2, non_empty=True)
    if k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise InputError(f"{what}: expected a square kernel of odd size, got {k.shape}")
    if k.shape[0] > min(shape):
        raise InputError(f"{what}: kernel {k.shape} larger than the image {tuple(shape)}")
    return k


def _weight(weight: Any, what: str, shape: tuple[int, ...]) -> Array:
    w = check_array(weight, what, ndim=2)
    if w.shape != tuple(shape):
        raise InputError(f"{what}: expected shape {tuple(shape)} (the image's), got {w.shape}")
    return w


def deconvolve_region(
    y: Array,
    kernel: Array,
    weight: Array,
    *,
    lam: float,
    tau: float,
    betas: tuple[float, ...],
    inner: int = 3,
    x0: Array | None = None,
    prior: str = "tv",
) -> RegionSolution:
    """Minimise (D1) by half-quadratic splitting: for each ``beta`` in ``betas`` (rising),
    ``inner`` rounds of (D2) ``e``, (D3) ``g``, (D4) ``x``. ``y`` is ``(C, H, W)``;
    ``weight`` ``(H, W)``; ``x0`` a warm start (default ``y``).

    (D5) The outlier price is continued: at the first stage it is raised so that no fully
    trusted pixel (``weight >= 1``) is an outlier of the start, then it falls geometrically
    to ``tau`` over the first half of the stages. Without it, a start far from the solution
    (the blurred image itself, when the noise and so ``tau`` are small) puts every edge
    residual into ``e``, and ``x = y`` is a fixed point. (D6) With ``prior="tv"`` the start
    is returned instead when the result does not lower (D1) below the start's value
    (``e`` taken by (D2) at ``tau``); ``history`` is then the path that was rejected.

    ``kernel`` square, odd-sized, at most the image; ``lam`` and ``tau`` numbers >= 0;
    ``betas`` non-empty, > 0; ``inner`` an int >= 1; ``prior`` ``"tv"`` or ``"l0"``. Raises
    :class:`~xuframe.errors.InputError` for anything else, before any work."""
    y = _image(y, "deconvolve_region: y")
    shape = y.shape[1:]
    kernel = _kernel(kernel, "deconvolve_region: kernel", shape)
    weight = _weight(weight, "deconvolve_region: weight", shape)
    lam = check_float(lam, "deconvolve_region: lam", min=0.0)
    tau = check_float(tau, "deconvolve_region: tau", min=0.0)
    beta_values = check_array(betas, "deconvolve_region: betas", ndim=1, non_empty=True)
    if (beta_values <= 0).any():
        raise InputError("deconvolve_region: betas: expected numbers > 0")
    betas = tuple(float(b) for b in beta_values)
    inner = check_int(inner, "deconvolve_region: inner", min=1)
    check_choice(prior, "deconvolve_region: prior", ("tv", "l0"))
    if x0 is not None:
        x0 = check_array(x0, "deconvolve_region: x0", shape=y.shape)
    K = transfer_function(kernel, shape)
    Dx, Dy = _difference_transfer(shape)
    K2 = np.abs(K) ** 2
    D2 = np.abs(Dx) ** 2 + np.abs(Dy) ** 2
    X = _fft(y if x0 is None else x0)
    threshold = 2.0 * tau * weight
    # (D5) continuation of the outlier price: no trusted pixel is an outlier at the start,
    # the price falls geometrically to 2 tau over the first half of the stages.
    r = y - _ifft(K * X, shape)
    trusted = weight >= 1.0
    start = 1.0
    if trusted.any() and tau > 0:
        start = float((r * r).sum(0)[trusted].max()) / (2.0 * tau)
    ramp = max(1, len(betas) // 2)
    history = []
    e = np.zeros_like(y)
    for stage, beta in enumerate(betas):
        scale = max(start, 1.0) ** max(0.0, 1.0 - stage / ramp)
        for _ in range(inner):
            r = y - _ifft(K * X, shape)
            e = np.where((r * r).sum(0) > scale * threshold, r, 0.0)  # (D2)
            gx, gy = _ifft(Dx * X, shape), _ifft(Dy * X, shape)
            norm2 = (gx * gx + gy * gy).sum(0) if prior == "l0" else gx * gx + gy * gy
            if prior == "l0":  # (K0): keep a gradient only where it pays its l0 price
                shrink = (norm2 > 2.0 * lam / beta).astype(float)
            else:  # (D3)
                norm = np.sqrt(norm2)
                shrink = np.maximum(norm - lam / beta, 0.0) / np.maximum(norm, 1e-12)
            X = (np.conj(K) * _fft(y - e) + beta * (np.conj(Dx) * _fft(gx * shrink) + np.conj(Dy) * _fft(gy * shrink))) / (K2 + beta * D2)  # (D4)  # fmt: skip
        history.append(objective(y, _ifft(X, shape), e, kernel, weight, lam, tau))
    x = _ifft(X, shape)
    r = y - _ifft(K * X, shape)
    e = np.where((r * r).sum(0) > threshold, r, 0.0)
    if prior == "tv":  # (D6) accept the step only if it lowered (D1) from where it started
        x_start = y if x0 is None else x0
        r = y - blur_periodic(x_start, kernel)
        e_start = np.where((r * r).sum(0) > threshold, r, 0.0)
        j_start = objective(y, x_start, e_start, kernel, weight, lam, tau)
        if j_start <= objective(y, x, e, kernel, weight, lam, tau):
            return RegionSolution(np.array(x_start, dtype=np.float64), e_start, history)
    return RegionSolution(x, e, history)


def _orbits(radius: int) -> tuple[Array, int]:
    """For each kernel offset ``(i, j)`` in ``[-r, r]^2``, the index of its orbit under the
    8 symmetries of the square (flips and transposition): ``(max(|i|,|j|), min(|i|,|j|))``."""
    t = np.abs(np.arange(-radius, radius + 1))
    hi = np.maximum(t[:, None], t[None, :])
    lo = np.minimum(t[:, None], t[None, :])
    index = hi * (hi + 1) // 2 + lo
    return index, int(index.max()) + 1


def _symmetrise(k: Array) -> Array:
    """The mean of ``k`` over the square's 8 symmetries."""
    k = k + k.T
    return np.asarray((k + k[::-1] + k[:, ::-1] + k[::-1, ::-1]) / 8.0)


def project_kernel(kernel: Array, rank: int) -> Array:
    """(K2)-(K4): symmetrise over the square's 8 symmetries, keep the ``rank`` largest
    eigen-components (the kernel is a symmetric matrix), clip at 0, normalise to sum 1."""
    vals, vecs = np.linalg.eigh(_symmetrise(kernel))
    keep = np.argsort(-np.abs(vals))[:rank]
    k = np.clip(_symmetrise((vecs[:, keep] * vals[keep]) @ vecs[:, keep].T), 0.0, None)
    total = float(k.sum())
    if total <= 0:  # nothing positive survived: the identity
        k = np.zeros_like(k)
        k[k.shape[0] // 2, k.shape[1] // 2] = 1.0
        return k
    return np.asarray(k / total)


def estimate_kernel(
    x: Array,
    target: Array,
    trusted: Array,
    radius: int,
    *,
    rank: int = 2,
    ridge: float = 1e-3,
    smooth: float = 0.03,
    prior: Array | None = None,
    max_samples: int = 6000,
) -> Array:
    """(K1) the kernel ``k`` of radius ``radius`` that best maps the gradients of ``x`` to
    those of ``target`` (``y - e``) at ``trusted`` pixels, among kernels with the square's
    symmetries (one unknown per orbit), with a ridge of ``ridge`` times the mean diagonal;
    then :func:`project_kernel`. Pixels are the trusted ones at least ``radius + 1`` from the
    frame, a regular subsample of at most ``max_samples`` (deterministic). ``x`` and
    ``target`` ``(C, H, W)``, ``trusted`` ``(H, W)`` booleans, ``radius`` an int >= 0 smaller
    than half the image; raises :class:`~xuframe.errors.InputError` otherwise."""
    x = _image(x, "estimate_kernel: x")
    target = check_array(target, "estimate_kernel: target", shape=x.shape)
    if not isinstance(trusted, np.ndarray) or trusted.shape != x.shape[1:]:
        raise InputError(f"estimate_kernel: trusted: expected a boolean array {x.shape[1:]}")
    trusted = trusted.astype(bool)
    radius = check_int(radius, "estimate_kernel: radius", min=0, max=(min(x.shape[1:]) - 1) // 2)
    rank = check_int(rank, "estimate_kernel: rank", min=1, max=8)
    ridge = check_float(ridge, "estimate_kernel: ridge", min=0.0)
    max_samples = check_int(max_samples, "estimate_kernel: max_samples", min=1)
    h, w = x.shape[1:]
    index, n_orbits = _orbits(radius)
    inner = np.zeros((h, w), dtype=bool)
    inner[radius + 1 : h - radius - 1, radius + 1 : w - radius - 1] = True
    rows, cols = np.nonzero(trusted & inner)
    if rows.size < 4 * n_orbits:
        return project_kernel(np.pad(np.ones((1, 1)), radius), rank)
    step = max(1, rows.size // max_samples)
    rows, cols = rows[::step], cols[::step]
    offsets = np.arange(-radius, radius + 1)
    di, dj = np.meshgrid(offsets, offsets, indexing="ij")
    at_rows = rows[:, None] - di.ravel()[None]  # (k * x)(p) = sum k(i,j) x(p - (i,j))
    at_cols = cols[:, None] - dj.ravel()[None]
    one_hot = np.zeros((di.size, n_orbits))
    one_hot[np.arange(di.size), index.ravel()] = 1.0
    design = []
    rhs = []
    for grad in (lambda a: np.roll(a, -1, axis=2) - a, lambda a: np.roll(a, -1, axis=1) - a):
        gx, gt = grad(x), grad(target)
        design.append((gx[:, at_rows, at_cols] @ one_hot).reshape(-1, n_orbits))
        rhs.append(gt[:, rows, cols].ravel())
    a = np.concatenate(design)
    b = np.concatenate(rhs)
    normal = a.T @ a
    sizes = np.bincount(index.ravel(), minlength=n_orbits).astype(float)
    scale = float(np.trace(normal)) / n_orbits
    normal += ridge * scale * np.diag(sizes)
    if smooth > 0:  # sum of squared differences of neighbouring kernel pixels, per orbit
        side = 2 * radius + 1
        to_orbit = np.zeros((side * side, n_orbits))
        to_orbit[np.arange(side * side), index.ravel()] = 1.0
        grid = np.arange(side * side).reshape(side, side)
        pairs = np.concatenate(
            [np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], 1),
             np.stack([grid[:-1].ravel(), grid[1:].ravel()], 1)]
        )  # fmt: skip
        diff = to_orbit[pairs[:, 0]] - to_orbit[pairs[:, 1]]
        normal += smooth * scale * (diff.T @ diff)
    rhs = a.T @ b
    if prior is not None:  # the ridge pulls towards ``prior`` instead of towards 0
        rhs += ridge * scale * sizes * _orbit_means(prior, index, n_orbits)
    coef = np.linalg.solve(normal, rhs)
    return project_kernel(coef[index], rank)


def _orbit_means(kernel: Array, index: Array, n_orbits: int) -> Array:
    """The mean of ``kernel`` over each orbit."""
    sums = np.bincount(index.ravel(), weights=kernel.ravel(), minlength=n_orbits)
    return sums / np.bincount(index.ravel(), minlength=n_orbits)


def kernel_spread(kernel: Array) -> float:
    """The per-axis standard deviation of a kernel of unit sum, px: ``sqrt(sum k(i, j) i^2)``
    (a Gaussian's sigma, a disc's radius / 2)."""
    offsets = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
    return float(np.sqrt((kernel.sum(1) * offsets**2).sum() / kernel.sum()))


def trust_region_kernel(
    kernel: Array, start: Array, bounds: tuple[float, float], rank: int
) -> Array:
    """(K5) ``kernel`` if its spread (:func:`kernel_spread`) lies within the spreads of the
    Gaussians of ``bounds`` (px, ``start`` within them); else the kernel on the segment from
    ``start`` to ``kernel``, projected by (K2)-(K4), whose spread is the bound it crossed (by
    bisection on the segment)."""
    radius = kernel.shape[0] // 2
    lo, hi = (kernel_spread(gaussian_kernel(b, radius)) for b in bounds)
    spread = kernel_spread(kernel)
    if lo <= spread <= hi:
        return kernel
    bound = hi if spread > hi else lo
    inside, outside = 0.0, 1.0
    best = start
    for _ in range(40):
        t = 0.5 * (inside + outside)
        candidate = project_kernel((1.0 - t) * start + t * kernel, rank)
        if (kernel_spread(candidate) - bound) * (spread - bound) > 0:
            outside = t
        else:
            inside, best = t, candidate
    return best


def richest_window(score: Array, size: int) -> tuple[slice, slice]:
    """The ``size`` x ``size`` window (clipped to the array) with the largest sum of
    ``score``."""
    h, w = score.shape
    sh, sw = min(size, h), min(size, w)
    sums = ndimage.uniform_filter(score, (sh, sw), mode="constant")
    valid = sums[sh // 2 : h - (sh - 1) // 2, sw // 2 : w - (sw - 1) // 2]
    i, j = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return slice(int(i), int(i) + sh), slice(int(j), int(j) + sw)


def blind_kernel(
    y: Array,
    weight: Array,
    sigma: float,
    radius: int,
    *,
    steps: int,
    mu: float,
    tau: float,
    rank: int = 1,
    stages: int = 9,
    inner: int = 2,
    ridge: float = 1e-3,
    bounds: tuple[float, float] | None = None,
) -> tuple[Array, list[float]]:
    """(K0)-(K5) on one window: from the Gaussian of ``sigma``, ``steps`` times, a latent
    image with an l0 gradient prior of weight ``mu`` (its step edges cannot fit the data with
    a wrong kernel), then the kernel fitted to it at trusted pixels (``weight >= 1``, no
    outlier). (K5) With ``bounds = (lo, hi)`` (px, ``lo <= sigma <= hi``), each step is a
    trust-region step: see :func:`trust_region_kernel`. Returns the kernel and the data
    misfit ``1/2 ||k * x + e - y||^2`` after each step. ``y`` ``(C, H, W)``, ``weight``
    ``(H, W)``, ``radius`` an int smaller than half the window, ``steps`` >= 0; raises
    :class:`~xuframe.errors.InputError` otherwise, before any work."""
    y = _image(y, "blind_kernel: y")
    weight = _weight(weight, "blind_kernel: weight", y.shape[1:])
    sigma = check_float(sigma, "blind_kernel: sigma", min=0.0)
    radius = check_int(radius, "blind_kernel: radius", min=0, max=(min(y.shape[1:]) - 1) // 2)
    steps = check_int(steps, "blind_kernel: steps", min=0)
    mu = check_float(mu, "blind_kernel: mu", min=0.0, min_open=True)
    if bounds is not None:
        lo, hi = check_array(bounds, "blind_kernel: bounds", shape=(2,))
        if not 0 <= lo <= hi:
            raise InputError(f"blind_kernel: bounds: expected 0 <= lo <= hi, got ({lo}, {hi})")
        bounds = (float(lo), float(hi))
    kernel = start = gaussian_kernel(sigma, radius)
    betas = tuple(mu * 2.0**j for j in range(1, stages + 1))
    misfit = []
    for _ in range(steps):
        latent = deconvolve_region(
            y, kernel, weight, lam=mu, tau=tau, betas=betas, inner=inner, prior="l0"
        )
        trusted = (weight >= 1.0) & (np.abs(latent.e).sum(0) == 0)
        kernel = estimate_kernel(
            latent.x, y - latent.e, trusted, radius, rank=rank, ridge=ridge, prior=start
        )
        if bounds is not None:
            kernel = trust_region_kernel(kernel, start, bounds, rank)
        r = blur_periodic(latent.x, kernel) + latent.e - y
        misfit.append(0.5 * float((r * r).sum()))
    return kernel, misfit
