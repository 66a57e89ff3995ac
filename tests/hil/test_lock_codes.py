"""Every lock error code a lock can produce (seed codes 1..38), provoked and asserted.

Where a bench can produce the condition on real hardware (an expired e-key, a
passcode that exists, a lock that is already paired…) the test uses only the
Lock API and runs unchanged on a real lock. Conditions only a simulated lock
can be put in (a drained battery, a frozen or double-locked door, a raised
flag position, error bytes no known state produces) are ``hil_sim_only`` and
use the bench (``virtual_device``): the test changes the *device*, then
asserts what the *harness* reports.

Codes covered elsewhere: 1 (a reply with a bad CRC) in test_link_conditions.py.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ttlock_hil.harness.config import DeviceConfig
from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.expect import expect_ok
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim import Fault, VirtualBench
from ttlock_hil.harness.testtrace import TraceFile
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.messages import (
    AutoLockSet,
    GetOperateLog,
    LockDate,
    PassageModeEntry,
    PassageModeType,
    SetAdminPasscode,
    TimeCalibrate,
    Unlock,
)

from .conftest import EKeyWindows, WifiNetwork


def _refuse_save(creds: LockCredentials) -> object:
    raise AssertionError("this test must not store credentials")


def _lock_with(lab: Lab, device: DeviceConfig, trace: TraceFile, creds: LockCredentials) -> Lock:
    """The device on a second session that presents ``creds`` (wrong ones, on purpose)."""
    return Lock(
        lab.session(device.name, trace_path=trace.extra("other-credentials")),
        credentials=creds,
        save=_refuse_save,  # type: ignore[arg-type]
        clock=lab.clock,
    )


def _paired_credentials(lab: Lab, device: DeviceConfig) -> LockCredentials:
    creds = lab.credentials(device.name)
    assert creds is not None, "the strategy paired the lock: its credentials must be stored"
    return creds


# --- logins -----------------------------------------------------------------------------------


@pytest.mark.hil_case("CHECK_ADMIN", "wrong-admin-password")
async def test_a_wrong_admin_password_is_refused(
    lock: Lock,
    hil_lab: Lab,
    hil_device: DeviceConfig,
    frame_trace: TraceFile,
    hil_expected: Expected,
) -> None:
    await lock.disconnect()
    creds = _paired_credentials(hil_lab, hil_device)
    wrong = dataclasses.replace(creds, admin_ps=(creds.admin_ps + 1) % 2**32)
    intruder = _lock_with(hil_lab, hil_device, frame_trace, wrong)
    async with intruder, hil_expected.check():
        await intruder.login_admin()


@pytest.mark.hil_case("UNLOCK", "wrong-unlock-key")
async def test_an_unlock_with_a_wrong_check_value_is_refused(
    lock: Lock,
    hil_lab: Lab,
    hil_device: DeviceConfig,
    frame_trace: TraceFile,
    hil_expected: Expected,
) -> None:
    await lock.disconnect()
    creds = _paired_credentials(hil_lab, hil_device)
    wrong = dataclasses.replace(creds, unlock_key=(creds.unlock_key + 1) % 2**32)
    intruder = _lock_with(hil_lab, hil_device, frame_trace, wrong)
    async with intruder, hil_expected.check():
        await intruder.unlock()


@pytest.mark.hil_case("UNLOCK", "without-login")
async def test_an_unlock_without_any_login_is_refused(
    paired_lock: Lock, hil_lab: Lab, hil_expected: Expected
) -> None:
    # The raw request: the Lock API always logs in first (§4.3), the lock must refuse 0x47 alone.
    request = Unlock(0x12345678, int(hil_lab.clock.now().timestamp()))
    async with hil_expected.check():
        await paired_lock.session.request(request.COMMAND, request.encode())


@pytest.mark.hil_case("TIME_CALIBRATE", "without-login")
async def test_an_admin_command_without_login_is_refused(
    paired_lock: Lock, hil_lab: Lab, hil_expected: Expected
) -> None:
    request = TimeCalibrate(LockDate.of(hil_lab.clock.now()))
    async with hil_expected.check():
        await paired_lock.session.request(request.COMMAND, request.encode())


@pytest.mark.hil_destructive
@pytest.mark.hil_case("CHECK_ADMIN", "in-setting-mode")
async def test_a_login_to_a_lock_in_setting_mode_is_refused(
    factory_lock: Lock,
    hil_lab: Lab,
    hil_device: DeviceConfig,
    frame_trace: TraceFile,
    hil_expected: Expected,
) -> None:
    await factory_lock.disconnect()
    stale = LockCredentials(aes_key=bytes(range(16)), admin_ps=123456789, unlock_key=987654321)
    async with _lock_with(hil_lab, hil_device, frame_trace, stale) as app, hil_expected.check():
        await app.login_admin()


@pytest.mark.hil_case("GET_AES_KEY", "already-paired")
async def test_initialising_a_paired_lock_is_refused(
    paired_lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await paired_lock.init()


@pytest.mark.hil_sim_only(reason="no known lock state answers 'no administrator' to a login")
@pytest.mark.hil_case("CHECK_ADMIN", "no-admin")
async def test_a_lock_without_administrator_is_reported(
    paired_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.CHECK_ADMIN, error=0x06)
    async with hil_expected.check():
        await paired_lock.login_admin()


@pytest.mark.hil_destructive
@pytest.mark.hil_sim_only(reason="the lock must refuse the vendor string of GET_AES_KEY")
@pytest.mark.hil_case("GET_AES_KEY", "invalid-vendor")
async def test_an_invalid_vendor_string_is_reported(
    factory_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.GET_AES_KEY, error=0x1D)
    async with hil_expected.check():
        await factory_lock.init()


# --- e-keys and the door ------------------------------------------------------------------------


@pytest.mark.hil_case("UNLOCK", "ekey-expired")
async def test_an_expired_ekey_does_not_unlock(
    lock: Lock, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.expired())


@pytest.mark.hil_case("UNLOCK", "ekey-not-yet-valid")
async def test_an_ekey_that_is_not_yet_valid_does_not_unlock(
    lock: Lock, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.future())


@pytest.mark.hil_sim_only(reason="the lock's flag position only rises when e-keys are reset")
@pytest.mark.hil_case("UNLOCK", "ekey-flag-too-low")
async def test_an_ekey_with_an_old_flag_position_does_not_unlock(
    lock: Lock, virtual_device: VirtualBench, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    virtual_device.set(lock_flag_pos=5)
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.around_now())


@pytest.mark.hil_sim_only(reason="needs a drained battery")
@pytest.mark.hil_case("UNLOCK", "low-battery")
async def test_a_flat_battery_refuses_to_unlock(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.set(battery=3)
    async with hil_expected.check():
        await lock.unlock()


@pytest.mark.hil_sim_only(reason="needs a frozen lock")
@pytest.mark.hil_case("UNLOCK", "frozen")
async def test_a_frozen_lock_refuses_a_user(
    lock: Lock, virtual_device: VirtualBench, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    virtual_device.set(frozen=True)
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.around_now())


@pytest.mark.hil_sim_only(reason="needs a door double-locked from inside")
@pytest.mark.hil_case("UNLOCK", "double-locked")
async def test_a_double_locked_door_refuses_a_user(
    lock: Lock, virtual_device: VirtualBench, ekeys: EKeyWindows, hil_expected: Expected
) -> None:
    virtual_device.set(double_locked=True)
    async with hil_expected.check():
        await lock.unlock(ekey=ekeys.around_now())


@pytest.mark.hil_sim_only(reason="no known lock state answers error byte 0x08")
@pytest.mark.hil_case("UNLOCK", "dynamic-code-invalid")
async def test_an_invalid_dynamic_code_is_reported(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.UNLOCK, error=0x08)
    async with hil_expected.check():
        await lock.unlock()


@pytest.mark.hil_sim_only(reason="no known lock state answers error byte 0x13")
@pytest.mark.hil_case("UNLOCK", "operation-failed")
async def test_an_undefined_failure_is_reported(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.UNLOCK, error=0x13)
    async with hil_expected.check():
        await lock.unlock()


@pytest.mark.hil_sim_only(reason="no known lock state answers error byte 0x17")
@pytest.mark.hil_case("UNLOCK", "no-defined-error")
async def test_a_no_defined_error_is_reported(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.UNLOCK, error=0x17)
    async with hil_expected.check():
        await lock.unlock()


# --- passcodes ----------------------------------------------------------------------------------


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "passcode-too-short")
async def test_a_three_digit_passcode_is_refused(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.add_passcode("123")


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "passcode-exists")
async def test_adding_a_passcode_twice_is_refused(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_passcode("7531902"))
    async with hil_expected.check():
        await lock.add_passcode("7531902")
    await expect_ok(lock.delete_passcode("7531902"))


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "passcode-missing")
async def test_deleting_an_unknown_passcode_is_refused(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.delete_passcode("8642097")


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_sim_only(reason="no known lock state answers error byte 0x0B")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "init-keyboard-failed")
async def test_a_failed_keyboard_initialisation_is_reported(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(
        Fault.ERROR_REPLY, command=LockCommand.MANAGE_KEYBOARD_PASSWORD, error=0x0B
    )
    async with hil_expected.check():
        await lock.clear_passcodes()


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_sim_only(reason="the keypad delete code can only be set on the bench")
@pytest.mark.hil_case("SET_ADMIN_KEYBOARD_PWD", "same-as-delete-code")
async def test_an_admin_code_equal_to_the_delete_code_is_refused(
    lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.set(delete_passcode="13572468")
    request = SetAdminPasscode(passcode="13572468")
    async with hil_expected.check():
        await lock.session.request(request.COMMAND, request.encode())


# --- cards, fingerprints, log, settings ----------------------------------------------------


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("IC_MANAGE", "card-missing")
async def test_deleting_an_unknown_card_is_refused(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.delete_ic_card(0x0BADCAFE)


@pytest.mark.hil_case("IC_MANAGE", "unsupported")
async def test_a_lock_without_a_card_reader_refuses_card_commands(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.list_ic_cards()


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_case("FR_MANAGE", "fingerprint-missing")
async def test_deleting_an_unknown_fingerprint_is_refused(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.delete_fingerprint(0x00000BADF00D)


@pytest.mark.hil_feature("operation_log")
@pytest.mark.hil_case("GET_OPERATE_LOG", "past-the-end")
async def test_a_log_cursor_past_the_end_gets_an_empty_page(
    lock: Lock, hil_expected: Expected
) -> None:
    # docs/protocol.md §10.3.7: past the last record a lock answers totalLen 0, never an
    # error (a client's "read all" loop would otherwise walk the whole 16-bit range).
    request = GetOperateLog(seq=60000)
    async with hil_expected.check():
        answer = await lock.session.request(request.COMMAND, request.encode())
    assert answer.plaintext[2:] == b"\x00\x00"


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "period-missing")
async def test_deleting_an_unknown_passage_mode_period_is_refused(
    lock: Lock, hil_expected: Expected
) -> None:
    never_added = PassageModeEntry(PassageModeType.MONTHLY, 29, 0, 3, 0, 4, 0)
    async with hil_expected.check():
        await lock.delete_passage_mode(never_added)


@pytest.mark.hil_feature("passage_mode")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("CONFIGURE_PASSAGE_MODE", "memory-full")
async def test_a_full_passage_mode_memory_refuses_one_more(
    lock: Lock, hil_expected: Expected
) -> None:
    # Passage-mode memory is the smallest store of a lock (a handful of periods), so
    # filling it is quick on hardware too — and periods are not secrets.
    await expect_ok(lock.clear_passage_modes())
    periods = [
        PassageModeEntry(PassageModeType.WEEKLY, day, 0, hour, 0, hour + 1, 0)
        for hour in range(0, 22, 3)
        for day in range(1, 8)
    ]
    added = 0
    try:
        async with hil_expected.check():
            for period in periods:  # far more than any lock stores: ends with the refusal
                await lock.add_passage_mode(period)
                added += 1
    finally:
        await expect_ok(lock.clear_passage_modes())
    assert added > 0, "the lock refused the first period: its memory cannot be full"


@pytest.mark.hil_feature("auto_lock")
@pytest.mark.hil_case("AUTO_LOCK_MANAGE", "out-of-range")
async def test_an_auto_lock_delay_below_the_minimum_is_refused(
    lock: Lock, hil_expected: Expected
) -> None:
    bounds = await expect_ok(lock.auto_lock())
    assert bounds.minimum is not None
    assert bounds.minimum > 1, "this lock accepts 1 s: the case cannot be provoked"
    request = AutoLockSet(seconds=1)
    async with hil_expected.check():
        await lock.session.request(request.COMMAND, request.encode())


# --- what the harness refuses or detects itself (runs on any lock) ------------------------------


@pytest.mark.hil_case("SEARCH_STATUS", "busy")
async def test_a_second_command_while_one_is_in_flight_is_refused(
    lock: Lock, hil_expected: Expected
) -> None:
    first = asyncio.ensure_future(lock.status())
    await asyncio.sleep(0)  # the first request is now in flight (one at a time, by design)
    async with hil_expected.check():
        await lock.status()
    assert 0 <= (await first).battery <= 100


@pytest.mark.hil_feature("auto_lock")
@pytest.mark.hil_case("AUTO_LOCK_MANAGE", "unencodable")
async def test_a_value_the_message_cannot_carry_is_refused_before_sending(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.set_auto_lock(70_000)  # the delay is a u16 on the wire (§4.2 0x36)


# --- Wi-Fi locks: the real 0xF3 flow (docs/protocol.md §10.1.3) -------------------------------


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_CONFIG_AP", "bad-ssid")
async def test_a_wifi_lock_reports_an_unknown_network(lock: Lock, hil_expected: Expected) -> None:
    # 0x24 "processing" first, then 0x25 BAD_WIFI_NAME: seed code 37 (§10.1.10).
    async with hil_expected.check():
        await lock.configure_wifi("ttlock-hil-no-such-network", "whatever123")


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_CONFIG_AP", "bad-password")
async def test_a_wifi_lock_reports_a_wrong_password(
    lock: Lock, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    # The bench's own network with a wrong password: 0x24, then 0x26, seed code 38.
    async with hil_expected.check():
        await lock.configure_wifi(bench_wifi.ssid, bench_wifi.password + "-wrong")


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_sim_only(reason="a lock that never ends its processing needs an injected reply")
@pytest.mark.hil_case("WIFI_CONFIG_AP", "command-received-forever")
async def test_command_received_is_not_a_result(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    # 0x24 "accepted, processing" (§4.1) is not a failure: the harness keeps waiting.
    await fast_lock.connect()
    await fast_lock.login_admin()
    virtual_device.inject(Fault.ERROR_REPLY, command=LockCommand.WIFI_CONFIG_AP, error=0x24)
    async with hil_expected.check(within=2.0):
        await fast_lock.session.request(LockCommand.WIFI_CONFIG_AP, b"")
