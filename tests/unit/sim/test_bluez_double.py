"""The BlueZ double through plain bleak (no ``backend=``) and raw D-Bus: bluetoothd's rules.

Each test starts its own private bus and double (a fraction of a second) with one
virtual lock, points ``DBUS_SYSTEM_BUS_ADDRESS`` at it and talks to it the way a Linux
lab PC's bleak talks to ``bluetoothd`` (docs/tiers.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from ttlock_hil.harness.sim.bluez import BluezTier, cleanup_stale, dbus_daemon_path
from ttlock_hil.harness.sim.bluez.remote import RemoteBench, RemoteBenchError
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.frame import LOCK_TRAILER, encode_lock_command
from ttlock_hil.protocol.gatt import LOCK_GATT

ADDRESS = "C1:23:45:67:89:AB"
DEVICE_PATH = "/org/bluez/hci0/dev_C1_23_45_67_89_AB"
STATUS_REQUEST = encode_lock_command(0x14, b"", DEFAULT_LOCK_KEY) + LOCK_TRAILER

if dbus_daemon_path() is None:
    if os.environ.get("CI") == "true":
        pytest.fail("dbus-daemon missing under CI: .ci/run must install it", pytrace=False)
    pytest.skip("dbus-daemon not installed: apt-get install dbus-daemon", allow_module_level=True)


def _spec(**timing: float) -> dict[str, Any]:
    return {
        "devices": [{"preset": "v3-keypad", "address": ADDRESS, "mtu": 23}],
        "timing": timing,
    }


@pytest.fixture
def tier(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[BluezTier]:
    """A running tier; parametrize indirectly with timing knobs (and ``mtu``) to change it."""
    knobs = dict(getattr(request, "param", {}))
    mtu = knobs.pop("mtu", 23)
    spec = _spec(**knobs)
    spec["devices"][0]["mtu"] = mtu
    with BluezTier(spec) as running:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", running.address or "")
        yield running


@pytest.fixture
async def raw_bus(tier: BluezTier) -> AsyncIterator[MessageBus]:
    bus = await MessageBus(bus_address=tier.address, bus_type=BusType.SYSTEM).connect()
    try:
        yield bus
    finally:
        bus.disconnect()


async def _call(bus: MessageBus, path: str, interface: str, member: str, *args: Any) -> Message:
    """Call ``member``; ``args`` = (signature, body) when it takes arguments."""
    signature, body = args if args else ("", ())
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
    )
    assert reply is not None
    if reply.message_type is MessageType.ERROR:
        raise DBusError(reply.error_name or "?", reply.body[0] if reply.body else "")
    return reply


async def _managed(bus: MessageBus) -> dict[str, Any]:
    reply = await _call(bus, "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    objects: dict[str, Any] = reply.body[0]
    return objects


async def _device_prop(bus: MessageBus, name: str) -> Any:
    reply = await _call(
        bus,
        DEVICE_PATH,
        "org.freedesktop.DBus.Properties",
        "Get",
        "ss",
        ["org.bluez.Device1", name],
    )
    return reply.body[0].value


needs_tier = pytest.mark.usefixtures("tier")


# --- bleak's own backend -------------------------------------------------------------


@needs_tier
async def test_bleak_chooses_its_own_bluez_backend_with_no_backend_argument() -> None:
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=5)
    assert device is not None
    async with BleakClient(device) as client:
        backend = type(client._backend)
        assert backend.__module__ == "bleak.backends.bluezdbus.client"
        assert backend.__name__ == "BleakClientBlueZDBus"
        assert client.is_connected


@needs_tier
async def test_a_request_written_in_20_byte_chunks_is_answered_by_notification() -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        received = bytearray()
        done = asyncio.Event()

        def on_notify(_: Any, data: bytearray) -> None:
            received.extend(data)
            if received.endswith(LOCK_TRAILER):
                done.set()

        await client.start_notify(LOCK_GATT.notify, on_notify)
        for offset in range(0, len(STATUS_REQUEST), 20):
            chunk = STATUS_REQUEST[offset : offset + 20]
            await client.write_gatt_char(LOCK_GATT.write, chunk, response=False)
        await asyncio.wait_for(done.wait(), 5)
    assert received[:2] == b"\x7f\x5a"


@needs_tier
async def test_the_gatt_table_is_a_real_locks() -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        services = {s.uuid[4:8] for s in client.services}
        assert {"1800", "1801", "1910", "180f", "180a"} <= services
        ttlock = client.services.get_service(LOCK_GATT.service)
        assert ttlock is not None
        props = {c.uuid[4:8]: c.properties for c in ttlock.characteristics}
        assert props == {"fff2": ["write-without-response"], "fff4": ["notify"]}
        handles = {c.uuid[4:8]: c.handle for c in ttlock.characteristics}
        assert handles == {"fff4": 0x000D, "fff2": 0x0010}  # docs/protocol.md §10.4


# --- bluetoothd's rules --------------------------------------------------------------


async def test_one_discovery_per_client_and_adapter(raw_bus: MessageBus, tier: BluezTier) -> None:
    await _call(raw_bus, "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    with pytest.raises(DBusError) as refused:
        await _call(raw_bus, "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    assert refused.value.type == "org.bluez.Error.InProgress"
    other = await MessageBus(bus_address=tier.address, bus_type=BusType.SYSTEM).connect()
    try:
        await _call(other, "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    finally:
        other.disconnect()


async def test_a_discovery_session_ends_when_its_client_leaves_the_bus(
    raw_bus: MessageBus, tier: BluezTier
) -> None:
    leaver = await MessageBus(bus_address=tier.address, bus_type=BusType.SYSTEM).connect()
    await _call(leaver, "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")

    async def discovering() -> bool:
        reply = await _call(
            raw_bus,
            "/org/bluez/hci0",
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            ["org.bluez.Adapter1", "Discovering"],
        )
        return bool(reply.body[0].value)

    assert await discovering()
    leaver.disconnect()
    for _ in range(100):
        if not await discovering():
            break
        await asyncio.sleep(0.02)
    assert not await discovering()


@needs_tier
async def test_two_scans_at_once_in_one_process_collide_like_bluetoothd() -> None:
    first = BleakScanner()
    second = BleakScanner()
    await first.start()
    try:
        with pytest.raises(BleakError, match="InProgress"):
            await second.start()
    finally:
        await first.stop()


@pytest.mark.parametrize("tier", [{"temporary_timeout": 0.2}], indirect=True)
async def test_a_discovered_device_vanishes_after_discovery_stops(raw_bus: MessageBus) -> None:
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None
    assert DEVICE_PATH in await _managed(raw_bus)
    for _ in range(100):
        if DEVICE_PATH not in await _managed(raw_bus):
            break
        await asyncio.sleep(0.02)
    assert DEVICE_PATH not in await _managed(raw_bus)


@needs_tier
async def test_a_connected_device_stops_advertising() -> None:
    async with BleakClient(ADDRESS, timeout=5):
        seen = await BleakScanner.discover(timeout=0.5, return_adv=True)
        assert ADDRESS not in seen


async def test_the_link_belongs_to_the_daemon_and_outlives_its_client(
    raw_bus: MessageBus, tier: BluezTier
) -> None:
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None
    client = await MessageBus(bus_address=tier.address, bus_type=BusType.SYSTEM).connect()
    await _call(client, DEVICE_PATH, "org.bluez.Device1", "Connect")
    client.disconnect()  # the process that connected is gone
    await asyncio.sleep(0.1)
    assert await _device_prop(raw_bus, "Connected") is True
    # ... and bleak finds the OS link and can use it (bleak's get_connected_devices path).
    assert await _device_prop(raw_bus, "ServicesResolved") is True


@pytest.mark.parametrize("tier", [{"mtu": 247}], indirect=True)
@needs_tier
async def test_characteristics_report_the_link_mtu() -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        write = client.services.get_characteristic(LOCK_GATT.write)
        assert write is not None
        assert write.max_write_without_response_size == 244


@needs_tier
async def test_a_write_longer_than_mtu_minus_3_is_refused() -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        with pytest.raises(BleakError, match="Failed to initiate write"):
            await client.write_gatt_char(LOCK_GATT.write, bytes(21), response=False)


@needs_tier
async def test_a_write_request_on_the_write_without_response_characteristic_is_refused() -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.write_gatt_char(LOCK_GATT.write, STATUS_REQUEST[:20], response=True)
    # bleak turns org.bluez.Error.NotPermitted into ATT "write not permitted" (0x03).
    assert refused.value.code is BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED


async def test_disconnect_removes_the_gatt_objects(raw_bus: MessageBus) -> None:
    async with BleakClient(ADDRESS, timeout=5):
        objects = await _managed(raw_bus)
        assert any(path.startswith(DEVICE_PATH + "/service") for path in objects)
    objects = await _managed(raw_bus)
    assert not any(path.startswith(DEVICE_PATH + "/") for path in objects)
    assert await _device_prop(raw_bus, "Connected") is False


async def test_notifications_flow_only_while_a_client_has_started_them(
    raw_bus: MessageBus,
) -> None:
    values: list[bytes] = []

    def on_signal(msg: Message) -> None:
        if (
            msg.member == "PropertiesChanged"
            and msg.body[0] == "org.bluez.GattCharacteristic1"
            and "Value" in msg.body[1]
        ):
            values.append(bytes(msg.body[1]["Value"].value))

    raw_bus.add_message_handler(on_signal)
    await raw_bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=["type='signal',interface='org.freedesktop.DBus.Properties'"],
        )
    )
    async with BleakClient(ADDRESS, timeout=5) as client:
        for offset in range(0, len(STATUS_REQUEST), 20):
            await client.write_gatt_char(
                LOCK_GATT.write, STATUS_REQUEST[offset : offset + 20], response=False
            )
        await asyncio.sleep(0.2)
        assert values == []  # nobody subscribed: the lock's reply goes nowhere
        await client.start_notify(LOCK_GATT.notify, lambda _c, _d: None)
        for offset in range(0, len(STATUS_REQUEST), 20):
            await client.write_gatt_char(
                LOCK_GATT.write, STATUS_REQUEST[offset : offset + 20], response=False
            )
        for _ in range(100):
            if values:
                break
            await asyncio.sleep(0.02)
    assert values


async def _bench(bus: MessageBus, member: str, *args: Any) -> Any:
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/io/ttlock_hil/bench",
            interface="io.ttlock_hil.Bench1",
            member=member,
            signature=args[0] if args else "",
            body=list(args[1]) if args else [],
        )
    )
    assert reply is not None
    if reply.message_type is MessageType.ERROR:
        raise DBusError(reply.error_name or "?", reply.body[0] if reply.body else "")
    return reply.body[0] if reply.body else None


async def test_a_fault_armed_over_the_control_interface_fires_and_is_reported(
    raw_bus: MessageBus,
) -> None:
    await _bench(raw_bus, "Inject", "sss", [ADDRESS, "NOTIFY_FAILED", "{}"])
    async with BleakClient(ADDRESS, timeout=5) as client:
        with pytest.raises(BleakError):
            await client.start_notify(LOCK_GATT.notify, lambda _c, _d: None)
        await client.start_notify(LOCK_GATT.notify, lambda _c, _d: None)  # once only
    fired = json.loads(await _bench(raw_bus, "Fired", "s", [ADDRESS]))
    assert fired == [{"fault": "NOTIFY_FAILED", "command": None}]


async def test_a_bad_fault_name_is_a_clear_error(raw_bus: MessageBus) -> None:
    with pytest.raises(DBusError, match="NOT_A_FAULT"):
        await _bench(raw_bus, "Inject", "sss", [ADDRESS, "NOT_A_FAULT", "{}"])


async def test_a_device_that_does_not_advertise_stays_silent_for_the_whole_discovery(
    raw_bus: MessageBus,
) -> None:
    await _bench(raw_bus, "Inject", "sss", [ADDRESS, "NOT_ADVERTISING", "{}"])
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=0.5) is None
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None


async def test_a_device_side_drop_reaches_bleaks_disconnected_callback(raw_bus: MessageBus) -> None:
    dropped = asyncio.Event()
    async with BleakClient(ADDRESS, timeout=5, disconnected_callback=lambda _: dropped.set()):
        assert await _bench(raw_bus, "DropLink", "s", [ADDRESS]) is True
        await asyncio.wait_for(dropped.wait(), 5)
    assert await _device_prop(raw_bus, "Connected") is False


async def test_out_of_range_a_device_is_not_found(raw_bus: MessageBus) -> None:
    await _bench(raw_bus, "SetInRange", "sb", [ADDRESS, False])
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=0.5) is None
    await _bench(raw_bus, "SetInRange", "sb", [ADDRESS, True])
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None


async def test_remove_device_forgets_it_until_it_is_seen_again(raw_bus: MessageBus) -> None:
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None
    await _call(
        raw_bus, "/org/bluez/hci0", "org.bluez.Adapter1", "RemoveDevice", "o", [DEVICE_PATH]
    )
    assert DEVICE_PATH not in await _managed(raw_bus)
    assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None


async def test_stop_notify_ends_only_that_clients_subscription(
    raw_bus: MessageBus, tier: BluezTier
) -> None:
    async with BleakClient(ADDRESS, timeout=5) as client:
        await client.start_notify(LOCK_GATT.notify, lambda _c, _d: None)
        char_path = next(
            path
            for path, ifaces in (await _managed(raw_bus)).items()
            if ifaces.get("org.bluez.GattCharacteristic1", {}).get("UUID", None) is not None
            and ifaces["org.bluez.GattCharacteristic1"]["UUID"].value == LOCK_GATT.notify
        )
        other = await MessageBus(bus_address=tier.address, bus_type=BusType.SYSTEM).connect()
        try:
            await _call(other, char_path, "org.bluez.GattCharacteristic1", "StartNotify")
            await _call(other, char_path, "org.bluez.GattCharacteristic1", "StopNotify")
        finally:
            other.disconnect()
        reply = await _call(
            raw_bus,
            char_path,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            ["org.bluez.GattCharacteristic1", "Notifying"],
        )
        assert reply.body[0].value is True  # bleak's subscription still stands


# --- the processes -------------------------------------------------------------------


_HOLDER = textwrap.dedent(
    """
    import json, sys, time
    from ttlock_hil.harness.sim.bluez import BluezTier
    tier = BluezTier(json.loads(sys.argv[1]))
    tier.start()
    print(json.dumps([tier.daemon.pid, tier.double.pid]), flush=True)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = open(f"/proc/{pid}/stat").read().split()[2]  # noqa: SIM115
    return status != "Z"


