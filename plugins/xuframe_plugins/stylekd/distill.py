"""The ``stylekd`` Distiller: "Mind the Gap in Distilling StyleGANs" (Xu, Hou, Liu, Loy, ECCV
2022), as its released code trains a compressed StyleGAN2 from a full one.

* **Student**: the teacher's architecture with fewer channels (:func:`make_student`), its
  synthesis network initialised at random.
* **Mapping inheritance**: the student's mapping network starts as a copy of the teacher's
  (and is still trained). The paper's finding: the mapping network fixes what a latent code
  means, so with an inherited mapping the student's image for a given ``z`` starts out
  consistent with the teacher's, and distillation closes a small gap instead of a large one.
* **Losses** (weights are config fields): the non-saturating GAN loss against a residual
  discriminator; the L1 distance between teacher and student images for the same ``w`` (and
  the same noise); an optional perceptual term with a user-supplied feature network; an
  optional L1 between the students' and teacher's ``w``; and the **latent-direction loss**:
  each sample's ``w`` is shifted along a semantic direction ``d`` (an eigenvector of the
  teacher's modulation weights, :func:`latent_directions`), both are rendered, and per
  resolution block the rows of cosine similarities between the features of ``w`` and of
  ``w + d`` across the batch are compared, ``KL(softmax(teacher rows) || softmax(student
  rows))``, weight 30 over blocks 2-5 in the paper's setting.
* The discriminator's own step (logistic loss, lazy R1) is :meth:`StyleKD.discriminator_loss`;
  :func:`~xuframe_plugins.stylekd.training.distill` alternates the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import DemoResult, Distiller, config_field, fraction, non_negative, positive
from xuframe.errors import ConfigError, InputError
from xuframe.validation import check_float, check_int, check_tensor
from xuframe_plugins.kd.losses import softmax_kl
from xuframe_plugins.stylekd.generator import StyleGAN2

__all__ = [
    "StyleKD",
    "direction_similarity_loss",
    "latent_directions",
    "make_student",
    "mixed_codes",
    "r1_penalty",
]


def _check_generator(model: Any, what: str) -> StyleGAN2:
    if not isinstance(model, StyleGAN2):
        raise InputError(f"{what}: expected a StyleGAN2, got {type(model).__name__}")
    return model


def make_student(
    teacher: StyleGAN2, ratio: float, *, inherit_mapping: bool = True, seed: int | None = None
) -> StyleGAN2:
    """A student with the teacher's resolution and latent size and ``ratio`` of its channels
    per resolution (rounded), its mapping network copied from the teacher's when
    ``inherit_mapping``; the synthesis network is drawn at random (``seed``).

    :class:`~xuframe.errors.InputError` for a ``teacher`` that is not a :class:`StyleGAN2` or a
    ``seed`` that is not an int >= 0; :class:`~xuframe.errors.ConfigError` for a ``ratio``
    outside ``(0, 1]`` or one that leaves a resolution without channels."""
    _check_generator(teacher, "make_student: teacher")
    ratio = check_float(
        ratio, "make_student: ratio", min=0, min_open=True, max=1, error=ConfigError
    )
    if seed is not None:
        seed = check_int(seed, "make_student: seed", min=0, max=2**64 - 1)
    channels = tuple(round(c * ratio) for c in teacher.channels.values())
    if min(channels) < 1:
        raise ConfigError(
            f"make_student: ratio {ratio} leaves zero channels at some resolution "
            f"(teacher {tuple(teacher.channels.values())} -> {channels}); use a larger ratio"
        )
    if seed is not None:
        torch.manual_seed(seed)
    cfg = teacher.config
    student = StyleGAN2(
        {
            "resolution": cfg.resolution,
            "latent_dim": cfg.latent_dim,
            "n_mlp": cfg.n_mlp,
            "channels": channels,
            "lr_mlp": cfg.lr_mlp,
            "truncation": cfg.truncation,
        }
    )
    if inherit_mapping:
        student.mapping_network.load_state_dict(teacher.mapping_network.state_dict())
        student.w_avg.copy_(teacher.w_avg)
    return student.to(teacher.w_avg.device)


@torch.no_grad()
def latent_directions(generator: StyleGAN2, blocks: int, per_block: int = 5) -> torch.Tensor:
    """Semantic directions in ``w`` space: for each of the first ``blocks`` resolution
    blocks, the ``per_block`` leading eigenvectors (largest eigenvalue first, sorted
    explicitly) of ``A A^T``, where ``A`` holds the block's two modulation weight matrices'
    rows as unit columns. Returns ``(blocks * per_block, latent_dim)``; ints
    ``1 <= blocks <=`` the generator's blocks and ``1 <= per_block <= latent_dim``, else
    :class:`~xuframe.errors.InputError`."""
    _check_generator(generator, "latent_directions: generator")
    convs = generator.synthesis_network.convs
    blocks = check_int(blocks, "latent_directions: blocks", min=1, max=len(convs) // 2)
    per_block = check_int(
        per_block, "latent_directions: per_block", min=1, max=generator.latent_dim
    )
    out = []
    for b in range(blocks):
        a = torch.cat(
            [convs[2 * b].conv.modulation.weight, convs[2 * b + 1].conv.modulation.weight]
        ).T.double()  # (latent_dim, cin1 + cin2)
        a = a / a.norm(dim=0, keepdim=True)
        values, vectors = torch.linalg.eigh(a @ a.T)
        order = torch.argsort(values, descending=True)[:per_block]
        out.append(vectors[:, order].T)
    return torch.cat(out).to(generator.w_avg.dtype)


def direction_similarity_loss(
    student: list[torch.Tensor], teacher: list[torch.Tensor], batch: int
) -> torch.Tensor:
    """Sum over blocks of ``KL(softmax(T) || softmax(S))`` (batch mean), where row ``i`` of
    ``T`` (``S``) holds the cosine similarities between the teacher's (student's) features of
    sample ``i`` and those of every shifted sample ``j``. Feature tensors are
    ``(2 batch, ...)``: the originals, then the shifted. The KL is
    :func:`xuframe_plugins.kd.softmax_kl`, shared with the classifier distillers.

    ``student`` and ``teacher`` are equally long, non-empty lists of finite float tensors
    whose first dimension is ``2 batch`` (``batch`` an int >= 1);
    :class:`~xuframe.errors.InputError` otherwise."""
    batch = check_int(batch, "direction_similarity_loss: batch", min=1)
    for who, feats in (("student", student), ("teacher", teacher)):
        if not isinstance(feats, (list, tuple)) or not feats:
            raise InputError(
                f"direction_similarity_loss: {who}: expected a non-empty list of feature "
                f"tensors, got {type(feats).__name__}"
            )
        for i, f in enumerate(feats):
            check_tensor(f, f"direction_similarity_loss: {who}[{i}]")
            if f.dim() < 2 or f.shape[0] != 2 * batch:
                raise InputError(
                    f"direction_similarity_loss: {who}[{i}]: expected features (2 batch = "
                    f"{2 * batch}, ...), got shape {tuple(f.shape)}"
                )
    if len(student) != len(teacher):
        raise InputError(
            f"direction_similarity_loss: expected as many student as teacher blocks, got "
            f"{len(student)} and {len(teacher)}"
        )
    total = student[0].new_zeros(())
    for fs, ft in zip(student, teacher, strict=True):
        s = F.cosine_similarity(fs[:batch, None], fs[None, batch:], dim=2)
        t = F.cosine_similarity(ft[:batch, None], ft[None, batch:], dim=2)
        total = total + softmax_kl(t, s).mean()
    return total


def mixed_codes(
    generator: StyleGAN2,
    n: int,
    mixing: float,
    *,
    z: list[torch.Tensor] | None = None,
    index: int | None = None,
) -> torch.Tensor:
    """Per-layer codes ``(n, n_latent, D)`` for fresh (or given) ``z``: with probability
    ``mixing`` two codes, the second from a random layer ``index`` on (style mixing).

    ``n`` is an int >= 1, ``mixing`` a number in [0, 1], ``z`` one or two ``(n, D)`` codes,
    ``index`` an int in ``[1, n_latent)``; :class:`~xuframe.errors.InputError` otherwise."""
    _check_generator(generator, "mixed_codes: generator")
    n = check_int(n, "mixed_codes: n", min=1)
    mixing = check_float(mixing, "mixed_codes: mixing", min=0, max=1)
    if z is not None and (not isinstance(z, (list, tuple)) or len(z) not in (1, 2)):
        raise InputError(
            f"mixed_codes: z: expected a list of one or two code tensors, got {type(z).__name__}"
        )
    k = generator.n_latent
    device = generator.w_avg.device
    if z is None:
        z = [torch.randn(n, generator.latent_dim, device=device)]
        if float(torch.rand(())) < mixing:
            z.append(torch.randn(n, generator.latent_dim, device=device))
    ws = [generator.mapping(code) for code in z]
    if len(ws) == 1:
        return ws[0][:, None].expand(-1, k, -1)
    if index is None:
        index = int(torch.randint(1, k, ()))
    return generator.mix(ws[0], ws[1], index, k)


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """R1: the mean squared norm of the discriminator's gradient at the real images
    (a finite, non-empty float batch; :class:`~xuframe.errors.InputError` otherwise)."""
    if not isinstance(discriminator, nn.Module):
        raise InputError(
            f"r1_penalty: expected the discriminator to be a torch.nn.Module, got "
            f"{type(discriminator).__name__}"
        )
    real = check_tensor(real, "r1_penalty: real", non_empty=True)
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


class StyleKD(Distiller):
    """``stylekd``: distils a StyleGAN2 ``teacher`` into a narrower ``student`` (Mind the Gap
    in Distilling StyleGANs, Xu, Hou, Liu, Loy, ECCV 2022; see the module docstring).

    ``batch`` is ``{"real": (N, 3, R, R) images in [-1, 1]}``; the latent codes are drawn
    inside. ``discriminator`` defaults to a fresh residual discriminator of the teacher's size;
    ``feature_net`` (images -> features) enables the perceptual term."""

    name: ClassVar[str] = "stylekd"

    @attrs.frozen
    class Config:
        gan_weight: float = config_field(
            1.0, doc="weight of the non-saturating GAN loss", validator=non_negative
        )
        rgb_weight: float = config_field(
            3.0, doc="weight of the teacher-student image L1", validator=non_negative
        )
        perceptual_weight: float = config_field(
            0.0,
            doc="weight of the feature-network distance (needs feature_net)",
            validator=non_negative,
        )
        style_weight: float = config_field(
            0.0, doc="weight of the L1 between student and teacher w", validator=non_negative
        )
        direction_weight: float = config_field(
            30.0, doc="weight of the latent-direction loss", validator=non_negative
        )
        direction_blocks: tuple[int, ...] = config_field(
            (),
            doc="resolution blocks (1 = 8 px) whose features the direction loss compares "
            "(empty: the paper's 2-5, those the generator has)",
        )
        directions_per_block: int = config_field(
            5, doc="eigenvectors per block in the direction pool", validator=positive
        )
        offset_scale: float = config_field(
            5.0, doc="std of the shift along a direction", validator=positive
        )
        mixing: float = config_field(
            0.9, doc="probability of style mixing per batch", validator=fraction
        )
        r1: float = config_field(
            10.0, doc="R1 penalty weight of the discriminator", validator=non_negative
        )
        d_reg_every: int = config_field(16, doc="lazy R1: every this many discriminator steps", validator=positive)  # fmt: skip
        path_regularize: float = config_field(
            0.0,
            doc="weight of the student's path-length penalty (the code uses 2; 0: off)",
            validator=non_negative,
        )
        g_reg_every: int = config_field(4, doc="lazy path-length penalty: every this many student steps", validator=positive)  # fmt: skip

    def __init__(
        self,
        teacher: nn.Module,
        student: nn.Module,
        config: Any = None,
        *,
        discriminator: nn.Module | None = None,
        feature_net: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(teacher, student, config)
        for role, model in (("teacher", teacher), ("student", student)):
            if not isinstance(model, StyleGAN2):
                raise InputError(
                    f"stylekd: the {role} must be a StyleGAN2, got {type(model).__name__}"
                )
        assert isinstance(teacher, StyleGAN2) and isinstance(student, StyleGAN2)
        if (teacher.config.resolution, teacher.latent_dim) != (
            student.config.resolution,
            student.latent_dim,
        ):
            raise InputError(
                "stylekd: teacher and student must share resolution and latent size, got "
                f"{teacher.config.resolution}/{teacher.latent_dim} and "
                f"{student.config.resolution}/{student.latent_dim}"
            )
        cfg = self.config
        blocks = len(teacher.synthesis_network.convs) // 2
        if cfg.direction_blocks and (
            min(cfg.direction_blocks) < 1 or max(cfg.direction_blocks) > blocks
        ):
            raise ConfigError(
                f"stylekd: direction_blocks must lie in 1..{blocks} for a "
                f"{teacher.config.resolution}-px generator, got {cfg.direction_blocks}"
            )
        #: The blocks the direction loss compares (1 = 8 px).
        self.direction_blocks = cfg.direction_blocks or (
            tuple(b for b in (2, 3, 4, 5) if b <= blocks) or (1,)
        )
        if cfg.perceptual_weight > 0 and feature_net is None:
            raise ConfigError("stylekd: perceptual_weight > 0 needs a feature_net")
        if feature_net is not None and not callable(feature_net):
            raise InputError(
                "stylekd: feature_net: expected a callable (images -> features), got "
                f"{type(feature_net).__name__}"
            )
        if discriminator is not None and not isinstance(discriminator, nn.Module):
            raise InputError(
                "stylekd: discriminator: expected a torch.nn.Module, got "
                f"{type(discriminator).__name__}"
            )
        if cfg.directions_per_block > teacher.latent_dim:
            raise ConfigError(
                f"stylekd: directions_per_block must be <= latent_dim ({teacher.latent_dim}): "
                f"a block has no more eigenvectors, got {cfg.directions_per_block}"
            )
        self.discriminator = discriminator if discriminator is not None else teacher.discriminator()
        self.feature_net = feature_net
        self.register_buffer(
            "directions",
            latent_directions(teacher, max(self.direction_blocks), cfg.directions_per_block),
        )
        self._d_steps = 0

    # -- latent codes --------------------------------------------------------------------
    def _codes(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-layer codes of student and teacher for the same ``z`` (style mixing with
        probability ``mixing``), each ``(n, n_latent, D)``."""
        student, teacher = self.student, self.teacher
        assert isinstance(student, StyleGAN2) and isinstance(teacher, StyleGAN2)
        z = [torch.randn(n, student.latent_dim, device=device)]
        if float(torch.rand(())) < self.config.mixing:
            z.append(torch.randn(n, student.latent_dim, device=device))
        index = int(torch.randint(1, student.n_latent, ()))
        ws = mixed_codes(student, n, 0.0, z=z, index=index)
        with torch.no_grad():
            wt = mixed_codes(teacher, n, 0.0, z=z, index=index)
        return ws, wt

    def _offsets(self, n: int, device: torch.device) -> torch.Tensor:
        pick = torch.randint(len(self.directions), (n,), device=device)
        d = self.directions[pick]
        d = d / d.norm(dim=1, keepdim=True)
        return (d * torch.randn(n, 1, device=device) * self.config.offset_scale)[:, None]

    # -- Distiller --------------------------------------------------------------------------
    def _real(self, batch: Mapping[str, Any], owner: str) -> torch.Tensor:
        """``batch["real"]``: a finite, non-empty ``(N, 3, R, R)`` tensor of the student's
        dtype; :class:`~xuframe.errors.InputError` otherwise."""
        student = self.student
        assert isinstance(student, StyleGAN2)
        r = student.config.resolution
        if not isinstance(batch, Mapping) or "real" not in batch:
            got = "no key 'real'" if isinstance(batch, Mapping) else type(batch).__name__
            raise InputError(
                f"{owner}: expected a batch mapping {{'real': images (N, 3, {r}, {r})}}, got {got}"
            )
        return check_tensor(
            batch["real"],
            f"{owner}: batch['real']",
            shape=(None, 3, r, r),
            non_empty=True,
            dtype=next(student.parameters()).dtype,
        )

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The student's losses on ``batch`` (``{"real": (N, 3, R, R)}``, finite, ``N >= 1``,
        the student's dtype; :class:`~xuframe.errors.InputError` otherwise)."""
        real = self._real(batch, "stylekd.loss")
        student, teacher = self.student, self.teacher
        assert isinstance(student, StyleGAN2) and isinstance(teacher, StyleGAN2)
        cfg = self.config
        n, device = len(real), real.device
        ws, wt = self._codes(n, device)
        direction = cfg.direction_weight > 0
        if direction:
            offsets = self._offsets(n, device)
            ws, wt = torch.cat([ws, ws + offsets]), torch.cat([wt, wt + offsets])
        noise = [
            torch.randn(len(ws), 1, *x.shape[2:], device=device)
            for x in student.synthesis_network.noises()
        ]
        fake, fs = student.synthesis(ws, noise=noise, return_features=True)
        target, ft = self.query_teacher(wt, method="synthesis", noise=noise, return_features=True)
        losses: dict[str, torch.Tensor] = {}
        if cfg.gan_weight > 0:
            losses["gan"] = cfg.gan_weight * F.softplus(-self.discriminator(fake[:n])).mean()
        if cfg.rgb_weight > 0:
            losses["rgb"] = cfg.rgb_weight * (fake[:n] - target[:n]).abs().mean()
        if cfg.perceptual_weight > 0:
            assert self.feature_net is not None
            with torch.no_grad():
                phi_t = self.feature_net(target[:n])
            losses["perceptual"] = (
                cfg.perceptual_weight * (self.feature_net(fake[:n]) - phi_t).pow(2).mean()
            )
        if cfg.style_weight > 0:
            losses["style"] = cfg.style_weight * (ws[:n] - wt[:n]).abs().mean()
        if direction:
            chosen = [b - 1 for b in self.direction_blocks]
            losses["direction"] = cfg.direction_weight * direction_similarity_loss(
                [fs[b] for b in chosen], [ft[b] for b in chosen], n
            )
        return losses

    def discriminator_loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The discriminator's logistic loss on ``batch["real"]`` against fresh student
        samples, plus the lazy R1 penalty every ``d_reg_every`` calls. ``batch`` as for
        :meth:`loss`."""
        real = self._real(batch, "stylekd.discriminator_loss")
        student = self.student
        assert isinstance(student, StyleGAN2)
        with torch.no_grad():
            ws, _ = self._codes(len(real), real.device)
            fake = student.synthesis(ws)
        losses = {
            "d_real": F.softplus(-self.discriminator(real)).mean(),
            "d_fake": F.softplus(self.discriminator(fake)).mean(),
        }
        self._d_steps += 1
        if self.config.r1 > 0 and self._d_steps % self.config.d_reg_every == 0:
            r1 = r1_penalty(self.discriminator, real)
            losses["r1"] = self.config.r1 / 2 * r1 * self.config.d_reg_every
        return losses

    @classmethod
    def example(cls, seed: int = 0) -> tuple[StyleGAN2, StyleGAN2, dict[str, Any]]:
        torch.manual_seed(seed)
        teacher = StyleGAN2({"resolution": 16, "latent_dim": 16, "n_mlp": 2, "width": 1 / 64})
        student = make_student(teacher, 0.5)
        real = torch.rand(4, 3, 16, 16) * 2 - 1
        return teacher, student, {"real": real}

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        from xuframe_plugins.stylekd.demo import stylekd_demo

        return stylekd_demo(seed)
