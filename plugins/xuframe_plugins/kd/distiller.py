"""Hinton-style knowledge distillation (``kd``): the baseline every distiller is measured against.

``loss = ce_weight * CE(student, labels) + kd_weight * T^2 * KL(softmax(t / T) || softmax(s / T))``
with the KL averaged over the batch (``batchmean``), as in Hinton et al. (2015) and the SSKD /
CRD benchmark code (CE 0.1, KD 0.9, T = 4).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import DemoResult, Distiller, config_field, non_negative, positive
from xuframe.errors import InputError
from xuframe.pictures import bar_picture
from xuframe_plugins.kd.losses import kd_loss
from xuframe_plugins.kd.nets import ResNetCifar

__all__ = ["KnowledgeDistillation", "kd_loss"]


class KnowledgeDistillation(Distiller):
    """``kd``: Hinton-style distillation of a classifier.

    A batch is ``{"x": images (B, C, H, W), "y": labels (B,)}`` (what
    :class:`~xuframe.data.ImageClassification` items collate to). The teacher is frozen and kept
    in eval mode (a teacher handed over in train mode is switched to eval, so its batch norm
    does not drift). :attr:`teacher_queries` counts the samples the teacher saw;
    :attr:`student_steps` counts the losses computed in training mode (one per optimiser step);
    :attr:`student_samples` and :attr:`student_inferences` count the samples the student was
    trained on and the samples it only scored (no grad), for :meth:`computation`.

    This class is also the base of the ``sskd`` and ``unix`` distillers: they override
    :meth:`loss` and, for work before the student trains, :meth:`prepare`.
    """

    name: ClassVar[str] = "kd"

    @attrs.frozen
    class Config:
        temperature: float = config_field(4.0, doc="softening temperature T", validator=positive)
        ce_weight: float = config_field(
            0.1, doc="weight of the cross-entropy with the labels", validator=non_negative
        )
        kd_weight: float = config_field(
            0.9, doc="weight of the T^2-scaled KL term", validator=non_negative
        )

    def __init__(self, teacher: nn.Module, student: nn.Module, config: Any = None) -> None:
        super().__init__(teacher, student, config)
        #: Samples the student was trained on (forward passes in training mode).
        self.student_samples = 0
        #: Samples passed through the student without gradients (e.g. UNIX's uncertainty pass).
        self.student_inferences = 0

    def computation(self, teacher_flops: float, student_flops: float) -> float:
        """FLOPs spent so far, as the UNIX paper counts them: a teacher query costs ``Ft``, a
        training pass of the student (forward and backward) ``2 Fs``, a no-grad student pass
        ``Fs``. For vanilla KD on ``N`` samples this is ``N (Ft + 2 Fs)``."""
        return (
            self.teacher_queries * teacher_flops
            + self.student_samples * 2 * student_flops
            + self.student_inferences * student_flops
        )

    def prepare(self, data: torch.utils.data.Dataset[Any], *, seed: int = 0) -> None:
        """Work done once before the student trains, on the training ``data`` (SSKD trains its
        teacher's projection head here). Vanilla KD needs none."""

    def _batch(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        for key in ("x", "y"):
            if key not in batch:
                raise InputError(
                    f"{self.name}.loss: expected batch keys 'x' (images) and 'y' (labels), missing {key!r}"
                )
        x, y = batch["x"], batch["y"]
        if not isinstance(x, torch.Tensor) or x.ndim < 2 or not x.is_floating_point():
            raise InputError(
                f"{self.name}.loss: expected a float tensor of inputs, got {type(x).__name__}"
            )
        return x, y

    def _check_classes(self, teacher: torch.Tensor, student: torch.Tensor) -> None:
        if teacher.shape != student.shape:
            raise InputError(
                f"{self.name}: teacher and student disagree on the number of classes "
                f"({teacher.shape[-1]} vs {student.shape[-1]})"
            )

    def _count_step(self, samples: int) -> None:
        """Count ``samples`` images trained on (training mode only; the core counts the step)."""
        if self.training:
            self.student_samples += samples

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        x, y = self._batch(batch)
        teacher = self.query_teacher(x)
        student = self.student(x)
        self._check_classes(teacher, student)
        self._count_step(len(x))
        cfg = self.config
        return {
            "ce": cfg.ce_weight * F.cross_entropy(student, y),
            "kd": cfg.kd_weight * kd_loss(student, teacher, cfg.temperature),
        }

    @classmethod
    def example(cls, seed: int = 0) -> tuple[nn.Module, nn.Module, dict[str, Any]]:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        teacher, student = ResNetCifar(8, 4, 1), ResNetCifar(8, 4, 1)
        batch = {  # 64 images: a full batch for unix's default keep (48)
            "x": torch.rand(64, 1, 8, 8, generator=g),
            "y": torch.randint(0, 4, (64,), generator=g),
        }
        return teacher, student, batch

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Train a ResNet-20 teacher on digits (16 px), then a ResNet-8 student alone and with
        KD for the same steps; report held-out accuracies and teacher queries."""
        from xuframe_plugins.kd.training import compare_on_digits

        start = time.perf_counter()
        r = compare_on_digits(["kd"], teacher_steps=120, student_steps=150, seed=seed)
        seconds = time.perf_counter() - start
        return DemoResult(
            {**r, "seconds": seconds},
            summary=(
                f"digits 16 px ({seconds:.0f} s): teacher ResNet-20 {r['teacher']:.3f}, "
                f"student ResNet-8 alone {r['student']:.3f}, with KD {r['kd']:.3f} "
                f"({int(r['kd/teacher_queries'])} teacher queries)"
            ),
            headline="kd",
            picture=bar_picture({"teacher": r["teacher"], "student": r["student"], "KD": r["kd"]}),
        )
