"""``ttlock-hil scan`` and ``ttlock-hil lock …``: see what is on the air, bring a lock up.

``scan [--config FILE] [--json] [--duration S] [--full]`` lists the TTLock locks
and gateways seen, with their parsed advertisements (docs/protocol.md §6) and the
config name of each configured one. With the default config that is the virtual
lab. A scan stops as soon as every configured device was seen; ``--full`` scans
for the whole duration (default ``timeouts.scan``) to find unconfigured ones too.

``lock status|unlock|lock --device NAME [--config FILE] [--init] [--json] [--record
CASSETTE]`` runs one operation on a configured lock for bench bring-up (``--record``
writes the session as a cassette, docs/replay.md):

* ``status`` asks the bolt state and battery (command 0x14; works on a
  factory-fresh lock too, no credentials needed in setting mode);
* ``unlock`` / ``lock`` log in as admin with the lock's credentials.

A lock in setting mode (factory-fresh) has no admin, so there is nothing to
unlock with yet: the command stops with an error saying so, unless ``--init``
is given, which first runs the add-admin flow and stores the new credentials
(``credentials_dir`` of the config). **A virtual (``sim:``) lock starts
factory-fresh in every new process** — the CLI is one — so against the default
virtual lab ``lock unlock`` needs ``--init`` every time, and the credentials
file it leaves behind is only good for that one process's lock.

A ``sim:`` device may name a firmware variant, ``sim:<preset>_<variant>``, like
in pytest; an unknown preset or variant is a config error that suggests the
nearest name.

Errors (config, link, device) are one ``error: …`` line with the TTLock code,
the advice and the frame trace path; exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path
from typing import Any

from bleak.exc import BleakError

from ttlock_hil.harness import os_errors
from ttlock_hil.harness.cli import CliError
from ttlock_hil.harness.config import MAX_SECONDS
from ttlock_hil.harness.errors import ConfigError, HarnessError, TTLockError
from ttlock_hil.harness.lab import Lab, Sighting
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.textsafe import printable
from ttlock_hil.harness.tiers import TIERS
from ttlock_hil.protocol.advert import AdvertKind

OPERATIONS = ("status", "unlock", "lock")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = subparsers.add_parser(
        "scan",
        help="list TTLock locks and gateways in range (the virtual lab by default)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _config_option(scan)
    scan.add_argument("--json", action="store_true", help="print one JSON array")
    scan.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="S",
        help="longest scan in seconds (default: timeouts.scan of the config)",
    )
    scan.add_argument(
        "--full",
        action="store_true",
        help="scan for the whole duration, not only until every configured device was seen",
    )
    scan.set_defaults(handler=scan_command)

    lock = subparsers.add_parser(
        "lock",
        help="status / unlock / lock one configured lock (bench bring-up)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lock.add_argument("operation", choices=OPERATIONS, help="what to do")
    lock.add_argument("--device", required=True, metavar="NAME", help="the lock's config name")
    _config_option(lock)
    lock.add_argument(
        "--init",
        action="store_true",
        help="initialise the lock first when it is in setting mode (stores new credentials)",
    )
    lock.add_argument("--json", action="store_true", help="print one JSON object")
    lock.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="CASSETTE",
        help="record the session as a cassette (mode 0600, no secret in it; docs/replay.md)",
    )
    lock.set_defaults(handler=lock_command)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="lab config (default: hil-config.yaml, the virtual lab)",
    )
    parser.add_argument(
        "--tier",
        choices=TIERS,
        default="virtual",
        help="where sim: devices live: in this process (virtual), or in the BlueZ double "
        "that 'ttlock-hil sim bluez' serves on $DBUS_SYSTEM_BUS_ADDRESS (bluez)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"the duration must be above 0 and at most {MAX_SECONDS:g} s, got {text}"
        )
    return value


def _one_line(error: TTLockError) -> str:
    text = error.summary
    if error.advice:
        text += f" — advice: {error.advice}"
    if error.trace_path is not None:
        text += f" — trace: {error.trace_path}"
    return text.replace("\n", " ")


def _run(coroutine: Any) -> Any:
    """Run the command's coroutine; device and radio failures become one-line CliErrors."""
    try:
        return asyncio.run(coroutine)
    except TTLockError as exc:
        raise CliError(_one_line(exc)) from exc
    except OSError as exc:
        # A full disk or a bad path (traces, credentials) is not a Bluetooth problem.
        raise CliError(os_errors.describe(exc)) from exc
    except BleakError as exc:
        raise CliError(
            f"Bluetooth is not usable: {exc} — fix: check the adapter (bluetoothctl show) "
            "and the adapters: of the config"
        ) from exc


