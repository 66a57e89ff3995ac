"""The TTLock error-code registry: every code of the WeChat plugin's table.

The table is the WX plugin's ``错误码.md`` (our seed, docs/protocol.md §5): 121 rows,
119 distinct codes (10101 is listed three times). It ships as data in
``protocol/data/error_codes.json``; each code carries the Chinese text exactly as
published, an English text, the plugin version that introduced it (``since``),
the first plugin version where it is gone (``absent``) and a :class:`Category`.

A code is *valid in* plugin version ``V`` when ``since <= V < absent`` (a missing
``since`` means "since the beginning", a missing ``absent`` "still there")::

    >>> from protocol.codes import Code, lookup, is_valid
    >>> lookup(Code.DOUBLE_LOCKED).en
    'The door is double-locked (normal users may not unlock).'
    >>> is_valid(-3, "3.1.0")
    False

The seed has one typo: 10304 reads "效的请求地址" (the leading "无" is missing).
``zh`` keeps it verbatim; ``zh_corrected`` holds "无效的请求地址".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from importlib import resources
from typing import Any, Final

from ttlock_hil.protocol.errors import ProtocolError, UnknownCode

__all__ = [
    "DEFAULT_PLUGIN_VERSION",
    "Category",
    "CategoryError",
    "Code",
    "ErrorCode",
    "PluginVersion",
    "PluginVersionError",
    "UnknownCode",
    "VersionLike",
    "all_codes",
    "by_category",
    "is_valid",
    "lookup",
    "parse_category",
    "table_versions",
    "valid_in",
]

DEFAULT_PLUGIN_VERSION: Final = "3.1.0"
"""The plugin generation asserted when a lab config names none (docs/architecture.md §8)."""


class PluginVersionError(ProtocolError):
    """A plugin version string is not ``MAJOR.MINOR.PATCH`` with decimal numbers."""

    def __init__(self, message: str, *, value: object) -> None:
        super().__init__(message)
        self.value = value


class CategoryError(ProtocolError, LookupError):
    """A category name matches none of :class:`Category`."""

    def __init__(self, message: str, *, value: object) -> None:
        super().__init__(message)
        self.value = value


_VERSION_RE: Final = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")


@dataclass(frozen=True, slots=True, order=True)
class PluginVersion:
    """A WeChat plugin version such as ``3.1.0``; compares numerically.

    ``PluginVersion.parse("2.10.0") > PluginVersion.parse("2.9.2")`` holds,
    which plain string comparison gets wrong.
    """

    major: int
    minor: int
    patch: int

    def __post_init__(self) -> None:
        for name in ("major", "minor", "patch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PluginVersionError(
                    f"plugin version field {name!r} must be a non-negative int, got {value!r}",
                    value=value,
                )

    @classmethod
    def parse(cls, text: str | PluginVersion) -> PluginVersion:
        """Parse ``"3.1.0"``; a :class:`PluginVersion` is returned unchanged.

        Raises :class:`PluginVersionError` for anything else ("3.x", "3.1", "").
        """
        if isinstance(text, PluginVersion):
            return text
        if not isinstance(text, str):
            raise PluginVersionError(
                f"plugin version must be a string such as {DEFAULT_PLUGIN_VERSION!r}, "
                f"got {type(text).__name__} {text!r}",
                value=text,
            )
        match = _VERSION_RE.fullmatch(text.strip())
        if match is None:
            named = ", ".join(str(v) for v in table_versions())
            raise PluginVersionError(
                f"invalid plugin version {text!r}: expected MAJOR.MINOR.PATCH with decimal "
                f"numbers, e.g. {DEFAULT_PLUGIN_VERSION!r}"
                + (f"; versions named in the error-code table: {named}" if named else ""),
                value=text,
            )
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def as_tuple(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``."""
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


VersionLike = str | PluginVersion
"""Where a plugin version is expected, ``"3.1.0"`` and ``PluginVersion`` both do."""


