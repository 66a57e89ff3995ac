"""Every behaviour and error code of the virtual lock, written once, run over two transports.

Each scenario is ``async def <sentence>(driver)``: it builds its lock, talks to
it as an app (:class:`~tests.unit.sim.clients.LockClient`: the protocol's app role,
:class:`~ttlock_hil.protocol.app.LockApp`, on a byte pipe) and checks replies and
the lock's state. ``test_lock.py`` runs them through ``receive()``,
``test_lock_via_bleak.py`` through bleak with the virtual backend.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.harness.sim.presets import LockPreset, ReplyOverride, lock_preset
from ttlock_hil.protocol.app import FinalRule, Replied, Stray
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.errormap import LockError, lock_error_code
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import LOCK_TRAILER, build_lock_frame, encode_lock_command
from ttlock_hil.protocol.messages import (
    END_OF_LIST,
    FINGERPRINT_PAGING,
    IC_PAGING,
    LOG_PAGING,
    NEW_RECORDS,
    PASSAGE_MODE_PAGING,
    PASSCODE_PAGING,
    PERMANENT_END,
    PERMANENT_START,
    AddAdmin,
    AdminCodeReply,
    AesKeyReply,
    AudioQuery,
    AudioReply,
    AudioSet,
    AudioSetVolume,
    AutoLockQuery,
    AutoLockReply,
    AutoLockSet,
    CheckAdmin,
    CheckRandom,
    CheckUserTime,
    DeviceInfoReply,
    DeviceInfoType,
    EmptyReply,
    Feature,
    FeaturesReply,
    FrAddedReply,
    FrAddProgressReply,
    FrAddStatus,
    FrClear,
    FrDelete,
    FrEnterAddMode,
    FrModify,
    FunctionLockReply,
    GetAdminCode,
    GetAesKey,
    GetLockTime,
    GetOperateLog,
    GetPasscodeList,
    IcAckReply,
    IcAdd,
    IcAddedReply,
    IcAddProgressReply,
    IcClear,
    IcDelete,
    IcEnterAddMode,
    IcListReply,
    IcModify,
    IcQuery,
    Initialization,
    ListPaging,
    LockDate,
    LockState,
    LockTimeReply,
    LogType,
    OperateFinished,
    OperateLogReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeEntry,
    PassageModeListReply,
    PassageModeQuery,
    PassageModeType,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListReply,
    PasscodeModify,
    PasscodeReply,
    PasscodeType,
    ReadDeviceInfo,
    RemoteUnlockQuery,
    RemoteUnlockReply,
    RemoteUnlockSet,
    ReplyData,
    ResetLock,
    SearchDeviceFeature,
    SearchStatus,
    SetAdminPasscode,
    ShowPasswordQuery,
    ShowPasswordReply,
    ShowPasswordSet,
    StatusReply,
    TimeCalibrate,
    UnlockReply,
)

from .clients import Answer, Driver, LockClient, NoReply

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
"""The lock key of the frame vectors (docs/protocol.md §4.3)."""
ADMIN_PS = 12345678
UNLOCK_KEY = 87654321
PS = 0x1DB78A8F
"""The real ps of a TTLOCK-BLE capture, used by the check_random/unlock vectors."""
START = datetime(2026, 1, 1, 12, 0, 0)
"""ManualClock's default: every lock here starts at this time."""

E = LockError


class Scripted:
    """A RandomSource: the given AES key and ps, seeded bytes for anything else."""

    def __init__(self, *, key: bytes | None = KEY, ps: int | None = None, seed: int = 1) -> None:
        self.key = key
        self.ps = ps
        self._rng = random.Random(seed)

    def __call__(self, size: int) -> bytes:
        if size == 16 and self.key is not None:
            return self.key
        if size == 4 and self.ps is not None:
            return self.ps.to_bytes(4, "big")
        return self._rng.randbytes(size)


def paired_lock(preset: str | LockPreset = "v3-keypad", **kwargs: object) -> VirtualLock:
    """A lock initialised with the vector credentials; its challenges are always :data:`PS`."""
    kwargs.setdefault("rng", Scripted(ps=PS))
    kwargs.setdefault("clock", ManualClock(START))
    return VirtualLock.paired(
        aes_key=KEY,
        admin_ps=ADMIN_PS,
        unlock_key=UNLOCK_KEY,
        preset=preset,
        **kwargs,  # type: ignore[arg-type]
    )


def fresh_lock(preset: str | LockPreset = "v3-keypad", **kwargs: object) -> VirtualLock:
    """A factory-fresh lock whose GET_AES_KEY hands out :data:`KEY`."""
    kwargs.setdefault("rng", Scripted())
    kwargs.setdefault("clock", ManualClock(START))
    return VirtualLock(preset, **kwargs)  # type: ignore[arg-type]


def aes_key_of(answer: Answer) -> bytes:
    data = answer.message
    assert isinstance(data, AesKeyReply)
    return data.key


def ends_with(cls: type[ReplyData]) -> FinalRule:
    """The enrolment's final reply: the one whose data is ``cls`` (card or finger added)."""

    def is_added(plaintext: bytes) -> bool:
        try:
            cls.decode(plaintext[2:])
        except MessageError:
            return False
        return True

    return is_added


