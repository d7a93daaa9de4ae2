"""Geometry value types: 2-D boxes, 3-D boxes, 1-D segments and point clouds.

Each is a frozen attrs class over torch tensors. Constructors accept tensors, numpy
arrays or nested lists; ``.numpy()`` converts back. Validation happens at construction,
so a malformed value never travels further than the line that made it.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import attrs
import numpy as np
import torch

from xuframe.errors import InputError
from xuframe.types._convert import as_tensor, check_finite, check_shape, to_numpy

__all__ = ["Boxes2D", "Boxes3D", "Geometry", "PointCloud", "Segments1D"]

G = TypeVar("G", bound="Geometry")


@attrs.frozen(eq=False)
class Geometry:
    """Base of the per-object geometry types: an ``(N, D)`` float tensor of N objects."""

    tensor: torch.Tensor
    width: ClassVar[int] = 0
    columns: ClassVar[tuple[str, ...]] = ()

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    def __getitem__(self: G, index: Any) -> G:
        """The objects selected by an integer index tensor, slice or boolean mask."""
        selected = self.tensor[index]
        if selected.dim() == 1:
            selected = selected.unsqueeze(0)
        return type(self)(selected)

    def numpy(self) -> np.ndarray[Any, Any]:
        """The ``(N, D)`` array, as numpy."""
        return to_numpy(self.tensor)

    def to(self: G, *args: Any, **kwargs: Any) -> G:
        """A copy on another device or dtype (arguments as for :meth:`torch.Tensor.to`)."""
        return type(self)(self.tensor.to(*args, **kwargs))

    @classmethod
    def empty(cls: type[G], dtype: torch.dtype = torch.float32) -> G:
        """No objects."""
        return cls(torch.zeros((0, cls.width), dtype=dtype))

    @classmethod
    def concat(cls: type[G], items: list[G]) -> G:
        """All objects of ``items``, in order."""
        if not items:
            return cls.empty()
        return cls(torch.cat([item.tensor for item in items], dim=0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, columns={self.columns})"


# Named converters: mypy's attrs plugin reads their signatures.
def _boxes2d_tensor(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Boxes2D")


def _boxes3d_tensor(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Boxes3D")


def _segments_tensor(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Segments1D")


def _xyz_tensor(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="PointCloud.xyz")


def _features_tensor(value: Any) -> torch.Tensor:
    """None (no features) becomes an empty 1-D marker that ``__attrs_post_init__`` reshapes to (N, 0)."""
    if value is None:
        return torch.empty(0)
    return as_tensor(value, dtype=torch.float32, what="PointCloud.features")


@attrs.frozen(eq=False, repr=False)
class Boxes2D(Geometry):
    """Axis-aligned 2-D boxes in pixels, ``(N, 4)`` as ``x1, y1, x2, y2`` with ``x2 >= x1, y2 >= y1``.

    ``x`` grows to the right and ``y`` downwards (image convention); a box covering pixel
    columns 0..9 has ``x1 = 0, x2 = 10``.
    """

    tensor: torch.Tensor = attrs.field(converter=_boxes2d_tensor)
    width: ClassVar[int] = 4
    columns: ClassVar[tuple[str, ...]] = ("x1", "y1", "x2", "y2")

    def __attrs_post_init__(self) -> None:
        check_shape(self.tensor, "Boxes2D", None, 4)
        check_finite(self.tensor, "Boxes2D")
        bad = (self.tensor[:, 2] < self.tensor[:, 0]) | (self.tensor[:, 3] < self.tensor[:, 1])
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise InputError(
                f"Boxes2D: expected x2 >= x1 and y2 >= y1, box {i} is {self.tensor[i].tolist()}"
            )

    @classmethod
    def from_xywh(cls, xywh: Any) -> Boxes2D:
        """Boxes from ``x, y, width, height`` rows (COCO's layout)."""
        t = as_tensor(xywh, dtype=torch.float32, what="Boxes2D.from_xywh")
        check_shape(t, "Boxes2D.from_xywh", None, 4)
        return cls(torch.cat([t[:, :2], t[:, :2] + t[:, 2:]], dim=1))

    @property
    def areas(self) -> torch.Tensor:
        """``(N,)`` box areas."""
        wh = self.tensor[:, 2:] - self.tensor[:, :2]
        return wh[:, 0] * wh[:, 1]


@attrs.frozen(eq=False, repr=False)
class Boxes3D(Geometry):
    """Oriented 3-D boxes, ``(N, 7)`` as ``x, y, z, l, w, h, yaw``, in metres and radians.

    Convention (xuframe's one 3-D frame, the LiDAR frame): ``x`` forward, ``y`` left, ``z`` up.
    ``(x, y, z)`` is the box's geometric centre (KITTI's camera labels use the bottom centre:
    convert when reading them). ``l`` is the extent along the box's heading, ``w`` across it,
    ``h`` along ``z``. ``yaw`` is the heading's angle from ``+x`` towards ``+y`` (counter-clockwise
    seen from above); at ``yaw = 0`` the length lies along ``x``.
    """

    tensor: torch.Tensor = attrs.field(converter=_boxes3d_tensor)
    width: ClassVar[int] = 7
    columns: ClassVar[tuple[str, ...]] = ("x", "y", "z", "l", "w", "h", "yaw")

    def __attrs_post_init__(self) -> None:
        check_shape(self.tensor, "Boxes3D", None, 7)
        check_finite(self.tensor, "Boxes3D")
        bad = (self.tensor[:, 3:6] < 0).any(dim=1)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise InputError(
                f"Boxes3D: expected sizes l, w, h >= 0, box {i} is {self.tensor[i].tolist()}"
            )

    @property
    def centers(self) -> torch.Tensor:
        """``(N, 3)`` geometric centres."""
        return self.tensor[:, 0:3]

    @property
    def sizes(self) -> torch.Tensor:
        """``(N, 3)`` as ``l, w, h``."""
        return self.tensor[:, 3:6]

    @property
    def yaw(self) -> torch.Tensor:
        """``(N,)`` headings in radians."""
        return self.tensor[:, 6]

    def corners(self) -> torch.Tensor:
        """``(N, 8, 3)`` corners: the bottom face (``z - h/2``) counter-clockwise seen from above,
        starting at the box-frame corner ``(+l/2, +w/2)``, then the top face in the same order."""
        signs = torch.tensor(
            [[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=self.tensor.dtype, device=self.tensor.device
        )
        half = self.sizes / 2
        local_xy = signs[None] * half[:, None, :2]  # (N, 4, 2)
        cos, sin = torch.cos(self.yaw)[:, None], torch.sin(self.yaw)[:, None]
        x = local_xy[..., 0] * cos - local_xy[..., 1] * sin + self.tensor[:, None, 0]
        y = local_xy[..., 0] * sin + local_xy[..., 1] * cos + self.tensor[:, None, 1]
        z_bottom = (self.tensor[:, 2] - half[:, 2])[:, None].expand(-1, 4)
        z_top = (self.tensor[:, 2] + half[:, 2])[:, None].expand(-1, 4)
        bottom = torch.stack([x, y, z_bottom], dim=-1)
        top = torch.stack([x, y, z_top], dim=-1)
        return torch.cat([bottom, top], dim=1)


@attrs.frozen(eq=False, repr=False)
class Segments1D(Geometry):
    """Intervals on a 1-D axis, ``(N, 2)`` as ``start, end`` with ``end >= start``.

    The unit is the caller's (seconds, frames or shot indices); for scenes made of shots,
    ``[start, end)`` holds shot indices, ``end`` exclusive.
    """

    tensor: torch.Tensor = attrs.field(converter=_segments_tensor)
    width: ClassVar[int] = 2
    columns: ClassVar[tuple[str, ...]] = ("start", "end")

    def __attrs_post_init__(self) -> None:
        check_shape(self.tensor, "Segments1D", None, 2)
        check_finite(self.tensor, "Segments1D")
        bad = self.tensor[:, 1] < self.tensor[:, 0]
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise InputError(
                f"Segments1D: expected end >= start, segment {i} is {self.tensor[i].tolist()}"
            )

    @property
    def lengths(self) -> torch.Tensor:
        """``(N,)`` segment lengths."""
        return self.tensor[:, 1] - self.tensor[:, 0]


@attrs.frozen(eq=False)
class PointCloud:
    """``N`` points: ``xyz`` ``(N, 3)`` in the LiDAR frame of :class:`Boxes3D` and ``features`` ``(N, C)``.

    ``features`` holds per-point channels such as reflectance (``C`` may be 0).
    """

    xyz: torch.Tensor = attrs.field(converter=_xyz_tensor)
    features: torch.Tensor = attrs.field(default=None, converter=_features_tensor)

    def __attrs_post_init__(self) -> None:
        check_shape(self.xyz, "PointCloud.xyz", None, 3)
        check_finite(self.xyz, "PointCloud.xyz")
        if self.features.dim() == 1 and self.features.numel() == 0:
            object.__setattr__(self, "features", self.xyz.new_zeros((self.xyz.shape[0], 0)))
        check_shape(self.features, "PointCloud.features", self.xyz.shape[0], None)
        check_finite(self.features, "PointCloud.features")

    def __len__(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def num_features(self) -> int:
        """``C``, the number of per-point feature channels."""
        return int(self.features.shape[1])

    def __getitem__(self, index: Any) -> PointCloud:
        """The points selected by an index tensor, slice or boolean mask."""
        xyz = self.xyz[index].reshape(-1, 3)
        # the count from xyz: a cloud without features has (N, 0) ones, whose -1 is ambiguous
        return PointCloud(xyz, self.features[index].reshape(len(xyz), self.num_features))

    def numpy(self) -> np.ndarray[Any, Any]:
        """``(N, 3 + C)`` array of xyz then features (KITTI's ``.bin`` layout when C = 1)."""
        return to_numpy(torch.cat([self.xyz, self.features], dim=1))

    @classmethod
    def from_numpy(cls, array: Any, num_xyz: int = 3) -> PointCloud:
        """Split an ``(N, 3 + C)`` array into xyz and features."""
        t = as_tensor(array, dtype=torch.float32, what="PointCloud.from_numpy")
        if t.dim() != 2 or t.shape[1] < num_xyz:
            raise InputError(
                f"PointCloud.from_numpy: expected shape (N, >=3), got {tuple(t.shape)}"
            )
        return cls(t[:, :num_xyz], t[:, num_xyz:])

    def to(self, *args: Any, **kwargs: Any) -> PointCloud:
        """A copy on another device or dtype."""
        return PointCloud(self.xyz.to(*args, **kwargs), self.features.to(*args, **kwargs))

    def __repr__(self) -> str:
        return f"PointCloud(n={len(self)}, num_features={self.num_features})"
