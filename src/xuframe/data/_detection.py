"""2-D detection data: the sample layout, transforms that keep boxes consistent, and collation.

A detection sample is a dict::

    {"image": float32 (3, H, W) in [0, 1] (or normalised), "boxes": Boxes2D (N, 4) in pixels,
     "labels": int64 (N,) class indices 0 .. C-1, "crowd": bool (N,), "image_id": int | str}

``image_id`` is kept as the data gives it: COCO files use integers, but files written by other
tools (mmdetection3d's nuScenes converter) use strings such as hex tokens.

Every transform takes and returns such a dict, changing the image and the boxes together.
Random transforms draw from ``torch``'s global generator (seed it with
``xuframe.engine.seed_everything``; data-loader workers with ``seed_worker``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.types import Boxes2D

__all__ = [
    "ColorJitter",
    "Compose",
    "Normalize",
    "RandomFlip",
    "Resize",
    "check_detection_sample",
    "clip_boxes",
    "collate_detection",
]

Sample = dict[str, Any]
ImageId = int | str


def as_id(value: object, where: str) -> ImageId:
    """``value`` as an image or category id: a ``str`` is kept as it is; an integer (Python,
    numpy, a one-element integer tensor, or a float with an integral value as some json writers
    give) becomes an ``int``; anything else raises :class:`InputError`."""
    if isinstance(value, str):
        return value
    if isinstance(value, torch.Tensor):
        integer = not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
        if value.numel() == 1 and integer:
            return int(value.item())
    elif isinstance(value, bool):
        pass  # True and False are not ids, although Python counts them as ints
    elif isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise InputError(
        f"{where}: expected an id (an int or a str), got {type(value).__name__} {shown}"
    )


def id_order(value: ImageId) -> tuple[bool, int | str]:
    """Sort key for ids that may mix ints and strings: the ints first, each kind in its order
    (for ids of one kind this is the order ``sorted`` gives, as pycocotools sorts image ids)."""
    return (isinstance(value, str), value)


def sample_image_id(sample: Mapping[str, Any], default: int, where: str) -> ImageId:
    """A sample's ``image_id`` (``default``, usually its position, when it has none)."""
    return as_id(sample.get("image_id", default), f"{where}.image_id")


def _fits_int64(value: ImageId) -> bool:
    return isinstance(value, int) and -(2**63) <= value < 2**63


def check_unique_ids(ids: Sequence[ImageId], where: str) -> None:
    """Raise :class:`InputError` naming the first id that appears twice."""
    seen: set[ImageId] = set()
    for value in ids:
        if value in seen:
            raise InputError(f"{where}: id {value!r} appears more than once")
        seen.add(value)


def check_detection_sample(sample: Sample, where: str = "sample") -> Sample:
    """Validate a sample's layout; raise :class:`InputError` naming what is wrong."""
    for key in ("image", "boxes", "labels"):
        if key not in sample:
            raise InputError(
                f"{where}: expected key {key!r} (keys: image, boxes, labels, crowd, image_id)"
            )
    image = sample["image"]
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError(f"{where}.image: expected a (3, H, W) tensor, got {shape}")
    if not image.is_floating_point():
        raise InputError(
            f"{where}.image: expected floating point (0..1), got {image.dtype}; divide uint8 images by 255"
        )
    if not isinstance(sample["boxes"], Boxes2D):
        raise InputError(f"{where}.boxes: expected Boxes2D, got {type(sample['boxes']).__name__}")
    n = len(sample["boxes"])
    labels = sample["labels"]
    if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.dtype != torch.int64:
        raise InputError(f"{where}.labels: expected an int64 tensor of shape ({n},)")
    return sample


def clip_boxes(boxes: Boxes2D, height: int, width: int) -> Boxes2D:
    """Boxes clipped to the image ``[0, width] x [0, height]``."""
    t = boxes.tensor.clone()
    t[:, 0::2] = t[:, 0::2].clamp(0, width)
    t[:, 1::2] = t[:, 1::2].clamp(0, height)
    return Boxes2D(t)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample


