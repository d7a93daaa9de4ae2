"""The exact path: weighted-l1 convex clustering as ``d`` graph total-variation problems, each
solved exactly by a divide-and-conquer over min-cuts, with a duality-gap certificate.

Per coordinate (equation numbers as in docs/plugins/convexclust.md)::

    (8)  min_u  1/2 ||u - x||^2 + sum_e mu_e |u_i - u_j|,      mu_e = lambda w_e

**Divide and conquer** (the decomposition algorithm for separable objectives plus a cut
function: Groenevelt; Fujishige; Hochbaum 2001; Chambolle & Darbon 2009 solve the same
problem by parametric max-flow). For a group ``A`` of nodes with (shifted) data ``x'``, put
``t = mean(x'_A)`` and find a minimiser ``S`` of ``sum_{i in S} (t - x'_i) + cut_A(S)`` (one
s-t min-cut). Level-set optimality gives ``u*_i >= t`` on ``S`` and ``u*_i <= t`` off it. If
``S`` is empty or all of ``A`` (the cut is trivial), every ``u*_i = t``. Otherwise every edge
from ``S`` to ``A \\ S`` carries the dual flow ``y = mu`` from high to low; its endpoints'
data absorb that flow (``x'_i -= mu`` in ``S``, ``x'_j += mu`` off it) and both halves are
solved on, independently. Each split is strictly proper, so it ends; all groups of one depth
go into one min-cut call (they are disjoint), so the calls per coordinate are the depth of
the recursion (17 at n = 100,000 in 2-D).

**The certificate.** Edges cut by a split carry ``y_e = mu_e sign(u_i - u_j)``. Inside a
final group ``G`` (all at ``t``), a flow ``y`` with ``|y_e| <= mu_e`` and net outflow
``x'_i - t`` at each node exists (the cut was trivial: max-flow min-cut); it is found by one
integer max-flow over all final groups (scipy's Dinic, capacities scaled to ``2^30`` and
rounded down, so ``|y_e| <= mu_e`` holds exactly). ``Y`` is then dual feasible, ``D(Y)`` and
``P(U)`` are evaluated as for SSNAL, and ``gap = P - D = 1/2 ||X - U - B^T Y||^2`` is the
rounding of that flow (about ``n (2^-30 max flow)^2``) plus round-off.

Min-cut backends: ``"pymaxflow"`` (Boykov-Kolmogorov on float capacities, the PyMaxflow
package: ``pip install 'xuframe[maxflow]'``) or ``"scipy"`` (scipy's Dinic on capacities
scaled to 30-bit integers: the splits are those of the rounded problem, so the answer is
exact to about ``2^-30`` of the largest capacity, and the certificate says so; about 5x
slower).
"""

from __future__ import annotations

import importlib
import math
import time
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

import xuframe
from xuframe_plugins.convexclust.ssnal import SolverState
from xuframe_plugins.convexclust.weights import WeightGraph

__all__ = ["Backend", "have_pymaxflow", "solve_exact"]

Array = np.ndarray[Any, Any]
Backend = Literal["pymaxflow", "scipy"]

#: Integer capacities for scipy's max-flow are scaled so the largest is this (int32-safe).
_INT_SCALE = float(2**30)


def have_pymaxflow() -> bool:
    """Whether the PyMaxflow package (the ``maxflow`` extra) can be imported."""
    try:
        importlib.import_module("maxflow")
    except ImportError:
        return False
    return True


def _cut_pymaxflow(n: int, a: Array, b: Array, cap: Array, c: Array) -> Array:
    """The source side of a min-cut of ``sum_{i in S} c_i + sum_{cut edges} cap`` (float)."""
    maxflow = xuframe.import_extra("maxflow", "maxflow")
    graph = maxflow.GraphFloat(n, a.size)
    nodes = graph.add_nodes(n)
    if a.size:
        graph.add_edges(a, b, cap, cap)
    graph.add_grid_tedges(nodes, np.maximum(-c, 0.0), np.maximum(c, 0.0))
    graph.maxflow()
    return np.asarray(graph.get_grid_segments(nodes) == 0)


