"""The BLE link to one TTLock device: scan, connect, notify, chunked writes, drops.

Everything goes through bleak's public API (``BleakScanner`` / ``BleakClient``)
with the backend a :class:`Transport` names: the virtual backends bound to an
:class:`~ttlock_hil.harness.sim.air.Air` for ``sim:`` devices, bleak's OS backend
(``backend=None``) for a real radio. :mod:`ttlock_hil.harness.lab` builds the transport
from the device's address moniker; nothing here knows which one it got.

What a :class:`Link` guarantees (docs/protocol.md §1, docs/architecture.md §11.6–§11.7):

* **Find first.** :meth:`Link.connect` scans for the device (by address, with
  the ``timeouts.scan`` deadline) and keeps its parsed advertisement
  (:func:`ttlock_hil.protocol.advert.parse_bleak`: setting mode, battery, MAC): the session
  needs the setting-mode bit to pick the key. Not seen → :class:`DeviceNotFound`;
  an adapter that cannot scan at all → a :class:`TTLockError` with code 10030.
* **Connect with a deadline** (``timeouts.connect``) → :class:`ConnectTimeout`.
  The GATT table must hold the TTLock service (→ :class:`ServiceMissing`) and
  its write/notify characteristics (→ :class:`CharacteristicMissing`).
* **Notifications before the first write.** ``start_notify`` is part of
  connecting (→ :class:`NotifyFailed`); :meth:`Link.send` refuses to write on a
  link that is not fully up.
* **Retry only transient errors**, with the backoff of the lab's
  :class:`~ttlock_hil.harness.config.RetryPolicy` (``retry.retry_on``, ``retry.backoff``).
  Timeouts and "not found" are never retried: a slow device must show up as
  slow (bleak-retry-connector's rule). Only *connecting* is retried; a command
  never is (it may have run).
* **Chunked writes**: the frame (lock frames + ``0D 0A``, §1.1) is written in
  ``max_write_without_response_size`` (MTU-3, 20 by default) chunks with
  write-without-response → :class:`WriteFailed` / :class:`Disconnected`.
* **Length-driven reassembly** of notifications (:mod:`ttlock_hil.protocol.reassembly`);
  each complete frame goes to ``on_frame``.
* **Drops surface at once**: bleak's ``disconnected_callback`` calls
  ``on_lost`` in the same loop turn, so the
  session can fail the waiting command instead of letting it time out.

Every error carries the TTLock code of the configured plugin version
(:func:`ttlock_hil.harness.errors.link_error`), the device name and the trace path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_str
from bleak_retry_connector import clear_cache, get_device

from ttlock_hil.protocol.advert import Advert, AdvertError, AdvertKind, parse_bleak
from ttlock_hil.protocol.codes import Code, VersionLike, lookup
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import LinkCondition
from ttlock_hil.protocol.frame import LOCK_TRAILER
from ttlock_hil.protocol.gatt import GATEWAY_GATT, LOCK_GATT, GattProfile
from ttlock_hil.protocol.reassembly import FrameReassembler

from .config import RetryPolicy, Timeouts
from .errors import CharacteristicMissing, ServiceMissing, TTLockError, link_error
from .scanner import adapter_by_mac, watching
from .trace import FrameTrace

__all__ = [
    "TTLOCK_SERVICES",
    "Link",
    "SeenDevice",
    "Transport",
    "find_device",
    "scan",
]

logger = logging.getLogger(__name__)

TTLOCK_SERVICES: Final = frozenset({LOCK_GATT.service, GATEWAY_GATT.service})
"""Service UUIDs the vendor scan filters on: locks 0x1910, gateways 0x1911 (§1.1)."""

DEFAULT_CHUNK: Final = 20
"""Write size of the vendor app and open clients: MTU 23 − 3 (docs/protocol.md §1.1)."""

SCANNER_GRACE: Final = 5.0
"""Seconds a scanner may take to start and stop on top of the scan itself: the outer
deadline that keeps a stuck adapter from hanging a scan."""

_LINK_ERRORS: Final = (BleakError, OSError, EOFError)
"""What a bleak call raises when the link or the OS stack fails (BlueZ raises EOFError
when D-Bus goes away). Anything else is a bug and propagates."""


@dataclass(frozen=True, slots=True)
class Transport:
    """How bleak reaches one device: backend classes and their extra arguments.

    ``scanner_backend`` / ``client_backend`` are handed to ``BleakScanner`` /
    ``BleakClient`` as ``backend=``; ``None`` means bleak's OS backend (the
    radio tier). ``adapter`` names the BlueZ adapter (``hci0``) when the bench
    chose one.
    ``moniker`` is what the lab config said (``sim:v3-keypad`` or an address);
    ``address`` is the BLE address to look for. Build transports with
    :meth:`ttlock_hil.harness.lab.Lab.transport`.
    """

    moniker: str
    address: str
    scanner_backend: type[BaseBleakScanner] | None = None
    client_backend: type[BaseBleakClient] | None = None
    adapter: str | None = None
    adapter_mac: str | None = None
    """The adapter's MAC from the lab config: it picks the adapter when ``hciN`` moved."""
    chunk: int = DEFAULT_CHUNK
    """Bytes per write: 20 like the vendor app and every open client (docs/protocol.md §1.1),
    whatever MTU the link negotiated; a device may be configured to take more."""

    @property
    def os_backend(self) -> bool:
        """bleak's own backend for this OS (BlueZ on Linux): the radio path."""
        return self.client_backend is None

    def scanner(self) -> BleakScanner:
        """A scanner on this transport (not started)."""
        if self.adapter is not None:
            return BleakScanner(backend=self.scanner_backend, bluez={"adapter": self.adapter})
        return BleakScanner(backend=self.scanner_backend)

    def client(
        self,
        device: BLEDevice,
        *,
        disconnected_callback: Callable[[BleakClient], None],
        timeout: float,
    ) -> BleakClient:
        """A client for ``device`` (not connected)."""
        if self.adapter is not None:
            return BleakClient(
                device,
                disconnected_callback,
                timeout=timeout,
                backend=self.client_backend,
                bluez={"adapter": self.adapter},
            )
        return BleakClient(
            device, disconnected_callback, timeout=timeout, backend=self.client_backend
        )


