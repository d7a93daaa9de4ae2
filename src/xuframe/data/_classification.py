"""Image classification data: scikit-learn's bundled digits, seeded synthetic textures, and
readers for MNIST (IDX) and CIFAR-10/100 (python pickle batches).

Nothing is downloaded: the digits ship inside scikit-learn (a dependency of xuframe), the
textures are generated, and MNIST and CIFAR are read from files you already have.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe._files import as_path, describe_start, read_bytes
from xuframe.data._pickle import load_array_pickle
from xuframe.errors import InputError
from xuframe.validation import (
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_memory,
    check_tensor,
)

__all__ = ["ImageClassification", "cifar", "digits", "mnist", "read_idx", "textures"]

_N_DIGITS = 1797  # images in scikit-learn's digits
_MAX_SEED = 2**62  # seeds a torch.Generator takes (textures uses 2 * seed + 1)

_IDX_TYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class ImageClassification(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Images ``(N, C, H, W)`` in ``[0, 1]`` and integer labels; items are ``{"x": image, "y": label}``.

    ``classes`` optionally names the labels (``classes[y]``). Raises
    :class:`~xuframe.errors.InputError` for images that are not a finite floating-point tensor
    ``(N, C, H, W)`` (divide uint8 images by 255), labels that are not ``N`` integers
    (``>= 0``, and ``< len(classes)`` when named), or ``classes`` that are not a sequence of
    strings."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        classes: tuple[str, ...] | None = None,
    ) -> None:
        images = check_tensor(images, "ImageClassification: images", ndim=4)
        names: Any = classes
        if names is not None:
            if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
                raise InputError(
                    "ImageClassification: classes: expected a sequence of class names (str), "
                    f"got {type(names).__name__}"
                )
            if not all(isinstance(c, str) for c in names):
                raise InputError("ImageClassification: classes: expected class names (str)")
            classes = tuple(names)
        labels = check_labels(
            labels,
            "ImageClassification: labels",
            n=images.shape[0],
            n_classes=len(classes) if classes is not None else None,
        )
        if labels.numel() and int(labels.min()) < 0:
            raise InputError(
                f"ImageClassification: labels: expected labels >= 0, got {int(labels.min())}"
            )
        self.images, self.labels = images.float(), labels
        self.classes = classes

    @property
    def num_classes(self) -> int:
        """``len(classes)`` when named, else one more than the largest label."""
        if self.classes is not None:
            return len(self.classes)
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.images[i], "y": self.labels[i]}


def digits(
    split: str = "train", test_fraction: float = 0.25, seed: int = 0, size: int | None = None
) -> ImageClassification:
    """scikit-learn's 1,797 real 8x8 digit images, scaled to [0, 1], split reproducibly;
    with ``size``, bilinearly upsampled to ``size x size`` (e.g. 32 for CIFAR-style nets).

    ``test_fraction`` of the images (rounded) form the ``"test"`` split, the rest
    ``"train"``. Raises :class:`~xuframe.errors.InputError` for a ``split`` other than
    ``"train"``/``"test"``, a ``test_fraction`` outside ``[0, 1]`` or one that leaves the
    chosen split empty, a ``seed`` that is not an int >= 0, or a ``size`` that is not an
    int >= 1 or whose images would not fit in memory."""
    split = check_choice(split, "digits: split", ("train", "test"))
    test_fraction = check_float(test_fraction, "digits: test_fraction", min=0.0, max=1.0)
    seed = check_int(seed, "digits: seed", min=0, max=_MAX_SEED)
    n_test = round(test_fraction * _N_DIGITS)
    n_chosen = n_test if split == "test" else _N_DIGITS - n_test
    if n_chosen == 0:
        raise InputError(
            f"digits: test_fraction={test_fraction:g} leaves the {split!r} split without images"
        )
    if size is not None:
        size = check_int(size, "digits: size", min=1)
        # the chosen images upsampled, float32, and interpolate's working copy
        check_memory(4.0 * n_chosen * 2 * size * size, f"digits: {n_chosen} images of size={size}")
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as exc:
        raise InputError(
            "the digits data needs scikit-learn, a dependency of xuframe: pip install scikit-learn"
        ) from exc
    bunch: Any = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    images = images[chosen]
    if size is not None:
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        ).clamp(0, 1)
    return ImageClassification(images, labels[chosen])


def read_idx(path: str | os.PathLike[str]) -> np.ndarray[Any, Any]:
    """Read an IDX file (the MNIST format; ``.gz`` is decompressed) into a numpy array.

    Raises :class:`~xuframe.errors.InputError` naming the file when it is missing, a folder,
    not IDX (with its first bytes), or truncated."""
    source = as_path(path, "an IDX file")
    data = read_bytes(source, "an IDX file")
    if source.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                f"{source}: not a gzip-compressed IDX file, or it is truncated: "
                f"{describe_start(data)} ({exc})"
            ) from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise InputError(f"{source}: not an IDX file (bad magic number): {describe_start(data)}")
    dims = data[3]
    header = 4 + 4 * dims
    if len(data) < header:
        raise InputError(f"{source}: truncated IDX header")
    shape = struct.unpack(f">{dims}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise InputError(
            f"{source}: expected {expected} bytes of data for shape {shape}, found {len(data) - header}"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def mnist(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> ImageClassification:
    """MNIST (or Fashion-MNIST) from a pair of IDX files, images scaled to [0, 1]."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise InputError(
            f"expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}"
        )
    return ImageClassification(
        torch.from_numpy(images.astype(np.float32) / 255.0)[:, None],
        torch.from_numpy(labels.astype(np.int64)),
    )