class Category(StrEnum):
    """What part of the system a code is about (docs/architecture.md §3, error-code registry)."""

    LOCK_DEVICE = "lock device error"  # the lock said no (error byte, §5.1) or its state
    WIFI_LOCK = "Wi-Fi lock"  # Wi-Fi lock network configuration (bytes 0x24..0x26)
    GATEWAY = "gateway"  # gateway status (§5.2) and gateway set-up
    PLUGIN_CALLBACK_STATE = "plugin callback state"  # pre-3.1.0 negative callback states
    BLUETOOTH_LINK = "Bluetooth/link"  # adapter, permissions, scan, connect, GATT, timeouts
    PARAMETER = "parameter"  # the caller's arguments or lock data are not acceptable
    SERVER_NETWORK = "server/network"  # HTTP requests the plugin makes
    FIRMWARE = "firmware"  # firmware upgrade
    GENERIC = "generic"  # success, catch-all failure, host environment too old


def parse_category(text: str | Category) -> Category:
    """Turn ``"gateway"``, ``"Bluetooth/link"`` or a member name into a :class:`Category`.

    Matching ignores case and treats ``-``, ``_``, ``/`` and spaces alike.
    Raises :class:`CategoryError` naming the valid choices otherwise.
    """
    if isinstance(text, Category):
        return text

    def fold(value: str) -> str:
        return re.sub(r"[\s_/-]+", "-", value.strip().lower())

    wanted = fold(str(text))
    for category in Category:
        if wanted in (fold(category.value), fold(category.name)):
            return category
    choices = ", ".join(repr(c.value) for c in Category)
    raise CategoryError(f"unknown category {text!r}; valid categories: {choices}", value=text)


