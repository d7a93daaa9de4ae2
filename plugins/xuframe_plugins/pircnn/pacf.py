"""PI-RCNN's Point-based Attentive Cont-conv Fusion (PACF): image semantics fused onto points.

Each LiDAR point is projected into camera 2's image and takes the segmentation network's
per-pixel class scores there (:func:`point_image_features`; :func:`batch_point_image_features`
for a batch). :class:`PACF` then gathers, for every point, its ``k`` nearest neighbours in 3-D
(the point itself included) and combines their image features with up to three parts, each a
switch:

- **continuous convolution**: an MLP on ``[neighbour's image features, neighbour - centre]``
  (``K + 3`` inputs, ``out_channels`` outputs), summed over the neighbours;
- **point pooling**: the channel-wise max of the neighbours' image features (``K`` channels);
- **attentive aggregation**: a learned weight per neighbour slot (slot 0 the point itself, then
  nearest first), the weighted sum of the neighbours' MLP outputs (``out_channels``).

The parts' outputs are concatenated and mapped to ``out_channels`` (a linear layer); the point
features are mapped to ``out_channels`` (the point path, a per-point linear layer); the two are fused
by ``"add"`` or ``"concat"``.

Masking: a neighbour that is not visible (a point outside the image or behind the camera, or an
empty slot of a cloud with fewer than ``k`` points) contributes nothing: its MLP output is zero
before the sum and the aggregation, and it is left out of the max. A point none of whose
neighbours is visible gets an image path of exactly zero, so it keeps its point path: with no
visible point ``PACF`` is the point path exactly (``concat``: the point path, then zeros).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from xuframe.data import Calibration, project_points
from xuframe.errors import InputError
from xuframe.ops import knn
from xuframe.validation import check_choice, check_int, check_tensor

__all__ = ["PACF", "batch_point_image_features", "point_image_features", "point_neighbours"]

Fusion = Literal["add", "concat"]

#: the largest coordinate magnitude (metres) accepted for points
_MAX_COORD = 1e12


# -- points in the image ---------------------------------------------------------------------
def _check_scores(scores: Any, where: str, shape: Sequence[int | str | None]) -> torch.Tensor:
    return check_tensor(scores, f"{where}: scores", shape=shape, non_empty=True)


def _check_calib(calib: Any, where: str) -> Calibration:
    if not isinstance(calib, Calibration):
        raise InputError(f"{where}: expected a Calibration, got {type(calib).__name__}")
    return calib


def _sample_scores(
    scores: torch.Tensor, xyz: torch.Tensor, calib: Calibration, augmentation: Any, where: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked ``scores`` (K, H, W) at the pixels of checked ``xyz`` (N, 3): (N, K), (N,)."""
    _, height, width = (int(s) for s in scores.shape)
    try:
        proj = project_points(xyz, calib, augmentation=augmentation, image_size=(width, height))
    except InputError as err:
        raise InputError(f"{where}: {err}") from err
    visible = proj.inside.to(scores.device)
    cols = proj.pixels[:, 0].clamp(0, width - 1).to(scores.device)
    rows = proj.pixels[:, 1].clamp(0, height - 1).to(scores.device)
    features = scores[:, rows, cols].T  # (N, K)
    features = torch.where(visible[:, None], features, torch.zeros_like(features))
    return features, visible


