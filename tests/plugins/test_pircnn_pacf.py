"""PI-RCNN's PACF: points' image features (projection, visibility, augmentations), the
neighbours, and the fusion module (the reduction to the point path, masking, each switch's
shapes, equivariance, gradients, bad input)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from xuframe.data import (
    KITTI_IMAGE_SIZE,
    SEMANTIC_CLASSES,
    Calibration,
    GlobalFlip,
    GlobalRotation,
    GlobalScale,
    LidarScenes,
    kitti_calibration,
    project_points,
    read_calib,
)
from xuframe.errors import InputError
from xuframe.ops import knn, points_in_boxes
from xuframe.types import Boxes3D, PointCloud
from xuframe_plugins.pircnn.pacf import (
    PACF,
    batch_point_image_features,
    point_image_features,
    point_neighbours,
)

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "kitti" / "training"
needs_real = pytest.mark.skipif(
    not (REAL / "calib" / "000008.txt").exists(),
    reason=f"the real KITTI calibration of frame 000008 is not here ({REAL})",
)

# a small pinhole camera: LiDAR x forward, y left, z up -> camera x right, y down, z forward
W, H, F, CX, CY = 8, 6, 10.0, 3.0, 2.0
SMALL = Calibration(
    [[F, 0.0, CX, 0.0], [0.0, F, CY, 0.0], [0.0, 0.0, 1.0, 0.0]],
    np.eye(3),
    [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
)
# scores[c, row, col] = 100 c + 10 row + col: a point's features name its pixel
SCORES = torch.tensor(
    [[[100.0 * c + 10 * r + q for q in range(W)] for r in range(H)] for c in range(2)]
)


def _lidar_point(col: float, row: float, depth: float) -> list[float]:
    """The LiDAR point of SMALL that projects to pixel (col, row) at ``depth`` metres."""
    return [depth, -(col - CX) * depth / F, -(row - CY) * depth / F]


def _inputs(batch: int = 2, n: int = 12, c: int = 5, k: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    xyz = torch.randn(batch, n, 3, generator=g) * 3
    point = torch.randn(batch, c, n, generator=g)
    image = torch.randn(batch, k, n, generator=g)
    visible = torch.rand(batch, n, generator=g) > 0.3
    return xyz, point, image, visible


SWITCHES = [s for s in itertools.product([False, True], repeat=3) if any(s)]


def _pacf(switches=(True, True, True), fusion="add", k=3, seed=0, **kw) -> PACF:
    torch.manual_seed(seed)
    cc, pp, aa = switches
    return PACF(
        5,
        4,
        8,
        k=k,
        mlp=kw.pop("mlp", (16,)),
        cont_conv=cc,
        point_pooling=pp,
        attentive_aggregation=aa,
        fusion=fusion,
        **kw,
    )


# -- point_image_features ---------------------------------------------------------------------
def test_a_point_takes_the_scores_of_the_pixel_it_projects_to():
    pixels = [(0, 0), (5, 1), (7, 5), (3, 2), (2, 4)]
    xyz = torch.tensor(
        [_lidar_point(c, r, d) for (c, r), d in zip(pixels, [4, 10, 25, 1, 60], strict=True)]
    )
    features, visible = point_image_features(SCORES, xyz, SMALL)
    assert visible.dtype == torch.bool and visible.all()
    expected = torch.tensor([[10.0 * r + c, 100 + 10.0 * r + c] for c, r in pixels])
    assert torch.equal(features, expected)
    # off the pixel centre by less than half a pixel: the same pixel
    xyz = torch.tensor([_lidar_point(5.4, 0.6, 10.0), _lidar_point(4.6, 1.45, 7.0)])
    features, _ = point_image_features(SCORES, xyz, SMALL)
    assert torch.equal(features[:, 0], torch.tensor([15.0, 15.0]))


def test_points_behind_the_camera_or_outside_the_image_get_zeros_and_are_not_visible():
    xyz = torch.tensor(
        [
            _lidar_point(5, 1, 10.0),  # seen
            [-10.0, 0.0, 0.0],  # behind
            [0.05, 0.0, 0.0],  # in front, but nearer than 0.1 m to the camera plane
            _lidar_point(8, 1, 10.0),  # one column right of the image
            _lidar_point(-1, 1, 10.0),  # left of it
            _lidar_point(3, 6, 10.0),  # below it
            _lidar_point(3, -0.6, 10.0),  # above it (rounds to row -1)
            _lidar_point(7.49, 5.49, 10.0),  # the last pixel
        ]
    )
    features, visible = point_image_features(SCORES, xyz, SMALL)
    assert visible.tolist() == [True, False, False, False, False, False, False, True]
    assert (features[~visible] == 0).all()
    assert features[0].tolist() == [15.0, 115.0] and features[7].tolist() == [57.0, 157.0]


def test_features_are_differentiable_with_respect_to_the_scores_of_visible_points_only():
    scores = SCORES.clone().requires_grad_(True)
    xyz = torch.tensor([_lidar_point(5, 1, 10.0), [-10.0, 0.0, 0.0]])
    features, _ = point_image_features(scores, xyz, SMALL)
    features.sum().backward()
    grad = scores.grad
    assert grad is not None and float(grad.sum()) == 2.0  # one pixel, both channels
    assert grad[:, 1, 5].tolist() == [1.0, 1.0]


def test_no_points_give_empty_features():
    features, visible = point_image_features(SCORES, torch.zeros(0, 3), SMALL)
    assert features.shape == (0, 2) and visible.shape == (0,)


def _lidar_sample(xyz: torch.Tensor) -> dict:
    return {
        "points": PointCloud(xyz),
        "boxes": Boxes3D(torch.zeros(0, 7)),
        "labels": torch.zeros(0, dtype=torch.int64),
    }


def test_augmented_points_keep_their_pixels_through_the_global_transforms():
    g = torch.Generator().manual_seed(3)
    cols = torch.randint(0, W, (40,), generator=g).tolist()
    rows = torch.randint(0, H, (40,), generator=g).tolist()
    depths = (torch.rand(40, generator=g) * 50 + 1).tolist()
    xyz = torch.tensor(
        [_lidar_point(c, r, d) for c, r, d in zip(cols, rows, depths, strict=True)],
        dtype=torch.float64,
    )
    before, seen = point_image_features(SCORES, xyz, SMALL)
    assert seen.all()
    torch.manual_seed(0)
    sample = _lidar_sample(xyz)
    for transform in (GlobalFlip(1.0), GlobalRotation(math.pi), GlobalScale(0.8, 1.2)):
        sample = transform(sample)
    moved = sample["points"].xyz
    assert not torch.allclose(moved, xyz)
    after, visible = point_image_features(SCORES, moved, SMALL, sample["augmentation"])
    assert visible.all() and torch.equal(after, before)
    # without undoing the augmentation, the points land elsewhere
    wrong, _ = point_image_features(SCORES, moved, SMALL)
    assert not torch.equal(wrong, before)


@given(
    angle=st.floats(-math.pi, math.pi),
    flip=st.booleans(),
    scale=st.floats(0.5, 2.0),
    shift=st.tuples(*[st.floats(-5, 5)] * 3),
)
def test_any_recorded_rigid_scaled_transform_is_undone(angle, flip, scale, shift):
    xyz = torch.tensor(
        [_lidar_point(c, r, d) for c, r, d in [(0, 0, 3), (5, 1, 10), (7, 5, 30), (2, 3, 7)]],
        dtype=torch.float64,
    )
    c, s = math.cos(angle), math.sin(angle)
    linear = scale * torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    if flip:
        linear = linear @ torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64))
    matrix = torch.eye(4, dtype=torch.float64)
    matrix[:3, :3], matrix[:3, 3] = linear, torch.tensor(shift, dtype=torch.float64)
    moved = xyz @ linear.T + matrix[:3, 3]
    features, visible = point_image_features(SCORES, moved, SMALL, matrix)
    assert visible.all()
    assert torch.equal(features, point_image_features(SCORES, xyz, SMALL)[0])


def test_the_batched_helper_stacks_the_samples_channels_first():
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(2, 3, H, W, generator=g)
    xyz = torch.stack(
        [
            torch.tensor([_lidar_point(1, 1, 5.0), [-3.0, 0.0, 0.0], _lidar_point(6, 4, 9.0)]),
            torch.tensor([_lidar_point(0, 5, 2.0), _lidar_point(7, 0, 4.0), [2.0, 50.0, 0.0]]),
        ]
    )
    rotation = torch.eye(4)
    rotation[:2, :2] = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    augmentations = [None, rotation]
    moved = xyz.clone()
    moved[1] = xyz[1] @ rotation[:3, :3].T
    features, visible = batch_point_image_features(scores, moved, [SMALL, SMALL], augmentations)
    assert features.shape == (2, 3, 3) and visible.shape == (2, 3)
    for b in range(2):
        f, v = point_image_features(scores[b], xyz[b], SMALL)
        assert torch.equal(features[b], f.T) and torch.equal(visible[b], v)
    assert visible.tolist() == [[True, False, True], [True, True, False]]
    no_augmentation, _ = batch_point_image_features(scores, xyz, [SMALL, SMALL])
    assert torch.equal(no_augmentation, features)


def test_points_of_a_rendered_scene_take_the_class_of_their_surface():
    """On a synthetic scene with its camera: the points inside a car's box mostly carry the
    Car label of the pixel they project to (occlusion edges aside)."""
    scenes = LidarScenes(4, seed=0, images=True, azimuth_step=0.4, max_objects=8)
    checked = 0
    for scene in scenes:
        labels = torch.nn.functional.one_hot(scene.semantic, len(SEMANTIC_CLASSES))
        scores = labels.permute(2, 0, 1).float()
        features, visible = point_image_features(scores, scene.points.xyz, kitti_calibration())
        assert features.shape == (len(scene.points), len(SEMANTIC_CLASSES))
        assert (features[visible].sum(1) == 1).all() and (features[~visible] == 0).all()
        inside = points_in_boxes(scene.points.xyz, scene.boxes)  # (N, M)
        for m in range(len(scene.boxes)):
            on_box = inside[:, m] & visible
            if int(scene.labels[m]) != 0 or int(on_box.sum()) < 30:
                continue
            car_share = float(features[on_box, 0].mean())
            assert car_share > 0.9, car_share
            checked += 1
    assert checked >= 1


@needs_real
def test_real_kitti_calibration_round_trips_lidar_image_pixel():
    calib = read_calib(REAL / "calib" / "000008.txt")
    width, height = KITTI_IMAGE_SIZE
    g = torch.Generator().manual_seed(8)
    cols = torch.randint(0, width, (200,), generator=g).double()
    rows = torch.randint(0, height, (200,), generator=g).double()
    depths = torch.rand(200, generator=g, dtype=torch.float64) * 78 + 2
    # pixel (col, row) at projective depth d: P2 @ [X, 1] = d (col, row, 1)
    p2 = torch.from_numpy(calib.P2)
    hom = torch.stack([cols * depths, rows * depths, depths], 1)
    camera = torch.linalg.solve(p2[:, :3], (hom - p2[:, 3]).T).T
    xyz = torch.from_numpy(calib.camera_to_lidar(camera.numpy()))
    proj = project_points(xyz, calib, image_size=(width, height))
    assert torch.allclose(proj.uv, torch.stack([cols, rows], 1), atol=1e-6)
    assert torch.allclose(proj.depth, depths, atol=1e-6)
    # scores naming each pixel: row and column
    grid_rows, grid_cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    scores = torch.stack([grid_rows, grid_cols])
    features, visible = point_image_features(scores, xyz, calib)
    assert visible.all()
    assert torch.equal(features, torch.stack([rows, cols], 1))
    # the same points moved by recorded augmentations still find their pixels
    matrix = torch.eye(4, dtype=torch.float64)
    c, s = math.cos(0.7), math.sin(0.7)
    matrix[:3, :3] = 1.1 * torch.tensor([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, 1.0]])
    moved = xyz @ matrix[:3, :3].T
    again, visible = point_image_features(scores, moved, calib, matrix)
    assert visible.all() and torch.equal(again, features)
    # the same pixels behind the camera: not visible, zero features
    behind = torch.from_numpy(calib.camera_to_lidar((-camera).numpy()))
    features, visible = point_image_features(scores, behind, calib)
    assert not visible.any() and (features == 0).all()


# -- neighbours -------------------------------------------------------------------------------
def _brute_neighbours(xyz: torch.Tensor, k: int) -> torch.Tensor:
    """Slot 0 the point, then the k - 1 nearest others by (squared distance, index), in the
    points' dtype with knn's dx*dx + dy*dy + dz*dz."""
    batch, n = xyz.shape[:2]
    out = torch.zeros(batch, n, min(k, n), dtype=torch.int64)
    for b in range(batch):
        for i in range(n):
            d = xyz[b] - xyz[b, i]
            d2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
            others = sorted((float(d2[j]), j) for j in range(n) if j != i)
            out[b, i] = torch.tensor([i] + [j for _, j in others[: min(k, n) - 1]])
    return out


clouds = st.integers(1, 3).flatmap(
    lambda b: st.integers(1, 20).flatmap(
        lambda n: st.tuples(
            st.just((b, n)),
            st.one_of(
                # small integer grids: many equal distances and duplicate points
                st.lists(st.integers(-2, 2), min_size=b * n * 3, max_size=b * n * 3),
                st.lists(
                    st.floats(-50, 50, allow_nan=False, width=32),
                    min_size=b * n * 3,
                    max_size=b * n * 3,
                ),
            ),
            st.integers(1, n + 3),
        )
    )
)


@given(clouds)
def test_neighbours_equal_brute_force_and_hold_the_point_itself(case):
    (batch, n), values, k = case
    xyz = torch.tensor(values, dtype=torch.float32).reshape(batch, n, 3)
    indices, present = point_neighbours(xyz, k)
    assert indices.shape == present.shape == (batch, n, k)
    kk = min(k, n)
    assert present[..., :kk].all() and not present[..., kk:].any()
    assert (indices[..., kk:] == 0).all()
    assert torch.equal(indices[..., 0], torch.arange(n).expand(batch, n))
    brute = _brute_neighbours(xyz, k)
    assert torch.equal(indices[..., :kk], brute)
    # xuframe.ops.knn itself: the brute force's k nearest (itself among them when no
    # duplicate of lower index is)
    distances, found = knn(xyz, xyz, kk)
    for b, i in itertools.product(range(batch), range(n)):
        d = xyz[b] - xyz[b, i]
        d2 = (d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]).tolist()
        order = sorted(range(n), key=lambda j: (d2[j], j))[:kk]
        assert found[b, i].tolist() == order
        assert torch.allclose(distances[b, i] ** 2, torch.tensor([d2[j] for j in order]))


def test_a_point_with_many_duplicates_still_holds_slot_zero():
    xyz = torch.zeros(1, 6, 3)
    indices, present = point_neighbours(xyz, 3)
    assert indices[0, :, 0].tolist() == list(range(6)) and present.all()
    assert indices[0, 5].tolist() == [5, 0, 1]


# -- PACF -------------------------------------------------------------------------------------
@pytest.mark.parametrize("switches", SWITCHES)
@pytest.mark.parametrize("fusion", ["add", "concat"])
def test_with_no_visible_point_pacf_is_its_point_path(switches, fusion):
    model = _pacf(switches, fusion)
    xyz, point, image, _ = _inputs()
    nothing = torch.zeros(2, 12, dtype=torch.bool)
    path = model.point_path(point)
    for features in (image, torch.zeros_like(image)):
        out = model(xyz, point, features, nothing)
        assert torch.equal(out[:, :8], path)
        if fusion == "concat":
            assert torch.equal(out[:, 8:], torch.zeros_like(path))
    # with visible points the image path does change the output
    seen = model(xyz, point, image, torch.ones_like(nothing))
    if fusion == "concat":
        assert torch.equal(seen[:, :8], path) and not torch.equal(seen[:, 8:], 0 * path)
    else:
        assert not torch.equal(seen, path)


def test_points_without_a_visible_neighbour_keep_their_point_path():
    """Two clusters far apart; only the first is seen: the second's output is its point path."""
    model = _pacf(fusion="add", k=3)
    g = torch.Generator().manual_seed(5)
    xyz = torch.cat([torch.randn(1, 6, 3, generator=g), torch.randn(1, 6, 3, generator=g) + 100], 1)
    point = torch.randn(1, 5, 12, generator=g)
    image = torch.randn(1, 4, 12, generator=g)
    visible = torch.tensor([[True] * 6 + [False] * 6])
    out = model(xyz, point, image, visible)
    path = model.point_path(point)
    assert torch.equal(out[..., 6:], path[..., 6:])
    assert not torch.allclose(out[..., :6], path[..., :6])


