"""X-view (issue 24): features placed at a known 3-D location in a view's canvas arrive at the
main-grid cell of that location (the released code wrote every view feature into one column),
the transforms invert, points outside a view are dropped (not wrapped), with zeroed view
branches an X-view detector is its base detector, conformance, and training lowers the loss."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe.ops import pillarize
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import PointCloud
from xuframe_plugins.denfi import DEMO_CONFIG as BASE_DEMO
from xuframe_plugins.xview import (
    DEMO_CONFIG,
    DEMO_VIEWS,
    XViewDenfi,
    XViewPillars,
    distance_evaluator,
    load_base_weights,
    parse_view,
    view_over_area,
)

AREA = (0.0, -32.0, -3.0, 51.2, 32.0, 1.0)  # the detectors' default point_range
ORIGINS = [(0, 0, 0), (40, 0, 0), (40, 20, 0), (40, -20, 0), (20, 5, 0.5), (60, 0, -1)]
TYPES = ["cylindrical", "spherical"]
VIEW_CASES = [(t, o) for t in TYPES for o in ORIGINS]


def _spec(kind: str, origin) -> str:
    return f"{kind}@{origin[0]},{origin[1]},{origin[2]}"


def _model(kind: str, origin, **extra):
    """An X-view model on the default area (0.32 m pillars) with the one view; small widths."""
    torch.manual_seed(0)
    config = {"views": [_spec(kind, origin)], "widths": [8, 8, 8], "layers": 0, **extra}
    return xuframe.create("detector", "xview-pillars", **config).eval()


def _fused(model, canvas: torch.Tensor) -> torch.Tensor:
    """What the fusion adds to a zero pillar canvas when the view branch outputs ``canvas``."""
    branch = model.xview.branches[0]
    branch.forward = lambda clouds: canvas  # the branch's output, placed by hand
    g = model.encoder.grid
    zero = torch.zeros(1, canvas.shape[1], g.ny, g.nx)
    return model.xview([PointCloud(torch.zeros(0, 3), torch.zeros(0, 1))], zero)[0]


def _main_centres(model) -> torch.Tensor:
    xs, ys = model.encoder.grid.centres()
    z = (AREA[2] + AREA[5]) / 2
    return torch.stack([xs, ys, torch.full_like(xs, z)], -1).double()  # (ny, nx, 3)


@pytest.mark.parametrize(("kind", "origin"), VIEW_CASES)
def test_a_linear_field_on_a_view_canvas_arrives_at_every_main_cell(kind, origin):
    """Channel 0 of the view canvas holds each view cell's range, channel 1 its azimuth:
    bilinear interpolation of a linear field is exact, so every main-grid cell inside the
    view must receive its own centre's range and azimuth (a canvas read at the wrong cell,
    column or axis order would not)."""
    model = _model(kind, origin)
    view = model.xview.views[0]
    centres = view.cell_centres()  # (n_azimuth, n_range, 2)
    canvas = torch.zeros(1, model.config.pillar_channels, view.n_azimuth, view.n_range)
    canvas[0, 0] = centres[..., 0].float()
    canvas[0, 1] = centres[..., 1].float()
    fused = _fused(model, canvas)
    where = _main_centres(model)
    coords = view.to_view(where.reshape(-1, 3)).reshape(*where.shape[:2], 3)
    u = coords[..., 0] / view.dr - 0.5
    v = (coords[..., 1] - view.a_min) / view.da - 0.5
    interior = (u >= 0) & (u <= view.n_range - 1) & (v >= 0) & (v <= view.n_azimuth - 1)
    interior &= (coords[..., 2] >= view.t_min) & (coords[..., 2] < view.t_max)
    assert interior.sum() > 100
    assert torch.allclose(fused[0][interior].double(), coords[..., 0][interior], atol=2e-3)
    assert torch.allclose(fused[1][interior].double(), coords[..., 1][interior], atol=2e-4)


@pytest.mark.parametrize("fusion", ["add", "concat"])
def test_the_fusion_gathers_each_view_as_view_gather_does(fusion):
    """All views are gathered at once (one weighted sum over their stacked cells, for a batch):
    each view's part equals View.gather's bilinear sampling of that view's canvas alone."""
    torch.manual_seed(0)
    config = {**DEMO_CONFIG, "views": list(DEMO_VIEWS), "fusion": fusion}
    model = xuframe.create("detector", "xview-pillars", **config).eval()
    clouds = type(model).example_batch(2, seed=5)["inputs"]
    g = model.encoder.grid
    lo, hi = model.config.point_range[2], model.config.point_range[5]
    xs, ys = g.centres()
    where = torch.stack(
        [xs.reshape(-1), ys.reshape(-1), torch.full((xs.numel(),), (lo + hi) / 2)], 1
    )
    canvas = torch.randn(2, model.config.pillar_channels, g.ny, g.nx)
    with torch.no_grad():
        fused = model.xview(clouds, canvas)
        parts = [
            view.gather(branch(clouds), where).reshape(2, -1, g.ny, g.nx)
            for view, branch in zip(model.xview.views, model.xview.branches, strict=True)
        ]
    assert all(p.abs().max() > 0 for p in parts)
    expected = canvas + sum(parts) if fusion == "add" else torch.cat([canvas, *parts], 1)
    torch.testing.assert_close(fused, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("kind", "origin"), VIEW_CASES)
