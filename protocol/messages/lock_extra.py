"""The rest of the V3 lock's command set (docs/protocol.md §10.2, §10.3).

* 0x03 op 6: a passcode written back with its original validity (recovery, §10.2.1);
* 0x06 op 2 with a body and op 7: a fingerprint template uploaded in chunks (§10.2.2),
  and the 17-byte recovery form of op 2 that re-adds a known fingerprint;
* 0x31 INIT_PASSWORDS: ten years of keypad passcode seeds (§10.3.1);
* 0x70 CYCLIC_CMD: weekly windows of a card, fingerprint or key fob (§10.3.5);
* 0x64 CONFIGURE_HOTEL_DATA: hotel parameters and lift floors (§10.3.4);
* 0x12 / 0x13: the NB-IoT server address and wake-up configuration (§10.3.3).

Same scheme as :mod:`ttlock_hil.protocol.messages.lock`; both roles use these classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, Self

from ..commands import LockCommand
from ..errors import MessageError
from ._fields import (
    ASCII_LEN,
    ASCII_REST,
    BYTES_LEN,
    DATE5,
    REST,
    U8,
    U16,
    U32,
    U48,
    Codec,
    Conditional,
    Const,
    CountedListOf,
    EnumByte,
    F,
    LockDate,
    Reader,
    Trailing,
    WireStruct,
    op,
)
from .lock import PASSCODE_TYPE, FrAddStatus, PasscodeType, ReplyData, Request

__all__ = [
    "MAX_SEED_CODE",
    "CyclicAdd",
    "CyclicClear",
    "CyclicLoop",
    "CyclicRemove",
    "CyclicReply",
    "CyclicUserType",
    "FrAdd",
    "FrTemplateChunk",
    "FrTemplateChunkReply",
    "FrTemplateHeader",
    "FrTemplateReadyReply",
    "HotelGet",
    "HotelParam",
    "HotelReply",
    "HotelSet",
    "InitPasswords",
    "NbAwakeMode",
    "NbAwakeModesReply",
    "NbAwakeQuery",
    "NbAwakeSetModes",
    "NbAwakeSetReply",
    "NbAwakeSetTimes",
    "NbAwakeTime",
    "NbAwakeTimesReply",
    "NbAwakeWhat",
    "NbServerAddress",
    "PasscodeRecover",
    "PasswordSeed",
    "template_checksum",
]


# --- 0x03 op 6: passcode recovery (§10.2.1) ------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class PasscodeRecover(Request):
    """0x03 op 6: write a passcode back with its original validity (§10.2.1).

    ``[06][type][oldLen][old][newLen][new][start 5]`` then ``[end 5]`` for type 3 or
    ``[cycleType u16]`` for type 4 (types 1 and 2 stop after the start). The SDK sends
    the same passcode as old and new (:meth:`of`).
    """

    COMMAND = LockCommand.MANAGE_KEYBOARD_PASSWORD
    LAYOUT = (
        op(6),
        F("passcode_type", PASSCODE_TYPE),
        F("old_passcode", ASCII_LEN, secret=True),
        F("new_passcode", ASCII_LEN, secret=True),
        F("start", DATE5),
        F("end", Conditional(DATE5, "(type 3 only)")),
        F("cycle_type", Conditional(U16, "(type 4 only)")),
    )
    passcode_type: int
    old_passcode: str
    new_passcode: str
    start: LockDate
    end: LockDate | None = None
    cycle_type: int | None = None

    @classmethod
    def of(
        cls,
        passcode_type: int,
        passcode: str,
        start: LockDate,
        *,
        end: LockDate | None = None,
        cycle_type: int | None = None,
    ) -> Self:
        """The request as the SDK builds it: ``passcode`` as both old and new."""
        return cls(passcode_type, passcode, passcode, start, end, cycle_type)

    def _validate(self) -> None:
        period = self.passcode_type == PasscodeType.PERIOD
        cyclic = self.passcode_type == PasscodeType.CYCLIC
        if period != (self.end is not None):
            self._invalid("end", "is required for period passcodes (type 3) and absent otherwise")
        if cyclic != (self.cycle_type is not None):
            self._invalid("cycle_type", "is required for cyclic passcodes (type 4) only")

    def _write_body(self) -> bytes:
        head = self._write_items(self.LAYOUT[:5])
        if self.end is not None:
            return head + DATE5.write(self.end)
        return head + (b"" if self.cycle_type is None else U16.write(self.cycle_type))

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        values = cls._read_items(r, cls.LAYOUT[:5])
        values["end"] = values["cycle_type"] = None
        if values["passcode_type"] == PasscodeType.PERIOD:
            values["end"] = DATE5.read(r, "end")
        elif values["passcode_type"] == PasscodeType.CYCLIC:
            values["cycle_type"] = U16.read(r, "cycle_type")
        return cls._build(r, values)


# --- 0x06: fingerprint templates and the recovery add (§10.2.2) -------------------------------


def template_checksum(template: bytes) -> int:
    """The template header's checksum: the sum of every template byte mod 65536 (§10.2.2)."""
    return sum(template) & 0xFFFF


