"""Clients for the simulator tests: the protocol's app role on a byte pipe.

Everything an app decides — keys, frames, decryption, matching, codes — is
:mod:`ttlock_hil.protocol.app`'s (:class:`~ttlock_hil.protocol.app.LockApp`,
:class:`~ttlock_hil.protocol.app.GatewayApp`). What is left here is I/O, as h11's
``tests/helpers.py`` keeps it beside the protocol:

* two byte pipes to a virtual device, so the same test runs over both:
  :class:`SansIODriver` hands bytes to ``device.receive()`` and collects
  ``take_pushes()``; :class:`BleakDriver` goes through bleak's public API
  (``BleakClient(..., backend=VirtualClientBackend, air=air)``: write-without-response
  chunks on the write characteristic, notifications from the notify one);
* :class:`LockClient` and :class:`GatewayClient`, which write what the app role sends,
  feed it what arrives and wait (with a deadline) for its answer; the lock one adds
  the login vocabulary the scenarios speak (docs/protocol.md §4.3).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from bleak import BleakClient

from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.backend import VirtualClientBackend
from ttlock_hil.harness.sim.device import VirtualDevice
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.protocol.app import (
    Event,
    FinalRule,
    GatewayApp,
    LockApp,
    Problem,
    Progress,
    Replied,
    RuleFailed,
)
from ttlock_hil.protocol.connection import AppState
from ttlock_hil.protocol.frame import V3_HEADER, LockHeader
from ttlock_hil.protocol.messages import (
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    CheckUserTimeReply,
    FunctionLock,
    GatewayRequest,
    LockDate,
    ReplyData,
    Request,
    Unlock,
)

DEADLINE = 2.0
"""Seconds any single wait on a device may take."""
QUIET = 0.15
"""How long to listen before concluding that nothing arrives (bleak pushes poll at 50 ms)."""
UNIX_TIME = 1767225600
"""2026-01-01 00:00 UTC, the unix time of the unlock vectors (docs/protocol.md §4.3)."""


class NoReply(AssertionError):
    """The device stayed silent where an answer was expected."""


class UnexpectedEvent(AssertionError):
    """The app role reported a problem where the test expected an answer."""


# --- byte pipes ----------------------------------------------------------------------


class Transport(Protocol):
    """One app-side link to a device: bytes out, notifications in."""

    async def write(self, data: bytes) -> None: ...

    async def received(self) -> list[bytes]:
        """The notifications that arrived (at least one); :class:`NoReply` if none comes."""

    async def quiet(self) -> list[bytes]:
        """Whatever arrives while listening for a short while (tests expect nothing)."""

    async def close(self) -> None: ...


class Driver(Protocol):
    """Opens transports to devices; cleans up what it opened."""

    name: str

    async def open(self, device: VirtualDevice) -> Transport: ...

    async def close(self) -> None: ...


class SansIOTransport:
    """``device.receive()`` and ``device.take_pushes()``, nothing else.

    With ``chunk``, writes go to the device and its frames come back to the app in
    pieces of that many bytes: both sides reassemble by length (§1.1).
    """

    def __init__(self, device: VirtualDevice, *, chunk: int | None = None) -> None:
        self.device = device
        self.chunk = chunk
        self._inbox: list[bytes] = []
        device.on_connect()

    def _pieces(self, data: bytes) -> list[bytes]:
        size = self.chunk or len(data) or 1
        return [data[offset : offset + size] for offset in range(0, len(data), size)]

    def _collect(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            self._inbox.extend(self._pieces(frame))

    async def write(self, data: bytes) -> None:
        for piece in self._pieces(data):
            self._collect(self.device.receive(piece))

    async def received(self) -> list[bytes]:
        taken = await self.quiet()
        if not taken:
            raise NoReply("the device produced nothing")
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

    async def open(self, device: VirtualDevice) -> Transport:
        return SansIOTransport(device, chunk=self.chunk)

    async def close(self) -> None:
        pass


class BleakTransport:
    """A BleakClient on the virtual backend: MTU-3 writes, notifications as they come."""

    def __init__(self, client: BleakClient, device: VirtualDevice) -> None:
        self.client = client
        self.device = device
        self.chunks: list[bytes] = []
        """Every notification of this link, as notified."""
        self._inbox: list[bytes] = []
        self._arrived = asyncio.Event()

    def on_notify(self, _sender: Any, data: bytearray) -> None:
        self.chunks.append(bytes(data))
        self._inbox.append(bytes(data))
        self._arrived.set()

    async def write(self, data: bytes) -> None:
        size = self.client.mtu_size - 3
        async with asyncio.timeout(DEADLINE):
            for offset in range(0, len(data), size):
                await self.client.write_gatt_char(
                    self.device.gatt.write, data[offset : offset + size], response=False
                )

    async def received(self) -> list[bytes]:
        try:
            async with asyncio.timeout(DEADLINE):
                while not self._inbox:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise NoReply(f"nothing was notified within {DEADLINE} s") from None
        taken, self._inbox = self._inbox, []
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


# --- clients -----------------------------------------------------------------------------

A = TypeVar("A", LockApp, GatewayApp)
Answer = Replied | Progress


class _Client(Generic[A]):
    """An app role on a transport: write what it sends, feed it what arrives."""

    def __init__(self, app: A, transport: Transport) -> None:
        self.app = app
        self.transport = transport
        self.events: list[Event] = []
        """Every event of this connection, in order (pushes and strays included)."""
        self._unread: deque[Event] = deque()
        app.connected()
        app.subscribed()

    def _feed(self, notifications: Iterable[bytes]) -> list[Event]:
        fresh = [event for data in notifications for event in self.app.receive_data(data)]
        self.events.extend(fresh)
        return fresh

    async def next_reply(self) -> Answer:
        """The next answer (interim or final) to the request in flight."""
        while True:
            while self._unread:
                event = self._unread.popleft()
                if isinstance(event, Replied | Progress):
                    return event
                if isinstance(event, Problem | RuleFailed):
                    raise UnexpectedEvent(f"{event!r} while waiting for an answer")
            self._unread.extend(self._feed(await self.transport.received()))

    async def _request(self, command: int, plaintext: bytes, final: FinalRule | None) -> Answer:
        self._unread.clear()
        outgoing = self.app.send(command, plaintext, final=final)
        await self.transport.write(outgoing.data)
        return await self.next_reply()

    async def answers(self, message: Any, *, final: FinalRule | None = None) -> list[Answer]:
        """Send ``message``; every answer to it, up to and including the final one."""
        collected = [await self.request(message, final=final)]
        while not isinstance(collected[-1], Replied):
            collected.append(await self.next_reply())
        return collected

    async def request(
        self, message: Any, plaintext: bytes | None = None, *, final: FinalRule | None = None
    ) -> Answer:
        raise NotImplementedError

    async def raw(self, data: bytes) -> list[Event]:
        """Write any bytes (a crafted frame); the events of whatever comes back."""
        await self.transport.write(data)
        return await self.quiet()

    async def quiet(self) -> list[Event]:
        """The events of whatever arrives while listening a short while."""
        return self._feed(await self.transport.quiet())

    async def close(self) -> None:
        await self.transport.close()
        if self.app.state is not AppState.CLOSED:
            self.app.disconnected()


class LockClient(_Client[LockApp]):
    """A :class:`~ttlock_hil.protocol.app.LockApp` towards one lock over one transport."""

    @classmethod
    async def open(
        cls,
        driver: Driver,
        lock: VirtualLock,
        *,
        key: bytes | None = None,
        header: LockHeader = V3_HEADER,
    ) -> LockClient:
        """Connect to ``lock``; a paired lock's key defaults to the one it holds."""
        transport = await driver.open(lock)
        if key is None and not lock.setting_mode:
            credentials = lock.credentials
            assert credentials is not None
            key = credentials.aes_key
        app = LockApp(setting_mode=lock.setting_mode, lock_key=key, header=header)
        return cls(app, transport)

    @property
    def key(self) -> bytes | None:
        return self.app.lock_key

    @property
    def setting_mode(self) -> bool:
        return self.app.setting_mode

    async def request(
        self,
        message: Request | int,
        plaintext: bytes | None = None,
        *,
        final: FinalRule | None = None,
    ) -> Answer:
        """Send a message (or an opcode with its plaintext); its first answer."""
        if isinstance(message, Request):
            return await self._request(message.COMMAND, message.encode(), final)
        return await self._request(message, plaintext or b"", final)

    async def data(self, message: Request) -> ReplyData:
        """Send ``message``; the typed data of its successful reply."""
        reply = await self.request(message)
        assert reply.ok, f"{type(message).__name__} failed with error byte {reply.error_byte}"
        data = reply.message
        assert isinstance(data, ReplyData)
        return data

    async def error(self, message: Request) -> int | None:
        """Send ``message``; the error byte of its failed reply."""
        reply = await self.request(message)
        assert not reply.ok, f"{type(message).__name__} unexpectedly succeeded: {reply!r}"
        return reply.error_byte

    async def login_admin(
        self, admin_ps: int, unlock_key: int, *, flag_pos: int = 0, uid: int = 0
    ) -> int:
        """0x41 then 0x30 (§4.3); returns the lock's ps."""
        ps = await self.challenge_admin(admin_ps, flag_pos=flag_pos, uid=uid)
        await self.data(CheckRandom.answer(ps, unlock_key))
        return ps

    async def challenge_admin(self, admin_ps: int, *, flag_pos: int = 0, uid: int = 0) -> int:
        check = await self.data(CheckAdmin(admin_ps, flag_pos, uid))
        assert isinstance(check, CheckAdminReply)
        return check.ps

    async def login_user(
        self, start: LockDate, end: LockDate, *, flag_pos: int = 0, uid: int = 0
    ) -> int:
        check = await self.data(CheckUserTime(start, end, flag_pos, uid))
        assert isinstance(check, CheckUserTimeReply)
        return check.ps

    async def unlock(self, ps: int, unlock_key: int) -> Answer:
        return await self.request(Unlock.answer(ps, unlock_key, UNIX_TIME))

    async def lock(self, ps: int, unlock_key: int) -> Answer:
        return await self.request(FunctionLock.answer(ps, unlock_key, UNIX_TIME))


class GatewayClient(_Client[GatewayApp]):
    """A :class:`~ttlock_hil.protocol.app.GatewayApp` towards one gateway (§7)."""

    @classmethod
    async def open(cls, driver: Driver, gateway: VirtualGateway) -> GatewayClient:
        return cls(GatewayApp(gateway.address), await driver.open(gateway))

    async def request(
        self,
        message: GatewayRequest | int,
        plaintext: bytes | None = None,
        *,
        final: FinalRule | None = None,
    ) -> Answer:
        if isinstance(message, GatewayRequest):
            return await self._request(message.COMMAND, message.encode(), final)
        return await self._request(message, plaintext or b"", final)

    async def status(self, message: GatewayRequest) -> int:
        """Send ``message``; the status byte of its first answer (§5.2)."""
        return (await self.request(message)).plaintext[0]

    async def next_status(self) -> int:
        """The status byte of the next answer to the request in flight."""
        return (await self.next_reply()).plaintext[0]
