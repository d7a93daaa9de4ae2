"""``pircnn``: PI-RCNN (Xie, Xiang, Yu et al., AAAI 2020), the ``pointrcnn`` baseline with
camera semantics fused onto its points.

A segmentation network (:class:`~xuframe_plugins.pircnn.segmentation.ImageSegmenter`) gives
per-pixel class scores (softmax probabilities, as the released configuration feeds them) of
each frame's camera image; every LiDAR point takes the scores at its pixel
(:func:`~xuframe_plugins.pircnn.pacf.point_image_features`); PACF
(:class:`~xuframe_plugins.pircnn.pacf.PACF`) fuses its neighbours' scores into the point
features between stage 1 and stage 2 (``fusion="middle"``, the paper), or the scores are
appended to the input point features before the backbone (``fusion="early"``, the paper's
ablation). Everything else is :class:`~xuframe_plugins.pircnn.pointrcnn.PointRCNN`.

Points the camera does not see get no image feature: a point behind the camera (projective
depth <= 0.1 m) or outside the image, and a point pasted by ground-truth sampling (it lands
on an unrelated pixel of the new image; ``pasted_points="hidden"``), are *not visible*: their
scores are zero, PACF leaves them out of every neighbourhood, and a point without a visible
neighbour keeps its point path (early fusion: zeros). With ``pasted_points="semantic"`` a
pasted point gets instead the one-hot of the class its pixel had in its own image
(``batch["point_semantic"]``, from :class:`~xuframe.data.GroundTruthSampling`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F

from xuframe import config_field
from xuframe.data import SEMANTIC_CLASSES, LidarScenes, kitti_calibration, load_torch_file
from xuframe.errors import ConfigError, InputError
from xuframe.types import Detections, PointCloud
from xuframe.validation import check_float, check_int, check_memory, check_tensor
from xuframe_plugins.pircnn.frames import CameraFrame, camera_frames, check_camera_frame
from xuframe_plugins.pircnn.pacf import PACF, point_image_features
from xuframe_plugins.pircnn.pointrcnn import DEMO_CONFIG, DEMO_SCENES, PointRCNN
from xuframe_plugins.pircnn.segmentation import ImageSegmenter, segmentation_focal_loss

__all__ = ["ABLATIONS", "PIRCNN", "PIRCNN_DEMO_CONFIG", "PIRCNN_DEMO_SCENES"]

#: The paper's ablations as config changes (to merge into a config): PACF's parts one at a
#: time, the released configuration (continuous convolution only), concat fusion, and early
#: fusion (the scores appended to the input points instead of PACF).
ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {},
    "released": {"point_pooling": False, "attentive_aggregation": False},
    "no-cont-conv": {"cont_conv": False},
    "no-point-pooling": {"point_pooling": False},
    "no-attentive-aggregation": {"attentive_aggregation": False},
    "concat": {"pacf_fusion": "concat"},
    "early": {"fusion": "early"},
}

#: A small PI-RCNN for demos and tests: PointRCNN's DEMO_CONFIG, 64 PACF channels and a
#: segmenter of widths 8, 16, 32 run at a quarter of the image size.
PIRCNN_DEMO_CONFIG: dict[str, Any] = {
    **DEMO_CONFIG,
    "pacf_channels": 64,
    "segmenter_widths": [8, 16, 32],
    "segmenter_scale": 0.25,
}

#: Scenes for the demo model: :data:`~xuframe_plugins.pircnn.pointrcnn.DEMO_SCENES` with
#: camera images.
PIRCNN_DEMO_SCENES: dict[str, Any] = {**DEMO_SCENES, "images": True}

# the key under which loss hands the segmenter's logits to the hooks (so that the joint
# segmentation loss and PACF share one forward pass)
_LOGITS = "_pircnn_segmentation_logits"
_MAX_WIDTH = 4096


def _choice(*options: str) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in options:
            raise ConfigError(
                f"{attribute.name}: expected one of {', '.join(map(repr, options))}, got {value!r}"
            )

    return check


def _int_in(low: int, high: int) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        check_int(value, attribute.name, min=low, max=high, error=ConfigError)

    return check


def _widths(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or not 1 <= len(value) <= 8
    ):
        raise ConfigError(f"{attribute.name}: expected 1 to 8 layer widths, got {value!r:.60}")
    for i, w in enumerate(value):
        check_int(w, f"{attribute.name}[{i}]", min=1, max=_MAX_WIDTH, error=ConfigError)


def _scale(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_float(value, attribute.name, min=0.0, max=1.0, min_open=True, error=ConfigError)


def _weight(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_float(value, attribute.name, min=0.0, max=1e6, error=ConfigError)


def _gamma(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_float(value, attribute.name, min=0.0, max=100.0, error=ConfigError)


class PIRCNN(PointRCNN):
    """PI-RCNN (Xie, Xiang, Yu et al., AAAI 2020): ``pircnn``.

    Inputs are lists of :class:`~xuframe_plugins.pircnn.frames.CameraFrame` (a scan, its
    camera image ``(3, H, W)`` in ``[0, 1]`` of the size its calibration was made for, the
    calibration and the augmentation applied to the points); :meth:`inputs_of` builds them
    from a :func:`~xuframe.data.collate_lidar` batch of ``KittiDataset(root, images=True)``,
    and :meth:`loss` takes such a batch directly (``"inputs"`` clouds with ``"image"``,
    ``"calib"``, optionally ``"augmentation"``, ``"pasted"``, ``"point_semantic"`` and
    ``"semantic"``) or one whose ``"inputs"`` are frames. The scans are handled as
    :class:`~xuframe_plugins.pircnn.pointrcnn.PointRCNN` handles them.

    The segmenter: ``segmentation="joint"`` (the default; the paper trains end to end) trains
    it with the detector and adds ``image_seg``, its focal loss times ``segmentation_weight``,
    when the batch carries ``"semantic"`` label maps (one ``(H, W)`` per image, class ids into
    :data:`~xuframe.data.SEMANTIC_CLASSES`, ``-1`` for none); ``segmentation="frozen"`` (the
    released ``pi_rcnn_fix_image_backbone``) loads ``segmenter_weights`` (a ``state_dict``
    file, e.g. ``examples/pircnn/train_segmentation.py --save``, read with
    ``torch.load(weights_only=True)``) and never changes it. Either mode starts from
    ``segmenter_weights`` when given.

    Fusion: ``fusion="middle"``: PACF between the stages, with ``pacf_channels`` per path,
    ``pacf_k`` neighbours, the MLP ``pacf_mlp``, the switches ``cont_conv``, ``point_pooling``,
    ``attentive_aggregation`` (at least one on) and ``pacf_fusion`` ``"add"`` or ``"concat"``
    (stage 2 then takes twice ``pacf_channels``). ``fusion="early"``: the scores appended to
    each input point's features (the PACF fields are then unused). :data:`ABLATIONS` lists
    the paper's ablations as config changes.

    What points get that the camera does not see is in the module's text: zero image
    features, not visible (behind the camera, outside the image, or pasted).
    """

    name: ClassVar[str] = "pircnn"
    #: Tells :func:`xuframe_plugins.denfi.training.train_lidar` to render and read images.
    needs_camera: ClassVar[bool] = True

    @attrs.frozen
    class Config(PointRCNN.Config):
        segmentation: str = config_field(
            "joint",
            doc="'joint': train the segmenter with the detector; 'frozen': fixed, from "
            "segmenter_weights",
            validator=_choice("joint", "frozen"),
        )
        segmenter_weights: str | None = config_field(
            None, doc="ImageSegmenter state_dict file to start from (required when frozen)"
        )
        segmenter_widths: tuple[int, ...] = config_field(
            (16, 32, 64, 128), doc="ImageSegmenter channel widths per level", validator=_widths
        )
        segmenter_scale: float = config_field(
            0.5, doc="the segmenter runs on the image resized by this factor", validator=_scale
        )
        segmentation_weight: float = config_field(
            1.0, doc="weight of the segmentation focal loss (joint)", validator=_weight
        )
        segmentation_gamma: float = config_field(
            2.0, doc="focusing exponent of the segmentation focal loss", validator=_gamma
        )
        fusion: str = config_field(
            "middle",
            doc="'middle': PACF between the stages; 'early': scores appended to the input points",
            validator=_choice("middle", "early"),
        )
        pasted_points: str = config_field(
            "hidden",
            doc="points pasted by ground-truth sampling: 'hidden' (not visible) or 'semantic' "
            "(one-hot of point_semantic)",
            validator=_choice("hidden", "semantic"),
        )
        pacf_channels: int = config_field(
            128, doc="PACF's width per path (point and image)", validator=_int_in(1, _MAX_WIDTH)
        )
        pacf_k: int = config_field(
            3, doc="PACF's neighbours per point, the point included", validator=_int_in(1, 64)
        )
        pacf_mlp: tuple[int, ...] = config_field(
            (32, 64), doc="hidden widths of PACF's continuous-convolution MLP", validator=_widths
        )
        cont_conv: bool = config_field(True, doc="PACF part: continuous convolution")
        point_pooling: bool = config_field(True, doc="PACF part: point pooling")
        attentive_aggregation: bool = config_field(True, doc="PACF part: attentive aggregation")
        pacf_fusion: str = config_field(
            "add", doc="PACF fusion: 'add' or 'concat'", validator=_choice("add", "concat")
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.segmenter = ImageSegmenter(
            cfg.segmenter_widths,
            len(SEMANTIC_CLASSES),
            scale=cfg.segmenter_scale,
            gamma=cfg.segmentation_gamma,
        )
        if cfg.segmenter_weights is not None:
            self._load_segmenter(cfg.segmenter_weights)
        if cfg.segmentation == "frozen":
            self.segmenter.requires_grad_(False)
        self.pacf: PACF | None = None
        if cfg.fusion == "middle":
            self.pacf = PACF(
                int(cfg.fp_mlps[0][-1]),
                len(SEMANTIC_CLASSES),
                cfg.pacf_channels,
                cfg.pacf_k,
                cfg.pacf_mlp,
                cont_conv=cfg.cont_conv,
                point_pooling=cfg.point_pooling,
                attentive_aggregation=cfg.attentive_aggregation,
                fusion="concat" if cfg.pacf_fusion == "concat" else "add",
            )

    # ------------------------------------------------------------------ config

    def _check_config(self) -> None:
        super()._check_config()
        cfg = self.config
        name = self.name
        if cfg.segmentation == "frozen" and cfg.segmenter_weights is None:
            raise ConfigError(
                f"{name}: segmentation='frozen' needs segmenter_weights (an ImageSegmenter "
                "state_dict file, e.g. from examples/pircnn/train_segmentation.py --save): a "
                "frozen untrained segmenter would feed noise to the fusion; use "
                "segmentation='joint' to train it with the detector"
            )
        if cfg.segmenter_weights is not None and not isinstance(cfg.segmenter_weights, str):
            raise ConfigError(f"{name}: segmenter_weights: expected a file path or None")
        for key in ("cont_conv", "point_pooling", "attentive_aggregation"):
            if not isinstance(getattr(cfg, key), bool):
                raise ConfigError(f"{name}: {key}: expected true or false")
        if cfg.fusion == "middle" and not (
            cfg.cont_conv or cfg.point_pooling or cfg.attentive_aggregation
        ):
            raise ConfigError(
                f"{name}: expected at least one of cont_conv, point_pooling, "
                "attentive_aggregation on (fusion='middle')"
            )
        rows = cfg.num_points * cfg.pacf_k * max(cfg.pacf_channels, *cfg.pacf_mlp)
        check_memory(
            4.0 * rows,
            f"{name}: PACF's neighbourhoods of one scan ({cfg.num_points} x {cfg.pacf_k})",
            error=ConfigError,
        )

    def _load_segmenter(self, path: str) -> None:
        what = f"{self.name}: segmenter_weights"
        try:
            state = load_torch_file(path, "an ImageSegmenter state_dict")
        except InputError as err:
            raise ConfigError(f"{what}: {err}") from None
        if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise ConfigError(
                f"{what}: {path} holds {type(state).__name__}, expected an ImageSegmenter "
                "state_dict (names to tensors)"
            )
        try:
            self.segmenter.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()
            raise ConfigError(
                f"{what}: {path} does not fit ImageSegmenter(widths="
                f"{list(self.config.segmenter_widths)}) ({first[1].strip() if len(first) > 1 else err}); "
                "set segmenter_widths to the widths it was trained with"
            ) from None

    def input_channels(self) -> int:
        """``point_features``, plus one per segmentation class with ``fusion="early"``."""
        extra = len(SEMANTIC_CLASSES) if self.config.fusion == "early" else 0
        return int(self.config.point_features) + extra

    def fused_channels(self) -> int:
        """PACF's output width with ``fusion="middle"`` (``pacf_channels``, twice it for
        ``"concat"``), the backbone's with ``"early"``."""
        cfg = self.config
        if cfg.fusion == "early":
            return int(cfg.fp_mlps[0][-1])
        return int(cfg.pacf_channels) * (2 if cfg.pacf_fusion == "concat" else 1)

    # ------------------------------------------------------------------ inputs

    @staticmethod
    def inputs_of(batch: Mapping[str, Any]) -> list[CameraFrame]:
        """What :meth:`predict` takes for a :func:`~xuframe.data.collate_lidar` batch: its
        :class:`~xuframe_plugins.pircnn.frames.CameraFrame` (see
        :func:`~xuframe_plugins.pircnn.frames.camera_frames`, whose errors it raises). The
        LiDAR evaluator (:func:`xuframe_plugins.denfi.training.kitti_evaluator`) calls it."""
        return camera_frames(batch)

    def _check_clouds(self, inputs: Any, what: str) -> list[PointCloud]:
        """The scans of checked frames (the hooks then get the frames in
        ``batch["inputs"]``)."""
        if isinstance(inputs, (list, tuple)):
            for i, item in enumerate(inputs):
                if isinstance(item, PointCloud):
                    raise InputError(
                        f"{what}: item {i} is a PointCloud without its camera: PI-RCNN needs "
                        "CameraFrame inputs (a scan, its image and calibration; "
                        "PIRCNN.inputs_of(batch) builds them from a KittiDataset(root, "
                        "images=True) batch)"
                    )
                check_camera_frame(item, f"{what}[{i}]")
            return super()._check_clouds([frame.points for frame in inputs], what)
        return super()._check_clouds(inputs, what)

    # ------------------------------------------------------------------ image features

    def _segment(self, frames: Sequence[CameraFrame]) -> list[torch.Tensor]:
        """The segmenter's logits ``(K, H, W)`` of each frame's image (one batched pass when
        all images have one size); without gradients when frozen."""
        ref = self._reference()
        images = [frame.image.to(ref) for frame in frames]
        with torch.set_grad_enabled(
            torch.is_grad_enabled() and self.config.segmentation == "joint"
        ):
            if len({tuple(image.shape) for image in images}) == 1:
                return list(self.segmenter(torch.stack(images)))
            return [self.segmenter(image[None])[0] for image in images]

    def _point_scores(
        self, batch: Mapping[str, Any], xyz: torch.Tensor, index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per prepared point its image scores ``(B, K, N)`` and whether it is visible
        ``(B, N)`` bool (see the module's text)."""
        frames = batch["inputs"]
        logits = batch.get(_LOGITS)
        if logits is None:
            logits = self._segment(frames)
        pasted = _rows(batch, "pasted", len(frames), [len(f.points) for f in frames])
        semantic = None
        if self.config.pasted_points == "semantic" and pasted is not None:
            semantic = _rows(batch, "point_semantic", len(frames), [len(f.points) for f in frames])
        k = len(SEMANTIC_CLASSES)
        features, visible = [], []
        for b, frame in enumerate(frames):
            scores = torch.softmax(logits[b], 0)
            f, v = point_image_features(scores, xyz[b], frame.calib, frame.augmentation)
            if pasted is not None:
                moved = pasted[b].to(index.device)[index[b]]
                f = torch.where(moved[:, None], torch.zeros_like(f), f)
                v = v & ~moved.to(v.device)
                if semantic is not None:
                    cls = semantic[b].to(index.device)[index[b]]
                    known = moved & (cls >= 0) & (cls < k)
                    one_hot = F.one_hot(cls.clamp(0, k - 1), k).to(f)
                    f = torch.where(known[:, None], one_hot, f)
                    v = v | known.to(v.device)
            features.append(f.T)
            visible.append(v.to(xyz.device))
        return torch.stack(features).to(xyz), torch.stack(visible)

    def point_inputs(
        self,
        batch: Mapping[str, Any],
        xyz: torch.Tensor,
        features: torch.Tensor | None,
        index: torch.Tensor,
    ) -> torch.Tensor | None:
        """``fusion="early"``: the point features with each point's image scores appended
        ``(B, point_features + K, N)`` (zeros for a point not visible); otherwise
        ``features``."""
        if self.config.fusion != "early":
            return features
        scores, _ = self._point_scores(batch, xyz, index)
        return scores if features is None else torch.cat([features, scores], 1)

    def fuse_point_features(
        self,
        batch: Mapping[str, Any],
        xyz: torch.Tensor,
        features: torch.Tensor,
        index: torch.Tensor,
    ) -> torch.Tensor:
        """``fusion="middle"``: PACF of the point features and the image scores of the
        points' neighbourhoods ``(B, fused_channels(), N)``; otherwise ``features``."""
        if self.pacf is None:
            return features
        cfg = self.config
        check_memory(
            4.0 * xyz.shape[0] * xyz.shape[1] * cfg.pacf_k * max(cfg.pacf_channels, *cfg.pacf_mlp),
            f"{self.name}: PACF's neighbourhoods of {xyz.shape[0]} scans",
        )
        scores, visible = self._point_scores(batch, xyz, index)
        out: torch.Tensor = self.pacf(xyz, features, scores, visible)
        return out

    # ------------------------------------------------------------------ loss / predict

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """PointRCNN's losses (see :meth:`PointRCNN.loss`) with the image fused, plus
        ``image_seg`` (the segmenter's focal loss times ``segmentation_weight``) when
        ``segmentation="joint"`` and the batch has ``"semantic"``.

        ``batch``: a :func:`~xuframe.data.collate_lidar` batch of samples with a camera
        (``"inputs"`` point clouds with ``"image"``, ``"calib"``, optionally
        ``"augmentation"``), or one whose ``"inputs"`` are
        :class:`~xuframe_plugins.pircnn.frames.CameraFrame`; with ``"boxes"`` and
        ``"labels"``; optionally ``"pasted"`` (one ``(N,)`` bool per scan: points pasted by
        ground-truth sampling), ``"point_semantic"`` (one ``(N,)`` int64 per scan) and
        ``"semantic"`` (one ``(H, W)`` integer label map per image). Raises
        :class:`~xuframe.errors.InputError` for anything else (a missing image, an image of
        another size than its calibration's, NaN, ...), before any work."""
        what = f"{self.name}.loss"
        if not isinstance(batch, Mapping):
            raise InputError(
                f"{what}: expected a batch mapping (use collate_lidar), got {type(batch).__name__}"
            )
        try:
            frames = camera_frames(batch)
        except InputError as err:
            raise InputError(f"{what}: {err}") from None
        inner: dict[str, Any] = {**batch, "inputs": frames}
        inner.pop(_LOGITS, None)
        self._check_batch(inner, what)
        sizes = [len(f.points) for f in frames]
        _rows(inner, "pasted", len(frames), sizes, what)
        if self.config.pasted_points == "semantic":
            _rows(inner, "point_semantic", len(frames), sizes, what)
        labels = None
        if self.config.segmentation == "joint" and "semantic" in batch:
            labels = _label_maps(batch["semantic"], frames, what)
        logits = self._segment(frames)
        inner[_LOGITS] = logits
        out = super().loss(inner)
        if labels is not None:
            weight = self.config.segmentation_weight
            gamma = self.config.segmentation_gamma
            terms = [
                segmentation_focal_loss(logits[b][None], labels[b][None].to(logits[b].device),
                                        gamma=gamma)
                for b in range(len(frames))
            ]  # fmt: skip
            out["image_seg"] = weight * torch.stack(terms).mean()
        return out

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """Per frame, PointRCNN's detections (see :meth:`PointRCNN.predict`) with the image
        fused. ``inputs``: a non-empty list of
        :class:`~xuframe_plugins.pircnn.frames.CameraFrame` (:meth:`inputs_of` builds them
        from a batch); a frame without points in ``point_range`` gives no detections (its
        image is not segmented). Raises :class:`~xuframe.errors.InputError` for anything else:
        a bare :class:`~xuframe.PointCloud` (no camera), a missing image, an image of another
        size than its calibration's, values outside ``[0, 1]`` or NaN."""
        return super().predict(inputs)

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        """Rendered scenes with camera images: ``"inputs"`` frames, ``"boxes"``,
        ``"labels"``, ``"semantic"`` label maps and ``"frame_ids"``."""
        scenes = LidarScenes(batch_size, seed=seed, azimuth_step=0.5, max_objects=6, images=True)
        calib = kitti_calibration()
        rows = [scenes[i] for i in range(batch_size)]
        return {
            "inputs": [CameraFrame(s.points, _image(s.image), calib) for s in rows],
            "boxes": [s.boxes for s in rows],
            "labels": [s.labels for s in rows],
            "semantic": [s.semantic for s in rows],
            "frame_ids": [str(i) for i in range(batch_size)],
        }


def _image(image: torch.Tensor | None) -> torch.Tensor:
    if image is None:  # LidarScenes(images=True) renders one for every scene
        raise InputError("pircnn.example_batch: a scene without its image")
    return image


def _rows(
    batch: Mapping[str, Any],
    key: str,
    n: int,
    sizes: Sequence[int],
    what: str = "pircnn",
) -> list[torch.Tensor] | None:
    """The batch's per-point rows under ``key`` (``"pasted"`` bool, ``"point_semantic"``
    integer), one ``(N_i,)`` tensor (or None: none) per scan; None when absent."""
    if key not in batch:
        return None
    value = batch[key]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != n:
        raise InputError(
            f"{what}: batch[{key!r}]: expected a list of {n} per-point tensors, got "
            f"{type(value).__name__}" + (f" of {len(value)}" if isinstance(value, Sequence) else "")
        )
    out = []
    for i, (rows, size) in enumerate(zip(value, sizes, strict=True)):
        where = f"{what}: batch[{key!r}][{i}]"
        if rows is None:
            rows = (
                torch.zeros(size, dtype=torch.bool)
                if key == "pasted"
                else torch.full((size,), -1, dtype=torch.int64)
            )
        if not isinstance(rows, torch.Tensor) or tuple(rows.shape) != (size,):
            got = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
            raise InputError(f"{where}: expected one entry per point, shape ({size},), got {got}")
        if key == "pasted" and rows.dtype != torch.bool:
            raise InputError(f"{where}: expected a bool tensor, got {rows.dtype}")
        if key != "pasted":
            rows = check_tensor(rows, where, floating=False)
            if rows.is_floating_point():
                raise InputError(f"{where}: expected integer class ids, got {rows.dtype}")
        out.append(rows)
    return out


def _label_maps(value: Any, frames: Sequence[CameraFrame], what: str) -> list[torch.Tensor]:
    """``batch["semantic"]``: one integer ``(H, W)`` map per frame, the size of its image."""
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != len(frames)
    ):
        raise InputError(
            f"{what}: batch['semantic']: expected a list of {len(frames)} label maps (H, W), "
            f"got {type(value).__name__}"
        )
    out = []
    for i, (labels, frame) in enumerate(zip(value, frames, strict=True)):
        where = f"{what}: batch['semantic'][{i}]"
        labels = check_tensor(labels, where, floating=False)
        if labels.is_floating_point():
            raise InputError(f"{where}: expected integer class ids, got {labels.dtype}")
        size = tuple(frame.image.shape[1:])
        if tuple(labels.shape) != size:
            raise InputError(
                f"{where}: expected shape {size} (its image's height, width), got "
                f"{tuple(labels.shape)}"
            )
        if labels.numel():
            low, high = int(labels.min()), int(labels.max())
            if low < -1 or high >= len(SEMANTIC_CLASSES):
                raise InputError(
                    f"{where}: expected class ids in [0, {len(SEMANTIC_CLASSES) - 1}] or -1 "
                    f"(no label), got values in [{low}, {high}]"
                )
        out.append(labels)
    return out