def _build_virtual_devices(lab: Lab) -> None:
    """Build the lab's ``sim:`` devices now, before any radio work.

    The simulator builds them when a transport first needs them; building them
    here turns a preset or variant it does not know into one config error line
    (with its did-you-mean), not a traceback from inside the event loop.
    """
    if not any(device.is_virtual for device in lab.config.devices):
        return  # a radio-only lab never loads the simulator
    try:
        lab.air  # noqa: B018 - built for its errors
    except HarnessError:
        raise
    except (LookupError, ValueError) as exc:  # the simulator's UnknownPreset, PresetError
        raise ConfigError(str(exc), file=lab.config.source, field="devices") from exc


# --- scan ----------------------------------------------------------------------------------


def scan_command(args: argparse.Namespace) -> int:
    lab = Lab.load(args.config, tier=args.tier)
    _build_virtual_devices(lab)

    async def run() -> list[Sighting]:
        async with lab:
            return await lab.scan(duration=args.duration, until_all_seen=not args.full)

    sightings: list[Sighting] = _run(run())
    for error in lab.scan_errors:  # one adapter failed; what the others saw still counts
        detail = os_errors.describe(error) if isinstance(error, OSError) else str(error)
        print(f"warning: a scanner failed: {detail}", file=sys.stderr)
    if args.json:
        print(json.dumps([s.to_dict() for s in sightings]))
        return 0
    if not sightings:
        print("no TTLock device seen")
        return 0
    for sighting in sightings:
        print(_describe(sighting))
    return 0


def _describe(sighting: Sighting) -> str:
    seen = sighting.seen
    advert = seen.advert
    parts = [
        f"{sighting.device or '-':<14}",
        seen.address,
        f"{seen.rssi if seen.rssi is not None else '?':>4} dBm",
        f"{printable(seen.name, limit=40) if seen.name else '(no name)':<14}",
    ]
    if advert is None:
        parts.append("no TTLock advert")
    elif advert.kind is AdvertKind.GATEWAY and advert.gateway_type is not None:
        parts.append(f"gateway {advert.gateway_type.value}")
    elif advert.kind is AdvertKind.LOCK:
        kind = advert.lock_type.name if advert.lock_type is not None else "unknown type"
        parts.append(f"lock {kind}")
        if advert.setting_mode is not None:
            parts.append("setting mode" if advert.setting_mode else "paired")
        if advert.dormant:
            parts.append("dormant")
        elif advert.unlocked is not None:
            parts.append("unlocked" if advert.unlocked else "locked")
        if advert.battery is not None:
            parts.append(f"battery {advert.battery} %")
    else:
        parts.append(advert.kind.value)
    return "  ".join(parts)


# --- lock ----------------------------------------------------------------------------------


def lock_command(args: argparse.Namespace) -> int:
    lab = Lab.load(args.config, tier=args.tier, record=args.record)
    lab.device(args.device)  # a ConfigError with a suggestion for a typo, before any radio work
    _build_virtual_devices(lab)

    async def run() -> dict[str, Any]:
        async with lab:
            lock = lab.lock(args.device)
            return await _operate(lock, args.operation, init=args.init)

    result: dict[str, Any] = _run(run())
    if args.json:
        print(json.dumps(result))
    else:
        print(_summary(result))
    return 0


async def _operate(lock: Lock, operation: str, *, init: bool) -> dict[str, Any]:
    await lock.connect()
    seen = lock.session.seen
    setting_mode = bool(seen is not None and seen.setting_mode)
    result: dict[str, Any] = {
        "device": lock.name,
        "operation": operation,
        "initialised": False,
        "trace": str(lock.trace_path),
    }
    if setting_mode and operation != "status":
        if not init:
            raise CliError(
                f"{lock.name} is in setting mode (factory-fresh, no admin yet; a virtual lock "
                "starts that way in every new process), so there is nothing to "
                f"{operation} with — fix: rerun with --init to initialise it first"
            )
        init_result = await lock.init()
        result["initialised"] = True
        result["credentials"] = str(init_result.credentials_path)
        setting_mode = False
    if operation == "unlock":
        opened = await lock.unlock()
        result["record"] = opened.unique_id
    elif operation == "lock":
        closed = await lock.lock()
        result["record"] = closed.unique_id
    status = await lock.status()
    result["state"] = status.lock_state.name.lower()
    result["battery"] = status.battery
    result["setting_mode"] = setting_mode
    return result


def _summary(result: dict[str, Any]) -> str:
    lines = []
    if result["initialised"]:
        lines.append(
            f"{result['device']}: initialised; credentials saved to {result['credentials']}"
        )
    mode = ", setting mode" if result["setting_mode"] else ""
    lines.append(
        f"{result['device']}: {result['state']} (battery {result['battery']} %{mode}) "
        f"after {result['operation']}"
    )
    lines.append(f"  trace: {result['trace']}")
    return "\n".join(lines)
