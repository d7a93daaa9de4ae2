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
from xuframe.validation import check_array, check_float, check_int, check_memory, check_tensor

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
_MAX_NORMALISE = 1e30  # Normalize's largest |mean| and std, 1 / the smallest std (float32)


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
    """Validate a sample's layout and return it unchanged.

    Raises :class:`InputError` naming what is wrong: a sample that is not a dict; a missing
    ``image``, ``boxes`` or ``labels``; an image that is not a finite floating-point
    ``(3, H, W)`` tensor with ``H, W >= 1``; boxes that are not :class:`~xuframe.Boxes2D`;
    labels that are not an int64 tensor ``(N,)`` of values ``>= 0``; a ``crowd`` that is not a
    bool tensor ``(N,)``; an ``image_id`` that is neither an int nor a str."""
    if not isinstance(sample, Mapping):
        raise InputError(
            f"{where}: expected a detection sample (a dict with image, boxes, labels), "
            f"got {type(sample).__name__}"
        )
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
    check_tensor(image, f"{where}.image", non_empty=True)
    if not isinstance(sample["boxes"], Boxes2D):
        raise InputError(f"{where}.boxes: expected Boxes2D, got {type(sample['boxes']).__name__}")
    n = len(sample["boxes"])
    labels = sample["labels"]
    if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.dtype != torch.int64:
        raise InputError(f"{where}.labels: expected an int64 tensor of shape ({n},)")
    if n and int(labels.min()) < 0:
        raise InputError(f"{where}.labels: expected class indices >= 0, got {int(labels.min())}")
    crowd = sample.get("crowd")
    if "crowd" in sample and (
        not isinstance(crowd, torch.Tensor) or crowd.shape != (n,) or crowd.dtype != torch.bool
    ):
        shown = (
            f"{crowd.dtype} {tuple(crowd.shape)}"
            if isinstance(crowd, torch.Tensor)
            else type(crowd).__name__
        )
        raise InputError(f"{where}.crowd: expected a bool tensor of shape ({n},), got {shown}")
    if "image_id" in sample:
        as_id(sample["image_id"], f"{where}.image_id")
    return sample


def clip_boxes(boxes: Boxes2D, height: int, width: int) -> Boxes2D:
    """Boxes clipped to the image ``[0, width] x [0, height]``. Raises :class:`InputError`
    for ``boxes`` that are not :class:`~xuframe.Boxes2D` or a size that is not two finite
    numbers >= 0."""
    if not isinstance(boxes, Boxes2D):
        raise InputError(f"clip_boxes: boxes: expected Boxes2D, got {type(boxes).__name__}")
    h = check_float(height, "clip_boxes: height", min=0.0)
    w = check_float(width, "clip_boxes: width", min=0.0)
    t = boxes.tensor.clone()
    t[:, 0::2] = t[:, 0::2].clamp(0, w)
    t[:, 1::2] = t[:, 1::2].clamp(0, h)
    return Boxes2D(t)


class Compose:
    """Apply transforms (callables, sample -> sample) in order."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        given: Any = transforms
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
            raise InputError(
                f"Compose: expected a sequence of transforms, got {type(given).__name__}"
            )
        for i, t in enumerate(given):
            if not callable(t):
                raise InputError(
                    f"Compose: transform {i}: expected a callable, got {type(t).__name__}"
                )
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample


class Resize:
    """Resize to ``(height, width)`` without keeping the aspect ratio (as TTFNet trains), scaling
    the boxes with the image (bilinear, antialiased when shrinking). Raises
    :class:`InputError` for a size that is not two ints >= 1 or whose images would not fit in
    memory, and (when called) for a sample that :func:`check_detection_sample` refuses."""

    def __init__(self, height: int, width: int) -> None:
        height = check_int(height, "Resize: height", min=1)
        width = check_int(width, "Resize: width", min=1)
        check_memory(4.0 * 3 * 2 * height * width, f"Resize: images of {height} x {width} pixels")
        self.height, self.width = height, width

    def __call__(self, sample: Sample) -> Sample:
        check_detection_sample(sample, "Resize: sample")
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
    """Mirror left-right with probability ``p`` (boxes mirrored with the image). Raises
    :class:`InputError` for a ``p`` that is not a number in ``[0, 1]``, and (when called) for
    a sample that :func:`check_detection_sample` refuses."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_float(p, "RandomFlip: p", min=0.0, max=1.0)

    def __call__(self, sample: Sample) -> Sample:
        check_detection_sample(sample, "RandomFlip: sample")
        if float(torch.rand(())) >= self.p:
            return sample
        w = sample["image"].shape[-1]
        b = sample["boxes"].tensor
        flipped = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
        return {**sample, "image": sample["image"].flip(-1), "boxes": Boxes2D(flipped)}


class ColorJitter:
    """Random brightness, contrast and saturation factors in ``[1 - s, 1 + s]``, applied in a
    random order to a ``[0, 1]`` image (boxes unchanged); the result is clipped to ``[0, 1]``.
    Raises :class:`InputError` for a strength that is not a number in ``[0, 1)``, and (when
    called) for a sample that :func:`check_detection_sample` refuses."""

    def __init__(
        self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2
    ) -> None:
        strengths = []
        for name, v in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            v = check_float(v, f"ColorJitter: {name}", min=0.0)
            if v >= 1:
                raise InputError(f"ColorJitter: {name}: expected a number >= 0 and < 1, got {v:g}")
            strengths.append(v)
        self.strengths = (strengths[0], strengths[1], strengths[2])

    def __call__(self, sample: Sample) -> Sample:
        check_detection_sample(sample, "ColorJitter: sample")
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
    """``(image - mean) / std`` per channel (ImageNet statistics by default). Raises
    :class:`InputError` unless ``mean`` is 3 numbers of magnitude <= 1e30 and ``std`` 3 numbers
    in ``[1e-30, 1e30]`` (so float32 results stay finite), and (when called) for a sample that :func:`check_detection_sample` refuses."""

    def __init__(
        self,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        # magnitudes that float32 images can hold: the result stays finite
        m = check_array(mean, "Normalize: mean", shape=(3,), max_abs=_MAX_NORMALISE)
        sd = check_array(std, "Normalize: std", shape=(3,), max_abs=_MAX_NORMALISE)
        if float(sd.min()) < 1 / _MAX_NORMALISE:
            raise InputError(
                f"Normalize: std: expected 3 standard deviations >= {1 / _MAX_NORMALISE:g}, "
                f"got {sd.tolist()}"
            )
        self.mean = torch.tensor(m, dtype=torch.float32).reshape(3, 1, 1)
        self.std = torch.tensor(sd, dtype=torch.float32).reshape(3, 1, 1)

    def __call__(self, sample: Sample) -> Sample:
        check_detection_sample(sample, "Normalize: sample")
        return {**sample, "image": (sample["image"] - self.mean) / self.std}


def collate_detection(samples: Sequence[Sample]) -> dict[str, Any]:
    """Stack images (all the same size: resize first) and keep per-image boxes as lists:
    ``{"inputs": (B, 3, H, W), "boxes": [Boxes2D], "labels": [int64], "crowd": [bool],
    "image_ids": int64 (B,)}``; when any image id is a string (or an int beyond int64),
    ``image_ids`` is the list of the ids as the samples give them. A sample without ``image_id`` gets its position in the batch.

    Raises :class:`InputError` for an empty batch or one that is not a sequence, a malformed
    sample (:func:`check_detection_sample`), images of different sizes, or an image id that is
    neither an int nor a str."""
    if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence):
        raise InputError(
            f"collate_detection: expected a sequence of samples, got {type(samples).__name__}"
        )
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
