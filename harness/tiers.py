"""Which tier the simulated devices of a lab live on, and starting the BlueZ tier's processes.

The same harness code runs on every tier; only where ``sim:`` devices live changes
(docs/tiers.md):

* ``virtual`` (tier 1) — in this process, behind bleak's ``backend=`` hook;
* ``bluez`` (tier 2) — in a BlueZ double on a private D-Bus: bleak's *own* Linux backend
  reaches them at stable MACs exactly as it reaches a real lock through ``bluetoothd``.

Radio devices (a BLE address in ``address:``) are on the radio whatever the tier. This
module is part of the transport registry: it is the one other place besides
:mod:`ttlock_hil.harness.lab` that may reach the simulator, and only lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from .config import LabConfig
from .errors import ConfigError
from .lab import sim_address

__all__ = ["TIERS", "bluez_spec", "check_tier", "running_tier"]

TIERS: Final = ("virtual", "bluez")
"""The tiers a lab's simulated devices can run on."""

BUS_VARIABLE: Final = "DBUS_SYSTEM_BUS_ADDRESS"


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
    connection) and restored afterwards. ``virtual`` needs nothing.
    """
    check_tier(tier)
    if tier == "virtual":
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
