"""SSKD: "Knowledge Distillation Meets Self-Supervision" (Xu, Liu, Li, Loy, ECCV 2020).

Every image gives four views rotated by 0, 90, 180 and 270 degrees (:func:`rotations`). Teacher
and student each carry a projection head (Linear-ReLU-Linear) on their penultimate feature.

* Stage 1 (:meth:`SelfSupervisedKD.prepare`) trains the teacher's head alone, backbone frozen,
  on a contrastive task: each rotated view must pick out its own unrotated image among the
  batch, by cross-entropy over the cosine similarities of the heads' outputs
  (:func:`similarity_matrix`).
* Stage 2 (:meth:`SelfSupervisedKD.loss`) trains the student and its head with
  ``ce_weight * CE + kd_weight * KD(T) + rotation_weight * KD on the rotated views (T_rot)
  + similarity_weight * KL over similarity rows (T_sim)``; every KD/KL term is the
  batchmean KL times the temperature squared.

Selective transfer (:func:`selective_rows`) keeps, for the rotated-view and the similarity
terms, the rows the teacher gets right and the least-wrong fraction of the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import DemoResult, config_field, fraction, non_negative, positive
from xuframe.errors import ConfigError, InputError
from xuframe.pictures import bar_picture
from xuframe.validation import check_float, check_int, check_labels, check_tensor
from xuframe_plugins.kd.distiller import KnowledgeDistillation
from xuframe_plugins.kd.losses import kd_loss

__all__ = [
    "ProjectionHead",
    "SelfSupervisedKD",
    "rotations",
    "selective_rows",
    "similarity_matrix",
]


def rotations(x: torch.Tensor) -> torch.Tensor:
    """The four rotated views of a batch of square images ``(B, C, H, H)``, rotation-major:
    rows ``r*B .. (r+1)*B - 1`` of the ``(4B, C, H, H)`` result are ``x`` rotated by
    ``r * 90`` degrees counter-clockwise (``torch.rot90`` over the last two dims), exactly."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"sskd: rotations need a batch of square images (B, C, H, H), got {shape}")
    return torch.cat([torch.rot90(x, r, dims=(2, 3)) for r in range(4)])


