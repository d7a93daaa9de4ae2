"""How the shipped ``votenet`` weights are measured.

The weights (``weights/votenet-synthetic.pt``) are trained by ``examples/votenet/train_rooms.py
--export-weights synthetic`` on seeded synthetic rooms (``IndoorScenes`` seed 0) and measured
here on held-out rooms of another seed. The manifest records the metrics; the test suite
re-measures them.
"""

from __future__ import annotations

from typing import Any

from xuframe_plugins.srdet.training import indoor_evaluator, indoor_val_loader

__all__ = ["HELD_OUT_SCENES", "HELD_OUT_SEED", "evaluate"]

#: The held-out rooms: ``IndoorScenes(HELD_OUT_SCENES, seed=HELD_OUT_SEED)``, never trained on.
HELD_OUT_SEED = 1000
HELD_OUT_SCENES = 40


def evaluate(
    model: Any, n_scenes: int = HELD_OUT_SCENES, seed: int = HELD_OUT_SEED
) -> dict[str, float]:
    """Indoor mAP (:func:`~xuframe_plugins.srdet.training.indoor_evaluator`: ``mAP@0.25``,
    ``mAP@0.5``, per class) of ``model`` on ``n_scenes`` held-out rooms of ``seed``, each
    with the model's ``num_points`` points."""
    return indoor_evaluator(model, indoor_val_loader(n_scenes, 8, seed, model.config.num_points))
