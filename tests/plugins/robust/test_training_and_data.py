"""Verified training on the Trainer, verified-error evaluation, digits and the IDX reader."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from torch import nn

import xuframe
from xuframe.engine import Trainer, seed_everything
from xuframe.errors import InputError
from xuframe_plugins.robust import ParamRamp
from xuframe_plugins.robust.data import ImageClassification, digits, mnist, read_idx
from xuframe_plugins.robust.training import VerifiedTraining, verified_errors


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), ParamRamp(32, 0.01), nn.Linear(32, 10))


def test_digits_are_real_images_in_the_unit_range():
    train, test = digits("train"), digits("test")
    assert len(train) + len(test) == 1797 and len(test) == 449
    assert train.images.shape[1:] == (1, 8, 8)
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert set(train.labels.tolist()) == set(range(10))
    assert torch.equal(digits("test").labels, test.labels)  # the split is seeded
    with pytest.raises(InputError, match="split"):
        digits("validation")


def _write_idx(path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def test_idx_files_round_trip_and_load_as_mnist(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_idx(tmp_path / "images.gz", images, 0x08)
    _write_idx(tmp_path / "labels", labels, 0x08)
    assert np.array_equal(read_idx(tmp_path / "images.gz"), images)
    floats = np.arange(6, dtype=np.float32).reshape(2, 3)
    _write_idx(tmp_path / "floats", floats, 0x0D)
    assert np.array_equal(read_idx(tmp_path / "floats"), floats)
    data = mnist(tmp_path / "images.gz", tmp_path / "labels")
    assert len(data) == 5 and data[0]["x"].shape == (1, 28, 28) and data[2]["y"] == 4
    assert float(data.images.max()) <= 1.0
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(InputError, match="bad magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "labels").read_bytes()[:-1])
    with pytest.raises(InputError, match="expected 5 bytes"):
        read_idx(tmp_path / "short")


def test_schedules_ramp_eps_kappa_and_beta():
    vt = VerifiedTraining(
        _net(), eps=0.2, ramp_start=10, ramp_steps=20, kappa=(1.0, 0.5), beta=(1.0, 0.0)
    )
    assert vt.schedule(0) == {"eps": 0.0, "kappa": 1.0, "beta": 1.0}
    mid = vt.schedule(20)
    assert (
        mid["eps"] == pytest.approx(0.1)
        and mid["kappa"] == pytest.approx(0.75)
        and mid["beta"] == pytest.approx(0.5)
    )
    assert vt.schedule(100) == {"eps": 0.2, "kappa": 0.5, "beta": 0.0}
    assert VerifiedTraining(_net(), eps=0.2, method="ibp").schedule(5)["beta"] == 0.0
    annealed = VerifiedTraining(_net(), eps=0.2, ramp_steps=10, negative_slope=(0.01, 0.0))
    assert annealed.schedule(5)["negative_slope"] == pytest.approx(0.005)
    annealed.loss({"x": torch.rand(4, 1, 8, 8), "y": torch.tensor([0, 1, 2, 3])})
    assert annealed.model[2].negative_slope == pytest.approx(0.01)  # step 0 of the ramp
    with pytest.raises(InputError, match="method"):
        VerifiedTraining(_net(), eps=0.1, method="crown")


def test_verified_training_lowers_the_verified_error(tmp_path):
    data = ImageClassification(digits("train").images[:512], digits("train").labels[:512])
    batches = [
        {"x": data.images[i : i + 128], "y": data.labels[i : i + 128]} for i in range(0, 512, 128)
    ]
    verifier = xuframe.create("verifier", "crown-ibp", clip_min=0.0, clip_max=1.0)
    results = {}
    for eps in (0.0, 0.05):  # plain training vs CROWN-IBP training, same seed and budget
        seed_everything(0)
        vt = VerifiedTraining(
            _net(), eps=max(eps, 1e-9) if eps else 0.0, ramp_start=20, ramp_steps=100
        )
        Trainer(
            vt,
            {"max_steps": 240, "batch_size": 64, "lr": 3e-3, "progress": False, "plot": False},
            run_dir=tmp_path / str(eps),
        ).fit(data)
        results[eps] = verified_errors(vt.model.eval(), batches, 0.05, verifier)
        assert int(vt.step) == 240
    assert results[0.05]["verified_error"] < results[0.0]["verified_error"]
    assert results[0.05]["clean_error"] < 0.5


def test_verified_training_resumes_its_schedule(tmp_path):
    data = digits("test")
    seed_everything(0)
    vt = VerifiedTraining(_net(), eps=0.05, ramp_steps=10)
    Trainer(
        vt, {"max_steps": 4, "batch_size": 32, "progress": False, "plot": False}, run_dir=tmp_path
    ).fit(data)
    seed_everything(1)
    again = VerifiedTraining(_net(), eps=0.05, ramp_steps=10)
    Trainer(
        again,
        {"max_steps": 6, "batch_size": 32, "progress": False, "plot": False},
        run_dir=tmp_path,
    ).fit(data, resume=True)
    assert int(again.step) == 6
