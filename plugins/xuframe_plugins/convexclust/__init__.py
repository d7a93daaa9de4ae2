"""Built-in plugin ``convexclust``: "Weighted total variation based convex clustering"
(Guodong Xu, Yu Xia, Hui Ji).

Weighted-l1 convex clustering solved to a certified duality gap by a semismooth Newton
augmented Lagrangian method, its lambda path, the fusion point of known clusters, and the
exact-recovery interval of lambda.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.convexclust.recovery import RecoveryInterval, recovery_interval
from xuframe_plugins.convexclust.solver import (
    ClusteringPath,
    ConvexClustering,
    ConvexClusteringProblem,
    fuse_rows,
)
from xuframe_plugins.convexclust.weights import (
    WeightGraph,
    as_weight_graph,
    dense_weights,
    knn_weights,
    uniform_weights,
)

__all__ = [
    "ClusteringPath",
    "ConvexClustering",
    "ConvexClusteringProblem",
    "RecoveryInterval",
    "WeightGraph",
    "as_weight_graph",
    "dense_weights",
    "fuse_rows",
    "knn_weights",
    "recovery_interval",
    "uniform_weights",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(ConvexClustering)
