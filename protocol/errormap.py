"""What code an outcome maps to, as data, per plugin version (docs/protocol.md §5.1–§5.3).

Three tables, each a tuple of frozen rows that say where the mapping comes from:

* :data:`LOCK_ERROR_TABLE` — the lock's error byte (:class:`LockError`: reply
  plaintext[2] when the status is FAILED, §4.1) → code. The WX plugin reports the byte in decimal
  (§5.1: 0x1E → 30), so the code *is* the byte wherever the registry has it.
* :data:`GATEWAY_STATUS_TABLE` — the gateway's status byte (reply plaintext[0])
  → code. 1..9 → 128..136 = 0x7F + byte; **the offset is inferred** from the two
  tables lining up one to one (§5.2, §9 item 13); no source states it.
* :data:`LINK_CODE_TABLE` — link and parse problems the harness detects
  (:class:`LinkCondition`) → code. Several rows per condition, in preference
  order: the first whose code exists in the plugin version wins. Where two codes
  exist in the same version (e.g. −3 and 10017 in 2.7.0–3.0.4) **we prefer the
  newer one**, because that is the code later plugins settled on.

Every function returns a code that is valid in the plugin version asked about
(``ttlock_hil.protocol.codes.ErrorCode.is_valid_in``); the tests check it for every version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

from ttlock_hil.protocol.codes import (
    DEFAULT_PLUGIN_VERSION,
    Code,
    ErrorCode,
    PluginVersion,
    VersionLike,
    lookup,
)
from ttlock_hil.protocol.errors import ProtocolError, UnknownCode

__all__ = [
    "DEFAULT_PLUGIN_VERSION",
    "GATEWAY_CODES_SINCE",
    "GATEWAY_STATUS_FALLBACK",
    "GATEWAY_STATUS_TABLE",
    "LINK_CODE_TABLE",
    "LOCK_ERROR_FALLBACK",
    "LOCK_ERROR_TABLE",
    "GatewayStatusRow",
    "InvalidStatusByte",
    "LinkCodeRow",
    "LinkCondition",
    "LockError",
    "LockErrorRow",
    "gateway_codes_missing",
    "gateway_status_code",
    "is_gateway_processing",
    "is_processing",
    "link_code",
    "link_mapping",
    "lock_error_code",
    "lock_error_row",
    "require_gateway_codes",
]


class InvalidStatusByte(ProtocolError):
    """An error/status byte argument is not an int in 0..255."""

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def _check_byte(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise InvalidStatusByte(
            f"{field} must be one byte, an int in 0..255 (e.g. 0x1e), got {value!r}",
            field=field,
            value=value,
        )
    return value


# --------------------------------------------------------------------------- lock error byte


class LockError(IntEnum):
    """The lock's error byte: reply plaintext[2] when the status is FAILED (§4.1, §5.1).

    The one definition of these bytes: the lock role answers them (the virtual lock,
    the gate table of :mod:`ttlock_hil.protocol.connection`), the app role reads them,
    :data:`LOCK_ERROR_TABLE` maps them to codes. Member names drop the vendor's
    ``LOCK_`` prefix; the vendor name is in the comment.
    """

    SUCCESS = 0x00  # SUCCESS
    CRC_CHECK_ERROR = 0x01  # LOCK_CRC_CHECK_ERROR
    NO_PERMISSION = 0x02  # LOCK_NO_PERMISSION "not administrator"
    ADMIN_CHECK_ERROR = 0x03  # LOCK_ADMIN_CHECK_ERROR "wrong admin password"
    IN_SETTING_MODE = 0x05  # LOCK_IS_IN_SETTING_MODE
    NO_ADMIN = 0x06  # LOCK_NOT_EXIST_ADMIN
    NOT_IN_SETTING_MODE = 0x07  # LOCK_IS_IN_NO_SETTING_MODE (add admin on a paired lock)
    DYNAMIC_PWD_ERROR = 0x08  # LOCK_DYNAMIC_PWD_ERROR
    NO_POWER = 0x0A  # LOCK_NO_POWER
    INIT_KEYBOARD_FAILED = 0x0B  # LOCK_INIT_KEYBOARD_FAILED
    KEY_FLAG_INVALID = 0x0D  # LOCK_KEY_FLAG_INVALID "lockFlagPos too low"
    USER_TIME_EXPIRED = 0x0E  # LOCK_USER_TIME_EXPIRED
    PASSWORD_LENGTH_INVALID = 0x0F  # LOCK_PASSWORD_LENGTH_INVALID
    SUPER_PASSWORD_SAME_AS_DELETE = 0x10  # LOCK_SUPER_PASSWORD_IS_SAME_WITH_DELETE_PASSWORD
    USER_TIME_INEFFECTIVE = 0x11  # LOCK_USER_TIME_INEFFECTIVE
    USER_NOT_LOGIN = 0x12  # LOCK_USER_NOT_LOGIN
    OPERATE_FAILED = 0x13  # LOCK_OPERATE_FAILED "failed, undefined"
    PASSWORD_EXIST = 0x14  # LOCK_PASSWORD_EXIST
    PASSWORD_NOT_EXIST = 0x15  # LOCK_PASSWORD_NOT_EXIST
    NO_FREE_MEMORY = 0x16  # LOCK_NO_FREE_MEMORY
    NO_DEFINED_ERROR = 0x17  # NO_DEFINED_ERROR
    IC_CARD_NOT_EXIST = 0x18  # IC_CARD_NOT_EXIST
    # Not in the vendor's LockError: TTLOCK-BLE saw it for 0x90 item 7 on a lock without
    # NB-IoT, an "unrecognised step" (§5.1 last row). No code of its own: the catch-all.
    UNRECOGNISED_STEP = 0x19
    FINGER_PRINT_NOT_EXIST = 0x1A  # FINGER_PRINT_NOT_EXIST
    INVALID_COMMAND = 0x1B  # INVALID_COMMAND
    FROZEN = 0x1C  # LOCK_FROZEN
    INVALID_VENDOR = 0x1D  # INVALID_VENDOR
    LOCK_REVERSE = 0x1E  # LOCK_REVERSE "double locked"
    RECORD_NOT_EXIST = 0x1F  # RECORD_NOT_EXIST
    INVALID_PARAM = 0x20  # INVALID_PARAM
    PARKING_LOCK_LOCKED_FAILED = 0x21  # PARKING_LOCK_LOCKED_FAILED
    COMMAND_RECEIVED = 0x24  # COMMAND_RECEIVED "accepted, processing" (not a failure, §4.1)
    BAD_WIFI_NAME = 0x25  # BAD_WIFI_NAME
    BAD_WIFI_PASSWORD = 0x26  # BAD_WIFI_PASSWORD
    QR_CODE_ALREADY_EXIST = 0x27  # QR_CODE_ALREADY_EXIST (newest AAR only)


@dataclass(frozen=True, slots=True)
class LockErrorRow:
    """Lock error byte → code, with the vendor's ``LockError`` name and the basis."""

    byte: LockError
    code: int
    vendor_name: str
    basis: str


