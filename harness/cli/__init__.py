"""The ``ttlock-hil`` command line.

Each group of subcommands lives in its own module exposing
``register(subparsers)``; the module's handlers return the exit status.
Exit status contract: 0 success, 1 a check failed (e.g. tests failed),
2 usage, input or configuration error (one ``error: …`` line, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from ttlock_hil.harness.errors import ConfigError, HarnessError
from ttlock_hil.protocol.errors import ProtocolError

_GROUPS = (
    "ttlock_hil.harness.cli.protocol_cmds",  # crc, frame
    "ttlock_hil.harness.cli.advert_cmds",  # advert
    "ttlock_hil.harness.cli.codes_cmds",  # codes
    "ttlock_hil.harness.cli.device_cmds",  # scan, lock
    "ttlock_hil.harness.cli.nightly_cmds",  # nightly, report
)


class CliError(Exception):
    """A usage or input problem: printed as ``error: …`` with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise CliError(message)


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ttlock-hil", description=__doc__.splitlines()[0] if __doc__ else None)
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
