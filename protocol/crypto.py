"""Payload ciphers: AES-128-CBC as locks and gateways use it, and the XOR codec.

docs/protocol.md §3.1: AES-128-CBC with PKCS#7 padding and **IV = key**, reset for
every frame (so encryption is deterministic). §3.3: the vendor XOR codec used by
legacy (protocol type < 5) frames. §7: per-gateway key derivation.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .crc import TABLE
from .errors import DecryptError, ProtocolError

DEFAULT_LOCK_KEY = bytes.fromhex("987623e8a923a1bb3d9e7d0378124588")
"""Factory key of every lock in setting mode (docs/protocol.md §3.1)."""

GATEWAY_DEFAULT_KEY = bytes.fromhex("33a03e78236a4d5388327a32a3bbf2ef")
"""Key that derives each gateway's own key from its MAC (docs/protocol.md §7)."""

KEY_SIZE = 16


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ProtocolError(f"AES key must be 16 bytes, got {len(key)}")


def aes_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-128-CBC/PKCS#7 with IV = key. Empty input stays empty (§3.1)."""
    _check_key(key)
    if not plaintext:
        return b""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`aes_encrypt`; raises :class:`DecryptError` on bad input.

    A wrong key nearly always shows up as bad padding (or, 1 time in 256, as a
    plausible but wrong plaintext, which the message layer then rejects).
    """
    _check_key(key)
    if not ciphertext:
        return b""
    if len(ciphertext) % 16:
        raise DecryptError(
            f"ciphertext length {len(ciphertext)} is not a multiple of 16: "
            "the frame was cut or is not AES-encrypted"
        )
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptError(
            "payload does not decrypt with this key (bad padding): the lock was probably "
            "reset or the credentials belong to another lock"
        ) from exc


def parse_mac(mac: str | bytes) -> bytes:
    """``AA:BB:CC:DD:EE:FF`` (or ``-``/no separators, or 6 raw bytes) → 6 bytes."""
    if isinstance(mac, bytes):
        raw = mac
    else:
        text = mac.replace(":", "").replace("-", "").strip()
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise ProtocolError(f"not a MAC address: {mac!r} (expected AA:BB:CC:DD:EE:FF)") from exc
    if len(raw) != 6:
        raise ProtocolError(f"a MAC address has 6 bytes, got {len(raw)}: {mac!r}")
    return raw


def gateway_key(mac: str | bytes) -> bytes:
    """Per-gateway AES key: AES(key=IV=GATEWAY_DEFAULT_KEY) of the reversed MAC (§7)."""
    return aes_encrypt(GATEWAY_DEFAULT_KEY, parse_mac(mac)[::-1])


def xor_with_seed(data: bytes, seed: int) -> bytes:
    """Vendor ``encodeWithEncrypt``/``decodeWithEncrypt`` (they are one function).

    ``out[i] = data[i] ^ seed ^ T[len(data) & 0xFF]`` with T the CRC table (§3.3).
    """
    if not 0 <= seed <= 0xFF:
        raise ProtocolError(f"XOR seed must be a byte, got {seed}")
    mask = seed ^ TABLE[len(data) & 0xFF]
    return bytes(b ^ mask for b in data)


def xor_encode(data: bytes) -> bytes:
    """Vendor ``encode``: the seed is the length (this SDK build) and is appended."""
    seed = len(data) & 0xFF
    return xor_with_seed(data, seed) + bytes([seed])


def xor_decode(data: bytes) -> bytes:
    """Vendor ``decode``: seed = last byte, table index ``len(data) - 1``.

    KIND3R indexes the table with ``len(data)`` (off by one); the vendor does not.
    """
    if not data:
        raise ProtocolError("XOR-encoded data needs at least the seed byte")
    body, seed = data[:-1], data[-1]
    return xor_with_seed(body, seed)
