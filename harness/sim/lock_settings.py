"""The virtual lock's settings: auto-lock, remote unlock, passcode display, audio, passage mode.

Each setting is queried (op 1) and set (op 2) with its own command (docs/protocol.md
§4.2): 0x36 AUTO_LOCK_MANAGE, 0x37 CONTROL_REMOTE_UNLOCK, 0x59 SHOW_PASSWORD,
0x62 AUDIO_MANAGE, 0x66 CONFIGURE_PASSAGE_MODE. A model without the setting's
feature bit never gets here: the pipeline answers 0x1B first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    AudioQuery,
    AudioReply,
    AudioSet,
    AudioSetVolume,
    AutoLockQuery,
    AutoLockReply,
    AutoLockSet,
    Feature,
    PassageModeAckReply,
    PassageModeAdd,
    PassageModeClear,
    PassageModeDelete,
    PassageModeEntry,
    PassageModeListReply,
    PassageModeQuery,
    PassageModeType,
    RemoteUnlockQuery,
    RemoteUnlockReply,
    RemoteUnlockSet,
    Request,
    ShowPasswordQuery,
    ShowPasswordReply,
    ShowPasswordSet,
)

from .lock_rules import MAX_REPLY_PLAINTEXT, Refused

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "PASSAGE_MODE_END", "LockSettings"]

PASSAGE_MODE_END: Final = 0xFF
"""``seq`` of the last passage-mode page (our choice, like 0xFFFF ends IC/FR lists)."""

_PASSAGE_ENTRY_SIZE: Final = 7
_PASSAGE_PAGE_HEADER: Final = 5


@dataclass(slots=True)
class LockSettings:
    """What the app configured (factory values until then)."""

    auto_lock_seconds: int = 0
    """0: auto-lock off; else the delay after an opening (the preset's ``auto_lock_range``)."""
    audio: bool = True
    volume: int = 3
    """Volume level, on models with SOUND_VOLUME_AND_LANGUAGE."""
    remote_unlock: bool = False
    show_password: bool = True
    passage_modes: list[PassageModeEntry] = field(default_factory=list)


# --- auto-lock, remote unlock, passcode display, audio ------------------------------------


def on_auto_lock_query(lock: LockModel, request: AutoLockQuery) -> AutoLockReply:
    low, high = lock.preset.auto_lock_range
    return AutoLockReply(lock.battery, 1, lock.memory.settings.auto_lock_seconds, low, high)


def on_auto_lock_set(lock: LockModel, request: AutoLockSet) -> AutoLockReply:
    low, high = lock.preset.auto_lock_range
    if request.seconds != 0 and not low <= request.seconds <= high:
        raise Refused(LockError.INVALID_PARAM, f"auto-lock must be 0 or {low}..{high} s")
    lock.memory.settings.auto_lock_seconds = request.seconds
    return AutoLockReply(lock.battery, 2)


def on_remote_unlock_query(lock: LockModel, request: RemoteUnlockQuery) -> RemoteUnlockReply:
    return RemoteUnlockReply(lock.battery, 1, lock.memory.settings.remote_unlock)


def on_remote_unlock_set(lock: LockModel, request: RemoteUnlockSet) -> RemoteUnlockReply:
    lock.memory.settings.remote_unlock = request.enabled
    return RemoteUnlockReply(lock.battery, 2, request.enabled)


def on_show_password_query(lock: LockModel, request: ShowPasswordQuery) -> ShowPasswordReply:
    return ShowPasswordReply(1, lock.memory.settings.show_password)


def on_show_password_set(lock: LockModel, request: ShowPasswordSet) -> ShowPasswordReply:
    lock.memory.settings.show_password = request.visible
    return ShowPasswordReply(2, request.visible)


def on_audio_query(lock: LockModel, request: AudioQuery) -> AudioReply:
    settings = lock.memory.settings
    volume = settings.volume if lock.preset.has(Feature.SOUND_VOLUME_AND_LANGUAGE) else None
    return AudioReply(lock.battery, 1, settings.audio, volume)


def on_audio_set(lock: LockModel, request: AudioSet) -> AudioReply:
    lock.memory.settings.audio = request.enabled
    return AudioReply(lock.battery, 2)


def on_audio_volume(lock: LockModel, request: AudioSetVolume) -> AudioReply:
    if not lock.preset.has(Feature.SOUND_VOLUME_AND_LANGUAGE):
        raise Refused(LockError.INVALID_COMMAND, "no volume control on this model")
    lock.memory.settings.audio = True
    lock.memory.settings.volume = request.level
    return AudioReply(lock.battery, 2)


# --- passage mode -------------------------------------------------------------------------


def _check_passage(entry: PassageModeEntry) -> None:
    if entry.mode_type == PassageModeType.WEEKLY:
        day_ok = 0 <= entry.week_or_day <= 7
    elif entry.mode_type == PassageModeType.MONTHLY:
        day_ok = 1 <= entry.week_or_day <= 31
    else:
        day_ok = False
    times_ok = (
        entry.start_hour <= 23
        and entry.end_hour <= 23
        and entry.start_minute <= 59
        and entry.end_minute <= 59
    )
    if not (day_ok and times_ok and entry.month <= 12):
        raise Refused(LockError.INVALID_PARAM, f"impossible passage-mode period {entry}")


def on_passage_query(lock: LockModel, request: PassageModeQuery) -> PassageModeListReply:
    periods = lock.memory.settings.passage_modes
    per_page = (MAX_REPLY_PLAINTEXT - _PASSAGE_PAGE_HEADER) // _PASSAGE_ENTRY_SIZE
    page = periods[request.seq : request.seq + per_page]
    end = request.seq + len(page)
    next_seq = end if end < len(periods) else PASSAGE_MODE_END
    return PassageModeListReply(lock.battery, next_seq, tuple(page))


def on_passage_add(lock: LockModel, request: PassageModeAdd) -> PassageModeAckReply:
    _check_passage(request.entry)
    periods = lock.memory.settings.passage_modes
    if request.entry not in periods:
        if len(periods) >= lock.preset.passage_mode_capacity:
            raise Refused(LockError.NO_FREE_MEMORY, "passage-mode memory full")
        periods.append(request.entry)
    return PassageModeAckReply(lock.battery, 2)


def on_passage_delete(lock: LockModel, request: PassageModeDelete) -> PassageModeAckReply:
    periods = lock.memory.settings.passage_modes
    if request.entry not in periods:
        raise Refused(LockError.RECORD_NOT_EXIST, "no such passage-mode period")
    periods.remove(request.entry)
    return PassageModeAckReply(lock.battery, 3)


def on_passage_clear(lock: LockModel, request: PassageModeClear) -> PassageModeAckReply:
    lock.memory.settings.passage_modes.clear()
    return PassageModeAckReply(lock.battery, 4)


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        AutoLockQuery: on_auto_lock_query,
        AutoLockSet: on_auto_lock_set,
        RemoteUnlockQuery: on_remote_unlock_query,
        RemoteUnlockSet: on_remote_unlock_set,
        ShowPasswordQuery: on_show_password_query,
        ShowPasswordSet: on_show_password_set,
        AudioQuery: on_audio_query,
        AudioSet: on_audio_set,
        AudioSetVolume: on_audio_volume,
        PassageModeQuery: on_passage_query,
        PassageModeAdd: on_passage_add,
        PassageModeDelete: on_passage_delete,
        PassageModeClear: on_passage_clear,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