@pytest.mark.parametrize("switches", SWITCHES)
def test_image_features_of_invisible_points_change_nothing(switches):
    model = _pacf(switches, "concat")
    xyz, point, image, visible = _inputs()
    other = image.clone()
    hidden = ~visible[:, None, :].expand_as(image)
    other[hidden] = torch.randn(int(hidden.sum())) * 1e3
    assert torch.equal(model(xyz, point, image, visible), model(xyz, point, other, visible))
    # while those of visible points do
    other = image.clone()
    other[~hidden] += 1.0
    assert not torch.equal(model(xyz, point, image, visible), model(xyz, point, other, visible))


@pytest.mark.parametrize("switches", SWITCHES)
@pytest.mark.parametrize("fusion", ["add", "concat"])
def test_each_switch_gives_the_documented_shapes(switches, fusion):
    cc, pp, aa = switches
    model = _pacf(switches, fusion)
    assert model.out_channels == (16 if fusion == "concat" else 8)
    assert model.image_reshape.in_features == 8 * cc + 4 * pp + 8 * aa
    assert (model.kernel is not None) == (cc or aa)
    assert (model.aggregate is not None) == aa
    xyz, point, image, visible = _inputs()
    assert model(xyz, point, image, visible).shape == (2, model.out_channels, 12)
    # no points at all
    out = model(torch.zeros(2, 0, 3), point[..., :0], image[..., :0], visible[:, :0])
    assert out.shape == (2, model.out_channels, 0)


