"""The demo pictures: shapes, colours, bad input, and `xuframe demo --out` writing them."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import xuframe
from xuframe import DemoResult
from xuframe.cli import main
from xuframe.errors import InputError
from xuframe.pictures import PALETTE, annotate, bar_picture, image_grid, scatter_picture


def test_image_grid_tiles_scales_and_maps_the_value_range():
    images = torch.stack([torch.full((1, 2, 3), v) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, columns=2, scale=2, gap=1)
    assert grid.dtype == np.uint8 and grid.shape == (2 * (4 + 1) + 1, 2 * (6 + 1) + 1, 3)
    assert (grid[1:5, 1:7] == 0).all() and (grid[1:5, 8:14] == 128).all()
    assert (grid[6:10, 1:7] == 255).all() and (grid[6:10, 8:14] == 255).all()  # empty slot


def test_scatter_picture_colours_each_label():
    points = np.array([[0.0, 0.0], [1.0, 1.0]])
    picture = scatter_picture(points, [0, 3], size=100, radius=3)
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert {PALETTE[0], PALETTE[3], (255, 255, 255)} <= colours
    # y points up: the second point is drawn top right
    assert tuple(picture[12, 88]) == PALETTE[3] and tuple(picture[88, 12]) == PALETTE[0]


def test_bar_picture_draws_longer_bars_for_larger_values():
    picture = bar_picture({"a": 1.0, "b": 0.5}, width=300, bar=10)
    first = (picture[6 + 5] == PALETTE[0]).all(axis=1).sum()
    second = (picture[6 + 16 + 5] == PALETTE[1]).all(axis=1).sum()
    assert first > 1.8 * second > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: image_grid(torch.zeros(2, 2, 4, 4)),
        lambda: image_grid(torch.zeros(0, 1, 4, 4)),
        lambda: scatter_picture(np.zeros((3, 1))),
        lambda: scatter_picture(np.array([[0.0, np.nan]])),
        lambda: scatter_picture(np.zeros((3, 2)), [0, 1]),
        lambda: bar_picture({}),
        lambda: bar_picture({"a": float("nan")}),
        lambda: DemoResult({"a": 1.0}, picture=np.zeros((4, 4, 3))),  # float, not uint8
        lambda: DemoResult({"a": 1.0}, picture=np.zeros((4, 4), np.uint8)),
        lambda: DemoResult({"a": 1.0}, headline="b"),
        lambda: annotate(np.zeros((4, 4, 3)), title="float, not uint8"),
        lambda: annotate(np.zeros((4, 4), np.uint8), title="no channels"),
        lambda: annotate(np.zeros((4, 4, 3), np.uint8), legend={"a": (0, 0)}),
        lambda: annotate(np.zeros((4, 4, 3), np.uint8), legend={"a": (0, 0, 256)}),
        lambda: annotate(np.zeros((4, 4, 3), np.uint8), legend={"a": "red"}),
    ],
)
def test_bad_pictures_are_named(call):
    with pytest.raises(InputError):
        call()


def _has_block(picture: np.ndarray, block: np.ndarray) -> bool:
    """Whether ``block`` appears in ``picture``, pixel for pixel."""
    h, w = block.shape[:2]
    for y in range(picture.shape[0] - h + 1):
        for x in range(picture.shape[1] - w + 1):
            if np.array_equal(picture[y : y + h, x : x + w], block):
                return True
    return False


def test_annotate_adds_a_title_a_caption_and_a_legend_around_the_picture():
    picture = np.full((40, 60, 3), 90, np.uint8)
    assert annotate(picture) is picture  # nothing to add
    titled = annotate(picture, title="kmeans", caption="4 blobs, " * 40, min_width=200)
    assert titled.dtype == np.uint8 and titled.shape[1] == 200  # widened for the caption
    assert titled.shape[0] > 40 + 4 * 12  # title, then the long caption on several lines
    assert _has_block(titled[:, :, 0], picture[:, :, 0])  # the picture itself, untouched
    assert (titled[:4] == 255).all()  # a white margin above the title
    legend = {"ground truth": (0, 160, 0), "detected Car": PALETTE[3]}
    framed = annotate(picture, legend=legend, min_width=0)
    assert framed.shape[1] == 60  # the legend wraps to the width of the picture
    assert framed.shape[0] > 40 and (framed[:40] == picture).all()  # the legend goes below
    colours = {tuple(c) for c in framed[40:].reshape(-1, 3)}
    assert {(0, 160, 0), PALETTE[3], (0, 0, 0)} <= colours  # the swatches and their names


def test_demo_out_writes_one_titled_png_per_demo(tmp_path):
    """Was: the PNG held the bare scatter plot; a reader of the file alone could not tell which
    method made it, or what it shows. Now the component and the demo's summary head it."""
    out = io.StringIO()
    assert main(["demo", "kmeans", "--out", str(tmp_path)], out=out) == 0
    (written,) = tmp_path.iterdir()
    assert written.name == "solver-kmeans.png"
    assert f"[wrote{written}]" in "".join(out.getvalue().split())  # the row names the file
    picture = np.asarray(Image.open(written))
    bare = xuframe.get_component_class("solver", "kmeans").demo().picture
    assert bare.shape == (480, 480, 3)
    assert picture.shape[1] == 480 and picture.shape[0] > 480 + 30  # the title and the caption
    assert np.array_equal(picture[-480:], bare)  # under them, the demo's own picture
    assert (picture[: picture.shape[0] - 480] < 100).all(axis=2).sum() > 200  # dark text


