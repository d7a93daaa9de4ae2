"""Checks for what users hand to xuframe: numbers, arrays, tensors, labels, point clouds, 3-D
detection batches, files, memory.

Every public entry point of the core and of the plugins validates its input with these
functions, *before* any work, so that bad input is answered the same way everywhere: an
:class:`~xuframe.errors.InputError` (or the error class the caller names, e.g.
:class:`~xuframe.errors.ConfigError` for configuration) whose message names the argument,
what was expected and what came. Each ``check_*`` returns the value normalised (a Python
``int``, a float numpy array, a tensor), so a caller writes::

    k = check_int(k, "k", min=1)
    points = check_array(points, "points", shape=(None, None), non_empty=True)

What the checks promise is documented in ``docs/bad-input.md``. Numpy integer and float
scalars are accepted wherever Python numbers are; ``bool`` is never a number.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xuframe._files import require_file
from xuframe.errors import InputError, XuframeError
from xuframe.types import Boxes3D, PointCloud

__all__ = [
    "check_int",
    "check_float",
    "check_choice",
    "check_array",
    "check_tensor",
    "check_labels",
    "check_targets",
    "check_point_clouds",
    "check_lidar_batch",
    "check_file",
    "check_memory",
    "memory_limit",
]

_Error = type[XuframeError]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number_text(value: float) -> str:
    """An int bound exactly (``2**63``), a float one short (``1e+100``)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _range_text(low: float | None, high: float | None, low_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_number_text(low)}")
    if high is not None:
        parts.append(f"<= {_number_text(high)}")
    return " and ".join(parts)


def check_int(
    value: Any,
    what: str,
    *,
    min: int | None = None,
    max: int | None = None,
    error: _Error = InputError,
) -> int:
    """``value`` as a Python ``int``: an ``int`` or numpy integer (not ``bool``, not a float)
    within ``[min, max]``.

    Raises ``error`` (:class:`~xuframe.errors.InputError` by default) naming ``what``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise error(f"{what}: expected an int, got {type(value).__name__} {_shown(value)}")
    number = int(value)
    if (min is not None and number < min) or (max is not None and number > max):
        raise error(f"{what}: expected an int {_range_text(min, max, False)}, got {number}")
    return number


def check_float(
    value: Any,
    what: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    finite: bool = True,
    error: _Error = InputError,
) -> float:
    """``value`` as a Python ``float``: any real number (``int``, ``float``, numpy scalar, a
    0-d array or one-element tensor), not ``bool``, not NaN, finite unless ``finite=False``,
    and within ``[min, max]`` (``(min, max]`` with ``min_open``).

    Raises ``error`` (:class:`~xuframe.errors.InputError` by default) naming ``what``.
    """
    one_tensor = isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex()
    if one_tensor or (isinstance(value, np.ndarray) and value.shape == ()):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{what}: expected a number, got {type(value).__name__} {_shown(value)}")
    number = float(value)
    if math.isnan(number):
        raise error(f"{what}: expected a number, got NaN")
    if finite and math.isinf(number):
        raise error(f"{what}: expected a finite number, got {number}")
    below = min is not None and (number <= min if min_open else number < min)
    above = max is not None and number > max
    if below or above:
        raise error(f"{what}: expected a number {_range_text(min, max, min_open)}, got {number:g}")
    return number


def check_choice(
    value: Any, what: str, choices: Sequence[Any], *, error: _Error = InputError
) -> Any:
    """``value`` when it is one of ``choices`` (compared with ``==``, same type); otherwise
    ``error`` listing them."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    listed = ", ".join(repr(c) for c in choices)
    raise error(f"{what}: expected one of {listed}, got {_shown(value)}")


def _shape_text(shape: Sequence[int | str | None]) -> str:
    """``shape`` as text, its free sizes named ``N``, ``M``, ``K``, ... in turn, so that
    ``(None, None)`` reads "(N, M)", not a square "(N, N)"."""
    letters = iter("NMKLPQRSTUVW")
    sizes = [next(letters, "*") if s is None else str(s) for s in shape]
    return f"({sizes[0]},)" if len(sizes) == 1 else "(" + ", ".join(sizes) + ")"


def _check_geometry(
    shape_of: tuple[int, ...],
    what: str,
    ndim: int | None,
    shape: Sequence[int | str | None] | None,
    non_empty: bool,
    error: _Error,
) -> None:
    if shape is not None:
        ok = len(shape_of) == len(shape) and all(
            s is None or isinstance(s, str) or t == s for t, s in zip(shape_of, shape, strict=True)
        )
        if not ok:
            raise error(f"{what}: expected shape {_shape_text(shape)}, got {shape_of}")
    elif ndim is not None and len(shape_of) != ndim:
        raise error(f"{what}: expected {ndim} dimensions, got shape {shape_of}")
    if non_empty and math.prod(shape_of) == 0:
        raise error(f"{what}: expected a non-empty array, got shape {shape_of}")


