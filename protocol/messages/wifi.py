"""Wi-Fi lock messages: scan, join, server, IP, info, account, power saving (§10.1).

Facts from docs/protocol.md §10.1.

Both roles use these classes, like the rest of :mod:`ttlock_hil.protocol.messages`. A
Wi-Fi lock (feature bit 56, §10.1.1) answers:

* 0xF2 SCAN_WIFI with one reply per network (:class:`WifiNetworkReply`) and then the
  end reply, exactly ``[F2][01][battery]`` (:class:`WifiScanEndReply`, §10.1.2);
* 0xF3 CONFIG_WIFI_AP first with error byte 0x24 "received, processing" and then the
  outcome: success, 0x25 bad SSID or 0x26 bad password (§10.1.3, §10.1.10);
* 0xF4 CONFIG_STATIC_IP, 0xF5 CONFIG_SERVER and 0xFA CONFIG_GATEWAY_ACCOUNT with a
  success whose data the SDK does not read (:class:`~ttlock_hil.protocol.messages.lock.AckReply`);
* 0xF6 GET_WIFI_INFO with the Wi-Fi MAC (byte-reversed) and RSSI (§10.1.6);
* 0x8F WIFI_SLEEP_MODE with power-saving windows, paged like passage mode (§10.1.8);
* 0x68 SWITCH, whose item 0x80 is the Wi-Fi "long connection" bit (§10.1.9).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final, Self

from ..commands import LockCommand
from ..errors import MessageError
from ._fields import (
    ASCII_LEN,
    I8,
    U8,
    U16,
    U32,
    UTF8_LEN,
    Const,
    EnumByte,
    F,
    ListOf,
    Mac,
    Md5Hex,
    Reader,
    Trailing,
    op,
)
from .gateway import (
    IP_SETTINGS_LAYOUT,
    NAME_FIELD_SIZE,
    _NamePart,
    _VersionPart,
    decode_plug_name,
    encode_plug_name,
)
from .lock import END_OF_SHORT_LIST, VENDOR, PassageModeEntry, ReplyData, Request

__all__ = [
    "DEFAULT_WIFI_PORT",
    "DEFAULT_WIFI_SERVER",
    "SwitchItem",
    "SwitchQuery",
    "SwitchReply",
    "SwitchSet",
    "WifiConfigAccount",
    "WifiConfigAp",
    "WifiConfigServer",
    "WifiConfigStaticIp",
    "WifiGetInfo",
    "WifiInfoReply",
    "WifiNetworkReply",
    "WifiScan",
    "WifiScanEndReply",
    "WifiSleepAckReply",
    "WifiSleepAdd",
    "WifiSleepClear",
    "WifiSleepListReply",
    "WifiSleepQuery",
]

DEFAULT_WIFI_SERVER: Final = "wifilock.ttlock.com"
"""The server the vendor's Flutter plugin configures when the caller gives none (§10.1.4)."""

DEFAULT_WIFI_PORT: Final = 4999
"""Its port (§10.1.4)."""

_SCIENER: Final = Const("vendor", VENDOR.encode("ascii"))


class SwitchItem(IntFlag):
    """Items of 0x68 COMM_SWITCH (vendor ``TTLockConfigType``, §10.1.9)."""

    TAMPER_ALERT = 0x01
    RESET_BUTTON = 0x02
    PRIVACY_LOCK = 0x04
    UNLOCK_DIRECTION = 0x10
    PASSAGE_MODE_AUTO_UNLOCK = 0x20
    WIFI_LONG_CONNECTION = 0x80
    """Set = the Wi-Fi lock keeps a long connection; clear = power saving (the opposite
    sense to every other item, §10.1.9)."""


# --- 0xF2 SCAN_WIFI ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class WifiScan(Request):
    """0xF2 SCAN_WIFI ``SCIENER``: the lock lists the networks it sees (§10.1.2)."""

    COMMAND = LockCommand.WIFI_SCAN
    LAYOUT = (_SCIENER,)


@dataclass(frozen=True, slots=True, repr=False)
class WifiNetworkReply(ReplyData):
    """0xF2, one network: ``[battery][ssidLen][ssid UTF-8][rssi i8]`` (§10.1.2)."""

    COMMAND = LockCommand.WIFI_SCAN
    LAYOUT = (F("battery", U8), F("ssid", UTF8_LEN), F("rssi", I8))
    battery: int
    ssid: str
    rssi: int


@dataclass(frozen=True, slots=True, repr=False)
class WifiScanEndReply(ReplyData):
    """0xF2, the end of the scan: plaintext exactly ``[F2][01][battery]`` (§10.1.2)."""

    COMMAND = LockCommand.WIFI_SCAN
    LAYOUT = (F("battery", U8),)
    battery: int


