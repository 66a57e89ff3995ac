"""Which tier the simulated devices of a lab live on; starting the BlueZ tier's processes and
serving a device on a Bumble controller.

The same harness code runs on every tier; only where ``sim:`` devices live changes
(docs/tiers.md):

* ``virtual`` (tier 1) — in this process, behind bleak's ``backend=`` hook;
* ``bluez`` (tier 2) — in a BlueZ double on a private D-Bus: bleak's *own* Linux backend
  reaches them at stable MACs exactly as it reaches a real lock through ``bluetoothd``;
* ``bumble`` (tier 3) — as Bumble GATT peripherals on a link in this process, reached
  through bleak backends on a Bumble central: a real host stack (HCI, L2CAP, ATT/GATT) on
  both sides. Needs ``pip install ttlock-hil[bumble]``.

Radio devices (a BLE address in ``address:``) are on the radio whatever the tier. This
module is part of the transport registry: it is the one other place besides
:mod:`ttlock_hil.harness.lab` that may reach the simulator, and only lazily.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .config import LabConfig
from .errors import ConfigError
from .lab import BUMBLE_HCI_VARIABLE, sim_address

__all__ = [
    "BUMBLE_HCI_VARIABLE",
    "BUMBLE_INSTALL",
    "TIERS",
    "Served",
    "bluez_spec",
    "check_tier",
    "running_tier",
    "serving",
]

TIERS: Final = ("virtual", "bluez", "bumble")
"""The tiers a lab's simulated devices can run on."""

BUS_VARIABLE: Final = "DBUS_SYSTEM_BUS_ADDRESS"
BUMBLE_INSTALL: Final = "pip install ttlock-hil[bumble]"
"""What to run when the bumble tier is asked for and Bumble is missing."""


def check_tier(tier: str) -> str:
    """``tier`` if it is a known tier, else a ConfigError naming the choices."""
    if tier not in TIERS:
        raise ConfigError(
            f"unknown tier {tier!r}", field="tier", fix=f"use one of: {', '.join(TIERS)}"
        )
    return tier


def bluez_spec(config: LabConfig, *, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the BlueZ double must host for ``config``: each ``sim:`` device at its MAC.

    Credentials of a paired virtual lock travel with it (the double reads them from a
    pipe, never from disk).
    """
    devices: list[dict[str, Any]] = []
    for device in config.devices:
        preset = device.sim_preset
        if preset is None:
            continue
        creds = (
            config.credentials_for(device, environ=environ)
            if device.credentials is not None
            else None
        )
        devices.append(
            {
                "preset": preset,
                "address": sim_address(config.lab, device.name),
                "credentials": None
                if creds is None
                else {
                    "aes_key": creds.aes_key.hex(),
                    "admin_ps": creds.admin_ps,
                    "unlock_key": creds.unlock_key,
                    "lock_flag_pos": creds.lock_flag_pos,
                    "uid": creds.uid,
                },
            }
        )
    return {"devices": devices}


@contextmanager
def running_tier(
    config: LabConfig, tier: str, *, environ: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Bring up what ``tier`` needs for ``config``; yields the environment it needs.

    On ``bluez`` the private bus and the double run for the duration of the block, and
    ``DBUS_SYSTEM_BUS_ADDRESS`` is set in this process (bleak reads it at each bus
    connection) and restored afterwards. ``virtual`` needs nothing; ``bumble`` runs in
    the lab's own process and loop (:class:`~ttlock_hil.harness.lab.Lab` builds it on first
    use), so only Bumble itself is checked: a ConfigError says how to install it.
    """
    check_tier(tier)
    if tier == "virtual":
        yield {}
        return
    if tier == "bumble":
        _require_bumble()
        yield {}
        return
    from .sim.bluez.tier import BluezTier, TierError  # the registry's lazy reach

    previous = os.environ.get(BUS_VARIABLE)
    try:
        with BluezTier(bluez_spec(config, environ=environ)) as running:
            variables = running.environment()
            os.environ.update(variables)
            yield variables
    except TierError as exc:
        raise ConfigError(str(exc), field="tier", fix="see docs/tiers.md") from None
    finally:
        if previous is None:
            os.environ.pop(BUS_VARIABLE, None)
        else:
            os.environ[BUS_VARIABLE] = previous


def _require_bumble() -> None:
    try:
        import bumble  # noqa: F401 - only whether it is there
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "the bumble tier needs Bumble, which is not installed",
            field="tier",
            fix=BUMBLE_INSTALL,
        ) from exc


@dataclass(frozen=True, slots=True)
class Served:
    """What :func:`serving` put on the air: the device and how to reach it."""

    preset: str
    name: str
    address: str
    kind: str
    where: str
    """The controller: the transport given, or the exported one's client spec."""
    environment: dict[str, str] = field(default_factory=dict)
    """For an exported link: the variables a harness process needs to reach the device."""


@asynccontextmanager
async def serving(
    preset: str,
    *,
    transport: str | None = None,
    export: str | None = None,
    snoop: Path | None = None,
    address: str | None = None,
    name: str | None = None,
) -> AsyncIterator[Served]:
    """A virtual ``preset`` on a Bumble controller for the duration of the block.

    ``transport`` names a real controller (``usb:0``, ``serial:/dev/ttyACM0,1000000``,
    ``hci-socket:0``); ``export`` an embedded link whose controller is offered on a Bumble
    server transport (``tcp-server:127.0.0.1:0``). ``snoop`` writes a btsnoop capture.
    ConfigError when Bumble is missing, the preset is unknown or the transport does not
    open (docs/sim-serve.md).
    """
    _require_bumble()
    from bumble.core import BaseBumbleError

    from .sim.bumble.serve import SimServer  # the registry's lazy reach
    from .sim.presets import UnknownPreset

    try:
        server = SimServer(
            preset, transport=transport, export=export, snoop=snoop, address=address, name=name
        )
    except UnknownPreset as exc:
        raise ConfigError(str(exc), field="preset", fix="see docs/simulator.md") from None
    except ValueError as exc:
        raise ConfigError(str(exc), field="transport", fix="see docs/sim-serve.md") from None
    try:
        await server.start()
    except (OSError, RuntimeError, ValueError, ImportError, BaseBumbleError) as exc:
        raise ConfigError(
            f"cannot serve on {transport or export}: {type(exc).__name__}: {exc}",
            field="transport",
            fix="see docs/sim-serve.md (freeing a dongle from BlueZ, udev permissions)",
        ) from None
    environment = {BUMBLE_HCI_VARIABLE: server.client_spec} if server.client_spec else {}
    try:
        yield Served(
            preset=preset,
            name=server.name,
            address=server.address,
            kind=server.kind,
            where=server.client_spec or transport or "",
            environment=environment,
        )
    finally:
        await server.stop()
