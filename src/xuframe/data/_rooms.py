"""Seeded synthetic indoor rooms, seen by a depth camera.

A room is a floor (``z = 0``) and four walls around ``[-W/2, W/2] x [-D/2, D/2]`` (no
ceiling), furnished with objects of :data:`INDOOR_CLASSES` that stand on the floor, each
built from cuboid parts (a chair is a seat, a back and four legs; a table a top and four
legs; a bookshelf two sides, a back and shelves...). No two objects come closer than 0.2 m
and none closer than 0.15 m to a wall. Depth cameras (Kinect-like: 69 x 53 degrees field of
view, 1.2 to 1.7 m up, pitched 10 to 30 degrees down) cast one ray per pixel; each ray keeps
its nearest hit (a z-buffer), so only visible surfaces get points and near furniture hides
what is behind it. Ranges get Gaussian noise proportional to the range (clipped at 2.5
sigma), colours come from each part's material, shaded by the surface's normal, plus noise.

The frame is the depth frame of :mod:`xuframe.data._indoor` (``x``, ``y`` horizontal, ``z``
up; floor at ``z = 0``, the room centred on the origin).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe._files import as_path
from xuframe.data._indoor import (
    SCANNET_CLASSES,
    IndoorScene,
    check_layout,
    write_scannet_scene,
    write_sunrgbd_scene,
)
from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_float, check_int, check_memory

__all__ = ["INDOOR_CLASSES", "IndoorScenes"]

#: The synthetic rooms' furniture classes.
INDOOR_CLASSES = (
    "bed",
    "table",
    "chair",
    "sofa",
    "desk",
    "bookshelf",
    "cabinet",
    "night_stand",
    "toilet",
    "bathtub",
)
#: NYU40 ids (ScanNet's semantic labels) of the classes, the wall and the floor.
_NYU40 = {
    "wall": 1,
    "floor": 2,
    "cabinet": 3,
    "bed": 4,
    "chair": 5,
    "sofa": 6,
    "table": 7,
    "bookshelf": 10,
    "desk": 14,
    "night_stand": 32,
    "toilet": 33,
    "bathtub": 36,
}
_MATERIALS = {  # base colour of each material, rgb in [0, 1]
    "wood": (0.55, 0.38, 0.22),
    "light_wood": (0.78, 0.64, 0.45),
    "fabric": (0.35, 0.42, 0.6),
    "linen": (0.9, 0.88, 0.82),
    "ceramic": (0.94, 0.94, 0.95),
    "metal": (0.6, 0.6, 0.63),
    "paint": (0.86, 0.84, 0.8),
}
_FLOOR_RGB = (0.62, 0.55, 0.46)
_WALL_RGB = (0.9, 0.89, 0.85)
_GAP = 0.1  # metres of free space around each object (0.2 between two)
_WALL_GAP = 0.15
_HFOV, _VFOV = math.radians(69.0), math.radians(53.0)
_MAX_OBJECTS = 40

Part = tuple[float, float, float, float, float, float, str]  # x0 x1 y0 y1 z0 z1, material


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _legs(ln: float, w: float, side: float, z1: float, inset: float, material: str) -> list[Part]:
    xs, ys = ln / 2 - inset, w / 2 - inset
    return [
        (
            sx * xs - side / 2,
            sx * xs + side / 2,
            sy * ys - side / 2,
            sy * ys + side / 2,
            0.0,
            z1,
            material,
        )
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]


def _furniture(cls: str, rng: np.random.Generator) -> list[Part]:
    """The parts of one object in its own frame: front towards ``+x``, centred on the
    ``z`` axis, standing on ``z = 0``."""
    if cls == "bed":
        ln, w, h = (
            _u(rng, 1.9, 2.2),
            float(rng.choice([_u(rng, 0.9, 1.0), _u(rng, 1.4, 1.8)])),
            _u(rng, 0.8, 1.1),
        )
        return [
            *_legs(ln, w, 0.08, 0.12, 0.04, "wood"),
            (-ln / 2, ln / 2, -w / 2, w / 2, 0.12, 0.35, "wood"),  # frame
            (-ln / 2 + 0.08, ln / 2 - 0.02, -w / 2 + 0.02, w / 2 - 0.02, 0.35, 0.57, "linen"),
            (-ln / 2, -ln / 2 + 0.08, -w / 2, w / 2, 0.12, h, "wood"),  # headboard
        ]
    if cls == "table":
        ln, w, h = _u(rng, 0.8, 1.8), _u(rng, 0.6, 1.0), _u(rng, 0.7, 0.78)
        return [
            (-ln / 2, ln / 2, -w / 2, w / 2, h - 0.04, h, "wood"),
            *_legs(ln, w, 0.06, h - 0.04, 0.06, "wood"),
        ]
    if cls == "chair":
        ln, w, h, s = (
            _u(rng, 0.45, 0.55),
            _u(rng, 0.42, 0.5),
            _u(rng, 0.8, 1.0),
            _u(rng, 0.42, 0.47),
        )
        return [
            (-ln / 2, ln / 2, -w / 2, w / 2, s - 0.05, s, "fabric"),  # seat
            *_legs(ln, w, 0.04, s - 0.05, 0.03, "metal"),
            (-ln / 2, -ln / 2 + 0.05, -w / 2, w / 2, s, h, "fabric"),  # back
        ]
    if cls == "sofa":
        ln, w, h = _u(rng, 0.8, 1.0), _u(rng, 1.5, 2.4), _u(rng, 0.75, 0.9)
        return [
            *_legs(ln, w, 0.06, 0.08, 0.05, "wood"),
            (-ln / 2, ln / 2, -w / 2 + 0.15, w / 2 - 0.15, 0.08, 0.42, "fabric"),  # seat
            (-ln / 2, -ln / 2 + 0.2, -w / 2 + 0.15, w / 2 - 0.15, 0.42, h, "fabric"),  # back
            (-ln / 2, ln / 2, -w / 2, -w / 2 + 0.15, 0.08, 0.62, "fabric"),  # arms
            (-ln / 2, ln / 2, w / 2 - 0.15, w / 2, 0.08, 0.62, "fabric"),
        ]
    if cls == "desk":
        ln, w, h = _u(rng, 0.6, 0.8), _u(rng, 1.0, 1.6), _u(rng, 0.72, 0.76)
        return [
            (-ln / 2, ln / 2, -w / 2, w / 2, h - 0.03, h, "light_wood"),  # top
            (-ln / 2, ln / 2, -w / 2, -w / 2 + 0.03, 0.0, h - 0.03, "light_wood"),  # sides
            (-ln / 2, ln / 2, w / 2 - 0.03, w / 2, 0.0, h - 0.03, "light_wood"),
            (-ln / 2, -ln / 2 + 0.02, -w / 2 + 0.03, w / 2 - 0.03, 0.3, h - 0.03, "light_wood"),
            (
                -ln / 2 + 0.02,
                ln / 2 - 0.02,
                w / 2 - 0.45,
                w / 2 - 0.03,
                0.0,
                h - 0.03,
                "paint",
            ),  # drawers
        ]
    if cls == "bookshelf":
        ln, w, h = _u(rng, 0.28, 0.4), _u(rng, 0.7, 1.2), _u(rng, 1.4, 2.0)
        n = int(rng.integers(3, 6))
        shelves = [
            (-ln / 2 + 0.01, ln / 2, -w / 2 + 0.02, w / 2 - 0.02, z - 0.02, z, "wood")
            for z in np.linspace(0.06, h - 0.02, n + 1)[1:-1].tolist()
        ]
        return [
            (-ln / 2, ln / 2, -w / 2, -w / 2 + 0.02, 0.0, h, "wood"),  # sides
            (-ln / 2, ln / 2, w / 2 - 0.02, w / 2, 0.0, h, "wood"),
            (-ln / 2, -ln / 2 + 0.01, -w / 2 + 0.02, w / 2 - 0.02, 0.0, h, "wood"),  # back
            (-ln / 2 + 0.01, ln / 2, -w / 2 + 0.02, w / 2 - 0.02, 0.0, 0.06, "wood"),  # bottom
            (-ln / 2, ln / 2, -w / 2, w / 2, h - 0.02, h, "wood"),  # top
            *shelves,
        ]
    if cls == "cabinet":
        ln, w, h = _u(rng, 0.4, 0.6), _u(rng, 0.6, 1.2), _u(rng, 0.8, 1.0)
        return [
            (-ln / 2, ln / 2 - 0.06, -w / 2 + 0.02, w / 2 - 0.02, 0.0, 0.08, "paint"),  # plinth
            (-ln / 2, ln / 2 - 0.02, -w / 2, w / 2, 0.08, h - 0.03, "paint"),  # body
            (ln / 2 - 0.02, ln / 2, -w / 2 + 0.005, -0.005, 0.1, h - 0.05, "light_wood"),  # doors
            (ln / 2 - 0.02, ln / 2, 0.005, w / 2 - 0.005, 0.1, h - 0.05, "light_wood"),
            (-ln / 2, ln / 2, -w / 2, w / 2, h - 0.03, h, "light_wood"),  # top
        ]
    if cls == "night_stand":
        ln, w, h = _u(rng, 0.35, 0.45), _u(rng, 0.4, 0.5), _u(rng, 0.5, 0.65)
        return [
            *_legs(ln, w, 0.04, 0.1, 0.03, "wood"),
            (-ln / 2, ln / 2 - 0.015, -w / 2, w / 2, 0.1, h, "wood"),  # body
            (
                ln / 2 - 0.015,
                ln / 2,
                -w / 2 + 0.02,
                w / 2 - 0.02,
                0.3,
                h - 0.04,
                "light_wood",
            ),  # drawer
        ]
    if cls == "toilet":
        ln, w, h = _u(rng, 0.62, 0.75), _u(rng, 0.36, 0.45), _u(rng, 0.7, 0.8)
        return [
            (-ln / 2, -ln / 2 + 0.2, -w / 2, w / 2, 0.38, h, "ceramic"),  # tank
            (-ln / 2 + 0.1, ln / 2 - 0.15, -0.12, 0.12, 0.0, 0.3, "ceramic"),  # pedestal
            (-ln / 2 + 0.15, ln / 2, -w / 2 + 0.02, w / 2 - 0.02, 0.3, 0.4, "ceramic"),  # bowl
        ]
    if cls == "bathtub":
        ln, w, h = _u(rng, 1.5, 1.8), _u(rng, 0.7, 0.8), _u(rng, 0.5, 0.6)
        t = 0.07
        return [
            (-ln / 2, ln / 2, -w / 2, w / 2, 0.0, 0.06, "ceramic"),  # bottom
            (-ln / 2, ln / 2, -w / 2, -w / 2 + t, 0.06, h, "ceramic"),
            (-ln / 2, ln / 2, w / 2 - t, w / 2, 0.06, h, "ceramic"),
            (-ln / 2, -ln / 2 + t, -w / 2 + t, w / 2 - t, 0.06, h, "ceramic"),
            (ln / 2 - t, ln / 2, -w / 2 + t, w / 2 - t, 0.06, h, "ceramic"),
        ]
    raise AssertionError(f"unknown class {cls}")


def _slab(
    origin: np.ndarray[Any, Any], dirs: np.ndarray[Any, Any], boxes: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Entry distance along each ray into each yawed box (inf where it misses; rays start
    outside every box) and the box-frame axis (0, 1, 2) of the face entered.
    ``dirs`` (R, 3), ``boxes`` (B, 7); returns two (R, B) arrays."""
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    rel = origin[None, :] - boxes[:, :3]
    o = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], 1)
    d = np.stack(
        [
            dirs[:, None, 0] * c + dirs[:, None, 1] * s,
            -dirs[:, None, 0] * s + dirs[:, None, 1] * c,
            np.broadcast_to(dirs[:, None, 2], (len(dirs), len(boxes))),
        ]
    )  # (3, R, B)
    d = np.where(d == 0.0, 1e-300, d)  # a ray parallel to a face: no NaN from 0 * inf
    inv = 1.0 / d
    half = (boxes[:, 3:6] / 2).T[:, None, :]  # (3, 1, B)
    start = o.T[:, None, :]
    t1 = (-half - start) * inv
    t2 = (half - start) * inv
    low = np.minimum(t1, t2)
    near = low.max(0)
    far = np.maximum(t1, t2).min(0)
    hit = (near <= far) & (near > 0)
    return np.where(hit, near, np.inf), low.argmax(0)


