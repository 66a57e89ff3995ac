"""SimController and SimLink: Bumble's virtual controller where it must behave like a real one.

Each correction is shown against Bumble's own controller first (the defect, reproduced),
then on ours. The hosts are plain Bumble devices; nothing of the simulator is involved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from bumble import core, hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from ttlock_hil.harness.sim.bumble import SimController, SimLink, host_on

CENTRAL = "F0:00:00:00:00:01"
DEVICE = "C1:23:45:67:89:AB"
ABSENT = "C2:00:00:00:00:02"
DEADLINE = 5.0
ADVERT = bytes(AdvertisingData([(AdvertisingData.FLAGS, b"\x06")]))
SCAN_RESPONSE = bytes(AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, b"S202F_ab8967")]))


@dataclass
class Pair:
    central: Device
    device: Device
    central_controller: Controller
    device_controller: Controller


def _address(text: str) -> hci.Address:
    return hci.Address(text, hci.Address.RANDOM_DEVICE_ADDRESS)


async def _pair(ours: bool) -> Pair:
    if ours:
        link: LocalLink = SimLink()
        central_controller: Controller = SimController("central", link=link)
        device_controller: Controller = SimController("device", link=link)
        central = host_on(central_controller, name="central", address=CENTRAL)  # type: ignore[arg-type]
        device = host_on(device_controller, name="device", address=DEVICE)  # type: ignore[arg-type]
    else:
        link = LocalLink()  # type: ignore[no-untyped-call]
        central_controller = Controller("central", link=link)
        device_controller = Controller("device", link=link)
        central = Device(
            name="central",
            address=_address(CENTRAL),
            host=Host(central_controller, AsyncPipeSink(central_controller)),
        )
        device = Device(
            name="device",
            address=_address(DEVICE),
            host=Host(device_controller, AsyncPipeSink(device_controller)),
        )
    await central.power_on()
    await device.power_on()
    return Pair(central, device, central_controller, device_controller)


async def _close(pair: Pair) -> None:
    for host in (pair.central, pair.device):
        async with asyncio.timeout(DEADLINE):
            if host.is_scanning:
                await host.stop_scanning()
            if host.is_advertising:
                await host.stop_advertising()
            for connection in list(host.connections.values()):
                await connection.disconnect()
            await host.power_off()


@pytest.fixture
async def ours() -> AsyncIterator[Pair]:
    pair = await _pair(ours=True)
    try:
        yield pair
    finally:
        await _close(pair)


@pytest.fixture
async def upstream() -> AsyncIterator[Pair]:
    pair = await _pair(ours=False)
    try:
        yield pair
    finally:
        await _close(pair)


async def _collect(host: Device, seconds: float) -> list[Advertisement]:
    heard: list[Advertisement] = []
    host.on(Device.EVENT_ADVERTISEMENT, heard.append)
    try:
        await asyncio.sleep(seconds)
    finally:
        host.remove_listener(Device.EVENT_ADVERTISEMENT, heard.append)
    return heard


# --- pitfall 1: a cancelled connect -----------------------------------------------------------


async def test_upstreams_controller_never_completes_a_cancelled_connect(upstream: Pair) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await upstream.central.connect(_address(ABSENT), timeout=0.1)
    assert upstream.central_controller.pending_le_connection is not None  # stuck for good
    with pytest.raises(hci.HCI_Error) as refused:
        async with asyncio.timeout(DEADLINE):
            await upstream.central.connect(_address(DEVICE), timeout=0.5)
    assert refused.value.error_code == hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR


async def test_a_cancelled_connect_completes_and_the_next_connect_works(ours: Pair) -> None:
    began = time.monotonic()
    with pytest.raises(core.TimeoutError):
        async with asyncio.timeout(DEADLINE):
            await ours.central.connect(_address(ABSENT), timeout=0.2)
    assert time.monotonic() - began < 1.0  # Bumble's own timeout, plus the cancel
    assert ours.central_controller.pending_le_connection is None
    await ours.device.start_advertising(advertising_interval_min=20, advertising_interval_max=20)
    async with asyncio.timeout(DEADLINE):
        connection = await ours.central.connect(_address(DEVICE), timeout=2.0)
    assert connection.peer_address == _address(DEVICE)


async def test_a_cancel_with_nothing_pending_is_command_disallowed(ours: Pair) -> None:
    with pytest.raises(hci.HCI_Error) as refused:
        async with asyncio.timeout(DEADLINE):
            await ours.central.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
    assert refused.value.error_code == hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR


# --- pitfall 8: legacy advertising data and scan responses -----------------------------------


async def test_upstream_accepts_advertising_data_a_real_controller_refuses(upstream: Pair) -> None:
    async with asyncio.timeout(DEADLINE):
        await upstream.device.start_advertising(advertising_data=bytes(32))
    assert upstream.device.is_advertising


async def test_advertising_data_over_31_bytes_is_refused(ours: Pair) -> None:
    with pytest.raises(hci.HCI_Error) as refused:
        async with asyncio.timeout(DEADLINE):
            await ours.device.start_advertising(advertising_data=bytes(32))
    assert refused.value.error_code == hci.HCI_ErrorCode.INVALID_COMMAND_PARAMETERS_ERROR
    async with asyncio.timeout(DEADLINE):
        await ours.device.start_advertising(advertising_data=bytes(31))  # 31 still fits
    assert ours.device.is_advertising


async def test_upstream_reports_the_advert_again_as_its_scan_response(upstream: Pair) -> None:
    async with asyncio.timeout(DEADLINE):
        await upstream.device.start_advertising(
            advertising_data=ADVERT, scan_response_data=SCAN_RESPONSE, advertising_interval_min=20
        )
        await upstream.central.start_scanning()
    heard = await _collect(upstream.central, 0.15)
    responses = [a for a in heard if a.is_scan_response]
    assert responses
    assert all(SCAN_RESPONSE not in a.data_bytes for a in responses)  # the name never arrives


async def test_an_active_scan_gets_the_real_scan_response_and_the_advertisers_rssi(
    ours: Pair,
) -> None:
    assert isinstance(ours.device_controller, SimController)
    ours.device_controller.advert_rssi = -71
    async with asyncio.timeout(DEADLINE):
        await ours.device.start_advertising(
            advertising_data=ADVERT, scan_response_data=SCAN_RESPONSE, advertising_interval_min=20
        )
        await ours.central.start_scanning(active=True)
    heard = await _collect(ours.central, 0.15)
    responses = [a for a in heard if a.is_scan_response]
    assert responses
    assert all(a.data_bytes.endswith(SCAN_RESPONSE) for a in responses)
    assert {a.rssi for a in heard} == {-71}


async def test_a_passive_scan_gets_no_scan_response(ours: Pair) -> None:
    async with asyncio.timeout(DEADLINE):
        await ours.device.start_advertising(
            advertising_data=ADVERT, scan_response_data=SCAN_RESPONSE, advertising_interval_min=20
        )
        await ours.central.start_scanning(active=False)
    heard = await _collect(ours.central, 0.15)
    assert heard
    assert not [a for a in heard if a.is_scan_response]
    assert all(a.data_bytes == ADVERT for a in heard)


# --- the link: who hears whom ------------------------------------------------------------------


async def test_an_advert_gate_decides_per_listening_session(ours: Pair) -> None:
    central, device = ours.central_controller, ours.device_controller
    assert isinstance(central, SimController)
    assert isinstance(device, SimController)
    asked: list[tuple[str, int]] = []

    def gate(listener: SimController) -> bool:
        asked.append((listener.name, listener.listen_session))
        return listener.listen_session != 1  # silent for the first scan only

    device.advert_gate = gate
    async with asyncio.timeout(DEADLINE):
        await ours.device.start_advertising(advertising_data=ADVERT, advertising_interval_min=20)
        await ours.central.start_scanning()
    first = await _collect(ours.central, 0.12)
    async with asyncio.timeout(DEADLINE):
        await ours.central.stop_scanning()
        await ours.central.start_scanning()
    second = await _collect(ours.central, 0.12)
    assert first == []
    assert second
    assert ("central", 1) in asked
    assert ("central", 2) in asked
