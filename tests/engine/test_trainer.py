from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from components import RegressionData, Regressor, SoftTargetDistiller, mean_abs_error
from torch import nn

from xuframe.engine import (
    Trainer,
    TrainerConfig,
    load_checkpoint,
    mean_losses,
    read_metrics,
    save_checkpoint,
    seed_everything,
)
from xuframe.engine._optim import build_optimizer, build_scheduler, lr_factor
from xuframe.engine._seed import get_rng_state, set_rng_state
from xuframe.errors import CheckpointError, ConfigError, InputError

FAST = {"progress": False, "plot": False}


def test_training_reduces_the_loss_and_logs_everything(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(
        Regressor(),
        {
            "max_steps": 60,
            "batch_size": 16,
            "lr": 0.01,
            "eval_every": 20,
            "schedule": "cosine",
            "warmup_steps": 5,
            "progress": False,
        },
        run_dir=tmp_path,
        evaluators=[mean_losses, mean_abs_error],
    )
    result = trainer.fit(RegressionData(64), RegressionData(32, seed=1))
    rows = read_metrics(tmp_path)
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "eval/mae" in r]
    assert result.steps == 60 and result.epochs == 15
    assert train[-1]["loss"] < 0.5 * train[0]["loss"]
    assert [r["step"] for r in evals] == [20, 40, 60]
    assert evals[-1]["eval/mae"] < evals[0]["eval/mae"]
    assert result.eval_metrics["mae"] == evals[-1]["eval/mae"]
    assert {"lr", "epoch", "time", "loss/mse", "loss/l1"} <= set(train[0])
    assert train[0]["lr"] == pytest.approx(0.01 / 5)  # warm-up
    assert (tmp_path / "plots" / "metrics.png").stat().st_size > 10_000
    assert result.checkpoint == tmp_path / "checkpoints" / "step-00000060.pt"


