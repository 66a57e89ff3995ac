"""harness.link: scan, connect with deadlines, transient-only retries, chunked writes, drops.

Everything runs through bleak's public API with the virtual backends bound to the
lab's Air (the tier-1 path), with the transport-level EchoDevice behind ``sim:``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import NotifyCallback
from bleak.backends.scanner import BaseBleakScanner

from tests.unit.sim.conftest import EchoDevice
from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.errors import (
    CharacteristicMissing,
    ConnectTimeout,
    DeviceNotFound,
    Disconnected,
    NotifyFailed,
    ServiceMissing,
    TTLockError,
    WriteFailed,
)
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.link import Link, SeenDevice, Transport, find_device, scan
from ttlock_hil.harness.sim.backend import VirtualClientBackend
from ttlock_hil.harness.sim.device import Advertisement
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.protocol.advert import AdvertKind
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import LOCK_TRAILER, encode_lock_command

from .conftest import DEADLINE, build_config, gateway_entry, lock_entry, make_lab


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return build_config(tmp_path, [lock_entry("front-door"), gateway_entry("gw")])


@pytest.fixture
def lab(config: LabConfig) -> Lab:
    return make_lab(config, echo=True)


class Recorder:
    """Collects what a Link hands upwards."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.lost: list[str] = []
        self._arrived = asyncio.Event()

    def frame(self, raw: bytes) -> None:
        self.frames.append(raw)
        self._arrived.set()

    async def wait_frames(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE):
            while len(self.frames) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def on_lost(self, reason: str) -> None:
        self.lost.append(reason)


def make_link(lab: Lab, name: str, recorder: Recorder, transport: Transport | None = None) -> Link:
    device = lab.device(name)
    return Link(
        transport if transport is not None else lab.transport(name),
        device=name,
        channel=DeviceKind.GATEWAY if device.kind.value == "gateway" else DeviceKind.LOCK,
        timeouts=lab.timeouts,
        retry=lab.retry,
        plugin_version=lab.plugin_version(name),
        on_frame=recorder.frame,
        on_lost=recorder.on_lost,
    )


def echo(lab: Lab, name: str) -> EchoDevice:
    device = lab.virtual(name).device
    assert isinstance(device, EchoDevice)
    return device


def request(command: int) -> bytes:
    return encode_lock_command(command, b"\x01\x02\x03", DEFAULT_LOCK_KEY)


# --- scanning -------------------------------------------------------------------------


async def test_find_device_matches_address_and_returns_the_parsed_advert(lab: Lab) -> None:
    transport = lab.transport("front-door")
    seen = await find_device(transport, address=transport.address.lower(), within=DEADLINE)
    assert seen is not None
    assert seen.address == transport.address
    assert seen.advert is not None
    assert seen.advert.kind is AdvertKind.LOCK
    assert seen.advert.mac == transport.address
    assert seen.setting_mode is False
    assert seen.ble_device is not None


async def test_find_device_by_name_and_setting_mode(lab: Lab) -> None:
    transport = lab.transport("front-door")
    name = echo(lab, "front-door").name
    assert await find_device(transport, name=name, within=DEADLINE) is not None
    # The echo lock advertises "not in setting mode": a search for one ends empty.
    assert await find_device(transport, setting_mode=True, name=name, within=0.1) is None


async def test_scan_lists_ttlock_devices_and_leaves_out_others(lab: Lab) -> None:
    class Phone(EchoDevice):
        def advertisement(self) -> Advertisement:
            return Advertisement("phone", {0x004C: bytes.fromhex("0215aabbccdd")})

    lab.air.add(Phone(address="11:22:33:44:55:66"))
    found = await scan(lab.transport("front-door"), duration=0.15)
    kinds = {seen.address: seen.advert.kind if seen.advert else None for seen in found}
    assert kinds == {
        lab.transport("front-door").address: AdvertKind.LOCK,
        lab.transport("gw").address: AdvertKind.GATEWAY,
    }
    everything = await scan(lab.transport("front-door"), duration=0.15, ttlock_only=False)
    assert "11:22:33:44:55:66" in {seen.address for seen in everything}


async def test_scan_stops_early_when_told(lab: Lab) -> None:
    started = time.monotonic()
    found = await scan(lab.transport("gw"), duration=DEADLINE, until=bool)
    assert len(found) == 1
    assert time.monotonic() - started < DEADLINE / 2


