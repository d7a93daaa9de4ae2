"""2-D box and heatmap kernels against naive versions, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.ops import (
    box_giou,
    box_giou_aligned,
    box_iou,
    box_iou_aligned,
    draw_gaussian,
    gaussian_2d,
    gaussian_radius,
    heatmap_peaks,
)

# coordinates on a 1/16 grid, shifts on it and power-of-two scales: translating and scaling
# are then exact in floating point, so the invariants test the kernels, not rounding (a
# subnormal width, say, is not preserved by x + 1 - 1)
coord = st.integers(-800, 800).map(lambda v: v / 16)
size = st.integers(0, 640).map(lambda v: v / 16)


@st.composite
def boxes(draw, n_min=1, n_max=6):
    n = draw(st.integers(n_min, n_max))
    rows = [
        (x, y, x + w, y + h)
        for x, y, w, h in (draw(st.tuples(coord, coord, size, size)) for _ in range(n))
    ]
    return torch.tensor(rows, dtype=torch.float64)


def naive_iou_giou(a, b):
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    enclosing = (max(ax2, bx2) - min(ax1, bx1)) * (max(ay2, by2) - min(ay1, by1))
    iou = inter / union if union > 0 else 0.0
    extra = (enclosing - union) / enclosing if enclosing > 0 else 0.0
    return iou, iou - extra


@settings(max_examples=60, deadline=None)
@given(boxes(), boxes())
def test_iou_and_giou_equal_the_naive_loops(a, b):
    iou, giou = box_iou(a, b), box_giou(a, b)
    for i in range(len(a)):
        for j in range(len(b)):
            want_iou, want_giou = naive_iou_giou(a[i], b[j])
            assert iou[i, j].item() == pytest.approx(want_iou, abs=1e-9)
            assert giou[i, j].item() == pytest.approx(want_giou, abs=1e-9)
    k = min(len(a), len(b))
    torch.testing.assert_close(box_iou_aligned(a[:k], b[:k]), iou.diagonal()[:k])
    torch.testing.assert_close(box_giou_aligned(a[:k], b[:k]), giou.diagonal()[:k])


@settings(max_examples=60, deadline=None)
@given(boxes(), boxes(), coord, st.sampled_from([0.25, 0.5, 2.0, 4.0]))
def test_iou_invariants(a, b, shift, scale):
    iou, giou = box_iou(a, b), box_giou(a, b)
    torch.testing.assert_close(iou, box_iou(b, a).T)  # symmetry
    torch.testing.assert_close(giou, box_giou(b, a).T)
    assert bool(((giou >= -1 - 1e-12) & (giou <= 1 + 1e-12)).all())
    assert bool((giou <= iou + 1e-12).all())  # GIoU never exceeds IoU
    moved_a, moved_b = a * scale + shift, b * scale + shift
    torch.testing.assert_close(box_iou(moved_a, moved_b), iou, atol=1e-9, rtol=1e-6)
    torch.testing.assert_close(box_giou(moved_a, moved_b), giou, atol=1e-9, rtol=1e-6)
    positive = (a[:, 2] > a[:, 0]) & (a[:, 3] > a[:, 1])
    same = box_iou_aligned(a, a)
    assert bool((same[positive] == 1).all()) and bool((box_giou_aligned(a, a)[positive] == 1).all())


def test_degenerate_boxes_give_zero_not_nan():
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert box_iou(point, point).item() == 0.0
    assert not torch.isnan(box_giou(point, point)).any()
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        box_iou(torch.zeros(3), point)


@settings(max_examples=40, deadline=None)
@given(st.floats(1, 300), st.floats(1, 300), st.floats(0.3, 0.9))
def test_gaussian_radius_keeps_the_overlap(h, w, overlap):
    """Shifting both corners by the radius (the worst of CornerNet's three cases) keeps the IoU."""
    r = float(gaussian_radius(torch.tensor(h), torch.tensor(w), overlap))
    assert r >= 0
    box = torch.tensor([[0.0, 0.0, w, h]], dtype=torch.float64)
    shrunk = (
        torch.tensor([[r, r, w - r, h - r]], dtype=torch.float64) if 2 * r < min(h, w) else None
    )
    grown = torch.tensor([[-r, -r, w + r, h + r]], dtype=torch.float64)
    shifted = torch.tensor([[r, r, w + r, h + r]], dtype=torch.float64)
    ious = [
        box_iou(box, other).item()
        for other in (grown, shifted) + ((shrunk,) if shrunk is not None else ())
    ]
    assert min(ious) >= overlap - 1e-6
    assert min(ious) <= overlap + 1e-6  # and it is the largest such radius: one case is tight


def naive_gaussian(ry, rx):
    sy, sx = (2 * ry + 1) / 6, (2 * rx + 1) / 6
    out = np.zeros((2 * ry + 1, 2 * rx + 1))
    for i in range(2 * ry + 1):
        for j in range(2 * rx + 1):
            y, x = i - ry, j - rx
            out[i, j] = math.exp(-(x * x) / (2 * sx * sx) - (y * y) / (2 * sy * sy))
    return out


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 12), st.integers(0, 12), st.integers(-16, 36), st.integers(-16, 36))
def test_draw_gaussian_equals_naive_and_clips_at_the_border(ry, rx, cy, cx):
    """Every cell of the window that falls inside is painted, wherever the centre is (TTFNet's
    draw_truncate_gaussian): a centre outside paints the part of its window that reaches in."""
    heat = torch.zeros(20, 20)
    heat[5, 5] = 0.5
    before = heat.clone()
    draw_gaussian(heat, cx, cy, rx, ry)
    want = before.numpy().astype(np.float64).copy()
    g = naive_gaussian(ry, rx)
    g[g < np.finfo(np.float64).eps * g.max()] = 0
    for i in range(2 * ry + 1):
        for j in range(2 * rx + 1):
            y, x = cy + i - ry, cx + j - rx
            if 0 <= y < 20 and 0 <= x < 20:
                want[y, x] = max(want[y, x], g[i, j])
    if 0 <= cx < 20 and 0 <= cy < 20:
        assert heat[cy, cx].item() == 1.0
    np.testing.assert_allclose(heat.numpy(), want, atol=1e-7)
    assert heat.max().item() <= 1.0


