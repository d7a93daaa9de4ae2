"""Evaluation metrics. Each metric lives here once and every plugin uses it.

Clustering agreement (ARI), COCO box mAP (``coco_map``) and the COCO
results writer, KITTI AP (2-D, BEV, 3-D), indoor 3-D mAP (``indoor_map``),
movie scene segmentation (boundary AP, mIoU, Recall, Recall@3s),
PSNR and the Frechet distance of two feature sets. (SSIM: the benchmarks use scikit-image's.)
"""

from xuframe.metrics._clustering import adjusted_rand_index, contingency_table
from xuframe.metrics._coco import (
    COCO_METRICS,
    coco_ground_truth,
    coco_map,
    coco_results,
    write_coco_results,
)
from xuframe.metrics._images import frechet_distance, psnr
from xuframe.metrics._indoor import IndoorMAP, indoor_map
from xuframe.metrics._kitti import KITTI_MIN_OVERLAP, kitti_ap
from xuframe.metrics._scenes import (
    boundaries_from_scenes,
    boundary_ap,
    boundary_recall,
    boundary_recall_at,
    scene_metrics,
    scene_miou,
    scenes_from_boundaries,
)

__all__ = [
    "COCO_METRICS",
    "IndoorMAP",
    "KITTI_MIN_OVERLAP",
    "adjusted_rand_index",
    "coco_ground_truth",
    "coco_map",
    "coco_results",
    "contingency_table",
    "frechet_distance",
    "indoor_map",
    "kitti_ap",
    "psnr",
    "write_coco_results",
    "boundaries_from_scenes",
    "boundary_ap",
    "boundary_recall",
    "boundary_recall_at",
    "scene_metrics",
    "scene_miou",
    "scenes_from_boundaries",
]
