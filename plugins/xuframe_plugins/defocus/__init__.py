"""Built-in plugin ``defocus``: "Removing out-of-focus blur from a single image" (Xu, Liu and
Ji), the solver ``defocus`` (:class:`~.solver.DefocusDeblur`) with its problem and result
types, the blur model (:mod:`.blur`), the defocus map estimator (:mod:`.estimate`), the
segmentation (:mod:`.segment`) and the region-wise blind deconvolution (:mod:`.deconv`).
"""

from xuframe import Registry, hookimpl
from xuframe_plugins.defocus.blur import (
    disc_kernel,
    gaussian_kernel,
    spatially_varying_blur,
    synthetic_scene,
    three_level_depth,
    two_level_halves,
)
from xuframe_plugins.defocus.deconv import blind_kernel, deconvolve_region, estimate_kernel
from xuframe_plugins.defocus.estimate import DefocusEstimate, edge_defocus, estimate_defocus
from xuframe_plugins.defocus.segment import defocus_levels, segment_defocus
from xuframe_plugins.defocus.solver import (
    DeblurProblem,
    DeblurResult,
    DefocusDeblur,
    as_float_image,
)

__all__ = [
    "DeblurProblem",
    "DeblurResult",
    "DefocusDeblur",
    "DefocusEstimate",
    "as_float_image",
    "blind_kernel",
    "deconvolve_region",
    "defocus_levels",
    "disc_kernel",
    "edge_defocus",
    "estimate_defocus",
    "estimate_kernel",
    "gaussian_kernel",
    "segment_defocus",
    "spatially_varying_blur",
    "synthetic_scene",
    "three_level_depth",
    "two_level_halves",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(DefocusDeblur)