async def admin(driver: Driver, lock: VirtualLock) -> LockClient:
    """A connection logged in as admin (0x41 + 0x30)."""
    app = await LockClient.open(driver, lock)
    await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    return app


async def read_all(
    app: LockClient, paging: ListPaging[Any, Any, Any], first: int | None = None
) -> tuple[list[Any], int]:
    """Read a whole list the way the protocol pages it; its items and the replies it took."""
    items: list[Any] = []
    asked: list[int] = []
    cursor: int | None = paging.first if first is None else first
    while cursor is not None:
        asked.append(cursor)
        reply = await app.data(paging.request(cursor))
        items.extend(paging.items(reply))
        cursor = paging.follow(reply, asked)
        assert len(asked) < 500, "the list never ended"
    return items, len(asked)


async def enrol_finger(app: LockClient, lock: VirtualLock, finger: int) -> None:
    """Enrol ``finger`` through the sensor: one touch per progress reply (§10.2.2)."""
    await app.request(FrEnterAddMode(), final=ends_with(FrAddedReply))
    while finger not in lock.fingerprints:
        lock.present_finger(finger)
    while not isinstance(await app.next_reply(), Replied):
        pass


def date(dt: datetime) -> LockDate:
    return LockDate.of(dt)


def window(days_from: float, days_to: float) -> tuple[LockDate, LockDate]:
    """A validity window relative to :data:`START`, minutes precision."""
    start = LockDate.of(START + timedelta(days=days_from)).without_seconds()
    end = LockDate.of(START + timedelta(days=days_to)).without_seconds()
    return start, end


Scenario = Callable[[Driver], Awaitable[None]]
SCENARIOS: list[Scenario] = []


def scenario(function: Scenario) -> Scenario:
    SCENARIOS.append(function)
    return function


# --- init (docs/protocol.md §4.3) ----------------------------------------------------------


@scenario
async def init_hands_out_a_new_key_and_uses_it_for_everything_after(driver: Driver) -> None:
    lock = fresh_lock()
    assert lock.setting_mode
    app = await LockClient.open(driver, lock)
    assert app.key is None
    assert (await app.request(Initialization())).ok
    reply = await app.request(GetAesKey())
    assert aes_key_of(reply) == KEY
    assert app.key == KEY  # the app learnt it; ADD_ADMIN goes out under it
    assert (await app.request(AddAdmin(ADMIN_PS, UNLOCK_KEY))).ok
    assert not lock.setting_mode
    assert isinstance(await app.data(TimeCalibrate(date(START))), EmptyReply)
    features = await app.data(SearchDeviceFeature())
    assert isinstance(features, FeaturesReply)
    assert features.known_features == lock.preset.features
    code = await app.data(GetAdminCode())
    assert isinstance(code, AdminCodeReply)
    assert code.code == lock.admin_code
    assert len(code.code) == 7
    assert isinstance(await app.data(OperateFinished()), EmptyReply)
    creds = lock.credentials
    assert creds is not None
    assert (creds.aes_key, creds.admin_ps, creds.unlock_key) == (KEY, ADMIN_PS, UNLOCK_KEY)
    # The default key is over for this lock: such a frame does not even decrypt.
    stale = encode_lock_command(LockCommand.SEARCH_STATUS, b"SCIENER", DEFAULT_LOCK_KEY)
    assert await app.raw(stale + LOCK_TRAILER) == []
    await app.close()
    again = await LockClient.open(driver, lock)
    assert again.key == KEY
    await again.login_admin(ADMIN_PS, UNLOCK_KEY)
    await again.close()


@scenario
async def add_admin_and_get_aes_key_on_a_paired_lock_are_refused_with_7(driver: Driver) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    assert await app.error(AddAdmin(1, 2)) == E.NOT_IN_SETTING_MODE
    assert await app.error(GetAesKey()) == E.NOT_IN_SETTING_MODE  # under the default key
    assert await app.error(Initialization()) == E.NOT_IN_SETTING_MODE
    assert lock_error_code(E.NOT_IN_SETTING_MODE).code == 7
    assert lock.credentials is not None
    assert lock.credentials.admin_ps == ADMIN_PS
    await app.close()


@scenario
async def setting_mode_answers_5_to_logins_and_admin_commands(driver: Driver) -> None:
    lock = fresh_lock()
    app = await LockClient.open(driver, lock)
    status = await app.data(SearchStatus())  # status needs nothing, even in setting mode
    assert isinstance(status, StatusReply)
    assert await app.error(CheckAdmin(ADMIN_PS)) == E.IN_SETTING_MODE
    assert await app.error(AudioQuery()) == E.IN_SETTING_MODE
    assert await app.error(ResetLock()) == E.IN_SETTING_MODE
    await app.close()


