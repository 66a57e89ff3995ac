"""Frame codec: the three TTLock frame layouts, each declared once with construct.

* V3 lock frame, protocol type >= 5 (docs/protocol.md §2.1)::

      7F 5A | type | sub_ver | scene | org u16 | sub_org u16 | cmd | encrypt | n | data | crc

* legacy lock frame, protocol type < 5 (§2.2)::

      7F 5A | type | cmd | seed | n | xor_data[n] | crc

* gateway frame (§2.3)::

      72 5B | cmd | n | data[n] | crc

The CRC (:mod:`ttlock_hil.protocol.crc`) covers every byte before it. Lock frames travel
with a trailing ``0D 0A`` that is not part of the frame: :func:`parse_frame`
accepts it, the builders never add it (the transport does, see ``LOCK_TRAILER``).
Construct stays inside this module: callers see frozen dataclasses.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import construct as cs

from .crc import TABLE, crc8
from .crypto import aes_decrypt, aes_encrypt, xor_with_seed
from .errors import BadMagic, CrcMismatch, LengthMismatch, ProtocolError, Truncated

LOCK_MAGIC: Final = b"\x7f\x5a"
GATEWAY_MAGIC: Final = b"\x72\x5b"
LOCK_TRAILER: Final = b"\r\n"
APP_COMMAND: Final = 0xAA
"""Encrypt byte the app puts on every V3 request (vendor ``APP_COMMAND = -86``)."""

V3_HEADER_SIZE: Final = 12
LEGACY_HEADER_SIZE: Final = 6
GATEWAY_HEADER_SIZE: Final = 4
MAX_PAYLOAD: Final = 255


_DECIMAL: Final = re.compile(r"[0-9]{1,5}")


class FrameKind(StrEnum):
    LOCK = "lock"
    LOCK_LEGACY = "lock-legacy"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class LockHeader:
    """The addressing fields of a V3 lock frame (vendor ``LockVersion``)."""

    protocol_type: int = 5
    sub_version: int = 3
    scene: int = 1
    organization: int = 1
    sub_organization: int = 1

    def __post_init__(self) -> None:
        for name in ("protocol_type", "sub_version", "scene"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ProtocolError(f"header {name} must be a byte, got {value}")
        for name in ("organization", "sub_organization"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFFFF:
                raise ProtocolError(f"header {name} must fit 16 bits, got {value}")

    @classmethod
    def parse(cls, text: str) -> LockHeader:
        """``"5.3.1.1.1"`` → header. Missing trailing parts take the V3 defaults."""
        parts = text.strip().split(".")
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if not 1 <= len(parts) <= 5 or not all(_DECIMAL.fullmatch(p.strip()) for p in parts):
            raise ProtocolError(
                f"header {text!r} is not protocol_type.sub_version.scene.organization."
                "sub_organization (e.g. 5.3.1.1.1)"
            )
        defaults = [5, 3, 1, 1, 1]
        values = [int(p) for p in parts] + defaults[len(parts) :]
        return cls(*values)

    @property
    def is_legacy(self) -> bool:
        """Protocol types below 5 use the short legacy header (§2.1 parse rule)."""
        return self.protocol_type < 5

    def __str__(self) -> str:
        return (
            f"{self.protocol_type}.{self.sub_version}.{self.scene}."
            f"{self.organization}.{self.sub_organization}"
        )


V3_HEADER: Final = LockHeader(5, 3, 1, 1, 1)
"""What the vendor (and KIND3R) put on V3 requests, GET_AES_KEY included (§2.1)."""


@dataclass(frozen=True, slots=True)
class LockFrame:
    """A V3 ("new agreement") lock frame. ``payload`` is still encrypted."""

    header: LockHeader
    command: int
    encrypt: int
    payload: bytes
    crc: int
    kind: FrameKind = field(default=FrameKind.LOCK, init=False)

    @property
    def length(self) -> int:
        return len(self.payload)

    def to_bytes(self) -> bytes:
        """The frame exactly as it was (stored CRC, even a wrong one)."""
        return _frame_bytes(self)

    def decrypt(self, key: bytes) -> bytes:
        """AES-decrypt the payload with ``key`` (empty payload → empty plaintext)."""
        return aes_decrypt(key, self.payload)


@dataclass(frozen=True, slots=True)
class LegacyLockFrame:
    """A legacy (protocol type < 5) lock frame; ``payload`` is XOR-coded with ``seed``."""

    protocol_type: int
    command: int
    seed: int
    payload: bytes
    crc: int
    kind: FrameKind = field(default=FrameKind.LOCK_LEGACY, init=False)

    @property
    def encrypt(self) -> int:
        return self.seed

    @property
    def length(self) -> int:
        return len(self.payload)

    def to_bytes(self) -> bytes:
        return _frame_bytes(self)

    def decode(self) -> bytes:
        """The plaintext (XOR codec, §3.3)."""
        return xor_with_seed(self.payload, self.seed)


@dataclass(frozen=True, slots=True)
class GatewayFrame:
    """A gateway frame (no CRLF on the wire); ``payload`` is still encrypted."""

    command: int
    payload: bytes
    crc: int
    kind: FrameKind = field(default=FrameKind.GATEWAY, init=False)

    @property
    def length(self) -> int:
        return len(self.payload)

    def to_bytes(self) -> bytes:
        return _frame_bytes(self)

    def decrypt(self, key: bytes) -> bytes:
        return aes_decrypt(key, self.payload)


Frame = LockFrame | LegacyLockFrame | GatewayFrame


# --- declarations ---------------------------------------------------------
# Each layout: a RawCopy'd body, then the CRC computed over the body's bytes.
# ``Rebuild`` fills length and CRC on build; on parse they are read as they are,
# and the CRC is compared afterwards so that a bad frame is still returned to
# the caller inside the CrcMismatch error.

_V3_BODY = cs.Struct(
    "magic" / cs.Const(LOCK_MAGIC),
    "protocol_type" / cs.Int8ub,
    "sub_version" / cs.Int8ub,
    "scene" / cs.Int8ub,
    "organization" / cs.Int16ub,
    "sub_organization" / cs.Int16ub,
    "command" / cs.Int8ub,
    "encrypt" / cs.Int8ub,
    "length" / cs.Rebuild(cs.Int8ub, cs.len_(cs.this.payload)),
    "payload" / cs.Bytes(cs.this.length),
)

_LEGACY_BODY = cs.Struct(
    "magic" / cs.Const(LOCK_MAGIC),
    "protocol_type" / cs.Int8ub,
    "command" / cs.Int8ub,
    "seed" / cs.Int8ub,
    "length" / cs.Rebuild(cs.Int8ub, cs.len_(cs.this.payload)),
    "payload" / cs.Bytes(cs.this.length),
)

_GATEWAY_BODY = cs.Struct(
    "magic" / cs.Const(GATEWAY_MAGIC),
    "command" / cs.Int8ub,
    "length" / cs.Rebuild(cs.Int8ub, cs.len_(cs.this.payload)),
    "payload" / cs.Bytes(cs.this.length),
)


def _with_crc(body: cs.Construct) -> cs.Construct:
    return cs.Struct(
        "body" / cs.RawCopy(body),
        "crc" / cs.Rebuild(cs.Int8ub, lambda ctx: crc8(ctx.body.data)),
    )


_V3 = _with_crc(_V3_BODY)
_LEGACY = _with_crc(_LEGACY_BODY)
_GATEWAY = _with_crc(_GATEWAY_BODY)


# --- the fast path, generated from the declarations --------------------------
# construct parses or builds a frame in ~30 µs; its compiler turns the bodies into
# ~5 µs code but cannot compile RawCopy or a Rebuild around a lambda (construct 2.10),
# and even 5 µs is more than the whole struct + AES floor of a frame. So each body's
# fixed fields are read off the declaration into one ``struct`` format; the payload
# is what the length field says; the CRC covers everything before it. Any construct
# the generator does not know fails the import, so the declaration cannot drift from
# the fast path unnoticed, and tests/unit/protocol/test_frame_fastpath.py checks both
# directions, error cases included, against construct itself.


@dataclass(frozen=True, slots=True)
class _FastLayout:
    """One layout's fast path: ``struct`` header (magic … length), then payload, then CRC."""

    kind: FrameKind
    declaration: cs.Construct
    header: struct.Struct
    magic: bytes
    fields: tuple[str, ...]
    """The header fields between the magic and the length, in declaration order."""

    @property
    def header_size(self) -> int:
        return self.header.size

    def pack(self, values: tuple[int, ...], payload: bytes, crc: int | None = None) -> bytes:
        """Header, payload and CRC; ``crc`` None computes it (else it is kept as given)."""
        body = self.header.pack(self.magic, *values, len(payload)) + payload
        return body + bytes((crc8(body) if crc is None else crc,))


