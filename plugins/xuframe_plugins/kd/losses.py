"""The distillation losses that compare softmaxes, written once for every distiller.

``kd``, ``sskd`` (logits of the upright and rotated views, similarity rows), ``unix`` (the
student's entropy and KD on mixed images) and ``stylekd`` (the direction-similarity rows)
all call these functions, so -inf is handled the same way everywhere.

Masked classes: a logit of ``-inf`` is a class of probability exactly 0 (common practice to
mask a class). It contributes nothing to a KL divergence or an entropy (``0 log 0 = 0``),
and its logit receives a zero gradient; the value and the gradient of every other entry are
those of the unmasked classes alone, finite wherever the divergence is finite.

What happens at the edges (decided, and tested):

* The teacher gives a class positive probability and the student gives it ``-inf``:
  ``KL(p || q)`` is ``+inf`` mathematically, and that row's value is ``+inf`` (not clipped,
  not NaN). Such a row has no useful gradient: it contributes zero gradient, so a training
  loop sees the ``inf`` loss rather than a silently different one.
* A whole row of ``-inf`` (teacher or student) is not a distribution (``softmax`` is 0/0):
  refused with :class:`~xuframe.errors.InputError` naming the row. So are NaN and ``+inf``
  logits.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.validation import check_float

__all__ = ["kd_loss", "softmax_entropy", "softmax_kl"]


def _check_logits(logits: torch.Tensor, who: str, what: str) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError(f"{who}: expected {what} of shape (rows, classes), got {shape}")
    if not logits.is_floating_point():
        raise InputError(f"{who}: expected floating-point {what}, got dtype {logits.dtype}")
    if logits.shape[1] == 0:
        raise InputError(f"{who}: {what} have no classes (shape {tuple(logits.shape)})")
    nan, pos_inf = torch.isnan(logits), torch.isposinf(logits)
    all_masked = torch.isneginf(logits).all(1)
    if bool(nan.any() | pos_inf.any() | all_masked.any()):  # one host sync for all three
        if bool(all_masked.any()):
            row = int(torch.nonzero(all_masked)[0])
            raise InputError(
                f"{who}: row {row} of the {what} is -inf in every class: every class masked "
                "leaves no distribution (softmax is 0/0); keep at least one class per row"
            )
        kind = "NaN" if bool(nan.any()) else "+inf"
        raise InputError(f"{who}: the {what} hold {kind}; expected finite logits or -inf (masked)")


def _check_pair(teacher_logits: Any, student_logits: Any, who: str) -> None:
    """Both logits tensors, of one ``(rows, classes)`` shape."""
    for what, logits in (("teacher logits", teacher_logits), ("student logits", student_logits)):
        if not isinstance(logits, torch.Tensor):
            raise InputError(
                f"{who}: expected {what} as a torch.Tensor (rows, classes), "
                f"got {type(logits).__name__}"
            )
    if student_logits.shape != teacher_logits.shape:
        raise InputError(
            f"{who}: student and teacher logits must have the same (rows, classes) shape, "
            f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )


def softmax_kl(
    teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``KL(softmax(teacher / T) || softmax(student / T))`` per row, in nats: shape ``(rows,)``.

    Both inputs are ``(rows, classes)`` logits, finite or ``-inf`` (a masked class of
    probability 0, which contributes nothing). A row is ``+inf`` where the student masks a
    class the teacher gives positive probability (see the module notes: the value is kept,
    the row gives zero gradient). Raises :class:`~xuframe.errors.InputError` for shapes that
    differ, non-float logits, NaN or ``+inf`` logits, a row that is ``-inf`` everywhere, or a
    temperature that is not a finite number > 0.
    """
    _check_pair(teacher_logits, student_logits, "softmax_kl")
    t = check_float(temperature, "softmax_kl: temperature", min=0, min_open=True)
    _check_logits(teacher_logits, "softmax_kl", "teacher logits")
    _check_logits(student_logits, "softmax_kl", "student logits")
    teacher_masked = torch.isneginf(teacher_logits)
    student_masked = torch.isneginf(student_logits)
    log_p = F.log_softmax(teacher_logits / t, dim=1)  # -inf exactly where masked
    log_q = F.log_softmax(student_logits / t, dim=1)
    # -inf never enters the arithmetic: where() blocks the gradient of the masked entries, and
    # the values it leaves are finite, so no 0 * inf makes a NaN value or gradient.
    zero = torch.zeros((), dtype=log_p.dtype, device=log_p.device)
    safe_log_p = torch.where(teacher_masked, zero, log_p)
    safe_log_q = torch.where(teacher_masked | student_masked, zero, log_q)
    terms = torch.where(teacher_masked, zero, safe_log_p.exp() * (safe_log_p - safe_log_q))
    rows = terms.sum(1)
    infinite = (student_masked & ~teacher_masked).any(1)
    return torch.where(infinite, torch.full_like(rows, float("inf")), rows)


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over rows
    (``batchmean``); zero when the logits are equal, whatever their scale. A scalar.

    ``-inf`` logits are masked classes of probability 0 (see :func:`softmax_kl` for the
    student masking a class the teacher does not: ``+inf``; a row of all ``-inf``:
    :class:`~xuframe.errors.InputError`). Hinton et al., "Distilling the Knowledge in a
    Neural Network" (2015)."""
    _check_pair(teacher_logits, student_logits, "kd_loss")
    if student_logits.ndim != 2 or len(student_logits) == 0:
        raise InputError(
            "kd_loss: expected logits of shape (B, classes) with B >= 1 (the mean over no rows "
            f"is undefined), got {tuple(student_logits.shape)}"
        )
    t = check_float(temperature, "kd_loss: temperature", min=0, min_open=True)
    return softmax_kl(teacher_logits, student_logits, t).mean() * t * t


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """The entropy of ``softmax(logits)`` per row, in nats: shape ``(rows,)``.

    ``-inf`` logits are masked classes (``0 log 0 = 0``); the value and gradient stay
    finite. Raises :class:`~xuframe.errors.InputError` for NaN or ``+inf`` logits or a row
    that is ``-inf`` everywhere."""
    _check_logits(logits, "softmax_entropy", "logits")
    masked = torch.isneginf(logits)
    log_p = F.log_softmax(logits, dim=1)
    zero = torch.zeros((), dtype=log_p.dtype, device=log_p.device)
    safe = torch.where(masked, zero, log_p)
    return -torch.where(masked, zero, safe.exp() * safe).sum(1)