@scenario
async def a_key_handed_out_but_never_confirmed_is_forgotten_with_the_link(driver: Driver) -> None:
    lock = fresh_lock()
    app = await LockClient.open(driver, lock)
    assert (await app.request(GetAesKey())).ok
    await app.close()
    assert lock.setting_mode
    again = await LockClient.open(driver, lock)
    assert again.key is None
    assert (await again.request(SearchStatus())).ok  # default key again
    assert aes_key_of(await again.request(GetAesKey())) == KEY
    assert (await again.request(AddAdmin(ADMIN_PS, UNLOCK_KEY))).ok
    await again.close()


# --- logins ------------------------------------------------------------------------------


@scenario
async def a_wrong_admin_password_is_3_and_then_check_random_is_2(driver: Driver) -> None:
    app = await LockClient.open(driver, paired_lock())
    assert await app.error(CheckAdmin(ADMIN_PS + 1)) == E.ADMIN_CHECK_ERROR
    assert await app.error(CheckRandom.answer(PS, UNLOCK_KEY)) == E.NO_PERMISSION
    await app.close()


@scenario
async def an_admin_flag_position_below_the_locks_is_13(driver: Driver) -> None:
    lock = paired_lock()
    lock.lock_flag_pos = 2
    app = await LockClient.open(driver, lock)
    assert await app.error(CheckAdmin(ADMIN_PS, flag_pos=1)) == E.KEY_FLAG_INVALID
    assert await app.login_admin(ADMIN_PS, UNLOCK_KEY, flag_pos=2) == PS
    await app.close()


@scenario
async def check_random_with_a_wrong_sum_is_3(driver: Driver) -> None:
    app = await LockClient.open(driver, paired_lock())
    assert await app.challenge_admin(ADMIN_PS) == PS
    assert await app.error(CheckRandom.answer(PS, UNLOCK_KEY + 1)) == E.ADMIN_CHECK_ERROR
    await app.close()


@scenario
async def without_a_login_unlock_is_18_and_admin_commands_are_2(driver: Driver) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    assert (await app.unlock(PS, UNLOCK_KEY)).error_byte == E.USER_NOT_LOGIN
    assert (await app.lock(PS, UNLOCK_KEY)).error_byte == E.USER_NOT_LOGIN
    assert await app.error(AudioQuery()) == E.NO_PERMISSION
    assert await app.error(TimeCalibrate(date(START))) == E.NO_PERMISSION
    assert await app.error(PasscodeClear()) == E.NO_PERMISSION
    assert not lock.unlocked
    assert lock.log == ()
    await app.close()


@scenario
async def admin_unlock_and_lock_move_the_bolt_and_write_the_log(driver: Driver) -> None:
    lock = paired_lock()
    lock.battery = 42
    app = await LockClient.open(driver, lock)
    await app.login_admin(ADMIN_PS, UNLOCK_KEY, uid=77)
    unlocked = (await app.unlock(PS, UNLOCK_KEY)).message
    assert unlocked == UnlockReply(42, 77, 1, date(START))
    assert lock.unlocked
    status = await app.data(SearchStatus())
    assert isinstance(status, StatusReply)
    assert status.lock_state is LockState.UNLOCKED
    locked = (await app.lock(PS, UNLOCK_KEY)).message
    assert locked == FunctionLockReply(42, 77, 2, date(START))
    assert not lock.unlocked
    assert [(r.log_type, r.uid, r.record_id) for r in lock.log] == [
        (LogType.MOBILE_UNLOCK, 77, 1),
        (LogType.BLE_LOCK, 77, 2),
    ]
    await app.close()


@scenario
async def an_admin_may_unlock_right_after_the_challenge(driver: Driver) -> None:
    # Vendor unlockByAdmin: 0x41 → ps → 0x47, no 0x30 (§4.3).
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    await app.challenge_admin(ADMIN_PS)
    assert (await app.unlock(PS, UNLOCK_KEY)).ok
    assert lock.unlocked
    await app.close()


@scenario
async def a_wrong_unlock_check_value_is_2(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    assert (await app.unlock(PS, UNLOCK_KEY - 1)).error_byte == E.NO_PERMISSION
    assert not lock.unlocked
    await app.close()


@scenario
async def an_expired_ekey_is_14_a_future_one_17_and_a_valid_one_opens(driver: Driver) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    past = window(-10, -1)
    future = window(1, 10)
    now = window(-1, 1)
    assert await app.error(CheckUserTime(*past, uid=5)) == E.USER_TIME_EXPIRED
    assert await app.error(CheckUserTime(*future, uid=5)) == E.USER_TIME_INEFFECTIVE
    lock.lock_flag_pos = 3
    assert await app.error(CheckUserTime(*now, flag_pos=2, uid=5)) == E.KEY_FLAG_INVALID
    ps = await app.login_user(*now, flag_pos=3, uid=5)
    reply = (await app.unlock(ps, UNLOCK_KEY)).message
    assert isinstance(reply, UnlockReply)
    assert reply.uid == 5
    # A user is no admin: admin commands stay closed.
    assert await app.error(AudioQuery()) == E.NO_PERMISSION
    # The permanent window of the vectors works as well.
    assert await app.login_user(PERMANENT_START, PERMANENT_END, flag_pos=3) == PS
    await app.close()


@scenario
async def the_login_ends_with_the_link_but_stored_state_survives(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, _ = window(-1, 0)
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "123456", start))).ok
    assert (await app.request(AutoLockSet(30))).ok
    await app.close()
    again = await LockClient.open(driver, lock)
    assert (await again.unlock(PS, UNLOCK_KEY)).error_byte == E.USER_NOT_LOGIN
    assert await again.error(AutoLockQuery()) == E.NO_PERMISSION
    await again.login_admin(ADMIN_PS, UNLOCK_KEY)
    query = await again.data(AutoLockQuery())
    assert isinstance(query, AutoLockReply)
    assert query.seconds == 30
    assert "123456" in lock.passcodes
    await again.close()


