"""CROWN's backward pass in *patches* form, for intermediate bounds of convolutional layers.

The coefficients that bound one neuron of a convolutional layer are non-zero only on that
neuron's receptive field, so the backward pass keeps each row as the patch it really is:
``A`` has shape ``(B|1, C_s, H_s, W_s, C, kh, kw)`` — for the spec neuron ``(c_s, i, j)`` a
``C x kh x kw`` window of the current layer whose top-left corner is ``(i T - P, j T - P)``,
with ``T`` the product of the strides passed so far and ``P`` the accumulated padding. Going
back through a convolution is a transposed convolution *of the patch* (the window grows to
``(kh - 1) s + k``), an activation multiplies the patch by the unfolded lines, and the input
is reached by unfolding the input box. Entries that fall on padding are kept at zero.

Used for chains of Conv2d, BatchNorm2d, AvgPool2d and activations from the input to a
convolutional layer (the usual CNN trunk); anything else takes the dense path.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xuframe_plugins.robust.activations import through_lines
from xuframe_plugins.robust.network import Activation, Affine, Network, _AvgPool, _Conv, _Scale

__all__ = ["patch_backward", "patches_apply"]

Lines = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def patches_apply(net: Network, upto: int) -> bool:
    """Can the backward pass from op ``upto``'s input to the network input run in patches form?"""
    ops = net.ops[:upto]
    if not ops or len(ops[-1].out_shape if isinstance(ops[-1], Affine) else ops[-1].shape) != 3:
        return False
    for op in ops:
        if isinstance(op, Activation):
            if len(op.shape) != 3:
                return False
        elif not isinstance(op, (_Conv, _Scale, _AvgPool)) or len(op.in_shape) != 3:
            return False
    return len(net.in_shape) == 3


def _unfold(
    t: torch.Tensor, kh: int, kw: int, stride: int, pad: int, hs: int, ws: int
) -> torch.Tensor:
    """``t`` ``(B, C, H, W)`` as patches ``(B, 1, hs, ws, C, kh, kw)`` at the patch geometry (zeros off the map)."""
    b, c, h, w = t.shape
    bottom = max(0, (hs - 1) * stride + kh - pad - h)
    right = max(0, (ws - 1) * stride + kw - pad - w)
    padded = F.pad(t, (pad, right, pad, bottom))
    lh = (padded.shape[2] - kh) // stride + 1
    lw = (padded.shape[3] - kw) // stride + 1
    cols = F.unfold(padded, (kh, kw), stride=stride).reshape(b, c, kh, kw, lh, lw)[..., :hs, :ws]
    return cols.permute(0, 4, 5, 1, 2, 3).unsqueeze(1)


_MATRIX_LIMIT = 4_000_000  # entries of the patch-to-patch matrix below which one matmul is used


def _conv_back(
    a: torch.Tensor, weight: torch.Tensor, stride: int, groups: int, dilation: int
) -> torch.Tensor:
    """The transposed convolution of every patch: the window grows to ``(kh - 1) stride + k``.

    It is one fixed linear map from patch to patch; while its matrix is small it is formed
    once (the transposed convolution of the identity basis) and applied as a single matmul,
    much faster than tens of thousands of tiny convolutions.
    """
    lead, patch = a.shape[:4], a.shape[4:]
    n_in = math.prod(patch)
    k = weight.shape[2:]
    out_patch = (
        weight.shape[1] * groups,
        (patch[1] - 1) * stride + dilation * (k[0] - 1) + 1,
        (patch[2] - 1) * stride + dilation * (k[1] - 1) + 1,
    )
    n_out = math.prod(out_patch)
    if n_in * n_out <= _MATRIX_LIMIT:
        basis = torch.eye(n_in, dtype=a.dtype, device=a.device).reshape(n_in, *patch)
        matrix = F.conv_transpose2d(basis, weight, None, stride, 0, 0, groups, dilation).reshape(
            n_in, n_out
        )
        return (a.reshape(-1, n_in) @ matrix).reshape(*lead, *out_patch)
    flat = a.reshape(-1, *patch).contiguous(memory_format=torch.channels_last)
    out = F.conv_transpose2d(flat, weight, None, stride, 0, 0, groups, dilation)
    return out.reshape(*lead, *out.shape[1:])