class Resize:
    """Resize to ``(height, width)`` without keeping the aspect ratio (as TTFNet trains), scaling
    the boxes with the image (bilinear, antialiased when shrinking)."""

    def __init__(self, height: int, width: int) -> None:
        if height < 1 or width < 1:
            raise InputError(f"Resize: expected a positive size, got {height} x {width}")
        self.height, self.width = height, width

    def __call__(self, sample: Sample) -> Sample:
        image = sample["image"]
        h, w = image.shape[-2:]
        out = F.interpolate(
            image[None],
            size=(self.height, self.width),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )[0]
        scale = torch.tensor(
            [self.width / w, self.height / h] * 2, dtype=sample["boxes"].tensor.dtype
        )
        return {**sample, "image": out, "boxes": Boxes2D(sample["boxes"].tensor * scale)}


class RandomFlip:
    """Mirror left-right with probability ``p`` (boxes mirrored with the image)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise InputError(f"RandomFlip: expected 0 <= p <= 1, got {p}")
        self.p = p

    def __call__(self, sample: Sample) -> Sample:
        if float(torch.rand(())) >= self.p:
            return sample
        w = sample["image"].shape[-1]
        b = sample["boxes"].tensor
        flipped = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
        return {**sample, "image": sample["image"].flip(-1), "boxes": Boxes2D(flipped)}


class ColorJitter:
    """Random brightness, contrast and saturation factors in ``[1 - s, 1 + s]``, applied in a
    random order to a ``[0, 1]`` image (boxes unchanged); the result is clipped to ``[0, 1]``."""

    def __init__(
        self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2
    ) -> None:
        for name, v in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            if not 0 <= v < 1:
                raise InputError(f"ColorJitter: expected 0 <= {name} < 1, got {v}")
        self.strengths = (brightness, contrast, saturation)

    def __call__(self, sample: Sample) -> Sample:
        image = sample["image"]
        factors = [1 + s * (2 * float(torch.rand(())) - 1) for s in self.strengths]
        for op in torch.randperm(3).tolist():
            f = factors[op]
            if op == 0:
                image = image * f
            elif op == 1:
                image = (image - image.mean()) * f + image.mean()
            else:
                grey = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]
                image = (image - grey) * f + grey
        return {**sample, "image": image.clamp(0, 1)}


class Normalize:
    """``(image - mean) / std`` per channel (ImageNet statistics by default)."""

    def __init__(
        self,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise InputError("Normalize: expected 3 means and 3 positive standard deviations")
        self.mean = torch.tensor(mean).reshape(3, 1, 1)
        self.std = torch.tensor(std).reshape(3, 1, 1)

    def __call__(self, sample: Sample) -> Sample:
        return {**sample, "image": (sample["image"] - self.mean) / self.std}


def collate_detection(samples: Sequence[Sample]) -> dict[str, Any]:
    """Stack images (all the same size: resize first) and keep per-image boxes as lists:
    ``{"inputs": (B, 3, H, W), "boxes": [Boxes2D], "labels": [int64], "crowd": [bool],
    "image_ids": int64 (B,)}``; when any image id is a string (or an int beyond int64),
    ``image_ids`` is the list of the ids as the samples give them. A sample without ``image_id`` gets its position in the batch.

    Raises :class:`InputError` for an empty batch, a malformed sample, images of different
    sizes, or an image id that is neither an int nor a str."""
    if not samples:
        raise InputError("collate_detection: expected at least one sample")
    for i, s in enumerate(samples):
        check_detection_sample(s, f"sample {i}")
    sizes = {tuple(s["image"].shape) for s in samples}
    if len(sizes) > 1:
        raise InputError(
            f"collate_detection: images differ in size {sorted(sizes)}; add a Resize transform"
        )
    ids = [sample_image_id(s, i, f"sample {i}") for i, s in enumerate(samples)]
    return {
        "inputs": torch.stack([s["image"] for s in samples]),
        "boxes": [s["boxes"] for s in samples],
        "labels": [s["labels"] for s in samples],
        "crowd": [s.get("crowd", torch.zeros(len(s["boxes"]), dtype=torch.bool)) for s in samples],
        "image_ids": torch.tensor(ids) if all(_fits_int64(v) for v in ids) else ids,
    }
