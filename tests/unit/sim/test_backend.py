"""The virtual bleak backends and the Air, driven through bleak's public API only."""

from __future__ import annotations

import asyncio

import bleak
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from ttlock_hil.harness.sim.air import Air, DeviceBusy, UnknownDevice
from ttlock_hil.harness.sim.backend import (
    TASK_PREFIX,
    VirtualClientBackend,
    VirtualScannerBackend,
    battery_level,
)
from ttlock_hil.harness.sim.device import (
    CCCD_UUID,
    GATEWAY_GATT,
    LOCK_GATT,
    Advertisement,
)
from ttlock_hil.harness.sim.gatt_table import uuid16
from ttlock_hil.protocol.device import DeviceKind

from .conftest import EchoDevice, Notifications, send, strip_trailer

DEADLINE = 3.0


def sim_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(TASK_PREFIX) and not t.done()]


async def find(air: Air, address: str, scan_for: float = 1.0) -> BLEDevice | None:
    return await BleakScanner.find_device_by_address(  # type: ignore[call-arg]
        address, timeout=scan_for, backend=VirtualScannerBackend, air=air
    )


def client_for(air: Air, device: BLEDevice | str, **kwargs: object) -> BleakClient:
    kwargs.setdefault("timeout", 1.0)
    return BleakClient(device, backend=VirtualClientBackend, air=air, **kwargs)  # type: ignore[arg-type]


# --- scanning -------------------------------------------------------------------


async def test_scan_reports_the_devices_own_advert_with_all_fields(
    air: Air, lock: EchoDevice
) -> None:
    seen: list[AdvertisementData] = []

    def is_lock(device: BLEDevice, advert: AdvertisementData) -> bool:
        seen.append(advert)
        return device.address == lock.address

    async with asyncio.timeout(DEADLINE):
        device = await BleakScanner.find_device_by_filter(  # type: ignore[call-arg]
            is_lock, timeout=1.0, backend=VirtualScannerBackend, air=air
        )
    assert device is not None
    assert device.details is lock
    assert device.name == lock.name
    advert = next(a for a in seen if a.local_name == lock.name)
    expected = lock.advertisement()
    assert advert.manufacturer_data == expected.manufacturer_data
    assert advert.manufacturer_data[0x0305][2] == lock.battery  # d[4] = battery (§6)
    assert advert.service_uuids == [LOCK_GATT.service]
    assert advert.rssi == expected.rssi
    assert advert.tx_power is None
    assert advert.service_data == {}


async def test_find_device_by_name_and_by_lowercase_address(air: Air, gateway: EchoDevice) -> None:
    async with asyncio.timeout(DEADLINE):
        by_name = await BleakScanner.find_device_by_name(  # type: ignore[call-arg]
            gateway.name, timeout=1.0, backend=VirtualScannerBackend, air=air
        )
        by_address = await find(air, gateway.address.lower())
    assert by_name is not None
    assert by_name.details is gateway
    # bleak compares addresses case-insensitively; the backend reports upper case.
    assert by_address is not None
    assert by_address.address == gateway.address


async def test_service_filter_only_reports_devices_advertising_that_service(air: Air) -> None:
    async with asyncio.timeout(DEADLINE):
        # bleak types the classmethods' kwargs without room for air= (bind() avoids it)
        found = await BleakScanner.discover(  # type: ignore[call-overload]
            timeout=0.15,
            service_uuids=[GATEWAY_GATT.service],
            backend=VirtualScannerBackend,
            air=air,
        )
    assert [d.name for d in found] == ["G2_ffeedd"]


async def test_advertising_is_periodic_and_start_clears_seen_devices(
    air: Air, gateway: EchoDevice
) -> None:
    adverts: list[str] = []
    seen_thrice = asyncio.Event()

    def record(device: BLEDevice, _advert: AdvertisementData) -> None:
        adverts.append(device.address)
        if adverts.count(gateway.address) >= 3:  # pitfall 2: seen again and again
            seen_thrice.set()

    scanner = BleakScanner(record, backend=VirtualScannerBackend, air=air)
    async with asyncio.timeout(DEADLINE):
        await scanner.start()
        await seen_thrice.wait()
        await scanner.stop()
        assert gateway.address in scanner.discovered_devices_and_advertisement_data
        air.remove(gateway)
        await scanner.start()
        await asyncio.sleep(0.1)
        await scanner.stop()
    assert gateway.address not in scanner.discovered_devices_and_advertisement_data
    assert len(scanner.discovered_devices) == 1


