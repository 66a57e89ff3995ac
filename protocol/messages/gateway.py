"""Gateway (G2 Wi-Fi, G3 wired, G4 4G) configuration messages (docs/protocol.md §7).

Same scheme as :mod:`ttlock_hil.protocol.messages.lock`: frozen dataclasses with
``encode()``/``decode()``, one registry, two roles. The app builds requests and
reads :class:`GatewayReply` (and :class:`SsidScanReply` for the Wi-Fi scan);
the virtual gateway decodes requests with :func:`decode_gateway_request` and
answers with ``GatewayReply(status).encode()`` or ``SsidScanReply(...).encode()``.

A gateway reply plaintext starts with a status byte (docs/protocol.md §5.2), not
with an echoed opcode: ``[status][data…]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import ClassVar, Final, Self

from ..commands import GatewayCommand
from ..errors import MessageError
from ._fields import (
    ASCII_LEN,
    REST,
    U16,
    U32,
    UTF8_LEN,
    UTF8_REST,
    Codec,
    Const,
    EndMarker,
    EnumByte,
    F,
    Int8,
    Ipv4,
    ListOf,
    Md5Hex,
    Reader,
    WireStruct,
    decode_variants,
)
from .lock import VENDOR

DEFAULT_SERVER: Final = "plug.sciener.cn"
"""Default gateway server (vendor ``ConfigureGatewayInfo.server``, WX docs)."""

DEFAULT_PORT: Final = 2999
"""Default gateway server port (vendor ``ConfigureGatewayInfo.port``)."""

NAME_FIELD_SIZE: Final = 51
"""Size of CONFIGURE_ACCOUNT's name field (vendor ``LINK_NAME_LENGTH``)."""

_SCIENER: Final = Const("vendor", VENDOR.encode("ascii"))


class GatewayStatus(IntEnum):
    """Gateway reply plaintext[0] (§5.2; Android ``GatewayError`` + ``doWithData``)."""

    SUCCESS = 0
    FAILED = 1
    PROCESSING = 2  # "command received": only handled for CONFIGURE_WIFI
    BAD_WIFI_NAME = 3
    BAD_WIFI_PASSWORD = 4
    DONE = 5  # end of the SSID scan
    INVALID_COMMAND = 6
    TIME_OUT = 7
    NO_SIM_CARD = 8
    NO_CABLE = 9


class IpMode(IntEnum):
    """CONFIG_IP type byte (§7)."""

    STATIC = 0
    DHCP = 1


class GatewayModel(IntEnum):
    """``plugVersion`` = gateway type (WX ``TTGATEWAY_TYPE``)."""

    G2 = 2  # Wi-Fi
    G3 = 3  # wired
    G4 = 4  # 4G


# --- gateway-specific codecs ---------------------------------------------------


def _as_model(version: int) -> int:
    try:
        return GatewayModel(version)
    except ValueError:
        return version


def encode_plug_name(name: str, plug_version: int) -> bytes:
    """The 51-byte name field of CONFIGURE_ACCOUNT, exactly as §7 describes.

    Up to 49 UTF-8 bytes: ``name + "\\n" + version digit`` then ``"\\n"`` up to 51
    bytes. Longer names are cut to 51 bytes (zero-filled when 50) and bytes 49
    and 50 become ``"\\n"`` and the version digit.
    """
    raw = name.encode("utf-8")
    digit = str(plug_version).encode("ascii")
    room = NAME_FIELD_SIZE - len(raw)
    if room > 1:
        return raw + b"\n" + digit + b"\n" * (room - 2)
    cut = bytearray(raw[:NAME_FIELD_SIZE].ljust(NAME_FIELD_SIZE, b"\x00"))
    cut[NAME_FIELD_SIZE - 2 :] = b"\n" + digit
    return bytes(cut)


def decode_plug_name(field: bytes) -> tuple[str, int]:
    """``(name, plug_version)`` back from the 51-byte field (names cut at 49 bytes stay cut)."""
    if len(field) != NAME_FIELD_SIZE:
        raise MessageError(f"the name field is {NAME_FIELD_SIZE} bytes, got {len(field)}")
    body = field.rstrip(b"\n")
    if len(body) < 2 or body[-2:-1] != b"\n" or not body[-1:].isdigit():
        raise MessageError(
            f"name field {field.hex()} does not end with '\\n' + version digit + '\\n' padding"
        )
    return _utf8_name(body[:-2]), body[-1] - ord("0")


