"""The ``xuframe`` console script: plugins, list, info, demo."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import xuframe
from xuframe._config import describe_config
from xuframe._registry import _closest
from xuframe.errors import InputError, UnknownComponentError, XuframeError
from xuframe.interfaces import Component

__all__ = ["main"]


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str], out: TextIO) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else ""


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
        print("\n" + doc, file=out)
    fields = describe_config(cls.Config)
    print("\nconfig:", file=out)
    if not fields:
        print("  (no options)", file=out)
    else:
        rows = [
            (f.name, f.type, "(required)" if f.required else repr(f.default), f.doc) for f in fields
        ]
        _table(rows, ("field", "type", "default", "doc"), out)
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


def _format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    targets = _demo_targets(args.names)
    rows, payload, failed = [], [], 0
    for cls in targets:
        label = f"{cls.kind}/{cls.name}"
        print(f"demo {label} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            result = cls.demo(seed=args.seed)
        except Exception as exc:
            failed += 1
            seconds = time.perf_counter() - start
            rows.append((label, f"{seconds:.2f}", "FAILED", f"{type(exc).__name__}: {exc}"))
            payload.append(
                {"component": label, "seconds": seconds, "error": f"{type(exc).__name__}: {exc}"}
            )
            continue
        seconds = time.perf_counter() - start
        if result is None:
            rows.append((label, "-", "no demo", ""))
            payload.append({"component": label, "seconds": None, "metrics": None})
            continue
        rows.append(
            (label, f"{seconds:.2f}", _format_metrics(dict(result.metrics)), result.summary)
        )
        payload.append(
            {
                "component": label,
                "seconds": seconds,
                "metrics": dict(result.metrics),
                "summary": result.summary,
            }
        )
    if args.json:
        print(json.dumps(payload, indent=2), file=out)
    elif rows:
        _table(rows, ("component", "seconds", "results", "summary"), out)
    else:
        print("no components are registered; see `xuframe plugins`", file=out)
    return 1 if failed else 0


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
    p.add_argument("name")
    p.add_argument(
        "--kind", choices=xuframe.KINDS, help="needed when the name exists in several kinds"
    )
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser(
        "demo", help="run built-in demos on embedded data and print one results table"
    )
    p.add_argument(
        "names", nargs="*", metavar="NAME", help="plugin or component names (default: all)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
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


if __name__ == "__main__":
    raise SystemExit(main())
