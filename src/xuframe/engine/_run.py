"""Runs described in TOML files: ``xuframe train RUN.toml`` and ``xuframe eval RUN.toml``.

A run file names the component, its config, the trainer config and the data::

    run_dir = "runs/threshold"          # optional; --run-dir overrides

    [component]
    kind = "detector"
    name = "threshold"
    args = []                           # optional: "module:callable" giving constructor arguments
    # factory = "module:callable"       # instead of kind/name: returns the model, gets `config`

    [component.config]
    window = 5

    [trainer]                           # TrainerConfig fields
    max_steps = 200
    lr = 0.1

    [data]
    train = "my_data:make_dataset"      # "module:callable" returning a torch Dataset
    eval = "my_data:make_dataset"       # optional
    args = { length = 64 }              # keyword arguments for both
    eval_args = { seed = 1 }            # extra ones for eval (train_args likewise)

    [eval]
    metrics = ["my_data:accuracy"]      # optional evaluators, besides the mean losses

``module:callable`` names are imported with the run file's folder first on ``sys.path``.
Unknown keys anywhere are rejected with their dotted path.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import os
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
from torch import nn

from xuframe._config import build_config, check_config_value
from xuframe._files import as_path, read_text
from xuframe.engine._checkpoint import load_checkpoint
from xuframe.engine._config import TrainerConfig
from xuframe.engine._trainer import Evaluator, FitResult, Trainer, mean_losses
from xuframe.errors import CheckpointError, ConfigError, InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RunFile", "evaluate_run", "load_run", "train_run"]

_SCHEMA: dict[str, set[str] | None] = {
    "run_dir": None,
    "component": {"kind", "name", "config", "args", "factory"},
    "trainer": None,  # checked against TrainerConfig
    "data": {"train", "eval", "args", "train_args", "eval_args"},
    "eval": {"metrics"},
}


def _unknown(source: Path, path: str, key: str, allowed: set[str]) -> ConfigError:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f" Did you mean {path + close[0]!r}?" if close else ""
    return ConfigError(
        f"{source}: unknown key {path + key!r}.{hint} Expected one of: {', '.join(sorted(allowed))}."
    )


@attrs.frozen
class RunFile:
    """A parsed, key-checked run file (see the module docs for the layout)."""

    source: Path
    values: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        value = self.values.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self.source}: {name!r} must be a table ([{name}]), got {type(value).__name__}"
            )
        return value


def load_run(path: str | os.PathLike[str]) -> RunFile:
    """Read and check a run file; ConfigError names the file and the key's dotted path."""
    try:
        source = as_path(path, "a run file (TOML)")
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if not source.exists():
        raise ConfigError(f"no run file at {source}")
    try:
        values = tomllib.loads(read_text(source, "a run file (TOML)"))
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    for key, value in values.items():
        if key not in _SCHEMA:
            raise _unknown(source, "", key, set(_SCHEMA))
        allowed = _SCHEMA[key]
        if allowed is not None:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key!r} must be a table ([{key}])")
            for sub in value:
                if sub not in allowed:
                    raise _unknown(source, f"{key}.", sub, allowed)
    run = RunFile(source, values)
    _check_layout(run)
    build_config(TrainerConfig, run.section("trainer"), owner=str(source), prefix="trainer.")
    component = run.section("component")
    if "factory" not in component and not {"kind", "name"} <= set(component):
        raise ConfigError(f"{source}: [component] needs kind and name, or factory")
    if "train" not in run.section("data"):
        raise ConfigError(f'{source}: [data] needs train = "module:callable"')
    return run


def _check_layout(run: RunFile) -> None:
    """The type of every value whose type the layout fixes (tables, strings, lists)."""
    where = run.source

    def expect(value: Any, path: str, kind: type, text: str) -> None:
        if not isinstance(value, kind):
            raise ConfigError(
                f"{where}: {path} must be {text}, got {value!r} ({type(value).__name__})"
            )

    if "run_dir" in run.values:
        expect(run.values["run_dir"], "run_dir", str, "a folder path (a string)")
    component = run.section("component")
    for key in ("kind", "name"):
        if key in component:
            expect(component[key], f"component.{key}", str, "a string")
    expect(component.get("config", {}), "component.config", dict, "a table")
    expect(component.get("args", []), "component.args", list, 'a list of "module:callable"')
    data = run.section("data")
    for key in ("args", "train_args", "eval_args"):
        expect(data.get(key, {}), f"data.{key}", dict, "a table of keyword arguments")
    expect(
        run.section("eval").get("metrics", []), "eval.metrics", list, 'a list of "module:callable"'
    )