_S51 = "docs/protocol.md §5.1: WX code = error byte in decimal"
_E = LockError

LOCK_ERROR_FALLBACK: Final = Code.OPERATION_FAILED
"""Code for error bytes the registry has no code for (our decision).

19 rather than 23: 19's published text is "failed, undefined error or the device
does not support the operation", which is what an unknown byte is, and it is the
WX counterpart of the vendor's own catch-all (``LockError.getInstance`` maps any
other byte to ``Failed``, §5.1). 23 is a byte locks really send (0x17,
NO_DEFINED_ERROR); reusing it would hide which one arrived. 19 exists in every
plugin version.
"""

LOCK_ERROR_TABLE: Final[tuple[LockErrorRow, ...]] = (
    LockErrorRow(_E.SUCCESS, Code.OK, "SUCCESS", _S51),
    LockErrorRow(_E.CRC_CHECK_ERROR, Code.CRC_ERROR, "LOCK_CRC_CHECK_ERROR", _S51),
    LockErrorRow(_E.NO_PERMISSION, Code.NO_PERMISSION, "LOCK_NO_PERMISSION", _S51),
    LockErrorRow(_E.ADMIN_CHECK_ERROR, Code.ADMIN_CHECK_FAILED, "LOCK_ADMIN_CHECK_ERROR", _S51),
    LockErrorRow(_E.IN_SETTING_MODE, Code.IN_SETTING_MODE, "LOCK_IS_IN_SETTING_MODE", _S51),
    LockErrorRow(_E.NO_ADMIN, Code.NO_ADMIN, "LOCK_NOT_EXIST_ADMIN", _S51),
    LockErrorRow(
        _E.NOT_IN_SETTING_MODE, Code.NOT_IN_SETTING_MODE, "LOCK_IS_IN_NO_SETTING_MODE", _S51
    ),
    LockErrorRow(_E.DYNAMIC_PWD_ERROR, Code.DYNAMIC_CODE_INVALID, "LOCK_DYNAMIC_PWD_ERROR", _S51),
    LockErrorRow(_E.NO_POWER, Code.LOW_BATTERY, "LOCK_NO_POWER", _S51),
    LockErrorRow(
        _E.INIT_KEYBOARD_FAILED, Code.INIT_KEYBOARD_FAILED, "LOCK_INIT_KEYBOARD_FAILED", _S51
    ),
    LockErrorRow(_E.KEY_FLAG_INVALID, Code.EKEY_FLAG_TOO_LOW, "LOCK_KEY_FLAG_INVALID", _S51),
    LockErrorRow(_E.USER_TIME_EXPIRED, Code.EKEY_EXPIRED, "LOCK_USER_TIME_EXPIRED", _S51),
    LockErrorRow(
        _E.PASSWORD_LENGTH_INVALID,
        Code.PASSCODE_LENGTH_INVALID,
        "LOCK_PASSWORD_LENGTH_INVALID",
        _S51,
    ),
    LockErrorRow(
        _E.SUPER_PASSWORD_SAME_AS_DELETE,
        Code.SUPER_PASSCODE_SAME_AS_DELETE,
        "LOCK_SUPER_PASSWORD_IS_SAME_WITH_DELETE_PASSWORD",
        _S51,
    ),
    LockErrorRow(
        _E.USER_TIME_INEFFECTIVE, Code.EKEY_NOT_EFFECTIVE, "LOCK_USER_TIME_INEFFECTIVE", _S51
    ),
    LockErrorRow(_E.USER_NOT_LOGIN, Code.USER_NOT_LOGGED_IN, "LOCK_USER_NOT_LOGIN", _S51),
    LockErrorRow(_E.OPERATE_FAILED, Code.OPERATION_FAILED, "LOCK_OPERATE_FAILED", _S51),
    LockErrorRow(_E.PASSWORD_EXIST, Code.PASSCODE_EXISTS, "LOCK_PASSWORD_EXIST", _S51),
    LockErrorRow(_E.PASSWORD_NOT_EXIST, Code.PASSCODE_NOT_EXIST, "LOCK_PASSWORD_NOT_EXIST", _S51),
    LockErrorRow(_E.NO_FREE_MEMORY, Code.OUT_OF_MEMORY, "LOCK_NO_FREE_MEMORY", _S51),
    LockErrorRow(_E.NO_DEFINED_ERROR, Code.NO_DEFINED_ERROR, "NO_DEFINED_ERROR", _S51),
    LockErrorRow(_E.IC_CARD_NOT_EXIST, Code.IC_CARD_NOT_EXIST, "IC_CARD_NOT_EXIST", _S51),
    LockErrorRow(
        _E.FINGER_PRINT_NOT_EXIST, Code.FINGERPRINT_NOT_EXIST, "FINGER_PRINT_NOT_EXIST", _S51
    ),
    LockErrorRow(_E.INVALID_COMMAND, Code.INVALID_COMMAND, "INVALID_COMMAND", _S51),
    LockErrorRow(_E.FROZEN, Code.LOCK_FROZEN, "LOCK_FROZEN", _S51),
    LockErrorRow(_E.INVALID_VENDOR, Code.INVALID_VENDOR, "INVALID_VENDOR", _S51),
    LockErrorRow(_E.LOCK_REVERSE, Code.DOUBLE_LOCKED, "LOCK_REVERSE", _S51),
    LockErrorRow(_E.RECORD_NOT_EXIST, Code.RECORD_NOT_EXIST, "RECORD_NOT_EXIST", _S51),
    LockErrorRow(_E.INVALID_PARAM, Code.INVALID_PARAM, "INVALID_PARAM", _S51),
    LockErrorRow(
        _E.PARKING_LOCK_LOCKED_FAILED,
        LOCK_ERROR_FALLBACK,
        "PARKING_LOCK_LOCKED_FAILED",
        "our decision: §5.1 gives this parking-lock byte no WX code; reported as the "
        "catch-all 19 (see LOCK_ERROR_FALLBACK)",
    ),
    LockErrorRow(
        _E.COMMAND_RECEIVED,
        Code.COMMAND_RECEIVED,
        "COMMAND_RECEIVED",
        _S51 + "; means processing (§4.1)",
    ),
    LockErrorRow(_E.BAD_WIFI_NAME, Code.WIFI_BAD_SSID, "BAD_WIFI_NAME", _S51),
    LockErrorRow(_E.BAD_WIFI_PASSWORD, Code.WIFI_BAD_PASSWORD, "BAD_WIFI_PASSWORD", _S51),
    LockErrorRow(
        _E.QR_CODE_ALREADY_EXIST,
        LOCK_ERROR_FALLBACK,
        "QR_CODE_ALREADY_EXIST",
        "our decision: §5.1 lists this byte in the newest AAR only, with no WX code; "
        "reported as the catch-all 19 (see LOCK_ERROR_FALLBACK)",
    ),
)

