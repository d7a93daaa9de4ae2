"""PI-RCNN and PointRCNN, trained on synthetic scenes, on a real KITTI frame.

    python examples/pircnn/real_frame.py [--kitti ../shared/data/real/kitti/training]
        [--frame 000008] [--out pircnn_real.jpg]

Loads the shipped ``synthetic`` weights of ``pircnn`` and ``pointrcnn`` (the small configs,
30 x 30 m in front of the sensor; see ``examples/pircnn/train_scenes.py``), runs PI-RCNN's
segmentation network on the frame's real camera image and both detectors on its real scan,
and counts the labelled cars each finds: a car detection scoring at least ``--min-score``
whose BEV IoU with the car is at least 0.5, each detection used once. Labelled cars outside
the models' range are counted apart. The picture: the camera image with the labelled boxes
(green) and PI-RCNN's detections projected into it, the segmenter's classes, and the top view
of both detectors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

import xuframe
from xuframe.data import KittiDataset, collate_lidar, project_points
from xuframe.ops import bev_iou
from xuframe.types import Boxes3D
from xuframe_plugins.denfi.demo import bev_picture
from xuframe_plugins.pircnn.demo import segmentation_picture

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "kitti"
# the 12 edges of a box by its corners' order (Boxes3D.corners: 4 bottom, then 4 top)
EDGES = [(i, (i + 1) % 4) for i in range(4)] + [(i + 4, (i + 1) % 4 + 4) for i in range(4)]
EDGES += [(i, i + 4) for i in range(4)]


def cars_found(truth: torch.Tensor, found: torch.Tensor) -> int:
    """How many boxes of ``truth`` ``(N, 7)`` a box of ``found`` ``(M, 7)`` (best first)
    matches at BEV IoU >= 0.5, each used once."""
    if not len(truth) or not len(found):
        return 0
    iou = bev_iou(truth[:, [0, 1, 3, 4, 6]].double(), found[:, [0, 1, 3, 4, 6]].double())
    used: set[int] = set()
    for row in iou:
        free = [j for j in row.argsort(descending=True).tolist() if j not in used]
        if free and row[free[0]] >= 0.5:
            used.add(free[0])
    return len(used)


def draw_boxes(
    image: Image.Image, boxes: torch.Tensor, calib: Any, colour: tuple[int, ...]
) -> None:
    """Draw ``boxes`` ``(N, 7)`` (LiDAR frame) projected into camera 2; boxes with a corner
    behind the camera are left out."""
    draw = ImageDraw.Draw(image)
    for corners in Boxes3D(boxes).corners():
        projection = project_points(corners.double(), calib, image_size=image.size)
        if bool((projection.depth <= 0.1).any()):
            continue
        uv = projection.uv.tolist()
        for a, b in EDGES:
            draw.line([tuple(uv[a]), tuple(uv[b])], fill=colour, width=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kitti", default=str(REAL / "training"), help="a KITTI-layout folder")
    parser.add_argument("--frame", default="000008")
    parser.add_argument("--min-score", type=float, default=0.3)
    parser.add_argument("--out", default="pircnn_real.jpg")
    args = parser.parse_args()

    data = KittiDataset(args.kitti, images=True)
    if args.frame not in data.frames:
        parser.error(f"--frame: {args.frame} is not in {args.kitti} (it holds {data.frames})")
    sample = data[data.frames.index(args.frame)]
    batch = collate_lidar([sample])
    cars = sample["boxes"].tensor[sample["labels"] == 0]
    pircnn = xuframe.create("detector", "pircnn", weights="synthetic")
    pointrcnn = xuframe.create("detector", "pointrcnn", weights="synthetic")
    x0, y0, _, x1, y1, _ = pircnn.config.point_range
    centre = cars[:, :2]
    in_range = (centre[:, 0] >= x0) & (centre[:, 0] < x1) & (centre[:, 1] >= y0)
    in_range &= centre[:, 1] < y1
    print(
        f"frame {args.frame}: {len(sample['points'])} points, {len(cars)} labelled cars, "
        f"{int(in_range.sum())} of them inside the models' range {[x0, y0, x1, y1]} m"
    )

    found: dict[str, Any] = {}
    with torch.no_grad():
        found["pircnn"] = pircnn.predict(pircnn.inputs_of(batch))[0]
        found["pointrcnn"] = pointrcnn.predict(batch["inputs"])[0]
    for name, dets in found.items():
        dets = dets[dets.scores >= args.min_score]
        found[name] = dets
        mine = dets.geometry.tensor[dets.labels == 0]
        hits = cars_found(cars, mine)
        print(
            f"{name}: {len(dets)} detections scoring >= {args.min_score} ({len(mine)} cars); "
            f"found {hits} of {len(cars)} labelled cars at BEV IoU 0.5 "
            f"({cars_found(cars[in_range], mine)} of the {int(in_range.sum())} in range)"
        )

    frame = pircnn.inputs_of(batch)[0]
    photo = Image.fromarray((frame.image.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    draw_boxes(photo, cars, sample["calib"], (0, 200, 0))
    draw_boxes(photo, found["pircnn"].geometry.tensor, sample["calib"], (230, 40, 40))
    segmentation = segmentation_picture(pircnn, frame)[photo.height :]  # the classes only
    tops = [
        bev_picture(sample["points"], Boxes3D(cars), found[name], pircnn.config.point_range, 16.0)
        for name in ("pircnn", "pointrcnn")
    ]
    top = np.concatenate([tops[0], np.full((tops[0].shape[0], 8, 3), 255, np.uint8), tops[1]], 1)
    width = photo.width
    rows = [np.asarray(photo), segmentation]
    scale = width / top.shape[1]
    top = np.asarray(Image.fromarray(top).resize((width, round(top.shape[0] * scale))))
    rows.append(top)
    Image.fromarray(np.concatenate(rows, 0)).save(args.out, quality=90)
    print(
        f"wrote {args.out}: the image with labelled cars (green) and PI-RCNN's detections "
        "(red); the segmenter's classes; top views of PI-RCNN (left) and PointRCNN (right)"
    )


if __name__ == "__main__":
    main()