def similarity_matrix(rotated: torch.Tensor, upright: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``(R, B)`` between each rotated view's embedding and each upright
    image's embedding; row ``j`` of SSKD's rotated views belongs to image ``j % B``.

    Both are finite float tensors ``(R, d)`` and ``(B, d)`` of one width ``d``;
    :class:`~xuframe.errors.InputError` otherwise."""
    rotated = check_tensor(rotated, "similarity_matrix: rotated", ndim=2)
    upright = check_tensor(upright, "similarity_matrix: upright", ndim=2)
    if rotated.shape[1] != upright.shape[1]:
        raise InputError(
            "similarity_matrix: expected embeddings of one width, got "
            f"{tuple(rotated.shape)} and {tuple(upright.shape)}"
        )
    sim: torch.Tensor = (
        F.normalize(rotated, dim=1, eps=1e-8) @ F.normalize(upright, dim=1, eps=1e-8).T
    )
    return sim


def selective_rows(scores: torch.Tensor, target: torch.Tensor, ratio: float) -> torch.Tensor:
    """The rows of ``scores`` (R, K) that SSKD's selective transfer keeps, ascending.

    A row's rank is the number of entries strictly greater than its ``target`` entry, so a
    tie with the maximum counts as right (rank 0). All right rows are kept, and of the
    ``w`` wrong rows the ``floor(ratio * w)`` with the smallest rank, ties broken by the
    lower row index. (The reference code breaks ties by an unstable sort; this rule is the
    same wherever there are no ties and deterministic where there are.)

    ``scores`` are real numbers (R, K), not NaN (``-inf`` marks a masked class), ``target`` R integer labels in ``[0, K)``,
    ``ratio`` a number in [0, 1]; :class:`~xuframe.errors.InputError` otherwise.
    """
    scores = check_tensor(scores, "selective_rows: scores", ndim=2, floating=False, finite=False)
    if scores.is_floating_point() and bool(torch.isnan(scores).any()):
        raise InputError("selective_rows: scores: expected numbers (-inf for masked), got NaN")
    target = check_labels(
        target,
        "selective_rows: target (one per row of scores)",
        n=scores.shape[0],
        n_classes=scores.shape[1],
    ).to(scores.device)
    ratio = check_float(ratio, "selective_rows: ratio", min=0, max=1)
    true = scores.gather(1, target[:, None])
    rank = (scores > true).sum(1)
    right = torch.nonzero(rank == 0).flatten()
    wrong = torch.nonzero(rank > 0).flatten()
    keep = math.floor(ratio * len(wrong))
    order = torch.argsort(rank[wrong], stable=True)[:keep]
    return torch.sort(torch.cat([right, wrong[order]])).values


def _check_dataset(data: Any, what: str, batch_size: int) -> None:
    """``data`` a sized, indexable dataset of at least ``batch_size`` items."""
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise InputError(
            f"{what}: expected a dataset (with len() and indexing) of {{'x', 'y'}} items, got "
            f"{type(data).__name__}"
        )
    if len(data) < batch_size:
        raise InputError(
            f"{what}: expected at least {batch_size} items (one batch), got {len(data)}"
        )


class ProjectionHead(nn.Module):
    """SSKD's projection head: ``Linear(d, d) - ReLU - Linear(d, d)`` on a penultimate feature."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        dim = check_int(dim, "ProjectionHead: dim", min=1, error=ConfigError)
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.net(feature)


def _feature_dim(model: nn.Module, role: str) -> int:
    """A model's penultimate-feature width: its ``feature_dim``, else its last child's
    ``in_features`` when that child is a Linear classifier."""
    if not callable(getattr(model, "forward_features", None)):
        raise InputError(
            f"sskd: the {role} ({type(model).__name__}) needs forward_features(x) -> "
            "(logits, penultimate features), as xuframe_plugins.kd.ResNetCifar has"
        )
    dim = getattr(model, "feature_dim", None)
    if isinstance(dim, int) and dim > 0:
        return dim
    children = list(model.children())
    if children and isinstance(children[-1], nn.Linear):
        return int(children[-1].in_features)
    raise InputError(
        f"sskd: cannot tell the {role}'s feature width; give it a feature_dim attribute"
    )


class _TeacherHeadTask(nn.Module):
    """Stage 1 as a Trainer trainable: only the teacher's head has trainable parameters."""

    def __init__(self, distiller: SelfSupervisedKD) -> None:
        super().__init__()
        self.head = distiller.teacher_head
        self._distiller = [distiller]  # a list, so the distiller's modules are not registered

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        dist = self._distiller[0]
        x, _ = dist._batch(batch)
        views = rotations(x)
        _, feature = dist.query_teacher(views, "forward_features")
        rep = self.head(feature)
        n = len(x)
        sim = similarity_matrix(rep[n:], rep[:n])
        target = torch.arange(n, device=x.device).repeat(3)
        dist.head_accuracy.append(float((sim.detach().argmax(1) == target).float().mean()))
        return {"contrastive": F.cross_entropy(sim, target)}


class SelfSupervisedKD(KnowledgeDistillation):
    """``sskd``: knowledge distillation with rotation self-supervision and selective transfer.

    Teacher and student need ``forward_features(x) -> (logits, penultimate feature)`` (as
    :class:`~xuframe_plugins.kd.ResNetCifar` has) and square images. Call :meth:`prepare` on
    the training data before training the student, to train the teacher's projection head
    (stage 1); without it the similarity term imitates an untrained head
    (:attr:`head_steps_done` stays 0). ``compare`` and the benchmark call it for you.
    :attr:`teacher_queries` counts all four views of every image, in both stages.
    """

    name: ClassVar[str] = "sskd"

    @attrs.frozen
    class Config(KnowledgeDistillation.Config):
        """``kd``'s fields (on the upright views), then SSKD's."""

        rotation_weight: float = config_field(
            2.7, doc="weight of KD on the rotated views", validator=non_negative
        )
        rotation_temperature: float = config_field(
            4.0, doc="KD temperature on the rotated views", validator=positive
        )
        similarity_weight: float = config_field(
            10.0, doc="weight of the KL over similarity rows", validator=non_negative
        )
        similarity_temperature: float = config_field(
            0.5, doc="temperature of the similarity rows", validator=positive
        )
        rotation_ratio: float = config_field(
            1.0,
            doc="fraction of wrong rotated-view rows kept (least wrong first)",
            validator=fraction,
        )
        similarity_ratio: float = config_field(
            0.75,
            doc="fraction of wrong similarity rows kept (least wrong first)",
            validator=fraction,
        )
        head_steps: int = config_field(
            300, doc="SGD steps of stage 1 (teacher head) in prepare()", validator=non_negative
        )
        head_lr: float = config_field(0.05, doc="stage-1 learning rate", validator=positive)
        head_batch_size: int = config_field(64, doc="stage-1 batch size", validator=positive)

    def __init__(self, teacher: nn.Module, student: nn.Module, config: Any = None) -> None:
        super().__init__(teacher, student, config)
        #: The teacher's projection head: trained by :meth:`prepare`, frozen otherwise.
        self.teacher_head = ProjectionHead(_feature_dim(teacher, "teacher")).requires_grad_(False)
        #: The student's projection head, trained with the student.
        self.student_head = ProjectionHead(_feature_dim(student, "student"))
        #: Per stage-1 batch: the fraction of rotated views whose most similar upright image
        #: (by the teacher head) is their own; rising means stage 1 learns.
        self.head_accuracy: list[float] = []

    @property
    def head_steps_done(self) -> int:
        """Stage-1 steps the teacher head has had (one :attr:`head_accuracy` entry each)."""
        return len(self.head_accuracy)

    def prepare(self, data: torch.utils.data.Dataset[Any], *, seed: int = 0) -> None:
        """Stage 1: train the teacher's projection head for ``head_steps`` SGD steps on the
        rotation-similarity task, the teacher's backbone frozen; the head is frozen again
        afterwards.

        ``data`` is a dataset of ``{"x", "y"}`` items (e.g.
        :class:`~xuframe.data.ImageClassification`) with at least ``head_batch_size`` items;
        :class:`~xuframe.errors.InputError` otherwise, before any step."""
        from xuframe_plugins.kd.training import fit

        cfg = self.config
        seed = check_int(seed, "sskd.prepare: seed", min=0)
        if cfg.head_steps == 0:
            return
        _check_dataset(data, "sskd.prepare: data", cfg.head_batch_size)
        task = _TeacherHeadTask(self)
        self.teacher_head.requires_grad_(True)
        try:
            fit(
                task,
                data,
                cfg.head_steps,
                lr=cfg.head_lr,
                batch_size=cfg.head_batch_size,
                seed=seed,
            )
        finally:
            self.teacher_head.requires_grad_(False)

    def _student_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        forward_features: Any = self.student.forward_features
        logits, feature = forward_features(x)
        return logits, feature

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        x, y = self._batch(batch)
        cfg = self.config
        n = len(x)
        views = rotations(x)
        t_logits, t_feature = self.query_teacher(views, "forward_features")
        with torch.no_grad():
            t_rep = self.teacher_head(t_feature)
        s_logits, s_feature = self._student_features(views)
        self._check_classes(t_logits, s_logits, y)
        s_rep = self.student_head(s_feature)
        self._count_step(len(views))

        rot_target = y.repeat(3)
        rot_rows = selective_rows(t_logits[n:], rot_target, cfg.rotation_ratio)
        t_sim = similarity_matrix(t_rep[n:], t_rep[:n])
        s_sim = similarity_matrix(s_rep[n:], s_rep[:n])
        sim_target = torch.arange(n, device=x.device).repeat(3)
        sim_rows = selective_rows(t_sim, sim_target, cfg.similarity_ratio)

        def kd_rows(
            s: torch.Tensor, t: torch.Tensor, rows: torch.Tensor, temp: float
        ) -> torch.Tensor:
            if len(rows) == 0:
                return s.sum() * 0.0
            return kd_loss(s[rows], t[rows], temp)

        return {
            "ce": cfg.ce_weight * F.cross_entropy(s_logits[:n], y),
            "kd": cfg.kd_weight * kd_loss(s_logits[:n], t_logits[:n], cfg.temperature),
            "rotation": cfg.rotation_weight
            * kd_rows(s_logits[n:], t_logits[n:], rot_rows, cfg.rotation_temperature),
            "similarity": cfg.similarity_weight
            * kd_rows(s_sim, t_sim, sim_rows, cfg.similarity_temperature),
        }

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """From the shipped ResNet-20 digits teacher and its shipped stage-1 head, train a
        ResNet-8 student on digits (8 px) for a few steps, alone, with KD and with SSKD from
        the same initialisation and batch order; report held-out accuracies and SSKD's gain
        over KD (``sskd/vs_kd``)."""
        from xuframe_plugins.kd.training import DEMO_STEPS, compare_from_pretrained
        from xuframe_plugins.sskd.pretrained import pretrained_teacher_head

        start = time.perf_counter()
        head = pretrained_teacher_head().state_dict()

        def setup(name: str, distiller: nn.Module) -> None:
            if isinstance(distiller, SelfSupervisedKD):
                distiller.teacher_head.load_state_dict(head)

        r = compare_from_pretrained(
            ["kd", "sskd"], seed=seed, configs={"sskd": {"head_steps": 0}}, setup=setup
        )
        seconds = time.perf_counter() - start
        gain = r["sskd"] - r["kd"]
        return DemoResult(
            {
                **r,
                "sskd/vs_kd": gain,
                "sskd/vs_student": r["sskd"] - r["student"],
                "seconds": seconds,
            },
            summary=(
                f"digits 8 px, shipped ResNet-20 teacher {r['teacher']:.3f} and stage-1 head; "
                f"ResNet-8 student, {DEMO_STEPS} steps ({seconds:.0f} s): alone "
                f"{r['student']:.3f}, KD {r['kd']:.3f}, SSKD {r['sskd']:.3f} ({gain:+.3f} "
                f"against KD, at {r['sskd/computation']:.1f} times KD's FLOPs: four rotated "
                "views per image)"
            ),
            headline="sskd/vs_kd",
            picture=bar_picture(
                {
                    "teacher": r["teacher"],
                    "student": r["student"],
                    "KD": r["kd"],
                    "SSKD": r["sskd"],
                }
            ),
        )
