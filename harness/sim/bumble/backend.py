"""bleak backends on a Bumble central: bleak's public API over a real host stack (tier 3).

Hand the classes to bleak as ``backend=``, bound to where the central comes from::

    scanner = BumbleScannerBackend.bind(source)      # source: a BumbleTier (radio.py)
    client = BumbleClientBackend.bind(source)
    device = await BleakScanner.find_device_by_address(mac, backend=scanner)
    async with BleakClient(device, backend=client) as bleak_client:
        ...

``source`` is anything with ``async central() -> BumbleCentral`` (:class:`CentralSource`);
the central is built in the running loop on first use. How bleak's calls map onto Bumble
(bumble 0.0.236, read at the source):

=============================  =============================================================
bleak                          Bumble
=============================  =============================================================
scanner ``start``/``stop``     ``Device.start_scanning``/``stop_scanning``, shared by scanners
                               (:class:`~ttlock_hil.harness.sim.bumble.central.BumbleCentral`),
                               ``advertisement`` events merged with their scan responses
``connect``                    ``Device.connect(address, timeout=)``, then ``Peer.request_mtu``
                               and service, characteristic and descriptor discovery
``services``                   built from the discovered proxies: handles are ATT value
                               handles (fff4 0x000E, fff2 0x0011), UUIDs normalised
``read_gatt_char``             ``Peer.read_value(handle)``
``write_gatt_char``            ``Peer.write_value(handle, data, with_response=)``
``start_notify``/``stop``      ``Peer.subscribe``/``unsubscribe`` (CCCD write requests)
``mtu_size``                   ``Connection.att_mtu``
disconnected callback          the connection's ``disconnection`` event, unless we hung up
=============================  =============================================================

Pitfalls handled (issue 19, each reproduced):

* a connect to an absent device times out within its deadline and leaves the controller
  ready for the next one (the central cancels; :class:`SimController` completes the
  cancel);
* ``bumble.core.TimeoutError`` is not the builtin: a connect that times out raises the
  builtin ``TimeoutError`` (or ``BleakDeviceNotFoundError`` when connecting by address
  string, as bleak's OS backends do); ``ATT_Error`` becomes ``BleakGATTProtocolError``
  with its code, any other Bumble error a ``BleakError``;
* a request in flight when the link drops comes out of Bumble as ``CancelledError``
  (Bumble cancels the pending response): unless this task itself is being cancelled it
  becomes a ``BleakError`` (the harness maps it to 10003), never a cancellation;
* writes longer than MTU−3 are refused before they are sent, as BlueZ does (bleak itself
  does not check, docs/architecture.md §12.6);
* a characteristic object from an earlier connection holds a dead Bumble proxy: every
  operation resolves its handle on the current connection instead;
* every await has a deadline: the connect timeout, or :data:`GATT_TIMEOUT_S` per request
  (Bumble's own is 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Final, Protocol, cast

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)
from bleak.uuids import normalize_uuid_str
from bumble import att, hci
from bumble import core as bumble_core
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy

from .central import BumbleCentral, Sighting, is_up

__all__ = [
    "GATT_TIMEOUT_S",
    "BumbleClientBackend",
    "BumbleScannerBackend",
    "CentralSource",
    "advertisement_data",
    "bleak_uuid",
]

logger = logging.getLogger(__name__)

GATT_TIMEOUT_S: Final = 10.0
"""Deadline of one GATT request after connecting (reads, writes, subscriptions)."""
_CONNECT_MARGIN_S: Final = 0.05
"""Of the connect timeout, what Bumble's own timeout leaves for its cancel to complete."""

