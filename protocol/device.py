"""Words both roles share about a device: what kind it is, and where it reads the time.

The harness (app role) and the simulator (lock and gateway role) both use these, so
they live below both (docs/architecture.md §1): neither side imports the other to
learn whether a device is a lock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # for the annotation only: this layer never reads a clock
    from datetime import datetime

__all__ = ["Clock", "DeviceKind"]


class DeviceKind(StrEnum):
    """A TTLock lock (service 0x1910) or a G2/G3/G4 gateway (0x1911), docs/protocol.md §1."""

    LOCK = "lock"
    GATEWAY = "gateway"


class Clock(Protocol):
    """Where "now" comes from (lock-local wall time): injected, so tests and replays pin it."""

    def now(self) -> datetime: ...
