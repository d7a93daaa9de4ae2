"""Reading files for the loaders: every failure becomes an ``InputError`` naming the file.

A loader that reads a file given by a user must answer a missing file, a folder in its
place, an unreadable, empty, truncated or foreign file, and (for pickles) an object that is
not data, with an :class:`~xuframe.errors.InputError` that names the file and says what was
found there. The helpers here do that once for every loader in the core; the public
:func:`load_torch_file` serves the plugins.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from xuframe.errors import CheckpointError, InputError

__all__ = [
    "describe_start",
    "load_torch_file",
    "read_bytes",
    "read_text",
    "require_file",
    "write_atomic",
]

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_ZIP_MAGIC = b"PK\x03\x04"


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a :class:`Path` when it names an existing regular file; otherwise an
    :class:`InputError` saying that nothing, or a folder, is there (``what`` names what was
    expected, e.g. ``"a KITTI calibration file"``)."""
    source = Path(path)
    if source.is_dir():
        raise InputError(f"{source} is a directory, expected {what} (a file)")
    if not source.exists():
        raise InputError(f"no file at {source} (expected {what})")
    if not source.is_file():
        raise InputError(f"{source} is not a regular file, expected {what}")
    return source


def describe_start(data: bytes, n: int = 16) -> str:
    """``"it is empty"`` or ``"it starts with bytes b'...'"``: what a file holds, for messages."""
    if not data:
        return "it is empty (0 bytes)"
    more = "..." if len(data) > n else ""
    return f"it holds {len(data)} bytes starting {data[:n]!r}{more}"


def _head(source: Path, n: int = 16) -> bytes:
    with contextlib.suppress(OSError), open(source, "rb") as handle:
        return handle.read(n + 1)
    return b""


def read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of the file ``path``; :class:`InputError` when it is missing, a folder or
    unreadable."""
    source = require_file(path, what)
    try:
        return source.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source} (expected {what}): {exc}") from exc


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of the file ``path``; :class:`InputError` when it is missing, a folder,
    unreadable or not UTF-8 text (naming the bytes found)."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not {what}: not UTF-8 text at byte {exc.start}; {describe_start(data)}"
        ) from exc


def _unsafe_globals(source: Path, message: str, allowed: set[str]) -> list[str]:
    found: list[str] = []
    if zipfile.is_zipfile(source):
        with contextlib.suppress(Exception):
            found = list(torch.serialization.get_unsafe_globals_in_checkpoint(source))
    found += _GLOBAL.findall(message)
    return sorted({name for name in found if name not in allowed})


def load_torch_file(
    path: str | os.PathLike[str],
    what: str = "a torch checkpoint",
    *,
    allowed_globals: Iterable[type] = (),
    map_location: str | torch.device = "cpu",
) -> Any:
    """Read a file written by :func:`torch.save` without running code from it.

    It is read with ``torch.load(weights_only=True)``, which rebuilds tensors, numbers,
    strings, ``None`` and plain containers only; ``allowed_globals`` names the few further
    classes the file may hold (e.g. ``[argparse.Namespace]``), admitted for this call only
    (``torch.serialization.safe_globals``). Nothing else in the file is ever called.

    Raises :class:`~xuframe.errors.InputError` (a
    :class:`~xuframe.errors.CheckpointError`) naming the file and what was found there
    when it is missing, a folder, empty, truncated, not a torch file (with its first bytes),
    or holds an object of any other class (naming each such global, e.g. ``posix.system``).
    ``what`` names what was expected, for the message.
    """
    allowed = list(allowed_globals)
    admitted: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [*allowed]
    try:
        source = require_file(path, what)
    except InputError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        with torch.serialization.safe_globals(admitted):
            return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        names = _unsafe_globals(
            source, str(exc), {f"{c.__module__}.{c.__qualname__}" for c in allowed}
        )
        if names:
            extra = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in allowed) or "none"
            raise CheckpointError(
                f"{source}: refused to load {what}: the file holds {', '.join(names)}, which is "
                "not data (xuframe reads torch files with weights_only=True and never runs code "
                f"from them; classes admitted here besides tensors and plain data: {extra})"
            ) from None
        failure: Exception = exc
    except OSError as exc:
        raise CheckpointError(f"cannot read {source} (expected {what}): {exc}") from None
    except Exception as exc:  # torch and pickle raise many kinds for damaged or foreign bytes
        failure = exc
    head = _head(source)
    if not head:
        found = "it is empty (0 bytes)"
    elif head.startswith(_ZIP_MAGIC):
        found = "it is a zip archive, truncated or not written by torch.save"
    else:
        size = source.stat().st_size
        found = f"it holds {size} bytes starting {head[:16]!r}{'...' if len(head) > 16 else ''}"
    raise CheckpointError(
        f"{source} is not {what} (a file written by torch.save), or it is truncated or corrupt: "
        f"{found} ({type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''})"
    ) from failure


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one:
    a temporary file in the same folder, flushed to disk, renamed over the target, and the
    rename made durable where the OS allows. Creates the folder; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target
