"""LGSS (Rao, Xu, Xiong et al., CVPR 2020): clip-level boundary networks, a segment-level
Bi-LSTM per modality, and movie-level optimal grouping.

For every shot boundary (after shot ``b``) the clip is the window of ``window`` shots around
it, half before and half after (2 + 2 by default). Per modality:

* :class:`BoundaryNet` (BNet) turns a window of shot features ``(window, d)`` into a boundary
  representation: a relation branch (a ``(window, 1)`` convolution with ``channels`` filters
  over the window, then the maximum over filters: ``d`` values) and a difference branch (one
  ``(window / 2, 1)`` convolution applied to the shots before and to the shots after, then
  the cosine similarity of the two per filter: ``channels`` values), concatenated;
* audio shots are spectrograms: a small conv net (:class:`AudioNet`) embeds each, and only
  the difference branch is used, as the reference code does;
* a Bi-LSTM runs over sequences of ``seq_len`` consecutive boundaries, and two linear layers
  (``hidden -> 100 -> 2``) give boundary logits (with ``lstm=False`` the two linear layers
  take BNet's output directly: the clip level alone).

The modalities' logits are mixed with ``modality_weights`` (place 0.5, cast 0.2, action 0.2, audio 0.1)
and trained with class-weighted cross-entropy (``class_weights`` 0.5 / 5). :meth:`predict`
then groups the shots into scenes: with ``global_grouping``, the number of scenes is one more
than the boundaries above ``threshold`` and the exact dynamic programme of
:mod:`~xuframe_plugins.lgss.grouping` places them, rewarded by ``grouping_bonus`` times each
boundary's log-odds; otherwise the thresholded boundaries are the scene ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import (
    DemoResult,
    Detections,
    Detector,
    Segments1D,
    config_field,
    fraction,
    non_negative,
    positive,
)
from xuframe.errors import ConfigError, InputError
from xuframe.validation import check_array, check_labels, check_memory, check_tensor
from xuframe_plugins.lgss.data import MODALITIES, synthetic_movie
from xuframe_plugins.lgss.grouping import optimal_grouping

__all__ = ["AudioNet", "BoundaryNet", "SceneSegmenter"]


class BoundaryNet(nn.Module):
    """BNet on windows ``(M, window, d)`` of shot features: ``(M, d + channels)``, or
    ``(M, channels)`` with ``relation=False`` (the difference branch only)."""

    def __init__(self, window: int, channels: int, relation: bool = True) -> None:
        super().__init__()
        self.half = window // 2
        self.relation = nn.Conv2d(1, channels, (window, 1)) if relation else None
        self.difference = nn.Conv2d(1, channels, (self.half, 1))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = windows[:, None]  # (M, 1, window, d)
        before, after = x[:, :, : self.half], x[:, :, self.half :]
        sim = F.cosine_similarity(
            self.difference(before).squeeze(2), self.difference(after).squeeze(2), dim=2
        )  # (M, channels)
        if self.relation is None:
            return sim
        context = self.relation(x).squeeze(2).amax(1)  # (M, d)
        return torch.cat([context, sim], dim=1)


class AudioNet(nn.Module):
    """Embeds a shot's spectrogram ``(1, F, T)`` into ``dim`` values (three strided conv
    blocks, global average pooling, a linear layer)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for cout in (32, 64, 128):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, dim)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(self.convs(spectrogram), 1).flatten(1))


class _Branch(nn.Module):
    """One modality: BNet over windows, a Bi-LSTM over boundary sequences (unless
    ``lstm=False``: the clip level alone), two FC layers."""

    def __init__(
        self, dim: int, window: int, channels: int, hidden: int, audio: bool, lstm: bool = True
    ) -> None:
        super().__init__()
        self.embed = AudioNet(dim) if audio else None
        self.bnet = BoundaryNet(window, channels, relation=not audio)
        width = channels if audio else dim + channels
        self.lstm = nn.LSTM(width, hidden, batch_first=True, bidirectional=True) if lstm else None
        self.fc1 = nn.Linear(2 * hidden if lstm else width, 100)
        self.fc2 = nn.Linear(100, 2)

    def forward(self, windows: list[torch.Tensor], seq_len: int) -> list[torch.Tensor]:
        """Boundary logits ``(M_i, 2)`` for each movie's ``M_i`` windows, in order. All movies
        go through BNet at once, and the sequences of ``seq_len`` boundaries (the last of a
        movie may be shorter) through the LSTM in one call per sequence length."""
        x = torch.cat(windows)
        if self.embed is not None:  # (M, window, 1, F, T) spectrograms -> embeddings
            m, w = x.shape[:2]
            x = self.embed(x.flatten(0, 1)).view(m, w, -1)
        if self.lstm is None:  # clip level only: every boundary on its own
            head = self.fc2(F.relu(self.fc1(self.bnet(x))))
            return list(head.split([len(w) for w in windows]))
        reps = self.bnet(x).split([len(w) for w in windows])
        pieces = [(i, start) for i, r in enumerate(reps) for start in range(0, len(r), seq_len)]
        by_length: dict[int, list[tuple[int, int]]] = {}
        for i, start in pieces:
            by_length.setdefault(min(seq_len, len(reps[i]) - start), []).append((i, start))
        out: dict[tuple[int, int], torch.Tensor] = {}
        for length, group in by_length.items():
            seq = torch.stack([reps[i][start : start + length] for i, start in group])
            hidden, _ = self.lstm(seq)
            logits = self.fc2(F.relu(self.fc1(hidden)))
            for key, row in zip(group, logits, strict=True):
                out[key] = row
        return [
            torch.cat([out[(i, start)] for start in range(0, len(r), seq_len)])
            for i, r in enumerate(reps)
        ]


