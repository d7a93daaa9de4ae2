from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from xuframe import (
    Bounds,
    Boxes2D,
    Boxes3D,
    ClusteringResult,
    DemoResult,
    Detections,
    PointCloud,
    Segments1D,
    VerificationResult,
)
from xuframe.errors import InputError
from xuframe.testing import strategies as xst


@pytest.mark.parametrize("source", [np.array, torch.tensor, list])
def test_boxes2d_accepts_numpy_tensor_and_lists(source):
    rows = [[0.0, 1.0, 2.0, 3.0], [4.0, 4.0, 4.0, 9.0]]
    boxes = Boxes2D(source(rows))
    assert boxes.tensor.dtype == torch.float32
    np.testing.assert_array_equal(boxes.numpy(), np.array(rows, dtype=np.float32))
    assert len(boxes) == 2
    assert boxes.areas.tolist() == [4.0, 0.0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[0.0, 0.0, 1.0]], r"expected shape \(N, 4\)"),
        ([[2.0, 0.0, 1.0, 1.0]], "x2 >= x1"),
        ([[0.0, 0.0, float("nan"), 1.0]], "finite"),
        ("boxes", "expected"),
    ],
)
def test_boxes2d_rejects_bad_input(rows, message):
    with pytest.raises(InputError, match=message):
        Boxes2D(rows)


def test_boxes2d_from_xywh_and_indexing():
    boxes = Boxes2D.from_xywh([[1, 2, 3, 4], [0, 0, 1, 1]])
    assert boxes.tensor.tolist() == [[1, 2, 4, 6], [0, 0, 1, 1]]
    assert boxes[1].tensor.tolist() == [[0, 0, 1, 1]]
    assert len(boxes[torch.tensor([False, False])]) == 0
    assert len(Boxes2D.concat([boxes, boxes])) == 4
    assert len(Boxes2D.empty()) == 0


def test_boxes3d_corners_follow_the_convention():
    # length 4 along the heading, width 2, height 1; heading rotated 90 degrees to +y.
    box = Boxes3D([[10.0, 5.0, 1.0, 4.0, 2.0, 1.0, math.pi / 2]])
    corners = box.corners()[0]
    assert corners.shape == (8, 3)
    torch.testing.assert_close(corners.mean(0), torch.tensor([10.0, 5.0, 1.0]))
    # first corner is (+l/2, +w/2) in the box frame -> (x - w/2, y + l/2) in the world
    torch.testing.assert_close(corners[0], torch.tensor([9.0, 7.0, 0.5]), atol=1e-5, rtol=0)
    assert corners[:4, 2].eq(0.5).all() and corners[4:, 2].eq(1.5).all()
    with pytest.raises(InputError, match="sizes"):
        Boxes3D([[0, 0, 0, -1, 1, 1, 0]])


@given(xst.boxes3d())
def test_boxes3d_corner_spans_equal_sizes_in_box_frame(boxes):
    corners = boxes.corners().double()
    edge_l = (corners[:, 0] - corners[:, 1]).norm(dim=1)
    edge_w = (corners[:, 1] - corners[:, 2]).norm(dim=1)
    edge_h = (corners[:, 4] - corners[:, 0]).norm(dim=1)
    sizes = boxes.sizes.double()
    torch.testing.assert_close(
        torch.stack([edge_l, edge_w, edge_h], 1), sizes, atol=1e-4, rtol=1e-5
    )


@given(st.one_of(xst.boxes2d(), xst.boxes3d(), xst.segments1d()))
def test_geometry_numpy_round_trip(geometry):
    again = type(geometry)(geometry.numpy())
    assert torch.equal(again.tensor, geometry.tensor)


def test_segments_and_point_clouds():
    segs = Segments1D([[0, 3], [3, 10]])
    assert segs.lengths.tolist() == [3, 7]
    with pytest.raises(InputError, match="end >= start"):
        Segments1D([[5, 1]])
    cloud = PointCloud.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert cloud.num_features == 1 and len(cloud) == 3
    np.testing.assert_array_equal(cloud.numpy(), np.arange(12).reshape(3, 4))
    assert PointCloud(np.zeros((2, 3))).num_features == 0
    assert len(cloud[cloud.xyz[:, 0] > 0]) == 2
    with pytest.raises(InputError, match=r"features: expected shape \(3, N\)"):
        PointCloud(np.zeros((3, 3)), np.zeros((2, 1)))


