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
    PASSAGE_MODE_PAGING,
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
    SwitchItem,
    SwitchQuery,
    SwitchReply,
    SwitchSet,
)

from .lock_rules import Refused

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "LockSettings"]


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
    switches: int = 0
    """0x68 item values (:class:`SwitchItem` bits). Our decision: every switch off at the
    factory — for 0x80 that means a Wi-Fi lock starts power saving (§10.1.9)."""


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
    """Sound on at a volume level. A model without volume control (no feature bit 43)
    answers SUCCESS and changes nothing, as two physical locks did (issue 13 deviation 5)."""
    if lock.preset.has(Feature.SOUND_VOLUME_AND_LANGUAGE):
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
    """One period per reply; the reply that ends the list (``nextSeq`` 0xFF) carries none,
    since the SDK does not read its records (docs/protocol.md §10.3.7)."""
    positioned = list(enumerate(lock.memory.settings.passage_modes))
    return PASSAGE_MODE_PAGING.answer(
        request.seq, positioned, lock.battery, per_page=lock.preset.items_per_page
    )


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


# --- switches (0x68, §10.1.9) -----------------------------------------------------------

_SWITCH_FEATURES: Final = (
    (SwitchItem.TAMPER_ALERT, Feature.TAMPER_ALERT),
    (SwitchItem.RESET_BUTTON, Feature.RESET_BUTTON),
    (SwitchItem.PRIVACY_LOCK, Feature.PRIVACY_LOCK),
    (SwitchItem.UNLOCK_DIRECTION, Feature.UNLOCK_DIRECTION),
    (SwitchItem.WIFI_LONG_CONNECTION, Feature.WIFI_LOCK),
)
"""Which feature bit gives a lock which switch item (our reading of the names, §10.1.9)."""


def switch_items(lock: LockModel) -> int:
    """The 0x68 items this model has (0: it answers 0x68 with 0x1B)."""
    return sum(item for item, feature in _SWITCH_FEATURES if lock.preset.has(feature))


def on_switch_query(lock: LockModel, request: SwitchQuery) -> SwitchReply:
    items = switch_items(lock)
    if not items:
        raise Refused(LockError.INVALID_COMMAND, "no switch items on this model")
    return SwitchReply(lock.battery, 1, items, lock.memory.settings.switches & items)


def on_switch_set(lock: LockModel, request: SwitchSet) -> SwitchReply:
    """Set the values of the items named; items the model lacks are 0x20 (our decision)."""
    items = switch_items(lock)
    if not items:
        raise Refused(LockError.INVALID_COMMAND, "no switch items on this model")
    if request.items & ~items:
        raise Refused(LockError.INVALID_PARAM, f"switch items {request.items:#x} not all here")
    settings = lock.memory.settings
    settings.switches = (settings.switches & ~request.items) | (request.values & request.items)
    return SwitchReply(lock.battery, 2)


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
        SwitchQuery: on_switch_query,
        SwitchSet: on_switch_set,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
