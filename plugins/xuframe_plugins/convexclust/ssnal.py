"""Semismooth Newton augmented Lagrangian (SSNAL) for weighted-l1 convex clustering.

The problem (equation numbers as in docs/plugins/convexclust.md)::

    (1)  min_U  P(U) = 1/2 ||U - X||_F^2 + sum_e mu_e ||(B U)_e||_1,    mu_e = lambda w_e

with ``B`` the ``(m, n)`` edge incidence matrix, ``(B U)_e = u_i - u_j``. Its dual::

    (2)  max_{|Y_ek| <= mu_e}  D(Y) = <Y, B X> - 1/2 ||B^T Y||_F^2,      U = X - B^T Y

Every column (coordinate) is an independent graph fused-lasso problem; the code keeps them in
one ``(n, d)`` array so each sparse product serves all ``d`` at once.

The augmented Lagrangian method on ``min P(U)`` with ``Z = B U`` updates, for a penalty
``sigma``::

    (3)  U <- argmin_U phi(U),  phi(U) = 1/2 ||U - X||^2 + (sum huber_mu(V) - ||Y||^2) / (2 sigma),
         V = sigma B U + Y,    huber_mu(v) = v^2 if |v| <= mu else 2 mu |v| - mu^2
    (4)  Y <- clip(sigma B U + Y, -mu, mu)

``phi`` is strongly convex with gradient ``U - X + B^T clip(V, -mu, mu)`` and generalised
Hessian ``I + sigma B^T Theta B``, ``Theta = [|V| < mu]`` (the edges fused at the current
point), so (3) is solved by semismooth Newton steps (5) with an exact line search (``phi`` is
piecewise quadratic along the step); the
Newton system is a graph-Laplacian system per coordinate, solved by preconditioned conjugate
gradients for all coordinates at once. ``Y`` is dual feasible after every (4), ``U`` is primal
feasible always, so the duality gap ``P(U) - D(Y)`` certifies the accuracy of each iterate.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from xuframe_plugins.convexclust.weights import WeightGraph

__all__ = [
    "SolverState",
    "dual_objective",
    "fused_solution",
    "primal_objective",
    "solve_ssnal",
]

Array = np.ndarray[Any, Any]


@attrs.frozen(eq=False)
class SolverState:
    """The SSNAL iterate: primal ``U`` ``(n, d)``, dual ``Y`` ``(m, d)`` (feasible), and the
    certificate: ``gap = P(U) - D(Y) >= P(U) - P* >= 0``."""

    U: Array
    Y: Array
    primal: float
    dual: float
    newton_steps: int
    outer_iterations: int
    cg_iterations: int
    seconds: float
    sigma: float

    @property
    def gap(self) -> float:
        return max(self.primal - self.dual, 0.0)

    @property
    def relative_gap(self) -> float:
        return self.gap / max(1.0, abs(self.primal))


class _Operators:
    """``B`` and ``B^T`` for one graph, built once and reused across a lambda path."""

    def __init__(self, graph: WeightGraph) -> None:
        self.graph = graph
        self._patterns: dict[int, _Pattern] = {}
        self._forest: _Forest | None = None

    # built on first use: the exact path (graphtv.py) needs none of them
    @functools.cached_property
    def B(self) -> sp.csr_matrix:
        return self.graph.incidence()

    @functools.cached_property
    def Bt(self) -> sp.csr_matrix:
        return self.B.T.tocsr()

    @functools.cached_property
    def absBt(self) -> sp.csr_matrix:
        return abs(self.Bt).tocsr()

    def forest(self) -> _Forest:
        if self._forest is None:
            self._forest = _Forest(self.graph)
        return self._forest

    def pattern(self, d: int) -> _Pattern:
        if d not in self._patterns:
            self._patterns[d] = _Pattern(self.graph, d)
        return self._patterns[d]


class _Forest:
    """A maximum-weight spanning forest of the graph, rooted, for the fused closed form.

    ``order`` lists the non-root nodes so that every node comes after its parent;
    ``parent[v]`` is ``v``'s parent (``-1`` for a root), ``edge[v]`` the index of the edge
    ``(v, parent[v])`` in the graph and ``sign[v]`` ``+1`` when ``v`` is that edge's first
    node (``(B U)_e = u_v - u_parent``), ``-1`` otherwise. ``component[v]`` labels the
    connected components of the graph (those of the forest), ``0 .. count - 1``.
    """

    def __init__(self, graph: WeightGraph) -> None:
        n, m = graph.n_points, graph.n_edges
        i, j = graph.edges[:, 0], graph.edges[:, 1]
        # Kruskal depends on the order of the weights only: ranks (heaviest = 1) stand in
        # for them, so no weight can underflow or overflow on the way
        rank = np.empty(m)
        rank[np.argsort(-graph.weights, kind="stable")] = np.arange(1.0, m + 1.0)
        tree = minimum_spanning_tree(sp.coo_matrix((rank, (i, j)), shape=(n, n))).tocoo()
        edge_of_rank = np.argsort(-graph.weights, kind="stable")
        tree_edges = edge_of_rank[tree.data.astype(np.int64) - 1]
        self.count, self.component = connected_components(tree, directed=False)
        _, roots = np.unique(self.component, return_index=True)
        # one virtual node n joins every root, so one breadth-first search orders all trees
        a = np.concatenate([i[tree_edges], np.full(roots.size, n)])
        b = np.concatenate([j[tree_edges], roots])
        tag = np.concatenate([tree_edges + 1, np.zeros(roots.size, np.int64)])
        links = sp.coo_matrix((np.ones(a.size), (a, b)), shape=(n + 1, n + 1)).tocsr()
        order, parent = breadth_first_order(links, n, directed=False, return_predecessors=True)
        self.order = order[1:]
        self.parent = np.where(parent[:n] == n, -1, parent[:n])
        # the edge of each (child, parent) link, looked up in a symmetric index matrix
        index = sp.coo_matrix((tag, (a, b)), shape=(n + 1, n + 1)).tocsr()
        index = (index + index.T).tocsr()
        nodes = np.arange(n)
        found = np.asarray(index[nodes, np.where(self.parent < 0, n, self.parent)]).ravel()
        self.edge = found.astype(np.int64) - 1  # -1 for roots
        self.sign = np.where(self.edge >= 0, np.where(i[self.edge] == nodes, 1.0, -1.0), 0.0)


def fused_solution(x: Array, ops: _Operators, lam: float) -> SolverState | None:
    """The exact minimiser of (1) when ``lam`` is past the fusion point of every connected
    component, with its certificate; ``None`` when this cannot be certified.

    Candidate: every point at its component's mean, ``U = M``. It is optimal iff some flow
    ``Y`` with ``|Y_ek| <= lam w_e`` has ``B^T Y = X - M`` (then ``Y`` is dual feasible and
    ``P(M) = D(Y)``). On a spanning forest that flow is unique: the edge from ``v`` to its
    parent carries the sum of ``x - m`` over ``v``'s subtree (each component's sum is 0, so
    nothing leaves a tree). When that fits every tree edge's bound, ``M`` is the answer; a
    maximum-weight forest makes the bounds as loose as they can be. The test costs
    ``O(n d)`` (the forest is built once per graph), against a solve that at a huge
    ``lam`` is slow: every penalty term there is ``lam`` times a round-off error.
    """
    start = time.perf_counter()
    forest = ops.forest()
    weights = ops.graph.weights
    d = x.shape[1]
    sizes = np.bincount(forest.component, minlength=forest.count).astype(np.float64)
    means = np.zeros((forest.count, d))
    np.add.at(means, forest.component, x)
    means /= sizes[:, None]
    u = means[forest.component]
    flow = x - u  # becomes each node's subtree sum, leaves first
    parent = forest.parent
    for v in forest.order[::-1]:
        p = parent[v]
        if p >= 0:
            flow[p] += flow[v]
    child = np.flatnonzero(parent >= 0)
    edge = forest.edge[child]
    with np.errstate(over="ignore"):
        bound = lam * weights[edge]
    if not (np.abs(flow[child]).max(1, initial=0.0) <= bound).all():
        return None
    y = np.zeros((ops.graph.n_edges, d))
    y[edge] = forest.sign[child, None] * flow[child]
    b, bt = ops.B, ops.Bt
    with np.errstate(over="ignore"):
        mu = lam * weights
    primal = primal_objective(x, u, b, np.where(np.isfinite(mu), mu, 0.0))  # B M = 0 exactly
    dual = dual_objective(x, y, b, bt)
    return SolverState(u, y, primal, dual, 0, 0, 0, time.perf_counter() - start, 0.0)


class _Pattern:
    """The sparsity of the block-diagonal Newton matrix for ``d`` coordinates, built once.

    Node ``i`` of coordinate ``k`` is ``i * d + k``. Entry ``(e, k)`` of an ``(m, d)`` edge array
    lands at ``forward[e * d + k]`` and ``backward[e * d + k]`` of the CSR data (the two
    off-diagonal entries), node ``p``'s diagonal at ``diagonal[p]``; each Newton step only
    writes values into a copy of the data.
    """

    def __init__(self, graph: WeightGraph, d: int) -> None:
        n, m = graph.n_points, graph.n_edges
        size = n * d
        k = np.tile(np.arange(d), m)
        i = np.repeat(graph.edges[:, 0], d) * d + k
        j = np.repeat(graph.edges[:, 1], d) * d + k
        rows = np.concatenate([i, j, np.arange(size)])
        cols = np.concatenate([j, i, np.arange(size)])
        tags = np.arange(rows.size, dtype=np.float64) + 1.0  # where each entry ends up
        matrix = sp.csr_matrix((tags, (rows, cols)), shape=(size, size))
        matrix.sort_indices()
        where = np.empty(rows.size, dtype=np.int64)
        where[matrix.data.astype(np.int64) - 1] = np.arange(rows.size)
        self.forward, self.backward = where[: m * d], where[m * d : 2 * m * d]
        self.diagonal = where[2 * m * d :]
        self.indices, self.indptr, self.size = matrix.indices, matrix.indptr, size
        # the same without the diagonal, for the fused components
        off = sp.csr_matrix(
            (tags[: 2 * m * d], (rows[: 2 * m * d], cols[: 2 * m * d])), shape=(size, size)
        )
        off.sort_indices()
        where_off = np.empty(2 * m * d, dtype=np.int64)
        where_off[off.data.astype(np.int64) - 1] = np.arange(2 * m * d)
        self.off_forward, self.off_backward = where_off[: m * d], where_off[m * d :]
        self.off_indices, self.off_indptr = off.indices, off.indptr


def primal_objective(x: Array, u: Array, b: sp.csr_matrix, mu: Array) -> float:
    """(1): ``1/2 ||U - X||^2 + sum_e mu_e ||(B U)_e||_1``."""
    return float(0.5 * ((u - x) ** 2).sum() + (mu[:, None] * np.abs(b @ u)).sum())


def dual_objective(x: Array, y: Array, b: sp.csr_matrix, bt: sp.csr_matrix) -> float:
    """(2): ``<Y, B X> - 1/2 ||B^T Y||^2`` (a lower bound on P* for any feasible ``Y``)."""
    bty = bt @ y
    return float((bty * x).sum() - 0.5 * (bty**2).sum())


def _coldot(a: Array, b: Array) -> Array:
    """Per-column dot products of two ``(n, d)`` arrays."""
    return np.einsum("ij,ij->j", a, b)


def _pcg(
    apply: Callable[[Array], Array],
    rhs: Array,
    precondition: Callable[[Array], Array],
    rtol: float,
    max_iter: int,
) -> tuple[Array, int]:
    """Preconditioned conjugate gradients on every column of ``rhs`` at once."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    target = rtol * np.sqrt(_coldot(rhs, rhs))
    z = precondition(r)
    p = z.copy()
    rz = _coldot(r, z)
    for it in range(1, max_iter + 1):
        ap = apply(p)
        pap = _coldot(p, ap)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        x += alpha * p
        r -= alpha * ap
        if (np.sqrt(_coldot(r, r)) <= target).all():
            return x, it
        z = precondition(r)
        rz_new = _coldot(r, z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        rz = rz_new
        p = z + beta * p
    return x, max_iter


def solve_ssnal(
    x: Array,
    ops: _Operators,
    lam: float,
    *,
    tol: float = 1e-9,
    u0: Array | None = None,
    y0: Array | None = None,
    sigma0: float | None = None,
    max_newton: int = 500,
    time_limit: float | None = None,
) -> SolverState:
    """Minimise (1) until the relative duality gap ``(P - D) / max(1, |P|)`` is ``<= tol``.

    ``u0``/``y0`` warm-start (``y0`` is clipped to the new ``mu``). Returns the last iterate
    with its certificate whether or not ``tol`` was reached (check ``relative_gap``).
    """
    start = time.perf_counter()
    b, bt = ops.B, ops.Bt
    if b.shape[0] and lam > 0.0:
        fused = fused_solution(x, ops, lam)
        if fused is not None:
            return fused
    mu = lam * ops.graph.weights
    mu_col = mu[:, None]
    u = x.copy() if u0 is None else u0.copy()
    y = np.zeros((b.shape[0], x.shape[1])) if y0 is None else np.clip(y0, -mu_col, mu_col)
    # sigma: the scale at which the fused-edge Laplacian starts to matter against the identity
    degree = float(np.bincount(ops.graph.edges.reshape(-1)).max()) if b.shape[0] else 1.0
    sigma = sigma0 if sigma0 is not None else 10.0 / max(degree, 1.0)
    sigma_max = 1e6 * sigma

    primal = primal_objective(x, u, b, mu)
    dual = dual_objective(x, y, b, bt)
    newton = outer = cg_total = 0
    if b.shape[0] == 0 or lam == 0.0:
        return SolverState(x.copy(), np.zeros_like(y), 0.0, 0.0, 0, 0, 0, 0.0, sigma)

    def rel_gap(p: float, d: float) -> float:
        return max(p - d, 0.0) / max(1.0, abs(p))

    while rel_gap(primal, dual) > tol and newton < max_newton:
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
        outer += 1
        # (3): semismooth Newton on phi, to a gradient tolerance tied to the current gap
        inner_tol = max(0.1 * math.sqrt(max(primal - dual, 0.0)), 1e-14 * (1.0 + np.abs(x).max()))
        v = sigma * (b @ u) + y
        grad = u - x + bt @ np.clip(v, -mu_col, mu_col)
        for _ in range(50):
            gnorm = math.sqrt(float((grad**2).sum()))
            if gnorm <= inner_tol or newton >= max_newton:
                break
            hessian, precondition = _newton_system(ops, np.abs(v) < mu_col, sigma)

            def apply(p: Array, hessian: sp.csr_matrix = hessian) -> Array:
                return (hessian @ p.reshape(-1)).reshape(p.shape)

            step, its = _pcg(apply, -grad, precondition, rtol=min(0.1, gnorm), max_iter=200)
            cg_total += its
            newton += 1
            b_step = b @ step
            alpha = _exact_step(u - x, grad, step, v, sigma * b_step, b_step, mu_col)
            u = u + alpha * step
            v = v + (alpha * sigma) * b_step  # = sigma B u + y, without another product
            grad = u - x + bt @ np.clip(v, -mu_col, mu_col)
        # (4): the multiplier update keeps Y dual feasible
        y = np.clip(v, -mu_col, mu_col)
        primal = primal_objective(x, u, b, mu)
        dual = dual_objective(x, y, b, bt)
        # the dual's own primal point can beat U; keep the better certificate
        u_dual = x - bt @ y
        p_dual = primal_objective(x, u_dual, b, mu)
        if p_dual < primal:
            u, primal = u_dual, p_dual
        u_snap = _snapped(u, ops, np.abs(v) < mu_col)
        p_snap = primal_objective(x, u_snap, b, mu)
        if p_snap < primal:
            u, primal = u_snap, p_snap
        # a larger sigma makes (4) converge faster and the Newton systems harder; tripling per
        # outer iteration was the best trade-off measured (docs: solver choices)
        sigma = min(sigma * 3.0, sigma_max)
    return SolverState(
        u, y, primal, dual, newton, outer, cg_total, time.perf_counter() - start, sigma
    )


def _fused_components(ops: _Operators, fused: Array) -> tuple[int, Array]:
    """Connected components of the fused edges ``(m, d)`` per coordinate, as labels of the
    ``n * d`` nodes (node ``i`` of coordinate ``k`` is ``i * d + k``)."""
    pattern = ops.pattern(fused.shape[1])
    flat_theta = fused.astype(np.float64).reshape(-1)
    off = np.empty(pattern.off_indices.size)
    off[pattern.off_forward] = flat_theta
    off[pattern.off_backward] = flat_theta
    adjacency = sp.csr_matrix(  # a copy: eliminate_zeros compacts the index arrays in place
        (off, pattern.off_indices.copy(), pattern.off_indptr.copy()),
        shape=(pattern.size, pattern.size),
    )
    adjacency.eliminate_zeros()
    count, flat = connected_components(adjacency, directed=False)
    return int(count), flat


def _snapped(u: Array, ops: _Operators, fused: Array) -> Array:
    """``u`` with the rows of every fused component (per coordinate) set to their mean: the
    iterate's fused edges differ by round-off only, and at a large ``lam`` that round-off
    times ``mu`` is what keeps the primal objective (and so the gap) from converging."""
    count, flat = _fused_components(ops, fused)
    sizes = np.bincount(flat, minlength=count).astype(np.float64)
    means = np.bincount(flat, weights=u.reshape(-1), minlength=count) / sizes
    return np.asarray(means[flat].reshape(u.shape))


def _newton_system(
    ops: _Operators, fused: Array, sigma: float
) -> tuple[sp.csr_matrix, Callable[[Array], Array]]:
    """The Newton matrix ``I + sigma B^T Theta B`` of every coordinate as one block-diagonal
    matrix on ``n * d`` nodes (node ``i`` of coordinate ``k`` is ``i * d + k``, so an ``(n, d)``
    array is its vector as is), and its two-level preconditioner.

    The matrix is block diagonal over the connected components of the fused edges; on a
    component ``C`` the constant vector has ``1^T H 1 = |C|``, so the coarse solve is a mean.
    Jacobi alone sees that mode with eigenvalue ``~1/(1 + sigma deg)``; with the correction
    (Jacobi plus the component means) the condition number no longer grows with ``sigma``.
    """
    n, d = ops.graph.n_points, fused.shape[1]
    pattern = ops.pattern(d)
    theta = fused.astype(np.float64)
    degree = ops.absBt @ theta  # (n, d): fused edges at each node
    diag = 1.0 + sigma * degree
    data = np.empty(pattern.indices.size)
    flat_theta = theta.reshape(-1)
    data[pattern.forward] = -sigma * flat_theta
    data[pattern.backward] = -sigma * flat_theta
    data[pattern.diagonal] = diag.reshape(-1)
    shape = (pattern.size, pattern.size)
    hessian = sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=shape)
    count, flat = _fused_components(ops, fused)
    sizes = np.bincount(flat, minlength=count).astype(np.float64)
    inv_diag = 1.0 / diag
    labels = flat.reshape(n, d)

    def precondition(r: Array) -> Array:
        means = np.bincount(flat, weights=r.reshape(-1), minlength=count) / sizes
        return r * inv_diag + means[labels]

    return hessian, precondition


