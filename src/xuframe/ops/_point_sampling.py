"""PointNet++'s point ops on plain tensors: furthest point sampling, ball query, k nearest
neighbours and three-nearest-neighbour interpolation.

Each op gives exactly what a brute-force loop over the points gives in the points' dtype
(squared distances summed as ``dx*dx + dy*dy + dz*dz``, ties to the lowest index), on any
device, batched over the first dimension. The pairwise work is done in blocks of queries whose
working memory stays under :data:`_BLOCK_BYTES` (and a fraction of
:func:`xuframe.validation.memory_limit`), so no dense distance matrix is ever made.

On the CPU, ball query and kNN find their candidates with scipy's ``cKDTree`` (in float64, on a
radius enlarged by a margin that covers the rounding of the points' dtype) and then decide with
the same rule in the points' dtype, so they give the brute force's indices, ties included.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any, Literal, overload

import numpy as np
import torch
from scipy.spatial import cKDTree  # type: ignore[import-untyped, unused-ignore]

from xuframe.errors import InputError
from xuframe.validation import check_choice, check_float, check_int, check_memory, check_tensor
from xuframe.validation import memory_limit as _memory_limit

__all__ = ["ball_query", "furthest_point_sample", "knn", "three_nn_interpolate"]

#: The most working memory one block of (query, point) pairs may take, in bytes.
_BLOCK_BYTES = 32 << 20

# bytes of working memory per (query, point) pair, in units of the element size plus fixed
# bytes: the squared distances and one temporary (2 elements), then the masks and int32 ranks
_BALL_PAIR = (2, 10)
_KNN_PAIR = (2, 11)

#: PointNet++'s inverse-distance weights: 1 / (distance + _EPS).
_EPS = 1e-8

# bytes per candidate (query, point) pair of the k-d tree path: the tree's float64 distance and
# int64 index, the sorted indices, gathered coordinates and distances, masks and ranks
_TREE_PAIR = 96

#: ``backend="auto"`` uses the k-d tree on the CPU from this many (query, point) pairs per
#: cloud (measured: below it the brute force is as fast, both well under a millisecond).
_TREE_PAIRS = 1 << 16

FpsBackend = Literal["auto", "torch", "fpsample"]
NeighbourBackend = Literal["auto", "torch", "kdtree"]


@functools.cache
def _fpsample() -> Any:
    try:
        import fpsample  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:  # the det3d extra is not installed
        return None
    return fpsample


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The dtype the distances are computed in: the inputs' promoted floating dtype (the
    default dtype for integer inputs), float32 for half precision."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        return torch.get_default_dtype()
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _max_coordinate(dtype: torch.dtype) -> float:
    """The largest coordinate magnitude whose squared distances (up to 3 * (2 a)^2) stay
    finite in ``dtype``."""
    return math.sqrt(torch.finfo(dtype).max / 12.0)


def _cloud(value: Any, what: str, batch: int | None = None) -> torch.Tensor:
    """A ``(B, N, 3)`` point tensor of at least one point per cloud (its type and shape; the
    values are checked by :func:`_coordinates`)."""
    check_tensor(value, what, shape=(batch, None, 3), non_empty=True, floating=False, finite=False)
    return value  # type: ignore[no-any-return]


def _coordinates(dtype: torch.dtype, *clouds: tuple[torch.Tensor, str]) -> list[torch.Tensor]:
    """The clouds in ``dtype``, refused when a coordinate is so large that a squared distance
    would overflow it, or when they are on different devices."""
    devices = {c.device for c, _ in clouds}
    if len(devices) > 1:
        names = ", ".join(f"{what} on {c.device}" for c, what in clouds)
        raise InputError(f"point ops: expected every tensor on one device, got {names}")
    bound = _max_coordinate(dtype)
    out = []
    for cloud, what in clouds:
        check_tensor(cloud, what, floating=False, max_abs=bound)
        out.append(cloud.detach().to(dtype))
    return out


def _planes(xyz: torch.Tensor) -> torch.Tensor:
    """``(B, N, 3)`` points as three contiguous ``(B, N)`` coordinate planes ``(3, B, N)``."""
    return xyz.permute(2, 0, 1).contiguous()


def _squared_distances(centres: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """``(Bc, Mc, N)`` squared distances from ``centres`` ``(Bc, Mc, 3)`` to the points
    ``planes`` ``(3, Bc, N)``, summed as ``dx*dx + dy*dy + dz*dz``."""
    d = planes[0][:, None, :] - centres[..., 0:1]
    d.mul_(d)
    t = planes[1][:, None, :] - centres[..., 1:2]
    t.mul_(t)
    d.add_(t)
    torch.sub(planes[2][:, None, :], centres[..., 2:3], out=t)
    t.mul_(t)
    return d.add_(t)


def _blocks(
    batch: int, queries: int, points: int, pair_bytes: int
) -> Iterator[tuple[slice, slice]]:
    """(batch slice, query slice) blocks whose ``rows x queries x points x pair_bytes`` stays
    within the block budget (at least one query of one cloud per block)."""
    budget = _budget()
    per_query = max(1, points * pair_bytes)
    per_cloud = per_query * queries
    if per_cloud <= budget:
        step = max(1, budget // per_cloud)
        for b in range(0, batch, step):
            yield slice(b, min(batch, b + step)), slice(0, queries)
        return
    step = max(1, budget // per_query)
    for b in range(batch):
        for q in range(0, queries, step):
            yield slice(b, b + 1), slice(q, min(queries, q + step))


def _budget() -> int:
    """The working memory one block may take, in bytes."""
    return max(1, min(_BLOCK_BYTES, _memory_limit() // 8))


def _pair_bytes(cost: tuple[int, int], dtype: torch.dtype) -> int:
    elements, fixed = cost
    return elements * torch.empty((), dtype=dtype).element_size() + fixed


def furthest_point_sample(
    xyz: torch.Tensor, m: int, *, backend: FpsBackend = "auto"
) -> torch.Tensor:
    """``(B, m)`` ``int64``: the indices of ``m`` points of each cloud ``xyz`` ``(B, N, 3)``
    chosen by furthest point sampling, exactly as PointNet++'s op (VoteNet, mmdetection3d).

    The first index is 0. Each next one is the point whose smallest squared distance to the
    points already chosen is largest; on a tie, the lowest index. (The CUDA op breaks ties by
    its thread layout, and VoteNet's copy of it also skips points within 3 cm of the origin;
    mmcv's, which mmdetection3d uses, does not, nor does this one.) Duplicated points are
    never chosen twice while a point at a new position remains; once every distinct position
    has been chosen (``m`` larger than their number, in particular ``m > N``), every further
    index is 0, as the CUDA op gives.

    Distances are computed in the points' dtype (integer points in the default dtype, half
    precision in float32). ``backend="auto"`` uses the compiled `fpsample` package (the
    ``det3d`` extra) when it is installed and the points are float32 (or half) on the CPU with
    ``m <= N``, and torch otherwise; both give the same indices (tested, ties included).
    ``"torch"`` and ``"fpsample"`` force one. Memory is ``O(B N)``; time ``O(B N m)``. Not
    differentiable (indices).

    Raises :class:`~xuframe.errors.InputError` when ``xyz`` is not a real ``(B, N, 3)`` tensor
    with ``B, N >= 1`` of finite coordinates whose squared distances fit its dtype, when ``m``
    is not an int ``>= 1`` (numpy ints accepted), for an unknown ``backend``, for
    ``"fpsample"`` when it is not installed or cannot serve the input (not float32 on the CPU,
    or ``m > N``), and for a result too large for memory.
    """
    xyz = _cloud(xyz, "furthest_point_sample(xyz)")
    m = check_int(m, "furthest_point_sample(m)", min=1)
    backend = check_choice(backend, "furthest_point_sample(backend)", ["auto", "torch", "fpsample"])
    batch, n = int(xyz.shape[0]), int(xyz.shape[1])
    check_memory(8.0 * batch * m, f"furthest_point_sample: an output of {batch} x {m} indices")
    dtype = _compute_dtype(xyz)
    (points,) = _coordinates(dtype, (xyz, "furthest_point_sample(xyz)"))
    module = _fpsample() if backend != "torch" else None
    fits = dtype == torch.float32 and points.device.type == "cpu" and m <= n
    if backend == "fpsample":
        if module is None:
            raise InputError(
                "furthest_point_sample: backend 'fpsample' needs the det3d extra (pip install fpsample)"
            )
        if not fits:
            raise InputError(
                "furthest_point_sample: backend 'fpsample' expected float32 (or half) points on "
                f"the CPU and m <= N, got {xyz.dtype} on {xyz.device}, m={m}, N={n}"
            )
    if module is not None and fits:
        return _fps_fpsample(module, points, m)
    return _fps_torch(points, m)


def _fps_torch(points: torch.Tensor, m: int) -> torch.Tensor:
    batch, n = points.shape[0], points.shape[1]
    planes = _planes(points)
    nearest = torch.full((batch, n), math.inf, dtype=points.dtype, device=points.device)
    d = torch.empty_like(nearest)
    t = torch.empty_like(nearest)
    out = torch.zeros((batch, m), dtype=torch.int64, device=points.device)
    rows = torch.arange(batch, device=points.device)
    last = torch.zeros(batch, dtype=torch.int64, device=points.device)
    for j in range(1, m):
        chosen = planes[:, rows, last]  # (3, B)
        torch.sub(planes[0], chosen[0, :, None], out=d)
        d.mul_(d)
        torch.sub(planes[1], chosen[1, :, None], out=t)
        t.mul_(t)
        d.add_(t)
        torch.sub(planes[2], chosen[2, :, None], out=t)
        t.mul_(t)
        d.add_(t)
        torch.minimum(nearest, d, out=nearest)
        last = nearest.argmax(dim=1)  # the first maximum: the lowest index on ties
        out[:, j] = last
    return out


def _fps_fpsample(module: Any, points: torch.Tensor, m: int) -> torch.Tensor:
    # fpsample breaks ties towards the highest index: on the reversed cloud, started from the
    # reversed index of point 0, that is the lowest original index (its per-point float32
    # arithmetic is the same as ours)
    n = points.shape[1]
    out = torch.empty((points.shape[0], m), dtype=torch.int64)
    for b, cloud in enumerate(points.numpy()):
        reversed_cloud = np.ascontiguousarray(cloud[::-1])
        picked = module.fps_sampling(reversed_cloud, m, start_idx=n - 1)
        out[b] = torch.from_numpy((n - 1 - np.asarray(picked, dtype=np.int64)).astype(np.int64))
    return out


@overload
def ball_query(
    xyz: torch.Tensor,
    centres: torch.Tensor,
    radius: float,
    k: int,
    *,
    return_counts: Literal[False] = False,
    backend: NeighbourBackend = "auto",
) -> torch.Tensor: ...


@overload
def ball_query(
    xyz: torch.Tensor,
    centres: torch.Tensor,
    radius: float,
    k: int,
    *,
    return_counts: Literal[True],
    backend: NeighbourBackend = "auto",
) -> tuple[torch.Tensor, torch.Tensor]: ...


def ball_query(
    xyz: torch.Tensor,
    centres: torch.Tensor,
    radius: float,
    k: int,
    *,
    return_counts: bool = False,
    backend: NeighbourBackend = "auto",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``(B, M, k)`` ``int64``: for each centre ``centres[b, j]`` ``(B, M, 3)``, the indices
    of the first ``k`` points of ``xyz[b]`` ``(B, N, 3)``, in index order, whose squared
    distance to it is strictly less than ``radius ** 2`` (metres, the square rounded to the
    points' dtype), as PointNet++'s CUDA op (VoteNet, mmdetection3d) gives them.

    A ball with fewer than ``k`` points is padded with its first point's index. An empty ball
    (no point within the radius) gives ``k`` zeros, as the CUDA op does: index 0 is then *not*
    a neighbour. With ``return_counts=True`` the result is ``(indices, counts)``, ``counts``
    ``(B, M)`` ``int64`` the number of points found, capped at ``k`` (0 marks an empty ball).
    ``k`` may exceed ``N`` (the rest is padding).

    Distances are computed in the promoted dtype of ``xyz`` and ``centres`` (integer points in
    the default dtype, half precision in float32). ``backend="torch"`` compares every centre
    with every point, in blocks of centres of bounded memory, on any device. ``"kdtree"`` (CPU
    only) takes every (centre, point) pair within a slightly larger radius from one dual-tree
    search of scipy's ``cKDTree`` per block of nearby centres and keeps those the same rule
    accepts, so it gives the same indices (tested, points on the sphere and ties included);
    once the balls hold a large part of the cloud, the remaining centres fall back to the
    torch comparison. ``"auto"`` is ``"kdtree"`` on the CPU from ``N * M >= 65536``
    (below, the brute force is as fast) and ``"torch"`` otherwise. Not differentiable
    (indices).

    Raises :class:`~xuframe.errors.InputError` when ``xyz`` or ``centres`` is not a real
    ``(B, N, 3)`` / ``(B, M, 3)`` tensor with the same ``B >= 1``, ``N, M >= 1``, finite
    coordinates whose squared distances fit the dtype, on one device; when ``radius`` is not a
    finite number ``> 0`` or ``k`` an int ``>= 1`` (numpy scalars accepted); for an unknown
    ``backend``, or ``"kdtree"`` with tensors off the CPU; and for a result too large for
    memory.
    """
    xyz = _cloud(xyz, "ball_query(xyz)")
    centres = _cloud(centres, "ball_query(centres)", batch=int(xyz.shape[0]))
    radius = check_float(radius, "ball_query(radius)", min=0.0, min_open=True)
    k = check_int(k, "ball_query(k)", min=1)
    backend = check_choice(backend, "ball_query(backend)", ["auto", "torch", "kdtree"])
    batch, queries = int(xyz.shape[0]), int(centres.shape[1])
    check_memory(
        8.0 * batch * queries * k * (4 if return_counts else 3),
        f"ball_query: an output of {batch} x {queries} x {k} indices",
    )
    dtype = _compute_dtype(xyz, centres)
    points, centre_points = _coordinates(
        dtype, (xyz, "ball_query(xyz)"), (centres, "ball_query(centres)")
    )
    r2 = torch.tensor(radius, dtype=dtype).square().to(points.device)
    if _use_tree(backend, points, queries, "ball_query"):
        out, counts = _ball_kdtree(points, centre_points, radius, r2, k)
    else:
        out, counts = _ball_torch(points, centre_points, r2, k)
    return (out, counts) if return_counts else out


