"""Every loader in the project answers a bad file with an ``xuframe.errors`` exception that
names the file: missing, a folder in its place, empty, truncated, or garbage bytes."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from xuframe.data import (
    CocoDetection,
    cifar,
    load_array_pickle,
    load_torch_file,
    read_calib,
    read_idx,
    read_image,
    read_labels,
    read_velodyne,
)
from xuframe.engine import load_checkpoint, load_run, read_metrics, save_checkpoint
from xuframe.errors import ConfigError, InputError
from xuframe_plugins.lgss.moviescenes import moviescenes_split, read_moviescenes
from xuframe_plugins.stylekd import StyleGAN2, load_rosinality, to_rosinality

GARBAGE = b"\x89garbage\xff\xfe not a file of any kind" * 4  # 132 bytes, not UTF-8


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _checkpoint_bytes(tmp: Path) -> bytes:
    return save_checkpoint(tmp / "good.pt", {"step": 1, "w": torch.randn(200)}).read_bytes()


def _rosinality_bytes(tmp: Path) -> bytes:
    torch.manual_seed(0)
    g = StyleGAN2({"resolution": 8, "latent_dim": 8, "n_mlp": 1, "width": 1 / 64})
    return _torch_bytes({"g_ema": to_rosinality(g), "latent_avg": torch.zeros(8)})


def _idx_bytes(tmp: Path) -> bytes:
    return bytes([0, 0, 8, 2]) + struct.pack(">2I", 4, 5) + bytes(range(20))


def _calib_bytes(tmp: Path) -> bytes:
    row = " ".join(["1.0"] * 12)
    rigid = "1 0 0 0 0 1 0 0 0 0 1 0"  # a calibration's transform must be invertible
    return f"P2: {row}\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: {rigid}\n".encode()


def _png_bytes(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _coco_bytes(tmp: Path) -> bytes:
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]}],
        "categories": [{"id": 1, "name": "box"}],
    }
    return json.dumps(data).encode()


def _npy_bytes(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(64, np.float32))
    return buffer.getvalue()


def _movie_npy(path: Path) -> object:
    root = path.parents[2]
    (root / "label318").mkdir(parents=True, exist_ok=True)
    (root / "label318" / "tt0000001.txt").write_text("0000 1\n")
    return read_moviescenes(root, "tt0000001", modalities=("place",))


@dataclass
class Loader:
    name: str
    filename: str  # where the file goes under tmp_path
    good: Callable[[Path], bytes]
    load: Callable[[Path], object]
    error: type[Exception] = InputError
    empty_is_valid: bool = False  # e.g. a KITTI label file of a frame without objects
    looks_in_folder: bool = False  # the loader looks for the file in a folder: names the folder


LOADERS = [
    Loader("load_checkpoint", "ck.pt", _checkpoint_bytes, load_checkpoint),
    Loader("load_torch_file", "t.pt", _checkpoint_bytes, load_torch_file),
    Loader("load_rosinality", "ros.pt", _rosinality_bytes, load_rosinality),
    Loader(
        "load_array_pickle",
        "a.pkl",
        lambda _: pickle.dumps({"a": np.arange(50)}, protocol=2),
        load_array_pickle,
    ),
    Loader(
        "cifar",
        "cifar-10-batches-py/test_batch",
        lambda _: pickle.dumps(
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2
        ),
        lambda p: cifar(p.parent, "test"),
        looks_in_folder=True,  # cifar finds its batches in a folder
    ),
    Loader("read_idx", "labels.idx", _idx_bytes, read_idx),
    Loader("read_idx_gz", "labels.idx.gz", lambda t: gzip.compress(_idx_bytes(t)), read_idx),
    Loader("read_calib", "calib.txt", _calib_bytes, read_calib),
    Loader(
        "read_velodyne",
        "scan.bin",
        lambda _: np.ones((4, 4), np.float32).tobytes(),
        read_velodyne,
        empty_is_valid=True,  # a scan without points
    ),
    Loader(
        "read_labels",
        "label.txt",
        lambda _: (
            b"Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
        ),
        read_labels,
        empty_is_valid=True,
    ),
    Loader("read_image", "image.png", _png_bytes, read_image),
    Loader("CocoDetection", "instances.json", _coco_bytes, lambda p: CocoDetection(p, p.parent)),
    Loader(
        "read_metrics",
        "metrics.jsonl",
        lambda _: b'{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.25}\n',
        read_metrics,
        empty_is_valid=True,
        looks_in_folder=True,  # a folder is a run folder holding metrics.jsonl
    ),
    Loader(
        "load_run",
        "run.toml",
        lambda _: b'[component]\nkind = "solver"\nname = "kmeans"\n[data]\ntrain = "x:y"\n',
        load_run,
        error=ConfigError,  # a run file is configuration
        empty_is_valid=True,
    ),
    Loader(
        "moviescenes_split",
        "meta/split318.json",
        lambda _: b'{"train": ["tt0000001"], "val": [], "test": []}',
        lambda p: moviescenes_split(p.parents[1]),
    ),
    Loader(
        "read_moviescenes (npy)",
        "place_feat/tt0000001/shot_0000.npy",
        _npy_bytes,
        _movie_npy,
        looks_in_folder=True,
    ),
]


def _make(tmp_path: Path, loader: Loader, case: str) -> Path:
    path = tmp_path / "data" / loader.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    if case == "directory":
        path.mkdir()
    elif case != "missing":
        good = loader.good(tmp_path)
        content = {
            "empty": b"",
            "truncated": good[: len(good) // 2 + 1],
            "garbage": GARBAGE,
        }[case]
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("loader", LOADERS, ids=lambda ld: ld.name)
def test_the_good_file_loads(tmp_path, loader):
    path = tmp_path / "data" / loader.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(loader.good(tmp_path))
    if loader.name == "CocoDetection":
        (path.parent / "a.png").write_bytes(_png_bytes(tmp_path))
    loader.load(path)


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "truncated", "garbage"])
@pytest.mark.parametrize("loader", LOADERS, ids=lambda ld: ld.name)
def test_a_bad_file_raises_an_error_naming_it(tmp_path, loader, case):
    if case == "empty" and loader.empty_is_valid:
        pytest.skip(f"an empty file is valid for {loader.name}")
    path = _make(tmp_path, loader, case)
    with pytest.raises(loader.error) as info:
        loader.load(path)
    message = str(info.value)
    lookup = case in ("missing", "directory") and loader.looks_in_folder
    assert str(path.parent if lookup else path) in message, message
    if case == "directory" and not lookup:
        assert "directory" in message or "folder" in message, message


@pytest.mark.parametrize("loader", [ld for ld in LOADERS if ld.filename.endswith(".pt")])
def test_torch_loaders_say_what_the_file_starts_with(tmp_path, loader):
    path = _make(tmp_path, loader, "garbage")
    with pytest.raises(InputError, match=r"not a .*starting b'\\x89garbage"):
        loader.load(path)
    empty = _make(tmp_path / "e", loader, "empty")
    with pytest.raises(InputError, match="empty"):
        loader.load(empty)
