"""btsnoop captures down to the ATT values a TTLock app wrote and the lock notified.

Sans-IO: bytes of a capture in, :class:`AttValue` records out. The layers, each
as its specification lays it out:

* **btsnoop** (RFC 1761's snoop format as the Bluetooth stacks use it): the 8-byte
  identification ``btsnoop\\0``, version 1 and a datalink type, then records of
  ``original length, included length, flags, drops`` (four u32 BE) and a u64 BE
  timestamp in microseconds since year 0 (``TIMESTAMP_2000_US`` is 2000-01-01).
  Datalink 1002 (H4: each packet starts with its HCI packet type) is what Android's
  "Bluetooth HCI snoop log" and Bumble's ``BtSnooper`` write; 1001 (unencapsulated
  HCI, the packet type told by flag bit 1) is read too.
* **HCI ACL** (Core Vol 4 Part E §5.4.2): handle (12 bits), packet boundary flag
  (2 bits: 00 or 10 start an L2CAP frame, 01 continues one), broadcast flag, u16 LE
  length, data.
* **L2CAP** basic frames (Core Vol 3 Part A §3.1): u16 LE length, u16 LE channel;
  channel 0x0004 carries ATT. Fragments are joined per connection handle and
  direction until the length is complete.
* **ATT** (Core Vol 3 Part F §3.4): write request 0x12, write command 0x52,
  notification 0x1B and indication 0x1D each carry a u16 LE handle and a value.
  Writes are what the app sent, notifications and indications what the device
  sent, whichever side the capture was taken on.

What happens above ATT (the TTLock chunks joined by the length byte) is
:class:`~ttlock_hil.protocol.reassembly.FrameReassembler`'s job. A malformed
capture raises :class:`CaptureError`, which says where (record number, byte
offset) and what to do.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import ProtocolError

__all__ = [
    "ATT_CID",
    "DATALINK_H4",
    "DATALINK_HCI",
    "TIMESTAMP_2000_US",
    "AttValue",
    "CaptureError",
    "Record",
    "Sender",
    "acl_packets",
    "att_values",
    "read_records",
    "write_btsnoop",
]

MAGIC: Final = b"btsnoop\0"
DATALINK_HCI: Final = 1001
DATALINK_H4: Final = 1002
ATT_CID: Final = 0x0004
TIMESTAMP_2000_US: Final = 0x00E03AB44A676000
"""The btsnoop timestamp of 2000-01-01 00:00 UTC (microseconds since year 0)."""

_FILE_HEADER: Final = struct.Struct(">8sII")
_RECORD_HEADER: Final = struct.Struct(">IIIIQ")
_H4_ACL: Final = 0x02
_H4_COMMAND: Final = 0x01
_H4_EVENT: Final = 0x04
_ATT_WRITE_REQUEST: Final = 0x12
_ATT_WRITE_COMMAND: Final = 0x52
_ATT_NOTIFICATION: Final = 0x1B
_ATT_INDICATION: Final = 0x1D
_DISCONNECTION_COMPLETE: Final = 0x05
_MAX_RECORD: Final = 1 << 16
"""No HCI packet is longer (u16 lengths); a larger record means a corrupt file."""


class CaptureError(ProtocolError):
    """A capture file is not a btsnoop we can read; ``record`` and ``offset`` say where."""

    def __init__(self, message: str, *, record: int | None = None, offset: int | None = None):
        where = []
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte {offset}")
        super().__init__(message + (f" ({', '.join(where)})" if where else ""))
        self.record = record
        self.offset = offset


class Sender(StrEnum):
    APP = "app"  # an ATT write: the central (the TTLock app) sent it
    DEVICE = "device"  # a notification or indication: the lock or gateway sent it


@dataclass(frozen=True, slots=True)
class Record:
    """One btsnoop record: an HCI packet with its H4 type, flags and timestamp."""

    number: int
    packet_type: int
    flags: int
    timestamp_us: int
    data: bytes


@dataclass(frozen=True, slots=True)
class AttValue:
    """A value written by the app or notified by the device, at ``timestamp_us``."""

    sender: Sender
    opcode: int
    handle: int
    value: bytes
    timestamp_us: int
    record: int
    connection: int = 0
    """Which connection: the ACL handle, plus 0x1000 for each earlier connection that
    ended on the same handle (an HCI Disconnection Complete, Core Vol 4 Part E §7.7.5)."""


def read_records(capture: bytes) -> Iterator[Record]:
    """The records of a btsnoop capture, each with its HCI packet type."""
    if len(capture) < _FILE_HEADER.size:
        raise CaptureError(
            f"a btsnoop file starts with a {_FILE_HEADER.size}-byte header, this one has "
            f"{len(capture)} bytes: give the file the snoop log wrote",
            offset=0,
        )
    magic, version, datalink = _FILE_HEADER.unpack_from(capture)
    if magic != MAGIC:
        raise CaptureError(
            # What it starts with is not quoted: a file given by mistake may hold a key.
            "not a btsnoop file (it does not start with b'btsnoop\\x00'): enable "
            "Android's Bluetooth HCI snoop log or use 'sim serve --snoop', and give that file",
            offset=0,
        )
    if version != 1:
        raise CaptureError(f"btsnoop version {version} is not 1", offset=8)
    if datalink not in (DATALINK_H4, DATALINK_HCI):
        raise CaptureError(
            f"btsnoop datalink {datalink} is not HCI H4 (1002) or HCI (1001): "
            "capture the HCI snoop log of the host, not a radio sniffer's",
            offset=12,
        )
    offset = _FILE_HEADER.size
    number = 0
    while offset < len(capture):
        number += 1
        if len(capture) - offset < _RECORD_HEADER.size:
            raise CaptureError(
                "the capture ends inside a record header: the file was cut short",
                record=number,
                offset=offset,
            )
        original, included, flags, _drops, stamp = _RECORD_HEADER.unpack_from(capture, offset)
        offset += _RECORD_HEADER.size
        if included > original or included > _MAX_RECORD:
            raise CaptureError(
                f"record claims {included} bytes (original {original}): the file is corrupt",
                record=number,
                offset=offset - _RECORD_HEADER.size,
            )
        if len(capture) - offset < included:
            raise CaptureError(
                f"record needs {included} bytes, {len(capture) - offset} remain: "
                "the file was cut short",
                record=number,
                offset=offset,
            )
        packet = capture[offset : offset + included]
        offset += included
        if datalink == DATALINK_H4:
            if not packet:
                raise CaptureError("empty H4 packet", record=number, offset=offset)
            yield Record(number, packet[0], flags, stamp, packet[1:])
        else:
            kind = (_H4_EVENT if flags & 1 else _H4_COMMAND) if flags & 2 else _H4_ACL
            yield Record(number, kind, flags, stamp, packet)


def att_values(capture: bytes) -> Iterator[AttValue]:
    """Every ATT write, notification and indication on L2CAP channel 4, in capture order.

    ACL fragments are joined per (connection handle, direction) by the L2CAP length.
    An L2CAP frame that is cut by the end of the capture is dropped (the capture
    stopped mid-frame); a continuation without a start is an error.
    """
    pending: dict[tuple[int, int], tuple[bytearray, int, int]] = {}
    generation: dict[int, int] = {}  # a handle is reused by the next connection
    for record in read_records(capture):
        if record.packet_type == _H4_EVENT:
            ended = _disconnected(record.data)
            if ended is not None:
                generation[ended] = generation.get(ended, 0) + 1
                pending = {k: v for k, v in pending.items() if k[0] != ended}
            continue
        if record.packet_type != _H4_ACL:
            continue
        data = record.data
        if len(data) < 4:
            raise CaptureError(
                f"ACL packet of {len(data)} bytes has no header", record=record.number
            )
        handle_flags, length = struct.unpack_from("<HH", data)
        if length != len(data) - 4:
            raise CaptureError(
                f"ACL length {length} but {len(data) - 4} data bytes", record=record.number
            )
        handle = handle_flags & 0x0FFF
        boundary = (handle_flags >> 12) & 0x3
        key = (handle, record.flags & 1)
        payload = data[4:]
        if boundary == 0b01:  # continuing fragment
            if key not in pending:
                raise CaptureError(
                    f"ACL continuation on handle 0x{handle:03x} without a start",
                    record=record.number,
                )
            buffer, wanted, stamp = pending[key]
            buffer += payload
        else:
            if len(payload) < 4:
                raise CaptureError(
                    f"L2CAP start of {len(payload)} bytes has no basic header",
                    record=record.number,
                )
            wanted = struct.unpack_from("<H", payload)[0] + 4
            buffer, stamp = bytearray(payload), record.timestamp_us
        if len(buffer) > wanted:
            raise CaptureError(
                f"L2CAP frame longer ({len(buffer)} bytes) than its length ({wanted})",
                record=record.number,
            )
        if len(buffer) < wanted:
            pending[key] = (buffer, wanted, stamp)
            continue
        pending.pop(key, None)
        connection = handle | generation.get(handle, 0) << 12
        value = _att(bytes(buffer), stamp, record.number, connection)
        if value is not None:
            yield value


def _disconnected(event: bytes) -> int | None:
    """The handle an HCI Disconnection Complete event (0x05, Core Vol 4 Part E §7.7.5)
    ended, if it succeeded."""
    if len(event) >= 6 and event[0] == _DISCONNECTION_COMPLETE and event[2] == 0:
        return int(struct.unpack_from("<H", event, 3)[0]) & 0x0FFF
    return None


def _att(frame: bytes, stamp: int, number: int, connection: int) -> AttValue | None:
    cid = struct.unpack_from("<H", frame, 2)[0]
    pdu = frame[4:]
    if cid != ATT_CID or not pdu:
        return None
    opcode = pdu[0]
    if opcode in (_ATT_WRITE_REQUEST, _ATT_WRITE_COMMAND):
        sender = Sender.APP
    elif opcode in (_ATT_NOTIFICATION, _ATT_INDICATION):
        sender = Sender.DEVICE
    else:
        return None
    if len(pdu) < 3:
        raise CaptureError(f"ATT 0x{opcode:02x} of {len(pdu)} bytes has no handle", record=number)
    handle = struct.unpack_from("<H", pdu, 1)[0]
    return AttValue(sender, opcode, handle, pdu[3:], stamp, number, connection)


def write_btsnoop(packets: list[tuple[int, bool, bytes]]) -> bytes:
    """A btsnoop (H4) capture of ``(timestamp_us, received, h4_packet)`` packets.

    For tests and tools that build captures; ``received`` sets flag bit 0 (the
    controller sent the packet to the host).
    """
    out = bytearray(_FILE_HEADER.pack(MAGIC, 1, DATALINK_H4))
    for stamp, received, packet in packets:
        flags = int(received) | (0x02 if packet[:1] in (b"\x01", b"\x04") else 0)
        out += _RECORD_HEADER.pack(len(packet), len(packet), flags, 0, stamp) + packet
    return bytes(out)


def acl_packets(handle: int, att_pdu: bytes, *, fragment: int = 27) -> list[bytes]:
    """H4 ACL packets carrying ``att_pdu`` on channel 4, fragmented (for building captures)."""
    l2cap = struct.pack("<HH", len(att_pdu), ATT_CID) + att_pdu
    packets = []
    for start in range(0, len(l2cap), fragment):
        piece = l2cap[start : start + fragment]
        boundary = 0b10 if start == 0 else 0b01
        header = struct.pack("<HH", (handle & 0x0FFF) | (boundary << 12), len(piece))
        packets.append(bytes([_H4_ACL]) + header + piece)
    return packets
