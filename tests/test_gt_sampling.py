"""Points in boxes, ground-truth sampling, KITTI objects from LiDAR boxes, LiDAR batches."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.data import (
    GroundTruthSampling,
    KittiDataset,
    LidarScenes,
    ObjectDatabase,
    collate_lidar,
    kitti_calibration,
    kitti_objects,
)
from xuframe.errors import InputError
from xuframe.ops import bev_iou, points_in_boxes
from xuframe.types import Boxes3D, PointCloud


@settings(max_examples=40)
@given(
    st.floats(-20, 20),
    st.floats(-20, 20),
    st.floats(0.3, 5),
    st.floats(0.3, 3),
    st.floats(0.3, 3),
    st.floats(-math.pi, math.pi),
)
def test_points_in_boxes_keeps_the_box_frame_interior(x, y, length, width, height, yaw):
    box = Boxes3D(torch.tensor([[x, y, 0.5, length, width, height, yaw]], dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    local = (torch.rand(500, 3, generator=g, dtype=torch.float64) * 2 - 1) * 0.6  # in [-0.6, 0.6]
    size = torch.tensor([length, width, height], dtype=torch.float64)
    p = local * size
    c, s = math.cos(yaw), math.sin(yaw)
    xyz = torch.stack(
        [x + p[:, 0] * c - p[:, 1] * s, y + p[:, 0] * s + p[:, 1] * c, 0.5 + p[:, 2]], 1
    )
    expected = (local.abs() <= 0.5).all(1)
    # points within round-off of a face may go either way
    clear = ((local.abs() - 0.5).abs() > 1e-9).all(1)
    got = points_in_boxes(xyz, box)[:, 0]
    assert torch.equal(got[clear], expected[clear])


def test_points_in_boxes_rejects_bad_shapes():
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        points_in_boxes(torch.zeros(4, 2), Boxes3D(torch.zeros(0, 7)))


@pytest.fixture(scope="module")
def samples():
    scenes = LidarScenes(12, seed=3, azimuth_step=0.4)
    return [
        {"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i)}
        for i, s in enumerate(scenes[j] for j in range(len(scenes)))
    ]


def test_object_database_holds_objects_with_enough_points(samples):
    db = ObjectDatabase(samples, min_points=10)
    assert len(db) > 0
    for label, objects in db.objects.items():
        for obj in objects:
            assert obj.label == label
            assert len(obj.points) >= 10
            assert points_in_boxes(obj.points.xyz, Boxes3D(obj.box[None])).all()


def test_ground_truth_sampling_pastes_objects_without_collisions(samples):
    db = ObjectDatabase(samples, min_points=5)
    paste = GroundTruthSampling(db, {0: 15, 1: 6, 2: 6})
    torch.manual_seed(0)
    before = samples[0]
    after = paste(before)
    n0, n1 = len(before["boxes"]), len(after["boxes"])
    assert n1 > n0
    assert torch.equal(after["boxes"].tensor[:n0], before["boxes"].tensor)
    assert len(after["labels"]) == n1
    for label, target in {0: 15, 1: 6, 2: 6}.items():
        assert int((after["labels"] == label).sum()) <= max(
            target, int((before["labels"] == label).sum())
        )
    # no two boxes overlap in BEV
    bev = after["boxes"].tensor[:, [0, 1, 3, 4, 6]].double()
    iou = bev_iou(bev, bev)
    assert (iou - torch.diag(torch.diag(iou))).max() == 0
    # each pasted box holds exactly its database points (the scene's own points there are gone)
    pasted = Boxes3D(after["boxes"].tensor[n0:])
    inside = points_in_boxes(after["points"].xyz, pasted, margin=0.05)
    original = points_in_boxes(before["points"].xyz, pasted, margin=0.05).any(1)
    assert len(after["points"]) == len(before["points"]) - int(original.sum()) + int(
        inside.any(1).sum()
    )


def test_ground_truth_sampling_is_seeded_and_keeps_the_sample_when_full(samples):
    db = ObjectDatabase(samples)
    paste = GroundTruthSampling(db, {0: 0})
    assert paste(samples[1]) is samples[1]
    with pytest.raises(InputError, match=">= 0"):
        GroundTruthSampling(db, {0: -1})
    p = GroundTruthSampling(db, {0: 10})
    torch.manual_seed(5)
    a = p(samples[2])["boxes"].tensor
    torch.manual_seed(5)
    b = p(samples[2])["boxes"].tensor
    assert torch.equal(a, b)


def test_kitti_objects_round_trip_through_label_geometry(samples):
    calib = kitti_calibration()
    boxes = samples[0]["boxes"]
    objects = kitti_objects(boxes, ["Car"] * len(boxes), calib, scores=[0.5] * len(boxes))
    assert 0 < len(objects) <= len(boxes)
    for o in objects:
        assert o.score == 0.5
        left, top, right, bottom = o.bbox
        assert 0 <= left < right <= 1241 and 0 <= top < bottom <= 374
    geometry = [[*o.location, *o.dimensions, o.rotation_y] for o in objects]
    back = calib.boxes_from_camera(torch.tensor(geometry).numpy()).tensor
    visible = [
        k for k in range(len(boxes)) if any(
            abs(o.location[2] - calib.boxes_to_camera(Boxes3D(boxes.tensor[k : k + 1]))[0, 2]) < 1e-4
            for o in objects
        )
    ]  # fmt: skip
    assert torch.allclose(back, boxes.tensor[visible], atol=1e-4)
    with pytest.raises(InputError, match="names"):
        kitti_objects(boxes, ["Car"], calib)


def test_collate_lidar_batches_kitti_samples(tmp_path):
    root = LidarScenes(2, seed=0, azimuth_step=0.8).write_kitti(tmp_path)
    data = KittiDataset(root)
    batch = collate_lidar([data[0], data[1]])
    assert [type(c) for c in batch["inputs"]] == [PointCloud, PointCloud]
    assert len(batch["boxes"]) == len(batch["labels"]) == len(batch["calib"]) == 2
    assert batch["frame_ids"] == ["000000", "000001"]
    with pytest.raises(InputError, match="at least one"):
        collate_lidar([])


def test_kitti_images_round_trip_and_load_with_the_dataset(tmp_path):
    from xuframe.data import read_image, write_image

    root = LidarScenes(1, seed=0, azimuth_step=0.8).write_kitti(tmp_path)
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 12, 20), generator=g).float() / 255
    write_image(root / "image_2" / "000000.png", image)
    sample = KittiDataset(root, images=True)[0]
    assert torch.equal(sample["image"], image)
    assert torch.equal(read_image(root / "image_2" / "000000.png"), image)
    assert "image" not in KittiDataset(root)[0]
    (root / "image_2" / "000000.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read"):
        KittiDataset(root, images=True)[0]
    (root / "image_2" / "000000.png").unlink()
    with pytest.raises(InputError, match="missing"):
        KittiDataset(root, images=True)[0]
    with pytest.raises(InputError, match=r"\(3, H, W\)"):
        write_image(tmp_path / "x.png", torch.zeros(12, 20))
