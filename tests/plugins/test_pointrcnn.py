"""The ``pointrcnn`` baseline detector (issue 23): the bin coding, the stage-2 canonical frame
and residual targets, proposal sampling, conformance, the hook PI-RCNN uses, training and bad
input."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.data import LidarScenes, collate_lidar
from xuframe.errors import ConfigError, InputError
from xuframe.ops import bev_iou, boxes3d_iou, points_in_boxes
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.pircnn import (
    DEMO_CONFIG,
    DEMO_SCENES,
    KITTI_MEAN_SIZES,
    BinCoder,
    PointRCNN,
    canonical_points,
    corner_loss,
    decode_residuals,
    encode_residuals,
    sample_proposals,
)
from xuframe_plugins.pircnn.rcnn_targets import pool_indices

CODER = BinCoder(3.0, 0.5, 12, KITTI_MEAN_SIZES)


def _tiny(**extra: Any) -> PointRCNN:
    torch.manual_seed(0)
    model = xuframe.create("detector", "pointrcnn", **{**DEMO_CONFIG, **extra})
    assert isinstance(model, PointRCNN)
    return model


def _scenes(n: int = 2, seed: int = 0) -> dict[str, Any]:
    scenes = LidarScenes(n, seed=seed, **DEMO_SCENES)
    return collate_lidar(
        [{"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i)}
         for i, s in enumerate(scenes[j] for j in range(n))]
    )  # fmt: skip


def _wrapped(angle: torch.Tensor) -> torch.Tensor:
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


# ------------------------------------------------------------------------ bin coding


def _perfect(targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """The raw prediction vectors that decode to the encoded boxes."""
    n = len(targets["x_bin"])
    nb, nh = CODER.loc_bins, CODER.heading_bins
    parts = [
        torch.nn.functional.one_hot(targets["x_bin"], nb) * 10.0,
        torch.nn.functional.one_hot(targets["y_bin"], nb) * 10.0,
        targets["x_res"][:, None].expand(n, nb),
        targets["y_res"][:, None].expand(n, nb),
        targets["z_res"][:, None],
        torch.nn.functional.one_hot(targets["heading_bin"], nh) * 10.0,
        targets["heading_res"][:, None].expand(n, nh),
        targets["size_res"],
    ]
    return torch.cat([p.double() for p in parts], 1)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.floats(-2.99, 2.99),  # centre offset x from the point (within the bins)
            st.floats(-2.99, 2.99),
            st.floats(-2.0, 2.0),
            st.floats(0.3, 6.0),
            st.floats(0.3, 3.0),
            st.floats(0.3, 3.0),
            st.floats(-10.0, 10.0),  # any yaw: the coding takes it modulo 2 pi
            st.integers(0, 2),
        ),
        min_size=1,
        max_size=8,
    ),
    st.floats(-30, 30),
)
def test_bin_coding_round_trip(rows, shift):
    t = torch.tensor([r[:7] for r in rows], dtype=torch.float64)
    labels = torch.tensor([r[7] for r in rows])
    points = torch.full((len(rows), 3), shift, dtype=torch.float64)
    boxes = t.clone()
    boxes[:, :3] += points
    targets = CODER.encode(points, boxes, labels)
    assert targets["x_res"].abs().max() <= 0.5 + 1e-9
    assert targets["heading_res"].abs().max() <= 1 + 1e-9
    decoded = CODER.decode(points, _perfect(targets), labels)
    assert torch.allclose(decoded[:, :6], boxes[:, :6], atol=1e-6)
    assert _wrapped(decoded[:, 6] - boxes[:, 6]).abs().max() < 1e-6
    # the losses of the perfect prediction: only the cross entropy of logits 10 vs 0
    parts = CODER.loss(_perfect(targets), targets)
    assert all(float(v) < 1e-3 for v in parts.values())


def test_bin_coding_clamps_far_centres_to_the_end_bins():
    points = torch.zeros(2, 3)
    boxes = torch.tensor(
        [[5.0, -7.0, 0.0, 4.0, 2.0, 1.5, 0.0], [0.2, 0.1, 0.0, 4.0, 2.0, 1.5, 0.0]]
    )
    t = CODER.encode(points, boxes, torch.tensor([0, 0]))
    assert t["x_bin"].tolist() == [11, 6] and t["y_bin"].tolist() == [0, 6]
    with pytest.raises(ConfigError, match="whole number"):
        BinCoder(3.0, 0.7)
    with pytest.raises(InputError, match="labels"):
        CODER.encode(points, boxes, torch.tensor([0, 3]))


# ------------------------------------------------------------------ stage 2 geometry


def test_a_proposal_equal_to_its_ground_truth_has_zero_regression_target():
    gt = torch.tensor(
        [[10.0, -3.0, -0.8, 4.2, 1.7, 1.5, 0.0], [25.0, 7.0, -1.0, 0.7, 0.6, 1.8, 2.9],
         [4.0, 1.0, -0.9, 1.8, 0.6, 1.7, -1.3], [30.0, -9.0, -0.7, 3.5, 1.6, 1.4, math.pi]]
    )  # fmt: skip
    target = encode_residuals(gt, gt.clone())
    assert torch.equal(target, torch.zeros_like(target))
    # the box reversed is the same box: zero too (the heading is taken modulo pi)
    reversed_ = gt.clone()
    reversed_[:, 6] += math.pi
    assert encode_residuals(gt, reversed_).abs().max() < 1e-5


@settings(max_examples=50)
@given(st.integers(0, 10_000))
def test_residual_coding_round_trip(seed):
    g = torch.Generator().manual_seed(seed)
    rois = torch.cat(
        [torch.rand(6, 3, generator=g) * 20, 0.5 + torch.rand(6, 3, generator=g) * 4,
         (torch.rand(6, 1, generator=g) * 2 - 1) * math.pi], 1
    ).double()  # fmt: skip
    gt = rois.clone()
    gt[:, :3] += torch.randn(6, 3, generator=g).double()
    gt[:, 3:6] *= 0.7 + 0.6 * torch.rand(6, 3, generator=g).double()
    gt[:, 6] += (torch.rand(6, generator=g).double() * 2 - 1) * 1.4  # within pi/2
    back = decode_residuals(encode_residuals(gt, rois), rois)
    assert torch.allclose(back[:, :6], gt[:, :6], atol=1e-9)
    assert _wrapped(back[:, 6] - gt[:, 6]).abs().max() < 1e-9
    assert corner_loss(back, gt).max() < 1e-9


@settings(max_examples=40)
@given(st.floats(-math.pi, math.pi), st.floats(-20, 20), st.floats(-20, 20))
def test_points_of_a_yawed_box_lie_in_the_axis_aligned_box_of_its_canonical_frame(yaw, x, y):
    box = torch.tensor([[x, y, -0.5, 4.0, 1.6, 1.5, yaw]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    pts = box[0, :3] + (torch.rand(2000, 3, generator=g, dtype=torch.float64) * 2 - 1) * 3
    inside = points_in_boxes(pts, Boxes3D(box))[:, 0]
    local = canonical_points(pts[None], box)[0]
    half = box[0, 3:6] / 2
    in_aligned = (local.abs() <= half + 1e-9).all(1)
    assert torch.equal(in_aligned, inside)
    assert inside.sum() > 40


def test_pooling_gives_the_points_of_each_enlarged_proposal_in_its_frame():
    model = _tiny(pool_margin=0.5, roi_points=16).eval()
    rois = torch.tensor([[5.0, 0.0, 0.0, 2.0, 1.0, 1.0, 0.7], [20.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    g = torch.Generator().manual_seed(1)
    xyz = torch.cat([rois[0, :3] + torch.randn(40, 3, generator=g) * 0.6, torch.zeros(5, 3)])
    features = torch.randn(model.fused_channels(), len(xyz), generator=g)
    scores = torch.rand(len(xyz), generator=g)
    pooled, has = model.pool(xyz, features, scores, rois)
    assert pooled.shape == (2, 16, 5 + model.fused_channels())
    assert has.tolist() == [True, False] and not pooled[1].any()
    half = rois[0, 3:6] / 2 + 0.5
    assert (pooled[0, :, :3].abs() <= half + 1e-5).all()
    # each pooled row is one of the input points with its score, depth and features
    for row in pooled[0]:
        back = (xyz - rois[0, :3]).norm(dim=1)
        k = int((back - row[:3].norm()).abs().argmin())
        assert torch.allclose(row[3], scores[k]) and torch.allclose(row[5:], features[:, k])


@settings(max_examples=40)
@given(
    st.integers(0, 10_000),
    st.integers(0, 6),
    st.integers(0, 40),
    st.integers(1, 50),
    st.floats(0.0, 1.0),
)
def test_pool_indices_are_the_stable_sort_of_the_points_inside(seed, rows, n, count, share):
    # the O(R N) pooling order equals the stable sort the pooling used to run: the points
    # inside first in index order, taken cyclically; a row with none gives zeros
    generator = torch.Generator().manual_seed(seed)
    inside = torch.rand(rows, n, generator=generator) < share
    got = pool_indices(inside, count)
    assert got.shape == (rows, count) and got.dtype == torch.int64
    if n:
        order = torch.argsort((~inside).to(torch.float32), dim=1, stable=True)
        found = inside.sum(1)
        slots = torch.arange(count)[None] % found.clamp(min=1)[:, None]
        assert torch.equal(got, order.gather(1, slots.clamp(max=n - 1)))
    else:
        assert not got.any()
    with pytest.raises(InputError, match="bool"):
        pool_indices(inside.float(), count)
    with pytest.raises(InputError, match="count"):
        pool_indices(inside, 0)


def test_proposal_sampling_keeps_the_foreground_share():
    gt = torch.tensor([[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]])
    near = gt.repeat(10, 1)
    near[:, 0] += torch.linspace(0, 0.4, 10)
    far = gt.repeat(30, 1)
    far[:, 0] += torch.linspace(3.0, 30.0, 30)
    rois = torch.cat([near, far])
    labels = torch.zeros(40, dtype=torch.int64)
    idx, ious, assigned = sample_proposals(rois, labels, gt, torch.tensor([0]), count=16)
    assert len(idx) == 16 and (assigned == 0).all()
    assert int((ious >= 0.55).sum()) == 8
    assert torch.allclose(ious, boxes3d_iou(rois[idx], gt)[:, 0].float())
    # a proposal of another class has IoU 0
    _, other, _ = sample_proposals(rois[:1], torch.tensor([1]), gt, torch.tensor([0]), count=4)
    assert not other.any()


# ------------------------------------------------------------------------ the detector


def _fast_checks() -> list:
    slow = {"check_rejects_bad_input", "check_demo"}  # both run in test_builtin_conformance
    return [c for c in checks_for(PointRCNN) if c.__name__ not in slow]


def test_registered():
    assert type(_tiny()) is PointRCNN
    assert check_rejects_bad_input in checks_for(PointRCNN)


@pytest.mark.parametrize("check", _fast_checks(), ids=lambda c: c.__name__)
def test_conformance(check):
    check(_tiny())


@pytest.mark.slow
def test_bad_input_sweep_on_the_small_model():
    check_rejects_bad_input(_tiny())


def test_config_errors():
    with pytest.raises(ConfigError, match="mean_sizes"):
        _tiny(classes=["Car"])
    with pytest.raises(ConfigError, match="radii"):
        _tiny(radii=[[0.5], [1.0]])
    with pytest.raises(ConfigError, match="rcnn_mlps"):
        _tiny(rcnn_mlps=[[32]])
    with pytest.raises(ConfigError, match="rcnn_score"):
        _tiny(rcnn_score="dice")
    with pytest.raises(ConfigError, match="point_range"):
        _tiny(point_range=[0, 0, 0, -1, 1, 1])


class _Widened(PointRCNN):
    """PI-RCNN's use of the hook: 3 more channels after the stage-1 features."""

    name = "pointrcnn-widened-test"
    seen: ClassVar[list[tuple[int, ...]]] = []

    def fused_channels(self) -> int:
        return super().fused_channels() + 3

    def input_channels(self) -> int:
        return super().input_channels() + 1

    def point_inputs(self, batch, xyz, features, index):
        assert features.shape == (len(xyz), 1, xyz.shape[1])  # the reflectance
        return torch.cat([features, xyz[..., 2:].transpose(1, 2)], 1)  # + height

    def fuse_point_features(self, batch, xyz, features, index):
        self.seen.append(tuple(xyz.shape))
        assert "inputs" in batch and len(batch["inputs"]) == len(xyz)
        # index: each prepared point's row in its own cloud
        assert index.shape == xyz.shape[:2] and index.dtype == torch.int64
        for b, cloud in enumerate(batch["inputs"]):
            assert torch.equal(cloud.xyz[index[b]].to(xyz), xyz[b])
        extra = xyz.transpose(1, 2)  # (B, 3, N): a stand-in for the image features
        return torch.cat([features, extra], 1)


