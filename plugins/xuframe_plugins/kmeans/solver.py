"""k-means: minimise the within-cluster sum of squares by Lloyd iterations from k-means++ seeds.

k-means++ (Arthur & Vassilvitskii, 2007) picks the first centre uniformly and each next one
with probability proportional to the squared distance to the nearest centre chosen so far;
Lloyd's algorithm then alternates assignment and centre update, which never increases the
objective. Several restarts (``n_init``) keep the best objective.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import attrs
import numpy as np

from xuframe import ClusteringResult, DemoResult, Solver, config_field, non_negative, positive
from xuframe.data import make_blobs
from xuframe.metrics import adjusted_rand_index
from xuframe.pictures import scatter_picture
from xuframe.validation import check_array, check_int

__all__ = ["KMeans", "KMeansProblem"]


#: The largest coordinate magnitude accepted: squared distances stay far from overflow.
MAX_ABS = 1e100


def _points(value: Any) -> np.ndarray[Any, Any]:
    return check_array(
        value, "KMeansProblem.points", shape=(None, None), non_empty=True, max_abs=MAX_ABS
    )


@attrs.frozen(eq=False)
class KMeansProblem:
    """Partition ``points`` ``(n, d)`` into ``n_clusters`` clusters.

    ``points``: real numbers, ``n, d >= 1``, finite, of magnitude at most :data:`MAX_ABS`
    (1e100: the squared distances must not overflow); ``n_clusters``: an int (numpy ints
    too) in ``1 .. n``. Anything else raises :class:`~xuframe.errors.InputError`.
    """

    points: np.ndarray[Any, Any] = attrs.field(converter=_points)
    n_clusters: int = attrs.field()

    def __attrs_post_init__(self) -> None:
        k = check_int(self.n_clusters, "KMeansProblem.n_clusters", min=1, max=self.points.shape[0])
        object.__setattr__(self, "n_clusters", k)


def _squared_distances(
    points: np.ndarray[Any, Any], centres: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    d = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None, :]
    return np.maximum(d, 0.0)


class KMeans(Solver[KMeansProblem, ClusteringResult]):
    """k-means with k-means++ seeding and ``n_init`` restarts; keeps the lowest objective.

    ``residual`` in the result is the largest centre movement of the last Lloyd step,
    relative to the data's spread (0 at a fixed point).
    """

    name: ClassVar[str] = "kmeans"
    problem_type: ClassVar[type[Any]] = KMeansProblem
    result_type: ClassVar[type[Any]] = ClusteringResult

    @attrs.frozen
    class Config:
        n_init: int = config_field(
            4, doc="restarts from different k-means++ seeds", validator=positive
        )
        max_iter: int = config_field(
            300, doc="Lloyd iterations per restart at most", validator=positive
        )
        tol: float = config_field(
            1e-9,
            doc="stop when centres move less than tol x the data's spread",
            validator=positive,
        )
        seed: int = config_field(0, doc="seed of the k-means++ draws", validator=non_negative)

    def _seed_centres(
        self, x: np.ndarray[Any, Any], k: int, rng: np.random.Generator
    ) -> np.ndarray[Any, Any]:
        centres = np.empty((k, x.shape[1]))
        centres[0] = x[rng.integers(x.shape[0])]
        nearest = _squared_distances(x, centres[:1])[:, 0]
        for j in range(1, k):
            total = nearest.sum()
            idx = (
                rng.choice(x.shape[0], p=nearest / total) if total > 0 else rng.integers(x.shape[0])
            )
            centres[j] = x[idx]
            nearest = np.minimum(nearest, _squared_distances(x, centres[j : j + 1])[:, 0])
        return centres

    def _lloyd(
        self, x: np.ndarray[Any, Any], centres: np.ndarray[Any, Any], scale: float
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float, float, int]:
        k = centres.shape[0]
        shift, iterations = np.inf, 0
        while iterations < self.config.max_iter:
            iterations += 1
            d = _squared_distances(x, centres)
            labels = d.argmin(1)
            counts = np.bincount(labels, minlength=k)
            sums = np.zeros_like(centres)
            np.add.at(sums, labels, x)
            new = centres.copy()
            filled = counts > 0
            new[filled] = sums[filled] / counts[filled, None]
            if not filled.all():  # an empty cluster takes the point farthest from its centre
                far = np.argsort(-d[np.arange(x.shape[0]), labels])[: int((~filled).sum())]
                new[~filled] = x[far]
            shift = float(np.sqrt(((new - centres) ** 2).sum(1)).max()) / scale
            centres = new
            if shift <= self.config.tol:
                break
        d = _squared_distances(x, centres)
        labels = d.argmin(1)
        inertia = float(d[np.arange(x.shape[0]), labels].sum())
        return centres, labels, inertia, shift, iterations

    def _solve(self, problem: KMeansProblem) -> ClusteringResult:
        start = time.perf_counter()
        x, k = problem.points, problem.n_clusters
        rng = np.random.default_rng(self.config.seed)
        scale = float(np.sqrt(x.var(0).sum())) or 1.0
        best: tuple[Any, ...] | None = None
        total_iterations = 0
        for _ in range(self.config.n_init):
            run = self._lloyd(x, self._seed_centres(x, k, rng), scale)
            total_iterations += run[4]
            if best is None or run[2] < best[2]:
                best = run
        assert best is not None
        centres, assigned, inertia, shift, _ = best
        _, labels = np.unique(assigned, return_inverse=True)  # contiguous 0 .. m-1
        return ClusteringResult(
            centroids=centres[assigned],
            labels=labels,
            objective=inertia,
            residual=shift,
            iterations=total_iterations,
            seconds=time.perf_counter() - start,
        )

    @classmethod
    def example_problem(cls, seed: int = 0) -> KMeansProblem:
        points, _ = make_blobs(60, 3, 2, seed=seed)
        return KMeansProblem(points, 3)

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Cluster 600 points from 4 Gaussian blobs in 5-D and score the partition against the truth."""
        points, truth = make_blobs(600, 4, 5, std=1.5, separation=8.0, seed=seed)
        result = cls().solve(KMeansProblem(points, 4))
        ari = adjusted_rand_index(truth, result.labels)
        return DemoResult(
            {"ARI": ari, "objective": result.objective, "iterations": result.iterations},
            summary=f"4 blobs in 5-D, 600 points: ARI {ari:.3f} against the true clusters",
            headline="ARI",
            picture=scatter_picture(points, result.labels),
        )
