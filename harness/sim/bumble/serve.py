"""One virtual device on a Bluetooth controller: ``ttlock-hil sim serve`` (docs/sim-serve.md).

:class:`SimServer` builds a preset of the simulator and serves it as a
:class:`~ttlock_hil.harness.sim.bumble.peripheral.BumblePeripheral` on either

* a **real controller**, named by a Bumble transport (``usb:0``,
  ``serial:/dev/ttyACM0,1000000``, ``hci-socket:0``): phones, the official app or any
  client see a TTLock lock or gateway on the air; or
* an **embedded link** whose second controller is **exported** over a Bumble server
  transport (``tcp-server:127.0.0.1:0``): another process runs a Bumble host on
  ``tcp-client:127.0.0.1:PORT`` — the harness with ``TTLOCK_HIL_BUMBLE_HCI`` set, or
  ``python -m bumble.apps.scan`` — and reaches the device over that link. A ``tcp-server``
  transport with port 0 gets a free port; :attr:`SimServer.client_spec` says which.

``snoop`` writes a btsnoop capture of the device's HCI traffic (Wireshark opens it).
The device lives in real time (a wall clock) and starts factory-fresh (a lock in setting
mode), like a lock out of its box.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from bumble import hci
from bumble.device import Device
from bumble.host import Host
from bumble.snoop import BtSnooper
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, SnoopingTransport
from bumble.transport.common import Transport as BumbleTransport

from ..air import Air, OnAir
from ..presets import create_device
from .controller import SimController, SimLink
from .peripheral import BumblePeripheral, PeripheralTiming
from .radio import peripheral_config

__all__ = ["SERVE_TIMING", "SimServer", "served_address"]

logger = logging.getLogger(__name__)

_CLOSE_S = 2.0
"""Bound on closing a transport."""

SERVE_TIMING = PeripheralTiming(advert_interval=0.1)
"""A real lock advertises about every 100 ms or slower; phones need no faster."""


def served_address(preset: str) -> str:
    """A stable static random MAC for ``preset`` (the same every run, top two bits set)."""
    digest = bytearray(hashlib.sha256(f"ttlock-hil sim serve/{preset}".encode()).digest()[:6])
    digest[0] |= 0xC0
    return ":".join(f"{b:02X}" for b in digest)


class _WallClock:
    """Local time to the second: a served device lives in real time, like a real one."""

    def now(self) -> datetime:
        return datetime.now().replace(microsecond=0)


class SimServer:
    """A preset served on a controller (see the module docstring); exactly one of
    ``transport`` and ``export`` names where."""

    def __init__(
        self,
        preset: str,
        *,
        transport: str | None = None,
        export: str | None = None,
        snoop: Path | None = None,
        address: str | None = None,
        name: str | None = None,
        timing: PeripheralTiming | None = None,
    ) -> None:
        if (transport is None) == (export is None):
            raise ValueError("give exactly one of transport= (a real controller) and export=")
        self.preset = preset
        self.transport = transport
        self.export = export
        self.snoop = snoop
        self.timing = timing if timing is not None else SERVE_TIMING
        device = create_device(
            preset, name=name, address=address or served_address(preset), clock=_WallClock()
        )
        self.entry: OnAir = Air([device]).get(device.address)
        self.client_spec: str | None = None
        """For ``export``: the transport another process's host opens to reach the device."""
        self._peripheral: BumblePeripheral | None = None
        self._transports: list[BumbleTransport] = []
        self._snoop_file: BinaryIO | None = None

    def __repr__(self) -> str:
        where = self.transport or self.client_spec or self.export
        return f"SimServer({self.preset!r} at {self.address} on {where})"

    @property
    def address(self) -> str:
        return self.entry.address

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def kind(self) -> str:
        return self.entry.device.kind.value

    @property
    def peripheral(self) -> BumblePeripheral | None:
        return self._peripheral

    async def start(self) -> None:
        """Open the transport(s) and start advertising (in the loop that will serve)."""
        try:
            if self.snoop is not None:
                self._snoop_file = self.snoop.open("wb")
            if self.transport is not None:
                peripheral = await self._on_controller(self.transport)
            else:
                assert self.export is not None
                peripheral = await self._on_exported_link(self.export)
            await peripheral.start()
        except BaseException:
            await self.stop()
            raise
        self._peripheral = peripheral
        logger.info("%s: serving %s", self.address, self)

    def _snooper(self) -> BtSnooper | None:
        return BtSnooper(self._snoop_file) if self._snoop_file is not None else None

    async def _on_controller(self, spec: str) -> BumblePeripheral:
        transport = await open_transport(spec)
        self._transports.append(transport)
        snooper = self._snooper()
        if snooper is not None:
            transport = SnoopingTransport.create_with(transport, contextlib.nullcontext(snooper))
        config = peripheral_config(self.name)
        config.address = hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        device = Device.from_config_with_hci(config, transport.source, transport.sink)
        return BumblePeripheral(self.entry, device, timing=self.timing)

    async def _on_exported_link(self, spec: str) -> BumblePeripheral:
        link = SimLink()
        controller = SimController(self.name, link=link)
        exported = await open_transport(spec)
        self._transports.append(exported)
        SimController("exported", link=link, host_source=exported.source, host_sink=exported.sink)
        self.client_spec = _client_spec(spec, exported)
        source: Any = controller
        sink: Any = AsyncPipeSink(controller)
        snooper = self._snooper()
        if snooper is not None:
            source = SnoopingTransport.Source(source, snooper)
            sink = SnoopingTransport.Sink(sink, snooper)
        device = Device(
            name=self.name,
            address=hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS),
            config=peripheral_config(self.name),
            host=Host(source, sink),
        )
        return BumblePeripheral(self.entry, device, controller=controller, timing=self.timing)

    async def stop(self) -> None:
        """Hang up, stop advertising, close the transports and the capture."""
        peripheral, self._peripheral = self._peripheral, None
        if peripheral is not None:
            await peripheral.stop()
        transports, self._transports = self._transports, []
        for transport in reversed(transports):
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                async with asyncio.timeout(_CLOSE_S):
                    await transport.close()
                    await _close_server(transport)
        snoop_file, self._snoop_file = self._snoop_file, None
        if snoop_file is not None:
            snoop_file.close()


async def _close_server(transport: BumbleTransport) -> None:
    """Bumble's TCP server transport leaves its listening socket and client open on close."""
    server = getattr(transport, "server", None)
    if server is None:
        return
    client = getattr(transport.sink, "transport", None)
    if client is not None:
        client.close()
    server.close()
    await server.wait_closed()


def _client_spec(spec: str, transport: BumbleTransport) -> str:
    """What a host in another process opens to reach an exported controller."""
    scheme, _, rest = spec.partition(":")
    server = getattr(transport, "server", None)
    if scheme != "tcp-server" or server is None or not server.sockets:
        return spec
    host = rest.rsplit(":", 1)[0]
    port = server.sockets[0].getsockname()[1]
    if host in ("_", "", "0.0.0.0"):
        host = "127.0.0.1"
    return f"tcp-client:{host}:{port}"