def point_image_features(
    scores: torch.Tensor,
    xyz: torch.Tensor,
    calib: Calibration,
    augmentation: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per point the image's per-pixel scores at the pixel it projects to.

    ``scores`` ``(K, H, W)``: a finite float tensor of per-pixel class scores (a segmentation
    network's output at the image's full resolution; ``W x H`` is the image size). ``xyz``
    ``(N, 3)``: LiDAR points in metres, finite float, in the frame of the (augmented) sample;
    ``augmentation`` the ``(4, 4)`` matrix the sample recorded (points now = matrix @ points as
    loaded; ``None`` for points as loaded), undone before projecting through ``calib`` with
    :func:`xuframe.data.project_points` (pixel ``(row, column) = round(v, u)``).

    Returns ``(features, visible)``: ``features`` ``(N, K)`` in ``scores``' dtype and device,
    ``scores[:, row, column]`` of each point's pixel (differentiable with respect to
    ``scores``); ``visible`` ``(N,)`` bool. A point behind the camera (projective depth <= 0.1 m)
    or whose pixel lies outside the image gets ``visible = False`` and features of exactly zero
    (and no gradient).

    Raises :class:`~xuframe.errors.InputError` when ``scores`` is not a non-empty finite float
    ``(K, H, W)`` tensor, ``xyz`` not a finite float ``(N, 3)`` tensor (coordinates within
    1e12), ``calib`` not a :class:`~xuframe.data.Calibration`, or ``augmentation`` not a finite
    ``(4, 4)`` tensor with last row ``0, 0, 0, 1`` and an invertible linear part.
    """
    where = "point_image_features"
    scores = _check_scores(scores, where, ("K", "H", "W"))
    xyz = check_tensor(xyz, f"{where}: xyz", shape=("N", 3), max_abs=_MAX_COORD)
    calib = _check_calib(calib, f"{where}: calib")
    return _sample_scores(scores, xyz, calib, augmentation, where)


def batch_point_image_features(
    scores: torch.Tensor,
    xyz: torch.Tensor,
    calibs: Sequence[Calibration],
    augmentations: Sequence[torch.Tensor | None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`point_image_features` for a batch, laid out as :class:`PACF` takes it.

    ``scores`` ``(B, K, H, W)``, ``xyz`` ``(B, N, 3)``, ``calibs`` ``B`` calibrations and
    ``augmentations`` ``B`` matrices or ``None`` (``None`` for all points as loaded). Returns
    ``(features (B, K, N), visible (B, N) bool)``: channels first, each sample's features as
    :func:`point_image_features` gives them (zero for points not visible).

    Raises :class:`~xuframe.errors.InputError` for the inputs :func:`point_image_features`
    refuses (naming the sample), a ``calibs`` or ``augmentations`` that is not a sequence of
    ``B`` entries, or ``B = 0``.
    """
    where = "batch_point_image_features"
    scores = _check_scores(scores, where, ("B", "K", "H", "W"))
    batch = int(scores.shape[0])
    xyz = check_tensor(xyz, f"{where}: xyz", shape=(batch, "N", 3), max_abs=_MAX_COORD)
    calib_list = _sequence(calibs, batch, f"{where}: calibs")
    augment_list = [None] * batch if augmentations is None else augmentations
    augment_list = _sequence(augment_list, batch, f"{where}: augmentations")
    features, visible = [], []
    for b in range(batch):
        calib = _check_calib(calib_list[b], f"{where}: calibs[{b}]")
        f, v = _sample_scores(scores[b], xyz[b], calib, augment_list[b], f"{where}: sample {b}")
        features.append(f.T)
        visible.append(v)
    return torch.stack(features), torch.stack(visible)


