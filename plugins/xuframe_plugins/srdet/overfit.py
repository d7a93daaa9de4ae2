"""Overfitting SRDet on a few rooms, the check that its pipeline learns.

:func:`overfit_rooms` trains a small SRDet on two synthetic rooms (the same batch every step,
no augmentation) and :func:`covered_objects` counts the objects a detection covers. This shows
that the NMS-free output lands on the objects it was shown, not that it generalises
(``examples/srdet/train_rooms.py`` measures held-out mAP).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

import xuframe
from xuframe.engine import seed_everything
from xuframe.errors import InputError
from xuframe.ops import boxes3d_iou
from xuframe.types import Boxes3D, Detections
from xuframe.validation import check_float, check_int

__all__ = ["covered_objects", "overfit_rooms"]


def overfit_rooms(
    config: Mapping[str, Any],
    *,
    steps: int = 60,
    rooms: int = 2,
    seed: int = 0,
    lr: float = 3e-3,
    n_points: int = 2048,
) -> tuple[Any, dict[str, Any], list[float]]:
    """``(model, batch, losses)``: ``srdet`` built with ``config``, trained ``steps`` Adam
    steps (learning rate ``lr``) on one batch of ``rooms`` synthetic rooms
    (the first ``rooms`` with objects of ``IndoorScenes(4 rooms, seed)``, ``n_points`` points, up
    to 4 objects each), and the total
    loss of every step. Raises :class:`~xuframe.errors.InputError` for bad counts."""
    steps = check_int(steps, "overfit_rooms: steps", min=1, max=100_000)
    rooms = check_int(rooms, "overfit_rooms: rooms", min=1, max=64)
    lr = check_float(lr, "overfit_rooms: lr", min=0.0, min_open=True, max=1.0)
    from xuframe.data import IndoorScenes, collate_lidar

    seed_everything(seed)
    data = IndoorScenes(4 * rooms, seed=seed, n_points=n_points, max_objects=4)
    chosen = [r for r in (data[i] for i in range(len(data))) if len(r.boxes)][:rooms]
    batch = collate_lidar(
        [
            {"points": r.points, "boxes": r.boxes, "labels": r.labels, "frame_id": r.name}
            for r in chosen
        ]
    )
    model = xuframe.create("detector", "srdet", **dict(config)).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        total = torch.stack(list(model.loss(batch).values())).sum()
        optimiser.zero_grad()
        total.backward()  # type: ignore[no-untyped-call, unused-ignore]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        losses.append(float(total.detach()))
    return model.eval(), batch, losses


def covered_objects(
    detections: Detections, truth: Boxes3D, *, iou: float = 0.25, top: int | None = None
) -> int:
    """How many boxes of ``truth`` have a detection (of the best ``top`` by score, all when
    ``None``) whose 3-D IoU with it exceeds ``iou``. Labels are not compared."""
    if not isinstance(detections, Detections) or not isinstance(detections.geometry, Boxes3D):
        raise InputError("covered_objects: detections: expected Detections of Boxes3D")
    if not isinstance(truth, Boxes3D):
        raise InputError(f"covered_objects: truth: expected Boxes3D, got {type(truth).__name__}")
    iou = check_float(iou, "covered_objects: iou", min=0.0, max=1.0)
    if top is not None:
        detections = detections.top(check_int(top, "covered_objects: top", min=0))
    found = detections
    geometry = found.geometry
    assert isinstance(geometry, Boxes3D)
    if len(truth) == 0 or len(geometry) == 0:
        return 0
    overlap = boxes3d_iou(geometry.tensor.double(), truth.tensor.double())
    return int((overlap.max(0).values > iou).sum())
