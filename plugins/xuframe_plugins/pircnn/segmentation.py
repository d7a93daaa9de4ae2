"""PI-RCNN's image segmentation sub-network: a small UNet giving per-pixel class scores.

PI-RCNN (Xie et al., AAAI 2020) takes its image features from a semantic segmentation network
run on camera 2's image: at every LiDAR point's pixel, the scores of the classes there. This
module holds that network (:class:`ImageSegmenter`), its loss (:func:`segmentation_focal_loss`,
the softmax focal loss the paper trains it with), its metric (:func:`segmentation_miou`) and
its training on the rendered label maps of the synthetic scenes
(:class:`SegmentationDataset`, :func:`train_segmenter`, :func:`evaluate_segmenter`).

Images are ``(B, 3, H, W)`` float tensors in ``[0, 1]`` (camera 2's picture as
:class:`~xuframe.data.LidarScenes` renders it with ``images=True`` and
:class:`~xuframe.data.KittiDataset` reads it); label maps are ``(B, H, W)`` integer class ids
into :data:`~xuframe.data.SEMANTIC_CLASSES`, ``-1`` (by default) for a pixel without a label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from xuframe.data import SEMANTIC_CLASSES
from xuframe.engine import Trainer
from xuframe.errors import InputError
from xuframe.validation import (
    check_choice,
    check_float,
    check_int,
    check_memory,
    check_tensor,
)

__all__ = [
    "SEMANTIC_PALETTE",
    "ImageSegmenter",
    "SegmentationDataset",
    "evaluate_segmenter",
    "segmentation_focal_loss",
    "segmentation_miou",
    "train_segmenter",
]

#: One RGB colour per class id of :data:`~xuframe.data.SEMANTIC_CLASSES` (Car, Pedestrian,
#: Cyclist, ground, building, vegetation, sky, other): ``(8, 3)`` uint8, so
#: ``SEMANTIC_PALETTE[labels]`` draws an ``(H, W)`` label map as an ``(H, W, 3)`` picture.
SEMANTIC_PALETTE = np.array(
    [
        [0, 0, 142],  # Car
        [220, 20, 60],  # Pedestrian
        [255, 150, 0],  # Cyclist
        [128, 64, 128],  # ground
        [70, 70, 70],  # building
        [107, 142, 35],  # vegetation
        [70, 130, 180],  # sky
        [190, 153, 153],  # other
    ],
    dtype=np.uint8,
)
SEMANTIC_PALETTE.setflags(write=False)

# the bytes one float32 activation takes; a forward pass keeps about this many maps of the
# first width alive at the reduced size, and a few of the class maps at full size
_FLOAT = 4
_MAPS_PER_LEVEL = 8
_CLASS_MAPS = 4


def _norm(channels: int) -> nn.GroupNorm:
    """Group normalisation with groups of (at most) 8 channels: independent of the batch,
    so the network behaves the same in training and evaluation at batch size 1."""
    return nn.GroupNorm(max(1, channels // 8), channels)


class _DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (padding 1), each followed by group norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            _norm(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            _norm(out_channels),
            nn.ReLU(inplace=True),
        )


def _check_widths(widths: Any) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise InputError(
            f"ImageSegmenter: widths: expected a sequence of channel counts such as (16, 32, 64), "
            f"got {type(widths).__name__}"
        )
    if not 1 <= len(widths) <= 8:
        raise InputError(
            f"ImageSegmenter: widths: expected 1 to 8 levels (one width each), got {len(widths)}"
        )
    return tuple(
        check_int(w, f"ImageSegmenter: widths[{i}]", min=1, max=4096) for i, w in enumerate(widths)
    )


class ImageSegmenter(nn.Module):
    """A small UNet: per-pixel class logits at the full input resolution.

    ``forward(images)`` takes ``(B, 3, H, W)`` images with values in ``[0, 1]`` (any
    ``H, W >= 1``) and returns ``(B, num_classes, H, W)`` logits (softmax over dimension 1
    gives the class scores PI-RCNN samples at the points' pixels). The image is first resized
    by ``scale`` (bilinear, antialiased; at least 1 pixel a side), run through an encoder of
    ``len(widths)`` levels (two 3x3 convolutions with group norm and ReLU each, a 2x2 max-pool
    between levels) and a decoder that upsamples bilinearly to each skip connection's size,
    concatenates it and applies two convolutions; a 1x1 convolution gives the logits, which
    are upsampled bilinearly to ``(H, W)``. With the defaults a ``375 x 1242`` image takes
    about 0.15 s on one CPU core.

    ``widths`` channel counts per level (ints in ``1 .. 4096``, 1 to 8 levels),
    ``num_classes`` an int >= 1 (default ``len(SEMANTIC_CLASSES)``), ``scale`` a number in
    ``(0, 1]``, ``gamma`` the focal loss's focusing exponent (a number in ``[0, 100]``) and
    ``class_weights`` its per-class weights (``num_classes`` finite numbers >= 0, or None for
    none), both used by :meth:`loss`. Raises :class:`~xuframe.errors.InputError` for anything else.

    The constructor arguments are kept as attributes of the same names; a trained network is
    saved as ``torch.save(model.state_dict(), path)`` and restored with
    ``ImageSegmenter(same arguments).load_state_dict(torch.load(path, weights_only=True))``.
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64, 128),
        num_classes: int = len(SEMANTIC_CLASSES),
        scale: float = 0.5,
        gamma: float = 2.0,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.widths = _check_widths(widths)
        self.num_classes = check_int(num_classes, "ImageSegmenter: num_classes", min=1, max=4096)
        self.scale = check_float(scale, "ImageSegmenter: scale", min=0.0, max=1.0, min_open=True)
        self.gamma = check_float(gamma, "ImageSegmenter: gamma", min=0.0, max=100.0)
        self.class_weights = (
            None
            if class_weights is None
            else tuple(
                _check_weights(
                    class_weights, self.num_classes, "ImageSegmenter: class_weights"
                ).tolist()
            )
        )
        w = self.widths
        self.encoder = nn.ModuleList(
            [_DoubleConv(3, w[0])] + [_DoubleConv(w[i - 1], w[i]) for i in range(1, len(w))]
        )
        self.decoder = nn.ModuleList(
            [_DoubleConv(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1))]
        )
        self.head = nn.Conv2d(w[0], self.num_classes, 1)

    def _check_images(self, value: Any, what: str) -> torch.Tensor:
        weight = self.head.weight
        images = check_tensor(
            value, what, shape=("B", 3, "H", "W"), non_empty=True, dtype=weight.dtype
        )
        if images.device != weight.device:
            raise InputError(
                f"{what}: expected a tensor on the model's device {weight.device}, "
                f"got {images.device}"
            )
        b, _, h, w = images.shape
        small = max(1, round(h * self.scale)) * max(1, round(w * self.scale))
        check_memory(
            _FLOAT
            * b
            * (_MAPS_PER_LEVEL * self.widths[0] * small + _CLASS_MAPS * self.num_classes * h * w),
            f"{what}: segmenting {b} images of {h} x {w} pixels",
        )
        low, high = torch.aminmax(images.detach())
        if not (float(low) >= 0.0 and float(high) <= 1.0):  # NaN fails both
            raise InputError(
                f"{what}: expected finite values in [0, 1] (divide an 8-bit image by 255), "
                f"got values in [{float(low):g}, {float(high):g}]"
            )
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_classes, H, W)`` of ``images`` ``(B, 3, H, W)`` in ``[0, 1]``
        (the model's dtype and device). Raises :class:`~xuframe.errors.InputError` for another
        shape, dtype or device, an empty batch or image, or a value outside ``[0, 1]``
        (NaN included)."""
        images = self._check_images(images, "ImageSegmenter: images")
        h, w = images.shape[-2:]
        x = (images - 0.5) * 4.0  # about zero mean, unit spread
        if self.scale != 1.0:
            size = (max(1, round(h * self.scale)), max(1, round(w * self.scale)))
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        skips: list[torch.Tensor] = []
        for level, block in enumerate(self.encoder):
            if level:
                x = F.max_pool2d(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.decoder, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([skip, x], 1))
        logits: torch.Tensor = self.head(x)
        if logits.shape[-2:] != (h, w):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        return logits

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """The most likely class of every pixel, ``(B, H, W)`` int64, without gradients (in
        the module's current mode). Same input and errors as :meth:`forward`."""
        with torch.no_grad():
            logits: torch.Tensor = self(images)
        return logits.argmax(1)

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``{"focal": ...}``: :func:`segmentation_focal_loss` (with ``self.gamma``,
        ``self.class_weights``, ignore index ``-1``) of a batch ``{"image": (B, 3, H, W) in [0, 1], "semantic": (B, H, W)
        integer class ids, -1 for no label}`` such as :class:`SegmentationDataset` gives; what
        :class:`~xuframe.engine.Trainer` calls. Raises :class:`~xuframe.errors.InputError` for
        a batch that is not such a mapping."""
        if not isinstance(batch, Mapping) or "image" not in batch or "semantic" not in batch:
            got = sorted(map(str, batch)) if isinstance(batch, Mapping) else type(batch).__name__
            raise InputError(
                "ImageSegmenter.loss: expected a batch mapping with 'image' (B, 3, H, W) and "
                f"'semantic' (B, H, W), got {got}"
            )
        logits = self(batch["image"])
        loss = segmentation_focal_loss(
            logits, batch["semantic"], gamma=self.gamma, weight=self.class_weights
        )
        return {"focal": loss}


# -- loss and metric -------------------------------------------------------------------------------
def _check_labels(
    value: Any, what: str, shape: tuple[int, ...], num_classes: int, ignore_index: int
) -> torch.Tensor:
    """Integer class ids of ``shape``, each in ``[0, num_classes)`` or ``ignore_index``."""
    labels = check_tensor(value, what, floating=False)
    if labels.is_floating_point():
        raise InputError(f"{what}: expected integer class ids, got dtype {labels.dtype}")
    if tuple(labels.shape) != shape:
        raise InputError(
            f"{what}: expected shape {shape} (one class id per pixel), got {tuple(labels.shape)}"
        )
    if labels.numel():
        valid = labels != ignore_index
        if bool(valid.any()):
            low, high = torch.aminmax(labels[valid])
            if int(low) < 0 or int(high) >= num_classes:
                raise InputError(
                    f"{what}: expected class ids in [0, {num_classes - 1}] or {ignore_index} "
                    f"(no label), got values in [{int(low)}, {int(high)}]"
                )
    return labels.to(torch.int64)


def _check_weights(value: Any, num_classes: int, what: str) -> torch.Tensor:
    """``num_classes`` finite class weights >= 0 as a float64 tensor."""
    if isinstance(value, torch.Tensor):
        weights = check_tensor(value, what, shape=(num_classes,)).detach().cpu().double()
    else:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise InputError(
                f"{what}: expected {num_classes} class weights, got {type(value).__name__}"
            )
        weights = torch.tensor(
            [check_float(v, f"{what}[{k}]", min=0.0) for k, v in enumerate(value)],
            dtype=torch.float64,
        )
        if weights.shape != (num_classes,):
            raise InputError(f"{what}: expected {num_classes} class weights, got {len(weights)}")
    if bool((weights < 0).any()):
        raise InputError(f"{what}: expected class weights >= 0, got {weights.min().item():g}")
    return weights


def segmentation_focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    gamma: float = 2.0,
    ignore_index: int = -1,
    weight: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    """The softmax focal loss (Lin et al. 2017) of per-pixel class logits, averaged over the
    labelled pixels: ``mean(-(1 - p_t) ** gamma * log p_t)`` with ``p_t`` the softmax
    probability of a pixel's true class. ``gamma = 0`` is the cross entropy. With ``weight``
    (``K`` finite numbers >= 0, one per class) each pixel's term is multiplied by its true
    class's weight and the sum divided by the sum of those weights (as
    ``torch.nn.functional.cross_entropy(weight=...)`` averages).

    ``logits`` ``(B, K, H, W)`` (or ``(B, K)``, any trailing sizes) finite floats; ``labels``
    ``(B, H, W)`` integers in ``[0, K)`` or ``ignore_index`` (such pixels add nothing, nor to
    the count); ``gamma`` a number in ``[0, 100]``; ``ignore_index`` an int. Returns a scalar
    tensor (0, still connected to ``logits``, when no pixel is labelled or all labelled
    pixels weigh 0). Raises
    :class:`~xuframe.errors.InputError` for anything else."""
    logits = check_tensor(logits, "segmentation_focal_loss: logits", non_empty=True)
    if logits.dim() < 2:
        raise InputError(
            "segmentation_focal_loss: logits: expected (B, K, H, W) class logits, "
            f"got shape {tuple(logits.shape)}"
        )
    gamma = check_float(gamma, "segmentation_focal_loss: gamma", min=0.0, max=100.0)
    ignore_index = check_int(ignore_index, "segmentation_focal_loss: ignore_index")
    weights = (
        None
        if weight is None
        else _check_weights(weight, logits.shape[1], "segmentation_focal_loss: weight")
    )
    shape = (logits.shape[0], *logits.shape[2:])
    labels = _check_labels(
        labels, "segmentation_focal_loss: labels", shape, logits.shape[1], ignore_index
    ).to(logits.device)
    labelled = labels != ignore_index
    target = torch.where(labelled, labels, torch.zeros_like(labels))
    log_pt = F.log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)
    # the clamp keeps the focusing term's gradient finite where p_t reaches 1 (gamma < 1)
    focus = (1.0 - log_pt.exp()).clamp_min(1e-12) ** gamma
    per_pixel = torch.where(labelled, -focus * log_pt, torch.zeros_like(log_pt))
    if weights is None:
        return per_pixel.sum() / labelled.sum().clamp_min(1)
    pixel_weight = torch.where(labelled, weights.to(logits)[target], torch.zeros_like(log_pt))
    total = pixel_weight.sum()
    return (pixel_weight * per_pixel).sum() / torch.where(total > 0, total, torch.ones_like(total))


def _confusion(
    predictions: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int
) -> torch.Tensor:
    """``(K, K)`` int64 counts: row the true class, column the predicted one."""
    keep = labels != ignore_index
    index = labels[keep] * num_classes + predictions[keep]
    return torch.bincount(index.cpu(), minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def _scores(confusion: torch.Tensor, class_names: Sequence[str] | None) -> dict[str, float]:
    counts = confusion.to(torch.float64)
    hit = counts.diagonal()
    union = counts.sum(0) + counts.sum(1) - hit
    present = union > 0
    iou = hit / union.clamp_min(1)
    total = float(counts.sum())
    out = {
        "mIoU": float(iou[present].mean()) if bool(present.any()) else 0.0,
        "accuracy": float(hit.sum()) / total if total else 0.0,
    }
    for k in range(len(counts)):
        if bool(present[k]):
            out[f"IoU/{class_names[k] if class_names is not None else k}"] = float(iou[k])
    return out


def _check_names(class_names: Any, num_classes: int, what: str) -> tuple[str, ...] | None:
    if class_names is None:
        return None
    if (
        isinstance(class_names, (str, bytes))
        or not isinstance(class_names, Sequence)
        or len(class_names) != num_classes
        or not all(isinstance(n, str) for n in class_names)
    ):
        raise InputError(
            f"{what}: expected None or {num_classes} class names (str), got {class_names!r}"[:300]
        )
    return tuple(class_names)


def segmentation_miou(
    logits_or_predictions: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    ignore_index: int = -1,
    class_names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Per-class intersection over union of a segmentation and its mean.

    ``logits_or_predictions``: floating class logits or scores ``(B, num_classes, H, W)``
    (their argmax over dimension 1 is the prediction) or integer class ids ``(B, H, W)`` in
    ``[0, num_classes)``; ``labels`` ``(B, H, W)`` integer class ids, ``ignore_index`` for a
    pixel without a label (it counts nowhere). Any trailing sizes work in place of ``H, W``.

    Returns ``{"mIoU": ..., "accuracy": ..., "IoU/<class>": ...}``: ``IoU/<class>`` =
    TP / (TP + FP + FN) over the labelled pixels for every class that is in the labels or
    the prediction (a class in neither has no entry; one predicted but absent from the labels
    has IoU 0), named by ``class_names[k]`` (``num_classes`` strings) or by its index ``k``;
    ``mIoU`` their mean (0 when no pixel is labelled); ``accuracy`` the share of labelled
    pixels predicted right. Raises :class:`~xuframe.errors.InputError` for other shapes,
    dtypes, a class id out of range, NaN, a ``num_classes`` < 1 or names of another count."""
    what = "segmentation_miou"
    num_classes = check_int(num_classes, f"{what}: num_classes", min=1, max=1 << 16)
    ignore_index = check_int(ignore_index, f"{what}: ignore_index")
    names = _check_names(class_names, num_classes, f"{what}: class_names")
    scores = check_tensor(logits_or_predictions, f"{what}: logits_or_predictions", floating=False)
    if scores.is_floating_point():
        if scores.dim() < 2 or scores.shape[1] != num_classes:
            raise InputError(
                f"{what}: logits_or_predictions: expected logits (B, {num_classes}, H, W) or "
                f"class ids (B, H, W), got a float tensor of shape {tuple(scores.shape)}"
            )
        predictions = scores.detach().argmax(1)
    else:
        predictions = scores.detach().to(torch.int64)
        if predictions.numel():
            low, high = torch.aminmax(predictions)
            if int(low) < 0 or int(high) >= num_classes:
                raise InputError(
                    f"{what}: logits_or_predictions: expected class ids in "
                    f"[0, {num_classes - 1}], got values in [{int(low)}, {int(high)}]"
                )
    labels = _check_labels(
        labels, f"{what}: labels", tuple(predictions.shape), num_classes, ignore_index
    )
    confusion = _confusion(predictions, labels.to(predictions.device), num_classes, ignore_index)
    return _scores(confusion, names)


# -- data and training -----------------------------------------------------------------------------
def _scene_pair(scene: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A scene's ``image`` ``(3, H, W)`` and ``semantic`` ``(H, W)``: attributes of a
    :class:`~xuframe.data.LidarScene` or keys of a :class:`~xuframe.data.KittiDataset` sample."""
    if isinstance(scene, Mapping):
        image, semantic = scene.get("image"), scene.get("semantic")
    else:
        image, semantic = getattr(scene, "image", None), getattr(scene, "semantic", None)
    if image is None or semantic is None:
        raise InputError(
            f"{what}: expected a scene with an image and a semantic label map (LidarScenes(..., "
            "images=True) or KittiDataset(..., images=True)), got "
            f"{type(scene).__name__} without them"
        )
    image = check_tensor(image, f"{what}: image", shape=(3, "H", "W"), non_empty=True)
    low, high = torch.aminmax(image)
    if not (float(low) >= 0.0 and float(high) <= 1.0):
        raise InputError(f"{what}: image: expected values in [0, 1], got [{low:g}, {high:g}]")
    semantic = check_tensor(semantic, f"{what}: semantic", floating=False)
    if tuple(semantic.shape) != tuple(image.shape[1:]):
        raise InputError(
            f"{what}: semantic: expected shape {tuple(image.shape[1:])} (the image's), "
            f"got {tuple(semantic.shape)}"
        )
    if semantic.numel() and (int(semantic.min()) < -1 or int(semantic.max()) > 255):
        raise InputError(f"{what}: semantic: expected class ids in [0, 255] or -1 (no label)")
    return image, semantic


def _check_crop(crop: Any, what: str) -> tuple[int, int] | None:
    if crop is None:
        return None
    if isinstance(crop, (str, bytes)) or not isinstance(crop, Sequence) or len(crop) != 2:
        raise InputError(f"{what}: expected None or (height, width), got {crop!r}"[:200])
    return (
        check_int(crop[0], f"{what}[0] (height)", min=1),
        check_int(crop[1], f"{what}[1] (width)", min=1),
    )


class SegmentationDataset(Dataset[dict[str, torch.Tensor]]):
    """The camera images and label maps of rendered scenes, as training samples
    ``{"image": (3, h, w) float32 in [0, 1], "semantic": (h, w) int64}``.

    ``scenes``: a sequence (anything with ``len`` and indexing, e.g.
    ``LidarScenes(n, images=True)``, a list of its scenes, or ``KittiDataset(root,
    images=True)``) of scenes with ``image`` ``(3, H, W)`` in ``[0, 1]`` and ``semantic``
    ``(H, W)`` class ids (``-1`` for no label), read once and kept as 8-bit images (what
    ``write_kitti`` stores) and 16-bit labels. Each sample is a random ``crop`` ``(h, w)``
    (clipped to the image; ``None``: the whole image, which needs every image the same size),
    mirrored left-right with probability 0.5 when ``flip`` and with its brightness, contrast
    and saturation each scaled by a random factor in ``[1 - jitter, 1 + jitter]`` with
    probability 0.5 (the released training's augmentations; labels follow the crop and the
    flip). Randomness comes from torch's global generator, which the Trainer seeds.

    Raises :class:`~xuframe.errors.InputError` for no scenes, a scene without an image or
    label map, images of different sizes without a crop, or a bad ``crop``, ``flip`` (a bool)
    or ``jitter`` (a number in ``[0, 1)``).
    """

    def __init__(
        self,
        scenes: Any,
        *,
        crop: tuple[int, int] | None = (256, 512),
        flip: bool = True,
        jitter: float = 0.1,
    ) -> None:
        what = "SegmentationDataset"
        if not (hasattr(scenes, "__len__") and hasattr(scenes, "__getitem__")) or isinstance(
            scenes, (str, bytes, Mapping)
        ):
            raise InputError(
                f"{what}: scenes: expected a sequence of scenes with images, got "
                f"{type(scenes).__name__}"
            )
        if len(scenes) == 0:
            raise InputError(f"{what}: scenes: expected at least one scene, got none")
        self.crop = _check_crop(crop, f"{what}: crop")
        self.flip = check_choice(flip, f"{what}: flip", (True, False))
        self.jitter = check_float(jitter, f"{what}: jitter", min=0.0, max=0.99)
        self.images: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        for i in range(len(scenes)):
            image, semantic = _scene_pair(scenes[i], f"{what}: scenes[{i}]")
            self.images.append((image.detach().cpu().float() * 255).round().to(torch.uint8))
            self.labels.append(semantic.detach().cpu().to(torch.int16))
        sizes = {tuple(im.shape[1:]) for im in self.images}
        if self.crop is None and len(sizes) > 1:
            raise InputError(
                f"{what}: images of {len(sizes)} sizes cannot be batched whole; give a crop"
            )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image, labels = self.images[i], self.labels[i]
        h, w = labels.shape
        if self.crop is not None:
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            top = int(torch.randint(h - ch + 1, ()))
            left = int(torch.randint(w - cw + 1, ()))
            image = image[:, top : top + ch, left : left + cw]
            labels = labels[top : top + ch, left : left + cw]
        picture = image.float() / 255
        if self.flip and bool(torch.rand(()) < 0.5):
            picture, labels = picture.flip(-1), labels.flip(-1)
        if self.jitter and bool(torch.rand(()) < 0.5):
            picture = _jitter(picture, self.jitter)
        return {"image": picture.contiguous(), "semantic": labels.to(torch.int64).contiguous()}


def _jitter(image: torch.Tensor, amount: float) -> torch.Tensor:
    """Brightness, contrast and saturation each scaled by a factor in ``1 +- amount``."""
    factors = 1.0 + (torch.rand(3) * 2 - 1) * amount
    image = image * factors[0]
    image = (image - image.mean()) * factors[1] + image.mean()
    grey = (image * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    image = (image - grey) * factors[2] + grey
    return image.clamp(0.0, 1.0)


def _check_segmenter(model: Any, what: str) -> ImageSegmenter:
    if not isinstance(model, ImageSegmenter):
        raise InputError(f"{what}: model: expected an ImageSegmenter, got {type(model).__name__}")
    return model


def train_segmenter(
    model: ImageSegmenter,
    scenes: Any,
    *,
    steps: int,
    lr: float = 1e-2,
    batch_size: int = 2,
    seed: int = 0,
    crop: tuple[int, int] | None = (256, 512),
    progress: bool = False,
    device: str = "cpu",
) -> list[float]:
    """Train ``model`` in place for ``steps`` AdamW steps (weight decay 1e-4, 5% linear
    warm-up then cosine decay, gradient norm clipped at 10) on the images and label maps of
    ``scenes`` with :class:`~xuframe.engine.Trainer`, minimising :meth:`ImageSegmenter.loss`
    (the focal loss). Returns the loss of every step.

    ``scenes``: what :class:`SegmentationDataset` takes (it is built with ``crop``, flips and
    colour jitter), or a :class:`SegmentationDataset` itself (then ``crop`` is unused);
    ``steps`` and ``batch_size`` ints >= 1 (``batch_size`` at most the number of scenes),
    ``lr`` a finite number > 0, ``seed`` an int >= 0 (it fixes the data order and the
    augmentations, not the model's initial weights), ``device`` as the Trainer takes it.
    Raises :class:`~xuframe.errors.InputError` for anything else, before training."""
    what = "train_segmenter"
    model = _check_segmenter(model, what)
    steps = check_int(steps, f"{what}: steps", min=1)
    lr = check_float(lr, f"{what}: lr", min=0.0, min_open=True)
    batch_size = check_int(batch_size, f"{what}: batch_size", min=1)
    seed = check_int(seed, f"{what}: seed", min=0)
    progress = check_choice(progress, f"{what}: progress", (True, False))
    if not isinstance(device, str):
        raise InputError(f"{what}: device: expected a str such as 'cpu', got {device!r}"[:200])
    data = (
        scenes
        if isinstance(scenes, SegmentationDataset)
        else SegmentationDataset(scenes, crop=_check_crop(crop, f"{what}: crop"))
    )
    if batch_size > len(data):
        raise InputError(
            f"{what}: batch_size: expected at most the number of scenes ({len(data)}), "
            f"got {batch_size}"
        )
    trainer = Trainer(
        model,
        {
            "max_steps": steps,
            "batch_size": batch_size,
            "optimizer": "adamw",
            "lr": lr,
            "weight_decay": 1e-4,
            "schedule": "cosine",
            "warmup_steps": max(1, steps // 20),
            "grad_clip": 10.0,
            "seed": seed,
            "progress": progress,
            "device": device,
            "plot": False,
        },
        evaluators=[],
    )
    trainer.fit(data)
    return [float(row["loss"]) for row in trainer.history if "loss" in row]


def evaluate_segmenter(
    model: ImageSegmenter,
    scenes: Any,
    *,
    class_names: Sequence[str] | None = None,
) -> dict[str, float]:
    """:func:`segmentation_miou` of ``model`` (in evaluation mode, without gradients; its
    mode is restored) over the whole images of ``scenes`` (what
    :class:`SegmentationDataset` takes), pixels of all scenes pooled; ``-1`` labels are
    ignored. ``class_names`` names the ``IoU/<class>`` entries. Raises
    :class:`~xuframe.errors.InputError` for another model, no scenes, a scene without an
    image or a label id the model has no class for."""
    what = "evaluate_segmenter"
    model = _check_segmenter(model, what)
    names = _check_names(class_names, model.num_classes, f"{what}: class_names")
    if not (hasattr(scenes, "__len__") and hasattr(scenes, "__getitem__")) or isinstance(
        scenes, (str, bytes, Mapping)
    ):
        raise InputError(
            f"{what}: scenes: expected a sequence of scenes with images, got {type(scenes).__name__}"
        )
    if len(scenes) == 0:
        raise InputError(f"{what}: scenes: expected at least one scene, got none")
    k = model.num_classes
    confusion = torch.zeros(k, k, dtype=torch.int64)
    weight = model.head.weight
    was_training = model.training
    model.eval()
    try:
        for i in range(len(scenes)):
            image, semantic = _scene_pair(scenes[i], f"{what}: scenes[{i}]")
            labels = _check_labels(
                semantic, f"{what}: scenes[{i}]: semantic", tuple(semantic.shape), k, -1
            )
            predicted = model.predict(image.to(weight.device, weight.dtype)[None])[0].cpu()
            confusion += _confusion(predicted, labels.cpu(), k, -1)
    finally:
        model.train(was_training)
    return _scores(confusion, names)
