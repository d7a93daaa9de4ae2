"""Overhead of xuframe's Trainer over a bare PyTorch loop doing the same work.

Both train the same MLP (784-256-256-10, AdamW) on the same seeded data for the same number
of steps with the same DataLoader settings; the Trainer adds its bookkeeping (loss checks,
metric averaging, per-step logging to metrics.jsonl in the "logged" variant). Variants run
interleaved, several times, and the table shows the median time and the ratio to the bare
loop measured in the same run.

    python benchmarks/trainer_overhead.py [--steps 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.engine import Trainer, seed_everything


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"ce": F.cross_entropy(self.net(batch["x"]), batch["y"])}


class Data(torch.utils.data.Dataset):
    def __init__(self, n: int = 8192) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 784, generator=gen)
        self.y = torch.randint(0, 10, (n,), generator=gen)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def bare(steps: int, batch: int) -> float:
    seed_everything(0)
    model, data = MLP(), Data()
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    done = 0
    while done < steps:
        for b in loader:
            loss = sum(model.loss(b).values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def trainer(steps: int, batch: int, logged: bool) -> float:
    seed_everything(0)
    model, data = MLP(), Data()
    with tempfile.TemporaryDirectory() as run_dir:
        t = Trainer(
            model,
            {"max_steps": steps, "batch_size": batch, "lr": 1e-3, "progress": False, "plot": False},
            run_dir=run_dir if logged else None,
        )
        start = time.perf_counter()
        t.fit(data)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # steadier timings on a shared machine
    times: dict[str, list[float]] = {
        "bare loop": [],
        "Trainer": [],
        "Trainer + JSONL log + checkpoint": [],
    }
    for _ in range(args.repeats):
        times["bare loop"].append(bare(args.steps, args.batch))
        times["Trainer"].append(trainer(args.steps, args.batch, logged=False))
        times["Trainer + JSONL log + checkpoint"].append(
            trainer(args.steps, args.batch, logged=True)
        )
    base = statistics.median(times["bare loop"])
    print(
        f"{args.steps} steps, batch {args.batch}, MLP 784-256-256-10, 1 thread, median of {args.repeats}"
    )
    print(f"{'variant':<34} {'seconds':>8} {'ms/step':>8} {'ratio':>6}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<34} {median:8.3f} {1000 * median / args.steps:8.2f} {median / base:6.3f}")


if __name__ == "__main__":
    main()
