"""convexclust against cvxpy + Clarabel on the same problems, and how its time grows with n.

Data: ``make_blobs(n, 5 clusters, d, std 1, separation 10, seed 0)``, 10-NN Gaussian weights
(``knn_weights(points, 10)``, phi = 1 / mean squared edge length), lambda = 0.5. Ours stops at a
relative duality gap of 1e-8; Clarabel runs with its defaults through cvxpy (its own solve time
is reported; cvxpy's model building comes on top and is reported separately).

    python benchmarks/convexclust_speed.py                 # the Clarabel table, n <= 3000
    python benchmarks/convexclust_speed.py --scale         # also n up to 100,000 (2-D), 20,000 (10-D)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xuframe.data import make_blobs
from xuframe_plugins.convexclust import ConvexClustering, ConvexClusteringProblem, knn_weights

LAM = 0.5


def problem(n: int, d: int) -> ConvexClusteringProblem:
    points, _ = make_blobs(n, 5, d, std=1.0, separation=10.0, seed=0)
    return ConvexClusteringProblem(points, LAM, knn_weights(points, 10))


def clarabel(p: ConvexClusteringProblem) -> tuple[float, float, float]:
    """(objective, Clarabel's solve seconds, total seconds with cvxpy's compilation)."""
    import cvxpy as cp

    n, d = p.points.shape
    u = cp.Variable((n, d))
    i, j = p.weights.edges[:, 0], p.weights.edges[:, 1]
    penalty = cp.sum(cp.multiply(p.weights.weights[:, None], cp.abs(u[i] - u[j])))
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(u - p.points) + p.lam * penalty))
    start = time.perf_counter()
    prob.solve(solver="CLARABEL")
    total = time.perf_counter() - start
    return float(prob.value), float(prob.solver_stats.solve_time), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="also the large-n runs")
    parser.add_argument("--max-clarabel-n", type=int, default=3000)
    args = parser.parse_args()
    solver = ConvexClustering.from_config({"tol": 1e-8})

    print("against cvxpy + Clarabel (10-NN Gaussian weights, lambda 0.5), seconds")
    print(
        f"{'d':>3} {'n':>6} {'edges':>7} {'ours':>8} {'gap':>8} {'newton':>6} {'clusters':>8} "
        f"{'clarabel':>9} {'+cvxpy':>8} {'speed-up':>8} {'rel. obj. diff':>14}"
    )
    for d in (2, 10):
        for n in (100, 300, 1000, 3000):
            p = problem(n, d)
            solver.solve(p)  # warm-up (imports, caches)
            ours = solver.solve(p)
            line = (
                f"{d:>3} {n:>6} {p.weights.n_edges:>7} {ours.seconds:8.3f} {ours.residual:8.1e} "
                f"{ours.iterations:>6} {ours.n_clusters:>8}"
            )
            if n <= args.max_clarabel_n:
                value, solve_s, total_s = clarabel(p)
                diff = (ours.objective - value) / abs(value)
                line += (
                    f" {solve_s:9.3f} {total_s:8.3f} {solve_s / ours.seconds:7.1f}x {diff:14.1e}"
                )
            print(line, flush=True)

    if not args.scale:
        return
    print("\nscale (same data and weights), seconds; exponent = slope of log time against log n")
    print(f"{'d':>3} {'n':>7} {'edges':>8} {'seconds':>8} {'gap':>8} {'newton':>6} {'clusters':>8}")
    limited = ConvexClustering.from_config({"tol": 1e-8, "time_limit": 300.0})
    for d, sizes in ((2, (10_000, 30_000, 100_000)), (10, (5_000, 10_000, 20_000))):
        times = []
        for n in sizes:
            p = problem(n, d)
            result = limited.solve(p)
            times.append(result.seconds)
            print(
                f"{d:>3} {n:>7} {p.weights.n_edges:>8} {result.seconds:8.1f} {result.residual:8.1e} "
                f"{result.iterations:>6} {result.n_clusters:>8}",
                flush=True,
            )
        slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
        print(f"    d={d}: time grows as n^{slope:.2f}")


if __name__ == "__main__":
    main()
