"""The contract between a virtual device model and the transports that carry it.

A device model (``VirtualLock``, ``VirtualGateway``) is sans-IO: bytes written
by the app go into :meth:`VirtualDevice.receive`, the complete frames it would
notify come out. Transports — the in-process bleak backend (tier 1) and the
Bumble peripheral (tier 2) — own chunking, MTU, timing and fault injection, and
talk to models only through this protocol, so any model works on any transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from ttlock_hil.protocol.device import Clock, DeviceKind
from ttlock_hil.protocol.gatt import CCCD_UUID, GATEWAY_GATT, LOCK_GATT, GattProfile

__all__ = [
    "CCCD_UUID",
    "GATEWAY_GATT",
    "LOCK_GATT",
    "Advertisement",
    "Clock",
    "DeviceKind",
    "GattProfile",
    "HasDeviceInformation",
    "ManualClock",
    "VirtualDevice",
]


@dataclass(frozen=True, slots=True)
class Advertisement:
    """What a device puts on the air, in bleak's terms."""

    local_name: str
    manufacturer_data: dict[int, bytes]
    service_uuids: list[str] = field(default_factory=list)
    tx_power: int | None = None
    rssi: int = -60


class ManualClock:
    """A clock that only moves when told to: deterministic tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, 0)

    def now(self) -> datetime:
        return self._now

    def set(self, value: datetime) -> None:
        self._now = value

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@runtime_checkable
class HasDeviceInformation(Protocol):
    """Optional extra of a model: values of the Device Information service (0x180A).

    Keys are characteristic UUIDs (short ``"2a24"`` or full); transports that
    see it serve them read-only (docs/protocol.md §1.1 lock DIS, §1.2 gateway DIS).
    """

    def device_information(self) -> dict[str, bytes]: ...


@runtime_checkable
class VirtualDevice(Protocol):
    """What every virtual device model offers its transports."""

    @property
    def name(self) -> str:
        """Advertised local name, e.g. ``S202F_f69a04``."""

    @property
    def address(self) -> str:
        """BLE address ``AA:BB:CC:DD:EE:FF`` (upper case)."""

    @property
    def kind(self) -> DeviceKind: ...

    @property
    def gatt(self) -> GattProfile: ...

    def advertisement(self) -> Advertisement:
        """The current advert (reflects setting mode, unlocked, battery…)."""

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes the app wrote (any chunking) → complete frames to notify, in order.

        Lock frames carry their ``0D 0A`` trailer; gateway frames have none.
        """

    def take_pushes(self) -> list[bytes]:
        """Unsolicited frames that became due since the last call (may be empty)."""

    def error_reply(self, command: int, error: int) -> bytes:
        """A well-formed failure reply to ``command`` carrying device error/status ``error``.

        Used by fault injection ("reply with a given error byte"): encrypted with
        the key the device would use right now.
        """

    def push_frame(self) -> bytes:
        """A well-formed unsolicited frame (a state heartbeat), for fault injection."""

    def on_connect(self) -> None:
        """A central connected: per-connection state starts fresh."""

    def on_disconnect(self) -> None:
        """The link dropped: login state is lost, persisted state stays."""
