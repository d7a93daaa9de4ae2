"""SSKD's shipped stage 1: the projection head of the digits teacher.

Stage 1 of SSKD trains a projection head on the frozen teacher (:meth:`SelfSupervisedKD.prepare`),
hundreds of steps on four rotated views of every image: too slow for a demo of seconds. The
head trained on the shipped digits teacher (:func:`xuframe_plugins.kd.pretrained.pretrained_teacher`)
ships in this plugin's ``weights/`` folder, as the teacher does (float16, SHA-256, the command
that made it, its metric; see :mod:`xuframe_plugins.kd.pretrained`). It is made by
``python examples/distill/digits_teacher.py --export-weights digits``.
"""

from __future__ import annotations

import torch
from torch import nn

from xuframe_plugins.kd.pretrained import TEACHER_SIZE, load_network, pretrained_teacher
from xuframe_plugins.sskd.distiller import ProjectionHead, rotations, similarity_matrix

__all__ = ["HEAD_NAME", "evaluate", "pretrained_teacher_head"]

#: The name of the digits teacher's projection head in sskd's manifest.
HEAD_NAME = "teacher-head"


def pretrained_teacher_head(tag: str = "digits") -> ProjectionHead:
    """The shipped projection head of the shipped ``tag`` teacher (``dim`` 64), in eval mode;
    load it into a distiller with ``sskd.teacher_head.load_state_dict(head.state_dict())``.
    Raises :class:`~xuframe.errors.InputError` for an unknown tag."""
    head = load_network("xuframe_plugins.sskd", HEAD_NAME, tag, ProjectionHead)
    assert isinstance(head, ProjectionHead)
    return head


@torch.no_grad()
def evaluate(head: nn.Module, tag: str = "digits", batch_size: int = 64) -> dict[str, float]:
    """Stage 1's task on the 450 held-out digits: the fraction of rotated views (90, 180, 270
    degrees) whose most similar upright image, by ``head`` on the shipped ``tag`` teacher's
    features, is their own, among batches of ``batch_size`` (the last partial batch dropped):
    ``contrastive_accuracy`` (chance is ``1 / batch_size``)."""
    from xuframe.data import digits

    teacher = pretrained_teacher(tag)
    images = digits("test", size=TEACHER_SIZE).images
    right = total = 0
    for i in range(0, len(images) - batch_size + 1, batch_size):
        x = images[i : i + batch_size]
        _, feature = teacher.forward_features(rotations(x))
        rep = head(feature)
        sim = similarity_matrix(rep[len(x) :], rep[: len(x)])
        target = torch.arange(len(x)).repeat(3)
        right += int((sim.argmax(1) == target).sum())
        total += len(target)
    return {"contrastive_accuracy": right / max(1, total)}
