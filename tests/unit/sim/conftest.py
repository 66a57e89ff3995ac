"""Test support for the virtual transports: an echo device and notification collectors.

:class:`EchoDevice` is the smallest honest :class:`VirtualDevice`: it reassembles
what it is written by length (like a lock) and answers every complete request
frame with one fixed, well-formed reply frame built with :mod:`ttlock_hil.protocol.frame`.
It keeps what it saw so tests can tell "reached the device" from "did not".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.backend import TASK_PREFIX
from ttlock_hil.harness.sim.device import (
    GATEWAY_GATT,
    LOCK_GATT,
    Advertisement,
    GattProfile,
)
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, gateway_key, parse_mac
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    LockHeader,
    encode_gateway_command,
    encode_lock_command,
)
from ttlock_hil.protocol.reassembly import FrameReassembler

LOCK_ADDRESS = "EE:C6:A2:04:9A:F6"
GATEWAY_ADDRESS = "AA:BB:CC:DD:EE:FF"
REPLY_HEADER = LockHeader(5, 3, 2, 1, 1)
"""What real V3 locks put on their replies (docs/protocol.md §2.1)."""
RESPONSE = 0x54
"""Header command of every lock reply ('T', COMM_RESPONSE, §2.1)."""
REPLY_DATA = bytes(range(20))
"""Reply data long enough for a 32-byte ciphertext: a 47-byte frame, 3 notifications."""


class EchoDevice:
    """A VirtualDevice answering each complete request with a fixed reply frame."""

    def __init__(
        self,
        kind: DeviceKind = DeviceKind.LOCK,
        *,
        address: str | None = None,
        name: str | None = None,
        battery: int = 80,
    ) -> None:
        self._kind = kind
        default = LOCK_ADDRESS if kind is DeviceKind.LOCK else GATEWAY_ADDRESS
        self._address = (address or default).upper()
        mac = parse_mac(self._address)
        self._name = name or ("S202F_" if kind is DeviceKind.LOCK else "G2_") + mac[:2:-1].hex()
        self.battery = battery
        self.key = DEFAULT_LOCK_KEY if kind is DeviceKind.LOCK else gateway_key(self._address)
        channel = DeviceKind.LOCK if kind is DeviceKind.LOCK else DeviceKind.GATEWAY
        self._reassembler = FrameReassembler(channel)
        self.requests: list[bytes] = []
        self.writes: list[bytes] = []
        self.pending_pushes: list[bytes] = []
        self.connects = 0
        self.disconnects = 0

    # --- VirtualDevice --------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> str:
        return self._address

    @property
    def kind(self) -> DeviceKind:
        return self._kind

    @property
    def gatt(self) -> GattProfile:
        return LOCK_GATT if self._kind is DeviceKind.LOCK else GATEWAY_GATT

    def advertisement(self) -> Advertisement:
        mac_reversed = parse_mac(self._address)[::-1]
        if self._kind is DeviceKind.LOCK:
            # d = 05 03 | scene 2 | flags 0 | battery | … | MAC reversed (docs/protocol.md §6)
            rest = bytes([2, 0x00, self.battery]) + bytes(6) + mac_reversed
            return Advertisement(self._name, {0x0305: rest}, [LOCK_GATT.service])
        # gateway G2 header (0x11, 0x19): company id 0x1911
        return Advertisement(self._name, {0x1911: mac_reversed}, [GATEWAY_GATT.service], rssi=-70)

    def receive(self, data: bytes) -> list[bytes]:
        self.writes.append(data)
        replies = []
        for frame in self._reassembler.feed(data):
            self.requests.append(frame)
            command = frame[9] if self._kind is DeviceKind.LOCK else frame[2]
            replies.append(self.reply_to(command))
        return replies

    def take_pushes(self) -> list[bytes]:
        pushes, self.pending_pushes = self.pending_pushes, []
        return pushes

    def error_reply(self, command: int, error: int) -> bytes:
        return self._frame(command, bytes([command, 0x00, error]))

    def push_frame(self) -> bytes:
        return self._frame(0x14, bytes([0x14, 0x01, self.battery, 0x00, 0x00]))

    def on_connect(self) -> None:
        self.connects += 1

    def on_disconnect(self) -> None:
        self.disconnects += 1

    # --- helpers for tests ------------------------------------------------------

    def reply_to(self, command: int) -> bytes:
        """The reply this device sends to a request with ``command``."""
        return self._frame(command, bytes([command, 0x01]) + REPLY_DATA)

    def request(self, command: int, plaintext: bytes = b"\x01\x02\x03") -> bytes:
        """A request frame as an app writes it (lock: with ``0D 0A``)."""
        if self._kind is DeviceKind.LOCK:
            return encode_lock_command(command, plaintext, self.key) + LOCK_TRAILER
        return encode_gateway_command(command, plaintext, self.key)

    def _frame(self, command: int, plaintext: bytes) -> bytes:
        if self._kind is DeviceKind.LOCK:
            return (
                encode_lock_command(RESPONSE, plaintext, self.key, header=REPLY_HEADER)
                + LOCK_TRAILER
            )
        return encode_gateway_command(command, plaintext, self.key)


def strip_trailer(frame: bytes) -> bytes:
    """A reply as the reassembler returns it (no ``0D 0A``)."""
    return frame[:-2] if frame.endswith(LOCK_TRAILER) else frame


def chunks(data: bytes, size: int = 20) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class Notifications:
    """A ``start_notify`` callback that keeps chunks and reassembled frames."""

    def __init__(self, channel: DeviceKind = DeviceKind.LOCK) -> None:
        self.chunks: list[bytes] = []
        self.frames: list[bytes] = []
        self.reassembler = FrameReassembler(channel)
        self._changed = asyncio.Event()

    def __call__(self, _sender: Any, data: bytearray) -> None:
        self.chunks.append(bytes(data))
        self.frames.extend(self.reassembler.feed(data))
        self._changed.set()

    async def wait_frames(self, count: int) -> list[bytes]:
        """Wait until ``count`` frames arrived (callers put a deadline around it)."""
        while len(self.frames) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.frames


async def send(client: Any, frame: bytes, size: int = 20, char: str = "fff2") -> None:
    """Write ``frame`` in ``size``-byte chunks, without response (the vendor way)."""
    for chunk in chunks(frame, size):
        await client.write_gatt_char(char, chunk, response=False)


@pytest.fixture
def lock() -> EchoDevice:
    return EchoDevice(DeviceKind.LOCK)


@pytest.fixture
def gateway() -> EchoDevice:
    return EchoDevice(DeviceKind.GATEWAY)


@pytest.fixture
def air(lock: EchoDevice, gateway: EchoDevice) -> Air:
    return Air([lock, gateway])


@pytest.fixture(autouse=True)
async def no_lingering_sim_tasks() -> AsyncIterator[None]:
    """Every test must leave no scanner/client task of the backends running."""
    yield
    await asyncio.sleep(0)  # let just-cancelled tasks finish
    left = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith(TASK_PREFIX) and not task.done()
    ]
    assert not left, f"backend tasks outlived the test: {left}"