def test_the_switches_compute_what_the_docs_say():
    """One point of three, all visible, k = 3: each part by hand."""
    torch.manual_seed(0)
    xyz = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]]])
    image = torch.tensor([[[1.0, -2.0, 0.5], [0.0, 4.0, -1.0]]])  # (1, K=2, 3)
    point = torch.randn(1, 5, 3)
    visible = torch.tensor([[True, True, False]])
    model = PACF(5, 2, 4, k=3, mlp=(), fusion="concat")
    assert model.kernel is not None and model.aggregate is not None
    out = model(xyz, point, image, visible)[0, 4:, 0]  # point 0's image path
    # neighbours of point 0: itself, point 1 (1 m), point 2 (3 m, not visible)
    h = model.kernel(torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0], [-2.0, 4.0, 1.0, 0.0, 0.0]]))
    w = model.aggregate.weight[0]
    conv = h.sum(0)
    pool = torch.tensor([1.0, 4.0])
    aggregation = w[0] * h[0] + w[1] * h[1]
    expected = model.image_reshape(torch.cat([conv, pool, aggregation]))
    assert torch.allclose(out, expected, atol=1e-6)


def test_k_above_the_number_of_points_takes_every_point_and_leaves_the_rest_empty():
    big = _pacf(k=5, seed=1)
    small = _pacf(k=3, seed=2)
    state = big.state_dict()
    state["aggregate.weight"] = state["aggregate.weight"][:, :3]
    small.load_state_dict(state)
    xyz, point, image, visible = _inputs(n=3)
    assert torch.allclose(big(xyz, point, image, visible), small(xyz, point, image, visible))


