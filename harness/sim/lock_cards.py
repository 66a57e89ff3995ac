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
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    FINGERPRINT_PAGING,
    IC_PAGING,
    CyclicAdd,
    CyclicClear,
    CyclicLoop,
    CyclicRemove,
    CyclicReply,
    CyclicUserType,
    FrAckReply,
    FrAdd,
    FrAddedReply,
    FrAddProgressReply,
    FrAddStatus,
    FrClear,
    FrDelete,
    FrEnterAddMode,
    FrEntry,
    FrListReply,
    FrModify,
    FrQuery,
    FrTemplateChunk,
    FrTemplateChunkReply,
    FrTemplateHeader,
    FrTemplateReadyReply,
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
    Reply,
    Request,
    cyclic_user,
    template_checksum,
)

from .lock_rules import FOREVER, Refused, Validity, window

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "AddMode", "Enrolments"]


class AddMode(Enum):
    """What the lock is enrolling on this connection (0x05/0x06 op 2)."""

    CARD = "card"
    FINGERPRINT = "fingerprint"


@dataclass(slots=True)
class Enrolments:
    """The IC cards and fingerprints the lock accepts, by number, with their windows.

    ``cyclic`` holds the weekly windows 0x70 gave a user (§10.3.5), by
    ``(user type, user id bytes)``: a user with windows works only inside one.
    """

    cards: dict[int, Validity] = field(default_factory=dict)
    fingerprints: dict[int, Validity] = field(default_factory=dict)
    cyclic: dict[tuple[int, bytes], list[CyclicAdd]] = field(default_factory=dict)


TEMPLATE_PACKET: Final = 28
"""Template bytes the lock asks for per 0x06 op 7 chunk: the SDK's default packet length
(§10.2.2); the value a real lock asks for is not known (our decision)."""


@dataclass(slots=True, repr=False)
class TemplateUpload:
    """A fingerprint template arriving in chunks on this connection (§10.2.2)."""

    header: FrTemplateHeader
    received: bytearray = field(default_factory=bytearray)
    next_seq: int = 0

    def __repr__(self) -> str:
        return f"TemplateUpload({len(self.received)}/{self.header.length} bytes)"


def cyclic_allows(lock: LockModel, user_type: int, user: int, now: datetime) -> bool:
    """Whether the 0x70 windows of a card or fingerprint let it work at ``now`` (none: yes)."""
    windows = lock.memory.enrolments.cyclic.get((user_type, cyclic_user(user_type, user)))
    if not windows:
        return True
    minute = now.hour * 60 + now.minute
    for span in windows:
        start, end = span.minutes()
        if not start <= minute < end:
            continue
        if span.loop == CyclicLoop.WEEKLY and now.isoweekday() == span.weekday:
            return True
        if span.loop == CyclicLoop.DAILY:
            return True
        if span.loop == CyclicLoop.MONTH_DAY and now.day == span.day:
            return True
    return False


# --- IC cards ---------------------------------------------------------------------------


def on_ic_query(lock: LockModel, request: IcQuery) -> IcListReply:
    """One card per reply, the cursor its position (index + 1 next, as TTLOCK-BLE saw);
    after the last, ``nextSeq`` 0xFFFF with no card (docs/protocol.md §10.3.7)."""
    cards = lock.memory.enrolments.cards.items()
    positioned = [
        (n, IcEntry(card, v.start, v.end or FOREVER)) for n, (card, v) in enumerate(cards)
    ]
    return IC_PAGING.answer(
        request.seq, positioned, lock.battery, per_page=lock.preset.items_per_page
    )


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
    """One fingerprint per reply, like :func:`on_ic_query` (docs/protocol.md §10.3.7)."""
    prints = lock.memory.enrolments.fingerprints.items()
    positioned = [(n, FrEntry(fp, v.start, v.end or FOREVER)) for n, (fp, v) in enumerate(prints)]
    return FINGERPRINT_PAGING.answer(
        request.seq, positioned, lock.battery, per_page=lock.preset.items_per_page
    )


def on_fr_enter_add(lock: LockModel, request: FrEnterAddMode) -> FrAddProgressReply:
    if len(lock.memory.enrolments.fingerprints) >= lock.preset.fingerprint_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "fingerprint memory full")
    lock.session.add_mode = AddMode.FINGERPRINT
    lock.session.touches = 0
    # The longer status-2 form, with the number of touches the enrolment takes (§10.2.2).
    total = lock.preset.fingerprint_touches
    return FrAddProgressReply(lock.battery, FrAddStatus.ENTERED_ADD_MODE, total=total)


def on_fr_add(lock: LockModel, request: FrAdd) -> FrAddedReply:
    """0x06 op 2 with a known id: re-add a fingerprint (recovery, §10.2.2)."""
    prints = lock.memory.enrolments.fingerprints
    if request.fingerprint not in prints and len(prints) >= lock.preset.fingerprint_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "fingerprint memory full")
    prints[request.fingerprint] = window(request.start, request.end)
    tail = request.fingerprint.to_bytes(6, "big")
    lock.write_log(LogRecord(LogType.ADD_FR, lock.lock_date(), lock.battery, tail))
    return FrAddedReply(lock.battery, request.fingerprint)


