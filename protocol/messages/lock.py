"""Lock messages: one typed request and reply per documented V3 command (docs/protocol.md §4).

Both roles use these classes: the app builds a request with ``Cls(...).encode()``
and reads the answer with :func:`parse_reply` then :func:`decode_reply_data`;
the virtual lock reads a request with :func:`decode_request` and answers with
``Reply.success(command, SomeReply(...))`` or ``Reply.failure(command, error)``.

Requests that share an opcode but differ by their operation byte (passcodes,
IC cards, fingerprints, auto-lock, …) are one class per operation; the
registry :data:`LOCK_MESSAGES` lists them in the order :func:`decode_request`
tries them. Reply data classes follow the same scheme.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, Self

from ..commands import LockCommand
from ..errors import MessageError
from ..login import check_value
from ._fields import (
    ASCII_LEN,
    ASCII_REST,
    BOOL,
    DATE5,
    DATE5_LOOSE,
    DATE6,
    DIGITS,
    FLAG_POS,
    REST,
    U8,
    U16,
    U32,
    U48,
    ByteList,
    Codec,
    Conditional,
    Const,
    EnumByte,
    F,
    ListOf,
    LockDate,
    Nested,
    Raw,
    Reader,
    Trailing,
    WireDate,
    WireStruct,
    op,
)

VENDOR: Final = "SCIENER"
"""The vendor string (vendor ``Constant.VENDOR``) several payloads carry (§4.2)."""

_SCIENER: Final = Const("vendor", VENDOR.encode("ascii"))

PERMANENT_START: Final = LockDate(2000, 1, 31, 14, 0)
"""Start of the "permanent" e-key window, vendor string ``0001311400`` (§4.2, 0x55)."""

PERMANENT_END: Final = LockDate(2099, 11, 30, 14, 0)
"""End of the "permanent" e-key window, vendor string ``9911301400`` (§4.2, 0x55)."""

NEW_RECORDS: Final = 0xFFFF
"""GET_OPERATE_LOG sequence meaning "from the lock's cursor / new records only" (§4.2, 0x25)."""

END_OF_LIST: Final = 0xFFFF
"""Next-sequence value closing IC/fingerprint lists (TTLOCK-BLE capture ``06 01 64 06 ff ff``)."""

END_OF_SHORT_LIST: Final = 0xFF
"""One-byte next-sequence value closing the passage-mode and Wi-Fi power-saving lists
(§10.3.7, §10.1.8). Paging as a whole: :mod:`ttlock_hil.protocol.messages.paging`."""

COMMAND_RECEIVED: Final = 0x24
"""Error byte meaning "accepted, still processing" (Wi-Fi locks), not a failure (§4.1)."""


# --- enumerations -------------------------------------------------------------


class ReplyStatus(IntEnum):
    """Reply plaintext[1] (§4.1)."""

    FAILED = 0x00
    SUCCESS = 0x01


class LockState(IntEnum):
    """Bolt state in the 0x14 reply's data[1] (§4.4). ``UNKNOWN`` is never on the wire."""

    LOCKED = 0
    UNLOCKED = 1
    UNKNOWN = -1


class PasscodeType(IntEnum):
    """Keyboard passcode kinds (vendor ``KeyboardPwdType``)."""

    PERMANENT = 1
    COUNT = 2
    PERIOD = 3
    CYCLIC = 4


class PassageModeType(IntEnum):
    """Passage-mode repetition (§4.2, 0x66)."""

    WEEKLY = 1
    MONTHLY = 2


class DeviceInfoType(IntEnum):
    """What READ_DEVICE_INFO (0x90) asks for (§4.2)."""

    MODEL = 1
    HARDWARE_REVISION = 2
    FIRMWARE_REVISION = 3
    MANUFACTURE_DATE = 4
    MAC = 5  # bytes reversed
    LOCK_CLOCK = 6  # 6 bytes
    NB_OPERATOR = 7
    NB_IMEI = 8
    NB_CARD = 9
    NB_RSSI = 10
    PASSCODE_KEY_NUMBER = 12  # one byte (feature 60, §10.3.3)


class IcAddStatus(IntEnum):
    """Status byte of an IC add reply (§4.2, 0x05)."""

    ADDED = 1
    ENTERED_ADD_MODE = 2


class FrAddStatus(IntEnum):
    """Status byte of a fingerprint add reply (§4.2, 0x06)."""

    ADDED = 1
    ENTERED_ADD_MODE = 2
    PROGRESS = 3
    READY_FOR_TEMPLATE = 4


class Feature(IntEnum):
    """Bit numbers of the SEARCH_DEVICE_FEATURE bitmask (vendor ``FeatureValue``, §4.3 step 5)."""

    PASSCODE = 0
    IC = 1
    FINGER_PRINT = 2
    WRIST_BAND = 3
    AUTO_LOCK = 4
    PASSCODE_WITH_DELETE = 5
    FIRMWARE_SETTING = 6
    MODIFY_PASSCODE = 7
    MANUAL_LOCK = 8
    PASSWORD_DISPLAY_OR_HIDE = 9
    GATEWAY_UNLOCK = 10
    FREEZE_LOCK = 11
    CYCLIC_PASSWORD = 12
    MAGNETOMETER = 13  # door sensor
    CONFIG_GATEWAY_UNLOCK = 14  # remote unlock switch (0x37)
    AUDIO_MANAGEMENT = 15
    NB_LOCK = 16
    GET_ADMIN_CODE = 18
    HOTEL_LOCK = 19
    LOCK_NO_CLOCK_CHIP = 20
    NO_ADVERTISING = 21
    PASSAGE_MODE = 22
    PASSAGE_MODE_AND_AUTO_LOCK_CAN_CLOSE = 23
    WIRELESS_KEYBOARD = 24
    LAMP = 25
    TAMPER_ALERT = 28
    RESET_BUTTON = 29
    PRIVACY_LOCK = 30
    DEAD_LOCK = 32
    CYCLIC_IC_OR_FP = 34
    UNLOCK_DIRECTION = 36
    FINGER_VEIN = 37
    TELINK_CHIP = 38
    NB_ACTIVATE = 39
    CYCLIC_PASSCODE_RECOVERY = 40
    KEY_FOB = 41  # remote / key fob
    ACCESSORY_BATTERY = 42
    SOUND_VOLUME_AND_LANGUAGE = 43
    QR_CODE = 44
    DOOR_SENSOR = 45
    WIFI_LOCK = 56  # §10.1.1
    WIFI_LOCK_SUPPORT_STATIC_IP = 58  # §10.1.1
    PASSCODE_KEY_NUMBER = 60  # §10.3.3: READ_DEVICE_INFO item 12
    SUPPORT_WIFI_SLEEP_MODE_TIMES_SETTING = 83  # §10.1.1 (AAR-NEW); enables 0x8F (inf.)
    POWER_SAVER_SUPPORT_WIFI = 96  # §10.1.1 (AAR-NEW)
    SUPPORT_CAT_ONE = 100  # §10.1.1 (AAR-NEW)
    HIDE_WIFI_CAT_ONE_SLEEP_MODE_SETTING = 117  # §10.1.1 (AAR-NEW)
    SUPPORT_LOCK_SUPERVISION = 126


