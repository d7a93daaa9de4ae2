"""The CIFAR python-pickle reader (on small batches the test writes) and the synthetic textures."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from xuframe.data import cifar, textures
from xuframe.errors import InputError


def _write(path, obj, protocol=2):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=protocol)


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def test_cifar10_reads_the_five_training_batches_in_order_with_names(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = [_images(3, i) for i in range(5)]
    for i, data in enumerate(batches, 1):
        # the released files were pickled by Python 2: keys come back as bytes with encoding="bytes"
        _write(root / f"data_batch_{i}", {b"data": data, b"labels": [i % 10] * 3})
    # ...and name numpy 1's module path, numpy.core, which numpy 2 moved to numpy._core
    raw = pickle.dumps({"data": batches[0], "labels": [1] * 3}, protocol=2)
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n" in raw
    (root / "data_batch_1").write_bytes(raw)
    _write(root / "test_batch", {"data": _images(4, 9), "labels": [0, 1, 2, 3]})
    _write(root / "batches.meta", {"label_names": [f"c{k}" for k in range(10)]})
    train = cifar(tmp_path, "train")  # the parent folder works too
    assert train.images.shape == (15, 3, 32, 32) and train.labels.tolist()[::3] == [1, 2, 3, 4, 5]
    first = torch.from_numpy(batches[0][0].astype(np.float32) / 255)
    assert torch.equal(train.images[0, 0].flatten(), first[:1024])  # red plane first, row-major
    assert torch.equal(train.images[0, 2].flatten(), first[2048:])
    test = cifar(root, "test")
    assert len(test) == 4 and test.classes == tuple(f"c{k}" for k in range(10))
    assert test.num_classes == 10 and float(test.images.max()) <= 1.0


def test_cifar100_reads_fine_or_coarse_labels(tmp_path):
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    _write(
        root / "train",
        {
            "data": _images(5, 1),
            "fine_labels": [0, 10, 20, 30, 99],
            "coarse_labels": [0, 1, 2, 3, 19],
        },
    )
    _write(root / "test", {"data": _images(2, 2), "fine_labels": [5, 6], "coarse_labels": [1, 1]})
    _write(
        root / "meta",
        {
            "fine_label_names": [f"f{k}" for k in range(100)],
            "coarse_label_names": [f"s{k}" for k in range(20)],
        },
    )
    fine = cifar(root, "train")
    assert fine.labels.tolist() == [0, 10, 20, 30, 99] and fine.num_classes == 100
    coarse = cifar(root, "test", labels="coarse")
    assert coarse.labels.tolist() == [1, 1] and coarse.classes[1] == "s1"


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_refuses_pickles_that_would_run_code_and_malformed_batches(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    _write(root / "test_batch", {"data": _images(1, 0), "labels": [_Exploit()]})
    with pytest.raises(InputError, match="refusing to load"):
        cifar(root, "test")
    _write(root / "test_batch", {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]})
    with pytest.raises(InputError, match="3072"):
        cifar(root, "test")
    _write(root / "test_batch", {"data": _images(2, 0), "labels": [0]})
    with pytest.raises(InputError, match="2 images but"):
        cifar(root, "test")
    (root / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="not a CIFAR python batch"):
        cifar(root, "test")
    with pytest.raises(InputError, match="missing batch file"):
        cifar(root, "train")
    with pytest.raises(InputError, match="no CIFAR python batches"):
        cifar(tmp_path / "elsewhere", "train")
    with pytest.raises(InputError, match="split"):
        cifar(root, "val")


def test_textures_are_seeded_split_and_in_range():
    a = textures("train", n_train=50, num_classes=7, size=12, channels=3, seed=4)
    b = textures("train", n_train=50, num_classes=7, size=12, channels=3, seed=4)
    test = textures("test", n_test=50, num_classes=7, size=12, channels=3, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, test.images)
    assert a.images.shape == (50, 3, 12, 12) and a.num_classes == 7
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    assert set(a.labels.tolist()) <= set(range(7))
    grey = textures("test", n_test=8, channels=1, size=8)
    assert grey.images.shape == (8, 1, 8, 8)


def test_textures_classes_are_separable_by_a_linear_probe_on_pixel_spectra():
    """The class signal is real: nearest class mean of the amplitude spectrum beats chance by far."""
    train = textures("train", n_train=2000, num_classes=8, noise=0.2)
    test = textures("test", n_test=400, num_classes=8, noise=0.2)

    def spectrum(images):
        return torch.fft.rfft2(images - images.mean((2, 3), keepdim=True)).abs().flatten(1)

    f_train, f_test = spectrum(train.images), spectrum(test.images)
    means = torch.stack([f_train[train.labels == k].mean(0) for k in range(8)])
    pred = torch.cdist(f_test, means).argmin(1)
    assert float((pred == test.labels).float().mean()) > 0.5  # chance is 0.125


def test_textures_reject_bad_arguments():
    with pytest.raises(InputError, match="num_classes"):
        textures(num_classes=1)
    with pytest.raises(InputError, match="size"):
        textures(size=2)
    with pytest.raises(InputError, match="noise"):
        textures(noise=-1.0)
    with pytest.raises(InputError, match="split"):
        textures("validation")
