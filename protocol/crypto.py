"""Payload ciphers: AES-128-CBC as locks and gateways use it, and the XOR codec.

docs/protocol.md §3.1: AES-128-CBC with PKCS#7 padding and **IV = key**, reset for
every frame (so encryption is deterministic); one cipher per key, kept in a bounded
cache. §3.3: the vendor XOR codec used by legacy (protocol type < 5) frames. §7:
per-gateway key derivation.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from .crc import TABLE
from .errors import DecryptError, ProtocolError

DEFAULT_LOCK_KEY = bytes.fromhex("987623e8a923a1bb3d9e7d0378124588")
"""Factory key of every lock in setting mode (docs/protocol.md §3.1)."""

GATEWAY_DEFAULT_KEY = bytes.fromhex("33a03e78236a4d5388327a32a3bbf2ef")
"""Key that derives each gateway's own key from its MAC (docs/protocol.md §7)."""

KEY_SIZE = 16
_BLOCK: Final = 16

CIPHER_CACHE_SIZE: Final = 64
"""Keys whose cipher is kept. A run talks to a handful of locks, each with one key (and
the default key during setup); beyond this the least recently used is dropped."""


class _KeyCipher:
    """One AES key's cipher: the block cipher in ECB contexts, CBC chained by hand.

    A frame's CBC starts again from IV = key (§3.1), so a CBC context could never be
    reused; creating one per frame costs more than the AES itself. ECB has no state
    between blocks, so one encrypting and one decrypting context serve every frame of
    this key, and CBC is the XOR around them (encrypt: block by block; decrypt: all
    blocks in one call, then one XOR with ``IV || C[:-16]``).

    cryptography releases the GIL inside ``update`` on large inputs, and a context in
    use by another thread refuses a second caller ("Already borrowed") before it
    touches any state; such a caller takes a context of its own for that call.
    """

    __slots__ = ("_cipher", "_decryptor", "_encryptor", "_iv")

    def __init__(self, key: bytes) -> None:
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._encryptor: CipherContext = self._cipher.encryptor()
        self._decryptor: CipherContext = self._cipher.decryptor()
        self._iv = int.from_bytes(key, "big")

    def __repr__(self) -> str:  # the key stays out of every repr
        return "_KeyCipher(<key hidden>)"

    def _ecb(self, context: CipherContext, data: bytes, *, encrypt: bool) -> bytes:
        try:
            return context.update(data)
        except RuntimeError:  # busy in another thread: this call takes its own context
            fresh = self._cipher.encryptor() if encrypt else self._cipher.decryptor()
            return fresh.update(data)

    def encrypt(self, plaintext: bytes) -> bytes:
        pad = _BLOCK - len(plaintext) % _BLOCK
        padded = plaintext + bytes((pad,)) * pad  # PKCS#7
        chain = self._iv
        out = []
        encryptor = self._encryptor
        for start in range(0, len(padded), _BLOCK):
            block = int.from_bytes(padded[start : start + _BLOCK], "big") ^ chain
            cipher_block = self._ecb(encryptor, block.to_bytes(_BLOCK, "big"), encrypt=True)
            chain = int.from_bytes(cipher_block, "big")
            out.append(cipher_block)
        return b"".join(out)

    def decrypt(self, ciphertext: bytes) -> bytes:
        size = len(ciphertext)
        decrypted = self._ecb(self._decryptor, ciphertext, encrypt=False)
        # P_i = D(C_i) XOR C_(i-1), with C_(-1) = IV: one XOR over the whole message.
        previous = (self._iv << (8 * (size - _BLOCK))) | (
            int.from_bytes(ciphertext[: size - _BLOCK], "big")
        )
        padded = (int.from_bytes(decrypted, "big") ^ previous).to_bytes(size, "big")
        pad = padded[-1]
        if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
            raise DecryptError(
                "payload does not decrypt with this key (bad padding): the lock was probably "
                "reset or the credentials belong to another lock"
            )
        return padded[:-pad]


class _CipherCache:
    """The ciphers of the most recently used keys (bounded; its repr shows no key)."""

    __slots__ = ("_entries", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[bytes, _KeyCipher] = OrderedDict()

    def __repr__(self) -> str:
        return f"_CipherCache({len(self._entries)}/{self.maxsize} keys)"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> _KeyCipher:
        if type(key) is not bytes:
            key = bytes(key)
        entries = self._entries
        cipher = entries.get(key)
        if cipher is not None:
            entries.move_to_end(key)
            return cipher
        if len(key) != KEY_SIZE:
            raise ProtocolError(f"AES key must be 16 bytes, got {len(key)}")
        cipher = entries[key] = _KeyCipher(key)
        while len(entries) > self.maxsize:
            entries.popitem(last=False)
        return cipher

    def clear(self) -> None:
        self._entries.clear()


_CIPHERS: Final = _CipherCache(CIPHER_CACHE_SIZE)


def aes_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-128-CBC/PKCS#7 with IV = key. Empty input stays empty (§3.1)."""
    cipher = _CIPHERS.get(key)
    if not plaintext:
        return b""
    return cipher.encrypt(bytes(plaintext))


def aes_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`aes_encrypt`; raises :class:`DecryptError` on bad input.

    A wrong key nearly always shows up as bad padding (or, 1 time in 256, as a
    plausible but wrong plaintext, which the message layer then rejects).
    """
    cipher = _CIPHERS.get(key)
    if not ciphertext:
        return b""
    if len(ciphertext) % 16:
        raise DecryptError(
            f"ciphertext length {len(ciphertext)} is not a multiple of 16: "
            "the frame was cut or is not AES-encrypted"
        )
    return cipher.decrypt(bytes(ciphertext))


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
