"""Every snippet of the README runs, and prints what the README says it shows.

Python blocks run as they are, each in a fresh interpreter; blocks fenced ``python no-run``
are templates for the reader's own package (the third-party plugin test covers them);
``>>>`` blocks must raise exactly the errors they show; ``$ xuframe`` lines must exit 0.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import xuframe

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = [
    (m.group(1).strip(), m.group(2)) for m in re.finditer(r"```(.*?)\n(.*?)```", README, re.S)
]
SCRIPTS = [code for info, code in BLOCKS if info == "python" and not code.startswith(">>>")]
SESSIONS = [code for info, code in BLOCKS if info == "python" and code.startswith(">>>")]
COMMANDS = [
    line[2:].split("#")[0].strip()
    for info, code in BLOCKS
    if info == "console"
    for line in code.splitlines()
    if line.startswith("$ xuframe ") and " demo " not in line + " "
]


def run_script(code: str, tmp_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_readme_has_the_snippets_this_file_checks():
    assert len(SCRIPTS) == 4 and len(SESSIONS) == 2 and len(COMMANDS) == 3
    infos = {info for info, _ in BLOCKS}
    assert infos <= {"bash", "console", "python", "python no-run", "toml"}


def test_kmeans_snippet_finds_the_four_blobs(tmp_path):
    (code,) = [c for c in SCRIPTS if '"kmeans"' in c]
    assert run_script(code, tmp_path).split() == ["4", "1.0"]


def test_verifier_snippet_certifies_most_digits(tmp_path):
    (code,) = [c for c in SCRIPTS if '"crown"' in c]
    out = run_script(code, tmp_path)
    verified_error = float(out.split(":")[-1])
    assert 0.0 <= verified_error < 0.2


def test_convex_clustering_snippet_recovers_the_truth_inside_its_interval(tmp_path):
    (code,) = [c for c in SCRIPTS if "recovery_interval" in c]
    out = run_script(code, tmp_path).split()
    assert out[-2:] == ["4", "1.0"]  # 4 clusters, ARI 1


def test_detector_snippet_finds_objects_with_shipped_weights(tmp_path):
    (code,) = [c for c in SCRIPTS if '"denfi"' in c]
    if not xuframe.pretrained_weights("detector", "denfi"):
        pytest.skip("no denfi weights are shipped in this checkout")
    words = run_script(code, tmp_path).split()
    found, truth = int(words[0]), int(words[3])
    assert truth // 2 <= found <= 2 * truth  # most objects of the held-out scan, not a flood


@pytest.mark.parametrize("session", SESSIONS)
def test_error_examples_raise_what_they_show(session):
    lines = session.strip().splitlines()
    for statement, shown in zip(lines[::2], lines[1::2], strict=True):
        with pytest.raises(xuframe.errors.XuframeError) as info:
            eval(statement[4:], {"xuframe": xuframe})
        assert f"{type(info.value).__name__}: {info.value}" == shown


@pytest.mark.parametrize("command", COMMANDS)
def test_console_commands_exit_0(command):
    from xuframe.cli import main

    assert main(shlex.split(command)[1:]) == 0
