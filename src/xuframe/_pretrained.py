"""Pretrained weights that ship inside a plugin's package: ``create(..., weights="synthetic")``.

A plugin package ``pkg`` that ships weights has a folder ``pkg/weights/`` holding the files and
one ``manifest.json``::

    {"format": 1,
     "weights": [{"kind": "detector", "name": "denfi", "tag": "synthetic",
                  "file": "denfi-synthetic.pt", "sha256": "...", "bytes": 1311234,
                  "config": {...},                      # the Config the weights were trained with
                  "metrics": {"Car/bev/moderate": 0.80},  # what ``evaluate`` measures on them
                  "evaluate": "xuframe_plugins.denfi.pretrained:evaluate",
                  "command": "python examples/denfi/train_scenes.py --export-weights",
                  "description": "..."}]}

The files are ``state_dict`` s with floating tensors stored in float16 (half the size; the
metrics in the manifest are measured on exactly what ships), written by
:func:`save_pretrained` and read with ``torch.load(weights_only=True)`` after their SHA-256 is
checked. ``evaluate`` names a function ``(model) -> dict[str, float]`` that re-measures the
metrics on fixed held-out data; the test suite calls it for every shipped file, so weights
cannot rot silently.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch

from xuframe._files import write_atomic
from xuframe.errors import CheckpointError, InputError

if TYPE_CHECKING:
    from xuframe.interfaces import Component

__all__ = [
    "MANIFEST_FORMAT",
    "PretrainedWeights",
    "load_pretrained",
    "pretrained_weights",
    "save_pretrained",
    "weights_folder",
]

MANIFEST_FORMAT = 1
_FOLDER = "weights"
_MANIFEST = "manifest.json"


@attrs.frozen
class PretrainedWeights:
    """One shipped weights file of a component, as its package's manifest describes it.

    ``config`` is the configuration the weights were trained with; ``metrics`` what
    ``evaluate`` (``"module:function"``, called with the built model) measured on them;
    ``command`` the exact command that made them; ``path`` where the file lies.
    """

    kind: str
    name: str
    tag: str
    path: Path
    sha256: str
    config: Mapping[str, Any]
    metrics: Mapping[str, float]
    evaluate: str
    command: str
    description: str = ""

    def measure(self, model: Any) -> dict[str, float]:
        """Run the manifest's ``evaluate`` function on ``model`` (built with these weights)."""
        module, _, function = self.evaluate.partition(":")
        evaluate = getattr(importlib.import_module(module), function)
        with torch.no_grad():
            return {k: float(v) for k, v in evaluate(model).items()}


def weights_folder(cls: type) -> Path:
    """The ``weights/`` folder of the package that defines ``cls`` (it may not exist)."""
    module = sys.modules[cls.__module__]
    package = module.__package__ or cls.__module__
    root = Path(sys.modules[package].__file__ or "").parent
    return root / _FOLDER


def _read_manifest(folder: Path) -> list[dict[str, Any]]:
    path = folder / _MANIFEST
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable weights manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: expected a weights manifest of format {MANIFEST_FORMAT}")
    entries = data.get("weights", [])
    if not isinstance(entries, list):
        raise InputError(f"{path}: 'weights' must be a list")
    return entries


