"""One seed for python, numpy and torch; RNG state capture and restore for checkpoints."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from xuframe.validation import check_int

__all__ = ["get_rng_state", "seed_everything", "seed_worker", "set_rng_state"]


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every GPU).

    ``seed`` is an int (numpy integers too) in ``[-2**63, 2**64)``, the range torch takes
    (numpy gets ``seed % 2**32``); anything else raises :class:`~xuframe.errors.InputError`."""
    seed = check_int(seed, "seed_everything: seed", min=-(2**63), max=2**64 - 1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoaders: seed python and numpy in a worker from torch's seed.

    torch already gives each worker the seed ``base_seed + worker_id``, drawn from the
    loader's generator; this carries it over to ``random`` and numpy, which torch leaves alone.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def get_rng_state() -> dict[str, Any]:
    """Every global RNG state, as plain data that ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` captured."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