@dataclass(frozen=True, slots=True, repr=False)
class FrTemplateHeader(Request):
    """0x06 op 2 announcing a template: ``[02][tempNo u32][len u16][checksum u16][start5][end5]``.

    The lock answers :class:`FrTemplateReadyReply`; the template then follows in
    :class:`FrTemplateChunk` requests (§10.2.2 steps 2-4).
    """

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (
        op(2),
        F("temp_no", U32),
        F("length", U16),
        F("checksum", U16),
        F("start", DATE5),
        F("end", DATE5),
    )
    temp_no: int
    length: int
    checksum: int
    start: LockDate
    end: LockDate

    @classmethod
    def for_template(cls, template: bytes, *, temp_no: int, start: LockDate, end: LockDate) -> Self:
        """The header announcing ``template`` (its length and checksum computed)."""
        if not template or len(template) > 0xFFFF:
            raise MessageError(
                f"a fingerprint template is 1..65535 bytes, got {len(template)}",
                command=cls.COMMAND,
            )
        return cls(temp_no, len(template), template_checksum(template), start, end)


@dataclass(frozen=True, slots=True, repr=False)
class FrAdd(Request):
    """0x06 op 2 with a known fingerprint: ``[02][fp 6 B][start5][end5]`` (recovery, §10.2.2)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(2), F("fingerprint", U48), F("start", DATE5), F("end", DATE5))
    fingerprint: int
    start: LockDate
    end: LockDate


@dataclass(frozen=True, slots=True, repr=False)
class FrTemplateChunk(Request):
    """0x06 op 7: ``[07][seq u16][template bytes]``, at most ``packet_len`` bytes each (§10.2.2)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (op(7), F("seq", U16), F("data", REST))
    seq: int
    data: bytes

    def _validate(self) -> None:
        if not self.data:
            self._invalid("data", "must hold at least one template byte")

    @classmethod
    def split(cls, template: bytes, packet_len: int) -> tuple[Self, ...]:
        """``template`` cut into the chunks the lock asked for (``packet_len`` bytes each)."""
        if packet_len < 1:
            raise MessageError(f"packet length must be >= 1, got {packet_len}", command=cls.COMMAND)
        return tuple(
            cls(index, template[offset : offset + packet_len])
            for index, offset in enumerate(range(0, len(template), packet_len))
        )


