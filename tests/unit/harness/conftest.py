"""Test support for the harness: lab configs in a temp dir, fast deadlines, task hygiene.

* :func:`build_config` writes a ``hil-config.yaml`` into a test's directory
  (reports, credentials and traces stay there) with short deadlines, so a
  test that waits for a timeout waits a fraction of a second.
* :func:`make_lab` builds a :class:`~ttlock_hil.harness.lab.Lab` from it; by default
  ``sim:`` devices are the simulator presets, ``echo_factory`` puts the
  transport-level :class:`~tests.unit.sim.conftest.EchoDevice` there instead.
* The autouse :func:`no_task_outlives_the_test` fails any test that leaves an
  asyncio task running (aioesphomeapi's discipline, docs/architecture.md §11.7).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.sim.conftest import EchoDevice
from ttlock_hil.harness.config import LabConfig, parse_config
from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.lab import DeviceFactory, Lab
from ttlock_hil.harness.sim.device import Clock, DeviceKind, ManualClock, VirtualDevice
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY

FAST = {"scan": 0.5, "connect": 0.5, "command": 0.3}
"""Deadlines (seconds) for unit tests: short, but far above an in-process round trip."""

DEADLINE = 10.0
"""Outer bound on any awaited test step: nothing in these tests may hang."""

TEST_DEADLINE = 90.0
"""Bound on a whole test, enforced by the autouse watchdog below."""

ECHO_CREDENTIALS = LockCredentials(aes_key=DEFAULT_LOCK_KEY, admin_ps=11111111, unlock_key=2222222)
"""EchoDevice encrypts with the default key: a session to it uses that as the lock key."""


def build_config(
    tmp_path: Path,
    devices: list[dict[str, Any]],
    *,
    timeouts: Mapping[str, float] | None = None,
    attempts: int = 3,
    backoff: tuple[float, ...] = (0.0,),
    retry_on: tuple[str, ...] | None = None,
    redact: bool = True,
    plugin_version: str = "3.1.0",
    lab: str = "unit-lab",
) -> LabConfig:
    """A validated lab config written to ``tmp_path/hil-config.yaml``."""
    retry: dict[str, Any] = {"attempts": attempts, "backoff": list(backoff)}
    if retry_on is not None:
        retry["retry_on"] = list(retry_on)
    data = {
        "lab": lab,
        "plugin_version": plugin_version,
        "timeouts": dict(timeouts if timeouts is not None else FAST),
        "retry": retry,
        "reports": "reports",
        "credentials_dir": "credentials",
        "redact": redact,
        "devices": devices,
    }
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "hil-config.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, file=path, base_dir=tmp_path)


def lock_entry(name: str = "front-door", preset: str = "v3-keypad", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "lock", "model": preset, "address": f"sim:{preset}", **extra}


def gateway_entry(name: str = "gw", preset: str = "g2", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "gateway", "model": preset, "address": f"sim:{preset}", **extra}


def echo_factory(
    preset: str,
    /,
    *,
    name: str | None = None,
    address: str | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    credentials: LockCredentials | None = None,
) -> VirtualDevice:
    """A DeviceFactory building EchoDevices: a preset starting with ``g`` is a gateway."""
    kind = DeviceKind.GATEWAY if preset.startswith("g") else DeviceKind.LOCK
    return EchoDevice(kind, address=address, name=name)


def make_lab(
    config: LabConfig,
    *,
    echo: bool = False,
    clock: Clock | None = None,
    seed: int | None = 7,
    environ: Mapping[str, str] | None = None,
    device_factory: DeviceFactory | None = None,
    **kwargs: Any,
) -> Lab:
    """A lab on ``config``; ``echo=True`` puts EchoDevices behind the sim: addresses."""
    return Lab(
        config,
        clock=clock if clock is not None else ManualClock(),
        rng=random.Random(seed) if seed is not None else None,
        device_factory=echo_factory if echo else device_factory,
        environ=environ,
        **kwargs,
    )


def echo_environ() -> dict[str, str]:
    """``env:ECHO_CREDS`` holding :data:`ECHO_CREDENTIALS` (for sessions to EchoDevice locks)."""
    return {"ECHO_CREDS": ECHO_CREDENTIALS.to_json()}


def lingering_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks of this loop that are still running and were not there ``before``."""
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task not in before and task is not current and not task.done()
    ]


@pytest.fixture(autouse=True)
async def no_task_outlives_the_test() -> AsyncIterator[None]:
    """Every test gets a deadline, and fails if any task it started outlives it.

    The watchdog cancels the test's tasks after :data:`TEST_DEADLINE` seconds, so
    even an await a test forgot to bound cannot hang the run.
    """
    before = set(asyncio.all_tasks())
    loop = asyncio.get_running_loop()

    def watchdog() -> None:
        for task in lingering_tasks(before):
            task.cancel(f"the test ran longer than {TEST_DEADLINE:g} s")

    handle = loop.call_later(TEST_DEADLINE, watchdog)
    try:
        yield
    finally:
        handle.cancel()
    for _ in range(3):
        await asyncio.sleep(0)  # let just-cancelled tasks finish
    left = lingering_tasks(before)
    for task in left:
        task.cancel()
    assert not left, f"asyncio tasks outlived the test: {left}"