def _call(run: RunFile, where: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """``fn(**kwargs)`` after checking that ``fn`` takes these keywords, and that each value
    has the type ``fn``'s annotation gives (numbers finite), so a wrong key or value in the run
    file is a ConfigError naming it, not a TypeError from inside ``fn``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable inspect cannot read: call it as it is
        return fn(**kwargs)
    params = signature.parameters
    name = getattr(fn, "__name__", type(fn).__name__)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in named and not takes_any:
            close = difflib.get_close_matches(key, named, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{run.source}: {where}: {name}() takes no keyword {key!r}.{hint} "
                f"It takes: {', '.join(named) or 'none'}."
            )
    missing = [
        n
        for n, p in params.items()
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and n not in kwargs
    ]
    if missing:
        raise ConfigError(
            f"{run.source}: {where}: {name}() needs {', '.join(missing)}, "
            "which the run file does not give"
        )
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations (a forward reference...): check names only
        hints = {}
    checked = {
        key: check_config_value(value, hints[key], f"{run.source}: {where}: keyword {key!r}")
        if key in hints
        else value
        for key, value in kwargs.items()
    }
    return fn(**checked)


@contextlib.contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _resolve(run: RunFile, where: str, target: Any) -> Any:
    if not isinstance(target, str) or ":" not in target:
        raise ConfigError(f'{run.source}: {where} must be "module:callable", got {target!r}')
    module_name, _, attribute = target.partition(":")
    try:
        with _importable_from(run.source.resolve().parent):
            obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{run.source}: {where}: cannot load {target!r}: {exc}") from exc
    if not callable(obj):
        raise ConfigError(f"{run.source}: {where}: {target!r} is not callable")
    return obj


def build_model(run: RunFile) -> nn.Module:
    """The component the run file describes, with its config validated."""
    import xuframe

    section = run.section("component")
    config = section.get("config", {})
    if "factory" in section:
        factory = _resolve(run, "component.factory", section["factory"])
        model = _call(run, "component.config", factory, config)
    else:
        cls = xuframe.get_component_class(section["kind"], section["name"])
        validated = build_config(
            cls.Config,
            config,
            owner=f"{run.source}: {cls.kind} {cls.name!r}",
            prefix="component.config.",
        )
        args = [
            _resolve(run, f"component.args[{i}]", a)()
            for i, a in enumerate(section.get("args", []))
        ]
        model = cls.from_config(validated, *args)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"{run.source}: [component] must give a torch.nn.Module, got {type(model).__name__}"
        )
    return model


def _dataset(run: RunFile, which: str) -> Any:
    data = run.section("data")
    if which not in data:
        return None
    kwargs = {**data.get("args", {}), **data.get(f"{which}_args", {})}
    return _call(run, f"data.{which}", _resolve(run, f"data.{which}", data[which]), kwargs)


def _evaluators(run: RunFile) -> list[Evaluator]:
    names = run.section("eval").get("metrics", [])
    return [mean_losses, *(_resolve(run, f"eval.metrics[{i}]", n) for i, n in enumerate(names))]


def _run_dir(run: RunFile, run_dir: str | os.PathLike[str] | None) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    return Path(run.values.get("run_dir", Path("runs") / run.source.stem))


def train_run(
    path: str | os.PathLike[str],
    *,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> FitResult:
    """Train what the run file describes; seeds everything from ``trainer.seed`` first."""
    from xuframe.engine._seed import seed_everything

    run = load_run(path)
    trainer_config = build_config(
        TrainerConfig, run.section("trainer"), owner=str(run.source), prefix="trainer."
    )
    seed_everything(trainer_config.seed)  # model initialisation is part of the run
    model = build_model(run)
    trainer = Trainer(
        model,
        trainer_config,
        run_dir=_run_dir(run, run_dir),
        evaluators=_evaluators(run),
        run_config=run.values,
    )
    return trainer.fit(_dataset(run, "train"), _dataset(run, "eval"), resume=resume)


def evaluate_run(
    path: str | os.PathLike[str], checkpoint: str | os.PathLike[str]
) -> dict[str, float]:
    """Evaluate the run file's model with the weights of ``checkpoint`` on its eval data (else train data)."""
    run = load_run(path)
    model = build_model(run)
    payload = load_checkpoint(checkpoint)
    try:
        model.load_state_dict(payload["model"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"{checkpoint}: does not fit the model of {run.source}: {exc}"
        ) from exc
    trainer_config = build_config(
        TrainerConfig, run.section("trainer"), owner=str(run.source), prefix="trainer."
    )
    trainer = Trainer(model, trainer_config, evaluators=_evaluators(run))
    data = _dataset(run, "eval")
    return trainer.evaluate(data if data is not None else _dataset(run, "train"))
