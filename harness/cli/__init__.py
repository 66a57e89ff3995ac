"""The ``ttlock-hil`` command line.

Each group of subcommands lives in its own module exposing
``register(subparsers)``; the module's handlers return the exit status.
Exit status contract, the same for every command (:class:`ExitStatus`; ``--help``
of every command lists it):

* 0 — success;
* 1 — a check failed (tests failed, a night incomplete);
* 2 — usage, input or configuration error (one ``error: …`` line, no traceback);
  a bare command (``ttlock-hil``, ``ttlock-hil report``) prints its help and exits 2;
* 3 — a device or link failure: the device answered an error, or the adapter, the
  scan or the connection failed (``lock``, ``scan``);
* 75 — the bench is busy: another nightly holds it (try again later, as sysexits'
  ``EX_TEMPFAIL``);
* 128 + N — stopped by signal N: 130 for SIGINT (Ctrl-C), 143 for SIGTERM;
* 141 — the reader of the output went away (``ttlock-hil codes list | head``):
  nothing more is printed, no traceback (128 + SIGPIPE, like any Unix filter).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum

from ttlock_hil.harness.errors import ConfigError, HarnessError, TTLockError
from ttlock_hil.harness.version import version_line
from ttlock_hil.protocol.errors import ProtocolError

_GROUPS = (
    "ttlock_hil.harness.cli.protocol_cmds",  # crc, frame
    "ttlock_hil.harness.cli.advert_cmds",  # advert
    "ttlock_hil.harness.cli.codes_cmds",  # codes
    "ttlock_hil.harness.cli.device_cmds",  # scan, lock
    "ttlock_hil.harness.cli.nightly_cmds",  # nightly, report
    "ttlock_hil.harness.cli.sim_cmds",  # sim bluez
    "ttlock_hil.harness.cli.lab_cmds",  # lab nightly (labgrid)
    "ttlock_hil.harness.cli.cassette_cmds",  # cassette import-btsnoop
)


class ExitStatus(IntEnum):
    """The exit statuses of every ``ttlock-hil`` command (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DEVICE = 3
    BUSY = 75
    BROKEN_PIPE = 141  # 128 + SIGPIPE


EXIT_STATUS_HELP = """exit status:
  0    success
  1    a check failed (tests failed, a night incomplete)
  2    usage, input or configuration error; a bare command prints its help
  3    device or link failure (the device answered an error, the adapter or link failed)
  75   the bench is busy: another nightly holds it
  130  stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM
  141  the output's reader went away (e.g. | head)"""


class CliError(Exception):
    """A usage or input problem: printed as ``error: …`` with exit status 2."""


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :class:`~a.b.C` (Sphinx cross-reference)
_LITERAL = re.compile(r"``([^`]+)``")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def plain_text(text: str) -> str:
    """Help text as a terminal shows it: docstring markup (RST) taken out.

    ``:class:`~a.b.C``` becomes ``C`` (``a.b.C`` without the tilde), double backquotes
    and ``**bold**`` are dropped, and a paragraph ending in ``::`` ends in one colon.
    """

    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        return target.rsplit(".", 1)[-1] if match.group(0).find("`~") >= 0 else target

    text = _ROLE.sub(role, text)
    text = _LITERAL.sub(r"\1", text)
    text = _BOLD.sub(r"\1", text)
    return re.sub(r"::$", ":", text, flags=re.M)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise CliError(message)

    def format_help(self) -> str:
        # Every command's help ends with the exit statuses, the same for all of them.
        return plain_text(super().format_help()) + "\n" + EXIT_STATUS_HELP + "\n"

    def format_usage(self) -> str:
        return plain_text(super().format_usage())


Handler = Callable[[argparse.Namespace], int]


def _bare(parser: argparse.ArgumentParser, choices: Sequence[str]) -> Handler:
    """The handler of a command given without its subcommand: its help, then exit 2."""

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        raise CliError(f"{parser.prog}: name a command — one of {', '.join(choices)}")

    return show_help


def _finish(parser: argparse.ArgumentParser) -> None:
    """A command given without its subcommand prints its help (not ``required: group``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.required = False
            parser.set_defaults(handler=_bare(parser, list(action.choices)))
            for child in dict.fromkeys(action.choices.values()):
                _finish(child)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ttlock-hil", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--version",
        action="version",
        version=version_line(),
        help="print the version (and the git commit when run from a checkout) and exit",
    )
    sub = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)
    for name in _GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # that group is not built yet
        module.register(sub)
    _finish(parser)
    return parser


def _exit_status(exc: CliError) -> ExitStatus:
    """A CliError that a device or radio failure caused is exit 3; any other is usage (2).

    An OSError naming a file (a reports path that is a file, a missing directory) is the
    lab's setup, not the radio: usage. One without a file name is the adapter's or the
    D-Bus socket's (no BlueZ, adapter off): a device or link failure.
    """
    cause = exc.__cause__
    if isinstance(cause, TTLockError):
        return ExitStatus.DEVICE
    if cause is not None and type(cause).__name__.startswith("Bleak"):
        return ExitStatus.DEVICE
    if isinstance(cause, OSError) and cause.filename is None:
        return ExitStatus.DEVICE
    return ExitStatus.USAGE


def _quiet_broken_pipe() -> int:
    """The reader went away: print nothing more, not even at exit (Python's own advice)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return ExitStatus.BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler = args.handler
        status = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, while we can still be quiet about it
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _exit_status(exc)
    except (ProtocolError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    except TTLockError as exc:
        # Device and link failures of bring-up commands: one line, the code and the advice.
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.DEVICE
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
