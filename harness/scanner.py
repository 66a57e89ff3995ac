"""One scanner per adapter per process, its adverts fanned out to every waiter.

bluetoothd allows one discovery session per D-Bus client and adapter, and bleak's
BlueZ manager is one client per event loop: two ``BleakScanner``\\ s started at once on
one adapter collide with ``org.bluez.Error.InProgress`` (docs/tiers.md §3.3). A lab
connects to several devices at once (``gather(lock.connect(), gateway.connect())``),
and each connect scans first. So every scan in this process goes through
:func:`watching`: the first watcher of an adapter starts its scanner, later ones
share it, and the scanner stops when the last one leaves.

Watchers are grouped by event loop, scanner backend (the virtual tier's air, or
bleak's OS backend) and adapter; an omitted adapter is resolved to the one bleak
would choose (on Linux, BlueZ's default adapter) before grouping, so ``adapter: hci0``
and no ``adapter:`` share one scanner when hci0 is the default.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any, Final
from weakref import WeakKeyDictionary

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

__all__ = ["Sighting", "adapter_by_mac", "default_adapter", "watching"]

logger = logging.getLogger(__name__)

Sighting = tuple[BLEDevice, AdvertisementData]
_QUEUE_LIMIT: Final = 1024


async def default_adapter() -> str | None:
    """The adapter bleak's BlueZ backend uses when none is named (``None`` off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from bleak.backends.bluezdbus.manager import get_global_bluez_manager

        manager = await get_global_bluez_manager()
        return manager.get_default_adapter().rsplit("/", 1)[-1]
    except Exception as exc:  # noqa: BLE001 - no BlueZ: the scan itself will say so
        logger.debug("no default BlueZ adapter: %s", exc)
        return None


async def adapter_by_mac(mac: str) -> tuple[str | None, dict[str, str]]:
    """The adapter (``hciN``) whose address is ``mac``, and every adapter seen (name → MAC).

    ``hciN`` numbers follow the order the kernel found the adapters in and change across
    reboots and replugs; a MAC does not. Linux only (``None`` elsewhere): the
    ``bluetooth-adapters`` package lists BlueZ's adapters.
    """
    if not sys.platform.startswith("linux"):
        return None, {}
    from bluetooth_adapters import get_adapters

    adapters = get_adapters()
    await adapters.refresh()
    seen = {name: str(details["address"]).upper() for name, details in adapters.adapters.items()}
    for name, address in seen.items():
        if address == mac.upper():
            return name, seen
    return None, seen


class _Shared:
    """One running scanner and the queues of those watching it."""

    def __init__(self, backend: type[BaseBleakScanner] | None, adapter: str | None) -> None:
        self.backend = backend
        self.adapter = adapter
        self.watchers: set[asyncio.Queue[Sighting]] = set()
        self.scanner: BleakScanner | None = None
        self.lock = asyncio.Lock()

    def _detected(self, device: BLEDevice, data: AdvertisementData) -> None:
        for queue in self.watchers:
            if queue.qsize() < _QUEUE_LIMIT:
                queue.put_nowait((device, data))

    async def join(self, queue: asyncio.Queue[Sighting]) -> None:
        async with self.lock:
            if self.scanner is None:
                kwargs: dict[str, Any] = {"detection_callback": self._detected}
                if self.adapter is not None and self.backend is None:
                    kwargs["bluez"] = {"adapter": self.adapter}
                if sys.platform == "darwin" and self.backend is None:
                    kwargs["cb"] = {"use_bdaddr": True}  # MACs, not CoreBluetooth UUIDs
                scanner = BleakScanner(backend=self.backend, **kwargs)
                await scanner.start()
                self.scanner = scanner
            self.watchers.add(queue)

    async def leave(self, queue: asyncio.Queue[Sighting]) -> None:
        async with self.lock:
            self.watchers.discard(queue)
            if not self.watchers and self.scanner is not None:
                scanner, self.scanner = self.scanner, None
                try:
                    await scanner.stop()
                except Exception as exc:  # noqa: BLE001 - stopping a dead scanner
                    logger.debug("stopping a scanner failed: %s", exc)


_HUBS: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Shared]] = WeakKeyDictionary()


@asynccontextmanager
async def watching(
    backend: type[BaseBleakScanner] | None, adapter: str | None
) -> AsyncIterator[asyncio.Queue[Sighting]]:
    """A queue of every advert the adapter's (shared) scanner reports while inside.

    Raises whatever starting the scanner raised (an adapter that cannot scan).
    """
    if adapter is None and backend is None:
        adapter = await default_adapter()
    loop = asyncio.get_running_loop()
    hub = _HUBS.setdefault(loop, {})
    shared = hub.get((backend, adapter))
    if shared is None:
        shared = hub[(backend, adapter)] = _Shared(backend, adapter)
    queue: asyncio.Queue[Sighting] = asyncio.Queue()
    await shared.join(queue)
    try:
        yield queue
    finally:
        await asyncio.shield(shared.leave(queue))
