"""Wire fields shared by every TTLock message, and the small engine that uses them.

A message is a frozen, slotted dataclass whose class attribute ``LAYOUT`` lists
its wire fields in order, the way docs/protocol.md's tables do::

    LAYOUT = (F("admin_ps", U32, secret=True), F("flag_pos", FLAG_POS), F("uid", U32))

:class:`WireStruct` turns that one declaration into ``encode()``, ``decode()``,
argument validation at construction time, a layout description for error
messages, and a redacting ``repr``/``to_dict``. Messages whose layout depends
on their own content (a type byte that decides whether an end date follows, a
length byte that bounds a record) override ``_read`` and ``_write`` but keep the
same public API and the same :class:`Reader`, so errors look the same everywhere.

Encodings (docs/protocol.md §4.2, "Time/number encodings"): every integer is
big-endian; every date byte is the *decimal* value (2026 → ``0x1A``, not BCD).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Final, Generic, NoReturn, Protocol, Self, TypeVar

from ..errors import MessageError
from ..lockdata import REDACTED

T = TypeVar("T")


# --- dates -------------------------------------------------------------------


class _DateTimeLike(Protocol):
    """Anything with calendar attributes, e.g. :class:`datetime.datetime`."""

    @property
    def year(self) -> int: ...
    @property
    def month(self) -> int: ...
    @property
    def day(self) -> int: ...
    @property
    def hour(self) -> int: ...
    @property
    def minute(self) -> int: ...
    @property
    def second(self) -> int: ...


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


@dataclass(frozen=True, slots=True, order=True, repr=False)
class LockDate:
    """A lock-local calendar time as TTLock puts it on the wire.

    The lock knows no time zone and only two-digit years, so the protocol layer
    does not use :mod:`datetime` (it must not read clocks either): callers
    convert, e.g. ``LockDate.of(datetime.now())`` and
    ``datetime(*lock_date.as_tuple())``. On the wire each part is one byte
    holding its decimal value: ``LockDate(2026, 1, 2, 3, 4, 5)`` → ``1a 01 02 03 04 05``
    (6-byte form) or, without seconds, ``1a 01 02 03 04`` (5-byte form, used for
    validity windows). Instances order chronologically.
    """

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            raise MessageError(f"invalid LockDate {self.as_tuple()}: {problem}")

    def _problem(self) -> str | None:
        for name in ("year", "month", "day", "hour", "minute", "second"):
            if type(getattr(self, name)) is not int:
                return f"{name} must be an int"
        if not 2000 <= self.year <= 2099:
            return "year must be 2000..2099 (the lock stores two digits)"
        if not 1 <= self.month <= 12:
            return "month must be 1..12"
        if not 1 <= self.day <= _days_in_month(self.year, self.month):
            return f"day must be 1..{_days_in_month(self.year, self.month)}"
        if not 0 <= self.hour <= 23:
            return "hour must be 0..23"
        if not 0 <= self.minute <= 59:
            return "minute must be 0..59"
        if not 0 <= self.second <= 59:
            return "second must be 0..59"
        return None

    @classmethod
    def of(cls, value: _DateTimeLike) -> LockDate:
        """Take the calendar fields of a ``datetime`` (or any look-alike)."""
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)

    @classmethod
    def from_bytes(cls, data: bytes) -> LockDate:
        """Parse the 5- or 6-byte decimal form (``yy MM dd HH mm [ss]``)."""
        if len(data) not in (5, 6):
            raise MessageError(
                f"a lock date is 5 or 6 bytes (yy MM dd HH mm [ss]), got {len(data)}"
            )
        year, month, day, hour, minute = data[:5]
        if year > 99:
            raise MessageError(f"a lock date's year byte must be 0..99, got {year}")
        second = data[5] if len(data) == 6 else 0
        return cls(2000 + year, month, day, hour, minute, second)

    def to_bytes(self, *, seconds: bool = True) -> bytes:
        """The wire form; ``seconds=False`` gives the 5-byte form (seconds must be 0)."""
        if not seconds and self.second:
            raise MessageError(
                f"{self} has seconds but the 5-byte date form stops at minutes; "
                "use .without_seconds()"
            )
        parts = (self.year - 2000, self.month, self.day, self.hour, self.minute)
        return bytes((*parts, self.second)) if seconds else bytes(parts)

    def without_seconds(self) -> LockDate:
        """The same minute, seconds dropped (what the 5-byte form can carry)."""
        return dataclasses.replace(self, second=0)

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        """``(year, month, day, hour, minute, second)`` — e.g. ``datetime(*d.as_tuple())``."""
        return (self.year, self.month, self.day, self.hour, self.minute, self.second)

    def __repr__(self) -> str:
        return f"LockDate{self.as_tuple()}"

    def __str__(self) -> str:
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d} "
            f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}"
        )


@dataclass(frozen=True, slots=True, repr=False)
class WireDate:
    """Five date bytes ``yy MM dd HH mm`` exactly as a client sent them, calendar or not.

    docs/protocol.md §9.2: TTLOCK-BLE sends CHECK_USER_TIME dates in BCD (2099 → ``0x99``)
    where the vendor sends decimal values, and locks accept both. A lock reading such a
    window cannot turn it into a :class:`LockDate`; it compares the bytes as plain
    ``(yy, MM, dd, HH, mm)`` tuples (:func:`date_key`), which orders decimal dates the
    way the calendar does and leaves the BCD "permanent" window wide open.
    """

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 5:
            raise MessageError(f"a wire date is 5 bytes (yy MM dd HH mm), got {self.raw!r}")

    @classmethod
    def bcd(cls, date: LockDate) -> WireDate:
        """``date`` the way TTLOCK-BLE encodes it: each part in BCD (``2099`` → ``0x99``)."""
        parts = (date.year - 2000, date.month, date.day, date.hour, date.minute)
        return cls(bytes((part // 10) << 4 | part % 10 for part in parts))

    def __repr__(self) -> str:
        return f"WireDate({self.raw.hex()})"


def date_key(value: LockDate | WireDate) -> tuple[int, int, int, int, int]:
    """``(yy, MM, dd, HH, mm)`` as bytes on the wire: how a lock orders a 5-byte date."""
    if isinstance(value, WireDate):
        yy, month, day, hour, minute = value.raw
        return (yy, month, day, hour, minute)
    return (value.year - 2000, value.month, value.day, value.hour, value.minute)


# --- reading -----------------------------------------------------------------


class Reader:
    """A cursor over one plaintext that turns every shortfall into a MessageError.

    ``layout`` is the human description of what was expected; it ends every
    error message so that the reader of a log sees the fix, not just the fault.
    """

    __slots__ = ("_data", "_end", "_pos", "command", "layout")

    def __init__(
        self,
        data: bytes,
        *,
        command: int | None,
        layout: str,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self._data = bytes(data)
        self._pos = start
        self._end = len(self._data) if end is None else end
        self.command = command
        self.layout = layout

    @property
    def offset(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def fail(self, field: str, problem: str, *, offset: int | None = None) -> NoReturn:
        where = self._pos if offset is None else offset
        raise MessageError(
            f"{field} at offset {where}: {problem}; expected layout {self.layout}",
            command=self.command,
        )

    def take(self, size: int, field: str) -> bytes:
        if size > self.remaining:
            self.fail(field, f"needs {size} byte(s) but only {self.remaining} left")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def peek(self) -> int | None:
        """The next byte without consuming it (None at the end)."""
        return self._data[self._pos] if self._pos < self._end else None

    def fork(self) -> Reader:
        """An independent cursor at the same position (to try one reading of several)."""
        return Reader(
            self._data, command=self.command, layout=self.layout, start=self._pos, end=self._end
        )

    def join(self, fork: Reader) -> None:
        """Continue from where ``fork`` stopped (after a successful trial)."""
        self._pos = fork._pos

    def rest(self) -> bytes:
        chunk = self._data[self._pos : self._end]
        self._pos = self._end
        return chunk

    def sub(self, size: int, field: str, layout: str) -> Reader:
        """A reader bounded to the next ``size`` bytes (for length-prefixed records)."""
        if size > self.remaining:
            self.fail(field, f"announces {size} byte(s) but only {self.remaining} left")
        inner = Reader(
            self._data, command=self.command, layout=layout, start=self._pos, end=self._pos + size
        )
        self._pos += size
        return inner

    def expect_end(self) -> None:
        if self.remaining:
            self.fail("end", f"{self.remaining} unexpected trailing byte(s)")


class LayoutMismatch(MessageError):
    """A constant byte (operation code, magic string) differs from the layout's.

    Raised while choosing between the variants of one command; outside this
    package it is just a :class:`MessageError`.
    """


# --- field codecs ------------------------------------------------------------


class Codec(ABC, Generic[T]):
    """How one field goes on the wire. ``spec`` is its text in layout descriptions."""

    spec: str = "?"

    @abstractmethod
    def read(self, r: Reader, field: str) -> T:
        """Consume the field from ``r`` (raise through ``r.fail`` on bad bytes)."""

    @abstractmethod
    def write(self, value: T) -> bytes:
        """The field's bytes; ``value`` has passed :meth:`problem`."""

    @abstractmethod
    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be encoded, or ``None`` when it can."""


class UInt(Codec[int]):
    """Unsigned big-endian integer of ``size`` bytes."""

    def __init__(self, size: int, spec: str | None = None) -> None:
        self.size = size
        if spec is None:
            spec = f"u{8 * size} BE" if size > 1 else "u8"
        self.spec = spec

    def read(self, r: Reader, field: str) -> int:
        return int.from_bytes(r.take(self.size, field), "big")

    def write(self, value: int) -> bytes:
        return int(value).to_bytes(self.size, "big")

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an int, got {type(value).__name__}"
        if not 0 <= value < 1 << (8 * self.size):
            return f"must be 0..{(1 << (8 * self.size)) - 1} ({self.spec}), got {value}"
        return None


class Int8(Codec[int]):
    """Signed byte (e.g. an RSSI in dBm)."""

    spec = "i8"

    def read(self, r: Reader, field: str) -> int:
        return int.from_bytes(r.take(1, field), "big", signed=True)

    def write(self, value: int) -> bytes:
        return int(value).to_bytes(1, "big", signed=True)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an int, got {type(value).__name__}"
        return None if -128 <= value <= 127 else f"must be -128..127, got {value}"


class Bool8(Codec[bool]):
    """One byte, 0 = off/false, 1 = on/true; anything else is refused."""

    spec = "u8 0/1"

    def read(self, r: Reader, field: str) -> bool:
        value = r.take(1, field)[0]
        if value > 1:
            r.fail(field, f"must be 0 or 1, got {value}", offset=r.offset - 1)
        return value == 1

    def write(self, value: bool) -> bytes:
        return b"\x01" if value else b"\x00"

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, bool) else f"must be a bool, got {type(value).__name__}"


class EnumByte(Codec[int]):
    """One byte decoded to a member of ``enum`` when known, else left as a plain int."""

    def __init__(self, enum: type[IntEnum]) -> None:
        self.enum = enum
        self.spec = f"u8 {enum.__name__}"

    def read(self, r: Reader, field: str) -> int:
        value = r.take(1, field)[0]
        try:
            return self.enum(value)
        except ValueError:
            return value

    def write(self, value: int) -> bytes:
        return bytes([int(value)])

    def problem(self, value: object) -> str | None:
        return U8.problem(value)


class Date(Codec[LockDate]):
    """A :class:`LockDate` in its 6-byte (with seconds) or 5-byte form."""

    def __init__(self, *, seconds: bool) -> None:
        self.seconds = seconds
        self.size = 6 if seconds else 5
        self.spec = "yy MM dd HH mm ss" if seconds else "yy MM dd HH mm"

    def read(self, r: Reader, field: str) -> LockDate:
        start = r.offset
        raw = r.take(self.size, field)
        try:
            return LockDate.from_bytes(raw)
        except MessageError as exc:
            r.fail(field, f"bytes {raw.hex()} are not a decimal date ({exc})", offset=start)

    def write(self, value: LockDate) -> bytes:
        return value.to_bytes(seconds=self.seconds)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, LockDate):
            return f"must be a LockDate, got {type(value).__name__}"
        if not self.seconds and value.second:
            return f"has seconds ({value}); the 5-byte form stops at minutes"
        return None


class LooseDate(Codec[LockDate | WireDate]):
    """A 5-byte date read as a :class:`LockDate` when it is one, else kept as :class:`WireDate`.

    For the one request whose dates locks are known to accept in any encoding
    (CHECK_USER_TIME, docs/protocol.md §9.2); everything a lock writes stays strict (:data:`DATE5`).
    """

    spec = "yy MM dd HH mm (any byte values)"

    def read(self, r: Reader, field: str) -> LockDate | WireDate:
        raw = r.take(5, field)
        try:
            return LockDate.from_bytes(raw)
        except MessageError:
            return WireDate(raw)

    def write(self, value: LockDate | WireDate) -> bytes:
        if isinstance(value, WireDate):
            return value.raw
        return value.to_bytes(seconds=False)

    def problem(self, value: object) -> str | None:
        if isinstance(value, WireDate):
            return None
        if not isinstance(value, LockDate):
            return f"must be a LockDate or a WireDate, got {type(value).__name__}"
        if value.second:
            return f"has seconds ({value}); the 5-byte form stops at minutes"
        return None


def _text_problem(value: object, encoding: str, max_size: int | None) -> str | None:
    if not isinstance(value, str):
        return f"must be a str, got {type(value).__name__}"
    try:
        size = len(value.encode(encoding))
    except UnicodeEncodeError:
        return f"must be {encoding.upper()} text, got {value!r}"
    if max_size is not None and size > max_size:
        return f"must be at most {max_size} bytes, got {size}"
    return None


class Text(Codec[str]):
    """A string, either 1-byte-length-prefixed or running to the end of the data."""

    def __init__(self, *, encoding: str = "ascii", prefixed: bool) -> None:
        self.encoding = encoding
        self.prefixed = prefixed
        kind = encoding.upper()
        self.spec = f"len u8 + {kind}" if prefixed else f"{kind} to the end"

    def read(self, r: Reader, field: str) -> str:
        start = r.offset
        raw = r.take(r.take(1, field + " length")[0], field) if self.prefixed else r.rest()
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            r.fail(field, f"bytes {raw.hex()} are not {self.encoding.upper()}", offset=start)

    def write(self, value: str) -> bytes:
        raw = value.encode(self.encoding)
        return bytes([len(raw)]) + raw if self.prefixed else raw

    def problem(self, value: object) -> str | None:
        return _text_problem(value, self.encoding, 255 if self.prefixed else None)


class Digits(Codec[str]):
    """Decimal digits, one byte per digit *value* (``"1234"`` → ``01 02 03 04``), to the end."""

    spec = "digit values 0..9, one byte each"

    def read(self, r: Reader, field: str) -> str:
        start = r.offset
        raw = r.rest()
        if not raw or any(b > 9 for b in raw):
            r.fail(field, f"bytes {raw.hex()} are not one or more digit values", offset=start)
        return "".join(str(b) for b in raw)

    def write(self, value: str) -> bytes:
        return bytes(int(c) for c in value)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str) or not value or not all(c in "0123456789" for c in value):
            return f"must be a non-empty string of decimal digits, got {value!r}"
        return None


class Raw(Codec[bytes]):
    """Bytes: exactly ``size`` of them, or everything left when ``size`` is None."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size
        self.spec = f"{size} B" if size is not None else "bytes to the end"

    def read(self, r: Reader, field: str) -> bytes:
        return r.take(self.size, field) if self.size is not None else r.rest()

    def write(self, value: bytes) -> bytes:
        return bytes(value)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, bytes):
            return f"must be bytes, got {type(value).__name__}"
        if self.size is not None and len(value) != self.size:
            return f"must be exactly {self.size} bytes, got {len(value)}"
        return None


