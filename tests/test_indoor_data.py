"""Indoor data: the ScanNet and SUN RGB-D readers (on the real scans in ``../shared/data/real``
and on files the synthetic rooms write), the synthetic rooms, and the indoor augmentations."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xuframe.data import (
    INDOOR_CLASSES,
    SCANNET_CLASSES,
    SUNRGBD_CLASSES,
    IndoorScene,
    IndoorScenes,
    IndoorTransform,
    augment_indoor,
    flip_indoor,
    read_scannet,
    read_sunrgbd,
    rotate_indoor,
    scale_indoor,
    subsample_indoor,
)
from xuframe.errors import InputError
from xuframe.ops import points_in_boxes
from xuframe.types import Boxes3D, PointCloud

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(
    not (REAL / "scannet").is_dir() or not (REAL / "sunrgbd").is_dir(),
    reason=f"the real ScanNet / SUN RGB-D samples are not here ({REAL})",
)

# points inside each real box (faces included), in the boxes' order of annotations.json
SCANNET_COUNTS = [
    429, 137, 2746, 822, 3557, 793, 1755, 2668, 357, 116, 145, 116, 3434, 1244,
    393, 479, 287, 1852, 944, 1103, 253, 235, 384, 487, 312, 470, 441,
]  # fmt: skip
SUNRGBD_COUNTS = [951, 18117]  # night_stand, bed


def _scene(n: int = 1, **kw: object) -> IndoorScenes:
    kw.setdefault("n_points", 8000)
    return IndoorScenes(n, **kw)  # type: ignore[arg-type]


# --- the real scans ---------------------------------------------------------------------------


@needs_real
def test_real_scannet_points_in_aligned_boxes() -> None:
    scene = read_scannet(REAL / "scannet" / "scene0000_00")
    assert len(scene.points) == 40684 and len(scene.boxes) == 27
    assert scene.classes == SCANNET_CLASSES and scene.name == "scene0000_00"
    assert scene.names[:3] == ["window", "window", "table"]
    assert float(scene.points.features.max()) <= 1.0  # 0..255 colours divided by 255
    assert bool((scene.boxes.yaw == 0).all())
    counts = points_in_boxes(scene.points.xyz, scene.boxes).sum(0).tolist()
    assert counts == SCANNET_COUNTS
    # without the axis alignment most boxes would be nearly empty: the matrix is applied
    raw = np.fromfile(REAL / "scannet" / "scene0000_00" / "points.bin", np.float32).reshape(-1, 6)
    unaligned = points_in_boxes(torch.from_numpy(raw[:, :3].copy()), scene.boxes).sum(0)
    assert int((unaligned == 0).sum()) >= 20
    # the floor lies at z = 0 after alignment
    assert abs(float(np.percentile(scene.points.xyz[:, 2].numpy(), 1))) < 0.1


@needs_real
def test_real_sunrgbd_points_in_yawed_boxes() -> None:
    scene = read_sunrgbd(REAL / "sunrgbd" / "000017")
    assert len(scene.points) == 50000 and scene.names == ["night_stand", "bed"]
    assert scene.classes == SUNRGBD_CLASSES
    assert points_in_boxes(scene.points.xyz, scene.boxes).sum(0).tolist() == SUNRGBD_COUNTS
    # the file's yaw is clockwise: negated here, and projected with the frame's camera the
    # boxes land on their 2-D boxes (with the yaw as written, the bed's misses by ~95 px)
    ann = json.loads((REAL / "sunrgbd" / "000017" / "annotations.json").read_text())
    k, rt = np.array(ann["calib"]["K"]), np.array(ann["calib"]["Rt"])
    for corners, box2d in zip(scene.boxes.corners().double().numpy(), ann["bbox_2d"], strict=True):
        cam = corners @ rt  # Rt^T applied to each row
        x, y, z = cam[:, 0], -cam[:, 2], cam[:, 1]
        u, v = k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2]
        projected = [u.min(), v.min(), min(u.max(), 730), min(v.max(), 530)]
        assert np.abs(np.array(projected) - box2d).max() < 15


@needs_real
def test_real_boxes_hold_the_objects_points() -> None:
    """Each real box holds points, and the points in it are the object's: the bed's points
    fill its box from the floor up, the night stand's sit at night-stand heights."""
    scene = read_sunrgbd(REAL / "sunrgbd" / "000017")
    inside = points_in_boxes(scene.points.xyz, scene.boxes)
    floor = float(np.percentile(scene.points.xyz[:, 2].numpy(), 2))
    for j in range(2):
        z = scene.points.xyz[inside[:, j], 2]
        bottom = float(scene.boxes.tensor[j, 2] - scene.boxes.tensor[j, 5] / 2)
        assert abs(bottom - floor) < 0.1  # the objects stand on the floor
        assert float(z.max()) > bottom + 0.5 * float(scene.boxes.tensor[j, 5])
    scannet = read_scannet(REAL / "scannet" / "scene0000_00")
    assert bool((points_in_boxes(scannet.points.xyz, scannet.boxes).sum(0) > 0).all())


