"""Seeded synthetic LiDAR scenes: rays cast from a spinning sensor onto boxes and the ground.

A scene holds cars, pedestrians and cyclists of realistic sizes standing on a flat ground
plane, plus unlabelled clutter (poles, walls, bushes). A 64-beam sensor 1.73 m above the ground
(KITTI's HDL-64E geometry: elevations -24.8 to +2 degrees) casts one ray per beam and azimuth
step; each ray returns its nearest hit within range, so points fall only on surfaces the
sensor sees: density falls with range and near objects hide far ones. Hits get range noise and
an intensity by surface. :meth:`LidarScenes.write_kitti` writes scenes in KITTI layout with an
ideal calibration, 2-D boxes projected into a 1242 x 375 image and occlusion levels from the
share of each object's rays blocked by something nearer.

With ``images=True`` each scene also gets camera 2's picture of the same boxes and ground
through the same calibration (:func:`~xuframe.data._camera.render_camera`) and its per-pixel
classes: walls are buildings, bushes vegetation, poles "other" (:data:`SEMANTIC_CLASSES`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from xuframe._files import as_path
from xuframe.data._camera import (
    BUSH,
    CAR,
    CYCLIST,
    PEDESTRIAN,
    POLE,
    WALL,
    draw_look,
    render_camera,
    write_label_map,
)
from xuframe.data._kitti import (
    KITTI_IMAGE_SIZE,
    Calibration,
    KittiObject,
    _visible_objects,
    write_calib,
    write_image,
    write_labels,
    write_velodyne,
)
from xuframe.ops import bev_iou
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_choice, check_float, check_int, check_memory

__all__ = ["LIDAR_CLASSES", "LidarScene", "LidarScenes", "kitti_calibration"]

LIDAR_CLASSES = ("Car", "Pedestrian", "Cyclist")
SENSOR_HEIGHT = 1.73
# (length, width, height) ranges in metres
_SIZES = {
    "Car": ((3.4, 4.8), (1.5, 1.9), (1.35, 1.7)),
    "Pedestrian": ((0.45, 0.95), (0.45, 0.75), (1.55, 1.95)),
    "Cyclist": ((1.55, 1.95), (0.5, 0.75), (1.6, 1.85)),
}
_IMAGE = KITTI_IMAGE_SIZE
# placing an object tests it against every placed one, ten tries each: quadratic in the count
_MAX_OBJECTS = 256
# how the camera paints labelled classes (LIDAR_CLASSES order) and clutter (pole, wall, bush)
_CLASS_MATERIAL = np.array([CAR, PEDESTRIAN, CYCLIST], dtype=np.int64)
_CLUTTER_MATERIAL = np.array([POLE, WALL, BUSH], dtype=np.int64)


def kitti_calibration() -> Calibration:
    """An ideal KITTI-like calibration: camera axes from the LiDAR's, the usual small offsets."""
    axes = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    tr = np.concatenate([axes, np.array([[0.0], [-0.08], [-0.27]])], 1)
    p2 = np.array([[721.5, 0.0, 609.6, 44.9], [0.0, 721.5, 172.9, 0.2], [0.0, 0.0, 1.0, 0.003]])
    return Calibration(p2, np.eye(3), tr)


@attrs.frozen(eq=False)
class LidarScene:
    """One scene: the points, the labelled boxes with their class indices into
    :data:`LIDAR_CLASSES`, and per box the number of points on it and its occluded share.

    Scenes made with ``images=True`` also hold camera 2's view through
    :func:`kitti_calibration`: ``image`` ``(3, 375, 1242)`` float32 in ``[0, 1]``,
    ``semantic`` ``(375, 1242)`` int64 class ids into :data:`SEMANTIC_CLASSES` and ``depth``
    ``(375, 1242)`` float32, the z-buffer: each pixel's projective depth in metres (``inf`` for
    sky); ``None`` otherwise."""

    points: PointCloud
    boxes: Boxes3D
    labels: torch.Tensor
    hits: torch.Tensor
    occluded_share: torch.Tensor
    image: torch.Tensor | None = None
    semantic: torch.Tensor | None = None
    depth: torch.Tensor | None = None


