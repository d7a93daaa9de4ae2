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
from xuframe.validation import check_float, check_int, check_memory, check_tensor
from xuframe_plugins.stylekd.stylegan2 import (
    Discriminator,
    MappingNetwork,
    SynthesisNetwork,
    _fir,
    channel_counts,
)

__all__ = ["StyleGAN2", "from_rosinality", "load_rosinality", "to_rosinality"]

#: Working memory one piece of :meth:`StyleGAN2.sample` (or :meth:`~StyleGAN2.update_w_avg`)
#: may take, in bytes: larger requests are computed in pieces of this size.
_PIECE_BYTES = 256 << 20
_MAX_SEED = 2**64 - 1


def _check_seed(seed: Any, what: str) -> int:
    return check_int(seed, what, min=0, max=_MAX_SEED)


def _model_bytes(latent_dim: int, n_mlp: int, channels: dict[int, int]) -> float:
    """The bytes of a generator's float32 parameters and fixed noise maps (an estimate within a
    few per cent), to refuse sizes that cannot be built before allocating them."""
    d = latent_dim
    floats = n_mlp * (d * d + d) + 16 * channels[4]
    cin = channels[4]
    floats += 9 * cin * cin + 2 * (d * cin + cin) + 3 * cin + 2 * cin + 16  # conv1, to_rgb1
    for res, cout in channels.items():
        if res == 4:
            continue
        floats += 9 * cin * cout + 9 * cout * cout + 3 * cout  # two styled convs, to_rgb
        floats += d * (cin + 2 * cout) + 4 * cout + cin + 6
        floats += 2 * res * res  # the two fixed noise maps at this resolution
        cin = cout
    return 4.0 * floats if floats < 10**300 else math.inf


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

    Truncation (``truncation`` psi < 1 in the config, or :meth:`mapping`'s argument) pulls
    ``w`` towards :attr:`w_avg`, the mean ``w``. A new generator's ``w_avg`` is all zeros,
    meaning "not computed yet": the first truncated mapping computes it
    (:meth:`update_w_avg`, 4096 seeded codes) from the mapping network as it is then. Loaded
    weights bring their own; after training the mapping network call :meth:`update_w_avg`
    again (:func:`~xuframe_plugins.stylekd.training.train_gan` does).

    A configuration whose weights would not fit in memory (``XUFRAME_MAX_BYTES``) is refused
    with :class:`~xuframe.errors.ConfigError` before anything is allocated.
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
            if cfg.width > 2**20 or cfg.channel_multiplier > 2**20:  # counts beyond any memory
                check_memory(
                    math.inf,
                    f"stylegan2: the weights for width={cfg.width:g}, channel_multiplier="
                    f"{cfg.channel_multiplier}",
                    error=ConfigError,
                )
            self.channels = channel_counts(cfg.resolution, cfg.width, cfg.channel_multiplier)
        check_memory(
            _model_bytes(cfg.latent_dim, cfg.n_mlp, self.channels),
            f"stylegan2: the weights for resolution={cfg.resolution}, latent_dim="
            f"{cfg.latent_dim}, n_mlp={cfg.n_mlp}, channels={tuple(self.channels.values())}",
            error=ConfigError,
        )
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

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """``w`` ``(N, latent_dim)`` for ``z`` ``(N, latent_dim)``, a finite non-empty float
        tensor of the weights' dtype; ``truncation`` psi (a finite number; < 1 pulls ``w``
        towards :attr:`w_avg`, computed on first use, see the class docs).
        :class:`~xuframe.errors.InputError` for anything else."""
        z = check_tensor(
            z,
            "stylegan2.mapping: z",
            shape=(None, self.latent_dim),
            non_empty=True,
            dtype=self._dtype(),
        )
        truncation = check_float(truncation, "stylegan2.mapping: truncation")
        w = self.mapping_network(z)
        if truncation == 1.0:
            return w
        self._ensure_w_avg()
        return self.w_avg + truncation * (w - self.w_avg)

    def _ensure_w_avg(self) -> None:
        """Compute :attr:`w_avg` when it was never set (all zeros)."""
        if not bool(self.w_avg.any()):
            self.update_w_avg()

    @torch.no_grad()
    def update_w_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Set (and return) the mean ``w`` over ``n`` seeded ``z``: truncation's centre.

        ``n`` is an int >= 1 and ``seed`` one in ``[0, 2**64)`` (numpy ints too); the codes are
        mapped in pieces, so memory stays bounded. :class:`~xuframe.errors.InputError` for
        other values or an ``n`` whose codes alone would not fit in memory."""
        n = check_int(n, "stylegan2.update_w_avg: n", min=1)
        seed = _check_seed(seed, "stylegan2.update_w_avg: seed")
        check_memory(4.0 * n * self.latent_dim, f"stylegan2.update_w_avg: the codes for n={n}")
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=g).to(self.w_avg)
        piece = max(1, _PIECE_BYTES // (8 * self.latent_dim * max(1, self.config.n_mlp)))
        if n <= piece:
            self.w_avg.copy_(self.mapping_network(z).mean(0))
        else:
            total = torch.zeros(self.latent_dim, dtype=torch.float64, device=z.device)
            for chunk in z.split(piece):
                total += self.mapping_network(chunk).double().sum(0)
            self.w_avg.copy_(total / n)
        return self.w_avg

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """``w`` as per-layer codes ``(N, n_latent, latent_dim)``; ``w`` is a finite
        non-empty float tensor ``(N, latent_dim)`` or ``(N, n_latent, latent_dim)`` of the
        weights' dtype (:class:`~xuframe.errors.InputError` otherwise)."""
        w = check_tensor(w, "stylegan2.synthesis: w", non_empty=True, dtype=self._dtype())
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
        """Style mixing: ``w1`` for the layers before ``index``, ``w2`` from it on. ``w1`` and
        ``w2`` are float tensors of one shape ``(N, D)``; ``0 < index < n_latent`` (ints).
        Returns ``(N, n_latent, D)``; :class:`~xuframe.errors.InputError` otherwise."""
        n_latent = check_int(n_latent, "stylegan2.mix: n_latent", min=2)
        index = check_int(index, "stylegan2.mix: index", min=1, max=n_latent - 1)
        w1 = check_tensor(w1, "stylegan2.mix: w1", ndim=2)
        w2 = check_tensor(w2, "stylegan2.mix: w2", shape=tuple(w1.shape))
        return torch.cat(
            [w1[:, None].expand(-1, index, -1), w2[:, None].expand(-1, n_latent - index, -1)], 1
        )

    def _check_noise(self, noise: Any, n: int) -> list[torch.Tensor]:
        fixed = self.synthesis_network.noises()
        if not isinstance(noise, (list, tuple)) or len(noise) != len(fixed):
            got = (
                f"{len(noise)} items" if isinstance(noise, (list, tuple)) else type(noise).__name__
            )
            raise InputError(
                f"stylegan2.synthesis: noise: expected a list of {len(fixed)} maps (one per "
                f"styled convolution), got {got}"
            )
        for i, (given, own) in enumerate(zip(noise, fixed, strict=True)):
            res = own.shape[-1]
            what = f"stylegan2.synthesis: noise[{i}]"
            check_tensor(given, what, shape=(None, 1, res, res), dtype=self._dtype())
            if given.shape[0] not in (1, n):
                raise InputError(
                    f"{what}: expected shape ({n} or 1, 1, {res}, {res}), got {tuple(given.shape)}"
                )
        return list(noise)

    def synthesis(
        self,
        w: torch.Tensor,
        *,
        noise: list[torch.Tensor] | None = None,
        return_features: bool = False,
    ) -> Any:
        """RGB images ``(N, 3, R, R)`` (roughly in [-1, 1], not clamped) from ``w`` ``(N, D)``
        or per-layer ``(N, n_latent, D)``. ``noise``: one finite map ``(N or 1, 1, r, r)`` per
        styled convolution (default: fresh in training mode, the fixed maps in eval mode). With
        ``return_features`` also the list of each resolution block's output, flattened per
        sample (8 px first). :class:`~xuframe.errors.InputError` for a ``w`` or ``noise`` of
        another type, shape or dtype, or holding NaN or inf."""
        ws = self.broadcast(w)
        if noise is not None:
            noise = self._check_noise(noise, len(ws))
        elif not self.training:
            noise = self.synthesis_network.noises()
        return self.synthesis_network(ws, noise=noise, return_features=return_features)

    def _piece(self) -> int:
        """Samples per piece of :meth:`sample`, so that one piece's working memory (the
        per-sample modulated weights and activations of the largest layer, the image and the
        codes) stays within ``_PIECE_BYTES``."""
        largest, cin = 0, self.channels[4]
        for res, cout in self.channels.items():
            largest = max(largest, 9 * cin * cout + 6 * cout * res * res)
            cin = cout
        r = self.config.resolution
        per_sample = 4 * (largest + 4 * 3 * r * r + (self.n_latent + 1) * self.latent_dim)
        return max(1, _PIECE_BYTES // per_sample)

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` images ``(n, 3, R, R)`` in [-1, 1] (clamped) from seeded ``z``, at the
        configured truncation, without grad.

        ``n`` is an int >= 1 (numpy ints too), ``seed`` None (fresh) or an int in
        ``[0, 2**64)``. The images are computed in pieces, so the working memory stays bounded
        whatever ``n``; an ``n`` whose result (and codes) alone would exceed the memory limit
        (:func:`xuframe.validation.memory_limit`) is refused with
        :class:`~xuframe.errors.InputError` before anything is drawn."""
        n = check_int(n, "stylegan2.sample: n", min=1)
        if seed is not None:
            seed = _check_seed(seed, "stylegan2.sample: seed")
        r = self.config.resolution
        check_memory(
            4.0 * n * (3 * r * r + self.latent_dim),
            f"stylegan2.sample: n={n} images of 3 x {r} x {r} (and their codes)",
        )
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen).to(self.w_avg)
        truncation = self.config.truncation
        with torch.no_grad():
            if truncation != 1.0:
                self._ensure_w_avg()
            piece = self._piece()
            if n <= piece:
                return torch.as_tensor(self.synthesis(self.mapping(z, truncation))).clamp(-1, 1)
            out = torch.empty(n, 3, r, r, dtype=z.dtype, device=z.device)
            for start in range(0, n, piece):
                codes = z[start : start + piece]
                images = torch.as_tensor(self.synthesis(self.mapping(codes, truncation)))
                out[start : start + piece] = images.clamp(-1, 1)
            return out

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
    naming the keys it lacks, or a tensor that is not floating-point or holds NaN or inf.
    """
    if not isinstance(state, Mapping):
        raise InputError(
            f"from_rosinality: expected a generator state dict (a mapping of names to tensors), "
            f"got {type(state).__name__}"
        )
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
        check_tensor(tensor, f"from_rosinality: {theirs!r}")  # floating, no NaN or inf
        loaded[mine] = tensor
    loaded["w_avg"] = ours["w_avg"]
    model.load_state_dict(loaded)
    return model


def to_rosinality(model: StyleGAN2) -> dict[str, torch.Tensor]:
    """``model``'s weights as a rosinality-layout ``g_ema`` state dict, the derived FIR
    kernels (``blur.kernel``, ``upsample.kernel``) included as that layout stores them.
    :class:`~xuframe.errors.InputError` when ``model`` is not a :class:`StyleGAN2`."""
    if not isinstance(model, StyleGAN2):
        raise InputError(f"to_rosinality: expected a StyleGAN2, got {type(model).__name__}")
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
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(
            f"load_rosinality: path: expected a str or os.PathLike, got {type(path).__name__}"
        )
    if not isinstance(key, str):
        raise InputError(
            f"load_rosinality: key: expected a str such as 'g_ema', got {type(key).__name__}"
        )
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
        check_tensor(latent_avg, f"load_rosinality: {path}: 'latent_avg'")
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
