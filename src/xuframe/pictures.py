"""Small pictures for demos, drawn with pillow (a dependency): no plotting library needed.

Each function returns an RGB image as a ``(H, W, 3)`` uint8 numpy array, the form
:class:`~xuframe.DemoResult` ``picture`` takes and ``xuframe demo --out DIR`` writes as PNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from xuframe.errors import InputError

__all__ = ["PALETTE", "bar_picture", "image_grid", "scatter_picture"]

#: Ten distinguishable colours (matplotlib's tab10), indexed by label modulo 10.
PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def image_grid(
    images: torch.Tensor,
    columns: int = 8,
    *,
    value_range: tuple[float, float] = (-1.0, 1.0),
    scale: int = 4,
    gap: int = 2,
) -> np.ndarray[Any, Any]:
    """Images ``(N, C, H, W)`` (``C`` 1 or 3, values in ``value_range``) tiled ``columns``
    wide on white, each enlarged ``scale`` times (nearest neighbour) with ``gap`` pixels
    between tiles. Raises :class:`InputError` for another shape or an empty batch."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"image_grid: expected images (N, 1 or 3, H, W), got {got}")
    n, _, h, w = images.shape
    if n == 0 or h == 0 or w == 0:
        raise InputError("image_grid: expected at least one non-empty image")
    lo, hi = value_range
    scaled = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1) * 255
    tiles = scaled.round().to(torch.uint8).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()
    pixels = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    th, tw = h * scale, w * scale
    out = np.full((rows * (th + gap) + gap, columns * (tw + gap) + gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        out[y : y + th, x : x + tw] = pixels[i]
    return out


def scatter_picture(
    points: Any, labels: Any = None, *, size: int = 480, radius: float = 2.5
) -> np.ndarray[Any, Any]:
    """The first two coordinates of ``points`` ``(N, >= 2)`` as dots on a white square of
    ``size`` pixels, coloured by integer ``labels`` ``(N,)`` (one colour without). Raises
    :class:`InputError` for fewer than two coordinates, non-finite values or labels of
    another length."""
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] < 2 or not np.isfinite(xy).all():
        raise InputError(f"scatter_picture: expected finite points (N, >= 2), got {xy.shape}")
    xy = xy[:, :2]
    colours = np.zeros(len(xy), np.int64) if labels is None else np.asarray(labels)
    if colours.shape != (len(xy),):
        raise InputError(f"scatter_picture: expected {len(xy)} labels, got {colours.shape}")
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if len(xy):
        lo, hi = xy.min(0), xy.max(0)
        span = float(max((hi - lo).max(), 1e-12))
        margin = 4 * radius
        pixel = (xy - lo) / span * (size - 2 * margin) + margin
        for (x, y), label in zip(pixel, colours, strict=True):
            y = size - y  # y up
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius),
                fill=PALETTE[int(label) % len(PALETTE)],
            )
    return np.asarray(image, dtype=np.uint8)


def bar_picture(
    values: Mapping[str, float], *, width: int = 480, bar: int = 22, lowest: float = 0.0
) -> np.ndarray[Any, Any]:
    """One labelled horizontal bar per entry of ``values`` (name -> value), drawn from
    ``lowest`` to the largest value, with the value printed; an RGB uint8 array. Raises
    :class:`InputError` for no values or a non-finite one."""
    items = [(str(k), float(v)) for k, v in values.items()]
    if not items or not all(math.isfinite(v) for _, v in items):
        raise InputError(f"bar_picture: expected finite values, got {dict(values)!r}")
    top = max(max(v for _, v in items), lowest + 1e-12)
    label_px, pad = 110, 6
    image = Image.new("RGB", (width, pad + len(items) * (bar + pad)), "white")
    draw = ImageDraw.Draw(image)
    room = width - label_px - 2 * pad - 50
    for i, (name, value) in enumerate(items):
        y = pad + i * (bar + pad)
        draw.text((pad, y + bar // 2 - 5), name, fill=(0, 0, 0))
        length = max(1.0, (value - lowest) / (top - lowest) * room)
        draw.rectangle((label_px, y, label_px + length, y + bar), fill=PALETTE[i % len(PALETTE)])
        draw.text((label_px + length + 4, y + bar // 2 - 5), f"{value:.3g}", fill=(0, 0, 0))
    return np.asarray(image, dtype=np.uint8)