@scenario
async def a_frozen_lock_refuses_users_with_28_but_not_the_admin(driver: Driver) -> None:
    lock = paired_lock()
    lock.frozen = True
    app = await LockClient.open(driver, lock)
    ps = await app.login_user(PERMANENT_START, PERMANENT_END)
    assert (await app.unlock(ps, UNLOCK_KEY)).error_byte == E.FROZEN
    assert not lock.unlocked
    await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    assert (await app.unlock(PS, UNLOCK_KEY)).ok
    await app.close()


@scenario
async def a_double_locked_door_refuses_users_with_30_and_logs_it(driver: Driver) -> None:
    lock = paired_lock()
    lock.double_locked = True
    app = await LockClient.open(driver, lock)
    ps = await app.login_user(PERMANENT_START, PERMANENT_END, uid=9)
    reply = await app.unlock(ps, UNLOCK_KEY)
    assert reply.error_byte == E.LOCK_REVERSE
    assert lock_error_code(reply.error_byte).code == 30
    assert lock.log[-1].log_type == LogType.APP_UNLOCK_FAILED_LOCK_REVERSE
    assert lock.log[-1].uid == 9
    await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    assert (await app.unlock(PS, UNLOCK_KEY)).ok  # the admin may
    await app.close()


@scenario
async def a_flat_battery_refuses_unlock_and_lock_with_10(driver: Driver) -> None:
    lock = paired_lock()
    lock.battery = lock.preset.low_battery
    app = await admin(driver, lock)
    assert (await app.unlock(PS, UNLOCK_KEY)).error_byte == E.NO_POWER
    assert (await app.lock(PS, UNLOCK_KEY)).error_byte == E.NO_POWER
    lock.battery = lock.preset.low_battery + 1
    assert (await app.unlock(PS, UNLOCK_KEY)).ok
    await app.close()


# --- status, time, features, device info ------------------------------------------------


@scenario
async def status_needs_no_login_and_reports_battery_and_bolt(driver: Driver) -> None:
    lock = paired_lock()
    lock.battery = 45
    app = await LockClient.open(driver, lock)
    reply = await app.request(SearchStatus())
    assert reply.data == bytes([45, 0, 2])  # the real capture 14 01 2d 00 02 (§4.2)
    await app.close()


@scenario
async def get_time_is_open_and_calibrate_sets_the_lock_clock(driver: Driver) -> None:
    clock = ManualClock(START)
    lock = paired_lock(clock=clock)
    app = await LockClient.open(driver, lock)
    assert await app.data(GetLockTime()) == LockTimeReply(date(START))
    await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    target = datetime(2026, 1, 2, 3, 4, 5)
    assert (await app.request(TimeCalibrate(date(target)))).ok
    clock.advance(10)
    assert await app.data(GetLockTime()) == LockTimeReply(date(target + timedelta(seconds=10)))
    assert lock.now == target + timedelta(seconds=10)
    await app.close()


@scenario
async def features_report_each_presets_bits_before_any_login(driver: Driver) -> None:
    for name in ("v3-keypad", "v3-fingerprint-ic", "v3-padlock", "v3-wifi"):
        lock = paired_lock(name)
        lock.battery = 66
        app = await LockClient.open(driver, lock)
        features = await app.data(SearchDeviceFeature())
        assert isinstance(features, FeaturesReply)
        assert features.battery == 66
        assert features.known_features == lock.preset.features
        await app.close()
    assert lock_preset("v3-fingerprint-ic").has(Feature.FINGER_PRINT)
    assert not lock_preset("v3-padlock").has(Feature.PASSCODE)


