"""Hypothesis strategies for xuframe's value types, shared by every plugin's property tests.

Needs ``hypothesis`` (in the ``test`` extra). Every strategy draws small, finite values so
that property tests stay fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xuframe.types import Bounds, Boxes2D, Boxes3D, Detections, PointCloud, Segments1D

__all__ = ["bounds", "boxes2d", "boxes3d", "detections", "point_clouds", "segments1d"]


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    low32, high32 = float(np.float32(low)), float(np.float32(high))
    low32 = low32 if low32 >= low else float(np.nextafter(np.float32(low), np.float32(np.inf)))
    high32 = (
        high32 if high32 <= high else float(np.nextafter(np.float32(high), np.float32(-np.inf)))
    )
    return st.floats(low32, high32, allow_nan=False, allow_infinity=False, width=32)


def _rows(draw: Any, n: int, columns: list[tuple[float, float]]) -> np.ndarray[Any, Any]:
    cols = [draw(hnp.arrays(np.float32, (n,), elements=_floats(lo, hi))) for lo, hi in columns]
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0), np.float32)


@st.composite
def boxes2d(draw: Any, max_n: int = 8, size: float = 512.0, min_side: float = 0.0) -> Boxes2D:
    """Valid :class:`~xuframe.Boxes2D` inside a ``size`` x ``size`` image, sides >= ``min_side``."""
    n = draw(st.integers(0, max_n))
    xy = _rows(draw, n, [(0.0, size - min_side)] * 2)
    wh = _rows(draw, n, [(min_side, size)] * 2)
    x2y2 = np.minimum(xy + wh, size).astype(np.float32)
    x2y2 = np.maximum(x2y2, xy + min_side)
    return Boxes2D(np.concatenate([xy, x2y2], axis=1))


@st.composite
def boxes3d(draw: Any, max_n: int = 8, extent: float = 50.0) -> Boxes3D:
    """Valid :class:`~xuframe.Boxes3D` with centres within ``extent`` m and sizes 0.1..10 m."""
    n = draw(st.integers(0, max_n))
    rows = _rows(
        draw,
        n,
        [(-extent, extent)] * 2
        + [(-3.0, 3.0)]
        + [(0.1, 10.0)] * 3
        + [(-float(np.pi), float(np.pi))],
    )
    return Boxes3D(rows)


@st.composite
def segments1d(draw: Any, max_n: int = 8, length: float = 1000.0) -> Segments1D:
    """Valid :class:`~xuframe.Segments1D` within ``[0, length]``."""
    n = draw(st.integers(0, max_n))
    ends = _rows(draw, n, [(0.0, length)] * 2)
    return Segments1D(np.sort(ends, axis=1))


@st.composite
def point_clouds(
    draw: Any, max_n: int = 64, num_features: int = 1, extent: float = 50.0
) -> PointCloud:
    """A :class:`~xuframe.PointCloud` of up to ``max_n`` points with ``num_features`` channels."""
    n = draw(st.integers(0, max_n))
    xyz = _rows(draw, n, [(-extent, extent)] * 3)
    features = _rows(draw, n, [(0.0, 1.0)] * num_features)
    return PointCloud(xyz, features)


@st.composite
def detections(
    draw: Any, geometry: st.SearchStrategy[Any] | None = None, num_classes: int = 3
) -> Detections:
    """:class:`~xuframe.Detections` over ``geometry`` (default :func:`boxes2d`), scores in [0, 1]."""
    geom = draw(geometry if geometry is not None else boxes2d())
    n = len(geom)
    scores = draw(hnp.arrays(np.float32, (n,), elements=_floats(0.0, 1.0)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, num_classes - 1)))
    return Detections(geom, scores, labels)


@st.composite
def bounds(draw: Any, shape: tuple[int, ...] = (2, 3)) -> Bounds:
    """Valid :class:`~xuframe.Bounds` of ``shape``."""
    a = draw(hnp.arrays(np.float32, shape, elements=_floats(-100.0, 100.0)))
    b = draw(hnp.arrays(np.float32, shape, elements=_floats(-100.0, 100.0)))
    return Bounds(torch.from_numpy(np.minimum(a, b)), torch.from_numpy(np.maximum(a, b)))
