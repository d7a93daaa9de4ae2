from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.data import make_blobs
from xuframe.errors import InputError
from xuframe.metrics import adjusted_rand_index
from xuframe_plugins.convexclust import (
    ConvexClustering,
    ConvexClusteringProblem,
    WeightGraph,
    as_weight_graph,
    dense_weights,
    fuse_rows,
    knn_weights,
    recovery_interval,
    uniform_weights,
)

cp = pytest.importorskip("cvxpy")

TIGHT = ConvexClustering.from_config({"tol": 1e-12, "method": "ssnal"})

#: Every solver path; the property tests run on each (issue 26).
PATHS = ["ssnal", "maxflow", "maxflow-scipy"]


def tight(method, tol=1e-12):
    if method == "maxflow":
        pytest.importorskip("maxflow")  # PyMaxflow, the maxflow extra
    return ConvexClustering.from_config({"tol": tol, "method": method})


def reference(points, lam, graph):
    """cvxpy + Clarabel on the same objective: the independent reference solver."""
    n, d = points.shape
    u = cp.Variable((n, d))
    i, j = graph.edges[:, 0], graph.edges[:, 1]
    penalty = cp.sum(cp.multiply(graph.weights[:, None], cp.abs(u[i] - u[j])))
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(u - points) + lam * penalty))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return problem.value, u.value


def weights_for(kind, points):
    if kind == "knn":
        return knn_weights(points, k=4)
    if kind == "dense":
        return dense_weights(points)
    return uniform_weights(points.shape[0])


instances = st.tuples(
    st.integers(4, 18),  # n
    st.integers(1, 3),  # d
    st.integers(0, 10_000),  # seed
    st.sampled_from(["knn", "dense", "uniform"]),
    st.floats(0.01, 2.0),  # lambda, scaled by the weights below
)


@pytest.mark.parametrize("method", PATHS)
@settings(max_examples=25, deadline=None)
@given(case=instances)
def test_matches_the_cvxpy_clarabel_reference(method, case):
    n, d, seed, kind, lam = case
    points = np.random.default_rng(seed).normal(size=(n, d)) * 3
    graph = weights_for(kind, points)
    lam = lam / graph.weights.mean() / (n if kind != "knn" else 4)
    result = tight(method).solve(ConvexClusteringProblem(points, lam, graph))
    ref_value, ref_u = reference(points, lam, graph)
    assert abs(result.objective - ref_value) <= 1e-6 * max(1.0, abs(ref_value))
    # the certificate holds: the objective is within the gap of the optimum (and of Clarabel's)
    assert result.residual <= 1e-10
    assert result.objective - ref_value <= result.residual * max(1.0, abs(result.objective)) + 1e-8
    np.testing.assert_allclose(result.centroids, ref_u, atol=1e-4 * (1 + np.abs(points).max()))


@pytest.mark.parametrize("method", PATHS)
def test_lambda_zero_gives_the_data_and_large_lambda_the_mean(method):
    points = np.random.default_rng(1).normal(size=(60, 2))  # one cloud: a connected 5-NN graph
    graph = knn_weights(points, 5)
    zero = tight(method, 1e-8).solve(ConvexClusteringProblem(points, 0.0, graph))
    np.testing.assert_array_equal(zero.centroids, points)
    assert zero.n_clusters == 60
    # any cut S of a connected graph carries at least min(w); sum_S (x - mean) <= n * range
    assert sp.csgraph.connected_components(graph.adjacency())[0] == 1
    big = 2 * 60 * np.ptp(points) / graph.weights.min()
    one = tight(method).solve(ConvexClusteringProblem(points, big, graph))
    assert one.n_clusters == 1
    np.testing.assert_allclose(
        one.centroids, np.broadcast_to(points.mean(0), points.shape), atol=1e-6
    )


