from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.data import ShapesDataset, collate_detection
from xuframe.errors import InputError
from xuframe.types import Boxes2D
from xuframe_plugins.ttfnet import (
    ModulatedDeformConv2d,
    decode_boxes,
    encode_targets,
    focal_loss,
    giou_loss,
)


@st.composite
def image_boxes(draw):
    size = draw(st.sampled_from([64, 96, 128]))
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        # on a 1/64 px grid, so that float32 keeps every box at least 1 px wide (narrower boxes
        # are dropped, as the released loader drops them; a float32 round-off must not do it)
        w = math.ceil(draw(st.floats(1, size)) * 64) / 64
        h = math.ceil(draw(st.floats(1, size)) * 64) / 64
        x = math.floor(draw(st.floats(0, size - w)) * 64) / 64
        y = math.floor(draw(st.floats(0, size - h)) * 64) / 64
        rows.append((x, y, x + w, y + h))
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return size, torch.tensor(rows, dtype=torch.float32), labels


def centre_cell(box, size):
    """The released head's centre cell of a box: int(((x1 + x2 - 1) / 2) / 4), its loader's
    pixel-index corner being x2 - 1 (see released_targets)."""
    cx = int(((float(box[0]) + float(box[2]) - 1) / 2) / 4)
    cy = int(((float(box[1]) + float(box[3]) - 1) / 2) / 4)
    assert 0 <= cx < size // 4 and 0 <= cy < size // 4
    return cy, cx


