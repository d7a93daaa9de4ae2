"""indoor_map: hand-worked AP values, the matching rule of VoteNet / mmdetection3d (highest-IoU
ground truth only, strict > threshold, a taken box makes a false positive), yawed boxes,
absent classes, a naive reimplementation on hypothesis scenes, and bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe.metrics._indoor as indoor
from xuframe import Boxes2D, Boxes3D, Detections, PointCloud
from xuframe.data import IndoorScene
from xuframe.errors import InputError
from xuframe.metrics import IndoorMAP, indoor_map
from xuframe.ops import boxes3d_iou


def boxes(rows: list[list[float]]) -> Boxes3D:
    return Boxes3D(torch.tensor(rows, dtype=torch.float64).reshape(-1, 7))


def scene(rows: list[list[float]], labels: list[int]) -> dict[str, Any]:
    return {"boxes": boxes(rows), "labels": torch.tensor(labels, dtype=torch.int64)}


def dets(rows: list[list[float]], scores: list[float], labels: list[int]) -> Detections:
    return Detections(
        boxes(rows),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(labels, dtype=torch.int64),
    )


def cube(x: float, y: float = 0.0, size: float = 1.0, yaw: float = 0.0) -> list[float]:
    return [x, y, 0.0, size, size, size, yaw]


# ---------------------------------------------------------------- hand-worked cases


def test_perfect_detections_give_one() -> None:
    gt = [scene([cube(0), cube(3)], [0, 1]), scene([cube(0), cube(5)], [1, 1])]
    det = [
        dets([cube(0), cube(3)], [0.9, 0.8], [0, 1]),
        dets([cube(5), cube(0)], [0.7, 0.6], [1, 1]),
    ]
    result = indoor_map(gt, det)
    assert isinstance(result, IndoorMAP)
    assert result.iou_thresholds == (0.25, 0.5)
    assert result.ap == {0.25: {0: 1.0, 1: 1.0}, 0.5: {0: 1.0, 1: 1.0}}
    assert result.mean_ap == {0.25: 1.0, 0.5: 1.0}
    assert result.recall[0.5] == {0: 1.0, 1: 1.0}
    assert result.n_ground_truth == {0: 1, 1: 3}
    assert result.classes == (0, 1)
    assert result.absent == ()


def test_precision_envelope_over_scenes() -> None:
    # class 0, 4 ground truths in 2 scenes; by score: FP, TP, TP, FP, TP
    # precisions 0, 1/2, 2/3, 2/4, 3/5; envelope at the TPs 2/3, 2/3, 3/5 -> AP (2/3+2/3+3/5)/4
    gt = [scene([cube(0), cube(3)], [0, 0]), scene([cube(0), cube(3)], [0, 0])]
    det = [
        dets([cube(9), cube(0), cube(3)], [0.95, 0.9, 0.5], [0, 0, 0]),  # FP, TP, TP(rank 5)
        dets([cube(3), cube(7)], [0.8, 0.6], [0, 0]),  # TP (rank 3), FP (rank 4)
    ]
    result = indoor_map(gt, det)
    assert result.ap[0.25][0] == pytest.approx(29 / 60, abs=1e-15)
    assert result.recall[0.25][0] == pytest.approx(3 / 4, abs=1e-15)


def test_only_the_highest_iou_ground_truth_is_tried() -> None:
    # ground truth A = x in [0, 2], B = x in [2, 4]; D = x in [0.5, 3.3] has IoU 0.4545 with A
    # and 0.3714 with B. A is taken by an exact detection first, so D is a false positive
    # although B would pass 0.25 (matching D to B would give AP 1).
    gt = [scene([[1, 0, 0, 2, 1, 1, 0], [3, 0, 0, 2, 1, 1, 0]], [0, 0])]
    det = [dets([[1, 0, 0, 2, 1, 1, 0], [1.9, 0, 0, 2.8, 1, 1, 0]], [0.9, 0.8], [0, 0])]
    result = indoor_map(gt, det)
    assert result.ap[0.25][0] == 0.5  # TP, FP over 2 ground truths
    assert result.recall[0.25][0] == 0.5


def test_a_taken_box_makes_a_duplicate_a_false_positive() -> None:
    gt = [scene([cube(0)], [0])]
    det = [dets([cube(0), cube(0)], [0.9, 0.8], [0, 0])]
    assert indoor_map(gt, det).ap[0.5][0] == 1.0  # TP then FP: the envelope keeps 1
    det = [dets([cube(0.9), cube(0)], [0.9, 0.8], [0, 0])]  # IoU 0.1/1.9 first, then exact
    result = indoor_map(gt, det)
    assert result.ap[0.25][0] == 0.5  # FP then TP: precision 1/2 at recall 1


def test_threshold_is_strict() -> None:
    gt = [scene([[0, 0, 0, 2, 1, 1, 0], [5, 0, 0, 2, 1, 1, 0]], [0, 1])]
    # nested boxes: IoU exactly 1/2 (class 0) and exactly 1/4 (class 1)
    det = [dets([[0, 0, 0, 1, 1, 1, 0], [5, 0, 0, 0.5, 1, 1, 0]], [0.9, 0.8], [0, 1])]
    assert boxes3d_iou(det[0].geometry.tensor, gt[0]["boxes"].tensor).diagonal().tolist() == [
        0.5,
        0.25,
    ]
    result = indoor_map(
        gt, det, (0.25, 0.5, float(np.nextafter(0.5, 0)), float(np.nextafter(0.25, 0)))
    )
    assert result.ap[0.5] == {0: 0.0, 1: 0.0}
    assert result.ap[0.25] == {0: 1.0, 1: 0.0}
    assert result.ap[float(np.nextafter(0.5, 0))] == {0: 1.0, 1: 0.0}
    assert result.ap[float(np.nextafter(0.25, 0))] == {0: 1.0, 1: 1.0}
    assert indoor_map(gt, det, 1.0).ap[1.0] == {0: 0.0, 1: 0.0}  # nothing is above 1
    assert indoor_map(gt, [dets([[0, 0, 0, 2, 1, 1, 0]], [1.0], [0])], 1.0).ap[1.0][0] == 0.0


def test_yawed_boxes() -> None:
    # a unit cube and the same cube turned 45 degrees: IoU 1/sqrt(2) = 0.7071
    gt = [scene([cube(0)], [0])]
    det = [dets([cube(0, yaw=math.pi / 4)], [0.5], [0])]
    result = indoor_map(gt, det, (0.7, 0.71))
    assert result.ap == {0.7: {0: 1.0}, 0.71: {0: 0.0}}
    # a 2 x 1 box turned 90 degrees: IoU 1/3; a turn by pi is the same box
    gt = [scene([[0, 0, 0, 2, 1, 1, 0.3]], [0])]
    turned = [[0, 0, 0, 2, 1, 1, 0.3 + math.pi / 2]]
    assert indoor_map(gt, [dets(turned, [0.5], [0])]).ap == {0.25: {0: 1.0}, 0.5: {0: 0.0}}
    flipped = [[0, 0, 0, 2, 1, 1, 0.3 + math.pi]]
    assert indoor_map(gt, [dets(flipped, [0.5], [0])]).ap == {0.25: {0: 1.0}, 0.5: {0: 1.0}}
    # a thin 4 x 0.5 box turned 90 degrees: IoU 0.25 / 3.75 = 1/15, a false positive
    gt = [scene([[0, 0, 0, 4, 0.5, 1, 0]], [0])]
    thin = indoor_map(gt, [dets([[0, 0, 0, 4, 0.5, 1, math.pi / 2]], [0.5], [0])], 0.05)
    assert thin.ap[0.05][0] == 1.0
    assert indoor_map(gt, [dets([[0, 0, 0, 4, 0.5, 1, math.pi / 2]], [0.5], [0])]).ap[0.25][0] == 0


def test_ties_in_score_keep_scene_then_position_order() -> None:
    gt = [scene([], []), scene([cube(0)], [0])]
    det = [dets([cube(0)], [0.5], [0]), dets([cube(0)], [0.5], [0])]
    # scene 0's detection (a false positive: no ground truth there) comes first
    assert indoor_map(gt, det).ap[0.5][0] == 0.5
    assert indoor_map(gt[::-1], det[::-1]).ap[0.5][0] == 1.0
    # within a scene, position decides
    gt = [scene([cube(0)], [0])]
    assert indoor_map(gt, [dets([cube(3), cube(0)], [0.5, 0.5], [0, 0])]).ap[0.5][0] == 0.5
    assert indoor_map(gt, [dets([cube(0), cube(3)], [0.5, 0.5], [0, 0])]).ap[0.5][0] == 1.0


def test_many_tied_scores_keep_the_input_order() -> None:
    # 60 scenes, three scores; in each score group the scenes come in input order: a scene
    # with its object found (TP) or a scene without ground truth (FP), by a fixed pattern.
    # numpy's default (unstable) argsort reorders such ties; the stable order gives this AP.
    pattern = [0.7, 0.3, 0.5] * 20
    truth = [i % 4 != 1 for i in range(60)]
    gt = [scene([cube(0)] if t else [], [0] if t else []) for t in truth]
    det = [dets([cube(0)], [p], [0]) for p in pattern]
    ranked = sorted(range(60), key=lambda i: -pattern[i])
    hits = np.array([truth[i] for i in ranked])
    precision = np.cumsum(hits) / np.arange(1, 61)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    expected = envelope[hits].sum() / hits.sum()
    assert indoor_map(gt, det).ap[0.5][0] == pytest.approx(expected, abs=1e-15)


def test_iou_ties_take_the_first_ground_truth() -> None:
    # D = x in [1, 3] overlaps A = [0, 2] and B = [2, 4] equally (IoU 1/3): it takes A, the
    # first. A later exact detection of B is then a true positive, one of A a false positive.
    gt = [scene([[1, 0, 0, 2, 1, 1, 0], [3, 0, 0, 2, 1, 1, 0]], [0, 0])]
    middle: list[float] = [2, 0, 0, 2, 1, 1, 0]
    on_b = indoor_map(gt, [dets([middle, [3, 0, 0, 2, 1, 1, 0]], [0.9, 0.8], [0, 0])])
    on_a = indoor_map(gt, [dets([middle, [1, 0, 0, 2, 1, 1, 0]], [0.9, 0.8], [0, 0])])
    assert on_b.ap[0.25][0] == 1.0
    assert on_a.ap[0.25][0] == 0.5


def test_matching_stays_in_the_scene_and_the_class() -> None:
    gt = [scene([cube(0)], [0]), scene([cube(4)], [1])]
    # a class-0 box on scene 1's class-1 object, and a class-0 box where scene 0's object is
    # but in scene 1: both false positives
    det = [dets([], [], []), dets([cube(4), cube(0)], [0.9, 0.8], [0, 0])]
    result = indoor_map(gt, det)
    assert result.ap[0.25] == {0: 0.0, 1: 0.0}
    assert result.mean_ap[0.25] == 0.0


def test_class_without_ground_truth_is_absent_and_left_out_of_the_mean() -> None:
    gt = [scene([cube(0), cube(3)], [0, 1])]
    found = [[*cube(0)], [*cube(3)]]
    base = indoor_map(gt, [dets(found, [0.9, 0.8], [0, 1])])
    # class 2 detected but never in the ground truth: mmdetection3d gives NaN here
    with_extra = indoor_map(gt, [dets([*found, cube(6)], [0.9, 0.8, 0.95], [0, 1, 2])])
    assert with_extra.absent == (2,)
    assert 2 not in with_extra.ap[0.25] and 2 not in with_extra.n_ground_truth
    assert with_extra.mean_ap == base.mean_ap == {0.25: 1.0, 0.5: 1.0}
    # n_classes lists the classes of the range with neither ground truth nor detections too
    assert indoor_map(gt, [dets(found, [0.9, 0.8], [0, 1])], n_classes=4).absent == (2, 3)
    assert not any(math.isnan(v) for v in with_extra.as_dict().values())


def test_class_with_ground_truth_but_no_detections_gets_zero() -> None:
    gt = [scene([cube(0), cube(3)], [0, 1])]
    result = indoor_map(gt, [dets([cube(0)], [0.9], [0])])
    assert result.ap[0.5] == {0: 1.0, 1: 0.0}
    assert result.recall[0.5] == {0: 1.0, 1: 0.0}
    assert result.mean_ap[0.5] == 0.5
    nothing = indoor_map(gt, [Detections.empty(Boxes3D)])
    assert nothing.mean_ap == {0.25: 0.0, 0.5: 0.0}


def test_scene_ids_as_mappings() -> None:
    gt = {"scene0000_00": scene([cube(0)], [0]), "scene0001_00": scene([cube(3)], [0])}
    det = {"scene0001_00": dets([cube(3)], [0.5], [0]), "scene0000_00": dets([cube(9)], [0.5], [0])}
    # tie at 0.5: ground truth's order decides, so scene0000_00's false positive is first
    assert indoor_map(gt, det).ap[0.25][0] == 0.25
    assert indoor_map(list(gt.values()), [det[k] for k in gt]).ap == indoor_map(gt, det).ap


def test_indoor_scenes_as_ground_truth() -> None:
    rows = [cube(0), cube(3, size=2.0, yaw=0.4)]
    room = IndoorScene(
        PointCloud(torch.zeros(5, 3), torch.zeros(5, 3)),
        boxes(rows),
        torch.tensor([1, 2]),
        ("bed", "table", "chair"),
    )
    det = [dets([cube(3, size=2.0, yaw=0.4), cube(0)], [0.9, 0.3], [2, 2])]
    result = indoor_map([room], det, n_classes=3)
    assert result.ap[0.5] == {1: 0.0, 2: 1.0}
    assert result.absent == (0,)
    assert indoor_map({"room0": room}, {"room0": det[0]}).ap == result.ap
    assert result.ap == indoor_map([scene(rows, [1, 2])], det).ap


def test_as_dict_names() -> None:
    gt = [scene([cube(0), cube(3)], [0, 2])]
    result = indoor_map(gt, [dets([cube(0)], [0.9], [0])], (0.25,))
    assert result.as_dict(["bed", "table", "chair"]) == {
        "mAP@0.25": 0.5,
        "AP@0.25/bed": 1.0,
        "AP@0.25/chair": 0.0,
        "recall@0.25/bed": 1.0,
        "recall@0.25/chair": 0.0,
    }
    assert result.as_dict()["AP@0.25/2"] == 0.0
    # a large class index without n_classes is a class like any other (no dense tables)
    big = indoor_map([scene([cube(0)], [10**9])], [dets([cube(0)], [0.9], [10**9])], 0.5)
    assert big.as_dict() == {"mAP@0.5": 1.0, "AP@0.5/1000000000": 1.0, "recall@0.5/1000000000": 1.0}
    for bad in (["bed", "table"], "bed", [1, 2, 3]):
        with pytest.raises(InputError, match="class_names"):
            result.as_dict(bad)  # type: ignore[arg-type]


def test_large_scene_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = np.random.default_rng(0)
    rows = np.concatenate(
        [gen.uniform(0, 6, (40, 3)), gen.uniform(0.5, 2, (40, 3)), gen.uniform(-3, 3, (40, 1))], 1
    )
    gt = [scene(rows[:20].tolist(), gen.integers(0, 3, 20).tolist())]
    det = [
        dets(
            (rows + gen.normal(0, 0.2, rows.shape)).tolist(),
            gen.random(40).tolist(),
            gen.integers(0, 3, 40).tolist(),
        )
    ]
    whole = indoor_map(gt, det)
    monkeypatch.setattr(indoor, "_PIECE_BYTES", 64 * 3)  # a few detections per piece
    assert indoor_map(gt, det).ap == whole.ap


# ---------------------------------------------------------------- naive reimplementation


def naive_map(
    gt: list[dict[str, Any]], det: list[Detections], thresholds: tuple[float, ...]
) -> tuple[dict[float, dict[int, float]], dict[float, dict[int, float]], tuple[int, ...]]:
    """VOC AP written plainly: a Python loop over detections per class, every IoU one pair
    at a time, the envelope with sentinels and the area summed where recall changes."""
    gt_rows = [(s["boxes"].tensor.tolist(), s["labels"].tolist()) for s in gt]
    det_rows = [(d.geometry.tensor.tolist(), d.scores.tolist(), d.labels.tolist()) for d in det]
    classes = sorted({c for _, labels in gt_rows for c in labels})
    detected = {c for _, _, labels in det_rows for c in labels}

    def iou(a: list[float], b: list[float]) -> float:
        pair = boxes3d_iou(
            torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
        )
        return float(pair[0, 0])

    ap: dict[float, dict[int, float]] = {}
    recall: dict[float, dict[int, float]] = {}
    for t in thresholds:
        ap[t], recall[t] = {}, {}
        for c in classes:
            ranked = []
            for s, (rows, scores, labels) in enumerate(det_rows):
                for row, score, label in zip(rows, scores, labels, strict=True):
                    if label == c:
                        ranked.append((score, s, row))
            ranked.sort(key=lambda r: -r[0])  # stable: scene, then position
            n_pos = sum(labels.count(c) for _, labels in gt_rows)
            taken: set[tuple[int, int]] = set()
            tp, fp, precisions, recalls = 0, 0, [], []
            for _, s, row in ranked:
                best, best_j = -math.inf, -1
                for j, (g, label) in enumerate(zip(*gt_rows[s], strict=True)):
                    if label == c:
                        value = iou(row, g)
                        if value > best:
                            best, best_j = value, j
                if best > t and (s, best_j) not in taken:
                    taken.add((s, best_j))
                    tp += 1
                else:
                    fp += 1
                precisions.append(tp / (tp + fp))
                recalls.append(tp / n_pos)
            mrec = [0.0, *recalls, 1.0]
            mpre = [0.0, *precisions, 0.0]
            for i in range(len(mpre) - 2, -1, -1):
                mpre[i] = max(mpre[i], mpre[i + 1])
            ap[t][c] = sum(
                (mrec[i + 1] - mrec[i]) * mpre[i + 1]
                for i in range(len(mrec) - 1)
                if mrec[i + 1] != mrec[i]
            )
            recall[t][c] = tp / n_pos
    return ap, recall, tuple(sorted(detected - set(classes)))


GRID = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0])
SIZE = st.sampled_from([0.5, 1.0, 2.0])
YAW = st.sampled_from([0.0, math.pi / 4, math.pi / 2, 1.0])


@st.composite
def box_rows(draw: st.DrawFn) -> list[float]:
    return [
        draw(GRID),
        draw(GRID),
        draw(st.sampled_from([0.0, 0.5])),
        draw(SIZE),
        draw(SIZE),
        draw(SIZE),
        draw(YAW),
    ]


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Detections]]:
    n = draw(st.integers(1, 4))
    gt, det = [], []
    for _ in range(n):
        g = draw(st.lists(box_rows(), max_size=4))
        g_labels = draw(st.lists(st.integers(0, 2), min_size=len(g), max_size=len(g)))
        d = draw(st.lists(box_rows(), max_size=5))
        # some detections copy (or slightly move) a ground truth, so matches and duplicates occur
        for row in draw(st.lists(st.sampled_from(g), max_size=3)) if g else []:
            d.append([row[0] + draw(st.sampled_from([0.0, 0.25])), *row[1:]])
        d_labels = draw(st.lists(st.integers(0, 2), min_size=len(d), max_size=len(d)))
        scores = draw(
            st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]), min_size=len(d), max_size=len(d))
        )
        gt.append(scene(g, g_labels))
        det.append(dets(d, scores, d_labels))
    return gt, det


@settings(max_examples=60, deadline=None)
@given(scenes(), st.sampled_from([(0.25, 0.5), (0.1,), (1 / 3, 0.5, 0.25)]))
def test_equals_a_naive_implementation(
    data: tuple[list[dict[str, Any]], list[Detections]], thresholds: tuple[float, ...]
) -> None:
    gt, det = data
    if not any(len(s["labels"]) for s in gt):
        with pytest.raises(InputError, match="at least one box"):
            indoor_map(gt, det, thresholds)
        return
    result = indoor_map(gt, det, thresholds)
    ap, recall, absent = naive_map(gt, det, thresholds)
    assert result.absent == absent
    assert result.recall == recall
    assert result.ap.keys() == ap.keys()
    for t in thresholds:
        assert result.ap[t].keys() == ap[t].keys()
        for c in ap[t]:
            assert result.ap[t][c] == pytest.approx(ap[t][c], abs=1e-12)
        assert result.mean_ap[t] == pytest.approx(float(np.mean(list(ap[t].values()))), abs=1e-12)


# ---------------------------------------------------------------- bad input


def good() -> tuple[list[dict[str, Any]], list[Detections]]:
    return [scene([cube(0)], [0])], [dets([cube(0)], [0.5], [0])]


@pytest.mark.parametrize(
    "thresholds",
    [
        0,
        0.0,
        -0.1,
        1.5,
        1.0000001,
        float("nan"),
        float("inf"),
        "x",
        None,
        [],
        (0.5, 0.5),
        [0.5, "a"],
        True,
    ],
)
def test_bad_thresholds(thresholds: Any) -> None:
    gt, det = good()
    with pytest.raises(InputError, match="iou_thresholds"):
        indoor_map(gt, det, thresholds)


def test_numpy_scalars_are_accepted() -> None:
    gt, det = good()
    thresholds: Any = np.array([0.25, 0.5])
    n_classes: Any = np.int64(3)
    result = indoor_map(gt, det, thresholds, n_classes=n_classes)
    assert result.ap == {0.25: {0: 1.0}, 0.5: {0: 1.0}}
    assert result.absent == (1, 2)
    threshold: Any = np.float32(0.5)
    one = indoor_map(gt, det, threshold)
    assert one.ap == {0.5: {0: 1.0}}


def test_nan_and_bad_boxes() -> None:
    with pytest.raises(InputError):
        boxes([[0, 0, float("nan"), 1, 1, 1, 0]])  # refused when built
    gt, det = good()
    det[0].geometry.tensor[0, 2] = float("nan")  # or changed afterwards
    with pytest.raises(InputError, match=r"detections\[0\].geometry"):
        indoor_map(gt, det)
    gt, det = good()
    gt[0]["boxes"].tensor[0, 0] = float("inf")
    with pytest.raises(InputError, match=r"ground_truth\[0\]\['boxes'\]"):
        indoor_map(gt, det)
    gt, det = good()
    huge = [dets([[1e200, 0, 0, 1, 1, 1, 0]], [0.5], [0])]
    with pytest.raises(InputError, match=r"detections\[0\].geometry.*magnitude"):
        indoor_map(gt, huge)
    gt[0]["boxes"].tensor[0, 4] = -1.0
    with pytest.raises(InputError, match="sizes"):
        indoor_map(gt, det)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -float("inf")])
def test_bad_scores(score: float) -> None:
    gt, det = good()
    det[0].scores[0] = score
    with pytest.raises(InputError, match="scores"):
        indoor_map(gt, det)


def test_mismatched_scenes() -> None:
    gt, det = good()
    with pytest.raises(InputError, match="one detections entry per ground-truth scene"):
        indoor_map(gt, det * 2)
    with pytest.raises(InputError, match="scene ids"):
        indoor_map({"a": gt[0]}, {"b": det[0]})
    with pytest.raises(InputError, match="scene ids"):
        indoor_map({"a": gt[0]}, {"a": det[0], "b": det[0]})
    with pytest.raises(InputError, match="one kind"):
        indoor_map({"a": gt[0]}, det)
    with pytest.raises(InputError, match="wrap it in a list"):
        indoor_map(gt[0], det)


@pytest.mark.parametrize(
    "make",
    [
        lambda gt, det: ("x", det),
        lambda gt, det: (None, det),
        lambda gt, det: (gt, None),
        lambda gt, det: (gt, 3.5),
        lambda gt, det: ([None], det),
        lambda gt, det: ([{"boxes": gt[0]["boxes"]}], det),
        lambda gt, det: ([{"boxes": gt[0]["boxes"].tensor, "labels": [0]}], det),
        lambda gt, det: ([{"boxes": gt[0]["boxes"], "labels": [0.0]}], det),
        lambda gt, det: ([{"boxes": gt[0]["boxes"], "labels": [-1]}], det),
        lambda gt, det: ([{"boxes": gt[0]["boxes"], "labels": [0, 1]}], det),
        lambda gt, det: (gt, [Detections(Boxes2D([[0, 0, 1, 1]]), [0.5], [0])]),
        lambda gt, det: (gt, [dets([cube(0)], [0.5], [-2])]),
        lambda gt, det: (gt, [None]),
        lambda gt, det: ([], []),
        lambda gt, det: ([scene([], [])], [dets([cube(0)], [0.5], [0])]),
    ],
)
def test_bad_entries(make: Any) -> None:
    gt, det = make(*good())
    with pytest.raises(InputError):
        indoor_map(gt, det)


@pytest.mark.parametrize("n_classes", [0, -1, 2.5, True, "3", float("nan")])
def test_bad_n_classes(n_classes: Any) -> None:
    gt, det = good()
    with pytest.raises(InputError, match="n_classes"):
        indoor_map(gt, det, n_classes=n_classes)


def test_n_classes_too_large_for_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    gt, det = good()
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(256 << 20))
    with pytest.raises(InputError, match="n_classes=1000000000"):
        indoor_map(gt, det, n_classes=10**9)
    assert indoor_map(gt, det, n_classes=1000).absent == tuple(range(1, 1000))


def test_labels_outside_n_classes() -> None:
    gt, det = good()
    with pytest.raises(InputError, match=r"detections\[0\].labels"):
        indoor_map(gt, [dets([cube(0)], [0.5], [3])], n_classes=3)
    with pytest.raises(InputError, match=r"ground_truth\[0\]\['labels'\]"):
        indoor_map([scene([cube(0)], [5])], det, n_classes=3)