@pytest.mark.parametrize("method", PATHS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), lam=st.floats(0.05, 3.0))
def test_permuting_points_permutes_and_translating_translates(method, seed, lam):
    solver = tight(method)
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(15, 2)) * 2
    graph = dense_weights(points, phi=0.3)
    base = solver.solve(ConvexClusteringProblem(points, lam, graph))
    perm = rng.permutation(15)
    inverse = np.argsort(perm)
    edges = np.sort(inverse[graph.edges], axis=1)  # point p of the original is point inverse[p]
    permuted = WeightGraph(15, edges, graph.weights)
    moved = solver.solve(ConvexClusteringProblem(points[perm], lam, permuted))
    np.testing.assert_allclose(moved.centroids, base.centroids[perm], atol=1e-6)
    assert adjusted_rand_index(moved.labels, base.labels[perm]) == 1.0
    shift = rng.normal(size=2) * 10
    shifted = solver.solve(ConvexClusteringProblem(points + shift, lam, graph))
    np.testing.assert_allclose(shifted.centroids, base.centroids + shift, atol=1e-6)


@pytest.mark.parametrize("method", PATHS)
def test_the_mean_is_preserved(method):
    """sum_i (x_i - u_i) = sum_i (B^T Y)_i = 0: U keeps the data's mean for any lambda."""
    points, _ = make_blobs(80, 4, 3, seed=2)
    for lam in (0.01, 0.3, 3.0):
        result = tight(method).solve(ConvexClusteringProblem(points, lam))
        np.testing.assert_allclose(result.centroids.mean(0), points.mean(0), atol=1e-9)


def separated_clusters(draw_sizes, d, seed, separation):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(draw_sizes), d))
    centres *= separation / max(
        1e-9,
        np.abs(centres[:, None] - centres[None]).max(2)[np.triu_indices(len(draw_sizes), 1)].min(),
    )
    points = np.concatenate(
        [c + rng.uniform(-1, 1, size=(s, d)) for c, s in zip(centres, draw_sizes, strict=True)]
    )
    labels = np.repeat(np.arange(len(draw_sizes)), draw_sizes)
    return points, labels


@pytest.mark.parametrize("method", PATHS)
@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 8), min_size=2, max_size=4),
    d=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["uniform", "gaussian"]),
    frac=st.floats(0.0, 0.999),
)
def test_exact_recovery_for_every_lambda_in_the_interval(method, sizes, d, seed, kind, frac):
    """The theorem as a property: inside [lam_min, lam_max) the clusters are exactly the truth,
    and every point of a cluster has the same row of U."""
    points, truth = separated_clusters(sizes, d, seed, separation=60.0)
    graph = uniform_weights(len(points)) if kind == "uniform" else dense_weights(points, phi=0.2)
    interval = recovery_interval(points, truth, graph)
    assume(not interval.empty)
    top = min(interval.lam_max, 4 * interval.lam_min + 1e-3)
    lam = interval.lam_min + frac * (top - interval.lam_min)
    result = tight(method).solve(ConvexClusteringProblem(points, lam, graph))
    assert adjusted_rand_index(truth, result.labels) == 1.0
    assert result.n_clusters == len(sizes)
    for t in range(len(sizes)):
        rows = result.centroids[truth == t]
        assert np.abs(rows - rows[0]).max() <= 1e-5 * (1 + np.abs(points).max())


def test_uniform_weights_give_the_classical_interval():
    points, truth = separated_clusters([5, 7, 4], 2, 0, separation=40.0)
    n = len(points)
    interval = recovery_interval(points, truth, uniform_weights(n))
    sizes = np.bincount(truth)
    classical_min = max(np.ptp(points[truth == a], 0).max() / sizes[a] for a in range(3))
    centres = np.stack([points[truth == a].mean(0) for a in range(3)])
    classical_max = min(
        np.abs(centres[a] - centres[b]).max() / (2 * n - sizes[a] - sizes[b])
        for a in range(3)
        for b in range(a + 1, 3)
    )
    np.testing.assert_allclose(interval.fiedler, sizes)  # lambda_2 of K_n is n
    np.testing.assert_allclose(interval.delta, 0, atol=1e-12)
    assert interval.lam_min <= classical_min + 1e-12  # the s_k term can only sharpen it
    assert interval.lam_max == pytest.approx(classical_max)


