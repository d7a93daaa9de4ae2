"""Run by tests/engine/test_distributed.py under `torchrun --nproc_per_node=2`.

Each rank trains the same tiny model with the Trainer and saves its final parameters.
"""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for components

from components import RegressionData, Regressor

from xuframe.engine import Trainer, seed_everything

CONFIG = {
    "max_steps": 12,
    "batch_size": 16,
    "lr": 0.05,
    "optimizer": "sgd",
    "grad_clip": 5.0,
    "progress": False,
    "plot": False,
}


def train(run_dir=None):
    seed_everything(0)
    model = Regressor(dropout=0.0)
    result = Trainer(model, CONFIG, run_dir=run_dir).fit(
        RegressionData(64), RegressionData(16, seed=1)
    )
    return model, result


if __name__ == "__main__":
    out = Path(sys.argv[1])
    model, result = train(out / "run")
    rank = int(os.environ["RANK"])
    torch.save(
        {
            "params": model.state_dict(),
            "loss": result.train_metrics["loss"],
            "eval": result.eval_metrics,
        },
        out / f"rank{rank}.pt",
    )
