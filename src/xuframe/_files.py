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
    "as_path",
    "describe_start",
    "load_torch_file",
    "read_bytes",
    "read_text",
    "require_file",
    "writable_path",
    "write_atomic",
]

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_ZIP_MAGIC = b"PK\x03\x04"


def as_path(path: Any, what: str) -> Path:
    """``path`` (a ``str`` or ``os.PathLike``) as a :class:`Path`; an :class:`InputError`
    naming ``what`` was expected for anything else (None, a number, bytes...)."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        shown = repr(path) if len(repr(path)) <= 60 else repr(path)[:57] + "..."
        raise InputError(
            f"expected a path (str or os.PathLike) to {what}, got {type(path).__name__} {shown}"
        )
    try:
        return Path(path)
    except TypeError as exc:  # an os.PathLike whose __fspath__ gives no str
        raise InputError(f"expected a path to {what}, got {type(path).__name__}: {exc}") from exc


def writable_path(path: Any, what: str) -> Path:
    """``path`` as a :class:`Path` that a file can be written to: a path (``str`` or
    ``os.PathLike``) that is not a folder, whose folder exists or is created here. An
    :class:`InputError` naming ``what`` and the path otherwise (a folder, a file in the way of
    the folder, no permission)."""
    target = as_path(path, what)
    if target.is_dir():
        raise InputError(f"expected a file path for {what}, got the folder {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot write {what} at {target}: its folder {target.parent} cannot be made "
            f"({exc.strerror or exc}; is a file in the way?)"
        ) from exc
    return target


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a :class:`Path` when it names an existing regular file; otherwise an
    :class:`InputError` saying that nothing, or a folder, is there (``what`` names what was
    expected, e.g. ``"a KITTI calibration file"``), or that ``path`` is not a path."""
    source = as_path(path, what)
    if source.is_dir():
        raise InputError(f"{source} is a directory, expected {what} (a file)")
    if not source.exists():
        raise InputError(f"no file at {source} (expected {what})")
    if not source.is_file():
        raise InputError(f"{source} is not a regular file, expected {what}")
    return source


#: The first bytes of a file in torch's legacy (pre-1.6, non-zip) format: its magic number pickled.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."


def _text_start(head: bytes) -> str | None:
    """The first line of ``head`` when it reads as text (UTF-8, printable), else None."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return None
        text = head[: exc.start].decode("utf-8")
    if not text or any(not (c.isprintable() or c in "\t\r\n") for c in text):
        return None
    line = text.lstrip().split("\n", 1)[0].rstrip("\r")
    return line if len(line) <= 40 else line[:37] + "..."


def _describe(head: bytes, size: int, all_zero: bool, n: int = 16) -> str:
    """What a file of ``size`` bytes beginning with ``head`` holds, for messages."""
    if size == 0:
        return "it is empty (0 bytes)"
    if all_zero:
        return f"it holds {size} zero bytes and nothing else"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "it is in torch's legacy (non-zip) format, truncated or corrupt"
    if head.startswith(_ZIP_MAGIC):
        return "it is a zip archive, truncated or corrupt (or not written by torch.save)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return f"it is a Python pickle ({size} bytes), not a file written by torch.save"
    line = _text_start(head)
    if line is not None:
        return f"it is a text file ({size} bytes) starting {line!r}"
    more = "..." if size > n else ""
    return f"it holds {size} bytes starting {head[:n]!r}{more}"


def describe_start(data: bytes, n: int = 16) -> str:
    """What the file whose content is ``data`` holds, for messages: ``"it is empty"``, ``"it
    holds 512 zero bytes and nothing else"``, ``"it is a text file (12 bytes) starting
    'hello'"``, a torch or zip archive, or ``"it holds 132 bytes starting b'...'"``."""
    return _describe(data[:4096], len(data), bool(data) and not any(data), n)


def _describe_file(source: Path) -> str:
    """:func:`describe_start` for a file, reading only its first 4 kB (and, to tell a file of
    zero bytes, scanning it in pieces)."""
    try:
        size = source.stat().st_size
        with open(source, "rb") as handle:
            head = handle.read(4096)
            all_zero = bool(head) and not any(head)
            while all_zero:
                block = handle.read(1 << 20)
                if not block:
                    break
                all_zero = not any(block)
    except OSError as exc:
        return f"it cannot be read ({exc})"
    return _describe(head, size, all_zero)


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
    found = _describe_file(source)
    reason = str(failure).split(". ")[0].splitlines()[0] if str(failure) else ""
    if found.startswith("it is a zip archive") and reason:  # torch's reader names the damage
        found += f": {reason}"
    raise CheckpointError(
        f"{source} is not {what} (a file written by torch.save): {found}"
    ) from failure


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one:
    a temporary file in the same folder, flushed to disk, renamed over the target, and the
    rename made durable where the OS allows. Creates the folder; returns the path.

    Raises :class:`InputError` naming the path when it is not a path, names a folder, or
    cannot be written (a file where a folder should be, no permission, a full disk)."""
    target = writable_path(path, "the file to write")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target
