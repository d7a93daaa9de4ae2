"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain data and tensors tagged ``format: "xuframe-checkpoint"``:
model, optimizer and scheduler state, RNG states, step, epoch and the run's config. Writing
goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target, so a crash mid-write leaves the previous checkpoint intact. Loading never runs code
from the file: ``weights_only=True`` admits tensors and plain containers only.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from xuframe.errors import CheckpointError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_checkpoint", "save_checkpoint"]

FORMAT = "xuframe-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain data) to ``path`` atomically; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": FORMAT_VERSION, **state}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`~xuframe.errors.CheckpointError` when the file is missing, truncated or
    corrupt, holds anything but tensors and plain data, or is not a xuframe checkpoint.
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"no checkpoint at {source}")
    try:
        payload = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{source}: refused to load: the file holds objects other than tensors and plain data "
            f"(xuframe loads with weights_only=True and never runs code from a checkpoint): {exc}"
        ) from exc
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise CheckpointError(
            f"{source}: not a readable checkpoint (truncated or corrupt?): {exc}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{source}: not a xuframe checkpoint (expected a dict with format={FORMAT!r}; "
            "a bare state_dict loads with torch.load and module.load_state_dict)"
        )
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: checkpoint format version {payload.get('version')!r}, this xuframe reads {FORMAT_VERSION}"
        )
    return payload