def _generate(kind: FrameKind, declaration: cs.Construct) -> _FastLayout:
    body = declaration.subcons[0].subcon.subcon  # Struct("body" / RawCopy(<body>), "crc" / …)
    fmt = [">"]
    fields: list[str] = []
    magic: bytes | None = None
    seen: list[str] = []
    for renamed in body.subcons:
        name, sub = renamed.name, renamed.subcon
        seen.append(name)
        if isinstance(sub, cs.Const) and isinstance(sub.value, bytes) and not fields:
            magic = sub.value
            fmt.append(f"{len(sub.value)}s")
        elif isinstance(sub, cs.FormatField) and name not in ("length", "payload"):
            fmt.append(sub.fmtstr.lstrip("<>=!"))
            fields.append(name)
        elif name == "length" and isinstance(sub, cs.Rebuild):
            fmt.append(sub.subcon.fmtstr.lstrip("<>="))
        elif name == "payload" and isinstance(sub, cs.Bytes):
            if repr(sub.length) != "this['length']":  # pragma: no cover
                raise TypeError(f"{kind}: the payload must be as long as the length field says")
        else:  # pragma: no cover - only a changed declaration gets here
            raise TypeError(f"the frame fast path cannot follow {kind} field {name!r}: {sub!r}")
    if magic is None or seen[-2:] != ["length", "payload"] or fmt[-1] != "B":
        raise TypeError(f"{kind}: expected magic first and a one-byte length before the payload")
    crc = declaration.subcons[1]
    if crc.name != "crc" or crc.subcon.subcon.fmtstr.lstrip("<>=") != "B":  # pragma: no cover
        raise TypeError(f"{kind}: expected a one-byte CRC after the body")
    return _FastLayout(kind, declaration, struct.Struct("".join(fmt)), magic, tuple(fields))