def test_seen_device_json_form_carries_the_advert() -> None:
    seen = SeenDevice("AA:BB:CC:DD:EE:FF", "G2_ffeedd", -60, None, ("00001911-0000",))
    assert seen.to_dict() == {
        "address": "AA:BB:CC:DD:EE:FF",
        "name": "G2_ffeedd",
        "rssi": -60,
        "service_uuids": ["00001911-0000"],
        "advert": None,
    }


# --- connecting -----------------------------------------------------------------------


async def test_connect_returns_the_advert_and_frames_come_back_reassembled(lab: Lab) -> None:
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder)
    try:
        async with asyncio.timeout(DEADLINE):
            seen = await link.connect()
            assert link.connected
            assert seen.address == lab.transport("front-door").address
            await link.send(request(0x14), command=0x14)
            await recorder.wait_frames(1)
    finally:
        await link.disconnect()
    device = echo(lab, "front-door")
    # A 47-byte reply travels as three notifications and arrives as one frame.
    assert recorder.frames == [device.reply_to(0x14)[: -len(LOCK_TRAILER)]]
    assert device.requests == [request(0x14)]
    assert link.attempts == 1


class OrderedBackend(VirtualClientBackend):
    """Records the GATT calls a client makes, in order, with write sizes."""

    calls: ClassVar[list[tuple[str, int]]] = []

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        type(self).calls.append(("notify", 0))
        await super().start_notify(characteristic, callback, **kwargs)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        type(self).calls.append(("write" if not response else "write-with-response", len(data)))
        await super().write_gatt_char(characteristic, data, response)


def ordered_transport(lab: Lab, name: str) -> Transport:
    base = lab.transport(name)
    backend = type("Ordered", (OrderedBackend,), {"default_air": lab.air, "calls": []})
    return Transport(base.moniker, base.address, base.scanner_backend, backend)


async def test_notifications_are_subscribed_before_the_first_write(lab: Lab) -> None:
    transport = ordered_transport(lab, "front-door")
    link = make_link(lab, "front-door", Recorder(), transport)
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        await link.send(request(0x14))
        await link.disconnect()
    calls = transport.client_backend.calls  # type: ignore[union-attr]
    assert calls[0] == ("notify", 0)
    assert {kind for kind, _ in calls[1:]} == {"write"}


async def _writes_after_mtu_64(lab: Lab, transport: Transport) -> tuple[list[int], Link]:
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder, transport)
    frame = request(0x14)  # 29 bytes + CRLF = 31 on the wire
    lab.virtual("front-door").faults.add(Fault.MTU, mtu=64)
    try:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
            await link.send(frame)  # the MTU fault applies from this request on
            await recorder.wait_frames(1)
            await link.send(frame)
            await recorder.wait_frames(2)
    finally:
        await link.disconnect()
    calls = transport.client_backend.calls  # type: ignore[union-attr]
    return [size for kind, size in calls if kind == "write"], link


async def test_writes_stay_20_bytes_whatever_mtu_the_link_negotiated(lab: Lab) -> None:
    """The vendor app and every open client write 20-byte chunks (docs/protocol.md §1.1):
    a lock may not take longer writes even when the ATT MTU would allow them."""
    sizes, _ = await _writes_after_mtu_64(lab, ordered_transport(lab, "front-door"))
    assert sizes == [20, 11, 20, 11]


async def test_a_configured_chunk_follows_a_bigger_mtu_up_to_mtu_minus_3(lab: Lab) -> None:
    transport = dataclasses.replace(ordered_transport(lab, "front-door"), chunk=100)
    sizes, link = await _writes_after_mtu_64(lab, transport)
    assert sizes == [20, 11, 31]  # MTU 23 first: 20; then MTU 64 allows the whole frame
    assert link.chunk_size == 100  # not connected any more: the configured size


async def test_an_unsolicited_drop_reaches_on_lost_at_once(lab: Lab) -> None:
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder)
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        lab.air.drop_link(lab.transport("front-door").address)
        await asyncio.sleep(0)  # bleak schedules the callback with call_soon
    assert recorder.lost == ["the device dropped the link"]
    assert not link.connected
    with pytest.raises(Disconnected) as caught:
        await link.send(request(0x14), command=0x14)
    assert caught.value.code.code == Code.DISCONNECTED
    assert caught.value.command == 0x14
    await link.disconnect()  # idempotent on a dead link


