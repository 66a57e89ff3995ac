"""A remote bench night whose SSH hangs: the deadline ends it, and the process can exit.

Found by reading: ``_run_remote`` waited for labgrid's blocking ``SSHDriver`` in
``asyncio.to_thread``. ``SSHDriver.get`` (scp) has no timeout, so a hung copy outlived
the deadline in the loop's executor, and ``asyncio.run`` (which joins that executor at
its end) hung the lab night after it had given the bench up.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ttlock_hil.harness.labgrid import labnight


class HungCopy:
    """An SSH whose night finishes and whose scp never returns (until released)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def run(self, cmd: str, timeout: float | None = None) -> tuple[list[str], list[str], int]:
        return [], [], 0

    def get(self, filename: str, destination: str = ".") -> None:
        self.release.wait()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # the stand-in's thread ends with the test


def test_a_hung_copy_ends_at_the_deadline_and_does_not_hold_the_process(
    tmp_path: Path, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(labnight, "FETCH_GRACE_S", 0.0)

    def factory(bench: Mapping[str, Any]) -> HungCopy:
        return HungCopy(release)

    async def night() -> int:
        return await labnight._run_remote(
            place="bench-04",
            bench={"host": "lab-pc-4"},
            command=["ttlock-hil", "nightly"],
            remote_out="/var/tmp/night",
            bench_dir=tmp_path,
            log=tmp_path / "nightly.log",
            timeout_s=0.2,
            ssh_factory=factory,
        )

    # A watchdog frees the copy after 10 s, so a regression fails instead of hanging.
    threading.Timer(10.0, release.set).start()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(night())
    assert time.monotonic() - started < 5.0


class UnboundedShell:
    """Runs the command in a local shell and, like labgrid's SSHDriver on a timeout, never
    stops it: only the command line itself can end a remote night."""

    def run(self, cmd: str, timeout: float | None = None) -> tuple[list[str], list[str], int]:
        done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=False)
        return done.stdout.splitlines(), done.stderr.splitlines(), done.returncode

    def get(self, filename: str, destination: str = ".") -> None:
        shutil.copy(filename, destination)


def test_a_remote_night_past_its_deadline_is_stopped_on_the_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by reading: SSHDriver.run's timeout leaves ssh and the remote nightly running,
    so the bench went on testing after its place was released to the next lab night."""
    monkeypatch.setattr(labnight, "FETCH_GRACE_S", 3.0)
    marker = tmp_path / "still-running"
    remote_out = tmp_path / "remote" / "night"

    async def night() -> int:
        return await labnight._run_remote(
            place="bench-04",
            bench={"host": "lab-pc-4"},
            command=["bash", "-c", f"sleep 8; touch {marker}"],
            remote_out=str(remote_out),
            bench_dir=tmp_path / "fetched",
            log=tmp_path / "nightly.log",
            timeout_s=1,
            ssh_factory=lambda _: UnboundedShell(),
        )

    with pytest.raises(TimeoutError):
        asyncio.run(night())
    time.sleep(9)
    assert not marker.exists()  # the night was stopped where it ran
