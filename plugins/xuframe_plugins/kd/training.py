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
from xuframe.errors import InputError
from xuframe.validation import check_float, check_int, check_labels, check_tensor
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
    """A network trained with cross-entropy on ``{"x", "y"}`` batches (a Trainer trainable).

    ``net`` is a ``torch.nn.Module`` mapping images ``(B, ...)`` to class scores ``(B, K)``;
    anything else raises :class:`~xuframe.errors.InputError`."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = _check_module(net, "Classifier: net")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(x)
        return logits

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Cross-entropy of ``batch``: a mapping with ``"x"``, a non-empty finite floating
        tensor ``(B, ...)`` the network takes, and ``"y"``, ``B`` integer labels in
        ``[0, K)`` (``K``: the network's outputs). Raises
        :class:`~xuframe.errors.InputError` for anything else (the labels' range once the
        scores' width is known, before the loss)."""
        if not isinstance(batch, Mapping) or "x" not in batch or "y" not in batch:
            shown = sorted(map(str, batch)) if isinstance(batch, Mapping) else type(batch).__name__
            raise InputError(
                f"Classifier.loss: expected a batch with keys 'x' and 'y', got {shown}"
            )
        x = check_tensor(batch["x"], "Classifier.loss: x", non_empty=True)
        if x.dim() < 2:
            raise InputError(
                f"Classifier.loss: x: expected a batch (B, ...), got shape {tuple(x.shape)}"
            )
        y = check_labels(batch["y"], "Classifier.loss: y", n=x.shape[0]).to(x.device)
        logits = _scores(self.net, x, "Classifier.loss")
        check_labels(y, "Classifier.loss: y", n_classes=logits.shape[1])
        return {"ce": F.cross_entropy(logits, y)}


