"""The six verifiers: ``ibp``, ``lbp``, ``crown-ibp``, ``crown-lbp``, ``crown`` and ``alpha-crown``.

A plain chain (an ``nn.Sequential`` of torch.nn layers, see
:func:`~xuframe_plugins.robust.graph.is_plain_chain`) is bounded by the chain path
(:mod:`~xuframe_plugins.robust.bounds`); any other model, and every model under
``alpha-crown``, by the graph path (:mod:`~xuframe_plugins.robust.graph_bounds`), which gives
the same bounds on chains (to 1e-6, tested).
"""

from __future__ import annotations

import math
import time
import typing
from typing import Any, ClassVar

import attrs
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from xuframe import Bounds, DemoResult, VerificationResult, Verifier, config_field
from xuframe.errors import ConfigError, InputError
from xuframe.validation import (
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_memory,
    check_tensor,
    memory_limit,
)
from xuframe_plugins.robust.activations import ParamRamp, Strategy
from xuframe_plugins.robust.bounds import InputSet, Method, check_clip, compute_bounds
from xuframe_plugins.robust.graph import Graph, is_plain_chain
from xuframe_plugins.robust.graph_bounds import GraphMethod, graph_bounds, graph_elements
from xuframe_plugins.robust.network import Affine, Network, all_finite

__all__ = [
    "CROWN",
    "IBP",
    "LBP",
    "AlphaCROWN",
    "BoundVerifier",
    "CrownIBP",
    "CrownLBP",
    "demo_network",
    "margin_picture",
]


