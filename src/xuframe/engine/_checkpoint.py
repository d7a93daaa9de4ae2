"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain data and tensors tagged ``format: "xuframe-checkpoint"``:
model, optimizer and scheduler state, RNG states, step, epoch and the run's config. Writing
goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target, so a crash mid-write leaves the previous checkpoint intact. Loading never runs code
from the file: ``weights_only=True`` admits tensors and plain containers only, and every
failure to read one is a :class:`~xuframe.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe._files import as_path, load_torch_file, write_atomic
from xuframe.errors import CheckpointError, InputError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_checkpoint", "save_checkpoint"]

FORMAT = "xuframe-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain data) to ``path`` atomically; returns the path.

    ``state`` is a dict of tensors, numbers, strings, None, dtypes, devices and lists, tuples
    and dicts of them (what :func:`load_checkpoint` reads back with ``weights_only``); ``path``
    a file path. Numpy scalars are written as Python numbers and numpy arrays as tensors.
    Raises :class:`~xuframe.errors.InputError` naming the first value of another type (e.g. a
    module or a function) or a path that cannot be written, before writing."""
    if not isinstance(state, dict):
        raise InputError(
            f"save_checkpoint: state: expected a dict of tensors and plain data, got "
            f"{type(state).__name__}"
        )
    state = _plain(state, "state")
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, **state}, buffer)
    return write_atomic(path, buffer.getvalue())


_PLAIN = (int, float, complex, bool, str, bytes, type(None), torch.dtype, torch.device, torch.Size)


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as data that ``torch.load(weights_only=True)`` reads back: numpy scalars become
    Python numbers and numpy arrays tensors; anything else that is not data is refused."""
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":  # np.float64 is a float
        return value.item()
    if isinstance(value, (torch.Tensor, *_PLAIN)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        return torch.from_numpy(np.ascontiguousarray(value))
    if depth > 64:
        raise InputError(f"save_checkpoint: {where}: expected plain data, nested over 64 deep")
    if isinstance(value, dict):
        out = type(value)() if type(value) in (dict, OrderedDict) else {}
        for key, item in value.items():
            if not isinstance(key, _PLAIN):
                raise InputError(
                    f"save_checkpoint: {where}: expected keys of plain data, got "
                    f"{type(key).__name__}"
                )
            out[key] = _plain(item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple, set)):
        items = [_plain(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
        return type(value)(items) if type(value) in (list, tuple, set) else items
    raise InputError(
        f"save_checkpoint: {where}: expected tensors and plain data (what load_checkpoint "
        f"reads back), got {type(value).__module__}.{type(value).__qualname__}"
    )


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`~xuframe.errors.CheckpointError` (an :class:`~xuframe.errors.InputError`)
    naming the file and what it holds when it is missing or a folder, empty, truncated or
    corrupt, not a torch file, holds anything but tensors and plain data (naming the global),
    or is not a xuframe checkpoint (naming the keys it holds).
    """
    try:
        source = as_path(path, "a xuframe checkpoint")
    except InputError as exc:
        raise CheckpointError(str(exc)) from None
    if not source.exists():
        raise CheckpointError(f"no checkpoint at {source}")
    payload = load_torch_file(source, "a xuframe checkpoint", map_location=map_location)
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"{source}: not a xuframe checkpoint (expected a dict with format={FORMAT!r}, found "
            f"a {type(payload).__name__})"
        )
    if payload.get("format") != FORMAT:
        keys = ", ".join(map(str, list(payload)[:8])) + (", ..." if len(payload) > 8 else "")
        raise CheckpointError(
            f"{source}: not a xuframe checkpoint (expected a dict with format={FORMAT!r}; it "
            f"holds keys {keys or 'none'}; a bare state_dict loads with torch.load and "
            "module.load_state_dict)"
        )
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: checkpoint format version {payload.get('version')!r}, this xuframe reads {FORMAT_VERSION}"
        )
    return payload