@pytest.mark.parametrize("switches", SWITCHES)
def test_permuting_the_points_permutes_the_output(switches):
    model = _pacf(switches, "concat", k=4)
    xyz, point, image, visible = _inputs(n=20, seed=3)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(4))
    out = model(xyz, point, image, visible)
    permuted = model(xyz[:, perm], point[..., perm], image[..., perm], visible[:, perm])
    assert torch.allclose(permuted, out[..., perm], atol=1e-6)


@pytest.mark.parametrize("switches", SWITCHES)
def test_gradients_reach_the_image_and_point_features_and_every_weight(switches):
    model = _pacf(switches, "add")
    xyz, point, image, visible = _inputs()
    point.requires_grad_(True)
    image.requires_grad_(True)
    xyz.requires_grad_(True)
    model(xyz, point, image, visible).square().sum().backward()
    assert point.grad is not None and bool((point.grad != 0).all())
    assert image.grad is not None
    reached = image.grad.abs().sum(1)
    if switches[0] or switches[2]:  # every visible point feeds the MLP
        assert bool((reached[visible] > 0).all())
    else:  # pooling alone: the points that are a neighbourhood's max
        assert bool((reached[visible] > 0).any())
    assert bool((reached[~visible] == 0).all())
    if switches[0] or switches[2]:  # the offsets go through the MLP
        assert xyz.grad is not None and bool((xyz.grad != 0).any())
    for name, p in model.named_parameters():
        assert p.grad is not None and bool((p.grad != 0).any()), name


