"""The ``xuframe`` console script: plugins, list, info, demo."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

import xuframe
from xuframe._config import describe_config
from xuframe._files import write_atomic
from xuframe._registry import _closest
from xuframe.errors import InputError, UnknownComponentError, XuframeError
from xuframe.interfaces import Component
from xuframe.types import DemoResult

__all__ = ["main"]


def _width() -> int:
    """The terminal's width (``COLUMNS`` first), 100 when there is no terminal."""
    return shutil.get_terminal_size((100, 24)).columns


def _console(out: TextIO) -> Console:
    # markup off: summaries hold brackets ("[16.6, inf)") that rich would read as style tags
    return Console(
        file=out, width=_width(), markup=False, highlight=False, emoji=False, no_color=True
    )


def _new_table(headers: Sequence[str], *, show_header: bool = True) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_header=show_header,
        show_edge=False,
        pad_edge=False,
        header_style="",
        expand=False,
    )
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _print(console: Console, table: Table, out: TextIO) -> None:
    """Render ``table`` and write it without the padding rich leaves at the ends of lines."""
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        print(line.rstrip(), file=out, flush=True)


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str], out: TextIO) -> None:
    """Print ``rows`` as a table that fits the terminal, wrapping long cells."""
    table = _new_table(headers)
    for row in rows:
        table.add_row(*(str(c) for c in row))
    _print(_console(out), table, out)


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`([^`]+)`")  # :class:`X`, :py:func:`~a.b`
_LITERAL = re.compile(r"``([^`]+)``")
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}(\S[^*\n]*?)\*{1,2}(?![\w*])")


def _role_text(match: re.Match[str]) -> str:
    target = match.group(1)
    titled = re.fullmatch(r"(.*?)\s*<[^>]*>", target)
    if titled:
        return titled.group(1)
    return target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target


def _plain_text(doc: str) -> str:
    """``doc`` without reStructuredText markup: roles (``:func:`x` `` becomes ``x``), double
    back-quotes and emphasis stars go; the words stay."""
    return _EMPHASIS.sub(r"\1", _LITERAL.sub(r"\1", _ROLE.sub(_role_text, doc)))


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s+[A-Z(]|\s*$)")


def _summary(cls: type) -> str:
    """The docstring's first sentence as one line of plain text."""
    doc = inspect.getdoc(cls) or ""
    paragraph = " ".join(line.strip() for line in doc.split("\n\n", 1)[0].splitlines())
    end = _SENTENCE_END.search(paragraph)
    return _plain_text(paragraph[: end.end()] if end else paragraph)


def _plugin_of(cls: type[Component]) -> str:
    return xuframe.registry.origin(cls.kind, cls.name)


def _cmd_plugins(args: argparse.Namespace, out: TextIO) -> int:
    infos = xuframe.list_plugins()
    if args.json:
        payload = [
            {
                "name": i.name,
                "version": i.version,
                "distribution": i.distribution,
                "status": i.status,
                "components": list(i.components),
                "error": i.error,
            }
            for i in infos
        ]
        print(json.dumps(payload, indent=2), file=out)
        return 0
    if not infos:
        print("no xuframe plugins are installed", file=out)
        return 0
    rows = [
        (i.name, i.version, i.distribution, i.status, i.error or ", ".join(i.components) or "-")
        for i in infos
    ]
    _table(rows, ("plugin", "version", "distribution", "status", "components / error"), out)
    return 0


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    classes = xuframe.list_components(args.kind, args.pattern)
    if args.json:
        payload = [
            {"kind": c.kind, "name": c.name, "plugin": _plugin_of(c), "summary": _summary(c)}
            for c in classes
        ]
        print(json.dumps(payload, indent=2), file=out)
        return 0
    _table(
        [(c.kind, c.name, _plugin_of(c), _summary(c)) for c in classes],
        ("kind", "name", "plugin", "summary"),
        out,
    )
    return 0


def _resolve(name: str, kind: str | None) -> type[Component]:
    """The component called ``name`` (``kind/name`` works as well, as the tables print it)."""
    head, sep, tail = name.partition("/")
    if sep:
        if head not in xuframe.KINDS:
            raise InputError(
                f"{name!r}: expected NAME or KIND/NAME with KIND one of {', '.join(xuframe.KINDS)}"
            )
        if kind is not None and kind != head:
            raise InputError(f"{name!r} names a {head}, but --kind says {kind}")
        kind, name = head, tail
    if kind is not None:
        return xuframe.get_component_class(kind, name)
    found = xuframe.registry.find(name)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        kinds = ", ".join(c.kind for c in found)
        raise XuframeError(f"{name!r} names components of several kinds ({kinds}); add --kind")
    every = sorted({c.name for c in xuframe.list_components()})
    raise UnknownComponentError(
        "",
        name,
        every,
        closest=_closest(name, every),
        failed_plugins=sorted(xuframe.registry.failed_plugins.items()),
    )


