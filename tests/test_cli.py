from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import ClassVar

import pytest
from components import IntervalVerifier

import xuframe
from xuframe.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_plugins_table_and_json():
    code, text = run("plugins")
    assert code == 0 and "kmeans" in text and "solver/kmeans" in text
    code, text = run("plugins", "--json")
    (kmeans,) = [p for p in json.loads(text) if p["name"] == "kmeans"]
    assert kmeans["status"] == "loaded" and kmeans["components"] == ["solver/kmeans"]
    assert kmeans["version"] == xuframe.__version__


def test_list_and_info():
    code, text = run("list", "solver")
    assert code == 0 and "kmeans" in text
    code, text = run("list", "--json", "--pattern", "km*")
    assert [c["name"] for c in json.loads(text)] == ["kmeans"]
    code, text = run("info", "kmeans")
    assert code == 0
    assert "n_init" in text and "restarts from different k-means++ seeds" in text and "300" in text


def test_unknown_name_is_a_clear_error(capsys):
    code, _ = run("info", "kmean")
    assert code == 2
    assert "Did you mean 'kmeans'?" in capsys.readouterr().err


def test_demo_prints_one_results_table():
    code, text = run("demo", "kmeans")
    assert code == 0
    header, rule, row = text.splitlines()[:3]
    assert set(rule) == {"-", " "}
    assert header.split() == ["component", "seconds", "results", "summary"]
    assert row.startswith("solver/kmeans") and "ARI=1" in row
    # two named demos in JSON (every demo runs once in the conformance tests already)
    code, text = run("demo", "kmeans", "convexclust", "--json")
    results = {r["component"]: r for r in json.loads(text)}
    assert set(results) == {"solver/kmeans", "solver/convexclust"}
    assert results["solver/kmeans"]["metrics"]["ARI"] == 1.0


def test_a_failing_demo_is_reported_and_sets_the_exit_code(monkeypatch):
    class Exploding(IntervalVerifier):
        name: ClassVar[str] = "exploding"

        @classmethod
        def demo(cls, seed=0):
            raise RuntimeError("kaput")

    xuframe.registry.add(Exploding)
    try:
        code, text = run("demo", "exploding", "kmeans")  # not all: each runs in conformance
    finally:
        xuframe.registry.remove("verifier", "exploding")
    assert code == 1
    assert "verifier/exploding" in text and "RuntimeError: kaput" in text
    assert "solver/kmeans" in text  # the others still ran


@pytest.mark.parametrize("argv", [["--version"], ["list", "--help"]])
def test_console_script_runs(argv):
    result = subprocess.run(
        [sys.executable, "-m", "xuframe", *argv], capture_output=True, text=True, check=True
    )
    assert "xuframe" in result.stdout or "usage" in result.stdout