def test_draw_gaussian_paints_the_inside_part_of_an_outside_centre():
    heat = torch.zeros(4, 6)
    draw_gaussian(heat, -2, 1, 3, 1)  # centre two columns left of the map, window reaches x = 1
    assert bool((heat[:, 2:] == 0).all()) and bool((heat[0:3, 0:2] > 0).all())
    assert heat[1, 0].item() == pytest.approx(math.exp(-4 / (2 * (7 / 6) ** 2)), rel=1e-6)
    draw_gaussian(heat, 9, 1, 2, 1)  # the window ends at x = 11: nothing inside
    assert bool((heat[:, 2:] == 0).all())


def test_gaussian_is_elliptical():
    g = gaussian_2d(2, 6)
    assert g.shape == (5, 13) and g[2, 6] == 1.0
    assert g[2, 8] > g[4, 6]  # two cells along the long axis fall off less than along the short


def naive_peaks(heat):
    """Every (score, class, y, x) whose 3 x 3 neighbourhood holds nothing larger, -inf excluded."""
    _, c, h, w = heat.shape
    found = []
    for bi in range(heat.shape[0]):
        cells = []
        for ci in range(c):
            for y in range(h):
                for x in range(w):
                    v = heat[bi, ci, y, x]
                    window = heat[bi, ci, max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]
                    if v >= window.max() and v > -np.inf:
                        cells.append((float(v), ci, y, x))
        found.append(cells)
    return found