def _flow_network(
    n: int, a: Array, b: Array, cap: Array, supply: Array
) -> tuple[sp.csr_array, Array]:
    """Integer network on ``n + 2`` nodes (source ``n``, sink ``n + 1``): ``supply > 0`` comes
    from the source, ``< 0`` goes to the sink; scaled so the largest capacity is 2^30 and
    rounded down (every scaled capacity stays within its float one)."""
    top = max(float(np.abs(supply).max(initial=0.0)), float(cap.max(initial=0.0)))
    scale = _INT_SCALE / top if top > 0 else 1.0
    icap = np.floor(cap * scale)
    src = np.floor(np.maximum(supply, 0.0) * scale)
    snk = np.floor(np.maximum(-supply, 0.0) * scale)
    nodes = np.arange(n)
    rows = np.concatenate([a, b, np.full(n, n), nodes])
    cols = np.concatenate([b, a, nodes, np.full(n, n + 1)])
    data = np.concatenate([icap, icap, src, snk]).astype(np.int32)
    network = sp.csr_array((data, (rows, cols)), shape=(n + 2, n + 2))
    network.sum_duplicates()
    return network, np.array([scale])


def _cut_scipy(n: int, a: Array, b: Array, cap: Array, c: Array) -> Array:
    """As :func:`_cut_pymaxflow` with scipy's integer Dinic: the source side is what the
    residual network still reaches from the source."""
    network, _ = _flow_network(n, a, b, cap, -c)
    flow = maximum_flow(network, n, n + 1).flow
    residual = (network - flow).tocsr()  # flow is antisymmetric: reverse arcs gain capacity
    residual.data = (residual.data > 0).astype(np.float64)
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, n, directed=True, return_predecessors=False)
    side = np.zeros(n + 2, bool)
    side[reached] = True
    return side[:n]


def _route(n: int, a: Array, b: Array, cap: Array, supply: Array) -> Array:
    """A flow on edges ``(a, b)`` with ``|y| <= cap`` whose net outflow at each node is
    ``supply`` as nearly as 30-bit integers allow (``y > 0``: from ``a`` to ``b``)."""
    if a.size == 0:
        return np.zeros(0)
    # an acyclic flow carries at most the total supply on any edge
    cap = np.minimum(cap, float(np.maximum(supply, 0.0).sum()))
    network, scale = _flow_network(n, a, b, cap, supply)
    flow = maximum_flow(network, n, n + 1).flow.tocsr()
    # flow[a, b] is the (antisymmetric) net flow from a to b
    y = np.asarray(flow[a, b]).ravel().astype(np.float64) / scale[0]
    routed: Array = np.clip(y, -cap, cap)
    return routed


