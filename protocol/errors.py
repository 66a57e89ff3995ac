"""The one root of every error the protocol layer raises.

Each error says what was wrong, where (field, offset) and, where we can tell,
what to do about it. They inherit :class:`ValueError` because every one of them
is "these bytes (or these arguments) are not what the protocol allows".
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Root of all errors raised by :mod:`protocol`."""


class FrameError(ProtocolError):
    """A byte string is not a well-formed TTLock frame.

    ``field`` names the frame field that is wrong and ``offset`` the byte
    offset where the problem was found (``None`` when not applicable).
    """

    def __init__(self, message: str, *, field: str, offset: int | None = None) -> None:
        where = f" (field {field!r}" + (f", offset {offset})" if offset is not None else ")")
        super().__init__(message + where)
        self.field = field
        self.offset = offset


class BadMagic(FrameError):
    """The frame does not start with ``7F 5A`` (lock) or ``72 5B`` (gateway)."""


class Truncated(FrameError):
    """The frame is shorter than its header or its length byte promises."""


class LengthMismatch(FrameError):
    """The frame carries bytes beyond what its length byte announces."""


class CrcMismatch(FrameError):
    """The CRC-8 byte does not match the frame contents.

    The frame was otherwise well formed: ``frame`` holds the parsed frame so
    that a trace can still show what arrived.
    """

    def __init__(self, message: str, *, frame: object, expected: int, actual: int) -> None:
        super().__init__(message, field="crc")
        self.frame = frame
        self.expected = expected
        self.actual = actual


class DecryptError(ProtocolError):
    """A payload could not be decrypted with the given key.

    On a real lock this almost always means the lock was reset (it now uses a
    new key) or the credentials belong to another lock.
    """


class MessageError(ProtocolError):
    """A plaintext payload does not have the layout its command requires."""

    def __init__(self, message: str, *, command: int | None = None) -> None:
        prefix = f"command 0x{command:02x}: " if command is not None else ""
        super().__init__(prefix + message)
        self.command = command


class IllegalTransition(ProtocolError):
    """A connection state machine was asked for a move its table does not allow."""

    def __init__(self, *, role: str, state: str, event: str) -> None:
        super().__init__(f"{role}: event {event!r} is not allowed in state {state!r}")
        self.role = role
        self.state = state
        self.event = event


class UnknownCode(ProtocolError, LookupError):
    """An error-code value is not in the registry (or not in that plugin version)."""