@dataclass(frozen=True, slots=True, repr=False)
class FrTemplateReadyReply(ReplyData):
    """0x06 add status 4: ``[battery][02][04][seq u16][packetLen u16]`` (§10.2.2 step 3)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (
        F("battery", U8),
        op(2),
        Const("status", bytes([FrAddStatus.READY_FOR_TEMPLATE])),
        F("seq", U16),
        F("packet_len", U16),
    )
    battery: int
    seq: int
    packet_len: int


@dataclass(frozen=True, slots=True, repr=False)
class FrTemplateChunkReply(ReplyData):
    """0x06 op 7 acknowledged: ``[battery][07][seq u16]`` (§10.2.2 step 5)."""

    COMMAND = LockCommand.FR_MANAGE
    LAYOUT = (F("battery", U8), op(7), F("seq", U16))
    battery: int
    seq: int


# --- 0x31 INIT_PASSWORDS (§10.3.1) ----------------------------------------------------------

MAX_SEED_CODE: Final = 1070
"""The largest "agreed number" the vendor draws (it must stay below 1071, §10.3.1)."""

SEED_YEARS: Final = 10
"""Seed blocks in one 0x31 request: ten years from the first (§10.3.1)."""


class _Bits(Codec[int]):
    """A field packed with others into one block (read and written by its struct)."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.spec = f"{bits} bits"

    def read(self, r: Reader, field: str) -> int:
        raise NotImplementedError("packed: read by PasswordSeed")

    def write(self, value: int) -> bytes:
        raise NotImplementedError("packed: written by PasswordSeed")

    def problem(self, value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << self.bits:
            return None
        return f"must be an int 0..{(1 << self.bits) - 1} ({self.bits} bits), got {value!r}"


@dataclass(frozen=True, slots=True, repr=False)
class PasswordSeed(WireStruct):
    """One year's seed: ``code`` 12 bits ‖ ``secret`` 36 bits, 6 bytes big-endian (§10.3.1).

    ``code`` is the vendor's "agreed number" (0..1070), ``secret`` its "mapping number",
    a permutation of the digits 0-9 read as a number (below 2^36). Both are secrets:
    the cloud derives the keypad's offline passcodes from them.
    """

    COMMAND = LockCommand.INIT_PASSWORDS
    LAYOUT = (F("code", _Bits(12), secret=True), F("secret", _Bits(36), secret=True))
    code: int
    secret: int

    def _write_body(self) -> bytes:
        return (self.code << 36 | self.secret).to_bytes(6, "big")

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        block = int.from_bytes(r.take(6, "seed"), "big")
        return cls._build(r, {"code": block >> 36, "secret": block & ((1 << 36) - 1)})


class _Seeds(Codec[tuple[PasswordSeed, ...]]):
    spec = f"{SEED_YEARS} × PasswordSeed (6 B)"

    def read(self, r: Reader, field: str) -> tuple[PasswordSeed, ...]:
        return tuple(PasswordSeed.read_from(r) for _ in range(SEED_YEARS))

    def write(self, value: tuple[PasswordSeed, ...]) -> bytes:
        return b"".join(seed.encode() for seed in value)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, tuple) or not all(isinstance(v, PasswordSeed) for v in value):
            return "must be a tuple of PasswordSeed"
        if len(value) != SEED_YEARS:
            return f"must hold {SEED_YEARS} seeds (one per year), got {len(value)}"
        return None


@dataclass(frozen=True, slots=True, repr=False)
class InitPasswords(Request):
    """0x31 INIT_PASSWORDS (V3): ``[year % 100]`` + 10 seed blocks, 61 bytes (§10.3.1)."""

    COMMAND = LockCommand.INIT_PASSWORDS
    LAYOUT = (F("first_year", U8), F("seeds", _Seeds()))
    first_year: int
    seeds: tuple[PasswordSeed, ...]

    def _validate(self) -> None:
        if self.first_year > 99:
            self._invalid("first_year", f"is the year % 100 (0..99), got {self.first_year}")

    @classmethod
    def of(cls, today: LockDate, seeds: Iterable[tuple[int, int]]) -> Self:
        """For ``today`` (lock-local), with ``(code, secret)`` pairs, the SDK's way.

        The first year is today's, but the previous one on 1 January (§10.3.1).
        """
        year = today.year - 1 if (today.month, today.day) == (1, 1) else today.year
        return cls(year % 100, tuple(PasswordSeed(code, secret) for code, secret in seeds))


# --- 0x70 CYCLIC_CMD (§10.3.5) ----------------------------------------------------------------


