"""X-view on a point-based detector (issue 24): ``xview-pointrcnn``.

With zeroed view branches it is ``pointrcnn`` exactly; a feature placed at a known 3-D location
in a view's canvas arrives at the points at that location (per point, for several origins and
both view types); the view features reach stage 1, stage 2 and the detections (the released
point-based path stored them under one key and read another, so they were never used);
conformance, training, bad input answered as ``pointrcnn`` answers it, the demo on the shipped
``pointrcnn`` weights."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import xuframe
from xuframe.data import LidarScenes, collate_lidar
from xuframe.errors import ConfigError, InputError
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import Boxes3D, PointCloud
from xuframe_plugins.pircnn import DEMO_CONFIG, DEMO_SCENES
from xuframe_plugins.xview import DEMO_VIEWS, XViewPointRCNN, load_base_weights

AREA = DEMO_CONFIG["point_range"]  # 0..30 m ahead, +-15 m aside, -3..1 m high
ORIGINS = [(0, 0, 0), (20, 0, 0), (20, 10, 0), (20, -10, 0), (12, 5, 0.5), (40, 0, -1)]
TYPES = ["cylindrical", "spherical"]
VIEW_CASES = [(t, o) for t in TYPES for o in ORIGINS]
LOSSES = ("point_cls", "point_loc", "point_heading", "point_size", "rcnn_cls", "rcnn_reg",
          "rcnn_corner")  # fmt: skip


def _spec(kind: str, origin: tuple[float, ...]) -> str:
    return f"{kind}@{origin[0]},{origin[1]},{origin[2]}"


def _model(**extra: Any) -> XViewPointRCNN:
    torch.manual_seed(0)
    config = {**DEMO_CONFIG, "views": list(DEMO_VIEWS[:2]), **extra}
    model = xuframe.create("detector", "xview-pointrcnn", **config)
    assert isinstance(model, XViewPointRCNN)
    return model


def _base() -> Any:
    torch.manual_seed(0)
    return xuframe.create("detector", "pointrcnn", **DEMO_CONFIG)


def _scenes(n: int = 2, seed: int = 0) -> dict[str, Any]:
    scenes = LidarScenes(n, seed=seed, **DEMO_SCENES)
    return collate_lidar(
        [{"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i)}
         for i, s in enumerate(scenes[j] for j in range(n))]
    )  # fmt: skip


def _zero_views(model: XViewPointRCNN) -> None:
    with torch.no_grad():
        for p in model.xview.parameters():
            p.zero_()


def _losses(model: Any, batch: dict[str, Any], seed: int = 5) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)  # the subsampling, RoI jitter and sampling draw from it
    return model.train().loss(batch)


# ------------------------------------------------------------------ zeroed views = base


def test_with_zeroed_view_branches_it_is_pointrcnn_exactly():
    base, model = _base(), _model()
    mine = model.state_dict()  # built in the base's order: the same seed, the same main stream
    assert all(torch.equal(v, mine[k]) for k, v in base.state_dict().items())
    assert set(mine) - set(base.state_dict()) == {k for k in mine if k.startswith("xview.")}
    _zero_views(model)
    batch = _scenes(2, seed=3)
    ours, theirs = _losses(model, batch), _losses(base, batch)
    assert set(ours) == set(theirs) == set(LOSSES)
    for key in LOSSES:
        assert torch.equal(ours[key], theirs[key]), key
    pairs = zip(model.eval().predict(batch["inputs"]), base.eval().predict(batch["inputs"]),
                strict=True)  # fmt: skip
    found = 0
    for a, b in pairs:
        assert torch.equal(a.scores, b.scores) and torch.equal(a.labels, b.labels)
        assert torch.equal(a.geometry.tensor, b.geometry.tensor)
        found += len(a)
    assert found > 0


def test_concat_fusion_loads_the_base_and_equals_it_to_rounding():
    base = _base()
    model = _model(fusion="concat")
    assert model.fused_channels() == 64 + 2 * 16
    assert model.head.cls.layers[0].in_features == 64 + 2 * 16
    torch.manual_seed(1)
    model = _model(fusion="concat")
    load_base_weights(model, base)
    _zero_views(model)
    batch = _scenes(2, seed=3)
    ours, theirs = _losses(model, batch), _losses(base, batch)
    for key in LOSSES:  # the first layers sum zero view channels too: equal to float rounding
        assert torch.allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5), key
    a = model.eval().predict(batch["inputs"][:1])[0]
    b = base.eval().predict(batch["inputs"][:1])[0]
    assert len(a) == len(b)
    assert torch.allclose(a.scores, b.scores, atol=1e-4)


def test_base_weights_that_do_not_fit_are_refused():
    base = _base()
    with pytest.raises(InputError, match="does not fit"):
        load_base_weights(_model(head_fc=[32]), base)
    with pytest.raises(InputError, match="X-view detector"):
        load_base_weights(base, base)
    pillars = xuframe.create("detector", "xview-pillars", views=["cylindrical@0,0,0"])
    with pytest.raises(InputError, match="X-view detector"):
        load_base_weights(pillars, base)


# ------------------------------------------------------------------ per-point gathering


def _gather(model: XViewPointRCNN, canvas: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
    """What the fusion adds to zero point features at the points ``xyz`` ``(N, 3)`` when the
    (only) view branch outputs ``canvas`` ``(1, C, n_azimuth, n_range)``: ``(C, N)``."""
    branch = model.xview.branches[0]
    branch.forward = lambda clouds: canvas  # the branch's output, placed by hand
    points = xyz.float()[None]
    zero = torch.zeros(1, canvas.shape[1], len(xyz))
    return model.xview(points, torch.zeros(1, 1, len(xyz)), zero)[0]


def _points_in_area(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low, high = torch.tensor(AREA[:3]), torch.tensor(AREA[3:])
    return (low + torch.rand(n, 3, generator=g) * (high - low)).double()


@pytest.mark.parametrize(("kind", "origin"), VIEW_CASES)
def test_a_feature_at_a_known_location_arrives_at_the_points_there(kind, origin):
    """One feature at the view cell of a 3-D location ``p`` (at that cell's centre): the
    point at ``p`` gets it whole, points within the cell get part of it, and points more than
    one cell away (in the view's range or azimuth) get nothing."""
    model = _model(views=[_spec(kind, origin)]).eval()
    view = model.xview.views[0]
    channels = model.fused_channels()
    for target in [(12.3, -4.1, -1.2), (25.0, 9.0, 0.3), (4.0, 2.0, -2.5)]:
        coords = view.to_view(torch.tensor([target], dtype=torch.float64))
        col = int(coords[0, 0] / view.dr)
        row = int((coords[0, 1] - view.a_min) / view.da)
        assert 0 <= col < view.n_range and 0 <= row < view.n_azimuth
        centre = torch.tensor(
            [[(col + 0.5) * view.dr, view.a_min + (row + 0.5) * view.da, coords[0, 2]]],
            dtype=torch.float64,
        )
        p = view.from_view(centre)  # the location at that cell's centre
        canvas = torch.zeros(1, channels, view.n_azimuth, view.n_range)
        canvas[0, 3, row, col] = 1.0
        near = view.from_view(centre + torch.tensor([[0.3 * view.dr, 0.3 * view.da, 0.0]]))
        others = _points_in_area(300, seed=col + row)
        xyz = torch.cat([p, near, others])
        got = _gather(model, canvas, xyz)
        assert got[3, 0] == pytest.approx(1.0, abs=1e-4)
        assert 0.25 < float(got[3, 1]) < 1.0
        assert torch.all(got[torch.arange(channels) != 3] == 0)
        there = view.to_view(others)
        u = there[:, 0] / view.dr - 0.5
        v = (there[:, 1] - view.a_min) / view.da - 0.5
        dv = (v - row).abs()
        if view.full_circle:
            dv = torch.minimum(dv, view.n_azimuth - dv)
        far = ((u - col).abs() >= 1) | (dv >= 1)
        assert far.any() and torch.all(got[3, 2:][far] == 0)
        assert torch.all(got[3, 2:][~far] > 0)


@pytest.mark.parametrize(("kind", "origin"), VIEW_CASES)
def test_a_linear_field_on_a_view_canvas_arrives_at_every_point(kind, origin):
    """Channel 0 holds each view cell's range, channel 1 its azimuth: every point between the
    view's cell centres must receive its own range and azimuth (bilinear interpolation of a
    linear field is exact), and every point outside the view nothing."""
    model = _model(views=[_spec(kind, origin)]).eval()
    view = model.xview.views[0]
    centres = view.cell_centres()
    canvas = torch.zeros(1, model.fused_channels(), view.n_azimuth, view.n_range)
    canvas[0, 0] = centres[..., 0].float()
    canvas[0, 1] = centres[..., 1].float()
    xyz = _points_in_area(2000, seed=7)
    got = _gather(model, canvas, xyz).double()
    coords = view.to_view(xyz)
    u = coords[:, 0] / view.dr - 0.5
    v = (coords[:, 1] - view.a_min) / view.da - 0.5
    interior = (u >= 0) & (u <= view.n_range - 1) & (v >= 0) & (v <= view.n_azimuth - 1)
    interior &= view.inside(coords)
    assert int(interior.sum()) > 100
    assert torch.allclose(got[0, interior], coords[interior, 0], atol=2e-3)
    assert torch.allclose(got[1, interior], coords[interior, 1], atol=1e-4)
    outside = ~view.inside(coords)
    assert torch.all(got[:, outside] == 0)


def test_each_point_of_each_cloud_reads_its_own_cloud_s_canvas():
    """Two clouds in one batch: cloud b's points read canvas b, not the other."""
    model = _model(views=["cylindrical@20,0,0"]).eval()
    view = model.xview.views[0]
    canvas = torch.zeros(2, model.fused_channels(), view.n_azimuth, view.n_range)
    canvas[0, 0] = 1.0
    canvas[1, 0] = 2.0
    model.xview.branches[0].forward = lambda clouds: canvas
    xyz = torch.tensor([[[10.0, 1.0, 0.0]], [[10.0, 1.0, 0.0]]])
    got = model.xview(xyz, None, torch.zeros(2, model.fused_channels(), 1))
    assert got[0, 0, 0] == pytest.approx(1.0) and got[1, 0, 0] == pytest.approx(2.0)


# ------------------------------------------------------------------ the views are used


def test_the_view_features_reach_stage_one_stage_two_and_the_detections():
    """The released point path stored the views' point features under one key and read
    another, so the detector ran without them. Here non-zero branches change the stage-1
    logits, the features stage 2 pools and the detections, and the stage-2 losses alone send a
    gradient into every view branch."""
    batch = _scenes(2, seed=3)
    rois = batch["boxes"][0].tensor  # the same proposals for both: the ground truth
    runs = {}
    for tag in ("views", "zeroed"):
        model = _model()
        if tag == "zeroed":
            _zero_views(model)
        model.eval()
        xyz, features, index = model._prepare(batch["inputs"], torch.Generator().manual_seed(0))
        with torch.no_grad():
            point_features, cls, _ = model.stage_one(xyz, features)
            fused = model.fuse_point_features(batch, xyz, point_features, index)
            scores = torch.sigmoid(cls).amax(-1)
            pooled, _ = model.pool(xyz[0], fused[0], scores[0], rois)
        runs[tag] = (cls, pooled, model.predict(batch["inputs"][:1])[0])
    assert not torch.allclose(runs["views"][0], runs["zeroed"][0])  # stage 1
    # what stage 2 pools: [canonical xyz, score, depth, the fused point features]
    views, zeroed = runs["views"][1], runs["zeroed"][1]
    assert views.shape[-1] == 5 + 64 and len(rois) > 0
    assert not torch.allclose(views[..., 5:], zeroed[..., 5:])
    a, b = runs["views"][2], runs["zeroed"][2]
    assert len(a) != len(b) or not torch.allclose(a.scores, b.scores)

    model = _model()
    losses = _losses(model, batch)
    (losses["rcnn_cls"] + losses["rcnn_reg"] + losses["rcnn_corner"]).backward()
    for i, branch in enumerate(model.xview.branches):
        assert branch.out.weight.grad is not None and branch.out.weight.grad.abs().sum() > 0, i


def test_parameter_count_includes_the_views():
    assert _model()._parameter_count() > _base()._parameter_count()


# ------------------------------------------------------------------ the kit, training, errors


def _fast_checks() -> list:
    slow = {"check_rejects_bad_input", "check_demo"}  # both run in test_builtin_conformance
    return [c for c in checks_for(XViewPointRCNN) if c.__name__ not in slow]


@pytest.mark.parametrize("check", _fast_checks(), ids=lambda c: c.__name__)
def test_conformance(check):
    check(_model())


def test_bad_input_sweep_on_the_small_model():  # 6 s on one thread
    check_rejects_bad_input(_model())


def test_a_few_steps_lower_the_loss_and_train_the_views():
    model = _model().train()
    batch = _scenes(2, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(8):
        losses = model.loss(batch)
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    assert all(math.isfinite(v) for row in history for v in row.values())
    for key in ("point_cls", "point_loc", "point_heading"):
        assert history[-1][key] < 0.8 * history[0][key], (key, [r[key] for r in history])
    assert all(p.grad is not None for p in model.xview.parameters())


def _bad_inputs(batch: dict[str, Any]) -> list[tuple[str, Any]]:
    cloud = batch["inputs"][0]
    nan = PointCloud(cloud.xyz.clone(), cloud.features.clone())
    nan.xyz[3, 1] = math.nan  # mutated after construction: the model's own check
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))
    flat = batch["boxes"][0].tensor.clone()
    flat[0, 4] = 0.0
    return [
        ("predict", [nan]),
        ("predict", [PointCloud(cloud.xyz, torch.zeros(len(cloud), 3))]),
        ("predict", cloud),
        ("predict", []),
        ("loss", {**batch, "inputs": [empty, batch["inputs"][1]]}),
        ("loss", {**batch, "boxes": [Boxes3D(flat), batch["boxes"][1]]}),
        ("loss", {**batch, "labels": [lab + 5 for lab in batch["labels"]]}),
        ("loss", {"inputs": batch["inputs"]}),
        ("loss", [1, 2]),
    ]


def test_bad_input_is_answered_as_pointrcnn_answers_it():
    model, base = _model(), _base()
    batch = _scenes()
    for method, value in _bad_inputs(batch):
        answers = []
        for net in (model, base):
            with pytest.raises(InputError) as caught:
                getattr(net, method)(value)
            answers.append(str(caught.value).replace(net.name, "NAME"))
        assert answers[0] == answers[1], method


def test_empty_and_out_of_range_clouds_give_no_detections():
    model = _model().eval()
    batch = _scenes()
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))
    behind = PointCloud(torch.tensor([[-5.0, 0.0, 0.0]]), torch.zeros(1, 1))
    out = model.predict([empty, batch["inputs"][0], behind])
    assert len(out[0]) == 0 and len(out[2]) == 0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"views": []}, "1 to 8 views"),
        ({"views": ["polar@0,0,0"]}, "cylindrical@x,y,z"),
        ({"fusion": "mean"}, "'add' or 'concat'"),
        ({"view_layers": 100}, "view_layers"),
        ({"views": ["cylindrical@1e9,0,0"]}, "too many cells"),
    ],
)
def test_bad_view_configs_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        _model(**changes)


def test_the_demo_starts_from_the_shipped_pointrcnn_weights():
    result = XViewPointRCNN.demo()
    assert result.metrics["max_difference"] == 0.0
    assert result.metrics["time_ratio"] > 0
    assert "pointrcnn's shipped weights" in result.summary
    assert result.picture is not None and result.picture.shape[-1] == 3
