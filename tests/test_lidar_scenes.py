"""Synthetic LiDAR scenes: seeded, points only on visible surfaces, KITTI layout round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xuframe.data import (
    LIDAR_CLASSES,
    LidarScenes,
    kitti_calibration,
    read_calib,
    read_labels,
    read_velodyne,
)
from xuframe.data._lidar import SENSOR_HEIGHT, _ray_box
from xuframe.errors import InputError
from xuframe.types import Boxes3D


@pytest.fixture(scope="module")
def scenes():
    return LidarScenes(6, seed=3)


def test_scenes_are_seeded(scenes):
    a, b = scenes[2], LidarScenes(6, seed=3)[2]
    torch.testing.assert_close(a.points.xyz, b.points.xyz)
    assert not torch.equal(a.points.xyz[:100], LidarScenes(6, seed=4)[2].points.xyz[:100])


def test_objects_have_realistic_sizes_and_stand_on_the_ground(scenes):
    for i in range(len(scenes)):
        s = scenes[i]
        bottom = s.boxes.tensor[:, 2] - s.boxes.tensor[:, 5] / 2
        torch.testing.assert_close(
            bottom, torch.full_like(bottom, -SENSOR_HEIGHT), atol=1e-5, rtol=0
        )
        for box, label in zip(s.boxes.tensor, s.labels, strict=True):
            l, w, h = box[3:6].tolist()  # noqa: E741
            if LIDAR_CLASSES[int(label)] == "Car":
                assert 3.4 <= l <= 4.8 and 1.5 <= w <= 1.9 and 1.35 <= h <= 1.7
            else:
                assert 0.45 <= w <= 0.75 and 1.55 <= h <= 1.95


def test_every_point_is_the_first_surface_on_its_ray(scenes):
    """No labelled box lies between the sensor and a point (occlusion), and points on a box are
    counted in its hits."""
    for i in range(3):
        s = scenes[i]
        xyz = s.points.xyz.double().numpy()
        dist = np.linalg.norm(xyz, axis=1)
        t = _ray_box(np.zeros(3), xyz / dist[:, None], s.boxes.tensor.double().numpy())
        assert (t >= dist[:, None] - 0.15).all()  # 0.02 m range noise, 7 sigma
        grown = s.boxes.tensor.clone()
        grown[:, 3:6] += 0.3
        near = _ray_box(np.zeros(3), xyz / dist[:, None], grown.double().numpy())
        on_box = (near <= dist[:, None] + 0.15).sum(0)
        assert (torch.tensor(on_box) >= s.hits).all()


def test_density_falls_with_range(scenes):
    s = scenes[0]
    xyz = s.points.xyz
    ground = (xyz[:, 2] + SENSOR_HEIGHT).abs() < 0.1
    r = xyz[ground, :2].norm(dim=1)
    near = ((r > 8) & (r < 12)).sum() / (12**2 - 8**2)
    far = ((r > 30) & (r < 34)).sum() / (34**2 - 30**2)
    assert near > 4 * far


def test_kitti_layout_round_trip(tmp_path):
    scenes = LidarScenes(3, seed=1)
    root = scenes.write_kitti(tmp_path)
    calib = read_calib(root / "calib" / "000000.txt")
    np.testing.assert_allclose(calib.velo_to_rect, kitti_calibration().velo_to_rect, atol=1e-9)
    for i in range(3):
        s = scenes[i]
        cloud = read_velodyne(root / "velodyne" / f"{i:06d}.bin")
        torch.testing.assert_close(cloud.xyz, s.points.xyz)
        objects = [
            o for o in read_labels(root / "label_2" / f"{i:06d}.txt") if o.type != "DontCare"
        ]
        if not objects:
            continue
        geo = np.array([[*o.location, *o.dimensions, o.rotation_y] for o in objects])
        back = calib.boxes_from_camera(geo)
        # every written object is one of the scene's boxes (to the label files' 2 decimals)
        for row in back.tensor:
            err = (s.boxes.tensor[:, :6] - row[:6]).abs().max(1).values
            assert err.min() < 0.02
        assert all(
            o.type in LIDAR_CLASSES and 0 <= o.occluded <= 2 and 0 <= o.truncated <= 1
            for o in objects
        )


def test_empty_scenes_are_valid():
    s = LidarScenes(1, seed=0, max_objects=0)[0]
    assert len(s.boxes) == 0 and len(s.points) > 1000
    assert isinstance(s.boxes, Boxes3D)


def points_in_boxes(xyz, boxes):
    """(N, B) whether each point lies inside each box (box frame test)."""
    t = boxes.tensor
    rel = xyz[:, None, :] - t[None, :, :3]
    c, s = torch.cos(t[:, 6]), torch.sin(t[:, 6])
    lx = rel[..., 0] * c + rel[..., 1] * s
    ly = -rel[..., 0] * s + rel[..., 1] * c
    return (
        (lx.abs() <= t[:, 3] / 2) & (ly.abs() <= t[:, 4] / 2) & (rel[..., 2].abs() <= t[:, 5] / 2)
    )


def test_kitti_dataset_and_augmentations_keep_points_in_their_boxes(tmp_path):
    from xuframe.data import Compose, GlobalFlip, GlobalRotation, GlobalScale, KittiDataset

    root = LidarScenes(2, seed=5).write_kitti(tmp_path)
    data = KittiDataset(root)
    sample = data[0]
    assert len(data) == 2 and sample["frame_id"] == "000000"
    assert sample["labels"].dtype == torch.int64 and len(sample["labels"]) == len(sample["boxes"])
    torch.manual_seed(0)
    aug = Compose([GlobalFlip(1.0), GlobalRotation(1.0), GlobalScale(0.9, 1.1)])
    shrunk = sample["boxes"].tensor.clone()
    shrunk[:, 3:6] *= 0.98  # away from the faces, where round-off could move a point across
    before = points_in_boxes(sample["points"].xyz, Boxes3D(shrunk))
    out = aug({**sample, "boxes": Boxes3D(shrunk)})
    after = points_in_boxes(out["points"].xyz, out["boxes"])
    assert before.any() and torch.equal(before, after)
    with pytest.raises(InputError, match="velodyne"):
        KittiDataset(tmp_path / "missing")
