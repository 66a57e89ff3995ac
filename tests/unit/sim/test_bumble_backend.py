"""The bleak backends on a Bumble central: bleak's public API over a real host stack.

Everything goes through ``BleakScanner``/``BleakClient`` with the backend classes bound to
a :class:`BumbleTier`, the way the harness's link layer uses them. The pitfalls of issue 19
that the backends handle are reproduced here: a connect to an absent device (1), a request
in flight when the link drops (3), refused writes (4) and stale characteristic objects (6).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak.uuids import normalize_uuid_str

from tests.unit.sim.conftest import LOCK_ADDRESS, EchoDevice, Notifications, chunks, send
from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.bumble import BumbleTier, PeripheralTiming, RadioError
from ttlock_hil.harness.sim.faults import Fault

DEADLINE = 5.0
ABSENT = "C2:00:00:00:00:02"
STATUS = 0x14
FAST = PeripheralTiming(advert_interval=0.01, refresh=0.02)


@pytest.fixture
async def lock() -> EchoDevice:
    return EchoDevice()


@pytest.fixture
async def tier(lock: EchoDevice) -> AsyncIterator[BumbleTier]:
    """A tier hosting ``lock``; at the end every task it started has ended."""
    before = set(asyncio.all_tasks())
    bumble_tier = BumbleTier(Air([lock]), timing=FAST)
    try:
        yield bumble_tier
    finally:
        async with asyncio.timeout(DEADLINE):
            await bumble_tier.aclose()
        for _ in range(3):
            await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        left = [t for t in left if t is not asyncio.current_task()]
        for task in left:
            task.cancel()
        assert not left, f"tasks outlived the tier: {left}"


async def _eventually(check: Callable[[], bool]) -> None:
    """Poll ``check`` (a state with no event to wait on) until it holds, within DEADLINE."""
    async with asyncio.timeout(DEADLINE):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


async def _find(tier: BumbleTier, address: str = LOCK_ADDRESS) -> BLEDevice:
    scanner, _ = tier.backends
    device = await BleakScanner.find_device_by_address(address, timeout=2.0, backend=scanner)
    assert device is not None
    return device


def _client(tier: BumbleTier, device: BLEDevice | str, **kwargs: object) -> BleakClient:
    _, client = tier.backends
    return BleakClient(device, backend=client, timeout=kwargs.pop("timeout", 2.0), **kwargs)  # type: ignore[arg-type]


# --- scanning -----------------------------------------------------------------------------


async def test_a_scan_sees_the_advert_and_the_scan_response_as_one_device(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    scanner, _ = tier.backends
    named: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = (
        asyncio.get_running_loop().create_future()
    )

    def seen(device: BLEDevice, data: AdvertisementData) -> None:
        if data.local_name and not named.done():
            named.set_result((device, data))

    async with asyncio.timeout(DEADLINE):
        async with BleakScanner(seen, backend=scanner):
            device, data = await named
    model = lock.advertisement()
    assert device.name == lock.name == data.local_name
    assert data.manufacturer_data == model.manufacturer_data
    assert normalize_uuid_str("1910") in data.service_uuids
    assert data.rssi == model.rssi


async def test_a_passive_scan_sees_no_scan_response(tier: BumbleTier, lock: EchoDevice) -> None:
    scanner, _ = tier.backends
    seen: list[object] = []
    async with asyncio.timeout(DEADLINE):
        async with BleakScanner(
            lambda _device, data: seen.append(data), backend=scanner, scanning_mode="passive"
        ):
            await asyncio.sleep(0.1)
    assert seen
    assert all(getattr(data, "local_name", None) is None for data in seen)
    assert all(getattr(data, "manufacturer_data", None) for data in seen)


async def test_a_service_filter_is_applied(tier: BumbleTier) -> None:
    scanner, _ = tier.backends
    async with asyncio.timeout(DEADLINE):
        found = await BleakScanner.find_device_by_address(
            LOCK_ADDRESS,
            timeout=0.2,
            backend=scanner,
            service_uuids=["0000fe59-0000-1000-8000-00805f9b34fb"],
        )
    assert found is None


# --- connecting -------------------------------------------------------------------------------


async def test_the_client_sees_value_handles_the_mtu_and_the_write_size(tier: BumbleTier) -> None:
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as client:
            write = client.services.get_characteristic("fff2")
            notify = client.services.get_characteristic("fff4")
            assert write is not None
            assert notify is not None
            assert (write.handle, write.properties) == (0x0011, ["write-without-response"])
            assert (notify.handle, notify.properties) == (0x000E, ["notify"])
            assert [d.handle for d in notify.descriptors] == [0x000F]
            assert client.mtu_size == 23
            assert write.max_write_without_response_size == 20


async def test_pitfall_1_a_connect_to_an_absent_device_keeps_its_deadline_and_the_next_works(
    tier: BumbleTier,
) -> None:
    began = time.monotonic()
    with pytest.raises(BleakDeviceNotFoundError):
        async with asyncio.timeout(DEADLINE):
            await _client(tier, ABSENT, timeout=0.3).connect()
    assert time.monotonic() - began < 0.3 + 0.5
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as client:
            assert client.is_connected


async def test_a_connect_to_a_device_that_went_away_is_a_timeout(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    device = await _find(tier)
    radio = await tier.radio()
    radio.peripherals[lock.address].entry.set_in_range(False)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(DEADLINE):
            await _client(tier, device, timeout=0.3).connect()


async def test_pitfall_3_a_request_in_flight_when_the_link_drops_is_a_bleak_error(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    device = await _find(tier)
    radio = await tier.radio()
    peripheral = radio.peripherals[lock.address]
    peripheral.entry.faults.add(Fault.CONNECT_TIMEOUT)  # the MTU request stays unanswered
    client = _client(tier, device, timeout=3.0)
    connecting = asyncio.get_running_loop().create_task(client.connect())
    await _eventually(lambda: peripheral.connected)
    began = time.monotonic()
    assert peripheral.drop_link("dropped mid-request")
    with pytest.raises(BleakError, match="in flight"):
        async with asyncio.timeout(DEADLINE):
            await connecting
    assert time.monotonic() - began < 1.0  # at once, not at the 3 s deadline
    assert not client.is_connected


async def test_a_cancelled_connect_is_still_a_cancellation(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    device = await _find(tier)
    radio = await tier.radio()
    radio.peripherals[lock.address].entry.faults.add(Fault.CONNECT_TIMEOUT)
    client = _client(tier, device, timeout=3.0)
    connecting = asyncio.get_running_loop().create_task(client.connect())
    await asyncio.sleep(0.1)
    connecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(DEADLINE):
            await connecting
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as again:  # nothing was left behind
            assert again.is_connected


# --- GATT I/O ---------------------------------------------------------------------------------


async def test_a_request_in_20_byte_writes_is_answered_by_notification(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    received = Notifications()
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as client:
            await client.start_notify("fff4", received)
            await send(client, lock.request(STATUS))
            frames = await received.wait_frames(1)
            await client.stop_notify("fff4")
            await send(client, lock.request(STATUS))
            await asyncio.sleep(0.05)
    assert frames == [lock.reply_to(STATUS)[:-2]]
    assert received.chunks == chunks(lock.reply_to(STATUS))  # nothing after stop_notify
    assert len(lock.requests) == 2


async def test_pitfall_4_oversized_writes_and_write_requests_are_refused(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as client:
            with pytest.raises(BleakError, match="exceeds max_write_without_response_size 20"):
                await client.write_gatt_char("fff2", lock.request(STATUS), response=False)
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.write_gatt_char("fff2", b"\x7f", response=True)
    assert refused.value.code is BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
    assert lock.writes == []


async def test_pitfall_6_a_characteristic_from_an_earlier_connection_is_resolved_by_handle(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    received = Notifications()
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as first:
            old_write = first.services.get_characteristic("fff2")
        assert isinstance(old_write, BleakGATTCharacteristic)
        async with _client(tier, await _find(tier)) as second:
            await second.start_notify("fff4", received)
            for chunk in chunks(lock.request(STATUS)):
                await second.write_gatt_char(old_write, chunk, response=False)
            await received.wait_frames(1)
        radio = await tier.radio()
        radio.peripherals[lock.address].entry.faults.add(
            Fault.CHARACTERISTIC_MISSING, characteristic="write"
        )
        async with _client(tier, await _find(tier)) as third:
            with pytest.raises(BleakCharacteristicNotFoundError):
                await third.write_gatt_char(old_write, b"\x7f", response=False)


async def test_reads_are_served_and_a_refused_read_is_a_protocol_error(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    async with asyncio.timeout(DEADLINE):
        async with _client(tier, await _find(tier)) as client:
            assert await client.read_gatt_char("2a19") == bytearray([lock.battery])
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.read_gatt_char("fff4")
    assert refused.value.code is BleakGATTProtocolErrorCode.READ_NOT_PERMITTED


async def test_only_an_unsolicited_disconnect_calls_the_disconnected_callback(
    tier: BumbleTier, lock: EchoDevice
) -> None:
    calls: list[object] = []
    _, backend = tier.backends
    async with asyncio.timeout(DEADLINE):
        client = BleakClient(await _find(tier), calls.append, backend=backend, timeout=2.0)
        await client.connect()
        await client.disconnect()
        assert calls == []
        await client.connect()
        radio = await tier.radio()
        assert radio.peripherals[lock.address].drop_link()
    await _eventually(lambda: not client.is_connected)
    assert calls == [client]


def test_a_tier_used_from_a_new_event_loop_builds_a_new_radio() -> None:
    lock = EchoDevice()
    bumble_tier = BumbleTier(Air([lock]), timing=FAST)

    async def status_once() -> None:
        received = Notifications()
        async with asyncio.timeout(DEADLINE):
            async with _client(bumble_tier, await _find(bumble_tier)) as client:
                await client.start_notify("fff4", received)
                await send(client, lock.request(STATUS))
                await received.wait_frames(1)
        # No aclose(): the loop ends with the radio still built, as pytest's loops do.

    asyncio.run(status_once())
    asyncio.run(status_once())
    assert len(lock.requests) == 2
    assert lock.connects == lock.disconnects == 2


async def test_a_central_whose_controller_does_not_open_is_a_radio_error() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = f"tcp-client:127.0.0.1:{port}"
    remote = BumbleTier(None, central_hci=spec)
    with pytest.raises(RadioError, match=spec) as failed:
        async with asyncio.timeout(DEADLINE):
            await remote.central()
    assert isinstance(failed.value, BleakError)  # bleak's callers see an adapter failure
    await remote.aclose()
