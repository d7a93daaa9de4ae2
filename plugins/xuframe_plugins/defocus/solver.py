"""The ``defocus`` solver: blind removal of spatially varying out-of-focus blur from one image
(Xu, Liu and Ji, "Removing out-of-focus blur from a single image").

Steps, numbered as in ``docs/plugins/defocus.md``: estimate a defocus map (E1)-(E4) unless the
problem brings one; segment it into regions of near-constant blur (S1)-(S3); then per region,
starting from the Gaussian of the region's blur, alternate the image step (D1)-(D6) and the
kernel step (K1)-(K4); and compose the regions' latent images.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import attrs
import numpy as np
import torch
from scipy import ndimage

from xuframe import DemoResult, Solver, config_field, non_negative, positive
from xuframe.errors import ConfigError, InputError
from xuframe.metrics import psnr
from xuframe.pictures import image_grid
from xuframe.validation import check_array, check_float, check_memory
from xuframe_plugins.defocus.blur import (
    gaussian_kernel,
    kernel_radius,
    spatially_varying_blur,
    synthetic_scene,
    two_level_halves,
)
from xuframe_plugins.defocus.deconv import (
    blind_kernel,
    blur_periodic,
    deconvolve_region,
    richest_window,
)
from xuframe_plugins.defocus.estimate import estimate_defocus, noise_level
from xuframe_plugins.defocus.segment import defocus_levels, segment_defocus

__all__ = [
    "MAX_SIGMA_FRACTION",
    "DeblurProblem",
    "DeblurResult",
    "DefocusDeblur",
    "as_float_image",
]

Array = np.ndarray[Any, Any]


def as_float_image(image: Any) -> Array:
    """``image`` as float64 ``(C, H, W)`` in [0, 1]: uint8 is divided by 255, uint16 by
    65535, floats are taken as they are and must lie in [0, 1]. Grey ``(H, W)``, ``(H, W, 1)``
    and RGB ``(H, W, 3)`` are accepted; at least 8 x 8 pixels. A numpy array, a tensor or a
    nested sequence; anything else (strings, booleans, ragged lists, other integer types,
    NaN) raises :class:`~xuframe.errors.InputError`."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    try:
        a = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"DeblurProblem.image: expected an array of pixels, got a ragged or unreadable "
            f"{type(image).__name__}"
        ) from exc
    if a.dtype == np.uint8:
        a = a / 255.0
    elif a.dtype == np.uint16:
        a = a / 65535.0
    elif a.dtype.kind == "f":
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise InputError("DeblurProblem.image: expected finite pixels, found NaN or inf")
        if a.size and (a.min() < -1e-6 or a.max() > 1 + 1e-6):
            raise InputError(
                f"DeblurProblem.image: a float image must lie in [0, 1], got "
                f"[{a.min():.3g}, {a.max():.3g}] (divide by its maximum, or pass uint8/uint16)"
            )
    else:
        raise InputError(
            f"DeblurProblem.image: expected uint8, uint16 or float pixels, got {a.dtype}"
        )
    if a.ndim == 3 and a.shape[2] in (1, 3):
        a = np.moveaxis(a, 2, 0)
    elif a.ndim == 2:
        a = a[None]
    else:
        raise InputError(
            f"DeblurProblem.image: expected (H, W), (H, W, 1) or (H, W, 3), got shape {a.shape}"
        )
    if min(a.shape[1:]) < 8:
        raise InputError(f"DeblurProblem.image: expected at least 8 x 8 pixels, got {a.shape[1:]}")
    return np.clip(a, 0.0, 1.0)


#: The largest blur sigma (px) a defocus map may hold, as a fraction of the image's shorter
#: side: the kernel's 3-sigma radius then spans at most half the image, and a wider blur
#: leaves nothing of the image to estimate or invert it from.
MAX_SIGMA_FRACTION = 1.0 / 6.0


def _defocus_map(value: Any) -> Array | None:
    if value is None:
        return None
    m = check_array(value, "DeblurProblem.defocus_map", ndim=2)
    if (m < 0).any():
        raise InputError(
            "DeblurProblem.defocus_map: expected non-negative blur sigmas (px), got "
            f"{float(m.min()):g}"
        )
    return m


def _noise(value: Any) -> float | None:
    return None if value is None else check_float(value, "DeblurProblem.noise", min=0.0)


