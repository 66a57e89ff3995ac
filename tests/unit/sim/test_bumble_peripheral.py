"""BumblePeripheral through a plain Bumble central: what a real ATT client sees of a hosted device.

The central here is Bumble's own GATT client (no bleak, no harness), so every refusal is
checked at the ATT level, where a phone or another TTLock client would meet it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from bumble import att, hci
from bumble.core import UUID
from bumble.device import Advertisement, Connection, Device, Peer

from tests.unit.sim.conftest import LOCK_ADDRESS, EchoDevice, chunks
from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.bumble import (
    LEGACY_ADVERT_LIMIT,
    AdvertTooLong,
    BumbleRadio,
    PeripheralTiming,
    advert_payloads,
    bleak_uuid,
)
from ttlock_hil.harness.sim.device import Advertisement as ModelAdvert
from ttlock_hil.harness.sim.device import VirtualDevice
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.harness.sim.gatt_table import gatt_table
from ttlock_hil.harness.sim.presets import create_device
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.reassembly import FrameReassembler

DEADLINE = 5.0
FAST = PeripheralTiming(advert_interval=0.01, refresh=0.02)
STATUS = 0x14
WRITE_HANDLE = 0x0011
NOTIFY_HANDLE = 0x000E


@asynccontextmanager
async def hosting(*devices: VirtualDevice) -> AsyncIterator[BumbleRadio]:
    radio = BumbleRadio(Air(devices), timing=FAST)
    async with asyncio.timeout(DEADLINE):
        await radio.start()
    try:
        yield radio
    finally:
        async with asyncio.timeout(DEADLINE):
            await radio.stop()


def _address(device: VirtualDevice) -> hci.Address:
    return hci.Address(device.address, hci.Address.RANDOM_DEVICE_ADDRESS)


async def _connect(radio: BumbleRadio, device: VirtualDevice) -> tuple[Connection, Peer]:
    central = radio.central.device
    async with asyncio.timeout(DEADLINE):
        connection = await central.connect(_address(device), timeout=2.0)
        peer = Peer(connection)
        await peer.request_mtu(517)
    return connection, peer


async def _eventually(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` (a state with no event to wait on) until it holds, within DEADLINE."""
    try:
        async with asyncio.timeout(DEADLINE):
            while True:
                if check():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"not within {DEADLINE:g} s: {what}")


async def _heard(radio: BumbleRadio, seconds: float, *, active: bool = True) -> list[Advertisement]:
    central = radio.central.device
    heard: list[Advertisement] = []
    central.on(Device.EVENT_ADVERTISEMENT, heard.append)
    try:
        async with asyncio.timeout(DEADLINE):
            await central.start_scanning(active=active)
        await asyncio.sleep(seconds)
        async with asyncio.timeout(DEADLINE):
            await central.stop_scanning()
    finally:
        central.remove_listener(Device.EVENT_ADVERTISEMENT, heard.append)
    return heard


# --- the GATT table ------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["v3-keypad", "g2"])
async def test_the_gatt_table_is_served_at_its_declared_handles(preset: str) -> None:
    device = create_device(preset, address=LOCK_ADDRESS)
    expected = gatt_table(device, battery=lambda: getattr(device, "battery", None))
    async with hosting(device) as radio:
        _, peer = await _connect(radio, device)
        async with asyncio.timeout(DEADLINE):
            services = await peer.discover_services()
            seen = []
            for service in services:
                for char in await service.discover_characteristics():
                    descriptors = await char.discover_descriptors()
                    seen.append(
                        (
                            service.handle,
                            bleak_uuid(char.uuid),
                            char.handle,
                            [d.handle for d in descriptors],
                        )
                    )
    declared = [
        (
            service.handle,
            char.uuid,
            char.value_handle,
            [char.cccd_handle] if char.cccd_handle else [],
        )
        for service in expected
        for char in service.characteristics
    ]
    assert seen == declared


