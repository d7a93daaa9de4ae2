"""A camera for the synthetic LiDAR scenes, and LiDAR points projected into images.

:func:`render_camera` draws what camera 2 of a :class:`~xuframe.data.Calibration` sees of a
scene made of boxes on a flat ground: every pixel casts the ray through its centre and takes
the nearest surface (a z-buffer over the boxes' screen rectangles, the slab test the LiDAR's
ray caster uses), then shades it: a colour per object, procedural noise, Lambertian light from
a sun direction, haze with distance, a sky gradient. It also returns the per-pixel semantic
class (:data:`SEMANTIC_CLASSES`), the depth and which surface each pixel shows.

:func:`project_points` maps LiDAR points to pixels through a calibration, undoing the global
augmentations recorded on a sample (``sample["augmentation"]``, a ``(4, 4)`` matrix: points
now = matrix @ points as loaded), as PI-RCNN's released code does with its ``lidar_to_rect``.

Pixel convention: pixel ``(row r, column c)`` is centred on the image coordinates ``(c, r)``
(OpenCV's), so a point projected to ``(u, v)`` falls in pixel ``(round(v), round(u))``.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from xuframe._files import read_bytes, write_atomic
from xuframe.data._kitti import KITTI_IMAGE_SIZE, Calibration
from xuframe.errors import InputError
from xuframe.validation import check_int, check_tensor

__all__ = ["SEMANTIC_CLASSES", "PointProjection", "project_points"]

#: Class ids of the label maps: 0-2 are :data:`~xuframe.data.LIDAR_CLASSES`' indices.
SEMANTIC_CLASSES = (
    "Car",
    "Pedestrian",
    "Cyclist",
    "ground",
    "building",
    "vegetation",
    "sky",
    "other",
)
GROUND, BUILDING, VEGETATION, SKY, OTHER = 3, 4, 5, 6, 7
#: points nearer than this (projective depth, metres) to camera 2's plane get no pixel
NEAR = 0.1
# the largest coordinate a projected point may have (metres): keeps every product finite
_MAX_COORD = 1e12


@attrs.frozen(eq=False)
class PointProjection:
    """Points in an image: ``uv`` ``(N, 2)`` float64 image coordinates ``(u, v)`` (column,
    row; ``-1`` for points not in front of the camera), ``depth`` ``(N,)`` float64 projective
    depth in metres (the camera's ``z`` plus ``P2[2, 3]``), ``pixels`` ``(N, 2)`` int64
    ``(column, row)`` = ``round(uv)`` (``-1`` for points not in front), and ``inside`` ``(N,)``
    bool: in front of the camera (``depth > 0.1``) with its pixel in the image."""

    uv: torch.Tensor
    depth: torch.Tensor
    pixels: torch.Tensor
    inside: torch.Tensor


def check_augmentation(value: Any, where: str) -> torch.Tensor:
    """A recorded augmentation as a ``(4, 4)`` float64 tensor (identity for ``None``): finite,
    last row ``0, 0, 0, 1``, an invertible linear part; :class:`InputError` otherwise."""
    if value is None:
        return torch.eye(4, dtype=torch.float64)
    matrix = check_tensor(value, where, shape=(4, 4), max_abs=1e6).double()
    last = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    if not torch.equal(matrix[3], last):
        raise InputError(f"{where}: expected a last row 0, 0, 0, 1, got {matrix[3].tolist()}")
    if abs(float(torch.linalg.det(matrix[:3, :3]))) < 1e-12:
        raise InputError(f"{where}: expected an invertible matrix, got determinant 0")
    return matrix


def _image_size(image_size: Any, where: str) -> tuple[int, int]:
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise InputError(f"{where}: image_size: expected (width, height), got {image_size!r}")
    return (
        check_int(image_size[0], f"{where}: image_size width", min=1),
        check_int(image_size[1], f"{where}: image_size height", min=1),
    )


def _lidar_to_pixels(calib: Calibration, augmentation: torch.Tensor) -> np.ndarray[Any, Any]:
    """The ``(3, 4)`` matrix from (augmented) LiDAR coordinates to homogeneous pixels."""
    undo = np.linalg.inv(augmentation.numpy())
    return np.asarray(calib.P2 @ calib.velo_to_rect @ undo)


def project_points(
    xyz: torch.Tensor,
    calib: Calibration,
    *,
    augmentation: torch.Tensor | None = None,
    image_size: tuple[int, int] = KITTI_IMAGE_SIZE,
) -> PointProjection:
    """LiDAR points ``xyz`` ``(N, 3)`` (metres, any float dtype) into camera 2's image of
    ``calib``: ``P2 @ R0_rect @ Tr_velo_to_cam @ augmentation^-1``. ``augmentation`` is the
    ``(4, 4)`` matrix the global augmentations recorded (``sample["augmentation"]``; ``None``
    for points as loaded), so augmented points land on the pixels they came from.
    ``image_size`` is ``(width, height)``. Points behind the camera (``depth <= 0.1``) get
    ``uv = pixels = -1`` and ``inside = False``.

    Raises :class:`~xuframe.errors.InputError` for an ``xyz`` that is not a finite float
    ``(N, 3)`` tensor (coordinates within 1e12), a ``calib`` that is not a
    :class:`Calibration`, an ``augmentation`` that is not a finite ``(4, 4)`` tensor with last
    row ``0, 0, 0, 1`` and an invertible linear part, or an ``image_size`` that is not two
    ints >= 1."""
    xyz = check_tensor(xyz, "project_points: xyz", shape=(None, 3), max_abs=_MAX_COORD)
    if not isinstance(calib, Calibration):
        raise InputError(
            f"project_points: calib: expected a Calibration, got {type(calib).__name__}"
        )
    matrix = check_augmentation(augmentation, "project_points: augmentation")
    width, height = _image_size(image_size, "project_points")
    m = torch.from_numpy(_lidar_to_pixels(calib, matrix))
    hom = xyz.detach().cpu().double() @ m[:, :3].T + m[:, 3]
    depth = hom[:, 2]
    front = depth > NEAR
    safe = torch.where(front, depth, torch.ones_like(depth))
    uv = torch.where(front[:, None], hom[:, :2] / safe[:, None], torch.full_like(hom[:, :2], -1))
    # uv of a point in front is bounded by |coordinate| / 0.1 times the matrix: no overflow
    pixels = torch.floor(uv + 0.5).to(torch.int64)
    inside = (
        front
        & (pixels[:, 0] >= 0)
        & (pixels[:, 0] < width)
        & (pixels[:, 1] >= 0)
        & (pixels[:, 1] < height)
    )
    return PointProjection(uv, depth, pixels, inside)


# -- what the camera sees ---------------------------------------------------------------------
@attrs.frozen(eq=False)
class CameraView:
    """A rendered view: ``image`` (3, H, W) float32 in [0, 1], ``semantic`` (H, W) int64 ids
    into SEMANTIC_CLASSES, ``depth`` (H, W) float32 projective depth (inf for sky), and
    ``surface`` (H, W) int64: the index of the box each pixel shows, -1 ground, -2 sky."""

    image: torch.Tensor
    semantic: torch.Tensor
    depth: torch.Tensor
    surface: torch.Tensor


# materials: how a box is painted
CAR, PEDESTRIAN, CYCLIST, WALL, BUSH, POLE = range(6)
_MATERIAL_CLASS = {
    CAR: 0,
    PEDESTRIAN: 1,
    CYCLIST: 2,
    WALL: BUILDING,
    BUSH: VEGETATION,
    POLE: OTHER,
}
_CAR_PAINT = np.array(
    [
        [0.85, 0.86, 0.88],  # white
        [0.08, 0.08, 0.09],  # black
        [0.55, 0.57, 0.60],  # silver
        [0.30, 0.31, 0.33],  # grey
        [0.62, 0.07, 0.06],  # red
        [0.10, 0.20, 0.50],  # blue
        [0.10, 0.28, 0.16],  # green
        [0.80, 0.62, 0.12],  # yellow
    ]
)
_GLASS = np.array([0.10, 0.12, 0.16])
_TYRE = np.array([0.04, 0.04, 0.045])


def _noise(p: np.ndarray[Any, Any], seed: int, period: int) -> np.ndarray[Any, Any]:
    """Value noise in ``[0, 1]`` at ``(N, D)`` points (lattice spacing 1, repeating every
    ``period``): a hash per lattice corner, smooth multilinear interpolation."""
    dims = p.shape[1]
    cell = np.floor(p)
    f = (p - cell).astype(np.float32)
    f = f * f * (3.0 - 2.0 * f)
    c = cell.astype(np.int64) % period
    cn = ((c + 1) % period).astype(np.uint32)
    c = c.astype(np.uint32)
    primes = (np.uint32(73856093), np.uint32(19349663), np.uint32(83492791))
    base = np.full(len(p), np.uint32(seed * 2654435761 % 2**32), dtype=np.uint32)
    delta = []  # what turns a cell's hash into its +1 neighbour's along each axis
    for k in range(dims):
        base ^= c[:, k] * primes[k]
        delta.append(c[:, k] * primes[k] ^ cn[:, k] * primes[k])
    out = np.zeros(len(p), dtype=np.float32)
    for corner in range(2**dims):
        h = base.copy()
        weight = np.ones(len(p), dtype=np.float32)
        for k in range(dims):
            if (corner >> k) & 1:
                h ^= delta[k]
                weight *= f[:, k]
            else:
                weight *= 1.0 - f[:, k]
        h ^= h >> np.uint32(13)
        h *= np.uint32(0x5BD1E995)
        h ^= h >> np.uint32(15)
        out += weight * (h.astype(np.float32) * np.float32(2.0**-32))
    return out


_TEXTURE_SIZE = 512


@functools.cache
def _texture() -> np.ndarray[Any, Any]:
    """A ``512 x 512`` tileable float32 noise texture in ``[0, 1]``: value noise of lattice
    spacing 16 and 4 texels (periodic in 512), mixed 2 : 1."""
    ij = np.stack(
        np.meshgrid(np.arange(_TEXTURE_SIZE), np.arange(_TEXTURE_SIZE), indexing="ij"), -1
    ).reshape(-1, 2)
    coarse = _noise(ij / 16.0, 1, period=_TEXTURE_SIZE // 16)
    fine = _noise(ij / 4.0, 2, period=_TEXTURE_SIZE // 4)
    return np.asarray((2 * coarse + fine) / 3).reshape(_TEXTURE_SIZE, _TEXTURE_SIZE)


def _grain(uv: np.ndarray[Any, Any], texel: Any, seed: Any) -> Any:
    """The noise texture at ``(N, 2)`` surface coordinates (metres), ``texel`` metres a texel,
    shifted by ``seed`` (each one number, or one per row): nearest texel, repeating every 512
    texels."""
    seed = np.asarray(seed, dtype=np.int64)
    shift = np.stack([seed % _TEXTURE_SIZE, (seed // _TEXTURE_SIZE) % _TEXTURE_SIZE], -1)
    scale = 1.0 / np.asarray(texel, dtype=np.float64)
    ij = np.floor(uv * (scale[:, None] if np.ndim(scale) else scale)).astype(np.int64) + shift
    ij &= _TEXTURE_SIZE - 1
    return _texture()[ij[:, 0], ij[:, 1]]


def _box_corners(boxes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    local = signs[None] * boxes[:, None, 3:6] / 2  # (B, 8, 3)
    c, s = np.cos(boxes[:, 6])[:, None], np.sin(boxes[:, 6])[:, None]
    x = c * local[..., 0] - s * local[..., 1]
    y = s * local[..., 0] + c * local[..., 1]
    return np.asarray(np.stack([x, y, local[..., 2]], -1) + boxes[:, None, :3])


@attrs.frozen
class Look:
    """A scene's appearance, drawn from its own generator: the sun, light levels, colours."""

    sun: np.ndarray[Any, Any]  # unit vector towards the sun (LiDAR frame)
    ambient: float
    tint: np.ndarray[Any, Any]  # white balance per channel
    horizon: np.ndarray[Any, Any]
    zenith: np.ndarray[Any, Any]
    asphalt: np.ndarray[Any, Any]
    colours: np.ndarray[Any, Any]  # (B, 3, 3): per box up to three colours (body, top, bottom)
    seed: int


def draw_look(rng: np.random.Generator, materials: np.ndarray[Any, Any]) -> Look:
    """Random lighting and a colour scheme per box for ``materials`` (one per box)."""
    azimuth, elevation = rng.uniform(-np.pi, np.pi), rng.uniform(np.radians(25), np.radians(65))
    sun = np.array(
        [
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
        ]
    )
    colours = np.zeros((len(materials), 3, 3))
    for k, material in enumerate(materials):
        if material == CAR:
            paint = _CAR_PAINT[rng.integers(len(_CAR_PAINT))] * rng.uniform(0.85, 1.1)
            colours[k] = [paint, paint, _TYRE]
        elif material in (PEDESTRIAN, CYCLIST):
            shirt = rng.uniform(0.05, 0.9, 3)
            legs = rng.uniform(0.05, 0.35) * rng.uniform(0.7, 1.3, 3)
            skin = np.array([0.85, 0.64, 0.5]) * rng.uniform(0.45, 1.05)
            colours[k] = [shirt, skin, legs if material == PEDESTRIAN else _TYRE * 2]
        elif material == WALL:
            base = [
                np.array([0.62, 0.30, 0.22]),  # brick
                np.array([0.75, 0.72, 0.65]),  # concrete
                np.array([0.82, 0.78, 0.62]),  # plaster
            ][rng.integers(3)] * rng.uniform(0.8, 1.1)
            colours[k] = [base, base * 1.25, base * 0.7]
        elif material == BUSH:
            green = np.array(
                [rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.5), rng.uniform(0.05, 0.15)]
            )
            colours[k] = [green, green * 1.2, green * 0.6]
        else:
            grey = np.full(3, rng.uniform(0.35, 0.6))
            colours[k] = [grey, grey, grey]
    return Look(
        sun=sun,
        ambient=float(rng.uniform(0.3, 0.45)),
        tint=rng.uniform(0.92, 1.08, 3),
        horizon=np.array([0.80, 0.85, 0.90]) * rng.uniform(0.9, 1.05),
        zenith=np.array([0.30, 0.50, 0.85]) * rng.uniform(0.85, 1.1),
        asphalt=np.full(3, rng.uniform(0.25, 0.4)) * rng.uniform(0.95, 1.05, 3),
        colours=np.clip(colours, 0.0, 1.0),
        seed=int(rng.integers(2**31)),
    )