class Trailing(Codec[T | None], Generic[T]):
    """An optional field at the end: present exactly when bytes remain.

    Several may follow each other; once one is ``None`` the later ones must be too.
    """

    def __init__(self, inner: Codec[T]) -> None:
        self.inner = inner
        self.spec = f"optional {inner.spec}"

    def read(self, r: Reader, field: str) -> T | None:
        return self.inner.read(r, field) if r.remaining else None

    def write(self, value: T | None) -> bytes:
        return b"" if value is None else self.inner.write(value)

    def problem(self, value: object) -> str | None:
        return None if value is None else self.inner.problem(value)


class ListOf(Codec[tuple[Any, ...]]):
    """Entries of one :class:`WireStruct` type repeated to the end of the data.

    With ``until``, the list also stops before a byte of that value (an end marker).
    """

    def __init__(self, item: type[WireStruct], *, until: int | None = None) -> None:
        self.item = item
        self.until = until
        self.spec = f"{item.__name__}…"

    def read(self, r: Reader, field: str) -> tuple[Any, ...]:
        items = []
        while r.remaining and (self.until is None or r.peek() != self.until):
            items.append(self.item.read_from(r))
        return tuple(items)

    def write(self, value: tuple[Any, ...]) -> bytes:
        return b"".join(item.encode() for item in value)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, tuple) or not all(isinstance(v, self.item) for v in value):
            return f"must be a tuple of {self.item.__name__}"
        return None


