"""The bad-input sweep of the core: registry functions, readers, metrics, ops and the CLI.

Each case feeds one public entry point one bad value (wrong type, NaN, inf, empty, wrong
ndim, wrong dtype, huge, negative, ragged) and asserts that only an ``xuframe.errors``
exception comes out (or, for values that may be accepted, a result without NaN), within the
sweep's time and memory bound (:func:`xuframe.testing._bad_input.bounded`). Registered
components are swept by the conformance kit (``check_rejects_bad_input``, run for every
component in test_builtin_conformance.py).
"""

from __future__ import annotations

import io
import math
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import xuframe
from xuframe import data, engine, metrics, ops
from xuframe.cli import main
from xuframe.testing._bad_input import BadInputCase, bounded, call_cases, judge
from xuframe.types import Boxes2D, Boxes3D, Detections, PointCloud, Segments1D

TESTS = Path(__file__).resolve().parent


def _case(entry: str, what: str, call: Callable[[], Any], expect: str = "raise") -> BadInputCase:
    return BadInputCase(entry, what, call, expect)


# -- registry ----------------------------------------------------------------------------------
def _registry_cases() -> list[BadInputCase]:
    cases = call_cases("create", xuframe.create, "solver", "kmeans")
    cases += call_cases("get_component_class", xuframe.get_component_class, "solver", "kmeans")
    cases += call_cases("pretrained_weights", xuframe.pretrained_weights, "solver", "kmeans")
    cases += [
        _case(
            "create",
            "distiller 'kd' without teacher and student",
            lambda: xuframe.create("distiller", "kd"),
        ),
        _case(
            "create",
            "a positional dict of unknown keys",
            lambda: xuframe.create("solver", "defocus", {"x": 1}),
        ),
        _case("create", "an unknown keyword", lambda: xuframe.create("solver", "kmeans", x=1)),
        _case("create", "n_init=NaN", lambda: xuframe.create("solver", "kmeans", n_init=math.nan)),
        _case(
            "create",
            "n_init=np.int64(2)",
            lambda: xuframe.create("solver", "kmeans", n_init=np.int64(2)),
            "ok",
        ),
        _case(
            "create",
            "weights='nope'",
            lambda: xuframe.create("detector", "ttfnet-tiny", weights="nope"),
        ),
        _case("create", "weights=3", lambda: xuframe.create("detector", "ttfnet-tiny", weights=3)),
        _case("list_components", "kind=3", lambda: xuframe.list_components(3)),
        _case("list_components", "kind='nope'", lambda: xuframe.list_components("nope")),
        _case("list_components", "pattern=3", lambda: xuframe.list_components(pattern=3)),
        _case("import_extra", "module=None", lambda: xuframe.import_extra(None)),
        _case(
            "import_extra",
            "a missing module",
            lambda: xuframe.import_extra("no_such_module_xyz", "det3d"),
        ),
    ]
    return cases


# -- readers -------------------------------------------------------------------------------------
def _files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    made = {
        "a missing file": root / "missing.bin",
        "a folder": root / "folder",
        "an empty file": root / "empty.txt",
        "binary garbage": root / "garbage.bin",
        "text": root / "text.txt",
        "zeroed bytes": root / "zeros.bin",
    }
    made["a folder"].mkdir(exist_ok=True)
    made["an empty file"].write_bytes(b"")
    made["binary garbage"].write_bytes(bytes(range(256)) * 7 + b"\xff\xfe")
    made["text"].write_text("hello\nworld 1 2 x\n")
    made["zeroed bytes"].write_bytes(bytes(4096))
    return made


_READERS: dict[str, Callable[[Any], Any]] = {
    "read_labels": data.read_labels,
    "read_velodyne": data.read_velodyne,
    "read_calib": data.read_calib,
    "read_idx": data.read_idx,
    "read_image": data.read_image,
    "load_array_pickle": data.load_array_pickle,
    "load_torch_file": data.load_torch_file,
    "CocoDetection": lambda path: data.CocoDetection(path, "."),
    "KittiDataset": data.KittiDataset,
    "mnist": lambda path: data.mnist(path, path),
    "cifar": data.cifar,
    "read_scannet": data.read_scannet,
    "read_sunrgbd": data.read_sunrgbd,
    "load_checkpoint": engine.load_checkpoint,
    "read_metrics": engine.read_metrics,
    "load_run": engine.load_run,
    "train_run": engine.train_run,
    "plot_metrics": engine.plot_metrics,
    "evaluate_run (checkpoint)": lambda path: engine.evaluate_run(TESTS / "missing.toml", path),
}


