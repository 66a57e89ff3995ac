"""Child process of the init() crash test: initialise a persistent virtual lock, stop on cue.

Usage: ``python -m tests.unit.harness.crash_init_child DIR STOP_AT``

``DIR`` holds ``hil-config.yaml`` (one ``sim:`` lock called ``front-door``); the
lock's state lives in ``DIR/lock-state.pickle`` (:mod:`.persistent_lock`) and the
harness writes credentials to the config's ``credentials_dir``. Every step of the
flow prints ``STEP <n> <what>`` on stdout:

* ``lock-processed 0x..`` — the lock acted on a request and saved its state;
  the reply has not reached the harness yet;
* ``before-save`` — the harness holds the lock's reply, the credentials are not
  written yet; ``after-save`` — they are.

At step number ``STOP_AT`` the child prints ``READY`` and blocks, so the parent
kills it with SIGKILL exactly there. ``STOP_AT`` -1 runs to the end and prints
``DONE``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path

from ttlock_hil.harness.config import load_config
from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim.device import Clock, ManualClock, VirtualDevice
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.harness.sim.presets import create_device

from .persistent_lock import PersistentLock

DEVICE = "front-door"
STATE_FILE = "lock-state.pickle"
START = datetime(2026, 1, 1, 12, 0)


class Steps:
    """Numbers the steps; blocks at the one the parent wants to kill at."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at
        self.count = 0

    def step(self, what: str) -> None:
        number = self.count
        self.count += 1
        print(f"STEP {number} {what}", flush=True)
        if number == self.stop_at:
            print("READY", flush=True)
            time.sleep(120)  # the parent's SIGKILL arrives here
            raise SystemExit("not killed")


def main(argv: list[str]) -> int:
    directory, stop_at = Path(argv[0]), int(argv[1])
    steps = Steps(stop_at)
    config = load_config(directory / "hil-config.yaml")

    def factory(
        preset: str,
        /,
        *,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: object = None,
        credentials: LockCredentials | None = None,
    ) -> VirtualDevice:
        def create() -> VirtualLock:
            device = create_device(preset, address=address, clock=clock)
            assert isinstance(device, VirtualLock)
            return device

        return PersistentLock(
            directory / STATE_FILE,
            create,
            after_request=lambda command: steps.step(f"lock-processed 0x{command:02x}"),
        )

    lab = Lab(config, clock=ManualClock(START), device_factory=factory)

    def save(creds: LockCredentials) -> Path:
        steps.step("before-save")
        path = lab.save_credentials(DEVICE, creds)
        steps.step("after-save")
        return path

    async def run() -> None:
        async with lab:
            lock = Lock(lab.session(DEVICE), credentials=None, save=save, clock=lab.clock)
            async with asyncio.timeout(30):
                await lock.init()

    asyncio.run(run())
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