def test_no_recovery_certified_when_a_cluster_is_disconnected():
    points, truth = separated_clusters([4, 4], 2, 1, separation=50.0)
    graph = WeightGraph(8, np.array([[0, 1], [2, 3], [4, 5], [6, 7]]), np.ones(4))  # pairs only
    interval = recovery_interval(points, truth, graph)
    assert interval.empty and math.isinf(interval.lam_min)


def test_fuse_rows_merges_equal_rows_the_graph_does_not_tie():
    u = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 1e-9], [5.0, 5.0]])
    graph = WeightGraph(4, np.array([[0, 1], [2, 3]]), np.ones(2))  # equal rows never adjacent
    np.testing.assert_array_equal(fuse_rows(u, graph, 1e-6), [0, 1, 0, 1])
    np.testing.assert_array_equal(fuse_rows(u, graph, 1e-12), [0, 1, 2, 1])


@pytest.mark.parametrize("method", PATHS)
def test_path_warm_starts_agree_with_cold_solves_and_the_fusion_lambda(method):
    points, truth = separated_clusters([6, 6, 6], 2, 3, separation=30.0)
    graph = knn_weights(points, 4)  # no edge between clusters: they never merge
    solver = tight(method, 1e-11)
    lams = [0.05, 0.2, 0.5, 1.0, 3.0]
    path = solver.solve_path(points, lams, graph)
    for lam, result in zip(lams, path.results, strict=True):
        cold = solver.solve(ConvexClusteringProblem(points, lam, graph))
        assert result.objective == pytest.approx(cold.objective, rel=1e-9)
    assert path.n_clusters[-1] == 3
    lam_fuse = solver.fusion_lambda(points, truth, graph, rtol=1e-3)
    at = solver.solve(ConvexClusteringProblem(points, lam_fuse, graph))
    below = solver.solve(ConvexClusteringProblem(points, lam_fuse * 0.99, graph))
    assert at.n_clusters == 3 and adjusted_rand_index(truth, at.labels) == 1.0
    assert below.n_clusters > 3


def test_fit_predict_and_registry():
    points, truth = make_blobs(120, 3, 2, std=0.5, separation=15.0, seed=4)
    solver = xuframe.create("solver", "convexclust")
    labels = solver.fit_predict(points, 10.0)
    assert labels.shape == (120,) and solver.result_.residual <= 1e-8
    assert adjusted_rand_index(truth, labels) == 1.0


def test_path_plot_writes_a_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    points, truth = make_blobs(30, 3, 2, seed=5)
    path = ConvexClustering().solve_path(points, [0.01, 0.1, 1.0])
    ax = path.plot(points, labels=truth)
    ax.figure.savefig(tmp_path / "path.png")
    assert (tmp_path / "path.png").stat().st_size > 1000


def test_weight_graphs():
    points, _ = make_blobs(50, 2, 3, seed=6)
    graph = knn_weights(points, 5)
    assert (graph.edges[:, 0] < graph.edges[:, 1]).all()
    degree = np.bincount(graph.edges.reshape(-1), minlength=50)
    assert degree.min() >= 5  # each point keeps its own 5 neighbours
    again = as_weight_graph(graph.adjacency(), 50)
    order = np.lexsort(graph.edges.T[::-1])
    np.testing.assert_array_equal(again.edges, graph.edges[order])
    np.testing.assert_allclose(again.weights, graph.weights[order])
    far = dense_weights(np.array([[0.0], [1e6]]), phi=1.0)
    assert far.weights[0] > 0  # underflow would silently drop the edge


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ConvexClusteringProblem([[0.0, 1.0], [np.nan, 0.0]], 1.0), "finite"),
        (lambda: ConvexClusteringProblem([[0.0], [1.0]], -1.0), "lam"),
        (lambda: ConvexClusteringProblem([[0.0], [1.0]], 1.0, np.ones((3, 3))), r"\(2, 2\)"),
        (lambda: ConvexClusteringProblem([[0.0], [1.0]], 1.0, "knn"), "WeightGraph"),
        (lambda: WeightGraph(3, np.array([[1, 0]]), np.ones(1)), "i < j"),
        (lambda: WeightGraph(3, np.array([[0, 1]]), np.array([0.0])), "> 0"),
        (lambda: as_weight_graph(np.array([[0, 1.0], [2.0, 0]]), 2), "symmetric"),
        (lambda: recovery_interval([[0.0], [1.0]], [0], uniform_weights(2)), "labels"),
    ],
)
def test_bad_input_is_named(make, match):
    with pytest.raises(InputError, match=match):
        make()


