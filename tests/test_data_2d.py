"""2-D detection data (shapes, COCO reader/writer, transforms, collation) and COCO mAP."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.data import (
    SHAPE_CLASSES,
    CocoDetection,
    ColorJitter,
    Compose,
    Normalize,
    RandomFlip,
    Resize,
    ShapesDataset,
    collate_detection,
)
from xuframe.errors import InputError
from xuframe.metrics import coco_map, write_coco_results
from xuframe.types import Boxes2D, Detections


def test_shapes_are_seeded_valid_and_varied():
    a, b = ShapesDataset(40, 96, seed=3), ShapesDataset(40, 96, seed=3)
    torch.testing.assert_close(a[7]["image"], b[7]["image"])
    assert not torch.equal(a[7]["image"], ShapesDataset(40, 96, seed=4)[7]["image"])
    assert not torch.equal(a[7]["image"], ShapesDataset(40, 96, seed=3, split="val")[7]["image"])
    boxes = torch.cat([a[i]["boxes"].tensor for i in range(40)])
    labels = torch.cat([a[i]["labels"] for i in range(40)])
    assert bool((boxes >= 0).all() and (boxes <= 96).all())
    wh = boxes[:, 2:] - boxes[:, :2]
    assert wh.min() >= 6 and wh.max() > 40  # many sizes
    assert (wh[:, 0] / wh[:, 1]).max() > 2 and (wh[:, 0] / wh[:, 1]).min() < 0.5  # many aspects
    assert set(labels.tolist()) == set(range(len(SHAPE_CLASSES)))
    image = a[0]["image"]
    assert (
        image.dtype == torch.float32
        and image.shape == (3, 96, 96)
        and 0 <= image.min() <= image.max() <= 1
    )


def test_a_shape_is_drawn_inside_its_box():
    """The object's pixels differ from the background inside the box, so the box is learnable."""
    data = ShapesDataset(20, 64, seed=1, max_objects=1)
    for i in range(20):
        s = data[i]
        x1, y1, x2, y2 = (int(v) for v in s["boxes"].tensor[0].tolist())
        inside = s["image"][:, y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
        if inside.numel():
            centre = s["image"][:, (y1 + y2) // 2, (x1 + x2) // 2]
            # the centre of every shape class is filled with one colour
            assert (inside - centre[:, None, None]).abs().flatten(1).min(1).values.max() < 0.05


def test_coco_round_trip(tmp_path):
    data = ShapesDataset(6, 64, seed=2)
    path = data.write_coco(tmp_path)
    coco = CocoDetection(path, tmp_path)
    assert len(coco) == 6 and coco.class_names == list(SHAPE_CLASSES)
    for i in range(6):
        got, want = coco[i], data[i]
        torch.testing.assert_close(got["boxes"].tensor, want["boxes"].tensor)
        assert torch.equal(got["labels"], want["labels"])
        assert (got["image"] - want["image"]).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit PNG


def test_coco_reader_handles_awkward_annotations(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    from PIL import Image

    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    Image.new("RGB", (20, 10)).save(tmp_path / "b.png")
    ann = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 20, "height": 10},
            {"id": 2, "file_name": "b.png", "width": 20, "height": 10},
        ],
        "categories": [{"id": 7, "name": "x"}, {"id": 3, "name": "y"}],
        "annotations": [
            {"image_id": 1, "category_id": 7, "bbox": [2, 2, 4, 4]},
            {"image_id": 1, "category_id": 3, "bbox": [5, 5, 0, 3]},  # zero width: dropped
            {"image_id": 1, "category_id": 3, "bbox": [15, 5, 10, 10], "iscrowd": 1},  # clipped
            {"image_id": 1, "category_id": 7, "bbox": [30, 30, 5, 5]},  # outside: dropped
        ],
    }
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    coco = CocoDetection(tmp_path / "ann.json", tmp_path)
    s = coco[0]
    assert s["boxes"].tensor.tolist() == [[2, 2, 6, 6], [15, 5, 20, 10]]
    assert s["labels"].tolist() == [1, 0]  # category 7 is the second by id
    assert s["crowd"].tolist() == [False, True]
    assert len(coco[1]["boxes"]) == 0  # an image without annotations
    del ann["annotations"][0]["bbox"]
    (tmp_path / "bad.json").write_text(json.dumps(ann))
    with pytest.raises(InputError, match="missing field 'bbox'"):
        CocoDetection(tmp_path / "bad.json", tmp_path)
    (tmp_path / "bad2.json").write_text(json.dumps({"images": []}))
    with pytest.raises(InputError, match="'annotations'"):
        CocoDetection(tmp_path / "bad2.json", tmp_path)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.integers(40, 200), st.integers(40, 200))
