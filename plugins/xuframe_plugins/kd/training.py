"""Training classifiers and distilling them on scikit-learn's digits with the engine's Trainer."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import xuframe
from xuframe.data import ImageClassification, digits
from xuframe.engine import Trainer, seed_everything
from xuframe_plugins.kd.flops import count_flops
from xuframe_plugins.kd.nets import ResNetCifar

__all__ = [
    "DEMO_STEPS",
    "Classifier",
    "accuracy",
    "compare",
    "compare_from_pretrained",
    "compare_on_digits",
    "fit",
]

_M = TypeVar("_M", bound=nn.Module)


class Classifier(nn.Module):
    """A network trained with cross-entropy on ``{"x", "y"}`` batches (a Trainer trainable)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(x)
        return logits

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
    trainable: _M,
    data: torch.utils.data.Dataset[Any],
    steps: int,
    *,
    lr: float = 0.05,
    batch_size: int = 64,
    seed: int = 0,
) -> _M:
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


def compare(
    train: ImageClassification,
    test: ImageClassification,
    distillers: Sequence[str],
    *,
    make_teacher: Callable[[], nn.Module],
    make_student: Callable[[], nn.Module],
    teacher_steps: int,
    student_steps: int,
    teacher: nn.Module | None = None,
    batch_size: int = 64,
    seed: int = 0,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
    setup: Callable[[str, nn.Module], None] | None = None,
) -> dict[str, float]:
    """Train a teacher (or take the trained ``teacher`` given), then a student alone and with
    each named distiller for ``student_steps`` steps from the same initialisation.

    Returns held-out accuracies (``teacher``, ``student``, one per distiller) and, per
    distiller, ``<name>/teacher_queries``, ``<name>/computation`` (FLOPs spent, as
    :meth:`~xuframe_plugins.kd.KnowledgeDistillation.computation` counts them, over those of
    vanilla KD for the same steps, ``steps * batch_size * (Ft + 2 Fs)``) and
    ``<name>/seconds`` (and SSKD's ``<name>/head_accuracy``, its stage-1 contrastive accuracy
    over the last 20 batches). Distillers get ``setup(name, distiller)`` (when given; e.g. to
    load SSKD's shipped teacher head), then :meth:`prepare` on ``train``, before they train.
    """
    say = log or (lambda _: None)
    if teacher is None:
        seed_everything(seed)
        start = time.perf_counter()
        teacher = fit(
            Classifier(make_teacher()), train, teacher_steps, batch_size=batch_size, seed=seed
        ).net
        say(f"teacher: {teacher_steps} steps in {time.perf_counter() - start:.0f} s")
    out = {"teacher": accuracy(teacher, test)}
    seed_everything(seed + 1)
    init = make_student().state_dict()
    probe = test.images[:1]
    ft, fs = count_flops(teacher, probe), count_flops(make_student(), probe)
    kd_flops = student_steps * batch_size * (ft + 2 * fs)
    alone = make_student()
    alone.load_state_dict(init)
    start = time.perf_counter()
    out["student"] = accuracy(
        fit(Classifier(alone), train, student_steps, batch_size=batch_size, seed=seed).net, test
    )
    out["student/seconds"] = time.perf_counter() - start
    out["student/computation"] = student_steps * batch_size * 2 * fs / kd_flops
    say(f"student alone: {out['student']:.4f}")
    for name in distillers:
        student = make_student()
        student.load_state_dict(init)
        dist = xuframe.create(
            "distiller", name, teacher, student, **dict((configs or {}).get(name, {}))
        )
        if setup is not None:
            setup(name, dist)
        start = time.perf_counter()
        prepare = getattr(dist, "prepare", None)
        if callable(prepare):
            prepare(train, seed=seed)
        fit(dist, train, student_steps, batch_size=batch_size, seed=seed)
        out[f"{name}/seconds"] = time.perf_counter() - start
        out[name] = accuracy(student, test)
        out[f"{name}/teacher_queries"] = float(dist.teacher_queries)
        if hasattr(dist, "computation"):
            out[f"{name}/computation"] = dist.computation(ft, fs) / kd_flops
        head_accuracy = getattr(dist, "head_accuracy", None)
        if head_accuracy:  # SSKD stage 1: the last 20 batches' contrastive accuracy
            out[f"{name}/head_accuracy"] = sum(head_accuracy[-20:]) / len(head_accuracy[-20:])
        say(f"{name}: {out[name]:.4f}")
    return out


def compare_on_digits(
    distillers: Sequence[str],
    *,
    teacher_steps: int = 300,
    student_steps: int = 300,
    size: int = 16,
    seed: int = 0,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """:func:`compare` on digits (``size`` px): a ResNet-20 teacher and a ResNet-8 student.

    The trained teacher is cached in memory per ``(teacher_steps, size, seed)`` (training is
    deterministic), so the distillers' demos in one process train it once."""
    train, test = digits("train", seed=seed, size=size), digits("test", seed=seed, size=size)
    teacher = ResNetCifar(20, 10, 1)
    teacher.load_state_dict(_digits_teacher(teacher_steps, size, seed))
    return compare(
        train,
        test,
        distillers,
        make_teacher=lambda: ResNetCifar(20, 10, 1),
        make_student=lambda: ResNetCifar(8, 10, 1),
        teacher=teacher.eval(),
        teacher_steps=teacher_steps,
        student_steps=student_steps,
        seed=seed,
        configs=configs,
    )


@functools.lru_cache(maxsize=4)
def _digits_teacher(steps: int, size: int, seed: int) -> dict[str, torch.Tensor]:
    seed_everything(seed)
    net = fit(
        Classifier(ResNetCifar(20, 10, 1)), digits("train", seed=seed, size=size), steps, seed=seed
    ).net
    return {k: v.clone() for k, v in net.state_dict().items()}


#: Student steps of the distillers' demos (batches of 64, about two passes over the digits).
DEMO_STEPS = 40


def compare_from_pretrained(
    distillers: Sequence[str],
    *,
    student_steps: int = DEMO_STEPS,
    seed: int = 0,
    tag: str = "digits",
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    setup: Callable[[str, nn.Module], None] | None = None,
) -> dict[str, float]:
    """:func:`compare` from the shipped digits teacher (no teacher training): a ResNet-8
    student on scikit-learn's digits at 8 px (1,347 training, 450 held-out images), alone and
    with each named distiller for ``student_steps`` steps of 64 images from the same
    initialisation (drawn from ``seed + 1``) and the same batch order (``seed``).

    Returns :func:`compare`'s numbers. Raises :class:`~xuframe.errors.InputError` when no
    teacher ships under ``tag``."""
    from xuframe_plugins.kd.pretrained import TEACHER_SIZE, pretrained_teacher

    teacher = pretrained_teacher(tag)
    train = digits("train", size=TEACHER_SIZE)
    test = digits("test", size=TEACHER_SIZE)
    return compare(
        train,
        test,
        distillers,
        make_teacher=lambda: ResNetCifar(20, 10, 1),
        make_student=lambda: ResNetCifar(8, 10, 1),
        teacher=teacher,
        teacher_steps=0,
        student_steps=student_steps,
        seed=seed,
        configs=configs,
        setup=setup,
    )