# --- readers: bad input ---------------------------------------------------------------------


def _plain_sunrgbd(
    tmp_path: Path, points: np.ndarray, boxes: list[list[float]], names: list[str]
) -> Path:
    folder = tmp_path / "000001"
    folder.mkdir(parents=True, exist_ok=True)
    points.astype(np.float32).tofile(folder / "points.bin")
    (folder / "annotations.json").write_text(json.dumps({"boxes": boxes, "names": names}))
    return folder


def _good_points(n: int = 10) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (n, 6))


def test_readers_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="points.bin"):
        read_scannet(tmp_path)
    with pytest.raises(InputError, match="points.bin"):
        read_sunrgbd(tmp_path)
    with pytest.raises(InputError, match="scene0000_00"):
        read_scannet(tmp_path, "scene0000_00")
    with pytest.raises(InputError, match="000005"):
        read_sunrgbd(tmp_path, 5)
    folder = tmp_path / "s"
    folder.mkdir()
    _good_points().astype(np.float32).tofile(folder / "points.bin")
    with pytest.raises(InputError, match="annotations.json"):
        read_sunrgbd(folder)
    with pytest.raises(InputError, match="path"):
        read_scannet(None)  # type: ignore[arg-type]


def test_readers_wrong_sizes_and_nan(tmp_path: Path) -> None:
    good = [[0, 0, 0, 1, 1, 1, 0.0]]
    folder = _plain_sunrgbd(tmp_path, _good_points(), good, ["bed"])
    assert len(read_sunrgbd(folder).boxes) == 1
    (folder / "points.bin").write_bytes(b"\0" * 25)  # truncated
    with pytest.raises(InputError, match="multiple of 24"):
        read_sunrgbd(folder)
    bad = _good_points()
    bad[3, 1] = np.nan
    _plain_sunrgbd(tmp_path, bad, good, ["bed"])
    with pytest.raises(InputError, match="NaN"):
        read_sunrgbd(folder)
    _plain_sunrgbd(tmp_path, _good_points(), [[0, 0, 0, 1, 1, 1]], ["bed"])
    with pytest.raises(InputError, match=r"shape \(N, 7\)"):
        read_sunrgbd(folder)
    _plain_sunrgbd(tmp_path, _good_points(), [[0, 0, 0, 1, -1, 1, 0]], ["bed"])
    with pytest.raises(InputError, match="sizes >= 0"):
        read_sunrgbd(folder)
    _plain_sunrgbd(tmp_path, _good_points(), [[0, 0, float("nan"), 1, 1, 1, 0]], ["bed"])
    with pytest.raises(InputError, match="finite"):
        read_sunrgbd(folder)
    _plain_sunrgbd(tmp_path, _good_points(), good, ["bed", "sofa"])
    with pytest.raises(InputError, match="one per box"):
        read_sunrgbd(folder)
    (folder / "annotations.json").write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        read_sunrgbd(folder)


def test_scannet_reader_bad_matrix_and_masks(tmp_path: Path) -> None:
    root = _scene(1, yaw=False).write(tmp_path, "scannet")
    folder = root / "scene0000_00"
    assert len(read_scannet(folder).points) == 8000
    ann_path = folder / "annotations.json"
    ann = json.loads(ann_path.read_text())
    (folder / "instance_mask.bin").write_bytes(b"\0" * 8 * 7999)
    with pytest.raises(InputError, match="one int64 per point"):
        read_scannet(folder)
    (folder / "instance_mask.bin").unlink()
    for matrix, message in (
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], r"shape \(4, 4\)"),
        ([[1, 0, 0, 0]] * 4, "last row"),
        ([[float("nan")] * 4] * 3 + [[0, 0, 0, 1]], "finite"),
    ):
        ann_path.write_text(json.dumps({**ann, "axis_align_matrix": matrix}))
        with pytest.raises(InputError, match=message):
            read_scannet(folder)


