"""The built-in demo of the X-view detectors, and the picture of the views' grids.

No X-view weights ship: the demo puts the base detector's shipped ``synthetic`` weights into the
main stream and zeroes the view branches, which must give the base detector's detections
exactly (X-view's starting point for training), and measures the cost of the views at predict
time. ``examples/xview/train_scenes.py`` trains both and compares them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
from PIL import Image, ImageDraw

import xuframe
from xuframe import DemoResult
from xuframe.data import LidarScenes
from xuframe.errors import InputError
from xuframe.pictures import PALETTE, annotate
from xuframe.types import PointCloud
from xuframe_plugins.denfi.pretrained import HELD_OUT_SEED
from xuframe_plugins.xview.model import load_base_weights
from xuframe_plugins.xview.views import View

__all__ = ["DEMO_SCENES", "demo", "grid_picture"]

#: Held-out scenes the demo predicts on (each with the base and the X-view model).
DEMO_SCENES = 4


def demo(cls: Any, base_name: str, seed: int = 0, kitti: str | None = None) -> DemoResult:
    """Build ``base_name`` with its shipped weights and ``cls`` (the views ``cls.demo_views``)
    with the same weights in its main stream and its view branches at zero; predict
    :data:`DEMO_SCENES` held-out scenes (seed 1000 + ``seed``, ``LidarScenes`` arguments
    ``cls.demo_scenes``) with both and report the largest
    difference of their scores and boxes (0 expected), the predict-time ratio and a picture of
    the views' grids over the first scene. Raises :class:`~xuframe.errors.InputError` for a
    ``kitti`` folder (no weights for real frames)."""
    if kitti is not None:
        raise InputError(f"{cls.name}: the demo takes no KITTI folder (no X-view weights ship)")
    start = time.perf_counter()
    base = xuframe.create("detector", base_name, weights="synthetic").eval()
    config = attrs.asdict(base.config, recurse=False)  # the shipped config, every field
    views = list(cls.demo_views)
    model = cls({**config, "views": views}).eval()
    load_base_weights(model, base)
    with torch.no_grad():
        for p in model.xview.parameters():
            p.zero_()
    held_out = LidarScenes(DEMO_SCENES, seed=HELD_OUT_SEED + seed, **cls.demo_scenes)
    scenes = [held_out[i].points for i in range(DEMO_SCENES)]
    seconds = {}
    found = {}
    for tag, net in (("base", base), ("xview", model), ("base2", base), ("xview2", model)):
        t = time.perf_counter()
        with torch.no_grad():
            found[tag[:5]] = [net.predict([cloud])[0] for cloud in scenes]
        seconds[tag] = time.perf_counter() - t
    t_base = min(seconds["base"], seconds["base2"])
    t_xview = min(seconds["xview"], seconds["xview2"])
    diff = 0.0
    for a, b in zip(found["base"], found["xview"], strict=True):
        if len(a.scores) != len(b.scores):
            diff = math.inf
            break
        if len(a.scores):
            diff = max(
                diff,
                float((a.scores - b.scores).abs().max()),
                float((a.geometry.tensor - b.geometry.tensor).abs().max()),
            )
    picture = grid_picture(scenes[0], model.xview.views, base.config.point_range, every=4)
    total = time.perf_counter() - start
    n_det = sum(len(d.scores) for d in found["base"])
    return DemoResult(
        {
            "max_difference": diff,
            "predict_seconds_base": t_base,
            "predict_seconds_xview": t_xview,
            "time_ratio": t_xview / t_base,
            "seconds": total,
        },
        summary=(
            f"{cls.name} = {base_name}'s shipped weights + views {', '.join(views)} with "
            f"zeroed branches: {n_det} detections on {DEMO_SCENES} held-out scenes, largest "
            f"difference from {base_name} {diff:.3g} (0 expected); predict time "
            f"{t_xview / t_base:.2f}x the base's ({total:.0f} s). Train the views with "
            "examples/xview/train_scenes.py"
        ),
        headline="time_ratio",
        picture=picture,
    )


def _polyline(view: View, coords: torch.Tensor) -> list[tuple[float, float]]:
    """BEV ``(x, y)`` of view coordinates ``(M, 2)`` (range, azimuth) at the origin's height
    (cylindrical) or in its horizontal plane (spherical)."""
    third = 0.0 if view.coordinates == "cylindrical" else math.pi / 2
    full = torch.cat([coords, torch.full((len(coords), 1), third, dtype=coords.dtype)], 1)
    xyz = view.from_view(full)
    return [(float(x), float(y)) for x, y in xyz[:, :2].tolist()]


def grid_picture(
    points: PointCloud,
    views: Sequence[View],
    point_range: Sequence[float],
    pixels_per_metre: float = 8.0,
    every: int = 1,
) -> np.ndarray[Any, Any]:
    """A bird's-eye view (RGB uint8) of ``points`` (dark) inside ``point_range`` drawn over every
    ``every``-th cell boundary of each view's (range, azimuth) grid (one colour per view) and
    its origin (a dot); x forward to the right, y to the left up, with a 10 m scale bar and a
    legend."""
    if not isinstance(points, PointCloud):
        raise InputError(
            f"grid_picture: points: expected a PointCloud, got {type(points).__name__}"
        )
    x0, y0, _, x1, y1, _ = (float(v) for v in point_range)
    scale = pixels_per_metre
    width, height = round((x1 - x0) * scale), round((y1 - y0) * scale)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * scale, (y1 - y) * scale

    colours = [PALETTE[k % len(PALETTE)] for k in (0, 3, 1, 4, 9, 6)]
    legend: dict[str, tuple[int, int, int]] = {"points": (30, 30, 30)}
    for k, view in enumerate(views):
        rgb = colours[k % len(colours)]
        span = torch.linspace(view.a_min, view.a_max, 181, dtype=torch.float64)
        for i in range(0, view.n_range + 1, every):
            ring = torch.stack([torch.full_like(span, i * view.dr), span], 1)
            draw.line([pixel(*p) for p in _polyline(view, ring)], fill=rgb, width=1)
        reach = torch.linspace(0, view.r_max, 2, dtype=torch.float64)
        for j in range(0, view.n_azimuth + 1, every):
            a = view.a_min + j * view.da
            ray = torch.stack([reach, torch.full_like(reach, a)], 1)
            draw.line([pixel(*p) for p in _polyline(view, ray)], fill=rgb, width=1)
        ox, oy = pixel(view.origin[0], view.origin[1])
        draw.ellipse((ox - 4, oy - 4, ox + 4, oy + 4), fill=rgb)
        name = f"{view.coordinates} view at ({view.origin[0]:g}, {view.origin[1]:g}, {view.origin[2]:g})"
        legend[name] = rgb
    xyz = points.xyz.numpy()
    inside = (xyz[:, 0] >= x0) & (xyz[:, 0] < x1) & (xyz[:, 1] >= y0) & (xyz[:, 1] < y1)
    for x, y in xyz[inside, :2]:
        draw.point(pixel(float(x), float(y)), fill=(30, 30, 30))
    bar = 10 * scale
    draw.line((6, height - 8, 6 + bar, height - 8), fill=(0, 0, 0), width=2)
    draw.text((6, height - 22), "10 m", fill=(0, 0, 0))
    return annotate(np.asarray(image, dtype=np.uint8), legend=legend, min_width=0)
