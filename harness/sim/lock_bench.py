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
    CyclicUserType,
    Feature,
    FrAddedReply,
    FrAddProgressReply,
    FrAddStatus,
    IcAddedReply,
    LogPush,
    LogRecord,
    LogType,
    Reply,
)

from .lock_cards import AddMode, cyclic_allows
from .lock_model import LockModel
from .lock_rules import PERMANENT, check_int
from .presets import PresetError

__all__ = ["enter_passcode", "present_card", "present_finger"]

Push = Callable[[Reply], None]
"""Queues an unsolicited reply on the current connection (nothing when nobody is connected)."""


def _opened(
    lock: LockModel, outcome: tuple[bool, tuple[LogRecord, int] | None], push: Push
) -> bool:
    opened, written = outcome
    if written is not None:
        _log_written(lock, *written, push)
    return opened


def _refused(lock: LockModel, record: LogRecord, push: Push) -> bool:
    _log_written(lock, record, lock.write_log(record), push)
    return False


def _log_written(lock: LockModel, record: LogRecord, record_id: int, push: Push) -> None:
    """The 15-byte "log written" push a lock sends while a central is connected (§10.3.6).

    Our decision: every opening attempt at the keypad, reader or sensor pushes its
    record — uid 0 (nobody logged in did it, like the captured push), the record's id
    and date; TTLOCK-BLE saw these on a DLock-XP (docs/protocol.md §4.1, §10.3.6).
    """
    push(
        Reply.success(LockCommand.SEARCH_STATUS, LogPush(record.battery, 0, record_id, record.date))
    )


def enter_passcode(lock: LockModel, passcode: str, push: Push) -> bool:
    """Someone types ``passcode`` on the keypad; True if the lock opened.

    Logged as KEYBOARD_PASSWORD_UNLOCK (4), ERROR_PASSWORD_UNLOCK (7) or,
    when double-locked, PASSCODE_UNLOCK_FAILED_LOCK_REVERSE (38); each record is
    pushed to a connected app. A count passcode (type 2) is used up by its opening.
    """
    if not lock.preset.has(Feature.PASSCODE):
        raise PresetError(f"preset {lock.preset.name!r} has no keypad")
    now = lock.lock_date()
    keypad = lock.memory.keypad
    stored = keypad.passcodes.get(passcode)
    valid = passcode == keypad.admin_code or (stored is not None and stored.works_at(lock.now))
    if not valid:
        record = LogRecord.with_passcode(LogType.ERROR_PASSWORD_UNLOCK, now, lock.battery, passcode)
        return _refused(lock, record, push)
    opened = _opened(
        lock,
        lock.physical_unlock(
            LogRecord.with_passcode(
                LogType.KEYBOARD_PASSWORD_UNLOCK, now, lock.battery, passcode, passcode
            ),
            LogRecord.with_passcode(
                LogType.PASSCODE_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, passcode, passcode
            ),
        ),
        push,
    )
    if opened and stored is not None and stored.one_time:
        del keypad.passcodes[passcode]
    return opened


def present_card(lock: LockModel, card: int, push: Push) -> bool:
    """An IC card is held to the reader; True if it was enrolled or opened the lock.

    In card add mode the card is stored and the second reply
    ``[battery][02][01][card]`` is pushed; otherwise it is an unlock attempt,
    logged IC_UNLOCK (17), IC_UNLOCK_FAILED (25) or IC_UNLOCK_FAILED_LOCK_REVERSE (39)
    and pushed to a connected app.
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
    if (
        validity is None
        or not validity.covers(now)
        or not cyclic_allows(lock, CyclicUserType.IC, card, lock.now)
    ):
        record = LogRecord.with_card(LogType.IC_UNLOCK_FAILED, now, lock.battery, card)
        return _refused(lock, record, push)
    return _opened(
        lock,
        lock.physical_unlock(
            LogRecord.with_card(LogType.IC_UNLOCK, now, lock.battery, card),
            LogRecord.with_card(LogType.IC_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, card),
        ),
        push,
    )


def present_finger(lock: LockModel, fingerprint: int | None, push: Push) -> bool:
    """A finger touches the sensor once; True if the touch finished an enrolment or opened
    the lock.

    In fingerprint add mode each touch pushes one reply, as a real sensor does
    (issue 13 deviation 7): progress ``[battery][02][03][touch][touches]`` until
    the preset's ``fingerprint_touches``-th, which stores the finger and pushes
    ``[battery][02][01][fp 6 B]``; the id is that touch's ``fingerprint`` or a random
    6-byte one. Otherwise ``fingerprint`` (required) tries to unlock, logged FR_UNLOCK
    (20), FR_UNLOCK_FAILED (22) or FR_UNLOCK_FAILED_LOCK_REVERSE (40) and pushed.
    """
    if not lock.preset.has(Feature.FINGER_PRINT):
        raise PresetError(f"preset {lock.preset.name!r} has no fingerprint sensor")
    now = lock.lock_date()
    fingerprints = lock.memory.enrolments.fingerprints
    session = lock.session
    if session.add_mode is AddMode.FINGERPRINT:
        total = lock.preset.fingerprint_touches
        session.touches += 1
        if session.touches < total:
            progress = FrAddProgressReply(
                lock.battery, FrAddStatus.PROGRESS, session.touches, total
            )
            push(Reply.success(LockCommand.FR_MANAGE, progress))
            return False
        session.add_mode = None
        new_id = fingerprint if fingerprint is not None else int.from_bytes(lock.random(6), "big")
        check_int("fingerprint", new_id, 0, (1 << 48) - 1)
        fingerprints[new_id] = PERMANENT
        lock.write_log(LogRecord(LogType.ADD_FR, now, lock.battery, new_id.to_bytes(6, "big")))
        push(Reply.success(LockCommand.FR_MANAGE, FrAddedReply(lock.battery, new_id)))
        return True
    if fingerprint is None:
        raise ValueError("present_finger() outside add mode needs the fingerprint id")
    tail = fingerprint.to_bytes(6, "big")
    validity = fingerprints.get(fingerprint)
    if (
        validity is None
        or not validity.covers(now)
        or not cyclic_allows(lock, CyclicUserType.FINGERPRINT, fingerprint, lock.now)
    ):
        return _refused(lock, LogRecord(LogType.FR_UNLOCK_FAILED, now, lock.battery, tail), push)
    return _opened(
        lock,
        lock.physical_unlock(
            LogRecord(LogType.FR_UNLOCK, now, lock.battery, tail),
            LogRecord(LogType.FR_UNLOCK_FAILED_LOCK_REVERSE, now, lock.battery, tail),
        ),
        push,
    )