_PROPERTY_NAMES: Final = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)
_UUID16_LISTS: Final = (
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
)
_UUID32_LISTS: Final = (
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
)
_UUID128_LISTS: Final = (
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


class CentralSource(Protocol):
    """Where the backends get their central: built in the running loop on first use."""

    async def central(self) -> BumbleCentral: ...


def _source(
    source: CentralSource | None, cls: type[object], default: CentralSource | None
) -> CentralSource:
    chosen = source if source is not None else default
    if chosen is None:
        raise BleakError(
            f"{cls.__name__} needs a central: use backend={cls.__name__}.bind(source), "
            "source being a ttlock_hil.harness.sim.bumble.BumbleTier"
        )
    return chosen


def bleak_uuid(uuid: UUID) -> str:
    """A Bumble UUID in bleak's form: 128-bit, lower case."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def _uuid_list(data: bytes, size: int) -> list[str]:
    found = []
    for offset in range(0, len(data) - size + 1, size):
        found.append(bleak_uuid(UUID.from_bytes(data[offset : offset + size])))
    return found


def advertisement_data(sighting: Sighting) -> AdvertisementData:
    """bleak's view of what the central saw of one advertiser (advert and scan response)."""
    name: str | None = None
    shortened: str | None = None
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    uuids: list[str] = []
    tx_power: int | None = None
    for ad_type, data in sighting.structures:
        if ad_type == AdvertisingData.COMPLETE_LOCAL_NAME:
            name = data.decode("utf-8", errors="replace")
        elif ad_type == AdvertisingData.SHORTENED_LOCAL_NAME:
            shortened = data.decode("utf-8", errors="replace")
        elif ad_type == AdvertisingData.MANUFACTURER_SPECIFIC_DATA and len(data) >= 2:
            manufacturer[int.from_bytes(data[:2], "little")] = data[2:]
        elif ad_type in _UUID16_LISTS:
            uuids += _uuid_list(data, 2)
        elif ad_type in _UUID32_LISTS:
            uuids += _uuid_list(data, 4)
        elif ad_type in _UUID128_LISTS:
            uuids += _uuid_list(data, 16)
        elif ad_type == AdvertisingData.SERVICE_DATA_16_BIT_UUID and len(data) >= 2:
            service_data[bleak_uuid(UUID.from_bytes(data[:2]))] = data[2:]
        elif ad_type == AdvertisingData.TX_POWER_LEVEL and data:
            tx_power = int.from_bytes(data[:1], "little", signed=True)
    return AdvertisementData(
        local_name=name if name is not None else shortened,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=list(dict.fromkeys(uuids)),
        tx_power=tx_power,
        rssi=sighting.rssi,
        platform_data=(sighting,),
    )


class BumbleScannerBackend(BaseBleakScanner):
    """bleak scanner backend on a Bumble central (see the module docstring).

    Keyword arguments (through ``BleakScanner(..., backend=..., source=...)``): ``source``,
    unless :meth:`bind` preset it.
    """

    default_source: ClassVar[CentralSource | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        source: CentralSource | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._source = _source(source, type(self), self.default_source)
        self._active = scanning_mode != "passive"
        self._central: BumbleCentral | None = None

    @classmethod
    def bind(cls, source: CentralSource) -> type[BumbleScannerBackend]:
        """A subclass whose ``source`` defaults to ``source``."""
        return cast(
            type[BumbleScannerBackend], type(cls.__name__, (cls,), {"default_source": source})
        )

    async def start(self) -> None:
        await self.stop()
        self.seen_devices = {}
        central = await self._source.central()
        async with _bumble_errors("starting a scan"):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await central.watch(self, self._on_sighting, active=self._active)
        self._central = central

    async def stop(self) -> None:
        central, self._central = self._central, None
        if central is None:
            return
        async with _bumble_errors("stopping a scan"):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await central.unwatch(self)

    def _on_sighting(self, sighting: Sighting) -> None:
        data = advertisement_data(sighting)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        device = self.create_or_update_device(
            sighting.key, sighting.key, data.local_name, sighting, data
        )
        self.call_detection_callbacks(device, data)


@contextlib.asynccontextmanager
async def _bumble_errors(what: str, address: str = "") -> AsyncIterator[None]:
    """Bumble's errors as bleak's (see the module docstring's pitfalls)."""
    where = f" ({address})" if address else ""
    try:
        yield
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task is being cancelled: not ours to swallow
        # Bumble cancels the pending response when the link drops (pitfall 3).
        raise BleakError(
            f"{what}{where}: the link dropped while the request was in flight"
        ) from None
    except att.ATT_Error as exc:
        raise BleakGATTProtocolError(exc.error_code) from exc
    except bumble_core.TimeoutError as exc:
        raise TimeoutError(f"{what}{where} timed out in Bumble: {exc}") from exc
    except bumble_core.BaseBumbleError as exc:
        raise BleakError(f"{what}{where} failed: {type(exc).__name__}: {exc}") from exc


def _property_names(properties: int) -> list[Any]:
    return [name for flag, name in _PROPERTY_NAMES if properties & flag]


class BumbleClientBackend(BaseBleakClient):
    """bleak client backend on a Bumble central (see the module docstring).

    Keyword arguments (through ``BleakClient(..., backend=..., source=...)``): ``source``
    unless :meth:`bind` preset it.
    """

    default_source: ClassVar[CentralSource | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        source: CentralSource | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, **kwargs)
        self._source = _source(source, type(self), self.default_source)
        self._by_address = not isinstance(address_or_ble_device, BLEDevice)
        details = None if self._by_address else cast(BLEDevice, address_or_ble_device).details
        self._peer_address = (
            details.address
            if isinstance(details, Sighting)
            else hci.Address(self.address.upper(), hci.Address.RANDOM_DEVICE_ADDRESS)
        )
        self._advertised_name = (
            None if self._by_address else cast(BLEDevice, address_or_ble_device).name
        )
        self._central: BumbleCentral | None = None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._proxies: dict[int, Any] = {}
        self._subscribers: dict[int, Any] = {}  # value handle -> our notification callback
        self._closing = False

    @classmethod
    def bind(cls, source: CentralSource) -> type[BumbleClientBackend]:
        """A subclass whose ``source`` defaults to ``source``."""
        return cast(
            type[BumbleClientBackend], type(cls.__name__, (cls,), {"default_source": source})
        )

    # --- properties ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._advertised_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        connection = self._connection
        return connection.att_mtu if connection is not None else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # --- connection ------------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover the GATT table within the timeout."""
        if self._connection is not None:
            return
        if pair:
            logger.info("%s: TTLock devices do not bond; pair=True ignored", self.address)
        timeout = float(kwargs.get("timeout", self._timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection: Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                central = await self._source.central()
                self._central = central
                remaining = deadline - loop.time()
                # Bumble's own timeout comes first, so its cancel completes within ours.
                bumble_timeout = max(0.001, remaining - min(_CONNECT_MARGIN_S, remaining / 4))
                async with _bumble_errors("connecting", self.address):
                    connection = await central.connect(self._peer_address, within=bumble_timeout)
                self._attach(connection)
                async with _bumble_errors("setting up the link", self.address):
                    await self._set_up(connection)
        except TimeoutError as exc:
            await self._abandon(connection)
            if self._by_address and connection is None:
                raise BleakDeviceNotFoundError(
                    self.address,
                    f"Device with address {self.address} was not found within {timeout:g} s",
                ) from exc
            raise TimeoutError(
                f"connecting to {self.address} timed out after {timeout:g} s"
            ) from exc
        except BaseException:
            await self._abandon(connection)
            raise
        if self._connection is None:  # dropped during the set-up, after the last await
            raise BleakError(f"{self.address}: the link dropped while connecting")

    def _attach(self, connection: Connection) -> None:
        self._connection = connection
        self._closing = False
        connection.on(
            Connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )

    async def _set_up(self, connection: Connection) -> None:
        assert self._central is not None
        peer = Peer(connection)
        self._peer = peer
        await peer.request_mtu(self._central.mtu)
        collection = BleakGATTServiceCollection()
        proxies: dict[int, Any] = {}
        for service in await peer.discover_services():
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in await service.discover_characteristics():
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    bleak_uuid(char.uuid),
                    _property_names(char.properties),
                    self._write_limit,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                proxies[char.handle] = char
                for descriptor in await char.discover_descriptors():
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(descriptor.type), bleak_char
                        )
                    )
                    proxies[descriptor.handle] = descriptor
        if self._connection is connection:
            self._proxies = proxies
            self.services = collection

    def _write_limit(self) -> int:
        return self.mtu_size - 3

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is not self._connection:
            return
        solicited = self._closing
        self._detach()
        logger.debug("%s: disconnected (reason 0x%02X)", self.address, reason)
        if not solicited and self._disconnected_callback is not None:
            try:
                self._disconnected_callback()
            except Exception:  # must not break Bumble's event dispatch
                logger.exception("%s: the disconnected callback failed", self.address)

    def _detach(self) -> None:
        self._connection = None
        self._peer = None
        self._proxies = {}
        self._subscribers = {}
        self.services = None

    async def _abandon(self, connection: Connection | None) -> None:
        """Undo a half-made connection (bounded; errors are logged, not raised)."""
        if connection is None:
            return
        self._closing = True
        if self._central is not None:
            self._central.release(connection)
        self._detach()
        if not is_up(connection):
            return
        try:
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await connection.disconnect()
        except (bumble_core.BaseBumbleError, TimeoutError) as exc:
            logger.debug("%s: hanging up a half-made link: %s", self.address, exc)

    async def disconnect(self) -> None:
        """Client-initiated disconnect: the disconnected callback is *not* called."""
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        if self._central is not None:
            self._central.release(connection)
        try:
            if is_up(connection):
                async with _bumble_errors("disconnecting", self.address):
                    async with asyncio.timeout(GATT_TIMEOUT_S):
                        await connection.disconnect()
        finally:
            if self._connection is connection:
                self._detach()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pair() is not supported: TTLock devices do not use BLE bonding")

    async def unpair(self) -> None:
        raise BleakError("unpair() is not supported: TTLock devices do not use BLE bonding")

    # --- GATT I/O ----------------------------------------------------------------------

    def _resolve(self, handle: int, specifier: str) -> tuple[Peer, Any]:
        """The live proxy for ``handle`` on the current connection (pitfall 6)."""
        peer = self._peer
        if peer is None or self._connection is None:
            raise BleakError("Not connected")
        proxy = self._proxies.get(handle)
        if proxy is None:
            raise BleakCharacteristicNotFoundError(specifier)
        return peer, proxy

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer, _ = self._resolve(characteristic.handle, characteristic.uuid)
        async with _bumble_errors(f"reading {characteristic.uuid}", self.address):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                return bytearray(await peer.read_value(characteristic.handle))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer, _ = self._resolve(descriptor.handle, descriptor.uuid)
        async with _bumble_errors(f"reading descriptor {descriptor.uuid}", self.address):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                return bytearray(await peer.read_value(descriptor.handle))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer, _ = self._resolve(characteristic.handle, characteristic.uuid)
        value = bytes(memoryview(data))
        limit = self._write_limit()
        if not response and len(value) > limit:
            # BlueZ refuses this locally too ("Failed to initiate write").
            raise BleakError(
                f"write of {len(value)} bytes exceeds max_write_without_response_size {limit} "
                f"(ATT MTU {self.mtu_size} - 3): split frames into chunks of at most {limit} bytes"
            )
        async with _bumble_errors(f"writing {characteristic.uuid}", self.address):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await peer.write_value(characteristic.handle, value, with_response=response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer, _ = self._resolve(descriptor.handle, descriptor.uuid)
        async with _bumble_errors(f"writing descriptor {descriptor.uuid}", self.address):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await peer.write_value(
                    descriptor.handle, bytes(memoryview(data)), with_response=True
                )

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer, proxy = self._resolve(characteristic.handle, characteristic.uuid)
        if not isinstance(proxy, CharacteristicProxy):
            raise BleakError(f"{characteristic.uuid} is not a characteristic")

        def delivered(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = delivered
        async with _bumble_errors(f"enabling notifications on {characteristic.uuid}", self.address):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await peer.subscribe(proxy, delivered)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer, proxy = self._resolve(characteristic.handle, characteristic.uuid)
        subscriber = self._subscribers.pop(characteristic.handle, None)
        async with _bumble_errors(
            f"disabling notifications on {characteristic.uuid}", self.address
        ):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await peer.unsubscribe(proxy, subscriber)
