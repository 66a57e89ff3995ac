"""A running scan shows every change of a device's advert in the very next round (issue 15).

The virtual scanner reuses what it built for an advert that did not change; these
tests, through bleak's public API only, catch a reuse that went stale: a lock's
state changing between rounds (battery, bolt, new records, auto-lock by time,
setting mode), two devices, a new scan session, a callback that mutates the data
it got, and a device that mutates its advert in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.backend import VirtualScannerBackend
from ttlock_hil.harness.sim.device import LOCK_GATT, Advertisement, ManualClock
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.protocol.advert import Advert, parse_bleak
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.frame import LOCK_TRAILER, encode_lock_command
from ttlock_hil.protocol.messages import AddAdmin, GetAesKey, Request

from .conftest import EchoDevice
from .lock_scenarios import ADMIN_PS, KEY, UNLOCK_KEY, fresh_lock, paired_lock

DEADLINE = 3.0
ROUNDS = 3
"""Rounds watched after a change: the first one and those after must all show it."""


class Heard:
    """A detection callback keeping every (address, data) in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, AdvertisementData]] = []
        self._more = asyncio.Event()

    def __call__(self, device: BLEDevice, data: AdvertisementData) -> None:
        self.seen.append((device.address, data))
        self._more.set()

    def mark(self) -> int:
        return len(self.seen)

    async def adverts(
        self, address: str, since: int, count: int = ROUNDS
    ) -> list[AdvertisementData]:
        """The first ``count`` adverts of ``address`` heard at or after index ``since``."""
        while True:
            found = [data for addr, data in self.seen[since:] if addr == address]
            if len(found) >= count:
                return found[:count]
            self._more.clear()
            await self._more.wait()


def parsed(data: AdvertisementData) -> Advert:
    ((company_id, rest),) = data.manufacturer_data.items()
    return parse_bleak(company_id, rest)


def scanner(air: Air, heard: Heard, **kwargs: object) -> BleakScanner:
    return BleakScanner(heard, backend=VirtualScannerBackend, air=air, interval=0.005, **kwargs)  # type: ignore[arg-type]


def wire(message: Request, key: bytes) -> bytes:
    return encode_lock_command(message.COMMAND, message.encode(), key) + LOCK_TRAILER


def assert_current(lock: VirtualLock, adverts: list[AdvertisementData]) -> None:
    """Every advert heard equals what the lock advertises now, in every field."""
    expected = lock.advertisement()
    for data in adverts:
        assert data.manufacturer_data == expected.manufacturer_data
        assert data.local_name == expected.local_name
        assert data.service_uuids == [LOCK_GATT.service]
        assert data.rssi == expected.rssi
        assert data.platform_data[0] is lock


async def test_each_lock_state_change_shows_in_the_next_round() -> None:
    clock = ManualClock()
    lock = paired_lock(clock=clock)
    lock.memory.settings.auto_lock_seconds = 5
    battery = lock.battery
    air = Air([lock])
    heard = Heard()
    wrong_code = "9" * 9  # no passcode the keypad holds
    steps: list[tuple[str, Callable[[], object], tuple[bool | None, bool | None, int | None]]] = [
        ("battery drains", lambda: setattr(lock, "battery", 33), (False, False, 33)),
        (
            "wrong passcode: a new record",
            lambda: lock.enter_passcode(wrong_code),
            (False, True, 33),
        ),
        (
            "back to the first battery",
            lambda: setattr(lock, "battery", battery),
            (False, True, battery),
        ),
        (
            "admin code opens the bolt",
            lambda: lock.enter_passcode(str(lock.admin_code)),
            (True, True, battery),
        ),
        ("auto-lock closes it in time", lambda: clock.advance(6), (False, True, battery)),
    ]
    async with asyncio.timeout(DEADLINE), scanner(air, heard):
        first = await heard.adverts(lock.address, 0)
        assert (parsed(first[0]).unlocked, parsed(first[0]).has_events) == (False, False)
        assert_current(lock, first)
        for what, change, (unlocked, has_events, level) in steps:
            since = heard.mark()
            change()
            adverts = await heard.adverts(lock.address, since)
            for advert in map(parsed, adverts):
                assert (advert.unlocked, advert.has_events, advert.battery) == (
                    unlocked,
                    has_events,
                    level,
                ), what
            assert_current(lock, adverts)


async def test_pairing_ends_setting_mode_in_the_next_round() -> None:
    lock = fresh_lock()
    air = Air([lock])
    heard = Heard()
    async with asyncio.timeout(DEADLINE), scanner(air, heard):
        (before,) = await heard.adverts(lock.address, 0, count=1)
        assert parsed(before).setting_mode is True
        since = heard.mark()
        lock.receive(wire(GetAesKey(), DEFAULT_LOCK_KEY))
        lock.receive(wire(AddAdmin(ADMIN_PS, UNLOCK_KEY), KEY))
        lock.on_disconnect()
        assert not lock.setting_mode
        adverts = await heard.adverts(lock.address, since)
        assert all(parsed(a).setting_mode is False for a in adverts)
        assert_current(lock, adverts)


class SameAdvert(EchoDevice):
    """A device whose advert is the same, byte for byte, as any other SameAdvert's."""

    def advertisement(self) -> Advertisement:
        return Advertisement("twin", {0x0305: bytes(12)}, [LOCK_GATT.service])


