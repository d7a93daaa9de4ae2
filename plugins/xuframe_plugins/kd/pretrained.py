"""Shipped networks of the distillers: the trained digits teacher the demos start from.

A teacher is a plain ``torch.nn.Module`` (a :class:`~xuframe_plugins.kd.ResNetCifar`), not a
registered component, so it cannot go through ``xuframe.create(..., weights=...)``. It ships
the same way as a component's weights all the same: a float16 ``state_dict`` in the plugin's
``weights/`` folder, an entry in that folder's ``manifest.json`` (kind ``"network"``; file
hash, the config the network was built with, the exact command that made it, the metric
``evaluate`` measured on exactly what ships), read back with ``torch.load(weights_only=True)``
after the SHA-256 is checked. The tests re-measure every entry.

The ``digits`` teacher is a ResNet-20 trained by
``python examples/distill/digits_teacher.py --export-weights digits`` on scikit-learn's
1,347 training digits (8 px, the digits' own size); :func:`evaluate` measures its accuracy on
the 450 held-out digits (``xuframe.data.digits("test", size=8)``).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xuframe import PretrainedWeights
from xuframe._files import write_atomic
from xuframe._pretrained import MANIFEST_FORMAT, _compact, _entry, _read_manifest, _read_weights
from xuframe.errors import InputError
from xuframe_plugins.kd.nets import ResNetCifar

__all__ = [
    "NETWORK_KIND",
    "TEACHER_NAME",
    "TEACHER_SIZE",
    "evaluate",
    "load_network",
    "network_weights",
    "pretrained_teacher",
    "save_network",
]

#: The manifest ``kind`` of a shipped network that is not a registered component.
NETWORK_KIND = "network"
#: The name of the distillers' digits teacher in kd's manifest.
TEACHER_NAME = "resnet20"
#: The image size of the digits teacher: 8 px, the digits' own resolution.
TEACHER_SIZE = 8


def _folder(package: str) -> Path:
    return Path(sys.modules[package].__file__ or "").parent / "weights"


def network_weights(package: str, name: str) -> dict[str, PretrainedWeights]:
    """The networks ``name`` shipped in plugin ``package`` (e.g. ``"xuframe_plugins.kd"``),
    by tag (empty when there are none). Raises :class:`~xuframe.errors.InputError` for a
    malformed manifest."""
    folder = _folder(package)
    found = {}
    for raw in _read_manifest(folder):
        if raw.get("kind") == NETWORK_KIND and raw.get("name") == name:
            entry = _entry(folder, raw)
            found[entry.tag] = entry
    return found


def load_network(package: str, name: str, tag: str, build: Callable[..., nn.Module]) -> nn.Module:
    """``build(**config)`` with the shipped weights ``tag`` of network ``name`` loaded, in eval
    mode. Raises :class:`~xuframe.errors.InputError` when no such weights ship and
    :class:`~xuframe.errors.CheckpointError` when the file is missing, damaged (SHA-256) or
    does not fit the network."""
    available = network_weights(package, name)
    if tag not in available:
        known = ", ".join(sorted(available)) or "none"
        raise InputError(f"{package} ships no {name!r} weights {tag!r} (it ships: {known})")
    entry = available[tag]
    net = build(**entry.config)
    net.load_state_dict(_read_weights(entry), strict=True)
    return net.eval()


def save_network(
    net: nn.Module,
    package: str,
    name: str,
    tag: str,
    *,
    config: Mapping[str, Any],
    build: Callable[..., nn.Module],
    evaluate: str,
    command: str,
    description: str = "",
) -> PretrainedWeights:
    """Ship ``net`` as network ``name`` with tag ``tag`` in plugin ``package``'s ``weights/``
    folder: the ``state_dict`` in float16, then ``build(**config)`` reloads it and
    ``evaluate`` (``"module:function"``) measures exactly what ships; file, hash, config,
    metrics and ``command`` go to the manifest (both written atomically; an entry of the
    same name and tag is replaced)."""
    folder = _folder(package)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(_compact(net.state_dict()), buffer)
    data = buffer.getvalue()
    file = f"{name}-{tag}.pt"
    write_atomic(folder / file, data)
    raw: dict[str, Any] = {
        "kind": NETWORK_KIND,
        "name": name,
        "tag": tag,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "config": json.loads(json.dumps(dict(config))),
        "metrics": {},
        "evaluate": evaluate,
        "command": command,
        "description": description,
    }
    reloaded = build(**raw["config"])
    reloaded.load_state_dict(_read_weights(_entry(folder, raw)), strict=True)
    raw["metrics"] = _entry(folder, raw).measure(reloaded.eval())
    key = (NETWORK_KIND, name, tag)
    entries = [
        e for e in _read_manifest(folder) if (e.get("kind"), e.get("name"), e.get("tag")) != key
    ]
    entries.append(raw)
    entries.sort(key=lambda e: (e["kind"], e["name"], e["tag"]))
    text = json.dumps({"format": MANIFEST_FORMAT, "weights": entries}, indent=2) + "\n"
    write_atomic(folder / "manifest.json", text.encode("utf-8"))
    return _entry(folder, raw)


def pretrained_teacher(tag: str = "digits") -> ResNetCifar:
    """The shipped digits teacher (a ResNet-20 for 1-channel digits of :data:`TEACHER_SIZE`
    px, 10 classes), in eval mode. Raises
    :class:`~xuframe.errors.InputError` for an unknown tag."""
    net = load_network("xuframe_plugins.kd", TEACHER_NAME, tag, ResNetCifar)
    assert isinstance(net, ResNetCifar)
    return net


def evaluate(model: nn.Module) -> dict[str, float]:
    """Top-1 ``accuracy`` of a digits classifier ``(B, 1, 8, 8) -> (B, 10)`` on the 450
    held-out digits (``xuframe.data.digits("test", size=TEACHER_SIZE)``)."""
    from xuframe.data import digits
    from xuframe_plugins.kd.training import accuracy

    return {"accuracy": accuracy(model, digits("test", size=TEACHER_SIZE))}