@settings(max_examples=60, deadline=None)
@given(image_boxes(), st.sampled_from([0.0, 0.3, 0.54, 1.0]))
def test_every_box_peaks_at_its_centre_and_nothing_exceeds_one(case, beta):
    size, boxes, labels = case
    heat, target, weight = encode_targets(boxes, labels, 3, (size // 4, size // 4), 4, 0.54, beta)
    assert heat.max() <= 1.0 and heat.min() >= 0.0
    for box, label in zip(boxes, labels, strict=True):
        assert heat[(label, *centre_cell(box, size))] == 1.0
    # the peaks are exactly the centres: no cell other than a box centre reaches 1
    centres = {(int(lab), *centre_cell(b, size)) for b, lab in zip(boxes, labels, strict=True)}
    ones = {tuple(int(v) for v in idx) for idx in (heat == 1).nonzero()}
    assert ones == centres
    # weights are >= 0 (0 only for a 1 x 1 px box: log 1) and only on regression samples
    assert (weight >= 0).all() and bool((target[0][weight > 0] >= 0).all())


@settings(max_examples=60, deadline=None)
@given(image_boxes())
def test_every_regression_sample_decodes_to_its_own_box(case):
    size, boxes, labels = case
    _, target, weight = encode_targets(boxes, labels, 3, (size // 4, size // 4), 4)
    ys, xs = (weight > 0).nonzero(as_tuple=True)
    distances = torch.zeros(1, 4, size // 4, size // 4)
    t = target  # (4, H, W) absolute boxes
    distances[0, 0] = xs_grid = torch.arange(size // 4).view(1, -1) * 4.0 - t[0]
    distances[0, 1] = torch.arange(size // 4).view(-1, 1) * 4.0 - t[1]
    distances[0, 2] = t[2] - torch.arange(size // 4).view(1, -1) * 4.0
    distances[0, 3] = t[3] - torch.arange(size // 4).view(-1, 1) * 4.0
    assert xs_grid.shape[1] == size // 4
    decoded = decode_boxes(distances, 4)[0]
    torch.testing.assert_close(decoded[:, ys, xs], t[:, ys, xs])
    # and each sample's target is one of the input boxes, the smallest whose region covers it
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        assert any(torch.equal(t[:, y, x], b) for b in boxes)


def test_smaller_boxes_overwrite_larger_ones():
    big = torch.tensor([[0.0, 0.0, 64.0, 64.0]])
    small = torch.tensor([[24.0, 24.0, 40.0, 40.0]])
    _, target, weight = encode_targets(
        torch.cat([small, big]), torch.tensor([0, 1]), 2, (16, 16), 4
    )
    assert torch.equal(target[:, 7, 7], small[0])  # the shared centre belongs to the small box
    sample = weight[target[0] == 24.0]
    assert sample.sum().item() == pytest.approx(math.log(16 * 16), rel=1e-5)


def released_targets(index_boxes, labels, num_classes, feature_size, stride, alpha):
    """The released head's targets (ZJULearning/ttfnet, TTFHead.target_single_image with
    wh_area_process 'log', wh_gaussian, alpha == beta), written out cell by cell in float64.

    ``index_boxes`` are what its COCO loader makes of an annotation ``(x, y, w, h)``:
    ``[x, y, x + w - 1, y + h - 1]``, inside the image. Returns float64 arrays
    ``(heatmap (C, H, W), boxes (4, H, W), weight (H, W))`` with the boxes in pixel indices.
    """
    h, w = feature_size
    heat = np.zeros((num_classes, h, w))
    target = -np.ones((4, h, w))
    weight = np.zeros((h, w))
    rows = [[float(v) for v in b] for b in index_boxes]
    areas = [(b[2] - b[0] + 1) * (b[3] - b[1] + 1) for b in rows]
    for k in sorted(range(len(rows)), key=lambda i: -areas[i]):  # largest first, ties in order
        x1, y1, x2, y2 = rows[k]
        fx1, fx2 = (min(max(v / stride, 0), w - 1) for v in (x1, x2))
        fy1, fy2 = (min(max(v / stride, 0), h - 1) for v in (y1, y2))
        rh, rw = int((fy2 - fy1) / 2 * alpha), int((fx2 - fx1) / 2 * alpha)
        cx, cy = int((x1 + x2) / 2 / stride), int((y1 + y2) / 2 / stride)
        sx, sy = (2 * rw + 1) / 6, (2 * rh + 1) / 6
        gauss = np.zeros((h, w))
        for y in range(max(cy - rh, 0), min(cy + rh + 1, h)):
            for x in range(max(cx - rw, 0), min(cx + rw + 1, w)):
                gauss[y, x] = math.exp(
                    -((x - cx) ** 2) / (2 * sx * sx) - (y - cy) ** 2 / (2 * sy * sy)
                )
        c = int(labels[k])
        heat[c] = np.maximum(heat[c], gauss)
        inside = gauss > 0
        target[:, inside] = np.array(rows[k])[:, None]
        weight[inside] = gauss[inside] * math.log(areas[k]) / gauss[inside].sum()
    return heat, target, weight


@st.composite
def annotations(draw):
    """COCO-style annotations (x, y, w, h >= 1 px) inside a 64, 96 or 128 px image."""
    size = draw(st.sampled_from([64, 96, 128]))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        # sixteenths of a pixel: exact in float32
        x, y = draw(st.integers(0, 16 * size - 16)), draw(st.integers(0, 16 * size - 16))
        bw, bh = draw(st.integers(16, 16 * size - x)), draw(st.integers(16, 16 * size - y))
        x, y, bw, bh = x / 16, y / 16, bw / 16, bh / 16
        rows.append((x, y, bw, bh))
    labels = draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows)))
    return size, rows, labels


@settings(max_examples=80, deadline=None)
@given(annotations(), st.sampled_from([0.2, 0.54, 1.0]))
def test_targets_equal_the_released_head_on_its_loaders_boxes(case, alpha):
    """Issue 18, item 6: for every annotation, xuframe's box [x, y, x + w, y + h] gets the
    released head's targets for its loader's box [x, y, x + w - 1, y + h - 1]: the same
    heatmap, sample cells and weights (log(w h) per box), and the same box as regression target."""
    size, rows, labels = case
    ours = torch.tensor([[x, y, x + bw, y + bh] for x, y, bw, bh in rows])
    theirs = [[x, y, x + bw - 1, y + bh - 1] for x, y, bw, bh in rows]
    feat = (size // 4, size // 4)
    heat, target, weight = encode_targets(ours, torch.tensor(labels), 3, feat, 4, alpha, alpha)
    want_heat, want_target, want_weight = released_targets(theirs, labels, 3, feat, 4, alpha)
    np.testing.assert_allclose(heat.numpy(), want_heat, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(weight.numpy(), want_weight, rtol=1e-5, atol=1e-7)
    sample = want_target[0] >= 0
    assert bool((target[0].numpy() >= 0).__eq__(sample).all())
    np.testing.assert_array_equal(
        target.numpy()[:, sample], want_target[:, sample] + np.array([0, 0, 1, 1])[:, None]
    )


def test_an_8_px_box_weighs_log_64_and_peaks_where_the_released_code_does():
    """One 8 x 8 px box at the origin: the released loader makes [0, 0, 7, 7] of it, area
    (7 + 1)(7 + 1) = 64, centre int(3.5 / 4) = 0. (The released head fed [0, 0, 8, 8] itself
    gives log 81, but that is its 9 x 9 px box.) Before: peak at (1, 1)."""
    heat, target, weight = encode_targets(
        torch.tensor([[0.0, 0.0, 8.0, 8.0]]), torch.tensor([0]), 1, (16, 16), 4
    )
    assert weight.sum().item() == pytest.approx(math.log(64), rel=1e-6)
    assert (heat[0] == 1).nonzero().tolist() == [[0, 0]]
    assert torch.equal(target[:, 0, 0], torch.tensor([0.0, 0.0, 8.0, 8.0]))


def test_one_pixel_boxes_weigh_zero_and_smaller_ones_are_dropped():
    """A 1 x 1 px box is the released [x, y, x, y]: area 1, weight log 1 = 0, but its heatmap
    peak is drawn. Under 1 px wide or high the released loader drops the box (w < 1 or h < 1)."""
    heat, _, weight = encode_targets(
        torch.tensor([[9.0, 13.0, 10.0, 14.0]]), torch.tensor([0]), 1, (8, 8), 4
    )
    assert heat[0, 3, 2].item() == 1.0 and weight.abs().sum().item() == 0.0
    heat, target, weight = encode_targets(
        torch.tensor([[9.0, 13.0, 9.5, 20.0], [0.0, 0.0, 0.0, 5.0]]),
        torch.tensor([0, 0]),
        1,
        (8, 8),
        4,
    )
    assert heat.sum().item() == 0.0 and weight.sum().item() == 0.0 and bool((target == -1).all())


def test_a_box_cut_by_the_border_is_encoded_as_its_visible_part():
    """[-20, 10, 12, 30] in a 64 px image: its centre lies left of the map. Before, the centre
    was clamped to column 0 with the whole box as target and weight log 640; the released head
    alone draws nothing for it (centre int(-1.125) = -1, radius 0), but its pipeline clips every
    box to the image first, so the head sees [0, 10, 11, 29]: peak (4, 1), weight log 240."""
    cut = torch.tensor([[-20.0, 10.0, 12.0, 30.0]])
    heat, target, weight = encode_targets(cut, torch.tensor([0]), 1, (16, 16), 4)
    assert (heat[0] == 1).nonzero().tolist() == [[4, 1]]
    assert weight.sum().item() == pytest.approx(math.log(12 * 20), rel=1e-6)
    assert torch.equal(target[:, 4, 1], torch.tensor([0.0, 10.0, 12.0, 30.0]))
    # a box wholly outside (or with less than 1 px inside) gives nothing
    heat, _, weight = encode_targets(
        torch.tensor([[70.0, 10.0, 90.0, 30.0], [63.5, 0.0, 80.0, 8.0]]),
        torch.tensor([0, 0]),
        1,
        (16, 16),
        4,
    )
    assert heat.sum().item() == 0.0 and weight.sum().item() == 0.0


@settings(max_examples=60, deadline=None)
@given(image_boxes(), st.floats(-40, 40), st.floats(-40, 40))
def test_boxes_reaching_outside_equal_their_clipped_boxes(case, dx, dy):
    size, boxes, labels = case
    moved = boxes + torch.tensor([dx, dy, dx, dy])
    clipped = moved.clone()
    clipped[:, 0::2] = clipped[:, 0::2].clamp(0, size)
    clipped[:, 1::2] = clipped[:, 1::2].clamp(0, size)
    feat = (size // 4, size // 4)
    for a, b in zip(
        encode_targets(moved, labels, 3, feat, 4),
        encode_targets(clipped, labels, 3, feat, 4),
        strict=True,
    ):
        assert torch.equal(a, b)
    heat = encode_targets(moved, labels, 3, feat, 4)[0]
    visible = ((clipped[:, 2] - clipped[:, 0]) >= 1) & ((clipped[:, 3] - clipped[:, 1]) >= 1)
    assert int((heat == 1).sum()) <= int(visible.sum())
    assert bool(heat.eq(1).any()) == bool(visible.any())


def test_encode_targets_names_bad_inputs():
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        encode_targets(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64), 1, (4, 4), 4)
    with pytest.raises(InputError, match="finite"):
        encode_targets(
            torch.tensor([[0.0, 0.0, float("nan"), 4.0]]), torch.tensor([0]), 1, (4, 4), 4
        )
    with pytest.raises(InputError, match=r"labels in \[0, 1\]"):
        encode_targets(torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.tensor([3]), 2, (4, 4), 4)


B1, L1 = torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([0])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([[0.0, 0.0, 10.0, 10.0]], L1, 2, (8, 8), 4), "boxes: expected a torch.Tensor"),
        ((Boxes2D(B1), L1, 2, (8, 8), 4), "boxes: expected a torch.Tensor"),
        ((torch.tensor([[10.0, 10.0, 0.0, 0.0]]), L1, 2, (8, 8), 4), "x2 >= x1"),
        ((B1, L1.float(), 2, (8, 8), 4), "integer labels"),
        ((B1, torch.tensor([0, 1]), 2, (8, 8), 4), "expected 1 labels"),
        ((B1, L1, 0, (8, 8), 4), "num_classes"),
        ((B1, L1, 2.5, (8, 8), 4), "num_classes"),
        ((B1, L1, 2, (-8, 8), 4), "feature_size"),
        ((B1, L1, 2, (0, 0), 4), "feature_size"),
        ((B1, L1, 2, 8, 4), "feature_size"),
        ((B1, L1, 2, (8, 8), 0), "stride"),
        ((B1, L1, 2, (8, 8), 4, float("nan")), "alpha"),
        ((B1, L1, 2, (8, 8), 4, 1e30), "alpha"),
        ((B1, L1, 2, (8, 8), 4, 0.54, -1.0), "beta"),
        ((B1, L1, 2, (10**6, 10**6), 4), "memory"),
    ],
)
def test_encode_targets_refuses_bad_arguments_before_work(args, match):
    with pytest.raises(InputError, match=match):
        encode_targets(*args)


def test_encode_targets_accepts_numpy_ints_and_float64_boxes_beyond_float32():
    heat, _, _ = encode_targets(
        torch.tensor([[0.0, 0.0, 1e300, 1e300]], dtype=torch.float64),
        torch.tensor([0]),
        np.int64(2),
        (np.int64(8), np.int64(8)),
        np.int64(4),
    )
    assert heat.shape == (2, 8, 8) and heat.max() == 1.0  # the box clipped to the image


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: decode_boxes([[1.0]], 4), "torch.Tensor"),
        (lambda: decode_boxes(torch.zeros(4, 8, 8), 4), r"shape \(N, 4, M, K\)"),
        (lambda: decode_boxes(torch.zeros(1, 3, 8, 8), 4), r"shape \(N, 4, M, K\)"),
        (lambda: decode_boxes(torch.zeros(1, 4, 8, 8), 0), "stride"),
        (lambda: decode_boxes(torch.full((1, 4, 8, 8), math.nan), 4), "finite"),
        (lambda: decode_boxes(torch.zeros(1, 4, 8, 8, dtype=torch.long), 4), "floating"),
        (lambda: focal_loss(torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 8, 8)), "target"),
        (lambda: focal_loss([1.0], [1.0]), "logits"),
        (lambda: focal_loss(torch.full((1, 2, 8, 8), math.nan), torch.zeros(1, 2, 8, 8)), "finite"),
        (lambda: focal_loss(torch.zeros(1, 2, 8, 8), torch.full((1, 2, 8, 8), 2.0)), r"\[0, 1\]"),
        (lambda: giou_loss(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8), torch.ones(1, 4, 4)), "weight"),
        (lambda: giou_loss(torch.full((1, 4, 8, 8), math.nan), torch.zeros(1, 4, 8, 8), torch.ones(1, 8, 8)), "finite"),
        (lambda: giou_loss(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8), -torch.ones(1, 8, 8)), ">= 0"),
        (lambda: giou_loss([1], [1], [1]), "pred"),
    ],
)  # fmt: skip
def test_codecs_and_losses_check_their_arguments(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_empty_and_degenerate_boxes_give_finite_losses():
    model = xuframe.create("detector", "ttfnet-tiny")
    batch = model.example_batch(2)
    del batch["crowd"]  # one flag per box: not needed by the losses
    batch["boxes"][0] = Boxes2D(torch.zeros(0, 4))
    batch["labels"][0] = torch.zeros(0, dtype=torch.int64)
    batch["boxes"][1] = Boxes2D(torch.tensor([[10.0, 10.0, 10.0, 30.0], [5.0, 5.0, 20.0, 20.0]]))
    batch["labels"][1] = torch.tensor([0, 1])
    losses = model.loss(batch)
    assert all(torch.isfinite(v) for v in losses.values())
    batch["boxes"][1] = Boxes2D(torch.zeros(0, 4))
    batch["labels"][1] = torch.zeros(0, dtype=torch.int64)
    losses = model.loss(batch)  # no box at all: focal loss on negatives only, GIoU zero
    assert all(torch.isfinite(v) for v in losses.values()) and losses["giou"].item() == 0.0
    sum(losses.values()).backward()


def test_bad_inputs_are_named():
    model = xuframe.create("detector", "ttfnet-tiny")
    with pytest.raises(InputError, match=r"\(B, 3, H, W\)"):
        model.predict(torch.zeros(3, 64, 64))
    with pytest.raises(InputError, match="multiples of 32"):
        model.predict(torch.zeros(1, 3, 60, 64))
    with pytest.raises(InputError, match="floating-point"):
        model.predict(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    batch = model.example_batch(1)
    batch["labels"][0] = batch["labels"][0] + 10
    with pytest.raises(InputError, match=r"labels in \[0, 3\]"):
        model.loss(batch)


@pytest.fixture(scope="module")
def tiny():
    return xuframe.create("detector", "ttfnet-tiny").eval()


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(0, 3, 64, 64), "at least one image"),
        (torch.zeros(1, 3, 0, 0), "positive multiples of 32"),
        (torch.zeros(1, 3, 0, 64), "positive multiples of 32"),
        (torch.full((1, 3, 64, 64), math.nan), "finite"),
        (torch.full((1, 3, 64, 64), math.inf), "finite"),
        (torch.zeros(1, 1, 3, 64, 64), r"\(B, 3, H, W\)"),
        (torch.zeros(1, 1, 64, 64), r"\(B, 3, H, W\)"),
        (torch.zeros(1, 4, 64, 64), r"\(B, 3, H, W\)"),
        (np.zeros((1, 3, 64, 64), np.float32), "torch.Tensor"),
        ([torch.zeros(3, 64, 64)], "torch.Tensor"),
        (None, "torch.Tensor"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.bool), "real-valued"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.complex64), "real-valued"),
    ],
)
def test_predict_refuses_bad_images_by_name(tiny, images, match):
    with pytest.raises(InputError, match=match):
        tiny.predict(images)