def _sequence(value: Any, length: int, what: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InputError(f"{what}: expected a sequence of {length}, got {type(value).__name__}")
    if len(value) != length:
        raise InputError(f"{what}: expected {length} entries (one per sample), got {len(value)}")
    return list(value)


# -- neighbours ------------------------------------------------------------------------------
def point_neighbours(xyz: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each point's ``k`` nearest points of its own cloud, itself included, for :class:`PACF`.

    ``xyz`` ``(B, N, 3)`` finite float points (metres). Returns ``(indices, present)``, both
    ``(B, N, k)``: ``indices`` int64 into the same cloud, slot 0 the point itself, then its
    ``k - 1`` nearest other points, nearest first, points at equal distance by the lowest index
    (:func:`xuframe.ops.knn`'s rule, so that a point that has duplicates still holds slot 0);
    ``present`` bool, False only for the empty slots of a cloud with ``N < k`` points (every
    point then takes all ``N`` points; an empty slot has index 0). Not differentiable.

    Raises :class:`~xuframe.errors.InputError` when ``xyz`` is not a finite float ``(B, N, 3)``
    tensor with ``B >= 1`` (coordinates within 1e12) or ``k`` is not an int >= 1.
    """
    xyz = check_tensor(xyz, "point_neighbours: xyz", shape=("B", "N", 3), max_abs=_MAX_COORD)
    k = check_int(k, "point_neighbours: k", min=1)
    if xyz.shape[0] == 0:
        raise InputError("point_neighbours: xyz: expected at least one cloud, got B = 0")
    return _neighbours(xyz, k)


def _neighbours(xyz: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    batch, n = int(xyz.shape[0]), int(xyz.shape[1])
    device = xyz.device
    if n == 0:
        empty = torch.zeros((batch, 0, k), dtype=torch.int64, device=device)
        return empty, empty.bool()
    kk = min(k, n)
    _, found = knn(xyz.detach(), xyz.detach(), kk)  # (B, N, kk), nearest first
    own = torch.arange(n, device=device).view(1, n, 1).expand(batch, n, 1)
    # candidates: the point itself, then knn's list without it; when the point is not in
    # knn's list (kk or more duplicates of lower index), its last entry is the one dropped
    candidates = torch.cat([own, found], dim=2)  # (B, N, kk + 1)
    order = torch.arange(kk + 1, device=device).expand(batch, n, kk + 1)
    key = torch.where(candidates == own, order + kk + 1, order)
    key[..., 0] = 0
    ranked = torch.argsort(key, dim=2, stable=True)[..., :kk]
    indices = torch.gather(candidates, 2, ranked)
    present = torch.ones((batch, n, k), dtype=torch.bool, device=device)
    if kk < k:
        pad = torch.zeros((batch, n, k - kk), dtype=torch.int64, device=device)
        indices = torch.cat([indices, pad], dim=2)
        present[..., kk:] = False
    return indices, present


def _gather(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``values`` ``(B, N, C)`` at ``indices`` ``(B, N, k)``: ``(B, N, k, C)``."""
    batch, n, k = (int(s) for s in indices.shape)
    channels = int(values.shape[2])
    flat = indices.reshape(batch, n * k, 1).expand(batch, n * k, channels)
    return torch.gather(values, 1, flat).reshape(batch, n, k, channels)


# -- the module ------------------------------------------------------------------------------
class PACF(nn.Module):
    """Point-based Attentive Cont-conv Fusion: image features of each point's neighbours fused
    into its point features.

    ``point_channels`` C and ``image_channels`` K are the widths of the point features and the
    per-point image features; ``out_channels`` C' the width of each path; ``k`` the neighbours
    per point (the point itself included); ``mlp`` the hidden widths of the continuous
    convolution's MLP (``K + 3 -> mlp... -> C'``, ReLU after each hidden layer, the last layer
    linear). Switches: ``cont_conv`` (sum over the neighbours of the MLP outputs, C'
    channels), ``point_pooling`` (max over the neighbours of their image features, K channels),
    ``attentive_aggregation`` (the neighbours' MLP outputs weighted by one learned weight per
    neighbour slot, C' channels); at least one must be on. Their outputs, concatenated in that
    order, are mapped to C' by a linear layer (the image path). The point path is a 1x1
    convolution C -> C'. ``fusion`` ``"add"`` gives ``point + image`` (C' channels), ``"concat"``
    gives ``[point, image]`` (2 C' channels); :attr:`out_channels` is that fused width.

    A neighbour that is not visible contributes nothing (masked before the sum, the max and the
    aggregation); a point without a visible neighbour gets an image path of exactly zero (the
    image path's bias then counts as a learned "seen by the camera" term).

    Raises :class:`~xuframe.errors.InputError` for channel counts or ``k`` that are not ints
    >= 1, ``mlp`` not a sequence of ints >= 1, all three switches off, or an unknown ``fusion``.
    """

    def __init__(
        self,
        point_channels: int,
        image_channels: int,
        out_channels: int,
        k: int = 3,
        mlp: Sequence[int] = (32, 64),
        *,
        cont_conv: bool = True,
        point_pooling: bool = True,
        attentive_aggregation: bool = True,
        fusion: Fusion = "add",
    ) -> None:
        super().__init__()
        self.point_channels = check_int(point_channels, "PACF: point_channels", min=1)
        self.image_channels = check_int(image_channels, "PACF: image_channels", min=1)
        self.branch_channels = check_int(out_channels, "PACF: out_channels", min=1)
        self.k = check_int(k, "PACF: k", min=1)
        if isinstance(mlp, (str, bytes)) or not isinstance(mlp, Sequence):
            raise InputError(f"PACF: mlp: expected a sequence of ints, got {type(mlp).__name__}")
        self.mlp = tuple(check_int(w, f"PACF: mlp[{i}]", min=1) for i, w in enumerate(mlp))
        switches = {
            "cont_conv": cont_conv,
            "point_pooling": point_pooling,
            "attentive_aggregation": attentive_aggregation,
        }
        for name, value in switches.items():
            if not isinstance(value, bool):
                raise InputError(f"PACF: {name}: expected a bool, got {type(value).__name__}")
        if not any(switches.values()):
            raise InputError(
                "PACF: expected at least one of cont_conv, point_pooling, attentive_aggregation on"
            )
        self.cont_conv = cont_conv
        self.point_pooling = point_pooling
        self.attentive_aggregation = attentive_aggregation
        self.fusion: Fusion = check_choice(fusion, "PACF: fusion", ["add", "concat"])

        c_out = self.branch_channels
        self.kernel: nn.Sequential | None = None
        if cont_conv or attentive_aggregation:
            widths = [self.image_channels + 3, *self.mlp, c_out]
            layers: list[nn.Module] = []
            for i in range(len(widths) - 1):
                layers.append(nn.Linear(widths[i], widths[i + 1]))
                if i < len(widths) - 2:
                    layers.append(nn.ReLU())
            self.kernel = nn.Sequential(*layers)
        # one weight per neighbour slot, shared by channels and points (the paper's K -> 1 MLP);
        # no bias: the image path's own bias follows
        self.aggregate = nn.Linear(self.k, 1, bias=False) if attentive_aggregation else None
        parts = (
            c_out * cont_conv + self.image_channels * point_pooling + c_out * attentive_aggregation
        )
        self.image_reshape = nn.Linear(parts, c_out)
        self.point_reshape = nn.Linear(self.point_channels, c_out)

    @property
    def out_channels(self) -> int:
        """The width of the fused output: ``out_channels`` for ``"add"``, twice it for
        ``"concat"``."""
        return self.branch_channels * (2 if self.fusion == "concat" else 1)

    def point_path(self, point_features: torch.Tensor) -> torch.Tensor:
        """The point features ``(B, C, N)`` mapped to ``(B, C', N)`` (a 1x1 convolution): what
        :meth:`forward` gives (first) for points without a visible neighbour."""
        return self.point_reshape(point_features.transpose(1, 2)).transpose(1, 2)  # type: ignore[no-any-return]

    def forward(
        self,
        xyz: torch.Tensor,
        point_features: torch.Tensor,
        image_features: torch.Tensor,
        visible: torch.Tensor,
    ) -> torch.Tensor:
        """Fuse the image features of each point's neighbourhood into its point features.

        ``xyz`` ``(B, N, 3)`` finite float point coordinates (metres; they select the
        neighbours and give the offsets, through which gradients flow); ``point_features``
        ``(B, C, N)``; ``image_features`` ``(B, K, N)`` (e.g. segmentation scores from
        :func:`batch_point_image_features`), both finite and of the module's dtype;
        ``visible`` ``(B, N)`` bool (points whose image features count). Returns
        ``(B, out_channels, N)``. Points with distance ties take neighbours by the lowest
        index, so permuting the points permutes the output when no distances tie.

        Raises :class:`~xuframe.errors.InputError` for tensors of other shapes, channel counts,
        dtypes or batch sizes, or non-finite values.
        """
        xyz, point_features, image_features, visible = self._check(
            xyz, point_features, image_features, visible
        )
        point = self.point_path(point_features)
        image = self._image_path(xyz, image_features, visible)
        if self.fusion == "add":
            return point + image
        return torch.cat([point, image], dim=1)

    def _check(
        self, xyz: Any, point_features: Any, image_features: Any, visible: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        dtype = self.point_reshape.weight.dtype
        xyz = check_tensor(xyz, "PACF: xyz", shape=("B", "N", 3), max_abs=_MAX_COORD)
        batch, n = int(xyz.shape[0]), int(xyz.shape[1])
        if batch == 0:
            raise InputError("PACF: xyz: expected at least one cloud, got B = 0")
        point_features = check_tensor(
            point_features,
            "PACF: point_features",
            shape=(batch, self.point_channels, n),
            dtype=dtype,
        )
        image_features = check_tensor(
            image_features,
            "PACF: image_features",
            shape=(batch, self.image_channels, n),
            dtype=dtype,
        )
        if not isinstance(visible, torch.Tensor) or visible.dtype != torch.bool:
            got = visible.dtype if isinstance(visible, torch.Tensor) else type(visible).__name__
            raise InputError(f"PACF: visible: expected a bool tensor, got {got}")
        if tuple(visible.shape) != (batch, n):
            raise InputError(
                f"PACF: visible: expected shape ({batch}, {n}), got {tuple(visible.shape)}"
            )
        return xyz, point_features, image_features, visible

    def _image_path(
        self, xyz: torch.Tensor, image_features: torch.Tensor, visible: torch.Tensor
    ) -> torch.Tensor:
        """``(B, C', N)``: zero for points without a visible neighbour."""
        batch, n = int(xyz.shape[0]), int(xyz.shape[1])
        dtype = image_features.dtype
        if n == 0:
            return image_features.new_zeros((batch, self.branch_channels, 0))
        features = image_features.transpose(1, 2)  # (B, N, K)
        features = torch.where(visible[..., None], features, torch.zeros_like(features))
        indices, present = _neighbours(xyz, self.k)
        near_visible = torch.gather(visible, 1, indices.reshape(batch, n * self.k))
        mask = present & near_visible.view_as(present)
        seen = mask.any(dim=2)  # (B, N): a visible neighbour
        neighbour = _gather(features, indices)  # (B, N, k, K)
        parts: list[torch.Tensor] = []
        h: torch.Tensor | None = None  # the MLP's output per neighbour, (B, N, k, C')
        if self.kernel is not None:
            offsets = (_gather(xyz, indices) - xyz[:, :, None, :]).to(dtype)
            h = self.kernel(torch.cat([neighbour, offsets], dim=3))
            h = torch.where(mask[..., None], h, torch.zeros_like(h))
            if self.cont_conv:
                parts.append(h.sum(dim=2))
        if self.point_pooling:
            lowest = torch.full_like(neighbour, float("-inf"))
            pooled = torch.where(mask[..., None], neighbour, lowest).amax(dim=2)
            parts.append(torch.where(seen[..., None], pooled, torch.zeros_like(pooled)))
        if self.aggregate is not None and h is not None:
            parts.append(self.aggregate(h.transpose(2, 3)).squeeze(3))  # (B, N, C')
        out = self.image_reshape(torch.cat(parts, dim=2))  # (B, N, C')
        out = torch.where(seen[..., None], out, torch.zeros_like(out))
        return out.transpose(1, 2)

    def extra_repr(self) -> str:
        parts = [
            name
            for name, on in (
                ("cont_conv", self.cont_conv),
                ("point_pooling", self.point_pooling),
                ("attentive_aggregation", self.attentive_aggregation),
            )
            if on
        ]
        return f"k={self.k}, parts={'+'.join(parts)}, fusion={self.fusion!r}"
