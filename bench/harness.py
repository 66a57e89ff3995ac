"""Harness workloads on the virtual tier: round trip, locks in parallel, a long-lived Lab.

Everything runs in this process on one event loop; the virtual lock's own CPU (it
decrypts, answers, encrypts) is inside every figure, for the harness and for the
bare client alike.

* round trip: ``lock.status()`` through :class:`~ttlock_hil.harness.lab.Lab` (session,
  link, trace with redaction, error mapping) against a bare bleak client, the
  ``TinyClient`` of docs/simulator.md (``BleakClient`` + ``LockApp``, nothing else),
  on the same virtual lock, rounds interleaved, connections made outside the timing;
* parallel: N locks, each doing its commands at once (``asyncio.gather``), with and
  without a 15 ms delay before each reply (the simulator's ``Fault.DELAY``, a
  radio-like exchange time);
* soak: one Lab, 10 000 commands on one lock (every tenth an admin unlock: a login
  that teaches the redactor two new secrets), CPU and memory sampled per window.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from bleak import BleakClient, BleakScanner

from ttlock_hil.harness.config import parse_config
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.sim import Fault, VirtualClientBackend, VirtualScannerBackend
from ttlock_hil.protocol.app import LockApp, Replied
from ttlock_hil.protocol.messages import SearchStatus, StatusReply

DEADLINE = 30.0
RADIO_DELAY = 0.015
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def make_lab(workdir: Path, locks: int, *, seed: int = 15) -> Lab:
    """A lab of ``locks`` virtual V3 keypad locks, its files under ``workdir``."""
    devices = [
        {"name": f"lock-{n}", "kind": "lock", "model": "v3-keypad", "address": "sim:v3-keypad"}
        for n in range(locks)
    ]
    data = {
        "lab": f"bench-{locks}",
        "plugin_version": "3.1.0",
        "timeouts": {"scan": 5.0, "connect": 5.0, "command": 5.0},
        "retry": {"attempts": 1, "backoff": [0.0]},
        "reports": "reports",
        "credentials_dir": "credentials",
        "redact": True,
        "devices": devices,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "hil-config.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    config = parse_config(text, file=path, base_dir=workdir)
    return Lab(config, rng=random.Random(seed))


async def initialise(lab: Lab, names: list[str]) -> None:
    for name in names:
        lock = lab.lock(name)
        async with asyncio.timeout(DEADLINE):
            await lock.init()
        await lock.aclose()


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE
    except OSError:  # not Linux: the peak instead
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- the bare client -----------------------------------------------------------------------------


class BareClient:
    """docs/simulator.md's client: bleak and the protocol's app role, nothing else."""

    def __init__(self, client: BleakClient, key: bytes) -> None:
        self.client = client
        self.app = LockApp(setting_mode=False, lock_key=key)
        self.replies: asyncio.Queue[Replied] = asyncio.Queue()

    def on_notify(self, _sender: object, data: bytearray) -> None:
        for event in self.app.receive_data(data):
            if isinstance(event, Replied):
                self.replies.put_nowait(event)

    async def start(self) -> None:
        self.app.connected()
        await self.client.start_notify("fff4", self.on_notify)
        self.app.subscribed()

    async def status(self) -> StatusReply:
        wire = self.app.send(SearchStatus()).data
        size = self.client.mtu_size - 3
        async with asyncio.timeout(DEADLINE):
            for offset in range(0, len(wire), size):
                await self.client.write_gatt_char("fff2", wire[offset : offset + size], False)
            reply = (await self.replies.get()).message
        assert isinstance(reply, StatusReply)
        return reply


async def timed(calls: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call over ``calls`` sequential calls."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


async def round_trip(workdir: Path, rounds: int, calls: int) -> dict[str, Any]:
    lab = make_lab(workdir / "roundtrip", 1)
    try:
        await initialise(lab, ["lock-0"])
        air = lab.air
        address = lab.virtual("lock-0").device.address
        creds = lab.credentials("lock-0")
        assert creds is not None
        lock = lab.lock("lock-0")
        samples: dict[str, list[tuple[float, float]]] = {"harness": [], "bare": []}
        for index in range(rounds + 1):  # round 0 warms up and is dropped
            order = ["harness", "bare"] if index % 2 else ["bare", "harness"]
            for who in order:
                if who == "harness":
                    await lock.connect()
                    result = await timed(calls, lock.status)
                    await lock.disconnect()
                else:
                    device = await BleakScanner.find_device_by_address(
                        address, timeout=5.0, backend=VirtualScannerBackend.bind(air)
                    )
                    assert device is not None
                    async with BleakClient(device, backend=VirtualClientBackend, air=air) as bc:
                        bare = BareClient(bc, creds.aes_key)
                        await bare.start()
                        result = await timed(calls, bare.status)
                if index:
                    samples[who].append(result)
        await lock.aclose()
    finally:
        await lab.aclose()
    out: dict[str, Any] = {"rounds": rounds, "calls_per_round": calls}
    for who, values in samples.items():
        out[who] = {
            "cpu_ms": statistics.median(v[0] for v in values) * 1e3,
            "wall_ms": statistics.median(v[1] for v in values) * 1e3,
            "cpu_ms_rounds": [round(v[0] * 1e3, 4) for v in values],
        }
    out["cpu_ratio"] = out["harness"]["cpu_ms"] / out["bare"]["cpu_ms"]
    out["wall_ratio"] = out["harness"]["wall_ms"] / out["bare"]["wall_ms"]
    return out


async def parallel(workdir: Path, counts: list[int], calls: int, delayed_calls: int) -> dict:
    most = max(counts)
    lab = make_lab(workdir / "parallel", most)
    names = [f"lock-{n}" for n in range(most)]
    results: dict[str, Any] = {"counts": counts, "radio_delay_s": RADIO_DELAY, "runs": []}
    try:
        await initialise(lab, names)
        locks = [lab.lock(name) for name in names]
        for lock in locks:
            await lock.connect()
        for delay in (0.0, RADIO_DELAY):
            rules = []
            if delay:
                for name in names:
                    faults = lab.air.faults(lab.virtual(name).device.address)
                    rules.append((faults, faults.add(Fault.DELAY, seconds=delay, times=None)))
            per_lock = delayed_calls if delay else calls
            for count in counts:
                chosen = locks[:count]

                async def drive(lock: Any, per_lock: int = per_lock) -> None:
                    for _ in range(per_lock):
                        await lock.status()

                cpu, wall = time.process_time(), time.perf_counter()
                async with asyncio.timeout(DEADLINE * 10):
                    await asyncio.gather(*(drive(lock) for lock in chosen))
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                results["runs"].append(
                    {
                        "delay_s": delay,
                        "locks": count,
                        "commands": count * per_lock,
                        "wall_s": wall,
                        "cpu_ms_per_command": cpu / (count * per_lock) * 1e3,
                    }
                )
            for faults, rule in rules:
                faults.remove(rule)
        for lock in locks:
            await lock.aclose()
    finally:
        await lab.aclose()
    for run in results["runs"]:
        base = next(
            r for r in results["runs"] if r["delay_s"] == run["delay_s"] and r["locks"] == 1
        )
        # Same commands per lock at every N: wall(N)/wall(1) is the cost of running N at once.
        run["wall_ratio_vs_1"] = run["wall_s"] / base["wall_s"]
    return results


async def soak(workdir: Path, commands: int, window: int, unlock_every: int) -> dict[str, Any]:
    lab = make_lab(workdir / "soak", 1)
    windows: list[dict[str, Any]] = []
    try:
        await initialise(lab, ["lock-0"])
        lock = lab.lock("lock-0")
        await lock.connect()
        done = 0
        gc.collect()
        while done < commands:
            cpu, wall = time.process_time(), time.perf_counter()
            for n in range(done, done + window):
                if unlock_every and n % unlock_every == unlock_every - 1:
                    await lock.unlock()
                else:
                    await lock.status()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            done += window
            gc.collect()
            windows.append(
                {
                    "after_commands": done,
                    "cpu_ms_per_command": cpu / window * 1e3,
                    "wall_ms_per_command": wall / window * 1e3,
                    "rss_mb": rss_bytes() / 2**20,
                    "allocated_blocks": sys.getallocatedblocks(),
                    "redactor_forms": len(lab.redactor.forms()),
                }
            )
        await lock.aclose()
    finally:
        await lab.aclose()
    first, last = windows[0], windows[-1]
    span = last["after_commands"] - first["after_commands"]
    return {
        "commands": commands,
        "window": window,
        "unlock_every": unlock_every,
        "windows": windows,
        "cpu_ratio_last_vs_first": last["cpu_ms_per_command"] / first["cpu_ms_per_command"],
        "rss_ratio_last_vs_first": last["rss_mb"] / first["rss_mb"],
        "rss_kb_per_command_after_first_window": (last["rss_mb"] - first["rss_mb"]) * 1024 / span,
        "blocks_per_command_after_first_window": (
            last["allocated_blocks"] - first["allocated_blocks"]
        )
        / span,
    }
