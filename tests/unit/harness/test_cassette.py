"""Recording cassettes from sessions, importing btsnoop captures (harness/cassette.py)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from ttlock_hil.harness.cassette import import_btsnoop, load_cassette
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.config import default_config_path
from ttlock_hil.harness.credentials import save_credentials
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import InitResult, Lock
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.btsnoop import TIMESTAMP_2000_US, acl_packets, write_btsnoop
from ttlock_hil.protocol.cassette import CassetteError, KeyUse, TokenKind

from .conftest import DEADLINE, build_config, lock_entry, make_lab
from .test_no_secrets import leaks, secret_forms

PASSCODE = "864209"
START = datetime(2026, 1, 1, 12, 0)


async def scenario(lock: Lock) -> tuple[InitResult, str]:
    """Pairing, an admin unlock, a passcode and the admin code: every kind of token."""
    result = await lock.init()
    await lock.unlock()
    await lock.add_passcode(PASSCODE)
    code = await lock.admin_code()
    return result, code


async def record(tmp_path: Path, *, redact: bool = True) -> tuple[Lab, Path, InitResult, str]:
    config = build_config(tmp_path, [lock_entry()], redact=redact)
    cassette = tmp_path / "reports" / "cassettes" / "front-door.json"
    lab = make_lab(config, clock=ManualClock(START), record=cassette)
    async with lab, asyncio.timeout(DEADLINE):
        result, code = await scenario(lab.lock("front-door"))
    return lab, cassette, result, code


async def test_a_recorded_session_is_a_cassette_only_its_owner_can_read(tmp_path: Path) -> None:
    _, path, result, code = await record(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    cassette = load_cassette(path)
    assert cassette.source == "virtual"
    assert cassette.plugin_version == "3.1.0"
    assert cassette.device.model == "v3-keypad"
    assert cassette.device.firmware  # from the preset
    assert cassette.device.header == "5.3.2.1.1"  # the lock's own, off its replies
    commands = [i.fields for i in cassette.interactions]
    assert len(commands) == len(cassette.interactions) > 10
    first = cassette.interactions[0]
    assert (first.command, first.key, first.outcome, first.code) == (0x19, KeyUse.DEFAULT, "ok", 0)
    assert first.latency is not None
    assert first.clock == START.isoformat()
    kinds = {spec.kind for spec in cassette.tokens.values()}
    assert kinds == {TokenKind.CREDENTIAL, TokenKind.RANDOM, TokenKind.SUM, TokenKind.SECRET}
    assert [e["token"] for e in cassette.random][:2] == ["aes_key", "s1"]
    assert all("hex" not in e for e in cassette.random if e["token"] in ("aes_key", "s1"))
    assert leaks([path], secret_forms(result.credentials, code)) == {}


async def test_a_cassette_never_holds_a_secret_even_with_redaction_off(tmp_path: Path) -> None:
    _, path, result, code = await record(tmp_path, redact=False)
    assert leaks([path], secret_forms(result.credentials, code)) == {}


def capture_of(trace: Path) -> bytes:
    """The btsnoop a host would have written for the frames of ``trace`` (redaction off)."""
    packets = []
    stamp = TIMESTAMP_2000_US + 10**6 * 86400 * 365 * 26
    for entry in read_trace(trace):
        if entry["direction"] not in ("tx", "rx") or not entry["raw"]:
            continue
        wire = bytes.fromhex(entry["raw"]) + b"\r\n"
        opcode, handle = (0x52, 0x0010) if entry["direction"] == "tx" else (0x1B, 0x0012)
        for start in range(0, len(wire), 20):
            pdu = bytes([opcode]) + handle.to_bytes(2, "little") + wire[start : start + 20]
            for packet in acl_packets(0x0040, pdu):
                stamp += 500
                packets.append((stamp, entry["direction"] == "rx", packet))
    return write_btsnoop(packets)


async def test_a_capture_of_the_same_session_imports_into_the_same_cassette(
    tmp_path: Path,
) -> None:
    lab, path, _, _ = await record(tmp_path, redact=False)
    (trace,) = list(lab.trace_dir.glob("front-door-*.jsonl"))
    recorded = load_cassette(path)
    imported = import_btsnoop(capture_of(trace), name="session.btsnoop", device="front-door")
    assert imported.source == "btsnoop:session.btsnoop"
    assert imported.essence() == recorded.essence()
    # what the lock said of itself (0x90) names it where no preset does
    assert (imported.device.model, imported.device.hardware, imported.device.firmware) == (
        "S202F",
        recorded.device.hardware,
        recorded.device.firmware,
    )


async def test_a_capture_of_a_paired_lock_needs_its_credentials(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], redact=False)
    lab = make_lab(config, clock=ManualClock(START))
    async with lab, asyncio.timeout(DEADLINE):
        first = lab.lock("front-door")
        result = await first.init()
        await first.aclose()
        paired = lab.lock("front-door")
        await paired.unlock()
    trace = sorted(lab.trace_dir.glob("front-door-*.jsonl"))[-1]
    with pytest.raises(CassetteError, match="--credentials"):
        import_btsnoop(capture_of(trace))
    cassette = import_btsnoop(capture_of(trace), credentials=result.credentials)
    assert [i.command for i in cassette.interactions] == [0x41, 0x47]
    assert cassette.interactions[1].request.text.startswith("{sum1}")


def test_a_missing_or_broken_cassette_file_is_a_config_error_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="record one with --record"):
        load_cassette(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"cassette": 1, "device": {}}')
    with pytest.raises(ConfigError, match="device"):
        load_cassette(broken)


async def test_the_cli_imports_a_capture_into_a_cassette_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab, _, result, _ = await record(tmp_path, redact=False)
    (trace,) = list(lab.trace_dir.glob("front-door-*.jsonl"))
    capture = tmp_path / "app.btsnoop"
    capture.write_bytes(capture_of(trace))
    out = tmp_path / "imported.json"
    creds = tmp_path / "creds.json"
    save_credentials(creds, result.credentials)
    argv = ["cassette", "import-btsnoop", str(capture), "--out", str(out)]
    assert await asyncio.to_thread(main, [*argv, "--credentials", f"file:{creds}"]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert load_cassette(out).interactions
    assert "interactions" in capsys.readouterr().out


def test_the_cli_says_in_one_line_what_is_wrong_with_a_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "notes.txt"
    capture.write_text("not a capture: some notes someone took")
    assert main(["cassette", "import-btsnoop", str(capture), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not a btsnoop file" in err
    assert "Traceback" not in err


async def test_the_lock_command_records_its_session_as_a_cassette(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "hil-config.yaml"
    shutil.copy(default_config_path(), config)
    path = tmp_path / "cli.cassette.json"
    argv = ["lock", "unlock", "--device", "front-door", "--config", str(config), "--init"]
    assert await asyncio.to_thread(main, [*argv, "--record", str(path)]) == 0
    capsys.readouterr()
    assert path.stat().st_mode & 0o777 == 0o600
    cassette = load_cassette(path)
    commands = [item.command for item in cassette.interactions]
    assert commands[0] == 0x19  # GET_AES_KEY: the init is recorded
    assert 0x47 in commands  # and the unlock
    assert cassette.source == "virtual"


async def test_a_lab_records_each_device_into_one_cassette_a_connection_per_session(
    tmp_path: Path,
) -> None:
    config = build_config(tmp_path, [lock_entry("front-door"), lock_entry("back-door")])
    path = tmp_path / "run.cassette.json"
    lab = make_lab(config, clock=ManualClock(START), record=path)
    async with lab, asyncio.timeout(DEADLINE):
        first = lab.lock("front-door")
        await first.init()
        await first.aclose()
        await lab.lock("front-door").unlock()
        await lab.lock("back-door").status()
    front = load_cassette(path)
    assert [(c.n, c.setting_mode) for c in front.connections] == [(1, True), (2, False)]
    assert front.interactions[-1].command == 0x47
    back = load_cassette(tmp_path / "run.back-door.cassette.json")
    assert back.device.name == "back-door"
    assert [i.command for i in back.interactions] == [0x14]


def test_replaying_a_device_the_config_does_not_have_is_a_config_error(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()])
    cassette = load_cassette(Path(__file__).parents[2] / "replay/cassettes/vectors-init.json")
    with pytest.raises(ConfigError, match="front-dor"):
        Lab(config, replay={"front-dor": cassette})
