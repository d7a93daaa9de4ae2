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
from pathlib import Path
from typing import Any

import torch

from xuframe._files import as_path, load_torch_file, write_atomic
from xuframe.errors import CheckpointError, InputError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_checkpoint", "save_checkpoint"]

FORMAT = "xuframe-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain data) to ``path`` atomically; returns the path."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, **state}, buffer)
    return write_atomic(path, buffer.getvalue())


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
