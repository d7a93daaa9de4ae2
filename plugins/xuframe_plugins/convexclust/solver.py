"""The ``convexclust`` solver: weighted-l1 convex clustering, its lambda path and fusion point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

import xuframe
from xuframe import ClusteringResult, DemoResult, Solver, config_field, positive
from xuframe.data import make_blobs
from xuframe.errors import ConfigError, InputError
from xuframe.metrics import adjusted_rand_index
from xuframe.pictures import scatter_picture
from xuframe.validation import check_array, check_float, check_labels
from xuframe_plugins.convexclust.graphtv import Backend, have_pymaxflow, solve_exact
from xuframe_plugins.convexclust.recovery import recovery_interval
from xuframe_plugins.convexclust.ssnal import SolverState, _Operators, solve_ssnal
from xuframe_plugins.convexclust.weights import (
    WeightGraph,
    _check_points,
    as_weight_graph,
    dense_weights,
    knn_weights,
)

__all__ = [
    "ClusteringPath",
    "ConvexClustering",
    "ConvexClusteringProblem",
    "fuse_rows",
]

Array = np.ndarray[Any, Any]


def _lam(value: Any) -> float:
    return check_float(value, "lam", min=0.0)


@attrs.frozen(eq=False)
class ConvexClusteringProblem:
    """Minimise ``1/2 sum ||x_i - u_i||^2 + lam sum_(i,j) w_ij ||u_i - u_j||_1`` over ``U``.

    ``weights``: a :class:`WeightGraph`, a symmetric ``(n, n)`` matrix, or ``None`` for
    ``knn_weights(points, k=10)`` (10 nearest neighbours, Gaussian weights).
    """

    points: Array = attrs.field(converter=_check_points)
    lam: float = attrs.field(converter=_lam)
    weights: WeightGraph = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        n = self.points.shape[0]
        graph = (
            knn_weights(self.points) if self.weights is None else as_weight_graph(self.weights, n)
        )
        object.__setattr__(self, "weights", graph)
        _check_scale(self.lam, graph)


def _check_scale(lam: float, graph: WeightGraph) -> None:
    """``lam`` times every weight must be a float64 (the dual bounds ``mu_e``)."""
    if graph.n_edges and not math.isfinite(lam * float(graph.weights.max())):
        raise InputError(
            f"lam: expected lam x the largest weight to be finite, got {lam:g} x "
            f"{float(graph.weights.max()):g}"
        )


def fuse_rows(u: Array, graph: WeightGraph, tol: float) -> Array:
    """Cluster labels: rows of ``u`` within ``tol`` (l2) of each other are one cluster.

    Candidate pairs are the graph's edges, then the component means (which catches equal rows
    the graph does not tie directly); labels are ``0 .. m-1`` in order of first appearance.
    ``u`` is ``(graph.n_points, d)``, finite; ``tol`` a number >= 0. Raises
    :class:`~xuframe.errors.InputError` otherwise.
    """
    if not isinstance(graph, WeightGraph):
        raise InputError(f"graph: expected a WeightGraph, got {type(graph).__name__}")
    u = check_array(u, "u", shape=(graph.n_points, None), non_empty=True)
    tol = check_float(tol, "tol", min=0.0)
    n = u.shape[0]
    i, j = graph.edges[:, 0], graph.edges[:, 1]
    close = np.sqrt(((u[i] - u[j]) ** 2).sum(1)) <= tol
    g = sp.coo_matrix((np.ones(int(close.sum())), (i[close], j[close])), shape=(n, n))
    count, comp = connected_components(g, directed=False)
    means = np.zeros((count, u.shape[1]))
    np.add.at(means, comp, u)
    means /= np.bincount(comp, minlength=count)[:, None]
    pairs = cKDTree(means).query_pairs(tol, output_type="ndarray")
    if pairs.size:
        g2 = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count,) * 2)
        _, merged = connected_components(g2, directed=False)
        comp = merged[comp]
    _, first = np.unique(comp, return_index=True)
    order = np.argsort(np.argsort(first))  # label of each component by first appearance
    _, inverse = np.unique(comp, return_inverse=True)
    return np.asarray(order[inverse], dtype=np.int64)


def fusion_tolerance(state: SolverState, x: Array) -> float:
    """``2 sqrt(gap)``: rows equal at the optimum are at most this far apart in the iterate.

    ``P`` is 1-strongly convex, so ``||U - U*||_F^2 <= 2 (P(U) - P*) <= 2 gap``, and two rows
    ``i, j`` with ``u*_i = u*_j`` satisfy ``||u_i - u_j|| <= ||u_i - u*_i|| + ||u_j - u*_j||
    <= sqrt(2) ||U - U*||_F <= 2 sqrt(gap)``. The computed gap carries round-off of about
    ``1e-15 (||X||^2 + |P|)`` (both objectives are sums of that size), which is added to it.
    """
    round_off = 1e-15 * (1.0 + float((x**2).sum()) + abs(state.primal))
    return 2.0 * math.sqrt(state.gap + round_off)


@attrs.frozen(eq=False)
class ClusteringPath:
    """Solutions along increasing ``lams`` (warm-started), one :class:`ClusteringResult` each."""

    lams: Array
    results: list[ClusteringResult]

    @property
    def n_clusters(self) -> Array:
        return np.array([r.n_clusters for r in self.results])

    def plot(self, points: Any, ax: Any = None, *, labels: Any = None) -> Any:
        """Draw each point's path ``u_i(lam)`` in its first two coordinates (needs matplotlib)."""
        plt = xuframe.import_extra("matplotlib.pyplot")
        x = _check_points(points)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6))
        tracks = np.stack([x] + [r.centroids for r in self.results])  # (L + 1, n, d)
        colours = None if labels is None else np.asarray(labels)
        for i in range(x.shape[0]):
            colour = None if colours is None else plt.cm.tab10(int(colours[i]) % 10)
            ax.plot(tracks[:, i, 0], tracks[:, i, 1], "-", lw=0.6, alpha=0.6, color=colour or "0.5")
        dots = "k" if colours is None else [plt.cm.tab10(int(c) % 10) for c in colours]
        ax.scatter(x[:, 0], x[:, 1], s=8, c=dots)
        end = self.results[-1].centroids
        ax.scatter(end[:, 0], end[:, 1], s=40, marker="x", c="r")
        ax.set_title(f"clustering path, lambda {self.lams[0]:.3g} .. {self.lams[-1]:.3g}")
        ax.set_aspect("equal")
        return ax


