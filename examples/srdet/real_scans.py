"""SRDet and VoteNet, trained only on synthetic rooms, on the real ScanNet scene and SUN RGB-D frame.

    python examples/srdet/real_scans.py [--data ../shared/data/real] [--out real_scans.png]

Loads both detectors with their shipped ``synthetic`` weights (trained minutes on a CPU on
``IndoorScenes``; see ``examples/srdet/train_rooms.py``), predicts on ``scannet/scene0000_00``
and ``sunrgbd/000017`` of the real-data folder, and scores the detections against the labelled
boxes of the classes the synthetic rooms know (matched by name: ScanNet's ``bed``, ``table``,
``chair``, ``sofa``, ``desk``, ``bookshelf``, ``cabinet``, ``toilet``, ``bathtub``; SUN RGB-D's
``night_stand`` too; other labelled boxes are left out of the score). It prints, per scene and
model, how many of those boxes a same-class detection covers at 3-D IoU 0.25, and the indoor
mAP@0.25 over the classes present; and writes a picture: one top view per scene (rows) and
model (columns), ground truth in green. The rooms the models were trained on are synthetic, so
the numbers measure how far that carries to real scans, not what the methods reach when
trained on ScanNet.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import xuframe
from xuframe.data import IndoorScene, read_scannet, read_sunrgbd
from xuframe.metrics import indoor_map
from xuframe.ops import boxes3d_iou
from xuframe.pictures import annotate
from xuframe.types import Boxes3D


def known_boxes(scene: IndoorScene, classes: list[str]) -> tuple[Boxes3D, torch.Tensor]:
    """The scene's boxes of classes the synthetic rooms know, with labels into ``classes``."""
    names = [scene.classes[int(k)] for k in scene.labels]
    keep = [i for i, n in enumerate(names) if n in classes]
    labels = torch.tensor([classes.index(names[i]) for i in keep], dtype=torch.int64)
    return Boxes3D(scene.boxes.tensor[keep]), labels


def covered(found: object, boxes: Boxes3D, labels: torch.Tensor, iou: float = 0.25) -> int:
    """How many ``boxes`` a detection of the same class overlaps by more than ``iou`` (3-D)."""
    geometry = found.geometry  # type: ignore[attr-defined]
    if len(boxes) == 0 or len(geometry) == 0:
        return 0
    overlap = boxes3d_iou(boxes.tensor.double(), geometry.tensor.double())
    same = labels[:, None] == found.labels[None, :]  # type: ignore[attr-defined]
    return int(((overlap > iou) & same).any(1).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/real", help="the real-data folder")
    parser.add_argument("--out", default="real_scans.png", help="picture")
    parser.add_argument("--min-score", type=float, default=0.2, help="drawn detections")
    args = parser.parse_args()
    root = Path(args.data)
    if not (root / "scannet" / "scene0000_00").is_dir():
        sys.exit(f"{root}/scannet/scene0000_00 not found: pass --data <the real-data folder>")
    from PIL import Image

    from xuframe_plugins.srdet.demo import top_view

    scenes = {
        "ScanNet scene0000_00": read_scannet(root / "scannet" / "scene0000_00"),
        "SUN RGB-D 000017": read_sunrgbd(root / "sunrgbd" / "000017"),
    }
    models = {
        name: xuframe.create("detector", name, weights="synthetic").eval()
        for name in ("srdet", "votenet")
    }
    rows = []
    print(f"{'scene':22} {'model':8} {'boxes':>5} {'covered@0.25':>12} {'mAP@0.25':>9} {'s':>6}")
    for title, scene in scenes.items():
        row = []
        for name, model in models.items():
            classes = list(model.config.classes)
            boxes, labels = known_boxes(scene, classes)
            start = time.perf_counter()
            with torch.no_grad():
                found = model.predict([scene.points])[0]
            seconds = time.perf_counter() - start
            score = indoor_map(
                [{"boxes": boxes, "labels": labels}], [found], (0.25,), n_classes=len(classes)
            ).as_dict(classes)
            print(f"{title:22} {name:8} {len(boxes):5d} "
                  f"{covered(found, boxes, labels):>8d}/{len(boxes):<3d} "
                  f"{score['mAP@0.25']:9.3f} {seconds:6.2f}")  # fmt: skip
            view = top_view(scene.points, boxes, found, classes, min_score=args.min_score)
            n = covered(found, boxes, labels)
            row.append(annotate(view, title=f"{name} on {title}: {n}/{len(boxes)} boxes found"))
        rows.append(row)
    width = max(sum(v.shape[1] for v in row) for row in rows)
    height = sum(max(v.shape[0] for v in row) for row in rows)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    y = 0
    for row in rows:
        x = 0
        for view in row:
            canvas[y : y + view.shape[0], x : x + view.shape[1]] = view
            x += view.shape[1]
        y += max(v.shape[0] for v in row)
    Image.fromarray(canvas).save(args.out)
    print(f"wrote {args.out} (rows: {', '.join(scenes)}; columns: {', '.join(models)})")


if __name__ == "__main__":
    main()
