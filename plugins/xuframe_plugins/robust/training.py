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
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from xuframe import Verifier
from xuframe.errors import InputError
from xuframe_plugins.robust.activations import ParamRamp, Strategy
from xuframe_plugins.robust.bounds import InputSet, compute_bounds, ibp_and_crown_ibp
from xuframe_plugins.robust.network import Network, layer_chain

__all__ = ["VerifiedTraining", "verified_errors"]


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
        if method not in ("ibp", "crown-ibp"):
            raise InputError(
                f"verified training: expected method 'ibp' or 'crown-ibp', got {method!r}"
            )
        if not (eps >= 0 and math.isfinite(eps)):
            raise InputError(f"verified training: expected eps >= 0, got {eps}")
        if not isinstance(model, nn.Module):
            raise InputError(
                f"verified training: expected model to be a torch.nn.Module, got {type(model).__name__}"
            )
        layer_chain(model, eval_dropout=True, check_modes=False)
        self.model = model
        self.eps, self.method, self.strategy, self.clip = eps, method, strategy, clip
        self.ramp_start, self.ramp_steps = ramp_start, ramp_steps
        self.kappa, self.beta = kappa, beta
        self.negative_slope = negative_slope
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))

    def schedule(self, step: int | None = None) -> dict[str, float]:
        """eps, kappa, beta (and the annealed negative slope) at ``step`` (default: the current step)."""
        t = _ramp(int(self.step) if step is None else step, self.ramp_start, self.ramp_steps)
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
        """``(B, K-1)`` lower bounds of ``f(x')_y - f(x')_j`` over the eps-ball, mixed by beta."""
        net = Network(self.model, x, eval_dropout=True)
        spec = Verifier.margin_spec(y, math.prod(net.out_shape)).to(x)
        inputs = InputSet(x, eps, math.inf, self.clip)
        if beta <= 0:
            lower, _ = compute_bounds(net, inputs, spec, "ibp", self.strategy)
            return lower
        (ibp, _), (crown, _) = ibp_and_crown_ibp(
            net, inputs, spec, self.strategy
        )  # one interval pass
        return beta * crown + (1 - beta) * ibp

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        s = self.schedule()
        robust = s["eps"] > 0 and s["kappa"] < 1
        if robust:  # refuse a model the bounds cannot read before the clean pass
            layer_chain(self.model, eval_dropout=True)
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

    Each batch is verified before the model runs on it, so a verifier that refuses the model
    (the robust ones: InputError naming the module) does so before any work.
    """
    wrong = unverified = total = 0
    with torch.no_grad():
        for batch in batches:
            x, y = batch["x"], batch["y"]
            unverified += int((~verifier.verify(model, x, y, eps).verified).sum())
            wrong += int((model(x).argmax(1) != y).sum())
            total += len(y)
    if total == 0:
        raise InputError("verified_errors: no data")
    return {"clean_error": wrong / total, "verified_error": unverified / total}
