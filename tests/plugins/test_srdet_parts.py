"""SRDet's self-contained parts: Hungarian matching, RoI-aware pooling, losses, suppression."""

from __future__ import annotations

import itertools
import math

import attrs
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe import Boxes3D
from xuframe.errors import ConfigError, InputError
from xuframe.ops import boxes3d_iou, points_in_boxes
from xuframe_plugins.srdet import roi_pool
from xuframe_plugins.srdet.losses import (
    box_corners,
    center_size_l1,
    corner_loss,
    iou_loss_3d,
    sigmoid_focal_loss,
)
from xuframe_plugins.srdet.matching import MatchCosts, hungarian_match, match_cost
from xuframe_plugins.srdet.roi_pool import roi_aware_max_pool
from xuframe_plugins.srdet.suppression import (
    foreground_probability,
    suppress_votes,
    suppression_losses,
)

F64 = torch.float64
LOG2 = math.log(2.0)


def _boxes(draw: st.DrawFn, n: int, spread: float = 3.0) -> torch.Tensor:
    rows = [
        [
            draw(st.floats(-spread, spread)),
            draw(st.floats(-spread, spread)),
            draw(st.floats(-1.0, 1.0)),
            draw(st.floats(0.3, 2.5)),
            draw(st.floats(0.3, 2.5)),
            draw(st.floats(0.3, 2.5)),
            draw(st.floats(-math.pi, math.pi)),
        ]
        for _ in range(n)
    ]
    return torch.tensor(rows, dtype=F64).reshape(n, 7)


@st.composite
def matching_case(draw: st.DrawFn) -> tuple[torch.Tensor, ...]:
    p, m, c = draw(st.integers(1, 5)), draw(st.integers(0, 4)), draw(st.integers(1, 3))
    logits = torch.tensor(
        draw(st.lists(st.floats(-6.0, 6.0), min_size=p * c, max_size=p * c)), dtype=F64
    ).reshape(p, c)
    gt = _boxes(draw, m, spread=1.5)
    pred = _boxes(draw, p, spread=1.5)
    labels = torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=m, max_size=m)))
    return logits, pred, labels, gt


# ------------------------------------------------------------------ matching


@settings(max_examples=120, deadline=None)
@given(case=matching_case(), scaled=st.booleans())
def test_hungarian_is_the_cheapest_assignment(case, scaled):
    logits, pred, labels, gt = case
    scale = torch.tensor([0.8, 0.9, 1.1], dtype=F64) if scaled else None
    rows, cols = hungarian_match(logits, pred, labels, gt, size_scale=scale)
    p, m = len(pred), len(gt)
    assert len(rows) == len(cols) == min(p, m)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert rows.tolist() == sorted(rows.tolist())
    cost = match_cost(logits, pred, labels, gt, size_scale=scale)
    chosen = float(cost[rows, cols].sum())
    if p >= m:  # every object gets a distinct proposal
        best = min(
            (
                sum(float(cost[perm[j], j]) for j in range(m))
                for perm in itertools.permutations(range(p), m)
            ),
            default=0.0,
        )
    else:  # every proposal gets a distinct object
        best = min(
            sum(float(cost[i, perm[i]]) for i in range(p))
            for perm in itertools.permutations(range(m), p)
        )
    assert chosen == pytest.approx(best, abs=1e-9)


