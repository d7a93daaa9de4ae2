"""Evaluation metrics. Each metric lives here once and every plugin uses it.

More metrics (COCO and KITTI AP, PSNR/SSIM, scene AP) arrive with the plugins that need them.
"""

from xuframe.metrics._clustering import adjusted_rand_index, contingency_table

__all__ = ["adjusted_rand_index", "contingency_table"]
