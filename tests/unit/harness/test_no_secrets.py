"""No secret reaches any artifact of a run: traces, logs, everything under the run's directory.

A session initialises a virtual lock, unlocks it as admin and as a user, reads its
admin code, adds a passcode and meets a failure; then every file written under the
run's directory is scanned for every secret of the run in every representation
(AES key as hex, spaced hex, base64 and raw bytes; admin password and unlock key
as decimal and u32 big-/little-endian hex; passcodes and the admin code as text,
ASCII hex and digit values). The session is recorded as a cassette too
(docs/replay.md), which the scan covers like any other artifact. With ``redact: false``
the same scan finds them, which shows the scan can fail.

The one deliberate exception is the credentials directory (``credentials_dir``,
``<device>.json`` and its ``.bak``): those files exist to hold the secrets. They
are kept outside the reports directory, mode 0600, and never uploaded.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime
from pathlib import Path

from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.errors import DeviceError
from ttlock_hil.harness.expect import expect_code
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import EKeyWindow, InitResult
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.protocol.codes import Code

from .conftest import DEADLINE, build_config, lock_entry, make_lab

PASSCODE = "864209"
NEW_PASSCODE = "531975"


def u32_forms(value: int) -> list[bytes]:
    big = value.to_bytes(4, "big")
    return [str(value).encode(), big.hex().encode(), big[::-1].hex().encode()]


def key_forms(key: bytes) -> list[bytes]:
    return [
        key,
        key.hex().encode(),
        key.hex(" ").encode(),
        key.hex(":").encode(),
        base64.b64encode(key).rstrip(b"="),
    ]


def passcode_forms(code: str) -> list[bytes]:
    return [
        code.encode(),
        code.encode().hex().encode(),
        bytes(int(d) for d in code).hex().encode(),
    ]


def secret_forms(creds: LockCredentials, admin_code: str) -> dict[str, list[bytes]]:
    return {
        "aes_key": key_forms(creds.aes_key),
        "admin_ps": u32_forms(creds.admin_ps),
        "unlock_key": u32_forms(creds.unlock_key),
        "passcode": passcode_forms(PASSCODE),
        "new_passcode": passcode_forms(NEW_PASSCODE),
        "admin_code": passcode_forms(admin_code),
    }


def artifacts(root: Path, credentials_dir: Path) -> list[Path]:
    files = [
        path
        for path in root.rglob("*")
        if path.is_file() and credentials_dir not in path.parents and path.name != "hil-config.yaml"
    ]
    assert files, "the run wrote nothing to scan"
    return files


def leaks(files: list[Path], forms: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """Secret name → "file: form" for every form found (hex compared case-insensitively)."""
    found: dict[str, list[str]] = {}
    for path in files:
        data = path.read_bytes()
        lowered = data.lower()
        for name, variants in forms.items():
            for form in variants:
                if form in data or form.lower() in lowered:
                    found.setdefault(name, []).append(f"{path.name}: {form!r}")
    return found


async def run_session(tmp_path: Path, *, redact: bool) -> tuple[Lab, InitResult, str]:
    config = build_config(
        tmp_path,
        [lock_entry("front-door", "v3-keypad")],
        redact=redact,
        timeouts={"scan": 1.0, "connect": 1.0, "command": 1.0},
    )
    lab = make_lab(
        config,
        clock=ManualClock(datetime(2026, 1, 1, 12, 0)),
        log_file=config.reports / "logs" / "ttlock_hil.harness.log",
        record=config.reports / "cassettes" / "front-door.cassette.json",
    )
    log = logging.getLogger("ttlock_hil.harness.tests.no_secrets")
    try:
        async with lab.lock("front-door") as lock, asyncio.timeout(DEADLINE):
            result = await lock.init()
            await lock.unlock()
            await lock.unlock(ekey=EKeyWindow.permanent())
            admin_code = await lock.admin_code()
            await lock.add_passcode(PASSCODE)
            await lock.modify_passcode(PASSCODE, NEW_PASSCODE)
            await lock.list_passcodes()
            await lock.operation_log(seq=0)
            async with expect_code(Code.PASSCODE_NOT_EXIST) as outcome:
                await lock.delete_passcode(PASSCODE)
            assert isinstance(outcome.error, DeviceError)
            log.warning("expected failure: %s", outcome.error)
            log.info("credentials in use: %r", lock.credentials)
    finally:
        await lab.aclose()
    return lab, result, admin_code


async def test_no_artifact_holds_any_form_of_any_secret(tmp_path: Path) -> None:
    lab, result, admin_code = await run_session(tmp_path, redact=True)
    files = artifacts(tmp_path, lab.config.credentials_dir)
    names = {path.suffix for path in files}
    assert {".jsonl", ".log", ".json"} <= names  # traces, logs and the cassette were scanned
    assert leaks(files, secret_forms(result.credentials, admin_code)) == {}


async def test_with_redaction_off_the_same_scan_finds_every_secret(tmp_path: Path) -> None:
    lab, result, admin_code = await run_session(tmp_path, redact=False)
    files = artifacts(tmp_path, lab.config.credentials_dir)
    found = leaks(files, secret_forms(result.credentials, admin_code))
    assert set(found) == {
        "aes_key",
        "admin_ps",
        "unlock_key",
        "passcode",
        "new_passcode",
        "admin_code",
    }


async def test_a_cassette_holds_no_secret_even_with_redaction_off(tmp_path: Path) -> None:
    # A cassette refers to secrets by token whatever redact: says (docs/replay.md).
    lab, result, admin_code = await run_session(tmp_path, redact=False)
    cassettes = list(lab.config.reports.glob("cassettes/*.json"))
    assert cassettes
    assert leaks(cassettes, secret_forms(result.credentials, admin_code)) == {}


async def test_the_credentials_file_is_the_deliberate_exception(tmp_path: Path) -> None:
    lab, result, admin_code = await run_session(tmp_path, redact=True)
    credentials = list(lab.config.credentials_dir.glob("*"))
    assert credentials
    assert lab.config.reports not in lab.config.credentials_dir.parents
    found = leaks(credentials, secret_forms(result.credentials, admin_code))
    assert {"aes_key", "admin_ps", "unlock_key"} <= set(found)
    assert all(path.stat().st_mode & 0o077 == 0 for path in credentials)
