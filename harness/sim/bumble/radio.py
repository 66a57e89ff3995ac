"""Tier 3 in one process: the devices of an air and the harness's central on one Bumble link.

:class:`BumbleRadio` is one such set-up: a :class:`~.controller.SimLink` with one
:class:`~.controller.SimController` per device of the air (each hosting a
:class:`~.peripheral.BumblePeripheral`) and one for the harness's
:class:`~.central.BumbleCentral`. Or, with
``central_hci``, only a central on a Bumble transport (``tcp-client:127.0.0.1:PORT`` from
``ttlock-hil sim serve --export``, ``usb:0``…) and no hosted devices.

Controllers, links and hosts capture the running loop (pitfall 7 of issue 19), so a radio
belongs to the loop it was started in. :class:`BumbleTier` is what a
:class:`~ttlock_hil.harness.lab.Lab` holds: it builds a radio in the running loop on first
use, builds a new one when it is used from another loop (pytest gives each test its own),
and is the ``source`` the bleak backends are bound to. Bumble's own tasks are unnamed; a
radio powers every device off when it stops so none is left behind.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from bleak.exc import BleakError
from bumble import hci
from bumble.core import BaseBumbleError
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from ..air import Air
from .backend import BumbleClientBackend, BumbleScannerBackend
from .central import DEFAULT_CENTRAL_MTU, BumbleCentral
from .controller import SimController, SimLink
from .peripheral import BumblePeripheral, PeripheralTiming

__all__ = [
    "CENTRAL_ADDRESS",
    "BumbleRadio",
    "BumbleTier",
    "QuietHost",
    "RadioError",
    "host_on",
    "peripheral_config",
]

logger = logging.getLogger(__name__)

CENTRAL_ADDRESS: Final = "F0:C1:A8:17:00:01"
"""The harness central's static random address (top two bits set)."""
START_TIMEOUT_S: Final = 10.0
"""Bound on opening a transport and powering the hosts on."""


class RadioError(BleakError):
    """The Bumble radio cannot start (a transport that does not open): says why.

    A bleak error, since the backends raise it where bleak's own would fail to reach the
    adapter: the harness reports it as an adapter that cannot scan (10030).
    """


def peripheral_config(name: str) -> DeviceConfiguration:
    """A host configured to serve a device's own GATT table (no Bumble GAP/GATT services)."""
    return DeviceConfiguration(name=name, gap_service_enabled=False, gatt_service_enabled=False)


_HOST_LOG: Final = logging.getLogger("bumble.host")


class QuietHost(Host):
    """Bumble's host, without formatting each HCI packet for a debug line that is not logged.

    Upstream's ``send_hci_packet`` and ``on_hci_packet`` build that f-string for every packet
    whatever the level (about a fifth of tier 3's CPU, docs/tiers.md §5). These dispatch as
    bumble 0.0.236 does, and leave the packet to upstream when ``bumble.host`` logs debug or a
    snooper records the traffic (tests/unit/sim/test_bumble_quiet.py pins upstream's source).
    """

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper or _HOST_LOG.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper or _HOST_LOG.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
            return
        match packet:
            case hci.HCI_Command():
                self.on_hci_command_packet(packet)
            case hci.HCI_Event():
                self.on_hci_event_packet(packet)
            case hci.HCI_AclDataPacket():
                self.on_hci_acl_data_packet(packet)
            case _:  # SCO, ISO, unknown: upstream's path, rare enough to pay for the text
                super().on_hci_packet(packet)


def host_on(
    controller: SimController,
    *,
    name: str,
    address: str,
    config: DeviceConfiguration | None = None,
) -> Device:
    """A Bumble host on an in-process controller, at the static random ``address``."""
    return Device(
        name=name,
        address=hci.Address(address, hci.Address.RANDOM_DEVICE_ADDRESS),
        config=config,
        host=QuietHost(controller, AsyncPipeSink(controller)),
    )


@dataclass(frozen=True, slots=True)
class _Parts:
    central: BumbleCentral
    link: SimLink | None
    peripherals: dict[str, BumblePeripheral]


