"""xuframe's value types: frozen, validated attrs classes that cross module boundaries.

All are re-exported from :mod:`xuframe`; this module exists so the types can be found in one place.
"""

from xuframe.types._geometry import Boxes2D, Boxes3D, Geometry, PointCloud, Segments1D
from xuframe.types._results import (
    Bounds,
    ClusteringResult,
    DemoResult,
    Detections,
    VerificationResult,
)

__all__ = [
    "Geometry",
    "Boxes2D",
    "Boxes3D",
    "Segments1D",
    "PointCloud",
    "Detections",
    "Bounds",
    "VerificationResult",
    "ClusteringResult",
    "DemoResult",
]
