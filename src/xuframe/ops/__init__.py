"""Shared tensor kernels. Each kernel lives here once and every plugin calls it.

Scatter reductions; IoU and GIoU of 2-D boxes; Gaussian heatmap targets and their peaks;
exact rotated BEV and 3-D IoU, rotated BEV and 3-D NMS; voxelization, pillarization and BEV scatter;
box encoding for anchor-free BEV heads; points in oriented 3-D boxes; PointNet++'s furthest
point sampling, ball query, k nearest neighbours and three-NN interpolation.
"""

from xuframe.ops._bev_codec import decode_bev_boxes, encode_bev_boxes
from xuframe.ops._boxes import box_giou, box_giou_aligned, box_iou, box_iou_aligned
from xuframe.ops._heatmap import draw_gaussian, gaussian_2d, gaussian_radius, heatmap_peaks
from xuframe.ops._point_sampling import (
    ball_query,
    furthest_point_sample,
    knn,
    three_nn_interpolate,
)
from xuframe.ops._points import points_in_boxes
from xuframe.ops._rotated import bev_corners, bev_iou, boxes3d_iou, nms_3d, rotated_nms
from xuframe.ops._scatter import Reduce, ScatterBackend, has_torch_scatter, scatter
from xuframe.ops._voxel import Voxels, pillarize, scatter_to_bev, voxelize

__all__ = [
    "Reduce",
    "ScatterBackend",
    "Voxels",
    "bev_corners",
    "bev_iou",
    "ball_query",
    "boxes3d_iou",
    "decode_bev_boxes",
    "box_giou",
    "box_giou_aligned",
    "box_iou",
    "box_iou_aligned",
    "draw_gaussian",
    "encode_bev_boxes",
    "furthest_point_sample",
    "gaussian_2d",
    "gaussian_radius",
    "has_torch_scatter",
    "heatmap_peaks",
    "knn",
    "nms_3d",
    "pillarize",
    "points_in_boxes",
    "rotated_nms",
    "scatter",
    "scatter_to_bev",
    "three_nn_interpolate",
    "voxelize",
]
