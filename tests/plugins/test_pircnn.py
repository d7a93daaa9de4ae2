"""The ``pircnn`` detector (issue 23): PointRCNN + the segmentation network + PACF. Conformance,
the reduction to PointRCNN without visible points, training, the evaluator and training-loop
hooks, the segmenter modes, the ablations, what points the camera does not see get, and bad
input."""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch

import xuframe
from xuframe.data import (
    Calibration,
    KittiDataset,
    LidarScenes,
    collate_lidar,
    kitti_calibration,
    project_points,
)
from xuframe.errors import ConfigError, InputError
from xuframe.ops import bev_iou, points_in_boxes
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import Boxes3D, PointCloud
from xuframe_plugins.denfi.training import kitti_evaluator, lidar_train_loader
from xuframe_plugins.pircnn import (
    ABLATIONS,
    DEMO_CONFIG,
    PIRCNN,
    PIRCNN_DEMO_CONFIG,
    PIRCNN_DEMO_SCENES,
    CameraFrame,
    PointRCNN,
    camera_frames,
)
from xuframe_plugins.pircnn.segmentation import ImageSegmenter


def _tiny(**extra: Any) -> PIRCNN:
    torch.manual_seed(0)
    model = xuframe.create("detector", "pircnn", **{**PIRCNN_DEMO_CONFIG, **extra})
    assert isinstance(model, PIRCNN)
    return model


@functools.cache
def _scene_rows(n: int = 2, seed: int = 0) -> tuple[Any, ...]:
    scenes = LidarScenes(n, seed=seed, **PIRCNN_DEMO_SCENES)
    return tuple(scenes[i] for i in range(n))


def _batch(n: int = 2, seed: int = 0) -> dict[str, Any]:
    """A collate_lidar batch with the camera (what KittiDataset(images=True) gives)."""
    calib = kitti_calibration()
    return collate_lidar(
        [{"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i),
          "image": s.image, "semantic": s.semantic, "calib": calib}
         for i, s in enumerate(_scene_rows(n, seed))]
    )  # fmt: skip


def _turned(frames: list[CameraFrame]) -> list[CameraFrame]:
    """The frames with an augmentation of a half turn about z recorded: undoing it puts every
    point behind the camera, so none is visible (the points themselves are unchanged)."""
    half = torch.diag(torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=torch.float64))
    return [attrs.evolve(f, augmentation=half) for f in frames]


# ------------------------------------------------------------------------ the detector


def _fast_checks() -> list:
    slow = {"check_rejects_bad_input", "check_demo"}
    return [c for c in checks_for(PIRCNN) if c.__name__ not in slow]


def test_registered():
    assert type(_tiny()) is PIRCNN
    assert xuframe.get_component_class("detector", "pircnn") is PIRCNN
    assert check_rejects_bad_input in checks_for(PIRCNN)


@pytest.mark.parametrize("check", _fast_checks(), ids=lambda c: c.__name__)
def test_conformance(check):
    check(_tiny())


@pytest.mark.slow
def test_bad_input_sweep_on_the_small_model():
    check_rejects_bad_input(_tiny())