def test_released_configuration_builds_and_runs():
    """The released config: K = 3, MLP [32, 64], 10 image channels, 128 point channels,
    128 out, add fusion, pooling and aggregation off."""
    model = PACF(128, 10, 128, k=3, mlp=[32, 64], point_pooling=False, attentive_aggregation=False)
    assert model.out_channels == 128 and model.aggregate is None
    xyz = torch.randn(1, 50, 3)
    out = model(
        xyz, torch.randn(1, 128, 50), torch.randn(1, 10, 50), torch.ones(1, 50, dtype=torch.bool)
    )
    assert out.shape == (1, 128, 50) and torch.isfinite(out).all()


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k: expected an int >= 1"),
        ({"k": 2.0}, "k: expected an int"),
        ({"out_channels": 0}, "out_channels"),
        ({"mlp": (16, 0)}, r"mlp\[1\]"),
        ({"mlp": "16"}, "mlp: expected a sequence"),
        ({"fusion": "mul"}, "fusion: expected one of 'add', 'concat'"),
        (
            {"cont_conv": False, "point_pooling": False, "attentive_aggregation": False},
            "at least one",
        ),
        ({"point_pooling": 1}, "point_pooling: expected a bool"),
    ],
)
def test_bad_construction_is_refused(kwargs, match):
    args = {"point_channels": 5, "image_channels": 4, "out_channels": 8, **kwargs}
    with pytest.raises(InputError, match=match):
        PACF(**args)


