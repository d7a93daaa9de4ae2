"""Gaussian heatmap targets and their peaks (CenterNet / TTFNet style).

- :func:`gaussian_radius`: the radius such that corners moved by it keep IoU >= ``min_overlap``.
- :func:`draw_gaussian`: paint a truncated, possibly elliptical 2-D Gaussian into a heatmap,
  keeping the element-wise maximum with what is there.
- :func:`heatmap_peaks`: "NMS-free" decoding: cells that equal the max of their ``kernel x kernel``
  neighbourhood, the best ``k`` of them over all classes, padded when there are fewer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.validation import check_float, check_int, check_memory, check_tensor

__all__ = ["draw_gaussian", "gaussian_2d", "gaussian_radius", "heatmap_peaks"]


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape ``a`` and ``b`` broadcast to, ``None`` when they do not."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return tuple(y if x == 1 else x for x, y in zip(a, b, strict=True))


def gaussian_radius(
    height: torch.Tensor, width: torch.Tensor, min_overlap: float = 0.7
) -> torch.Tensor:
    """The largest ``r`` such that moving a ``height x width`` box's corners by ``r`` keeps
    IoU ``>= min_overlap`` with the box, in all three of CornerNet's cases (both corners shifted
    the same way, both inwards, both outwards), element-wise.

    This solves each case's quadratic for its smaller root. CornerNet's and CenterNet's released
    ``gaussian_radius`` take the other root and a halved denominator, which overestimates the
    radius (for a 1 x 1 box at overlap 0.5 it gives 1.41, at which the IoU is 0.30); we keep the
    stated definition, which the tests check.

    ``height`` and ``width`` are real tensors (floating or integer) of finite sizes ``>= 0``
    that broadcast together; the result has their broadcast shape, in float64. The radius
    scales with the box, so it is computed on the box scaled to a largest side of 1 and scaled
    back: no size overflows. Raises :class:`~xuframe.errors.InputError` for other sizes or a
    ``min_overlap`` that is not a number in ``(0, 1)``.
    """
    h = check_tensor(height, "gaussian_radius(height)", floating=False).to(torch.float64)
    w = check_tensor(width, "gaussian_radius(width)", floating=False).to(torch.float64)
    shape = _broadcast(tuple(h.shape), tuple(w.shape))
    if shape is None:
        raise InputError(
            f"gaussian_radius(width): expected a shape that broadcasts with height's "
            f"{tuple(h.shape)}, got {tuple(w.shape)}"
        )
    o = check_float(min_overlap, "gaussian_radius(min_overlap)")
    if not 0 < o < 1:
        raise InputError(f"gaussian_radius(min_overlap): expected a number > 0 and < 1, got {o:g}")
    # about a dozen float64 temporaries of the broadcast shape
    check_memory(math.prod(shape) * 8.0 * 12, f"gaussian_radius: radii of shape {shape}")
    if bool((h < 0).any()) or bool((w < 0).any()):
        raise InputError("gaussian_radius: expected sizes >= 0, got a negative height or width")
    scale = torch.maximum(h, w)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    h, w = h / scale, w / scale
    s, p = h + w, h * w
    # shifted: (w - r)(h - r) / (2wh - (w - r)(h - r)) >= o
    r1 = (s - torch.sqrt(s * s - 4 * p * (1 - o) / (1 + o))) / 2
    # inwards: (w - 2r)(h - 2r) / wh >= o
    r2 = (2 * s - torch.sqrt(4 * s * s - 16 * p * (1 - o))) / 8
    # outwards: wh / ((w + 2r)(h + 2r)) >= o
    r3 = (-2 * o * s + torch.sqrt(4 * o * o * s * s + 16 * o * (1 - o) * p)) / (8 * o)
    return torch.minimum(torch.minimum(r1, r2), r3).clamp(min=0) * scale


def _sigma(sigma: float | None, radius: int, what: str) -> float:
    if sigma is None:
        return (2 * radius + 1) / 6
    return check_float(sigma, what, min=0.0, min_open=True)


def _window(
    rows: range, cols: range, sigma_y: float, sigma_x: float, dtype: torch.dtype
) -> torch.Tensor:
    """The Gaussian of :func:`gaussian_2d` at the offsets ``rows`` x ``cols`` from its centre,
    computed in float64 (with the tails below float64's epsilon set to 0: the full window's
    maximum is its centre's exact 1) and returned in ``dtype``."""
    y = torch.arange(rows.start, rows.stop, dtype=torch.float64)[:, None]
    x = torch.arange(cols.start, cols.stop, dtype=torch.float64)[None, :]
    # a sigma whose square underflows would give 0 / 0 at the centre
    tiny = torch.finfo(torch.float64).tiny
    g = torch.exp(
        -(x * x / max(2 * sigma_x * sigma_x, tiny) + y * y / max(2 * sigma_y * sigma_y, tiny))
    )
    g[g < torch.finfo(torch.float64).eps] = 0  # truncate the tails
    return g.to(dtype)


def gaussian_2d(
    radius_y: int, radius_x: int, sigma_y: float | None = None, sigma_x: float | None = None
) -> torch.Tensor:
    """``exp(-(x^2 / 2 sigma_x^2 + y^2 / 2 sigma_y^2))`` on the ``(2 r_y + 1, 2 r_x + 1)`` window;
    sigma defaults to diameter / 6 per axis (TTFNet). The centre is exactly 1.

    Computed in float64 and returned as float32, with values below float64's epsilon times the
    maximum set to 0, as TTFNet's released ``gaussian_2d`` does (NumPy, then a float32 tensor).

    The radii are ints (Python or numpy) ``>= 0``, the sigmas positive finite numbers. Raises
    :class:`~xuframe.errors.InputError` for other values, or for a window that would need more
    than :func:`xuframe.validation.memory_limit` to compute.
    """
    ry = check_int(radius_y, "gaussian_2d(radius_y)", min=0)
    rx = check_int(radius_x, "gaussian_2d(radius_x)", min=0)
    sy = _sigma(sigma_y, ry, "gaussian_2d(sigma_y)")
    sx = _sigma(sigma_x, rx, "gaussian_2d(sigma_x)")
    cells = float(2 * ry + 1) * (2 * rx + 1)
    # float64 values, the exponent and the mask while computing, the float32 result
    check_memory(cells * 21, f"gaussian_2d: the {2 * ry + 1} x {2 * rx + 1} window")
    return _window(range(-ry, ry + 1), range(-rx, rx + 1), sy, sx, torch.float32)


def draw_gaussian(
    heatmap: torch.Tensor, centre_x: int, centre_y: int, radius_x: int, radius_y: int
) -> torch.Tensor:
    """Paint ``gaussian_2d(radius_y, radius_x)`` centred on cell ``(centre_y, centre_x)`` into
    the ``(H, W)`` ``heatmap`` in place, keeping the maximum.

    Only the cells of the window that fall inside the heatmap are painted, wherever the centre
    is: a centre outside the heatmap paints the part of its window that reaches in (nothing if
    none does), as TTFNet's released ``draw_truncate_gaussian`` does. Only that part is
    computed, so any radius costs at most the heatmap's size. Returns the heatmap.

    ``heatmap`` is a floating tensor of finite values; the centre is a pair of ints (Python or
    numpy, any value) and the radii ints ``>= 0``. Raises :class:`~xuframe.errors.InputError`
    for anything else.
    """
    check_tensor(heatmap, "draw_gaussian(heatmap)", ndim=2)
    cx = check_int(centre_x, "draw_gaussian(centre_x)")
    cy = check_int(centre_y, "draw_gaussian(centre_y)")
    rx = check_int(radius_x, "draw_gaussian(radius_x)", min=0)
    ry = check_int(radius_y, "draw_gaussian(radius_y)", min=0)
    h, w = heatmap.shape
    y0, y1 = max(cy - ry, 0), min(cy + ry + 1, h)
    x0, x1 = max(cx - rx, 0), min(cx + rx + 1, w)
    if y0 >= y1 or x0 >= x1:
        return heatmap  # the window lies wholly outside
    sy, sx = (2 * ry + 1) / 6, (2 * rx + 1) / 6
    # float32 as gaussian_2d returns it, then the heatmap's dtype
    g = _window(range(y0 - cy, y1 - cy), range(x0 - cx, x1 - cx), sy, sx, torch.float32)
    region = heatmap[y0:y1, x0:x1]
    torch.maximum(region, g.to(heatmap), out=region)
    return heatmap


def heatmap_peaks(
    heatmap: torch.Tensor, k: int = 100, kernel: int = 3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``k`` best local maxima of ``(B, C, H, W)`` scores over all classes ("NMS-free").

    A cell is a peak if no cell of its ``kernel x kernel`` neighbourhood in the same class is
    larger (max-pool equality, as CenterNet and TTFNet decode): equal neighbours on a plateau
    are all peaks. Scores may have any sign (logits or probabilities); a cell of ``-inf`` is
    never a peak.

    Returns ``(scores, classes, ys, xs)``, each ``(B, k')`` with ``k' = min(k, C * H * W)``,
    per image the peaks best first (equal scores in no set order). An image with fewer than
    ``k'`` peaks is padded after its last peak with score ``-inf`` and class, row and column
    ``-1``: ``scores > -inf`` is the mask of real peaks, and a score threshold drops the
    padding by itself. An empty batch or map gives ``(B, 0)`` or ``(0, k')`` results.

    Raises :class:`~xuframe.errors.InputError` for a non-tensor, another shape, a
    non-floating dtype, NaN or ``+inf`` scores, ``k`` not an int ``>= 1`` or ``kernel`` not an
    odd int ``>= 1`` (ints may be numpy integers). A kernel wider than twice the map is the
    same as the whole map.
    """
    check_tensor(heatmap, "heatmap_peaks(heatmap)", ndim=4, finite=False)
    k = check_int(k, "heatmap_peaks(k)", min=1)
    kernel = check_int(kernel, "heatmap_peaks(kernel)", min=1)
    if kernel % 2 == 0:
        raise InputError(f"heatmap_peaks(kernel): expected an odd kernel >= 1, got {kernel}")
    b, c, h, w = heatmap.shape
    n = min(k, c * h * w)
    if n == 0 or b == 0:
        empty = torch.zeros(b, n, dtype=torch.int64, device=heatmap.device)
        return heatmap.new_zeros(b, n), empty, empty.clone(), empty.clone()
    # -inf is a cell that is never a peak. One pass without a temporary: a sum that is finite
    # or -inf has no NaN or +inf among its terms; any other sum gets the exact test
    total = float(heatmap.detach().sum())
    if not (math.isfinite(total) or total == -math.inf) and not bool((heatmap < math.inf).all()):
        raise InputError(
            "heatmap_peaks(heatmap): expected scores without NaN or +inf (-inf is allowed)"
        )
    kernel = min(kernel, 2 * max(h, w) + 1)  # wider reaches nothing more
    pooled = F.max_pool2d(heatmap, kernel, stride=1, padding=kernel // 2)
    kept = heatmap.masked_fill(pooled != heatmap, float("-inf"))
    scores, index = kept.reshape(b, -1).topk(n, dim=1)
    none = scores == float("-inf")
    index = index.masked_fill(none, -1)
    cell = index % (h * w)
    classes = torch.div(index, h * w, rounding_mode="floor").masked_fill(none, -1)
    ys = torch.div(cell, w, rounding_mode="floor").masked_fill(none, -1)
    return scores, classes, ys, (cell % w).masked_fill(none, -1)
