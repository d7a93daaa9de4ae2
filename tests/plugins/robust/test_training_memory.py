"""Issue 20: VerifiedTraining.margin_lower_bounds works in pieces of the batch that fit the
memory limit (the same bounds and gradients) and refuses up front a model whose bounds for one
input alone cannot fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xuframe.errors import InputError
from xuframe_plugins.robust.training import VerifiedTraining


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
    )


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_margin_lower_bounds_in_pieces_equal_the_whole_batch(
    beta: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    vt = VerifiedTraining(_model(), eps=0.1)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    whole = vt.margin_lower_bounds(x, y, 0.05, beta)
    (grad_whole,) = torch.autograd.grad(whole.sum(), vt.model[1].weight)
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(100_000))  # one or two inputs at a time
    pieces = vt.margin_lower_bounds(x, y, 0.05, beta)
    (grad_pieces,) = torch.autograd.grad(pieces.sum(), vt.model[1].weight)
    assert pieces.shape == (16, 9)
    torch.testing.assert_close(pieces, whole)
    torch.testing.assert_close(grad_pieces, grad_whole)


def test_margin_lower_bounds_of_one_input_too_large_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vt = VerifiedTraining(_model(), eps=0.1)
    monkeypatch.setenv("XUFRAME_MAX_BYTES", "1000")
    with pytest.raises(InputError, match="margin_lower_bounds of one input .* would need"):
        vt.margin_lower_bounds(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), 0.05, 0.5)
