"""Train a ParamRamp and a ReLU network with CROWN-IBP on scikit-learn's digits; compare verified error.

The paper's claim (Sec. 4): replacing ReLU by ParamRamp lowers the verified error. Both
networks are the same MLP 64-256-256-10, trained from the same seed with the same schedule:
eps ramps from 0 to EPS over the first half of training, kappa 1 -> 0.5, beta 1 -> 0 (CROWN-IBP).
Verified error is measured with CROWN-IBP (and IBP) at EPS on the held-out digits.

    python examples/robust/train_verified_digits.py [--steps 3000] [--eps 0.05]

Takes a few minutes on a laptop CPU; writes runs/verified-digits-{relu,paramramp}/.
"""

from __future__ import annotations

import argparse

from torch import nn

import xuframe
from xuframe.engine import Trainer, seed_everything
from xuframe_plugins.robust import ParamRamp
from xuframe_plugins.robust.data import digits
from xuframe_plugins.robust.training import VerifiedTraining, verified_errors


def network(activation: str) -> nn.Sequential:
    def act(n: int) -> nn.Module:
        return (
            ParamRamp(n, negative_slope=0.01, r_init=1.0)
            if activation == "paramramp"
            else nn.ReLU()
        )

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 256),
        act(256),
        nn.Linear(256, 256),
        act(256),
        nn.Linear(256, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument(
        "--anneal-slope",
        action="store_true",
        help="ParamRamp(0.01~0): left slope 0.01 -> 0 over the ramp",
    )
    args = parser.parse_args()
    train, test = digits("train"), digits("test")
    test_batches = [
        {"x": test.images[i : i + 128], "y": test.labels[i : i + 128]}
        for i in range(0, len(test), 128)
    ]
    rows = []
    for activation in ("relu", "paramramp"):
        seed_everything(0)
        slope = (0.01, 0.0) if args.anneal_slope and activation == "paramramp" else None
        model = VerifiedTraining(
            network(activation),
            eps=args.eps,
            ramp_start=args.steps // 10,
            ramp_steps=args.steps // 2,
            negative_slope=slope,
        )
        Trainer(
            model,
            {
                "max_steps": args.steps,
                "batch_size": 64,
                "lr": 1e-3,
                "schedule": "step",
                "step_size": int(args.steps * 0.8),
                "gamma": 0.1,
                "grad_clip": 10.0,
            },
            run_dir=f"runs/verified-digits-{activation}",
        ).fit(train)
        net = model.model.eval()
        for method in ("crown-ibp", "ibp"):
            verifier = xuframe.create("verifier", method, clip_min=0.0, clip_max=1.0)
            errors = verified_errors(net, test_batches, args.eps, verifier)
            rows.append((activation, method, errors["clean_error"], errors["verified_error"]))
    print(f"digits, MLP 64-256-256-10, CROWN-IBP training, eps {args.eps}, {args.steps} steps")
    print(f"{'activation':<10} {'verifier':<10} {'clean err':>9} {'verified err':>12}")
    for activation, method, clean, verified in rows:
        print(f"{activation:<10} {method:<10} {clean:9.3f} {verified:12.3f}")


if __name__ == "__main__":
    main()
