"""``ttlock-hil sim serve`` in one process, the harness in another, over a controller on loopback.

The serving process keeps the link (a SimLink) and exports a second controller on
``tcp-server:127.0.0.1:0``; this process runs ``Lab(tier="bumble")`` with
``TTLOCK_HIL_BUMBLE_HCI`` pointing at it, so the harness's Bumble host talks HCI over TCP
to a controller in the other process. Only 127.0.0.1 is bound; every process is ended by
its PID.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.requires import no_bumble

try:
    import bumble  # noqa: F401
except ModuleNotFoundError:
    no_bumble()

from ttlock_hil.harness.lab import BUMBLE_HCI_VARIABLE
from ttlock_hil.protocol.messages import LockState

from .conftest import DEADLINE, build_config, make_lab

START_S = 20.0
"""Bound on the serving process printing its lines (an interpreter start and imports)."""


class _Lines:
    """The lines a process prints, each read with a deadline (no buffered readline: it
    would swallow the next line where select() cannot see it)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        self._buffer = b""

    def next(self, within: float) -> str:
        deadline = time.monotonic() + within
        with selectors.DefaultSelector() as selector:
            selector.register(self._fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    pytest.fail(f"no line from the serving process within {within:g} s")
                chunk = os.read(self._fd, 4096)
                if not chunk:
                    pytest.fail(f"the serving process closed its output: {self._buffer!r}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


def _end(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` by its PID (SIGKILL after a grace) and close its pipes."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _serve(*arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ttlock_hil.harness.cli", "sim", "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str, Path]]:
    """A serving process: (process, HCI spec for the harness, the device's MAC, capture)."""
    capture = tmp_path / "served.btsnoop"
    process = _serve(
        "--preset", "v3-keypad", "--export", "tcp-server:127.0.0.1:0", "--snoop", str(capture)
    )
    try:
        lines = _Lines(process)
        export = lines.next(START_S).strip()
        described = lines.next(START_S).strip()
        prefix = f"export {BUMBLE_HCI_VARIABLE}="
        assert export.startswith(prefix), export
        hci_spec = export[len(prefix) :]
        assert hci_spec.startswith("tcp-client:127.0.0.1:")
        mac = described.split(" at ", 1)[1].split(" ", 1)[0]
        yield process, hci_spec, mac, capture
    finally:
        _end(process)


async def test_the_harness_in_another_process_runs_a_lock_scenario_over_the_exported_controller(
    tmp_path: Path, served: tuple[subprocess.Popen[bytes], str, str, Path]
) -> None:
    process, hci_spec, mac, capture = served
    config = build_config(
        tmp_path,
        [{"name": "door", "kind": "lock", "model": "v3-keypad", "address": mac}],
        timeouts={"scan": 3.0, "connect": 3.0, "command": 2.0},
    )
    lab = make_lab(config, tier="bumble", environ={BUMBLE_HCI_VARIABLE: hci_spec})
    try:
        lock = lab.lock("door")
        async with asyncio.timeout(DEADLINE * 3):
            await lock.init()
            await lock.unlock()
            first = await lock.status()
            await lock.disconnect()
            again = await lock.status()  # a new link: scan, connect, login
    finally:
        async with asyncio.timeout(DEADLINE):
            await lab.aclose()
    assert first.state == again.state == LockState.UNLOCKED
    assert lock.session.link.transport.client_backend is not None
    assert process.poll() is None  # still serving

    port = int(hci_spec.rsplit(":", 1)[1])
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # gone with its process
    header = capture.read_bytes()[:16]
    assert header[:8] == b"btsnoop\0"
    assert capture.stat().st_size > 1000  # the scenario's HCI traffic, not just a header


def test_an_unknown_preset_is_one_error_line_and_status_2() -> None:
    process = _serve("--preset", "v9-nonexistent", "--export", "tcp-server:127.0.0.1:0")
    try:
        assert process.wait(timeout=START_S) == 2
        assert process.stderr is not None
        errors = process.stderr.read().decode().strip().splitlines()
    finally:
        _end(process)
    assert len(errors) == 1
    assert errors[0].startswith("error: ")
    assert "v9-nonexistent" in errors[0]


def test_a_controller_that_does_not_open_is_one_error_line_pointing_at_the_docs(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-tty"
    began = time.monotonic()
    process = _serve("--preset", "g2", "--transport", f"serial:{missing},1000000")
    try:
        assert process.wait(timeout=START_S) == 2
        assert process.stderr is not None
        errors = process.stderr.read().decode().strip().splitlines()
    finally:
        _end(process)
    assert time.monotonic() - began < START_S
    assert len(errors) == 1
    assert "docs/sim-serve.md" in errors[0]