@scenario
async def device_info_gives_model_revisions_date_mac_and_clock(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    preset = lock.preset
    texts = {
        DeviceInfoType.MODEL: preset.model,
        DeviceInfoType.HARDWARE_REVISION: preset.hardware,
        DeviceInfoType.FIRMWARE_REVISION: preset.firmware,
        DeviceInfoType.MANUFACTURE_DATE: preset.manufacture_date,
    }
    for item, text in texts.items():
        reply = await app.data(ReadDeviceInfo(item))
        assert isinstance(reply, DeviceInfoReply)
        assert reply.text == text
        assert reply.value.endswith(b"\x00")
    mac = await app.data(ReadDeviceInfo(DeviceInfoType.MAC))
    assert isinstance(mac, DeviceInfoReply)
    assert mac.value == bytes.fromhex(lock.address.replace(":", ""))[::-1]
    clock = await app.data(ReadDeviceInfo(DeviceInfoType.LOCK_CLOCK))
    assert isinstance(clock, DeviceInfoReply)
    assert LockDate.from_bytes(clock.value) == date(START)
    # TTLOCK-BLE saw 0x19 for the NB items on a lock without NB-IoT (§4.2, 0x90).
    assert await app.error(ReadDeviceInfo(DeviceInfoType.NB_OPERATOR)) == E.UNRECOGNISED_STEP
    assert await app.error(ReadDeviceInfo(99)) == E.INVALID_PARAM
    await app.close()


# --- passcodes ------------------------------------------------------------------------------


@scenario
async def passcodes_are_added_modified_and_deleted_with_their_errors(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, end = window(-1, 30)
    add = await app.data(PasscodeAdd(PasscodeType.PERIOD, "123456", start, end))
    assert add == PasscodeReply(lock.battery, 2)
    assert lock.passcodes["123456"].validity.end == end
    assert await app.error(PasscodeAdd(PasscodeType.PERMANENT, "123456", start)) == (
        E.PASSWORD_EXIST
    )
    assert await app.error(PasscodeAdd(PasscodeType.PERMANENT, "123", start)) == (
        E.PASSWORD_LENGTH_INVALID
    )
    assert await app.error(PasscodeAdd(PasscodeType.PERMANENT, "1234567890", start)) == (
        E.PASSWORD_LENGTH_INVALID
    )
    assert await app.error(PasscodeDelete(PasscodeType.PERMANENT, "999999")) == (
        E.PASSWORD_NOT_EXIST
    )
    assert await app.error(PasscodeModify(PasscodeType.PERIOD, "999999", "1111", start, end)) == (
        E.PASSWORD_NOT_EXIST
    )
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "2468", start))).ok
    assert await app.error(PasscodeModify(PasscodeType.PERIOD, "123456", "2468", start, end)) == (
        E.PASSWORD_EXIST
    )
    modified = await app.data(PasscodeModify(PasscodeType.PERIOD, "123456", "654321", start, end))
    assert modified == PasscodeReply(lock.battery, 5)
    assert set(lock.passcodes) == {"654321", "2468"}
    deleted = await app.data(PasscodeDelete(PasscodeType.PERMANENT, "2468"))
    assert deleted == PasscodeReply(lock.battery, 3)
    cleared = await app.data(PasscodeClear())
    assert cleared == PasscodeReply(lock.battery, 1)
    assert not lock.passcodes
    assert [r.log_type for r in lock.log] == [
        LogType.KEYBOARD_MODIFY_PASSWORD,
        LogType.REMOVE_SINGLE_PASSWORD,
        LogType.REMOVE_ALL_PASSWORDS,
    ]
    assert (lock.log[0].passcode, lock.log[0].new_passcode) == ("123456", "654321")
    await app.close()


@scenario
async def passcode_memory_full_is_22(driver: Driver) -> None:
    lock = paired_lock(lock_preset("v3-keypad").evolve(passcode_capacity=2))
    app = await admin(driver, lock)
    start, _ = window(0, 1)
    for code in ("1111", "2222"):
        assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, code, start))).ok
    assert await app.error(PasscodeAdd(PasscodeType.PERMANENT, "3333", start)) == (E.NO_FREE_MEMORY)
    await app.close()


@scenario
async def the_admin_code_may_not_equal_the_delete_code_16(driver: Driver) -> None:
    lock = paired_lock()
    lock.delete_passcode = "7654321"
    app = await admin(driver, lock)
    assert await app.error(SetAdminPasscode("7654321")) == E.SUPER_PASSWORD_SAME_AS_DELETE
    assert await app.error(SetAdminPasscode("123")) == E.PASSWORD_LENGTH_INVALID
    assert (await app.request(SetAdminPasscode("1234567"))).ok
    code = await app.data(GetAdminCode())
    assert isinstance(code, AdminCodeReply)
    assert code.code == "1234567"
    await app.close()


@scenario
async def the_passcode_list_pages_one_per_reply_until_the_bare_end(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, end = window(0, 5)
    codes = [f"{n:06d}" for n in range(100_000, 100_012)]
    for code in codes:
        assert (await app.request(PasscodeAdd(PasscodeType.PERIOD, code, start, end))).ok
    entries, replies = await read_all(app, PASSCODE_PAGING)
    assert [entry.passcode for entry in entries] == codes
    assert all(entry.end == end for entry in entries)
    assert replies == len(codes) + 1  # one item per reply (§10.3.7), then the bare 00 00
    first = await app.data(GetPasscodeList(0))
    assert isinstance(first, PasscodeListReply)
    assert first.next_seq == 20  # a memory offset, not an index (our decision)
    assert first.total_len == 2 + len(first.entries[0].encode())
    await app.close()


@scenario
async def keypad_use_is_logged_and_read_back(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, _ = window(-1, 0)
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "864200", start))).ok
    assert lock.enter_passcode("864200")
    assert not lock.enter_passcode("000000")
    lock.double_locked = True
    assert not lock.enter_passcode("864200")
    records, _ = await read_all(app, LOG_PAGING)
    assert [(r.log_type, r.passcode) for r in records] == [
        (LogType.KEYBOARD_PASSWORD_UNLOCK, "864200"),
        (LogType.ERROR_PASSWORD_UNLOCK, "000000"),
        (LogType.PASSCODE_UNLOCK_FAILED_LOCK_REVERSE, "864200"),
    ]
    await app.close()


