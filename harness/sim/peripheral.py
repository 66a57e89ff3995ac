"""The device side of one connection, the same on every tier that hosts the simulator.

A transport (the in-process bleak backend, the BlueZ D-Bus double, the Bumble
peripheral) owns how bytes reach the app — a bleak callback, a D-Bus signal, an ATT
notification. Everything between a write arriving and notifications leaving is one
piece of logic, here, so a fault behaves the same on every tier (docs/architecture.md
§5):

* chunks written by the app are reassembled by length (docs/protocol.md §1.1);
  :meth:`PeripheralLink.write` first asks the fault plan whether this write fails
  (``Fault.WRITE_FAILED``);
* each complete request frame goes to ``device.receive()`` (lock frames with their
  ``0D 0A``) after the fault plan decided its faults (silence, delay, bad CRC, error
  reply, drop before or after the reply, MTU change…);
* reply frames leave as MTU−3 chunks, each in its own loop turn (never inside the
  write: docs/architecture.md §12.5), through the transport's ``deliver``;
* unsolicited frames (``device.take_pushes()``) are collected after every write and
  every ``push_interval`` seconds;
* work scheduled for a connection that has since ended is void (a generation counter).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import GATEWAY_MAGIC, LOCK_MAGIC, LOCK_TRAILER
from ttlock_hil.protocol.reassembly import FrameReassembler

from .air import OnAir
from .faults import frame_command

__all__ = ["DEFAULT_PUSH_INTERVAL", "InjectedWriteFailure", "PeripheralLink"]

logger = logging.getLogger(__name__)

DEFAULT_PUSH_INTERVAL: Final = 0.05
"""Seconds between two looks for unsolicited frames while connected."""

TASK_PREFIX: Final = "ttlock-sim"
"""Name prefix of every task the simulator owns (tests look for leftovers by it)."""


class InjectedWriteFailure(Exception):
    """``Fault.WRITE_FAILED`` fired for this write: the transport reports it its own way."""


class PeripheralLink:
    """One live connection to ``entry``'s device, seen from the device.

    ``deliver(chunk)`` hands one notification chunk to the transport (called from the
    event loop, one chunk per turn). ``mtu`` is the ATT MTU of this link; a fault may
    change it. Call :meth:`close` when the link ends, for any reason.
    """

    def __init__(
        self,
        entry: OnAir,
        *,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[bytes], None],
        mtu: int,
        push_interval: float = DEFAULT_PUSH_INTERVAL,
    ) -> None:
        self.entry = entry
        self.mtu = mtu
        self._loop = loop
        self._deliver = deliver
        self._push_interval = push_interval
        self._reassembler = FrameReassembler(entry.device.kind)
        self._magic = GATEWAY_MAGIC if entry.device.kind is DeviceKind.GATEWAY else LOCK_MAGIC
        self._timers: set[asyncio.TimerHandle] = set()
        self._open = True
        self._poller: asyncio.Task[None] | None = loop.create_task(
            self._poll_forever(), name=f"{TASK_PREFIX}-pushes-{entry.address}"
        )

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"PeripheralLink({self.entry.address}, mtu={self.mtu}, {state})"

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def write_limit(self) -> int:
        """The longest write (and notification) this link carries: MTU − 3."""
        return self.mtu - 3

    def write(self, chunk: bytes) -> None:
        """One write by the app. Raises :class:`InjectedWriteFailure` when the fault fires.

        The transport checks the chunk's size against :attr:`write_limit` first (each
        refuses an oversized write in its own words).
        """
        if not self._open:
            return
        buffered = self._reassembler.pending + chunk
        start = buffered.find(self._magic)
        command = frame_command(buffered[start:]) if start >= 0 else None
        if self.entry.faults.on_write(command) is not None:
            raise InjectedWriteFailure(
                f"write of {len(chunk)} bytes failed (injected Fault.WRITE_FAILED)"
            )
        for frame in self._reassembler.feed(chunk):
            self._handle_request(frame)
            if not self._open:
                return  # the link dropped: the rest of this write is lost
        self._release(self.entry.device.take_pushes())

    def close(self) -> asyncio.Task[None] | None:
        """End this link's work (timers, the push poller); returns the poller to await."""
        self._open = False
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._reassembler.reset()
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
        return poller

    # --- requests -----------------------------------------------------------------------

    def _handle_request(self, frame: bytes) -> None:
        entry = self.entry
        command = frame_command(frame)
        assert command is not None  # a complete frame holds its command byte
        decision = entry.faults.on_request(command)
        device = entry.device
        replies: list[bytes] = []
        if decision.delivers_request:
            wire = frame if device.kind is DeviceKind.GATEWAY else frame + LOCK_TRAILER
            replies = device.receive(wire)
        if decision.mtu is not None:
            self.mtu = decision.mtu
        frames = decision.transform(
            replies,
            error_reply=lambda error: device.error_reply(command, error),
            push_frame=device.push_frame,
        )
        if decision.drop_before_reply:
            # The link is gone at once (later writes fail); the transport hears it soon.
            entry.drop_link("link dropped before the reply (injected fault)")
            return
        if decision.delay > 0:
            timer = self._loop.call_later(
                decision.delay, self._release_later, frames, decision.drop_after_reply
            )
            self._timers.add(timer)
            return
        self._release(frames, drop_after=decision.drop_after_reply)

    def _release_later(self, frames: list[bytes], drop_after: bool) -> None:
        if self._open:
            self._release(frames, drop_after=drop_after)

    def _release(self, frames: list[bytes], *, drop_after: bool = False) -> None:
        """Schedule ``frames`` as MTU−3 notifications, each in its own loop turn."""
        size = self.write_limit
        for frame in frames:
            for offset in range(0, len(frame), size):
                self._soon(self._deliver, frame[offset : offset + size])
        if drop_after:
            self._soon(self.entry.drop_link, "link dropped after the reply (injected fault)")

    def _soon(self, callback: Callable[[Any], object], argument: object) -> None:
        self._loop.call_soon(self._if_open, callback, argument)

    def _if_open(self, callback: Callable[[Any], object], argument: object) -> None:
        if self._open:
            callback(argument)

    async def _poll_forever(self) -> None:
        while self._open:
            await asyncio.sleep(self._push_interval)
            if not self._open:
                return
            try:
                pushes = self.entry.device.take_pushes()
            except Exception:
                logger.exception("%s: take_pushes() failed", self.entry.address)
                continue
            self._release(pushes)
