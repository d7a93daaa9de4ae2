"""Evaluation metrics. Each metric lives here once and every plugin uses it.

Clustering agreement (ARI), COCO box mAP (``coco_map``, with the ``coco`` extra) and the COCO
results writer. KITTI AP, PSNR/SSIM and scene AP arrive with the plugins that need them.
"""

from xuframe.metrics._clustering import adjusted_rand_index, contingency_table
from xuframe.metrics._coco import (
    COCO_METRICS,
    coco_ground_truth,
    coco_map,
    coco_results,
    write_coco_results,
)

__all__ = [
    "COCO_METRICS",
    "adjusted_rand_index",
    "coco_ground_truth",
    "coco_map",
    "coco_results",
    "contingency_table",
    "write_coco_results",
]
