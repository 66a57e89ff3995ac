"""pytest plugin of ``make bench``: virtual devices answer like devices on a radio.

Loaded into a nightly's pytest (and its xdist workers) through ``PYTEST_PLUGINS``: every
notification a virtual device sends reaches the harness :data:`VARIABLE` seconds late
(default 0.015), in the order it was sent — one radio-like delay per exchange.

Why not a ``Fault.DELAY`` rule on every request, as docs/performance.md §3 does for its
status commands: that fault delays a request's *replies* only, and the pushes the same
request makes a device send (a Wi-Fi scan's networks, a fingerprint template's chunks)
overtake them. Two tests of the suite rightly fail on that order, which no radio
produces. Delaying every notification by the same time is ``Fault.DELAY`` for a request
without pushes, and keeps the order for the others. Nothing is recorded in the devices'
fault history, so tests that inject faults see only their own (their delays add to it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

from ttlock_hil.harness.sim.peripheral import PeripheralLink

VARIABLE: Final = "TTLOCK_BENCH_RADIO_DELAY"
"""Seconds each notification takes to reach the harness (default 0.015)."""


def delayed(seconds: float) -> Callable[..., None]:
    """``PeripheralLink._soon`` that hands each notification over ``seconds`` later."""

    def soon(self: PeripheralLink, callback: Callable[[Any], object], argument: object) -> None:
        # Same delay, set at increasing loop times: the timers fire in the send order.
        self._loop.call_later(seconds, self._if_open, callback, argument)

    return soon


def pytest_configure(config: object) -> None:
    seconds = float(os.environ.get(VARIABLE, "0.015"))
    if seconds > 0:
        PeripheralLink._soon = delayed(seconds)  # type: ignore[method-assign]