@attrs.frozen(eq=False)
class DeblurProblem:
    """One image to deblur.

    ``image``: grey ``(H, W)`` or RGB ``(H, W, 3)``, uint8, uint16 or float in [0, 1] (see
    :func:`as_float_image`). ``defocus_map``: optionally, the blur sigma (px) of every pixel,
    ``(H, W)``, finite, ``0 <= sigma <= min(H, W) / 6`` (:data:`MAX_SIGMA_FRACTION`); the
    solver then skips its own estimate (E1)-(E4). ``noise``: optionally the noise standard
    deviation (a number >= 0 on the [0, 1] scale); estimated from the image if None. Bad
    fields raise :class:`~xuframe.errors.InputError` when the problem is made.
    """

    image: Array = attrs.field(converter=as_float_image)
    defocus_map: Array | None = attrs.field(default=None, converter=_defocus_map)
    noise: float | None = attrs.field(default=None, converter=_noise)

    def __attrs_post_init__(self) -> None:
        if self.defocus_map is None:
            return
        shape = self.image.shape[1:]
        if self.defocus_map.shape != shape:
            raise InputError(
                f"DeblurProblem.defocus_map: expected shape {shape} (the image's), "
                f"got {self.defocus_map.shape}"
            )
        top = float(self.defocus_map.max())
        limit = MAX_SIGMA_FRACTION * min(shape)
        if top > limit:
            raise InputError(
                f"DeblurProblem.defocus_map: expected sigmas <= {limit:g} px (1/6 of the "
                f"image's shorter side: the blur kernel's radius 3 sigma must fit in half the "
                f"image), got {top:g}"
            )

    @property
    def grey(self) -> Array:
        """The mean over channels, ``(H, W)``."""
        return np.asarray(self.image.mean(0))


@attrs.frozen(eq=False)
class DeblurResult:
    """What :class:`DefocusDeblur` found.

    ``image``: the sharp image, float64 in [0, 1], in the input's layout (``(H, W)`` or
    ``(H, W, 3)``). ``defocus_map``: the blur sigma per pixel used (estimated or given).
    ``regions``: ``(H, W)`` labels ``0 .. K-1`` by increasing blur. ``sigmas``: each region's
    initial Gaussian sigma. ``kernels``: each region's final kernel (a 1 x 1 identity for a
    region left sharp). ``residual``: the RMS of ``y - sum_l M_l (k_l * x)`` over the image.
    ``history``: per region, (D1) after every beta stage of every accepted image step.
    ``seconds``: wall time per step (``estimate``, ``segment``, ``deconvolve``, ``total``).
    """

    image: Array
    defocus_map: Array
    regions: Array
    sigmas: Array
    kernels: list[Array]
    residual: float
    history: list[list[float]]
    seconds: dict[str, float]

    @property
    def n_regions(self) -> int:
        return len(self.kernels)


#: The largest sigma the defocus estimate returns (``edge_defocus``'s ``max_sigma``).
_ESTIMATE_MAX_SIGMA = 8.0


def _frame(shape: tuple[int, int], width: int) -> Array:
    """1 inside, 0 on a frame of ``width`` px: a window's periodic wrap is not data."""
    f = np.zeros(shape)
    f[width:-width, width:-width] = 1.0
    return f


def _trust(mask: Array, radius: int) -> Array:
    """(D1)'s ``w``: 0 outside ``mask``, rising linearly to 1 at ``radius`` px inside it."""
    inside = ndimage.distance_transform_edt(mask)
    return np.asarray(np.clip(inside / max(radius, 1), 0.0, 1.0))


