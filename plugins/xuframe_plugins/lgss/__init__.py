"""Plugin ``lgss`` (in progress, not registered yet): "A Local-to-Global Approach to
Multi-modal Movie Scene Segmentation" (Rao, Xu, Xiong et al., CVPR 2020).

Built so far, each tested: the movie-level optimal grouping (:mod:`.grouping`), seeded
synthetic movies (:mod:`.data`), the MovieScenes feature reader (:mod:`.moviescenes`), and
the detector :class:`~.model.SceneSegmenter` (BNet,
Bi-LSTM, modality mixing, class-weighted loss, grouping in ``predict``); the scene metrics
live in :mod:`xuframe.metrics`. Issue 11's remaining work: registration with a demo,
harder synthetic movies, the benchmark, the example and the docs page.
"""

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
