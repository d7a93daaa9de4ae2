"""Check the distillers' claims on real digits from the shipped teacher, over several seeds.

From the shipped ResNet-20 digits teacher (8 px; ``xuframe_plugins.kd.pretrained``) and
SSKD's shipped teacher head, a ResNet-8 student trains for ``--steps`` SGD steps of 64
images, alone and with each distiller, from the same initialisation and batch order per seed
(what the ``kd``, ``sskd`` and ``unix`` demos run for seed 0). Prints held-out accuracy (450
digits) per seed, mean and standard deviation, the wins against the student alone and KD, and
each method's teacher forward passes and FLOPs relative to KD.

With ``--export-weights TAG`` (maintainers) it first trains the teacher (``--teacher-steps``)
and SSKD's stage-1 head (``--head-steps``) and ships both under TAG, in float16, with their
held-out metric and this command in the plugins' ``weights/manifest.json``.

    python examples/distill/digits_teacher.py [--steps 40] [--seeds 5] \
        [--export-weights digits --teacher-steps 1500 --head-steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import xuframe
from xuframe.data import digits
from xuframe.engine import seed_everything
from xuframe_plugins.kd import ResNetCifar
from xuframe_plugins.kd.pretrained import (
    TEACHER_NAME,
    TEACHER_SIZE,
    pretrained_teacher,
    save_network,
)
from xuframe_plugins.kd.training import DEMO_STEPS, Classifier, compare_from_pretrained, fit
from xuframe_plugins.sskd.pretrained import HEAD_NAME, pretrained_teacher_head

METHODS = ("student", "kd", "sskd", "unix")


def export(tag: str, teacher_steps: int, head_steps: int) -> None:
    """Train the digits teacher and SSKD's head on it, and ship both as ``tag``."""
    command = "python examples/distill/digits_teacher.py " + " ".join(sys.argv[1:])
    train = digits("train", size=TEACHER_SIZE)
    start = time.perf_counter()
    seed_everything(0)
    teacher = fit(Classifier(ResNetCifar(20, 10, 1)), train, teacher_steps, seed=0).net.eval()
    shipped = save_network(
        teacher,
        "xuframe_plugins.kd",
        TEACHER_NAME,
        tag,
        config={"depth": 20, "num_classes": 10, "in_channels": 1},
        build=ResNetCifar,
        evaluate="xuframe_plugins.kd.pretrained:evaluate",
        command=command,
        description=(
            f"ResNet-20, {teacher_steps} SGD steps of 64 on scikit-learn's 1,347 training "
            f"digits at {TEACHER_SIZE} px; accuracy on the 450 held-out digits"
        ),
    )
    print(f"wrote {shipped.path}: accuracy {shipped.metrics['accuracy']:.4f} "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    seed_everything(0)
    sskd = xuframe.create(
        "distiller", "sskd", pretrained_teacher(tag), ResNetCifar(8, 10, 1), head_steps=head_steps
    )
    sskd.prepare(train, seed=0)
    shipped = save_network(
        sskd.teacher_head,
        "xuframe_plugins.sskd",
        HEAD_NAME,
        tag,
        config={"dim": int(sskd.teacher_head.net[0].in_features)},
        build=type(sskd.teacher_head),
        evaluate="xuframe_plugins.sskd.pretrained:evaluate",
        command=command,
        description=(
            f"SSKD stage 1 on the {tag!r} teacher: {head_steps} steps of 64 digits (four "
            "rotated views each); held-out contrastive accuracy among batches of 64"
        ),
    )
    print(f"wrote {shipped.path}: contrastive accuracy "
          f"{shipped.metrics['contrastive_accuracy']:.4f} ({time.perf_counter() - start:.0f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEMO_STEPS, help="student SGD steps")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    parser.add_argument("--tag", default="digits", help="the shipped weights to start from")
    parser.add_argument(
        "--export-weights", metavar="TAG", help="train and ship the teacher and head first"
    )
    parser.add_argument("--teacher-steps", type=int, default=1500)
    parser.add_argument("--head-steps", type=int, default=1000)
    args = parser.parse_args()
    if args.export_weights:
        export(args.export_weights, args.teacher_steps, args.head_steps)
        args.tag = args.export_weights
    head = pretrained_teacher_head(args.tag).state_dict()

    def setup(name: str, distiller: torch.nn.Module) -> None:
        if name == "sskd":
            distiller.teacher_head.load_state_dict(head)  # type: ignore[union-attr]

    runs = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        r = compare_from_pretrained(
            ["kd", "sskd", "unix"],
            student_steps=args.steps,
            seed=seed,
            tag=args.tag,
            configs={"sskd": {"head_steps": 0}},
            setup=setup,
        )
        runs.append(r)
        print(f"seed {seed} ({time.perf_counter() - start:.0f} s): "
              + ", ".join(f"{m} {r[m]:.4f}" for m in METHODS), flush=True)  # fmt: skip
    first = runs[0]
    print(f"\nteacher ResNet-20 {first['teacher']:.4f}; ResNet-8 students, {args.steps} steps "
          f"of 64, seeds 0-{args.seeds - 1}, 450 held-out digits")  # fmt: skip
    print(f"{'method':8} {'mean':>7} {'std':>7}  {'per seed':35} {'> alone':>8} {'>= KD':>6} "
          f"{'teacher fwd':>11} {'FLOPs':>6}")  # fmt: skip
    for m in METHODS:
        accs = [r[m] for r in runs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        beats = sum(r[m] > r["student"] for r in runs)
        ties = sum(r[m] >= r["kd"] for r in runs)
        queries = first.get(f"{m}/teacher_queries", 0.0) / first["kd/teacher_queries"]
        flops = first[f"{m}/computation"]
        per_seed = " ".join(f"{a:.4f}" for a in accs)
        print(f"{m:8} {statistics.mean(accs):7.4f} {std:7.4f}  {per_seed:35} "
              f"{beats:>4}/{len(runs)} {ties:>3}/{len(runs)} {queries:>11.0%} {flops:>6.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