def test_the_fusion_hook_widens_the_stage_two_input():
    torch.manual_seed(0)
    model = _Widened.from_config(DEMO_CONFIG)
    assert model.merge_down.layers[0].in_features == 32 + 64 + 3
    batch = _scenes()
    losses = model.train().loss(batch)
    sum(losses.values()).backward()
    dets = model.eval().predict(batch["inputs"])
    assert len(dets) == 2
    assert _Widened.seen == [(2, 2048, 3), (2, 2048, 3)]
    first = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 3 + 2  # the widened input reached the backbone: offsets,
    # reflectance and height


def test_training_lowers_the_loss():
    model = _tiny().train()
    batch = _scenes(2, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(8):
        losses = model.loss(batch)
        assert set(losses) == {
            "point_cls", "point_loc", "point_heading", "point_size", "rcnn_cls", "rcnn_reg",
            "rcnn_corner",
        }  # fmt: skip
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    assert all(math.isfinite(v) for row in history for v in row.values())
    for key in ("point_cls", "point_loc", "point_heading"):
        assert history[-1][key] < 0.8 * history[0][key], (key, [r[key] for r in history])


def test_iou_guided_confidence_trains():
    model = _tiny(rcnn_score="iou").train()
    losses = model.loss(_scenes())
    assert torch.isfinite(sum(losses.values()))


def test_predict_outputs_and_empty_scenes():
    model = _tiny().eval()
    batch = _scenes()
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))
    behind = PointCloud(torch.tensor([[-5.0, 0.0, 0.0]]), torch.zeros(1, 1))  # out of range
    out = model.predict([batch["inputs"][0], empty, behind, batch["inputs"][1]])
    assert len(out) == 4
    for dets in out:
        assert isinstance(dets, Detections) and isinstance(dets.geometry, Boxes3D)
        assert dets.scores.dtype == torch.float32 and dets.labels.dtype == torch.int64
        assert torch.all((dets.scores >= 0) & (dets.scores <= 1))
        assert torch.all((dets.labels >= 0) & (dets.labels < 3))
        assert torch.all(dets.geometry.tensor[:, 3:6] > 0)
    assert len(out[1]) == 0 and len(out[2]) == 0
    again = model.predict(batch["inputs"][:1])[0]
    assert torch.equal(again.geometry.tensor, out[0].geometry.tensor)


