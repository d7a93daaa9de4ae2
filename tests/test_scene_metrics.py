"""Movie scene segmentation metrics: AP as scikit-learn defines it, symmetric mIoU, recalls."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.metrics import (
    boundaries_from_scenes,
    boundary_ap,
    boundary_recall,
    boundary_recall_at,
    scene_metrics,
    scene_miou,
    scenes_from_boundaries,
)


def _labels(draw_bits: list[bool]) -> np.ndarray:
    return np.array([int(b) for b in draw_bits] + [1])


@settings(max_examples=80)
@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(0, 10_000))
def test_boundary_ap_matches_scikit_learn(bits, seed):
    sklearn = pytest.importorskip("sklearn.metrics")
    labels = np.array([int(b) for b in bits])
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, len(labels)) / 4  # coarse scores: many ties
    if labels.sum() == 0:
        assert math.isnan(boundary_ap(labels, scores))
        return
    assert boundary_ap(labels, scores) == pytest.approx(
        sklearn.average_precision_score(labels, scores), abs=1e-12
    )


@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_a_perfect_prediction_scores_one_everywhere(bits):
    labels = _labels(bits)
    scenes = scenes_from_boundaries(labels)
    assert np.array_equal(boundaries_from_scenes(scenes, len(labels)), labels)
    assert scene_miou(scenes, scenes) == 1.0
    times = np.cumsum(np.full(len(labels), 4.0))
    metrics = scene_metrics(
        [{"labels": labels, "scores": labels.astype(float), "shot_end_times": times}]
    )
    if labels[:-1].any():
        assert metrics["AP"] == metrics["mAP"] == metrics["Recall"] == 1.0
        assert metrics["Recall@3s"] == 1.0
    assert metrics["mIoU"] == 1.0


@given(
    st.lists(st.booleans(), min_size=1, max_size=30),
    st.lists(st.booleans(), min_size=1, max_size=30),
)
def test_miou_is_symmetric_and_in_unit_interval(a, b):
    n = min(len(a), len(b))
    sa, sb = (
        scenes_from_boundaries(_labels(a[: n - 1])),
        scenes_from_boundaries(_labels(b[: n - 1])),
    )
    value = scene_miou(sa, sb)
    assert value == pytest.approx(scene_miou(sb, sa)) and 0 < value <= 1


def test_miou_by_hand():
    true = [(0, 3), (4, 9)]
    pred = [(0, 1), (2, 9)]
    # true side: (0,3) best 2/4 with (0,1) or 2/10 with (2,9) -> 0.5; (4,9): 6/8 -> 0.75
    # pred side: (0,1): 2/4 -> 0.5; (2,9): 6/8 -> 0.75
    assert scene_miou(true, pred) == pytest.approx(0.625)


def test_recalls_by_hand():
    labels = np.array([0, 1, 0, 0, 1, 0, 1])  # boundaries after shots 1 and 4 (6 is the end)
    pred = np.array([0, 0, 1, 0, 1, 0, 1])  # after 2 (one shot late) and 4
    assert boundary_recall(labels, pred) == 0.5
    times = np.array([2.0, 4.0, 6.5, 9.0, 12.0, 15.0, 18.0])
    assert boundary_recall_at(labels, pred, times, seconds=3.0) == 1.0  # 6.5 - 4.0 < 3
    assert boundary_recall_at(labels, pred, times, seconds=2.0) == 0.5
    assert boundary_recall_at(labels, pred, times, seconds=3.0, max_shots=0) == 0.5


def test_scene_metrics_pool_ap_and_average_the_rest():
    a = {"labels": [0, 1, 0, 1], "scores": [0.2, 0.9, 0.6, 0.0]}
    b = {"labels": [1, 0, 0, 1], "scores": [0.4, 0.1, 0.3, 0.0]}
    m = scene_metrics([a, b], threshold=0.5)
    assert m["mAP"] == pytest.approx((1.0 + 1.0) / 2)
    pooled = boundary_ap([0, 1, 0, 1, 0, 0], [0.2, 0.9, 0.6, 0.4, 0.1, 0.3])
    assert m["AP"] == pytest.approx(pooled)
    assert m["Recall"] == pytest.approx((1.0 + 0.0) / 2)


def test_scene_metrics_bad_input():
    with pytest.raises(InputError, match="0s and 1s"):
        boundary_ap([0, 2], [0.1, 0.2])
    with pytest.raises(InputError, match="one score per label"):
        boundary_ap([0, 1], [0.1])
    with pytest.raises(InputError, match="finite"):
        boundary_ap([0, 1], [0.1, float("nan")])
    with pytest.raises(InputError, match="tile"):
        boundaries_from_scenes([(0, 2), (4, 5)], 6)
    with pytest.raises(InputError, match="at least one scene"):
        scene_miou([], [(0, 1)])
    with pytest.raises(InputError, match="one shape"):
        boundary_recall_at([0, 1], [0, 1], [1.0])
