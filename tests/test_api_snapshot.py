"""The public API, pinned: names in each public module's ``__all__`` and every public signature.

A change to the API shows up as a diff against ``tests/api_snapshot.txt``. When the change is
intended (and follows the deprecation policy in docs/api-policy.md), regenerate the file with

    python tests/test_api_snapshot.py --update
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("api_snapshot.txt")
PUBLIC_MODULES = (
    "xuframe",
    "xuframe.errors",
    "xuframe.hookspecs",
    "xuframe.data",
    "xuframe.ops",
    "xuframe.engine",
    "xuframe.metrics",
    "xuframe.pictures",
    "xuframe.testing",
    "xuframe.validation",
    "xuframe.nn",
    "xuframe.testing.strategies",
    "xuframe_plugins.kmeans",
    "xuframe_plugins.robust",
    "xuframe_plugins.convexclust",
    "xuframe_plugins.ttfnet",
    "xuframe_plugins.denfi",
    "xuframe_plugins.kd",
    "xuframe_plugins.sskd",
    "xuframe_plugins.unix",
    "xuframe_plugins.lgss",
    "xuframe_plugins.defocus",
    "xuframe_plugins.stylekd",
)


def _signature(obj: object) -> str:
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"
    if not isinstance(
        sig.return_annotation, str
    ):  # evaluated by a decorator: version-dependent repr
        sig = sig.replace(return_annotation=inspect.Signature.empty)
    return re.sub(r" at 0x[0-9a-f]+", "", str(sig))  # default values that are functions


def _describe_class(cls: type) -> list[str]:
    bases = ", ".join(b.__name__ for b in cls.__bases__)
    lines = [f"class {cls.__name__}({bases})"]
    abstract = getattr(cls, "__abstractmethods__", frozenset())
    members = dict(vars(cls))
    for name in vars(cls).get("__annotations__", {}):
        members.setdefault(name, None)  # declared, not assigned (e.g. Detector.geometry)
    for name, member in sorted(members.items()):
        if name.startswith("_") and name not in ("__init__", "__call__") and name not in abstract:
            continue
        mark = "abstract " if name in abstract else ""
        if isinstance(member, property):
            lines.append(f"    {mark}property {name}")
        elif isinstance(member, (classmethod, staticmethod)):
            kind = type(member).__name__
            lines.append(f"    {mark}{kind} {name}{_signature(member.__func__)}")
        elif inspect.isfunction(member):
            lines.append(f"    {mark}def {name}{_signature(member)}")
        elif inspect.isclass(member):
            lines.append(f"    class {name}")
        elif member is None or not callable(member):
            lines.append(f"    attribute {name}")
    return lines


def api_lines(modules: tuple[str, ...] = PUBLIC_MODULES) -> list[str]:
    lines: list[str] = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        names = list(module.__all__)
        lines.append(f"module {module_name}: {', '.join(names)}")
        for name in sorted(names):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                lines += ["  " + line for line in _describe_class(obj)]
            elif inspect.isfunction(obj):
                lines.append(f"  def {name}{_signature(obj)}")
            elif inspect.ismodule(obj):
                lines.append(f"  module {name}")
            else:
                lines.append(f"  {name}: {type(obj).__name__}")
    return lines


def test_api_matches_the_snapshot():
    current = api_lines()
    expected = SNAPSHOT.read_text().splitlines()
    if current != expected:
        import difflib

        diff = "\n".join(
            difflib.unified_diff(expected, current, "api_snapshot.txt", "current", lineterm="")
        )
        raise AssertionError(
            "the public API changed; if intended, run `python tests/test_api_snapshot.py --update`\n"
            + diff
        )


def test_the_snapshot_notices_changes(monkeypatch):
    import xuframe

    before = api_lines(("xuframe",))
    monkeypatch.setattr(xuframe, "__all__", [*xuframe.__all__, "extra_name"], raising=True)
    monkeypatch.setattr(xuframe, "extra_name", 1, raising=False)
    assert api_lines(("xuframe",)) != before
    monkeypatch.undo()

    def solve(self, problem, *, tolerance=1e-3):  # a new argument on an interface method
        return None

    monkeypatch.setattr(xuframe.Solver, "solve", solve)
    assert api_lines(("xuframe",)) != before


def test_all_names_exist_and_are_unique():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert len(set(module.__all__)) == len(module.__all__), module_name
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        SNAPSHOT.write_text("\n".join(api_lines()) + "\n")
        print(f"wrote {SNAPSHOT}")
    else:
        print("\n".join(api_lines()))
