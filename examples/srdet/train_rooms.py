"""Train SRDet and VoteNet on synthetic rooms for the same budget; print mAP@0.25 / mAP@0.5.

    python examples/srdet/train_rooms.py [--steps 600] [--seeds 0 1 2] [--ablations]
        [--export-weights TAG]

Both detectors are trained by the same loop (``train_indoor``: ``--train`` augmented rooms of
``IndoorScenes`` seed ``s``, AdamW with warm-up and cosine decay, gradient clipping) for
``--steps`` steps of ``--batch-size`` rooms, with the small models (SRDet's
``SRDET_DEMO_CONFIG`` widened to 4,096 points and VoteNet's ``DEMO_CONFIG``), and measured on
``--val`` held-out rooms (seed ``s + 1000``): indoor mAP at IoU 0.25 and 0.5 (VoteNet with its
3-D NMS, SRDet without). With several ``--seeds`` the table gives mean and spread (the runs go seed by seed, each
row printed as it ends). With
``--ablations``, SRDet's ablations (``ABLATIONS``: without suppression, gating, attention, and
with nearest-object targets + NMS) are trained too. Also writes a top view of the first
held-out room with SRDet's detections (``--out``). ``rooms.toml`` describes SRDet's run for
``xuframe train``. Budgets of minutes are far from the paper's (hours on GPUs): the numbers
compare the methods at a small budget, not at convergence. ``--export-weights TAG``
(maintainers) ships the first seed's full SRDet as the plugin's weights ``TAG``, measured on 40
held-out rooms like VoteNet's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from xuframe_plugins.srdet.training import train_indoor

#: SRDet's small model for this example: the demo's, on 4,096 points.
SMALL_SRDET: dict[str, Any] = {"num_points": 4096}


def _run(name: str, config: dict[str, Any], args: argparse.Namespace, seed: int) -> Any:
    start = time.perf_counter()
    model, metrics = train_indoor(
        name,
        config,
        steps=args.steps,
        n_train=args.train,
        n_val=args.val,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=seed,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"  {name} seed {seed}: mAP@0.25 {metrics['mAP@0.25']:.3f}, "
          f"mAP@0.5 {metrics['mAP@0.5']:.3f} ({minutes:.1f} min)")  # fmt: skip
    return model, metrics


def _summary(rows: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in rows]
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +- {spread:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps per model")
    parser.add_argument("--train", type=int, default=200, help="training rooms")
    parser.add_argument("--val", type=int, default=40, help="held-out rooms")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--ablations", action="store_true", help="also train SRDet's ablations")
    parser.add_argument(
        "--out", default="srdet_rooms.png", help="top-view picture (default: srdet_rooms.png)"
    )
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the first seed's full SRDet as TAG in the plugin's weights/ folder (maintainers)",
    )
    args = parser.parse_args()
    from xuframe_plugins.srdet import ABLATIONS, DEMO_CONFIG, SRDET_DEMO_CONFIG

    srdet = {**SRDET_DEMO_CONFIG, **SMALL_SRDET}
    runs: dict[str, tuple[str, dict[str, Any]]] = {"votenet": ("votenet", dict(DEMO_CONFIG))}
    if args.ablations:
        runs.update({f"srdet/{k}": ("srdet", {**srdet, **v}) for k, v in ABLATIONS.items()})
    else:
        runs["srdet"] = ("srdet", srdet)
    table: dict[str, list[dict[str, float]]] = {}
    # seed by seed, so that an interrupted run still compares every model on the same seeds
    for seed in args.seeds:
        for label, (name, config) in runs.items():
            print(label)
            model, metrics = _run(name, config, args, seed)
            table.setdefault(label, []).append(metrics)
            if seed == args.seeds[0] and label in ("srdet", "srdet/full"):
                _picture_and_weights(model, args)
    print(f"\n{args.steps} steps x {args.batch_size} rooms, {args.val} held-out rooms, "
          f"seeds {args.seeds}")  # fmt: skip
    print(f"{'model':24} {'mAP@0.25':>16} {'mAP@0.5':>16}")
    for label, rows in table.items():
        print(f"{label:24} {_summary(rows, 'mAP@0.25'):>16} {_summary(rows, 'mAP@0.5'):>16}")


def _picture_and_weights(model: Any, args: argparse.Namespace) -> None:
    """Draw the first held-out room with ``model``'s detections; ship it with
    ``--export-weights``."""
    from PIL import Image

    from xuframe_plugins.srdet.demo import held_out_view

    Image.fromarray(held_out_view(model, args.seeds[0])).save(args.out)
    print(f"wrote {args.out}")
    if args.export_weights:
        from xuframe_plugins.srdet.pretrained import ship

        shipped = ship(
            model,
            args.export_weights,
            steps=args.steps,
            batch_size=args.batch_size,
            n_train=args.train,
            seed=args.seeds[0],
        )
        print(f"wrote {shipped.path}: mAP@0.25 {shipped.metrics['mAP@0.25']:.3f}, "
              f"mAP@0.5 {shipped.metrics['mAP@0.5']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