# -- issue 20: huge lambda, bounded time, bad input -----------------------------------


def _component_means(points, graph):
    count, comp = sp.csgraph.connected_components(graph.adjacency(), directed=False)
    means = np.stack([points[comp == c].mean(0) for c in range(count)])
    return count, means[comp]


@pytest.mark.parametrize("method", PATHS)
@pytest.mark.parametrize("lam", [1e20, 1e100, 1.7e308])
def test_a_huge_lambda_returns_the_component_means_at_once_with_a_zero_gap(lam, method):
    points = make_blobs(60, 3, dim=2, seed=0)[0]
    solver = tight(method, 1e-8)
    labels = solver.fit_predict(points, lam)
    result = solver.result_
    count, means = _component_means(points, knn_weights(points))
    assert result.n_clusters == count == np.unique(labels).size
    np.testing.assert_allclose(result.centroids, means, rtol=0, atol=1e-12)
    assert result.residual <= 1e-14
    assert result.seconds < 1.0
    one = solver.solve(
        ConvexClusteringProblem(points, lam, dense_weights(points))
    )  # a connected graph: every point at the mean
    assert one.n_clusters == 1
    np.testing.assert_allclose(one.centroids, points.mean(0)[None].repeat(60, 0), atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(instances)
def test_the_closed_form_past_the_fusion_point_matches_the_reference(case):
    from xuframe_plugins.convexclust.ssnal import _Operators, fused_solution

    n, d, seed, kind, _ = case
    points = np.random.default_rng(seed).normal(size=(n, d))
    graph = weights_for(kind, points)
    ops = _Operators(graph)
    lo, hi = 0.0, 1.0
    while fused_solution(points, ops, hi) is None:
        lo, hi = hi, 2.0 * hi
    for _ in range(40):  # the least lambda the forest certifies, to 1e-12 relative
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fused_solution(points, ops, mid) is not None else (mid, hi)
    lam = hi * 1.01
    result = TIGHT.solve(ConvexClusteringProblem(points, lam, graph))
    assert result.iterations == 0 and result.residual <= 1e-13
    value, _ = reference(points, lam, graph)
    assert result.objective == pytest.approx(value, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("method", PATHS)
def test_large_lambdas_below_the_fusion_point_converge_in_bounded_time(method):
    # a 5-NN graph whose weakest edges are ~4e-4: the fusion point is ~2e5, and lambdas of
    # 1e3 .. 1e5 used to run all 2000 Newton steps (15 s each) without reaching the tolerance
    points = make_blobs(80, 3, dim=2, seed=1)[0]
    graph = knn_weights(points, 5)
    for lam in (1e3, 1e4, 1e5):
        result = tight(method, 1e-8).solve(ConvexClusteringProblem(points, lam, graph))
        assert result.residual <= 1e-8
        assert result.iterations < 200
        value, _ = reference(points, lam, graph)
        assert result.objective == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(
    "points",
    [
        [["a", "b"], ["c", "d"]],
        [[0.0, 1.0], [2.0]],
        np.zeros((3, 0)),
        np.zeros((0, 2)),
        np.zeros(4),
        1e200 * make_blobs(20, 2, dim=2, seed=0)[0],
        [[0.0, np.inf], [1.0, 2.0]],
        [[True, False], [False, True]],
    ],
    ids=["strings", "ragged", "zero-dim", "empty", "1-d", "1e200", "inf", "bool"],
)
def test_bad_points_are_refused(points):
    with pytest.raises(InputError, match="points"):
        ConvexClustering().fit_predict(points, 1.0)


@pytest.mark.parametrize("lam", [np.nan, np.inf, -1.0, "1.0", True, None, [1.0]])
def test_bad_lambdas_are_refused(lam):
    points = make_blobs(20, 2, dim=2, seed=0)[0]
    with pytest.raises(InputError, match="lam"):
        ConvexClustering().fit_predict(points, lam)
    with pytest.raises(InputError, match="lam"):
        ConvexClustering().solve_path(points, [0.1, lam])


@pytest.mark.parametrize(
    "fill",
    [np.nan, np.inf, -1.0],
    ids=["nan", "inf", "negative"],
)
def test_bad_weight_matrices_are_refused(fill):
    points = make_blobs(10, 2, dim=2, seed=0)[0]
    every = np.full((10, 10), fill)
    one = np.ones((10, 10))
    one[2, 3] = one[3, 2] = fill
    for weights in (every, one, sp.csr_matrix(one)):
        with pytest.raises(InputError, match="weights"):
            ConvexClustering().fit_predict(points, 1.0, weights)
    with pytest.raises(InputError, match="weights"):
        ConvexClustering().fit_predict(points, 1.0, np.full((10, 10), "x"))


def test_other_entry_points_refuse_bad_input_and_accept_numpy_ints():
    points = make_blobs(20, 2, dim=2, seed=0)[0]
    assert knn_weights(points, np.int64(3)).n_points == 20
    assert uniform_weights(np.int64(4)).n_edges == 6
    bad = [
        lambda: knn_weights(points, 2.5),
        lambda: knn_weights(points, 3, phi=np.nan),
        lambda: uniform_weights(-1),
        lambda: ConvexClustering().solve_path(points, []),
        lambda: ConvexClustering().solve_path(points, 5),
        lambda: ConvexClustering().fusion_lambda(points, np.zeros(20), rtol=np.nan),
        lambda: ConvexClustering().fusion_lambda(points, [0.5] * 20),
        lambda: fuse_rows(np.full((20, 2), np.nan), knn_weights(points), 0.1),
        lambda: fuse_rows(points, knn_weights(points), -1.0),
        lambda: recovery_interval(points, ["a"] * 20, uniform_weights(20)),
        lambda: WeightGraph(3, [["0", "1"]], [1.0]),
        lambda: WeightGraph(3, [[0, 1]], ["x"]),
        lambda: ConvexClusteringProblem(points, 1e300, np.full((20, 20), 1e10)),
    ]
    for make in bad:
        with pytest.raises(InputError):
            make()


@pytest.mark.parametrize(
    "config",
    [{"tol": np.nan}, {"tol": -1.0}, {"tol": np.inf}, {"time_limit": np.nan}, {"time_limit": 0.0}],
)
def test_bad_config_is_refused_when_built(config):
    with pytest.raises(xuframe.errors.ConfigError):
        ConvexClustering.from_config(config)


# -- issue 26: k-NN weights in chunks, the exact graph-TV path --------------------------


def _brute_knn_pairs(points, k):
    """Every (i, j), i < j, with j among i's k nearest others or i among j's (ties by index)."""
    from scipy.spatial.distance import cdist

    dist = cdist(points, points)
    np.fill_diagonal(dist, np.inf)
    n = len(points)
    near = np.argsort(dist, axis=1, kind="stable")[:, :k]
    pairs = {(min(i, j), max(i, j)) for i in range(n) for j in near[i]}
    return sorted(pairs)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 60), st.integers(1, 3), st.integers(1, 8), st.integers(0, 10_000))