def _windows(features: torch.Tensor, window: int) -> torch.Tensor:
    """``(N - 1, window, ...)``: for the boundary after shot ``b``, shots ``b - half + 1 ..
    b + half`` (edge shots repeated at the ends of the movie)."""
    half = window // 2
    index = torch.arange(len(features) - 1)[:, None] + torch.arange(-half + 1, half + 1)[None]
    return features[index.clamp(0, len(features) - 1)]


def _branch_parameters(dim: int, cfg: Any, audio: bool) -> int:
    """The number of parameters of one modality's branch (to refuse impossible sizes before
    anything is allocated)."""
    half = cfg.window // 2
    embed = (32 * 9 + 64 * 32 * 9 + 128 * 64 * 9 + 2 * 224 + 128 * dim + dim) if audio else 0
    bnet = (0 if audio else cfg.channels * (cfg.window + 1)) + cfg.channels * (half + 1)
    width = cfg.channels if audio else dim + cfg.channels
    lstm = 2 * 4 * cfg.hidden * (width + cfg.hidden + 2) if cfg.lstm else 0
    head = ((2 * cfg.hidden if cfg.lstm else width) + 1) * 100 + 101 * 2
    return int(embed + bnet + lstm + head)


#: The most (scenes x shots x scene length) cells the grouping may take for one movie
#: when ``max_scene_length`` is 0; beyond that scenes are capped (see ``_grouping_limit``).
_GROUPING_CELLS = 1 << 28
#: The most (shots x scene length) scores the grouping may hold for one movie.
_GROUPING_SCORES = 1 << 25