async def test_a_model_without_device_information_keeps_the_slots_of_what_it_lacks() -> None:
    gateway = EchoDevice(DeviceKind.GATEWAY)
    async with hosting(gateway) as radio:
        _, peer = await _connect(radio, gateway)
        async with asyncio.timeout(DEADLINE):
            services = await peer.discover_services()
    # GAP, GATT and the gateway service 0x1911 at 0x000C; no battery, no 0x180A.
    assert [(s.handle, s.uuid) for s in services] == [
        (0x0001, UUID("1800")),
        (0x0008, UUID("1801")),
        (0x000C, UUID("1911")),
    ]


# --- pitfall 4: the refusals a real ATT server makes -----------------------------------------


async def test_a_write_request_to_the_command_characteristic_is_write_not_permitted() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        _, peer = await _connect(radio, lock)
        with pytest.raises(att.ATT_Error) as refused:
            async with asyncio.timeout(DEADLINE):
                await peer.write_value(WRITE_HANDLE, lock.request(STATUS)[:20], with_response=True)
    assert refused.value.error_code == att.ATT_WRITE_NOT_PERMITTED_ERROR
    assert lock.writes == []


async def test_a_write_command_longer_than_mtu_minus_3_never_reaches_the_device() -> None:
    lock = EchoDevice()
    request = lock.request(STATUS)
    assert len(request) > 20
    async with hosting(lock) as radio:
        connection, peer = await _connect(radio, lock)
        assert connection.att_mtu == 23  # what the device allows
        async with asyncio.timeout(DEADLINE):
            await peer.write_value(WRITE_HANDLE, request, with_response=False)  # one write
            await asyncio.sleep(0.05)
        assert lock.writes == []
        async with asyncio.timeout(DEADLINE):
            for chunk in chunks(request):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
        await _eventually(lambda: lock.writes == [request], "the same bytes in 20-byte writes")


async def test_the_command_characteristics_cannot_be_read() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        _, peer = await _connect(radio, lock)
        for handle in (NOTIFY_HANDLE, WRITE_HANDLE):
            with pytest.raises(att.ATT_Error) as refused:
                async with asyncio.timeout(DEADLINE):
                    await peer.read_value(handle)
            assert refused.value.error_code == att.ATT_READ_NOT_PERMITTED_ERROR


async def test_the_battery_level_is_read_live_from_the_model() -> None:
    lock = EchoDevice(battery=80)
    async with hosting(lock) as radio:
        _, peer = await _connect(radio, lock)
        lock.battery = 37
        async with asyncio.timeout(DEADLINE):
            value = await peer.read_value(0x0014)
    assert value == bytes([37])


# --- traffic -------------------------------------------------------------------------------


async def test_chunks_reach_the_model_in_order_and_the_reply_comes_as_20_byte_notifications() -> (
    None
):
    lock = EchoDevice()
    request = lock.request(STATUS)
    async with hosting(lock) as radio:
        _, peer = await _connect(radio, lock)
        received: list[bytes] = []
        notify = peer.get_characteristics_by_uuid(UUID("fff4"))
        if not notify:
            async with asyncio.timeout(DEADLINE):
                for service in await peer.discover_services():
                    await service.discover_characteristics()
            notify = peer.get_characteristics_by_uuid(UUID("fff4"))
        async with asyncio.timeout(DEADLINE):
            await peer.subscribe(notify[0], received.append)
            for chunk in chunks(request):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
        reply = lock.reply_to(STATUS)
        await _eventually(lambda: b"".join(received) == reply, "the whole reply arrives")
    assert lock.writes == [request]  # reassembled in order from its chunks
    assert received == chunks(reply)


async def test_nothing_is_notified_until_the_client_enables_notifications() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        connection, peer = await _connect(radio, lock)
        async with asyncio.timeout(DEADLINE):
            for chunk in chunks(lock.request(STATUS)):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
        await _eventually(lambda: len(lock.requests) == 1, "the request arrives")
        await asyncio.sleep(0.05)
    assert NOTIFY_HANDLE not in connection.gatt_client.cached_values