def test_transforms_keep_boxes_on_their_objects(seed, height, width):
    """Resize and flip move the boxes with the pixels: the mean colour inside each box survives."""
    torch.manual_seed(seed)
    s = ShapesDataset(1, 64, seed=seed, max_objects=1)[0]
    out = Compose([Resize(height, width), RandomFlip(1.0)])(s)
    assert out["image"].shape == (3, height, width)
    sx, sy = width / 64, height / 64
    x1, y1, x2, y2 = s["boxes"].tensor[0].tolist()
    want = torch.tensor([width - x2 * sx, y1 * sy, width - x1 * sx, y2 * sy])
    torch.testing.assert_close(out["boxes"].tensor[0], want)
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    bx, by = int((want[0] + want[2]) / 2), int((want[1] + want[3]) / 2)
    assert (out["image"][:, by, bx] - s["image"][:, cy, cx]).abs().max() < 0.1


def test_jitter_and_normalise():
    torch.manual_seed(0)
    s = ShapesDataset(1, 64, seed=0)[0]
    j = ColorJitter(0.4, 0.4, 0.4)(s)
    assert (
        j["image"].min() >= 0 and j["image"].max() <= 1 and not torch.equal(j["image"], s["image"])
    )
    assert torch.equal(j["boxes"].tensor, s["boxes"].tensor)
    n = Normalize()(s)
    torch.testing.assert_close(n["image"][0], (s["image"][0] - 0.485) / 0.229)


def test_collate_checks_and_stacks():
    data = ShapesDataset(3, 64, seed=0)
    batch = collate_detection([data[i] for i in range(3)])
    assert batch["inputs"].shape == (3, 3, 64, 64) and len(batch["boxes"]) == 3
    with pytest.raises(InputError, match="Resize"):
        collate_detection([data[0], Resize(32, 32)(data[1])])
    with pytest.raises(InputError, match=r"\(3, H, W\)"):
        collate_detection([{**data[0], "image": torch.zeros(64, 64)}])
    with pytest.raises(InputError, match="floating point"):
        collate_detection([{**data[0], "image": torch.zeros(3, 64, 64, dtype=torch.uint8)}])


def fixed_detections():
    """A fixed, deliberately messy detection set: hits, misses, duplicates, crowd, empty images."""
    rng = np.random.default_rng(0)
    targets, predictions = [], []
    for i in range(12):
        n = int(rng.integers(0, 5))
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(4, 120, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1)
        labels = rng.integers(0, 3, n)
        crowd = rng.random(n) < 0.1
        targets.append(
            {
                "boxes": Boxes2D(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
                "labels": torch.tensor(labels),
                "crowd": torch.tensor(crowd),
                "image_id": 100 + i,
            }
        )
        noisy = boxes + rng.normal(0, 6, boxes.shape)
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 1)
        extra = rng.uniform(0, 200, (3, 2))
        extra = np.concatenate([extra, extra + 30], 1)
        pred_boxes = np.concatenate([noisy, noisy[:1], extra]) if n else extra
        pred_labels = (
            np.concatenate([labels, labels[:1], rng.integers(0, 3, 3)])
            if n
            else rng.integers(0, 3, 3)
        )
        scores = rng.uniform(0.01, 1, len(pred_boxes))
        predictions.append(
            Detections(
                Boxes2D(torch.tensor(pred_boxes, dtype=torch.float32)),
                torch.tensor(scores, dtype=torch.float32),
                torch.tensor(pred_labels),
            )
        )
    return predictions, targets


def test_coco_map_equals_pycocotools(tmp_path):
    pytest.importorskip("faster_coco_eval")
    cocotools = pytest.importorskip("pycocotools.cocoeval")
    from pycocotools.coco import COCO

    predictions, targets = fixed_detections()
    ours = coco_map(predictions, targets, n_classes=3)
    gt_path = tmp_path / "gt.json"
    from xuframe.metrics import coco_ground_truth

    gt_path.write_text(json.dumps(coco_ground_truth(targets, 3)))
    results = write_coco_results(
        tmp_path / "dt.json", predictions, [t["image_id"] for t in targets]
    )
    gt = COCO(str(gt_path))
    ev = cocotools.COCOeval(gt, gt.loadRes(str(results)), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert 0.05 < ours["AP"] < 0.95  # a set that exercises the metric, not a trivial one
    for name, value in zip(("AP", "AP50", "AP75", "APs", "APm", "APl"), ev.stats[:6], strict=True):
        assert ours[name] == pytest.approx(float(value), abs=1e-6), name


def test_coco_map_perfect_and_empty():
    pytest.importorskip("faster_coco_eval")
    _, targets = fixed_detections()
    perfect = [Detections(t["boxes"], torch.ones(len(t["boxes"])), t["labels"]) for t in targets]
    assert coco_map(perfect, targets, 3)["AP50"] == pytest.approx(1.0)
    empty = [Detections.empty(Boxes2D) for _ in targets]
    assert coco_map(empty, targets, 3)["AP"] == 0.0
    with pytest.raises(InputError, match="predictions for"):
        coco_map(perfect[:2], targets, 3)
