"""How the shipped ``denfi`` and ``pillars-baseline`` weights are measured.

The weights (``weights/*-synthetic.pt``) are trained by ``examples/denfi/train_scenes.py
--export-weights synthetic`` on 300 seeded synthetic scenes (``LidarScenes`` seed 0, default
scene options) and measured here on held-out scenes of another seed. The manifest records the
metrics; the test suite re-measures them.
"""

from __future__ import annotations

import tempfile
from typing import Any

from xuframe_plugins.denfi.training import kitti_evaluator, lidar_val_loader

__all__ = ["HELD_OUT_SCENES", "HELD_OUT_SEED", "evaluate"]

#: The held-out scenes: ``LidarScenes(HELD_OUT_SCENES, seed=HELD_OUT_SEED)``, never trained on.
HELD_OUT_SEED = 1000
HELD_OUT_SCENES = 32


def evaluate(
    model: Any, n_scenes: int = HELD_OUT_SCENES, seed: int = HELD_OUT_SEED
) -> dict[str, float]:
    """KITTI AP (R40) of ``model`` on ``n_scenes`` held-out synthetic scenes of ``seed`` (see
    :func:`~xuframe_plugins.denfi.training.kitti_evaluator` for the keys)."""
    with tempfile.TemporaryDirectory() as folder:
        return kitti_evaluator(model, lidar_val_loader(folder, n_scenes, 4, seed))