# --- 0xF3 CONFIG_WIFI_AP, 0xF5 CONFIG_SERVER, 0xF4 CONFIG_STATIC_IP -------------------


@dataclass(frozen=True, slots=True, repr=False)
class WifiConfigAp(Request):
    """0xF3 CONFIG_WIFI_AP: ``[ssidLen][ssid UTF-8][pwdLen][password]`` (§10.1.3).

    The vendor sends the password's length in characters and its bytes in the
    platform charset, so only an ASCII password has one meaning on the wire: this
    message accepts ASCII passwords only. The answer comes in two stages: error byte
    0x24 (processing), then success, 0x25 (bad SSID) or 0x26 (bad password).
    """

    COMMAND = LockCommand.WIFI_CONFIG_AP
    LAYOUT = (F("ssid", UTF8_LEN), F("password", ASCII_LEN, secret=True))
    ssid: str
    password: str


@dataclass(frozen=True, slots=True, repr=False)
class WifiConfigServer(Request):
    """0xF5 CONFIG_SERVER: ``[hostLen][host][port u16 BE]`` (§10.1.4)."""

    COMMAND = LockCommand.WIFI_CONFIG_SERVER
    LAYOUT = (F("host", ASCII_LEN), F("port", U16))
    host: str = DEFAULT_WIFI_SERVER
    port: int = DEFAULT_WIFI_PORT


@dataclass(frozen=True, slots=True, repr=False)
class WifiConfigStaticIp(Request):
    """0xF4 CONFIG_STATIC_IP, 21 bytes: ``[type][ip][mask][router][dns1][dns2]`` (§10.1.5).

    ``mode`` 0 static, 1 DHCP (then every address is zeros). Needs feature 58.
    """

    COMMAND = LockCommand.WIFI_CONFIG_STATIC_IP
    LAYOUT = IP_SETTINGS_LAYOUT
    mode: int
    ip: str = "0.0.0.0"
    mask: str = "0.0.0.0"
    router: str = "0.0.0.0"
    dns1: str = "0.0.0.0"
    dns2: str = "0.0.0.0"


# --- 0xF6 GET_WIFI_INFO ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class WifiGetInfo(Request):
    """0xF6 GET_WIFI_INFO: empty payload (§10.1.6)."""

    COMMAND = LockCommand.WIFI_GET_INFO


@dataclass(frozen=True, slots=True, repr=False)
class WifiInfoReply(ReplyData):
    """0xF6: ``[battery][Wi-Fi MAC 6 B, byte-reversed][rssi i8]`` (§10.1.6)."""

    COMMAND = LockCommand.WIFI_GET_INFO
    LAYOUT = (F("battery", U8), F("mac", Mac(reversed_=True)), F("rssi", I8))
    battery: int
    mac: str
    rssi: int


# --- 0xFA CONFIG_GATEWAY_ACCOUNT ------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class WifiConfigAccount(Request):
    """0xFA CONFIG_GATEWAY_ACCOUNT, 95 bytes (§10.1.7; the G2's 0x04 layout, §7).

    ``[uid u32][MD5(password) 32 hex][companyId u32][branchId u32][name 51 B]``, the
    name field being ``name + "\\n" + version digit`` padded with ``"\\n"``. The SDK has
    no setter for company, branch and version: they go out as 0.
    """

    COMMAND = LockCommand.WIFI_CONFIG_ACCOUNT
    LAYOUT = (
        F("uid", U32),
        F("password_md5", Md5Hex(), secret=True),
        F("company_id", U32),
        F("branch_id", U32),
        F("name", _NamePart()),
        F("gateway_version", _VersionPart()),
    )
    uid: int
    password_md5: str
    company_id: int = 0
    branch_id: int = 0
    name: str = ""
    gateway_version: int = 0

    @classmethod
    def with_password(cls, *, uid: int, password: str, name: str) -> Self:
        """Hash ``password`` the vendor's way (MD5, lowercase hex; §10.1.7); the request."""
        digest = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()
        return cls(uid, digest, 0, 0, name, 0)

    def _write_body(self) -> bytes:
        return self._write_items(self.LAYOUT[:4]) + encode_plug_name(
            self.name, self.gateway_version
        )

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:4])
        start = r.offset
        raw = r.take(NAME_FIELD_SIZE, "name")
        try:
            values["name"], values["gateway_version"] = decode_plug_name(raw)
        except MessageError as exc:
            r.fail("name", str(exc), offset=start)
        return cls._build(r, values)


# --- 0x8F WIFI_SLEEP_MODE -----------------------------------------------------------------

WIFI_SLEEP_END: Final = END_OF_SHORT_LIST
"""The next-sequence value of the last 0x8F page (§10.1.8, ``data[4] == -1``)."""


