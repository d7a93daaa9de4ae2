"""Reading the MovieScenes feature layout (the LGSS release) into xuframe movies.

Under ``root``, for a movie ``imdbid`` (e.g. ``tt0047396``), shots numbered ``0000 ..``:

* ``label318/{imdbid}.txt``: one line ``"shotid value"`` per shot; 1 when the shot ends a
  scene, 0 otherwise (``-1``, which the release uses for the last shot, reads as 1);
* ``place_feat/{imdbid}/shot_{shotid}.npy``: a 2048-d place feature per shot;
* ``cast_feat/{imdbid}.pkl``: ``{shotid: (faces, 512) array}``; a shot's cast feature is the
  mean over its faces, zeros when it has none;
* ``act_feat/{imdbid}.pkl``: ``{shotid: (512,) array}``;
* ``aud_feat/{imdbid}/shot_{shotid}.npy``: a 257 x 90 STFT per shot;
* ``shot_movie318/{imdbid}.txt`` (optional): ``"first_frame last_frame ..."`` per shot, for
  shot end times at ``fps`` frames per second;
* ``meta/split318.json`` (optional): ``{"train": [...], "val": [...], "test": [...]}``.

Pickles are read with :func:`xuframe.data.load_array_pickle`, which runs no code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe.data import load_array_pickle
from xuframe.errors import InputError
from xuframe_plugins.lgss.data import MODALITIES

__all__ = ["moviescenes_split", "read_moviescenes"]


def _unreadable(path: Path, what: str, exc: BaseException) -> InputError:
    """The error for a file that is not ``what``, naming it and its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(17)
        found = f"it starts with bytes {head[:16]!r}" if head else "it is empty (0 bytes)"
    except OSError:
        found = "it cannot be read"
    return InputError(f"{path}: not {what}, or truncated: {found} ({type(exc).__name__}: {exc})")


