"""The demo pictures: shapes, colours, bad input, and `xuframe demo --out` writing them."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from xuframe import DemoResult
from xuframe.cli import main
from xuframe.errors import InputError
from xuframe.pictures import PALETTE, bar_picture, image_grid, scatter_picture


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
    ],
)
def test_bad_pictures_are_named(call):
    with pytest.raises(InputError):
        call()


def test_demo_out_writes_one_png_per_demo(tmp_path):
    out = io.StringIO()
    assert main(["demo", "kmeans", "--out", str(tmp_path)], out=out) == 0
    (written,) = tmp_path.iterdir()
    assert written.name == "solver-kmeans.png"
    assert f"[wrote{written}]" in "".join(out.getvalue().split())  # the row names the file
    picture = np.asarray(Image.open(written))
    assert picture.shape == (480, 480, 3) and len({tuple(c) for c in picture.reshape(-1, 3)}) > 4
