"""xuframe.validation's point cloud and 3-D detection batch checks, which the LiDAR and
indoor detectors (denfi, pointrcnn, pircnn, votenet, srdet) share."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_lidar_batch, check_point_clouds


def _cloud(n: int = 4, features: int = 1) -> PointCloud:
    return PointCloud(torch.rand(n, 3), torch.rand(n, features))


def _batch(**change: Any) -> dict[str, Any]:
    box = Boxes3D(torch.tensor([[1.0, 0.0, 0.0, 2.0, 1.0, 1.5, 0.0]]))
    batch = {
        "inputs": [_cloud(), _cloud()],
        "boxes": [box, Boxes3D(torch.zeros(0, 7))],
        "labels": [torch.tensor([0]), torch.zeros(0, dtype=torch.int64)],
    }
    return {**batch, **change}


def test_check_point_clouds_returns_a_list_of_the_clouds():
    clouds = (_cloud(), _cloud(0))
    assert check_point_clouds(clouds, "x", num_features=1) == list(clouds)


@pytest.mark.parametrize(
    ("inputs", "kwargs", "message"),
    [
        (_cloud(), {}, "x: expected a list of PointCloud, got PointCloud"),
        ([], {}, "x: expected at least one point cloud, got an empty list"),
        ([_cloud(), torch.zeros(3, 3)], {}, "item 1 is Tensor"),
        ([_cloud(features=2)], {"num_features": 1}, "point cloud 0: expected 1 feature channel"),
        ([PointCloud(torch.full((2, 3), 2e6))], {"max_abs": 1e6}, "point cloud 0 xyz"),
        ([PointCloud(torch.zeros(2, 3), torch.full((2, 1), 2e6))],
         {"max_abs": 1e6}, "point cloud 0 features"),
    ],
)  # fmt: skip
def test_check_point_clouds_refuses(inputs, kwargs, message):
    with pytest.raises(InputError, match=message):
        check_point_clouds(inputs, "x", **kwargs)


def test_check_lidar_batch_returns_clouds_boxes_and_int64_labels():
    batch = _batch(labels=[[0], []])
    clouds, boxes, labels = check_lidar_batch(batch, "m.loss", num_classes=3)
    assert clouds == batch["inputs"] and boxes == batch["boxes"]
    assert [lab.dtype for lab in labels] == [torch.int64, torch.int64]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([1], r"m.loss: expected a batch mapping \(use collate_lidar\), got list"),
        ({"inputs": [_cloud()], "boxes": []}, r"expected batch key 'labels' \(use collate_lidar\)"),
        (_batch(inputs=[_cloud()]), r"m.loss: batch\['boxes'\]: expected 1 entries"),
        (_batch(labels=[torch.tensor([5]), torch.zeros(0, dtype=torch.int64)]),
         r"batch\['labels'\]\[0\]: expected labels in \[0, 2\]"),
        (_batch(boxes=[Boxes3D(torch.tensor([[1.0, 0, 0, 2, 0, 1, 0]])), Boxes3D(torch.zeros(0, 7))]),
         r"batch\['boxes'\]\[0\]: box 0 has a zero or negative size"),
        (_batch(boxes=[Boxes3D(torch.tensor([[2e6, 0, 0, 2, 1, 1, 0]])), Boxes3D(torch.zeros(0, 7))]),
         r"batch\['boxes'\]\[0\]"),
        (_batch(inputs=[_cloud(), "scan"]), r"batch\['inputs'\]: expected a list of PointCloud, item 1"),
    ],
)  # fmt: skip
def test_check_lidar_batch_refuses(batch, message):
    with pytest.raises(InputError, match=message):
        check_lidar_batch(batch, "m.loss", num_classes=3)


@pytest.mark.parametrize("num_classes", ["3", 0, -1, 2.5, None])
def test_check_lidar_batch_refuses_a_bad_class_count(num_classes):
    with pytest.raises(InputError, match=r"m.loss: num_classes: expected an int"):
        check_lidar_batch(_batch(), "m.loss", num_classes=num_classes)


def test_check_lidar_batch_uses_the_callers_input_check_and_can_require_points():
    seen = []

    def own(inputs: Any, what: str) -> list[PointCloud]:
        seen.append(what)
        return check_point_clouds(inputs, what, num_features=1)

    batch = _batch(inputs=[_cloud(), _cloud(0)])
    check_lidar_batch(batch, "m", num_classes=1, check_inputs=own)  # an empty cloud is fine
    assert seen == ["m: batch['inputs']"]
    with pytest.raises(InputError, match=r"m: batch\['inputs'\]\[1\]: expected points to train"):
        check_lidar_batch(batch, "m", num_classes=1, check_inputs=own, require_points=True)
