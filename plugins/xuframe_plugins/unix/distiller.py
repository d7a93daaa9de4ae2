"""UNIX: "Computation-Efficient Knowledge Distillation via Uncertainty-Aware Mixup"
(Xu, Liu, Loy, Pattern Recognition 2023).

Per batch of ``B`` images: an extra no-grad student pass scores each image's uncertainty (the
entropy of the student's softmax, :func:`entropy`); the images are ordered from most to least
uncertain; image at rank ``r`` is mixed with a randomly chosen image of the batch with weight
``m_r = lambda * sigmoid(w (r / B - (2b - 1) / (2B)))`` (:func:`mixing_weights`, one
``lambda ~ Beta(alpha, alpha)`` per batch), ``x'_r = (1 - m_r) x_r + m_r x_perm(r)``; only the
first ``k`` mixed images go on to the teacher and the student. The most uncertain images are
kept almost intact, the least uncertain are mixed hard or dropped, so the teacher sees ``k`` of
``B`` images. The loss is the mixup-weighted cross-entropy plus KD on the ``k`` images.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F

from xuframe import DemoResult, config_field, non_negative, positive
from xuframe.errors import InputError
from xuframe.pictures import bar_picture
from xuframe.validation import check_float, check_int
from xuframe_plugins.kd.distiller import KnowledgeDistillation
from xuframe_plugins.kd.losses import kd_loss, softmax_entropy

__all__ = ["UncertaintyMixupKD", "computation_fraction", "entropy", "mixing_weights"]


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """The entropy of ``softmax(logits)`` per row, in nats (``(B, classes)`` -> ``(B,)``);
    ``-inf`` logits are masked classes (``0 log 0 = 0``). See
    :func:`xuframe_plugins.kd.softmax_entropy`, which this is."""
    return softmax_entropy(logits)


def mixing_weights(batch: int, boundary: float, sharpness: float) -> torch.Tensor:
    """``sigmoid(w (r / B - (2b - 1) / (2B)))`` for ranks ``r = 0 .. B-1``: increasing in ``r``,
    crossing 1/2 half-way between ranks ``b - 1`` and ``b``. ``batch`` is an int >= 1,
    ``boundary`` and ``sharpness`` finite numbers (:class:`~xuframe.errors.InputError`
    otherwise)."""
    batch = check_int(batch, "mixing_weights: batch", min=1)
    boundary = check_float(boundary, "mixing_weights: boundary")
    sharpness = check_float(sharpness, "mixing_weights: sharpness")
    r = torch.arange(batch, dtype=torch.float32)
    return torch.sigmoid(sharpness * (r / batch - (2 * boundary - 1) / (2 * batch)))


def computation_fraction(
    keep: int, batch: int, teacher_flops: float, student_flops: float
) -> float:
    """UNIX's computation relative to vanilla KD: ``[k (Ft + 2 Fs) + B Fs] / [B (Ft + 2 Fs)]``.

    ``1 <= keep <= batch`` (ints), FLOPs finite numbers >= 0 with ``Ft + 2 Fs > 0``;
    :class:`~xuframe.errors.InputError` otherwise."""
    batch = check_int(batch, "computation_fraction: batch", min=1)
    keep = check_int(keep, "computation_fraction: keep", min=1, max=batch)
    teacher_flops = check_float(teacher_flops, "computation_fraction: teacher_flops", min=0)
    student_flops = check_float(student_flops, "computation_fraction: student_flops", min=0)
    if teacher_flops + 2 * student_flops == 0:
        raise InputError("computation_fraction: expected teacher or student FLOPs > 0, got 0 and 0")
    kd = batch * (teacher_flops + 2 * student_flops)
    return (keep * (teacher_flops + 2 * student_flops) + batch * student_flops) / kd


class UncertaintyMixupKD(KnowledgeDistillation):
    """``unix``: computation-efficient KD by uncertainty-aware mixup.

    ``keep`` (k) of each batch of ``B`` images reach the teacher; a batch smaller than
    ``keep`` raises :class:`~xuframe.errors.InputError` (use ``drop_last`` in the loader).
    The uncertainty pass runs in the student's current mode, as the reference code does (in
    training it also updates batch-norm statistics on the clean batch). Random draws (lambda,
    the mixing partners) come from torch's global generator, which the Trainer seeds.
    """

    name: ClassVar[str] = "unix"

    @attrs.frozen
    class Config(KnowledgeDistillation.Config):
        """``kd``'s fields (the cross-entropy is the mixed one), then UNIX's."""

        keep: int = config_field(
            48, doc="k: images per batch that reach the teacher", validator=positive
        )
        boundary: int = config_field(
            32, doc="b: ranks below b are mixed weakly, from b on strongly", validator=positive
        )
        sharpness: float = config_field(
            10.0, doc="w: slope of the mixing-weight sigmoid", validator=non_negative
        )
        alpha: float = config_field(
            1.0, doc="lambda ~ Beta(alpha, alpha), one per batch", validator=positive
        )

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        x, y = self._batch(batch)
        cfg = self.config
        n = len(x)
        if cfg.keep > n:
            raise InputError(
                f"unix: keep (k={cfg.keep}) exceeds the batch size B={n}; use batches of at "
                "least k images (drop_last=True in the loader) or a smaller keep"
            )
        with torch.no_grad():
            scores = entropy(self.student(x))
        self.student_inferences += n
        order = torch.argsort(scores, descending=True, stable=True)
        lam = torch.distributions.Beta(cfg.alpha, cfg.alpha).sample().to(x)
        m = lam * mixing_weights(n, cfg.boundary, cfg.sharpness).to(x)
        partner = torch.randperm(n, device=x.device)
        per_item = m.reshape(-1, *([1] * (x.ndim - 1)))  # broadcast over any input shape
        mixed = (1 - per_item) * x[order] + per_item * x[partner]
        k = cfg.keep
        mixed, m, y_a, y_b = mixed[:k], m[:k], y[order][:k], y[partner][:k]
        teacher = self.query_teacher(mixed)
        student = self.student(mixed)
        self._check_classes(teacher, student, y)
        self._count_step(k)
        ce = (1 - m) * F.cross_entropy(student, y_a, reduction="none") + m * F.cross_entropy(
            student, y_b, reduction="none"
        )
        return {
            "ce": cfg.ce_weight * ce.mean(),
            "kd": cfg.kd_weight * kd_loss(student, teacher, cfg.temperature),
        }

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """From the shipped ResNet-20 digits teacher, train a ResNet-8 student on digits (8 px)
        for a few steps, alone, with KD and with UNIX from the same initialisation and batch
        order; report held-out accuracies, UNIX's gap to KD (``unix/vs_kd``) and what each
        spent: teacher forward passes and FLOPs (teacher forwards, student training passes
        and UNIX's no-grad uncertainty pass), relative to KD."""
        from xuframe_plugins.kd.training import DEMO_STEPS, compare_from_pretrained

        start = time.perf_counter()
        r = compare_from_pretrained(["kd", "unix"], seed=seed)
        seconds = time.perf_counter() - start
        gap = r["unix"] - r["kd"]
        forwards = r["unix/teacher_queries"] / r["kd/teacher_queries"]
        return DemoResult(
            {**r, "unix/vs_kd": gap, "unix/teacher_forwards": forwards, "seconds": seconds},
            summary=(
                f"digits 8 px, shipped ResNet-20 teacher {r['teacher']:.3f}; ResNet-8 student, "
                f"{DEMO_STEPS} steps ({seconds:.0f} s): alone {r['student']:.3f}, KD "
                f"{r['kd']:.3f}, UNIX {r['unix']:.3f} ({gap:+.3f} against KD) with "
                f"{forwards:.0%} of KD's teacher forward passes and {r['unix/computation']:.0%} "
                "of its FLOPs (teacher and student together)"
            ),
            headline="unix/vs_kd",
            picture=bar_picture(
                {
                    "teacher": r["teacher"],
                    "student": r["student"],
                    "KD": r["kd"],
                    "UNIX": r["unix"],
                }
            ),
        )
