"""Training classifiers and distilling them on scikit-learn's digits with the engine's Trainer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import xuframe
from xuframe.data import ImageClassification, digits
from xuframe.engine import Trainer, seed_everything
from xuframe_plugins.kd.nets import ResNetCifar

__all__ = ["Classifier", "accuracy", "compare_on_digits", "fit"]


class Classifier(nn.Module):
    """A network trained with cross-entropy on ``{"x", "y"}`` batches (a Trainer trainable)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {"ce": F.cross_entropy(self.net(batch["x"]), batch["y"])}


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageClassification, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``data`` (eval mode; the mode is restored)."""
    was = model.training
    model.eval()
    right = 0
    for i in range(0, len(data), batch_size):
        x, y = data.images[i : i + batch_size], data.labels[i : i + batch_size]
        right += int((model(x).argmax(1) == y).sum())
    model.train(was)
    return right / max(1, len(data))


def fit(
    trainable: nn.Module,
    data: ImageClassification,
    steps: int,
    *,
    lr: float = 0.05,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """``steps`` SGD steps (momentum 0.9, weight decay 5e-4, cosine schedule) of a trainable
    (a :class:`Classifier` or a distiller) on shuffled ``data``."""
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
    Trainer(
        trainable,
        {
            "max_steps": steps,
            "batch_size": batch_size,
            "optimizer": "sgd",
            "lr": lr,
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "schedule": "cosine",
            "seed": seed,
            "progress": False,
            "device": "cpu",
        },
    ).fit(loader)
    return trainable


def compare_on_digits(
    distillers: Sequence[str],
    *,
    teacher_steps: int = 300,
    student_steps: int = 300,
    size: int = 16,
    seed: int = 0,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """Train a ResNet-20 teacher on digits (``size`` px), then a ResNet-8 student alone and with
    each named distiller for the same number of steps from the same initialisation; held-out
    accuracies (``teacher``, ``student``, one per distiller) and ``<name>/teacher_queries``."""
    train, test = digits("train", seed=seed, size=size), digits("test", seed=seed, size=size)
    seed_everything(seed)
    teacher = fit(Classifier(ResNetCifar(20, 10, 1)), train, teacher_steps, seed=seed).net
    out = {"teacher": accuracy(teacher, test)}
    seed_everything(seed + 1)
    init = ResNetCifar(8, 10, 1).state_dict()
    alone = ResNetCifar(8, 10, 1)
    alone.load_state_dict(init)
    out["student"] = accuracy(fit(Classifier(alone), train, student_steps, seed=seed).net, test)
    for name in distillers:
        student = ResNetCifar(8, 10, 1)
        student.load_state_dict(init)
        dist = xuframe.create(
            "distiller", name, teacher, student, **dict((configs or {}).get(name, {}))
        )
        fit(dist, train, student_steps, seed=seed)
        out[name] = accuracy(student, test)
        out[f"{name}/teacher_queries"] = float(dist.teacher_queries)
    return out
