"""How the shipped ``votenet`` weights are measured.

The weights (``weights/votenet-synthetic.pt``) are trained by ``examples/votenet/train_rooms.py
--export-weights synthetic`` on seeded synthetic rooms (``IndoorScenes`` seed 0) and measured
here on held-out rooms of another seed. The manifest records the metrics; the test suite
re-measures them.
"""

from __future__ import annotations

import sys
from typing import Any

from xuframe_plugins.srdet.training import indoor_evaluator, indoor_val_loader

__all__ = ["HELD_OUT_SCENES", "HELD_OUT_SEED", "evaluate", "ship"]

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


def ship(
    model: Any,
    tag: str,
    *,
    steps: int,
    batch_size: int,
    n_train: int,
    seed: int,
    folder: str | None = None,
) -> Any:
    """Ship ``model`` (``votenet`` or ``srdet``) as its plugin's weights ``tag`` with
    :func:`~xuframe.engine.save_pretrained`, measured by :func:`evaluate`; the manifest records
    the running script's command line and the training budget; ``folder`` as
    :func:`~xuframe.engine.save_pretrained` takes it (default: the plugin's). Returns the shipped entry
    (its ``path`` and ``metrics``)."""
    from xuframe.engine import save_pretrained

    return save_pretrained(
        model,
        tag,
        evaluate="xuframe_plugins.srdet.pretrained:evaluate",
        command="python " + " ".join(sys.argv),
        description=(
            f"{steps} steps of {batch_size} rooms on {n_train} synthetic rooms (IndoorScenes "
            f"seed {seed}); metrics on {HELD_OUT_SCENES} held-out rooms (seed {HELD_OUT_SEED})"
        ),
        folder=folder,
    )
