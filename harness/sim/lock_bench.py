"""Bench actions on the virtual lock: what a person at the door does.

Someone types a passcode, holds an IC card to the reader or a finger to the
sensor. Each is an opening attempt, logged like a real lock logs it
(record types: docs/protocol.md §4.5), or — while an app has the lock in add mode
on the current connection — the end of an enrolment, whose second reply the
lock pushes unsolicited. The physical *conditions* (battery, frozen…) are
bench settings of :class:`~ttlock_hil.harness.sim.lock_model.LockModel`, not actions.
"""

from __future__ import annotations

from collections.abc import Callable

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.messages import (
    Feature,
    FrAddedReply,
    FrAddProgressReply,
    FrAddStatus,
    IcAddedReply,
    LogRecord,
    LogType,
    Reply,
)

from .lock_cards import AddMode
from .lock_model import LockModel
from .lock_rules import PERMANENT, check_int
from .presets import PresetError

__all__ = ["enter_passcode", "present_card", "present_finger"]

Push = Callable[[Reply], None]
"""Queues an unsolicited reply on the current connection."""


def enter_passcode(lock: LockModel, passcode: str) -> bool:
    """Someone types ``passcode`` on the keypad; True if the lock opened.

    Logged as KEYBOARD_PASSWORD_UNLOCK (4), ERROR_PASSWORD_UNLOCK (7) or,
    when double-locked, PASSCODE_UNLOCK_FAILED_LOCK_REVERSE (38).
    """
    if not lock.preset.has(Feature.PASSCODE):
        raise PresetError(f"preset {lock.preset.name!r} has no keypad")
    now = lock.lock_date()
    keypad = lock.memory.keypad
    stored = keypad.passcodes.get(passcode)
    valid = passcode == keypad.admin_code or (stored is not None and stored.validity.covers(now))
    if not valid:
        lock.write_log(
            LogRecord.with_passcode(LogType.ERROR_PASSWORD_UNLOCK, now, lock.battery, passcode)
        )
        return False
    return lock.physical_unlock(
        LogRecord.with_passcode(
            LogType.KEYBOARD_PASSWORD_UNLOCK, now, lock.battery, passcode, passcode
        ),
        LogRecord.with_passcode(
            LogType.PASSCODE_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, passcode, passcode
        ),
    )


def present_card(lock: LockModel, card: int, push: Push) -> bool:
    """An IC card is held to the reader; True if it was enrolled or opened the lock.

    In card add mode the card is stored and the second reply
    ``[battery][02][01][card]`` is pushed; otherwise it is an unlock attempt,
    logged IC_UNLOCK (17), IC_UNLOCK_FAILED (25) or IC_UNLOCK_FAILED_LOCK_REVERSE (39).
    """
    if not lock.preset.has(Feature.IC):
        raise PresetError(f"preset {lock.preset.name!r} has no IC card reader")
    now = lock.lock_date()
    cards = lock.memory.enrolments.cards
    if lock.session.add_mode is AddMode.CARD:
        lock.session.add_mode = None
        cards[card] = PERMANENT
        lock.write_log(LogRecord.with_card(LogType.ADD_IC, now, lock.battery, card))
        push(Reply.success(LockCommand.IC_MANAGE, IcAddedReply(lock.battery, card)))
        return True
    validity = cards.get(card)
    if validity is None or not validity.covers(now):
        lock.write_log(LogRecord.with_card(LogType.IC_UNLOCK_FAILED, now, lock.battery, card))
        return False
    return lock.physical_unlock(
        LogRecord.with_card(LogType.IC_UNLOCK, now, lock.battery, card),
        LogRecord.with_card(LogType.IC_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, card),
    )


def present_finger(lock: LockModel, fingerprint: int | None, push: Push) -> bool:
    """A finger touches the sensor; True if it was enrolled or opened the lock.

    In fingerprint add mode the whole enrolment happens: the preset's
    ``fingerprint_touches - 1`` progress replies (status 3) then
    ``[battery][02][01][fp 6 B]`` are pushed; the id is ``fingerprint`` or a
    random 6-byte one. Otherwise ``fingerprint`` (required) tries to unlock,
    logged FR_UNLOCK (20), FR_UNLOCK_FAILED (22) or FR_UNLOCK_FAILED_LOCK_REVERSE (40).
    """
    if not lock.preset.has(Feature.FINGER_PRINT):
        raise PresetError(f"preset {lock.preset.name!r} has no fingerprint sensor")
    now = lock.lock_date()
    fingerprints = lock.memory.enrolments.fingerprints
    if lock.session.add_mode is AddMode.FINGERPRINT:
        lock.session.add_mode = None
        new_id = fingerprint if fingerprint is not None else int.from_bytes(lock.random(6), "big")
        check_int("fingerprint", new_id, 0, (1 << 48) - 1)
        for _ in range(lock.preset.fingerprint_touches - 1):
            progress = FrAddProgressReply(lock.battery, FrAddStatus.PROGRESS)
            push(Reply.success(LockCommand.FR_MANAGE, progress))
        fingerprints[new_id] = PERMANENT
        lock.write_log(LogRecord(LogType.ADD_FR, now, lock.battery, new_id.to_bytes(6, "big")))
        push(Reply.success(LockCommand.FR_MANAGE, FrAddedReply(lock.battery, new_id)))
        return True
    if fingerprint is None:
        raise ValueError("present_finger() outside add mode needs the fingerprint id")
    tail = fingerprint.to_bytes(6, "big")
    validity = fingerprints.get(fingerprint)
    if validity is None or not validity.covers(now):
        lock.write_log(LogRecord(LogType.FR_UNLOCK_FAILED, now, lock.battery, tail))
        return False
    return lock.physical_unlock(
        LogRecord(LogType.FR_UNLOCK, now, lock.battery, tail),
        LogRecord(LogType.FR_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, tail),
    )
