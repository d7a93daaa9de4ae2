"""PointNet++'s point ops in xuframe, backend by backend, against the alternatives in one
run: furthest point sampling against the compiled `fpsample` wheel; ball query and k nearest
neighbours (xuframe's ``backend="torch"`` brute force and exact ``backend="kdtree"``) against
scipy's plain ``cKDTree``, at 20k and 50k points.

The cloud is seeded and uniform in an 8 x 8 x 3 m room (float32). FPS picks 1024 points;
ball query (radius 0.3 m, first 64 points) and kNN (k = 16) use those 1024 points as
centres; ``three_nn`` is the search of ``three_nn_interpolate``: k = 3 of the 1024 picked
points for every point of the cloud. Every cell is the median of ``--repeats`` calls of the
whole op, tree building included (a new cloud each time, as in a network), the plain
``cKDTree``'s output brought to the same form (ball query: the first ``k`` hits in index
order, padded with the first). ``=torch`` is the fraction of rows whose indices are those of
the exact torch brute force. ``peak MiB`` is the rise of the process's peak resident memory
during one call (Linux: ``/proc/self/clear_refs``).

    python benchmarks/point_ops.py [--repeats 3] [--json out.json]

Run it with ``OMP_NUM_THREADS=1`` for single-core numbers. ``pip install fpsample`` for the
FPS comparison (the row is skipped without it).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from _timing import median_seconds  # benchmarks/_timing.py
from scipy.spatial import cKDTree

from xuframe.ops import ball_query, furthest_point_sample, knn

M, RADIUS, K_BALL, K_NN, K_INTERP = 1024, 0.3, 64, 16, 3


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


def tree_knn(points: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    return np.asarray(cKDTree(points).query(centres, k=k)[1], dtype=np.int64).reshape(-1, k)


def fpsample_fps(module: Any, points: np.ndarray) -> np.ndarray:
    return np.asarray(module.fps_sampling(points, M, start_idx=0), dtype=np.int64)


def _peaks(row: dict[str, Any], keys: list[str]) -> list[str]:
    return ["n/a" if row[key] is None else f"{row[key]:.1f}" for key in keys]


Backend = Literal["torch", "kdtree"]


def compare(
    op: str,
    n: int,
    repeats: int,
    ours: Callable[[Backend], Any],
    theirs: Callable[[], np.ndarray],
    indices: Callable[[Any], torch.Tensor],
) -> dict[str, Any]:
    """One row: xuframe's two backends and the plain cKDTree, printed."""
    backends: tuple[Backend, ...] = ("torch", "kdtree")
    times = {b: median_seconds(functools.partial(ours, b), repeats) for b in backends}
    t_other = median_seconds(theirs, repeats)
    exact = indices(ours("torch")).numpy()
    row = {
        "op": op,
        "points": n,
        "torch_s": times["torch"],
        "kdtree_s": times["kdtree"],
        "ckdtree_s": t_other,
        "torch_over_kdtree": times["torch"] / times["kdtree"],
        "kdtree_over_ckdtree": times["kdtree"] / t_other,
        "kdtree_exact": float((indices(ours("kdtree")).numpy() == exact).all(1).mean()),
        "ckdtree_exact": float((theirs() == exact).all(1).mean()),
        "torch_peak_mib": peak_mib(lambda: ours("torch")),
        "kdtree_peak_mib": peak_mib(lambda: ours("kdtree")),
        "ckdtree_peak_mib": peak_mib(theirs),
    }
    peaks = _peaks(row, ["torch_peak_mib", "kdtree_peak_mib", "ckdtree_peak_mib"])
    print(
        f"{op:10} {n:7d} {times['torch']:8.3f} {times['kdtree']:8.4f} {t_other:9.4f} "
        f"{row['torch_over_kdtree']:8.1f} {row['kdtree_over_ckdtree']:7.2f} "
        f"{row['kdtree_exact']:8.3f} {row['ckdtree_exact']:9.3f} "
        f"{peaks[0]:>15} {peaks[1]:>7} {peaks[2]:>7}"
    )
    return row


def measure(n: int, repeats: int, fpsample: Any) -> list[dict[str, Any]]:
    """The rows of one cloud size, printed as they come."""
    rows: list[dict[str, Any]] = []
    generator = torch.Generator().manual_seed(0)
    xyz = torch.rand(1, n, 3, generator=generator) * torch.tensor([8.0, 8.0, 3.0])
    points = xyz[0].numpy()
    idx = furthest_point_sample(xyz, M, backend="torch")
    centres_t = xyz[:, idx[0]]
    centres = centres_t[0].numpy()
    if fpsample is not None:
        t_torch = median_seconds(lambda: furthest_point_sample(xyz, M, backend="torch"), repeats)
        t_other = median_seconds(lambda: fpsample_fps(fpsample, points), repeats)
        t_wheel = median_seconds(lambda: furthest_point_sample(xyz, M, backend="fpsample"), repeats)
        same = bool(torch.equal(furthest_point_sample(xyz, M, backend="fpsample"), idx))
        print(
            f"{'fps':10} {n:7d} torch {t_torch:.3f} s, backend fpsample {t_wheel:.3f} s "
            f"(same indices: {same}), the bare wheel {t_other:.3f} s"
        )
        rows.append(
            {
                "op": "fps",
                "points": n,
                "torch_s": t_torch,
                "fpsample_s": t_wheel,
                "wheel_s": t_other,
                "same": same,
            }
        )
    # op -> (backend -> call, the plain cKDTree call, indices of a result)
    cases: dict[
        str, tuple[Callable[[Backend], Any], Callable[[], np.ndarray], Callable[[Any], Any]]
    ]
    cases = {
        "ball_query": (
            lambda backend: ball_query(xyz, centres_t, RADIUS, K_BALL, backend=backend),
            lambda: tree_ball(points, centres),
            lambda out: out[0],
        ),
        "knn": (
            lambda backend: knn(centres_t, xyz, K_NN, backend=backend),
            lambda: tree_knn(points, centres, K_NN),
            lambda out: out[1][0],
        ),
        "three_nn": (
            lambda backend: knn(xyz, centres_t, K_INTERP, backend=backend),
            lambda: tree_knn(centres, points, K_INTERP),
            lambda out: out[1][0],
        ),
    }
    for op, (ours, theirs, indices) in cases.items():
        rows.append(compare(op, n, repeats, ours, theirs, indices))
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
        f"{'op':10} {'points':>7} {'torch s':>8} {'kdtree s':>8} {'cKDTree s':>9} "
        f"{'torch/kd':>8} {'kd/cKD':>7} {'kd=torch':>8} {'cKD=torch':>9} "
        f"{'peak MiB: torch':>15} {'kdtree':>7} {'cKDTree':>7}"
    )
    print(header)
    rows = [row for n in (20_000, 50_000) for row in measure(n, args.repeats, fpsample)]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
