"""The virtual lock through its sans-IO entry point, ``receive()``."""

from __future__ import annotations

import pytest

from .lock_scenarios import SCENARIOS, Scenario
from .lockapp import SansIODriver


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_lock_behaviour_through_receive(scenario: Scenario) -> None:
    driver = SansIODriver()
    await scenario(driver)
    await driver.close()
