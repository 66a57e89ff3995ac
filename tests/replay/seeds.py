"""The seed cassettes of tests/replay, built from public frames so CI replays from day one.

Each seed is a btsnoop capture put together from frames docs/protocol.md quotes and the
golden vectors hold (``tests/data/vectors/ttlock.json``), imported with the very importer
a bench capture goes through (``ttlock-hil cassette import-btsnoop``). Where no public
source has a frame, it is computed from a plaintext the reference quotes, and the table
below says so.

=============================  =============================================================
``vectors-init``                0x19 request and reply: vectors ``frame.get_aes_key_0x19``,
                                ``response.get_aes_key_ok`` (§3.2, §4.3); 0x56 and 0x43: the
                                §4.3 worked plaintexts under the key that reply handed out
                                (computed); their replies "SCIENER" (§4.3 step 3) and ``43 01``
`vectors-paired`                status, CHECK_ADMIN, UNLOCK, CHECK_RANDOM, double-locked
                                UNLOCK: vector frames both ways (§4.3 worked frames, §4.3
                                "simulated replies"; ``14012d0002`` is a real plaintext, ps
                                ``1db78a8f`` a real challenge); the log push ``2c 00000000
                                6a0224a3 1a050b0f3008`` captured by TTLOCK-BLE (§10.3.6); the
                                IC and FR list ends ``55 01 ff ff`` and ``64 06 ff ff``
                                captured (§10.3.7); ``30 01`` computed
=============================  =============================================================

Run ``python -m tests.replay.seeds`` to write them again; ``test_seeds.py`` checks that the
files in ``cassettes/`` are exactly what this module builds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final

from ttlock_hil.harness.cassette import import_btsnoop, save_cassette
from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.protocol.btsnoop import TIMESTAMP_2000_US, acl_packets, write_btsnoop
from ttlock_hil.protocol.cassette import Cassette
from ttlock_hil.protocol.crypto import aes_encrypt
from ttlock_hil.protocol.frame import LockHeader, build_lock_frame

HERE: Final = Path(__file__).resolve().parent
CASSETTES: Final = HERE / "cassettes"
VECTORS: Final = HERE.parent / "data" / "vectors" / "ttlock.json"
TEST_KEY: Final = bytes.fromhex("00112233445566778899aabbccddeeff")
CREDENTIALS: Final = LockCredentials(
    aes_key=TEST_KEY, admin_ps=12345678, unlock_key=87654321, header=LockHeader(5, 3, 1, 1, 1)
)
"""§4.3's worked-frame values, the credentials the vector frames were made with."""
LOCK_HEADER: Final = LockHeader(5, 3, 2, 1, 1)
"""What real V3 locks put on their replies (§2.1)."""
WHEN: Final = datetime(2026, 1, 1, 12, 0)
"""The lock-local time of the seeds (the unlock reply's record says 26-01-01 12:00:00)."""

Step = tuple[bool, bytes]
"""(sent by the lock, the frame without its 0D 0A)."""


def vectors() -> dict[str, dict[str, object]]:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    return {str(v["id"]): v for v in data["vectors"]}


def vector_frame(vector: dict[str, object]) -> bytes:
    return bytes.fromhex(str(vector.get("frame_hex") or vector["expected_hex"]))


def _input(vector: dict[str, object]) -> dict[str, str]:
    given = vector["input"]
    assert isinstance(given, dict)
    return {str(k): str(val) for k, val in given.items()}


def reply(plaintext: bytes, key: bytes, *, encrypt: int = 0xAA) -> Step:
    return True, build_lock_frame(
        0x54, aes_encrypt(key, plaintext), header=LOCK_HEADER, encrypt=encrypt
    )


