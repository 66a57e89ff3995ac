"""The CI round trip of issue 17: record on the virtual tier, replay with R2 and R1.

1. A session is recorded on tier 1 (``Lab(record=...)``): pairing, an admin unlock, a
   passcode, the admin code, an auto-lock setting.
2. The same test code runs against the cassette (R2): it passes.
3. One recorded reply is altered (the unlock now refused): R2 fails, naming that
   interaction with the recorded and the replayed outcome.
4. The cassette replays against the simulator (R1): every interaction agrees.
5. A paired lock's cassette replays with the credentials supplied apart (the cassette
   holds none), and not without them; a request the recording lacks fails with expected
   and actual.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.unit.harness.conftest import build_config, lock_entry
from ttlock_hil.harness.cassette import load_cassette
from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.credentials import LockCredentials, save_credentials
from ttlock_hil.harness.errors import ConfigError, DeviceError
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.replay import replay_in_simulator
from ttlock_hil.protocol.cassette import ReplayMismatch

DEADLINE = 20.0
FAST = {"scan": 1.0, "connect": 1.0, "command": 0.5}
BENCH_TIME = datetime(2026, 3, 4, 9, 30)


async def bench_test(lock: Lock, *, auto_lock: int = 5) -> None:
    """What a HIL test does; it runs unchanged on the bench, the simulator and a cassette."""
    await lock.init()
    await lock.unlock()
    await lock.add_passcode("7531902")
    assert len(await lock.admin_code()) >= 4
    await lock.set_auto_lock(auto_lock)
    assert (await lock.status()).battery > 0


def config_in(directory: Path, **entry: str) -> LabConfig:
    directory.mkdir(parents=True, exist_ok=True)
    return build_config(directory, [lock_entry("front-door", "v3-keypad", **entry)], timeouts=FAST)


def lab_for(directory: Path, *, record: Path | None = None) -> Lab:
    return Lab(config_in(directory), clock=ManualClock(BENCH_TIME), record=record)


def replay_lab(directory: Path, cassette: Path, **entry: str) -> Lab:
    # The clock starts elsewhere: the cassette steps it to the recorded times.
    return Lab(
        config_in(directory, **entry),
        clock=ManualClock(datetime(2031, 1, 1)),
        replay={"front-door": load_cassette(cassette)},
    )


async def record(tmp_path: Path) -> Path:
    path = tmp_path / "bench" / "front-door.cassette.json"
    lab = lab_for(tmp_path / "bench", record=path)
    async with lab, asyncio.timeout(DEADLINE):
        await bench_test(lab.lock("front-door"))
    return path


async def replay(directory: Path, cassette: Path, *, auto_lock: int = 5) -> Lab:
    lab = replay_lab(directory, cassette)
    async with lab, asyncio.timeout(DEADLINE):
        await bench_test(lab.lock("front-door"), auto_lock=auto_lock)
    return lab


async def test_a_recorded_session_replays_with_r2(tmp_path: Path) -> None:
    cassette = await record(tmp_path)
    lab = await replay(tmp_path / "ci", cassette)
    lab.check_replay()
    player = lab.players["front-door"]
    assert player.played == [i.n for i in load_cassette(cassette).interactions]


async def test_an_altered_reply_fails_r2_naming_the_interaction(tmp_path: Path) -> None:
    cassette = await record(tmp_path)
    data = json.loads(cassette.read_text())
    unlock = next(i for i in data["interactions"] if i["command"] == "UNLOCK")
    unlock["notifications"][0]["plaintext"] = "47001e"  # now the lock says: double-locked
    cassette.write_text(json.dumps(data))
    with pytest.raises(DeviceError):  # the test itself fails where the reply changed …
        await replay(tmp_path / "ci", cassette)
    lab = replay_lab(tmp_path / "ci2", cassette)
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        await lock.init()
        with pytest.raises(DeviceError):
            await lock.unlock()
    with pytest.raises(ReplayMismatch) as caught:  # … and R2 names where and how
        lab.check_replay()
    assert caught.value.interaction == unlock["n"]
    text = str(caught.value)
    assert f"interaction #{unlock['n']} UNLOCK" in text
    assert "expected: ok (code 0)" in text
    assert "actual:   device-error (code 30)" in text


async def test_the_recorded_session_replays_against_the_simulator_with_r1(
    tmp_path: Path,
) -> None:
    cassette = load_cassette(await record(tmp_path))
    results = replay_in_simulator(cassette)
    assert [r.interaction.n for r in results] == [i.n for i in cassette.interactions]
    assert all(r.verdict == "same" for r in results), [r.differences for r in results]


async def test_r1_sees_a_reply_the_simulator_would_not_give(tmp_path: Path) -> None:
    path = await record(tmp_path)
    data = json.loads(path.read_text())
    status = next(i for i in data["interactions"] if i["command"] == "SEARCH_STATUS")
    status["notifications"][0]["plaintext"] = status["notifications"][0]["plaintext"][:6] + "0700"
    path.write_text(json.dumps(data))
    results = replay_in_simulator(load_cassette(path))
    (diverged,) = [r for r in results if not r.ok]
    assert diverged.interaction.n == status["n"]
    assert "state" in " ".join(diverged.differences)


async def paired_recording(tmp_path: Path) -> tuple[Path, LockCredentials]:
    """A lock paired before the recording: its cassette needs the credentials to replay."""
    bench = tmp_path / "bench"
    lab = lab_for(bench)
    async with lab, asyncio.timeout(DEADLINE):
        creds = (await lab.lock("front-door").init()).credentials
    save_credentials(bench / "front-door.json", creds)
    path = bench / "paired.cassette.json"
    config = config_in(bench, credentials="file:front-door.json")
    lab = Lab(config, clock=ManualClock(BENCH_TIME), record=path)
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        await lock.unlock()
        await lock.set_auto_lock(5)
    return path, creds


def paired_replay_lab(directory: Path, cassette: Path, creds: LockCredentials) -> Lab:
    directory.mkdir(parents=True, exist_ok=True)
    save_credentials(directory / "front-door.json", creds)
    return replay_lab(directory, cassette, credentials="file:front-door.json")


async def test_a_paired_cassette_replays_with_the_credentials_supplied_apart(
    tmp_path: Path,
) -> None:
    cassette, creds = await paired_recording(tmp_path)
    assert creds.aes_key.hex() not in cassette.read_text()
    lab = paired_replay_lab(tmp_path / "ci", cassette, creds)
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        await lock.unlock()
        await lock.set_auto_lock(5)
    lab.check_replay()


async def test_without_its_credentials_a_paired_cassette_does_not_replay(
    tmp_path: Path,
) -> None:
    cassette, _ = await paired_recording(tmp_path)
    lab = replay_lab(tmp_path / "ci", cassette)  # no credentials: reference in the config
    async with lab, asyncio.timeout(DEADLINE):
        with pytest.raises(ConfigError, match="no credentials"):
            await lab.lock("front-door").unlock()
    with pytest.raises(ReplayMismatch, match="stopped after 0 of 5"):
        lab.check_replay()


async def test_a_different_setting_fails_r2_with_expected_and_actual(tmp_path: Path) -> None:
    cassette, creds = await paired_recording(tmp_path)
    lab = paired_replay_lab(tmp_path / "ci", cassette, creds)
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        await lock.unlock()
        with pytest.raises(TimeoutError):
            await lock.set_auto_lock(10)
    with pytest.raises(ReplayMismatch) as caught:
        lab.check_replay()
    text = str(caught.value)
    assert "AUTO_LOCK_MANAGE" in text
    assert "expected: 020005" in text
    assert "actual:   02000a" in text


async def test_a_lock_paired_twice_in_one_recording_replays_both_ways(tmp_path: Path) -> None:
    async def twice(lock: Lock) -> None:
        await lock.init()
        await lock.unlock()
        await lock.reset()
        await lock.init()  # the lock hands out a second key: tokens aes_key2, admin_ps2…
        await lock.unlock()

    path = tmp_path / "bench" / "twice.cassette.json"
    lab = lab_for(tmp_path / "bench", record=path)
    async with lab, asyncio.timeout(DEADLINE):
        await twice(lab.lock("front-door"))
    cassette = load_cassette(path)
    assert {"aes_key2", "admin_ps2", "unlock_key2"} <= set(cassette.tokens)
    replay = replay_lab(tmp_path / "ci", path)
    async with replay, asyncio.timeout(DEADLINE):
        await twice(replay.lock("front-door"))
    replay.check_replay()
    assert all(r.verdict == "same" for r in replay_in_simulator(cassette))
