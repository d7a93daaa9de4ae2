"""KITTI AP on constructed cases whose value follows from the benchmark's definition by hand."""

from __future__ import annotations

import pytest

from xuframe.data import KittiObject
from xuframe.metrics import kitti_ap


def car(x, z, score=None, height_px=60.0, occluded=0, truncated=0.0, kind="Car", dx=0.0, ry=0.0):
    return KittiObject(
        kind,
        truncated,
        occluded,
        0.0,
        (100.0 + dx, 100.0, 180.0 + dx, 100.0 + height_px),
        (1.5, 1.6, 4.0),
        (x, 1.7, z),
        ry,
        score,
    )


def scene(n, detected, extra=()):
    """n frames with one car each; the first `detected` get a perfect detection with distinct scores."""
    gts = [[car(0.0, 10.0 + i)] for i in range(n)]
    dts = [[car(0.0, 10.0 + i, score=1.0 - i / (2 * n))] if i < detected else [] for i in range(n)]
    for frame, det in extra:
        dts[frame].append(det)
    return gts, dts


@pytest.mark.parametrize("metric", ["bbox", "bev", "3d"])
def test_every_car_found_gives_ap_one(metric):
    gts, dts = scene(50, 50)
    assert kitti_ap(gts, dts, metric=metric) == pytest.approx(1.0)
    assert kitti_ap(gts, dts, metric=metric, interpolation="R11") == pytest.approx(1.0)


def test_half_found_gives_half_the_recall_points():
    """25 of 50: recall reaches 0.5, the levels 0, 1/40 .. 20/40 get precision 1."""
    gts, dts = scene(50, 25)
    assert kitti_ap(gts, dts) == pytest.approx(20 / 40)
    assert kitti_ap(gts, dts, interpolation="R11") == pytest.approx(6 / 11)  # 0, 0.1, .., 0.5


def test_few_samples_quirk_is_kept():
    """One car found perfectly: the devkit samples one threshold, so R40 is 0 (a known
    property of KITTI AP on tiny sets, kept for comparability) and R11 is 1/11."""
    gts, dts = scene(1, 1)
    assert kitti_ap(gts, dts) == 0.0
    assert kitti_ap(gts, dts, interpolation="R11") == pytest.approx(1 / 11)


def test_false_positives_lower_precision_unless_in_dontcare():
    # a confident false positive in every frame: precision 1/2 at every recall level
    far = [(i, car(8.0, 30.0, score=0.999)) for i in range(50)]
    gts, dts = scene(50, 50, far)
    assert kitti_ap(gts, dts) == pytest.approx(0.5, abs=1e-9)
    for frame in gts:  # the same false positives inside DontCare regions do not count
        frame.append(
            KittiObject(
                "DontCare",
                -1,
                -1,
                -10,
                (90.0, 90.0, 200.0, 170.0),
                (-1, -1, -1),
                (-1000, -1000, -1000),
                -10,
            )
        )
    assert kitti_ap(gts, dts) == pytest.approx(1.0)
    # the C++ devkit applies DontCare in every metric; the python port only in 2-D bbox
    assert kitti_ap(gts, dts, metric="bev") == pytest.approx(1.0)
    assert kitti_ap(gts, dts, metric="bev", devkit="python") == pytest.approx(0.5, abs=1e-9)
    assert kitti_ap(gts, dts, metric="bbox", devkit="python") == pytest.approx(1.0)
    with pytest.raises(Exception, match="devkit"):
        kitti_ap(gts, dts, devkit="matlab")


def test_difficulty_and_neighbour_classes_are_ignored_not_counted():
    gts, dts = scene(50, 50)
    # add small (30 px) cars, detected: outside Easy (>= 40 px), inside Moderate (>= 25 px)
    for i in range(50):
        gts[i].append(car(5.0, 20.0, height_px=30.0))
        dts[i].append(car(5.0, 20.0, score=0.5 - i / 200, height_px=30.0))
    assert kitti_ap(gts, dts, difficulty="easy") == pytest.approx(1.0)  # ignored, no FP
    assert kitti_ap(gts, dts, difficulty="moderate") == pytest.approx(1.0)  # counted and found
    # a Van is the neighbour class of Car: a Car detection on it is neither TP nor FP
    gts, dts = scene(50, 50)
    for i in range(50):
        gts[i].append(car(-6.0, 25.0, kind="Van"))
        dts[i].append(car(-6.0, 25.0, score=0.999))
    assert kitti_ap(gts, dts) == pytest.approx(1.0)


def test_class_overlap_thresholds():
    """Shifted 0.8 m along a 4 m car (length along camera x at ry = 0): 3-D IoU 3.2/4.8 = 2/3,
    below Car's 0.7, above 0.5."""
    gts, _ = scene(50, 0)
    shifted = [[car(0.8, 10.0 + i, score=1.0 - i / 100)] for i in range(50)]
    assert kitti_ap(gts, shifted, metric="3d") == 0.0
    assert kitti_ap(gts, shifted, metric="3d", min_overlap=0.5) == pytest.approx(1.0)


def test_the_overlap_threshold_is_strict_and_per_class():
    gts, _ = scene(50, 0)
    just_above = [[car(0.7, 10.0 + i, score=1.0 - i / 100)] for i in range(50)]  # IoU 3.3/4.7
    assert kitti_ap(gts, just_above, metric="bev") == pytest.approx(1.0)
    peds = [[car(0.0, 10.0 + i, kind="Pedestrian")] for i in range(50)]
    ped_dets = [[car(0.8, 10.0 + i, kind="Pedestrian", score=0.9 - i / 100)] for i in range(50)]
    assert kitti_ap(peds, ped_dets, "Pedestrian", metric="bev") == pytest.approx(1.0)  # 0.5
