"""Rotated BEV / 3-D IoU against shapely, rotated NMS, voxelization and BEV scatter."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.ops import (
    bev_corners,
    bev_iou,
    boxes3d_iou,
    has_torch_scatter,
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
def test_bev_iou_equals_shapely(a, b):
    ta, tb = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    got = bev_iou(ta, tb).item()
    # 1e-7, not 1e-9: edges that are parallel to within ~1e-7 rad cross at points computed with
    # cancellation (hypothesis found a 0.125 x 1 box against itself turned by 1.2e-7 rad: 1.5e-8)
    assert got == pytest.approx(shapely_iou(ta[0], tb[0]), abs=1e-7)


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

    # 1e-7 as above: near-parallel edges (hypothesis found boxes turned by 6e-5 rad, moved by
    # 4 m: 7e-9) cross at points computed with cancellation
    assert bev_iou(move(ta), move(tb)).item() == pytest.approx(iou.item(), abs=1e-7)


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
