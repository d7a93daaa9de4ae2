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
``i >= n - max_length``), which makes the cost ``O(K N max_length)`` after ``O(N max_length d)``
for the scene scores: ``g(a, b)^2 = ||P_(b+1) - P_a||^2`` from the prefix sums ``P`` of the
unit rows, computed in pieces, so memory is ``O(N max_length)`` and no ``N x N`` matrix is
made.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from xuframe.errors import InputError
from xuframe.validation import check_array, check_int, check_memory

__all__ = ["grouping_score", "optimal_grouping", "scene_similarity"]

Array = np.ndarray[Any, np.dtype[np.float64]]


#: Scores (end shot x scene length) computed at once in one piece of the work.
_CHUNK_CELLS = 1 << 20


def _unit_rows(features: Any) -> Array:
    f = check_array(features, "features", shape=(None, None), non_empty=True)
    with np.errstate(over="ignore"):
        norms = np.linalg.norm(f, axis=1, keepdims=True)
    if not np.isfinite(norms).all():  # huge rows (1e200): scale each by its largest entry
        scale = np.abs(f).max(1, keepdims=True)
        f = f / np.where(scale > 0, scale, 1.0)
        norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit: Array = f / np.where(norms > 0, norms, 1.0)
    return unit


def _index(value: Any, what: str, n: int) -> int:
    return check_int(value, what, min=0, max=n - 1)


def scene_similarity(features: Any, first: int, last: int) -> float:
    """``g(first, last)`` of (G1): the norm of the sum of the scene's unit shot features.

    ``features`` ``(N, d)`` finite reals; ``0 <= first <= last < N`` ints (numpy ints too).
    Raises :class:`~xuframe.errors.InputError` otherwise."""
    u = _unit_rows(features)
    first, last = _index(first, "first", len(u)), _index(last, "last", len(u))
    if first > last:
        raise InputError(f"expected 0 <= first <= last < {len(u)}, got ({first}, {last})")
    return float(np.linalg.norm(u[first : last + 1].sum(0)))


def _bonus(bonus: Any, n: int) -> Array:
    if bonus is None:
        return np.zeros(n)
    c = check_array(bonus, "bonus", ndim=None)
    if c.shape != (n,):
        raise InputError(f"bonus: expected a finite bonus of shape ({n},), got {c.shape}")
    return c


def grouping_score(features: Any, ends: Any, bonus: Any = None) -> float:
    """``J`` of (G2) for the scenes ending at shots ``ends`` (0-based, increasing, last
    ``N - 1``). ``bonus``: ``(N,)`` finite or None. Raises
    :class:`~xuframe.errors.InputError` for anything else."""
    u = _unit_rows(features)
    e = [int(x) for x in check_array(ends, "ends", ndim=1, dtype=np.int64)]
    if not e or e[-1] != len(u) - 1 or e[0] < 0 or any(b <= a for a, b in itertools.pairwise(e)):
        raise InputError(f"expected increasing scene ends finishing at {len(u) - 1}, got {e}")
    c = _bonus(bonus, len(u))
    starts = [0] + [x + 1 for x in e[:-1]]
    total = sum(float(np.linalg.norm(u[a : b + 1].sum(0))) for a, b in zip(starts, e, strict=True))
    return total + float(sum(c[x] for x in e[:-1]))