def test_bad_input():
    model = _tiny()
    batch = _scenes()
    cloud = batch["inputs"][0]
    nan = PointCloud(cloud.xyz.clone(), cloud.features.clone())
    nan.xyz[3, 1] = math.nan  # mutated after construction: the model's own check
    with pytest.raises(InputError, match="xyz"):
        model.eval().predict([nan])
    with pytest.raises(InputError, match="feature channel"):
        model.predict([PointCloud(cloud.xyz, torch.zeros(len(cloud), 3))])
    with pytest.raises(InputError, match="list of PointCloud"):
        model.predict(cloud)
    with pytest.raises(InputError, match="to train on"):
        model.train().loss({**batch, "inputs": [PointCloud(torch.zeros(0, 3), torch.zeros(0, 1)),
                                                batch["inputs"][1]]})  # fmt: skip
    with pytest.raises(InputError, match="zero or negative size"):
        bad = batch["boxes"][0].tensor.clone()
        bad[0, 4] = 0.0
        model.loss({**batch, "boxes": [Boxes3D(bad), batch["boxes"][1]]})
    with pytest.raises(InputError, match="labels"):
        model.loss({**batch, "labels": [lab + 5 for lab in batch["labels"]]})


def test_a_scene_without_objects_trains():
    model = _tiny().train()
    batch = _scenes()
    batch = {**batch, "boxes": [Boxes3D(torch.zeros(0, 7))] * 2,
             "labels": [torch.zeros(0, dtype=torch.int64)] * 2}  # fmt: skip
    losses = model.loss(batch)
    assert torch.isfinite(sum(losses.values()))
    assert float(losses["rcnn_reg"].detach()) == 0.0