def _use_tree(backend: str, points: torch.Tensor, queries: int, what: str) -> bool:
    """Whether the k-d tree path serves this call of ``queries`` queries per cloud (refused
    off the CPU when asked for; ``"auto"`` takes it on the CPU from :data:`_TREE_PAIRS`
    (query, point) pairs per cloud, below which the brute force is as fast)."""
    on_cpu = points.device.type == "cpu"
    if backend == "kdtree" and not on_cpu:
        raise InputError(
            f"{what}: backend 'kdtree' expected tensors on the CPU, got {points.device}"
        )
    if backend == "auto":
        return on_cpu and int(points.shape[1]) * queries >= _TREE_PAIRS
    return backend == "kdtree"


def _ball_torch(
    points: torch.Tensor, centre_points: torch.Tensor, r2: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute-force ball query of checked coordinates: ``(indices, counts)``."""
    batch, queries, n = int(points.shape[0]), int(centre_points.shape[1]), int(points.shape[1])
    planes = _planes(points)
    out = torch.zeros((batch, queries, k), dtype=torch.int64, device=points.device)
    counts = torch.zeros((batch, queries), dtype=torch.int64, device=points.device)
    for bs, qs in _blocks(batch, queries, n, _pair_bytes(_BALL_PAIR, points.dtype)):
        inside = _squared_distances(centre_points[bs, qs], planes[:, bs]) < r2
        rank = inside.cumsum(-1, dtype=torch.int32)  # 1-based rank of each hit in its ball
        counts[bs, qs] = rank[..., -1].to(torch.int64).clamp_(max=k)
        kept = inside.logical_and_(rank <= k)
        b, q, i = kept.nonzero(as_tuple=True)  # row-major: index order within each ball
        slot = rank[b, q, i].to(torch.int64) - 1
        block = out[bs, qs]  # a view: written in place
        block[b, q, slot] = i
        _pad_balls(block, counts[bs, qs], k)
    return out, counts


def _pad_balls(block: torch.Tensor, counts: torch.Tensor, k: int) -> None:
    """Pads every ball of ``block`` ``(..., k)`` after its count with its first hit, in place
    (an empty ball stays 0)."""
    slots = torch.arange(k, device=block.device)
    block.copy_(torch.where(slots < counts[..., None], block, block[..., :1]))


def _reach(distance: np.ndarray | float, dtype: torch.dtype) -> np.ndarray:
    """A float64 distance enlarged past every rounding of the exact rule: a point whose
    squared distance computed in ``dtype`` is below ``distance ** 2`` (itself rounded to
    ``dtype``) lies nearer than this in float64, the tree's distance. Relative: the dtype's
    rounding of the difference, squares and sums (5 half-ulps), of the radius and its square
    (3 more) and the tree's own float64 rounding; absolute: underflow of the squares."""
    info = torch.finfo(dtype)
    return np.asarray(distance, dtype=np.float64) * (1.0 + 64.0 * info.eps) + 8.0 * math.sqrt(
        info.tiny
    )


def _tree(cloud: torch.Tensor) -> cKDTree:
    """A k-d tree over one ``(N, 3)`` CPU cloud, in float64 (exact for float32 points)."""
    return _tree_of(cloud.to(torch.float64).numpy())


def _tree_of(cloud: np.ndarray) -> cKDTree:
    """:func:`_tree` of a numpy ``(N, 3)`` cloud."""
    data = np.ascontiguousarray(cloud, dtype=np.float64)
    # unbalanced (midpoint) splits build several times faster and query as fast
    return cKDTree(data, balanced_tree=False, compact_nodes=False)


def _pair_squared(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared distances of ``points`` ``(..., 3)`` to ``centres`` (broadcast), summed as
    :func:`_squared_distances` sums them (``dx*dx + dy*dy + dz*dz``, left to right)."""
    d = points[..., 0] - centres[..., 0]
    d.mul_(d)
    t = points[..., 1] - centres[..., 1]
    t.mul_(t)
    d.add_(t)
    t = points[..., 2] - centres[..., 2]
    t.mul_(t)
    return d.add_(t)


def _tree_neighbourhoods(
    tree: cKDTree, queries: np.ndarray, reach: np.ndarray, width: int, pending: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """For the queries ``(R, 3)`` (float64) with their reach ``(R,)``, those of the rows
    ``pending``: ``(rows, candidates)`` with ``candidates`` ``(len(rows), W)`` ``int64`` holding
    every point of the tree within ``reach[row]`` of each of those rows (and maybe more; ``N``
    where empty), in chunks of bounded memory, starting ``width`` wide and four times wider
    for the rows that did not fit. Rows that still do not fit at a quarter of the cloud come
    last with ``candidates=None``: the brute force serves them better."""
    n = int(tree.n)
    width = min(n, width)
    while pending.size:
        left = []
        step = max(1, _budget() // (width * _TREE_PAIR))
        for start in range(0, pending.size, step):
            rows = pending[start : start + step]
            bound = np.nextafter(float(reach[rows].max()) * (1.0 + 1e-9), math.inf)
            distance, index = tree.query(queries[rows], k=width, distance_upper_bound=bound)
            distance = distance.reshape(len(rows), width)
            # the width nearest within the bound: the row is complete when its last one lies
            # beyond its reach (or is missing: inf), or when the width covers the cloud
            complete = (
                np.ones(len(rows), dtype=bool) if width == n else distance[:, -1] > reach[rows]
            )
            if complete.any():
                yield rows[complete], index.reshape(len(rows), width)[complete]
            left.append(rows[~complete])
        pending = np.concatenate(left)
        if not pending.size:
            return
        if 4 * width > n // 4 and width < n:
            yield pending, None
            return
        width = min(n, 4 * width)


def _sorted_candidates(
    cloud: torch.Tensor, centres: torch.Tensor, candidates: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(indices, d2)``, each ``(R, W)``: the candidates in index order (empty slots, ``N``,
    last) and their squared distances in the dtype to ``centres`` ``(R, 3)`` (``inf`` for the
    empty slots)."""
    n = int(cloud.shape[0])
    indices = torch.from_numpy(np.sort(candidates, axis=1))  # numpy sorts short rows faster
    valid = indices < n
    flat = torch.where(valid, indices, 0).view(-1)
    gathered = cloud.index_select(0, flat).view(*indices.shape, 3)
    d2 = _pair_squared(gathered, centres[:, None, :])
    d2.masked_fill_(~valid, math.inf)
    return indices, d2


def _ball_kdtree(
    points: torch.Tensor, centre_points: torch.Tensor, radius: float, r2: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ball query of checked CPU coordinates through k-d trees: ``(indices, counts)``.

    The centres are taken in the leaf order of a k-d tree over them (nearby centres together)
    in blocks of at most ``budget / (N * _TREE_PAIR)``, so that even balls holding the whole
    cloud stay within the budget. Per block, one dual-tree search (scipy's
    ``sparse_distance_matrix`` between a tree of the block's centres and one of the cloud)
    lists every (centre, point) pair within the enlarged radius; the pairs are put in (centre,
    index) order and the exact rule in the dtype (numpy's arithmetic in that dtype is
    torch's, operation for operation) keeps the first ``k`` of each centre. Once a block's
    balls hold over a quarter of the cloud on average, the cloud's remaining centres are
    served by the brute force, which is then faster."""
    batch, queries, n = int(points.shape[0]), int(centre_points.shape[1]), int(points.shape[1])
    out = np.zeros((batch, queries, k), dtype=np.int64)
    counts = np.zeros((batch, queries), dtype=np.int64)
    reach = float(_reach(radius, points.dtype))
    limit = r2.numpy()
    step = max(1, _budget() // (n * _TREE_PAIR))
    slots = np.arange(k)
    for b in range(batch):
        cloud, all_centres = points[b].numpy(), centre_points[b].numpy()
        tree = _tree(points[b])
        order = np.arange(queries) if queries <= step else _tree(centre_points[b]).indices
        dense = False
        for start in range(0, queries, step):
            rows = order[start : start + step]
            if dense:
                found_t = _ball_torch(points[b : b + 1], centre_points[b : b + 1, rows], r2, k)
                out[b, rows], counts[b, rows] = found_t[0][0].numpy(), found_t[1][0].numpy()
                continue
            centres = all_centres[rows]
            pairs = _tree_of(centres).sparse_distance_matrix(tree, reach, output_type="ndarray")
            key = pairs["i"] * n + pairs["j"]
            del pairs
            key.sort()
            dense = 4 * len(key) > len(rows) * n
            row = key // n
            index = key - row * n
            del key
            inside = _numpy_squared(cloud[index], centres[row]) < limit  # the exact rule
            row, index = row[inside], index[inside]
            found = np.bincount(row, minlength=len(rows))
            rank = np.arange(len(row)) - (np.cumsum(found) - found)[row]
            kept = rank < k
            block = np.zeros((len(rows), k), dtype=np.int64)
            block[row[kept], rank[kept]] = index[kept]
            np.minimum(found, k, out=found)
            # pad each ball after its count with its first point (an empty ball stays 0)
            out[b, rows] = np.where(slots < found[:, None], block, block[:, :1])
            counts[b, rows] = found
    return torch.from_numpy(out), torch.from_numpy(counts)


def _numpy_squared(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """:func:`_pair_squared` of ``(P, 3)`` numpy rows: ``dx*dx + dy*dy + dz*dz`` in their
    dtype, left to right."""
    d: np.ndarray = points[:, 0] - centres[:, 0]
    d *= d
    t: np.ndarray = points[:, 1] - centres[:, 1]
    t *= t
    d += t
    np.subtract(points[:, 2], centres[:, 2], out=t)
    t *= t
    d += t
    return d


def knn(
    query: torch.Tensor,
    reference: torch.Tensor,
    k: int,
    *,
    backend: NeighbourBackend = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest points of ``reference`` ``(B, N, 3)`` to each point of ``query``
    ``(B, M, 3)``: ``(distances, indices)``, both ``(B, M, k)``, nearest first.

    ``distances`` are Euclidean (metres; the square root of ``dx*dx + dy*dy + dz*dz`` in the
    promoted dtype of the inputs: integer points in the default dtype, half precision in
    float32), ``indices`` ``int64`` into ``reference[b]``. Points at the same squared distance
    come in index order (the lowest index first, and the lowest indices kept at the k-th
    place). Exact. ``backend="torch"`` compares every query with every point, in blocks of
    queries of bounded memory, on any device. ``"kdtree"`` (CPU only) takes the candidates from
    scipy's ``cKDTree`` (every point within a slightly enlarged k-th distance) and orders them
    by the same squared distances, so it gives the same indices and distances (tested, ties
    included). ``"auto"`` is ``"kdtree"`` on the CPU from ``N * M >= 65536`` (below, the
    brute force is as fast) and ``"torch"`` otherwise. Not differentiable: the distances are
    returned without gradient.

    Raises :class:`~xuframe.errors.InputError` when ``query`` or ``reference`` is not a real
    ``(B, M, 3)`` / ``(B, N, 3)`` tensor with the same ``B >= 1``, ``M, N >= 1``, finite
    coordinates whose squared distances fit the dtype, on one device; when ``k`` is not an
    int in ``1 .. N`` (numpy ints accepted); for an unknown ``backend``, or ``"kdtree"`` with
    tensors off the CPU; and for a result too large for memory.
    """
    reference = _cloud(reference, "knn(reference)")
    query = _cloud(query, "knn(query)", batch=int(reference.shape[0]))
    n = int(reference.shape[1])
    k = check_int(k, f"knn(k) (reference has N={n} points)", min=1, max=n)
    backend = check_choice(backend, "knn(backend)", ["auto", "torch", "kdtree"])
    dtype = _compute_dtype(query, reference)
    _check_neighbours_memory(query, k, dtype, "knn")
    points, queries_xyz = _coordinates(dtype, (reference, "knn(reference)"), (query, "knn(query)"))
    search = _knn_kdtree if _use_tree(backend, points, int(query.shape[1]), "knn") else _knn
    return search(queries_xyz, points, k)


def _check_neighbours_memory(query: torch.Tensor, k: int, dtype: torch.dtype, what: str) -> None:
    batch, queries = int(query.shape[0]), int(query.shape[1])
    size = torch.empty((), dtype=dtype).element_size()
    check_memory(
        float(batch) * queries * k * (16 + 2 * size),
        f"{what}: an output of {batch} x {queries} x {k} neighbours",
    )


def _knn(
    queries_xyz: torch.Tensor, points: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours of checked coordinates of one dtype and device, by brute
    force."""
    batch, queries, n = int(queries_xyz.shape[0]), int(queries_xyz.shape[1]), int(points.shape[1])
    dtype = points.dtype
    planes = _planes(points)
    distances = torch.empty((batch, queries, k), dtype=dtype, device=points.device)
    indices = torch.empty((batch, queries, k), dtype=torch.int64, device=points.device)
    for bs, qs in _blocks(batch, queries, n, _pair_bytes(_KNN_PAIR, dtype)):
        d2 = _squared_distances(queries_xyz[bs, qs], planes[:, bs])
        kth = d2.topk(k, dim=-1, largest=False, sorted=True).values[..., -1:]
        # every point nearer than the k-th distance, then the lowest-index ones at it
        nearer = d2 < kth
        room = k - nearer.sum(-1, keepdim=True, dtype=torch.int32)
        at_kth = d2 == kth
        chosen = (at_kth.cumsum(-1, dtype=torch.int32) <= room).logical_and_(at_kth)
        chosen.logical_or_(nearer)
        b, q, i = chosen.nonzero(as_tuple=True)  # k per query, in index order
        rows = d2.shape[0] * d2.shape[1]
        values = d2[b, q, i].view(rows, k)
        order = values.sort(dim=-1, stable=True).indices  # by distance, then index
        distances[bs, qs] = values.gather(-1, order).sqrt_().view(d2.shape[0], d2.shape[1], k)
        indices[bs, qs] = i.view(rows, k).gather(-1, order).view(d2.shape[0], d2.shape[1], k)
    return distances, indices


def _knn_kdtree(
    queries_xyz: torch.Tensor, points: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours of checked CPU coordinates through a k-d tree: the tree's k
    nearest give the k-th distance; every point within it (enlarged past rounding) is a
    candidate, ordered by its squared distance in the dtype, then by index."""
    batch, queries, n = int(queries_xyz.shape[0]), int(queries_xyz.shape[1]), int(points.shape[1])
    distances = torch.empty((batch, queries, k), dtype=points.dtype)
    indices = torch.empty((batch, queries, k), dtype=torch.int64)
    width = min(n, k + 1)
    step = max(1, _budget() // (width * _TREE_PAIR))
    for b in range(batch):
        tree = _tree(points[b])
        queries_np = queries_xyz[b].to(torch.float64).numpy()

        def take(rows_np: np.ndarray, candidates: np.ndarray | None, b: int = b) -> None:
            rows = torch.from_numpy(rows_np)
            if candidates is None:
                found = _knn(queries_xyz[b : b + 1, rows], points[b : b + 1], k)
                distances[b, rows], indices[b, rows] = found[0][0], found[1][0]
                return
            ordered, d2 = _sorted_candidates(points[b], queries_xyz[b, rows], candidates)
            # a stable sort of index-ordered candidates by distance: ties stay in index order
            order = torch.from_numpy(np.argsort(d2.numpy(), axis=1, kind="stable")[:, :k])
            distances[b, rows] = d2.gather(1, order).sqrt_()
            indices[b, rows] = ordered.gather(1, order)

        # the tree's `width` nearest give the k-th distance and, where the last of them lies
        # beyond its reach, every candidate; the other rows are searched wider
        reach = np.empty(queries, dtype=np.float64)
        wider = []
        for start in range(0, queries, step):
            rows_np = np.arange(start, min(queries, start + step))
            distance, index = tree.query(queries_np[rows_np], k=width)
            distance = distance.reshape(len(rows_np), width)
            reach[rows_np] = _reach(distance[:, k - 1], points.dtype)
            complete = (distance[:, -1] > reach[rows_np]) | (width == n)
            if complete.any():
                take(rows_np[complete], index.reshape(len(rows_np), width)[complete])
            wider.append(rows_np[~complete])
        pending = np.concatenate(wider)
        for rows_np, candidates in _tree_neighbourhoods(
            tree, queries_np, reach, 4 * width, pending
        ):
            take(rows_np, candidates)
    return distances, indices


def three_nn_interpolate(
    unknown: torch.Tensor, known: torch.Tensor, known_features: torch.Tensor
) -> torch.Tensor:
    """``(B, C, n)``: the features ``known_features`` ``(B, C, m)`` of the points ``known``
    ``(B, m, 3)`` carried to the points ``unknown`` ``(B, n, 3)`` by PointNet++'s feature
    propagation: each unknown point takes the inverse-distance weighted mean of its three
    nearest known points' features, with weights ``1 / (d + 1e-8)`` (``d`` the Euclidean
    distance, as PointNet++'s ``three_nn`` returns it) normalised to sum to 1.

    The neighbours are :func:`knn`'s (ties to the lowest index). With ``m < 3`` known points
    all ``m`` are used (the CUDA op gives the missing neighbours zero weight). The weights
    carry no gradient, as in PointNet++; the result is differentiable in ``known_features``.
    Computed in the features' dtype; the neighbour search in blocks of bounded memory.

    Raises :class:`~xuframe.errors.InputError` when ``unknown`` or ``known`` is not a real
    ``(B, n, 3)`` / ``(B, m, 3)`` tensor with the same ``B >= 1``, ``n, m >= 1``, finite
    coordinates whose squared distances fit the dtype; when ``known_features`` is not a
    finite floating ``(B, C, m)`` tensor; when the tensors are on different devices; and for
    a result too large for memory.
    """
    known = _cloud(known, "three_nn_interpolate(known)")
    batch, m = int(known.shape[0]), int(known.shape[1])
    unknown = _cloud(unknown, "three_nn_interpolate(unknown)", batch=batch)
    check_tensor(known_features, "three_nn_interpolate(known_features)", shape=(batch, None, m))
    channels, n = int(known_features.shape[1]), int(unknown.shape[1])
    check_memory(
        3.0 * batch * channels * n * known_features.element_size(),
        f"three_nn_interpolate: an output of {batch} x {channels} x {n} features",
    )
    if known_features.device != known.device:
        raise InputError(
            "point ops: expected every tensor on one device, got "
            f"three_nn_interpolate(known_features) on {known_features.device}, "
            f"three_nn_interpolate(known) on {known.device}"
        )
    dtype = _compute_dtype(unknown, known)
    _check_neighbours_memory(unknown, min(3, m), dtype, "three_nn_interpolate")
    points, queries_xyz = _coordinates(
        dtype, (known, "three_nn_interpolate(known)"), (unknown, "three_nn_interpolate(unknown)")
    )
    with torch.no_grad():
        search = _knn_kdtree if _use_tree("auto", points, n, "three_nn_interpolate") else _knn
        distance, index = search(queries_xyz, points, min(3, m))
        weight = 1.0 / (distance + _EPS)
        weight = (weight / weight.sum(-1, keepdim=True)).to(known_features.dtype)
    out = known_features.new_zeros((batch, channels, n))
    for j in range(index.shape[-1]):
        picked = known_features.gather(2, index[:, None, :, j].expand(-1, channels, -1))
        out = out + picked * weight[:, None, :, j]
    return out
