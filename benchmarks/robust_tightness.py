"""Tightness of the five methods under the three bounding-line strategies (the paper's Figure 3).

Two digits classifiers (MLP 64-256-256-10, ReLU): one trained normally, one trained with IBP.
For each, the mean width of the margin bounds (upper - lower of f_y - f_j, over 256 held-out
digits and the 9 other classes) per method and strategy, at several eps. Lower is tighter.
The paper's observation to check: on the IBP-trained network, CROWN-IBP with the adaptive
lines can be *looser* than IBP itself, while the tight strategy never is (Theorem 2).

    python benchmarks/robust_tightness.py
"""

from __future__ import annotations

import torch
from torch import nn

import xuframe
from xuframe import Verifier
from xuframe.engine import Trainer, seed_everything
from xuframe_plugins.robust.data import digits
from xuframe_plugins.robust.training import VerifiedTraining

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")
STRATEGIES = ("constant", "tight", "adaptive")


def train(eps: float) -> nn.Module:
    seed_everything(0)
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    model = VerifiedTraining(
        net, eps=eps, method="ibp", ramp_start=100, ramp_steps=600, kappa=(1.0, 0.5)
    )
    config = {"max_steps": 1500, "batch_size": 64, "lr": 1e-3, "progress": False, "plot": False}
    Trainer(model, config).fit(digits("train"))
    return net.eval()


def main() -> None:
    test = digits("test")
    x, y = test.images[:256], test.labels[:256]
    spec = Verifier.margin_spec(y, 10)
    for title, net, epsilons in (
        ("normally trained", train(0.0), (0.005, 0.01, 0.02)),
        ("IBP-trained (eps 0.05)", train(0.05), (0.01, 0.03, 0.05)),
    ):
        with torch.no_grad():
            accuracy = float((net(x).argmax(1) == y).float().mean())
        print(f"\n{title}: clean accuracy {accuracy:.3f}; mean margin-bound width")
        print(f"{'eps':>6} {'strategy':<9} " + " ".join(f"{m:>10}" for m in METHODS))
        for eps in epsilons:
            for strategy in STRATEGIES:
                widths = []
                for method in METHODS:
                    verifier = xuframe.create(
                        "verifier", method, strategy=strategy, clip_min=0.0, clip_max=1.0
                    )
                    with torch.no_grad():
                        widths.append(float(verifier.bounds(net, x, eps, spec=spec).width.mean()))
                print(f"{eps:>6} {strategy:<9} " + " ".join(f"{w:10.3f}" for w in widths))


if __name__ == "__main__":
    main()