class Conditional(Codec[Any]):
    """A field whose presence another field decides (its struct reads and writes it).

    Unlike :class:`Trailing`, it may follow an absent field: a type byte, not the
    end of the data, says which of several optional fields are there.
    """

    def __init__(self, inner: Codec[Any], when: str) -> None:
        self.inner = inner
        self.spec = f"{inner.spec} {when}"

    def read(self, r: Reader, field: str) -> Any:
        return self.inner.read(r, field)

    def write(self, value: Any) -> bytes:
        return b"" if value is None else self.inner.write(value)

    def problem(self, value: object) -> str | None:
        return None if value is None else self.inner.problem(value)


class CountedListOf(Codec[tuple[Any, ...]]):
    """A count byte, then that many entries of one :class:`WireStruct` type."""

    def __init__(self, item: type[WireStruct]) -> None:
        self.item = item
        self.spec = f"count u8 + {item.__name__}…"

    def read(self, r: Reader, field: str) -> tuple[Any, ...]:
        count = r.take(1, field + " count")[0]
        return tuple(self.item.read_from(r) for _ in range(count))

    def write(self, value: tuple[Any, ...]) -> bytes:
        return bytes([len(value)]) + b"".join(item.encode() for item in value)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, tuple) or not all(isinstance(v, self.item) for v in value):
            return f"must be a tuple of {self.item.__name__}"
        return None if len(value) <= 255 else f"holds at most 255 entries, got {len(value)}"


