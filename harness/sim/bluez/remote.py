"""The bench of a device hosted by the BlueZ double, driven from the test process.

:class:`RemoteBench` offers what :class:`~ttlock_hil.harness.sim.bench.VirtualBench`
offers in-process — :meth:`inject`, :attr:`fired`, :meth:`set`, :meth:`out_of_range`,
:meth:`drop_link`, :meth:`restore`, bench actions through :attr:`device` — by calling
the double's control interface (:mod:`.control`). Tests call the bench synchronously
(``virtual_device.inject(...)`` inside an async test), so the D-Bus calls run on a small
event loop of the bench's own, in a thread it owns and ends in :meth:`close`; each
call has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from ..faults import Fault, FaultRule, FiredFault
from .control import BENCH_ACTIONS, CONTROL_INTERFACE, CONTROL_PATH
from .double import BUS_NAME

__all__ = ["RemoteBench", "RemoteBenchError"]

_CALL_TIMEOUT_S: Final = 10.0
_T = TypeVar("_T")


class RemoteBenchError(RuntimeError):
    """The double refused a bench call (a bad fault, setting or action), or is gone."""


class _RemoteDevice:
    """Bench actions on the hosted device: ``bench.device.present_card(0x5A5A0002)``."""

    def __init__(self, bench: RemoteBench) -> None:
        self._bench = bench

    def __getattr__(self, action: str) -> Callable[..., Any]:
        if action not in BENCH_ACTIONS:
            raise AttributeError(
                f"{action!r} is not a bench action on the BlueZ tier "
                f"(actions: {', '.join(sorted(BENCH_ACTIONS))})"
            )

        def act(*args: Any) -> Any:
            raw = self._bench._call("Act", "sss", [self._bench.address, action, json.dumps(args)])
            return json.loads(str(raw))

        return act


class RemoteBench:
    """The bench of the device at ``address`` in the double on ``bus_address``."""

    def __init__(self, name: str, address: str, bus_address: str) -> None:
        self.name = name
        self.address = address.upper()
        self._bus_address = bus_address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"ttlock-sim-bench-{name}", daemon=True
        )
        self._thread.start()
        self._bus: MessageBus | None = None
        self.device = _RemoteDevice(self)
        self._call("Begin", "s", [self.address])

    def __repr__(self) -> str:
        return f"<RemoteBench {self.name} {self.address}>"

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=_CALL_TIMEOUT_S + 1)

    async def _connected(self) -> MessageBus:
        if self._bus is None or not self._bus.connected:
            self._bus = await MessageBus(
                bus_address=self._bus_address, bus_type=BusType.SYSTEM
            ).connect()
        return self._bus

    async def _send(self, member: str, signature: str, body: list[Any]) -> Any:
        async with asyncio.timeout(_CALL_TIMEOUT_S):
            bus = await self._connected()
            reply = await bus.call(
                Message(
                    destination=BUS_NAME,
                    path=CONTROL_PATH,
                    interface=CONTROL_INTERFACE,
                    member=member,
                    signature=signature,
                    body=body,
                )
            )
        if reply is None or reply.message_type is MessageType.ERROR:
            text = reply.body[0] if reply is not None and reply.body else "no reply"
            raise RemoteBenchError(f"{self.name}: {member} refused: {text}")
        return reply.body[0] if reply.body else None

    def _call(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        return self._run(self._send(member, signature, body or []))

    def inject(self, fault: Fault, **options: Any) -> FaultRule:
        """Arm ``fault`` in the double (options as ``FaultPlan.add``); the rule as armed."""
        rule = FaultRule(fault, **options)  # checks the options here, before the call
        self._call("Inject", "sss", [self.address, fault.name, json.dumps(options)])
        return rule

    @property
    def fired(self) -> tuple[FiredFault, ...]:
        """The faults that fired in the double since this bench began."""
        raw = json.loads(str(self._call("Fired", "s", [self.address])))
        return tuple(FiredFault(FaultRule(Fault[item["fault"]]), item["command"]) for item in raw)

    def set(self, **settings: Any) -> None:
        """Bench settings of the hosted device (checked by its declarations, in the double)."""
        self._call("Set", "ss", [self.address, json.dumps(settings)])

    def out_of_range(self) -> None:
        self._call("SetInRange", "sb", [self.address, False])

    def back_in_range(self) -> None:
        self._call("SetInRange", "sb", [self.address, True])

    def drop_link(self, reason: str = "the bench dropped the link") -> bool:
        return bool(self._call("DropLink", "s", [self.address]))

    def restore(self) -> None:
        """Undo the bench's changes in the double (faults, range, settings)."""
        self._call("Restore", "s", [self.address])

    def close(self) -> None:
        """Leave the bus and end the bench's thread."""

        async def leave() -> None:
            if self._bus is not None:
                self._bus.disconnect()

        try:
            self._run(leave())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
