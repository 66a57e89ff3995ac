"""Recording on the BlueZ tier: the session layer records whatever carries the frames.

The harness reaches the lock through bleak's own Linux backend and the BlueZ double
(tier 2); the cassette it records replays on tier 1 with R2 and against the simulator
with R1, like one recorded in process.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from ttlock_hil.harness.cassette import load_cassette
from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.replay import replay_in_simulator
from ttlock_hil.harness.tiers import running_tier

from .conftest import DEADLINE
from .test_tiers import config, needs_dbus

__all__ = ["config"]  # the tier lab's config fixture

START = datetime(2026, 5, 6, 7, 8)


@needs_dbus
async def test_a_session_recorded_on_the_bluez_tier_replays_with_r2_and_r1(
    config: LabConfig, tmp_path: Path
) -> None:
    path = tmp_path / "bluez.cassette.json"
    with running_tier(config, "bluez"):
        lab = Lab(config, tier="bluez", clock=ManualClock(START), record=path)
        async with lab, asyncio.timeout(DEADLINE * 3):
            lock = lab.lock("front-door")
            await lock.init()
            await lock.unlock()
    cassette = load_cassette(path)
    assert cassette.source == "bluez"
    replay = Lab(config, replay={"front-door": cassette})
    async with replay, asyncio.timeout(DEADLINE):
        lock = replay.lock("front-door")
        await lock.init()
        await lock.unlock()
    replay.check_replay()
    assert all(r.ok for r in replay_in_simulator(cassette))
