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
from typing import Any, ClassVar, cast

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
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak.uuids import normalize_uuid_str

from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import GATEWAY_MAGIC, LOCK_MAGIC, LOCK_TRAILER
from ttlock_hil.protocol.reassembly import FrameReassembler

from .air import Air, OnAir
from .device import CCCD_UUID, Advertisement, HasDeviceInformation
from .faults import MAX_MTU, MIN_MTU, Fault, frame_command

logger = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = normalize_uuid_str("180f")
BATTERY_LEVEL_UUID = normalize_uuid_str("2a19")
DEVICE_INFORMATION_UUID = normalize_uuid_str("180a")

TASK_PREFIX = "ttlock-sim"
"""Name prefix of every task the backends own (tests look for leftovers by it)."""

# Handles as on a real S202F (docs/protocol.md §1.1, FUSS gatttool dump: notify 0x000e,
# CCCD 0x000f, write 0x0011); the battery service follows.
_SERVICE_HANDLE = 0x000C
_NOTIFY_HANDLE = 0x000E
_CCCD_HANDLE = 0x000F
_WRITE_HANDLE = 0x0011
_BATTERY_SERVICE_HANDLE = 0x0012
_BATTERY_LEVEL_HANDLE = 0x0014
_DEVICE_INFORMATION_HANDLE = 0x0016  # then one read characteristic every 2 handles

