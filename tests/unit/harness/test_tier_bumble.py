"""Tier 3 by configuration: Lab(config, tier="bumble") runs the harness over a real host stack.

Lab → Lock/Gateway → Session → Link → BleakClient(backend=Bumble central) → HCI → LocalLink →
HCI → Bumble peripheral → PeripheralLink → the simulator's model. Nothing above the
transport knows it is not tier 1: the same scenario, the same codes. The one difference a
radio imposes is asserted as such: a write without response cannot fail at the peer, so
``Fault.WRITE_FAILED`` loses the chunk and the harness sees no reply (docs/tiers.md §7).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.errors import LINK_ERRORS, ConfigError, DeviceError, TTLockError
from ttlock_hil.harness.lab import BUMBLE_HCI_VARIABLE, Lab, sim_address
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim.bumble import BumbleClientBackend, BumbleScannerBackend
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.harness.tiers import TIERS, check_tier, running_tier, serving
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errormap import LinkCondition, link_code, lock_error_code
from ttlock_hil.protocol.messages import LockState

from .conftest import DEADLINE, build_config, gateway_entry, lock_entry, make_lab

UNLOCK = LockCommand.UNLOCK
STATUS = LockCommand.SEARCH_STATUS
TIMEOUTS = {"scan": 0.5, "connect": 0.5, "command": 0.3}
VERSION = "3.1.0"


async def _eventually(check: Callable[[], bool]) -> None:
    """Poll ``check`` (a state with no event to wait on) until it holds, within DEADLINE."""
    async with asyncio.timeout(DEADLINE):
        while True:
            if check():
                return
            await asyncio.sleep(0.005)


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return build_config(
        tmp_path,
        [
            lock_entry("front-door", "v3-keypad"),
            gateway_entry("gw", "g2"),
            {
                "name": "radio-door",
                "kind": "lock",
                "model": "v3-keypad",
                "address": "C1:23:45:67:89:AB",
            },
        ],
        timeouts=TIMEOUTS,
        plugin_version=VERSION,
        # Each fault's own code is under test: no connect budget curing a one-shot fault.
        retry_on=("Disconnected", "NotifyFailed", "ServiceMissing", "CharacteristicMissing"),
    )


@pytest.fixture
async def lab(config: LabConfig) -> AsyncIterator[Lab]:
    bumble_lab = make_lab(
        config, tier="bumble", environ={}, clock=ManualClock(datetime(2026, 1, 1, 12, 0))
    )
    try:
        yield bumble_lab
    finally:
        async with asyncio.timeout(DEADLINE):
            await bumble_lab.aclose()


# --- configuration ----------------------------------------------------------------------------


def test_bumble_is_a_tier_of_the_lab_and_of_the_registry(config: LabConfig) -> None:
    assert "bumble" in TIERS
    assert check_tier("bumble") == "bumble"
    assert Lab(config, tier="bumble").tier == "bumble"
    with pytest.raises(ConfigError, match="virtual, bluez, bumble"):
        Lab(config, tier="bumble2")


def test_a_sim_device_is_reached_through_the_bumble_backends_at_its_stable_mac(
    config: LabConfig,
) -> None:
    lab = Lab(config, tier="bumble", environ={})
    transport = lab.transport("front-door")
    assert transport.client_backend is not None
    assert issubclass(transport.client_backend, BumbleClientBackend)
    assert transport.scanner_backend is not None
    assert issubclass(transport.scanner_backend, BumbleScannerBackend)
    assert transport.address == sim_address(config.lab, "front-door")
    assert lab.transport("gw").client_backend is transport.client_backend  # one central
    assert lab.transport("radio-door").os_backend  # a radio device stays on the radio


def test_with_a_bumble_hci_every_device_goes_through_that_central(config: LabConfig) -> None:
    lab = Lab(config, tier="bumble", environ={BUMBLE_HCI_VARIABLE: "tcp-client:127.0.0.1:9"})
    radio = lab.transport("radio-door")
    assert radio.client_backend is not None
    assert issubclass(radio.client_backend, BumbleClientBackend)
    assert radio.address == "C1:23:45:67:89:AB"
    with pytest.raises(ConfigError, match="sim serve"):
        lab.transport("front-door")  # nothing is hosted in this process then
    with pytest.raises(ConfigError, match="sim serve"):
        lab.virtual("front-door")


def test_the_bumble_tier_runs_in_the_labs_process(config: LabConfig) -> None:
    before = dict(os.environ)
    with running_tier(config, "bumble") as variables:
        assert variables == {}
    assert dict(os.environ) == before


def test_without_bumble_the_tier_says_how_to_install_it(
    config: LabConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "bumble" or m.startswith("bumble.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m.startswith("ttlock_hil.harness.sim.bumble")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "bumble", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pip install ttlock-hil\[bumble\]"):
        Lab(config, tier="bumble", environ={}).transport("front-door")
    with (
        pytest.raises(ConfigError, match=r"pip install ttlock-hil\[bumble\]"),
        running_tier(config, "bumble"),
    ):
        pass


async def test_serving_an_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="v9-nonexistent"):
        async with serving("v9-nonexistent", export="tcp-server:127.0.0.1:0"):
            pass


# --- a representative scenario -----------------------------------------------------------------


async def test_a_lock_inits_unlocks_reports_status_and_survives_a_fault(lab: Lab) -> None:
    lock = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        await lock.init()
        await lock.unlock()
        status = await lock.status()
        assert status.state == LockState.UNLOCKED
        lab.virtual("front-door").faults.add(Fault.SILENCE, command=STATUS)
        with pytest.raises(TTLockError) as silent:
            await lock.status()
        assert silent.value.code.code == link_code(LinkCondition.RESPONSE_TIMEOUT, VERSION).code
        lab.virtual("front-door").faults.add(Fault.DROP_LINK_BEFORE_REPLY, command=STATUS)
        with pytest.raises(TTLockError) as dropped:
            await lock.status()
        assert dropped.value.code.code == 10003
        again = await lock.status()  # reconnects and logs in again
    assert again.state == LockState.UNLOCKED
    assert lock.session.link.mtu == 23
    assert lab.virtual("front-door").device.unlocked  # type: ignore[attr-defined]


async def test_a_gateway_answers_echo(lab: Lab) -> None:
    gateway = lab.gateway("gw")
    async with asyncio.timeout(DEADLINE):
        reply = await gateway.echo()
        await gateway.aclose()
    assert reply is not None


async def test_a_lock_and_a_gateway_connect_at_once_through_the_one_central(lab: Lab) -> None:
    lock, gateway = lab.lock("front-door"), lab.gateway("gw")
    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(lock.connect(), gateway.connect())
    assert lock.session.connected
    assert gateway.session.connected


async def test_a_central_on_a_controller_that_does_not_open_is_an_adapter_failure(
    config: LabConfig,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lab = Lab(config, tier="bumble", environ={BUMBLE_HCI_VARIABLE: f"tcp-client:127.0.0.1:{port}"})
    try:
        with pytest.raises(TTLockError) as failed:
            async with asyncio.timeout(DEADLINE):
                await lab.lock("radio-door").connect()
    finally:
        await lab.aclose()
    assert failed.value.code.code == 10030  # the adapter cannot be used
    assert f"127.0.0.1:{port}" in str(failed.value)


async def test_a_lock_out_of_range_is_not_found_within_the_scan_deadline_then_found(
    lab: Lab,
) -> None:
    lock = lab.lock("front-door")
    lab.virtual("front-door").set_in_range(False)
    began = time.monotonic()
    with pytest.raises(TTLockError) as missing:
        async with asyncio.timeout(DEADLINE):
            await lock.connect()
    assert missing.value.code.code == link_code(LinkCondition.DEVICE_NOT_FOUND, VERSION).code
    assert time.monotonic() - began < DEADLINE
    lab.virtual("front-door").set_in_range(True)
    async with asyncio.timeout(DEADLINE):
        await lock.connect()
    assert lock.session.connected


async def test_a_link_dropped_while_it_is_being_set_up_is_10003_at_once(tmp_path: Path) -> None:
    config = build_config(
        tmp_path,
        [lock_entry("front-door", "v3-keypad")],
        timeouts={"scan": 0.5, "connect": 2.0, "command": 0.3},
        attempts=1,
    )
    lab = make_lab(config, tier="bumble", environ={})
    try:
        lock = lab.lock("front-door")
        entry = lab.virtual("front-door")
        entry.faults.add(Fault.CONNECT_TIMEOUT)  # the device takes the link and stays mute
        connecting = asyncio.get_running_loop().create_task(lock.connect())
        await _eventually(lambda: bool(entry.faults.history))  # the link is taken
        await asyncio.sleep(0.05)  # the MTU request is out
        began = time.monotonic()
        entry.set_in_range(False)  # the request in flight dies with the link
        with pytest.raises(TTLockError) as dropped:
            async with asyncio.timeout(DEADLINE):
                await connecting
        assert time.monotonic() - began < 1.0  # at once, not at the 2 s connect deadline
    finally:
        async with asyncio.timeout(DEADLINE):
            await lab.aclose()
    assert type(dropped.value) is LINK_ERRORS[LinkCondition.DISCONNECTED]
    assert dropped.value.code.code == 10003


# --- every fault of the plan, carried out by the Bumble peripheral ----------------------------


@dataclass(frozen=True)
class Case:
    fault: Fault
    arm: dict[str, Any] = field(default_factory=dict)
    condition: LinkCondition | None = None
    error_byte: int | None = None

    @property
    def id(self) -> str:
        return self.fault.value


_L = LinkCondition
CASES = (
    Case(Fault.SILENCE, {"command": UNLOCK}, _L.RESPONSE_TIMEOUT),
    Case(Fault.DELAY, {"command": UNLOCK, "seconds": 0.05}),
    Case(Fault.CORRUPT_CRC, {"command": UNLOCK}, _L.REPLY_CRC_ERROR),
    Case(Fault.DROP_LINK_BEFORE_REPLY, {"command": UNLOCK}, _L.DISCONNECTED),
    Case(Fault.DROP_LINK_AFTER_REPLY, {"command": UNLOCK}),
    Case(Fault.ERROR_REPLY, {"command": UNLOCK, "error": 0x1E}, error_byte=0x1E),
    Case(Fault.PARTIAL_FRAME, {"command": UNLOCK}, _L.RESPONSE_TIMEOUT),
    Case(Fault.DUPLICATE_NOTIFICATION, {"command": UNLOCK}),
    Case(Fault.PUSH_BEFORE_REPLY, {"command": UNLOCK}),
    Case(Fault.MTU, {"command": UNLOCK, "mtu": 100}),
    Case(Fault.UNDECRYPTABLE_REPLY, {"command": UNLOCK}, _L.REPLY_UNDECRYPTABLE),
    Case(Fault.NOT_ADVERTISING, {}, _L.DEVICE_NOT_FOUND),
    Case(Fault.CONNECT_TIMEOUT, {}, _L.CONNECT_TIMEOUT),
    # The tier's one difference: a write command has no response, so the peer cannot fail
    # it; the chunk is lost and the request never answered.
    Case(Fault.WRITE_FAILED, {"command": UNLOCK}, _L.RESPONSE_TIMEOUT),
    Case(Fault.NOTIFY_FAILED, {"times": None}, _L.NOTIFY_ENABLE_FAILED),
    Case(Fault.SERVICE_MISSING, {"times": None}, _L.SERVICE_MISSING),
    Case(Fault.CHARACTERISTIC_MISSING, {"times": None}, _L.CHARACTERISTIC_MISSING),
)


def test_every_fault_has_a_case_on_this_tier() -> None:
    assert {case.fault for case in CASES} == set(Fault)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_each_fault_maps_to_its_code_and_the_next_command_works(lab: Lab, case: Case) -> None:
    lock: Lock = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        await lock.init()
    entry = lab.virtual("front-door")
    if case.fault.is_link_level and case.fault is not Fault.WRITE_FAILED:
        await lock.disconnect()  # link faults strike at the next connection
    rule = entry.faults.add(case.fault, **case.arm)
    outcome: TTLockError | None = None
    async with asyncio.timeout(DEADLINE):
        try:
            await lock.unlock()
        except TTLockError as exc:
            outcome = exc
    if case.condition is None and case.error_byte is None:
        assert outcome is None, f"{case.fault} must not fail the command: {outcome}"
    elif case.condition is not None:
        assert outcome is not None, f"{case.fault} must fail the command"
        assert outcome.code.code == link_code(case.condition, VERSION).code
        assert type(outcome) is LINK_ERRORS[case.condition]
    else:
        assert isinstance(outcome, DeviceError)
        assert outcome.code.code == lock_error_code(case.error_byte or 0, VERSION).code
    assert any(fired.rule.fault is case.fault for fired in entry.faults.history)
    entry.faults.remove(rule)
    if case.fault is Fault.DROP_LINK_AFTER_REPLY:
        # A radio reports the drop a few HCI events later; the harness notices it by itself.
        await _eventually(lambda: not lock.session.connected)
    async with asyncio.timeout(DEADLINE):
        reply = await lock.unlock()
    assert reply.uid == 0