class LogType(IntEnum):
    """Operate-log record types (vendor ``LogOperate``, §4.5); other values stay plain ints."""

    MOBILE_UNLOCK = 1
    SERVER_UNLOCK = 3
    KEYBOARD_PASSWORD_UNLOCK = 4
    KEYBOARD_MODIFY_PASSWORD = 5
    REMOVE_SINGLE_PASSWORD = 6
    ERROR_PASSWORD_UNLOCK = 7
    REMOVE_ALL_PASSWORDS = 8
    PASSWORD_KICKED = 9
    USE_DELETE_CODE = 10
    PASSCODE_EXPIRED = 11
    SPACE_INSUFFICIENT = 12
    PASSCODE_IN_BLACK_LIST = 13
    DOOR_REBOOT = 14
    ADD_IC = 15
    CLEAR_IC = 16
    IC_UNLOCK = 17
    DELETE_IC = 18
    BONG_UNLOCK = 19
    FR_UNLOCK = 20
    ADD_FR = 21
    FR_UNLOCK_FAILED = 22
    DELETE_FR = 23
    CLEAR_FR = 24
    IC_UNLOCK_FAILED = 25
    BLE_LOCK = 26
    KEY_UNLOCK = 27
    GATEWAY_UNLOCK = 28
    ILLEGAL_UNLOCK = 29
    DOOR_SENSOR_LOCK = 30
    DOOR_SENSOR_UNLOCK = 31
    DOOR_GO_OUT = 32
    FR_LOCK = 33
    PASSCODE_LOCK = 34
    IC_LOCK = 35
    KEY_LOCK = 36
    REMOTE_CONTROL_KEY = 37
    PASSCODE_UNLOCK_FAILED_LOCK_REVERSE = 38
    IC_UNLOCK_FAILED_LOCK_REVERSE = 39
    FR_UNLOCK_FAILED_LOCK_REVERSE = 40
    APP_UNLOCK_FAILED_LOCK_REVERSE = 41
    IC_BLACKLIST = 51
    APP_DEAD_LOCK = 52
    WIRELESS_KEY_FOB = 55
    WIRELESS_KEY_PAD = 56
    CPU_CARD = 74
    CARD_UNLOCK_FAILED = 91
    ADMIN_CODE_UNLOCK = 92


# Which log types carry which tail (§4.5).
_UID_LOG_TYPES: Final = frozenset({1, 26, 28, 37, 41})
_TWO_PASSCODE_LOG_TYPES: Final = frozenset({4, 5, 6, 9, 10, 11, 12, 13, 34, 38})
_ONE_PASSCODE_LOG_TYPES: Final = frozenset({7})
_CARD_LOG_TYPES: Final = frozenset({15, 17, 18, 25, 35, 39})
_FINGERPRINT_LOG_TYPES: Final = frozenset({20, 21, 22, 23, 33, 40})


# --- lock-specific codecs -----------------------------------------------------


class CardNumber(Codec[int]):
    """An IC card number, u32 or u64 BE; its width is what is left before ``after`` bytes.

    Encoding uses 4 bytes when the number fits, 8 otherwise (the vendor chooses
    by the decimal string's length, which agrees except for zero-padded numbers).
    """

    spec = "u32 or u64 BE"

    def __init__(self, after: int = 0) -> None:
        self.after = after

    def read(self, r: Reader, field: str) -> int:
        width = r.remaining - self.after
        if width not in (4, 8):
            r.fail(field, f"{width} byte(s) left for the card number; it must be 4 or 8")
        return int.from_bytes(r.take(width, field), "big")

    def write(self, value: int) -> bytes:
        return value.to_bytes(card_width(value), "big")

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
            return f"must be an int 0..2^64-1, got {value!r}"
        return None


def card_width(*cards: int) -> int:
    """Bytes per card number on the wire: 4, or 8 when any card needs it."""
    return 8 if any(card > 0xFFFFFFFF for card in cards) else 4


