"""TTFNet inference latency at 512x512, batch 1, on the CPU, against a bare ResNet-18 forward.

The whole ``predict`` (backbone, neck, heads, peak extraction and box decoding) of
``ttfnet-r18`` is timed against the forward pass of the same ResNet-18 alone, in the same run
(the issue's goal: ratio <= 1.6), with the deformable neck and with plain convolutions.

    python benchmarks/ttfnet_latency.py [--repeats 20]
"""

from __future__ import annotations

import argparse

import torch
from _timing import median_seconds  # benchmarks/_timing.py

import xuframe


def median_ms(fn, repeats: int) -> float:
    with torch.no_grad():
        return 1000 * median_seconds(fn, repeats, warmup=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.size, args.size)
    print(
        f"{args.size}x{args.size}, batch 1, {torch.get_num_threads()} threads, median of {args.repeats}, ms"
    )
    print(f"{'model':<28} {'ms':>8} {'ratio to ResNet-18':>19}")
    rows = []
    for deform in (True, False):
        model = xuframe.create("detector", "ttfnet-r18", num_classes=80, deform=deform).eval()
        backbone = model.backbone
        base = median_ms(lambda b=backbone: b(x), args.repeats)
        full = median_ms(lambda m=model: m.predict(x), args.repeats)
        rows.append((f"ttfnet-r18 deform={deform}", full, full / base))
        rows.append(("  ResNet-18 forward (same run)", base, 1.0))
    for name, ms, ratio in rows:
        print(f"{name:<28} {ms:8.1f} {ratio:19.2f}")


if __name__ == "__main__":
    main()
