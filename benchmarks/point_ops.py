"""PointNet++'s point ops in xuframe against the alternatives, in one run: furthest point
sampling against the compiled `fpsample` wheel, ball query and k nearest neighbours against
scipy's ``cKDTree``, at 20k and 50k points.

The cloud is seeded and uniform in an 8 x 8 x 3 m room (float32). FPS picks 1024 points;
ball query (radius 0.3 m, first 64 points) and kNN (k = 16) use those 1024 points as
centres. Every cell is the median of ``--repeats`` calls of the whole op, the alternative's
tree building included (a new cloud each time, as in a network), and the alternative's output
brought to the same form (ball query: the first ``k`` hits in index order, padded with the
first). ``agree`` is the fraction of rows whose indices are identical. ``peak MiB`` is the
rise of the process's peak resident memory during one call (Linux: ``/proc/self/clear_refs``).

    python benchmarks/point_ops.py [--repeats 3] [--json out.json]

Run it with ``OMP_NUM_THREADS=1`` for single-core numbers. ``pip install fpsample`` for the
FPS comparison (the row is skipped without it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from _timing import median_seconds  # benchmarks/_timing.py
from scipy.spatial import cKDTree

from xuframe.ops import ball_query, furthest_point_sample, knn

M, RADIUS, K_BALL, K_NN = 1024, 0.3, 64, 16


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def peak_mib(fn: Callable[[], Any]) -> float | None:
    """The rise of the peak resident memory during one call of ``fn`` (MiB), or None."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak to the current resident size
    except OSError:
        return None
    before = _status_kib("VmRSS")
    fn()
    after = _status_kib("VmHWM")
    if before is None or after is None:
        return None
    return max(0, after - before) / 1024


def tree_ball(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    lists = cKDTree(points).query_ball_point(centres, RADIUS, return_sorted=True)
    out = np.zeros((len(centres), K_BALL), dtype=np.int64)
    for j, hits in enumerate(lists):
        if hits:
            row = hits[:K_BALL]
            out[j, : len(row)] = row
            out[j, len(row) :] = row[0]
    return out


def tree_knn(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.asarray(cKDTree(points).query(centres, k=K_NN)[1], dtype=np.int64)


def fpsample_fps(module: Any, points: np.ndarray) -> np.ndarray:
    return np.asarray(module.fps_sampling(points, M, start_idx=0), dtype=np.int64)


def measure(n: int, repeats: int, fpsample: Any) -> list[dict[str, Any]]:
    """The rows of one cloud size, printed as they come."""
    rows: list[dict[str, Any]] = []
    generator = torch.Generator().manual_seed(0)
    xyz = torch.rand(1, n, 3, generator=generator) * torch.tensor([8.0, 8.0, 3.0])
    points = xyz[0].numpy()
    idx = furthest_point_sample(xyz, M, backend="torch")
    centres_t = xyz[:, idx[0]]
    centres = centres_t[0].numpy()
    cases: list[tuple[str, str, Callable[[], Any], Callable[[], Any], Callable[[Any, Any], float]]]
    cases = []
    if fpsample is not None:
        cases.append(
            (
                "fps",
                "fpsample",
                lambda: furthest_point_sample(xyz, M, backend="torch"),
                lambda: fpsample_fps(fpsample, points),
                lambda a, b: float(np.array_equal(a[0].numpy(), b)),
            )
        )
    cases += [
        (
            "ball_query",
            "cKDTree",
            lambda: ball_query(xyz, centres_t, RADIUS, K_BALL),
            lambda: tree_ball(points, centres),
            lambda a, b: float((a[0].numpy() == b).all(1).mean()),
        ),
        (
            "knn",
            "cKDTree",
            lambda: knn(centres_t, xyz, K_NN),
            lambda: tree_knn(points, centres),
            lambda a, b: float((a[1][0].numpy() == b).all(1).mean()),
        ),
    ]
    for op, other, ours, theirs, agree in cases:
        t_ours = median_seconds(ours, repeats)
        t_other = median_seconds(theirs, repeats)
        row = {
            "op": op,
            "points": n,
            "xuframe_s": t_ours,
            "other": other,
            "other_s": t_other,
            "ratio": t_ours / t_other,
            "agree": agree(ours(), theirs()),
            "xuframe_peak_mib": peak_mib(ours),
            "other_peak_mib": peak_mib(theirs),
        }
        rows.append(row)
        peaks = [
            "n/a" if row[key] is None else f"{row[key]:.1f}"
            for key in ("xuframe_peak_mib", "other_peak_mib")
        ]
        print(
            f"{op:12} {n:7d} {t_ours:10.3f} {other:>9} {t_other:8.3f} "
            f"{row['ratio']:6.2f} {row['agree']:6.3f} {peaks[0]:>17} {peaks[1]:>15}"
        )
    if fpsample is not None:
        auto = furthest_point_sample(xyz, M, backend="fpsample")
        t_auto = median_seconds(lambda: furthest_point_sample(xyz, M, backend="fpsample"), repeats)
        print(
            f"{'fps backend=fpsample':20} {n:7d} {t_auto:10.3f} s "
            f"(same indices as torch: {bool(torch.equal(auto, idx))})"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    try:
        import fpsample
    except ImportError:
        fpsample = None
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"fpsample {'installed' if fpsample else 'not installed'}"
    )
    header = (
        f"{'op':12} {'points':>7} {'xuframe s':>10} {'other':>9} {'other s':>8} "
        f"{'ratio':>6} {'agree':>6} {'xuframe peak MiB':>17} {'other peak MiB':>15}"
    )
    print(header)
    rows = [row for n in (20_000, 50_000) for row in measure(n, args.repeats, fpsample)]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
