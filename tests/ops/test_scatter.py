from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from xuframe.errors import InputError
from xuframe.ops import has_torch_scatter, scatter

REDUCES = ["sum", "mean", "max", "min"]


def naive(src, index, dim_size, reduce):
    out = torch.zeros((dim_size, *src.shape[1:]), dtype=src.dtype)
    for j in range(dim_size):
        rows = src[index == j]
        if len(rows):
            out[j] = {
                "sum": rows.sum(0),
                "mean": rows.mean(0),
                "max": rows.amax(0),
                "min": rows.amin(0),
            }[reduce]
    return out


cases = st.tuples(
    st.integers(0, 40), st.integers(1, 8), st.integers(1, 3), st.integers(0, 2**31 - 1)
)


def _make(n, dim_size, channels, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, generator=gen), torch.randint(0, dim_size, (n,), generator=gen)


@pytest.mark.parametrize("reduce", REDUCES)
@given(case=cases)
def test_native_matches_a_loop(reduce, case):
    n, dim_size, channels, seed = case
    src, index = _make(n, dim_size, channels, seed)
    torch.testing.assert_close(
        scatter(src, index, dim_size, reduce, backend="native"), naive(src, index, dim_size, reduce)
    )


@pytest.mark.skipif(not has_torch_scatter(), reason="torch-scatter is not installed (tox -e det3d)")
@pytest.mark.parametrize("reduce", REDUCES)
@given(case=cases)
def test_backends_agree(reduce, case):
    n, dim_size, channels, seed = case
    src, index = _make(n, dim_size, channels, seed)
    a = scatter(src, index, dim_size, reduce, backend="native")
    b = scatter(src, index, dim_size, reduce, backend="torch-scatter")
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradients_flow(reduce):
    src = torch.randn(10, 2, requires_grad=True)
    index = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2, 4])
    scatter(src, index, 5, reduce).sum().backward()
    assert src.grad is not None and bool(torch.isfinite(src.grad).all())


def test_bad_input():
    src = torch.zeros(3, 2)
    with pytest.raises(InputError, match=r"index\): expected shape \(3,\)"):
        scatter(src, torch.zeros(2, dtype=torch.int64), 4)
    with pytest.raises(InputError, match="int64"):
        scatter(src, torch.zeros(3, dtype=torch.int32), 4)
    with pytest.raises(InputError, match="0 .. 3"):
        scatter(src, torch.tensor([0, 1, 4]), 4)
    with pytest.raises(InputError, match=r"reduce\): expected one of 'sum'"):
        scatter(src, torch.tensor([0, 1, 2]), 4, "median")  # type: ignore[arg-type]
    if not has_torch_scatter():
        with pytest.raises(InputError, match="det3d extra"):
            scatter(src, torch.tensor([0, 1, 2]), 4, backend="torch-scatter")
