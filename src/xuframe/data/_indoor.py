"""Indoor scenes: ScanNet and SUN RGB-D readers (and the writers the synthetic rooms use).

Both datasets are read into the *depth frame*: ``x`` right, ``y`` forward, ``z`` up, metres.
A :class:`~xuframe.Boxes3D` row there is ``x, y, z, l, w, h, yaw`` with the same meaning as in
the LiDAR frame, because both frames are right-handed with ``z`` up: ``(x, y, z)`` the box's
geometric centre, ``l`` its extent along the heading (mmdetection3d's ``x_size``), ``w``
across it (``y_size``), ``h`` along ``z`` and ``yaw`` the heading's angle from ``+x``
towards ``+y`` (counter-clockwise seen from above). Only the axes' names differ; turning a
depth-frame scene into the LiDAR frame's naming (``x`` forward, ``y`` left) is the rotation
``x_l = y_d, y_l = -x_d, yaw_l = yaw_d - pi/2``.

Two file layouts are read for each dataset:

- the **plain layout** of ``../shared/data/real/`` (mmdetection3d's demo data converted): one
  folder per scene holding ``points.bin`` (float32 ``(N, 6)`` ``x y z r g b``) and
  ``annotations.json``; for ScanNet also, when present, ``instance_mask.bin`` and
  ``semantic_mask.bin`` (int64 ``(N,)``, as mmdetection3d writes them);
- **mmdetection3d's prepared layout** (``tools/create_data.py scannet|sunrgbd``): a root with
  ``points/<id>.bin`` and, for ScanNet, ``instance_mask/<id>.bin``, ``semantic_mask/<id>.bin``
  and ``scannet_instance_data/<id>_aligned_bbox.npy`` / ``<id>_axis_align_matrix.npy``; for
  SUN RGB-D, the annotation lines ``sunrgbd_trainval/label/<id>.txt``.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from xuframe._files import as_path, read_bytes, read_text, write_atomic
from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_array, check_choice, check_int, check_labels

__all__ = [
    "SCANNET_CLASSES",
    "SUNRGBD_CLASSES",
    "IndoorScene",
    "read_scannet",
    "read_sunrgbd",
]

#: ScanNet's 18 detection benchmark classes, in mmdetection3d's (and VoteNet's) order.
SCANNET_CLASSES = (
    "cabinet",
    "bed",
    "chair",
    "sofa",
    "table",
    "door",
    "window",
    "bookshelf",
    "picture",
    "counter",
    "desk",
    "curtain",
    "refrigerator",
    "showercurtrain",
    "toilet",
    "sink",
    "bathtub",
    "garbagebin",
)
#: The NYU40 label id of each of :data:`SCANNET_CLASSES` (the ids of ScanNet's semantic masks).
SCANNET_NYU40_IDS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39)
#: SUN RGB-D's 10 detection benchmark classes, in mmdetection3d's (and VoteNet's) order.
SUNRGBD_CLASSES = (
    "bed",
    "table",
    "sofa",
    "chair",
    "toilet",
    "desk",
    "dresser",
    "night_stand",
    "bookshelf",
    "bathtub",
)


def _optional_mask(value: Any) -> torch.Tensor | None:
    if value is None:
        return None
    return check_labels(value, "IndoorScene: mask")


@attrs.frozen(eq=False)
class IndoorScene:
    """One indoor scan in the depth frame (``x`` right, ``y`` forward, ``z`` up; metres).

    - ``points``: :class:`~xuframe.PointCloud` ``(N, 3)`` xyz with ``(N, 3)`` features r, g, b
      in ``[0, 1]`` (ScanNet's ``0..255`` colours are divided by 255);
    - ``boxes``: :class:`~xuframe.Boxes3D` ``(K, 7)``; ScanNet's are axis-aligned (``yaw = 0``,
      ``l`` along ``x``), SUN RGB-D's carry a yaw;
    - ``labels``: ``(K,)`` int64 indices into ``classes``;
    - ``classes``: the class names (:data:`SCANNET_CLASSES`, :data:`SUNRGBD_CLASSES` or the
      synthetic rooms' ``INDOOR_CLASSES``);
    - ``instances``, ``semantic``: ``(N,)`` int64 per-point instance ids (0: none) and NYU40
      semantic ids (ScanNet's masks), or ``None`` where the layout has none;
    - ``axis_align_matrix``: the ``(4, 4)`` float64 matrix already applied to ScanNet's points
      (``None`` for SUN RGB-D);
    - ``name``: the scene's id.

    Raises :class:`~xuframe.errors.InputError` when the parts disagree (a label per box, each in
    ``range(len(classes))``, a mask value per point).
    """

    points: PointCloud
    boxes: Boxes3D
    labels: torch.Tensor
    classes: tuple[str, ...]
    instances: torch.Tensor | None = attrs.field(default=None, converter=_optional_mask)
    semantic: torch.Tensor | None = attrs.field(default=None, converter=_optional_mask)
    axis_align_matrix: np.ndarray[Any, Any] | None = None
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.points, PointCloud):
            raise InputError(
                f"IndoorScene: points: expected PointCloud, got {type(self.points).__name__}"
            )
        if not isinstance(self.boxes, Boxes3D):
            raise InputError(
                f"IndoorScene: boxes: expected Boxes3D, got {type(self.boxes).__name__}"
            )
        labels = check_labels(
            self.labels, "IndoorScene: labels", n=len(self.boxes), n_classes=len(self.classes)
        )
        object.__setattr__(self, "labels", labels)
        for key in ("instances", "semantic"):
            mask = getattr(self, key)
            if mask is not None and len(mask) != len(self.points):
                raise InputError(
                    f"IndoorScene: {key}: expected {len(self.points)} values (one per point), "
                    f"got {len(mask)}"
                )

    @property
    def names(self) -> list[str]:
        """The class name of each box."""
        return [self.classes[int(k)] for k in self.labels]


# --- reading --------------------------------------------------------------------------------


def _read_points(path: Path, where: str) -> np.ndarray[Any, Any]:
    raw = read_bytes(path, f"{where}: a points file (float32 x y z r g b)")
    if len(raw) % 24:
        raise InputError(
            f"{where}: {path} has {len(raw)} bytes, not a multiple of 24 (6 float32 per point: "
            "x y z r g b): truncated or not a points file?"
        )
    points = np.frombuffer(raw, dtype=np.float32).reshape(-1, 6)
    if not np.isfinite(points).all():
        raise InputError(f"{where}: {path} holds NaN or inf values")
    return points


def _read_mask(path: Path, n: int, where: str) -> torch.Tensor:
    raw = read_bytes(path, f"{where}: a per-point mask (int64)")
    if len(raw) != 8 * n:
        raise InputError(
            f"{where}: {path} has {len(raw)} bytes, expected {8 * n} (one int64 per point of {n})"
        )
    return torch.from_numpy(np.frombuffer(raw, dtype=np.int64).copy())


def _read_npy(path: Path, where: str, what: str) -> np.ndarray[Any, Any]:
    raw = read_bytes(path, f"{where}: {what} (.npy)")
    try:
        return np.asarray(np.load(io.BytesIO(raw), allow_pickle=False))
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{where}: {path} is not a readable .npy file ({exc})") from exc


def _read_json(path: Path, where: str) -> dict[str, Any]:
    text = read_text(path, f"{where}: an annotations.json file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _key(data: dict[str, Any], key: str, path: Path, where: str) -> Any:
    if key not in data:
        raise InputError(f"{where}: {path} has no {key!r} (keys: {', '.join(sorted(data))})")
    return data[key]


def _boxes_array(value: Any, columns: int, what: str) -> np.ndarray[Any, Any]:
    if isinstance(value, list) and not value:
        return np.zeros((0, columns))
    boxes = check_array(value, what, shape=(None, columns))
    sizes = boxes[:, 3:6]
    if (sizes < 0).any():
        i = int(np.nonzero((sizes < 0).any(1))[0][0])
        raise InputError(f"{what}: expected sizes >= 0, box {i} is {boxes[i].tolist()}")
    return boxes


def _names(value: Any, n: int, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{what}: expected a list of class names (str)")
    if len(value) != n:
        raise InputError(f"{what}: expected {n} names (one per box), got {len(value)}")
    return value


def _align_matrix(value: Any, what: str) -> np.ndarray[Any, Any]:
    matrix = check_array(value, what, shape=(4, 4))
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise InputError(
            f"{what}: expected a homogeneous matrix (last row 0 0 0 1), got {matrix[3]}"
        )
    return matrix


def _cloud(points: np.ndarray[Any, Any], rgb_scale: float) -> PointCloud:
    xyz = torch.from_numpy(np.ascontiguousarray(points[:, :3], dtype=np.float32))
    rgb = torch.from_numpy(np.ascontiguousarray(points[:, 3:6] / rgb_scale, dtype=np.float32))
    return PointCloud(xyz, rgb)


def _select(
    boxes: np.ndarray[Any, Any], names: list[str], classes: tuple[str, ...]
) -> tuple[Boxes3D, torch.Tensor]:
    """The boxes whose name is a benchmark class (others are dropped, as mmdetection3d's
    converters do), with their labels."""
    keep = [i for i, n in enumerate(names) if n in classes]
    labels = torch.tensor([classes.index(names[i]) for i in keep], dtype=torch.int64)
    return Boxes3D(torch.tensor(boxes[keep], dtype=torch.float32).reshape(-1, 7)), labels


def read_scannet(path: str | os.PathLike[str], scene: str | None = None) -> IndoorScene:
    """One ScanNet scene, axis-aligned, as an :class:`IndoorScene` with
    :data:`SCANNET_CLASSES` labels.

    With ``scene=None``, ``path`` is a scene folder in the plain layout: ``points.bin``
    (float32 ``(N, 6)`` x y z r g b, rgb in ``0..255``, in the scan's own frame),
    ``annotations.json`` (``axis_align_matrix`` 4 x 4; ``boxes`` ``(K, 6)`` x y z x_size y_size
    z_size, axis-aligned in the aligned frame, centre = box centre; ``names``) and, when present,
    ``instance_mask.bin`` / ``semantic_mask.bin``. With ``scene`` (e.g. ``"scene0000_00"``),
    ``path`` is mmdetection3d's prepared ScanNet root: ``points/<scene>.bin``,
    ``scannet_instance_data/<scene>_aligned_bbox.npy`` (``(K, 7)``: the 6 box values and the
    NYU40 class id) and ``<scene>_axis_align_matrix.npy``, and, when present,
    ``instance_mask/<scene>.bin`` and ``semantic_mask/<scene>.bin``.

    The points are moved by the axis-alignment matrix (``p' = A [p; 1]``, computed in float64)
    into the frame of the boxes. Boxes of other classes than the 18 are dropped.

    Raises :class:`~xuframe.errors.InputError` naming the file for a missing file, a points
    file whose size is not a multiple of 24 bytes, NaN or inf values, a mask without one int64
    per point, boxes of the wrong shape or with negative sizes, names not one per box, a
    matrix that is not 4 x 4 homogeneous, or JSON that does not parse.
    """
    where = "read_scannet"
    root = as_path(path, "a ScanNet scene folder or mmdetection3d ScanNet root")
    if scene is None:
        points = _read_points(root / "points.bin", where)
        ann_path = root / "annotations.json"
        ann = _read_json(ann_path, where)
        matrix = _align_matrix(
            _key(ann, "axis_align_matrix", ann_path, where),
            f"{where}: {ann_path}: axis_align_matrix",
        )
        boxes6 = _boxes_array(_key(ann, "boxes", ann_path, where), 6, f"{where}: {ann_path}: boxes")
        names = _names(
            _key(ann, "names", ann_path, where), len(boxes6), f"{where}: {ann_path}: names"
        )
        masks = {k: root / f"{k}_mask.bin" for k in ("instance", "semantic")}
        name = root.name
    else:
        if not isinstance(scene, str) or not scene or "/" in scene:
            raise InputError(
                f"{where}: scene: expected a scene id such as 'scene0000_00', got {scene!r}"
            )
        points = _read_points(root / "points" / f"{scene}.bin", where)
        info = root / "scannet_instance_data"
        matrix = _align_matrix(
            _read_npy(info / f"{scene}_axis_align_matrix.npy", where, "an axis-alignment matrix"),
            f"{where}: {scene}_axis_align_matrix.npy",
        )
        labelled = _read_npy(info / f"{scene}_aligned_bbox.npy", where, "aligned boxes")
        labelled = check_array(
            labelled.reshape(-1, 7) if labelled.size == 0 else labelled,
            f"{where}: {scene}_aligned_bbox.npy",
            shape=(None, 7),
        )
        boxes6 = _boxes_array(labelled[:, :6], 6, f"{where}: {scene}_aligned_bbox.npy")
        by_id = dict(zip(SCANNET_NYU40_IDS, SCANNET_CLASSES, strict=True))
        names = [by_id.get(round(float(c)), f"nyu40:{round(float(c))}") for c in labelled[:, 6]]
        masks = {k: root / f"{k}_mask" / f"{scene}.bin" for k in ("instance", "semantic")}
        name = scene
    n = len(points)
    read = {k: _read_mask(p, n, where) if p.exists() else None for k, p in masks.items()}
    xyz = points[:, :3].astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    aligned = np.concatenate([xyz, points[:, 3:6]], axis=1)
    boxes7 = np.concatenate([boxes6, np.zeros((len(boxes6), 1))], axis=1)
    boxes, labels = _select(boxes7, names, SCANNET_CLASSES)
    return IndoorScene(
        _cloud(aligned, 255.0),
        boxes,
        labels,
        SCANNET_CLASSES,
        read["instance"],
        read["semantic"],
        matrix,
        name,
    )


def _sunrgbd_label_line(line: str, path: Path, n: int, where: str) -> tuple[str, list[float]]:
    fields = line.split()
    if len(fields) != 13:
        raise InputError(
            f"{where}: {path}:{n}: expected 13 fields (name xmin ymin w h cx cy cz width length "
            f"height ox oy), got {len(fields)}"
        )
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError as exc:
        raise InputError(f"{where}: {path}:{n}: expected numbers after the name ({exc})") from exc
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{where}: {path}:{n}: expected finite numbers, got NaN or inf")
    cx, cy, cz, width, length, height, ox, oy = values[4:]
    if min(width, length, height) < 0:
        raise InputError(f"{where}: {path}:{n}: expected half sizes >= 0, got {values[7:10]}")
    if ox == 0.0 and oy == 0.0:
        raise InputError(f"{where}: {path}:{n}: expected a heading vector, got (0, 0)")
    yaw = math.atan2(oy, ox)
    return fields[0], [cx, cy, cz, 2 * length, 2 * width, 2 * height, yaw]


def read_sunrgbd(path: str | os.PathLike[str], index: int | str | None = None) -> IndoorScene:
    """One SUN RGB-D frame as an :class:`IndoorScene` with :data:`SUNRGBD_CLASSES` labels.

    With ``index=None``, ``path`` is a frame folder in the plain layout: ``points.bin``
    (float32 ``(N, 6)`` x y z r g b, rgb in ``[0, 1]``, upright depth frame) and
    ``annotations.json`` with ``boxes`` ``(K, 7)`` x y z x_size y_size z_size yaw and ``names``.
    That file's yaw is measured **clockwise** seen from above (from ``+x`` towards ``-y``,
    VoteNet's convention, kept by the real frame of ``../shared/data/real/sunrgbd``), so it is
    negated here: projected with the frame's camera, the boxes then match their 2-D boxes.
    With ``index`` (an int, or an id such as ``"000017"``), ``path`` is mmdetection3d's
    prepared SUN RGB-D root: ``points/<id>.bin`` and ``sunrgbd_trainval/label/<id>.txt``, whose
    lines are ``name xmin ymin w h cx cy cz width length height ox oy`` (half sizes;
    ``x_size = 2 length``, ``y_size = 2 width``, ``yaw = atan2(oy, ox)``).

    Boxes of other classes than the 10 are dropped, as mmdetection3d's converter does.

    Raises :class:`~xuframe.errors.InputError` naming the file for a missing file, a points
    file whose size is not a multiple of 24 bytes, NaN or inf values, boxes of the wrong shape
    or with negative sizes, names not one per box, a label line without 13 fields, or JSON that
    does not parse.
    """
    where = "read_sunrgbd"
    root = as_path(path, "a SUN RGB-D frame folder or mmdetection3d SUN RGB-D root")
    if index is None:
        points = _read_points(root / "points.bin", where)
        ann_path = root / "annotations.json"
        ann = _read_json(ann_path, where)
        boxes = _boxes_array(_key(ann, "boxes", ann_path, where), 7, f"{where}: {ann_path}: boxes")
        boxes[:, 6] = -boxes[:, 6]
        names = _names(
            _key(ann, "names", ann_path, where), len(boxes), f"{where}: {ann_path}: names"
        )
        name = root.name
    else:
        if isinstance(index, str):
            if not index.isdigit():
                raise InputError(f"{where}: index: expected digits such as '000017', got {index!r}")
            name = index
        else:
            name = f"{check_int(index, f'{where}: index', min=0):06d}"
        points = _read_points(root / "points" / f"{name}.bin", where)
        label_path = root / "sunrgbd_trainval" / "label" / f"{name}.txt"
        lines = read_text(label_path, f"{where}: a SUN RGB-D label file").splitlines()
        parsed = [
            _sunrgbd_label_line(line, label_path, n, where)
            for n, line in enumerate(lines, 1)
            if line.strip()
        ]
        names = [p[0] for p in parsed]
        boxes = np.array([p[1] for p in parsed], dtype=np.float64).reshape(-1, 7)
    selected, labels = _select(boxes, names, SUNRGBD_CLASSES)
    return IndoorScene(_cloud(points, 1.0), selected, labels, SUNRGBD_CLASSES, name=name)


# --- writing (used by the synthetic rooms) -------------------------------------------------


def _aabb(boxes: Boxes3D) -> np.ndarray[Any, Any]:
    """``(K, 6)`` axis-aligned bounds ``x y z x_size y_size z_size`` of yawed boxes."""
    corners = boxes.corners().double().numpy()
    if len(corners) == 0:
        return np.zeros((0, 6))
    low, high = corners.min(1), corners.max(1)
    return np.concatenate([(low + high) / 2, high - low], 1)


def write_scannet_scene(
    scene: IndoorScene,
    directory: Path,
    name: str,
    style: str,
    scan_from_aligned: np.ndarray[Any, Any],
    nyu40: dict[str, int],
) -> Path:
    """Write ``scene`` (its points and boxes in the aligned frame) as ScanNet: points moved into
    a scan frame by ``scan_from_aligned`` (4 x 4) with its inverse as the axis-alignment
    matrix, colours ``round(255 rgb)``, boxes as axis-aligned bounds of their benchmark-class
    boxes (``nyu40``: class name to NYU40 id). Returns the scene folder (plain) or root."""
    align = np.linalg.inv(scan_from_aligned)
    xyz = scene.points.xyz.double().numpy()
    scan_xyz = xyz @ scan_from_aligned[:3, :3].T + scan_from_aligned[:3, 3]
    rgb = np.round(scene.points.features.double().numpy()[:, :3] * 255.0)
    data = np.concatenate([scan_xyz, rgb], 1).astype(np.float32).tobytes()
    keep = [i for i, n in enumerate(scene.names) if n in SCANNET_CLASSES]
    bounds = _aabb(scene.boxes[torch.tensor(keep, dtype=torch.long)]) if keep else np.zeros((0, 6))
    names = [scene.names[i] for i in keep]
    n = len(scene.points)
    instances = scene.instances if scene.instances is not None else torch.zeros(n, dtype=torch.long)
    semantic = scene.semantic if scene.semantic is not None else torch.zeros(n, dtype=torch.long)
    if style == "plain":
        folder = directory / name
        write_atomic(folder / "points.bin", data)
        ann = {
            "frame": "ScanNet scan frame (z up), metres; apply axis_align_matrix to the points",
            "points": "points.bin: float32 (N, 6) x y z r g b, rgb in 0..255, NOT axis-aligned",
            "axis_align_matrix": align.tolist(),
            "boxes_columns": ["x", "y", "z", "x_size", "y_size", "z_size"],
            "boxes_note": "axis-aligned boxes in the aligned frame, centre = box centre",
            "names": names,
            "boxes": bounds.tolist(),
            "class_ids": [SCANNET_CLASSES.index(n) for n in names],
        }
        write_atomic(folder / "annotations.json", json.dumps(ann, indent=1).encode())
        write_atomic(folder / "instance_mask.bin", instances.numpy().astype(np.int64).tobytes())
        write_atomic(folder / "semantic_mask.bin", semantic.numpy().astype(np.int64).tobytes())
        return folder
    write_atomic(directory / "points" / f"{name}.bin", data)
    write_atomic(
        directory / "instance_mask" / f"{name}.bin", instances.numpy().astype(np.int64).tobytes()
    )
    write_atomic(
        directory / "semantic_mask" / f"{name}.bin", semantic.numpy().astype(np.int64).tobytes()
    )
    ids = np.array([[nyu40[n]] for n in names], dtype=np.float64).reshape(-1, 1)
    for suffix, array in (
        ("aligned_bbox", np.concatenate([bounds, ids], 1)),
        ("axis_align_matrix", align),
    ):
        buffer = io.BytesIO()
        np.save(buffer, array)
        write_atomic(
            directory / "scannet_instance_data" / f"{name}_{suffix}.npy", buffer.getvalue()
        )
    return directory


def write_sunrgbd_scene(scene: IndoorScene, directory: Path, name: str, style: str) -> Path:
    """Write ``scene`` as SUN RGB-D (its benchmark-class boxes with their yaw; colours in
    ``[0, 1]``). The label files' 2-D box fields are written as ``0 0 0 0``: the synthetic
    rooms have no image. Returns the frame folder (plain) or root."""
    data = scene.points.numpy()[:, :6].astype(np.float32).tobytes()
    keep = [i for i, n in enumerate(scene.names) if n in SUNRGBD_CLASSES]
    boxes = scene.boxes.tensor.double().numpy()[keep].reshape(-1, 7)
    names = [scene.names[i] for i in keep]
    if style == "plain":
        folder = directory / name
        write_atomic(folder / "points.bin", data)
        clockwise = boxes.copy()
        clockwise[:, 6] = -clockwise[:, 6]
        ann = {
            "frame": "depth (x right, y forward, z up), metres",
            "points": "points.bin: float32 (N, 6) x y z r g b, rgb in [0, 1]",
            "boxes_columns": ["x", "y", "z", "x_size", "y_size", "z_size", "yaw"],
            "boxes_note": "centre is the box centre; yaw about z, clockwise seen from above",
            "names": names,
            "boxes": clockwise.tolist(),
        }
        write_atomic(folder / "annotations.json", json.dumps(ann, indent=1).encode())
        return folder
    write_atomic(directory / "points" / f"{name}.bin", data)
    lines = []
    for n, row in zip(names, boxes, strict=True):
        x, y, z, length, w, h, yaw = (float(v) for v in row)
        values = (x, y, z, w / 2, length / 2, h / 2, math.cos(yaw), math.sin(yaw))
        lines.append(f"{n} 0 0 0 0 " + " ".join(repr(v) for v in values) + "\n")
    write_atomic(directory / "sunrgbd_trainval" / "label" / f"{name}.txt", "".join(lines).encode())
    return directory


def check_layout(layout: Any, style: Any, where: str) -> tuple[str, str]:
    """``layout`` in ``("scannet", "sunrgbd")`` and ``style`` in ``("plain", "mmdet3d")``."""
    return (
        check_choice(layout, f"{where}: layout", ("scannet", "sunrgbd")),
        check_choice(style, f"{where}: style", ("plain", "mmdet3d")),
    )
