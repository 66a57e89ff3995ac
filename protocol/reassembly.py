"""Reassembly of notification chunks into frames, driven by the length byte.

docs/protocol.md §1.1: notifications carry at most MTU-3 (20 by default) bytes; a
frame ends where its length byte says, **never** where ``0D 0A`` appears —
AES ciphertext contains those bytes. This follows the vendor's newest parser:
hunt for the magic, read the header, collect ``header + n + 1`` bytes; the
lock's ``0D 0A`` trailer and any garbage between frames are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .device import DeviceKind
from .frame import GATEWAY_MAGIC, LOCK_MAGIC, LOCK_TRAILER, frame_size

DEFAULT_MAX_BUFFER: Final = 1024
"""Bytes kept while waiting for a frame; a max frame is 270 bytes (§1.1)."""


@dataclass(frozen=True, slots=True)
class Discarded:
    """Bytes thrown away while hunting for a frame (garbage, or an overflow)."""

    data: bytes
    reason: str


class FrameReassembler:
    """Feed notification chunks, get complete raw frames back.

    >>> r = FrameReassembler(DeviceKind.LOCK)
    >>> r.feed(bytes.fromhex("7f5a0503010001000145aa"))
    []
    >>> [f.hex() for f in r.feed(bytes.fromhex("00b30d0a"))]
    ['7f5a0503010001000145aa00b3']

    Frames are returned without the ``0D 0A`` trailer and are *not* validated
    (CRC, decryption): that is :func:`ttlock_hil.protocol.frame.parse_frame`'s job, so a
    corrupted frame still reaches the caller to be reported. Skipped bytes are
    kept in :attr:`discarded` (bounded) for traces.
    """

    def __init__(
        self, channel: DeviceKind = DeviceKind.LOCK, *, max_buffer: int = DEFAULT_MAX_BUFFER
    ):
        if max_buffer < 270:
            raise ValueError("max_buffer must hold at least one maximum frame (270 bytes)")
        self.channel = channel
        self.max_buffer = max_buffer
        self._magic = LOCK_MAGIC if channel is DeviceKind.LOCK else GATEWAY_MAGIC
        self._buffer = bytearray()
        self.discarded: list[Discarded] = []

    @property
    def pending(self) -> bytes:
        """Bytes received that do not form a complete frame yet."""
        return bytes(self._buffer)

    def reset(self) -> bytes:
        """Drop everything buffered (e.g. after a disconnect); returns what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def _discard(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        chunk = bytes(self._buffer[:count])
        del self._buffer[:count]
        # A lone trailer between frames is expected, not garbage.
        if chunk == LOCK_TRAILER and self.channel is DeviceKind.LOCK:
            return
        self.discarded.append(Discarded(chunk, reason))
        del self.discarded[:-32]

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytes]:
        """Add one notification's bytes; return every frame it completed, in order."""
        self._buffer += chunk
        frames: list[bytes] = []
        while True:
            start = self._buffer.find(self._magic)
            if start < 0:
                # Keep a trailing first magic byte: the magic may be split across chunks.
                keep = 1 if self._buffer[-1:] == self._magic[:1] else 0
                self._discard(len(self._buffer) - keep, "no frame magic")
                break
            self._discard(start, "bytes before frame magic")
            size = frame_size(self._buffer)
            if size is None:
                break
            if len(self._buffer) < size:
                if len(self._buffer) > self.max_buffer:
                    # Cannot happen with a one-byte length; kept as a hard bound.
                    self._discard(2, "buffer overflow")  # pragma: no cover
                    continue  # pragma: no cover
                break
            frames.append(bytes(self._buffer[:size]))
            del self._buffer[:size]
            if self.channel is DeviceKind.LOCK and self._buffer[:2] == LOCK_TRAILER:
                del self._buffer[:2]
        if len(self._buffer) > self.max_buffer:  # pragma: no cover - bounded by frame_size
            self._discard(len(self._buffer) - self.max_buffer, "buffer overflow")
        return frames
