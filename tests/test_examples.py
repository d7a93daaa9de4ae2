"""The example scripts run as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(
    str(p.relative_to(EXAMPLES))
    for p in EXAMPLES.glob("*/*.py")
    if p.parent.name != "third_party_plugin"
)
# the examples that draw a picture, and so need the plot extra
PLOTTING = {
    "convexclust/clustering_path.py",
    "defocus/deblur_photo.py",
    "denfi/train_scenes.py",
    "distill/compare.py",
    "lgss/timeline.py",
    "stylekd/distill_digits.py",
    "ttfnet/train_shapes.py",
}

# runs a script as __main__ with matplotlib made unimportable, as on a plain install
_WITHOUT_MATPLOTLIB = (
    "import runpy, sys; sys.modules['matplotlib'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_example(tmp_path: Path, script: str, *args: str) -> str:
    """Run ``examples/<script>`` with ``args`` in ``tmp_path``; assert it exits 0 and return
    its standard output."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_examples_are_all_listed():
    assert set(SCRIPTS) >= PLOTTING and len(SCRIPTS) == 18


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage_and_does_nothing_else(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:") and not result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("script", sorted(PLOTTING))
def test_a_missing_extra_is_named_not_a_traceback(script, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MATPLOTLIB, str(EXAMPLES / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    extra = "examples" if script.startswith("defocus/") else "plot"  # it needs skimage too
    assert f"pip install 'xuframe[{extra}]'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_spiral_training_example_trains_and_plots(tmp_path):
    out = run_example(tmp_path, "training/spiral.py")  # exit 0 means eval accuracy > 0.9
    assert "eval accuracy" in out
    assert (tmp_path / "runs" / "spiral" / "plots" / "metrics.png").stat().st_size > 10_000
    assert "curves: runs/spiral/plots/metrics.png" in out


def test_spiral_example_names_no_plot_it_did_not_write(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT_MATPLOTLIB,
            str(EXAMPLES / "training/spiral.py"),
            "--steps",
            "300",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "eval accuracy" in result.stdout and "curves:" not in result.stdout
    assert not (tmp_path / "runs" / "spiral" / "plots" / "metrics.png").exists()


def test_convexclust_path_example_prints_the_path_and_draws_it(tmp_path):
    out = run_example(
        tmp_path, "convexclust/clustering_path.py", "--points", "80", "--out", "path.png"
    )
    assert "exact-recovery interval" in out
    rows = [line.split() for line in out.splitlines() if line[:1] == " "]
    assert int(rows[-1][1]) == 4  # the path ends at the 4 true clusters
    assert (tmp_path / "path.png").stat().st_size > 20_000


def test_ttfnet_example_runs_end_to_end(tmp_path):
    """A 4-step smoke run of examples/ttfnet/train_shapes.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "ttfnet/train_shapes.py", "--steps", "4", "--size", "64", "--out", "det.png"
    )
    assert "held-out COCO AP50" in out
    assert (tmp_path / "det.png").stat().st_size > 20_000


def test_denfi_example_runs_end_to_end(tmp_path):
    """A 2-step smoke run of examples/denfi/train_scenes.py on the small model."""
    out = run_example(
        tmp_path, "denfi/train_scenes.py", "--small", "--steps", "2", "--train", "4", "--val",
        "2", "--root", "scenes", "--out", "bev.png",
    )  # fmt: skip
    assert "held-out KITTI AP" in out and "Car" in out
    assert (tmp_path / "bev.png").stat().st_size > 20_000


def test_xview_example_runs_end_to_end(tmp_path):
    """A 2-step smoke run of examples/xview/train_scenes.py on the small model, with the picture."""
    out = run_example(
        tmp_path, "xview/train_scenes.py", "--small", "--steps", "2", "--train", "4", "--val",
        "2", "--views", "1", "--root", "scenes", "--picture", "grids.jpg",
    )  # fmt: skip
    assert "xview-pillars (1 views)" in out and "time_ratio" in out
    assert (tmp_path / "grids.jpg").stat().st_size > 0


def test_pircnn_claims_example_logs_every_run_and_tables_them(tmp_path):
    """A 2-step smoke run of examples/pircnn/train_scenes.py: both models and one ablation, each
    run one JSON line of the log, the table over the whole log (a second process adds to it)."""
    args = ["--steps", "2", "--train", "4", "--val", "2", "--root", "scenes", "--log", "c.jsonl"]
    out = run_example(tmp_path, "pircnn/train_scenes.py", *args, "--ablations", "early")
    runs = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [r["label"] for r in runs] == ["pointrcnn", "pircnn", "pircnn (early)"]
    assert all(0.0 <= r["metrics"]["Car/3d/moderate"] <= 1.0 for r in runs)
    assert "pircnn (early) [2 steps] (seeds [0])" in out
    out = run_example(tmp_path, "pircnn/train_scenes.py", *args, "--models", "pointrcnn",
                      "--seeds", "1")  # fmt: skip
    assert "pointrcnn [2 steps] (seeds [0, 1])" in out


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.skipif(
    not (REAL / "kitti" / "training" / "image_2").is_dir(), reason="../shared/data/real is absent"
)
def test_pircnn_real_frame_example_scores_both_detectors_and_draws_the_frame(tmp_path):
    """examples/pircnn/real_frame.py on the real KITTI frame 000008: the shipped weights of both
    detectors, the six labelled cars counted, the picture written."""
    out = run_example(tmp_path, "pircnn/real_frame.py", "--out", "real.jpg")
    assert "frame 000008: 17238 points, 6 labelled cars" in out
    for name in ("pircnn", "pointrcnn"):
        line = next(row for row in out.splitlines() if row.startswith(f"{name}: "))
        assert "of 6 labelled cars at BEV IoU 0.5" in line
    with Image.open(tmp_path / "real.jpg") as picture:
        assert picture.width == 1242 and picture.height > 2 * 375


@pytest.mark.skipif(
    not (REAL / "scannet" / "scene0000_00").is_dir(), reason="../shared/data/real is absent"
)
def test_srdet_real_scans_example_scores_both_detectors_on_both_real_scans(tmp_path):
    """examples/srdet/real_scans.py: the shipped weights of srdet and votenet on the real ScanNet
    scene and SUN RGB-D frame, a row per scene and model, and a 2 x 2 picture."""
    out = run_example(tmp_path, "srdet/real_scans.py", "--data", str(REAL), "--out", "real.png")
    rows = [line.split() for line in out.splitlines() if line.startswith(("ScanNet", "SUN"))]
    # columns: scene (two words), model, boxes, covered, mAP@0.25, seconds
    assert [(r[0], r[-5]) for r in rows] == [
        ("ScanNet", "srdet"), ("ScanNet", "votenet"), ("SUN", "srdet"), ("SUN", "votenet"),
    ]  # fmt: skip
    # 14 ScanNet boxes of the 10 synthetic classes, SUN RGB-D's night_stand and bed
    assert [r[-4] for r in rows] == ["14", "14", "2", "2"]
    from PIL import Image

    with Image.open(tmp_path / "real.png") as picture:
        assert picture.size[0] > 600 and picture.size[1] > 600


def test_pircnn_segmentation_example_runs_end_to_end(tmp_path):
    """A 3-step smoke run of examples/pircnn/train_segmentation.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "pircnn/train_segmentation.py", "--steps", "3", "--scenes", "2", "--held-out",
        "1", "--out", "seg.png", "--save", "seg.pt",
    )  # fmt: skip
    assert "IoU Car" in out and "mIoU" in out
    from PIL import Image

    with Image.open(tmp_path / "seg.png") as picture:
        assert picture.size == (1242, 3 * 375 + 36)
    import torch

    from xuframe_plugins.pircnn.segmentation import ImageSegmenter

    ImageSegmenter().load_state_dict(torch.load(tmp_path / "seg.pt", weights_only=True))


def test_distill_comparison_example_runs_end_to_end(tmp_path):
    """A few-step smoke run of examples/distill/compare.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "distill/compare.py", "--teacher-steps", "3", "--student-steps", "2",
        "--head-steps", "2", "--n-train", "256", "--keep", "16", "64", "--out", "acc.png",
    )  # fmt: skip
    rows = {line.split()[0] for line in out.splitlines() if line[:1].isalpha()}
    assert {"KD", "SSKD", "UNIX"} <= rows
    assert "UNIX k=64" in out and (tmp_path / "acc.png").stat().st_size > 20_000


def test_distill_digits_example_checks_the_claims_from_the_shipped_teacher(tmp_path):
    """A 2-step, 1-seed run of examples/distill/digits_teacher.py (5 seeds of 40 in the docs);
    without --export-weights it writes nothing."""
    out = run_example(tmp_path, "distill/digits_teacher.py", "--steps", "2", "--seeds", "1")
    rows = {line.split()[0] for line in out.splitlines() if line[:1].isalpha()}
    assert {"student", "kd", "sskd", "unix"} <= rows and "teacher ResNet-20 0.9955" in out
    assert list(tmp_path.iterdir()) == []


def test_lgss_timeline_example_runs_end_to_end(tmp_path):
    """A few-step smoke run of examples/lgss/timeline.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "lgss/timeline.py", "--steps", "3", "--train-movies", "2", "--test-movies",
        "2", "--shots", "60", "--batch-size", "2", "--out", "timeline.png",
    )  # fmt: skip
    assert "optimal grouping" in out and "thresholded" in out
    assert (tmp_path / "timeline.png").stat().st_size > 20_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--moviescenes", "root"), "not --moviescenes"),
        (("--seed", "1"), "--seed 1 trains on the held-out movies"),
    ],
)
def test_lgss_export_weights_refuses_weights_the_manifest_cannot_measure(tmp_path, args, message):
    """Shipped lgss weights are measured on synthetic movies of seed 2: weights trained on
    MovieScenes or on those very movies are refused before any training."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "lgss/timeline.py"), "--export-weights", "t", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_defocus_example_deblurs_a_photo_and_draws_it(tmp_path):
    """A small-crop run of examples/defocus/deblur_photo.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "defocus/deblur_photo.py", "--photo", "camera", "--layout", "halves",
        "--crop", "128", "--out", "defocus.png",
    )  # fmt: skip
    psnr = {line.split()[0]: float(line.split()[2]) for line in out.splitlines() if "PSNR" in line}
    assert psnr["deblurred"] > psnr["blurred"] + 0.5
    assert (tmp_path / "defocus.png").stat().st_size > 20_000


def test_stylekd_example_distils_and_draws_the_grid(tmp_path):
    """A few-step smoke run of examples/stylekd/distill_digits.py (the full run is in the docs)."""
    out = run_example(
        tmp_path, "stylekd/distill_digits.py", "--teacher-steps", "3", "--steps", "2",
        "--show", "4", "--out", "grid.png",
    )  # fmt: skip
    assert "inherited mapping" in out and "random mapping" in out
    assert (tmp_path / "grid.png").stat().st_size > 10_000


def test_xview_example_trains_pointrcnn_and_its_views(tmp_path):
    """A 2-step smoke run of examples/xview/train_scenes.py on pointrcnn (its demo size and
    scenes) and xview-pointrcnn with one view."""
    out = run_example(
        tmp_path, "xview/train_scenes.py", "--bases", "pointrcnn", "--steps", "2", "--train",
        "4", "--val", "2", "--views", "1", "--root", "scenes",
    )  # fmt: skip
    assert "xview-pointrcnn (1 views)" in out and "time_ratio" in out
    assert "pointrcnn (0 views) trained" in out
