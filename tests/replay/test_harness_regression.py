"""R2 on the seed cassettes: the cassette plays the lock, the harness does what it did then.

Each test is a HIL test run against its cassette on tier 1: ``Lab(replay=...)`` puts a
cassette device where the config's ``sim:`` lock would be. The harness's requests must
match the recording in order (the secrets it sends bind the cassette's tokens), the
recorded replies and pushes come back, and ``lab.check_replay()`` then says whether the
harness ended every interaction as the recording did.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from tests.unit.harness.conftest import build_config, lock_entry
from ttlock_hil.harness.cassette import load_cassette
from ttlock_hil.harness.credentials import save_credentials
from ttlock_hil.harness.expect import expect_code
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.protocol.cassette import ReplayMismatch
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.messages import AddAdmin, LogPush, TimeCalibrate
from ttlock_hil.protocol.messages._fields import LockDate

from .conftest import CASSETTE_DIR
from .seeds import CREDENTIALS

DEADLINE = 20.0


def replay_lab(tmp_path: Path, cassette: str, *, credentials: bool, preset: str) -> Lab:
    extra = {}
    if credentials:
        save_credentials(tmp_path / "front-door.json", CREDENTIALS)
        extra["credentials"] = "file:front-door.json"
    config = build_config(
        tmp_path,
        [lock_entry("front-door", preset, **extra)],
        timeouts={"scan": 1.0, "connect": 1.0, "command": 0.5},
    )
    return Lab(
        config,
        clock=ManualClock(datetime(2030, 6, 1)),  # the cassette steps it to its own times
        replay={"front-door": load_cassette(CASSETTE_DIR / cassette)},
    )


async def test_pairing_replays_at_the_session_layer(tmp_path: Path) -> None:
    lab = replay_lab(tmp_path, "vectors-init.json", credentials=False, preset="v3-keypad")
    async with lab, asyncio.timeout(DEADLINE):
        session = lab.session("front-door")
        answer = await session.request(LockCommand.GET_AES_KEY, b"SCIENER")
        assert len(answer.plaintext) == 18
        await session.request(LockCommand.ADD_ADMIN, AddAdmin(12345678, 87654321).encode())
        calibrate = TimeCalibrate(LockDate(2026, 1, 2, 3, 4, 5)).encode()
        await session.request(LockCommand.TIME_CALIBRATE, calibrate)
    lab.check_replay()


async def test_a_paired_lock_replays_through_the_lock_api(tmp_path: Path) -> None:
    lab = replay_lab(tmp_path, "vectors-paired.json", credentials=True, preset="v3-fingerprint-ic")
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        status = await lock.status()
        assert status.battery == 0x2D  # the real plaintext of §4.3: 45 %
        await lock.unlock()
        pushed = await lock.session.next_event(1.0)
        assert isinstance(pushed.push, LogPush)
        assert pushed.push.battery == 44  # §10.3.6, captured
        assert await lock.list_ic_cards() == ()
        assert await lock.list_fingerprints() == ()
        await lock.disconnect()
        async with expect_code(Code.DOUBLE_LOCKED):
            await lock.unlock()
    lab.check_replay()


async def test_a_harness_that_sends_another_request_fails_with_expected_and_actual(
    tmp_path: Path,
) -> None:
    lab = replay_lab(tmp_path, "vectors-paired.json", credentials=True, preset="v3-fingerprint-ic")
    async with lab, asyncio.timeout(DEADLINE):
        lock = lab.lock("front-door")
        await lock.status()
        with pytest.raises(TimeoutError):  # the played lock does not answer what it never saw
            await lock.lock()
    with pytest.raises(ReplayMismatch) as caught:
        lab.check_replay()
    text = str(caught.value)
    assert "interaction #2 CHECK_ADMIN" in text or "interaction #3 UNLOCK" in text
    assert "expected: 0x47" in text
    assert "actual:   0x58" in text
