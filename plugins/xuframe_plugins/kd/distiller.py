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
from xuframe.validation import check_float, check_labels, check_tensor
from xuframe_plugins.kd.losses import kd_loss
from xuframe_plugins.kd.nets import ResNetCifar

__all__ = ["KnowledgeDistillation", "kd_loss"]


def _class_count(model: nn.Module) -> int | None:
    """The model's ``num_classes`` when it states one (as ``ResNetCifar`` does), else None."""
    count = getattr(model, "num_classes", None)
    return int(count) if isinstance(count, int) and not isinstance(count, bool) else None


def _weight_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter, if it has one."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def _agreed(teacher: Any, student: Any, owner: str, what: str) -> Any:
    """The value teacher and student share (either one where the other is unknown)."""
    if teacher is not None and student is not None and teacher != student:
        raise InputError(
            f"{owner}: teacher and student disagree on the {what} ({teacher} vs {student})"
        )
    return teacher if teacher is not None else student


class KnowledgeDistillation(Distiller):
    """``kd``: Hinton-style distillation of a classifier.

    A batch is ``{"x": images (B, C, H, W), "y": labels (B,)}`` (what
    :class:`~xuframe.data.ImageClassification` items collate to): ``x`` a finite float tensor
    of the student's dtype with ``B >= 1`` (an empty batch is refused, not a NaN loss),
    ``y`` ``B`` integer labels in ``[0, classes)``. Bad batches raise
    :class:`~xuframe.errors.InputError` before any network runs; so does a teacher and
    student whose ``num_classes`` (or weight dtypes) disagree, at construction. The teacher is frozen and kept
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
        self._num_classes = _agreed(
            _class_count(teacher), _class_count(student), self.name, "number of classes"
        )
        self._dtype = _agreed(
            _weight_dtype(teacher), _weight_dtype(student), self.name, "weight dtype"
        )
        #: Samples the student was trained on (forward passes in training mode).
        self.student_samples = 0
        #: Samples passed through the student without gradients (e.g. UNIX's uncertainty pass).
        self.student_inferences = 0

    def computation(self, teacher_flops: float, student_flops: float) -> float:
        """FLOPs spent so far, as the UNIX paper counts them: a teacher query costs ``Ft``, a
        training pass of the student (forward and backward) ``2 Fs``, a no-grad student pass
        ``Fs``. For vanilla KD on ``N`` samples this is ``N (Ft + 2 Fs)``. Both FLOP counts
        are finite numbers >= 0 (:class:`~xuframe.errors.InputError` otherwise)."""
        teacher_flops = check_float(teacher_flops, "computation: teacher_flops", min=0)
        student_flops = check_float(student_flops, "computation: student_flops", min=0)
        return (
            self.teacher_queries * teacher_flops
            + self.student_samples * 2 * student_flops
            + self.student_inferences * student_flops
        )

    def prepare(self, data: torch.utils.data.Dataset[Any], *, seed: int = 0) -> None:
        """Work done once before the student trains, on the training ``data`` (SSKD trains its
        teacher's projection head here). Vanilla KD needs none."""

    def _batch(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` and ``y`` checked (see the class docs), ``y`` as int64 on ``x``'s device."""
        owner = f"{self.name}.loss"
        if not isinstance(batch, Mapping):
            raise InputError(
                f"{owner}: expected a batch mapping with 'x' (images) and 'y' (labels), got "
                f"{type(batch).__name__}"
            )
        for key in ("x", "y"):
            if key not in batch:
                raise InputError(
                    f"{owner}: expected batch keys 'x' (images) and 'y' (labels), missing {key!r}"
                )
        x = check_tensor(batch["x"], f"{owner}: batch['x']", non_empty=True, dtype=self._dtype)
        if x.ndim < 2:
            raise InputError(
                f"{owner}: batch['x']: expected a batch of inputs (B, ...), got shape "
                f"{tuple(x.shape)}"
            )
        y = check_labels(batch["y"], f"{owner}: batch['y']", n=len(x), n_classes=self._num_classes)
        return x, y.to(x.device)

    def _check_classes(
        self, teacher: torch.Tensor, student: torch.Tensor, y: torch.Tensor | None = None
    ) -> None:
        """Teacher and student logits of one shape, and (when the models do not say their
        ``num_classes``) the labels within the logits' classes."""
        if teacher.shape != student.shape:
            raise InputError(
                f"{self.name}: teacher and student disagree on the number of classes "
                f"({teacher.shape[-1]} vs {student.shape[-1]})"
            )
        if y is not None and self._num_classes is None and student.ndim == 2:
            check_labels(y, f"{self.name}.loss: batch['y']", n_classes=student.shape[1])

    def _count_step(self, samples: int) -> None:
        """Count ``samples`` images trained on (training mode only; the core counts the step)."""
        if self.training:
            self.student_samples += samples

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        x, y = self._batch(batch)
        teacher = self.query_teacher(x)
        student = self.student(x)
        self._check_classes(teacher, student, y)
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
        """From the shipped ResNet-20 digits teacher, train a ResNet-8 student on digits (8 px)
        for a few steps, alone and with KD from the same initialisation and batch order;
        report held-out accuracies and KD's gain over the student alone (``kd/vs_student``)."""
        from xuframe_plugins.kd.training import DEMO_STEPS, compare_from_pretrained

        start = time.perf_counter()
        r = compare_from_pretrained(["kd"], seed=seed)
        seconds = time.perf_counter() - start
        gain = r["kd"] - r["student"]
        return DemoResult(
            {**r, "kd/vs_student": gain, "seconds": seconds},
            summary=(
                f"digits 8 px, shipped ResNet-20 teacher {r['teacher']:.3f}; ResNet-8 student, "
                f"{DEMO_STEPS} steps ({seconds:.0f} s): alone {r['student']:.3f}, with KD "
                f"{r['kd']:.3f}, KD {'above' if gain > 0 else 'not above'} the student alone "
                f"by {gain:+.3f}"
            ),
            headline="kd/vs_student",
            picture=bar_picture({"teacher": r["teacher"], "student": r["student"], "KD": r["kd"]}),
        )
