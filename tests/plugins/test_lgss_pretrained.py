"""LGSS's shipped weights: how they are measured and the demo that uses them."""

from __future__ import annotations

import pytest
import torch

import xuframe
from xuframe.errors import InputError
from xuframe_plugins.lgss import SceneSegmenter
from xuframe_plugins.lgss.data import synthetic_movies
from xuframe_plugins.lgss.pretrained import (
    HELD_OUT_MOVIES,
    HELD_OUT_SEED,
    HELD_OUT_SHOTS,
    held_out_movies,
    score_movies,
)
from xuframe_plugins.lgss.training import evaluate

SMALL = {
    "place_dim": 16,
    "cast_dim": 8,
    "action_dim": 8,
    "audio_dim": 8,
    "channels": 8,
    "hidden": 8,
}


def _movies(n=2, shots=40):
    return synthetic_movies(n, shots, dims=(16, 8, 8), audio_shape=(8, 4), seed=5)


@pytest.mark.parametrize("grouping", [True, False])
def test_one_pass_scores_both_ways_as_evaluate_does(grouping):
    """score_movies gives, from one forward pass, what training.evaluate measures on a model
    configured with grouping and on one without, whatever the given model's own setting."""
    torch.manual_seed(0)
    movies = _movies()
    model = SceneSegmenter(SMALL).eval()
    # an untrained model's probabilities sit close together: cut at their median
    median = float(model.boundary_probabilities(movies[0]).median())
    config = {**SMALL, "threshold": median}
    model = SceneSegmenter({**config, "global_grouping": grouping}).load_from(model).train()
    scores = score_movies(model, movies)
    assert model.training  # the mode is restored
    for how, flag in (("grouped", True), ("thresholded", False)):
        view = SceneSegmenter({**config, "global_grouping": flag}).load_from(model)
        assert scores[how] == pytest.approx(evaluate(view, movies), abs=1e-12), how
    assert scores["grouped"]["mIoU"] != scores["thresholded"]["mIoU"]


def test_score_movies_and_held_out_movies_refuse_bad_arguments():
    model = SceneSegmenter(SMALL)
    movie = _movies(1)[0]
    with pytest.raises(InputError, match="expected an lgss SceneSegmenter"):
        score_movies(torch.nn.Linear(2, 2), [movie])
    for bad in ([], movie, "movies"):
        with pytest.raises(InputError, match="non-empty list of movies"):
            score_movies(model, bad)
    no_labels = {k: v for k, v in movie.items() if k != "labels"}
    with pytest.raises(InputError, match="movie 1 must be a mapping with 'labels'"):
        score_movies(model, [movie, no_labels])
    with pytest.raises(InputError, match="lacks modality 'audio'"):
        score_movies(model, [{k: v for k, v in movie.items() if k != "audio"}])
    with pytest.raises(InputError, match="seed"):
        held_out_movies(seed=1)  # the training movies
    with pytest.raises(InputError, match="n_movies"):
        held_out_movies(0)


def test_the_held_out_movies_are_the_examples_and_not_its_training_set():
    """The example trains on synthetic_movies(24, 300, seed=1) and tests on seed 2."""
    movies = held_out_movies(2)
    assert len(held_out_movies()) == HELD_OUT_MOVIES and HELD_OUT_SEED == 2
    training = synthetic_movies(2, HELD_OUT_SHOTS, seed=1, audio_shape=(16, 8))
    assert all(len(m["labels"]) == HELD_OUT_SHOTS for m in movies)
    assert movies[0]["audio"].shape[1:] == (1, 16, 8)
    assert not torch.equal(movies[0]["place"], training[0]["place"])


def test_the_demo_runs_the_shipped_weights_on_the_manifests_movies():
    """The demo measures the manifest's held-out movies (seed 0): its metrics are the
    manifest's; the unlearned baseline's 0/1 boundaries rank worse than the model's
    probabilities (its mIoU, told the mean scene length, is not compared)."""
    (entry,) = xuframe.pretrained_weights("detector", "lgss").values()
    result = SceneSegmenter.demo()
    for key in ("AP", "mAP", "mIoU", "Recall", "Recall@3s"):
        assert result.metrics[f"global/{key}"] == pytest.approx(entry.metrics[key], abs=1e-6)
        assert result.metrics[f"local/{key}"] == pytest.approx(
            entry.metrics.get(f"thresholded/{key}", entry.metrics[key]), abs=1e-6
        )
    assert result.metrics["global/AP"] > result.metrics["baseline/AP"] + 0.05
    assert {"baseline/mIoU", "baseline/Recall"} <= set(result.metrics)
    assert result.picture is not None and result.picture.shape[1] == 4 * HELD_OUT_SHOTS
    assert "shipped weights" in result.summary
