"""StyleGAN2 in plain PyTorch, the rosinality loader, and the StyleKD distiller."""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.engine import load_checkpoint
from xuframe.errors import ConfigError, InputError, XuframeError
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
    mixed_codes,
    r1_penalty,
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


# -- bad input (issue 20) ----------------------------------------------------------------------
def test_sample_refuses_a_result_that_cannot_fit_at_once_before_drawing_anything():
    g = StyleGAN2(TINY).eval()
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"n=1000000000 images of 3 x 16 x 16.*would need"):
        g.sample(10**9)
    assert time.perf_counter() - start < 1.0


def test_sample_is_computed_in_pieces_with_the_same_images(monkeypatch):
    from xuframe_plugins.stylekd import generator as module

    torch.manual_seed(0)
    g = StyleGAN2({**TINY, "truncation": 0.7}).eval()
    whole = g.sample(7, seed=3)
    sizes = []
    forward = g.synthesis_network.forward

    def counting(ws, **kwargs):
        sizes.append(len(ws))
        return forward(ws, **kwargs)

    monkeypatch.setattr(g.synthesis_network, "forward", counting)
    monkeypatch.setattr(module, "_PIECE_BYTES", 1)  # one sample per piece
    pieces = g.sample(np.int64(7), seed=np.int64(3))
    assert sizes == [1] * 7  # peak memory: one sample's work at a time
    assert pieces.shape == (7, 3, 16, 16)
    assert torch.allclose(pieces, whole, atol=1e-5)  # grouped convolutions per piece: round-off


@pytest.mark.parametrize(
    ("n", "seed", "message"),
    [
        (0, None, "n"),
        (-3, None, "n"),
        (2.0, None, "n"),
        ("2", None, "n"),
        (True, None, "n"),
        (2, -1, "seed"),
        (2, 2**64, "seed"),
        (2, 1.5, "seed"),
    ],
)
def test_sample_refuses_counts_and_seeds_that_are_not_ints(n, seed, message):
    with pytest.raises(InputError, match=message):
        StyleGAN2(TINY).sample(n, seed=seed)


def test_truncation_centres_on_the_mean_w_computed_on_first_use():
    """A new generator's w_avg is computed when truncation first needs it (it used to stay
    at zeros, so truncated samples were pulled towards w = 0 without a word)."""
    torch.manual_seed(0)
    g = StyleGAN2({**TINY, "truncation": 0.5}).eval()
    reference = StyleGAN2(g.config).eval()
    reference.load_state_dict(g.state_dict())
    reference.update_w_avg()
    assert not g.w_avg.any()
    assert torch.allclose(g.sample(4, seed=1), reference.sample(4, seed=1))
    assert torch.allclose(g.w_avg, reference.w_avg) and g.w_avg.any()
    fresh = StyleGAN2(TINY)
    z = torch.randn(3, 16)
    assert torch.allclose(fresh.mapping(z, truncation=0.0), fresh.update_w_avg().expand(3, -1))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"width": float("nan")}, "width"),
        ({"width": float("inf")}, "width"),
        ({"truncation": float("nan")}, "truncation"),
        ({"lr_mlp": -1.0}, "lr_mlp"),
        ({"resolution": 24}, "power of two"),
        ({"resolution": 4}, "power of two"),
        ({"resolution": 2**20}, "would need"),
        ({"latent_dim": 10**6}, "would need"),
        ({"width": 1e200}, "would need"),
        ({"width": 1e308}, "would need"),
        ({"channel_multiplier": 10**400}, "would need"),
        ({"n_mlp": 10**400}, "would need"),
        ({"channels": (4, 10**400, 4)}, "would need"),
        ({"channels": (4, 0, 4)}, "channels"),
        ({"channels": (4, 4)}, "channels"),
    ],
)
def test_generator_configs_that_cannot_work_are_refused_before_allocating(config, message):
    with pytest.raises(ConfigError, match=message):
        StyleGAN2({**TINY, **config})


def test_numpy_ints_configure_a_generator():
    g = StyleGAN2({**TINY, "resolution": np.int64(16), "latent_dim": np.int32(16)})
    assert g.config.resolution == 16 and g.latent_dim == 16