class FeatureWords(Codec[int]):
    """The feature bitmask: u32 BE words, word k holding bits 32k..32k+31 (§4.2, 0x01)."""

    spec = "u32 BE words to the end"

    def read(self, r: Reader, field: str) -> int:
        start = r.offset
        raw = r.rest()
        if not raw or len(raw) % 4:
            r.fail(field, f"{len(raw)} byte(s) are not one or more u32 words", offset=start)
        words = [int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4)]
        return sum(word << (32 * k) for k, word in enumerate(words))

    def write(self, value: int) -> bytes:
        count = max(1, (value.bit_length() + 31) // 32)
        return b"".join(((value >> (32 * k)) & 0xFFFFFFFF).to_bytes(4, "big") for k in range(count))

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"must be a non-negative int, got {value!r}"
        return None if value.bit_length() <= 32 * 60 else "has more bits than a frame can carry"


class ZeroPad(Codec[bool]):
    """``size`` zero bytes when True, nothing when False (KIND3R's permanent-passcode filler)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.spec = f"{size} zero bytes or nothing"

    def read(self, r: Reader, field: str) -> bool:
        if r.remaining < self.size:
            return False
        start = r.offset
        if r.take(self.size, field) != bytes(self.size):
            r.fail(field, f"must be {self.size} zero bytes", offset=start)
        return True

    def write(self, value: bool) -> bytes:
        return bytes(self.size) if value else b""

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, bool) else f"must be a bool, got {type(value).__name__}"


CARD: Final = CardNumber()
CARD_THEN_WINDOW: Final = CardNumber(after=10)
LOCK_STATE: Final = EnumByte(LockState)
PASSCODE_TYPE: Final = EnumByte(PasscodeType)


# --- bases ----------------------------------------------------------------------


class Request(WireStruct):
    """A lock request's plaintext (the opcode travels in the frame header, §4.1)."""

    __slots__ = ()
    COMMAND: ClassVar[LockCommand]


class ReplyData(WireStruct):
    """The data of a successful reply, after ``[echo][status]`` (§4.1)."""

    __slots__ = ()
    COMMAND: ClassVar[LockCommand | None] = None


# --- requests: no payload -------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class SearchDeviceFeature(Request):
    """0x01 SEARCH_DEVICE_FEATURE: ask for the feature bitmask (empty payload)."""

    COMMAND = LockCommand.SEARCH_DEVICE_FEATURE


@dataclass(frozen=True, slots=True, repr=False)
class GetLockTime(Request):
    """0x34 GET_LOCK_TIME: read the lock clock (empty payload; no auth needed)."""

    COMMAND = LockCommand.GET_LOCK_TIME


@dataclass(frozen=True, slots=True, repr=False)
class Initialization(Request):
    """0x45 INITIALIZATION 'E': first step of init (empty payload, §4.3 step 1)."""

    COMMAND = LockCommand.INITIALIZATION


@dataclass(frozen=True, slots=True, repr=False)
class ResetLock(Request):
    """0x52 RESET_LOCK 'R': factory reset after admin login (empty payload)."""

    COMMAND = LockCommand.RESET_LOCK


@dataclass(frozen=True, slots=True, repr=False)
class OperateFinished(Request):
    """0x57 OPERATE_FINISHED 'W': closes the init sequence (empty payload, §4.3 step 7)."""

    COMMAND = LockCommand.OPERATE_FINISHED


@dataclass(frozen=True, slots=True, repr=False)
class GetAdminCode(Request):
    """0x65 GET_ADMIN_CODE: read the keypad admin code (empty payload)."""

    COMMAND = LockCommand.GET_ADMIN_CODE


# --- requests: session and init -------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class SearchStatus(Request):
    """0x14 SEARCH_BICYCLE_STATUS: bolt state query, payload ``SCIENER`` (no auth)."""

    COMMAND = LockCommand.SEARCH_STATUS
    LAYOUT = (_SCIENER,)


@dataclass(frozen=True, slots=True, repr=False)
class GetAesKey(Request):
    """0x19 GET_AES_KEY: sent with the default key in setting mode (§4.3 step 2).

    ``vendor`` is the client vendor string, ``SCIENER`` unless customised.
    """

    COMMAND = LockCommand.GET_AES_KEY
    LAYOUT = (F("vendor", ASCII_REST),)
    vendor: str = VENDOR


@dataclass(frozen=True, slots=True, repr=False)
class CheckRandom(Request):
    """0x30 CHECK_RANDOM: admin login step 2, ``(ps + unlockKey) mod 2^32``."""

    COMMAND = LockCommand.CHECK_RANDOM
    LAYOUT = (F("check_value", U32, secret=True),)
    check_value: int

    @classmethod
    def answer(cls, ps: int, unlock_key: int) -> Self:
        """The request answering the lock's ``ps`` with the stored ``unlock_key``."""
        return cls(check_value(ps, unlock_key))


@dataclass(frozen=True, slots=True, repr=False)
class CheckAdmin(Request):
    """0x41 CHECK_ADMIN 'A': admin login step 1 (§4.3); the lock answers with a ps."""

    COMMAND = LockCommand.CHECK_ADMIN
    LAYOUT = (F("admin_ps", U32, secret=True), F("flag_pos", FLAG_POS), F("uid", U32))
    admin_ps: int
    flag_pos: int = 0
    uid: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class TimeCalibrate(Request):
    """0x43 TIME_CALIBRATE 'C': set the lock-local clock."""

    COMMAND = LockCommand.TIME_CALIBRATE
    LAYOUT = (F("date", DATE6),)
    date: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class SetAdminPasscode(Request):
    """0x53 SET_ADMIN_KEYBOARD_PWD 'S' (V3): one byte per digit *value*.

    ``"1234"`` → ``01 02 03 04`` (not ASCII).
    """

    COMMAND = LockCommand.SET_ADMIN_KEYBOARD_PWD
    LAYOUT = (F("passcode", DIGITS, secret=True),)
    passcode: str


@dataclass(frozen=True, slots=True, repr=False)
class CheckUserTime(Request):
    """0x55 CHECK_USER_TIME 'U': user login with the e-key validity window.

    The vendor sends the dates decimal (§4.2); TTLOCK-BLE sends them in BCD and
    locks accept that too (§9.2). So the two windows decode whatever their bytes:
    a :class:`LockDate` when they are one, else a :class:`WireDate` holding the bytes
    (a lock compares both with :func:`date_key`).
    """

    COMMAND = LockCommand.CHECK_USER_TIME
    LAYOUT = (
        F("start", DATE5_LOOSE),
        F("end", DATE5_LOOSE),
        F("flag_pos", FLAG_POS),
        F("uid", U32),
    )
    start: LockDate | WireDate = PERMANENT_START
    end: LockDate | WireDate = PERMANENT_END
    flag_pos: int = 0
    uid: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class AddAdmin(Request):
    """0x56 ADD_ADMIN 'V' (V3): ``[adminPs u32][unlockKey u32]["SCIENER"]`` with the new key."""

    COMMAND = LockCommand.ADD_ADMIN
    LAYOUT = (F("admin_ps", U32, secret=True), F("unlock_key", U32, secret=True), _SCIENER)
    admin_ps: int
    unlock_key: int


@dataclass(frozen=True, slots=True, repr=False)
class _BoltRequest(Request):
    """Shared payload of 0x47 UNLOCK and 0x58 FUNCTION_LOCK (§4.2).

    Short form (what the open libraries send and locks accept):
    ``[check u32][unix seconds u32]``. The newest vendor SDK adds the lock-local
    time and an elevator floor list (long form, §9 item 10); set ``local_time``
    (and ``floors``) to build it. ``check_value`` = (ps + unlockKey) mod 2^32.
    """

    LAYOUT = (
        F("check_value", U32, secret=True),
        F("unix_time", U32),
        F("local_time", Trailing(DATE6)),
        F("floors", Trailing(ByteList())),
    )
    check_value: int
    unix_time: int
    local_time: LockDate | None = None
    floors: tuple[int, ...] | None = None

    @classmethod
    def answer(
        cls,
        ps: int,
        unlock_key: int,
        unix_time: int,
        local_time: LockDate | None = None,
        floors: tuple[int, ...] | None = None,
    ) -> Self:
        """The request answering the lock's ``ps`` (from 0x55 or 0x41)."""
        return cls(check_value(ps, unlock_key), unix_time, local_time, floors)


@dataclass(frozen=True, slots=True, repr=False)
class Unlock(_BoltRequest):
    """0x47 UNLOCK 'G': open the bolt after 0x55 (user) or 0x41 (admin) login."""

    COMMAND = LockCommand.UNLOCK


@dataclass(frozen=True, slots=True, repr=False)
class FunctionLock(_BoltRequest):
    """0x58 FUNCTION_LOCK 'X': close the bolt; same payload as :class:`Unlock`."""

    COMMAND = LockCommand.FUNCTION_LOCK


@dataclass(frozen=True, slots=True, repr=False)
class GetOperateLog(Request):
    """0x25 GET_OPERATE_LOG: ``seq`` u16, :data:`NEW_RECORDS` (0xFFFF) for new records."""

    COMMAND = LockCommand.GET_OPERATE_LOG
    LAYOUT = (F("seq", U16),)
    seq: int = NEW_RECORDS


@dataclass(frozen=True, slots=True, repr=False)
class ReadDeviceInfo(Request):
    """0x90 READ_DEVICE_INFO: one ``info_type`` (:class:`DeviceInfoType`) per request."""

    COMMAND = LockCommand.READ_DEVICE_INFO
    LAYOUT = (F("info_type", EnumByte(DeviceInfoType)),)
    info_type: int


# --- requests: passcodes (0x03, 0x07) -----------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeClear(Request):
    """0x03 op 1: delete every keyboard passcode."""

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeAdd(Request):
    """0x03 op 2: add a keyboard passcode.

    Official layouts: permanent ``[02][1][len][pwd][start 5]`` (len+8 bytes, no
    end), count/period ``[02][2|3][len][pwd][start 5][end 5]`` (len+13).
    KIND3R sends permanent passcodes with 5 zero bytes where the end would be;
    ``zero_padded=True`` reads and writes that layout (§9 item 9).
    """

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (
        op(2),
        F("passcode_type", PASSCODE_TYPE),
        F("passcode", ASCII_LEN, secret=True),
        F("start", DATE5),
        F("end", Trailing(DATE5)),
        F("zero_padded", ZeroPad(5)),
    )
    passcode_type: int
    passcode: str
    start: LockDate
    end: LockDate | None = None
    zero_padded: bool = False

    def _validate(self) -> None:
        if self.zero_padded and (
            self.passcode_type != PasscodeType.PERMANENT or self.end is not None
        ):
            self._invalid("zero_padded", "applies only to permanent passcodes without an end")
        if self.passcode_type == PasscodeType.PERMANENT and self.end is not None:
            self._invalid("end", "must be None for a permanent passcode (no end date on the wire)")
        if self.passcode_type in (PasscodeType.COUNT, PasscodeType.PERIOD) and self.end is None:
            self._invalid("end", "is required for count and period passcodes")

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        # The type decides what follows the start date, so the tail is read by hand.
        values = cls._read_items(r, cls.LAYOUT[:4])
        values["end"], values["zero_padded"] = None, False
        if values["passcode_type"] == PasscodeType.PERMANENT:
            values["zero_padded"] = ZeroPad(5).read(r, "zero_padded")
        elif r.remaining:
            values["end"] = DATE5.read(r, "end")
        return cls._build(r, values)


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeDelete(Request):
    """0x03 op 3: delete one keyboard passcode."""

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (op(3), F("passcode_type", PASSCODE_TYPE), F("passcode", ASCII_LEN, secret=True))
    passcode_type: int
    passcode: str


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeModify(Request):
    """0x03 op 5: change a passcode and its validity window."""

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (
        op(5),
        F("passcode_type", PASSCODE_TYPE),
        F("old_passcode", ASCII_LEN, secret=True),
        F("new_passcode", ASCII_LEN, secret=True),
        F("start", DATE5),
        F("end", DATE5),
    )
    passcode_type: int
    old_passcode: str
    new_passcode: str
    start: LockDate
    end: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class GetPasscodeList(Request):
    """0x07 PWD_LIST: page through the stored passcodes, ``seq`` 0 first."""

    COMMAND = LockCommand.PWD_LIST
    LAYOUT = (F("seq", U16),)
    seq: int = 0


# --- requests: IC cards (0x05) ----------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class IcQuery(Request):
    """0x05 op 1: list cards from ``seq`` (0 first)."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(1), F("seq", U16))
    seq: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class IcEnterAddMode(Request):
    """0x05 op 2 alone: put the lock in card-reading mode."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(2),)


@dataclass(frozen=True, slots=True, repr=False)
class IcAdd(Request):
    """0x05 op 2 with a card: register a known card number with a validity window."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(2), F("card", CARD_THEN_WINDOW), F("start", DATE5), F("end", DATE5))
    card: int
    start: LockDate
    end: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class IcDelete(Request):
    """0x05 op 3: delete one card."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(3), F("card", CARD))
    card: int


@dataclass(frozen=True, slots=True, repr=False)
class IcClear(Request):
    """0x05 op 4: delete every card."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(4),)


@dataclass(frozen=True, slots=True, repr=False)
class IcModify(Request):
    """0x05 op 5: change a card's validity window."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (op(5), F("card", CARD_THEN_WINDOW), F("start", DATE5), F("end", DATE5))
    card: int
    start: LockDate
    end: LockDate


# --- requests: fingerprints (0x06) -------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class FrQuery(Request):
    """0x06 op 6: list fingerprints from ``seq`` (0 first)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(6), F("seq", U16))
    seq: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class FrEnterAddMode(Request):
    """0x06 op 2: start enrolling a finger on the lock's sensor."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(2),)


@dataclass(frozen=True, slots=True, repr=False)
class FrDelete(Request):
    """0x06 op 3: delete one fingerprint (6-byte id)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(3), F("fingerprint", U48))
    fingerprint: int


@dataclass(frozen=True, slots=True, repr=False)
class FrClear(Request):
    """0x06 op 4: delete every fingerprint."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(4),)


@dataclass(frozen=True, slots=True, repr=False)
class FrModify(Request):
    """0x06 op 5: change a fingerprint's validity window."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(5), F("fingerprint", U48), F("start", DATE5), F("end", DATE5))
    fingerprint: int
    start: LockDate
    end: LockDate


# --- requests: settings ------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class AutoLockQuery(Request):
    """0x36 op 1: read the auto-lock delay and its bounds."""

    COMMAND = LockCommand.AUTO_LOCK_MANAGE
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class AutoLockSet(Request):
    """0x36 op 2: set the auto-lock delay in seconds (0 = off)."""

    COMMAND = LockCommand.AUTO_LOCK_MANAGE
    LAYOUT = (op(2), F("seconds", U16))
    seconds: int


@dataclass(frozen=True, slots=True, repr=False)
class RemoteUnlockQuery(Request):
    """0x37 op 1: is remote (gateway) unlock enabled?"""

    COMMAND = LockCommand.CONTROL_REMOTE_UNLOCK
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class RemoteUnlockSet(Request):
    """0x37 op 2: enable or disable remote unlock."""

    COMMAND = LockCommand.CONTROL_REMOTE_UNLOCK
    LAYOUT = (op(2), F("enabled", BOOL))
    enabled: bool


@dataclass(frozen=True, slots=True, repr=False)
class ShowPasswordQuery(Request):
    """0x59 op 1: are passcodes shown on the lock's screen?"""

    COMMAND = LockCommand.SHOW_PASSWORD
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class ShowPasswordSet(Request):
    """0x59 op 2: show (True) or hide passcodes on the screen."""

    COMMAND = LockCommand.SHOW_PASSWORD
    LAYOUT = (op(2), F("visible", BOOL))
    visible: bool


@dataclass(frozen=True, slots=True, repr=False)
class AudioQuery(Request):
    """0x62 op 1: read the sound setting."""

    COMMAND = LockCommand.AUDIO_MANAGE
    LAYOUT = (op(1),)


@dataclass(frozen=True, slots=True, repr=False)
class AudioSet(Request):
    """0x62 op 2: sound on or off."""

    COMMAND = LockCommand.AUDIO_MANAGE
    LAYOUT = (op(2), F("enabled", BOOL))
    enabled: bool


@dataclass(frozen=True, slots=True, repr=False)
class AudioSetVolume(Request):
    """0x62 op 2 with a level: ``[02][01][level 1-5][00]`` (TTLOCK-BLE, hardware-confirmed)."""

    COMMAND = LockCommand.AUDIO_MANAGE
    LAYOUT = (op(2), Const("on", b"\x01"), F("level", U8), Const("pad", b"\x00"))
    level: int

    def _validate(self) -> None:
        if not 1 <= self.level <= 5:
            self._invalid("level", f"must be 1..5, got {self.level}")


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeEntry(WireStruct):
    """One passage-mode period: ``[type][weekOrDay][month][sH][sM][eH][eM]`` (§4.2, 0x66).

    ``week_or_day``: weekly 1..7 = Monday..Sunday, 0 = every day; monthly: day.
    ``0:00``-``0:00`` means all day (KIND3R).
    """

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (
        F("mode_type", EnumByte(PassageModeType)),
        F("week_or_day", U8),
        F("month", U8),
        F("start_hour", U8),
        F("start_minute", U8),
        F("end_hour", U8),
        F("end_minute", U8),
    )
    mode_type: int
    week_or_day: int
    month: int
    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeQuery(Request):
    """0x66 op 1: list passage-mode periods from ``seq`` (one byte, KIND3R)."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (op(1), F("seq", U8))
    seq: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeAdd(Request):
    """0x66 op 2: add a passage-mode period."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (op(2), F("entry", Nested(PassageModeEntry)))
    entry: PassageModeEntry


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeDelete(Request):
    """0x66 op 3: delete a passage-mode period."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (op(3), F("entry", Nested(PassageModeEntry)))
    entry: PassageModeEntry


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeClear(Request):
    """0x66 op 4: delete every passage-mode period."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (op(4),)


# --- reply envelope (§4.1) --------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Reply(WireStruct):
    """A reply plaintext: ``[echoed opcode][status][data…]`` (§4.1).

    On FAILED (status 0) ``data[0]`` — plaintext[2] — is the lock's error byte
    (:attr:`error_byte`; docs/protocol.md §5.1 maps it). A failed reply without it
    still parses (``error_byte`` is then ``None``).
    """

    LAYOUT = (F("command", EnumByte(LockCommand)), F("status", U8), F("data", REST))
    command: int
    status: int
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == ReplyStatus.SUCCESS

    @property
    def error_byte(self) -> int | None:
        """plaintext[2] when the status is FAILED, else ``None``."""
        if self.status == ReplyStatus.FAILED and self.data:
            return self.data[0]
        return None

    @property
    def is_processing(self) -> bool:
        """Error byte 0x24 COMMAND_RECEIVED: accepted and still working, not a failure."""
        return self.error_byte == COMMAND_RECEIVED

    @classmethod
    def success(cls, command: int, data: ReplyData | bytes = b"") -> Reply:
        """A SUCCESS reply carrying ``data`` (a reply-data message or raw bytes)."""
        raw = data if isinstance(data, bytes) else data.encode()
        return cls(command, ReplyStatus.SUCCESS, raw)

    @classmethod
    def failure(cls, command: int, error_byte: int | None) -> Reply:
        """A FAILED reply with the lock's error byte (``None`` = none at all)."""
        return cls(command, ReplyStatus.FAILED, b"" if error_byte is None else bytes([error_byte]))


def parse_reply(plaintext: bytes) -> Reply:
    """Split a decrypted reply into echo, status and data (MessageError if < 2 bytes)."""
    return Reply.decode(plaintext)


# --- reply data --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class EmptyReply(ReplyData):
    """A success reply with no data (0x30, 0x43, 0x57)."""


@dataclass(frozen=True, slots=True, repr=False)
class AckReply(ReplyData):
    """A success whose data no source reads: ``[battery]`` (§4.1's rule) or nothing.

    The answers to 0x12, 0x31 and the Wi-Fi configuration commands 0xF3-0xF5 and 0xFA
    (§10.1, §10.3): the SDK calls its success callback without looking at the data.
    """

    LAYOUT = (F("battery", Trailing(U8)),)
    battery: int | None = None


@dataclass(frozen=True, slots=True, repr=False)
class RawReply(ReplyData):
    """Reply data whose layout no source documents (0x45, 0x52, 0x53): kept as bytes."""

    LAYOUT = (F("data", REST),)
    data: bytes = b""


@dataclass(frozen=True, slots=True, repr=False)
class FeaturesReply(ReplyData):
    """0x01: ``[battery][u32 words…]``; ``features`` is the whole bitmask as one int."""

    COMMAND = LockCommand.SEARCH_DEVICE_FEATURE
    LAYOUT = (F("battery", U8), F("features", FeatureWords()))
    battery: int
    features: int

    def has(self, feature: int) -> bool:
        """Whether bit ``feature`` (a :class:`Feature`) is set."""
        return bool(self.features >> int(feature) & 1)

    @property
    def known_features(self) -> frozenset[Feature]:
        """The :class:`Feature` members whose bit is set."""
        return frozenset(f for f in Feature if self.has(f))

    @classmethod
    def of(cls, battery: int, features: Iterable[int]) -> Self:
        """Build from a set of bit numbers (e.g. ``{Feature.PASSCODE, Feature.IC}``)."""
        return cls(battery, sum(1 << int(bit) for bit in features))


@dataclass(frozen=True, slots=True, repr=False)
class StatusReply(ReplyData):
    """0x14: ``[battery][state][…]`` — real plaintext ``14 01 2d 00 02`` = 45 %, locked."""

    COMMAND = LockCommand.SEARCH_STATUS
    LAYOUT = (F("battery", U8), F("state", LOCK_STATE), F("extra", REST))
    battery: int
    state: int
    extra: bytes = b""

    @property
    def lock_state(self) -> LockState:
        """LOCKED, UNLOCKED, or UNKNOWN for any other byte (§4.4)."""
        return LockState(self.state) if self.state in (0, 1) else LockState.UNKNOWN


@dataclass(frozen=True, slots=True, repr=False)
class AesKeyReply(ReplyData):
    """0x19: the lock's new 16-byte AES key (no battery byte)."""

    COMMAND = LockCommand.GET_AES_KEY
    LAYOUT = (F("key", Raw(16), secret=True),)
    key: bytes


@dataclass(frozen=True, slots=True, repr=False)
class CheckAdminReply(ReplyData):
    """0x41: ``[psFromLock u32]`` (no battery byte)."""

    COMMAND = LockCommand.CHECK_ADMIN
    LAYOUT = (F("ps", U32),)
    ps: int


@dataclass(frozen=True, slots=True, repr=False)
class CheckUserTimeReply(ReplyData):
    """0x55: ``[psFromLock u32]`` (real: ``55 01 1d b7 8a 8f``)."""

    COMMAND = LockCommand.CHECK_USER_TIME
    LAYOUT = (F("ps", U32),)
    ps: int


@dataclass(frozen=True, slots=True, repr=False)
class AddAdminReply(ReplyData):
    """0x56: must be ``SCIENER`` (otherwise the vendor reports AES_PARSE_ERROR 0x30)."""

    COMMAND = LockCommand.ADD_ADMIN
    LAYOUT = (_SCIENER,)


@dataclass(frozen=True, slots=True, repr=False)
class _BoltReply(ReplyData):
    """Shared reply of 0x47/0x58: ``[battery][uid u32][uniqueId u32][yy MM dd HH mm ss]``."""

    LAYOUT = (F("battery", U8), F("uid", U32), F("unique_id", U32), F("date", DATE6))
    battery: int
    uid: int
    unique_id: int
    date: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class UnlockReply(_BoltReply):
    """0x47: ``[battery][uid u32][uniqueId u32][yy MM dd HH mm ss]``."""

    COMMAND = LockCommand.UNLOCK


@dataclass(frozen=True, slots=True, repr=False)
class FunctionLockReply(_BoltReply):
    """0x58: same layout as :class:`UnlockReply`."""

    COMMAND = LockCommand.FUNCTION_LOCK


@dataclass(frozen=True, slots=True, repr=False)
class LockTimeReply(ReplyData):
    """0x34: the lock clock, ``yy MM dd HH mm ss`` decimal."""

    COMMAND = LockCommand.GET_LOCK_TIME
    LAYOUT = (F("date", DATE6),)
    date: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class AutoLockReply(ReplyData):
    """0x36: ``[battery][op]`` + on query ``[value u16][min u16][max u16]`` (seconds)."""

    COMMAND = LockCommand.AUTO_LOCK_MANAGE
    LAYOUT = (
        F("battery", U8),
        F("op", U8),
        F("seconds", Trailing(U16)),
        F("minimum", Trailing(U16)),
        F("maximum", Trailing(U16)),
    )
    battery: int
    op: int
    seconds: int | None = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True, repr=False)
