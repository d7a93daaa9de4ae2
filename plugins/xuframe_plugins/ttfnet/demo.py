"""The built-in demos of the TTFNet detectors.

``ttfnet-tiny`` runs its shipped weights on held-out shapes images. ``ttfnet-r18`` ships no
weights (57 MB in float32, too big for the wheel), so its demo times one forward pass at the
paper's 512 px and says how to train it. Kept apart from the model so that ``model.py`` is
only the model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

import xuframe
from xuframe import DemoResult
from xuframe.data import SHAPE_CLASSES, Normalize, ShapesDataset
from xuframe_plugins.ttfnet.pretrained import evaluate

__all__ = ["DEMO_IMAGES", "demo", "detections_picture"]

#: How many held-out shapes images the demo measures (the manifest's metrics use 200).
DEMO_IMAGES = 64


def demo(cls: Any, seed: int = 0) -> DemoResult:
    """The shipped weights on held-out images when ``cls`` ships some; otherwise the latency
    of one 512 x 512 forward pass of an untrained model."""
    start = time.perf_counter()
    if "synthetic" in xuframe.pretrained_weights("detector", cls.name):
        model = xuframe.create("detector", cls.name, weights="synthetic")
        metrics = evaluate(model, DEMO_IMAGES)
        picture = detections_picture(model, 6)
        seconds = time.perf_counter() - start
        return DemoResult(
            {**metrics, "seconds": seconds},
            summary=(
                f"{cls.name} with its shipped weights (trained on 8,000 shapes images) on "
                f"{DEMO_IMAGES} held-out images: COCO AP50 {metrics['AP50']:.3f}, "
                f"AP {metrics['AP']:.3f} ({seconds:.0f} s)"
            ),
            headline="AP50",
            picture=picture,
        )
    torch.manual_seed(seed)
    model = cls().eval()
    size = int(model.config.input_size)
    image = torch.rand(1, 3, size, size)
    with torch.no_grad():
        model.predict(image)  # warm-up
        tick = time.perf_counter()
        model.predict(image)
        latency = (time.perf_counter() - tick) * 1000
    params = sum(p.numel() for p in model.parameters()) / 1e6
    seconds = time.perf_counter() - start
    return DemoResult(
        {"latency_ms": latency, "params_M": params, "seconds": seconds},
        summary=(
            f"{cls.name} ships no weights ({params:.1f} M parameters): one {size} x {size} "
            f"forward pass takes {latency:.0f} ms on this CPU; train it with `python "
            f"examples/ttfnet/train_shapes.py --name {cls.name}`"
        ),
        headline="latency_ms",
    )


def detections_picture(model: Any, n: int = 6, threshold: float = 0.3) -> np.ndarray[Any, Any]:
    """The first ``n`` held-out shapes images side by side, each with the detections scoring
    at least ``threshold`` drawn (box and class), as an RGB uint8 array at twice the size."""
    size = int(model.config.input_size)
    raw = ShapesDataset(n, size, split="val")
    norm = Normalize()
    tiles = []
    for i in range(n):
        sample = raw[i]
        with torch.no_grad():
            found = model.predict(norm(sample)["image"][None])[0]
        pixels = (sample["image"].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
        tile = Image.fromarray(pixels).resize((2 * size, 2 * size), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(tile)
        keep = found.scores >= threshold
        for box, label in zip(
            found.geometry.tensor[keep].tolist(), found.labels[keep].tolist(), strict=True
        ):
            x1, y1, x2, y2 = (2 * v for v in box)
            draw.rectangle((x1, y1, x2, y2), outline=(255, 230, 0), width=2)
            draw.text((x1 + 2, y1 + 1), SHAPE_CLASSES[int(label)], fill=(255, 230, 0))
        tiles.append(np.asarray(tile))
    return np.concatenate(tiles, axis=1)
