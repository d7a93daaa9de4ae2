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

TIGHT = ConvexClustering.from_config({"tol": 1e-12})


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


@settings(max_examples=25, deadline=None)
@given(instances)
def test_matches_the_cvxpy_clarabel_reference(case):
    n, d, seed, kind, lam = case
    points = np.random.default_rng(seed).normal(size=(n, d)) * 3
    graph = weights_for(kind, points)
    lam = lam / graph.weights.mean() / (n if kind != "knn" else 4)
    result = TIGHT.solve(ConvexClusteringProblem(points, lam, graph))
    ref_value, ref_u = reference(points, lam, graph)
    assert abs(result.objective - ref_value) <= 1e-6 * max(1.0, abs(ref_value))
    # the certificate holds: the objective is within the gap of the optimum (and of Clarabel's)
    assert result.residual <= 1e-10
    assert result.objective - ref_value <= result.residual * max(1.0, abs(result.objective)) + 1e-8
    np.testing.assert_allclose(result.centroids, ref_u, atol=1e-4 * (1 + np.abs(points).max()))


def test_lambda_zero_gives_the_data_and_large_lambda_the_mean():
    points = np.random.default_rng(1).normal(size=(60, 2))  # one cloud: a connected 5-NN graph
    graph = knn_weights(points, 5)
    zero = ConvexClustering().solve(ConvexClusteringProblem(points, 0.0, graph))
    np.testing.assert_array_equal(zero.centroids, points)
    assert zero.n_clusters == 60
    # any cut S of a connected graph carries at least min(w); sum_S (x - mean) <= n * range
    assert sp.csgraph.connected_components(graph.adjacency())[0] == 1
    big = 2 * 60 * np.ptp(points) / graph.weights.min()
    one = TIGHT.solve(ConvexClusteringProblem(points, big, graph))
    assert one.n_clusters == 1
    np.testing.assert_allclose(
        one.centroids, np.broadcast_to(points.mean(0), points.shape), atol=1e-6
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 3.0))
def test_permuting_points_permutes_and_translating_translates(seed, lam):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(15, 2)) * 2
    graph = dense_weights(points, phi=0.3)
    base = TIGHT.solve(ConvexClusteringProblem(points, lam, graph))
    perm = rng.permutation(15)
    inverse = np.argsort(perm)
    edges = np.sort(inverse[graph.edges], axis=1)  # point p of the original is point inverse[p]
    permuted = WeightGraph(15, edges, graph.weights)
    moved = TIGHT.solve(ConvexClusteringProblem(points[perm], lam, permuted))
    np.testing.assert_allclose(moved.centroids, base.centroids[perm], atol=1e-6)
    assert adjusted_rand_index(moved.labels, base.labels[perm]) == 1.0
    shift = rng.normal(size=2) * 10
    shifted = TIGHT.solve(ConvexClusteringProblem(points + shift, lam, graph))
    np.testing.assert_allclose(shifted.centroids, base.centroids + shift, atol=1e-6)


def test_the_mean_is_preserved():
    """sum_i (x_i - u_i) = sum_i (B^T Y)_i = 0: U keeps the data's mean for any lambda."""
    points, _ = make_blobs(80, 4, 3, seed=2)
    for lam in (0.01, 0.3, 3.0):
        result = TIGHT.solve(ConvexClusteringProblem(points, lam))
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


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(2, 8), min_size=2, max_size=4),
    st.integers(1, 3),
    st.integers(0, 10_000),
    st.sampled_from(["uniform", "gaussian"]),
    st.floats(0.0, 0.999),
)
def test_exact_recovery_for_every_lambda_in_the_interval(sizes, d, seed, kind, frac):
    """The theorem as a property: inside [lam_min, lam_max) the clusters are exactly the truth,
    and every point of a cluster has the same row of U."""
    points, truth = separated_clusters(sizes, d, seed, separation=60.0)
    graph = uniform_weights(len(points)) if kind == "uniform" else dense_weights(points, phi=0.2)
    interval = recovery_interval(points, truth, graph)
    assume(not interval.empty)
    top = min(interval.lam_max, 4 * interval.lam_min + 1e-3)
    lam = interval.lam_min + frac * (top - interval.lam_min)
    result = TIGHT.solve(ConvexClusteringProblem(points, lam, graph))
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


def test_path_warm_starts_agree_with_cold_solves_and_the_fusion_lambda():
    points, truth = separated_clusters([6, 6, 6], 2, 3, separation=30.0)
    graph = knn_weights(points, 4)  # no edge between clusters: they never merge
    solver = ConvexClustering.from_config({"tol": 1e-11})
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
