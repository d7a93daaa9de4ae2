"""VoteNet's voting: each seed votes for the centre of the object it lies on.

Shared by ``votenet`` and SRDet: :class:`VotingModule` (seed point and feature -> vote point
and feature) and :func:`vote_loss` (the distance of each foreground seed's vote to the centre
of its object).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from xuframe.errors import ConfigError, InputError
from xuframe.ops import points_in_boxes
from xuframe.types import Boxes3D
from xuframe.validation import check_int, check_tensor

__all__ = ["Votes", "VotingModule", "vote_loss", "vote_targets"]


class Votes(NamedTuple):
    """The votes of a batch: ``xyz`` ``(B, S V, 3)`` the voted centres (metres), ``features``
    ``(B, C, S V)`` their features (unit length per vote when normalised), ``offsets`` ``(B,
    S V, 3)`` the vote minus its seed; vote ``s V + v`` is seed ``s``'s ``v``-th vote."""

    xyz: torch.Tensor
    features: torch.Tensor
    offsets: torch.Tensor


class VotingModule(nn.Module):
    """VoteNet's voting module: per seed, two shared layers (1x1 conv, batch norm, ReLU) of
    ``channels`` then a 1x1 conv to ``votes_per_seed`` x (3 offsets + ``channels`` feature
    residuals); the vote is the seed plus its offset, its feature the seed's plus the residual,
    divided by its L2 norm with ``normalize``.

    ``channels`` (int >= 1) is the seed feature width, ``votes_per_seed`` (int >= 1) VoteNet's
    vote factor (1). Raises :class:`~xuframe.errors.ConfigError` for anything else."""

    def __init__(self, channels: int, votes_per_seed: int = 1, *, normalize: bool = True) -> None:
        super().__init__()
        self.channels = check_int(channels, "VotingModule: channels", min=1, error=ConfigError)
        self.votes_per_seed = check_int(
            votes_per_seed, "VotingModule: votes_per_seed", min=1, max=64, error=ConfigError
        )
        if not isinstance(normalize, bool):
            raise ConfigError(f"VotingModule: normalize: expected a bool, got {normalize!r}")
        self.normalize = normalize
        c = self.channels
        self.layers = nn.Sequential(
            nn.Conv1d(c, c, 1), nn.BatchNorm1d(c), nn.ReLU(inplace=True),
            nn.Conv1d(c, c, 1), nn.BatchNorm1d(c), nn.ReLU(inplace=True),
            nn.Conv1d(c, (3 + c) * self.votes_per_seed, 1),
        )  # fmt: skip

    def forward(self, seed_xyz: torch.Tensor, seed_features: torch.Tensor) -> Votes:
        """The :class:`Votes` of seeds ``seed_xyz`` ``(B, S, 3)`` with features
        ``seed_features`` ``(B, channels, S)`` (finite, the module's dtype). Raises
        :class:`~xuframe.errors.InputError` for anything else, before any work."""
        first = self.layers[0]
        assert isinstance(first, nn.Conv1d)
        ref = first.weight
        xyz = check_tensor(
            seed_xyz, "VotingModule: seed_xyz", shape=(None, None, 3), dtype=ref.dtype
        )
        b, s = int(xyz.shape[0]), int(xyz.shape[1])
        feats = check_tensor(
            seed_features,
            "VotingModule: seed_features",
            shape=(b, self.channels, s),
            dtype=ref.dtype,
        )
        if self.training and b * s < 2:
            raise InputError("VotingModule: batch norm in training mode needs 2 or more seeds")
        v, c = self.votes_per_seed, self.channels
        out = self.layers(feats).transpose(1, 2).reshape(b, s, v, 3 + c)
        offsets = out[..., :3]
        votes = (xyz[:, :, None, :] + offsets).reshape(b, s * v, 3)
        features = (feats.transpose(1, 2)[:, :, None, :] + out[..., 3:]).reshape(b, s * v, c)
        if self.normalize:
            features = features / features.norm(dim=2, keepdim=True).clamp_min(1e-12)
        return Votes(votes, features.transpose(1, 2).contiguous(), offsets.reshape(b, s * v, 3))


def vote_targets(seed_xyz: torch.Tensor, boxes: Boxes3D) -> tuple[torch.Tensor, torch.Tensor]:
    """Which seeds of one scene vote, and for what: ``(inside, centres)`` with ``inside``
    ``(S, M)`` bool (seed ``s`` lies in box ``m``, faces included; a seed may lie in several
    boxes, as VoteNet keeps up to three votes per point) and ``centres`` ``(M, 3)`` the boxes'
    centres. ``seed_xyz`` is ``(S, 3)``."""
    return points_in_boxes(seed_xyz, boxes), boxes.tensor[:, :3].to(seed_xyz)


def vote_loss(
    vote_xyz: torch.Tensor,
    seed_xyz: torch.Tensor,
    boxes: Sequence[Boxes3D],
    votes_per_seed: int = 1,
) -> torch.Tensor:
    """VoteNet's vote loss: for every seed inside an object's box, the smallest L1 distance
    (summed over ``x, y, z``) between any of its ``votes_per_seed`` votes and the centre of any
    box it lies in, averaged over those seeds of the batch (0 when there is none).

    ``vote_xyz`` is ``(B, S votes_per_seed, 3)``, ``seed_xyz`` ``(B, S, 3)`` and ``boxes`` one
    :class:`~xuframe.Boxes3D` per scene in the same frame."""
    b, s = int(seed_xyz.shape[0]), int(seed_xyz.shape[1])
    votes = vote_xyz.reshape(b, s, votes_per_seed, 3)
    total = vote_xyz.sum() * 0.0
    count = 0
    for i in range(b):
        if len(boxes[i]) == 0:
            continue
        inside, centres = vote_targets(seed_xyz[i].detach(), boxes[i])
        fg = inside.any(1)
        if not bool(fg.any()):
            continue
        # (S_fg, V, M): L1 distance of each vote to each box centre; boxes not holding the
        # seed are excluded
        d = (votes[i][fg][:, :, None, :] - centres[None, None]).abs().sum(-1)
        d = d.masked_fill(~inside[fg][:, None, :], float("inf"))
        total = total + d.flatten(1).min(1).values.sum()
        count += int(fg.sum())
    return total / max(count, 1)
