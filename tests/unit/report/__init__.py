"""Tests of :mod:`harness.report`, and small builders of results and nights they share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ttlock_hil.harness.report.model import DeviceInfo, Night, Outcome, TestResult

T0 = datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC)

DEVICES = (
    DeviceInfo("front-door", "v3-keypad", "lock", "sim:v3-keypad", "5.3.1", 87),
    DeviceInfo("back-door", "v3-fingerprint-ic", "lock", "sim:v3-fingerprint-ic", "5.4.0", 64),
    DeviceInfo("gw-g2", "g2", "gateway", "sim:g2", "1.2.0", None),
)
MODEL_OF = {d.name: d.model for d in DEVICES}


def result(
    test: str = "test_unlock",
    device: str = "front-door",
    outcome: Outcome | str = Outcome.PASSED,
    **fields: Any,
) -> TestResult:
    """A result of ``tests/hil/test_lock.py::<test>`` on ``device`` (model from DEVICES)."""
    values: dict[str, Any] = {
        "test_id": f"tests/hil/test_lock.py::{test}",
        "name": test,
        "device": device,
        "model": MODEL_OF.get(device, "v3-keypad"),
        "outcome": outcome,
        "duration_s": 0.25,
    }
    values.update(fields)
    return TestResult(**values)


def night(
    index: int,
    results: list[TestResult] | tuple[TestResult, ...],
    *,
    complete: bool = True,
    **fields: Any,
) -> Night:
    """Night number ``index`` (one day apart from T0) with ``results``."""
    started = T0 + timedelta(days=index)
    values: dict[str, Any] = {
        "night_id": started.strftime("%Y-%m-%dT%H-%M-%SZ"),
        "started": started,
        "finished": started + timedelta(minutes=3) if complete else None,
        "complete": complete,
        "bench": "virtual-lab",
        "harness_version": "0.1.0",
        "plugin_version": "3.1.0",
        "git_sha": "f3de4b8",
        "devices": DEVICES,
        "results": tuple(results),
    }
    values.update(fields)
    return Night(**values)