def _cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    cls = _resolve(args.name, args.kind)
    print(
        f"{cls.kind} {cls.name!r}: {cls.__module__}.{cls.__qualname__} (plugin {_plugin_of(cls)})",
        file=out,
    )
    doc = inspect.getdoc(cls)
    if doc:
        print("\n" + _plain_text(doc), file=out)
    fields = describe_config(cls.Config)
    print("\nconfig:", file=out)
    if not fields:
        print("  (no options)", file=out)
    else:
        rows = [
            (f.name, f.type, "(required)" if f.required else repr(f.default), f.doc) for f in fields
        ]
        _table(rows, ("field", "type", "default", "doc"), out)
    shipped = xuframe.pretrained_weights(cls.kind, cls.name)
    if shipped:
        print("\npretrained weights (weights=TAG):", file=out)
        _table(
            [
                (w.tag, _format_metrics(dict(list(w.metrics.items())[:4])), w.command)
                for w in shipped.values()
            ],
            ("tag", "held-out metrics", "made by"),
            out,
        )
    return 0


def _demo_targets(names: Sequence[str]) -> list[type[Component]]:
    everything = xuframe.list_components()
    if not names:
        return everything
    targets: list[type[Component]] = []
    plugins = {i.name for i in xuframe.list_plugins()}
    for name in names:
        if name in plugins:
            chosen = [c for c in everything if _plugin_of(c) == name]
        else:
            chosen = [_resolve(name, None)]
        targets.extend(c for c in chosen if c not in targets)
    return targets


