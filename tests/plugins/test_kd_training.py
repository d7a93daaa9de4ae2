"""Issue 20: xuframe_plugins.kd.training (Classifier, accuracy, fit, compare, compare_on_digits,
compare_from_pretrained) refuses bad arguments with InputError before any training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from xuframe.data import ImageClassification
from xuframe.errors import InputError, UnknownComponentError
from xuframe_plugins.kd.training import (
    Classifier,
    accuracy,
    compare,
    compare_from_pretrained,
    compare_on_digits,
    fit,
)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def _data(n: int = 8) -> ImageClassification:
    gen = torch.Generator().manual_seed(0)
    return ImageClassification(torch.rand(n, 1, 4, 4, generator=gen), torch.arange(n) % 3)


def _batch() -> dict[str, torch.Tensor]:
    data = _data(4)
    return {"x": data.images, "y": data.labels}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": None}, "x: expected a torch.Tensor"),
        ({"x": torch.full((4, 1, 4, 4), math.nan)}, "x: expected finite values"),
        ({"x": torch.zeros(0, 1, 4, 4)}, "x: expected a non-empty"),
        ({"x": torch.zeros(4, 1, 5, 5)}, r"x of shape \(4, 1, 5, 5\) does not fit the network"),
        ({"x": torch.zeros(16)}, "x: expected a batch"),
        ({"y": torch.tensor([0.0, 1.0, 2.0, 0.0])}, "y: expected integer labels"),
        ({"y": torch.tensor([0, 1, 2])}, "y: expected 4 labels"),
        ({"y": torch.tensor([0, 1, 2, 3])}, r"y: expected labels in \[0, 2\]"),
        ({"y": torch.tensor([0, 1, 2, -1])}, r"y: expected labels in \[0, 2\]"),
    ],
)
def test_classifier_loss_refuses_bad_batches(change, message):
    with pytest.raises(InputError, match=message):
        Classifier(_net()).loss({**_batch(), **change})


def test_classifier_takes_a_module_and_a_mapping_and_float64_images():
    with pytest.raises(InputError, match="Classifier: net: expected a torch.nn.Module"):
        Classifier(lambda x: x)
    with pytest.raises(InputError, match="expected a batch with keys 'x' and 'y', got \\['x'\\]"):
        Classifier(_net()).loss({"x": torch.zeros(1, 16)})
    batch = _batch()
    want = Classifier(_net()).loss(batch)["ce"]
    got = Classifier(_net()).loss({"x": batch["x"].double(), "y": batch["y"].tolist()})["ce"]
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-6)


def test_accuracy_of_no_images_is_refused_not_zero():
    empty = ImageClassification(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long))
    with pytest.raises(InputError, match="accuracy: data: expected at least 1 images, got 0"):
        accuracy(_net(), empty)  # was 0.0
    for args, message in [
        ((None, _data()), "accuracy: model: expected a torch.nn.Module"),
        ((_net(), [1, 2]), "accuracy: data: expected an xuframe.data.ImageClassification"),
        ((_net(), _data(), 0), "accuracy: batch_size: expected an int >= 1"),
        ((_net(), _data(), 2.5), "accuracy: batch_size: expected an int"),
    ]:
        with pytest.raises(InputError, match=message):
            accuracy(*args)
    net = _net().train()
    value = accuracy(net, _data(), np.int64(3))
    assert 0.0 <= value <= 1.0 and net.training  # the mode is restored
    assert value == accuracy(net, _data())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trainable": nn.Linear(2, 2)}, "fit: trainable: expected a module with a loss"),
        ({"trainable": "net"}, "fit: trainable: expected a torch.nn.Module"),
        ({"data": None}, "fit: data: expected a dataset"),
        ({"data": _data(3)}, r"fit: data: expected at least 4 items \(one batch"),
        ({"steps": 0}, "fit: steps: expected an int >= 1"),
        ({"steps": 2.5}, "fit: steps: expected an int"),
        ({"lr": math.nan}, "fit: lr: expected a number, got NaN"),
        ({"lr": 0.0}, "fit: lr: expected a number > 0"),
        ({"batch_size": 0}, "fit: batch_size: expected an int >= 1"),
        ({"seed": -1}, "fit: seed: expected an int >= 0"),
    ],
)
def test_fit_refuses_bad_arguments_before_any_step(kwargs, message):
    model = Classifier(_net())
    before = [p.clone() for p in model.parameters()]
    args = {"trainable": model, "data": _data(), "steps": 1, "batch_size": 4, **kwargs}
    with pytest.raises(InputError, match=message):
        fit(args.pop("trainable"), args.pop("data"), args.pop("steps"), **args)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_fit_takes_numpy_integers():
    model = fit(Classifier(_net()), _data(), np.int64(2), batch_size=np.int64(4), seed=np.int64(1))
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _compare(calls: list[int], **kwargs):
    def make():
        calls.append(1)
        return _net()

    args = {
        "train": _data(),
        "test": _data(),
        "distillers": ["kd"],
        "make_teacher": make,
        "make_student": make,
        "teacher_steps": 1,
        "student_steps": 1,
        "batch_size": 4,
        **kwargs,
    }
    return compare(args.pop("train"), args.pop("test"), args.pop("distillers"), **args)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"distillers": ["kdd"]}, UnknownComponentError, "kdd"),
        ({"distillers": "kd"}, InputError, "distillers: expected a sequence of distiller names"),
        ({"distillers": [3]}, InputError, r"distillers\[0\]: expected a distiller name"),
        ({"train": None}, InputError, "compare: train: expected an xuframe.data"),
        ({"test": _data(0)}, InputError, "compare: test: expected at least 1 images"),
        ({"train": _data(3)}, InputError, "compare: train: expected at least 4 images"),
        ({"make_student": None}, InputError, "make_student: expected a callable"),
        ({"teacher_steps": 0}, InputError, "teacher_steps: expected an int >= 1"),
        ({"student_steps": -1}, InputError, "student_steps: expected an int >= 1"),
        ({"teacher": "net"}, InputError, "compare: teacher: expected a torch.nn.Module"),
        ({"configs": {"skd": {}}}, UnknownComponentError, "skd"),
        ({"configs": {"kd": 3}}, InputError, r"configs\['kd'\]: expected a mapping"),
        ({"log": "print"}, InputError, "compare: log: expected a callable"),
        ({"seed": "x"}, InputError, "compare: seed: expected an int"),
    ],
)
def test_compare_refuses_bad_arguments_before_any_training(kwargs, error, message):
    calls: list[int] = []
    with pytest.raises(error, match=message):
        _compare(calls, **kwargs)
    assert not calls  # refused before any network was built


def test_compare_on_digits_and_from_pretrained_check_before_any_training():
    with pytest.raises(UnknownComponentError):
        compare_on_digits(["nope"])
    with pytest.raises(InputError, match="compare_on_digits: teacher_steps: expected an int >= 1"):
        compare_on_digits(["kd"], teacher_steps=0)
    with pytest.raises(InputError, match="compare_on_digits: size: expected an int"):
        compare_on_digits(["kd"], size=math.nan)
    with pytest.raises(InputError, match="compare_from_pretrained: student_steps"):
        compare_from_pretrained(["kd"], student_steps=0)
    with pytest.raises(InputError, match="compare_from_pretrained: distillers"):
        compare_from_pretrained("kd")
