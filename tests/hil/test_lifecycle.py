"""The whole life of a lock on a bench: factory-fresh → initialised → used → reset.

Destructive (the lock is reset twice), so on real hardware it runs only on
locks whose config lists the ``reset`` feature.
"""

from __future__ import annotations

import pytest

from ttlock_hil.harness.expect import expect_code, expect_ok
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.lock import Lock
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.messages import Feature

pytestmark = pytest.mark.hil_destructive


@pytest.mark.hil_case("ADD_ADMIN", "ok")
async def test_init_pairs_a_factory_fresh_lock(factory_lock: Lock, hil_expected: Expected) -> None:
    assert factory_lock.session.seen is not None
    assert factory_lock.session.seen.setting_mode is True
    async with hil_expected.check():
        result = await factory_lock.init()
    assert result.device_info.firmware
    assert factory_lock.credentials == result.credentials
    await expect_ok(factory_lock.unlock())


@pytest.mark.hil_case("RESET_LOCK", "ok")
async def test_init_use_reset_cycle(factory_lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(factory_lock.init())
    await expect_ok(factory_lock.unlock())
    await expect_ok(factory_lock.lock())
    status = await expect_ok(factory_lock.status())
    assert status.state == 0  # locked again (§4.4)
    features = await expect_ok(factory_lock.features())
    if features.has(Feature.PASSCODE):  # use the keypad store too
        await expect_ok(factory_lock.add_passcode("1357913"))
    async with hil_expected.check():
        await factory_lock.reset()
    # The link drops with the reset; a new connection sees the setting-mode advert (§6).
    await factory_lock.disconnect()
    await factory_lock.connect()
    assert factory_lock.session.seen is not None
    assert factory_lock.session.seen.setting_mode is True
    # The old credentials no longer open it: the lock is in setting mode.
    await expect_code(Code.IN_SETTING_MODE, factory_lock.login_admin())
