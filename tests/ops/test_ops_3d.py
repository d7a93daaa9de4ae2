"""Rotated BEV / 3-D IoU against shapely, rotated NMS, voxelization and BEV scatter."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.ops import (
    bev_corners,
    bev_iou,
    boxes3d_iou,
    has_torch_scatter,
    nms_3d,
    pillarize,
    rotated_nms,
    scatter_to_bev,
    voxelize,
)

shapely = pytest.importorskip("shapely.geometry")

bev_box = st.tuples(
    st.floats(-10, 10),
    st.floats(-10, 10),
    st.floats(0.1, 6),
    st.floats(0.1, 6),
    st.floats(-math.pi, math.pi),
)


def shapely_iou(a, b):
    pa, pb = (shapely.Polygon(bev_corners(t[None])[0].numpy()) for t in (a, b))
    union = pa.union(pb).area
    return pa.intersection(pb).area / union if union > 0 else 0.0


@settings(max_examples=100, deadline=None)
@given(bev_box, bev_box)
# nearly parallel edges: a 0.125 x 1 box against itself turned by 1.2e-7 rad
@example((0.0, 0.0, 1.0, 0.125, 0.0), (0.0, 0.0, 1.0, 0.125, 1.2e-7))
def test_bev_iou_equals_shapely(a, b):
    ta, tb = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    got = bev_iou(ta, tb).item()
    assert got == pytest.approx(shapely_iou(ta[0], tb[0]), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(bev_box, bev_box, st.floats(-math.pi, math.pi), st.floats(-20, 20), st.floats(-20, 20))
def test_bev_iou_invariants(a, b, turn, tx, ty):
    ta, tb = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    iou = bev_iou(ta, tb)
    assert iou.item() == pytest.approx(bev_iou(tb, ta).item(), abs=1e-12)  # symmetric
    assert bev_iou(ta, ta).item() == pytest.approx(1.0, abs=1e-9)  # 1 on identical boxes
    assert 0 <= iou.item() <= 1 + 1e-12

    def move(t):  # the same rigid motion of the plane for both boxes
        c, s = math.cos(turn), math.sin(turn)
        x, y = t[:, 0] * c - t[:, 1] * s + tx, t[:, 0] * s + t[:, 1] * c + ty
        return torch.stack([x, y, t[:, 2], t[:, 3], t[:, 4] + turn], 1)

    assert bev_iou(move(ta), move(tb)).item() == pytest.approx(iou.item(), abs=1e-9)


def test_bev_iou_pairwise_matches_aligned_and_handles_degenerate_boxes():
    torch.manual_seed(0)
    a = torch.cat([torch.rand(7, 2) * 4, torch.rand(7, 2) * 3 + 0.2, torch.rand(7, 1) * 6], 1)
    b = torch.cat([torch.rand(5, 2) * 4, torch.rand(5, 2) * 3 + 0.2, torch.rand(5, 1) * 6], 1)
    full = bev_iou(a, b)
    assert full.shape == (7, 5)
    torch.testing.assert_close(bev_iou(a[:5], b, aligned=True), full[:5].diagonal())
    flat = torch.tensor([[0.0, 0.0, 0.0, 2.0, 0.3]])
    assert bev_iou(flat, flat).item() == 0.0
    with pytest.raises(InputError, match=r"\(N, 5\)"):
        bev_iou(torch.zeros(3, 4), flat)


@settings(max_examples=50, deadline=None)
@given(bev_box, bev_box, st.floats(-2, 2), st.floats(0.1, 3), st.floats(-2, 2), st.floats(0.1, 3))
def test_3d_iou_is_bev_area_times_height_overlap(a, b, za, ha, zb, hb):
    ta = torch.tensor([[a[0], a[1], za, a[2], a[3], ha, a[4]]], dtype=torch.float64)
    tb = torch.tensor([[b[0], b[1], zb, b[2], b[3], hb, b[4]]], dtype=torch.float64)
    pa, pb = (shapely.Polygon(bev_corners(t[:, [0, 1, 3, 4, 6]])[0].numpy()) for t in (ta, tb))
    dz = max(0.0, min(za + ha / 2, zb + hb / 2) - max(za - ha / 2, zb - hb / 2))
    inter = pa.intersection(pb).area * dz
    want = inter / (pa.area * ha + pb.area * hb - inter)
    assert boxes3d_iou(ta, tb).item() == pytest.approx(want, abs=1e-9)
    assert boxes3d_iou(ta, ta).item() == pytest.approx(1.0, abs=1e-9)


def test_rotated_nms_keeps_the_best_of_overlapping_boxes():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 4.0, 2.0, 0.0],
            [0.1, 0.0, 4.0, 2.0, 0.05],  # overlaps box 0 heavily, lower score
            [10.0, 0.0, 4.0, 2.0, 1.0],  # far away
            [0.0, 0.0, 4.0, 2.0, math.pi / 2],  # same centre, turned 90 degrees: IoU 1/3
        ]
    )
    scores = torch.tensor([0.9, 0.95, 0.5, 0.8])
    assert rotated_nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    assert rotated_nms(boxes, scores, 0.2).tolist() == [1, 2]


def test_nms_3d_uses_the_3d_overlap():
    boxes = torch.tensor(
        [[0, 0, 0, 1, 1, 1, 0], [0.05, 0, 0, 1, 1, 1, 0], [0, 0, 1.5, 1, 1, 1, 0]],
        dtype=torch.float32,
    )
    # the second box overlaps the first (IoU 0.9); the third stands above it (IoU 0 in 3-D,
    # though its BEV IoU with the first is 1, so BEV NMS would drop it)
    assert nms_3d(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.25).tolist() == [0, 2]
    assert rotated_nms(boxes[:, [0, 1, 3, 4, 6]], torch.tensor([0.9, 0.8, 0.7]), 0.25).tolist() == [
        0
    ]
    assert nms_3d(boxes[:0], torch.zeros(0), 0.25).tolist() == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.floats(0.05, 0.9))
def test_nms_3d_keeps_no_overlapping_pair_and_drops_only_overlapped_boxes(seed, n, threshold):
    g = torch.Generator().manual_seed(seed)
    boxes = torch.cat(
        [
            torch.rand(n, 3, generator=g) * 3,
            0.5 + torch.rand(n, 3, generator=g),
            torch.rand(n, 1, generator=g) * 6,
        ],
        1,
    ).double()
    scores = torch.rand(n, generator=g)
    kept = nms_3d(boxes, scores, threshold)
    iou = boxes3d_iou(boxes, boxes)
    assert scores[kept].tolist() == sorted(scores[kept].tolist(), reverse=True)
    for a in range(len(kept)):
        for b in range(a + 1, len(kept)):
            assert iou[kept[a], kept[b]] <= threshold
    dropped = sorted(set(range(n)) - set(kept.tolist()))
    for d in dropped:
        assert any(iou[d, k] > threshold and scores[k] >= scores[d] for k in kept.tolist())


# Issue 18 item 1: each pair's IoU is its own, wherever it is and whatever else is in the batch.
ISSUE_A = (0.0, 0.0, 0.8, 0.6, 0.3)
ISSUE_B = (0.3, 0.2, 0.8, 0.6, 1.0)


def lift(bev, z, h=1.0):
    """BEV rows ``x, y, l, w, yaw`` as 3-D rows ``x, y, z, l, w, h, yaw``."""
    col = torch.ones(len(bev), 1, dtype=torch.float64)
    return torch.cat([bev[:, :2], z * col, bev[:, 2:4], h * col, bev[:, 4:]], 1)


def test_bev_iou_of_a_pair_far_from_the_origin():
    a, b = (
        torch.tensor([ISSUE_A], dtype=torch.float64),
        torch.tensor([ISSUE_B], dtype=torch.float64),
    )
    want = shapely_iou(a[0], b[0])
    assert want == pytest.approx(0.3352006885666, abs=1e-12)
    assert bev_iou(a, b).item() == pytest.approx(want, abs=1e-12)
    pa, pb = (shapely.Polygon(bev_corners(t)[0].numpy()) for t in (a, b))
    inter = pa.intersection(pb).area * 1.0  # heights 1.5, centres 0.5 apart: 1.0 overlap
    want3 = inter / (2 * 0.48 * 1.5 - inter)
    for far in (1e6, 4e6, -3e7):
        move = torch.tensor([far, far, 0, 0, 0], dtype=torch.float64)
        # 1e-9: the only change left is the rounding of 0.3 + 4e6 itself (ulp 4.7e-10)
        assert bev_iou(a + move, b + move).item() == pytest.approx(want, abs=1e-9)
        assert bev_iou(a + move, b + move, aligned=True).item() == pytest.approx(want, abs=1e-9)
        a3 = torch.tensor([[far, far, far, 0.8, 0.6, 1.5, 0.3]], dtype=torch.float64)
        b3 = torch.tensor(
            [[far + 0.3, far + 0.2, far + 0.5, 0.8, 0.6, 1.5, 1.0]], dtype=torch.float64
        )
        assert boxes3d_iou(a3, b3).item() == pytest.approx(want3, abs=1e-9)


def test_one_far_box_changes_no_other_pair_and_keeps_nms_suppressing():
    a, b = (
        torch.tensor([ISSUE_A], dtype=torch.float64),
        torch.tensor([ISSUE_B], dtype=torch.float64),
    )
    far = torch.tensor([[1e7, -1e7, 4.0, 2.0, 0.0]], dtype=torch.float64)
    alone = bev_iou(a, b).item()
    assert bev_iou(torch.cat([a, far]), torch.cat([b, far]))[0, 0].item() == alone
    assert bev_iou(torch.cat([a, far]), torch.cat([b, far]), aligned=True)[0].item() == alone
    a3, b3, far3 = (lift(t, 0.5) for t in (a, b, far))
    alone3 = boxes3d_iou(a3, b3).item()
    assert alone3 == pytest.approx(alone, abs=1e-15)
    assert boxes3d_iou(torch.cat([a3, far3]), torch.cat([b3, far3]))[0, 0].item() == alone3
    assert (
        boxes3d_iou(torch.cat([a3, far3]), torch.cat([b3, far3]), aligned=True)[0].item() == alone3
    )
    dup = torch.tensor([[0.0, 0, 4, 2, 0], [0.1, 0, 4, 2, 0.02]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.5], dtype=torch.float64)
    assert rotated_nms(dup, scores[:2], 0.5).tolist() == [0]
    assert rotated_nms(torch.cat([dup, far]), scores, 0.5).tolist() == [0, 2]


far_box = st.tuples(
    st.floats(-1e7, 1e7), st.floats(-1e7, 1e7), st.floats(0, 1e4), st.floats(0, 1e4),
    st.floats(-10, 10),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(bev_box, bev_box, st.lists(st.one_of(bev_box, far_box), max_size=6), st.randoms())
def test_each_pair_has_the_value_it_has_alone(a, b, others, rnd):
    pair = torch.tensor([a, b], dtype=torch.float64)
    batch = torch.tensor([a, b, *others], dtype=torch.float64)
    order = list(range(len(batch)))
    rnd.shuffle(order)
    batch = batch[order]
    ia, ib = order.index(0), order.index(1)
    alone = bev_iou(pair[:1], pair[1:]).item()
    assert bev_iou(batch, batch)[ia, ib].item() == pytest.approx(alone, abs=1e-15)
    flipped = batch.flip(0)
    got = bev_iou(batch, flipped, aligned=True)[ia].item()
    assert got == pytest.approx(bev_iou(batch[ia : ia + 1], flipped[ia : ia + 1]).item(), abs=1e-15)
    # 3-D: the same boxes with equal heights at equal z
    boxes3 = lift(batch, 0.5)
    want3 = boxes3d_iou(boxes3[ia : ia + 1], boxes3[ib : ib + 1]).item()
    assert want3 == pytest.approx(alone, abs=1e-12)
    assert boxes3d_iou(boxes3, boxes3)[ia, ib].item() == pytest.approx(want3, abs=1e-15)
    got3 = boxes3d_iou(boxes3, boxes3.flip(0), aligned=True)[ia].item()
    assert got3 == pytest.approx(got, abs=1e-12)
    # NMS over the pair and a box far away: the pair is decided as if alone
    far = torch.tensor([[5e6, 5e6, 4.0, 2.0, 0.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.1], dtype=torch.float64)
    kept = rotated_nms(torch.cat([pair, far]), scores, 0.3).tolist()
    assert kept == ([0, 2] if alone > 0.3 else [0, 1, 2])


grid = st.integers(-10 * 1024, 10 * 1024).map(
    lambda k: k / 1024
)  # exact in float64 after any shift
shift = st.one_of(
    st.integers(-(10**6) * 1024, 10**6 * 1024).map(lambda k: k / 1024),
    st.floats(-1e6, 1e6).map(lambda v: round(v * 1024) / 1024),  # reaches the far end often
)
grid_box = st.tuples(grid, grid, st.floats(0.1, 6), st.floats(0.1, 6), st.floats(-math.pi, math.pi))


@settings(max_examples=100, deadline=None)
@given(grid_box, grid_box, shift, shift, shift)
@example((0, 0, 0.8, 0.6, 0.3), (307 / 1024, 205 / 1024, 0.8, 0.6, 1.0), 1e6, 1e6, -1e6)
def test_a_common_translation_up_to_1e6_m_changes_no_iou(a, b, tx, ty, tz):
    # centres on a 2**-10 m grid, so the moved coordinates are exact and any change is the kernel's
    ta, tb = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    move = torch.tensor([tx, ty, 0, 0, 0], dtype=torch.float64)
    assert bev_iou(ta + move, tb + move).item() == pytest.approx(bev_iou(ta, tb).item(), abs=1e-9)
    a3, b3 = lift(ta, 0.0), lift(tb, 0.25)
    move3 = torch.tensor([tx, ty, tz, 0, 0, 0, 0], dtype=torch.float64)
    want = boxes3d_iou(a3, b3).item()
    assert boxes3d_iou(a3 + move3, b3 + move3).item() == pytest.approx(want, abs=1e-9)
    assert boxes3d_iou(a3 + move3, b3 + move3, aligned=True).item() == pytest.approx(want, abs=1e-9)


log_size = st.floats(-4, 4)


@st.composite
def scaled_pairs(draw):
    """Box A at the origin and B near it, sizes 1e-4 m to 1e4 m: similar sizes (partial
    overlaps at every scale) or independent ones (nested and crossing slivers)."""
    base = draw(log_size)
    if draw(st.booleans()):
        la, wa, lb, wb = (
            10 ** min(4.0, max(-4.0, base + draw(st.floats(-1, 1)))) for _ in range(4)
        )
    else:
        la, wa, lb, wb = (10 ** draw(log_size) for _ in range(4))
    reach = max(la, wa, lb, wb)
    ox, oy = draw(st.floats(-0.7, 0.7)), draw(st.floats(-0.7, 0.7))
    yaw = st.floats(-math.pi, math.pi)
    return (0.0, 0.0, la, wa, draw(yaw)), (ox * reach, oy * reach, lb, wb, draw(yaw))


@settings(max_examples=300, deadline=None)
@given(scaled_pairs())
def test_bev_iou_equals_shapely_from_1e_4_to_1e4_m(pair):
    ta, tb = (torch.tensor([box], dtype=torch.float64) for box in pair)
    want = shapely_iou(ta[0], tb[0])
    for got in (bev_iou(ta, tb).item(), bev_iou(tb, ta).item()):
        assert got == pytest.approx(want, abs=1e-9)
        # and relatively, for the tiny IoUs of a small box inside a large one
        assert abs(got - want) <= 1e-6 * want + 1e-300


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=4),
    st.lists(bev_box, min_size=2, max_size=2),
)
def test_float32_input_gives_the_float64_iou_of_its_values_rounded_once(centres, pair):
    # boxes near each of a few far-apart places, given in float32: the result is the IoU of the
    # float32 values as they are, computed in float64 and rounded once to float32
    rows = [[cx + x, cy + y, *rest] for cx, cy in centres for x, y, *rest in pair]
    boxes = torch.tensor(rows, dtype=torch.float32)
    got = bev_iou(boxes, boxes)
    assert got.dtype == torch.float32
    want = bev_iou(boxes.double(), boxes.double())
    assert (got.double() - want).abs().max().item() <= 2**-25  # half an ulp of 1
    # (the float64 IoU is checked against shapely above; shapely itself gives 0.0 for float32
    # values of a box inside a longer one sharing its long edges, where the IoU is 0.467)
    aligned = bev_iou(boxes, boxes.roll(1, 0), aligned=True)  # row i against box i - 1
    assert aligned.dtype == torch.float32
    rows = torch.arange(len(boxes))
    torch.testing.assert_close(aligned, got[rows, rows - 1], atol=2**-24, rtol=0)


@st.composite
def clouds(draw):
    n = draw(st.integers(0, 300))
    seed = draw(st.integers(0, 10_000))
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(n, 4, generator=g) * torch.tensor([24.0, 16.0, 4.0, 1.0]) - torch.tensor(
        [2.0, 8.0, 2.5, 0.0]
    )
    return pts


@settings(max_examples=40, deadline=None)
@given(clouds(), st.sampled_from([(0.5, 0.5, 0.5), (1.0, 2.0, 4.0), (0.25, 0.25, 1.0)]))
def test_voxelization_keeps_every_in_range_point_exactly_once(points, size):
    point_range = (0.0, -6.0, -2.0, 20.0, 6.0, 1.0)
    vox = voxelize(points, size, point_range, "mean", backend="native")
    xyz = points[:, :3]
    lo, hi = torch.tensor(point_range[:3]), torch.tensor(point_range[3:])
    inside = ((xyz >= lo) & (xyz < hi)).all(1)
    # (the boundary test in float32 vs float64 can differ only for points within 1e-6 of a face)
    assert torch.equal(vox.point_voxel >= 0, inside)
    assert int(vox.counts.sum()) == int(inside.sum())
    # every point sits in the cell its voxel's coordinates name, and the mean is the points' mean
    for v in range(len(vox.coords)):
        members = points[vox.point_voxel == v]
        cell_lo = lo + vox.coords[v].float() * torch.tensor(size)
        assert bool(
            (
                (members[:, :3] >= cell_lo - 1e-5)
                & (members[:, :3] < cell_lo + torch.tensor(size) + 1e-5)
            ).all()
        )
        torch.testing.assert_close(vox.features[v], members.mean(0))
    if has_torch_scatter():
        other = voxelize(points, size, point_range, "max", backend="torch-scatter")
        native = voxelize(points, size, point_range, "max", backend="native")
        torch.testing.assert_close(other.features, native.features)


@settings(max_examples=30, deadline=None)
@given(clouds(), st.sampled_from([(0.5, 0.5, 0.5), (0.05, 0.05, 0.05), (2.0, 2.0, 4.0)]))
def test_voxels_are_the_sorted_unique_cells_whether_ranked_densely_or_by_sorting(points, size):
    """Small grids rank occupied cells densely, large ones sort (0.05 m cells here are over
    4 x 300 points and 65536): either way the voxels are torch.unique's of the cells."""
    point_range = (0.0, -6.0, -2.0, 20.0, 6.0, 1.0)
    vox = voxelize(points, size, point_range, "sum", backend="native")
    nx, ny, _ = vox.grid
    inside = vox.point_voxel >= 0
    cell = torch.floor(
        (points[inside, :3].double() - torch.tensor(point_range[:3], dtype=torch.float64))
        / torch.tensor(size, dtype=torch.float64)
    ).long()
    linear = (cell[:, 2] * ny + cell[:, 1]) * nx + cell[:, 0]
    occupied, rows = torch.unique(linear, return_inverse=True)
    got = (vox.coords[:, 2] * ny + vox.coords[:, 1]) * nx + vox.coords[:, 0]
    assert torch.equal(got, occupied)
    assert torch.equal(vox.point_voxel[inside], rows)
    assert torch.equal(vox.counts, torch.bincount(rows, minlength=len(occupied)))