def test_bad_forward_input_is_refused():
    model = _pacf()
    xyz, point, image, visible = _inputs()
    nan = xyz.clone()
    nan[0, 3, 1] = float("nan")
    cases = [
        ((nan, point, image, visible), "PACF: xyz: expected finite"),
        ((xyz[..., :2], point, image, visible), r"PACF: xyz: expected shape \(B, N, 3\)"),
        ((xyz, point[:, :4], image, visible), r"point_features: expected shape \(2, 5, 12\)"),
        ((xyz, point, image[:, :, :11], visible), r"image_features: expected shape \(2, 4, 12\)"),
        ((xyz, point, image.double(), visible), "image_features: expected dtype torch.float32"),
        ((xyz, point, image * float("inf"), visible), "image_features: expected finite"),
        ((xyz, point, image, visible.float()), "visible: expected a bool tensor"),
        ((xyz, point, image, visible[:1]), r"visible: expected shape \(2, 12\)"),
        ((xyz[:0], point[:0], image[:0], visible[:0]), "at least one cloud"),
        ((xyz.tolist(), point, image, visible), "expected a torch.Tensor"),
    ]
    for args, match in cases:
        with pytest.raises(InputError, match=match):
            model(*args)


def test_bad_projection_input_is_refused():
    xyz = torch.tensor([_lidar_point(5, 1, 10.0)])
    nan = xyz.clone()
    nan[0, 0] = float("nan")
    singular = torch.eye(4)
    singular[2, 2] = 0.0
    cases = [
        ((SCORES, nan, SMALL), "point_image_features: xyz: expected finite"),
        ((SCORES, xyz[:, :2], SMALL), r"xyz: expected shape \(N, 3\)"),
        ((SCORES[0], xyz, SMALL), r"scores: expected shape \(K, H, W\)"),
        ((SCORES[:, :0], xyz, SMALL), "scores: expected a non-empty"),
        ((SCORES * float("nan"), xyz, SMALL), "scores: expected finite"),
        ((SCORES.long(), xyz, SMALL), "scores: expected a floating-point"),
        ((SCORES, xyz, "calib"), "calib: expected a Calibration"),
        ((SCORES, xyz, SMALL, singular), "point_image_features: project_points: augmentation"),
        ((SCORES, xyz, SMALL, torch.eye(3)), "augmentation"),
    ]
    for args, match in cases:
        with pytest.raises(InputError, match=match):
            point_image_features(*args)
    batch = SCORES[None].expand(2, -1, -1, -1)
    two = xyz[None].expand(2, -1, -1)
    batch_cases = [
        ((batch, two, [SMALL]), "calibs: expected 2 entries"),
        ((batch, two, SMALL), "calibs: expected a sequence"),
        ((batch, two, [SMALL, None]), r"calibs\[1\]: expected a Calibration"),
        ((batch, two, [SMALL, SMALL], [None]), "augmentations: expected 2 entries"),
        ((batch, two, [SMALL, SMALL], [None, singular]), "sample 1: project_points: augmentation"),
        ((batch, two[:1], [SMALL, SMALL]), r"xyz: expected shape \(2, N, 3\)"),
    ]
    for args, match in batch_cases:
        with pytest.raises(InputError, match=match):
            batch_point_image_features(*args)
    with pytest.raises(InputError, match="k: expected an int >= 1"):
        point_neighbours(torch.zeros(1, 3, 3), 0)
    with pytest.raises(InputError, match="expected finite"):
        point_neighbours(nan[None], 2)
