"""The built-in demo of ``lgss``: the shipped weights on held-out synthetic movies.

Kept apart from the model (``model.py`` is the model, ``pretrained.py`` measures it and
imports the model; this module imports both), so the modules import one way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

import xuframe
from xuframe import DemoResult
from xuframe.metrics import scene_metrics, scenes_from_boundaries
from xuframe.pictures import PALETTE
from xuframe_plugins.lgss.grouping import optimal_grouping
from xuframe_plugins.lgss.model import SceneSegmenter
from xuframe_plugins.lgss.pretrained import (
    HELD_OUT_MOVIES,
    HELD_OUT_SEED,
    HELD_OUT_SHOTS,
    held_out_movies,
    score_movies,
)

__all__ = ["demo", "timeline_picture"]

#: The baseline's shots per scene: the synthetic movies' mean scene length.
_BASELINE_SCENE_LENGTH = 8


def demo(cls: type[SceneSegmenter], seed: int = 0) -> DemoResult:
    """Build ``cls`` with its shipped ``synthetic`` weights and report, on the 6 held-out
    synthetic movies of 300 shots (seed 2 + ``seed``; seed 0 gives the manifest's numbers),
    boundary AP and mIoU / Recall with thresholded boundaries (``local/``) and with optimal
    grouping (``global/``), beside the paper's unlearned baseline "Grouping" (Rotman et al.,
    ``baseline/``: see ``_grouping_baseline``)."""
    start = time.perf_counter()
    model = xuframe.create("detector", cls.name, weights="synthetic")
    movies = held_out_movies(seed=HELD_OUT_SEED + seed)
    scores = score_movies(model, movies)
    local, grouped = scores["thresholded"], scores["grouped"]
    baseline, baseline_scenes = _grouping_baseline(movies, model.config.modalities)
    results = {f"local/{k}": v for k, v in local.items()}
    results.update({f"global/{k}": v for k, v in grouped.items()})
    results.update({f"baseline/{k}": v for k, v in baseline.items()})
    movie = movies[0]
    local_model = (
        cls({**attrs.asdict(model.config, recurse=False), "global_grouping": False})
        .load_from(model)
        .eval()
    )
    rows = [
        [(a, b + 1) for a, b in scenes_from_boundaries(movie["labels"])],
        _scenes(local_model, movie),
        _scenes(model, movie),
        baseline_scenes,
    ]
    seconds = time.perf_counter() - start
    results["seconds"] = seconds
    return DemoResult(
        results,
        summary=(
            f"lgss with its shipped weights (trained on 24 synthetic movies) on "
            f"{HELD_OUT_MOVIES} held-out movies of {HELD_OUT_SHOTS} shots ({seconds:.1f} s): "
            f"boundary AP {grouped['AP']:.3f}; mIoU {local['mIoU']:.3f} thresholded -> "
            f"{grouped['mIoU']:.3f} with optimal grouping, Recall {local['Recall']:.3f} -> "
            f"{grouped['Recall']:.3f}; the paper's unlearned baseline, optimal grouping of "
            f"the raw features told the mean scene length (N / {_BASELINE_SCENE_LENGTH} "
            f"scenes): AP {baseline['AP']:.3f} (0/1 boundaries), mIoU {baseline['mIoU']:.3f}, "
            f"Recall {baseline['Recall']:.3f}; picture rows (first movie): true scenes, "
            "thresholded, grouped, baseline"
        ),
        headline="global/mIoU",
        picture=timeline_picture(rows, len(movie["labels"])),
    )


def _grouping_baseline(
    movies: Sequence[dict[str, Any]], modalities: Sequence[str]
) -> tuple[dict[str, float], list[tuple[int, int]]]:
    """The paper's "Grouping" baseline (Rotman et al., optimal sequential grouping), with
    nothing learned: each movie's shots, as the concatenation of their unit-length
    ``modalities`` features (audio spectrograms flattened), grouped by
    :func:`~xuframe_plugins.lgss.grouping.optimal_grouping` into ``N / 8`` scenes (the
    synthetic movies' mean scene length; no bonus). Returns the scene metrics (the scene
    ends as the boundary scores, so AP is that of a 0/1 prediction) and the first movie's
    scenes ``[first, end)``."""
    rows: list[dict[str, Any]] = []
    first: list[tuple[int, int]] = []
    for movie in movies:
        features = torch.cat(
            [F.normalize(movie[m].flatten(1), dim=1) for m in modalities], dim=1
        ).double()
        n = len(features)
        ends, _ = optimal_grouping(features.numpy(), max(1, round(n / _BASELINE_SCENE_LENGTH)))
        predicted = torch.zeros(n)
        predicted[ends] = 1.0
        rows.append(
            {
                "labels": movie["labels"],
                "scores": predicted,
                "predicted": predicted.long(),
                "shot_end_times": movie.get("shot_end_times"),
            }
        )
        if not first:
            starts = [0] + [e + 1 for e in ends[:-1]]
            first = [(s, e + 1) for s, e in zip(starts, ends, strict=True)]
    return scene_metrics(rows), first


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
