from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xuframe
from xuframe.data import make_blobs
from xuframe.errors import ConfigError, InputError
from xuframe.metrics import adjusted_rand_index
from xuframe_plugins.kmeans import KMeans, KMeansProblem


def test_recovers_well_separated_blobs():
    points, truth = make_blobs(400, 5, 3, std=0.5, separation=10.0, seed=3)
    result = xuframe.create("solver", "kmeans").solve(KMeansProblem(points, 5))
    assert adjusted_rand_index(truth, result.labels) == 1.0
    assert result.n_clusters == 5
    assert result.residual <= 1e-9


def test_deterministic_for_a_seed():
    problem = KMeans.example_problem(seed=1)
    a, b = KMeans().solve(problem), KMeans().solve(problem)
    assert np.array_equal(a.labels, b.labels) and a.objective == b.objective


points_strategy = st.integers(3, 40).flatmap(
    lambda n: hnp.arrays(np.float64, (n, 2), elements=st.floats(-100, 100, allow_nan=False))
)


@settings(max_examples=40)
@given(points_strategy, st.integers(1, 3))
def test_result_is_a_lloyd_fixed_point(points, k):
    """Each point's centroid is the mean of its cluster and the nearest of the centroids."""
    result = KMeans.from_config({"n_init": 2}).solve(KMeansProblem(points, k))
    centres = np.unique(result.centroids, axis=0)
    for label in range(result.n_clusters):
        members = result.labels == label
        np.testing.assert_allclose(
            result.centroids[members],
            points[members].mean(0)[None].repeat(members.sum(), 0),
            atol=1e-6,
        )
    d = ((points[:, None] - centres[None]) ** 2).sum(-1)
    own = ((points - result.centroids) ** 2).sum(-1)
    assert np.all(own <= d.min(1) + 1e-6 * (1 + d.min(1)))
    assert result.objective == pytest.approx(own.sum(), rel=1e-9, abs=1e-9)


def test_more_restarts_never_hurt():
    points, _ = make_blobs(200, 6, 2, std=2.0, separation=4.0, seed=0)
    one = KMeans.from_config({"n_init": 1}).solve(KMeansProblem(points, 6)).objective
    many = KMeans.from_config({"n_init": 8}).solve(KMeansProblem(points, 6)).objective
    assert many <= one


def test_bad_input_is_rejected():
    with pytest.raises(InputError, match="finite"):
        KMeansProblem([[0.0, np.nan]], 1)
    with pytest.raises(InputError, match="n_clusters: expected an int >= 1 and <= 2"):
        KMeansProblem(np.zeros((2, 2)), 3)
    with pytest.raises(InputError, match=r"points: expected shape \(N, M\)"):
        KMeansProblem(np.zeros(5), 1)
    with pytest.raises(ConfigError, match="n_init must be > 0"):
        KMeans.from_config({"n_init": 0})


def test_make_blobs_is_seeded_and_sized():
    x, y = make_blobs([3, 5], 2, 4, seed=9)
    assert x.shape == (8, 4) and y.tolist() == [0] * 3 + [1] * 5
    assert np.array_equal(make_blobs(10, seed=1)[0], make_blobs(10, seed=1)[0])
    with pytest.raises(InputError):
        make_blobs(2, 3)


# -- issue 20: bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "points",
    [
        [["a", "b"], ["c", "d"]],
        [[0.0, 1.0], [2.0]],
        np.zeros((3, 0)),
        np.zeros((0, 2)),
        1e200 * make_blobs(20, 2, 2, seed=0)[0],
        [[True, False], [False, True]],
        [[0.0, -np.inf], [1.0, 1.0]],
    ],
    ids=["strings", "ragged", "zero-dim", "empty", "1e200", "bool", "inf"],
)
def test_bad_points_are_refused(points):
    with pytest.raises(InputError, match="points"):
        KMeansProblem(points, 1)


@pytest.mark.parametrize("k", [0, -1, 21, 2.0, "3", True, None])
def test_bad_cluster_counts_are_refused(k):
    with pytest.raises(InputError, match="n_clusters"):
        KMeansProblem(make_blobs(20, 2, 2, seed=0)[0], k)


def test_numpy_integer_cluster_counts_are_accepted():
    points, _ = make_blobs(60, 3, 2, seed=0)
    problem = KMeansProblem(points, np.int64(3))
    assert type(problem.n_clusters) is int
    assert KMeans().solve(problem).n_clusters == 3


@pytest.mark.parametrize(
    "config",
    [
        {"tol": float("nan")},
        {"tol": -1.0},
        {"tol": float("inf")},
        {"max_iter": 0},
        {"n_init": -2},
        {"seed": -1},
    ],
)
def test_config_that_cannot_work_is_refused_when_built(config):
    with pytest.raises(ConfigError):
        KMeans.from_config(config)
