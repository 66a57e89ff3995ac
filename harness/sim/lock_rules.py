"""The rules every feature of the virtual lock shares.

* How a handler refuses a request: it raises :class:`Refused` with the lock's
  error byte (:class:`ttlock_hil.protocol.errormap.LockError`, docs/protocol.md §5.1);
  the pipeline turns it into the failure reply.
* When a stored credential (passcode, card, fingerprint) works: its
  :class:`Validity` window.

Lists are paged by the protocol's own declaration
(:mod:`ttlock_hil.protocol.messages.paging`, one item per reply as hardware does).

The feature modules (``lock_admin``, ``lock_info``, ``lock_passcodes``,
``lock_cards``, ``lock_log``, ``lock_settings``) build on these; nothing here
knows a feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeVar

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import LockDate

__all__ = [
    "FOREVER",
    "PERMANENT",
    "Refused",
    "Validity",
    "check_int",
    "window",
]

T = TypeVar("T")


class Refused(Exception):
    """A handler refuses the request with a lock error byte (the pipeline answers it)."""

    def __init__(self, error: LockError | int, reason: str = "") -> None:
        super().__init__(reason or f"error 0x{error:02x}")
        self.error = int(error)


@dataclass(frozen=True, slots=True)
class Validity:
    """When a credential (passcode, card, fingerprint) works: ``start <= now < end``."""

    start: LockDate
    end: LockDate | None = None

    def covers(self, now: LockDate) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


FOREVER: Final = LockDate(2099, 12, 31, 23, 59)
"""The end a list reports for a credential without one."""
PERMANENT: Final = Validity(LockDate(2000, 1, 1), FOREVER)
"""The window a card or fingerprint gets when it is enrolled on the lock itself."""


def window(start: LockDate, end: LockDate | None) -> Validity:
    """The validity a request asks for; 0x20 INVALID_PARAM when it ends before it starts."""
    if end is not None and end <= start:
        raise Refused(LockError.INVALID_PARAM, "validity ends before it starts")
    return Validity(start, end)


def check_int(name: str, value: int, low: int, high: int, *, secret: bool = False) -> None:
    """ValueError unless ``value`` is an int (not a bool) in ``low..high`` (secrets not shown)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = "(value not shown: it is a secret)" if secret else f"got {value!r}"
        raise ValueError(f"{name} must be an int in {low}..{high}, {shown}")
