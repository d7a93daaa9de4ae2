"""KITTI object files: calibration, frames, velodyne scans and labels.

Frames: xuframe's LiDAR frame (``x`` forward, ``y`` left, ``z`` up; :class:`~xuframe.Boxes3D`
holds geometric centres) and KITTI's rectified camera frame (``x`` right, ``y`` down, ``z``
forward; labels hold the *bottom* centre, sizes ``h, w, l`` and ``rotation_y`` about ``y``).
``p_rect = R0_rect @ Tr_velo_to_cam @ [p_velo; 1]``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from xuframe._files import read_bytes, read_text, require_file, writable_path, write_atomic
from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_array, check_int, check_tensor

__all__ = [
    "KITTI_IMAGE_SIZE",
    "Calibration",
    "KittiObject",
    "image_boxes",
    "kitti_objects",
    "read_calib",
    "read_image",
    "read_labels",
    "read_velodyne",
    "write_calib",
    "write_image",
    "write_labels",
    "write_velodyne",
]

_CALIB_KEYS = {"P2": (3, 4), "R0_rect": (3, 3), "Tr_velo_to_cam": (3, 4)}


def _p2(value: Any) -> np.ndarray[Any, Any]:
    return check_array(value, "Calibration.P2", shape=_CALIB_KEYS["P2"])


def _r0_rect(value: Any) -> np.ndarray[Any, Any]:
    return check_array(value, "Calibration.R0_rect", shape=_CALIB_KEYS["R0_rect"])


def _tr_velo_to_cam(value: Any) -> np.ndarray[Any, Any]:
    return check_array(value, "Calibration.Tr_velo_to_cam", shape=_CALIB_KEYS["Tr_velo_to_cam"])


@attrs.frozen(eq=False)
class Calibration:
    """One frame's ``P2`` (3x4), ``R0_rect`` (3x3) and ``Tr_velo_to_cam`` (3x4), float64.

    Each matrix is converted with :func:`~xuframe.validation.check_array`: anything but a
    finite real array of its shape (lists of numbers are accepted) is an
    :class:`~xuframe.errors.InputError` naming it."""

    P2: np.ndarray[Any, Any] = attrs.field(converter=_p2)
    R0_rect: np.ndarray[Any, Any] = attrs.field(converter=_r0_rect)
    Tr_velo_to_cam: np.ndarray[Any, Any] = attrs.field(converter=_tr_velo_to_cam)

    @property
    def velo_to_rect(self) -> np.ndarray[Any, Any]:
        """The 4x4 rigid transform from the LiDAR frame to the rectified camera frame."""
        m = np.eye(4)
        m[:3, :4] = self.R0_rect @ self.Tr_velo_to_cam
        return m

    def lidar_to_camera(self, xyz: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``(N, 3)`` LiDAR points to rectified camera coordinates."""
        m = self.velo_to_rect
        return np.asarray(np.asarray(xyz, dtype=np.float64) @ m[:3, :3].T + m[:3, 3])

    def camera_to_lidar(self, xyz: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``(N, 3)`` rectified camera points to the LiDAR frame."""
        inv = np.linalg.inv(self.velo_to_rect)
        return np.asarray(np.asarray(xyz, dtype=np.float64) @ inv[:3, :3].T + inv[:3, 3])

    def project(self, xyz_camera: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``(N, 2)`` image pixels of rectified camera points (``P2``)."""
        h = np.concatenate([xyz_camera, np.ones((len(xyz_camera), 1))], 1) @ self.P2.T
        return np.asarray(h[:, :2] / h[:, 2:3])

    def boxes_to_camera(self, boxes: Boxes3D) -> np.ndarray[Any, Any]:
        """LiDAR boxes to KITTI label geometry ``(N, 7)``: ``x, y, z`` (bottom centre, camera),
        ``h, w, l``, ``rotation_y``."""
        t = boxes.tensor.double().numpy()
        bottom = t[:, :3].copy()
        bottom[:, 2] -= t[:, 5] / 2
        loc = self.lidar_to_camera(bottom)
        heading = np.stack([np.cos(t[:, 6]), np.sin(t[:, 6]), np.zeros(len(t))], 1)
        d = heading @ self.velo_to_rect[:3, :3].T
        ry = np.arctan2(-d[:, 2], d[:, 0])  # camera heading (cos ry, 0, -sin ry)
        return np.concatenate([loc, t[:, [5, 4, 3]], _wrap(ry)[:, None]], 1)

    def boxes_from_camera(self, geometry: np.ndarray[Any, Any]) -> Boxes3D:
        """KITTI label geometry ``(N, 7)`` (bottom-centre location, ``h, w, l``, ``rotation_y``)
        to LiDAR :class:`Boxes3D` (geometric centres).

        ``rotation_y`` turns about the camera's ``y`` axis; when that axis is not exactly the
        LiDAR's ``z`` (a pitched camera) the round trip of a heading is off by the square of
        the tilt (4e-4 rad at 0.03 rad), inherent to KITTI's label format."""
        g = np.asarray(geometry, dtype=np.float64).reshape(-1, 7)
        centre = self.camera_to_lidar(g[:, :3])
        centre[:, 2] += g[:, 3] / 2
        d = np.stack([np.cos(g[:, 6]), np.zeros(len(g)), -np.sin(g[:, 6])], 1)
        dv = d @ np.linalg.inv(self.velo_to_rect)[:3, :3].T
        yaw = np.arctan2(dv[:, 1], dv[:, 0])
        rows = np.concatenate([centre, g[:, [5, 4, 3]], _wrap(yaw)[:, None]], 1)
        return Boxes3D(torch.tensor(rows, dtype=torch.float32))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _wrap(angle: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def read_calib(path: str | os.PathLike[str]) -> Calibration:
    """A KITTI ``calib/*.txt``; a missing or malformed ``P2``, ``R0_rect`` or ``Tr_velo_to_cam``
    raises :class:`InputError` naming it."""
    values: dict[str, np.ndarray[Any, Any]] = {}
    lines = read_text(path, "a KITTI calibration file").splitlines()
    for n, line in enumerate(lines, 1):
        if ":" not in line:
            continue
        key, _, rest = line.partition(":")
        try:
            row = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            bad = next(v for v in rest.split() if not _is_float(v))
            raise InputError(
                f"read_calib: {path}:{n}: {key.strip()}: expected numbers, got {bad!r}"
            ) from None
        if key.strip() in _CALIB_KEYS and not np.isfinite(row).all():
            raise InputError(
                f"read_calib: {path}:{n}: {key.strip()}: expected finite numbers, got NaN or inf"
            )
        values[key.strip()] = row
    mats = {}
    for key, shape in _CALIB_KEYS.items():
        if key not in values:
            raise InputError(f"read_calib: {path} has no {key} (expected {', '.join(_CALIB_KEYS)})")
        if values[key].size != shape[0] * shape[1]:
            raise InputError(
                f"read_calib: {path}: {key} has {values[key].size} numbers, expected {shape[0] * shape[1]}"
            )
        mats[key] = values[key].reshape(shape)
    rigid = mats["R0_rect"] @ mats["Tr_velo_to_cam"][:, :3]
    if abs(float(np.linalg.det(rigid))) < 1e-9:
        raise InputError(
            f"read_calib: {path}: R0_rect @ Tr_velo_to_cam is singular (its rotation part has "
            "determinant 0), expected a rigid transform"
        )
    return Calibration(mats["P2"], mats["R0_rect"], mats["Tr_velo_to_cam"])


def write_calib(path: str | os.PathLike[str], calib: Calibration) -> None:
    """Write the three matrices KITTI's readers need (P0, P1 and P3 as copies of P2).
    :class:`InputError` for a ``calib`` that is not a :class:`Calibration` or a path that
    cannot be written."""
    if not isinstance(calib, Calibration):
        raise InputError(f"write_calib: calib: expected a Calibration, got {type(calib).__name__}")
    path = writable_path(path, "a KITTI calibration file")

    def row(m: np.ndarray[Any, Any]) -> str:
        return " ".join(f"{v:.12e}" for v in m.reshape(-1))

    text = "".join(f"{k}: {row(calib.P2)}\n" for k in ("P0", "P1", "P2", "P3"))
    text += f"R0_rect: {row(calib.R0_rect)}\nTr_velo_to_cam: {row(calib.Tr_velo_to_cam)}\n"
    _atomic_write(Path(path), text.encode())


def read_velodyne(path: str | os.PathLike[str]) -> PointCloud:
    """A KITTI ``velodyne/*.bin`` (float32 ``x, y, z, reflectance`` per point; an empty file is
    a scan without points). :class:`InputError` naming the file when it is missing, a folder,
    not a path, of a size that is not a multiple of 16 bytes (truncated), holds NaN or inf, or
    holds only zero bytes (a damaged file: every point at the sensor)."""
    raw = read_bytes(path, "a KITTI velodyne scan")
    if len(raw) % 16:
        raise InputError(
            f"read_velodyne: {path} has {len(raw)} bytes, not a multiple of 16 (x, y, z, r float32): truncated?"
        )
    pts = np.frombuffer(raw, dtype=np.float32).reshape(-1, 4)
    if not np.isfinite(pts).all():
        raise InputError(f"read_velodyne: {path} holds NaN or inf values")
    if raw and not any(raw):
        raise InputError(
            f"read_velodyne: {path} holds {len(raw)} zero bytes and nothing else (a damaged scan)"
        )
    return PointCloud(torch.from_numpy(pts[:, :3].copy()), torch.from_numpy(pts[:, 3:].copy()))


def write_velodyne(path: str | os.PathLike[str], cloud: PointCloud) -> None:
    """Write ``x, y, z`` and the first feature (reflectance; 0 if none) as float32.
    :class:`InputError` for a ``cloud`` that is not a :class:`~xuframe.PointCloud` or a path
    that cannot be written."""
    if not isinstance(cloud, PointCloud):
        raise InputError(
            f"write_velodyne: cloud: expected a PointCloud, got {type(cloud).__name__}"
        )
    path = writable_path(path, "a KITTI velodyne scan")
    refl = cloud.features[:, :1] if cloud.num_features else torch.zeros(len(cloud), 1)
    data = torch.cat([cloud.xyz, refl], 1).to(torch.float32).numpy()
    _atomic_write(Path(path), data.tobytes())


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """A KITTI ``image_2/*.png`` as a ``(3, H, W)`` float tensor in ``[0, 1]``;
    :class:`InputError` naming the file when it is missing, a folder or not a readable image."""
    from PIL import Image, UnidentifiedImageError

    require_file(path, "a KITTI image")
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise InputError(f"read_image: cannot read {path} as an image: {err}") from err
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def write_image(path: str | os.PathLike[str], image: torch.Tensor) -> None:
    """Write a ``(3, H, W)`` image in ``[0, 1]`` as an 8-bit PNG (atomically).
    :class:`InputError` for an image that is not a finite, non-empty, real ``(3, H, W)``
    tensor or a path that cannot be written."""
    import io

    from PIL import Image

    image = check_tensor(image, "write_image: image", shape=(3, "H", "W"), non_empty=True)
    path = writable_path(path, "a KITTI image")
    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    _atomic_write(Path(path), buffer.getvalue())


@attrs.frozen
class KittiObject:
    """One ``label_2`` line: class, truncation, occlusion, observation angle, 2-D box
    ``left, top, right, bottom`` (pixels), camera geometry ``h, w, l``, bottom-centre
    ``x, y, z`` and ``rotation_y``, and an optional score (results files)."""

    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]
    dimensions: tuple[float, float, float]
    location: tuple[float, float, float]
    rotation_y: float
    score: float | None = None

    def line(self) -> str:
        nums = [
            self.truncated,
            self.occluded,
            self.alpha,
            *self.bbox,
            *self.dimensions,
            *self.location,
            self.rotation_y,
        ]
        text = f"{self.type} " + " ".join(
            f"{v:.2f}" if i != 1 else str(int(v)) for i, v in enumerate(nums)
        )
        return text + (f" {self.score:.4f}" if self.score is not None else "")


KITTI_IMAGE_SIZE = (1242, 375)


def image_boxes(
    boxes: Boxes3D, calib: Calibration, image_size: tuple[int, int] = KITTI_IMAGE_SIZE
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The 2-D boxes of LiDAR ``boxes`` in the image: ``(N, 4)`` ``left, top, right, bottom``
    (the projected corners' bounds, clipped to the image), ``(N,)`` truncation (the share of the
    unclipped box outside the image) and ``(N,)`` whether the box is visible at all (in front of
    the camera, with some part in the image). Rows of invisible boxes are zeros.

    Raises :class:`~xuframe.errors.InputError` for ``boxes`` that are not
    :class:`~xuframe.Boxes3D`, a ``calib`` that is not a :class:`Calibration`, or an
    ``image_size`` that is not two ints ``(width, height)`` >= 1."""
    w, h = _check_projection(boxes, calib, image_size, "image_boxes")
    n = len(boxes)
    bbox, truncated, visible = np.zeros((n, 4)), np.ones(n), np.zeros(n, dtype=bool)
    if n == 0:
        return bbox, truncated, visible
    cam = calib.lidar_to_camera(boxes.corners().double().numpy().reshape(-1, 3)).reshape(n, 8, 3)
    for k in range(n):
        if (cam[k, :, 2] <= 0.1).any():
            continue
        uv = calib.project(cam[k])
        x1, y1 = uv.min(0)
        x2, y2 = uv.max(0)
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        full = (x2 - x1) * (y2 - y1)
        truncated[k] = 1 - (cx2 - cx1) * (cy2 - cy1) / full if full > 0 else 1.0
        bbox[k] = (cx1, cy1, cx2, cy2)
        visible[k] = True
    return bbox, truncated, visible


def kitti_objects(
    boxes: Boxes3D,
    names: list[str],
    calib: Calibration,
    scores: list[float] | None = None,
    image_size: tuple[int, int] = KITTI_IMAGE_SIZE,
) -> list[KittiObject]:
    """LiDAR ``boxes`` named ``names`` as KITTI label objects (results lines when ``scores`` are
    given): camera geometry from ``calib``, the 2-D box projected with ``P2`` and clipped to the
    image; boxes the camera cannot see are left out. Occlusion is written as 0 (unknown).

    Raises :class:`~xuframe.errors.InputError` for ``boxes`` that are not
    :class:`~xuframe.Boxes3D`, ``names`` that are not one str per box, ``scores`` that are not
    one finite number per box, a ``calib`` that is not a :class:`Calibration`, or an
    ``image_size`` that is not two ints ``(width, height)`` >= 1."""
    return _visible_objects(boxes, names, calib, scores, image_size)[0]


def _check_projection(boxes: Any, calib: Any, image_size: Any, where: str) -> tuple[int, int]:
    """The checks of image_boxes and kitti_objects; returns ``(width, height)``."""
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"{where}: boxes: expected Boxes3D, got {type(boxes).__name__}")
    if not isinstance(calib, Calibration):
        raise InputError(f"{where}: calib: expected a Calibration, got {type(calib).__name__}")
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise InputError(
            f"{where}: image_size: expected (width, height), got {type(image_size).__name__}"
        )
    return (
        check_int(image_size[0], f"{where}: image_size width", min=1),
        check_int(image_size[1], f"{where}: image_size height", min=1),
    )


def _visible_objects(
    boxes: Boxes3D,
    names: list[str],
    calib: Calibration,
    scores: list[float] | None,
    image_size: tuple[int, int],
) -> tuple[list[KittiObject], np.ndarray[Any, Any]]:
    """:func:`kitti_objects` and the indices of the boxes they came from."""
    _check_projection(boxes, calib, image_size, "kitti_objects")
    given: Any = names
    if isinstance(given, str) or not isinstance(given, (list, tuple)):
        raise InputError(
            f"kitti_objects: names: expected a list of class names, got {type(given).__name__}"
        )
    if not all(isinstance(name, str) for name in given):
        raise InputError("kitti_objects: names: expected class names (str)")
    if scores is not None:
        scores = check_array(scores, "kitti_objects: scores", ndim=1).tolist()
    if len(names) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
        raise InputError(
            f"kitti_objects: {len(boxes)} boxes, {len(names)} names and {None if scores is None else len(scores)} scores"
        )
    geometry = calib.boxes_to_camera(boxes)
    bbox, truncated, visible = image_boxes(boxes, calib, image_size)
    out = []
    for k in np.flatnonzero(visible):
        g = geometry[k]
        out.append(
            KittiObject(
                names[k],
                round(float(truncated[k]), 2),
                0,
                float(_wrap(np.array(g[6] - math.atan2(g[0], g[2])))),
                (float(bbox[k, 0]), float(bbox[k, 1]), float(bbox[k, 2]), float(bbox[k, 3])),
                (float(g[3]), float(g[4]), float(g[5])),
                (float(g[0]), float(g[1]), float(g[2])),
                float(g[6]),
                None if scores is None else float(scores[k]),
            )
        )
    return out, np.flatnonzero(visible)


def read_labels(path: str | os.PathLike[str]) -> list[KittiObject]:
    """A KITTI ``label_2/*.txt`` (15 fields per line, 16 with a score; an empty file is a frame
    without objects); :class:`InputError` naming the file and line for a missing file, a
    folder, non-text bytes or a bad line (a field that is not a number, NaN or inf, an
    occlusion that is not an integer)."""
    out = []
    for n, line in enumerate(read_text(path, "a KITTI label file").splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) not in (15, 16):
            raise InputError(f"read_labels: {path}:{n}: expected 15 or 16 fields, got {len(f)}")
        bad = next((x for x in f[1:] if not _is_float(x)), None)
        if bad is not None:
            raise InputError(
                f"read_labels: {path}:{n}: expected numbers after the class, got {bad!r}"
            )
        v = [float(x) for x in f[1:]]
        if not all(math.isfinite(x) for x in v):
            raise InputError(f"read_labels: {path}:{n}: expected finite numbers, got NaN or inf")
        if v[1] != int(v[1]):
            raise InputError(
                f"read_labels: {path}:{n}: expected an integer occlusion, got {f[2]!r}"
            )
        out.append(
            KittiObject(
                f[0],
                v[0],
                int(v[1]),
                v[2],
                (v[3], v[4], v[5], v[6]),
                (v[7], v[8], v[9]),
                (v[10], v[11], v[12]),
                v[13],
                v[14] if len(v) == 15 else None,
            )
        )
    return out


def write_labels(path: str | os.PathLike[str], objects: list[KittiObject]) -> None:
    """Write ``label_2`` lines (atomically). :class:`InputError` for ``objects`` that are not
    a list (or tuple) of :class:`KittiObject` or a path that cannot be written."""
    if not isinstance(objects, (list, tuple)):
        raise InputError(
            f"write_labels: objects: expected a list of KittiObject, got {type(objects).__name__}"
        )
    for i, obj in enumerate(objects):
        if not isinstance(obj, KittiObject):
            raise InputError(
                f"write_labels: objects[{i}]: expected a KittiObject, got {type(obj).__name__}"
            )
    path = writable_path(path, "a KITTI label file")
    _atomic_write(Path(path), "".join(o.line() + "\n" for o in objects).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomic(path, data)
