"""A BlueZ double: ``org.bluez`` on a private D-Bus, hosting the simulator's devices.

To bleak's own Linux backend — unmodified, no ``backend=`` — this process *is*
``bluetoothd``: it owns ``org.bluez``, exports an adapter, lets devices appear while a
client discovers, connects them, serves their GATT table and sends notifications as
``PropertiesChanged`` signals. It keeps the rules of bluetoothd that matter to a lab
(docs/tiers.md):

* one discovery session per client and adapter (a second ``StartDiscovery`` from the
  same connection is ``org.bluez.Error.InProgress``); a session ends when its client
  leaves the bus;
* devices found by discovery are temporary: they vanish ``temporary_timeout`` seconds
  after the last discovery on their adapter stops, unless connected;
* the link belongs to the daemon: a client that dies leaves the device connected, and
  a connected device does not advertise;
* ``Connect``: ``Connected`` true, GATT objects exported, ``ServicesResolved`` true,
  then the reply; ``Disconnect`` (or a drop on the device side) reverses it and removes
  the GATT objects;
* every characteristic reports the link's ``MTU``; a write longer than MTU−3 is
  ``Failed "Failed to initiate write"``, a write request on the write-without-response
  characteristic ``NotPermitted``;
* notifications flow only while some client has called ``StartNotify``.

The device side of each link is :class:`~ttlock_hil.harness.sim.peripheral.PeripheralLink`,
the same code the in-process backend runs, so faults behave alike on both tiers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus

from ..air import Air, OnAir
from ..faults import Fault
from ..gatt_table import CCCD, ServiceSpec, gatt_table
from ..peripheral import InjectedWriteFailure, PeripheralLink
from .interfaces import (
    ERROR_FAILED,
    ERROR_IN_PROGRESS,
    ERROR_NOT_CONNECTED,
    ERROR_NOT_PERMITTED,
    AdapterInterface,
    CharacteristicInterface,
    DescriptorInterface,
    DeviceInterface,
    MonitorManagerInterface,
    ServiceInterface1,
)

__all__ = ["BUS_NAME", "BluezDouble", "DoubleTiming", "HostedDevice", "device_path"]

logger = logging.getLogger(__name__)

BUS_NAME: Final = "org.bluez"
_ADAPTER_IFACE: Final = "org.bluez.Adapter1"
_MONITOR_IFACE: Final = "org.bluez.AdvertisementMonitorManager1"
_CHAR_IFACE: Final = "org.bluez.GattCharacteristic1"
_DBUS: Final = "org.freedesktop.DBus"


@dataclass(frozen=True, slots=True)
class DoubleTiming:
    """Radio-like knobs; the defaults keep tests fast.

    ``advert_interval``: seconds between two adverts of a device while a client
    discovers. ``att_delay``: seconds each ATT operation (write, read, notification)
    takes. ``temporary_timeout``: seconds a discovered device stays after discovery
    stops (bluetoothd: 30). ``connect_wait``: how long ``Connect`` waits for a device
    that does not advertise before it fails like BlueZ (``le-connection-abort-by-local``).
    """

    advert_interval: float = 0.05
    att_delay: float = 0.0
    temporary_timeout: float = 30.0
    connect_wait: float = 10.0


def device_path(adapter_path: str, address: str) -> str:
    """BlueZ's object path of a device: ``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF``."""
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


