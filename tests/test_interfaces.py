from __future__ import annotations

import math

import pytest
import torch
from components import IntervalVerifier, LinearGenerator, SoftTargetDistiller
from torch import nn

from xuframe import Verifier
from xuframe.errors import InputError


def test_margin_spec_rows_are_label_minus_other():
    spec = Verifier.margin_spec(torch.tensor([2, 0]), 3)
    assert spec.shape == (2, 2, 3)
    assert spec[0].tolist() == [[-1, 0, 1], [0, -1, 1]]
    assert spec[1].tolist() == [[1, -1, 0], [1, 0, -1]]
    with pytest.raises(InputError, match="labels in 0 .. 2"):
        Verifier.margin_spec(torch.tensor([3]), 3)


def test_verifier_validates_before_bounding():
    ver, net = IntervalVerifier(), nn.Sequential(nn.Linear(2, 2))
    x = torch.zeros(1, 2)
    for kwargs, message in [
        ({"eps": float("inf")}, "eps: expected a finite number"),
        ({"eps": True}, "eps: expected a number"),
        ({"eps": -0.1}, "eps: expected a number >= 0"),
        ({"eps": 0.1, "norm": 2.0}, "norm: expected one of"),
        ({"eps": 0.1, "spec": torch.zeros(2, 1, 2)}, r"spec of shape \(B=1"),
    ]:
        with pytest.raises(InputError, match=message):
            ver.bounds(net, x, **kwargs)
    with pytest.raises(InputError, match="expected a batch"):
        ver.bounds(net, torch.zeros(2), 0.1)
    with pytest.raises(InputError, match="non-empty"):
        ver.bounds(net, torch.zeros(0, 2), 0.1)
    with pytest.raises(InputError, match="torch.nn.Module"):
        ver.bounds(lambda t: t, x, 0.1)


def test_verify_certifies_an_obviously_robust_net():
    net = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    result = IntervalVerifier().verify(net, x, torch.tensor([0, 1]), eps=0.1)
    assert result.verified.tolist() == [True, True]
    assert result.method == "test-interval" and result.norm == math.inf
    assert IntervalVerifier().verify(net, x, torch.tensor([0, 1]), eps=0.6).verified_error == 1.0


def test_generator_sample_validates_and_is_seeded():
    gen = LinearGenerator()
    assert torch.equal(gen.sample(3, seed=5), gen.sample(3, seed=5))
    assert not torch.equal(gen.sample(3, seed=5), gen.sample(3, seed=6))
    assert gen.sample(2).shape == (2, 1, 4, 4)
    with pytest.raises(InputError, match="n: expected an int >= 1"):
        gen.sample(0)


def test_distiller_freezes_the_teacher_and_counts_queries():
    teacher, student, batch = SoftTargetDistiller.example()
    teacher.train()
    dist = SoftTargetDistiller(teacher, student)
    assert not dist.teacher.training and not any(p.requires_grad for p in dist.teacher.parameters())
    dist.train()
    assert dist.student.training and not dist.teacher.training
    dist.loss(batch)
    dist.loss(batch)
    assert dist.teacher_queries == 2 * len(batch["inputs"])
    with pytest.raises(InputError, match="teacher to be a torch.nn.Module"):
        SoftTargetDistiller("resnet", student)
    assert (
        SoftTargetDistiller.from_config({"temperature": 2}, teacher, student).config.temperature
        == 2.0
    )


def test_components_with_weights_round_trip_through_state_dict(tmp_path):
    gen = LinearGenerator()
    torch.save(gen.state_dict(), tmp_path / "g.pt")
    other = LinearGenerator()
    with torch.no_grad():
        for p in other.parameters():
            p.zero_()
    other.load_state_dict(torch.load(tmp_path / "g.pt", weights_only=True))
    assert torch.equal(gen.sample(2, seed=1), other.sample(2, seed=1))


def test_distillers_count_student_steps_in_training_mode_once_per_outer_loss():
    class Doubled(SoftTargetDistiller):
        name = "test-kd-doubled"

        def loss(self, batch):
            return {k: 2 * v for k, v in super().loss(batch).items()}

    for cls in (SoftTargetDistiller, Doubled):
        teacher, student, batch = cls.example(seed=0)
        dist = cls(teacher, student).train()
        dist.loss(batch)
        dist.loss(batch)
        assert dist.student_steps == 2, cls
        dist.eval().loss(batch)
        assert dist.student_steps == 2 and dist.teacher_queries == 3 * len(batch["inputs"])
    with pytest.raises(InputError, match="no method 'forward_features'"):
        dist.query_teacher(batch["inputs"], "forward_features")