def test_sunrgbd_label_lines_bad(tmp_path: Path) -> None:
    root = _scene(1).write(tmp_path, "sunrgbd", style="mmdet3d")
    label = root / "sunrgbd_trainval" / "label" / "000000.txt"
    assert len(read_sunrgbd(root, 0).points) == 8000
    for line, message in (
        ("bed 0 0 0 0 1 2 3 1 1 1 1", "13 fields"),
        ("bed 0 0 0 0 1 2 nan 1 1 1 1 0", "finite"),
        ("bed 0 0 0 0 1 2 3 1 x 1 1 0", "numbers"),
        ("bed 0 0 0 0 1 2 3 1 -1 1 1 0", "half sizes"),
    ):
        label.write_text(line + "\n")
        with pytest.raises(InputError, match=message):
            read_sunrgbd(root, "000000")
    with pytest.raises(InputError, match="index"):
        read_sunrgbd(root, -1)
    with pytest.raises(InputError, match="digits"):
        read_sunrgbd(root, "../x")


# --- writing and reading back ---------------------------------------------------------------


def _aabb(boxes: Boxes3D) -> np.ndarray:
    corners = boxes.corners().double().numpy()
    low, high = corners.min(1), corners.max(1)
    return np.concatenate([(low + high) / 2, high - low], 1)


@pytest.mark.parametrize("style", ["plain", "mmdet3d"])
@pytest.mark.parametrize("yaw", [False, True])
def test_scannet_round_trip(tmp_path: Path, style: str, yaw: bool) -> None:
    scenes = _scene(2, yaw=yaw, seed=3, max_objects=10)
    root = scenes.write(tmp_path, "scannet", style=style)
    for i in range(2):
        original = scenes[i]
        name = f"scene{i:04d}_00"
        back = read_scannet(root / name) if style == "plain" else read_scannet(root, name)
        keep = [j for j, n in enumerate(original.names) if n in SCANNET_CLASSES]
        assert back.names == [original.names[j] for j in keep]
        expected = _aabb(original.boxes[torch.tensor(keep, dtype=torch.long)])
        np.testing.assert_allclose(back.boxes.numpy()[:, :6], expected, atol=1e-5)
        if not yaw:  # the boxes themselves, l and w swapped on quarter turns
            own = original.boxes.tensor[keep].double().numpy()
            np.testing.assert_allclose(expected[:, :3], own[:, :3], atol=1e-6)
            np.testing.assert_allclose(
                np.sort(expected[:, 3:5], 1), np.sort(own[:, 3:5], 1), atol=1e-5
            )
        assert bool((back.boxes.yaw == 0).all())
        # the scan frame is not the aligned one; the matrix brings the points back
        assert back.axis_align_matrix is not None
        assert not np.allclose(back.axis_align_matrix, np.eye(4))
        torch.testing.assert_close(back.points.xyz, original.points.xyz, atol=2e-5, rtol=0)
        torch.testing.assert_close(
            back.points.features, original.points.features, atol=0.5 / 255 + 1e-6, rtol=0
        )
        assert torch.equal(back.instances, original.instances)  # type: ignore[arg-type]
        assert torch.equal(back.semantic, original.semantic)  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["plain", "mmdet3d"])
def test_sunrgbd_round_trip(tmp_path: Path, style: str) -> None:
    scenes = _scene(2, seed=4, max_objects=10)
    root = scenes.write(tmp_path, "sunrgbd", style=style)
    for i in range(2):
        original = scenes[i]
        back = read_sunrgbd(root / f"{i:06d}") if style == "plain" else read_sunrgbd(root, i)
        keep = [j for j, n in enumerate(original.names) if n in SUNRGBD_CLASSES]
        assert back.names == [original.names[j] for j in keep]
        want = original.boxes.tensor[keep]
        got = back.boxes.tensor
        torch.testing.assert_close(got[:, :6], want[:, :6], atol=1e-6, rtol=0)
        turn = torch.remainder(got[:, 6] - want[:, 6] + math.pi, 2 * math.pi) - math.pi
        assert float(turn.abs().numpy().max(initial=0.0)) < 1e-5
        assert torch.equal(back.points.xyz, original.points.xyz)
        assert torch.equal(back.points.features, original.points.features)


def test_write_bad_layout(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="layout"):
        _scene().write(tmp_path, "kitti")
    with pytest.raises(InputError, match="style"):
        _scene().write(tmp_path, "scannet", style="pkl")


# --- the synthetic rooms --------------------------------------------------------------------


