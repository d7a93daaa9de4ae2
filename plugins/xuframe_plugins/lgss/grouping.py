"""LGSS's movie-level stage: the exact optimal grouping of shots into a given number of scenes.

Shots have features ``f_1 .. f_N``; write ``u_p = f_p / ||f_p||``. The within-scene similarity of
a scene ``[a, b]`` is the summed cosine similarity of its shots to the scene's mean direction,

    g(a, b) = sum_{p=a..b} cos(f_p, m_ab) = || sum_{p=a..b} u_p ||        (G1)

with ``m_ab`` the mean of ``u_a .. u_b`` (``u_p . m / ||m|| = u_p . S / ||S||`` and
``sum_p u_p . S / ||S|| = ||S||``). It is at most the scene's length, reached when all its shots
point the same way, and does not change when shots are permuted within the scene. A grouping
into ``K`` scenes ending at shots ``e_1 < .. < e_K = N`` scores

    J = sum_k g(e_{k-1} + 1, e_k) + sum_{k<K} c(e_k)                       (G2)

where ``c(e)`` is an optional bonus for a boundary after shot ``e`` (e.g. a boundary model's
log-odds). The dynamic programme over ``F(j, n)``, the best score of ``j`` scenes covering
shots ``1 .. n``:

    F(1, n) = g(1, n)                                                       (G3)
    F(j, n) = max_{j-1 <= i < n} F(j-1, i) + c(i) + g(i+1, n)               (G4)

is exact: the last scene of an optimal grouping of ``1 .. n`` into ``j`` scenes starts at some
``i + 1``, and what precedes it must be an optimal grouping of ``1 .. i`` into ``j - 1`` scenes
(otherwise swapping in a better one would raise J), so (G4) maximises over every possibility.
``max_length`` restricts scenes to at most that many shots (the maximum then runs over
``i >= n - max_length``), which makes the cost ``O(K N max_length)`` after an ``O(N^2 d)``
Gram matrix; block sums of the Gram matrix give ``g`` in O(1) via 2-D prefix sums.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from xuframe.errors import InputError

__all__ = ["grouping_score", "optimal_grouping", "scene_similarity"]

Array = np.ndarray[Any, np.dtype[np.float64]]


def _unit_rows(features: Any) -> Array:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) == 0:
        raise InputError(f"expected shot features (N, d) with N >= 1, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise InputError("shot features must be finite (found NaN or inf)")
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit: Array = f / np.where(norms > 0, norms, 1.0)
    return unit


def scene_similarity(features: Any, first: int, last: int) -> float:
    """``g(first, last)`` of (G1): the norm of the sum of the scene's unit shot features."""
    u = _unit_rows(features)
    if not 0 <= first <= last < len(u):
        raise InputError(f"expected 0 <= first <= last < {len(u)}, got ({first}, {last})")
    return float(np.linalg.norm(u[first : last + 1].sum(0)))


def grouping_score(features: Any, ends: Any, bonus: Any = None) -> float:
    """``J`` of (G2) for the scenes ending at shots ``ends`` (0-based, increasing, last
    ``N - 1``)."""
    u = _unit_rows(features)
    e = [int(x) for x in ends]
    if not e or e[-1] != len(u) - 1 or any(b <= a for a, b in itertools.pairwise(e)):
        raise InputError(f"expected increasing scene ends finishing at {len(u) - 1}, got {e}")
    c = np.zeros(len(u)) if bonus is None else np.asarray(bonus, dtype=np.float64)
    starts = [0] + [x + 1 for x in e[:-1]]
    total = sum(float(np.linalg.norm(u[a : b + 1].sum(0))) for a, b in zip(starts, e, strict=True))
    return total + float(sum(c[x] for x in e[:-1]))


def optimal_grouping(
    features: Any, n_scenes: int, *, bonus: Any = None, max_length: int | None = None
) -> tuple[list[int], float]:
    """The scene ends (0-based shot indices, the last is ``N - 1``) of the grouping of the
    ``N`` shots into ``n_scenes`` contiguous scenes that maximises (G2), and its score.

    ``bonus`` (N,) adds ``bonus[e]`` for a boundary after shot ``e``; ``max_length`` caps the
    shots per scene. Ties go to the earliest boundaries. Raises
    :class:`~xuframe.errors.InputError` when no grouping satisfies the constraints.
    """
    u = _unit_rows(features)
    n = len(u)
    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or not 1 <= n_scenes <= n:
        raise InputError(f"expected n_scenes in 1..{n} (the number of shots), got {n_scenes!r}")
    length = n if max_length is None else int(max_length)
    if length < 1 or n_scenes * length < n:
        raise InputError(
            f"no grouping of {n} shots into {n_scenes} scenes of at most {length} shots"
        )
    c = np.zeros(n) if bonus is None else np.asarray(bonus, dtype=np.float64)
    if c.shape != (n,) or not np.isfinite(c).all():
        raise InputError(f"expected a finite bonus of shape ({n},), got {c.shape}")
    gram = u @ u.T
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = gram.cumsum(0).cumsum(1)
    # seg[e, l] = g(e - l, e): the scene of l + 1 shots ending at e (-inf where it would
    # start before shot 0); block sums of the Gram matrix from its 2-D prefix sums
    e_idx = np.arange(n)[:, None]
    start = e_idx - np.arange(length)[None, :]
    ok = start >= 0
    s0, e1 = np.where(ok, start, 0), e_idx + 1
    block = prefix[e1, e1] - prefix[s0, e1] - prefix[e1, s0] + prefix[s0, s0]
    seg = np.where(ok, np.sqrt(np.clip(block, 0.0, None)), -np.inf)
    prev = start - 1  # where the previous scene ends
    prev_ok = prev >= 0
    prev_c = np.where(prev_ok, c[np.where(prev_ok, prev, 0)], 0.0)

    best = np.full((n_scenes + 1, n), -np.inf)  # best[j, e]: j scenes covering shots 0..e
    back = np.zeros((n_scenes + 1, n), dtype=np.int64)
    best[1] = np.where(
        np.arange(n) < length, seg[np.arange(n), np.minimum(np.arange(n), length - 1)], -np.inf
    )
    for j in range(2, n_scenes + 1):
        before = np.where(prev_ok, best[j - 1][np.where(prev_ok, prev, 0)], -np.inf)
        scores = before + prev_c + seg  # (n, length)
        # ties go to the earliest boundary: the longest last scene, i.e. the largest l
        k = length - 1 - np.argmax(scores[:, ::-1], axis=1)
        best[j] = scores[np.arange(n), k]
        back[j] = prev[np.arange(n), k]
    if not np.isfinite(best[n_scenes, n - 1]):
        raise InputError(f"no grouping of {n} shots into {n_scenes} scenes satisfies the limits")
    ends = [n - 1]
    for j in range(n_scenes, 1, -1):
        ends.append(int(back[j, ends[-1]]))
    return ends[::-1], float(best[n_scenes, n - 1])
