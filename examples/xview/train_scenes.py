"""X-view vs its base detector on synthetic LiDAR scenes, same budget, on a CPU.

    python examples/xview/train_scenes.py [--bases pillars-baseline denfi pointrcnn]
        [--steps 900] [--seeds 0 1 2] [--views 2] [--small]
        [--picture docs/images/xview_grids.jpg]

For each seed and base detector, trains the base and X-view on it with 1, 2, ... extra views
(``--views``, the first N of ``VIEWS``: the ego perspective view, then views at (40, 0, 0),
(40, 20, 0), (40, -20, 0); half those distances with ``--small``) for ``--steps`` steps on the
same scenes (``train_lidar``: ground-truth sampling, global augmentation, AdamW), then prints
moderate BEV / 3-D AP (R40) per class on the held-out scenes, AP by distance (0-20, 20-40,
40+ m), the predict-time ratio over the base, and the mean and spread over the seeds. With
``--picture``, also writes the views' grids over a held-out scene (coarse cells, so that they
can be seen). ``scenes.toml`` describes one X-view run for ``xuframe train``.

``pointrcnn`` (and ``xview-pointrcnn``, the views gathered per point) always trains at its
demo size (``xuframe_plugins.pircnn.DEMO_CONFIG``: 30 x 30 m ahead of the sensor, 2,048 points)
on its demo scenes (``DEMO_SCENES``: objects within 30 m and 60 degrees) with the small views
(origins at (0, 0, 0), (20, 0, 0), (20, 10, 0), (20, -10, 0)), whether or not ``--small``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

import xuframe
from xuframe.data import LidarScenes
from xuframe_plugins.denfi.model import DEMO_CONFIG as BASE_SMALL
from xuframe_plugins.denfi.model import DEMO_SCENES
from xuframe_plugins.denfi.training import lidar_val_loader, train_lidar
from xuframe_plugins.pircnn import DEMO_CONFIG as POINT_SMALL
from xuframe_plugins.pircnn import DEMO_SCENES as POINT_SCENES
from xuframe_plugins.xview import DEMO_VIEWS, VIEWS, distance_evaluator
from xuframe_plugins.xview.demo import grid_picture

XVIEW = {
    "pillars-baseline": "xview-pillars",
    "denfi": "xview-denfi",
    "pointrcnn": "xview-pointrcnn",
}
#: Bases trained at one size whatever --small says: (config, scene arguments, views).
FIXED_SIZE: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    "pointrcnn": (dict(POINT_SMALL), dict(POINT_SCENES), DEMO_VIEWS),
}
TAGS = ("0-20m", "20-40m", "40-infm")


def _predict_seconds(model: Any, loader: Any) -> float:
    model.eval()
    batches = [b["inputs"] for b in loader]
    best = math.inf
    for _ in range(2):
        start = time.perf_counter()
        with torch.no_grad():
            for inputs in batches:
                model.predict(inputs)
        best = min(best, time.perf_counter() - start)
    return best


def _picture(path: str, views: tuple[str, ...], config: dict[str, Any], scene_args: Any) -> None:
    model = xuframe.create(
        "detector",
        "xview-pillars",
        **{**config, "views": list(views), "view_range_cell": 3.2, "view_azimuth_cell": 10.0},
    )
    scene = LidarScenes(1, seed=1000, **(scene_args or {}))[0]
    image = grid_picture(scene.points, model.xview.views, model.config.point_range, 6.0)
    Image.fromarray(np.asarray(image)).save(path, quality=85)
    print(f"wrote {path} (grids of 3.2 m x 10 degree cells, coarser than the models')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", nargs="+", default=["pillars-baseline"], choices=list(XVIEW))
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--views", type=int, nargs="+", default=[2], help="numbers of extra views to try (1-4)"
    )
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--val", type=int, default=60)
    parser.add_argument("--root", default="data/xview-scenes")
    parser.add_argument("--small", action="store_true", help="the demo's small model and scenes")
    parser.add_argument("--picture", help="write the views' grids over a scene here (jpg/png)")
    args = parser.parse_args()

    config: dict[str, Any] = dict(BASE_SMALL) if args.small else {}
    scene_args = DEMO_SCENES if args.small else None
    views = DEMO_VIEWS if args.small else VIEWS
    if args.picture:
        _picture(args.picture, views[:3], config, scene_args)

    runs: list[tuple[str, int]] = []
    for base in args.bases:
        runs.append((base, 0))
        runs += [(XVIEW[base], n) for n in args.views]
    results: dict[tuple[str, int], list[dict[str, float]]] = {r: [] for r in runs}
    for seed in args.seeds:
        base_seconds = {}
        for name, n in runs:
            base = name if n == 0 else next(b for b, x in XVIEW.items() if x == name)
            base_config, base_scenes, base_views = FIXED_SIZE.get(base, (config, scene_args, views))
            val = lidar_val_loader(args.root, args.val, 4, seed + 1000, base_scenes)
            cfg = dict(base_config)
            if n:
                cfg["views"] = list(base_views[:n])
            start = time.perf_counter()
            model, metrics = train_lidar(
                name, cfg, steps=args.steps, root=args.root, n_train=args.train,
                n_val=args.val, seed=seed, scene_args=base_scenes,
            )  # fmt: skip
            metrics.update(distance_evaluator(model, val))
            seconds = _predict_seconds(model, val)
            if n == 0:
                base_seconds[base] = seconds
            metrics["time_ratio"] = seconds / base_seconds[base]
            results[(name, n)].append(metrics)
            minutes = (time.perf_counter() - start) / 60
            print(f"seed {seed}: {name} ({n} views) trained and measured in {minutes:.1f} min")

    classes = ("Car", "Pedestrian", "Cyclist")
    keys = [f"{c}/{m}/moderate" for m in ("bev", "3d") for c in classes]
    keys += [f"{c}/bev/moderate@{t}" for c in classes for t in TAGS]
    keys += ["time_ratio"]
    print(f"\nheld-out moderate AP (R40), {args.val} scenes, {len(args.seeds)} seed(s): mean +- sd")

    def title(key: str) -> str:  # "Car/bev/moderate@40-infm" -> "Car/bev@40m+"
        return key.replace("/moderate", "").replace("-infm", "m+")

    header = f"{'detector':24}" + "".join(f"{title(k):>24}" for k in keys)
    print(header)
    for name, n in runs:
        row = f"{name + (f' ({n} views)' if n else ''):24}"
        for key in keys:
            values = [m[key] for m in results[(name, n)] if not math.isnan(m[key])]
            if not values:
                row += f"{'n/a':>24}"
                continue
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            row += f"{statistics.fmean(values):>17.3f} +-{spread:.3f}"
        print(row)


if __name__ == "__main__":
    main()
