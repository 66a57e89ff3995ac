"""The ``org.bluez`` D-Bus interfaces the double exports, as bleak's Linux backend reads them.

Each class is one BlueZ interface with the properties and methods bleak uses
(docs/tiers.md, "What bleak calls"); behaviour lives in :mod:`.double`, these classes
only translate between D-Bus and the double. Methods whose answer depends on *which*
client calls (discovery sessions, notification subscriptions) are not here: the double
handles them from the raw message, which names its sender.
"""

# No "from __future__ import annotations": dbus-fast reads these annotations at import
# time, and a postponed "-> None" would read as a missing D-Bus signature.

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from dbus_fast import DBusError, Variant
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

if TYPE_CHECKING:
    from .double import BluezDouble, HostedDevice

__all__ = [
    "ERROR_FAILED",
    "ERROR_IN_PROGRESS",
    "ERROR_NOT_PERMITTED",
    "AdapterInterface",
    "CharacteristicInterface",
    "DescriptorInterface",
    "DeviceInterface",
    "ServiceInterface1",
]

ERROR_FAILED = "org.bluez.Error.Failed"
ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERROR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERROR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERROR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERROR_INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusInt16 = Annotated[int, DBusSignature("n")]
DBusUInt16 = Annotated[int, DBusSignature("q")]
DBusUInt32 = Annotated[int, DBusSignature("u")]
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
DBusPaths = Annotated[list[str], DBusSignature("ao")]

_READ = PropertyAccess.READ


