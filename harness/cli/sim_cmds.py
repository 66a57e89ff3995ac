"""``ttlock-hil sim bluez`` and ``sim serve``: simulated devices for other programs.

``ttlock-hil sim bluez --config FILE``: the lab's simulated devices behind a BlueZ double.

Starts a private D-Bus and the BlueZ double hosting every ``sim:`` device of the
config at its stable MAC, prints the line to paste into another shell::

    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/tmp/ttlock-hil-bluez-…/system_bus_socket

and runs until Ctrl-C (or SIGTERM). Any bleak program started with that variable — the
harness with the devices' MACs as ``address:``, ``bluetoothctl``-free scripts, another
TTLock client — then talks to the virtual devices through bleak's own Linux backend,
as it would to real locks through ``bluetoothd`` (docs/tiers.md).

``ttlock-hil sim serve --preset P (--transport SPEC | --export SPEC)``: one virtual lock or
gateway on a Bluetooth controller through Bumble (docs/sim-serve.md). ``--transport``
names a real controller (``usb:0``, ``serial:/dev/ttyACM0,1000000``, ``hci-socket:0``):
phones and apps see the device on the air. ``--export tcp-server:127.0.0.1:0`` keeps the
link in this process and offers a second controller over TCP; the line printed::

    export TTLOCK_HIL_BUMBLE_HCI=tcp-client:127.0.0.1:PORT

lets the harness in another shell (``--hil-tier bumble``, ``Lab(tier="bumble")``) reach the
device at the MAC printed next. Runs until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ttlock_hil.harness.config import load_config
from ttlock_hil.harness.lab import sim_address
from ttlock_hil.harness.tiers import running_tier, serving


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser(
        "sim",
        help="serve simulated devices to other programs (BlueZ double, Bumble controller)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = sim.add_subparsers(dest="sim_command", required=True, metavar="{bluez,serve}")
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
    serve = sub.add_parser(
        "serve",
        help="one virtual lock or gateway on a Bluetooth controller (Bumble)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--preset", required=True, help="the simulator preset to serve (e.g. v3-keypad, g2)"
    )
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--transport",
        metavar="SPEC",
        help="a real controller as a Bumble transport: usb:0, serial:/dev/ttyACM0,1000000, "
        "hci-socket:0",
    )
    where.add_argument(
        "--export",
        metavar="SPEC",
        help="keep the link in this process and offer a controller on this Bumble server "
        "transport, e.g. tcp-server:127.0.0.1:0 (port 0: a free one, printed)",
    )
    serve.add_argument(
        "--snoop", type=Path, default=None, metavar="FILE", help="write a btsnoop capture"
    )
    serve.add_argument(
        "--address", default=None, metavar="MAC", help="the device's static random address"
    )
    serve.add_argument("--name", default=None, help="the advertised name")
    serve.set_defaults(handler=serve_command)


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


def serve_command(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serving(
            args.preset,
            transport=args.transport,
            export=args.export,
            snoop=args.snoop,
            address=args.address,
            name=args.name,
        ) as served:
            for name, value in served.environment.items():
                print(f"export {name}={value}", flush=True)
            print(
                f"# {served.name}: sim:{served.preset} ({served.kind}) at {served.address} "
                f"on {served.where}",
                flush=True,
            )
            print("# serving until Ctrl-C", file=sys.stderr, flush=True)
            await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 0