_LOCK_ROWS: Final[dict[int, LockErrorRow]] = {row.byte: row for row in LOCK_ERROR_TABLE}

COMMAND_RECEIVED_BYTE: Final = LockError.COMMAND_RECEIVED


def lock_error_row(byte: int) -> LockErrorRow | None:
    """The table row for a lock error byte, or None for a byte §5.1 does not define."""
    return _LOCK_ROWS.get(_check_byte(byte, "lock error byte"))


def is_processing(byte: int) -> bool:
    """True for 0x24 COMMAND_RECEIVED: "accepted, processing", not a failure (§4.1).

    Wi-Fi locks answer a configuration command with it and report the outcome later.
    """
    return _check_byte(byte, "lock error byte") == COMMAND_RECEIVED_BYTE


def lock_error_code(byte: int, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION) -> ErrorCode:
    """The code the plugin reports for a lock error byte (``0`` → OK).

    Bytes §5.1 does not define, and bytes whose code does not exist yet in
    ``plugin_version`` (36..38 before 2.7.6), give :data:`LOCK_ERROR_FALLBACK`.
    """
    row = lock_error_row(byte)
    version = PluginVersion.parse(plugin_version)
    if row is not None:
        entry = lookup(row.code)
        if entry.is_valid_in(version):
            return entry
    return lookup(LOCK_ERROR_FALLBACK)


