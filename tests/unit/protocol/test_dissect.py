"""protocol.dissect: one frame taken apart, against the golden vectors and by property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.dissect import dissect, dissect_frame
from ttlock_hil.protocol.frame import FrameKind, LockFrame, parse_frame

RESPONSES = [
    "response.get_aes_key_ok",
    "response.check_admin_ok",
    "response.unlock_ok",
    "response.status_locked_real_plaintext",
    "response.unlock_fail_double_locked_0x1e",
]


@pytest.mark.parametrize("vector_id", RESPONSES)
def test_a_lock_reply_shows_its_echo_status_and_error_byte(
    vectors_by_id: dict[str, dict[str, Any]], vector_id: str
) -> None:
    vector = vectors_by_id[vector_id]
    key = bytes.fromhex(vector["input"]["aes_key_hex"])
    plaintext = bytes.fromhex(vector["input"]["plaintext_hex"])
    seen = dissect(bytes.fromhex(vector["frame_hex"]), key=key)
    assert seen.crc_ok is True
    assert seen.is_lock_reply
    assert seen.plaintext == plaintext
    assert seen.reply is not None
    assert (seen.reply.echo, seen.reply.status, seen.reply.data) == (
        plaintext[0],
        plaintext[1],
        plaintext[2:],
    )
    assert seen.command == LockCommand(plaintext[0])
    assert seen.reply.ok is (plaintext[1] == 1)
    assert seen.reply.error_byte == (plaintext[2] if plaintext[1] == 0 else None)


def test_the_double_locked_refusal_carries_error_byte_0x1e(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    vector = vectors_by_id["response.unlock_fail_double_locked_0x1e"]
    seen = dissect(
        bytes.fromhex(vector["frame_hex"]), key=bytes.fromhex(vector["input"]["aes_key_hex"])
    )
    assert seen.reply is not None
    assert seen.reply.error_byte == 0x1E
    assert seen.command is LockCommand.UNLOCK


def test_a_request_is_about_its_header_opcode(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    vector = vectors_by_id["frame.unlock_0x47"]
    key = bytes.fromhex(vector["input"]["aes_key_hex"])
    seen = dissect(bytes.fromhex(vector["expected_hex"]), key=key)
    assert seen.command is LockCommand.UNLOCK
    assert seen.reply is None
    assert seen.plaintext == bytes.fromhex(vector["input"]["plaintext_hex"])


def test_without_a_key_the_payload_stays_unread(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    seen = dissect(bytes.fromhex(vectors_by_id["response.unlock_ok"]["frame_hex"]))
    assert seen.plaintext is None
    assert seen.reply is None
    assert seen.command is None  # a reply's opcode is inside the payload
    assert seen.decrypt_error is None


def test_a_wrong_key_is_a_decrypt_error_not_an_exception(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    seen = dissect(bytes.fromhex(vectors_by_id["response.unlock_ok"]["frame_hex"]), key=bytes(16))
    assert seen.plaintext is None
    assert seen.decrypt_error


def test_a_bad_crc_keeps_the_frame_with_its_verdict(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    raw = bytearray.fromhex(vectors_by_id["frame.unlock_0x47"]["expected_hex"])
    raw[-1] ^= 0xFF
    seen = dissect(bytes(raw))
    assert seen.crc_ok is False
    assert isinstance(seen.frame, LockFrame)
    assert seen.problem is None


def test_bytes_that_are_no_frame_name_the_problem() -> None:
    seen = dissect(b"\x00\x01\x02")
    assert seen.frame is None
    assert seen.problem


def test_a_gateway_frame_is_about_its_gateway_opcode(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    vector = vectors_by_id["gateway.echo_0x45_SCIENER"]
    seen = dissect(
        bytes.fromhex(vector["expected_hex"]), key=bytes.fromhex(vector["session_key_hex"])
    )
    assert seen.frame is not None
    assert seen.frame.kind is FrameKind.GATEWAY
    assert seen.command is GatewayCommand.ECHO
    assert seen.plaintext == b"SCIENER"


def test_a_plaintext_already_decrypted_is_taken_as_given(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    vector = vectors_by_id["response.unlock_ok"]
    frame = parse_frame(bytes.fromhex(vector["frame_hex"]))
    plaintext = bytes.fromhex(vector["input"]["plaintext_hex"])
    seen = dissect_frame(frame, plaintext=plaintext)  # no key: nothing decrypted again
    assert seen.reply is not None
    assert seen.reply.echo == plaintext[0]


@pytest.mark.fuzz
@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(min_size=16, max_size=16)))
def test_dissect_never_raises(raw: bytes, key: bytes | None) -> None:
    seen = dissect(raw, key=key)
    assert (seen.frame is None) == (seen.problem is not None)
