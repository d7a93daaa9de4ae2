"""SRDet's noise suppression: votes scaled by each seed's foreground probability.

"Suppress-and-Refine Framework for End-to-End 3D Object Detection" (Liu, Xu, Yang et al.,
2021), its suppression step: from each seed the network predicts an offset towards the centre
of its object, two foreground/background logits and a feature residual (the official
``NoiseSuppressionModule``). The vote is the seed moved by the offset *scaled by the seed's
foreground probability* (the softmax of the two logits), so background seeds (the noise)
stay where they are instead of cluttering the object centres, and the pooling that follows
(:func:`~xuframe_plugins.srdet.roi_pool.roi_aware_max_pool`) sees clean clusters.

Training: the vote loss (the official ``ChamferDistance(mode="l1")`` between each foreground
seed's vote and the centres of the boxes it lies in, the nearest one counted: VoteNet's vote
loss, :func:`~xuframe_plugins.srdet.voting.vote_loss`, on the suppressed votes) and the
foreground loss (cross-entropy of the two logits against "lies in a box", the background class
weighted 0.2). The official ScanNet weights are 10 for the vote loss and 3 for the foreground
loss; they belong to the model's configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.ops import points_in_boxes
from xuframe.types import Boxes3D
from xuframe.validation import check_float, check_tensor
from xuframe_plugins.srdet.voting import vote_loss

__all__ = ["foreground_probability", "suppress_votes", "suppression_losses"]


def foreground_probability(logits: torch.Tensor) -> torch.Tensor:
    """``(B, S)`` probability that each seed lies on an object: the softmax of its two logits
    ``logits`` ``(B, S, 2)`` (background, foreground), taken at the foreground entry. Raises
    :class:`~xuframe.errors.InputError` for a non-tensor, another shape, a non-floating dtype,
    NaN or infinity."""
    logits = check_tensor(logits, "foreground_probability(logits)", shape=(None, None, 2))
    return torch.softmax(logits, dim=-1)[..., 1]


def suppress_votes(
    seed_xyz: torch.Tensor, offsets: torch.Tensor, foreground: torch.Tensor
) -> torch.Tensor:
    """The suppressed votes ``(B, S, 3)``: ``seed + foreground * offset``.

    ``seed_xyz`` ``(B, S, 3)`` are the seeds (metres), ``offsets`` ``(B, S, 3)`` the predicted
    offsets to their objects' centres and ``foreground`` ``(B, S)`` their foreground
    probabilities in ``[0, 1]`` (:func:`foreground_probability`). A seed of probability 0
    does not move (its vote equals the seed exactly), one of probability 1 moves by its whole
    offset. Differentiable in all three. Raises :class:`~xuframe.errors.InputError` for
    non-tensors, other shapes, non-floating dtypes, NaN or infinity, or probabilities outside
    ``[0, 1]``.
    """
    what = "suppress_votes"
    seed_xyz = check_tensor(seed_xyz, f"{what}(seed_xyz)", shape=(None, None, 3))
    shape = tuple(seed_xyz.shape)
    offsets = check_tensor(offsets, f"{what}(offsets)", shape=shape)
    foreground = check_tensor(foreground, f"{what}(foreground)", shape=shape[:2])
    if foreground.numel() and bool(((foreground < 0) | (foreground > 1)).any()):
        raise InputError(f"{what}(foreground): expected probabilities in [0, 1]")
    return seed_xyz + foreground.unsqueeze(-1) * offsets


def _boxes(boxes: Any, b: int, what: str) -> list[Boxes3D]:
    if not isinstance(boxes, Sequence) or isinstance(boxes, (str, bytes)):
        raise InputError(
            f"{what}(boxes): expected a list of Boxes3D, one per scene, got {type(boxes).__name__}"
        )
    if len(boxes) != b:
        raise InputError(f"{what}(boxes): expected {b} entries (one per scene), got {len(boxes)}")
    for i, box in enumerate(boxes):
        if not isinstance(box, Boxes3D):
            raise InputError(f"{what}(boxes)[{i}]: expected Boxes3D, got {type(box).__name__}")
    return list(boxes)


def suppression_losses(
    vote_xyz: torch.Tensor,
    seed_xyz: torch.Tensor,
    foreground_logits: torch.Tensor,
    boxes: Sequence[Boxes3D],
    *,
    background_weight: float = 0.2,
) -> dict[str, torch.Tensor]:
    """The suppression step's losses: ``{"vote": ..., "foreground": ...}``, two scalars.

    - ``vote``: for every seed inside a box (faces included), the L1 distance (summed over
      ``x, y, z``) of its vote to the nearest centre of the boxes it lies in, averaged over
      those seeds of the batch (0 when there is none): the official Chamfer vote loss, which
      equals :func:`~xuframe_plugins.srdet.voting.vote_loss` with one vote per seed. Pass the
      *suppressed* votes (:func:`suppress_votes`), so the loss also teaches the foreground
      probability to let object seeds move.
    - ``foreground``: the cross-entropy of ``foreground_logits`` against "the seed lies in a
      box", the background class weighted ``background_weight`` and the foreground 1,
      averaged with those weights (``torch.nn.functional.cross_entropy``'s weighted mean).

    ``vote_xyz`` and ``seed_xyz`` are ``(B, S, 3)``, ``foreground_logits`` ``(B, S, 2)``
    (background, foreground), ``boxes`` one :class:`~xuframe.Boxes3D` per scene in the same
    frame (a scene may have none), ``background_weight`` in ``[0, 1]`` (with 0, a batch whose
    seeds all lie outside the boxes has foreground loss 0).
    Raises :class:`~xuframe.errors.InputError` for anything else.
    """
    what = "suppression_losses"
    seed_xyz = check_tensor(seed_xyz, f"{what}(seed_xyz)", shape=(None, None, 3))
    b, s = int(seed_xyz.shape[0]), int(seed_xyz.shape[1])
    vote_xyz = check_tensor(vote_xyz, f"{what}(vote_xyz)", shape=(b, s, 3))
    logits = check_tensor(foreground_logits, f"{what}(foreground_logits)", shape=(b, s, 2))
    scenes = _boxes(boxes, b, what)
    weight = check_float(background_weight, f"{what}(background_weight)", min=0.0, max=1.0)
    if b == 0 or s == 0:
        zero = (vote_xyz.sum() + logits.sum()) * 0.0
        return {"vote": zero, "foreground": zero.clone()}
    target = torch.stack(
        [
            points_in_boxes(seed_xyz[i].detach(), scenes[i]).any(1)
            if len(scenes[i])
            else torch.zeros(s, dtype=torch.bool, device=seed_xyz.device)
            for i in range(b)
        ]
    ).long()
    class_weight = logits.new_tensor([weight, 1.0])
    total = class_weight[target].sum()
    if float(total) > 0:
        foreground = F.cross_entropy(logits.transpose(1, 2), target, weight=class_weight)
    else:
        foreground = logits.sum() * 0.0
    return {"vote": vote_loss(vote_xyz, seed_xyz, scenes), "foreground": foreground}
