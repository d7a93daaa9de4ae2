"""The MovieScenes feature-layout reader, on a small movie the test writes."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from xuframe.errors import InputError
from xuframe_plugins.lgss.moviescenes import moviescenes_split, read_moviescenes


def _write_movie(root, imdbid="tt0000001", n=6, seed=0):
    rng = np.random.default_rng(seed)
    (root / "label318").mkdir(parents=True, exist_ok=True)
    labels = ["0", "1", "0", "0", "1", "-1"][:n]
    (root / "label318" / f"{imdbid}.txt").write_text(
        "".join(f"{i:04d} {v}\n" for i, v in enumerate(labels))
    )
    place = rng.normal(size=(n, 8)).astype(np.float32)
    audio = rng.random(size=(n, 5, 4)).astype(np.float32)
    for name, arrays in (("place_feat", place), ("aud_feat", audio)):
        folder = root / name / imdbid
        folder.mkdir(parents=True, exist_ok=True)
        for i, a in enumerate(arrays):
            np.save(folder / f"shot_{i:04d}.npy", a)
    faces = {f"{i:04d}": rng.normal(size=(i % 3, 4)) for i in range(n)}  # shot 0000: no faces
    actions = {f"{i:04d}": rng.normal(size=4) for i in range(n)}
    for name, table in (("cast_feat", faces), ("act_feat", actions)):
        (root / name).mkdir(exist_ok=True)
        with open(root / name / f"{imdbid}.pkl", "wb") as handle:
            pickle.dump(table, handle, protocol=2)
    (root / "shot_movie318").mkdir(exist_ok=True)
    (root / "shot_movie318" / f"{imdbid}.txt").write_text(
        "".join(f"{24 * i} {24 * i + 23} 0 0\n" for i in range(n))
    )
    return place, audio, faces, actions


def test_reads_every_modality_labels_and_times(tmp_path):
    place, audio, faces, actions = _write_movie(tmp_path)
    assert torch.equal(
        read_moviescenes(tmp_path, "tt0000001")["audio"][:, 0], torch.from_numpy(audio)
    )
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "split318.json").write_text(
        json.dumps({"train": ["tt0000001"], "test": []})
    )
    movie = read_moviescenes(tmp_path, "tt0000001")
    assert torch.equal(movie["place"], torch.from_numpy(place))
    assert movie["audio"].shape == (6, 1, 5, 4)
    assert torch.allclose(movie["cast"][0], torch.zeros(4))  # no faces
    assert torch.allclose(movie["cast"][2], torch.from_numpy(faces["0002"].mean(0)).float())
    assert torch.allclose(movie["action"][3], torch.from_numpy(actions["0003"]).float())
    assert movie["labels"].tolist() == [0, 1, 0, 0, 1, 1]
    assert torch.allclose(movie["shot_end_times"], (24 * torch.arange(6) + 23) / 24.0)
    assert moviescenes_split(tmp_path)["train"] == ["tt0000001"]
    only = read_moviescenes(tmp_path, "tt0000001", modalities=("place",))
    assert "cast" not in only and only["modalities"] == ("place",)


def test_reader_rejects_disagreeing_and_unsafe_files(tmp_path):
    _write_movie(tmp_path)
    os.remove(tmp_path / "place_feat" / "tt0000001" / "shot_0005.npy")
    with pytest.raises(InputError, match="5 place files but the label file lists 6 shots"):
        read_moviescenes(tmp_path, "tt0000001")
    _write_movie(tmp_path)

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "act_feat" / "tt0000001.pkl", "wb") as handle:
        pickle.dump({"0000": Exploit()}, handle)
    with pytest.raises(InputError, match="refusing to load"):
        read_moviescenes(tmp_path, "tt0000001")
    _write_movie(tmp_path)
    with open(tmp_path / "act_feat" / "tt0000001.pkl", "wb") as handle:
        pickle.dump({"0000": np.zeros(4)}, handle)
    with pytest.raises(InputError, match="no action features for shots"):
        read_moviescenes(tmp_path, "tt0000001")
    _write_movie(tmp_path)
    (tmp_path / "label318" / "tt0000001.txt").write_text("0000 0\n0002 1\n")
    with pytest.raises(InputError, match="consecutive"):
        read_moviescenes(tmp_path, "tt0000001", modalities=("place",))
    (tmp_path / "label318" / "tt0000001.txt").write_text("0000 yes\n")
    with pytest.raises(InputError, match="shotid 0|1"):
        read_moviescenes(tmp_path, "tt0000001")
    with pytest.raises(InputError, match="no label file"):
        read_moviescenes(tmp_path, "tt9999999")