async def test_stopping_the_scanner_leaves_no_task(air: Air) -> None:
    before = sim_tasks()
    scanner = BleakScanner(backend=VirtualScannerBackend, air=air)
    async with asyncio.timeout(DEADLINE):
        await scanner.start()
        assert len(sim_tasks()) == len(before) + 1
        await scanner.stop()
    assert sim_tasks() == before


async def test_a_failing_detection_callback_does_not_end_the_scan(
    air: Air, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    kept_scanning = asyncio.Event()

    def explode(device: BLEDevice, _advert: AdvertisementData) -> None:
        calls.append(device.address)
        if len(calls) >= 3:
            kept_scanning.set()
        raise RuntimeError("callback bug")

    async with (
        asyncio.timeout(DEADLINE),
        BleakScanner(explode, backend=VirtualScannerBackend, air=air),
    ):
        await kept_scanning.wait()
    assert "advertising round failed" in caplog.text


def test_backends_without_air_say_how_to_pass_it() -> None:
    with pytest.raises(BleakError, match="needs air="):
        BleakScanner(backend=VirtualScannerBackend)
    with pytest.raises(BleakError, match="needs air="):
        BleakClient("AA:BB:CC:DD:EE:FF", backend=VirtualClientBackend)


# --- connecting and GATT ----------------------------------------------------------


async def test_connect_exposes_the_lock_gatt_with_normalized_uuids(
    air: Air, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE):
        device = await find(air, lock.address)
        assert device is not None
        async with client_for(air, device) as client:
            services = client.services
            assert services.get_service("1910") is not None
            write = services.get_characteristic("fff2")
            notify = services.get_characteristic("fff4")
            assert write is not None
            assert notify is not None
            assert write.uuid == LOCK_GATT.write
            assert write.properties == ["write-without-response"]
            assert notify.properties == ["notify"]
            assert [d.uuid for d in notify.descriptors] == [CCCD_UUID]
            assert notify.get_descriptor("2902") is not None
            assert write.max_write_without_response_size == 20
            assert client.mtu_size == 23
            assert client.name == lock.name
            battery = await client.read_gatt_char("2a19")
            assert battery == bytearray([lock.battery])


async def test_gateway_exposes_the_gateway_gatt_without_battery(
    air: Air, gateway: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, gateway.address) as client:
        uuids = {service.uuid for service in client.services}
        # GAP and GATT services like every peripheral, then 0x1911; no battery service.
        assert uuids == {GATEWAY_GATT.service, uuid16("1800"), uuid16("1801")}
        assert client.services.get_characteristic("00000002-0000-1000-8000-00805f9b34fb")
        assert client.services.get_characteristic(GATEWAY_GATT.notify) is not None


async def test_services_argument_filters_the_gatt_table(air: Air, lock: EchoDevice) -> None:
    async with (
        asyncio.timeout(DEADLINE),
        client_for(air, lock.address, services=["180f"]) as client,
    ):
        assert [s.uuid for s in client.services] == ["0000180f-0000-1000-8000-00805f9b34fb"]


async def test_mtu_comes_from_the_client_or_the_device_entry(lock: EchoDevice) -> None:
    air = Air()
    air.add(lock, mtu=185)
    async with asyncio.timeout(DEADLINE):
        async with client_for(air, lock.address) as client:
            assert client.mtu_size == 185
            char = client.services.get_characteristic("fff2")
            assert char is not None
            assert char.max_write_without_response_size == 182
        async with client_for(air, lock.address, mtu=64) as client:
            assert client.mtu_size == 64
    with pytest.raises(ValueError, match="mtu"):
        client_for(air, lock.address, mtu=22)


async def test_a_write_larger_than_mtu_minus_3_is_refused_naming_its_size(
    air: Air, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        with pytest.raises(BleakError, match=r"write of 21 bytes exceeds .* 20"):
            await client.write_gatt_char("fff2", bytes(21), response=False)
        await client.write_gatt_char("fff2", lock.request(0x14)[:20], response=False)
    assert lock.requests == []  # only a first chunk arrived


async def test_a_write_with_response_is_not_permitted(air: Air, lock: EchoDevice) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.write_gatt_char("fff2", b"\x7f", response=True)
    assert "write-without-response" in " ".join(caught.value.__notes__)


async def test_chunked_replies_reassemble_to_the_devices_frames(air: Air, lock: EchoDevice) -> None:
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        await client.start_notify("fff4", notes)
        await send(client, lock.request(0x14))
        await send(client, lock.request(0x41), size=7)  # any chunking the app likes
        frames = await notes.wait_frames(2)
    assert frames == [strip_trailer(lock.reply_to(0x14)), strip_trailer(lock.reply_to(0x41))]
    assert [len(c) for c in notes.chunks] == [20, 20, 7, 20, 20, 7]
    assert lock.requests == [strip_trailer(lock.request(0x14)), strip_trailer(lock.request(0x41))]
    # The device sees each complete frame once, with the 0D 0A the app sent.
    assert lock.writes == [lock.request(0x14), lock.request(0x41)]


async def test_gateway_frames_travel_without_trailer(air: Air, gateway: EchoDevice) -> None:
    notes = Notifications(DeviceKind.GATEWAY)
    async with asyncio.timeout(DEADLINE), client_for(air, gateway.address) as client:
        await client.start_notify(GATEWAY_GATT.notify, notes)
        await send(client, gateway.request(0x45), char=GATEWAY_GATT.write)
        frames = await notes.wait_frames(1)
    assert frames == [gateway.reply_to(0x45)]
    assert gateway.writes == [gateway.request(0x45)]


async def test_notifications_are_delivered_after_the_write_returns(
    air: Air, lock: EchoDevice
) -> None:
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        await client.start_notify("fff4", notes)
        request = lock.request(0x14)
        await client.write_gatt_char("fff2", request[:20], response=False)
        await client.write_gatt_char("fff2", request[20:], response=False)
        assert notes.chunks == []  # pitfall 4: nothing inside write_gatt_char
        await notes.wait_frames(1)


async def test_replies_without_a_subscriber_are_dropped_but_the_request_arrives(
    air: Air, lock: EchoDevice
) -> None:
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        await send(client, lock.request(0x14))
        await asyncio.sleep(0.05)
        await client.start_notify("fff4", notes)
        assert await client.read_gatt_descriptor(0x000F) == bytearray(b"\x01\x00")
        await asyncio.sleep(0.05)
        assert notes.chunks == []
        await send(client, lock.request(0x41))
        frames = await notes.wait_frames(1)
        await client.stop_notify("fff4")
        assert await client.read_gatt_descriptor(0x000F) == bytearray(b"\x00\x00")
    assert len(lock.requests) == 2
    assert frames == [strip_trailer(lock.reply_to(0x41))]


async def test_pushes_arrive_without_any_write(air: Air, lock: EchoDevice) -> None:
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        await client.start_notify("fff4", notes)
        lock.pending_pushes.append(lock.push_frame())
        frames = await notes.wait_frames(1)
    assert frames == [strip_trailer(lock.push_frame())]


async def test_pushes_follow_the_reply_of_a_write(air: Air, lock: EchoDevice) -> None:
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        await client.start_notify("fff4", notes)
        request = lock.request(0x47)
        await client.write_gatt_char("fff2", request[:20], response=False)
        lock.pending_pushes.append(lock.push_frame())
        await client.write_gatt_char("fff2", request[20:], response=False)
        frames = await notes.wait_frames(2)
    assert frames == [strip_trailer(lock.reply_to(0x47)), strip_trailer(lock.push_frame())]


async def test_unknown_reads_and_descriptor_writes_raise_clear_errors(
    air: Air, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        with pytest.raises(BleakError, match="it is not readable"):
            await client.read_gatt_char("fff4")
        with pytest.raises(ValueError, match="start_notify"):  # bleak guards the CCCD
            await client.write_gatt_descriptor(0x000F, b"\x01\x00")
        with pytest.raises(BleakError, match="is not writable"):
            await client.write_gatt_char("2a19", b"\x01", response=False)
        with pytest.raises(BleakError, match="does not notify"):
            await client.start_notify("fff2", Notifications())


async def test_pairing_is_not_supported(air: Air, lock: EchoDevice) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address) as client:
        with pytest.raises(BleakError, match="bonding"):
            await client.pair()
        with pytest.raises(BleakError, match="bonding"):
            await client.unpair()


async def test_pair_true_still_connects(air: Air, lock: EchoDevice) -> None:
    async with asyncio.timeout(DEADLINE), client_for(air, lock.address, pair=True) as client:
        assert client.is_connected


# --- connection lifetime ---------------------------------------------------------


async def test_device_side_drop_calls_the_disconnected_callback_once(
    air: Air, lock: EchoDevice
) -> None:
    dropped = asyncio.Event()
    calls: list[BleakClient] = []

    def on_disconnect(client: BleakClient) -> None:
        calls.append(client)
        dropped.set()

    client = client_for(air, lock.address, disconnected_callback=on_disconnect)
    async with asyncio.timeout(DEADLINE):
        await client.connect()
        assert air.drop_link(lock.address, "idle timeout") is True
        assert not client.is_connected
        await dropped.wait()
        await client.disconnect()  # harmless after a drop
        await asyncio.sleep(0.01)
    assert calls == [client]
    assert air.drop_link(lock.address) is False


async def test_client_disconnect_does_not_call_the_callback_nor_leave_tasks(
    air: Air, lock: EchoDevice
) -> None:
    calls: list[BleakClient] = []
    before = sim_tasks()
    client = client_for(air, lock.address, disconnected_callback=calls.append)
    async with asyncio.timeout(DEADLINE):
        await client.connect()
        assert len(sim_tasks()) == len(before) + 1
        await client.disconnect()
        await asyncio.sleep(0.05)
    assert calls == []
    assert sim_tasks() == before
    assert (lock.connects, lock.disconnects) == (1, 1)


async def test_the_device_stops_advertising_while_connected_and_resumes_after(
    air: Air, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE):
        async with client_for(air, lock.address):
            assert not air.get(lock.address).advertising
            assert await find(air, lock.address, scan_for=0.15) is None
        assert air.get(lock.address).advertising
        assert await find(air, lock.address) is not None


async def test_a_second_central_is_refused_after_its_connect_timeout(
    air: Air, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE):
        device = await find(air, lock.address)
        assert device is not None
        async with client_for(air, device):
            second = client_for(air, device, timeout=0.1)
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError, match="another central"):
                await second.connect()
            assert loop.time() - started >= 0.1
            by_address = client_for(air, lock.address, timeout=0.05)
            with pytest.raises(BleakDeviceNotFoundError, match="another central"):
                await by_address.connect()
            assert not second.is_connected
    assert lock.connects == 1


async def test_a_waiting_central_connects_once_the_first_lets_go(
    air: Air, lock: EchoDevice
) -> None:
    first = client_for(air, lock.address)
    second = client_for(air, lock.address, timeout=1.0)
    async with asyncio.timeout(DEADLINE):
        await first.connect()
        waiting = asyncio.create_task(second.connect())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await first.disconnect()
        await waiting
        assert second.is_connected
        await second.disconnect()


async def test_out_of_range_drops_the_link_and_connects_time_out(
    air: Air, lock: EchoDevice
) -> None:
    dropped = asyncio.Event()
    client = client_for(air, lock.address, disconnected_callback=lambda _c: dropped.set())
    async with asyncio.timeout(DEADLINE):
        await client.connect()
        air.set_in_range(lock.address, False)
        await dropped.wait()
        assert await find(air, lock.address, scan_for=0.1) is None
        with pytest.raises(BleakDeviceNotFoundError, match="out of range"):
            await client_for(air, lock.address, timeout=0.05).connect()
        air.set_in_range(lock.address, True)
        await client.connect()
        assert client.is_connected
        await client.disconnect()


async def test_unknown_address_is_not_found(air: Air) -> None:
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(BleakDeviceNotFoundError, match="no such device"):
            await client_for(air, "01:02:03:04:05:06", timeout=0.05).connect()


async def test_removing_a_device_drops_its_link(air: Air, lock: EchoDevice) -> None:
    dropped = asyncio.Event()
    client = client_for(air, lock.address, disconnected_callback=lambda _c: dropped.set())
    async with asyncio.timeout(DEADLINE):
        await client.connect()
        air.remove(lock.address)
        await dropped.wait()
    assert lock.address not in air
    assert lock.disconnects == 1


async def test_bound_backends_work_without_air_and_through_patched_platform_lookup(
    air: Air, lock: EchoDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pitfall 7: third-party code that never passes backend= is redirected here.
    monkeypatch.setattr(
        bleak,
        "get_platform_scanner_backend_type",
        lambda: (VirtualScannerBackend.bind(air), "virtual"),
    )
    monkeypatch.setattr(
        bleak,
        "get_platform_client_backend_type",
        lambda: (VirtualClientBackend.bind(air), "virtual"),
    )
    async with asyncio.timeout(DEADLINE):
        device = await BleakScanner.find_device_by_address(lock.address, timeout=1.0)
        assert device is not None
        async with BleakClient(device, timeout=1.0) as client:
            assert client.services.get_characteristic("fff2") is not None


# --- the Air ---------------------------------------------------------------------------


def test_air_finds_devices_by_address_in_any_case_by_name_and_by_object(
    air: Air, lock: EchoDevice
) -> None:
    entry = air.get(lock.address.lower())
    assert entry.device is lock
    assert air.get(lock.name) is entry
    assert air.get(lock) is entry
    assert lock.name in air
    assert len(air) == 2
    assert [e.device for e in air] == [lock, air.get("G2_ffeedd").device]
    assert air.faults(lock.name) is entry.faults
    assert "advertising" in repr(entry)


def test_air_lookup_failures_name_what_is_on_the_air(air: Air, lock: EchoDevice) -> None:
    with pytest.raises(UnknownDevice, match=r"on the air: S202F_f69a04 \(EE:C6"):
        air.get("nope")
    assert air.find("nope") is None
    air.add(EchoDevice(address="01:02:03:04:05:06", name=lock.name))
    with pytest.raises(UnknownDevice, match="look them up by address"):
        air.get(lock.name)


def test_air_refuses_duplicates_non_devices_and_bad_mtu(lock: EchoDevice) -> None:
    air = Air([lock])
    with pytest.raises(ValueError, match="already on the air"):
        air.add(EchoDevice())
    with pytest.raises(TypeError, match="not a VirtualDevice"):
        air.add(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mtu"):
        air.add(EchoDevice(address="01:02:03:04:05:06"), mtu=600)


def test_claiming_a_busy_device_raises_device_busy(lock: EchoDevice) -> None:
    class Central:
        def __init__(self) -> None:
            self.lost: list[str] = []

        def link_lost(self, reason: str) -> None:
            self.lost.append(reason)

    air = Air([lock])
    entry = air.get(lock.address)
    first, second = Central(), Central()
    entry.claim(first)
    with pytest.raises(DeviceBusy, match="another central"):
        entry.claim(second)
    entry.release(second)  # not the holder: no effect
    assert entry.central is first
    air.set_in_range(lock.address, False)
    assert first.lost == ["the device went out of range (supervision timeout)"]
    assert entry.central is None
    with pytest.raises(ConnectionError, match="out of range"):
        entry.claim(second)
    assert (lock.connects, lock.disconnects) == (1, 1)


def test_battery_level_follows_the_advert_layouts() -> None:
    v3 = Advertisement("x", {0x0305: bytes([2, 0, 64])})
    other = Advertisement("x", {0x1234: bytes([0, 0, 5, 3, 0, 2, 0, 55])})
    v2s = Advertisement("x", {0x1234: bytes([0, 0, 5, 1, 0, 2, 0, 55])})
    assert battery_level(v3) == 64
    assert battery_level(other) == 55
    assert battery_level(v2s) is None
    assert battery_level(Advertisement("x", {})) is None


async def test_a_lock_without_battery_in_its_advert_has_no_battery_service() -> None:
    class Quiet(EchoDevice):
        def advertisement(self) -> Advertisement:
            return Advertisement(self.name, {}, [])

    device = Quiet(DeviceKind.LOCK)
    air = Air([device])
    async with asyncio.timeout(DEADLINE), client_for(air, device.address) as client:
        assert client.services.get_service("180f") is None


async def test_a_second_discovery_on_one_air_in_one_loop_collides_like_bluetoothd(
    air: Air,
) -> None:
    first = BleakScanner(backend=VirtualScannerBackend, air=air)
    second = BleakScanner(backend=VirtualScannerBackend, air=air)
    await first.start()
    try:
        with pytest.raises(BleakDBusError, match="InProgress"):
            await second.start()
    finally:
        await first.stop()
    await second.start()  # free again once the first stopped
    await second.stop()
