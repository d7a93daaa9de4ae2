"""DENFI and the pillars baseline: targets, decoding, the DENFI conv, losses and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.data import LidarScenes, collate_lidar, read_velodyne, write_velodyne
from xuframe.errors import InputError
from xuframe.ops import points_in_boxes
from xuframe.types import Boxes3D, PointCloud
from xuframe_plugins.denfi import (
    DEMO_CONFIG,
    BevBackbone,
    BevGrid,
    DenfiConv,
    DenseBoundaryHead,
    PillarEncoder,
    boundary_losses,
    boundary_sample_points,
    boundary_targets,
    decode_boundaries,
    distance_offset,
    sigmoid_focal_loss,
)

GRID = BevGrid(0.0, -12.8, 0.64, 0.64, 40, 40)
NB = 6


@st.composite
def scenes(draw):
    """A few non-overlapping boxes on GRID (one per 8 x 8 m tile)."""
    tiles = draw(st.lists(st.integers(0, 8), min_size=0, max_size=5, unique=True))
    rows = []
    for t in tiles:
        cx = 1.5 + (t % 3) * 8.4 + draw(st.floats(0, 1))
        cy = -12.8 + 1.5 + (t // 3) * 8.4 + draw(st.floats(0, 1))
        rows.append(
            [
                cx + 2.5,
                cy + 2.5,
                draw(st.floats(-1.5, 0.5)),
                draw(st.floats(0.3, 4.8)),
                draw(st.floats(0.3, 2.0)),
                draw(st.floats(0.5, 2.0)),
                draw(st.floats(-math.pi, math.pi)),
            ]
        )
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows))))
    return Boxes3D(torch.tensor(rows, dtype=torch.float32).reshape(-1, 7)), labels


def perfect_regression(t):
    """The raw regression map that decodes to the targets exactly."""
    h, w = t["positive"].shape
    reg = torch.zeros(2 * NB + 8, h, w)
    reg[0:4] = (t["distances"] + distance_offset(GRID)).log()
    reg[4 : 4 + NB] = F.one_hot(t["bin"], NB).permute(2, 0, 1) * 10.0
    reg[4 + NB : 4 + 2 * NB] = t["residual"][None].expand(NB, -1, -1)
    reg[4 + 2 * NB : 6 + 2 * NB] = F.one_hot(t["direction"], 2).permute(2, 0, 1) * 10.0
    reg[6 + 2 * NB] = t["z"]
    reg[7 + 2 * NB] = t["log_h"]
    return reg


@settings(max_examples=40)
@given(scenes(), st.sampled_from([0.2, 0.4, 1.0]))
def test_every_positive_cell_decodes_to_its_box(case, shrink):
    boxes, labels = case
    t = boundary_targets(boxes, labels, GRID, 3, shrink, NB)
    assert not (t["positive"] & t["ignore"]).any()
    assert torch.equal(t["heat"].amax(0).bool(), t["positive"])
    decoded = decode_boundaries(perfect_regression(t)[None], GRID, NB)[0]  # (H, W, 7)
    for k, box in enumerate(boxes.tensor):
        inside = points_in_boxes(
            torch.stack(
                [*GRID.centres(), torch.full((GRID.ny, GRID.nx), float(box[2]))], -1
            ).reshape(-1, 3),
            Boxes3D(box[None]),
        )[:, 0].reshape(GRID.ny, GRID.nx)
        # the centre cell is positive and of the box's class
        ix = int(torch.floor((box[0] - GRID.x_min) / GRID.dx))  # float32, as the targets do
        iy = int(torch.floor((box[1] - GRID.y_min) / GRID.dy))
        assert t["positive"][iy, ix] and t["heat"][labels[k], iy, ix] == 1
        inside[iy, ix] = True
        mine = t["positive"] & inside
        got = decoded[mine]
        assert len(got) >= 1
        want = box.expand(len(got), -1)
        assert torch.allclose(got[:, :6], want[:, :6], atol=2e-3)
        dyaw = torch.remainder(got[:, 6] - want[:, 6] + math.pi, 2 * math.pi) - math.pi
        assert dyaw.abs().max() < 2e-3


def test_the_ignore_band_is_the_box_outside_its_core():
    box = Boxes3D(torch.tensor([[10.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.3]]))
    t = boundary_targets(box, torch.tensor([0]), GRID, 3, 0.4, NB)
    assert t["ignore"].sum() > t["positive"].sum() > 0
    assert t["heat"].sum() == t["positive"].sum()
    empty = boundary_targets(
        Boxes3D(torch.zeros(0, 7)), torch.zeros(0, dtype=torch.int64), GRID, 3, 0.4, NB
    )
    assert not empty["positive"].any() and not empty["ignore"].any()


def test_perfect_predictions_have_no_regression_loss():
    boxes = Boxes3D(
        torch.tensor([[10.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.3], [20, 5, -1, 0.8, 0.6, 1.8, -2.0]])
    )
    t = boundary_targets(boxes, torch.tensor([0, 1]), GRID, 3, 0.4, NB)
    reg = perfect_regression(t)[None]
    stacked = {k: v[None] for k, v in t.items()}
    losses = boundary_losses(torch.where(stacked["heat"] > 0, 10.0, -10.0), reg, stacked, GRID, NB)
    assert losses["iou"] < 1e-4 and losses["box"] < 1e-4
    assert losses["cls"] < 1e-3 and losses["angle"] < 1e-3
    worse = boundary_losses(torch.zeros_like(stacked["heat"]), reg * 0.5, stacked, GRID, NB)
    assert all(worse[k] > losses[k] for k in losses)


def test_zero_size_boxes_are_rejected_by_name():
    box = Boxes3D(torch.tensor([[10.0, 0.0, -1.0, 0.0, 2.0, 1.5, 0.3]]))
    with pytest.raises(InputError, match="box 0 has a zero"):
        boundary_targets(box, torch.tensor([0]), GRID, 3, 0.4, NB)


def test_boundary_points_are_corners_face_midpoints_and_centre():
    box = torch.tensor([5.0, 1.0, 0.0, 4.0, 2.0, 1.0, 0.0]).expand(1, 1, 1, 7)
    grid = BevGrid(0.0, -5.0, 1.0, 1.0, 11, 11)
    p = boundary_sample_points(box, grid)[0, 0, 0]  # (9, 2) normalised
    cells = (p + 1) / 2 * 10  # back to cell index coordinates
    metres = torch.stack([cells[:, 0] + 0.5, cells[:, 1] + 0.5 - 5.0], 1)
    expected = {(x, y) for x in (3.0, 5.0, 7.0) for y in (0.0, 1.0, 2.0)}
    assert {(round(float(a), 4), round(float(b), 4)) for a, b in metres} == expected


def test_denfi_conv_on_point_boxes_is_a_weighted_pointwise_conv():
    """With zero-size boxes every tap lands on the cell itself: the conv reduces to the
    sum of the depthwise weights times the (narrowed) features, then the pointwise conv."""
    torch.manual_seed(0)
    conv = DenfiConv(8, 4, 5).eval()
    grid = BevGrid(0.0, 0.0, 1.0, 1.0, 6, 5)
    x = torch.randn(2, 8, 5, 6)
    cx, cy = grid.centres()
    boxes = torch.zeros(2, 5, 6, 7)
    boxes[..., 0], boxes[..., 1] = cx, cy
    got = conv(x, boxes, grid)
    narrowed = conv.reduce(x)
    mixed = narrowed * conv.depthwise.sum(1)[None, :, None, None]
    want = F.relu(conv.norm(conv.pointwise(mixed)))
    assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(InputError, match=r"\(B, H, W, 7\)"):
        conv(x, boxes[:, :4], grid)


@pytest.mark.parametrize("name", ["pillars-baseline", "denfi"])
def test_a_few_steps_on_one_batch_lower_the_loss(name):
    torch.manual_seed(0)
    model = xuframe.create("detector", name, **DEMO_CONFIG)
    batch = type(model).example_batch(2, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        total = sum(model.loss(batch).values())
        first = float(total.detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    with torch.no_grad():
        assert float(sum(model.loss(batch).values())) < 0.7 * first


@pytest.fixture(scope="module")
def model():
    return xuframe.create("detector", "denfi", **DEMO_CONFIG).eval()


def test_empty_clouds_and_scenes_without_objects_are_valid(model):
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))
    dets = model.predict([empty, empty])
    assert len(dets) == 2 and all(isinstance(d.geometry, Boxes3D) for d in dets)
    scene = LidarScenes(1, seed=0, max_objects=0, azimuth_step=0.8)[0]
    assert len(scene.boxes) == 0
    batch = collate_lidar([{"points": scene.points, "boxes": scene.boxes, "labels": scene.labels}])
    model.train()
    losses = model.loss(batch)
    model.eval()
    assert all(torch.isfinite(v) for v in losses.values())
    assert float(losses["iou"].detach()) == 0.0 and float(losses["cls"].detach()) > 0


def test_points_with_nan_are_refused(tmp_path):
    with pytest.raises(InputError, match="finite|NaN"):
        PointCloud(torch.tensor([[1.0, float("nan"), 0.0]]), torch.zeros(1, 1))
    # a scan file holding NaN is refused when read, naming the problem
    path = tmp_path / "nan.bin"
    import numpy as np

    np.array([[1.0, np.nan, 0.0, 0.5]], dtype=np.float32).tofile(path)
    with pytest.raises(InputError, match="finite|NaN"):
        read_velodyne(path)
    write_velodyne(tmp_path / "ok.bin", PointCloud(torch.ones(3, 3), torch.zeros(3, 1)))
    assert len(read_velodyne(tmp_path / "ok.bin")) == 3


def test_bad_inputs_get_clear_errors(model):
    with pytest.raises(InputError, match="list of PointCloud"):
        model.predict(torch.zeros(10, 4))
    with pytest.raises(InputError, match="1 feature channel"):
        model.predict([PointCloud(torch.zeros(5, 3))])
    with pytest.raises(InputError, match="at least one"):
        model.predict([])
    with pytest.raises(InputError, match="batch key 'boxes'"):
        model.loss({"inputs": [PointCloud(torch.zeros(5, 3), torch.zeros(5, 1))]})
    with pytest.raises(xuframe.errors.ConfigError, match="divisible by 8"):
        xuframe.create("detector", "denfi", point_range=[0, -10.24, -3, 9.6, 10.24, 1])


def _cfg(**changes):
    return {**DEMO_CONFIG, **changes}


@pytest.mark.parametrize("name", ["pillars-baseline", "denfi"])
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"classes": ()}, "at least one class"),
        ({"classes": ("Car", "Car")}, "distinct"),
        ({"classes": ("Car", "")}, "non-empty name"),
        ({"pillar_size": (-0.32, 0.32)}, r"pillar_size\[0\]: expected a number > 0"),
        ({"pillar_size": (0.32, 0.0)}, r"pillar_size\[1\]: expected a number > 0"),
        ({"pillar_size": (0.32,)}, "2 numbers"),
        ({"pillar_size": (1e30, 1e30)}, "whole number"),
        ({"point_range": [0, -10, -3, 10.24, 10, 1]}, "whole number of 0.32 m cells along y"),
        ({"point_range": [0, 0, 0, 0, 0, 0]}, "x_max > x_min"),
        ({"point_range": [0, -12.8, 1, 25.6, 12.8, -3]}, "z_max > z_min"),
        ({"point_range": [0, -12.8, -3, 25.6, 12.8]}, "6 numbers"),
        ({"point_features": -1}, "point_features"),
        ({"widths": (16, 32)}, "3 block widths"),
        ({"widths": (0, 16, 32)}, r"widths\[0\]"),
        ({"layers": -1}, "layers"),
        ({"layers": 10**9}, "layers"),
        ({"pillar_channels": 10**9}, "the weights"),
        ({"point_features": 10**9}, "the weights"),
        ({"up_channels": 10**9}, "the weights"),
        ({"head_channels": 10**9}, "the weights"),
        ({"num_bins": 10**9}, "the weights"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"score_threshold": -0.1}, "score_threshold"),
    ],
)
def test_configs_that_cannot_work_are_refused_at_construction(name, changes, match):
    with pytest.raises(xuframe.errors.ConfigError, match=match):
        xuframe.create("detector", name, **_cfg(**changes))


@pytest.mark.parametrize("name", ["pillars-baseline", "denfi"])
@pytest.mark.parametrize(
    "changes",
    [
        {"pillar_size": (0.001, 0.001)},  # 25,600^2 pillars: 42 GB for the canvas alone
        {"pillar_size": (1e-9, 1e-9)},
        {"point_range": [0, -1e6, -3, 1e6, 1e6, 1]},
    ],
)
def test_grids_too_large_for_memory_are_refused_with_the_reason(name, changes):
    with pytest.raises(
        xuframe.errors.ConfigError, match=r"pillars: point_range / pillar_size.*memory"
    ):
        xuframe.create("detector", name, **_cfg(**changes))


def test_a_batch_whose_maps_exceed_memory_is_refused_before_work(model, monkeypatch):
    cloud = PointCloud(torch.zeros(5, 3), torch.zeros(5, 1))
    # 80 x 80 pillars, 36 floats each (the DENFI conv's 9 samples of 16 channels, per 4 pillars)
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(int(3.5 * 80 * 80 * 36 * 4)))  # 3 clouds, not 4
    assert len(model.predict([cloud] * 3)) == 3
    with pytest.raises(InputError, match="4 point clouds.*memory"):
        model.predict([cloud] * 4)


def test_a_range_not_a_whole_number_of_pillars_no_longer_breaks_the_canvas():
    """Before, a 25.728 m range of 0.32 m pillars made an 80-pillar grid while the voxelizer
    counted 81: points in the last part-pillar were scattered into the next row, or past the
    canvas (IndexError). Such a range is refused; BevGrid.from_range refuses it too."""
    with pytest.raises(xuframe.errors.ConfigError, match="whole number"):
        xuframe.create(
            "detector",
            "pillars-baseline",
            **_cfg(point_range=[0.0, -12.8, -3.0, 25.728, 12.8, 1.0]),
        )
    with pytest.raises(InputError, match="whole number"):
        BevGrid.from_range([0.0, -12.8, -3.0, 25.728, 12.8, 1.0], [0.32, 0.32])
    # float round-off in a whole number of pillars is fine (KITTI's 69.12 m of 0.16 m pillars)
    assert BevGrid.from_range([0, -39.68, -3, 69.12, 39.68, 1], [0.16, 0.16]).nx == 432


def _scene_batch(model, n=2):
    return model.example_batch(n)


def _first(change):
    def apply(items):
        items = list(items)
        items[0] = change(items[0])
        return items

    return apply


@pytest.mark.parametrize(
    ("key", "change", "match"),
    [
        ("labels", _first(lambda lab: lab.float()), "integer labels"),
        ("labels", _first(lambda lab: [0.0] * len(lab)), "integer labels"),
        ("labels", _first(lambda lab: lab[:-1]), r"expected \d+ labels"),
        ("labels", _first(lambda lab: lab + 3), r"labels in \[0, 2\]"),
        ("labels", _first(lambda lab: lab[None]), "1-D"),
        ("labels", lambda labs: labs[:1], r"'labels'\]: expected 2 entries"),
        ("boxes", _first(lambda b: b.tensor.tolist()), "expected Boxes3D"),
        ("boxes", _first(lambda b: b.tensor), "expected Boxes3D"),
        ("boxes", _first(lambda b: b.tensor.numpy()), "expected Boxes3D"),
        ("boxes", lambda bs: None, "a list"),
        ("boxes", lambda bs: bs[:1], r"'boxes'\]: expected 2 entries"),
        ("boxes", _first(lambda b: Boxes3D(b.tensor * torch.tensor([1, 1, 1, 0, 1, 1, 1]))), "zero or negative size"),
        ("inputs", lambda clouds: clouds * 2, r"'boxes'\]: expected 4 entries"),
        ("inputs", lambda clouds: [], "at least one point cloud"),
        ("inputs", lambda clouds: [c.numpy() for c in clouds], "list of PointCloud"),
        ("inputs", lambda clouds: clouds[0], "list of PointCloud"),
        ("inputs", _first(lambda c: PointCloud(c.xyz, torch.zeros(len(c), 2))), "1 feature channel"),
        ("labels", _first(lambda lab: lab[0]), "1-D"),
        ("labels", _first(lambda lab: None), "labels"),
    ],
)  # fmt: skip
def test_loss_refuses_bad_batches_before_running_the_model(key, change, match):
    model = xuframe.create("detector", "pillars-baseline", **DEMO_CONFIG)
    calls = []
    model.encoder.register_forward_hook(lambda *_: calls.append(1))
    batch = _scene_batch(model)
    batch[key] = change(batch[key])
    with pytest.raises(InputError, match=match):
        model.loss(batch)
    with pytest.raises(InputError, match=match):
        model.targets(batch)
    assert not calls


def test_points_mutated_to_nan_and_wrong_widths_are_refused(model):
    cloud = PointCloud(torch.rand(10, 3) * 10, torch.zeros(10, 1))
    cloud.xyz[3, 1] = math.nan  # a frozen value type, but its tensor was changed in place
    with pytest.raises(InputError, match="point cloud 0 xyz: expected finite"):
        model.predict([cloud])
    with pytest.raises(InputError, match=r"point cloud 1: expected 1 feature channel"):
        model.predict(
            [
                PointCloud(torch.zeros(2, 3), torch.zeros(2, 1)),
                PointCloud.from_numpy(torch.zeros(4, 5)),
            ]
        )
    with pytest.raises(InputError, match=r"shape \(N, 3\)"):
        PointCloud(torch.zeros(4, 4))


def test_empty_and_one_point_clouds_predict_without_error(model):
    """An empty cloud predicts nothing; a cloud with one point in range gets that pillar's
    feature in eval mode (before, a single point was dropped from the canvas)."""
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))
    assert [len(d) for d in model.predict([empty])] == [0]
    one = PointCloud(torch.tensor([[5.0, 0.0, -1.0]]), torch.ones(1, 1))
    canvas = model.encoder([one])
    assert int((canvas.abs().sum(1) > 0).sum()) == 1
    assert len(model.predict([one, empty])) == 2


def test_float64_clouds_are_cast_to_the_model(model):
    xyz = torch.rand(200, 3, dtype=torch.float64) * torch.tensor([25.0, 20.0, 2.0]) - torch.tensor(
        [0.0, 10.0, 2.0], dtype=torch.float64
    )
    cloud64 = PointCloud(xyz, torch.ones(200, 1, dtype=torch.float64))
    cloud32 = PointCloud(xyz.float(), torch.ones(200, 1))
    a, b = model.predict([cloud64])[0], model.predict([cloud32])[0]
    torch.testing.assert_close(a.scores, b.scores)


G8 = BevGrid(0.0, -12.8, 0.64, 0.64, 40, 40)
TB = Boxes3D([[5.0, 0.0, 0.0, 2.0, 1.0, 1.0, 0.0]])
TL = torch.tensor([0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: boundary_targets(TB.tensor, TL, G8, 3, 0.4, 6), "expected Boxes3D"),
        (lambda: boundary_targets(TB.tensor.tolist(), [0], G8, 3, 0.4, 6), "expected Boxes3D"),
        (lambda: boundary_targets(TB, TL.float(), G8, 3, 0.4, 6), "integer labels"),
        (lambda: boundary_targets(TB, TL, G8, 0, 0.4, 6), "num_classes"),
        (lambda: boundary_targets(TB, TL, G8, 3, math.nan, 6), "shrink"),
        (lambda: boundary_targets(TB, TL, G8, 3, -1.0, 6), "shrink"),
        (lambda: boundary_targets(TB, TL, G8, 3, 0.4, 0), "num_bins"),
        (lambda: boundary_targets(TB, TL, "grid", 3, 0.4, 6), "BevGrid"),
        (lambda: boundary_targets(TB, TL, BevGrid(0, 0, 1, 1, 10**6, 10**6), 3, 0.4, 6), "memory"),
        (lambda: BevGrid(math.nan, 0, 1, 1, 4, 4), "x_min"),
        (lambda: BevGrid(0, 0, -1, 1, 4, 4), "dx"),
        (lambda: BevGrid(0, 0, 1, 1, 0, 4), "nx"),
        (lambda: BevGrid.from_range((0, 0, 0, 10, 10, 1), (0, 0)), "cell"),
        (lambda: BevGrid.from_range("abcdef", (1, 1)), "6 numbers"),
        (lambda: BevGrid.from_range((0, 0, 0, 10, 10, 1), (1, 1), 0), "stride"),
        (lambda: decode_boundaries(torch.zeros(1, 5, 40, 40), G8, NB), r"shape \(N, 20, 40, 40\)"),
        (lambda: decode_boundaries(torch.zeros(1, 20, 10, 10), G8, NB), r"shape \(N, 20, 40, 40\)"),
        (lambda: decode_boundaries([1.0], G8, NB), "torch.Tensor"),
        (lambda: decode_boundaries(torch.zeros(1, 20, 40, 40), G8, 0), "num_bins"),
        (lambda: decode_boundaries(torch.full((1, 20, 40, 40), math.nan), G8, NB), "finite"),
        (lambda: distance_offset("grid"), "BevGrid"),
        (lambda: sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(3, 3), torch.ones(1)), "targets"),
        (lambda: sigmoid_focal_loss(torch.full((2, 3), math.nan), torch.zeros(2, 3), torch.ones(1)), "finite"),
        (lambda: sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(4)), "broadcasts"),
        (lambda: sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(1), gamma=-1.0), "gamma"),
        (lambda: boundary_losses(torch.zeros(1, 3, 40, 40), torch.zeros(1, 5, 40, 40), {}, G8, NB), "reg"),
        (lambda: boundary_losses(torch.zeros(1, 3, 40, 40), torch.zeros(1, 20, 40, 40), {}, G8, NB), "key 'heat'"),
        (lambda: boundary_losses(torch.full((1, 3, 40, 40), math.nan), torch.zeros(1, 20, 40, 40), {}, G8, NB), "finite"),
        (lambda: boundary_sample_points(torch.zeros(1, 4, 4, 5), G8), r"\(N, M, K, 7\)"),
        (lambda: boundary_sample_points([1.0], G8), "torch.Tensor"),
        (lambda: DenfiConv(16, 8, 8)(torch.zeros(1, 15, 4, 4), torch.zeros(1, 4, 4, 7), G8), "features"),
        (lambda: DenfiConv(16, 8, 8)(torch.zeros(1, 16, 4, 4), torch.zeros(1, 4, 4, 7), G8), "grid"),
        (lambda: DenfiConv(-1, 8, 8), "channels"),
        (lambda: DenseBoundaryHead(-1, 4, 3, 6), "cin"),
        (lambda: DenseBoundaryHead(8, 4, 3, 6)(torch.zeros(1, 7, 4, 4)), r"\(N, 8, M, K\)"),
        (lambda: PillarEncoder((0, 0, 0, 10, 10, 1), (-1, 1), 1, 8), "pillar_size"),
        (lambda: PillarEncoder((0, 0, 0, 10.24, 10.24, 1), (0.32, 0.32), 1, 8)(PointCloud(torch.zeros(2, 3), torch.zeros(2, 1))), "list of PointCloud"),
        (lambda: BevBackbone(-1, (1, 2, 3), 1, 4), "cin"),
        (lambda: BevBackbone(4, (8, 8), 1, 4), "3 block widths"),
        (lambda: BevBackbone(4, (8, 8, 8), 1, 4)(torch.zeros(1, 3, 16, 16)), r"\(N, 4, M, K\)"),
        (lambda: BevBackbone(4, (8, 8, 8), 1, 4)(torch.zeros(1, 4, 12, 16)), "multiples of 8"),
    ],
)  # fmt: skip
def test_public_helpers_check_their_arguments_before_work(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_boundary_losses_accept_their_own_targets():
    t = boundary_targets(TB, TL, G8, 3, 0.4, NB)
    stacked = {k: v[None] for k, v in t.items()}
    losses = boundary_losses(torch.zeros(1, 3, 40, 40), torch.zeros(1, 20, 40, 40), stacked, G8, NB)
    assert all(torch.isfinite(v) for v in losses.values())
    # an empty label list of the default float dtype is "no labels", not float labels
    empty = boundary_targets(Boxes3D(torch.zeros(0, 7)), torch.tensor([]), G8, 3, 0.4, NB)
    assert not empty["positive"].any()


def test_detections_land_on_the_objects_after_training():
    """Training on a handful of scenes until they are fit: detections overlap the true cars."""
    torch.manual_seed(0)
    model = xuframe.create("detector", "pillars-baseline", **DEMO_CONFIG)
    scenes = LidarScenes(2, seed=4, azimuth_step=0.4, max_objects=8)
    batch = collate_lidar(
        [{"points": s.points, "boxes": s.boxes, "labels": s.labels} for s in (scenes[0], scenes[1])]
    )
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for _ in range(60):
        loss = sum(model.loss(batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    from xuframe.ops import bev_iou

    found, total = 0, 0
    for dets, boxes in zip(model.predict(batch["inputs"]), batch["boxes"], strict=True):
        in_range = (boxes.tensor[:, 0] < 25.6) & (boxes.tensor[:, 1].abs() < 12.8)
        gt = boxes.tensor[in_range]
        total += len(gt)
        if len(gt) and len(dets):
            iou = bev_iou(
                gt[:, [0, 1, 3, 4, 6]].double(), dets.geometry.tensor[:, [0, 1, 3, 4, 6]].double()
            )
            found += int((iou.max(1).values > 0.3).sum())
    assert total > 0 and found >= 0.5 * total


def test_a_toml_run_trains_and_evaluates_with_kitti_metrics(tmp_path):
    """`xuframe train` on a run file like examples/denfi/scenes.toml, two steps."""
    from pathlib import Path

    from xuframe.engine import load_run, read_metrics, train_run

    shipped = load_run(Path(__file__).parents[2] / "examples" / "denfi" / "scenes.toml")
    assert shipped.section("component")["name"] == "denfi"  # the shipped file parses
    run = tmp_path / "tiny.toml"
    data = (tmp_path / "scenes").as_posix()
    run.write_text(
        f"""