def _scene_scores(u: Array, length: int) -> Array:
    """``seg[e, m] = g(e - length + 1 + m, e)``: the scene of ``length - m`` shots ending at
    ``e`` (``-inf`` where it would start before shot 0), ``(N, length)``; the column order
    puts the longest scene first, so a window of the DP's row lines up with it.

    ``g^2`` is ``||P_(e+1) - P_s||^2`` with ``P`` the prefix sums of the unit rows; it is
    computed piece by piece (a few ends at a time, each against its ``length`` starts), with
    the prefix sums taken relative to the piece's first start, so no ``N x N`` matrix is made
    and the round-off stays that of a sum over ``e1 - e0 + length`` shots."""
    n = len(u)
    prefix = np.zeros((n + 1, u.shape[1]))
    np.cumsum(u, axis=0, out=prefix[1:])
    seg = np.empty((n, length))
    # C ends against their C + length - 1 starts by one matrix product (C = length, or 64
    # for short scenes: about twice the band, fewer pieces)
    step = max(1, min(max(length, 64), _CHUNK_CELLS // (2 * length)))
    offsets = np.arange(length)
    for e0 in range(0, n, step):
        e1 = min(n, e0 + step)
        lo = max(0, e0 - length + 1)
        ends = prefix[e0 + 1 : e1 + 1] - prefix[lo]  # (C, d)
        begins = prefix[lo:e1] - prefix[lo]  # for starts s = lo .. e1 - 1
        start = np.arange(e0, e1)[:, None] - (length - 1) + offsets[None, :]
        ok = start >= 0
        col = np.where(ok, start - lo, 0)
        dots = (ends @ begins.T)[np.arange(e1 - e0)[:, None], col]
        block = (ends**2).sum(1)[:, None] + (begins**2).sum(1)[col] - 2.0 * dots
        seg[e0:e1] = np.where(ok, np.sqrt(np.clip(block, 0.0, None)), -np.inf)
    return seg


def optimal_grouping(
    features: Any, n_scenes: int, *, bonus: Any = None, max_length: int | None = None
) -> tuple[list[int], float]:
    """The scene ends (0-based shot indices, the last is ``N - 1``) of the grouping of the
    ``N`` shots into ``n_scenes`` contiguous scenes that maximises (G2), and its score.

    ``features`` ``(N, d)`` finite reals; ``n_scenes`` an int in ``1 .. N`` (numpy ints
    too); ``bonus`` ``(N,)`` adds ``bonus[e]`` for a boundary after shot ``e``;
    ``max_length`` caps the shots per scene. Ties go to the earliest boundaries. The work
    takes ``O(N L)`` memory and ``O(n_scenes N L)`` time for scenes of at most ``L`` shots
    (``L = N`` without a cap); memory beyond :func:`xuframe.validation.memory_limit` is
    refused before any work. Raises :class:`~xuframe.errors.InputError` for bad input and
    when no grouping satisfies the constraints.
    """
    u = _unit_rows(features)
    n = len(u)
    n_scenes = check_int(n_scenes, "n_scenes", min=1, max=n)
    length = n if max_length is None else check_int(max_length, "max_length", min=1)
    length = min(length, n)
    if n_scenes * length < n:
        raise InputError(
            f"no grouping of {n} shots into {n_scenes} scenes of at most {length} shots"
        )
    c = _bonus(bonus, n)
    back_type = np.min_scalar_type(length)
    check_memory(
        n * length * 8
        + n_scenes * (n - n_scenes + 1) * back_type.itemsize
        + 8 * (6 * _CHUNK_CELLS + 2 * length * u.shape[1]),
        f"optimal_grouping of {n} shots into {n_scenes} scenes of at most {length} shots",
    )
    seg = _scene_scores(u, length)

    def ends_of(j: int) -> tuple[int, int]:
        """The ends ``e`` for which ``j + 1`` scenes can cover ``0 .. e`` and the other
        ``n_scenes - 1 - j`` scenes the rest; only these matter (the values inside this range
        depend only on those inside the previous row's)."""
        rest = n_scenes - 1 - j
        return max(j, n - 1 - rest * length), min(n - 1 - rest, (j + 1) * length - 1)

    # best[e]: the best j + 1 scenes covering 0 .. e (-inf outside ends_of(j)); back[j][e -
    # first_end]: their last scene has length - back shots
    lo, hi = ends_of(0)
    best = np.full(n, -np.inf)
    first = length - 1 - np.arange(lo, hi + 1)
    best[lo : hi + 1] = seg[np.arange(lo, hi + 1), first]
    back: list[tuple[int, Array]] = [(lo, first.astype(back_type))]
    step = max(1, _CHUNK_CELLS // length)
    # padded[length + s] = best[s - 1] + c[s - 1]: the best j scenes before a start s; the
    # window of row e, padded[e + 1 .. e + length], lines up with seg[e]
    padded = np.full(n + length, -np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, length)  # a view: kept in step
    for j in range(1, n_scenes):
        first_end, last_end = ends_of(j)
        a, b = max(length + 1, first_end + 1), min(n + length, last_end + length + 1)
        padded[a:b] = best[a - length - 1 : b - length - 1] + c[a - length - 1 : b - length - 1]
        current = np.empty(last_end + 1 - first_end)
        row = np.empty(last_end + 1 - first_end, dtype=back_type)
        for e0 in range(first_end, last_end + 1, step):
            e1 = min(last_end + 1, e0 + step)
            scores = window[e0 + 1 : e1 + 1] + seg[e0:e1]
            # ties go to the earliest boundary: the longest last scene, the first column
            m = np.argmax(scores, axis=1)
            current[e0 - first_end : e1 - first_end] = scores[np.arange(e1 - e0), m]
            row[e0 - first_end : e1 - first_end] = m
        best[lo : hi + 1] = -np.inf
        best[first_end : last_end + 1] = current
        lo, hi = first_end, last_end
        back.append((first_end, row))
    if not np.isfinite(best[n - 1]):
        raise InputError(f"no grouping of {n} shots into {n_scenes} scenes satisfies the limits")
    ends = [n - 1]
    for j in range(n_scenes - 1, 0, -1):
        offset, row = back[j]
        ends.append(ends[-1] - (length - int(row[ends[-1] - offset])))
    return ends[::-1], float(best[n - 1])
