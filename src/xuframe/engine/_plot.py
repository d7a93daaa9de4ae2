"""Metric curves of a run as PNG, with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from xuframe._extras import import_extra
from xuframe.engine._metrics_log import read_metrics
from xuframe.errors import InputError

__all__ = ["plot_metrics"]


def plot_metrics(
    run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> Path:
    """Plot every logged metric of ``run_dir`` against the step, one panel each; returns the PNG path.

    Written to ``run_dir/plots/metrics.png`` unless ``out`` is given. Needs matplotlib
    (``pip install 'xuframe[plot]'``); raises :class:`~xuframe.errors.MissingExtraError` without it.
    """
    plt = import_extra("matplotlib.pyplot")
    rows = read_metrics(run_dir)
    numeric = sorted(
        {
            k
            for r in rows
            for k, v in r.items()
            if k not in ("step", "epoch", "time") and isinstance(v, (int, float))
        }
    )
    if not numeric:
        raise InputError(f"{run_dir}: the metrics log holds no numeric metrics to plot")
    # One panel per metric, train and eval curves of the same metric together.
    panels = sorted({k.removeprefix("eval/") for k in numeric})
    if sum(p.startswith("loss/") for p in panels) == 1:
        panels.remove("loss")  # the total equals the only term
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        low, high = math.inf, -math.inf
        for key, label in ((panel, "train"), (f"eval/{panel}", "eval")):
            points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            if not points:
                continue
            steps, values = zip(*points, strict=True)
            low, high = min(low, *values), max(high, *values)
            ax.plot(
                steps, values, label=label, marker="o" if len(points) < 30 else None, markersize=3
            )
        ax.set_title(panel if panel in numeric else f"eval/{panel}")
        ax.set_xlabel("step")
        if panel.startswith("loss") and low > 0 and high / low > 50:
            ax.set_yscale("log")
        if any(f"eval/{panel}" == k for k in numeric) and panel in numeric:
            ax.legend()
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    target = Path(out) if out is not None else Path(run_dir) / "plots" / "metrics.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
