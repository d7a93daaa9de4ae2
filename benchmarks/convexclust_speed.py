"""convexclust against cvxpy + Clarabel on the same problems, how its time grows with n, and
the warm-started lambda path against cold solves.

Data: ``make_blobs(n, 5 clusters, d, std 1, separation 10, seed 0)``, 10-NN Gaussian weights
(``knn_weights(points, 10)``, phi = 1 / mean squared edge length), lambda = 0.5. Ours stops at a
relative duality gap of 1e-8 (both paths: SSNAL, and the exact min-cut path ``maxflow``, which
needs PyMaxflow, else ``maxflow-scipy`` is used); Clarabel runs with its defaults through cvxpy
(its own solve time is reported; cvxpy's model building comes on top and is reported
separately).

    python benchmarks/convexclust_speed.py                 # the Clarabel table, n <= 3000
    python benchmarks/convexclust_speed.py --scale         # 2-D at 100k, 300k, 1M; 10-D at 100k
    python benchmarks/convexclust_speed.py --path          # 50 lambdas at 100k: warm vs cold

Each scale point runs in its own process, so its peak memory (resident set, from
``getrusage``) is its own; the growth exponent is the slope of log time against log n.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from xuframe.data import make_blobs
from xuframe_plugins.convexclust import ConvexClustering, ConvexClusteringProblem, knn_weights
from xuframe_plugins.convexclust.graphtv import have_pymaxflow

LAM = 0.5
EXACT = "maxflow" if have_pymaxflow() else "maxflow-scipy"


def problem(n: int, d: int, lam: float = LAM) -> ConvexClusteringProblem:
    points, _ = make_blobs(n, 5, d, std=1.0, separation=10.0, seed=0)
    return ConvexClusteringProblem(points, lam, knn_weights(points, 10))


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


def solver(method: str, time_limit: float | None = None) -> ConvexClustering:
    return ConvexClustering.from_config({"tol": 1e-8, "method": method, "time_limit": time_limit})


def against_clarabel(max_clarabel_n: int) -> None:
    print(
        f"against cvxpy + Clarabel (10-NN Gaussian weights, lambda 0.5), seconds; exact = {EXACT}"
    )
    print(
        f"{'d':>3} {'n':>6} {'edges':>7} {'ssnal':>8} {'exact':>8} {'gap':>8} {'cuts':>5} "
        f"{'clusters':>8} {'clarabel':>9} {'+cvxpy':>8} {'vs ssnal':>8} {'vs exact':>8} "
        f"{'rel. obj. diff':>14}"
    )
    ssnal, exact = solver("ssnal"), solver(EXACT)
    for d in (2, 10):
        for n in (100, 300, 1000, 3000):
            p = problem(n, d)
            ssnal.solve(p)  # warm-up (imports, caches)
            exact.solve(p)
            a, b = ssnal.solve(p), exact.solve(p)
            line = (
                f"{d:>3} {n:>6} {p.weights.n_edges:>7} {a.seconds:8.3f} {b.seconds:8.3f} "
                f"{b.residual:8.1e} {b.iterations:>5} {b.n_clusters:>8}"
            )
            if n <= max_clarabel_n:
                value, solve_s, total_s = clarabel(p)
                diff = (b.objective - value) / abs(value)
                line += (
                    f" {solve_s:9.3f} {total_s:8.3f} {solve_s / a.seconds:7.1f}x "
                    f"{solve_s / b.seconds:7.1f}x {diff:14.1e}"
                )
            print(line, flush=True)


def single(d: int, n: int, method: str, time_limit: float) -> None:
    """One scale point, printed as a JSON line (run in its own process by ``scale``)."""
    start = time.perf_counter()
    p = problem(n, d)
    weights_s = time.perf_counter() - start
    result = solver(method, time_limit).solve(p)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    row = {
        "d": d,
        "n": n,
        "edges": p.weights.n_edges,
        "weights_s": weights_s,
        "seconds": result.seconds,
        "gap": result.residual,
        "iterations": result.iterations,
        "clusters": result.n_clusters,
        "peak_mib": peak_mib,
    }
    print(json.dumps(row), flush=True)


def scale(methods: list[str], time_limit: float) -> None:
    print("\nscale (same data and weights), seconds; exponent = slope of log time against log n")
    print(
        f"{'method':>13} {'d':>3} {'n':>8} {'edges':>9} {'k-NN s':>7} {'solve s':>8} {'gap':>8} "
        f"{'iters':>6} {'clusters':>8} {'peak MiB':>9}"
    )
    for method in methods:
        for d, sizes in ((2, (100_000, 300_000, 1_000_000)), (10, (100_000,))):
            times = []
            for n in sizes:
                cmd = [sys.executable, __file__, "--single", str(d), str(n), method]
                cmd += ["--time-limit", str(time_limit)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                times.append(r["seconds"])
                print(
                    f"{method:>13} {d:>3} {n:>8} {r['edges']:>9} {r['weights_s']:7.1f} "
                    f"{r['seconds']:8.1f} {r['gap']:8.1e} {r['iterations']:>6} "
                    f"{r['clusters']:>8} {r['peak_mib']:9.0f}",
                    flush=True,
                )
            if len(sizes) > 1:
                slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
                print(f"    {method}, d={d}: time grows as n^{slope:.2f}")


def path(n: int, methods: list[str]) -> None:
    """50 lambdas, log-spaced 0.01 .. 10: the warm-started path against 50 cold solves."""
    lams = np.geomspace(0.01, 10.0, 50)
    points, _ = make_blobs(n, 5, 2, std=1.0, separation=10.0, seed=0)
    weights = knn_weights(points, 10)
    print(f"\nthe lambda path at n = {n} in 2-D, 50 lambdas 0.01 .. 10, seconds")
    print(f"{'method':>13} {'warm path':>10} {'50 cold':>10} {'ratio':>6} {'worst gap':>10}")
    for method in methods:
        s = solver(method)
        start = time.perf_counter()
        warm = s.solve_path(points, lams, weights)
        warm_s = time.perf_counter() - start
        start = time.perf_counter()
        cold = [s.solve(ConvexClusteringProblem(points, float(lam), weights)) for lam in lams]
        cold_s = time.perf_counter() - start
        worst = max(r.residual for r in [*warm.results, *cold])
        print(
            f"{method:>13} {warm_s:10.1f} {cold_s:10.1f} {cold_s / warm_s:5.2f}x {worst:10.1e}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="2-D at 100k, 300k, 1M; 10-D 100k")
    parser.add_argument("--path", action="store_true", help="the 50-lambda path, warm vs cold")
    parser.add_argument("--path-n", type=int, default=100_000)
    parser.add_argument("--max-clarabel-n", type=int, default=3000)
    parser.add_argument("--methods", default=f"{EXACT},ssnal", help="for --scale and --path")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    parser.add_argument("--single", nargs=3, metavar=("D", "N", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    methods = args.methods.split(",")
    if args.single:
        single(int(args.single[0]), int(args.single[1]), args.single[2], args.time_limit)
        return
    if not (args.scale or args.path):
        against_clarabel(args.max_clarabel_n)
    if args.scale:
        scale(methods, args.time_limit)
    if args.path:
        path(args.path_n, methods)


if __name__ == "__main__":
    main()
