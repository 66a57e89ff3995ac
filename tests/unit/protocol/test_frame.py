from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.crypto import aes_encrypt
from ttlock_hil.protocol.errors import (
    BadMagic,
    CrcMismatch,
    FrameError,
    LengthMismatch,
    ProtocolError,
    Truncated,
)
from ttlock_hil.protocol.frame import (
    V3_HEADER,
    FrameKind,
    GatewayFrame,
    LegacyLockFrame,
    LockFrame,
    LockHeader,
    build_gateway_frame,
    build_legacy_frame,
    build_lock_frame,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)


def _opcode(vector_id: str) -> int:
    match = re.search(r"0x([0-9a-f]{2})", vector_id)
    assert match, vector_id
    return int(match.group(1), 16)


def _lock_request_vectors(vectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [v for v in vectors if v["category"] == "frame"]
    assert len(found) == 22
    return found


def test_every_lock_request_vector_encodes_to_the_golden_frame(
    vectors: list[dict[str, Any]],
) -> None:
    for v in _lock_request_vectors(vectors):
        inputs = v["input"]
        frame = encode_lock_command(
            _opcode(v["id"]),
            bytes.fromhex(inputs["plaintext_hex"]),
            bytes.fromhex(inputs["aes_key_hex"]),
            header=LockHeader(*inputs["lock_version"]),
        )
        assert frame.hex() == v["expected_hex"], v["id"]
        assert frame.hex() + "0d0a" == v["wire_hex"], v["id"]


def test_every_lock_request_vector_decodes_back_to_its_fields(
    vectors: list[dict[str, Any]],
) -> None:
    for v in _lock_request_vectors(vectors):
        inputs = v["input"]
        frame = parse_frame(bytes.fromhex(v["wire_hex"]))
        assert isinstance(frame, LockFrame), v["id"]
        assert frame.header == LockHeader(*inputs["lock_version"])
        assert frame.command == _opcode(v["id"])
        assert frame.encrypt == 0xAA
        key = bytes.fromhex(inputs["aes_key_hex"])
        assert frame.decrypt(key).hex() == inputs["plaintext_hex"], v["id"]
        assert frame.to_bytes().hex() == v["expected_hex"]


def test_every_response_vector_parses_and_decrypts(vectors: list[dict[str, Any]]) -> None:
    responses = [v for v in vectors if v["category"] == "response"]
    assert len(responses) == 5
    for v in responses:
        frame = parse_frame(bytes.fromhex(v["wire_hex"]))
        assert isinstance(frame, LockFrame)
        assert frame.command == 0x54  # COMM_RESPONSE
        assert frame.header == LockHeader(5, 3, 2, 1, 1)
        assert (
            frame.decrypt(bytes.fromhex(v["input"]["aes_key_hex"])).hex()
            == (v["input"]["plaintext_hex"])
        )
        rebuilt = build_lock_frame(0x54, frame.payload, header=frame.header)
        assert rebuilt.hex() == v["frame_hex"], v["id"]


def test_gateway_vectors_build_and_parse(vectors_by_id: dict[str, Any]) -> None:
    cases = {
        "gateway.echo_0x45_SCIENER": b"SCIENER",
        "gateway.config_wifi_0x02": None,
        "gateway.config_server_0x03": None,
    }
    for vector_id, plaintext in cases.items():
        v = vectors_by_id[vector_id]
        key = bytes.fromhex(v["session_key_hex"])
        body = plaintext if plaintext is not None else bytes.fromhex(v["plaintext_hex"])
        assert encode_gateway_command(_opcode(vector_id), body, key).hex() == v["expected_hex"]
        frame = parse_frame(bytes.fromhex(v["expected_hex"]))
        assert isinstance(frame, GatewayFrame)
        assert frame.kind is FrameKind.GATEWAY
        assert frame.decrypt(key) == body


def test_legacy_frame_vector(vectors_by_id: dict[str, Any]) -> None:
    v = vectors_by_id["v2.frame.0x14.seed42"]
    inputs = v["input"]
    built = build_legacy_frame(
        inputs["command"],
        inputs["plaintext_ascii"].encode(),
        seed=inputs["seed"],
        protocol_type=inputs["protocol_type"],
    )
    assert built.hex() + "0d0a" == v["wire_hex"]
    frame = parse_frame(bytes.fromhex(v["wire_hex"]))
    assert isinstance(frame, LegacyLockFrame)
    assert (frame.protocol_type, frame.command, frame.seed) == (3, 0x14, 42)
    assert frame.decode() == b"SCIENER"


def test_empty_plaintext_is_sent_with_length_zero_even_with_a_key() -> None:
    frame = encode_lock_command(0x45, b"", bytes(16))
    assert frame.hex() == "7f5a0503010001000145aa00b3"


def test_bad_crc_is_typed_and_keeps_the_parsed_frame() -> None:
    good = bytes.fromhex("7f5a0503010001000145aa00b3")
    with pytest.raises(CrcMismatch) as info:
        parse_frame(good[:-1] + b"\x00")
    assert info.value.field == "crc"
    assert (info.value.expected, info.value.actual) == (0xB3, 0x00)
    assert isinstance(info.value.frame, LockFrame)
    assert info.value.frame.command == 0x45


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        ("", Truncated, "magic"),
        ("7f", Truncated, "magic"),
        ("0102030405", BadMagic, "magic"),
        ("7f5a", Truncated, "protocol_type"),
        ("7f5a05030100010001", Truncated, "header"),
        ("7f5a0503010001000145aa10", Truncated, "payload"),
        ("7f5a0503010001000145aa00", Truncated, "crc"),
        ("7f5a0503010001000145aa00b3ff", LengthMismatch, "length"),
        ("725b4510", Truncated, "payload"),
        ("7f5a0314", Truncated, "header"),
    ],
)
def test_malformed_frames_raise_typed_errors_naming_the_field(
    data: str, error: type[FrameError], field: str
) -> None:
    with pytest.raises(error) as info:
        parse_frame(bytes.fromhex(data))
    assert info.value.field == field
    assert field in str(info.value)


