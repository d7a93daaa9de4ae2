"""``shapes``: a seeded synthetic detection dataset rendered with pillow.

Each image holds 1 .. ``max_objects`` filled shapes (rectangle, ellipse, triangle, cross) of
sizes from 6 px to 70% of the image side and aspect ratios from 1:3 to 3:1, in random colours,
on a textured background (a colour gradient, low-frequency blotches and stripes). Boxes are the
shapes' exact extents; objects overlap each other by at most IoU 0.3. Image ``i`` of a split is
a pure function of ``(seed, split, i)``, so datasets are reproducible and need no storage;
:meth:`ShapesDataset.write_coco` writes one out as PNGs plus COCO json.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from xuframe.data._coco import write_coco
from xuframe.errors import InputError
from xuframe.types import Boxes2D
from xuframe.validation import check_choice, check_int, check_memory

__all__ = ["SHAPE_CLASSES", "ShapesDataset"]

SHAPE_CLASSES = ("rectangle", "ellipse", "triangle", "cross")
_SPLITS = {"train": 0, "val": 1, "test": 2}
# placing an object compares it with every placed one, 20 tries each: quadratic in the count
_MAX_OBJECTS = 256

Sample = dict[str, Any]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    yy, xx = np.mgrid[0:size, 0:size] / size
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
    img = a * (1 - t) + b * t
    coarse = rng.normal(0, 25, (8, 8, 3))
    blotches = np.asarray(
        Image.fromarray(np.uint8(np.clip(coarse + 128, 0, 255))).resize(
            (size, size), Image.Resampling.BILINEAR
        ),
        dtype=np.float64,
    )
    img = img + (blotches - 128)
    period = rng.uniform(6, 24)
    stripes = 12 * np.sin(
        2 * np.pi * (xx * np.cos(angle + 1) + yy * np.sin(angle + 1)) * size / period
    )
    img = img + stripes[..., None] + rng.normal(0, 6, img.shape)
    return Image.fromarray(np.uint8(np.clip(img, 0, 255)))


def _draw(
    draw: ImageDraw.ImageDraw,
    kind: int,
    box: tuple[float, float, float, float],
    colour: tuple[int, ...],
) -> None:
    x1, y1, x2, y2 = box
    if kind == 0:
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=colour)
    elif kind == 1:
        draw.ellipse([x1, y1, x2 - 1, y2 - 1], fill=colour)
    elif kind == 2:
        draw.polygon([(x1, y2 - 1), (x2 - 1, y2 - 1), ((x1 + x2 - 1) / 2, y1)], fill=colour)
    else:
        w, h = x2 - x1, y2 - y1
        draw.rectangle([x1 + w / 3, y1, x2 - w / 3 - 1, y2 - 1], fill=colour)
        draw.rectangle([x1, y1 + h / 3, x2 - 1, y2 - h / 3 - 1], fill=colour)


def _iou(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


class ShapesDataset:
    """``n_images`` seeded synthetic images of ``size x size`` pixels with boxes and labels
    (indices into :data:`SHAPE_CLASSES`); ``dataset[i]`` is a detection sample.

    Raises :class:`~xuframe.errors.InputError` for ``n_images`` < 0, ``size`` < 32 or too
    large for one image to fit in memory, ``max_objects`` outside ``1 .. 256``, a ``seed`` < 0
    (each an int; numpy integers are accepted), a ``split`` other than ``"train"``, ``"val"``
    or ``"test"``, or ``transforms`` that are not callable. An index outside
    ``0 .. n_images - 1`` is an :class:`IndexError`, as for any sequence."""

    class_names = SHAPE_CLASSES

    def __init__(
        self,
        n_images: int = 200,
        size: int = 128,
        *,
        split: str = "train",
        seed: int = 0,
        max_objects: int = 4,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        n_images = check_int(n_images, "ShapesDataset: n_images", min=0)
        size = check_int(size, "ShapesDataset: size", min=32)
        split = check_choice(split, "ShapesDataset: split", tuple(_SPLITS))
        seed = check_int(seed, "ShapesDataset: seed", min=0)
        max_objects = check_int(max_objects, "ShapesDataset: max_objects", min=1, max=_MAX_OBJECTS)
        if transforms is not None and not callable(transforms):
            raise InputError(
                "ShapesDataset: transforms: expected a callable (sample -> sample) or None, "
                f"got {type(transforms).__name__}"
            )
        # rendering one image: about twenty float64 (size, size) planes (gradient, blotches,
        # stripes, noise, their sums) and the uint8/float32 image
        check_memory(8.0 * 20 * size * size, f"ShapesDataset: rendering an image of size={size}")
        self.n_images, self.size, self.split, self.seed = n_images, size, split, seed
        self.max_objects, self.transforms = max_objects, transforms

    def __len__(self) -> int:
        return self.n_images

    def render(self, i: int) -> Sample:
        """Image ``i`` before transforms."""
        i = check_int(i, "ShapesDataset: index")
        if not 0 <= i < self.n_images:
            raise IndexError(f"ShapesDataset: index {i} out of range 0 .. {self.n_images - 1}")
        rng = np.random.default_rng([self.seed, _SPLITS[self.split], i])
        s = self.size
        image = _background(rng, s)
        draw = ImageDraw.Draw(image)
        boxes: list[np.ndarray[Any, Any]] = []
        labels: list[int] = []
        for _ in range(int(rng.integers(1, self.max_objects + 1))):
            for _attempt in range(20):
                side = np.exp(rng.uniform(np.log(6), np.log(0.7 * s)))
                aspect = np.exp(rng.uniform(np.log(1 / 3), np.log(3)))
                w = float(np.clip(round(side * np.sqrt(aspect)), 6, s - 2))
                h = float(np.clip(round(side / np.sqrt(aspect)), 6, s - 2))
                x1 = float(rng.integers(0, int(s - w) + 1))
                y1 = float(rng.integers(0, int(s - h) + 1))
                box = np.array([x1, y1, x1 + w, y1 + h])
                if all(_iou(box, other) <= 0.3 for other in boxes):
                    kind = int(rng.integers(len(SHAPE_CLASSES)))
                    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                    _draw(draw, kind, (x1, y1, x1 + w, y1 + h), colour)
                    boxes.append(box)
                    labels.append(kind)
                    break
        image = image.filter(ImageFilter.GaussianBlur(0.4))  # soften the pixel-perfect edges
        array = np.asarray(image, dtype=np.float32) / 255.0
        return {
            "image": torch.from_numpy(array.copy()).permute(2, 0, 1),
            "boxes": Boxes2D(torch.tensor(np.array(boxes), dtype=torch.float32).reshape(-1, 4)),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "crowd": torch.zeros(len(labels), dtype=torch.bool),
            "image_id": i,
        }

    def __getitem__(self, i: int) -> Sample:
        sample = self.render(i)
        return self.transforms(sample) if self.transforms is not None else sample

    def write_coco(self, directory: str | os.PathLike[str]) -> Path:
        """Write every image (before transforms) as PNG plus ``instances.json``; returns its path."""
        return write_coco(directory, [self.render(i) for i in range(self.n_images)], SHAPE_CLASSES)
