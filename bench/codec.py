"""Codec workloads, side by side: our codec, the peers, and a struct + cryptography floor.

Runs in two interpreters:

* the project's (``make bench`` imports it): our codec and the floor;
* the peers' virtualenv (``bench/.venv-peers``, see :mod:`bench.peers`), as a child
  process: our codec, the floor, ``ttlock-ble`` and ``ttlock`` (ttlock-core) in one
  process, so every ratio compares code run by the same interpreter.

The child speaks a tiny line protocol: it reads nothing, prints one JSON object per
line (``{"peer": ...}`` lines with versions, ``{"sample": ...}`` lines with one
timed round), and a last ``{"done": true}``.

Workloads (docs/performance.md explains each):

* ``encode``: the status query 0x14 (plaintext ``SCIENER``), AES under the lock key,
  framed, CRC, ``0D 0A``: the bytes to write;
* ``decode``: a status reply frame: parse + CRC check + AES decrypt to the plaintext;
* ``reassemble``: the reply with its ``0D 0A`` in two notifications (20 + rest),
  reassembled and parsed (no decrypt).

Timing: CPU time (``time.process_time``) of ``iterations`` calls, in rounds that
interleave the implementations so that a slow moment of the machine hits them all.
"""

from __future__ import annotations

import json
import struct
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

KEY = bytes.fromhex("8c2f9a41d07e53b6e9120a7fc4d83b25")
QUERY_PLAINTEXT = b"SCIENER"  # SearchStatus (docs/protocol.md §4.2 0x14)
REPLY_PLAINTEXT = bytes([0x14, 0x01, 0x50, 0x00, 0x00, 0x00])  # echo, ok, battery 80 %, state
STATUS_QUERY = 0x14
RESPONSE = 0x54
HEADER_FIELDS = (5, 3, 1, 1, 1)  # protocol type, sub version, scene, org, sub org (V3)
APP_COMMAND = 0xAA
TRAILER = b"\r\n"
CHUNK = 20  # a notification at the default MTU

Workload = Callable[[], object]


def import_our_protocol() -> types.ModuleType:
    """``ttlock_hil.protocol``, installed or straight from the checkout.

    In the peers' virtualenv the project is not installed: the package folders are
    mapped by hand as setuptools' package-dir does (docs/architecture.md §2). Only
    the sans-IO layer is needed, whose dependencies are construct and cryptography.
    """
    try:
        from ttlock_hil import protocol

        return protocol
    except ImportError:
        pass
    for name, folder in (("ttlock_hil", "ttlock_hil"), ("ttlock_hil.protocol", "protocol")):
        module = types.ModuleType(name)
        module.__path__ = [str(ROOT / folder)]
        sys.modules[name] = module
    from ttlock_hil import protocol

    return protocol


# --- the floor: what struct + cryptography do with no codec around them ------------------------


class Floor:
    """The same three jobs written straight on ``struct`` and cryptography.

    No validation, no objects, one ``Cipher`` per key made once (cryptography's
    documented API: a CBC context per message, since IV = key restarts every frame),
    PKCS#7 and the CRC table loop by hand. A codec cannot do less work than this.
    """

    HEADER = struct.Struct(">2sBBBHHBBB")

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import (
            Cipher,
            algorithms,
            modes,
        )

        self.cipher = Cipher(algorithms.AES(key), modes.CBC(key))
        import_our_protocol()
        from ttlock_hil.protocol.crc import TABLE

        self.table = bytes(TABLE)
        self.buffer = bytearray()

    def crc(self, data: bytes) -> int:
        crc = 0
        table = self.table
        for byte in data:
            crc = table[crc ^ byte]
        return crc

    def encode(self, command: int, plaintext: bytes) -> bytes:
        pad = 16 - len(plaintext) % 16
        encryptor = self.cipher.encryptor()
        payload = encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()
        body = self.HEADER.pack(b"\x7fZ", *HEADER_FIELDS, command, APP_COMMAND, len(payload))
        body += payload
        return body + bytes((self.crc(body),)) + TRAILER

    def parse(self, raw: bytes) -> tuple[tuple[Any, ...], bytes]:
        fields = self.HEADER.unpack_from(raw)
        end = 12 + fields[-1]
        if self.crc(raw[:end]) != raw[end]:
            raise ValueError("crc")
        return fields, raw[12:end]

    def decode(self, raw: bytes) -> bytes:
        _, payload = self.parse(raw)
        decryptor = self.cipher.decryptor()
        padded = decryptor.update(payload) + decryptor.finalize()
        return padded[: -padded[-1]]

    def reassemble(self, first: bytes, second: bytes) -> tuple[tuple[Any, ...], bytes]:
        buffer = self.buffer
        buffer += first
        buffer += second
        size = 12 + buffer[11] + 1
        frame = bytes(buffer[:size])
        del buffer[: size + 2]
        return self.parse(frame)


