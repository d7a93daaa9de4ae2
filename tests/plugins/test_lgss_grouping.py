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
    with pytest.raises(InputError, match="n_scenes in 1..4"):
        optimal_grouping(f, 5)
    with pytest.raises(InputError, match="at most 1 shots"):
        optimal_grouping(f, 2, max_length=1)
    with pytest.raises(InputError, match="finite"):
        optimal_grouping(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(InputError, match=r"shape \(4,\)"):
        optimal_grouping(f, 2, bonus=np.zeros(3))
    with pytest.raises(InputError, match="increasing scene ends"):
        grouping_score(f, [2, 1, 3])
