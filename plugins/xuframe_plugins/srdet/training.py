"""Training indoor detectors on synthetic rooms, and indoor 3-D mAP as a Trainer evaluator.

The rooms are :class:`~xuframe.data.IndoorScenes`; training samples pass through
:func:`~xuframe.data.augment_indoor` (flip, turn about ``z``, scale, subsampling) each time
they are drawn; batches are :func:`~xuframe.data.collate_lidar`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from xuframe.data import IndoorScene, IndoorScenes, augment_indoor, collate_lidar
from xuframe.engine import Trainer, seed_everything
from xuframe.errors import InputError
from xuframe.metrics import indoor_map
from xuframe.validation import check_float, check_int

__all__ = [
    "IndoorRooms",
    "indoor_evaluator",
    "indoor_train_loader",
    "indoor_val_loader",
    "train_indoor",
]


class IndoorRooms(Dataset[dict[str, Any]]):
    """``n_scenes`` rooms of :class:`~xuframe.data.IndoorScenes` (``seed``, ``scene_args``),
    made once and kept, as detection samples (``points``, ``boxes``, ``labels``,
    ``frame_id``). With ``augment``, each draw is :func:`~xuframe.data.augment_indoor`
    (flip with probability 0.5, a turn in ``[-max_angle, max_angle]``, a scale in ``[0.9,
    1.1]``) subsampled to ``n_points``; without, the room as made (subsampled to
    ``n_points`` with a fixed seed when larger). Raises :class:`~xuframe.errors.InputError`
    for bad sizes."""

    def __init__(
        self,
        n_scenes: int,
        seed: int,
        *,
        n_points: int = 20000,
        augment: bool = False,
        max_angle: float = math.pi / 6,
        scene_args: Mapping[str, Any] | None = None,
    ) -> None:
        self.n_points = check_int(n_points, "IndoorRooms: n_points", min=1)
        self.max_angle = check_float(max_angle, "IndoorRooms: max_angle", min=0.0)
        self.augment = bool(augment)
        rooms = IndoorScenes(n_scenes, seed=seed, **dict(scene_args or {}))
        self.scenes: list[IndoorScene] = [rooms[i] for i in range(len(rooms))]

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        scene = self.scenes[i]
        points, boxes = scene.points, scene.boxes
        if self.augment:
            points, boxes, _ = augment_indoor(
                points, boxes, max_angle=self.max_angle, scale=(0.9, 1.1), n_points=self.n_points
            )
        elif len(points) > self.n_points:
            keep = torch.randperm(len(points), generator=torch.Generator().manual_seed(i))
            points = points[keep[: self.n_points]]
        return {"points": points, "boxes": boxes, "labels": scene.labels, "frame_id": scene.name}


def indoor_train_loader(
    n_scenes: int = 200,
    batch_size: int = 8,
    seed: int = 0,
    n_points: int = 20000,
    scene_args: Mapping[str, Any] | None = None,
) -> DataLoader[Any]:
    """Shuffled, augmented batches of ``n_scenes`` training rooms (see :class:`IndoorRooms`)."""
    data = IndoorRooms(n_scenes, seed, n_points=n_points, augment=True, scene_args=scene_args)
    return DataLoader(data, batch_size=batch_size, shuffle=True, collate_fn=collate_lidar)


def indoor_val_loader(
    n_scenes: int = 50,
    batch_size: int = 8,
    seed: int = 1000,
    n_points: int = 20000,
    scene_args: Mapping[str, Any] | None = None,
) -> DataLoader[Any]:
    """Held-out rooms (another ``seed``), in order, without augmentation."""
    data = IndoorRooms(n_scenes, seed, n_points=n_points, augment=False, scene_args=scene_args)
    return DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_lidar)


@torch.no_grad()
def indoor_evaluator(model: Any, batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A Trainer evaluator: :func:`~xuframe.metrics.indoor_map` of ``model.predict`` over
    batches holding ``inputs``, ``boxes`` and ``labels``: ``mAP@0.25``, ``mAP@0.5`` and the
    per-class ``AP@<t>/<class>`` and ``recall@<t>/<class>`` (classes of ``model.config``)."""
    was_training = model.training
    model.eval()
    truth: list[dict[str, Any]] = []
    found = []
    for batch in batches:
        for key in ("inputs", "boxes", "labels"):
            if key not in batch:
                raise InputError(f"indoor_evaluator: batches need {key!r} (use collate_lidar)")
        found.extend(model.predict(batch["inputs"]))
        truth.extend(
            {"boxes": b, "labels": lab}
            for b, lab in zip(batch["boxes"], batch["labels"], strict=True)
        )
    model.train(was_training)
    classes = list(model.config.classes)
    result = indoor_map(truth, found, (0.25, 0.5), n_classes=len(classes))
    return {k: float(v) for k, v in result.as_dict(classes).items()}


def train_indoor(
    name: str,
    config: Mapping[str, Any],
    *,
    steps: int,
    n_train: int = 200,
    n_val: int = 50,
    batch_size: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    n_points: int | None = None,
    progress: bool = False,
    scene_args: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, float]]:
    """Train detector ``name`` (built with ``config``) for ``steps`` AdamW steps (warm-up over
    5%, cosine decay, gradient clipping at 10) on ``n_train`` augmented synthetic rooms of
    ``seed``; return the model and :func:`indoor_evaluator`'s metrics on ``n_val`` held-out
    rooms of ``seed + 1000``. ``n_points`` defaults to the model's ``num_points``."""
    import xuframe

    seed_everything(seed)
    model = xuframe.create("detector", name, **dict(config))
    points = model.config.num_points if n_points is None else n_points
    train = indoor_train_loader(n_train, batch_size, seed, points, scene_args)
    val = indoor_val_loader(n_val, batch_size, seed + 1000, points, scene_args)
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
            "device": "cpu",
        },
    )
    trainer.fit(train)
    return model, indoor_evaluator(model, val)