@dataclass(frozen=True, slots=True, repr=False)
class WifiSleepQuery(Request):
    """0x8F op 1: list the power-saving windows from ``seq`` (0 first, §10.1.8)."""

    COMMAND = LockCommand.WIFI_SLEEP_MODE
    LAYOUT = (op(1), F("seq", U8))
    seq: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class WifiSleepAdd(Request):
    """0x8F op 2: one weekly window ``[02][01][weekday][01][sH][sM][eH][eM]`` (§10.1.8).

    Byte 1 (the weekly type) and byte 3 (the reserved month field) are always 1, named
    by analogy with passage mode (§10.5 item 6). ``weekday`` 1..7 = Monday..Sunday.
    """

    COMMAND = LockCommand.WIFI_SLEEP_MODE
    LAYOUT = (
        op(2),
        Const("type", b"\x01"),
        F("weekday", U8),
        Const("month", b"\x01"),
        F("start_hour", U8),
        F("start_minute", U8),
        F("end_hour", U8),
        F("end_minute", U8),
    )
    weekday: int
    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int

    def _validate(self) -> None:
        if not 1 <= self.weekday <= 7:
            self._invalid("weekday", f"must be 1..7 (Monday..Sunday), got {self.weekday}")
        for name in ("start_hour", "end_hour"):
            if getattr(self, name) > 23:
                self._invalid(name, f"must be 0..23, got {getattr(self, name)}")
        for name in ("start_minute", "end_minute"):
            if getattr(self, name) > 59:
                self._invalid(name, f"must be 0..59, got {getattr(self, name)}")

    @property
    def entry(self) -> PassageModeEntry:
        """The window as the list reports it (a 7-byte ``PassageModeData`` record)."""
        return PassageModeEntry(
            1,
            self.weekday,
            1,
            self.start_hour,
            self.start_minute,
            self.end_hour,
            self.end_minute,
        )


@dataclass(frozen=True, slots=True, repr=False)
class WifiSleepClear(Request):
    """0x8F op 4: delete every power-saving window (§10.1.8)."""

    COMMAND = LockCommand.WIFI_SLEEP_MODE
    LAYOUT = (op(4),)


@dataclass(frozen=True, slots=True, repr=False)
class WifiSleepListReply(ReplyData):
    """0x8F query: ``[battery][01][nextSeq][7-byte records…]``; ``nextSeq`` 0xFF ends (§10.1.8).

    The SDK does not parse the records of the reply that ends the list.
    """

    COMMAND = LockCommand.WIFI_SLEEP_MODE
    LAYOUT = (
        F("battery", U8),
        op(1),
        F("next_seq", U8),
        F("windows", ListOf(PassageModeEntry)),
    )
    battery: int
    next_seq: int
    windows: tuple[PassageModeEntry, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class WifiSleepAckReply(ReplyData):
    """0x8F add/clear: ``[battery][op 2|4]`` (§10.1.8)."""

    COMMAND = LockCommand.WIFI_SLEEP_MODE
    LAYOUT = (F("battery", U8), F("op", U8))
    battery: int
    op: int

    def _validate(self) -> None:
        if self.op not in (2, 4):
            self._invalid("op", f"must be 2 (add) or 4 (clear), got {self.op}")


# --- 0x68 SWITCH ------------------------------------------------------------------------


class SwitchOp(IntEnum):
    """0x68 operation (vendor ``OperationType``, §10.1.9)."""

    GET = 1
    MODIFY = 2


@dataclass(frozen=True, slots=True, repr=False)
class SwitchQuery(Request):
    """0x68 op 1: which switch items the lock has, and their values (§10.1.9)."""

    COMMAND = LockCommand.SWITCH
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class SwitchSet(Request):
    """0x68 op 2: ``[02][items u32][values u32]`` (§10.1.9; :class:`SwitchItem` bits).

    The SDK reads first, toggles one bit of ``values`` and writes back the item mask
    it read.
    """

    COMMAND = LockCommand.SWITCH
    LAYOUT = (op(2), F("items", U32), F("values", U32))
    items: int
    values: int


@dataclass(frozen=True, slots=True, repr=False)
class SwitchReply(ReplyData):
    """0x68: ``[battery][op]`` + on get ``[items u32][values u32]`` (§10.1.9)."""

    COMMAND = LockCommand.SWITCH
    LAYOUT = (
        F("battery", U8),
        F("op", EnumByte(SwitchOp)),
        F("items", Trailing(U32)),
        F("values", Trailing(U32)),
    )
    battery: int
    op: int
    items: int | None = None
    values: int | None = None

    def is_on(self, item: SwitchItem) -> bool | None:
        """Whether ``item`` is set; ``None`` when the reply does not list it."""
        if self.items is None or self.values is None or not self.items & item:
            return None
        return bool(self.values & item)
