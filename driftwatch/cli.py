"""Command line: parse arguments, call the package, print. Exit codes (DESIGN.md):

0  no drift found            1  drift or warning found
2  could not check: bad config, unreachable store/embedder, state DB error

When a run finds drift in one check and could not run another, 1 wins: the
drift is certain, and the failed check is listed in the output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from driftwatch import __version__
from driftwatch.checks.base import CheckResult
from driftwatch.config import Config, load_config
from driftwatch.errors import ConfigError, DriftwatchError
from driftwatch.logs import setup_logging

EXIT_OK, EXIT_DRIFT, EXIT_CANNOT_CHECK = 0, 1, 2
STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "drift": "bold red",
    "error": "magenta",
    "unavailable": "dim",
}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("driftwatch.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftwatch",
        description="Tells on-call when query embeddings stop matching the stored vectors.",
    )
    parser.add_argument("--version", action="version", version=f"driftwatch {__version__}")
    parser.add_argument(
        "--log-format",
        choices=("auto", "text", "json"),
        default="auto",
        help="log line format (auto: JSON unless stderr is a terminal)",
    )
    parser.add_argument("--log-level", default=os.environ.get("DRIFTWATCH_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--config",
            "-c",
            default=None,
            help="config file (default: $DRIFTWATCH_CONFIG, then ./driftwatch.yaml)",
        )
        return p

    command("run", "run the daemon: scheduled checks, feeds, /metrics /healthz /readyz")
    p = command("check", "run one cycle of every check now")
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p = command("baseline", "capture the baseline the checks compare with")
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--force", action="store_true", help="replace it (after an intended migration)")
    p = command("status", "last results and baselines from the state DB")
    p.add_argument("--json", action="store_true")

    feeds = sub.add_parser("feeds", help="deprecation feeds").add_subparsers(
        dest="feeds_command", required=True, metavar="COMMAND"
    )
    p = command(
        "check",
        "fetch every feed now and print notices for models in use "
        "(exit 1: a notice for a model in use, 2: a feed failed)",
        feeds,
    )
    p.add_argument("--json", action="store_true")

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, metavar="COMMAND"
    )
    command("validate", "validate the config file and list every problem", config)

    demo = sub.add_parser("demo", help="quickstart on a local demo store").add_subparsers(
        dest="demo_command", required=True, metavar="COMMAND"
    )
    command("seed", "create the demo Chroma collection (once)", demo)
    command("run", "seed if needed, then run the daemon on the demo store", demo)
    p = command("swap", "check the demo store with the OTHER model as query model", demo)
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    handler = _HANDLERS[_command_path(args)]
    try:
        return handler(args)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        return EXIT_CANNOT_CHECK
    except DriftwatchError as exc:
        err.print(f"[red]error:[/] {_escape(str(exc))}")
        return EXIT_CANNOT_CHECK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # An unexpected crash must not exit 1, which would read as "drift found".
        log.exception("internal error")
        err.print(f"[red]internal error:[/] {_escape(f'{type(exc).__name__}: {exc}')}")
        return EXIT_CANNOT_CHECK


def _command_path(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --- commands ----------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from driftwatch.daemon import Daemon

    config = load_config(args.config)
    try:
        daemon = Daemon(config)
    except OSError as exc:
        raise DriftwatchError(f"cannot listen on {config.listen}: {exc.strerror}") from None
    code = daemon.run_forever()
    if daemon.busy_workers():
        # A check still running past the stop timeout would hold the interpreter
        # open (executor threads are joined at exit); its work is repeatable.
        logging.shutdown()
        os._exit(code)
    return code


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    results = _run_cycle(config, args.collection, show_progress=not args.json)
    return _print_results(results, as_json=args.json)


def _run_cycle(config: Config, only: str | None, show_progress: bool) -> list[CheckResult]:
    from driftwatch.runner import runner_on_state

    collections = [config.collection(only)] if only else config.collections
    results: list[CheckResult] = []
    with _progress(show_progress) as progress, runner_on_state(config, progress) as runner:
        for coll in collections:
            try:
                if runner.capture_baseline(coll, force=False) is not None:
                    err.print(
                        f"no baseline for {coll.name!r} yet: captured one now "
                        f"with {config.embedders[coll.embedder].model}"
                    )
            except DriftwatchError as exc:
                log.warning("cannot capture a baseline for %s: %s", coll.name, exc)
            results += runner.run(coll)
    return results


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar for full scans, only on a terminal and never in JSON mode."""
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("scan", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _exit_code(results: Sequence[CheckResult]) -> int:
    if any(r.status in ("drift", "warning") for r in results):
        return EXIT_DRIFT
    if any(r.status == "error" for r in results):
        return EXIT_CANNOT_CHECK
    return EXIT_OK


def _print_results(results: Sequence[CheckResult], as_json: bool) -> int:
    code = _exit_code(results)
    if as_json:
        drift = code == EXIT_DRIFT
        payload = {"drift": drift, "results": [r.to_json() for r in results]}
        out.print_json(json.dumps(payload)) if out.is_terminal else print(json.dumps(payload))
        return code
    table = Table(title="driftwatch check", show_lines=False)
    for column in ("collection", "check", "status", "value", "threshold", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(*_row(r, _fmt(r.threshold)))
    out.print(table)
    return code


def _row(r: CheckResult, fifth: str) -> tuple[str, ...]:
    """A result as a table row: collection, check, status, value, <fifth>, message."""
    status = f"[{STATUS_STYLE[r.status]}]{r.status}[/]"
    return (r.collection, r.check, status, _fmt(r.value), fifth, _escape(r.message))


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def cmd_baseline(args: argparse.Namespace) -> int:
    from driftwatch.runner import runner_on_state

    config = load_config(args.config)
    collections = [config.collection(args.collection)] if args.collection else config.collections
    failed = False
    with runner_on_state(config) as runner:
        for coll in collections:
            try:
                baseline = runner.capture_baseline(coll, force=args.force)
            except DriftwatchError as exc:
                err.print(f"[red]error:[/] {coll.name}: {_escape(str(exc))}")
                failed = True
                continue
            if baseline is None:
                out.print(f"{coll.name}: a baseline exists; use --force to replace it")
            else:
                out.print(
                    f"{coll.name}: baseline captured with {baseline.model} "
                    f"at {baseline.created_at:%Y-%m-%d %H:%M:%S} UTC"
                )
    return EXIT_CANNOT_CHECK if failed else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from driftwatch.state.baselines import active_baseline
    from driftwatch.state.db import open_state
    from driftwatch.state.results import latest_results

    config = load_config(args.config)
    db = open_state(config.state_url)
    try:
        results = latest_results(db)
        baselines = {c.name: active_baseline(db, c.name) for c in config.collections}
    finally:
        db.close()
    if args.json:
        print(
            json.dumps(
                {
                    "baselines": {
                        name: None
                        if b is None
                        else {"model": b.model, "created_at": b.created_at.isoformat(), "id": b.id}
                        for name, b in baselines.items()
                    },
                    "results": [r.to_json() for r in results],
                }
            )
        )
        return EXIT_OK
    table = Table(title="baselines")
    for column in ("collection", "model", "captured"):
        table.add_column(column)
    for name, b in baselines.items():
        table.add_row(name, b.model if b else "none", f"{b.created_at:%Y-%m-%d %H:%M}" if b else "")
    out.print(table)
    table = Table(title="last results")
    for column in ("collection", "check", "status", "value", "when", "message"):
        table.add_column(column, overflow="fold")
    for r in sorted(results, key=lambda r: (r.collection, r.check)):
        table.add_row(*_row(r, f"{r.started_at:%Y-%m-%d %H:%M:%S}"))
    out.print(table)
    return EXIT_OK


def cmd_feeds_check(args: argparse.Namespace) -> int:
    """Exit 1: a notice for a model in use; 2: no notice, but a feed failed; 0: clear."""
    from prometheus_client import CollectorRegistry

    from driftwatch.feeds.report import render_report
    from driftwatch.feeds.service import FeedWatcher
    from driftwatch.metrics import DriftwatchMetrics
    from driftwatch.state.db import open_state

    config = load_config(args.config)
    db = open_state(config.state_url)
    try:
        with FeedWatcher(config, db, DriftwatchMetrics(CollectorRegistry())) as watcher:
            report = watcher.check_all()
    finally:
        db.close()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        render_report(report, out)
    return report.exit_code


def cmd_config_validate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    out.print(
        f"config OK: {len(config.collections)} collection(s), {len(config.stores)} store(s), "
        f"{len(config.embedders)} embedder(s), {len(config.feeds)} feed(s), "
        f"slack {'on' if config.alerts.slack else 'off'}"
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from driftwatch import demo

    config = load_config(args.config)
    if args.demo_command == "seed":
        demo.seed(config, out)
        return EXIT_OK
    if args.demo_command == "run":
        demo.seed(config, out)
        return cmd_run(args)
    results = demo.swap(config, err)  # stdout stays clean for --json
    return _print_results(results, as_json=args.json)


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "check": cmd_check,
    "baseline": cmd_baseline,
    "status": cmd_status,
    "feeds check": cmd_feeds_check,
    "config validate": cmd_config_validate,
    "demo seed": cmd_demo,
    "demo run": cmd_demo,
    "demo swap": cmd_demo,
}


if __name__ == "__main__":
    sys.exit(main())