class HostedDevice:
    """One device of the air as BlueZ shows it: a ``Device1`` object and, while
    connected, its GATT objects. It is the air's central for its device (the daemon
    owns the link, whichever client asked for it)."""

    def __init__(self, double: BluezDouble, entry: OnAir, adapter_path: str) -> None:
        self.double = double
        self.entry = entry
        self.adapter_path = adapter_path
        self.address = entry.address
        self.path = device_path(adapter_path, self.address)
        self.connected = False
        self.services_resolved = False
        self.exported = False
        self.link: PeripheralLink | None = None
        self.rssi = -60
        self.advert_name = entry.name
        self.service_uuids: list[str] = []
        self.manufacturer_data: dict[int, bytes] = {}
        self.interface = DeviceInterface(self)
        self._gatt: list[tuple[str, Any]] = []
        self._notify: CharacteristicInterface | None = None
        self._notify_path = ""
        self.subscribers: dict[str, set[str]] = {}  # characteristic path -> client names
        self._removal: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._abort = asyncio.Event()
        self.refresh_advert()

    def __repr__(self) -> str:
        return f"HostedDevice({self.advert_name!r}, {self.address}, connected={self.connected})"

    # --- adverts --------------------------------------------------------------------

    def refresh_advert(self) -> None:
        advert = self.entry.device.advertisement()
        self.advert_name = advert.local_name
        self.service_uuids = list(advert.service_uuids)
        self.manufacturer_data = dict(advert.manufacturer_data)
        self.rssi = advert.rssi

    def advertise(self, bus: MessageBus) -> None:
        """One advert: the object appears (first time) or its properties change."""
        self.refresh_advert()
        self.cancel_removal()
        if not self.exported:
            bus.export(self.path, self.interface)
            self.exported = True
            return
        self.interface.emit_properties_changed(
            {
                "RSSI": self.rssi,
                "ManufacturerData": self.interface.ManufacturerData,
                "Name": self.advert_name,
            }
        )

    def schedule_removal(self, loop: asyncio.AbstractEventLoop, after: float) -> None:
        if self.exported and not self.connected and self._removal is None:
            self._removal = loop.call_later(after, self.double.forget, self)

    def cancel_removal(self) -> None:
        if self._removal is not None:
            self._removal.cancel()
            self._removal = None

    # --- the link -------------------------------------------------------------------

    async def connect(self) -> None:
        """``Device1.Connect``: BlueZ's order of signals, then the method returns."""
        if self.connected:
            return
        if self._connecting is not None:  # a second client asked meanwhile: same link
            await asyncio.shield(self._connecting)
            return
        self._connecting = asyncio.current_task()
        self._abort = asyncio.Event()
        try:
            await self._connect()
        finally:
            self._connecting = None

    async def _page(self, seconds: float) -> None:
        """Wait for a lock that does not answer the page: ``seconds``, or until a client's
        ``Disconnect`` cancels the attempt (bluetoothd's rule; bleak sends one when its own
        connect timeout passes). Either way the attempt fails as BlueZ's does."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._abort.wait(), seconds)
        raise DBusError(ERROR_FAILED, "le-connection-abort-by-local")

    async def _connect(self) -> None:
        entry, timing = self.entry, self.double.timing
        if entry.faults.take(Fault.CONNECT_TIMEOUT) is not None:
            await self._page(timing.connect_wait)
        loop = asyncio.get_running_loop()
        if entry.faults.take(Fault.NOT_ADVERTISING) is not None:
            await self._page(timing.connect_wait)  # the lock never answers the page
        deadline = loop.time() + timing.connect_wait
        while not entry.advertising:  # out of range, or held by another central
            if loop.time() >= deadline or self._abort.is_set():
                raise DBusError(ERROR_FAILED, "le-connection-abort-by-local")
            await asyncio.sleep(0.01)
        entry.claim(self)
        self.cancel_removal()
        self.link = PeripheralLink(entry, loop=loop, deliver=self._deliver, mtu=entry.mtu)
        self.connected = True
        self.interface.emit_properties_changed({"Connected": True})
        self._export_gatt()
        await self._att_pause()
        self.services_resolved = True
        self.interface.emit_properties_changed({"ServicesResolved": True})

    async def disconnect(self) -> None:
        """``Device1.Disconnect`` by a client; during a ``Connect`` it cancels that attempt."""
        if self._connecting is not None and not self.connected:
            self._abort.set()
            return
        await self._att_pause()
        self.entry.release(self)  # tells the device; link_lost is not called for our own
        self._teardown()

    def link_lost(self, reason: str) -> None:
        """The device dropped the link (the air calls this): as BlueZ reports a drop."""
        logger.debug("%s: link lost: %s", self.address, reason)
        self._teardown()

    def _teardown(self) -> None:
        if not self.connected:
            return
        link, self.link = self.link, None
        if link is not None:
            link.close()
        self._unexport_gatt()
        self.services_resolved = False
        self.interface.emit_properties_changed({"ServicesResolved": False})
        self.connected = False
        self.interface.emit_properties_changed({"Connected": False})
        if not self.double.discovering:
            # Temporary again: it goes unless a discovery sees it (bluetoothd's rule).
            self.schedule_removal(asyncio.get_running_loop(), self.double.timing.temporary_timeout)

    async def _att_pause(self) -> None:
        if self.double.timing.att_delay > 0:
            await asyncio.sleep(self.double.timing.att_delay)

    # --- GATT -----------------------------------------------------------------------

    def _export_gatt(self) -> None:
        faults = self.entry.faults
        without: set[str] = set()
        if faults.take(Fault.SERVICE_MISSING) is not None:
            without.add("service")
        missing = faults.take(Fault.CHARACTERISTIC_MISSING)
        if missing is not None:
            without |= {missing.characteristic} if missing.characteristic else {"write", "notify"}
        device = self.entry.device

        def battery() -> int | None:
            level = getattr(device, "battery", None)  # read live: the bench may change it
            return level if isinstance(level, int) else None

        table = gatt_table(device, battery=battery, without=frozenset(without))
        bus = self.double.bus
        for service in table:
            self._export_service(bus, service)

    def _export_service(self, bus: MessageBus, service: ServiceSpec) -> None:
        service_path = f"{self.path}/service{service.handle:04x}"
        self._add(bus, service_path, ServiceInterface1(service.uuid, self.path))
        for spec in service.characteristics:
            char_path = f"{service_path}/char{spec.handle:04x}"
            write = self._write if spec.role == "write" else None
            iface = CharacteristicInterface(
                uuid=spec.uuid,
                service_path=service_path,
                flags=spec.flags,
                mtu=self._mtu,
                read=spec.read,
                write=write,
                att_delay=lambda: self.double.timing.att_delay,
            )
            self._add(bus, char_path, iface)
            if spec.role == "notify":
                self._notify, self._notify_path = iface, char_path
            self.subscribers[char_path] = set()
            if spec.cccd_handle is not None:
                desc_path = f"{char_path}/desc{spec.cccd_handle:04x}"
                self._add(bus, desc_path, DescriptorInterface(CCCD, char_path))

    def _add(self, bus: MessageBus, path: str, interface: Any) -> None:
        bus.export(path, interface)
        self._gatt.append((path, interface))

    def _unexport_gatt(self) -> None:
        bus = self.double.bus
        for path, _ in reversed(self._gatt):
            bus.unexport(path)
        self._gatt.clear()
        self.subscribers.clear()
        self._notify, self._notify_path = None, ""

    def characteristic(self, path: str) -> CharacteristicInterface | None:
        for own, interface in self._gatt:
            if own == path and isinstance(interface, CharacteristicInterface):
                return interface
        return None

    def _mtu(self) -> int:
        return self.link.mtu if self.link is not None else self.entry.mtu

    async def _write(self, value: bytes, options: dict[str, Any]) -> None:
        link = self.link
        if link is None:
            raise DBusError(ERROR_NOT_CONNECTED, "Not connected")
        if options.get("type", "command") != "command":
            raise DBusError(ERROR_NOT_PERMITTED, "Write not permitted")  # write-without-response
        if len(value) > link.write_limit:
            raise DBusError(ERROR_FAILED, "Failed to initiate write")
        await self._att_pause()
        mtu = link.mtu
        try:
            link.write(value)
        except InjectedWriteFailure:
            raise DBusError(ERROR_FAILED, "Failed to initiate write") from None
        if link.mtu != mtu:
            self.mtu_changed()

    def mtu_changed(self) -> None:
        """A fault changed the link's MTU: bleak re-reads it from the characteristics."""
        for _, interface in self._gatt:
            if isinstance(interface, CharacteristicInterface):
                interface.emit_properties_changed({"MTU": self._mtu()})

    def _deliver(self, chunk: bytes) -> None:
        notify = self._notify
        if notify is None or not self.subscribers.get(self._notify_path):
            logger.debug("%s: notification dropped, nobody subscribed", self.address)
            return
        delay = self.double.timing.att_delay
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._emit_value, notify, chunk)
        else:
            self._emit_value(notify, chunk)

    def _emit_value(self, notify: CharacteristicInterface, chunk: bytes) -> None:
        if self._notify is notify and notify.notifying:
            notify.value = chunk
            notify.emit_properties_changed({"Value": chunk})

    def start_notify(self, client: str, path: str) -> None:
        char = self.characteristic(path)
        if char is None or ("notify" not in char.Flags and "indicate" not in char.Flags):
            raise DBusError(ERROR_NOT_PERMITTED, "Notify not supported")
        if path == self._notify_path and self.entry.faults.take(Fault.NOTIFY_FAILED) is not None:
            raise DBusError(ERROR_FAILED, "Operation failed with ATT error: 0x0e")
        self.subscribers.setdefault(path, set()).add(client)
        if not char.notifying:
            char.notifying = True
            char.emit_properties_changed({"Notifying": True})

    def stop_notify(self, client: str, path: str) -> None:
        char = self.characteristic(path)
        if char is None:
            raise DBusError(ERROR_FAILED, "No notify session started")
        clients = self.subscribers.get(path, set())
        clients.discard(client)
        if not clients and char.notifying:
            char.notifying = False
            char.emit_properties_changed({"Notifying": False})

    def client_left(self, client: str) -> None:
        for path, clients in self.subscribers.items():
            if client in clients:
                self.stop_notify(client, path)