_FAST_V3: Final = _generate(FrameKind.LOCK, _V3)
_FAST_LEGACY: Final = _generate(FrameKind.LOCK_LEGACY, _LEGACY)
_FAST_GATEWAY: Final = _generate(FrameKind.GATEWAY, _GATEWAY)
_V3_UNPACK: Final = _FAST_V3.header.unpack_from

# The frame classes take these fields positionally (see _frame_from_values).
assert _FAST_V3.fields == (
    "protocol_type",
    "sub_version",
    "scene",
    "organization",
    "sub_organization",
    "command",
    "encrypt",
)
assert _FAST_LEGACY.fields == ("protocol_type", "command", "seed")
assert _FAST_GATEWAY.fields == ("command",)
assert _FAST_V3.header_size == V3_HEADER_SIZE
assert _FAST_LEGACY.header_size == LEGACY_HEADER_SIZE
assert _FAST_GATEWAY.header_size == GATEWAY_HEADER_SIZE

_HEADERS: dict[tuple[int, ...], LockHeader] = {}
_HEADER_CACHE_SIZE: Final = 256


def _lock_header(values: tuple[int, ...]) -> LockHeader:
    """The LockHeader of five parsed fields; the few headers a run sees are made once."""
    header = _HEADERS.get(values)
    if header is None:
        header = LockHeader(*values)
        if len(_HEADERS) >= _HEADER_CACHE_SIZE:
            _HEADERS.clear()
        _HEADERS[values] = header
    return header


def _frame_from_values(kind: FrameKind, values: tuple[int, ...], payload: bytes, crc: int) -> Frame:
    """A frame from its header fields in declaration order (``_FastLayout.fields``)."""
    if kind is FrameKind.LOCK:
        return LockFrame(_lock_header(values[:5]), values[5], values[6], payload, crc)
    if kind is FrameKind.LOCK_LEGACY:
        return LegacyLockFrame(values[0], values[1], values[2], payload, crc)
    return GatewayFrame(values[0], payload, crc)


