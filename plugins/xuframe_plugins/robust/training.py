"""Verified training (IBP and CROWN-IBP) on the engine's Trainer, and verified-error evaluation.

The loss mixes the clean cross-entropy with the cross-entropy of the *worst-case logits*
that the margin lower bounds allow (Gowal et al.; Zhang et al.'s CROWN-IBP):

    z_worst = [0, -lb_1, ..., -lb_{K-1}]   (lb: lower bounds of y_true - y_other)
    loss    = kappa * CE(f(x), y) + (1 - kappa) * CE(z_worst, 0)
    lb      = beta * lb_CROWN-IBP + (1 - beta) * lb_IBP

with schedules over the optimiser steps: eps ramps linearly from 0 to ``eps`` between
``ramp_start`` and ``ramp_start + ramp_steps``; kappa goes from ``kappa[0]`` to ``kappa[1]``
and beta from ``beta[0]`` to ``beta[1]`` over the same ramp. ``method="ibp"`` uses beta = 0.
``negative_slope=(a, b)`` also moves the left slope of every ParamRamp and LeakyReLU from a to
b over the ramp (the paper's "ParamRamp(0.01~0)").
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from xuframe import Verifier
from xuframe.errors import InputError
from xuframe.validation import (
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_memory,
    memory_limit,
)
from xuframe_plugins.robust.activations import ParamRamp, Strategy
from xuframe_plugins.robust.bounds import (
    InputSet,
    Method,
    check_clip,
    compute_bounds,
    ibp_and_crown_ibp,
)
from xuframe_plugins.robust.network import Network, check_network_input, layer_chain
from xuframe_plugins.robust.verifiers import _elements_per_input

__all__ = ["VerifiedTraining", "verified_errors"]


def _unit_pair(value: Any, what: str, *, below_one: bool = False) -> tuple[float, float]:
    """``value`` as a pair of numbers in [0, 1] ([0, 1) with ``below_one``)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"{what}: expected a pair (start, end) of numbers, got {value!r}")
    pair = tuple(check_float(v, f"{what}[{i}]", min=0.0, max=1.0) for i, v in enumerate(value))
    if below_one and max(pair) >= 1:
        raise InputError(f"{what}: expected numbers >= 0 and < 1, got {pair}")
    return pair[0], pair[1]


def _batch(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, Mapping) or "x" not in batch or "y" not in batch:
        shown = sorted(map(str, batch)) if isinstance(batch, Mapping) else type(batch).__name__
        raise InputError(f"batch: expected a mapping with keys 'x' and 'y', got {shown}")
    return batch["x"], batch["y"]


def _labels(y: Any, x: torch.Tensor, out: Network | tuple[int, ...]) -> torch.Tensor:
    """``y`` checked as the labels of ``x`` for a classifier with outputs ``out`` ``(K,)``."""
    shape = out.out_shape if isinstance(out, Network) else out
    if len(shape) != 1:
        raise InputError(
            f"the model: expected outputs of shape (N, K) (class scores), got per-sample "
            f"outputs of shape {shape}"
        )
    return check_labels(y, "y", n=x.shape[0], n_classes=shape[0]).to(x.device)


def _ramp(step: int, start: int, length: int) -> float:
    if length <= 0:
        return 1.0 if step >= start else 0.0
    return min(1.0, max(0.0, (step - start) / length))


