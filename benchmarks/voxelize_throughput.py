"""Voxelization and pillarization throughput (points per second) on a 120k-point scan,
torch-scatter against torch's native ``scatter_reduce``, in the same run.

The scan is a seeded synthetic 64-beam sweep (360 degrees at 0.165 degrees: about 120k
points, like one KITTI velodyne frame). Grids: SECOND's voxels (0.05 x 0.05 x 0.1 m over
0-70.4 m, +-40 m, -3-1 m) and PointPillars' pillars (0.16 x 0.16 m), with the mean and the max
of the point features. Each cell is the median of ``--repeats`` runs of the whole call
(cell assignment, ``unique``, the reduction). Run it in an environment with torch-scatter
(``pip install --no-build-isolation torch-scatter``) for both columns.

    python benchmarks/voxelize_throughput.py [--repeats 15]
"""

from __future__ import annotations

import argparse

import torch
from _timing import median_seconds  # benchmarks/_timing.py

from xuframe.data import LidarScenes
from xuframe.ops import has_torch_scatter, pillarize, voxelize

RANGE = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)


def median_s(fn, repeats: int) -> float:
    return median_seconds(fn, repeats, warmup=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    scene = LidarScenes(1, seed=0, field_of_view=360.0, azimuth_step=0.165, max_range=80.0)[0]
    points = torch.cat([scene.points.xyz, scene.points.features], 1)
    backends = ["native"] + (["torch-scatter"] if has_torch_scatter() else [])
    print(f"{len(points)} points, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not has_torch_scatter():
        print("torch-scatter is not installed: native column only")
    print(
        f"{'grid':28} {'reduce':6} "
        + " ".join(f"{b + ' Mpts/s':>20}" for b in backends)
        + "   ratio"
    )
    cases = [
        (
            "voxels 0.05 x 0.05 x 0.1",
            lambda r, b: voxelize(points, (0.05, 0.05, 0.1), RANGE, r, backend=b),
        ),
        ("pillars 0.16 x 0.16", lambda r, b: pillarize(points, (0.16, 0.16), RANGE, r, backend=b)),
    ]
    for label, call in cases:
        for reduce in ("mean", "max"):
            rates = [
                len(points) / median_s(lambda b=b, c=call, r=reduce: c(r, b), args.repeats) / 1e6
                for b in backends
            ]
            ratio = f"{rates[1] / rates[0]:7.2f}" if len(rates) == 2 else "      -"
            print(f"{label:28} {reduce:6} " + " ".join(f"{v:20.1f}" for v in rates) + f"   {ratio}")


if __name__ == "__main__":
    main()
