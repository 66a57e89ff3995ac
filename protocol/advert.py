"""BLE advertisements of TTLock devices: parse what a scanner sees, build what a simulator sends.

docs/protocol.md §6. TTLock puts its own bytes where the Bluetooth SIG company ID of
the manufacturer-specific AD structure (type 0xFF) would be. Let ``d`` be the AD
data after the type byte, *including* those two bytes:

* ``d[0]`` = protocolType, ``d[1]`` = protocolVersion; special headers mark
  DFU mode ``(0x12,0x19)``, ``(0x13,0x19)``, ``(0xFF,0xFF)``, a wristband
  ``(0x34,0x12)`` and gateways ``(0x11, 0x19/0x21/0x20/0x22/0x23)`` = G2…G6;
* V3 locks (``05 03``)::

      05 03 | scene | flags | battery | … | MAC reversed (last 6 bytes)

* any other lock header::

      d[0..3] ? | type d[4] | version d[5] | ? | scene d[7] | flags d[8] | battery d[9] | … | MAC

  where locks with protocol type < 5 and V2S (5.1) advertise no flags or battery.

bleak hands the same bytes over as ``{company_id: rest}`` with the two header
bytes as a little-endian company id (V3 → 0x0305); :func:`parse_bleak` and
:func:`split_for_bleak` convert between the two forms.

Where the sources disagree (§9.6 MAC offset, §9.7 bit 0x10) this module follows
the hardware captures: the MAC is the last six bytes reversed, and bit 0x10 is
reported as ``dormant``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

from .crypto import parse_mac
from .errors import ProtocolError


class AdvertError(ProtocolError):
    """Manufacturer data (or a builder argument) that no TTLock advert can carry.

    ``field`` names the missing or wrong field (``"battery"``, ``"header"``…) and
    ``offset`` the byte index in ``d`` where it was expected, when that applies.
    """

    def __init__(self, message: str, *, field: str, offset: int | None = None) -> None:
        where = f" (field {field!r}" + (f", offset {offset})" if offset is not None else ")")
        super().__init__(message + where)
        self.field = field
        self.offset = offset


class AdvertKind(StrEnum):
    """What sent the advertisement, judged from its two header bytes (§6)."""

    LOCK = "lock"
    GATEWAY = "gateway"
    DFU = "dfu"  # a lock or gateway in firmware-update mode
    WRISTBAND = "wristband"
    UNKNOWN = "unknown"  # a gateway header (0x11) with a type byte we do not know


class LockType(IntEnum):
    """The vendor's ``lockType`` numbers, derived from the protocol header (§2.1)."""

    V2 = 2  # protocol 3.x, legacy frames
    V2S = 3  # 5.1
    V2S_PLUS = 4  # 5.4
    V3 = 5  # 5.3
    CAR = 6  # 0x0A.1
    MOBI = 7  # 0x0B.1
    V3_CAR = 8  # 5.3 with scene 7


class GatewayType(StrEnum):
    """Gateway generation, from the byte after the 0x11 header (§6, vendor ``GatewayType``)."""

    G2 = "G2"  # Wi-Fi
    G3 = "G3"  # wired
    G4 = "G4"  # 4G
    G5 = "G5"
    G6 = "G6"


GATEWAY_HEADER: Final = 0x11
GATEWAY_TYPE_BYTES: Final[dict[int, GatewayType]] = {
    0x19: GatewayType.G2,
    0x21: GatewayType.G3,
    0x20: GatewayType.G4,
    0x22: GatewayType.G5,
    0x23: GatewayType.G6,
}
_GATEWAY_BYTE_OF_TYPE: Final = {kind: byte for byte, kind in GATEWAY_TYPE_BYTES.items()}

DFU_HEADERS: Final = frozenset({(0x12, 0x19), (0x13, 0x19), (0xFF, 0xFF)})
"""Firmware-update mode: lock DFU, Telink-gateway DFU, generic DFU (§6)."""

WRISTBAND_HEADER: Final = (0x34, 0x12)
V3_HEADER: Final = (0x05, 0x03)

