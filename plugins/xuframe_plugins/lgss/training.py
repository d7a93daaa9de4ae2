"""Training and evaluating LGSS on movies with the engine's Trainer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from xuframe.engine import Trainer
from xuframe.errors import InputError
from xuframe.metrics import scene_metrics
from xuframe_plugins.lgss.model import SceneSegmenter

__all__ = ["MovieClips", "collate_movies", "evaluate", "fit"]


class MovieClips(Dataset[dict[str, Any]]):
    """Contiguous clips of ``length`` shots cut from movies every ``stride`` shots: the
    training samples (a clip is a movie of its own, labels included; a clip's last shot is
    labelled as the movie labels it)."""

    def __init__(
        self, movies: Sequence[dict[str, Any]], length: int = 40, stride: int = 20
    ) -> None:
        if length < 2 or stride < 1:
            raise InputError(
                f"MovieClips: expected length >= 2 and stride >= 1, got {length}, {stride}"
            )
        self.clips: list[dict[str, Any]] = []
        for movie in movies:
            n = len(movie["labels"])
            for start in range(0, max(1, n - length + 1), stride):
                self.clips.append(
                    {
                        k: (v[start : start + length] if torch.is_tensor(v) else v)
                        for k, v in movie.items()
                    }
                )

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.clips[i]


def collate_movies(movies: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch as :class:`~xuframe_plugins.lgss.model.SceneSegmenter` takes it."""
    return {"inputs": movies, "labels": [m["labels"] for m in movies]}


def fit(
    model: SceneSegmenter,
    movies: Sequence[dict[str, Any]],
    steps: int,
    *,
    clip_length: int = 40,
    batch_size: int = 8,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> SceneSegmenter:
    """``steps`` Adam steps (cosine schedule) on shuffled clips of the training ``movies``."""
    clips = MovieClips(movies, clip_length, clip_length // 2)
    loader = DataLoader(
        clips, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_movies
    )
    Trainer(
        model,
        {
            "max_steps": steps,
            "batch_size": batch_size,
            "optimizer": "adamw",
            "lr": lr,
            "weight_decay": 1e-4,
            "schedule": "cosine",
            "seed": seed,
            "progress": progress,
            "device": "cpu",
        },
    ).fit(loader)
    return model


@torch.no_grad()
def evaluate(model: SceneSegmenter, movies: Sequence[dict[str, Any]]) -> dict[str, float]:
    """MovieScenes' metrics of ``model`` on whole ``movies`` (eval mode; the mode is restored):
    AP and mAP of the boundary probabilities, mIoU, Recall and (with shot times) Recall@3s of
    the scenes :meth:`~SceneSegmenter.predict` forms."""
    was = model.training
    model.eval()
    rows = []
    for movie in movies:
        scores = model.boundary_probabilities(movie)
        det = model._scenes(movie, scores)  # the scenes predict() forms, without a 2nd forward
        predicted = torch.zeros(len(scores), dtype=torch.long)
        predicted[(det.geometry.tensor[:, 1] - 1).long()] = 1
        rows.append(
            {
                "labels": movie["labels"],
                "scores": scores,
                "predicted": predicted,
                "shot_end_times": movie.get("shot_end_times"),
            }
        )
    model.train(was)
    return scene_metrics(rows)
