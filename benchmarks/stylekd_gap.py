"""The teacher-student gap for the same latent code: StyleKD's mapping inheritance and
latent-direction loss, on a StyleGAN2 teacher trained on scikit-learn's digits.

One teacher (16 px, trained once; ``--teacher-cache`` keeps it) is distilled into half-width
students, for each seed from the same synthesis initialisation, for the same steps:

* ``random mapping``: the student's mapping network drawn at random; GAN + image L1;
* ``inherited mapping``: the mapping copied from the teacher; GAN + image L1;
* ``inherited + direction``: also the latent-direction loss (weight 30);
* ``GAN only``, random or inherited mapping: no image L1 and no direction loss, so nothing
  but the mapping ties the student's images to the teacher's.

Reported for the same ``n`` seeded ``z`` and noise, at initialisation and after training:
pixel L1 (images in [-1, 1]), PSNR (dB) and the Frechet distance between fixed random-feature
statistics of the teacher's and the student's images. The paper's claim: the gap is much
smaller with mapping inheritance, and the direction loss narrows it further.

    python benchmarks/stylekd_gap.py [--seeds 0 1 2] [--steps 300] [--teacher-cache t.pt]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from xuframe.engine import load_checkpoint, save_checkpoint
from xuframe_plugins.stylekd import StyleGAN2, StyleKD, make_student
from xuframe_plugins.stylekd.training import digit_images, discrepancy, distill, train_gan

TEACHER = {"resolution": 16, "latent_dim": 64, "n_mlp": 4, "width": 1 / 16}
VARIANTS = {  # name: (inherit mapping, image L1 weight, direction weight)
    "random mapping": (False, 3.0, 0.0),
    "inherited mapping": (True, 3.0, 0.0),
    "inherited + direction": (True, 3.0, 30.0),
    "GAN only, random mapping": (False, 0.0, 0.0),
    "GAN only, inherited mapping": (True, 0.0, 0.0),
}
METRICS = ("l1", "psnr", "fd")


def teacher_model(args: argparse.Namespace, images: torch.Tensor) -> StyleGAN2:
    if args.teacher_cache and os.path.exists(args.teacher_cache):
        model = StyleGAN2(TEACHER)
        model.load_state_dict(load_checkpoint(args.teacher_cache)["model"])
        return model.eval()
    start = time.perf_counter()
    model = train_gan(StyleGAN2(TEACHER), images, args.teacher_steps, batch_size=32, progress=True)
    print(f"teacher: {args.teacher_steps} steps in {time.perf_counter() - start:.0f} s", flush=True)
    if args.teacher_cache:
        save_checkpoint(args.teacher_cache, {"model": model.state_dict()})
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--teacher-steps", type=int, default=1500)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--teacher-cache", default=None)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    images = digit_images(16)
    teacher = teacher_model(args, images)
    rows: dict[str, dict[str, list[float]]] = {}
    for seed in args.seeds:
        for name in args.variants:
            inherit, rgb, direction = VARIANTS[name]
            student = make_student(teacher, args.ratio, inherit_mapping=inherit, seed=seed)
            init = discrepancy(teacher, student, n=args.samples, seed=1000 + seed)
            dist = StyleKD(teacher, student, {"rgb_weight": rgb, "direction_weight": direction})
            start = time.perf_counter()
            distill(dist, images, args.steps, batch_size=16, seed=seed)
            seconds = time.perf_counter() - start
            after = discrepancy(teacher, student, n=args.samples, seed=1000 + seed)
            row = rows.setdefault(name, {})
            for m in METRICS:
                row.setdefault(f"init {m}", []).append(init[m])
                row.setdefault(m, []).append(after[m])
            row.setdefault("seconds", []).append(seconds)
            print(
                f"seed {seed} {name:22} L1 {init['l1']:.3f} -> {after['l1']:.3f}  "
                f"PSNR {init['psnr']:.2f} -> {after['psnr']:.2f}  FD {init['fd']:.3f} -> {after['fd']:.3f}  "
                f"({seconds:.0f} s)",
                flush=True,
            )

    def cell(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    print(
        f"\n{len(args.seeds)} seeds, student {args.ratio} x teacher channels, {args.steps} steps, "
        f"{args.samples} shared z\n"
    )
    print("| student | L1 at init | L1 | PSNR at init | PSNR | FD at init | FD | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        cells = [cell(row[k]) for k in ("init l1", "l1", "init psnr", "psnr", "init fd", "fd")]
        print(f"| {name} | " + " | ".join(cells) + f" | {statistics.mean(row['seconds']):.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