def _utf8_name(raw: bytes) -> str:
    """Decode a name; a multi-byte character cut by the 51-byte limit is dropped."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return raw[: exc.start].decode("utf-8")
        raise MessageError(f"name bytes {raw.hex()} are not UTF-8 ({exc.reason})") from exc


# --- requests ---------------------------------------------------------------------


class GatewayRequest(WireStruct):
    """A gateway request plaintext (the opcode travels in the frame header, §2.3)."""

    __slots__ = ()
    COMMAND: ClassVar[GatewayCommand]


@dataclass(frozen=True, slots=True, repr=False)
class Echo(GatewayRequest):
    """0x45 ECHO ``SCIENER``: sent right after enabling notifications; answer = connected."""

    COMMAND = GatewayCommand.ECHO
    LAYOUT = (_SCIENER,)


@dataclass(frozen=True, slots=True, repr=False)
class GetNearbySsid(GatewayRequest):
    """0x01 GET_NEARBY_SSID ``SCIENER``: scan for Wi-Fi networks (see :class:`SsidScanReply`)."""

    COMMAND = GatewayCommand.GET_NEARBY_SSID
    LAYOUT = (_SCIENER,)


@dataclass(frozen=True, slots=True, repr=False)
class ConfigureWifi(GatewayRequest):
    """0x02 CONFIGURE_WIFI (G2 only): ``[ssidLen][ssid UTF-8][pwdLen][pwd]``."""

    COMMAND = GatewayCommand.CONFIGURE_WIFI
    LAYOUT = (F("ssid", UTF8_LEN), F("password", UTF8_LEN, secret=True))
    ssid: str
    password: str


@dataclass(frozen=True, slots=True, repr=False)
class ConfigureServer(GatewayRequest):
    """0x03 CONFIGURE_SERVER: ``[hostLen][host ASCII][port u16 BE]``."""

    COMMAND = GatewayCommand.CONFIGURE_SERVER
    LAYOUT = (F("host", ASCII_LEN), F("port", U16))
    host: str = DEFAULT_SERVER
    port: int = DEFAULT_PORT


class _NamePart(Codec[str]):
    """The plug name inside the 51-byte name field (see :func:`encode_plug_name`).

    Name and version share one wire field, so :class:`ConfigureAccount` reads
    and writes them together; this codec only describes and validates.
    """

    spec = f"{NAME_FIELD_SIZE} B field: name"

    def read(self, r: Reader, field: str) -> str:
        raise NotImplementedError("read with the version digit by ConfigureAccount")

    def write(self, value: str) -> bytes:
        raise NotImplementedError("written with the version digit by ConfigureAccount")

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, str) else f"must be a str, got {type(value).__name__}"


class _VersionPart(Codec[int]):
    """The gateway type digit inside the name field (``plugVersion``)."""

    spec = "+ '\\n' + version digit + '\\n' padding"

    def read(self, r: Reader, field: str) -> int:
        raise NotImplementedError("read with the name by ConfigureAccount")

    def write(self, value: int) -> bytes:
        raise NotImplementedError("written with the name by ConfigureAccount")

    def problem(self, value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
            return None
        return f"must be one digit 0..9 (2 G2, 3 G3, 4 G4), got {value!r}"


@dataclass(frozen=True, slots=True, repr=False)
class ConfigureAccount(GatewayRequest):
    """0x04 CONFIGURE_ACCOUNT: binds the gateway to a TTLock account.

    ``[uid u32][MD5(password) 32 hex ASCII][companyId u32][branchId u32][name 51 B]``
    where the name field is built by :func:`encode_plug_name`. Names longer than
    49 UTF-8 bytes are cut by the wire format (vendor behaviour) and so do not
    come back whole from :meth:`decode`.
    """

    COMMAND = GatewayCommand.CONFIGURE_ACCOUNT
    LAYOUT = (
        F("uid", U32),
        F("password_md5", Md5Hex(), secret=True),
        F("company_id", U32),
        F("branch_id", U32),
        F("name", _NamePart()),
        F("plug_version", _VersionPart()),
    )
    uid: int
    password_md5: str
    company_id: int
    branch_id: int
    name: str
    plug_version: int = GatewayModel.G2

    @classmethod
    def with_password(
        cls,
        *,
        uid: int,
        password: str,
        company_id: int,
        branch_id: int,
        name: str,
        plug_version: int = GatewayModel.G2,
    ) -> Self:
        """Hash ``password`` the vendor's way (MD5, lowercase hex) and build the request."""
        digest = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()
        return cls(uid, digest, company_id, branch_id, name, plug_version)

    def _write_body(self) -> bytes:
        return self._write_items(self.LAYOUT[:4]) + encode_plug_name(self.name, self.plug_version)

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:4])
        start = r.offset
        raw = r.take(NAME_FIELD_SIZE, "name")
        try:
            values["name"], version = decode_plug_name(raw)
        except MessageError as exc:
            r.fail("name", str(exc), offset=start)
        values["plug_version"] = _as_model(version)
        return cls._build(r, values)


@dataclass(frozen=True, slots=True, repr=False)
class EnterDfu(GatewayRequest):
    """0x05 ENTER_DFU ``SCIENER``: reboot into firmware-update mode."""

    COMMAND = GatewayCommand.ENTER_DFU
    LAYOUT = (_SCIENER,)