def test_without_visible_points_stage_two_gets_what_pointrcnn_gives_it():
    """PACF with no visible point is its point path; with that path the identity and
    PointRCNN's weights, stage 2 pools exactly PointRCNN's inputs and the detections agree."""
    torch.manual_seed(0)
    base = xuframe.create("detector", "pointrcnn", **DEMO_CONFIG).eval()
    model = _tiny().eval()
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("pacf.", "segmenter.")) for k in missing)
    width = base.fused_channels()
    assert model.fused_channels() == width
    with torch.no_grad():
        model.pacf.point_reshape.weight.copy_(torch.eye(width))
        model.pacf.point_reshape.bias.zero_()
    pooled: dict[str, list[torch.Tensor]] = {"base": [], "pircnn": []}
    for key, det in (("base", base), ("pircnn", model)):
        original = det.stage_two

        def record(x, key=key, original=original):
            pooled[key].append(x.clone())
            return original(x)

        det.stage_two = record
    frames = _turned(camera_frames(_batch()))
    theirs = base.predict([f.points for f in frames])
    ours = model.predict(frames)
    assert len(pooled["base"]) == len(pooled["pircnn"]) == 2
    for a, b in zip(pooled["base"], pooled["pircnn"], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    for a, b in zip(theirs, ours, strict=True):
        assert torch.allclose(a.geometry.tensor, b.geometry.tensor, atol=1e-5)
    # with the camera seeing the points, the image changes what stage 2 gets
    pooled["pircnn"].clear()
    model.predict(camera_frames(_batch()))
    assert not torch.allclose(pooled["base"][0], pooled["pircnn"][0], atol=1e-3)


def test_points_the_camera_does_not_see_get_no_image_feature():
    model = _tiny().eval()
    frames = camera_frames(_batch())
    g = torch.Generator().manual_seed(0)
    index = torch.stack([torch.randperm(len(f.points), generator=g)[:500] for f in frames])
    xyz = torch.stack([f.points.xyz[i] for f, i in zip(frames, index, strict=True)])
    scores, visible = model._point_scores({"inputs": frames}, xyz, index)
    assert scores.shape == (2, 8, 500) and visible.shape == (2, 500)
    for b, f in enumerate(frames):  # visible: projected into the image
        assert torch.equal(
            visible[b], project_points(xyz[b], f.calib, image_size=(1242, 375)).inside
        )
    assert 0.2 < visible.float().mean() < 0.9
    sums = scores.sum(1)  # softmax scores of a visible point sum to 1
    assert torch.allclose(sums[visible], torch.ones_like(sums[visible]), atol=1e-5)
    # behind the camera: not visible, zero features
    behind, seen = model._point_scores({"inputs": _turned(frames)}, xyz, index)
    assert not seen.any() and not behind.any()
    # pasted by ground-truth sampling: hidden (default), or the one-hot of its own pixel's class
    pasted = [torch.zeros(len(f.points), dtype=torch.bool) for f in frames]
    pasted[0][index[0, :100]] = True  # the first 100 prepared points of scan 0
    semantic = [torch.full((len(f.points),), 3, dtype=torch.int64) for f in frames]
    semantic[0][index[0, :50]] = -1  # outside its own image: hidden
    batch = {"inputs": frames, "pasted": pasted, "point_semantic": semantic}
    hidden, seen = model._point_scores(batch, xyz, index)
    assert not seen[0, :100].any() and not hidden[0, :, :100].any()
    assert torch.equal(seen[0, 100:], visible[0, 100:]) and torch.equal(seen[1], visible[1])
    labelled = _tiny(pasted_points="semantic")
    one_hot, seen = labelled._point_scores(batch, xyz, index)
    assert not seen[0, :50].any() and seen[0, 50:100].all()
    assert torch.equal(one_hot[0, :, 50:100], torch.eye(8)[3][:, None].expand(8, 50))


def test_training_lowers_the_loss():
    model = _tiny().train()
    batch = _batch()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(6):
        losses = model.loss(batch)
        assert set(losses) == {
            "point_cls", "point_loc", "point_heading", "point_size", "rcnn_cls", "rcnn_reg",
            "rcnn_corner", "image_seg",
        }  # fmt: skip
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    assert all(math.isfinite(v) for row in history for v in row.values())
    for key in ("point_cls", "point_loc", "image_seg"):
        assert history[-1][key] < 0.8 * history[0][key], (key, [r[key] for r in history])


def test_joint_segmenter_learns_through_the_fusion_without_label_maps():
    model = _tiny().train()
    batch = {k: v for k, v in _batch().items() if k != "semantic"}
    losses = model.loss(batch)
    assert "image_seg" not in losses
    sum(losses.values()).backward()
    grads = [p.grad for p in model.segmenter.parameters()]
    assert any(g is not None and bool(g.abs().sum() > 0) for g in grads)


def test_frozen_segmenter_loads_its_weights_and_stays_fixed(tmp_path):
    with pytest.raises(ConfigError, match="segmenter_weights"):
        _tiny(segmentation="frozen")
    torch.manual_seed(5)
    trained = ImageSegmenter((8, 16, 32), scale=0.25)
    path = tmp_path / "segmenter.pt"
    torch.save(trained.state_dict(), path)
    model = _tiny(segmentation="frozen", segmenter_weights=str(path)).train()
    for a, b in zip(model.segmenter.state_dict().values(), trained.state_dict().values(),
                    strict=True):  # fmt: skip
        assert torch.equal(a, b)
    before = [p.clone() for p in model.segmenter.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = model.loss(_batch())
    assert "image_seg" not in losses
    sum(losses.values()).backward()
    opt.step()
    assert all(p.grad is None for p in model.segmenter.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.segmenter.parameters(),
                                                 strict=True))  # fmt: skip
    # joint mode starts from the file too
    joint = _tiny(segmenter_weights=str(path))
    assert torch.equal(joint.segmenter.head.weight, trained.head.weight)
    with pytest.raises(ConfigError, match="does not fit"):
        _tiny(segmentation="frozen", segmenter_weights=str(path), segmenter_widths=[8, 16])
    with pytest.raises(ConfigError, match="segmenter_weights"):
        _tiny(segmentation="frozen", segmenter_weights=str(tmp_path / "missing.pt"))
    torch.save({"not": "a state dict"}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="state_dict"):
        _tiny(segmenter_weights=str(tmp_path / "other.pt"))


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_each_ablation_builds_trains_a_step_and_predicts(name):
    model = _tiny(**ABLATIONS[name]).train()
    batch = _batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = model.loss(batch)
    sum(losses.values()).backward()
    opt.step()
    dets = model.eval().predict(camera_frames(batch))
    assert len(dets) == 2
    if name == "early":
        assert model.pacf is None and model.input_channels() == 1 + 8
        first = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear))
        assert first.in_features == 3 + 1 + 8
    else:
        assert model.pacf is not None
    if name == "concat":
        assert model.fused_channels() == 2 * 64
        assert model.merge_down.layers[0].in_features == 32 + 128


