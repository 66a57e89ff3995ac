"""A virtual device of the simulator as a Bumble GATT peripheral: a real ATT server, HCI below it.

:class:`BumblePeripheral` hosts one device of an :class:`~ttlock_hil.harness.sim.air.Air` on a
Bumble ``Device`` (a host stack) over any controller: Bumble's virtual one on a
:class:`~ttlock_hil.harness.sim.bumble.controller.SimLink` (tier 3 in one process), or a USB
dongle, a serial HCI board, an HCI socket (``ttlock-hil sim serve``). It is the device side
of the link; the model is not a second implementation:

* **GATT.** Each connection gets its own ATT server holding the table of
  :func:`~ttlock_hil.harness.sim.gatt_table.gatt_table` at its declared handles (a real
  S202F's, docs/protocol.md §10.4); ``Fault.SERVICE_MISSING`` and
  ``Fault.CHARACTERISTIC_MISSING`` are decided when the connection starts.
* **A real ATT server's refusals** (Bumble's server checks neither properties nor the MTU):
  a write request to a characteristic without the write property is Write Not Permitted
  (0x03), a read of one without the read property Read Not Permitted (0x02), a value
  longer than MTU−3 is Invalid Attribute Value Length (0x0D) or, for a write command (it
  has no response), dropped; a write command to anything but the command characteristic
  is dropped.
* **Writes reach the model synchronously and in order.** Bumble runs every write command
  in a task of its own and logs and drops whatever its callback raises; here the command
  characteristic's writes are taken from the ATT PDU handler itself and fed to the
  connection's :class:`~ttlock_hil.harness.sim.peripheral.PeripheralLink` (reassembly, the
  fault plan, ``device.receive()``). A model that raises is logged with its traceback and
  the device hangs up, so a crash is a dropped link, not a silent response timeout.
* **Replies and pushes** leave as MTU−3 notifications from the link's one ordered sender,
  only while the client has enabled them in the CCCD.
* **Advertising** follows the air: the device advertises its *current* advert while it is
  in range and free, stops while connected (the controller stops it) or out of range, and
  starts again after a disconnect with whatever the model advertises then (setting-mode
  bit, battery). Advert data obeys the 31-byte limit of legacy PDUs; the name, the service
  UUID and the TX power go into the scan response.
* **Link faults**, from the same fault plan as the other tiers:
  ``CONNECT_TIMEOUT`` — the device takes the link but its ATT server never answers, so the
  central's connection set-up runs into the central's deadline;
  ``NOT_ADVERTISING`` — unheard by one listener for one scan session or connection attempt
  (through the controller's ``advert_gate``, on a :class:`SimLink` only; out of range the
  device is heard by nobody there);
  ``NOTIFY_FAILED`` — the CCCD write that enables notifications on the command channel gets
  Unlikely Error (0x0E); ``WRITE_FAILED`` — a write command has no response, so the chunk
  is lost on the air and never reaches the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bumble import att, gatt_server, hci
from bumble.core import AdvertisingData, BaseBumbleError
from bumble.device import Connection, Device
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    Descriptor,
    Service,
)

from ..air import DeviceBusy, OnAir
from ..device import Advertisement
from ..faults import Fault
from ..gatt_table import CharacteristicSpec, ServiceSpec, gatt_table
from ..peripheral import DEFAULT_PUSH_INTERVAL, TASK_PREFIX, InjectedWriteFailure, PeripheralLink
from .central import is_up
from .controller import LEGACY_ADVERT_LIMIT, SimController

__all__ = [
    "AdvertTooLong",
    "BumblePeripheral",
    "PeripheralTiming",
    "advert_payloads",
]

logger = logging.getLogger(__name__)

_PROPERTIES: Final = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}
_LE_GENERAL_NO_BREDR: Final = bytes([0x06])
_HANG_UP_REASON: Final = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR
_HANG_UP_S: Final = 2.0
"""Bound on the device hanging up or stopping (a few HCI commands)."""


class AdvertTooLong(ValueError):
    """The model's advert does not fit a legacy advertising PDU (31 bytes)."""