def test_rooms_are_seeded_and_fast() -> None:
    scenes = IndoorScenes(3, seed=5)
    a, b = scenes[1], IndoorScenes(3, seed=5)[1]
    assert torch.equal(a.points.xyz, b.points.xyz) and torch.equal(a.boxes.tensor, b.boxes.tensor)
    assert not torch.equal(scenes[0].points.xyz, a.points.xyz)
    start = time.perf_counter()
    scene = scenes[2]
    elapsed = time.perf_counter() - start
    assert len(scene.points) == 20000
    assert elapsed < 2.0  # about 0.1 s on an idle core; generous for a loaded machine
    assert scene.classes == INDOOR_CLASSES
    assert float(scene.points.features.min()) >= 0 and float(scene.points.features.max()) <= 1


def test_rooms_have_floor_walls_and_occlusion() -> None:
    scene = IndoorScenes(1, seed=2, views=1)[0]
    semantic = scene.semantic
    assert semantic is not None
    assert int((semantic == 2).sum()) > 500 and int((semantic == 1).sum()) > 500
    floor = scene.points.xyz[semantic == 2]
    assert float(floor[:, 2].abs().max()) < 0.05
    # several views see more of the room than one
    many = IndoorScenes(1, seed=2, views=4, n_points=20000)[0]
    assert len(many.boxes) >= len(scene.boxes)


def test_rooms_bad_settings() -> None:
    for kw, message in (
        ({"n_points": 0}, "n_points"),
        ({"max_objects": 41}, "max_objects"),
        ({"views": 0}, "views"),
        ({"noise": 0.5}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"yaw": 1}, "yaw"),
        ({"seed": -1}, "seed"),
        ({"n_points": 10**13}, "memory"),
    ):
        with pytest.raises(InputError, match=message):
            IndoorScenes(1, **kw)
    assert len(IndoorScenes(np.int64(2), n_points=np.int32(100))) == 2  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        IndoorScenes(2, n_points=100)[2]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    yaw=st.booleans(),
    views=st.integers(1, 3),
    max_objects=st.integers(1, 14),
)
def test_rooms_properties(seed: int, yaw: bool, views: int, max_objects: int) -> None:
    scene = IndoorScenes(
        1, seed=seed, yaw=yaw, views=views, n_points=3000, max_objects=max_objects
    )[0]
    boxes = scene.boxes
    # no two boxes overlap (footprints at least 0.2 m apart: grow by 0.09 m and still disjoint)
    if len(boxes) > 1:
        from xuframe.ops import bev_iou

        grown = boxes.tensor[:, [0, 1, 3, 4, 6]].double().clone()
        grown[:, 2:4] += 0.18
        iou = bev_iou(grown, grown)
        assert bool((iou - torch.diag(torch.diag(iou))).eq(0).all())
    # every object rests on the floor
    bottoms = boxes.tensor[:, 2] - boxes.tensor[:, 5] / 2
    assert float(bottoms.abs().numpy().max(initial=0.0)) < 1e-5
    if not yaw:
        quarter = torch.remainder(boxes.yaw.double(), math.pi / 2)
        assert bool(((quarter < 1e-6) | (quarter > math.pi / 2 - 1e-6)).all())
    # each box holds points of its own object; its object's points lie in it (within the noise)
    instances = scene.instances
    assert instances is not None
    inside = points_in_boxes(scene.points.xyz, boxes)
    near = points_in_boxes(scene.points.xyz, boxes, margin=0.1)
    floor_band = (scene.semantic == 2) & (scene.points.xyz[:, 2] < 0.1)
    for j in range(len(boxes)):
        own = instances == j + 1
        assert int((inside[:, j] & own).sum()) >= 1
        assert bool(near[own, j].all())
        # other points inside the box: only the floor under it
        assert bool((~inside[:, j] | own | floor_band).all())


# --- augmentations --------------------------------------------------------------------------


def _membership(points: PointCloud, boxes: Boxes3D) -> torch.Tensor:
    return points_in_boxes(points.xyz.double(), Boxes3D(boxes.tensor.double()), margin=1e-5)


