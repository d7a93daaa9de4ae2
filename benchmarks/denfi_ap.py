"""KITTI AP of ``pillars-baseline`` and ``denfi`` after the same training budget on synthetic
scenes in KITTI layout.

Both detectors get the same scenes (written once, in KITTI layout, under ``--root``), the same
augmentation (ground-truth sampling, global flip / rotation / scale), the same optimiser,
schedule, number of steps and seed; DENFI's extra head and DENFI conv are its only
difference. Moderate AP (R40) on held-out scenes, BEV and 3-D, at the benchmark's overlaps
(Car 0.7) and the devkit's loose one (Car 0.5), one row per detector and seed.

    python benchmarks/denfi_ap.py [--steps 1200] [--train 400] [--val 100] [--seeds 0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from xuframe_plugins.denfi.training import train_lidar

COLUMNS = (
    "Car/bev/moderate",
    "Car/3d/moderate",
    "Car/bev@0.5/moderate",
    "Pedestrian/bev/moderate",
    "Cyclist/bev/moderate",
    "mAP/bev",
    "mAP/3d",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--val", type=int, default=100)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--root", default="/tmp/xuframe-denfi-bench")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(
        f"{args.steps} steps x {args.batch} scenes, {args.train} training / {args.val} held-out "
        "scenes; KITTI moderate AP (R40)"
    )
    header = f"{'detector':18} {'seed':>4} " + " ".join(f"{c:>22}" for c in COLUMNS) + "  minutes"
    print(header)
    results: dict[str, list[dict[str, float]]] = {}
    for seed in args.seeds:
        for name in ("pillars-baseline", "denfi"):
            start = time.perf_counter()
            _, metrics = train_lidar(
                name,
                {},
                steps=args.steps,
                root=args.root,
                n_train=args.train,
                n_val=args.val,
                batch_size=args.batch,
                seed=seed,
            )
            minutes = (time.perf_counter() - start) / 60
            results.setdefault(name, []).append(metrics)
            row = " ".join(f"{metrics[c]:>22.3f}" for c in COLUMNS)
            print(f"{name:18} {seed:>4} {row}  {minutes:7.1f}", flush=True)
    if len(args.seeds) > 1:
        for name, rows in results.items():
            cells = " ".join(
                f"{statistics.mean(r[c] for r in rows):>14.3f} +- {statistics.stdev(r[c] for r in rows):.3f}"
                for c in COLUMNS
            )
            print(f"{name:18} mean {cells}")


if __name__ == "__main__":
    main()
