"""A small app role for the simulator tests: speak TTLock to a virtual device.

Not the harness: just enough of an app to drive :class:`VirtualLock` and
:class:`VirtualGateway` through two transports with the *same* test code:

* :class:`SansIODriver` hands bytes to ``device.receive()`` and collects
  ``take_pushes()``;
* :class:`BleakDriver` goes through bleak's public API
  (``BleakClient(..., backend=VirtualClientBackend, air=air)``): chunked
  write-without-response on the write characteristic, notifications
  reassembled by length (:mod:`ttlock_hil.protocol.reassembly`).

:class:`LockApp` builds requests with :mod:`ttlock_hil.protocol.messages` and the frame
codec and tracks the key with :class:`ttlock_hil.protocol.connection.AppConnection` (the
app role of the shared state table), so a lock that breaks the table fails the
test with ``IllegalTransition``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

from bleak import BleakClient

from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.backend import VirtualClientBackend
from ttlock_hil.harness.sim.device import VirtualDevice
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import SETTING_MODE_STATES, AppConnection, AppState, Stray
from ttlock_hil.protocol.crypto import gateway_key
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    V3_HEADER,
    GatewayFrame,
    LockFrame,
    LockHeader,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)
from ttlock_hil.protocol.messages import (
    GATEWAY_MESSAGES,
    AesKeyReply,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    CheckUserTimeReply,
    FunctionLock,
    GatewayReply,
    GatewayRequest,
    LockDate,
    Reply,
    ReplyData,
    Request,
    SsidScanReply,
    Unlock,
    decode_gateway_reply,
    decode_reply,
    parse_gateway_reply,
    parse_reply,
)
from ttlock_hil.protocol.reassembly import FrameReassembler

DEADLINE = 2.0
"""Seconds any single wait on a device may take."""
QUIET = 0.15
"""How long to listen before concluding that nothing arrives (bleak pushes poll at 50 ms)."""
UNIX_TIME = 1767225600
"""2026-01-01 00:00 UTC, the unix time of the unlock vectors (docs/protocol.md §4.3)."""


class NoReply(AssertionError):
    """The device stayed silent where a reply was expected."""


class Transport(Protocol):
    """One app-side link to a device: whole request frames out, whole frames in."""

    async def write(self, frame: bytes) -> None: ...

    async def frames(self, count: int) -> list[bytes]:
        """The next ``count`` frames (no CRLF); :class:`NoReply` if they do not come."""

    async def quiet(self) -> list[bytes]:
        """Whatever arrives while listening for a short while (tests expect nothing)."""

    async def close(self) -> None: ...


class Driver(Protocol):
    """Opens transports to devices; cleans up what it opened."""

    name: str

    async def open(self, device: VirtualDevice) -> Transport: ...

    async def close(self) -> None: ...


# --- sans-IO ---------------------------------------------------------------------


class SansIOTransport:
    """``device.receive()`` and ``device.take_pushes()``, nothing else."""

    def __init__(self, device: VirtualDevice, *, chunk: int | None = None) -> None:
        self.device = device
        self.chunk = chunk
        channel = DeviceKind.GATEWAY if device.kind is DeviceKind.GATEWAY else DeviceKind.LOCK
        self._reassembler = FrameReassembler(channel)
        self._inbox: list[bytes] = []
        device.on_connect()

    def _collect(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            self._inbox.extend(self._reassembler.feed(frame))

    async def write(self, frame: bytes) -> None:
        size = self.chunk or len(frame)
        for offset in range(0, len(frame), size):
            self._collect(self.device.receive(frame[offset : offset + size]))

    async def frames(self, count: int) -> list[bytes]:
        self._collect(self.device.take_pushes())
        if len(self._inbox) < count:
            raise NoReply(f"expected {count} frame(s), the device produced {len(self._inbox)}")
        taken, self._inbox = self._inbox[:count], self._inbox[count:]
        return taken

    async def quiet(self) -> list[bytes]:
        self._collect(self.device.take_pushes())
        taken, self._inbox = self._inbox, []
        return taken

    async def close(self) -> None:
        self.device.on_disconnect()


class SansIODriver:
    name = "receive"

    def __init__(self, *, chunk: int | None = None) -> None:
        self.chunk = chunk
        self._open: list[SansIOTransport] = []

    async def open(self, device: VirtualDevice) -> Transport:
        transport = SansIOTransport(device, chunk=self.chunk)
        self._open.append(transport)
        return transport

    async def close(self) -> None:
        self._open.clear()


# --- bleak -----------------------------------------------------------------------


class BleakTransport:
    """A BleakClient on the virtual backend; notifications reassembled by length."""

    def __init__(self, client: BleakClient, device: VirtualDevice) -> None:
        self.client = client
        self.device = device
        channel = DeviceKind.GATEWAY if device.kind is DeviceKind.GATEWAY else DeviceKind.LOCK
        self._reassembler = FrameReassembler(channel)
        self._inbox: list[bytes] = []
        self._arrived = asyncio.Event()
        self.chunks: list[bytes] = []

    def on_notify(self, _sender: Any, data: bytearray) -> None:
        self.chunks.append(bytes(data))
        self._inbox.extend(self._reassembler.feed(data))
        self._arrived.set()

    async def write(self, frame: bytes) -> None:
        size = self.client.mtu_size - 3
        async with asyncio.timeout(DEADLINE):
            for offset in range(0, len(frame), size):
                await self.client.write_gatt_char(
                    self.device.gatt.write, frame[offset : offset + size], response=False
                )

    async def frames(self, count: int) -> list[bytes]:
        try:
            async with asyncio.timeout(DEADLINE):
                while len(self._inbox) < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise NoReply(
                f"expected {count} frame(s) within {DEADLINE} s, got {len(self._inbox)}"
            ) from None
        taken, self._inbox = self._inbox[:count], self._inbox[count:]
        return taken

    async def quiet(self) -> list[bytes]:
        await asyncio.sleep(QUIET)
        taken, self._inbox = self._inbox, []
        return taken

    async def close(self) -> None:
        async with asyncio.timeout(DEADLINE):
            await self.client.disconnect()


class BleakDriver:
    """Puts each device on its own :class:`Air` and connects through bleak."""

    name = "bleak"

    def __init__(self) -> None:
        self.airs: dict[int, Air] = {}
        self._clients: list[BleakClient] = []

    def air_of(self, device: VirtualDevice) -> Air:
        air = self.airs.get(id(device))
        if air is None:
            air = self.airs[id(device)] = Air([device])
        return air

    async def open(self, device: VirtualDevice) -> Transport:
        client = BleakClient(
            device.address,
            backend=VirtualClientBackend,
            air=self.air_of(device),
            timeout=DEADLINE,
        )
        transport = BleakTransport(client, device)
        async with asyncio.timeout(DEADLINE * 2):
            await client.connect()
            await client.start_notify(device.gatt.notify, transport.on_notify)
        self._clients.append(client)
        return transport

    async def close(self) -> None:
        async with asyncio.timeout(DEADLINE):
            for client in self._clients:
                if client.is_connected:
                    await client.disconnect()
        self._clients.clear()


# --- the lock app ------------------------------------------------------------------


class LockApp:
    """The app role towards one lock over one transport (one connection).

    ``key``: the lock's AES key if the app holds credentials (paired lock);
    ``setting_mode``: what the app believes (the advert's bit). ``header``:
    what the app puts on requests (the vendor sends 5.3.1.1.1, §2.1).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        setting_mode: bool,
        key: bytes | None = None,
        header: LockHeader = V3_HEADER,
    ) -> None:
        self.transport = transport
        self.header = header
        self.connection = AppConnection(setting_mode=setting_mode, lock_key=key)
        self.connection.connected()
        self.connection.subscribed()
        self.replies: list[Reply] = []

    @classmethod
    async def open(
        cls, driver: Driver, lock: VirtualLock, *, key: bytes | None = None, **kwargs: Any
    ) -> LockApp:
        """Connect to ``lock``; a paired lock's key defaults to the one it holds."""
        transport = await driver.open(lock)
        if key is None and not lock.setting_mode:
            credentials = lock.credentials
            assert credentials is not None
            key = credentials.aes_key
        return cls(transport, setting_mode=lock.setting_mode, key=key, **kwargs)

    @property
    def key(self) -> bytes | None:
        return self.connection.lock_key

    @property
    def setting_mode(self) -> bool:
        return self.connection.lock_view in SETTING_MODE_STATES

    def frame(self, command: int, plaintext: bytes, key: bytes | None = None) -> bytes:
        """The wire form (with ``0D 0A``) of a request, under the key the app would use."""
        use = key if key is not None else self.connection.key_for(command)
        return encode_lock_command(command, plaintext, use, header=self.header) + LOCK_TRAILER

    def decode(self, frame: bytes, key: bytes | None = None) -> Reply:
        parsed = parse_frame(frame)
        assert isinstance(parsed, LockFrame)
        assert parsed.command == LockCommand.RESPONSE
        assert parsed.encrypt == 0xAA
        return parse_reply(parsed.decrypt(key if key is not None else self.connection.reply_key))

    async def exchange(self, command: int, plaintext: bytes, *, partial: bool = False) -> Reply:
        """Send one request; wait for the reply echoing it (pushes before it are kept aside)."""
        frame = self.frame(command, plaintext)
        self.connection.send(command)
        await self.transport.write(frame)
        while True:
            reply = self.decode((await self.transport.frames(1))[0])
            aes_key = None
            if reply.command == LockCommand.GET_AES_KEY and reply.ok:
                aes_key = decode_reply(reply).key  # type: ignore[attr-defined]
            seen = self.connection.receive(
                reply.command, success=reply.ok, final=not partial, aes_key=aes_key
            )
            self.replies.append(reply)
            if not isinstance(seen, Stray):
                return reply

    async def request(self, message: Request, *, partial: bool = False) -> Reply:
        return await self.exchange(message.COMMAND, message.encode(), partial=partial)

    async def data(self, message: Request) -> ReplyData:
        """Send ``message`` and return the typed data of its successful reply."""
        reply = await self.request(message)
        assert reply.ok, f"{type(message).__name__} failed with error byte {reply.error_byte}"
        return decode_reply(reply)

    async def error(self, message: Request) -> int | None:
        """Send ``message`` and return the error byte of its failed reply."""
        reply = await self.request(message)
        assert not reply.ok, f"{type(message).__name__} unexpectedly succeeded: {reply}"
        return reply.error_byte

    async def next_reply(self, *, final: bool = True) -> Reply:
        """The next notification completing (or advancing) the command in flight."""
        reply = self.decode((await self.transport.frames(1))[0])
        self.connection.receive(reply.command, success=reply.ok, final=final)
        self.replies.append(reply)
        return reply

    async def raw(self, frame: bytes) -> list[bytes]:
        """Write any frame bytes; return what comes back (possibly nothing)."""
        await self.transport.write(frame)
        return await self.transport.quiet()

    async def login_admin(
        self, admin_ps: int, unlock_key: int, *, flag_pos: int = 0, uid: int = 0
    ) -> int:
        """0x41 then 0x30 (§4.3); returns the lock's ps."""
        check = await self.data(CheckAdmin(admin_ps, flag_pos, uid))
        assert isinstance(check, CheckAdminReply)
        await self.data(CheckRandom.answer(check.ps, unlock_key))
        return check.ps

    async def challenge_admin(self, admin_ps: int, *, flag_pos: int = 0, uid: int = 0) -> int:
        check = await self.data(CheckAdmin(admin_ps, flag_pos, uid))
        assert isinstance(check, CheckAdminReply)
        return check.ps

    async def login_user(
        self,
        start: LockDate,
        end: LockDate,
        *,
        flag_pos: int = 0,
        uid: int = 0,
    ) -> int:
        check = await self.data(CheckUserTime(start, end, flag_pos, uid))
        assert isinstance(check, CheckUserTimeReply)
        return check.ps

    async def unlock(self, ps: int, unlock_key: int) -> Reply:
        return await self.request(Unlock.answer(ps, unlock_key, UNIX_TIME))

    async def lock(self, ps: int, unlock_key: int) -> Reply:
        return await self.request(FunctionLock.answer(ps, unlock_key, UNIX_TIME))

    async def close(self) -> None:
        await self.transport.close()
        if self.connection.state is not AppState.CLOSED:
            self.connection.disconnected()