def test_config_errors():
    with pytest.raises(ConfigError, match="at least one"):
        _tiny(cont_conv=False, point_pooling=False, attentive_aggregation=False)
    with pytest.raises(ConfigError, match="fusion"):
        _tiny(fusion="late")
    with pytest.raises(ConfigError, match="segmentation"):
        _tiny(segmentation="pretrained")
    with pytest.raises(ConfigError, match="segmenter_scale"):
        _tiny(segmenter_scale=0.0)
    with pytest.raises(ConfigError, match="pacf_k"):
        _tiny(pacf_k=0)
    # early fusion leaves PACF out, so its switches do not matter there
    _tiny(fusion="early", cont_conv=False, point_pooling=False, attentive_aggregation=False)


# ------------------------------------------------------------------------ hooks of the loop


def test_the_evaluator_and_the_loaders_give_the_camera(tmp_path):
    """lidar_train_loader(images=True) gives batches PI-RCNN trains on (with pasted objects),
    kitti_evaluator predicts on the batch's frames (PIRCNN.inputs_of), and PointRCNN takes the
    same batches."""
    loader = lidar_train_loader(
        tmp_path, n_scenes=2, batch_size=2, gt_sampling={0: 4}, scene_args=PIRCNN_DEMO_SCENES,
        images=True,
    )  # fmt: skip
    batch = next(iter(loader))
    for key in ("image", "calib", "augmentation", "semantic", "pasted", "point_semantic"):
        assert key in batch, key
    assert (tmp_path / "train-0-2-camera" / "training" / "image_2").is_dir()
    model = _tiny()
    losses = model.train().loss(batch)
    assert "image_seg" in losses and torch.isfinite(sum(losses.values()))
    frames = PIRCNN.inputs_of(batch)
    assert [f.points for f in frames] == batch["inputs"]
    assert torch.equal(frames[0].augmentation, batch["augmentation"][0])
    data = KittiDataset(tmp_path / "train-0-2-camera" / "training", images=True)
    plain = collate_lidar([data[0], data[1]])
    metrics = kitti_evaluator(model, [plain])
    assert "mAP/bev" in metrics and all(math.isfinite(v) for v in metrics.values())
    base = xuframe.create("detector", "pointrcnn", **DEMO_CONFIG)
    assert "mAP/bev" in kitti_evaluator(base, [plain])
    base.train().loss(batch)
    without = collate_lidar([{k: v for k, v in data[0].items() if k != "image"}])
    with pytest.raises(InputError, match="images=True"):
        kitti_evaluator(model, [without])