def _exact_step(
    residual: Array,
    gradient: Array,
    step: Array,
    v: Array,
    dv: Array,
    b_step: Array,
    mu: Array,
) -> float:
    """The exact minimiser over ``alpha >= 0`` of ``phi(U + alpha dU)``, a convex piecewise
    quadratic in ``alpha``: the root of its derivative
    ``f(alpha) = <U - X, dU> + alpha ||dU||^2 + sum clip(V + alpha dV, -mu, mu) * (B dU)``,
    which is piecewise linear and non-decreasing; found by Newton steps safeguarded by bisection.
    Cheaper than backtracking (no sparse product per trial) and never cuts a good step short.
    """
    base = float(np.einsum("ij,ij->", residual, step))
    curvature = float(np.einsum("ij,ij->", step, step))

    def slope(alpha: float) -> tuple[float, float]:
        w = v + alpha * dv
        inside = np.abs(w) < mu
        value = base + alpha * curvature + float(np.einsum("ij,ij->", np.clip(w, -mu, mu), b_step))
        return value, curvature + float(np.einsum("ij,ij,ij->", inside, dv, b_step))

    f0 = float(np.einsum("ij,ij->", gradient, step))  # = f(0)
    if f0 >= 0:  # not a descent direction (round-off at the optimum): stay
        return 0.0
    lo, hi = 0.0, 1.0
    f_hi, d_hi = slope(hi)
    while f_hi < 0 and hi < 1e12:
        lo, hi = hi, 2.0 * hi
        f_hi, d_hi = slope(hi)
    alpha, f, d = hi, f_hi, d_hi
    for _ in range(60):
        if abs(f) <= 1e-3 * abs(f0) or hi - lo <= 1e-12 * hi:  # exact enough for descent
            break
        if f > 0:
            hi = alpha
        else:
            lo = alpha
        guess = alpha - f / d if d > 0 else -1.0
        alpha = guess if lo < guess < hi else 0.5 * (lo + hi)
        f, d = slope(alpha)
    return alpha