async def test_our_own_disconnect_is_not_reported_as_lost(lab: Lab) -> None:
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder)
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        await link.disconnect()
        await asyncio.sleep(0.01)
    assert recorder.lost == []


async def test_a_link_reconnects_after_it_was_lost(lab: Lab) -> None:
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder)
    try:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
            lab.air.drop_link(lab.transport("front-door").address)
            await asyncio.sleep(0)
            await link.connect()
            await link.send(request(0x14))
            await recorder.wait_frames(1)
    finally:
        await link.disconnect()
    assert echo(lab, "front-door").connects == 2


# --- errors and retries ------------------------------------------------------------------


async def connect_error(lab: Lab, name: str = "front-door") -> tuple[TTLockError, Link, float]:
    link = make_link(lab, name, Recorder())
    started = time.monotonic()
    with pytest.raises(TTLockError) as caught:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
    assert not link.connected
    return caught.value, link, time.monotonic() - started


async def test_a_transient_notify_failure_is_retried_and_then_connects(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.NOTIFY_FAILED, times=2)
    link = make_link(lab, "front-door", Recorder())
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        await link.disconnect()
    assert link.attempts == 3


async def test_retries_stop_after_the_configured_attempts(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.NOTIFY_FAILED, times=None)
    error, link, _ = await connect_error(lab)
    assert isinstance(error, NotifyFailed)
    assert isinstance(error, ConnectionError)
    assert error.code.code == Code.CHARACTERISTIC_ENABLE_FAILED  # 10508 in plugin 3.1.0
    assert link.attempts == 3
    assert error.device == "front-door"
    assert error.advice


async def test_the_backoff_table_sets_the_wait_between_attempts(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], attempts=3, backoff=(0.15, 0.3))
    lab = make_lab(config, echo=True)
    lab.virtual("front-door").faults.add(Fault.NOTIFY_FAILED, times=None)
    _, link, elapsed = await connect_error(lab)
    assert link.attempts == 3
    assert 0.45 <= elapsed < 0.45 + 3.0  # the waits of the table, not more retries


async def test_errors_not_named_in_retry_on_are_not_retried(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], retry_on=("Disconnected",))
    lab = make_lab(config, echo=True)
    lab.virtual("front-door").faults.add(Fault.NOTIFY_FAILED, times=None)
    error, link, _ = await connect_error(lab)
    assert isinstance(error, NotifyFailed)
    assert link.attempts == 1


async def test_a_first_connect_attempt_that_times_out_is_retried_and_connects(lab: Lab) -> None:
    """Routine on BlueZ (and bleak-retry-connector retries it too): one slow first try."""
    lab.virtual("front-door").faults.add(Fault.CONNECT_TIMEOUT, times=1)
    link = make_link(lab, "front-door", Recorder())
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        await link.disconnect()
    assert link.attempts == 2


async def test_a_device_that_never_answers_fails_after_the_attempts(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.CONNECT_TIMEOUT, times=None)
    error, link, elapsed = await connect_error(lab)
    assert isinstance(error, ConnectTimeout)
    assert isinstance(error, TimeoutError)
    assert error.code.code == Code.CONNECT_TIMEOUT
    assert link.attempts == lab.retry.attempts
    assert elapsed >= lab.retry.attempts * lab.timeouts.connect  # each try waited its deadline
    assert "touch the keypad" in error.advice


async def test_a_device_that_is_not_seen_is_looked_for_again(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.NOT_ADVERTISING, times=1)
    link = make_link(lab, "front-door", Recorder())
    async with asyncio.timeout(DEADLINE):
        await link.connect()
        await link.disconnect()
    assert link.attempts == 2


async def test_a_device_never_seen_is_not_found_after_the_attempts(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.NOT_ADVERTISING, times=None)
    error, link, _ = await connect_error(lab)
    assert isinstance(error, DeviceNotFound)
    assert error.code.code == Code.DEVICE_NOT_FOUND
    assert link.attempts == lab.retry.attempts


async def test_no_retry_starts_once_the_connect_budget_is_spent(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], attempts=10, backoff=(0.05,))
    config = config.model_copy(update={"retry": config.retry.model_copy(update={"budget": 1.2})})
    lab = make_lab(config, echo=True)
    lab.virtual("front-door").faults.add(Fault.CONNECT_TIMEOUT, times=None)
    error, link, elapsed = await connect_error(lab)
    assert isinstance(error, ConnectTimeout)
    assert 2 <= link.attempts < 10  # 0.5 s per try: the budget ends it, not the attempts
    assert any("connect budget spent" in note for note in error.__notes__)
    assert elapsed < 1.2 + lab.timeouts.connect + 0.5


