"""DENFI's Dense Boundary Proposal Module targets, losses and decoding.

Every BEV cell whose centre lies in a box shrunk by ``shrink`` (per side, about the box centre)
is a positive of the box's class and learns the box; the cell holding the centre is always
positive, so small objects get one. Cells in the box but outside the shrunk part are the
*ignore band*: they are neither positive nor negative for the classifier (their features mix
object and background). Everything else is negative.

A positive cell regresses, in the box's own frame (heading ``theta``):

- four signed distances from the cell centre to the box's front, back, left and right faces,
  metres (negative only for a forced centre cell whose centre lies outside a small box);
- the heading modulo pi as a bin (``num_bins`` over ``[0, pi)``) and a residual in the bin,
  in ``[-1, 1)``, plus a two-way direction class (whether the heading is ``theta mod pi`` or
  that plus pi): the boundary distances only need the axis, and a LiDAR rarely tells a car's
  front from its back, so the direction is a separate, cheap decision;
- the box's centre height ``z`` and ``log h``.

Losses: sigmoid focal loss for the classes (alpha 0.25, gamma 2, over non-ignored cells, per
positive); ``-log IoU`` of the distance rectangles (UnitBox / EAST: both rectangles are taken in
the box's frame, so their IoU is the product form below); cross-entropy on the bin and on the
direction, smooth-L1 on the residual, ``z`` and ``log h``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.nn import BevGrid
from xuframe.types import Boxes3D
from xuframe.validation import check_float, check_int, check_labels, check_memory, check_tensor

__all__ = [
    "REG_FIXED",
    "boundary_losses",
    "boundary_targets",
    "decode_boundaries",
    "distance_offset",
    "sigmoid_focal_loss",
]

#: Regression channels besides the 2 * num_bins angle ones: 4 distances, 2 direction logits,
#: z and log h.
REG_FIXED = 8


def _check_grid(grid: Any, what: str) -> BevGrid:
    if not isinstance(grid, BevGrid):
        raise InputError(f"{what}: expected a BevGrid, got {type(grid).__name__}")
    return grid


def _axis(yaw: torch.Tensor) -> torch.Tensor:
    return torch.remainder(yaw, math.pi)


def boundary_targets(
    boxes: Boxes3D,
    labels: torch.Tensor,
    grid: BevGrid,
    num_classes: int,
    shrink: float,
    num_bins: int,
) -> dict[str, torch.Tensor]:
    """Targets of one sample on ``grid``: ``heat`` ``(C, ny, nx)`` 0/1, ``ignore`` ``(ny, nx)``,
    ``positive`` ``(ny, nx)``, and at every cell (meaningful where positive) ``distances``
    ``(4, ny, nx)`` (front, back, left, right), ``bin``, ``residual``, ``direction``, ``z``,
    ``log_h`` ``(ny, nx)``. A cell in several boxes belongs to the smallest.

    ``boxes`` is a :class:`~xuframe.Boxes3D` of sizes > 0, ``labels`` one integer label in
    ``0 .. num_classes - 1`` per box, ``grid`` a :class:`BevGrid`, ``num_classes`` and
    ``num_bins`` ints >= 1, ``shrink`` in ``(0, 1]``. Raises
    :class:`~xuframe.errors.InputError` otherwise, or when the per-box maps would not fit in
    memory."""
    if not isinstance(boxes, Boxes3D):
        raise InputError(
            f"boundary_targets: boxes: expected Boxes3D (wrap the array with xuframe.Boxes3D), "
            f"got {type(boxes).__name__}"
        )
    _check_grid(grid, "boundary_targets: grid")
    num_classes = check_int(num_classes, "boundary_targets: num_classes", min=1)
    num_bins = check_int(num_bins, "boundary_targets: num_bins", min=1)
    shrink = check_float(shrink, "boundary_targets: shrink", min=0.0, min_open=True, max=1.0)
    labels = check_labels(labels, "boundary_targets: labels", n=len(boxes), n_classes=num_classes)
    t = boxes.tensor.detach().cpu().float()
    labels = labels.cpu()
    check_memory(
        4.0 * max(len(t), num_classes) * grid.nx * grid.ny,
        f"boundary_targets: {len(t)} boxes on a {grid.nx} x {grid.ny} grid",
    )
    if bool((t[:, 3:6] <= 0).any()):
        bad = int((t[:, 3:6] <= 0).any(1).nonzero()[0, 0])
        raise InputError(
            f"boundary_targets: box {bad} has a zero or negative size {t[bad, 3:6].tolist()}; "
            "drop such boxes from the labels"
        )
    ny, nx = grid.ny, grid.nx
    out = {
        "heat": torch.zeros(num_classes, ny, nx),
        "ignore": torch.zeros(ny, nx, dtype=torch.bool),
        "positive": torch.zeros(ny, nx, dtype=torch.bool),
        "distances": torch.ones(4, ny, nx),
        "bin": torch.zeros(ny, nx, dtype=torch.int64),
        "residual": torch.zeros(ny, nx),
        "direction": torch.zeros(ny, nx, dtype=torch.int64),
        "z": torch.zeros(ny, nx),
        "log_h": torch.zeros(ny, nx),
    }
    if len(t) == 0:
        return out
    cx, cy = grid.centres()
    axis = _axis(t[:, 6])
    c, s = torch.cos(axis)[:, None, None], torch.sin(axis)[:, None, None]
    dx = cx[None] - t[:, 0, None, None]
    dy = cy[None] - t[:, 1, None, None]
    lx = dx * c + dy * s  # (M, ny, nx) cell centres in each box's frame
    ly = -dx * s + dy * c
    half_l, half_w = t[:, 3, None, None] / 2, t[:, 4, None, None] / 2
    in_box = (lx.abs() < half_l) & (ly.abs() < half_w)
    in_core = (lx.abs() < shrink * half_l) & (ly.abs() < shrink * half_w)
    ix = torch.floor((t[:, 0] - grid.x_min) / grid.dx).long()
    iy = torch.floor((t[:, 1] - grid.y_min) / grid.dy).long()
    on_grid = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    m = torch.arange(len(t))[on_grid]
    in_core[m, iy[on_grid], ix[on_grid]] = True  # the centre cell is always positive
    area = (t[:, 3] * t[:, 4])[:, None, None].expand_as(lx)
    owner = torch.where(in_core, area, torch.full_like(area, math.inf)).argmin(0)
    positive = in_core.any(0)
    out["positive"] = positive
    out["ignore"] = in_box.any(0) & ~positive
    take = owner[None]  # (1, ny, nx) index into the box axis
    lx_o = lx.gather(0, take)[0]
    ly_o = ly.gather(0, take)[0]
    hl, hw = t[owner, 3] / 2, t[owner, 4] / 2
    out["distances"] = torch.stack([hl - lx_o, hl + lx_o, hw - ly_o, hw + ly_o])
    width = math.pi / num_bins
    ax = axis[owner]
    b = torch.floor(ax / width).long().clamp(max=num_bins - 1)
    out["bin"] = b
    out["residual"] = (ax - (b.float() + 0.5) * width) / (width / 2)
    out["direction"] = (torch.remainder(t[owner, 6] - ax + 0.5, 2 * math.pi) > 1.0).long()
    out["z"] = t[owner, 2]
    out["log_h"] = t[owner, 5].log()
    cls = labels[owner]
    heat = out["heat"]
    heat.scatter_(0, cls[None], positive[None].float())
    for name in ("distances", "bin", "residual", "direction", "z", "log_h"):
        keep = positive if out[name].ndim == 2 else positive[None]
        out[name] = torch.where(keep, out[name], torch.zeros_like(out[name]))
    return out


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> torch.Tensor:
    """RetinaNet's focal loss, element-wise, times ``weight`` (broadcast), summed.

    ``logits`` and ``targets`` (in ``[0, 1]``) are finite floating tensors of one shape,
    ``weight`` a finite floating tensor that broadcasts to it; ``alpha`` in ``[0, 1]``,
    ``gamma >= 0``. Raises :class:`~xuframe.errors.InputError` otherwise."""
    check_tensor(logits, "sigmoid_focal_loss: logits")
    check_tensor(targets, "sigmoid_focal_loss: targets", shape=tuple(logits.shape))
    check_tensor(weight, "sigmoid_focal_loss: weight")
    broadcasts = weight.dim() <= logits.dim() and all(
        a in (1, b) for a, b in zip(reversed(weight.shape), reversed(logits.shape), strict=False)
    )
    if not broadcasts:
        raise InputError(
            f"sigmoid_focal_loss: weight: expected a shape that broadcasts to "
            f"{tuple(logits.shape)}, got {tuple(weight.shape)}"
        )
    if targets.numel() and not (float(targets.min()) >= 0 and float(targets.max()) <= 1):
        raise InputError("sigmoid_focal_loss: targets: expected values in [0, 1]")
    alpha = check_float(alpha, "sigmoid_focal_loss: alpha", min=0.0, max=1.0)
    gamma = check_float(gamma, "sigmoid_focal_loss: gamma", min=0.0)
    return _sigmoid_focal_loss(logits, targets, weight, alpha, gamma)


def _sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> torch.Tensor:
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (a_t * (1 - p_t) ** gamma * ce * weight).sum()


def _split(reg: torch.Tensor, num_bins: int) -> dict[str, torch.Tensor]:
    """Named views of the ``(B, 4 + 2 nb + 4, H, W)`` regression map."""
    nb = num_bins
    return {
        "distances": reg[:, 0:4],
        "bin": reg[:, 4 : 4 + nb],
        "residual": reg[:, 4 + nb : 4 + 2 * nb],
        "direction": reg[:, 4 + 2 * nb : 6 + 2 * nb],
        "z": reg[:, 6 + 2 * nb],
        "log_h": reg[:, 7 + 2 * nb],
    }


def distance_offset(grid: BevGrid) -> float:
    """How far below zero a boundary distance may go: 0.75 of the larger cell side, beyond
    half a cell's diagonal. A forced centre cell of a box smaller than a cell may have its
    own centre outside the box, so some of its distances are negative (down to minus half
    the diagonal). ``grid`` is a :class:`BevGrid`; anything else raises
    :class:`~xuframe.errors.InputError`."""
    _check_grid(grid, "distance_offset: grid")
    return 0.75 * max(grid.dx, grid.dy)


def _distances(raw: torch.Tensor, offset: float) -> torch.Tensor:
    """Predicted signed distances in metres: ``exp(raw) - offset`` (clamped for stability)."""
    return torch.exp(raw.clamp(-6.0, 4.0)) - offset


def boundary_losses(
    cls_logits: torch.Tensor,
    reg: torch.Tensor,
    targets: dict[str, torch.Tensor],
    grid: BevGrid,
    num_bins: int,
) -> dict[str, torch.Tensor]:
    """``cls``, ``iou``, ``angle`` and ``box`` (z, log h) losses of a batch, each per positive
    cell; ``targets`` holds the stacked :func:`boundary_targets` of the batch.

    ``cls_logits`` is ``(B, C, ny, nx)`` and ``reg`` ``(B, 2 num_bins + 8, ny, nx)`` on
    ``grid``, both finite floating tensors; ``targets`` has every key of
    :func:`boundary_targets`, each with a leading batch dimension ``B``. Raises
    :class:`~xuframe.errors.InputError` otherwise."""
    _check_grid(grid, "boundary_losses: grid")
    num_bins = check_int(num_bins, "boundary_losses: num_bins", min=1)
    h, w = grid.ny, grid.nx
    check_tensor(cls_logits, "boundary_losses: cls_logits", shape=(None, None, h, w))
    b, c = cls_logits.shape[:2]
    check_tensor(reg, "boundary_losses: reg", shape=(b, 2 * num_bins + REG_FIXED, h, w))
    if not isinstance(targets, Mapping):
        raise InputError(
            f"boundary_losses: targets: expected a mapping (stacked boundary_targets), "
            f"got {type(targets).__name__}"
        )
    shapes = {
        "heat": ((b, c, h, w), True),
        "ignore": ((b, h, w), False),
        "positive": ((b, h, w), False),
        "distances": ((b, 4, h, w), True),
        "bin": ((b, h, w), False),
        "residual": ((b, h, w), True),
        "direction": ((b, h, w), False),
        "z": ((b, h, w), True),
        "log_h": ((b, h, w), True),
    }
    for key, (shape, floating) in shapes.items():
        if key not in targets:
            raise InputError(f"boundary_losses: targets: expected key {key!r}")
        value = targets[key]
        if key in ("ignore", "positive"):
            if not isinstance(value, torch.Tensor) or value.dtype != torch.bool:
                raise InputError(f"boundary_losses: targets[{key!r}]: expected a bool tensor")
            check_tensor(
                value.byte(), f"boundary_losses: targets[{key!r}]", shape=shape, floating=False
            )
        else:
            check_tensor(
                value, f"boundary_losses: targets[{key!r}]", shape=shape, floating=floating
            )
    for key, high in (("bin", num_bins), ("direction", 2)):
        value = targets[key]
        if value.is_floating_point() or (
            value.numel() and (int(value.min()) < 0 or int(value.max()) >= high)
        ):
            raise InputError(
                f"boundary_losses: targets[{key!r}]: expected integers in [0, {high - 1}]"
            )
    return _boundary_losses(cls_logits, reg, dict(targets), grid, num_bins)


def _boundary_losses(
    cls_logits: torch.Tensor,
    reg: torch.Tensor,
    targets: dict[str, torch.Tensor],
    grid: BevGrid,
    num_bins: int,
) -> dict[str, torch.Tensor]:
    pos = targets["positive"]
    n_pos = max(1.0, float(pos.sum()))
    valid = (~targets["ignore"]).float()[:, None]
    cls = _sigmoid_focal_loss(cls_logits, targets["heat"], valid) / n_pos
    p = _split(reg, num_bins)
    if not bool(pos.any()):
        zero = reg.sum() * 0.0
        return {"cls": cls, "iou": zero, "angle": zero, "box": zero}
    d = _distances(p["distances"], distance_offset(grid)).permute(0, 2, 3, 1)[pos]  # (P, 4)
    g = targets["distances"].permute(0, 2, 3, 1)[pos]
    # signed distances: the intervals [-back, front] and [-right, left] in the box frame
    area_p = (d[:, 0] + d[:, 1]).clamp(min=0) * (d[:, 2] + d[:, 3]).clamp(min=0)
    area_g = (g[:, 0] + g[:, 1]) * (g[:, 2] + g[:, 3])
    inter = (torch.minimum(d[:, 0], g[:, 0]) + torch.minimum(d[:, 1], g[:, 1])).clamp(min=0) * (
        torch.minimum(d[:, 2], g[:, 2]) + torch.minimum(d[:, 3], g[:, 3])
    ).clamp(min=0)
    iou = inter / (area_p + area_g - inter).clamp(min=1e-6)
    iou_loss = -torch.log(iou.clamp(min=1e-6)).mean()
    b = targets["bin"][pos]
    bin_logits = p["bin"].permute(0, 2, 3, 1)[pos]
    residual = p["residual"].permute(0, 2, 3, 1)[pos].gather(1, b[:, None])[:, 0]
    direction = p["direction"].permute(0, 2, 3, 1)[pos]
    angle = (
        F.cross_entropy(bin_logits, b)
        + F.smooth_l1_loss(residual, targets["residual"][pos], beta=1 / 9)
        + 0.2 * F.cross_entropy(direction, targets["direction"][pos])
    )
    box = F.smooth_l1_loss(p["z"][pos], targets["z"][pos], beta=1 / 9) + F.smooth_l1_loss(
        p["log_h"][pos], targets["log_h"][pos], beta=1 / 9
    )
    return {"cls": cls, "iou": iou_loss, "angle": angle, "box": box}


def decode_boundaries(reg: torch.Tensor, grid: BevGrid, num_bins: int) -> torch.Tensor:
    """``(B, H, W, 7)`` boxes ``x, y, z, l, w, h, yaw`` that every cell of ``reg`` predicts.

    ``reg`` is a finite floating ``(B, 2 num_bins + 8, grid.ny, grid.nx)`` tensor, ``grid`` a
    :class:`BevGrid` and ``num_bins`` an int >= 1. Raises :class:`~xuframe.errors.InputError`
    otherwise."""
    _check_grid(grid, "decode_boundaries: grid")
    num_bins = check_int(num_bins, "decode_boundaries: num_bins", min=1)
    check_tensor(
        reg, "decode_boundaries: reg", shape=(None, 2 * num_bins + REG_FIXED, grid.ny, grid.nx)
    )
    return _decode_boundaries(reg, grid, num_bins)


def _decode_boundaries(reg: torch.Tensor, grid: BevGrid, num_bins: int) -> torch.Tensor:
    p = _split(reg, num_bins)
    d = _distances(p["distances"], distance_offset(grid))  # (B, 4, H, W)
    width = math.pi / num_bins
    b = p["bin"].argmax(1, keepdim=True)
    res = p["residual"].gather(1, b)[:, 0].clamp(-1, 1)
    axis = (b[:, 0].float() + 0.5) * width + res * width / 2
    yaw = axis + math.pi * p["direction"].argmax(1).float()
    yaw = torch.remainder(yaw + math.pi, 2 * math.pi) - math.pi
    cx, cy = grid.centres()
    cx, cy = cx.to(reg), cy.to(reg)
    ox, oy = (d[:, 0] - d[:, 1]) / 2, (d[:, 2] - d[:, 3]) / 2  # cell -> centre, box frame
    c, s = torch.cos(axis), torch.sin(axis)
    x = cx + ox * c - oy * s
    y = cy + ox * s + oy * c
    length, w = (d[:, 0] + d[:, 1]).clamp(min=0), (d[:, 2] + d[:, 3]).clamp(min=0)
    h = torch.exp(p["log_h"].clamp(-4.0, 3.0))
    return torch.stack([x, y, p["z"], length, w, h, yaw], -1)
