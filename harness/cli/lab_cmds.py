"""``ttlock-hil lab nightly``: the night of every bench of a labgrid lab, merged into one report.

``lab nightly --coordinator HOST:PORT [--tag KEY=VALUE]… [--out DIR] [--history PATH]
[--lab NAME] [--wait SECONDS] [--bench-timeout SECONDS] [--reruns N] [-- PYTEST-ARGS…]``
reserves every labgrid place carrying the tags (default ``ttlock=yes``), waiting in
labgrid's queue, runs each bench's ``ttlock-hil nightly`` in parallel on the PC that owns
its radio, releases every place, and writes the merged lab report into
``DIR/<night>/report.html`` (each bench's own report under ``benches/<place>/``)
(:func:`ttlock_hil.harness.labgrid.labnight.run_lab_nightly`, docs/labgrid.md).

Exit status: 0 no failures (an unavailable bench — its exporter gone — is reported, not
failed), 1 a test failed or a bench's night gave no results, 2 usage errors (no place with
the tag, labgrid not installed), 3 the coordinator is unreachable, 130/143 stopped by
SIGINT/SIGTERM (every place released).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any

from ttlock_hil.harness.cli import CliError
from ttlock_hil.harness.cli.nightly_cmds import labgrid_status
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.labgrid import LabgridError, require_labgrid
from ttlock_hil.harness.report import ReportError

_TAG = re.compile(r"([a-z][a-z0-9_]+)=([a-z0-9_-]*)\Z")


def register(subparsers: Any) -> None:
    """Add the ``lab`` group (``lab nightly``) to the ``ttlock-hil`` parser."""
    lab = subparsers.add_parser(
        "lab",
        help="a lab of several benches on labgrid (docs/labgrid.md)",
        description="A lab of several benches, each a labgrid place (docs/labgrid.md).",
    )
    sub = lab.add_subparsers(dest="lab_command", required=True, metavar="{nightly}")
    nightly = sub.add_parser(
        "nightly",
        help="run every tagged bench's night in parallel and merge the reports",
        description="Reserve every labgrid place with the tags (waiting in labgrid's queue), "
        "run each bench's nightly on the PC that owns its radio (here, or over SSH), "
        "release every place, and write one merged lab report plus each bench's own. "
        "Arguments after -- go to each bench's pytest.",
    )
    nightly.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        required=True,
        help="the labgrid coordinator (port 20408 when none is given)",
    )
    nightly.add_argument(
        "--tag",
        action="append",
        metavar="KEY=VALUE",
        help="run the places with this tag (repeat for several; default: ttlock=yes)",
    )
    nightly.add_argument(
        "--out", metavar="DIR", default="reports/lab", help="where lab nights go (reports/lab)"
    )
    nightly.add_argument(
        "--history",
        metavar="PATH",
        help="the lab's history store (default: DIR/history.sqlite)",
    )
    nightly.add_argument("--lab", default="lab", metavar="NAME", help="the lab's name (lab)")
    nightly.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long each bench waits in labgrid's queue (default: 6 hours)",
    )
    nightly.add_argument(
        "--bench-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long one bench's night may run before it is stopped (default: 4 hours)",
    )
    nightly.add_argument(
        "--reruns", type=int, default=1, metavar="N", help="reruns of failed tests per bench (1)"
    )
    nightly.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST-ARGS",
        help="extra pytest arguments for every bench, after --",
    )
    nightly.set_defaults(handler=lab_nightly)


def parse_tags(values: list[str] | None) -> dict[str, str]:
    """``["ttlock=yes"]`` → ``{"ttlock": "yes"}`` (labgrid's tag syntax); CliError otherwise."""
    tags: dict[str, str] = {}
    for value in values or ["ttlock=yes"]:
        found = _TAG.match(value)
        if found is None:
            raise CliError(
                f"--tag {value!r} is not KEY=VALUE in labgrid's syntax — fix: a lower-case key "
                "of letters, digits and _, e.g. --tag ttlock=yes"
            )
        tags[found.group(1)] = found.group(2)
    return tags


def lab_nightly(args: argparse.Namespace) -> int:
    """Handler of ``lab nightly``."""
    extra = list(args.pytest_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        raise CliError(f"unexpected arguments {' '.join(extra)!r} — fix: put pytest's after --")
    if args.reruns < 0:
        raise CliError(f"--reruns must be 0 or more, got {args.reruns}")
    for flag, value in (("--wait", args.wait), ("--bench-timeout", args.bench_timeout)):
        # float() takes nan and inf: a deadline that never comes (nan compares false).
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{flag} must be a number of seconds, 0 or more, got {value}")
    tags = parse_tags(args.tag)
    try:
        require_labgrid()
        from ttlock_hil.harness.labgrid.labnight import (
            DEFAULT_BENCH_TIMEOUT_S,
            DEFAULT_WAIT_S,
            run_lab_nightly,
        )

        outcome = run_lab_nightly(
            coordinator=args.coordinator,
            tags=tags,
            out=args.out,
            lab=args.lab,
            history=args.history,
            pytest_args=extra,
            reruns=args.reruns,
            wait_s=DEFAULT_WAIT_S if args.wait is None else args.wait,
            bench_timeout_s=(
                DEFAULT_BENCH_TIMEOUT_S if args.bench_timeout is None else args.bench_timeout
            ),
        )
    except LabgridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return labgrid_status(exc)
    except (ConfigError, ReportError) as exc:
        raise CliError(str(exc)) from None
    print()
    print(outcome.summary)
    for bench in outcome.benches:
        where = f" — {bench.reason}" if bench.reason else ""
        report = f" ({bench.directory / 'report.html'})" if bench.directory else ""
        print(f"  {bench.place}: {bench.status}{where}{report}")
    print(outcome.diff.headline())
    print(f"report: {outcome.html}")
    return outcome.exit_status
