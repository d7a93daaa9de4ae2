"""How the shipped ``ttfnet-tiny`` weights are measured.

The weights (``weights/ttfnet-tiny-synthetic.pt``) are trained by
``examples/ttfnet/train_shapes.py --export-weights synthetic`` on 8,000 generated shapes
images (128 px) and measured here on the 200 held-out images of the validation split. The
manifest records the metrics; the test suite re-measures them.
"""

from __future__ import annotations

from typing import Any

from xuframe.errors import InputError
from xuframe.validation import check_int
from xuframe_plugins.ttfnet.training import coco_evaluator, shapes_val_loader

__all__ = ["HELD_OUT_IMAGES", "evaluate"]

#: The held-out images: the first ``HELD_OUT_IMAGES`` of the shapes validation split.
HELD_OUT_IMAGES = 200


def evaluate(model: Any, n_images: int = HELD_OUT_IMAGES) -> dict[str, float]:
    """COCO box metrics (AP, AP50, ...) of ``model`` on the held-out shapes images, at the
    model's own input size. ``n_images`` is an int >= 1; a model without
    ``config.input_size`` or another ``n_images`` raises InputError."""
    n_images = check_int(n_images, "evaluate: n_images", min=1)
    if not hasattr(getattr(model, "config", None), "input_size"):
        raise InputError(
            f"evaluate: model: expected a TTFNet (with config.input_size), got {type(model).__name__}"
        )
    size = int(model.config.input_size)
    return coco_evaluator(model, shapes_val_loader(n_images, size, 16))