def _format_value(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={_format_value(v)}" for k, v in metrics.items())


def _headline(result: DemoResult) -> str:
    metrics = dict(result.metrics)
    if not metrics:
        return "-"
    key = result.headline or next(iter(metrics))
    return f"{key}={_format_value(metrics[key])}"


class _DemoRows:
    """The demo table, printed a row at a time as each demo finishes.

    Every row is its own headerless table with the same fixed column widths, so the rows line
    up and the table fits the terminal; long cells wrap inside their column.
    """

    HEADERS = ("component", "seconds", "results", "summary")

    def __init__(self, labels: Sequence[str], out: TextIO, *, full_metrics: bool) -> None:
        self.out = out
        self.console = _console(out)
        width = self.console.width
        label = max([len(x) for x in labels] + [len(self.HEADERS[0])])
        seconds = len(self.HEADERS[1])
        results = max(24, width // 3) if full_metrics else 26
        gaps = 3 * 2 + 2  # one space either side of each inner border, and slack
        summary = max(16, width - label - seconds - results - gaps)
        self.widths = (label, seconds, results, summary)
        _print(self.console, self._table(show_header=True), out)

    def _table(self, *, show_header: bool) -> Table:
        table = _new_table(self.HEADERS, show_header=show_header)
        for column, w in zip(table.columns, self.widths, strict=True):
            column.width = w
            column.min_width = w
        table.columns[1].justify = "right"
        return table

    def add(self, *cells: str) -> None:
        table = self._table(show_header=False)
        table.add_row(*cells)
        _print(self.console, table, self.out)


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    targets = _demo_targets(args.names)
    if not targets:
        print("no components are registered; see `xuframe plugins`", file=out)
        return 0
    labels = [f"{cls.kind}/{cls.name}" for cls in targets]
    inputs = {label: _demo_inputs(cls, args) for cls, label in zip(targets, labels, strict=True)}
    full = len(targets) == 1  # one demo: every metric; several: one headline figure each
    rows = None if args.json else _DemoRows(labels, out, full_metrics=full)
    status = Console(file=sys.stderr, stderr=True, highlight=False, markup=False)
    payload, failed = [], 0
    for i, (cls, label) in enumerate(zip(targets, labels, strict=True), 1):
        progress = f"[{i}/{len(targets)}] running the {label} demo"
        if not status.is_terminal:
            print(f"{progress} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            with status.status(progress) if status.is_terminal else _nothing():
                result = cls.demo(seed=args.seed, **inputs[label])
        except Exception as exc:
            failed += 1
            seconds = time.perf_counter() - start
            error = f"{type(exc).__name__}: {exc}"
            payload.append({"component": label, "seconds": seconds, "error": error})
            if rows:
                rows.add(label, f"{seconds:.1f}", "FAILED", error)
            continue
        seconds = time.perf_counter() - start
        if result is None:
            payload.append({"component": label, "seconds": None, "metrics": None})
            if rows:
                rows.add(label, "-", "no demo", "")
            continue
        picture = _write_picture(result, args.out, cls) if args.out else None
        payload.append(
            {
                "component": label,
                "seconds": seconds,
                "metrics": dict(result.metrics),
                "headline": result.headline or next(iter(result.metrics), None),
                "summary": result.summary,
                "picture": str(picture) if picture else None,
            }
        )
        if rows:
            shown = _format_metrics(dict(result.metrics)) if full else _headline(result)
            summary = f"{result.summary} [wrote {picture}]" if picture else result.summary
            rows.add(label, f"{seconds:.1f}", shown, summary)
    if args.json:
        print(json.dumps(payload, indent=2), file=out)
    elif failed:
        print(f"{failed} of {len(targets)} demos failed", file=out)
    return 1 if failed else 0


def _demo_inputs(cls: type[Component], args: argparse.Namespace) -> dict[str, Any]:
    """The real-data options for ``cls.demo`` (``--kitti DIR``), refused by name where the
    demo takes none."""
    inputs: dict[str, Any] = {}
    if args.kitti is not None:
        if "kitti" not in inspect.signature(cls.demo).parameters:
            raise InputError(
                f"{cls.kind}/{cls.name}: its demo takes no KITTI folder (--kitti is for the "
                "LiDAR detectors, e.g. xuframe demo denfi --kitti DIR)"
            )
        inputs["kitti"] = args.kitti
    return inputs


def _write_picture(result: DemoResult, folder: str, cls: type[Component]) -> Path | None:
    """Write the demo's picture as ``folder/KIND-NAME.png`` (atomically); None when it has none."""
    if result.picture is None:
        return None
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(result.picture).save(buffer, format="PNG")
    return write_atomic(Path(folder) / f"{cls.kind}-{cls.name}.png", buffer.getvalue())


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _print_metrics(metrics: dict[str, float], out: TextIO, as_json: bool) -> None:
    if as_json:
        print(json.dumps(metrics, indent=2), file=out)
    else:
        _table([(k, f"{v:.6g}") for k, v in sorted(metrics.items())], ("metric", "value"), out)


def _cmd_train(args: argparse.Namespace, out: TextIO) -> int:
    from xuframe.engine import train_run

    result = train_run(args.config, run_dir=args.run_dir, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            f"trained {result.steps} steps ({result.epochs:.3g} epochs) in {result.seconds:.1f} s; "
            f"run folder {result.run_dir}",
            file=out,
        )
        _print_metrics(
            {**result.train_metrics, **{f"eval/{k}": v for k, v in result.eval_metrics.items()}},
            out,
            args.json,
        )
    return 0


def _cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from xuframe.engine import evaluate_run

    _print_metrics(evaluate_run(args.config, args.checkpoint), out, args.json)
    return 0


def _cmd_plot(args: argparse.Namespace, out: TextIO) -> int:
    from xuframe.engine import plot_metrics

    if not os.path.exists(os.path.join(args.run_dir, "metrics.jsonl")):
        raise InputError(f"{args.run_dir}: no metrics.jsonl here; is it a run folder?")
    print(plot_metrics(args.run_dir, args.output), file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xuframe", description=xuframe.__doc__)
    parser.add_argument("--version", action="version", version=f"xuframe {xuframe.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "plugins",
        help="installed plugins, their versions, what they registered, why a failed one failed",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_plugins)

    p = sub.add_parser("list", help="registered components")
    p.add_argument("kind", nargs="?", choices=xuframe.KINDS, help="only this kind")
    p.add_argument("--pattern", help="glob on the name, e.g. 'crown*'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("info", help="a component's description and config fields")
    p.add_argument("name", help="a component name, or KIND/NAME as the tables print it")
    p.add_argument(
        "--kind", choices=xuframe.KINDS, help="needed when the name exists in several kinds"
    )
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser(
        "demo",
        help="run built-in demos on embedded data; one row per demo, printed as each finishes",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="plugin or component names, or KIND/NAME (default: all); one demo shows every metric",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", metavar="DIR", help="write each demo's picture to DIR/KIND-NAME.png")
    p.add_argument(
        "--kitti",
        metavar="DIR",
        help="LiDAR detectors: run on the real frames of a KITTI-layout folder instead",
    )
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser("train", help="train what a TOML run file describes (works under torchrun)")
    p.add_argument("config", metavar="RUN.toml")
    p.add_argument(
        "--run-dir",
        help="where logs, checkpoints and plots go (default: the file's run_dir or runs/NAME)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in the run folder",
    )
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on a run file's eval data")
    p.add_argument("config", metavar="RUN.toml")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("plot", help="write PNG curves of a run's logged metrics")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-o", "--output", help="PNG path (default: RUN_DIR/plots/metrics.png)")
    p.set_defaults(run=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a demo failed, 2 bad usage or input)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args, out or sys.stdout))
    except XuframeError as exc:
        print(f"xuframe: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `xuframe list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