# --- the implementations ----------------------------------------------------------------------


def reply_frame() -> bytes:
    """The status reply as the lock sends it (without ``0D 0A``), built by our codec."""
    import_our_protocol()
    from ttlock_hil.protocol.frame import LockHeader, encode_lock_command

    header = LockHeader(*HEADER_FIELDS)
    return encode_lock_command(RESPONSE, REPLY_PLAINTEXT, KEY, header=header)


def ours() -> dict[str, Workload]:
    import_our_protocol()
    from ttlock_hil.protocol.frame import (
        LockHeader,
        encode_lock_command,
        parse_frame,
    )
    from ttlock_hil.protocol.reassembly import FrameReassembler

    header = LockHeader(*HEADER_FIELDS)
    reply = reply_frame()
    first, second = _chunks(reply)
    reassembler = FrameReassembler()

    def encode() -> bytes:
        return encode_lock_command(STATUS_QUERY, QUERY_PLAINTEXT, KEY, header=header) + TRAILER

    def decode() -> bytes:
        return parse_frame(reply).decrypt(KEY)

    def reassemble() -> object:
        reassembler.feed(first)
        (raw,) = reassembler.feed(second)
        return parse_frame(raw)

    return {"encode": encode, "decode": decode, "reassemble": reassemble}


def floor() -> dict[str, Workload]:
    impl = Floor(KEY)
    reply = reply_frame()
    first, second = _chunks(reply)
    return {
        "encode": lambda: impl.encode(STATUS_QUERY, QUERY_PLAINTEXT),
        "decode": lambda: impl.decode(reply),
        "reassemble": lambda: impl.reassemble(first, second),
    }


def ttlock_ble() -> dict[str, Workload]:
    """ttlock-ble's codec (``ttlock_ble.protocol``, ``ttlock_ble.crypto``).

    Its ``Frame.parse`` does not check the CRC (nor does its reassembler, which
    returns parsed frames); ``decode`` and ``reassemble`` add its ``crc_compute`` so
    that it does the work ours does (our parse refuses a bad CRC). The figure
    without it is recorded too (``ttlock-ble-nocrc``).
    """
    _load_without_package_init("ttlock_ble")
    from ttlock_ble.crypto import aes_decrypt, crc_compute  # type: ignore[import-not-found]
    from ttlock_ble.protocol.frame import Frame  # type: ignore[import-not-found]
    from ttlock_ble.protocol.reassembler import (  # type: ignore[import-not-found]
        FrameReassembler,
    )

    reply = reply_frame()
    first, second = _chunks(reply)
    reassembler = FrameReassembler()

    def encode() -> bytes:
        query = Frame(*HEADER_FIELDS, STATUS_QUERY, APP_COMMAND, QUERY_PLAINTEXT)
        return bytes(query.encrypt_data(KEY).build())

    def decode() -> bytes:
        frame = Frame.parse(reply)
        if crc_compute(reply[:-1]) != reply[-1]:
            raise ValueError("crc")
        return bytes(aes_decrypt(frame.data, KEY))

    def reassemble() -> object:
        reassembler.feed(first)
        (frame,) = reassembler.feed(second)
        if crc_compute(reply[:-1]) != reply[-1]:  # the frame's bytes, as it delivered them
            raise ValueError("crc")
        return frame

    return {"encode": encode, "decode": decode, "reassemble": reassemble}


