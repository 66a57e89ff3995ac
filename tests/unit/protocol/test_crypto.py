from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.crypto import (
    _CIPHERS,
    DEFAULT_LOCK_KEY,
    _CipherCache,
    _KeyCipher,
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


# --- one cipher per key ---------------------------------------------------------------------


def reference_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-128-CBC/PKCS#7, IV = key, the textbook way (a new CBC context per message)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def reference_decrypt(key: bytes, ciphertext: bytes) -> bytes | None:
    """The textbook decryption; ``None`` where the padding is refused."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None


@given(st.binary(min_size=1, max_size=255), st.binary(min_size=16, max_size=16))
def test_aes_encrypt_matches_the_textbook_cbc(plaintext: bytes, key: bytes) -> None:
    assert aes_encrypt(key, plaintext) == reference_encrypt(key, plaintext)


whole_blocks = st.integers(1, 16).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))


@given(whole_blocks, st.binary(min_size=16, max_size=16))
def test_aes_decrypt_accepts_and_refuses_exactly_what_the_textbook_does(
    ciphertext: bytes, key: bytes
) -> None:
    expected = reference_decrypt(key, ciphertext)
    if expected is None:
        with pytest.raises(DecryptError, match="bad padding"):
            aes_decrypt(key, ciphertext)
    else:
        assert aes_decrypt(key, ciphertext) == expected


@given(st.binary(min_size=15, max_size=17), st.binary(min_size=1, max_size=16))
def test_padding_with_a_zero_or_oversized_pad_byte_is_refused(body: bytes, tail: bytes) -> None:
    # A last byte of 0 or > 16 is never valid PKCS#7, whatever precedes it.
    key = bytes(range(16))
    for pad in (0, 17, 0xFF):
        block = (body + tail)[:15] + bytes((pad,))
        ciphertext = Cipher(algorithms.AES(key), modes.CBC(key)).encryptor().update(block)
        with pytest.raises(DecryptError):
            aes_decrypt(key, ciphertext)


def test_each_key_gets_one_cipher_that_later_frames_reuse() -> None:
    key = bytes(range(16, 32))
    first = _CIPHERS.get(key)
    aes_encrypt(key, b"SCIENER")
    aes_decrypt(key, aes_encrypt(key, b"SCIENER"))
    assert _CIPHERS.get(key) is first
    assert _CIPHERS.get(bytearray(key)) is first


def test_the_cipher_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = _CipherCache(3)
    keys = [bytes([n]) * 16 for n in range(5)]
    first = cache.get(keys[0])
    for key in keys[1:3]:
        cache.get(key)
    assert cache.get(keys[0]) is first  # used again: now the most recent
    cache.get(keys[3])
    cache.get(keys[4])
    assert len(cache) == 3
    assert cache.get(keys[0]) is first
    cache.clear()
    assert len(cache) == 0


def test_no_key_shows_in_the_reprs_of_the_cache_or_its_ciphers() -> None:
    key = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    cipher = _CIPHERS.get(key)
    for text in (repr(cipher), repr(_CIPHERS), str(_CIPHERS)):
        assert key.hex() not in text
        assert repr(key)[2:-1] not in text


def test_a_cipher_busy_in_another_thread_serves_the_call_with_a_context_of_its_own() -> None:
    class Busy:
        def update(self, data: bytes) -> bytes:
            raise RuntimeError("Already borrowed")

    key = bytes(range(32, 48))
    cipher = _KeyCipher(key)
    cipher._encryptor = Busy()  # type: ignore[assignment]
    cipher._decryptor = Busy()  # type: ignore[assignment]
    ciphertext = cipher.encrypt(b"SCIENER")
    assert ciphertext == reference_encrypt(key, b"SCIENER")
    assert cipher.decrypt(ciphertext) == b"SCIENER"


def test_a_wrong_size_key_is_refused_before_anything_is_cached() -> None:
    before = len(_CIPHERS)
    with pytest.raises(ProtocolError, match="16 bytes"):
        aes_decrypt(bytes(15), bytes(16))
    assert len(_CIPHERS) <= before