[component]
kind = "detector"
name = "denfi"
[component.config]
point_range = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]
widths = [8, 16, 32]
[trainer]
max_steps = 2
batch_size = 2
eval_every = 2
device = "cpu"
progress = false
plot = false
[data]
train = "xuframe_plugins.denfi.training:lidar_train_loader"
train_args = {{ root = "{data}", n_scenes = 3, batch_size = 2 }}
eval = "xuframe_plugins.denfi.training:lidar_val_loader"
eval_args = {{ root = "{data}", n_scenes = 2, batch_size = 2 }}
[eval]
metrics = ["xuframe_plugins.denfi.training:kitti_evaluator"]
"""
    )
    train_run(run, run_dir=tmp_path / "out")
    rows = [r for r in read_metrics(tmp_path / "out" / "metrics.jsonl") if "eval/mAP/bev" in r]
    assert rows and 0.0 <= rows[-1]["eval/Car/bev/moderate"] <= 1.0


def test_class_agnostic_nms_leaves_no_overlapping_detections():
    from xuframe.ops import bev_iou

    torch.manual_seed(0)
    config = {**DEMO_CONFIG, "score_threshold": 0.0, "nms_iou": 0.1}
    per_class = xuframe.create("detector", "pillars-baseline", **config).eval()
    agnostic = xuframe.create("detector", "pillars-baseline", **config, class_agnostic_nms=True)
    agnostic.load_state_dict(per_class.state_dict())
    agnostic.eval()
    clouds = type(per_class).example_batch(1, seed=2)["inputs"]
    a = agnostic.predict(clouds)[0]
    p = per_class.predict(clouds)[0]
    bev = a.geometry.tensor[:, [0, 1, 3, 4, 6]].double()
    iou = bev_iou(bev, bev) - torch.eye(len(bev), dtype=torch.float64)
    assert len(a) > 1 and float(iou.max()) <= 0.1 + 1e-9
    assert len(p.labels.unique()) > 1  # an untrained head: several classes per spot


REAL_KITTI = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "kitti" / "training"


@pytest.mark.skipif(not REAL_KITTI.is_dir(), reason=f"no real KITTI frames at {REAL_KITTI}")
@pytest.mark.parametrize("name", ["denfi", "pillars-baseline"])
def test_the_demo_runs_the_shipped_weights_on_real_kitti_frames(name):
    cls = xuframe.get_component_class("detector", name)
    if "synthetic" not in xuframe.pretrained_weights("detector", name):
        pytest.skip(f"{name} ships no weights in this checkout")
    result = cls.demo(kitti=str(REAL_KITTI))
    assert result.metrics["Car/labelled"] == 6 and result.metrics["Pedestrian/labelled"] == 1
    assert 0 <= result.metrics["Car/found"] <= 6
    assert "of 6 cars" in result.summary and result.picture is not None


def test_kitti_is_refused_by_demos_that_take_no_kitti_folder(capsys):
    from xuframe.cli import main

    assert main(["demo", "kmeans", "--kitti", "anywhere"]) == 2
    assert "solver/kmeans: its demo takes no KITTI folder" in capsys.readouterr().err
