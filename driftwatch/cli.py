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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from driftwatch import __version__
from driftwatch.checks.base import CheckResult
from driftwatch.config import Config, load_config
from driftwatch.errors import ConfigError, DriftwatchError
from driftwatch.logs import setup_logging

if TYPE_CHECKING:
    from driftwatch.feeds.report import NoticeView
    from driftwatch.state.db import StateDB
from driftwatch.redact import scrub

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

    def command(
        name: str, help_: str, func: Callable[[argparse.Namespace], int], parent: Any = sub
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        p.add_argument(
            "--config",
            "-c",
            default=None,
            help="config file (default: $DRIFTWATCH_CONFIG, then ./driftwatch.yaml)",
        )
        return p

    command("run", "run the daemon: scheduled checks, feeds, /metrics /healthz /readyz", cmd_run)
    p = command("check", "run one cycle of every check now", cmd_check)
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p = command("baseline", "capture the baseline the checks compare with", cmd_baseline)
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--force", action="store_true", help="replace it (after an intended migration)")
    p = command("status", "last results and baselines from the state DB", cmd_status)
    p.add_argument("--json", action="store_true")

    feeds = sub.add_parser("feeds", help="deprecation feeds").add_subparsers(
        dest="feeds_command", required=True, metavar="COMMAND"
    )
    p = command(
        "check",
        "fetch every feed now and print notices for models in use "
        "(exit 2: a feed failed, else 1: a notice for a model in use, else 0)",
        cmd_feeds_check,
        feeds,
    )
    p.add_argument("--json", action="store_true")
    p = command(
        "calendar",
        "write an iCalendar file of the upcoming shutdowns of the models in use",
        cmd_feeds_calendar,
        feeds,
    )
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument("--refresh", action="store_true", help="fetch every feed first")

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, metavar="COMMAND"
    )
    command(
        "validate", "validate the config file and list every problem", cmd_config_validate, config
    )

    demo = sub.add_parser("demo", help="quickstart on a local demo store").add_subparsers(
        dest="demo_command", required=True, metavar="COMMAND"
    )
    command("seed", "create the demo Chroma collection (once)", cmd_demo, demo)
    command("run", "seed if needed, then run the daemon on the demo store", cmd_demo, demo)
    p = command("swap", "check the demo store with the OTHER model as query model", cmd_demo, demo)
    p.add_argument("--json", action="store_true")
    _migrate_parser(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        return EXIT_CANNOT_CHECK
    except DriftwatchError as exc:
        err.print(f"[red]error:[/] {_escape(scrub(str(exc)))}")
        return EXIT_CANNOT_CHECK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # An unexpected crash must not exit 1, which would read as "drift found".
        log.exception("internal error")
        err.print(f"[red]internal error:[/] {_escape(scrub(f'{type(exc).__name__}: {exc}'))}")
        return EXIT_CANNOT_CHECK


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
    if not config.collections:
        # Exit 0 would read as "no drift" when nothing was looked at.
        raise DriftwatchError("nothing to check: the config lists no collections")
    results = _run_cycle(config, args.collection, show_progress=not args.json)
    return _print_results(results, as_json=args.json)


def _run_cycle(config: Config, only: str | None, show_progress: bool) -> list[CheckResult]:
    from driftwatch.runner import runner_on_state

    collections = [config.collection(only)] if only else config.collections
    results: list[CheckResult] = []
    # The runner captures a missing baseline first where the baseline rule allows it
    # (driftwatch/baselines.py); what it did is part of the results' messages.
    with _progress(show_progress) as progress, runner_on_state(config, progress) as (runner, _):
        for coll in collections:
            results += runner.run(_monitored(config, coll, runner.state))
    return results


def _monitored(config: Config, coll: Any, db: Any) -> Any:
    """The collection as monitored now: green after a migration cutover (migrate.routing)."""
    from driftwatch.migrate.routing import effective_collection

    return coll if db is None else effective_collection(config, coll, db)


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
        payload = {
            "drift": any(r.status == "drift" for r in results),
            "warning": any(r.status == "warning" for r in results),
            "results": [r.to_json() for r in results],
        }
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
    code = EXIT_OK
    with runner_on_state(config) as (runner, baselines):
        for coll in collections:
            coll = _monitored(config, coll, runner.state)  # noqa: PLW2901
            try:
                outcome = baselines.capture(coll, force=args.force)
            except DriftwatchError as exc:
                err.print(f"[red]error:[/] {coll.name}: {_escape(str(exc))}")
                code = EXIT_CANNOT_CHECK
                continue
            if outcome.action == "refused":
                err.print(f"[red]refused:[/] {coll.name}: {_escape(outcome.message)}")
                code = max(code, EXIT_DRIFT)  # 1: refused, as `migrate` refuses
            elif outcome.action == "existing" or outcome.baseline is None:
                out.print(_escape(outcome.message))
            else:
                when = f"{outcome.baseline.created_at:%Y-%m-%d %H:%M:%S} UTC"
                out.print(f"{coll.name} ({when}): {_escape(outcome.message)}")
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from driftwatch.cost import daily_embedding_cost
    from driftwatch.feeds.report import notice_json, render_notices
    from driftwatch.state.baselines import active_baseline
    from driftwatch.state.db import open_state
    from driftwatch.state.results import latest_results

    config = load_config(args.config, read_only=True)
    db = open_state(config.state_url, create=False)
    try:
        results = latest_results(db)
        monitored = [_monitored(config, c, db) for c in config.collections]
        baselines = {c.name: active_baseline(db, c.name) for c in monitored}
        cutovers = _cutovers(config, db)
        deprecations = _deprecation_notices(config, db)
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
                    "deprecations": [notice_json(n) for n in deprecations],
                    "cutovers": cutovers,
                    "embedding_cost": daily_embedding_cost(config, results),
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
    for name, c in cutovers.items():
        out.print(f"{name}: migrated; monitoring {c['target']!r} with {c['model']} since {c['at']}")
    table = Table(title="last results")
    for column in ("collection", "check", "status", "value", "when", "message"):
        table.add_column(column, overflow="fold")
    for r in sorted(results, key=lambda r: (r.collection, r.check)):
        table.add_row(*_row(r, f"{r.started_at:%Y-%m-%d %H:%M:%S}"))
    out.print(table)
    for name, cost in daily_embedding_cost(config, results).items():
        price = "" if cost["cost_per_day"] is None else f", {cost['cost_per_day']:.4g} per day"
        out.print(
            f"{name}: monitoring embeds ~{cost['texts_per_day']:,.0f} texts / "
            f"{cost['tokens_per_day']:,.0f} tokens per day{price}"
        )
    render_notices(deprecations, out)
    return EXIT_OK


def _deprecation_notices(config: Config, db: StateDB) -> list[NoticeView]:
    """Recorded notices for the models in use, read only (``status`` fetches nothing)."""
    from datetime import UTC, datetime

    from driftwatch.feeds.models_in_use import models_in_use
    from driftwatch.feeds.service import current_notices

    return current_notices(models_in_use(config, db), db, datetime.now(UTC).date())


def cmd_feeds_check(args: argparse.Namespace) -> int:
    """Exit 2: a feed failed (it wins); else 1: a notice for a model in use; else 0."""
    from driftwatch.feeds.report import render_report
    from driftwatch.feeds.service import FeedWatcher
    from driftwatch.state.db import open_state

    config = load_config(args.config)
    db = open_state(config.state_url)
    try:
        with FeedWatcher(config, db) as watcher:
            report = watcher.check_all()
    finally:
        db.close()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        render_report(report, out)
    return report.exit_code


def cmd_feeds_calendar(args: argparse.Namespace) -> int:
    """Write the upcoming shutdowns as iCalendar; exit 2 when a --refresh fetch or the
    --output file failed."""
    from datetime import UTC, datetime

    from driftwatch.feeds.calendar import shutdown_calendar
    from driftwatch.feeds.service import FeedWatcher, current_notices
    from driftwatch.state.db import open_state

    output = _output_path("--output", args.output) if args.output else None
    config = load_config(args.config)
    db = open_state(config.state_url)
    failed = False
    try:
        with FeedWatcher(config, db) as watcher:
            if args.refresh:
                failed = watcher.check_all().exit_code == EXIT_CANNOT_CHECK
            now = datetime.now(UTC)
            notices = current_notices(watcher.models_in_use(), db, now.date())
    finally:
        db.close()
    document = shutdown_calendar(notices, now.date(), now)
    if output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    elif _write_output("--output", output, document):
        upcoming = document.count(b"BEGIN:VEVENT")
        err.print(f"wrote {upcoming} upcoming shutdown(s) to {_escape(str(output))}")
    else:
        failed = True
    return EXIT_CANNOT_CHECK if failed else EXIT_OK


def _output_path(option: str, path: str) -> Path:
    """The file an output option names, refused now if it cannot be written.

    Checked before the command's work, which can take minutes (evaluate embeds
    with real models) and would otherwise be lost at the very end.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise DriftwatchError(f"{option} {path}: directory {target.parent} does not exist")
    if target.is_dir():
        raise DriftwatchError(f"{option} {path}: is a directory")
    if not os.access(target if target.exists() else target.parent, os.W_OK):
        raise DriftwatchError(f"{option} {path}: permission denied")
    return target


def _write_output(option: str, target: Path, data: bytes) -> bool:
    """Write an output file; False, with the error shown, if that fails late (disk full).

    Reported rather than raised so that the command's own result is not lost.
    """
    try:
        target.write_bytes(data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        err.print(f"[red]error:[/] {option} {_escape(str(target))}: {_escape(reason)}")
        return False
    return True


def cmd_config_validate(args: argparse.Namespace) -> int:
    from driftwatch.config import config_warnings

    config = load_config(args.config)
    for warning in config_warnings(config):
        err.print(f"[yellow]warning:[/] {_escape(warning)}")
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


# --- migrate (DESIGN.md "Migration"): exit 0 done/ok, 1 refused or work remains, 2 cannot run


def _migrate_parser(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser("migrate", help="re-embed a collection blue/green").add_subparsers(
        dest="migrate_command", required=True, metavar="COMMAND"
    )
    for name, help_, func in (
        ("plan", "records, tokens, cost, time and storage of the migration", cmd_migrate_plan),
        ("evaluate", "the candidate on a sample and the canaries, in memory", cmd_migrate_eval),
        ("run", "re-embed blue into green (resumable; catches up)", cmd_migrate_run),
        ("status", "total, done, missing, stale, complete", cmd_migrate_status),
        ("cutover", "the gate: switch monitoring to green if it passes", cmd_migrate_cutover),
        ("rollback", "switch monitoring back to blue and the old embedder", cmd_migrate_rollback),
    ):
        p = command(name, help_, func, migrate)
        p.add_argument("--collection", help="the collection (default: the one with a migration)")
        if name != "rollback":
            p.add_argument("--json", action="store_true")
        if name == "evaluate":
            p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")


@contextmanager
def _migration(args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """(Endpoints, state DB) for the chosen migration; both closed at the end."""
    from driftwatch.migrate.spec import Endpoints, migration_spec
    from driftwatch.state.db import open_state

    config = load_config(args.config)
    spec = migration_spec(config, args.collection)
    db = open_state(config.state_url)
    try:
        with Endpoints(spec) as endpoints:
            yield endpoints, db
    finally:
        db.close()


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, default=str))


def _cutovers(config: Config, db: Any) -> dict[str, Any]:
    """Migration cutovers in force, by blue's name (``status`` shows the switch)."""
    from driftwatch.migrate.state import active_switch

    found = {}
    for coll in config.collections:
        switch = active_switch(db, coll.name) if coll.migration is not None else None
        if switch is not None:
            found[coll.name] = {
                "store": switch.store,
                "target": switch.target,
                "embedder": switch.embedder,
                "model": switch.model,
                "at": switch.at.isoformat(),
            }
    return found


def cmd_migrate_plan(args: argparse.Namespace) -> int:
    from driftwatch.migrate.plan import make_plan

    with _migration(args) as (endpoints, _):
        plan = make_plan(endpoints).to_json()
    if args.json:
        _print_json(plan)
        return EXIT_OK
    _key_value_table(f"migrate plan: {plan['collection']} -> {plan['target']}", plan)
    return EXIT_OK


def _key_value_table(title: str, data: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(key, _escape(f"{value:,.4g}" if isinstance(value, float) else str(value)))
    out.print(table)


def cmd_migrate_eval(args: argparse.Namespace) -> int:
    from driftwatch.migrate.evaluate import evaluate
    from driftwatch.migrate.plan import make_plan
    from driftwatch.migrate.report_html import render_report

    html = _output_path("--html", args.html) if args.html else None
    with _migration(args) as (endpoints, _):
        result = evaluate(endpoints)
        page = render_report(result, make_plan(endpoints).to_json()) if html else None
    # The evaluation is printed first: a report that fails to write must not cost it.
    _print_evaluation(result, as_json=args.json)
    if html is None or page is None:
        return EXIT_OK
    if not _write_output("--html", html, page.encode("utf-8")):
        return EXIT_CANNOT_CHECK
    err.print(f"report written to {_escape(str(html))}")
    return EXIT_OK


def _print_evaluation(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json({k: v for k, v in result.items() if k != "similarities"})
        return
    models = f"{result['current_model']} vs {result['candidate_model']}"
    table = Table(title=f"migrate evaluate: {models}")
    for column in ("model", "recall@k", "95% CI", "MRR", "95% CI"):
        table.add_column(column)
    for name in ("current", "candidate"):
        s = result[name]
        table.add_row(
            name, _fmt(s["recall_at_k"]), _ci(s["recall_ci"]), _fmt(s["mrr"]), _ci(s["mrr_ci"])
        )
    out.print(table)
    agreement, bridge = result["agreement"], result["bridge"]
    overlap, rbo = _fmt(agreement["overlap_at_k"]), _fmt(agreement["rbo"])
    out.print(f"agreement: overlap@k {overlap}, RBO {rbo}")
    for name in ("unmapped", "procrustes", "ridge"):
        if name in bridge:
            out.print(f"bridge {name}: neighbour recall {_fmt(bridge[name]['neighbour_recall'])}")


def _ci(ci: Any) -> str:
    return "" if ci is None else f"{ci[0]:.3f}-{ci[1]:.3f}"


def cmd_migrate_run(args: argparse.Namespace) -> int:
    from driftwatch.migrate.run import run_migration

    with _migration(args) as (endpoints, db), _run_progress(args.json) as progress:
        outcome = run_migration(endpoints, db, progress)
    final = outcome.final
    summary = {
        "embedded": outcome.embedded,
        "deleted": outcome.deleted,
        "passes": outcome.passes,
        "total": final.total,
        "done": final.done,
        "missing": len(final.missing),
        "stale": len(final.stale),
        "without_text": final.without_text,
        "complete": outcome.complete,
    }
    if args.json:
        _print_json(summary)
    else:
        out.print(
            f"{outcome.embedded} record(s) embedded, {outcome.deleted} deleted; green has "
            f"{final.done} of {final.total}: {'complete' if outcome.complete else 'work remains'}"
        )
    return EXIT_OK if outcome.complete else EXIT_DRIFT


@contextmanager
def _run_progress(as_json: bool) -> Iterator[Callable[[Any], None]]:
    """A progress bar on a terminal; otherwise one JSON log line per ~5% of a pass."""
    if not as_json and err.is_terminal:
        columns = (
            TextColumn("re-embedding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("migrate", total=None)

            def update(p: Any) -> None:
                bar.update(task, completed=p.done, total=p.todo)

            yield update
        return
    last: dict[int, int] = {}

    def log_line(p: Any) -> None:
        step = max(1, p.todo // 20)
        if p.done == 0 or p.done >= p.todo or p.done - last.get(p.pass_no, 0) >= step:
            last[p.pass_no] = p.done
            log.info(
                "migration progress",
                extra={
                    "event": "migrate_progress",
                    "pass": p.pass_no,
                    "done": p.done,
                    "todo": p.todo,
                    "embedded": p.embedded_total,
                },
            )

    yield log_line


def cmd_migrate_status(args: argparse.Namespace) -> int:
    from driftwatch.migrate.status import migration_status

    with _migration(args) as (endpoints, db):
        status = migration_status(endpoints, db).to_json()
    if args.json:
        _print_json(status)
    else:
        _key_value_table(f"migrate status: {status['collection']} -> {status['target']}", status)
    return EXIT_OK if status["complete"] else EXIT_DRIFT


def cmd_migrate_cutover(args: argparse.Namespace) -> int:
    from driftwatch.migrate.gate import cutover

    with _migration(args) as (endpoints, db):
        decision = cutover(endpoints, db)
    if args.json:
        _print_json(decision.to_json())
    elif decision.allowed:
        what = (
            "already cut over" if decision.already else "cutover recorded; green baseline captured"
        )
        out.print(f"{what}. The application must now: {_escape(decision.application_change or '')}")
    else:
        err.print("[red]cutover refused:[/]")
        for reason in decision.reasons:
            err.print(f"  - {_escape(reason)}")
    return EXIT_OK if decision.allowed else EXIT_DRIFT


def cmd_migrate_rollback(args: argparse.Namespace) -> int:
    from driftwatch.migrate.gate import rollback

    with _migration(args) as (endpoints, db):
        done = rollback(endpoints, db)
        name = endpoints.spec.blue.name
    if not done:
        err.print(f"no cutover of {name!r} is in force: nothing to roll back")
        return EXIT_DRIFT
    out.print(f"monitoring of {name!r} is back on blue with its old embedder")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
