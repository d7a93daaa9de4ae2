"""The kd baseline distiller, the small ResNets, the FLOP counter and upsampled digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import xuframe
from xuframe.errors import ConfigError, InputError, XuframeError
from xuframe_plugins.kd import (
    ResNetCifar,
    count_flops,
    kd_loss,
    resnet8,
    resnet20,
    resnet56,
    softmax_entropy,
    softmax_kl,
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
    with pytest.raises(InputError, match="number of classes"):  # known up front: refused at once
        xuframe.create("distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 5, 1))
    unsaid = xuframe.create("distiller", "kd", _flat(4), _flat(5))  # no num_classes: at the logits
    with pytest.raises(InputError, match="number of classes"):
        unsaid.loss({"x": torch.rand(2, 1, 8, 8), "y": torch.tensor([0, 1])})
    dist = xuframe.create("distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1))
    batch = {"x": torch.rand(2, 1, 8, 8), "y": torch.tensor([0, 1])}
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
    with pytest.raises(InputError, match=r"size.*>= 1"):
        digits("test", size=0)


# -- masked classes (-inf logits) ------------------------------------------------------------
@st.composite
def _masked_logits(draw, student_masks_more=False):
    """Teacher and student logits (float64) with random -inf masks, at least one class left
    per row; the student masks only classes the teacher masks too, unless told otherwise."""
    b, c = draw(st.integers(1, 5)), draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    teacher = torch.randn(b, c, generator=g, dtype=torch.float64) * scale
    student = torch.randn(b, c, generator=g, dtype=torch.float64) * scale
    t_mask = torch.rand(b, c, generator=g) < draw(st.floats(0.0, 0.8))
    t_mask[torch.arange(b), torch.randint(0, c, (b,), generator=g)] = False  # one class stays
    s_mask = t_mask & (torch.rand(b, c, generator=g) < draw(st.floats(0.0, 1.0)))
    if student_masks_more:  # the student masks a class the teacher keeps, in row 0
        kept = torch.nonzero(~t_mask[0]).flatten()
        s_mask[0, kept[draw(st.integers(0, len(kept) - 1))]] = True
        if s_mask[0].all():  # never a whole row: keep the classes the teacher masks
            s_mask[0] &= ~t_mask[0]
    teacher[t_mask] = float("-inf")
    student[s_mask] = float("-inf")
    return teacher, student, draw(st.floats(0.5, 8.0))


def _reference_kl(teacher, student, t):
    from scipy.special import rel_entr, softmax

    p = softmax(teacher.numpy() / t, axis=1)
    q = softmax(student.numpy() / t, axis=1)
    return rel_entr(p, q).sum(1)


@settings(max_examples=150, deadline=None)
@given(_masked_logits())
def test_masked_classes_count_as_probability_zero_in_the_kl(case):
    """A -inf logit is a class of probability 0: the KL is finite and equals scipy's
    rel_entr of the two softmaxes, and its gradient is finite."""
    teacher, student, t = case
    student = student.clone().requires_grad_(True)
    rows = softmax_kl(teacher, student, t)
    expected = _reference_kl(teacher, student.detach(), t)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(rows.detach().numpy(), expected, rtol=1e-7, atol=1e-10)
    loss = kd_loss(student, teacher, t)
    assert float(loss.detach()) == pytest.approx(
        float(expected.mean()) * t * t, rel=1e-7, abs=1e-10
    )
    loss.backward()
    assert torch.isfinite(student.grad).all()
    masked = torch.isneginf(student.detach())
    assert (student.grad[masked] == 0).all()  # a masked class gets no gradient


@settings(max_examples=60, deadline=None)
@given(_masked_logits(student_masks_more=True))
def test_a_class_the_student_masks_but_the_teacher_keeps_gives_inf(case):
    """KL(p || q) is +inf when q = 0 where p > 0: the row says so (never NaN); the others
    keep their values, and the gradient stays finite."""
    teacher, student, t = case
    student = student.clone().requires_grad_(True)
    rows = softmax_kl(teacher, student, t)
    expected = _reference_kl(teacher, student.detach(), t)
    assert np.isposinf(expected[0]) and float(rows[0].detach()) == float("inf")
    np.testing.assert_allclose(rows.detach().numpy(), expected, rtol=1e-7, atol=1e-10)
    loss = kd_loss(student, teacher, t)
    assert float(loss.detach()) == float("inf")
    loss.backward()
    assert torch.isfinite(student.grad).all()


def test_kd_loss_with_a_masked_class_in_float32_is_finite_with_finite_grads():
    teacher = torch.tensor([[2.0, float("-inf"), 0.5], [1.0, -1.0, float("-inf")]])
    for student in (torch.tensor([[1.0, 3.0, 0.0], [0.0, 2.0, 1.0]]), teacher.clone()):
        student = student.clone().requires_grad_(True)
        loss = kd_loss(student, teacher, 4.0)
        expected = _reference_kl(teacher.double(), student.detach().double(), 4.0).mean() * 16
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-5, abs=1e-6)
        loss.backward()
        assert torch.isfinite(student.grad).all()


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_a_row_masked_everywhere_or_nan_is_refused(who):
    good = torch.zeros(2, 3)
    bad = good.clone()
    bad[1] = float("-inf")
    args = (bad, good) if who == "teacher" else (good, bad)  # softmax_kl(teacher, student)
    with pytest.raises(InputError, match=f"row 1 of the {who} logits is -inf in every class"):
        softmax_kl(*args)
    with pytest.raises(InputError, match="row 1"):
        softmax_entropy(bad)
    bad[1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        kd_loss(bad, good, 2.0)


@settings(max_examples=60, deadline=None)
@given(_masked_logits())
def test_entropy_of_masked_logits_is_scipys_and_has_finite_grads(case):
    from scipy.special import entr, softmax

    logits = case[0].clone().requires_grad_(True)
    value = softmax_entropy(logits)
    expected = entr(softmax(logits.detach().numpy(), axis=1)).sum(1)
    np.testing.assert_allclose(value.detach().numpy(), expected, rtol=1e-7, atol=1e-10)
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_the_kd_and_sskd_distillers_train_through_a_teacher_that_masks_a_class():
    """A teacher masking a class with -inf (the student not) gives finite losses and grads."""

    class Masked(nn.Module):
        def __init__(self, net: ResNetCifar) -> None:
            super().__init__()
            self.net = net
            self.feature_dim = net.feature_dim

        def _mask(self, logits: torch.Tensor) -> torch.Tensor:
            return logits.masked_fill(torch.arange(logits.shape[1]) == 0, float("-inf"))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self._mask(self.net(x))

        def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, feature = self.net.forward_features(x)
            return self._mask(logits), feature

    torch.manual_seed(0)
    for name in ("kd", "sskd"):
        student = ResNetCifar(8, 4, 1)
        dist = xuframe.create("distiller", name, Masked(ResNetCifar(8, 4, 1)), student).train()
        losses = dist.loss({"x": torch.rand(4, 1, 8, 8), "y": torch.randint(1, 4, (4,))})
        total = sum(losses.values())
        assert torch.isfinite(total), (name, losses)
        total.backward()
        assert all(torch.isfinite(p.grad).all() for p in student.parameters() if p.grad is not None)


# -- bad input (issue 20): refused before any network runs, never a NaN loss -------------------
def _flat(classes: int) -> nn.Module:
    """A classifier that does not state its num_classes (so labels are checked at the logits)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, classes))


