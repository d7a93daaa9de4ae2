"""Built-in plugin ``srdet``: the point-based indoor 3-D detectors.

Detector ``votenet`` (VoteNet, Qi, Litany, He, Guibas, ICCV 2019: PointNet++ seeds, Hough
voting, vote clustering, bin-based box proposals, 3-D NMS), the baseline of "Suppress-and-
Refine" (SRDet). Its voting (:mod:`~xuframe_plugins.srdet.voting`), proposal
(:mod:`~xuframe_plugins.srdet.proposal`) and box coding (:mod:`~xuframe_plugins.srdet.coder`)
modules are shared with SRDet.

Detector ``srdet`` (:class:`~xuframe_plugins.srdet.model.SRDet`, Suppress-and-Refine, Liu, Xu,
Yang et al., 2021): noise suppression, VoteNet's initial proposals, refinement stages with
RoI-aware pooling, gating and self-attention, one-to-one set prediction, no NMS.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.srdet.coder import (
    axis_aligned_sizes,
    decode_heading,
    decode_size,
    encode_heading,
    encode_size,
)
from xuframe_plugins.srdet.model import ABLATIONS, SRDET_DEMO_CONFIG, SRDet
from xuframe_plugins.srdet.proposal import (
    ProposalModule,
    Proposals,
    ProposalTargets,
    decode_proposals,
    nms_3d,
    proposal_losses,
    proposal_targets,
)
from xuframe_plugins.srdet.votenet import DEMO_CONFIG, INDOOR_MEAN_SIZES, VoteNet
from xuframe_plugins.srdet.voting import Votes, VotingModule, vote_loss, vote_targets

__all__ = [
    "ABLATIONS",
    "DEMO_CONFIG",
    "INDOOR_MEAN_SIZES",
    "ProposalModule",
    "ProposalTargets",
    "Proposals",
    "SRDET_DEMO_CONFIG",
    "SRDet",
    "VoteNet",
    "Votes",
    "VotingModule",
    "axis_aligned_sizes",
    "decode_heading",
    "decode_proposals",
    "decode_size",
    "encode_heading",
    "encode_size",
    "nms_3d",
    "proposal_losses",
    "proposal_targets",
    "vote_loss",
    "vote_targets",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(VoteNet)
    registry.add(SRDet)