# --- IC cards and fingerprints --------------------------------------------------------------


@scenario
async def an_ic_card_add_pushes_the_card_number_as_a_second_reply(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    progress = (await app.request(IcEnterAddMode(), final=ends_with(IcAddedReply))).message
    assert progress == IcAddProgressReply(lock.battery)
    assert lock.present_card(0xDEADBEEF)
    added = (await app.next_reply()).message
    assert added == IcAddedReply(lock.battery, 0xDEADBEEF)
    cards, replies = await read_all(app, IC_PAGING)
    assert ([c.card for c in cards], replies) == ([0xDEADBEEF], 2)
    assert await app.data(IcQuery(1)) == IcListReply(lock.battery, END_OF_LIST)
    # Outside add mode a presented card is an unlock attempt, logged.
    assert lock.present_card(0xDEADBEEF)
    assert not lock.present_card(0x12345678)
    assert [r.log_type for r in lock.log] == [
        LogType.ADD_IC,
        LogType.IC_UNLOCK,
        LogType.IC_UNLOCK_FAILED,
    ]
    assert lock.log[1].card == 0xDEADBEEF
    await app.close()


@scenario
async def ic_cards_are_added_modified_deleted_and_missing_ones_are_24(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(0, 10)
    big = 0x1_0000_0001  # an 8-byte card number
    for card in (0x01020304, big):
        assert (await app.request(IcAdd(card, start, end))).message == IcAddedReply(
            lock.battery, card
        )
    assert await app.error(IcDelete(0x0BADCAFE)) == E.IC_CARD_NOT_EXIST
    assert await app.error(IcModify(0x0BADCAFE, start, end)) == E.IC_CARD_NOT_EXIST
    later = window(1, 20)
    assert await app.data(IcModify(0x01020304, *later)) == IcAckReply(lock.battery, 5)
    assert lock.cards[0x01020304].start == later[0]
    assert await app.data(IcDelete(big)) == IcAckReply(lock.battery, 3)
    assert await app.data(IcClear()) == IcAckReply(lock.battery, 4)
    assert not lock.cards
    full = paired_lock(lock_preset("v3-fingerprint-ic").evolve(card_capacity=0))
    other = await admin(driver, full)
    assert await other.error(IcEnterAddMode()) == E.NO_FREE_MEMORY
    assert await other.error(IcAdd(1, start, end)) == E.NO_FREE_MEMORY
    await other.close()
    await app.close()


@scenario
async def a_fingerprint_add_reports_each_touch_then_the_new_id(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    touches = lock.preset.fingerprint_touches
    entered = (await app.request(FrEnterAddMode(), final=ends_with(FrAddedReply))).message
    assert entered == FrAddProgressReply(lock.battery, FrAddStatus.ENTERED_ADD_MODE, total=touches)
    for touch in range(1, touches):
        assert not lock.present_finger(0x0000AABBCCDD)
        step = (await app.next_reply()).message
        assert step == FrAddProgressReply(lock.battery, FrAddStatus.PROGRESS, touch, touches)
    assert lock.present_finger(0x0000AABBCCDD)
    done = (await app.next_reply()).message
    assert done == FrAddedReply(lock.battery, 0x0000AABBCCDD)
    prints, _ = await read_all(app, FINGERPRINT_PAGING)
    assert [f.fingerprint for f in prints] == [0x0000AABBCCDD]
    assert lock.present_finger(0x0000AABBCCDD)
    assert not lock.present_finger(0x000000000001)
    assert [r.log_type for r in lock.log][-2:] == [LogType.FR_UNLOCK, LogType.FR_UNLOCK_FAILED]
    await app.close()


@scenario
async def fingerprints_are_modified_deleted_and_missing_ones_are_26(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(0, 10)
    assert await app.error(FrDelete(42)) == E.FINGER_PRINT_NOT_EXIST
    assert await app.error(FrModify(42, start, end)) == E.FINGER_PRINT_NOT_EXIST
    await app.request(FrEnterAddMode(), final=ends_with(FrAddedReply))
    for _ in range(lock.preset.fingerprint_touches):
        lock.present_finger()  # one touch each; the lock picks the id
        answer = await app.next_reply()
    added = answer.message
    assert isinstance(added, FrAddedReply)
    assert added.fingerprint in lock.fingerprints
    assert (await app.request(FrModify(added.fingerprint, start, end))).ok
    assert (await app.request(FrDelete(added.fingerprint))).ok
    assert (await app.request(FrClear())).ok
    assert [r.log_type for r in lock.log] == [LogType.ADD_FR, LogType.DELETE_FR, LogType.CLEAR_FR]
    assert lock.log[0].fingerprint == added.fingerprint
    await app.close()


# --- operate log ----------------------------------------------------------------------------


@scenario
async def the_operate_log_comes_one_record_per_reply_and_ends_empty(driver: Driver) -> None:
    lock = paired_lock()
    for n in range(12):
        lock.enter_passcode(f"{n:06d}")  # twelve failed keypad tries
    app = await LockClient.open(driver, lock)  # the log is open without a login (§4.2)
    records, replies = await read_all(app, LOG_PAGING, first=0)
    assert [r.passcode for r in records] == [f"{n:06d}" for n in range(12)]
    assert replies == 13  # one record per reply (§10.3.7), then totalLen 0
    page = await app.data(GetOperateLog(3))
    assert isinstance(page, OperateLogReply)
    assert (len(page.records), page.seq) == (1, 4)
    assert page.total_len == 2 + len(page.records[0].encode())
    # Past the last record: an empty page, never an error (§10.3.7).
    assert await app.data(GetOperateLog(12)) == OperateLogReply(0)
    assert await app.data(GetOperateLog(60000)) == OperateLogReply(0)
    # New records only: everything was read, then one more comes.
    assert await app.data(GetOperateLog(NEW_RECORDS)) == OperateLogReply(0)
    lock.enter_passcode("999999")
    fresh, _ = await read_all(app, LOG_PAGING)
    assert [r.passcode for r in fresh] == ["999999"]
    await app.close()


# --- reset ------------------------------------------------------------------------------------


@scenario
async def reset_goes_back_to_setting_mode_and_the_default_key(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, _ = window(0, 1)
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "1357", start))).ok
    assert (await app.request(ResetLock())).ok  # answered under the old key
    assert lock.setting_mode
    assert lock.credentials is None
    assert not lock.passcodes
    assert app.setting_mode  # the app's view of the shared table agrees
    assert (await app.request(SearchStatus())).ok  # now under the default key
    await app.close()
    again = await LockClient.open(driver, lock)
    assert aes_key_of(await again.request(GetAesKey())) == KEY
    assert (await again.request(AddAdmin(1, 2))).ok
    await again.close()


# --- settings ------------------------------------------------------------------------------------


@scenario
async def auto_lock_is_queried_set_bounded_and_closes_the_bolt(driver: Driver) -> None:
    clock = ManualClock(START)
    lock = paired_lock(clock=clock)
    app = await admin(driver, lock)
    low, high = lock.preset.auto_lock_range
    assert await app.data(AutoLockQuery()) == AutoLockReply(lock.battery, 1, 0, low, high)
    assert await app.data(AutoLockSet(5)) == AutoLockReply(lock.battery, 2)
    assert await app.error(AutoLockSet(low - 1)) == E.INVALID_PARAM
    assert await app.error(AutoLockSet(high + 1)) == E.INVALID_PARAM
    assert (await app.unlock(PS, UNLOCK_KEY)).ok
    clock.advance(4)
    assert lock.unlocked
    clock.advance(1)
    status = await app.data(SearchStatus())
    assert isinstance(status, StatusReply)
    assert status.lock_state is LockState.LOCKED
    await app.close()


@scenario
async def audio_is_switched_and_volume_is_a_no_op_without_the_feature(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    assert await app.data(AudioQuery()) == AudioReply(lock.battery, 1, True)
    assert await app.data(AudioSet(False)) == AudioReply(lock.battery, 2)
    assert await app.data(AudioQuery()) == AudioReply(lock.battery, 1, False)
    # A beeper-only model answers SUCCESS and changes nothing (issue 13 deviation 5).
    assert await app.data(AudioSetVolume(4)) == AudioReply(lock.battery, 2)
    assert await app.data(AudioQuery()) == AudioReply(lock.battery, 1, False)
    await app.close()
    other = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, other)
    assert (await app.request(AudioSetVolume(4))).ok
    assert await app.data(AudioQuery()) == AudioReply(other.battery, 1, True, 4)
    await app.close()


@scenario
async def the_remote_unlock_switch_and_show_password_are_kept(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    assert await app.data(RemoteUnlockQuery()) == RemoteUnlockReply(lock.battery, 1, False)
    assert await app.data(RemoteUnlockSet(True)) == RemoteUnlockReply(lock.battery, 2, True)
    assert lock.remote_unlock
    assert await app.data(ShowPasswordQuery()) == ShowPasswordReply(1, True)
    assert await app.data(ShowPasswordSet(False)) == ShowPasswordReply(2, False)
    assert not lock.show_password
    await app.close()


@scenario
async def passage_mode_periods_are_added_listed_deleted_and_cleared(driver: Driver) -> None:
    lock = paired_lock(lock_preset("v3-keypad").evolve(passage_mode_capacity=2))
    app = await admin(driver, lock)
    weekdays = PassageModeEntry(PassageModeType.WEEKLY, 0, 0, 8, 0, 18, 0)
    monthly = PassageModeEntry(PassageModeType.MONTHLY, 15, 0, 0, 0, 0, 0)
    assert (await app.request(PassageModeAdd(weekdays))).ok
    assert (await app.request(PassageModeAdd(monthly))).ok
    extra = PassageModeEntry(PassageModeType.WEEKLY, 6, 0, 9, 0, 12, 0)
    assert await app.error(PassageModeAdd(extra)) == E.NO_FREE_MEMORY
    impossible = PassageModeEntry(PassageModeType.WEEKLY, 8, 0, 25, 0, 12, 0)
    assert await app.error(PassageModeAdd(impossible)) == E.INVALID_PARAM
    periods, replies = await read_all(app, PASSAGE_MODE_PAGING)
    assert (periods, replies) == ([weekdays, monthly], 3)
    # The reply that ends the list carries no record: the SDK would not read it (§10.3.7).
    assert await app.data(PassageModeQuery(2)) == PassageModeListReply(lock.battery, 0xFF)
    assert await app.error(PassageModeDelete(extra)) == E.RECORD_NOT_EXIST
    assert (await app.request(PassageModeDelete(weekdays))).ok
    assert lock.passage_modes == (monthly,)
    assert (await app.request(PassageModeClear())).ok
    assert not lock.passage_modes
    await app.close()


# --- refusals that are not about auth ---------------------------------------------------------


@scenario
async def unsupported_commands_and_missing_features_are_27(driver: Driver) -> None:
    padlock = paired_lock("v3-padlock")
    app = await admin(driver, padlock)
    start, _ = window(0, 1)
    assert await app.error(PasscodeAdd(PasscodeType.PERMANENT, "1234", start)) == (
        E.INVALID_COMMAND
    )
    assert await app.error(IcQuery(0)) == E.INVALID_COMMAND
    assert await app.error(AudioQuery()) == E.INVALID_COMMAND
    for opcode in (LockCommand.ENTER_DFU_MODE, LockCommand.WIFI_SCAN, LockCommand.LAMP, 0x99):
        reply = await app.request(opcode, b"")
        assert (reply.command, reply.error_byte) == (opcode, E.INVALID_COMMAND)
    assert lock_error_code(E.INVALID_COMMAND).code == 27
    await app.close()


@scenario
async def a_payload_that_does_not_fit_its_layout_is_32(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    reply = await app.request(LockCommand.AUTO_LOCK_MANAGE, b"\x09")  # no operation 9
    assert reply.error_byte == E.INVALID_PARAM
    reply = await app.request(LockCommand.SEARCH_STATUS, b"NOT-SCIENER")
    assert reply.error_byte == E.INVALID_PARAM
    assert lock_error_code(E.INVALID_PARAM).code == 32
    await app.close()


@scenario
async def a_request_with_a_bad_crc_is_answered_with_error_1(driver: Driver) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    good = encode_lock_command(LockCommand.SEARCH_STATUS, b"SCIENER", KEY)
    bad = good[:-1] + bytes([good[-1] ^ 0xFF]) + LOCK_TRAILER
    (reply,) = await app.raw(bad)  # nobody asked (the app sent nothing): a stray
    assert isinstance(reply, Stray)
    assert (reply.command, reply.ok, reply.error_byte) == (LockCommand.SEARCH_STATUS, False, 1)
    assert (await app.request(SearchStatus())).ok  # the link is fine afterwards
    await app.close()


@scenario
async def a_frame_that_does_not_decrypt_gets_no_reply(driver: Driver) -> None:
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    wrong_key = encode_lock_command(0x14, b"SCIENER", bytes(16)) + LOCK_TRAILER
    assert await app.raw(wrong_key) == []
    not_whole_blocks = build_lock_frame(0x14, bytes(15)) + LOCK_TRAILER  # AES needs 16n bytes
    assert await app.raw(not_whole_blocks) == []
    assert (await app.request(SearchStatus())).ok
    await app.close()


@scenario
async def preset_quirks_answer_other_error_bytes(driver: Driver) -> None:
    base = lock_preset("v3-keypad")
    quirky = base.evolve(
        name="v3-keypad-quirky",
        overrides=(
            ReplyOverride(LockCommand.UNLOCK, E.NO_PERMISSION, replaces=E.USER_NOT_LOGIN),
            ReplyOverride(LockCommand.SEARCH_DEVICE_FEATURE, E.INVALID_COMMAND),
            ReplyOverride(LockCommand.AUDIO_MANAGE, E.OPERATE_FAILED),
        ),
    )
    lock = paired_lock(quirky)
    app = await LockClient.open(driver, lock)
    assert (await app.unlock(PS, UNLOCK_KEY)).error_byte == E.NO_PERMISSION
    assert await app.error(SearchDeviceFeature()) == E.INVALID_COMMAND
    assert (await app.lock(PS, UNLOCK_KEY)).error_byte == E.USER_NOT_LOGIN  # untouched
    assert await app.error(AudioQuery()) == E.OPERATE_FAILED  # before the login, too
    await app.login_admin(ADMIN_PS, UNLOCK_KEY)
    assert await app.error(AudioSet(False)) == E.OPERATE_FAILED
    assert lock.audio  # refused, not executed
    await app.close()
    strict = paired_lock(base.evolve(operate_refusal=E.NO_PERMISSION))
    app = await LockClient.open(driver, strict)
    assert (await app.lock(PS, UNLOCK_KEY)).error_byte == E.NO_PERMISSION
    await app.close()


__all__ = ["SCENARIOS", "NoReply"]