def test_gateway_frames_have_no_crlf_trailer() -> None:
    frame = build_gateway_frame(0x45, b"")
    with pytest.raises(LengthMismatch):
        parse_frame(frame + b"\r\n")


def test_header_text_form_round_trips_and_rejects_garbage() -> None:
    assert LockHeader.parse("5.3.1.1.1") == V3_HEADER
    assert LockHeader.parse("5.4") == LockHeader(5, 4, 1, 1, 1)
    assert str(LockHeader(5, 3, 2, 1, 1)) == "5.3.2.1.1"
    with pytest.raises(ProtocolError, match="protocol_type"):
        LockHeader.parse("5.x")
    with pytest.raises(ProtocolError, match="16 bits"):
        LockHeader(5, 3, 1, 70000, 1)


def test_builders_refuse_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ProtocolError, match="255"):
        build_lock_frame(0x03, bytes(256))
    with pytest.raises(ProtocolError, match="byte"):
        build_lock_frame(0x100, b"")
    with pytest.raises(ProtocolError, match="legacy"):
        build_lock_frame(0x14, b"", header=LockHeader(3, 0, 0, 0, 0))
    with pytest.raises(ProtocolError, match="not legacy"):
        build_legacy_frame(0x14, b"", seed=1, protocol_type=5)


headers = st.builds(
    LockHeader,
    st.integers(5, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
)


@given(headers, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=255))
def test_lock_frames_round_trip(
    header: LockHeader, command: int, encrypt: int, payload: bytes
) -> None:
    raw = build_lock_frame(command, payload, header=header, encrypt=encrypt)
    frame = parse_frame(raw)
    assert frame == LockFrame(header, command, encrypt, payload, raw[-1])
    assert frame.to_bytes() == raw
    assert parse_frame(raw + b"\r\n") == frame


@given(st.integers(0, 4), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=255))
def test_legacy_frames_round_trip(ptype: int, command: int, seed: int, plaintext: bytes) -> None:
    raw = build_legacy_frame(command, plaintext, seed=seed, protocol_type=ptype)
    frame = parse_frame(raw)
    assert isinstance(frame, LegacyLockFrame)
    assert frame.decode() == plaintext
    assert frame.to_bytes() == raw


@given(st.integers(0, 255), st.binary(max_size=200), st.binary(min_size=16, max_size=16))
def test_gateway_frames_round_trip(command: int, plaintext: bytes, key: bytes) -> None:
    raw = encode_gateway_command(command, plaintext, key)
    frame = parse_frame(raw)
    assert isinstance(frame, GatewayFrame)
    assert frame.command == command
    assert frame.decrypt(key) == plaintext
    assert frame.to_bytes() == raw


@given(st.binary(min_size=1, max_size=255), st.integers(0, 255))
def test_any_single_byte_corruption_of_the_crc_is_detected(payload: bytes, flip: int) -> None:
    raw = bytearray(encode_lock_command(0x47, payload, bytes(16)))
    raw[-1] ^= flip or 1
    with pytest.raises(CrcMismatch):
        parse_frame(bytes(raw))


@pytest.mark.fuzz
@given(st.binary(max_size=300))
def test_fuzz_parse_frame_raises_only_typed_errors(data: bytes) -> None:
    try:
        frame = parse_frame(data)
    except FrameError:
        return
    assert frame.to_bytes() == data[: len(frame.to_bytes())]


@pytest.mark.fuzz
@given(st.binary(min_size=12, max_size=40), st.binary(min_size=16, max_size=16))
def test_fuzz_decrypting_a_well_formed_frame_raises_only_typed_errors(
    payload: bytes, key: bytes
) -> None:
    frame = parse_frame(build_lock_frame(0x54, payload))
    assert isinstance(frame, LockFrame)
    with contextlib.suppress(ProtocolError):
        frame.decrypt(key)


def test_decrypting_with_the_right_key_recovers_the_plaintext() -> None:
    key = bytes(range(16))
    frame = parse_frame(build_lock_frame(0x54, aes_encrypt(key, b"\x14\x01\x2d\x00")))
    assert isinstance(frame, LockFrame)
    assert frame.decrypt(key) == b"\x14\x01\x2d\x00"


@pytest.mark.parametrize("text", ["²", "5.³", "٥.3", "5.3.1.1.1.1", "", "5..3"])
def test_a_header_that_is_not_ascii_digits_is_a_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError, match=r"protocol_type\.sub_version"):
        LockHeader.parse(text)
