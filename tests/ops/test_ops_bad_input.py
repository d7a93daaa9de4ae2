"""Bad input to the ops: every kind is refused with an InputError naming what was expected, before
any work, and inputs at the edges (huge radii, sizes or grids, tiny sigmas) give the right
answer or a refusal instead of NaN or an allocation failure (issue 20)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xuframe import ops
from xuframe.errors import InputError
from xuframe.types import Boxes3D
from xuframe.validation import check_tensor

B4 = torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 5.0, 6.0]])
B7 = torch.tensor([[0.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.1], [1.0, 0.5, 0.0, 4.0, 2.0, 1.5, 0.3]])
B5 = B7[:, [0, 1, 3, 4, 6]].contiguous()
POINTS = torch.tensor([[1.0, 1.0, 0.0, 0.5], [2.0, -1.0, 0.0, 0.2], [3.0, 2.0, 0.5, 0.1]])
RANGE = (0.0, -4.0, -1.0, 4.0, 4.0, 1.0)

# each op with a good call, the position of its tensor argument and that argument
TENSOR_ARGS = {
    "box_iou": (lambda x: ops.box_iou(x, B4), B4),
    "box_giou": (lambda x: ops.box_giou(B4, x), B4),
    "box_iou_aligned": (lambda x: ops.box_iou_aligned(B4, x), B4),
    "box_giou_aligned": (lambda x: ops.box_giou_aligned(x, B4), B4),
    "bev_iou": (lambda x: ops.bev_iou(x, B5), B5),
    "boxes3d_iou": (lambda x: ops.boxes3d_iou(B7, x), B7),
    "bev_corners": (ops.bev_corners, B5),
    "rotated_nms(boxes)": (lambda x: ops.rotated_nms(x, torch.tensor([0.9, 0.8]), 0.5), B5),
    "rotated_nms(scores)": (lambda x: ops.rotated_nms(B5, x, 0.5), torch.tensor([0.9, 0.8])),
    "nms_3d(boxes)": (lambda x: ops.nms_3d(x, torch.tensor([0.9, 0.8]), 0.25), B7),
    "nms_3d(scores)": (lambda x: ops.nms_3d(B7, x, 0.25), torch.tensor([0.9, 0.8])),
    "gaussian_radius": (lambda x: ops.gaussian_radius(x, torch.tensor([6.0, 3.0])), B4[:, 2]),
    "draw_gaussian": (lambda x: ops.draw_gaussian(x, 5, 6, 2, 3), torch.zeros(16, 16)),
    "heatmap_peaks": (lambda x: ops.heatmap_peaks(x, k=4), torch.rand(1, 2, 8, 8)),
    "scatter": (lambda x: ops.scatter(x, torch.tensor([0, 1, 1, 2]), 3), torch.ones(4, 2)),
    "voxelize": (lambda x: ops.voxelize(x, [0.5, 0.5, 1.0], RANGE), POINTS),
    "pillarize": (lambda x: ops.pillarize(x, [0.5, 0.5], RANGE), POINTS),
    "scatter_to_bev": (
        lambda x: ops.scatter_to_bev(x, torch.tensor([[0, 0], [1, 2]]), (4, 4)),
        torch.ones(2, 3),
    ),
    "points_in_boxes": (lambda x: ops.points_in_boxes(x, Boxes3D(B7)), POINTS[:, :3]),
    "decode_bev_boxes": (
        lambda x: ops.decode_bev_boxes(x, torch.tensor([[0, 0]]), (0.0, 0.0), (0.5, 0.5)),
        torch.zeros(1, 8),
    ),
}


def _with(t: torch.Tensor, value: float) -> torch.Tensor:
    out = t.clone()
    out.reshape(-1)[0] = value
    return out


@pytest.mark.parametrize("name", list(TENSOR_ARGS))
def test_every_tensor_argument_is_checked(name):
    call, good = TENSOR_ARGS[name]
    call(good)  # the good call works
    bad = [None, "x", 42, object(), {}, good.tolist(), good.bool(), good.to(torch.complex64)]
    bad += [_with(good, math.nan), _with(good, math.inf)]
    if name != "gaussian_radius":  # element-wise: any shapes that broadcast
        bad.append(good[None])
    for value in bad:
        with pytest.raises(InputError, match="expected"):
            call(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: ops.gaussian_2d(v, 2),
        lambda v: ops.draw_gaussian(torch.zeros(8, 8), v, 3, 1, 1),
        lambda v: ops.draw_gaussian(torch.zeros(8, 8), 3, 3, 1, v),
        lambda v: ops.heatmap_peaks(torch.rand(1, 1, 4, 4), k=v),
        lambda v: ops.heatmap_peaks(torch.rand(1, 1, 4, 4), kernel=v),
        lambda v: ops.scatter(torch.ones(2, 1), torch.tensor([0, 1]), v),
    ],
)
def test_int_arguments_take_ints_and_numpy_ints_only(call):
    call(np.int64(3))
    for value in ("x", object(), None, math.nan, math.inf, 2.5, 1 + 1j, True):
        with pytest.raises(InputError, match="expected an int"):
            call(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: ops.gaussian_radius(torch.tensor([4.0]), torch.tensor([6.0]), v),
        lambda v: ops.gaussian_2d(3, 2, sigma_y=v),
        lambda v: ops.rotated_nms(B5, torch.tensor([0.9, 0.8]), v),
        lambda v: ops.points_in_boxes(POINTS[:, :3], Boxes3D(B7), v),
    ],
)
def test_number_arguments_refuse_non_numbers_and_nan(call):
    call(np.float32(0.5))
    for value in ("x", object(), math.nan, 1 + 1j):  # (None is sigma's default)
        with pytest.raises(InputError, match="expected a number"):
            call(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: ops.voxelize(POINTS, v, RANGE),
        lambda v: ops.voxelize(POINTS, (0.5, 0.5, 1.0), v),
        lambda v: ops.pillarize(POINTS, v, RANGE),
        lambda v: ops.pillarize(POINTS, (0.5, 0.5), v),
        lambda v: ops.encode_bev_boxes(Boxes3D(B7), torch.tensor([[0, 0], [1, 1]]), v, (1, 1)),
        lambda v: ops.decode_bev_boxes(torch.zeros(1, 8), torch.tensor([[0, 0]]), (0, 0), v),
    ],
)
def test_sizes_and_ranges_are_sequences_of_finite_numbers(call):
    for value in (None, 42, object(), ["x", 1, 1], [None, 1, 1], [1j, 1, 1], [math.nan] * 6):
        with pytest.raises(InputError, match="expected"):
            call(value)


def test_box_ious_refuse_coordinates_whose_areas_overflow_and_compute_half_boxes_in_float32():
    # float32: a box of side 4e19 has an area of 1.6e39, past float32's range (GIoU was NaN)
    big = torch.tensor([[-2e19, -2e19, 2e19, 2e19]])
    with pytest.raises(InputError, match="magnitude"):
        ops.box_giou(big, big)
    # 300 x 300 boxes have areas past float16's 65504: computed in float32, returned in float16
    half = torch.tensor([[0.0, 0.0, 300.0, 300.0], [0.0, 0.0, 300.0, 150.0]], dtype=torch.float16)
    iou = ops.box_iou_aligned(half, half[[1, 0]])
    assert iou.dtype == torch.float16
    torch.testing.assert_close(iou, torch.tensor([0.5, 0.5], dtype=torch.float16))
    assert ops.box_giou(half, half).dtype == torch.float16
    # integer boxes work, in the default floating dtype
    assert ops.box_iou(B4.long(), B4.long()).dtype == torch.get_default_dtype()


def test_pairwise_ops_refuse_pairs_that_cannot_fit_in_memory(monkeypatch):
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    many4 = B4[:1].expand(1000, 4)
    many5 = B5[:1].expand(1000, 5)
    for call in (
        lambda: ops.box_iou(many4, many4),
        lambda: ops.box_giou(many4, many4),
        lambda: ops.bev_iou(many5, many5),
        lambda: ops.rotated_nms(many5, torch.rand(1000), 0.5),
        lambda: ops.points_in_boxes(torch.zeros(1000, 3), Boxes3D(B7[:1].expand(1000, 7))),
    ):
        with pytest.raises(InputError, match="would need"):
            call()
    assert ops.bev_iou(many5, many5, aligned=True).shape == (1000,)  # row by row: no N x M


def test_gaussian_radius_refuses_negative_sizes_and_scales_with_huge_ones():
    with pytest.raises(InputError, match=">= 0"):
        ops.gaussian_radius(torch.tensor([-1.0]), torch.tensor([6.0]))  # was NaN
    with pytest.raises(InputError, match="broadcasts"):
        ops.gaussian_radius(torch.zeros(0), torch.tensor([6.0, 3.0]))
    with pytest.raises(InputError, match="> 0 and < 1"):
        ops.gaussian_radius(torch.tensor([4.0]), torch.tensor([6.0]), 1.0)
    with pytest.raises(InputError, match="expected a torch.Tensor"):
        ops.gaussian_radius(4.0, torch.tensor([6.0]))  # type: ignore[arg-type]
    h = torch.tensor([4.0, 8.0, 0.0], dtype=torch.float64)
    w = torch.tensor([6.0, 3.0, 0.0], dtype=torch.float64)
    r = ops.gaussian_radius(h, w)
    huge = ops.gaussian_radius(h * 1e200, w * 1e200)  # was NaN: h * w overflowed
    torch.testing.assert_close(huge, r * 1e200)
    assert ops.gaussian_radius(h.long(), w.long()).shape == (3,)


def test_gaussian_2d_refuses_windows_that_cannot_fit_and_tiny_sigmas_give_no_nan(monkeypatch):
    with pytest.raises(InputError, match="would need"):
        ops.gaussian_2d(10**9, 10**9)
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    with pytest.raises(InputError, match="401 x 401 window would need"):
        ops.gaussian_2d(200, 200)
    g = ops.gaussian_2d(2, 2, sigma_y=1e-200, sigma_x=1e-200)  # the square underflows
    assert g[2, 2] == 1.0 and float(g.sum()) == 1.0
    with pytest.raises(InputError, match="> 0"):
        ops.gaussian_2d(2, 2, sigma_x=0.0)
    assert bool((ops.gaussian_2d(2, 2, sigma_x=1e200)[2] == 1.0).all())  # the square is inf


def test_draw_gaussian_computes_only_the_part_inside_the_heatmap(monkeypatch):
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    heat = torch.zeros(16, 16)
    ops.draw_gaussian(heat, 5, 6, 10**9, 10**9)  # the whole window: far past memory
    sigma = (2 * 10**9 + 1) / 6
    y, x = torch.meshgrid(torch.arange(16.0) - 6, torch.arange(16.0) - 5, indexing="ij")
    want = torch.exp(-(x.double() ** 2 + y.double() ** 2) / (2 * sigma * sigma)).float()
    torch.testing.assert_close(heat, want)
    # a part of a window equals the same part of the whole one, bit for bit
    for cx, cy, rx, ry in ((0, 0, 3, 2), (15, 3, 5, 5), (-2, 1, 3, 1), (8, 17, 4, 2)):
        heat = torch.zeros(16, 16)
        ops.draw_gaussian(heat, cx, cy, rx, ry)
        full = torch.zeros(16 + 2 * 8, 16 + 2 * 8)
        full[cy + 8 - ry : cy + 8 + ry + 1, cx + 8 - rx : cx + 8 + rx + 1] = ops.gaussian_2d(ry, rx)
        assert torch.equal(heat, full[8:-8, 8:-8])
    with pytest.raises(InputError, match="floating-point"):
        ops.draw_gaussian(torch.zeros(4, 4, dtype=torch.int64), 1, 1, 1, 1)


def test_heatmap_peaks_edges():
    heat = torch.rand(1, 2, 8, 8)
    assert all(t.shape == (0, 4) for t in ops.heatmap_peaks(heat[:0], k=4))  # was a torch error
    minus = _with(heat, -math.inf)  # -inf is allowed: a cell that is never a peak
    assert bool((ops.heatmap_peaks(minus, k=4)[0] > -math.inf).all())
    with pytest.raises(InputError, match=r"NaN or \+inf"):
        ops.heatmap_peaks(_with(heat, math.inf))
    with pytest.raises(InputError, match="odd kernel"):
        ops.heatmap_peaks(heat, kernel=4)
    # a kernel past twice the map is the whole map: one peak per class map
    scores = ops.heatmap_peaks(heat, k=2, kernel=10**9 + 1)[0]
    torch.testing.assert_close(scores, heat.amax((2, 3)).sort(descending=True).values)


def test_scatter_checks_before_any_work(monkeypatch):
    src, index = torch.ones(4, 2), torch.tensor([0, 1, 1, 2])
    with pytest.raises(InputError, match="would need"):
        ops.scatter(src, index, 10**12)  # 16 TB
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    with pytest.raises(InputError, match="an output of 1000000 rows would need"):
        ops.scatter(src, index, 10**6)
    with pytest.raises(InputError, match="-1"):
        ops.scatter(src, index, -1)
    with pytest.raises(InputError, match=r"got values in \[0, 2\]"):
        ops.scatter(src, index, 2)
    with pytest.raises(InputError, match="backend"):
        ops.scatter(src, index, 3, backend="gpu")  # type: ignore[arg-type]
    assert ops.scatter(src, index, np.int64(3)).shape == (3, 2)


def test_a_grid_whose_canvas_cannot_fit_is_refused(monkeypatch):
    far = (0.0, -40.0, -3.0, 70.0, 40.0, 1.0)
    with pytest.raises(InputError, match="would need"):
        ops.pillarize(POINTS, [1e-6, 1e-6], far)  # 5.6e15 pillars
    with pytest.raises(InputError, match="an unbounded amount"):
        ops.voxelize(POINTS, [1e-300, 1e-300, 1e-300], (-1e300, -1e300, -1e300, 1e300, 1, 1))
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    # 700 x 800 pillars x 4 float32 features = 8.96 MB: the canvas scatter_to_bev would make
    with pytest.raises(InputError, match="700 x 800 x 1 cells"):
        ops.pillarize(POINTS, [0.1, 0.1], far)
    with pytest.raises(InputError, match="canvas would need"):
        ops.scatter_to_bev(torch.ones(1, 4), torch.tensor([[0, 0]]), (700, 800))
    assert ops.pillarize(POINTS, [1.0, 1.0], far).grid == (70, 80, 1)


def test_voxelize_checks_reduce_and_ranges_first():
    with pytest.raises(InputError, match="reduce"):
        ops.voxelize(POINTS, (1, 1, 1), RANGE, "median")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max > min"):
        ops.pillarize(POINTS, (1, 1), (0, 0, 1, 4, 4, 1))
    with pytest.raises(InputError, match=r"\(N, >=3\)"):
        ops.pillarize(POINTS[:, :2], (1, 1), RANGE)
    with pytest.raises(InputError, match=r"shape \(2,\)"):
        ops.pillarize(POINTS, (1, 1, 1), RANGE)
    # numpy and tensor sizes are sequences of numbers too
    a = ops.voxelize(POINTS, np.array([0.5, 0.5, 1.0]), torch.tensor(RANGE))
    b = ops.voxelize(POINTS, (0.5, 0.5, 1.0), RANGE)
    assert torch.equal(a.coords, b.coords) and a.grid == b.grid


def test_scatter_to_bev_and_codec_arguments():
    with pytest.raises(InputError, match="integer coords"):
        ops.scatter_to_bev(torch.ones(1, 2), torch.tensor([[0.5, 0.0]]), (2, 2))
    with pytest.raises(InputError, match="outside"):
        ops.scatter_to_bev(torch.ones(1, 2), torch.tensor([[2, 0]]), (2, 2))
    for grid in (None, (2,), (2, "x"), (0, 2), (2.5, 2)):
        with pytest.raises(InputError, match="grid"):
            ops.scatter_to_bev(torch.ones(1, 2), torch.tensor([[0, 0]]), grid)  # type: ignore[arg-type]
    cells = torch.tensor([[0, 0], [1, 1]])
    with pytest.raises(InputError, match="integer cells"):
        ops.encode_bev_boxes(Boxes3D(B7), cells.float(), (0, 0), (1, 1))
    with pytest.raises(InputError, match=r"shape \(2, 2\)"):
        ops.encode_bev_boxes(Boxes3D(B7), cells[:1], (0, 0), (1, 1))
    with pytest.raises(InputError, match="positive"):
        ops.encode_bev_boxes(Boxes3D(B7), cells, (0, 0), (1, -1))
    with pytest.raises(InputError, match="expected Boxes3D"):
        ops.encode_bev_boxes(B7, cells, (0, 0), (1, 1))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="overflow"):
        ops.encode_bev_boxes(Boxes3D(B7 + 1e3), cells, (0, 0), (1e-40, 1e-40))  # float32 offsets
    codes = torch.zeros(1, 8)
    codes[0, 3] = 200.0  # exp(200) is past float32
    with pytest.raises(InputError, match="overflow"):
        ops.decode_bev_boxes(codes, torch.tensor([[0, 0]]), (0, 0), (1, 1))


def test_points_in_boxes_refuses_complex_boxes_and_takes_integer_points():
    complex_boxes = Boxes3D.__new__(Boxes3D)
    object.__setattr__(complex_boxes, "tensor", B7.to(torch.complex64))
    with pytest.raises(InputError, match="real-valued"):
        ops.points_in_boxes(POINTS[:, :3], complex_boxes)
    inside = ops.points_in_boxes(POINTS[:, :3].long(), Boxes3D(B7))
    assert inside.shape == (3, 2)


def test_check_tensor_max_abs_takes_one_pass_and_names_the_kind():
    t = torch.tensor([1.0, -3.0])
    assert check_tensor(t, "t", max_abs=3.0) is t
    with pytest.raises(InputError, match="magnitude <= 2, got 3"):
        check_tensor(t, "t", max_abs=2.0)
    with pytest.raises(InputError, match="finite"):
        check_tensor(torch.tensor([math.nan, 1.0]), "t", max_abs=2.0)
    with pytest.raises(InputError, match="magnitude <= 2, got 3"):
        check_tensor(torch.tensor([math.nan, 3.0]), "t", max_abs=2.0, finite=False)
    check_tensor(torch.tensor([math.nan, 1.0]), "t", max_abs=2.0, finite=False)
    with pytest.raises(InputError, match="magnitude"):
        check_tensor(torch.tensor([5, 1]), "t", max_abs=2.0, floating=False)
    with pytest.raises(InputError, match=r"expected shape \(3,\), got \(2,\)"):
        check_tensor(t, "t", shape=(3,))
