"""``ttlock-hil sim bluez --config FILE``: the lab's simulated devices behind a BlueZ double.

Starts a private D-Bus and the BlueZ double hosting every ``sim:`` device of the
config at its stable MAC, prints the line to paste into another shell::

    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/tmp/ttlock-hil-bluez-…/system_bus_socket

and runs until Ctrl-C (or SIGTERM). Any bleak program started with that variable — the
harness with the devices' MACs as ``address:``, ``bluetoothctl``-free scripts, another
TTLock client — then talks to the virtual devices through bleak's own Linux backend,
as it would to real locks through ``bluetoothd`` (docs/tiers.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ttlock_hil.harness.config import load_config
from ttlock_hil.harness.lab import sim_address
from ttlock_hil.harness.tiers import running_tier


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser(
        "sim",
        help="serve the lab's simulated devices to other programs (BlueZ double)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = sim.add_subparsers(dest="sim_command", required=True, metavar="{bluez}")
    bluez = sub.add_parser(
        "bluez",
        help="a private D-Bus with a BlueZ double hosting the config's sim: devices",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bluez.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="lab config (default: hil-config.yaml)",
    )
    bluez.set_defaults(handler=bluez_command)


def bluez_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with running_tier(config, "bluez") as variables:
            for name, value in variables.items():
                print(f"export {name}={value}", flush=True)
            for device in config.devices:
                if device.sim_preset is not None:
                    mac = sim_address(config.lab, device.name)
                    print(f"# {device.name}: {device.address} at {mac}", flush=True)
            print("# serving until Ctrl-C", file=sys.stderr, flush=True)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
