"""Virtual devices as bleak backends: the real bleak code path, no radio (tier 1).

Any object implementing :class:`~ttlock_hil.harness.sim.device.VirtualDevice` becomes a BLE
peripheral for code that uses bleak's public API. Put it on an
:class:`~ttlock_hil.harness.sim.air.Air` and hand the backend classes (plus ``air=``) to
bleak; bleak forwards the extra keyword to the backend::

    from bleak import BleakClient, BleakScanner
    from ttlock_hil.harness.sim.air import Air
    from ttlock_hil.harness.sim.backend import VirtualClientBackend, VirtualScannerBackend

    air = Air([my_device])
    device = await BleakScanner.find_device_by_address(
        my_device.address, timeout=5, backend=VirtualScannerBackend, air=air
    )
    async with BleakClient(device, backend=VirtualClientBackend, air=air) as client:
        await client.start_notify("fff4", on_notification)   # wire replies first
        await client.write_gatt_char("fff2", first_20_bytes, response=False)

Code that builds ``BleakClient``/``BleakScanner`` without ``backend=`` (third-party
libraries) can be redirected by patching ``bleak.get_platform_client_backend_type``
and ``bleak.get_platform_scanner_backend_type`` to return
``(VirtualClientBackend.bind(air), "virtual")`` (docs/architecture.md §12.8);
:meth:`~VirtualClientBackend.bind` makes a subclass whose ``air`` is preset.
Prefer ``backend=VirtualScannerBackend.bind(air)`` in type-checked code too:
bleak types the ``**kwargs`` of ``discover``/``find_device_by_*`` as a TypedDict
that has no ``air`` key (``BleakScanner(...)`` and ``BleakClient(...)`` accept it).

What the backends do like a real lock, and why (docs/architecture.md §12, docs/protocol.md §1):

* the scanner advertises every advertising device periodically from a task it
  owns (pitfall 2), with the device's own manufacturer data and service UUIDs;
* a connected device stops advertising; a second central's connection attempt
  therefore waits for the connect timeout and fails (``TimeoutError``, or
  ``BleakDeviceNotFoundError`` when connecting by address string, as bleak's OS
  backends do), succeeding instead if the device frees up in time;
* the GATT table is the device's :class:`~ttlock_hil.harness.sim.device.GattProfile`:
  write characteristic (write-without-response), notify characteristic (notify
  + CCCD), plus Battery Service ``2a19`` on locks (TTLOCK-BLE reads it after
  enabling notifications) and a read-only Device Information service
  (0x180A) for models with ``device_information()``, UUIDs normalized (pitfall 1);
* writes larger than MTU-3 bytes are refused (pitfall 5); a write with
  response is refused like the ATT server does for a write-without-response
  characteristic;
* bytes written are reassembled by length (:mod:`ttlock_hil.protocol.reassembly`); each
  complete request frame goes to ``device.receive()`` (lock frames with their
  ``0D 0A``), after :class:`~ttlock_hil.harness.sim.faults.FaultPlan` decided its faults;
* reply frames are split into MTU-3 notifications delivered with
  ``loop.call_soon`` — never inside ``write_gatt_char`` (pitfall 4) — and
  dropped when nobody is subscribed, like a lock whose CCCD is off;
* ``device.take_pushes()`` is polled after every write and every
  :attr:`~VirtualClientBackend.push_interval` seconds;
* device-side drops (faults, :meth:`Air.drop_link`, out of range, removal)
  call the disconnected callback; ``disconnect()`` does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, cast
from weakref import WeakKeyDictionary

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import (
    AdvertisementData,
    AdvertisementDataCallback,
    BaseBleakScanner,
)
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak.uuids import normalize_uuid_str

from .air import Air, OnAir
from .device import CCCD_UUID, Advertisement, HasDeviceInformation
from .faults import MAX_MTU, MIN_MTU, Fault
from .gatt_table import gatt_table
from .peripheral import TASK_PREFIX as PERIPHERAL_TASK_PREFIX
from .peripheral import InjectedWriteFailure, PeripheralLink

logger = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = normalize_uuid_str("180f")
BATTERY_LEVEL_UUID = normalize_uuid_str("2a19")
DEVICE_INFORMATION_UUID = normalize_uuid_str("180a")

TASK_PREFIX = PERIPHERAL_TASK_PREFIX
"""Name prefix of every task the backends own (tests look for leftovers by it)."""

_POLL = 0.01
"""How often a waiting connection attempt looks at the device again (seconds)."""


_DISCOVERIES: WeakKeyDictionary[Air, dict[asyncio.AbstractEventLoop, VirtualScannerBackend]] = (
    WeakKeyDictionary()
)
"""The scanner discovering on each air, per event loop (one per client, as in bluetoothd)."""


_NORMALIZED: dict[str, str] = {}
"""Service UUID strings as devices give them → bleak's normalized form (it is pure)."""
_NORMALIZED_MAX = 1024
"""Bound of :data:`_NORMALIZED`: a model inventing UUIDs cannot grow it without end."""


