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
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import construct as cs

from .crc import crc8
from .crypto import aes_decrypt, aes_encrypt, xor_with_seed
from .errors import BadMagic, CrcMismatch, FrameError, LengthMismatch, ProtocolError, Truncated

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
        return bytes(_V3.build(_v3_values(self)))[:-1] + bytes([self.crc])

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
        return bytes(_LEGACY.build(_legacy_values(self)))[:-1] + bytes([self.crc])

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
        return bytes(_GATEWAY.build(_gateway_values(self)))[:-1] + bytes([self.crc])

    def decrypt(self, key: bytes) -> bytes:
        return aes_decrypt(key, self.payload)


Frame = LockFrame | LegacyLockFrame | GatewayFrame


# --- declarations ---------------------------------------------------------
# Each layout: a RawCopy'd body, then the CRC computed over the body's bytes.
# ``Rebuild`` fills length and CRC on build; on parse they are read as they are,
# and the CRC is compared in ``_checked`` so that a bad frame is still returned
# to the caller inside the CrcMismatch error.

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


def _v3_values(frame: LockFrame) -> dict[str, Any]:
    h = frame.header
    return {
        "body": {
            "value": {
                "protocol_type": h.protocol_type,
                "sub_version": h.sub_version,
                "scene": h.scene,
                "organization": h.organization,
                "sub_organization": h.sub_organization,
                "command": frame.command,
                "encrypt": frame.encrypt,
                "payload": frame.payload,
            }
        }
    }


def _legacy_values(frame: LegacyLockFrame) -> dict[str, Any]:
    return {
        "body": {
            "value": {
                "protocol_type": frame.protocol_type,
                "command": frame.command,
                "seed": frame.seed,
                "payload": frame.payload,
            }
        }
    }


def _gateway_values(frame: GatewayFrame) -> dict[str, Any]:
    return {"body": {"value": {"command": frame.command, "payload": frame.payload}}}


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
    _check_byte("command", command)
    _check_byte("encrypt", encrypt)
    _check_payload(payload)
    frame = LockFrame(header, command, encrypt, bytes(payload), 0)
    return bytes(_V3.build(_v3_values(frame)))


def build_legacy_frame(
    command: int, plaintext: bytes, *, seed: int, protocol_type: int = 3
) -> bytes:
    """A legacy lock frame; ``plaintext`` is XOR-coded with ``seed`` (1..127 on the vendor)."""
    if protocol_type >= 5:
        raise ProtocolError(f"protocol type {protocol_type} is not legacy (must be < 5)")
    _check_byte("command", command)
    _check_byte("seed", seed)
    _check_payload(plaintext)
    frame = LegacyLockFrame(protocol_type, command, seed, xor_with_seed(plaintext, seed), 0)
    return bytes(_LEGACY.build(_legacy_values(frame)))


def build_gateway_frame(command: int, payload: bytes) -> bytes:
    """A gateway frame around an already-encrypted payload."""
    _check_byte("command", command)
    _check_payload(payload)
    return bytes(_GATEWAY.build(_gateway_values(GatewayFrame(command, bytes(payload), 0))))


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


def _layout_of(data: bytes) -> tuple[cs.Construct, int, str]:
    if len(data) < 2:
        raise Truncated(f"{len(data)} byte(s) cannot hold a frame magic", field="magic", offset=0)
    magic = data[:2]
    if magic == GATEWAY_MAGIC:
        return _GATEWAY, GATEWAY_HEADER_SIZE, "gateway"
    if magic != LOCK_MAGIC:
        raise BadMagic(
            f"frame starts {magic.hex()}, expected 7f5a (lock) or 725b (gateway)",
            field="magic",
            offset=0,
        )
    if len(data) < 3:
        raise Truncated("lock frame ends before its protocol type", field="protocol_type", offset=2)
    if data[2] >= 5:
        return _V3, V3_HEADER_SIZE, "lock"
    return _LEGACY, LEGACY_HEADER_SIZE, "lock-legacy"


def parse_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Parse exactly one frame (a lock frame may keep its ``0D 0A`` trailer).

    Raises :class:`BadMagic`, :class:`Truncated`, :class:`LengthMismatch` naming
    the field, or :class:`CrcMismatch` whose ``frame`` attribute holds the parsed
    frame for diagnosis.
    """
    raw = bytes(data)
    layout, header_size, kind = _layout_of(raw)
    if len(raw) < header_size:
        raise Truncated(
            f"{kind} frame has {len(raw)} bytes, its header alone needs {header_size}",
            field="header",
            offset=len(raw),
        )
    size = frame_size(raw)
    assert size is not None
    if len(raw) < size:
        length_offset = header_size - 1
        if len(raw) == size - 1:
            raise Truncated(
                f"{kind} frame ends before its CRC byte (length field says "
                f"{raw[length_offset]} payload bytes)",
                field="crc",
                offset=size - 1,
            )
        raise Truncated(
            f"{kind} frame length field says {raw[length_offset]} payload bytes, "
            f"only {len(raw) - header_size} present",
            field="payload",
            offset=len(raw),
        )
    extra = raw[size:]
    if extra and not (kind != "gateway" and extra == LOCK_TRAILER):
        raise LengthMismatch(
            f"{len(extra)} byte(s) after the end announced by the length field",
            field="length",
            offset=size,
        )
    try:
        parsed = layout.parse(raw[:size])
    except cs.ConstructError as exc:  # pragma: no cover - prechecks make this unreachable
        raise FrameError(f"malformed {kind} frame: {exc}", field="frame") from exc
    frame = _to_frame(kind, parsed)
    expected = crc8(parsed.body.data)
    if parsed.crc != expected:
        raise CrcMismatch(
            f"{kind} frame CRC is 0x{parsed.crc:02x}, contents give 0x{expected:02x}",
            frame=frame,
            expected=expected,
            actual=parsed.crc,
        )
    return frame


def _to_frame(kind: str, parsed: Any) -> Frame:
    body = parsed.body.value
    if kind == "lock":
        header = LockHeader(
            body.protocol_type,
            body.sub_version,
            body.scene,
            body.organization,
            body.sub_organization,
        )
        return LockFrame(header, body.command, body.encrypt, bytes(body.payload), parsed.crc)
    if kind == "lock-legacy":
        return LegacyLockFrame(
            body.protocol_type, body.command, body.seed, bytes(body.payload), parsed.crc
        )
    return GatewayFrame(body.command, bytes(body.payload), parsed.crc)
