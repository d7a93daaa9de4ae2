"""Indoor augmentations on ``(PointCloud, Boxes3D)``: flip, rotation about ``z``, scaling and
point subsampling, each returning the transform it applied.

Every function maps the points and the boxes together, so a point inside a box stays inside
it (flip, rotation and scaling are similarities about the origin; subsampling leaves the
boxes alone). The :class:`IndoorTransform` each returns records what was done, so that
per-point data (instance or semantic masks, votes) can follow: ``transform.indices`` are the
kept points' rows in the input, ``transform.apply(xyz)`` maps any ``(M, 3)`` coordinates of
the input's frame, and ``a.then(b)`` is the chain ``a`` followed by ``b``.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch

from xuframe.errors import InputError
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_choice, check_float, check_int, check_tensor

__all__ = [
    "IndoorTransform",
    "augment_indoor",
    "flip_indoor",
    "rotate_indoor",
    "scale_indoor",
    "subsample_indoor",
]


def _identity() -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64)


@attrs.frozen(eq=False)
class IndoorTransform:
    """``xyz_out = xyz_in[indices] @ matrix.T``: ``matrix`` a ``(3, 3)`` float64 tensor (a flip,
    a turn about ``z`` and a uniform scale, composed), ``indices`` an ``(M,)`` int64 tensor of
    the input rows kept (in output order), or ``None`` for all of them in order."""

    matrix: torch.Tensor = attrs.field(factory=_identity)
    indices: torch.Tensor | None = None

    def then(self, other: IndoorTransform) -> IndoorTransform:
        """This transform followed by ``other``. Raises
        :class:`~xuframe.errors.InputError` when ``other`` is not an :class:`IndoorTransform`."""
        if not isinstance(other, IndoorTransform):
            raise InputError(
                f"IndoorTransform.then: expected IndoorTransform, got {type(other).__name__}"
            )
        if other.indices is None:
            indices = self.indices
        elif self.indices is None:
            indices = other.indices
        else:
            indices = self.indices[other.indices]
        return IndoorTransform(other.matrix @ self.matrix, indices)

    def apply(self, xyz: torch.Tensor) -> torch.Tensor:
        """``(M, 3)`` coordinates of the input's frame mapped as the points were (rows picked by
        ``indices`` first when there are any). Raises :class:`~xuframe.errors.InputError` for
        an ``xyz`` that is not a finite floating ``(M, 3)`` tensor, or (with ``indices``) has
        fewer rows than an index needs."""
        check_tensor(xyz, "IndoorTransform.apply(xyz)", shape=(None, 3))
        if self.indices is not None:
            if len(self.indices) and int(self.indices.max()) >= len(xyz):
                raise InputError(
                    f"IndoorTransform.apply(xyz): expected at least {int(self.indices.max()) + 1} "
                    f"rows (the indices kept), got {len(xyz)}"
                )
            xyz = xyz[self.indices]
        return (xyz.double() @ self.matrix.T).to(xyz.dtype)


def _check(points: Any, boxes: Any, where: str) -> None:
    if not isinstance(points, PointCloud):
        raise InputError(f"{where}: points: expected PointCloud, got {type(points).__name__}")
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"{where}: boxes: expected Boxes3D, got {type(boxes).__name__}")


def _similarity(
    points: PointCloud, boxes: Boxes3D, matrix: torch.Tensor
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """Apply ``matrix`` (a flip, turn about z and uniform scale) to points and boxes."""
    xyz = (points.xyz.double() @ matrix.T).to(points.xyz.dtype)
    b = boxes.tensor.double()
    centres = b[:, :3] @ matrix.T
    scale = abs(float(torch.linalg.det(matrix))) ** (1.0 / 3.0)
    heading = torch.stack([torch.cos(b[:, 6]), torch.sin(b[:, 6])], 1) @ matrix[:2, :2].T
    yaw = torch.atan2(heading[:, 1], heading[:, 0])
    out = torch.cat([centres, b[:, 3:6] * scale, yaw[:, None]], 1).to(boxes.tensor.dtype)
    return PointCloud(xyz, points.features), Boxes3D(out), IndoorTransform(matrix)


def flip_indoor(
    points: PointCloud, boxes: Boxes3D, axis: str = "x"
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """Mirror the scene: ``axis="x"`` negates ``x`` (a left-right flip of the depth frame,
    ``yaw -> pi - yaw``), ``axis="y"`` negates ``y`` (``yaw -> -yaw``). Yaws are returned in
    ``[-pi, pi]``. Raises :class:`~xuframe.errors.InputError` for another ``axis`` or inputs
    that are not a :class:`~xuframe.PointCloud` and a :class:`~xuframe.Boxes3D`."""
    _check(points, boxes, "flip_indoor")
    axis = check_choice(axis, "flip_indoor: axis", ("x", "y"))
    matrix = _identity()
    k = 0 if axis == "x" else 1
    matrix[k, k] = -1.0
    return _similarity(points, boxes, matrix)


def rotate_indoor(
    points: PointCloud, boxes: Boxes3D, angle: float
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """Turn the scene by ``angle`` radians about the ``z`` axis (counter-clockwise seen from
    above): ``yaw -> yaw + angle``, in ``[-pi, pi]``. Axis-aligned boxes become yawed ones
    (the same boxes, turned). Raises :class:`~xuframe.errors.InputError` for an ``angle`` that
    is not a finite number, or inputs of the wrong types."""
    _check(points, boxes, "rotate_indoor")
    angle = check_float(angle, "rotate_indoor: angle")
    c, s = math.cos(angle), math.sin(angle)
    matrix = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return _similarity(points, boxes, matrix)


def scale_indoor(
    points: PointCloud, boxes: Boxes3D, factor: float
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """Scale the scene about the origin by ``factor`` (centres and sizes). Raises
    :class:`~xuframe.errors.InputError` for a ``factor`` that is not a finite number > 0, or
    inputs of the wrong types."""
    _check(points, boxes, "scale_indoor")
    factor = check_float(factor, "scale_indoor: factor", min=0.0, min_open=True)
    return _similarity(points, boxes, _identity() * factor)


def _check_generator(generator: Any, where: str) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InputError(
            f"{where}: generator: expected torch.Generator, got {type(generator).__name__}"
        )


def subsample_indoor(
    points: PointCloud,
    boxes: Boxes3D,
    n: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """``n`` of the points drawn at random (VoteNet's point sampling): without replacement when
    ``n <= N``, else every point once and ``n - N`` more drawn again; the boxes are unchanged.
    Draws from ``generator`` (torch's global one when ``None``). Raises
    :class:`~xuframe.errors.InputError` for ``n`` < 1, an empty cloud, or inputs of the wrong
    types."""
    _check(points, boxes, "subsample_indoor")
    n = check_int(n, "subsample_indoor: n", min=1)
    _check_generator(generator, "subsample_indoor")
    total = len(points)
    if total == 0:
        raise InputError("subsample_indoor: points: expected a non-empty cloud, got 0 points")
    if n <= total:
        indices = torch.randperm(total, generator=generator)[:n]
    else:
        extra = torch.randint(0, total, (n - total,), generator=generator)
        indices = torch.cat([torch.randperm(total, generator=generator), extra])
    transform = IndoorTransform(_identity(), indices)
    return points[indices], Boxes3D(boxes.tensor.clone()), transform


def augment_indoor(
    points: PointCloud,
    boxes: Boxes3D,
    *,
    flip: float = 0.5,
    max_angle: float = math.pi / 6,
    scale: tuple[float, float] = (0.85, 1.15),
    n_points: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[PointCloud, Boxes3D, IndoorTransform]:
    """The usual indoor training chain: a left-right flip (``x -> -x``) with probability
    ``flip``, a turn about ``z`` uniform in ``[-max_angle, max_angle]``, a scale uniform in
    ``scale`` and, when ``n_points`` is given, :func:`subsample_indoor` to ``n_points``
    (mmdetection3d's VoteNet settings for SUN RGB-D: ``max_angle=pi/6``,
    ``scale=(0.85, 1.15)``, ``n_points=20000``). Draws from ``generator`` (torch's global one
    when ``None``); returns the chain's :class:`IndoorTransform`. Raises
    :class:`~xuframe.errors.InputError` for ``flip`` outside ``[0, 1]``, a ``max_angle`` < 0,
    a ``scale`` that is not two numbers ``0 < low <= high``, a bad ``n_points``, or inputs of
    the wrong types."""
    _check(points, boxes, "augment_indoor")
    flip = check_float(flip, "augment_indoor: flip", min=0.0, max=1.0)
    max_angle = check_float(max_angle, "augment_indoor: max_angle", min=0.0)
    if not isinstance(scale, (tuple, list)) or len(scale) != 2:
        raise InputError(f"augment_indoor: scale: expected (low, high), got {scale!r}")
    low = check_float(scale[0], "augment_indoor: scale[0]", min=0.0, min_open=True)
    high = check_float(scale[1], "augment_indoor: scale[1]", min=low)
    if n_points is not None:
        n_points = check_int(n_points, "augment_indoor: n_points", min=1)
        if len(points) == 0:
            raise InputError("augment_indoor: points: expected a non-empty cloud to subsample")
    _check_generator(generator, "augment_indoor")
    draws = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    transform = IndoorTransform()
    if draws[0] < flip:
        points, boxes, step = flip_indoor(points, boxes, "x")
        transform = transform.then(step)
    points, boxes, step = rotate_indoor(points, boxes, (2 * draws[1] - 1) * max_angle)
    transform = transform.then(step)
    points, boxes, step = scale_indoor(points, boxes, low + (high - low) * draws[2])
    transform = transform.then(step)
    if n_points is not None:
        points, boxes, step = subsample_indoor(points, boxes, n_points, generator=generator)
        transform = transform.then(step)
    return points, boxes, transform
