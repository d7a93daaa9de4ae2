"""Blind defocus deblurring on every photo bundled with scikit-image, against global-kernel
baselines and non-blind oracles.

The photos are those of ``skimage.data`` that ship with the package and are at least 256 px
on each side (grey and colour), each cut to its centre ``--size`` x ``--size`` window (256 by
default, so the full set runs in about half an hour on one core). Each photo is blurred with a
known spatially varying Gaussian defocus (equation (B1): each region takes the image blurred
by its own kernel) in seven layouts: two levels as left and right halves (sigma 1.5, 3), and
two, three and four levels (sigma evenly from 1 to 3) cut at equal-area thresholds from a
diagonal ramp and from seeded blobs (a smoothed random field). White noise of std 0.01
(seeded) is added, then the image is clipped to [0, 1]. Scored with ``skimage.metrics`` PSNR
and SSIM, a 16-px border excluded:

* ``input``: the blurred image;
* ``wiener`` and ``rl``: skimage's ``wiener`` (balance 0.01) and ``richardson_lucy`` (30
  iterations) with one Gaussian kernel of the image's mean sigma; ``best global`` is the
  better of the two, per case;
* ``oracle wiener`` and ``oracle rl``: the same per region, with the true kernels and the
  true regions (non-blind);
* ``ours (true map)``: ``defocus`` given the true defocus map, its Gaussians as kernels
  (``kernel_steps = 0``: non-blind);
* ``ours``: ``defocus`` blind, from the blurred image alone.

    python benchmarks/defocus_deblur.py [--quick] [--size N] [--config KEY=VALUE ...]
        [--cases NAME ...] [--psf gaussian|disc] [--json F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
from scipy import ndimage
from skimage import color, data, metrics, restoration

from xuframe_plugins.defocus import (
    DeblurProblem,
    DefocusDeblur,
    disc_kernel,
    gaussian_kernel,
    spatially_varying_blur,
    two_level_halves,
)

PHOTOS = {  # name: colour; skimage.data's bundled photos of at least 256 x 256 px
    "astronaut": True,
    "brick": False,
    "camera": False,
    "cell": False,
    "chelsea": True,
    "clock": False,
    "coffee": True,
    "coins": False,
    "grass": False,
    "gravel": False,
    "hubble_deep_field": True,
    "immunohistochemistry": True,
    "moon": False,
    "motorcycle": True,
    "retina": True,
    "rocket": True,
}
LAYOUTS = (
    ("halves", 2),
    ("ramp", 2),
    ("ramp", 3),
    ("ramp", 4),
    ("blobs", 2),
    ("blobs", 3),
    ("blobs", 4),
)
CASES = {f"{p}/{layout}{k}": (p, layout, k) for p in PHOTOS for layout, k in LAYOUTS}
QUICK = [
    f"{p}/{c}" for p in ("camera", "astronaut", "brick") for c in ("halves2", "ramp4", "blobs3")
]
METHODS = ("input", "wiener", "rl", "oracle wiener", "oracle rl", "ours (true map)", "ours")
BORDER = 16


def photo(name: str, size: int) -> np.ndarray:
    """The photo in [0, 1], its centre ``size`` x ``size`` window (grey ``(H, W)`` or RGB)."""
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    img = img.astype(np.float64) / 255.0
    if img.ndim == 3 and not PHOTOS[name]:
        img = color.rgb2gray(img)
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top : top + size, left : left + size]


def sigmas_of(levels: int) -> tuple[float, ...]:
    if levels == 2:
        return (1.5, 3.0)
    return tuple(round(float(s), 3) for s in np.linspace(1.0, 3.0, levels))


def layout_map(layout: str, levels: int, shape: tuple[int, int], seed: int) -> np.ndarray:
    """Region labels ``0 .. levels-1``: halves, or equal-area cuts of a depth (a diagonal
    ramp, or seeded blobs: Gaussian-smoothed white noise)."""
    if layout == "halves":
        return two_level_halves(shape)
    h, w = shape
    if layout == "ramp":
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        depth = 0.6 * yy + 0.4 * xx
    else:
        noise = np.random.default_rng(seed + 1).normal(size=shape)
        depth = ndimage.gaussian_filter(noise, min(h, w) / 10, mode="wrap")
    cuts = np.quantile(depth, np.arange(1, levels) / levels)
    return np.digitize(depth, cuts).astype(np.int64)


def per_channel(fn: Any, image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.clip(fn(image), 0, 1)
    return np.clip(np.stack([fn(image[..., c]) for c in range(image.shape[2])], 2), 0, 1)


def score(result: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    crop = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    a, b = result[crop], truth[crop]
    psnr = metrics.peak_signal_noise_ratio(b, a, data_range=1.0)
    ssim = metrics.structural_similarity(
        b, a, data_range=1.0, channel_axis=2 if a.ndim == 3 else None
    )
    return float(psnr), float(ssim)


def gaussian_fit(kernel: np.ndarray) -> float:
    """The sigma of the Gaussian closest (least squares) to ``kernel``."""
    r = kernel.shape[0] // 2
    grid = np.arange(0.0, 8.0, 0.01)
    return float(min(grid, key=lambda s: float(((gaussian_kernel(s, r) - kernel) ** 2).sum())))


def run_case(name: str, config: dict[str, Any], seed: int, psf: str, size: int) -> dict[str, Any]:
    source, layout, levels = CASES[name]
    colour = PHOTOS[source]
    sharp = photo(source, size)
    shape = sharp.shape[:2]
    sigmas = sigmas_of(levels)
    regions = layout_map(layout, levels, shape, seed)
    channels = np.moveaxis(sharp, 2, 0) if colour else sharp
    blurred = spatially_varying_blur(channels, regions, sigmas, psf=psf)
    blurred = np.moveaxis(blurred, 0, 2) if colour else blurred
    rng = np.random.default_rng(seed)
    y = np.clip(blurred + 0.01 * rng.normal(size=blurred.shape), 0.0, 1.0)
    true_map = np.asarray(sigmas)[regions]
    make = gaussian_kernel if psf == "gaussian" else disc_kernel
    mean_kernel = make(float(true_map.mean()))

    out: dict[str, Any] = {"shape": list(sharp.shape)}
    images = {
        "input": y,
        "wiener": per_channel(lambda c: restoration.wiener(c, mean_kernel, 0.01), y),
        "rl": per_channel(lambda c: restoration.richardson_lucy(c, mean_kernel, 30), y),
    }
    for method, fn in (
        ("oracle wiener", lambda c, k: restoration.wiener(c, k, 0.01)),
        ("oracle rl", lambda c, k: restoration.richardson_lucy(c, k, 30)),
    ):
        composed = np.zeros_like(y)
        for level, sigma in enumerate(sigmas):
            k = make(sigma)
            restored = per_channel(lambda c, k=k, fn=fn: fn(c, k), y)
            composed[regions == level] = restored[regions == level]
        images[method] = composed
    oracle = DefocusDeblur({**config, "kernel_steps": 0})  # the true map's Gaussians
    images["ours (true map)"] = oracle.solve(DeblurProblem(y, true_map)).image
    start = time.perf_counter()
    result = DefocusDeblur(config).solve(DeblurProblem(y))
    out["seconds"] = time.perf_counter() - start
    images["ours"] = result.image
    out["sigmas"] = [round(float(s), 2) for s in result.sigmas]
    out["kernel_sigmas"] = [round(gaussian_fit(k), 2) for k in result.kernels]
    for method in METHODS:
        out[method] = score(images[method], sharp)
    out["best global"] = max(out["wiener"], out["rl"])
    out["true"] = list(sigmas)
    return out


TABLE = ("input", "best global", "oracle wiener", "ours (true map)", "ours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=None, choices=list(CASES), metavar="NAME")
    parser.add_argument(
        "--quick", action="store_true", help=f"{len(QUICK)} cases instead of {len(CASES)}"
    )
    parser.add_argument("--size", type=int, default=256, help="centre window of each photo, px")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--psf", default="gaussian", choices=["gaussian", "disc"], help="the blur drawn"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    config: dict[str, Any] = {}
    for item in args.config:
        key, value = item.split("=", 1)
        config[key] = json.loads(value)
    names = args.cases or (QUICK if args.quick else list(CASES))

    rows = {}
    for name in names:
        rows[name] = r = run_case(name, config, args.seed, args.psf, args.size)
        print(
            f"{name}: input {r['input'][0]:.2f}, ours {r['ours'][0]:.2f} dB in "
            f"{r['seconds']:.2f} s (levels {r['sigmas']}, kernels {r['kernel_sigmas']}, "
            f"true {r['true']})",
            flush=True,
        )

    print("\nPSNR (dB), 16-px border excluded\n")
    print("| case | " + " | ".join(TABLE) + " |")
    print("|---" * (len(TABLE) + 1) + "|")
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[m][0]:.2f}" for m in TABLE) + " |")
    means = {m: statistics.mean(r[m][0] for r in rows.values()) for m in (*METHODS, "best global")}
    ssims = {m: statistics.mean(r[m][1] for r in rows.values()) for m in (*METHODS, "best global")}
    print("| **mean** | " + " | ".join(f"**{means[m]:.2f}**" for m in TABLE) + " |")
    print("| mean SSIM | " + " | ".join(f"{ssims[m]:.3f}" for m in TABLE) + " |")
    below = [n for n, r in rows.items() if r["ours"][0] < r["input"][0]]
    below_true = [n for n, r in rows.items() if r["ours (true map)"][0] < r["input"][0]]
    seconds = statistics.mean(r["seconds"] for r in rows.values())
    print(
        f"\n{len(rows)} cases; ours - best global baseline: "
        f"{means['ours'] - means['best global']:+.2f} dB; ours - oracle wiener: "
        f"{means['ours'] - means['oracle wiener']:+.2f} dB (goal > -0.5); ours (true map) - "
        f"oracle wiener: {means['ours (true map)'] - means['oracle wiener']:+.2f} dB; "
        f"blind below input: {len(below)} {below}; true map below input: {len(below_true)} "
        f"{below_true}; blind solve {seconds:.2f} s per case"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config, "rows": rows, "means": means}, f, indent=1)


if __name__ == "__main__":
    main()