async def test_retry_on_can_leave_connect_timeouts_out(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], retry_on=("Disconnected",))
    lab = make_lab(config, echo=True)
    lab.virtual("front-door").faults.add(Fault.CONNECT_TIMEOUT, times=None)
    error, link, _ = await connect_error(lab)
    assert isinstance(error, ConnectTimeout)
    assert link.attempts == 1


async def test_a_missing_service_is_reported_and_retried(lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.SERVICE_MISSING, times=None)
    error, link, _ = await connect_error(lab)
    assert isinstance(error, ServiceMissing)
    assert error.code.code == Code.SERVICE_MISSING
    assert link.attempts == 3
    assert not lab.virtual("front-door").connected  # each half-made connection was closed


@pytest.mark.parametrize("characteristic", ["write", "notify", None])
async def test_a_missing_characteristic_is_reported(lab: Lab, characteristic: str | None) -> None:
    lab.virtual("front-door").faults.add(
        Fault.CHARACTERISTIC_MISSING, characteristic=characteristic, times=None
    )
    error, _, _ = await connect_error(lab)
    assert isinstance(error, CharacteristicMissing)
    assert error.code.code == Code.CHARACTERISTIC_MISSING
    assert str(characteristic or "write") in error.message


async def test_a_failed_write_on_a_live_link_is_write_failed(lab: Lab) -> None:
    link = make_link(lab, "front-door", Recorder())
    lab.virtual("front-door").faults.add(Fault.WRITE_FAILED)
    try:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
            with pytest.raises(WriteFailed) as caught:
                await link.send(request(0x47), command=0x47)
    finally:
        await link.disconnect()
    assert caught.value.code.code == Code.WRITE_FAILED
    assert caught.value.command == 0x47


async def test_sending_without_a_connection_is_disconnected(lab: Lab) -> None:
    link = make_link(lab, "front-door", Recorder())
    with pytest.raises(Disconnected):
        await link.send(request(0x14))


async def test_errors_carry_the_code_of_the_configured_plugin_version(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry()], plugin_version="2.6.0")
    lab = make_lab(config, echo=True)
    lab.virtual("front-door").faults.add(Fault.SERVICE_MISSING, times=None)
    error, _, _ = await connect_error(lab)
    # 10513 does not exist before 3.1.0, 10018 not before 2.7.0: the table falls back.
    assert error.code.code == Code.NOTIFY_ENABLE_FAILED