class _Crashing(EchoDevice):
    def receive(self, data: bytes) -> list[bytes]:
        raise RuntimeError("model bug")


async def test_a_model_that_raises_on_a_write_hangs_up_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lock = _Crashing()
    async with hosting(lock) as radio:
        connection, peer = await _connect(radio, lock)
        dropped = asyncio.get_running_loop().create_future()
        connection.on(Connection.EVENT_DISCONNECTION, dropped.set_result)
        with caplog.at_level(logging.ERROR):
            async with asyncio.timeout(DEADLINE):
                for chunk in chunks(lock.request(STATUS)):
                    await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
                await dropped
    assert any("model bug" in (r.exc_text or "") for r in caplog.records)


# --- advertising ----------------------------------------------------------------------------


def test_the_advert_fits_a_legacy_pdu_with_the_name_in_the_scan_response() -> None:
    lock = create_device("v3-keypad")
    data, response = advert_payloads(lock.advertisement())
    assert len(data) <= LEGACY_ADVERT_LIMIT
    assert len(response) <= LEGACY_ADVERT_LIMIT
    assert lock.name.encode() in response
    assert bytes.fromhex("03031019") in response  # 16-bit service list: 0x1910
    assert lock.name.encode() not in data


def test_a_name_too_long_for_the_scan_response_is_shortened() -> None:
    advert = ModelAdvert("N" * 40, {0x0305: bytes(15)}, ["1910"])
    _, response = advert_payloads(advert)
    assert len(response) == LEGACY_ADVERT_LIMIT
    assert b"\x08NNNN" in response  # AD type 0x08: shortened local name


def test_manufacturer_data_too_long_for_a_legacy_pdu_is_refused() -> None:
    with pytest.raises(AdvertTooLong, match="31"):
        advert_payloads(ModelAdvert("L", {0x0305: bytes(30)}))


async def test_a_connected_device_is_silent_and_advertises_its_current_advert_after() -> None:
    lock = EchoDevice(battery=80)
    async with hosting(lock) as radio:
        connection, _ = await _connect(radio, lock)
        silent = await _heard(radio, 0.1)
        lock.battery = 41  # changes the advert while connected
        async with asyncio.timeout(DEADLINE):
            await connection.disconnect()
        peripheral = radio.peripherals[lock.address]
        await _eventually(lambda: peripheral.advertising, "advertising again")
        after = await _heard(radio, 0.1)
    assert silent == []
    adverts = [a for a in after if not a.is_scan_response]
    assert adverts
    assert all(bytes([2, 0, 41]) in a.data_bytes for a in adverts)


async def test_out_of_range_the_link_drops_and_the_device_is_silent_until_it_returns() -> None:
    lock = EchoDevice()
    air_entry_name = lock.address
    async with hosting(lock) as radio:
        connection, _ = await _connect(radio, lock)
        dropped = asyncio.get_running_loop().create_future()
        connection.on(Connection.EVENT_DISCONNECTION, dropped.set_result)
        entry = radio.peripherals[air_entry_name].entry
        entry.set_in_range(False)
        async with asyncio.timeout(DEADLINE):
            await dropped
        gone = await _heard(radio, 0.1)
        entry.set_in_range(True)
        await _eventually(lambda: radio.peripherals[air_entry_name].advertising, "back")
        back = await _heard(radio, 0.1)
    assert gone == []
    assert back


# --- link faults from the fault plan ------------------------------------------------------


async def test_not_advertising_silences_the_device_for_one_scan_session() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.NOT_ADVERTISING)
        first = await _heard(radio, 0.1)
        second = await _heard(radio, 0.1)
    assert first == []
    assert second


