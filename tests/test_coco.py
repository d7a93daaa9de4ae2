"""COCO evaluation and reading, checked against pycocotools: the metrics COCO leaves undefined
(-1), and COCO files with string image ids and extra fields (mmdetection3d's converters),
written here and read from the real files in ``../shared/data/real/coco``."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from xuframe.data import CocoDetection, collate_detection, write_coco
from xuframe.errors import InputError
from xuframe.metrics import COCO_METRICS, coco_ground_truth, coco_map, coco_results
from xuframe.types import Boxes2D, Detections

pytest.importorskip("faster_coco_eval")
cocoeval = pytest.importorskip("pycocotools.cocoeval")
pycoco = pytest.importorskip("pycocotools.coco")

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "coco"
needs_real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real COCO files are not here ({REAL})"
)


def reference(gt: dict, results: list[dict]) -> list[float]:
    """pycocotools' 12 box metrics. Its ``loadRes`` cannot take an empty list, so an empty
    result set is built directly, as a COCO object without annotations."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = pycoco.COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        else:
            coco_dt = pycoco.COCO()
            coco_dt.dataset = {
                "images": copy.deepcopy(gt["images"]),
                "annotations": [],
                "categories": copy.deepcopy(gt["categories"]),
            }
            coco_dt.createIndex()
        ev = cocoeval.COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats]


def against_pycocotools(predictions, targets, n_classes) -> tuple[list[float], list[float]]:
    ours = coco_map(predictions, targets, n_classes)
    assert list(ours) == list(COCO_METRICS)
    ids = [t.get("image_id", i) for i, t in enumerate(targets)]
    ref = reference(coco_ground_truth(targets, n_classes), coco_results(predictions, ids))
    return list(ours.values()), ref


