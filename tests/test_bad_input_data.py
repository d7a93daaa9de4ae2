"""Issue 20: the data generators, transforms, collation and the metrics' remaining entry points
refuse bad input with an ``xuframe.errors`` exception before any work, accept numpy scalars
wherever Python numbers are, and refuse work that cannot fit in memory up front."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xuframe import data, metrics
from xuframe.errors import InputError
from xuframe.types import Boxes2D, Boxes3D, Detections, PointCloud

NAN, INF = math.nan, math.inf


# -- make_blobs ------------------------------------------------------------------------------
def test_make_blobs_accepts_numpy_scalars_with_the_same_result():
    x, y = data.make_blobs(30, 3, 2, std=1.0, separation=10.0, seed=0)
    x2, y2 = data.make_blobs(
        np.int64(30), np.int32(3), np.int64(2), std=np.float32(1.0), seed=np.int64(0)
    )
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, y3 = data.make_blobs(np.array([10, 10, 10]), 3, 2)
    np.testing.assert_array_equal(x, x3)
    np.testing.assert_array_equal(y, y3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_points": None}, "n_points: expected an int or a list"),
        ({"n_points": NAN}, "n_points: expected an int or a list"),
        ({"n_points": 2.5}, "n_points: expected an int or a list"),
        ({"n_points": 2}, r"n_points: expected an int >= 3"),
        ({"n_points": [10, 10]}, "expected 3 positive counts"),
        ({"n_points": [10, 0, 10]}, "expected 3 positive counts"),
        ({"n_points": [10, 2.5, 10]}, "expected integers"),
        ({"n_clusters": "x"}, "n_clusters: expected an int"),
        ({"n_clusters": NAN}, "n_clusters: expected an int"),
        ({"n_clusters": 0}, "n_clusters: expected an int >= 1"),
        ({"dim": None}, "dim: expected an int"),
        ({"dim": 2.5}, "dim: expected an int"),
        ({"std": NAN}, "std: expected a number"),
        ({"std": -1.0}, "std: expected a number >= 0"),
        ({"std": 1e200}, "std: expected a number"),
        ({"separation": INF}, "separation: expected a finite number"),
        ({"seed": -1}, "seed: expected an int >= 0"),
        ({"n_points": 10**12}, "would need .* of memory"),
        ({"n_points": 10**9}, "would need .* of memory"),
        ({"dim": 10**9}, "would need .* of memory"),
        ({"n_points": [10**12, 1, 1]}, "would need .* of memory"),
    ],
)
def test_make_blobs_refuses_bad_arguments(kwargs, message):
    args = {"n_points": 30, "n_clusters": 3, "dim": 2, **kwargs}
    with pytest.raises(InputError, match=message):
        data.make_blobs(**args)


# -- image classification data ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": NAN}, "test_fraction: expected a number"),
        ({"test_fraction": 2.0}, r"test_fraction: expected a number >= 0 and <= 1"),
        ({"test_fraction": -0.1}, "test_fraction: expected a number"),
        ({"test_fraction": "x"}, "test_fraction: expected a number"),
        ({"test_fraction": 1.0}, "leaves the 'train' split without images"),
        ({"split": "test", "test_fraction": 0.0}, "leaves the 'test' split without images"),
        ({"split": None}, "split: expected one of 'train', 'test'"),
        ({"size": 10**6}, "would need .* of memory"),
        ({"size": 0}, "size: expected an int >= 1"),
        ({"size": 2.5}, "size: expected an int"),
        ({"seed": -1}, "seed: expected an int >= 0"),
        ({"seed": "x"}, "seed: expected an int"),
    ],
)
def test_digits_refuses_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        data.digits(**kwargs)


def test_digits_accepts_numpy_scalars():
    a = data.digits("test", test_fraction=np.float64(0.1), seed=np.int64(1), size=np.int64(9))
    b = data.digits("test", test_fraction=0.1, seed=1, size=9)
    assert torch.equal(a.images, b.images) and a.images.shape[-1] == 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 10**12}, "would need .* of memory"),
        ({"size": 10**6, "n_train": 8}, "would need .* of memory"),
        ({"num_classes": 10**12, "n_train": 8}, "would need .* of memory"),
        ({"n_test": 0}, "n_test: expected an int >= 1"),
        ({"channels": None}, "channels: expected an int"),
        ({"noise": NAN}, "noise: expected a number"),
        ({"noise": INF}, "noise: expected a finite number"),
        ({"seed": -3}, "seed: expected an int >= 0"),
        ({"split": 1}, "split: expected one of"),
    ],
)
def test_textures_refuse_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        data.textures(**kwargs)


def test_textures_accept_numpy_scalars():
    a = data.textures(num_classes=np.int64(3), n_train=np.int64(4), size=np.int32(8), seed=0)
    b = data.textures(num_classes=3, n_train=4, size=8, seed=0)
    assert torch.equal(a.images, b.images)


@pytest.mark.parametrize(
    ("images", "labels", "classes", "message"),
    [
        (None, torch.zeros(2, dtype=torch.long), None, "images: expected a torch.Tensor"),
        (torch.zeros(2, 1, 4, 4), torch.zeros(2), None, "labels: expected integer labels"),
        (torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long), None, "expected 2 labels"),
        (torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.long), None, "expected 4 dimensions"),
        (
            torch.zeros(2, 1, 4, 4, dtype=torch.uint8),
            torch.zeros(2, dtype=torch.long),
            None,
            "floating",
        ),
        (torch.full((2, 1, 4, 4), NAN), torch.zeros(2, dtype=torch.long), None, "finite"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, -1]), None, "labels >= 0"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), ("a", "b"), r"labels in \[0, 1\]"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), "ab", "classes: expected a sequence"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), (1, 2), "classes: expected class names"),
    ],
)
def test_image_classification_refuses_bad_input(images, labels, classes, message):
    with pytest.raises(InputError, match=message):
        data.ImageClassification(images, labels, classes)


# -- detection and LiDAR generators ----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((2, 10**9), {}, "would need .* of memory"),
        ((-1,), {}, "n_images: expected an int >= 0"),
        (("x",), {}, "n_images: expected an int"),
        ((2, 32.5), {}, "size: expected an int"),
        ((2, 32), {"split": "x"}, "split: expected one of"),
        ((2, 32), {"seed": -1}, "seed: expected an int >= 0"),
        ((2, 32), {"max_objects": 10**9}, "max_objects: expected an int >= 1 and <= 256"),
        ((2, 32), {"transforms": 5}, "transforms: expected a callable"),
    ],
)
def test_shapes_dataset_refuses_bad_arguments_at_construction(args, kwargs, message):
    with pytest.raises(InputError, match=message):
        data.ShapesDataset(*args, **kwargs)


def test_shapes_dataset_accepts_numpy_scalars_and_checks_its_index():
    a = data.ShapesDataset(np.int64(2), np.int64(32), seed=np.int64(1), max_objects=np.int8(2))
    b = data.ShapesDataset(2, 32, seed=1, max_objects=2)
    assert torch.equal(a[np.int64(1)]["image"], b[1]["image"])
    with pytest.raises(InputError, match="index: expected an int"):
        a["x"]
    with pytest.raises(IndexError):
        a[2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_scenes": "x"}, "n_scenes: expected an int"),
        ({"beams": 10**9}, "would need .* of memory"),
        ({"azimuth_step": 1e-300}, "would need .* of memory"),
        ({"azimuth_step": 5e-324}, "would need an unbounded amount of memory"),
        ({"azimuth_step": 0.0}, "azimuth_step: expected a number > 0"),
        ({"max_range": NAN}, "max_range: expected a number"),
        ({"max_range": 5.0}, "max_range: expected a number > 5"),
        ({"field_of_view": 400.0}, "field_of_view: expected a number > 0 and <= 360"),
        ({"max_objects": 10**6}, "max_objects: expected an int >= 0 and <= 256"),
        ({"seed": None}, "seed: expected an int"),
        ({"beams": 2.0}, "beams: expected an int"),
    ],
)
def test_lidar_scenes_refuse_bad_arguments_at_construction(kwargs, message):
    with pytest.raises(InputError, match=message):
        data.LidarScenes(**{"n_scenes": 1, **kwargs})


def test_lidar_scenes_accept_numpy_scalars():
    a = data.LidarScenes(
        np.int64(1), seed=np.int64(2), azimuth_step=np.float32(1.0), beams=np.int64(16)
    )
    b = data.LidarScenes(1, seed=2, azimuth_step=1.0, beams=16)
    assert torch.equal(a[np.int64(0)].points.xyz, b[0].points.xyz)


# -- 2-D transforms and collation ------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    return data.ShapesDataset(1, 32)[0]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: data.Resize(10**9, 10**9), "would need .* of memory"),
        (lambda: data.Resize("x", 4), "height: expected an int"),
        (lambda: data.Resize(4, 2.5), "width: expected an int"),
        (lambda: data.RandomFlip(None), "p: expected a number"),
        (lambda: data.RandomFlip(NAN), "p: expected a number"),
        (lambda: data.ColorJitter(brightness=NAN), "brightness: expected a number"),
        (lambda: data.ColorJitter(contrast="x"), "contrast: expected a number"),
        (lambda: data.ColorJitter(saturation=1.0), "saturation: expected a number >= 0 and < 1"),
        (lambda: data.Normalize(mean=(1e200, 0, 0)), "mean: expected values of magnitude"),
        (lambda: data.Normalize(std=(1.0, 1.0)), r"std: expected shape \(3,\)"),
        (lambda: data.Normalize(std=(1.0, 0.0, 1.0)), "std: expected 3 standard deviations"),
        (lambda: data.Normalize(mean=None), "mean: expected an array of real numbers"),
        (lambda: data.Compose(None), "Compose: expected a sequence of transforms"),
        (lambda: data.Compose([data.RandomFlip(), 3]), "transform 1: expected a callable"),
    ],
)
def test_2d_transforms_refuse_bad_arguments(make, message):
    with pytest.raises(InputError, match=message):
        make()


def _with(sample, **changes):
    out = dict(sample)
    out.update(changes)
    return out


@pytest.mark.parametrize(
    "transform", [data.Resize(16, 16), data.RandomFlip(0.0), data.ColorJitter(), data.Normalize()]
)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: None, "expected a detection sample"),
        (lambda s: {"boxes": s["boxes"]}, "expected key 'image'"),
        (lambda s: _with(s, image=torch.full((3, 8, 8), NAN)), "image: expected finite values"),
        (lambda s: _with(s, image=torch.zeros(3, 0, 8)), "image: expected a non-empty array"),
        (lambda s: _with(s, image=torch.zeros(3, 8, 8, dtype=torch.complex64)), "image"),
        (lambda s: _with(s, image=None), r"image: expected a \(3, H, W\) tensor"),
        (lambda s: _with(s, labels=s["labels"].float()), "labels: expected an int64 tensor"),
        (lambda s: _with(s, labels=s["labels"] - 10), "labels: expected class indices >= 0"),
        (lambda s: _with(s, crowd=None), "crowd: expected a bool tensor"),
        (lambda s: _with(s, image_id=NAN), "image_id: expected an id"),
    ],
)
def test_2d_transforms_refuse_bad_samples(transform, sample, change, message):
    with pytest.raises(InputError, match=message):
        transform(change(sample))


def test_collate_detection_and_clip_boxes_refuse_bad_input(sample):
    with pytest.raises(InputError, match="expected a sequence of samples"):
        data.collate_detection(42)
    with pytest.raises(InputError, match="crowd: expected a bool tensor"):
        data.collate_detection([_with(sample, crowd=None)])
    with pytest.raises(InputError, match="clip_boxes: boxes: expected Boxes2D"):
        data.clip_boxes(sample["boxes"].tensor, 4, 4)
    with pytest.raises(InputError, match="clip_boxes: height: expected a number"):
        data.clip_boxes(sample["boxes"], NAN, 4)
    clipped = data.clip_boxes(sample["boxes"], np.int64(4), np.float32(4.0))
    assert float(clipped.tensor.max()) <= 4.0


# -- 3-D transforms, collation, ground-truth sampling ----------------------------------------
@pytest.fixture(scope="module")
def scene():
    s = data.LidarScenes(1, azimuth_step=1.0, seed=1)[0]
    return {"points": s.points, "boxes": s.boxes, "labels": s.labels}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: data.GlobalRotation(INF), "max_angle: expected a finite number"),
        (lambda: data.GlobalRotation(None), "max_angle: expected a number"),
        (lambda: data.GlobalFlip(NAN), "p: expected a number"),
        (lambda: data.GlobalFlip(1.5), "p: expected a number"),
        (lambda: data.GlobalScale(None), "low: expected a number"),
        (lambda: data.GlobalScale(0.9, INF), "high: expected a finite number"),
        (lambda: data.GlobalScale(1.2, 1.1), "expected 0 < low <= high"),
    ],
)
def test_3d_transforms_refuse_bad_arguments(make, message):
    with pytest.raises(InputError, match=message):
        make()


@pytest.mark.parametrize(
    "transform",
    [data.GlobalRotation(), data.GlobalFlip(1.0), data.GlobalScale(), data.collate_lidar],
)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: 42, "expected a 3-D detection sample"),
        (lambda s: {"points": s["points"], "boxes": s["boxes"]}, "expected key 'labels'"),
        (lambda s: _with(s, points=s["points"].xyz), "points: expected PointCloud"),
        (lambda s: _with(s, boxes=s["boxes"].tensor), "boxes: expected Boxes3D"),
        (lambda s: _with(s, labels=s["labels"].float()), "labels: expected an integer tensor"),
        (lambda s: _with(s, labels=s["labels"][:-1]), "labels: expected an integer tensor"),
        (lambda s: _with(s, labels=s["labels"] - 10), "labels: expected class indices >= 0"),
    ],
)
def test_3d_transforms_and_collation_refuse_bad_samples(transform, scene, change, message):
    bad = change(scene)
    with pytest.raises(InputError, match=message):
        transform([bad]) if transform is data.collate_lidar else transform(bad)


def test_object_database_and_ground_truth_sampling_refuse_bad_input(scene):
    with pytest.raises(InputError, match="samples: expected an iterable"):
        data.ObjectDatabase(None)
    with pytest.raises(InputError, match="ObjectDatabase: sample 0: expected a 3-D"):
        data.ObjectDatabase(["x"])
    with pytest.raises(InputError, match="min_points: expected an int >= 0"):
        data.ObjectDatabase([scene], -1)
    with pytest.raises(InputError, match=r"min_points\[0\]: expected an int"):
        data.ObjectDatabase([scene], {0: NAN})
    db = data.ObjectDatabase([scene], np.int64(1))
    assert len(db) == len(data.ObjectDatabase([scene], 1)) > 0
    with pytest.raises(InputError, match="database: expected an ObjectDatabase"):
        data.GroundTruthSampling(None, {0: 1})
    with pytest.raises(InputError, match="per_class: expected a mapping"):
        data.GroundTruthSampling(db, None)
    with pytest.raises(InputError, match="per_class key"):
        data.GroundTruthSampling(db, {"x": 1})
    with pytest.raises(InputError, match="margin: expected a number"):
        data.GroundTruthSampling(db, {0: 1}, NAN)
    with pytest.raises(InputError, match="GroundTruthSampling: sample: expected"):
        data.GroundTruthSampling(db, {0: 1})(None)


def test_point_cloud_without_features_can_be_indexed():
    cloud = PointCloud(torch.rand(5, 3), None)
    picked = cloud[torch.tensor([True, False, True, False, False])]
    assert picked.xyz.shape == (2, 3) and picked.features.shape == (2, 0)


def test_ground_truth_database_of_clouds_without_features(scene):
    bare = _with(scene, points=PointCloud(scene["points"].xyz, None))
    assert len(data.ObjectDatabase([bare], 1)) == len(data.ObjectDatabase([scene], 1))


# -- KITTI objects and calibration -----------------------------------------------------------
def test_calibration_and_kitti_objects_refuse_bad_input():
    good = data.kitti_calibration()
    with pytest.raises(InputError, match="Calibration.P2: expected finite values"):
        data.Calibration(np.full((3, 4), NAN), good.R0_rect, good.Tr_velo_to_cam)
    with pytest.raises(InputError, match=r"Calibration.R0_rect: expected shape \(3, 3\)"):
        data.Calibration(good.P2, np.eye(4), good.Tr_velo_to_cam)
    with pytest.raises(InputError, match="Calibration.Tr_velo_to_cam: expected an array"):
        data.Calibration(good.P2, good.R0_rect, None)
    boxes = Boxes3D(torch.tensor([[10.0, 1.0, -1.0, 3.9, 1.6, 1.5, 0.1]]))
    for args, message in (
        ((None, ["Car"], good), "boxes: expected Boxes3D"),
        ((boxes, None, good), "names: expected a list"),
        ((boxes, [1], good), "names: expected class names"),
        ((boxes, ["Car"], None), "calib: expected a Calibration"),
        ((boxes, ["Car"], good, [NAN]), "scores: expected finite"),
        ((boxes, ["Car"], good, None, (0, 10)), "image_size width: expected an int >= 1"),
        ((boxes, ["Car"], good, None, None), "image_size: expected"),
    ):
        with pytest.raises(InputError, match=message):
            data.kitti_objects(*args)
    with pytest.raises(InputError, match="image_boxes: calib: expected a Calibration"):
        data.image_boxes(boxes, "x")
    objects = data.kitti_objects(boxes, ["Car"], good, np.array([0.5]), (np.int64(1242), 375))
    assert len(objects) == 1 and objects[0].score == 0.5


# -- metrics ---------------------------------------------------------------------------------
def test_detections_refuse_float_labels_but_not_no_labels():
    boxes = Boxes2D(torch.tensor([[0.0, 0.0, 4.0, 4.0]]))
    with pytest.raises(InputError, match="Detections.labels: expected integer class labels"):
        Detections(boxes, torch.tensor([0.9]), torch.tensor([0.0]))
    with pytest.raises(InputError, match="Detections.labels: expected integer class labels"):
        Detections(boxes, torch.tensor([0.9]), np.array([1.0]))
    assert len(Detections(Boxes2D.empty(), torch.zeros(0), torch.zeros(0))) == 0
    assert Detections(boxes, [0.9], [2]).labels.dtype == torch.int64


def test_coco_results_refuse_negative_labels_and_unwritable_paths(tmp_path):
    boxes = Boxes2D(torch.tensor([[0.0, 0.0, 4.0, 4.0]]))
    det = Detections(boxes, torch.tensor([0.9]), torch.tensor([-1]))
    with pytest.raises(InputError, match="labels >= 0"):
        metrics.coco_results([det], [1])
    good = Detections(boxes, torch.tensor([0.9]), torch.tensor([0]))
    with pytest.raises(InputError, match="expected a path"):
        metrics.write_coco_results(None, [good], [1])
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot write"):
        metrics.write_coco_results(tmp_path / "file" / "results.json", [good], [1])
    written = metrics.write_coco_results(tmp_path / "new" / "results.json", [good], [1])
    assert written.is_file()


def test_scene_metrics_refuse_float_boundary_labels():
    with pytest.raises(InputError, match="expected boundary labels as integers or booleans"):
        metrics.boundary_ap(np.array([0.0, 1.0, 0.0]), [0.1, 0.9, 0.2])
    with pytest.raises(InputError, match="expected boundary labels as integers or booleans"):
        metrics.scene_metrics([{"labels": torch.tensor([0.0, 1.0]), "scores": [0.2, 0.7]}])
    with pytest.raises(InputError, match="expected boundary labels as integers or booleans"):
        metrics.scenes_from_boundaries([0.0, 1.0, 0.0])
    as_bool = metrics.boundary_ap(np.array([False, True, False]), [0.1, 0.9, 0.2])
    assert as_bool == metrics.boundary_ap([0, 1, 0], [0.1, 0.9, 0.2]) == 1.0