def test_the_bev_picture_has_a_legend_and_one_colour_per_detected_class():
    """Was: green and red boxes with no legend, every class in the same red; a reader could not
    tell truth from detection, nor a car from a cyclist."""
    from xuframe.types import Boxes3D, Detections, PointCloud
    from xuframe_plugins.denfi.demo import bev_picture

    points = PointCloud(torch.tensor([[10.0, 0.0, 0.0], [20.0, 5.0, 0.0]]))
    truth = Boxes3D(torch.tensor([[11.0, 1.0, 0.0, 4.0, 2.0, 1.5, 0.0]]))
    boxes = torch.tensor(
        [[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0], [20.0, 5.0, 0.0, 1.8, 0.6, 1.7, 0.0]]
    )
    found = Detections(Boxes3D(boxes), torch.tensor([0.9, 0.8]), torch.tensor([0, 2]))
    picture = bev_picture(points, truth, found, (0.0, -20.0, -3.0, 40.0, 20.0, 1.0))
    bev_height = 40 * 8
    assert picture.dtype == np.uint8 and picture.shape[0] > bev_height + 12  # a legend below
    assert picture.shape[1] == 40 * 8
    inside = {tuple(c) for c in picture[:bev_height].reshape(-1, 3)}
    legend = {tuple(c) for c in picture[bev_height:].reshape(-1, 3)}
    car, cyclist = PALETTE[3], PALETTE[1]
    assert {(0, 160, 0), car, cyclist} <= inside  # truth green, a red car, an orange cyclist
    assert {(0, 160, 0), car, PALETTE[0], cyclist} <= legend  # the pedestrian's too
    assert (np.asarray(picture[bev_height:]) < 60).all(axis=2).sum() > 100  # the names


def test_the_ttfnet_r18_demo_draws_its_detections(tmp_path):
    """Was: ttfnet-r18 (no shipped weights) wrote no picture with --out."""
    out = io.StringIO()
    assert main(["demo", "ttfnet-r18", "--out", str(tmp_path)], out=out) == 0
    (written,) = tmp_path.iterdir()
    assert written.name == "detector-ttfnet-r18.png"
    picture = np.asarray(Image.open(written))
    assert picture.shape[1] == 2 * 256 and picture.shape[0] > 256
    assert ((picture == (255, 230, 0)).all(axis=2)).sum() > 50  # the boxes, in yellow
