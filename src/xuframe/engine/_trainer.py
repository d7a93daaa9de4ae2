"""The Trainer: one small training loop for every component with a ``loss(batch)``.

It owns what every method needs and nothing paper-specific: optimiser and schedule,
deterministic data order, gradient clipping, evaluation every N steps, metrics log,
progress bar, atomic checkpoints with bit-identical resume, and DistributedDataParallel
when launched under ``torchrun``.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from xuframe._config import build_config
from xuframe._files import as_path
from xuframe.engine._checkpoint import load_checkpoint, save_checkpoint
from xuframe.engine._config import TrainerConfig
from xuframe.engine._distributed import DistContext
from xuframe.engine._metrics_log import MetricsLog
from xuframe.engine._optim import build_optimizer, build_scheduler
from xuframe.engine._seed import get_rng_state, seed_everything, seed_worker, set_rng_state
from xuframe.errors import CheckpointError, InputError, MissingExtraError, XuframeWarning

__all__ = ["Evaluator", "FitResult", "Trainable", "Trainer", "mean_losses"]


class Trainable(Protocol):
    """What the Trainer trains: a torch module with ``loss(batch) -> dict[str, Tensor]``."""

    def loss(self, batch: Any) -> dict[str, torch.Tensor]: ...


#: An evaluator: ``(model, eval_loader) -> {metric: value}``; runs in eval mode without grad.
Evaluator = Callable[[nn.Module, Iterable[Any]], Mapping[str, float]]


def mean_losses(model: nn.Module, loader: Iterable[Any]) -> dict[str, float]:
    """The default evaluator: every loss term (and their sum) averaged over the batches."""
    totals: dict[str, float] = {}
    batches = 0
    for batch in loader:
        losses = model.loss(batch)  # type: ignore[operator]
        for key, value in losses.items():
            totals[f"loss/{key}"] = totals.get(f"loss/{key}", 0.0) + float(value)
        totals["loss"] = totals.get("loss", 0.0) + float(sum(float(v) for v in losses.values()))
        batches += 1
    return {k: v / max(batches, 1) for k, v in totals.items()}


@attrs.frozen
class FitResult:
    """What :meth:`Trainer.fit` did."""

    steps: int
    epochs: float
    train_metrics: dict[str, float]
    eval_metrics: dict[str, float]
    seconds: float
    run_dir: Path | None
    checkpoint: Path | None


class _LossModule(nn.Module):
    """Routes ``forward`` to ``loss``, so DistributedDataParallel sees the loss computation."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        losses: dict[str, torch.Tensor] = self.model.loss(batch)  # type: ignore[operator]
        return losses