class VerifiedTraining(nn.Module):
    """Wraps a classifier so the :class:`~xuframe.engine.Trainer` trains it to be verifiably robust.

    Batches are ``{"x": images, "y": labels}``. The step counter is a buffer, so the schedules
    resume with the checkpoint. ``model`` must be a network the verifiers can read (an
    ``nn.Sequential`` of supported layers running their classes' own ``forward``; see
    :func:`~xuframe_plugins.robust.network.layer_chain`): anything else raises InputError naming
    the module, here and before each robust loss. Dropout counts as the identity in the bounds
    (they bound the network as evaluated in eval mode); BatchNorm is refused in training mode.

    ``eps`` is a finite radius >= 0 in the units of the inputs; ``ramp_start`` and
    ``ramp_steps`` ints >= 0 (optimiser steps); ``kappa`` and ``beta`` pairs ``(start, end)``
    in [0, 1]; ``clip`` the data range ``(clip_min, clip_max)`` (numbers or None,
    ``clip_min < clip_max``), which every batch's ``x`` must lie in; ``negative_slope`` None or
    a pair in [0, 1). Anything else raises InputError here, before training starts.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float,
        method: Literal["ibp", "crown-ibp"] = "crown-ibp",
        ramp_start: int = 0,
        ramp_steps: int = 1000,
        kappa: tuple[float, float] = (1.0, 0.5),
        beta: tuple[float, float] = (1.0, 0.0),
        strategy: Strategy = "adaptive",
        clip: tuple[float | None, float | None] = (0.0, 1.0),
        negative_slope: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        eps = check_float(eps, "eps", min=0.0)
        method = check_choice(method, "method", ("ibp", "crown-ibp"))
        ramp_start = check_int(ramp_start, "ramp_start", min=0)
        ramp_steps = check_int(ramp_steps, "ramp_steps", min=0)
        kappa = _unit_pair(kappa, "kappa")
        beta = _unit_pair(beta, "beta")
        strategy = check_choice(strategy, "strategy", typing.get_args(Strategy))
        clip = check_clip(clip)
        if negative_slope is not None:
            negative_slope = _unit_pair(negative_slope, "negative_slope", below_one=True)
        layer_chain(model, eval_dropout=True, check_modes=False)
        self.model = model
        self.eps, self.method, self.strategy, self.clip = eps, method, strategy, clip
        self.ramp_start, self.ramp_steps = ramp_start, ramp_steps
        self.kappa, self.beta = kappa, beta
        self.negative_slope = negative_slope
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))

    def schedule(self, step: int | None = None) -> dict[str, float]:
        """eps, kappa, beta (and the annealed negative slope) at ``step`` (an int >= 0; default:
        the current step). Raises InputError for another ``step``."""
        step = int(self.step) if step is None else check_int(step, "step", min=0)
        t = _ramp(step, self.ramp_start, self.ramp_steps)
        beta = (
            self.beta[0] + t * (self.beta[1] - self.beta[0]) if self.method == "crown-ibp" else 0.0
        )
        out = {
            "eps": self.eps * t,
            "kappa": self.kappa[0] + t * (self.kappa[1] - self.kappa[0]),
            "beta": beta,
        }
        if self.negative_slope is not None:
            a, b = self.negative_slope
            out["negative_slope"] = a + t * (b - a)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out

    def margin_lower_bounds(
        self, x: torch.Tensor, y: torch.Tensor, eps: float, beta: float
    ) -> torch.Tensor:
        """``(B, K-1)`` lower bounds of ``f(x')_y - f(x')_j`` over the eps-ball, mixed by beta.

        ``x`` is a batch the model takes (checked as the verifiers check it), ``y`` its ``B``
        integer labels in ``[0, K)``, ``eps`` a finite radius >= 0 and ``beta`` in ``[0, 1]``
        (the CROWN-IBP share). Raises InputError, before any work, for anything else.

        The bounds are computed in pieces of the batch that fit
        :func:`~xuframe.validation.memory_limit` (each input's bounds depend on it alone, so
        the pieces give the same bounds; gradients flow through every piece); a model whose
        bounds for one input alone would not fit is refused up front with the reason.
        """
        eps = check_float(eps, "eps", min=0.0)
        beta = check_float(beta, "beta", min=0.0, max=1.0)
        net = Network(self.model, x, eval_dropout=True)
        y = _labels(y, x, net)
        classes = math.prod(net.out_shape)
        spec = Verifier.margin_spec(y.cpu(), classes).to(x)
        method: Method = "ibp" if beta <= 0 else "crown-ibp"
        per_input = x.element_size() * _elements_per_input(net, classes - 1, method, math.inf)
        check_memory(
            per_input,
            f"margin_lower_bounds of one input (shape {net.in_shape}, {method}, "
            f"{classes - 1} margins)",
        )
        chunk = max(1, memory_limit() // max(per_input, 1))
        pieces = []
        for start in range(0, x.shape[0], chunk):
            part = x if chunk >= x.shape[0] else x[start : start + chunk]
            inputs = InputSet(part, eps, math.inf, self.clip)
            part_spec = spec[start : start + chunk]
            if beta <= 0:
                lower, _ = compute_bounds(net, inputs, part_spec, "ibp", self.strategy)
                pieces.append(lower)
                continue
            (ibp, _), (crown, _) = ibp_and_crown_ibp(
                net, inputs, part_spec, self.strategy
            )  # one interval pass
            pieces.append(beta * crown + (1 - beta) * ibp)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The clean (and, once eps and kappa allow, the robust) cross-entropy of ``batch``.

        ``batch`` is a mapping with ``"x"``, a batch the model takes (as the verifiers check
        it), and ``"y"``, its integer labels. Everything is checked before the model runs;
        raises InputError for anything else.
        """
        x, y = _batch(batch)
        s = self.schedule()
        robust = s["eps"] > 0 and s["kappa"] < 1
        # refuse a model the bounds cannot read, and a batch it cannot take, before the clean pass
        chain = layer_chain(self.model, eval_dropout=True, check_modes=robust)
        shapes = check_network_input(chain, x)
        y = _labels(y, x, shapes[-1])
        low, high = self.clip
        if (low is not None and float(x.min()) < low) or (
            high is not None and float(x.max()) > high
        ):
            raise InputError(
                f"x: expected values in the data range clip=({low}, {high}), got values in "
                f"[{float(x.min()):g}, {float(x.max()):g}]; pass the range of your data as clip "
                "(None for no bound)"
            )
        if "negative_slope" in s:  # the paper's ParamRamp(0.01~0): anneal the left slope with eps
            for module in self.model.modules():
                if isinstance(module, (ParamRamp, nn.LeakyReLU)):
                    module.negative_slope = s["negative_slope"]
        clean = F.cross_entropy(self.model(x), y)
        losses = {"clean": s["kappa"] * clean}
        if robust:
            lower = self.margin_lower_bounds(x, y, s["eps"], s["beta"])
            worst = torch.cat([torch.zeros_like(lower[:, :1]), -lower], dim=1)
            losses["robust"] = (1 - s["kappa"]) * F.cross_entropy(worst, torch.zeros_like(y))
        if self.training:
            self.step += 1
        return losses


