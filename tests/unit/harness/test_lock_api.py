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
from ttlock_hil.harness.lock import CallInterrupted, EKeyWindow, Lock
from ttlock_hil.harness.sim import Fault
from ttlock_hil.harness.sim.device import Clock, ManualClock
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.harness.sim.presets import create_device, lock_preset
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth
from ttlock_hil.protocol.messages import (
    CyclicUserType,
    Feature,
    HotelParam,
    HotelSet,
    LockDate,
    LockState,
    LogType,
    NbAwakeMode,
    NbAwakeTime,
    PassageModeEntry,
    PassageModeType,
    PasscodeType,
    SwitchItem,
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
            lock_entry("hotel", "v3-hotel"),
            lock_entry("nb", "v3-nb"),
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
        touches = device.preset.fingerprint_touches

        def touch_until_enrolled() -> None:  # one reply per touch (§10.2.2)
            for _ in range(touches):
                device.present_finger(0xABCDEF)

        fingerprint = await lock.add_fingerprint(
            on_ready=touch_until_enrolled, deadline=2.0, end=datetime(2027, 1, 1)
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


# --- lists: one item per reply, as hardware pages (docs/protocol.md §10.3.7) ---------------


def count_tx(path: Path, command: int) -> int:
    return tx_commands(path).count(command)


async def test_every_list_is_read_one_item_per_request(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    start = LockDate(2026, 1, 1)
    async with asyncio.timeout(DEADLINE):
        for n in range(3):
            await lock.add_passcode(f"40{n}000", start=start)
            await lock.add_ic_card(0x100 + n)
            await lock.add_fingerprint_by_id(0xF00 + n)
            await lock.add_passage_mode(PassageModeEntry(1, n + 1, 0, 8, 0, 9, 0))
        before = {c: count_tx(lock.trace_path, c) for c in (0x07, 0x05, 0x06, 0x66)}
        assert len(await lock.list_passcodes()) == 3
        assert len(await lock.list_ic_cards()) == 3
        assert len(await lock.list_fingerprints()) == 3
        assert len(await lock.passage_modes()) == 3
    after = {c: count_tx(lock.trace_path, c) for c in (0x07, 0x05, 0x06, 0x66)}
    assert {c: after[c] - before[c] for c in after} == {0x07: 4, 0x05: 4, 0x06: 4, 0x66: 4}
    assert len(device.passcodes) == 3


def paging_factory(per_page: int) -> object:
    def factory(
        preset: str,
        /,
        *,
        name: str | None = None,
        address: str | None = None,
        clock: Clock | None = None,
        rng: object = None,
        credentials: object = None,
    ) -> object:
        record = lock_preset(preset).evolve(items_per_page=per_page)
        return create_device(record, name=name, address=address, clock=clock, rng=rng)  # type: ignore[arg-type]

    return factory


async def test_pages_with_several_items_are_read_whole(config: LabConfig) -> None:
    # A firmware that packs three items per reply (the preset's items_per_page).
    lab = make_lab(config, clock=ManualClock(NOW), device_factory=paging_factory(3))  # type: ignore[arg-type]
    try:
        lock = await initialised(lab, "back-door")
        async with asyncio.timeout(DEADLINE):
            for n in range(7):
                await lock.add_passcode(f"50{n}000", start=LockDate(2026, 1, 1))
                await lock.add_ic_card(0x200 + n)
            before = count_tx(lock.trace_path, 0x07), count_tx(lock.trace_path, 0x05)
            codes = [e.passcode for e in await lock.list_passcodes()]
            cards = [e.card for e in await lock.list_ic_cards()]
        assert codes == [f"50{n}000" for n in range(7)]
        assert cards == [0x200 + n for n in range(7)]
        after = count_tx(lock.trace_path, 0x07), count_tx(lock.trace_path, 0x05)
        assert (after[0] - before[0], after[1] - before[1]) == (4, 4)  # 3 + 3 + 1, then the end
    finally:
        await lab.aclose()


# --- a link drop between the requests of one call (issue 18 defect 2) -----------------------

NEVER = {Code.NO_PERMISSION.value, Code.USER_NOT_LOGGED_IN.value}
"""Permission codes a drop must never turn into (the lock would not answer them on one link)."""


@pytest.mark.parametrize(
    ("command", "skip"),
    [
        (LockCommand.CHECK_ADMIN, 0),
        (LockCommand.CHECK_RANDOM, 0),
        *[(LockCommand.READ_DEVICE_INFO, k) for k in range(5)],
    ],
    ids=lambda v: v.name if isinstance(v, LockCommand) else str(v),
)
async def test_device_info_logs_in_again_after_a_drop_and_reads_every_item(
    lab: Lab, command: LockCommand, skip: int
) -> None:
    await (await initialised(lab)).aclose()
    async with lab.lock("front-door") as lock, asyncio.timeout(DEADLINE):
        await lock.features()  # so that the clock item is read too: five 0x90 requests
        await lock.disconnect()
        lab.virtual("front-door").faults.add(
            Fault.DROP_LINK_AFTER_REPLY, command=command, skip=skip
        )
        info = await lock.device_info()
    device = virtual(lab)
    assert (info.model, info.firmware) == ("S202F", device.preset.firmware)
    assert info.clock is not None
    events = [r["decoded"].get("event") for r in read_trace(lock.trace_path)]
    last = command is LockCommand.READ_DEVICE_INFO and skip == 4  # nothing follows that drop
    assert ("login-again" in events) is not last
    codes = {r.get("code") for r in read_trace(lock.trace_path)}
    assert not codes & NEVER


@pytest.mark.parametrize("skip", range(4))
async def test_a_paged_list_resumes_after_a_drop_between_pages(lab: Lab, skip: int) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        for n in range(3):
            await lock.add_passcode(f"60{n}000", start=LockDate(2026, 1, 1))
        lab.virtual("front-door").faults.add(
            Fault.DROP_LINK_AFTER_REPLY, command=LockCommand.PWD_LIST, skip=skip
        )
        listed = [e.passcode for e in await lock.list_passcodes()]
    assert listed == [f"60{n}000" for n in range(3)]  # each once, in order
    codes = {r.get("code") for r in read_trace(lock.trace_path)}
    assert not codes & NEVER


async def test_the_operation_log_resumes_on_a_new_link_without_a_login(lab: Lab) -> None:
    lock = await initialised(lab)
    async with asyncio.timeout(DEADLINE):
        await lock.operation_log()
        for _ in range(3):
            await lock.unlock()
        lab.virtual("front-door").faults.add(
            Fault.DROP_LINK_AFTER_REPLY, command=LockCommand.GET_OPERATE_LOG, skip=1
        )
        records = await lock.operation_log()
    assert [r.log_type for r in records] == [LogType.MOBILE_UNLOCK] * 3


INIT_STEPS = [
    LockCommand.GET_AES_KEY,
    LockCommand.ADD_ADMIN,
    LockCommand.TIME_CALIBRATE,
    LockCommand.SEARCH_DEVICE_FEATURE,
    LockCommand.AUDIO_MANAGE,
    LockCommand.SHOW_PASSWORD,
    LockCommand.AUTO_LOCK_MANAGE,
    LockCommand.GET_ADMIN_CODE,
    LockCommand.CONTROL_REMOTE_UNLOCK,
    LockCommand.OPERATE_FINISHED,
    *[LockCommand.READ_DEVICE_INFO] * 5,
]


def _step_name(command: LockCommand, occurrence: int) -> str:
    if command is LockCommand.READ_DEVICE_INFO:
        return f"READ_DEVICE_INFO item {[1, 2, 3, 4, 6][occurrence]}"
    return command.name


@pytest.mark.parametrize("index", range(len(INIT_STEPS)))
async def test_init_reports_where_a_drop_stopped_it_and_keeps_credentials_consistent(
    lab: Lab, index: int
) -> None:
    command = INIT_STEPS[index]
    skip = INIT_STEPS[:index].count(command)
    lab.virtual("front-door").faults.add(Fault.DROP_LINK_AFTER_REPLY, command=command, skip=skip)
    lock = lab.lock("front-door")
    device = virtual(lab)
    stored = CredentialStore(lab.config.credentials_dir)
    names = [_step_name(c, INIT_STEPS[:i].count(c)) for i, c in enumerate(INIT_STEPS)]
    if index == len(INIT_STEPS) - 1:  # the drop comes after the last reply: init is done
        async with asyncio.timeout(DEADLINE):
            result = await lock.init()
        assert result.credentials == stored.load("front-door")
        return
    with pytest.raises(CallInterrupted) as caught:
        async with asyncio.timeout(DEADLINE):
            await lock.init()
    error = caught.value
    assert error.code.code == Code.DISCONNECTED.value  # 10003, never 2 or 18
    assert (error.call, error.step, error.sent) == ("init", names[index + 1], False)
    assert list(error.done) == names[: index + 1]
    assert names[index + 1] in str(error)
    if command is LockCommand.GET_AES_KEY:
        # The lock forgot the key it handed out: still in setting mode, nobody's.
        assert device.setting_mode
        assert lock.credentials is None
        assert "setting mode" in str(error)
        return
    # Paired: the saved credentials open it, and this Lock uses them.
    assert not device.setting_mode
    creds = stored.load("front-door")
    assert lock.credentials == creds
    assert device.credentials is not None
    assert device.credentials.admin_ps == creds.admin_ps
    assert str(lab.config.credentials_dir / "front-door.json") in str(error)
    async with asyncio.timeout(DEADLINE):
        await lock.unlock()
        assert (await lock.device_info()).model == "S202F"


@pytest.mark.parametrize(
    ("ekey", "challenge"),
    [(False, LockCommand.CHECK_ADMIN), (True, LockCommand.CHECK_USER_TIME)],
)
async def test_a_drop_after_the_challenge_stops_unlock_before_it_is_sent(
    lab: Lab, ekey: bool, challenge: LockCommand
) -> None:
    lock = await initialised(lab)
    await lock.disconnect()
    lab.virtual("front-door").faults.add(Fault.DROP_LINK_AFTER_REPLY, command=challenge)
    window = EKeyWindow.permanent() if ekey else None
    with pytest.raises(CallInterrupted) as caught:
        async with asyncio.timeout(DEADLINE):
            await lock.unlock(ekey=window)
    error = caught.value
    assert error.code.code == Code.DISCONNECTED.value
    assert (error.step, error.sent, error.done) == ("UNLOCK", False, (challenge.name,))
    assert not virtual(lab).unlocked
    async with asyncio.timeout(DEADLINE):
        await lock.unlock(ekey=window)  # a new challenge on the new link
    assert virtual(lab).unlocked


# --- the rest of the command set (docs/protocol.md §10) ------------------------------------


async def test_a_wifi_lock_scans_joins_and_reports(lab: Lab) -> None:
    lock = await initialised(lab, "office")
    device = virtual(lab, "office")
    async with asyncio.timeout(DEADLINE):
        networks = await lock.scan_wifi()
        assert [n.ssid for n in networks] == [n.ssid for n in device.preset.wifi_networks]
        await lock.configure_wifi("MyWiFi", "secret123")
        info = await lock.wifi_info()
        assert (info.mac, info.rssi) == (device.preset.wifi_mac, -48)
        await lock.configure_wifi_server("lab.example", 4999)
        await lock.configure_wifi_ip(ip="10.0.0.9", mask="255.0.0.0", router="10.0.0.1")
        await lock.configure_wifi_ip()
        await lock.configure_wifi_account(uid=7, password="account-pw", name="Office")
    wifi = device.memory.wifi
    assert (wifi.ssid, wifi.server, wifi.account) == (
        "MyWiFi",
        ("lab.example", 4999),
        (7, "Office"),
    )
    assert wifi.ip is not None
    assert wifi.ip.mode == 1  # DHCP, the last one set
    assert "secret123" not in lock.trace_path.read_text("utf-8")


@pytest.mark.parametrize(
    ("ssid", "password", "code"),
    [("NoSuchNetwork", "x", Code.WIFI_BAD_SSID), ("MyWiFi", "wrong", Code.WIFI_BAD_PASSWORD)],
)
async def test_a_wifi_join_reports_37_and_38(
    lab: Lab, ssid: str, password: str, code: Code
) -> None:
    lock = await initialised(lab, "office")
    async with expect_code(code):
        await lock.configure_wifi(ssid, password)


async def test_wifi_power_saving_windows_and_the_long_connection_switch(lab: Lab) -> None:
    lock = await initialised(lab, "office")
    async with asyncio.timeout(DEADLINE):
        for day in (1, 2, 3):
            await lock.add_wifi_power_saving(day, start=(0, 0), end=(6, 0))
        windows = await lock.wifi_power_saving()
        assert [w.week_or_day for w in windows] == [1, 2, 3]
        await lock.clear_wifi_power_saving()
        assert await lock.wifi_power_saving() == ()
        assert (await lock.switches()).is_on(SwitchItem.WIFI_LONG_CONNECTION) is False
        await lock.set_switch(SwitchItem.WIFI_LONG_CONNECTION, True)
        assert (await lock.switches()).is_on(SwitchItem.WIFI_LONG_CONNECTION) is True
    async with expect_code(Code.INVALID_PARAMETERS):
        await lock.add_wifi_power_saving(9, start=(0, 0), end=(6, 0))


async def test_passcode_recovery_and_init_passwords(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        await lock.recover_passcode("121212", start=LockDate(2026, 1, 1))
        await lock.recover_passcode(
            "3434", kind=PasscodeType.CYCLIC, start=LockDate(2026, 1, 1, 8), cycle_type=0x0407
        )
        seeds = await lock.reset_passcodes()
    assert device.passcodes["3434"].cycle_type == 0x0407
    assert "121212" in device.passcodes
    assert device.memory.keypad.seeds == seeds.seeds
    assert len({seed.code for seed in seeds.seeds}) == 10
    async with expect_code(Code.PASSCODE_EXISTS):
        await lock.recover_passcode("121212", start=LockDate(2026, 1, 1))
    async with expect_code(Code.INVALID_PARAMETERS):
        await lock.reset_passcodes([(1, 2)])


async def test_a_fingerprint_template_is_uploaded_and_a_drop_stops_it(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    template = bytes(range(100))
    async with asyncio.timeout(DEADLINE):
        number = await lock.write_fingerprint_template(template, end=datetime(2027, 1, 1))
    assert device.fingerprints[number].end == LockDate(2027, 1, 1)
    lab.virtual("back-door").faults.add(
        Fault.DROP_LINK_AFTER_REPLY, command=LockCommand.FR_MANAGE, skip=1
    )
    with pytest.raises(CallInterrupted) as caught:
        async with asyncio.timeout(DEADLINE):
            await lock.write_fingerprint_template(template)
    assert (caught.value.step, caught.value.done) == ("chunk 1", ("template header", "chunk 0"))
    assert len(device.fingerprints) == 1


async def test_cyclic_windows_of_a_card(lab: Lab) -> None:
    lock = await initialised(lab, "back-door")
    device = virtual(lab, "back-door")
    async with asyncio.timeout(DEADLINE):
        await lock.add_ic_card(0xC1C1)
        await lock.add_cyclic_window(
            CyclicUserType.IC, 0xC1C1, weekday=4, start=(9, 0), end=(17, 0)
        )  # NOW is a Thursday, 12:00
        assert device.present_card(0xC1C1)
        await lock.remove_cyclic_window(
            CyclicUserType.IC, 0xC1C1, weekday=4, start=(9, 0), end=(17, 0)
        )
        await lock.add_cyclic_window(
            CyclicUserType.IC, 0xC1C1, weekday=1, start=(9, 0), end=(17, 0)
        )
        assert not device.present_card(0xC1C1)  # Monday only now
        await lock.clear_cyclic_windows(CyclicUserType.IC, 0xC1C1)
        assert device.present_card(0xC1C1)
        await lock.clear_cyclic_windows(CyclicUserType.IC)
    async with expect_code(Code.IC_CARD_NOT_EXIST):
        await lock.add_cyclic_window(CyclicUserType.IC, 0xDEAD, weekday=1, start=(0, 0), end=(1, 0))


async def test_hotel_and_nb_settings(lab: Lab) -> None:
    hotel = await initialised(lab, "hotel")
    async with asyncio.timeout(DEADLINE):
        await hotel.set_hotel_parameter(HotelSet.numbers(1, 2, 3))
        assert await hotel.hotel_parameter(HotelParam.HOTEL_NUMBERS) == bytes.fromhex("0000010203")
        assert await hotel.hotel_parameter(HotelParam.SECTORS) == b""
    nb = await initialised(lab, "nb")
    async with asyncio.timeout(DEADLINE):
        await nb.set_nb_server("nb.example.com", 9999)
        await nb.set_nb_awake_modes(NbAwakeMode.KEYPAD | NbAwakeMode.CARD)
        assert await nb.nb_awake_modes() == 3
        await nb.set_nb_awake_times([NbAwakeTime(1, 8, 0)])
        assert await nb.nb_awake_times() == (NbAwakeTime(1, 8, 0),)
    assert virtual(lab, "nb").memory.nb.server == ("nb.example.com", 9999)
    async with expect_code(Code.INVALID_COMMAND):
        await nb.hotel_parameter(HotelParam.IC_KEY)
