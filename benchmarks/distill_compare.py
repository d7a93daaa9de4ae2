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
import os
import statistics
import time

import torch

from xuframe.data import textures
from xuframe.engine import load_checkpoint, save_checkpoint, seed_everything
from xuframe_plugins.kd import ResNetCifar
from xuframe_plugins.kd.training import Classifier, accuracy, compare, fit

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
    parser.add_argument("--methods", nargs="+", default=["kd", "sskd", "unix"])
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="a distiller config value, e.g. sskd.similarity_weight=0 (repeatable)",
    )
    parser.add_argument(
        "--teacher-cache", default=None, help="save the trained teacher here, or load it if present"
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    kw = {"num_classes": args.classes, "n_train": args.n_train}
    train, test = textures("train", **kw), textures("test", **kw)
    depth, widen = TEACHERS[args.teacher]
    configs: dict[str, dict[str, float]] = {"sskd": {"head_steps": args.head_steps}}
    for item in args.config:
        key, _, value = item.partition("=")
        name, _, field = key.partition(".")
        configs.setdefault(name, {})[field] = float(value) if "." in value else int(value)
    start = time.perf_counter()
    seed_everything(0)  # the teacher's initialisation too
    teacher = ResNetCifar(depth, args.classes, 3, widen)
    origin = f"{args.teacher_steps} steps"
    if args.teacher_cache and os.path.exists(args.teacher_cache):
        teacher.load_state_dict(load_checkpoint(args.teacher_cache)["model"])
        origin = f"loaded from {args.teacher_cache}"
    else:
        fit(Classifier(teacher), train, args.teacher_steps, seed=0)
        if args.teacher_cache:
            save_checkpoint(args.teacher_cache, {"model": teacher.state_dict()})
    teacher.eval()
    print(
        f"textures: {args.classes} classes, {len(train)} train / {len(test)} test, 16 px; "
        f"teacher {args.teacher} {origin} ({time.perf_counter() - start:.0f} s): "
        f"{accuracy(teacher, test):.4f}; student ResNet-8, {args.student_steps} steps x 64"
    )
    runs: list[dict[str, float]] = []
    methods = ["student", *args.methods]
    if configs:
        print(f"configs: {configs}")
    for seed in args.seeds:
        r = compare(
            train,
            test,
            args.methods,
            make_teacher=lambda: ResNetCifar(depth, args.classes, 3, widen),
            make_student=lambda: ResNetCifar(8, args.classes, 3),
            teacher=teacher,
            teacher_steps=0,
            student_steps=args.student_steps,
            seed=seed,
            configs=configs,
        )
        runs.append(r)
        print(f"seed {seed}: " + ", ".join(f"{m} {r[m]:.4f}" for m in methods), flush=True)
    print()
    print(
        f"{'method':8} {'accuracy':>16}  {'per seed':28} {'teacher queries':>15} "
        f"{'computation':>11} {'seconds':>8}"
    )
    for m in methods:
        accs = [r[m] for r in runs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        queries = runs[0].get(f"{m}/teacher_queries", 0.0)
        print(
            f"{m:8} {statistics.mean(accs):>8.4f} ± {std:.4f}  "
            f"{' '.join(f'{a:.4f}' for a in accs):28} {int(queries):>15} "
            f"{runs[0][f'{m}/computation']:>10.1%} "
            f"{statistics.mean(r[f'{m}/seconds'] for r in runs):>8.1f}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "runs": runs}, handle, indent=1)
    heads = [r["sskd/head_accuracy"] for r in runs if "sskd/head_accuracy" in r]
    if heads:
        print(
            f"sskd stage 1: rotated views matched to their own image (of 64) in "
            f"{statistics.mean(heads):.1%} of rows, last 20 batches"
        )
    if "kd" not in args.methods:
        return
    kd = [r["kd"] for r in runs]
    for m in (m for m in args.methods if m != "kd"):
        diff = [r[m] - k for r, k in zip(runs, kd, strict=True)]
        print(
            f"{m} - kd: {100 * statistics.mean(diff):+.2f} points "
            f"(per seed {' '.join(f'{100 * d:+.2f}' for d in diff)})"
        )


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