def _scores(net: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    """``net(x)`` checked as class scores ``(B, K)``; ``x`` is cast to the network's floating
    dtype, and an input the network cannot take is named (InputError) instead of torch's
    shape error."""
    param = next(net.parameters(), None)
    if param is not None and param.is_floating_point() and x.dtype != param.dtype:
        x = x.to(param.dtype)
    try:
        logits = net(x)
    except RuntimeError as exc:
        raise InputError(
            f"{what}: x of shape {tuple(x.shape)} does not fit the network "
            f"{type(net).__name__}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        ) from exc
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != len(x):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError(f"{what}: the network: expected class scores ({len(x)}, K), got {got}")
    return logits


def _check_module(value: Any, what: str) -> Any:
    if not isinstance(value, nn.Module):
        raise InputError(f"{what}: expected a torch.nn.Module, got {type(value).__name__}")
    return value


def _check_data(value: Any, what: str, at_least: int = 1) -> ImageClassification:
    """``value`` an :class:`~xuframe.data.ImageClassification` of at least ``at_least`` items."""
    if not isinstance(value, ImageClassification):
        raise InputError(
            f"{what}: expected an xuframe.data.ImageClassification, got {type(value).__name__}"
        )
    if len(value) < at_least:
        raise InputError(f"{what}: expected at least {at_least} images, got {len(value)}")
    return value


def _check_dataset(value: Any, what: str, at_least: int) -> None:
    """``value`` a sized, indexable dataset of at least ``at_least`` items."""
    if not (hasattr(value, "__len__") and hasattr(value, "__getitem__")):
        raise InputError(
            f"{what}: expected a dataset (with len() and indexing) of {{'x', 'y'}} items, got "
            f"{type(value).__name__}"
        )
    if len(value) < at_least:
        raise InputError(
            f"{what}: expected at least {at_least} items (one batch of batch_size), got "
            f"{len(value)}"
        )


def _check_names(value: Any, what: str) -> list[str]:
    """Distiller names, each registered (checked before any training)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InputError(
            f"{what}: expected a sequence of distiller names, got {type(value).__name__}"
        )
    names = list(value)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InputError(f"{what}[{i}]: expected a distiller name (str), got {name!r}")
        xuframe.get_component_class("distiller", name)  # UnknownComponentError lists them
    return names


def _check_configs(value: Any, what: str) -> dict[str, Mapping[str, Any]]:
    """A mapping from distiller names (registered ones; some may not be compared) to config
    mappings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(
            f"{what}: expected a mapping of distiller name to config, got {type(value).__name__}"
        )
    for key, config in value.items():
        if not isinstance(key, str):
            raise InputError(f"{what}: expected distiller names as keys, got {key!r}")
        xuframe.get_component_class("distiller", key)  # a typo: UnknownComponentError
        if not isinstance(config, Mapping):
            raise InputError(f"{what}[{key!r}]: expected a mapping, got {type(config).__name__}")
    return dict(value)


def _check_callable(value: Any, what: str, optional: bool = False) -> None:
    if (value is None and not optional) or (value is not None and not callable(value)):
        raise InputError(f"{what}: expected a callable, got {type(value).__name__}")


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageClassification, batch_size: int = 256) -> float:
    """Top-1 accuracy in ``[0, 1]`` of ``model`` (images to class scores ``(B, K)``) on
    ``data``, a non-empty :class:`~xuframe.data.ImageClassification`, in pieces of
    ``batch_size`` images (eval mode; the mode is restored). Raises
    :class:`~xuframe.errors.InputError` for another model, empty or other data (there is no
    accuracy of no images) or a ``batch_size`` that is not an int >= 1."""
    _check_module(model, "accuracy: model")
    _check_data(data, "accuracy: data")
    batch_size = check_int(batch_size, "accuracy: batch_size", min=1)
    was = model.training
    model.eval()
    right = 0
    try:
        for i in range(0, len(data), batch_size):
            x, y = data.images[i : i + batch_size], data.labels[i : i + batch_size]
            right += int((_scores(model, x, "accuracy").argmax(1) == y).sum())
    finally:
        model.train(was)
    return right / len(data)


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
    (a :class:`Classifier` or a distiller) on shuffled ``data``.

    ``trainable`` is a ``torch.nn.Module`` with a ``loss(batch)`` method; ``data`` a dataset
    (len and indexing) of at least ``batch_size`` items (incomplete batches are dropped);
    ``steps`` and ``batch_size`` ints >= 1; ``lr`` a finite number > 0; ``seed`` an int >= 0.
    Raises :class:`~xuframe.errors.InputError` for anything else, before any step."""
    _check_module(trainable, "fit: trainable")
    if not callable(getattr(trainable, "loss", None)):
        raise InputError(
            f"fit: trainable: expected a module with a loss(batch) method (a Classifier or a "
            f"distiller), got {type(trainable).__name__}"
        )
    steps = check_int(steps, "fit: steps", min=1)
    lr = check_float(lr, "fit: lr", min=0.0, min_open=True)
    batch_size = check_int(batch_size, "fit: batch_size", min=1)
    seed = check_int(seed, "fit: seed", min=0)
    _check_dataset(data, "fit: data", batch_size)
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

    ``train`` and ``test`` are non-empty :class:`~xuframe.data.ImageClassification` sets
    (``train`` of at least ``batch_size`` images), ``distillers`` registered distiller names,
    ``make_teacher``/``make_student`` callables returning networks, the step counts ints
    (``student_steps >= 1``; ``teacher_steps >= 1`` unless a trained ``teacher`` is given),
    ``configs`` a mapping from some of the names to config mappings. Raises
    :class:`~xuframe.errors.InputError` (an unknown name
    :class:`~xuframe.errors.UnknownComponentError`) before any training.
    """
    train = _check_data(train, "compare: train")
    test = _check_data(test, "compare: test")
    names = _check_names(distillers, "compare: distillers")
    _check_callable(make_teacher, "compare: make_teacher")
    _check_callable(make_student, "compare: make_student")
    _check_callable(log, "compare: log", optional=True)
    _check_callable(setup, "compare: setup", optional=True)
    if teacher is not None:
        _check_module(teacher, "compare: teacher")
    teacher_steps = check_int(
        teacher_steps, "compare: teacher_steps", min=0 if teacher is not None else 1
    )
    student_steps = check_int(student_steps, "compare: student_steps", min=1)
    batch_size = check_int(batch_size, "compare: batch_size", min=1)
    seed = check_int(seed, "compare: seed", min=0)
    configs = _check_configs(configs, "compare: configs")
    _check_data(train, "compare: train", batch_size)
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
    for name in names:
        student = make_student()
        student.load_state_dict(init)
        dist = xuframe.create("distiller", name, teacher, student, **dict(configs.get(name, {})))
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
    deterministic), so the distillers' demos in one process train it once.

    ``distillers`` are registered distiller names, the step counts ints >= 1, ``size`` an
    int in digits' range, ``seed`` an int >= 0; :class:`~xuframe.errors.InputError` otherwise,
    before any training."""
    _check_names(distillers, "compare_on_digits: distillers")
    teacher_steps = check_int(teacher_steps, "compare_on_digits: teacher_steps", min=1)
    student_steps = check_int(student_steps, "compare_on_digits: student_steps", min=1)
    seed = check_int(seed, "compare_on_digits: seed", min=0)
    size = check_int(size, "compare_on_digits: size", min=1)
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
    teacher ships under ``tag``, and for the arguments :func:`compare` refuses."""
    _check_names(distillers, "compare_from_pretrained: distillers")
    student_steps = check_int(student_steps, "compare_from_pretrained: student_steps", min=1)
    seed = check_int(seed, "compare_from_pretrained: seed", min=0)
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
