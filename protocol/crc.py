"""TTLock's CRC-8: Dallas/Maxim table with the vendor's one-entry quirk.

docs/protocol.md §2.4: the table is CRC-8/MAXIM-DOW (reflected poly 0x8C, init 0,
no final xor) **except entry 33, which is 0x07 instead of 0x7D**. That table is
what the vendor's ``libLockCore.so`` carries and every captured frame verifies
only with it. The same table is the substitution table of the XOR codec (§3.3).
"""

from __future__ import annotations


def _maxim_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    # The vendor quirk (docs/protocol.md §2.4 (a)-(f)); the correct value is 0x7D.
    assert table[33] == 0x7D
    table[33] = 0x07
    return tuple(table)


TABLE: tuple[int, ...] = _maxim_table()
"""The 256-entry table, ``TABLE[33] == 0x07``."""


def crc8(data: bytes | bytearray | memoryview) -> int:
    """CRC-8 of ``data`` exactly as TTLock locks and gateways compute it."""
    crc = 0
    table = TABLE
    for byte in bytes(data):
        crc = table[crc ^ byte]
    return crc