class Code(IntEnum):
    """Readable names for every code of the registry (one per distinct value)."""

    # plugin callback states, plugin 2.6.0 / 2.9.2 up to 3.1.0
    USER_INTERRUPTED = -4
    RESPONSE_TIMEOUT_LEGACY = -3
    OPERATION_PENDING = -2
    LAST_CALLBACK = -1
    # generic
    OK = 0
    # lock error byte in decimal (docs/protocol.md §5.1; vendor LockError name in the comment)
    CRC_ERROR = 1  # LOCK_CRC_CHECK_ERROR
    NO_PERMISSION = 2  # LOCK_NO_PERMISSION
    ADMIN_CHECK_FAILED = 3  # LOCK_ADMIN_CHECK_ERROR
    IN_SETTING_MODE = 5  # LOCK_IS_IN_SETTING_MODE
    NO_ADMIN = 6  # LOCK_NOT_EXIST_ADMIN
    NOT_IN_SETTING_MODE = 7  # LOCK_IS_IN_NO_SETTING_MODE
    DYNAMIC_CODE_INVALID = 8  # LOCK_DYNAMIC_PWD_ERROR
    LOW_BATTERY = 10  # LOCK_NO_POWER
    INIT_KEYBOARD_FAILED = 11  # LOCK_INIT_KEYBOARD_FAILED
    EKEY_FLAG_TOO_LOW = 13  # LOCK_KEY_FLAG_INVALID
    EKEY_EXPIRED = 14  # LOCK_USER_TIME_EXPIRED
    PASSCODE_LENGTH_INVALID = 15  # LOCK_PASSWORD_LENGTH_INVALID
    SUPER_PASSCODE_SAME_AS_DELETE = 16  # LOCK_SUPER_PASSWORD_IS_SAME_WITH_DELETE_PASSWORD
    EKEY_NOT_EFFECTIVE = 17  # LOCK_USER_TIME_INEFFECTIVE
    USER_NOT_LOGGED_IN = 18  # LOCK_USER_NOT_LOGIN
    OPERATION_FAILED = 19  # LOCK_OPERATE_FAILED
    PASSCODE_EXISTS = 20  # LOCK_PASSWORD_EXIST
    PASSCODE_NOT_EXIST = 21  # LOCK_PASSWORD_NOT_EXIST
    OUT_OF_MEMORY = 22  # LOCK_NO_FREE_MEMORY
    NO_DEFINED_ERROR = 23  # NO_DEFINED_ERROR
    IC_CARD_NOT_EXIST = 24  # IC_CARD_NOT_EXIST
    FINGERPRINT_NOT_EXIST = 26  # FINGER_PRINT_NOT_EXIST
    INVALID_COMMAND = 27  # INVALID_COMMAND
    LOCK_FROZEN = 28  # LOCK_FROZEN
    INVALID_VENDOR = 29  # INVALID_VENDOR
    DOUBLE_LOCKED = 30  # LOCK_REVERSE
    RECORD_NOT_EXIST = 31  # RECORD_NOT_EXIST
    INVALID_PARAM = 32  # INVALID_PARAM
    # Wi-Fi lock, plugin 2.7.6+
    COMMAND_RECEIVED = 36  # COMMAND_RECEIVED
    WIFI_BAD_SSID = 37  # BAD_WIFI_NAME
    WIFI_BAD_PASSWORD = 38  # BAD_WIFI_PASSWORD
    # gateway = 0x7F + gateway status byte (docs/protocol.md §5.2, offset inferred)
    GATEWAY_FAILED = 128
    GATEWAY_PROCESSING = 129
    GATEWAY_BAD_SSID = 130
    GATEWAY_BAD_WIFI_PASSWORD = 131
    GATEWAY_FINISHED = 132
    GATEWAY_INVALID_COMMAND = 133
    GATEWAY_TIMEOUT = 134
    GATEWAY_NO_SIM_CARD = 135
    GATEWAY_NO_NETWORK = 136
    # plugin-side codes
    EKEY_OR_LOCK_TIME_INCORRECT = 10000
    LOCK_MAY_BE_RESET = 10001
    CONNECT_TIMEOUT = 10002
    DISCONNECTED = 10003
    SEND_FAILED = 10004
    INVALID_EKEY_OR_LOCK_DATA = 10005
    EKEY_DATA_PARSE_FAILED = 10006
    CONNECT_FAILED = 10007
    DISCONNECT_FAILED = 10008
    DEVICE_TYPE_UNSUPPORTED = 10009
    LOCK_NOT_IN_ADD_MODE = 10010
    GATEWAY_NOT_IN_ADD_MODE = 10011
    BLUETOOTH_SWITCHED_OFF = 10012
    BLUETOOTH_UNAVAILABLE_OR_UNAUTHORIZED = 10013
    BLUETOOTH_PERMISSION_DENIED = 10014
    LOCATION_PERMISSION_DENIED = 10015
    NO_WIFI_FOUND = 10016
    RESPONSE_TIMEOUT = 10017
    CHARACTERISTIC_MISSING = 10018
    WIFI_CONFIG_FAILED = 10019
    SERVER_CONFIG_FAILED = 10020
    DEVICE_NOT_RESPONDING = 10021
    OPERATION_INTERRUPTED = 10022
    ADAPTER_OPEN_FAILED = 10030
    SCAN_STOP_FAILED = 10031
    NOTIFY_ENABLE_FAILED = 10032
    WRITE_FAILED = 10033
    PARSE_FAILED = 10034
    INIT_FAILED = 10035
    DEVICE_NOT_FOUND = 10036
    CONNECTING_CANNOT_ABORT = 10037
    WECHAT_BASE_LIBRARY_TOO_OLD = 10038
    MINI_PROGRAM_BLUETOOTH_DENIED = 10039
    ADAPTER_CLOSE_FAILED = 10040
    SCAN_START_FAILED = 10041
    CONNECT_TIMEOUT_CHECK_NEARBY_PERMISSION = 10042
    NEARBY_DEVICES_PERMISSION_DENIED = 10043
    PRECISE_LOCATION_PERMISSION_DENIED = 10044
    CONNECT_FAILED_ANDROID_133 = 10045
    LOCATION_SWITCHED_OFF = 10046
    WECHAT_TOO_OLD = 10101
    DOMAIN_NOT_WHITELISTED = 10302
    INVALID_REQUEST_URL = 10304
    HTTP_STATUS_ERROR = 10305
    SCAN_TIMEOUT = 10404
    CONNECT_FAILED_RETRY = 10503
    CHARACTERISTIC_ENABLE_FAILED = 10508
    SERVICE_MISSING = 10513
    ALREADY_CONNECTED = 10601
    CONNECTED_DEVICE_MISMATCH = 10602
    DEVICE_UNSUPPORTED_LEGACY = 11001
    BLUETOOTH_DEBUG_MAC_ONLY = 11002
    INVALID_PARAMETERS = 11003
    UNSUPPORTED = 11004
    NOT_ADMIN_USER = 11005
    INVALID_LOCK_DATA = 11006
    INVALID_LOCK_TIME = 11007
    INVALID_FLOOR_LIST = 11008
    PASSCODE_FORMAT_INVALID = 11009
    OUTSIDE_VALIDITY_PERIOD = 11010
    END_BEFORE_START = 11011
    INVALID_HOTEL_INFO = 11012
    BLUETOOTH_BUSY = 11013
    INVALID_BUILDING_FLOOR_INFO = 11014
    FIRMWARE_UP_TO_DATE = 11015
    FIRMWARE_UPGRADE_FAILED = 11016
    FIRMWARE_PACKAGE_LOAD_FAILED = 11017
    FIRMWARE_SERVER_SYNC_FAILED = 11018
    NETWORK_REQUEST_FAILED = 11101
    GET_SERVICES_FAILED = 13007
    GET_CHARACTERISTICS_FAILED = 13008
    READ_CHARACTERISTIC_FAILED = 13011
    FILE_DOWNLOAD_FAILED = 13013
    FAILED = 99999


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One code of the registry.

    ``zh`` is the seed's text verbatim (typo included); ``zh_corrected`` is set
    only where the published text is wrong (10304). ``since``/``absent`` are
    ``None`` when the table leaves them empty.
    """

    code: int
    zh: str
    en: str
    since: PluginVersion | None
    absent: PluginVersion | None
    category: Category
    zh_corrected: str | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        """The :class:`Code` member name, e.g. ``"DOUBLE_LOCKED"``."""
        return Code(self.code).name

    def is_valid_in(self, plugin_version: VersionLike) -> bool:
        """True when the code exists in ``plugin_version`` (``since <= V < absent``)."""
        version = PluginVersion.parse(plugin_version)
        if self.since is not None and version < self.since:
            return False
        return self.absent is None or version < self.absent

    def __str__(self) -> str:
        return f"{self.code} {self.name}: {self.en}"


_DATA_FILE: Final = "error_codes.json"


def _optional_str(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{where}: field {key!r} must be a string or null, got {value!r}")
    return value


def _required_str(entry: dict[str, Any], key: str, where: str) -> str:
    value = _optional_str(entry, key, where)
    if not value:
        raise ProtocolError(f"{where}: field {key!r} must be a non-empty string")
    return value


def _entry(entry: Any, index: int) -> ErrorCode:
    where = f"protocol/data/{_DATA_FILE} entry {index}"
    if not isinstance(entry, dict):
        raise ProtocolError(f"{where}: expected an object, got {type(entry).__name__}")
    code = entry.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise ProtocolError(f"{where}: field 'code' must be an integer, got {code!r}")
    since = _optional_str(entry, "since", where)
    absent = _optional_str(entry, "absent", where)
    return ErrorCode(
        code=code,
        zh=_required_str(entry, "zh", where),
        en=_required_str(entry, "en", where),
        since=PluginVersion.parse(since) if since is not None else None,
        absent=PluginVersion.parse(absent) if absent is not None else None,
        category=parse_category(_required_str(entry, "category", where)),
        zh_corrected=_optional_str(entry, "zh_corrected", where),
        note=_optional_str(entry, "note", where),
    )


def _load() -> dict[int, ErrorCode]:
    # Package data, not the outside world: importlib.resources keeps protocol/ sans-IO
    # in the sense that matters (no paths, no clocks, nothing that varies per host).
    text = (
        resources.files("ttlock_hil.protocol")
        .joinpath("data", _DATA_FILE)
        .read_text(encoding="utf-8")
    )
    document = json.loads(text)
    registry: dict[int, ErrorCode] = {}
    for index, raw in enumerate(document["codes"]):
        entry = _entry(raw, index)
        if entry.code in registry:
            raise ProtocolError(f"protocol/data/{_DATA_FILE}: code {entry.code} appears twice")
        registry[entry.code] = entry
    return dict(sorted(registry.items()))


# Filled in place so that messages built while loading (table_versions) see an
# empty table rather than an undefined name.
_REGISTRY: Final[dict[int, ErrorCode]] = {}
_REGISTRY.update(_load())


def _ranges(codes: list[int]) -> str:
    """``[1, 2, 3, 5]`` → ``"1..3, 5"``: a compact list of valid choices for messages."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], None]:
        if code is not None and code == previous + 1:
            previous = code
            continue
        if start == previous:
            parts.append(str(start))
        elif previous == start + 1:
            parts.append(f"{start}, {previous}")
        else:
            parts.append(f"{start}..{previous}")
        if code is not None:
            start = previous = code
    return ", ".join(parts)


