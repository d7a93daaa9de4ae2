"""Distil a wide teacher into a ResNet-8 on synthetic textures: student alone, KD, SSKD and UNIX
at several k, and a plot of accuracy against computation relative to vanilla KD.

Trains a WRN-20-2 teacher, then ResNet-8 students for the same number of steps from the same
initialisation: alone, with ``kd``, with ``sskd`` (its stage 1 included) and with ``unix`` for
each ``--keep`` value (the teacher sees k of every 64 images). Prints a table and writes
``distill_compare.png``: held-out accuracy against the FLOPs each method spent, relative to KD
(UNIX's accounting: teacher query Ft, student training pass 2 Fs, no-grad student pass Fs).
One seed, a few CPU minutes; ``benchmarks/distill_compare.py`` runs several seeds.

    python examples/distill/compare.py [--teacher-steps 1200] [--student-steps 500] \
        [--keep 32 48 64] [--out distill_compare.png]
"""

from __future__ import annotations

import argparse
import time

import xuframe
from xuframe.data import textures
from xuframe.engine import seed_everything
from xuframe.errors import MissingExtraError
from xuframe_plugins.kd import ResNetCifar, count_flops
from xuframe_plugins.kd.training import Classifier, accuracy, compare, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-steps", type=int, default=1200)
    parser.add_argument("--student-steps", type=int, default=500)
    parser.add_argument("--head-steps", type=int, default=200)
    parser.add_argument("--keep", type=int, nargs="+", default=[32, 48, 64])
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="distill_compare.png")
    args = parser.parse_args()
    plt = xuframe.import_extra("matplotlib.pyplot")
    ticker = xuframe.import_extra("matplotlib.ticker")

    train, test = textures("train", n_train=args.n_train), textures("test")
    make_teacher = lambda: ResNetCifar(20, train.num_classes, 3, widen=2)  # noqa: E731
    make_student = lambda: ResNetCifar(8, train.num_classes, 3)  # noqa: E731
    start = time.perf_counter()

    def log(line: str) -> None:
        print(f"  [{time.perf_counter() - start:5.0f} s] {line}", flush=True)

    seed_everything(args.seed)
    teacher = fit(Classifier(make_teacher()), train, args.teacher_steps, seed=args.seed).net
    log(f"teacher WRN-20-2, {args.teacher_steps} steps: {accuracy(teacher, test):.4f}")
    r = compare(
        train,
        test,
        ["kd", "sskd"],
        make_teacher=make_teacher,
        make_student=make_student,
        teacher=teacher,
        teacher_steps=0,
        student_steps=args.student_steps,
        seed=args.seed,
        configs={"sskd": {"head_steps": args.head_steps}},
        log=log,
    )
    rows = [
        ("student alone", r["student"], r["student/computation"]),
        ("KD", r["kd"], r["kd/computation"]),
        ("SSKD", r["sskd"], r["sskd/computation"]),
    ]
    # UNIX at each k, from the student initialisation compare() used (drawn after seed + 1)
    probe = test.images[:1]
    ft, fs = count_flops(teacher, probe), count_flops(make_student(), probe)
    for k in args.keep:
        seed_everything(args.seed + 1)
        student = make_student()
        dist = xuframe.create("distiller", "unix", teacher, student, keep=k, boundary=min(32, k))
        fit(dist, train, args.student_steps, seed=args.seed)
        fraction = dist.computation(ft, fs) / (args.student_steps * 64 * (ft + 2 * fs))
        rows.append((f"UNIX k={k}", accuracy(student, test), fraction))
        log(f"unix k={k}: {rows[-1][1]:.4f}")

    print(f"\nteacher WRN-20-2: {r['teacher']:.4f}")
    if "sskd/head_accuracy" in r:
        print(f"SSKD stage 1 contrastive accuracy (last 20 batches): {r['sskd/head_accuracy']:.1%}")
    print(f"{'method':14} {'accuracy':>9} {'computation vs KD':>18}")
    for name, acc, comp in rows:
        print(f"{name:14} {acc:>9.4f} {comp:>17.0%}")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, acc, comp in rows:
        marker = "o" if name.startswith("UNIX") else "s"
        ax.scatter(comp, acc, marker=marker, s=50)
        ax.annotate(name, (comp, acc), textcoords="offset points", xytext=(6, 4), fontsize=8)
    unix = sorted((c, a) for n, a, c in rows if n.startswith("UNIX"))
    ax.plot([c for c, _ in unix], [a for _, a in unix], lw=1, color="grey")
    ax.axhline(r["teacher"], ls="--", lw=1, color="black", label="teacher")
    ax.set_xscale("log")
    ticks = [
        t
        for t in (0.1, 0.25, 0.5, 1, 2, 4, 8)
        if 0.5 * min(c for *_, c in rows) <= t <= 2 * max(c for *_, c in rows)
    ]
    ax.set_xticks(ticks, [f"{t:.0%}" for t in ticks])
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("computation relative to vanilla KD (FLOPs, log scale)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"ResNet-8 students, {args.student_steps} steps, synthetic textures")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