@pytest.mark.slow  # 111 s on the shared 2-core machine under load (150 steps of ~0.7 s)
def test_overfitting_two_scenes_puts_boxes_on_the_cars():
    """150 AdamW steps on two scenes: the cars the model can see (50 points or more in the
    full scan; the 2,048 points sampled keep an eighth of them) get a confident box at BEV
    IoU > 0.5."""
    torch.manual_seed(0)
    model = _tiny()
    batch = _scenes()
    steps = 150
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 5e-3, total_steps=steps, pct_start=0.2)
    for _ in range(steps):
        loss = sum(model.train().loss(batch).values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
    found, total = 0, 0
    for dets, cloud, boxes, labels in zip(
        model.eval().predict(batch["inputs"]),
        batch["inputs"],
        batch["boxes"],
        batch["labels"],
        strict=True,
    ):
        visible = points_in_boxes(cloud.xyz, boxes).sum(0) >= 50
        cars = boxes.tensor[(labels == 0) & visible]
        total += len(cars)
        confident = dets.geometry.tensor[dets.scores > 0.3]
        if len(cars) and len(confident):
            iou = bev_iou(cars[:, [0, 1, 3, 4, 6]].double(), confident[:, [0, 1, 3, 4, 6]].double())
            found += int((iou.max(1).values > 0.5).sum())
    assert total >= 4
    assert found >= math.ceil(0.75 * total), (found, total)


def test_the_shipped_run_file_trains_the_small_baseline_on_scenes_without_images():
    """examples/pircnn/pointrcnn.toml: DEMO_CONFIG, on the scenes of PI-RCNN's run file without
    their camera images, and the model it names builds."""
    from pathlib import Path

    from xuframe.engine import load_run

    examples = Path(__file__).parents[2] / "examples" / "pircnn"
    run = load_run(examples / "pointrcnn.toml")
    pircnn = load_run(examples / "scenes.toml")
    assert run.section("component")["name"] == "pointrcnn"
    config = run.section("component")["config"]
    assert config == DEMO_CONFIG
    xuframe.create("detector", "pointrcnn", **config)
    data, theirs = run.section("data"), pircnn.section("data")
    for key in ("train_args", "eval_args"):
        assert data[key]["images"] is False and theirs[key]["images"] is True
        mine = {k: v for k, v in data[key].items() if k not in ("images", "root")}
        assert mine == {k: v for k, v in theirs[key].items() if k not in ("images", "root")}
    assert run.section("trainer") == pircnn.section("trainer")