def _solve_column(x: Array, edges: Array, mu: Array, cut: Any) -> tuple[Array, Array, int]:
    """(8) for one coordinate: ``(u, y, min-cut calls)``; ``y`` in the orientation of
    ``edges`` (``y_e > 0``: flow from ``edges[e, 0]`` to ``edges[e, 1]``)."""
    n = x.size
    shifted = x.astype(np.float64).copy()
    group = np.zeros(n, np.int64)
    final = np.zeros(n, bool)
    u = np.empty(n)
    y = np.zeros(edges.shape[0])
    active = np.arange(edges.shape[0])  # edges inside one unsettled group
    settled: list[Array] = []  # edges inside final groups: routed at the end
    local = np.empty(n, np.int64)
    calls = 0
    while not final.all():
        nodes = np.flatnonzero(~final)
        g = group[nodes]
        count = int(g.max()) + 1
        sizes = np.bincount(g, minlength=count)
        level = np.bincount(g, weights=shifted[nodes], minlength=count) / np.maximum(sizes, 1)
        local[nodes] = np.arange(nodes.size)
        ea, eb = edges[active, 0], edges[active, 1]
        if ea.size == 0:  # no edges left: every group's cut is trivial, every node its own
            high = np.zeros(nodes.size, bool)
        else:
            calls += 1
            c = level[g] - shifted[nodes]
            # no min-cut cuts an edge dearer than all the terminal capacity (the trivial cut's
            # price): capping there changes no minimum and keeps a huge lambda finite
            cap = np.minimum(mu[active], 0.5 * float(np.abs(c).sum()))
            high = cut(nodes.size, local[ea], local[eb], cap, c)
        n_high = np.bincount(g, weights=high, minlength=count)
        done = (n_high == 0) | (n_high == sizes)
        ends = done[g]
        u[nodes[ends]] = level[g[ends]]
        final[nodes[ends]] = True
        up = np.zeros(n, bool)
        up[nodes] = high
        inside = ~final[ea]  # both ends share a group, so one test serves both
        settled.append(active[~inside])
        crossing = inside & (up[ea] != up[eb])
        e = active[crossing]
        sign = np.where(up[ea[crossing]], 1.0, -1.0)  # +1: edges[e, 0] is the high end
        y[e] = sign * mu[e]
        np.subtract.at(shifted, ea[crossing], y[e])
        np.add.at(shifted, eb[crossing], y[e])
        active = active[inside & ~crossing]
        left = ~final
        _, group[left] = np.unique(2 * group[left] + up[left], return_inverse=True)
    inner = np.concatenate(settled) if settled else np.zeros(0, np.int64)
    if inner.size:
        supply = shifted - u  # net outflow each final group's internal edges must carry
        y[inner] = _route(n, edges[inner, 0], edges[inner, 1], mu[inner], supply)
    return u, y, calls


def objectives(x: Array, u: Array, y: Array, graph: WeightGraph, mu: Array) -> tuple[float, float]:
    """``(P(U), D(Y))`` of (1)-(2) from the edge list (no incidence matrix)."""
    i, j = graph.edges[:, 0], graph.edges[:, 1]
    primal = 0.5 * float(((u - x) ** 2).sum()) + float((mu[:, None] * np.abs(u[i] - u[j])).sum())
    bty = np.zeros_like(x)  # B^T Y: + y at the first end of each edge, - y at the second
    np.add.at(bty, i, y)
    np.subtract.at(bty, j, y)
    dual = float((bty * x).sum()) - 0.5 * float((bty**2).sum())
    return primal, dual


def solve_exact(x: Array, graph: WeightGraph, lam: float, backend: Backend) -> SolverState:
    """Minimise (1) exactly, coordinate by coordinate, by min-cuts; the state carries the
    certificate ``P(U) - D(Y)`` and in ``newton_steps`` the number of min-cut calls.

    ``x`` ``(n, d)`` finite; ``lam * graph.weights`` finite. ``backend="pymaxflow"`` raises
    :class:`~xuframe.errors.MissingExtraError` naming the ``maxflow`` extra when PyMaxflow is
    not installed.
    """
    start = time.perf_counter()
    cut = _cut_pymaxflow if backend == "pymaxflow" else _cut_scipy
    if backend == "pymaxflow":
        xuframe.import_extra("maxflow", "maxflow")  # fail before any work
    mu = lam * graph.weights
    n, d = x.shape
    u = np.empty((n, d))
    y = np.empty((graph.n_edges, d))
    calls = 0
    for k in range(d):
        u[:, k], y[:, k], c = _solve_column(x[:, k], graph.edges, mu, cut)
        calls += c
    primal, dual = objectives(x, u, y, graph, mu)
    if not math.isfinite(primal - dual):
        dual = -math.inf
    return SolverState(u, y, primal, dual, calls, calls, 0, time.perf_counter() - start, 0.0)