def table_versions() -> list[PluginVersion]:
    """Every plugin version the table names (in ``since`` or ``absent``), ascending."""
    versions = {v for e in _REGISTRY.values() for v in (e.since, e.absent) if v is not None}
    return sorted(versions)


def lookup(code: int, plugin_version: VersionLike | None = None) -> ErrorCode:
    """The registry entry for ``code``.

    With ``plugin_version``, also require the code to exist in that version.
    Raises :class:`~ttlock_hil.protocol.errors.UnknownCode` naming the nearest known codes
    (and the valid ones) otherwise.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        raise UnknownCode(f"error code must be an int such as 30, got {code!r}")
    entry = _REGISTRY.get(code)
    if entry is None:
        known = list(_REGISTRY)
        below = [c for c in known if c < code]
        above = [c for c in known if c > code]
        near = [str(c) for c in (below[-1:] + above[:1])]
        raise UnknownCode(
            f"error code {code} is not in the TTLock registry (nearest: {', '.join(near)}); "
            f"known codes: {_ranges(known)}"
        )
    if plugin_version is not None and not entry.is_valid_in(plugin_version):
        raise UnknownCode(
            f"error code {code} does not exist in plugin {PluginVersion.parse(plugin_version)} "
            f"(since {entry.since or 'the beginning'}, absent from {entry.absent or 'never'})"
        )
    return entry


def all_codes() -> list[ErrorCode]:
    """All 119 codes, ascending."""
    return list(_REGISTRY.values())


def by_category(category: Category | str) -> list[ErrorCode]:
    """The codes of one category (a :class:`Category` or its name), ascending."""
    wanted = parse_category(category)
    return [e for e in _REGISTRY.values() if e.category is wanted]


def valid_in(plugin_version: VersionLike) -> list[ErrorCode]:
    """The codes that exist in ``plugin_version`` (``since <= V < absent``), ascending."""
    version = PluginVersion.parse(plugin_version)
    return [e for e in _REGISTRY.values() if e.is_valid_in(version)]


def is_valid(code: int, plugin_version: VersionLike) -> bool:
    """True when ``code`` is a registry code that exists in ``plugin_version``.

    A code that is not in the registry at all is simply not valid (False); a
    malformed version raises :class:`PluginVersionError`.
    """
    version = PluginVersion.parse(plugin_version)
    entry = _REGISTRY.get(code)
    return entry is not None and entry.is_valid_in(version)
