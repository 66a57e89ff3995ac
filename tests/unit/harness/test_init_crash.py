"""init() survives a crash at every step: a real child process is killed with SIGKILL.

The child (:mod:`.crash_init_child`) runs ``Lock.init()`` against a virtual lock
whose state is saved to a file after every request, like a real lock's flash
(:mod:`.persistent_lock`). A first run counts the steps of the flow; then, for
every step, a fresh child is killed right there: after each request the lock
processed (before its reply reached the harness), and between each reply and the
harness's credential write (and just after it). In the parent, the lock is
restored from its file with its link dropped, and then either

* it is still in setting mode (nobody owns it; init can start over), or
* the persisted credentials open it: admin login and unlock succeed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from datetime import datetime
from pathlib import Path

from ttlock_hil.harness.config import load_config
from ttlock_hil.harness.credentials import CredentialStore
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.sim.device import ManualClock, VirtualDevice

from .conftest import build_config, lock_entry
from .crash_init_child import DEVICE, STATE_FILE
from .persistent_lock import PersistentLock

REPO = Path(__file__).resolve().parents[3]
CHILD = "tests.unit.harness.crash_init_child"
CHILD_DEADLINE = 60.0
PARALLEL = 4


def prepare(directory: Path) -> Path:
    directory.mkdir(parents=True)
    build_config(
        directory,
        [lock_entry(DEVICE, "v3-keypad")],
        timeouts={"scan": 5.0, "connect": 5.0, "command": 5.0},
    )
    return directory


async def run_child(directory: Path, stop_at: int) -> tuple[list[str], int | None]:
    """Run the child; SIGKILL it when it reports READY. Returns its stdout lines, exit code."""
    with (directory / "child-stderr.txt").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            CHILD,
            str(directory),
            str(stop_at),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        lines: list[str] = []
        try:
            async with asyncio.timeout(CHILD_DEADLINE):
                assert process.stdout is not None
                while line := await process.stdout.readline():
                    text = line.decode().strip()
                    lines.append(text)
                    if text == "READY":
                        os.kill(process.pid, signal.SIGKILL)
                        break
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return lines, process.returncode


async def outcome_after_crash(directory: Path) -> str:
    """``setting-mode`` or ``opened`` — anything else fails the test."""
    state = directory / STATE_FILE
    if not state.exists():
        return "setting-mode"  # the child died before the lock was ever reached
    device = PersistentLock.load(state)
    device.on_disconnect()  # the link died with the child
    if device.setting_mode:
        return "setting-mode"
    store = CredentialStore(directory / "credentials")
    assert store.exists(DEVICE), "the lock is paired but no credentials were persisted"
    config = load_config(directory / "hil-config.yaml")

    def restored(preset: str, /, **_: object) -> VirtualDevice:
        return device

    async with Lab(
        config, clock=ManualClock(datetime(2026, 1, 1, 12, 0)), device_factory=restored
    ) as lab:
        lock = lab.lock(DEVICE)
        async with asyncio.timeout(10):
            await lock.login_admin()
            await lock.unlock()
    assert device.unlocked
    return "opened"


def steps_of(lines: list[str]) -> list[str]:
    return [line.split(" ", 2)[2] for line in lines if line.startswith("STEP ")]


async def test_init_leaves_an_openable_or_fresh_lock_when_killed_at_any_step(
    tmp_path: Path,
) -> None:
    full = prepare(tmp_path / "full")
    lines, code = await run_child(full, -1)
    steps = steps_of(lines)
    assert code == 0, (full / "child-stderr.txt").read_text()
    assert lines[-1] == "DONE"
    assert await outcome_after_crash(full) == "opened"
    # The flow as the child saw it: each request processed by the lock, and the two
    # credential writes around ADD_ADMIN.
    assert steps[:6] == [
        "lock-processed 0x19",
        "before-save",
        "after-save",
        "lock-processed 0x56",
        "before-save",
        "after-save",
    ]
    assert steps[-1] == "lock-processed 0x90"

    limit = asyncio.Semaphore(PARALLEL)

    async def crash_at(index: int) -> tuple[int, str]:
        async with limit:
            directory = prepare(tmp_path / f"kill-{index:02d}")
            lines, code = await run_child(directory, index)
            assert lines[-1] == "READY", (index, lines)
            assert code == -signal.SIGKILL
            assert steps_of(lines)[-1] == steps[index]
            outcome = await outcome_after_crash(directory)
            shutil.rmtree(directory)
            return index, outcome

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(crash_at(index)) for index in range(len(steps))]
    outcomes = dict(task.result() for task in tasks)

    admin_added = steps.index("lock-processed 0x56")
    for index, step in enumerate(steps):
        expected = "setting-mode" if index < admin_added else "opened"
        assert outcomes[index] == expected, (index, step, outcomes[index])
