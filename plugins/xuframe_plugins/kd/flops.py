"""Counting a model's floating-point operations with torch's own FLOP counter."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from xuframe.errors import InputError
from xuframe.validation import check_tensor

__all__ = ["count_flops"]


def count_flops(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs of one forward pass of ``model`` on ``example`` (``torch.utils.flop_counter``: a
    multiply-add counts 2; matrix products and convolutions are counted, element-wise ops
    are not), per sample: the total divided by ``len(example)``. Runs in eval mode, no grad.

    ``model`` is a ``torch.nn.Module``, ``example`` a non-empty finite tensor batch ``(B, ...)``
    it accepts; :class:`~xuframe.errors.InputError` otherwise."""
    if not isinstance(model, nn.Module):
        raise InputError(f"count_flops: expected a torch.nn.Module, got {type(model).__name__}")
    example = check_tensor(example, "count_flops: example", non_empty=True, floating=False)
    if example.ndim < 1:
        raise InputError("count_flops: example: expected a batch (B, ...), got a 0-d tensor")
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(example)
    model.train(was_training)
    return int(counter.get_total_flops()) // max(1, int(example.shape[0]))
