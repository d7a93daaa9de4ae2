"""Built-in plugin ``ttfnet``: "Training-Time-Friendly Network for Real-Time Object Detection"
(Zili Liu, Tu Zheng, Guodong Xu, Zheng Yang, Haifeng Liu, Deng Cai; AAAI 2020).

Detectors ``ttfnet-r18`` (ResNet-18, modulated deformable neck) and ``ttfnet-tiny`` (a quarter
of the width, plain convs) with TTFNet's Gaussian target encoding, focal + GIoU losses and
NMS-free decoding, on the core's 2-D detection base.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.ttfnet.layers import ModulatedDeformConv2d, ResNet18
from xuframe_plugins.ttfnet.model import TTFNet, TTFNetTiny
from xuframe_plugins.ttfnet.targets import decode_boxes, encode_targets, focal_loss, giou_loss

__all__ = [
    "ModulatedDeformConv2d",
    "ResNet18",
    "TTFNet",
    "TTFNetTiny",
    "decode_boxes",
    "encode_targets",
    "focal_loss",
    "giou_loss",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(TTFNet)
    registry.add(TTFNetTiny)
