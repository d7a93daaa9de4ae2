"""The five interfaces a component implements: Generator, Detector, Distiller, Verifier, Solver."""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn

from xuframe.errors import InputError
from xuframe.interfaces._component import Component
from xuframe.types import Bounds, Detections, Geometry, VerificationResult
from xuframe.validation import check_float, check_int, check_labels, check_memory, check_tensor

__all__ = ["Detector", "Distiller", "Generator", "Solver", "Verifier"]

P = TypeVar("P")
R = TypeVar("R")


class Generator(Component, nn.Module):
    """An image generator with a StyleGAN-style split into a mapping and a synthesis network.

    Implement :attr:`latent_dim`, :meth:`mapping` and :meth:`synthesis`; :meth:`sample` and
    ``forward`` follow from them. Images are ``(N, C, H, W)`` floats in ``[-1, 1]``.
    """

    kind: ClassVar[str] = "generator"

    @property
    @abc.abstractmethod
    def latent_dim(self) -> int:
        """The size of the latent code ``z``."""

    @abc.abstractmethod
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """Map latent codes ``z`` ``(N, latent_dim)`` to intermediate codes ``w`` (batch first)."""

    @abc.abstractmethod
    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Render images ``(N, C, H, W)`` in ``[-1, 1]`` from intermediate codes ``w``."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``synthesis(mapping(z))``."""
        return self.synthesis(self.mapping(z))

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` images from latent codes drawn with ``seed`` (same seed, same images), without grad.

        ``n`` and ``seed`` are ints (numpy integers too; ``seed`` in ``[0, 2**63)``). The
        images are made in pieces of :attr:`sample_chunk`, so only the result must fit in
        memory; a result that cannot (``n`` times the size of one image, checked after the
        first piece) raises :class:`~xuframe.errors.InputError` before it is allocated.
        """
        owner = self._owner()
        n = check_int(n, f"{owner}.sample: n", min=1)
        if seed is not None:
            seed = check_int(seed, f"{owner}.sample: seed", min=0, max=2**63 - 1)
        param = next(self.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        chunk = self.sample_chunk
        out: torch.Tensor | None = None
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            z = torch.randn(m, self.latent_dim, generator=gen).to(device)
            with torch.no_grad():
                images: torch.Tensor = self(z)
            if m == n:
                return images
            if out is None:
                per_image = images.element_size() * images[0].numel()
                check_memory(float(per_image) * n, f"{owner}.sample: {n} images")
                out = images.new_empty((n, *images.shape[1:]))
            out[start : start + m] = images
        assert out is not None
        return out

    #: How many images :meth:`sample` makes at a time (the same seed gives the same images
    #: whatever ``n``, for ``n`` up to this).
    sample_chunk: ClassVar[int] = 1024


class Detector(Component, nn.Module):
    """Finds objects: 2-D boxes in images, 3-D boxes in point clouds or segments in time.

    A batch is a mapping with the key ``"inputs"`` (what :meth:`predict` takes: an image
    tensor, a list of :class:`~xuframe.PointCloud`, shot features...) and the targets the
    detector's modality defines. Every detector of a modality accepts the same batch, so one
    evaluation loop serves them all: ``detector.predict(batch["inputs"])``.
    """

    kind: ClassVar[str] = "detector"
    #: What the detections' geometry is: Boxes2D, Boxes3D or Segments1D.
    geometry: ClassVar[type[Geometry]]

    @abc.abstractmethod
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The training losses for ``batch``, as named scalar tensors; the trainer sums them."""

    @abc.abstractmethod
    def predict(self, inputs: Any) -> list[Detections]:
        """One :class:`~xuframe.Detections` per input in ``inputs``, in order."""

    @classmethod
    @abc.abstractmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        """A small seeded training batch for this detector's default config.

        It holds ``"inputs"`` and the targets :meth:`loss` needs. The conformance kit and
        the docs use it; it must be cheap (well under a second on a CPU).
        """


class Distiller(Component, nn.Module):
    """Trains a ``student`` to imitate a frozen ``teacher``.

    The teacher is put in eval mode with gradients off and stays so (``train()`` leaves it in
    eval). Call :meth:`query_teacher` for every teacher forward pass: it counts the samples
    the teacher saw in :attr:`teacher_queries`, because compute cost is part of the result.
    :attr:`student_steps` counts the calls of :meth:`loss` in training mode (one per optimiser
    step under the engine's Trainer): the base wraps every subclass's ``loss`` to count them,
    so implementations do nothing for it (a ``loss`` that calls another counts once).
    """

    kind: ClassVar[str] = "distiller"

    def __init__(self, teacher: nn.Module, student: nn.Module, config: Any = None) -> None:
        super().__init__(config)
        for role, model in (("teacher", teacher), ("student", student)):
            if not isinstance(model, nn.Module):
                raise InputError(
                    f"{self._owner()}: expected the {role} to be a torch.nn.Module, "
                    f"got {type(model).__name__}"
                )
        self.teacher = teacher.eval().requires_grad_(False)
        self.student = student
        #: Samples passed through the teacher so far.
        self.teacher_queries = 0
        #: Losses computed in training mode so far (one per optimiser step).
        self.student_steps = 0
        self._in_loss = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        inner = cls.__dict__.get("loss")
        if inner is None or getattr(inner, "__isabstractmethod__", False):
            return

        @functools.wraps(inner)
        def loss(self: Distiller, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
            if self._in_loss:  # an override calling another loss: count the outer call only
                return inner(self, batch)  # type: ignore[no-any-return]
            self._in_loss = True
            try:
                out = inner(self, batch)
            finally:
                self._in_loss = False
            if self.training:
                self.student_steps += 1
            return out  # type: ignore[no-any-return]

        cls.loss = loss  # type: ignore[method-assign]

    def train(self, mode: bool = True) -> Distiller:
        super().train(mode)
        self.teacher.eval()
        return self

    def query_teacher(self, x: torch.Tensor, method: str = "forward", **kwargs: Any) -> Any:
        """The teacher's output for ``x`` (no grad), counting ``len(x)`` teacher queries.

        ``method`` names the teacher method to call (``"forward_features"`` for a teacher that
        also returns its penultimate features); a teacher without it raises
        :class:`~xuframe.errors.InputError`. ``kwargs`` go to that method (a generator's
        ``synthesis`` takes the noise maps to share with the student).
        """
        if not isinstance(method, str):
            raise InputError(
                f"{self._owner()}: method: expected a teacher method name (str), got "
                f"{type(method).__name__}"
            )
        check_tensor(x, f"{self._owner()}: teacher input x", floating=False)
        if x.dim() == 0:
            raise InputError(
                f"{self._owner()}: teacher input x: expected a batch, got a 0-d tensor"
            )
        # forward through __call__, so the teacher's hooks run
        fn = self.teacher if method == "forward" else getattr(self.teacher, method, None)
        if not callable(fn):
            raise InputError(
                f"{self._owner()}: the teacher ({type(self.teacher).__name__}) has no method "
                f"{method!r}, which this distiller needs"
            )
        with torch.no_grad():
            out = fn(x, **kwargs)
        self.teacher_queries += int(x.shape[0])
        return out

    @abc.abstractmethod
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The distillation losses for ``batch``, as named scalar tensors; gradients reach the
        student only. (The base counts :attr:`student_steps`; do not.)"""

    @classmethod
    @abc.abstractmethod
    def example(cls, seed: int = 0) -> tuple[nn.Module, nn.Module, dict[str, Any]]:
        """A small seeded ``(teacher, student, batch)`` that this distiller's default config accepts."""


class Verifier(Component):
    """Certifies neural networks: sound bounds on the outputs over an l_p ball around inputs.

    Implement :meth:`_bounds`; the public :meth:`bounds` validates the arguments first, and
    :meth:`verify` derives robustness certificates from margin bounds. Bounds are sound: for
    every ``x'`` with ``||x' - x||_p <= eps``, ``lower <= spec @ model(x') <= upper``.
    """

    kind: ClassVar[str] = "verifier"
    #: The l_p norms this verifier supports (``math.inf`` for l_inf).
    norms: ClassVar[tuple[float, ...]] = (math.inf,)

    def bounds(
        self,
        model: nn.Module,
        x: torch.Tensor,
        eps: float,
        *,
        norm: float = math.inf,
        spec: torch.Tensor | None = None,
    ) -> Bounds:
        """Bounds on ``model``'s outputs (or on ``spec @ outputs``) over the ball ``B_p(x, eps)``.

        ``x`` is a batch ``(B, ...)`` of the model's dtype and device that the model maps to
        ``(B, K)`` outputs; ``spec``, if given, is a real ``(B, S, K)`` tensor and the bounds are
        ``(B, S)``, otherwise ``(B, K)``. Raises :class:`~xuframe.errors.InputError`, before
        bounding, for arguments that do not fit (the model is tried on ``x[:1]`` to learn
        ``K``), and after, when the bounds overflow (an ``eps`` too large for the dtype).
        """
        owner = self._owner()
        eps, norm, k = self._check_arguments(model, x, eps, norm)
        if spec is not None:
            if not isinstance(spec, torch.Tensor) or spec.dim() != 3 or spec.shape[0] != x.shape[0]:
                raise InputError(
                    f"{owner}: expected spec of shape (B={x.shape[0]}, S, K={k}), got "
                    f"{tuple(spec.shape) if isinstance(spec, torch.Tensor) else type(spec).__name__}"
                )
            check_tensor(spec, f"{owner}: spec", shape=(x.shape[0], None, k))
        try:
            bounds = self._bounds(model, x, eps, norm, spec)
        except InputError as exc:
            if not str(exc).startswith("Bounds:"):
                raise
            raise InputError(
                f"{owner}: the bounds came out invalid at eps={eps:g} ({exc}); expected an eps "
                f"small enough for {x.dtype} arithmetic through this model"
            ) from exc
        if not (
            bool(torch.isfinite(bounds.lower).all()) and bool(torch.isfinite(bounds.upper).all())
        ):
            raise InputError(
                f"{owner}: the bounds overflow to inf or NaN at eps={eps:g}; expected an eps "
                f"small enough for {x.dtype} arithmetic through this model"
            )
        return bounds

    def _check_arguments(self, model: Any, x: Any, eps: Any, norm: Any) -> tuple[float, float, int]:
        """Check ``model``, ``x``, ``eps`` and ``norm`` (before any bounding); ``(eps, norm)`` as
        floats and the model's number of outputs ``K`` (from one forward pass on ``x[:1]``)."""
        owner = self._owner()
        if not isinstance(model, nn.Module):
            raise InputError(
                f"{owner}: expected model to be a torch.nn.Module, got {type(model).__name__}"
            )
        check_tensor(x, f"{owner}: x", non_empty=True)
        if x.dim() < 2:
            raise InputError(
                f"{owner}: x: expected a batch (B, ...) of at least 2 dimensions, got shape "
                f"{tuple(x.shape)}"
            )
        param = next(model.parameters(), None)
        if param is not None and param.is_floating_point() and x.dtype != param.dtype:
            raise InputError(f"{owner}: x: expected the model's dtype {param.dtype}, got {x.dtype}")
        if param is not None and x.device != param.device:
            raise InputError(
                f"{owner}: x: expected the model's device {param.device}, got {x.device}"
            )
        eps_value = check_float(eps, f"{owner}: eps", min=0.0, max=torch.finfo(x.dtype).max)
        if isinstance(norm, bool) or norm not in self.norms:
            raise InputError(f"{owner}: norm: expected one of {self.norms}, got {norm!r}")
        try:
            with torch.no_grad():
                out = model(x[:1])
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"{owner}: x of shape {tuple(x.shape)} does not fit the model: {reason}"
            ) from exc
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(
                f"{owner}: x of shape {tuple(x.shape)}: expected the model to map a batch to "
                f"(B, K) outputs, its first row gave {got}"
            )
        return eps_value, float(norm), int(out.shape[1])

    @abc.abstractmethod
    def _bounds(
        self, model: nn.Module, x: torch.Tensor, eps: float, norm: float, spec: torch.Tensor | None
    ) -> Bounds:
        """Compute the bounds; arguments are already validated (see :meth:`bounds`)."""

    def verify(
        self,
        model: nn.Module,
        x: torch.Tensor,
        labels: torch.Tensor,
        eps: float,
        *,
        norm: float = math.inf,
    ) -> VerificationResult:
        """Certify each input of ``x`` against changing the prediction away from ``labels``.

        ``labels`` are ``B`` integer class indices (a tensor, array or list). Raises
        :class:`~xuframe.errors.InputError` before any bound is computed for a ``model`` that
        is not a module, an ``x`` that is not a non-empty finite float batch of the model's
        dtype and device, or that the model cannot take (its first row is tried), ``labels``
        of the wrong type, count or range, and a bad ``eps`` or ``norm``."""
        owner = self._owner()
        labels = check_labels(labels, f"{owner}: labels", n=None)
        _, _, num_classes = self._check_arguments(model, x, eps, norm)
        labels = check_labels(labels, f"{owner}: labels", n=int(x.shape[0]), n_classes=num_classes)
        spec = self.margin_spec(labels.cpu(), num_classes).to(x.device, x.dtype)
        return VerificationResult(
            self.bounds(model, x, eps, norm=norm, spec=spec), eps, norm, self.name
        )

    @staticmethod
    def margin_spec(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        """The specification matrix ``C`` ``(B, K-1, K)`` with rows ``e_label - e_j`` for every ``j != label``."""
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.is_floating_point():
            raise InputError(
                f"margin_spec: expected integer labels of shape (B,), got {tuple(labels.shape)}"
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise InputError(f"margin_spec: expected labels in 0 .. {num_classes - 1}")
        eye = torch.eye(num_classes)
        others = torch.arange(num_classes)[None, :].expand(len(labels), -1)
        keep = others != labels[:, None]
        other_idx = others[keep].reshape(len(labels), num_classes - 1)
        return eye[labels][:, None, :] - eye[other_idx]


class Solver(Component, Generic[P, R]):
    """Solves one family of optimisation problems: typed problem in, typed result out.

    Set :attr:`problem_type` and :attr:`result_type`, implement :meth:`_solve` and
    :meth:`example_problem`. :meth:`solve` checks the problem's type before solving.
    """

    kind: ClassVar[str] = "solver"
    problem_type: ClassVar[type[Any]]
    result_type: ClassVar[type[Any]]

    def solve(self, problem: P) -> R:
        """Solve ``problem`` (an instance of :attr:`problem_type`)."""
        if not isinstance(problem, self.problem_type):
            raise InputError(
                f"{self._owner()}: expected a {self.problem_type.__name__}, got {type(problem).__name__}"
            )
        return self._solve(problem)

    @abc.abstractmethod
    def _solve(self, problem: P) -> R:
        """Solve an already type-checked problem."""

    @classmethod
    @abc.abstractmethod
    def example_problem(cls, seed: int = 0) -> P:
        """A small seeded problem that solves in well under a second; used by the conformance kit."""
