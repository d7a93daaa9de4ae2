"""PI-RCNN against PointRCNN on synthetic scenes with camera images, same budget, on a CPU.

    python examples/pircnn/train_scenes.py [--models pointrcnn pircnn] [--ablations early ...]
        [--seeds 0 1 2] [--steps 1500] [--log runs/pircnn-claims.jsonl]
        [--export-weights synthetic]

For each seed, trains every model on the same synthetic scenes (``train_lidar``: ground-truth
sampling, global flip / rotation / scaling, AdamW, cosine schedule) with the demo-size configs
(``DEMO_CONFIG`` for ``pointrcnn``, ``PIRCNN_DEMO_CONFIG`` for ``pircnn``, whose segmenter is
trained jointly) on scenes 30 m x 60 degrees in front of the sensor, then scores moderate
3-D and BEV AP (R40) per class on held-out scenes. ``--ablations`` adds PI-RCNN with each
named change of ``ABLATIONS`` (PACF's parts, concat fusion, early fusion). Each run appends
one JSON line to ``--log``; the table printed at the end covers every run in the log, so
seeds run as separate processes (one per core) add up to one table. ``--export-weights TAG``
ships the models trained with the first seed as the plugin's weights ``TAG`` (what ``xuframe
demo detector/pircnn`` loads).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

from xuframe_plugins.denfi.training import train_lidar
from xuframe_plugins.pircnn import ABLATIONS, DEMO_CONFIG, DEMO_SCENES, PIRCNN_DEMO_CONFIG
from xuframe_plugins.pircnn.pretrained import ship

CLASSES = ("Car", "Pedestrian", "Cyclist")
KEYS = [f"{c}/3d/moderate" for c in CLASSES] + [f"{c}/bev/moderate" for c in CLASSES]
KEYS += ["mAP/3d", "mAP/bev"]


def _runs(models: list[str], ablations: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, registered name, config) of every model to train."""
    runs = []
    for name in models:
        config = DEMO_CONFIG if name == "pointrcnn" else PIRCNN_DEMO_CONFIG
        runs.append((name, name, dict(config)))
    for ablation in ablations:
        runs.append(
            (f"pircnn ({ablation})", "pircnn", {**PIRCNN_DEMO_CONFIG, **ABLATIONS[ablation]})
        )
    return runs


def _table(log: Path) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    for line in log.read_text().splitlines():
        run = json.loads(line)
        rows.setdefault(f"{run['label']} [{run['steps']} steps]", []).append(run)
    print(f"\nheld-out moderate AP (R40) from {log}: mean +- sd over seeds (n)")
    print(f"{'model':34}" + "".join(f"{k.replace('/moderate', ''):>19}" for k in KEYS))
    for label, runs in rows.items():
        cells = []
        for key in KEYS:
            values = [r["metrics"][key] for r in runs if not math.isnan(r["metrics"][key])]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.fmean(values):>12.3f} +-{spread:.3f}" if values else "n/a")
        seeds = sorted(r["seed"] for r in runs)
        print(f"{label + f' (seeds {seeds})':34}" + "".join(f"{c:>19}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["pointrcnn", "pircnn"],
                        choices=["pointrcnn", "pircnn"])  # fmt: skip
    parser.add_argument("--ablations", nargs="*", default=[], choices=list(ABLATIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--train", type=int, default=300, help="training scenes")
    parser.add_argument("--val", type=int, default=60, help="held-out scenes")
    parser.add_argument("--root", default="data/pircnn-scenes", help="where scenes are written")
    parser.add_argument("--log", default="runs/pircnn-claims.jsonl")
    parser.add_argument("--export-weights", metavar="TAG", help="ship the first seed's models")
    args = parser.parse_args()

    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for label, name, config in _runs(args.models, args.ablations):
            start = time.perf_counter()
            model, metrics = train_lidar(
                name, config, steps=args.steps, root=f"{args.root}/seed{seed}",
                n_train=args.train, n_val=args.val, seed=seed, scene_args=DEMO_SCENES,
            )  # fmt: skip
            minutes = (time.perf_counter() - start) / 60
            run = {"label": label, "seed": seed, "steps": args.steps, "metrics": metrics}
            with log.open("a") as out:
                out.write(json.dumps(run) + "\n")
            shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in [*KEYS[:3], "mAP/3d"])
            print(f"seed {seed}: {label} in {minutes:.1f} min: {shown}", flush=True)
            if args.export_weights and seed == args.seeds[0] and label in ("pointrcnn", "pircnn"):
                entry = ship(model, args.export_weights, steps=args.steps, n_train=args.train,
                             seed=seed)  # fmt: skip
                print(f"shipped {entry.path}: {entry.metrics['mAP/3d']:.3f} mAP/3d")
    _table(log)


if __name__ == "__main__":
    main()
