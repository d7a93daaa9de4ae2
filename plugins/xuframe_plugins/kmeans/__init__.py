"""Built-in plugin ``kmeans``: k-means clustering (Lloyd's algorithm with k-means++ seeding).

The classical baseline that the convex-clustering solver is measured against, and the
smallest complete example of a built-in plugin.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.kmeans.solver import KMeans, KMeansProblem

__all__ = ["KMeans", "KMeansProblem"]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(KMeans)
