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
from .frame import GATEWAY_MAGIC, LOCK_MAGIC, LOCK_TRAILER, V3_HEADER_SIZE, frame_size

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
        self._skips_trailer = channel is DeviceKind.LOCK
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
        buffer = self._buffer
        buffer += chunk
        frames: list[bytes] = []
        magic = self._magic
        while True:
            if not buffer.startswith(magic):  # usual case: a frame starts the buffer
                start = buffer.find(magic)
                if start < 0:
                    # Keep a trailing first magic byte: the magic may be split across chunks.
                    keep = 1 if buffer[-1:] == magic[:1] else 0
                    self._discard(len(buffer) - keep, "no frame magic")
                    break
                self._discard(start, "bytes before frame magic")
            available = len(buffer)
            size: int | None
            if self._skips_trailer and available >= V3_HEADER_SIZE and buffer[2] >= 5:
                size = V3_HEADER_SIZE + buffer[V3_HEADER_SIZE - 1] + 1  # frame_size, V3 case
            else:
                size = frame_size(buffer)
            if size is None:
                break
            if available < size:
                if available > self.max_buffer:
                    # Cannot happen with a one-byte length; kept as a hard bound.
                    self._discard(2, "buffer overflow")  # pragma: no cover
                    continue  # pragma: no cover
                break
            frames.append(bytes(memoryview(buffer)[:size]))
            if available == size or (
                self._skips_trailer and available == size + 2 and buffer.endswith(LOCK_TRAILER)
            ):
                buffer.clear()  # the frame (and its trailer) was all there was
                break
            del buffer[:size]
            if self._skips_trailer and buffer.startswith(LOCK_TRAILER):
                del buffer[:2]
        if len(buffer) > self.max_buffer:  # pragma: no cover - bounded by frame_size
            self._discard(len(buffer) - self.max_buffer, "buffer overflow")
        return frames
