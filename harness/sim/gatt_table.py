"""The GATT table a virtual device serves, laid out like a real one (docs/protocol.md §10.4).

One declaration for every tier that exports GATT objects (the BlueZ double, the Bumble
peripheral; the in-process backend builds bleak's objects from it too), so a client sees
the same services, handles and properties wherever the simulator runs.

A real S202F lock (§10.4) serves, in handle order: Generic Access 0x1800 (2a00 name,
2a01 appearance, 2a04 preferred connection parameters), Generic Attribute 0x1801 (2a05
service changed + CCCD), the TTLock service 0x1910 (fff4 notify + CCCD, fff2
write-without-response), Battery 0x180F (2a19 + CCCD) and Device Information 0x180A
(2a29 manufacturer, 2a24 model, 2a27 hardware, 2a26 firmware). Gateways serve 0x1911
(§1.2); their handles are not published, so the layout below is our decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.gatt import CCCD_UUID

from .device import VirtualDevice

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "DEVICE_INFORMATION_UUID",
    "CharacteristicSpec",
    "ServiceSpec",
    "gatt_table",
    "uuid16",
]

BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"


def uuid16(short: str) -> str:
    """A 16-bit UUID (``"180f"``) in bleak's normalised 128-bit form."""
    return f"0000{short.lower()}{BASE_UUID_SUFFIX}"


GENERIC_ACCESS_UUID: Final = uuid16("1800")
GENERIC_ATTRIBUTE_UUID: Final = uuid16("1801")
BATTERY_SERVICE_UUID: Final = uuid16("180f")
BATTERY_LEVEL_UUID: Final = uuid16("2a19")
DEVICE_INFORMATION_UUID: Final = uuid16("180a")
# Device Information characteristics in the order a real lock lists them (§10.4).
_DIS_ORDER: Final = ("2a29", "2a24", "2a27", "2a26")
_APPEARANCE_GENERIC: Final = b"\x00\x00"
# Min/max interval 7.5-15 ms, latency 0, timeout 4 s: our decision (§10.4 gives no value).
_PREFERRED_PARAMS: Final = bytes.fromhex("06000c0000009001")


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One characteristic: its declaration handle (BlueZ names objects by it), flags
    (``"read"``, ``"notify"``, ``"write-without-response"``…), a CCCD when it notifies,
    and where its value comes from (``None`` for the TTLock write/notify pair)."""

    uuid: str
    handle: int
    flags: tuple[str, ...]
    read: Callable[[], bytes] | None = None
    cccd_handle: int | None = None
    role: str | None = None  # "write" / "notify" for the command channel

    @property
    def value_handle(self) -> int:
        return self.handle + 1


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    uuid: str
    handle: int
    characteristics: tuple[CharacteristicSpec, ...] = field(default=())


def _dis_chars(device: VirtualDevice, first_handle: int) -> tuple[CharacteristicSpec, ...]:
    info_of = getattr(device, "device_information", None)
    info: dict[str, bytes] = info_of() if callable(info_of) else {}
    by_uuid = {_short(uuid): value for uuid, value in info.items()}
    ordered = [u for u in _DIS_ORDER if u in by_uuid] + sorted(set(by_uuid) - set(_DIS_ORDER))
    return tuple(
        CharacteristicSpec(
            uuid16(short), first_handle + 2 * index, ("read",), read=_constant(by_uuid[short])
        )
        for index, short in enumerate(ordered)
    )


def _short(uuid: str) -> str:
    text = uuid.lower()
    if len(text) == 4:
        return text
    if text.startswith("0000") and text.endswith(BASE_UUID_SUFFIX):
        return text[4:8]
    return text


def _constant(value: bytes) -> Callable[[], bytes]:
    return lambda: value


def gatt_table(
    device: VirtualDevice,
    *,
    battery: Callable[[], int | None] | None = None,
    without: frozenset[str] = frozenset(),
) -> tuple[ServiceSpec, ...]:
    """The services ``device`` serves; ``battery`` reads the level (locks only);
    ``without`` leaves out ``"service"`` (the TTLock service), ``"write"`` or ``"notify"``
    (an injected missing service or characteristic)."""
    name = device.name.encode("utf-8")
    gap = ServiceSpec(
        GENERIC_ACCESS_UUID,
        0x0001,
        (
            CharacteristicSpec(uuid16("2a00"), 0x0002, ("read",), read=_constant(name)),
            CharacteristicSpec(
                uuid16("2a01"), 0x0004, ("read",), read=_constant(_APPEARANCE_GENERIC)
            ),
            CharacteristicSpec(
                uuid16("2a04"), 0x0006, ("read",), read=_constant(_PREFERRED_PARAMS)
            ),
        ),
    )
    gatt_service = ServiceSpec(
        GENERIC_ATTRIBUTE_UUID,
        0x0008,
        (CharacteristicSpec(uuid16("2a05"), 0x0009, ("indicate",), cccd_handle=0x000B),),
    )
    profile = device.gatt
    command: list[CharacteristicSpec] = []
    if "notify" not in without:
        command.append(
            CharacteristicSpec(
                profile.notify, 0x000D, ("notify",), cccd_handle=0x000F, role="notify"
            )
        )
    if "write" not in without:
        command.append(
            CharacteristicSpec(profile.write, 0x0010, ("write-without-response",), role="write")
        )
    services: list[ServiceSpec] = [gap, gatt_service]
    if "service" not in without:
        services.append(ServiceSpec(profile.service, 0x000C, tuple(command)))
    if device.kind is DeviceKind.LOCK and battery is not None and battery() is not None:

        def level() -> bytes:
            value = battery()
            return bytes([value if value is not None else 0])

        services.append(
            ServiceSpec(
                BATTERY_SERVICE_UUID,
                0x0012,
                (
                    CharacteristicSpec(
                        BATTERY_LEVEL_UUID,
                        0x0013,
                        ("read", "notify"),
                        read=level,
                        cccd_handle=0x0015,
                    ),
                ),
            )
        )
    dis = _dis_chars(device, 0x0017)
    if dis:
        services.append(ServiceSpec(DEVICE_INFORMATION_UUID, 0x0016, dis))
    return tuple(services)


CCCD: Final = CCCD_UUID