def test_images_of_any_floating_dtype_are_cast_to_the_model(tiny):
    """One rule for every detector: floating inputs are cast to the model's dtype (as the LiDAR
    detectors cast point clouds); float64 images give float32 detections, equal to float32's."""
    images = collate_detection([ShapesDataset(1, 64, seed=0)[0]])["inputs"]
    want = tiny.predict(images)[0]
    for dtype in (torch.float64, torch.float16):
        got = tiny.predict(images.to(dtype))[0]
        assert got.geometry.tensor.dtype == torch.float32
        if dtype == torch.float64:
            torch.testing.assert_close(got.scores, want.scores)
    batch = tiny.example_batch(1)
    batch["inputs"] = batch["inputs"].double()
    assert all(torch.isfinite(v) for v in tiny.loss(batch).values())


def _spoil(key, change):
    def apply(batch):
        if key == "batch":
            return change(batch)
        batch[key] = change(batch[key])
        return batch

    return apply


def _first(change):
    def apply(items):
        items = list(items)
        items[0] = change(items[0])
        return items

    return apply


@pytest.mark.parametrize(
    ("spoil", "match"),
    [
        (_spoil("inputs", lambda x: x.clone().fill_(math.nan)), "finite"),
        (_spoil("inputs", lambda x: x[:0]), "at least one image"),
        (_spoil("inputs", lambda x: x[:, :, :0, :0]), "multiples of 32"),
        (_spoil("inputs", lambda x: x.tolist()), "torch.Tensor"),
        (_spoil("labels", _first(lambda lab: lab[:-1])), r"expected \d+ labels"),
        (_spoil("boxes", _first(lambda b: b[: len(b) - 1])), r"expected \d+ labels"),
        (_spoil("labels", _first(lambda lab: lab.float())), "integer labels"),
        (_spoil("labels", _first(lambda lab: [0.5] * len(lab))), "integer labels"),
        (_spoil("labels", _first(lambda lab: lab - 100)), r"labels in \[0, 3\]"),
        (_spoil("labels", _first(lambda lab: lab + 4)), r"labels in \[0, 3\]"),
        (_spoil("labels", _first(lambda lab: lab > 0)), "integer labels"),
        (_spoil("labels", _first(lambda lab: lab[None])), "1-D"),
        (_spoil("boxes", _first(lambda b: b.tensor)), "expected Boxes2D"),
        (_spoil("boxes", _first(lambda b: b.tensor.tolist())), "expected Boxes2D"),
        (_spoil("boxes", lambda bs: torch.stack([b.tensor[:1] for b in bs])), "a list"),
        (_spoil("boxes", lambda bs: None), "a list"),
        (_spoil("boxes", lambda bs: bs[:1]), r"'boxes'\]: expected 2 entries"),
        (_spoil("boxes", lambda bs: bs * 2), r"'boxes'\]: expected 2 entries"),
        (_spoil("labels", lambda ls: ls[:1]), r"'labels'\]: expected 2 entries"),
        (_spoil("batch", lambda b: {k: v for k, v in b.items() if k != "labels"}), "'labels'"),
        (_spoil("batch", lambda b: list(b.values())), "mapping"),
        (_spoil("crowd", _first(lambda c: c[None])), r"crowd'\]\[0\]"),
        (_spoil("crowd", _first(lambda c: None)), r"crowd'\]\[0\]"),
        (_spoil("crowd", lambda c: c[:1]), "crowd"),
        (_spoil("image_ids", lambda ids: ids[None]), "image_ids"),
        (_spoil("image_ids", lambda ids: ids[0]), "image_ids"),
        (_spoil("image_ids", lambda ids: None), r"'image_ids'\]: expected 2 ids .* got NoneType"),
        (_spoil("crowd", lambda c: None), r"'crowd'\]: expected a list of 2 .* got NoneType"),
    ],
)
def test_loss_refuses_bad_batches_before_running_the_model(spoil, match):
    model = xuframe.create("detector", "ttfnet-tiny")
    calls = []
    model.backbone.register_forward_hook(lambda *_: calls.append(1))
    batch = spoil(model.example_batch(2))
    with pytest.raises(InputError, match=match):
        model.loss(batch)
    assert not calls  # refused before any work