# scores of any sign, with plateaus (few distinct values) and masked (-inf) cells
score = st.one_of(
    st.integers(-3, 3).map(float),
    st.floats(-50, 50, width=32),
    st.just(float("-inf")),
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 7),
    st.integers(1, 60),
    st.data(),
)
def test_peaks_equal_the_brute_force_scan(b, c, h, w, k, data):
    values = data.draw(st.lists(score, min_size=b * c * h * w, max_size=b * c * h * w))
    heat = torch.tensor(values, dtype=torch.float32).reshape(b, c, h, w)
    scores, classes, ys, xs = heatmap_peaks(heat, k=k)
    n = min(k, c * h * w)
    assert scores.shape == classes.shape == ys.shape == xs.shape == (b, n)
    for bi, peaks in enumerate(naive_peaks(heat.numpy())):
        real = scores[bi] > float("-inf")
        m = min(n, len(peaks))
        assert int(real.sum()) == m and bool(real[:m].all())  # the real peaks come first
        got = list(
            zip(
                scores[bi][:m].tolist(),
                classes[bi][:m].tolist(),
                ys[bi][:m].tolist(),
                xs[bi][:m].tolist(),
                strict=True,
            )
        )
        assert set(got) <= set(peaks) and len(set(got)) == m  # only peaks, each once
        assert [g[0] for g in got] == sorted((p[0] for p in peaks), reverse=True)[:m]
        # the padding after the last peak
        assert bool((scores[bi][m:] == float("-inf")).all())
        for t in (classes, ys, xs):
            assert bool((t[bi][m:] == -1).all())


def test_negative_scores_return_the_true_peak():
    """Issue 18, item 10: logits of -5 with -1 at (2, 2) used to give three cells of -0.0."""
    heat = torch.full((1, 1, 5, 5), -5.0)
    heat[0, 0, 2, 2] = -1.0
    scores, classes, ys, xs = heatmap_peaks(heat, k=3)
    assert (scores[0, 0].item(), int(classes[0, 0]), int(ys[0, 0]), int(xs[0, 0])) == (
        -1.0,
        0,
        2,
        2,
    )
    # the rest are cells of the -5 plateau two or more cells away, never a neighbour of the peak
    assert bool((scores[0, 1:] == -5.0).all())
    assert bool(((ys[0, 1:] - 2).abs().maximum((xs[0, 1:] - 2).abs()) >= 2).all())


def test_fewer_peaks_than_k_are_padded():
    yy, xx = torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij")
    heat = torch.stack([-((yy - 2) ** 2 + (xx - 1) ** 2), torch.full((5, 5), float("-inf"))])
    scores, classes, ys, xs = heatmap_peaks(heat[None], k=4)  # one peak in 50 cells
    assert scores[0].tolist() == [0.0] + [float("-inf")] * 3
    assert classes[0].tolist() == [0, -1, -1, -1]
    assert ys[0].tolist() == [2, -1, -1, -1] and xs[0].tolist() == [1, -1, -1, -1]
    # before: the cells next to the peak came back as peaks of score 0
    probs = torch.zeros(1, 1, 3, 3)
    probs[0, 0, 1, 1] = 0.9
    scores, _, _, _ = heatmap_peaks(probs, k=3)
    assert scores[0].tolist() == [pytest.approx(0.9), float("-inf"), float("-inf")]


def test_peaks_bad_and_empty_inputs():
    assert heatmap_peaks(torch.zeros(2, 0, 4, 4))[0].shape == (2, 0)
    heat = torch.zeros(1, 1, 3, 3)
    heat[0, 0, 1, 1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        heatmap_peaks(heat)
    with pytest.raises(InputError, match="floating-point"):
        heatmap_peaks(torch.zeros(1, 1, 3, 3, dtype=torch.int64))
    with pytest.raises(InputError, match=r"k\): expected an int >= 1"):
        heatmap_peaks(torch.zeros(1, 1, 3, 3), k=0)
    with pytest.raises(InputError, match="odd kernel"):
        heatmap_peaks(torch.zeros(1, 1, 3, 3), kernel=2)


def test_a_drawn_box_decodes_to_its_centre():
    heat = torch.zeros(1, 3, 32, 32)
    draw_gaussian(heat[0, 2], 10, 20, 4, 2)
    draw_gaussian(heat[0, 0], 25, 5, 3, 3)
    scores, classes, ys, xs = heatmap_peaks(heat, k=2)
    got = {(int(c), int(y), int(x)) for c, y, x in zip(classes[0], ys[0], xs[0], strict=True)}
    assert got == {(2, 20, 10), (0, 5, 25)} and bool((scores == 1).all())
