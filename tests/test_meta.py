"""Meta-tests: every hook and every public name is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import pluggy

import xuframe
from xuframe import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOT_IN_REFERENCE = {"__version__", "errors", "KINDS", "registry", "hookimpl"}


def _hooks():
    marker = pluggy.HookspecMarker("xuframe").project_name + "_spec"
    return [f for _, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, marker)]


def test_every_hook_is_documented():
    guide = (DOCS / "writing-a-plugin.md").read_text()
    hooks = _hooks()
    assert [h.__name__ for h in hooks] == ["xuframe_register"]
    for hook in hooks:
        assert inspect.getdoc(hook), f"{hook.__name__} has no docstring"
        assert hook.__name__ in guide, f"{hook.__name__} is not in docs/writing-a-plugin.md"


def test_every_public_name_is_in_the_api_reference():
    reference = (DOCS / "api.md").read_text()
    missing = [n for n in xuframe.__all__ if n not in NOT_IN_REFERENCE and n not in reference]
    assert not missing, f"add to docs/api.md: {missing}"


def test_every_public_object_has_a_docstring():
    undocumented = [
        n
        for n in xuframe.__all__
        if n not in NOT_IN_REFERENCE and not inspect.getdoc(getattr(xuframe, n))
    ]
    assert not undocumented
