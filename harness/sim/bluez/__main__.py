"""Run the BlueZ double: ``python -m ttlock_hil.harness.sim.bluez --bus ADDRESS [DIR]``.

Reads its devices as JSON from standard input::

    {"adapters": {"hci0": "00:1A:7D:DA:71:13"},
     "timing": {"advert_interval": 0.05, "att_delay": 0.0, "temporary_timeout": 30.0,
                "connect_wait": 10.0},
     "devices": [{"preset": "v3-keypad", "address": "C1:23:45:67:89:AB", "mtu": 23,
                  "name": null, "credentials": null}]}

``name`` overrides the advertised name; ``credentials`` (locks only) builds a lock
already paired: ``aes_key`` (hex),
``admin_ps``, ``unlock_key``, ``lock_flag_pos``, ``uid``. Prints ``ready`` once it owns
``org.bluez``; runs until SIGTERM/SIGINT or until the bus goes away. Normally started
by :class:`~ttlock_hil.harness.sim.bluez.tier.BluezTier`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import datetime
from typing import Any

from ttlock_hil.protocol.lockdata import LockData

from ..air import Air
from ..presets import create_device
from .control import export_control
from .double import BluezDouble, DoubleTiming


class _WallClock:
    """Local wall-clock time to the second: the double's devices live in real time."""

    def now(self) -> datetime:
        return datetime.now().replace(microsecond=0)


def _credentials(raw: dict[str, Any] | None) -> LockData | None:
    if raw is None:
        return None
    return LockData(
        aes_key=bytes.fromhex(raw["aes_key"]),
        admin_ps=int(raw["admin_ps"]),
        unlock_key=int(raw["unlock_key"]),
        lock_flag_pos=int(raw.get("lock_flag_pos", 0)),
        uid=int(raw.get("uid", 0)),
    )


def build_air(spec: dict[str, Any]) -> Air:
    """The devices of ``spec`` on one air."""
    air = Air()
    clock = _WallClock()
    for item in spec.get("devices", []):
        device = create_device(
            item["preset"],
            name=item.get("name"),
            address=item["address"],
            clock=clock,
            credentials=_credentials(item.get("credentials")),
        )
        air.add(device, mtu=int(item.get("mtu", 23)))
    return air


async def serve(bus_address: str, spec: dict[str, Any]) -> None:
    timing = DoubleTiming(**spec.get("timing", {}))
    double = BluezDouble(build_air(spec), adapters=spec.get("adapters"), timing=timing)
    await double.start(bus_address)
    export_control(double)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(double.stop()))
    print("ready", flush=True)
    await double.wait_stopped()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttlock_hil.harness.sim.bluez")
    parser.add_argument("--bus", required=True, help="the private bus address (unix:path=…)")
    parser.add_argument("directory", nargs="?", help="the tier's directory (marks the process)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        spec = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(f"error: the device list on standard input is not JSON: {exc}", flush=True)
        return 2
    try:
        asyncio.run(serve(args.bus, spec))
    except Exception as exc:  # noqa: BLE001 - one line to the tier, which reports it
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
