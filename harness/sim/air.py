"""The radio space shared by virtual devices and the virtual bleak backends.

An :class:`Air` holds the virtual devices that are "on the air": what scanners
see, what clients connect to, and each device's radio-side state:

* its :class:`~ttlock_hil.harness.sim.faults.FaultPlan` (faults injected by tests),
* which central is connected (one at a time, like a real lock),
* whether it advertises: a device in range advertises while no central is
  connected, stops when one connects and restarts after the disconnect
  (docs/architecture.md §12.9),
* whether it is in range: out of range it does not advertise, connection
  attempts time out and an open link drops,
* the MTU it negotiates (default 23 → 20-byte chunks, docs/protocol.md §1.1).

Devices are models implementing :class:`~ttlock_hil.harness.sim.device.VirtualDevice`;
the transports (:mod:`ttlock_hil.harness.sim.backend`, the Bumble tier) claim and release
them through :meth:`OnAir.claim` / :meth:`OnAir.release`, which also tell the
model (``on_connect`` / ``on_disconnect``)::

    air = Air()
    entry = air.add(lock)                      # lock: any VirtualDevice
    air.faults(lock.address).add(Fault.SILENCE, command=0x47)
    air.set_in_range(lock.address, False)      # walk away from the lock
    air.drop_link(lock.address)                # the lock hangs up (idle timeout)

A ``sim:`` device of ``hil-config.yaml`` names an entry of an Air; lookups take
the address (any case) or the advertised name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Protocol

from .device import VirtualDevice
from .faults import MAX_MTU, MIN_MTU, FaultPlan

logger = logging.getLogger(__name__)

DEFAULT_MTU = MIN_MTU
"""ATT MTU a device negotiates unless told otherwise: 23, i.e. 20-byte chunks."""


class UnknownDevice(LookupError):
    """No device on the air answers to that address or name."""


class DeviceBusy(RuntimeError):
    """A second central tried to claim a device that already has one."""


class Central(Protocol):
    """What a transport's connection offers the air: being told the link is gone."""

    def link_lost(self, reason: str) -> None:
        """The device side dropped the link (out of range, hung up, removed)."""


class OnAir:
    """One device on the air with its radio-side state (see the module docstring)."""

    __slots__ = ("_central", "_in_range", "device", "faults", "mtu")

    def __init__(self, device: VirtualDevice, faults: FaultPlan, mtu: int) -> None:
        self.device = device
        self.faults = faults
        self.mtu = mtu
        self._in_range = True
        self._central: Central | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "advertising" if self.advertising else "silent"
        return f"OnAir({self.name!r}, {self.address}, {state})"

    @property
    def address(self) -> str:
        """The device's BLE address, upper case."""
        return self.device.address.upper()

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def in_range(self) -> bool:
        return self._in_range

    @property
    def central(self) -> Central | None:
        """The connection that holds the device, if any."""
        return self._central

    @property
    def connected(self) -> bool:
        return self._central is not None

    @property
    def advertising(self) -> bool:
        """In range and free: a connected device stops advertising (pitfall 8)."""
        return self._in_range and self._central is None

    def claim(self, central: Central) -> None:
        """Connect ``central``; the device starts a fresh connection (``on_connect``).

        Raises :class:`DeviceBusy` if another central holds the device and
        ``ConnectionError`` if it is out of range; transports check
        :attr:`advertising` first and wait, as a radio would.
        """
        if self._central is central:
            return
        if self._central is not None:
            raise DeviceBusy(
                f"{self.name} ({self.address}) is connected to another central; a real lock "
                "accepts one central at a time and stops advertising meanwhile"
            )
        if not self._in_range:
            raise ConnectionError(f"{self.name} ({self.address}) is out of range")
        self._central = central
        self.device.on_connect()
        logger.debug("%s %s: central connected", self.name, self.address)

    def release(self, central: Central) -> None:
        """Disconnect ``central`` (if it holds the device); ``on_disconnect`` runs."""
        if self._central is not central:
            return
        self._central = None
        self.device.on_disconnect()
        logger.debug("%s %s: central disconnected, advertising again", self.name, self.address)

    def set_in_range(self, in_range: bool) -> None:
        """Move out of (or back into) range; leaving range drops the link."""
        self._in_range = in_range
        if not in_range:
            self.drop_link("the device went out of range (supervision timeout)")

    def drop_link(self, reason: str = "the device dropped the link") -> bool:
        """Device-side disconnect: the central is told (unsolicited). False if none."""
        central = self._central
        if central is None:
            return False
        logger.debug("%s %s: dropping link: %s", self.name, self.address, reason)
        central.link_lost(reason)
        # A central that ignored the news must not keep the device.
        self.release(central)
        return True