def _ray_box(
    origins: np.ndarray[Any, Any], dirs: np.ndarray[Any, Any], boxes: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Distance along each ray to each box (inf where it misses): slab test in the box frame.
    ``dirs`` (R, 3) unit rays from ``origins`` (3,), ``boxes`` (B, 7); returns (R, B)."""
    if len(boxes) == 0:
        return np.full((len(dirs), 0), np.inf)
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    rel = origins[None, :] - boxes[:, :3]  # (B, 3)
    # rotate into each box frame (yaw about z)
    o = np.stack(
        [c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], 1
    )  # (B, 3)
    d = np.stack(
        [
            dirs[:, None, 0] * c + dirs[:, None, 1] * s,
            -dirs[:, None, 0] * s + dirs[:, None, 1] * c,
            np.broadcast_to(dirs[:, None, 2], (len(dirs), len(boxes))),
        ],
        -1,
    )  # (R, B, 3)
    half = boxes[:, 3:6] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1 = (-half[None] - o[None]) * inv
        t2 = (half[None] - o[None]) * inv
    t1 = np.where(np.isnan(t1), -np.inf, t1)
    t2 = np.where(np.isnan(t2), np.inf, t2)
    near = np.minimum(t1, t2).max(-1)
    far = np.maximum(t1, t2).min(-1)
    hit = (near <= far) & (far > 0)
    return np.where(hit, np.where(near > 0, near, far), np.inf)


class LidarScenes:
    """``n_scenes`` seeded synthetic scenes; ``scenes[i]`` is a :class:`LidarScene`, a pure
    function of ``(seed, i)``.

    ``azimuth_step`` (degrees) sets the horizontal resolution (KITTI's sensor: about 0.09;
    the default 0.2 keeps a scene near 25k points); ``field_of_view`` the azimuth span centred
    on ``+x`` (90 matches KITTI's camera; 360 a full sweep). ``images=True`` renders each
    scene's camera image and label map too (about 0.3 s more per scene); the points are the
    same either way.

    Raises :class:`~xuframe.errors.InputError` for ``n_scenes`` < 0, ``max_objects`` outside
    ``0 .. 256``, ``beams`` < 1, a ``seed`` < 0 (each an int; numpy integers are accepted),
    ``max_range`` <= 5, ``azimuth_step`` <= 0, ``field_of_view`` outside ``(0, 360]`` (each a
    finite number), an ``images`` that is not a bool, or rays (``beams x field_of_view / azimuth_step``) too many to cast in
    memory. An index outside ``0 .. n_scenes - 1`` is an :class:`IndexError`.
    """

    def __init__(
        self,
        n_scenes: int = 100,
        *,
        seed: int = 0,
        max_objects: int = 12,
        max_range: float = 70.0,
        azimuth_step: float = 0.2,
        field_of_view: float = 90.0,
        beams: int = 64,
        images: bool = False,
    ) -> None:
        n_scenes = check_int(n_scenes, "LidarScenes: n_scenes", min=0)
        seed = check_int(seed, "LidarScenes: seed", min=0)
        max_objects = check_int(max_objects, "LidarScenes: max_objects", min=0, max=_MAX_OBJECTS)
        max_range = check_float(max_range, "LidarScenes: max_range", min=5.0, min_open=True)
        azimuth_step = check_float(
            azimuth_step, "LidarScenes: azimuth_step", min=0.0, min_open=True
        )
        field_of_view = check_float(
            field_of_view, "LidarScenes: field_of_view", min=0.0, max=360.0, min_open=True
        )
        beams = check_int(beams, "LidarScenes: beams", min=1)
        self.images = check_choice(images, "LidarScenes: images", (True, False))
        rays = beams * (field_of_view / azimuth_step + 1.0)  # a float: it may be huge
        # per ray and box (labelled and up to 9 clutter) about six float64 3-vectors of the
        # slab test, plus the ray's own arrays
        check_memory(
            8.0 * rays * (18 * (max_objects + 9) + 24),
            f"LidarScenes: casting {rays:.3g} rays (beams={beams}, azimuth_step={azimuth_step:g}, "
            f"field_of_view={field_of_view:g}) onto {max_objects} objects",
        )
        self.n_scenes, self.seed, self.max_objects, self.max_range = (
            n_scenes,
            seed,
            max_objects,
            max_range,
        )
        elev = np.deg2rad(np.linspace(-24.8, 2.0, beams))
        azim = np.deg2rad(np.arange(-field_of_view / 2, field_of_view / 2, azimuth_step))
        ee, aa = np.meshgrid(elev, azim, indexing="ij")
        self._dirs = np.stack(
            [np.cos(ee) * np.cos(aa), np.cos(ee) * np.sin(aa), np.sin(ee)], -1
        ).reshape(-1, 3)
        self._fov = field_of_view

    def __len__(self) -> int:
        return self.n_scenes

    def _layout(
        self, rng: np.random.Generator
    ) -> tuple[
        np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]
    ]:
        """Labelled boxes, their classes, clutter boxes and their kinds (0 pole, 1 wall,
        2 bush), none overlapping in BEV."""
        boxes: list[list[float]] = []
        classes: list[int] = []
        half_fov = math.radians(min(self._fov, 160) / 2)
        n = int(rng.integers(0, self.max_objects + 1))
        for _ in range(n * 10):
            if len(classes) >= n:
                break
            k = int(rng.choice(3, p=[0.6, 0.25, 0.15]))
            (l0, l1), (w0, w1), (h0, h1) = _SIZES[LIDAR_CLASSES[k]]
            r = rng.uniform(4.0, min(50.0, self.max_range - 5))
            a = rng.uniform(-half_fov, half_fov) * 0.9
            h = rng.uniform(h0, h1)
            box = [
                r * math.cos(a),
                r * math.sin(a),
                -SENSOR_HEIGHT + h / 2,
                rng.uniform(l0, l1),
                rng.uniform(w0, w1),
                h,
                rng.uniform(-math.pi, math.pi),
            ]
            if self._free(box, boxes):
                boxes.append(box)
                classes.append(k)
        clutter: list[list[float]] = []
        kinds: list[int] = []
        for _ in range(int(rng.integers(3, 10))):
            kind = rng.integers(3)
            size = [
                (0.3, 0.3, 4.0),
                (rng.uniform(4, 12), 0.4, rng.uniform(1.5, 3.0)),
                (rng.uniform(1, 3), rng.uniform(1, 3), rng.uniform(0.5, 1.2)),
            ][kind]
            r = rng.uniform(6.0, self.max_range - 5)
            a = rng.uniform(-half_fov, half_fov)
            box = [
                r * math.cos(a),
                r * math.sin(a),
                -SENSOR_HEIGHT + size[2] / 2,
                size[0],
                size[1],
                size[2],
                rng.uniform(-math.pi, math.pi),
            ]
            if self._free(box, boxes + clutter):
                clutter.append(box)
                kinds.append(int(kind))
        return (
            np.array(boxes).reshape(-1, 7),
            np.array(classes, dtype=np.int64),
            np.array(clutter).reshape(-1, 7),
            np.array(kinds, dtype=np.int64),
        )

    @staticmethod
    def _free(box: list[float], others: list[list[float]]) -> bool:
        if not others:
            return True
        grown = torch.tensor(
            [[box[0], box[1], box[3] + 1.0, box[4] + 1.0, box[6]]], dtype=torch.float64
        )
        rest = torch.tensor(
            [[o[0], o[1], o[3] + 1.0, o[4] + 1.0, o[6]] for o in others], dtype=torch.float64
        )
        return bool((bev_iou(grown, rest) == 0).all())

    def __getitem__(self, i: int) -> LidarScene:
        i = check_int(i, "LidarScenes: index")
        if not 0 <= i < self.n_scenes:
            raise IndexError(f"LidarScenes: index {i} out of range 0 .. {self.n_scenes - 1}")
        rng = np.random.default_rng([self.seed, 7, i])
        boxes, classes, clutter, kinds = self._layout(rng)
        origin = np.zeros(3)
        dirs = self._dirs
        every = np.concatenate([boxes, clutter])
        t_box = _ray_box(origin, dirs, every)  # (R, B)
        with np.errstate(divide="ignore"):
            t_ground = np.where(dirs[:, 2] < 0, -SENSOR_HEIGHT / dirs[:, 2], np.inf)
        t_all = np.concatenate([t_box, t_ground[:, None]], 1)
        nearest = t_all.argmin(1)
        t = t_all[np.arange(len(dirs)), nearest]
        keep = np.isfinite(t) & (t <= self.max_range) & (rng.random(len(dirs)) > 0.02)  # dropouts
        t = t + rng.normal(0, 0.02, len(t))
        xyz = np.zeros_like(dirs)
        xyz[keep] = dirs[keep] * t[keep, None]
        surface = nearest  # which box (or the ground, index len(every)) each ray hit
        intensity = np.where(
            surface == len(every), rng.uniform(0.05, 0.3, len(t)), rng.uniform(0.2, 0.9, len(t))
        )
        n_lab = len(boxes)
        hits = np.bincount(surface[keep], minlength=len(every) + 1)[:n_lab]
        # occlusion: the share of a box's rays (rays reaching it at all) that something nearer stops
        reach = np.isfinite(t_box[:, :n_lab]) & (t_box[:, :n_lab] <= self.max_range)
        blocked = reach & (surface[:, None] != np.arange(n_lab)[None])
        share = blocked.sum(0) / np.maximum(reach.sum(0), 1)
        pts = torch.tensor(xyz[keep], dtype=torch.float32)
        feats = torch.tensor(intensity[keep, None], dtype=torch.float32)
        scene = LidarScene(
            PointCloud(pts, feats),
            Boxes3D(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 7)),
            torch.tensor(classes, dtype=torch.int64),
            torch.tensor(hits, dtype=torch.int64),
            torch.tensor(share, dtype=torch.float32),
        )
        if not self.images:
            return scene
        view = self._camera(
            i, every, np.concatenate([_CLASS_MATERIAL[classes], _CLUTTER_MATERIAL[kinds]])
        )
        return attrs.evolve(scene, image=view.image, semantic=view.semantic, depth=view.depth)

    def _camera(self, i: int, every: np.ndarray[Any, Any], materials: np.ndarray[Any, Any]) -> Any:
        """Scene ``i``'s camera view of its boxes ``every`` (labelled ones first) painted as
        ``materials``, from a generator of its own (the LiDAR's draws stay as they were)."""
        rng = np.random.default_rng([self.seed, 11, i])
        look = draw_look(rng, materials)
        return render_camera(
            kitti_calibration(), every, materials, -SENSOR_HEIGHT, look, _IMAGE, noise_rng=rng
        )

    def write_kitti(self, directory: str | os.PathLike[str], split: str = "training") -> Path:
        """Write every scene as ``split/{velodyne,label_2,calib}/NNNNNN.*`` (KITTI layout), and
        with ``images=True`` ``split/image_2/NNNNNN.png`` (8-bit RGB) and
        ``split/semantic_2/NNNNNN.png`` (8-bit, one channel: the class ids of
        :data:`SEMANTIC_CLASSES`), which :class:`KittiDataset` reads with ``images=True``. Labels: 2-D boxes projected with P2 and clipped to 1242 x 375, truncation =
        the share of the projected box outside the image, occlusion 0/1/2 from the occluded
        share (< 0.3, < 0.7, else); boxes behind the camera or with no point are ``DontCare``."""
        root = as_path(directory, "a folder to write the KITTI layout to") / split
        calib = kitti_calibration()
        for i in range(self.n_scenes):
            scene = self[i]
            name = f"{i:06d}"
            write_velodyne(root / "velodyne" / f"{name}.bin", scene.points)
            write_calib(root / "calib" / f"{name}.txt", calib)
            write_labels(root / "label_2" / f"{name}.txt", _labels(scene, calib))
            if scene.image is not None and scene.semantic is not None:
                write_image(root / "image_2" / f"{name}.png", scene.image)
                write_label_map(root / "semantic_2" / f"{name}.png", scene.semantic)
        return root


def _labels(scene: LidarScene, calib: Calibration) -> list[KittiObject]:
    out: list[KittiObject] = []
    if len(scene.boxes) == 0:
        return out
    names = [
        LIDAR_CLASSES[int(c)] if int(n) > 0 else "DontCare"
        for c, n in zip(scene.labels, scene.hits, strict=True)
    ]
    objects, rows = _visible_objects(scene.boxes, names, calib, None, _IMAGE)
    for obj, k in zip(objects, rows, strict=True):
        share = float(scene.occluded_share[k])
        out.append(attrs.evolve(obj, occluded=0 if share < 0.3 else (1 if share < 0.7 else 2)))
    return out