def _reader_cases(root: Path) -> list[BadInputCase]:
    files = _files(root)
    cases = []
    for name, read in _READERS.items():
        for what, path in files.items():
            if name in ("KittiDataset", "cifar") and what == "a folder":
                continue  # an empty folder is a (valid) root: tested below
            # an empty label file is a frame without objects, an empty scan one without points,
            # an empty metrics.jsonl a run that logged nothing yet
            valid = what == "an empty file" and name in (
                "read_labels",
                "read_velodyne",
                "read_metrics",
            )
            expect = "any" if valid else "raise"
            cases.append(_case(name, what, lambda read=read, path=path: read(path), expect))
        for what, path in (("None", None), ("42", 42), ("object()", object())):
            cases.append(_case(name, f"path={what}", lambda read=read, path=path: read(path)))
    cases.append(
        _case(
            "KittiDataset", "an empty folder", lambda: data.KittiDataset(files["a folder"]), "any"
        )
    )
    calib = root / "calib.txt"
    calib.write_text("P2: 1 2 x 4 5 6 7 8 9 10 11 12\nR0_rect: 1 0 0 0 1 0 0 0 1\n")
    cases.append(_case("read_calib", "a malformed number", lambda: data.read_calib(calib)))
    labels = root / "labels.txt"
    labels.write_text("Car 0 0 0 1 2 3 4 1.5 nan 4 1 1 1 0.1\n")
    cases.append(_case("read_labels", "a NaN dimension", lambda: data.read_labels(labels)))
    short = root / "short.txt"
    short.write_text("Car 0 0\n")
    cases.append(_case("read_labels", "a short line", lambda: data.read_labels(short)))
    for i, body in enumerate(
        (
            "5",
            "null",
            '{"images": null}',
            '{"images": [], "annotations": 3}',
            '{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],'
            ' "annotations": [{"image_id": 1, "bbox": ["a", "b", "c", "d"],'
            ' "category_id": 1}], "categories": [{"id": 1, "name": "x"}]}',
            "[1, 2",
        )
    ):
        path = root / f"coco{i}.json"
        path.write_text(body)
        cases.append(
            _case(
                "CocoDetection",
                f"JSON {body[:40]}",
                lambda path=path: data.CocoDetection(path, root),
            )
        )
    return cases


def _data_cases() -> list[BadInputCase]:
    cases = call_cases("make_blobs", data.make_blobs, 30, 3, 2)
    cases += [
        _case("make_blobs", "n_points=10**12", lambda: data.make_blobs(10**12, 3, 2)),
        _case("make_blobs", "dim=10**9", lambda: data.make_blobs(30, 3, 10**9)),
        _case("make_blobs", "std=NaN", lambda: data.make_blobs(30, 3, 2, std=math.nan)),
        _case("digits", "split='nope'", lambda: data.digits("nope")),
        _case("digits", "test_fraction=NaN", lambda: data.digits(test_fraction=math.nan)),
        _case("digits", "test_fraction=2", lambda: data.digits(test_fraction=2.0)),
        _case("digits", "size=-1", lambda: data.digits(size=-1)),
        _case("digits", "size=10**6", lambda: data.digits(size=10**6)),
        _case("textures", "num_classes=0", lambda: data.textures(num_classes=0)),
        _case("textures", "n_train=10**12", lambda: data.textures(n_train=10**12)),
        _case("textures", "noise=NaN", lambda: data.textures(noise=math.nan, n_train=8, n_test=8)),
        _case("ShapesDataset", "n_images=-1", lambda: data.ShapesDataset(-1)),
        _case("ShapesDataset", "size=10**9", lambda: data.ShapesDataset(2, 10**9)[0]),
        _case("ShapesDataset", "split='x'", lambda: data.ShapesDataset(2, 32, split="x")),
        _case("LidarScenes", "n_scenes='x'", lambda: data.LidarScenes("x")),
        _case("LidarScenes", "azimuth_step=0", lambda: data.LidarScenes(1, azimuth_step=0.0)[0]),
        _case("LidarScenes", "beams=10**9", lambda: data.LidarScenes(1, beams=10**9)[0]),
        _case(
            "ImageClassification",
            "images=None",
            lambda: data.ImageClassification(None, torch.zeros(2, dtype=torch.long)),
        ),
        _case(
            "ImageClassification",
            "2 images, 3 labels",
            lambda: data.ImageClassification(
                torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long)
            ),
        ),
        _case(
            "ImageClassification",
            "float labels",
            lambda: data.ImageClassification(torch.zeros(2, 1, 4, 4), torch.zeros(2)),
        ),
    ]
    return cases


