"""KITTI calibration, frames, velodyne scans and labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.data import (
    Calibration,
    KittiObject,
    read_calib,
    read_labels,
    read_velodyne,
    write_calib,
    write_labels,
    write_velodyne,
)
from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud


def ideal_calib(tilt=0.0):
    """KITTI-like calibration: the camera axes (x right, y down, z forward) from the LiDAR's,
    optionally tilted about the camera x axis, with a small offset."""
    axes = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    c, s = math.cos(tilt), math.sin(tilt)
    r0 = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)
    tr = np.concatenate([axes, np.array([[0.02], [-0.07], [-0.27]])], 1)
    p2 = np.array([[721.5, 0.0, 609.6, 44.9], [0.0, 721.5, 172.9, 0.2], [0.0, 0.0, 1.0, 0.003]])
    return Calibration(p2, r0, tr)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 1000), st.floats(-0.05, 0.05))
def test_lidar_camera_round_trip(seed, tilt):
    calib = ideal_calib(tilt)
    xyz = np.random.default_rng(seed).uniform(-40, 40, (20, 3))
    np.testing.assert_allclose(calib.camera_to_lidar(calib.lidar_to_camera(xyz)), xyz, atol=1e-9)
    g = torch.Generator().manual_seed(seed)
    rows = torch.cat(
        [
            torch.rand(6, 3, generator=g) * 30,
            torch.rand(6, 3, generator=g) * 4 + 0.5,
            (torch.rand(6, 1, generator=g) * 2 - 1) * math.pi,
        ],
        1,
    )
    boxes = Boxes3D(rows)
    back = calib.boxes_from_camera(calib.boxes_to_camera(boxes))
    torch.testing.assert_close(back.tensor[:, :6], boxes.tensor[:, :6], atol=1e-4, rtol=0)
    dyaw = (back.tensor[:, 6] - boxes.tensor[:, 6] + math.pi) % (2 * math.pi) - math.pi
    # rotation_y turns about the camera's y axis: exact when that axis is the LiDAR's z (no
    # tilt), otherwise the heading is projected, an error of order tilt^2 (documented)
    assert dyaw.abs().max() < 1e-5 + tilt**2


def test_the_standard_heading_relation():
    """With the ideal axes, rotation_y = -yaw - pi/2 and the label holds the bottom centre."""
    calib = ideal_calib()
    boxes = Boxes3D(torch.tensor([[10.0, 2.0, -0.8, 4.0, 1.6, 1.5, 0.3]]))
    geo = calib.boxes_to_camera(boxes)[0]
    assert geo[6] == pytest.approx(
        (-0.3 - math.pi / 2 + math.pi) % (2 * math.pi) - math.pi, abs=1e-6
    )
    np.testing.assert_allclose(geo[3:6], [1.5, 1.6, 4.0])
    assert geo[1] == pytest.approx(0.8 + 1.5 / 2 - 0.07, abs=1e-6)  # camera y points down


def test_calib_round_trip_and_missing_matrix(tmp_path):
    calib = ideal_calib(0.01)
    write_calib(tmp_path / "000000.txt", calib)
    back = read_calib(tmp_path / "000000.txt")
    np.testing.assert_allclose(back.velo_to_rect, calib.velo_to_rect, atol=1e-12)
    text = (tmp_path / "000000.txt").read_text().replace("R0_rect", "R0_broken")
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(InputError, match="no R0_rect"):
        read_calib(tmp_path / "bad.txt")


def test_velodyne_round_trip_and_truncation(tmp_path):
    cloud = PointCloud(torch.randn(50, 3), torch.rand(50, 1))
    write_velodyne(tmp_path / "0.bin", cloud)
    back = read_velodyne(tmp_path / "0.bin")
    torch.testing.assert_close(back.xyz, cloud.xyz)
    torch.testing.assert_close(back.features, cloud.features)
    data = (tmp_path / "0.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-6])
    with pytest.raises(InputError, match="truncated"):
        read_velodyne(tmp_path / "cut.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    assert len(read_velodyne(tmp_path / "empty.bin")) == 0  # an empty scan is valid


def test_labels_round_trip(tmp_path):
    objects = [
        KittiObject(
            "Car",
            0.0,
            1,
            -1.57,
            (100.0, 150.0, 300.0, 250.0),
            (1.5, 1.6, 4.0),
            (2.0, 1.7, 15.0),
            -1.6,
        ),
        KittiObject(
            "Pedestrian",
            0.3,
            0,
            0.2,
            (10.0, 15.0, 30.0, 95.0),
            (1.8, 0.6, 0.8),
            (-4.0, 1.6, 9.0),
            0.1,
            score=0.87,
        ),
        KittiObject(
            "DontCare",
            -1.0,
            -1,
            -10.0,
            (500.0, 160.0, 540.0, 190.0),
            (-1.0, -1.0, -1.0),
            (-1000.0, -1000.0, -1000.0),
            -10.0,
        ),
    ]
    write_labels(tmp_path / "l.txt", objects)
    assert read_labels(tmp_path / "l.txt") == objects
    (tmp_path / "bad.txt").write_text("Car 0 0\n")
    with pytest.raises(InputError, match="15 or 16 fields"):
        read_labels(tmp_path / "bad.txt")
