"""PSNR and the Frechet distance in xuframe.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xuframe.errors import InputError
from xuframe.metrics import frechet_distance, psnr


def test_psnr_matches_its_definition_for_arrays_and_tensors():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 0.1)
    assert psnr(b, a) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert psnr(torch.tensor(b) * 2, torch.tensor(a), data_range=2.0) == pytest.approx(20.0)
    assert psnr(a, a) == math.inf
    with pytest.raises(InputError, match="one shape"):
        psnr(a, np.zeros((4, 5)))
    with pytest.raises(InputError, match="data_range"):
        psnr(a, b, data_range=0)


def test_frechet_distance_of_gaussians_with_known_moments():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(x, x + 1.0) == pytest.approx(3.0, rel=1e-9)  # shifted means only
    # N(0, I) vs N(0, 4 I): tr(I + 4 I - 2 * 2 I) = d, up to sampling error
    assert frechet_distance(x, 2 * rng.normal(size=(4000, 3))) == pytest.approx(3.0, rel=0.1)
    with pytest.raises(InputError, match=r"\(N, d\)"):
        frechet_distance(x, x[:, :2])
