"""Built-in plugin ``lgss``: "A Local-to-Global Approach to Multi-modal Movie Scene
Segmentation" (Rao, Xu, Xiong et al., CVPR 2020), the detector ``lgss``
(:class:`~.model.SceneSegmenter`), its optimal grouping (:mod:`.grouping`), synthetic movies
(:mod:`.data`), the MovieScenes feature reader (:mod:`.moviescenes`) and training helpers
(:mod:`.training`). The scene metrics live in :mod:`xuframe.metrics`.
"""

from xuframe import Registry, hookimpl
from xuframe_plugins.lgss.data import MODALITIES, synthetic_movie, synthetic_movies
from xuframe_plugins.lgss.grouping import grouping_score, optimal_grouping, scene_similarity
from xuframe_plugins.lgss.model import AudioNet, BoundaryNet, SceneSegmenter
from xuframe_plugins.lgss.moviescenes import moviescenes_split, read_moviescenes

__all__ = [
    "MODALITIES",
    "AudioNet",
    "BoundaryNet",
    "SceneSegmenter",
    "grouping_score",
    "moviescenes_split",
    "read_moviescenes",
    "optimal_grouping",
    "scene_similarity",
    "synthetic_movie",
    "synthetic_movies",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(SceneSegmenter)