class CyclicUserType(IntEnum):
    """Whose windows 0x70 manages (vendor ``CyclicOpType`` users, §10.3.5)."""

    FINGERPRINT = 1
    IC = 2
    KEY_FOB = 3
    FACE = 4


class CyclicLoop(IntEnum):
    """0x70 ADD loop type (§10.3.5)."""

    WEEKLY = 1
    DAILY = 2
    MONTH_DAY = 3


def cyclic_user(user_type: int, user: int) -> bytes:
    """A user id as 0x70 carries it: IC 4 bytes (8 above 2^32-1), fingerprint and key fob 6."""
    if user_type == CyclicUserType.IC:
        return user.to_bytes(4 if user <= 0xFFFFFFFF else 8, "big")
    return user.to_bytes(6 if user < 1 << 48 else 8, "big")


@dataclass(frozen=True, slots=True, repr=False)
class _CyclicWindow(Request):
    """ADD/REMOVE body: ``[op][userType][userLen][user][loop][weekDay][day][sH][sM][eH][eM]``."""

    COMMAND = LockCommand.CYCLIC_CMD
    user_type: int
    user: bytes
    loop: int
    weekday: int
    day: int
    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int

    def _validate(self) -> None:
        if not self.user:
            self._invalid("user", "must name one user (an empty id only clears)")
        for name, top in (
            ("start_hour", 23),
            ("end_hour", 23),
            ("start_minute", 59),
            ("end_minute", 59),
        ):
            if getattr(self, name) > top:
                self._invalid(name, f"must be 0..{top}, got {getattr(self, name)}")

    @classmethod
    def weekly(
        cls, user_type: int, user: int, weekday: int, start: tuple[int, int], end: tuple[int, int]
    ) -> Self:
        """A weekly window of ``user`` on ``weekday`` (1..7 = Monday..Sunday), (hour, minute)."""
        return cls(
            user_type, cyclic_user(user_type, user), CyclicLoop.WEEKLY, weekday, 0, *start, *end
        )

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes of the day."""
        return (
            self.start_hour * 60 + self.start_minute,
            self.end_hour * 60 + self.end_minute,
        )


def _window_layout(code: int) -> tuple[Any, ...]:
    return (
        op(code),
        F("user_type", EnumByte(CyclicUserType)),
        F("user", BYTES_LEN),
        F("loop", EnumByte(CyclicLoop)),
        F("weekday", U8),
        F("day", U8),
        F("start_hour", U8),
        F("start_minute", U8),
        F("end_hour", U8),
        F("end_minute", U8),
    )


@dataclass(frozen=True, slots=True, repr=False)
class CyclicAdd(_CyclicWindow):
    """0x70 op 2: add a window (weekly: ``weekday`` 1..7 = Monday..Sunday, §10.3.5)."""

    LAYOUT = _window_layout(2)


@dataclass(frozen=True, slots=True, repr=False)
class CyclicRemove(_CyclicWindow):
    """0x70 op 3: remove one window. Our reading: the same body as ADD (§10.3.5 gives
    only the op number)."""

    LAYOUT = _window_layout(3)


@dataclass(frozen=True, slots=True, repr=False)
class CyclicClear(Request):
    """0x70 op 4: ``[04][userType][userLen][user]``; an empty id clears every user of the type."""

    COMMAND = LockCommand.CYCLIC_CMD
    LAYOUT = (op(4), F("user_type", EnumByte(CyclicUserType)), F("user", BYTES_LEN))
    user_type: int
    user: bytes = b""


@dataclass(frozen=True, slots=True, repr=False)
class CyclicReply(ReplyData):
    """0x70: ``[battery][op]`` (§10.3.5)."""

    COMMAND = LockCommand.CYCLIC_CMD
    LAYOUT = (F("battery", U8), F("op", U8))
    battery: int
    op: int


# --- 0x64 CONFIGURE_HOTEL_DATA (§10.3.4) ------------------------------------------------------


class HotelParam(IntEnum):
    """0x64 ``paraType`` (vendor ``HotelData``, §10.3.4)."""

    IC_KEY = 1
    AES_KEY = 2
    HOTEL_NUMBERS = 3
    SECTORS = 4
    LIFT_FLOORS = 5
    LIFT_WORK_MODE = 6
    POWER_SAVER_MODE = 7
    POWER_SAVER_LOCK = 8


_HOTEL_SIZES: Final = {
    HotelParam.IC_KEY: 6,
    HotelParam.AES_KEY: 16,
    HotelParam.HOTEL_NUMBERS: 5,
    HotelParam.SECTORS: 2,
    HotelParam.LIFT_WORK_MODE: 9,
    HotelParam.POWER_SAVER_MODE: 1,
    HotelParam.POWER_SAVER_LOCK: 6,
}
"""Value sizes §10.3.4 fixes (lift floors: one byte per floor)."""

DEFAULT_HOTEL_IC_KEY: Final = bytes.fromhex("a965654d3d46")
"""The SDK's default hotel IC key (§10.3.4)."""
DEFAULT_HOTEL_AES_KEY: Final = bytes.fromhex("a965654d3d4694e63b68c307cfea4b54")
"""The SDK's default hotel AES key (§10.3.4)."""