@given(xst.point_clouds())
def test_point_cloud_numpy_round_trip(cloud):
    again = PointCloud.from_numpy(cloud.numpy())
    assert torch.equal(again.xyz, cloud.xyz) and torch.equal(again.features, cloud.features)


def test_detections_validate_lengths():
    boxes = Boxes2D([[0, 0, 1, 1], [0, 0, 2, 2]])
    with pytest.raises(InputError, match=r"scores: expected shape \(2,\)"):
        Detections(boxes, [0.5], [0, 1])
    with pytest.raises(InputError, match="integers"):
        Detections(boxes, [0.5, 0.2], [0.5, 1])
    with pytest.raises(InputError, match="Boxes2D, Boxes3D or Segments1D"):
        Detections(torch.zeros(2, 4), [0.5, 0.2], [0, 1])
    assert len(Detections.empty(Boxes3D)) == 0


@given(xst.detections(), st.integers(0, 10))
def test_detections_top_is_sorted_and_sized(dets, k):
    top = dets.top(k)
    assert len(top) == min(k, len(dets))
    assert bool((top.scores[:-1] >= top.scores[1:]).all())
    assert type(top.geometry) is type(dets.geometry)


def test_bounds_and_verification_result():
    with pytest.raises(InputError, match="lower <= upper"):
        Bounds(torch.ones(2), torch.zeros(2))
    with pytest.raises(InputError, match="same shape"):
        Bounds(torch.zeros(2), torch.zeros(3))
    Bounds(torch.tensor([1.0 + 1e-7]), torch.tensor([1.0]))  # round-off is tolerated
    margins = Bounds(torch.tensor([[0.1, 0.2], [-0.1, 0.3]]), torch.ones(2, 2))
    result = VerificationResult(margins, eps=0.1, norm=math.inf, method="x")
    assert result.verified.tolist() == [True, False]
    assert result.verified_error == pytest.approx(0.5)


@given(xst.bounds())
def test_bounds_contain_their_endpoints_and_midpoint(bounds):
    assert bool(bounds.contains(bounds.lower).all() & bounds.contains(bounds.upper).all())
    assert bool(bounds.contains((bounds.lower + bounds.upper) / 2).all())
    assert bool((bounds.width >= 0).all())


def test_clustering_result_validates_labels():
    ok = ClusteringResult(
        np.zeros((3, 2)), [0, 1, 1], objective=1, residual=0, iterations=1, seconds=0
    )
    assert ok.n_clusters == 2
    with pytest.raises(InputError, match="none skipped"):
        ClusteringResult(
            np.zeros((3, 2)), [0, 2, 2], objective=1, residual=0, iterations=1, seconds=0
        )
    with pytest.raises(InputError, match="integers"):
        ClusteringResult(
            np.zeros((3, 2)), [0.0, 1.0, 1.0], objective=1, residual=0, iterations=1, seconds=0
        )
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        ClusteringResult(np.zeros((3, 2)), [0, 1], objective=1, residual=0, iterations=1, seconds=0)


def test_demo_result_wants_numbers():
    assert DemoResult({"AP": 0.5}).metrics == {"AP": 0.5}
    with pytest.raises(InputError, match="str -> number"):
        DemoResult({"AP": "high"})


@pytest.mark.parametrize(
    "make",
    [
        lambda: Boxes2D(torch.zeros(1, 4, dtype=torch.complex64)),
        lambda: Boxes2D([[1j, 0, 1, 1]]),
        lambda: Boxes3D(torch.zeros(1, 7, dtype=torch.complex64)),
        lambda: Segments1D(torch.zeros(1, 2, dtype=torch.complex128)),
        lambda: PointCloud(torch.zeros(2, 3, dtype=torch.complex64)),
        lambda: PointCloud(torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.complex64)),
    ],
)
def test_complex_values_are_refused_not_silently_cast(make):
    """Casting complex to float drops the imaginary part (with only a torch warning)."""
    with pytest.raises(InputError, match="real numbers"):
        make()
