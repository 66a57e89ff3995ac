"""Quick start: exercise a TTLock client against the virtual lock, with no radio.

Run it from the project root (``python examples/simulator_quickstart.py``);
docs/simulator.md walks through it. Two ways in:

1. **sans-IO**: hand request bytes to ``lock.receive()`` and read the reply
   frames it returns: no event loop, no bleak, ideal for unit tests of a codec.
2. **bleak**: put the lock on an ``Air`` and drive it with the real
   ``BleakScanner``/``BleakClient`` through the virtual backends, exactly as
   your client would drive a lock on the radio.
"""

from __future__ import annotations

import asyncio
import random

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from ttlock_hil.harness.sim import (
    Air,
    Fault,
    VirtualClientBackend,
    VirtualLock,
    VirtualScannerBackend,
    create_device,
)
from ttlock_hil.protocol.advert import parse_bleak
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import LOCK_TRAILER, LockFrame, encode_lock_command, parse_frame
from ttlock_hil.protocol.messages import (
    AddAdmin,
    AesKeyReply,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    GetAesKey,
    Reply,
    Request,
    SearchStatus,
    StatusReply,
    Unlock,
    UnlockReply,
    decode_reply,
    parse_reply,
)
from ttlock_hil.protocol.reassembly import FrameReassembler

ADMIN_PS = 12345678  # what *your* app chose during ADD_ADMIN
UNLOCK_KEY = 87654321
DEADLINE = 5.0  # seconds: every wait on a device has one
UNIX_TIME = 1767225600


def request(message: Request, key: bytes) -> bytes:
    """What an app writes for ``message``: V3 frame, AES with ``key``, then 0D 0A."""
    return encode_lock_command(message.COMMAND, message.encode(), key) + LOCK_TRAILER


def answer(frame: bytes, key: bytes) -> Reply:
    """A reply frame (0x54, [echo][status][data]) decrypted and split."""
    parsed = parse_frame(frame)
    assert isinstance(parsed, LockFrame)
    return parse_reply(parsed.decrypt(key))


def sans_io_demo() -> tuple[VirtualLock, bytes]:
    """Initialise a factory-fresh lock by calling receive() directly."""
    lock = create_device("v3-keypad", rng=random.Random(1))  # seeded: reproducible keys
    assert isinstance(lock, VirtualLock)
    (frame,) = lock.receive(request(GetAesKey(), DEFAULT_LOCK_KEY))
    issued = decode_reply(answer(frame, DEFAULT_LOCK_KEY))
    assert isinstance(issued, AesKeyReply)
    key = issued.key  # from now on everything uses the lock's own key
    (frame,) = lock.receive(request(AddAdmin(ADMIN_PS, UNLOCK_KEY), key))
    print(f"sans-IO: ADD_ADMIN ok={answer(frame, key).ok}, setting mode={lock.setting_mode}")
    (frame,) = lock.receive(request(Unlock.answer(0, UNLOCK_KEY, UNIX_TIME), key))
    print(f"sans-IO: unlock without login -> error {answer(frame, key).error_byte}")
    lock.on_disconnect()  # end this "connection": the login would be gone
    return lock, key


class TinyClient:
    """Stands for *your* TTLock client: one request, one reply, over bleak."""

    def __init__(self, client: BleakClient, key: bytes) -> None:
        self.client = client
        self.key = key
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.reassembler = FrameReassembler(DeviceKind.LOCK)  # by length, never by CRLF

    def on_notify(self, _sender: object, data: bytearray) -> None:
        for frame in self.reassembler.feed(data):
            self.frames.put_nowait(frame)

    async def start(self) -> None:
        await self.client.start_notify("fff4", self.on_notify)  # wire replies first

    async def call(self, message: Request) -> Reply:
        wire = request(message, self.key)
        size = self.client.mtu_size - 3  # 20 bytes at the default MTU
        async with asyncio.timeout(DEADLINE):
            for offset in range(0, len(wire), size):
                await self.client.write_gatt_char("fff2", wire[offset : offset + size], False)
            return answer(await self.frames.get(), self.key)


async def bleak_demo(lock: VirtualLock, key: bytes) -> None:
    air = Air([lock])
    adverts: dict[str, AdvertisementData] = {}

    def is_our_lock(found: BLEDevice, data: AdvertisementData) -> bool:
        adverts[found.address] = data
        return found.address == lock.address

    async with asyncio.timeout(DEADLINE):
        device = await BleakScanner.find_device_by_filter(
            is_our_lock, timeout=DEADLINE, backend=VirtualScannerBackend.bind(air)
        )
    assert device is not None
    ((company_id, rest),) = adverts[device.address].manufacturer_data.items()
    seen = parse_bleak(company_id, rest)  # TTLock's manufacturer data (docs/protocol.md §6)
    print(
        f"bleak: found {device.name} (setting mode: {seen.setting_mode}, battery {seen.battery}%)"
    )
    async with BleakClient(device, backend=VirtualClientBackend, air=air) as client:
        app = TinyClient(client, key)
        await app.start()
        challenge = decode_reply(await app.call(CheckAdmin(ADMIN_PS)))
        assert isinstance(challenge, CheckAdminReply)
        assert (await app.call(CheckRandom.answer(challenge.ps, UNLOCK_KEY))).ok
        opened = decode_reply(await app.call(Unlock.answer(challenge.ps, UNLOCK_KEY, UNIX_TIME)))
        assert isinstance(opened, UnlockReply)
        print(f"bleak: unlocked, record {opened.unique_id}, battery {opened.battery}%")
        status = decode_reply(await app.call(SearchStatus()))
        assert isinstance(status, StatusReply)
        print(f"bleak: status {status.lock_state.name}")
        # Fault injection: the next status request is answered "double locked" (0x1E).
        air.faults(lock.address).add(Fault.ERROR_REPLY, command=0x14, error=0x1E)
        print(f"bleak: injected error -> {(await app.call(SearchStatus())).error_byte}")
        # The bench: a flat battery makes the lock refuse to move the bolt (error 10).
        lock.battery = 3
        refused = await app.call(Unlock.answer(challenge.ps, UNLOCK_KEY, UNIX_TIME))
        print(f"bleak: flat battery -> error {refused.error_byte}")


def main() -> None:
    lock, key = sans_io_demo()
    asyncio.run(bleak_demo(lock, key))
    print("done")


if __name__ == "__main__":
    main()