def test_a_feature_at_a_known_location_arrives_at_the_main_cell_of_that_location(kind, origin):
    model = _model(kind, origin)
    view = model.xview.views[0]
    g = model.encoder.grid
    z = (AREA[2] + AREA[5]) / 2
    third = z - origin[2] if kind == "cylindrical" else None
    generator = torch.Generator().manual_seed(1)
    tried = 0
    for _ in range(200):
        row = int(torch.randint(view.n_azimuth, (1,), generator=generator))
        col = int(torch.randint(view.n_range, (1,), generator=generator))
        r = (col + 0.5) * view.dr
        a = view.a_min + (row + 0.5) * view.da
        if kind == "spherical":
            flat2 = r * r - (z - origin[2]) ** 2
            if flat2 <= 0:
                continue
            t = math.atan2(math.sqrt(flat2), z - origin[2])
        else:
            t = third
        p = view.from_view(torch.tensor([[r, a, t]], dtype=torch.float64))[0]
        ix = math.floor((float(p[0]) - g.x_min) / g.dx)
        iy = math.floor((float(p[1]) - g.y_min) / g.dy)
        # away from the area's border and from the origin (where view cells are tiny)
        if not (2 <= ix < g.nx - 2 and 2 <= iy < g.ny - 2) or r * view.da < 0.5:
            continue
        canvas = torch.zeros(1, model.config.pillar_channels, view.n_azimuth, view.n_range)
        canvas[0, 3, row, col] = 1.0
        fused = _fused(model, canvas)
        assert fused[3, iy, ix] > 0.5, (p, fused[3].nonzero()[:5])
        # every cell that receives it lies within one view cell (and one pillar) of p
        got = fused[3].nonzero()
        xs = g.x_min + (got[:, 1] + 0.5) * g.dx
        ys = g.y_min + (got[:, 0] + 0.5) * g.dy
        reach = math.hypot(2 * view.dr, 2 * (r + view.dr) * view.da) + math.hypot(g.dx, g.dy)
        assert float(torch.hypot(xs - p[0], ys - p[1]).max()) < reach
        assert fused[:3].abs().max() == 0 and fused[4:].abs().max() == 0
        tried += 1
        if tried == 6:
            break
    assert tried == 6


