"""Example third-party xuframe plugin: a detector of segments where a 1-D signal is high."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F

import xuframe
from xuframe import DemoResult, Detections, Detector, Segments1D, config_field
from xuframe.errors import InputError
from xuframe.validation import check_tensor

__all__ = ["ThresholdSegmenter", "make_signals"]


def _odd_positive(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1 or value % 2 == 0:
        raise ValueError(f"{attribute.name} must be a positive odd int, got {value}")


def make_signals(
    batch_size: int, length: int = 64, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy signals ``(B, T)`` that are 1 on a few random segments and 0 elsewhere, and the masks."""
    gen = torch.Generator().manual_seed(seed)
    masks = torch.zeros(batch_size, length, dtype=torch.bool)
    for b in range(batch_size):
        for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
            start = int(torch.randint(0, length - 8, (1,), generator=gen))
            masks[b, start : start + int(torch.randint(4, 12, (1,), generator=gen))] = True
    signals = masks.float() + 0.3 * torch.randn(batch_size, length, generator=gen)
    return signals, masks


def _runs(mask: torch.Tensor) -> torch.Tensor:
    """``(N, 2)`` [start, end) of the runs of True in a 1-D bool mask."""
    padded = F.pad(mask.to(torch.int8), (1, 1))
    edges = padded[1:] - padded[:-1]
    starts = (edges == 1).nonzero().flatten()
    ends = (edges == -1).nonzero().flatten()
    return torch.stack([starts, ends], dim=1)


class ThresholdSegmenter(Detector):
    """Marks the runs of a smoothed 1-D signal above a learnable threshold as segments."""

    name: ClassVar[str] = "threshold"
    geometry: ClassVar[type[Segments1D]] = Segments1D

    @attrs.frozen
    class Config:
        window: int = config_field(5, doc="moving-average window (odd)", validator=_odd_positive)
        init_threshold: float = config_field(0.5, doc="initial threshold")
        temperature: float = config_field(10.0, doc="sharpness of the sigmoid used by the loss")
        min_length: int = config_field(2, doc="drop segments shorter than this many samples")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.threshold = torch.nn.Parameter(torch.tensor(float(self.config.init_threshold)))

    def _smooth(self, signals: Any) -> torch.Tensor:
        # finite, non-empty float signals (B, T) of the model's dtype: validated before any work
        check_tensor(
            signals, "threshold: signals", ndim=2, non_empty=True, dtype=self.threshold.dtype
        )
        w = self.config.window
        kernel = torch.full((1, 1, w), 1.0 / w, dtype=signals.dtype)
        return F.conv1d(F.pad(signals[:, None], (w // 2, w // 2), mode="replicate"), kernel)[:, 0]

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        if not isinstance(batch, Mapping) or "inputs" not in batch or "masks" not in batch:
            raise InputError(
                f"threshold: expected a batch mapping with 'inputs' and 'masks', got "
                f"{type(batch).__name__}{'' if not isinstance(batch, Mapping) else sorted(batch)}"
            )
        smooth = self._smooth(batch["inputs"])
        masks = batch["masks"]
        if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool:
            raise InputError(
                f"threshold: masks: expected a bool tensor, got {type(masks).__name__} "
                f"{getattr(masks, 'dtype', '')}"
            )
        if masks.shape != smooth.shape:
            raise InputError(
                f"threshold: masks: expected shape {tuple(smooth.shape)} (one per signal "
                f"sample), got {tuple(masks.shape)}"
            )
        logits = self.config.temperature * (smooth - self.threshold)
        return {"bce": F.binary_cross_entropy_with_logits(logits, masks.float())}

    def predict(self, inputs: Any) -> list[Detections]:
        smooth = self._smooth(inputs)
        out = []
        for row in smooth:
            runs = _runs(row > self.threshold)
            runs = runs[(runs[:, 1] - runs[:, 0]) >= self.config.min_length]
            probs = torch.sigmoid(self.config.temperature * (row - self.threshold))
            scores = (
                torch.stack([probs[s:e].mean() for s, e in runs.tolist()])
                if len(runs)
                else torch.zeros(0)
            )
            out.append(
                Detections(
                    Segments1D(runs.float()),
                    scores.detach(),
                    torch.zeros(len(runs), dtype=torch.int64),
                )
            )
        return out

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        signals, masks = make_signals(batch_size, seed=seed)
        return {"inputs": signals, "masks": masks}

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """Train the threshold from a bad start (2.0) and report the frame F1 on held-out signals."""
        model = cls.from_config({"init_threshold": 2.0})
        optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
        for step in range(60):
            batch = cls.example_batch(16, seed=seed * 1000 + step)
            optimiser.zero_grad()
            sum(model.loss(batch).values()).backward()  # type: ignore[union-attr]
            optimiser.step()
        test = cls.example_batch(64, seed=seed * 1000 + 999)
        with torch.no_grad():
            found = torch.zeros_like(test["masks"])
            for b, det in enumerate(model.predict(test["inputs"])):
                for s, e in det.geometry.tensor.long().tolist():
                    found[b, s:e] = True
        tp = (found & test["masks"]).sum().item()
        f1 = 2 * tp / max(1, found.sum().item() + test["masks"].sum().item())
        return DemoResult(
            {"frame_F1": f1, "threshold": model.threshold.item()},
            summary=f"threshold learned 2.0 -> {model.threshold.item():.2f}, frame F1 {f1:.3f}",
        )


@xuframe.hookimpl
def xuframe_register(registry: xuframe.Registry) -> None:
    registry.add(ThresholdSegmenter)
