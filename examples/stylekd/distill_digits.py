"""Train a small StyleGAN2 teacher on a real dataset shipped with scikit-learn (digits) or
scikit-image (LFW faces), or start from the shipped digits teacher, distil it into half-width
students with StyleKD, and write image grids of teacher vs students for the same latent codes.

For each seed the two students start from the same synthesis weights; one inherits the
teacher's mapping network, one has its own. Printed per seed: the teacher-student gap for the
same z (pixel L1, PSNR, Frechet distance of random-feature statistics) before and after
distillation, and (digits) each student's Frechet distance to the 450 held-out digits; with
several seeds, the mean and standard deviation. Written: ``stylekd_grid.png``, rows teacher /
student with inherited mapping / student with a random mapping (the first seed), before
(left) and after (right) distillation, the same z in each column.

    python examples/stylekd/distill_digits.py [--data digits|faces] [--teacher-steps 1500] \
        [--teacher-weights digits] [--steps 400] [--seeds 0 1 2] [--teacher-cache teacher.pt] \
        [--out stylekd_grid.png]

Maintainers: ``--export-weights digits`` ships the trained teacher as the ``stylegan2``
weights ``digits``; ``--teacher-weights digits --export-students digits-stylekd`` ships the
first seed's students as ``digits-stylekd`` (inherited mapping) and
``digits-stylekd-random-mapping``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import xuframe
from xuframe.engine import load_checkpoint, save_checkpoint, save_pretrained
from xuframe.errors import MissingExtraError
from xuframe_plugins.stylekd import StyleGAN2, StyleKD, make_student
from xuframe_plugins.stylekd.pretrained import GAP_SAMPLES, TEACHER_TAG, evaluate
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


STUDENTS = {True: "inherited mapping", False: "random mapping"}  # inherit_mapping: name
METRICS = ("l1", "psnr", "fd", "heldout_fd")


def summary(rows: dict[str, list[dict[str, float]]], steps: int) -> None:
    """Mean and standard deviation over seeds of each student's gap after ``steps`` steps."""
    print(f"\nafter {steps} steps, mean +- std over {len(next(iter(rows.values())))} seeds:")
    for name, runs in rows.items():
        cells = []
        for key in METRICS:
            values = [run[key] for run in runs if key in run]
            if values:
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                cells.append(f"{key} {statistics.mean(values):.3f} +- {sd:.3f}")
        print(f"  {name:17}: " + ", ".join(cells))
    inherited, random = rows[STUDENTS[True]], rows[STUDENTS[False]]
    closer = sum(a["l1"] < b["l1"] for a, b in zip(inherited, random, strict=True))
    print(f"  inherited mapping closer to the teacher (L1) in {closer} of {len(inherited)} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits", "faces"], default="digits")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--teacher-steps", type=int, default=1500)
    parser.add_argument(
        "--teacher-weights",
        metavar="TAG",
        help="start from the shipped stylegan2 weights TAG (e.g. digits) instead of training",
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--show", type=int, default=8, help="latent codes per row")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="one distillation per seed"
    )
    parser.add_argument("--teacher-cache", default=None, help="save the teacher here, or load it")
    parser.add_argument("--out", default="stylekd_grid.png")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the digits teacher as stylegan2 weights TAG (maintainers)",
    )
    parser.add_argument(
        "--export-students",
        metavar="TAG",
        help="ship the first seed's students as stylegan2 weights TAG (inherited mapping) and "
        "TAG-random-mapping (maintainers; needs --teacher-weights digits)",
    )
    args = parser.parse_args()
    if args.export_weights and (args.data != "digits" or args.teacher_weights):
        parser.error("--export-weights ships a digits teacher trained here: use --data digits")
    if args.export_students and args.teacher_weights != TEACHER_TAG:
        parser.error(
            f"--export-students ships students measured against the shipped teacher: use "
            f"--teacher-weights {TEACHER_TAG}"
        )
    if args.teacher_weights and (args.data != "digits" or args.size != 16):
        parser.error("--teacher-weights: the shipped teachers are 16-px digits")
    if min(args.seeds) < 0:
        parser.error("--seeds must be >= 0")
    plt = xuframe.import_extra("matplotlib.pyplot")

    start = time.perf_counter()
    images = digit_images(args.size) if args.data == "digits" else faces(args.size)
    seed = args.seeds[0]
    torch.manual_seed(seed)
    config = {"resolution": args.size, "latent_dim": 64, "n_mlp": 4, "width": 1 / 16}
    if args.teacher_weights:
        teacher = xuframe.create("generator", "stylegan2", weights=args.teacher_weights)
        print(f"teacher: the shipped stylegan2 weights {args.teacher_weights!r}")
    elif args.teacher_cache and os.path.exists(args.teacher_cache):
        teacher = StyleGAN2(config)
        teacher.load_state_dict(load_checkpoint(args.teacher_cache)["model"])
        print(f"teacher: loaded from {args.teacher_cache}")
    else:
        teacher = train_gan(
            StyleGAN2(config),
            images,
            args.teacher_steps,
            batch_size=32,
            seed=seed,
            progress=True,
        )
        print(
            f"teacher: {len(images)} {args.data} images, {args.teacher_steps} steps, "
            f"{time.perf_counter() - start:.0f} s"
        )
    command = "python examples/stylekd/distill_digits.py " + " ".join(sys.argv[1:])
    if args.export_weights:
        shipped = save_pretrained(
            teacher,
            args.export_weights,
            evaluate="xuframe_plugins.stylekd.pretrained:evaluate",
            command=command,
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
    results: dict[str, list[dict[str, float]]] = {name: [] for name in STUDENTS.values()}
    first: dict[bool, StyleGAN2] = {}
    for seed in args.seeds:
        for inherit, name in STUDENTS.items():
            student = make_student(teacher, args.ratio, inherit_mapping=inherit, seed=seed + 1)
            before_images = render(student)
            before = discrepancy(teacher, student, n=256)
            distill(
                StyleKD(teacher, student),
                images,
                args.steps,
                batch_size=16,
                seed=seed,
                progress=True,
            )
            student.update_w_avg()  # its mapping network was trained: the centre for truncation
            after = discrepancy(teacher, student, n=256)
            line = (
                f"seed {seed}, student, {name:17}: L1 {before['l1']:.3f} -> {after['l1']:.3f}, "
                f"PSNR {before['psnr']:.2f} -> {after['psnr']:.2f} dB, FD {before['fd']:.3f} -> "
                f"{after['fd']:.3f}"
            )
            if (
                args.data == "digits" and args.size == 16
            ):  # the held-out digits at the teacher's size
                after["heldout_fd"] = evaluate(student)["fd"]
                line += f"; FD to the held-out digits {after['heldout_fd']:.3f}"
            print(line, flush=True)
            results[name].append(after)
            if seed == args.seeds[0]:
                rows[f"student, {name}"] = (before_images, render(student))
                first[inherit] = student
    if len(args.seeds) > 1:
        summary(results, args.steps)
    if args.export_students:
        for inherit, student in first.items():
            tag = args.export_students + ("" if inherit else "-random-mapping")
            shipped = save_pretrained(
                student,
                tag,
                evaluate="xuframe_plugins.stylekd.pretrained:evaluate_student",
                command=command,
                description=(
                    f"half-width student, {'inherited' if inherit else 'random'} mapping, "
                    f"distilled with StyleKD (seed {args.seeds[0]}, {args.steps} steps of batch "
                    f"16) from the shipped {TEACHER_TAG!r} teacher; fd: Frechet distance "
                    "(random features) to the 450 held-out digits; gap_*: to the teacher for "
                    f"the same {GAP_SAMPLES} z"
                ),
            )
            shown = ", ".join(f"{k} {v:.3f}" for k, v in shipped.metrics.items())
            print(f"wrote {shipped.path} ({shipped.path.stat().st_size} bytes): {shown}")

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