def test_a_full_circle_view_wraps_around_the_azimuth_seam():
    """Behind the origin (azimuth near +-pi) a main cell between the last azimuth row's centre
    and the seam reads the first row with weight (v - (n - 1)), as across any other row."""
    model = _model("cylindrical", (40, 0, 0))
    view = model.xview.views[0]
    assert view.full_circle
    canvas = torch.zeros(1, model.config.pillar_channels, view.n_azimuth, view.n_range)
    canvas[0, 0, 0, :] = 1.0  # the first azimuth row
    fused = _fused(model, canvas)
    where = _main_centres(model)
    coords = view.to_view(where.reshape(-1, 3)).reshape(*where.shape[:2], 3)
    u = coords[..., 0] / view.dr - 0.5
    v = torch.remainder((coords[..., 1] - view.a_min) / view.da - 0.5, view.n_azimuth)
    seam = (v > view.n_azimuth - 1) & (u >= 0) & (u <= view.n_range - 1)
    first = (v < 1) & (u >= 0) & (u <= view.n_range - 1)
    assert seam.sum() > 5 and first.sum() > 5
    want_seam = v[seam] - (view.n_azimuth - 1)
    assert torch.allclose(fused[0][seam].double(), want_seam, atol=1e-4)
    assert torch.allclose(fused[0][first].double(), 1 - v[first], atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(VIEW_CASES),
    st.lists(
        st.tuples(st.floats(-40, 100), st.floats(-60, 60), st.floats(-5, 5)),
        min_size=1,
        max_size=20,
    ),
)
def test_the_transforms_invert(case, points):
    kind, origin = case
    view = view_over_area(_spec(kind, origin), AREA, 0.64, 2.0)
    xyz = torch.tensor(points, dtype=torch.float64)
    coords = view.to_view(xyz)
    assert torch.allclose(view.from_view(coords), xyz, atol=1e-9, rtol=0)
    assert (coords[:, 1] >= -math.pi).all() and (coords[:, 1] < math.pi).all()
    assert torch.allclose(view.to_view(view.from_view(coords))[:, 0], coords[:, 0], atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(VIEW_CASES),
    st.lists(
        st.tuples(st.floats(-80, 140), st.floats(-90, 90), st.floats(-6, 4)),
        min_size=1,
        max_size=30,
    ),
)
def test_points_outside_a_view_are_dropped_not_wrapped(case, points):
    kind, origin = case
    view = view_over_area(_spec(kind, origin), AREA, 0.64, 2.0)
    coords = view.to_view(torch.tensor(points, dtype=torch.float64))
    pil = pillarize(coords, (view.dr, view.da), view.point_range())
    assert torch.equal(pil.point_voxel >= 0, view.inside(coords))
    kept = pil.point_voxel >= 0
    if kept.any():  # every kept point sits in the cell that holds it
        cell = pil.coords[pil.point_voxel[kept]]
        assert torch.equal(cell[:, 0], torch.floor(coords[kept, 0] / view.dr).long())


def test_the_ego_view_drops_points_behind_the_sensor_and_beyond_its_range():
    view = view_over_area("cylindrical@0,0,0", AREA, 0.64, 2.0)
    assert not view.full_circle
    assert view.a_min == pytest.approx(-math.pi / 2) and view.a_max == pytest.approx(math.pi / 2)
    behind = view.to_view(torch.tensor([[-5.0, 0.01, 0.0], [-5.0, -0.01, 0.0], [200, 0, 0]]))
    assert not view.inside(behind).any()
    # and reads nothing there: bilinear sampling does not wrap a sector's edges
    canvas = torch.ones(1, 2, view.n_azimuth, view.n_range)
    assert (
        view.gather(canvas, torch.tensor([[-5.0, 0.01, 0.0], [-5.0, -0.01, 0.0]])).abs().max() == 0
    )


@pytest.mark.parametrize(
    ("name", "fusion"),
    [(n, f) for n in ("xview-pillars", "xview-denfi") for f in ("add", "concat")],
)
def test_with_zeroed_view_branches_the_detector_is_its_base(name, fusion):
    base_name = {"xview-pillars": "pillars-baseline", "xview-denfi": "denfi"}[name]
    torch.manual_seed(0)
    base = xuframe.create("detector", base_name, **BASE_DEMO)
    torch.manual_seed(0)
    model = xuframe.create("detector", name, **DEMO_CONFIG, fusion=fusion)
    if fusion == "add":  # built in the base's order: the same seed gives the same main stream
        mine = model.state_dict()
        assert all(torch.equal(v, mine[k]) for k, v in base.state_dict().items())
    else:
        load_base_weights(model, base)
    with torch.no_grad():
        for p in model.xview.parameters():
            p.zero_()
    batch = type(model).example_batch(2, seed=3)
    for mode in ("train", "eval"):
        base.train(mode == "train")
        model.train(mode == "train")
        with torch.no_grad():
            ours, theirs = model(batch["inputs"]), base(batch["inputs"])
        for (c1, r1), (c2, r2) in zip(ours, theirs, strict=True):
            if fusion == "add":  # exactly
                assert torch.equal(c1, c2) and torch.equal(r1, r2)
            else:  # the first conv sums zero view channels too: equal to float rounding
                assert torch.allclose(c1, c2, atol=1e-4) and torch.allclose(r1, r2, atol=1e-4)
    if fusion == "add":
        base.eval()
        model.eval()
        pairs = zip(model.predict(batch["inputs"]), base.predict(batch["inputs"]), strict=True)
        for a, b in pairs:
            assert torch.equal(a.scores, b.scores)
            assert torch.equal(a.geometry.tensor, b.geometry.tensor)