def _entry(folder: Path, raw: Mapping[str, Any]) -> PretrainedWeights:
    try:
        return PretrainedWeights(
            kind=str(raw["kind"]),
            name=str(raw["name"]),
            tag=str(raw["tag"]),
            path=folder / str(raw["file"]),
            sha256=str(raw["sha256"]),
            config=dict(raw["config"]),
            metrics={str(k): float(v) for k, v in raw["metrics"].items()},
            evaluate=str(raw["evaluate"]),
            command=str(raw["command"]),
            description=str(raw.get("description", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{folder / _MANIFEST}: a malformed entry {dict(raw)!r} ({exc})") from exc


def pretrained_weights(cls: type[Component]) -> dict[str, PretrainedWeights]:
    """The weights shipped for component class ``cls``, by tag (empty when there are none)."""
    folder = weights_folder(cls)
    found = {}
    for raw in _read_manifest(folder):
        if raw.get("kind") == cls.kind and raw.get("name") == cls.name:
            entry = _entry(folder, raw)
            found[entry.tag] = entry
    return found


def _read_weights(entry: PretrainedWeights) -> dict[str, torch.Tensor]:
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise CheckpointError(
            f"{entry.kind} {entry.name!r}: the weights {entry.tag!r} should be at {entry.path}, "
            f"but cannot be read ({exc}); reinstall xuframe"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CheckpointError(
            f"{entry.path}: SHA-256 {digest[:12]}... differs from the manifest's "
            f"{entry.sha256[:12]}...: the file is damaged or was replaced; reinstall xuframe"
        )
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{entry.path}: not a readable weights file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{entry.path}: expected a state_dict of tensors")
    return state


def load_pretrained(
    cls: type[Component], tag: str, args: tuple[Any, ...], config: Mapping[str, Any]
) -> Component:
    """Build ``cls`` with the shipped weights ``tag``: the manifest's config updated by
    ``config``, then the weights loaded (eval mode). Raises :class:`InputError` when ``cls``
    ships no such weights or ``config`` changes the shape of a weight, and
    :class:`~xuframe.errors.CheckpointError` when the file is missing or damaged."""
    if not isinstance(tag, str):
        raise InputError(f"weights: expected a tag (str) such as 'synthetic', got {tag!r}")
    available = pretrained_weights(cls)
    if tag not in available:
        known = ", ".join(sorted(available)) or "none"
        raise InputError(f"{cls.kind} {cls.name!r} ships no weights {tag!r} (it ships: {known})")
    entry = available[tag]
    model = cls.from_config({**entry.config, **dict(config)}, *args)
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"{cls.kind} {cls.name!r} has no weights to load (not a torch Module)")
    state = _read_weights(entry)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        changed = sorted(k for k, v in dict(config).items() if entry.config.get(k) != v)
        raise InputError(
            f"{cls.kind} {cls.name!r}: the weights {tag!r} do not fit this model"
            + (f" (your config changes {', '.join(changed)})" if changed else "")
            + f": {' '.join(line.strip() for line in str(exc).splitlines()[:2])}"
        ) from exc
    return model.eval()


def _compact(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float16 for floating tensors that fit it, everything else as it is, all contiguous."""
    out = {}
    for key, value in state.items():
        tensor = value.detach().cpu()
        finite = tensor.is_floating_point() and bool(torch.isfinite(tensor).all())
        fits = finite and (tensor.numel() == 0 or float(tensor.abs().max()) < 6.0e4)
        out[key] = (tensor.half() if fits else tensor).contiguous().clone()
    return out


def save_pretrained(
    model: Component,
    tag: str,
    *,
    evaluate: str,
    command: str,
    description: str = "",
    folder: str | os.PathLike[str] | None = None,
) -> PretrainedWeights:
    """Ship ``model``'s weights as ``tag``: write them compactly (float16) to ``folder``
    (default: the ``weights/`` folder of the model's own package), measure them with
    ``evaluate`` (``"module:function"``, on the weights exactly as written) and record file,
    hash, config, metrics and ``command`` in the folder's ``manifest.json``. Both files are
    written atomically; an entry of the same kind, name and tag is replaced."""
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"save_pretrained: expected a torch Module component, got {model!r}")
    cls = type(model)
    target = Path(folder) if folder is not None else weights_folder(cls)
    target.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(_compact(model.state_dict()), buffer)
    data = buffer.getvalue()
    file = f"{cls.name}-{tag}.pt"
    write_atomic(target / file, data)
    raw: dict[str, Any] = {
        "kind": cls.kind,
        "name": cls.name,
        "tag": tag,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "config": json.loads(json.dumps(attrs.asdict(model.config))),
        "metrics": {},
        "evaluate": evaluate,
        "command": command,
        "description": description,
    }
    shipped = _entry(target, raw)
    reloaded = cls.from_config(raw["config"])
    assert isinstance(reloaded, torch.nn.Module)
    reloaded.load_state_dict(_read_weights(shipped), strict=True)
    raw["metrics"] = shipped.measure(reloaded.eval())
    entries = [
        e
        for e in _read_manifest(target)
        if (e.get("kind"), e.get("name"), e.get("tag")) != (cls.kind, cls.name, tag)
    ]
    entries.append(raw)
    entries.sort(key=lambda e: (e["kind"], e["name"], e["tag"]))
    text = json.dumps({"format": MANIFEST_FORMAT, "weights": entries}, indent=2) + "\n"
    write_atomic(target / _MANIFEST, text.encode("utf-8"))
    return _entry(target, raw)