def verified_errors(
    model: nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    eps: float,
    verifier: Verifier,
) -> dict[str, float]:
    """Clean error and verified error (share of inputs not certified at eps) over ``batches``.

    ``batches``: an iterable of mappings ``{"x": inputs, "y": integer labels}``; ``eps``: a
    finite radius >= 0; ``verifier``: a :class:`~xuframe.Verifier`. Each batch is verified
    before the model runs on it, so a verifier that refuses the model or the batch (the robust
    ones: InputError naming the module, or what the model expects) does so before any work.
    Raises InputError for such arguments and for no data.
    """
    if not isinstance(verifier, Verifier):
        raise InputError(f"verifier: expected a Verifier, got {type(verifier).__name__}")
    if isinstance(batches, Mapping) or not isinstance(batches, Iterable):
        raise InputError(
            f"batches: expected an iterable of {{'x': ..., 'y': ...}} batches, got "
            f"{type(batches).__name__}"
        )
    eps = check_float(eps, "eps", min=0.0)
    wrong = unverified = total = 0
    with torch.no_grad():
        for batch in batches:
            x, y = _batch(batch)
            unverified += int((~verifier.verify(model, x, y, eps).verified).sum())
            y = check_labels(y, "y", n=len(x)).to(x.device)
            wrong += int((model(x).argmax(1) != y).sum())
            total += len(y)
    if total == 0:
        raise InputError("verified_errors: no data")
    return {"clean_error": wrong / total, "verified_error": unverified / total}
