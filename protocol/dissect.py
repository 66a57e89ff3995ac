"""Taking one captured frame apart: the single dissector behind traces and ``frame decode``.

A frame trace (what a test saw) and the CLI (what an engineer pastes) show the same
facts about a frame — its kind, header, CRC verdict, plaintext and, for a lock reply,
the echoed opcode, status and error byte (docs/protocol.md §2, §4.1, §5.1). They used to
compute them twice; both now start from :func:`dissect`, and each only chooses how to
print the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from .commands import GatewayCommand, LockCommand
from .errors import CrcMismatch, DecryptError, FrameError
from .frame import Frame, FrameKind, GatewayFrame, LegacyLockFrame, LockFrame, parse_frame

__all__ = ["Dissection", "LockReplyView", "dissect", "dissect_frame"]

_SUCCESS = 1  # reply status byte (§4.1)
_FAILED = 0


@dataclass(frozen=True, slots=True)
class LockReplyView:
    """The envelope of a lock reply plaintext ``[echo][status][data…]`` (§4.1)."""

    echo: int
    status: int
    data: bytes

    @property
    def ok(self) -> bool:
        return self.status == _SUCCESS

    @property
    def error_byte(self) -> int | None:
        """plaintext[2] of a failed reply (§5.1), if the lock sent one."""
        return self.data[0] if self.status == _FAILED and self.data else None


@dataclass(frozen=True, slots=True)
class Dissection:
    """Everything one frame tells without knowing the conversation around it.

    ``frame`` is ``None`` only when the bytes are no frame at all (``problem`` says
    why). ``crc_ok`` is ``False`` for an otherwise well-formed frame with a bad CRC.
    ``plaintext`` is ``None`` when it cannot be read (encrypted and no key, or
    ``decrypt_error``). ``command`` is the opcode the frame is about: the echoed
    opcode of a lock reply, the header's opcode otherwise.
    """

    frame: Frame | None
    crc_ok: bool | None
    problem: str | None = None
    plaintext: bytes | None = None
    decrypt_error: str | None = None
    reply: LockReplyView | None = None
    command: LockCommand | GatewayCommand | int | None = None

    @property
    def is_lock_reply(self) -> bool:
        """A lock frame with the reply opcode 0x54 in its header (§4.1)."""
        return (
            self.frame is not None
            and self.frame.kind is not FrameKind.GATEWAY
            and self.frame.command == LockCommand.RESPONSE
        )


def _opcode(kind: FrameKind, value: int) -> LockCommand | GatewayCommand | int:
    enum: type[LockCommand] | type[GatewayCommand] = (
        GatewayCommand if kind is FrameKind.GATEWAY else LockCommand
    )
    try:
        return enum(value)
    except ValueError:
        return value


def dissect_frame(
    frame: Frame,
    *,
    crc_ok: bool = True,
    plaintext: bytes | None = None,
    key: bytes | None = None,
) -> Dissection:
    """Dissect an already parsed ``frame``.

    Give ``plaintext`` when the caller has decrypted it already (no second decrypt);
    else ``key`` decrypts an AES payload. Legacy and empty payloads need neither.
    """
    decrypt_error: str | None = None
    if plaintext is None:
        if isinstance(frame, LegacyLockFrame):
            plaintext = frame.decode()
        elif not frame.payload:
            plaintext = b""
        elif key is not None:
            assert isinstance(frame, LockFrame | GatewayFrame)
            try:
                plaintext = frame.decrypt(key)
            except DecryptError as exc:
                decrypt_error = str(exc)
    is_reply = frame.kind is not FrameKind.GATEWAY and frame.command == LockCommand.RESPONSE
    reply: LockReplyView | None = None
    command: LockCommand | GatewayCommand | int | None = _opcode(frame.kind, frame.command)
    if is_reply:
        command = None  # the opcode that matters is the echo inside the payload
        if plaintext is not None and len(plaintext) >= 2:
            reply = LockReplyView(plaintext[0], plaintext[1], plaintext[2:])
            command = _opcode(frame.kind, plaintext[0])
    return Dissection(
        frame=frame,
        crc_ok=crc_ok,
        plaintext=plaintext,
        decrypt_error=decrypt_error,
        reply=reply,
        command=command,
    )


def dissect(raw: bytes, *, key: bytes | None = None) -> Dissection:
    """Dissect one raw frame (``key`` for AES payloads); never raises for bad bytes."""
    try:
        frame = parse_frame(bytes(raw))
        crc_ok = True
    except CrcMismatch as exc:
        if not isinstance(exc.frame, LockFrame | LegacyLockFrame | GatewayFrame):
            return Dissection(frame=None, crc_ok=False, problem=str(exc))
        frame, crc_ok = exc.frame, False
    except FrameError as exc:
        return Dissection(frame=None, crc_ok=None, problem=str(exc))
    return dissect_frame(frame, crc_ok=crc_ok, key=key)
