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


def test_one_demo_prints_every_metric_in_a_table():
    code, text = run("demo", "kmeans")
    assert code == 0
    header, rule, row = text.splitlines()[:3]
    assert set(rule) == {"─"}
    assert header.split() == ["component", "seconds", "results", "summary"]
    assert row.startswith("solver/kmeans") and "ARI=1" in row and "iterations=" in text


def test_several_demos_print_one_headline_row_each_and_json_has_everything():
    code, text = run("demo", "kmeans", "solver/convexclust")
    assert code == 0
    rows = [line for line in text.splitlines()[2:] if line.startswith("solver/")]
    assert [r.split()[0] for r in rows] == ["solver/kmeans", "solver/convexclust"]
    assert "ARI=1" in rows[0] and "iterations=" not in text  # the headline figure only
    code, text = run("demo", "kmeans", "convexclust", "--json")
    results = {r["component"]: r for r in json.loads(text)}
    assert set(results) == {"solver/kmeans", "solver/convexclust"}
    assert results["solver/kmeans"]["metrics"]["ARI"] == 1.0
    assert results["solver/kmeans"]["headline"] == "ARI"


@pytest.mark.parametrize(
    "argv",
    [["list"], ["plugins"], ["info", "stylekd", "--kind", "distiller"], ["info", "crown"]],
)
def test_tables_fit_a_100_column_terminal_and_show_no_markup(argv, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, text = run(*argv)
    assert code == 0
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "``" not in text and ":class:" not in text and ":func:" not in text


def test_list_summaries_are_whole_sentences():
    code, text = run("list", "--json")
    assert code == 0
    for entry in json.loads(text):
        summary = entry["summary"]
        assert summary.endswith((".", ")")) and "``" not in summary, entry


def test_kind_slash_name_is_accepted_where_names_are(capsys):
    assert run("info", "solver/kmeans")[0] == 0
    assert run("info", "verifier/kmeans")[0] == 2
    assert "no verifier named 'kmeans'" in capsys.readouterr().err
    assert run("info", "solvers/kmeans")[0] == 2
    assert "expected NAME or KIND/NAME" in capsys.readouterr().err


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
