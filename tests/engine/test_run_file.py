"""`xuframe train RUN.toml`, `xuframe eval`, `xuframe plot`, and the run-file checks."""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from components import CornerDetector

import xuframe
from xuframe.cli import main
from xuframe.engine import load_run, read_metrics
from xuframe.errors import ConfigError

COMPONENTS = Path(__file__).resolve().parents[1] / "components.py"

REGRESSION = """
run_dir = "{run_dir}"

[component]
factory = "components:make_regressor"

[component.config]
dropout = 0.0

[trainer]
max_steps = 30
batch_size = 16
lr = 0.01
eval_every = 10
progress = false

[data]
train = "components:make_regression_data"
eval = "components:make_regression_data"
args = {{ n = 64 }}
eval_args = {{ seed = 1, n = 32 }}

[eval]
metrics = ["components:mean_abs_error"]
"""


def cli(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


@pytest.fixture
def run_file(tmp_path):
    shutil.copy(
        COMPONENTS, tmp_path / "components.py"
    )  # "module:callable" resolves next to the file
    path = tmp_path / "run.toml"
    path.write_text(REGRESSION.format(run_dir=tmp_path / "run"))
    return path


def test_train_eval_and_plot_from_a_run_file(run_file, tmp_path):
    text = cli("train", str(run_file), "--json")
    assert text.startswith("trained 30 steps")
    metrics = json.loads(text[text.index("{") :])
    assert metrics["eval/mae"] < 1.0
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["step"] == 30
    checkpoint = tmp_path / "run" / "checkpoints" / "step-00000030.pt"
    evaluated = json.loads(cli("eval", str(run_file), "--checkpoint", str(checkpoint), "--json"))
    assert evaluated["mae"] == pytest.approx(metrics["eval/mae"], rel=1e-6)
    out = tmp_path / "curves.png"
    assert cli("plot", str(tmp_path / "run"), "-o", str(out)).strip() == str(out)
    assert out.stat().st_size > 10_000


def test_resume_from_the_cli_continues_the_run(run_file, tmp_path):
    cli("train", str(run_file))
    text = run_file.read_text().replace("max_steps = 30", "max_steps = 40")
    run_file.write_text(text)
    assert cli("train", str(run_file), "--resume").startswith("trained 40 steps")
    assert [r["step"] for r in read_metrics(tmp_path / "run") if "loss" in r][-11:] == list(
        range(30, 41)
    )


def test_registered_components_train_by_name(tmp_path):
    shutil.copy(COMPONENTS, tmp_path / "components.py")
    path = tmp_path / "det.toml"
    path.write_text(
        textwrap.dedent(
            """
            [component]
            kind = "detector"
            name = "test-detector"

            [trainer]
            max_steps = 5
            batch_size = 4
            progress = false
            plot = false

            [data]
            train = "components:make_corner_data"
            """
        )
    )
    xuframe.registry.add(CornerDetector)
    try:
        assert cli("train", str(path), "--run-dir", str(tmp_path / "r")).startswith(
            "trained 5 steps"
        )
    finally:
        xuframe.registry.remove("detector", "test-detector")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("max_steps = 30", "max_stpes = 30"),
            "unknown config key 'trainer.max_stpes'. Did you mean 'trainer.max_steps'",
        ),
        (("lr = 0.01", "lr = 'fast'"), "config key 'trainer.lr' expects float"),
        (("[trainer]", "[traner]"), "unknown key 'traner'. Did you mean 'trainer'"),
        (("eval = ", "evaluate = "), "unknown key 'data.evaluate'"),
        (
            ("factory = ", "factroy = "),
            "unknown key 'component.factroy'. Did you mean 'component.factory'",
        ),
        (("train = ", "# train = "), "[data] needs train"),
        (
            ("components:make_regressor", "components:nope"),
            "component.factory: cannot load 'components:nope'",
        ),
        (("max_steps = 30", "max_steps = [30"), "not valid TOML"),
    ],
)
def test_run_file_errors_name_the_key_path(run_file, edit, message):
    run_file.write_text(run_file.read_text().replace(*edit, 1))
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(".", r"\.")
    ):
        from xuframe.engine import train_run

        train_run(run_file)


def test_component_config_errors_name_the_key_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[component]\nkind = "solver"\nname = "kmeans"\n[component.config]\nn_inits = 2\n[data]\ntrain = "x:y"\n'
    )
    from xuframe.engine._run import build_model

    with pytest.raises(
        ConfigError,
        match="unknown config key 'component.config.n_inits'. Did you mean 'component.config.n_init'",
    ):
        build_model(load_run(path))


def test_plot_of_a_folder_without_a_log_is_a_clear_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
