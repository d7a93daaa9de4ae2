"""COCO-json detection datasets: read one (images via pillow) and write one.

Handling of awkward annotations, documented and tested: boxes with zero width or height are
dropped; boxes reaching outside the image are clipped to it (dropped if nothing is left);
``iscrowd`` is kept as the sample's ``crowd`` flags (COCO evaluation ignores detections matched
to them; training code usually skips them); images without annotations are kept (empty boxes).

Image and category ids are kept as the file gives them, integers or strings (mmdetection3d's
nuScenes converter writes hex tokens as image ids); a float with an integral value is read as
that integer. Fields the reader does not use (``bbox_cam3d``, ``attribute_id``, camera
matrices, ...) are ignored; the raw image records stay in :attr:`CocoDetection.images`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import torch
from PIL import Image

from xuframe._files import as_path, describe_start, read_text
from xuframe.data._detection import (
    ImageId,
    as_id,
    check_detection_sample,
    check_unique_ids,
    id_order,
    sample_image_id,
)
from xuframe.errors import InputError
from xuframe.types import Boxes2D

__all__ = ["CocoDetection", "write_coco"]

Sample = dict[str, Any]


def _require(record: Any, keys: Sequence[str], where: str) -> None:
    if not isinstance(record, dict):
        raise InputError(
            f"{where}: expected a json object with {', '.join(keys)}, got {type(record).__name__} "
            f"{_shown(record)}"
        )
    for key in keys:
        if key not in record:
            raise InputError(f"{where}: missing field {key!r} (expected {', '.join(keys)})")


_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _shown(value: Any) -> str:
    text = (
        json.dumps(value)
        if isinstance(value, (dict, list, str, int, float, type(None)))
        else repr(value)
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _records(data: dict[str, Any], key: str, where: str) -> list[Any]:
    """``data[key]``, which must be a json list."""
    value = data[key]
    if not isinstance(value, list):
        raise InputError(
            f"{where}: {key!r} must be a list of objects, got {type(value).__name__} {_shown(value)}"
        )
    return value


def _check_image(img: dict[str, Any], where: str) -> None:
    name = img["file_name"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: file_name must be a non-empty string, got {_shown(name)}")
    for key in ("width", "height"):
        size = img[key]
        integral = isinstance(size, int) or (isinstance(size, float) and size.is_integer())
        if isinstance(size, bool) or not integral or size < 1:
            raise InputError(f"{where}: {key} must be a positive integer, got {_shown(size)}")


def _unknown(kind: str, value: ImageId, known: set[ImageId]) -> str:
    """The message for a reference to an id that the file does not define."""
    message = f"annotation for unknown {kind} {value!r}"
    types = {type(v).__name__ for v in known}
    if known and type(value).__name__ not in types:
        message += (
            f" (a {type(value).__name__}; the file's {kind}s are {' and '.join(sorted(types))})"
        )
    return message


class CocoDetection:
    """A COCO detection file and its images: ``dataset[i]`` is a detection sample
    (see :mod:`xuframe.data`), labels are contiguous indices into :attr:`class_names`.

    :attr:`category_ids` and :attr:`class_names` list the categories in id order (integer ids
    first, then string ids); :attr:`images` holds the file's image records in file order.
    The sample's ``image_id`` is the file's id, an ``int`` or a ``str``.

    Raises :class:`InputError` when the file cannot be read, a required field is missing, an id
    is neither an int nor a str or appears twice, an annotation names an unknown image or
    category, a bbox is not four finite numbers, or (on ``dataset[i]``) the image file is
    missing or unreadable or its size disagrees with the json.
    """

    def __init__(
        self,
        annotation_file: str | os.PathLike[str],
        image_root: str | os.PathLike[str],
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        path = as_path(annotation_file, "a COCO annotation file (json)")
        image_folder = as_path(image_root, "the COCO image folder")
        text = read_text(path, "a COCO annotation file (json)")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(
                f"CocoDetection: {path} is not json: {err}; {describe_start(text.encode())}"
            ) from err
        if not isinstance(data, dict):
            raise InputError(
                f"CocoDetection: {path} holds a json {_JSON_TYPES.get(type(data), 'value')} "
                f"{_shown(data)}, expected an object "
                "with images, annotations and categories"
            )
        _require(data, ("images", "annotations", "categories"), str(path))
        categories = _records(data, "categories", str(path))
        images = _records(data, "images", str(path))
        annotations = _records(data, "annotations", str(path))
        for cat in categories:
            _require(cat, ("id", "name"), f"{path}: category")
        for img in images:
            _require(img, ("id", "file_name", "width", "height"), f"{path}: image")
            _check_image(img, f"{path}: image {_shown(img['id'])}")
        self.root = image_folder
        self.transforms = transforms
        cat_ids = [as_id(c["id"], f"{path}: category id") for c in categories]
        check_unique_ids(cat_ids, f"{path}: category")
        order = sorted(range(len(cat_ids)), key=lambda k: id_order(cat_ids[k]))
        self.category_ids: list[ImageId] = [cat_ids[k] for k in order]
        self.class_names = [str(categories[k]["name"]) for k in order]
        index = {cid: i for i, cid in enumerate(self.category_ids)}
        self.images = list(images)
        self._ids = [as_id(img["id"], f"{path}: image id") for img in self.images]
        check_unique_ids(self._ids, f"{path}: image")
        self._annotations: dict[ImageId, list[dict[str, Any]]] = {i: [] for i in self._ids}
        for ann in annotations:
            _require(ann, ("image_id", "category_id", "bbox"), f"{path}: annotation")
            image_id = as_id(ann["image_id"], f"{path}: annotation image_id")
            if image_id not in self._annotations:
                raise InputError(f"{path}: {_unknown('image_id', image_id, set(self._ids))}")
            category_id = as_id(ann["category_id"], f"{path}: annotation category_id")
            if category_id not in index:
                raise InputError(f"{path}: {_unknown('category_id', category_id, set(index))}")
            bbox = ann["bbox"]
            if not _finite_box(bbox):
                raise InputError(
                    f"{path}: annotation bbox: expected 4 finite numbers [x, y, w, h], got {_shown(bbox)}"
                )
            crowd = ann.get("iscrowd", 0)
            if not isinstance(crowd, (bool, int, float)) or crowd not in (0, 1):
                raise InputError(f"{path}: annotation iscrowd must be 0 or 1, got {_shown(crowd)}")
            self._annotations[image_id].append({**ann, "label": index[category_id]})

    def __len__(self) -> int:
        return len(self.images)

    def annotations(self, i: int) -> tuple[Boxes2D, torch.Tensor, torch.Tensor]:
        """Image ``i``'s boxes (clipped, degenerate ones dropped), labels and crowd flags."""
        info = self.images[i]
        w, h = float(info["width"]), float(info["height"])
        rows, labels, crowd = [], [], []
        for ann in self._annotations[self._ids[i]]:
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
        except (OSError, ValueError, SyntaxError) as err:  # PIL's kinds for a damaged image
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
            "image_id": self._ids[i],
        }
        return self.transforms(sample) if self.transforms is not None else sample


