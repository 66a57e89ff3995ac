"""Quick start: exercise a TTLock client against the virtual lock, with no radio.

Run it from the project root (``python examples/simulator_quickstart.py``);
docs/simulator.md walks through it. Two ways in:

1. **sans-IO**: hand request bytes to ``lock.receive()`` and read the reply
   frames it returns: no event loop, no bleak, ideal for unit tests of a codec.
2. **bleak**: put the lock on an ``Air`` and drive it with the real
   ``BleakScanner``/``BleakClient`` through the virtual backends, exactly as
   your client would drive a lock on the radio.

Both ways, the app side is the protocol's app role, ``ttlock_hil.protocol.app.LockApp``:
it makes the request bytes (frame, key, ``0D 0A``) and turns what arrives into events
(a ``Replied`` with its error byte and TTLock code, pushes, problems), so the example
never encrypts, decrypts or reassembles anything itself.
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
from ttlock_hil.protocol.app import LockApp, Replied
from ttlock_hil.protocol.messages import (
    AddAdmin,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    GetAesKey,
    Request,
    SearchStatus,
    StatusReply,
    Unlock,
    UnlockReply,
)

ADMIN_PS = 12345678  # what *your* app chose during ADD_ADMIN
UNLOCK_KEY = 87654321
DEADLINE = 5.0  # seconds: every wait on a device has one
UNIX_TIME = 1767225600


def exchange(app: LockApp, lock: VirtualLock, message: Request) -> Replied:
    """One request through receive(): the app role makes the bytes and reads the reply."""
    frames = lock.receive(app.send(message).data)  # V3 frame, the right key, then 0D 0A
    (reply,) = [event for frame in frames for event in app.receive_data(frame)]
    assert isinstance(reply, Replied)
    return reply


def sans_io_demo() -> tuple[VirtualLock, bytes]:
    """Initialise a factory-fresh lock by calling receive() directly."""
    lock = create_device("v3-keypad", rng=random.Random(1))  # seeded: reproducible keys
    assert isinstance(lock, VirtualLock)
    app = LockApp(setting_mode=lock.setting_mode)  # the advert's bit: a factory-fresh lock
    app.connected()
    app.subscribed()
    lock.on_connect()
    exchange(app, lock, GetAesKey())  # under the default key; the app keeps the key it hands out
    key = app.lock_key  # from now on everything uses the lock's own key
    assert key is not None
    added = exchange(app, lock, AddAdmin(ADMIN_PS, UNLOCK_KEY))
    print(f"sans-IO: ADD_ADMIN ok={added.ok}, setting mode={lock.setting_mode}")
    refused = exchange(app, lock, Unlock.answer(0, UNLOCK_KEY, UNIX_TIME))
    print(f"sans-IO: unlock without login -> error {refused.error_byte}")
    lock.on_disconnect()  # end this "connection": the login would be gone
    app.disconnected()
    return lock, key


class TinyClient:
    """Stands for *your* TTLock client: the protocol's app role over bleak, one call at a time."""

    def __init__(self, client: BleakClient, key: bytes) -> None:
        self.client = client
        self.app = LockApp(setting_mode=False, lock_key=key)  # paired: lockData's aesKey
        self.replies: asyncio.Queue[Replied] = asyncio.Queue()

    def on_notify(self, _sender: object, data: bytearray) -> None:
        for event in self.app.receive_data(data):  # any chunking: reassembled by length
            if isinstance(event, Replied):  # pushes (Pushed) and strays are not replies
                self.replies.put_nowait(event)

    async def start(self) -> None:
        self.app.connected()
        await self.client.start_notify("fff4", self.on_notify)  # wire replies first
        self.app.subscribed()

    async def call(self, message: Request) -> Replied:
        wire = self.app.send(message).data
        size = self.client.mtu_size - 3  # 20 bytes at the default MTU
        try:
            async with asyncio.timeout(DEADLINE):
                for offset in range(0, len(wire), size):
                    await self.client.write_gatt_char("fff2", wire[offset : offset + size], False)
                return await self.replies.get()
        except TimeoutError:
            self.app.timeout()  # stop waiting: a late reply is then a stray, not the next reply
            raise


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
        challenge = (await app.call(CheckAdmin(ADMIN_PS))).message
        assert isinstance(challenge, CheckAdminReply)
        assert (await app.call(CheckRandom.answer(challenge.ps, UNLOCK_KEY))).ok
        opened = (await app.call(Unlock.answer(challenge.ps, UNLOCK_KEY, UNIX_TIME))).message
        assert isinstance(opened, UnlockReply)
        print(f"bleak: unlocked, record {opened.unique_id}, battery {opened.battery}%")
        status = (await app.call(SearchStatus())).message
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