class NoAdapterScanner(BaseBleakScanner):
    """Fails to start like bleak's BlueZ backend on a machine without D-Bus."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, None)

    async def start(self) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    async def stop(self) -> None:
        return None


async def test_an_adapter_that_cannot_scan_is_code_10030_and_not_retried(lab: Lab) -> None:
    base = lab.transport("front-door")
    transport = Transport(base.moniker, base.address, NoAdapterScanner, base.client_backend)
    link = make_link(lab, "front-door", Recorder(), transport)
    with pytest.raises(TTLockError) as caught:
        await link.connect()
    assert caught.value.code.code == Code.ADAPTER_OPEN_FAILED
    assert "bluetoothctl" in caught.value.advice
    assert link.attempts == 1


class DropsDuringDiscovery(VirtualClientBackend):
    """Connects, then loses the link before the services could be read."""

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await super().connect(pair, **kwargs)
        self.services = None  # what bleak's backends leave when the link dropped


async def test_a_link_lost_during_discovery_is_a_transient_disconnect(lab: Lab) -> None:
    base = lab.transport("front-door")
    backend = type("Drops", (DropsDuringDiscovery,), {"default_air": lab.air})
    transport = Transport(base.moniker, base.address, base.scanner_backend, backend)
    link = make_link(lab, "front-door", Recorder(), transport)
    with pytest.raises(Disconnected, match="during discovery"):
        async with asyncio.timeout(DEADLINE):
            await link.connect()
    assert link.attempts == lab.retry.attempts
    assert not lab.virtual("front-door").connected


class DropsWhileSubscribing(VirtualClientBackend):
    """The device goes out of range while notifications are being enabled."""

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        self._connected_entry().drop_link("out of range while subscribing")
        await super().start_notify(characteristic, callback, **kwargs)  # "Not connected"


async def test_a_link_lost_while_enabling_notifications_is_a_disconnect(lab: Lab) -> None:
    base = lab.transport("front-door")
    backend = type("Drops", (DropsWhileSubscribing,), {"default_air": lab.air})
    transport = Transport(base.moniker, base.address, base.scanner_backend, backend)
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder, transport)
    # Not NotifyFailed (10508, "another central may hold the device"): the link is gone.
    with pytest.raises(Disconnected, match="while enabling notifications") as caught:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
    assert caught.value.code.code == Code.DISCONNECTED
    assert link.attempts == lab.retry.attempts
    assert not link.connected
    assert not lab.virtual("front-door").connected


class SlowWrites(VirtualClientBackend):
    """Each chunk takes a while to leave (a congested controller's buffers)."""

    chunk_seconds: ClassVar[float] = 0.0

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await asyncio.sleep(self.chunk_seconds)
        await super().write_gatt_char(characteristic, data, response)


async def test_the_write_deadline_bounds_the_whole_frame_not_each_chunk(lab: Lab) -> None:
    command_deadline = lab.timeouts.command
    base = lab.transport("front-door")
    # Each chunk alone is well inside the deadline; the frame's four chunks are not.
    slow = {"default_air": lab.air, "chunk_seconds": command_deadline / 2}
    backend = type("Slow", (SlowWrites,), slow)
    transport = Transport(base.moniker, base.address, base.scanner_backend, backend)
    link = make_link(lab, "front-door", Recorder(), transport)
    frame = encode_lock_command(0x14, bytes(40), DEFAULT_LOCK_KEY)  # 61 bytes + CRLF
    assert len(frame + LOCK_TRAILER) > 3 * link.chunk_size
    try:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
            started = time.monotonic()
            with pytest.raises(WriteFailed, match="within"):
                await link.send(frame, command=0x14)
            elapsed = time.monotonic() - started
    finally:
        await link.disconnect()
    assert elapsed < 2 * command_deadline  # four chunks would take 2x the deadline


class LateNotifications(VirtualClientBackend):
    """Keeps each connection's notify callback: the OS may still deliver a notification
    it queued before the disconnect (a D-Bus signal, a CoreBluetooth event)."""

    callbacks: ClassVar[list[Any]] = []

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        await super().start_notify(characteristic, callback, **kwargs)
        type(self).callbacks.append(callback)


async def test_a_notification_of_a_closed_connection_does_not_reach_the_new_one(
    lab: Lab,
) -> None:
    base = lab.transport("front-door")
    backend = type("Late", (LateNotifications,), {"default_air": lab.air, "callbacks": []})
    transport = Transport(base.moniker, base.address, base.scanner_backend, backend)
    recorder = Recorder()
    link = make_link(lab, "front-door", recorder, transport)
    stale = request(0x47) + LOCK_TRAILER
    try:
        async with asyncio.timeout(DEADLINE):
            await link.connect()
            await link.disconnect()
            stale_callback = backend.callbacks[-1]
            stale_callback(bytearray(stale))  # after our disconnect
            await link.connect()
            stale_callback(bytearray(stale))  # while the next connection is up
            await link.send(request(0x14))
            await recorder.wait_frames(1)
            await asyncio.sleep(0.05)
    finally:
        await link.disconnect()
    assert [frame[9] for frame in recorder.frames] == [0x54]  # only the reply to 0x14


async def test_a_second_central_on_a_held_lock_is_told_the_lock_is_held(lab: Lab) -> None:
    holder = make_link(lab, "front-door", Recorder())
    async with asyncio.timeout(DEADLINE):
        await holder.connect()
    try:
        error, _, _ = await connect_error(lab)
    finally:
        await holder.disconnect()
    assert error.code.code == Code.DEVICE_NOT_FOUND
    assert error.advice is not None
    assert "does not advertise" in error.advice
    assert "close the other session" in error.advice


async def test_two_devices_connect_at_once_through_one_shared_scanner(lab: Lab) -> None:
    """The virtual backend refuses a second discovery like bluetoothd; the harness's
    scanner hub must never start one (gather of two connects used to fail with 10030)."""
    lock, gateway = make_link(lab, "front-door", Recorder()), make_link(lab, "gw", Recorder())
    try:
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(lock.connect(), gateway.connect())
        assert lock.connected
        assert gateway.connected
    finally:
        await lock.disconnect()
        await gateway.disconnect()