def moviescenes_split(root: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The movie ids per split from ``meta/split318.json``."""
    path = Path(root) / "meta" / "split318.json"
    if path.is_dir():
        raise InputError(f"{path} is a directory, expected the json split file")
    if not path.is_file():
        raise InputError(f"no split file at {path}")
    try:
        split = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or not json
        raise _unreadable(path, "a json split file", exc) from exc
    if not isinstance(split, dict) or not all(isinstance(v, list) for v in split.values()):
        raise InputError(f"{path}: expected a mapping of split names to lists of movie ids")
    return {str(k): [str(x) for x in v] for k, v in split.items()}


def _labels(path: Path) -> tuple[list[str], np.ndarray[Any, Any]]:
    if path.is_dir():
        raise InputError(f"{path} is a directory, expected a label text file")
    if not path.is_file():
        raise InputError(f"no label file at {path}")
    ids, values = [], []
    try:
        text = path.read_text()
    except (OSError, ValueError) as exc:
        raise _unreadable(path, "a label text file", exc) from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < 2 or parts[1] not in ("0", "1", "-1"):
            raise InputError(f"{path}:{number}: expected 'shotid 0|1', got {line!r}")
        ids.append(parts[0])
        values.append(1 if parts[1] == "-1" else int(parts[1]))
    if not ids:
        raise InputError(f"{path}: no shots")
    if not ids[0].isdigit():
        raise InputError(f"{path}: expected numeric shot ids, got {ids[0]!r}")
    expected = [str(i).zfill(len(ids[0])) for i in range(int(ids[0]), int(ids[0]) + len(ids))]
    if ids != expected:
        raise InputError(f"{path}: shot ids must be consecutive from {ids[0]}, got {ids[:5]}...")
    labels = np.array(values, dtype=np.int64)
    labels[-1] = 1
    return ids, labels


def _per_shot_npy(folder: Path, ids: list[str], what: str) -> np.ndarray[Any, Any]:
    if not folder.is_dir():
        raise InputError(f"no {what} folder at {folder}")
    files = sorted(folder.glob("shot_*.npy"))
    if len(files) != len(ids):
        raise InputError(
            f"{folder}: {len(files)} {what} files but the label file lists {len(ids)} shots"
        )
    arrays = []
    for shot in ids:
        path = folder / f"shot_{shot}.npy"
        if path.is_dir():
            raise InputError(f"{path} is a directory, expected a {what} .npy file")
        if not path.is_file():
            raise InputError(f"missing {what} file {path}")
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError, EOFError) as exc:
            raise _unreadable(path, f"a {what} .npy array", exc) from exc
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1 or arrays[0].dtype.kind not in "biuf":
        raise InputError(
            f"{folder}: expected {what} arrays of one numeric shape, found shapes "
            f"{sorted(shapes)[:3]} of dtype {arrays[0].dtype}"
        )
    return np.stack(arrays).astype(np.float32)


def _per_shot_pickle(path: Path, ids: list[str], what: str, mean: bool) -> np.ndarray[Any, Any]:
    table = load_array_pickle(path, f"a {what} pickle")
    if not isinstance(table, dict):
        raise InputError(f"{path}: expected a dict of shot id to features")
    table = {str(k): v for k, v in table.items()}
    missing = [s for s in ids if s not in table]
    if missing:
        raise InputError(f"{path}: no {what} features for shots {missing[:5]}")
    rows = [np.asarray(table[s], dtype=np.float32) for s in ids]
    if mean:  # faces x 512 -> 512; no faces -> zeros
        width = max((r.shape[-1] for r in rows if r.size), default=0)
        if width == 0:
            raise InputError(f"{path}: no shot has a {what} feature")
        rows = [
            r.reshape(-1, width).mean(0) if r.size else np.zeros(width, np.float32) for r in rows
        ]
    try:
        return np.stack(rows)
    except ValueError as exc:
        raise InputError(f"{path}: {what} features of different widths ({exc})") from exc


def read_moviescenes(
    root: str | os.PathLike[str],
    imdbid: str,
    modalities: tuple[str, ...] = MODALITIES,
    fps: float = 24.0,
) -> dict[str, Any]:
    """One movie in the layout above, as :class:`~xuframe_plugins.lgss.model.SceneSegmenter`
    takes it: a ``(N, d)`` tensor per modality (``"audio"`` ``(N, 1, 257, 90)``), ``"labels"``,
    ``"shot_end_times"`` (seconds, when the shot file exists), ``"modalities"`` and
    ``"imdbid"``. Every modality must cover exactly the shots the label file lists."""
    base = Path(root)
    if set(modalities) - set(MODALITIES) or not modalities:
        raise InputError(f"modalities must be a non-empty subset of {MODALITIES}, got {modalities}")
    ids, labels = _labels(base / "label318" / f"{imdbid}.txt")
    features: dict[str, np.ndarray[Any, Any]] = {}
    if "place" in modalities:
        features["place"] = _per_shot_npy(base / "place_feat" / imdbid, ids, "place")
    if "cast" in modalities:
        features["cast"] = _per_shot_pickle(base / "cast_feat" / f"{imdbid}.pkl", ids, "cast", True)
    if "action" in modalities:
        features["action"] = _per_shot_pickle(
            base / "act_feat" / f"{imdbid}.pkl", ids, "action", False
        )
    if "audio" in modalities:
        features["audio"] = _per_shot_npy(base / "aud_feat" / imdbid, ids, "audio")[:, None]
    for name, value in features.items():
        if not np.isfinite(value).all():
            raise InputError(f"{imdbid}: {name} features contain NaN or inf")
    movie: dict[str, Any] = {k: torch.from_numpy(v) for k, v in features.items()}
    movie["labels"] = torch.from_numpy(labels)
    movie["modalities"] = tuple(modalities)
    movie["imdbid"] = imdbid
    shots = base / "shot_movie318" / f"{imdbid}.txt"
    if shots.is_file():
        try:
            text = shots.read_text()
        except (OSError, ValueError) as exc:
            raise _unreadable(shots, "a shot text file", exc) from exc
        lines = [line.split() for line in text.splitlines() if line.strip()]
        if len(lines) != len(ids):
            raise InputError(f"{shots}: {len(lines)} shots but the label file lists {len(ids)}")
        try:
            ends = [int(parts[1]) for parts in lines]
        except (IndexError, ValueError) as exc:
            raise InputError(f"{shots}: expected 'first_frame last_frame' per line") from exc
        movie["shot_end_times"] = torch.tensor(ends, dtype=torch.float32) / fps
    return movie