def _screen_rows(
    corners: np.ndarray[Any, Any], m: np.ndarray[Any, Any], width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The pixel rectangle ``(c0, c1, r0, r1)`` (inclusive) that holds a box's image; the whole
    image when the box crosses the camera's near plane; ``None`` when it is behind it."""
    hom = corners @ m[:, :3].T + m[:, 3]
    w = hom[:, 2]
    if (w <= 0).all():
        return None
    if (w <= NEAR).any():
        return 0, width - 1, 0, height - 1
    uv = hom[:, :2] / w[:, None]
    c0, r0 = np.floor(uv.min(0)) - 1
    c1, r1 = np.ceil(uv.max(0)) + 1
    if c1 < 0 or r1 < 0 or c0 > width - 1 or r0 > height - 1:
        return None
    return (
        int(max(c0, 0)),
        int(min(c1, width - 1)),
        int(max(r0, 0)),
        int(min(r1, height - 1)),
    )


@functools.lru_cache(maxsize=2)
def _pixel_rays(
    matrix: bytes, width: int, height: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Camera 2's centre (LiDAR frame), a ray per pixel centre, ``(H * W, 3)`` row by row,
    scaled so that ``centre + s * ray`` has projective depth ``s``, and each ray's length
    (float32); ``matrix`` holds the bytes of the ``(3, 4)`` LiDAR-to-pixel matrix. Read-only
    arrays (cached)."""
    m = np.frombuffer(matrix, dtype=np.float64).reshape(3, 4)
    a_inv = np.linalg.inv(m[:, :3])
    centre = -a_inv @ m[:, 3]
    cols, rows = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(width * height)], 1)
    dirs = pix @ a_inv.T
    length = np.sqrt((dirs * dirs).sum(1)).astype(np.float32)
    for array in (centre, dirs, length):
        array.flags.writeable = False
    return centre, dirs, length


def render_camera(
    calib: Calibration,
    boxes: np.ndarray[Any, Any],
    materials: np.ndarray[Any, Any],
    ground_z: float,
    look: Look,
    image_size: tuple[int, int] = KITTI_IMAGE_SIZE,
    noise_rng: np.random.Generator | None = None,
) -> CameraView:
    """Camera 2's view of ``boxes`` ``(B, 7)`` (LiDAR frame, painted as ``materials``) on the
    ground plane ``z = ground_z``. Each pixel's centre ray takes the nearest surface: the
    boxes' slab test (:func:`~xuframe.data._lidar._ray_box`, the LiDAR's) run on the pixels of
    each box's screen rectangle, against a z-buffer started from the ground."""
    from xuframe.data._lidar import _ray_box

    width, height = image_size
    m = calib.P2 @ calib.velo_to_rect  # (3, 4) LiDAR -> homogeneous pixels
    centre, dirs, length = _pixel_rays(m.tobytes(), width, height)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_ground = (ground_z - centre[2]) / dirs[:, 2]
    depth = np.where((dirs[:, 2] < 0) & (s_ground > 0), s_ground, np.inf)
    surface = np.where(np.isfinite(depth), -1, -2)
    corners = _box_corners(boxes) if len(boxes) else np.zeros((0, 8, 3))
    for k in range(len(boxes)):
        rect = _screen_rows(corners[k], m, width, height)
        if rect is None:
            continue
        c0, c1, r0, r1 = rect
        idx = (np.arange(r0, r1 + 1)[:, None] * width + np.arange(c0, c1 + 1)[None]).ravel()
        s = _ray_box(centre, dirs[idx], boxes[k : k + 1])[:, 0]
        nearer = s < depth[idx]
        depth[idx[nearer]] = s[nearer]
        surface[idx[nearer]] = k
    semantic = np.full(width * height, SKY, dtype=np.int64)
    semantic[surface == -1] = GROUND
    on_box = surface >= 0
    if len(boxes):
        classes = np.array([_MATERIAL_CLASS[int(x)] for x in materials], dtype=np.int64)
        semantic[on_box] = classes[surface[on_box]]
    rgb = _shade(centre, dirs, length, depth, surface, boxes, materials, look)
    if noise_rng is not None:
        rgb = rgb + noise_rng.normal(0.0, 0.012, rgb.shape).astype(np.float32)
    image = torch.from_numpy(np.clip(rgb, 0.0, 1.0).T.reshape(3, height, width).copy())
    return CameraView(
        image,
        torch.from_numpy(semantic.reshape(height, width)),
        torch.from_numpy(depth.reshape(height, width).astype(np.float32)),
        torch.from_numpy(surface.reshape(height, width)),
    )


def _shade(
    centre: np.ndarray[Any, Any],
    dirs: np.ndarray[Any, Any],
    length: np.ndarray[Any, Any],
    depth: np.ndarray[Any, Any],
    surface: np.ndarray[Any, Any],
    boxes: np.ndarray[Any, Any],
    materials: np.ndarray[Any, Any],
    look: Look,
) -> np.ndarray[Any, Any]:
    """``(P, 3)`` float32 colours of every pixel."""
    out = np.empty((len(dirs), 3), dtype=np.float32)
    # sky: a gradient with the ray's elevation
    sky = surface == -2
    t = np.clip(dirs[sky, 2].astype(np.float32) / length[sky] * 4.0, 0.0, 1.0)[:, None]
    out[sky] = (1 - t) * look.horizon.astype(np.float32) + t * look.zenith.astype(np.float32)
    ground = surface == -1
    pg = centre[:2] + depth[ground, None] * dirs[ground, :2]  # (x, y) on the plane
    grain = 0.72 + 0.45 * _grain(pg, 0.06, look.seed)
    light = look.ambient + (1 - look.ambient) * max(float(look.sun[2]), 0.0)
    albedo = look.asphalt.astype(np.float32) * (grain * np.float32(light))[:, None]
    out[ground] = _haze(albedo, depth[ground] * length[ground], look)
    on_box = surface >= 0
    if on_box.any():
        k = surface[on_box]
        b = boxes[k]
        p = centre + depth[on_box, None] * dirs[on_box]
        rel = p - b[:, :3]
        c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
        local = np.stack(
            [c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], 1
        )
        unit = local / (b[:, 3:6] / 2)  # in [-1, 1] on the box
        axis = np.abs(unit).argmax(1)
        rows = np.arange(len(unit))
        sign = np.sign(unit[rows, axis])
        # the face's normal, turned by the box's yaw: its light is that of the sun on it
        nx = np.where(axis == 0, sign * c, np.where(axis == 1, -sign * s, 0.0))
        ny = np.where(axis == 0, sign * s, np.where(axis == 1, sign * c, 0.0))
        nz = np.where(axis == 2, sign, 0.0)
        lambert = np.clip(nx * look.sun[0] + ny * look.sun[1] + nz * look.sun[2], 0.0, None)
        light_box = (look.ambient + (1 - look.ambient) * lambert).astype(np.float32)
        albedo = _paint(materials[k], look.colours[k], local, unit, axis, look.seed + 7919 * k)
        out[on_box] = _haze(albedo * light_box[:, None], depth[on_box] * length[on_box], look)
    return np.asarray(out * look.tint.astype(np.float32))


def _haze(
    colour: np.ndarray[Any, Any], distance: np.ndarray[Any, Any], look: Look
) -> np.ndarray[Any, Any]:
    """Far surfaces fade to the horizon's colour."""
    fog = (1 - np.exp(-distance.astype(np.float32) / np.float32(220.0)))[:, None]
    return np.asarray((1 - fog) * colour + fog * look.horizon.astype(np.float32))


def _paint(
    materials: np.ndarray[Any, Any],
    colours: np.ndarray[Any, Any],
    local: np.ndarray[Any, Any],
    unit: np.ndarray[Any, Any],
    axis: np.ndarray[Any, Any],
    seed: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Albedo of box pixels: a material's pattern in the box's own coordinates (``local``
    metres, ``unit`` in ``[-1, 1]``, ``axis`` the face's), with its noise texture."""
    height = (unit[:, 2] + 1) / 2  # 0 at the bottom, 1 at the top
    side = axis != 2
    part = np.zeros(len(unit), dtype=np.int64)  # which of the box's three colours
    car = materials == CAR
    part[car & (height < 0.2) & side] = 2
    person = (materials == PEDESTRIAN) | (materials == CYCLIST)
    part[person & (height > 0.86)] = 1
    part[person & (height < 0.48)] = 2
    wall = materials == WALL
    part[wall & (np.mod(local[:, 2] * 4.0, 1.0) < 0.08)] = 1  # mortar lines
    bush = materials == BUSH
    colour = colours[np.arange(len(unit)), part]
    window = car & side & (height > 0.55) & (height < 0.92)
    colour[window] = _GLASS
    # the face's own two coordinates: (y, z) on the ends, (x, z) on the sides, (x, y) on top
    first = np.where(axis == 0, local[:, 1], local[:, 0])
    second = np.where(axis == 2, local[:, 1], local[:, 2])
    texel = np.where(bush, 0.015, np.where(wall, 0.03, 0.04))
    grain = _grain(np.stack([first, second], 1), texel, seed)
    amplitude = np.where(bush, 1.0, np.where(wall, 0.4, 0.2))
    return np.asarray(colour * (1 + amplitude * (grain - 0.5))[:, None], dtype=np.float32)


# -- label maps on disk ----------------------------------------------------------------------
def write_label_map(path: str | os.PathLike[str], labels: torch.Tensor) -> None:
    """An ``(H, W)`` integer map of ids 0..255 as an 8-bit single-channel PNG (atomically)."""
    from PIL import Image

    array = labels.to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array, mode="L").save(buffer, format="PNG")
    write_atomic(Path(path), buffer.getvalue())


def read_label_map(path: str | os.PathLike[str]) -> torch.Tensor:
    """An 8-bit single-channel PNG as an ``(H, W)`` int64 tensor; :class:`InputError` naming the
    file when it is missing or not a single-channel 8-bit image."""
    from PIL import Image, UnidentifiedImageError

    raw = read_bytes(path, "a label map")
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.mode not in ("L", "P"):
                raise InputError(
                    f"read_label_map: {path}: expected a single-channel 8-bit image, got mode {im.mode}"
                )
            array = np.asarray(im, dtype=np.int64)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise InputError(f"read_label_map: cannot read {path} as an image: {err}") from err
    return torch.from_numpy(array.copy())


# -- samples with images ----------------------------------------------------------------------
def camera_of(sample: Mapping[str, Any], where: str) -> tuple[Any, Any, Any, torch.Tensor] | None:
    """A sample's ``(image, semantic or None, calib, augmentation)`` when it has an ``image``
    and a ``calib``; ``None`` otherwise. Each present key is checked (``image`` a finite
    ``(3, H, W)`` float tensor, ``semantic`` an ``(H, W)`` integer tensor, ``calib`` a
    :class:`Calibration`, ``augmentation`` as :func:`project_points` takes it)."""
    matrix = check_augmentation(sample.get("augmentation"), f"{where}.augmentation")
    if "image" not in sample or "calib" not in sample:
        return None
    image = check_tensor(sample["image"], f"{where}.image", shape=(3, None, None))
    if not isinstance(sample["calib"], Calibration):
        raise InputError(
            f"{where}.calib: expected a Calibration, got {type(sample['calib']).__name__}"
        )
    semantic = sample.get("semantic")
    if semantic is not None:
        semantic = check_tensor(
            semantic, f"{where}.semantic", shape=tuple(image.shape[1:]), floating=False
        )
    return image, semantic, sample["calib"], matrix


def sample_point_image(
    xyz: torch.Tensor,
    image: torch.Tensor,
    semantic: torch.Tensor | None,
    calib: Calibration,
    augmentation: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per point the ``(N, 3)`` float32 colour and ``(N,)`` int64 class of its pixel (zeros and
    -1 for points outside the image or behind the camera)."""
    height, width = image.shape[1:]
    proj = project_points(xyz, calib, augmentation=augmentation, image_size=(width, height))
    rgb = torch.zeros(len(xyz), 3, dtype=torch.float32)
    cols, rows = proj.pixels[proj.inside, 0], proj.pixels[proj.inside, 1]
    rgb[proj.inside] = image[:, rows, cols].T.float()
    if semantic is None:
        return rgb, None
    cls = torch.full((len(xyz),), -1, dtype=torch.int64)
    cls[proj.inside] = semantic[rows, cols].to(torch.int64)
    return rgb, cls
