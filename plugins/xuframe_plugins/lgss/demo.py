"""The built-in demo of ``lgss``: a small model trained for seconds on synthetic movies.

Kept apart from the model (``model.py`` is the model, ``training.py`` trains it and imports
the model; this module imports both), so the two import one way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from xuframe import DemoResult
from xuframe.metrics import scenes_from_boundaries
from xuframe.pictures import PALETTE
from xuframe_plugins.lgss.data import synthetic_movies
from xuframe_plugins.lgss.model import SceneSegmenter
from xuframe_plugins.lgss.training import evaluate, fit

__all__ = ["SMALL", "demo", "timeline_picture"]

#: The demo's model: every modality, small widths.
SMALL: dict[str, Any] = {
    "place_dim": 64,
    "cast_dim": 32,
    "action_dim": 32,
    "audio_dim": 32,
    "channels": 32,
    "hidden": 32,
}


def demo(cls: type[SceneSegmenter], seed: int = 0) -> DemoResult:
    """Train a small LGSS for 200 steps on 8 synthetic movies; held-out AP, mIoU and Recall
    with thresholded boundaries (local) and with optimal grouping (global)."""
    start = time.perf_counter()
    kw = {"audio_shape": (16, 8)}
    train = synthetic_movies(8, 160, seed=seed + 1, **kw)
    test = synthetic_movies(3, 200, seed=seed + 2, **kw)
    torch.manual_seed(seed)
    model = fit(cls(SMALL), train, 200, batch_size=8, seed=seed)
    local_model = cls({**SMALL, "global_grouping": False}).load_from(model)
    local = evaluate(local_model, test)
    grouped = evaluate(model, test)
    seconds = time.perf_counter() - start
    results = {f"local/{k}": v for k, v in local.items()}
    results.update({f"global/{k}": v for k, v in grouped.items()})
    results["seconds"] = seconds
    movie = test[0]
    rows = [
        [(a, b + 1) for a, b in scenes_from_boundaries(movie["labels"])],
        _scenes(local_model, movie),
        _scenes(model, movie),
    ]
    return DemoResult(
        results,
        summary=(
            f"synthetic movies ({seconds:.0f} s): boundary AP {grouped['AP']:.3f}; "
            f"mIoU {local['mIoU']:.3f} local -> {grouped['mIoU']:.3f} with optimal grouping, "
            f"Recall {local['Recall']:.3f} -> {grouped['Recall']:.3f}; picture rows: true "
            "scenes, thresholded, grouped"
        ),
        headline="global/mIoU",
        picture=timeline_picture(rows, len(movie["labels"])),
    )


def _scenes(model: SceneSegmenter, movie: dict[str, Any]) -> list[tuple[int, int]]:
    model.eval()
    with torch.no_grad():
        (found,) = model.predict([movie])
    return [(int(a), int(b)) for a, b in found.geometry.tensor.tolist()]


def timeline_picture(
    rows: Sequence[Sequence[tuple[int, int]]], n_shots: int, shot_px: int = 4, row_px: int = 28
) -> np.ndarray[Any, Any]:
    """Rows of scenes ``[first, end)`` over ``n_shots`` shots as coloured bars (one colour
    per scene, cycling), one row under the other, as an RGB uint8 array."""
    gap = 6
    image = Image.new("RGB", (n_shots * shot_px, len(rows) * (row_px + gap) + gap), "white")
    draw = ImageDraw.Draw(image)
    for r, scenes in enumerate(rows):
        top = gap + r * (row_px + gap)
        for k, (first, end) in enumerate(scenes):
            box = (first * shot_px, top, end * shot_px - 2, top + row_px)
            draw.rectangle(box, fill=PALETTE[k % len(PALETTE)])
    return np.asarray(image, dtype=np.uint8)
