from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.data import ShapesDataset, collate_detection
from xuframe.errors import InputError
from xuframe.types import Boxes2D
from xuframe_plugins.ttfnet import ModulatedDeformConv2d, decode_boxes, encode_targets, focal_loss


@st.composite
def image_boxes(draw):
    size = draw(st.sampled_from([64, 96, 128]))
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        w = draw(st.floats(1, size))
        h = draw(st.floats(1, size))
        x = draw(st.floats(0, size - w))
        y = draw(st.floats(0, size - h))
        rows.append((x, y, x + w, y + h))
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return size, torch.tensor(rows, dtype=torch.float32), labels


@settings(max_examples=60, deadline=None)
@given(image_boxes(), st.sampled_from([0.0, 0.3, 0.54, 1.0]))
def test_every_box_peaks_at_its_centre_and_nothing_exceeds_one(case, beta):
    size, boxes, labels = case
    heat, target, weight = encode_targets(boxes, labels, 3, (size // 4, size // 4), 4, 0.54, beta)
    assert heat.max() <= 1.0 and heat.min() >= 0.0
    for box, label in zip(boxes, labels, strict=True):
        cx = min(int(((box[0] + box[2]) / 2 / 4).floor()), size // 4 - 1)
        cy = min(int(((box[1] + box[3]) / 2 / 4).floor()), size // 4 - 1)
        assert heat[label, cy, cx] == 1.0
    # the peaks are exactly the centres: no cell other than a box centre reaches 1
    centres = {
        (
            int(lab),
            min(int(((b[1] + b[3]) / 8).floor()), size // 4 - 1),
            min(int(((b[0] + b[2]) / 8).floor()), size // 4 - 1),
        )
        for b, lab in zip(boxes, labels, strict=True)
    }
    ones = {tuple(int(v) for v in idx) for idx in (heat == 1).nonzero()}
    assert ones == centres
    # weights: each sample region sums to log(area) of the box that owns it (smaller ones win)
    assert (weight >= 0).all() and bool(((weight > 0) == (target[0] >= 0)).all())


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
    assert torch.equal(target[:, 8, 8], small[0])  # the shared centre belongs to the small box
    sample = weight[target[0] == 24.0]
    assert sample.sum().item() == pytest.approx(math.log(16 * 16), rel=1e-5)


def test_empty_and_degenerate_boxes_give_finite_losses():
    model = xuframe.create("detector", "ttfnet-tiny")
    batch = model.example_batch(2)
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
    with pytest.raises(InputError, match="labels must lie"):
        model.loss(batch)


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