def test_base_weights_that_do_not_fit_are_refused():
    base = xuframe.create("detector", "pillars-baseline", **BASE_DEMO)
    model = xuframe.create("detector", "xview-pillars", **{**DEMO_CONFIG, "widths": [8, 16, 32]})
    with pytest.raises(InputError, match="does not fit"):
        load_base_weights(model, base)
    with pytest.raises(InputError, match="X-view detector"):
        load_base_weights(base, base)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"views": []}, "1 to 8 views"),
        ({"views": ["polar@0,0,0"]}, "cylindrical@x,y,z"),
        ({"views": ["cylindrical@0,0"]}, "cylindrical@x,y,z"),
        ({"views": ["cylindrical@0,nan,0"]}, "origin"),
        ({"fusion": "mean"}, "'add' or 'concat'"),
        ({"view_azimuth_cell": 0.0}, "degrees"),
        ({"view_range_cell": -1.0}, "view_range_cell"),
        ({"view_layers": 100}, "view_layers"),
    ],
)
def test_bad_view_configs_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        xuframe.create("detector", "xview-pillars", **{**DEMO_CONFIG, **changes})


def test_parse_view():
    assert parse_view("spherical@40, -20, 0.5") == ("spherical", (40.0, -20.0, 0.5))
    with pytest.raises(InputError):
        parse_view(3)


def _fast_checks(cls) -> list:
    slow = {"check_rejects_bad_input", "check_demo"}  # both run in test_builtin_conformance
    return [c for c in checks_for(cls) if c.__name__ not in slow]


@pytest.mark.parametrize("cls", [XViewPillars, XViewDenfi], ids=lambda c: c.name)
def test_conformance(cls):
    assert check_rejects_bad_input in checks_for(cls)
    torch.manual_seed(0)
    model = xuframe.create("detector", cls.name, **DEMO_CONFIG)
    for check in _fast_checks(cls):
        check(model)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [XViewPillars, XViewDenfi], ids=lambda c: c.name)
def test_bad_input_sweep_on_a_small_instance(cls):
    torch.manual_seed(0)
    check_rejects_bad_input(xuframe.create("detector", cls.name, **DEMO_CONFIG))


@pytest.mark.parametrize("name", ["xview-pillars", "xview-denfi"])
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
    # the view branches were trained too
    assert all(p.grad is not None for p in model.xview.parameters())


def test_distance_evaluator_counts_objects_per_bin(tmp_path):
    from xuframe_plugins.denfi.training import lidar_val_loader

    model = xuframe.create("detector", "xview-pillars", **DEMO_CONFIG)
    out = distance_evaluator(model, lidar_val_loader(tmp_path, 4, 2, 1000))
    counts = [out[f"Car/objects@{tag}"] for tag in ("0-20m", "20-40m", "40-infm")]
    assert sum(counts) > 0
    for tag, count in zip(("0-20m", "20-40m", "40-infm"), counts, strict=True):
        ap = out[f"Car/bev/moderate@{tag}"]
        assert math.isnan(ap) if count == 0 else 0 <= ap <= 1
    with pytest.raises(InputError):
        distance_evaluator(model, [{"inputs": []}])


def test_a_toml_run_trains_and_evaluates_by_distance(tmp_path):
    """`xuframe train` on a run file like examples/xview/scenes.toml, two steps."""
    from pathlib import Path

    from xuframe.engine import load_run, read_metrics, train_run

    shipped = load_run(Path(__file__).parents[2] / "examples" / "xview" / "scenes.toml")
    assert shipped.section("component")["name"] == "xview-pillars"
    run = tmp_path / "tiny.toml"
    data = (tmp_path / "scenes").as_posix()
    run.write_text(
        f"""
[component]
kind = "detector"
name = "xview-pillars"
[component.config]
point_range = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]
widths = [8, 16, 32]
views = ["cylindrical@20,0,0"]
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
metrics = ["xuframe_plugins.xview:distance_evaluator"]
"""
    )
    train_run(run, run_dir=tmp_path / "out")
    rows = [
        r for r in read_metrics(tmp_path / "out" / "metrics.jsonl") if "eval/Car/objects@0-20m" in r
    ]
    assert rows


def test_a_view_too_far_to_grid_is_a_config_error():
    """An origin so far that its range grid cannot be built is refused as configuration,
    like every other bad view (it was an InputError)."""
    with pytest.raises(ConfigError, match="too many cells"):
        xuframe.create("detector", "xview-pillars", views=["cylindrical@1e9,0,0"])