def aes_key_of(reply: Reply) -> bytes:
    data = decode_reply(reply)
    assert isinstance(data, AesKeyReply)
    return data.key


# --- the gateway app -----------------------------------------------------------------


class GatewayApp:
    """The app role towards one gateway (key = AES of the reversed MAC, §7)."""

    def __init__(self, transport: Transport, gateway: VirtualGateway) -> None:
        self.transport = transport
        self.key = gateway_key(gateway.address)

    @classmethod
    async def open(cls, driver: Driver, gateway: VirtualGateway) -> GatewayApp:
        return cls(await driver.open(gateway), gateway)

    def frame(self, command: int, plaintext: bytes) -> bytes:
        return encode_gateway_command(command, plaintext, self.key)

    def decode(self, command: int, frame: bytes) -> GatewayReply | SsidScanReply:
        parsed = parse_frame(frame)
        assert isinstance(parsed, GatewayFrame)
        assert parsed.command == command, f"reply to 0x{parsed.command:02x}, sent 0x{command:02x}"
        plaintext = parsed.decrypt(self.key)
        if command not in GATEWAY_MESSAGES:  # an opcode no app sends: read the status only
            return parse_gateway_reply(plaintext)
        return decode_gateway_reply(command, plaintext)

    async def exchange(
        self, command: int, plaintext: bytes, *, replies: int = 1
    ) -> list[GatewayReply | SsidScanReply]:
        await self.transport.write(self.frame(command, plaintext))
        return [self.decode(command, f) for f in await self.transport.frames(replies)]

    async def request(self, message: GatewayRequest) -> GatewayReply:
        (reply,) = await self.exchange(message.COMMAND, message.encode())
        assert isinstance(reply, GatewayReply), reply
        return reply

    async def status(self, message: GatewayRequest) -> int:
        return (await self.request(message)).status

    async def next_status(self, command: int) -> int:
        (frame,) = await self.transport.frames(1)
        reply = self.decode(command, frame)
        assert isinstance(reply, GatewayReply)
        return reply.status

    async def raw(self, frame: bytes) -> list[bytes]:
        await self.transport.write(frame)
        return await self.transport.quiet()

    async def close(self) -> None:
        await self.transport.close()
