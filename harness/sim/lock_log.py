"""The virtual lock's operate log: what it records, and 0x25 GET_OPERATE_LOG paging through it.

Every opening, refusal and change the lock makes is a
:class:`~ttlock_hil.protocol.messages.LogRecord` (record types: docs/protocol.md §4.5).
The log keeps the newest :data:`LOG_CAPACITY`; a cursor marks what an app has
read, so ``seq = NEW_RECORDS`` asks for the unread ones and the advert's
"has events" bit (§6) says whether there are any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    END_OF_LIST,
    NEW_RECORDS,
    GetOperateLog,
    LogRecord,
    OperateLogReply,
    Request,
)

from .lock_rules import Refused, fill_page

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "LOG_CAPACITY", "OperateLog"]

LOG_CAPACITY: Final = 1000
"""Operate-log records kept; the oldest are dropped beyond it (invented limit)."""


@dataclass(slots=True)
class OperateLog:
    """The records, oldest first, and how far an app has read them."""

    records: list[LogRecord] = field(default_factory=list)
    cursor: int = 0
    """Index of the first record no app has read yet (``seq = NEW_RECORDS`` starts here)."""
    next_record_id: int = 1
    """The id the next record gets (an unlock reply tells the app its record's id)."""

    @property
    def has_unread(self) -> bool:
        return self.cursor < len(self.records)

    def write(self, record: LogRecord) -> None:
        """Append ``record``; beyond :data:`LOG_CAPACITY` the oldest one goes."""
        self.records.append(record)
        self.next_record_id += 1
        if len(self.records) > LOG_CAPACITY:
            del self.records[0]
            self.cursor = max(0, self.cursor - 1)


def on_operate_log(lock: LockModel, request: GetOperateLog) -> OperateLogReply:
    """Page through the log: ``seq`` = record index, NEW_RECORDS = unread ones.

    Our reading of the layout (§4.2 gives only the shape): ``total_len`` is the
    byte length of the records in this reply (0 = none), ``seq`` the index to
    ask for next, 0xFFFF once the last record was sent.
    """
    log = lock.memory.log
    start = log.cursor if request.seq == NEW_RECORDS else request.seq
    if request.seq != NEW_RECORDS and start >= len(log.records):
        raise Refused(LockError.RECORD_NOT_EXIST, f"no record {start}")
    if start >= len(log.records):
        return OperateLogReply(0)
    page = fill_page(log.records, start, lambda record: len(record.encode()))
    index = start + len(page)
    log.cursor = max(log.cursor, index)
    total = sum(len(record.encode()) for record in page)
    next_seq = index if index < len(log.records) else END_OF_LIST
    return OperateLogReply(total, next_seq, tuple(page))


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {GetOperateLog: on_operate_log}
)
"""Request type → handler, for the pipeline's dispatch."""
