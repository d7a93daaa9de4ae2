"""Blind removal of spatially varying defocus blur from one photo, with a before / defocus
map / after picture.

By default it takes a photo shipped with scikit-image, blurs it with a known spatially
varying Gaussian defocus (two halves, or three levels from a smooth depth) plus noise, deblurs
it blind with the ``defocus`` solver, prints PSNR and SSIM, and writes ``defocus.png``: the
blurred input, the estimated defocus map with the region borders, the result, and the sharp
original. With ``--image PATH`` it deblurs your own (really out-of-focus) photo instead; there
is no ground truth then, so no scores and no fourth panel.

    python examples/defocus/deblur_photo.py [--photo astronaut] [--layout depth] [--grey]
    python examples/defocus/deblur_photo.py --image my_photo.jpg --out my_photo_sharp.png
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

import xuframe
from xuframe.errors import MissingExtraError
from xuframe_plugins.defocus import (
    DeblurProblem,
    DefocusDeblur,
    spatially_varying_blur,
    three_level_depth,
    two_level_halves,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--photo", default="astronaut", choices=["camera", "astronaut", "coffee", "chelsea"]
    )
    parser.add_argument("--layout", default="depth", choices=["halves", "depth"])
    parser.add_argument("--sigmas", type=float, nargs="+", default=None, help="blur per level")
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--grey", action="store_true", help="use the photo in grey")
    parser.add_argument("--crop", type=int, default=0, help="use the central CROP x CROP pixels")
    parser.add_argument("--image", default=None, help="deblur this image file instead")
    parser.add_argument("--out", default="defocus.png")
    args = parser.parse_args()
    plt = xuframe.import_extra("matplotlib.pyplot", "examples")
    xuframe.import_extra("skimage", "examples")  # the bundled photos, SSIM

    sharp = None
    if args.image:
        y = np.asarray(Image.open(args.image).convert("RGB"), dtype=np.float64) / 255.0
        if args.grey:
            y = y.mean(2)
        title = args.image
    else:
        from skimage import color, data

        sharp = getattr(data, args.photo)().astype(np.float64) / 255.0
        if sharp.ndim == 3 and args.grey:
            sharp = color.rgb2gray(sharp)
        if args.crop:
            h, w = sharp.shape[:2]
            top, left = max(0, (h - args.crop) // 2), max(0, (w - args.crop) // 2)
            sharp = sharp[top : top + args.crop, left : left + args.crop]
        shape = sharp.shape[:2]
        if args.layout == "halves":
            regions, sigmas = two_level_halves(shape), args.sigmas or [1.5, 3.0]
        else:
            regions, sigmas = three_level_depth(shape), args.sigmas or [1.0, 2.0, 3.0]
        channels = np.moveaxis(sharp, 2, 0) if sharp.ndim == 3 else sharp
        blurred = spatially_varying_blur(channels, regions, sigmas)
        blurred = np.moveaxis(blurred, 0, 2) if sharp.ndim == 3 else blurred
        rng = np.random.default_rng(0)
        y = np.clip(blurred + args.noise * rng.normal(size=blurred.shape), 0.0, 1.0)
        title = f"{args.photo}, {args.layout}, sigma {sigmas}, noise {args.noise}"

    result = DefocusDeblur().solve(DeblurProblem(y))
    print(f"{title}: {y.shape[1]} x {y.shape[0]}")
    print(
        f"{result.n_regions} regions, sigma {np.round(result.sigmas, 2).tolist()}; "
        f"residual {result.residual:.4f}; "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items())
    )
    if sharp is not None:
        from skimage import metrics

        crop = (slice(16, -16), slice(16, -16))
        axis = 2 if sharp.ndim == 3 else None
        for name, image in (("blurred", y), ("deblurred", result.image)):
            psnr = metrics.peak_signal_noise_ratio(sharp[crop], image[crop], data_range=1.0)
            ssim = metrics.structural_similarity(
                sharp[crop], image[crop], data_range=1.0, channel_axis=axis
            )
            print(f"{name:10} PSNR {psnr:6.2f} dB  SSIM {ssim:.3f}")

    panels = [
        ("blurred input", y),
        ("estimated defocus (sigma, px)", None),
        ("deblurred", result.image),
    ]
    if sharp is not None:
        panels.append(("sharp original", sharp))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6))
    grey = {"cmap": "gray", "vmin": 0, "vmax": 1}
    for ax, (name, image) in zip(axes, panels, strict=True):
        if image is None:
            shown = ax.imshow(result.defocus_map, cmap="viridis", vmin=0)
            levels = np.arange(result.n_regions - 1) + 0.5  # the borders between regions
            if len(levels):
                ax.contour(result.regions, levels=levels, colors="white", linewidths=0.8)
            fig.colorbar(shown, ax=ax, fraction=0.046)
        else:
            ax.imshow(image, **(grey if image.ndim == 2 else {}))
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
