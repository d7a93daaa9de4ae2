"""The ``srdet`` detector (issue 22): conformance on a tiny instance, every ablation builds and
runs, training on two rooms lowers the loss and lands the NMS-free detections on their
objects, bad input answered as ``votenet`` answers it."""

from __future__ import annotations

import math

import pytest
import torch

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe.testing import check_rejects_bad_input, checks_for
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.srdet import ABLATIONS, SRDET_DEMO_CONFIG, SRDet
from xuframe_plugins.srdet.overfit import covered_objects, overfit_rooms
from xuframe_plugins.srdet.refine import apply_deltas

#: A tiny SRDet for fast tests.
TINY = {
    **SRDET_DEMO_CONFIG,
    "num_points": 1024,
    "npoints": [128, 64, 32, 16],
    "ks": [8, 8, 8, 8],
    "num_candidates": 16,
    "num_proposals": 8,
}


def _tiny(**extra: object) -> SRDet:
    torch.manual_seed(0)
    model = xuframe.create("detector", "srdet", **{**TINY, **extra})
    assert isinstance(model, SRDet)
    return model


def _fast_checks() -> list:
    slow = {"check_rejects_bad_input", "check_demo"}  # both run in test_builtin_conformance
    return [c for c in checks_for(SRDet) if c.__name__ not in slow]


def test_registered():
    assert type(xuframe.create("detector", "srdet", **TINY)) is SRDet
    assert check_rejects_bad_input in checks_for(SRDet)


@pytest.mark.parametrize("check", _fast_checks(), ids=lambda c: c.__name__)
def test_conformance(check):
    check(_tiny())


def test_config_errors():
    with pytest.raises(ConfigError, match="mean_sizes"):
        xuframe.create("detector", "srdet", classes=("a", "b"))
    with pytest.raises(ConfigError, match="stage_weights"):
        xuframe.create("detector", "srdet", num_stages=2)
    with pytest.raises(ConfigError, match="num_proposals"):
        xuframe.create("detector", "srdet", num_candidates=64, num_proposals=128)
    with pytest.raises(ConfigError, match="attention_heads"):
        xuframe.create("detector", "srdet", embed_dim=30, attention_heads=8)
    with pytest.raises(ConfigError, match="assignment"):
        xuframe.create("detector", "srdet", assignment="greedy")
    with pytest.raises(ConfigError, match="dropout"):
        xuframe.create("detector", "srdet", dropout=1.0)


def test_apply_deltas_zero_is_identity():
    boxes = torch.tensor([[1.0, 2.0, 0.5, 2.0, 1.0, 0.8, 0.3]])
    assert torch.equal(apply_deltas(boxes, torch.zeros(1, 7)), boxes)
    moved = apply_deltas(boxes, torch.tensor([[2.0, 0, 0, math.log(2), 0, 0, 0.1]]))
    assert moved[0, 0] == pytest.approx(3.0)  # + d / 2 * l
    assert moved[0, 3] == pytest.approx(4.0)  # * exp(d)
    assert moved[0, 6] == pytest.approx(0.4)


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablations_build_and_run(name):
    model = _tiny(**ABLATIONS[name]).train()
    batch = SRDet.example_batch(2)
    losses = model.loss(batch)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert ("foreground" in losses) == model.config.suppression
    model.eval()
    assert model.stage.gating == model.config.gating
    assert (model.stage.self_attn is not None) == model.config.attention
    found = model.predict(batch["inputs"])
    assert len(found) == 2 and all(isinstance(d, Detections) for d in found)


def test_stage_weights_scale_the_stage_losses():
    batch = SRDet.example_batch(2)
    with torch.no_grad():
        base = _tiny(stage_weights=[1.0, 1.0]).eval().loss(batch)
        off = _tiny(stage_weights=[0.0, 0.0]).eval().loss(batch)
    for key in ("class", "center", "size", "iou", "corner"):
        assert float(off[key]) == 0.0
        assert float(base[key]) > 0.0
    assert float(off["vote"]) == pytest.approx(float(base["vote"]))


@pytest.fixture(scope="module")
def overfit():
    # the demo's model on two rooms: 200 Adam steps (about 25 s on one busy CPU thread)
    return overfit_rooms(SRDET_DEMO_CONFIG, steps=200)


def test_training_lowers_the_loss(overfit):
    _, _, losses = overfit
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.5 * first


def test_overfit_detections_land_on_their_objects(overfit):
    model, batch, _ = overfit
    found = model.predict(batch["inputs"])
    total = sum(len(b) for b in batch["boxes"])
    # each object: is one of the scene's 2 M best detections (M objects) over IoU 0.25 with it?
    covered = sum(
        covered_objects(d, b, top=2 * len(b)) for d, b in zip(found, batch["boxes"], strict=True)
    )
    assert total >= 4
    assert covered >= math.ceil(2 * total / 3)
    # and the best detections are confident: no NMS needed for the objects to stand out
    for d, b in zip(found, batch["boxes"], strict=True):
        assert float(d.scores[: len(b)].min()) > 0.3


def test_predict_outputs():
    model = _tiny(score_threshold=0.0).eval()
    batch = SRDet.example_batch(2)
    empty = PointCloud(torch.zeros(0, 3))
    found = model.predict([*batch["inputs"], empty])
    assert len(found) == 3
    assert len(found[2]) == 0
    d = found[0]
    assert isinstance(d.geometry, Boxes3D)
    assert len(d) == min(model.config.max_detections, 8 * model.num_classes)
    assert bool((d.scores >= 0).all() and (d.scores <= 1).all())
    assert bool((d.labels >= 0).all() and (d.labels < model.num_classes).all())
    assert bool((d.geometry.tensor[:, 3:6] > 0).all())
    again = model.predict(batch["inputs"][:1])[0]
    assert torch.equal(again.scores, d.scores)


def test_bad_batches():
    model = _tiny().train()
    batch = SRDet.example_batch(2)
    with pytest.raises(InputError, match="batch mapping"):
        model.loss([1, 2])
    with pytest.raises(InputError, match="'labels'"):
        model.loss({"inputs": batch["inputs"], "boxes": batch["boxes"]})
    nan = batch["inputs"][0].xyz.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(InputError):
        model.loss({**batch, "inputs": [PointCloud(nan), batch["inputs"][1]]})
    with pytest.raises(InputError, match="points to train on"):
        model.loss({**batch, "inputs": [PointCloud(torch.zeros(0, 3)), batch["inputs"][1]]})
    flat = batch["boxes"][0].tensor.clone()
    flat[0, 3] = 0.0
    with pytest.raises(InputError, match="zero or negative size"):
        model.loss({**batch, "boxes": [Boxes3D(flat), batch["boxes"][1]]})
    with pytest.raises(InputError):
        model.loss({**batch, "labels": [batch["labels"][0] + 100, batch["labels"][1]]})
    with pytest.raises(InputError):
        model.predict(batch["inputs"][0])
    with pytest.raises(InputError):
        model.predict([])
    with pytest.raises(InputError, match="r, g, b"):
        _tiny(use_color=True).predict([PointCloud(batch["inputs"][0].xyz)])
    # a scene without objects trains (every proposal learns "nothing")
    none = {**batch, "boxes": [Boxes3D(torch.zeros(0, 7)), batch["boxes"][1]],
            "labels": [torch.zeros(0, dtype=torch.int64), batch["labels"][1]]}  # fmt: skip
    assert torch.isfinite(sum(model.loss(none).values()))
