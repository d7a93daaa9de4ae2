"""Built-in plugin ``kd``: Hinton-style knowledge distillation, the baseline of the distillers,
and what they share: the softmax losses (KL, entropy; -inf logits are masked classes), small
CIFAR-style ResNets with penultimate-feature access, a FLOP counter,
and digits training helpers."""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.kd.distiller import KnowledgeDistillation
from xuframe_plugins.kd.flops import count_flops
from xuframe_plugins.kd.losses import kd_loss, softmax_entropy, softmax_kl
from xuframe_plugins.kd.nets import ResNetCifar, resnet8, resnet20, resnet56, wide_resnet

__all__ = [
    "KnowledgeDistillation",
    "ResNetCifar",
    "count_flops",
    "kd_loss",
    "resnet8",
    "resnet20",
    "resnet56",
    "softmax_entropy",
    "softmax_kl",
    "wide_resnet",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(KnowledgeDistillation)
