from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.metrics import adjusted_rand_index, contingency_table


def ari_by_pair_counting(a, b) -> float:
    """The adjusted Rand index from its definition over all pairs of points (slow, obvious)."""
    n = len(a)
    same_a = {(i, j) for i, j in combinations(range(n), 2) if a[i] == a[j]}
    same_b = {(i, j) for i, j in combinations(range(n), 2) if b[i] == b[j]}
    both, pairs = len(same_a & same_b), comb(n, 2)
    expected = len(same_a) * len(same_b) / pairs
    maximum = (len(same_a) + len(same_b)) / 2
    return 1.0 if maximum == expected else (both - expected) / (maximum - expected)


labelings = st.integers(2, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
    )
)


@given(labelings)
def test_matches_pair_counting(pair):
    a, b = pair
    assert adjusted_rand_index(a, b) == pytest.approx(ari_by_pair_counting(a, b), abs=1e-12)


@given(labelings, st.permutations(range(5)))
def test_invariant_to_renaming_and_symmetric(pair, perm):
    a, b = pair
    renamed = [perm[x] for x in b]
    assert adjusted_rand_index(a, renamed) == pytest.approx(adjusted_rand_index(a, b))
    assert adjusted_rand_index(b, a) == pytest.approx(adjusted_rand_index(a, b))
    assert adjusted_rand_index(a, a) == 1.0


def test_known_values_and_errors():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert contingency_table(["a", "a", "b"], [1, 2, 2]).tolist() == [[1, 1], [0, 1]]
    with pytest.raises(InputError, match="equal length"):
        adjusted_rand_index([0, 1], [0])
    with pytest.raises(InputError, match="1-D"):
        adjusted_rand_index(np.zeros((2, 2)), np.zeros((2, 2)))
