"""PointRCNN's bin-based box coding for stage 1: one box per point, coded relative to it.

In our LiDAR frame (``x`` forward, ``y`` left, ``z`` up) the two ground-plane coordinates of
the box centre (PointRCNN's camera ``x`` and ``z``) are coded by bins: the offset ``d`` of the
centre from the point, within ``[-scope, scope)`` metres, falls in bin
``floor((d + scope) / bin_size)`` (clamped to the end bins), and the residual is the offset
from that bin's middle divided by ``bin_size``. The height offset is a plain residual (metres).
The heading (``yaw`` modulo ``2 pi``, shifted by half a bin so that bin 0 is centred on 0) falls
in one of ``heading_bins`` bins; its residual is the offset from the bin middle divided by half
a bin. The size is the residual ``(size - mean) / mean`` to the mean size of the point's class.

A point's prediction vector (``code_size`` values) is laid out as
``[x bins (nb), y bins (nb), x residuals (nb), y residuals (nb), z residual (1),
heading bins (nh), heading residuals (nh), size residuals (3)]`` with ``nb = 2 scope /
bin_size`` and ``nh = heading_bins``; the residuals are read at the chosen (or the target) bin.
"""

from __future__ import annotations

import math

import attrs
import torch
import torch.nn.functional as F

from xuframe.errors import ConfigError, InputError
from xuframe.validation import check_float, check_int, check_tensor

__all__ = ["BinCoder"]


