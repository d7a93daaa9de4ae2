"""LGSS's boundary model and synthetic movies."""

from __future__ import annotations

import pytest
import torch

from xuframe import Segments1D
from xuframe.errors import ConfigError, InputError
from xuframe.metrics import boundaries_from_scenes
from xuframe_plugins.lgss.data import MODALITIES, synthetic_movie
from xuframe_plugins.lgss.model import BoundaryNet, SceneSegmenter, _windows

SMALL = {
    "place_dim": 16,
    "cast_dim": 8,
    "action_dim": 8,
    "audio_dim": 8,
    "channels": 8,
    "hidden": 8,
}


def _movie(n=30, seed=0, **kw):
    return synthetic_movie(n, dims=(16, 8, 8), audio_shape=(8, 4), seed=seed, **kw)


def test_synthetic_movies_are_seeded_and_consistent():
    a, b = _movie(seed=3), _movie(seed=3)
    assert all(torch.equal(a[k], b[k]) for k in ("place", "cast", "action", "audio", "labels"))
    assert a["place"].shape == (30, 16) and a["audio"].shape == (30, 1, 8, 4)
    assert int(a["labels"][-1]) == 1 and set(a["labels"].tolist()) == {0, 1}
    assert bool((a["shot_end_times"].diff() > 0).all())
    only = _movie(modalities=("place", "cast"))
    assert "audio" not in only and only["modalities"] == ("place", "cast")
    with pytest.raises(InputError, match="subset"):
        _movie(modalities=("smell",))


def test_windows_hold_half_the_shots_before_and_half_after_each_boundary():
    f = torch.arange(6.0)[:, None]
    w = _windows(f, 4)[:, :, 0]
    assert w.tolist()[0] == [0, 0, 1, 2]  # edge shot repeated
    assert w.tolist()[2] == [1, 2, 3, 4]  # the boundary after shot 2
    assert w.shape == (5, 4)


def test_boundary_net_relation_and_difference_branches():
    torch.manual_seed(0)
    net = BoundaryNet(window=4, channels=3)
    x = torch.randn(5, 4, 7)
    out = net(x)
    assert out.shape == (5, 7 + 3)
    same = x.clone()
    same[:, 2:] = same[:, :2]  # the shots after repeat the shots before: cosine 1
    assert torch.allclose(net(same)[:, 7:], torch.ones(5, 3), atol=1e-5)
    assert BoundaryNet(4, 3, relation=False)(x).shape == (5, 3)


def test_without_lstm_each_boundary_sees_only_its_window():
    """``lstm=False`` is the clip level alone: changing shot 20 moves only the boundaries whose
    4-shot window holds it (after shots 18..21); the LSTM spreads it along the sequence."""
    torch.manual_seed(0)
    movie = _movie(40)
    changed = {**movie, "place": movie["place"].clone()}
    changed["place"][20] += 5.0
    for lstm, moved in ((False, {18, 19, 20, 21}), (True, set(range(10, 30)))):
        model = SceneSegmenter({**SMALL, "modalities": ("place",), "lstm": lstm}).eval()
        diff = model.boundary_probabilities(changed) != model.boundary_probabilities(movie)
        assert set(torch.nonzero(diff).flatten().tolist()) == moved
    assert SceneSegmenter({**SMALL, "lstm": False}).branches["place"].lstm is None