class RemoteUnlockReply(ReplyData):
    """0x37: ``[battery][op][value]``."""

    COMMAND = LockCommand.CONTROL_REMOTE_UNLOCK
    LAYOUT = (F("battery", U8), F("op", U8), F("enabled", Trailing(BOOL)))
    battery: int
    op: int
    enabled: bool | None = None


@dataclass(frozen=True, slots=True, repr=False)
class ShowPasswordReply(ReplyData):
    """0x59: ``[op][value]`` — no battery byte (KIND3R)."""

    COMMAND = LockCommand.SHOW_PASSWORD
    LAYOUT = (F("op", U8), F("visible", Trailing(BOOL)))
    op: int
    visible: bool | None = None


@dataclass(frozen=True, slots=True, repr=False)
class AudioReply(ReplyData):
    """0x62: ``[battery][op]`` + on query ``[sound 0/1][volume?]``."""

    COMMAND = LockCommand.AUDIO_MANAGE
    LAYOUT = (
        F("battery", U8),
        F("op", U8),
        F("enabled", Trailing(BOOL)),
        F("volume", Trailing(U8)),
    )
    battery: int
    op: int
    enabled: bool | None = None
    volume: int | None = None


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeReply(ReplyData):
    """0x03: ``[battery][op]`` (KIND3R reads op at data[1]); further bytes kept in ``extra``."""

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (F("battery", U8), F("op", U8), F("extra", REST))
    battery: int
    op: int
    extra: bytes = b""


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeListEntry(WireStruct):
    """One 0x07 item: ``[itemLen][type][newLen][new][oldLen][old][start 5]`` + type tail.

    Count/period passcodes (types 2, 3) carry ``[end 5]``; anything else after
    the start date (2 bytes for cyclic passcodes) is kept in ``extra``.
    """

    COMMAND = LockCommand.PWD_LIST
    LENGTH_PREFIXED = True
    LAYOUT = (
        F("passcode_type", PASSCODE_TYPE),
        F("new_passcode", ASCII_LEN, secret=True),
        F("passcode", ASCII_LEN, secret=True),
        F("start", DATE5),
        F("end", Trailing(DATE5)),
        F("extra", REST),
    )
    passcode_type: int
    new_passcode: str
    passcode: str
    start: LockDate
    end: LockDate | None = None
    extra: bytes = b""

    def _validate(self) -> None:
        dated = self.passcode_type in (PasscodeType.COUNT, PasscodeType.PERIOD)
        if dated != (self.end is not None):
            self._invalid("end", "is required for count/period passcodes and absent otherwise")

    @property
    def cycle_type(self) -> int | None:
        """Cyclic passcodes (type 4): the ``cycleType u16`` after the start (§10.3.2)."""
        if self.passcode_type != PasscodeType.CYCLIC or len(self.extra) != 2:
            return None
        return int.from_bytes(self.extra, "big")

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:4])
        dated = values["passcode_type"] in (PasscodeType.COUNT, PasscodeType.PERIOD)
        values["end"] = DATE5.read(r, "end") if dated else None
        values["extra"] = r.rest()
        return cls._build(r, values)


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeListReply(ReplyData):
    """0x07: ``[totalLen u16][nextSeq u16][items…]``; a bare ``00 00`` ends the list."""

    COMMAND = LockCommand.PWD_LIST
    LAYOUT = (
        F("total_len", U16),
        F("next_seq", Trailing(U16)),
        F("entries", ListOf(PasscodeListEntry)),
    )
    total_len: int
    next_seq: int | None = None
    entries: tuple[PasscodeListEntry, ...] = ()

    def _validate(self) -> None:
        if self.entries and self.next_seq is None:
            self._invalid("next_seq", "is required when entries follow")