def test_augmentations_examples() -> None:
    points = PointCloud(torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([[0.1, 0.2, 0.3]]))
    boxes = Boxes3D(torch.tensor([[1.0, 2.0, 0.5, 2.0, 1.0, 1.0, 0.3]]))
    p, b, t = flip_indoor(points, boxes, "x")
    assert p.xyz.tolist() == [[-1.0, 2.0, 0.5]]
    assert b.tensor[0, 6].item() == pytest.approx(math.pi - 0.3)
    p, b, t = flip_indoor(points, boxes, "y")
    assert b.tensor[0, 6].item() == pytest.approx(-0.3)
    p, b, t = rotate_indoor(points, boxes, math.pi / 2)
    torch.testing.assert_close(p.xyz, torch.tensor([[-2.0, 1.0, 0.5]]))
    torch.testing.assert_close(t.apply(points.xyz), p.xyz)
    assert b.tensor[0, 6].item() == pytest.approx(0.3 + math.pi / 2)
    p, b, _ = scale_indoor(points, boxes, 2.0)
    torch.testing.assert_close(b.tensor[0, :6], torch.tensor([2.0, 4.0, 1.0, 4.0, 2.0, 2.0]))
    assert torch.equal(p.features, points.features)
    for bad in (
        lambda: flip_indoor(points, boxes, "z"),
        lambda: rotate_indoor(points, boxes, float("nan")),
        lambda: scale_indoor(points, boxes, 0.0),
        lambda: subsample_indoor(points, boxes, 0),
        lambda: subsample_indoor(PointCloud(torch.zeros(0, 3)), boxes, 3),
        lambda: augment_indoor(points, boxes, flip=2.0),
        lambda: augment_indoor(points, boxes, scale=(1.2, 1.0)),
        lambda: augment_indoor(points.xyz, boxes),  # type: ignore[arg-type]
        lambda: IndoorTransform().then(None),  # type: ignore[arg-type]
        lambda: IndoorTransform().apply(torch.zeros(3, 2)),
    ):
        with pytest.raises(InputError):
            bad()


@settings(max_examples=30, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("flip"), st.sampled_from(["x", "y"])),
            st.tuples(st.just("rotate"), st.floats(-7, 7)),
            st.tuples(st.just("scale"), st.floats(0.5, 2.0)),
            st.tuples(st.just("subsample"), st.integers(1, 600)),
            st.tuples(st.just("augment"), st.integers(0, 1000)),
        ),
        max_size=6,
    ),
    seed=st.integers(0, 1000),
)
def test_points_stay_in_their_boxes(ops: list[tuple[str, Any]], seed: int) -> None:
    """After any chain, a point is in a box exactly when it was, and the recorded transform
    maps the original points onto the new ones."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    boxes = Boxes3D(
        torch.tensor(
            [
                [-2.0, 0.0, 0.5, 1.5, 0.8, 1.0, rng.uniform(-3, 3)],
                [2.0, 1.0, 0.4, 0.6, 0.6, 0.8, 0.0],
            ]
        )
    )
    xyz = torch.tensor(rng.uniform(-3, 3, (400, 3)), dtype=torch.float32)
    points = PointCloud(xyz, torch.rand(400, 3, generator=g))
    before = _membership(points, boxes)
    strict = points_in_boxes(xyz.double(), Boxes3D(boxes.tensor.double()), margin=-1e-4)
    loose = points_in_boxes(xyz.double(), Boxes3D(boxes.tensor.double()), margin=1e-4)
    transform = IndoorTransform()
    p, b = points, boxes
    for name, arg in ops:
        if name == "flip":
            p, b, step = flip_indoor(p, b, str(arg))
        elif name == "rotate":
            p, b, step = rotate_indoor(p, b, float(arg))
        elif name == "scale":
            p, b, step = scale_indoor(p, b, float(arg))
        elif name == "subsample":
            p, b, step = subsample_indoor(p, b, int(arg), generator=g)
        else:
            p, b, step = augment_indoor(
                p, b, n_points=300, generator=torch.Generator().manual_seed(int(arg))
            )
        transform = transform.then(step)
    rows = transform.indices if transform.indices is not None else torch.arange(400)
    torch.testing.assert_close(transform.apply(xyz), p.xyz, atol=1e-4, rtol=1e-5)
    assert torch.equal(p.features, points.features[rows])
    after = _membership(p, b)
    # points clearly inside stay inside, points clearly outside stay outside
    assert bool(after[strict[rows]].all())
    assert not bool(after[~loose[rows]].any())
    assert before.shape[1] == after.shape[1] == len(b)


def test_scene_checks() -> None:
    points = PointCloud(torch.zeros(4, 3), torch.zeros(4, 3))
    boxes = Boxes3D(torch.tensor([[0.0, 0, 0, 1, 1, 1, 0]]))
    with pytest.raises(InputError, match="labels"):
        IndoorScene(points, boxes, torch.tensor([0, 1]), ("bed",))
    with pytest.raises(InputError, match="labels"):
        IndoorScene(points, boxes, torch.tensor([3]), ("bed",))
    with pytest.raises(InputError, match="one per point"):
        IndoorScene(points, boxes, torch.tensor([0]), ("bed",), torch.zeros(3, dtype=torch.long))
    with pytest.raises(InputError, match="PointCloud"):
        IndoorScene(points.xyz, boxes, torch.tensor([0]), ("bed",))  # type: ignore[arg-type]
