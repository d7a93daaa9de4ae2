"""3-D detection samples: a KITTI-layout dataset and global scene augmentations.

A 3-D detection sample is a dict::

    {"points": PointCloud (LiDAR frame), "boxes": Boxes3D, "labels": int64 (N,) class indices,
     "frame_id": str}

and, with a camera, ``"image"`` ``(3, H, W)`` in ``[0, 1]``, ``"semantic"`` ``(H, W)`` int64
(ids into :data:`~xuframe.data.SEMANTIC_CLASSES`) and ``"calib"``.

The augmentations transform points and boxes together (a point inside a box stays inside it)
and draw from torch's global generator. Each records what it did in ``"augmentation"``, a
``(4, 4)`` float64 matrix (absent: the identity) with ``points now = matrix @ points as
loaded``, composed along the chain; :func:`~xuframe.data.project_points` undoes it, so
augmented points still land on the pixels they came from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from xuframe._files import as_path
from xuframe.data._camera import check_augmentation, read_label_map
from xuframe.data._kitti import read_calib, read_image, read_labels, read_velodyne
from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_float

__all__ = ["GlobalFlip", "GlobalRotation", "GlobalScale", "KittiDataset", "collate_lidar"]

Sample = dict[str, Any]


def check_lidar_sample(sample: Any, where: str) -> None:
    """``sample`` checked as a 3-D detection sample: a dict with ``points`` (a
    :class:`~xuframe.PointCloud`), ``boxes`` (:class:`~xuframe.Boxes3D`) and ``labels`` (an
    integer tensor ``(N,)`` of values ``>= 0``, one per box); otherwise an
    :class:`~xuframe.errors.InputError` naming ``where`` and what is wrong."""
    if not isinstance(sample, Mapping):
        raise InputError(
            f"{where}: expected a 3-D detection sample (a dict with points, boxes, labels), "
            f"got {type(sample).__name__}"
        )
    for key, kind in (("points", PointCloud), ("boxes", Boxes3D)):
        if key not in sample:
            raise InputError(f"{where}: expected key {key!r} (keys: points, boxes, labels)")
        if not isinstance(sample[key], kind):
            raise InputError(
                f"{where}.{key}: expected {kind.__name__}, got {type(sample[key]).__name__}"
            )
    if "labels" not in sample:
        raise InputError(f"{where}: expected key 'labels' (keys: points, boxes, labels)")
    labels, n = sample["labels"], len(sample["boxes"])
    integer = isinstance(labels, torch.Tensor) and not (
        labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool
    )
    if not integer or labels.shape != (n,):
        shown = (
            f"{labels.dtype} {tuple(labels.shape)}"
            if isinstance(labels, torch.Tensor)
            else type(labels).__name__
        )
        raise InputError(f"{where}.labels: expected an integer tensor of shape ({n},), got {shown}")
    if n and int(labels.min()) < 0:
        raise InputError(f"{where}.labels: expected class indices >= 0, got {int(labels.min())}")


class KittiDataset:
    """``root/{velodyne,label_2,calib}/NNNNNN.*`` (a KITTI ``training`` folder, or one written by
    :meth:`~xuframe.data.LidarScenes.write_kitti`). Boxes are converted to the LiDAR frame;
    objects of classes outside ``classes`` and ``DontCare`` are left out of ``boxes`` (kept, as
    KITTI objects, under ``"kitti_objects"`` for evaluation). With ``images=True`` each sample
    also holds ``"image"``, ``image_2/NNNNNN.png`` as a ``(3, H, W)`` tensor in ``[0, 1]`` (a
    missing image is an :class:`~xuframe.errors.InputError`), and ``"semantic"``, the label
    map ``semantic_2/NNNNNN.png`` as an ``(H, W)`` int64 tensor, when the folder has one
    (:meth:`~xuframe.data.LidarScenes.write_kitti` writes them with ``images=True``; one of
    another size than its image is an :class:`~xuframe.errors.InputError`)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
        transforms: Callable[[Sample], Sample] | None = None,
        *,
        images: bool = False,
    ) -> None:
        self.root = as_path(root, "a KITTI-layout folder")
        velodyne = self.root / "velodyne"
        if not velodyne.is_dir():
            raise InputError(
                f"KittiDataset: {velodyne} is not a folder (expected root/velodyne, label_2, calib)"
            )
        self.frames = sorted(p.stem for p in velodyne.glob("*.bin"))
        self.classes = list(classes)
        self.transforms = transforms
        self.images = images

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> Sample:
        frame = self.frames[i]
        cloud = read_velodyne(self.root / "velodyne" / f"{frame}.bin")
        calib = read_calib(self.root / "calib" / f"{frame}.txt")
        label_file = self.root / "label_2" / f"{frame}.txt"
        objects = read_labels(label_file) if label_file.exists() else []
        kept = [o for o in objects if o.type in self.classes]
        geometry = np.array([[*o.location, *o.dimensions, o.rotation_y] for o in kept]).reshape(
            -1, 7
        )
        sample = {
            "points": cloud,
            "boxes": calib.boxes_from_camera(geometry),
            "labels": torch.tensor([self.classes.index(o.type) for o in kept], dtype=torch.int64),
            "frame_id": frame,
            "kitti_objects": objects,
            "calib": calib,
        }
        if self.images:
            image = self.root / "image_2" / f"{frame}.png"
            if not image.exists():
                raise InputError(f"KittiDataset: {image} is missing (images=True)")
            picture = read_image(image)
            sample["image"] = picture
            labels = self.root / "semantic_2" / f"{frame}.png"
            if labels.exists():
                semantic = read_label_map(labels)
                if tuple(semantic.shape) != tuple(picture.shape[1:]):
                    raise InputError(
                        f"KittiDataset: {labels} is {tuple(semantic.shape)}, its image "
                        f"{tuple(picture.shape[1:])} (expected the same height, width)"
                    )
                sample["semantic"] = semantic
        return self.transforms(sample) if self.transforms is not None else sample


