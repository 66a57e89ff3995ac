"""harness.lock: the Lock API against the virtual locks, through the whole bleak path.

Lab → Session → Link → BleakClient(backend=virtual) → VirtualLock (harness.sim.lock),
with the presets of hil-config.yaml's default lab.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.credentials import CredentialStore, LockCredentials
from ttlock_hil.harness.errors import ConfigError, DeviceError, InvalidParameters, TTLockError
from ttlock_hil.harness.expect import expect_code
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import EKeyWindow, Lock
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth
from ttlock_hil.protocol.messages import (
    Feature,
    LockDate,
    LockState,
    LogType,
    PassageModeEntry,
    PassageModeType,
    PasscodeType,
)

from .conftest import DEADLINE, build_config, lock_entry, make_lab

NOW = datetime(2026, 1, 1, 12, 0)


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return build_config(
        tmp_path,
        [
            lock_entry("front-door", "v3-keypad"),
            lock_entry("back-door", "v3-fingerprint-ic"),
            lock_entry("shed", "v3-padlock"),
            lock_entry("office", "v3-wifi"),
        ],
        timeouts={"scan": 1.0, "connect": 1.0, "command": 1.0},
    )


@pytest.fixture
async def lab(config: LabConfig) -> AsyncIterator[Lab]:
    lab = make_lab(config, clock=ManualClock(NOW))
    yield lab
    await lab.aclose()


def virtual(lab: Lab, name: str = "front-door") -> VirtualLock:
    device = lab.virtual(name).device
    assert isinstance(device, VirtualLock)
    return device


async def initialised(lab: Lab, name: str = "front-door") -> Lock:
    lock = lab.lock(name)
    async with asyncio.timeout(DEADLINE):
        await lock.init()
    return lock


def tx_commands(path: Path) -> list[int]:
    return [
        int(r["decoded"]["opcode"], 16)
        for r in read_trace(path)
        if r["direction"] == "tx" and "opcode" in r["decoded"]
    ]


# --- init --------------------------------------------------------------------------------


async def test_init_pairs_a_factory_fresh_lock_and_stores_its_credentials(lab: Lab) -> None:
    assert virtual(lab).setting_mode
    lock = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        result = await lock.init()
    device = virtual(lab)
    assert not device.setting_mode
    assert device.credentials is not None
    assert device.credentials.aes_key == result.credentials.aes_key
    assert device.credentials.admin_ps == result.credentials.admin_ps
    assert device.credentials.unlock_key == result.credentials.unlock_key
    stored = CredentialStore(lab.config.credentials_dir).load("front-door")
    assert stored == result.credentials
    assert result.credentials_path == lab.config.credentials_dir / "front-door.json"
    assert result.features.has(Feature.PASSCODE)
    assert result.device_info.model == "S202F"
    assert result.device_info.firmware == device.preset.firmware
    assert result.device_info.clock == LockDate.of(NOW)
    assert result.admin_code == device.admin_code
    assert result.audio is not None
    assert result.auto_lock is not None
    assert result.remote_unlock is not None
    assert result.show_password is not None
    assert "admin_code" not in repr(result)
    assert lock.credentials == result.credentials


async def test_init_sends_the_vendor_sequence(lab: Lab) -> None:
    lock = await initialised(lab)
    c = LockCommand
    assert tx_commands(lock.trace_path) == [
        c.GET_AES_KEY,
        c.ADD_ADMIN,
        c.TIME_CALIBRATE,
        c.SEARCH_DEVICE_FEATURE,
        c.AUDIO_MANAGE,
        c.SHOW_PASSWORD,
        c.AUTO_LOCK_MANAGE,
        c.GET_ADMIN_CODE,
        c.CONTROL_REMOTE_UNLOCK,
        c.OPERATE_FINISHED,
        *[c.READ_DEVICE_INFO] * 5,
    ]


async def test_init_persists_before_add_admin_and_again_after_it(lab: Lab) -> None:
    device = virtual(lab)
    seen: list[tuple[bool, LockCredentials]] = []

    def save(creds: LockCredentials) -> Path:
        # What the lock holds at the moment the harness writes the file.
        seen.append((device.setting_mode, creds))
        return lab.save_credentials("front-door", creds)

    lock = Lock(lab.session("front-door"), credentials=None, save=save, clock=lab.clock)
    async with asyncio.timeout(DEADLINE):
        result = await lock.init()
    assert [setting for setting, _ in seen] == [True, False]
    assert all(creds == result.credentials for _, creds in seen)
    records = read_trace(lock.trace_path)
    order = [
        r["decoded"].get("step") or r["decoded"].get("command")
        for r in records
        if r["direction"] == "tx" or r["decoded"].get("event") == "credentials-saved"
    ]
    assert order[:4] == ["GET_AES_KEY", "key-received", "ADD_ADMIN", "admin-added"]


async def test_init_on_a_padlock_skips_the_features_it_lacks(lab: Lab) -> None:
    lock = await initialised(lab, "shed")
    commands = set(tx_commands(lock.trace_path))
    assert LockCommand.AUTO_LOCK_MANAGE in commands
    assert not commands & {LockCommand.AUDIO_MANAGE, LockCommand.GET_ADMIN_CODE}


async def test_init_on_a_paired_lock_is_refused_with_code_7(lab: Lab) -> None:
    await (await initialised(lab)).aclose()
    lock = lab.lock("front-door")  # the stored credentials are used
    async with expect_code(Code.NOT_IN_SETTING_MODE):
        await lock.init()


async def test_an_admin_passcode_is_set_where_the_lock_cannot_tell_its_own(lab: Lab) -> None:
    lock = lab.lock("office")  # a keypad without GET_ADMIN_CODE
    async with asyncio.timeout(DEADLINE):
        result = await lock.init(admin_passcode="4567")
    assert result.admin_code == "4567" == virtual(lab, "office").admin_code
    assert LockCommand.SET_ADMIN_KEYBOARD_PWD in tx_commands(lock.trace_path)


async def test_an_admin_passcode_for_a_lock_without_keypad_is_unsupported(lab: Lab) -> None:
    lock = lab.lock("shed")
    async with expect_code(Code.UNSUPPORTED):
        await lock.init(admin_passcode="4567")
    assert not virtual(lab, "shed").setting_mode  # paired, credentials saved
    assert CredentialStore(lab.config.credentials_dir).exists("shed")


# --- logins, unlock, lock ----------------------------------------------------------------


async def test_a_new_session_opens_the_lock_with_the_stored_credentials(lab: Lab) -> None:
    await (await initialised(lab)).aclose()
    async with lab.lock("front-door") as lock, asyncio.timeout(DEADLINE):
        reply = await lock.unlock()
        state = await lock.status()
        assert state.lock_state is LockState.UNLOCKED
        await lock.lock()
        assert (await lock.status()).lock_state is LockState.LOCKED
    assert virtual(lab).unlocked is False
    assert reply.battery == virtual(lab).battery


async def test_unlock_as_admin_uses_check_admin_then_unlock(lab: Lab) -> None:
    lock = await initialised(lab)
    await lock.disconnect()
    async with asyncio.timeout(DEADLINE):
        await lock.unlock()
    tail = tx_commands(lock.trace_path)[-2:]
    assert tail == [LockCommand.CHECK_ADMIN, LockCommand.UNLOCK]


async def test_unlock_as_a_user_inside_its_window(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.unlock(ekey=EKeyWindow.permanent())
        await lock.lock(ekey=EKeyWindow.of(datetime(2025, 12, 1), datetime(2026, 2, 1)))
    assert tx_commands(lock.trace_path)[-4:] == [
        LockCommand.CHECK_USER_TIME,
        LockCommand.UNLOCK,
        LockCommand.CHECK_USER_TIME,
        LockCommand.FUNCTION_LOCK,
    ]


async def test_an_expired_ekey_is_code_14_and_a_future_one_code_17(lab: Lab) -> None:
    lock = await initialised(lab)
    async with expect_code(Code.EKEY_EXPIRED) as outcome:
        await lock.unlock(ekey=EKeyWindow.of(datetime(2025, 1, 1), datetime(2025, 6, 1)))
    assert outcome.error is not None
    assert outcome.error.command == LockCommand.CHECK_USER_TIME
    async with expect_code(Code.EKEY_NOT_EFFECTIVE):
        await lock.unlock(ekey=EKeyWindow.of(datetime(2027, 1, 1), datetime(2027, 6, 1)))


async def test_a_double_locked_door_refuses_users_not_the_admin(lab: Lab) -> None:
    lock = await initialised(lab)
    virtual(lab).double_locked = True
    async with expect_code(Code.DOUBLE_LOCKED):
        await lock.unlock(ekey=EKeyWindow.permanent())
    async with asyncio.timeout(DEADLINE):
        await lock.unlock()


async def test_login_admin_makes_the_connection_admin(lab: Lab) -> None:
    lock = await initialised(lab)
    await lock.disconnect()
    assert lock.session.auth is Auth.NONE
    async with asyncio.timeout(DEADLINE):
        await lock.login_admin()
    assert lock.session.auth is Auth.ADMIN


async def test_admin_commands_log_in_lazily_after_a_reconnect(lab: Lab) -> None:
    lock = await initialised(lab)
    await lock.disconnect()
    async with asyncio.timeout(DEADLINE):
        await lock.set_auto_lock(10)
        assert (await lock.auto_lock()).seconds == 10
    commands = tx_commands(lock.trace_path)
    assert commands[-4:] == [
        LockCommand.CHECK_ADMIN,
        LockCommand.CHECK_RANDOM,
        LockCommand.AUTO_LOCK_MANAGE,
        LockCommand.AUTO_LOCK_MANAGE,
    ]


async def test_wrong_credentials_are_code_3(lab: Lab) -> None:
    lock = await initialised(lab)
    assert lock.credentials is not None
    wrong = lock.credentials.evolve(admin_ps=lock.credentials.admin_ps + 1)
    await lock.aclose()
    impostor = Lock(lab.session("front-door"), credentials=wrong, save=_no_save, clock=lab.clock)
    async with expect_code(Code.ADMIN_CHECK_FAILED):
        await impostor.unlock()
    await impostor.aclose()


def _no_save(creds: LockCredentials) -> Path:
    raise AssertionError("no credentials may be saved here")


async def test_commands_needing_credentials_say_how_to_get_them(lab: Lab) -> None:
    lock = lab.lock("front-door")
    with pytest.raises(ConfigError, match="init"):
        await lock.unlock()


# --- state, clock, features ----------------------------------------------------------------


async def test_status_works_on_a_factory_fresh_lock(lab: Lab) -> None:
    async with lab.lock("front-door") as lock, asyncio.timeout(DEADLINE):
        status = await lock.status()
    assert status.battery == virtual(lab).battery
    assert status.lock_state is LockState.LOCKED


async def test_set_time_then_get_time(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.set_time(datetime(2026, 3, 4, 5, 6, 7))
        assert await lock.get_time() == LockDate(2026, 3, 4, 5, 6, 7)
        await lock.set_time()
        assert await lock.get_time() == LockDate.of(NOW)


async def test_features_and_device_info(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        features = await lock.features()
        info = await lock.device_info()
    assert features.known_features >= {Feature.IC, Feature.FINGER_PRINT}
    assert info.model == virtual(lab, "back-door").preset.model
    assert info.hardware == virtual(lab, "back-door").preset.hardware


async def test_reset_returns_the_lock_to_setting_mode_and_it_can_be_initialised_again(
    lab: Lab,
) -> None:
    lock = await initialised(lab)
    first = lock.credentials
    async with asyncio.timeout(DEADLINE):
        await lock.reset()
    assert virtual(lab).setting_mode
    await lock.aclose()
    again = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        result = await again.init()
    assert result.credentials != first
    assert CredentialStore(lab.config.credentials_dir).load_previous("front-door") == first


# --- passcodes ------------------------------------------------------------------------------


async def test_passcodes_add_list_modify_delete_clear(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.add_passcode("123456")
        await lock.add_passcode(
            "7777", kind=PasscodeType.PERIOD, start=NOW, end=datetime(2026, 2, 1)
        )
        listed = {entry.passcode: entry for entry in await lock.list_passcodes()}
        assert set(listed) == {"123456", "7777"}
        assert listed["7777"].end == LockDate(2026, 2, 1)
        await lock.modify_passcode("123456", "654321")
        assert "654321" in virtual(lab).passcodes
        await lock.delete_passcode("654321")
        assert set(virtual(lab).passcodes) == {"7777"}
        await lock.clear_passcodes()
    assert not virtual(lab).passcodes
    assert virtual(lab).enter_passcode("7777") is False


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("duplicate", Code.PASSCODE_EXISTS),
        ("missing", Code.PASSCODE_NOT_EXIST),
        ("short", Code.PASSCODE_LENGTH_INVALID),
    ],
)
async def test_passcode_errors_map_to_their_codes(lab: Lab, action: str, code: Code) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.add_passcode("2468")
    async with expect_code(code):
        if action == "duplicate":
            await lock.add_passcode("2468")
        elif action == "missing":
            await lock.delete_passcode("1357")
        else:
            await lock.add_passcode("12")


async def test_a_lock_without_a_keypad_answers_invalid_command(lab: Lab) -> None:
    lock = await initialised(lab, "shed")
    async with expect_code(Code.INVALID_COMMAND):
        await lock.add_passcode("2468")


async def test_arguments_that_cannot_be_encoded_are_invalid_parameters(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    with pytest.raises(InvalidParameters) as caught:
        await lock.set_volume(9)
    assert caught.value.code.code == Code.INVALID_PARAMETERS
    assert caught.value.command == LockCommand.AUDIO_MANAGE
    assert "level" in caught.value.message


# --- IC cards and fingerprints ---------------------------------------------------------------


async def test_ic_cards_by_number_and_by_reader(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        assert await lock.add_ic_card(0x12345678, start=NOW, end=datetime(2027, 1, 1)) == (
            0x12345678
        )
        read = await lock.add_ic_card(on_ready=lambda: device.present_card(0xCAFE), deadline=2.0)
        assert read == 0xCAFE
        cards = {entry.card: entry for entry in await lock.list_ic_cards()}
        assert set(cards) == {0x12345678, 0xCAFE}
        assert cards[0x12345678].end == LockDate(2027, 1, 1)
        await lock.modify_ic_card(0xCAFE, start=NOW, end=datetime(2026, 6, 1))
        assert device.cards[0xCAFE].end == LockDate(2026, 6, 1)
        await lock.delete_ic_card(0x12345678)
        assert set(device.cards) == {0xCAFE}
        await lock.clear_ic_cards()
    assert not device.cards
    async with expect_code(Code.IC_CARD_NOT_EXIST):
        await lock.delete_ic_card(0xCAFE)


async def test_a_card_that_never_comes_is_a_response_timeout(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    async with expect_code(Code.RESPONSE_TIMEOUT):
        await lock.add_ic_card(deadline=0.2)


async def test_fingerprints_enrol_list_delete_clear(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        fingerprint = await lock.add_fingerprint(
            on_ready=lambda: device.present_finger(0xABCDEF), deadline=2.0, end=datetime(2027, 1, 1)
        )
        assert fingerprint == 0xABCDEF
        assert [entry.fingerprint for entry in await lock.list_fingerprints()] == [0xABCDEF]
        assert device.fingerprints[0xABCDEF].end == LockDate(2027, 1, 1)
        await lock.delete_fingerprint(0xABCDEF)
        assert not device.fingerprints
        await lock.clear_fingerprints()
    async with expect_code(Code.FINGERPRINT_NOT_EXIST):
        await lock.delete_fingerprint(0xABCDEF)


# --- log and settings -----------------------------------------------------------------------


async def test_the_operation_log_reads_new_records_across_pages(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        for _ in range(12):
            await lock.unlock()
        records = await lock.operation_log()
        assert await lock.operation_log() == ()  # nothing new since
        everything = await lock.operation_log(seq=0)
    unlocks = [r for r in records if r.log_type == LogType.MOBILE_UNLOCK]
    assert len(unlocks) == 12
    assert everything == records


async def test_settings_round_trip(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.set_audio(False)
        assert (await lock.audio()).enabled is False
        await lock.set_remote_unlock(True)
        assert (await lock.remote_unlock()).enabled is True
        await lock.set_show_password(False)
        assert (await lock.show_password()).visible is False
        assert await lock.admin_code() == virtual(lab).admin_code
    async with expect_code(Code.INVALID_PARAM):
        await lock.set_auto_lock(1)  # below the preset's 5 s minimum


async def test_volume_where_the_model_has_it(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        await lock.set_volume(4)
        assert (await lock.audio()).volume == 4
    async with expect_code(Code.INVALID_COMMAND):
        await lock.set_remote_unlock(True)  # this model has no remote-unlock switch


async def test_passage_modes(lab: Lab) -> None:
    lock = await initialised(lab)
    weekday = PassageModeEntry(PassageModeType.WEEKLY, 1, 0, 8, 0, 18, 0)
    weekend = PassageModeEntry(PassageModeType.WEEKLY, 6, 0, 10, 0, 12, 30)
    async with asyncio.timeout(DEADLINE):
        await lock.add_passage_mode(weekday)
        await lock.add_passage_mode(weekend)
        assert await lock.passage_modes() == (weekday, weekend)
        await lock.delete_passage_mode(weekday)
        assert await lock.passage_modes() == (weekend,)
        await lock.clear_passage_modes()
        assert await lock.passage_modes() == ()
    async with expect_code(Code.RECORD_NOT_EXIST):
        await lock.delete_passage_mode(weekday)


async def test_every_error_names_device_command_and_trace(lab: Lab) -> None:
    lock = await initialised(lab)
    with pytest.raises(DeviceError) as caught:
        await lock.delete_passcode("9999")
    error: TTLockError = caught.value
    assert error.device == "front-door"
    assert error.command == LockCommand.MANAGE_KEYBOARD_PASSWORD
    assert error.trace_path == lock.trace_path
    assert str(lock.trace_path) in str(error)