@dataclass(frozen=True, slots=True)
class PeripheralTiming:
    """Knobs of a hosted device.

    ``advert_interval``: seconds between two adverts (a real lock: about 0.1–1 s; in one
    process 0.02 s keeps scans short). ``refresh``: how often the device looks at the air
    (range, a changed advert). ``push_interval``: how often unsolicited frames are
    collected while connected.
    """

    advert_interval: float = 0.02
    refresh: float = 0.05
    push_interval: float = DEFAULT_PUSH_INTERVAL


def _uuid_structure(uuids: list[str]) -> tuple[int, bytes] | None:
    """The AD structure listing ``uuids`` (16-bit where they are, else 128-bit)."""
    if not uuids:
        return None
    short = [u for u in (_short16(uuid) for uuid in uuids) if u is not None]
    if len(short) == len(uuids):
        return (
            AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            b"".join(value.to_bytes(2, "little") for value in short),
        )
    return (
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        b"".join(bytes.fromhex(uuid.replace("-", ""))[::-1] for uuid in uuids),
    )


def _short16(uuid: str) -> int | None:
    text = uuid.lower()
    if len(text) == 4:
        return int(text, 16)
    if (
        len(text) == 36
        and text.startswith("0000")
        and text.endswith("-0000-1000-8000-00805f9b34fb")
    ):
        return int(text[4:8], 16)
    return None


def _encoded(structures: list[tuple[int, bytes]]) -> bytes:
    return bytes(AdvertisingData(structures))


def advert_payloads(advert: Advertisement) -> tuple[bytes, bytes]:
    """The advertising data and scan response data of ``advert`` for legacy PDUs.

    Advertising data: flags and the manufacturer data (the TTLock advert,
    docs/protocol.md §6). Scan response: the service UUIDs (the vendor app scans for
    0x1910 and finds it "at least in scan responses", §6), the TX power and the name,
    shortened if it does not fit. Raises :class:`AdvertTooLong` when the advertising
    data exceeds 31 bytes.
    """
    primary: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, _LE_GENERAL_NO_BREDR)]
    for company_id, rest in advert.manufacturer_data.items():
        primary.append(
            (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, company_id.to_bytes(2, "little") + rest)
        )
    data = _encoded(primary)
    if len(data) > LEGACY_ADVERT_LIMIT:
        raise AdvertTooLong(
            f"the advert of {advert.local_name!r} needs {len(data)} bytes of advertising data; "
            f"a legacy advertising PDU carries {LEGACY_ADVERT_LIMIT}"
        )
    response: list[tuple[int, bytes]] = []
    uuids = _uuid_structure(list(advert.service_uuids))
    if uuids is not None:
        response.append(uuids)
    if advert.tx_power is not None:
        response.append((AdvertisingData.TX_POWER_LEVEL, (advert.tx_power & 0xFF).to_bytes(1)))
    name = advert.local_name.encode("utf-8")
    room = LEGACY_ADVERT_LIMIT - len(_encoded(response)) - 2
    if len(name) <= room:
        response.append((AdvertisingData.COMPLETE_LOCAL_NAME, name))
    elif room > 0:
        response.append((AdvertisingData.SHORTENED_LOCAL_NAME, name[:room]))
    return data, _encoded(response)