def demo_network(
    seed: int = 0, activation: str = "relu"
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A seeded MLP 64-128-128-10 (``activation`` ``"relu"`` or ``"paramramp"``) and 8 seeded
    inputs in [0, 1] with labels. Raises InputError for a ``seed`` that is not an int in
    ``[0, 2**64)`` or another activation."""
    seed = check_int(seed, "seed", min=0, max=2**64 - 1)
    check_choice(activation, "activation", ("relu", "paramramp"))
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


def _check_strategy(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_choice(value, attribute.name, typing.get_args(Strategy), error=ConfigError)


def _check_clip_end(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_float(value, attribute.name, error=ConfigError)


@attrs.frozen
class BoundConfig:
    strategy: Strategy = config_field(  # noqa: RUF009
        "adaptive",
        doc="bounding lines: constant (IBP's), tight (Figure 1b) or adaptive (CROWN's)",
        validator=_check_strategy,
    )
    clip_min: float | None = config_field(
        None,
        doc="l_inf only: clip the input box from below (e.g. 0 for images)",
        validator=_check_clip_end,
    )
    clip_max: float | None = config_field(
        None,
        doc="l_inf only: clip the input box from above (e.g. 1); above clip_min",
        validator=_check_clip_end,
    )

    def __attrs_post_init__(self) -> None:
        check_clip((self.clip_min, self.clip_max), what="clip_min, clip_max", error=ConfigError)


class BoundVerifier(Verifier):
    """Shared machinery of the six methods; ``method`` selects the bounding scheme.

    ``bounds`` and ``verify`` take a plain ``nn.Sequential`` (possibly nested) of supported
    layers, each running its class's own ``forward`` (read by
    :func:`~xuframe_plugins.robust.network.layer_chain`), or any other model whose computation
    graph ``torch.fx`` traces into supported operations (residual additions, concatenation,
    reshapes, pooling, ...; read by :class:`~xuframe_plugins.robust.graph.Graph`). A module or
    operation the bounds cannot read raises InputError naming it (its path in the model, or
    the operation and its fx node), before any bound is computed. Everything else is checked
    before anything runs too (see :meth:`bounds`).
    """

    method: ClassVar[GraphMethod]
    norms: ClassVar[tuple[float, ...]] = (math.inf, 2.0)
    Config = BoundConfig

    def bounds(
        self,
        model: nn.Module,
        x: torch.Tensor,
        eps: float,
        *,
        norm: float = math.inf,
        spec: torch.Tensor | None = None,
    ) -> Bounds:
        """Bounds on ``model``'s outputs (or on ``spec @ outputs``) over the ball ``B_p(x, eps)``.

        ``model``: a chain or a graph of supported operations (see the class). ``x``: a finite
        floating batch ``(B, ...)`` of the model's dtype and device whose per-sample shape the
        model takes. ``eps``: a finite radius >= 0 in the units of ``x`` (a Python or numpy
        number or a one-element tensor). ``norm``: ``math.inf`` or ``2``. ``spec``: ``(B, S, K)``
        for K outputs, or None for the outputs themselves. The bounds are ``(B, S)`` (``(B, K)``
        without a spec). With ``clip_min`` and ``clip_max`` both set (l_inf), any finite eps
        works: past the range's span the clipped box is the whole range. These checks are a
        superset of :meth:`xuframe.Verifier.bounds`'s.

        Raises:
            InputError: before anything runs, for a model the bounds cannot read, an ``x`` that
                does not fit it (naming the input the model expects), an ``eps``, ``norm`` or
                ``spec`` outside these rules, an ``x`` farther than eps outside the clip range;
                and, after the pass, when the bounds overflow ``x``'s dtype (a ball too large
                for this network in that precision) instead of returning inf or NaN.
        """
        net, inputs = self._checked(model, x, eps, norm)
        checked = None if spec is None else self._check_spec(spec, x, net)
        return self._compute(net, inputs, checked)

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

        ``labels``: ``B`` integer class labels (a tensor, array or sequence), each in
        ``[0, K)`` for a model with ``K`` outputs per sample (of shape ``(N, K)``). Everything,
        model, ``x``, ``labels``, ``eps`` and ``norm``, is checked before anything runs (the
        model never runs: the number of classes comes from its layers' settings); raises
        InputError as :meth:`bounds` does and for such labels.
        """
        net, inputs = self._checked(model, x, eps, norm)
        if len(net.out_shape) != 1:
            raise InputError(
                f"the model: expected outputs of shape (N, K) (class scores) to verify labels, "
                f"got per-sample outputs of shape {net.out_shape}; end it with nn.Flatten()"
            )
        classes = net.out_shape[0]
        if classes < 2:
            raise InputError(
                f"the model: expected at least 2 outputs (classes) to verify labels, got {classes}"
            )
        checked = check_labels(labels, "labels", n=x.shape[0], n_classes=classes)
        spec = self.margin_spec(checked.cpu(), classes).to(x.device, x.dtype)
        margins = self._compute(net, inputs, spec)
        return VerificationResult(margins, inputs.requested_eps, inputs.norm, self.name)

    def _checked(self, model: Any, x: Any, eps: Any, norm: Any) -> tuple[Network | Graph, InputSet]:
        """The network (a chain or a graph) and the input set, every argument checked; nothing runs."""
        eps = check_float(eps, "eps", min=0.0)
        norm = check_float(norm, "norm", finite=False)
        if norm not in self.norms:
            listed = ", ".join(f"{n:g}" for n in self.norms)
            raise InputError(f"norm: expected one of {listed}, got {norm:g}")
        chain = not isinstance(model, nn.Module) or is_plain_chain(model)
        net = Network(model, x) if chain and self.method != "alpha-crown" else Graph(model, x)
        return net, InputSet(x, eps, norm, (self.config.clip_min, self.config.clip_max))

    def _graph_options(self) -> dict[str, Any]:
        """Extra arguments of :func:`~xuframe_plugins.robust.graph_bounds.graph_bounds`."""
        return {}

    def _check_spec(self, value: Any, x: torch.Tensor, net: Network | Graph) -> torch.Tensor:
        outputs = math.prod(net.out_shape)
        spec = check_tensor(value, "spec", dtype=x.dtype)
        if spec.dim() != 3 or spec.shape[0] != x.shape[0] or spec.shape[2] != outputs:
            raise InputError(
                f"spec: expected shape (B={x.shape[0]}, S, K={outputs}) (K: the network's "
                f"outputs), got {tuple(spec.shape)}; spec has "
                f"{spec.shape[-1] if spec.dim() else 0} columns, the network {outputs} outputs"
            )
        if spec.device != x.device:
            raise InputError(
                f"spec: expected a tensor on {x.device} (as x), got one on {spec.device}"
            )
        return spec

    def _compute(self, net: Network | Graph, inputs: InputSet, spec: torch.Tensor | None) -> Bounds:
        """The bounds, in pieces of the batch small enough for memory (each input's bounds are
        computed alone in effect); refused up front when one input alone would not fit."""
        x = inputs.x
        outputs = math.prod(net.out_shape)
        rows = outputs if spec is None else spec.shape[1]
        size = x.element_size()
        if spec is None:
            check_memory(size * outputs**2, f"the identity spec for {outputs} network outputs")
        if isinstance(net, Graph):
            per_input = size * graph_elements(net, rows, self.method)
            widest = max(math.prod(node.shape) for node in net.nodes)
        else:
            chain_method = typing.cast(Method, self.method)
            per_input = size * _elements_per_input(net, rows, chain_method, inputs.norm)
            widest = _widest(net)
        check_memory(
            per_input,
            f"{self.name} bounds of one input (shape {net.in_shape}, widest layer "
            f"{widest} neurons, {rows} spec rows)",
        )
        chunk = max(1, memory_limit() // max(per_input, 1))
        if spec is None:
            spec = torch.eye(outputs, dtype=x.dtype, device=x.device).expand(
                x.shape[0], outputs, outputs
            )
        spec = spec.reshape(spec.shape[0], spec.shape[1], *net.out_shape)
        pieces = []
        clip = (self.config.clip_min, self.config.clip_max)
        for start in range(0, x.shape[0], chunk):
            part = (
                inputs
                if chunk >= x.shape[0]
                else InputSet(x[start : start + chunk], inputs.requested_eps, inputs.norm, clip)
            )
            part_spec = spec[start : start + chunk] if spec.shape[0] > 1 else spec
            if isinstance(net, Graph):
                pieces.append(
                    graph_bounds(
                        net,
                        part,
                        part_spec,
                        self.method,
                        self.config.strategy,
                        **self._graph_options(),
                    )
                )
            else:
                pieces.append(
                    compute_bounds(
                        net, part, part_spec, typing.cast(Method, self.method), self.config.strategy
                    )
                )
        lower = torch.cat([p[0] for p in pieces]) if len(pieces) > 1 else pieces[0][0]
        upper = torch.cat([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
        if not (all_finite(lower) and all_finite(upper)):
            raise InputError(
                f"x, eps: expected a ball whose bounds fit {x.dtype} for this network, got "
                f"bounds that overflow (eps={inputs.requested_eps:g}, largest |x| "
                f"{float(x.abs().max()):.3g}); a smaller eps, both clip_min and clip_max "
                "(l_inf), smaller weights or float64 would do"
            )
        return Bounds(lower, upper)

    def _bounds(
        self, model: nn.Module, x: torch.Tensor, eps: float, norm: float, spec: torch.Tensor | None
    ) -> Bounds:
        return self.bounds(model, x, eps, norm=norm, spec=spec)

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


def _widest(net: Network) -> int:
    sizes = [math.prod(net.in_shape)]
    sizes += [math.prod(op.out_shape) for op in net.ops if isinstance(op, Affine)]
    return max(sizes)


#: how many tensors of the largest size one bounding pass keeps alive at once (lower and
#: upper sides, their temporaries); the estimate errs on the large side
_ALIVE = 8


def _elements_per_input(net: Network, rows: int, method: Method, norm: float) -> int:
    """An upper estimate of the tensor elements the bounds of one input need at once.

    IBP keeps intervals of the widest layer; the CROWN backward pass coefficients of every
    spec row on it; LBP linear functions of every input coordinate on it; CROWN's
    intermediate passes one row per neuron of a layer on the widest one; a composite matrix
    of the affine layers before the first activation (l_2, or more than one non-diagonal map)
    has an input coordinate by a neuron.
    """
    widest, inputs = _widest(net), math.prod(net.in_shape)
    largest = widest
    if method != "ibp":
        largest = max(largest, rows * widest)
    if method in ("lbp", "crown-lbp"):
        largest = max(largest, inputs * widest)
    if method == "crown":
        largest = max(largest, widest * widest)
    if net.activations:
        first = net.activations[0]
        before = [op for op in net.ops[:first] if isinstance(op, Affine)]
        if norm != math.inf or sum(not op.diagonal for op in before) > 1:
            largest = max(largest, inputs * math.prod(net.ops[first].shape))  # type: ignore[union-attr]
    return _ALIVE * largest


class IBP(BoundVerifier):
    """Interval bound propagation: intervals through every layer (the fastest, the loosest)."""

    name: ClassVar[str] = "ibp"
    method: ClassVar[GraphMethod] = "ibp"


class LBP(BoundVerifier):
    """Linear bound propagation (Relaxed-CROWN-1): one forward pass of linear bounds, O(m) for m layers."""

    name: ClassVar[str] = "lbp"
    method: ClassVar[GraphMethod] = "lbp"


class CrownIBP(BoundVerifier):
    """IBP for the intermediate layers, CROWN's backward pass for the last."""

    name: ClassVar[str] = "crown-ibp"
    method: ClassVar[GraphMethod] = "crown-ibp"


class CrownLBP(BoundVerifier):
    """LBP for the intermediate layers, CROWN's backward pass for the last."""

    name: ClassVar[str] = "crown-lbp"
    method: ClassVar[GraphMethod] = "crown-lbp"


class CROWN(BoundVerifier):
    """CROWN: every intermediate layer bounded by its own backward pass (O(m^2))."""

    name: ClassVar[str] = "crown"
    method: ClassVar[GraphMethod] = "crown"


def _check_count(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_int(value, attribute.name, min=0, error=ConfigError)


def _check_rate(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_float(value, attribute.name, min=0.0, min_open=True, error=ConfigError)


@attrs.frozen
class AlphaConfig(BoundConfig):
    iterations: int = config_field(
        20, doc="Adam steps on the lower slopes (0: plain CROWN)", validator=_check_count
    )
    lr: float = config_field(
        0.5, doc="Adam's learning rate on the slopes in [0, 1]", validator=_check_rate
    )
    early_stop: int = config_field(
        10,
        doc="stop after this many iterations without a better bound (0: never)",
        validator=_check_count,
    )


class AlphaCROWN(BoundVerifier):
    """alpha-CROWN: CROWN with the lower slopes of unstable ReLU / LeakyReLU neurons in the last
    backward pass optimised per neuron and per output (Adam, projected to [0, 1]), keeping the
    best bound seen: never looser than CROWN, sound at every iteration. Every model takes the
    graph path. See :func:`~xuframe_plugins.robust.graph_bounds.alpha_crown`."""

    name: ClassVar[str] = "alpha-crown"
    method: ClassVar[GraphMethod] = "alpha-crown"
    Config = AlphaConfig

    def _graph_options(self) -> dict[str, Any]:
        config = self.config
        assert isinstance(config, AlphaConfig)
        return {"iterations": config.iterations, "lr": config.lr, "early_stop": config.early_stop}


def margin_picture(margins: Bounds, width: int = 480, row: int = 4) -> np.ndarray[Any, Any]:
    """Each input's certified margin intervals ``[lower, upper]`` (``(N, K)`` bounds on the
    true class's logit minus each other class's) as horizontal bars, one block of ``K`` bars
    per input, green where the lower bound is positive (certified), red elsewhere; the grey
    line is margin 0. ``width`` (pixels, >= 32) and ``row`` (pixels per bar, >= 2) are ints.
    An RGB uint8 array ``(H, width, 3)``.

    Raises InputError for ``margins`` that are not non-empty finite ``Bounds`` of shape
    ``(N, K)``, other ``width`` or ``row``, or a picture too large for memory.
    """
    if not isinstance(margins, Bounds):
        raise InputError(f"margins: expected Bounds, got {type(margins).__name__}")
    check_tensor(margins.lower, "margins.lower", ndim=2, non_empty=True)
    check_tensor(margins.upper, "margins.upper", ndim=2, non_empty=True)
    width = check_int(width, "width", min=32)
    row = check_int(row, "row", min=2)
    lower, upper = margins.lower.detach().cpu(), margins.upper.detach().cpu()
    n, k = lower.shape
    check_memory(3.0 * width * (16 + n * (k * row + 6)), f"a margin picture of {n} x {k} bars")
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