# -- writers and the engine's helpers -------------------------------------------------------------
def _writer_cases(root: Path) -> list[BadInputCase]:
    files = _files(root)
    cloud = PointCloud(torch.rand(4, 3), torch.rand(4, 1))
    image = torch.rand(3, 8, 8)
    kitti = data.kitti_objects(
        Boxes3D(torch.tensor([[10.0, 1.0, -1.0, 3.9, 1.6, 1.5, 0.1]])),
        ["Car"],
        data.kitti_calibration(),
    )
    shapes = data.ShapesDataset(1, 32)
    writers: dict[str, Callable[[Any], Any]] = {
        "save_checkpoint": lambda path: engine.save_checkpoint(path, {"w": torch.ones(2)}),
        "write_image": lambda path: data.write_image(path, image),
        "write_velodyne": lambda path: data.write_velodyne(path, cloud),
        "write_labels": lambda path: data.write_labels(path, kitti),
        "write_calib": lambda path: data.write_calib(path, data.kitti_calibration()),
        "write_coco": lambda path: data.write_coco(path, [shapes[0]], ["a", "b", "c"]),
    }
    cases = []
    for name, write in writers.items():
        bad = {
            "path=None": None,
            "path=42": 42,
            "path=object()": object(),
            "a path under a file": files["text"] / "x",
        }
        if name != "write_coco":
            bad["a folder"] = files["a folder"]
        for what, path in bad.items():
            cases.append(_case(name, what, lambda write=write, path=path: write(path)))
        cases.append(
            _case(
                name,
                "a new file",
                lambda write=write, name=name: write(root / "new" / name),
                "ok",
            )
        )
    for what, value in (
        ("None", None),
        ("'x'", "x"),
        ("42", 42),
        ("a module", {"m": torch.nn.Linear(1, 1)}),
        ("a function", {"f": len}),
    ):
        cases.append(
            _case(
                "save_checkpoint",
                f"state={what}",
                lambda value=value: engine.save_checkpoint(root / "s.pt", value),
            )
        )
    cases.append(
        _case(
            "save_checkpoint",
            "state with numpy values",
            lambda: engine.save_checkpoint(root / "n.pt", {"a": np.float64(1), "b": np.ones(2)}),
            "ok",
        )
    )
    cases += [
        _case("write_image", "image=None", lambda: data.write_image(root / "i.png", None)),
        _case(
            "write_image",
            "a NaN image",
            lambda: data.write_image(root / "i.png", torch.full((3, 4, 4), math.nan)),
        ),
        _case(
            "write_image",
            "an empty image",
            lambda: data.write_image(root / "i.png", torch.zeros(3, 0, 4)),
        ),
        _case("write_velodyne", "cloud=None", lambda: data.write_velodyne(root / "v.bin", None)),
        _case("write_labels", "objects='x'", lambda: data.write_labels(root / "l.txt", "x")),
        _case("write_labels", "objects=[1]", lambda: data.write_labels(root / "l.txt", [1])),
        _case("write_calib", "calib=None", lambda: data.write_calib(root / "c.txt", None)),
        _case("write_coco", "samples=None", lambda: data.write_coco(root / "c", None, ["a"])),
        _case("write_coco", "samples=[1]", lambda: data.write_coco(root / "c", [1], ["a"])),
        _case("write_coco", "class_names='a'", lambda: data.write_coco(root / "c", [], "a")),
    ]
    for what, seed, expect in (
        ("'x'", "x", "raise"),
        ("NaN", math.nan, "raise"),
        ("2.5", 2.5, "raise"),
        ("None", None, "raise"),
        ("-1", -1, "ok"),
        ("2**70", 2**70, "raise"),
        ("np.int64(3)", np.int64(3), "ok"),
    ):
        cases.append(
            _case("seed_everything", what, lambda seed=seed: engine.seed_everything(seed), expect)
        )
    return cases


