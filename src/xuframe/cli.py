"""The ``xuframe`` console script: plugins, list, info, demo."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import itertools
import json
import os
import re
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

import xuframe
from xuframe._config import describe_config
from xuframe._files import write_atomic
from xuframe._registry import _closest
from xuframe.errors import InputError, UnknownComponentError, XuframeError
from xuframe.interfaces import Component
from xuframe.types import DemoResult

__all__ = ["main"]


def _seed(text: str) -> int:
    """``--seed``: an int >= 0 (argparse prints one error line and exits 2 otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {value}")
    return value


def _width() -> int:
    """The terminal's width (``COLUMNS`` first), 100 when there is no terminal."""
    return shutil.get_terminal_size((100, 24)).columns


def _console(out: TextIO) -> Console:
    # markup off: summaries hold brackets ("[16.6, inf)") that rich would read as style tags
    return Console(
        file=out, width=_width(), markup=False, highlight=False, emoji=False, no_color=True
    )


_GAP = 3  # blanks between two cells side by side
_INDENT = 4  # the indent of the cells printed below their row
_PROSE = 30  # the narrowest the last column (summaries, docs, errors) is kept beside the others
_NARROW = 12  # the same for the other columns


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


class _Layout:
    """Where each column of a table goes so that the table fits the terminal and no word is split.

    Columns go side by side from the left while each can be as wide as its longest word
    (``words``) and a readable minimum (``_PROSE`` for the last column, the prose one;
    ``_NARROW`` for the others; never more than its longest line, ``lines``). The columns that
    do not fit go below each row, indented and wrapped to the terminal's width. Spare width goes
    to the columns that need least first, so short cells stay on one line and the prose column
    takes the rest. Cells wrap on spaces; a word wider than the terminal is the only one folded.
    """

    def __init__(
        self,
        console: Console,
        headers: Sequence[str],
        words: Sequence[int],
        lines: Sequence[int],
        *,
        right: Sequence[int] = (),
    ) -> None:
        self.console, self.headers, self.right = console, tuple(headers), set(right)
        width = console.width
        last = len(headers) - 1
        floors = [
            max(w, min(n, _PROSE if i == last else _NARROW))
            for i, (w, n) in enumerate(zip(words, lines, strict=True))
        ]
        shown = len(headers)
        while shown > 1 and sum(floors[:shown]) + _GAP * (shown - 1) > width:
            shown -= 1
        widths = [min(f, width) for f in floors[:shown]]
        spare = width - sum(widths) - _GAP * (shown - 1)
        for done, i in enumerate(sorted(range(shown), key=lambda i: lines[i] - widths[i])):
            extra = max(0, min(lines[i] - widths[i], spare // (shown - done)))
            widths[i] += extra
            spare -= extra
        self.widths = widths

    def _wrap(self, text: str, width: int) -> list[str]:
        wrapped = Text(text).wrap(self.console, max(1, width), overflow="fold")
        return [str(line).rstrip() for line in wrapped]

    def lines(self, cells: Sequence[str], below: Sequence[str] = ()) -> list[str]:
        """The printed lines of one row: its cells side by side, then the cells that go below
        (those of the columns that did not fit, and any whose longest word is wider than its
        column), each indented. The lines ``below`` (a path the row wrote) go under the last
        cell where it is beside the others and they fit its column, else below, indented."""
        shown = len(self.widths)
        moved = [i for i in range(1, shown) if _longest_word(cells[i]) > self.widths[i]]
        wrapped = [
            [] if i in moved else self._wrap(cell, width)
            for i, (cell, width) in enumerate(zip(cells, self.widths, strict=False))
        ]
        last = shown - 1
        if shown == len(self.headers) and last not in moved:  # the prose column is beside
            beside = [t for t in below if _longest_word(t) <= self.widths[last]]
            for text in beside:
                wrapped[last] += self._wrap(text, self.widths[last])
            below = [t for t in below if t not in beside]
        out = []
        for parts in itertools.zip_longest(*wrapped, fillvalue=""):
            padded = [
                " " * (w - cell_len(p)) + p if i in self.right else p + " " * (w - cell_len(p))
                for i, (p, w) in enumerate(zip(parts, self.widths, strict=True))
            ]
            out.append((" " * _GAP).join(padded).rstrip())
        for text in [cells[i] for i in moved] + [*cells[shown:], *below]:
            if text.strip():
                out += [
                    " " * _INDENT + line for line in self._wrap(text, self.console.width - _INDENT)
                ]
        return out

    def header(self) -> list[str]:
        """The header lines: the column names where their columns go, then a rule."""
        shown = len(self.widths)
        out = self.lines(self.headers)
        ruled = (
            self.console.width
            if shown < len(self.headers)
            else sum(self.widths) + _GAP * (shown - 1)
        )
        return [*out, "─" * ruled]


def _emit(lines: Sequence[str], out: TextIO) -> None:
    for line in lines:
        print(line, file=out, flush=True)


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str], out: TextIO) -> None:
    """Print ``rows`` as a table that fits the terminal without splitting a word (see
    :class:`_Layout`)."""
    cells = [[str(c) for c in row] for row in rows]
    columns = list(zip(headers, *cells, strict=True)) if cells else [(h,) for h in headers]
    layout = _Layout(
        _console(out),
        headers,
        [max(_longest_word(c) for c in column) for column in columns],
        [max(_longest_line(c) for c in column) for column in columns],
    )
    _emit(layout.header(), out)
    for row in cells:
        _emit(layout.lines(row), out)


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


_BULLET = re.compile(r"(?:[-*+•]|\d{1,3}[.)]|\(\w\)) +(?=\S)")  # "- ", "2. ", "(a) "
_UNDERLINE = re.compile(r"([-=~^\"'`#*+])\1{2,}\s*")  # a section title's underline


def _wrap_doc(doc: str, width: int) -> str:
    """``doc`` wrapped to ``width`` columns paragraph by paragraph, as a reader expects.

    Blank lines stay; so do, as they are, indented lines (code, literal blocks, definitions),
    doctest blocks (from ``>>>`` to the next blank line), section titles with their underlines.
    A list item ("- ", "* ", "1. ", "(a) ") starts a paragraph of its own and wraps under its
    text; a line indented to that text continues the item. Words wider than ``width`` are
    broken, so that no line is wider.
    """
    out: list[str] = []
    words: list[str] = []
    marker = ""

    def flush() -> None:
        nonlocal marker
        if words:
            out.extend(
                textwrap.wrap(
                    " ".join(words),
                    max(width, len(marker) + 8),
                    initial_indent=marker,
                    subsequent_indent=" " * len(marker),
                    break_on_hyphens=False,
                )
            )
        words.clear()
        marker = ""

    lines = doc.splitlines()
    doctest = False
    for i, line in enumerate(lines):
        after = lines[i + 1] if i + 1 < len(lines) else ""
        stripped = line.strip()
        doctest = bool(stripped) and (doctest or line.startswith(">>>"))
        bullet = _BULLET.match(line)
        if (
            marker
            and stripped
            and line[: len(marker)].isspace()
            and not line[len(marker)].isspace()
        ):
            words.extend(line.split())  # the continuation of a list item
        elif (
            doctest
            or not stripped
            or line[0].isspace()
            or _UNDERLINE.fullmatch(line)
            or (after.strip() and _UNDERLINE.fullmatch(after))
        ):
            flush()
            out.append(line.rstrip())
        elif bullet:
            flush()
            marker = bullet.group(0)
            words.extend(line[bullet.end() :].split())
        else:
            words.extend(line.split())
    flush()
    return "\n".join(out)


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
    width = _width()
    title = (
        f"{cls.kind} {cls.name!r}: {cls.__module__}.{cls.__qualname__} (plugin {_plugin_of(cls)})"
    )
    print(_wrap_doc(title, width), file=out)
    doc = inspect.getdoc(cls)
    if doc:
        print("\n" + _wrap_doc(_plain_text(doc), width), file=out)
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

    The column widths are fixed up front (from the labels; a headline figure takes at most 26
    columns), so the rows line up; a summary goes below its row when the terminal is too narrow
    for it beside the others, or when one of its words is wider than its column.
    """

    HEADERS = ("component", "seconds", "results", "summary")

    def __init__(self, labels: Sequence[str], out: TextIO, *, full_metrics: bool) -> None:
        self.out = out
        console = _console(out)
        label = max(cell_len(x) for x in [*labels, self.HEADERS[0]])
        seconds = len(self.HEADERS[1])
        results = max(24, console.width // 3) if full_metrics else 26
        self.layout = _Layout(
            console,
            self.HEADERS,
            [label, seconds, results, 0],
            [label, seconds, results, console.width],
            right=[1],
        )
        _emit(self.layout.header(), out)

    def add(self, *cells: str, below: Sequence[str] = ()) -> None:
        _emit(self.layout.lines(cells, below), self.out)


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
    payload: list[dict[str, Any]] = []
    failed: list[str] = []
    without: list[str] = []  # components whose class has no demo
    began = time.perf_counter()
    for i, (cls, label) in enumerate(zip(targets, labels, strict=True), 1):
        progress = f"[{i}/{len(targets)}] running the {label} demo"
        if not status.is_terminal:
            print(f"{progress} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            with status.status(progress) if status.is_terminal else _nothing():
                result = cls.demo(seed=args.seed, **inputs[label])
        except Exception as exc:
            failed.append(label)
            seconds = time.perf_counter() - start
            error = f"{type(exc).__name__}: {exc}"
            payload.append({"component": label, "seconds": seconds, "error": error})
            if rows:
                rows.add(label, f"{seconds:.1f}", "FAILED", error)
            continue
        seconds = time.perf_counter() - start
        if result is None:
            without.append(label)
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
            wrote = [f"[wrote {picture}]"] if picture else []
            rows.add(label, f"{seconds:.1f}", shown, result.summary, below=wrote)
    closing = _demo_closing(len(targets), failed, without, time.perf_counter() - began)
    if args.json:
        print(json.dumps(payload, indent=2), file=out)
        print(closing, file=sys.stderr)
    else:
        print(closing, file=out)
    return 1 if failed else 0


def _demo_closing(ran: int, failed: Sequence[str], without: Sequence[str], seconds: float) -> str:
    """The line that ends ``xuframe demo``: "N of M demos passed in T s", the failed ones named
    and the components without a demo counted apart (they neither pass nor fail)."""
    total = ran - len(without)
    line = (
        f"{total - len(failed)} of {total} demo{'' if total == 1 else 's'} passed "
        f"in {seconds:.1f} s"
    )
    if failed:
        line += f"; failed: {', '.join(failed)}"
    if without:
        line += f" ({len(without)} component{'' if len(without) == 1 else 's'} without a demo: "
        line += f"{', '.join(without)})"
    return line


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
    """Write the demo's picture as ``folder/KIND-NAME.png`` (atomically), titled with the
    component and captioned with the demo's summary, so that the file explains itself; None
    when the demo has no picture."""
    if result.picture is None:
        return None
    from PIL import Image

    from xuframe.pictures import annotate

    picture = annotate(result.picture, title=f"{cls.kind}/{cls.name}", caption=result.summary)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
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
    p.add_argument("--seed", type=_seed, default=0, help="an int >= 0")
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
