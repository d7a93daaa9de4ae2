"""Small pictures for demos, drawn with pillow (a dependency): no plotting library needed.

Each function returns an RGB image as a ``(H, W, 3)`` uint8 numpy array, the form
:class:`~xuframe.DemoResult` ``picture`` takes and ``xuframe demo --out DIR`` writes as PNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from xuframe.errors import InputError

__all__ = ["PALETTE", "annotate", "bar_picture", "image_grid", "scatter_picture"]

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


_Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
_TITLE, _TEXT = 16, 12  # font sizes in pixels


def _font(size: int) -> _Font:
    """Pillow's own scalable font at ``size`` pixels; its fixed bitmap font without FreeType."""
    try:
        return ImageFont.load_default(size)
    except (ImportError, OSError):
        return ImageFont.load_default()


def _fold(text: str, font: _Font, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels, broken at spaces; a word wider than
    a line is broken where it must be."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}" if line else word
            if font.getlength(trial) <= width:
                line = trial
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and font.getlength(word) > width:
                cut = len(word) - 1
                while cut > 1 and font.getlength(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _colour(value: Any) -> tuple[int, int, int]:
    try:
        rgb = tuple(int(c) for c in value)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise InputError(f"annotate: expected a legend colour (R, G, B) in 0..255, got {value!r}")
    return rgb[0], rgb[1], rgb[2]


def annotate(
    picture: np.ndarray[Any, Any],
    *,
    title: str = "",
    caption: str = "",
    legend: Mapping[str, Sequence[int]] | None = None,
    min_width: int = 480,
) -> np.ndarray[Any, Any]:
    """``picture`` (an RGB uint8 array ``(H, W, 3)``) with ``title`` and ``caption`` above it
    and ``legend`` below it, on white, as a new RGB uint8 array.

    The caption wraps to the width: the picture's, or ``min_width`` pixels when that is wider
    (the picture is then centred). ``legend`` maps a name to its colour ``(R, G, B)``, drawn as
    a swatch before the name, the entries in order, wrapping to more rows when needed. With
    nothing to add the picture comes back as it is. Raises :class:`InputError` for a picture of
    another dtype or shape, or a colour that is not three values in 0..255.
    """
    if (
        not isinstance(picture, np.ndarray)
        or picture.dtype != np.uint8
        or picture.ndim != 3
        or picture.shape[2] != 3
        or 0 in picture.shape
    ):
        got = (
            f"{picture.dtype} array of shape {picture.shape}"
            if isinstance(picture, np.ndarray)
            else type(picture).__name__
        )
        raise InputError(f"annotate: expected a picture, a uint8 array (H, W, 3), got {got}")
    entries = [(str(name), _colour(rgb)) for name, rgb in (legend or {}).items()]
    if not (title or caption or entries):
        return picture
    height, width = picture.shape[:2]
    full = max(width, int(min_width))
    pad, gap = 8, 4
    big, small = _font(_TITLE), _font(_TEXT)
    text_lines: list[tuple[str, _Font, int]] = []
    if title:
        text_lines += [(line, big, _TITLE + gap) for line in _fold(title, big, full - 2 * pad)]
    if caption:
        text_lines += [(line, small, _TEXT + gap) for line in _fold(caption, small, full - 2 * pad)]
    top = pad + sum(h for _, _, h in text_lines) if text_lines else 0
    # the legend's rows: each entry is a swatch, a space and its name
    swatch = _TEXT
    rows: list[list[tuple[str, tuple[int, int, int], float]]] = [[]]
    used = 0.0
    for name, rgb in entries:
        span = swatch + gap + small.getlength(name)
        if rows[-1] and used + 3 * gap + span > full - 2 * pad:
            rows.append([])
            used = 0.0
        used += (3 * gap if rows[-1] else 0) + span
        rows[-1].append((name, rgb, span))
    bottom = (pad + len(rows) * (swatch + gap) + pad - gap) if entries else 0
    canvas = Image.new("RGB", (full, top + height + bottom), "white")
    draw = ImageDraw.Draw(canvas)
    y = pad
    for line, font, line_height in text_lines:
        draw.text((pad, y), line, fill=(0, 0, 0), font=font)
        y += line_height
    canvas.paste(Image.fromarray(picture), ((full - width) // 2, top))
    y = top + height + pad
    for row in rows if entries else []:
        x = float(pad)
        for name, rgb, span in row:
            draw.rectangle((x, y, x + swatch - 1, y + swatch - 1), fill=rgb, outline=(0, 0, 0))
            draw.text((x + swatch + gap, y - 1), name, fill=(0, 0, 0), font=small)
            x += span + 3 * gap
        y += swatch + gap
    return np.asarray(canvas, dtype=np.uint8)