# -- the value types -----------------------------------------------------------------------------
def _type_cases() -> list[BadInputCase]:
    box2 = torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 5.0, 6.0]])
    box3 = torch.tensor([[10.0, 1.0, -1.0, 3.9, 1.6, 1.5, 0.1]])
    cases = call_cases("Boxes2D", Boxes2D, box2, _shaped=True)
    cases += call_cases("Boxes3D", Boxes3D, box3, _shaped=True)
    cases += call_cases("Segments1D", Segments1D, torch.tensor([[0.0, 3.0], [3.0, 8.0]]))
    cases += call_cases("PointCloud", PointCloud, torch.rand(4, 3), _shaped=True)
    xyz = torch.rand(4, 3)
    for what, features in (  # features=None is the documented default (no channels)
        ("'x'", "x"),
        ("NaN", torch.full((4, 1), math.nan)),
        ("3 rows for 4 points", torch.rand(3, 1)),
        ("complex", torch.ones(4, 1, dtype=torch.complex64)),
        ("bool", torch.ones(4, 1, dtype=torch.bool)),
        ("3-D", torch.rand(4, 1, 1)),
    ):
        cases.append(
            _case(
                "PointCloud",
                f"features={what}",
                lambda features=features: PointCloud(xyz, features),
            )
        )
    cases += call_cases(
        "Detections",
        Detections,
        Boxes2D(box2),
        torch.tensor([0.9, 0.5]),
        torch.tensor([0, 1]),
    )
    return cases


# -- metrics -------------------------------------------------------------------------------------
def _metric_cases() -> list[BadInputCase]:
    labels = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 2, 2, 2])
    gen = np.random.default_rng(0)
    a, b = gen.normal(size=(40, 3)), gen.normal(size=(40, 3)) + 0.5
    img = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    bound = np.array([0, 1, 0, 0, 1, 0, 0, 0])
    scores = np.linspace(0.1, 0.9, 8)
    times = np.arange(1.0, 9.0)
    cases = call_cases("adjusted_rand_index", metrics.adjusted_rand_index, labels, pred)
    cases += call_cases("contingency_table", metrics.contingency_table, labels, pred)
    cases += call_cases("frechet_distance", metrics.frechet_distance, a, b)
    cases += call_cases("psnr", metrics.psnr, img, img * 0.9, data_range=1.0)
    cases += call_cases("boundary_ap", metrics.boundary_ap, bound, scores)
    cases += call_cases("boundary_recall", metrics.boundary_recall, bound, bound[::-1].copy())
    cases += call_cases(
        "boundary_recall_at", metrics.boundary_recall_at, bound, bound, times, seconds=3.0
    )
    cases += call_cases("scenes_from_boundaries", metrics.scenes_from_boundaries, bound)
    cases += call_cases(
        "boundaries_from_scenes", metrics.boundaries_from_scenes, [(0, 2), (3, 7)], 8
    )
    cases += call_cases("scene_miou", metrics.scene_miou, [(0, 2), (2, 8)], [(0, 3), (3, 8)])
    kitti = data.kitti_objects(
        Boxes3D(torch.tensor([[10.0, 1.0, -1.0, 3.9, 1.6, 1.5, 0.1]])),
        ["Car"],
        data.kitti_calibration(),
    )
    ap: Callable[..., Any] = metrics.kitti_ap
    for value, expect in (
        (-1.0, "raise"),
        (2.0, "raise"),
        (math.nan, "raise"),
        ("x", "raise"),
        (np.float64(0.7), "ok"),
    ):
        cases.append(
            _case(
                "kitti_ap",
                f"min_overlap={value!r}",
                lambda value=value: ap([kitti], [kitti], min_overlap=value),
                expect,
            )
        )
    for key, value in (("metric", "x"), ("difficulty", 3), ("interpolation", None), ("cls", 5)):
        cases.append(
            _case(
                "kitti_ap",
                f"{key}={value!r}",
                lambda key=key, value=value: ap([kitti], [kitti], **{key: value}),
            )
        )
    cases.append(
        _case(
            "kitti_ap",
            "2 ground-truth frames, 1 detection frame",
            lambda: ap([kitti, kitti], [kitti]),
        )
    )
    cases.append(_case("kitti_ap", "None frames", lambda: ap(None, None)))
    det = Detections(
        Boxes2D(torch.tensor([[0.0, 0.0, 4.0, 4.0]])), torch.tensor([0.9]), torch.tensor([0])
    )
    target = {"boxes": Boxes2D(torch.tensor([[0.0, 0.0, 4.0, 4.0]])), "labels": torch.tensor([0])}
    cases += call_cases("coco_map", metrics.coco_map, [det], [target], 1)
    cases.append(
        _case(
            "coco_map",
            "a NaN score",
            lambda: metrics.coco_map(
                [Detections(det.geometry, torch.tensor([math.nan]), det.labels)], [target], 1
            ),
        )
    )
    cases.append(
        _case(
            "coco_map",
            "1 prediction, 2 targets",
            lambda: metrics.coco_map([det], [target, target], 1),
        )
    )
    return cases


