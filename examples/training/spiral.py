"""Train a small classifier on two interleaved spirals with xuframe's Trainer, and plot the run.

    python examples/training/spiral.py [--steps 1500]      # about 5 seconds on a laptop CPU
    xuframe train examples/training/spiral.toml            # the same run, from a TOML file
    torchrun --nproc_per_node=2 -m xuframe train examples/training/spiral.toml

Writes runs/spiral/ (metrics.jsonl, checkpoints/, plots/metrics.png). The functions below are
what spiral.toml names as "spiral:make_model", "spiral:make_data" and "spiral:accuracy".
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SpiralNet(nn.Module):
    """An MLP classifier; ``loss(batch)`` is all the Trainer needs."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"ce": F.cross_entropy(self(batch["x"]), batch["y"])}


class Spirals(torch.utils.data.Dataset):
    """``n`` points on two noisy spirals, labelled by spiral (seeded)."""

    def __init__(self, n: int = 1024, noise: float = 0.08, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        t = torch.rand(n, generator=gen) * 3 * math.pi + 0.5
        label = torch.randint(0, 2, (n,), generator=gen)
        angle = t + math.pi * label
        self.x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1) / 10
        self.x += noise * torch.randn(n, 2, generator=gen)
        self.y = label

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def make_model(hidden: int = 64) -> SpiralNet:
    return SpiralNet(hidden)


def make_data(n: int = 1024, seed: int = 0) -> Spirals:
    return Spirals(n, seed=seed)


def accuracy(model: nn.Module, loader: Any) -> dict[str, float]:
    correct = total = 0
    for batch in loader:
        correct += int((model(batch["x"]).argmax(1) == batch["y"]).sum())
        total += len(batch["y"])
    return {"accuracy": correct / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--run-dir", default="runs/spiral", help="where the run is written")
    args = parser.parse_args()

    from xuframe.engine import Trainer, mean_losses, seed_everything

    seed_everything(0)
    trainer = Trainer(
        make_model(),
        {
            "max_steps": args.steps,
            "batch_size": 64,
            "lr": 3e-3,
            "schedule": "cosine",
            "warmup_steps": min(50, args.steps // 10),
            "eval_every": max(1, min(150, args.steps)),
        },
        run_dir=args.run_dir,
        evaluators=[mean_losses, accuracy],
    )
    result = trainer.fit(make_data(), make_data(512, seed=1))
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return
    print(
        f"{result.steps} steps in {result.seconds:.1f} s: eval accuracy {result.eval_metrics['accuracy']:.3f}"
    )
    print(f"run folder: {args.run_dir}")
    curves = Path(args.run_dir) / "plots" / "metrics.png"
    if curves.exists():  # the Trainer plots when matplotlib (the plot extra) is installed
        print(f"curves: {curves}")
    sys.exit(0 if result.eval_metrics["accuracy"] > 0.9 else 1)


if __name__ == "__main__":
    main()