# Frozen dataclasses assign each field through object.__setattr__; the parser fills
# the slots directly (the values come from a struct, so there is nothing to check).
# test_frame_fastpath compares these frames with ones made by the constructors.
_new: Final = object.__new__


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = vars(cls)[name].__set__
    return setter


_set_header: Final = _slot_setter(LockFrame, "header")
_set_command: Final = _slot_setter(LockFrame, "command")
_set_encrypt: Final = _slot_setter(LockFrame, "encrypt")
_set_payload: Final = _slot_setter(LockFrame, "payload")
_set_crc: Final = _slot_setter(LockFrame, "crc")
_set_kind: Final = _slot_setter(LockFrame, "kind")


def _parsed_lock_frame(values: tuple[int, ...], payload: bytes, crc: int) -> LockFrame:
    """``values`` as unpacked: magic, the five header fields, command, encrypt, length."""
    frame: LockFrame = _new(LockFrame)
    _set_header(frame, _lock_header(values[1:6]))
    _set_command(frame, values[6])
    _set_encrypt(frame, values[7])
    _set_payload(frame, payload)
    _set_crc(frame, crc)
    _set_kind(frame, FrameKind.LOCK)
    return frame


def _v3_values(frame: LockFrame) -> tuple[int, ...]:
    h = frame.header
    return (
        h.protocol_type,
        h.sub_version,
        h.scene,
        h.organization,
        h.sub_organization,
        frame.command,
        frame.encrypt,
    )


def _layout_and_values(frame: Frame) -> tuple[_FastLayout, tuple[int, ...]]:
    if isinstance(frame, LockFrame):
        return _FAST_V3, _v3_values(frame)
    if isinstance(frame, LegacyLockFrame):
        return _FAST_LEGACY, (frame.protocol_type, frame.command, frame.seed)
    return _FAST_GATEWAY, (frame.command,)


def _frame_bytes(frame: Frame) -> bytes:
    layout, values = _layout_and_values(frame)
    return layout.pack(values, frame.payload, frame.crc)


# --- building ---------------------------------------------------------------


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ProtocolError(f"{name} must be a byte (0..255), got {value}")