def check_array(
    value: Any,
    what: str,
    *,
    ndim: int | None = None,
    shape: Sequence[int | str | None] | None = None,
    non_empty: bool = False,
    finite: bool = True,
    max_abs: float | None = None,
    dtype: Any = np.float64,
    error: _Error = InputError,
) -> np.ndarray[Any, Any]:
    """``value`` (array, tensor or nested sequence of real numbers) as a numpy array of
    ``dtype`` (float64 by default).

    ``shape`` gives each size, or ``None`` or a name such as ``"H"`` for any size (the name
    is shown in messages; ``shape`` implies ``ndim``); ``non_empty``
    refuses zero elements; ``finite`` refuses NaN and inf; ``max_abs`` refuses values whose
    magnitude would overflow the work that follows (e.g. squared distances). Strings, objects,
    booleans, complex numbers and ragged sequences are refused. An integer ``dtype`` refuses
    non-integral values. Raises ``error`` naming ``what``.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise error(
            f"{what}: expected an array of numbers, got a ragged or unreadable {type(value).__name__}"
        ) from exc
    if raw.dtype.kind not in "iuf":
        kind = {"b": "booleans", "c": "complex numbers", "O": "objects", "U": "strings"}.get(
            raw.dtype.kind, f"dtype {raw.dtype}"
        )
        raise error(f"{what}: expected an array of real numbers, got {kind}")
    _check_geometry(raw.shape, what, ndim, shape, non_empty, error)
    target = np.dtype(dtype)
    integral = np.isfinite(raw).all() and np.array_equal(raw, np.round(raw))
    if target.kind in "iu" and raw.dtype.kind == "f" and not integral:
        raise error(f"{what}: expected integers, got non-integer values")
    array = raw.astype(target, copy=False)
    if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise error(f"{what}: expected finite values, got NaN or inf")
    if max_abs is not None and array.size and float(np.abs(array).max()) > max_abs:
        raise error(
            f"{what}: expected values of magnitude <= {max_abs:g}, got {float(np.abs(array).max()):g}"
        )
    return array


def check_tensor(
    value: Any,
    what: str,
    *,
    ndim: int | None = None,
    shape: Sequence[int | str | None] | None = None,
    non_empty: bool = False,
    finite: bool = True,
    floating: bool = True,
    dtype: torch.dtype | None = None,
    error: _Error = InputError,
    max_abs: float | None = None,
) -> torch.Tensor:
    """``value`` checked as a tensor: a ``torch.Tensor`` (not a list or array: a model's input
    type is part of its contract), real, floating unless ``floating=False``, of ``dtype`` when
    given (e.g. the model's own), with the ``shape``/``ndim``, ``non_empty``, ``finite`` and
    ``max_abs`` rules of :func:`check_array` (``max_abs`` and ``finite`` together take one
    pass over the values). Returns the tensor itself. Raises ``error`` naming ``what``.
    """
    if not isinstance(value, torch.Tensor):
        raise error(f"{what}: expected a torch.Tensor, got {type(value).__name__}")
    if value.is_complex() or value.dtype == torch.bool:
        raise error(f"{what}: expected a real-valued tensor, got dtype {value.dtype}")
    if floating and not value.is_floating_point():
        raise error(f"{what}: expected a floating-point tensor, got dtype {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise error(f"{what}: expected dtype {dtype}, got {value.dtype}")
    _check_geometry(tuple(value.shape), what, ndim, shape, non_empty, error)
    if max_abs is not None and math.isfinite(max_abs):
        # one pass: values within the bound are finite too
        if value.numel() and not _within(value.detach(), max_abs):
            size = value.detach().abs()
            if value.is_floating_point():
                ok = torch.isfinite(value)
                if finite and not bool(ok.all()):
                    raise error(f"{what}: expected finite values, got NaN or inf")
                size = size[ok]
            if size.numel() and float(size.max()) > max_abs:
                largest = float(size.max())
                raise error(f"{what}: expected values of magnitude <= {max_abs:g}, got {largest:g}")
    elif finite and value.is_floating_point() and not _all_finite(value):
        raise error(f"{what}: expected finite values, got NaN or inf")
    return value


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every value of ``tensor`` is finite (integer tensors always are), in one pass
    over the values without a temporary: NaN or inf anywhere makes the sum NaN or inf, and
    only a sum that is not finite (which finite values can reach by overflow) is followed by
    the exact element-wise test. Many times faster than ``torch.isfinite(t).all()`` on CPU."""
    if not tensor.is_floating_point():
        return True
    t = tensor.detach()
    return math.isfinite(float(t.sum())) or bool(torch.isfinite(t).all())


def _within(tensor: torch.Tensor, bound: float) -> bool:
    """Whether every value of ``tensor`` lies in ``[-bound, bound]`` (NaN does not), in one
    pass."""
    low, high = torch.aminmax(tensor)
    return float(low) >= -bound and float(high) <= bound


def check_labels(
    value: Any,
    what: str,
    *,
    n: int | None = None,
    n_classes: int | None = None,
    error: _Error = InputError,
) -> torch.Tensor:
    """Class labels as a 1-D ``int64`` tensor: integers (an integer tensor or array, or a
    sequence of ints; floats are refused even when integral), ``n`` of them when given, each
    in ``[0, n_classes)``. No labels at all (``[]``, ``torch.tensor([])``) are accepted
    whatever their floating dtype, as there is no value to be wrong. Raises ``error`` naming
    ``what``."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise error(f"{what}: expected a sequence of integer labels") from exc
    if tensor.is_floating_point() and tensor.shape == (0,):
        tensor = tensor.long()  # no labels: nothing can be a non-integer
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise error(f"{what}: expected integer labels, got dtype {tensor.dtype}")
    if tensor.dim() != 1:
        raise error(f"{what}: expected a 1-D sequence of labels, got shape {tuple(tensor.shape)}")
    if n is not None and tensor.numel() != n:
        raise error(f"{what}: expected {n} labels (one per item), got {tensor.numel()}")
    tensor = tensor.long()
    if n_classes is not None and tensor.numel():
        low, high = int(tensor.min()), int(tensor.max())
        if low < 0 or high >= n_classes:
            raise error(
                f"{what}: expected labels in [0, {n_classes - 1}], got values in [{low}, {high}]"
            )
    return tensor


def check_targets(
    boxes: Any,
    labels: Any,
    what: str,
    *,
    geometry: type[Any],
    n: int,
    n_classes: int,
    error: _Error = InputError,
) -> tuple[list[Any], list[torch.Tensor]]:
    """A detection batch's per-sample targets: ``boxes`` a list (or tuple) of ``n`` values of
    the ``geometry`` type (e.g. :class:`~xuframe.Boxes2D`; a bare tensor or list is refused,
    so a box layout is never guessed) and ``labels`` a list of ``n`` label sequences, the
    ``i``-th holding one integer in ``[0, n_classes)`` per box of ``boxes[i]``
    (:func:`check_labels`). Returns both as lists, the labels as ``int64`` tensors. Raises
    ``error`` naming ``what['boxes'][i]`` or ``what['labels'][i]``."""
    kind = geometry.__name__
    for key, value in (("boxes", boxes), ("labels", labels)):
        if not isinstance(value, (list, tuple)):
            raise error(
                f"{what}['{key}']: expected a list with one entry per sample, "
                f"got {type(value).__name__}"
            )
        if len(value) != n:
            raise error(f"{what}['{key}']: expected {n} entries (one per sample), got {len(value)}")
    out_labels = []
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        if not isinstance(b, geometry):
            raise error(
                f"{what}['boxes'][{i}]: expected {kind} (wrap the array with xuframe.{kind}), "
                f"got {type(b).__name__}"
            )
        out_labels.append(
            check_labels(lab, f"{what}['labels'][{i}]", n=len(b), n_classes=n_classes, error=error)
        )
    return list(boxes), out_labels


def check_point_clouds(
    inputs: Any, what: str, *, num_features: int | None = None, max_abs: float | None = None
) -> list[PointCloud]:
    """``inputs`` as a list after checking it is a non-empty list (or tuple) of
    :class:`~xuframe.PointCloud` (an empty cloud is fine), each with ``num_features`` feature
    channels (any number when None) and finite ``xyz`` ``(N, 3)`` and features ``(N, C)``,
    ``|value| <= max_abs`` when given.

    Raises:
        InputError: naming ``what``, and ``point cloud i`` for a bad cloud (checked in order:
            its type, its feature count, its ``xyz``, its features).
    """
    if not isinstance(inputs, (list, tuple)):
        raise InputError(f"{what}: expected a list of PointCloud, got {type(inputs).__name__}")
    if not inputs:
        raise InputError(f"{what}: expected at least one point cloud, got an empty list")
    for i, cloud in enumerate(inputs):
        if not isinstance(cloud, PointCloud):
            raise InputError(
                f"{what}: expected a list of PointCloud, item {i} is {type(cloud).__name__}"
            )
        if num_features is not None and cloud.num_features != num_features:
            raise InputError(
                f"{what}: point cloud {i}: expected {num_features} feature channel(s) "
                f"(e.g. reflectance), got {cloud.num_features}"
            )
        check_tensor(cloud.xyz, f"{what}: point cloud {i} xyz", max_abs=max_abs)
        check_tensor(cloud.features, f"{what}: point cloud {i} features", max_abs=max_abs)
    return list(inputs)


def check_lidar_batch(
    batch: Any,
    what: str,
    *,
    num_classes: int,
    check_inputs: Callable[[Any, str], list[PointCloud]] = check_point_clouds,
    require_points: bool = False,
) -> tuple[list[PointCloud], list[Boxes3D], list[torch.Tensor]]:
    """The clouds, boxes and labels of a 3-D detection training batch, all checked.

    Args:
        batch: what :func:`~xuframe.data.collate_lidar` returns: a mapping with ``"inputs"``
            (one entry per sample), ``"boxes"`` (one :class:`~xuframe.Boxes3D` ``(M_i, 7)``
            per sample: centre, ``l, w, h`` in metres, yaw) and ``"labels"`` (one sequence of
            ``M_i`` class indices per sample); other keys are ignored.
        what: the caller's name, the prefix of every message (e.g. ``"pointrcnn.loss"``).
        num_classes: labels must lie in ``[0, num_classes)``.
        check_inputs: checks ``batch["inputs"]`` (called with it and
            ``f"{what}: batch['inputs']"``) and returns its point clouds, one per sample:
            :func:`check_point_clouds` by default; a detector passes its own (feature
            channels, memory, inputs that carry a cloud such as a camera frame).
        require_points: refuse a sample whose cloud has no point.

    Returns:
        ``(clouds, boxes, labels)``: lists of one :class:`~xuframe.PointCloud`, one
        :class:`~xuframe.Boxes3D` and one ``int64`` ``(M_i,)`` tensor per sample.

    Raises:
        InputError: naming ``what`` and the entry: ``num_classes`` not an int >= 1, ``batch``
            not a mapping or without one of
            the three keys (both say to use ``collate_lidar``), what ``check_inputs`` raises,
            boxes or labels per :func:`check_targets`, a box coordinate with ``|value| > 1e6``,
            a box with a zero or negative size, or (``require_points``) a cloud without points.
    """
    num_classes = check_int(num_classes, f"{what}: num_classes", min=1)
    if not isinstance(batch, Mapping):
        raise InputError(
            f"{what}: expected a batch mapping (use collate_lidar), got {type(batch).__name__}"
        )
    for key in ("inputs", "boxes", "labels"):
        if key not in batch:
            raise InputError(f"{what}: expected batch key {key!r} (use collate_lidar)")
    clouds = check_inputs(batch["inputs"], f"{what}: batch['inputs']")
    boxes, labels = check_targets(
        batch["boxes"],
        batch["labels"],
        f"{what}: batch",
        geometry=Boxes3D,
        n=len(clouds),
        n_classes=num_classes,
    )
    for i, b in enumerate(boxes):
        check_tensor(b.tensor, f"{what}: batch['boxes'][{i}]", max_abs=1e6)
        flat = (b.tensor[:, 3:6] <= 0).any(1)
        if bool(flat.any()):
            k = int(flat.nonzero()[0, 0])
            raise InputError(
                f"{what}: batch['boxes'][{i}]: box {k} has a zero or negative size "
                f"{b.tensor[k, 3:6].tolist()}; drop such boxes from the labels"
            )
        if require_points and len(clouds[i]) == 0:
            raise InputError(f"{what}: batch['inputs'][{i}]: expected points to train on, got none")
    return clouds, boxes, labels


def check_file(path: Any, what: str) -> Path:
    """``path`` (a ``str`` or ``os.PathLike``) as a :class:`~pathlib.Path` to an existing
    regular file; otherwise an :class:`~xuframe.errors.InputError` saying what is there
    instead (nothing, a folder) and naming ``what`` was expected."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what}: expected a path (str or os.PathLike), got {type(path).__name__}")
    return require_file(path, what)


def memory_limit() -> int:
    """The most bytes one array may take, in bytes: ``$XUFRAME_MAX_BYTES`` when set, else half
    of the machine's physical memory (8 GiB where that cannot be read)."""
    env = os.environ.get("XUFRAME_MAX_BYTES")
    if env:
        try:
            return int(float(env))
        except ValueError as exc:
            raise InputError(f"XUFRAME_MAX_BYTES: expected a number of bytes, got {env!r}") from exc
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _bytes_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(n_bytes: float, what: str, *, error: _Error = InputError) -> None:
    """Refuse, before any allocation, work that needs ``n_bytes`` in one piece when that is
    more than :func:`memory_limit`. ``what`` says what the memory is for and which input
    implies it (e.g. ``"the blur kernel for sigma=1e6"``), so the message gives the reason."""
    limit = memory_limit()
    if not math.isfinite(n_bytes) or n_bytes > limit:
        shown = _bytes_text(n_bytes) if math.isfinite(n_bytes) else "an unbounded amount"
        raise error(
            f"{what} would need {shown} of memory, more than the limit of {_bytes_text(limit)} "
            "(set XUFRAME_MAX_BYTES to change it)"
        )