class AdapterInterface(ServiceInterface):
    """``org.bluez.Adapter1``: one powered central (StartDiscovery/StopDiscovery are
    answered by the double from the raw message: they are per client)."""

    def __init__(self, double: "BluezDouble", name: str, address: str) -> None:
        super().__init__("org.bluez.Adapter1")
        self._double = double
        self._name = name
        self._address = address
        self.discovering = False

    @dbus_property(access=_READ)
    def Address(self) -> DBusStr:
        return self._address

    @dbus_property(access=_READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=_READ)
    def Name(self) -> DBusStr:
        return f"ttlock-hil-double-{self._name}"

    @dbus_property(access=_READ)
    def Alias(self) -> DBusStr:
        return f"ttlock-hil-double-{self._name}"

    @dbus_property(access=_READ)
    def Class(self) -> DBusUInt32:
        return 0

    @dbus_property(access=_READ)
    def Powered(self) -> DBusBool:
        return True

    @dbus_property(access=_READ)
    def Discoverable(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Pairable(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=_READ)
    def UUIDs(self) -> DBusStrList:
        return []

    @dbus_property(access=_READ)
    def Roles(self) -> DBusStrList:
        return ["central", "peripheral"]

    @method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        self._double.set_discovery_filter(self._name, properties)

    @method()
    def GetDiscoveryFilters(self) -> DBusStrList:
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable"]

    @method()
    def RemoveDevice(self, device: DBusObjectPath) -> None:
        self._double.remove_device(device)


class MonitorManagerInterface(ServiceInterface):
    """``org.bluez.AdvertisementMonitorManager1``: passive scans (bleak's ``or_patterns``).

    ``RegisterMonitor``/``UnregisterMonitor`` are answered by the double from the raw
    message (they belong to the calling client)."""

    def __init__(self) -> None:
        super().__init__("org.bluez.AdvertisementMonitorManager1")

    @dbus_property(access=_READ)
    def SupportedMonitorTypes(self) -> DBusStrList:
        return ["or_patterns"]

    @dbus_property(access=_READ)
    def SupportedFeatures(self) -> DBusStrList:
        return []


class DeviceInterface(ServiceInterface):
    """``org.bluez.Device1`` of one hosted device."""

    def __init__(self, hosted: "HostedDevice") -> None:
        super().__init__("org.bluez.Device1")
        self._hosted = hosted

    @dbus_property(access=_READ)
    def Address(self) -> DBusStr:
        return self._hosted.address

    @dbus_property(access=_READ)
    def AddressType(self) -> DBusStr:
        return "random"  # virtual devices use static random addresses

    @dbus_property(access=_READ)
    def Name(self) -> DBusStr:
        return self._hosted.advert_name

    @dbus_property(access=_READ)
    def Alias(self) -> DBusStr:
        return self._hosted.advert_name or self._hosted.address.replace(":", "-")

    @dbus_property(access=_READ)
    def Adapter(self) -> DBusObjectPath:
        return self._hosted.adapter_path

    @dbus_property(access=_READ)
    def Paired(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Bonded(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Trusted(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Connected(self) -> DBusBool:
        return self._hosted.connected

    @dbus_property(access=_READ)
    def ServicesResolved(self) -> DBusBool:
        return self._hosted.services_resolved

    @dbus_property(access=_READ)
    def RSSI(self) -> DBusInt16:
        return self._hosted.rssi

    @dbus_property(access=_READ)
    def UUIDs(self) -> DBusStrList:
        return list(self._hosted.service_uuids)

    @dbus_property(access=_READ)
    def ManufacturerData(self) -> DBusManufacturerData:
        return {
            company: Variant("ay", data) for company, data in self._hosted.manufacturer_data.items()
        }

    @dbus_property(access=_READ)
    def ServiceData(self) -> DBusDict:
        return {}

    @method()
    async def Connect(self) -> None:
        await self._hosted.connect()

    @method()
    async def Disconnect(self) -> None:
        await self._hosted.disconnect()

    @method()
    def Pair(self) -> None:
        raise DBusError(ERROR_FAILED, "TTLock devices do not bond")

    @method()
    def CancelPairing(self) -> None:
        raise DBusError(ERROR_DOES_NOT_EXIST, "no pairing in progress")


class ServiceInterface1(ServiceInterface):
    """``org.bluez.GattService1``."""

    def __init__(self, uuid: str, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid
        self._device = device_path

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=_READ)
    def Device(self) -> DBusObjectPath:
        return self._device

    @dbus_property(access=_READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=_READ)
    def Includes(self) -> DBusPaths:
        return []


class CharacteristicInterface(ServiceInterface):
    """``org.bluez.GattCharacteristic1``: reads and writes go to the double's handlers."""

    def __init__(
        self,
        *,
        uuid: str,
        service_path: str,
        flags: tuple[str, ...],
        mtu: Callable[[], int],
        read: Callable[[], bytes] | None,
        write: Callable[[bytes, dict[str, Any]], Awaitable[None]] | None,
        att_delay: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid = uuid
        self._service = service_path
        self._flags = list(flags)
        self._mtu = mtu
        self._read = read
        self._write = write
        self._att_delay = att_delay
        self.value = b""
        self.notifying = False

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=_READ)
    def Service(self) -> DBusObjectPath:
        return self._service

    @dbus_property(access=_READ)
    def Flags(self) -> DBusStrList:
        return self._flags

    @dbus_property(access=_READ)
    def MTU(self) -> DBusUInt16:
        return self._mtu()

    @dbus_property(access=_READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=_READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_property(access=_READ)
    def NotifyAcquired(self) -> DBusBool:
        return False

    @method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        if self._read is None:
            raise DBusError(ERROR_NOT_PERMITTED, "Read not permitted")
        self.value = self._read()
        return self.value

    @method()
    async def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        if self._write is None:
            raise DBusError(ERROR_NOT_PERMITTED, "Write not permitted")
        await self._write(bytes(value), {key: item.value for key, item in options.items()})


class DescriptorInterface(ServiceInterface):
    """``org.bluez.GattDescriptor1`` (the CCCDs)."""

    def __init__(self, uuid: str, characteristic_path: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self._uuid = uuid
        self._characteristic = characteristic_path

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=_READ)
    def Characteristic(self) -> DBusObjectPath:
        return self._characteristic

    @dbus_property(access=_READ)
    def Value(self) -> DBusBytes:
        return b""

    @dbus_property(access=_READ)
    def Flags(self) -> DBusStrList:
        return ["read", "write"]

    @method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        return b"\x00\x00"

    @method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        # BlueZ refuses CCCD writes from clients: notifications go through StartNotify.
        raise DBusError(ERROR_NOT_PERMITTED, "Write not permitted: use StartNotify")
