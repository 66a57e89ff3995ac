"""The BlueZ tier: bleak's own Linux backend against a double of ``bluetoothd``.

* :class:`BluezDouble` — ``org.bluez`` on a D-Bus, hosting the simulator's devices;
* :class:`BluezTier` — a private ``dbus-daemon`` plus the double as processes, ended by PID;
* ``python -m ttlock_hil.harness.sim.bluez`` — the double's process.

What this tier proves and what it does not: docs/tiers.md.
"""

from __future__ import annotations

from .double import BUS_NAME, BluezDouble, DoubleTiming, HostedDevice, device_path
from .tier import BluezTier, TierError, cleanup_stale, dbus_daemon_path

__all__ = [
    "BUS_NAME",
    "BluezDouble",
    "BluezTier",
    "DoubleTiming",
    "HostedDevice",
    "TierError",
    "cleanup_stale",
    "dbus_daemon_path",
    "device_path",
]