class _ConnectionServer(gatt_server.Server):
    """The ATT server of one connection: the device's table at its declared handles, with the
    refusals of a real server (see the module docstring)."""

    def __init__(
        self,
        device: Device,
        table: tuple[ServiceSpec, ...],
        *,
        mtu: int,
        on_command: Callable[[Any, int, bytes], None],
        on_cccd: Callable[[int, bytes], int | None],
    ) -> None:
        super().__init__(device)
        self.max_mtu = mtu
        self._on_command = on_command
        self._on_cccd = on_cccd
        self.write_handle: int | None = None
        self.notify_handle: int | None = None
        self.notify_cccd: int | None = None
        self._plan: list[int] = []
        services = [self._service(spec) for spec in table]
        for service in services:
            self.add_service(service)
        placed = [attribute.handle for attribute in self.attributes]
        if placed != self._plan:  # pragma: no cover - guards an upstream change of add_service
            raise RuntimeError(f"GATT handles {placed} differ from the table's {self._plan}")

    def next_handle(self) -> int:
        # add_service numbers attributes in the order the plan lists them: declared
        # handles instead of 1, 2, 3… (gatt_table leaves the slots of absent parts free).
        index = len(self.attributes)
        return self._plan[index] if index < len(self._plan) else super().next_handle()

    def _service(self, spec: ServiceSpec) -> Service:
        self._plan.append(spec.handle)
        return Service(spec.uuid, [self._characteristic(char) for char in spec.characteristics])

    def _characteristic(self, spec: CharacteristicSpec) -> Characteristic[Any]:
        properties = Characteristic.Properties(0)
        for flag in spec.flags:
            properties |= _PROPERTIES[flag]
        permissions = att.Attribute.Permissions(0)
        if "read" in spec.flags:
            permissions |= att.Attribute.READABLE
        if {"write", "write-without-response"} & set(spec.flags):
            permissions |= att.Attribute.WRITEABLE
        value: Any = b""
        reader = spec.read
        if reader is not None:
            value = att.AttributeValue(read=lambda _connection: reader())
        self._plan += [spec.handle, spec.value_handle]
        if spec.cccd_handle is not None:
            self._plan.append(spec.cccd_handle)
        if spec.role == "write":
            self.write_handle = spec.value_handle
        elif spec.role == "notify":
            self.notify_handle, self.notify_cccd = spec.value_handle, spec.cccd_handle
        return Characteristic(spec.uuid, properties, permissions, value)

    # --- refusals of a real ATT server ---------------------------------------------------

    def _refuse(self, bearer: Any, request: att.ATT_PDU, handle: int, code: int) -> None:
        self.send_response(
            bearer,
            att.ATT_Error_Response(
                request_opcode_in_error=request.op_code,
                attribute_handle_in_error=handle,
                error_code=code,
            ),
        )

    def on_att_read_request(self, bearer: Any, request: att.ATT_Read_Request) -> None:
        attribute = self.get_attribute(request.attribute_handle)
        if isinstance(attribute, Characteristic) and not (
            attribute.properties & Characteristic.Properties.READ
        ):
            self._refuse(
                bearer, request, request.attribute_handle, att.ATT_READ_NOT_PERMITTED_ERROR
            )
            return
        super().on_att_read_request(bearer, request)

    def on_att_write_request(self, bearer: Any, request: att.ATT_Write_Request) -> None:
        handle, value = request.attribute_handle, bytes(request.attribute_value)
        attribute = self.get_attribute(handle)
        error: int | None = None
        if isinstance(attribute, Characteristic) and not (
            attribute.properties & Characteristic.Properties.WRITE
        ):
            error = att.ATT_WRITE_NOT_PERMITTED_ERROR
        elif attribute is not None and len(value) > bearer.att_mtu - 3:
            error = att.ATT_INVALID_ATTRIBUTE_LENGTH_ERROR
        elif (
            isinstance(attribute, Descriptor)
            and attribute.type == GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
        ):
            error = self._on_cccd(handle, value)
        if error is not None:
            self._refuse(bearer, request, handle, error)
            return
        super().on_att_write_request(bearer, request)

    def on_att_write_command(self, bearer: Any, request: att.ATT_Write_Command) -> None:
        handle, value = request.attribute_handle, bytes(request.attribute_value)
        if handle != self.write_handle:
            logger.warning("write command to handle 0x%04X dropped: not writable so", handle)
            return
        if len(value) > bearer.att_mtu - 3:
            logger.warning(
                "write command of %d bytes dropped: longer than ATT_MTU %d - 3",
                len(value),
                bearer.att_mtu,
            )
            return
        self._on_command(bearer, handle, value)


