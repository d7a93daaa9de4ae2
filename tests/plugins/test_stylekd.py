"""StyleGAN2 in plain PyTorch, the rosinality loader, and the StyleKD distiller."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.engine import load_checkpoint
from xuframe.errors import ConfigError, InputError
from xuframe.metrics import frechet_distance
from xuframe_plugins.stylekd import (
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    StyleGAN2,
    StyleKD,
    direction_similarity_loss,
    from_rosinality,
    latent_directions,
    load_rosinality,
    make_student,
    to_rosinality,
)
from xuframe_plugins.stylekd.training import discrepancy

TINY = {"resolution": 16, "latent_dim": 16, "n_mlp": 2, "width": 1 / 32}


@settings(max_examples=15, deadline=None)
@given(
    cin=st.integers(4, 64),
    cout=st.integers(4, 32),
    kernel=st.sampled_from([1, 3]),
    seed=st.integers(0, 1000),
)
def test_demodulation_keeps_unit_variance_per_output_channel(cin, cout, kernel, seed):
    """With demodulation, unit-variance white input gives unit-variance output per channel,
    whatever the weights and the style."""
    torch.manual_seed(seed)
    conv = ModulatedConv2d(cin, cout, kernel, style_dim=8)
    with torch.no_grad():
        conv.weight.mul_(torch.rand(1, cout, 1, 1, 1) * 3 + 0.1)  # uneven output channels
        out = conv(torch.randn(2, cin, 48, 48), torch.randn(2, 8) * 3)
    std = out[:, :, 2:-2, 2:-2].std((2, 3))  # away from the zero padding
    assert torch.allclose(std, torch.ones_like(std), atol=0.12)


@pytest.mark.parametrize("fan_in", [16, 256, 2048])
def test_equalised_learning_rate_keeps_the_initial_scale_whatever_the_fan_in(fan_in):
    torch.manual_seed(0)
    x = torch.randn(4096, fan_in)
    with torch.no_grad():
        std = EqualLinear(fan_in, 64)(x).std()
    assert abs(float(std) - 1.0) < 0.1
    with torch.no_grad():
        conv = EqualConv2d(fan_in // 16, 32, 3, padding=1)
        conv_std = conv(torch.randn(8, fan_in // 16, 24, 24))[:, :, 1:-1, 1:-1].std()
    assert abs(float(conv_std) - 1.0) < 0.1


def test_generator_shapes_determinism_truncation_and_mixing():
    torch.manual_seed(0)
    g = StyleGAN2(TINY).eval()
    a, b = g.sample(3, seed=5), g.sample(3, seed=5)
    assert a.shape == (3, 3, 16, 16) and torch.equal(a, b) and a.abs().max() <= 1
    assert g.n_latent == 6 and list(g.channels) == [4, 8, 16]
    w = g.mapping(torch.randn(2, 16))
    g.update_w_avg(256)
    assert torch.allclose(g.mapping(torch.randn(2, 16), truncation=0.0), g.w_avg.expand(2, -1))
    mixed = g.mix(w[:1], w[1:], 2, g.n_latent)
    assert torch.equal(mixed[0, :2], w[0].expand(2, -1)) and torch.equal(
        mixed[0, 2:], w[1].expand(4, -1)
    )
    image, feats = g.synthesis(mixed, return_features=True)
    assert image.shape == (1, 3, 16, 16) and [f.shape[1] for f in feats] == [16 * 64, 16 * 256]


def test_rosinality_layout_round_trip_gives_the_same_images(tmp_path):
    torch.manual_seed(1)
    g = StyleGAN2({**TINY, "channels": (6, 5, 3)}).eval()
    with torch.no_grad():  # make the noise strengths matter
        for m in g.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.3)
    state = to_rosinality(g)
    assert "style.1.weight" in state and "convs.0.conv.blur.kernel" in state
    assert "to_rgbs.1.upsample.kernel" in state and "noises.noise_4" in state
    path = tmp_path / "ckpt.pt"
    torch.save({"g_ema": state, "latent_avg": torch.arange(16.0)}, path)
    loaded = load_rosinality(path).eval()
    assert loaded.channels == g.channels and loaded.config.n_mlp == 2
    assert torch.equal(loaded.w_avg, torch.arange(16.0))  # truncation's centre comes along
    assert torch.equal(loaded.sample(4, seed=3), g.sample(4, seed=3))


def _train_py_args(lmdb: str) -> argparse.Namespace:
    """``args`` exactly as rosinality/stylegan2-pytorch's ``train.py`` builds it: its parser
    (every option, its types and defaults), then the attributes the script sets."""
    parser = argparse.ArgumentParser(description="StyleGAN2 trainer")
    parser.add_argument("path", type=str)
    parser.add_argument("--arch", type=str, default="stylegan2")
    parser.add_argument("--iter", type=int, default=800000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--n_sample", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--r1", type=float, default=10)
    parser.add_argument("--path_regularize", type=float, default=2)
    parser.add_argument("--path_batch_shrink", type=int, default=2)
    parser.add_argument("--d_reg_every", type=int, default=16)
    parser.add_argument("--g_reg_every", type=int, default=4)
    parser.add_argument("--mixing", type=float, default=0.9)
    parser.add_argument("--ckpt", type=str, default=None)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--channel_multiplier", type=int, default=2)
    parser.add_argument("--wandb", action="store_true")
    parser.add_argument("--local_rank", type=int, default=0)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--augment_p", type=float, default=0)
    parser.add_argument("--ada_target", type=float, default=0.6)
    parser.add_argument("--ada_length", type=int, default=500 * 1000)
    parser.add_argument("--ada_every", type=int, default=256)
    args = parser.parse_args([lmdb, "--size", "16", "--augment", "--batch", "4"])
    args.distributed = False
    args.latent = 16
    args.n_mlp = 2
    args.start_iter = 0
    return args


def _train_py_checkpoint(g: StyleGAN2, g_ema: StyleGAN2, args: object) -> dict[str, object]:
    """The dict rosinality's ``train.py`` saves every 10000 iterations."""
    d = g.discriminator()
    ratio_g, ratio_d = 4 / 5, 16 / 17
    g_optim = torch.optim.Adam(
        g.parameters(), lr=0.002 * ratio_g, betas=(0**ratio_g, 0.99**ratio_g)
    )
    d_optim = torch.optim.Adam(
        d.parameters(), lr=0.002 * ratio_d, betas=(0**ratio_d, 0.99**ratio_d)
    )
    for model, optim in ((g, g_optim), (d, d_optim)):  # a step, so the state holds tensors
        sum(p.sum() for p in model.parameters()).backward()
        optim.step()
    return {
        "g": to_rosinality(g),
        "d": d.state_dict(),
        "g_ema": to_rosinality(g_ema),
        "g_optim": g_optim.state_dict(),
        "d_optim": d_optim.state_dict(),
        "args": args,
        "ada_aug_p": 0.0375,
    }


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_checkpoint_of_rosinalitys_train_py_loads(tmp_path, zip_format):
    torch.manual_seed(2)
    g, g_ema = StyleGAN2(TINY).eval(), StyleGAN2(TINY).eval()
    path = tmp_path / "010000.pt"
    torch.save(
        _train_py_checkpoint(g, g_ema, _train_py_args(str(tmp_path / "lmdb"))),
        path,
        _use_new_zipfile_serialization=zip_format,
    )
    assert torch.equal(load_rosinality(path).eval().sample(2, seed=1), g_ema.sample(2, seed=1))
    assert torch.equal(load_rosinality(path, "g").eval().sample(2, seed=1), g.sample(2, seed=1))
    with pytest.raises(
        InputError,
        match=r"holds keys g, d, g_ema, g_optim, d_optim, args, ada_aug_p; expected 'ema'",
    ):
        load_rosinality(path, "ema")
    with pytest.raises(
        InputError, match="'d_optim' holds a dict, expected a generator state dict|not a rosinality"
    ):
        load_rosinality(path, "d_optim")


