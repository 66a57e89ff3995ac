"""A labgrid lab on loopback: a coordinator and exporters as real processes, virtual benches.

:class:`LoopbackLab` starts ``labgrid-coordinator -l 127.0.0.1:<free port>`` in its own
temporary directory (it keeps ``places.yaml`` and ``resources.yaml`` in its working
directory) and one ``labgrid-exporter`` per bench PC, each exporting one ``TTLockBench``
whose config is a virtual bench of one ``sim:`` lock and whose suite is a two-test suite
(a night of a few seconds). Processes start with ``GRPC_ENABLE_FORK_SUPPORT=0`` and are
waited for on their "Coordinator ready" / "connected to coordinator" lines; :meth:`close`
ends each by its PID (SIGTERM, then SIGKILL). Ports and directories are per lab, so labs
of parallel test workers never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ttlock_hil.harness.labgrid.coordinator import Coordinator, PlaceInfo

BIN: Final = Path(sys.executable).parent
TAGS: Final = {"ttlock": "yes"}
START_S: Final = 20.0

TINY_SUITE: Final = """
async def test_the_lock_reports_its_battery(lock):
    status = await lock.status()
    assert 0 <= status.battery <= 100


async def test_the_lock_unlocks(lock):
    await lock.unlock()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def labgrid_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LG_"))}
    env["GRPC_ENABLE_FORK_SUPPORT"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""

    def wait_for(self, line: str, timeout: float = START_S) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.text():
            if self.popen.poll() is not None:
                status = self.popen.returncode
                raise AssertionError(f"{self.name} exited ({status}):\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {line!r} in {timeout} s:\n{self.text()}")
            time.sleep(0.05)

    def end(self) -> None:
        """End by PID: SIGTERM, then SIGKILL after 5 s."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)


def write_bench(root: Path, place: str, *, config_text: str | None = None) -> Path:
    """A virtual bench's directory: its hil-config.yaml (one sim lock) and reports."""
    bench = root / place
    bench.mkdir(parents=True, exist_ok=True)
    config = bench / "hil-config.yaml"
    config.write_text(
        config_text
        or (
            f"lab: {place}\n"
            f"reports: {bench / 'reports'}\n"
            "devices:\n"
            "  - {name: front-door, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n"
        ),
        "utf-8",
    )
    return config


@dataclass
class LoopbackLab:
    root: Path
    benches: tuple[str, ...] = ("bench-01", "bench-02", "bench-03")
    port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)
    exporters: dict[str, Process] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def suite(self) -> Path:
        return self.root / "suite"

    def _spawn(self, name: str, command: list[str], cwd: Path) -> Process:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=labgrid_env(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start(self, *, configs: dict[str, str] | None = None) -> LoopbackLab:
        self.suite.mkdir(parents=True, exist_ok=True)
        (self.suite / "test_tiny.py").write_text(TINY_SUITE, "utf-8")
        home = self.root / "coordinator"
        home.mkdir(parents=True, exist_ok=True)
        coordinator = self._spawn(
            "coordinator", [str(BIN / "labgrid-coordinator"), "-l", self.address], home
        )
        coordinator.wait_for("Coordinator ready")
        for index, place in enumerate(self.benches, start=1):
            config = write_bench(
                self.root / "benches", place, config_text=(configs or {}).get(place)
            )
            exported = self.root / "exporters" / f"pc{index}.yaml"
            exported.parent.mkdir(parents=True, exist_ok=True)
            exported.write_text(
                f"{place}:\n  TTLockBench:\n    host: localhost\n    config: {config}\n"
                f"    suite: {self.suite}\n",
                "utf-8",
            )
            self.exporters[place] = self._spawn(
                f"exporter-pc{index}",
                [
                    str(BIN / "labgrid-exporter"),
                    "-c",
                    self.address,
                    "-n",
                    f"pc{index}",
                    str(exported),
                ],
                exported.parent,
            )
        for exporter in self.exporters.values():
            exporter.wait_for("connected to coordinator")
        asyncio.run(self._add_places())
        return self

    async def _add_places(self) -> None:
        async with Coordinator(self.address) as coordinator:
            for index, place in enumerate(self.benches, start=1):
                await coordinator.add_place(place, exporter=f"pc{index}", group=place, tags=TAGS)
            deadline = time.monotonic() + START_S
            while not all(p.bench is not None for p in coordinator.places().values()):
                assert time.monotonic() < deadline, coordinator.places()
                await asyncio.sleep(0.05)
                await coordinator.sync()

    def kill_exporter(self, place: str) -> None:
        """Kill the exporter of ``place`` (SIGKILL, by PID) and wait until the coordinator
        has dropped its bench."""
        exporter = self.exporters[place]
        os.kill(exporter.popen.pid, signal.SIGKILL)
        exporter.popen.wait(timeout=5)

        async def gone() -> None:
            async with Coordinator(self.address) as coordinator:
                deadline = time.monotonic() + START_S
                while coordinator.places()[place].bench is not None:
                    assert time.monotonic() < deadline, "the coordinator kept the bench"
                    await asyncio.sleep(0.1)
                    await coordinator.sync()

        asyncio.run(gone())

    def places(self) -> dict[str, PlaceInfo]:
        async def read() -> dict[str, PlaceInfo]:
            async with Coordinator(self.address) as coordinator:
                return coordinator.places()

        return asyncio.run(read())

    def reservations(self) -> list[str]:
        async def read() -> list[str]:
            async with Coordinator(self.address) as coordinator:
                return await coordinator.reservations()

        return asyncio.run(read())

    def close(self) -> None:
        for process in reversed(self.processes):
            process.end()
