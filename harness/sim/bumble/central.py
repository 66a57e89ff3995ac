"""The harness's side of tier 3: one Bumble host in the central role, shared by bleak's clients.

A :class:`BumbleCentral` owns a Bumble ``Device`` (a host stack) on some controller —
Bumble's virtual one on the lab's :class:`~ttlock_hil.harness.sim.bumble.controller.SimLink`,
or any Bumble transport (``tcp-client:127.0.0.1:PORT`` to ``ttlock-hil sim serve --export``,
``usb:0``…). The bleak backends of :mod:`ttlock_hil.harness.sim.bumble.backend` go
through it, as bleak's BlueZ backend goes through one ``bluetoothd``:

* **Scanning is shared.** The controller scans once, however many bleak scanners are
  started; each advert and scan response is merged per address (as bluetoothd merges
  them into one device) and handed to every scanner.
* **One connection attempt at a time** (a controller has one initiator): attempts queue.
* **A failed attempt leaves nothing behind** (pitfall 1 of issue 19): a pending
  ``LE Create Connection`` is cancelled, and a link that completed while the attempt was
  being abandoned is hung up, so the next attempt is not refused with Command
  Disallowed (0x0C).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bumble import hci
from bumble.core import AdvertisingData, BaseBumbleError
from bumble.device import Advertisement as BumbleAdvertisement
from bumble.device import Connection, Device
from bumble.transport.common import Transport as BumbleTransport

__all__ = ["DEFAULT_CENTRAL_MTU", "BumbleCentral", "Sighting", "is_up"]

logger = logging.getLogger(__name__)

DEFAULT_CENTRAL_MTU: Final = 517
"""The ATT MTU the central asks for, as bluetoothd does; the device answers with its own."""
_CLEANUP_S: Final = 2.0
"""Bound on undoing a failed attempt or stopping (a few HCI commands)."""


def is_up(connection: Connection) -> bool:
    """Whether the host still holds ``connection`` (Bumble's ``disconnect()`` of a link
    that is already gone waits for an event that never comes)."""
    return connection.device.connections.get(connection.handle) is connection


@dataclass(slots=True)
class Sighting:
    """What the central knows of one advertiser: its last advert and last scan response."""

    address: hci.Address
    rssi: int
    advert: bytes = b""
    scan_response: bytes = b""
    structures: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The address as bleak reports it on Linux: upper case, no type."""
        return self.address.to_string(False)

    def merge(self, report: BumbleAdvertisement) -> None:
        if report.is_scan_response:
            self.scan_response = bytes(report.data_bytes)
        else:
            self.advert = bytes(report.data_bytes)
        if report.rssi != BumbleAdvertisement.RSSI_NOT_AVAILABLE:
            self.rssi = report.rssi
        self.structures = [
            (int(ad_type), bytes(data))
            for payload in (self.advert, self.scan_response)
            for ad_type, data in AdvertisingData.from_bytes(payload).ad_structures
        ]


class BumbleCentral:
    """The Bumble host the bleak backends share (see the module docstring).

    ``transport``: the Bumble transport ``device`` talks through, closed by :meth:`stop`
    (``None`` for an in-process controller). ``mtu``: what the central asks for.
    """

    def __init__(
        self,
        device: Device,
        *,
        transport: BumbleTransport | None = None,
        mtu: int = DEFAULT_CENTRAL_MTU,
    ) -> None:
        self.device = device
        self.mtu = mtu
        self._transport = transport
        self._watchers: dict[object, Callable[[Sighting], None]] = {}
        self._sightings: dict[str, Sighting] = {}
        self._scan_lock: asyncio.Lock | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._owned: set[Connection] = set()

    def __repr__(self) -> str:
        return f"BumbleCentral({self.device.random_address.to_string(False)})"

    @property
    def address(self) -> str:
        return self.device.random_address.to_string(False)

    async def start(self) -> None:
        """Power the host on (in the loop that will use it)."""
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self.device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self.device.power_on()

    async def stop(self) -> None:
        """Stop scanning, hang up every link, power off, close the transport."""
        self._watchers.clear()
        with contextlib.suppress(BaseBumbleError, TimeoutError):
            async with asyncio.timeout(_CLEANUP_S):
                if self.device.is_scanning:
                    await self.device.stop_scanning()
                for connection in list(self.device.connections.values()):
                    if is_up(connection):
                        await connection.disconnect()
                await self.device.power_off()
        transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(OSError, BaseBumbleError, TimeoutError):
                async with asyncio.timeout(_CLEANUP_S):
                    await transport.close()

    # --- scanning ----------------------------------------------------------------------

    async def watch(
        self, key: object, listener: Callable[[Sighting], None], *, active: bool
    ) -> None:
        """Hand every sighting to ``listener`` until :meth:`unwatch`; the first starts the scan."""
        assert self._scan_lock is not None, "start() the central first"
        async with self._scan_lock:
            first = not self._watchers
            self._watchers[key] = listener
            if first:
                self._sightings.clear()
                try:
                    await self.device.start_scanning(active=active, filter_duplicates=False)
                except BaseException:
                    self._watchers.pop(key, None)
                    raise

    async def unwatch(self, key: object) -> None:
        """Stop handing sightings to ``key``'s listener; the last one stops the scan."""
        assert self._scan_lock is not None
        async with self._scan_lock:
            if self._watchers.pop(key, None) is not None and not self._watchers:
                await self.device.stop_scanning()

    def _on_advertisement(self, report: BumbleAdvertisement) -> None:
        key = report.address.to_string(False)
        sighting = self._sightings.get(key)
        if sighting is None:
            sighting = self._sightings[key] = Sighting(report.address, report.rssi)
        sighting.merge(report)
        for listener in list(self._watchers.values()):
            try:
                listener(sighting)
            except Exception:  # one scanner's callback must not stop the others
                logger.exception("a scanner's detection callback failed")

    def sighting(self, address: str) -> Sighting | None:
        """The last sighting of ``address`` in this scan, if any."""
        return self._sightings.get(address.upper())

    # --- connecting --------------------------------------------------------------------

    async def connect(self, address: hci.Address, *, within: float) -> Connection:
        """A link to ``address`` within ``within`` seconds; raises Bumble's errors.

        Waits for earlier attempts first (the caller's own deadline bounds the wait).
        """
        assert self._connect_lock is not None, "start() the central first"
        async with self._connect_lock:
            try:
                connection = await self.device.connect(address, timeout=within)
            except BaseException:
                await self._undo(address)
                raise
            self._owned.add(connection)
            connection.once(
                Connection.EVENT_DISCONNECTION, lambda _reason: self._owned.discard(connection)
            )
            return connection

    def release(self, connection: Connection) -> None:
        """``connection`` has no client any more (it is being hung up)."""
        self._owned.discard(connection)

    async def _undo(self, address: hci.Address) -> None:
        """After a failed attempt: no pending initiation, no link nobody owns."""
        cancel = hci.HCI_LE_Create_Connection_Cancel_Command()
        try:
            async with asyncio.timeout(_CLEANUP_S):
                await self.device.send_sync_command(cancel)
        except (BaseBumbleError, TimeoutError) as exc:
            logger.debug("cancel after a failed connect: %s", exc)  # 0x0C: nothing pending
        for connection in list(self.device.connections.values()):
            if (
                connection.peer_address == address
                and connection not in self._owned
                and is_up(connection)
            ):
                logger.debug("hanging up a link to %s nobody owns", address)
                with contextlib.suppress(BaseBumbleError, TimeoutError):
                    async with asyncio.timeout(_CLEANUP_S):
                        await connection.disconnect()
