"""DENFI's predict time over the pillars baseline's, on the same scenes, in the same run.

Both detectors run ``predict`` (pillarization, pillar encoder, backbone, heads, decoding,
rotated NMS) on one synthetic KITTI-like scan (90-degree field of view, 0.2-degree azimuth
step: about 25k points; and a 120k-point 360-degree sweep), batch 1, after warm-up; medians of
``--repeats`` interleaved runs. The paper calls DENFI lightweight; the goal here is <= 1.3x.

    python benchmarks/denfi_latency.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import xuframe
from xuframe.data import LidarScenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    models = {n: xuframe.create("detector", n).eval() for n in ("pillars-baseline", "denfi")}
    scans = {
        "KITTI-like front scan": LidarScenes(1, seed=0)[0].points,
        "360-degree sweep": LidarScenes(1, seed=0, field_of_view=360.0, azimuth_step=0.165)[
            0
        ].points,
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1")
    print(f"{'scan':24} {'points':>7} {'baseline ms':>12} {'denfi ms':>9} {'ratio':>6}")
    with torch.no_grad():
        for label, cloud in scans.items():
            times: dict[str, list[float]] = {n: [] for n in models}
            for m in models.values():
                for _ in range(3):
                    m.predict([cloud])
            for _ in range(args.repeats):
                for n, m in models.items():
                    start = time.perf_counter()
                    m.predict([cloud])
                    times[n].append(time.perf_counter() - start)
            base, denfi = (1000 * statistics.median(times[n]) for n in models)
            print(f"{label:24} {len(cloud):7d} {base:12.1f} {denfi:9.1f} {denfi / base:6.2f}")


if __name__ == "__main__":
    main()
