"""Seeded synthetic movies for LGSS: per-shot features of four modalities with known scenes.

A movie is a dict: ``"place"``, ``"cast"``, ``"action"`` ``(N, d)`` float tensors, ``"audio"``
``(N, 1, F, T)`` spectrogram-like tensors, ``"labels"`` ``(N,)`` 0/1 (1 where a shot ends its
scene; the last shot's label is 1), ``"shot_end_times"`` ``(N,)`` seconds, and ``"modalities"``,
the names present. How it is drawn (:func:`synthetic_movie`):

* scene lengths: 2 + a negative binomial with mean ``mean_scene_length - 2`` shots, so most
  scenes hold a handful of shots and a few run long;
* place: each scene films one location from two camera set-ups (shot / reverse shot), each a
  noisy copy of the location's latent vector; with probability ``ambiguity`` a scene returns to
  the previous scene's location, and only the other modalities mark that boundary;
* cast: each scene has 1-3 characters; a shot shows a random non-empty subset of them (the mean
  of their embeddings), and with probability ``missing`` nobody (all zeros);
* action: a weak scene-level latent (scale 0.5) plus per-shot noise;
* audio: one of six ambient sounds (a few frequency bands) per scene, at a random per-frame
  loudness, over a noise floor; consecutive scenes may share one;
* shot durations: 1 + an exponential with mean 3 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from xuframe.errors import InputError

__all__ = ["MODALITIES", "synthetic_movie", "synthetic_movies"]

#: The modalities LGSS uses, in its mixing order.
MODALITIES = ("place", "cast", "action", "audio")


def synthetic_movie(
    n_shots: int = 300,
    *,
    dims: tuple[int, int, int] = (64, 32, 32),
    audio_shape: tuple[int, int] = (32, 16),
    mean_scene_length: float = 8.0,
    ambiguity: float = 0.4,
    missing: float = 0.2,
    noise: float = 1.0,
    modalities: tuple[str, ...] = MODALITIES,
    seed: int = 0,
) -> dict[str, Any]:
    """One synthetic movie of ``n_shots`` shots (see the module docstring). ``dims`` are the
    place, cast and action feature widths; ``noise`` scales every per-shot perturbation."""
    if n_shots < 2:
        raise InputError(f"synthetic_movie: expected n_shots >= 2, got {n_shots}")
    unknown = set(modalities) - set(MODALITIES)
    if unknown or not modalities:
        raise InputError(f"synthetic_movie: modalities must be a non-empty subset of {MODALITIES}")
    if mean_scene_length < 2:
        raise InputError(f"expected mean_scene_length >= 2, got {mean_scene_length}")
    rng = np.random.default_rng(seed)
    lengths: list[int] = []
    while sum(lengths) < n_shots:
        lengths.append(2 + int(rng.negative_binomial(2, 2 / (mean_scene_length - 2 + 2))))
    lengths[-1] -= sum(lengths) - n_shots
    if lengths[-1] < 1:
        lengths = lengths[:-1]
        lengths[-1] += n_shots - sum(lengths)
    dp, dc, da = dims
    n_bands, n_frames = audio_shape
    place, cast, action, audio = [], [], [], []
    location = rng.normal(size=dp)
    sounds = np.zeros((6, n_bands, 1))  # a pool of ambient sounds, a few bands each
    for sound in sounds:
        sound[rng.choice(n_bands, size=max(1, n_bands // 8), replace=False)] = 1.0
    for k, length in enumerate(lengths):
        if k > 0 and rng.random() >= ambiguity:
            location = rng.normal(size=dp)
        setups = location + 0.5 * rng.normal(size=(2, dp))
        which = np.arange(length) % 2
        place.append(setups[which] + noise * rng.normal(size=(length, dp)))
        characters = rng.normal(size=(int(rng.integers(1, 4)), dc))
        for _ in range(length):
            if rng.random() < missing:
                cast.append(np.zeros(dc))
            else:
                shown = rng.random(len(characters)) < 0.7
                shown[rng.integers(len(characters))] = True
                cast.append(characters[shown].mean(0) + 0.5 * noise * rng.normal(size=dc))
        action.append(0.5 * rng.normal(size=da) + noise * rng.normal(size=(length, da)))
        pattern = sounds[rng.integers(len(sounds))]  # consecutive scenes may sound alike
        audio.append(
            0.3 * pattern[None] * rng.uniform(0.0, 2.0, size=(length, 1, n_frames))
            + noise * rng.random(size=(length, n_bands, n_frames))
        )
    labels = np.zeros(n_shots, dtype=np.int64)
    labels[np.cumsum(lengths) - 1] = 1
    times = np.cumsum(1.0 + rng.exponential(3.0, size=n_shots))
    features = {
        "place": np.concatenate(place),
        "cast": np.stack(cast),
        "action": np.concatenate(action),
        "audio": np.concatenate(audio)[:, None],
    }
    movie: dict[str, Any] = {
        name: torch.as_tensor(features[name], dtype=torch.float32) for name in modalities
    }
    movie["labels"] = torch.as_tensor(labels)
    movie["shot_end_times"] = torch.as_tensor(times, dtype=torch.float32)
    movie["modalities"] = tuple(modalities)
    return movie


def synthetic_movies(
    n: int, n_shots: int = 300, *, seed: int = 0, **kwargs: Any
) -> list[dict[str, Any]]:
    """``n`` synthetic movies with seeds ``seed * 1000 + i`` (keyword arguments as
    :func:`synthetic_movie`)."""
    return [synthetic_movie(n_shots, seed=seed * 1000 + i, **kwargs) for i in range(n)]
