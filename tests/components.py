"""Small, correct components of every interface, used to test the core and the conformance kit.

Imported by tests as ``components`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import (
    Bounds,
    Boxes2D,
    Detections,
    Detector,
    Distiller,
    Generator,
    Verifier,
    config_field,
    positive,
)
from xuframe.errors import InputError
from xuframe.validation import check_tensor


def _batch(batch: Any, keys: tuple[str, ...], owner: str) -> Mapping[str, Any]:
    """``batch`` when it is a mapping holding ``keys`` (validated as a real component would)."""
    if not isinstance(batch, Mapping):
        raise InputError(
            f"{owner}: batch: expected a mapping with {keys}, got {type(batch).__name__}"
        )
    for key in keys:
        if key not in batch:
            raise InputError(f"{owner}: batch: missing key {key!r}")
    return batch


class IntervalVerifier(Verifier):
    """Interval arithmetic through Linear and ReLU layers (a naive, sound reference)."""

    name: ClassVar[str] = "test-interval"

    def _bounds(
        self, model: nn.Module, x: torch.Tensor, eps: float, norm: float, spec: Any
    ) -> Bounds:
        lo, hi = x - eps, x + eps
        for layer in model:
            if isinstance(layer, nn.Linear):
                mid, rad = (hi + lo) / 2, (hi - lo) / 2
                mid, rad = layer(mid), rad @ layer.weight.abs().T
                lo, hi = mid - rad, mid + rad
            elif isinstance(layer, nn.ReLU):
                lo, hi = lo.clamp(min=0), hi.clamp(min=0)
            else:
                raise TypeError(f"unsupported layer {type(layer).__name__}")
        if spec is not None:
            pos, neg = spec.clamp(min=0), spec.clamp(max=0)
            lo, hi = (
                torch.einsum("bsk,bk->bs", pos, lo) + torch.einsum("bsk,bk->bs", neg, hi),
                torch.einsum("bsk,bk->bs", pos, hi) + torch.einsum("bsk,bk->bs", neg, lo),
            )
        return Bounds(lo.detach(), hi.detach())


class LinearGenerator(Generator):
    """A two-layer generator of 1 x 4 x 4 images."""

    name: ClassVar[str] = "test-generator"

    @attrs.frozen
    class Config:
        z_dim: int = config_field(
            8,
            doc="latent size",
            validator=attrs.validators.and_(positive, attrs.validators.le(4096)),
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        torch.manual_seed(0)
        self.map = nn.Linear(self.config.z_dim, 16)
        self.syn = nn.Linear(16, 16)

    @property
    def latent_dim(self) -> int:
        return int(self.config.z_dim)

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "mapping: z", shape=(None, self.latent_dim), dtype=torch.float32)
        return torch.relu(self.map(z))

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        check_tensor(w, "synthesis: w", shape=(None, 16), dtype=torch.float32)
        return torch.tanh(self.syn(w)).reshape(-1, 1, 4, 4)


class SoftTargetDistiller(Distiller):
    """Hinton-style KD: KL between temperature-softened teacher and student outputs."""

    name: ClassVar[str] = "test-kd"

    @attrs.frozen
    class Config:
        temperature: float = config_field(4.0, doc="softening temperature")

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        t = self.config.temperature
        inputs = _batch(batch, ("inputs",), "test-kd")["inputs"]
        check_tensor(
            inputs, "test-kd: inputs", shape=(None, 6), non_empty=True, dtype=torch.float32
        )
        teacher = self.query_teacher(inputs)
        student = self.student(inputs)
        kl = F.kl_div(
            F.log_softmax(student / t, 1), F.softmax(teacher / t, 1), reduction="batchmean"
        )
        return {"kd": kl * t * t}

    @classmethod
    def example(cls, seed: int = 0) -> tuple[nn.Module, nn.Module, dict[str, Any]]:
        torch.manual_seed(seed)
        return nn.Linear(6, 3), nn.Linear(6, 3), {"inputs": torch.randn(4, 6)}


class CornerDetector(Detector):
    """Predicts one box per image from a linear regression on the mean pixel (trainable)."""

    name: ClassVar[str] = "test-detector"
    geometry: ClassVar[type[Boxes2D]] = Boxes2D

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.head = nn.Linear(1, 4)

    def _raw(self, images: Any) -> torch.Tensor:
        check_tensor(
            images,
            "test-detector: images",
            shape=(None, 3, None, None),
            non_empty=True,
            dtype=torch.float32,
        )
        return self.head(images.mean(dim=(1, 2, 3))[:, None])

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        batch = _batch(batch, ("inputs", "boxes"), "test-detector")
        raw = self._raw(batch["inputs"])
        boxes = check_tensor(batch["boxes"], "test-detector: boxes", shape=(len(raw), 4))
        return {"l1": F.l1_loss(raw, boxes)}

    def predict(self, inputs: Any) -> list[Detections]:
        raw = self._raw(inputs)
        xyxy = torch.cat([raw[:, :2], raw[:, :2] + raw[:, 2:].abs()], dim=1)
        return [
            Detections(Boxes2D(b[None]), torch.ones(1), torch.zeros(1, dtype=torch.int64))
            for b in xyxy
        ]

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(seed)
        return {
            "inputs": torch.rand(batch_size, 3, 8, 8, generator=gen),
            "boxes": torch.tensor([[1.0, 1.0, 5.0, 5.0]]).repeat(batch_size, 1),
        }


ALL = [IntervalVerifier, LinearGenerator, SoftTargetDistiller, CornerDetector]


# -- for the engine tests ------------------------------------------------------------------
class Regressor(nn.Module):
    """A small MLP regressor with a ``loss(batch)``: what the Trainer needs and nothing more."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 1))

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        pred = self.net(batch["x"]).squeeze(1)
        return {"mse": F.mse_loss(pred, batch["y"]), "l1": 0.1 * F.l1_loss(pred, batch["y"])}


class RegressionData(torch.utils.data.Dataset):
    """y = sum(x) + noise; with ``augment``, every read adds fresh noise from torch's global RNG."""

    def __init__(self, n: int = 64, seed: int = 0, augment: bool = False) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=gen)
        self.y = self.x.sum(1) + 0.05 * torch.randn(n, generator=gen)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x = self.x[i]
        if self.augment:
            x = x + 0.01 * torch.randn(4)
        return {"x": x, "y": self.y[i]}


def make_regression_data(n: int = 64, seed: int = 0) -> RegressionData:
    return RegressionData(n, seed)


def make_regressor(dropout: float = 0.0) -> Regressor:
    return Regressor(dropout)


def mean_abs_error(model: nn.Module, loader: Any) -> dict[str, float]:
    errors = [(model.net(b["x"]).squeeze(1) - b["y"]).abs() for b in loader]
    return {"mae": float(torch.cat(errors).mean())}


def make_corner_data(n: int = 16, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    batch = CornerDetector.example_batch(n, seed)
    return [{"inputs": batch["inputs"][i], "boxes": batch["boxes"][i]} for i in range(n)]
