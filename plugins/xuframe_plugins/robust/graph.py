"""A model's computation graph, read with ``torch.fx``, as nodes the bounds can propagate through.

:class:`Graph` traces ``model`` symbolically (``torch.fx``; the model's Python ``forward`` runs
once on proxies, no tensor is computed) and turns every node that the output depends on into
one of four kinds:

- an *affine* map of one input (Linear, Conv2d, BatchNorm in eval mode folded to a per-channel
  scale and shift, AvgPool2d, AdaptiveAvgPool2d with a divisible size, mean over per-sample
  dims, flatten / view / reshape keeping the batch dim, scaling by and shifting by constants),
- a monotone piecewise-linear *activation* of one input (ReLU, LeakyReLU, ParamRamp),
- a *sum* ``sum_k c_k x_k`` of several inputs of one shape (residual additions, subtraction),
- a *concatenation* of several inputs along a per-sample dim.

Identity, Dropout in eval mode, ``contiguous``, ``clone`` and :func:`xuframe.validation.check_tensor`
pass their input on. Anything else, an operation in place (``x += y``, ``relu_``) whose
mutation another node could see, or a forward hook anywhere in the model, raises
:class:`~xuframe.errors.InputError` naming the operation and the node, before any bound is
computed.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _torch_module
from torch.nn.modules.lazy import LazyModuleMixin

from xuframe.errors import InputError
from xuframe.validation import check_tensor
from xuframe_plugins.robust.activations import ParamRamp, _activation_problem, not_own_code
from xuframe_plugins.robust.network import (
    _ACTIVATIONS,
    _LAYERS,
    _UNSUPPORTED,
    Activation,
    Affine,
    _AvgPool,
    _check_like_parameters,
    _Conv,
    _Flatten,
    _layer_problem,
    _Linear,
    _Mismatch,
    _out_shape,
    _parts,
    _Scale,
    all_finite,
)

__all__ = ["SUPPORTED_OPERATIONS", "Cat", "Graph", "GraphNode", "Sum", "is_plain_chain"]

#: what the graph reader bounds, for error messages and the docs
SUPPORTED_OPERATIONS = (
    "modules Linear, Conv2d (zero padding), BatchNorm1d/2d (eval), AvgPool2d, AdaptiveAvgPool2d "
    "(sizes dividing the input), Flatten, ReLU, LeakyReLU, ParamRamp, Identity, Dropout (eval), "
    "nn.Sequential and any module whose forward torch.fx traces into these; functions and "
    "methods relu, leaky_relu, linear and conv2d with constant weights, avg_pool2d, "
    "adaptive_avg_pool2d, dropout (not training), flatten/view/reshape keeping the batch dim, "
    "mean over non-batch dims, cat along a non-batch dim, + and - of tensors, + - * / by "
    "constants, neg, contiguous, clone, size/shape"
)


class Sum:
    """``y = sum_k c_k x_k`` over the node's inputs, all of one shape."""

    def __init__(self, coeffs: tuple[float, ...]) -> None:
        self.coeffs = coeffs


class Cat:
    """Concatenation of the node's inputs along per-sample dim ``dim`` (0 = the first after the batch)."""

    def __init__(self, dim: int, sizes: tuple[int, ...]) -> None:
        self.dim, self.sizes = dim, sizes


class GraphNode:
    """One node: ``op`` applied to the nodes ``inputs`` (indices of earlier nodes); output
    ``shape`` per sample. ``op`` is None for the network input (node 0)."""

    def __init__(
        self,
        where: str,
        inputs: tuple[int, ...],
        op: Affine | Activation | Sum | Cat | None,
        shape: tuple[int, ...],
    ) -> None:
        self.where, self.inputs, self.op, self.shape = where, inputs, op, shape


class _ScaleShift(Affine):
    """Element-wise ``y = s x + t`` with constants ``s`` and ``t`` broadcast to the shape."""

    diagonal = True

    def __init__(
        self, shape: tuple[int, ...], scale: torch.Tensor | float, shift: torch.Tensor | None
    ) -> None:
        super().__init__(shape, shape)
        self.s, self.t = scale, shift

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        if isinstance(self.s, torch.Tensor):
            return x * _parts(self.s, part)
        s = {"all": self.s, "pos": max(self.s, 0.0), "neg": min(self.s, 0.0)}.get(part, abs(self.s))
        return x * s

    def bias(self) -> torch.Tensor | None:
        return None if self.t is None else self.t.expand(self.out_shape)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.s


class _Reshape(_Flatten):
    """Any reshape keeping the batch dim (flatten, view, reshape)."""


