"""Weight graphs for convex clustering: which pairs of points are tied, and how strongly.

A :class:`WeightGraph` is a list of undirected edges ``(i, j)`` with ``i < j`` and a positive
weight per edge. Build one with :func:`knn_weights` (the default: each point's ``k`` nearest
neighbours, Gaussian weights), :func:`dense_weights` (every pair, Gaussian weights),
:func:`uniform_weights` (every pair, weight 1: the classical unweighted model), or pass your own
edges and weights (or a symmetric scipy sparse matrix to :func:`as_weight_graph`).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from xuframe.errors import InputError
from xuframe.validation import check_array, check_float, check_int, check_memory

__all__ = [
    "WeightGraph",
    "as_weight_graph",
    "dense_weights",
    "knn_weights",
    "uniform_weights",
]


#: The largest coordinate magnitude accepted: squared distances between points (and the
#: objective's squared residuals) stay far from float64 overflow.
MAX_ABS = 1e100


def _edges(value: Any) -> np.ndarray[Any, Any]:
    arr = check_array(value, "WeightGraph.edges", dtype=np.int64)
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"WeightGraph.edges: expected an (m, 2) integer array, got {arr.shape}")
    return arr


def _weights(value: Any) -> np.ndarray[Any, Any]:
    arr = check_array(value, "WeightGraph.weights", ndim=1)
    if (arr <= 0).any():
        raise InputError("WeightGraph.weights: expected finite weights > 0")
    return arr


def _n_points(value: Any) -> int:
    return check_int(value, "WeightGraph.n_points", min=0)


@attrs.frozen(eq=False)
class WeightGraph:
    """Undirected weighted edges on points ``0 .. n_points - 1``: edge ``e`` ties
    ``edges[e, 0] < edges[e, 1]`` with weight ``weights[e] > 0``; each pair appears once."""

    n_points: int = attrs.field(converter=_n_points)
    edges: np.ndarray[Any, Any] = attrs.field(converter=_edges)
    weights: np.ndarray[Any, Any] = attrs.field(converter=_weights)

    def __attrs_post_init__(self) -> None:
        m = self.edges.shape[0]
        if self.weights.shape != (m,):
            raise InputError(
                f"WeightGraph: expected one weight per edge ({m}), got {self.weights.shape[0]}"
            )
        if m == 0:
            return
        i, j = self.edges[:, 0], self.edges[:, 1]
        if (i < 0).any() or (j >= self.n_points).any() or (i >= j).any():
            raise InputError(
                f"WeightGraph.edges: expected pairs i < j within 0 .. {self.n_points - 1}"
            )
        keys = np.sort(i * self.n_points + j)  # a sort: numpy's hashing unique is 6x slower here
        if (keys[1:] == keys[:-1]).any():
            raise InputError("WeightGraph.edges: expected each pair at most once")

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    def incidence(self) -> sp.csr_matrix:
        """The ``(m, n)`` matrix ``B`` with ``(B U)_e = u_i - u_j`` for edge ``e = (i, j)``."""
        m = self.n_edges
        rows = np.repeat(np.arange(m), 2)
        cols = self.edges.reshape(-1)
        vals = np.tile([1.0, -1.0], m)
        return sp.csr_matrix((vals, (rows, cols)), shape=(m, self.n_points))

    def adjacency(self) -> sp.csr_matrix:
        """The symmetric ``(n, n)`` weight matrix."""
        i, j = self.edges[:, 0], self.edges[:, 1]
        w = sp.coo_matrix((self.weights, (i, j)), shape=(self.n_points, self.n_points))
        return (w + w.T).tocsr()


def _check_points(points: Any) -> np.ndarray[Any, Any]:
    """``points`` as a float64 ``(n, d)`` array, ``n, d >= 1``, finite, every value of
    magnitude at most :data:`MAX_ABS`; otherwise :class:`~xuframe.errors.InputError`."""
    return check_array(points, "points", shape=(None, None), non_empty=True, max_abs=MAX_ABS)


def _gaussian(sq_dist: np.ndarray[Any, Any], phi: float | None) -> np.ndarray[Any, Any]:
    if phi is None:  # scale-free default: 1 / the mean squared distance along the edges
        mean = float(sq_dist.mean()) if sq_dist.size else 0.0
        phi = 1.0 / mean if mean > 0 else 0.0
    # floor: a weight that underflows to 0 would silently remove the edge
    return np.maximum(np.exp(-phi * sq_dist), np.finfo(np.float64).tiny)


#: Points queried at a time by :func:`knn_weights` (bounds its working memory).
KNN_CHUNK = 65_536

#: From this many points on, :func:`knn_weights` shows a progress bar by default (on a terminal).
KNN_PROGRESS_FROM = 200_000


def knn_weights(
    points: Any, k: int = 10, phi: float | None = None, *, progress: bool | None = None
) -> WeightGraph:
    """Each point tied to its ``k`` nearest neighbours (the union of both directions), with
    weight ``exp(-phi * ||x_i - x_j||^2)``. ``phi=None`` takes 1 / the mean squared edge length.

    ``points`` ``(n, d)``; ``k`` an int >= 1 (numpy ints too); ``phi`` a number >= 0 or None.
    The neighbours come from a k-d tree queried :data:`KNN_CHUNK` points at a time, so no
    ``(n, n)`` array is ever made: memory is about ``48 n k`` bytes (checked against
    :func:`xuframe.validation.memory_limit` before any work) and a million 2-D points take a
    few seconds. ``progress``: a progress bar over the chunks on stderr (``None``: only on a
    terminal, from :data:`KNN_PROGRESS_FROM` points on). Raises :class:`~xuframe.errors.InputError` for bad
    input or too little memory."""
    x = _check_points(points)
    n = x.shape[0]
    k = check_int(k, "knn_weights: k", min=1)
    phi = _phi(phi)
    if progress is not None and not isinstance(progress, bool):
        raise InputError(f"knn_weights: progress: expected True, False or None, got {progress!r}")
    k = min(k, n - 1)
    if k == 0:
        return WeightGraph(n, np.zeros((0, 2), np.int64), np.zeros(0))
    # pair keys (8 B), their sort (~16 B), then the graph's edges, weights and checks (~24 B)
    check_memory(48.0 * n * k + 8.0 * n * x.shape[1], f"knn_weights for {n} points and k={k}")
    tree = cKDTree(x)
    keys = np.empty(n * k, np.int64)  # lo * n + hi of every (point, neighbour) pair
    # True: always; None: on a terminal (tqdm's None) for large n; False: never
    hide = not progress if progress is not None else (None if n >= KNN_PROGRESS_FROM else True)
    starts = range(0, n, KNN_CHUNK)
    for start in tqdm(starts, desc="k-NN weights", unit="chunk", disable=hide):
        stop = min(start + KNN_CHUNK, n)
        _, idx = tree.query(x[start:stop], k=k + 1)
        i = np.arange(start, stop)[:, None]
        j = idx[:, 1:]
        # duplicate points can push a point itself past position 0: map it to itself, dropped below
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        keys[start * k : stop * k] = (lo * n + hi).reshape(-1)
    keys.sort()  # in place (numpy's hashing unique is several times slower at this size)
    first = np.ones(keys.size, bool)
    first[1:] = keys[1:] != keys[:-1]
    pairs = keys[first]
    lo, hi = pairs // n, pairs % n
    keep = lo != hi  # self-pairs
    lo, hi = lo[keep], hi[keep]
    sq = ((x[lo] - x[hi]) ** 2).sum(1)
    return WeightGraph(n, np.stack([lo, hi], 1), _gaussian(sq, phi))


def _phi(phi: Any) -> float | None:
    return None if phi is None else check_float(phi, "phi", min=0.0)


def _all_pairs(n: int) -> np.ndarray[Any, Any]:
    i, j = np.triu_indices(n, 1)
    return np.stack([i, j], 1).astype(np.int64)


def dense_weights(points: Any, phi: float | None = None) -> WeightGraph:
    """Every pair tied, with weight ``exp(-phi * ||x_i - x_j||^2)`` (``n (n - 1) / 2`` edges).

    ``phi`` a number >= 0 or None (1 / the mean squared distance). The graph takes
    ``n (n - 1)`` int64 and float64 entries; more than :func:`xuframe.validation.memory_limit`
    raises :class:`~xuframe.errors.InputError` before any is made."""
    x = _check_points(points)
    phi = _phi(phi)
    n = x.shape[0]
    check_memory(n * (n - 1) / 2 * (24 + 16 * x.shape[1]), f"dense_weights for {n} points")
    edges = _all_pairs(x.shape[0])
    sq = ((x[edges[:, 0]] - x[edges[:, 1]]) ** 2).sum(1)
    return WeightGraph(x.shape[0], edges, _gaussian(sq, phi))


def uniform_weights(n_points: int) -> WeightGraph:
    """Every pair tied with weight 1: the classical (unweighted) convex clustering model.
    ``n_points`` an int >= 1; the graph's size is checked as for :func:`dense_weights`."""
    n_points = check_int(n_points, "n_points", min=1)
    check_memory(n_points * (n_points - 1) / 2 * 24, f"uniform_weights for {n_points} points")
    edges = _all_pairs(n_points)
    return WeightGraph(n_points, edges, np.ones(edges.shape[0]))