# ----------------------------------------------------------------------- gateway status byte


@dataclass(frozen=True, slots=True)
class GatewayStatusRow:
    """Gateway status byte → code, with the Android meaning and the basis."""

    status: int
    code: int
    vendor_name: str
    basis: str


_S52 = "docs/protocol.md §5.2: WX code = 0x7F + status byte (offset INFERRED, no source states it)"

GATEWAY_STATUS_FALLBACK: Final = Code.GATEWAY_FAILED
"""Code for status bytes of 10 and above: Android's ``GatewayError.getInstance``
maps them to FAILED (§5.2), whose WX code is 128."""

GATEWAY_CODES_SINCE: Final = lookup(GATEWAY_STATUS_FALLBACK).since
"""The first plugin version with gateway codes (128..136, from the seed table): before
it the plugin has no code for any gateway answer, and the mapping raises rather than
invent one."""


def gateway_codes_missing(plugin_version: VersionLike) -> str | None:
    """Why ``plugin_version`` cannot code a gateway's answers (``None``: it can)."""
    version = PluginVersion.parse(plugin_version)
    if lookup(GATEWAY_STATUS_FALLBACK).is_valid_in(version):
        return None
    return f"plugin {version} has no gateway codes (they exist from plugin {GATEWAY_CODES_SINCE})"


