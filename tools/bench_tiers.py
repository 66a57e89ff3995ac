"""Setup time and round trips per second of the same lock on every simulated tier, in one run.

``python tools/bench_tiers.py [--commands N]`` prints a markdown table (docs/tiers.md §5 quotes
it). Each tier runs the same thing through :class:`~ttlock_hil.harness.lab.Lab` with one
``sim:v3-keypad`` lock: bring the tier up, connect (scan, connect, GATT discovery,
notifications), initialise the lock, then time ``lock.status()`` round trips on the open
link, then a disconnect and a reconnect. Tiers:

* ``virtual`` — tier 1, the in-process bleak backend;
* ``bluez`` — tier 2, bleak's BlueZ backend against the double (skipped without
  ``dbus-daemon``);
* ``bumble`` — tier 3, bleak on a Bumble central, Bumble peripheral, one process;
* ``bumble over TCP`` — tier 3 across two processes: ``ttlock-hil sim serve --export
  tcp-server:127.0.0.1:0`` in a child, the harness's central on the exported controller.

Figures depend on the machine: compare the columns, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ttlock_hil.harness.config import LabConfig, parse_config
from ttlock_hil.harness.lab import BUMBLE_HCI_VARIABLE, Lab
from ttlock_hil.harness.tiers import running_tier

DEADLINE = 60.0
START_S = 30.0


@dataclass(frozen=True)
class Figures:
    tier: str
    bring_up_ms: float
    first_connect_ms: float
    reconnect_ms: float
    round_trips_per_s: float
    p50_ms: float
    note: str = ""


def _config(directory: Path, address: str) -> LabConfig:
    data = {
        "lab": "bench-tiers",
        "timeouts": {"scan": 5.0, "connect": 5.0, "command": 3.0},
        "reports": "reports",
        "credentials_dir": "credentials",
        "devices": [{"name": "door", "kind": "lock", "model": "v3-keypad", "address": address}],
    }
    text = yaml.safe_dump(data)
    return parse_config(text, file=directory / "hil-config.yaml", base_dir=directory)


async def _measure(
    tier: str, lab: Lab, commands: int, bring_up_ms: float, note: str = ""
) -> Figures:
    lock = lab.lock("door")
    async with asyncio.timeout(DEADLINE):
        began = time.perf_counter()
        if tier == "bumble":  # the radio is built on first use: time it apart
            source: Any = lab.transport("door").scanner_backend.default_source  # type: ignore[union-attr]
            await source.radio()
            bring_up_ms = (time.perf_counter() - began) * 1000
            began = time.perf_counter()
        await lock.connect()
        first_connect_ms = (time.perf_counter() - began) * 1000
        await lock.init()
        for _ in range(20):  # warm-up: login, caches
            await lock.status()
        samples = []
        total = time.perf_counter()
        for _ in range(commands):
            one = time.perf_counter()
            await lock.status()
            samples.append(time.perf_counter() - one)
        elapsed = time.perf_counter() - total
        await lock.disconnect()
        began = time.perf_counter()
        await lock.connect()
        reconnect_ms = (time.perf_counter() - began) * 1000
        await lab.aclose()
    return Figures(
        tier,
        bring_up_ms,
        first_connect_ms,
        reconnect_ms,
        commands / elapsed,
        statistics.median(samples) * 1000,
        note,
    )


def _in_process(tier: str, commands: int) -> Figures:
    with tempfile.TemporaryDirectory() as scratch:
        config = _config(Path(scratch), "sim:v3-keypad")
        began = time.perf_counter()
        with running_tier(config, tier):
            bring_up_ms = (time.perf_counter() - began) * 1000
            lab = Lab(config, tier=tier)
            return asyncio.run(_measure(tier, lab, commands, bring_up_ms))


def _line(process: subprocess.Popen[bytes], buffer: bytearray, within: float) -> str:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise TimeoutError("sim serve printed nothing in time")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("sim serve ended before it was ready")
            buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


@contextmanager
def _served() -> Iterator[tuple[str, str, float]]:
    """``sim serve --export`` in a child process: (HCI spec, MAC, start-up ms); ended by PID."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ttlock_hil.harness.cli", "sim", "serve"),
            *("--preset", "v3-keypad", "--export", "tcp-server:127.0.0.1:0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        buffer = bytearray()
        spec = _line(process, buffer, START_S).split("=", 1)[1]
        mac = _line(process, buffer, START_S).split(" at ", 1)[1].split(" ", 1)[0]
        yield spec, mac, (time.perf_counter() - began) * 1000
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _over_tcp(commands: int) -> Figures:
    with tempfile.TemporaryDirectory() as scratch, _served() as (spec, mac, bring_up_ms):
        lab = Lab(_config(Path(scratch), mac), tier="bumble", environ={BUMBLE_HCI_VARIABLE: spec})
        figures = asyncio.run(_measure("bumble over TCP", lab, commands, bring_up_ms))
        return Figures(
            figures.tier,
            bring_up_ms,
            figures.first_connect_ms,
            figures.reconnect_ms,
            figures.round_trips_per_s,
            figures.p50_ms,
            "bring-up: the serving process started and printed its port",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/bench_tiers.py", description=__doc__)
    parser.add_argument("--commands", type=int, default=1000, help="status round trips timed")
    args = parser.parse_args(argv)
    rows: list[Figures] = []
    rows.append(_in_process("virtual", args.commands))
    if shutil.which("dbus-daemon") is not None:
        rows.append(_in_process("bluez", args.commands))
    else:
        print("bluez: skipped (apt-get install dbus-daemon)", file=sys.stderr)
    rows.append(_in_process("bumble", args.commands))
    rows.append(_over_tcp(args.commands))
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print()
    print(
        "| tier | bring-up (ms) | first connect (ms) | reconnect (ms) "
        "| status round trips/s | p50 (ms) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.tier} | {row.bring_up_ms:.0f} | {row.first_connect_ms:.0f} "
            f"| {row.reconnect_ms:.0f} | {row.round_trips_per_s:.0f} | {row.p50_ms:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
