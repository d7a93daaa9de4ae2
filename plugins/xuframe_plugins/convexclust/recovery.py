"""Exact recovery: a range of lambda for which convex clustering returns the true clusters.

:func:`recovery_interval` evaluates the sufficient condition derived in
docs/plugins/convexclust.md ("Exact recovery"): for labelled points and any weight graph, every
``lambda`` in ``[lam_min, lam_max)`` gives a solution whose clusters are exactly the labelled
ones. With ``n_a`` points in cluster ``a``, centroid ``c_a``, ``W_ab`` the total weight between
clusters ``a`` and ``b``, ``w_i->b`` point ``i``'s total weight into ``b``::

    lam_min = max_a  max_k min(diam_k(a), s_k(a)) / kappa_a
    lam_max = min_{a != b}  ||c_a - c_b||_inf / (D_a + D_b)

    s_k(a)   = ||x_{a,k} - c_{a,k}||_2 * sqrt(n_a / (n_a - 1))
    kappa_a  = lambda_2(L_a) - 2 Delta_a,   Delta_a = max_{i in a} sum_{b != a} |W_ab / n_a - w_i->b|
    D_a      = sum_{b != a} W_ab / n_a

``lambda_2(L_a)`` is the algebraic connectivity (Fiedler value) of cluster ``a``'s own weighted
graph. For uniform weights on every pair, ``lambda_2 = n_a``, ``Delta_a = 0`` and
``D_a = n - n_a``: the classical interval
``max_a diam_inf(a) / n_a <= lambda < min ||c_a - c_b||_inf / (2n - n_a - n_b)`` (sharpened by
``s_k``).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from xuframe.validation import check_labels
from xuframe_plugins.convexclust.weights import WeightGraph, _check_points, as_weight_graph

__all__ = ["RecoveryInterval", "recovery_interval"]

Array = np.ndarray[Any, Any]
_DENSE_EIG_MAX = 3000


@attrs.frozen(eq=False)
class RecoveryInterval:
    """``[lam_min, lam_max)``: every lambda inside recovers the labelled clusters exactly.

    Per-cluster terms (index = label order of ``np.unique(labels)``): ``spread`` (the numerator
    of ``lam_min``), ``fiedler`` (``lambda_2(L_a)``), ``delta`` (``Delta_a``), ``kappa``,
    ``leak`` (``D_a``). Empty (``lam_min >= lam_max``) means the condition certifies nothing
    for this data and weights; it is sufficient, not necessary.
    """

    lam_min: float
    lam_max: float
    spread: Array
    fiedler: Array
    delta: Array
    kappa: Array
    leak: Array

    @property
    def empty(self) -> bool:
        return not self.lam_min < self.lam_max

    def __contains__(self, lam: float) -> bool:
        return self.lam_min <= lam < self.lam_max

    def __str__(self) -> str:
        hi = "inf" if math.isinf(self.lam_max) else f"{self.lam_max:.4g}"
        return f"[{self.lam_min:.4g}, {hi})" + (" (empty)" if self.empty else "")


def _fiedler(laplacian: sp.csr_matrix) -> float:
    """Second-smallest eigenvalue of a graph Laplacian (0 for a disconnected graph)."""
    n = laplacian.shape[0]
    if n < 2:
        return math.inf
    if connected_components(laplacian, directed=False)[0] > 1:
        return 0.0  # exactly; eigensolvers return round-off here
    if n <= _DENSE_EIG_MAX:
        values = scipy.linalg.eigvalsh(laplacian.toarray(), subset_by_index=[0, 1])
        return float(max(values[1], 0.0))
    shift = -1e-6 * float(laplacian.diagonal().max())  # shift-invert near 0, L - shift I is SPD
    values = eigsh(laplacian, k=2, sigma=shift, which="LM", return_eigenvectors=False)
    return float(max(np.sort(values)[1], 0.0))


def recovery_interval(points: Any, labels: Any, weights: Any) -> RecoveryInterval:
    """The sufficient exact-recovery interval for ``points`` ``(n, d)``, true ``labels`` ``(n,)``
    and a weight graph (a :class:`WeightGraph` or a symmetric matrix)."""
    x = _check_points(points)
    n = x.shape[0]
    lab = check_labels(labels, "labels", n=n).numpy()
    graph: WeightGraph = as_weight_graph(weights, n)
    _, lab = np.unique(lab, return_inverse=True)
    k = int(lab.max()) + 1
    sizes = np.bincount(lab, minlength=k).astype(np.float64)
    adjacency = graph.adjacency()
    member = sp.csr_matrix((np.ones(n), (np.arange(n), lab)), shape=(n, k))
    to_cluster = np.asarray((adjacency @ member).todense())  # w_{i->b}, (n, k)
    between = np.asarray((member.T @ adjacency @ member).todense())  # W_ab, (k, k)
    np.fill_diagonal(between, 0.0)
    centroids = np.stack([x[lab == a].mean(0) for a in range(k)])

    spread, fiedler, delta, kappa = (np.zeros(k) for _ in range(4))
    leak = between.sum(1) / sizes
    for a in range(k):
        idx = np.flatnonzero(lab == a)
        if idx.size < 2:  # a single point: nothing to hold together
            fiedler[a], kappa[a] = math.inf, math.inf
            continue
        xa = x[idx]
        diam = xa.max(0) - xa.min(0)
        s = np.sqrt(((xa - centroids[a]) ** 2).sum(0) * idx.size / (idx.size - 1))
        spread[a] = float(np.minimum(diam, s).max())
        sub = adjacency[idx][:, idx]
        laplacian = sp.diags(np.asarray(sub.sum(1)).ravel()) - sub
        fiedler[a] = _fiedler(laplacian.tocsr())
        others = np.arange(k) != a
        delta[a] = float(
            np.abs(between[a, others] / sizes[a] - to_cluster[idx][:, others]).sum(1).max()
        )
        kappa[a] = fiedler[a] - 2.0 * delta[a]

    lam_min = 0.0
    for a in range(k):
        if spread[a] > 0:
            lam_min = max(lam_min, spread[a] / kappa[a] if kappa[a] > 0 else math.inf)
    lam_max = math.inf
    np_errors = np.seterr(over="ignore")  # a tiny leak gives an infinite upper end, as it should
    for a in range(k):
        for b in range(a + 1, k):
            gap = float(np.abs(centroids[a] - centroids[b]).max())
            pull = leak[a] + leak[b]
            lam_max = min(lam_max, gap / pull if pull > 0 else (math.inf if gap > 0 else 0.0))
    np.seterr(**np_errors)
    return RecoveryInterval(lam_min, lam_max, spread, fiedler, delta, kappa, leak)
