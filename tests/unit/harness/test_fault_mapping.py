"""Every simulator fault → the documented TTLock code, through the full bleak path.

Lab → Lock → Session → Link → BleakClient(backend=virtual) → VirtualLock. Each case
arms one :class:`~ttlock_hil.harness.sim.faults.Fault` on an initialised lock, runs an admin
unlock (CHECK_ADMIN then UNLOCK), checks the outcome against the mapping tables of
the configured plugin version (:mod:`ttlock_hil.protocol.errormap`), then shows the session is
usable for the next command: a second unlock, which reconnects and logs in again
when the fault cost the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ttlock_hil.harness.errors import (
    LINK_ERRORS,
    DeviceError,
    TTLockError,
)
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errormap import LinkCondition, link_code, lock_error_code
from ttlock_hil.protocol.messages import StatePush

from .conftest import DEADLINE, build_config, lock_entry, make_lab

UNLOCK = LockCommand.UNLOCK
TIMEOUTS = {"scan": 0.5, "connect": 0.5, "command": 0.3}
VERSIONS = ("3.1.0", "2.7.0", "2.6.0")


@dataclass(frozen=True)
class Case:
    """One fault, how it is armed, and what the harness must report."""

    fault: Fault
    arm: dict[str, Any] = field(default_factory=dict)
    condition: LinkCondition | None = None  # a link/parse condition the harness detects
    error_byte: int | None = None  # a device error byte (ERROR_REPLY)
    reconnects: bool = False  # the fault costs the connection: the next command reconnects

    @property
    def id(self) -> str:
        return self.fault.value + ("" if "seconds" not in self.arm else f"-{self.arm['seconds']}s")

    def expected_code(self, version: str) -> int:
        if self.condition is not None:
            return link_code(self.condition, version).code
        if self.error_byte is not None:
            return lock_error_code(self.error_byte, version).code
        return int(Code.OK)


_L = LinkCondition
CASES = (
    Case(Fault.SILENCE, {"command": UNLOCK}, _L.RESPONSE_TIMEOUT, reconnects=True),
    Case(Fault.DELAY, {"command": UNLOCK, "seconds": 1.0}, _L.RESPONSE_TIMEOUT, reconnects=True),
    Case(Fault.DELAY, {"command": UNLOCK, "seconds": 0.05}),
    Case(Fault.CORRUPT_CRC, {"command": UNLOCK}, _L.REPLY_CRC_ERROR, reconnects=True),
    Case(Fault.DROP_LINK_BEFORE_REPLY, {"command": UNLOCK}, _L.DISCONNECTED, reconnects=True),
    Case(Fault.DROP_LINK_AFTER_REPLY, {"command": UNLOCK}, reconnects=True),
    Case(Fault.ERROR_REPLY, {"command": UNLOCK, "error": 0x1E}, error_byte=0x1E),
    Case(Fault.ERROR_REPLY, {"command": UNLOCK, "error": 0x0A}, error_byte=0x0A),
    Case(Fault.PARTIAL_FRAME, {"command": UNLOCK}, _L.RESPONSE_TIMEOUT, reconnects=True),
    Case(Fault.DUPLICATE_NOTIFICATION, {"command": UNLOCK}),
    Case(Fault.PUSH_BEFORE_REPLY, {"command": UNLOCK}),
    Case(Fault.MTU, {"command": UNLOCK, "mtu": 100}),
    Case(Fault.UNDECRYPTABLE_REPLY, {"command": UNLOCK}, _L.REPLY_UNDECRYPTABLE, reconnects=True),
    Case(Fault.NOT_ADVERTISING, {}, _L.DEVICE_NOT_FOUND, reconnects=True),
    Case(Fault.CONNECT_TIMEOUT, {}, _L.CONNECT_TIMEOUT, reconnects=True),
    Case(Fault.WRITE_FAILED, {"command": UNLOCK}, _L.WRITE_FAILED, reconnects=True),
    Case(Fault.NOTIFY_FAILED, {"times": None}, _L.NOTIFY_ENABLE_FAILED, reconnects=True),
    Case(Fault.SERVICE_MISSING, {"times": None}, _L.SERVICE_MISSING, reconnects=True),
    Case(Fault.CHARACTERISTIC_MISSING, {"times": None}, _L.CHARACTERISTIC_MISSING, reconnects=True),
)


def test_every_fault_of_the_simulator_has_a_case() -> None:
    assert {case.fault for case in CASES} == set(Fault)


def test_fault_docs_agree_with_the_mapping_tables() -> None:
    """Fault.expected_code documents plugin 3.1.0; the harness maps with protocol.errormap."""
    checked = 0
    for case in CASES:
        expected = case.fault.expected_code
        if expected is None or case.condition is None:
            continue
        assert case.expected_code("3.1.0") == expected, case.fault
        checked += 1
    assert checked >= 10


async def make_initialised(tmp_path: Path, version: str) -> tuple[Lab, Lock]:
    config = build_config(
        tmp_path,
        [lock_entry("front-door", "v3-keypad")],
        timeouts=TIMEOUTS,
        plugin_version=version,
        backoff=(0.0,),
        # The connect budget would cure a one-shot connect timeout or empty scan (as it
        # should on a bench); here each fault's own code is under test.
        retry_on=("Disconnected", "NotifyFailed", "ServiceMissing", "CharacteristicMissing"),
    )
    lab = make_lab(config, clock=ManualClock(datetime(2026, 1, 1, 12, 0)))
    lock = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        await lock.init()
    return lab, lock


@pytest.fixture
async def labs() -> AsyncIterator[list[Lab]]:
    opened: list[Lab] = []
    yield opened
    for lab in opened:
        await lab.aclose()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_each_fault_maps_to_its_code_and_the_next_command_works(
    tmp_path: Path, labs: list[Lab], case: Case, version: str
) -> None:
    lab, lock = await make_initialised(tmp_path, version)
    labs.append(lab)
    entry = lab.virtual("front-door")
    if case.fault.is_link_level and case.fault is not Fault.WRITE_FAILED:
        await lock.disconnect()  # link faults strike at the next connection
    connects_before = _connections(lock)
    plan = entry.faults
    rule = plan.add(case.fault, **case.arm)
    outcome: TTLockError | None = None
    async with asyncio.timeout(DEADLINE):
        try:
            await lock.unlock()
        except TTLockError as exc:
            outcome = exc
    expected = case.expected_code(version)
    if case.condition is None and case.error_byte is None:
        assert outcome is None, f"{case.fault} must not fail the command: {outcome}"
    else:
        assert outcome is not None, f"{case.fault} must fail the command"
        assert outcome.code.code == expected
        assert outcome.code.is_valid_in(version)
        assert outcome.device == "front-door"
        assert outcome.trace_path == lock.trace_path
        if case.condition is not None:
            assert type(outcome) is LINK_ERRORS[case.condition]
        else:
            assert isinstance(outcome, DeviceError)
            assert outcome.error_byte == case.error_byte
    plan.remove(rule)  # "always" rules would strike the next command too

    # The session is usable for the next command.
    async with asyncio.timeout(DEADLINE):
        reply = await lock.unlock()
    assert reply.uid == 0
    assert entry.device.unlocked  # type: ignore[attr-defined]
    if case.reconnects:
        assert _connections(lock) > connects_before
    else:
        assert _connections(lock) == connects_before
    _assert_traced(lock, case, expected)


def _connections(lock: Lock) -> int:
    return sum(
        1
        for r in read_trace(lock.trace_path)
        if r["direction"] == "event" and r["decoded"]["event"] == "connected"
    )


def _assert_traced(lock: Lock, case: Case, expected: int) -> None:
    records = read_trace(lock.trace_path)
    codes = {r["code"] for r in records}
    if case.condition in (
        LinkCondition.REPLY_CRC_ERROR,
        LinkCondition.REPLY_UNDECRYPTABLE,
        LinkCondition.RESPONSE_TIMEOUT,
    ):
        assert expected in codes  # the mapped code is in the trace next to the frame/event
    if case.error_byte is not None:
        assert expected in codes


async def test_a_push_before_the_reply_reaches_the_event_stream(tmp_path: Path) -> None:
    lab, lock = await make_initialised(tmp_path, "3.1.0")
    try:
        lab.virtual("front-door").faults.add(Fault.PUSH_BEFORE_REPLY, command=UNLOCK)
        async with asyncio.timeout(DEADLINE):
            await lock.unlock()
            event = await lock.session.next_event(deadline=DEADLINE)
    finally:
        await lab.aclose()
    assert isinstance(event.push, StatePush)


async def test_a_drop_after_the_reply_is_noticed_before_the_next_command(tmp_path: Path) -> None:
    lab, lock = await make_initialised(tmp_path, "3.1.0")
    try:
        lab.virtual("front-door").faults.add(Fault.DROP_LINK_AFTER_REPLY, command=UNLOCK)
        async with asyncio.timeout(DEADLINE):
            await lock.unlock()
            await asyncio.sleep(0.01)  # the drop follows the reply within a loop turn or two
            assert not lock.session.connected
            await lock.status()
        events = [r["decoded"].get("event") for r in read_trace(lock.trace_path)]
        assert "disconnected" in events
    finally:
        await lab.aclose()


async def test_a_single_failed_notify_is_retried_invisibly(tmp_path: Path) -> None:
    lab, lock = await make_initialised(tmp_path, "3.1.0")
    try:
        await lock.disconnect()
        lab.virtual("front-door").faults.add(Fault.NOTIFY_FAILED, times=1)
        async with asyncio.timeout(DEADLINE):
            await lock.unlock()
        assert lock.session.link.attempts == 2
    finally:
        await lab.aclose()