IP_SETTINGS_LAYOUT: Final = (
    F("mode", EnumByte(IpMode)),
    F("ip", Ipv4()),
    F("mask", Ipv4()),
    F("router", Ipv4()),
    F("dns1", Ipv4()),
    F("dns2", Ipv4()),
)
"""``[mode 0 static/1 DHCP][ip][mask][router][dns1][dns2]`` (4 bytes each): one layout for
a gateway's CONFIG_IP 0x06 (§7) and a Wi-Fi lock's CONFIG_STATIC_IP 0xF4 (§10.1.5)."""


@dataclass(frozen=True, slots=True, repr=False)
class ConfigIp(GatewayRequest):
    """0x06 CONFIG_IP: ``[type 0 static/1 DHCP][ip][mask][router][dns1][dns2]`` (4 B each)."""

    COMMAND = GatewayCommand.CONFIG_IP
    LAYOUT = IP_SETTINGS_LAYOUT
    mode: int
    ip: str = "0.0.0.0"
    mask: str = "0.0.0.0"
    router: str = "0.0.0.0"
    dns1: str = "0.0.0.0"
    dns2: str = "0.0.0.0"


@dataclass(frozen=True, slots=True, repr=False)
class SetApn(GatewayRequest):
    """0x07 SET_APN (G4): the APN string, UTF-8."""

    COMMAND = GatewayCommand.SET_APN
    LAYOUT = (F("apn", UTF8_REST),)
    apn: str


# --- replies ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class GatewayReply(WireStruct):
    """A gateway reply plaintext: ``[status][data…]`` (§5.2 lists the status bytes)."""

    LAYOUT = (F("status", EnumByte(GatewayStatus)), F("data", REST))
    status: int
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == GatewayStatus.SUCCESS

    @property
    def is_processing(self) -> bool:
        """Status 2: accepted, keep waiting (CONFIGURE_WIFI)."""
        return self.status == GatewayStatus.PROCESSING


def parse_gateway_reply(plaintext: bytes) -> GatewayReply:
    """Split a decrypted gateway reply into status and data (MessageError when empty)."""
    return GatewayReply.decode(plaintext)


@dataclass(frozen=True, slots=True, repr=False)
class SsidEntry(WireStruct):
    """One scan result: ``[0][ssidLen][ssid UTF-8][rssi i8]``."""

    COMMAND = GatewayCommand.GET_NEARBY_SSID
    LAYOUT = (Const("status", b"\x00"), F("ssid", UTF8_LEN), F("rssi", Int8()))
    ssid: str
    rssi: int


@dataclass(frozen=True, slots=True, repr=False)
class SsidScanReply(WireStruct):
    """Scan results in one plaintext: entries, then ``[5]`` when the scan is over.

    The gateway streams entries over several notifications; each one parses to
    an instance, and ``finished`` tells when to stop listening.
    """

    COMMAND = GatewayCommand.GET_NEARBY_SSID
    LAYOUT = (
        F("entries", ListOf(SsidEntry, until=GatewayStatus.DONE)),
        F("finished", EndMarker(GatewayStatus.DONE)),
    )
    entries: tuple[SsidEntry, ...] = ()
    finished: bool = False


def parse_ssid_scan(plaintext: bytes) -> SsidScanReply:
    """Parse one SSID-scan notification (MessageError for any other status byte)."""
    return SsidScanReply.decode(plaintext)


# --- registry ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatewayMessages:
    """The request class of one gateway opcode and the reply classes it may get."""

    command: GatewayCommand
    request: type[GatewayRequest]
    replies: tuple[type[WireStruct], ...]


GATEWAY_MESSAGES: Final[Mapping[GatewayCommand, GatewayMessages]] = MappingProxyType(
    {
        cls.COMMAND: GatewayMessages(
            cls.COMMAND,
            cls,
            (SsidScanReply, GatewayReply) if cls is GetNearbySsid else (GatewayReply,),
        )
        for cls in (
            Echo,
            GetNearbySsid,
            ConfigureWifi,
            ConfigureServer,
            ConfigureAccount,
            EnterDfu,
            ConfigIp,
            SetApn,
        )
    }
)
"""Every gateway command (§7) → its request class and reply classes."""


def _gateway_messages_for(command: int) -> GatewayMessages:
    try:
        return GATEWAY_MESSAGES[GatewayCommand(command)]
    except (ValueError, KeyError):
        known = ", ".join(f"0x{c:02x}" for c in sorted(GATEWAY_MESSAGES))
        raise MessageError(
            f"not a gateway command with a documented layout; known: {known}", command=command
        ) from None


def decode_gateway_request(command: int, plaintext: bytes) -> GatewayRequest:
    """Parse a gateway request plaintext for ``command`` (the gateway role's entry point)."""
    request = _gateway_messages_for(command).request
    result: GatewayRequest = decode_variants(command, (request,), plaintext)
    return result


def decode_gateway_reply(command: int, plaintext: bytes) -> GatewayReply | SsidScanReply:
    """Parse a gateway reply to ``command``: scan results for 0x01, else the status envelope."""
    result: GatewayReply | SsidScanReply = decode_variants(
        command, _gateway_messages_for(command).replies, plaintext
    )
    return result