def require_gateway_codes(plugin_version: VersionLike) -> None:
    """Raise :class:`UnknownCode` when ``plugin_version`` has no gateway codes."""
    missing = gateway_codes_missing(plugin_version)
    if missing is not None:
        raise UnknownCode(
            f"{missing}: a gateway's answers cannot be mapped; pass plugin version "
            f"{GATEWAY_CODES_SINCE} or newer"
        )


GATEWAY_STATUS_TABLE: Final[tuple[GatewayStatusRow, ...]] = (
    GatewayStatusRow(0, Code.OK, "SUCCESS", "docs/protocol.md §5.2: status 0 is success"),
    GatewayStatusRow(1, Code.GATEWAY_FAILED, "FAILED", _S52),
    GatewayStatusRow(2, Code.GATEWAY_PROCESSING, "(processing)", _S52),
    GatewayStatusRow(3, Code.GATEWAY_BAD_SSID, "BAD_WIFI_NAME", _S52),
    GatewayStatusRow(4, Code.GATEWAY_BAD_WIFI_PASSWORD, "BAD_WIFI_PASSWORD", _S52),
    GatewayStatusRow(5, Code.GATEWAY_FINISHED, "(done)", _S52),
    GatewayStatusRow(6, Code.GATEWAY_INVALID_COMMAND, "INVALID_COMMAND", _S52),
    GatewayStatusRow(7, Code.GATEWAY_TIMEOUT, "TIME_OUT", _S52),
    GatewayStatusRow(8, Code.GATEWAY_NO_SIM_CARD, "NO_SIM_CARD", _S52),
    GatewayStatusRow(9, Code.GATEWAY_NO_NETWORK, "NO_CABLE", _S52),
)

_GATEWAY_ROWS: Final = {row.status: row for row in GATEWAY_STATUS_TABLE}

GATEWAY_PROCESSING_STATUS: Final = 2


def is_gateway_processing(status: int) -> bool:
    """True for status 2, "command received, processing" (CONFIGURE_WIFI, §5.2)."""
    return _check_byte(status, "gateway status byte") == GATEWAY_PROCESSING_STATUS


def gateway_status_code(
    status: int, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION
) -> ErrorCode:
    """The code the plugin reports for a gateway status byte (``0`` → OK).

    Status 10 and above give :data:`GATEWAY_STATUS_FALLBACK`. Plugins before
    2.6.0 have no gateway codes at all: asking for a failure status there raises
    :class:`~ttlock_hil.protocol.errors.UnknownCode` rather than inventing one.
    """
    row = _GATEWAY_ROWS.get(_check_byte(status, "gateway status byte"))
    code = row.code if row is not None else GATEWAY_STATUS_FALLBACK
    if code != Code.OK:
        require_gateway_codes(plugin_version)
    return lookup(code)


# ---------------------------------------------------------------------------- link conditions


class LinkCondition(StrEnum):
    """A link or parse problem the harness detects itself (no byte from the device)."""

    CONNECT_TIMEOUT = "connect_timeout"  # no connection within the deadline
    DISCONNECTED = "disconnected"  # link lost while a command was pending
    WRITE_FAILED = "write_failed"  # GATT write of a request chunk failed
    NOTIFY_ENABLE_FAILED = "notify_enable_failed"  # could not subscribe to notifications
    SERVICE_MISSING = "service_missing"  # the TTLock service is not on the device
    CHARACTERISTIC_MISSING = "characteristic_missing"  # service there, characteristic not
    RESPONSE_TIMEOUT = "response_timeout"  # request sent, no reply within the deadline
    REPLY_CRC_ERROR = "reply_crc_error"  # reply frame's CRC-8 is wrong
    REPLY_UNDECRYPTABLE = "reply_undecryptable"  # AES decrypt of the reply failed
    REPLY_UNPARSEABLE = "reply_unparseable"  # reply decrypted but not a valid envelope
    DEVICE_NOT_FOUND = "device_not_found"  # scan ended without the device
    BUSY = "busy"  # another command is in flight on this device
    INVALID_PARAMETERS = "invalid_parameters"  # caller passed arguments we cannot encode
    UNSUPPORTED = "unsupported"  # the device's features do not include the operation