def test_chunked_knn_weights_match_brute_force(n, d, k, seed):
    import xuframe_plugins.convexclust.weights as weights_module

    points = np.random.default_rng(seed).normal(size=(n, d))
    old = weights_module.KNN_CHUNK
    weights_module.KNN_CHUNK = 7  # many chunks, one ending mid-way
    try:
        graph = knn_weights(points, k)
    finally:
        weights_module.KNN_CHUNK = old
    assert [tuple(e) for e in graph.edges.tolist()] == _brute_knn_pairs(points, min(k, n - 1))
    sq = ((points[graph.edges[:, 0]] - points[graph.edges[:, 1]]) ** 2).sum(1)
    np.testing.assert_allclose(graph.weights, np.exp(-sq / sq.mean()))


def test_knn_weights_checks_memory_and_progress(monkeypatch, capsys):
    points = np.random.default_rng(0).normal(size=(300, 2))
    graph = knn_weights(points, 5, progress=True)
    assert "k-NN weights" in capsys.readouterr().err
    assert graph.n_edges >= 300 * 5 / 2
    with pytest.raises(InputError, match="progress"):
        knn_weights(points, 5, progress="yes")
    monkeypatch.setenv("XUFRAME_MAX_BYTES", "10000")
    with pytest.raises(InputError, match="knn_weights for 300 points.*memory"):
        knn_weights(points, 5)


