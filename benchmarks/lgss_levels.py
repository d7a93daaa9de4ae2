"""LGSS level by level on seeded synthetic movies, and the optimal grouping's time.

For each seed, two models of the same size train for the same steps on the same clips:

* **clip**: BNet alone (``lstm=False``), scenes from thresholded boundaries;
* **segment**: BNet + Bi-LSTM, scenes from thresholded boundaries;
* **movie**: the segment model's probabilities, scenes placed by optimal grouping;
* **clip + grouping** (for reference): the clip model's probabilities, grouped.

Reported on held-out movies, mean ± std over seeds: boundary AP (pooled), mAP (per movie),
mIoU, Recall and Recall@3s. The paper's claim: each level helps (AP from clip to segment;
mIoU and Recall from segment to movie). Then the wall time of ``optimal_grouping`` for one
1,500-shot movie of 2,048-d features into 150 scenes, unbounded and with a 100-shot limit.

    python benchmarks/lgss_levels.py [--seeds 0 1 2] [--steps 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from _timing import median_seconds

from xuframe_plugins.lgss import SceneSegmenter, optimal_grouping, synthetic_movies
from xuframe_plugins.lgss.training import evaluate, fit

SIZE = {
    "place_dim": 64,
    "cast_dim": 32,
    "action_dim": 32,
    "audio_dim": 32,
    "channels": 64,
    "hidden": 64,
}
AUDIO = {"audio_shape": (16, 8)}
LEVELS = ("clip", "segment", "movie", "clip + grouping")
METRICS = ("AP", "mAP", "mIoU", "Recall", "Recall@3s")


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    train = synthetic_movies(args.train_movies, args.shots, seed=100 + seed, **AUDIO)
    test = synthetic_movies(args.test_movies, args.shots, seed=200 + seed, **AUDIO)
    out: dict[str, dict[str, float]] = {}
    for lstm in (False, True):
        torch.manual_seed(seed)
        start = time.perf_counter()
        model = fit(SceneSegmenter({**SIZE, "lstm": lstm}), train, args.steps, seed=seed)
        train_s = time.perf_counter() - start
        for grouping in (False, True):
            cfg = {**SIZE, "lstm": lstm, "global_grouping": grouping}
            scores = evaluate(SceneSegmenter(cfg).load_from(model), test)
            level = {(False, False): "clip", (True, False): "segment", (True, True): "movie"}
            name = level.get((lstm, grouping), "clip + grouping")
            out[name] = {**scores, "train_s": train_s}
    return out


def grouping_time(repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    n, k = 1500, 150
    centres = rng.normal(size=(k, 2048))
    features = centres[np.sort(rng.integers(0, k, size=n))] + rng.normal(size=(n, 2048))
    return {
        "unbounded_s": median_seconds(lambda: optimal_grouping(features, k), repeats),
        "limit100_s": median_seconds(
            lambda: optimal_grouping(features, k, max_length=100), repeats
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--train-movies", type=int, default=12)
    parser.add_argument("--test-movies", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats of the DP")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    per_seed = {}
    for seed in args.seeds:
        per_seed[seed] = run_seed(seed, args)
        row = per_seed[seed]
        print(
            f"seed {seed}: AP clip {row['clip']['AP']:.3f} segment {row['segment']['AP']:.3f}; "
            f"mIoU segment {row['segment']['mIoU']:.3f} movie {row['movie']['mIoU']:.3f}",
            flush=True,
        )

    print(
        f"\n{len(args.seeds)} seeds, {args.train_movies} training movies x {args.shots} shots, "
        f"{args.steps} steps; {args.test_movies} held-out movies\n"
    )
    print("| level | " + " | ".join(METRICS) + " | train s |")
    print("|---" * (len(METRICS) + 2) + "|")
    summary: dict[str, dict[str, float]] = {}
    for level in LEVELS:
        cells = []
        for metric in (*METRICS, "train_s"):
            values = [per_seed[s][level][metric] for s in args.seeds]
            mean = statistics.mean(values)
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            summary.setdefault(level, {})[metric] = mean
            cells.append(f"{mean:.1f}" if metric == "train_s" else f"{mean:.3f} ± {std:.3f}")
        print(f"| {level} | " + " | ".join(cells) + " |")

    timing = grouping_time(args.repeats)
    print(
        f"\noptimal_grouping, 1,500 shots x 2,048-d into 150 scenes (median of {args.repeats}): "
        f"{timing['unbounded_s']:.2f} s unbounded, {timing['limit100_s']:.2f} s with a 100-shot limit"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"per_seed": per_seed, "summary": summary, "grouping": timing}, f, indent=1)


if __name__ == "__main__":
    main()