def _sum_patch(t: torch.Tensor) -> torch.Tensor:
    """Sum over the patch dims: ``(B, C_s, H_s, W_s, C, kh, kw)`` -> ``(B, C_s * H_s * W_s)``."""
    return t.sum(dim=(4, 5, 6)).flatten(1)


def patch_backward(
    net: Network, upto: int, lines: dict[int, Lines], inputs
) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Lower and upper bounds ``(B, n)`` of every neuron of op ``upto - 1``'s output, by CROWN in patches form."""
    last = net.ops[upto - 1]
    c, h, w = last.out_shape if isinstance(last, Affine) else last.shape
    eye = torch.eye(c, dtype=inputs.x.dtype, device=inputs.x.device)
    a = eye.reshape(1, c, 1, 1, c, 1, 1).expand(1, c, h, w, c, 1, 1)
    a_lo = a_hi = a
    b_lo = b_hi = torch.zeros(1, c * h * w, dtype=inputs.x.dtype, device=inputs.x.device)
    stride, pad = 1, 0
    for i in range(upto - 1, -1, -1):
        op = net.ops[i]
        kh, kw = a_hi.shape[5], a_hi.shape[6]
        if isinstance(op, Activation):
            k_l, c_l, k_u, c_u = (_unfold(t, kh, kw, stride, pad, h, w) for t in lines[i])
            (a_lo, a_hi), (d_lo, d_hi) = through_lines(a_lo, a_hi, k_l, c_l, k_u, c_u)
            b_lo, b_hi = b_lo + _sum_patch(d_lo), b_hi + _sum_patch(d_hi)
        elif isinstance(op, _Scale):
            s, t = op.s.reshape(-1, 1, 1), op.t.reshape(-1, 1, 1)
            same = a_lo is a_hi
            b_hi = b_hi + _sum_patch(a_hi * t)
            b_lo = b_hi if same else b_lo + _sum_patch(a_lo * t)
            a_hi = a_hi * s
            a_lo = a_hi if same else a_lo * s
        else:
            assert isinstance(op, (_Conv, _AvgPool))
            weight = op.weight.to(a_hi)
            conv_stride, conv_pad = op.stride[0], op.padding[0]
            dilation = op.dilation[0] if isinstance(op, _Conv) else 1
            groups = op.groups if isinstance(op, _Conv) else op.channels
            bias = op.b if isinstance(op, _Conv) else None
            same = a_lo is a_hi
            if bias is not None:
                b_hi = b_hi + _sum_patch(a_hi * bias.reshape(-1, 1, 1))
                b_lo = b_hi if same else b_lo + _sum_patch(a_lo * bias.reshape(-1, 1, 1))

            geometry = (conv_stride, groups, dilation)
            a_hi = _conv_back(a_hi, weight, *geometry)
            a_lo = a_hi if same else _conv_back(a_lo, weight, *geometry)
            stride, pad = stride * conv_stride, pad * conv_stride + conv_pad
            # entries on the padding of the layer below are not neurons: zero them
            valid = _unfold(
                torch.ones(1, *op.in_shape, dtype=a_hi.dtype, device=a_hi.device),
                a_hi.shape[5],
                a_hi.shape[6],
                stride,
                pad,
                h,
                w,
            )
            a_hi = a_hi * valid
            a_lo = a_hi if same else a_lo * valid
    kh, kw = a_hi.shape[5], a_hi.shape[6]
    centre = _unfold(inputs.center, kh, kw, stride, pad, h, w)
    if inputs.norm == math.inf:
        radius = _unfold(inputs.radius, kh, kw, stride, pad, h, w)
        lo = _sum_patch(a_lo * centre) - _sum_patch(a_lo.abs() * radius) + b_lo
        hi = _sum_patch(a_hi * centre) + _sum_patch(a_hi.abs() * radius) + b_hi
    else:
        lo = _sum_patch(a_lo * centre) - inputs.eps * a_lo.flatten(4).norm(dim=4).flatten(1) + b_lo
        hi = _sum_patch(a_hi * centre) + inputs.eps * a_hi.flatten(4).norm(dim=4).flatten(1) + b_hi
    batch = inputs.x.shape[0]
    return lo.expand(batch, -1), hi.expand(batch, -1)