def textures(
    split: str = "train",
    *,
    num_classes: int = 40,
    n_train: int = 20_000,
    n_test: int = 2_000,
    size: int = 16,
    channels: int = 3,
    noise: float = 0.5,
    seed: int = 0,
) -> ImageClassification:
    """A seeded synthetic image classification set, harder than digits and as large as asked.

    Each class is a pair of oriented colour gratings (orientation, spatial frequency and colour
    drawn once per class from a fixed generator, so every split and seed shares them). An image
    shows its class's two gratings under Gaussian windows at random positions, with random
    phase, amplitude, small orientation/frequency/colour jitter, one grating of another class as
    a distractor, and pixel noise of standard deviation ``noise``. With the defaults a ResNet-20
    reaches about 67% test accuracy in 2,000 SGD steps and a ResNet-8 about 61% in 800: a gap
    that distillation can close, unlike digits. ``split`` ``"train"`` and ``"test"`` draw
    ``n_train`` and ``n_test`` images from disjoint streams of ``seed``.

    Raises :class:`~xuframe.errors.InputError` for a ``split`` other than ``"train"`` or
    ``"test"``, ``num_classes`` < 2, ``n_train``/``n_test``/``channels`` < 1, ``size`` < 4 (each
    an int), a ``noise`` that is not a finite number >= 0, a ``seed`` that is not an int >= 0,
    or images that would not fit in memory (:func:`~xuframe.validation.memory_limit`).
    """
    split = check_choice(split, "textures: split", ("train", "test"))
    num_classes = check_int(num_classes, "textures: num_classes", min=2)
    n_train = check_int(n_train, "textures: n_train", min=1)
    n_test = check_int(n_test, "textures: n_test", min=1)
    size = check_int(size, "textures: size", min=4)
    channels = check_int(channels, "textures: channels", min=1)
    noise = check_float(noise, "textures: noise", min=0.0)
    seed = check_int(seed, "textures: seed", min=0, max=_MAX_SEED)
    n = n_train if split == "train" else n_test
    # float32: the images and about eight (n, size, size) or (n, channels, size, size)
    # intermediates of the gratings; per class its parameters and its name
    check_memory(
        4.0 * n * size * size * (3 * channels + 8) + 100.0 * num_classes * (channels + 1),
        f"textures: {n} images of {channels} x {size} x {size} in {num_classes} classes",
    )
    gc = torch.Generator().manual_seed(10_007)
    theta = torch.rand(num_classes, 2, generator=gc) * math.pi
    freq = 0.15 + 0.3 * torch.rand(num_classes, 2, generator=gc)  # cycles per pixel
    colour = torch.rand(num_classes, 2, channels, generator=gc)
    g = torch.Generator().manual_seed(2 * seed + (split == "test"))
    y = torch.randint(0, num_classes, (n,), generator=g)
    other = (y + torch.randint(1, num_classes, (n,), generator=g)) % num_classes
    grid = torch.arange(size, dtype=torch.float32)
    yy, xx = grid[:, None], grid[None, :]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=g)

    def grating(cls: torch.Tensor, part: torch.Tensor | int, amp: torch.Tensor) -> torch.Tensor:
        th = (theta[cls, part] + 0.15 * torch.randn(n, generator=g))[:, None, None]
        f = (freq[cls, part] * (1 + 0.1 * torch.randn(n, generator=g)))[:, None, None]
        phase = uniform(0, 2 * math.pi)[:, None, None]
        cx, cy = (size * uniform(0.25, 0.75)[:, None, None] for _ in range(2))
        sigma = size * uniform(0.25, 0.45)[:, None, None]
        wave = torch.cos(2 * math.pi * f * (xx * torch.cos(th) + yy * torch.sin(th)) + phase)
        window = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        col = colour[cls, part] + 0.15 * torch.randn(n, channels, generator=g)
        return amp[:, None, None, None] * col[:, :, None, None] * (wave * window)[:, None]

    img = grating(y, 0, uniform(0.6, 1.0)) + grating(y, 1, uniform(0.6, 1.0))
    img = img + grating(other, torch.randint(0, 2, (n,), generator=g), 0.9 * uniform(0.5, 1.0))
    img = img + noise * torch.randn(img.shape, generator=g)
    images = (0.5 + img / 3.0).clamp(0, 1)
    return ImageClassification(images, y, tuple(f"texture {k}" for k in range(num_classes)))


