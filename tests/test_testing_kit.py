"""The conformance kit passes correct components and catches broken ones."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pytest
import torch
from components import ALL, CornerDetector, IntervalVerifier, LinearGenerator, SoftTargetDistiller

from xuframe import Bounds, Solver, config_field
from xuframe.errors import ConformanceError
from xuframe.testing import check_component, checks_for, parametrize_with_checks


@parametrize_with_checks(ALL)
def test_correct_components_pass(component, check):
    check(component)


def test_instances_are_checked_with_their_own_config():
    check_component(LinearGenerator.from_config({"z_dim": 3}))


def _fails(component, rule: str) -> str:
    with pytest.raises(ConformanceError) as info:
        check_component(component)
    assert rule in str(info.value), str(info.value)
    return str(info.value)


def test_catches_a_missing_name():
    class Nameless(IntervalVerifier):
        pass

    _fails(Nameless, "check_name")


def test_catches_a_wrong_return_type():
    class DictPredictor(CornerDetector):
        name: ClassVar[str] = "dict-predictor"

        def predict(self, inputs):
            return {"boxes": super().predict(inputs)}

    _fails(
        DictPredictor,
        "check_detector_predict: detector 'dict-predictor': predict() must return a list",
    )


def test_catches_a_config_that_accepts_unknown_keys():
    class Lenient(IntervalVerifier):
        name: ClassVar[str] = "lenient"

        @classmethod
        def from_config(cls, config=None, /, *args):
            return cls()  # ignores what it was given

    message = _fails(Lenient, "check_config_rejects_unknown_keys")
    assert "expected ConfigError, nothing was raised" in message


def test_catches_unsound_bounds():
    class Overconfident(IntervalVerifier):
        name: ClassVar[str] = "overconfident"

        def _bounds(self, model, x, eps, norm, spec):
            b = super()._bounds(model, x, 0.0, norm, spec)
            return Bounds(b.lower, b.upper)  # ignores eps: too tight

    _fails(Overconfident, "bounds are unsound")


def test_catches_gradients_reaching_the_teacher():
    class Leaky(SoftTargetDistiller):
        name: ClassVar[str] = "leaky"

        def loss(self, batch):
            self.teacher.requires_grad_(True)
            out = super().loss(batch)
            return {"kd": out["kd"] + self.teacher(batch["inputs"]).sum() * 0}

    _fails(Leaky, "gradients reached the teacher")


def test_catches_uncounted_teacher_queries():
    class Uncounted(SoftTargetDistiller):
        name: ClassVar[str] = "uncounted"

        def loss(self, batch):
            out = super().loss(batch)
            self.teacher_queries = 0
            return out

    _fails(Uncounted, "teacher_queries")


def test_catches_a_nondeterministic_generator():
    class Noisy(LinearGenerator):
        name: ClassVar[str] = "noisy"

        def synthesis(self, w):
            return super().synthesis(w + torch.randn_like(w))

    _fails(Noisy, "deterministic")


class _Problem:
    pass


class _Sloppy(Solver[_Problem, int]):
    name: ClassVar[str] = "sloppy"
    problem_type: ClassVar[type[Any]] = _Problem
    result_type: ClassVar[type[Any]] = int

    @attrs.frozen
    class Config:
        k: int = config_field(1, doc="k")

    def solve(self, problem):  # skips the type check of Solver.solve
        return self._solve(problem)

    def _solve(self, problem):
        return "not an int"

    @classmethod
    def example_problem(cls, seed=0):
        return _Problem()


def test_catches_solver_contract_breaks():
    message = _fails(_Sloppy, "check_solver_solves")
    assert "must return a int, got str" in message
    assert "check_solver_rejects_wrong_problem" in message


def test_catches_a_demo_that_returns_the_wrong_type():
    class BadDemo(IntervalVerifier):
        name: ClassVar[str] = "bad-demo"

        @classmethod
        def demo(cls, seed=0):
            return {"accuracy": 1.0}

    _fails(BadDemo, "demo() must return a DemoResult")


def test_a_non_component_is_rejected_up_front():
    with pytest.raises(ConformanceError, match="exactly one of"):
        checks_for(dict)
