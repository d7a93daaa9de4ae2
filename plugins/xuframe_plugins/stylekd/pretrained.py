"""How the shipped ``stylegan2`` weights are measured.

The weights (``weights/stylegan2-digits.pt``) are the teacher that
``examples/stylekd/distill_digits.py --export-weights digits`` trains: a 16-px StyleGAN2 on
scikit-learn's 1,347 training digits for 1,500 steps. Measured here against the 450 held-out
digits; the manifest records the metrics and the test suite re-measures them.
"""

from __future__ import annotations

from typing import Any

from xuframe.errors import InputError
from xuframe.metrics import frechet_distance
from xuframe.validation import check_int
from xuframe_plugins.stylekd.training import RandomFeatures, digit_images

__all__ = ["evaluate"]


def evaluate(model: Any, seed: int = 0) -> dict[str, float]:
    """``fd``: the Frechet distance between the random-feature statistics (a fixed, seeded
    untrained network: no downloaded weights) of as many samples (``seed``) as there are
    held-out digits and of those digits; lower is closer. ``model`` is a generator with a
    ``config.resolution`` and ``sample(n, seed)``, ``seed`` an int >= 0;
    :class:`~xuframe.errors.InputError` otherwise."""
    resolution = getattr(getattr(model, "config", None), "resolution", None)
    if not callable(getattr(model, "sample", None)) or not isinstance(resolution, int):
        raise InputError(
            "evaluate: expected a generator (config.resolution and sample(n, seed)), got "
            f"{type(model).__name__}"
        )
    seed = check_int(seed, "evaluate: seed", min=0, max=2**64 - 1)
    size = int(resolution)
    held_out = digit_images(size, "test")
    features = RandomFeatures()
    real = features(held_out)
    fake = features(model.sample(len(held_out), seed=seed))
    return {"fd": float(frechet_distance(fake, real))}