class Air:
    """Registry of the virtual devices scanners and clients can reach."""

    def __init__(self, devices: Iterable[VirtualDevice] = ()) -> None:
        self._entries: dict[str, OnAir] = {}
        for device in devices:
            self.add(device)

    def __repr__(self) -> str:
        return f"Air({list(self._entries.values())!r})"

    def __iter__(self) -> Iterator[OnAir]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str | VirtualDevice) and self.find(key) is not None

    def add(
        self, device: VirtualDevice, *, faults: FaultPlan | None = None, mtu: int = DEFAULT_MTU
    ) -> OnAir:
        """Put ``device`` on the air (advertising, in range) and return its entry.

        ``faults``: a plan to share (default: a fresh one); ``mtu``: the MTU a
        connection negotiates unless the client asks for another (23..517).
        """
        if not isinstance(device, VirtualDevice):
            raise TypeError(
                f"{type(device).__name__} is not a VirtualDevice: implement every member of "
                "ttlock_hil.harness.sim.device.VirtualDevice"
            )
        if not MIN_MTU <= mtu <= MAX_MTU:
            raise ValueError(f"mtu must be between {MIN_MTU} and {MAX_MTU}, got {mtu}")
        address = device.address.upper()
        if address in self._entries:
            raise ValueError(
                f"a device with address {address} is already on the air "
                f"({self._entries[address].name}); give each device its own address"
            )
        entry = OnAir(device, faults if faults is not None else FaultPlan(), mtu)
        self._entries[address] = entry
        return entry

    def remove(self, key: str | VirtualDevice) -> OnAir:
        """Take a device off the air; an open link drops first."""
        entry = self.get(key)
        entry.drop_link("the device was removed from the air")
        del self._entries[entry.address]
        return entry

    def find(self, key: str | VirtualDevice) -> OnAir | None:
        """The entry for an address (any case), an advertised name or a device object."""
        if not isinstance(key, str):
            entry = self._entries.get(key.address.upper())
            return entry if entry is not None and entry.device is key else None
        entry = self._entries.get(key.upper())
        if entry is not None:
            return entry
        named = [e for e in self._entries.values() if e.name == key]
        if len(named) > 1:
            raise UnknownDevice(
                f"{len(named)} devices on the air are named {key!r}: look them up by address "
                f"({', '.join(e.address for e in named)})"
            )
        return named[0] if named else None

    def get(self, key: str | VirtualDevice) -> OnAir:
        """Like :meth:`find` but raises :class:`UnknownDevice` naming what is on the air."""
        entry = self.find(key)
        if entry is None:
            known = ", ".join(f"{e.name} ({e.address})" for e in self._entries.values())
            raise UnknownDevice(f"no device {key!r} on the air; on the air: {known or 'nothing'}")
        return entry

    def faults(self, key: str | VirtualDevice) -> FaultPlan:
        """The fault plan of a device."""
        return self.get(key).faults

    def advertising(self) -> list[OnAir]:
        """The devices a scanner can see right now (before scan-level faults)."""
        return [entry for entry in self._entries.values() if entry.advertising]

    def set_in_range(self, key: str | VirtualDevice, in_range: bool) -> None:
        """Move a device out of (or back into) range; leaving range drops its link."""
        self.get(key).set_in_range(in_range)

    def drop_link(
        self, key: str | VirtualDevice, reason: str = "the device dropped the link"
    ) -> bool:
        """Device-side disconnect of the device's central; False if none was connected."""
        return self.get(key).drop_link(reason)