def _non_finite_entries(state: Any, prefix: str = "") -> list[str]:
    """The dotted keys of the floating tensors in ``state`` (nested mappings and sequences, as a
    ``state_dict``) that hold NaN or inf."""
    if isinstance(state, torch.Tensor):
        finite = not state.is_floating_point() or bool(torch.isfinite(state).all())
        return [] if finite else [prefix or "the tensor"]
    if isinstance(state, Mapping):
        items: Iterable[tuple[Any, Any]] = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return []
    found: list[str] = []
    for key, value in items:
        found += _non_finite_entries(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def _non_finite_checkpoint(payload: Mapping[str, Any]) -> list[str]:
    return _non_finite_entries(
        {"model": payload.get("model"), "optimizer": payload.get("optimizer")}
    )


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    if hasattr(batch, "to") and callable(batch.to):
        return batch.to(device)
    return batch


class _OnDevice:
    """Re-iterable view of a loader whose batches are moved to ``device`` as they are read."""

    def __init__(self, batches: Iterable[Any], device: torch.device) -> None:
        self.batches, self.device = batches, device

    def __iter__(self) -> Iterator[Any]:
        return (_to_device(b, self.device) for b in self.batches)


def _resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(
            f"trainer: expected device cpu, cuda, cuda:N or auto, got {name!r}"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"trainer: device {name!r} asked for, but CUDA is not available")
    return device


class Trainer:
    """Trains ``model`` (any ``nn.Module`` with ``loss(batch)``) as ``config`` says.

    ``run_dir``, when given, receives ``metrics.jsonl``, ``checkpoints/step-N.pt`` and
    ``plots/metrics.png``; under torchrun only rank 0 writes. ``evaluators`` run every
    ``eval_every`` steps and at the end, on rank 0, in eval mode without grad; the default
    is :func:`mean_losses`.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainerConfig | Mapping[str, Any] | None = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
        evaluators: Sequence[Evaluator] = (mean_losses,),
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module) or not callable(getattr(model, "loss", None)):
            raise InputError(
                f"trainer: expected a torch.nn.Module with a loss(batch) method, got {type(model).__name__}"
            )
        self.model = model
        self.config: TrainerConfig = build_config(TrainerConfig, config, owner="trainer")
        self.run_dir = as_path(run_dir, "a run folder") if run_dir is not None else None
        given: Any = evaluators  # checked: callers pass anything
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
            raise InputError(
                "trainer: evaluators: expected a sequence of callables (model, loader) -> "
                f"metrics, got {type(evaluators).__name__}"
            )
        for k, evaluator in enumerate(evaluators):
            if not callable(evaluator):
                raise InputError(
                    f"trainer: evaluators[{k}]: expected a callable (model, loader) -> metrics, "
                    f"got {type(evaluator).__name__}"
                )
        self.evaluators = list(evaluators)
        if run_config is not None and not isinstance(run_config, Mapping):
            raise InputError(
                f"trainer: run_config: expected a mapping, got {type(run_config).__name__}"
            )
        self.run_config = dict(run_config or {})
        #: Optimiser steps taken so far.
        self.step = 0
        #: Every row logged so far (train and eval), as written to metrics.jsonl.
        self.history: list[dict[str, Any]] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._dist = DistContext()

    # -- data ------------------------------------------------------------------------------
    def _per_process_batch(self) -> int:
        world = self._dist.world_size
        if self.config.batch_size % world:
            raise InputError(
                f"trainer: batch_size {self.config.batch_size} is the global batch and must split "
                f"evenly over {world} processes"
            )
        return self.config.batch_size // world

    def _train_loader(self, data: Any, epoch: int) -> DataLoader[Any]:
        """The loader of one epoch. Its order depends only on (seed, epoch, rank): resumable."""
        dataset, collate = (
            (data.dataset, data.collate_fn) if isinstance(data, DataLoader) else (data, None)
        )
        sampler: DistributedSampler[Any] = DistributedSampler(
            dataset,
            num_replicas=self._dist.world_size,
            rank=self._dist.rank,
            shuffle=self.config.shuffle,
            seed=self.config.seed,
            drop_last=self.config.drop_last,
        )
        sampler.set_epoch(epoch)
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        return DataLoader(
            dataset,
            batch_size=self._per_process_batch(),
            sampler=sampler,
            drop_last=self.config.drop_last,
            num_workers=self.config.num_workers,
            collate_fn=collate,
            worker_init_fn=seed_worker,
            generator=generator,
        )

    def _eval_loader(self, data: Any) -> Iterable[Any]:
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, Dataset):
            return DataLoader(data, batch_size=self._per_process_batch(), shuffle=False)
        batches: Iterable[Any] = data  # an iterable of batches
        return batches

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: model, optimiser, schedule, RNG, step, config."""
        assert self.optimizer is not None and self.scheduler is not None
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": get_rng_state(),
            "trainer_config": attrs.asdict(self.config),
            "run_config": self.run_config,
            "world_size": self._dist.world_size,
        }

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Write a checkpoint (rank 0 only) to ``path`` or ``run_dir/checkpoints/step-N.pt``.

        Raises :class:`~xuframe.errors.InputError`, writing nothing, when the model's weights or
        the optimiser's state hold NaN or inf: a saved state is always one training can go on from.
        """
        state = self.state_dict()
        bad = _non_finite_entries({"model": state["model"], "optimizer": state["optimizer"]})
        if bad:
            raise InputError(
                f"trainer: no checkpoint written at step {self.step}: the state holds NaN or inf "
                f"in {', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}"
            )
        if not self._dist.is_main:
            return None
        if path is None:
            if self.run_dir is None:
                raise InputError("trainer: save_checkpoint needs a path or a run_dir")
            path = self.run_dir / "checkpoints" / f"step-{self.step:08d}.pt"
        return save_checkpoint(path, state)

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint of ``run_dir`` with the highest step, if any."""
        if self.run_dir is None:
            return None
        found = sorted((self.run_dir / "checkpoints").glob("step-*.pt"))
        return found[-1] if found else None

    def _latest_finite_checkpoint(self) -> Path | None:
        """The checkpoint of ``run_dir`` with the highest step whose state is finite; newer ones
        holding NaN or inf (written by an older xuframe or by hand) are skipped with a warning."""
        if self.run_dir is None:
            return None
        for path in sorted((self.run_dir / "checkpoints").glob("step-*.pt"), reverse=True):
            bad = _non_finite_checkpoint(load_checkpoint(path))
            if not bad:
                return path
            warnings.warn(
                f"resume: skipped {path}: it holds NaN or inf in {', '.join(bad[:4])}",
                XuframeWarning,
                stacklevel=4,
            )
        return None

    def _restore(self, path: Path) -> dict[str, Any]:
        payload = load_checkpoint(path)
        bad = _non_finite_checkpoint(payload)
        if bad:
            raise CheckpointError(
                f"{path}: cannot resume from it: it holds NaN or inf in {', '.join(bad[:4])}"
                f"{', ...' if len(bad) > 4 else ''}"
            )
        assert self.optimizer is not None and self.scheduler is not None
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{path}: does not fit this model and trainer: {exc}") from exc
        self.step = int(payload["step"])
        rng: dict[str, Any] = payload["rng"]
        return rng

    def _check_gradients(self, loss: float) -> None:
        """Refuse a step whose gradients hold NaN or inf (a finite loss can have them, e.g.
        ``sqrt`` at 0): the step is not taken, so the weights stay finite."""
        bad = [
            name
            for name, p in self.model.named_parameters()
            if p.grad is not None and not bool(torch.isfinite(p.grad).all())
        ]
        if bad:
            raise InputError(
                f"trainer: the gradient became NaN or inf at step {self.step + 1} (loss {loss:.4g}) "
                f"in {', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}; the step was not taken"
            )

    # -- the loop --------------------------------------------------------------------------
    def _log(self, row: dict[str, Any], log: MetricsLog | None) -> None:
        self.history.append(row)
        if log is not None:
            log.write(row)

    def evaluate(self, data: Any) -> dict[str, float]:
        """Run every evaluator on ``data`` (a Dataset, DataLoader or iterable of batches)."""
        model = self.model
        was_training = model.training
        model.eval()
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        loader = _OnDevice(self._eval_loader(data), device)
        metrics: dict[str, float] = {}
        try:
            with torch.no_grad():
                for evaluator in self.evaluators:
                    metrics.update({k: float(v) for k, v in evaluator(model, loader).items()})
        finally:
            model.train(was_training)
        return metrics

    def fit(
        self,
        train_data: Dataset[Any] | DataLoader[Any] | Sequence[Any],
        eval_data: Any = None,
        *,
        resume: bool | str | os.PathLike[str] = False,
    ) -> FitResult:
        """Train on ``train_data``: a map-style dataset (a torch Dataset or a list of samples), or a
        DataLoader whose dataset and collate function are used (the Trainer makes the sampler).

        ``resume=True`` continues from the latest checkpoint in ``run_dir`` (if there is one)
        whose state is finite, skipping newer ones that hold NaN or inf with a warning; a path
        continues from that checkpoint (:class:`~xuframe.errors.CheckpointError` when it holds
        NaN or inf). A non-finite loss, or a finite loss with a NaN or inf gradient, raises
        :class:`~xuframe.errors.InputError` before the optimiser step, so neither the model nor
        a checkpoint ever holds NaN weights. Resuming on the CPU ends bit-identical to a run
        that was never interrupted.
        """
        cfg = self.config
        start = time.perf_counter()
        device = _resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        self._dist = DistContext.from_env(device)
        try:
            return self._fit(train_data, eval_data, resume, device, start)
        finally:
            self._dist.close()

    def _fit(
        self, train_data: Any, eval_data: Any, resume: Any, device: torch.device, start: float
    ) -> FitResult:
        cfg, dist = self.config, self._dist
        map_style = hasattr(train_data, "__len__") and hasattr(train_data, "__getitem__")
        if not (isinstance(train_data, DataLoader) or map_style):
            raise InputError(
                "trainer: expected train data as a map-style dataset (a torch Dataset, or anything with "
                f"__len__ and __getitem__) or a DataLoader, got {type(train_data).__name__}"
            )
        self.model.to(device)
        wrapped: nn.Module = _LossModule(self.model)
        if dist.enabled:
            wrapped = nn.parallel.DistributedDataParallel(
                wrapped,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )
        steps_per_epoch = len(self._train_loader(train_data, 0))
        if steps_per_epoch == 0:
            raise InputError(
                f"trainer: the training data gives no full batch of {cfg.batch_size} "
                f"(set drop_last=false or a smaller batch_size)"
            )
        total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise InputError("trainer: the model has no parameter that requires grad")
        self.optimizer = build_optimizer(params, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, total)
        log = (
            MetricsLog(self.run_dir / "metrics.jsonl")
            if self.run_dir is not None and dist.is_main
            else None
        )

        pending_rng: dict[str, Any] | None = None
        if not isinstance(resume, (bool, str, os.PathLike)):
            raise InputError(
                f"trainer: resume: expected True, False or a checkpoint path, got "
                f"{type(resume).__name__} {resume!r}"
            )
        checkpoint = (
            self._latest_finite_checkpoint()
            if resume is True
            else (as_path(resume, "a checkpoint to resume from") if resume else None)
        )
        if checkpoint is not None:
            pending_rng = self._restore(checkpoint)
            if log is not None:
                log.truncate_after(self.step)
        else:
            self.step = 0
            seed_everything(cfg.seed)
            if log is not None and log.path.exists():
                log.path.unlink()  # a fresh run in a used folder starts a fresh log

        from tqdm.auto import tqdm

        bar = tqdm(
            total=total,
            initial=self.step,
            desc="train",
            unit="step",
            disable=(None if cfg.progress else True) if dist.is_main else True,
            dynamic_ncols=True,
        )
        train_metrics: dict[str, float] = {}
        eval_metrics: dict[str, float] = {}
        last_checkpoint: Path | None = None
        wrapped.train()
        try:
            while self.step < total:
                epoch, within = divmod(self.step, steps_per_epoch)
                batches = iter(self._train_loader(train_data, epoch))
                for _ in itertools.islice(batches, within):  # resume mid-epoch: same data order
                    pass
                if pending_rng is not None:  # after the skipped batches drew from the RNGs
                    set_rng_state(pending_rng)
                    pending_rng = None
                for batch in itertools.islice(batches, steps_per_epoch - within):
                    losses = wrapped(_to_device(batch, device))
                    loss = torch.stack([v for v in losses.values()]).sum()
                    if not bool(torch.isfinite(loss)):
                        raise InputError(
                            f"trainer: the loss became {loss.item()} at step {self.step + 1} "
                            f"({', '.join(f'{k}={v.item():.4g}' for k, v in losses.items())})"
                        )
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()  # type: ignore[no-untyped-call]
                    self._check_gradients(float(loss.item()))
                    grad_norm = (
                        float(nn.utils.clip_grad_norm_(params, cfg.grad_clip))
                        if cfg.grad_clip
                        else None
                    )
                    lr = float(self.optimizer.param_groups[0]["lr"])  # the rate this step used
                    self.optimizer.step()
                    self.scheduler.step()
                    self.step += 1
                    bar.update(1)
                    if self.step % cfg.log_every == 0 or self.step == total:
                        values = {
                            "loss": loss.item(),
                            **{f"loss/{k}": v.item() for k, v in losses.items()},
                        }
                        if grad_norm is not None:
                            values["grad_norm"] = grad_norm
                        train_metrics = dist.mean(values)
                        row = {
                            "step": self.step,
                            "epoch": self.step / steps_per_epoch,
                            "lr": lr,
                            **train_metrics,
                            "time": time.perf_counter() - start,
                        }
                        bar.set_postfix(loss=f"{train_metrics['loss']:.4g}", refresh=False)
                        if dist.is_main:
                            self._log(row, log)
                    at_end = self.step == total
                    if eval_data is not None and (
                        at_end or (cfg.eval_every and self.step % cfg.eval_every == 0)
                    ):
                        if dist.is_main:
                            eval_metrics = self.evaluate(eval_data)
                            self._log(
                                {
                                    "step": self.step,
                                    **{f"eval/{k}": v for k, v in eval_metrics.items()},
                                },
                                log,
                            )
                        eval_metrics = dist.broadcast(eval_metrics)  # every rank returns the same
                    if self.run_dir is not None and (
                        at_end or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
                    ):
                        last_checkpoint = self.save_checkpoint() or last_checkpoint
                    if at_end:
                        break
        finally:
            bar.close()
            if log is not None:
                log.close()
        if self.run_dir is not None and dist.is_main and cfg.plot and self.history:
            self._plot()
        return FitResult(
            steps=self.step,
            epochs=self.step / steps_per_epoch,
            train_metrics=train_metrics,
            eval_metrics=eval_metrics,
            seconds=time.perf_counter() - start,
            run_dir=self.run_dir,
            checkpoint=last_checkpoint,
        )

    def _plot(self) -> None:
        from xuframe.engine._plot import plot_metrics

        assert self.run_dir is not None
        try:
            plot_metrics(self.run_dir)
        except (InputError, MissingExtraError) as exc:  # training succeeded: say why no plot
            warnings.warn(f"no plot written: {exc}", XuframeWarning, stacklevel=3)