@attrs.frozen
class BinCoder:
    """The bin-based coding (see the module doc). ``scope`` and ``bin_size`` are metres with
    ``2 scope / bin_size`` a whole number of bins (PointRCNN: 3.0 and 0.5, 12 bins);
    ``heading_bins`` an int >= 1 (PointRCNN: 12); ``mean_sizes`` one ``(l, w, h)`` row of
    sizes > 0 per class. Raises :class:`~xuframe.errors.ConfigError` otherwise."""

    scope: float = 3.0
    bin_size: float = 0.5
    heading_bins: int = 12
    mean_sizes: tuple[tuple[float, float, float], ...] = ((3.9, 1.6, 1.56),)

    def __attrs_post_init__(self) -> None:
        check_float(self.scope, "BinCoder: scope", min=0.0, min_open=True, error=ConfigError)
        check_float(self.bin_size, "BinCoder: bin_size", min=0.0, min_open=True, error=ConfigError)
        bins = 2 * self.scope / self.bin_size
        if not (
            math.isfinite(bins) and abs(bins - round(bins)) < 1e-6 and 1 <= round(bins) <= 4096
        ):
            raise ConfigError(
                f"BinCoder: 2 scope / bin_size must be a whole number of bins in [1, 4096], got "
                f"2 * {self.scope} / {self.bin_size} = {bins:g}"
            )
        check_int(self.heading_bins, "BinCoder: heading_bins", min=1, max=4096, error=ConfigError)
        if not self.mean_sizes:
            raise ConfigError("BinCoder: mean_sizes: expected one (l, w, h) per class, got none")
        for i, row in enumerate(self.mean_sizes):
            if len(row) != 3 or not all(isinstance(v, (int, float)) and 0 < v < 1e3 for v in row):
                raise ConfigError(
                    f"BinCoder: mean_sizes[{i}]: expected three sizes in (0, 1000) m, got {row!r}"
                )

    @property
    def loc_bins(self) -> int:
        """``nb``, the bins per ground-plane axis."""
        return round(2 * self.scope / self.bin_size)

    @property
    def code_size(self) -> int:
        """The length of one point's prediction vector, ``4 nb + 1 + 2 nh + 3``."""
        return 4 * self.loc_bins + 1 + 2 * self.heading_bins + 3

    def _means(self, labels: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.mean_sizes, dtype=ref.dtype, device=ref.device)[labels]

    def _check(self, points: torch.Tensor, labels: torch.Tensor, what: str) -> None:
        check_tensor(points, f"{what}: points", shape=(None, 3))
        check_tensor(labels, f"{what}: labels", shape=(len(points),), floating=False)
        if labels.is_floating_point():
            raise InputError(f"{what}: labels: expected integers, got {labels.dtype}")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(self.mean_sizes)):
            raise InputError(
                f"{what}: labels: expected class indices in [0, {len(self.mean_sizes) - 1}], "
                f"got values in [{int(labels.min())}, {int(labels.max())}]"
            )

    def encode(
        self, points: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The targets of ``points`` ``(N, 3)`` for their boxes ``boxes`` ``(N, 7)`` (``x, y,
        z, l, w, h, yaw``, ``z`` the centre; sizes > 0) of classes ``labels`` ``(N,)``:
        ``"x_bin"``, ``"y_bin"``, ``"heading_bin"`` ``(N,)`` int64 and ``"x_res"``, ``"y_res"``,
        ``"z_res"``, ``"heading_res"`` ``(N,)``, ``"size_res"`` ``(N, 3)`` floats. Raises
        :class:`~xuframe.errors.InputError` for other shapes, non-finite values, sizes <= 0 or
        labels out of range."""
        self._check(points, labels, "BinCoder.encode")
        check_tensor(boxes, "BinCoder.encode: boxes", shape=(len(points), 7))
        if len(boxes) and bool((boxes[:, 3:6] <= 0).any()):
            raise InputError("BinCoder.encode: boxes: expected sizes > 0")
        nb, delta, scope = self.loc_bins, self.bin_size, self.scope
        out: dict[str, torch.Tensor] = {}
        for axis, name in ((0, "x"), (1, "y")):
            shifted = boxes[:, axis] - points[:, axis] + scope
            b = torch.floor(shifted / delta).clamp(0, nb - 1).long()
            out[f"{name}_bin"] = b
            out[f"{name}_res"] = (shifted - (b.to(shifted) + 0.5) * delta) / delta
        out["z_res"] = boxes[:, 2] - points[:, 2]
        width = 2 * math.pi / self.heading_bins
        shifted = torch.remainder(boxes[:, 6] + width / 2, 2 * math.pi)
        hb = torch.floor(shifted / width).clamp(0, self.heading_bins - 1).long()
        out["heading_bin"] = hb
        out["heading_res"] = (shifted - (hb.to(shifted) + 0.5) * width) / (width / 2)
        means = self._means(labels, boxes)
        out["size_res"] = (boxes[:, 3:6] - means) / means
        return out

    def split(self, preds: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parts of raw predictions ``(N, code_size)``: ``"x_bin"``, ``"y_bin"``,
        ``"x_res"``, ``"y_res"`` ``(N, nb)``, ``"z_res"`` ``(N,)``, ``"heading_bin"``,
        ``"heading_res"`` ``(N, nh)``, ``"size_res"`` ``(N, 3)``."""
        nb, nh = self.loc_bins, self.heading_bins
        parts = torch.split(preds, [nb, nb, nb, nb, 1, nh, nh, 3], dim=-1)
        keys = ("x_bin", "y_bin", "x_res", "y_res", "z_res", "heading_bin", "heading_res")
        out = dict(zip(keys, parts[:7], strict=True))
        out["z_res"] = out["z_res"][..., 0]
        out["size_res"] = parts[7]
        return out

    def decode(
        self, points: torch.Tensor, preds: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """``(N, 7)`` boxes of raw predictions ``preds`` ``(N, code_size)`` at ``points``
        ``(N, 3)`` for classes ``labels`` ``(N,)``: the best bin of each part plus its residual;
        yaw in ``[-pi, pi)``, sizes at least 1 mm. Raises :class:`~xuframe.errors.InputError`
        for other shapes or non-finite values."""
        self._check(points, labels, "BinCoder.decode")
        check_tensor(preds, "BinCoder.decode: preds", shape=(len(points), self.code_size))
        p = self.split(preds)
        delta, scope = self.bin_size, self.scope
        centre = []
        for axis, name in ((0, "x"), (1, "y")):
            b = p[f"{name}_bin"].argmax(-1)
            res = p[f"{name}_res"].gather(-1, b[:, None])[:, 0]
            centre.append(points[:, axis] - scope + (b.to(res) + 0.5 + res) * delta)
        z = points[:, 2] + p["z_res"]
        width = 2 * math.pi / self.heading_bins
        hb = p["heading_bin"].argmax(-1)
        hres = p["heading_res"].gather(-1, hb[:, None])[:, 0]
        yaw = hb.to(hres) * width + hres * (width / 2)
        yaw = torch.remainder(yaw + math.pi, 2 * math.pi) - math.pi
        means = self._means(labels, preds)
        sizes = (means * (1 + p["size_res"])).clamp(min=1e-3)
        return torch.stack([centre[0], centre[1], z, *sizes.unbind(-1), yaw], -1)

    def loss(
        self, preds: torch.Tensor, targets: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """PointRCNN's stage-1 box losses of raw predictions ``(N, code_size)`` for targets of
        :meth:`encode` (``N >= 0``), each averaged over the ``N`` points (0 for none):
        ``"loc"`` (cross entropy of both axes' bins, smooth L1 of their residuals at the
        target bin and of the height), ``"heading"`` (bin cross entropy and residual smooth
        L1) and ``"size"`` (smooth L1 of the size residuals)."""
        if len(preds) == 0:
            zero = preds.sum() * 0.0
            return {"loc": zero, "heading": zero, "size": zero}
        p = self.split(preds)
        loc = preds.new_zeros(())
        for name in ("x", "y"):
            b = targets[f"{name}_bin"]
            loc = loc + F.cross_entropy(p[f"{name}_bin"], b)
            res = p[f"{name}_res"].gather(-1, b[:, None])[:, 0]
            loc = loc + F.smooth_l1_loss(res, targets[f"{name}_res"])
        loc = loc + F.smooth_l1_loss(p["z_res"], targets["z_res"])
        hb = targets["heading_bin"]
        heading = F.cross_entropy(p["heading_bin"], hb) + F.smooth_l1_loss(
            p["heading_res"].gather(-1, hb[:, None])[:, 0], targets["heading_res"]
        )
        size = F.smooth_l1_loss(p["size_res"], targets["size_res"])
        return {"loc": loc, "heading": heading, "size": size}
