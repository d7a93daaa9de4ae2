"""Issue 20, the core: bad input to the registry, configs, the Trainer, the run-file CLI, the
readers, the metrics, checkpoints and the interfaces' wrappers raises an ``xuframe.errors``
exception that names what was expected (never a raw Python, numpy or torch error)."""

from __future__ import annotations

import math
import pickle
import shutil
from pathlib import Path

import attrs
import numpy as np
import pytest
import torch

import xuframe
from xuframe.engine import Trainer, load_checkpoint, save_checkpoint
from xuframe.errors import (
    CheckpointError,
    ConfigError,
    InputError,
    UnknownComponentError,
    XuframeWarning,
)

NAN, INF = math.nan, math.inf


# -- 1. create, get_component_class, list_components -------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: xuframe.create(123, "kmeans"), InputError, "kind: expected one of"),
        (lambda: xuframe.create(None, "kmeans"), InputError, "kind: expected one of"),
        (lambda: xuframe.create("solver", None), InputError, "name: expected a str"),
        (lambda: xuframe.create("solver", 5), InputError, "name: expected a str"),
        (lambda: xuframe.create("distiller", "kd"), InputError, "missing teacher, student"),
        (lambda: xuframe.create("distiller", "kd", object()), InputError, "missing student"),
        (
            lambda: xuframe.create("solver", "defocus", {"x": 1}),
            ConfigError,
            "config values go as keywords",
        ),
        (lambda: xuframe.create("solver", "kmeans", 3), InputError, "no positional arguments"),
        (lambda: xuframe.get_component_class(1, 2), InputError, "kind: expected one of"),
        (lambda: xuframe.get_component_class("solver", ["k"]), InputError, "name: expected"),
        (lambda: xuframe.list_components(1), InputError, "kind: expected one of"),
        (lambda: xuframe.list_components("solver", 3), InputError, "pattern: expected a str"),
        (lambda: xuframe.list_components("solvr"), UnknownComponentError, "Did you mean 'solver'"),
        (lambda: xuframe.registry.find(3), InputError, "name: expected a str"),
        (lambda: xuframe.registry.names(3), InputError, "kind: expected one of"),
    ],
)
def test_registry_arguments_of_the_wrong_type(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_from_config_checks_the_constructor_arguments_too():
    cls = xuframe.get_component_class("distiller", "kd")
    with pytest.raises(InputError, match=r"xuframe.create\('distiller', 'kd', teacher, student"):
        cls.from_config({})


# -- 2. config values --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [NAN, np.float32(NAN), np.float64(NAN), INF, -INF])
def test_config_floats_must_be_finite(value):
    with pytest.raises(ConfigError, match="config key 'tol': expected a finite number"):
        xuframe.create("solver", "kmeans", tol=value)


def test_config_floats_in_tuples_must_be_finite():
    from xuframe.engine import TrainerConfig

    with pytest.raises(ConfigError, match="'trainer.betas': expected a finite number, got nan"):
        xuframe.build_config(TrainerConfig, {"betas": (0.9, NAN)}, owner="x", prefix="trainer.")
    with pytest.raises(ConfigError, match="'lr': expected a finite number, got nan"):
        xuframe.build_config(TrainerConfig, {"lr": NAN}, owner="trainer")


def test_config_inf_only_where_the_default_is_infinite():
    import attrs

    @attrs.frozen
    class Config:
        limit: float = xuframe.config_field(math.inf, doc="no limit by default")
        scale: float = xuframe.config_field(1.0, doc="a scale")

    assert xuframe.build_config(Config, {"limit": 5.0}, owner="x").limit == 5.0
    assert xuframe.build_config(Config, {"limit": INF}, owner="x").limit == INF
    with pytest.raises(ConfigError, match="'limit': expected a finite number, got nan"):
        xuframe.build_config(Config, {"limit": NAN}, owner="x")
    with pytest.raises(ConfigError, match="'scale': expected a finite number, got inf"):
        xuframe.build_config(Config, {"scale": INF}, owner="x")


def test_config_validators_refuse_nan_in_a_config_built_directly():
    import attrs

    @attrs.frozen
    class Config:
        a: float = xuframe.config_field(1.0, doc="a", validator=xuframe.positive)
        b: float = xuframe.config_field(1.0, doc="b", validator=xuframe.non_negative)
        c: float = xuframe.config_field(0.5, doc="c", validator=xuframe.fraction)

    for key in "abc":
        with pytest.raises(ConfigError, match=f"{key} must be"):
            Config(**{key: NAN})


def test_config_numpy_numbers_and_arrays_are_accepted():
    denfi = xuframe.get_component_class("detector", "denfi")
    config = xuframe.build_config(
        denfi.Config,
        {"pillar_size": np.array([0.3, 0.3]), "widths": (np.int64(32), np.int32(64), 128)},
        owner="x",
    )
    assert config.pillar_size == (0.3, 0.3)
    assert config.widths == (32, 64, 128) and type(config.widths[0]) is int
    kmeans = xuframe.create("solver", "kmeans", n_init=np.int64(3), tol=np.float32(0.5))
    assert kmeans.config.n_init == 3 and type(kmeans.config.n_init) is int


# -- 3. the Trainer never saves or resumes NaN weights ------------------------------------------
class _SqrtAtZero(torch.nn.Module):
    """A finite loss whose gradient is NaN: d sqrt(w * 0) / dw = 0 / (2 sqrt(0)) = NaN."""

    def __init__(self, nan_after: int = 0) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))
        self.calls, self.nan_after = 0, nan_after

    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        fit = ((self.w - batch.mean()) ** 2).sum()
        if self.calls <= self.nan_after:
            return {"fit": fit}
        return {"fit": fit, "sqrt": torch.sqrt(self.w * 0).sum()}


