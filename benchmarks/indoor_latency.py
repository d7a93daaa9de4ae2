"""Predict time of the point-based indoor detectors on one 20,000-point room, in one run:
``votenet`` (VoteNet as published: PointNet++ 4 SA + 2 FP, voting, 256 proposals, 3-D NMS)
and ``srdet`` (its default config: the same backbone, noise suppression, 3 refinement stages,
no NMS), untrained, batch 1, after warm-up; medians of ``--repeats`` interleaved calls, and
the backbone alone for scale. Issue 21's goal: VoteNet under 1 s on this CPU; SRDet's paper
claims it is faster than VoteNet (13.5 vs 10.8 FPS on a GPU): the ratio column checks it.

    python benchmarks/indoor_latency.py [--repeats 5] [--json out.json]

Run it with ``OMP_NUM_THREADS=1`` for single-core numbers.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import interleaved_medians  # benchmarks/_timing.py

import xuframe
from xuframe.data import IndoorScenes
from xuframe.nn import PointNet2Backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    torch.manual_seed(0)
    room = IndoorScenes(1, seed=0, n_points=20_000)[0]
    cloud = room.points
    models = {name: xuframe.create("detector", name).eval() for name in ("votenet", "srdet")}
    backbone = PointNet2Backbone(1).eval()
    xyz = cloud.xyz[None].float()
    height = (xyz[..., 2:] - xyz[..., 2].min()).transpose(1, 2)
    with torch.no_grad():
        seconds = interleaved_medians(
            {
                "votenet": lambda: models["votenet"].predict([cloud]),
                "srdet": lambda: models["srdet"].predict([cloud]),
                "backbone": lambda: backbone(xyz, height),
            },
            args.repeats,
        )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(cloud)} points")
    print(f"{'model':10} {'predict s':>10} {'/ votenet':>10}")
    for name, s in seconds.items():
        print(f"{name:10} {s:10.3f} {s / seconds['votenet']:10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"points": len(cloud), "threads": torch.get_num_threads(), **seconds}, f)


if __name__ == "__main__":
    main()