@dataclass(frozen=True, slots=True, repr=False)
class IcEntry(WireStruct):
    """One card of an IC list: ``[card u32|u64][start 5][end 5]``."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (F("card", CARD_THEN_WINDOW), F("start", DATE5), F("end", DATE5))
    card: int
    start: LockDate
    end: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class IcListReply(ReplyData):
    """0x05 query: ``[battery][01][nextSeq u16][card start5 end5]…`` (:data:`END_OF_LIST` last).

    All cards of one reply have the same width (4 or 8 bytes), inferred from the
    length (14 or 18 bytes per card; a length fitting both reads as 4-byte cards
    unless that yields invalid dates).
    """

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (F("battery", U8), op(1), F("next_seq", U16), F("cards", ListOf(IcEntry)))
    battery: int
    next_seq: int
    cards: tuple[IcEntry, ...] = ()

    def _write_body(self) -> bytes:
        width = card_width(*(c.card for c in self.cards))
        head = self._write_items(self.LAYOUT[:3])
        return head + b"".join(
            c.card.to_bytes(width, "big") + DATE5.write(c.start) + DATE5.write(c.end)
            for c in self.cards
        )

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:3])
        left = r.remaining
        widths = [w for w in (4, 8) if left % (w + 10) == 0]
        if not widths:
            r.fail("cards", f"{left} byte(s) are not whole 14- or 18-byte card entries")
        errors: list[MessageError] = []
        for width in widths:
            trial = r.fork()
            try:
                values["cards"] = tuple(
                    IcEntry.read_from(trial.sub(width + 10, "card entry", r.layout))
                    for _ in range(left // (width + 10))
                )
            except MessageError as exc:
                errors.append(exc)
                continue
            r.join(trial)
            return cls._build(r, values)
        raise errors[0]


@dataclass(frozen=True, slots=True, repr=False)
class IcAddProgressReply(ReplyData):
    """0x05 add: ``[battery][02][02]`` — the lock entered card-reading mode."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (F("battery", U8), op(2), F("status", EnumByte(IcAddStatus)))
    battery: int
    status: int = IcAddStatus.ENTERED_ADD_MODE

    def _validate(self) -> None:
        if self.status != IcAddStatus.ENTERED_ADD_MODE:
            self._invalid("status", "must be 2 (entered add mode); 1 is IcAddedReply")


