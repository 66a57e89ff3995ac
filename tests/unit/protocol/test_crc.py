from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.crc import TABLE, crc8


def _standard_maxim(data: bytes) -> int:
    """Bitwise CRC-8/MAXIM-DOW, written independently of the table."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def test_every_crc_vector_matches_the_vendor_value(vectors: list[dict[str, Any]]) -> None:
    crc_vectors = [v for v in vectors if v["category"] == "crc"]
    assert len(crc_vectors) == 4
    for v in crc_vectors:
        assert crc8(bytes.fromhex(v["input_hex"])) == v["expected"], v["id"]


def test_table_differs_from_standard_maxim_only_at_entry_33() -> None:
    differing = [i for i in range(256) if TABLE[i] != _standard_maxim(bytes([i]))]
    assert differing == [33]
    assert TABLE[33] == 0x07


@pytest.mark.parametrize(
    ("frame_hex", "carried"),
    [
        # Real lock replies (docs/protocol.md §2.4 table) that verify only with the quirk table.
        ("7f5a0503020001000154aa102d2f9276f7eea8794974e465f0e99e18", 0x09),
        (
            "7f5a0503020001000154aa20df862dda9de19dbdf73afce5eb29d32a24feca385bf44991075a85"
            "692353d6ac",
            0xD0,
        ),
        ("7f5a0503020001000158aa102177b9384b7f7242b59528d26ae752d4", 0x3A),
    ],
)
def test_real_captured_replies_verify_with_the_vendor_table(frame_hex: str, carried: int) -> None:
    data = bytes.fromhex(frame_hex)
    assert crc8(data) == carried
    assert _standard_maxim(data) != carried


@given(st.binary(max_size=64))
def test_crc_equals_standard_maxim_when_index_33_is_never_hit(data: bytes) -> None:
    crc = 0
    hits_quirk = False
    for byte in data:
        hits_quirk |= (crc ^ byte) == 33
        crc = TABLE[crc ^ byte]
    assert crc == crc8(data)
    if not hits_quirk:
        assert crc8(data) == _standard_maxim(data)
