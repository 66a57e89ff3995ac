"""IC cards and fingerprints on the virtual lock: 0x05 IC_MANAGE and 0x06 FR_MANAGE.

Both commands query (op 1, paged), enter add mode (op 2), delete (op 3), clear
(op 4) and modify the validity (op 5) of what the lock stores (docs/protocol.md §4.2).
An IC card can also be added by number (0x05 op 2 with the card). In add mode
the enrolment finishes at the reader or the sensor — a bench action
(:mod:`ttlock_hil.harness.sim.lock_bench`) — and its second reply is pushed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    END_OF_LIST,
    FrAckReply,
    FrAddProgressReply,
    FrAddStatus,
    FrClear,
    FrDelete,
    FrEnterAddMode,
    FrEntry,
    FrListReply,
    FrModify,
    FrQuery,
    IcAckReply,
    IcAdd,
    IcAddedReply,
    IcAddProgressReply,
    IcClear,
    IcDelete,
    IcEnterAddMode,
    IcEntry,
    IcListReply,
    IcModify,
    IcQuery,
    LogRecord,
    LogType,
    Request,
)

from .lock_rules import FOREVER, MAX_REPLY_PLAINTEXT, Refused, Validity, window

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "AddMode", "Enrolments"]

_LIST_PAGE_HEADER: Final = 6
_IC_ENTRY_SIZE: Final = 18
_FR_ENTRY_SIZE: Final = 16


class AddMode(Enum):
    """What the lock is enrolling on this connection (0x05/0x06 op 2)."""

    CARD = "card"
    FINGERPRINT = "fingerprint"


@dataclass(slots=True)
class Enrolments:
    """The IC cards and fingerprints the lock accepts, by number, with their windows."""

    cards: dict[int, Validity] = field(default_factory=dict)
    fingerprints: dict[int, Validity] = field(default_factory=dict)


def _page_end(index: int, total: int) -> int:
    return index if index < total else END_OF_LIST


# --- IC cards ---------------------------------------------------------------------------


def on_ic_query(lock: LockModel, request: IcQuery) -> IcListReply:
    items = list(lock.memory.enrolments.cards.items())
    per_page = (MAX_REPLY_PLAINTEXT - _LIST_PAGE_HEADER) // _IC_ENTRY_SIZE
    page = items[request.seq : request.seq + per_page]
    entries = tuple(IcEntry(card, v.start, v.end or FOREVER) for card, v in page)
    end = request.seq + len(page)
    return IcListReply(lock.battery, _page_end(end, len(items)), entries)


def on_ic_enter_add(lock: LockModel, request: IcEnterAddMode) -> IcAddProgressReply:
    if len(lock.memory.enrolments.cards) >= lock.preset.card_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "card memory full")
    lock.session.add_mode = AddMode.CARD
    return IcAddProgressReply(lock.battery)


def on_ic_add(lock: LockModel, request: IcAdd) -> IcAddedReply:
    cards = lock.memory.enrolments.cards
    if request.card not in cards and len(cards) >= lock.preset.card_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "card memory full")
    cards[request.card] = window(request.start, request.end)
    lock.write_log(
        LogRecord.with_card(LogType.ADD_IC, lock.lock_date(), lock.battery, request.card)
    )
    return IcAddedReply(lock.battery, request.card)


def on_ic_delete(lock: LockModel, request: IcDelete) -> IcAckReply:
    if lock.memory.enrolments.cards.pop(request.card, None) is None:
        raise Refused(LockError.IC_CARD_NOT_EXIST)
    lock.write_log(
        LogRecord.with_card(LogType.DELETE_IC, lock.lock_date(), lock.battery, request.card)
    )
    return IcAckReply(lock.battery, 3)


def on_ic_clear(lock: LockModel, request: IcClear) -> IcAckReply:
    lock.memory.enrolments.cards.clear()
    lock.write_log(LogRecord(LogType.CLEAR_IC, lock.lock_date(), lock.battery))
    return IcAckReply(lock.battery, 4)


def on_ic_modify(lock: LockModel, request: IcModify) -> IcAckReply:
    cards = lock.memory.enrolments.cards
    if request.card not in cards:
        raise Refused(LockError.IC_CARD_NOT_EXIST)
    cards[request.card] = window(request.start, request.end)
    return IcAckReply(lock.battery, 5)


# --- fingerprints -----------------------------------------------------------------------


def on_fr_query(lock: LockModel, request: FrQuery) -> FrListReply:
    items = list(lock.memory.enrolments.fingerprints.items())
    per_page = (MAX_REPLY_PLAINTEXT - _LIST_PAGE_HEADER) // _FR_ENTRY_SIZE
    page = items[request.seq : request.seq + per_page]
    entries = tuple(FrEntry(fp, v.start, v.end or FOREVER) for fp, v in page)
    end = request.seq + len(page)
    return FrListReply(lock.battery, _page_end(end, len(items)), entries)


def on_fr_enter_add(lock: LockModel, request: FrEnterAddMode) -> FrAddProgressReply:
    if len(lock.memory.enrolments.fingerprints) >= lock.preset.fingerprint_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "fingerprint memory full")
    lock.session.add_mode = AddMode.FINGERPRINT
    return FrAddProgressReply(lock.battery, FrAddStatus.ENTERED_ADD_MODE)


def on_fr_delete(lock: LockModel, request: FrDelete) -> FrAckReply:
    if lock.memory.enrolments.fingerprints.pop(request.fingerprint, None) is None:
        raise Refused(LockError.FINGER_PRINT_NOT_EXIST)
    tail = request.fingerprint.to_bytes(6, "big")
    lock.write_log(LogRecord(LogType.DELETE_FR, lock.lock_date(), lock.battery, tail))
    return FrAckReply(lock.battery, 3)


def on_fr_clear(lock: LockModel, request: FrClear) -> FrAckReply:
    lock.memory.enrolments.fingerprints.clear()
    lock.write_log(LogRecord(LogType.CLEAR_FR, lock.lock_date(), lock.battery))
    return FrAckReply(lock.battery, 4)


def on_fr_modify(lock: LockModel, request: FrModify) -> FrAckReply:
    fingerprints = lock.memory.enrolments.fingerprints
    if request.fingerprint not in fingerprints:
        raise Refused(LockError.FINGER_PRINT_NOT_EXIST)
    fingerprints[request.fingerprint] = window(request.start, request.end)
    return FrAckReply(lock.battery, 5)


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        IcQuery: on_ic_query,
        IcEnterAddMode: on_ic_enter_add,
        IcAdd: on_ic_add,
        IcDelete: on_ic_delete,
        IcClear: on_ic_clear,
        IcModify: on_ic_modify,
        FrQuery: on_fr_query,
        FrEnterAddMode: on_fr_enter_add,
        FrDelete: on_fr_delete,
        FrClear: on_fr_clear,
        FrModify: on_fr_modify,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
