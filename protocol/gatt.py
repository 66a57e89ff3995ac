"""The GATT services and characteristics a TTLock device exposes (docs/protocol.md §1, §10.4).

Both roles use them: the harness looks these UUIDs up on a connected device, the
simulator serves them. UUIDs are normalised (lowercase, 128-bit), as bleak reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .device import DeviceKind

__all__ = ["CCCD_UUID", "GATEWAY_GATT", "LOCK_GATT", "GattProfile", "gatt_of"]


@dataclass(frozen=True, slots=True)
class GattProfile:
    """A device's command channel: its service, the characteristic written, the one notifying."""

    service: str
    write: str
    notify: str


LOCK_GATT: Final = GattProfile(
    service="00001910-0000-1000-8000-00805f9b34fb",
    write="0000fff2-0000-1000-8000-00805f9b34fb",
    notify="0000fff4-0000-1000-8000-00805f9b34fb",
)
"""Lock: service 0x1910, write FFF2 (without response), notify FFF4 (§1.1)."""

GATEWAY_GATT: Final = GattProfile(
    service="00001911-0000-1000-8000-00805f9b34fb",
    write="00000002-0000-1000-8000-00805f9b34fb",
    notify="00000003-0000-1000-8000-00805f9b34fb",
)
"""Gateway: service 0x1911, write 0x0002, notify 0x0003 (§1.2)."""

CCCD_UUID: Final = "00002902-0000-1000-8000-00805f9b34fb"
"""Client Characteristic Configuration descriptor: notifications are switched on here."""


def gatt_of(kind: DeviceKind) -> GattProfile:
    """The command channel of a kind of device."""
    return GATEWAY_GATT if kind is DeviceKind.GATEWAY else LOCK_GATT