class _Unknown:
    """A class the loader has never heard of: it must be named and refused, never built."""

    built = 0

    def __setstate__(self, state: object) -> None:
        _Unknown.built += 1


class _Exploit:
    """Unpickled, it would run a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_checkpoint_holding_an_unknown_global_is_refused_and_never_run(tmp_path, zip_format):
    torch.manual_seed(0)
    g = StyleGAN2(TINY)
    marker = tmp_path / "pwned"
    exploit = tmp_path / "exploit.pt"
    checkpoint = _train_py_checkpoint(g, g, _Exploit(marker))
    torch.save(checkpoint, exploit, _use_new_zipfile_serialization=zip_format)
    system = f"{os.system.__module__}.system"  # posix.system on Linux
    with pytest.raises(InputError, match=rf"{exploit}.*refused.*{re.escape(system)}"):
        load_rosinality(exploit)
    assert not marker.exists()
    unknown = tmp_path / "unknown.pt"
    torch.save(
        {**checkpoint, "args": _Unknown()}, unknown, _use_new_zipfile_serialization=zip_format
    )
    name = f"{_Unknown.__module__}._Unknown"
    with pytest.raises(InputError, match=re.escape(name)):
        load_rosinality(unknown)
    assert _Unknown.built == 0
    # the Namespace is admitted for rosinality files only, not for xuframe's own checkpoints
    namespace = tmp_path / "namespace.pt"
    torch.save(
        {"format": "xuframe-checkpoint", "version": 1, "args": argparse.Namespace()}, namespace
    )
    with pytest.raises(InputError, match="argparse.Namespace"):
        load_checkpoint(namespace)


def test_bad_generators_and_checkpoints_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="power of two"):
        StyleGAN2({"resolution": 24})
    with pytest.raises(ConfigError, match="channels needs 3"):
        StyleGAN2({**TINY, "channels": (4, 4)})
    with pytest.raises(InputError, match="not a rosinality"):
        from_rosinality({"conv.weight": torch.zeros(1)})
    g = StyleGAN2(TINY)
    state = to_rosinality(g)
    state["convs.1.conv.weight"] = torch.zeros(1, 2, 2, 3, 3)
    with pytest.raises(InputError, match="convs.1.conv.weight"):
        from_rosinality(state)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="holds a list, expected"):
        load_rosinality(tmp_path / "list.pt")
    with pytest.raises(ConfigError, match="zero channels"):
        make_student(g, 0.02)
    with pytest.raises(InputError, match=r"\(N, 16\)"):
        g.mapping(torch.randn(2, 8))


def test_student_inherits_the_mapping_so_the_same_z_means_the_same_w():
    torch.manual_seed(0)
    teacher = StyleGAN2(TINY).eval()
    inherited = make_student(teacher, 0.5, seed=1)
    assert list(inherited.channels.values()) == [8, 8, 8]  # half of 16
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            inherited.mapping_network.parameters(),
            teacher.mapping_network.parameters(),
            strict=True,
        )
    )
    z = torch.randn(8, 16)
    assert torch.equal(inherited.mapping(z), teacher.mapping(z))
    random_mapping = make_student(teacher, 0.5, inherit_mapping=False, seed=1)
    assert not torch.equal(random_mapping.mapping(z), teacher.mapping(z))


def test_latent_directions_are_sorted_unit_eigenvectors():
    torch.manual_seed(0)
    g = StyleGAN2(TINY)
    d = latent_directions(g, blocks=2, per_block=3)
    assert d.shape == (6, 16)
    assert torch.allclose(d.norm(dim=1), torch.ones(6), atol=1e-5)
    convs = g.synthesis_network.convs
    a = torch.cat([convs[0].conv.modulation.weight, convs[1].conv.modulation.weight]).T.double()
    a = a / a.norm(dim=0, keepdim=True)
    gram = a @ a.T
    gram = gram.detach()
    rayleigh = [float(v.double() @ gram @ v.double()) for v in d[:3]]
    assert rayleigh == sorted(rayleigh, reverse=True)  # largest eigenvalue first
    assert rayleigh[0] == pytest.approx(float(torch.linalg.eigvalsh(gram).max()), rel=1e-6)


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(2, 6),
    dims=st.lists(st.integers(2, 20), min_size=1, max_size=3),
    seed=st.integers(0, 999),
)
def test_direction_loss_is_zero_for_identical_features_and_positive_otherwise(batch, dims, seed):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(2 * batch, d, generator=g) for d in dims]
    assert float(
        direction_similarity_loss(feats, [f.clone() for f in feats], batch)
    ) == pytest.approx(0.0, abs=1e-6)
    other = [torch.randn(2 * batch, d, generator=g) for d in dims]
    assert float(direction_similarity_loss(other, feats, batch)) > 0


def test_distiller_losses_reach_the_student_only_and_vanish_for_a_copied_teacher():
    teacher, student, batch = StyleKD.example(seed=0)
    dist = StyleKD(teacher, student, {"mixing": 0.0})
    losses = dist.loss(batch)
    assert set(losses) == {"gan", "rgb", "direction"}
    assert dist.teacher_queries == 2 * len(batch["real"]) and dist.student_steps == 1
    sum(losses.values()).backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert any(p.grad is not None for p in student.synthesis_network.parameters())
    twin = StyleGAN2(teacher.config)
    twin.load_state_dict(teacher.state_dict())
    copied = StyleKD(teacher, twin, {"mixing": 0.0, "gan_weight": 0.0})
    for name, value in copied.loss(batch).items():
        assert float(value.detach()) == pytest.approx(0.0, abs=1e-6), name
    with pytest.raises(InputError, match=r"\(N, 3, 16, 16\)"):
        dist.loss({"real": torch.zeros(2, 3, 8, 8)})
    with pytest.raises(ConfigError, match="direction_blocks"):
        StyleKD(teacher, student, {"direction_blocks": (7,)})
    with pytest.raises(ConfigError, match="feature_net"):
        StyleKD(teacher, student, {"perceptual_weight": 1.0})


def test_discrepancy_and_frechet_distance():
    torch.manual_seed(0)
    teacher = StyleGAN2(TINY).eval()
    same = discrepancy(teacher, teacher, n=16)
    assert same["l1"] == 0.0 and same["fd"] == pytest.approx(0.0, abs=1e-6)
    other = discrepancy(teacher, make_student(teacher, 0.5, seed=2), n=16)
    assert other["l1"] > 0.01 and other["fd"] > 0
    a = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(a, a + 1.0) == pytest.approx(4.0, rel=1e-6)  # shifted means only


def test_distillation_with_the_path_length_penalty_trains_the_student():
    from xuframe_plugins.stylekd.training import distill

    teacher, student, batch = StyleKD.example(seed=1)
    before = [p.detach().clone() for p in student.synthesis_network.parameters()]
    dist = StyleKD(teacher, student, {"path_regularize": 2.0, "g_reg_every": 1, "d_reg_every": 1})
    distill(dist, batch["real"].repeat(4, 1, 1, 1), 2, batch_size=4)
    after = list(student.synthesis_network.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(torch.isfinite(p).all() for p in after)
    assert dist.student_steps == 2 and all(p.grad is None for p in teacher.parameters())