class _SilentServer(gatt_server.Server):
    """The ATT server of a link the device took but does not serve (``Fault.CONNECT_TIMEOUT``)."""

    def on_gatt_pdu(self, bearer: Any, att_pdu: att.ATT_PDU) -> None:
        logger.debug("ignoring %s (injected Fault.CONNECT_TIMEOUT)", att_pdu.name)


class BumblePeripheral:
    """Device ``entry`` of an air, served by the Bumble ``device`` (see the module docstring).

    ``controller`` is the device's :class:`SimController` when it sits on a
    :class:`SimLink` (then ``Fault.NOT_ADVERTISING`` and the advertised RSSI work), ``None``
    on a real controller. Call :meth:`start` and :meth:`stop` in the loop that built
    ``device``. It is the air's central for its device while a client is connected.
    """

    def __init__(
        self,
        entry: OnAir,
        device: Device,
        *,
        controller: SimController | None = None,
        timing: PeripheralTiming | None = None,
    ) -> None:
        self.entry = entry
        self.device = device
        self.timing = timing if timing is not None else PeripheralTiming()
        self._controller = controller
        self._connection: Connection | None = None
        self._server: _ConnectionServer | None = None
        self._link: PeripheralLink | None = None
        self._mtu_fault = False
        self._advertised: tuple[bytes, bytes] | None = None
        self._advert_problem = ""
        self._heard: dict[str, tuple[int, bool]] = {}
        self._kick: asyncio.Event | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: Connection | None = None  # the link this device is hanging up on
        if controller is not None:
            controller.advert_gate = self._heard_by
            controller.advert_rssi = entry.device.advertisement().rssi
        device.on(Device.EVENT_CONNECTION, self._on_connection)

    def __repr__(self) -> str:
        state = "connected" if self._connection is not None else "idle"
        return f"BumblePeripheral({self.entry.name!r}, {self.entry.address}, {state})"

    @property
    def address(self) -> str:
        return self.entry.address

    @property
    def connected(self) -> bool:
        """A central holds a link to the device (served or not)."""
        return self._connection is not None

    @property
    def advertising(self) -> bool:
        """The device has an advert on the air."""
        return self._advertised is not None

    @property
    def mtu(self) -> int | None:
        """The ATT MTU of the current link (after a fault: the fault's)."""
        link = self._link
        if link is not None:
            return link.mtu
        return self._connection.att_mtu if self._connection is not None else None

    # --- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        """Power the host on and start following the air (adverts, range)."""
        await self.device.power_on()
        self._kick = asyncio.Event()
        self._keeper = asyncio.get_running_loop().create_task(
            self._keep_advertising(), name=f"{TASK_PREFIX}-bumble-advert-{self.address}"
        )

    async def stop(self) -> None:
        """Hang up, stop advertising, power off; every task of the device is ended."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        connection = self._connection
        if connection is not None:
            await self._hang_up(connection)
            self._forget(connection)
        with contextlib.suppress(BaseBumbleError, TimeoutError):
            async with asyncio.timeout(_HANG_UP_S):
                if self._advertised is not None:
                    self._advertised = None
                    await self.device.stop_advertising()
                await self.device.power_off()
        await self._settle()

    async def _settle(self) -> None:
        """Wait for the device's own tasks (hang-ups, closed links' pollers) to end; cancel
        what is still running after :data:`_HANG_UP_S`, and give up on it after three rounds."""
        for _ in range(3):
            tasks = list(self._tasks)
            if not tasks:
                return
            await asyncio.wait(tasks, timeout=_HANG_UP_S)
            self._tasks.difference_update(t for t in tasks if t.done())
            for task in tasks:
                if not task.done():
                    task.cancel()
        if self._tasks:
            logger.error("%s: tasks that ignore cancellation: %s", self.address, self._tasks)

    def abandon(self) -> None:
        """Let go of the device without the loop that ran this peripheral (it has ended)."""
        connection = self._connection
        if connection is not None:
            self._forget(connection)
        for task in (self._keeper, *self._tasks):
            if task is not None and not task.done():
                with contextlib.suppress(RuntimeError):  # its loop is closed
                    task.cancel()
        self._keeper = None
        self._tasks.clear()

    def _spawn(self, coroutine: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(
            coroutine, name=f"{TASK_PREFIX}-bumble-{what}-{self.address}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the link ----------------------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        try:
            self._accept(connection)
        except Exception:  # a listener that raises would break Bumble's event dispatch
            logger.exception("%s: setting up a connection failed", self.address)
            self._spawn(self._hang_up(connection), "hang-up")

    def _accept(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        if self._connection is not None:
            logger.warning("%s: a second central connected; hanging up on it", self.address)
            self._spawn(self._hang_up(connection), "hang-up")
            return
        self._connection = connection
        self._advertised = None  # the controller stopped advertising
        self._mtu_fault = False
        connection.on(
            Connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )
        connection.on(Connection.EVENT_CONNECTION_ATT_MTU_UPDATE, lambda: self._on_mtu(connection))
        entry = self.entry
        if entry.faults.take(Fault.CONNECT_TIMEOUT) is not None:
            logger.info(
                "%s: link taken but not served (injected Fault.CONNECT_TIMEOUT)", entry.address
            )
            connection.gatt_server = _SilentServer(self.device)
            return
        try:
            entry.claim(self)
        except (DeviceBusy, ConnectionError) as exc:  # out of range, or held: no link
            logger.info("%s: refusing a central: %s", entry.address, exc)
            self._closing = connection
            self._spawn(self._hang_up(connection), "hang-up")
            return
        server = _ConnectionServer(
            self.device,
            self._table(),
            mtu=entry.mtu,
            on_command=self._on_command,
            on_cccd=self._on_cccd,
        )
        connection.gatt_server = server
        self._server = server
        self._link = PeripheralLink(
            entry,
            loop=asyncio.get_running_loop(),
            deliver=self._deliver,
            mtu=connection.att_mtu,
            push_interval=self.timing.push_interval,
        )
        logger.debug("%s: central %s connected", entry.address, connection.peer_address)

    def _table(self) -> tuple[ServiceSpec, ...]:
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

        return gatt_table(device, battery=battery, without=frozenset(without))

    def _on_mtu(self, connection: Connection) -> None:
        link = self._link
        if connection is self._connection and link is not None and not self._mtu_fault:
            link.mtu = connection.att_mtu

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is not self._connection:
            return
        logger.debug("%s: disconnected (reason 0x%02X)", self.address, reason)
        self._forget(connection)
        if self._kick is not None:
            self._kick.set()  # advertise again now, not at the next refresh

    def _forget(self, connection: Connection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._closing = None
        self._server = None
        link, self._link = self._link, None
        if link is not None:
            poller = link.close()
            if poller is not None and not poller.done():
                self._tasks.add(poller)
                poller.add_done_callback(self._tasks.discard)
        self.entry.release(self)  # no-op unless this peripheral held the device

    def link_lost(self, reason: str) -> None:
        """The device drops the link (the air calls this: a fault, out of range, removal)."""
        connection = self._connection
        if connection is None or connection is self._closing:
            return
        logger.debug("%s: hanging up: %s", self.address, reason)
        self._closing = connection
        link, self._link = self._link, None  # nothing more reaches the central
        if link is not None:
            poller = link.close()
            if poller is not None and not poller.done():
                self._tasks.add(poller)
                poller.add_done_callback(self._tasks.discard)
        self._spawn(self._hang_up(connection), "hang-up")

    def drop_link(self, reason: str = "the device dropped the link") -> bool:
        """Hang up on whoever is connected, served or not; False when nobody is."""
        connection = self._connection
        if connection is None:
            return False
        if not self.entry.drop_link(reason):  # not the air's central: an unserved link
            self.link_lost(reason)
        return True

    async def _hang_up(self, connection: Connection) -> None:
        if not is_up(connection):
            return
        try:
            async with asyncio.timeout(_HANG_UP_S):
                await connection.disconnect(_HANG_UP_REASON)
        except (BaseBumbleError, TimeoutError) as exc:
            logger.debug("%s: hanging up: %s", self.address, exc)

    # --- GATT traffic ------------------------------------------------------------------

    def _on_command(self, _bearer: Any, _handle: int, value: bytes) -> None:
        link = self._link
        if link is None:
            return
        before = link.mtu
        try:
            link.write(value)
        except InjectedWriteFailure:
            # A write command has no response: on a radio the chunk is simply lost.
            logger.info(
                "%s: %d-byte write lost on the air (injected Fault.WRITE_FAILED)",
                self.address,
                len(value),
            )
            return
        except Exception:
            logger.exception("%s: the virtual device failed on a write; hanging up", self.address)
            self.drop_link("the virtual device raised on a write")
            return
        if link.mtu != before:
            self._mtu_fault = True

    def _on_cccd(self, handle: int, value: bytes) -> int | None:
        server = self._server
        enabling = bool(value) and bool(value[0] & 0x01)
        if server is None or handle != server.notify_cccd or not enabling:
            return None
        if self.entry.faults.take(Fault.NOTIFY_FAILED) is not None:
            logger.info("%s: notifications refused (injected Fault.NOTIFY_FAILED)", self.address)
            return att.ATT_UNLIKELY_ERROR_ERROR
        return None

    def _deliver(self, chunk: bytes) -> None:
        connection, server = self._connection, self._server
        if connection is None or server is None or server.notify_handle is None:
            return
        handle = server.notify_handle
        cccd = server.subscribers.get(connection, {}).get(handle)
        if not cccd or not cccd[0] & 0x01:
            logger.debug("%s: notification dropped, notifications are off", self.address)
            return
        notification = att.ATT_Handle_Value_Notification(
            attribute_handle=handle, attribute_value=chunk
        )
        server.send_gatt_pdu(connection, bytes(notification))

    # --- the air -----------------------------------------------------------------------

    def _heard_by(self, listener: SimController) -> bool:
        """Whether ``listener`` hears this device in its current scan or connect attempt."""
        if not self.entry.in_range:
            return False  # out of range: nobody hears it, whatever the advertiser still sends
        if not listener.le_scan_enable and listener.pending_le_connection is None:
            return True  # not listening: nothing to decide
        session = listener.listen_session
        known = self._heard.get(listener.name)
        if known is not None and known[0] == session:
            return known[1]
        heard = self.entry.faults.take(Fault.NOT_ADVERTISING) is None
        if not heard:
            logger.info(
                "%s: silent for %s's session %d (injected Fault.NOT_ADVERTISING)",
                self.address,
                listener.name,
                session,
            )
        self._heard[listener.name] = (session, heard)
        return heard

    async def _keep_advertising(self) -> None:
        kick = self._kick
        assert kick is not None
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # Python 3.11's wait_for (inside Bumble's HCI commands) can swallow a
                # cancellation that lands as the command completes: honour it here.
                raise asyncio.CancelledError
            kick.clear()
            try:
                await self._follow_the_air()
            except (BaseBumbleError, AdvertTooLong, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if problem != self._advert_problem:
                    logger.error("%s: cannot advertise: %s", self.address, problem)
                self._advert_problem = problem
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timing.refresh):
                    await kick.wait()

    async def _follow_the_air(self) -> None:
        entry = self.entry
        connection = self._connection
        if connection is not None:
            if not entry.in_range:  # out of range: the supervision timeout ends any link
                self.drop_link("the device went out of range")
            return
        async with asyncio.timeout(_HANG_UP_S):
            if not entry.advertising:
                if self._advertised is not None:
                    self._advertised = None
                    await self.device.stop_advertising()
                return
            advert = entry.device.advertisement()
            payloads = advert_payloads(advert)
            if payloads == self._advertised:
                return
            if self._controller is not None:
                self._controller.advert_rssi = advert.rssi
            interval = self.timing.advert_interval * 1000
            await self.device.start_advertising(
                advertising_data=payloads[0],
                scan_response_data=payloads[1],
                advertising_interval_min=interval,
                advertising_interval_max=interval,
            )
            self._advertised = payloads
            self._advert_problem = ""