async def test_connect_timeout_takes_the_link_but_never_answers() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.CONNECT_TIMEOUT)
        central = radio.central.device
        async with asyncio.timeout(DEADLINE):
            connection = await central.connect(_address(lock), timeout=2.0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await Peer(connection).request_mtu(517)
        assert lock.connects == 0  # the model never saw a central
        async with asyncio.timeout(DEADLINE):
            await connection.disconnect()
        await _connect(radio, lock)  # the fault fired once: served now
        assert lock.connects == 1


async def test_notify_failed_refuses_the_cccd_write_with_unlikely_error() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.NOTIFY_FAILED)
        _, peer = await _connect(radio, lock)
        with pytest.raises(att.ATT_Error) as refused:
            async with asyncio.timeout(DEADLINE):
                await peer.write_value(NOTIFY_HANDLE + 1, b"\x01\x00", with_response=True)
    assert refused.value.error_code == att.ATT_UNLIKELY_ERROR_ERROR


@pytest.mark.parametrize(
    ("fault", "options", "gone"),
    [
        (Fault.SERVICE_MISSING, {}, {"1910", "fff2", "fff4"}),
        (Fault.CHARACTERISTIC_MISSING, {"characteristic": "write"}, {"fff2"}),
    ],
)
async def test_a_missing_service_or_characteristic_is_decided_at_connect(
    fault: Fault, options: dict[str, str], gone: set[str]
) -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(fault, **options)  # type: ignore[arg-type]
        _, peer = await _connect(radio, lock)
        async with asyncio.timeout(DEADLINE):
            found = set()
            for service in await peer.discover_services():
                found.add(service.uuid.to_hex_str().lower())
                for char in await service.discover_characteristics():
                    found.add(char.uuid.to_hex_str().lower())
    assert not gone & found
    assert "1800" in found


async def test_write_failed_loses_the_chunk_on_the_air() -> None:
    lock = EchoDevice()
    request = lock.request(STATUS)
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.WRITE_FAILED)
        _, peer = await _connect(radio, lock)
        async with asyncio.timeout(DEADLINE):
            for chunk in chunks(request):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
        await asyncio.sleep(0.05)
        fired = radio.peripherals[lock.address].entry.faults.history
    assert [f.rule.fault for f in fired] == [Fault.WRITE_FAILED]
    assert lock.writes == []  # without its first chunk the frame never assembles


async def test_a_drop_before_the_reply_hangs_up_after_the_device_acted() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.DROP_LINK_BEFORE_REPLY)
        connection, peer = await _connect(radio, lock)
        dropped = asyncio.get_running_loop().create_future()
        connection.on(Connection.EVENT_DISCONNECTION, dropped.set_result)
        async with asyncio.timeout(DEADLINE):
            for chunk in chunks(lock.request(STATUS)):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
            await dropped
    assert len(lock.requests) == 1
    assert lock.disconnects == 1


async def test_an_mtu_fault_sizes_the_notifications() -> None:
    lock = EchoDevice()
    async with hosting(lock) as radio:
        radio.peripherals[lock.address].entry.faults.add(Fault.MTU, mtu=40)
        _, peer = await _connect(radio, lock)
        async with asyncio.timeout(DEADLINE):
            for service in await peer.discover_services():
                await service.discover_characteristics()
        received: list[bytes] = []
        reassembler = FrameReassembler()
        async with asyncio.timeout(DEADLINE):
            await peer.subscribe(peer.get_characteristics_by_uuid(UUID("fff4"))[0], received.append)
            for chunk in chunks(lock.request(STATUS)):
                await peer.write_value(WRITE_HANDLE, chunk, with_response=False)
        reply = lock.reply_to(STATUS)
        await _eventually(lambda: b"".join(received) == reply, "the reply")
        assert radio.peripherals[lock.address].mtu == 40
    assert [len(c) for c in received] == [len(c) for c in chunks(reply, 37)]
    assert reassembler.feed(b"".join(received))