def test_labels_may_be_lists_of_ints_or_any_integer_dtype():
    model = xuframe.create("detector", "ttfnet-tiny")
    batch = model.example_batch(2)
    want = model.loss(batch)["heatmap"].item()
    batch["labels"] = [batch["labels"][0].tolist(), batch["labels"][1].to(torch.uint8)]
    assert model.loss(batch)["heatmap"].item() == pytest.approx(want)


def test_focal_loss_is_low_on_the_target_itself():
    target = torch.zeros(1, 1, 8, 8)
    target[0, 0, 3, 4] = 1.0
    good = torch.logit(target.clamp(1e-4, 1 - 1e-4))
    assert focal_loss(good, target) < 1e-3 < focal_loss(torch.zeros_like(target), target)


def test_deformable_conv_with_zero_offsets_is_a_masked_conv():
    torch.manual_seed(0)
    layer = ModulatedDeformConv2d(5, 7)
    x = torch.randn(2, 5, 9, 11)
    torch.testing.assert_close(
        layer(x),
        0.5 * F.conv2d(x, layer.weight, padding=1) + layer.bias.view(1, -1, 1, 1) * 1.0,
        atol=1e-5,
        rtol=1e-5,
    )
    # an offset of exactly one pixel to the right samples the neighbour
    with torch.no_grad():
        layer.offset.bias[9:18] = 1.0  # dx = +1 for every tap
        layer.offset.bias[18:] = 30.0  # masks ~1
    shifted = F.pad(x[..., 1:], (0, 1))
    torch.testing.assert_close(
        layer(x)[..., 1:],  # column 0's left tap reads x[0] here, the padding there
        F.conv2d(shifted, layer.weight, layer.bias, padding=1)[..., 1:],
        atol=1e-4,
        rtol=1e-4,
    )