def on_fr_template_header(lock: LockModel, request: FrTemplateHeader) -> FrTemplateReadyReply:
    """A template is announced: the lock asks for it in :data:`TEMPLATE_PACKET`-byte chunks."""
    if len(lock.memory.enrolments.fingerprints) >= lock.preset.fingerprint_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "fingerprint memory full")
    window(request.start, request.end)
    lock.session.template = TemplateUpload(request)
    return FrTemplateReadyReply(lock.battery, 0, TEMPLATE_PACKET)


def on_fr_template_chunk(lock: LockModel, request: FrTemplateChunk) -> FrTemplateChunkReply:
    """One chunk in order; after the last one the fingerprint is stored and the ordinary
    ADD success follows the acknowledgement as a second reply (§10.2.2 step 6, *inf.*).

    Our decisions: a chunk without a header, out of order, too long, or a template whose
    length or checksum does not match its header is 0x20 INVALID_PARAM.
    """
    upload = lock.session.template
    if upload is None:
        raise Refused(LockError.INVALID_PARAM, "no template announced on this connection")
    if request.seq != upload.next_seq or len(request.data) > TEMPLATE_PACKET:
        lock.session.template = None
        raise Refused(LockError.INVALID_PARAM, f"chunk {request.seq}, expected {upload.next_seq}")
    upload.received += request.data
    upload.next_seq += 1
    header = upload.header
    if len(upload.received) < header.length:
        return FrTemplateChunkReply(lock.battery, request.seq)
    lock.session.template = None
    template = bytes(upload.received)
    if len(template) != header.length or template_checksum(template) != header.checksum:
        raise Refused(LockError.INVALID_PARAM, "template length or checksum differs from header")
    new_id = int.from_bytes(lock.random(6), "big")
    lock.memory.enrolments.fingerprints[new_id] = window(header.start, header.end)
    tail = new_id.to_bytes(6, "big")
    lock.write_log(LogRecord(LogType.ADD_FR, lock.lock_date(), lock.battery, tail))
    lock.push(Reply.success(LockCommand.FR_MANAGE, FrAddedReply(lock.battery, new_id)))
    return FrTemplateChunkReply(lock.battery, request.seq)


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


# --- cyclic windows (0x70, §10.3.5) ---------------------------------------------------------


def _known_user(lock: LockModel, user_type: int, user: bytes) -> None:
    number = int.from_bytes(user, "big")
    enrolled = lock.memory.enrolments
    if user_type == CyclicUserType.IC:
        if number not in enrolled.cards:
            raise Refused(LockError.IC_CARD_NOT_EXIST)
    elif user_type == CyclicUserType.FINGERPRINT:
        if number not in enrolled.fingerprints:
            raise Refused(LockError.FINGER_PRINT_NOT_EXIST)
    else:  # key fobs and faces are not modelled
        raise Refused(LockError.INVALID_PARAM, f"user type {user_type} is not modelled")


def on_cyclic_add(lock: LockModel, request: CyclicAdd) -> CyclicReply:
    _known_user(lock, request.user_type, request.user)
    start, end = request.minutes()
    if start >= end or (request.loop == CyclicLoop.WEEKLY and not 1 <= request.weekday <= 7):
        raise Refused(LockError.INVALID_PARAM, "impossible cyclic window")
    windows = lock.memory.enrolments.cyclic.setdefault((request.user_type, request.user), [])
    as_add = CyclicAdd(*[getattr(request, name) for name in _WINDOW_FIELDS])
    if as_add not in windows:
        windows.append(as_add)
    return CyclicReply(lock.battery, 2)


def on_cyclic_remove(lock: LockModel, request: CyclicRemove) -> CyclicReply:
    windows = lock.memory.enrolments.cyclic.get((request.user_type, request.user), [])
    as_add = CyclicAdd(*[getattr(request, name) for name in _WINDOW_FIELDS])
    if as_add not in windows:
        raise Refused(LockError.RECORD_NOT_EXIST, "no such cyclic window")
    windows.remove(as_add)
    return CyclicReply(lock.battery, 3)


def on_cyclic_clear(lock: LockModel, request: CyclicClear) -> CyclicReply:
    """Clear one user's windows, or every user's of the type for an empty id (§10.3.5)."""
    cyclic = lock.memory.enrolments.cyclic
    for key in [k for k in cyclic if k[0] == request.user_type]:
        if not request.user or key[1] == request.user:
            del cyclic[key]
    return CyclicReply(lock.battery, 4)


_WINDOW_FIELDS: Final = (
    "user_type",
    "user",
    "loop",
    "weekday",
    "day",
    "start_hour",
    "start_minute",
    "end_hour",
    "end_minute",
)


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
        FrAdd: on_fr_add,
        FrTemplateHeader: on_fr_template_header,
        FrTemplateChunk: on_fr_template_chunk,
        FrDelete: on_fr_delete,
        FrClear: on_fr_clear,
        FrModify: on_fr_modify,
        CyclicAdd: on_cyclic_add,
        CyclicRemove: on_cyclic_remove,
        CyclicClear: on_cyclic_clear,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
