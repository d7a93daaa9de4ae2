"""LGSS's optimal grouping: the dynamic programme equals brute force, and its cost ignores the
order of shots within a scene."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe_plugins.lgss.grouping import grouping_score, optimal_grouping, scene_similarity


def _brute_force(features, k, bonus=None, max_length=None):
    n = len(features)
    best, best_ends = -np.inf, None
    for cut in itertools.combinations(range(n - 1), k - 1):
        ends = [*cut, n - 1]
        starts = [0] + [e + 1 for e in ends[:-1]]
        if max_length and any(e - s + 1 > max_length for s, e in zip(starts, ends, strict=True)):
            continue
        score = grouping_score(features, ends, bonus)
        if score > best + 1e-9:
            best, best_ends = score, ends
    return best_ends, best


@settings(max_examples=120, deadline=None)
@given(
    st.integers(1, 9),
    st.integers(1, 4),
    st.data(),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_dynamic_programme_equals_brute_force(n, d, data, seed, with_bonus):
    k = data.draw(st.integers(1, n))
    max_length = data.draw(st.one_of(st.none(), st.integers(-(-n // k), n)))
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d))
    bonus = rng.normal(size=n) if with_bonus else None
    ends, score = optimal_grouping(features, k, bonus=bonus, max_length=max_length)
    _, best = _brute_force(features, k, bonus, max_length)
    assert score == pytest.approx(best, abs=1e-9)
    assert grouping_score(features, ends, bonus) == pytest.approx(score, abs=1e-9)
    assert len(ends) == k and ends[-1] == n - 1


@given(st.integers(0, 10_000))
def test_cost_does_not_change_when_shots_are_permuted_within_a_scene(seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(12, 5))
    ends = [3, 7, 11]
    permuted = features.copy()
    for start, end in ((0, 3), (4, 7), (8, 11)):
        permuted[start : end + 1] = features[start + rng.permutation(end - start + 1)]
    assert grouping_score(permuted, ends) == pytest.approx(grouping_score(features, ends))


def test_clear_scenes_are_recovered():
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(3, 16))
    lengths = [5, 9, 6]
    features = np.concatenate(
        [t + 0.3 * rng.normal(size=(m, 16)) for t, m in zip(topics, lengths, strict=True)]
    )
    ends, _ = optimal_grouping(features, 3)
    assert ends == [4, 13, 19]
    assert scene_similarity(features, 0, 4) == pytest.approx(5, rel=0.1)  # near its length


def test_grouping_bad_input():
    f = np.ones((4, 2))
    with pytest.raises(InputError, match="n_scenes: expected an int >= 1 and <= 4"):
        optimal_grouping(f, 5)
    with pytest.raises(InputError, match="at most 1 shots"):
        optimal_grouping(f, 2, max_length=1)
    with pytest.raises(InputError, match="finite"):
        optimal_grouping(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(InputError, match=r"shape \(4,\)"):
        optimal_grouping(f, 2, bonus=np.zeros(3))
    with pytest.raises(InputError, match="increasing scene ends"):
        grouping_score(f, [2, 1, 3])


# -- issue 20: long movies in bounded memory, bad input ---------------------------------


def _gram_grouping(features, k, bonus=None, max_length=None):
    """The grouping as it was computed before (an N x N Gram matrix and its 2-D prefix sums):
    the reference the piecewise computation must equal on short movies."""
    f = np.asarray(features, dtype=np.float64)
    u = f / np.where((norm := np.linalg.norm(f, axis=1, keepdims=True)) > 0, norm, 1.0)
    n = len(u)
    length = n if max_length is None else max_length
    c = np.zeros(n) if bonus is None else np.asarray(bonus, dtype=np.float64)
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = (u @ u.T).cumsum(0).cumsum(1)
    e_idx = np.arange(n)[:, None]
    start = e_idx - np.arange(length)[None, :]
    ok = start >= 0
    s0, e1 = np.where(ok, start, 0), e_idx + 1
    block = prefix[e1, e1] - prefix[s0, e1] - prefix[e1, s0] + prefix[s0, s0]
    seg = np.where(ok, np.sqrt(np.clip(block, 0.0, None)), -np.inf)
    prev = start - 1
    prev_c = np.where(prev >= 0, c[np.where(prev >= 0, prev, 0)], 0.0)
    best = np.full((k + 1, n), -np.inf)
    back = np.zeros((k + 1, n), dtype=np.int64)
    best[1] = np.where(
        np.arange(n) < length, seg[np.arange(n), np.minimum(np.arange(n), length - 1)], -np.inf
    )
    for j in range(2, k + 1):
        before = np.where(prev >= 0, best[j - 1][np.where(prev >= 0, prev, 0)], -np.inf)
        scores = before + prev_c + seg
        kk = length - 1 - np.argmax(scores[:, ::-1], axis=1)
        best[j] = scores[np.arange(n), kk]
        back[j] = prev[np.arange(n), kk]
    ends = [n - 1]
    for j in range(k, 1, -1):
        ends.append(int(back[j, ends[-1]]))
    return ends[::-1], float(best[k, n - 1])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 120), st.integers(1, 12), st.data(), st.integers(0, 10_000), st.booleans())
def test_the_piecewise_grouping_equals_the_gram_matrix_one_on_short_movies(
    n, d, data, seed, with_bonus
):
    k = data.draw(st.integers(1, n))
    max_length = data.draw(st.one_of(st.none(), st.integers(-(-n // k), n)))
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d))
    bonus = rng.normal(size=n) if with_bonus else None
    ends, score = optimal_grouping(features, k, bonus=bonus, max_length=max_length)
    old_ends, old_score = _gram_grouping(features, k, bonus, max_length)
    assert ends == old_ends
    assert score == pytest.approx(old_score, rel=1e-12, abs=1e-9)


def test_a_20000_shot_movie_is_grouped_without_an_n_by_n_matrix():
    import tracemalloc

    rng = np.random.default_rng(0)
    scenes = np.repeat(rng.normal(size=(1000, 8)), 20, axis=0)  # 1000 scenes of 20 shots
    features = scenes + 0.05 * rng.normal(size=scenes.shape)
    tracemalloc.start()
    try:
        ends, _ = optimal_grouping(features, 1000, max_length=40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ends == list(range(19, 20000, 20))
    assert peak < 200e6  # the Gram matrix alone was 3.2 GB


@pytest.mark.parametrize(
    "call",
    [
        lambda: optimal_grouping(np.zeros((0, 3)), 1),
        lambda: optimal_grouping(np.zeros((4, 0)), 1),
        lambda: optimal_grouping([[1.0, 2.0], [3.0]], 1),
        lambda: optimal_grouping([["a", "b"]], 1),
        lambda: optimal_grouping(np.ones(4), 1),
        lambda: optimal_grouping(np.ones((4, 2)), 2.0),
        lambda: optimal_grouping(np.ones((4, 2)), 0),
        lambda: optimal_grouping(np.ones((4, 2)), 2, max_length=0),
        lambda: optimal_grouping(np.ones((4, 2)), 2, max_length=2.5),
        lambda: optimal_grouping(np.ones((4, 2)), 2, bonus=[0.0, np.nan, 0.0, 0.0]),
        lambda: optimal_grouping(np.ones((4, 2)), 2, bonus="x"),
        lambda: scene_similarity(np.ones((4, 2)), 0, 4),
        lambda: scene_similarity(np.ones((4, 2)), 2, 1),
        lambda: scene_similarity(np.ones((4, 2)), 0.5, 1),
        lambda: grouping_score(np.ones((4, 2)), ["a", 3]),
        lambda: grouping_score(np.ones((4, 2)), [-1, 3]),
        lambda: grouping_score(np.ones((4, 2)), [1, 3], bonus=np.ones(3)),
    ],
)
def test_bad_grouping_input_is_refused(call):
    with pytest.raises(InputError):
        call()


def test_numpy_integers_and_huge_features_are_accepted():
    features = np.random.default_rng(0).normal(size=(12, 3))
    ends, score = optimal_grouping(features, np.int64(3), max_length=np.int64(6))
    assert optimal_grouping(1e200 * features, 3, max_length=6) == (ends, pytest.approx(score))
    assert scene_similarity(features, np.int64(0), np.int64(2)) > 0
