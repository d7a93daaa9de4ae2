"""Train a LiDAR detector on synthetic KITTI-layout scenes on a CPU, print KITTI AP, draw BEV.

    python examples/denfi/train_scenes.py [--name denfi] [--steps 900] [--out denfi_bev.png]

Writes ``--train`` + ``--val`` seeded synthetic scenes in KITTI layout under ``--root`` (once;
later runs reuse them), trains ``denfi`` (or ``pillars-baseline``) with the engine's Trainer
(ground-truth sampling and global augmentations; AdamW, warm-up and cosine decay), prints the
held-out KITTI AP table (R40, Easy / Moderate / Hard, BEV and 3-D) and draws the first held-out
scene from above: points, ground truth (green) and detections (red). ``scenes.toml`` describes
the same run for ``xuframe train``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import xuframe
from xuframe.data import KittiDataset
from xuframe.engine import save_pretrained
from xuframe.errors import MissingExtraError
from xuframe_plugins.denfi.training import bev_figure, synthetic_kitti, train_lidar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="denfi", choices=["denfi", "pillars-baseline"])
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--val", type=int, default=60)
    parser.add_argument("--root", default="data/denfi-scenes")
    parser.add_argument("--out", default="denfi_bev.png")
    parser.add_argument("--small", action="store_true", help="the demo's small model and scenes")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the trained weights as TAG in the plugin's weights/ folder (maintainers)",
    )
    args = parser.parse_args()
    xuframe.import_extra("matplotlib.pyplot")  # the BEV picture; fail before training

    config: dict[str, object] = {}
    scene_args = None
    if args.small:
        from xuframe_plugins.denfi.model import DEMO_CONFIG, DEMO_SCENES

        config, scene_args = dict(DEMO_CONFIG), DEMO_SCENES
    start = time.perf_counter()
    model, metrics = train_lidar(
        args.name,
        config,
        steps=args.steps,
        root=args.root,
        n_train=args.train,
        n_val=args.val,
        seed=0,
        progress=True,
        scene_args=scene_args,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"{args.name}: trained {args.steps} steps in {minutes:.1f} min")
    print(f"held-out KITTI AP (R40), {args.val} scenes")
    print(f"{'class':12} {'metric':6} {'easy':>7} {'moderate':>9} {'hard':>7}")
    for cls in model.config.classes:
        for metric in ("bev", "3d"):
            e, m, h = (metrics[f"{cls}/{metric}/{d}"] for d in ("easy", "moderate", "hard"))
            print(f"{cls:12} {metric:6} {e:7.3f} {m:9.3f} {h:7.3f}")
    print(f"Car moderate at the loose overlap 0.5: BEV {metrics['Car/bev@0.5/moderate']:.3f}, "
          f"3-D {metrics['Car/3d@0.5/moderate']:.3f}")  # fmt: skip

    folder = synthetic_kitti(f"{args.root}/val-1000-{args.val}", args.val, 1000, scene_args)
    sample = KittiDataset(folder)[0]
    model.eval()
    with torch.no_grad():
        dets = model.predict([sample["points"]])[0]
    dets = dets[dets.scores >= 0.3]
    bev_figure(
        sample["points"],
        sample["boxes"],
        dets,
        args.out,
        point_range=model.config.point_range,
        classes=model.config.classes,
        title=f"{args.name}, held-out scene 0: ground truth (green), detections >= 0.3 (red)",
    )
    print(f"wrote {args.out}")
    if args.export_weights:
        shipped = save_pretrained(
            model,
            args.export_weights,
            evaluate="xuframe_plugins.denfi.pretrained:evaluate",
            command="python examples/denfi/train_scenes.py " + " ".join(sys.argv[1:]),
            description=(
                f"{args.steps} steps on {args.train} synthetic scenes (LidarScenes seed 0); "
                "metrics on 32 held-out scenes (seed 1000)"
            ),
        )
        print(f"wrote {shipped.path}: Car BEV {shipped.metrics['Car/bev/moderate']:.3f}")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
