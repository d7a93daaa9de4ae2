"""The run's metrics log: one JSON object per line in ``run_dir/metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "read_metrics"]


class MetricsLog:
    """Append-only JSONL log of metric rows (each has a ``step``); flushed after every row."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (used when a run resumes from an earlier checkpoint)."""
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
        with open(self.path, "a") as handle:
            handle.write(json.dumps(clean) + "\n")


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a metrics log (a file, or a run folder holding ``metrics.jsonl``)."""
    source = Path(path)
    if source.is_dir():
        source = source / "metrics.jsonl"
    rows = []
    with open(source) as handle:
        for line in handle:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows
