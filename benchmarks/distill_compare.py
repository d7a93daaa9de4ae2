"""Student alone, KD, SSKD and UNIX under the same student budget on seeded synthetic textures.

One teacher is trained once (as the papers distil from a fixed, pretrained teacher); then for
each seed a ResNet-8 student starts from the same initialisation and trains for the same number
of SGD steps alone, with ``kd``, ``sskd`` (stage 1 included) and ``unix`` (k=48, b=32, w=10 of
B=64). Reported per method: held-out accuracy (mean, std over seeds, and each seed), teacher
queries and computation relative to vanilla KD for the same steps (UNIX's accounting: teacher
query Ft, student training pass 2 Fs, no-grad student pass Fs; FLOPs from
``torch.utils.flop_counter``), and wall seconds. The claims checked: SSKD >= KD, and UNIX within
about 0.5 point of KD at about 80% of its computation.

    python benchmarks/distill_compare.py [--seeds 0 1 2] [--teacher wrn20x2] \
        [--teacher-steps 2000] [--student-steps 800] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from xuframe.data import textures
from xuframe.engine import seed_everything
from xuframe_plugins.kd import ResNetCifar
from xuframe_plugins.kd.training import Classifier, accuracy, compare, fit

METHODS = ("student", "kd", "sskd", "unix")
TEACHERS = {  # name: (depth, widen)
    "resnet20": (20, 1),
    "resnet56": (56, 1),
    "wrn20x2": (20, 2),
    "wrn20x4": (20, 4),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--teacher", choices=sorted(TEACHERS), default="wrn20x2")
    parser.add_argument("--teacher-steps", type=int, default=2000)
    parser.add_argument("--student-steps", type=int, default=800)
    parser.add_argument("--head-steps", type=int, default=300)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    kw = {"num_classes": args.classes, "n_train": args.n_train}
    train, test = textures("train", **kw), textures("test", **kw)
    depth, widen = TEACHERS[args.teacher]
    seed_everything(0)
    start = time.perf_counter()
    teacher = fit(
        Classifier(ResNetCifar(depth, args.classes, 3, widen)), train, args.teacher_steps, seed=0
    ).net
    print(
        f"textures: {args.classes} classes, {len(train)} train / {len(test)} test, 16 px; "
        f"teacher {args.teacher} {args.teacher_steps} steps ({time.perf_counter() - start:.0f} s): "
        f"{accuracy(teacher, test):.4f}; student ResNet-8, {args.student_steps} steps x 64"
    )
    runs: list[dict[str, float]] = []
    for seed in args.seeds:
        r = compare(
            train,
            test,
            ["kd", "sskd", "unix"],
            make_teacher=lambda: ResNetCifar(depth, args.classes, 3, widen),
            make_student=lambda: ResNetCifar(8, args.classes, 3),
            teacher=teacher,
            teacher_steps=0,
            student_steps=args.student_steps,
            seed=seed,
            configs={"sskd": {"head_steps": args.head_steps}},
        )
        runs.append(r)
        print(f"seed {seed}: " + ", ".join(f"{m} {r[m]:.4f}" for m in METHODS), flush=True)
    print()
    print(
        f"{'method':8} {'accuracy':>16}  {'per seed':28} {'teacher queries':>15} "
        f"{'computation':>11} {'seconds':>8}"
    )
    for m in METHODS:
        accs = [r[m] for r in runs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        queries = runs[0].get(f"{m}/teacher_queries", 0.0)
        print(
            f"{m:8} {statistics.mean(accs):>8.4f} ± {std:.4f}  "
            f"{' '.join(f'{a:.4f}' for a in accs):28} {int(queries):>15} "
            f"{runs[0][f'{m}/computation']:>10.1%} "
            f"{statistics.mean(r[f'{m}/seconds'] for r in runs):>8.1f}"
        )
    kd = [r["kd"] for r in runs]
    for m in ("sskd", "unix"):
        diff = [r[m] - k for r, k in zip(runs, kd, strict=True)]
        print(
            f"{m} - kd: {100 * statistics.mean(diff):+.2f} points "
            f"(per seed {' '.join(f'{100 * d:+.2f}' for d in diff)})"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "runs": runs}, handle, indent=1)


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
