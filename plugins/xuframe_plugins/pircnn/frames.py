"""PI-RCNN's input: a LiDAR scan with the camera image and calibration it was recorded with.

A :class:`CameraFrame` holds one scan (:class:`~xuframe.PointCloud`, LiDAR frame, metres),
camera 2's image ``(3, H, W)`` in ``[0, 1]``, the frame's :class:`~xuframe.data.Calibration`
and the ``(4, 4)`` matrix of the global augmentations applied to the points since they were
loaded (points now = matrix @ points as loaded; the identity when none), so that every point
projects onto the pixel it came from. :func:`camera_frames` builds them from a batch of
:func:`~xuframe.data.collate_lidar` (which lists ``"image"``, ``"calib"`` and
``"augmentation"`` for samples of ``KittiDataset(root, images=True)``).

Image size: any ``H, W >= 1`` whose centre lies within :data:`CENTRE_TOLERANCE` of the image
size from the calibration's principal point (``P2[0, 2], P2[1, 2]``): the image the
calibration was made for (KITTI's 1242 x 375 and its 1224 to 1242 wide variants, the synthetic
scenes' 1242 x 375), not one resized, cropped or transposed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from xuframe.data import Calibration
from xuframe.errors import InputError
from xuframe.types import PointCloud
from xuframe.validation import check_tensor

__all__ = ["CENTRE_TOLERANCE", "CameraFrame", "camera_frames", "check_camera_frame"]

#: How far (a share of the image width and height) the image centre may lie from the
#: calibration's principal point: 0.2, so KITTI's images (principal point about 12 and 15
#: pixels from the centre) pass and an image at half or double the calibrated size fails.
CENTRE_TOLERANCE = 0.2

_MAX_AUGMENTATION = 1e6


def _augmentation(value: Any) -> torch.Tensor:
    """A recorded augmentation as a ``(4, 4)`` float64 tensor; None is the identity."""
    what = "CameraFrame: augmentation"
    if value is None:
        return torch.eye(4, dtype=torch.float64)
    matrix = check_tensor(value, what, shape=(4, 4), max_abs=_MAX_AUGMENTATION).double()
    if not torch.equal(matrix[3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)):
        raise InputError(f"{what}: expected a last row 0, 0, 0, 1, got {matrix[3].tolist()}")
    if abs(float(torch.linalg.det(matrix[:3, :3]))) < 1e-12:
        raise InputError(f"{what}: expected an invertible matrix, got determinant 0")
    return matrix


@attrs.frozen(eq=False)
class CameraFrame:
    """One scan with its camera: what ``pircnn`` predicts on.

    ``points``: a :class:`~xuframe.PointCloud` in the LiDAR frame (``x`` forward, ``y`` left,
    ``z`` up; metres). ``image``: camera 2's picture, a finite float ``(3, H, W)`` tensor with
    values in ``[0, 1]`` (divide an 8-bit image by 255), of the size ``calib`` was made for
    (see the module: its centre within :data:`CENTRE_TOLERANCE` of the principal point).
    ``calib``: the frame's :class:`~xuframe.data.Calibration` (``P2``, ``R0_rect``,
    ``Tr_velo_to_cam``). ``augmentation``: the ``(4, 4)`` matrix of the global augmentations
    applied to ``points`` since they were loaded (``sample["augmentation"]``; None, the
    default, for none), kept as float64; undone when projecting.

    Raises :class:`~xuframe.errors.InputError` for anything else (also when rebuilt with
    ``attrs.evolve``)."""

    points: PointCloud
    image: torch.Tensor
    calib: Calibration
    augmentation: torch.Tensor = attrs.field(default=None, converter=_augmentation)

    def __attrs_post_init__(self) -> None:
        check_camera_frame(self, "CameraFrame")


def check_camera_frame(frame: Any, what: str) -> CameraFrame:
    """``frame`` checked as a :class:`CameraFrame` whose fields still hold what its
    constructor accepts (tensors can change in place after it): the points a
    :class:`~xuframe.PointCloud`, the image a finite float ``(3, H, W)`` tensor in ``[0, 1]``
    roughly of the size the calibration was made for (its centre within
    :data:`CENTRE_TOLERANCE` of the principal point: a transposed or halved image is caught,
    a small crop or resize is not), the calibration a :class:`~xuframe.data.Calibration` of
    finite matrices. Returns it; raises
    :class:`~xuframe.errors.InputError` naming ``what`` otherwise."""
    if not isinstance(frame, CameraFrame):
        raise InputError(
            f"{what}: expected a CameraFrame (points, camera image, calibration), got "
            f"{type(frame).__name__}"
        )
    if not isinstance(frame.points, PointCloud):
        raise InputError(f"{what}.points: expected a PointCloud, got {type(frame.points).__name__}")
    if frame.image is None:
        raise InputError(
            f"{what}.image: missing: PI-RCNN needs camera 2's image (3, H, W) in [0, 1] "
            "(KittiDataset(root, images=True), LidarScenes(images=True))"
        )
    image = check_tensor(frame.image, f"{what}.image", shape=(3, "H", "W"), non_empty=True)
    low, high = torch.aminmax(image.detach())
    if not (float(low) >= 0.0 and float(high) <= 1.0):
        raise InputError(
            f"{what}.image: expected values in [0, 1] (divide an 8-bit image by 255), got "
            f"values in [{float(low):g}, {float(high):g}]"
        )
    if not isinstance(frame.calib, Calibration):
        raise InputError(f"{what}.calib: expected a Calibration, got {type(frame.calib).__name__}")
    for name in ("P2", "R0_rect", "Tr_velo_to_cam"):  # arrays can change in place after it
        if not np.isfinite(getattr(frame.calib, name)).all():
            raise InputError(f"{what}.calib.{name}: expected finite values, got NaN or inf")
    height, width = int(image.shape[1]), int(image.shape[2])
    cx, cy = float(frame.calib.P2[0, 2]), float(frame.calib.P2[1, 2])
    if (
        abs(cx - width / 2) > CENTRE_TOLERANCE * width
        or abs(cy - height / 2) > CENTRE_TOLERANCE * height
    ):
        raise InputError(
            f"{what}.image: a {width} x {height} image (W x H) does not fit the calibration, "
            f"whose principal point ({cx:.1f}, {cy:.1f}) should lie near the image centre "
            f"({width / 2:.1f}, {height / 2:.1f}): expected the image the calibration was "
            "made for (not resized, cropped or transposed; (3, H, W))"
        )
    return frame


def camera_frames(batch: Mapping[str, Any]) -> list[CameraFrame]:
    """The :class:`CameraFrame` of every sample of a batch.

    ``batch``: what :func:`~xuframe.data.collate_lidar` gives for samples with a camera
    (``KittiDataset(root, images=True)``): ``"inputs"`` a list of
    :class:`~xuframe.PointCloud`, ``"image"`` and ``"calib"`` one per cloud, and optionally
    ``"augmentation"`` (one ``(4, 4)`` matrix or None per cloud); or a batch whose
    ``"inputs"`` already are :class:`CameraFrame` (returned as they are).

    Raises :class:`~xuframe.errors.InputError` for a batch without ``"inputs"``, without
    ``"image"`` or ``"calib"`` (a dataset read without images), lists of other lengths, or
    a sample a :class:`CameraFrame` refuses (naming the sample)."""
    what = "camera_frames"
    if not isinstance(batch, Mapping):
        raise InputError(f"{what}: expected a batch mapping, got {type(batch).__name__}")
    if "inputs" not in batch:
        raise InputError(f"{what}: expected batch key 'inputs' (use collate_lidar)")
    inputs = batch["inputs"]
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise InputError(
            f"{what}: batch['inputs']: expected a list of PointCloud or CameraFrame, got "
            f"{type(inputs).__name__}"
        )
    if inputs and all(isinstance(item, CameraFrame) for item in inputs):
        return list(inputs)
    for key in ("image", "calib"):
        if key not in batch:
            raise InputError(
                f"{what}: the batch has no {key!r}: PI-RCNN needs each scan's camera image and "
                "calibration (read the data with KittiDataset(root, images=True), or give "
                "CameraFrame inputs)"
            )
    n = len(inputs)
    augmentations = batch.get("augmentation")
    if augmentations is None:
        augmentations = [None] * n
    for key, value in (
        ("image", batch["image"]),
        ("calib", batch["calib"]),
        ("augmentation", augmentations),
    ):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise InputError(
                f"{what}: batch[{key!r}]: expected a list (one per scan), got "
                f"{type(value).__name__}"
            )
        if len(value) != n:
            raise InputError(
                f"{what}: batch[{key!r}]: expected {n} entries (one per scan), got {len(value)}"
            )
    frames = []
    for i in range(n):
        try:
            frames.append(
                CameraFrame(inputs[i], batch["image"][i], batch["calib"][i], augmentations[i])
            )
        except InputError as err:
            raise InputError(f"{what}: sample {i}: {err}") from None
    return frames