@dataclass(frozen=True, slots=True, repr=False)
class HotelGet(Request):
    """0x64 op 1: read one hotel parameter ``[01][paraType]`` (§10.3.4)."""

    COMMAND = LockCommand.CONFIGURE_HOTEL_DATA
    LAYOUT = (op(1), F("para_type", EnumByte(HotelParam)))
    para_type: int


@dataclass(frozen=True, slots=True, repr=False)
class HotelSet(Request):
    """0x64 op 2: ``[02][paraType][len][value]`` (§10.3.4); the classmethods build each value.

    The keys are secrets, so every value stays out of reprs.
    """

    COMMAND = LockCommand.CONFIGURE_HOTEL_DATA
    LAYOUT = (op(2), F("para_type", EnumByte(HotelParam)), F("value", BYTES_LEN, secret=True))
    para_type: int
    value: bytes

    def _validate(self) -> None:
        try:
            size = _HOTEL_SIZES.get(HotelParam(self.para_type))
        except ValueError:
            return  # a para type no source names: the lock judges it
        if size is not None and len(self.value) != size:
            self._invalid("value", f"must be {size} bytes for para type {self.para_type}")

    @classmethod
    def ic_key(cls, key: bytes = DEFAULT_HOTEL_IC_KEY) -> Self:
        return cls(HotelParam.IC_KEY, key)

    @classmethod
    def aes_key(cls, key: bytes = DEFAULT_HOTEL_AES_KEY) -> Self:
        return cls(HotelParam.AES_KEY, key)

    @classmethod
    def numbers(cls, hotel: int, building: int, floor: int) -> Self:
        """Hotel number (u24), building (1-254) and floor (1-255)."""
        if not 0 <= hotel < 1 << 24 or not 0 <= building <= 255 or not 0 <= floor <= 255:
            raise MessageError(
                "hotel is a u24, building and floor one byte each", command=cls.COMMAND
            )
        return cls(HotelParam.HOTEL_NUMBERS, hotel.to_bytes(3, "big") + bytes([building, floor]))

    @classmethod
    def sectors(cls, sectors: Iterable[int]) -> Self:
        """Card sectors 1..16: sector n is bit 16-n; all sixteen go out as 0 ("every sector")."""
        chosen = set(sectors)
        if not chosen or not chosen <= set(range(1, 17)):
            raise MessageError("sectors are 1..16, at least one", command=cls.COMMAND)
        mask = 0 if len(chosen) == 16 else sum(1 << (16 - n) for n in chosen)
        return cls(HotelParam.SECTORS, mask.to_bytes(2, "big"))

    @classmethod
    def lift_floors(cls, floors: Sequence[int]) -> Self:
        """The floors the lift controller may open (one byte each)."""
        if not all(0 <= f <= 255 for f in floors):
            raise MessageError("floors are one byte each", command=cls.COMMAND)
        return cls(HotelParam.LIFT_FLOORS, bytes(floors))

    @classmethod
    def lift_work_mode(cls, mode: int, controls: bytes = bytes(8)) -> Self:
        """Mode 1 all floors, 2 specific floors; then 8 bytes, 0 = controlled."""
        return cls(HotelParam.LIFT_WORK_MODE, bytes([mode]) + controls)

    @classmethod
    def power_saver_mode(cls, bits: int) -> Self:
        """0x01 all cards, 0x02 ID card, 0x04 hotel card, 0x08 room card."""
        return cls(HotelParam.POWER_SAVER_MODE, bytes([bits]))

    @classmethod
    def power_saver_lock(cls, mac: str) -> Self:
        """The lock the power saver controls, MAC in text order."""
        return cls(HotelParam.POWER_SAVER_LOCK, bytes(int(p, 16) for p in mac.split(":")))