def _load_batch(path: Path) -> dict[str, Any]:
    raw = load_array_pickle(path, "a CIFAR python batch")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a pickled dict, got {type(raw).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _find_cifar(root: Path) -> tuple[Path, bool]:
    """The folder holding the batches and whether it is CIFAR-100."""
    for folder in (root, root / "cifar-10-batches-py", root / "cifar-100-python"):
        if (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
            return folder, False
        if (folder / "train").is_file() or (folder / "test").is_file():
            return folder, True
    raise InputError(
        f"{root}: no CIFAR python batches found; expected cifar-10-batches-py/ (data_batch_1..5, "
        "test_batch) or cifar-100-python/ (train, test), or the folder holding one of them"
    )


def cifar(
    root: str | os.PathLike[str], split: str = "train", *, labels: str = "fine"
) -> ImageClassification:
    """CIFAR-10 or CIFAR-100 from the python-pickle batches (``cifar-10-batches-py`` or
    ``cifar-100-python``, or the folder holding one), images scaled to ``[0, 1]``.

    CIFAR-100's ``labels`` are ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses);
    class names come from ``batches.meta`` / ``meta`` when present. The batches are read with
    an unpickler that admits numpy arrays and plain containers only.
    """
    if split not in ("train", "test"):
        raise InputError(f"cifar: expected split 'train' or 'test', got {split!r}")
    if labels not in ("fine", "coarse"):
        raise InputError(f"cifar: expected labels 'fine' or 'coarse', got {labels!r}")
    folder, hundred = _find_cifar(as_path(root, "a CIFAR folder"))
    if hundred:
        names, key, meta_file = [split], f"{labels}_labels", "meta"
        names_key = f"{labels}_label_names"
    else:
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        key, meta_file, names_key = "labels", "batches.meta", "label_names"
    images, targets = [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise InputError(f"cifar: missing batch file {path}")
        batch = _load_batch(path)
        if "data" not in batch or key not in batch:
            raise InputError(f"{path}: expected keys 'data' and {key!r}, found {sorted(batch)}")
        data = np.asarray(batch["data"])
        target = np.asarray(batch[key], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise InputError(
                f"{path}: expected data of uint8 rows of 3072 pixels, got {data.dtype} {data.shape}"
            )
        if target.shape != (data.shape[0],):
            raise InputError(f"{path}: {data.shape[0]} images but {target.shape} labels")
        images.append(data.reshape(-1, 3, 32, 32))
        targets.append(target)
    classes = None
    if (folder / meta_file).is_file():
        meta = _load_batch(folder / meta_file)
        if names_key in meta:
            classes = tuple(str(c) for c in meta[names_key])
    return ImageClassification(
        torch.from_numpy(np.concatenate(images).astype(np.float32) / 255.0),
        torch.from_numpy(np.concatenate(targets)),
        classes,
    )
