"""Gaussian heatmap targets and their peaks (CenterNet / TTFNet style).

- :func:`gaussian_radius`: the radius such that corners moved by it keep IoU >= ``min_overlap``.
- :func:`draw_gaussian`: paint a truncated, possibly elliptical 2-D Gaussian into a heatmap,
  keeping the element-wise maximum with what is there.
- :func:`heatmap_peaks`: "NMS-free" decoding: cells that equal the max of their ``kernel x kernel``
  neighbourhood, the best ``k`` of them over all classes, padded when there are fewer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xuframe.errors import InputError

__all__ = ["draw_gaussian", "gaussian_2d", "gaussian_radius", "heatmap_peaks"]


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
    """
    h = torch.as_tensor(height, dtype=torch.float64)
    w = torch.as_tensor(width, dtype=torch.float64)
    o = float(min_overlap)
    if not 0 < o < 1:
        raise InputError(f"gaussian_radius: expected 0 < min_overlap < 1, got {min_overlap}")
    s, p = h + w, h * w
    # shifted: (w - r)(h - r) / (2wh - (w - r)(h - r)) >= o
    r1 = (s - torch.sqrt(s * s - 4 * p * (1 - o) / (1 + o))) / 2
    # inwards: (w - 2r)(h - 2r) / wh >= o
    r2 = (2 * s - torch.sqrt(4 * s * s - 16 * p * (1 - o))) / 8
    # outwards: wh / ((w + 2r)(h + 2r)) >= o
    r3 = (-2 * o * s + torch.sqrt(4 * o * o * s * s + 16 * o * (1 - o) * p)) / (8 * o)
    return torch.minimum(torch.minimum(r1, r2), r3).clamp(min=0)


def gaussian_2d(
    radius_y: int, radius_x: int, sigma_y: float | None = None, sigma_x: float | None = None
) -> torch.Tensor:
    """``exp(-(x^2 / 2 sigma_x^2 + y^2 / 2 sigma_y^2))`` on the ``(2 r_y + 1, 2 r_x + 1)`` window;
    sigma defaults to diameter / 6 per axis (TTFNet). The centre is exactly 1.

    Computed in float64 and returned as float32, with values below float64's epsilon times the
    maximum set to 0, as TTFNet's released ``gaussian_2d`` does (NumPy, then a float32 tensor).
    """
    if radius_y < 0 or radius_x < 0:
        raise InputError(f"gaussian_2d: expected radii >= 0, got {radius_y}, {radius_x}")
    sy = (2 * radius_y + 1) / 6 if sigma_y is None else sigma_y
    sx = (2 * radius_x + 1) / 6 if sigma_x is None else sigma_x
    y = torch.arange(-radius_y, radius_y + 1, dtype=torch.float64)[:, None]
    x = torch.arange(-radius_x, radius_x + 1, dtype=torch.float64)[None, :]
    g = torch.exp(-(x * x / (2 * sx * sx) + y * y / (2 * sy * sy)))
    g[g < torch.finfo(torch.float64).eps * g.max()] = 0  # truncate the tails
    return g.to(torch.float32)


def draw_gaussian(
    heatmap: torch.Tensor, centre_x: int, centre_y: int, radius_x: int, radius_y: int
) -> torch.Tensor:
    """Paint ``gaussian_2d(radius_y, radius_x)`` centred on cell ``(centre_y, centre_x)`` into
    the ``(H, W)`` ``heatmap`` in place, keeping the maximum.

    Only the cells of the window that fall inside the heatmap are painted, wherever the centre
    is: a centre outside the heatmap paints the part of its window that reaches in (nothing if
    none does), as TTFNet's released ``draw_truncate_gaussian`` does. Returns the heatmap.
    """
    if heatmap.ndim != 2:
        raise InputError(f"draw_gaussian: expected an (H, W) heatmap, got {tuple(heatmap.shape)}")
    if radius_x < 0 or radius_y < 0:
        raise InputError(f"draw_gaussian: expected radii >= 0, got {radius_x}, {radius_y}")
    h, w = heatmap.shape
    top, left = centre_y - radius_y, centre_x - radius_x  # the window's first cell
    y0, y1 = max(top, 0), min(centre_y + radius_y + 1, h)
    x0, x1 = max(left, 0), min(centre_x + radius_x + 1, w)
    if y0 >= y1 or x0 >= x1:
        return heatmap  # the window lies wholly outside
    g = gaussian_2d(radius_y, radius_x).to(heatmap)
    region = heatmap[y0:y1, x0:x1]
    torch.maximum(region, g[y0 - top : y1 - top, x0 - left : x1 - left], out=region)
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
    padding by itself. Raises :class:`~xuframe.errors.InputError` for another shape, a
    non-floating dtype, NaN scores, ``k < 1`` or an even or non-positive ``kernel``.
    """
    if heatmap.ndim != 4:
        raise InputError(f"heatmap_peaks: expected (B, C, H, W), got {tuple(heatmap.shape)}")
    if not heatmap.is_floating_point():
        raise InputError(f"heatmap_peaks: expected floating-point scores, got {heatmap.dtype}")
    if k < 1:
        raise InputError(f"heatmap_peaks: expected k >= 1, got {k}")
    if kernel < 1 or kernel % 2 == 0:
        raise InputError(f"heatmap_peaks: expected an odd kernel >= 1, got {kernel}")
    b, c, h, w = heatmap.shape
    n = min(k, c * h * w)
    if n == 0:
        empty = torch.zeros(b, 0, dtype=torch.int64, device=heatmap.device)
        return heatmap.new_zeros(b, 0), empty, empty.clone(), empty.clone()
    if bool(torch.isnan(heatmap).any()):
        raise InputError("heatmap_peaks: expected scores without NaN")
    pooled = F.max_pool2d(heatmap, kernel, stride=1, padding=kernel // 2)
    kept = heatmap.masked_fill(pooled != heatmap, float("-inf"))
    scores, index = kept.reshape(b, -1).topk(n, dim=1)
    none = scores == float("-inf")
    index = index.masked_fill(none, -1)
    cell = index % (h * w)
    classes = torch.div(index, h * w, rounding_mode="floor").masked_fill(none, -1)
    ys = torch.div(cell, w, rounding_mode="floor").masked_fill(none, -1)
    return scores, classes, ys, (cell % w).masked_fill(none, -1)
