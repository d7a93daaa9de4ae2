"""Converters and validators shared by the value types."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from xuframe.errors import InputError


def as_tensor(value: Any, *, dtype: torch.dtype, what: str) -> torch.Tensor:
    """``value`` (a tensor, numpy array or nested sequence) as a tensor of ``dtype``.

    A floating *tensor* keeps its dtype when ``dtype`` is floating (a float64 tensor stays
    float64, so precision chosen by the caller survives); numpy arrays and lists are cast to
    ``dtype``, as ``torch.tensor`` does.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
        if dtype.is_floating_point and tensor.is_floating_point():
            return tensor
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(
                f"{what}: expected a tensor, numpy array or sequence of numbers, "
                f"got {type(value).__name__}"
            ) from exc
    if dtype.is_floating_point and tensor.dtype == torch.bool:
        raise InputError(f"{what}: expected numbers, got a bool tensor")
    if tensor.is_complex():
        raise InputError(f"{what}: expected real numbers, got dtype {tensor.dtype}")
    to_integer = not dtype.is_floating_point and dtype != torch.bool and tensor.is_floating_point()
    if to_integer and tensor.numel() and not torch.equal(tensor, tensor.round()):
        raise InputError(f"{what}: expected integers, got non-integer values")
    return tensor.to(dtype)


def check_shape(tensor: torch.Tensor, what: str, *shape: int | None) -> None:
    """Raise InputError unless ``tensor`` has ``len(shape)`` dims matching each non-None size."""
    ok = tensor.dim() == len(shape) and all(
        s is None or t == s for t, s in zip(tensor.shape, shape, strict=True)
    )
    if not ok:
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InputError(f"{what}: expected shape {expected}, got {tuple(tensor.shape)}")


def check_finite(tensor: torch.Tensor, what: str) -> None:
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise InputError(f"{what}: expected finite values, got NaN or inf")


def to_numpy(tensor: torch.Tensor) -> np.ndarray[Any, Any]:
    return tensor.detach().cpu().numpy()
