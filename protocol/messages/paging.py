"""How a lock pages its lists, declared once and used by both roles (docs/protocol.md §10.3.7).

Six commands return a list one page at a time: passcodes (0x07), IC cards (0x05 op 1),
fingerprints (0x06 op 6), the operate log (0x25), passage-mode periods (0x66 op 1)
and a Wi-Fi lock's power-saving windows (0x8F op 1). Each page reply carries a
*cursor* for the next request, and each list has its own way of saying "no more".
One :class:`ListPaging` per list holds all of it:

* the **app** reads a list with :meth:`~ListPaging.request` and
  :meth:`~ListPaging.follow` (the cursor to ask for next, or ``None`` at the end),
  taking every item of every page (:meth:`~ListPaging.items`), however many a page holds;
* the **lock** answers a request with :meth:`~ListPaging.answer` (or builds
  :meth:`~ListPaging.page` / :meth:`~ListPaging.end` itself).

What hardware does (§10.3.7), and so what :meth:`~ListPaging.answer` does: **one item
per reply**; the cursor is opaque (a real 0x07 reply carried ``0x00B4`` for a lock's
only passcode), so an app must send back what it got and never compute one. The end
markers:

==========  ===================================================================
0x07        a bare ``00 00`` (``totalLen`` 0); the vendor also stops at ``nextSeq``
            0xFFFF, and a real last item may come with ``nextSeq`` 0 (TTLOCK-BLE)
0x05, 0x06  ``nextSeq`` 0xFFFF with no record (captured ``55 01 ff ff`` / ``64 06 ff ff``)
0x25        ``totalLen`` 0, never an error: past the last record a lock answers an
            empty page (a "read all" loop that got an error would walk all 65536 cursors)
0x66, 0x8F  ``nextSeq`` 0xFF; the SDK does not parse the records of that reply, so
            a lock sends them before it
==========  ===================================================================

A reader also stops when a lock hands back a cursor it already asked for (0 after
the first page of 0x07 is one): a list that loops is over, not endless.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from ..commands import LockCommand
from ..errors import MessageError
from .lock import (
    END_OF_LIST,
    END_OF_SHORT_LIST,
    NEW_RECORDS,
    FrEntry,
    FrListReply,
    FrQuery,
    GetOperateLog,
    GetPasscodeList,
    IcEntry,
    IcListReply,
    IcQuery,
    LogRecord,
    OperateLogReply,
    PassageModeEntry,
    PassageModeListReply,
    PassageModeQuery,
    PasscodeListEntry,
    PasscodeListReply,
    ReplyData,
    Request,
)
from .wifi import WifiSleepListReply, WifiSleepQuery

__all__ = [
    "FINGERPRINT_PAGING",
    "IC_PAGING",
    "LIST_PAGINGS",
    "LOG_PAGING",
    "PASSAGE_MODE_PAGING",
    "PASSCODE_PAGING",
    "WIFI_SLEEP_PAGING",
    "ListPaging",
]

Q = TypeVar("Q", bound=Request)
P = TypeVar("P", bound=ReplyData)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListPaging(Generic[Q, P, T]):
    """The paging of one list command (see the module docstring).

    ``first`` is the cursor of the first request; ``cursor_max`` the largest value
    the cursor field holds; ``end_cursor`` the next-cursor value that means "no
    more" (``None`` where the end is an empty page instead).
    """

    name: str
    command: LockCommand
    reply_type: type[P]
    first: int
    cursor_max: int
    end_cursor: int | None
    _request: Callable[[int], Q]
    _items: Callable[[P], tuple[T, ...]]
    _next: Callable[[P], int | None]
    _is_end: Callable[[P], bool]
    _page: Callable[[int, tuple[T, ...], int], P]
    _end: Callable[[int], P]

    # --- the app's side ----------------------------------------------------------------

    def request(self, cursor: int | None = None) -> Q:
        """The request for the page at ``cursor`` (default: the first page)."""
        return self._request(self.first if cursor is None else cursor)

    def items(self, reply: P) -> tuple[T, ...]:
        """Every item of one page (hardware sends one; more are read just the same)."""
        return self._items(reply)

    def follow(self, reply: P, asked: Collection[int] = ()) -> int | None:
        """The cursor to ask for next, or ``None`` when ``reply`` ends the list.

        ``asked`` are the cursors requested so far: one handed back again ends the
        list too (a lock that loops).
        """
        if self._is_end(reply):
            return None
        cursor = self._next(reply)
        if cursor is None or cursor in asked:
            return None
        return cursor

    # --- the lock's side ---------------------------------------------------------------

    def cursor(self, request: Q) -> int:
        """The cursor a request asks for."""
        value: int = getattr(request, "seq")  # noqa: B009 - every list request names it seq
        return value

    def page(self, battery: int, items: tuple[T, ...], next_cursor: int) -> P:
        """A page carrying ``items`` and the cursor of what follows them."""
        if next_cursor == self.end_cursor or not 0 <= next_cursor <= self.cursor_max:
            raise MessageError(
                f"{self.name}: cursor {next_cursor} is the end marker or out of range",
                command=self.command,
            )
        return self._page(battery, items, next_cursor)

    def end(self, battery: int) -> P:
        """The reply that says the list is over."""
        return self._end(battery)

    def answer(
        self,
        cursor: int,
        positioned: Sequence[tuple[int, T]],
        battery: int,
        *,
        per_page: int = 1,
    ) -> P:
        """What a lock answers to a request at ``cursor``.

        ``positioned`` are the stored items in list order, each with its position
        (an index, a memory slot: anything increasing, below the end marker). The
        page holds the first ``per_page`` items at or after ``cursor``; its next
        cursor is the position of the item after them, or one past the last item's,
        whose request then gets :meth:`end`.
        """
        start = next((i for i, (pos, _) in enumerate(positioned) if pos >= cursor), None)
        if start is None:
            return self.end(battery)
        taken = positioned[start : start + per_page]
        rest = positioned[start + per_page :]
        next_cursor = rest[0][0] if rest else taken[-1][0] + 1
        return self.page(battery, tuple(item for _, item in taken), next_cursor)


def _passcode_page(
    battery: int, entries: tuple[PasscodeListEntry, ...], next_seq: int
) -> PasscodeListReply:
    # totalLen counts what follows it: nextSeq (2) and the items (the captured 0x0017, §10.3.7).
    total = 2 + sum(len(entry.encode()) for entry in entries)
    return PasscodeListReply(total, next_seq, entries)


def _log_page(battery: int, records: tuple[LogRecord, ...], seq: int) -> OperateLogReply:
    # Our reading, by analogy with 0x07's capture: totalLen counts seq and the records.
    total = 2 + sum(len(record.encode()) for record in records)
    return OperateLogReply(total, seq, records)


PASSCODE_PAGING: Final[ListPaging[GetPasscodeList, PasscodeListReply, PasscodeListEntry]] = (
    ListPaging(
        name="passcodes",
        command=LockCommand.PWD_LIST,
        reply_type=PasscodeListReply,
        first=0,
        cursor_max=0xFFFE,
        end_cursor=END_OF_LIST,
        _request=GetPasscodeList,
        _items=lambda reply: reply.entries,
        _next=lambda reply: reply.next_seq,
        _is_end=lambda reply: reply.total_len == 0 or reply.next_seq == END_OF_LIST,
        _page=_passcode_page,
        _end=lambda battery: PasscodeListReply(0),
    )
)
"""0x07 PWD_LIST: ends with a bare ``00 00`` (§10.3.7)."""

IC_PAGING: Final[ListPaging[IcQuery, IcListReply, IcEntry]] = ListPaging(
    name="IC cards",
    command=LockCommand.IC_MANAGE,
    reply_type=IcListReply,
    first=0,
    cursor_max=0xFFFE,
    end_cursor=END_OF_LIST,
    _request=IcQuery,
    _items=lambda reply: reply.cards,
    _next=lambda reply: reply.next_seq,
    _is_end=lambda reply: reply.next_seq == END_OF_LIST,
    _page=lambda battery, cards, next_seq: IcListReply(battery, next_seq, cards),
    _end=lambda battery: IcListReply(battery, END_OF_LIST),
)
"""0x05 op 1: ends with ``nextSeq`` 0xFFFF (§10.3.7)."""

FINGERPRINT_PAGING: Final[ListPaging[FrQuery, FrListReply, FrEntry]] = ListPaging(
    name="fingerprints",
    command=LockCommand.FR_MANAGE,
    reply_type=FrListReply,
    first=0,
    cursor_max=0xFFFE,
    end_cursor=END_OF_LIST,
    _request=FrQuery,
    _items=lambda reply: reply.fingerprints,
    _next=lambda reply: reply.next_seq,
    _is_end=lambda reply: reply.next_seq == END_OF_LIST,
    _page=lambda battery, prints, next_seq: FrListReply(battery, next_seq, prints),
    _end=lambda battery: FrListReply(battery, END_OF_LIST),
)
"""0x06 op 6: ends with ``nextSeq`` 0xFFFF (§10.3.7)."""

LOG_PAGING: Final[ListPaging[GetOperateLog, OperateLogReply, LogRecord]] = ListPaging(
    name="operate log",
    command=LockCommand.GET_OPERATE_LOG,
    reply_type=OperateLogReply,
    first=NEW_RECORDS,
    cursor_max=NEW_RECORDS - 1,
    end_cursor=None,
    _request=GetOperateLog,
    _items=lambda reply: reply.records,
    _next=lambda reply: reply.seq,
    _is_end=lambda reply: reply.total_len == 0 or reply.seq is None,
    _page=_log_page,
    _end=lambda battery: OperateLogReply(0),
)
"""0x25: the first request asks for the unread records (``FFFF``); ends with ``totalLen`` 0."""

PASSAGE_MODE_PAGING: Final[ListPaging[PassageModeQuery, PassageModeListReply, PassageModeEntry]] = (
    ListPaging(
        name="passage modes",
        command=LockCommand.CONFIGURE_PASSAGE_MODE,
        reply_type=PassageModeListReply,
        first=0,
        cursor_max=0xFE,
        end_cursor=END_OF_SHORT_LIST,
        _request=PassageModeQuery,
        _items=lambda reply: reply.entries,
        _next=lambda reply: reply.seq,
        _is_end=lambda reply: reply.seq == END_OF_SHORT_LIST,
        _page=lambda battery, entries, seq: PassageModeListReply(battery, seq, entries),
        _end=lambda battery: PassageModeListReply(battery, END_OF_SHORT_LIST),
    )
)
"""0x66 op 1: ends with ``nextSeq`` 0xFF (§10.3.7)."""

WIFI_SLEEP_PAGING: Final[ListPaging[WifiSleepQuery, WifiSleepListReply, PassageModeEntry]] = (
    ListPaging(
        name="Wi-Fi power-saving windows",
        command=LockCommand.WIFI_SLEEP_MODE,
        reply_type=WifiSleepListReply,
        first=0,
        cursor_max=0xFE,
        end_cursor=END_OF_SHORT_LIST,
        _request=WifiSleepQuery,
        _items=lambda reply: reply.windows,
        _next=lambda reply: reply.next_seq,
        _is_end=lambda reply: reply.next_seq == END_OF_SHORT_LIST,
        _page=lambda battery, windows, seq: WifiSleepListReply(battery, seq, windows),
        _end=lambda battery: WifiSleepListReply(battery, END_OF_SHORT_LIST),
    )
)
"""0x8F op 1: ends with ``nextSeq`` 0xFF (§10.1.8)."""

LIST_PAGINGS: Final[MappingProxyType[LockCommand, ListPaging[Any, Any, Any]]] = MappingProxyType(
    {
        paging.command: paging
        for paging in (
            PASSCODE_PAGING,
            IC_PAGING,
            FINGERPRINT_PAGING,
            LOG_PAGING,
            PASSAGE_MODE_PAGING,
            WIFI_SLEEP_PAGING,
        )
    }
)
"""Every paged list by opcode."""