def _train(run_dir, config, crash_at=None, resume=False, monkeypatch=None):
    seed_everything(0)
    model = Regressor(dropout=0.2)
    trainer = Trainer(model, {**config, **FAST}, run_dir=run_dir)
    if crash_at is not None:
        original = Trainer.save_checkpoint

        def crash_after_saving(self, path=None):
            out = original(self, path)
            if self.step == crash_at:
                raise KeyboardInterrupt("simulated crash")
            return out

        monkeypatch.setattr(Trainer, "save_checkpoint", crash_after_saving)
    data = RegressionData(
        40, augment=True
    )  # reads draw from the global RNG: resume must restore it
    trainer.fit(data, RegressionData(16, seed=1), resume=resume)
    return model


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, monkeypatch):
    config = {
        "max_steps": 23,
        "batch_size": 8,  # 5 steps per epoch: the crash at step 12 is mid-epoch
        "lr": 0.02,
        "schedule": "cosine",
        "warmup_steps": 3,
        "grad_clip": 1.0,
        "checkpoint_every": 6,
        "eval_every": 6,
    }
    straight = _train(tmp_path / "a", config)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", config, crash_at=12, monkeypatch=monkeypatch)
    monkeypatch.undo()
    assert (tmp_path / "b" / "checkpoints" / "step-00000012.pt").exists()
    resumed = _train(tmp_path / "b", config, resume=True)
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]  # noqa: E731
    assert drop_time(read_metrics(tmp_path / "a")) == drop_time(read_metrics(tmp_path / "b"))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"step": 1, "weights": torch.ones(3)})

    def dies_mid_write(obj, handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr("xuframe.engine._checkpoint.torch.save", dies_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1  # the old checkpoint survived whole
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left


def test_bad_checkpoint_files_give_clear_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", {"step": 3, "weights": torch.randn(1000)})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "state_dict.pt"
    torch.save(nn.Linear(2, 2).state_dict(), foreign)
    with pytest.raises(CheckpointError, match="not a xuframe checkpoint"):
        load_checkpoint(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(
        CheckpointError,
        match="is not a xuframe checkpoint.*: it is a text file \\(5 bytes\\) starting 'hello'",
    ):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


class _Payload:
    """An arbitrary object: unpickling it would run code, weights_only must refuse."""


def test_loading_refuses_arbitrary_objects(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "xuframe-checkpoint", "version": 1, "obj": _Payload()}, evil)
    with pytest.raises(CheckpointError, match="refused to load.*weights_only=True"):
        load_checkpoint(evil)


def test_a_checkpoint_from_another_model_is_rejected(tmp_path):
    Trainer(Regressor(), {"max_steps": 2, "batch_size": 8, **FAST}, run_dir=tmp_path).fit(
        RegressionData(16)
    )
    other = nn.Linear(4, 1)
    other.loss = lambda batch: {"mse": other(batch["x"]).pow(2).mean()}  # type: ignore[method-assign]
    trainer = Trainer(other, {"max_steps": 4, "batch_size": 8, **FAST}, run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        trainer.fit(RegressionData(16), resume=True)


def test_config_and_input_errors():
    with pytest.raises(ConfigError, match="unknown config key 'lrr'. Did you mean 'lr'"):
        Trainer(Regressor(), {"lrr": 0.1})
    with pytest.raises(ConfigError, match="'schedule' expects Literal"):
        Trainer(Regressor(), {"schedule": "linear"})
    with pytest.raises(ConfigError, match="batch_size must be > 0"):
        TrainerConfig(batch_size=0)
    with pytest.raises(InputError, match="loss\\(batch\\) method"):
        Trainer(nn.Linear(2, 2))
    with pytest.raises(InputError, match="no full batch of 32"):
        Trainer(Regressor(), {"batch_size": 32, **FAST}).fit(RegressionData(16))
    with pytest.raises(InputError, match="map-style dataset"):
        Trainer(Regressor(), FAST).fit(iter([{"x": torch.zeros(4)}]))


def test_a_diverging_loss_stops_with_a_clear_error():
    model = Regressor()
    with torch.no_grad():
        model.net[0].weight.fill_(float("nan"))
    with pytest.raises(InputError, match="the loss became nan at step 1"):
        Trainer(model, {"max_steps": 3, "batch_size": 8, **FAST}).fit(RegressionData(16))


def test_schedules():
    cfg = TrainerConfig(warmup_steps=4, schedule="cosine", min_lr_ratio=0.1)
    assert [lr_factor(s, cfg, 104) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, cfg, 104) == pytest.approx(1.0)
    assert lr_factor(104, cfg, 104) == pytest.approx(0.1)
    assert lr_factor(54, cfg, 104) == pytest.approx(0.55)
    step = TrainerConfig(schedule="step", step_size=10, gamma=0.5)
    assert [lr_factor(s, step, 100) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    one = TrainerConfig(schedule="one-cycle", lr=0.2, optimizer="sgd")
    opt = build_optimizer(nn.Linear(1, 1).parameters(), one)
    sched = build_scheduler(opt, one, 100)
    lrs = []
    for _ in range(100):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert max(lrs) == pytest.approx(0.2, rel=1e-3) and lrs[-1] < 1e-3


def test_seed_everything_and_rng_state_round_trip():
    seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    state = get_rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_workers_are_seeded_deterministically():
    def run():
        seed_everything(0)
        model = Regressor(dropout=0.0)
        cfg = {"max_steps": 6, "batch_size": 8, "num_workers": 2, **FAST}
        Trainer(model, cfg).fit(RegressionData(32, augment=True))
        return model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_distillers_train_through_the_trainer():
    teacher, student, _ = SoftTargetDistiller.example()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    distiller = SoftTargetDistiller(teacher, student)
    data = [{"inputs": x} for x in torch.randn(32, 6)]
    dataset = torch.utils.data.TensorDataset(torch.randn(32, 6))
    collate = lambda items: {"inputs": torch.stack([i[0] for i in items])}  # noqa: E731
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, collate_fn=collate)
    result = Trainer(distiller, {"max_steps": 8, "batch_size": 8, "lr": 0.05, **FAST}).fit(loader)
    assert result.steps == 8 and len(data) == 32
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # frozen
    assert distiller.teacher_queries == 8 * 8


def test_metrics_log_is_jsonl(tmp_path):
    Trainer(
        Regressor(), {"max_steps": 3, "batch_size": 8, "log_every": 2, **FAST}, run_dir=tmp_path
    ).fit(RegressionData(16))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 3]
    assert all(math.isfinite(json.loads(line)["loss"]) for line in lines)