EXACT_PATHS = ["maxflow", "maxflow-scipy"]


@pytest.mark.parametrize("method", EXACT_PATHS)
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 25),
    d=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["knn", "dense", "uniform"]),
    lam=st.floats(0.01, 3.0),
    ties=st.booleans(),
)
def test_the_exact_path_equals_ssnal_within_the_certified_distance(
    method, n, d, seed, kind, lam, ties
):
    """Both answers are within sqrt(2 gap) of the unique optimum (P is 1-strongly convex)."""
    rng = np.random.default_rng(seed)
    points = rng.integers(-2, 3, size=(n, d)).astype(float) if ties else rng.normal(size=(n, d))
    graph = weights_for(kind, points)
    lam = lam / graph.weights.mean() / (n if kind != "knn" else 4)
    problem = ConvexClusteringProblem(points, lam, graph)
    exact = tight(method).solve(problem)
    ssnal = TIGHT.solve(problem)
    assert exact.residual <= 1e-12
    scale = max(1.0, abs(exact.objective))
    radius = math.sqrt(2 * scale * exact.residual) + math.sqrt(2 * scale * ssnal.residual)
    assert np.sqrt(((exact.centroids - ssnal.centroids) ** 2).sum()) <= radius + 1e-9
    assert exact.objective == pytest.approx(ssnal.objective, rel=1e-10, abs=1e-10)
    assert adjusted_rand_index(exact.labels, ssnal.labels) == 1.0


def _chain_by_bvls(x, mu):
    """The 1-D fused lasso on a chain through its dual, a bounded least-squares problem solved
    by an exact active-set method: u = x - D^T y, y = argmin ||D^T y - x||, |y| <= mu."""
    from scipy.optimize import lsq_linear

    n = x.size
    dt = np.zeros((n, n - 1))  # D^T: edge e = (e, e + 1) gives +1 at e, -1 at e + 1
    dt[np.arange(n - 1), np.arange(n - 1)] = 1.0
    dt[np.arange(1, n), np.arange(n - 1)] = -1.0
    y = lsq_linear(dt, x, bounds=(-mu, mu), method="bvls", tol=1e-14).x
    return x - dt @ y


@pytest.mark.parametrize("method", EXACT_PATHS)
@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 10_000), lam=st.floats(0.01, 5.0))
def test_a_chain_matches_the_bounded_least_squares_reference(method, n, seed, lam):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 2
    w = rng.uniform(0.2, 2.0, size=n - 1)
    chain = WeightGraph(n, np.stack([np.arange(n - 1), np.arange(1, n)], 1), w)
    result = tight(method).solve(ConvexClusteringProblem(x[:, None], lam, chain))
    np.testing.assert_allclose(result.centroids[:, 0], _chain_by_bvls(x, lam * w), atol=1e-7)
    assert result.residual <= 1e-12


