"""Training a StyleGAN2 teacher, distilling it with StyleKD, and measuring the teacher-student
gap for the same latent codes.

* :func:`train_gan`: StyleGAN2's recipe on a tensor of real images: Adam (lr 0.002, betas
  0 / 0.99), non-saturating logistic loss, lazy R1 on the discriminator, optional lazy
  path-length regularisation, an exponential moving average of the generator.
* :func:`distill`: the same alternation, with the generator step being
  :meth:`~xuframe_plugins.stylekd.distill.StyleKD.loss`.
* :func:`discrepancy`: pixel L1 and PSNR between teacher and student images for the same
  ``z`` (and noise), and the Frechet distance between the statistics of a fixed feature
  network's outputs on the two sets (:class:`RandomFeatures` by default: a seeded,
  untrained conv net; pass any ``images -> (N, d)`` callable instead, e.g. an Inception).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from xuframe.errors import InputError
from xuframe.metrics import frechet_distance, psnr
from xuframe.validation import check_float, check_int, check_memory, check_tensor
from xuframe_plugins.stylekd.distill import StyleKD, mixed_codes, r1_penalty
from xuframe_plugins.stylekd.generator import StyleGAN2

__all__ = [
    "RandomFeatures",
    "digit_images",
    "discrepancy",
    "distill",
    "path_length_penalty",
    "train_gan",
]


def digit_images(size: int = 16, split: str = "train") -> torch.Tensor:
    """scikit-learn's 8 x 8 digits, upsampled to ``size``, as RGB in [-1, 1] ``(N, 3, s, s)``.
    ``size`` is an int from 1 to 1024, ``split`` ``"train"`` or ``"test"``;
    :class:`~xuframe.errors.InputError` otherwise."""
    from xuframe.data import digits

    size = check_int(size, "digit_images: size", min=1, max=1024)

    grey = digits(split, size=size).images
    return (grey * 2 - 1).expand(-1, 3, -1, -1).contiguous()


class RandomFeatures(nn.Module):
    """A fixed, seeded, untrained feature network for Frechet distances without downloaded
    weights: three strided 3 x 3 conv + leaky ReLU layers (32, 64, 128 channels), then global
    mean and standard deviation per channel (256 features)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        seed = check_int(seed, "RandomFeatures: seed", min=0, max=2**64 - 1)
        g = torch.Generator().manual_seed(seed)
        convs = []
        cin = 3
        for cout in (32, 64, 128):
            conv = nn.Conv2d(cin, cout, 3, 2, 1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / math.sqrt(cin * 9))
                conv.bias.zero_()
            convs += [conv, nn.LeakyReLU(0.2)]
            cin = cout
        self.net = nn.Sequential(*convs).requires_grad_(False).eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 256)`` features of finite float32 images ``(N, 3, H, W)``, ``N >= 1``."""
        images = check_tensor(
            images,
            "RandomFeatures: images",
            shape=(None, 3, None, None),
            non_empty=True,
            dtype=torch.float32,
        )
        x = self.net(images)
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


@torch.no_grad()
def discrepancy(
    teacher: StyleGAN2,
    student: StyleGAN2,
    n: int = 256,
    seed: int = 0,
    feature_net: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Teacher vs student on the same ``n`` seeded ``z`` and the same noise (eval mode):
    ``l1`` (mean absolute pixel difference, images in [-1, 1]), ``psnr`` (dB, peak-to-peak 2)
    and ``fd`` (Frechet distance of ``feature_net`` features; :class:`RandomFeatures` by
    default).

    Teacher and student are :class:`StyleGAN2` of one resolution and latent size; ``n >= 2``
    and ``batch_size >= 1`` are ints, ``seed`` an int >= 0; the ``2 n`` images must fit in
    memory. :class:`~xuframe.errors.InputError` otherwise, before any image is drawn."""
    _check_pair(teacher, student, "discrepancy")
    n = check_int(n, "discrepancy: n", min=2)
    seed = check_int(seed, "discrepancy: seed", min=0, max=2**64 - 1)
    batch_size = check_int(batch_size, "discrepancy: batch_size", min=1)
    if feature_net is not None and not callable(feature_net):
        raise InputError(
            f"discrepancy: feature_net: expected a callable, got {type(feature_net).__name__}"
        )
    r = teacher.config.resolution
    check_memory(8.0 * n * 3 * r * r, f"discrepancy: n={n} teacher and student images")
    feats = feature_net if feature_net is not None else RandomFeatures()
    modes = teacher.training, student.training
    teacher.eval()
    student.eval()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, teacher.latent_dim, generator=g)
    images_t, images_s = [], []
    for chunk in z.split(batch_size):
        images_t.append(teacher.synthesis(teacher.mapping(chunk)).clamp(-1, 1))
        images_s.append(student.synthesis(student.mapping(chunk)).clamp(-1, 1))
    teacher.train(modes[0])
    student.train(modes[1])
    a, b = torch.cat(images_t), torch.cat(images_s)
    return {
        "l1": float((a - b).abs().mean()),
        "psnr": psnr(b, a, data_range=2.0),
        "fd": frechet_distance(
            torch.cat([feats(x) for x in images_t]), torch.cat([feats(x) for x in images_s])
        ),
    }


