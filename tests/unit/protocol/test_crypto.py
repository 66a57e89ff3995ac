from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.crypto import (
    DEFAULT_LOCK_KEY,
    aes_decrypt,
    aes_encrypt,
    gateway_key,
    parse_mac,
    xor_decode,
    xor_encode,
    xor_with_seed,
)
from ttlock_hil.protocol.errors import DecryptError, ProtocolError

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_aes_vector_sciener_under_the_default_key(vectors_by_id: dict[str, Any]) -> None:
    v = vectors_by_id["aes.SCIENER.default_key"]
    assert v["input"]["key_hex"] == DEFAULT_LOCK_KEY.hex()
    assert aes_encrypt(DEFAULT_LOCK_KEY, b"SCIENER").hex() == v["expected_hex"]
    assert aes_decrypt(DEFAULT_LOCK_KEY, bytes.fromhex(v["expected_hex"])) == b"SCIENER"


def test_gateway_key_vector(vectors_by_id: dict[str, Any]) -> None:
    v = vectors_by_id["gateway.session_key"]
    assert gateway_key(v["input"]["mac"]).hex() == v["expected_hex"]
    assert gateway_key(bytes.fromhex("aabbccddeeff")).hex() == v["expected_hex"]


def test_empty_plaintext_is_not_encrypted() -> None:
    assert aes_encrypt(KEY, b"") == b""
    assert aes_decrypt(KEY, b"") == b""


@given(st.binary(max_size=200), st.binary(min_size=16, max_size=16))
def test_aes_round_trips(plaintext: bytes, key: bytes) -> None:
    ciphertext = aes_encrypt(key, plaintext)
    assert len(ciphertext) % 16 == 0
    assert aes_decrypt(key, ciphertext) == plaintext


def test_wrong_key_is_a_decrypt_error_that_says_why() -> None:
    ciphertext = aes_encrypt(KEY, b"SCIENER")
    with pytest.raises(DecryptError, match="reset"):
        aes_decrypt(DEFAULT_LOCK_KEY, ciphertext)


def test_ciphertext_of_odd_length_is_a_decrypt_error() -> None:
    with pytest.raises(DecryptError, match="multiple of 16"):
        aes_decrypt(KEY, b"\x00" * 15)


def test_key_of_wrong_size_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="16 bytes"):
        aes_encrypt(b"short", b"x")


def test_xor_codec_vendor_vectors(vectors_by_id: dict[str, Any]) -> None:
    # docs/protocol.md §3.3: encodeWithEncrypt("SCIENER", 0x2a) = faeae0ece7ecfb (also inside the
    # legacy frame vector) and vendor encode("0659525046") = 4442414d4146414440420a.
    legacy = vectors_by_id["v2.frame.0x14.seed42"]["wire_hex"]
    assert "faeae0ece7ecfb" in legacy
    assert xor_with_seed(b"SCIENER", 0x2A).hex() == "faeae0ece7ecfb"
    assert xor_encode(b"0659525046").hex() == "4442414d4146414440420a"
    assert xor_decode(bytes.fromhex("4442414d4146414440420a")) == b"0659525046"


@given(st.binary(max_size=300))
def test_xor_encode_decode_round_trip(data: bytes) -> None:
    assert xor_decode(xor_encode(data)) == data


@given(st.binary(max_size=300), st.integers(0, 255))
def test_xor_with_seed_is_its_own_inverse(data: bytes, seed: int) -> None:
    assert xor_with_seed(xor_with_seed(data, seed), seed) == data


@pytest.mark.parametrize("bad", ["AA:BB", "zz:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF:00"])
def test_bad_mac_is_a_typed_error_with_the_expected_form(bad: str) -> None:
    with pytest.raises(ProtocolError, match="MAC"):
        parse_mac(bad)


def test_xor_decode_of_nothing_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="seed"):
        xor_decode(b"")