MAC_SIZE: Final = 6

# Flag bits of the lock advert (§6).
FLAG_UNLOCKED: Final = 0x01  # isUnlock
FLAG_HAS_EVENTS: Final = 0x02  # new operation records (community parsers; the vendor ignores it)
FLAG_SETTING_MODE: Final = 0x04  # unpaired: accepts GET_AES_KEY / ADD_ADMIN
FLAG_TOUCH: Final = 0x08  # isTouch (vendor reads it for V3 / V3_CAR)
FLAG_DORMANT: Final = 0x10  # asleep (TTLOCK-BLE hardware capture); bit 0 is then stale

V3_FILLER: Final = bytes(4)
"""What :func:`build_lock_advert` puts between battery and MAC.

The synthetic vectors use four zero bytes; the real BLEMON sample carries six
unknown bytes there. No parser reads them.
"""

_SCENE_NAMES: Final[dict[int, str]] = {
    4: "glass door lock",
    5: "safe lock",
    6: "bicycle lock",
    7: "parking lock",
    8: "padlock",
    9: "cylinder",
    10: "remote-control device",
    11: "safe lock",
    12: "lift",
    13: "power saver",
    17: "Wi-Fi power saver",
}


def describe_scene(scene: int) -> str:
    """The lock category a scene byte stands for (§6), e.g. ``2`` → ``"room lock"``."""
    if 0 <= scene <= 3:
        return "room lock"
    return _SCENE_NAMES.get(scene, f"scene {scene}")


def lock_type_of(protocol_type: int, protocol_version: int, scene: int | None) -> LockType | None:
    """The vendor's lockType for a header (§2.1, KIND3R ``generateLockType``), or ``None``."""
    if protocol_type == 3:
        return LockType.V2
    if protocol_type == 5 and protocol_version == 3:
        return LockType.V3_CAR if scene == 7 else LockType.V3
    return {
        (5, 4): LockType.V2S_PLUS,
        (5, 1): LockType.V2S,
        (0x0A, 1): LockType.CAR,
        (0x0B, 1): LockType.MOBI,
    }.get((protocol_type, protocol_version))


def _carries_flags(protocol_type: int, lock_type: LockType | None) -> bool:
    # §6: "If protocolType < 5 or lockType = V2S (5.1): no flags/battery parsed (room lock)".
    return protocol_type >= 5 and lock_type is not LockType.V2S