def _normalize_uuid(uuid: str) -> str:
    """:func:`bleak.uuids.normalize_uuid_str`, computed once per string (it builds a UUID)."""
    normalized = _NORMALIZED.get(uuid)
    if normalized is None:
        normalized = normalize_uuid_str(uuid)  # an invalid one raises, and is not kept
        if len(_NORMALIZED) < _NORMALIZED_MAX:
            _NORMALIZED[uuid] = normalized
    return normalized


class _Heard(NamedTuple):
    """What a scan session last reported for one address (see ``advertise_once``)."""

    seen: tuple[object, ...]
    """The device's advert, frozen: name, manufacturer data and UUIDs as tuples, tx, RSSI."""
    data: AdvertisementData | None
    """What was reported for it; ``None`` when the service filter left it out."""
    manufacturer_data: dict[int, bytes]
    """Our own copy of ``data.manufacturer_data``, to notice a callback changing theirs."""
    service_uuids: list[str]
    """Likewise for ``data.service_uuids``."""


def _frozen(advert: Advertisement) -> tuple[object, ...]:
    # A snapshot, not the Advertisement itself: a device may hand out one object and
    # change its dict or list in place, and the scanner hands that object out in
    # platform_data, where a caller could change it too.
    return (
        advert.local_name,
        tuple(advert.manufacturer_data.items()),
        tuple(advert.service_uuids),
        advert.tx_power,
        advert.rssi,
    )


def _resolve_air(air: Air | None, cls: type[object], default: Air | None) -> Air:
    chosen = air if air is not None else default
    if chosen is None:
        raise BleakError(
            f"{cls.__name__} needs air=<ttlock_hil.harness.sim.air.Air>: pass it to BleakScanner/"
            f"BleakClient next to backend=, or use backend={cls.__name__}.bind(air)"
        )
    return chosen


def battery_level(advert: Advertisement) -> int | None:
    """Battery % in a TTLock lock advert, if it carries one (docs/protocol.md §6).

    bleak splits the manufacturer data as ``{company_id: rest}``; TTLock puts
    protocol type/version where the company id would be, so ``d = company_id
    (little endian) + rest``. V3 (``05 03``): battery = ``d[4]``; other headers:
    real type at ``d[4]``, battery at ``d[9]``; none for type < 5 or V2S (5.1).
    """
    for company_id, rest in advert.manufacturer_data.items():
        data = company_id.to_bytes(2, "little") + bytes(rest)
        if data[:2] == b"\x05\x03":
            return data[4] if len(data) > 4 else None
        if len(data) > 9 and data[4] >= 5 and data[4:6] != b"\x05\x01":
            return data[9]
    return None


def device_information(device: object) -> dict[str, bytes]:
    """The device's Device Information values by normalized UUID (none if it has none).

    Models that offer ``device_information()`` (docs/protocol.md §1.1: a real lock
    serves 0x180A with model 2a24, FW 2a26, HW 2a27; §1.2: a gateway adds its
    network MAC in 2a25) get a read-only 0x180A service.
    """
    if not isinstance(device, HasDeviceInformation):
        return {}
    return {normalize_uuid_str(k): bytes(v) for k, v in device.device_information().items()}


