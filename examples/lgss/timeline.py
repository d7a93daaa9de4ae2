"""Train LGSS on synthetic movies for a few CPU minutes and draw a timeline of true vs
predicted scenes.

Trains a mid-sized LGSS (all four modalities, BNet + Bi-LSTM) on clips of seeded synthetic
movies, then scores held-out movies with thresholded boundaries and with the optimal grouping,
and writes ``lgss_timeline.png``: per held-out movie, the true scenes, the scenes from
thresholded boundaries, the scenes from optimal grouping (alternating colours, one bar per
scene, misplaced ends marked) and the boundary probabilities with the true boundaries.

With ``--moviescenes ROOT`` it trains and tests on MovieScenes features instead (the layout
that ``read_moviescenes`` documents; the split from ``meta/split318.json``), with the paper's
feature widths.

    python examples/lgss/timeline.py [--steps 600] [--out lgss_timeline.png]
    python examples/lgss/timeline.py --moviescenes /data/MovieScenes --steps 3000
    python examples/lgss/timeline.py --export-weights synthetic   # the shipped weights

With ``--export-weights TAG`` (maintainers) the trained model is shipped as ``TAG`` in the
plugin's ``weights/`` folder, measured on the held-out movies of
:mod:`xuframe_plugins.lgss.pretrained`; it needs the synthetic movies, not ``--moviescenes``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch

import xuframe
from xuframe.engine import save_pretrained
from xuframe.errors import MissingExtraError
from xuframe.metrics import scenes_from_boundaries
from xuframe_plugins.lgss import (
    SceneSegmenter,
    moviescenes_split,
    read_moviescenes,
    synthetic_movies,
)
from xuframe_plugins.lgss.pretrained import HELD_OUT_MOVIES, HELD_OUT_SEED, HELD_OUT_SHOTS
from xuframe_plugins.lgss.training import evaluate, fit

SYNTHETIC_SIZE = {
    "place_dim": 64,
    "cast_dim": 32,
    "action_dim": 32,
    "audio_dim": 32,
    "channels": 128,
    "hidden": 128,
}


def scenes_of(model: SceneSegmenter, movie: dict[str, Any]) -> list[tuple[int, int]]:
    (det,) = model.predict([movie])
    return [(int(a), int(b)) for a, b in det.geometry.tensor.tolist()]


def true_scenes(labels: torch.Tensor) -> list[tuple[int, int]]:
    """The labelled scenes as ``[first, last + 1)``."""
    return [(a, b + 1) for a, b in scenes_from_boundaries(labels)]


def draw(
    movies: list[dict[str, Any]], local: SceneSegmenter, grouped: SceneSegmenter, out: str
) -> None:
    plt = xuframe.import_extra("matplotlib.pyplot")
    fig, axes = plt.subplots(len(movies), 1, figsize=(13, 2.6 * len(movies)), squeeze=False)
    colours = ("tab:blue", "tab:orange")
    for ax, movie in zip(axes[:, 0], movies, strict=True):
        labels = movie["labels"]
        n = len(labels)
        truth = true_scenes(labels)
        true_ends = {b for _, b in truth}
        rows = [
            ("true scenes", truth),
            ("thresholded", scenes_of(local, movie)),
            ("optimal grouping", scenes_of(grouped, movie)),
        ]
        for y, (_, scenes) in enumerate(reversed(rows)):
            for k, (a, b) in enumerate(scenes):
                ax.broken_barh([(a, b - a)], (y + 0.1, 0.8), color=colours[k % 2], alpha=0.85)
                if y < 2 and b not in true_ends:  # a predicted end that is not a true one
                    ax.plot([b, b], [y + 0.05, y + 0.95], color="red", lw=1.5)
        p = local.boundary_probabilities(movie)
        ax.plot(torch.arange(n) + 1, 3.1 + 0.8 * p, color="black", lw=0.8)
        for b in true_ends:
            ax.axvline(b, ymin=0, ymax=1, color="grey", lw=0.3, zorder=0)
        ax.set_yticks([0.5, 1.5, 2.5, 3.5])
        ax.set_yticklabels([r[0] for r in reversed(rows)] + ["P(boundary)"])
        ax.set_xlim(0, n)
        ax.set_ylim(0, 4)
        ax.set_xlabel("shot")
    axes[0, 0].set_title(
        "LGSS on held-out movies (red: a predicted scene end that is not a true one)"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--train-movies", type=int, default=24)
    parser.add_argument("--test-movies", type=int, default=6)
    parser.add_argument("--shots", type=int, default=300, help="shots per synthetic movie")
    parser.add_argument("--batch-size", type=int, default=8, help="clips of 40 shots per step")
    parser.add_argument("--moviescenes", default=None, help="a MovieScenes root to use instead")
    parser.add_argument("--show", type=int, default=2, help="held-out movies to draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="lgss_timeline.png")
    parser.add_argument(
        "--export-weights",
        metavar="TAG",
        help="ship the trained weights as TAG in the plugin's weights/ folder (maintainers)",
    )
    args = parser.parse_args()
    if args.export_weights and args.moviescenes:
        parser.error("--export-weights ships weights for the synthetic movies, not --moviescenes")
    train_seeds = range((args.seed + 1) * 1000, (args.seed + 1) * 1000 + args.train_movies)
    held_out = range(HELD_OUT_SEED * 1000, HELD_OUT_SEED * 1000 + HELD_OUT_MOVIES)
    if args.export_weights and set(train_seeds) & set(held_out):
        parser.error(f"--export-weights: --seed {args.seed} trains on the held-out movies")
    xuframe.import_extra("matplotlib.pyplot")  # fail before training, not after

    start = time.perf_counter()
    if args.moviescenes:
        split = moviescenes_split(args.moviescenes)
        train = [read_moviescenes(args.moviescenes, m) for m in split["train"]]
        test = [read_moviescenes(args.moviescenes, m) for m in split["test"]]
        size: dict[str, Any] = {}
    else:
        kw = {"audio_shape": (16, 8)}
        train = synthetic_movies(args.train_movies, args.shots, seed=args.seed + 1, **kw)
        test = synthetic_movies(args.test_movies, args.shots, seed=args.seed + 2, **kw)
        size = SYNTHETIC_SIZE
    print(f"{len(train)} training and {len(test)} held-out movies", flush=True)

    torch.manual_seed(args.seed)
    model = fit(
        SceneSegmenter(size),
        train,
        args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=True,
    )
    local = SceneSegmenter({**size, "global_grouping": False}).load_from(model).eval()
    model.eval()
    scores = {"thresholded": evaluate(local, test), "optimal grouping": evaluate(model, test)}

    print(f"\ntrained {args.steps} steps; {time.perf_counter() - start:.0f} s in all")
    names = ("AP", "mAP", "mIoU", "Recall", "Recall@3s")
    print(f"{'scenes from':18}" + "".join(f"{n:>10}" for n in names))
    for how, s in scores.items():
        print(f"{how:18}" + "".join(f"{s[n]:>10.3f}" for n in names))
    draw(test[: args.show], local, model, args.out)
    print(f"wrote {args.out}")
    if args.export_weights:
        shipped = save_pretrained(
            model,
            args.export_weights,
            evaluate="xuframe_plugins.lgss.pretrained:evaluate",
            command="python examples/lgss/timeline.py " + " ".join(sys.argv[1:]),
            description=(
                f"{args.steps} steps of {args.batch_size} clips of 40 shots on "
                f"{args.train_movies} synthetic movies of {args.shots} shots (seed "
                f"{args.seed + 1}); metrics on the {HELD_OUT_MOVIES} held-out movies of "
                f"{HELD_OUT_SHOTS} shots (seed {HELD_OUT_SEED})"
            ),
        )
        m = shipped.metrics
        print(
            f"wrote {shipped.path} ({shipped.path.stat().st_size / 2**20:.2f} MiB): held-out "
            f"AP {m['AP']:.3f}, mIoU {m['mIoU']:.3f}"
        )


if __name__ == "__main__":
    try:
        main()
    except MissingExtraError as exc:  # say which extra to install, not a traceback
        raise SystemExit(f"error: {exc}") from None
