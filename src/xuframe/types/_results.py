"""Result value types: detections, verification bounds, clustering results, demo results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import torch

from xuframe.errors import InputError
from xuframe.types._convert import as_tensor, check_finite, to_numpy
from xuframe.types._geometry import Boxes2D, Boxes3D, Geometry, Segments1D

__all__ = ["Bounds", "ClusteringResult", "DemoResult", "Detections", "VerificationResult"]


def _geometry(value: Any) -> Geometry:
    if not isinstance(value, (Boxes2D, Boxes3D, Segments1D)):
        raise InputError(
            f"Detections.geometry: expected Boxes2D, Boxes3D or Segments1D, got {type(value).__name__}"
        )
    return value


_BOUNDS_ATOL = 1e-5


def _scores(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Detections.scores")


def _class_labels(value: Any) -> torch.Tensor:
    # class labels are integers: a floating array or tensor is refused even when integral
    # (as xuframe.validation.check_labels does); no labels at all may come as floats
    dtype = getattr(value, "dtype", None)
    floating = (isinstance(dtype, torch.dtype) and dtype.is_floating_point) or (
        isinstance(dtype, np.dtype) and dtype.kind == "f"
    )
    if floating and value.shape != (0,):
        raise InputError(f"Detections.labels: expected integer class labels, got dtype {dtype}")
    return as_tensor(value, dtype=torch.int64, what="Detections.labels")


def _lower(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Bounds.lower")


def _upper(value: Any) -> torch.Tensor:
    return as_tensor(value, dtype=torch.float32, what="Bounds.upper")


def _metrics(value: Mapping[str, float]) -> dict[str, float]:
    return dict(value)


@attrs.frozen(eq=False)
class Detections:
    """The objects found in one input: geometry, a score and an integer class label per object.

    ``geometry`` is :class:`Boxes2D` (images), :class:`Boxes3D` (point clouds) or
    :class:`Segments1D` (temporal scenes). ``scores`` are in the detector's own scale
    (usually probabilities); higher is more confident. ``labels`` are integers (a floating
    array or tensor is an :class:`~xuframe.errors.InputError`, even when integral).
    """

    geometry: Geometry = attrs.field(converter=_geometry)
    scores: torch.Tensor = attrs.field(converter=_scores)
    labels: torch.Tensor = attrs.field(converter=_class_labels)

    def __attrs_post_init__(self) -> None:
        n = len(self.geometry)
        for what, t in (("scores", self.scores), ("labels", self.labels)):
            if t.shape != (n,):
                raise InputError(
                    f"Detections.{what}: expected shape ({n},) to match {n} objects, "
                    f"got {tuple(t.shape)}"
                )
        check_finite(self.scores, "Detections.scores")

    def __len__(self) -> int:
        return len(self.geometry)

    def __getitem__(self, index: Any) -> Detections:
        """The detections selected by an index tensor, slice or boolean mask."""
        return Detections(
            self.geometry[index], self.scores[index].reshape(-1), self.labels[index].reshape(-1)
        )

    def top(self, k: int) -> Detections:
        """The ``k`` highest-scoring detections, best first."""
        order = torch.argsort(self.scores, descending=True, stable=True)[:k]
        return self[order]

    @classmethod
    def empty(cls, geometry_type: type[Geometry]) -> Detections:
        """No detections, with geometry of ``geometry_type``."""
        return cls(geometry_type.empty(), torch.zeros(0), torch.zeros(0, dtype=torch.int64))

    def to(self, device: torch.device | str) -> Detections:
        """A copy on another device."""
        return Detections(self.geometry.to(device), self.scores.to(device), self.labels.to(device))

    def __repr__(self) -> str:
        return f"Detections(n={len(self)}, geometry={type(self.geometry).__name__})"


@attrs.frozen(eq=False)
class Bounds:
    """Certified element-wise bounds: ``lower <= f(x') <= upper`` for every ``x'`` in the input set.

    ``lower`` and ``upper`` have the same shape, e.g. ``(batch, outputs)`` for logits or
    ``(batch, specs)`` for specification (margin) bounds. Float round-off may leave
    ``lower`` above ``upper`` by at most ``1e-5 * (1 + |upper|)``; more is rejected.
    """

    lower: torch.Tensor = attrs.field(converter=_lower)
    upper: torch.Tensor = attrs.field(converter=_upper)

    def __attrs_post_init__(self) -> None:
        if self.lower.shape != self.upper.shape:
            raise InputError(
                f"Bounds: expected lower and upper of the same shape, got "
                f"{tuple(self.lower.shape)} and {tuple(self.upper.shape)}"
            )
        if bool(torch.isnan(self.lower).any() | torch.isnan(self.upper).any()):
            raise InputError("Bounds: expected no NaN, got NaN")
        excess = self.lower - self.upper - _BOUNDS_ATOL * (1 + self.upper.abs())
        if bool((excess > 0).any()):
            raise InputError(
                f"Bounds: expected lower <= upper, lower exceeds upper by up to "
                f"{float((self.lower - self.upper).max()):.3g}"
            )

    @property
    def shape(self) -> torch.Size:
        return self.lower.shape

    @property
    def width(self) -> torch.Tensor:
        """``upper - lower``, the looseness of the bounds."""
        return self.upper - self.lower

    def contains(self, values: torch.Tensor, atol: float = 1e-5) -> torch.Tensor:
        """Element-wise: does ``values`` lie within the bounds (up to ``atol``)?"""
        v = as_tensor(values, dtype=torch.float32, what="Bounds.contains")
        return (v >= self.lower - atol) & (v <= self.upper + atol)

    def __getitem__(self, index: Any) -> Bounds:
        return Bounds(self.lower[index], self.upper[index])

    def numpy(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(lower, upper)`` as numpy arrays."""
        return to_numpy(self.lower), to_numpy(self.upper)


@attrs.frozen(eq=False)
class VerificationResult:
    """The outcome of verifying a batch of inputs against an l_p ball of radius ``eps``.

    ``margins`` bounds ``f(x')_true - f(x')_other`` for every other class (shape
    ``(batch, classes - 1)``). An input is verified when every margin's lower bound is
    positive: then no point in the ball changes the prediction away from the label.
    """

    margins: Bounds
    eps: float = attrs.field(converter=float)
    norm: float = attrs.field(converter=float)
    method: str

    def __attrs_post_init__(self) -> None:
        if self.margins.lower.dim() != 2:
            raise InputError(
                f"VerificationResult.margins: expected shape (batch, classes - 1), "
                f"got {tuple(self.margins.shape)}"
            )

    @property
    def verified(self) -> torch.Tensor:
        """``(batch,)`` bool: is each input certified robust?"""
        return (self.margins.lower > 0).all(dim=1)

    @property
    def verified_error(self) -> float:
        """Fraction of inputs that are not certified (the papers' "verified error")."""
        v = self.verified
        return 1.0 - float(v.float().mean()) if v.numel() else 0.0


def _centroids_array(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, torch.Tensor):
        value = to_numpy(value)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError("ClusteringResult.centroids: expected an array of numbers") from exc


def _labels_array(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, torch.Tensor):
        value = to_numpy(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise InputError(f"ClusteringResult.labels: expected integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


@attrs.frozen(eq=False)
class ClusteringResult:
    """A clustering of ``n`` points in ``d`` dimensions.

    ``centroids[i]`` is the representative of point ``i`` (the ``u_i`` of convex
    clustering, or point ``i``'s cluster centre for k-means); ``labels[i]`` in
    ``0 .. n_clusters - 1`` is its cluster. ``residual`` is the solver's optimality
    measure at exit (duality gap or relative residual: the solver's docs say which).
    """

    centroids: np.ndarray[Any, Any] = attrs.field(converter=_centroids_array)
    labels: np.ndarray[Any, Any] = attrs.field(converter=_labels_array)
    objective: float = attrs.field(converter=float)
    residual: float = attrs.field(converter=float)
    iterations: int = attrs.field(converter=int)
    seconds: float = attrs.field(converter=float)

    def __attrs_post_init__(self) -> None:
        if self.centroids.ndim != 2:
            raise InputError(
                f"ClusteringResult.centroids: expected shape (n, d), got {self.centroids.shape}"
            )
        n = self.centroids.shape[0]
        if self.labels.shape != (n,):
            raise InputError(
                f"ClusteringResult.labels: expected shape ({n},), got {self.labels.shape}"
            )
        if n and (
            self.labels.min() < 0 or set(np.unique(self.labels)) != set(range(self.n_clusters))
        ):
            raise InputError(
                "ClusteringResult.labels: expected labels 0 .. n_clusters - 1 with none skipped"
            )

    @property
    def n_clusters(self) -> int:
        """How many clusters the points form."""
        return int(self.labels.max()) + 1 if self.labels.size else 0


@attrs.frozen
class DemoResult:
    """What a component's built-in demo reports: named numbers and a one-line summary.

    ``headline`` names the metric that stands for the demo in one-row-per-component tables
    (``xuframe demo`` with several demos); ``None`` means the first metric. It must be a key
    of ``metrics`` (``InputError`` otherwise). ``picture`` is what the demo shows, as an RGB
    image ``(H, W, 3)`` of uint8 (detections drawn, images sampled, ...);
    ``xuframe demo --out DIR`` writes it as a PNG.
    """

    metrics: Mapping[str, float] = attrs.field(converter=_metrics)
    summary: str = ""
    headline: str | None = None
    picture: np.ndarray[Any, Any] | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.picture is not None and (
            not isinstance(self.picture, np.ndarray)
            or self.picture.dtype != np.uint8
            or self.picture.ndim != 3
            or self.picture.shape[2] != 3
            or 0 in self.picture.shape
        ):
            got = (
                f"{self.picture.dtype} array of shape {self.picture.shape}"
                if isinstance(self.picture, np.ndarray)
                else type(self.picture).__name__
            )
            raise InputError(f"DemoResult.picture: expected a uint8 array (H, W, 3), got {got}")
        if self.headline is not None and self.headline not in self.metrics:
            raise InputError(
                f"DemoResult.headline: expected one of the metrics ({', '.join(self.metrics)}), "
                f"got {self.headline!r}"
            )
        for key, value in self.metrics.items():
            if (
                not isinstance(key, str)
                or isinstance(value, bool)
                or not isinstance(value, (int, float))
            ):
                raise InputError(
                    f"DemoResult.metrics: expected str -> number, got {key!r}: {value!r}"
                )
