"""examples/third_party_plugin, a separate distribution, is discovered through its entry point.

The distribution is really built and installed (pip, into a temporary target directory that is
then put on sys.path), so discovery goes through importlib.metadata exactly as it does for a
plugin installed into a virtual environment.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xuframe import Registry
from xuframe._plugins import ENTRY_POINT_GROUP, load_plugins
from xuframe.testing import check_component

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_entry_point_is_discovered_and_passes_the_kit(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    eps = [ep for ep in md.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "threshold"]
    assert len(eps) == 1 and eps[0].dist.metadata["Name"] == "xuframe-threshold"
    reg = Registry()
    (info,) = load_plugins(reg, eps)
    assert info.status == "loaded" and info.version == "0.1.0"
    assert info.components == ("detector/threshold",)
    cls = reg.get("detector", "threshold")
    check_component(cls)
    result = cls.demo(seed=0)
    assert result.metrics["frame_F1"] > 0.8  # the learned threshold finds the planted segments


def test_cli_lists_it_next_to_the_builtins(installed):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])
    )
    out = subprocess.run(
        [sys.executable, "-m", "xuframe", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["threshold"]["components"] == ["detector/threshold"]
    assert plugins["kmeans"]["status"] == "loaded"


@pytest.mark.slow
def test_installs_into_a_fresh_venv(tmp_path):
    """The whole road a user takes: a new venv, pip install xuframe and the plugin, run the CLI."""
    import venv

    venv.create(tmp_path / "env", with_pip=True)
    bindir = tmp_path / "env" / ("Scripts" if os.name == "nt" else "bin")
    root = EXAMPLE.parents[1]
    subprocess.run(
        [
            str(bindir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "torch==2.13.0",
            str(root),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(bindir / "xuframe"), "plugins", "--json"], check=True, capture_output=True, text=True
    ).stdout
    status = {p["name"]: p["status"] for p in json.loads(out)}
    assert status["threshold"] == "loaded" and status["kmeans"] == "loaded"
    assert set(status.values()) == {"loaded"}
    check = "from xuframe.testing import check_component; import xuframe_threshold as t; check_component(t.ThresholdSegmenter)"
    subprocess.run([str(bindir / "python"), "-c", check], check=True)
    demo = subprocess.run(
        [str(bindir / "xuframe"), "demo", "threshold"], check=True, capture_output=True, text=True
    )
    assert "detector/threshold" in demo.stdout