def ttlock_core() -> dict[str, Workload]:
    """ttlock (Rust ttlock-core): an operation object per command.

    ``decode`` is ``StatusOp.start()`` then ``handle_frame(reply)`` (parse, CRC,
    decrypt, state), since a reply is only accepted by an operation that sent its
    request; ``decode_minus_encode`` in the results subtracts the ``encode`` figure.
    Its assembler returns the raw frame; ``reassemble`` adds no parse (it has none
    of its own outside an operation).
    """
    import ttlock  # type: ignore[import-not-found]

    version = ttlock.LockVersion(*HEADER_FIELDS)
    reply = reply_frame()
    first, second = _chunks(reply)
    assembler = ttlock.FrameAssembler()

    def encode() -> bytes:
        _, frame = ttlock.StatusOp(KEY, version).start()
        return bytes(frame)

    def decode() -> object:
        op = ttlock.StatusOp(KEY, version)
        op.start()
        return op.handle_frame(reply)

    def reassemble() -> object:
        assembler.push(first)
        assembler.push(second)
        return assembler.next_frame()

    return {"encode": encode, "decode": decode, "reassemble": reassemble}


def _chunks(reply: bytes) -> tuple[bytes, bytes]:
    wire = reply + TRAILER
    return wire[:CHUNK], wire[CHUNK:]


def _load_without_package_init(name: str) -> None:
    """Import ``name``'s submodules without running its ``__init__``.

    ttlock-ble 0.3.2's ``__init__`` imports its BLE client, whose ``except A, B:``
    needs Python 3.14; its codec modules are valid on older interpreters. Where no
    3.14 is at hand the bench loads only those (recorded in the results).
    """
    if name in sys.modules:
        return
    if sys.version_info >= (3, 14):
        __import__(name)
        return
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(name)
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules[name] = package


# --- timing --------------------------------------------------------------------------------------


def timed_rounds(
    implementations: dict[str, dict[str, Workload]], rounds: int, iterations: int
) -> Iterator[dict[str, Any]]:
    """Interleaved rounds: every implementation once per round, per workload, CPU time."""
    for _ in range(2):  # warm up caches and specialisations
        for workloads in implementations.values():
            for run in workloads.values():
                run()
    for index in range(rounds):
        names = list(implementations)
        if index % 2:
            names.reverse()  # neither goes first every time
        for workload in ("encode", "decode", "reassemble"):
            for name in names:
                run = implementations[name][workload]
                start = time.process_time()
                for _ in range(iterations):
                    run()
                spent = time.process_time() - start
                yield {
                    "impl": name,
                    "workload": workload,
                    "round": index,
                    "us_per_op": spent / iterations * 1e6,
                }


def check_outputs(implementations: dict[str, dict[str, Workload]]) -> None:
    """Every implementation must produce the same bytes where the outputs compare."""
    ours_encode = implementations["ours"]["encode"]()
    ours_decode = implementations["ours"]["decode"]()
    for name, workloads in implementations.items():
        if name in ("ours", "ttlock-core"):
            continue
        if workloads["encode"]() != ours_encode:
            raise AssertionError(f"{name} encodes the status query differently")
        if name != "floor" and workloads["decode"]() != ours_decode:
            raise AssertionError(f"{name} decodes the status reply differently")
    if implementations.get("floor") and implementations["floor"]["decode"]() != ours_decode:
        raise AssertionError("the floor decodes the status reply differently")


def child_main(rounds: int, iterations: int) -> None:
    """The peers' side: every implementation in this one process; JSON lines out."""
    implementations: dict[str, dict[str, Workload]] = {"ours": ours(), "floor": floor()}
    from importlib import metadata

    for name, loader, dist in (
        ("ttlock-ble", ttlock_ble, "ttlock-ble"),
        ("ttlock-core", ttlock_core, "ttlock"),
    ):
        try:
            implementations[name] = loader()
            version = metadata.version(dist)
            _emit({"peer": name, "distribution": dist, "version": version})
        except Exception as exc:  # noqa: BLE001 - reported, the other peers still run
            _emit({"peer": name, "distribution": dist, "error": f"{type(exc).__name__}: {exc}"})
    check_outputs(implementations)
    _emit(
        {
            "interpreter": sys.version.split()[0],
            "implementation": sys.implementation.name,
            "construct": metadata.version("construct"),
            "cryptography": metadata.version("cryptography"),
        }
    )
    for sample in timed_rounds(implementations, rounds, iterations):
        _emit({"sample": sample})
    _emit({"done": True})


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    child_main(int(sys.argv[1]), int(sys.argv[2]))
