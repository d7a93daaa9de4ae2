"""The ``stylegan2`` Generator component, and loading checkpoints in the layout of the widely
used rosinality/stylegan2-pytorch (the ``g_ema`` state dict of its ``.pt`` files)."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch

from xuframe import DemoResult, Generator, config_field, positive
from xuframe.data import load_torch_file
from xuframe.errors import ConfigError, InputError
from xuframe_plugins.stylekd.stylegan2 import (
    Discriminator,
    MappingNetwork,
    SynthesisNetwork,
    _fir,
    channel_counts,
)

__all__ = ["StyleGAN2", "from_rosinality", "load_rosinality", "to_rosinality"]


def _power_of_two(_: Any, attribute: Any, value: int) -> None:
    if value < 8 or value & (value - 1):
        raise ConfigError(f"{attribute.name}: expected a power of two >= 8, got {value}")


class StyleGAN2(Generator):
    """``stylegan2``: StyleGAN2's generator in plain PyTorch (Karras et al., CVPR 2020), sized
    by config; see :mod:`xuframe_plugins.stylekd.stylegan2`.

    ``channels`` gives the channel count per resolution from 4 px up (as a pruned or
    distilled model has); empty means StyleGAN2's schedule times ``width``. In training mode
    every styled convolution draws fresh noise; in eval mode it uses the fixed noise maps, so
    :meth:`sample` with a seed is deterministic.
    """

    name: ClassVar[str] = "stylegan2"

    @attrs.frozen
    class Config:
        resolution: int = config_field(
            32, doc="image side, a power of two >= 8", validator=_power_of_two
        )
        latent_dim: int = config_field(128, doc="size of z and w", validator=positive)
        n_mlp: int = config_field(8, doc="layers of the mapping network", validator=positive)
        width: float = config_field(
            0.125,
            doc="StyleGAN2's channel counts times this (when channels is empty)",
            validator=positive,
        )
        channel_multiplier: int = config_field(
            2, doc="StyleGAN2's channel multiplier above 32 px", validator=positive
        )
        channels: tuple[int, ...] = config_field(
            (), doc="channels per resolution from 4 px up (empty: by width)"
        )
        lr_mlp: float = config_field(
            0.01, doc="learning-rate multiplier of the mapping network", validator=positive
        )
        truncation: float = config_field(1.0, doc="truncation psi of sample() (1: none)", validator=positive)  # fmt: skip

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        resolutions = [2**i for i in range(2, int(math.log2(cfg.resolution)) + 1)]
        if cfg.channels:
            if len(cfg.channels) != len(resolutions) or min(cfg.channels) < 1:
                raise ConfigError(
                    f"stylegan2: channels needs {len(resolutions)} positive counts (for "
                    f"{resolutions} px), got {cfg.channels}"
                )
            self.channels = dict(zip(resolutions, cfg.channels, strict=True))
        else:
            self.channels = channel_counts(cfg.resolution, cfg.width, cfg.channel_multiplier)
        self.mapping_network = MappingNetwork(cfg.latent_dim, cfg.n_mlp, cfg.lr_mlp)
        self.synthesis_network = SynthesisNetwork(cfg.resolution, cfg.latent_dim, self.channels)
        self.register_buffer("w_avg", torch.zeros(cfg.latent_dim))

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    @property
    def n_latent(self) -> int:
        """How many per-layer codes ``w`` the synthesis network takes."""
        return self.synthesis_network.n_latent

    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """``w`` ``(N, latent_dim)`` for ``z``; ``truncation`` psi < 1 pulls it towards
        :meth:`update_w_avg`'s mean ``w``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise InputError(
                f"stylegan2.mapping: expected z of shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        w = self.mapping_network(z)
        return w if truncation == 1.0 else self.w_avg + truncation * (w - self.w_avg)

    @torch.no_grad()
    def update_w_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Set (and return) the mean ``w`` over ``n`` seeded ``z``: truncation's centre."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=g).to(self.w_avg.device)
        self.w_avg.copy_(self.mapping_network(z).mean(0))
        return self.w_avg

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """``w`` as per-layer codes ``(N, n_latent, latent_dim)``."""
        if w.dim() == 2:
            w = w[:, None].expand(-1, self.n_latent, -1)
        if w.dim() != 3 or w.shape[1:] != (self.n_latent, self.latent_dim):
            raise InputError(
                f"stylegan2.synthesis: expected w of shape (N, {self.latent_dim}) or "
                f"(N, {self.n_latent}, {self.latent_dim}), got {tuple(w.shape)}"
            )
        return w

    @staticmethod
    def mix(w1: torch.Tensor, w2: torch.Tensor, index: int, n_latent: int) -> torch.Tensor:
        """Style mixing: ``w1`` for the layers before ``index``, ``w2`` from it on."""
        if not 0 < index < n_latent:
            raise InputError(f"stylegan2.mix: expected 0 < index < {n_latent}, got {index}")
        return torch.cat(
            [w1[:, None].expand(-1, index, -1), w2[:, None].expand(-1, n_latent - index, -1)], 1
        )

    def synthesis(
        self,
        w: torch.Tensor,
        *,
        noise: list[torch.Tensor] | None = None,
        return_features: bool = False,
    ) -> Any:
        """RGB images ``(N, 3, R, R)`` (roughly in [-1, 1], not clamped) from ``w`` ``(N, D)``
        or per-layer ``(N, n_latent, D)``. ``noise``: one map ``(N or 1, 1, r, r)`` per styled
        convolution (default: fresh in training mode, the fixed maps in eval mode). With
        ``return_features`` also the list of each resolution block's output, flattened per
        sample (8 px first)."""
        if noise is None and not self.training:
            noise = self.synthesis_network.noises()
        return self.synthesis_network(
            self.broadcast(w), noise=noise, return_features=return_features
        )

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` images in [-1, 1] (clamped) from seeded ``z``, at the configured truncation."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"stylegan2.sample: expected n >= 1 (int), got {n!r}")
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen).to(self.w_avg.device)
        with torch.no_grad():
            w = self.mapping(z, self.config.truncation)
            return torch.as_tensor(self.synthesis(w)).clamp(-1, 1)

    def discriminator(self) -> Discriminator:
        """A new residual discriminator for this generator's resolution and channels."""
        return Discriminator(self.config.resolution, self.channels)

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """The shipped digits weights (``weights="digits"``): 32 samples and the Frechet
        distance (fixed random features) of samples to the held-out digits, against an
        untrained generator of the same size."""
        from xuframe_plugins.stylekd.demo import stylegan2_demo

        return stylegan2_demo(cls, seed)

    @classmethod
    def from_rosinality(cls, state: Mapping[str, torch.Tensor], **config: Any) -> StyleGAN2:
        """See :func:`from_rosinality`."""
        return from_rosinality(state, **config)


# -- rosinality layout ---------------------------------------------------------------------
_STYLED = {  # our StyledConv / ToRGB names -> rosinality's, after the layer prefix
    "conv.weight": "conv.weight",
    "conv.modulation.weight": "conv.modulation.weight",
    "conv.modulation.bias": "conv.modulation.bias",
    "noise_strength": "noise.weight",
    "bias": "activate.bias",
}
_RGB = {
    "conv.weight": "conv.weight",
    "conv.modulation.weight": "conv.modulation.weight",
    "conv.modulation.bias": "conv.modulation.bias",
    "bias": "bias",
}


def _names(n_mlp: int, n_convs: int, n_noise: int) -> dict[str, str]:
    """Our parameter and buffer names -> rosinality's ``g_ema`` names."""
    names = {}
    for k in range(n_mlp):
        for p in ("weight", "bias"):
            names[f"mapping_network.layers.{k}.{p}"] = f"style.{k + 1}.{p}"
    names["synthesis_network.const.input"] = "input.input"
    for ours, theirs in _STYLED.items():
        names[f"synthesis_network.conv1.{ours}"] = f"conv1.{theirs}"
        for i in range(n_convs):
            names[f"synthesis_network.convs.{i}.{ours}"] = f"convs.{i}.{theirs}"
    for ours, theirs in _RGB.items():
        names[f"synthesis_network.to_rgb1.{ours}"] = f"to_rgb1.{theirs}"
        for i in range(n_convs // 2):
            names[f"synthesis_network.to_rgbs.{i}.{ours}"] = f"to_rgbs.{i}.{theirs}"
    for i in range(n_noise):
        names[f"synthesis_network.noise_{i}"] = f"noises.noise_{i}"
    return names


def _count(state: Mapping[str, Any], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for key in state if (m := regex.fullmatch(key))})


def from_rosinality(state: Mapping[str, torch.Tensor], **config: Any) -> StyleGAN2:
    """A :class:`StyleGAN2` holding a rosinality-layout generator state dict (``g_ema``).

    The architecture (resolution, latent size, mapping depth, channels per resolution) is read
    from the tensors' names and shapes; ``config`` may add the other options (``lr_mlp``,
    ``truncation``). Raises :class:`~xuframe.errors.InputError` for a dict of another layout,
    naming the keys it lacks.
    """
    needed = ("style.1.weight", "input.input", "conv1.conv.weight", "to_rgb1.conv.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        sample = ", ".join(sorted(state)[:5])
        raise InputError(
            f"from_rosinality: not a rosinality stylegan2 generator state dict (no {missing}; "
            f"keys start {sample})"
        )
    for k in (*needed, *(f"convs.{i}.conv.weight" for i in range(0, 64, 2))):
        value = state.get(k)
        if k in state and not (isinstance(value, torch.Tensor) and value.dim() >= 2):
            raise InputError(
                f"from_rosinality: {k!r} holds {type(value).__name__} "
                f"{tuple(value.shape) if isinstance(value, torch.Tensor) else ''}, expected a "
                "weight tensor of 2 or more dimensions"
            )
    n_mlp = _count(state, r"style\.(\d+)\.weight")
    n_convs = _count(state, r"convs\.(\d+)\.conv\.weight")
    if n_convs % 2:
        raise InputError(f"from_rosinality: expected an even number of convs, found {n_convs}")
    resolution = 2 ** (n_convs // 2 + 2)
    channels = [int(state["conv1.conv.weight"].shape[1])]
    absent = [f"convs.{2 * j}.conv.weight" for j in range(n_convs // 2)]
    absent = [k for k in absent if k not in state]
    if absent:
        raise InputError(f"from_rosinality: the state dict lacks {absent[0]!r}")
    channels += [int(state[f"convs.{2 * j}.conv.weight"].shape[1]) for j in range(n_convs // 2)]
    latent_dim = int(state["style.1.weight"].shape[1])
    model = StyleGAN2(
        {
            "resolution": resolution,
            "latent_dim": latent_dim,
            "n_mlp": n_mlp,
            "channels": tuple(channels),
            **config,
        }
    )
    names = _names(n_mlp, n_convs, model.synthesis_network.n_layers)
    ours = model.state_dict()
    loaded = {}
    for mine, theirs in names.items():
        if theirs not in state:
            raise InputError(f"from_rosinality: the state dict lacks {theirs!r}")
        tensor = state[theirs]
        if not isinstance(tensor, torch.Tensor):
            raise InputError(
                f"from_rosinality: {theirs!r} holds a {type(tensor).__name__}, expected a tensor"
            )
        if tuple(tensor.shape) != tuple(ours[mine].shape):
            raise InputError(
                f"from_rosinality: {theirs!r} has shape {tuple(tensor.shape)}, expected "
                f"{tuple(ours[mine].shape)}"
            )
        loaded[mine] = tensor
    loaded["w_avg"] = ours["w_avg"]
    model.load_state_dict(loaded)
    return model


def to_rosinality(model: StyleGAN2) -> dict[str, torch.Tensor]:
    """``model``'s weights as a rosinality-layout ``g_ema`` state dict, the derived FIR
    kernels (``blur.kernel``, ``upsample.kernel``) included as that layout stores them."""
    names = _names(
        model.config.n_mlp, len(model.synthesis_network.convs), model.synthesis_network.n_layers
    )
    ours = model.state_dict()
    out = {theirs: ours[mine].detach().clone() for mine, theirs in names.items()}
    fir = _fir(gain=4.0)  # rosinality stores the derived FIR kernels; ours are not state
    for i in range(0, len(model.synthesis_network.convs), 2):
        out[f"convs.{i}.conv.blur.kernel"] = fir.clone()
    for i in range(len(model.synthesis_network.to_rgbs)):
        out[f"to_rgbs.{i}.upsample.kernel"] = fir.clone()
    return out


def load_rosinality(path: str | os.PathLike[str], key: str = "g_ema", **config: Any) -> StyleGAN2:
    """Build the ``key`` generator (``g_ema`` by default; ``g`` for the raw one) of a
    rosinality/stylegan2-pytorch ``.pt`` file: a checkpoint of its ``train.py`` (``g``,
    ``d``, ``g_ema``, ``g_optim``, ``d_optim``, ``args``, ``ada_aug_p``), a converted
    release (``g_ema``, ``latent_avg``), or a bare generator state dict.

    The file is read with ``torch.load(weights_only=True)`` admitting, besides tensors and
    plain data, exactly one class: ``argparse.Namespace`` (``train.py``'s ``args``, whose
    values are strings, numbers, booleans and ``None``). Nothing in the file is called. The
    file's ``latent_avg``, where present, becomes ``w_avg`` (truncation's centre).

    Raises :class:`~xuframe.errors.InputError` naming the file and what was found: missing,
    a folder, empty, truncated or not a torch file (with its first bytes), any other class
    in the pickle (naming the global, never loading it), not a dict, no ``key`` (naming the
    keys it holds), or a ``key`` that is not a rosinality generator state dict.
    """
    what = "a rosinality stylegan2 checkpoint"
    checkpoint = load_torch_file(path, what, allowed_globals=_ROSINALITY_GLOBALS)
    if not isinstance(checkpoint, Mapping):
        raise InputError(
            f"load_rosinality: {path} holds a {type(checkpoint).__name__}, expected {what} "
            f"(a dict with {key!r})"
        )
    if key not in checkpoint:
        if "style.1.weight" in checkpoint:  # a bare generator state dict
            return _from_file(path, checkpoint, config)
        keys = ", ".join(map(str, list(checkpoint)[:12])) + (
            ", ..." if len(checkpoint) > 12 else ""
        )
        expected = "g_ema (or g), or a bare generator state dict (style.1.weight, ...)"
        raise InputError(
            f"load_rosinality: {path} holds keys {keys or 'none'}; expected {key!r} ({expected})"
        )
    state = checkpoint[key]
    if not isinstance(state, Mapping):
        raise InputError(
            f"load_rosinality: {path}: {key!r} holds a {type(state).__name__}, expected a "
            "generator state dict"
        )
    model = _from_file(path, state, config)
    latent_avg = checkpoint.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == model.latent_dim:
        model.w_avg.copy_(latent_avg.reshape(-1))
    return model


# What a rosinality train.py checkpoint holds besides tensors and plain data: its ``args``.
_ROSINALITY_GLOBALS = (argparse.Namespace,)


def _from_file(
    path: str | os.PathLike[str], state: Mapping[str, Any], config: Mapping[str, Any]
) -> StyleGAN2:
    try:
        return from_rosinality(state, **config)
    except InputError as exc:
        raise InputError(f"load_rosinality: {path}: {exc}") from exc
