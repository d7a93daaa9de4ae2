"""KITTI AP on constructed cases whose value follows from the benchmark's definition by hand."""

from __future__ import annotations

import math
import random

import pytest

from xuframe.data import KittiObject
from xuframe.errors import InputError
from xuframe.metrics import kitti_ap


def car(
    x,
    z,
    score=None,
    height_px=60.0,
    occluded=0,
    truncated=0.0,
    kind="Car",
    dx=0.0,
    ry=0.0,
    alpha=0.0,
):
    return KittiObject(
        kind,
        truncated,
        occluded,
        alpha,
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


def dontcare(box=(90.0, 90.0, 200.0, 170.0), kind="DontCare"):
    return KittiObject(kind, -1, -1, -10, box, (-1, -1, -1), (-1000, -1000, -1000), -10)


# --- class names ignore case, as in both devkits (issue 18 item 3) ---------------------------


@pytest.mark.parametrize("metric", ["bbox", "bev", "3d", "aos"])
def test_class_names_ignore_case(metric):
    """40 frames, one car each, all found: both devkits give 39/40 (R40 samples 40 thresholds,
    so recall 1 is never a recall point) whatever the case of the labels and of ``cls``."""
    gts, dts = scene(40, 40)
    assert kitti_ap(gts, dts, metric=metric) == pytest.approx(0.975)
    lower = [[car(0.0, 10.0 + i, kind="car")] for i in range(40)]
    assert kitti_ap(lower, dts, "Car", metric=metric) == pytest.approx(0.975)
    upper_dts = [[car(0.0, 10.0 + i, score=1.0 - i / 80, kind="CAR")] for i in range(40)]
    for cls in ("car", "CAR", "cAr"):
        assert kitti_ap(gts, upper_dts, cls, metric=metric) == pytest.approx(0.975)
        assert kitti_ap(lower, dts, cls, metric=metric, devkit="python") == pytest.approx(0.975)


def test_neighbour_dontcare_and_overlap_ignore_case():
    gts, dts = scene(50, 50)
    for i in range(50):  # a "van" is Car's neighbour whatever its case: not a false positive
        gts[i].append(car(-6.0, 25.0, kind="VAN" if i % 2 else "van"))
        dts[i].append(car(-6.0, 25.0, score=0.999, kind="car"))
    assert kitti_ap(gts, dts, "car") == pytest.approx(1.0)
    peds = [[car(0.0, 10.0 + i, kind="pedestrian"), car(5.0, 10.0 + i, kind="person_SITTING")]
            for i in range(50)]  # fmt: skip
    ped_dets = [[car(0.0, 10.0 + i, kind="Pedestrian", score=0.5 - i / 200),
                 car(5.0, 10.0 + i, kind="PEDESTRIAN", score=0.9)] for i in range(50)]  # fmt: skip
    assert kitti_ap(peds, ped_dets, "Pedestrian", metric="bev") == pytest.approx(1.0)
    # DontCare spelt in any case: detections inside are not false positives
    far = [(i, car(8.0, 30.0, score=0.999)) for i in range(50)]
    gts, dts = scene(50, 50, far)
    for frame in gts:
        frame.append(dontcare(kind="dontcare"))
    assert kitti_ap(gts, dts, metric="bbox") == pytest.approx(1.0)
    # the per-class overlap is found ignoring case: "car" needs 0.7, so IoU 2/3 fails
    gts, _ = scene(50, 0)
    shifted = [[car(0.8, 10.0 + i, score=1.0 - i / 100)] for i in range(50)]
    assert kitti_ap(gts, shifted, "car", metric="3d") == 0.0
    assert kitti_ap(gts, shifted, "CAR", metric="3d", min_overlap=0.5) == pytest.approx(1.0)
    with pytest.raises(InputError, match="cls"):
        kitti_ap(gts, shifted, None)  # type: ignore[arg-type]


def test_a_too_small_detection_is_ignored_whatever_its_class():
    """Both devkits test a detection's 2-D height before its class: a 30 px detection is ignored
    at Easy (minimum 40 px) even when of another class, so when it has the highest score on a
    car it takes that car (neither true positive nor miss) and no threshold is sampled."""
    gts, dts = scene(50, 50)
    for i in range(50):
        dts[i].append(car(0.0, 10.0 + i, score=0.999, height_px=30.0, kind="Pedestrian"))
    assert kitti_ap(gts, dts, difficulty="easy") == 0.0
    assert kitti_ap(gts, dts, difficulty="easy", devkit="python") == 0.0
    assert kitti_ap(gts, dts, difficulty="moderate") == pytest.approx(1.0)  # 30 px counts there


# --- AOS: orientation similarity over the 2-D box matches ------------------------------------


def test_aos_equals_bbox_ap_when_every_alpha_is_right():
    for n in (40, 50):
        gts, dts = scene(n, n)
        for interpolation in ("R40", "R11"):
            ap = kitti_ap(gts, dts, metric="bbox", interpolation=interpolation)
            assert kitti_ap(gts, dts, metric="aos", interpolation=interpolation) == ap


@pytest.mark.parametrize(
    ("gt_alpha", "det_alpha", "similarity"),
    [
        (0.0, math.pi / 2, 0.5),
        (0.0, math.pi, 0.0),
        (1.0, 1.0 + math.pi / 3, 0.75),
        (3.1, -3.1, (1 + math.cos(6.2)) / 2),
    ],
)
def test_aos_scales_with_the_orientation_similarity(gt_alpha, det_alpha, similarity):
    """Every car found, every alpha off by the same delta: each recall point's AOS is
    (1 + cos delta) / 2 times its precision (1), with no wrapping of delta."""
    gts = [[car(0.0, 10.0 + i, alpha=gt_alpha)] for i in range(50)]
    dts = [[car(0.0, 10.0 + i, score=1.0 - i / 100, alpha=det_alpha)] for i in range(50)]
    assert kitti_ap(gts, dts, metric="aos") == pytest.approx(similarity, abs=1e-12)
    assert kitti_ap(gts, dts, metric="aos", interpolation="R11") == pytest.approx(
        similarity, abs=1e-12
    )


def test_aos_is_made_non_increasing_on_its_own():
    """40 cars, all found (one threshold per true positive: at threshold k, k + 1 true
    positives, no false positive). Right alphas on the 20 best-scored, flipped on the rest:
    AOS at point k is 1 for k < 20, then 20 / (k + 1). Flipped on the best 20 instead: it is 0,
    then (k - 19) / (k + 1), rising to 1/2; the running maximum from the right makes every
    point up to the 40th 1/2."""
    gts = [[car(0.0, 10.0 + i)] for i in range(40)]
    right_first = [[car(0.0, 10.0 + i, score=1 - i / 80, alpha=0.0 if i < 20 else math.pi)]
                   for i in range(40)]  # fmt: skip
    curve = [1.0 if k < 20 else 20 / (k + 1) for k in range(40)] + [0.0]
    assert kitti_ap(gts, right_first, metric="aos") == pytest.approx(sum(curve[1:]) / 40)
    assert kitti_ap(gts, right_first, metric="aos", interpolation="R11") == pytest.approx(
        sum(curve[::4]) / 11
    )
    flipped_first = [[car(0.0, 10.0 + i, score=1 - i / 80, alpha=math.pi if i < 20 else 0.0)]
                     for i in range(40)]  # fmt: skip
    assert kitti_ap(gts, flipped_first, metric="aos") == pytest.approx(39 * 0.5 / 40)
    assert kitti_ap(gts, flipped_first, metric="aos", interpolation="R11") == pytest.approx(
        10 * 0.5 / 11
    )


def test_aos_counts_false_positives_as_zero_but_not_dontcare_or_ignored_matches():
    far = [(i, car(8.0, 30.0, score=0.999, alpha=2.0, dx=300.0)) for i in range(50)]
    gts, dts = scene(50, 50, far)
    assert kitti_ap(gts, dts, metric="aos") == pytest.approx(0.5, abs=1e-12)  # 1 / (1 + 1)
    for frame in gts:
        frame.append(dontcare((380.0, 90.0, 500.0, 170.0)))
    for devkit in ("cpp", "python"):  # both apply DontCare to the 2-D box metric
        assert kitti_ap(gts, dts, metric="aos", devkit=devkit) == pytest.approx(1.0)
    # a car detection on a van (ignored), with a wrong alpha: neither counted nor scored
    gts, dts = scene(50, 50)
    for i in range(50):
        gts[i].append(car(-6.0, 25.0, kind="Van", dx=-90.0))
        dts[i].append(car(-6.0, 25.0, score=0.999, alpha=3.0, dx=-90.0))
    assert kitti_ap(gts, dts, metric="aos") == pytest.approx(1.0)


def test_aos_matches_on_the_2d_box_not_in_3d():
    """Detections 0.8 m too far along the camera's z keep the 2-D box (it is given, not
    projected) and the alpha: 3-D AP fails Car's 0.7, AOS (over 2-D matches) stays 1."""
    gts, _ = scene(50, 0)
    dts = [[car(0.0, 10.8 + i, score=1.0 - i / 100)] for i in range(50)]
    assert kitti_ap(gts, dts, metric="3d") == 0.0
    assert kitti_ap(gts, dts, metric="aos") == pytest.approx(1.0)


def test_aos_needs_the_detections_alpha():
    gts, dts = scene(50, 50)
    dts[3][0] = car(0.0, 13.0, score=0.9, alpha=-10.0)
    with pytest.raises(InputError, match="alpha"):
        kitti_ap(gts, dts, metric="aos")
    assert kitti_ap(gts, dts, metric="bbox") == pytest.approx(1.0)  # AP does not need it
    dts[3][0] = car(0.0, 13.0, score=0.9, alpha=math.nan)
    with pytest.raises(InputError, match="alpha"):
        kitti_ap(gts, dts, "CAR", metric="aos")
    gts, dts = scene(50, 50)
    dts[3].append(car(5.0, 30.0, score=0.2, kind="Cyclist", alpha=-10.0))  # another class: fine
    assert kitti_ap(gts, dts, metric="aos") == pytest.approx(1.0)
    with pytest.raises(InputError, match="metric"):
        kitti_ap(gts, dts, metric="orientation")  # type: ignore[arg-type]


# --- frames for the comparison with the python port ------------------------------------------

_SIZES = {"car": (1.5, 1.6, 3.9), "van": (2.2, 1.9, 5.0), "pedestrian": (1.75, 0.6, 0.8),
          "person_sitting": (1.3, 0.6, 0.8), "cyclist": (1.7, 0.6, 1.8), "truck": (3.3, 2.5, 10.0),
          "misc": (1.5, 1.2, 2.5)}  # fmt: skip
_NAMES = ["Car", "car", "CAR", "Van", "van", "Pedestrian", "pedestrian", "Person_sitting",
          "PERSON_SITTING", "Cyclist", "cyclist", "Truck", "Misc"]  # fmt: skip


def _wrap(angle):
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _image_box(h, w, length, x, y, z, ry):
    """The 2-D box of a camera-frame box in a 1242 x 375 image (focal 700 px), clipped."""
    us, vs = [], []
    for dx in (-length / 2, length / 2):
        for dz in (-w / 2, w / 2):
            for dy in (0.0, -h):
                cx = x + math.cos(ry) * dx + math.sin(ry) * dz
                cz = max(z - math.sin(ry) * dx + math.cos(ry) * dz, 0.5)
                us.append(620 + 700 * cx / cz)
                vs.append(180 + 700 * (y + dy) / cz)
    return (max(min(us), 0.0), max(min(vs), 0.0), min(max(us), 1241.0), min(max(vs), 374.0))


def _object(name, x, y, z, ry, size=None, score=None, truncated=0.0, occluded=0):
    h, w, length = size or _SIZES[name.lower()]
    return KittiObject(
        name,
        truncated,
        occluded,
        _wrap(ry - math.atan2(x, z)),
        _image_box(h, w, length, x, y, z, ry),
        (h, w, length),
        (x, y, z),
        ry,
        score,
    )


def comparison_frames(seed=18, n=40):
    """Synthetic labelled frames with jittered detections (case-mixed class names, wrong
    classes, flipped headings, false positives, DontCare regions with detections inside them,
    small far detections), reproducible from ``seed`` by Python's ``random``."""
    rng = random.Random(seed)
    gts, dts = [], []
    for _ in range(n):
        gt, dt = [], []
        for _ in range(rng.randint(2, 8)):
            name = rng.choice(_NAMES)
            z = rng.uniform(5, 45)
            x, ry = rng.uniform(-0.6, 0.6) * z, rng.uniform(-math.pi, math.pi)
            obj = _object(
                name, x, 1.7, z, ry,
                truncated=rng.choice([0.0, 0.0, 0.0, 0.1, 0.2, 0.4]),
                occluded=rng.choice([0, 0, 0, 1, 2, 3]),
            )  # fmt: skip
            gt.append(obj)
            if rng.random() < 0.8:
                dx, dz = rng.gauss(0, 0.1), rng.gauss(0, 0.1)
                dry = rng.gauss(0, 0.15) + (math.pi if rng.random() < 0.15 else 0.0)
                h, w, length = obj.dimensions
                size = (
                    h * rng.uniform(0.95, 1.05),
                    w * rng.uniform(0.95, 1.05),
                    length * rng.uniform(0.95, 1.05),
                )
                kind = name if rng.random() < 0.9 else rng.choice(_NAMES)
                dt.append(_object(kind, x + dx, 1.7 + rng.gauss(0, 0.05), z + dz, ry + dry,
                                  size=size, score=0.3 + 0.7 * rng.random()))  # fmt: skip
        for _ in range(rng.randint(0, 2)):  # DontCare regions, some with a detection inside
            u, v = rng.uniform(0, 1100), rng.uniform(100, 300)
            region = (u, v, u + rng.uniform(40, 140), v + rng.uniform(30, 70))
            gt.append(KittiObject("DontCare", -1, -1, -10, region, (-1, -1, -1),
                                  (-1000, -1000, -1000), -10))  # fmt: skip
            if rng.random() < 0.7:
                a, b, c, d = region
                box = (a + 2, b + 2, c - 2, d - 2)
                dt.append(KittiObject(rng.choice(["Car", "Pedestrian", "Cyclist"]), 0, 0,
                                      rng.uniform(-3, 3), box, (1.5, 1.6, 3.9), (0.0, 1.7, 30.0),
                                      0.0, rng.random()))  # fmt: skip
        for _ in range(rng.randint(0, 3)):  # false positives, some far (small in the image)
            name = rng.choice(["Car", "car", "Pedestrian", "Cyclist"])
            z = rng.uniform(5, 80)
            x = rng.uniform(-0.6, 0.6) * z
            dt.append(_object(name, x, 1.7, z, rng.uniform(-3, 3), score=0.6 * rng.random()))
        gts.append(gt)
        dts.append(dt)
    return gts, dts


# OpenPCDet's kitti_object_eval_python (commit 8cacccec, eval.py's eval_class and get_mAP /
# get_mAP_R40, run as plain Python with numba's decorators replaced by the identity and the
# rotated IoU computed by shapely in float64) on comparison_frames(18, 40): 252 objects, 258
# detections. Class names in those frames mix cases; DontCare is spelt as the port expects.
PYTHON_PORT = [
    ("Car", "bbox", "easy", "R11", 0.12987012987012989),
    ("Car", "bbox", "easy", "R40", 0.07142857142857142),
    ("Car", "bbox", "moderate", "R11", 0.24104683195592286),
    ("Car", "bbox", "moderate", "R40", 0.19131573083778966),
    ("Car", "bbox", "hard", "R11", 0.4634032634032634),
    ("Car", "bbox", "hard", "R40", 0.45528971845148325),
    ("Car", "aos", "easy", "R11", 0.11210529339451365),
    ("Car", "aos", "easy", "R40", 0.05932988685483178),
    ("Car", "aos", "moderate", "R11", 0.178429448650742),
    ("Car", "aos", "moderate", "R40", 0.14845905496209022),
    ("Car", "aos", "hard", "R11", 0.36086241413748554),
    ("Car", "aos", "hard", "R40", 0.36305635769250166),
    ("Pedestrian", "bbox", "easy", "R11", 0.060606060606060594),
    ("Pedestrian", "bbox", "easy", "R40", 0.016666666666666666),
    ("Pedestrian", "bbox", "moderate", "R11", 0.31194295900178254),
    ("Pedestrian", "bbox", "moderate", "R40", 0.29754481792717097),
    ("Pedestrian", "bbox", "hard", "R11", 0.3771506271506272),
    ("Pedestrian", "bbox", "hard", "R40", 0.35909493284493293),
    ("Pedestrian", "aos", "easy", "R11", 0.06001107805680757),
    ("Pedestrian", "aos", "easy", "R40", 0.016503046465622083),
    ("Pedestrian", "aos", "moderate", "R11", 0.28860948482466003),
    ("Pedestrian", "aos", "moderate", "R40", 0.27052794353387905),
    ("Pedestrian", "aos", "hard", "R11", 0.3517191174174221),
    ("Pedestrian", "aos", "hard", "R40", 0.33162209829760814),
    ("Cyclist", "bbox", "easy", "R11", 0.09090909090909091),
    ("Cyclist", "bbox", "easy", "R40", 0.05),
    ("Cyclist", "bbox", "moderate", "R11", 0.36363636363636365),
    ("Cyclist", "bbox", "moderate", "R40", 0.36517027863777085),
    ("Cyclist", "bbox", "hard", "R11", 0.5381818181818182),
    ("Cyclist", "bbox", "hard", "R40", 0.5662222222222224),
    ("Cyclist", "aos", "easy", "R11", 0.09070597178988976),
    ("Cyclist", "aos", "easy", "R40", 0.0498585395278573),
    ("Cyclist", "aos", "moderate", "R11", 0.3617858696825101),
    ("Cyclist", "aos", "moderate", "R40", 0.36322355151257535),
    ("Cyclist", "aos", "hard", "R11", 0.47178539762124544),
    ("Cyclist", "aos", "hard", "R40", 0.4857404826899071),
    ("Car", "bev", "moderate", "R11", 0.1795125164690382),
    ("Car", "bev", "moderate", "R40", 0.1184284420289855),
    ("Car", "3d", "moderate", "R11", 0.07575757575757576),
    ("Car", "3d", "moderate", "R40", 0.06293525102348632),
    ("Pedestrian", "bev", "moderate", "R11", 0.2790527654164018),
    ("Pedestrian", "bev", "moderate", "R40", 0.25558468264113426),
    ("Pedestrian", "3d", "moderate", "R11", 0.2790527654164018),
    ("Pedestrian", "3d", "moderate", "R40", 0.25477823102823105),
    ("Cyclist", "bev", "moderate", "R11", 0.2802460697197539),
    ("Cyclist", "bev", "moderate", "R40", 0.253705658376711),
    ("Cyclist", "3d", "moderate", "R11", 0.26818181818181813),
    ("Cyclist", "3d", "moderate", "R40", 0.24413888888888896),
]


@pytest.fixture(scope="module")
def frames_18():
    return comparison_frames(18, 40)


@pytest.mark.parametrize(("cls", "metric", "difficulty", "interpolation", "expected"), PYTHON_PORT)
def test_equals_the_python_port(frames_18, cls, metric, difficulty, interpolation, expected):
    gts, dts = frames_18
    value = kitti_ap(
        gts, dts, cls, metric=metric, difficulty=difficulty, interpolation=interpolation,
        devkit="python",
    )  # fmt: skip
    assert value == pytest.approx(expected, abs=1e-12)