def as_weight_graph(weights: Any, n_points: int) -> WeightGraph:
    """A :class:`WeightGraph` from itself, or from a symmetric ``(n, n)`` scipy sparse or numpy
    matrix of finite, non-negative weights (zeros and the diagonal are ignored). NaN, inf,
    negative or non-numeric entries raise :class:`~xuframe.errors.InputError`."""
    if isinstance(weights, WeightGraph):
        graph = weights
    elif sp.issparse(weights) or isinstance(weights, np.ndarray):
        if sp.issparse(weights):
            mat = sp.coo_matrix(weights)
            check_array(mat.data, "weights")  # real, finite
            mat = mat.astype(np.float64)
        else:
            mat = sp.coo_matrix(check_array(weights, "weights", ndim=2))
        if mat.shape != (n_points, n_points):
            raise InputError(
                f"weights: expected an ({n_points}, {n_points}) matrix, got {mat.shape}"
            )
        if abs(mat - mat.T).max() > 1e-12 * max(1.0, abs(mat).max()):
            raise InputError("weights: expected a symmetric matrix")
        if (mat.data < 0).any():
            raise InputError("weights: expected non-negative weights")
        upper = sp.triu(mat, 1).tocoo()
        upper.sum_duplicates()
        keep = upper.data > 0
        edges = np.stack([upper.row[keep], upper.col[keep]], 1).astype(np.int64)
        graph = WeightGraph(n_points, edges, upper.data[keep])
    else:
        raise InputError(
            "weights: expected a WeightGraph, a symmetric (n, n) matrix, or None for 10-NN "
            f"Gaussian weights; got {type(weights).__name__}"
        )
    if graph.n_points != n_points:
        raise InputError(f"weights: the graph has {graph.n_points} points, the data {n_points}")
    return graph