def test_match_cost_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]], dtype=F64)  # p = 0.5 and 0.75
    gt = torch.tensor([[0, 0, 0, 1, 1, 1, 0.0], [0, 0, 0, 1, 1, 1, 0.0]], dtype=F64)
    pred = torch.tensor([[0.5, 0, 0, 1, 1, 2, 0.0]], dtype=F64)
    labels = torch.tensor([0, 1])
    costs = MatchCosts(class_weight=1.0, center_weight=2.0, size_weight=3.0, iou_weight=4.0)
    cost = match_cost(logits, pred, labels, gt, costs)
    # p = 0.5: 0.25 * 0.25 * log 2 - 0.75 * 0.25 * log 2; p = 0.75: 0.25 * 0.0625 * -log(0.75)
    # - 0.75 * 0.5625 * -log(0.25); centre 0.5, size 1 (h), IoU 0.5 / (2 + 1 - 0.5) = 0.2
    focal = [-0.125 * LOG2, -0.25 * 0.0625 * math.log(0.75) + 0.75 * 0.5625 * math.log(0.25)]
    box = 2.0 * 0.5 + 3.0 * 1.0 - 4.0 * 0.2
    assert cost.shape == (1, 2)
    assert cost[0].tolist() == pytest.approx([focal[0] + box, focal[1] + box], abs=1e-12)
    # the size scale divides the size differences
    scaled = match_cost(logits, pred, labels, gt, costs, size_scale=torch.tensor([1.0, 1, 2]))
    assert float(cost[0, 0] - scaled[0, 0]) == pytest.approx(1.5)


def test_matching_uses_yawed_iou():
    # a long box turned by 90 degrees: the centres and sizes agree, only the IoU tells
    gt = torch.tensor([[0, 0, 0, 3, 0.5, 1, 0.0]])
    pred = torch.tensor([[0, 0, 0, 3, 0.5, 1, math.pi / 2], [0, 0, 0, 3, 0.5, 1, 0.02]])
    rows, cols = hungarian_match(torch.zeros(2, 1), pred, torch.tensor([0]), gt)
    assert rows.tolist() == [1] and cols.tolist() == [0]
    cost = match_cost(torch.zeros(2, 1), pred, torch.tensor([0]), gt)
    iou = boxes3d_iou(pred, gt)[:, 0].double()
    assert float(cost[0, 0] - cost[1, 0]) == pytest.approx(3.6 * float(iou[1] - iou[0]), abs=1e-6)


def test_matching_edges_and_errors():
    logits, pred = torch.zeros(3, 2), torch.tensor([[0, 0, 0, 1, 1, 1, 0.0]] * 3)
    rows, cols = hungarian_match(logits, pred, torch.zeros(0, dtype=torch.long), torch.zeros(0, 7))
    assert rows.shape == cols.shape == (0,) and rows.dtype == torch.int64
    gt = torch.tensor([[0, 0, 0, 1, 1, 1, 0.0]])
    with pytest.raises(InputError, match="gt_labels"):
        hungarian_match(logits, pred, torch.tensor([2]), gt)  # class 2 of 2
    with pytest.raises(InputError, match="logits"):
        hungarian_match(torch.full((3, 2), math.nan), pred, torch.tensor([0]), gt)
    with pytest.raises(InputError, match="boxes"):
        hungarian_match(logits, pred[:2], torch.tensor([0]), gt)
    with pytest.raises(InputError, match="gt_boxes"):
        hungarian_match(logits, pred, torch.tensor([0]), torch.tensor([[0, 0, 0, 0, 1, 1, 0.0]]))
    with pytest.raises(InputError, match="costs"):
        hungarian_match(logits, pred, torch.tensor([0]), gt, {"iou_weight": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="iou_weight"):
        MatchCosts(iou_weight=-1.0)
    with pytest.raises(ConfigError, match="focal_alpha"):
        MatchCosts(focal_alpha=1.5)
    assert attrs.asdict(MatchCosts())["center_weight"] == pytest.approx(2.7)


# ------------------------------------------------------------------ RoI-aware pooling


def _world(box: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
    c, s = math.cos(float(box[6])), math.sin(float(box[6]))
    x = box[0] + local[:, 0] * c - local[:, 1] * s
    y = box[1] + local[:, 0] * s + local[:, 1] * c
    return torch.stack([x, y, box[2] + local[:, 2]], 1)


@st.composite
def planted_points(
    draw: st.DrawFn,
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, ...]], int]:
    g = draw(st.sampled_from([1, 3, 5]))
    m = draw(st.integers(1, 3))
    boxes = _boxes(draw, m)
    n = draw(st.integers(1, 12))
    points, planted = [], []
    for _ in range(n):
        box = draw(st.integers(0, m - 1))
        cell = tuple(draw(st.integers(0, g - 1)) for _ in range(3))
        frac = [draw(st.floats(0.05, 0.95)) for _ in range(3)]
        unit = [(cell[a] + frac[a]) / g - 0.5 for a in range(3)]
        local = torch.tensor([unit], dtype=F64) * boxes[box, 3:6]
        points.append(_world(boxes[box], local))
        planted.append((box, *cell))
    return torch.cat(points), boxes, planted, g