@dataclass(frozen=True, slots=True)
class SeenDevice:
    """One device a scan saw, with its TTLock advertisement parsed (§6).

    ``advert`` is ``None`` when no manufacturer data parses as a TTLock advert.
    ``ble_device`` is what ``BleakClient`` connects to.
    """

    address: str
    name: str | None
    rssi: int | None
    advert: Advert | None
    service_uuids: tuple[str, ...] = ()
    ble_device: BLEDevice | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_bleak(cls, device: BLEDevice, data: AdvertisementData) -> SeenDevice:
        """Parse what bleak reported (the first manufacturer entry that is a TTLock advert)."""
        advert: Advert | None = None
        for company_id, payload in data.manufacturer_data.items():
            try:
                parsed = parse_bleak(company_id, bytes(payload))
            except AdvertError:
                continue
            if advert is None or (
                advert.lock_type is None and advert.gateway_type is None and _known(parsed)
            ):
                advert = parsed
        uuids = tuple(normalize_uuid_str(u) for u in data.service_uuids)
        return cls(
            address=device.address.upper(),
            name=data.local_name or device.name,
            rssi=data.rssi,
            advert=advert,
            service_uuids=uuids,
            ble_device=device,
        )

    @property
    def is_ttlock(self) -> bool:
        """Whether this looks like a TTLock lock or gateway.

        The vendor filters on the 0x1910/0x1911 service (§1.1), but some locks do
        not advertise it (§9 item 8); a TTLock header with a known lock or
        gateway type is accepted too.
        """
        if TTLOCK_SERVICES.intersection(self.service_uuids):
            return True
        return self.advert is not None and _known(self.advert)

    @property
    def setting_mode(self) -> bool | None:
        """The advert's setting-mode bit (``None``: gateways, or locks without flags)."""
        return self.advert.setting_mode if self.advert is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the advert as :meth:`ttlock_hil.protocol.advert.Advert.to_dict`)."""
        return {
            "address": self.address,
            "name": self.name,
            "rssi": self.rssi,
            "service_uuids": list(self.service_uuids),
            "advert": self.advert.to_dict() if self.advert is not None else None,
        }


def _known(advert: Advert) -> bool:
    if advert.kind is AdvertKind.GATEWAY:
        return True
    return advert.kind is AdvertKind.LOCK and advert.lock_type is not None


_STACK_GONE: Final = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Disconnected",
    }
)


def _stack_gone(exc: BaseException) -> bool:
    """bluetoothd (or the D-Bus to it) went away: every link it held is gone too.

    bleak does not watch the daemon's name: its ``is_connected`` stays true and calls
    fail with these D-Bus errors (docs/tiers.md §3.3).
    """
    if isinstance(exc, EOFError | BrokenPipeError | ConnectionResetError):
        return True
    return isinstance(exc, BleakDBusError) and exc.dbus_error in _STACK_GONE


def _addresses_of(seen: SeenDevice) -> set[str]:
    """The addresses a sighting answers to: bleak's (a CoreBluetooth UUID on macOS) and
    the MAC the TTLock advert carries (docs/protocol.md §6), so a MAC-addressed bench
    config finds its lock on every OS."""
    found = {seen.address.upper()}
    if seen.advert is not None and seen.advert.mac:
        found.add(seen.advert.mac.upper())
    return found


def _matches(
    seen: SeenDevice, address: str | None, name: str | None, setting_mode: bool | None
) -> bool:
    if address is not None and address.upper() not in _addresses_of(seen):
        return False
    if name is not None and seen.name != name:
        return False
    return setting_mode is None or seen.setting_mode is setting_mode


async def find_device(
    transport: Transport,
    *,
    within: float,
    address: str | None = None,
    name: str | None = None,
    setting_mode: bool | None = None,
) -> SeenDevice | None:
    """Scan until a device matches every criterion given, or ``within`` seconds pass.

    Returns on the first match (a scan does not run to its end,
    docs/architecture.md §12.7); ``None`` when nothing matched in time.
    ``setting_mode=True`` finds a lock waiting to be initialised.
    """
    async with asyncio.timeout(within + SCANNER_GRACE):
        async with watching(transport.scanner_backend, transport.adapter) as adverts:
            try:
                async with asyncio.timeout(within):
                    while True:
                        device, data = await adverts.get()
                        seen = SeenDevice.from_bleak(device, data)
                        if _matches(seen, address, name, setting_mode):
                            return seen
            except TimeoutError:
                return None


async def scan(
    transport: Transport,
    *,
    duration: float,
    until: Callable[[Mapping[str, SeenDevice]], bool] | None = None,
    ttlock_only: bool = True,
) -> list[SeenDevice]:
    """Every device seen within ``duration`` seconds (TTLock ones only by default).

    ``until`` is asked after each advertisement with what was seen so far (by
    address) and may end the scan early (e.g. once every configured device was
    seen). Later adverts of a device replace earlier ones (fresh RSSI, flags).
    """
    seen: dict[str, SeenDevice] = {}
    async with asyncio.timeout(duration + SCANNER_GRACE):
        async with watching(transport.scanner_backend, transport.adapter) as adverts:
            try:
                async with asyncio.timeout(duration):
                    while True:
                        device, data = await adverts.get()
                        found = SeenDevice.from_bleak(device, data)
                        if ttlock_only and not found.is_ttlock:
                            continue
                        seen[found.address] = found
                        if until is not None and until(MappingProxyType(seen)):
                            break
            except TimeoutError:
                pass
    return sorted(seen.values(), key=lambda s: s.address)


class Link:
    """One BLE connection to one TTLock device (see the module docstring).

    ``on_frame(raw)`` receives every reassembled frame (no ``0D 0A``);
    ``on_lost(reason)`` is called once, in the loop turn bleak reports an
    unsolicited disconnect, so the session can fail the waiting command with
    :class:`~ttlock_hil.harness.errors.Disconnected` at once. A link can be connected
    again after it was lost or closed.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        device: str,
        channel: DeviceKind,
        timeouts: Timeouts,
        retry: RetryPolicy,
        plugin_version: VersionLike,
        on_frame: Callable[[bytes], None],
        on_lost: Callable[[str], None],
        trace: FrameTrace | None = None,
    ) -> None:
        self.transport = transport
        self.device = device
        self.channel = channel
        self.timeouts = timeouts
        self.retry = retry
        self.plugin_version = plugin_version
        self._on_frame = on_frame
        self._on_lost = on_lost
        self.trace = trace
        self.gatt: GattProfile = LOCK_GATT if channel is DeviceKind.LOCK else GATEWAY_GATT
        self._trailer = LOCK_TRAILER if channel is DeviceKind.LOCK else b""
        self._reassembler = FrameReassembler(channel)
        self._client: BleakClient | None = None
        self._write_char: BleakGATTCharacteristic | None = None
        self._closing = False
        self.seen: SeenDevice | None = None
        """The advertisement found by the last connect (setting mode, battery, MAC)."""
        self.attempts = 0
        """Connection attempts made by the last :meth:`connect` (1 = no retry)."""

    def __repr__(self) -> str:
        state = "connected" if self.connected else "down"
        return f"<Link {self.device} {self.transport.moniker} {state}>"

    @property
    def trace_path(self) -> Path | None:
        return self.trace.path if self.trace is not None else None

    @property
    def connected(self) -> bool:
        """Up, with notifications wired: :meth:`send` may write.

        Asks the client too: a link the device dropped is down at once, even
        before bleak's disconnected callback (scheduled) has run.
        """
        client = self._client
        return client is not None and self._write_char is not None and client.is_connected

    def error(self, condition: LinkCondition, message: str = "", **fields: Any) -> TTLockError:
        """The mapped exception for ``condition`` on this device (code, trace path)."""
        return link_error(
            condition,
            self.plugin_version,
            message,
            device=self.device,
            trace_path=self.trace_path,
            **fields,
        )

    def _event(self, name: str, /, **fields: Any) -> None:
        if self.trace is not None and not self.trace.closed:
            self.trace.event(name, **fields)

    # --- connecting -------------------------------------------------------------

    async def connect(self) -> SeenDevice:
        """Find and connect within the connect budget (``retry:`` of the lab config).

        Transient errors (``retry.retry_on``: a dropped link, a first connect that
        timed out, an empty scan…) are retried up to ``retry.attempts`` tries, and no
        retry starts once ``retry.budget`` seconds are spent. Every retry is traced.
        """
        if self.connected:
            assert self.seen is not None
            return self.seen
        # A client the device dropped (callback still pending) is forgotten, so its
        # late callback cannot be taken for the new connection's.
        self._client = None
        self._write_char = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        cache_cleared = False
        while True:
            attempt += 1
            self.attempts = attempt
            try:
                return await self._attempt(attempt)
            except (ServiceMissing, CharacteristicMissing) as exc:
                # A stale GATT cache after a firmware update looks like this: clear it
                # once and look again, instead of retrying against the same cache.
                if not cache_cleared and self.transport.os_backend:
                    cache_cleared = True
                    cleared = await self._clear_cache()
                    self._event("cache-cleared", cleared=cleared, error=type(exc).__name__)
                    attempt -= 1
                    continue
                await self._retry_or_raise(exc, attempt, loop.time() - started)
            except TTLockError as exc:
                await self._retry_or_raise(exc, attempt, loop.time() - started)

    async def _retry_or_raise(self, exc: TTLockError, attempt: int, spent: float) -> None:
        """Wait before the next try, or re-raise ``exc`` when the budget says stop."""
        error = type(exc).__name__
        if not self.retry.should_retry(exc, attempt):
            self._event("connect-failed", attempt=attempt, error=error)
            raise exc
        if spent + self.retry.delay(attempt - 1) >= self.retry.budget:
            self._event("connect-failed", attempt=attempt, error=error, budget_spent=spent)
            exc.add_note(
                f"connect budget spent: {attempt} attempt(s) in {spent:.1f} s "
                f"(retry.budget {self.retry.budget:g} s)"
            )
            raise exc
        await self._back_off(exc, attempt)

    async def _back_off(self, exc: TTLockError, attempt: int) -> None:
        delay = self.retry.delay(attempt - 1)
        logger.info(
            "%s %s: %s on attempt %d, retrying in %.2f s",
            self.device,
            self.transport.address,
            type(exc).__name__,
            attempt,
            delay,
        )
        self._event("retry", attempt=attempt, error=type(exc).__name__, delay=delay)
        await asyncio.sleep(delay)

    async def _clear_cache(self) -> bool:
        try:
            async with asyncio.timeout(self.timeouts.connect):
                return await clear_cache(self.transport.address)
        except (*_LINK_ERRORS, TimeoutError) as exc:
            logger.debug("%s: clearing the GATT cache failed: %s", self.device, exc)
            return False

    async def _held_link(self, address: str) -> SeenDevice | None:
        """A link the OS stack still holds to ``address`` (a killed run's), to reuse.

        A connected lock does not advertise, so a scan would never find it; bleak
        connects to a device BlueZ reports connected without a new ``Connect``.
        """
        if not self.transport.os_backend:
            return None
        try:
            async with asyncio.timeout(self.timeouts.scan):
                device = await get_device(address)
        except (*_LINK_ERRORS, TimeoutError) as exc:
            logger.debug("%s: no BlueZ device lookup: %s", self.device, exc)
            return None
        details = device.details if device is not None else None
        props = details.get("props", {}) if isinstance(details, dict) else {}
        if device is None or not props.get("Connected"):
            return None
        self._event("reuse", address=device.address, note="the OS still held a link to it")
        return SeenDevice(
            address=device.address.upper(),
            name=device.name,
            rssi=None,
            advert=None,
            ble_device=device,
        )

    async def _resolve_adapter(self) -> None:
        """Pick the adapter by its MAC where the config gives one (radio only)."""
        transport = self.transport
        if not transport.os_backend or transport.adapter_mac is None:
            return
        try:
            async with asyncio.timeout(self.timeouts.scan):
                name, seen = await adapter_by_mac(transport.adapter_mac)
        except (*_LINK_ERRORS, TimeoutError, ImportError) as exc:
            logger.debug("%s: adapters could not be listed: %s", self.device, exc)
            return  # the name from the config is all there is
        if name is None and seen:
            listed = ", ".join(f"{n} {m}" for n, m in sorted(seen.items()))
            raise TTLockError(
                f"no Bluetooth adapter has the MAC {transport.adapter_mac} (present: {listed})",
                code=lookup(Code.ADAPTER_OPEN_FAILED),
                device=self.device,
                trace_path=self.trace_path,
                advice="plug the bench's adapter in, or correct adapters[].mac in "
                "hil-config.yaml ('bluetoothctl list' shows each adapter's MAC)",
            )
        if name is not None and name != transport.adapter:
            self._event("adapter", configured=transport.adapter, found=name)
            self.transport = dataclasses.replace(transport, adapter=name)

    def _not_found_advice(self) -> str:
        """What to check when a device is not seen: a connected lock is silent too."""
        address = self.transport.address
        held = (
            f"free it with 'bluetoothctl disconnect {address}'"
            if self.transport.os_backend
            else "close the other session first"
        )
        return (
            "a lock connected to a central does not advertise: if another program, session "
            f"or a killed run still holds it, {held}; else wake the lock (touch the keypad) "
            "and check its battery and the distance to the adapter"
        )

    async def _attempt(self, attempt: int) -> SeenDevice:
        await self._resolve_adapter()
        address = self.transport.address
        held = await self._held_link(address)
        if held is not None:
            return await self._connect_to(held, attempt)
        self._event("scan", address=address, attempt=attempt, timeout=self.timeouts.scan)
        try:
            seen = await find_device(self.transport, address=address, within=self.timeouts.scan)
        except _LINK_ERRORS as exc:
            # The adapter itself cannot scan (powered off, no BlueZ/D-Bus): no link
            # condition covers it; 10030 "failed to enable the Bluetooth adapter" does.
            raise TTLockError(
                f"the Bluetooth adapter cannot scan: {exc}",
                code=lookup(Code.ADAPTER_OPEN_FAILED),
                device=self.device,
                trace_path=self.trace_path,
                advice="check the adapter is powered (bluetoothctl show), that BlueZ and "
                "D-Bus run, and the adapter named in hil-config.yaml",
            ) from exc
        if seen is None or seen.ble_device is None:
            raise self.error(
                LinkCondition.DEVICE_NOT_FOUND,
                f"{address} not seen within {self.timeouts.scan:g} s",
                advice=self._not_found_advice(),
            )
        self._event(
            "seen",
            address=seen.address,
            name=seen.name,
            rssi=seen.rssi,
            advert=seen.advert.to_dict() if seen.advert is not None else None,
        )
        return await self._connect_to(seen, attempt)

    async def _connect_to(self, seen: SeenDevice, attempt: int) -> SeenDevice:
        assert seen.ble_device is not None
        address = self.transport.address
        self._closing = False
        client = self.transport.client(
            seen.ble_device,
            disconnected_callback=self._disconnected,
            timeout=self.timeouts.connect,
        )
        deadline = self.timeouts.connect
        try:
            async with asyncio.timeout(deadline):
                await client.connect()
        except TimeoutError as exc:
            await self._abandon(client)
            raise self.error(
                LinkCondition.CONNECT_TIMEOUT, f"no connection within {deadline:g} s"
            ) from exc
        except BleakDeviceNotFoundError as exc:
            await self._abandon(client)
            raise self.error(
                LinkCondition.DEVICE_NOT_FOUND, str(exc), advice=self._not_found_advice()
            ) from exc
        except _LINK_ERRORS as exc:
            await self._abandon(client)
            raise self.error(LinkCondition.DISCONNECTED, f"connect failed: {exc}") from exc
        self._client = client
        try:
            try:
                write_char, notify_char = self._characteristics(client)
            except _LINK_ERRORS as exc:
                # bleak refuses to show services of a link that just dropped.
                raise self.error(
                    LinkCondition.DISCONNECTED, f"link dropped during discovery: {exc}"
                ) from exc
            try:
                async with asyncio.timeout(deadline):
                    await client.start_notify(notify_char, self._notify_handler(client))
            except TimeoutError as exc:
                raise self.error(
                    LinkCondition.CONNECT_TIMEOUT,
                    f"enabling notifications took longer than {deadline:g} s",
                ) from exc
            except _LINK_ERRORS as exc:
                if not client.is_connected:
                    # bleak's "Not connected": the link is gone, subscribing did not fail.
                    raise self.error(
                        LinkCondition.DISCONNECTED,
                        f"link dropped while enabling notifications: {exc}",
                    ) from exc
                raise self.error(LinkCondition.NOTIFY_ENABLE_FAILED, str(exc)) from exc
        except BaseException:
            self._client = None
            await self._abandon(client)
            raise
        if not client.is_connected:
            # Dropped while notifications were being enabled: the callback may not
            # have reached us yet (it is scheduled), so say it here.
            self._client = None
            raise self.error(LinkCondition.DISCONNECTED, "link dropped while connecting")
        self._reassembler.reset()
        self._write_char = write_char
        self.seen = seen
        # The MTU bleak really uses (client.mtu_size on BlueZ guesses 23 and warns).
        self._event(
            "connected", attempt=attempt, mtu=self.mtu, chunk=self.chunk_size, name=seen.name
        )
        logger.debug("%s %s: connected (attempt %d)", self.device, address, attempt)
        return seen

    def _characteristics(
        self, client: BleakClient
    ) -> tuple[BleakGATTCharacteristic, BleakGATTCharacteristic]:
        service = client.services.get_service(self.gatt.service)
        if service is None:
            raise self.error(
                LinkCondition.SERVICE_MISSING, f"no TTLock service {self.gatt.service}"
            )
        write = service.get_characteristic(self.gatt.write)
        notify = service.get_characteristic(self.gatt.notify)
        missing = [
            f"{role} {uuid}"
            for role, uuid, char in (
                ("write", self.gatt.write, write),
                ("notify", self.gatt.notify, notify),
            )
            if char is None
        ]
        if write is None or notify is None:
            raise self.error(LinkCondition.CHARACTERISTIC_MISSING, "missing " + ", ".join(missing))
        return write, notify

    async def _abandon(self, client: BleakClient) -> None:
        """Disconnect a half-made connection, bounded, ignoring link errors."""
        self._closing = True
        try:
            async with asyncio.timeout(self.timeouts.connect):
                await client.disconnect()
        except (*_LINK_ERRORS, TimeoutError) as exc:
            logger.debug("%s: cleanup disconnect failed: %s", self.device, exc)

    # --- disconnecting ------------------------------------------------------------

    async def disconnect(self) -> None:
        """Close the connection (no ``on_lost``: this side chose to). Idempotent."""
        client, self._client = self._client, None
        self._write_char = None
        self._reassembler.reset()
        if client is None:
            return
        self._event("disconnect")
        await self._abandon(client)

    def _disconnected(self, client: BleakClient) -> None:
        """bleak's disconnected_callback: unsolicited drops only reach ``on_lost``."""
        if client is not self._client or self._closing:
            return
        self._client = None
        self._write_char = None
        self._reassembler.reset()
        self._event("disconnected", verdict="link-lost")
        logger.info("%s %s: link lost", self.device, self.transport.address)
        self._on_lost("the device dropped the link")

    # --- data -----------------------------------------------------------------------

    @property
    def mtu(self) -> int | None:
        """The ATT MTU bleak writes with on this link (from the write characteristic)."""
        if self._write_char is None:
            return None
        return self._write_char.max_write_without_response_size + 3

    @property
    def chunk_size(self) -> int:
        """Bytes per write: the transport's chunk (20 by default, §1.1), never over MTU−3."""
        if self._write_char is None:
            return self.transport.chunk
        return max(1, min(self.transport.chunk, self._write_char.max_write_without_response_size))

    async def send(self, frame: bytes, *, command: int | None = None) -> None:
        """Write one frame (plus ``0D 0A`` for locks) in MTU-3 chunks, without response.

        Raises :class:`Disconnected` when the link is down (or drops during the
        write) and :class:`WriteFailed` when a write fails on a live link or the
        whole frame is not written within ``timeouts.command``.
        """
        client, char = self._client, self._write_char
        if client is None or char is None:
            raise self.error(LinkCondition.DISCONNECTED, "not connected", command=command)
        data = frame + self._trailer
        size = self.chunk_size
        deadline = self.timeouts.command
        offset = 0
        try:
            # One deadline for the whole frame: a deadline per chunk would let a
            # stalled link stretch it by the number of chunks.
            async with asyncio.timeout(deadline):
                for offset in range(0, len(data), size):
                    await self._write_chunk(
                        client, char, data[offset : offset + size], offset, command
                    )
        except TimeoutError as exc:
            raise self.error(
                LinkCondition.WRITE_FAILED,
                f"write of the {len(data)}-byte frame did not complete within {deadline:g} s "
                f"(stalled at offset {offset})",
                command=command,
            ) from exc

    async def _write_chunk(
        self,
        client: BleakClient,
        char: BleakGATTCharacteristic,
        chunk: bytes,
        offset: int,
        command: int | None,
    ) -> None:
        try:
            await client.write_gatt_char(char, chunk, response=False)
        except _LINK_ERRORS as exc:
            if self._client is not client or not client.is_connected or _stack_gone(exc):
                raise self.error(
                    LinkCondition.DISCONNECTED,
                    f"link dropped while writing: {exc}",
                    command=command,
                ) from exc
            raise self.error(
                LinkCondition.WRITE_FAILED,
                f"write of {len(chunk)} bytes at offset {offset} failed: {exc}",
                command=command,
            ) from exc
        if self._client is not client:
            raise self.error(
                LinkCondition.DISCONNECTED, "link dropped while writing", command=command
            )

    def reset_reassembler(self) -> bytes:
        """Drop a partly received frame (after a timeout, between tests); returns it."""
        return self._reassembler.reset()

    def _notify_handler(
        self, client: BleakClient
    ) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        """The notify callback of one connection: silent once that connection is gone.

        An OS stack may still deliver a notification it queued before the link went
        down; from an old connection it would be reassembled into the next one's
        frames and could pass for the reply to its request.
        """

        def notified(sender: BleakGATTCharacteristic, data: bytearray) -> None:
            if client is self._client:
                self._notified(sender, data)
            else:
                self._event("late-notification", size=len(data))

        return notified

    def _notified(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        frames = self._reassembler.feed(data)
        if self._reassembler.discarded:
            for dropped in self._reassembler.discarded:
                self._event("discarded", data=dropped.data.hex(), reason=dropped.reason)
            self._reassembler.discarded.clear()
        for frame in frames:
            self._on_frame(frame)