#: Methods of :class:`ConvexClustering`; ``"auto"`` picks by :func:`_choose_method`.
METHODS = ("auto", "ssnal", "maxflow", "maxflow-scipy")


def _method(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in METHODS:
        raise ConfigError(f"{attribute.name} must be one of {', '.join(METHODS)}, got {value!r}")


def _choose_method(method: str, n_points: int, dim: int) -> str:
    """The path that ``method`` means for ``n_points`` points in ``dim`` coordinates.

    ``"auto"``: with PyMaxflow, ``"maxflow"`` from 200 points and 3 points per coordinate on;
    without it, ``"maxflow-scipy"`` from 2000 points and 20 per coordinate on; else
    ``"ssnal"`` (the crossovers measured, docs/plugins/convexclust.md "Choosing a path"). Any
    other method is itself."""
    if method != "auto":
        return method
    if have_pymaxflow():
        return "maxflow" if n_points >= max(200, 3 * dim) else "ssnal"
    return "maxflow-scipy" if n_points >= max(2000, 20 * dim) else "ssnal"


class ConvexClustering(Solver[ConvexClusteringProblem, ClusteringResult]):
    """Weighted-l1 convex clustering, solved by a semismooth Newton augmented Lagrangian
    (``method="ssnal"``) or exactly, coordinate by coordinate, by min-cuts (``"maxflow"``:
    PyMaxflow, the ``maxflow`` extra; ``"maxflow-scipy"``: scipy's integer max-flow);
    ``"auto"`` (the default) picks by size (docs: "Choosing a path").

    ``residual`` in the result is the relative duality gap ``(P - D) / max(1, |P|)`` on every
    path (a certificate: the objective is within ``residual * max(1, |P|)`` of the optimum);
    ``iterations`` counts Newton steps (SSNAL) or min-cut calls (the exact path). Points
    whose rows of ``U`` lie within :func:`fusion_tolerance` of each other share a label.
    ``method="maxflow"`` without PyMaxflow raises :class:`~xuframe.errors.MissingExtraError`.
    """

    name: ClassVar[str] = "convexclust"
    problem_type: ClassVar[type[Any]] = ConvexClusteringProblem
    result_type: ClassVar[type[Any]] = ClusteringResult

    @attrs.frozen
    class Config:
        tol: float = config_field(
            1e-8, doc="stop at this relative duality gap (P - D) / max(1, |P|)", validator=positive
        )
        max_newton: int = config_field(
            2000, doc="semismooth Newton steps at most per lambda", validator=positive
        )
        time_limit: float | None = config_field(
            None,
            doc="seconds per lambda at most (None: no limit); the result says its gap",
            validator=attrs.validators.optional(positive),
        )
        method: str = config_field(
            "auto",
            doc="auto, ssnal, maxflow (exact min-cuts, PyMaxflow) or maxflow-scipy",
            validator=_method,
        )

    def _run(
        self, x: Array, ops: _Operators, lam: float, warm: SolverState | None
    ) -> tuple[SolverState, ClusteringResult]:
        method = _choose_method(self.config.method, x.shape[0], x.shape[1])
        exact: SolverState | None = None
        if method != "ssnal" and ops.graph.n_edges and lam > 0.0:
            backend: Backend = "pymaxflow" if method == "maxflow" else "scipy"
            exact = solve_exact(x, ops.graph, lam, backend)
            warm = exact if exact.relative_gap > self.config.tol else None
        if exact is not None and warm is None:
            state = exact
        else:  # SSNAL, or SSNAL polishing an exact answer whose certificate missed tol
            state = solve_ssnal(
                x,
                ops,
                lam,
                tol=self.config.tol,
                u0=None if warm is None else warm.U,
                y0=None if warm is None else warm.Y,
                max_newton=self.config.max_newton,
                time_limit=self.config.time_limit,
            )
            if exact is not None:
                state = attrs.evolve(
                    state,
                    newton_steps=state.newton_steps + exact.newton_steps,
                    seconds=state.seconds + exact.seconds,
                )
        labels = fuse_rows(state.U, ops.graph, fusion_tolerance(state, x))
        result = ClusteringResult(
            centroids=state.U,
            labels=labels,
            objective=state.primal,
            residual=state.relative_gap,
            iterations=state.newton_steps,
            seconds=state.seconds,
        )
        return state, result

    def _solve(self, problem: ConvexClusteringProblem) -> ClusteringResult:
        return self._run(problem.points, _Operators(problem.weights), problem.lam, None)[1]

    def solve_path(
        self,
        points: Any,
        lams: Sequence[float],
        weights: Any = None,
        *,
        progress: bool = False,
    ) -> ClusteringPath:
        """Solve for every lambda in ``lams`` (sorted increasing), each warm-started from the last.

        ``lams``: a non-empty 1-D sequence of finite numbers >= 0. Raises
        :class:`~xuframe.errors.InputError` for bad ``lams``, ``points`` or ``weights``
        before any solve."""
        if isinstance(lams, (list, tuple)):  # each item a number (not a bool, not a string)
            grid = np.sort(np.array([check_float(v, "lams", min=0.0) for v in lams], float))
        else:
            grid = np.sort(check_array(lams, "lams", ndim=1))
        if grid.size == 0:
            raise InputError("lams: expected at least one lambda, got none")
        if (grid < 0).any():
            raise InputError(f"lams: expected numbers >= 0, got {float(grid[0]):g}")
        problem = ConvexClusteringProblem(points, float(grid[0]), weights)
        _check_scale(float(grid[-1]), problem.weights)
        ops = _Operators(problem.weights)
        warm: SolverState | None = None
        results = []
        for lam in tqdm(grid, desc="lambda path", disable=not progress):
            warm, result = self._run(problem.points, ops, float(lam), warm)
            results.append(result)
        return ClusteringPath(grid, results)

    def fit_predict(self, points: Any, lam: float, weights: Any = None) -> Array:
        """scikit-learn style: cluster labels of ``points`` at ``lam``; the full result is kept
        as ``self.result_``."""
        self.result_ = self.solve(ConvexClusteringProblem(points, lam, weights))
        return self.result_.labels

    def fusion_lambda(
        self,
        points: Any,
        labels: Any,
        weights: Any = None,
        *,
        rtol: float = 1e-3,
    ) -> float:
        """The smallest lambda (to ``rtol``) at which every labelled cluster is fused, i.e. all its
        points share one row of ``U`` (distinct clusters may have merged too).

        Doubles lambda from a small start until the clusters are fused (each solve warm-started
        from the previous one), then bisects, solving each midpoint from a cold start. For general
        weights fusion need not be monotone in lambda; this finds a lambda at which fusion
        starts along the doubling sequence. ``labels``: ``(n,)`` integers; ``rtol`` in
        ``(0, 1)``.
        """
        problem = ConvexClusteringProblem(points, 0.0, weights)
        x = problem.points
        truth = check_labels(labels, "labels", n=x.shape[0]).numpy()
        rtol = check_float(rtol, "rtol", min=0.0, max=1.0, min_open=True)
        ops = _Operators(problem.weights)

        def fused(lam: float, warm: SolverState | None) -> tuple[bool, SolverState]:
            state, result = self._run(x, ops, lam, warm)
            ok = all(np.unique(result.labels[truth == t]).size == 1 for t in np.unique(truth))
            return ok, state

        weight_scale = float(problem.weights.weights.mean()) if problem.weights.n_edges else 1.0
        hi = 1e-3 * float(np.ptp(x, 0).max() or 1.0) / max(weight_scale, 1e-300)
        lo = 0.0
        ok, warm = fused(hi, None)
        for _ in range(200):
            if ok:
                break
            lo, hi = hi, 2.0 * hi
            ok, warm = fused(hi, warm)
        if not ok:
            raise InputError(
                "fusion_lambda: the labelled clusters never fused (is the graph connected within each cluster?)"
            )
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            ok, _ = fused(mid, None)
            if ok:
                hi = mid
            else:
                lo = mid
        return hi

    @classmethod
    def example_problem(cls, seed: int = 0) -> ConvexClusteringProblem:
        points, _ = make_blobs(40, 3, 2, seed=seed)
        return ConvexClusteringProblem(points, 0.5)

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Cluster 200 points from 4 blobs in 2-D at a lambda inside the exact-recovery interval."""
        points, truth = make_blobs(200, 4, 2, std=0.6, separation=12.0, seed=seed)
        weights = dense_weights(points, phi=0.5)
        interval = recovery_interval(points, truth, weights)
        lam = interval.lam_min * 1.05 if not interval.empty else 1.0
        result = cls().solve(ConvexClusteringProblem(points, lam, weights))
        ari = adjusted_rand_index(truth, result.labels)
        return DemoResult(
            {
                "lambda": lam,
                "lam_min": interval.lam_min,
                "lam_max": interval.lam_max,
                "clusters": result.n_clusters,
                "true_clusters": int(np.unique(truth).size),
                "ARI": ari,
                "gap": result.residual,
                "seconds": result.seconds,
            },
            summary=(
                f"200 points, 4 blobs, dense Gaussian weights: recovery interval {interval}; "
                f"at lambda {lam:.4g}: {result.n_clusters} clusters (truth 4), ARI {ari:.3f}, "
                f"relative gap {result.residual:.1e}, {result.seconds * 1e3:.0f} ms"
            ),
            headline="ARI",
            picture=scatter_picture(points, result.labels),
        )