_CONFIGS = {"kd": {}, "sskd": {"head_steps": 0}, "unix": {"keep": 4, "boundary": 2}}


def _bad_batches() -> dict[str, tuple[object, str]]:
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 4, (8,))
    nan = x.clone()
    nan[3, 0, 2, 2] = float("nan")
    return {
        "float labels": ({"x": x, "y": y.float()}, "integer labels"),
        "labels out of range": ({"x": x, "y": y + 4}, r"labels in \[0, 3\]"),
        "negative labels": ({"x": x, "y": y - 4}, r"labels in \[0, 3\]"),
        "too few labels": ({"x": x, "y": y[:3]}, "expected 8 labels"),
        "labels of 2 dims": ({"x": x, "y": y[:, None]}, "1-D"),
        "string labels": ({"x": x, "y": "abcdefgh"}, "labels"),
        "NaN image": ({"x": nan, "y": y}, "finite"),
        "inf image": ({"x": x * float("inf"), "y": y}, "finite"),
        "empty batch": ({"x": x[:0], "y": y[:0]}, "non-empty"),
        "0 x 0 images": ({"x": torch.rand(8, 1, 0, 0), "y": y}, "non-empty"),
        "float64 images": ({"x": x.double(), "y": y}, "float32"),
        "integer images": ({"x": (x * 9).long(), "y": y}, "floating-point"),
        "numpy images": ({"x": x.numpy(), "y": y}, "torch.Tensor"),
        "a 1-D tensor": ({"x": torch.rand(8), "y": y}, r"\(B, \.\.\.\)"),
        "a list batch": ([x, y], "mapping"),
        "None": (None, "mapping"),
    }


