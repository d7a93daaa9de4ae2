"""Predict time of PI-RCNN over PointRCNN on one synthetic LiDAR scene with its camera image,
in one run: ``pointrcnn`` and ``pircnn`` at their default configs (the same PointRCNN, PI-RCNN
adding the segmentation network on the 1242 x 375 image and PACF between the stages), untrained,
batch 1, after warm-up; medians of ``--repeats`` interleaved calls, and the segmentation network
and PACF alone for scale. PI-RCNN's paper calls it efficient; the ratio column says what the
fusion costs here. ``--small`` times the demo-size configs instead.

    python benchmarks/pircnn_latency.py [--repeats 5] [--small] [--json out.json]

Run it with ``OMP_NUM_THREADS=1`` for single-core numbers.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import interleaved_medians  # benchmarks/_timing.py

import xuframe
from xuframe.data import LidarScenes, kitti_calibration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="the demo-size configs")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    from xuframe_plugins.pircnn import DEMO_CONFIG, PIRCNN_DEMO_CONFIG, CameraFrame

    torch.manual_seed(0)
    scene = LidarScenes(1, seed=0, images=True)[0]
    assert scene.image is not None
    frame = CameraFrame(points=scene.points, image=scene.image, calib=kitti_calibration())
    configs = (DEMO_CONFIG, PIRCNN_DEMO_CONFIG) if args.small else ({}, {})
    base = xuframe.create("detector", "pointrcnn", **configs[0]).eval()
    fused = xuframe.create("detector", "pircnn", **configs[1]).eval()
    image = scene.image[None].float()
    with torch.no_grad():
        seconds = interleaved_medians(
            {
                "pointrcnn": lambda: base.predict([scene.points]),
                "pircnn": lambda: fused.predict([frame]),
                "segmenter": lambda: fused.segmenter(image),
            },
            args.repeats,
        )
    size = "demo-size" if args.small else "default"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {size} configs, "
          f"{len(scene.points)} points, image {tuple(scene.image.shape[1:])}")  # fmt: skip
    print(f"{'part':10} {'predict s':>10} {'/ pointrcnn':>12}")
    for name, s in seconds.items():
        print(f"{name:10} {s:10.3f} {s / seconds['pointrcnn']:12.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"points": len(scene.points), "size": size, **seconds}, f)


if __name__ == "__main__":
    main()
