"""SimServer: a preset on a controller reached through a Bumble transport (``sim serve``).

No dongle here: a "real controller" is stood in for by a SimController on a link of this
test, offered over ``tcp-server:127.0.0.1:0`` exactly as a USB dongle is offered over
``usb:0`` — the served device's host only sees HCI on a transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from bumble import hci
from bumble.device import Advertisement, Device, Peer
from bumble.transport import open_transport
from bumble.transport.common import Transport

from ttlock_hil.harness.sim.bumble import SimController, SimLink, SimServer, host_on, served_address

DEADLINE = 5.0


@pytest.fixture
async def dongle() -> AsyncIterator[tuple[str, Device]]:
    """A controller offered on loopback TCP, and a central on the same air."""
    link = SimLink()
    transport: Transport = await open_transport("tcp-server:127.0.0.1:0")
    SimController("dongle", link=link, host_source=transport.source, host_sink=transport.sink)
    server = transport.server  # type: ignore[attr-defined]  # Bumble's TCP server transport
    port = server.sockets[0].getsockname()[1]
    central = host_on(SimController("phone", link=link), name="phone", address="F0:00:00:00:00:09")
    async with asyncio.timeout(DEADLINE):
        await central.power_on()
    try:
        yield f"tcp-client:127.0.0.1:{port}", central
    finally:
        async with asyncio.timeout(DEADLINE):
            for connection in list(central.connections.values()):
                await connection.disconnect()
            await central.power_off()
            await transport.close()
            client = getattr(transport.sink, "transport", None)
            if client is not None:
                client.close()
            server.close()
            await server.wait_closed()


def test_a_served_device_has_a_stable_static_random_address() -> None:
    address = served_address("v3-keypad")
    assert address == served_address("v3-keypad") != served_address("g2")
    assert int(address[:2], 16) >> 6 == 0b11


def test_the_controller_is_given_exactly_once() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SimServer("v3-keypad")
    with pytest.raises(ValueError, match="exactly one"):
        SimServer("v3-keypad", transport="usb:0", export="tcp-server:127.0.0.1:0")


async def test_a_device_served_on_a_controller_is_found_connected_and_read_by_a_central(
    dongle: tuple[str, Device], tmp_path: Path
) -> None:
    spec, central = dongle
    capture = tmp_path / "dongle.btsnoop"
    server = SimServer("g2", transport=spec, snoop=capture)
    async with asyncio.timeout(DEADLINE):
        await server.start()
    try:
        found = asyncio.get_running_loop().create_future()

        def heard(advert: Advertisement) -> None:
            if advert.address.to_string(False) == server.address and not found.done():
                found.set_result(advert.address)

        central.on(Device.EVENT_ADVERTISEMENT, heard)
        async with asyncio.timeout(DEADLINE):
            await central.start_scanning()
            address: hci.Address = await found
            await central.stop_scanning()
            connection = await central.connect(address, timeout=2.0)
            name = await Peer(connection).read_value(0x0003)  # GAP device name
            await connection.disconnect()
    finally:
        async with asyncio.timeout(DEADLINE):
            await server.stop()
    assert name == server.name.encode()
    assert server.kind == "gateway"
    assert capture.read_bytes()[:8] == b"btsnoop\0"
    assert capture.stat().st_size > 200


async def test_an_exported_link_says_how_another_host_reaches_it() -> None:
    server = SimServer("v3-keypad", export="tcp-server:127.0.0.1:0")
    async with asyncio.timeout(DEADLINE):
        await server.start()
    try:
        spec = server.client_spec
        assert spec is not None
        assert spec.startswith("tcp-client:127.0.0.1:")
        transport = await open_transport(spec)  # the port is open on loopback
        await transport.close()
    finally:
        async with asyncio.timeout(DEADLINE):
            await server.stop()
    assert server.peripheral is None
