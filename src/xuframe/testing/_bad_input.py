"""The bad-input sweep: feed a component's public entry points a table of bad values.

Every case calls one entry point (``predict``, ``loss``, ``sample``, ``bounds``, ``solve``,
``from_config``, ...) with one bad value put into the component's own example input, inside a
time and memory bound, and judges what came out:

* ``"raise"`` cases (``None``, a string, NaN, inf, complex or boolean data, a wrong number of
  dimensions, labels that are floats, negative or out of range, a NaN config value) must raise
  an :class:`~xuframe.errors.XuframeError`;
* ``"any"`` cases (float64 instead of float32, an empty batch, huge values, a missing key)
  may raise an :class:`~xuframe.errors.XuframeError` or return a result without NaN or inf;
* ``"ok"`` cases (numpy scalars where Python numbers are accepted) must work.

Anything else fails the case: another exception class, a NaN result, running past the time
bound, or asking for more memory than the bound (``XUFRAME_MAX_BYTES`` is set low for the
sweep, and on Linux the address space is capped a few GiB above what the process holds).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from xuframe._config import _field_types
from xuframe._registry import interface_of
from xuframe.errors import ConformanceError, XuframeError
from xuframe.interfaces import Detector, Distiller, Generator, Solver, Verifier

__all__ = [
    "BadInputCase",
    "bad_input_cases",
    "bounded",
    "check_rejects_bad_input",
    "judge",
    "SWEEP_MAX_BYTES",
    "SWEEP_SECONDS",
]

#: ``XUFRAME_MAX_BYTES`` during the sweep: work needing more must be refused up front.
SWEEP_MAX_BYTES = 256 << 20
#: How far above its current address space the process may grow during one case (Linux).
SWEEP_HEADROOM_BYTES = 3 << 30
#: The time bound of one case, in seconds.
SWEEP_SECONDS = 10.0

#: Keys whose integer values are class labels (a float, negative or huge value is an error).
_LABEL_KEYS = frozenset({"labels", "label", "y", "targets"})


@attrs.frozen
class BadInputCase:
    """One bad value for one entry point: ``call()`` builds the input and calls the entry point."""

    entry: str
    what: str
    call: Callable[[], Any]
    expect: str  # "raise", "any" or "ok"

    @property
    def label(self) -> str:
        return f"{self.entry}: {self.what}"


class _Timeout(BaseException):
    """Raised by the alarm when a case runs past its time bound (a BaseException, so a plugin's
    ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def bounded(
    seconds: float = SWEEP_SECONDS,
    *,
    max_bytes: int = SWEEP_MAX_BYTES,
    headroom: int = SWEEP_HEADROOM_BYTES,
) -> Iterator[None]:
    """Run the body with ``XUFRAME_MAX_BYTES=max_bytes``, and on Linux in the main thread with
    an alarm after ``seconds`` (raising ``_Timeout``) and the address space capped at
    ``headroom`` bytes above the current one (an allocation beyond it fails instead of
    swapping the machine). Everything is restored on exit."""
    old_env = os.environ.get("XUFRAME_MAX_BYTES")
    os.environ["XUFRAME_MAX_BYTES"] = str(max_bytes)
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    old_handler: Any = None
    old_limit: tuple[int, int] | None = None
    try:
        if main:

            def _alarm(signum: int, frame: Any) -> None:
                raise _Timeout

            old_handler = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
        old_limit = _cap_address_space(headroom)
        yield
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
        if old_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, old_limit)
        if old_env is None:
            os.environ.pop("XUFRAME_MAX_BYTES", None)
        else:
            os.environ["XUFRAME_MAX_BYTES"] = old_env


def _cap_address_space(headroom: int) -> tuple[int, int] | None:
    try:
        import resource

        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        old = resource.getrlimit(resource.RLIMIT_AS)
        cap = current + headroom
        if old[1] != resource.RLIM_INFINITY:
            cap = min(cap, old[1])
        resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
        return old
    except (ImportError, OSError, ValueError):
        return None