@pytest.mark.parametrize("name", ["kd", "sskd", "unix"])
@pytest.mark.parametrize("case", list(_bad_batches()))
def test_bad_batches_are_refused_before_the_teacher_runs(name, case):
    batch, message = _bad_batches()[case]
    dist = xuframe.create(
        "distiller", name, ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1), **_CONFIGS[name]
    )
    with pytest.raises(InputError, match=message):
        dist.loss(batch)
    assert dist.teacher_queries == 0 and dist.student_samples == 0


@pytest.mark.parametrize("name", ["kd", "unix"])
def test_labels_are_checked_against_the_logits_when_the_models_do_not_say_their_classes(name):
    dist = xuframe.create("distiller", name, _flat(4), _flat(4), **_CONFIGS[name])
    x = torch.rand(8, 1, 8, 8)
    with pytest.raises(InputError, match=r"labels in \[0, 3\]"):
        dist.loss({"x": x, "y": torch.full((8,), 4)})
    losses = dist.loss({"x": x, "y": torch.randint(0, 4, (8,))})
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize("name", ["kd", "sskd", "unix"])
def test_teacher_and_student_that_cannot_work_together_are_refused_at_construction(name):
    with pytest.raises(InputError, match="number of classes"):
        xuframe.create(
            "distiller", name, ResNetCifar(8, 4, 1), ResNetCifar(8, 5, 1), **_CONFIGS[name]
        )
    with pytest.raises(InputError, match="weight dtype"):
        xuframe.create(
            "distiller",
            name,
            ResNetCifar(8, 4, 1).double(),
            ResNetCifar(8, 4, 1),
            **_CONFIGS[name],
        )
    with pytest.raises(InputError, match="torch.nn.Module"):
        xuframe.create("distiller", name, "teacher", ResNetCifar(8, 4, 1), **_CONFIGS[name])
    cls = xuframe.registry.get("distiller", name)
    with pytest.raises(InputError, match="torch.nn.Module"):  # the class itself, not create()
        cls(ResNetCifar(8, 4, 1), None, _CONFIGS[name])


@pytest.mark.parametrize("name", ["kd", "sskd", "unix"])
@pytest.mark.parametrize(
    "field", [("temperature", float("nan")), ("temperature", float("inf")), ("kd_weight", -1.0)]
)
def test_config_values_that_cannot_work_are_refused(name, field):
    with pytest.raises(ConfigError, match=field[0]):
        xuframe.create(
            "distiller", name, ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1), **{field[0]: field[1]}
        )