@dataclass(frozen=True, slots=True, repr=False)
class IcAddedReply(ReplyData):
    """0x05 add: ``[battery][02][01][card u32|u64]`` — a card was read and stored (second reply)."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (F("battery", U8), op(2), Const("status", b"\x01"), F("card", CARD))
    battery: int
    card: int


@dataclass(frozen=True, slots=True, repr=False)
class IcAckReply(ReplyData):
    """0x05 delete/clear/modify: ``[battery][op 3|4|5]``."""

    COMMAND = LockCommand.IC_MANAGE
    LAYOUT = (F("battery", U8), F("op", U8))
    battery: int
    op: int

    def _validate(self) -> None:
        if self.op not in (3, 4, 5):
            self._invalid("op", f"must be 3 (delete), 4 (clear) or 5 (modify), got {self.op}")


@dataclass(frozen=True, slots=True, repr=False)
class FrEntry(WireStruct):
    """One fingerprint of a list: ``[fp 6 B][start 5][end 5]``."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (F("fingerprint", U48), F("start", DATE5), F("end", DATE5))
    fingerprint: int
    start: LockDate
    end: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class FrListReply(ReplyData):
    """0x06 query: ``[battery][06][seq u16][fp6 start5 end5]…``; end ``64 06 ff ff``."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (F("battery", U8), op(6), F("next_seq", U16), F("fingerprints", ListOf(FrEntry)))
    battery: int
    next_seq: int
    fingerprints: tuple[FrEntry, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class FrAddProgressReply(ReplyData):
    """0x06 add, one step of an enrolment on the sensor (§10.2.2, SDK331 4335-4369).

    Status 2, the lock waits for the finger: ``[battery][02][02]{[total]}``, where a
    longer reply carries how many touches the enrolment takes. Status 3, one touch
    was read: ``[battery][02][03]{[current][total]}`` (current 0 = just entered).
    Status 4 (ready for a template) is :class:`FrTemplateReadyReply`.
    """

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (
        F("battery", U8),
        op(2),
        F("status", EnumByte(FrAddStatus)),
        F("current", Conditional(U8, "(status 3)")),
        F("total", Conditional(U8, "(optional)")),
    )
    battery: int
    status: int
    current: int | None = None
    total: int | None = None

    def _validate(self) -> None:
        if self.status not in (FrAddStatus.ENTERED_ADD_MODE, FrAddStatus.PROGRESS):
            self._invalid(
                "status",
                f"must be 2 or 3 (1 is FrAddedReply, 4 FrTemplateReadyReply), got {self.status}",
            )
        if self.status == FrAddStatus.ENTERED_ADD_MODE and self.current is not None:
            self._invalid("current", "is None for status 2 (its one optional byte is total)")
        if self.status == FrAddStatus.PROGRESS and (self.current is None) != (self.total is None):
            self._invalid("total", "comes with current for status 3 (both or neither)")

    def _write_body(self) -> bytes:
        head = self._write_items(self.LAYOUT[:3])
        if self.status == FrAddStatus.ENTERED_ADD_MODE:
            return head + (b"" if self.total is None else U8.write(self.total))
        return head + self._write_items(self.LAYOUT[3:])

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:3])
        values["current"] = values["total"] = None
        if values["status"] == FrAddStatus.ENTERED_ADD_MODE:
            if r.remaining:
                values["total"] = U8.read(r, "total")
        elif r.remaining:
            values["current"] = U8.read(r, "current")
            values["total"] = U8.read(r, "total")
        return cls._build(r, values)


@dataclass(frozen=True, slots=True, repr=False)
class FrAddedReply(ReplyData):
    """0x06 add: ``[battery][02][01][fp 6 B]`` — a fingerprint was enrolled."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (F("battery", U8), op(2), Const("status", b"\x01"), F("fingerprint", U48))
    battery: int
    fingerprint: int


