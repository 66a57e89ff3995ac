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

from ttlock_hil.protocol.messages import (
    LOG_PAGING,
    NEW_RECORDS,
    GetOperateLog,
    LogRecord,
    OperateLogReply,
    Request,
)

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

    def write(self, record: LogRecord) -> int:
        """Append ``record``; beyond :data:`LOG_CAPACITY` the oldest one goes. Its record id."""
        record_id = self.next_record_id
        self.records.append(record)
        self.next_record_id += 1
        if len(self.records) > LOG_CAPACITY:
            del self.records[0]
            self.cursor = max(0, self.cursor - 1)
        return record_id


def on_operate_log(lock: LockModel, request: GetOperateLog) -> OperateLogReply:
    """One record per reply, as hardware sends them (docs/protocol.md §10.3.7).

    The cursor is the record's index in the log; ``seq = NEW_RECORDS`` starts at the
    first record no app has read. Each reply's ``seq`` is the cursor of the next
    record; past the last one the answer is an empty page (``totalLen`` 0), never an
    error. Reading moves the lock's "read" cursor past what was sent.
    """
    log = lock.memory.log
    cursor = log.cursor if request.seq == NEW_RECORDS else request.seq
    positioned = list(enumerate(log.records))
    reply = LOG_PAGING.answer(cursor, positioned, lock.battery, per_page=lock.preset.items_per_page)
    if reply.records:
        log.cursor = max(log.cursor, cursor + len(reply.records))
    return reply


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {GetOperateLog: on_operate_log}
)
"""Request type → handler, for the pipeline's dispatch."""
