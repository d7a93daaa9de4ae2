"""Built-in plugin ``kd``: Hinton-style knowledge distillation, the baseline of the distillers,
and what they share: small CIFAR-style ResNets with penultimate-feature access, a FLOP counter,
and digits training helpers."""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.kd.distiller import KnowledgeDistillation, kd_loss
from xuframe_plugins.kd.flops import count_flops
from xuframe_plugins.kd.nets import ResNetCifar, resnet8, resnet20, resnet56, wide_resnet

__all__ = [
    "KnowledgeDistillation",
    "ResNetCifar",
    "count_flops",
    "kd_loss",
    "resnet8",
    "resnet20",
    "resnet56",
    "wide_resnet",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(KnowledgeDistillation)