def test_training_lowers_the_loss_and_predict_tiles_the_movie():
    torch.manual_seed(0)
    model = SceneSegmenter(SMALL)
    movies = [_movie(40, seed=s) for s in range(3)]
    batch = {"inputs": movies, "labels": [m["labels"] for m in movies]}
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = float(model.loss(batch)["boundary"].detach())
    for _ in range(30):
        loss = model.loss(batch)["boundary"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.6 * first
    model.eval()
    for grouping in (True, False):
        model = SceneSegmenter({**SMALL, "global_grouping": grouping}).eval()
        (det,) = model.predict([movies[0]])
        seg = det.geometry
        assert isinstance(seg, Segments1D) and float(seg.tensor[0, 0]) == 0
        assert float(seg.tensor[-1, 1]) == 40
        assert torch.equal(seg.tensor[1:, 0], seg.tensor[:-1, 1])  # contiguous, in order
        labels = boundaries_from_scenes([(int(s), int(e) - 1) for s, e in seg.tensor.tolist()], 40)
        assert labels.sum() == len(det)
    p = model.boundary_probabilities(movies[0])
    assert p.shape == (40,) and float(p[-1]) == 1.0 and bool(((p >= 0) & (p <= 1)).all())


def test_lgss_bad_input():
    model = SceneSegmenter(SMALL)
    movie = _movie(12)
    short = {k: (v[:3] if torch.is_tensor(v) else v) for k, v in movie.items()}
    with pytest.raises(InputError, match="fewer than the 4-shot window"):
        model.predict([short])
    uneven = {**movie, "cast": movie["cast"][:10]}
    with pytest.raises(InputError, match="'cast' has 10 shots"):
        model.predict([uneven])
    nan = {**movie, "place": movie["place"].clone()}
    nan["place"][3, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        model.predict([nan])
    with pytest.raises(InputError, match="expected 12 labels"):
        model.loss({"inputs": [movie], "labels": [movie["labels"][:11]]})
    with pytest.raises(InputError, match="lacks modality 'audio'"):
        model.predict([{k: v for k, v in movie.items() if k != "audio"}])
    with pytest.raises(ConfigError, match="window"):
        SceneSegmenter({**SMALL, "window": 3})
    with pytest.raises(ConfigError, match="subset"):
        SceneSegmenter({**SMALL, "modalities": ("smell",)})


# -- issue 20: long movies, bad input ----------------------------------------------------


def test_a_20000_shot_movie_is_segmented_in_bounded_memory():
    import tracemalloc

    three = {**SMALL, "modalities": ("place", "cast", "action")}
    torch.manual_seed(0)
    model = SceneSegmenter(three)
    movie = _movie(20_000, seed=1, modalities=("place", "cast", "action"))
    tracemalloc.start()
    try:
        (det,) = model.predict([movie])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seg = det.geometry.tensor
    assert float(seg[0, 0]) == 0 and float(seg[-1, 1]) == 20_000
    assert torch.equal(seg[1:, 0], seg[:-1, 1])
    assert peak < 300e6  # the grouping's 20,000 x 20,000 float64 matrices were 3.2 GB each


def test_short_movies_are_grouped_as_before():
    # up to 640 shots the grouping has no scene-length cap: the exact programme as before
    from xuframe_plugins.lgss.model import _grouping_limit

    for n in (12, 300, 640):
        for k in (1, n // 3 + 1, n):
            assert _grouping_limit(n, k, 0) == (k, None)
    assert _grouping_limit(20_000, 648, 0) == (648, 31)
    assert _grouping_limit(20_000, 2, 0)[1] * 20_000 <= 1 << 25


def test_lgss_refuses_bad_batches_and_movies_before_any_work():
    model = SceneSegmenter(SMALL)
    movie = _movie(12)
    for batch in (None, "x", 42, {"inputs": [], "labels": []}, {"inputs": "ab", "labels": "ab"}):
        with pytest.raises(InputError):
            model.loss(batch)
    for labels in (
        movie["labels"].float(),
        torch.full((12,), 2),
        movie["labels"][None],
        None,
    ):
        with pytest.raises(InputError, match="labels"):
            model.loss({"inputs": [movie], "labels": [labels]})
        with pytest.raises(InputError, match="labels"):
            model.predict([{**movie, "labels": labels}])
    for times in (torch.full((12,), float("nan")), torch.zeros(11), None, "x"):
        with pytest.raises(InputError, match="shot_end_times"):
            model.predict([{**movie, "shot_end_times": times}])
    for place in (movie["place"].numpy(), movie["place"].long(), movie["place"][:, :5]):
        with pytest.raises(InputError, match="place"):
            model.predict([{**movie, "place": place}])
    with pytest.raises(InputError, match="list of movies"):
        model.predict("movie")


def test_float64_features_are_cast_to_the_model_dtype():
    model = SceneSegmenter(SMALL)
    movie = _movie(12)
    double = {k: (v.double() if k in MODALITIES else v) for k, v in movie.items()}
    torch.testing.assert_close(
        model.boundary_probabilities(double), model.boundary_probabilities(movie)
    )
    assert torch.isfinite(model.loss({"inputs": [double], "labels": [movie["labels"]]})["boundary"])


@pytest.mark.parametrize("key", ["place_dim", "hidden", "channels", "window"])
def test_impossible_model_sizes_are_refused_before_allocation(key):
    with pytest.raises(ConfigError, match="memory"):
        SceneSegmenter({**SMALL, key: 10**9})