@dataclass(frozen=True, slots=True)
class Advert:
    """One decoded TTLock advertisement.

    Fields a device kind does not advertise are ``None``: gateways, DFU and
    wristband adverts carry no scene, flags or battery; V2 (protocol < 5) and V2S
    locks carry a scene but no flags or battery.

    ``unlocked`` is ``None`` while ``dormant`` is true: a sleeping lock keeps
    bit 0 as it was, so it says nothing about the bolt (§6, §9.7). Ask the lock
    (command 0x14) instead. ``battery`` is the raw byte, a percentage on every
    lock seen so far.
    """

    kind: AdvertKind
    protocol_type: int
    protocol_version: int
    scene: int | None = None
    flags: int | None = None
    unlocked: bool | None = None
    has_events: bool | None = None
    setting_mode: bool | None = None
    touch: bool | None = None
    dormant: bool | None = None
    battery: int | None = None
    mac: str | None = None
    lock_type: LockType | None = None
    gateway_type: GatewayType | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; enums become their names (``"V3"``, ``"G2"``, ``"lock"``)."""
        return {
            "kind": self.kind.value,
            "protocol_type": self.protocol_type,
            "protocol_version": self.protocol_version,
            "scene": self.scene,
            "unlocked": self.unlocked,
            "has_events": self.has_events,
            "setting_mode": self.setting_mode,
            "touch": self.touch,
            "dormant": self.dormant,
            "battery": self.battery,
            "mac": self.mac,
            "flags": self.flags,
            "lock_type": self.lock_type.name if self.lock_type is not None else None,
            "gateway_type": self.gateway_type.value if self.gateway_type is not None else None,
        }


def _mac_from_tail(d: bytes, used: int) -> str | None:
    # Community rule (§6, §9.6): the last 6 bytes, reversed. Only when those
    # bytes do not overlap the fields already read, else the "MAC" would be
    # the flags and battery again.
    if len(d) < used + MAC_SIZE:
        return None
    return ":".join(f"{b:02X}" for b in reversed(d[-MAC_SIZE:]))


def _need(d: bytes, size: int, layout: str, field: str) -> None:
    if len(d) < size:
        raise AdvertError(
            f"advertisement too short for the {layout} layout: it needs at least {size} bytes "
            f"(through {field} at d[{size - 1}]), got {len(d)}; pass the whole "
            "manufacturer-specific AD data including the two header bytes",
            field=field,
            offset=size - 1,
        )


def parse_manufacturer_data(data: bytes) -> Advert:
    """Decode manufacturer-specific AD data, *including* the two "company id" bytes.

    Raises :class:`AdvertError` when ``data`` is shorter than its layout needs.
    Any header that is not special is read as a lock, as the vendor does, so
    arbitrary bytes of sufficient length parse (with ``lock_type`` ``None``).
    """
    d = bytes(data)
    _need(d, 2, "TTLock", "header")
    head = (d[0], d[1])
    if head in DFU_HEADERS:
        return Advert(AdvertKind.DFU, d[0], d[1], mac=_mac_from_tail(d, 2))
    if head == WRISTBAND_HEADER:
        return Advert(AdvertKind.WRISTBAND, d[0], d[1], mac=_mac_from_tail(d, 2))
    if d[0] == GATEWAY_HEADER:
        gateway_type = GATEWAY_TYPE_BYTES.get(d[1])
        kind = AdvertKind.UNKNOWN if gateway_type is None else AdvertKind.GATEWAY
        return Advert(kind, d[0], d[1], mac=_mac_from_tail(d, 2), gateway_type=gateway_type)
    if head == V3_HEADER:
        _need(d, 5, "V3 (05 03 scene flags battery)", "battery")
        protocol_type, protocol_version = head
        scene, flags, battery, used = d[2], d[3], d[4], 5
    else:
        _need(d, 8, "non-V3 lock", "scene")
        protocol_type, protocol_version, scene = d[4], d[5], d[7]
        lock_type = lock_type_of(protocol_type, protocol_version, scene)
        if not _carries_flags(protocol_type, lock_type):
            return Advert(
                AdvertKind.LOCK,
                protocol_type,
                protocol_version,
                scene=scene,
                mac=_mac_from_tail(d, 8),
                lock_type=lock_type,
            )
        _need(d, 10, "non-V3 lock with flags", "battery")
        flags, battery, used = d[8], d[9], 10
    dormant = bool(flags & FLAG_DORMANT)
    return Advert(
        AdvertKind.LOCK,
        protocol_type,
        protocol_version,
        scene=scene,
        flags=flags,
        unlocked=None if dormant else bool(flags & FLAG_UNLOCKED),
        has_events=bool(flags & FLAG_HAS_EVENTS),
        setting_mode=bool(flags & FLAG_SETTING_MODE),
        touch=bool(flags & FLAG_TOUCH),
        dormant=dormant,
        battery=battery,
        mac=_mac_from_tail(d, used),
        lock_type=lock_type_of(protocol_type, protocol_version, scene),
    )


def parse_bleak(company_id: int, payload: bytes) -> Advert:
    """Decode one entry of bleak's ``AdvertisementData.manufacturer_data``.

    ``company_id`` holds the two TTLock header bytes little-endian (V3 → 0x0305).
    """
    if not 0 <= company_id <= 0xFFFF:
        raise AdvertError(
            f"bleak company id must be 0..0xFFFF, got {company_id}", field="company_id"
        )
    return parse_manufacturer_data(company_id.to_bytes(2, "little") + bytes(payload))


def split_for_bleak(data: bytes) -> tuple[int, bytes]:
    """Manufacturer data → ``(company_id, rest)`` as bleak reports it.

    The inverse of :func:`parse_bleak`; a simulator uses it to fill bleak's
    ``manufacturer_data`` dict.
    """
    d = bytes(data)
    _need(d, 2, "TTLock", "header")
    return int.from_bytes(d[:2], "little"), d[2:]


def _check_byte(name: str, value: int, *, high: int = 0xFF) -> None:
    if not 0 <= value <= high:
        raise AdvertError(f"{name} must be 0..{high}, got {value}", field=name)


def build_lock_advert(
    *,
    protocol_type: int = 5,
    protocol_version: int = 3,
    scene: int,
    unlocked: bool,
    has_events: bool,
    setting_mode: bool,
    touch: bool = False,
    dormant: bool = False,
    battery: int,
    mac: str | bytes,
) -> bytes:
    """Manufacturer data (header bytes included) a lock with this state advertises.

    For 5.3 the V3 layout ``05 03 scene flags battery`` + four zero bytes +
    reversed MAC (15 bytes, like the synthetic vectors). Other flag-bearing
    headers (5.4, 0x0A.1, …) get the long layout: header, two zero bytes, type,
    version, zero, scene, flags, battery, reversed MAC (16 bytes). ``unlocked``
    is encoded even when ``dormant`` (a sleeping lock keeps bit 0 as it was).
    """
    _check_byte("protocol_type", protocol_type)
    _check_byte("protocol_version", protocol_version)
    _check_byte("scene", scene)
    _check_byte("battery", battery, high=100)
    head = (protocol_type, protocol_version)
    if head in DFU_HEADERS or head == WRISTBAND_HEADER or protocol_type == GATEWAY_HEADER:
        raise AdvertError(
            f"header {protocol_type:#04x}.{protocol_version:#04x} is reserved for "
            "DFU/wristband/gateway adverts, not a lock",
            field="protocol_type",
        )
    if not _carries_flags(protocol_type, lock_type_of(protocol_type, protocol_version, scene)):
        raise AdvertError(
            f"locks with protocol {protocol_type}.{protocol_version} advertise no flags or "
            "battery (§6); use a type >= 5 other than V2S (5.1)",
            field="protocol_type",
        )
    flags = (
        (FLAG_UNLOCKED if unlocked else 0)
        | (FLAG_HAS_EVENTS if has_events else 0)
        | (FLAG_SETTING_MODE if setting_mode else 0)
        | (FLAG_TOUCH if touch else 0)
        | (FLAG_DORMANT if dormant else 0)
    )
    tail = parse_mac(mac)[::-1]
    if head == V3_HEADER:
        return bytes([*head, scene, flags, battery]) + V3_FILLER + tail
    return bytes([*head, 0, 0, *head, 0, scene, flags, battery]) + tail


def build_gateway_advert(gateway_type: GatewayType | str, mac: str | bytes) -> bytes:
    """Manufacturer data of a gateway of this generation: ``11 <type>`` + reversed MAC.

    No source documents what a gateway puts after its header, so we add no
    filler: the MAC follows the two header bytes (8 bytes in all).
    """
    try:
        kind = GatewayType(str(gateway_type).upper())
    except ValueError as exc:
        names = ", ".join(t.value for t in GatewayType)
        raise AdvertError(
            f"unknown gateway type {gateway_type!r}; expected one of {names}",
            field="gateway_type",
        ) from exc
    return bytes([GATEWAY_HEADER, _GATEWAY_BYTE_OF_TYPE[kind]]) + parse_mac(mac)[::-1]


def lock_local_name(prefix: str, mac: str | bytes) -> str:
    """Advertised name of a lock: ``prefix`` + ``_`` + last 3 MAC bytes reversed, lower case.

    ``lock_local_name("S202F", "EE:C6:A2:04:9A:F6")`` → ``"S202F_f69a04"`` (§6).
    """
    return f"{prefix}_{parse_mac(mac)[:2:-1].hex()}"