class DefocusDeblur(Solver[DeblurProblem, DeblurResult]):
    """Blind removal of spatially varying out-of-focus blur, region by region.

    The solver ``defocus``: steps (E1)-(E4), (S1)-(S4), (D1)-(D6) and (K0)-(K5) of the module
    docstring and ``docs/plugins/defocus.md``."""

    name: ClassVar[str] = "defocus"
    problem_type: ClassVar[type[Any]] = DeblurProblem
    result_type: ClassVar[type[Any]] = DeblurResult

    @attrs.frozen
    class Config:
        max_levels: int = config_field(
            4, doc="most blur levels (regions) to segment into", validator=positive
        )
        min_level_gap: float = config_field(
            0.6, doc="least sigma between two levels, px", validator=positive
        )
        segment_window: int = config_field(
            0,
            doc="majority-vote window of the segmentation, px (0: 1/8 of the shorter side)",
            validator=non_negative,
        )
        min_region: float = config_field(
            0.02, doc="smallest region, as a fraction of the image", validator=non_negative
        )
        sharp_sigma: float = config_field(
            0.5,
            doc="regions blurred less than this (px) are returned as they are",
            validator=non_negative,
        )
        lam: float = config_field(
            0.1, doc="TV weight, in units of the noise standard deviation", validator=positive
        )
        outlier_threshold: float = config_field(
            8.0,
            doc="residual (noise std) above which a trusted pixel becomes an outlier",
            validator=positive,
        )
        kernel_steps: int = config_field(
            3,
            doc="kernel re-estimations per region (0: the Gaussian of the map)",
            validator=non_negative,
        )
        kernel_rank: int = config_field(1, doc="rank of the estimated kernels", validator=positive)
        kernel_mu: float = config_field(
            0.3,
            doc="l0 weight of the kernel step's latent, in noise standard deviations",
            validator=positive,
        )
        kernel_ridge: float = config_field(
            0.001,
            doc="pull of the kernel step towards the map's Gaussian (0: none)",
            validator=non_negative,
        )
        kernel_window: int = config_field(
            256,
            doc="side of the window (px) each region's kernel is estimated on",
            validator=positive,
        )
        kernel_trust: float = config_field(
            0.15,
            doc="(K5) least half-width of the kernel step's trust region, as a fraction of the "
            "region's sigma (the edge estimate's accuracy); the region's edge quartiles widen it",
            validator=non_negative,
        )
        stages: int = config_field(
            8, doc="beta stages of each image step (beta doubles)", validator=positive
        )
        inner: int = config_field(2, doc="e/g/x rounds per beta stage", validator=positive)
        min_noise: float = config_field(
            0.002, doc="floor on the noise level the weights scale with", validator=positive
        )  # fmt: skip

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        if self.config.kernel_rank > 8:
            raise ConfigError(
                f"defocus: kernel_rank must be at most 8, got {self.config.kernel_rank}"
            )

    def _solve(self, problem: DeblurProblem) -> DeblurResult:
        cfg = self.config
        start = time.perf_counter()
        y = problem.image
        grey = problem.grey
        c, h, w = y.shape
        top = (
            _ESTIMATE_MAX_SIGMA if problem.defocus_map is None else float(problem.defocus_map.max())
        )
        pad = 2 * kernel_radius(top + 1.0)
        check_memory(
            16 * 8 * c * (h + 2 * pad) * (w + 2 * pad),
            f"defocus: deblurring a {h} x {w} image with blur up to sigma {top:g} px",
        )
        seconds: dict[str, float] = {}
        if problem.defocus_map is None:
            estimate = estimate_defocus(grey)
            dense, sparse, weight = estimate.dense, estimate.sparse, estimate.weight
        else:
            dense, sparse, weight = problem.defocus_map, problem.defocus_map, np.ones_like(grey)
        seconds["estimate"] = time.perf_counter() - start

        t = time.perf_counter()
        centres = defocus_levels(dense, max_levels=cfg.max_levels, min_gap=cfg.min_level_gap)
        window = cfg.segment_window or max(15, min(grey.shape) // 8)
        labels = segment_defocus(dense, centres, smooth=window, min_area=cfg.min_region)
        present = np.unique(labels)
        labels = np.searchsorted(present, labels)
        sigmas = []
        bounds = []  # (K5) the kernel step's trust region per region
        for j, level in enumerate(present):  # (S4) a region's sigma: weighted median at its edges
            mask = (labels == j) & (weight > 0)
            if mask.sum() >= 10:
                order = np.argsort(sparse[mask])
                cum = np.cumsum(weight[mask][order])
                q1, q2, q3 = (
                    float(sparse[mask][order][np.searchsorted(cum, q * cum[-1])])
                    for q in (0.25, 0.5, 0.75)
                )
            else:
                q1 = q2 = q3 = float(centres[level])
            sigmas.append(q2)
            accuracy = cfg.kernel_trust * q2
            bounds.append((min(q1, q2 - accuracy), max(q3, q2 + accuracy)))
        seconds["segment"] = time.perf_counter() - t

        t = time.perf_counter()
        if problem.noise is None:  # per channel: the grey mean has less noise than each
            noise = float(np.mean([noise_level(c) for c in y]))
        else:
            noise = problem.noise
        noise = max(noise, cfg.min_noise)
        lam = cfg.lam * noise
        tau_grey = 0.5 * (cfg.outlier_threshold * noise) ** 2
        tau = tau_grey * len(y)  # (D2) sums the squared residual over channels
        edges = ndimage.gaussian_gradient_magnitude(grey, 1.0)  # where kernels are estimated
        out = y.copy()
        model = y.copy()  # sum_l M_l (k_l * x), for the residual
        kernels: list[Array] = []
        history: list[list[float]] = []
        for j, sigma in enumerate(sigmas):
            mask = labels == j
            if sigma < cfg.sharp_sigma:
                kernels.append(np.ones((1, 1)))
                history.append([])
                continue
            radius = kernel_radius(sigma + 1.0)
            pad = 2 * radius
            yp = np.pad(y, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
            w = np.pad(_trust(mask, radius), pad)
            if cfg.kernel_steps:  # (K0)-(K5) on the region's window richest in edges
                rows, cols = richest_window((w >= 1.0) * np.pad(edges, pad), cfg.kernel_window)
                kernel, _ = blind_kernel(
                    yp[:, rows, cols].mean(0, keepdims=True),
                    w[rows, cols] * _frame(w[rows, cols].shape, radius),
                    sigma,
                    radius,
                    steps=cfg.kernel_steps,
                    mu=cfg.kernel_mu * noise,
                    tau=tau_grey,  # the kernel step sees the channels' mean
                    rank=cfg.kernel_rank,
                    ridge=cfg.kernel_ridge,
                    bounds=bounds[j],
                )
            else:
                kernel = gaussian_kernel(sigma, radius)
            betas = tuple(lam * 2.0 ** (k + 4) for k in range(cfg.stages))
            # the region's bounding box and a margin of 2 radii (w = 0 there) suffice
            rows_in, cols_in = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
            box = (
                slice(int(rows_in[0]), int(rows_in[-1]) + 1 + 2 * pad),
                slice(int(cols_in[0]), int(cols_in[-1]) + 1 + 2 * pad),
            )
            solution = deconvolve_region(
                yp[:, box[0], box[1]],
                kernel,
                w[box],
                lam=lam,
                tau=tau,
                betas=betas,
                inner=cfg.inner,
            )
            inside = mask[
                box[0].start : box[0].stop - 2 * pad, box[1].start : box[1].stop - 2 * pad
            ]
            target = (
                slice(None),
                box[0].start + np.nonzero(inside)[0],
                box[1].start + np.nonzero(inside)[1],
            )
            out[target] = solution.x[:, pad:-pad, pad:-pad][:, inside]
            model[target] = blur_periodic(solution.x, kernel)[:, pad:-pad, pad:-pad][:, inside]
            kernels.append(kernel)
            history.append(solution.history)
        seconds["deconvolve"] = time.perf_counter() - t
        out = np.clip(out, 0.0, 1.0)
        residual = float(np.sqrt(np.mean((y - model) ** 2)))
        seconds["total"] = time.perf_counter() - start
        image = out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, 2)
        return DeblurResult(
            image=image,
            defocus_map=dense,
            regions=labels,
            sigmas=np.array(sigmas),
            kernels=kernels,
            residual=residual,
            history=history,
            seconds=seconds,
        )

    @classmethod
    def example_problem(cls, seed: int = 0) -> DeblurProblem:
        """A 64 x 64 seeded piecewise-smooth grey image, its halves blurred by sigma 1 and 2,
        noise 0.01."""
        sharp = synthetic_scene((64, 64), seed=seed)
        rng = np.random.default_rng(seed)
        blurred = spatially_varying_blur(sharp, two_level_halves((64, 64)), [1.0, 2.0])
        return DeblurProblem(np.clip(blurred + 0.01 * rng.normal(size=blurred.shape), 0, 1))

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Deblur a seeded 192 x 192 synthetic scene whose halves are blurred by sigma 1.5 and
        3 (noise 0.01): PSNR of the input, of the non-blind result with the true map, and of
        the blind result."""
        sharp = synthetic_scene((192, 192), seed=seed)
        regions = two_level_halves(sharp.shape)
        blurred = spatially_varying_blur(sharp, regions, [1.5, 3.0])
        rng = np.random.default_rng(seed)
        y = np.clip(blurred + 0.01 * rng.normal(size=blurred.shape), 0.0, 1.0)
        start = time.perf_counter()
        result = cls().solve(DeblurProblem(y))
        seconds = time.perf_counter() - start
        oracle = cls({"kernel_steps": 0}).solve(
            DeblurProblem(y, defocus_map=np.array([1.5, 3.0])[regions])
        )

        inner = (slice(16, -16), slice(16, -16))  # the border's reflection is not data
        scores = {
            "input_psnr": psnr(y[inner], sharp[inner]),
            "psnr": psnr(result.image[inner], sharp[inner]),
            "true_map_psnr": psnr(oracle.image[inner], sharp[inner]),
            "regions": result.n_regions,
            "seconds": seconds,
        }
        levels = ", ".join(f"{s:.2f}" for s in result.sigmas)
        return DemoResult(
            scores,
            summary=(
                f"192 x 192 scene, halves blurred by sigma 1.5 / 3, noise 0.01: PSNR "
                f"{scores['input_psnr']:.2f} dB blurred -> {scores['psnr']:.2f} dB blind "
                f"({result.n_regions} regions, sigma {levels}; {seconds:.2f} s), "
                f"{scores['true_map_psnr']:.2f} dB with the true map; picture: blurred, "
                "blind result, sharp"
            ),
            headline="psnr",
            picture=image_grid(
                torch.from_numpy(np.stack([y, result.image, sharp])[:, None]).float(),
                3,
                value_range=(0.0, 1.0),
                scale=2,
            ),
        )
