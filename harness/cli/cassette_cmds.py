"""``ttlock-hil cassette``: import btsnoop captures as cassettes.

``cassette import-btsnoop FILE [--credentials REF] [--out FILE]`` reads a btsnoop
capture (Android's "Bluetooth HCI snoop log", Bumble's snooper, ``sim serve --snoop``)
of an app talking to a lock and writes the decoded cassette (mode 0600): the lock key
comes from the captured GET_AES_KEY exchange, or from ``--credentials`` (``file:PATH`` or
``env:VAR``, as in a lab config) when the capture starts on a paired lock.

Replaying a cassette is the test suite's (``tests/replay``, docs/replay.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ttlock_hil.harness.cli import CliError
from ttlock_hil.harness.credentials import LockCredentials, load_credentials


def register(subparsers: Any) -> None:
    """Add the ``cassette`` group to the top-level ``ttlock-hil`` parser."""
    group = subparsers.add_parser(
        "cassette",
        help="import btsnoop captures as cassettes (docs/replay.md)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="cassette_command", required=True, metavar="{import-btsnoop}")
    imp = sub.add_parser(
        "import-btsnoop",
        help="a btsnoop capture → a decoded cassette",
        description="Decode a btsnoop capture of a TTLock app and a lock into a cassette.",
    )
    imp.add_argument("capture", type=Path, metavar="FILE", help="the btsnoop capture")
    _credentials_option(imp)
    imp.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="where to write the cassette (default: FILE with .cassette.json)",
    )
    imp.add_argument("--device", default="lock", metavar="NAME", help="the device's name")
    imp.add_argument("--model", default=None, help="the lock's model (a preset name for R1)")
    imp.add_argument("--plugin-version", default="3.1.0", metavar="V", help="code generation")
    imp.set_defaults(handler=import_command)


def _credentials_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--credentials",
        default=None,
        metavar="REF",
        help="the lock's credentials: file:PATH or env:VAR (a lab's credentials JSON)",
    )


def _credentials(ref: str | None) -> LockCredentials | None:
    if ref is None:
        return None
    if not ref.startswith(("file:", "env:")):
        # Never quoted: what was given in place of a reference may be the key itself.
        raise CliError(
            "--credentials is not a reference to the credentials — fix: give file:PATH or "
            "env:VAR (a lab's credentials JSON), never the key or password itself"
        )
    return load_credentials(ref, Path.cwd())


def import_command(args: argparse.Namespace) -> int:
    from ttlock_hil.harness.cassette import import_btsnoop, save_cassette

    try:
        data = args.capture.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.capture}: {exc.strerror or exc}") from exc
    cassette = import_btsnoop(
        data,
        name=str(args.capture),
        device=args.device,
        credentials=_credentials(args.credentials),
        plugin_version=args.plugin_version,
        model=args.model,
        preset=args.model,
    )
    out = args.out if args.out is not None else args.capture.with_suffix(".cassette.json")
    if out.resolve() == args.capture.resolve():
        raise CliError(f"--out {out} is the capture itself — fix: give the cassette another name")
    save_cassette(out, cassette)
    print(
        json.dumps(
            {
                "cassette": str(out),
                "interactions": len(cassette.interactions),
                "connections": len(cassette.connections),
            }
        )
    )
    return 0