def test_float64_models_take_float64_batches():
    dist = xuframe.create(
        "distiller", "kd", ResNetCifar(8, 4, 1).double(), ResNetCifar(8, 4, 1).double()
    )
    losses = dist.loss({"x": torch.rand(4, 1, 8, 8, dtype=torch.float64), "y": [0, 1, 2, 3]})
    assert all(v.dtype == torch.float64 and torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kd_loss([[1.0]], torch.zeros(1, 1), 4.0), "torch.Tensor"),
        (lambda: kd_loss(torch.zeros(0, 3), torch.zeros(0, 3), 4.0), "B >= 1"),
        (lambda: kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), float("nan")), "temperature"),
        (lambda: kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), float("inf")), "temperature"),
        (lambda: kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), "4"), "temperature"),
        (lambda: softmax_kl(torch.zeros(2, 3), torch.zeros(2, 3), 0.0), "temperature"),
        (lambda: softmax_kl(torch.zeros(2, 3), torch.zeros(2, 4)), "shape"),
        (
            lambda: softmax_kl(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3).long()),
            "floating-point",
        ),
        (lambda: softmax_entropy(torch.ones(2, 3, dtype=torch.int32)), "floating-point"),
        (lambda: softmax_entropy(None), "shape"),
        (lambda: ResNetCifar("20"), "depth"),
        (lambda: ResNetCifar(20, 10.0), "num_classes"),
        (lambda: ResNetCifar(8, 4, 1)(torch.rand(2, 1, 8, 8).double()), "float32"),
        (lambda: ResNetCifar(8, 4, 1)([[0.0]]), "torch.Tensor"),
        (lambda: count_flops("model", torch.rand(1, 1, 8, 8)), "nn.Module"),
        (lambda: count_flops(ResNetCifar(8, 4, 1), torch.rand(0, 1, 8, 8)), "non-empty"),
        (lambda: count_flops(ResNetCifar(8, 4, 1), [1.0]), "torch.Tensor"),
    ],
)
def test_the_shared_losses_nets_and_flop_counter_refuse_bad_input(call, message):
    with pytest.raises(XuframeError, match=message):
        call()


def test_numpy_ints_are_ints_for_the_nets():
    assert ResNetCifar(np.int64(8), np.int32(4), np.int64(1)).num_classes == 4
    assert resnet8(np.int64(3), 1).fc.out_features == 3


def test_the_computation_count_refuses_flops_that_are_not_numbers():
    dist = xuframe.create("distiller", "kd", ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1))
    with pytest.raises(InputError, match="teacher_flops"):
        dist.computation(float("nan"), 1.0)
    with pytest.raises(InputError, match="student_flops"):
        dist.computation(1.0, -1.0)
    assert dist.computation(np.float32(2.0), np.int64(1)) == 0.0


def test_a_network_ships_in_float16_and_loads_back_checked(tmp_path, monkeypatch):
    """save_network / load_network: the manifest's metric is measured on what ships; an
    unknown tag and a damaged file are named."""
    from xuframe.errors import CheckpointError
    from xuframe_plugins.kd import pretrained

    monkeypatch.setattr(pretrained, "_folder", lambda package: tmp_path)
    torch.manual_seed(0)
    net = ResNetCifar(8, 10, 1)
    entry = pretrained.save_network(
        net, "xuframe_plugins.kd", "resnet8", "t",
        config={"depth": 8, "num_classes": 10, "in_channels": 1}, build=ResNetCifar,
        evaluate="xuframe_plugins.kd.pretrained:evaluate", command="make t",
    )  # fmt: skip
    assert entry.command == "make t" and 0 <= entry.metrics["accuracy"] <= 1
    state = torch.load(entry.path, weights_only=True)
    assert state["fc.weight"].dtype == torch.float16
    loaded = pretrained.load_network("xuframe_plugins.kd", "resnet8", "t", ResNetCifar)
    assert not loaded.training
    assert entry.measure(loaded) == pytest.approx(dict(entry.metrics), abs=0)
    with pytest.raises(InputError, match=r"no 'resnet8' weights 'x' \(it ships: t\)"):
        pretrained.load_network("xuframe_plugins.kd", "resnet8", "x", ResNetCifar)
    data = bytearray(entry.path.read_bytes())
    data[-20] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        pretrained.load_network("xuframe_plugins.kd", "resnet8", "t", ResNetCifar)


def test_the_demo_distils_the_shipped_teacher_and_kd_beats_the_student_alone():
    """Before: a 120-step teacher trained in the demo, and the student alone beat KD."""
    from xuframe_plugins.kd import KnowledgeDistillation
    from xuframe_plugins.kd.pretrained import pretrained_teacher

    result = KnowledgeDistillation.demo(seed=0)
    m = result.metrics
    assert result.headline == "kd/vs_student" and m["kd/vs_student"] == m["kd"] - m["student"]
    assert m["teacher"] >= 0.99 and m["kd/vs_student"] > 0  # measured: +0.013 (5 of 5 seeds)
    assert m["kd/teacher_queries"] == 40 * 64 and "shipped" in result.summary
    assert not pretrained_teacher().training