def _finite_box(bbox: object) -> bool:
    """Whether ``bbox`` is a list of four finite numbers."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return False
    return all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in bbox
    )


def annotation_records(
    sample: Sample, image_id: ImageId, first_id: int = 1
) -> list[dict[str, Any]]:
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
    is its box area. Image ids are the samples' ``image_id`` (their position when absent), kept
    as they are; an image is named ``images/<id>.png`` (an int id zero-padded to six digits, a
    str id percent-encoded). The json is written to a temporary file and renamed, so a crash
    never leaves a half-written file. Raises :class:`InputError` for an image id that is neither
    an int nor a str, or that appears twice.
    """
    root = as_path(directory, "a folder to write the COCO dataset to")
    if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence):
        raise InputError(
            f"write_coco: samples: expected a sequence of detection samples, got "
            f"{type(samples).__name__}"
        )
    for i, sample in enumerate(samples):
        check_detection_sample(sample, f"write_coco: samples[{i}]")
    if (
        isinstance(class_names, (str, bytes))
        or not isinstance(class_names, Sequence)
        or not all(isinstance(n, str) for n in class_names)
    ):
        raise InputError(
            f"write_coco: class_names: expected a sequence of class names (str), got "
            f"{class_names!r:.60}"
        )
    if not isinstance(annotation_file, str) or not annotation_file:
        raise InputError(
            f"write_coco: annotation_file: expected a file name (str), got {annotation_file!r}"
        )
    try:
        (root / "images").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"write_coco: cannot make {root / 'images'}: {exc.strerror or exc}"
        ) from exc
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    ids = [sample_image_id(s, i, f"write_coco: sample {i}") for i, s in enumerate(samples)]
    check_unique_ids(ids, "write_coco: image")
    names = [
        f"images/{v:06d}.png" if isinstance(v, int) else f"images/{quote(v, safe='')}.png"
        for v in ids
    ]
    owner: dict[str, ImageId] = {}
    for image_id, name in zip(ids, names, strict=True):
        if owner.setdefault(name, image_id) != image_id:
            raise InputError(
                f"write_coco: image ids {owner[name]!r} and {image_id!r} would both be written "
                f"as {name}"
            )
    for sample, image_id, name in zip(samples, ids, names, strict=True):
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