def _non_finite(value: Any, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() and not bool(torch.isfinite(value).all())
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f" and not bool(np.isfinite(value).all())
    if isinstance(value, float):  # a plain number may be inf on purpose (a norm), never NaN
        return math.isnan(value)
    if isinstance(value, Mapping):
        return any(_non_finite(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v, depth + 1) for v in value[:64])
    if attrs.has(type(value)):
        return any(
            _non_finite(getattr(value, f.name), depth + 1) for f in attrs.fields(type(value))
        )
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 160 else line[:157] + "..."


def judge(case: BadInputCase, seconds: float = SWEEP_SECONDS) -> str | None:
    """Run ``case`` within the bounds; ``None`` when what came out keeps the promise, else
    what came out (e.g. ``"TypeError: ..."``, ``"returned NaN or inf"``)."""
    start = time.perf_counter()
    try:
        with bounded(seconds):
            result = case.call()
    except _Timeout:
        return f"did not finish within {seconds:g} s"
    except XuframeError as exc:
        if case.expect == "ok":
            return f"{type(exc).__name__}: {_first_line(exc)}"
        return None
    except (Exception, RecursionError) as exc:
        return f"{type(exc).__name__}: {_first_line(exc)}"
    elapsed = time.perf_counter() - start
    if case.expect == "raise":
        return f"returned without an error ({type(result).__name__}, {elapsed:.2f} s)"
    if _non_finite(result):
        return "returned NaN or inf"
    return None


# -- mutating an example input --------------------------------------------------------------
Path = tuple[Any, ...]


def _get(value: Any, path: Path) -> Any:
    for key in path:
        value = (
            getattr(value, key) if isinstance(key, str) and attrs.has(type(value)) else value[key]
        )
    return value


def _replace(value: Any, path: Path, new: Any) -> Any:
    """A copy of ``value`` with the leaf at ``path`` replaced (attrs classes are rebuilt with
    ``attrs.evolve``, so their own validation runs)."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, Mapping):
        out = dict(value)
        out[key] = _replace(value[key], rest, new)
        return out
    if isinstance(value, (list, tuple)):
        items = list(value)
        items[key] = _replace(items[key], rest, new)
        return items if isinstance(value, list) else tuple(items)
    field = next(f for f in attrs.fields(type(value)) if f.name == key)
    alias = getattr(field, "alias", None) or field.name.lstrip("_")
    return attrs.evolve(value, **{alias: _replace(getattr(value, key), rest, new)})


def _leaves(value: Any, path: Path = (), depth: int = 0) -> Iterator[tuple[Path, Any]]:
    """Paths to the tensors, arrays, numbers and ``None`` fields in ``value``; only the first
    item of each list is entered (the others are alike)."""
    if depth > 5:
        return
    if isinstance(value, (torch.Tensor, np.ndarray, bool, int, float, np.generic)) or value is None:
        yield path, value
    elif isinstance(value, Mapping):
        for key in value:
            yield from _leaves(value[key], (*path, key), depth + 1)
    elif isinstance(value, (list, tuple)) and value and not isinstance(value[0], str):
        yield from _leaves(value[0], (*path, 0), depth + 1)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if field.init:
                yield from _leaves(getattr(value, field.name), (*path, field.name), depth + 1)


def _path_text(path: Path) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(the argument)"


def _is_label(path: Path) -> bool:
    return any(isinstance(key, str) and key in _LABEL_KEYS for key in path[-2:])


def _with_one(t: Any, value: float) -> Any:
    out = t.clone() if isinstance(t, torch.Tensor) else np.array(t, copy=True)
    # an index, not reshape: reshape copies a non-contiguous input (and () indexes a 0-d one)
    out[(0,) * out.ndim] = value
    return out


def _cast(t: Any, kind: str) -> Any:
    if isinstance(t, torch.Tensor):
        return t.to(
            {
                "f64": torch.float64,
                "int": torch.int64,
                "bool": torch.bool,
                "complex": torch.complex64,
                "float": torch.float32,
            }[kind]
        )
    return t.astype(
        {
            "f64": np.float64,
            "int": np.int64,
            "bool": np.bool_,
            "complex": np.complex128,
            "float": np.float64,
        }[kind]
    )


def _array_mutations(
    t: Any, label: bool, shaped: bool = True
) -> list[tuple[str, Callable[[], Any], str]]:
    """(what, make, expect) for one tensor or array leaf; ``shaped``: the leaf's number of
    dimensions and (for a tensor) its size in dimension 1 are fixed by the entry point."""
    out: list[tuple[str, Callable[[], Any], str]] = []
    shape = tuple(t.shape)
    numel = int(np.prod(shape)) if shape else 1
    floating = t.is_floating_point() if isinstance(t, torch.Tensor) else t.dtype.kind == "f"
    integer = not floating and (
        (isinstance(t, torch.Tensor) and t.dtype != torch.bool and not t.is_complex())
        or (isinstance(t, np.ndarray) and t.dtype.kind in "iu")
    )
    if floating and numel:
        out += [
            ("one NaN", lambda: _with_one(t, math.nan), "raise"),
            ("one inf", lambda: _with_one(t, math.inf), "raise"),
            ("one value 1e30", lambda: _with_one(t, 1e30), "any"),
            (
                "float64 dtype"
                if isinstance(t, torch.Tensor) and t.dtype != torch.float64
                else "float32 dtype",
                lambda: (
                    _cast(t, "f64")
                    if not (isinstance(t, torch.Tensor) and t.dtype == torch.float64)
                    else t.float()
                ),
                "any",
            ),
            ("int dtype", lambda: _cast(t, "int"), "any"),
            ("bool dtype", lambda: _cast(t, "bool"), "raise"),
            ("complex dtype", lambda: _cast(t, "complex"), "raise"),
        ]
    if integer and numel:
        out += [
            ("float dtype", lambda: _cast(t, "float"), "raise" if label else "any"),
            ("one value -1", lambda: _with_one(t, -1), "raise" if label else "any"),
            ("one value 10**9", lambda: _with_one(t, 10**9), "raise" if label else "any"),
        ]
    if shape:
        fixed = "raise" if shaped else "any"
        out.append(("one extra leading dimension", lambda: t[None], fixed))
        if len(shape) > 1:
            out.append(("flattened to 1-D", lambda: t.reshape(-1), fixed))
        elif numel:
            out.append(("a 0-d item instead", lambda: t[0], fixed))
        if shaped and len(shape) > 1 and shape[1] > 1:  # a model's tensor: fixed feature sizes
            out.append(
                (
                    f"size {shape[1] - 1} in dimension 1 (not {shape[1]})",
                    lambda: t[:, : shape[1] - 1],
                    "any",  # some models take any size (a 1-D signal, a conv net): no raw error
                )
            )
        if numel:
            out.append(("empty (0 rows)", lambda: t[:0], "any"))
            out.append(("one row fewer", lambda: t[:-1], "raise" if label else "any"))
        if numel <= 4096:
            out.append(("a nested list instead", lambda: t.tolist(), "any"))
    return out


def _scalar_mutations(v: Any) -> list[tuple[str, Callable[[], Any], str]]:
    out: list[tuple[str, Callable[[], Any], str]] = [
        ("'x' (a str)", lambda: "x", "raise"),
        ("object()", lambda: object(), "raise"),
    ]
    if v is None:
        return out
    if isinstance(v, (bool, np.bool_)):
        return [*out, ("2 (an int)", lambda: 2, "any")]
    out += [
        ("NaN", lambda: math.nan, "raise"),
        ("inf", lambda: math.inf, "any"),
        ("-1", lambda: -1, "any"),
        ("None", lambda: None, "any"),
        ("a complex number", lambda: 1 + 1j, "raise"),
    ]
    if isinstance(v, (int, np.integer)):
        out += [
            ("10**9", lambda: 10**9, "any"),
            ("2.5 (not an int)", lambda: 2.5, "any"),
            (f"np.int64({int(v)})", lambda: np.int64(v), "ok"),
        ]
    else:
        out += [
            ("1e200", lambda: 1e200, "any"),
            (f"np.float64({float(v):g})", lambda: np.float64(v), "ok"),
            (f"np.float32({float(v):g})", lambda: np.float32(v), "ok"),
        ]
    return out


def _argument_cases(
    entry: str,
    example: Any,
    call: Callable[[Any], Any],
    *,
    whole: bool = True,
    baseline: bool = True,
    shaped: bool = True,
) -> list[BadInputCase]:
    """Cases for one argument of ``call``: the whole argument replaced by values of the wrong
    type, then each leaf of ``example`` mutated."""
    cases: list[BadInputCase] = []

    def case(what: str, make: Callable[[], Any], expect: str) -> None:
        cases.append(BadInputCase(entry, what, lambda: call(make()), expect))

    if baseline:
        case("the example as given", lambda: example, "ok")
    if isinstance(example, (bool, int, float, np.generic)) or example is None:
        for what, make, expect in _scalar_mutations(example):
            case(what, make, expect)
        return cases
    if whole:
        for what, value in (
            ("None", None),
            ("'x' (a str)", "x"),
            ("42 (an int)", 42),
            ("object()", object()),
        ):
            case(what, functools.partial(_identity, value), "raise")
        if isinstance(example, Mapping):
            case("{} (an empty mapping)", dict, "raise")
            for key in example:
                case(
                    f"without key {key!r}",
                    functools.partial(_without, example, key),
                    "any",
                )
            case("every batch entry empty", lambda: _emptied(example), "any")
        elif isinstance(example, (list, tuple, torch.Tensor, np.ndarray)):
            case("{} (a mapping)", dict, "raise")
    for path, leaf in _leaves(example):
        where = _path_text(path)
        if isinstance(leaf, (torch.Tensor, np.ndarray)):
            muts = _array_mutations(leaf, _is_label(path), shaped)
        elif path:
            muts = _scalar_mutations(leaf)
        else:
            muts = []
        if path and not isinstance(leaf, (bool, int, float, np.generic)) and leaf is not None:
            # None where an attrs field defaults to None is that default (e.g. a PointCloud
            # without feature channels): it may be valid
            muts.append(
                ("None", lambda: None, "any" if _defaults_to_none(example, path) else "raise")
            )
        for what, make, expect in muts:
            case(
                f"{where}: {what}",
                functools.partial(_replace_made, example, path, make),
                expect,
            )
        if path and isinstance(path[-1], int):  # an item of a list: drop that list's last item
            parent = path[:-1]
            seq = _get(example, parent)
            if isinstance(seq, list) and len(seq) > 1:
                case(
                    f"{_path_text(parent)}: one item fewer",
                    functools.partial(_replace, example, parent, seq[:-1]),
                    "raise" if _is_label(parent) else "any",
                )
    return cases


def _defaults_to_none(example: Any, path: Path) -> bool:
    """Whether the leaf at ``path`` is an attrs field whose default is ``None``."""
    if not path or not isinstance(path[-1], str):
        return False
    parent = _get(example, path[:-1])
    if not attrs.has(type(parent)):
        return False
    field = next((f for f in attrs.fields(type(parent)) if f.name == path[-1]), None)
    return field is not None and field.default is None


def _identity(value: Any) -> Any:
    return value


def _without(batch: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if k != key}


def _replace_made(example: Any, path: Path, make: Callable[[], Any]) -> Any:
    return _replace(example, path, make())


def _emptied(batch: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim:
            out[key] = value[:0]
        elif isinstance(value, list):
            out[key] = []
        else:
            out[key] = value
    return out


# -- per kind ---------------------------------------------------------------------------------
def _build(component: Any) -> Any:
    cls: Any = component if isinstance(component, type) else type(component)
    if not isinstance(component, type):
        return component
    if issubclass(cls, Distiller):
        teacher, student, _ = cls.example(seed=0)
        return cls.from_config(None, teacher, student)
    return cls.from_config(None)


def _config_cases(cls: Any) -> list[BadInputCase]:
    """``from_config`` with a NaN (must raise ConfigError) and out-of-range values (may be
    accepted, but the build must stay in bounds) in each numeric field."""
    cases: list[BadInputCase] = []
    if issubclass(cls, Distiller):
        teacher, student, _ = cls.example(seed=0)

        def build(values: Mapping[str, Any]) -> Any:
            return cls.from_config(values, teacher, student)
    else:

        def build(values: Mapping[str, Any]) -> Any:
            return cls.from_config(values)

    defaults = attrs.asdict(cls.Config(), recurse=False) if _has_defaults(cls) else None
    for name, annotation in _field_types(cls.Config).items():
        default = None if defaults is None else defaults.get(name)
        numeric = annotation in (int, float) or (
            isinstance(default, (int, float)) and not isinstance(default, bool)
        )
        if not numeric or name.startswith("_"):
            continue
        table: list[tuple[str, Any, str]] = [
            ("NaN", math.nan, "raise"),
            ("-inf", -math.inf, "any"),
            ("-1", -1, "any"),
        ]
        if annotation is int or isinstance(default, int):
            table += [("10**9", 10**9, "any")]
        else:
            table += [("1e200", 1e200, "any")]
        for what, value, expect in table:
            cases.append(
                BadInputCase(
                    "from_config",
                    f"{name}={what}",
                    functools.partial(build, {name: value}),
                    expect,
                )
            )
    return cases


def _has_defaults(cls: Any) -> bool:
    try:
        cls.Config()
    except Exception:
        return False
    return True


def _detector_cases(cls: Any) -> list[BadInputCase]:
    det = _build(cls)
    batch = cls.example_batch(batch_size=2, seed=0)

    def loss(b: Any) -> Any:
        det.train()
        return det.loss(b)

    def predict(inputs: Any) -> Any:
        det.eval()
        with torch.no_grad():
            return det.predict(inputs)

    return [
        *_argument_cases("loss", batch, loss),
        *_argument_cases("predict", batch["inputs"], predict),
    ]


def _distiller_cases(cls: Any) -> list[BadInputCase]:
    teacher, student, batch = cls.example(seed=0)
    dist = cls.from_config(None, teacher, student)

    def loss(b: Any) -> Any:
        dist.train()
        return dist.loss(b)

    return _argument_cases("loss", batch, loss)


def _generator_cases(cls: Any) -> list[BadInputCase]:
    gen = _build(cls).eval()
    cases: list[BadInputCase] = []
    table: list[tuple[str, Any, str]] = [
        ("None", None, "raise"),
        ("'2' (a str)", "2", "raise"),
        ("2.5", 2.5, "raise"),
        ("0", 0, "raise"),
        ("-1", -1, "raise"),
        ("True", True, "raise"),
        ("NaN", math.nan, "raise"),
        ("np.int64(2)", np.int64(2), "ok"),
        ("10**9", 10**9, "raise"),
        ("10**12", 10**12, "raise"),
    ]
    for what, n, expect in table:
        cases.append(
            BadInputCase("sample", f"n={what}", functools.partial(gen.sample, n, seed=0), expect)
        )
    for what, seed, expect in (
        ("'x' (a str)", "x", "raise"),
        ("2.5", 2.5, "raise"),
        ("np.int64(3)", np.int64(3), "ok"),
        ("-1", -1, "any"),
    ):
        cases.append(
            BadInputCase(
                "sample", f"seed={what}", functools.partial(gen.sample, 2, seed=seed), expect
            )
        )
    z = torch.randn(2, gen.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        w = gen.mapping(z)

    def mapping(value: Any) -> Any:
        with torch.no_grad():
            return gen.mapping(value)

    def synthesis(value: Any) -> Any:
        with torch.no_grad():
            return gen.synthesis(value)

    cases += _argument_cases("mapping", z, mapping)
    cases += _argument_cases("synthesis", w, synthesis)
    return cases


def _tiny_net() -> tuple[nn.Module, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.7)
    return net.eval(), torch.rand(3, 4, generator=gen)


def _verifier_cases(cls: Any) -> list[BadInputCase]:
    ver = _build(cls)
    net, x = _tiny_net()
    labels = torch.tensor([0, 1, 2])
    cases: list[BadInputCase] = []
    for entry, run in (
        ("bounds", lambda xx: ver.bounds(net, xx, 0.1)),
        ("verify", lambda xx: ver.verify(net, xx, labels, 0.1)),
    ):
        cases += _argument_cases(f"{entry} x", x, run)
        cases.append(
            BadInputCase(
                entry,
                "x: 5 features for a 4-input model",
                functools.partial(run, torch.rand(3, 5)),
                "raise",
            )
        )
        cases.append(
            BadInputCase(
                entry,
                "x: 9 x 9 images for a 4-input model",
                functools.partial(run, torch.rand(3, 1, 9, 9)),
                "raise",
            )
        )
    for what, model in (("None", None), ("object()", object()), ("a function", lambda t: t)):
        cases.append(
            BadInputCase(
                "bounds", f"model={what}", functools.partial(ver.bounds, model, x, 0.1), "raise"
            )
        )
        cases.append(
            BadInputCase(
                "verify",
                f"model={what}",
                functools.partial(ver.verify, model, x, labels, 0.1),
                "raise",
            )
        )
    eps_table: list[tuple[str, Any, str]] = [
        ("None", None, "raise"),
        ("'x' (a str)", "x", "raise"),
        ("NaN", math.nan, "raise"),
        ("inf", math.inf, "raise"),
        ("-0.1", -0.1, "raise"),
        ("1e300", 1e300, "any"),
        ("a tensor of 3", torch.full((3,), 0.1), "any"),
        ("np.float64(0.1)", np.float64(0.1), "ok"),
        ("np.float32(0.1)", np.float32(0.1), "ok"),
        ("np.int64(0)", np.int64(0), "ok"),
    ]
    for what, eps, expect in eps_table:
        cases.append(
            BadInputCase(
                "bounds", f"eps={what}", functools.partial(ver.bounds, net, x, eps), expect
            )
        )
        cases.append(
            BadInputCase(
                "verify", f"eps={what}", functools.partial(ver.verify, net, x, labels, eps), expect
            )
        )
    for what, norm in (("'inf' (a str)", "inf"), ("NaN", math.nan), ("-1", -1.0), ("None", None)):
        cases.append(
            BadInputCase(
                "bounds",
                f"norm={what}",
                functools.partial(ver.bounds, net, x, 0.1, norm=norm),
                "raise",
            )
        )
    for what, spec in (
        ("'x' (a str)", "x"),
        ("2-D", torch.ones(3, 3)),
        ("wrong batch", torch.ones(2, 1, 3)),
        ("wrong K", torch.ones(3, 1, 5)),
        ("NaN", torch.full((3, 1, 3), math.nan)),
        ("complex dtype", torch.ones(3, 1, 3, dtype=torch.complex64)),
    ):
        cases.append(
            BadInputCase(
                "bounds",
                f"spec={what}",
                functools.partial(ver.bounds, net, x, 0.1, spec=spec),
                "raise",
            )
        )
    cases += _argument_cases(
        "verify labels", labels, lambda lab: ver.verify(net, x, lab, 0.1), whole=True
    )
    cases.append(
        BadInputCase(
            "verify",
            "labels: value 3 for 3 classes",
            lambda: ver.verify(net, x, torch.tensor([0, 1, 3]), 0.1),
            "raise",
        )
    )
    return cases


def _solver_cases(cls: Any) -> list[BadInputCase]:
    solver = _build(cls)
    problem = cls.example_problem(seed=0)
    return _argument_cases("solve", problem, solver.solve)


_KIND_CASES: dict[type, Callable[[Any], list[BadInputCase]]] = {
    Detector: _detector_cases,
    Distiller: _distiller_cases,
    Generator: _generator_cases,
    Verifier: _verifier_cases,
    Solver: _solver_cases,
}


def bad_input_cases(component: Any) -> list[BadInputCase]:
    """Every bad-input case for ``component`` (a class or an instance): its config fields, then
    the main entry points of its kind (Detector ``loss``/``predict``, Distiller ``loss``,
    Generator ``sample``/``mapping``/``synthesis``, Verifier ``bounds``/``verify``, Solver
    ``solve``), with the values mutated from the component's own example input."""
    cls: Any = component if isinstance(component, type) else type(component)
    interface = interface_of(cls)
    cases = _config_cases(cls) if isinstance(component, type) else []
    return [*cases, *_KIND_CASES[interface](component)]


def check_rejects_bad_input(component: Any) -> None:
    """Every entry point of ``component`` answers bad input with an ``xuframe.errors``
    exception (or, for values that may be accepted, a result without NaN), within
    :data:`SWEEP_SECONDS` per case and the sweep's memory bound.

    Raises :class:`~xuframe.errors.ConformanceError` listing each failing case.
    """
    failures = []
    for case in bad_input_cases(component):
        outcome = judge(case)
        if outcome is not None:
            failures.append(f"{case.label} -> {outcome}")
    if failures:
        cls: Any = component if isinstance(component, type) else type(component)
        raise ConformanceError(
            f"{cls.kind} {cls.__dict__.get('name', cls.__qualname__)!r}: "
            f"{len(failures)} bad inputs not rejected with an xuframe error:\n  "
            + "\n  ".join(failures)
        )


def run_sweep(components: Sequence[Any]) -> dict[str, list[tuple[BadInputCase, str | None, float]]]:
    """Each component's cases with their outcome and seconds (a helper for reports)."""
    report: dict[str, list[tuple[BadInputCase, str | None, float]]] = {}
    for component in components:
        cls: Any = component if isinstance(component, type) else type(component)
        rows = []
        for case in bad_input_cases(component):
            start = time.perf_counter()
            outcome = judge(case)
            rows.append((case, outcome, time.perf_counter() - start))
        report[f"{cls.kind}/{cls.name}"] = rows
    return report


def call_cases(
    entry: str, fn: Callable[..., Any], *args: Any, _shaped: bool = False, **kwargs: Any
) -> list[BadInputCase]:
    """Cases for a plain function: each positional and keyword argument of the good call
    ``fn(*args, **kwargs)`` in turn replaced by values of the wrong type and mutated
    (``_shaped=True``: a tensor argument's width in dimension 1 is fixed too)."""
    cases: list[BadInputCase] = []
    for i, arg in enumerate(args):

        def positional(value: Any, i: int = i) -> Any:
            return fn(*args[:i], value, *args[i + 1 :], **kwargs)

        cases += _argument_cases(
            f"{entry} arg {i}", arg, positional, baseline=i == 0, shaped=_shaped
        )
    for key, arg in kwargs.items():

        def keyword(value: Any, key: str = key) -> Any:
            return fn(*args, **{**kwargs, key: value})

        cases += _argument_cases(
            f"{entry} {key}=",
            arg,
            keyword,
            baseline=not args and key == next(iter(kwargs)),
            shaped=_shaped,
        )
    return cases