def test_pillars_and_the_bev_canvas():
    points = torch.tensor([[1.2, 0.3, 0.0, 0.5], [1.4, 0.1, -1.0, 0.7], [3.9, -1.9, 0.5, 0.1]])
    pil = pillarize(points, (1.0, 1.0), (0.0, -2.0, -3.0, 4.0, 2.0, 1.0))
    assert pil.grid == (4, 4, 1) and pil.coords[:, 2].eq(0).all()
    canvas = scatter_to_bev(pil.features, pil.coords, (4, 4))
    assert canvas.shape == (4, 4, 4)
    torch.testing.assert_close(canvas[:, 2, 1], points[:2].mean(0))  # x 1.x, y 0.x -> ix 1, iy 2
    torch.testing.assert_close(canvas[:, 0, 3], points[2])
    assert canvas.abs().sum() == pytest.approx(
        float(points[:2].mean(0).abs().sum() + points[2].abs().sum())
    )


def test_voxelize_rejects_bad_points():
    with pytest.raises(InputError, match="NaN"):
        voxelize(torch.tensor([[0.0, float("nan"), 0.0]]), (1, 1, 1), (0, 0, 0, 1, 1, 1))
    with pytest.raises(InputError, match=r"\(N, >=3\)"):
        voxelize(torch.zeros(4, 2), (1, 1, 1), (0, 0, 0, 1, 1, 1))
    with pytest.raises(InputError, match="positive voxel sizes"):
        voxelize(torch.zeros(4, 3), (1, 0, 1), (0, 0, 0, 1, 1, 1))
    empty = voxelize(torch.zeros(0, 4), (1, 1, 1), (0, 0, 0, 1, 1, 1))
    assert len(empty.coords) == 0 and empty.features.shape == (0, 4)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(
        st.floats(-40, 40),
        st.floats(-40, 40),
        st.floats(-3, 1),
        st.floats(0.2, 6),
        st.floats(0.2, 3),
        st.floats(0.5, 3),
        st.floats(-math.pi, math.pi),
    ),
    st.integers(0, 400),
    st.integers(0, 400),
)
def test_bev_box_codec_round_trips(box, ix, iy):
    from xuframe.ops import decode_bev_boxes, encode_bev_boxes
    from xuframe.types import Boxes3D

    boxes = Boxes3D(torch.tensor([box], dtype=torch.float64))
    cells = torch.tensor([[ix, iy]])
    origin, size = (0.0, -40.0), (0.16, 0.2)
    codes = encode_bev_boxes(boxes, cells, origin, size)
    back = decode_bev_boxes(codes, cells, origin, size).tensor
    torch.testing.assert_close(back[:, :6], boxes.tensor[:, :6], atol=1e-9, rtol=1e-9)
    dyaw = (back[0, 6] - boxes.tensor[0, 6] + math.pi) % (2 * math.pi) - math.pi
    assert abs(float(dyaw)) < 1e-9
    # an unnormalised (sin, cos) pair decodes to the same heading
    scaled = codes.clone()
    scaled[:, 6:] *= 3.0
    torch.testing.assert_close(decode_bev_boxes(scaled, cells, origin, size).tensor, back)


