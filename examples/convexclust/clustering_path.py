"""The convex-clustering path on 2-D blobs, drawn as a PNG, with the exact-recovery interval.

Generates 4 Gaussian blobs, solves weighted-l1 convex clustering along a log-spaced lambda path
(warm-started), prints the number of clusters at each lambda, compares the exact-recovery
interval (a sufficient condition) with the lambda at which the true clusters actually fuse,
and draws every point's path u_i(lambda) to ``convexclust_path.png``.

    python examples/convexclust/clustering_path.py [--points 160] [--out convexclust_path.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import xuframe
from xuframe.data import make_blobs
from xuframe.errors import MissingExtraError
from xuframe.metrics import adjusted_rand_index
from xuframe_plugins.convexclust import ConvexClustering, dense_weights, recovery_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=160)
    parser.add_argument("--out", default="convexclust_path.png")
    args = parser.parse_args()
    plt = xuframe.import_extra("matplotlib.pyplot")

    points, truth = make_blobs(args.points, 4, 2, std=0.6, separation=12.0, seed=0)
    weights = dense_weights(points, phi=0.5)  # every pair; far pairs get ~0 weight
    interval = recovery_interval(points, truth, weights)
    solver = ConvexClustering()
    fusion = solver.fusion_lambda(points, truth, weights)
    print(f"exact-recovery interval (sufficient): {interval}")
    print(f"lambda at which the true clusters fuse (bisection): {fusion:.4g}")
    if not interval.empty:
        print(
            f"the sufficient lam_min is {interval.lam_min / fusion:.2f}x the actual fusion lambda"
        )

    top = fusion * 3 if interval.empty else max(fusion * 3, interval.lam_min * 1.5)
    lams = np.geomspace(fusion / 100, top, 25)
    path = solver.solve_path(points, lams, weights, progress=True)
    print(f"{'lambda':>10} {'clusters':>8} {'ARI':>6} {'gap':>8}")
    for lam, result in zip(lams, path.results, strict=True):
        ari = adjusted_rand_index(truth, result.labels)
        print(f"{lam:10.4g} {result.n_clusters:>8} {ari:6.3f} {result.residual:8.1e}")

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5))
    path.plot(points, left, labels=truth)
    right.semilogx(lams, path.n_clusters, "o-")
    right.axvline(fusion, color="g", ls="--", label=f"true clusters fuse ({fusion:.3g})")
    if not interval.empty:
        right.axvspan(
            interval.lam_min,
            min(interval.lam_max, lams[-1]),
            color="orange",
            alpha=0.2,
            label="exact-recovery interval",
        )
    right.set_yscale("log")
    right.set_xlabel("lambda")
    right.set_ylabel("clusters")
    right.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
