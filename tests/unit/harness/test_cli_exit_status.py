"""The exit statuses of ``ttlock-hil``: one contract, documented in every command's help."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from ttlock_hil.harness.cli import (
    EXIT_STATUS_HELP,
    CliError,
    ExitStatus,
    _exit_status,
    build_parser,
    main,
)
from ttlock_hil.harness.errors import ConnectTimeout


def every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(every_parser(child))
    return found


def test_every_commands_help_lists_the_exit_statuses() -> None:
    parsers = every_parser(build_parser())
    assert len(parsers) > 10
    for parser in parsers:
        text = parser.format_help()
        assert text.rstrip().endswith(EXIT_STATUS_HELP.rstrip()), parser.prog
    for status in ("0 ", "1 ", "2 ", "3 ", "75 ", "130 ", "141 "):
        assert f"\n  {status}" in EXIT_STATUS_HELP


def test_the_statuses_are_distinct() -> None:
    assert (ExitStatus.OK, ExitStatus.FAILED, ExitStatus.USAGE, ExitStatus.DEVICE) == (0, 1, 2, 3)
    assert (ExitStatus.BUSY, ExitStatus.BROKEN_PIPE) == (75, 141)


def caused(error: BaseException) -> CliError:
    try:
        raise CliError("one line") from error
    except CliError as exc:
        return exc


def test_a_device_or_link_failure_is_not_a_usage_error() -> None:
    # Measured: `lock` exited 2 for device and link failures, like a usage error.
    timeout = ConnectTimeout.mapped("3.1.0", "no connection within 1 s")
    assert _exit_status(caused(timeout)) is ExitStatus.DEVICE
    assert _exit_status(caused(BleakError("adapter off"))) is ExitStatus.DEVICE
    assert _exit_status(caused(FileNotFoundError(2, "no D-Bus"))) is ExitStatus.DEVICE
    reports_is_a_file = NotADirectoryError(20, "Not a directory", "/lab/reports/traces")
    assert _exit_status(caused(reports_is_a_file)) is ExitStatus.USAGE
    assert _exit_status(CliError("--device is required")) is ExitStatus.USAGE
    assert _exit_status(caused(ValueError("bad number"))) is ExitStatus.USAGE


class NoAdapterScanner(BaseBleakScanner):
    """bleak's BlueZ backend on a machine without D-Bus: FileNotFoundError on start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, None)

    async def start(self) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    async def stop(self) -> None:
        return None


def test_a_radio_that_cannot_scan_exits_with_the_device_status(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bleak

    monkeypatch.setattr(bleak, "get_platform_scanner_backend_type", lambda: (NoAdapterScanner, "x"))
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        "lab: bench\ndevices:\n"
        "  - {name: door, kind: lock, model: s202f, address: 'C1:23:45:67:89:AB'}\n"
    )
    assert main(["scan", "--config", str(bench), "--duration", "0.2"]) == ExitStatus.DEVICE
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    ("argv", "usage"),
    [([], "usage: ttlock-hil [-h]"), (["report"], "usage: ttlock-hil report"), (["frame"], "")],
)
def test_a_bare_command_prints_its_help_and_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str
) -> None:
    # Measured: a bare command said only "required: group".
    assert main(argv) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert "required" not in err
    assert usage in err
    assert "exit status:" in err
    assert err.strip().splitlines()[-1].startswith("error: ttlock-hil")
    assert "name a command — one of" in err


def test_a_subcommand_still_reaches_its_own_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crc", "313233343536373839"]) == ExitStatus.OK
    assert capsys.readouterr().out.strip() == "a1"