def _recorded(sample: Sample, linear: list[list[float]]) -> torch.Tensor:
    """The sample's augmentation with the ``(3, 3)`` ``linear`` map applied after it."""
    step = torch.eye(4, dtype=torch.float64)
    step[:3, :3] = torch.tensor(linear, dtype=torch.float64)
    return step @ check_augmentation(sample.get("augmentation"), "sample.augmentation")


def _rotate_z(xyz: torch.Tensor, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=xyz.dtype)
    return xyz @ rot.T


class GlobalRotation:
    """Rotate the scene about the sensor's z axis by an angle uniform in ``[-max_angle, max_angle]``
    (radians). Raises :class:`~xuframe.errors.InputError` for a ``max_angle`` that is not a
    finite number >= 0, and (when called) for a sample that is not a 3-D detection sample or
    whose ``"augmentation"`` is not a ``(4, 4)`` matrix as :func:`project_points` takes it."""

    def __init__(self, max_angle: float = math.pi / 4) -> None:
        self.max_angle = check_float(max_angle, "GlobalRotation: max_angle", min=0.0)

    def __call__(self, sample: Sample) -> Sample:
        check_lidar_sample(sample, "GlobalRotation: sample")
        check_augmentation(sample.get("augmentation"), "GlobalRotation: sample.augmentation")
        angle = (2 * float(torch.rand(())) - 1) * self.max_angle
        c, s = math.cos(angle), math.sin(angle)
        pts: PointCloud = sample["points"]
        b = sample["boxes"].tensor.clone()
        b[:, :3] = _rotate_z(b[:, :3], angle)
        b[:, 6] = torch.remainder(b[:, 6] + angle + math.pi, 2 * math.pi) - math.pi
        return {
            **sample,
            "points": PointCloud(_rotate_z(pts.xyz, angle), pts.features),
            "boxes": Boxes3D(b),
            "augmentation": _recorded(sample, [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]),
        }