@dataclass(frozen=True, slots=True)
class LinkCodeRow:
    """One candidate code for a link condition and why.

    Rows of one condition are tried in table order; the first whose code exists
    in the plugin version is used. ``basis`` cites docs/protocol.md or starts with
    "our decision" and gives the reason.
    """

    condition: LinkCondition
    code: int
    basis: str


_C = LinkCondition
_NEWER = "our decision: where both codes exist, prefer the newer one"

LINK_CODE_TABLE: Final[tuple[LinkCodeRow, ...]] = (
    LinkCodeRow(
        _C.CONNECT_TIMEOUT,
        Code.CONNECT_TIMEOUT,
        "docs/protocol.md §5.3 'BLE connect timeout': WX 10002 (10042/10045/10503 are "
        "platform-specific connect failures, not a timeout)",
    ),
    LinkCodeRow(
        _C.DISCONNECTED,
        Code.DISCONNECTED,
        "docs/protocol.md §5.3 'link lost mid-command': WX 10003 disconnected",
    ),
    LinkCodeRow(
        _C.WRITE_FAILED,
        Code.WRITE_FAILED,
        "our decision among docs/protocol.md §5.3 'write failed' (10004 / 10033): 10033 belongs "
        "to the plugin's BLE-API failure block 10030..10036 (adapter, scan, notify, write, "
        "parse); 10004 adds 'try again later' advice a failed GATT write does not earn",
    ),
    LinkCodeRow(
        _C.NOTIFY_ENABLE_FAILED,
        Code.CHARACTERISTIC_ENABLE_FAILED,
        _NEWER + ": 10508 (3.1.0) 'could not enable the Bluetooth characteristic' is the "
        "3.1.0 generation's code for this step; 10032 stays valid",
    ),
    LinkCodeRow(
        _C.NOTIFY_ENABLE_FAILED,
        Code.NOTIFY_ENABLE_FAILED,
        "WX table: 10032 'failed to enable notify on the characteristic' (every version)",
    ),
    LinkCodeRow(
        _C.SERVICE_MISSING,
        Code.SERVICE_MISSING,
        "WX table (3.1.0): 10513 'the Bluetooth service does not exist'",
    ),
    LinkCodeRow(
        _C.SERVICE_MISSING,
        Code.CHARACTERISTIC_MISSING,
        "our decision before 3.1.0: without the service its characteristics are missing "
        "too; 10018 (2.7.0) is the closest code",
    ),
    LinkCodeRow(
        _C.SERVICE_MISSING,
        Code.NOTIFY_ENABLE_FAILED,
        "our decision before 2.7.0: the first GATT step on the characteristic, enabling "
        "notify, is what fails; 10032 reports that",
    ),
    LinkCodeRow(
        _C.CHARACTERISTIC_MISSING,
        Code.CHARACTERISTIC_MISSING,
        "WX table (2.7.0): 10018 'the Bluetooth characteristic does not exist'",
    ),
    LinkCodeRow(
        _C.CHARACTERISTIC_MISSING,
        Code.NOTIFY_ENABLE_FAILED,
        "our decision before 2.7.0: the first GATT step on the characteristic, enabling "
        "notify, is what fails; 10032 reports that",
    ),
    LinkCodeRow(
        _C.RESPONSE_TIMEOUT,
        Code.RESPONSE_TIMEOUT,
        "docs/protocol.md §5.3 'no reply': WX 10017 device response timeout (since 2.7.0); "
        + _NEWER,
    ),
    LinkCodeRow(
        _C.RESPONSE_TIMEOUT,
        Code.RESPONSE_TIMEOUT_LEGACY,
        "docs/protocol.md §5.3 'no reply': WX -3 (old), valid from 2.6.0 up to 3.1.0",
    ),
    LinkCodeRow(
        _C.RESPONSE_TIMEOUT,
        Code.CONNECT_TIMEOUT,
        "our decision before 2.6.0: the vendor SDK reports a missing reply as "
        "LOCK_CONNECT_FAIL (docs/protocol.md §5.3 'no reply'), whose WX counterpart is 10002",
    ),
    LinkCodeRow(
        _C.REPLY_CRC_ERROR,
        Code.CRC_ERROR,
        "docs/protocol.md §5.3 'reply CRC wrong': vendor LOCK_CRC_CHECK_ERROR, WX 1",
    ),
    LinkCodeRow(
        _C.REPLY_UNDECRYPTABLE,
        Code.LOCK_MAY_BE_RESET,
        "docs/protocol.md §5.3 'AES decrypt fails': vendor KEY_INVALID, WX 10001 lock may be reset",
    ),
    LinkCodeRow(
        _C.REPLY_UNPARSEABLE,
        Code.PARSE_FAILED,
        "docs/protocol.md §5.3 'AES decrypt fails / empty plaintext': WX 10034 parse failure",
    ),
    LinkCodeRow(
        _C.DEVICE_NOT_FOUND,
        Code.DEVICE_NOT_FOUND,
        "our decision (§5.3 has no row): WX 10036 'no device found, scanning stopped' says "
        "exactly this; 10404 (3.1.0) is a scan timeout with a permission hint",
    ),
    LinkCodeRow(_C.BUSY, Code.BLUETOOTH_BUSY, "docs/protocol.md §5.3 'busy': WX 11013"),
    LinkCodeRow(
        _C.BUSY,
        Code.SEND_FAILED,
        "our decision before 2.4.0: the command was not sent and should be retried later, "
        "which is what 10004 says",
    ),
    LinkCodeRow(
        _C.INVALID_PARAMETERS,
        Code.INVALID_PARAMETERS,
        "docs/protocol.md §5.3 'bad params': WX 11003",
    ),
    LinkCodeRow(
        _C.INVALID_PARAMETERS,
        Code.INVALID_PARAM,
        "our decision before 2.1.0: 32 'invalid parameter' (lock byte 0x20, §5.1) is the only "
        "parameter code that exists",
    ),
    LinkCodeRow(_C.UNSUPPORTED, Code.UNSUPPORTED, "docs/protocol.md §5.3 'unsupported': WX 11004"),
    LinkCodeRow(
        _C.UNSUPPORTED,
        Code.DEVICE_UNSUPPORTED_LEGACY,
        "our decision before 2.1.0: 11001 'the device does not support this operation yet'",
    ),
)


def link_mapping(
    condition: LinkCondition | str, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION
) -> LinkCodeRow:
    """The :data:`LINK_CODE_TABLE` row used for ``condition`` in ``plugin_version``."""
    try:
        wanted = LinkCondition(condition)
    except ValueError:
        choices = ", ".join(c.value for c in LinkCondition)
        raise UnknownCode(
            f"unknown link condition {condition!r}; valid conditions: {choices}"
        ) from None
    version = PluginVersion.parse(plugin_version)
    for row in LINK_CODE_TABLE:
        if row.condition is wanted and lookup(row.code).is_valid_in(version):
            return row
    # The tests prove every condition resolves in every version; reaching this is a table bug.
    raise UnknownCode(f"no code for link condition {wanted.value!r} in plugin {version}")


def link_code(
    condition: LinkCondition | str, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION
) -> ErrorCode:
    """The code the plugin reports for a link condition in ``plugin_version``.

    >>> link_code(LinkCondition.RESPONSE_TIMEOUT, "2.6.0").code
    -3
    >>> link_code(LinkCondition.RESPONSE_TIMEOUT, "3.1.0").code
    10017
    """
    return lookup(link_mapping(condition, plugin_version).code)