def test_predict_returns_boxes_inside_the_image():
    model = xuframe.create("detector", "ttfnet-tiny", deform=True).eval()
    data = ShapesDataset(2, 64, seed=0)
    dets = model.predict(collate_detection([data[0], data[1]])["inputs"])
    assert len(dets) == 2
    for d in dets:
        assert len(d) <= 100 and bool((d.scores >= 0.01).all())
        assert bool((d.geometry.tensor >= 0).all() and (d.geometry.tensor <= 64).all())


def test_a_toml_run_trains_and_evaluates_with_coco_metrics(tmp_path):
    """`xuframe train` on a run file like examples/ttfnet/shapes.toml, two steps."""
    from xuframe.engine import load_run, read_metrics, train_run

    shipped = load_run(Path(__file__).parents[2] / "examples" / "ttfnet" / "shapes.toml")
    assert shipped.section("component")["name"] == "ttfnet-tiny"  # the shipped file parses
    run = tmp_path / "tiny.toml"
    run.write_text(
        """
[component]
kind = "detector"
name = "ttfnet-tiny"
[component.config]
input_size = 64
[trainer]
max_steps = 2
batch_size = 4
eval_every = 2
device = "cpu"
progress = false
plot = false
[data]
train = "xuframe_plugins.ttfnet.training:shapes_train_loader"
train_args = { n_images = 8, image_size = 64, batch_size = 4 }
eval = "xuframe_plugins.ttfnet.training:shapes_val_loader"
eval_args = { n_images = 4, image_size = 64, batch_size = 4 }
[eval]
metrics = ["xuframe_plugins.ttfnet.training:coco_evaluator"]
"""
    )
    train_run(run, run_dir=tmp_path / "out")
    rows = [r for r in read_metrics(tmp_path / "out" / "metrics.jsonl") if "eval/AP50" in r]
    assert rows and 0.0 <= rows[-1]["eval/AP50"] <= 1.0


@pytest.mark.parametrize("name", ["ttfnet-tiny", "ttfnet-r18"])
@pytest.mark.parametrize("key", ["num_classes", "width", "head_conv", "wh_conv"])
def test_weights_too_large_for_memory_are_refused_before_they_are_made(name, key):
    with pytest.raises(xuframe.errors.ConfigError, match="the weights .* memory"):
        xuframe.create("detector", name, **{key: 10**9})


def test_images_whose_feature_maps_exceed_memory_are_refused(tiny, monkeypatch):
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(64 * 64 * 4 * 4))  # width 16: 4 floats a pixel
    assert len(tiny.predict(torch.zeros(1, 3, 64, 64))) == 1
    with pytest.raises(InputError, match="2 images of 64 x 64 would need"):
        tiny.predict(torch.zeros(2, 3, 64, 64))