class BluezDouble:
    """``org.bluez`` for the devices of ``air``, on the bus at ``bus_address``.

    ``adapters`` maps adapter names (``hci0``) to their addresses; every device is
    reachable from each adapter's discovery, and belongs (``Device1.Adapter``) to the
    first one.
    """

    def __init__(
        self,
        air: Air,
        *,
        adapters: dict[str, str] | None = None,
        timing: DoubleTiming | None = None,
    ) -> None:
        self.air = air
        self.timing = timing if timing is not None else DoubleTiming()
        self.adapter_addresses = dict(adapters or {"hci0": "00:1A:7D:DA:71:13"})
        self.adapters: dict[str, AdapterInterface] = {}
        self.devices: dict[str, HostedDevice] = {}
        self._sessions: dict[str, set[str]] = {}  # adapter name -> clients discovering
        self._bus: MessageBus | None = None
        self._advertiser: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.control: Any = None  # the control interface, exported by the caller

    @property
    def bus(self) -> MessageBus:
        if self._bus is None:
            raise RuntimeError("the BlueZ double is not started")
        return self._bus

    async def start(self, bus_address: str) -> None:
        """Connect to the bus, export the adapters and take the name ``org.bluez``."""
        bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
        self._bus = bus
        first = next(iter(self.adapter_addresses))
        for name, address in self.adapter_addresses.items():
            adapter = AdapterInterface(self, name, address)
            self.adapters[name] = adapter
            bus.export(f"/org/bluez/{name}", adapter)
            bus.export(f"/org/bluez/{name}", MonitorManagerInterface())
            self._sessions[name] = set()
        for entry in self.air:
            self.devices[entry.address] = HostedDevice(self, entry, f"/org/bluez/{first}")
        bus.add_message_handler(self._on_message)
        await bus.call(
            Message(
                destination=_DBUS,
                path="/org/freedesktop/DBus",
                interface=_DBUS,
                member="AddMatch",
                signature="s",
                body=[f"type='signal',sender='{_DBUS}',member='NameOwnerChanged'"],
            )
        )
        await bus.request_name(BUS_NAME)
        bus_done = bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        asyncio.get_running_loop().create_task(self._watch_bus(bus_done))

    async def _watch_bus(self, done: Awaitable[None]) -> None:
        with contextlib.suppress(Exception):
            await done
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def vanish(self) -> None:
        """Leave the bus without a word, as a crashing bluetoothd does (links die with it)."""
        for hosted in self.devices.values():
            hosted.cancel_removal()
            if hosted.link is not None:
                hosted.link.close()
        if self._bus is not None:
            self._bus.disconnect()

    async def stop(self) -> None:
        advertiser, self._advertiser = self._advertiser, None
        if advertiser is not None:
            advertiser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await advertiser
        for hosted in self.devices.values():
            hosted.cancel_removal()
            if hosted.link is not None:
                hosted.link.close()
        if self._bus is not None:
            self._bus.disconnect()
        self._stopped.set()

    # --- messages that depend on the caller -------------------------------------------

    def _on_message(self, msg: Message) -> Message | bool | None:
        if msg.message_type is MessageType.SIGNAL:
            if msg.member == "NameOwnerChanged" and msg.sender == _DBUS:
                name, _old, new = msg.body
                if not new and name.startswith(":"):
                    self._client_left(name)
            return None
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        handler = _CALLER_AWARE.get((msg.interface or "", msg.member or ""))
        if handler is None:
            return None
        try:
            handler(self, msg)
        except DBusError as exc:
            return Message.new_error(msg, exc.type, exc.text)
        return Message.new_method_return(msg)

    def _adapter_of(self, msg: Message) -> str:
        name = (msg.path or "").rsplit("/", 1)[-1]
        if name not in self.adapters:
            raise DBusError("org.freedesktop.DBus.Error.UnknownObject", f"no adapter {msg.path}")
        return name

    def _start_discovery(self, msg: Message) -> None:
        adapter = self._adapter_of(msg)
        clients = self._sessions[adapter]
        if msg.sender in clients:
            raise DBusError(ERROR_IN_PROGRESS, "Operation already in progress")
        clients.add(msg.sender or "")
        self._discovery_changed(adapter)

    def _stop_discovery(self, msg: Message) -> None:
        adapter = self._adapter_of(msg)
        clients = self._sessions[adapter]
        if msg.sender not in clients:
            raise DBusError(ERROR_FAILED, "No discovery started")
        clients.discard(msg.sender or "")
        self._discovery_changed(adapter)

    def _register_monitor(self, msg: Message) -> None:
        """A passive scan: while a client's monitor is registered, devices advertise.

        The double does not match the monitor's patterns: every device advertises,
        and bleak filters by the patterns it gave (a TTLock lock matches its own)."""
        adapter = self._adapter_of(msg)
        session = f"{msg.sender} monitor {msg.body[0]}"
        if session in self._sessions[adapter]:
            raise DBusError("org.bluez.Error.AlreadyExists", "Already exists")
        self._sessions[adapter].add(session)
        self._discovery_changed(adapter)

    def _unregister_monitor(self, msg: Message) -> None:
        adapter = self._adapter_of(msg)
        session = f"{msg.sender} monitor {msg.body[0]}"
        if session not in self._sessions[adapter]:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does not exist")
        self._sessions[adapter].discard(session)
        self._discovery_changed(adapter)

    def _characteristic_call(self, msg: Message, start: bool) -> None:
        path = msg.path or ""
        hosted = self._device_of(path)
        if hosted is None or not hosted.connected:
            raise DBusError(ERROR_NOT_CONNECTED, "Not connected")
        if start:
            hosted.start_notify(msg.sender or "", path)
        else:
            hosted.stop_notify(msg.sender or "", path)

    def _device_of(self, path: str) -> HostedDevice | None:
        for hosted in self.devices.values():
            if path.startswith(hosted.path + "/") or path == hosted.path:
                return hosted
        return None

    def _client_left(self, client: str) -> None:
        for adapter, clients in self._sessions.items():
            gone = {s for s in clients if s == client or s.startswith(f"{client} monitor ")}
            if gone:
                clients.difference_update(gone)
                self._discovery_changed(adapter)
        for hosted in self.devices.values():
            hosted.client_left(client)

    # --- discovery --------------------------------------------------------------------

    @property
    def discovering(self) -> bool:
        return any(self._sessions.values())

    def set_discovery_filter(self, adapter: str, properties: dict[str, Any]) -> None:
        transport = properties.get("Transport")
        if transport is not None and transport.value not in ("le", "auto"):
            raise DBusError(ERROR_NOT_PERMITTED, "only LE devices here")

    def _discovery_changed(self, adapter_name: str) -> None:
        adapter = self.adapters[adapter_name]
        # Discovering is the active scan; a passive monitor scans without it.
        active = any(" monitor " not in session for session in self._sessions[adapter_name])
        if active != adapter.discovering:
            adapter.discovering = active
            adapter.emit_properties_changed({"Discovering": active})
        loop = asyncio.get_running_loop()
        if any(self._sessions.values()):
            if self._advertiser is None:
                self._advertiser = loop.create_task(self._advertise_forever(), name="bluez-adverts")
        else:
            if self._advertiser is not None:
                self._advertiser.cancel()
                self._advertiser = None
            for hosted in self.devices.values():
                hosted.schedule_removal(loop, self.timing.temporary_timeout)

    async def _advertise_forever(self) -> None:
        # Fault.NOT_ADVERTISING is taken once per discovery, as tier 1 takes it once
        # per scan: the device stays silent for the whole of this discovery.
        silent = {
            address
            for address, hosted in self.devices.items()
            if hosted.entry.faults.take(Fault.NOT_ADVERTISING) is not None
        }
        while True:
            for address, hosted in list(self.devices.items()):
                entry = hosted.entry
                if address in silent or not entry.advertising or hosted.connected:
                    continue
                try:
                    hosted.advertise(self.bus)
                except Exception:  # one broken model must not silence the others
                    logger.exception("%s: advertising failed", hosted.address)
            await asyncio.sleep(self.timing.advert_interval)

    def forget(self, hosted: HostedDevice) -> None:
        """A temporary device's time is up (or ``RemoveDevice``): its object goes."""
        hosted.cancel_removal()
        if hosted.connected or not hosted.exported:
            return
        self.bus.unexport(hosted.path)
        hosted.exported = False

    def remove_device(self, path: str) -> None:
        hosted = self._device_of(path)
        if hosted is None or not hosted.exported:
            raise DBusError("org.bluez.Error.DoesNotExist", f"no device {path}")
        if hosted.connected:
            hosted.entry.release(hosted)
            hosted.link_lost("removed by RemoveDevice")
        self.forget(hosted)


_CALLER_AWARE: Final[dict[tuple[str, str], Callable[[BluezDouble, Message], None]]] = {
    (_ADAPTER_IFACE, "StartDiscovery"): BluezDouble._start_discovery,
    (_ADAPTER_IFACE, "StopDiscovery"): BluezDouble._stop_discovery,
    (_MONITOR_IFACE, "RegisterMonitor"): BluezDouble._register_monitor,
    (_MONITOR_IFACE, "UnregisterMonitor"): BluezDouble._unregister_monitor,
    (_CHAR_IFACE, "StartNotify"): lambda double, msg: double._characteristic_call(msg, True),
    (_CHAR_IFACE, "StopNotify"): lambda double, msg: double._characteristic_call(msg, False),
}
