"""``ttlock-hil nightly`` runs a night; ``ttlock-hil report`` looks at the history of nights.

``nightly [--config FILE] [--out DIR] [--history PATH] [--suite DIR] [--workers N]
[--reruns N] [-- PYTEST-ARGS…]``
runs the regression suite (``tests/hil``) against the lab of the config with
pytest's progress on the terminal, records the night in the history store and
writes ``junit.xml``, ``report.html``, ``results.json`` and the frame traces into
``DIR/<night id>/`` (default ``DIR``: the config's ``reports:``), then prints the
summary, the regressions and lost coverage, and where the report is
(:func:`ttlock_hil.harness.nightly.run_nightly`). Exit status 0 when no test failed,
1 when some did, 2 for usage and config errors (a pytest argument pytest refuses
included: nothing is recorded), 75 when another nightly holds the bench, 130/143
when SIGINT/SIGTERM stopped it (the night is kept, marked interrupted).

``report diff [--night NIGHT] [--since NIGHT] [--config FILE] [--history PATH] [--json]``
prints what changed in the latest complete night (or ``--night``), each test
against its own last result (or against night ``--since``): regressions, lost
coverage, flip-flops, passed on retry, fixes, still failing, new and removed —
as tables that fit the terminal, as plain lines when the output is not a
terminal (nothing wrapped or cut: ``grep`` and ``less`` see whole lines), or as
JSON with ``--json``. Exit status 0 (it reports; it does not judge).

``report show NIGHT [--out FILE] [--config FILE] [--history PATH]`` regenerates
that night's ``report.html`` from the history store (by default into
``<reports>/<NIGHT>/report.html``) and prints where it wrote it.

The store is ``--history``, else the lab config's ``history:``, else
``<reports>/history.sqlite`` (:func:`ttlock_hil.harness.report.history.history_path`). An
unknown night, a missing or unusable store, or a bad config: one ``error: …``
line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ttlock_hil.harness.benchlock import BenchBusy
from ttlock_hil.harness.cli import CliError, ExitStatus
from ttlock_hil.harness.config import LabConfig, load_config
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.labgrid import CoordinatorUnreachable, LabgridError, PlaceBusy
from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.diff import NightDiff, diff_against_history
from ttlock_hil.harness.report.history import HistoryStore, history_path
from ttlock_hil.harness.report.html import (
    HTML_NAME,
    build_report,
    file_mode,
    render_html,
    write_text,
)
from ttlock_hil.harness.report.render_text import lost_coverage_groups, print_diff
from ttlock_hil.harness.tiers import TIERS


def register(subparsers: Any) -> None:
    """Add the ``nightly`` command and the ``report`` group to the ``ttlock-hil`` parser."""
    _register_nightly(subparsers)
    _register_report(subparsers)


def _register_nightly(subparsers: Any) -> None:
    nightly = subparsers.add_parser(
        "nightly",
        help="run the regression suite and write the night's report",
        description="Run the HIL regression suite (tests/hil) against the lab, record the "
        "night in the history store and write junit.xml, report.html, results.json and the "
        "frame traces into DIR/<night>/. Arguments after -- go to pytest.",
    )
    nightly.add_argument(
        "--config", metavar="FILE", help="lab config (default: hil-config.yaml, a virtual lab)"
    )
    nightly.add_argument(
        "--out",
        metavar="DIR",
        help="where nights go (default: the config's reports: directory)",
    )
    nightly.add_argument(
        "--history",
        metavar="PATH",
        help="the history store (default: the config's history: or <reports>/history.sqlite)",
    )
    nightly.add_argument(
        "--suite", metavar="DIR", help="the test directory to run (default: tests/hil)"
    )
    nightly.add_argument(
        "--tier",
        choices=TIERS,
        default="virtual",
        help="where the config's sim: devices live for the night (default: virtual; docs/tiers.md)",
    )
    nightly.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="pytest processes that run the devices in parallel, each device on one of them "
        "(default: one per device, at most one per CPU for simulated devices and 6 per CPU "
        "with radio devices, planned from the last night's device times; 1: one after "
        "another)",
    )
    nightly.add_argument(
        "--reruns",
        type=int,
        default=None,
        metavar="N",
        help="run the failed tests again up to N times; one that then passes is reported "
        "flaky (default: 1; 0 turns reruns off)",
    )
    nightly.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="a labgrid coordinator: the bench is then also its labgrid place, reserved and "
        "acquired for the night (docs/labgrid.md; needs ttlock-hil[labgrid])",
    )
    nightly.add_argument(
        "--place",
        metavar="NAME",
        help="the bench's labgrid place (default: the config's lab: name)",
    )
    nightly.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --coordinator: how long to wait in labgrid's queue for the place "
        "(default: 0, busy at once)",
    )
    nightly.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST-ARGS",
        help="extra pytest arguments, after --",
    )
    nightly.set_defaults(handler=nightly_run)


def nightly_run(args: argparse.Namespace) -> int:
    """Handler of ``nightly``."""
    from ttlock_hil.harness.nightly import DEFAULT_RERUNS, NightlyError, NightlyStopped, run_nightly

    extra = list(args.pytest_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        raise CliError(f"unexpected arguments {' '.join(extra)!r} — fix: put pytest's after --")
    try:
        outcome = run_nightly(
            config_path=args.config,
            out=args.out,
            history=args.history,
            suite=args.suite,
            pytest_args=extra,
            reruns=DEFAULT_RERUNS if args.reruns is None else args.reruns,
            tier=args.tier,
            workers=args.workers,
            coordinator=args.coordinator,
            place=args.place,
            wait_s=args.wait,
        )
    except (ConfigError, NightlyError, ReportError) as exc:
        raise CliError(str(exc)) from None
    except LabgridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return labgrid_status(exc)
    except BenchBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BUSY
    except NightlyStopped as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 128 + exc.signum
    print()
    print(outcome.summary)
    for line in _night_lines(outcome.diff):
        print(line)
    print(f"report: {outcome.html}")
    return outcome.exit_status


def labgrid_status(exc: LabgridError) -> int:
    """The exit status of a labgrid error: 75 a busy place, 3 an unreachable coordinator, 2
    anything else of the labgrid side (no such place, no tagged place, labgrid missing)."""
    if isinstance(exc, PlaceBusy):
        return ExitStatus.BUSY
    if isinstance(exc, CoordinatorUnreachable):
        return ExitStatus.DEVICE
    return ExitStatus.USAGE


def _night_lines(diff: NightDiff) -> list[str]:
    """The headline, each regression and each group of lost coverage: one line apiece."""
    lines = [diff.headline()]
    for change in diff.regressions:
        before = change.before.value if change.before is not None else "-"
        after = change.after.value if change.after is not None else "-"
        pile = f" [{change.category.heading}]" if change.category is not None else ""
        lines.append(
            f"  regression: {change.test_id} on {change.device} ({before} → {after}){pile}"
        )
    for (device, reason), changes in lost_coverage_groups(diff.lost_coverage):
        count = f"{len(changes)} test{'s' if len(changes) != 1 else ''}"
        lines.append(f"  lost coverage: {count} on {device} — {reason}")
    return lines


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="lab config whose history store to read (default: hil-config.yaml)",
    )
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="the history store file itself (default: from the config: history: or "
        "<reports>/history.sqlite)",
    )


def _register_report(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="compare nights and regenerate reports from the history store",
        description="Compare nights and regenerate reports from the history store.",
    )
    sub = report.add_subparsers(dest="report_command", required=True, metavar="{diff,show}")

    diff = sub.add_parser(
        "diff",
        help="what changed since the previous night",
        description="Print what changed in a night since the previous complete night: "
        "regressions, fixes, new, removed, flaky and still-failing tests.",
    )
    diff.add_argument(
        "--night", metavar="NIGHT", help="the night to look at (default: the latest complete one)"
    )
    diff.add_argument(
        "--since",
        metavar="NIGHT",
        help="compare with this night instead of the previous complete one",
    )
    diff.add_argument("--json", action="store_true", help="print the diff as a JSON object")
    _store_options(diff)
    diff.set_defaults(handler=report_diff)

    show = sub.add_parser(
        "show",
        help="regenerate a night's report.html",
        description="Regenerate the HTML report of NIGHT from the history store.",
    )
    show.add_argument("night", metavar="NIGHT", help="the night id, e.g. 2026-11-30T02-00-00Z")
    show.add_argument(
        "--out",
        metavar="FILE",
        help="where to write the HTML (default: <reports>/<NIGHT>/report.html)",
    )
    _store_options(show)
    show.set_defaults(handler=report_show)


def _config(args: argparse.Namespace) -> LabConfig | None:
    """The lab config, unless --history alone says where the store is."""
    if args.history is not None and args.config is None:
        return None
    try:
        return load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _open_store(args: argparse.Namespace, config: LabConfig | None) -> HistoryStore:
    if args.history is not None:
        path = Path(args.history)
    else:
        assert config is not None  # _config loads one whenever --history is absent
        path = history_path(config)
    try:
        return HistoryStore.open(path, create=False)
    except ReportError as exc:
        raise CliError(str(exc)) from None


def report_diff(args: argparse.Namespace) -> int:
    """Handler of ``report diff``."""
    config = _config(args)
    with _open_store(args, config) as store:
        try:
            note = None
            if args.night is not None:
                night = store.load_night(args.night)
            else:
                latest_any = store.latest_night(complete_only=False)
                found = store.latest_night()
                if found is None:
                    if latest_any is None:
                        raise CliError(
                            f"history store {store.path} has no nights yet — fix: run "
                            "`ttlock-hil nightly` first"
                        )
                    raise CliError(
                        f"history store {store.path} has no complete night (the latest, "
                        f"{latest_any.night_id}, is incomplete) — fix: pass --night "
                        f"{latest_any.night_id} to look at it anyway"
                    )
                night = found
                if latest_any is not None and latest_any.night_id != night.night_id:
                    note = (
                        f"note: night {latest_any.night_id} is incomplete (killed or still "
                        f"running); showing {night.night_id}"
                    )
            diff = diff_against_history(night, store, since=args.since)
        except ReportError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(diff.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print_diff(diff, _Console(highlight=False, soft_wrap=False), note=note)
    return 0


class _Console(Console):
    """rich exits 1 on a closed pipe; the CLI's own handling says 141 like for any output."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("the reader of the output went away")


def report_show(args: argparse.Namespace) -> int:
    """Handler of ``report show``."""
    config = _config(args)
    with _open_store(args, config) as store:
        try:
            night = store.load_night(args.night)
            report = build_report(night, store)
        except ReportError as exc:
            raise CliError(str(exc)) from None
        reports_dir = config.reports if config is not None else store.path.parent
    night_dir = reports_dir / night.night_id
    if args.out is None:
        out = night_dir / HTML_NAME
    else:
        out = Path(args.out)
        if out.is_dir():
            out = out / HTML_NAME
    # Trace hrefs are relative to the night's directory: re-base them when the
    # HTML is written somewhere else.
    relative = os.path.relpath(night_dir.resolve(), out.parent.resolve())
    trace_base = "" if relative == "." else Path(relative).as_posix() + "/"
    try:
        write_text(out, render_html(report, trace_base=trace_base), mode=file_mode(night))
    except ReportError as exc:
        raise CliError(f"{exc.message} — fix: choose another --out") from None
    print(f"wrote {out}")
    return 0
