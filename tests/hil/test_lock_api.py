"""Happy paths of every Lock API command, on every lock that has the feature.

Each test runs unchanged against a real lock: it only uses the Lock API and
reads back what it changed. The expected code (0 everywhere here, except where
a model lacks an option) comes from ``expectations.yaml``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from ttlock_hil.harness.expect import expect_ok
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim import VirtualBench
from ttlock_hil.protocol.messages import PassageModeEntry, PassageModeType, PasscodeType

from .conftest import EKeyWindows


@pytest.mark.hil_case("SEARCH_STATUS", "ok")
async def test_status_reports_the_bolt_and_the_battery(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        status = await lock.status()
    assert 0 <= status.battery <= 100
    assert status.state in (0, 1)


@pytest.mark.hil_case("GET_LOCK_TIME", "ok")
async def test_the_lock_clock_is_within_a_minute_of_the_lab_clock(
    lock: Lock, hil_lab: Lab, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        date = await lock.get_time()
    lab_now = hil_lab.clock.now()
    lock_time = datetime(date.year, date.month, date.day, date.hour, date.minute, date.second)
    assert abs(lock_time - lab_now.replace(tzinfo=None)) < timedelta(minutes=1)


@pytest.mark.hil_case("TIME_CALIBRATE", "ok")
async def test_calibrating_the_clock_is_accepted(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_time()


@pytest.mark.hil_case("SEARCH_DEVICE_FEATURE", "ok")
async def test_features_are_reported_with_the_battery(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        features = await lock.features()
    assert features.features != 0
    assert 0 <= features.battery <= 100


@pytest.mark.hil_case("READ_DEVICE_INFO", "ok")
async def test_device_info_names_model_and_firmware(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        info = await lock.device_info()
    assert info.model
    assert info.firmware


@pytest.mark.hil_case("UNLOCK", "ok")
async def test_the_admin_unlocks(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        reply = await lock.unlock()
    assert 0 <= reply.battery <= 100


@pytest.mark.hil_case("UNLOCK", "ekey-valid")
async def test_a_user_with_a_valid_ekey_unlocks(
    lock: Lock, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.around_now())


@pytest.mark.hil_case("FUNCTION_LOCK", "ok")
async def test_the_admin_locks_the_bolt(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.lock()
    status = await expect_ok(lock.status())
    assert status.state == 0  # locked (§4.4)


@pytest.mark.hil_case("FUNCTION_LOCK", "ekey-valid")
async def test_a_user_with_a_valid_ekey_locks_the_bolt(
    lock: Lock, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.lock(ekey=ekeys.around_now())


# --- passcodes -------------------------------------------------------------------------------


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "add")
async def test_a_permanent_passcode_is_added_and_listed(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.add_passcode("2468013")
    listed = await expect_ok(lock.list_passcodes())
    assert "2468013" in {entry.passcode for entry in listed}
    await expect_ok(lock.delete_passcode("2468013"))


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "modify")
async def test_a_passcode_is_changed(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_passcode("3579024"))
    async with hil_expected.check():
        await lock.modify_passcode("3579024", "3579025")
    listed = {entry.passcode for entry in await expect_ok(lock.list_passcodes())}
    assert "3579025" in listed
    assert "3579024" not in listed
    await expect_ok(lock.delete_passcode("3579025"))


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "delete")
async def test_a_period_passcode_is_deleted(
    lock: Lock, hil_lab: Lab, hil_expected: Expected
) -> None:
    start = hil_lab.clock.now()
    await expect_ok(
        lock.add_passcode(
            "4680135", kind=PasscodeType.PERIOD, start=start, end=start + timedelta(days=2)
        )
    )
    async with hil_expected.check():
        await lock.delete_passcode("4680135", kind=PasscodeType.PERIOD)
    assert "4680135" not in {e.passcode for e in await expect_ok(lock.list_passcodes())}


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "clear")
async def test_clearing_removes_every_passcode(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_passcode("5791357"))
    async with hil_expected.check():
        await lock.clear_passcodes()
    assert await expect_ok(lock.list_passcodes()) == ()


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("PWD_LIST", "ok")
async def test_the_passcode_list_pages_through_many_entries(
    lock: Lock, hil_expected: Expected
) -> None:
    codes = [f"61{n:05d}" for n in range(12)]  # more than one page (§4.2: 0x07 pages)
    for code in codes:
        await expect_ok(lock.add_passcode(code))
    async with hil_expected.check():
        listed = await lock.list_passcodes()
    assert set(codes) <= {entry.passcode for entry in listed}
    for code in codes:
        await expect_ok(lock.delete_passcode(code))


@pytest.mark.hil_feature("admin_code")
@pytest.mark.hil_case("GET_ADMIN_CODE", "ok")
async def test_the_admin_code_is_read(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        code = await lock.admin_code()
    assert code.isdigit()
    assert 4 <= len(code) <= 9


# --- IC cards ------------------------------------------------------------------------------


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("IC_MANAGE", "list")
async def test_cards_are_listed(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        cards = await lock.list_ic_cards()
    assert isinstance(cards, tuple)


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("IC_MANAGE", "add")
async def test_a_card_number_is_added(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        number = await lock.add_ic_card(0x5A5A0001)
    assert number == 0x5A5A0001
    assert 0x5A5A0001 in {c.card for c in await expect_ok(lock.list_ic_cards())}
    await expect_ok(lock.delete_ic_card(0x5A5A0001))


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_sim_only(reason="someone must hold a card to the reader")
@pytest.mark.hil_case("IC_MANAGE", "enrol")
async def test_a_card_held_to_the_reader_is_enrolled(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    async def hold_card_when_ready() -> None:
        # The lock enters reading mode after our request; a person presents the card then.
        for _ in range(200):
            if virtual_device.device.present_card(0x5A5A0002):  # type: ignore[attr-defined]
                return
            await asyncio.sleep(0.005)

    async with hil_expected.check(), asyncio.TaskGroup() as group:
        adding = group.create_task(lock.add_ic_card())
        await asyncio.sleep(0.02)
        group.create_task(hold_card_when_ready())
    assert adding.result() == 0x5A5A0002
    await expect_ok(lock.delete_ic_card(0x5A5A0002))


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("IC_MANAGE", "modify")
async def test_a_card_window_is_changed(lock: Lock, hil_lab: Lab, hil_expected: Expected) -> None:
    await expect_ok(lock.add_ic_card(0x5A5A0003))
    start = hil_lab.clock.now()
    async with hil_expected.check():
        await lock.modify_ic_card(0x5A5A0003, start=start, end=start + timedelta(days=7))
    await expect_ok(lock.delete_ic_card(0x5A5A0003))


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("IC_MANAGE", "delete")
async def test_a_card_is_deleted(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_ic_card(0x5A5A0004))
    async with hil_expected.check():
        await lock.delete_ic_card(0x5A5A0004)
    assert 0x5A5A0004 not in {c.card for c in await expect_ok(lock.list_ic_cards())}


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("IC_MANAGE", "clear")
async def test_clearing_removes_every_card(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_ic_card(0x5A5A0005))
    async with hil_expected.check():
        await lock.clear_ic_cards()
    assert await expect_ok(lock.list_ic_cards()) == ()


# --- fingerprints ----------------------------------------------------------------------------


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_case("FR_MANAGE", "list")
async def test_fingerprints_are_listed(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        prints = await lock.list_fingerprints()
    assert isinstance(prints, tuple)


async def _enrol_finger(lock: Lock, bench: VirtualBench, finger: int) -> int:
    """Start the enrolment and put the finger on the sensor once the lock waits for it."""

    async def touch_when_ready() -> None:
        for _ in range(200):
            if bench.device.present_finger(finger):  # type: ignore[attr-defined]
                return
            await asyncio.sleep(0.005)

    async with asyncio.TaskGroup() as group:
        adding = group.create_task(lock.add_fingerprint())
        await asyncio.sleep(0.02)
        group.create_task(touch_when_ready())
    return adding.result()


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_sim_only(reason="someone must put a finger on the sensor")
@pytest.mark.hil_case("FR_MANAGE", "enrol")
async def test_a_finger_is_enrolled_through_the_progress_replies(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        number = await _enrol_finger(lock, virtual_device, 0x0000AB000001)
    assert number == 0x0000AB000001
    assert number in {f.fingerprint for f in await expect_ok(lock.list_fingerprints())}
    await expect_ok(lock.delete_fingerprint(number))


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_sim_only(reason="needs an enrolled finger")
@pytest.mark.hil_case("FR_MANAGE", "modify")
async def test_a_fingerprint_window_is_changed(
    lock: Lock, virtual_device: VirtualBench, hil_lab: Lab, hil_expected: Expected
) -> None:
    number = await _enrol_finger(lock, virtual_device, 0x0000AB000002)
    start = hil_lab.clock.now()
    async with hil_expected.check():
        await lock.modify_fingerprint(number, start=start, end=start + timedelta(days=7))
    await expect_ok(lock.delete_fingerprint(number))


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_sim_only(reason="needs an enrolled finger")
@pytest.mark.hil_case("FR_MANAGE", "delete")
async def test_a_fingerprint_is_deleted(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    number = await _enrol_finger(lock, virtual_device, 0x0000AB000003)
    async with hil_expected.check():
        await lock.delete_fingerprint(number)
    assert number not in {f.fingerprint for f in await expect_ok(lock.list_fingerprints())}


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("FR_MANAGE", "clear")
async def test_clearing_removes_every_fingerprint(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.clear_fingerprints()
    assert await expect_ok(lock.list_fingerprints()) == ()


# --- log and settings --------------------------------------------------------------------------


@pytest.mark.hil_feature("operation_log")
@pytest.mark.hil_case("GET_OPERATE_LOG", "ok")
async def test_an_unlock_shows_up_in_the_operation_log(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.operation_log())  # read what was there: only new records follow
    await expect_ok(lock.unlock())
    async with hil_expected.check():
        records = await lock.operation_log()
    assert records, "the unlock left no log record"


@pytest.mark.hil_feature("auto_lock")
@pytest.mark.hil_case("AUTO_LOCK_MANAGE", "query")
async def test_the_auto_lock_delay_and_its_bounds_are_read(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        reply = await lock.auto_lock()
    assert reply.seconds is not None
    assert reply.minimum is not None
    assert reply.maximum is not None
    assert reply.minimum <= reply.maximum


@pytest.mark.hil_feature("auto_lock")
@pytest.mark.hil_case("AUTO_LOCK_MANAGE", "set")
async def test_the_auto_lock_delay_is_set_and_read_back(lock: Lock, hil_expected: Expected) -> None:
    before = await expect_ok(lock.auto_lock())
    assert before.minimum is not None
    async with hil_expected.check():
        await lock.set_auto_lock(before.minimum)
    assert (await expect_ok(lock.auto_lock())).seconds == before.minimum
    await expect_ok(lock.set_auto_lock(before.seconds or 0))


@pytest.mark.hil_feature("audio")
@pytest.mark.hil_case("AUDIO_MANAGE", "query")
async def test_the_sound_setting_is_read(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        reply = await lock.audio()
    assert reply.enabled is not None


@pytest.mark.hil_feature("audio")
@pytest.mark.hil_case("AUDIO_MANAGE", "set")
async def test_sound_is_switched_off_and_on(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_audio(False)
    assert (await expect_ok(lock.audio())).enabled is False
    await expect_ok(lock.set_audio(True))


@pytest.mark.hil_feature("audio")
@pytest.mark.hil_case("AUDIO_MANAGE", "set-volume")
async def test_the_volume_is_set(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_volume(4)


@pytest.mark.hil_feature("remote_unlock")
@pytest.mark.hil_case("CONTROL_REMOTE_UNLOCK", "query")
async def test_the_remote_unlock_switch_is_read(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        reply = await lock.remote_unlock()
    assert reply.enabled is not None


@pytest.mark.hil_feature("remote_unlock")
@pytest.mark.hil_case("CONTROL_REMOTE_UNLOCK", "set")
async def test_remote_unlock_is_switched_on_and_off(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_remote_unlock(True)
    assert (await expect_ok(lock.remote_unlock())).enabled is True
    await expect_ok(lock.set_remote_unlock(False))


@pytest.mark.hil_feature("show_password")
@pytest.mark.hil_case("SHOW_PASSWORD", "query")
async def test_the_passcode_display_switch_is_read(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        reply = await lock.show_password()
    assert reply.visible is not None


@pytest.mark.hil_feature("show_password")
@pytest.mark.hil_case("SHOW_PASSWORD", "set")
async def test_passcodes_are_hidden_and_shown(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_show_password(False)
    assert (await expect_ok(lock.show_password())).visible is False
    await expect_ok(lock.set_show_password(True))


# --- passage mode --------------------------------------------------------------------------------

_WORKDAYS = PassageModeEntry(PassageModeType.WEEKLY, 1, 0, 8, 0, 17, 30)
_WEEKEND = PassageModeEntry(PassageModeType.WEEKLY, 6, 0, 10, 0, 12, 0)


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "add")
async def test_a_passage_mode_period_is_added(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.add_passage_mode(_WORKDAYS)
    assert _WORKDAYS in await expect_ok(lock.passage_modes())
    await expect_ok(lock.delete_passage_mode(_WORKDAYS))


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "list")
async def test_passage_mode_periods_are_listed(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_passage_mode(_WEEKEND))
    async with hil_expected.check():
        periods = await lock.passage_modes()
    assert _WEEKEND in periods
    await expect_ok(lock.delete_passage_mode(_WEEKEND))


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "delete")
async def test_a_passage_mode_period_is_deleted(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_passage_mode(_WORKDAYS))
    async with hil_expected.check():
        await lock.delete_passage_mode(_WORKDAYS)
    assert _WORKDAYS not in await expect_ok(lock.passage_modes())


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "clear")
async def test_clearing_removes_every_passage_mode_period(
    lock: Lock, hil_expected: Expected
) -> None:
    await expect_ok(lock.add_passage_mode(_WEEKEND))
    async with hil_expected.check():
        await lock.clear_passage_modes()
    assert await expect_ok(lock.passage_modes()) == ()
