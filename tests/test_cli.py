from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from typing import ClassVar

import pytest
from components import IntervalVerifier

import xuframe
from xuframe._config import describe_config
from xuframe.cli import _plain_text, main


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
    closing = text.splitlines()[-1]
    assert re.fullmatch(r"1 of 2 demos passed in \d+\.\d s; failed: verifier/exploding", closing), (
        closing
    )


@pytest.mark.parametrize("argv", [["--version"], ["list", "--help"]])
def test_console_script_runs(argv):
    result = subprocess.run(
        [sys.executable, "-m", "xuframe", *argv], capture_output=True, text=True, check=True
    )
    assert "xuframe" in result.stdout or "usage" in result.stdout


def _fits(text: str, columns: int, prose: list[str]) -> None:
    """No line of ``text`` is wider than ``columns``, and every word of ``prose`` is printed
    whole on one line (a word folded across two lines shows as two pieces)."""
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns, max(lines, key=len)
    printed = {word for line in lines for word in line.split()}
    for sentence in prose:
        split = [word for word in sentence.split() if word not in printed]
        assert not split, (sentence, split)


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
def test_list_and_plugins_fit_the_terminal_without_splitting_a_word(columns, monkeypatch):
    """Was: at 60 columns rich folded 'pillars-baselin|e', 'uncertainty-awar|e' and
    'xuframe_plugins.|stylekd.stylegan|2.' over two lines."""
    monkeypatch.setenv("COLUMNS", str(columns))
    listed = json.loads(run("list", "--json")[1])
    code, text = run("list")
    assert code == 0
    _fits(text, columns, [f"{c['kind']} {c['name']} {c['plugin']} {c['summary']}" for c in listed])
    plugins = json.loads(run("plugins", "--json")[1])
    code, text = run("plugins")
    assert code == 0
    _fits(text, columns, [p["error"] or ", ".join(p["components"]) for p in plugins])


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
@pytest.mark.parametrize(
    ("kind", "name"), [("detector", "denfi"), ("distiller", "kd"), ("verifier", "crown")]
)
def test_info_fits_the_terminal_without_splitting_a_word(kind, name, columns, monkeypatch):
    """Was: the docstring came out as written (lines of 90-110 columns at any width) and the
    config table folded 'pillar_channe|ls', 'score_thresho|ld'."""
    monkeypatch.setenv("COLUMNS", str(columns))
    code, text = run("info", f"{kind}/{name}")
    assert code == 0
    cls = xuframe.get_component_class(kind, name)
    fields = describe_config(cls.Config)
    prose = [_plain_text(cls.__doc__ or "")]
    prose += [f"{f.name} {f.type} {'' if f.required else repr(f.default)} {f.doc}" for f in fields]
    _fits(text, columns, prose)


class Documented(IntervalVerifier):
    """A verifier with a docstring of every shape: this first paragraph is long enough that
    a sixty-column terminal has to wrap it over several lines, which it does on spaces.

    Steps:

    - the first item of a list, long enough to wrap under its own text rather than under
      the dash that starts it;
    - the second item.

    Example::

        bounds = verifier.bounds(model, x, eps=0.1)   # a code line wider than sixty columns stays as it is

    >>> 1 + 1
    2
    """

    name: ClassVar[str] = "documented"


def test_info_wraps_the_docstring_to_the_terminal_and_keeps_code_as_it_is(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    xuframe.registry.add(Documented)
    try:
        code, text = run("info", "verifier/documented")
    finally:
        xuframe.registry.remove("verifier", "documented")
    assert code == 0
    lines = text.splitlines()
    code_line = [line for line in lines if "bounds = verifier.bounds" in line]
    assert code_line == [
        "    bounds = verifier.bounds(model, x, eps=0.1)   # a code line wider than sixty "
        "columns stays as it is"
    ]
    assert all(len(line) <= 60 for line in lines if line not in code_line)
    start = lines.index("Steps:")
    paragraph = lines[2:start]
    assert paragraph[0].startswith("A verifier with a docstring") and len(paragraph) >= 3
    assert paragraph[-1] == ""  # the blank line between paragraphs stays
    item = lines[start + 2 : lines.index("- the second item.")]
    assert item[0].startswith("- the first item") and len(item) >= 2
    assert all(line.startswith("  ") and not line.startswith("   ") for line in item[1:])
    assert ">>> 1 + 1" in lines and lines[lines.index(">>> 1 + 1") + 1] == "2"


class Wordy(IntervalVerifier):
    """A verifier whose demo summary holds a word wider than the summary column."""

    name: ClassVar[str] = "wordy"

    @classmethod
    def demo(cls, seed: int = 0) -> xuframe.DemoResult:
        return xuframe.DemoResult(
            {"margin": 0.5},
            summary="results written to /a/rather/long/path/that/no/column/can/hold.json "
            "after a summary of some length, in words of ordinary size",
        )


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
def test_demo_rows_fit_the_terminal_without_splitting_a_word(columns, monkeypatch, tmp_path):
    """Was: the rows were laid out for 100 columns or more (71 at COLUMNS=60) and a picture's
    path was folded over two lines."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.chdir(tmp_path)  # a short path: one wider than the terminal has to fold
    xuframe.registry.add(Wordy)
    try:
        code, text = run("demo", "kmeans", "wordy", "--out", "pictures")
    finally:
        xuframe.registry.remove("verifier", "wordy")
    assert code == 0
    prose = [
        "solver/kmeans ARI=1 4 blobs in 5-D, 600 points: ARI 1.000 against the true clusters",
        "[wrote pictures/solver-kmeans.png]",
        "verifier/wordy margin=0.5 " + Wordy.demo().summary,
    ]
    _fits(text, columns, prose)
    assert re.fullmatch(r"2 of 2 demos passed in \d+\.\d s", text.splitlines()[-1])


def test_the_closing_line_counts_one_demo_and_goes_to_stderr_with_json(capsys):
    code, text = run("demo", "kmeans")
    assert code == 0 and re.fullmatch(r"1 of 1 demo passed in \d+\.\d s", text.splitlines()[-1])
    code, text = run("demo", "kmeans", "--json")
    assert code == 0 and json.loads(text)[0]["component"] == "solver/kmeans"  # JSON only
    assert "1 of 1 demo passed in" in capsys.readouterr().err