async def test_two_devices_never_share_advertisement_data() -> None:
    one = paired_lock(address="AA:BB:CC:DD:EE:01")
    two = paired_lock(address="AA:BB:CC:DD:EE:02")
    twin_a = SameAdvert(address="AA:BB:CC:DD:EE:0A")
    twin_b = SameAdvert(address="AA:BB:CC:DD:EE:0B")
    air = Air([one, two, twin_a, twin_b])
    heard = Heard()
    async with asyncio.timeout(DEADLINE), scanner(air, heard):
        await heard.adverts(twin_b.address, 0)
        since = heard.mark()
        one.battery = 11
        ones = await heard.adverts(one.address, since)
        twos = await heard.adverts(two.address, since)
        assert all(parsed(a).battery == 11 and parsed(a).mac == one.address for a in ones)
        assert all(parsed(a).battery == two.battery and parsed(a).mac == two.address for a in twos)
        assert_current(one, ones)
        assert_current(two, twos)
        for address, device in ((twin_a.address, twin_a), (twin_b.address, twin_b)):
            for data in await heard.adverts(address, since):
                assert data.platform_data[0] is device
        by_address: dict[str, set[int]] = {}
        for address, data in heard.seen:
            by_address.setdefault(address, set()).add(id(data))
        addresses = list(by_address)
        for i, a in enumerate(addresses):
            for b in addresses[i + 1 :]:
                assert not by_address[a] & by_address[b], (a, b)


async def test_a_new_scan_session_sees_a_change_made_while_stopped() -> None:
    lock = paired_lock()
    air = Air([lock])
    heard = Heard()
    scan = scanner(air, heard)
    async with asyncio.timeout(DEADLINE):
        await scan.start()
        (before,) = await heard.adverts(lock.address, 0, count=1)
        await scan.stop()
        assert parsed(before).battery == lock.battery != 21
        lock.battery = 21
        since = heard.mark()
        await scan.start()
        adverts = await heard.adverts(lock.address, since)
        await scan.stop()
    assert all(parsed(a).battery == 21 for a in adverts)
    assert_current(lock, adverts)
    _, latest = scan.discovered_devices_and_advertisement_data[lock.address]
    assert parsed(latest).battery == 21


async def test_a_callback_mutating_its_data_does_not_change_what_later_rounds_report() -> None:
    lock = paired_lock()
    air = Air([lock])
    got: list[tuple[dict[int, bytes], list[str], dict[str, bytes]]] = []
    enough = asyncio.Event()

    def vandal(_device: BLEDevice, data: AdvertisementData) -> None:
        got.append(
            (dict(data.manufacturer_data), list(data.service_uuids), dict(data.service_data))
        )
        if len(got) > ROUNDS:
            enough.set()
        data.manufacturer_data.clear()
        data.manufacturer_data[0xFFFF] = b"junk"
        data.service_uuids.append("0000ffff-0000-1000-8000-00805f9b34fb")
        data.service_data["0000ffff-0000-1000-8000-00805f9b34fb"] = b"junk"

    async with (
        asyncio.timeout(DEADLINE),
        BleakScanner(vandal, backend=VirtualScannerBackend, air=air, interval=0.005),  # type: ignore[arg-type]
    ):
        await enough.wait()
    expected = lock.advertisement()
    for manufacturer_data, service_uuids, service_data in got:
        assert manufacturer_data == expected.manufacturer_data
        assert service_uuids == [LOCK_GATT.service]
        assert service_data == {}


class InPlace(EchoDevice):
    """A device that keeps one Advertisement and changes its dict and list in place."""

    def __init__(self) -> None:
        super().__init__(address="AA:BB:CC:DD:EE:F0")
        self.advert = Advertisement("inplace", {0x0305: b"\x02\x00\x50"}, [LOCK_GATT.service])

    def advertisement(self) -> Advertisement:
        return self.advert


async def test_a_device_changing_its_advert_in_place_is_seen_changed() -> None:
    device = InPlace()
    air = Air([device])
    heard = Heard()
    async with asyncio.timeout(DEADLINE), scanner(air, heard):
        (before,) = await heard.adverts(device.address, 0, count=1)
        assert before.manufacturer_data == {0x0305: b"\x02\x00\x50"}
        since = heard.mark()
        device.advert.manufacturer_data[0x0305] = b"\x02\x01\x21"
        device.advert.service_uuids.append("1911")
        adverts = await heard.adverts(device.address, since)
    for data in adverts:
        assert data.manufacturer_data == {0x0305: b"\x02\x01\x21"}
        assert data.service_uuids == [LOCK_GATT.service, "00001911-0000-1000-8000-00805f9b34fb"]


async def test_a_service_filter_still_applies_to_every_round() -> None:
    lock = paired_lock()
    other = InPlace()
    other.advert.service_uuids[:] = ["1911"]
    air = Air([lock, other])
    heard = Heard()
    async with asyncio.timeout(DEADLINE), scanner(air, heard, service_uuids=[LOCK_GATT.service]):
        await heard.adverts(lock.address, 0)
        assert {address for address, _ in heard.seen} == {lock.address}
        since = heard.mark()
        other.advert.service_uuids.append(LOCK_GATT.service)  # now it matches the filter
        await heard.adverts(other.address, since)
        since = heard.mark()
        other.advert.service_uuids.remove(LOCK_GATT.service)  # and now it does not
        await heard.adverts(lock.address, since, count=ROUNDS + 1)
        assert other.address not in {address for address, _ in heard.seen[since:]}


async def test_a_device_replaced_at_the_same_address_is_reported_as_itself() -> None:
    old = SameAdvert(address="AA:BB:CC:DD:EE:0A")
    new = SameAdvert(address="AA:BB:CC:DD:EE:0A")
    air = Air([old])
    heard = Heard()
    async with asyncio.timeout(DEADLINE), scanner(air, heard):
        (before,) = await heard.adverts(old.address, 0, count=1)
        assert before.platform_data[0] is old
        air.remove(old)
        air.add(new)  # the same address and an equal advert
        since = heard.mark()
        adverts = await heard.adverts(new.address, since)
    assert all(data.platform_data[0] is new for data in adverts)