@pytest.mark.parametrize("method", EXACT_PATHS)
@pytest.mark.parametrize(("x2", "expected"), [(1.0, [0.5, 0.5]), (5.0, [1.0, 4.0])])
def test_two_points_have_the_closed_form(method, x2, expected):
    """min 1/2 (u1 - x1)^2 + 1/2 (u2 - x2)^2 + mu |u1 - u2|: both at the mean when
    |x1 - x2| <= 2 mu, else each moves mu towards the other (here mu = 1)."""
    graph = WeightGraph(2, np.array([[0, 1]]), np.ones(1))
    result = tight(method).solve(ConvexClusteringProblem([[0.0], [x2]], 1.0, graph))
    np.testing.assert_allclose(result.centroids[:, 0], expected, atol=1e-12)
    assert result.residual <= 1e-14


@pytest.mark.parametrize("backend", ["pymaxflow", "scipy"])
def test_the_exact_certificate_is_a_feasible_dual_flow(backend):
    from xuframe_plugins.convexclust.graphtv import objectives, solve_exact

    if backend == "pymaxflow":
        pytest.importorskip("maxflow")
    points, _ = make_blobs(400, 4, 3, std=1.0, separation=6.0, seed=7)
    graph = knn_weights(points, 6)
    lam = 0.4
    state = solve_exact(points, graph, lam, backend)
    mu = lam * graph.weights
    assert (np.abs(state.Y) <= mu[:, None]).all()  # dual feasible, exactly
    primal, dual = objectives(points, state.U, state.Y, graph, mu)
    assert (primal, dual) == (state.primal, state.dual)
    # gap = 1/2 ||X - U - B^T Y||^2 when Y is complementary to U: the flow routes the data
    bty = np.zeros_like(points)
    np.add.at(bty, graph.edges[:, 0], state.Y)
    np.subtract.at(bty, graph.edges[:, 1], state.Y)
    np.testing.assert_allclose(points - state.U, bty, atol=1e-6)
    assert state.relative_gap <= 1e-12


def test_the_method_is_chosen_by_size_and_a_missing_extra_is_named(monkeypatch):
    from xuframe_plugins.convexclust.solver import _choose_method

    pytest.importorskip("maxflow")
    assert _choose_method("auto", 199, 2) == "ssnal"
    assert _choose_method("auto", 200, 2) == "maxflow"
    assert _choose_method("auto", 299, 100) == "ssnal"  # many coordinates: SSNAL
    assert _choose_method("maxflow-scipy", 5, 1) == "maxflow-scipy"
    monkeypatch.setitem(__import__("sys").modules, "maxflow", None)  # as if not installed
    assert _choose_method("auto", 1999, 2) == "ssnal"
    assert _choose_method("auto", 2000, 2) == "maxflow-scipy"
    points = make_blobs(20, 2, dim=2, seed=0)[0]
    solver = ConvexClustering.from_config({"method": "maxflow"})
    with pytest.raises(xuframe.errors.MissingExtraError, match=r"xuframe\[maxflow\]"):
        solver.fit_predict(points, 0.5)
    assert ConvexClustering.from_config({"method": "maxflow-scipy"}).fit_predict(points, 0.5).size


@pytest.mark.parametrize("method", ["bogus", "", None, 3, "SSNAL"])
def test_an_unknown_method_is_refused_when_built(method):
    with pytest.raises(xuframe.errors.ConfigError, match="method"):
        ConvexClustering.from_config({"method": method})


@pytest.mark.parametrize("method", EXACT_PATHS)
def test_the_exact_path_on_a_disconnected_graph_with_duplicates(method):
    points = np.array([[0.0], [0.0], [0.0], [5.0], [5.0], [9.0], [1.0]])
    graph = WeightGraph(7, np.array([[0, 1], [1, 2], [3, 4], [0, 6]]), np.ones(4))
    result = tight(method).solve(ConvexClusteringProblem(points, 0.2, graph))
    ssnal = TIGHT.solve(ConvexClusteringProblem(points, 0.2, graph))
    np.testing.assert_allclose(result.centroids, ssnal.centroids, atol=1e-6)
    assert result.residual <= 1e-12
