"""The conformance checks: one function per rule of the documented component contract."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import attrs
import torch
from torch import nn

from xuframe._config import _field_types
from xuframe._registry import CLASS_CHECKS, interface_of
from xuframe.errors import ConfigError, ConformanceError, InputError, RegistrationError
from xuframe.interfaces import Component, Detector, Distiller, Generator, Solver, Verifier
from xuframe.types import (
    Bounds,
    Boxes2D,
    Boxes3D,
    DemoResult,
    Detections,
    Segments1D,
    VerificationResult,
)

__all__ = ["Check", "check_component", "checks_for", "parametrize_with_checks"]

#: A check takes a component class or instance and raises ConformanceError if it breaks the contract.
Check = Callable[[Any], None]


def _fail(component: Any, message: str) -> NoReturn:
    raise ConformanceError(f"{_label(component)}: {message}")


def _label(component: Any) -> str:
    cls = _cls(component)
    return f"{getattr(cls, 'kind', '?')} {cls.__dict__.get('name', cls.__qualname__)!r}"


def _cls(component: Any) -> Any:
    return component if isinstance(component, type) else type(component)


def _build(component: Any, config: Any = None) -> Any:
    """The instance to exercise: the given one, or one built from ``config`` (defaults)."""
    cls = _cls(component)
    if not isinstance(component, type) and config is None:
        return component
    if issubclass(cls, Distiller):
        teacher, student, _ = cls.example(seed=0)
        return cls.from_config(config, teacher, student)
    return cls.from_config(config)


def _expect(component: Any, call: Callable[[], Any], error: type[Exception], what: str) -> None:
    try:
        call()
    except error:
        return
    except Exception as exc:
        _fail(component, f"{what}: expected {error.__name__}, got {type(exc).__name__}: {exc}")
    else:
        _fail(component, f"{what}: expected {error.__name__}, nothing was raised")


def _check_scalar_losses(component: Any, losses: Any) -> torch.Tensor:
    if not isinstance(losses, dict) or not losses:
        _fail(
            component,
            f"loss(batch) must return a non-empty dict[str, Tensor], got {type(losses).__name__}",
        )
    for key, value in losses.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor) or value.dim() != 0:
            _fail(component, f"loss(batch)[{key!r}] must be a scalar tensor, got {value!r:.80}")
        if not bool(torch.isfinite(value)):
            _fail(component, f"loss(batch)[{key!r}] is not finite: {float(value)}")
    total = torch.stack(list(losses.values())).sum()
    return total


# -- every component -----------------------------------------------------------------------
def _class_check(rule: Callable[[type], None]) -> Check:
    @functools.wraps(rule)
    def check(component: Any) -> None:
        try:
            rule(_cls(component))
        except RegistrationError as exc:
            raise ConformanceError(str(exc)) from None

    return check


check_kind = _class_check(CLASS_CHECKS[0])
check_name = _class_check(CLASS_CHECKS[1])
check_not_abstract = _class_check(CLASS_CHECKS[2])
check_config_class = _class_check(CLASS_CHECKS[3])


def check_builds_from_defaults(component: Any) -> None:
    """``from_config({})`` builds the component and ``.config`` is a ``Config``."""
    obj = _build(component, {})
    if not isinstance(obj, _cls(component)):
        _fail(component, f"from_config({{}}) returned {type(obj).__name__}")
    if not isinstance(obj.config, _cls(component).Config):
        _fail(
            component,
            f".config must be a {_cls(component).Config.__qualname__}, got {obj.config!r}",
        )


def check_config_roundtrip(component: Any) -> None:
    """A component rebuilt from ``attrs.asdict(obj.config)`` has an equal config."""
    obj = _build(component)
    values = attrs.asdict(obj.config, recurse=False)
    again = _build(component, values)
    if again.config != obj.config:
        _fail(component, f"config does not round-trip: {obj.config!r} became {again.config!r}")


def check_config_rejects_unknown_keys(component: Any) -> None:
    """``from_config`` raises ConfigError for a key the Config does not have."""
    _expect(
        component,
        lambda: _build(component, {"__no_such_option__": 1}),
        ConfigError,
        "from_config with an unknown key",
    )


def check_config_rejects_wrong_types(component: Any) -> None:
    """``from_config`` raises ConfigError for a value of the wrong type, and for a non-mapping."""
    _expect(component, lambda: _build(component, 42), ConfigError, "from_config(42)")
    types = _field_types(_cls(component).Config)
    checkable = [field for field, annotation in types.items() if annotation not in (Any, object)]
    if checkable:
        bad = {checkable[0]: object()}
        _expect(
            component,
            lambda: _build(component, bad),
            ConfigError,
            f"from_config({checkable[0]}=object())",
        )


def check_demo(component: Any) -> None:
    """A demo, where the component has one, returns a DemoResult."""
    cls = _cls(component)
    if getattr(cls.demo, "__func__", None) is Component.demo.__func__:  # type: ignore[attr-defined]
        return
    result = cls.demo(seed=0)
    if not isinstance(result, DemoResult):
        _fail(component, f"demo() must return a DemoResult, got {type(result).__name__}")


GENERIC_CHECKS: tuple[Check, ...] = (
    check_kind,
    check_name,
    check_not_abstract,
    check_config_class,
    check_builds_from_defaults,
    check_config_roundtrip,
    check_config_rejects_unknown_keys,
    check_config_rejects_wrong_types,
    check_demo,
)


# -- detectors -------------------------------------------------------------------------
def check_detector_geometry(component: Any) -> None:
    """``geometry`` names one of Boxes2D, Boxes3D, Segments1D."""
    if getattr(_cls(component), "geometry", None) not in (Boxes2D, Boxes3D, Segments1D):
        _fail(component, "class attribute `geometry` must be Boxes2D, Boxes3D or Segments1D")


def _detector_batch(component: Any, batch_size: int) -> Mapping[str, Any]:
    batch: Mapping[str, Any] = _cls(component).example_batch(batch_size=batch_size, seed=0)
    if not isinstance(batch, Mapping) or "inputs" not in batch:
        _fail(
            component,
            f"example_batch() must return a mapping with key 'inputs', got {type(batch).__name__}",
        )
    return batch


def check_detector_loss(component: Any) -> None:
    """``loss(example_batch())`` returns finite named scalars whose sum back-propagates to parameters."""
    det = _build(component).train()
    losses = det.loss(_detector_batch(component, 2))
    total = _check_scalar_losses(component, losses)
    params = [p for p in det.parameters() if p.requires_grad]
    if params:
        total.backward()  # type: ignore[no-untyped-call]
        if all(p.grad is None for p in params):
            _fail(component, "the summed loss does not reach any parameter")


def check_detector_predict(component: Any) -> None:
    """``predict(batch['inputs'])`` returns one Detections of the declared geometry per input."""
    det = _build(component).eval()
    with torch.no_grad():
        out = det.predict(_detector_batch(component, 2)["inputs"])
    if not isinstance(out, list) or len(out) != 2:
        _fail(
            component,
            f"predict() must return a list of 2 Detections for 2 inputs, got {out!r:.100}",
        )
    for item in out:
        if not isinstance(item, Detections):
            _fail(component, f"predict() must return Detections, got {type(item).__name__}")
        if not isinstance(item.geometry, _cls(component).geometry):
            _fail(
                component,
                f"predict() returned {type(item.geometry).__name__}, declared {_cls(component).geometry.__name__}",
            )


# -- distillers ------------------------------------------------------------------------
def check_distiller_loss(component: Any) -> None:
    """The loss reaches the student, never the teacher; teacher queries and student steps
    (training-mode losses only) are counted."""
    cls = _cls(component)
    teacher, student, batch = cls.example(seed=0)
    dist = cls.from_config(
        None if isinstance(component, type) else component.config, teacher, student
    )
    dist.train()
    if dist.teacher.training:
        _fail(component, "train() must leave the teacher in eval mode")
    losses = dist.loss(batch)
    total = _check_scalar_losses(component, losses)
    if dist.teacher_queries <= 0:
        _fail(
            component,
            "loss() must count teacher forward passes in teacher_queries (use query_teacher)",
        )
    if dist.student_steps != 1:
        _fail(
            component,
            f"a loss in training mode must add one to student_steps, got {dist.student_steps}",
        )
    total.backward()  # type: ignore[no-untyped-call]
    dist.eval()
    dist.loss(batch)
    if dist.student_steps != 1:
        _fail(component, "a loss in eval mode must not count a student step")
    if any(p.grad is not None for p in dist.teacher.parameters()):
        _fail(component, "gradients reached the teacher; it must stay frozen")
    if all(p.grad is None for p in dist.student.parameters()):
        _fail(component, "the summed loss does not reach the student")


# -- generators ------------------------------------------------------------------------
def check_generator_sample(component: Any) -> None:
    """``sample(2, seed)`` is a finite (2, C, H, W) tensor, the same for the same seed."""
    gen = _build(component).eval()
    a, b = gen.sample(2, seed=0), gen.sample(2, seed=0)
    if not isinstance(a, torch.Tensor) or a.dim() != 4 or a.shape[0] != 2:
        _fail(
            component,
            f"sample(2) must return a (2, C, H, W) tensor, got {getattr(a, 'shape', a)!r}",
        )
    if not bool(torch.isfinite(a).all()):
        _fail(component, "sample() returned NaN or inf")
    if not torch.equal(a, b):
        _fail(component, "sample(n, seed) must be deterministic for a fixed seed")
    if not isinstance(gen.latent_dim, int) or gen.latent_dim < 1:
        _fail(component, f"latent_dim must be a positive int, got {gen.latent_dim!r}")


# -- verifiers -------------------------------------------------------------------------
def _tiny_net(seed: int) -> tuple[nn.Module, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.7)
    x = torch.rand(3, 4, generator=gen)
    return net.eval(), x


def check_verifier_sound(component: Any) -> None:
    """Bounds on a small ReLU net contain its outputs at the centre, corners and random points of the ball."""
    ver = _build(component)
    net, x = _tiny_net(0)
    eps = 0.1
    bounds = ver.bounds(net, x, eps)
    if not isinstance(bounds, Bounds) or bounds.shape != (3, 3):
        _fail(component, f"bounds() must return Bounds of shape (3, 3), got {bounds!r:.100}")
    gen = torch.Generator().manual_seed(1)
    signs = torch.randint(0, 2, (64, 1, 4), generator=gen) * 2 - 1
    noise = torch.cat(
        [torch.rand(256, 1, 4, generator=gen) * 2 - 1, signs.float(), torch.zeros(1, 1, 4)]
    )
    with torch.no_grad():
        outputs = net((x[None] + eps * noise).reshape(-1, 4)).reshape(noise.shape[0], 3, 3)
    if not bool(bounds.contains(outputs).all()):
        _fail(component, "bounds are unsound: a network output in the eps-ball lies outside them")
    spec = Verifier.margin_spec(torch.tensor([0, 1, 2]), 3)
    spec_bounds = ver.bounds(net, x, eps, spec=spec)
    if spec_bounds.shape != (3, 2) or not bool(
        spec_bounds.contains(torch.einsum("bsk,nbk->nbs", spec, outputs)).all()
    ):
        _fail(component, "specification bounds are missing, misshaped or unsound")
    result = ver.verify(net, x, torch.tensor([0, 1, 2]), eps)
    if not isinstance(result, VerificationResult):
        _fail(component, f"verify() must return a VerificationResult, got {type(result).__name__}")


def check_verifier_rejects_bad_input(component: Any) -> None:
    """A negative eps or a NaN input raises InputError."""
    ver = _build(component)
    net, x = _tiny_net(0)
    _expect(component, lambda: ver.bounds(net, x, -0.1), InputError, "bounds(eps=-0.1)")
    bad = x.clone()
    bad[0, 0] = float("nan")
    _expect(component, lambda: ver.bounds(net, bad, 0.1), InputError, "bounds(x with NaN)")


# -- solvers ---------------------------------------------------------------------------
def check_solver_solves(component: Any) -> None:
    """``solve(example_problem())`` returns a ``result_type``."""
    cls = _cls(component)
    problem = cls.example_problem(seed=0)
    if not isinstance(problem, cls.problem_type):
        _fail(component, f"example_problem() must return a {cls.problem_type.__name__}")
    result = _build(component).solve(problem)
    if not isinstance(result, cls.result_type):
        _fail(
            component,
            f"solve() must return a {cls.result_type.__name__}, got {type(result).__name__}",
        )


def check_solver_rejects_wrong_problem(component: Any) -> None:
    """``solve`` raises InputError for an object that is not a ``problem_type``."""
    solver = _build(component)
    _expect(component, lambda: solver.solve(object()), InputError, "solve(object())")


INTERFACE_CHECKS: dict[type[Component], tuple[Check, ...]] = {
    Detector: (check_detector_geometry, check_detector_loss, check_detector_predict),
    Distiller: (check_distiller_loss,),
    Generator: (check_generator_sample,),
    Verifier: (check_verifier_sound, check_verifier_rejects_bad_input),
    Solver: (check_solver_solves, check_solver_rejects_wrong_problem),
}


def checks_for(component: Any) -> list[Check]:
    """The checks that apply to ``component`` (class or instance), in the order they run; the
    last is :func:`~xuframe.testing.check_rejects_bad_input`, the bad-input sweep."""
    from xuframe.testing._bad_input import check_rejects_bad_input

    try:
        interface = interface_of(_cls(component))
    except RegistrationError as exc:
        raise ConformanceError(str(exc)) from None
    return [*GENERIC_CHECKS, *INTERFACE_CHECKS[interface], check_rejects_bad_input]


def check_component(component: Any) -> None:
    """Run every check that applies to ``component`` (a class or an instance).

    Raises :class:`~xuframe.errors.ConformanceError` naming each broken rule. Checks after
    the class checks are skipped when those fail, since they need a well-formed class.
    """
    failures: list[str] = []
    for check in checks_for(component):
        if failures and check in (check_builds_from_defaults,):
            break
        try:
            check(component)
        except Exception as exc:
            failures.append(f"{check.__name__}: {exc}")
    if failures:
        raise ConformanceError(
            f"{_label(component)} breaks the component contract:\n  " + "\n  ".join(failures)
        )


def parametrize_with_checks(components: Iterable[Any]) -> Any:
    """A ``pytest.mark.parametrize`` over every (component, check) pair, for your test suite.

    Use it as a decorator on a test that takes ``component`` and ``check``:

    .. code-block:: python

        @parametrize_with_checks([MyDetector])
        def test_conformance(component, check):
            check(component)

    Each case is named ``kind/name-check_name``, so a failure names the broken rule.
    """
    import pytest

    params = []
    for component in components:
        for check in checks_for(component):
            cls = _cls(component)
            label = f"{getattr(cls, 'kind', '?')}/{cls.__dict__.get('name', cls.__qualname__)}"
            params.append(pytest.param(component, check, id=f"{label}-{check.__name__}"))
    return pytest.mark.parametrize(("component", "check"), params)