_POLL = 0.01
"""How often a waiting connection attempt looks at the device again (seconds)."""


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

    @classmethod
    def bind(cls, air: Air) -> type[VirtualScannerBackend]:
        """A subclass whose ``air`` defaults to ``air`` (for code without ``air=``)."""
        return cast(type[VirtualScannerBackend], type(cls.__name__, (cls,), {"default_air": air}))

    async def start(self) -> None:
        await self.stop()
        self.seen_devices = {}
        self._hidden = {}
        self._task = asyncio.get_running_loop().create_task(
            self._advertise_forever(), name=f"{TASK_PREFIX}-scanner"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
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
        """Report every advertising device once (the scan task calls this)."""
        for entry in self._air.advertising():
            hidden = self._hidden.get(entry.address)
            if hidden is None:
                hidden = entry.faults.take(Fault.NOT_ADVERTISING) is not None
                self._hidden[entry.address] = hidden
            if hidden:
                continue
            advert = entry.device.advertisement()
            uuids = [normalize_uuid_str(uuid) for uuid in advert.service_uuids]
            if not self.is_allowed_uuid(uuids):
                continue
            data = AdvertisementData(
                local_name=advert.local_name,
                manufacturer_data=dict(advert.manufacturer_data),
                service_data={},
                service_uuids=uuids,
                tx_power=advert.tx_power,
                rssi=advert.rssi,
                platform_data=(entry.device, advert),
            )
            device = self.create_or_update_device(
                entry.address, entry.address, advert.local_name, entry.device, data
            )
            self.call_detection_callbacks(device, data)


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
        self._generation = 0
        self._callback: NotifyCallback | None = None
        self._reassembler = FrameReassembler()
        self._timers: set[asyncio.TimerHandle] = set()
        self._poller: asyncio.Task[None] | None = None
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
        return self._mtu

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
        self._generation += 1
        self._mtu = self._requested_mtu or entry.mtu
        channel = DeviceKind.GATEWAY if entry.device.kind is DeviceKind.GATEWAY else DeviceKind.LOCK
        self._reassembler = FrameReassembler(channel)
        self._callback = None
        self._write_uuid = normalize_uuid_str(entry.device.gatt.write)
        self._notify_uuid = normalize_uuid_str(entry.device.gatt.notify)
        self.services = self._discover(entry)
        self._poller = loop.create_task(self._poll_forever(), name=f"{TASK_PREFIX}-pushes")

    def _discover(self, entry: OnAir) -> BleakGATTServiceCollection:
        """The GATT table of this connection (faults may remove parts)."""
        gatt = entry.device.gatt
        collection = BleakGATTServiceCollection()
        mtu_limit = self._write_limit
        if entry.faults.take(Fault.SERVICE_MISSING) is None and self._wanted(gatt.service):
            missing = entry.faults.take(Fault.CHARACTERISTIC_MISSING)
            gone: set[str] = set()
            if missing is not None:
                gone = {missing.characteristic} if missing.characteristic else {"write", "notify"}
            service = BleakGATTService(None, _SERVICE_HANDLE, normalize_uuid_str(gatt.service))
            collection.add_service(service)
            notify = BleakGATTCharacteristic(
                None,
                _NOTIFY_HANDLE,
                normalize_uuid_str(gatt.notify),
                ["notify"],
                mtu_limit,
                service,
            )
            if "notify" not in gone:
                collection.add_characteristic(notify)
            if "write" not in gone:
                collection.add_characteristic(
                    BleakGATTCharacteristic(
                        None,
                        _WRITE_HANDLE,
                        normalize_uuid_str(gatt.write),
                        ["write-without-response"],
                        mtu_limit,
                        service,
                    )
                )
            if "notify" not in gone:
                cccd = BleakGATTDescriptor(None, _CCCD_HANDLE, CCCD_UUID, notify)
                collection.add_descriptor(cccd)
        if (
            entry.device.kind is DeviceKind.LOCK
            and battery_level(entry.device.advertisement()) is not None
            and self._wanted(BATTERY_SERVICE_UUID)
        ):
            battery = BleakGATTService(None, _BATTERY_SERVICE_HANDLE, BATTERY_SERVICE_UUID)
            collection.add_service(battery)
            collection.add_characteristic(
                BleakGATTCharacteristic(
                    None, _BATTERY_LEVEL_HANDLE, BATTERY_LEVEL_UUID, ["read"], mtu_limit, battery
                )
            )
        info = device_information(entry.device)
        if info and self._wanted(DEVICE_INFORMATION_UUID):
            dis = BleakGATTService(None, _DEVICE_INFORMATION_HANDLE, DEVICE_INFORMATION_UUID)
            collection.add_service(dis)
            for index, uuid in enumerate(sorted(info)):
                handle = _DEVICE_INFORMATION_HANDLE + 2 * (index + 1)
                collection.add_characteristic(
                    BleakGATTCharacteristic(None, handle, uuid, ["read"], mtu_limit, dis)
                )
        return collection

    def _wanted(self, service_uuid: str) -> bool:
        filtered = self._service_filter
        return filtered is None or normalize_uuid_str(service_uuid) in filtered

    def _write_limit(self) -> int:
        return self._mtu - 3

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
        self._generation += 1
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._callback = None
        self._reassembler.reset()
        self.services = None
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
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
        if characteristic.uuid == BATTERY_LEVEL_UUID:
            level = battery_level(entry.device.advertisement())
            if level is not None:
                return bytearray([level])
        info = device_information(entry.device)
        if characteristic.uuid in info:
            return bytearray(info[characteristic.uuid])
        raise BleakError(
            f"characteristic {characteristic.uuid} cannot be read on virtual device "
            f"{entry.name}: only Battery Level (2a19) and Device Information (180a) are readable"
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
        entry = self._connected_entry()
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
                f"{limit} (MTU {self._mtu} - 3): split frames into chunks of at most "
                f"{limit} bytes (docs/protocol.md §1.1)"
            )
        buffered = self._reassembler.pending + chunk
        magic = GATEWAY_MAGIC if entry.device.kind is DeviceKind.GATEWAY else LOCK_MAGIC
        start = buffered.find(magic)
        command = frame_command(buffered[start:]) if start >= 0 else None
        if entry.faults.on_write(command) is not None:
            raise BleakError(
                f"write of {len(chunk)} bytes to {characteristic.uuid} failed "
                "(injected Fault.WRITE_FAILED)"
            )
        for frame in self._reassembler.feed(chunk):
            self._handle_request(entry, frame)
            if self._entry is not entry:
                return  # the link dropped: the rest of this write is lost
        self._release(entry.device.take_pushes())

    def _handle_request(self, entry: OnAir, frame: bytes) -> None:
        command = frame_command(frame)
        assert command is not None  # a complete frame holds its command byte
        decision = entry.faults.on_request(command)
        device = entry.device
        replies: list[bytes] = []
        if decision.delivers_request:
            wire = frame if device.kind is DeviceKind.GATEWAY else frame + LOCK_TRAILER
            replies = device.receive(wire)
        if decision.mtu is not None:
            self._mtu = decision.mtu
        frames = decision.transform(
            replies,
            error_reply=lambda error: device.error_reply(command, error),
            push_frame=device.push_frame,
        )
        if decision.drop_before_reply:
            # The link is gone at once (later writes fail); the callback still comes soon.
            entry.drop_link("link dropped before the reply (injected fault)")
            return
        if decision.delay > 0:
            assert self._loop is not None
            generation = self._generation
            timer = self._loop.call_later(
                decision.delay, self._release_later, generation, frames, decision.drop_after_reply
            )
            self._timers.add(timer)
            return
        self._release(frames, drop_after=decision.drop_after_reply)

    def _release_later(self, generation: int, frames: list[bytes], drop_after: bool) -> None:
        if generation == self._generation:
            self._release(frames, drop_after=drop_after)

    def _release(self, frames: list[bytes], *, drop_after: bool = False) -> None:
        """Schedule ``frames`` as MTU-3 notifications, each in its own loop turn."""
        entry = self._entry
        if entry is None:
            return
        size = self._write_limit()
        for frame in frames:
            for offset in range(0, len(frame), size):
                self._soon(self._notify, frame[offset : offset + size])
        if drop_after:
            self._soon(entry.drop_link, "link dropped after the reply (injected fault)")

    def _soon(self, callback: Any, argument: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon(self._if_current, self._generation, callback, argument)

    def _if_current(self, generation: int, callback: Any, argument: Any) -> None:
        # Work scheduled for a connection that has since ended is void.
        if generation == self._generation and self._entry is not None:
            callback(argument)

    def _notify(self, chunk: bytes) -> None:
        if self._callback is None:
            logger.debug("%s: notification dropped, nobody subscribed", self.address)
            return
        self._callback(bytearray(chunk))

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval)
            entry = self._entry
            if entry is None:
                return
            try:
                pushes = entry.device.take_pushes()
            except Exception:
                logger.exception("%s: take_pushes() failed", self.address)
                continue
            self._release(pushes)
