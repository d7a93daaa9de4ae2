"""Shared tensor kernels. Each kernel lives here once and every plugin calls it.

Scatter reductions; IoU and GIoU of 2-D boxes; Gaussian heatmap targets and their peaks.
Voxelization and rotated-box IoU arrive with the 3-D base.
"""

from xuframe.ops._boxes import box_giou, box_giou_aligned, box_iou, box_iou_aligned
from xuframe.ops._heatmap import draw_gaussian, gaussian_2d, gaussian_radius, heatmap_peaks
from xuframe.ops._scatter import Reduce, ScatterBackend, has_torch_scatter, scatter

__all__ = [
    "Reduce",
    "ScatterBackend",
    "box_giou",
    "box_giou_aligned",
    "box_iou",
    "box_iou_aligned",
    "draw_gaussian",
    "gaussian_2d",
    "gaussian_radius",
    "has_torch_scatter",
    "heatmap_peaks",
    "scatter",
]
