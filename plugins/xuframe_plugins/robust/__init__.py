"""Built-in plugin ``robust``: "Towards Evaluating and Training Verifiably Robust Neural Networks"
(Lyu, Guo, Wu, Xu, Zhang, Lin; CVPR 2021).

Five verifiers (IBP, LBP, CROWN-IBP, CROWN-LBP, CROWN) with three bounding-line strategies,
and the ParamRamp activation.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.robust.activations import ParamRamp, bounding_lines
from xuframe_plugins.robust.verifiers import CROWN, IBP, LBP, BoundVerifier, CrownIBP, CrownLBP

__all__ = [
    "CROWN",
    "IBP",
    "LBP",
    "BoundVerifier",
    "CrownIBP",
    "CrownLBP",
    "ParamRamp",
    "bounding_lines",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    for cls in (IBP, LBP, CrownIBP, CrownLBP, CROWN):
        registry.add(cls)
