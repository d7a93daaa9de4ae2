"""Training the LiDAR detectors on synthetic scenes in KITTI layout, KITTI evaluation, and a
bird's-eye-view picture of points, ground truth and detections."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader

import xuframe
from xuframe.data import (
    Compose,
    GlobalFlip,
    GlobalRotation,
    GlobalScale,
    GroundTruthSampling,
    KittiDataset,
    LidarScenes,
    ObjectDatabase,
    collate_lidar,
    kitti_objects,
)
from xuframe.engine import Trainer, seed_everything
from xuframe.errors import InputError
from xuframe.metrics import kitti_ap
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe.validation import check_array, check_float, check_int

__all__ = [
    "bev_figure",
    "detections_to_kitti",
    "example_lidar_batch",
    "kitti_evaluator",
    "lidar_train_loader",
    "lidar_val_loader",
    "synthetic_kitti",
    "train_and_evaluate",
    "train_lidar",
]

_MARKER = "xuframe-scenes.json"
# the folder suffix of scenes rendered with camera images
_CAMERA = "-camera"


def _check_root(root: Any, what: str) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise InputError(
            f"{what}: expected a folder path (str or os.PathLike), got {type(root).__name__}"
        )
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what}: expected a folder, got the file {path}")
    return path


def _check_mapping(value: Any, what: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{what}: expected a mapping or None, got {type(value).__name__}")
    return dict(value)


def _check_gt_sampling(value: Any, what: str) -> dict[int, int] | None:
    if value is None:
        return None
    per_class = _check_mapping(value, what)
    return {
        check_int(k, f"{what}: class index", min=0): check_int(v, f"{what}[{k!r}]", min=0)
        for k, v in per_class.items()
    }


def _check_detector(model: Any, what: str) -> list[str]:
    """``model`` a 3-D detector with ``predict`` and ``config.classes``; its class names."""
    classes = getattr(getattr(model, "config", None), "classes", None)
    if not (
        isinstance(model, torch.nn.Module)
        and callable(getattr(model, "predict", None))
        and isinstance(classes, Sequence)
        and classes
    ):
        raise InputError(
            f"{what}: expected a LiDAR detector (a module with predict and config.classes, "
            f"e.g. denfi), got {type(model).__name__}"
        )
    return [str(c) for c in classes]


def _check_classes(value: Any, what: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise InputError(f"{what}: expected a non-empty sequence of class names, got {value!r}")
    if not all(isinstance(c, str) for c in value):
        raise InputError(f"{what}: expected class names (str), got {list(value)!r}")
    return list(value)


def synthetic_kitti(
    root: str | os.PathLike[str],
    n_scenes: int,
    seed: int,
    scene_args: Mapping[str, Any] | None = None,
) -> Path:
    """``root/training``, holding ``n_scenes`` :class:`~xuframe.data.LidarScenes` of ``seed``
    (built with ``scene_args``) in KITTI layout; written on the first call, reused while
    ``root`` holds the same scenes. ``n_scenes`` is an int >= 1, ``seed`` an int >= 0,
    ``scene_args`` a mapping or None; InputError otherwise (LidarScenes checks the values)."""
    folder = _check_root(root, "synthetic_kitti: root")
    n_scenes = check_int(n_scenes, "synthetic_kitti: n_scenes", min=1)
    seed = check_int(seed, "synthetic_kitti: seed", min=0)
    args = _check_mapping(scene_args, "synthetic_kitti: scene_args")
    marker = folder / _MARKER
    want = {"n_scenes": n_scenes, "seed": seed, "args": args, "generator": "LidarScenes/1"}
    if _marker_matches(marker, want):
        return folder / "training"
    out = LidarScenes(n_scenes, seed=seed, **args).write_kitti(folder)
    marker.write_text(json.dumps(want))
    return out


def _marker_matches(marker: Path, want: dict[str, Any]) -> bool:
    """Whether ``marker`` records the scenes ``want``; a missing, unreadable or damaged marker
    (a run killed mid-write) does not, and the scenes are written again."""
    try:
        return bool(json.loads(marker.read_text()) == want)
    except (OSError, ValueError):
        return False


def _check_images(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{what}: expected True or False, got {value!r:.40}")
    return value


def _scene_args(value: Any, images: bool, what: str) -> dict[str, Any]:
    """``scene_args`` with ``images=True`` added when the scenes need a camera."""
    args = _check_mapping(value, what)
    return {**args, "images": True} if images else args


def _inputs_of(model: Any, batch: Mapping[str, Any]) -> Any:
    """What ``model.predict`` takes for a collated batch: ``model.inputs_of(batch)`` when the
    model defines it (a camera detector builds its frames from the batch's images), else
    ``batch["inputs"]``."""
    hook = getattr(model, "inputs_of", None)
    return hook(batch) if callable(hook) else batch["inputs"]


def _database(data: KittiDataset) -> ObjectDatabase:
    return ObjectDatabase((data[i] for i in range(len(data))), min_points=5)


def example_lidar_batch(batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
    """A :func:`~xuframe.data.collate_lidar` batch of ``batch_size`` small synthetic scenes
    (``LidarScenes(azimuth_step=0.5, max_objects=6)`` of ``seed``): the ``example_batch`` of
    the LiDAR detectors that take bare point clouds."""
    scenes = LidarScenes(batch_size, seed=seed, azimuth_step=0.5, max_objects=6)
    return collate_lidar(
        [{"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i)}
         for i, s in enumerate(scenes[j] for j in range(batch_size))]
    )  # fmt: skip


def lidar_train_loader(
    root: str | os.PathLike[str],
    n_scenes: int = 400,
    batch_size: int = 4,
    seed: int = 0,
    gt_sampling: Mapping[int, int] | None = None,
    scene_args: Mapping[str, Any] | None = None,
    images: bool = False,
) -> DataLoader[Any]:
    """The training scenes (``seed``) with ground-truth sampling (by default up to 12 cars, 4
    pedestrians and 4 cyclists per scene, from the training scenes' own objects), global flip,
    rotation (+-pi/8) and scaling, batched by :func:`~xuframe.data.collate_lidar`. With
    ``images=True`` the scenes are rendered with camera images and label maps (in a folder of
    their own) and the samples hold them (``KittiDataset(images=True)``; pasted objects carry
    their image rows), for camera detectors such as ``pircnn``.

    ``n_scenes`` and ``batch_size`` are ints >= 1, ``gt_sampling`` maps class indices to
    counts >= 0, ``images`` a bool; InputError otherwise, before any scene is written."""
    root = _check_root(root, "lidar_train_loader: root")
    n_scenes = check_int(n_scenes, "lidar_train_loader: n_scenes", min=1)
    batch_size = check_int(batch_size, "lidar_train_loader: batch_size", min=1)
    seed = check_int(seed, "lidar_train_loader: seed", min=0)
    gt_sampling = _check_gt_sampling(gt_sampling, "lidar_train_loader: gt_sampling")
    images = _check_images(images, "lidar_train_loader: images")
    folder = synthetic_kitti(
        Path(root) / f"train-{seed}-{n_scenes}{_CAMERA if images else ''}",
        n_scenes,
        seed,
        _scene_args(scene_args, images, "lidar_train_loader: scene_args"),
    )
    plain = KittiDataset(folder, images=images)
    per_class = {0: 12, 1: 4, 2: 4} if gt_sampling is None else dict(gt_sampling)
    steps: list[Any] = []
    if any(per_class.values()):
        steps.append(GroundTruthSampling(_database(plain), per_class))
    steps += [GlobalFlip(0.5), GlobalRotation(math.pi / 8), GlobalScale(0.95, 1.05)]
    data = KittiDataset(folder, transforms=Compose(steps), images=images)
    return DataLoader(data, batch_size=batch_size, shuffle=True, collate_fn=collate_lidar)


def lidar_val_loader(
    root: str | os.PathLike[str],
    n_scenes: int = 100,
    batch_size: int = 4,
    seed: int = 1000,
    scene_args: Mapping[str, Any] | None = None,
    images: bool = False,
) -> DataLoader[Any]:
    """Held-out scenes (another ``seed``), in order, no augmentation; arguments as
    :func:`lidar_train_loader`."""
    root = _check_root(root, "lidar_val_loader: root")
    n_scenes = check_int(n_scenes, "lidar_val_loader: n_scenes", min=1)
    batch_size = check_int(batch_size, "lidar_val_loader: batch_size", min=1)
    seed = check_int(seed, "lidar_val_loader: seed", min=0)
    images = _check_images(images, "lidar_val_loader: images")
    folder = synthetic_kitti(
        Path(root) / f"val-{seed}-{n_scenes}{_CAMERA if images else ''}",
        n_scenes,
        seed,
        _scene_args(scene_args, images, "lidar_val_loader: scene_args"),
    )
    return DataLoader(
        KittiDataset(folder, images=images),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate_lidar,
    )


def detections_to_kitti(dets: Detections, calib: Any, classes: Sequence[str]) -> list[Any]:
    """One frame's detections as KITTI result objects (camera-visible ones). ``dets`` holds
    :class:`~xuframe.Boxes3D` with labels indexing ``classes``; InputError otherwise."""
    if not isinstance(dets, Detections):
        raise InputError(
            f"detections_to_kitti: dets: expected Detections, got {type(dets).__name__}"
        )
    classes = _check_classes(classes, "detections_to_kitti: classes")
    boxes = dets.geometry
    if not isinstance(boxes, Boxes3D):
        raise InputError(
            f"detections_to_kitti: dets: expected 3-D detections, got {type(boxes).__name__}"
        )
    labels = dets.labels.tolist() if dets.labels is not None else []
    if labels and (min(labels) < 0 or max(labels) >= len(classes)):
        raise InputError(
            f"detections_to_kitti: dets.labels: expected labels in [0, {len(classes) - 1}] "
            f"(one per class name), got values in [{min(labels)}, {max(labels)}]"
        )
    names = [classes[int(k)] for k in labels]
    return kitti_objects(boxes, names, calib, scores=dets.scores.tolist())


@torch.no_grad()
def kitti_evaluator(model: Any, batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A Trainer evaluator: KITTI AP (R40) of ``model.predict`` (of ``model.inputs_of(batch)``
    when the model defines it, else of ``batch["inputs"]``) over batches holding
    ``kitti_objects`` and ``calib``: ``<Class>/<bev|3d>/<difficulty>`` for every class at the
    benchmark's overlaps (Car 0.7, others 0.5), the moderate mean over classes as
    ``mAP/<bev|3d>``, and the devkit's looser setting (Car 0.5, others 0.25) as
    ``<Class>/<bev|3d>@<overlap>/moderate``. Raises InputError for another model, batches
    of another form or no frames at all."""
    classes = _check_detector(model, "kitti_evaluator: model")
    if isinstance(batches, (Mapping, str, bytes)) or not isinstance(batches, Iterable):
        raise InputError(
            f"kitti_evaluator: batches: expected an iterable of collated batches (a DataLoader), "
            f"got {type(batches).__name__}"
        )
    was_training = model.training
    model.eval()
    try:
        gt, dt = [], []
        for batch in batches:
            if (
                not isinstance(batch, Mapping)
                or "kitti_objects" not in batch
                or "calib" not in batch
                or "inputs" not in batch
            ):
                raise InputError(
                    "kitti_evaluator: batches need inputs, kitti_objects and calib (KittiDataset)"
                )
            for dets, calib, objects in zip(
                model.predict(_inputs_of(model, batch)),
                batch["calib"],
                batch["kitti_objects"],
                strict=True,
            ):
                dt.append(detections_to_kitti(dets, calib, classes))
                gt.append(objects)
    finally:
        model.train(was_training)
    if not gt:
        raise InputError("kitti_evaluator: batches: expected at least one frame, got none")
    out: dict[str, float] = {}
    metrics: tuple[Literal["bev", "3d"], ...] = ("bev", "3d")
    difficulties: tuple[Literal["easy", "moderate", "hard"], ...] = ("easy", "moderate", "hard")
    for metric in metrics:
        for cls in classes:
            for diff in difficulties:
                out[f"{cls}/{metric}/{diff}"] = kitti_ap(
                    gt, dt, cls, metric=metric, difficulty=diff
                )
        out[f"mAP/{metric}"] = sum(out[f"{c}/{metric}/moderate"] for c in classes) / len(classes)
    # the devkit's second, looser setting: Car at overlap 0.5 (Pedestrian, Cyclist at 0.25)
    for metric in metrics:
        for cls in classes:
            loose = 0.5 if cls == "Car" else 0.25
            out[f"{cls}/{metric}@{loose}/moderate"] = kitti_ap(
                gt, dt, cls, metric=metric, difficulty="moderate", min_overlap=loose
            )
    return out


def train_lidar(
    name: str,
    config: Mapping[str, Any],
    *,
    steps: int,
    root: str | os.PathLike[str] | None = None,
    n_train: int = 400,
    n_val: int = 100,
    batch_size: int = 4,
    lr: float = 2e-3,
    seed: int = 0,
    gt_sampling: Mapping[int, int] | None = None,
    eval_every: int | None = None,
    progress: bool = False,
    scene_args: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, float]]:
    """Train detector ``name`` for ``steps`` AdamW steps (one-cycle-like: warm-up over 5%, then
    cosine decay, as PointPillars / SECOND configs train) on ``n_train`` synthetic scenes and
    return the model and its :func:`kitti_evaluator` metrics on ``n_val`` held-out scenes.
    Scenes are written in KITTI layout under ``root`` (a temporary folder when None) and read
    back with :class:`~xuframe.data.KittiDataset`; ``scene_args`` go to
    :class:`~xuframe.data.LidarScenes` (e.g. a shorter ``max_range`` for a model with a
    smaller ``point_range``). A detector class with ``needs_camera = True`` (``pircnn``)
    gets scenes with camera images (``images=True`` of the loaders).

    ``name`` is a registered detector name, ``config`` a mapping, ``steps``, ``n_train``,
    ``n_val``, ``batch_size`` ints >= 1 (``n_train >= batch_size``), ``lr`` a finite number
    > 0, ``seed`` an int >= 0, ``eval_every`` None or an int >= 1, ``root`` None or a folder
    path. Raises :class:`~xuframe.errors.InputError` (:class:`~xuframe.errors.ConfigError`
    for the detector's config) before any scene is written."""
    import xuframe

    if not isinstance(name, str):
        raise InputError(f"train_lidar: name: expected a detector name, got {name!r}")
    images = bool(getattr(xuframe.get_component_class("detector", name), "needs_camera", False))
    if not isinstance(config, Mapping):
        raise InputError(f"train_lidar: config: expected a mapping, got {type(config).__name__}")
    steps = check_int(steps, "train_lidar: steps", min=1)
    n_train = check_int(n_train, "train_lidar: n_train", min=1)
    n_val = check_int(n_val, "train_lidar: n_val", min=1)
    batch_size = check_int(batch_size, "train_lidar: batch_size", min=1)
    if n_train < batch_size:
        raise InputError(
            f"train_lidar: n_train: expected at least batch_size={batch_size} scenes, got {n_train}"
        )
    lr = check_float(lr, "train_lidar: lr", min=0.0, min_open=True)
    seed = check_int(seed, "train_lidar: seed", min=0)
    if eval_every is not None:
        eval_every = check_int(eval_every, "train_lidar: eval_every", min=1)
    gt_sampling = _check_gt_sampling(gt_sampling, "train_lidar: gt_sampling")
    scene_args = _check_mapping(scene_args, "train_lidar: scene_args")
    if root is not None:
        root = _check_root(root, "train_lidar: root")

    with tempfile.TemporaryDirectory() as tmp:
        where = Path(root) if root is not None else Path(tmp)
        seed_everything(seed)
        train = lidar_train_loader(
            where, n_train, batch_size, seed, gt_sampling, scene_args, images=images
        )
        val = lidar_val_loader(where, n_val, batch_size, seed + 1000, scene_args, images=images)
        seed_everything(seed)
        model = xuframe.create("detector", name, **dict(config))
        trainer = Trainer(
            model,
            {
                "max_steps": steps,
                "batch_size": batch_size,
                "optimizer": "adamw",
                "lr": lr,
                "weight_decay": 1e-2,
                "schedule": "cosine",
                "warmup_steps": max(1, steps // 20),
                "grad_clip": 10.0,
                "seed": seed,
                "progress": progress,
                "eval_every": eval_every,
                "device": "cpu",
            },
            evaluators=[kitti_evaluator] if eval_every else [],
        )
        trainer.fit(train, eval_data=val if eval_every else None)
        metrics = kitti_evaluator(model, val)
        for row in trainer.history:
            if "eval/Car/bev/moderate" in row:
                metrics[f"Car/bev/moderate@{row['step']}"] = float(row["eval/Car/bev/moderate"])
        return model, metrics


def train_and_evaluate(name: str, config: Mapping[str, Any], **kwargs: Any) -> dict[str, float]:
    """:func:`train_lidar`, returning only the metrics."""
    return train_lidar(name, config, **kwargs)[1]


def bev_figure(
    points: PointCloud,
    ground_truth: Boxes3D,
    detections: Detections | None,
    out: str | os.PathLike[str],
    *,
    point_range: Sequence[float] = (0.0, -32.0, -3.0, 51.2, 32.0, 1.0),
    classes: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
    title: str = "",
) -> Path:
    """Write a bird's-eye-view PNG: points (light grey near the ground, dark above it),
    ground-truth boxes (green) and detections (red, with scores). Needs matplotlib (``pip install 'xuframe[plot]'``).

    ``points`` is a :class:`~xuframe.PointCloud`, ``ground_truth`` :class:`~xuframe.Boxes3D`,
    ``detections`` None or 3-D :class:`~xuframe.Detections` whose labels index ``classes``,
    ``out`` a file path, ``point_range`` six finite numbers ``(x0, y0, z0, x1, y1, z1)`` with
    each min below its max. Raises InputError for anything else, before drawing."""
    if not isinstance(points, PointCloud):
        raise InputError(f"bev_figure: points: expected a PointCloud, got {type(points).__name__}")
    if not isinstance(ground_truth, Boxes3D):
        raise InputError(
            f"bev_figure: ground_truth: expected Boxes3D, got {type(ground_truth).__name__}"
        )
    classes = _check_classes(classes, "bev_figure: classes")
    if detections is not None:
        if not isinstance(detections, Detections) or not isinstance(detections.geometry, Boxes3D):
            raise InputError(
                f"bev_figure: detections: expected None or Detections of Boxes3D, got "
                f"{type(detections).__name__}"
            )
        found = detections.labels.tolist() if detections.labels is not None else []
        if found and (min(found) < 0 or max(found) >= len(classes)):
            raise InputError(
                f"bev_figure: detections.labels: expected labels in [0, {len(classes) - 1}], "
                f"got values in [{min(found)}, {max(found)}]"
            )
    area = check_array(point_range, "bev_figure: point_range", shape=(6,))
    if not (area[:3] < area[3:]).all():
        raise InputError(
            f"bev_figure: point_range: expected (x0, y0, z0, x1, y1, z1) with x0 < x1, y0 < y1, "
            f"z0 < z1, got {area.tolist()}"
        )
    point_range = [float(v) for v in area]
    if not isinstance(out, (str, os.PathLike)):
        raise InputError(f"bev_figure: out: expected a file path, got {type(out).__name__}")
    if not isinstance(title, str):
        raise InputError(f"bev_figure: title: expected a str, got {type(title).__name__}")
    plt = xuframe.import_extra("matplotlib.pyplot")
    from xuframe.ops import bev_corners

    fig, ax = plt.subplots(figsize=(7, 8.5))
    xyz = points.xyz
    keep = (xyz[:, 0] >= point_range[0]) & (xyz[:, 0] < point_range[3])
    keep &= (xyz[:, 1] >= point_range[1]) & (xyz[:, 1] < point_range[4])
    xyz = xyz[keep]
    low = xyz[:, 2] < torch.quantile(xyz[:, 2], 0.05) + 0.3 if len(xyz) else xyz[:, 2] > 0
    for part, colour, size in ((low, "0.85", 0.4), (~low, "0.15", 1.5)):
        ax.scatter(xyz[part, 1], xyz[part, 0], s=size, c=colour, linewidths=0)

    def draw(boxes: Boxes3D, colour: str, labels: list[str]) -> None:
        if len(boxes) == 0:
            return
        corners = bev_corners(boxes.tensor[:, [0, 1, 3, 4, 6]].double())
        for k, c in enumerate(corners):
            loop = torch.cat([c, c[:1]])
            ax.plot(loop[:, 1], loop[:, 0], color=colour, linewidth=1.2)
            front = (c[0] + c[3]) / 2  # the face the heading points at
            centre = c.mean(0)
            ax.plot([centre[1], front[1]], [centre[0], front[0]], color=colour, linewidth=0.8)
            if labels[k]:
                ax.text(c[:, 1].max(), c[:, 0].max(), labels[k], color=colour, fontsize=6)

    draw(ground_truth, "tab:green", [""] * len(ground_truth))
    if detections is not None:
        geometry = detections.geometry
        assert isinstance(geometry, Boxes3D)
        draw(
            geometry,
            "tab:red",
            [
                f"{classes[int(k)][:3]} {float(s):.2f}"
                for k, s in zip(detections.labels, detections.scores, strict=True)
            ],
        )
    ax.set_xlim(point_range[4], point_range[1])  # y to the left, as seen from above
    ax.set_ylim(point_range[0], point_range[3])
    ax.set_aspect("equal")
    ax.set_xlabel("y (m, left)")
    ax.set_ylabel("x (m, forward)")
    ax.set_title(title or "BEV: ground truth (green), detections (red)")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path
