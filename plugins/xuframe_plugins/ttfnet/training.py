"""Training TTFNet on the synthetic shapes set with the engine's Trainer, and COCO evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from xuframe.data import (
    ColorJitter,
    Compose,
    Normalize,
    RandomFlip,
    ShapesDataset,
    collate_detection,
)
from xuframe.engine import Trainer, seed_everything
from xuframe.errors import InputError
from xuframe.metrics import coco_map
from xuframe.validation import check_choice, check_float, check_int

__all__ = [
    "coco_evaluator",
    "shapes_train_loader",
    "shapes_val_loader",
    "train_and_evaluate",
    "train_on_shapes",
]


def _sizes(n_images: Any, batch_size: Any, what: str) -> tuple[int, int]:
    return (
        check_int(n_images, f"{what}: n_images", min=1),
        check_int(batch_size, f"{what}: batch_size", min=1),
    )


def _check_detector(model: Any, what: str) -> None:
    config = getattr(model, "config", None)
    if not (
        isinstance(model, torch.nn.Module)
        and callable(getattr(model, "predict", None))
        and hasattr(config, "num_classes")
    ):
        raise InputError(
            f"{what}: expected a 2-D detector (a module with predict and config.num_classes, "
            f"e.g. ttfnet-tiny), got {type(model).__name__}"
        )


def _check_batches(batches: Any, what: str) -> None:
    if isinstance(batches, (Mapping, str, bytes)) or not isinstance(batches, Iterable):
        raise InputError(
            f"{what}: expected an iterable of collated batches (a DataLoader), got "
            f"{type(batches).__name__}"
        )


def shapes_train_loader(
    n_images: int = 2000, image_size: int = 128, batch_size: int = 16, seed: int = 0
) -> DataLoader[Any]:
    """The shapes training split with flip, colour jitter and normalisation, batched by
    :func:`~xuframe.data.collate_detection` (the Trainer reshuffles it every epoch).

    ``n_images`` and ``batch_size`` are ints >= 1, ``image_size`` and ``seed`` as
    :class:`~xuframe.data.ShapesDataset` takes them; InputError otherwise."""
    n_images, batch_size = _sizes(n_images, batch_size, "shapes_train_loader")
    train = ShapesDataset(
        n_images,
        image_size,
        split="train",
        seed=seed,
        transforms=Compose([RandomFlip(0.5), ColorJitter(0.2, 0.2, 0.2), Normalize()]),
    )
    return DataLoader(train, batch_size=batch_size, collate_fn=collate_detection)


def shapes_val_loader(
    n_images: int = 200, image_size: int = 128, batch_size: int = 16, seed: int = 0
) -> DataLoader[Any]:
    """The shapes validation split (normalisation only), in order; arguments as
    :func:`shapes_train_loader`."""
    n_images, batch_size = _sizes(n_images, batch_size, "shapes_val_loader")
    val = ShapesDataset(n_images, image_size, split="val", seed=seed, transforms=Normalize())
    return DataLoader(val, batch_size=batch_size, shuffle=False, collate_fn=collate_detection)


@torch.no_grad()
def coco_evaluator(model: Any, batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A Trainer evaluator: COCO box metrics of ``model.predict`` over collated batches
    (mappings with ``inputs``, ``boxes``, ``labels``, ``crowd`` and ``image_ids``, as
    :func:`~xuframe.data.collate_detection` gives them). Raises InputError for another model,
    batches of another form, or no images at all."""
    _check_detector(model, "coco_evaluator: model")
    _check_batches(batches, "coco_evaluator: batches")
    was_training = model.training
    model.eval()
    try:
        predictions, targets = [], []
        for batch in batches:
            keys = ("inputs", "boxes", "labels", "crowd", "image_ids")
            missing = [k for k in keys if k not in batch] if isinstance(batch, Mapping) else []
            if not isinstance(batch, Mapping) or missing:
                raise InputError(
                    "coco_evaluator: batches: expected mappings as collate_detection gives them, "
                    f"got {type(batch).__name__}"
                    + (f" without {', '.join(missing)}" if isinstance(batch, Mapping) else "")
                )
            predictions += model.predict(batch["inputs"])
            ids = batch["image_ids"]  # int64 tensor, or a list when the ids are strings
            for i, image_id in enumerate(ids.tolist() if isinstance(ids, torch.Tensor) else ids):
                targets.append(
                    {
                        "boxes": batch["boxes"][i],
                        "labels": batch["labels"][i],
                        "crowd": batch["crowd"][i],
                        "image_id": image_id,
                    }
                )
    finally:
        model.train(was_training)
    if not predictions:
        raise InputError("coco_evaluator: batches: expected at least one image, got none")
    return coco_map(predictions, targets, model.config.num_classes)


