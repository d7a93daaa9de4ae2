"""Datasets: format readers, seeded synthetic generators and detection transforms.

Nothing here downloads anything: data is generated from a seed or read from files you have.

2-D detection samples are dicts ``{"image": (3, H, W) float, "boxes": Boxes2D, "labels": int64,
"crowd": bool, "image_id": int | str}``; :class:`CocoDetection` reads them from COCO json,
:class:`ShapesDataset` generates them, the transforms keep image and boxes consistent and
:func:`collate_detection` batches them. KITTI's calibration, velodyne scans and labels are
read and written by the ``*_calib``, ``*_velodyne`` and ``*_labels`` functions.
"""

from xuframe._files import load_torch_file
from xuframe.data._blobs import make_blobs
from xuframe.data._camera import SEMANTIC_CLASSES, PointProjection, project_points
from xuframe.data._classification import (
    ImageClassification,
    cifar,
    digits,
    mnist,
    read_idx,
    textures,
)
from xuframe.data._coco import CocoDetection, write_coco
from xuframe.data._detection import (
    ColorJitter,
    Compose,
    Normalize,
    RandomFlip,
    Resize,
    check_detection_sample,
    clip_boxes,
    collate_detection,
)
from xuframe.data._gt_sampling import GroundTruthSampling, ObjectDatabase, SampledObject
from xuframe.data._indoor import (
    SCANNET_CLASSES,
    SUNRGBD_CLASSES,
    IndoorScene,
    read_scannet,
    read_sunrgbd,
)
from xuframe.data._indoor_augment import (
    IndoorTransform,
    augment_indoor,
    flip_indoor,
    rotate_indoor,
    scale_indoor,
    subsample_indoor,
)
from xuframe.data._kitti import (
    KITTI_IMAGE_SIZE,
    Calibration,
    KittiObject,
    image_boxes,
    kitti_objects,
    read_calib,
    read_image,
    read_labels,
    read_velodyne,
    write_calib,
    write_image,
    write_labels,
    write_velodyne,
)
from xuframe.data._lidar import LIDAR_CLASSES, LidarScene, LidarScenes, kitti_calibration
from xuframe.data._pickle import load_array_pickle
from xuframe.data._rooms import INDOOR_CLASSES, IndoorScenes
from xuframe.data._scene3d import (
    GlobalFlip,
    GlobalRotation,
    GlobalScale,
    KittiDataset,
    collate_lidar,
)
from xuframe.data._shapes import SHAPE_CLASSES, ShapesDataset

__all__ = [
    "INDOOR_CLASSES",
    "SCANNET_CLASSES",
    "SUNRGBD_CLASSES",
    "IndoorScene",
    "IndoorScenes",
    "IndoorTransform",
    "augment_indoor",
    "flip_indoor",
    "read_scannet",
    "read_sunrgbd",
    "rotate_indoor",
    "scale_indoor",
    "subsample_indoor",
    "KITTI_IMAGE_SIZE",
    "LIDAR_CLASSES",
    "SEMANTIC_CLASSES",
    "SHAPE_CLASSES",
    "Calibration",
    "CocoDetection",
    "ColorJitter",
    "Compose",
    "GlobalFlip",
    "GlobalRotation",
    "GlobalScale",
    "GroundTruthSampling",
    "ImageClassification",
    "KittiDataset",
    "KittiObject",
    "LidarScene",
    "LidarScenes",
    "Normalize",
    "ObjectDatabase",
    "PointProjection",
    "RandomFlip",
    "Resize",
    "SampledObject",
    "ShapesDataset",
    "check_detection_sample",
    "clip_boxes",
    "collate_detection",
    "collate_lidar",
    "digits",
    "cifar",
    "textures",
    "load_array_pickle",
    "load_torch_file",
    "image_boxes",
    "kitti_calibration",
    "kitti_objects",
    "make_blobs",
    "mnist",
    "project_points",
    "read_calib",
    "read_idx",
    "read_image",
    "read_labels",
    "read_velodyne",
    "write_calib",
    "write_image",
    "write_coco",
    "write_labels",
    "write_velodyne",
]
