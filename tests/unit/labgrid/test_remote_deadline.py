"""A remote bench night whose SSH hangs: the deadline ends it, and the process can exit.

Found by reading: ``_run_remote`` waited for labgrid's blocking ``SSHDriver`` in
``asyncio.to_thread``. ``SSHDriver.get`` (scp) has no timeout, so a hung copy outlived
the deadline in the loop's executor, and ``asyncio.run`` (which joins that executor at
its end) hung the lab night after it had given the bench up.
"""

from __future__ import annotations

import asyncio
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