# -- ops ---------------------------------------------------------------------------------------
def _real_peaks(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, ...]:
    """heatmap_peaks without its documented padding (score -inf, class/y/x -1, see
    docs/decisions.md), so that the sweep judges the peaks it found."""
    scores, classes, ys, xs = ops.heatmap_peaks(*args, **kwargs)
    real = scores > float("-inf")
    return scores[real], classes[real], ys[real], xs[real]


def _ops_cases() -> list[BadInputCase]:
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 5.0, 6.0]])
    b7 = torch.tensor([[0.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.1], [1.0, 0.5, 0.0, 4.0, 2.0, 1.5, 0.3]])
    b5 = b7[:, [0, 1, 3, 4, 6]].contiguous()
    points = torch.tensor([[1.0, 1.0, 0.0, 0.5], [2.0, -1.0, 0.0, 0.2], [3.0, 2.0, 0.5, 0.1]])
    cases = call_cases("box_iou", ops.box_iou, boxes, boxes, _shaped=True)
    cases += call_cases("box_giou", ops.box_giou, boxes, boxes, _shaped=True)
    cases += call_cases("box_iou_aligned", ops.box_iou_aligned, boxes, boxes, _shaped=True)
    cases += call_cases("bev_iou", ops.bev_iou, b5, b5, _shaped=True)
    cases += call_cases("boxes3d_iou", ops.boxes3d_iou, b7, b7, _shaped=True)
    cases += call_cases("bev_corners", ops.bev_corners, b5, _shaped=True)
    cases += call_cases("rotated_nms", ops.rotated_nms, b5, torch.tensor([0.9, 0.8]), 0.5)
    cases += call_cases("nms_3d", ops.nms_3d, b7, torch.tensor([0.9, 0.8]), 0.25)
    cases += call_cases(
        "gaussian_radius",
        ops.gaussian_radius,
        torch.tensor([4.0, 8.0]),
        torch.tensor([6.0, 3.0]),
        0.7,
    )  # elementwise: any shape
    cases += call_cases("gaussian_2d", ops.gaussian_2d, 3, 2)
    cases += call_cases("draw_gaussian", ops.draw_gaussian, torch.zeros(16, 16), 5, 6, 2, 3)
    cases += call_cases("heatmap_peaks", _real_peaks, torch.rand(1, 2, 8, 8), k=4)
    cases += call_cases("scatter", ops.scatter, torch.ones(4, 2), torch.tensor([0, 1, 1, 2]), 3)
    cases += call_cases(
        "voxelize", ops.voxelize, points, [0.5, 0.5, 1.0], [0.0, -4.0, -1.0, 4.0, 4.0, 1.0]
    )
    cases += call_cases(
        "pillarize", ops.pillarize, points, [0.5, 0.5], [0.0, -4.0, -1.0, 4.0, 4.0, 1.0]
    )
    cases += call_cases("points_in_boxes", ops.points_in_boxes, points[:, :3], Boxes3D(b7))
    cases += [
        _case(
            "pillarize",
            "pillar_size 1e-6 (a huge grid)",
            lambda: ops.pillarize(points, [1e-6, 1e-6], [0.0, -40.0, -3.0, 70.0, 40.0, 1.0]),
        ),
        _case("gaussian_2d", "radius 10**9", lambda: ops.gaussian_2d(10**9, 10**9)),
        _case(
            "scatter",
            "dim_size 10**12",
            lambda: ops.scatter(torch.ones(4, 2), torch.tensor([0, 1, 1, 2]), 10**12),
        ),
        _case(
            "scatter",
            "reduce='median'",
            lambda: ops.scatter(torch.ones(4, 2), torch.tensor([0, 1, 1, 2]), 3, "median"),
        ),
        _case(
            "scatter",
            "an index past dim_size",
            lambda: ops.scatter(torch.ones(4, 2), torch.tensor([0, 1, 1, 7]), 3),
        ),
        _case(
            "heatmap_peaks",
            "kernel=2 (even)",
            lambda: ops.heatmap_peaks(torch.rand(1, 2, 8, 8), k=4, kernel=2),
        ),
    ]
    return cases