def train_on_shapes(
    config: Mapping[str, Any],
    *,
    steps: int,
    batch_size: int = 16,
    n_train: int = 2000,
    n_val: int = 200,
    image_size: int = 128,
    optimizer: str = "adamw",
    lr: float = 2e-3,
    seed: int = 0,
    name: str = "ttfnet-tiny",
    eval_every: int | None = None,
    progress: bool = False,
) -> tuple[Any, dict[str, float]]:
    """Train a TTFNet for ``steps`` optimiser steps (linear warm-up over 5%, then the learning
    rate divided by 10 at 80% of the steps: the paper's step schedule, shortened) and return
    the trained model and its COCO metrics on the validation split; with ``eval_every``, also
    ``AP50@step`` entries.

    The released configs train with SGD (lr 0.002 for 8 x 16 images, ImageNet-pretrained
    backbone); for CPU-sized runs from scratch AdamW
    (lr 2e-3) converged faster on the shapes set, so it is the default here; pass
    ``optimizer="sgd", lr=...`` for the paper's optimiser.

    ``config`` is a mapping of the detector's config values, ``name`` a registered 2-D
    detector, ``steps``, ``batch_size``, ``n_train``, ``n_val`` ints >= 1 (``n_train >=
    batch_size``), ``optimizer`` ``"adamw"`` or ``"sgd"``, ``lr`` a finite number > 0,
    ``seed`` an int >= 0, ``eval_every`` None or an int >= 1. Raises
    :class:`~xuframe.errors.InputError` (:class:`~xuframe.errors.ConfigError` for the
    detector's config) before any step."""
    import xuframe

    if not isinstance(config, Mapping):
        raise InputError(
            f"train_on_shapes: config: expected a mapping of config values, got "
            f"{type(config).__name__}"
        )
    steps = check_int(steps, "train_on_shapes: steps", min=1)
    n_train, batch_size = _sizes(n_train, batch_size, "train_on_shapes")
    if n_train < batch_size:
        raise InputError(
            f"train_on_shapes: n_train: expected at least batch_size={batch_size} images, "
            f"got {n_train}"
        )
    n_val = check_int(n_val, "train_on_shapes: n_val", min=1)
    optimizer = check_choice(optimizer, "train_on_shapes: optimizer", ("adamw", "sgd"))
    lr = check_float(lr, "train_on_shapes: lr", min=0.0, min_open=True)
    seed = check_int(seed, "train_on_shapes: seed", min=0)
    if eval_every is not None:
        eval_every = check_int(eval_every, "train_on_shapes: eval_every", min=1)
    if not isinstance(name, str):
        raise InputError(f"train_on_shapes: name: expected a detector name, got {name!r}")
    seed_everything(seed)
    model = xuframe.create("detector", name, **dict(config))
    loader = shapes_train_loader(n_train, image_size, batch_size, seed)
    val = shapes_val_loader(n_val, image_size, batch_size, seed)
    curve: dict[str, float] = {}

    def ap50(m: Any, batches: Any) -> dict[str, float]:
        metrics = coco_evaluator(m, batches)
        return {"AP50": metrics["AP50"], "AP": metrics["AP"]}

    trainer = Trainer(
        model,
        {
            "max_steps": steps,
            "batch_size": batch_size,
            "optimizer": optimizer,
            "lr": lr,
            "momentum": 0.9,
            "weight_decay": 4e-4 if optimizer == "sgd" else 1e-4,
            "schedule": "step",
            "warmup_steps": max(1, steps // 20),
            "step_size": max(1, int(steps * 0.8) - max(1, steps // 20)),
            "gamma": 0.1,
            "grad_clip": 35.0,
            "seed": seed,
            "progress": progress,
            "eval_every": eval_every,
            "device": "cpu",
        },
        evaluators=[ap50] if eval_every else [],
    )
    trainer.fit(loader, eval_data=val if eval_every else None)
    for row in trainer.history:
        if "eval/AP50" in row:
            curve[f"AP50@{row['step']}"] = float(row["eval/AP50"])
    return model, {**coco_evaluator(model, val), **curve}


def train_and_evaluate(config: Mapping[str, Any], **kwargs: Any) -> dict[str, float]:
    """:func:`train_on_shapes`, returning only the metrics."""
    return train_on_shapes(config, **kwargs)[1]