class Blob(Codec[bytes]):
    """Bytes behind a one-byte length (an id or a key whose size the sender chooses)."""

    spec = "len u8 + bytes"

    def read(self, r: Reader, field: str) -> bytes:
        return r.take(r.take(1, field + " length")[0], field)

    def write(self, value: bytes) -> bytes:
        return bytes([len(value)]) + value

    def problem(self, value: object) -> str | None:
        if not isinstance(value, bytes):
            return f"must be bytes, got {type(value).__name__}"
        return None if len(value) <= 255 else f"must be at most 255 bytes, got {len(value)}"


class EndMarker(Codec[bool]):
    """An optional one-byte end marker: True when present."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.spec = f"optional end marker {value:02x}"

    def read(self, r: Reader, field: str) -> bool:
        if r.remaining and r.peek() == self.value:
            r.take(1, field)
            return True
        return False

    def write(self, value: bool) -> bytes:
        return bytes([self.value]) if value else b""

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, bool) else f"must be a bool, got {type(value).__name__}"


class ByteList(Codec[tuple[int, ...]]):
    """A count byte followed by that many one-byte values (e.g. elevator floors)."""

    spec = "count u8 + u8 each"

    def read(self, r: Reader, field: str) -> tuple[int, ...]:
        return tuple(r.take(r.take(1, field + " count")[0], field))

    def write(self, value: tuple[int, ...]) -> bytes:
        return bytes([len(value), *value])

    def problem(self, value: object) -> str | None:
        if not isinstance(value, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value
        ):
            return "must be a tuple of ints 0..255"
        return None if len(value) <= 255 else f"holds at most 255 values, got {len(value)}"


class Nested(Codec[Any]):
    """One :class:`WireStruct` embedded in place."""

    def __init__(self, item: type[WireStruct]) -> None:
        self.item = item
        self.spec = item.__name__

    def read(self, r: Reader, field: str) -> Any:
        return self.item.read_from(r)

    def write(self, value: Any) -> bytes:
        return bytes(value.encode())

    def problem(self, value: object) -> str | None:
        ok = isinstance(value, self.item)
        return None if ok else f"must be a {self.item.__name__}, got {type(value).__name__}"


class Ipv4(Codec[str]):
    """An IPv4 address as 4 octets, shown dotted (``"192.168.1.10"``)."""

    spec = "IPv4 4 B"

    def read(self, r: Reader, field: str) -> str:
        return ".".join(str(b) for b in r.take(4, field))

    def write(self, value: str) -> bytes:
        return bytes(int(part) for part in value.split("."))

    def problem(self, value: object) -> str | None:
        if isinstance(value, str):
            parts = value.split(".")
            if len(parts) == 4 and all(
                p.isascii() and p.isdigit() and str(int(p)) == p and int(p) <= 255 for p in parts
            ):
                return None
        return f"must be a dotted IPv4 address like '192.168.1.10', got {value!r}"


class Md5Hex(Codec[str]):
    """MD5 of a user password as 32 lowercase hex ASCII characters (§7, §10.1.7)."""

    spec = "32 lowercase hex ASCII"

    def read(self, r: Reader, field: str) -> str:
        start = r.offset
        raw = r.take(32, field)
        text = raw.decode("ascii", errors="replace")
        if self.problem(text) is not None:
            r.fail(field, f"bytes {raw.hex()} are not 32 lowercase hex digits", offset=start)
        return text

    def write(self, value: str) -> bytes:
        return value.encode("ascii")

    def problem(self, value: object) -> str | None:
        if (
            isinstance(value, str)
            and len(value) == 32
            and all(c in "0123456789abcdef" for c in value)
        ):
            return None
        return "must be 32 lowercase hex digits (hashlib.md5(password).hexdigest())"


class Mac(Codec[str]):
    """A 6-byte MAC shown ``AA:BB:CC:DD:EE:FF``; ``reversed`` for the byte-reversed form."""

    def __init__(self, *, reversed_: bool = False) -> None:
        self.reversed = reversed_
        self.spec = "MAC 6 B, reversed" if reversed_ else "MAC 6 B"

    def read(self, r: Reader, field: str) -> str:
        raw = r.take(6, field)
        ordered = raw[::-1] if self.reversed else raw
        return ":".join(f"{b:02X}" for b in ordered)

    def write(self, value: str) -> bytes:
        raw = bytes(int(part, 16) for part in value.split(":"))
        return raw[::-1] if self.reversed else raw

    def problem(self, value: object) -> str | None:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) == 6 and all(
                len(p) == 2 and all(c in "0123456789ABCDEF" for c in p) for p in parts
            ):
                return None
        return f"must be an upper-case MAC like 'AA:BB:CC:DD:EE:FF', got {value!r}"


U8: Final = UInt(1)
U16: Final = UInt(2)
U32: Final = UInt(4)
U48: Final = UInt(6, "u48 BE")
U64: Final = UInt(8)
FLAG_POS: Final = UInt(3, "lockFlagPos low 3 B BE")
"""lockFlagPos: low three bytes of the e-key reset counter (docs/protocol.md §4.2, 0x41/0x55)."""
DATE5: Final = Date(seconds=False)
DATE6: Final = Date(seconds=True)
ASCII_LEN: Final = Text(prefixed=True)
ASCII_REST: Final = Text(prefixed=False)
UTF8_LEN: Final = Text(encoding="utf-8", prefixed=True)
UTF8_REST: Final = Text(encoding="utf-8", prefixed=False)
DIGITS: Final = Digits()
BOOL: Final = Bool8()
I8: Final = Int8()
REST: Final = Raw()
BYTES_LEN: Final = Blob()
DATE5_LOOSE: Final = LooseDate()


# --- layout items -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class F:
    """A named wire field. ``secret`` fields are redacted in repr and to_dict."""

    name: str
    codec: Codec[Any]
    secret: bool = False

    def describe(self) -> str:
        return f"[{self.name} {self.codec.spec}]"


@dataclass(frozen=True, slots=True)
class Const:
    """Bytes that must appear as they are (an operation code, a magic string)."""

    name: str
    value: bytes

    def describe(self) -> str:
        try:
            shown = repr(self.value.decode("ascii")) if len(self.value) > 2 else self.value.hex()
        except UnicodeDecodeError:
            shown = self.value.hex()
        return f"[{self.name}={shown}]"


def op(value: int, name: str = "op") -> Const:
    """The one-byte operation code that selects a variant of a command."""
    return Const(name, bytes([value]))


Item = F | Const


def _plain(value: object, redact: bool) -> object:
    """JSON-friendly form of a field value for :meth:`WireStruct.to_dict`."""
    if isinstance(value, WireStruct):
        return value.to_dict(redact=redact)
    if isinstance(value, LockDate):
        return str(value)
    if isinstance(value, WireDate):
        return value.raw.hex()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_plain(v, redact) for v in value]
    if isinstance(value, IntEnum):
        return int(value)
    return value


class WireStruct:
    """Base of every message and list entry: encode/decode from ``LAYOUT``.

    Subclasses are ``@dataclass(frozen=True, slots=True, repr=False)`` whose
    fields are the :class:`F` names of ``LAYOUT`` (a test checks they agree).
    ``COMMAND`` (when set) names the opcode in error messages.
    ``LENGTH_PREFIXED`` structures carry a leading length byte that bounds them
    (log records, passcode-list items).
    Classes whose layout depends on their own content override ``_read_body``
    and ``_write_body``; everything else (validation, errors, repr) is shared.
    """

    __slots__ = ()

    LAYOUT: ClassVar[tuple[Item, ...]] = ()
    COMMAND: ClassVar[int | None] = None
    LENGTH_PREFIXED: ClassVar[bool] = False

    # construction -------------------------------------------------------

    def __post_init__(self) -> None:
        for item in self.LAYOUT:
            if isinstance(item, F):
                problem = item.codec.problem(getattr(self, item.name))
                if problem is not None:
                    if item.secret:
                        # A rejected passcode or password is still someone's secret:
                        # say what is wrong with it, never what it was.
                        problem = problem.split(", got ", 1)[0] + " (value not shown: secret)"
                    self._invalid(item.name, problem)
        trailing_gap = False
        for item in self.LAYOUT:
            if isinstance(item, F) and isinstance(item.codec, Trailing):
                present = getattr(self, item.name) is not None
                if present and trailing_gap:
                    self._invalid(item.name, "cannot be set when an earlier optional field is None")
                trailing_gap = trailing_gap or not present
        self._validate()
        if self.LENGTH_PREFIXED and len(self._write_body()) > 255:
            self._invalid(
                "length", "the encoded record exceeds the 255 bytes its length byte allows"
            )

    def _validate(self) -> None:
        """Cross-field rules; subclasses raise through :meth:`_invalid`."""

    def _invalid(self, field: str, problem: str) -> NoReturn:
        raise MessageError(f"{type(self).__name__}.{field} {problem}", command=self.COMMAND)

    # wire ---------------------------------------------------------------

    @classmethod
    def layout_text(cls) -> str:
        """The layout as text, e.g. ``[op=01][seq u16 BE]``."""
        body = "".join(item.describe() for item in cls.LAYOUT) or "(empty)"
        return f"[length u8]{body}" if cls.LENGTH_PREFIXED else body

    @classmethod
    def _describe(cls) -> str:
        return f"{cls.__name__} {cls.layout_text()}"

    def encode(self) -> bytes:
        """The plaintext bytes of this message (or list entry)."""
        body = self._write_body()
        return bytes([len(body)]) + body if self.LENGTH_PREFIXED else body

    def _write_body(self) -> bytes:
        return self._write_items(self.LAYOUT)

    def _write_items(self, items: tuple[Item, ...]) -> bytes:
        parts = []
        for item in items:
            if isinstance(item, Const):
                parts.append(item.value)
            else:
                parts.append(item.codec.write(getattr(self, item.name)))
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse ``data`` completely; :class:`MessageError` names the field that does not fit."""
        r = Reader(data, command=cls.COMMAND, layout=cls._describe())
        value = cls.read_from(r)
        r.expect_end()
        return value

    @classmethod
    def read_from(cls, r: Reader) -> Self:
        """Parse this structure at the reader's position (for entries inside lists)."""
        if not cls.LENGTH_PREFIXED:
            return cls._read_body(r)
        size = r.take(1, f"{cls.__name__} length")[0]
        inner = r.sub(size, f"{cls.__name__} length", cls._describe())
        value = cls._read_body(inner)
        inner.expect_end()
        return value

    @classmethod
    def _read_body(cls, r: Reader) -> Self:
        return cls._build(r, cls._read_items(r, cls.LAYOUT))

    @classmethod
    def _read_items(cls, r: Reader, items: tuple[Item, ...]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for item in items:
            if isinstance(item, Const):
                start = r.offset
                got = r.take(len(item.value), item.name)
                if got != item.value:
                    raise LayoutMismatch(
                        f"{item.name} at offset {start}: expected {item.value.hex()}, got "
                        f"{got.hex()}; expected layout {cls._describe()}",
                        command=r.command,
                    )
            else:
                values[item.name] = item.codec.read(r, item.name)
        return values

    @classmethod
    def _build(cls, r: Reader, values: dict[str, Any]) -> Self:
        """Construct from decoded values, re-raising rule violations with the layout."""
        try:
            return cls(**values)
        except MessageError as exc:
            raise MessageError(
                f"{exc}; expected layout {cls._describe()}", command=r.command
            ) from exc

    # presentation -------------------------------------------------------

    def _items(self, redact: bool) -> Iterator[tuple[str, object, bool]]:
        for item in self.LAYOUT:
            if isinstance(item, F):
                value = getattr(self, item.name)
                hidden = redact and item.secret and value is not None
                yield item.name, (REDACTED if hidden else value), hidden

    def to_dict(self, *, redact: bool = True) -> dict[str, object]:
        """Fields as JSON-friendly values (dates as text, bytes as hex); secrets redacted."""
        return {name: _plain(value, redact) for name, value, _ in self._items(redact)}

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name}={value if hidden else repr(value)}"
            for name, value, hidden in self._items(True)
        )
        return f"{type(self).__name__}({inner})"


def _with_command(error: MessageError, command: int) -> MessageError:
    if error.command is not None:
        return error
    return MessageError(str(error), command=command)


def decode_variants(command: int, variants: tuple[type[WireStruct], ...], data: bytes) -> Any:
    """Decode ``data`` with the first variant whose layout fits.

    When none fits, the error of the first variant whose constant bytes matched
    explains best; when no constants matched, the error lists every layout.
    """
    mismatches: list[MessageError] = []
    failures: list[MessageError] = []
    for cls in variants:
        try:
            return cls.decode(data)
        except LayoutMismatch as exc:
            mismatches.append(exc)
        except MessageError as exc:
            failures.append(exc)
    if failures:
        raise _with_command(failures[0], command)
    if len(mismatches) == 1:
        raise _with_command(mismatches[0], command)
    layouts = " | ".join(cls._describe() for cls in variants)
    raise MessageError(f"{data.hex() or '(empty)'} fits none of: {layouts}", command=command)


def layout_fields(cls: type[WireStruct]) -> list[str]:
    """The field names ``LAYOUT`` declares (tests compare them with the dataclass fields)."""
    return [item.name for item in cls.LAYOUT if isinstance(item, F)]