def _bad_generator_calls():
    g = StyleGAN2(TINY).eval()
    w = torch.randn(2, 16)
    noise = g.synthesis_network.noises()
    nan_w = w.clone()
    nan_w[0, 0] = float("nan")
    return [
        (lambda: g.mapping([[0.0] * 16]), "torch.Tensor"),
        (lambda: g.mapping(torch.randn(2, 16).double()), "float32"),
        (lambda: g.mapping(torch.full((2, 16), float("nan"))), "finite"),
        (lambda: g.mapping(torch.randn(0, 16)), "non-empty"),
        (lambda: g.mapping(torch.randn(2, 16), truncation=float("nan")), "truncation"),
        (lambda: g.update_w_avg(0), "n"),
        (lambda: g.update_w_avg(10**13), "would need"),
        (lambda: g.synthesis(nan_w), "finite"),
        (lambda: g.synthesis(torch.randn(2, 5, 16)), "shape"),
        (lambda: g.synthesis(w, noise=noise[:2]), "noise"),
        (lambda: g.synthesis(w, noise=[torch.randn(2, 1, 3, 3)] * len(noise)), r"noise\[0\]"),
        (lambda: g.synthesis(w, noise=[torch.randn(3, *x.shape[1:]) for x in noise]), "2 or 1"),
        (lambda: g.synthesis(w, noise="fresh"), "noise"),
        (lambda: g.mix(w[:1], w[1:], 0, g.n_latent), "index"),
        (lambda: g.mix(w[:1], w, 2, g.n_latent), "w2"),
        (lambda: g.discriminator()(torch.rand(2, 3, 8, 8)), "shape"),
        (lambda: g.discriminator()(torch.full((2, 3, 16, 16), float("nan"))), "finite"),
        (lambda: from_rosinality(None), "state dict"),
        (lambda: to_rosinality("g"), "StyleGAN2"),
        (lambda: load_rosinality(123), "path"),
        (lambda: make_student("g", 0.5), "StyleGAN2"),
        (lambda: make_student(g, float("nan")), "ratio"),
        (lambda: make_student(g, 2), "ratio"),
        (lambda: make_student(g, 0.5, seed=-1), "seed"),
        (lambda: latent_directions(g, 0), "blocks"),
        (lambda: latent_directions(g, 1, 17), "per_block"),
        (lambda: direction_similarity_loss([torch.rand(4, 3)], [torch.rand(4, 3)], 0), "batch"),
        (lambda: direction_similarity_loss([torch.rand(4, 3)], [torch.rand(6, 3)], 2), "2 batch"),
        (lambda: direction_similarity_loss([torch.rand(4, 3)], [], 2), "non-empty list"),
        (lambda: mixed_codes(g, 0, 0.5), "n"),
        (lambda: mixed_codes(g, 2, 1.5), "mixing"),
        (lambda: r1_penalty(g.discriminator(), torch.rand(0, 3, 16, 16)), "non-empty"),
        (lambda: EqualLinear(0, 4), "in_dim"),
        (lambda: EqualLinear(4, 4, lr_mul=float("nan")), "lr_mul"),
        (lambda: EqualConv2d(4, 4, 0), "kernel"),
        (lambda: ModulatedConv2d(4, 4, 3, 2.5), "style_dim"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_generator_calls())))
def test_generator_functions_refuse_bad_input(index):
    call, message = _bad_generator_calls()[index]
    with pytest.raises(XuframeError, match=message):
        call()


def test_checkpoints_with_nan_weights_or_bad_arguments_are_refused(tmp_path):
    g = StyleGAN2(TINY)
    state = to_rosinality(g)
    state["style.1.weight"] = torch.full_like(state["style.1.weight"], float("nan"))
    torch.save({"g_ema": state}, tmp_path / "nan.pt")
    with pytest.raises(InputError, match="style.1.weight.*finite"):
        load_rosinality(tmp_path / "nan.pt")
    torch.save({"g_ema": to_rosinality(g)}, tmp_path / "ok.pt")
    with pytest.raises(InputError, match="key"):
        load_rosinality(tmp_path / "ok.pt", key=0)
    (tmp_path / "zeros.pt").write_bytes(bytes(64))
    with pytest.raises(InputError, match="zeros.pt"):
        load_rosinality(tmp_path / "zeros.pt")
    with pytest.raises(InputError, match="directory"):
        load_rosinality(tmp_path)


def _tiny_distiller(**config):
    teacher, student, batch = StyleKD.example(seed=0)
    return StyleKD(teacher, student, config), batch


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"real": torch.rand(0, 3, 16, 16)}, "non-empty"),
        ({"real": torch.full((2, 3, 16, 16), float("nan"))}, "finite"),
        ({"real": torch.rand(2, 3, 16, 16).double()}, "float32"),
        ({"real": torch.rand(2, 3, 8, 8)}, "shape"),
        ({"images": torch.rand(2, 3, 16, 16)}, "'real'"),
        ([torch.rand(2, 3, 16, 16)], "mapping"),
    ],
)
def test_stylekd_refuses_bad_batches_before_the_teacher_runs(batch, message):
    dist, _ = _tiny_distiller()
    with pytest.raises(InputError, match=message):
        dist.loss(batch)
    with pytest.raises(InputError, match=message):
        dist.discriminator_loss(batch)
    assert dist.teacher_queries == 0


def test_stylekd_refuses_parts_that_cannot_work():
    teacher, student, _ = StyleKD.example(seed=0)
    with pytest.raises(ConfigError, match="directions_per_block"):
        StyleKD(teacher, student, {"directions_per_block": 17})
    with pytest.raises(InputError, match="feature_net"):
        StyleKD(teacher, student, feature_net="inception")
    with pytest.raises(InputError, match="discriminator"):
        StyleKD(teacher, student, discriminator=lambda x: x)
    with pytest.raises(ConfigError, match="offset_scale"):
        StyleKD(teacher, student, {"offset_scale": float("inf")})


