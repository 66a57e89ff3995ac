"""Frame traces (JSON lines, one file per device session) with secret redaction.

Every frame written to or read from a device, and every notable session event,
becomes one JSON object on its own line::

    {"seq": 4, "t": "2026-01-01T12:00:00.123456+00:00", "elapsed": 0.084211,
     "device": "front-door", "direction": "rx", "raw": "7f5a0503…",
     "decoded": {"command": "SEARCH_STATUS", "opcode": "0x14", "length": 16,
                 "crc_ok": true, "plaintext": "14012d0002"},
     "verdict": "ok", "code": 0}

``t`` is wall-clock UTC, ``elapsed`` the monotonic seconds since the trace
was opened (immune to clock steps, so latencies can be read off the file).

Writing is buffered: lines reach the file on :meth:`FrameTrace.flush`, at
:meth:`~FrameTrace.close` (the end of a test's session), at once for a record
that reports a failure (a verdict other than ``sent``/``ok``/``push``/
``progress``/``processing``, or a non-zero code), when :func:`read_trace`
reads the file of a trace still open, every :data:`FLUSH_LINES` lines, when
the trace object is collected and at interpreter exit. Only a process killed
outright (``SIGKILL``) loses the last routine lines; the failure is on disk.

A session usually calls ``trace.frame("tx", raw, key=key)`` for each frame
(decoded by :func:`decode_frame`: kind, header, length, CRC verdict,
plaintext, and for lock replies the echo/status/error byte of §4.1),
``trace.event("disconnected", …)`` for link events, and passes
``verdict``/``code`` once the outcome is mapped. A session that has read the
frame already passes what it knows, ``trace.frame("rx", raw,
plaintext=answer.plaintext)`` (or ``parsed=`` the frame), and the trace
neither parses nor decrypts it again. :meth:`FrameTrace.tx`/``rx`` take
already-decoded fields instead.

Redaction
---------
Every record passes through the session's :class:`~ttlock_hil.harness.redaction.Redactor`
(on unless the lab config says ``redact: false``), which replaces every textual form of
every known secret with ``«redacted»``.

Frames whose plaintext carries secrets (:data:`LOCK_SECRET_COMMANDS`,
:data:`GATEWAY_SECRET_COMMANDS`, e.g. GET_AES_KEY 0x19, ADD_ADMIN 0x56,
CHECK_ADMIN 0x41, CHECK_RANDOM 0x30, passcodes 0x03, UNLOCK 0x47, lock 0x58)
keep only the command, length, CRC verdict and status-like fields of
``decoded``; everything else (``plaintext`` first) becomes ``«redacted»``.
Their ``raw`` keeps the header and CRC bytes but the payload is replaced by
``«redacted»``. Why not keep the ciphertext? Because it is not always
protected by a secret: the GET_AES_KEY reply is encrypted with the public
default key and hands over the new key, legacy frames are XOR-coded with the
seed that travels in the frame, and gateway keys derive from the MAC. Frames
that carry no secret keep their raw bytes in full for diagnosis.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.dissect import Dissection, dissect, dissect_frame
from ttlock_hil.protocol.errors import CrcMismatch, FrameError
from ttlock_hil.protocol.frame import (
    GATEWAY_HEADER_SIZE,
    GATEWAY_MAGIC,
    LEGACY_HEADER_SIZE,
    LOCK_MAGIC,
    V3_HEADER_SIZE,
    Frame,
    GatewayFrame,
    LegacyLockFrame,
    LockFrame,
    frame_size,
    parse_frame,
)
from ttlock_hil.protocol.lockdata import REDACTED

from .redaction import RedactingFilter, Redactor

__all__ = [
    "FLUSH_LINES",
    "GATEWAY_SECRET_COMMANDS",
    "LOCK_SECRET_COMMANDS",
    "REDACTED",
    "DecodedFrame",
    "Direction",
    "FrameTrace",
    "RedactingFilter",
    "Redactor",
    "decode_frame",
    "read_trace",
]

LOCK_SECRET_COMMANDS: Final[frozenset[LockCommand]] = frozenset(
    {
        LockCommand.MANAGE_KEYBOARD_PASSWORD,  # passcodes in clear (§4.2 op 03)
        LockCommand.GET_VALID_KEYBOARD_PASSWORD,
        LockCommand.PWD_LIST,  # reply lists passcodes
        LockCommand.GET_AES_KEY,  # reply is the new AES key, under the public default key
        LockCommand.GET_OPERATE_LOG,  # passcode log records carry the passcode text (§4.5)
        LockCommand.CHECK_RANDOM,  # (ps + unlockKey) mod 2^32
        LockCommand.INIT_PASSWORDS,  # keyboard passcode seeds
        LockCommand.READ_PWD_PARA,
        LockCommand.CHECK_ADMIN,  # adminPs; reply ps (with the sum it reveals unlockKey)
        LockCommand.SET_DELETE_PWD,
        LockCommand.UNLOCK,  # sum = ps + unlockKey
        LockCommand.SYN_KEYBOARD_PWD,
        LockCommand.SET_ADMIN_KEYBOARD_PWD,  # admin passcode as digit values
        LockCommand.CHECK_USER_TIME,  # reply ps
        LockCommand.ADD_ADMIN,  # adminPs and unlockKey
        LockCommand.FUNCTION_LOCK,  # sum = ps + unlockKey
        LockCommand.GET_ADMIN_CODE,  # reply is the admin passcode
        LockCommand.WIFI_CONFIG_AP,  # Wi-Fi password
        LockCommand.WIFI_CONFIG_ACCOUNT,  # cloud account password
        LockCommand.CONFIGURE_HOTEL_DATA,  # hotel IC key and AES key (docs/protocol.md §10.3.4)
    }
)
"""Lock opcodes whose request or reply plaintext carries a secret (docs/protocol.md §4.2)."""

GATEWAY_SECRET_COMMANDS: Final[frozenset[GatewayCommand]] = frozenset(
    {
        GatewayCommand.CONFIGURE_WIFI,  # Wi-Fi password
        GatewayCommand.CONFIGURE_ACCOUNT,  # account password
        GatewayCommand.SET_APN,  # APN credentials (G4)
    }
)
"""Gateway opcodes whose plaintext carries a secret (docs/protocol.md §7)."""

# ``decoded`` keys a secret-bearing frame keeps: enough to see what was sent,
# whether it arrived intact and how the device answered.
_SAFE_FRAME_FIELDS: Final = frozenset(
    {
        "kind",
        "command",
        "opcode",
        "length",
        "crc_ok",
        "crc",
        "encrypt",
        "header",
        "status",
        "error",
        "error_byte",
        "battery",
        "echo",
        "operation",
        "decrypt",
        "problem",
        "event",
    }
)


FLUSH_LINES: Final = 256
"""Buffered lines that make a trace write them out even without a reason to."""

_ROUTINE_VERDICTS: Final = frozenset({None, "sent", "ok", "push", "progress", "processing"})
"""Verdicts of records that report nothing wrong; any other one is flushed at once."""

# The traces open in this process by file, so that reading a file first writes out
# what its open traces hold (read_trace, TraceFile.records).
_OPEN: Final[dict[str, weakref.WeakSet[FrameTrace]]] = {}


def _file_key(path: Path) -> str:
    return os.path.abspath(path)  # a string key: no filesystem access, unlike resolve()


def _write_out(handle: Any, pending: list[str]) -> None:
    """Write and clear ``pending``; also the finaliser of a trace nobody closed."""
    if pending and not handle.closed:
        handle.write("".join(pending))
        handle.flush()
    pending.clear()


class Direction(StrEnum):
    TX = "tx"  # app -> device (a write)
    RX = "rx"  # device -> app (a notification: reply or push)
    EVENT = "event"  # a session event: connect, disconnect, timeout, assertion…


class FrameTrace:
    """Writes one device session's frames and events to a JSON-lines file.

    ``kind`` (a :class:`DeviceKind`, or its value) says how to read a plain-int ``command``
    (lock and gateway opcodes overlap). ``clock``/``wall_clock`` are injectable
    for deterministic tests. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        path: Path,
        *,
        device: str,
        redactor: Redactor,
        kind: DeviceKind | str = DeviceKind.LOCK,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        try:
            self.kind = DeviceKind(kind)
        except ValueError:
            raise ValueError(f"kind must be 'lock' or 'gateway', got {kind!r}") from None
        self.path = Path(path)
        self.device = device
        self.redactor = redactor
        self._clock = clock
        self._wall = wall_clock if wall_clock is not None else _utc_now
        self._start = clock()
        self._seq = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", newline="\n")
        self._pending: list[str] = []
        self._key = _file_key(self.path)
        _OPEN.setdefault(self._key, weakref.WeakSet()).add(self)
        # Lines still buffered when the object is collected or the interpreter exits
        # are written then (the finaliser holds the file and the list, not the trace).
        self._finalizer = weakref.finalize(self, _write_out, self._file, self._pending)

    def __repr__(self) -> str:
        return f"FrameTrace({str(self.path)!r}, device={self.device!r})"

    @property
    def closed(self) -> bool:
        return self._file.closed

    @property
    def pending(self) -> int:
        """Records written but still in the buffer."""
        return len(self._pending)

    def flush(self) -> None:
        """Write every buffered record to the file now."""
        if self._pending:
            _write_out(self._file, self._pending)

    def close(self) -> None:
        """Write what is buffered and close the file. Idempotent."""
        if self._file.closed:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._finalizer.detach()
            peers = _OPEN.get(self._key)
            if peers is not None:
                peers.discard(self)
                if not peers:
                    _OPEN.pop(self._key, None)

    def __enter__(self) -> FrameTrace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing --------------------------------------------------------------

    def tx(
        self,
        raw: bytes,
        *,
        command: int | None = None,
        decoded: Mapping[str, Any] | None = None,
        verdict: str | None = None,
        code: int | None = None,
    ) -> dict[str, Any]:
        """Record a frame written to the device."""
        return self.record(
            Direction.TX, raw=raw, command=command, decoded=decoded, verdict=verdict, code=code
        )

    def rx(
        self,
        raw: bytes,
        *,
        command: int | None = None,
        decoded: Mapping[str, Any] | None = None,
        verdict: str | None = None,
        code: int | None = None,
    ) -> dict[str, Any]:
        """Record a frame received from the device.

        For a lock reply pass the *echoed* opcode (plaintext[0], §4.1) as
        ``command``: the header opcode of every reply is 0x54.
        """
        return self.record(
            Direction.RX, raw=raw, command=command, decoded=decoded, verdict=verdict, code=code
        )

    def event(
        self,
        name: str,
        /,
        *,
        verdict: str | None = None,
        code: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record a session event (``connect``, ``disconnected``, ``response-timeout``…)."""
        return self.record(
            Direction.EVENT, decoded={"event": name, **fields}, verdict=verdict, code=code
        )

    def frame(
        self,
        direction: Direction | str,
        raw: bytes,
        *,
        key: bytes | None = None,
        parsed: Frame | None = None,
        plaintext: bytes | None = None,
        crc_ok: bool = True,
        verdict: str | None = None,
        code: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Decode ``raw`` with :func:`decode_frame` and record it.

        ``plaintext`` (and ``parsed``, the frame as the caller parsed it, with
        ``crc_ok``) spare the trace a second parse and decrypt of a frame the
        session has read already; otherwise ``key`` decrypts. The command used for
        naming and for the secret check is the echoed opcode of a lock reply (§4.1)
        and the header opcode otherwise; a reply that cannot be decrypted has no
        known command and keeps its raw bytes (ciphertext under a key the trace
        does not have).
        """
        decoded = decode_frame(raw, key=key, parsed=parsed, plaintext=plaintext, crc_ok=crc_ok)
        return self.record(
            Direction(direction),
            raw=raw,
            command=decoded.command,
            decoded={**decoded.fields, **extra},
            verdict=verdict,
            code=code,
        )

    def record(
        self,
        direction: Direction,
        *,
        raw: bytes | None = None,
        command: int | None = None,
        decoded: Mapping[str, Any] | None = None,
        verdict: str | None = None,
        code: int | None = None,
    ) -> dict[str, Any]:
        """Write one line and return the record as written (after redaction)."""
        if self._file.closed:
            raise ValueError(f"trace {self.path} is closed")
        fields: dict[str, Any] = dict(decoded) if decoded is not None else {}
        opcode = self._opcode(command)
        if command is not None:
            fields.setdefault("command", _command_name(opcode))
            fields.setdefault("opcode", f"0x{int(command):02x}")
        raw_text = bytes(raw).hex() if raw is not None else None
        if self.redactor.enabled and opcode is not None and self._carries_secret(opcode):
            fields = {
                key: (value if key in _SAFE_FRAME_FIELDS else REDACTED)
                for key, value in fields.items()
            }
            if raw is not None:
                raw_text = _mask_payload(bytes(raw))
        self._seq += 1
        entry: dict[str, Any] = {
            "seq": self._seq,
            "t": self._wall().isoformat(),
            "elapsed": round(self._clock() - self._start, 6),
            "device": self.device,
            "direction": str(direction),
            "raw": raw_text,
            "decoded": fields,
            "verdict": verdict,
            "code": code,
        }
        entry = self.redactor.value(entry)
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        peers = _OPEN.get(self._key)
        if peers is not None and len(peers) > 1:
            # Another open trace on this file: its earlier lines go first.
            for peer in list(peers):
                if peer is not self:
                    peer.flush()
        self._pending.append(line)
        if (
            verdict not in _ROUTINE_VERDICTS
            or (code is not None and code != 0)
            or len(self._pending) >= FLUSH_LINES
        ):
            self.flush()
        return entry

    def _opcode(self, command: int | None) -> LockCommand | GatewayCommand | int | None:
        if command is None:
            return None
        if isinstance(command, LockCommand | GatewayCommand):
            return command
        enum: type[LockCommand] | type[GatewayCommand] = (
            LockCommand if self.kind is DeviceKind.LOCK else GatewayCommand
        )
        try:
            return enum(int(command))
        except ValueError:
            return int(command)

    @staticmethod
    def _carries_secret(opcode: LockCommand | GatewayCommand | int) -> bool:
        if isinstance(opcode, LockCommand):
            return opcode in LOCK_SECRET_COMMANDS
        if isinstance(opcode, GatewayCommand):
            return opcode in GATEWAY_SECRET_COMMANDS
        return False


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """What :func:`decode_frame` found: trace fields, and the opcode the frame is about."""

    fields: dict[str, Any]
    command: LockCommand | GatewayCommand | int | None
    """The echoed opcode of a lock reply, the header opcode otherwise; None if unknown."""


def decode_frame(
    raw: bytes,
    *,
    key: bytes | None = None,
    parsed: Frame | None = None,
    plaintext: bytes | None = None,
    crc_ok: bool = True,
) -> DecodedFrame:
    """Trace fields for one raw frame: what a reader of the trace needs to judge it.

    ``kind``, ``header`` (lock frames), ``length``, ``crc_ok`` and, when the
    payload can be read (``key`` for AES frames; legacy frames need none),
    ``plaintext`` in hex; for a lock reply (header opcode 0x54) also ``echo``,
    ``status`` and, on failure, ``error_byte`` (docs/protocol.md §4.1). A frame
    that does not parse gives ``problem``; a payload the key cannot decrypt
    gives ``decrypt: "failed"``.

    ``parsed`` (the frame already parsed from ``raw``, ``crc_ok`` its CRC verdict)
    skips the parse, ``plaintext`` (its payload already decrypted) the decrypt.
    """
    seen = _dissect_known(raw, key, parsed, plaintext, crc_ok)
    frame = seen.frame
    if frame is None:
        return DecodedFrame({"problem": seen.problem, "crc_ok": seen.crc_ok}, None)
    fields: dict[str, Any] = {"kind": frame.kind.value}
    if isinstance(frame, LockFrame):
        fields["header"] = str(frame.header)
        fields["encrypt"] = f"0x{frame.encrypt:02x}"
    fields["length"] = frame.length
    fields["crc_ok"] = seen.crc_ok
    if seen.decrypt_error is not None:
        fields["decrypt"] = "failed"
    if seen.plaintext is not None:
        fields["plaintext"] = seen.plaintext.hex()
    if seen.reply is not None:
        fields["echo"] = f"0x{seen.reply.echo:02x}"
        fields["status"] = seen.reply.status
        if seen.reply.status == 0 and seen.reply.data:
            fields["error_byte"] = seen.reply.data[0]
    return DecodedFrame(fields, seen.command)


def _dissect_known(
    raw: bytes, key: bytes | None, parsed: Frame | None, plaintext: bytes | None, crc_ok: bool
) -> Dissection:
    if parsed is not None:
        return dissect_frame(parsed, crc_ok=crc_ok, plaintext=plaintext, key=key)
    if plaintext is None:
        return dissect(raw, key=key)
    try:
        frame: Frame = parse_frame(raw)
        crc_ok = True
    except CrcMismatch as exc:
        if not isinstance(exc.frame, LockFrame | LegacyLockFrame | GatewayFrame):
            return dissect(raw, key=key)
        frame, crc_ok = exc.frame, False
    except FrameError:
        return dissect(raw, key=key)  # no frame at all: the dissector words the problem
    return dissect_frame(frame, crc_ok=crc_ok, plaintext=plaintext)


def _command_name(opcode: LockCommand | GatewayCommand | int | None) -> str | None:
    if opcode is None:
        return None
    if isinstance(opcode, LockCommand | GatewayCommand):
        return opcode.name
    return f"0x{opcode:02x}"


def _mask_payload(raw: bytes) -> str:
    """Header and CRC in hex, the payload replaced (layouts of docs/protocol.md §2.1-2.3).

    The payload's end comes from the length byte (never from a ``0D 0A``
    search: ciphertext may contain it, §1.1).
    """
    if raw[:2] == GATEWAY_MAGIC:
        header = GATEWAY_HEADER_SIZE
    elif raw[:2] == LOCK_MAGIC and len(raw) > 2:
        header = V3_HEADER_SIZE if raw[2] >= 5 else LEGACY_HEADER_SIZE
    else:
        return REDACTED  # not a frame we can split: keep nothing
    size = frame_size(raw)
    if size is None:
        return raw.hex()  # a bare partial header carries no payload
    if size > len(raw):
        return raw[:header].hex() + REDACTED  # truncated: payload cut short, no CRC
    return raw[:header].hex() + REDACTED + raw[size - 1 :].hex()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """All records of a trace file, in order (for reports and tests).

    Traces of this process still open on the file write out their buffers first.
    """
    for trace in list(_OPEN.get(_file_key(Path(path)), ())):
        trace.flush()
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