def _grouping_limit(n: int, k: int, limit: int) -> tuple[int, int | None]:
    """The number of scenes and the scene-length cap of one movie's grouping: ``limit``
    when set; with no limit (0), none while ``k N^2 <= 2^28`` (every movie of up to 640
    shots), else ``max(ceil(N / k), 2^28 / (k N))`` shots, at most ``2^25 / N`` (256 MiB of
    scores), raising ``k`` so that the scenes still cover the movie."""
    if limit:
        return max(k, math.ceil(n / limit)), limit
    if k * n * n <= _GROUPING_CELLS:
        return k, None
    cap = max(math.ceil(n / k), _GROUPING_CELLS // (k * n), 1)
    cap = min(cap, max(1, _GROUPING_SCORES // n))
    return max(k, math.ceil(n / cap)), cap


class SceneSegmenter(Detector):
    """``lgss``: local-to-global movie scene segmentation on per-shot features.

    ``inputs`` are movies: mappings with a ``(N, d)`` float tensor per configured modality
    (``"audio"``: ``(N, 1, F, T)``); training batches add ``"labels"``, a ``(N,)`` 0/1 tensor
    per movie (1 where the shot ends its scene). :meth:`predict` gives one
    :class:`~xuframe.Detections` of :class:`~xuframe.Segments1D` scenes ``[first, last + 1)``
    in shot indices per movie; :meth:`boundary_probabilities` gives the per-shot boundary
    probabilities that the AP metrics need.
    """

    name: ClassVar[str] = "lgss"
    geometry: ClassVar[type[Segments1D]] = Segments1D

    @attrs.frozen
    class Config:
        modalities: tuple[str, ...] = config_field(
            MODALITIES, doc="modalities used, any non-empty subset of place/cast/action/audio"
        )
        place_dim: int = config_field(2048, doc="place feature width", validator=positive)
        cast_dim: int = config_field(512, doc="cast feature width", validator=positive)
        action_dim: int = config_field(512, doc="action feature width", validator=positive)
        audio_dim: int = config_field(512, doc="audio embedding width", validator=positive)
        window: int = config_field(
            4, doc="shots per boundary clip (even: half before, half after)", validator=positive
        )
        channels: int = config_field(512, doc="BNet filters", validator=positive)
        hidden: int = config_field(512, doc="Bi-LSTM hidden size per direction", validator=positive)
        seq_len: int = config_field(10, doc="boundaries per LSTM sequence", validator=positive)
        lstm: bool = config_field(
            True, doc="segment level: a Bi-LSTM over boundary sequences (false: BNet alone)"
        )
        modality_weights: tuple[float, ...] = config_field(
            (0.5, 0.2, 0.2, 0.1), doc="logit mixing weights, place/cast/action/audio"
        )
        class_weights: tuple[float, float] = config_field(
            (0.5, 5.0), doc="cross-entropy weights of non-boundary and boundary"
        )
        threshold: float = config_field(
            0.5, doc="boundary probability threshold", validator=fraction
        )
        global_grouping: bool = config_field(True, doc="place the scenes by optimal grouping")
        grouping_bonus: float = config_field(
            1.0, doc="weight of the boundary log-odds in the grouping score", validator=non_negative
        )
        max_scene_length: int = config_field(
            0,
            doc="longest scene the grouping may form, in shots (0: no limit up to 1,000 shots; "
            "longer movies get a cap that keeps the grouping's time and memory bounded)",
            validator=non_negative,
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        if not cfg.modalities or set(cfg.modalities) - set(MODALITIES):
            raise ConfigError(
                f"lgss: modalities must be a non-empty subset of {MODALITIES}, got {cfg.modalities}"
            )
        if cfg.window < 2 or cfg.window % 2:
            raise ConfigError(f"lgss: window must be even and >= 2, got {cfg.window}")
        if len(cfg.modality_weights) != 4 or any(w < 0 for w in cfg.modality_weights):
            raise ConfigError(
                f"lgss: modality_weights must be 4 non-negative numbers, got {cfg.modality_weights}"
            )
        dims = {
            "place": cfg.place_dim,
            "cast": cfg.cast_dim,
            "action": cfg.action_dim,
            "audio": cfg.audio_dim,
        }
        check_memory(
            4 * sum(_branch_parameters(dims[m], cfg, m == "audio") for m in cfg.modalities),
            "lgss: the parameters of these widths (place/cast/action/audio_dim, window, "
            "channels, hidden)",
            error=ConfigError,
        )
        self.branches = nn.ModuleDict(
            {
                m: _Branch(
                    dims[m], cfg.window, cfg.channels, cfg.hidden, audio=m == "audio", lstm=cfg.lstm
                )
                for m in cfg.modalities
            }
        )
        self._dims = dims

    # -- input checks ---------------------------------------------------------------
    def _movie(self, movie: Any, i: int) -> tuple[int, dict[str, torch.Tensor]]:
        """Check movie ``i`` and return its number of shots and its features, cast to the
        model's floating dtype."""
        if not isinstance(movie, Mapping):
            raise InputError(
                f"lgss: movie {i} must be a mapping of modality features, got {type(movie).__name__}"
            )
        n = None
        dtype = next(self.parameters()).dtype
        features: dict[str, torch.Tensor] = {}
        for m in self.config.modalities:
            if m not in movie:
                raise InputError(
                    f"lgss: movie {i} lacks modality {m!r} (configured: {self.config.modalities})"
                )
            shape = (None, 1, None, None) if m == "audio" else (None, self._dims[m])
            f = check_tensor(movie[m], f"lgss: movie {i} {m!r} features", shape=shape)
            if n is None:
                n = len(f)
            elif len(f) != n:
                raise InputError(
                    f"lgss: movie {i}: modality {m!r} has {len(f)} shots, {self.config.modalities[0]!r} has {n}"
                )
            features[m] = f.to(dtype)
        assert n is not None
        if n < self.config.window:
            raise InputError(
                f"lgss: movie {i} has {n} shots, fewer than the {self.config.window}-shot window"
            )
        if "labels" in movie:
            check_labels(movie["labels"], f"lgss: movie {i} 'labels'", n=n, n_classes=2)
        if "shot_end_times" in movie:
            check_array(movie["shot_end_times"], f"lgss: movie {i} 'shot_end_times'", shape=(n,))
        return n, features

    def _logits(self, movies: Sequence[Mapping[str, Any]]) -> list[torch.Tensor]:
        """Mixed boundary logits ``(N_i - 1, 2)`` of each movie."""
        cfg = self.config
        mixed: list[torch.Tensor] = []
        for m in cfg.modalities:
            w = cfg.modality_weights[MODALITIES.index(m)]
            logits = self.branches[m](
                [_windows(movie[m], cfg.window) for movie in movies], cfg.seq_len
            )
            mixed = (
                [w * x for x in logits]
                if not mixed
                else [a + w * x for a, x in zip(mixed, logits, strict=True)]
            )
        return mixed

    # -- Detector ----------------------------------------------------------------------
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        if not isinstance(batch, Mapping):
            raise InputError(
                f"lgss.loss: expected a batch mapping with 'inputs' and 'labels', got {type(batch).__name__}"
            )
        movies, labels = batch.get("inputs"), batch.get("labels")
        if (
            not isinstance(movies, Sequence)
            or isinstance(movies, (str, Mapping))
            or not isinstance(labels, Sequence)
            or isinstance(labels, str)
            or len(movies) != len(labels)
        ):
            raise InputError(
                "lgss.loss: expected batch 'inputs' (movies) and 'labels', one per movie"
            )
        if not movies:
            raise InputError("lgss.loss: expected at least one movie, got an empty batch")
        targets = []
        checked = []
        for i, (movie, y) in enumerate(zip(movies, labels, strict=True)):
            n, features = self._movie(movie, i)
            y = check_labels(y, f"lgss.loss: movie {i} labels (one 0/1 per shot)", n=n, n_classes=2)
            targets.append(y[:-1])
            checked.append(features)
        logits = self._logits(checked)
        weight = torch.tensor(self.config.class_weights, dtype=logits[0].dtype)
        return {"boundary": F.cross_entropy(torch.cat(logits), torch.cat(targets), weight=weight)}

    @torch.no_grad()
    def boundary_probabilities(self, movie: Mapping[str, Any]) -> torch.Tensor:
        """``(N,)`` probability that each shot ends its scene (the last shot's is 1).
        Raises :class:`~xuframe.errors.InputError` for a movie that is not as described in
        the class docstring."""
        _, features = self._movie(movie, 0)
        return self._probabilities(features)

    def _probabilities(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        p = F.softmax(self._logits([features])[0], dim=1)[:, 1]
        return torch.cat([p, p.new_ones(1)])

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        if not isinstance(inputs, Sequence) or isinstance(inputs, (str, Mapping)):
            raise InputError("lgss.predict: expected a list of movies")
        checked = [self._movie(movie, i)[1] for i, movie in enumerate(inputs)]
        return [self._scenes(features) for features in checked]

    def _scenes(self, movie: Mapping[str, Any], p: torch.Tensor | None = None) -> Detections:
        """The scenes of one movie, from its boundary probabilities ``p`` (computed if not
        given)."""
        cfg = self.config
        if p is None:
            p = self._probabilities(movie)
        n = len(p)
        cut = p[:-1] > cfg.threshold
        if cfg.global_grouping and n > 1:
            features = (
                torch.cat([F.normalize(movie[m].flatten(1), dim=1) for m in cfg.modalities], dim=1)
                .double()
                .numpy()
            )
            odds = torch.logit(p.double().clamp(1e-6, 1 - 1e-6)).numpy()
            k, limit = _grouping_limit(n, int(cut.sum()) + 1, cfg.max_scene_length)
            ends, _ = optimal_grouping(
                features, k, bonus=cfg.grouping_bonus * odds, max_length=limit
            )
        else:
            ends = [int(i) for i in torch.nonzero(cut).flatten()] + [n - 1]
        starts = [0] + [e + 1 for e in ends[:-1]]
        segments = torch.tensor(
            [[s, e + 1] for s, e in zip(starts, ends, strict=True)], dtype=torch.float32
        )
        return Detections(
            Segments1D(segments), p[torch.tensor(ends)], torch.zeros(len(ends), dtype=torch.long)
        )

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """The shipped ``synthetic`` weights on held-out synthetic movies: AP, mIoU and
        Recall with thresholded boundaries (local) and with optimal grouping (global), beside
        an unlearned grouping baseline; see :mod:`xuframe_plugins.lgss.demo`."""
        from xuframe_plugins.lgss.demo import demo

        return demo(cls, seed)

    def load_from(self, other: SceneSegmenter) -> SceneSegmenter:
        """Copy the weights of ``other`` (same modalities and sizes; the grouping options may
        differ) and return ``self``."""
        self.load_state_dict(other.state_dict())
        return self

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        cfg = cls.Config()
        movies = [
            synthetic_movie(
                12,
                dims=(cfg.place_dim, cfg.cast_dim, cfg.action_dim),
                audio_shape=(16, 8),
                seed=seed * 100 + i,
            )
            for i in range(batch_size)
        ]
        return {"inputs": movies, "labels": [m["labels"] for m in movies]}
