"""How the shipped ``pointrcnn`` and ``pircnn`` weights are measured.

The weights (``weights/<name>-synthetic.pt``) are trained by ``examples/pircnn/train_scenes.py
--export-weights synthetic`` (the demo-size configs, :data:`~xuframe_plugins.pircnn.DEMO_CONFIG`
and :data:`~xuframe_plugins.pircnn.PIRCNN_DEMO_CONFIG`) on seeded synthetic scenes of
:data:`~xuframe_plugins.pircnn.DEMO_SCENES` (30 m, 60 degrees in front of the sensor) and
measured here on held-out scenes of another seed, rendered with their camera images for
``pircnn``. The manifest records the metrics; the test suite re-measures them.
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any

from xuframe_plugins.denfi.training import kitti_evaluator, lidar_val_loader
from xuframe_plugins.pircnn.pointrcnn import DEMO_SCENES

__all__ = ["HELD_OUT_SCENES", "HELD_OUT_SEED", "evaluate", "ship"]

#: The held-out scenes: ``LidarScenes(HELD_OUT_SCENES, seed=HELD_OUT_SEED, **DEMO_SCENES)``,
#: never trained on.
HELD_OUT_SEED = 1000
HELD_OUT_SCENES = 40


def evaluate(
    model: Any, n_scenes: int = HELD_OUT_SCENES, seed: int = HELD_OUT_SEED
) -> dict[str, float]:
    """KITTI AP (R40) of ``model`` (``pointrcnn`` or ``pircnn``) on ``n_scenes`` held-out
    synthetic scenes of ``seed`` (with camera images when the model needs them; see
    :func:`~xuframe_plugins.denfi.training.kitti_evaluator` for the keys)."""
    images = bool(getattr(model, "needs_camera", False))
    with tempfile.TemporaryDirectory() as folder:
        batches = lidar_val_loader(folder, n_scenes, 4, seed, DEMO_SCENES, images=images)
        return kitti_evaluator(model, batches)


def ship(model: Any, tag: str, *, steps: int, n_train: int, seed: int) -> Any:
    """Ship ``model`` as its plugin's weights ``tag`` with :func:`~xuframe.engine.save_pretrained`,
    measured by :func:`evaluate`; the manifest records the running script's command line and
    the training budget. Returns the shipped entry (its ``path`` and ``metrics``)."""
    from xuframe.engine import save_pretrained

    return save_pretrained(
        model,
        tag,
        evaluate="xuframe_plugins.pircnn.pretrained:evaluate",
        command="python " + " ".join(sys.argv),
        description=(
            f"{steps} steps of 4 scenes on {n_train} synthetic scenes (LidarScenes seed {seed}, "
            f"30 m x 60 degrees); metrics on {HELD_OUT_SCENES} held-out scenes (seed "
            f"{HELD_OUT_SEED})"
        ),
    )
