"""Image classification data: scikit-learn's bundled digits and an MNIST IDX reader.

Nothing is downloaded: the digits ship inside scikit-learn (the ``robust`` or ``distill``
extra), and MNIST is read from IDX files you already have (``train-images-idx3-ubyte`` and
friends, optionally gzipped).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe.errors import InputError

__all__ = ["ImageClassification", "digits", "mnist", "read_idx"]

_IDX_TYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class ImageClassification(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Images ``(N, C, H, W)`` in ``[0, 1]`` and integer labels; items are ``{"x": image, "y": label}``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dim() != 4 or labels.shape != (images.shape[0],):
            raise InputError(
                f"expected images (N, C, H, W) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}"
            )
        self.images, self.labels = images.float(), labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.images[i], "y": self.labels[i]}


def digits(
    split: str = "train", test_fraction: float = 0.25, seed: int = 0, size: int | None = None
) -> ImageClassification:
    """scikit-learn's 1,797 real 8x8 digit images, scaled to [0, 1], split reproducibly;
    with ``size``, bilinearly upsampled to ``size x size`` (e.g. 32 for CIFAR-style nets)."""
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as exc:
        raise InputError(
            "the digits data needs scikit-learn: pip install 'xuframe[robust]'"
        ) from exc
    if split not in ("train", "test"):
        raise InputError(f"expected split 'train' or 'test', got {split!r}")
    bunch: Any = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(test_fraction * len(labels))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    images = images[chosen]
    if size is not None:
        if size < 1:
            raise InputError(f"digits: expected size >= 1, got {size}")
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        ).clamp(0, 1)
    return ImageClassification(images, labels[chosen])


def read_idx(path: str | os.PathLike[str]) -> np.ndarray[Any, Any]:
    """Read an IDX file (the MNIST format; ``.gz`` is decompressed) into a numpy array."""
    source = Path(path)
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise InputError(f"{source}: not an IDX file (bad magic number)")
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
