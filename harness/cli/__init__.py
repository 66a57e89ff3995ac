"""The ``ttlock-hil`` command line.

Each group of subcommands lives in its own module exposing
``register(subparsers)``; the module's handlers return the exit status.
Exit status contract: 0 success, 1 a check failed (e.g. tests failed),
2 usage, input or configuration error (one ``error: …`` line, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence

from ttlock_hil.harness.errors import ConfigError, HarnessError
from ttlock_hil.harness.version import version_line
from ttlock_hil.protocol.errors import ProtocolError

_GROUPS = (
    "ttlock_hil.harness.cli.protocol_cmds",  # crc, frame
    "ttlock_hil.harness.cli.advert_cmds",  # advert
    "ttlock_hil.harness.cli.codes_cmds",  # codes
    "ttlock_hil.harness.cli.device_cmds",  # scan, lock
    "ttlock_hil.harness.cli.nightly_cmds",  # nightly, report
    "ttlock_hil.harness.cli.sim_cmds",  # sim bluez
)


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
        return plain_text(super().format_help())

    def format_usage(self) -> str:
        return plain_text(super().format_usage())


Handler = Callable[[argparse.Namespace], int]


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler = args.handler
        return handler(args)
    except (CliError, ProtocolError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        # Device and link failures of bring-up commands: one line, the code and the advice.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
