"""How the shipped ``lgss`` weights are measured.

The weights (``weights/lgss-synthetic.pt``) are trained by ``examples/lgss/timeline.py
--export-weights synthetic`` on 24 seeded synthetic movies of 300 shots (seed 1) and measured
here on held-out movies of another seed, the ones the example and ``xuframe demo lgss`` score.
The manifest records the metrics; the test suite re-measures them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch

from xuframe.errors import InputError
from xuframe.metrics import scene_metrics
from xuframe.validation import check_int
from xuframe_plugins.lgss.data import synthetic_movies
from xuframe_plugins.lgss.model import SceneSegmenter

__all__ = [
    "HELD_OUT_MOVIES",
    "HELD_OUT_SEED",
    "HELD_OUT_SHOTS",
    "MOVIE_OPTIONS",
    "evaluate",
    "held_out_movies",
    "score_movies",
]

#: The held-out movies: ``synthetic_movies(HELD_OUT_MOVIES, HELD_OUT_SHOTS,
#: seed=HELD_OUT_SEED, **MOVIE_OPTIONS)``, never trained on (training uses seed 1).
HELD_OUT_SEED = 2
HELD_OUT_MOVIES = 6
HELD_OUT_SHOTS = 300
#: How the synthetic movies of the shipped weights are drawn (16 x 8 audio spectrograms).
MOVIE_OPTIONS: dict[str, Any] = {"audio_shape": (16, 8)}


def held_out_movies(
    n_movies: int = HELD_OUT_MOVIES, seed: int = HELD_OUT_SEED
) -> list[dict[str, Any]]:
    """``n_movies`` (an int in 1 .. 1000) held-out synthetic movies of ``HELD_OUT_SHOTS``
    shots drawn with ``seed`` (an int >= 2: seed 1 is the training set); the defaults are the
    manifest's set. Raises :class:`~xuframe.errors.InputError` otherwise."""
    n_movies = check_int(n_movies, "held_out_movies: n_movies", min=1, max=1000)
    seed = check_int(seed, "held_out_movies: seed", min=HELD_OUT_SEED, max=2**32 // 1000 - 1)
    return synthetic_movies(n_movies, HELD_OUT_SHOTS, seed=seed, **MOVIE_OPTIONS)


@torch.no_grad()
def score_movies(
    model: SceneSegmenter, movies: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """The scene metrics of ``model`` on whole ``movies`` (each as
    :class:`~xuframe_plugins.lgss.model.SceneSegmenter` takes it, with ``"labels"``), with
    the scenes from optimal grouping (``"grouped"``) and from thresholded boundaries
    (``"thresholded"``), whatever ``model.config.global_grouping`` says: each a dict of
    ``AP``, ``mAP`` (of the boundary probabilities, so the same for both), ``mIoU``,
    ``Recall`` and, with shot times, ``Recall@3s``. One forward pass per movie; the model's
    mode is restored. Raises :class:`~xuframe.errors.InputError` for a model that is not an
    ``lgss`` :class:`SceneSegmenter` or movies it refuses."""
    if not isinstance(model, SceneSegmenter):
        raise InputError(
            f"score_movies: expected an lgss SceneSegmenter, got {type(model).__name__}"
        )
    if isinstance(movies, (str, dict)) or not isinstance(movies, Sequence) or not movies:
        raise InputError("score_movies: expected a non-empty list of movies")
    for i, movie in enumerate(movies):
        if not isinstance(movie, Mapping) or "labels" not in movie:
            raise InputError(f"score_movies: movie {i} must be a mapping with 'labels'")
    # copies that differ in the grouping option only (_scenes reads the config, not weights)
    plain = attrs.asdict(model.config, recurse=False)
    views = {
        "grouped": SceneSegmenter({**plain, "global_grouping": True}),
        "thresholded": SceneSegmenter({**plain, "global_grouping": False}),
    }
    rows: dict[str, list[dict[str, Any]]] = {how: [] for how in views}
    was = model.training
    model.eval()
    try:
        for movie in movies:
            scores = model.boundary_probabilities(movie)
            for how, view in views.items():
                # the scenes predict() forms from these probabilities, without a 2nd forward
                found = view._scenes(movie, scores)
                predicted = torch.zeros(len(scores), dtype=torch.long)
                predicted[(found.geometry.tensor[:, 1] - 1).long()] = 1
                rows[how].append(
                    {
                        "labels": movie["labels"],
                        "scores": scores,
                        "predicted": predicted,
                        "shot_end_times": movie.get("shot_end_times"),
                    }
                )
    finally:
        model.train(was)
    return {how: scene_metrics(r) for how, r in rows.items()}


def evaluate(model: Any) -> dict[str, float]:
    """The manifest's metrics of ``model`` on the held-out movies: ``AP``, ``mAP``, ``mIoU``,
    ``Recall``, ``Recall@3s`` with optimal grouping (``predict``'s scenes) and
    ``thresholded/mIoU``, ``thresholded/Recall``, ``thresholded/Recall@3s`` with the
    thresholded boundaries as the scene ends (see :func:`score_movies`)."""
    scores = score_movies(model, held_out_movies())
    metrics = dict(scores["grouped"])
    metrics.update(
        {f"thresholded/{k}": v for k, v in scores["thresholded"].items() if "AP" not in k}
    )
    return metrics
