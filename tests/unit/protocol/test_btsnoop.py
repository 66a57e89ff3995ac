"""btsnoop → HCI ACL → L2CAP channel 4 → ATT values (protocol/btsnoop.py)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.btsnoop import (
    DATALINK_HCI,
    TIMESTAMP_2000_US,
    CaptureError,
    Sender,
    acl_packets,
    att_values,
    read_records,
    write_btsnoop,
)
from ttlock_hil.protocol.errors import ProtocolError

WRITE = bytes.fromhex("7f5a0503010001000145aa00b30d0a")  # init 0x45, §4.3 worked frames


def att(opcode: int, handle: int, value: bytes) -> bytes:
    return bytes([opcode]) + struct.pack("<H", handle) + value


def capture(*pdus: tuple[bool, bytes], fragment: int = 27, connection: int = 0x40) -> bytes:
    packets = []
    stamp = TIMESTAMP_2000_US
    for received, pdu in pdus:
        for packet in acl_packets(connection, pdu, fragment=fragment):
            stamp += 1000
            packets.append((stamp, received, packet))
    return write_btsnoop(packets)


def test_a_write_and_a_notification_come_out_with_who_sent_them() -> None:
    data = capture((False, att(0x52, 0x10, WRITE)), (True, att(0x1B, 0x12, b"\x7f\x5a")))
    values = list(att_values(data))
    assert [(v.sender, v.opcode, v.handle, v.value) for v in values] == [
        (Sender.APP, 0x52, 0x10, WRITE),
        (Sender.DEVICE, 0x1B, 0x12, b"\x7f\x5a"),
    ]
    assert values[0].connection == 0x40
    assert values[1].timestamp_us > values[0].timestamp_us


def test_a_handle_reused_after_a_disconnection_is_another_connection() -> None:
    write = acl_packets(0x40, att(0x52, 0x10, WRITE))[0]
    disconnected = bytes.fromhex("04050400400013")  # Disconnection Complete, handle 0x040
    data = write_btsnoop(
        [
            (TIMESTAMP_2000_US, False, write),
            (TIMESTAMP_2000_US, True, disconnected),
            (TIMESTAMP_2000_US, False, write),
        ]
    )
    assert [v.connection for v in att_values(data)] == [0x40, 0x1040]


def test_acl_fragments_are_joined_by_the_l2cap_length() -> None:
    long_value = bytes(range(200))
    values = list(att_values(capture((True, att(0x1B, 0x12, long_value)), fragment=7)))
    assert [v.value for v in values] == [long_value]


def test_other_att_pdus_and_hci_events_are_skipped() -> None:
    event = (TIMESTAMP_2000_US, True, bytes.fromhex("040e0401030c00"))
    read = (TIMESTAMP_2000_US, True, acl_packets(0x40, att(0x0A, 0x03, b""))[0])
    data = write_btsnoop([event, read])
    assert len(list(read_records(data))) == 2
    assert list(att_values(data)) == []


def test_unencapsulated_hci_datalink_is_read_too() -> None:
    packet = acl_packets(0x40, att(0x52, 0x10, WRITE))[0][1:]  # no H4 type byte
    header = b"btsnoop\0" + struct.pack(">II", 1, DATALINK_HCI)
    record = struct.pack(">IIIIQ", len(packet), len(packet), 0, 0, TIMESTAMP_2000_US) + packet
    assert [v.value for v in att_values(header + record)] == [WRITE]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "16-byte header"),
        (b"pcapfile" + bytes(8), "not a btsnoop file"),
        (b"btsnoop\0" + struct.pack(">II", 2, 1002), "version 2"),
        (b"btsnoop\0" + struct.pack(">II", 1, 201), "datalink 201"),
        (b"btsnoop\0" + struct.pack(">II", 1, 1002) + b"\0\0", "cut short"),
        (
            b"btsnoop\0" + struct.pack(">II", 1, 1002) + struct.pack(">IIIIQ", 9, 9, 0, 0, 0),
            "cut short",
        ),
    ],
)
def test_a_malformed_capture_is_a_capture_error_that_says_where(data: bytes, words: str) -> None:
    with pytest.raises(CaptureError, match=words):
        list(att_values(data))


def test_a_continuation_without_its_start_is_an_error() -> None:
    start, more = acl_packets(0x40, att(0x1B, 0x12, bytes(60)), fragment=20)[:2]
    with pytest.raises(CaptureError, match="without a start") as caught:
        list(att_values(write_btsnoop([(TIMESTAMP_2000_US, True, more)])))
    assert caught.value.record == 1
    assert isinstance(caught.value, ProtocolError)
    assert start  # the start exists; only the continuation was captured


def test_an_acl_length_that_lies_is_an_error() -> None:
    packet = bytearray(acl_packets(0x40, att(0x52, 0x10, WRITE))[0])
    packet[3] += 1
    with pytest.raises(CaptureError, match="ACL length"):
        list(att_values(write_btsnoop([(TIMESTAMP_2000_US, False, bytes(packet))])))


@pytest.mark.fuzz
@given(st.binary(max_size=400))
def test_fuzz_any_bytes_give_values_or_a_capture_error(data: bytes) -> None:
    with contextlib.suppress(CaptureError):
        for value in att_values(b"btsnoop\0" + struct.pack(">II", 1, 1002) + data):
            assert value.sender in (Sender.APP, Sender.DEVICE)


@pytest.mark.fuzz
@given(
    st.lists(st.tuples(st.booleans(), st.binary(min_size=0, max_size=80)), max_size=6),
    st.integers(1, 40),
    st.data(),
)
def test_fuzz_damaged_captures_never_raise_anything_but_capture_error(
    pdus: list[tuple[bool, bytes]], fragment: int, data: st.DataObject
) -> None:
    whole = bytearray(
        capture(
            *((received, att(0x1B if received else 0x52, 0x12, v)) for received, v in pdus),
            fragment=fragment,
        )
    )
    if len(whole) > 16:
        for _ in range(data.draw(st.integers(0, 3))):
            at = data.draw(st.integers(16, len(whole) - 1))
            whole[at] = data.draw(st.integers(0, 255))
        whole = whole[: data.draw(st.integers(16, len(whole)))]
    with contextlib.suppress(CaptureError):
        list(att_values(bytes(whole)))
