"""Pretrained weights: writing, reading, refusing damaged files, and every shipped file's metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from components import LinearGenerator

import xuframe
import xuframe_plugins
from xuframe import _pretrained
from xuframe.engine import save_pretrained
from xuframe.errors import CheckpointError, InputError
from xuframe_plugins.kd import ResNetCifar
from xuframe_plugins.kd.pretrained import NETWORK_KIND, load_network, network_weights
from xuframe_plugins.sskd import ProjectionHead

WHEEL_BUDGET = 15 * 2**20  # bytes of shipped weights in all


def output_mean(model):
    """The evaluate function of the test weights: one number that depends on every weight."""
    return {"mean": float(model(torch.ones(2, model.latent_dim)).mean())}


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """Registers LinearGenerator with weights 'test' written to tmp_path."""
    monkeypatch.setattr(_pretrained, "weights_folder", lambda cls: tmp_path)
    xuframe.registry.add(LinearGenerator)
    model = LinearGenerator({"z_dim": 6})
    with torch.no_grad():
        model.syn.weight.mul_(3.0)
    entry = save_pretrained(
        model, "test", evaluate=f"{__name__}:output_mean", command="make test", folder=tmp_path
    )
    yield model, entry, tmp_path
    xuframe.registry.remove("generator", "test-generator")


def test_saved_weights_load_with_their_config_and_reproduce_the_metric(shipped):
    model, entry, folder = shipped
    manifest = json.loads((folder / "manifest.json").read_text())
    (raw,) = manifest["weights"]
    assert raw["config"] == {"z_dim": 6} and raw["command"] == "make test"
    assert raw["bytes"] == entry.path.stat().st_size
    loaded = xuframe.create("generator", "test-generator", weights="test")
    assert loaded.config.z_dim == 6 and not loaded.training
    for key, value in model.state_dict().items():  # float16 on disk: half-precision round-off
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=1e-3, atol=1e-3)
    assert entry.measure(loaded) == pytest.approx(raw["metrics"], abs=0)
    assert xuframe.pretrained_weights("generator", "test-generator") == {"test": entry}


def test_saving_again_replaces_the_entry_and_keeps_the_others(shipped):
    model, _, folder = shipped
    save_pretrained(model, "other", evaluate=f"{__name__}:output_mean", command="c", folder=folder)
    save_pretrained(model, "test", evaluate=f"{__name__}:output_mean", command="d", folder=folder)
    entries = xuframe.pretrained_weights("generator", "test-generator")
    assert sorted(entries) == ["other", "test"] and entries["test"].command == "d"


def test_unknown_tags_damaged_files_and_misfitting_configs_are_named(shipped):
    _, entry, _ = shipped
    with pytest.raises(InputError, match=r"ships no weights 'best' \(it ships: test\)"):
        xuframe.create("generator", "test-generator", weights="best")
    with pytest.raises(InputError, match="your config changes z_dim"):
        xuframe.create("generator", "test-generator", weights="test", z_dim=7)
    with pytest.raises(InputError, match="ships no weights 'synthetic' \\(it ships: none\\)"):
        xuframe.create("solver", "kmeans", weights="synthetic")
    data = bytearray(entry.path.read_bytes())
    data[-20] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 .* differs from the manifest"):
        xuframe.create("generator", "test-generator", weights="test")
    entry.path.unlink()
    with pytest.raises(CheckpointError, match="cannot be read"):
        xuframe.create("generator", "test-generator", weights="test")


def every_shipped():
    return [
        entry
        for cls in xuframe.list_components()
        for entry in _pretrained.pretrained_weights(cls).values()
    ]


def test_shipped_weights_fit_the_wheel_budget():
    """Every file in every plugin's weights/ folder: components' and plain networks' alike."""
    plugins = Path(xuframe_plugins.__path__[0])
    files = [p for p in plugins.glob("*/weights/*") if p.is_file()]
    assert {e.path for e in every_shipped()} <= set(files)
    assert sum(p.stat().st_size for p in files) <= WHEEL_BUDGET


# Networks that ship without being components (kind "network"), and how each is built.
NETWORKS = {
    ("xuframe_plugins.kd", "resnet20"): ResNetCifar,
    ("xuframe_plugins.sskd", "teacher-head"): ProjectionHead,
}


def every_shipped_network():
    plugins = Path(xuframe_plugins.__path__[0])
    found = []
    for manifest in sorted(plugins.glob("*/weights/manifest.json")):
        package = f"xuframe_plugins.{manifest.parent.parent.name}"
        for raw in json.loads(manifest.read_text())["weights"]:
            if raw["kind"] == NETWORK_KIND:
                found.append((package, raw["name"], raw["tag"]))
    return found


def test_every_shipped_network_has_a_builder_here():
    assert {(package, name) for package, name, _ in every_shipped_network()} == set(NETWORKS)


@pytest.mark.parametrize("where", every_shipped_network(), ids=lambda w: f"{w[1]}:{w[2]}")
def test_every_shipped_network_reproduces_its_manifest_metrics(where):
    """The distillers' teacher and SSKD's head, as the components' weights above."""
    package, name, tag = where
    entry = network_weights(package, name)[tag]
    model = load_network(package, name, tag, NETWORKS[(package, name)])
    assert not model.training
    measured = entry.measure(model)
    for key, value in entry.metrics.items():
        assert measured[key] == pytest.approx(value, abs=0.01), key


@pytest.mark.parametrize("entry", every_shipped(), ids=lambda e: f"{e.kind}/{e.name}:{e.tag}")
def test_every_shipped_file_reproduces_its_manifest_metrics(entry):
    """Weights cannot rot silently: each file still reaches what its manifest says."""
    torch.manual_seed(0)
    model = xuframe.create(entry.kind, entry.name, weights=entry.tag)
    measured = entry.measure(model)
    for key, value in entry.metrics.items():
        assert measured[key] == pytest.approx(value, abs=0.01), key
