"""COCO-json detection datasets: read one (images via pillow) and write one.

Handling of awkward annotations, documented and tested: boxes with zero width or height are
dropped; boxes reaching outside the image are clipped to it (dropped if nothing is left);
``iscrowd`` is kept as the sample's ``crowd`` flags (COCO evaluation ignores detections matched
to them; training code usually skips them); images without annotations are kept (empty boxes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from xuframe.errors import InputError
from xuframe.types import Boxes2D

__all__ = ["CocoDetection", "write_coco"]

Sample = dict[str, Any]


def _require(record: dict[str, Any], keys: Sequence[str], where: str) -> None:
    for key in keys:
        if key not in record:
            raise InputError(f"{where}: missing field {key!r} (expected {', '.join(keys)})")


class CocoDetection:
    """A COCO detection file and its images: ``dataset[i]`` is a detection sample
    (see :mod:`xuframe.data`), labels are contiguous indices into :attr:`class_names`."""

    def __init__(
        self,
        annotation_file: str | os.PathLike[str],
        image_root: str | os.PathLike[str],
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        path = Path(annotation_file)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"CocoDetection: cannot read {path}: {err}") from err
        _require(data, ("images", "annotations", "categories"), str(path))
        for cat in data["categories"]:
            _require(cat, ("id", "name"), f"{path}: category")
        for img in data["images"]:
            _require(img, ("id", "file_name", "width", "height"), f"{path}: image")
        self.root = Path(image_root)
        self.transforms = transforms
        cats = sorted(data["categories"], key=lambda c: c["id"])
        self.category_ids = [int(c["id"]) for c in cats]
        self.class_names = [str(c["name"]) for c in cats]
        index = {cid: i for i, cid in enumerate(self.category_ids)}
        self.images = list(data["images"])
        known = {int(img["id"]) for img in self.images}
        self._annotations: dict[int, list[dict[str, Any]]] = {int(i["id"]): [] for i in self.images}
        for ann in data["annotations"]:
            _require(ann, ("image_id", "category_id", "bbox"), f"{path}: annotation")
            if int(ann["image_id"]) not in known:
                raise InputError(f"{path}: annotation for unknown image_id {ann['image_id']}")
            if int(ann["category_id"]) not in index:
                raise InputError(
                    f"{path}: annotation with unknown category_id {ann['category_id']}"
                )
            bbox = ann["bbox"]
            if len(bbox) != 4 or not all(np.isfinite(bbox)):
                raise InputError(f"{path}: annotation bbox must be 4 finite numbers, got {bbox}")
            self._annotations[int(ann["image_id"])].append(
                {**ann, "label": index[int(ann["category_id"])]}
            )

    def __len__(self) -> int:
        return len(self.images)

    def annotations(self, i: int) -> tuple[Boxes2D, torch.Tensor, torch.Tensor]:
        """Image ``i``'s boxes (clipped, degenerate ones dropped), labels and crowd flags."""
        info = self.images[i]
        w, h = float(info["width"]), float(info["height"])
        rows, labels, crowd = [], [], []
        for ann in self._annotations[int(info["id"])]:
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + bw, w), min(y + bh, h)
            if x2 <= x1 or y2 <= y1:
                continue  # zero-size, or entirely outside the image
            rows.append((x1, y1, x2, y2))
            labels.append(ann["label"])
            crowd.append(bool(ann.get("iscrowd", 0)))
        boxes = Boxes2D(torch.tensor(rows, dtype=torch.float32).reshape(-1, 4))
        return boxes, torch.tensor(labels, dtype=torch.int64), torch.tensor(crowd, dtype=torch.bool)

    def __getitem__(self, i: int) -> Sample:
        info = self.images[i]
        file = self.root / info["file_name"]
        try:
            with Image.open(file) as im:
                array = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except OSError as err:
            raise InputError(f"CocoDetection: cannot read image {file}: {err}") from err
        if array.shape[:2] != (int(info["height"]), int(info["width"])):
            raise InputError(
                f"CocoDetection: {file} is {array.shape[1]}x{array.shape[0]}, the json says "
                f"{info['width']}x{info['height']}"
            )
        boxes, labels, crowd = self.annotations(i)
        sample = {
            "image": torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0,
            "boxes": boxes,
            "labels": labels,
            "crowd": crowd,
            "image_id": int(info["id"]),
        }
        return self.transforms(sample) if self.transforms is not None else sample


def annotation_records(sample: Sample, image_id: int, first_id: int = 1) -> list[dict[str, Any]]:
    """COCO annotation records of one detection sample (category id = label + 1, bbox as
    x, y, width, height, area = box area, ``iscrowd`` from the sample's ``crowd`` flags)."""
    n = len(sample["boxes"])
    crowd = sample.get("crowd")
    flags = crowd.tolist() if crowd is not None else [False] * n
    records = []
    for k, (box, label) in enumerate(
        zip(sample["boxes"].tensor.tolist(), sample["labels"].tolist(), strict=True)
    ):
        x1, y1, x2, y2 = box
        records.append(
            {
                "id": first_id + k,
                "image_id": image_id,
                "category_id": int(label) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": int(bool(flags[k])),
            }
        )
    return records


def write_coco(
    directory: str | os.PathLike[str],
    samples: Sequence[Sample],
    class_names: Sequence[str],
    annotation_file: str = "instances.json",
) -> Path:
    """Write detection samples as ``directory/images/*.png`` plus a COCO json; returns its path.

    Category ids are ``1 .. C`` (label ``k`` is category ``k + 1``); each annotation's ``area``
    is its box area. The json is written to a temporary file and renamed, so a crash never
    leaves a half-written file.
    """
    root = Path(directory)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, sample in enumerate(samples):
        image_id = int(sample.get("image_id", i))
        name = f"images/{image_id:06d}.png"
        array = (sample["image"].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(array).save(root / name)
        h, w = array.shape[:2]
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        annotations += annotation_records(sample, image_id, first_id=len(annotations) + 1)
    categories = [{"id": k + 1, "name": n} for k, n in enumerate(class_names)]
    path = root / annotation_file
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    tmp.replace(path)
    return path
