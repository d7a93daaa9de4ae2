"""Train VoteNet on synthetic rooms on a CPU and print indoor mAP@0.25 / mAP@0.5.

    python examples/votenet/train_rooms.py [--steps 600] [--small] [--out votenet_rooms.png]

Makes ``--train`` seeded synthetic rooms (``IndoorScenes`` seed 0) and ``--val`` held-out
rooms (seed 1000), trains ``votenet`` with the engine's Trainer (flip, turn about z, scale and
subsampling on every draw; AdamW, warm-up and cosine decay), prints the held-out mAP and
per-class AP, and draws the first held-out room from above: points, ground truth (green) and
detections. ``--small`` is the shipped weights' model (``DEMO_CONFIG``, 4,096 points);
without it, VoteNet as published (20,000 points: hours on a CPU). ``rooms.toml`` describes
the same run for ``xuframe train``.
"""

from __future__ import annotations

import argparse
import time

from xuframe_plugins.srdet.training import train_indoor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps")
    parser.add_argument("--train", type=int, default=200, help="training rooms")
    parser.add_argument("--val", type=int, default=40, help="held-out rooms")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--small", action="store_true", help="the demo's small model")
    parser.add_argument("--out", default="votenet_rooms.png", help="top-view picture")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the trained weights as TAG in the plugin's weights/ folder (maintainers)",
    )
    args = parser.parse_args()
    from xuframe_plugins.srdet.votenet import DEMO_CONFIG

    config = dict(DEMO_CONFIG) if args.small else {}
    start = time.perf_counter()
    model, metrics = train_indoor(
        "votenet",
        config,
        steps=args.steps,
        n_train=args.train,
        n_val=args.val,
        batch_size=args.batch_size,
        lr=args.lr,
        progress=True,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"votenet: trained {args.steps} steps in {minutes:.1f} min")
    print(f"held-out rooms ({args.val}): mAP@0.25 {metrics['mAP@0.25']:.3f}, "
          f"mAP@0.5 {metrics['mAP@0.5']:.3f}")  # fmt: skip
    for name in model.config.classes:
        if f"AP@0.25/{name}" not in metrics:  # a class absent from the held-out rooms has no AP
            print(f"  {name:12} absent from the held-out rooms")
            continue
        print(f"  {name:12} AP@0.25 {metrics[f'AP@0.25/{name}']:.3f}  "
              f"AP@0.5 {metrics[f'AP@0.5/{name}']:.3f}")  # fmt: skip

    from PIL import Image

    from xuframe_plugins.srdet.demo import held_out_view

    Image.fromarray(held_out_view(model)).save(args.out)
    print(f"wrote {args.out}")
    if args.export_weights:
        from xuframe_plugins.srdet.pretrained import ship

        shipped = ship(model, args.export_weights, steps=args.steps,
                       batch_size=args.batch_size, n_train=args.train, seed=0)  # fmt: skip
        print(f"wrote {shipped.path}: mAP@0.25 {shipped.metrics['mAP@0.25']:.3f}")


if __name__ == "__main__":
    main()