class GlobalFlip:
    """Mirror the scene across the x-z plane (``y -> -y``, ``yaw -> -yaw``) with probability ``p``.
    Raises :class:`~xuframe.errors.InputError` for a ``p`` that is not a number in ``[0, 1]``,
    and (when called) for a sample that is not a 3-D detection sample or has a bad
    ``"augmentation"``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_float(p, "GlobalFlip: p", min=0.0, max=1.0)

    def __call__(self, sample: Sample) -> Sample:
        check_lidar_sample(sample, "GlobalFlip: sample")
        check_augmentation(sample.get("augmentation"), "GlobalFlip: sample.augmentation")
        if float(torch.rand(())) >= self.p:
            return sample
        pts: PointCloud = sample["points"]
        xyz = pts.xyz.clone()
        xyz[:, 1] = -xyz[:, 1]
        b = sample["boxes"].tensor.clone()
        b[:, 1] = -b[:, 1]
        b[:, 6] = -b[:, 6]
        return {
            **sample,
            "points": PointCloud(xyz, pts.features),
            "boxes": Boxes3D(b),
            "augmentation": _recorded(sample, [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]),
        }


class GlobalScale:
    """Scale the scene about the sensor by a factor uniform in ``[low, high]``. Raises
    :class:`~xuframe.errors.InputError` unless ``0 < low <= high`` are finite numbers, and
    (when called) for a sample that is not a 3-D detection sample or has a bad
    ``"augmentation"``."""

    def __init__(self, low: float = 0.95, high: float = 1.05) -> None:
        low = check_float(low, "GlobalScale: low", min=0.0, min_open=True)
        high = check_float(high, "GlobalScale: high", min=0.0, min_open=True)
        if not low <= high:
            raise InputError(f"GlobalScale: expected 0 < low <= high, got {low}, {high}")
        self.low, self.high = low, high

    def __call__(self, sample: Sample) -> Sample:
        check_lidar_sample(sample, "GlobalScale: sample")
        check_augmentation(sample.get("augmentation"), "GlobalScale: sample.augmentation")
        f = self.low + (self.high - self.low) * float(torch.rand(()))
        pts: PointCloud = sample["points"]
        b = sample["boxes"].tensor.clone()
        b[:, :6] = b[:, :6] * f
        return {
            **sample,
            "points": PointCloud(pts.xyz * f, pts.features),
            "boxes": Boxes3D(b),
            "augmentation": _recorded(sample, [[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, f]]),
        }


def collate_lidar(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch 3-D detection samples: ``{"inputs": [PointCloud], "boxes": [Boxes3D],
    "labels": [int64 tensor], "frame_ids": [str]}``, plus lists of ``"kitti_objects"``,
    ``"calib"``, ``"image"`` and ``"semantic"`` when every sample has them, of
    ``"augmentation"`` when any has one (the identity for the others), and of
    :class:`GroundTruthSampling`'s per-point ``"pasted"`` (all False for samples without),
    ``"point_rgb"`` and ``"point_semantic"`` (``None`` for samples without) when any has them.
    Raises
    :class:`~xuframe.errors.InputError` for an empty batch, one that is not a sequence, or a
    sample without points (PointCloud), boxes (Boxes3D) and one integer label per box."""
    if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence):
        raise InputError(
            f"collate_lidar: expected a sequence of samples, got {type(samples).__name__}"
        )
    if not samples:
        raise InputError("collate_lidar: expected at least one sample")
    for i, s in enumerate(samples):
        check_lidar_sample(s, f"collate_lidar: sample {i}")
    batch: dict[str, Any] = {
        "inputs": [s["points"] for s in samples],
        "boxes": [s["boxes"] for s in samples],
        "labels": [s["labels"] for s in samples],
        "frame_ids": [str(s.get("frame_id", i)) for i, s in enumerate(samples)],
    }
    for key in _BATCHED:
        if all(key in s for s in samples):
            batch[key] = [s[key] for s in samples]
    if any("pasted" in s for s in samples):
        batch["pasted"] = [
            s.get("pasted", torch.zeros(len(s["points"]), dtype=torch.bool)) for s in samples
        ]
    for key in ("point_rgb", "point_semantic"):
        if any(key in s for s in samples):
            batch[key] = [s.get(key) for s in samples]
    if any("augmentation" in s for s in samples):
        batch["augmentation"] = [
            check_augmentation(s.get("augmentation"), f"collate_lidar: sample {i}.augmentation")
            for i, s in enumerate(samples)
        ]
    return batch


# the sample keys collate_lidar lists when every sample has them
_BATCHED = ("kitti_objects", "calib", "image", "semantic")
