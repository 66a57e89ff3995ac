"""Pairing, login and operation on the virtual lock (docs/protocol.md §4.3).

* Initialisation: 0x19 GET_AES_KEY hands out a new key, 0x56 ADD_ADMIN stores
  the admin's password and unlock key (the connection state table then leaves
  setting mode), 0x45 INITIALIZATION and 0x57 OPERATE_FINISHED close the flow.
* Login, once per connection: 0x41 CHECK_ADMIN (admin password) or 0x55
  CHECK_USER_TIME (an e-key's window) answer a challenge ``ps``; the app proves
  its unlock key with the check value (:func:`ttlock_hil.protocol.login.check_value`)
  in 0x30 CHECK_RANDOM, 0x47 UNLOCK or 0x58 FUNCTION_LOCK.
* 0x52 RESET_LOCK forgets everything (back to setting mode).

A wrong check value in 0x30 answers 0x03 and in 0x47/0x58 answers 0x02 (our
choice: no capture settles it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.crypto import KEY_SIZE
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.login import check_value
from ttlock_hil.protocol.messages import (
    AddAdmin,
    AddAdminReply,
    AesKeyReply,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    CheckUserTimeReply,
    EmptyReply,
    FunctionLock,
    FunctionLockReply,
    GetAesKey,
    Initialization,
    LogType,
    OperateFinished,
    Request,
    ResetLock,
    Unlock,
    UnlockReply,
    date_key,
)

from .lock_rules import Refused
from .presets import PresetError

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "Pairing"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, repr=False)
class Pairing:
    """The lock's AES key and its admin's secrets (none in setting mode); never in a repr."""

    aes_key: bytes | None = None
    admin_ps: int | None = None
    unlock_key: int | None = None
    admin_uid: int = 0

    def __repr__(self) -> str:
        return f"Pairing({'admin added' if self.admin_ps is not None else 'no admin'})"


def expected_check(lock: LockModel) -> int | None:
    """The check value this connection's login must present (``None``: no challenge yet)."""
    challenge, unlock_key = lock.session.challenge, lock.memory.pairing.unlock_key
    if challenge is None or unlock_key is None:
        return None
    return check_value(challenge, unlock_key)


# --- initialisation ---------------------------------------------------------------------


def on_get_aes_key(lock: LockModel, request: GetAesKey) -> AesKeyReply:
    key = lock.random(KEY_SIZE)
    if len(key) != KEY_SIZE:
        raise PresetError(f"rng returned {len(key)} bytes for a {KEY_SIZE}-byte key")
    lock.memory.pairing.aes_key = key
    return AesKeyReply(key)


def on_add_admin(lock: LockModel, request: AddAdmin) -> AddAdminReply:
    pairing = lock.memory.pairing
    pairing.admin_ps = request.admin_ps
    pairing.unlock_key = request.unlock_key
    pairing.admin_uid = 0
    lock.lock_flag_pos = 0
    lock.memory.keypad.admin_code = lock.new_admin_code()
    return AddAdminReply()


def on_initialization(lock: LockModel, request: Initialization) -> bytes:
    return b""


def on_operate_finished(lock: LockModel, request: OperateFinished) -> EmptyReply:
    return EmptyReply()


def on_reset(lock: LockModel, request: ResetLock) -> bytes:
    # The reply still goes out under the old key (chosen before); the shared table
    # then moves to setting mode (RESET event) and the default key is back (§3.1).
    logger.info("%s: factory reset", lock.tag)
    lock.wipe()
    lock.new_session()
    return b""


# --- login --------------------------------------------------------------------------------


def on_check_admin(lock: LockModel, request: CheckAdmin) -> CheckAdminReply:
    if request.admin_ps != lock.memory.pairing.admin_ps:
        raise Refused(LockError.ADMIN_CHECK_ERROR, "wrong admin password")
    if request.flag_pos < lock.lock_flag_pos:
        raise Refused(LockError.KEY_FLAG_INVALID, "flag position below the lock's")
    challenge = lock.session.challenge = lock.random_u32()
    lock.session.challenge_is_admin = True
    lock.session.uid = request.uid
    return CheckAdminReply(challenge)


def on_check_random(lock: LockModel, request: CheckRandom) -> EmptyReply:
    if request.check_value != expected_check(lock):
        raise Refused(LockError.ADMIN_CHECK_ERROR, "wrong check value (ps + unlockKey)")
    return EmptyReply()


def on_check_user_time(lock: LockModel, request: CheckUserTime) -> CheckUserTimeReply:
    """An e-key login. The window's dates are compared as the bytes ``(yy, MM, dd, HH, mm)``
    arrived, so a BCD window (TTLOCK-BLE, docs/protocol.md §9.2) works as on hardware."""
    if request.flag_pos < lock.lock_flag_pos:
        raise Refused(LockError.KEY_FLAG_INVALID, "e-key flag position below the lock's")
    now = date_key(lock.lock_date())
    if now < date_key(request.start):
        raise Refused(LockError.USER_TIME_INEFFECTIVE, f"e-key valid from {request.start}")
    if now >= date_key(request.end):
        raise Refused(LockError.USER_TIME_EXPIRED, f"e-key expired at {request.end}")
    challenge = lock.session.challenge = lock.random_u32()
    lock.session.challenge_is_admin = False
    lock.session.uid = request.uid
    return CheckUserTimeReply(challenge)


# --- operation ----------------------------------------------------------------------------


def _operate(lock: LockModel, request: Unlock | FunctionLock) -> int:
    """Checks shared by 0x47 and 0x58; returns the uid of the login."""
    expected = expected_check(lock)
    if expected is None:
        raise Refused(lock.preset.operate_refusal, "no challenge on this connection")
    if request.check_value != expected:
        raise Refused(LockError.NO_PERMISSION, "wrong check value (ps + unlockKey)")
    if lock.battery <= lock.preset.low_battery:
        raise Refused(LockError.NO_POWER, f"battery {lock.battery} %")
    return lock.session.uid


def on_unlock(lock: LockModel, request: Unlock) -> UnlockReply:
    uid = _operate(lock, request)
    admin = lock.operates_as_admin()
    if lock.frozen and not admin:
        raise Refused(LockError.FROZEN, "the lock is frozen")
    if lock.double_locked and not admin:
        lock.app_record(LogType.APP_UNLOCK_FAILED_LOCK_REVERSE)
        raise Refused(LockError.LOCK_REVERSE, "the door is double-locked")
    lock.open_bolt()
    record, record_id = lock.app_record(LogType.MOBILE_UNLOCK)
    return UnlockReply(lock.battery, uid, record_id, record.date)


def on_function_lock(lock: LockModel, request: FunctionLock) -> FunctionLockReply:
    uid = _operate(lock, request)
    lock.close_bolt()
    record, record_id = lock.app_record(LogType.BLE_LOCK)
    return FunctionLockReply(lock.battery, uid, record_id, record.date)


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        GetAesKey: on_get_aes_key,
        AddAdmin: on_add_admin,
        Initialization: on_initialization,
        OperateFinished: on_operate_finished,
        CheckAdmin: on_check_admin,
        CheckRandom: on_check_random,
        CheckUserTime: on_check_user_time,
        Unlock: on_unlock,
        FunctionLock: on_function_lock,
        ResetLock: on_reset,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
