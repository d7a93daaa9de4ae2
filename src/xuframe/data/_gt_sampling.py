"""Ground-truth sampling (SECOND's "GT-aug"): paste objects cut from other scenes into a scene.

:class:`ObjectDatabase` cuts every labelled object out of a set of training samples: the box
and the points inside it. :class:`GroundTruthSampling` is a transform that pastes a few of them
into each sample, at the places they were cut from, keeping only those that do not collide in
bird's-eye view with the sample's boxes or with each other, and removing the sample's own points
inside the pasted boxes. Detectors then see many more objects per scene.

Objects keep their original position (and so their range-dependent density and the side the
sensor saw); the synthetic scenes have a flat ground, so pasted objects stand on it. Pasting
ignores occlusion: a pasted object may sit behind a surface that would have hidden it.

With a camera (samples with ``"image"`` and ``"calib"``, optionally ``"semantic"``), every cut
object keeps its points' image features: the colour and class of the pixel each point
projects to in its own image (PI-RCNN's pre-saved features of pasted points). A pasted point
lands on an unrelated pixel of the new image, so the pasted sample carries per-point rows:
``"pasted"`` ``(N,)`` bool, ``"point_rgb"`` ``(N, 3)`` float32 and ``"point_semantic"``
``(N,)`` int64: the pasted points' own features, the others' sampled from the sample's image
(zeros and -1 for points outside the image or behind the camera).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import torch

from xuframe.data._camera import camera_of, sample_point_image
from xuframe.data._scene3d import check_lidar_sample
from xuframe.errors import InputError
from xuframe.ops import bev_iou, points_in_boxes
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_float, check_int, check_tensor

__all__ = ["GroundTruthSampling", "ObjectDatabase", "SampledObject"]

Sample = dict[str, Any]


@attrs.frozen(eq=False)
class SampledObject:
    """One object cut from a scene: its box, class index and the points inside the box; from
    a sample with a camera also, per point, ``rgb`` ``(M, 3)`` float32 in ``[0, 1]`` and
    ``semantic`` ``(M,)`` int64 (ids into :data:`~xuframe.data.SEMANTIC_CLASSES`; only when
    the sample has a label map): the pixel each point projects to in its own image (zeros and
    -1 for points outside it). ``None`` without a camera."""

    box: torch.Tensor  # (7,)
    label: int
    points: PointCloud
    rgb: torch.Tensor | None = None
    semantic: torch.Tensor | None = None


class ObjectDatabase:
    """Every labelled object of ``samples`` with at least ``min_points`` points inside its box
    (per class index: a mapping, or one number for all), grouped by class index. Boxes of zero
    length or width are left out (nothing can be pasted from them).

    Raises :class:`~xuframe.errors.InputError` for ``samples`` that are not an iterable of 3-D
    detection samples (dicts with ``points``, ``boxes`` and one integer label >= 0 per box),
    or a ``min_points`` that is not an int >= 0 or a mapping of class indices to such ints,
    and for a sample's camera keys (``"image"`` not a finite ``(3, H, W)`` float tensor,
    ``"semantic"`` not an ``(H, W)`` integer one, ``"calib"`` not a
    :class:`~xuframe.data.Calibration`, a bad ``"augmentation"``)."""

    def __init__(
        self, samples: Iterable[Mapping[str, Any]], min_points: int | Mapping[int, int] = 5
    ) -> None:
        if isinstance(min_points, Mapping):
            min_points = {
                check_int(k, "ObjectDatabase: min_points key (a class index)", min=0): check_int(
                    v, f"ObjectDatabase: min_points[{k}]", min=0
                )
                for k, v in min_points.items()
            }
        else:
            min_points = check_int(min_points, "ObjectDatabase: min_points", min=0)
        if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Iterable):
            raise InputError(
                "ObjectDatabase: samples: expected an iterable of 3-D detection samples, got "
                f"{type(samples).__name__}"
            )
        self.objects: dict[int, list[SampledObject]] = {}
        for i, sample in enumerate(samples):
            check_lidar_sample(sample, f"ObjectDatabase: sample {i}")
            cloud: PointCloud = sample["points"]
            boxes: Boxes3D = sample["boxes"]
            labels = sample["labels"]
            if len(boxes) == 0:
                continue
            inside = points_in_boxes(cloud.xyz, boxes)
            rgb, semantic = _point_image(sample, f"ObjectDatabase: sample {i}")
            for j in range(len(boxes)):
                label = int(labels[j])
                need = min_points if isinstance(min_points, int) else min_points.get(label, 5)
                mask = inside[:, j]
                if int(mask.sum()) < need or bool((boxes.tensor[j, 3:5] <= 0).any()):
                    continue
                self.objects.setdefault(label, []).append(
                    SampledObject(
                        boxes.tensor[j].clone(),
                        label,
                        cloud[mask],
                        None if rgb is None else rgb[mask],
                        None if semantic is None else semantic[mask],
                    )
                )

    def __len__(self) -> int:
        return sum(len(v) for v in self.objects.values())

    def count(self, label: int) -> int:
        """How many objects of class ``label`` the database holds."""
        return len(self.objects.get(label, []))


class GroundTruthSampling:
    """Paste up to ``per_class[c]`` database objects of class ``c`` into each sample (fewer when
    the sample already has objects of the class: the target is ``per_class[c]`` in total).

    Candidates are drawn without replacement from torch's global generator; a candidate is kept
    if its BEV box, grown by ``margin`` metres, overlaps none of the sample's boxes or the
    candidates kept before it. Apply it before the global augmentations.

    A sample into which nothing is pasted comes back as it was. Otherwise the result holds
    ``"pasted"`` (which points were pasted) and, when the sample has a camera (or per-point
    image rows from an earlier pasting), ``"point_rgb"`` and ``"point_semantic"`` as the module
    describes; pasted objects without image features (a database of samples without images)
    get zeros and -1.

    Raises :class:`~xuframe.errors.InputError` for a ``database`` that is not an
    :class:`ObjectDatabase`, a ``per_class`` that is not a mapping of class indices (ints >= 0)
    to counts (ints >= 0), a ``margin`` that is not a finite number >= 0, and (when called) for
    a sample that is not a 3-D detection sample or has bad camera keys or per-point rows.
    """

    def __init__(
        self, database: ObjectDatabase, per_class: Mapping[int, int], margin: float = 0.2
    ) -> None:
        if not isinstance(database, ObjectDatabase):
            raise InputError(
                "GroundTruthSampling: database: expected an ObjectDatabase, got "
                f"{type(database).__name__}"
            )
        if not isinstance(per_class, Mapping):
            raise InputError(
                "GroundTruthSampling: per_class: expected a mapping of class index to count, "
                f"got {type(per_class).__name__}"
            )
        counts = {}
        for label, n in per_class.items():
            label = check_int(label, "GroundTruthSampling: per_class key (a class index)", min=0)
            counts[label] = check_int(n, f"GroundTruthSampling: per_class[{label}]", min=0)
        margin = check_float(margin, "GroundTruthSampling: margin", min=0.0)
        self.database, self.per_class, self.margin = database, counts, margin

    def __call__(self, sample: Sample) -> Sample:
        check_lidar_sample(sample, "GroundTruthSampling: sample")
        rgb, semantic = _point_image(sample, "GroundTruthSampling: sample")
        pasted_before = _pasted(sample, "GroundTruthSampling: sample")
        boxes: Boxes3D = sample["boxes"]
        labels: torch.Tensor = sample["labels"]
        candidates: list[SampledObject] = []
        remaining: list[int] = []  # per class still to paste
        slot: list[int] = []  # each candidate's index into remaining
        for label, target in self.per_class.items():
            pool = self.database.objects.get(label, [])
            want = target - int((labels == label).sum())
            if want <= 0 or not pool:
                continue
            # twice as many candidates as wanted: some will collide
            drawn = torch.randperm(len(pool))[: 2 * want].tolist()
            candidates += [pool[k] for k in drawn]
            slot += [len(remaining)] * len(drawn)
            remaining.append(want)
        if not candidates:
            return sample
        bev = torch.stack([o.box[[0, 1, 3, 4, 6]] for o in candidates]).double()
        grown = bev.clone()
        grown[:, 2:4] += 2 * self.margin
        existing = boxes.tensor[:, [0, 1, 3, 4, 6]].double()
        hits_scene = (
            (bev_iou(grown, existing) > 0).any(1)
            if len(existing)
            else torch.zeros(len(bev), dtype=torch.bool)
        )
        hits_other = bev_iou(grown, bev) > 0
        chosen_rows: list[int] = []
        for i in range(len(candidates)):
            if remaining[slot[i]] == 0 or bool(hits_scene[i]):
                continue
            if any(bool(hits_other[i, j]) for j in chosen_rows):
                continue
            chosen_rows.append(i)
            remaining[slot[i]] -= 1
        chosen = [candidates[i] for i in chosen_rows]
        if not chosen:
            return sample
        cloud: PointCloud = sample["points"]
        pasted = Boxes3D(torch.stack([o.box for o in chosen]).to(boxes.tensor.dtype))
        keep = ~points_in_boxes(cloud.xyz, pasted, margin=0.05).any(1)
        xyz = torch.cat([cloud.xyz[keep], *(o.points.xyz.to(cloud.xyz) for o in chosen)])
        feats = torch.cat(
            [cloud.features[keep], *(o.points.features.to(cloud.features) for o in chosen)]
        )
        rows = _with_rows(
            sample,
            pasted_before[keep],
            None if rgb is None else rgb[keep],
            None if semantic is None else semantic[keep],
            chosen,
        )
        return {
            **rows,
            "points": PointCloud(xyz, feats),
            "boxes": Boxes3D(torch.cat([boxes.tensor, pasted.tensor])),
            "labels": torch.cat(
                [labels, torch.tensor([o.label for o in chosen], dtype=labels.dtype)]
            ),
        }


def _pasted(sample: Sample, where: str) -> torch.Tensor:
    """The sample's ``"pasted"`` rows (checked), all False when it has none."""
    n = len(sample["points"])
    if "pasted" not in sample:
        return torch.zeros(n, dtype=torch.bool)
    pasted = sample["pasted"]
    if not isinstance(pasted, torch.Tensor) or pasted.dtype != torch.bool or pasted.shape != (n,):
        shown = (
            f"{pasted.dtype} {tuple(pasted.shape)}"
            if isinstance(pasted, torch.Tensor)
            else type(pasted).__name__
        )
        raise InputError(f"{where}.pasted: expected a bool tensor of shape ({n},), got {shown}")
    return pasted