@dataclass(frozen=True, slots=True, repr=False)
class HotelReply(ReplyData):
    """0x64: ``[battery][op][paraType]`` + on get ``[len][value]`` (§10.3.4)."""

    COMMAND = LockCommand.CONFIGURE_HOTEL_DATA
    LAYOUT = (
        F("battery", U8),
        F("op", U8),
        F("para_type", EnumByte(HotelParam)),
        F("value", Trailing(BYTES_LEN), secret=True),
    )
    battery: int
    op: int
    para_type: int
    value: bytes | None = None


# --- NB-IoT: 0x12 and 0x13 (§10.3.3) -----------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class NbServerAddress(Request):
    """0x12 CONFIGURE_NB_ADDRESS: ``[port u16 BE][host ASCII]`` — no length byte (§10.3.3)."""

    COMMAND = LockCommand.CONFIGURE_NB_ADDRESS
    LAYOUT = (F("port", U16), F("host", ASCII_REST))
    port: int
    host: str

    def _validate(self) -> None:
        if not self.host:
            self._invalid("host", "must not be empty")


class NbAwakeWhat(IntEnum):
    """0x13 ``what``: wake-up modes or wake-up times (§10.3.3)."""

    MODES = 1
    TIMES = 2


class NbAwakeMode(IntEnum):
    """0x13 mode bits (vendor ``NBAwakeMode``, §10.3.3)."""

    KEYPAD = 0x01
    CARD = 0x02
    FINGERPRINT = 0x04


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeTime(WireStruct):
    """One wake-up time ``(type, hour, minute)``: type 1 a time point, 2 an interval."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (F("time_type", U8), F("hour", U8), F("minute", U8))
    time_type: int
    hour: int
    minute: int


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeQuery(Request):
    """0x13 op 1: ``[01][what]`` (§10.3.3)."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (op(1), F("what", EnumByte(NbAwakeWhat)))
    what: int


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeSetModes(Request):
    """0x13 set modes: ``[02][01][modeBits]`` (§10.3.3)."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (op(2), Const("what", b"\x01"), F("modes", U8))
    modes: int


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeSetTimes(Request):
    """0x13 set times: ``[02][02][n][(type, hour, minute)×n]`` (§10.3.3)."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (op(2), Const("what", b"\x02"), F("times", CountedListOf(NbAwakeTime)))
    times: tuple[NbAwakeTime, ...]


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeModesReply(ReplyData):
    """0x13 get modes: ``[battery][01][01][modeBits]``."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (F("battery", U8), op(1), Const("what", b"\x01"), F("modes", U8))
    battery: int
    modes: int


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeTimesReply(ReplyData):
    """0x13 get times: ``[battery][01][02][n][(type, hour, minute)×n]``."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (
        F("battery", U8),
        op(1),
        Const("what", b"\x02"),
        F("times", CountedListOf(NbAwakeTime)),
    )
    battery: int
    times: tuple[NbAwakeTime, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class NbAwakeSetReply(ReplyData):
    """0x13 set: ``[battery][02][what]``."""

    COMMAND = LockCommand.NB_ACTIVATE_CONFIGURATION
    LAYOUT = (F("battery", U8), op(2), F("what", EnumByte(NbAwakeWhat)))
    battery: int
    what: int
