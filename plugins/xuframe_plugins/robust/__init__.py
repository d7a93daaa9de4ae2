"""Built-in plugin ``robust``: "Towards Evaluating and Training Verifiably Robust Neural Networks"
(Lyu, Guo, Wu, Xu, Zhang, Lin; CVPR 2021).

Six verifiers (IBP, LBP, CROWN-IBP, CROWN-LBP, CROWN, alpha-CROWN) with three bounding-line
strategies, on chains of layers and on general computation graphs read with torch.fx, and the
ParamRamp activation.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.robust.activations import ParamRamp, bounding_lines
from xuframe_plugins.robust.verifiers import (
    CROWN,
    IBP,
    LBP,
    AlphaCROWN,
    BoundVerifier,
    CrownIBP,
    CrownLBP,
)

__all__ = [
    "CROWN",
    "IBP",
    "LBP",
    "AlphaCROWN",
    "BoundVerifier",
    "CrownIBP",
    "CrownLBP",
    "ParamRamp",
    "bounding_lines",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    for cls in (IBP, LBP, CrownIBP, CrownLBP, CROWN, AlphaCROWN):
        registry.add(cls)