class _Mean(Affine):
    """Mean over per-sample dims ``dims`` (0 = the first after the batch), ``keepdim`` as torch's."""

    def __init__(self, in_shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> None:
        out = tuple(1 if d in dims else s for d, s in enumerate(in_shape))
        if not keepdim:
            out = tuple(s for d, s in enumerate(in_shape) if d not in dims)
        super().__init__(in_shape, out)
        self.dims, self.keepdim = dims, keepdim
        self.count = math.prod(in_shape[d] for d in dims)

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        if part == "neg":
            return torch.zeros(x.shape[0], *self.out_shape, dtype=x.dtype, device=x.device)
        return x.mean(dim=tuple(d + 1 for d in self.dims), keepdim=self.keepdim)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        if not self.keepdim:
            for d in sorted(self.dims):
                a = a.unsqueeze(d + 1)
        return (a / self.count).expand(a.shape[0], *self.in_shape)


class _ConstConv(_Conv):
    """``F.conv2d`` with constant weight and bias."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int],
        groups: int,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
    ) -> None:
        conv = nn.Conv2d(
            in_shape[0],
            weight.shape[0],
            tuple(weight.shape[2:]),  # type: ignore[arg-type]
            stride,
            padding,
            dilation,
            groups,
            bias=False,
            device="meta",
        )
        super().__init__(conv, in_shape, out_shape)
        self.weight, self.b = weight, bias


class _ConstLinear(_Linear):
    """``F.linear`` with constant weight and bias."""

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None, in_shape: tuple[int, ...]
    ) -> None:
        Affine.__init__(self, in_shape, (weight.shape[0],))
        self.weight, self.b = weight, bias  # type: ignore[assignment]


class _Batch:
    """The batch size in a shape computed by the model (``x.size(0)``, ``x.shape[0]``)."""

    def __repr__(self) -> str:
        return "N"


_BATCH = _Batch()
_Value = Any  # a node index (int), a constant tensor, a number, a shape tuple or _BATCH


class _Tensor(int):
    """The index of a graph node, as a value of the interpreter (a tensor of the network)."""


_INPLACE_FUNCTIONS = {
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
    operator.ipow,
    operator.imod,
    operator.iand,
    operator.ior,
    operator.ixor,
    operator.imatmul,
    operator.setitem,
}
#: the position of the ``inplace`` argument of functions that have one
_INPLACE_POSITION: dict[Any, int] = {F.relu: 1, F.leaky_relu: 2, F.dropout: 3}
_ALIASING_METHODS = {"view", "reshape", "flatten", "contiguous", "view_as", "expand", "squeeze"}
_ALIASING_MODULES = (nn.Identity, nn.Dropout, nn.Flatten)


def _call_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"method .{node.target}()"
    if node.op == "call_module":
        return f"module {node.target}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("torch.nn.functional"):
        return f"torch.nn.functional.{name}"
    if module.startswith("torch") or module == "" or module == "builtins":
        prefix = "torch." if module.startswith("torch") else ""
        return f"{prefix}{name}"
    return f"{module}.{name}"


def _module_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack")
    if node.op == "call_module":
        return str(node.target)
    if stack:
        return str(list(stack)[-1])
    return ""


class _Tracer(fx.Tracer):
    """fx tracing where ParamRamp is a leaf (as torch.nn layers are) and ``check_tensor`` a node."""

    def __init__(self) -> None:
        super().__init__(autowrap_functions=(check_tensor,))

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, ParamRamp) or super().is_leaf_module(m, module_qualified_name)


def is_plain_chain(model: nn.Module) -> bool:
    """Is ``model`` an ``nn.Sequential`` (nested ones too) keeping ``nn.Sequential.forward``, of
    torch.nn layers and ParamRamps (supported or not), or one such layer? Those are read by
    :func:`~xuframe_plugins.robust.network.layer_chain`; other models by :class:`Graph`."""
    if isinstance(model, nn.Sequential):
        if type(model).forward is not nn.Sequential.forward or "forward" in vars(model):
            return False
        return all(c is None or is_plain_chain(c) for c in model._modules.values())
    if isinstance(model, (nn.ModuleList, nn.ModuleDict)):
        return True
    return type(model).__module__.startswith("torch.nn") or isinstance(model, ParamRamp)


def _where_module(path: str, module: nn.Module) -> str:
    name = type(module).__qualname__
    return f"{path} ({name})" if path else f"the model ({name})"


def _check_modules(model: nn.Module) -> None:
    """Refuse hooks (they change what a module computes, and tracing does not see them) and
    uninitialised lazy modules, naming the module."""
    if _torch_module._global_forward_pre_hooks or _torch_module._global_forward_hooks:
        raise InputError(
            "a global module forward hook is registered (torch.nn.modules.module."
            "register_module_forward_hook / _pre_hook); it can change what every layer computes: "
            "remove it before verification"
        )
    leaf = _Tracer().is_leaf_module
    for path, module in model.named_modules():
        where = _where_module(path, module)
        if isinstance(module, (nn.ModuleList, nn.ModuleDict)) and _called_by_sequential(
            model, path
        ):
            raise InputError(
                f"{where}: a container without a forward of its own, called as a layer of an "
                f"nn.Sequential; {SUPPORTED_OPERATIONS}"
            )
        if module._forward_pre_hooks:
            raise InputError(
                f"{where}: it has a forward pre-hook registered (hooks can change what it computes)"
            )
        if module._forward_hooks:
            raise InputError(
                f"{where}: it has a forward hook registered (hooks can change what it computes)"
            )
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():  # type: ignore[misc]
            raise InputError(f"{where}: an uninitialised lazy module (run one forward pass first)")
        problem = _own_code_problem(module) if leaf(module, path) else None
        if problem is not None:
            raise InputError(
                f"{where}: {problem}; the robust verifiers bound {SUPPORTED_OPERATIONS}"
            )
    if isinstance(model, (nn.ModuleList, nn.ModuleDict)):
        raise InputError(
            f"{_where_module('', model)}: a container without a forward of its own; "
            f"{SUPPORTED_OPERATIONS}"
        )


def _called_by_sequential(model: nn.Module, path: str) -> bool:
    """Is the submodule at ``path`` a layer of an ``nn.Sequential`` that keeps
    ``nn.Sequential.forward`` (so it is called on the input)?"""
    if not path:
        return False
    parent = model.get_submodule(path.rpartition(".")[0])
    return (
        isinstance(parent, nn.Sequential)
        and type(parent).forward is nn.Sequential.forward
        and "forward" not in vars(parent)
    )


def _own_code_problem(module: nn.Module) -> str | None:
    """Why a module fx keeps as a leaf (a supported torch.nn layer, a ParamRamp) might not
    run its class's own code (None when it surely does, or when it is no such layer)."""
    if isinstance(module, _ACTIVATIONS):
        return _activation_problem(module)
    for cls, methods in _LAYERS:
        if isinstance(module, cls):
            return not_own_code(module, cls, methods)
    return None


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


class Graph:
    """``model``'s computation graph as :class:`GraphNode` s with known shapes (node 0: the input).

    ``model`` is any ``nn.Module`` that ``torch.fx.symbolic_trace`` can trace (leaves: the
    torch.nn layers and ParamRamp) into the operations of :data:`SUPPORTED_OPERATIONS`, taking
    one tensor and returning one tensor. ``example`` is a batch ``(N, *in_shape)`` of the model's
    dtype and device. ``eval_dropout=True`` reads Dropout in training mode as the identity.
    Nothing runs but the symbolic trace; shapes come from the layers' settings.

    Attributes: ``nodes`` in an order where every node comes after its inputs (the output
    last), ``in_shape`` and ``out_shape`` per sample, ``activations`` (indices of the
    activation nodes).

    Raises:
        InputError: for a model fx cannot trace, an unsupported operation (naming it, the fx
            node and the module it was called in), an in-place operation another node could
            observe, a hook, a layer in an unsupported mode, and an ``example`` that is not a
            finite floating batch the graph takes (naming what it expects).
    """

    def __init__(
        self, model: nn.Module, example: torch.Tensor, *, eval_dropout: bool = False
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        _check_modules(model)
        self._model, self._eval_dropout = model, eval_dropout
        try:
            traced = _Tracer().trace(model)
        except InputError:
            raise
        except Exception as exc:  # fx raises many kinds: report them all as the model's problem
            raise InputError(
                f"{_where_module('', model)}: torch.fx cannot trace its forward "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); the "
                "robust verifiers read models whose forward fx can trace (no Python control flow "
                "on tensor values)"
            ) from None
        self._fx_nodes = list(traced.nodes)
        _check_example(model, example)
        self._x_shape = tuple(example.shape)
        self._dtype, self._device = example.dtype, example.device
        self.nodes: list[GraphNode] = []
        self._build()
        self.in_shape = self.nodes[0].shape
        self.out_shape = self.nodes[-1].shape
        self.activations = [i for i, n in enumerate(self.nodes) if isinstance(n.op, Activation)]
        self._check_against(model, example)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The graph's output on ``x`` ``(N, *in_shape)``, computed node by node."""
        values: list[torch.Tensor] = [x]
        for node in self.nodes[1:]:
            op = node.op
            ins = [values[j] for j in node.inputs]
            if isinstance(op, (Affine, Activation)):
                values.append(op(ins[0]))
            elif isinstance(op, Sum):
                out = op.coeffs[0] * ins[0]
                for c, t in zip(op.coeffs[1:], ins[1:], strict=True):
                    out = out + c * t
                values.append(out)
            else:
                assert isinstance(op, Cat)
                values.append(torch.cat(ins, op.dim + 1))
        return values[-1]

    def _check_against(self, model: nn.Module, example: torch.Tensor) -> None:
        """The graph must compute what the model computes (fx does not see, e.g., ``h += x``
        on a tensor another variable aliases): both run on the first input, once."""
        x = example[:1].detach().clone()
        with torch.no_grad():
            try:
                want = model(x.clone())
            except Exception as exc:
                raise InputError(
                    f"{_where_module('', model)}: running it on the first input of x failed "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            got = self(x)
        if not isinstance(want, torch.Tensor) or tuple(want.shape) != tuple(got.shape):
            shape = tuple(want.shape) if isinstance(want, torch.Tensor) else type(want).__name__
            raise InputError(
                f"{_where_module('', model)}: its output ({shape}) is not what its traced graph "
                f"computes ({tuple(got.shape)}); it cannot be bounded"
            )
        scale = 1.0 + float(want.abs().max())
        tolerance = 1e-4 if want.dtype != torch.float64 else 1e-9
        if not bool(((want - got).abs() <= tolerance * scale).all()):
            raise InputError(
                f"{_where_module('', model)}: its output differs from what its torch.fx graph "
                "computes (an operation in place on a tensor that another variable aliases, "
                "e.g. h += x, or code fx does not see); it cannot be bounded: write the "
                "operation out of place"
            )

    # -- reading -------------------------------------------------------------------------

    def _where(self, node: fx.Node) -> str:
        path = _module_path(node)
        inside = f" in {path}" if path and node.op != "call_module" else ""
        if node.op == "call_module":
            module = self._model.get_submodule(str(node.target))
            return f"{_call_name(node)} ({type(module).__qualname__}) at node '{node.name}'"
        return f"{_call_name(node)} at node '{node.name}'{inside}"

    def _refuse(self, node: fx.Node, why: str = "") -> InputError:
        what = f": {why}" if why else ""
        return InputError(
            f"unsupported operation {self._where(node)}{what}; the robust verifiers bound "
            f"{SUPPORTED_OPERATIONS}"
        )

    def _needed(self, output: fx.Node) -> set[fx.Node]:
        """The fx nodes whose values the output depends on (check_tensor: its first argument)."""
        needed: set[fx.Node] = set()
        stack = [output]
        while stack:
            node = stack.pop()
            if node in needed:
                continue
            needed.add(node)
            if node.op == "call_function" and node.target is check_tensor:
                args: Any = node.args[:1]
            else:
                args = (node.args, node.kwargs)
            stack.extend(_nodes_in(args))
        return needed

    def _build(self) -> None:
        output = self._fx_nodes[-1]
        assert output.op == "output"
        (result,) = output.args
        if not isinstance(result, fx.Node):
            raise InputError(
                f"{_where_module('', self._model)}: expected a forward returning one tensor, "
                f"got {type(result).__name__} of outputs"
            )
        for node in self._fx_nodes:
            self._check_in_place(node)
        needed = self._needed(result)
        placeholders = [n for n in self._fx_nodes if n.op == "placeholder" and n in needed]
        if len(placeholders) != 1:
            raise InputError(
                f"{_where_module('', self._model)}: expected a forward of one input tensor, got "
                f"one that uses {len(placeholders)} inputs"
            )
        values: dict[fx.Node, _Value] = {}
        for node in self._fx_nodes:
            if node not in needed or node.op == "output":
                continue
            values[node] = self._read(node, values)
        out = values[result]
        if not isinstance(out, _Tensor):
            raise InputError(
                f"{_where_module('', self._model)}: expected a forward returning a tensor that "
                "depends on its input"
            )
        if out != len(self.nodes) - 1:  # the output must be last: add an identity reshape
            shape = self.nodes[out].shape
            self._add("output", (out,), _Reshape(shape, shape), shape)

    def _check_in_place(self, node: fx.Node) -> None:
        """Refuse an operation in place whose mutation another node could see."""
        in_place = False
        if node.op == "call_function" and node.target in _INPLACE_FUNCTIONS:
            in_place = True
        elif node.op == "call_method" and str(node.target).endswith("_"):
            in_place = not str(node.target).endswith("__")
        elif node.op in ("call_function", "call_method") and node.kwargs.get("inplace") is True:
            in_place = True
        elif node.op == "call_function" and node.target in _INPLACE_POSITION:
            position = _INPLACE_POSITION[node.target]
            in_place = len(node.args) > position and node.args[position] is True
        elif node.op == "call_module":
            module = self._model.get_submodule(str(node.target))
            in_place = bool(getattr(module, "inplace", False))
        if not in_place:
            return
        safe = node.op in ("call_module", "call_function") and self._alias_free(node)
        if node.op == "call_function" and node.target in _INPLACE_FUNCTIONS:
            safe = False
        if not safe:
            raise self._refuse(
                node,
                "an operation in place whose input is read elsewhere (or aliased) cannot be "
                "read from the graph; use the out-of-place form",
            )

    def _alias_free(self, node: fx.Node) -> bool:
        """Does the tensor ``node`` mutates have no other reader (through views too)?"""
        source = node.args[0] if node.args else None
        while isinstance(source, fx.Node):
            if len(source.users) != 1:
                return False
            aliasing = (source.op == "call_method" and source.target in _ALIASING_METHODS) or (
                source.op == "call_function" and source.target is check_tensor
            )
            if source.op == "call_module":
                aliasing = isinstance(
                    self._model.get_submodule(str(source.target)), _ALIASING_MODULES
                )
            if source.op == "call_function" and source.target in (torch.flatten, torch.reshape):
                aliasing = True
            if not aliasing:
                return True
            source = source.args[0] if source.args else None
        return True

    def _add(
        self,
        where: str,
        inputs: tuple[int, ...],
        op: Affine | Activation | Sum | Cat | None,
        shape: tuple[int, ...],
    ) -> _Tensor:
        self.nodes.append(GraphNode(where, inputs, op, shape))
        return _Tensor(len(self.nodes) - 1)

    def _constant(self, node: fx.Node, value: Any) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise self._refuse(node, f"expected a constant tensor, got {type(value).__name__}")
        return value.detach().to(self._dtype)

    def _read(self, node: fx.Node, values: dict[fx.Node, _Value]) -> _Value:
        def value(a: Any) -> Any:
            if isinstance(a, fx.Node):
                return values[a]
            if isinstance(a, (tuple, list)):
                return type(a)(value(v) for v in a)
            return a

        if node.op == "placeholder":
            shape = self._x_shape[1:]
            return self._add("the input x", (), None, shape)
        if node.op == "get_attr":
            target: Any = self._model
            for part in str(node.target).split("."):
                target = getattr(target, part)
            return target
        if node.op == "call_function" and node.target is check_tensor:
            return value(node.args[0])  # a validation that returns its tensor
        args = [value(a) for a in node.args]
        kwargs = {k: value(v) for k, v in node.kwargs.items()}
        if node.op == "call_module":
            return self._module(node, args, kwargs)
        name = str(node.target) if node.op == "call_method" else None
        fn = node.target if node.op == "call_function" else None
        if fn is getattr:
            return self._attribute(node, args)
        if fn is operator.getitem:
            return self._getitem(node, args)
        if name in ("size", "dim") or fn is torch.numel:
            return self._size(node, name, args)
        if fn is not None and fn in _FUNCTIONS:
            return _FUNCTIONS[fn](self, node, args, kwargs)
        if name is not None and name in _METHODS:
            return _METHODS[name](self, node, args, kwargs)
        raise self._refuse(node)

    def _tensor(self, node: fx.Node, value: Any, what: str = "input") -> _Tensor:
        if not isinstance(value, _Tensor):
            raise self._refuse(node, f"expected its {what} to be a tensor computed from x")
        return value

    def _shape(self, index: int) -> tuple[int, ...]:
        return self.nodes[index].shape

    def _module(self, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
        path = str(node.target)
        module = self._model.get_submodule(path)
        where = f"{path} ({type(module).__qualname__}) at node '{node.name}'"
        if len(args) != 1 or kwargs:
            raise self._refuse(node, "expected a module called on one tensor")
        x = self._tensor(node, args[0])
        shape = self._shape(x)
        if (
            isinstance(module, nn.AdaptiveAvgPool2d)
            and not_own_code(module, nn.AdaptiveAvgPool2d) is None
        ):
            return self._adaptive_pool(node, x, module.output_size)
        problem = _layer_problem(module, self._eval_dropout, True)
        if problem == _UNSUPPORTED:
            raise self._refuse(node)
        if problem is not None:
            raise InputError(
                f"{where}: {problem}; the robust verifiers bound {SUPPORTED_OPERATIONS}"
            )
        if isinstance(module, (nn.Identity, nn.Dropout)):
            return x
        try:
            out = _out_shape(module, shape)
        except _Mismatch as why:
            raise self._mismatch(where, x, why.expected) from None
        op: Affine | Activation
        if isinstance(module, _ACTIVATIONS):
            op = Activation(module, shape)
        elif isinstance(module, nn.Linear):
            op = _Linear(module, shape)
        elif isinstance(module, nn.Conv2d):
            op = _Conv(module, shape, out)
        elif isinstance(module, nn.Flatten):
            op = _Flatten(shape, out)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            op = _Scale(module, shape)
        else:
            assert isinstance(module, nn.AvgPool2d)
            op = _AvgPool(module, shape, out)
        return self._add(where, (x,), op, out)

    def _mismatch(self, where: str, x: int, expected: str) -> InputError:
        shape = self._shape(x)
        got = self._x_shape
        if x == 0:
            return InputError(f"x: expected inputs that {where} takes: {expected}, got shape {got}")
        return InputError(
            f"the model: {where} does not take inputs of shape {shape} (what x of shape {got} "
            f"becomes before it), it takes {expected}"
        )

    def _adaptive_pool(self, node: fx.Node, x: int, size: Any) -> _Tensor:
        shape = self._shape(x)
        if len(shape) != 3:
            raise self._refuse(node, f"expected inputs of shape (C, H, W), got {shape}")
        out = _pair(size) if size is not None else None
        if out is None or any(o is None for o in out):
            raise self._refuse(node, "an output size of None is unsupported")
        if any(shape[1 + i] % out[i] for i in range(2)):
            raise self._refuse(
                node,
                f"output size {out} must divide the input's {shape[1:]} (a plain average pool)",
            )
        k = (shape[1] // out[0], shape[2] // out[1])
        pool = nn.AvgPool2d(k, k)
        return self._add(
            self._where(node), (x,), _AvgPool(pool, shape, (shape[0], *out)), (shape[0], *out)
        )

    def _attribute(self, node: fx.Node, args: list[Any]) -> _Value:
        obj, name = args[0], args[1]
        if isinstance(obj, _Tensor) and name == "shape":
            return (_BATCH, *self._shape(obj))
        if isinstance(obj, torch.Tensor):
            return getattr(obj, name)
        raise self._refuse(node, f"reading .{name} of a tensor computed from x")

    def _getitem(self, node: fx.Node, args: list[Any]) -> _Value:
        obj, index = args
        if isinstance(obj, tuple) and isinstance(index, (int, slice)):
            return obj[index]
        raise self._refuse(node, "indexing or slicing a tensor")

    def _size(self, node: fx.Node, name: str | None, args: list[Any]) -> _Value:
        x = self._tensor(node, args[0])
        full = (_BATCH, *self._shape(x))
        if name == "dim":
            return len(full)
        if name is None:  # numel depends on the batch
            raise self._refuse(node, "numel depends on the batch size")
        if len(args) > 1:
            return full[args[1]]
        return full


def _nodes_in(value: Any) -> Iterator[fx.Node]:
    if isinstance(value, fx.Node):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _nodes_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _nodes_in(v)


def _check_example(model: nn.Module, x: Any) -> None:
    """``x`` a finite non-empty floating batch of the model's parameters' dtype and device."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    check_tensor(x, "x", finite=False)
    params = [
        (name, t)
        for name, t in [*model.named_parameters(), *model.named_buffers()]
        if t.is_floating_point()
    ]
    _check_like_parameters(x, "x", params)
    if x.dim() < 2:
        raise InputError(f"x: expected a batch (N, ...) of inputs, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise InputError(f"x: expected a non-empty batch, got shape {tuple(x.shape)}")
    if not all_finite(x):
        raise InputError("x: expected finite values, got NaN or inf")
    for name, t in params:
        if not all_finite(t):
            raise InputError(f"the model: expected finite parameters, got NaN or inf in {name}")


# -- the functions and methods ---------------------------------------------------------------

_Handler = Callable[[Graph, fx.Node, list[Any], dict[str, Any]], _Value]


def _arg(args: list[Any], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _activation(graph: Graph, node: fx.Node, module: nn.Module, x: Any) -> _Tensor:
    x = graph._tensor(node, x)
    shape = graph._shape(x)
    return graph._add(graph._where(node), (x,), Activation(module, shape), shape)


def _relu(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    return _activation(graph, node, nn.ReLU(), args[0])


def _leaky(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    slope = _arg(args, kwargs, 1, "negative_slope", 0.01)
    if not isinstance(slope, (int, float)) or not 0 <= slope <= 1:
        raise graph._refuse(node, f"negative_slope={slope!r} is not a number in [0, 1] (monotone)")
    return _activation(graph, node, nn.LeakyReLU(float(slope)), args[0])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _broadcast_constant(graph: Graph, node: fx.Node, value: Any, shape: tuple[int, ...]) -> Any:
    """A number, or a constant tensor that broadcasts to ``(1, *shape)`` without growing it."""
    if _number(value):
        return float(value)
    t = graph._constant(node, value)
    if not all_finite(t):
        raise graph._refuse(node, "a constant with NaN or inf")
    try:
        grown = torch.broadcast_shapes(tuple(t.shape), (1, *shape))  # type: ignore[no-untyped-call]
    except RuntimeError:
        grown = None
    if grown != (1, *shape):
        raise graph._refuse(
            node, f"a constant of shape {tuple(t.shape)} that does not broadcast to {shape}"
        )
    return t.reshape(t.shape[1:]) if t.dim() == len(shape) + 1 else t


def _affine_scalar(graph: Graph, node: fx.Node, x: Any, scale: Any, shift: Any) -> _Value:
    x = graph._tensor(node, x)
    shape = graph._shape(x)
    s = _broadcast_constant(graph, node, scale, shape)
    t = None if shift is None else _broadcast_constant(graph, node, shift, shape)
    if isinstance(t, float):
        t = torch.full(shape, t, dtype=graph._dtype, device=graph._device)
    elif t is not None:
        t = t.expand(shape)
    return graph._add(graph._where(node), (x,), _ScaleShift(shape, s, t), shape)


def _add_sub(sign: float) -> _Handler:
    def handler(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
        a, b = args[0], _arg(args, kwargs, 1, "other", None)
        alpha = kwargs.get("alpha", 1)
        if not _number(alpha):
            raise graph._refuse(node, f"alpha={alpha!r}")
        coeff = sign * float(alpha)
        if isinstance(a, _Tensor) and isinstance(b, _Tensor):
            if graph._shape(a) != graph._shape(b):
                raise graph._refuse(
                    node,
                    f"expected two tensors of one shape, got {graph._shape(a)} and "
                    f"{graph._shape(b)} (broadcasting between computed tensors is unsupported)",
                )
            return graph._add(graph._where(node), (a, b), Sum((1.0, coeff)), graph._shape(a))
        if isinstance(a, _Tensor):
            shift = b * coeff if _number(b) else graph._constant(node, b) * coeff
            return _affine_scalar(graph, node, a, 1.0, shift)
        if isinstance(b, _Tensor):  # constant + coeff * x
            return _affine_scalar(graph, node, b, coeff, a)
        raise graph._refuse(node, "expected a tensor computed from x")

    return handler


def _mul(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    a, b = args[0], _arg(args, kwargs, 1, "other", None)
    if isinstance(a, _Tensor) and not isinstance(b, _Tensor):
        return _affine_scalar(graph, node, a, b, None)
    if isinstance(b, _Tensor) and not isinstance(a, _Tensor):
        return _affine_scalar(graph, node, b, a, None)
    raise graph._refuse(node, "a product of two tensors computed from x is not linear")


def _div(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    a, b = args[0], _arg(args, kwargs, 1, "other", None)
    if kwargs.get("rounding_mode") is not None:
        raise graph._refuse(node, "rounding_mode")
    if not isinstance(a, _Tensor) or isinstance(b, _Tensor):
        raise graph._refuse(node, "only a tensor computed from x divided by a constant is linear")
    if _number(b):
        if b == 0:
            raise graph._refuse(node, "division by zero")
        return _affine_scalar(graph, node, a, 1.0 / b, None)
    t = graph._constant(node, b)
    if not bool((t != 0).all()):
        raise graph._refuse(node, "division by a constant with zeros")
    return _affine_scalar(graph, node, a, 1.0 / t, None)


def _neg(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    return _affine_scalar(graph, node, args[0], -1.0, None)


def _passthrough(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    return graph._tensor(node, args[0])


def _dropout(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    p = _arg(args, kwargs, 1, "p", 0.5)
    training = _arg(args, kwargs, 2, "training", True)
    if training and p > 0 and not graph._eval_dropout:
        raise graph._refuse(node, "dropout in training mode (call model.eval())")
    return graph._tensor(node, args[0])


def _reshape_to(graph: Graph, node: fx.Node, x: Any, target: Any) -> _Value:
    x = graph._tensor(node, x)
    shape = graph._shape(x)
    n = math.prod(shape)
    target = tuple(target)
    if not target:
        raise graph._refuse(node, "a reshape that drops the batch dim")
    first, rest = target[0], list(target[1:])
    if any(v is _BATCH for v in rest) or not all(isinstance(v, int) for v in rest):
        raise graph._refuse(node, f"a target shape {target} that moves the batch dim")
    if first is not _BATCH and not (first == -1 and -1 not in rest):
        raise graph._refuse(
            node, f"a target shape {target} that does not keep the batch dim first (use x.size(0))"
        )
    if rest.count(-1) > 1:
        raise graph._refuse(node, f"a target shape {target} with two -1")
    if -1 in rest:
        known = math.prod(v for v in rest if v != -1)
        if known == 0 or n % known:
            raise graph._refuse(node, f"cannot reshape {shape} per sample to {target}")
        rest[rest.index(-1)] = n // known
    out = tuple(rest)
    if math.prod(out) != n:
        raise graph._refuse(node, f"cannot reshape {shape} per sample to {target}")
    return graph._add(graph._where(node), (x,), _Reshape(shape, out), out)


def _shape_args(args: list[Any], kwargs: dict[str, Any], key: str) -> Any:
    if len(args) == 2 and isinstance(args[1], (tuple, list)):
        return args[1]
    if len(args) > 1:
        return args[1:]
    return kwargs.get(key, kwargs.get("size", ()))


def _view(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    return _reshape_to(graph, node, args[0], _shape_args(args, kwargs, "shape"))


def _flatten(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    shape = graph._shape(x)
    rank = len(shape) + 1
    start = _arg(args, kwargs, 1, "start_dim", 0)
    end = _arg(args, kwargs, 2, "end_dim", -1)
    start, end = start % rank, end % rank
    if start == 0:
        raise graph._refuse(node, "flattening the batch dim (start_dim must be >= 1)")
    full = (_BATCH, *shape)
    merged = math.prod(full[start : end + 1])  # type: ignore[arg-type]
    return _reshape_to(graph, node, x, (*full[:start], merged, *full[end + 1 :]))


def _mean(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    shape = graph._shape(x)
    dims = _arg(args, kwargs, 1, "dim", None)
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    if kwargs.get("dtype") is not None:
        raise graph._refuse(node, "a dtype argument")
    if dims is None:
        raise graph._refuse(node, "a mean over every dim includes the batch dim")
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    rank = len(shape) + 1
    per_sample = tuple(sorted({d % rank - 1 for d in dims}))
    if -1 in per_sample:
        raise graph._refuse(node, "a mean over the batch dim")
    op = _Mean(shape, per_sample, keepdim)
    return graph._add(graph._where(node), (x,), op, op.out_shape)


def _cat(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    tensors = args[0] if args else kwargs.get("tensors")
    dim = _arg(args, kwargs, 1, "dim", 0)
    if not isinstance(tensors, (tuple, list)) or not tensors:
        raise graph._refuse(node, "expected a list of tensors")
    ins = tuple(graph._tensor(node, t, "inputs") for t in tensors)
    shapes = [graph._shape(t) for t in ins]
    rank = len(shapes[0]) + 1
    if any(len(s) + 1 != rank for s in shapes) or not isinstance(dim, int):
        raise graph._refuse(node, f"tensors of different ranks {shapes}")
    d = dim % rank - 1
    if d < 0:
        raise graph._refuse(node, "concatenation along the batch dim")
    rest = [s[:d] + s[d + 1 :] for s in shapes]
    if any(r != rest[0] for r in rest):
        raise graph._refuse(node, f"tensors of shapes {shapes} that differ off dim {dim}")
    sizes = tuple(s[d] for s in shapes)
    out = (*shapes[0][:d], sum(sizes), *shapes[0][d + 1 :])
    return graph._add(graph._where(node), ins, Cat(d, sizes), out)


def _linear(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    weight = graph._constant(node, _arg(args, kwargs, 1, "weight", None))
    bias = _arg(args, kwargs, 2, "bias", None)
    bias = None if bias is None else graph._constant(node, bias)
    shape = graph._shape(x)
    if (
        weight.dim() != 2
        or shape != (weight.shape[1],)
        or (bias is not None and tuple(bias.shape) != (weight.shape[0],))
    ):
        raise graph._mismatch(graph._where(node), x, f"flat inputs of {weight.shape[-1]} features")
    return graph._add(
        graph._where(node), (x,), _ConstLinear(weight, bias, shape), (weight.shape[0],)
    )


def _conv2d(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    weight = graph._constant(node, _arg(args, kwargs, 1, "weight", None))
    bias = _arg(args, kwargs, 2, "bias", None)
    bias = None if bias is None else graph._constant(node, bias)
    stride = _pair(_arg(args, kwargs, 3, "stride", 1))
    padding = _arg(args, kwargs, 4, "padding", 0)
    if isinstance(padding, str):
        raise graph._refuse(node, "string padding")
    padding = _pair(padding)
    dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
    groups = int(_arg(args, kwargs, 6, "groups", 1))
    shape = graph._shape(x)
    if weight.dim() != 4 or len(shape) != 3 or shape[0] != weight.shape[1] * groups:
        raise graph._mismatch(
            graph._where(node), x, f"inputs (C, H, W) with C = {weight.shape[1] * groups}"
        )
    k = weight.shape[2:]
    size = tuple(
        (shape[1 + i] + 2 * padding[i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1
        for i in range(2)
    )
    if min(size) < 1:
        raise graph._mismatch(graph._where(node), x, "inputs large enough for its kernel")
    out = (weight.shape[0], *size)
    op = _ConstConv(weight, bias, stride, padding, dilation, groups, shape, out)
    return graph._add(graph._where(node), (x,), op, out)


def _avg_pool(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    names = (
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    )
    defaults = (None, None, 0, False, True, None)
    settings = {
        n: _arg(args, kwargs, i + 1, n, d)
        for i, (n, d) in enumerate(zip(names, defaults, strict=True))
    }
    if not settings["stride"]:
        settings["stride"] = None
    pool = nn.AvgPool2d(**settings)
    problem = _layer_problem(pool, graph._eval_dropout, True)
    if problem is not None:
        raise graph._refuse(node, problem)
    shape = graph._shape(x)
    try:
        out = _out_shape(pool, shape)
    except _Mismatch as why:
        raise graph._mismatch(graph._where(node), x, why.expected) from None
    return graph._add(graph._where(node), (x,), _AvgPool(pool, shape, out), out)


def _adaptive(graph: Graph, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _Value:
    x = graph._tensor(node, args[0])
    return graph._adaptive_pool(node, x, _arg(args, kwargs, 1, "output_size", None))


_FUNCTIONS: dict[Any, _Handler] = {
    F.relu: _relu,
    torch.relu: _relu,
    F.leaky_relu: _leaky,
    operator.add: _add_sub(1.0),
    torch.add: _add_sub(1.0),
    operator.sub: _add_sub(-1.0),
    torch.sub: _add_sub(-1.0),
    operator.mul: _mul,
    torch.mul: _mul,
    operator.truediv: _div,
    torch.div: _div,
    operator.neg: _neg,
    torch.neg: _neg,
    torch.cat: _cat,
    torch.concat: _cat,
    torch.concatenate: _cat,
    torch.flatten: _flatten,
    torch.reshape: _view,
    torch.mean: _mean,
    F.linear: _linear,
    F.conv2d: _conv2d,
    F.avg_pool2d: _avg_pool,
    F.adaptive_avg_pool2d: _adaptive,
    F.dropout: _dropout,
}

_METHODS: dict[str, _Handler] = {
    "relu": _relu,
    "add": _add_sub(1.0),
    "sub": _add_sub(-1.0),
    "mul": _mul,
    "div": _div,
    "neg": _neg,
    "flatten": _flatten,
    "view": _view,
    "reshape": _view,
    "mean": _mean,
    "contiguous": _passthrough,
    "clone": _passthrough,
}
