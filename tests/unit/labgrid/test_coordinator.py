"""Our in-process side of the coordinator, against a real one on loopback."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.unit.labgrid.conftest import LabFactory
from ttlock_hil.harness.labgrid import (
    BenchUnavailable,
    CoordinatorUnreachable,
    LabgridError,
    NoTaggedPlace,
)
from ttlock_hil.harness.labgrid.coordinator import Coordinator


def test_places_tags_benches_and_the_errors_of_each_question(new_lab: LabFactory) -> None:
    lab = new_lab(benches=("bench-01",))

    async def questions() -> None:
        async with Coordinator(lab.address, poll_s=0.1) as coordinator:
            (place,) = coordinator.tagged({"ttlock": "yes"})
            assert place.name == "bench-01"
            assert place.tags == {"ttlock": "yes"}
            assert place.bench is not None
            assert place.bench["config"].endswith("bench-01/hil-config.yaml")
            assert place.bench_available
            assert place.acquired is None
            with pytest.raises(NoTaggedPlace, match=r"ttlock=no \(places: bench-01\)"):
                coordinator.tagged({"ttlock": "no"})
            with pytest.raises(BenchUnavailable, match="no longer exists"):
                coordinator.bench_of("bench-77")
            with pytest.raises(LabgridError, match="has no place bench-77"):
                await coordinator.reserve("bench-77", wait_s=0)
            async with coordinator.hold("bench-01", wait_s=1) as bench:
                assert bench == place.bench
                assert coordinator.places()["bench-01"].acquired is not None
                assert len(await coordinator.reservations()) == 1
            assert coordinator.places()["bench-01"].acquired is None
            assert await coordinator.reservations() == []
        with pytest.raises(LabgridError, match="not connected"):
            coordinator.places()

    asyncio.run(questions())


def test_a_coordinator_that_goes_away_is_unreachable_at_the_next_request(
    new_lab: LabFactory,
) -> None:
    lab = new_lab(benches=("bench-01",))
    coordinator_process = lab.processes[0]

    async def ask_until_it_fails(coordinator: Coordinator) -> None:
        for _ in range(50):  # until the loss has reached this process
            await coordinator.reservations()
            await asyncio.sleep(0.1)

    async def lose_it() -> None:
        async with Coordinator(lab.address, connect_s=5, call_s=5) as coordinator:
            os.kill(coordinator_process.popen.pid, signal.SIGKILL)
            coordinator_process.popen.wait(timeout=10)
            with pytest.raises(CoordinatorUnreachable, match=f"at {lab.address} is unreachable"):
                await ask_until_it_fails(coordinator)

    asyncio.run(lose_it())
