"""The built-in demos of the TTFNet detectors.

``ttfnet-tiny`` runs its shipped weights on held-out shapes images. ``ttfnet-r18`` ships no
weights (57 MB in float32, too big for the wheel), so its demo times one forward pass at the
paper's 512 px, draws what the untrained network finds (its best-scoring boxes, whatever their
scores) and says how to train it. Kept apart from the model so that ``model.py`` is only the
model.
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
#: The side of each image in the demo pictures, in pixels (whatever the model's input size).
TILE = 256


def demo(cls: Any, seed: int = 0) -> DemoResult:
    """The shipped weights on held-out images when ``cls`` ships some; otherwise the latency
    of one 512 x 512 forward pass of an untrained model on a held-out image, and a picture of
    its best-scoring box on each of the two images it ran on (an untrained network's guess,
    its low score printed beside it)."""
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
    held_out, norm = ShapesDataset(2, size, split="val"), Normalize()
    found = []
    with torch.no_grad():
        for i in range(2):  # the first pass warms up, the second is timed
            image = norm(held_out[i])["image"][None]
            tick = time.perf_counter()
            found.append(model.predict(image)[0])
            latency = (time.perf_counter() - tick) * 1000
    params = sum(p.numel() for p in model.parameters()) / 1e6
    picture = np.concatenate(
        [_tile(held_out[i], found[i], size, threshold=0.0, top=1) for i in range(2)], axis=1
    )
    seconds = time.perf_counter() - start
    return DemoResult(
        {"latency_ms": latency, "params_M": params, "seconds": seconds},
        summary=(
            f"{cls.name} ships no weights ({params:.1f} M parameters): one {size} x {size} "
            f"forward pass takes {latency:.0f} ms on this CPU; train it with `python "
            f"examples/ttfnet/train_shapes.py --name {cls.name}`; picture: the untrained "
            "network's best-scoring box on each of the two held-out images it was timed on, with its score"
        ),
        headline="latency_ms",
        picture=picture,
    )


def detections_picture(
    model: Any, n: int = 6, threshold: float = 0.3, top: int | None = None
) -> np.ndarray[Any, Any]:
    """The first ``n`` held-out shapes images side by side, each shown ``TILE`` pixels wide
    with the detections scoring at least ``threshold`` drawn (box, class and score; only the
    ``top`` best-scoring ones when given), as an RGB uint8 array ``(TILE, n * TILE, 3)``."""
    size = int(model.config.input_size)
    raw, norm = ShapesDataset(n, size, split="val"), Normalize()
    tiles = []
    for i in range(n):
        with torch.no_grad():
            found = model.predict(norm(raw[i])["image"][None])[0]
        tiles.append(_tile(raw[i], found, size, threshold, top))
    return np.concatenate(tiles, axis=1)


def _tile(
    sample: dict[str, Any], found: Any, size: int, threshold: float, top: int | None
) -> np.ndarray[Any, Any]:
    """One shapes image of ``size`` pixels at ``TILE`` pixels with its detections ``found``
    scoring at least ``threshold`` drawn, the ``top`` best-scoring ones when given; labels
    that would cover one another are moved down."""
    zoom = TILE / size
    pixels = (sample["image"].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    tile = Image.fromarray(pixels).resize((TILE, TILE), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(tile)
    placed: list[tuple[float, float, float, float]] = []  # the labels drawn, (x1, y1, x2, y2)
    order = found.scores.argsort(descending=True)
    order = order[found.scores[order] >= threshold][:top]
    for box, label, score in zip(
        found.geometry.tensor[order].tolist(),
        found.labels[order].tolist(),
        found.scores[order].tolist(),
        strict=True,
    ):
        x1, y1, x2, y2 = (zoom * v for v in box)
        draw.rectangle((x1, y1, x2, y2), outline=(255, 230, 0), width=2)
        text = f"{SHAPE_CLASSES[int(label)]} {score:.2f}"
        _, _, w, h = draw.textbbox((0, 0), text)
        x = min(max(0.0, x1 + 2), TILE - w - 2)
        y = min(max(0.0, y1 + 1), TILE - h - 2)
        while any(_overlap((x, y, x + w, y + h), p) for p in placed):
            y += h + 2  # below a label already there
        placed.append((x, y, x + w, y + h))
        draw.text((x + 1, y + 1), text, fill=(0, 0, 0))
        draw.text((x, y), text, fill=(255, 230, 0))
    return np.asarray(tile)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