def _point_image(
    sample: Mapping[str, Any], where: str
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Per point the image colour and class: the sample's own ``"point_rgb"`` /
    ``"point_semantic"`` rows when it has them (checked), else sampled from its camera, else
    ``None``."""
    n = len(sample["points"])
    camera = camera_of(sample, where)
    if "point_rgb" in sample:
        rgb = check_tensor(sample["point_rgb"], f"{where}.point_rgb", shape=(n, 3)).float()
        semantic = sample.get("point_semantic")
        if semantic is not None:
            semantic = check_tensor(
                semantic, f"{where}.point_semantic", shape=(n,), floating=False
            ).to(torch.int64)
        return rgb, semantic
    if camera is None:
        return None, None
    image, labels, calib, augmentation = camera
    return sample_point_image(sample["points"].xyz, image, labels, calib, augmentation)


def _with_rows(
    sample: Sample,
    pasted: torch.Tensor,
    rgb: torch.Tensor | None,
    semantic: torch.Tensor | None,
    chosen: list[SampledObject],
) -> Sample:
    """``sample`` with per-point rows: those of the points it keeps (``pasted``, ``rgb``,
    ``semantic``), then those of the ``chosen`` objects' points."""
    out = {**sample}
    out.pop("point_rgb", None)
    out.pop("point_semantic", None)
    sizes = [len(o.points) for o in chosen]
    out["pasted"] = torch.cat([pasted, torch.ones(sum(sizes), dtype=torch.bool)])
    if rgb is not None:
        out["point_rgb"] = torch.cat(
            [rgb]
            + [
                o.rgb.float() if o.rgb is not None else torch.zeros(m, 3)
                for o, m in zip(chosen, sizes, strict=True)
            ]
        )
    if semantic is not None:
        out["point_semantic"] = torch.cat(
            [semantic]
            + [
                o.semantic if o.semantic is not None else torch.full((m,), -1, dtype=torch.int64)
                for o, m in zip(chosen, sizes, strict=True)
            ]
        )
    return out