def target(boxes, labels, crowd=None, image_id=None) -> dict:
    t = {
        "boxes": Boxes2D(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
        "labels": torch.tensor(labels, dtype=torch.int64).reshape(-1),
    }
    if crowd is not None:
        t["crowd"] = torch.tensor(crowd, dtype=torch.bool).reshape(-1)
    if image_id is not None:
        t["image_id"] = image_id
    return t


def dets(boxes=(), scores=(), labels=()) -> Detections:
    return Detections(
        Boxes2D(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
        torch.tensor(scores, dtype=torch.float32).reshape(-1),
        torch.tensor(labels, dtype=torch.int64).reshape(-1),
    )


U = -1.0  # COCO's "undefined"
BIG = [[10, 10, 200, 200]]  # 190 x 190 px: a large box
SMALL = [[0, 0, 20, 20]]  # 20 x 20 px: a small box

# (predictions, targets, n_classes, the 12 metrics pycocotools gives, in COCO_METRICS order)
UNDEFINED_CASES = {
    "one large box, no detections (issue 18)": (
        [dets()],
        [target(BIG, [0])],
        1,
        [0, 0, 0, U, U, 0, 0, 0, 0, U, U, 0],
    ),
    "no ground truth, no detections": (
        [dets(), dets()],
        [target([], []), target([], [])],
        2,
        [U] * 12,
    ),
    "no ground truth, detections": (
        [dets(SMALL, [0.9], [0])],
        [target([], [])],
        2,
        [U] * 12,
    ),
    "no images at all": ([], [], 3, [U] * 12),
    "crowd-only ground truth, no detections": (
        [dets()],
        [target(BIG, [0], [True])],
        1,
        [U] * 12,
    ),
    "crowd-only ground truth, a detection on it": (
        [dets(BIG, [0.9], [0])],
        [target(BIG, [0], [True])],
        1,
        [U] * 12,
    ),
    "crowd-only ground truth, a detection elsewhere": (
        [dets([[300, 300, 320, 320]], [0.9], [0])],
        [target(BIG, [0], [True])],
        1,
        [U] * 12,
    ),
    "a class without ground truth, detected": (
        [dets(BIG + SMALL, [0.9, 0.8], [0, 1])],
        [target(BIG, [0])],
        2,
        [1, 1, 1, U, U, 1, 1, 1, 1, U, U, 1],
    ),
    "a class without ground truth, not detected": (
        [dets(BIG, [0.9], [0])],
        [target(BIG, [0])],
        3,
        [1, 1, 1, U, U, 1, 1, 1, 1, U, U, 1],
    ),
    "one small box found": (
        [dets(SMALL, [0.9], [0])],
        [target(SMALL, [0])],
        1,
        [1, 1, 1, 1, U, U, 1, 1, 1, 1, U, U],
    ),
    "one class found, the other missed (empty detections of a class)": (
        [dets(SMALL, [0.9], [0])],
        [target(SMALL + BIG, [0, 1])],
        2,
        [0.5, 0.5, 0.5, 1, U, 0, 0.5, 0.5, 0.5, 1, U, 0],
    ),
    "crowd plus a missed real box": (
        [dets()],
        [target(SMALL + BIG, [0, 0], [False, True])],
        1,
        [0, 0, 0, 0, U, U, 0, 0, 0, 0, U, U],
    ),
}


@pytest.mark.parametrize("case", list(UNDEFINED_CASES), ids=list(UNDEFINED_CASES))
def test_undefined_metrics_are_minus_one_as_in_pycocotools(case):
    predictions, targets, n_classes, expected = UNDEFINED_CASES[case]
    ours, ref = against_pycocotools(predictions, targets, n_classes)
    assert ref == pytest.approx(expected, abs=1e-9)  # the table above is pycocotools' answer
    assert ours == pytest.approx(expected, abs=1e-9)


# --- random sets against pycocotools (hypothesis) ---------------------------------------------

SIDES = [4.0, 20.0, 31.0, 32.0, 33.0, 60.0, 96.0, 97.0, 150.0]  # across the 32 / 96 px edges


@st.composite
def detection_sets(draw):
    n_classes = draw(st.integers(1, 3))
    n_images = draw(st.integers(0, 4))
    string_ids = draw(st.booleans())
    id_pool = draw(
        st.lists(
            st.text("0123456789abcdef", min_size=1, max_size=6)
            if string_ids
            else st.integers(-5, 10**6),
            min_size=n_images,
            max_size=n_images,
            unique=True,
        )
    )
    scores = st.sampled_from([0.1, 0.5, 0.5, 0.9, 0.25, 0.75])  # ties across images happen
    predictions, targets = [], []
    for image_id in id_pool:
        n_gt = draw(st.integers(0, 3))
        gt_boxes = []
        for _ in range(n_gt):
            x, y = draw(st.integers(0, 300)), draw(st.integers(0, 300))
            w, h = draw(st.sampled_from(SIDES)), draw(st.sampled_from(SIDES))
            gt_boxes.append([x, y, x + w, y + h])
        labels = [draw(st.integers(0, n_classes - 1)) for _ in gt_boxes]
        crowd = [draw(st.booleans()) and draw(st.booleans()) for _ in gt_boxes]
        targets.append(target(gt_boxes, labels, crowd, image_id))
        boxes, sc, lab = [], [], []
        for k, box in enumerate(gt_boxes):
            if draw(st.booleans()):
                shift = draw(st.sampled_from([0.0, 1.0, 3.0, 8.0]))
                boxes.append([box[0] + shift, box[1], box[2] + shift, box[3]])
                sc.append(draw(scores))
                lab.append(
                    labels[k] if draw(st.integers(0, 4)) else draw(st.integers(0, n_classes - 1))
                )
        for _ in range(draw(st.integers(0, 2))):
            x, y = draw(st.integers(0, 300)), draw(st.integers(0, 300))
            s = draw(st.sampled_from(SIDES))
            boxes.append([x, y, x + s, y + s])
            sc.append(draw(scores))
            lab.append(draw(st.integers(0, n_classes - 1)))
        predictions.append(dets(boxes, sc, lab))
    return predictions, targets, n_classes


@given(detection_sets())
def test_coco_map_equals_pycocotools_on_random_sets(case):
    """Empty images, empty detection sets, crowd regions, classes without ground truth, boxes
    on the area edges, tied scores and string or int image ids: every metric as pycocotools."""
    ours, ref = against_pycocotools(*case)
    assert ours == pytest.approx(ref, abs=1e-6)


def test_string_and_int_ids_give_the_same_numbers():
    predictions = [dets(SMALL, [0.5], [0]), dets(BIG, [0.5], [0]), dets(SMALL, [0.5], [0])]
    targets = [target(SMALL, [0]), target(BIG, [0]), target([[50, 50, 70, 70]], [0])]
    as_ints = coco_map(predictions, [{**t, "image_id": k} for k, t in enumerate(targets)], 1)
    tokens = ["0a", "1b", "2c"]  # the same sorted order as 0, 1, 2
    as_str = coco_map(
        predictions, [{**t, "image_id": v} for v, t in zip(tokens, targets, strict=True)], 1
    )
    assert as_str == as_ints


def test_coco_map_refuses_bad_ids_and_labels():
    t = target(SMALL, [0])
    with pytest.raises(InputError, match="appears more than once"):
        coco_map([dets(), dets()], [{**t, "image_id": "a"}, {**t, "image_id": "a"}], 1)
    for bad in (1.5, [1], None, True):
        with pytest.raises(InputError, match="expected an id"):
            coco_map([dets()], [{**t, "image_id": bad}], 1)
    with pytest.raises(InputError, match=r"0 \.\. 0"):
        coco_map([dets()], [target(SMALL, [1])], 1)
    with pytest.raises(InputError, match="prediction 0"):
        coco_map([dets(SMALL, [0.5], [3])], [t], 1)
    with pytest.raises(InputError, match="expected a dict"):
        coco_map([dets()], [[1, 2]], 1)
    # integer-like ids (numpy, a tensor element as collate_detection gives, 7.0 from json)
    for ok in (np.int64(7), torch.tensor([7])[0], 7.0):
        assert coco_ground_truth([{**t, "image_id": ok}], 1)["images"][0]["id"] == 7


# --- COCO files with string image ids -------------------------------------------------------

TOKENS = ["e93e98b63d3b40209056d129dc53ceee", "020d7b4f858147558106c504f7f31bef"]


def write_mmdet3d_like(root: Path, with_second_image: bool = False) -> Path:
    """A small file as mmdetection3d's nuScenes mono3d converter writes it: hex-token image ids,
    category ids from 0, annotation ids from 0, extra per-image and per-annotation fields."""
    (root / "samples").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save(root / "samples" / "a.png")
    if with_second_image:
        Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(root / "samples" / "b.png")
    extra_image = {"token": "f00d", "cam_intrinsic": [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]}
    extra_ann = {
        "bbox_cam3d": [1.0, 2.0, 3.0, 1.5, 1.6, 3.9, 0.1],
        "velo_cam3d": [0.0, 0.0],
        "center2d": [10.0, 20.0, 3.0],
        "attribute_name": "vehicle.parked",
        "attribute_id": 6,
        "segmentation": [],
    }
    data = {
        "images": [
            {"file_name": "samples/a.png", "id": TOKENS[0], "width": 80, "height": 60, **extra_image},
            {"file_name": "samples/b.png", "id": TOKENS[1], "width": 80, "height": 60, **extra_image},
        ],
        "annotations": [
            {"file_name": "samples/a.png", "image_id": TOKENS[0], "area": 200.0, "category_name": "car",
             "category_id": 0, "bbox": [5.0, 5.0, 20.0, 10.0], "iscrowd": 0, "id": 0, **extra_ann},
            {"file_name": "samples/a.png", "image_id": TOKENS[0], "area": 1600.0, "category_name": "truck",
             "category_id": 1, "bbox": [30.0, 10.0, 40.0, 40.0], "iscrowd": 0, "id": 1, **extra_ann},
            {"file_name": "samples/b.png", "image_id": TOKENS[1], "area": 100.0, "category_name": "car",
             "category_id": 0, "bbox": [50.0, 40.0, 10.0, 10.0], "iscrowd": 0, "id": 2, **extra_ann},
        ],
        "categories": [{"id": 1, "name": "truck"}, {"id": 0, "name": "car"}],
    }  # fmt: skip
    path = root / "mono3d.coco.json"
    path.write_text(json.dumps(data))
    return path


def test_string_image_ids_are_read_and_kept(tmp_path):
    path = write_mmdet3d_like(tmp_path)
    data = CocoDetection(path, tmp_path)
    assert len(data) == 2 and data.category_ids == [0, 1] and data.class_names == ["car", "truck"]
    sample = data[0]
    assert sample["image_id"] == TOKENS[0] and sample["image"].shape == (3, 60, 80)
    torch.testing.assert_close(
        sample["boxes"].tensor, torch.tensor([[5.0, 5.0, 25.0, 15.0], [30.0, 10.0, 70.0, 50.0]])
    )
    assert sample["labels"].tolist() == [0, 1] and sample["crowd"].tolist() == [False, False]
    boxes, labels, _ = data.annotations(1)  # annotations need no image file
    assert boxes.tensor.tolist() == [[50.0, 40.0, 60.0, 50.0]] and labels.tolist() == [0]
    with pytest.raises(InputError, match="b.png"):  # the second image is absent
        data[1]
    batch = collate_detection([sample, {**sample, "image_id": TOKENS[1]}])
    assert batch["image_ids"] == TOKENS
    assert collate_detection([{**sample, "image_id": 3}])["image_ids"].tolist() == [3]


def test_coco_map_on_a_string_id_file_equals_pycocotools_on_it(tmp_path):
    path = write_mmdet3d_like(tmp_path, with_second_image=True)
    data = CocoDetection(path, tmp_path)
    targets = [data[i] for i in range(len(data))]
    predictions = [
        dets([[6, 5, 25, 15], [30, 10, 50, 50], [0, 40, 10, 50]], [0.9, 0.8, 0.3], [0, 1, 1]),
        dets([[50, 41, 60, 50]], [0.6], [0]),
    ]
    ours = coco_map(predictions, targets, len(data.class_names))
    results = coco_results(predictions, [t["image_id"] for t in targets])
    for r in results:
        r["category_id"] = data.category_ids[r["category_id"] - 1]
    raw = json.loads(path.read_text())
    for k, ann in enumerate(raw["annotations"]):  # pycocotools cannot match annotation id 0
        ann["id"] = k + 1
    assert list(ours.values()) == pytest.approx(reference(raw, results), abs=1e-9)
    assert ours["AP"] > 0.3 and ours["APs"] != -1


def test_unknown_and_mistyped_ids_are_input_errors(tmp_path):
    path = write_mmdet3d_like(tmp_path)
    raw = json.loads(path.read_text())
    cases = {
        "unknown image_id": lambda d: d["annotations"][0].update(image_id="beef"),
        "the file's image_ids are str": lambda d: d["annotations"][0].update(image_id=7),
        "unknown category_id": lambda d: d["annotations"][0].update(category_id=5),
        "appears more than once": lambda d: d["images"][1].update(id=TOKENS[0]),
        "expected an id": lambda d: d["images"][0].update(id=[1, 2]),
        "4 finite numbers": lambda d: d["annotations"][0].update(bbox=["a", 1, 2, 3]),
    }
    for message, change in cases.items():
        bad = copy.deepcopy(raw)
        change(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(InputError, match=message):
            CocoDetection(path, tmp_path)


def test_write_coco_round_trips_string_ids(tmp_path):
    image = torch.rand(3, 16, 24)
    samples = [
        {**target([[1, 2, 9, 12]], [1]), "image": image, "image_id": "ab/cd"},
        {**target([], []), "image": image, "image_id": 12},
    ]
    path = write_coco(tmp_path, samples, ["a", "b"])
    back = CocoDetection(path, tmp_path)
    assert [back[i]["image_id"] for i in range(2)] == ["ab/cd", 12]
    assert back[0]["boxes"].tensor.tolist() == [[1.0, 2.0, 9.0, 12.0]]
    with pytest.raises(InputError, match="both be written"):
        write_coco(tmp_path / "x", [samples[1], {**samples[1], "image_id": "000012"}], ["a", "b"])
    with pytest.raises(InputError, match="appears more than once"):
        write_coco(tmp_path / "y", [samples[0], samples[0]], ["a", "b"])


# --- the real files (mmdetection3d's KITTI and nuScenes mono3d converters) --------------------


def real_targets(data: CocoDetection) -> list[dict]:
    out = []
    for i in range(len(data)):
        boxes, labels, crowd = data.annotations(i)
        out.append(
            {"boxes": boxes, "labels": labels, "crowd": crowd, "image_id": data.images[i]["id"]}
        )
    return out


@needs_real
@pytest.mark.parametrize(
    ("folder", "file", "n_images", "n_boxes", "present"),
    [
        ("kitti", "kitti_infos_mono3d.coco.json", 1, 4, 7),
        ("nuscenes", "nus_infos_mono3d.coco.json", 6, 11, "86e6806d626b4711a6d0f5015b090116"),
    ],
)
def test_real_mmdet3d_files(folder, file, n_images, n_boxes, present):
    path = REAL / folder / file
    data = CocoDetection(path, REAL / folder)
    raw = json.loads(path.read_text())
    assert len(data) == n_images
    assert [data.images[i]["id"] for i in range(n_images)] == [im["id"] for im in raw["images"]]
    targets = real_targets(data)
    assert sum(len(t["boxes"]) for t in targets) == n_boxes
    for i, image in enumerate(raw["images"]):
        if image["id"] == present:
            sample = data[i]
            assert sample["image_id"] == present
            assert sample["image"].shape == (3, image["height"], image["width"])
        else:  # the converter's other images are absent on purpose
            with pytest.raises(InputError, match="cannot read image"):
                data[i]

    # perfect detections: AP 1 wherever COCO defines it (AR1 may not be: one box per image)
    perfect = [Detections(t["boxes"], torch.ones(len(t["boxes"])), t["labels"]) for t in targets]
    scores = coco_map(perfect, targets, len(data.class_names))
    assert {scores[k] for k in COCO_METRICS[:6]} <= {1.0, -1.0} and scores["AP"] == 1.0

    # shifted detections, missed boxes and false positives: the numbers pycocotools gives on
    # the file itself (annotation ids renumbered from 1: pycocotools takes a match to an
    # annotation with id 0, which the nuScenes file has, for no match)
    g = torch.Generator().manual_seed(0)
    predictions = []
    for t in targets:
        n = len(t["boxes"])
        keep = torch.arange(n) % 3 != 2
        moved = t["boxes"].tensor[keep] + torch.randn(int(keep.sum()), 4, generator=g) * 6
        fp = torch.tensor([[100.0, 100.0, 180.0, 160.0]])
        boxes = torch.cat([moved, fp])
        labels = torch.cat([t["labels"][keep], torch.zeros(1, dtype=torch.int64)])
        predictions.append(Detections(Boxes2D(boxes), torch.rand(len(boxes), generator=g), labels))
    ours = coco_map(predictions, targets, len(data.class_names))
    results = coco_results(predictions, [t["image_id"] for t in targets])
    for r in results:
        r["category_id"] = data.category_ids[r["category_id"] - 1]
    for k, ann in enumerate(raw["annotations"]):
        ann["id"] = k + 1
    assert list(ours.values()) == pytest.approx(reference(raw, results), abs=1e-6)
    assert 0 < ours["AP"] < 1
