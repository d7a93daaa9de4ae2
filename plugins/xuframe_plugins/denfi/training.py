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

__all__ = [
    "bev_figure",
    "detections_to_kitti",
    "kitti_evaluator",
    "lidar_train_loader",
    "lidar_val_loader",
    "synthetic_kitti",
    "train_and_evaluate",
    "train_lidar",
]

_MARKER = "xuframe-scenes.json"


def synthetic_kitti(
    root: str | os.PathLike[str],
    n_scenes: int,
    seed: int,
    scene_args: Mapping[str, Any] | None = None,
) -> Path:
    """``root/training``, holding ``n_scenes`` :class:`~xuframe.data.LidarScenes` of ``seed``
    (built with ``scene_args``) in KITTI layout; written on the first call, reused while
    ``root`` holds the same scenes."""
    folder = Path(root)
    marker = folder / _MARKER
    args = dict(scene_args or {})
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


def _database(data: KittiDataset) -> ObjectDatabase:
    return ObjectDatabase((data[i] for i in range(len(data))), min_points=5)


def lidar_train_loader(
    root: str | os.PathLike[str],
    n_scenes: int = 400,
    batch_size: int = 4,
    seed: int = 0,
    gt_sampling: Mapping[int, int] | None = None,
    scene_args: Mapping[str, Any] | None = None,
) -> DataLoader[Any]:
    """The training scenes (``seed``) with ground-truth sampling (by default up to 12 cars, 4
    pedestrians and 4 cyclists per scene, from the training scenes' own objects), global flip,
    rotation (+-pi/8) and scaling, batched by :func:`~xuframe.data.collate_lidar`."""
    folder = synthetic_kitti(Path(root) / f"train-{seed}-{n_scenes}", n_scenes, seed, scene_args)
    plain = KittiDataset(folder)
    per_class = {0: 12, 1: 4, 2: 4} if gt_sampling is None else dict(gt_sampling)
    steps: list[Any] = []
    if any(per_class.values()):
        steps.append(GroundTruthSampling(_database(plain), per_class))
    steps += [GlobalFlip(0.5), GlobalRotation(math.pi / 8), GlobalScale(0.95, 1.05)]
    data = KittiDataset(folder, transforms=Compose(steps))
    return DataLoader(data, batch_size=batch_size, shuffle=True, collate_fn=collate_lidar)


def lidar_val_loader(
    root: str | os.PathLike[str],
    n_scenes: int = 100,
    batch_size: int = 4,
    seed: int = 1000,
    scene_args: Mapping[str, Any] | None = None,
) -> DataLoader[Any]:
    """Held-out scenes (another ``seed``), in order, no augmentation."""
    folder = synthetic_kitti(Path(root) / f"val-{seed}-{n_scenes}", n_scenes, seed, scene_args)
    return DataLoader(
        KittiDataset(folder), batch_size=batch_size, shuffle=False, collate_fn=collate_lidar
    )


def detections_to_kitti(dets: Detections, calib: Any, classes: Sequence[str]) -> list[Any]:
    """One frame's detections as KITTI result objects (camera-visible ones)."""
    names = [classes[int(k)] for k in dets.labels]
    boxes = dets.geometry
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"expected 3-D detections, got {type(boxes).__name__}")
    return kitti_objects(boxes, names, calib, scores=dets.scores.tolist())


@torch.no_grad()
def kitti_evaluator(model: Any, batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A Trainer evaluator: KITTI AP (R40) of ``model.predict`` over batches holding
    ``kitti_objects`` and ``calib``: ``<Class>/<bev|3d>/<difficulty>`` for every class at the
    benchmark's overlaps (Car 0.7, others 0.5), the moderate mean over classes as
    ``mAP/<bev|3d>``, and the devkit's looser setting (Car 0.5, others 0.25) as
    ``<Class>/<bev|3d>@<overlap>/moderate``."""
    was_training = model.training
    model.eval()
    classes = list(model.config.classes)
    gt, dt = [], []
    for batch in batches:
        if "kitti_objects" not in batch or "calib" not in batch:
            raise InputError("kitti_evaluator: batches need kitti_objects and calib (KittiDataset)")
        for dets, calib, objects in zip(
            model.predict(batch["inputs"]), batch["calib"], batch["kitti_objects"], strict=True
        ):
            dt.append(detections_to_kitti(dets, calib, classes))
            gt.append(objects)
    model.train(was_training)
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
    smaller ``point_range``)."""
    import xuframe

    with tempfile.TemporaryDirectory() as tmp:
        where = Path(root) if root is not None else Path(tmp)
        seed_everything(seed)
        train = lidar_train_loader(where, n_train, batch_size, seed, gt_sampling, scene_args)
        val = lidar_val_loader(where, n_val, batch_size, seed + 1000, scene_args)
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
    ground-truth boxes (green) and detections (red, with scores). Needs matplotlib (``pip install 'xuframe[plot]'``)."""
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
