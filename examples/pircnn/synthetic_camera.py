"""Draw one synthetic scene's camera: the image, its label map, and the LiDAR points on it.

Renders scene ``--scene`` of ``LidarScenes(seed=--seed, images=True)`` and writes a picture of
three rows: camera 2's image, the per-pixel classes (``SEMANTIC_CLASSES``, coloured as in the
legend row) and the image with every LiDAR point that lands in it, coloured by depth (red
near, blue far), after a random flip, rotation and scaling undone by ``project_points``.

    python examples/pircnn/synthetic_camera.py [--seed 0] [--scene 0] [--out synthetic_camera.png]

The picture in docs/detection-3d.md is ``--scene 1 --out docs/images/synthetic_camera.jpg``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from xuframe.data import (
    SEMANTIC_CLASSES,
    GlobalFlip,
    GlobalRotation,
    GlobalScale,
    LidarScenes,
    kitti_calibration,
    project_points,
)
from xuframe_plugins.pircnn.segmentation import SEMANTIC_PALETTE as PALETTE


def _depth_colour(depth: np.ndarray) -> np.ndarray:
    """Red (5 m) through green to blue (60 m)."""
    t = np.clip((np.log(depth) - math.log(5)) / (math.log(60) - math.log(5)), 0, 1)
    rgb = np.stack([1 - t, 1 - np.abs(2 * t - 1), t], 1)
    return np.asarray(rgb * 255, dtype=np.uint8)


def draw(seed: int = 0, scene: int = 0) -> Image.Image:
    """The three-row picture of scene ``scene`` of ``seed``."""
    s = LidarScenes(scene + 1, seed=seed, images=True)[scene]
    assert s.image is not None and s.semantic is not None
    image = (s.image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    labels = PALETTE[s.semantic.numpy()]
    # augment the points as training would, then project them with the augmentation undone
    torch.manual_seed(seed)
    sample = {"points": s.points, "boxes": s.boxes, "labels": s.labels}
    for step in (GlobalFlip(0.5), GlobalRotation(math.pi / 4), GlobalScale(0.9, 1.1)):
        sample = step(sample)
    proj = project_points(
        sample["points"].xyz, kitti_calibration(), augmentation=sample["augmentation"]
    )
    inside = proj.inside.numpy()
    order = np.argsort(-proj.depth.numpy()[inside])  # near points drawn last
    px = proj.pixels.numpy()[inside][order]
    colours = _depth_colour(proj.depth.numpy()[inside][order])
    points = (image * 0.45).astype(np.uint8)
    h, w = points.shape[:2]
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = np.minimum(px[:, 1] + dr, h - 1), np.minimum(px[:, 0] + dc, w - 1)
            points[r, c] = colours
    legend = Image.new("RGB", (w, 28), (255, 255, 255))
    pen = ImageDraw.Draw(legend)
    for k, name in enumerate(SEMANTIC_CLASSES):
        x = 8 + k * (w // len(SEMANTIC_CLASSES))
        pen.rectangle([x, 6, x + 16, 22], fill=tuple(int(v) for v in PALETTE[k]))
        pen.text((x + 22, 8), f"{k} {name}", fill=(0, 0, 0))
    canvas = Image.new("RGB", (w, 3 * h + 28 + 8), (255, 255, 255))
    canvas.paste(Image.fromarray(image), (0, 0))
    canvas.paste(Image.fromarray(labels), (0, h + 4))
    canvas.paste(legend, (0, 2 * h + 4))
    canvas.paste(Image.fromarray(points), (0, 2 * h + 28 + 8))
    return canvas


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scene", type=int, default=0)
    parser.add_argument("--out", default="synthetic_camera.png")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    picture = draw(args.seed, args.scene)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, quality=90)  # quality: for a .jpg (the docs' copy); PNG ignores it
    print(f"wrote {out} in {time.perf_counter() - start:.2f} s")
    return out


if __name__ == "__main__":
    main()