def test_training_helpers_refuse_bad_arguments_before_any_step():
    from xuframe_plugins.stylekd.training import distill, train_gan

    torch.manual_seed(0)
    teacher, student, _ = StyleKD.example(seed=0)
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    nan = images.clone()
    nan[0, 0, 0, 0] = float("nan")
    before = [p.clone() for p in teacher.parameters()]
    for call, message in [
        (lambda: train_gan(teacher, nan, 1, batch_size=4), "finite"),
        (lambda: train_gan(teacher, images, 1, batch_size=16), "at least batch_size=16"),
        (lambda: train_gan(teacher, images, -1, batch_size=4), "steps"),
        (lambda: train_gan(teacher, images, 1, batch_size=4, lr=float("nan")), "lr"),
        (lambda: train_gan(teacher, images, 1, batch_size=4, mixing=2.0), "mixing"),
        (lambda: train_gan("g", images, 1), "StyleGAN2"),
        (lambda: distill("kd", images, 1), "StyleKD"),
        (lambda: distill(StyleKD(teacher, student), images.double(), 1, batch_size=4), "float32"),
        (lambda: discrepancy(teacher, student, n=1), "n"),
        (lambda: discrepancy(teacher, StyleGAN2({**TINY, "latent_dim": 8}), n=4), "latent"),
        (lambda: discrepancy(teacher, student, n=10**12), "would need"),
    ]:
        with pytest.raises(InputError, match=message):
            call()
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))


def test_the_demo_shows_the_shipped_students_against_the_teacher_without_training():
    """Before: the demo distilled two students for 40 steps (noise, 15 s), and the one with a
    random mapping ended closer to the teacher. Now it loads the students StyleKD distilled
    (the manifest's numbers, for seed 0) and puts an untrained student beside them."""
    import xuframe
    from xuframe.pictures import image_grid
    from xuframe_plugins.stylekd.pretrained import RANDOM_MAPPING_TAG, STUDENT_TAG

    start = time.perf_counter()
    result = StyleKD.demo(seed=0)
    seconds = time.perf_counter() - start
    m = result.metrics
    assert result.headline == "student/l1" and "256 z: pixel L1" in result.summary
    shipped = xuframe.pretrained_weights("generator", "stylegan2")
    for tag, key in ((STUDENT_TAG, "student"), (RANDOM_MAPPING_TAG, "random_mapping")):
        for name in ("l1", "psnr", "fd"):
            assert m[f"{key}/{name}"] == pytest.approx(
                shipped[tag].metrics[f"gap_{name}"], abs=1e-4
            )
        assert m[f"{key}/heldout_fd"] == pytest.approx(shipped[tag].metrics["fd"], abs=1e-4)
    # distilled: far closer to the teacher, and to real digits, than the untrained student
    assert m["student/l1"] < 0.6 * m["untrained/l1"]
    assert m["student/heldout_fd"] < 0.5 * m["untrained/heldout_fd"]
    # teacher, two shipped students, an untrained one: four rows of the same 8 z
    assert result.picture.shape == image_grid(torch.zeros(32, 3, 16, 16), 8).shape
    assert seconds < 30  # about 3 s on a quiet core


def test_shipped_students_are_half_the_teacher_and_made_from_it():
    import xuframe
    from xuframe_plugins.stylekd.pretrained import RANDOM_MAPPING_TAG, STUDENT_TAG, TEACHER_TAG

    teacher = xuframe.create("generator", "stylegan2", weights=TEACHER_TAG)
    shipped = xuframe.pretrained_weights("generator", "stylegan2")
    for tag in (STUDENT_TAG, RANDOM_MAPPING_TAG):
        student = xuframe.create("generator", "stylegan2", weights=tag)
        half = tuple(round(c / 2) for c in teacher.channels.values())
        assert tuple(student.channels.values()) == half
        assert f"--teacher-weights {TEACHER_TAG}" in shipped[tag].command
        assert shipped[tag].evaluate.endswith(":evaluate_student")


def test_evaluate_student_refuses_what_it_cannot_measure():
    from xuframe_plugins.stylekd.pretrained import evaluate_student

    with pytest.raises(InputError, match="expected a StyleGAN2, got object"):
        evaluate_student(object())
    with pytest.raises(InputError, match="share resolution and latent size"):
        evaluate_student(StyleGAN2(TINY))
    with pytest.raises(InputError, match="seed"):
        evaluate_student(StyleGAN2(TINY), seed=-1)


def test_the_example_ships_students_only_against_the_shipped_teacher(tmp_path):
    """--export-students is measured against weights="digits": anything else is refused
    before any work, and nothing is written."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "examples" / "stylekd" / "distill_digits.py"
    for args in (["--export-students", "t"], ["--export-students", "t", "--teacher-weights", "x"]):
        result = subprocess.run(
            [sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 2 and "--teacher-weights digits" in result.stderr
    assert list(tmp_path.iterdir()) == []