def _check_payload(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(
            f"payload of {len(payload)} bytes does not fit the one-byte length field (max 255)"
        )


def build_lock_frame(
    command: int, payload: bytes, *, header: LockHeader = V3_HEADER, encrypt: int = APP_COMMAND
) -> bytes:
    """A V3 lock frame (without the ``0D 0A`` trailer) around an already-encrypted payload."""
    if header.is_legacy:
        raise ProtocolError(
            f"header {header} has protocol type < 5: use build_legacy_frame for legacy locks"
        )
    if not 0 <= command <= 0xFF:
        _check_byte("command", command)
    if not 0 <= encrypt <= 0xFF:
        _check_byte("encrypt", encrypt)
    if len(payload) > MAX_PAYLOAD:
        _check_payload(payload)
    h = header
    values = (
        h.protocol_type,
        h.sub_version,
        h.scene,
        h.organization,
        h.sub_organization,
        command,
        encrypt,
    )
    return _FAST_V3.pack(values, bytes(payload))


def build_legacy_frame(
    command: int, plaintext: bytes, *, seed: int, protocol_type: int = 3
) -> bytes:
    """A legacy lock frame; ``plaintext`` is XOR-coded with ``seed`` (1..127 on the vendor)."""
    if protocol_type >= 5:
        raise ProtocolError(f"protocol type {protocol_type} is not legacy (must be < 5)")
    _check_byte("command", command)
    _check_byte("seed", seed)
    _check_payload(plaintext)
    return _FAST_LEGACY.pack((protocol_type, command, seed), xor_with_seed(plaintext, seed))


def build_gateway_frame(command: int, payload: bytes) -> bytes:
    """A gateway frame around an already-encrypted payload."""
    _check_byte("command", command)
    _check_payload(payload)
    return _FAST_GATEWAY.pack((command,), bytes(payload))


def encode_lock_command(
    command: int,
    plaintext: bytes,
    key: bytes | None,
    *,
    header: LockHeader = V3_HEADER,
    encrypt: int = APP_COMMAND,
) -> bytes:
    """Encrypt ``plaintext`` with ``key`` (if given and non-empty) and frame it.

    An empty plaintext is never encrypted: length 0, no ciphertext (§2.1).
    """
    payload = aes_encrypt(key, plaintext) if key is not None and plaintext else plaintext
    return build_lock_frame(command, payload, header=header, encrypt=encrypt)


def encode_gateway_command(command: int, plaintext: bytes, key: bytes) -> bytes:
    """Encrypt ``plaintext`` with the gateway key and frame it (no CRLF)."""
    return build_gateway_frame(command, aes_encrypt(key, plaintext))


def build_frame_by_declaration(frame: Frame) -> bytes:
    """``frame`` built by its construct declaration, CRC computed (the slow reference).

    The builders above use the fast path generated from the same declarations; this
    is what tests and fuzzers check them against.
    """
    layout, values = _layout_and_values(frame)
    fields = dict(zip(layout.fields, values, strict=True))
    body = {**fields, "payload": frame.payload}
    return bytes(layout.declaration.build({"body": {"value": body}}))


# --- parsing ----------------------------------------------------------------


def frame_size(buffer: bytes | bytearray, start: int = 0) -> int | None:
    """Total size of the frame starting at ``start`` once enough is buffered.

    Returns ``None`` while the header is incomplete. The caller must have
    checked the magic. Sizes exclude a lock frame's ``0D 0A`` trailer.
    """
    available = len(buffer) - start
    if buffer[start : start + 2] == GATEWAY_MAGIC:
        if available < GATEWAY_HEADER_SIZE:
            return None
        return GATEWAY_HEADER_SIZE + buffer[start + 3] + 1
    if available < 3:
        return None
    if buffer[start + 2] >= 5:
        if available < V3_HEADER_SIZE:
            return None
        return V3_HEADER_SIZE + buffer[start + 11] + 1
    if available < LEGACY_HEADER_SIZE:
        return None
    return LEGACY_HEADER_SIZE + buffer[start + 5] + 1


def _layout_of(data: bytes) -> _FastLayout:
    """Which layout a frame has, from its magic and protocol type (§2.1 parse rule)."""
    if len(data) < 2:
        raise Truncated(f"{len(data)} byte(s) cannot hold a frame magic", field="magic", offset=0)
    magic = data[:2]
    if magic == GATEWAY_MAGIC:
        return _FAST_GATEWAY
    if magic != LOCK_MAGIC:
        raise BadMagic(
            f"frame starts {magic.hex()}, expected 7f5a (lock) or 725b (gateway)",
            field="magic",
            offset=0,
        )
    if len(data) < 3:
        raise Truncated("lock frame ends before its protocol type", field="protocol_type", offset=2)
    return _FAST_V3 if data[2] >= 5 else _FAST_LEGACY


# The errors, worded once for both readers (fast path and declaration).


def _short_header(layout: _FastLayout, raw: bytes) -> Truncated:
    return Truncated(
        f"{layout.kind} frame has {len(raw)} bytes, its header alone needs {layout.header_size}",
        field="header",
        offset=len(raw),
    )


def _short_crc(layout: _FastLayout, raw: bytes) -> Truncated:
    return Truncated(
        f"{layout.kind} frame ends before its CRC byte (length field says "
        f"{raw[layout.header_size - 1]} payload bytes)",
        field="crc",
        offset=len(raw),
    )


def _short_payload(layout: _FastLayout, raw: bytes) -> Truncated:
    return Truncated(
        f"{layout.kind} frame length field says {raw[layout.header_size - 1]} payload bytes, "
        f"only {len(raw) - layout.header_size} present",
        field="payload",
        offset=len(raw),
    )


def _too_long(extra: bytes, size: int) -> LengthMismatch:
    return LengthMismatch(
        f"{len(extra)} byte(s) after the end announced by the length field",
        field="length",
        offset=size,
    )


def _bad_crc(layout: _FastLayout, frame: Frame, expected: int) -> CrcMismatch:
    return CrcMismatch(
        f"{layout.kind} frame CRC is 0x{frame.crc:02x}, contents give 0x{expected:02x}",
        frame=frame,
        expected=expected,
        actual=frame.crc,
    )


def _extra_allowed(layout: _FastLayout, extra: bytes) -> bool:
    """Only a lock frame's ``0D 0A`` trailer may follow a frame."""
    return layout is not _FAST_GATEWAY and extra == LOCK_TRAILER


def parse_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Parse exactly one frame (a lock frame may keep its ``0D 0A`` trailer).

    Raises :class:`BadMagic`, :class:`Truncated`, :class:`LengthMismatch` naming
    the field, or :class:`CrcMismatch` whose ``frame`` attribute holds the parsed
    frame for diagnosis.
    """
    raw = data if type(data) is bytes else bytes(data)
    available = len(raw)
    if available >= V3_HEADER_SIZE and raw[2] >= 5 and raw[:2] == LOCK_MAGIC:
        # Nearly every frame is a V3 one: no dispatch, no generic field handling.
        size = V3_HEADER_SIZE + 1 + raw[V3_HEADER_SIZE - 1]
        if available == size or (available == size + 2 and raw.endswith(LOCK_TRAILER)):
            values = _V3_UNPACK(raw)
            crc = raw[size - 1]
            frame = _parsed_lock_frame(values, raw[V3_HEADER_SIZE : size - 1], crc)
            table = TABLE
            expected = 0
            for byte in raw[: size - 1]:
                expected = table[expected ^ byte]
            if crc != expected:
                raise _bad_crc(_FAST_V3, frame, expected)
            return frame
    return _parse_checked(raw)


def _parse_checked(raw: bytes) -> Frame:
    """Every layout and every error: the general path behind :func:`parse_frame`."""
    available = len(raw)
    layout = _layout_of(raw)
    header_size = layout.header.size
    if available < header_size:
        raise _short_header(layout, raw)
    size = header_size + raw[header_size - 1] + 1
    if available < size:
        raise _short_crc(layout, raw) if available == size - 1 else _short_payload(layout, raw)
    if available != size and not _extra_allowed(layout, raw[size:]):
        raise _too_long(raw[size:], size)
    values = layout.header.unpack_from(raw)
    crc = raw[size - 1]
    payload = raw[header_size : size - 1]
    frame: Frame
    if layout is _FAST_V3:
        frame = _parsed_lock_frame(values, payload, crc)
    else:
        frame = _frame_from_values(layout.kind, values[1:-1], payload, crc)
    expected = crc8(raw[: size - 1])
    if crc != expected:
        raise _bad_crc(layout, frame, expected)
    return frame


def parse_frame_by_declaration(data: bytes | bytearray | memoryview) -> Frame:
    """:func:`parse_frame` done by the construct declaration itself (the slow reference).

    Same results and the same errors (type, field, offset, message, the frame inside a
    :class:`CrcMismatch`); where the fast path computes sizes, this one lets construct
    read field by field and names the field construct stopped at.
    """
    raw = bytes(data)
    layout = _layout_of(raw)
    try:
        parsed = layout.declaration.parse(raw)
    except cs.ConstError as exc:  # pragma: no cover - _layout_of checked the magic
        raise BadMagic(f"malformed {layout.kind} frame: {exc}", field="magic", offset=0) from exc
    except cs.StreamError as exc:
        stopped_at = str(exc.path).rsplit(" -> ", 1)[-1]
        if stopped_at == "crc":
            raise _short_crc(layout, raw) from None
        if stopped_at == "payload":
            raise _short_payload(layout, raw) from None
        raise _short_header(layout, raw) from None
    size = len(parsed.body.data) + 1
    if len(raw) != size and not _extra_allowed(layout, raw[size:]):
        raise _too_long(raw[size:], size)
    body = parsed.body.value
    values = tuple(body[name] for name in layout.fields)
    frame = _frame_from_values(layout.kind, values, bytes(body.payload), parsed.crc)
    expected = crc8(parsed.body.data)
    if parsed.crc != expected:
        raise _bad_crc(layout, frame, expected)
    return frame
