"""The built-in demo of ``srdet``: no shipped weights yet, so it overfits two rooms.

:func:`overfit_rooms` trains a small SRDet on two synthetic rooms (the same batch every step,
no augmentation) and :func:`covered_objects` counts the objects a detection covers; the demo
reports both honestly: this shows the pipeline learns and that its NMS-free output lands on
the objects it was shown, not that it generalises (``examples/srdet/train_rooms.py`` measures
held-out mAP).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

import xuframe
from xuframe import DemoResult
from xuframe.engine import seed_everything
from xuframe.errors import InputError
from xuframe.ops import boxes3d_iou
from xuframe.types import Boxes3D, Detections
from xuframe.validation import check_float, check_int

__all__ = ["DEMO_STEPS", "covered_objects", "demo", "overfit_rooms"]

#: Adam steps of the demo's overfit (about 20 s on one CPU thread).
DEMO_STEPS = 150


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


def demo(seed: int = 0, scannet: str | None = None) -> DemoResult:
    """Overfit :data:`~xuframe_plugins.srdet.model.SRDET_DEMO_CONFIG` on two rooms of ``seed``
    (:data:`DEMO_STEPS` steps) and report the fraction of their objects covered (IoU > 0.25) by the
    detections, the first and last loss and a top view of the first room."""
    if scannet is not None:
        raise InputError(
            "srdet.demo: scannet: no trained srdet weights ship yet, so there is nothing to "
            "show on a real scene; train one with examples/srdet/train_rooms.py"
        )
    from xuframe_plugins.srdet.demo import top_view
    from xuframe_plugins.srdet.model import SRDET_DEMO_CONFIG

    start = time.perf_counter()
    model, batch, losses = overfit_rooms(SRDET_DEMO_CONFIG, steps=DEMO_STEPS, seed=seed)
    found = model.predict(batch["inputs"])
    covered = sum(
        covered_objects(d, b, top=2 * len(b)) for d, b in zip(found, batch["boxes"], strict=True)
    )
    total = sum(len(b) for b in batch["boxes"])
    seconds = time.perf_counter() - start
    return DemoResult(
        {
            "covered@0.25": covered / max(total, 1),
            "loss_first": losses[0],
            "loss_last": losses[-1],
            "seconds": seconds,
        },
        summary=(
            f"srdet has no shipped weights yet: overfit on 2 rooms for {len(losses)} steps "
            f"(loss {losses[0]:.1f} -> {losses[-1]:.1f}), its NMS-free detections cover "
            f"{covered}/{total} of those rooms' objects at IoU > 0.25 ({seconds:.0f} s); "
            "training rooms, not held-out ones"
        ),
        headline="covered@0.25",
        picture=top_view(
            batch["inputs"][0], batch["boxes"][0], found[0], model.config.classes, min_score=0.2
        ),
    )