def test_a_toml_run_trains_and_evaluates(tmp_path):
    """`xuframe train` on a run file like examples/pircnn/scenes.toml, two steps."""
    from xuframe.engine import load_run, read_metrics, train_run

    shipped = load_run(Path(__file__).parents[2] / "examples" / "pircnn" / "scenes.toml")
    assert shipped.section("component")["name"] == "pircnn"
    config = shipped.section("component")["config"]
    _tiny(**config)  # the shipped config builds
    run = tmp_path / "tiny.toml"
    data = (tmp_path / "scenes").as_posix()
    scenes = "{ max_range = 30.0, field_of_view = 60.0, max_objects = 8 }"
    run.write_text(
        f"""
[component]
kind = "detector"
name = "pircnn"
[component.config]
point_range = [0.0, -15.0, -3.0, 30.0, 15.0, 1.0]
num_points = 512
npoints = [128, 32]
radii = [[1.0], [2.0]]
ks = [[8], [8]]
sa_mlps = [[[16]], [[32]]]
fp_mlps = [[32], [32]]
head_fc = [32]
pre_nms = 64
train_rois = 16
test_rois = 16
roi_per_image = 16
roi_points = 32
xyz_up = [16]
rcnn_npoints = []
rcnn_radii = []
rcnn_ks = []
rcnn_mlps = [[32]]
rcnn_fc = [32]
pacf_channels = 16
segmenter_widths = [4, 8]
segmenter_scale = 0.25
[trainer]
max_steps = 2
batch_size = 2
eval_every = 2
device = "cpu"
progress = false
plot = false
[data]
train = "xuframe_plugins.denfi.training:lidar_train_loader"
train_args = {{ root = "{data}", n_scenes = 2, batch_size = 2, images = true, scene_args = {scenes} }}
eval = "xuframe_plugins.denfi.training:lidar_val_loader"
eval_args = {{ root = "{data}", n_scenes = 2, batch_size = 2, images = true, scene_args = {scenes} }}
[eval]
metrics = ["xuframe_plugins.denfi.training:kitti_evaluator"]
"""
    )
    train_run(run, run_dir=tmp_path / "out")
    rows = [r for r in read_metrics(tmp_path / "out" / "metrics.jsonl") if "eval/mAP/bev" in r]
    assert rows


# ------------------------------------------------------------------------ bad input


def test_bad_input():
    model = _tiny()
    batch = _batch()
    frames = camera_frames(batch)
    frame = frames[0]
    calib = kitti_calibration()
    # a missing image
    with pytest.raises(InputError, match="images=True"):
        model.train().loss({k: v for k, v in batch.items() if k != "image"})
    with pytest.raises(InputError, match="image"):
        CameraFrame(frame.points, None, calib)
    with pytest.raises(InputError, match="without its camera"):
        model.eval().predict([frame.points])
    # an image of the wrong size: downscaled, transposed, cropped to a corner
    small = torch.nn.functional.interpolate(frame.image[None], scale_factor=0.5)[0]
    for image in (small, frame.image.transpose(1, 2), frame.image[:, :100, :300]):
        with pytest.raises(InputError, match="does not fit the calibration"):
            CameraFrame(frame.points, image, calib)
    with pytest.raises(InputError, match=r"\(3, H, W\)|shape"):
        CameraFrame(frame.points, frame.image[0], calib)
    with pytest.raises(InputError, match="values in"):
        CameraFrame(frame.points, frame.image * 255, calib)
    # NaN: in the image (also when written into it after the frame was made), the points, the
    # calibration and the augmentation
    nan_image = frame.image.clone()
    nan_image[0, 10, 10] = math.nan
    with pytest.raises(InputError, match="image"):
        CameraFrame(frame.points, nan_image, calib)
    changed = CameraFrame(frame.points, frame.image.clone(), calib)
    changed.image[1, 5, 5] = math.nan
    with pytest.raises(InputError, match="image"):
        model.predict([changed])
    nan_points = PointCloud(frame.points.xyz.clone(), frame.points.features.clone())
    nan_points.xyz[3, 1] = math.nan
    with pytest.raises(InputError, match="xyz"):
        model.predict([CameraFrame(nan_points, frame.image, calib)])
    with pytest.raises(InputError):
        Calibration(calib.P2 * math.nan, calib.R0_rect, calib.Tr_velo_to_cam)
    # a calibration changed in place after the frame was made (a silent wrong answer before)
    for name in ("P2", "R0_rect", "Tr_velo_to_cam"):
        moved = copy.deepcopy(calib)
        frame_later = CameraFrame(frame.points, frame.image, moved)
        getattr(moved, name)[0, 0] = math.inf if name == "Tr_velo_to_cam" else math.nan
        with pytest.raises(InputError, match=f"calib.{name}: expected finite"):
            model.predict([frame_later])
    bad = torch.eye(4)
    bad[0, 0] = math.nan
    with pytest.raises(InputError, match="augmentation"):
        CameraFrame(frame.points, frame.image, calib, bad)
    # the batch's other camera rows
    with pytest.raises(InputError, match="semantic"):
        model.train().loss({**batch, "semantic": [s[:10] for s in batch["semantic"]]})
    with pytest.raises(InputError, match="semantic"):
        model.loss({**batch, "semantic": [s + 20 for s in batch["semantic"]]})
    with pytest.raises(InputError, match="pasted"):
        model.loss({**batch, "pasted": [torch.zeros(3, dtype=torch.bool)] * 2})
    with pytest.raises(InputError, match="calib"):
        model.loss({**batch, "calib": batch["calib"][:1]})