@settings(max_examples=80, deadline=None)
@given(case=planted_points())
def test_each_point_lands_in_its_cell(case):
    xyz, boxes, planted, g = case
    n = len(xyz)
    far = torch.tensor([[50.0, 50.0, 50.0]], dtype=F64)  # outside every box
    xyz = torch.cat([xyz, far])
    # one-hot features: channel n of a cell is 1 exactly when point n lies in the cell
    features = torch.eye(n + 1, dtype=F64)[None]
    (pooled,) = roi_aware_max_pool(xyz[None], features, boxes[None], [g])
    assert pooled.shape == (1, len(boxes), g, g, g, n + 1)
    inside = points_in_boxes(xyz, Boxes3D(boxes))
    for p, (box, i, j, k) in enumerate(planted):
        assert float(pooled[0, box, i, j, k, p]) == 1.0
        assert float(pooled[0, box, ..., p].sum()) == 1.0  # in no other cell of its box
        for other in range(len(boxes)):  # other boxes: one cell when it lies in them too
            assert float(pooled[0, other, ..., p].sum()) == float(inside[p, other])
    assert float(pooled[..., n].abs().sum()) == 0.0


def _naive_pool(xyz, features, boxes, g):
    """One point, one box, one cell at a time (float64, the faces included)."""
    m, c = len(boxes), features.shape[0]
    out = [[[[None] * g for _ in range(g)] for _ in range(g)] for _ in range(m)]
    for b in range(m):
        x0, y0, z0, length, width, height, yaw = (float(v) for v in boxes[b])
        cos, sin = math.cos(yaw), math.sin(yaw)
        for p in range(len(xyz)):
            dx, dy, dz = (float(xyz[p, a]) - (x0, y0, z0)[a] for a in range(3))
            lx, ly = dx * cos + dy * sin, -dx * sin + dy * cos
            if abs(lx) > length / 2 or abs(ly) > width / 2 or abs(dz) > height / 2:
                continue
            idx = [
                min(max(math.floor((v / size + 0.5) * g), 0), g - 1)
                for v, size in ((lx, length), (ly, width), (dz, height))
            ]
            cell = out[b][idx[0]][idx[1]][idx[2]]
            vals = [float(features[ch, p]) for ch in range(c)]
            out[b][idx[0]][idx[1]][idx[2]] = (
                vals if cell is None else [max(u, v) for u, v in zip(cell, vals, strict=True)]
            )
    zero = [0.0] * c
    return torch.tensor(
        [
            [
                [[cell if cell is not None else zero for cell in row] for row in plane]
                for plane in box
            ]
            for box in out
        ],
        dtype=F64,
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data(), m=st.integers(1, 4), n=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_pool_matches_naive_loop(data, m, n, seed):
    gen = torch.Generator().manual_seed(seed)
    boxes = _boxes(data.draw, m, spread=1.0)
    xyz = (torch.rand(n, 3, generator=gen, dtype=F64) - 0.5) * 5
    features = torch.randn(3, n, generator=gen, dtype=F64) - 1.0  # mostly negative
    pooled = roi_aware_max_pool(xyz[None], features[None], boxes[None], (1, 3, 5))
    for g, out in zip((1, 3, 5), pooled, strict=True):
        assert torch.equal(out[0], _naive_pool(xyz, features, boxes, g))


def test_empty_cells_are_zero_and_degenerate_boxes_hold_nothing():
    xyz = torch.tensor([[[0.05, 0.05, 0.05], [0.45, -0.45, -0.45]]])
    features = torch.tensor([[[-3.0, -7.0]]])  # negative: an occupied cell is never 0
    boxes = torch.tensor(
        [[[0, 0, 0, 1, 1, 1, 0.0], [0, 0, 0, 0, 1, 1, 0.0], [0, 0, 0, -1, 1, 1, 0.0]]]
    )
    (pooled,) = roi_aware_max_pool(xyz, features, boxes, [3])
    box = pooled[0, 0, ..., 0]
    assert float(box[1, 1, 1]) == -3.0 and float(box[2, 0, 0]) == -7.0
    assert int((box != 0).sum()) == 2
    assert float(pooled[0, 1:].abs().sum()) == 0.0  # sizes 0 and -1
    one, five = roi_aware_max_pool(xyz, features, boxes, [1, 5])
    assert float(one[0, 0, 0, 0, 0, 0]) == -3.0  # the max over both points
    assert float(five[0, 0, 2, 2, 2, 0]) == -3.0 and float(five[0, 0, 4, 0, 0, 0]) == -7.0
    empty = roi_aware_max_pool(torch.zeros(2, 0, 3), torch.zeros(2, 4, 0), torch.zeros(2, 3, 7))
    assert [tuple(t.shape) for t in empty] == [(2, 3, g, g, g, 4) for g in (1, 3, 5)]
    none = roi_aware_max_pool(xyz, features, torch.zeros(1, 0, 7), [3])
    assert none[0].shape == (1, 0, 3, 3, 3, 1)
    batchless = roi_aware_max_pool(torch.zeros(0, 5, 3), torch.zeros(0, 2, 5), torch.zeros(0, 4, 7))
    assert batchless[2].shape == (0, 4, 5, 5, 5, 2)
    sizes = roi_aware_max_pool(xyz, features, boxes, np.array([np.int64(3)]))
    assert torch.equal(sizes[0], roi_aware_max_pool(xyz, features, boxes, [3])[0])


def test_pool_gradient_flows_to_features():
    gen = torch.Generator().manual_seed(0)
    xyz = (torch.rand(1, 16, 3, generator=gen, dtype=F64) - 0.5) * 2
    boxes = torch.tensor(
        [[[0, 0, 0, 1.5, 1.0, 1.2, 0.6], [0.3, -0.2, 0.1, 1.0, 1.0, 1.0, -0.4]]], dtype=F64
    )
    features = torch.randn(1, 2, 16, generator=gen, dtype=F64, requires_grad=True)
    weights = torch.randn(2 * 2 * (1 + 27 + 125), generator=gen, dtype=F64)

    def projected(f: torch.Tensor) -> torch.Tensor:  # one output: one backward pass
        return (torch.cat([t.flatten() for t in roi_aware_max_pool(xyz, f, boxes)]) * weights).sum()

    assert torch.autograd.gradcheck(projected, (features,))
    sum(t.sum() for t in roi_aware_max_pool(xyz, features, boxes)).backward()
    inside = points_in_boxes(xyz[0], Boxes3D(boxes[0])).any(1)
    grad = features.grad[0].abs().sum(0)
    assert bool((grad[~inside] == 0).all()) and bool((grad[inside] > 0).all())


def test_pool_in_pieces_equals_whole(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    xyz = (torch.rand(2, 60, 3, generator=gen) - 0.5) * 3
    features = torch.randn(2, 5, 60, generator=gen)
    boxes = torch.tensor(
        [[0, 0, 0, 2, 1, 1, 0.3], [0.5, 0.5, 0, 1, 1, 2, -1.0], [0, 0, 0, 3, 3, 3, 0.0]]
    )
    boxes = boxes[None].repeat(2, 1, 1)
    whole = roi_aware_max_pool(xyz, features, boxes)
    monkeypatch.setattr(roi_pool, "_PAIRS", 70)  # one box per membership test
    monkeypatch.setattr(roi_pool, "_VALUES", 12)  # two pairs per scatter
    pieces = roi_aware_max_pool(xyz, features, boxes)
    for a, b in zip(whole, pieces, strict=True):
        assert torch.equal(a, b)


def test_pool_bad_input(monkeypatch):
    xyz, feats, boxes = torch.zeros(1, 4, 3), torch.zeros(1, 2, 4), torch.zeros(1, 1, 7)
    with pytest.raises(InputError, match="grid_sizes"):
        roi_aware_max_pool(xyz, feats, boxes, [0])
    with pytest.raises(InputError, match="grid_sizes"):
        roi_aware_max_pool(xyz, feats, boxes, [])
    with pytest.raises(InputError, match="grid_sizes"):
        roi_aware_max_pool(xyz, feats, boxes, 3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="features"):
        roi_aware_max_pool(xyz, torch.zeros(1, 2, 5), boxes)
    with pytest.raises(InputError, match="xyz"):
        roi_aware_max_pool(torch.full((1, 4, 3), math.nan), feats, boxes)
    with pytest.raises(InputError, match="boxes"):
        roi_aware_max_pool(xyz, feats, torch.zeros(2, 1, 7))
    monkeypatch.setenv("XUFRAME_MAX_BYTES", "100000")
    with pytest.raises(InputError, match="memory"):
        roi_aware_max_pool(xyz, feats, torch.zeros(1, 100, 7), [5])


# ------------------------------------------------------------------ losses


def test_focal_loss_by_hand():
    logits = torch.tensor([0.0, 0.0, math.log(3.0), -math.log(3.0)], dtype=F64)
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=F64)
    loss = sigmoid_focal_loss(logits, targets, reduction="none")
    # p = 0.5, 0.5, 0.75, 0.25; p_t = 0.5, 0.5, 0.75, 0.75
    expected = [
        0.25 * 0.25 * LOG2,
        0.75 * 0.25 * LOG2,
        0.25 * 0.0625 * -math.log(0.75),
        0.75 * 0.0625 * -math.log(0.75),
    ]
    assert loss.tolist() == pytest.approx(expected, abs=1e-12)
    assert float(sigmoid_focal_loss(logits, targets)) == pytest.approx(sum(expected))
    bce = sigmoid_focal_loss(logits, targets, alpha=None, gamma=0.0, reduction="mean")
    assert float(bce) == pytest.approx(
        float(torch.nn.functional.binary_cross_entropy_with_logits(logits, targets))
    )
    big = sigmoid_focal_loss(
        torch.tensor([200.0, -200.0]), torch.tensor([0.0, 1.0]), reduction="none"
    )
    assert bool(torch.isfinite(big).all())
    with pytest.raises(InputError, match="targets"):
        sigmoid_focal_loss(logits, targets * 2)
    with pytest.raises(InputError, match="alpha"):
        sigmoid_focal_loss(logits, targets, alpha=2.0)
    with pytest.raises(InputError, match="reduction"):
        sigmoid_focal_loss(logits, targets, reduction="avg")  # type: ignore[arg-type]


def test_center_size_l1_by_hand():
    pred = torch.tensor([[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.5]])
    target = torch.tensor([[0.0, 2.5, 3.0, 2.0, 2.0, 1.0, 0.0]])
    centre, size = center_size_l1(pred, target)
    assert centre.tolist() == pytest.approx([1.5]) and size.tolist() == pytest.approx([3.0])
    _, scaled = center_size_l1(pred, target, size_scale=torch.tensor([0.5, 1.0, 4.0]))
    assert scaled.tolist() == pytest.approx([2.0 + 0.5])
    with pytest.raises(InputError, match="size_scale"):
        center_size_l1(pred, target, size_scale=torch.tensor([0.0, 1.0, 1.0]))


def test_iou_loss_by_hand_and_its_gradient():
    cube = torch.tensor([[0, 0, 0, 1, 1, 1, 0.0]], dtype=F64)
    moved = torch.tensor([[0.5, 0, 0, 1, 1, 1, 0.0]], dtype=F64)
    for mode in ("rotated", "axis_aligned"):
        assert float(iou_loss_3d(cube, cube, mode=mode)) == pytest.approx(0.0, abs=1e-12)
        assert float(iou_loss_3d(moved, cube, mode=mode)) == pytest.approx(1 - 1 / 3)
        assert (
            float(iou_loss_3d(cube + torch.tensor([5.0, 0, 0, 0, 0, 0, 0]), cube, mode=mode)) == 1.0
        )
    # a 2 x 1 x 1 box and itself turned by 90 degrees: IoU 1/3 with the yaw, 1 without it
    long = torch.tensor([[0, 0, 0, 2, 1, 1, 0.0]], dtype=F64)
    turned = torch.tensor([[0, 0, 0, 2, 1, 1, math.pi / 2]], dtype=F64)
    assert float(iou_loss_3d(turned, long)) == pytest.approx(1 - 1 / 3)
    assert float(iou_loss_3d(turned, long, mode="axis_aligned")) == pytest.approx(0.0)
    # a negative predicted size counts as 0: IoU 0
    assert float(iou_loss_3d(torch.tensor([[0, 0, 0, -1, 1, 1, 0.0]]), long.float())) == 1.0
    pred = torch.tensor([[0.2, -0.1, 0.05, 1.8, 1.1, 0.9, 0.3]], dtype=F64, requires_grad=True)
    for mode in ("rotated", "axis_aligned"):
        assert torch.autograd.gradcheck(
            lambda p, mode=mode: iou_loss_3d(p, long, mode=mode), (pred,)
        )
    iou_loss_3d(pred, long).sum().backward()
    assert float(pred.grad[0, 6].abs()) > 0  # the yaw is learned from the rotated IoU


def test_corner_loss_by_hand():
    box = torch.tensor([[0, 0, 0, 2, 1, 1, 0.0]], dtype=F64)
    backwards = torch.tensor([[0, 0, 0, 2, 1, 1, math.pi]], dtype=F64)
    assert float(corner_loss(box, box)) == 0.0
    # heading flipped: the same box, so 0 with the flip; without it every corner is
    # sqrt(2^2 + 1^2) away: Huber(delta=1) = sqrt(5) - 0.5
    assert float(corner_loss(backwards, box)) == pytest.approx(0.0, abs=1e-12)
    assert float(corner_loss(backwards, box, heading_flip=False)) == pytest.approx(
        math.sqrt(5) - 0.5
    )
    shift = torch.tensor([[0.5, 0, 0, 0, 0, 0, 0]], dtype=F64)
    assert float(corner_loss(box + shift, box)) == pytest.approx(0.5 * 0.25)  # quadratic part
    far = box + 4 * shift  # every corner 2 m from its own
    assert float(corner_loss(far, box, heading_flip=False)) == pytest.approx(2.0 - 0.5)  # linear
    assert float(corner_loss(far, box, heading_flip=False, delta=3.0)) == pytest.approx(2.0)
    # VoteNet's minimum is taken corner by corner: corners 1 and 2 of the moved box lie 1 m
    # from corners 1 and 2 of the flipped target, so they count 0.5 instead of 1.5
    assert float(corner_loss(far, box)) == pytest.approx((1.5 + 0.5 + 0.5 + 1.5) / 4)
    pred = box.clone().requires_grad_(True)
    corner_loss(pred, box).sum().backward()  # at the minimum: gradient 0, not NaN
    assert torch.equal(pred.grad, torch.zeros_like(pred))
    pred = torch.tensor([[0.3, 0.1, -0.2, 1.5, 0.8, 1.3, 0.4]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: corner_loss(p, box), (pred,))
    with pytest.raises(InputError, match="delta"):
        corner_loss(box, box, delta=0.0)
    with pytest.raises(InputError, match="target"):
        corner_loss(box, box.repeat(2, 1))


def test_box_corners_are_boxes3d_corners():
    boxes = torch.tensor([[1, 2, 3, 2, 1, 0.5, 0.7], [0, 0, 0, 1, 3, 2, -2.0]], dtype=F64)
    assert torch.allclose(box_corners(boxes), Boxes3D(boxes).corners(), atol=1e-14)


# ------------------------------------------------------------------ suppression


@settings(max_examples=60, deadline=None)
@given(
    seeds=st.lists(st.tuples(*[st.floats(-100.0, 100.0)] * 3), min_size=1, max_size=6),
    offsets=st.lists(st.tuples(*[st.floats(-1e3, 1e3)] * 3), min_size=6, max_size=6),
    probs=st.lists(st.sampled_from([0.0, 0.25, 1.0]), min_size=6, max_size=6),
)
def test_a_background_seed_does_not_move(seeds, offsets, probs):
    n = len(seeds)
    seed = torch.tensor(seeds, dtype=F64)[None]
    offset = torch.tensor(offsets[:n], dtype=F64, requires_grad=True)
    prob = torch.tensor(probs[:n], dtype=F64)
    votes = suppress_votes(seed, offset[None], prob[None])
    still = prob == 0
    assert torch.equal(votes[0][still], seed[0][still])
    whole = prob == 1
    assert torch.equal(votes[0][whole], seed[0][whole] + offset.detach()[whole])
    votes.sum().backward()
    assert bool((offset.grad[still] == 0).all())


def test_suppression_through_the_logits():
    seed = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    offset = torch.tensor([[[5.0, 5.0, 5.0], [1.0, -1.0, 0.5]]])
    logits = torch.tensor([[[0.0, -1000.0], [0.0, 0.0]]])  # background for sure; undecided
    prob = foreground_probability(logits)
    assert prob.tolist() == [[0.0, 0.5]]
    votes = suppress_votes(seed, offset, prob)
    assert torch.equal(votes[0, 0], seed[0, 0])
    assert votes[0, 1].tolist() == [0.5, -0.5, 0.25]
    with pytest.raises(InputError, match="probabilities"):
        suppress_votes(seed, offset, torch.tensor([[0.5, 1.5]]))
    with pytest.raises(InputError, match="offsets"):
        suppress_votes(seed, offset[:, :1], prob)


def test_suppression_losses_by_hand():
    seed = torch.tensor([[[0.1, 0.0, 0.0], [5.0, 0.0, 0.0]]], dtype=F64)
    votes = torch.tensor([[[0.3, 0.0, -0.1], [9.0, 9.0, 9.0]]], dtype=F64)
    logits = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]], dtype=F64)
    boxes = [Boxes3D(torch.tensor([[0, 0, 0, 1, 1, 1, 0.0]], dtype=F64))]
    out = suppression_losses(votes, seed, logits, boxes)
    assert float(out["vote"]) == pytest.approx(0.4)  # |0.3| + |-0.1|, the one foreground seed
    expected = (math.log(1 + math.exp(-1.0)) + 0.2 * LOG2) / 1.2
    assert float(out["foreground"]) == pytest.approx(expected)
    none = suppression_losses(votes, seed, logits, [Boxes3D.empty(F64)])
    assert float(none["vote"]) == 0.0
    assert float(none["foreground"]) == pytest.approx(
        (0.2 * LOG2 + 0.2 * math.log(1 + math.e)) / 0.4
    )
    nothing = suppression_losses(
        torch.zeros(0, 4, 3), torch.zeros(0, 4, 3), torch.zeros(0, 4, 2), []
    )
    assert float(nothing["vote"]) == 0.0 and float(nothing["foreground"]) == 0.0
    silent = suppression_losses(votes, seed, logits, [Boxes3D.empty()], background_weight=0.0)
    assert float(silent["foreground"]) == 0.0
    with pytest.raises(InputError, match="boxes"):
        suppression_losses(votes, seed, logits, boxes * 2)
    with pytest.raises(InputError, match="boxes"):
        suppression_losses(votes, seed, logits, [torch.zeros(1, 7)])  # type: ignore[list-item]
    with pytest.raises(InputError, match="foreground_logits"):
        suppression_losses(votes, seed, logits[..., :1], boxes)
