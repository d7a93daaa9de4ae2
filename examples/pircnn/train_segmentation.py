"""Train PI-RCNN's image segmentation network on rendered synthetic scenes and draw a result.

Renders ``--scenes`` scenes of ``LidarScenes(seed=--seed, images=True)`` (camera 2's image and
its per-pixel classes), trains an ``ImageSegmenter`` on random crops of them with the focal
loss for ``--steps`` steps (each class weighted by the inverse square root of its share of
the training pixels, so small classes such as Pedestrian count; ``--unweighted`` turns that
off), then segments ``--held-out`` scenes of another seed and prints
the IoU of every class there. Writes a picture of the first held-out scene in three rows:
the image, the true classes and the predicted ones (coloured as the legend says), and with
``--save PATH`` the trained weights (a ``state_dict``; load it with ``torch.load(PATH,
weights_only=True)`` into ``ImageSegmenter()``; class weights only matter for training).

    python examples/pircnn/train_segmentation.py [--steps 200] [--scenes 40] [--seed 0]
        [--out segmentation.png] [--save segmenter.pt]

About three minutes on one CPU core with the defaults.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from xuframe.data import SEMANTIC_CLASSES, LidarScenes
from xuframe_plugins.pircnn.segmentation import (
    SEMANTIC_PALETTE,
    ImageSegmenter,
    evaluate_segmenter,
    train_segmenter,
)


def picture(model: ImageSegmenter, scene: object) -> Image.Image:
    """Image, true classes, predicted classes of ``scene``, one above the other, and a legend."""
    image = scene.image  # type: ignore[attr-defined]
    truth = scene.semantic  # type: ignore[attr-defined]
    model.eval()
    predicted = model.predict(image[None])[0]
    h, w = truth.shape
    rows = [
        (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
        SEMANTIC_PALETTE[truth.numpy()],
        SEMANTIC_PALETTE[predicted.numpy()],
    ]
    legend = Image.new("RGB", (w, 28), (255, 255, 255))
    pen = ImageDraw.Draw(legend)
    for k, name in enumerate(SEMANTIC_CLASSES):
        x = 8 + k * (w // len(SEMANTIC_CLASSES))
        pen.rectangle([x, 6, x + 16, 22], fill=tuple(int(v) for v in SEMANTIC_PALETTE[k]))
        pen.text((x + 22, 8), name, fill=(0, 0, 0))
    canvas = Image.new("RGB", (w, 3 * h + 2 * 4 + 28), (255, 255, 255))
    for r, row in enumerate(rows):
        canvas.paste(Image.fromarray(row), (0, r * (h + 4)))
    canvas.paste(legend, (0, 3 * h + 8))
    return canvas


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--scenes", type=int, default=40, help="training scenes")
    parser.add_argument("--held-out", type=int, default=10, help="held-out scenes (seed + 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--unweighted", action="store_true", help="no class weights")
    parser.add_argument("--out", default="segmentation.png", help="the picture")
    parser.add_argument("--save", default=None, help="write the trained state_dict here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    train = LidarScenes(args.scenes, seed=args.seed, images=True)
    held = LidarScenes(args.held_out, seed=args.seed + 1000, images=True)
    train_scenes = [train[i] for i in range(len(train))]
    held_scenes = [held[i] for i in range(len(held))]
    print(
        f"rendered {len(train_scenes)} + {len(held_scenes)} scenes in {time.perf_counter() - start:.1f} s"
    )

    weights = None
    if not args.unweighted:
        labels = torch.cat([s.semantic.flatten() for s in train_scenes])
        share = torch.bincount(labels, minlength=len(SEMANTIC_CLASSES)).double() / len(labels)
        weights = share.clamp_min(1e-4).pow(-0.5)
        weights = (weights / weights.min()).tolist()
        print(
            "class weights "
            + ", ".join(f"{n} {w:.1f}" for n, w in zip(SEMANTIC_CLASSES, weights, strict=True))
        )
    torch.manual_seed(args.seed)
    model = ImageSegmenter(class_weights=weights)
    begun = time.perf_counter()
    losses = train_segmenter(
        model,
        train_scenes,
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=True,
    )
    first = float(np.mean(losses[: max(1, len(losses) // 10)]))
    last = float(np.mean(losses[-max(1, len(losses) // 10) :]))
    print(
        f"trained {args.steps} steps in {time.perf_counter() - begun:.1f} s: "
        f"focal loss {first:.3f} -> {last:.3f}"
    )

    scores = evaluate_segmenter(model, held_scenes, class_names=SEMANTIC_CLASSES)
    print(f"held-out scenes (seed {args.seed + 1000}), {len(held_scenes)} images:")
    for name in SEMANTIC_CLASSES:
        value = scores.get(f"IoU/{name}")
        print(f"  IoU {name:<11} {'absent' if value is None else f'{value:.3f}'}")
    print(f"  mIoU {scores['mIoU']:.3f}   pixel accuracy {scores['accuracy']:.3f}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture(model, held_scenes[0]).save(out)
    print(f"wrote {out}")
    if args.save:
        saved = Path(args.save)
        saved.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), saved)
        print(f"wrote {saved}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return scores


if __name__ == "__main__":
    main()
