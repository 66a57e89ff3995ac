"""Shared pieces of the HIL regression suite (the device fixtures come from the plugin).

* :func:`fast_lock` / :func:`fast_gateway`: the same device on a second session
  with short deadlines and no retries, for fault-injection tests that *wait for*
  a timeout. The lab's deadlines (seconds) suit a radio; an in-process simulated
  device answers in microseconds, so 0.3 s proves a timeout just as well and
  keeps the suite fast (tier 3's connect, a real ATT exchange, gets 0.5 s). They
  exist only where faults can be injected (sim-only tests), so a real bench never
  runs with them.
* ``bench_wifi``: the Wi-Fi network a gateway test may join (the virtual G2
  sees ``MyWiFi``; a real bench sets ``TTLOCK_HIL_WIFI_SSID`` and
  ``TTLOCK_HIL_WIFI_PASSWORD``).
* ``ekeys``: e-key windows (valid now, expired, not yet valid) in lock-local time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import pytest_asyncio

from ttlock_hil.harness.config import DeviceConfig, RetryPolicy, Timeouts
from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.gateway import Gateway
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import EKeyWindow, Lock
from ttlock_hil.harness.session import Session
from ttlock_hil.harness.testtrace import TraceFile

SIM_DEADLINES = Timeouts(scan=0.3, connect=0.15, command=0.15)
"""Deadlines for fault-injection tests on simulated devices (see the module docstring)."""

BUMBLE_DEADLINES = Timeouts(scan=0.3, connect=0.5, command=0.15)
"""The same on tier 3, where a connect is a real ATT exchange in Python (MTU, discovery of
the whole table, a CCCD write): about 30 ms alone, past 0.15 s on a loaded 2-core machine."""


def _deadlines(lab: Lab) -> Timeouts:
    return BUMBLE_DEADLINES if lab.tier == "bumble" else SIM_DEADLINES


NO_RETRY = RetryPolicy(attempts=1, backoff=(0.0,))
"""Fault-injection tests see the first failure: one attempt, nothing retried."""


def _session(lab: Lab, device: DeviceConfig, trace: TraceFile) -> Session:
    creds = lab.credentials(device.name)
    return Session(
        lab.transport(device.name),
        device=device.name,
        kind=device.kind,
        plugin_version=lab.plugin_version(device.name),
        timeouts=_deadlines(lab),
        retry=NO_RETRY,
        redactor=lab.redactor,
        trace_path=trace.extra("short-deadlines"),
        **({"lock_key": creds.aes_key, "header": creds.header} if creds is not None else {}),
    )


def _refuse_save(creds: LockCredentials) -> object:
    raise AssertionError("a fault-injection test must not re-initialise the lock")


@pytest_asyncio.fixture
async def fast_lock(
    lock: Lock, hil_lab: Lab, hil_device: DeviceConfig, frame_trace: TraceFile
) -> AsyncIterator[Lock]:
    """The test's (paired) lock on a new session with :data:`SIM_DEADLINES`, not connected."""
    await lock.disconnect()  # one central at a time, like a real lock
    api = Lock(
        _session(hil_lab, hil_device, frame_trace),
        credentials=hil_lab.credentials(hil_device.name),
        save=_refuse_save,  # type: ignore[arg-type]
        clock=hil_lab.clock,
    )
    try:
        yield api
    finally:
        await api.aclose()


@pytest_asyncio.fixture
async def fast_gateway(
    gateway: Gateway, hil_lab: Lab, hil_device: DeviceConfig, frame_trace: TraceFile
) -> AsyncIterator[Gateway]:
    """The test's gateway on a new session with :data:`SIM_DEADLINES`, not connected."""
    await gateway.disconnect()
    api = Gateway(_session(hil_lab, hil_device, frame_trace), model=hil_device.model)
    try:
        yield api
    finally:
        await api.aclose()


@dataclass(frozen=True, slots=True)
class WifiNetwork:
    """A Wi-Fi network of the bench (``repr`` hides the password)."""

    ssid: str
    password: str

    def __repr__(self) -> str:
        return f"WifiNetwork({self.ssid!r})"


@pytest.fixture(scope="session")
def bench_wifi() -> WifiNetwork:
    """The Wi-Fi network gateways may join (environment on a real bench; the G2 sim's default)."""
    return WifiNetwork(
        os.environ.get("TTLOCK_HIL_WIFI_SSID", "MyWiFi"),
        os.environ.get("TTLOCK_HIL_WIFI_PASSWORD", "secret123"),
    )


class EKeyWindows:
    """E-key validity windows relative to the lab's "now" (lock-local: init() set the
    lock's clock from the same clock), at the minute precision the lock stores."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def around_now(self) -> EKeyWindow:
        return self.relative(start=timedelta(hours=-1), end=timedelta(hours=1))

    def expired(self) -> EKeyWindow:
        return self.relative(start=timedelta(days=-30), end=timedelta(days=-1))

    def future(self) -> EKeyWindow:
        return self.relative(start=timedelta(days=1), end=timedelta(days=30))

    def relative(self, *, start: timedelta, end: timedelta) -> EKeyWindow:
        current: datetime = self._lab.clock.now()
        return EKeyWindow.of(current + start, current + end)


@pytest.fixture
def ekeys(hil_lab: Lab) -> EKeyWindows:
    """E-key windows (valid now, expired, not yet valid) in lock-local time."""
    return EKeyWindows(hil_lab)
