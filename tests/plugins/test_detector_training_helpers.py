"""Issue 20: the training and evaluation helpers of ttfnet (training.py, pretrained.py) and denfi
(training.py, pretrained.py) refuse bad arguments with an xuframe error before any work: no
scene is written, no model built, no step taken."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xuframe
from xuframe.errors import InputError, UnknownComponentError
from xuframe.types import Boxes2D, Boxes3D, Detections, PointCloud
from xuframe_plugins.denfi import pretrained as denfi_pretrained
from xuframe_plugins.denfi.training import (
    bev_figure,
    detections_to_kitti,
    kitti_evaluator,
    lidar_train_loader,
    lidar_val_loader,
    synthetic_kitti,
    train_lidar,
)
from xuframe_plugins.ttfnet import pretrained as ttfnet_pretrained
from xuframe_plugins.ttfnet.training import (
    coco_evaluator,
    shapes_train_loader,
    shapes_val_loader,
    train_on_shapes,
)


# -- ttfnet --------------------------------------------------------------------------------------
@pytest.mark.parametrize("loader", [shapes_train_loader, shapes_val_loader])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_images": 0}, "n_images: expected an int >= 1"),
        ({"n_images": 2.5}, "n_images: expected an int"),
        ({"batch_size": 0}, "batch_size: expected an int >= 1"),
        ({"batch_size": "8"}, "batch_size: expected an int"),
        ({"image_size": 10}, "size: expected an int >= 32"),
        ({"seed": -1}, "seed: expected an int >= 0"),
    ],
)
def test_shapes_loaders_refuse_bad_sizes(loader, kwargs, message):
    with pytest.raises(InputError, match=message):
        loader(**kwargs)


def test_shapes_loaders_take_numpy_integers():
    loader = shapes_val_loader(np.int64(3), np.int64(32), np.int64(2))
    assert len(loader.dataset) == 3 and loader.batch_size == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"config": None}, "config: expected a mapping"),
        ({"steps": 0}, "steps: expected an int >= 1"),
        ({"steps": math.nan}, "steps: expected an int"),
        ({"n_train": 2, "batch_size": 4}, "n_train: expected at least batch_size=4 images"),
        ({"n_val": 0}, "n_val: expected an int >= 1"),
        ({"optimizer": "adam"}, "optimizer: expected one of 'adamw', 'sgd'"),
        ({"lr": math.nan}, "lr: expected a number, got NaN"),
        ({"lr": -1.0}, "lr: expected a number > 0"),
        ({"seed": "x"}, "seed: expected an int"),
        ({"eval_every": 0}, "eval_every: expected an int >= 1"),
        ({"name": 3}, "name: expected a detector name"),
    ],
)
def test_train_on_shapes_refuses_bad_arguments_before_any_work(kwargs, message):
    args = {"config": {}, "steps": 1, **kwargs}
    with pytest.raises(InputError, match=message):
        train_on_shapes(args.pop("config"), **args)


def test_coco_evaluator_refuses_another_model_batches_or_nothing():
    model = xuframe.create("detector", "ttfnet-tiny")
    batch = model.example_batch(1)
    with pytest.raises(InputError, match="coco_evaluator: model: expected a 2-D detector"):
        coco_evaluator(torch.nn.Linear(2, 2), [batch])
    with pytest.raises(InputError, match="coco_evaluator: batches: expected an iterable"):
        coco_evaluator(model, batch)  # one batch, not an iterable of them
    with pytest.raises(InputError, match="without crowd, image_ids"):
        coco_evaluator(model, [{"inputs": batch["inputs"], "boxes": [], "labels": []}])
    with pytest.raises(InputError, match="expected at least one image, got none"):
        coco_evaluator(model, [])
    assert model.training  # the mode is restored
    metrics = coco_evaluator(model, [batch])
    assert 0.0 <= metrics["AP50"] <= 1.0


def test_ttfnet_evaluate_checks_its_arguments():
    model = xuframe.create("detector", "ttfnet-tiny")
    with pytest.raises(InputError, match="evaluate: n_images: expected an int >= 1"):
        ttfnet_pretrained.evaluate(model, 0)
    with pytest.raises(InputError, match="evaluate: model: expected a TTFNet"):
        ttfnet_pretrained.evaluate(torch.nn.Linear(2, 2), 2)


# -- denfi ---------------------------------------------------------------------------------------
def test_synthetic_kitti_and_loaders_refuse_bad_arguments_before_writing(tmp_path):
    cases = [
        (lambda: synthetic_kitti(None, 2, 0), "synthetic_kitti: root: expected a folder path"),
        (lambda: synthetic_kitti(tmp_path, 0, 0), "n_scenes: expected an int >= 1"),
        (lambda: synthetic_kitti(tmp_path, 2, -1), "seed: expected an int >= 0"),
        (lambda: synthetic_kitti(tmp_path, 2, 0, [1]), "scene_args: expected a mapping"),
        (lambda: lidar_train_loader(tmp_path, 0), "lidar_train_loader: n_scenes"),
        (lambda: lidar_train_loader(tmp_path, 2, 0), "lidar_train_loader: batch_size"),
        (lambda: lidar_train_loader(tmp_path, 2, 1, 0, {0: -1}), r"gt_sampling\[0\]"),
        (lambda: lidar_train_loader(tmp_path, 2, 1, 0, {"Car": 3}), "gt_sampling: class index"),
        (lambda: lidar_train_loader(tmp_path, 2, 1, 0, [3]), "gt_sampling: expected a mapping"),
        (lambda: lidar_val_loader(tmp_path, 2, 2.5), "lidar_val_loader: batch_size"),
        (lambda: lidar_val_loader(tmp_path, 2, 1, "x"), "lidar_val_loader: seed"),
    ]
    (tmp_path / "a-file").write_text("x")
    cases.append(
        (lambda: synthetic_kitti(tmp_path / "a-file", 2, 0), "root: expected a folder, got")
    )
    for call, message in cases:
        with pytest.raises(InputError, match=message):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "denfy"}, UnknownComponentError, "denfy"),
        ({"name": None}, InputError, "train_lidar: name: expected a detector name"),
        ({"config": 3}, InputError, "train_lidar: config: expected a mapping"),
        ({"steps": 0}, InputError, "train_lidar: steps: expected an int >= 1"),
        ({"n_train": 2, "batch_size": 4}, InputError, "expected at least batch_size=4 scenes"),
        ({"n_val": -1}, InputError, "train_lidar: n_val"),
        ({"lr": math.inf}, InputError, "train_lidar: lr: expected a finite number"),
        ({"eval_every": 2.5}, InputError, "train_lidar: eval_every"),
        ({"gt_sampling": {0: "many"}}, InputError, r"gt_sampling\[0\]"),
        ({"scene_args": "small"}, InputError, "scene_args: expected a mapping"),
        ({"root": 5}, InputError, "train_lidar: root: expected a folder path"),
    ],
)
def test_train_lidar_refuses_bad_arguments_before_any_scene(kwargs, error, message, tmp_path):
    args = {"name": "denfi", "config": {}, "steps": 1, "root": tmp_path, **kwargs}
    with pytest.raises(error, match=message):
        train_lidar(args.pop("name"), args.pop("config"), **args)
    assert not list(tmp_path.iterdir())


def _scene():
    points = PointCloud(torch.tensor([[5.0, 0.0, -1.0], [10.0, 2.0, 0.5]]), torch.rand(2, 1))
    boxes = Boxes3D(torch.tensor([[10.0, 1.0, -1.0, 3.9, 1.6, 1.5, 0.1]]))
    dets = Detections(boxes, torch.tensor([0.9]), torch.tensor([0]))
    return points, boxes, dets


def test_detections_to_kitti_and_kitti_evaluator_check_their_arguments():
    from xuframe.data import kitti_calibration

    _, boxes, dets = _scene()
    calib = kitti_calibration()
    classes = ("Car", "Pedestrian", "Cyclist")
    flat = Detections(Boxes2D(torch.tensor([[0.0, 0.0, 2.0, 2.0]])), dets.scores, dets.labels)
    far = Detections(boxes, dets.scores, torch.tensor([3]))
    for call, message in [
        (lambda: detections_to_kitti(None, calib, classes), "dets: expected Detections"),
        (lambda: detections_to_kitti(flat, calib, classes), "expected 3-D detections"),
        (lambda: detections_to_kitti(far, calib, classes), r"labels in \[0, 2\]"),
        (lambda: detections_to_kitti(dets, calib, "Car"), "classes: expected a non-empty"),
        (lambda: detections_to_kitti(dets, calib, ()), "classes: expected a non-empty"),
    ]:
        with pytest.raises(InputError, match=message):
            call()
    assert len(detections_to_kitti(dets, calib, classes)) == 1
    model = xuframe.create("detector", "denfi")
    with pytest.raises(InputError, match="kitti_evaluator: model: expected a LiDAR detector"):
        kitti_evaluator(torch.nn.Linear(2, 2), [])
    with pytest.raises(InputError, match="kitti_evaluator: batches: expected an iterable"):
        kitti_evaluator(model, {"inputs": []})
    with pytest.raises(InputError, match="batches need inputs, kitti_objects and calib"):
        kitti_evaluator(model, [{"inputs": []}])
    with pytest.raises(InputError, match="expected at least one frame, got none"):
        kitti_evaluator(model, [])
    with pytest.raises(InputError, match="lidar_val_loader: n_scenes"):
        denfi_pretrained.evaluate(model, 0)


def test_bev_figure_checks_before_drawing(tmp_path):
    pytest.importorskip("matplotlib")
    points, boxes, dets = _scene()
    out = tmp_path / "bev.png"
    far = Detections(boxes, dets.scores, torch.tensor([5]))
    for kwargs, message in [
        ({"points": points.xyz}, "points: expected a PointCloud"),
        ({"ground_truth": boxes.tensor}, "ground_truth: expected Boxes3D"),
        ({"detections": "x"}, "detections: expected None or Detections"),
        ({"detections": far}, r"detections.labels: expected labels in \[0, 2\]"),
        ({"point_range": (0, 0, 0, 1, 1)}, r"point_range: expected shape \(6,\)"),
        ({"point_range": (0, -1, -1, math.nan, 1, 1)}, "point_range: expected finite"),
        ({"point_range": (5, -1, -1, 0, 1, 1)}, "point_range: expected .* with x0 < x1"),
        ({"classes": "Car"}, "classes: expected a non-empty sequence"),
        ({"out": None}, "out: expected a file path"),
        ({"title": 5}, "title: expected a str"),
    ]:
        args = {"points": points, "ground_truth": boxes, "detections": dets, "out": out, **kwargs}
        with pytest.raises(InputError, match=message):
            bev_figure(args.pop("points"), args.pop("ground_truth"), args.pop("detections"), **args)
    assert not out.exists()
    assert bev_figure(points, boxes, dets, out, point_range=np.array([0, -8, -3, 16, 8, 1.0]))
    assert out.stat().st_size > 0
