"""The ``votenet`` detector (issue 21): conformance, targets on a hand-made scene, the box
coding round trip, a loss that falls on one batch, and what predict returns."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.srdet import (
    Proposals,
    VoteNet,
    decode_heading,
    decode_size,
    encode_heading,
    encode_size,
    proposal_losses,
    proposal_targets,
    vote_loss,
    vote_targets,
)

#: A tiny VoteNet for fast tests: 1,024 points, 128 seeds, 32 proposals.
TINY = {
    "num_points": 1024,
    "npoints": [256, 128, 64, 32],
    "ks": [16, 8, 8, 8],
    "sa_mlps": [[16, 16, 32], [32, 32, 64], [32, 32, 64], [32, 32, 64]],
    "fp_mlps": [[64, 64], [64, 64]],
    "num_proposals": 32,
    "aggregation_mlp": [32, 32],
    "head_channels": 32,
}


def _tiny(**extra: object) -> VoteNet:
    torch.manual_seed(0)
    model = xuframe.create("detector", "votenet", **{**TINY, **extra})
    assert isinstance(model, VoteNet)
    return model


def _fast_checks() -> list:
    slow = {"check_rejects_bad_input", "check_demo"}  # both run in test_builtin_conformance
    return [c for c in checks_for(VoteNet) if c.__name__ not in slow]


def test_registered():
    assert type(xuframe.create("detector", "votenet", **TINY)) is VoteNet
    assert check_rejects_bad_input in checks_for(VoteNet)


@pytest.mark.parametrize("check", _fast_checks(), ids=lambda c: c.__name__)
def test_conformance(check):
    # the tiny instance keeps this file fast; test_builtin_conformance runs the class itself
    # (VoteNet as published) through every check
    check(_tiny())


def test_config_errors():
    with pytest.raises(ConfigError, match="mean_sizes"):
        xuframe.create("detector", "votenet", classes=("a", "b"))
    with pytest.raises(ConfigError, match="far_threshold"):
        xuframe.create("detector", "votenet", near_threshold=0.6, far_threshold=0.3)
    with pytest.raises(ConfigError, match="radii"):
        xuframe.create("detector", "votenet", radii=(0.2, 0.4))


# ------------------------------------------------------------------ targets, hand-made scene

#: Two boxes: a 2 x 1 x 1 box at (0, 0, 0.5) and a unit cube at (3, 0, 0.5) turned 45 degrees.
BOXES = Boxes3D(
    torch.tensor([[0.0, 0.0, 0.5, 2.0, 1.0, 1.0, 0.0], [3.0, 0.0, 0.5, 1.0, 1.0, 1.0, math.pi / 4]])
)


def test_vote_targets_hand_made():
    seeds = torch.tensor(
        [
            [0.9, 0.4, 0.1],  # in box 0 (inside its 2 x 1 footprint)
            [0.0, 0.6, 0.5],  # outside box 0 (half width 0.5)
            [3.6, 0.0, 0.5],  # inside box 1 only because it is turned (half diagonal 0.707)
            [3.0, 0.0, 1.2],  # above box 1
        ]
    )
    inside, centres = vote_targets(seeds, BOXES)
    assert inside.tolist() == [[True, False], [False, False], [False, True], [False, False]]
    assert torch.equal(centres, BOXES.tensor[:, :3])
    # votes: seed 0 exactly on its centre, seed 2 off by (0.1, -0.2, 0.3): L1 0.6; the
    # background seeds' votes do not count
    votes = torch.tensor([[0.0, 0.0, 0.5], [9.0, 9.0, 9.0], [3.1, -0.2, 0.8], [5.0, 5.0, 5.0]])
    loss = vote_loss(votes[None], seeds[None], [BOXES])
    assert float(loss) == pytest.approx(0.6 / 2)
    # with two votes per seed the nearer one counts
    two = torch.stack([votes, votes + 0.05], 1).reshape(1, 8, 3)
    assert float(vote_loss(two, seeds[None], [BOXES], 2)) == pytest.approx(0.3)
    # no boxes: zero, and still part of the graph
    empty = vote_loss(votes[None].requires_grad_(), seeds[None], [Boxes3D(torch.zeros(0, 7))])
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_proposal_targets_hand_made():
    xyz = torch.tensor(
        [[[0.1, 0.0, 0.5], [0.0, 0.45, 0.5], [1.5, 0.0, 0.5], [3.0, 0.2, 0.6], [0.0, 0.0, 2.0]]]
    )
    t = proposal_targets(xyz, [BOXES], near=0.3, far=0.6)
    assert t.positive.tolist() == [[True, False, False, True, False]]
    # 0.45 m from a centre is between near and far: not counted; 1.5 m and 1.5 m: negative
    assert t.counted.tolist() == [[True, False, True, True, True]]
    assert t.assigned.tolist() == [[0, 0, 0, 1, 0]]
    none = proposal_targets(xyz, [Boxes3D(torch.zeros(0, 7))])
    assert not none.positive.any() and none.counted.all()


def _proposals(centres: torch.Tensor, size_residuals: torch.Tensor, c: int) -> Proposals:
    """Hand-made axis-aligned proposals of one scene: confident objects of class 0."""
    p = len(centres)
    class_scores = torch.full((1, p, c), -10.0)
    class_scores[..., 0] = 10.0
    return Proposals(
        xyz=centres[None],
        features=torch.zeros(1, 1, p),
        objectness=torch.tensor([[-10.0, 10.0]]).repeat(1, p, 1),
        centres=centres[None],
        heading_scores=torch.zeros(1, p, 0),
        heading_residuals=torch.zeros(1, p, 0),
        size_scores=class_scores.clone(),
        size_residuals=size_residuals.reshape(1, p, c, 3),
        class_scores=class_scores,
    )


def test_proposal_losses_hand_made():
    # one 2 x 1 x 1 box of class 0 (mean size 1 x 1 x 1) and a proposal on its centre that
    # predicts the mean size: the normalised size error is (1, 0, 0), whose Huber loss is 0.5,
    # averaged over l, w, h as VoteNet does (torch.mean(huber, -1)): 1/6, not the sum 0.5
    box = Boxes3D(torch.tensor([[1.0, 2.0, 0.5, 2.0, 1.0, 1.0, 0.0]]))
    mean_sizes = torch.tensor([[1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    proposals = _proposals(torch.tensor([[1.0, 2.0, 0.5]]), torch.zeros(1, 2, 3), 2)
    targets = proposal_targets(proposals.xyz, [box])
    losses = proposal_losses(proposals, [box], [torch.tensor([0])], mean_sizes, targets)
    assert float(losses["size_reg"]) == pytest.approx(0.5 / 3)
    assert float(losses["center"]) == pytest.approx(0.0, abs=1e-12)
    assert float(losses["sem_cls"]) < 1e-6 and float(losses["size_cls"]) < 1e-6
    # the right residual (+1 in l, normalised by the mean) costs nothing
    exact = _proposals(torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([[1.0, 0, 0], [0, 0, 0]]), 2)
    losses = proposal_losses(exact, [box], [torch.tensor([0])], mean_sizes, targets)
    assert float(losses["size_reg"]) == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ box coding


@settings(max_examples=200, deadline=None)
@given(
    yaw=st.floats(-10.0, 10.0, allow_nan=False),
    bins=st.integers(1, 36),
)
def test_heading_round_trip(yaw, bins):
    b, r = encode_heading(torch.tensor([yaw], dtype=torch.float64), bins)
    assert 0 <= int(b) < bins
    assert -math.pi / bins - 1e-9 <= float(r) < math.pi / bins + 1e-9
    back = float(decode_heading(b, r, bins))
    assert -math.pi <= back < math.pi
    diff = (back - yaw + math.pi) % (2 * math.pi) - math.pi
    assert abs(diff) < 1e-9


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(
        st.tuples(*[st.floats(0.01, 10.0, allow_nan=False)] * 3), min_size=1, max_size=8
    ),
    data=st.data(),
)
def test_size_round_trip(sizes, data):
    table = torch.tensor([[1.0, 0.5, 0.8], [2.0, 1.0, 0.5], [0.4, 0.4, 0.9]], dtype=torch.float64)
    classes = torch.tensor(
        data.draw(st.lists(st.integers(0, 2), min_size=len(sizes), max_size=len(sizes)))
    )
    s = torch.tensor(sizes, dtype=torch.float64)
    residual = encode_size(s, classes, table)
    assert torch.allclose(decode_size(classes, residual, table), s, atol=1e-12)


def test_coding_bad_input():
    with pytest.raises(InputError):
        encode_heading(torch.tensor([math.nan]), 12)
    with pytest.raises(InputError):
        encode_heading(torch.tensor([0.0]), 0)
    with pytest.raises(InputError):
        encode_size(torch.ones(2, 3), torch.tensor([0, 5]), torch.ones(3, 3))


# ------------------------------------------------------------------ training and predict


def test_loss_decreases_on_one_batch():
    model = _tiny().train()
    batch = VoteNet.example_batch(2, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(12):
        losses = model.loss(batch)
        assert set(losses) == {
            "vote", "objectness", "center", "heading_cls", "heading_reg", "size_cls",
            "size_reg", "sem_cls",
        }  # fmt: skip
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    assert all(math.isfinite(v) for row in history for v in row.values())
    # the box terms count only positive proposals, which come and go while the votes
    # gather, so the total jumps; the terms every proposal or seed feeds fall steadily
    for key, factor in (("vote", 0.8), ("objectness", 0.8)):
        late = sum(row[key] for row in history[-3:]) / 3
        assert late < factor * history[0][key], (key, [row[key] for row in history])


def test_axis_aligned_has_no_heading_terms():
    model = _tiny(num_heading_bins=0).train()
    losses = model.loss(VoteNet.example_batch(2))
    assert "heading_cls" not in losses and "size_reg" in losses
    model.eval()
    found = model.predict(VoteNet.example_batch(1)["inputs"])[0]
    assert torch.all(found.geometry.tensor[:, 6] == 0)


def test_predict_outputs():
    model = _tiny(min_points=0).eval()
    batch = VoteNet.example_batch(2, seed=1)
    empty = PointCloud(torch.zeros(0, 3), torch.zeros(0, 3))
    small = PointCloud(batch["inputs"][0].xyz[:300], batch["inputs"][0].features[:300])
    out = model.predict([*batch["inputs"], empty, small])
    assert len(out) == 4
    for dets in out:
        assert isinstance(dets, Detections) and isinstance(dets.geometry, Boxes3D)
        assert dets.scores.dtype == torch.float32 and dets.labels.dtype == torch.int64
        assert torch.all((dets.scores >= 0) & (dets.scores <= 1))
        assert torch.all((dets.labels >= 0) & (dets.labels < model.num_classes))
        assert torch.all(dets.geometry.tensor[:, 3:6] > 0)
    assert len(out[2]) == 0
    # per-class proposals: every kept box once per class
    assert len(out[0]) % model.num_classes == 0 and len(out[0]) > 0
    # repeatable: a fixed subsampling seed, no randomness at predict
    again = model.predict(batch["inputs"][:1])[0]
    assert torch.equal(again.geometry.tensor, out[0].geometry.tensor)
    single = _tiny(min_points=0, per_class_proposal=False).eval().predict(batch["inputs"][:1])[0]
    assert len(single) == len(out[0]) // model.num_classes


def test_bad_batches():
    model = _tiny()
    batch = VoteNet.example_batch(2)
    with pytest.raises(InputError, match="labels"):
        model.loss({**batch, "labels": [lab.float() for lab in batch["labels"]]})
    with pytest.raises(InputError, match="zero or negative size"):
        bad = batch["boxes"][0].tensor.clone()
        bad[0, 3] = 0.0
        model.loss({**batch, "boxes": [Boxes3D(bad), batch["boxes"][1]]})
    with pytest.raises(InputError, match="list of PointCloud"):
        model.predict(batch["inputs"][0])
    with pytest.raises(InputError, match="r, g, b"):
        _tiny(use_color=True).predict([PointCloud(torch.zeros(5, 3))])
    nan = batch["inputs"][0].xyz.clone()
    nan[0, 0] = math.nan
    with pytest.raises(InputError):
        model.predict([PointCloud(nan)])


def test_ship_records_the_budget_and_the_measured_metrics(tmp_path):
    """srdet.pretrained.ship (both train_rooms examples ship through it) writes the weights
    and a manifest entry measured on the held-out rooms."""
    import json

    from xuframe_plugins.srdet import DEMO_CONFIG
    from xuframe_plugins.srdet.pretrained import ship

    model = xuframe.create("detector", "votenet", **DEMO_CONFIG).eval()
    shipped = ship(model, "t", steps=7, batch_size=2, n_train=3, seed=0, folder=str(tmp_path))
    entry = json.loads((tmp_path / "manifest.json").read_text())["weights"][0]
    assert entry["description"].startswith("7 steps of 2 rooms on 3 synthetic rooms")
    assert entry["command"].startswith("python ")
    assert 0.0 <= shipped.metrics["mAP@0.25"] <= 1.0 and "mAP@0.5" in entry["metrics"]
