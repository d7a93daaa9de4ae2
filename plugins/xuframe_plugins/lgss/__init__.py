"""Plugin ``lgss`` (in progress, not registered yet): "A Local-to-Global Approach to
Multi-modal Movie Scene Segmentation" (Rao, Xu, Xiong et al., CVPR 2020).

Built so far: the movie-level optimal grouping (:mod:`xuframe_plugins.lgss.grouping`); the
scene metrics live in :mod:`xuframe.metrics`. The detector itself is issue 11's remaining work.
"""

from xuframe_plugins.lgss.grouping import grouping_score, optimal_grouping, scene_similarity

__all__ = ["grouping_score", "optimal_grouping", "scene_similarity"]
