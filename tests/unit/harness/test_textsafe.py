"""harness.textsafe and harness.os_errors: hostile device text, and OSErrors told apart."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.harness import os_errors
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.cli.device_cmds import _describe
from ttlock_hil.harness.lab import Sighting
from ttlock_hil.harness.link import SeenDevice
from ttlock_hil.harness.textsafe import printable

HOSTILE = "S202F\x1b[2J\r\nfake line\u202eevil\u2066"


def test_control_and_bidi_characters_are_shown_escaped() -> None:
    assert printable(HOSTILE) == "S202F\\x1b[2J\\x0d\\x0afake line\\u202eevil\\u2066"


def test_ordinary_text_of_any_script_is_left_alone() -> None:
    for text in ("S202F_f69a04", "Türschloss", "门锁", "🔒 front", "👨‍👩‍👧"):
        assert printable(text) == text


def test_a_long_name_is_cut_with_an_ellipsis() -> None:
    assert printable("x" * 3000, limit=40) == "x" * 39 + "…"


@given(st.text())
def test_the_result_never_holds_a_control_or_bidi_character(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_scan_prints_an_advertised_name_escaped() -> None:
    seen = SeenDevice(address="C1:23:45:67:89:AB", name=HOSTILE, rssi=-60, advert=None)
    line = _describe(Sighting(None, seen))
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert "\\x1b[2J" in line


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "reports/night"), "free some space"),
        (OSError(errno.EACCES, "Permission denied", "/srv/nights"), "permissions"),
        (OSError(errno.ENAMETOOLONG, "File name too long", "x" * 310), "shorter device name"),
        (OSError(errno.ENOTDIR, "Not a directory", "reports"), "a file stands"),
    ],
)
def test_a_file_system_error_is_not_blamed_on_bluetooth(error: OSError, expected: str) -> None:
    line = os_errors.describe(error)
    assert "Bluetooth" not in line
    assert expected in line


def test_a_missing_dbus_socket_is_a_bluetooth_problem() -> None:
    error = FileNotFoundError(
        errno.ENOENT, "No such file or directory", "/var/run/dbus/system_bus_socket"
    )
    assert os_errors.describe(error).startswith("Bluetooth is not usable")


def test_a_reports_path_that_is_a_file_is_named_as_such_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x", "utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        "lab: oe\nreports: afile\ndevices:\n"
        "  - {name: d, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n",
        "utf-8",
    )
    assert main(["lock", "status", "--device", "d", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Not a directory" in err
    assert "Bluetooth" not in err


def test_a_nameless_file_not_found_from_the_stack_is_bluetooth_but_a_full_disk_is_not() -> None:
    assert os_errors.is_bluetooth(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    assert not os_errors.is_bluetooth(OSError(errno.ENOSPC, "No space left on device"))
