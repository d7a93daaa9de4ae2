"""Plugin loading: isolation, strict mode, disabling, hints and rollback."""

from __future__ import annotations

import importlib.metadata as md
import textwrap

import pytest

from xuframe import Registry
from xuframe._plugins import load_plugins
from xuframe.errors import PluginError, PluginLoadWarning

GOOD = """
from typing import ClassVar
import xuframe
from components import IntervalVerifier

class Good(IntervalVerifier):
    name: ClassVar[str] = "good"

@xuframe.hookimpl
def xuframe_register(registry):
    registry.add(Good)
"""

BROKEN = "raise RuntimeError('boom at import')\n"

NEEDS_SCATTER = "import torch_scatter_not_installed_here\n"

HALF_BAD = """
from typing import ClassVar
import xuframe
from components import IntervalVerifier

class First(IntervalVerifier):
    name: ClassVar[str] = "first"

class NoName(IntervalVerifier):
    pass

@xuframe.hookimpl
def xuframe_register(registry):
    registry.add(First)
    registry.add(NoName)
"""

OPT_IN = """
import xuframe

@xuframe.hookimpl
def xuframe_register():
    pass  # takes none of the hook's arguments: pluggy passes only what is named
"""


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    for name, source in {
        "xf_good": GOOD,
        "xf_broken": BROKEN,
        "xf_scatter": NEEDS_SCATTER,
        "xf_half_bad": HALF_BAD,
        "xf_opt_in": OPT_IN,
    }.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("XUFRAME_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("XUFRAME_DISABLE_PLUGINS", raising=False)

    def entry_points(*names):
        return [md.EntryPoint(n, f"xf_{n}", "xuframe") for n in names]

    return entry_points


def test_a_failing_plugin_is_reported_not_fatal(plugin_modules):
    reg = Registry()
    with pytest.warns(PluginLoadWarning, match="'broken' failed to load"):
        infos = load_plugins(reg, plugin_modules("good", "broken"))
    status = {i.name: i for i in infos}
    assert status["good"].status == "loaded" and status["good"].components == ("verifier/good",)
    assert status["broken"].status == "failed"
    assert "RuntimeError: boom at import" in status["broken"].error
    assert "boom at import" in status["broken"].traceback
    assert reg.names("verifier") == ["good"]
    assert reg.origin("verifier", "good") == "good"
    assert "broken" in reg.failed_plugins


def test_strict_mode_raises(plugin_modules, monkeypatch):
    monkeypatch.setenv("XUFRAME_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'broken'.*boom at import"):
        load_plugins(Registry(), plugin_modules("good", "broken"))


def test_disabled_plugins_are_not_imported(plugin_modules, monkeypatch):
    monkeypatch.setenv("XUFRAME_DISABLE_PLUGINS", "broken, good")
    reg = Registry()
    infos = load_plugins(reg, plugin_modules("good", "broken"))
    assert [i.status for i in infos] == ["disabled", "disabled"]
    assert len(reg) == 0


def test_missing_module_gives_an_install_hint(plugin_modules):
    with pytest.warns(PluginLoadWarning):
        (info,) = load_plugins(Registry(), plugin_modules("scatter"))
    assert (
        info.error == "needs the module 'torch_scatter_not_installed_here', which is not installed"
    )


def test_extra_hint_for_known_modules():
    from xuframe._plugins import _describe

    exc = ModuleNotFoundError("No module named 'torch_scatter'", name="torch_scatter")
    assert _describe(exc).startswith("needs the det3d extra (pip install 'xuframe[det3d]')")


def test_a_plugin_that_fails_midway_is_rolled_back(plugin_modules):
    reg = Registry()
    with pytest.warns(PluginLoadWarning, match="half_bad"):
        (info,) = load_plugins(reg, plugin_modules("half_bad"))
    assert info.status == "failed" and "`name` of its own" in info.error
    assert len(reg) == 0  # "first" was registered, then rolled back


def test_hook_arguments_are_opt_in(plugin_modules):
    (info,) = load_plugins(Registry(), plugin_modules("opt_in"))
    assert info.status == "loaded" and info.components == ()


def test_name_clash_between_plugins_fails_the_second(plugin_modules, tmp_path):
    (tmp_path / "xf_clash.py").write_text(GOOD)
    reg = Registry()
    with pytest.warns(PluginLoadWarning, match="already registered"):
        infos = load_plugins(reg, plugin_modules("good", "clash"))
    assert {i.name: i.status for i in infos} == {"clash": "loaded", "good": "failed"}


def test_lazy_loading_happens_once_on_first_read(plugin_modules):
    calls = []

    def loader(reg):
        calls.append(1)
        load_plugins(reg, plugin_modules("good"))

    reg = Registry(loader=loader)
    assert calls == [] and "not loaded yet" in repr(reg)
    assert reg.names("verifier") == ["good"]
    reg.list()
    assert calls == [1]
