"""Train a small TTFNet on the synthetic shapes set on a CPU, report COCO AP, draw detections.

    python examples/ttfnet/train_shapes.py [--steps 1800] [--size 128] [--out ttfnet_shapes.png]

Trains ``ttfnet-tiny`` (TTFNet at a quarter of ResNet-18's width) with the engine's Trainer,
evaluates COCO AP / AP50 on 200 held-out images and draws the detections on a few of them.
The same run is described by ``shapes.toml`` for ``xuframe train``.
"""

from __future__ import annotations

import argparse
import sys
import time

import xuframe
from xuframe.data import SHAPE_CLASSES, Normalize, ShapesDataset
from xuframe.engine import save_pretrained
from xuframe.errors import MissingExtraError
from xuframe_plugins.ttfnet.training import train_on_shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="ttfnet-tiny", choices=["ttfnet-tiny", "ttfnet-r18"])
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="ttfnet_shapes.png")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the trained weights as TAG in the plugin's weights/ folder (maintainers)",
    )
    args = parser.parse_args()
    plt = xuframe.import_extra("matplotlib.pyplot")
    patches = xuframe.import_extra("matplotlib.patches")

    start = time.perf_counter()
    # the schedule of train_and_evaluate: AdamW 2e-3, 5% warm-up, lr / 10 at 80% of the steps
    model, metrics = train_on_shapes(
        {"input_size": args.size},
        steps=args.steps,
        batch_size=args.batch_size,
        n_train=8000,
        n_val=200,
        image_size=args.size,
        seed=0,
        name=args.name,
        progress=True,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"trained {args.steps} steps in {minutes:.1f} min")
    print(
        f"held-out COCO AP50 {metrics['AP50']:.3f}  AP {metrics['AP']:.3f}  AP75 {metrics['AP75']:.3f}"
    )

    raw = ShapesDataset(6, args.size, split="val")
    norm = Normalize()
    model.eval()
    fig, axes = plt.subplots(2, 3, figsize=(10, 7))
    for i, ax in enumerate(axes.flat):
        sample = raw[i]
        det = model.predict(norm(sample)["image"][None])[0]
        det = det[det.scores >= 0.3]
        ax.imshow(sample["image"].permute(1, 2, 0).numpy())
        for box, label, score in zip(det.geometry.tensor, det.labels, det.scores, strict=True):
            x1, y1, x2, y2 = box.tolist()
            ax.add_patch(
                patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="yellow", lw=1.5)
            )
            ax.text(
                x1,
                y1,
                f"{SHAPE_CLASSES[int(label)]} {float(score):.2f}",
                color="yellow",
                fontsize=7,
                va="bottom",
            )
        ax.axis("off")
    fig.suptitle(f"{args.name} on held-out shapes: AP50 {metrics['AP50']:.3f}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    if args.export_weights:
        shipped = save_pretrained(
            model,
            args.export_weights,
            evaluate="xuframe_plugins.ttfnet.pretrained:evaluate",
            command="python examples/ttfnet/train_shapes.py " + " ".join(sys.argv[1:]),
            description=(
                f"{args.steps} steps on 8,000 generated {args.size}-px shapes images; "
                "metrics on the 200 held-out images of the validation split"
            ),
        )
        print(f"wrote {shipped.path}: AP50 {shipped.metrics['AP50']:.3f}")


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
