"""Train a small StyleGAN2 teacher on a real dataset shipped with scikit-learn (digits) or
scikit-image (LFW faces), distil it into a half-width student with StyleKD, and write image
grids of teacher vs students for the same latent codes.

The students start from the same synthesis weights; one inherits the teacher's mapping
network, one has its own. Printed: the teacher-student gap for the same z (pixel L1, PSNR,
Frechet distance of random-feature statistics) before and after distillation. Written:
``stylekd_grid.png``, rows teacher / student with inherited mapping / student with a random
mapping, before (left) and after (right) distillation, the same z in each column.

    python examples/stylekd/distill_digits.py [--data digits|faces] [--teacher-steps 1500] \
        [--steps 400] [--teacher-cache teacher.pt] [--out stylekd_grid.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

import xuframe
from xuframe.engine import load_checkpoint, save_checkpoint, save_pretrained
from xuframe.errors import MissingExtraError
from xuframe_plugins.stylekd import StyleGAN2, StyleKD, make_student
from xuframe_plugins.stylekd.training import digit_images, discrepancy, distill, train_gan


def faces(size: int) -> torch.Tensor:
    """scikit-image's 200 LFW faces (25 x 25 grey), resized, as RGB in [-1, 1]."""
    from skimage import data

    grey = torch.as_tensor(data.lfw_subset(), dtype=torch.float32)[:, None]
    grey = F.interpolate(grey, size=(size, size), mode="bilinear", align_corners=False)
    return (grey.clamp(0, 1) * 2 - 1).expand(-1, 3, -1, -1).contiguous()


def grid(images: torch.Tensor) -> torch.Tensor:
    """A row of images ``(N, 3, s, s)`` in [-1, 1] as one ``(s, N s, 3)`` array in [0, 1]."""
    x = (images.clamp(-1, 1) + 1) / 2
    return torch.cat(list(x), dim=2).permute(1, 2, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits", "faces"], default="digits")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--teacher-steps", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--show", type=int, default=8, help="latent codes per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teacher-cache", default=None, help="save the teacher here, or load it")
    parser.add_argument("--out", default="stylekd_grid.png")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the digits teacher as stylegan2 weights TAG (maintainers)",
    )
    args = parser.parse_args()
    if args.export_weights and args.data != "digits":
        parser.error("--export-weights ships the digits teacher: use --data digits")
    plt = xuframe.import_extra("matplotlib.pyplot")

    start = time.perf_counter()
    images = digit_images(args.size) if args.data == "digits" else faces(args.size)
    torch.manual_seed(args.seed)
    config = {"resolution": args.size, "latent_dim": 64, "n_mlp": 4, "width": 1 / 16}
    if args.teacher_cache and os.path.exists(args.teacher_cache):
        teacher = StyleGAN2(config)
        teacher.load_state_dict(load_checkpoint(args.teacher_cache)["model"])
        print(f"teacher: loaded from {args.teacher_cache}")
    else:
        teacher = train_gan(
            StyleGAN2(config),
            images,
            args.teacher_steps,
            batch_size=32,
            seed=args.seed,
            progress=True,
        )
        print(
            f"teacher: {len(images)} {args.data} images, {args.teacher_steps} steps, "
            f"{time.perf_counter() - start:.0f} s"
        )
    if args.export_weights:
        shipped = save_pretrained(
            teacher,
            args.export_weights,
            evaluate="xuframe_plugins.stylekd.pretrained:evaluate",
            command="python examples/stylekd/distill_digits.py " + " ".join(sys.argv[1:]),
            description=(
                f"{args.teacher_steps} steps (batch 32) on scikit-learn's 1,347 training "
                "digits; Frechet distance (random features) to the 450 held-out digits"
            ),
        )
        print(f"wrote {shipped.path}: fd {shipped.metrics['fd']:.3f}")
        if args.teacher_cache:
            save_checkpoint(args.teacher_cache, {"model": teacher.state_dict()})

    z = torch.randn(args.show, teacher.latent_dim, generator=torch.Generator().manual_seed(123))

    def render(model: StyleGAN2) -> torch.Tensor:
        with torch.no_grad():
            return torch.as_tensor(model.eval().synthesis(model.mapping(z)))

    rows = {"teacher": (render(teacher), render(teacher))}
    for inherit in (True, False):
        student = make_student(teacher, args.ratio, inherit_mapping=inherit, seed=args.seed + 1)
        name = "inherited mapping" if inherit else "random mapping"
        before_images = render(student)
        before = discrepancy(teacher, student, n=256)
        distill(
            StyleKD(teacher, student),
            images,
            args.steps,
            batch_size=16,
            seed=args.seed,
            progress=True,
        )
        after = discrepancy(teacher, student, n=256)
        rows[f"student, {name}"] = (before_images, render(student))
        print(
            f"student, {name:17}: L1 {before['l1']:.3f} -> {after['l1']:.3f}, PSNR "
            f"{before['psnr']:.2f} -> {after['psnr']:.2f} dB, FD {before['fd']:.3f} -> {after['fd']:.3f}"
        )

    fig, axes = plt.subplots(
        len(rows), 2, figsize=(2 * args.show * 0.9, 1.2 * len(rows) + 0.6), squeeze=False
    )
    for r, (name, pair) in enumerate(rows.items()):
        for c, (when, row) in enumerate(zip(("before", "after"), pair, strict=True)):
            ax = axes[r, c]
            ax.imshow(grid(row).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
            if r == 0:
                ax.set_title(
                    f"{when} distillation ({args.steps} steps)"
                    if when == "after"
                    else "before distillation"
                )
    fig.suptitle("StyleKD: the same z through teacher and students")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