def capture(connections: Iterable[list[Step]]) -> bytes:
    """An app-side HCI snoop: 20-byte ATT writes and notifications on one handle pair."""
    start = int((WHEN - datetime(2000, 1, 1)).total_seconds() * 1e6) + TIMESTAMP_2000_US
    packets = []
    stamp = start
    for handle, steps in enumerate(connections, start=0x40):
        for from_lock, frame in steps:
            wire = frame + b"\r\n"
            opcode, att_handle = (0x1B, 0x0012) if from_lock else (0x52, 0x0010)
            for at in range(0, len(wire), 20):
                pdu = bytes([opcode]) + att_handle.to_bytes(2, "little") + wire[at : at + 20]
                for packet in acl_packets(handle, pdu):
                    stamp += 1500
                    packets.append((stamp, from_lock, packet))
    return write_btsnoop(packets)


def init_capture() -> bytes:
    v = vectors()
    handed_out = bytes.fromhex(_input(v["response.get_aes_key_ok"])["plaintext_hex"])[2:]
    add_admin = bytes.fromhex("00bc614e05397fb1534349454e4552")  # §4.3 worked plaintext
    calibrate = bytes.fromhex("1a0102030405")
    request_header = LockHeader(5, 3, 1, 1, 1)
    return capture(
        [
            [
                (False, vector_frame(v["frame.get_aes_key_0x19"])),
                (True, vector_frame(v["response.get_aes_key_ok"])),
                (
                    False,
                    build_lock_frame(
                        0x56, aes_encrypt(handed_out, add_admin), header=request_header
                    ),
                ),
                reply(b"\x56\x01SCIENER", handed_out),
                (
                    False,
                    build_lock_frame(
                        0x43, aes_encrypt(handed_out, calibrate), header=request_header
                    ),
                ),
                reply(b"\x43\x01", handed_out),
            ]
        ]
    )


def paired_capture() -> bytes:
    v = vectors()
    check_admin = vector_frame(v["frame.check_admin_0x41"])
    ps = vector_frame(v["response.check_admin_ok"])
    unlock = vector_frame(v["frame.unlock_0x47"])
    log_push = bytes.fromhex("14012c000000006a0224a31a050b0f3008")  # §10.3.6, captured
    return capture(
        [
            [
                (False, vector_frame(v["frame.search_bicycle_status_0x14"])),
                (True, vector_frame(v["response.status_locked_real_plaintext"])),
                (False, check_admin),
                (True, ps),
                (False, unlock),
                (True, vector_frame(v["response.unlock_ok"])),
                reply(log_push, TEST_KEY, encrypt=0x00),  # pushes carry 00 (FUSS, §2.1)
                (False, check_admin),
                (True, ps),
                (False, vector_frame(v["frame.check_random_0x30"])),
                reply(b"\x30\x01", TEST_KEY),
                (False, build_lock_frame(0x05, aes_encrypt(TEST_KEY, bytes.fromhex("010000")))),
                reply(bytes.fromhex("05015501ffff"), TEST_KEY),  # §10.3.7, captured
                (False, build_lock_frame(0x06, aes_encrypt(TEST_KEY, bytes.fromhex("060000")))),
                reply(bytes.fromhex("06016406ffff"), TEST_KEY),  # §10.3.7, captured
            ],
            [
                (False, check_admin),
                (True, ps),
                (False, unlock),
                (True, vector_frame(v["response.unlock_fail_double_locked_0x1e"])),
            ],
        ]
    )


def build() -> dict[str, Cassette]:
    """The seed cassettes by file name."""
    init = import_btsnoop(
        init_capture(),
        name="vectors-init.btsnoop",
        device="front-door",
        model="v3-keypad",
        preset="v3-keypad",
    )
    paired = import_btsnoop(
        paired_capture(),
        name="vectors-paired.btsnoop",
        device="front-door",
        credentials=CREDENTIALS,
        model="v3-fingerprint-ic",
        preset="v3-fingerprint-ic",
    )
    return {"vectors-init.json": init, "vectors-paired.json": paired}


def main() -> None:
    CASSETTES.mkdir(exist_ok=True)
    for name, cassette in build().items():
        save_cassette(CASSETTES / name, cassette)
        print(CASSETTES / name)


if __name__ == "__main__":
    main()
