"""Time of each bounding method on the issue's two reference networks, batch 32.

MLP 784-256-256-10, a deeper MLP 784-(128 x 6)-10 (not in the issue; it shows LBP's O(m) against
CROWN's O(m^2)), and CNN (Conv 1-16 k4 s2 p1, Conv 16-32 k4 s2 p1, Linear 1568-100-10), ReLU,
fixed seeds, inputs in [0, 1], margin specification (9 margins per input), eps 0.1 and 0.3.
auto_LiRPA, measured on this machine by the issue's author (it does not install beside torch
2.13): IBP 2-4 ms; CROWN 61-87 ms (MLP), 640-830 ms (CNN); its forward mode (= LBP) 300-330
ms (MLP). Goal: CROWN at least 2x faster than those, LBP cheaper than CROWN.

The second table times the graph path (the same networks behind a forward of their own, so
torch.fx reads them) and ``alpha-crown`` (default config: 20 iterations at most), and a
ResNet-8 (``ResNetCifar``, the distillers' 8 x 8 digits size) on the graph path, each as a ratio to our chain
CROWN on the same network in the same run.

    python benchmarks/robust_bounds.py [--repeats 5] [--skip-graph]
"""

from __future__ import annotations

import argparse

import torch
from _timing import median_seconds  # benchmarks/_timing.py
from torch import nn

import xuframe
from xuframe import Verifier

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")
AUTO_LIRPA_MS = {
    ("mlp", "ibp"): "2-4",
    ("mlp", "crown"): "61-87",
    ("mlp", "lbp"): "300-330",
    ("cnn", "ibp"): "2-4",
    ("cnn", "crown"): "640-830",
}


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    ).eval()


def deep_mlp() -> nn.Module:
    """784-(128 x 6)-10: deep enough for CROWN's O(m^2) passes to show against LBP's O(m)."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(784, 128), nn.ReLU()]
    for _ in range(5):
        layers += [nn.Linear(128, 128), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(128, 10)).eval()


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(1568, 100), nn.ReLU(), nn.Linear(100, 10),
    ).eval()  # fmt: skip


class Traced(nn.Module):
    """A network behind a forward of its own: the verifiers read it as a graph (torch.fx)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def resnet8() -> nn.Module:
    """ResNet-8 (ResNetCifar) for 1 x 8 x 8 inputs, BatchNorm statistics from a few batches."""
    from xuframe_plugins.kd import ResNetCifar

    torch.manual_seed(0)
    net = ResNetCifar(8, 10, 1).train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(64, 1, 8, 8))
    return net.eval()


def time_ms(fn, repeats: int) -> float:
    return 1000 * median_seconds(fn, repeats, warmup=1)


def bound_ms(method: str, net: nn.Module, x, eps: float, spec, repeats: int) -> float:
    verifier = xuframe.create("verifier", method)

    def run() -> None:
        with torch.no_grad():
            verifier.bounds(net, x, eps, spec=spec)

    return time_ms(run, repeats)


def graph_table(x, spec, repeats: int) -> None:
    """Graph path and alpha-CROWN, as ratios to our chain CROWN on the same network, same run."""
    print("\ngraph path (torch.fx) and alpha-crown, eps 0.1, ms (ratio to our chain crown)")
    columns = [f"graph {m}" for m in METHODS] + ["alpha-crown"]
    print(f"{'net':<8} {'crown':>10} " + " ".join(f"{c:>22}" for c in columns))
    for name, net in (("mlp", mlp()), ("cnn", cnn())):
        base = bound_ms("crown", net, x, 0.1, spec, repeats)
        cells = [bound_ms(m, Traced(net), x, 0.1, spec, repeats) for m in METHODS]
        cells.append(bound_ms("alpha-crown", net, x, 0.1, spec, max(1, repeats // 2)))
        print(f"{name:<8} {base:10.1f} " + " ".join(f"{t:12.1f} ({t / base:6.2f}x)" for t in cells))
    net = resnet8()
    small = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    cells = {m: bound_ms(m, net, small, 0.01, spec[:4], 1) for m in ("ibp", "crown-ibp", "crown")}
    cells["alpha-crown"] = bound_ms("alpha-crown", net, small, 0.01, spec[:4], 1)
    base = cells["crown"]
    print(
        "resnet8 8x8 (graph path, batch 4, eps 0.01), ms (ratio to its crown): "
        + ", ".join(f"{m} {t:.1f} ({t / base:.2f}x)" for m, t in cells.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-graph", action="store_true", help="only the chain table")
    args = parser.parse_args()
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(2))
    spec = Verifier.margin_spec(labels, 10)
    a, w = torch.randn(32 * 256, 256), torch.randn(256, 784)
    floor = time_ms(lambda: (a @ w, a @ w), args.repeats)
    print(
        f"floor: CROWN's layer-2 bounds on the MLP need two (32*256 x 256) @ (256 x 784) products "
        f"(lower and upper side, every neuron unstable at these eps): {floor:.1f} ms on this machine"
    )
    print(
        f"batch 32, margin spec (9 rows), median of {args.repeats}, {torch.get_num_threads()} threads, ms"
    )
    print(
        f"{'net':<4} {'eps':>4} "
        + " ".join(f"{m:>10}" for m in METHODS)
        + "   auto_LiRPA (same machine, issue text)"
    )
    for name, net in (("mlp", mlp()), ("deep", deep_mlp()), ("cnn", cnn())):
        for eps in (0.1, 0.3):
            row = []
            for method in METHODS:
                verifier = xuframe.create("verifier", method)

                def run(v=verifier, net=net, eps=eps) -> None:
                    with torch.no_grad():
                        v.bounds(net, x, eps, spec=spec)

                row.append(time_ms(run, args.repeats))
            ref = ", ".join(f"{m} {v}" for (n, m), v in AUTO_LIRPA_MS.items() if n == name)
            print(f"{name:<4} {eps:>4} " + " ".join(f"{t:10.1f}" for t in row) + f"   {ref}")
    if not args.skip_graph:
        graph_table(x, spec, args.repeats)


if __name__ == "__main__":
    main()
