"""The run's metrics log: one JSON object per line in ``run_dir/metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from xuframe._files import as_path, read_text
from xuframe.errors import InputError

__all__ = ["MetricsLog", "read_metrics"]


class MetricsLog:
    """Append-only JSONL log of metric rows (each has a ``step``); flushed after every row.

    The file stays open between rows; :meth:`close` (or the end of a ``with`` block) closes it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: Any = None

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (used when a run resumes from an earlier checkpoint)."""
        self.close()
        if not self.path.exists():
            return
        rows = [r for r in read_metrics(self.path) if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, self.path)

    def write(self, row: dict[str, Any]) -> None:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()
        }
        if self._handle is None:
            self._handle = open(self.path, "a")  # noqa: SIM115 - kept open across rows, closed by close()
        self._handle.write(json.dumps(clean) + "\n")
        self._handle.flush()


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a metrics log (a file, or a run folder holding ``metrics.jsonl``).

    Raises :class:`~xuframe.errors.InputError` naming the file when it is missing, not text,
    or has a line that is not a json object (naming the line)."""
    source = as_path(path, "a metrics log (json lines)")
    if source.is_dir():
        source = source / "metrics.jsonl"
    rows = []
    for number, line in enumerate(read_text(source, "a metrics log (json lines)").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{number}: not a json object: {exc}") from exc
        if not isinstance(row, dict):
            raise InputError(f"{source}:{number}: expected a json object, got {line[:40]!r}")
        rows.append(row)
    return rows