def path_length_penalty(
    generator: StyleGAN2, n: int, mean_length: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length penalty on ``n`` fresh codes: ``(|J_w^T y| - a)^2`` with ``y``
    random image-space noise and ``a`` the running mean length; returns the penalty and the
    updated mean. ``n`` is an int >= 1, ``mean_length`` a finite scalar tensor;
    :class:`~xuframe.errors.InputError` otherwise."""
    if not isinstance(generator, StyleGAN2):
        raise InputError(
            f"path_length_penalty: expected a StyleGAN2, got {type(generator).__name__}"
        )
    n = check_int(n, "path_length_penalty: n", min=1)
    check_tensor(mean_length, "path_length_penalty: mean_length", shape=())
    w = generator.broadcast(generator.mapping(torch.randn(n, generator.latent_dim)))
    w = w.detach().requires_grad_(True)
    images = generator.synthesis(w)
    y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * y).sum(), w, create_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()
    mean = mean_length + 0.01 * (lengths.mean().detach() - mean_length)
    return (lengths - mean).pow(2).mean(), mean


def _check_pair(teacher: Any, student: Any, owner: str) -> None:
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, StyleGAN2):
            raise InputError(
                f"{owner}: expected the {role} to be a StyleGAN2, got {type(model).__name__}"
            )
    if (teacher.config.resolution, teacher.latent_dim) != (
        student.config.resolution,
        student.latent_dim,
    ):
        raise InputError(
            f"{owner}: teacher and student must share resolution and latent size, got "
            f"{teacher.config.resolution}/{teacher.latent_dim} and "
            f"{student.config.resolution}/{student.latent_dim}"
        )


def _check_run(owner: str, steps: Any, batch_size: Any, lr: Any, seed: Any) -> tuple[int, int, int]:
    steps = check_int(steps, f"{owner}: steps", min=0)
    batch_size = check_int(batch_size, f"{owner}: batch_size", min=1)
    check_float(lr, f"{owner}: lr", min=0, min_open=True)
    seed = check_int(seed, f"{owner}: seed", min=0, max=2**64 - 1)
    return steps, batch_size, seed


def _check_images(images: Any, generator: StyleGAN2, owner: str, at_least: int) -> torch.Tensor:
    r = generator.config.resolution
    images = check_tensor(
        images, f"{owner}: images", shape=(None, 3, r, r), dtype=next(generator.parameters()).dtype
    )
    if len(images) < at_least:
        raise InputError(
            f"{owner}: images: expected at least batch_size={at_least} images, got {len(images)}"
        )
    return images


def _adam(params: Any, lr: float, reg_every: int) -> torch.optim.Adam:
    ratio = reg_every / (reg_every + 1)
    return torch.optim.Adam(params, lr=lr * ratio, betas=(0.0, 0.99**ratio))


def _ema(target: nn.Module, source: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters(), strict=True):
            t.lerp_(s, 1 - decay)


def train_gan(
    generator: StyleGAN2,
    images: torch.Tensor,
    steps: int,
    *,
    batch_size: int = 32,
    lr: float = 0.002,
    r1: float = 10.0,
    d_reg_every: int = 16,
    path_regularize: float = 0.0,
    g_reg_every: int = 4,
    mixing: float = 0.9,
    ema_decay: float = 0.995,
    seed: int = 0,
    progress: bool = False,
) -> StyleGAN2:
    """Train ``generator`` on ``images`` ``(N, 3, R, R)`` in [-1, 1] for ``steps`` steps;
    returns the moving average of its weights (the model to sample from), with ``w_avg``
    set for truncation.

    ``images`` must be finite, of the generator's resolution and dtype, at least
    ``batch_size`` of them; ``steps``, ``batch_size``, ``d_reg_every``, ``g_reg_every`` are ints
    (``steps >= 0``, the others >= 1); ``lr > 0``, ``r1``, ``path_regularize`` >= 0, ``mixing``
    and ``ema_decay`` in [0, 1] are finite numbers. :class:`~xuframe.errors.InputError`
    otherwise, before any step."""
    if not isinstance(generator, StyleGAN2):
        raise InputError(f"train_gan: expected a StyleGAN2, got {type(generator).__name__}")
    steps, batch_size, seed = _check_run("train_gan", steps, batch_size, lr, seed)
    images = _check_images(images, generator, "train_gan", batch_size)
    d_reg_every = check_int(d_reg_every, "train_gan: d_reg_every", min=1)
    g_reg_every = check_int(g_reg_every, "train_gan: g_reg_every", min=1)
    r1 = check_float(r1, "train_gan: r1", min=0)
    path_regularize = check_float(path_regularize, "train_gan: path_regularize", min=0)
    mixing = check_float(mixing, "train_gan: mixing", min=0, max=1)
    ema_decay = check_float(ema_decay, "train_gan: ema_decay", min=0, max=1)
    torch.manual_seed(seed)
    discriminator = generator.discriminator()
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    g_opt = _adam(generator.parameters(), lr, g_reg_every if path_regularize else 1)
    d_opt = _adam(discriminator.parameters(), lr, d_reg_every if r1 else 1)
    generator.train()
    mean_length = torch.zeros(())
    for step in tqdm(range(steps), disable=not progress, desc="train_gan"):
        real = images[torch.randint(len(images), (batch_size,))]
        with torch.no_grad():
            fake = generator.synthesis(mixed_codes(generator, batch_size, mixing))
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
        if r1 and step % d_reg_every == 0:
            d_loss = d_loss + r1 / 2 * d_reg_every * r1_penalty(discriminator, real)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        discriminator.requires_grad_(False)
        fake = generator.synthesis(mixed_codes(generator, batch_size, mixing))
        g_loss = F.softplus(-discriminator(fake)).mean()
        if path_regularize and step % g_reg_every == 0:
            penalty, mean_length = path_length_penalty(
                generator, max(1, batch_size // 2), mean_length
            )
            g_loss = g_loss + path_regularize * g_reg_every * penalty
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        discriminator.requires_grad_(True)
        _ema(ema, generator, ema_decay)
    ema.update_w_avg()
    return ema


def distill(
    distiller: StyleKD,
    images: torch.Tensor,
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 0.002,
    seed: int = 0,
    progress: bool = False,
) -> StyleGAN2:
    """``steps`` alternating discriminator and student steps of ``distiller`` on real
    ``images`` (with the config's lazy path-length penalty on the student, when its weight is
    above 0); returns the student (trained in place).

    ``images`` as for :func:`train_gan` (at least ``batch_size``); ``steps >= 0`` and
    ``batch_size >= 1`` ints, ``lr`` a finite number > 0. :class:`~xuframe.errors.InputError`
    otherwise, before any step."""
    if not isinstance(distiller, StyleKD):
        raise InputError(f"distill: expected a StyleKD distiller, got {type(distiller).__name__}")
    steps, batch_size, seed = _check_run("distill", steps, batch_size, lr, seed)
    assert isinstance(distiller.student, StyleGAN2)
    images = _check_images(images, distiller.student, "distill", batch_size)
    torch.manual_seed(seed)
    student, discriminator = distiller.student, distiller.discriminator
    assert isinstance(student, StyleGAN2)
    cfg = distiller.config
    g_opt = _adam(student.parameters(), lr, cfg.g_reg_every if cfg.path_regularize else 1)
    d_opt = _adam(discriminator.parameters(), lr, cfg.d_reg_every)
    distiller.train()
    mean_length = torch.zeros(())
    for step in tqdm(range(steps), disable=not progress, desc="stylekd"):
        real = images[torch.randint(len(images), (batch_size,))]
        if distiller.config.gan_weight > 0:
            d_loss = sum(distiller.discriminator_loss({"real": real}).values())
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()  # type: ignore[union-attr]
            d_opt.step()
        discriminator.requires_grad_(False)
        loss = sum(distiller.loss({"real": real}).values())
        if cfg.path_regularize and step % cfg.g_reg_every == 0:
            penalty, mean_length = path_length_penalty(
                student, max(1, batch_size // 2), mean_length
            )
            loss = loss + cfg.path_regularize * cfg.g_reg_every * penalty
        g_opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        g_opt.step()
        discriminator.requires_grad_(True)
    return student