@dataclass(frozen=True, slots=True, repr=False)
class FrAckReply(ReplyData):
    """0x06 delete/clear/modify: ``[battery][op 3|4|5]``."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (F("battery", U8), F("op", U8))
    battery: int
    op: int

    def _validate(self) -> None:
        if self.op not in (3, 4, 5):
            self._invalid("op", f"must be 3 (delete), 4 (clear) or 5 (modify), got {self.op}")


@dataclass(frozen=True, slots=True, repr=False)
class LogRecord(WireStruct):
    """One operate-log record: ``[recLen][type][yy MM dd HH mm ss][battery][tail]`` (§4.5).

    ``tail`` is kept raw; the properties decode the documented tails and are
    ``None`` for record types that do not carry that value.
    """

    COMMAND = LockCommand.GET_OPERATE_LOG
    LENGTH_PREFIXED = True
    LAYOUT = (
        F("log_type", EnumByte(LogType)),
        F("date", DATE6),
        F("battery", U8),
        F("tail", REST),
    )
    log_type: int
    date: LockDate
    battery: int
    tail: bytes = b""

    def _tail_reader(self) -> Reader:
        return Reader(self.tail, command=self.COMMAND, layout=f"log type {self.log_type} tail")

    @property
    def uid(self) -> int | None:
        """App/BLE/gateway records (1, 26, 28, 37, 41): the user id."""
        if self.log_type not in _UID_LOG_TYPES:
            return None
        return U32.read(self._tail_reader(), "uid")

    @property
    def record_id(self) -> int | None:
        """App/BLE/gateway records: the record id that follows the uid."""
        if self.log_type not in _UID_LOG_TYPES:
            return None
        r = self._tail_reader()
        r.take(4, "uid")
        return U32.read(r, "record_id")

    @property
    def passcode(self) -> str | None:
        """Passcode records (4–13, 34, 38): the passcode used (or the old one on modify)."""
        if self.log_type not in _TWO_PASSCODE_LOG_TYPES | _ONE_PASSCODE_LOG_TYPES:
            return None
        return ASCII_LEN.read(self._tail_reader(), "passcode")

    @property
    def new_passcode(self) -> str | None:
        """Passcode records with two strings: the second one (the new code on modify)."""
        if self.log_type not in _TWO_PASSCODE_LOG_TYPES:
            return None
        r = self._tail_reader()
        ASCII_LEN.read(r, "passcode")
        return ASCII_LEN.read(r, "new_passcode")

    @property
    def card(self) -> int | None:
        """IC records (15, 17, 18, 25, 35, 39): the card number (rest of the record)."""
        if self.log_type not in _CARD_LOG_TYPES:
            return None
        return CARD.read(self._tail_reader(), "card")

    @property
    def fingerprint(self) -> int | None:
        """Fingerprint records (20–23, 33, 40): the 6-byte fingerprint id."""
        if self.log_type not in _FINGERPRINT_LOG_TYPES:
            return None
        return U48.read(self._tail_reader(), "fingerprint")

    @classmethod
    def app(cls, log_type: int, date: LockDate, battery: int, uid: int, record_id: int) -> Self:
        """A record with the app/BLE tail ``[uid u32][recordId u32]``."""
        return cls(log_type, date, battery, U32.write(uid) + U32.write(record_id))

    @classmethod
    def with_passcode(
        cls, log_type: int, date: LockDate, battery: int, passcode: str, new_passcode: str = ""
    ) -> Self:
        """A record with the passcode tail (``len,ASCII[,newLen,ASCII]``; one string for type 7)."""
        for name, value in (("passcode", passcode), ("new_passcode", new_passcode)):
            problem = ASCII_LEN.problem(value)
            if problem is not None:
                raise MessageError(f"LogRecord {name} {problem}", command=cls.COMMAND)
        tail = ASCII_LEN.write(passcode)
        if log_type not in _ONE_PASSCODE_LOG_TYPES:
            tail += ASCII_LEN.write(new_passcode)
        return cls(log_type, date, battery, tail)

    @classmethod
    def with_card(cls, log_type: int, date: LockDate, battery: int, card: int) -> Self:
        """A record with the IC tail (card number, 4 or 8 bytes)."""
        problem = CARD.problem(card)
        if problem is not None:
            raise MessageError(f"LogRecord card {problem}", command=cls.COMMAND)
        return cls(log_type, date, battery, CARD.write(card))


@dataclass(frozen=True, slots=True, repr=False)
class OperateLogReply(ReplyData):
    """0x25: ``[totalLen u16][seq u16][records…]``; ``totalLen`` 0 = no records."""

    COMMAND = LockCommand.GET_OPERATE_LOG
    LAYOUT = (
        F("total_len", U16),
        F("seq", Trailing(U16)),
        F("records", ListOf(LogRecord)),
    )
    total_len: int
    seq: int | None = None
    records: tuple[LogRecord, ...] = ()

    def _validate(self) -> None:
        if self.records and self.seq is None:
            self._invalid("seq", "is required when records follow")


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeListReply(ReplyData):
    """0x66 query: ``[battery][01][seq u8][7-byte entries…]``."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (F("battery", U8), op(1), F("seq", U8), F("entries", ListOf(PassageModeEntry)))
    battery: int
    seq: int
    entries: tuple[PassageModeEntry, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class PassageModeAckReply(ReplyData):
    """0x66 add/delete/clear: ``[battery][op 2|3|4]``."""

    COMMAND = LockCommand.CONFIGURE_PASSAGE_MODE
    LAYOUT = (F("battery", U8), F("op", U8))
    battery: int
    op: int

    def _validate(self) -> None:
        if self.op not in (2, 3, 4):
            self._invalid("op", f"must be 2 (add), 3 (delete) or 4 (clear), got {self.op}")


@dataclass(frozen=True, slots=True, repr=False)
class AdminCodeReply(ReplyData):
    """0x65: ``[battery?][len][ASCII code]`` — §4.2 leaves the first byte unidentified."""

    COMMAND = LockCommand.GET_ADMIN_CODE
    LAYOUT = (F("battery", U8), F("code", ASCII_LEN, secret=True))
    battery: int
    code: str


@dataclass(frozen=True, slots=True, repr=False)
class DeviceInfoReply(ReplyData):
    """0x90: the requested value, ASCII and null-terminated for text items.

    ``value`` holds the bytes as sent; :attr:`text` is the string before the NUL.
    MAC (5) and lock clock (6) answers are binary; read them from ``value``.
    """

    COMMAND = LockCommand.READ_DEVICE_INFO
    LAYOUT = (F("value", REST),)
    value: bytes

    @property
    def text(self) -> str:
        return self.value.split(b"\x00", 1)[0].decode("ascii", errors="replace")

    @classmethod
    def of_text(cls, text: str) -> Self:
        """The reply a lock gives for a text item (NUL appended)."""
        problem = ASCII_REST.problem(text)
        if problem is not None:
            raise MessageError(f"DeviceInfoReply text {problem}", command=cls.COMMAND)
        return cls(text.encode("ascii") + b"\x00")


# --- unsolicited pushes (§4.1) --------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class StatePush(ReplyData):
    """Echo-0x14 push with 3 data bytes: ``[battery][state][flag]`` (state heartbeat).

    Same shape as a :class:`StatusReply` with one extra byte: whether it is a
    push or the answer to a 0x14 request depends on what the app sent.
    """

    COMMAND = LockCommand.SEARCH_STATUS
    LAYOUT = (F("battery", U8), F("state", LOCK_STATE), F("flag", U8))
    battery: int
    state: int
    flag: int


@dataclass(frozen=True, slots=True, repr=False)
class LogPush(ReplyData):
    """Echo-0x14 push with 15 data bytes (a log record was written).

    ``[battery][uid u32][recordId u32][yy MM dd HH mm ss]``.
    """

    COMMAND = LockCommand.SEARCH_STATUS
    LAYOUT = (F("battery", U8), F("uid", U32), F("record_id", U32), F("date", DATE6))
    battery: int
    uid: int
    record_id: int
    date: LockDate


def parse_push(reply: Reply) -> StatePush | LogPush | None:
    """Recognise an unsolicited push (TTLOCK-BLE ``lock_event``), else ``None``.

    A push has echo 0x14 and 3 or 15 data bytes; MessageError if it has that
    shape but the bytes are invalid (e.g. a bad date).
    """
    if reply.command != LockCommand.SEARCH_STATUS or not reply.ok:
        return None
    if len(reply.data) == 3:
        return StatePush.decode(reply.data)
    if len(reply.data) == 15:
        return LogPush.decode(reply.data)
    return None