def test_killing_the_run_that_owns_the_tier_ends_its_bus_and_double() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, json.dumps(_spec())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        pids = json.loads(holder.stdout.readline())
        assert all(_alive(pid) for pid in pids)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.02)
        assert not any(_alive(pid) for pid in pids), f"left behind: {pids}"
    finally:
        holder.kill()
        holder.wait(timeout=5)
        if holder.stdout is not None:
            holder.stdout.close()
    cleanup_stale()  # the killed run's directory goes too


# --- the remote bench (the control interface's client) --------------------------------


def test_the_remote_bench_arms_faults_reports_them_and_restores(tier: BluezTier) -> None:
    assert tier.address is not None
    bench = RemoteBench("front-door", ADDRESS, tier.address)
    try:
        rule = bench.inject(Fault.NOTIFY_FAILED)
        assert rule.fault is Fault.NOTIFY_FAILED
        bench.set(battery=3)
        with pytest.raises(RemoteBenchError, match="battery"):
            bench.set(battery=700)  # the device's declaration refuses it, in the double
        with pytest.raises(RemoteBenchError, match="NOT_A_FAULT"):
            bench._call("Inject", "sss", [ADDRESS, "NOT_A_FAULT", "{}"])
        assert bench.device.enter_passcode("999999") is False  # no such passcode stored
        with pytest.raises(RemoteBenchError, match="no IC card reader"):
            bench.device.present_card(0x5A5A0002)  # the model's own refusal, carried over
        with pytest.raises(AttributeError, match="bench action"):
            bench.device.receive  # noqa: B018 - only bench actions cross the bus
        assert bench.fired == ()
        bench.restore()
    finally:
        bench.close()


