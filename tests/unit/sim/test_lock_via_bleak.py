"""The virtual lock through bleak's public API (``BleakClient(..., backend=VirtualClientBackend)``).

The behaviour scenarios of ``lock_scenarios.py`` run here over a real
``BleakClient`` on the virtual backend: requests chunked into MTU-3 writes on
``fff2``, replies reassembled from ``fff4`` notifications by length. The tests
below cover what only the radio side shows: scans, GATT reads, one central at
a time, notification sizes, device-side drops, faults on top of the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDeviceNotFoundError

from ttlock_hil.harness.sim import (
    Air,
    Fault,
    VirtualClientBackend,
    VirtualGateway,
    VirtualScannerBackend,
)
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.protocol.advert import Advert, parse_bleak
from ttlock_hil.protocol.app import Pushed, Replied
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    AddAdmin,
    GetAesKey,
    GetLockTime,
    GetOperateLog,
    IcAddedReply,
    IcEnterAddMode,
    LockTimeReply,
    SearchStatus,
    StatePush,
)

from .clients import DEADLINE, BleakDriver, BleakTransport, LockClient
from .lock_scenarios import (
    ADMIN_PS,
    PS,
    SCENARIOS,
    UNLOCK_KEY,
    Scenario,
    admin,
    ends_with,
    fresh_lock,
    paired_lock,
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_lock_behaviour_through_bleak(scenario: Scenario) -> None:
    driver = BleakDriver()
    try:
        await scenario(driver)
    finally:
        await driver.close()


@pytest.fixture
async def driver() -> AsyncIterator[BleakDriver]:
    opened = BleakDriver()
    yield opened
    await opened.close()


async def scan(air: Air, address: str) -> tuple[BLEDevice, Advert, AdvertisementData]:
    seen: dict[str, AdvertisementData] = {}

    def match(device: BLEDevice, data: AdvertisementData) -> bool:
        seen[device.address] = data
        return device.address == address

    async with asyncio.timeout(DEADLINE):
        device = await BleakScanner.find_device_by_filter(
            match, timeout=DEADLINE, backend=VirtualScannerBackend.bind(air)
        )
    assert device is not None
    data = seen[address]
    ((company_id, rest),) = data.manufacturer_data.items()
    return device, parse_bleak(company_id, rest), data


async def test_a_scan_shows_setting_mode_then_pairing_then_the_bolt(driver: BleakDriver) -> None:
    lock = fresh_lock()
    air = driver.air_of(lock)
    device, advert, data = await scan(air, lock.address)
    assert device.name == lock.name == data.local_name
    assert data.service_uuids == ["00001910-0000-1000-8000-00805f9b34fb"]
    assert (advert.setting_mode, advert.unlocked, advert.battery) == (True, False, 80)
    app = await LockClient.open(driver, lock)
    await app.request(GetAesKey())
    await app.request(AddAdmin(ADMIN_PS, UNLOCK_KEY))
    await app.close()
    _, advert, _ = await scan(air, lock.address)
    assert advert.setting_mode is False
    app = await LockClient.open(driver, lock)
    ps = await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    assert (await app.unlock(ps, UNLOCK_KEY)).ok
    await app.close()
    lock.battery = 12
    _, advert, _ = await scan(air, lock.address)
    assert (advert.unlocked, advert.has_events, advert.battery) == (True, True, 12)
    await driver.close()


async def test_the_lock_is_silent_on_the_air_while_connected(driver: BleakDriver) -> None:
    lock = paired_lock()
    air = driver.air_of(lock)
    app = await LockClient.open(driver, lock)
    async with asyncio.timeout(DEADLINE):
        found = await BleakScanner.find_device_by_address(
            lock.address, timeout=0.2, backend=VirtualScannerBackend.bind(air)
        )
    assert found is None
    await app.close()
    assert (await scan(air, lock.address))[0].address == lock.address


async def test_battery_and_device_information_are_readable(driver: BleakDriver) -> None:
    lock = paired_lock()
    lock.battery = 55
    app = await LockClient.open(driver, lock)
    assert isinstance(app.transport, BleakTransport)
    client = app.transport.client
    async with asyncio.timeout(DEADLINE):
        assert await client.read_gatt_char("2a19") == bytearray([55])
        assert await client.read_gatt_char("2a24") == lock.preset.model.encode()
        assert await client.read_gatt_char("2a26") == lock.preset.firmware.encode()
        assert await client.read_gatt_char("2a27") == lock.preset.hardware.encode()
    await driver.close()
    gateway = VirtualGateway("g2")
    transport = await driver.open(gateway)
    assert isinstance(transport, BleakTransport)
    async with asyncio.timeout(DEADLINE):
        mac = await transport.client.read_gatt_char("2a25")
    assert mac == gateway.preset.network_mac.encode()
    await driver.close()


async def test_a_second_central_cannot_connect_while_the_first_holds_the_lock(
    driver: BleakDriver,
) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    intruder = BleakClient(
        lock.address, backend=VirtualClientBackend, air=driver.air_of(lock), timeout=0.2
    )
    with pytest.raises(BleakDeviceNotFoundError):  # by address: not advertising, not found
        async with asyncio.timeout(DEADLINE):
            await intruder.connect()
    assert not intruder.is_connected
    assert (await app.request(SearchStatus())).ok  # the first central is unaffected
    await driver.close()


async def test_long_replies_arrive_in_mtu_sized_notifications(driver: BleakDriver) -> None:
    lock = paired_lock()
    for n in range(3):
        lock.enter_passcode(f"{n:06d}")
    app = await LockClient.open(driver, lock)
    assert isinstance(app.transport, BleakTransport)
    await app.request(GetOperateLog(0))
    chunks = app.transport.chunks
    assert len(chunks) > 1
    assert all(len(c) <= 20 for c in chunks)
    await driver.close()
    air = driver.air_of(lock)
    air.get(lock.address).mtu = 185
    app = await LockClient.open(driver, lock)
    assert isinstance(app.transport, BleakTransport)
    await app.request(GetOperateLog(0))
    assert len(app.transport.chunks) == 1
    await driver.close()


async def test_a_device_side_drop_ends_the_login(driver: BleakDriver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    assert driver.air_of(lock).drop_link(lock.address, "idle timeout")
    await asyncio.sleep(0)
    again = await LockClient.open(driver, lock)
    assert (await again.unlock(PS, UNLOCK_KEY)).error_byte == LockError.USER_NOT_LOGIN
    assert not app.transport.client.is_connected  # type: ignore[attr-defined]
    await driver.close()


async def test_the_card_number_of_an_ic_add_arrives_as_a_notification(
    driver: BleakDriver,
) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    await app.request(IcEnterAddMode(), final=ends_with(IcAddedReply))
    lock.present_card(0x0A0B0C0D)  # the bench holds a card to the reader
    added = (await app.next_reply()).message  # delivered by the backend's push poll
    assert getattr(added, "card", None) == 0x0A0B0C0D
    await driver.close()


async def test_faults_compose_with_the_lock_model(driver: BleakDriver) -> None:
    lock = paired_lock()
    air = driver.air_of(lock)
    app = await LockClient.open(driver, lock)
    air.faults(lock.address).add(Fault.ERROR_REPLY, command=0x14, error=LockError.LOCK_REVERSE)
    assert (await app.request(SearchStatus())).error_byte == LockError.LOCK_REVERSE
    air.faults(lock.address).add(Fault.PUSH_BEFORE_REPLY, command=0x34)
    reply = await app.request(GetLockTime())  # the echo-0x14 push is set aside (§4.1)
    assert isinstance(reply.message, LockTimeReply)
    assert [type(event) for event in app.events] == [Replied, Pushed, Replied]
    push = app.events[1]
    assert isinstance(push, Pushed)
    assert push.push == StatePush(lock.battery, 0, 0)
    await driver.close()


def test_each_driver_opens_its_own_air_per_device() -> None:
    driver = BleakDriver()
    one, two = VirtualLock(), VirtualLock(address="01:02:03:04:05:06")
    assert driver.air_of(one) is driver.air_of(one)
    assert driver.air_of(one) is not driver.air_of(two)
