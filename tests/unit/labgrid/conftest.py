"""Loopback labgrid labs for the tests of this folder (see :mod:`.loopback`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.unit.labgrid.loopback import LoopbackLab

# The browser check of report.html (headless Chromium, a canary proxy, DevTools), for the
# merged lab report: the same fixtures as the single-bench report's.
from tests.unit.report.test_html import canary, chromium, devtools  # noqa: F401

LabFactory = Callable[..., LoopbackLab]


@pytest.fixture
def new_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Start a loopback lab of its own (ended, process by process, at teardown)."""
    started: list[LoopbackLab] = []

    def start(
        *, benches: tuple[str, ...] = LoopbackLab.benches, configs: dict[str, str] | None = None
    ) -> LoopbackLab:
        lab = LoopbackLab(tmp_path_factory.mktemp("labgrid-lab"), benches=benches)
        started.append(lab)
        return lab.start(configs=configs)

    try:
        yield start
    finally:
        for lab in started:
            lab.close()
