"""The kd baseline distiller, the small ResNets, the FLOP counter and upsampled digits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe_plugins.kd import (
    ResNetCifar,
    count_flops,
    kd_loss,
    resnet8,
    resnet20,
    resnet56,
    wide_resnet,
)


@given(st.integers(1, 6), st.integers(2, 9), st.floats(0.5, 8.0), st.integers(0, 10_000))
def test_kd_loss_is_zero_for_equal_logits_and_positive_otherwise(b, c, t, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, generator=g) * 3
    assert float(kd_loss(logits, logits.clone(), t)) == pytest.approx(0.0, abs=1e-5)
    other = logits + torch.randn(b, c, generator=g)
    value = kd_loss(logits, other, t)
    manual = (
        (F.softmax(other / t, 1) * (F.log_softmax(other / t, 1) - F.log_softmax(logits / t, 1)))
        .sum(1)
        .mean()
        * t
        * t
    )
    assert float(value) == pytest.approx(float(manual), rel=1e-4, abs=1e-6)
    assert float(value) >= -1e-9  # KL >= 0, up to float32 round-off (hypothesis found -1.5e-12)


def test_kd_counts_queries_and_steps_and_keeps_the_teacher_frozen():
    from xuframe_plugins.kd import KnowledgeDistillation

    teacher, student, batch = KnowledgeDistillation.example(seed=1)
    teacher.train()  # handed over in train mode: switched to eval, and kept there
    dist = xuframe.create("distiller", "kd", teacher, student)
    dist.train()
    assert not dist.teacher.training
    losses = dist.loss(batch)
    assert set(losses) == {"ce", "kd"} and dist.teacher_queries == len(batch["x"])
    assert dist.student_steps == 1
    dist.eval()
    dist.loss(batch)
    assert dist.student_steps == 1 and dist.teacher_queries == 2 * len(batch["x"])


def test_kd_rejects_mismatched_classes_and_bad_batches():
    dist = xuframe.create("distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 5, 1))
    batch = {"x": torch.rand(2, 1, 8, 8), "y": torch.tensor([0, 1])}
    with pytest.raises(InputError, match="number of classes"):
        dist.loss(batch)
    with pytest.raises(InputError, match="'y'"):
        dist.loss({"x": batch["x"]})
    with pytest.raises(InputError, match=r"\(B, 1, H, W\)"):
        xuframe.create("distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1)).loss(
            {"x": torch.rand(2, 3, 8, 8), "y": batch["y"]}
        )
    with pytest.raises(ConfigError, match="temperature"):
        xuframe.create(
            "distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1), temperature=0.0
        )


def test_small_resnets_have_the_stated_shapes():
    x = torch.rand(2, 3, 32, 32)
    for net in (resnet8(), resnet20(), resnet56(), wide_resnet(14, 2)):
        logits, feat = net.forward_features(x)
        assert logits.shape == (2, 10) and feat.shape == (2, net.feature_dim)
        assert torch.equal(net.fc(feat), logits)
    sizes = [sum(p.numel() for p in n.parameters()) for n in (resnet8(), resnet20(), resnet56())]
    assert sizes[0] < sizes[1] < sizes[2]
    assert wide_resnet(14, 2).feature_dim == 128
    assert ResNetCifar(8, 10, 1)(torch.rand(1, 1, 8, 8)).shape == (1, 10)  # any size >= 4 px
    with pytest.raises(ConfigError, match="6n \\+ 2"):
        ResNetCifar(10)


def test_flop_counter_counts_multiply_adds_twice_per_sample():
    assert count_flops(nn.Linear(10, 5), torch.rand(3, 10)) == 2 * 10 * 5
    conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
    assert count_flops(conv, torch.rand(2, 2, 6, 6)) == 2 * (2 * 9) * 4 * 36
    # the published multiply-adds of the CIFAR ResNets: about 41M (ResNet-20) and 125M (ResNet-56)
    x = torch.rand(1, 3, 32, 32)
    assert count_flops(resnet20(), x) / 2 == pytest.approx(41e6, rel=0.02)
    assert count_flops(resnet56(), x) / 2 == pytest.approx(125e6, rel=0.02)


def test_digits_upsample_to_the_requested_size():
    pytest.importorskip("sklearn")
    from xuframe.data import digits

    small, big = digits("test", seed=3), digits("test", seed=3, size=16)
    assert small.images.shape[1:] == (1, 8, 8) and big.images.shape[1:] == (1, 16, 16)
    assert torch.equal(small.labels, big.labels)
    assert float(big.images.min()) >= 0.0 and float(big.images.max()) <= 1.0
    with pytest.raises(InputError, match="size >= 1"):
        digits("test", size=0)
