"""The PointNet++ point ops against brute-force numpy loops, blocks of bounded memory, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe.ops._point_sampling as point_ops
from xuframe.errors import InputError
from xuframe.ops import ball_query, furthest_point_sample, knn, three_nn_interpolate

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@st.composite
def clouds(draw: st.DrawFn, batch: int, n_min: int = 1, n_max: int = 16) -> np.ndarray:
    """``(batch, N, 3)`` coordinates: on a coarse grid (duplicates and ties) or anywhere."""
    n = draw(st.integers(n_min, n_max))
    grid = draw(st.booleans())
    values = (
        st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0])
        if grid
        else st.floats(-10, 10, allow_nan=False, width=32)
    )
    flat = draw(st.lists(values, min_size=batch * n * 3, max_size=batch * n * 3))
    return np.array(flat, dtype=np.float64).reshape(batch, n, 3)


def squared(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    d = points - centre
    return d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]


def reference_fps(points: np.ndarray, m: int) -> list[int]:
    nearest = np.full(len(points), np.inf, dtype=points.dtype)
    chosen = [0]
    for _ in range(1, m):
        nearest = np.minimum(nearest, squared(points, points[chosen[-1]]))
        chosen.append(int(np.argmax(nearest)))
    return chosen


def reference_ball(points: np.ndarray, centre: np.ndarray, radius: float, k: int):
    r2 = np.array(radius, dtype=points.dtype) * np.array(radius, dtype=points.dtype)
    hits = []
    for i, point in enumerate(points):
        if squared(point[None], centre)[0] < r2:
            hits.append(i)
        if len(hits) == k:
            break
    row = hits + [hits[0] if hits else 0] * (k - len(hits))
    return row, len(hits)


def reference_knn(points: np.ndarray, centre: np.ndarray, k: int):
    d2 = squared(points, centre)
    order = np.lexsort((np.arange(len(points)), d2))[:k]
    return np.sqrt(d2[order]), order


@settings(max_examples=25, deadline=None)
@given(data=st.data(), batch=st.integers(1, 3), dtype=st.sampled_from(list(DTYPES)))
def test_furthest_point_sample_is_the_brute_force_loop(data, batch, dtype):
    cloud = data.draw(clouds(batch))
    m = data.draw(st.integers(1, cloud.shape[1] + 4))  # m > N too
    xyz = torch.tensor(cloud, dtype=DTYPES[dtype])
    got = furthest_point_sample(xyz, m, backend="torch")
    assert got.dtype == torch.int64 and got.shape == (batch, m)
    for b in range(batch):
        assert got[b].tolist() == reference_fps(xyz[b].numpy(), m)
    assert torch.equal(furthest_point_sample(xyz, m), got)  # whichever backend "auto" picks


@pytest.mark.skipif(point_ops._fpsample() is None, reason="fpsample (det3d extra) not installed")
@settings(max_examples=25, deadline=None)
@given(data=st.data(), batch=st.integers(1, 3))
def test_fpsample_backend_gives_the_same_indices_ties_included(data, batch):
    cloud = data.draw(clouds(batch))
    m = data.draw(st.integers(1, cloud.shape[1]))
    xyz = torch.tensor(cloud, dtype=torch.float32)
    assert torch.equal(
        furthest_point_sample(xyz, m, backend="fpsample"),
        furthest_point_sample(xyz, m, backend="torch"),
    )


def test_furthest_point_sample_duplicates_and_more_samples_than_points():
    # two distinct positions, each twice: the second pick is the first point of the other
    # position (lowest index on the tie), then every pick is 0
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]]])
    assert furthest_point_sample(xyz, 6).tolist() == [[0, 1, 0, 0, 0, 0]]
    # a point at the origin is sampled like any other (VoteNet's kernel would skip it)
    xyz = torch.tensor([[[5.0, 0, 0], [0, 0, 0], [4, 0, 0]]])
    assert furthest_point_sample(xyz, 2).tolist() == [[0, 1]]


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 3),
    dtype=st.sampled_from(list(DTYPES)),
    radius=st.sampled_from([0.3, 0.5, 0.75, 1.0, 2.5, 40.0]),
    k=st.integers(1, 30),
)
def test_ball_query_is_the_brute_force_loop(data, batch, dtype, radius, k):
    xyz = torch.tensor(data.draw(clouds(batch)), dtype=DTYPES[dtype])
    centres = torch.tensor(data.draw(clouds(batch, n_max=6)), dtype=DTYPES[dtype])
    got, counts = ball_query(xyz, centres, radius, k, return_counts=True)
    assert got.dtype == counts.dtype == torch.int64
    assert got.shape == (batch, centres.shape[1], k) and counts.shape == got.shape[:2]
    assert torch.equal(ball_query(xyz, centres, radius, k), got)
    for b in range(batch):
        for j in range(centres.shape[1]):
            row, count = reference_ball(xyz[b].numpy(), centres[b, j].numpy(), radius, k)
            assert got[b, j].tolist() == row
            assert int(counts[b, j]) == count


def test_ball_query_boundary_is_strict_and_empty_ball_gives_zeros():
    xyz = torch.tensor([[[1.0, 0, 0], [0.5, 0, 0], [3, 0, 0]]])
    centres = torch.tensor([[[0.0, 0, 0], [10, 10, 10]]])
    idx, counts = ball_query(xyz, centres, 1.0, 4, return_counts=True)
    assert idx.tolist() == [[[1, 1, 1, 1], [0, 0, 0, 0]]]  # the point at exactly 1 m is out
    assert counts.tolist() == [[1, 0]]


@settings(max_examples=25, deadline=None)
@given(data=st.data(), batch=st.integers(1, 3), dtype=st.sampled_from(list(DTYPES)))
def test_knn_is_the_brute_force_sort(data, batch, dtype):
    reference = torch.tensor(data.draw(clouds(batch)), dtype=DTYPES[dtype])
    query = torch.tensor(data.draw(clouds(batch, n_max=6)), dtype=DTYPES[dtype])
    k = data.draw(st.integers(1, reference.shape[1]))
    distances, indices = knn(query, reference, k)
    assert distances.dtype == DTYPES[dtype] and indices.dtype == torch.int64
    assert distances.shape == indices.shape == (batch, query.shape[1], k)
    for b in range(batch):
        for j in range(query.shape[1]):
            d, i = reference_knn(reference[b].numpy(), query[b, j].numpy(), k)
            assert indices[b, j].tolist() == i.tolist()
            # the squared distances are the loop's bit for bit (the order proves it); the
            # square root may differ in the last place between vectorised and scalar code
            eps = np.finfo(d.dtype).eps
            np.testing.assert_allclose(distances[b, j].numpy(), d, rtol=2 * eps, atol=0)


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 2),
    dtype=st.sampled_from(list(DTYPES)),
    channels=st.integers(1, 4),
)
def test_three_nn_interpolate_is_pointnet2_feature_propagation(data, batch, dtype, channels):
    known = torch.tensor(data.draw(clouds(batch, n_max=8)), dtype=DTYPES[dtype])
    unknown = torch.tensor(data.draw(clouds(batch, n_max=8)), dtype=DTYPES[dtype])
    m = known.shape[1]
    features = torch.randn(batch, channels, m, dtype=DTYPES[dtype])
    got = three_nn_interpolate(unknown, known, features)
    assert got.shape == (batch, channels, unknown.shape[1])
    for b in range(batch):
        for j in range(unknown.shape[1]):
            d, i = reference_knn(known[b].numpy(), unknown[b, j].numpy(), min(3, m))
            w = 1.0 / (d + np.array(1e-8, dtype=d.dtype))
            w = w / w.sum()
            expected = (features[b].numpy()[:, i] * w).sum(1)
            np.testing.assert_allclose(got[b, :, j].numpy(), expected, rtol=1e-5, atol=1e-6)


def test_three_nn_interpolate_gradient_reaches_the_features_only():
    known = torch.tensor([[[0.0, 0, 0], [0, 0, 0], [1, 0, 0], [2, 0, 0]]], requires_grad=True)
    unknown = torch.tensor([[[0.0, 0, 0], [1.5, 0, 0]]])  # on duplicated known points
    features = torch.randn(1, 5, 4, requires_grad=True)
    out = three_nn_interpolate(unknown, known, features)
    out.sum().backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()
    assert known.grad is None
    assert torch.isfinite(out).all()


def test_blocks_keep_the_answer_and_the_memory_bound(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    xyz = torch.rand(2, 300, 3, generator=generator)
    centres = xyz[:, :50]
    whole = (ball_query(xyz, centres, 0.2, 16), knn(centres, xyz, 8))
    features = torch.randn(2, 3, 50, generator=generator)
    whole_fp = three_nn_interpolate(xyz, centres, features)
    monkeypatch.setattr(point_ops, "_BLOCK_BYTES", 1)  # one query per block
    assert torch.equal(ball_query(xyz, centres, 0.2, 16), whole[0])
    blocked = knn(centres, xyz, 8)
    assert torch.equal(blocked[0], whole[1][0]) and torch.equal(blocked[1], whole[1][1])
    assert torch.equal(three_nn_interpolate(xyz, centres, features), whole_fp)
    monkeypatch.setattr(point_ops, "_BLOCK_BYTES", 32 << 20)
    for batch, queries, points in [(1, 1024, 50_000), (16, 2048, 20_000), (64, 8, 100)]:
        pair = 20
        seen = 0
        for bs, qs in point_ops._blocks(batch, queries, points, pair):
            rows, cols = bs.stop - bs.start, qs.stop - qs.start
            assert rows * cols * points * pair <= 32 << 20
            seen += rows * cols
        assert seen == batch * queries


def test_half_and_integer_points_are_computed_in_float32():
    xyz = torch.tensor([[[0, 0, 0], [2, 0, 0], [1, 0, 0]]])
    assert furthest_point_sample(xyz, 3).tolist() == [[0, 1, 2]]
    assert furthest_point_sample(xyz.half(), 3).tolist() == [[0, 1, 2]]
    d, i = knn(xyz.half(), xyz, 1)
    assert d.dtype == torch.float32 and i[0, :, 0].tolist() == [0, 1, 2]


def test_numpy_integers_are_accepted():
    xyz = torch.rand(1, 10, 3)
    assert furthest_point_sample(xyz, np.int64(4)).shape == (1, 4)
    assert ball_query(xyz, xyz, np.float32(0.5), np.int32(3)).shape == (1, 10, 3)
    assert knn(xyz, xyz, np.int64(2))[1].shape == (1, 10, 2)


GOOD = torch.rand(2, 10, 3)
BAD_CLOUDS = {
    "NaN": torch.tensor([[[0.0, float("nan"), 0]]]),
    "inf": torch.tensor([[[0.0, float("inf"), 0]]]),
    "too large to square": torch.tensor([[[1e30, 0.0, 0]]]),
    "(N, 3)": torch.rand(10, 3),
    "(B, N, 2)": torch.rand(2, 10, 2),
    "no points": torch.rand(2, 0, 3),
    "no clouds": torch.rand(0, 10, 3),
    "a list": [[[0.0, 0.0, 0.0]]],
    "a numpy array": np.zeros((1, 4, 3)),
    "None": None,
    "bool": torch.zeros(1, 4, 3, dtype=torch.bool),
    "complex": torch.zeros(1, 4, 3, dtype=torch.complex64),
}


@pytest.mark.parametrize("case", list(BAD_CLOUDS))
def test_bad_clouds_are_refused(case):
    bad = BAD_CLOUDS[case]
    calls = [
        lambda: furthest_point_sample(bad, 2),
        lambda: ball_query(bad, GOOD, 0.5, 4),
        lambda: ball_query(GOOD, bad, 0.5, 4),
        lambda: knn(bad, GOOD, 2),
        lambda: knn(GOOD, bad, 1),
        lambda: three_nn_interpolate(bad, GOOD, torch.rand(2, 4, 10)),
        lambda: three_nn_interpolate(GOOD, bad, torch.rand(2, 4, 10)),
    ]
    for call in calls:
        with pytest.raises(InputError):
            call()


BAD_CALLS = {
    "m = 0": lambda: furthest_point_sample(GOOD, 0),
    "m float": lambda: furthest_point_sample(GOOD, 2.0),
    "m bool": lambda: furthest_point_sample(GOOD, True),
    "m too large for memory": lambda: furthest_point_sample(GOOD, 10**15),
    "unknown backend": lambda: furthest_point_sample(GOOD, 2, backend="cuda"),
    "radius 0": lambda: ball_query(GOOD, GOOD, 0.0, 4),
    "radius < 0": lambda: ball_query(GOOD, GOOD, -1.0, 4),
    "radius NaN": lambda: ball_query(GOOD, GOOD, float("nan"), 4),
    "radius inf": lambda: ball_query(GOOD, GOOD, float("inf"), 4),
    "radius str": lambda: ball_query(GOOD, GOOD, "1", 4),
    "k = 0": lambda: ball_query(GOOD, GOOD, 0.5, 0),
    "k too large for memory": lambda: ball_query(GOOD, GOOD, 0.5, 10**15),
    "batch mismatch": lambda: ball_query(GOOD, GOOD[:1], 0.5, 4),
    "knn k > N": lambda: knn(GOOD, GOOD, 11),
    "knn k = 0": lambda: knn(GOOD, GOOD, 0),
    "knn k None": lambda: knn(GOOD, GOOD, None),
    "knn batch mismatch": lambda: knn(GOOD[:1], GOOD, 2),
    "features (B, C, m+1)": lambda: three_nn_interpolate(GOOD, GOOD, torch.rand(2, 4, 11)),
    "features NaN": lambda: three_nn_interpolate(GOOD, GOOD, torch.full((2, 4, 10), float("nan"))),
    "features int": lambda: three_nn_interpolate(
        GOOD, GOOD, torch.ones(2, 4, 10, dtype=torch.int64)
    ),
    "features a list": lambda: three_nn_interpolate(GOOD, GOOD, [[[1.0] * 10] * 4] * 2),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_are_refused(case):
    with pytest.raises(InputError):
        BAD_CALLS[case]()


def test_fpsample_backend_refuses_what_it_cannot_serve():
    if point_ops._fpsample() is None:
        with pytest.raises(InputError, match="det3d"):
            furthest_point_sample(GOOD, 2, backend="fpsample")
        return
    with pytest.raises(InputError, match="float32"):
        furthest_point_sample(GOOD.double(), 2, backend="fpsample")
    with pytest.raises(InputError, match="m <= N"):
        furthest_point_sample(GOOD, 11, backend="fpsample")


# --- the k-d tree backends (CPU) against the brute force, bit for bit ---------------------


@st.composite
def tied_clouds(draw: st.DrawFn, batch: int, n_max: int) -> np.ndarray:
    """``(batch, N, 3)`` clouds of up to ``n_max`` points: on a coarse grid (many equal
    distances, duplicates), on a fine grid, or anywhere."""
    n = draw(st.integers(1, n_max))
    kind = draw(st.sampled_from(["coarse", "fine", "any"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "coarse":
        values = rng.integers(-2, 3, size=(batch, n, 3)) * 0.5
    elif kind == "fine":
        values = rng.integers(-20, 21, size=(batch, n, 3)) * 0.1
    else:
        values = rng.uniform(-2, 2, size=(batch, n, 3))
    return values


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 2),
    dtype=st.sampled_from(list(DTYPES)),
    radius=st.sampled_from([0.1, 0.3, 0.5, 1.0, 1.5, 2.5, 40.0]),
    k=st.sampled_from([1, 2, 5, 16, 64]),
)
def test_ball_query_kdtree_is_the_torch_backend(data, batch, dtype, radius, k):
    # up to 600 points, so balls overflow the tree's first width and the wider searches and
    # the brute-force fallback are taken too
    xyz = torch.tensor(data.draw(tied_clouds(batch, 600)), dtype=DTYPES[dtype])
    centres = torch.tensor(data.draw(tied_clouds(batch, 40)), dtype=DTYPES[dtype])
    tree = ball_query(xyz, centres, radius, k, return_counts=True, backend="kdtree")
    brute = ball_query(xyz, centres, radius, k, return_counts=True, backend="torch")
    assert torch.equal(tree[0], brute[0]) and torch.equal(tree[1], brute[1])
    assert torch.equal(ball_query(xyz, centres, radius, k), tree[0])  # "auto" on the CPU


@settings(max_examples=40, deadline=None)
@given(data=st.data(), batch=st.integers(1, 2), dtype=st.sampled_from(list(DTYPES)))
def test_knn_kdtree_is_the_torch_backend(data, batch, dtype):
    reference = torch.tensor(data.draw(tied_clouds(batch, 600)), dtype=DTYPES[dtype])
    query = torch.tensor(data.draw(tied_clouds(batch, 40)), dtype=DTYPES[dtype])
    n = reference.shape[1]
    k = data.draw(st.sampled_from(sorted({1, min(n, 3), min(n, 16), min(n, 64), n})))
    tree = knn(query, reference, k, backend="kdtree")
    brute = knn(query, reference, k, backend="torch")
    assert torch.equal(tree[1], brute[1]) and torch.equal(tree[0], brute[0])
    auto = knn(query, reference, k)
    assert torch.equal(auto[1], tree[1]) and torch.equal(auto[0], tree[0])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(list(DTYPES)),
    radius=st.floats(1e-3, 1e3),
    scale=st.sampled_from([1.0, 1e-18, 1e15]),
)
def test_kdtree_backends_decide_points_on_the_sphere_by_the_dtype_rule(seed, dtype, radius, scale):
    # points a few ulps either side of the sphere (and exactly on it after rounding): the tree
    # distance alone would misjudge some; the rule in the dtype decides, as the brute force
    rng = np.random.default_rng(seed)
    radius = radius * scale
    centre = rng.uniform(-1, 1, size=3) * radius
    unit = rng.normal(size=(300, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    eps = float(torch.finfo(DTYPES[dtype]).eps)
    shell = radius * (1 + rng.integers(-8, 9, size=(300, 1)) * eps)
    xyz = torch.tensor(centre + unit * shell, dtype=DTYPES[dtype])[None]
    centres = torch.tensor(centre, dtype=DTYPES[dtype])[None, None]
    tree = ball_query(xyz, centres, radius, 300, return_counts=True, backend="kdtree")
    brute = ball_query(xyz, centres, radius, 300, return_counts=True, backend="torch")
    assert torch.equal(tree[0], brute[0]) and torch.equal(tree[1], brute[1])
    for k in (1, 7, 150):
        tree_nn, brute_nn = (
            knn(centres, xyz, k, backend="kdtree"),
            knn(centres, xyz, k, backend="torch"),
        )
        assert torch.equal(tree_nn[1], brute_nn[1]) and torch.equal(tree_nn[0], brute_nn[0])


def test_kdtree_backends_in_blocks_of_one_row_and_with_every_point_tied(monkeypatch):
    generator = torch.Generator().manual_seed(1)
    xyz = torch.rand(2, 400, 3, generator=generator)
    same = torch.zeros(1, 500, 3)  # every point at one place: every distance ties
    strided = torch.rand(1, 3, 400, generator=generator, dtype=torch.float64).transpose(1, 2)
    cases = [(xyz, xyz[:, :60]), (same, same[:, :5]), (strided, strided[:, ::7])]
    expected = [
        (
            ball_query(p, c, 0.3, 16, return_counts=True, backend="torch"),
            knn(c, p, 8, backend="torch"),
        )
        for p, c in cases
    ]
    for blocks in (32 << 20, 1):  # one query per chunk of the tree's searches
        monkeypatch.setattr(point_ops, "_BLOCK_BYTES", blocks)
        for (p, c), (ball, near) in zip(cases, expected, strict=True):
            got = ball_query(p, c, 0.3, 16, return_counts=True, backend="kdtree")
            assert torch.equal(got[0], ball[0]) and torch.equal(got[1], ball[1])
            got_nn = knn(c, p, 8, backend="kdtree")
            assert torch.equal(got_nn[0], near[0]) and torch.equal(got_nn[1], near[1])
    assert knn(same[:, :5], same, 8)[1].tolist() == [[list(range(8))] * 5]


def test_kdtree_backend_is_refused_off_the_cpu_and_unknown_backends():
    meta = torch.empty(1, 1000, 3, device="meta")
    with pytest.raises(InputError, match="CPU"):
        point_ops._use_tree("kdtree", meta, 1000, "knn")
    assert not point_ops._use_tree("auto", meta, 1000, "knn")  # other devices: torch
    cpu = torch.empty(1, 1000, 3)
    assert point_ops._use_tree("auto", cpu, 1000, "knn")  # large on the CPU: the tree
    assert not point_ops._use_tree("auto", cpu, 10, "knn")  # small: the brute force
    assert not point_ops._use_tree("torch", cpu, 1000, "knn")
    with pytest.raises(InputError, match="backend"):
        ball_query(GOOD, GOOD, 0.5, 4, backend="cuda")
    with pytest.raises(InputError, match="backend"):
        knn(GOOD, GOOD, 2, backend="grid")


@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(list(DTYPES)))
def test_three_nn_interpolate_is_the_same_through_the_tree(data, dtype):
    known = torch.tensor(data.draw(tied_clouds(2, 200)), dtype=DTYPES[dtype])
    unknown = torch.tensor(data.draw(tied_clouds(2, 300)), dtype=DTYPES[dtype])
    features = torch.randn(2, 3, known.shape[1], dtype=DTYPES[dtype])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(point_ops, "_TREE_PAIRS", 1)  # "auto" takes the tree for any size
        tree = three_nn_interpolate(unknown, known, features)
        patch.setattr(point_ops, "_TREE_PAIRS", 1 << 62)  # and the brute force for none
        brute = three_nn_interpolate(unknown, known, features)
    assert torch.equal(tree, brute)


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(list(DTYPES)),
    radius=st.sampled_from([0.3, 1.0, 2.5, 40.0]),
    k=st.sampled_from([1, 5, 16]),
    rows=st.integers(1, 9),
)
def test_ball_query_kdtree_in_blocks_of_nearby_centres_is_the_torch_backend(
    data, dtype, radius, k, rows
):
    # a budget of a few centres per dual-tree search: the centres go in blocks in the order of
    # their own tree, and balls holding most of the cloud send the rest to the brute force
    xyz = torch.tensor(data.draw(tied_clouds(2, 300)), dtype=DTYPES[dtype])
    centres = torch.tensor(data.draw(tied_clouds(2, 60)), dtype=DTYPES[dtype])
    brute = ball_query(xyz, centres, radius, k, return_counts=True, backend="torch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(point_ops, "_BLOCK_BYTES", rows * xyz.shape[1] * point_ops._TREE_PAIR)
        tree = ball_query(xyz, centres, radius, k, return_counts=True, backend="kdtree")
    assert torch.equal(tree[0], brute[0]) and torch.equal(tree[1], brute[1])