class VirtualScannerBackend(BaseBleakScanner):
    """bleak scanner backend that sees the advertising devices of an :class:`Air`.

    Keyword arguments (through ``BleakScanner(..., backend=..., air=air)``):
    ``air`` (required unless :meth:`bind` preset it) and ``interval``, the
    advertising period in seconds (default 25 ms).
    """

    default_air: ClassVar[Air | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        air: Air | None = None,
        interval: float = 0.025,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._air = _resolve_air(air, type(self), self.default_air)
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval}")
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        # Per scan session: whether NOT_ADVERTISING hides a device (decided once).
        self._hidden: dict[str, bool] = {}
        # Per scan session: the last advert reported per address (advertise_once).
        self._heard: dict[str, _Heard] = {}

    @classmethod
    def bind(cls, air: Air) -> type[VirtualScannerBackend]:
        """A subclass whose ``air`` defaults to ``air`` (for code without ``air=``)."""
        return cast(type[VirtualScannerBackend], type(cls.__name__, (cls,), {"default_air": air}))

    async def start(self) -> None:
        await self.stop()
        # bluetoothd allows one discovery per D-Bus client and adapter, and bleak's BlueZ
        # manager is one client per event loop: a second scanner started on the same air
        # in the same loop collides there, so it collides here too (docs/tiers.md §3.3).
        loop = asyncio.get_running_loop()
        running = _DISCOVERIES.setdefault(self._air, {})
        holder = running.get(loop)
        if holder is not None and holder is not self and holder._task is not None:
            raise BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"])
        running[loop] = self
        self.seen_devices = {}
        self._hidden = {}
        self._heard = {}
        self._task = asyncio.get_running_loop().create_task(
            self._advertise_forever(), name=f"{TASK_PREFIX}-scanner"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        running = _DISCOVERIES.get(self._air, {})
        for loop, holder in list(running.items()):
            if holder is self:
                del running[loop]
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _advertise_forever(self) -> None:
        while True:
            try:
                self.advertise_once()
            except Exception:
                # A failing model or detection callback must not end the scan
                # silently; an OS backend would log and keep scanning too.
                logger.exception("virtual scanner: advertising round failed")
            await asyncio.sleep(self._interval)

    def advertise_once(self) -> None:
        """Report every advertising device once (the scan task calls this).

        Every round asks each device for its advert and calls the detection
        callbacks once per device, as before. What is reported is built only when
        the advert differs from the one this session last reported for the
        address (issue 15: rebuilding it for every device every 25 ms was 7 % of
        the HIL suite's CPU); otherwise the same ``AdvertisementData`` object is
        reported again. Its dict and list are mutable: should a callback have
        changed them, it is built afresh, so every round reports data equal to the
        device's advert, as a fresh object would be.
        """
        heard = self._heard
        for entry in self._air.advertising():
            address = entry.address
            hidden = self._hidden.get(address)
            if hidden is None:
                hidden = entry.faults.take(Fault.NOT_ADVERTISING) is not None
                self._hidden[address] = hidden
            if hidden:
                continue
            device_object = entry.device
            advert = device_object.advertisement()
            seen = _frozen(advert)
            last = heard.get(address)
            if (
                last is not None
                and last.seen == seen
                and (
                    last.data is None
                    or (
                        last.data.manufacturer_data == last.manufacturer_data
                        and last.data.service_uuids == last.service_uuids
                        and not last.data.service_data
                        and last.data.platform_data[0] is device_object
                    )
                )
            ):
                data = last.data
            else:
                data = self._advertisement_data(device_object, advert)
                heard[address] = _Heard(
                    seen,
                    data,
                    dict(data.manufacturer_data) if data is not None else {},
                    list(data.service_uuids) if data is not None else [],
                )
            if data is None:
                continue
            device = self.create_or_update_device(
                address, address, advert.local_name, device_object, data
            )
            self.call_detection_callbacks(device, data)

    def _advertisement_data(
        self, device: object, advert: Advertisement
    ) -> AdvertisementData | None:
        """What bleak reports for ``advert``, or ``None`` if the service filter drops it."""
        uuids = [_normalize_uuid(uuid) for uuid in advert.service_uuids]
        if not self.is_allowed_uuid(uuids):
            return None
        return AdvertisementData(
            local_name=advert.local_name,
            manufacturer_data=dict(advert.manufacturer_data),
            service_data={},
            service_uuids=uuids,
            tx_power=advert.tx_power,
            rssi=advert.rssi,
            platform_data=(device, advert),
        )


class VirtualClientBackend(BaseBleakClient):
    """bleak client backend connected to a device of an :class:`Air`.

    Keyword arguments (through ``BleakClient(..., backend=..., air=air)``):
    ``air`` (required unless :meth:`bind` preset it) and ``mtu``, the MTU this
    client negotiates (default: the device's, see :meth:`Air.add`).
    """

    default_air: ClassVar[Air | None] = None
    push_interval: ClassVar[float] = 0.05
    """Seconds between polls of ``device.take_pushes()`` while connected."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        air: Air | None = None,
        mtu: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, **kwargs)
        self._air = _resolve_air(air, type(self), self.default_air)
        if mtu is not None and not MIN_MTU <= mtu <= MAX_MTU:
            raise ValueError(f"mtu must be between {MIN_MTU} and {MAX_MTU}, got {mtu}")
        self._requested_mtu = mtu
        self._mtu = mtu or MIN_MTU
        self._by_address = not isinstance(address_or_ble_device, BLEDevice)
        self._advertised_name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        services = kwargs.get("services")
        self._service_filter: set[str] | None = set(services) if services else None
        self._entry: OnAir | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: NotifyCallback | None = None
        self._link: PeripheralLink | None = None
        self._reads: dict[int, Callable[[], bytes]] = {}
        self._write_uuid = ""
        self._notify_uuid = ""

    @classmethod
    def bind(cls, air: Air) -> type[VirtualClientBackend]:
        """A subclass whose ``air`` defaults to ``air`` (for code without ``air=``)."""
        return cast(type[VirtualClientBackend], type(cls.__name__, (cls,), {"default_air": air}))

    # --- properties ---------------------------------------------------------

    @property
    def name(self) -> str:
        if self._entry is not None:
            return self._entry.name
        return self._advertised_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._link.mtu if self._link is not None else self._mtu

    @property
    def is_connected(self) -> bool:
        return self._entry is not None

    # --- connection ---------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, waiting (up to the timeout) while the device cannot be reached."""
        if self._entry is not None:
            return
        if pair:
            logger.info("%s: TTLock devices do not bond; pair=True ignored", self.address)
        timeout = float(kwargs.get("timeout", self._timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        entry = self._air.find(self.address)
        if entry is not None and entry.faults.take(Fault.CONNECT_TIMEOUT) is not None:
            await asyncio.sleep(timeout)
            raise TimeoutError(
                f"connecting to {self.address} timed out after {timeout:g} s "
                "(injected Fault.CONNECT_TIMEOUT)"
            )
        hidden = entry is not None and entry.faults.take(Fault.NOT_ADVERTISING) is not None
        while True:
            entry = self._air.find(self.address)
            reason = self._unreachable(entry, hidden)
            if reason is None:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                if self._by_address:
                    raise BleakDeviceNotFoundError(
                        self.address, f"Device with address {self.address} was not found: {reason}"
                    )
                raise TimeoutError(
                    f"connecting to {self.address} timed out after {timeout:g} s: {reason}"
                )
            await asyncio.sleep(min(_POLL, remaining))
        assert entry is not None
        entry.claim(self)
        self._attach(entry, loop)

    @staticmethod
    def _unreachable(entry: OnAir | None, hidden: bool) -> str | None:
        if entry is None:
            return "no such device on the air"
        if hidden:
            return "it is not advertising (injected Fault.NOT_ADVERTISING)"
        if not entry.in_range:
            return "it is out of range"
        if entry.connected:
            return (
                "it is connected to another central (a real lock accepts one central and "
                "stops advertising while connected)"
            )
        return None

    def _attach(self, entry: OnAir, loop: asyncio.AbstractEventLoop) -> None:
        self._entry = entry
        self._loop = loop
        self._callback = None
        self._write_uuid = normalize_uuid_str(entry.device.gatt.write)
        self._notify_uuid = normalize_uuid_str(entry.device.gatt.notify)
        # The device side of the link: the same code every tier runs (sim/peripheral.py).
        self._link = PeripheralLink(
            entry,
            loop=loop,
            deliver=self._notify,
            mtu=self._requested_mtu or entry.mtu,
            push_interval=self.push_interval,
        )
        self.services = self._discover(entry)

    def _discover(self, entry: OnAir) -> BleakGATTServiceCollection:
        """The GATT table of this connection, as every tier serves it (faults may remove parts).

        Handles are the declaration handles of a real lock (docs/protocol.md §10.4), as
        bleak's BlueZ backend reports them.
        """
        without: set[str] = set()
        if entry.faults.take(Fault.SERVICE_MISSING) is not None:
            without.add("service")
        missing = entry.faults.take(Fault.CHARACTERISTIC_MISSING)
        if missing is not None:
            without |= {missing.characteristic} if missing.characteristic else {"write", "notify"}
        device = entry.device
        table = gatt_table(
            device,
            battery=lambda: battery_level(device.advertisement()),
            without=frozenset(without),
        )
        collection = BleakGATTServiceCollection()
        self._reads = {}
        limit = self._write_limit
        for spec in table:
            if not self._wanted(spec.uuid):
                continue
            service = BleakGATTService(None, spec.handle, normalize_uuid_str(spec.uuid))
            collection.add_service(service)
            for char in spec.characteristics:
                characteristic = BleakGATTCharacteristic(
                    None,
                    char.handle,
                    normalize_uuid_str(char.uuid),
                    cast(Any, list(char.flags)),
                    limit,
                    service,
                )
                collection.add_characteristic(characteristic)
                if char.read is not None:
                    self._reads[char.handle] = char.read
                if char.cccd_handle is not None:
                    collection.add_descriptor(
                        BleakGATTDescriptor(None, char.cccd_handle, CCCD_UUID, characteristic)
                    )
        return collection

    def _wanted(self, service_uuid: str) -> bool:
        filtered = self._service_filter
        return filtered is None or normalize_uuid_str(service_uuid) in filtered

    def _write_limit(self) -> int:
        return self.mtu_size - 3

    async def disconnect(self) -> None:
        """Client-initiated disconnect: the disconnected callback is *not* called."""
        poller = self._teardown()
        if poller is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    def link_lost(self, reason: str) -> None:
        """Device-side drop (called by the air): tear down, then the callback, soon."""
        if self._entry is None:
            return
        loop = self._loop
        logger.debug("%s: link lost: %s", self.address, reason)
        self._teardown()
        if self._disconnected_callback is not None and loop is not None:
            loop.call_soon(self._disconnected_callback)

    def _teardown(self) -> asyncio.Task[None] | None:
        entry, self._entry = self._entry, None
        link, self._link = self._link, None
        self._callback = None
        self.services = None
        poller = link.close() if link is not None else None
        if link is not None:
            self._mtu = link.mtu
        if entry is not None:
            entry.release(self)
        return poller

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError(
            "pair() is not supported: TTLock devices do not use BLE bonding, and the "
            "virtual backend does not implement it"
        )

    async def unpair(self) -> None:
        raise BleakError(
            "unpair() is not supported: TTLock devices do not use BLE bonding, and the "
            "virtual backend does not implement it"
        )

    # --- GATT I/O -------------------------------------------------------------

    def _connected_entry(self) -> OnAir:
        if self._entry is None:
            raise BleakError("Not connected")
        return self._entry

    def _own(self, characteristic: BleakGATTCharacteristic, role: str) -> bool:
        """Whether ``characteristic`` is the device's write/notify one (present or not)."""
        self._connected_entry()
        uuid = self._write_uuid if role == "write" else self._notify_uuid
        if characteristic.uuid != uuid:
            return False
        assert self.services is not None
        if characteristic.handle not in self.services.characteristics:
            raise BleakCharacteristicNotFoundError(uuid)  # a stale object after a fault
        return True

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        entry = self._connected_entry()
        read = self._reads.get(characteristic.handle)
        if read is not None:
            return bytearray(read())
        raise BleakError(
            f"characteristic {characteristic.uuid} cannot be read on virtual device "
            f"{entry.name}: it is not readable (docs/protocol.md §10.4)"
        )

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._connected_entry()
        if descriptor.uuid == CCCD_UUID:
            return bytearray(b"\x01\x00" if self._callback is not None else b"\x00\x00")
        raise BleakError(f"descriptor {descriptor.uuid} cannot be read on the virtual device")

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        self._connected_entry()
        # bleak itself refuses CCCD writes (use start_notify); there is no other descriptor.
        raise BleakError(f"descriptor {descriptor.uuid} is not writable on the virtual device")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        entry = self._connected_entry()
        if not self._own(characteristic, "notify"):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        if entry.faults.take(Fault.NOTIFY_FAILED) is not None:
            raise BleakError(
                f"enabling notifications on {characteristic.uuid} failed "
                "(injected Fault.NOTIFY_FAILED)"
            )
        self._callback = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._connected_entry()
        if not self._own(characteristic, "notify"):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._callback = None

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write one chunk; complete request frames reach the device, replies come soon."""
        self._connected_entry()
        if not self._own(characteristic, "write"):
            raise BleakError(f"characteristic {characteristic.uuid} is not writable")
        if response:
            error = BleakGATTProtocolError(BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED)
            error.add_note(
                f"{characteristic.uuid} only supports write-without-response "
                "(docs/protocol.md §1.1): pass response=False"
            )
            raise error
        chunk = bytes(memoryview(data))
        limit = self._write_limit()
        if len(chunk) > limit:
            raise BleakError(
                f"write of {len(chunk)} bytes exceeds max_write_without_response_size "
                f"{limit} (MTU {self.mtu_size} - 3): split frames into chunks of at most "
                f"{limit} bytes (docs/protocol.md §1.1)"
            )
        link = self._link
        assert link is not None
        try:
            link.write(chunk)
        except InjectedWriteFailure as exc:
            raise BleakError(
                f"write of {len(chunk)} bytes to {characteristic.uuid} failed: {exc}"
            ) from exc

    def _notify(self, chunk: bytes) -> None:
        if self._callback is None:
            logger.debug("%s: notification dropped, nobody subscribed", self.address)
            return
        self._callback(bytearray(chunk))