class _Room:
    """One room's layout: size, objects (boxes, classes) and their parts as yawed boxes."""

    def __init__(self, rng: np.random.Generator, max_objects: int, yaw: bool) -> None:
        self.width, self.depth = _u(rng, 3.5, 7.0), _u(rng, 3.5, 7.0)
        self.height = _u(rng, 2.4, 3.0)
        boxes: list[list[float]] = []
        classes: list[int] = []
        parts: list[np.ndarray[Any, Any]] = []  # per object (P, 7) world boxes
        materials: list[list[str]] = []
        n = int(rng.integers(max(1, max_objects // 2), max_objects + 1)) if max_objects else 0
        for _ in range(n * 20):
            if len(classes) >= n:
                break
            k = int(rng.integers(len(INDOOR_CLASSES)))
            local = _furniture(INDOOR_CLASSES[k], rng)
            arr = np.array([p[:6] for p in local], dtype=np.float64)
            low = arr[:, [0, 2, 4]].min(0)
            high = arr[:, [1, 3, 5]].max(0)
            size = high - low
            centre_local = (low + high) / 2
            heading = _u(rng, -math.pi, math.pi) if yaw else float(rng.integers(4)) * math.pi / 2
            c, s = math.cos(heading), math.sin(heading)
            # the footprint's half extents along x and y, for the walls
            ex = abs(c) * size[0] / 2 + abs(s) * size[1] / 2
            ey = abs(s) * size[0] / 2 + abs(c) * size[1] / 2
            room_x = self.width / 2 - _WALL_GAP - ex
            room_y = self.depth / 2 - _WALL_GAP - ey
            if room_x <= 0 or room_y <= 0:
                continue
            x, y = _u(rng, -room_x, room_x), _u(rng, -room_y, room_y)
            box = [x, y, size[2] / 2, size[0], size[1], size[2], heading]
            if not self._free(box, boxes):
                continue
            # parts: centres relative to the object's centre, then turned by the heading
            pc = (arr[:, [0, 2, 4]] + arr[:, [1, 3, 5]]) / 2 - centre_local
            ps = arr[:, [1, 3, 5]] - arr[:, [0, 2, 4]]
            world = np.stack(
                [
                    x + c * pc[:, 0] - s * pc[:, 1],
                    y + s * pc[:, 0] + c * pc[:, 1],
                    size[2] / 2 + pc[:, 2],
                    ps[:, 0],
                    ps[:, 1],
                    ps[:, 2],
                    np.full(len(pc), heading),
                ],
                1,
            )
            boxes.append(box)
            classes.append(k)
            parts.append(world)
            materials.append([p[6] for p in local])
        self.boxes = np.array(boxes, dtype=np.float64).reshape(-1, 7)
        self.classes = np.array(classes, dtype=np.int64)
        self.parts = parts
        tint = rng.uniform(-0.08, 0.08, (len(classes), 3))
        fabric = rng.uniform(0.15, 0.85, (len(classes), 3))
        self.colours = [
            np.clip(
                np.array([fabric[i] if m == "fabric" else _MATERIALS[m] for m in mats]) + tint[i],
                0.0,
                1.0,
            )
            for i, mats in enumerate(materials)
        ]

    @staticmethod
    def _free(box: list[float], others: list[list[float]]) -> bool:
        """Whether ``box``'s footprint, grown by ``_GAP`` on every side, meets no other's grown
        footprint (a separating-axis test on the rectangles' four edge directions)."""
        if not others:
            return True
        a = np.array([box[0], box[1], box[3] + 2 * _GAP, box[4] + 2 * _GAP, box[6]])
        b = np.array([[o[0], o[1], o[3] + 2 * _GAP, o[4] + 2 * _GAP, o[6]] for o in others])
        d = b[:, :2] - a[None, :2]
        separated = np.zeros(len(b), dtype=bool)
        for yaw in [np.full(len(b), a[4]), b[:, 4]]:
            for axis in (yaw, yaw + math.pi / 2):
                n = np.stack([np.cos(axis), np.sin(axis)], 1)
                reach = (
                    np.abs(np.cos(a[4] - axis)) * a[2] / 2
                    + np.abs(np.sin(a[4] - axis)) * a[3] / 2
                    + np.abs(np.cos(b[:, 4] - axis)) * b[:, 2] / 2
                    + np.abs(np.sin(b[:, 4] - axis)) * b[:, 3] / 2
                )
                separated |= np.abs((d * n).sum(1)) > reach
        return bool(separated.all())

    def camera(self, rng: np.random.Generator) -> tuple[np.ndarray[Any, Any], float, float]:
        """A camera position, heading and downward pitch: inside the room, 0.3 m from the
        walls and outside every object's footprint (grown by 0.3 m), looking at the room's
        middle."""
        position = np.array([0.0, 0.0, 0.0])
        for _ in range(50):
            position = np.array(
                [
                    _u(rng, -self.width / 2 + 0.3, self.width / 2 - 0.3),
                    _u(rng, -self.depth / 2 + 0.3, self.depth / 2 - 0.3),
                    _u(rng, 1.2, 1.7),
                ]
            )
            if self._outside_objects(position[:2], 0.3):
                break
        target = rng.uniform(-0.25, 0.25, 2) * [self.width, self.depth]
        look = target - position[:2]
        if float(np.hypot(*look)) < 0.5:
            look = -position[:2] if float(np.hypot(*position[:2])) > 1e-3 else np.array([1.0, 0.0])
        heading = math.atan2(float(look[1]), float(look[0]))
        return position, heading, math.radians(_u(rng, 10.0, 30.0))

    def _outside_objects(self, xy: np.ndarray[Any, Any], margin: float) -> bool:
        if len(self.boxes) == 0:
            return True
        d = xy[None] - self.boxes[:, :2]
        c, s = np.cos(self.boxes[:, 6]), np.sin(self.boxes[:, 6])
        lx = np.abs(c * d[:, 0] + s * d[:, 1])
        ly = np.abs(-s * d[:, 0] + c * d[:, 1])
        inside = (lx <= self.boxes[:, 3] / 2 + margin) & (ly <= self.boxes[:, 4] / 2 + margin)
        return not bool(inside.any())

    def render(
        self, origin: np.ndarray[Any, Any], dirs: np.ndarray[Any, Any]
    ) -> tuple[
        np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]
    ]:
        """Nearest hit of each ray: distance (inf: none), surface (-1 floor, -2 wall, object
        index otherwise), the part hit (objects) and the world normal."""
        # the room's inside: each ray leaves it through the face it meets first
        half = np.array([self.width / 2, self.depth / 2])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_axes = np.stack(
                [
                    np.where(
                        dirs[:, 0] != 0,
                        (np.sign(dirs[:, 0]) * half[0] - origin[0]) / dirs[:, 0],
                        np.inf,
                    ),
                    np.where(
                        dirs[:, 1] != 0,
                        (np.sign(dirs[:, 1]) * half[1] - origin[1]) / dirs[:, 1],
                        np.inf,
                    ),
                    np.where(
                        dirs[:, 2] < 0,
                        -origin[2] / dirs[:, 2],
                        np.where(dirs[:, 2] > 0, (self.height - origin[2]) / dirs[:, 2], np.inf),
                    ),
                ],
                1,
            )
        face = t_axes.argmin(1)
        t = t_axes[np.arange(len(dirs)), face]
        surface = np.where(face == 2, -1, -2)
        ceiling = (face == 2) & (dirs[:, 2] > 0)
        t = np.where(ceiling, np.inf, t)  # no ceiling: the ray is lost
        normal = np.zeros((len(dirs), 3))
        normal[np.arange(len(dirs)), face] = 1.0
        part = np.full(len(dirs), -1)
        if len(self.boxes):
            t_obj, _ = _slab(origin, dirs, self.boxes)
            for k in range(len(self.boxes)):
                rays = np.nonzero(t_obj[:, k] < t)[0]
                if len(rays) == 0:
                    continue
                t_part, axis = _slab(origin, dirs[rays], self.parts[k])
                best = t_part.argmin(1)
                tk = t_part[np.arange(len(rays)), best]
                closer = tk < t[rays]
                r = rays[closer]
                t[r] = tk[closer]
                surface[r] = k
                part[r] = best[closer]
                a = axis[np.arange(len(rays)), best][closer]
                yaw = self.parts[k][0, 6]
                local = np.zeros((len(r), 3))
                local[np.arange(len(r)), a] = 1.0
                normal[r] = np.stack(
                    [
                        math.cos(yaw) * local[:, 0] - math.sin(yaw) * local[:, 1],
                        math.sin(yaw) * local[:, 0] + math.cos(yaw) * local[:, 1],
                        local[:, 2],
                    ],
                    1,
                )
        return t, surface, part, normal


def _camera_rays(heading: float, pitch: float, columns: int, rows: int) -> np.ndarray[Any, Any]:
    """Unit rays through a ``columns x rows`` pixel grid of a camera looking along
    ``heading`` (about ``z``), pitched ``pitch`` radians down."""
    forward = np.array(
        [math.cos(heading) * math.cos(pitch), math.sin(heading) * math.cos(pitch), -math.sin(pitch)]
    )
    right = np.array([math.sin(heading), -math.cos(heading), 0.0])
    up = np.cross(right, forward)
    u = np.tan(_HFOV / 2) * ((np.arange(columns) + 0.5) / columns * 2 - 1)
    v = np.tan(_VFOV / 2) * (1 - (np.arange(rows) + 0.5) / rows * 2)
    uu, vv = np.meshgrid(u, v)
    dirs = forward[None] + uu.reshape(-1, 1) * right[None] + vv.reshape(-1, 1) * up[None]
    unit: np.ndarray[Any, Any] = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    return unit


class IndoorScenes:
    """``n_scenes`` seeded synthetic rooms; ``scenes[i]`` is an :class:`IndoorScene` (labels
    into :data:`INDOOR_CLASSES`), a pure function of ``(seed, i)`` and the settings.

    Each room (3.5 to 7 m a side, floor at ``z = 0``) holds ``max_objects // 2`` to
    ``max_objects`` pieces of furniture built from cuboid parts, placed without collisions: any
    heading with ``yaw=True``, one of the four wall directions with ``yaw=False``. ``views``
    depth cameras see it (one is a SUN RGB-D-like frame, several a ScanNet-like scan); each ray
    keeps its nearest hit, and ``n_points`` of the hits are drawn (all of them when there are
    fewer). ``noise`` is the range noise's standard deviation per metre of range (clipped at
    2.5 sigma). A box is labelled when at least ``min_points`` points fall on its object; the
    rest stay as unlabelled points.

    Per point, ``instances`` holds ``k + 1`` on box ``k``'s object and 0 elsewhere, and
    ``semantic`` the NYU40 id (1 wall, 2 floor, ScanNet's ids for the furniture; 32 for a night
    stand). The boxes are the objects' tight boxes: centre, ``ln`` along the object's front
    direction (its heading), ``w`` across it, ``h`` up, the bottom face on the floor.

    Raises :class:`~xuframe.errors.InputError` for ``n_scenes`` < 0, a ``seed`` < 0,
    ``max_objects`` outside ``0 .. 40``, ``views`` outside ``1 .. 16``, ``n_points`` < 1,
    ``min_points`` < 1 (each an int; numpy integers accepted), ``noise`` outside
    ``[0, 0.004]`` (a finite number; larger noise could carry a point into a neighbour's box),
    or ``n_points`` too large for memory. An index outside ``0 .. n_scenes - 1`` is an
    :class:`IndexError`.
    """

    def __init__(
        self,
        n_scenes: int = 100,
        *,
        seed: int = 0,
        n_points: int = 20000,
        max_objects: int = 12,
        yaw: bool = True,
        views: int = 1,
        noise: float = 0.002,
        min_points: int = 20,
    ) -> None:
        where = "IndoorScenes"
        self.n_scenes = check_int(n_scenes, f"{where}: n_scenes", min=0)
        self.seed = check_int(seed, f"{where}: seed", min=0)
        self.n_points = check_int(n_points, f"{where}: n_points", min=1)
        self.max_objects = check_int(max_objects, f"{where}: max_objects", min=0, max=_MAX_OBJECTS)
        if not isinstance(yaw, bool):
            raise InputError(f"{where}: yaw: expected a bool, got {type(yaw).__name__}")
        self.yaw = yaw
        self.views = check_int(views, f"{where}: views", min=1, max=16)
        self.noise = check_float(noise, f"{where}: noise", min=0.0, max=0.004)
        self.min_points = check_int(min_points, f"{where}: min_points", min=1)
        # rays cast: up to 4x the points, each about 40 float64 values per object box tested
        check_memory(
            4.0 * self.n_points * 8 * 40 * (self.max_objects + 1),
            f"{where}: n_points={self.n_points} with max_objects={self.max_objects}",
        )

    def __len__(self) -> int:
        return self.n_scenes

    def __getitem__(self, i: int) -> IndoorScene:
        i = check_int(i, "IndoorScenes: index")
        if not 0 <= i < self.n_scenes:
            raise IndexError(f"IndoorScenes: index {i} out of range 0 .. {self.n_scenes - 1}")
        rng = np.random.default_rng([self.seed, 21, i])
        room = _Room(rng, self.max_objects, self.yaw)
        cameras = [room.camera(rng) for _ in range(self.views)]
        rays = 1.3 * self.n_points / self.views
        for _ in range(4):
            columns = max(4, math.ceil(math.sqrt(rays * 730 / 530)))
            rows = max(3, math.ceil(rays / columns))
            hits = [self._view(room, cam, columns, rows, rng) for cam in cameras]
            found = sum(len(h[0]) for h in hits)
            if found >= self.n_points:
                break
            rays *= 1.15 * self.n_points / max(found, 1)
        xyz = np.concatenate([h[0] for h in hits])
        surface = np.concatenate([h[1] for h in hits])
        part = np.concatenate([h[2] for h in hits])
        normal = np.concatenate([h[3] for h in hits])
        if len(xyz) > self.n_points:
            pick = np.sort(rng.choice(len(xyz), self.n_points, replace=False))
            xyz, surface, part, normal = xyz[pick], surface[pick], part[pick], normal[pick]
        rgb = self._colours(room, surface, part, normal, rng)
        counts = np.bincount(surface[surface >= 0], minlength=len(room.boxes))
        labelled = np.nonzero(counts >= self.min_points)[0]
        instance_of = np.zeros(len(room.boxes) + 2, dtype=np.int64)  # surface -> instance
        instance_of[labelled] = np.arange(1, len(labelled) + 1)
        instances = np.where(surface >= 0, instance_of[np.maximum(surface, 0)], 0)
        nyu = np.array([_NYU40[c] for c in INDOOR_CLASSES], dtype=np.int64)
        semantic = np.where(
            surface == -1, _NYU40["floor"], np.where(surface == -2, _NYU40["wall"], 0)
        )
        obj = surface >= 0
        semantic[obj] = nyu[room.classes[surface[obj]]]
        return IndoorScene(
            PointCloud(
                torch.from_numpy(xyz.astype(np.float32)), torch.from_numpy(rgb.astype(np.float32))
            ),
            Boxes3D(torch.from_numpy(room.boxes[labelled].astype(np.float32)).reshape(-1, 7)),
            torch.from_numpy(room.classes[labelled]),
            INDOOR_CLASSES,
            torch.from_numpy(instances),
            torch.from_numpy(semantic),
            None,
            f"room{i:06d}",
        )

    def _view(
        self,
        room: _Room,
        camera: tuple[np.ndarray[Any, Any], float, float],
        columns: int,
        rows: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray[Any, Any], ...]:
        origin, heading, pitch = camera
        dirs = _camera_rays(heading, pitch, columns, rows)
        t, surface, part, normal = room.render(origin, dirs)
        keep = np.isfinite(t)
        sigma = self.noise * t[keep]
        offset = np.clip(rng.normal(0.0, 1.0, int(keep.sum())), -2.5, 2.5) * sigma
        xyz = origin[None] + dirs[keep] * (t[keep] + offset)[:, None]
        return xyz, surface[keep], part[keep], normal[keep]

    @staticmethod
    def _colours(
        room: _Room,
        surface: np.ndarray[Any, Any],
        part: np.ndarray[Any, Any],
        normal: np.ndarray[Any, Any],
        rng: np.random.Generator,
    ) -> np.ndarray[Any, Any]:
        base = np.where(surface[:, None] == -1, np.array(_FLOOR_RGB), np.array(_WALL_RGB))
        for k in np.unique(surface[surface >= 0]).tolist():
            on = surface == k
            base[on] = room.colours[k][part[on]]
        light = np.array([0.3, 0.2, 1.0]) / math.sqrt(1.13)
        shade = 0.65 + 0.35 * np.abs(normal @ light)
        rgb = base * shade[:, None] + rng.normal(0.0, 0.02, base.shape)
        return np.clip(rgb, 0.0, 1.0)

    def write(
        self,
        directory: str | os.PathLike[str],
        layout: str = "scannet",
        *,
        style: str = "plain",
    ) -> Path:
        """Write every scene in ``layout`` (``"scannet"`` or ``"sunrgbd"``) and ``style``
        (``"plain"``: one folder per scene, as ``../shared/data/real``; ``"mmdet3d"``:
        mmdetection3d's prepared tree), for :func:`read_scannet` / :func:`read_sunrgbd`.

        Scene ``i`` is named ``scene{i:04d}_00`` (ScanNet) or ``{i:06d}`` (SUN RGB-D). Only the
        boxes of each benchmark's classes are written (ScanNet has no night stand, SUN RGB-D no
        cabinet), as their converters keep only those. ScanNet scenes are written in a scan
        frame (a seeded turn about ``z`` and shift) with the axis-alignment matrix that undoes
        it, colours as ``round(255 rgb)`` and each box as the axis-aligned bounds of the
        object's box (the box itself when ``yaw=False``). Returns the folder written into.

        Raises :class:`~xuframe.errors.InputError` for another layout or style or a
        ``directory`` that is not a path.
        """
        layout, style = check_layout(layout, style, "IndoorScenes.write")
        root = as_path(directory, "a folder to write indoor scenes to")
        nyu = {name: _NYU40[name] for name in INDOOR_CLASSES if name in SCANNET_CLASSES}
        for i in range(self.n_scenes):
            scene = self[i]
            if layout == "scannet":
                rng = np.random.default_rng([self.seed, 23, i])
                angle = _u(rng, -math.pi, math.pi)
                scan_from_aligned = np.eye(4)
                scan_from_aligned[:2, :2] = [
                    [math.cos(angle), -math.sin(angle)],
                    [math.sin(angle), math.cos(angle)],
                ]
                scan_from_aligned[:3, 3] = [*rng.uniform(2.0, 6.0, 2), _u(rng, -0.1, 0.1)]
                write_scannet_scene(scene, root, f"scene{i:04d}_00", style, scan_from_aligned, nyu)
            else:
                write_sunrgbd_scene(scene, root, f"{i:06d}", style)
        return root