def test_points_behind_the_camera_are_accepted():
    """Points behind the camera are valid input: they only get no image feature."""
    model = _tiny().eval()
    frame = camera_frames(_batch())[0]
    xyz = frame.points.xyz.clone()
    xyz[:, 0] = -xyz[:, 0].abs() - 1.0  # all behind the sensor: out of point_range too
    behind = CameraFrame(PointCloud(xyz, frame.points.features), frame.image, frame.calib)
    assert len(model.predict([behind])[0]) == 0
    both = CameraFrame(
        PointCloud(torch.cat([frame.points.xyz, xyz]),
                   torch.cat([frame.points.features, frame.points.features])),
        frame.image, frame.calib,
    )  # fmt: skip
    assert len(model.predict([both])) == 1


# ------------------------------------------------------------------------ overfitting


@pytest.mark.slow  # 239 s on the shared 2-core machine under load (150 steps)
def test_overfitting_two_scenes_puts_boxes_on_the_cars():
    """150 AdamW steps on two scenes: the cars the model can see (50 points or more in the
    full scan) get a confident box at BEV IoU > 0.5 (as test_pointrcnn's overfit test)."""
    torch.manual_seed(0)
    model = _tiny()
    batch = _batch()
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
        model.eval().predict(camera_frames(batch)),
        batch["inputs"],
        batch["boxes"],
        batch["labels"],
        strict=True,
    ):
        assert isinstance(dets.geometry, Boxes3D)
        visible = points_in_boxes(cloud.xyz, boxes).sum(0) >= 50
        cars = boxes.tensor[(labels == 0) & visible]
        total += len(cars)
        confident = dets.geometry.tensor[dets.scores > 0.3]
        if len(cars) and len(confident):
            iou = bev_iou(cars[:, [0, 1, 3, 4, 6]].double(), confident[:, [0, 1, 3, 4, 6]].double())
            found += int((iou.max(1).values > 0.5).sum())
    assert total >= 4
    assert found >= math.ceil(0.75 * total), (found, total)


def test_pointrcnn_is_the_baseline():
    assert issubclass(PIRCNN, PointRCNN)
    assert not getattr(PointRCNN, "needs_camera", False) and PIRCNN.needs_camera


def test_train_lidar_renders_images_for_pircnn(tmp_path):
    """train_lidar gives a needs_camera detector scenes with images (its own folders)."""
    from xuframe_plugins.denfi.training import train_lidar
    from xuframe_plugins.pircnn.pointrcnn import DEMO_SCENES

    config = {**PIRCNN_DEMO_CONFIG, "num_points": 512, "npoints": [128, 32, 16, 8]}
    model, metrics = train_lidar(
        "pircnn", config, steps=1, root=tmp_path, n_train=2, n_val=1, batch_size=2,
        gt_sampling={}, scene_args=DEMO_SCENES,
    )  # fmt: skip
    assert isinstance(model, PIRCNN) and "mAP/bev" in metrics
    assert (tmp_path / "train-0-2-camera" / "training" / "image_2").is_dir()
    assert (tmp_path / "val-1000-1-camera" / "training" / "image_2").is_dir()