# -- CLI -----------------------------------------------------------------------------------------
RUN = """
[component]
factory = "components:make_regressor"

[trainer]
max_steps = 2
batch_size = 4
lr = {lr}
progress = false
plot = false

[data]
train = "components:make_regression_data"
args = {{ n = 8 }}
"""

CLI_ARGV: list[tuple[str, ...]] = [
    (),
    ("nope",),
    ("list", "nope"),
    ("list", "--pattern"),
    ("info",),
    ("info", "nope"),
    ("info", "kmeans", "--kind", "nope"),
    ("demo", "nope"),
    ("demo", "--seed", "x"),
    ("demo", "kmeans", "--seed", "-1"),
    ("demo", "kmeans", "--kitti", "{root}/missing"),
    ("train", "{root}/missing.toml"),
    ("train", "{root}"),
    ("train", "{root}/garbage.bin"),
    ("train", "{root}/nan.toml"),
    ("train", "{root}/string_lr.toml"),
    ("train", "{root}/bad_keyword.toml"),
    ("train", "{root}/bad_name.toml"),
    ("eval", "{root}/ok.toml"),
    ("eval", "{root}/ok.toml", "--checkpoint", "{root}/missing.pt"),
    ("eval", "{root}/ok.toml", "--checkpoint", "{root}/garbage.bin"),
    ("eval", "{root}/ok.toml", "--checkpoint", "{root}/zeros.bin"),
    ("plot", "{root}/missing"),
    ("plot", "{root}/garbage.bin"),
]


@pytest.fixture(scope="module")
def cli_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    shutil.copy(TESTS / "components.py", root / "components.py")
    (root / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (root / "zeros.bin").write_bytes(bytes(2048))
    (root / "ok.toml").write_text(RUN.format(lr=0.01))
    (root / "nan.toml").write_text(RUN.format(lr="nan"))
    (root / "string_lr.toml").write_text(RUN.format(lr='"fast"'))
    (root / "bad_keyword.toml").write_text(
        RUN.format(lr=0.01).replace(
            'make_regressor"', 'make_regressor"\n[component.config]\nno_such = 1'
        )
    )
    (root / "bad_name.toml").write_text(
        textwrap.dedent("""
        [component]
        kind = "solver"
        name = "kmeanz"
        [data]
        train = "components:make_regression_data"
        """)
    )
    return root


@pytest.mark.parametrize("argv", CLI_ARGV, ids=lambda a: " ".join(a) or "(nothing)")
def test_cli_bad_argv_exits_nonzero_with_one_error_line(argv, cli_root, capsys):
    args = [a.format(root=cli_root) for a in argv]
    try:
        with bounded():
            code = main(args, out=io.StringIO())
    except SystemExit as exc:  # argparse: usage, then one error line
        code = exc.code
    err = capsys.readouterr().err
    assert code not in (0, None), f"xuframe {' '.join(args)} exited 0"
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err


# -- the table ---------------------------------------------------------------------------------
def _all_cases(root: Path) -> list[BadInputCase]:
    return [
        *_registry_cases(),
        *_reader_cases(root),
        *_data_cases(),
        *_metric_cases(),
        *_ops_cases(),
        *_writer_cases(root / "writers"),
        *_type_cases(),
    ]


_GROUPS = {
    "registry": _registry_cases,
    "data": _data_cases,
    "metrics": _metric_cases,
    "ops": _ops_cases,
    "types": _type_cases,
}


_FILE_GROUPS = {"readers": _reader_cases, "writers": _writer_cases}


@pytest.mark.parametrize("group", [*_GROUPS, *_FILE_GROUPS])
def test_core_entry_points_reject_bad_input(group, tmp_path):
    cases = _FILE_GROUPS[group](tmp_path) if group in _FILE_GROUPS else _GROUPS[group]()
    failures = [f"{case.label} -> {outcome}" for case in cases if (outcome := judge(case))]
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n  " + "\n  ".join(failures)


def test_the_sweep_counts_its_cases(tmp_path):
    """Every group has cases (a table that lost its rows would pass silently)."""
    counts = {name: len(make()) for name, make in _GROUPS.items()}
    counts.update({name: len(make(tmp_path / name)) for name, make in _FILE_GROUPS.items()})
    assert all(n > 10 for n in counts.values()), counts