_DATA = [torch.ones(2) for _ in range(8)]
_FAST = {"progress": False, "plot": False, "batch_size": 2, "max_steps": 4, "lr": 0.1}


def test_a_nan_gradient_stops_training_before_the_step(tmp_path):
    model = _SqrtAtZero()
    trainer = Trainer(model, {**_FAST, "checkpoint_every": 1}, run_dir=tmp_path)
    with pytest.raises(InputError, match=r"gradient became NaN or inf at step 1 .* in w"):
        trainer.fit(_DATA)
    assert bool(torch.isfinite(model.w).all())
    assert not list((tmp_path / "checkpoints").glob("*.pt"))


def test_a_nan_gradient_after_good_steps_keeps_the_good_checkpoints(tmp_path):
    model = _SqrtAtZero(nan_after=2)
    trainer = Trainer(model, {**_FAST, "checkpoint_every": 1}, run_dir=tmp_path)
    with pytest.raises(InputError, match="at step 3"):
        trainer.fit(_DATA)
    saved = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.pt"))
    assert saved == ["step-00000001.pt", "step-00000002.pt"]
    for path in (tmp_path / "checkpoints").glob("*.pt"):
        assert bool(torch.isfinite(load_checkpoint(path)["model"]["w"]).all())


def test_a_checkpoint_of_nan_weights_is_never_written(tmp_path):
    model = _SqrtAtZero()
    trainer = Trainer(model, _FAST, run_dir=tmp_path)
    trainer.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer.scheduler = torch.optim.lr_scheduler.ConstantLR(trainer.optimizer, 1.0)
    with torch.no_grad():
        model.w[1] = math.nan
    with pytest.raises(InputError, match=r"no checkpoint written .* NaN or inf in model\.w"):
        trainer.save_checkpoint(tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_resume_never_picks_a_checkpoint_of_nan_weights(tmp_path):
    good = Trainer(_SqrtAtZero(nan_after=10**6), {**_FAST, "max_steps": 2}, run_dir=tmp_path)
    good.fit(_DATA)
    state = load_checkpoint(tmp_path / "checkpoints" / "step-00000002.pt")
    state["model"]["w"] = torch.full((3,), math.nan)
    save_checkpoint(tmp_path / "checkpoints" / "step-00000003.pt", {**state, "step": 3})
    model = _SqrtAtZero(nan_after=10**6)
    resumed = Trainer(model, _FAST, run_dir=tmp_path)
    with pytest.warns(XuframeWarning, match=r"skipped .*step-00000003\.pt: it holds NaN"):
        result = resumed.fit(_DATA, resume=True)
    assert result.steps == 4 and bool(torch.isfinite(model.w).all())
    with pytest.raises(
        CheckpointError, match="cannot resume from it: it holds NaN or inf in model.w"
    ):
        Trainer(_SqrtAtZero(), _FAST).fit(
            _DATA, resume=tmp_path / "checkpoints" / "step-00000003.pt"
        )


# -- 4. `xuframe train`: a clean one-line error, exit status 2 ---------------------------------
_RUN = """
[component]
factory = "components:make_regressor"

[component.config]
dropout = 0.0

[trainer]
max_steps = 2
batch_size = 16
lr = 0.01
progress = false
plot = false

[data]
train = "components:make_regression_data"
args = { n = 32 }
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("dropout = 0.0", "dropot = 0.0"), "make_regressor() takes no keyword 'dropot'. Did you"),
        (("n = 32", "m = 32"), "data.train: make_regression_data() takes no keyword 'm'"),
        (("dropout = 0.0", 'dropout = "x"'), "keyword 'dropout' expects float, got 'x'"),
        (
            ("dropout = 0.0", "dropout = nan"),
            "keyword 'dropout': expected a finite number, got nan",
        ),
        (("lr = 0.01", "lr = nan"), "'trainer.lr': expected a finite number, got nan"),
        (("lr = 0.01", "lr = inf"), "'trainer.lr': expected a finite number, got inf"),
        (("lr = 0.01", 'lr = "x"'), "'trainer.lr' expects float, got 'x'"),
        (("[component.config]", "args = 3\n[component.config]"), "component.args must be a list"),
        (("args = { n = 32 }", "args = 5"), "data.args must be a table"),
        (("[component]", "run_dir = 5\n[component]"), "run_dir must be a folder path"),
    ],
)
def test_train_cli_bad_run_files_end_in_one_line(tmp_path, capsys, edit, message):
    from xuframe.cli import main

    shutil.copy(Path(__file__).parent / "components.py", tmp_path / "components.py")
    path = tmp_path / "run.toml"
    path.write_text(_RUN.replace(*edit, 1))
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xuframe: error: ") and err.count("\n") == 1, err
    assert message in err


def test_train_cli_on_a_missing_file_or_a_folder(tmp_path, capsys):
    from xuframe.cli import main

    assert main(["train", str(tmp_path / "none.toml")]) == 2
    assert main(["train", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"xuframe: error: no run file at {tmp_path / 'none.toml'}"
    assert err[1].startswith(f"xuframe: error: {tmp_path} is a directory")


# -- 7. a damaged torch file: the message says what was found ----------------------------------
@pytest.mark.parametrize(
    ("content", "found"),
    [
        (bytes(512), "it holds 512 zero bytes and nothing else"),
        (bytes(3 << 20), f"it holds {3 << 20} zero bytes and nothing else"),
        (b"hello world\nsecond line\n", "it is a text file (24 bytes) starting 'hello world'"),
        (b'  {"a": 1}', "it is a text file (10 bytes) starting '{\"a\": 1}'"),
        (pickle.dumps({"a": 1}, protocol=2), "it is a Python pickle"),
    ],
)
def test_a_damaged_torch_file_is_described(tmp_path, content, found):
    from xuframe.data import load_torch_file

    path = tmp_path / "w.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_torch_file(path)
    message = str(info.value)
    assert (
        message == f"{path} is not a torch checkpoint (a file written by torch.save): {found}"
        or (found in message and "other than tensors" not in message and "KeyError" not in message)
    ), message


def test_a_truncated_torch_file_is_described(tmp_path):
    from xuframe.data import load_torch_file

    good = save_checkpoint(tmp_path / "good.pt", {"w": torch.randn(100)}).read_bytes()
    (tmp_path / "half.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="it is a zip archive, truncated or corrupt"):
        load_torch_file(tmp_path / "half.pt")
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(50)}, legacy, _use_new_zipfile_serialization=False)
    legacy.write_bytes(legacy.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="legacy \\(non-zip\\) format, truncated or corrupt"):
        load_torch_file(legacy)


# -- 5. readers -----------------------------------------------------------------------------
def _readers():
    from xuframe.data import (
        CocoDetection,
        KittiDataset,
        cifar,
        load_array_pickle,
        load_torch_file,
        read_calib,
        read_idx,
        read_image,
        read_labels,
        read_velodyne,
    )
    from xuframe.engine import load_checkpoint, read_metrics

    return [
        read_labels,
        read_velodyne,
        read_calib,
        read_image,
        read_idx,
        load_array_pickle,
        load_torch_file,
        load_checkpoint,
        read_metrics,
        cifar,
        KittiDataset,
        lambda p: CocoDetection(p, "."),
        lambda p: CocoDetection("x.json", p),
    ]


@pytest.mark.parametrize("path", [None, 42, object(), b"bytes", 1.5])
def test_readers_refuse_a_path_that_is_not_a_path(path):
    for reader in _readers():
        with pytest.raises(InputError, match="expected a path"):
            reader(path)


def test_load_run_refuses_a_path_that_is_not_a_path():
    from xuframe.engine import load_run

    with pytest.raises(ConfigError, match="expected a path"):
        load_run(None)


_LABEL = "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_LABEL.replace(" 1.65 ", " nan "), "line 1|:1: expected finite numbers"),
        (_LABEL.replace(" 46.70 ", " inf "), ":1: expected finite numbers"),
        (_LABEL.replace(" 0 -1.58", " nan -1.58"), ":1: expected finite numbers"),
        (_LABEL.replace(" 0 -1.58", " 1.5 -1.58"), ":1: expected an integer occlusion"),
        (_LABEL.replace(" 1.65 ", " 1,65 "), ":1: expected numbers after the class, got '1,65'"),
    ],
)
def test_read_labels_refuses_bad_numbers(tmp_path, line, message):
    from xuframe.data import read_labels

    path = tmp_path / "000000.txt"
    path.write_text(line + "\n")
    with pytest.raises(InputError, match=message):
        read_labels(path)


def test_read_velodyne_refuses_a_file_of_zero_bytes(tmp_path):
    from xuframe.data import read_velodyne

    path = tmp_path / "000000.bin"
    path.write_bytes(bytes(64))
    with pytest.raises(InputError, match="64 zero bytes and nothing else"):
        read_velodyne(path)
    path.write_bytes(b"")
    assert len(read_velodyne(path)) == 0  # an empty scan is a scan without points


_RIGID = "R0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P2: 1 2 3 4 5 6 7 8 9 10 11 1.2.3\n" + _RIGID, "P2: expected numbers, got '1.2.3'"),
        ("P2: 1 2 3 4 5 6 7 8 9 10 11 nan\n" + _RIGID, "P2: expected finite numbers"),
        (
            "P2: 1 2 3 4 5 6 7 8 9 10 11 12\n" + _RIGID.replace("1 0 0 0 1", "inf 0 0 0 1"),
            "R0_rect",
        ),
        (
            "P2: " + " ".join(["1"] * 12) + "\nR0_rect: " + " ".join(["1"] * 9) + "\n"
            "Tr_velo_to_cam: " + " ".join(["1"] * 12) + "\n",
            "singular",
        ),
    ],
)
def test_read_calib_refuses_malformed_numbers(tmp_path, text, message):
    from xuframe.data import read_calib

    path = tmp_path / "calib.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_calib(path)


_COCO = {
    "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]}],
    "categories": [{"id": 1, "name": "box"}],
}


def _ann(**change):
    return {**_COCO, "annotations": [{**_COCO["annotations"][0], **change}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (5, "holds a json number 5, expected an object"),
        (None, "holds a json null null, expected an object"),
        ({**_COCO, "images": None}, "'images' must be a list of objects, got NoneType null"),
        ({**_COCO, "categories": {"a": 1}}, "'categories' must be a list"),
        ({**_COCO, "annotations": 3}, "'annotations' must be a list"),
        ({**_COCO, "images": [5]}, "image: expected a json object"),
        ({**_COCO, "categories": ["box"]}, "category: expected a json object"),
        ({**_COCO, "annotations": [None]}, "annotation: expected a json object"),
        (_ann(bbox=["a", "b", "c", "d"]), "bbox: expected 4 finite numbers"),
        (_ann(bbox=None), r"bbox: expected 4 finite numbers \[x, y, w, h\], got null"),
        (_ann(iscrowd="yes"), "iscrowd must be 0 or 1"),
        ({**_COCO, "images": [{**_COCO["images"][0], "file_name": 5}]}, "file_name must be"),
        ({**_COCO, "images": [{**_COCO["images"][0], "width": "8"}]}, "width must be a positive"),
        ({**_COCO, "images": [{**_COCO["images"][0], "height": -8}]}, "height must be a positive"),
        ({k: v for k, v in _COCO.items() if k != "images"}, "missing field 'images'"),
    ],
)
def test_coco_detection_refuses_json_of_the_wrong_shape(tmp_path, data, message):
    import json

    from xuframe.data import CocoDetection

    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CocoDetection(path, tmp_path)


# -- 6. metrics ------------------------------------------------------------------------------
def _kitti_frames():
    from xuframe.data import KittiObject

    car = KittiObject(
        "Car",
        0.0,
        0,
        -1.58,
        (587.0, 173.3, 614.1, 200.1),
        (1.65, 1.67, 3.64),
        (-0.65, 1.71, 46.7),
        -1.59,
    )
    return KittiObject, car


@pytest.mark.parametrize("overlap", [-1.0, 0.0, 2.0, NAN, INF, "x", object()])
def test_kitti_ap_refuses_an_overlap_outside_0_1(overlap):
    from xuframe.metrics import kitti_ap

    _, car = _kitti_frames()
    det = [[attrs.evolve(car, score=0.9)]]
    with pytest.raises(InputError, match="min_overlap: expected a (finite )?number"):
        kitti_ap([[car]], det, min_overlap=overlap)


def test_kitti_ap_refuses_nan_objects_and_frames_of_the_wrong_type():
    from xuframe.metrics import kitti_ap

    _, car = _kitti_frames()
    good = [[attrs.evolve(car, score=0.9)]]
    assert kitti_ap([[car]], good, min_overlap=1.0) >= 0.0
    with pytest.raises(InputError, match=r"detections\[0\]\[0\] \(Car\): .* in score"):
        kitti_ap([[car]], [[attrs.evolve(car, score=NAN)]])
    with pytest.raises(InputError, match=r"detections\[0\]\[0\] \(Car\): .* in bbox"):
        kitti_ap([[car]], [[attrs.evolve(car, score=0.5, bbox=(NAN, 0.0, 1.0, 1.0))]])
    with pytest.raises(InputError, match=r"ground_truth\[0\]\[0\] \(Car\): .* in dimensions"):
        kitti_ap([[attrs.evolve(car, dimensions=(NAN, 1.0, 1.0))]], good)
    with pytest.raises(InputError, match=r"ground_truth: expected a sequence of frames"):
        kitti_ap(None, good)
    with pytest.raises(InputError, match=r"detections\[0\]: expected a sequence of KittiObject"):
        kitti_ap([[car]], [car])
    with pytest.raises(InputError, match=r"detections\[0\]\[0\]: expected a KittiObject"):
        kitti_ap([[car]], [["car"]])


def _coco_case():
    from xuframe import Boxes2D, Detections

    boxes = Boxes2D(torch.tensor([[0.0, 0.0, 4.0, 4.0]]))
    det = Detections(boxes, torch.tensor([0.9]), torch.tensor([0]))
    target = {"boxes": boxes, "labels": torch.tensor([0])}
    return det, target


@pytest.mark.parametrize("value", [None, 42, object(), "ab"])
def test_coco_map_refuses_sequences_of_the_wrong_type(value):
    from xuframe.metrics import coco_map

    det, target = _coco_case()
    with pytest.raises(InputError, match="predictions: expected a sequence"):
        coco_map(value, [target], 1)
    with pytest.raises(InputError, match="targets: expected a sequence"):
        coco_map([det], value, 1)


def test_coco_map_n_classes_numpy_huge_and_bad():
    from xuframe.metrics import coco_map

    det, target = _coco_case()
    base = coco_map([det], [target], 1)
    assert coco_map([det], [target], np.int64(1)) == base
    assert coco_map([det], [target], 10**9) == base  # only the classes present are evaluated
    for bad in (0, 2.5, NAN, "x", None):
        with pytest.raises(InputError, match="n_classes: expected an int"):
            coco_map([det], [target], bad)


def test_coco_map_refuses_detections_changed_after_they_were_built():
    from xuframe.metrics import coco_map

    det, target = _coco_case()
    object.__setattr__(det.geometry, "tensor", torch.zeros(1, 4, dtype=torch.complex64))
    with pytest.raises(InputError, match="boxes: expected a real-valued tensor"):
        coco_map([det], [target], 1)
    det, target = _coco_case()
    object.__setattr__(det, "scores", torch.tensor([NAN]))
    with pytest.raises(InputError, match="scores: expected finite values"):
        coco_map([det], [target], 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.psnr("x", np.zeros(3)), "psnr: prediction: expected an array of real"),
        (lambda m: m.psnr(np.array([NAN]), np.zeros(1)), "psnr: prediction: expected finite"),
        (lambda m: m.psnr(np.array([INF]), np.zeros(1)), "psnr: prediction: expected finite"),
        (lambda m: m.psnr(np.zeros(2, bool), np.zeros(2)), "expected an array of real"),
        (lambda m: m.psnr(np.zeros(2, complex), np.zeros(2)), "expected an array of real"),
        (lambda m: m.psnr(np.zeros(0), np.zeros(0)), "expected a non-empty array"),
        (lambda m: m.psnr(np.zeros(2), np.ones(2), data_range=None), "data_range: expected a"),
        (lambda m: m.psnr(np.zeros(2), np.ones(2), data_range=NAN), "data_range: expected a"),
        (lambda m: m.frechet_distance({}, np.zeros((3, 2))), "frechet_distance: a: expected"),
        (
            lambda m: m.frechet_distance(np.full((3, 2), NAN), np.zeros((3, 2))),
            "frechet_distance: a: expected finite",
        ),
        (
            lambda m: m.frechet_distance(np.zeros((3, 2)), np.full((3, 2), 1e200)),
            "frechet_distance: b: expected values of magnitude",
        ),
        (lambda m: m.boundary_ap([0, 1], ["a", "b"]), "scores: expected an array of real"),
        (lambda m: m.boundary_ap([0, 1], [0.5, NAN]), "scores: expected finite"),
        (
            lambda m: m.boundary_recall_at([0, 1, 0], [0, 1, 0], [1.0, NAN, 3.0]),
            "shot_end_times: expected finite",
        ),
        (
            lambda m: m.boundary_recall_at([0, 1, 0], [0, 1, 0], [1, 2, 3], seconds=NAN),
            "seconds: expected a number",
        ),
        (
            lambda m: m.boundary_recall_at([0, 1, 0], [0, 1, 0], [1, 2, 3], seconds=None),
            "seconds: expected a number",
        ),
        (lambda m: m.boundaries_from_scenes(None, 3), "scenes: expected an array of real"),
        (lambda m: m.boundaries_from_scenes("x", 3), "scenes: expected .* pairs of ints"),
        (lambda m: m.boundaries_from_scenes([(0, 2)], 2.5), "n_shots: expected an int"),
        (lambda m: m.boundaries_from_scenes([(0, 2)], -1), "n_shots: expected an int >= 1"),
        (lambda m: m.boundaries_from_scenes([(0, 2)], 10**15), "would need"),
        (lambda m: m.scene_miou(None, [(0, 1)]), "true_scenes: expected"),
        (lambda m: m.scene_miou([(0, NAN)], [(0, 1)]), "true_scenes: expected integers"),
        (lambda m: m.scene_miou([(0, 1)], [(None, 1)]), "pred_scenes: expected an array"),
        (lambda m: m.scene_miou([(0, 1)], [(3, 1)]), "pred_scenes: expected first <= last"),
        (lambda m: m.scene_metrics(None), "scene_metrics: expected a sequence of movies"),
        (
            lambda m: m.scene_metrics([{"labels": [0, 1], "scores": [0.1, NAN]}]),
            "scores: expected finite",
        ),
    ],
)
def test_metrics_refuse_bad_input(call, message):
    import xuframe.metrics as m

    with pytest.raises(InputError, match=message):
        call(m)


def test_psnr_of_huge_values_and_ranges_is_finite_and_right():
    from xuframe.metrics import psnr

    assert psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)
    assert psnr(np.zeros(4), np.full(4, 1e150), data_range=1e200) == pytest.approx(1000.0)
    assert psnr(np.array([True, False]).astype(float), np.zeros(2)) == pytest.approx(
        10 * math.log10(2)
    )


# -- 8. the interfaces' public wrappers -------------------------------------------------------
def _verifier():
    from components import IntervalVerifier

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return IntervalVerifier(), net, torch.rand(2, 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": lambda t: t}, "expected model to be a torch.nn.Module, got function"),
        ({"model": "net"}, "expected model to be a torch.nn.Module, got str"),
        ({"x": [[0.0] * 4] * 2}, "x: expected a torch.Tensor, got list"),
        ({"x": torch.zeros(2, 4, dtype=torch.int64)}, "x: expected a floating-point tensor"),
        ({"x": torch.zeros(4)}, "x: expected a batch"),
        ({"x": torch.zeros(2, 4, dtype=torch.float64)}, "expected the model's dtype torch.float32"),
        ({"x": torch.zeros(2, 9)}, r"x of shape \(2, 9\) does not fit the model"),
        ({"x": torch.zeros(1, 2, 4)}, r"expected the model to map a batch to \(B, K\) outputs"),
        ({"x": torch.full((2, 4), NAN)}, "x: expected finite values"),
        ({"labels": torch.tensor([0.0, 1.0])}, "labels: expected integer labels"),
        ({"labels": torch.tensor([0, 1, 2])}, "labels: expected 2 labels"),
        ({"labels": torch.tensor([0, 3])}, r"labels: expected labels in \[0, 2\]"),
        ({"labels": "ab"}, "labels: expected"),
        ({"eps": NAN}, "eps: expected a number, got NaN"),
        ({"eps": -1.0}, "eps: expected a number >= 0"),
        ({"eps": "x"}, "eps: expected a number"),
        ({"eps": 1e300}, "eps: expected a number >= 0 and <= 3.40282e"),
        ({"eps": 3e38}, "the bounds (overflow|came out invalid) at eps=3e"),
    ],
)
def test_verify_checks_its_arguments_before_bounding(change, message):
    verifier, net, x = _verifier()
    args = {"model": net, "x": x, "labels": torch.tensor([0, 1]), "eps": 0.1, **change}
    with pytest.raises(InputError, match=message):
        verifier.verify(args["model"], args["x"], args["labels"], args["eps"])


def test_verify_accepts_labels_as_a_list_or_numpy_and_bounds_checks_spec():
    verifier, net, x = _verifier()
    a = verifier.verify(net, x, [0, 1], 0.01)
    b = verifier.verify(net, x, np.array([0, 1]), np.float32(0.01))
    assert torch.equal(a.margins.lower, b.margins.lower)
    with pytest.raises(InputError, match=r"spec: expected shape \(2, N, 3\)"):
        verifier.bounds(net, x, 0.1, spec=torch.zeros(2, 1, 5))
    with pytest.raises(InputError, match="spec: expected a real-valued tensor"):
        verifier.bounds(net, x, 0.1, spec=torch.zeros(2, 1, 3, dtype=torch.complex64))


def test_generator_sample_takes_numpy_ints_is_chunked_and_refuses_huge_n(monkeypatch):
    from components import LinearGenerator

    gen = LinearGenerator()
    assert torch.equal(gen.sample(np.int64(3), seed=np.int64(5)), gen.sample(3, seed=5))
    for bad, message in [
        ("x", "seed: expected an int"),
        (2.5, "seed: expected an int"),
        (-1, ">= 0"),
    ]:
        with pytest.raises(InputError, match=message):
            gen.sample(2, seed=bad)
    monkeypatch.setattr(LinearGenerator, "sample_chunk", 4)
    chunked = gen.sample(10, seed=1)
    assert chunked.shape == (10, 1, 4, 4)
    assert torch.equal(chunked[:4], gen.sample(4, seed=1))  # the first piece is the small draw
    assert torch.equal(chunked, gen.sample(10, seed=1))
    monkeypatch.setenv("XUFRAME_MAX_BYTES", str(1 << 20))
    with pytest.raises(InputError, match=r"sample: 1000000000 images would need 59\.6 GiB"):
        gen.sample(10**9, seed=0)


def test_query_teacher_checks_its_arguments():
    from components import SoftTargetDistiller

    teacher, student, _ = SoftTargetDistiller.example()
    distiller = SoftTargetDistiller(teacher, student)
    with pytest.raises(InputError, match="teacher input x: expected a torch.Tensor, got list"):
        distiller.query_teacher([[0.0] * 6])
    with pytest.raises(InputError, match="method: expected a teacher method name"):
        distiller.query_teacher(torch.zeros(2, 6), method=None)
    assert distiller.teacher_queries == 0


@pytest.mark.parametrize(
    ("module", "extra"), [(None, None), (3, None), ("", None), (".x", None), ("json", 5)]
)
def test_import_extra_refuses_names_that_are_not_names(module, extra):
    with pytest.raises(InputError, match="import_extra: (module|extra): expected"):
        xuframe.import_extra(module, extra)


def test_trainer_arguments_of_the_wrong_type():
    model = _SqrtAtZero(nan_after=10**6)
    with pytest.raises(InputError, match="expected a path .* to a run folder, got int"):
        Trainer(model, _FAST, run_dir=5)
    with pytest.raises(InputError, match=r"evaluators\[0\]: expected a callable"):
        Trainer(model, _FAST, evaluators=["mae"])
    with pytest.raises(InputError, match="evaluators: expected a sequence of callables"):
        Trainer(model, _FAST, evaluators="mae")
    with pytest.raises(InputError, match="run_config: expected a mapping"):
        Trainer(model, _FAST, run_config=[1])
    with pytest.raises(InputError, match="resume: expected True, False or a checkpoint path"):
        Trainer(model, _FAST).fit(_DATA, resume=5)


@pytest.mark.parametrize("seed", ["-1", "x", "1.5"])
def test_demo_seed_must_be_a_non_negative_int(capsys, seed):
    from xuframe.cli import main

    with pytest.raises(SystemExit) as info:
        main(["demo", "kmeans", "--seed", seed])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: expected an int >= 0" in err and "Traceback" not in err


# -- shape messages ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((None, 3), r"expected shape \(N, 3\), got \(10,\)"),
        ((None, None), r"expected shape \(N, M\), got \(10,\)"),  # not a square "(N, N)"
        ((None, None, None, 7), r"expected shape \(N, M, K, 7\), got \(10,\)"),
        ((3, "H", "W"), r"expected shape \(3, H, W\), got \(10,\)"),
    ],
)
def test_shape_messages_name_each_free_size_apart(shape, message):
    from xuframe.validation import check_tensor

    with pytest.raises(InputError, match=message):
        check_tensor(torch.zeros(10), "x", shape=shape)