async def test_a_fault_armed_remotely_fires_and_is_evidence_for_this_bench_only(
    tier: BluezTier,
) -> None:
    assert tier.address is not None
    bench = RemoteBench("front-door", ADDRESS, tier.address)
    try:
        bench.inject(Fault.NOTIFY_FAILED)
        async with BleakClient(ADDRESS, timeout=5) as client:
            with pytest.raises(BleakError):
                await client.start_notify(LOCK_GATT.notify, lambda _c, _d: None)
        assert [f.rule.fault for f in bench.fired] == [Fault.NOTIFY_FAILED]
    finally:
        bench.close()
    later = RemoteBench("front-door", ADDRESS, tier.address)
    try:
        assert later.fired == ()  # a new bench, a new test: no earlier evidence
    finally:
        later.close()


@needs_tier
async def test_a_passive_scan_with_or_patterns_sees_the_lock() -> None:
    from bleak.args.bluez import OrPattern
    from bleak.assigned_numbers import AdvertisementDataType

    pattern = OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\x05\x03")
    found = asyncio.Event()

    def seen(device: Any, _data: Any) -> None:
        if device.address == ADDRESS:
            found.set()

    scanner = BleakScanner(seen, scanning_mode="passive", bluez={"or_patterns": [pattern]})
    await scanner.start()
    try:
        await asyncio.wait_for(found.wait(), 5)
    finally:
        await scanner.stop()


async def test_a_disconnect_cancels_a_pending_connect_like_bluetoothd(raw_bus: MessageBus) -> None:
    # bleak sends Disconnect when its own connect timeout passes; bluetoothd then aborts
    # the attempt. Measured: the double kept paging for its whole connect_wait (10 s), so
    # the next test's first connect to that lock waited 10 s and failed.
    await _bench(raw_bus, "Inject", "sss", [ADDRESS, "CONNECT_TIMEOUT", "{}"])
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=5)
    assert device is not None
    connect = asyncio.ensure_future(_call(raw_bus, DEVICE_PATH, "org.bluez.Device1", "Connect"))
    await asyncio.sleep(0.2)
    assert not connect.done()  # the lock does not answer the page
    started = time.monotonic()
    await _call(raw_bus, DEVICE_PATH, "org.bluez.Device1", "Disconnect")
    with pytest.raises(DBusError, match="le-connection-abort-by-local"):
        await connect
    assert time.monotonic() - started < 2.0  # at once, not after connect_wait
    assert await _device_prop(raw_bus, "Connected") is False
    started = time.monotonic()
    async with BleakClient(device, timeout=5) as client:  # the next attempt is a fresh one
        assert client.is_connected
    assert time.monotonic() - started < 4.0