def test_bev_codec_rejects_zero_sizes():
    from xuframe.ops import encode_bev_boxes
    from xuframe.types import Boxes3D

    with pytest.raises(InputError, match="> 0"):
        encode_bev_boxes(
            Boxes3D(torch.tensor([[0.0, 0, 0, 0, 1, 1, 0]])), torch.tensor([[0, 0]]), (0, 0), (1, 1)
        )


def _greedy_reference(iou: torch.Tensor, threshold: float) -> list[int]:
    """Greedy NMS over boxes sorted best first, on the full IoU matrix, as a plain loop."""
    keep: list[int] = []
    for i in range(len(iou)):
        if all(float(iou[j, i]) <= threshold for j in keep):
            keep.append(i)
    return keep


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    threshold=st.sampled_from([0.0, 0.1, 0.5, 0.8, 1.0]),
)
def test_nms_reads_only_the_upper_triangle_and_equals_the_full_matrix_greedy(seed, n, threshold):
    # clustered boxes (many overlaps, tied scores): the NMS computes the IoU of pairs i < j
    # only; the kept boxes are those of the greedy loop over the whole IoU matrix
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randint(0, 3, (n, 2), generator=generator).double() * 2.0
    boxes = torch.cat(
        [
            centres + torch.rand(n, 2, generator=generator, dtype=torch.float64),
            torch.rand(n, 1, generator=generator, dtype=torch.float64) - 0.5,
            1 + 3 * torch.rand(n, 3, generator=generator, dtype=torch.float64),
            torch.rand(n, 1, generator=generator, dtype=torch.float64) * 6.3,
        ],
        1,
    )
    scores = torch.randint(0, 4, (n,), generator=generator).double()
    order = scores.argsort(descending=True, stable=True)
    bev = boxes[:, [0, 1, 3, 4, 6]]
    want = order[_greedy_reference(bev_iou(bev[order], bev[order]), threshold)]
    assert rotated_nms(bev, scores, threshold).tolist() == want.tolist()
    want = order[_greedy_reference(boxes3d_iou(boxes[order], boxes[order]), threshold)]
    assert nms_3d(boxes, scores, threshold).tolist() == want.tolist()
