"""The frame fast path is its construct declaration, only faster.

``parse_frame`` and the builders run a ``struct`` path generated from the construct
declarations in protocol/frame.py; ``parse_frame_by_declaration`` and
``build_frame_by_declaration`` let construct do the same work field by field. On any
bytes, both readers give the same frame or the same error: type, field, offset,
message, and for a CRC mismatch the expected and actual CRC and the frame inside.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.crypto import xor_with_seed
from ttlock_hil.protocol.errors import CrcMismatch, FrameError
from ttlock_hil.protocol.frame import (
    GATEWAY_MAGIC,
    LOCK_MAGIC,
    LOCK_TRAILER,
    Frame,
    GatewayFrame,
    LegacyLockFrame,
    LockFrame,
    LockHeader,
    build_frame_by_declaration,
    build_gateway_frame,
    build_legacy_frame,
    build_lock_frame,
    parse_frame,
    parse_frame_by_declaration,
)

byte = st.integers(0, 0xFF)
word = st.integers(0, 0xFFFF)
payloads = st.binary(max_size=255)

lock_frames = st.builds(
    LockFrame,
    st.builds(LockHeader, st.integers(5, 0xFF), byte, byte, word, word),
    byte,
    byte,
    payloads,
    byte,
)
legacy_frames = st.builds(LegacyLockFrame, st.integers(0, 4), byte, byte, payloads, byte)
gateway_frames = st.builds(GatewayFrame, byte, payloads, byte)
frames: st.SearchStrategy[Frame] = st.one_of(lock_frames, legacy_frames, gateway_frames)


def outcome(reader: Any, data: bytes) -> tuple[Any, ...]:
    """What a reader makes of ``data``: the frame, or every fact of the error."""
    try:
        return ("frame", reader(data))
    except CrcMismatch as exc:
        return ("crc", str(exc), exc.field, exc.offset, exc.expected, exc.actual, exc.frame)
    except FrameError as exc:
        return (type(exc), str(exc), exc.field, exc.offset)


def assert_same_reading(data: bytes) -> None:
    assert outcome(parse_frame, data) == outcome(parse_frame_by_declaration, data)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A frame as the radio may deliver it: whole, cut, padded, with a wrong CRC or magic."""
    frame = draw(frames)
    raw = bytearray(frame.to_bytes())
    how = draw(st.sampled_from(["whole", "trailer", "cut", "extra", "magic", "length", "crc"]))
    if how == "trailer":
        raw += LOCK_TRAILER
    elif how == "cut":
        del raw[draw(st.integers(0, len(raw) - 1)) :]
    elif how == "extra":
        raw += draw(st.binary(min_size=1, max_size=4))
    elif how == "magic":
        raw[draw(st.integers(0, 1))] ^= draw(st.integers(1, 0xFF))
    elif how == "length":
        length_at = {"lock": 11, "lock-legacy": 5, "gateway": 3}[frame.kind.value]
        raw[length_at] = draw(byte)
    elif how == "crc":
        raw[-1] ^= draw(st.integers(1, 0xFF))
    return bytes(raw)


@given(frames)
def test_both_readers_agree_on_every_frame_as_stored(frame: Frame) -> None:
    assert_same_reading(frame.to_bytes())


@given(damaged())
def test_both_readers_agree_on_damaged_frames_error_for_error(data: bytes) -> None:
    assert_same_reading(data)


@given(st.binary(max_size=40))
def test_both_readers_agree_on_arbitrary_bytes(data: bytes) -> None:
    assert_same_reading(data)


@given(st.sampled_from([LOCK_MAGIC + b"\x05", LOCK_MAGIC + b"\x03", GATEWAY_MAGIC]), st.binary())
def test_both_readers_agree_on_bytes_after_a_good_magic(start: bytes, rest: bytes) -> None:
    assert_same_reading(start + rest)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "7f",
        "0102030405",
        "7f5a",
        "7f5a05030100010001",
        "7f5a0503010001000145aa10",
        "7f5a0503010001000145aa00",
        "7f5a0503010001000145aa00b3ff",
        "7f5a0503010001000145aa00b30d0a",
        "7f5a0503010001000145aa0000",
        "725b4510",
        "725b450000",
        "725b4500b30d0a",
        "7f5a0314",
        "7f5a031400000000",
    ],
)
def test_both_readers_agree_on_each_kind_of_error(data: str) -> None:
    assert_same_reading(bytes.fromhex(data))


def test_a_crc_mismatch_carries_the_same_frame_from_both_readers() -> None:
    raw = build_lock_frame(0x45, b"")[:-1] + b"\x00"
    fast, declared = outcome(parse_frame, raw), outcome(parse_frame_by_declaration, raw)
    assert fast[0] == "crc"
    assert fast == declared
    assert isinstance(fast[-1], LockFrame)


@given(frames)
def test_building_gives_the_declarations_bytes(frame: Frame) -> None:
    declared = build_frame_by_declaration(frame)
    if isinstance(frame, LockFrame):
        fast = build_lock_frame(
            frame.command, frame.payload, header=frame.header, encrypt=frame.encrypt
        )
    elif isinstance(frame, LegacyLockFrame):
        plaintext = xor_with_seed(frame.payload, frame.seed)
        fast = build_legacy_frame(
            frame.command, plaintext, seed=frame.seed, protocol_type=frame.protocol_type
        )
    else:
        fast = build_gateway_frame(frame.command, frame.payload)
    assert fast == declared


@given(frames)
def test_to_bytes_keeps_the_stored_crc_and_otherwise_matches_the_declaration(
    frame: Frame,
) -> None:
    raw = frame.to_bytes()
    assert raw[:-1] == build_frame_by_declaration(frame)[:-1]
    assert raw[-1] == frame.crc
