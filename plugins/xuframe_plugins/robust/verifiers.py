"""The five verifiers: ``ibp``, ``lbp``, ``crown-ibp``, ``crown-lbp`` and ``crown``."""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import attrs
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from xuframe import Bounds, DemoResult, VerificationResult, Verifier, config_field
from xuframe.errors import InputError
from xuframe_plugins.robust.activations import ParamRamp, Strategy
from xuframe_plugins.robust.bounds import InputSet, Method, compute_bounds
from xuframe_plugins.robust.network import Network, layer_chain

__all__ = [
    "CROWN",
    "IBP",
    "LBP",
    "BoundVerifier",
    "CrownIBP",
    "CrownLBP",
    "demo_network",
    "margin_picture",
]


def demo_network(
    seed: int = 0, activation: str = "relu"
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A seeded MLP 64-128-128-10 (ReLU or ParamRamp) and 8 seeded inputs in [0, 1] with labels."""
    gen = torch.Generator().manual_seed(seed)
    act = (
        (lambda n: ParamRamp(n, 0.01, 1.0)) if activation == "paramramp" else (lambda n: nn.ReLU())
    )
    net = nn.Sequential(
        nn.Linear(64, 128), act(128), nn.Linear(128, 128), act(128), nn.Linear(128, 10)
    )
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=gen) / math.sqrt(layer.in_features)
                )
                layer.bias.zero_()
    x = torch.rand(8, 64, generator=gen)
    with torch.no_grad():
        labels = net(x).argmax(1)
    return net.eval(), x, labels


@attrs.frozen
class BoundConfig:
    strategy: Strategy = config_field(  # noqa: RUF009
        "adaptive", doc="bounding lines: constant (IBP's), tight (Figure 1b) or adaptive (CROWN's)"
    )
    clip_min: float | None = config_field(
        None, doc="l_inf only: clip the input box from below (e.g. 0 for images)"
    )
    clip_max: float | None = config_field(
        None, doc="l_inf only: clip the input box from above (e.g. 1)"
    )


class BoundVerifier(Verifier):
    """Shared machinery of the five methods; ``method`` selects the bounding scheme.

    ``bounds`` and ``verify`` take an ``nn.Sequential`` (possibly nested) of supported layers,
    each running its class's own ``forward``; any other module raises InputError naming it by
    its path in the model, before anything runs (see :func:`~xuframe_plugins.robust.network.layer_chain`).
    """

    method: ClassVar[Method]
    norms: ClassVar[tuple[float, ...]] = (math.inf, 2.0)
    Config = BoundConfig

    def verify(
        self,
        model: nn.Module,
        x: torch.Tensor,
        labels: torch.Tensor,
        eps: float,
        *,
        norm: float = math.inf,
    ) -> VerificationResult:
        """Certify each input of ``x`` against changing the prediction away from ``labels``.

        The model's structure is checked before the forward pass that counts its outputs.
        Raises InputError as :meth:`bounds` does.
        """
        if isinstance(model, nn.Module):
            layer_chain(model)
        return super().verify(model, x, labels, eps, norm=norm)

    def _bounds(
        self, model: nn.Module, x: torch.Tensor, eps: float, norm: float, spec: torch.Tensor | None
    ) -> Bounds:
        net = Network(model, x)
        outputs = math.prod(net.out_shape)
        if spec is None:
            spec = torch.eye(outputs, dtype=x.dtype, device=x.device).expand(
                x.shape[0], outputs, outputs
            )
        elif spec.shape[2] != outputs:
            raise InputError(
                f"{self.name}: spec has {spec.shape[2]} columns, the network {outputs} outputs"
            )
        spec = spec.reshape(spec.shape[0], spec.shape[1], *net.out_shape).to(x)
        inputs = InputSet(x, eps, norm, (self.config.clip_min, self.config.clip_max))
        lower, upper = compute_bounds(net, inputs, spec, self.method, self.config.strategy)
        return Bounds(lower, upper)

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Bound a seeded 64-128-128-10 ReLU MLP on 8 inputs at eps 0.01: mean margin-bound width, verified share, time."""
        net, x, labels = demo_network(seed)
        verifier = cls()
        start = time.perf_counter()
        with torch.no_grad():
            result = verifier.verify(net, x, labels, 0.01)
        ms = 1000 * (time.perf_counter() - start)
        width = float(result.margins.width.mean())
        return DemoResult(
            {"mean_width": width, "verified": 1 - result.verified_error, "ms": ms},
            summary=(
                f"margin bounds {width:.3g} wide on average, {1 - result.verified_error:.0%} of "
                "8 inputs verified at eps 0.01; picture: each input's 9 margin intervals "
                "(green: certified > 0), the line at 0"
            ),
            headline="verified",
            picture=margin_picture(result.margins),
        )


class IBP(BoundVerifier):
    """Interval bound propagation: intervals through every layer (the fastest, the loosest)."""

    name: ClassVar[str] = "ibp"
    method: ClassVar[Method] = "ibp"


class LBP(BoundVerifier):
    """Linear bound propagation (Relaxed-CROWN-1): one forward pass of linear bounds, O(m) for m layers."""

    name: ClassVar[str] = "lbp"
    method: ClassVar[Method] = "lbp"


class CrownIBP(BoundVerifier):
    """IBP for the intermediate layers, CROWN's backward pass for the last."""

    name: ClassVar[str] = "crown-ibp"
    method: ClassVar[Method] = "crown-ibp"


class CrownLBP(BoundVerifier):
    """LBP for the intermediate layers, CROWN's backward pass for the last."""

    name: ClassVar[str] = "crown-lbp"
    method: ClassVar[Method] = "crown-lbp"


class CROWN(BoundVerifier):
    """CROWN: every intermediate layer bounded by its own backward pass (the tightest, O(m^2))."""

    name: ClassVar[str] = "crown"
    method: ClassVar[Method] = "crown"


def margin_picture(margins: Bounds, width: int = 480, row: int = 4) -> np.ndarray[Any, Any]:
    """Each input's certified margin intervals ``[lower, upper]`` (``(N, K)`` bounds on the
    true class's logit minus each other class's) as horizontal bars, one block of ``K`` bars
    per input, green where the lower bound is positive (certified), red elsewhere; the grey
    line is margin 0. An RGB uint8 array."""
    lower, upper = margins.lower.detach().cpu(), margins.upper.detach().cpu()
    n, k = lower.shape
    lo, hi = min(float(lower.min()), 0.0), max(float(upper.max()), 0.0)
    span = max(hi - lo, 1e-12)
    pad, gap = 8, 6
    height = pad * 2 + n * (k * row + gap)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def x(value: float) -> float:
        return pad + (value - lo) / span * (width - 2 * pad)

    draw.line((x(0.0), 0, x(0.0), height), fill=(160, 160, 160), width=1)
    for i in range(n):
        for j in range(k):
            y = pad + i * (k * row + gap) + j * row
            colour = (44, 160, 44) if lower[i, j] > 0 else (214, 39, 40)
            left, right = (
                x(float(lower[i, j])),
                max(x(float(upper[i, j])), x(float(lower[i, j])) + 1),
            )
            draw.rectangle((left, y, right, y + row - 2), fill=colour)
    return np.asarray(image, dtype=np.uint8)