class BumbleRadio:
    """One set-up of the module docstring, started and stopped in one loop."""

    def __init__(
        self,
        air: Air | None,
        *,
        central_hci: str | None = None,
        timing: PeripheralTiming | None = None,
        central_mtu: int = DEFAULT_CENTRAL_MTU,
    ) -> None:
        self.air = air
        self.central_hci = central_hci
        self.timing = timing if timing is not None else PeripheralTiming()
        self.central_mtu = central_mtu
        self.loop: asyncio.AbstractEventLoop | None = None
        self._parts: _Parts | None = None

    def __repr__(self) -> str:
        where = self.central_hci or "in-process link"
        devices = len(self._parts.peripherals) if self._parts is not None else 0
        return f"BumbleRadio({where}, {devices} devices, {'up' if self.running else 'down'})"

    @property
    def running(self) -> bool:
        return self._parts is not None

    @property
    def central(self) -> BumbleCentral:
        if self._parts is None:
            raise RadioError("the Bumble radio is not started")
        return self._parts.central

    @property
    def peripherals(self) -> dict[str, BumblePeripheral]:
        """The hosted devices by address."""
        return dict(self._parts.peripherals) if self._parts is not None else {}

    async def start(self) -> None:
        """Build and power everything in the running loop; :class:`RadioError` if it cannot."""
        if self._parts is not None:
            return
        self.loop = asyncio.get_running_loop()
        started: list[Any] = []
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                parts = await self._build(started)
        except BaseException as exc:
            for part in reversed(started):
                await part.stop()
            if isinstance(exc, TimeoutError | BaseBumbleError | OSError | ValueError):
                where = self.central_hci or "the in-process link"
                raise RadioError(
                    f"the Bumble radio did not start on {where}: {type(exc).__name__}: {exc}"
                ) from exc
            raise
        self._parts = parts

    async def _build(self, started: list[Any]) -> _Parts:
        if self.central_hci is not None:
            transport = await open_transport(self.central_hci)
            device = Device.with_hci(
                "ttlock-hil",
                hci.Address(CENTRAL_ADDRESS, hci.Address.RANDOM_DEVICE_ADDRESS),
                transport.source,
                transport.sink,
            )
            central = BumbleCentral(device, transport=transport, mtu=self.central_mtu)
            started.append(central)
            await central.start()
            return _Parts(central, None, {})
        link = SimLink()
        central_controller = SimController("ttlock-hil", link=link)
        central = BumbleCentral(
            host_on(central_controller, name="ttlock-hil", address=CENTRAL_ADDRESS),
            mtu=self.central_mtu,
        )
        started.append(central)
        await central.start()
        peripherals: dict[str, BumblePeripheral] = {}
        for entry in self.air if self.air is not None else ():
            controller = SimController(entry.name, link=link)
            peripheral = BumblePeripheral(
                entry,
                host_on(
                    controller,
                    name=entry.name,
                    address=entry.address,
                    config=peripheral_config(entry.name),
                ),
                controller=controller,
                timing=self.timing,
            )
            started.append(peripheral)
            await peripheral.start()
            peripherals[entry.address] = peripheral
        return _Parts(central, link, peripherals)

    async def stop(self) -> None:
        """Hang up, stop advertising and scanning, power everything off."""
        parts, self._parts = self._parts, None
        if parts is None:
            return
        await parts.central.stop()
        for peripheral in parts.peripherals.values():
            await peripheral.stop()

    def abandon(self) -> None:
        """Forget a radio whose loop has ended (nothing of it can run any more)."""
        parts, self._parts = self._parts, None
        if parts is not None:
            for peripheral in parts.peripherals.values():
                peripheral.abandon()


class BumbleTier:
    """Tier 3 for one lab: the radio of the running loop, and the bleak backends bound to it.

    ``air``: the lab's simulated devices (``None`` or empty: only the central). With
    ``central_hci`` the central runs on that Bumble transport and nothing is hosted here.
    """

    def __init__(
        self,
        air: Air | None,
        *,
        central_hci: str | None = None,
        timing: PeripheralTiming | None = None,
    ) -> None:
        self.air = air
        self.central_hci = central_hci
        self.timing = timing
        self._radio: BumbleRadio | None = None
        self._ready: asyncio.Future[BumbleRadio] | None = None
        self._backends: tuple[type[BumbleScannerBackend], type[BumbleClientBackend]] | None = None

    def __repr__(self) -> str:
        return f"BumbleTier({self._radio!r})"

    @property
    def backends(self) -> tuple[type[BumbleScannerBackend], type[BumbleClientBackend]]:
        """The scanner and client backend classes bound to this tier."""
        if self._backends is None:
            self._backends = (BumbleScannerBackend.bind(self), BumbleClientBackend.bind(self))
        return self._backends

    async def radio(self) -> BumbleRadio:
        """The radio of the running loop, started on first use."""
        loop = asyncio.get_running_loop()
        ready = self._ready
        if ready is not None and ready.get_loop() is loop:
            async with asyncio.timeout(START_TIMEOUT_S):  # the builder's own bound, plus ours
                return await asyncio.shield(ready)
        if self._radio is not None:
            # Built in a loop that has ended (pytest: one loop per test): start afresh.
            logger.debug("Bumble radio of an ended loop abandoned")
            self._radio.abandon()
            self._radio = None
        ready = self._ready = loop.create_future()
        radio = BumbleRadio(self.air, central_hci=self.central_hci, timing=self.timing)
        try:
            await radio.start()
        except BaseException as exc:
            self._ready = None
            ready.set_exception(exc)
            ready.exception()  # retrieved here: later callers start a new attempt
            raise
        self._radio = radio
        ready.set_result(radio)
        return radio

    async def central(self) -> BumbleCentral:
        """The running loop's central (the bleak backends' ``source``)."""
        return (await self.radio()).central

    async def aclose(self) -> None:
        """Stop the radio of the running loop (abandon one of an ended loop)."""
        radio, self._radio = self._radio, None
        ready, self._ready = self._ready, None
        if radio is None:
            if ready is not None and not ready.done():
                ready.cancel()
            return
        if radio.loop is asyncio.get_running_loop():
            await radio.stop()
        else:
            radio.abandon()

    def peripheral(self, address: str) -> BumblePeripheral | None:
        """The hosted device at ``address`` in the current radio, if any."""
        radio = self._radio
        return radio.peripherals.get(address.upper()) if radio is not None else None
