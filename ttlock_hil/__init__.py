"""ttlock-hil: a hardware-in-the-loop test harness for TTLock Bluetooth LE locks and gateways.

Everything the distribution installs lives under this one name, so installing the
tool can neither shadow nor be shadowed by another package called ``protocol``,
``harness`` or ``fixtures`` (docs/architecture.md §2):

* ``ttlock_hil.protocol`` — sans-IO TTLock protocol (folder ``protocol/``)
* ``ttlock_hil.harness`` — asyncio + bleak harness, CLI, reports (folder ``harness/``),
  with the virtual devices in ``ttlock_hil.harness.sim``
* ``ttlock_hil.fixtures`` — the pytest plugin (folder ``fixtures/``)
* ``ttlock_hil.suite`` — the regression suite a lab runs nightly (folder ``tests/hil/``)

PYTEST_DONT_REWRITE: pytest rewrites the asserts of every module of a distribution that
registers a pytest plugin, and warns when the distribution's top-level module was
imported before it could. A night's workers are forked from a process that imported the
harness already (``ttlock_hil.fixtures.forkserver``); this module has no assert to
rewrite, and the marker tells pytest so.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]

try:
    __version__ = metadata.version("ttlock-hil")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
