"""The lab's wall clock: what the harness sets a lock's time from and builds e-key windows with."""

from __future__ import annotations

from datetime import datetime

__all__ = ["SystemClock"]


class SystemClock:
    """Local wall-clock time to the second (a lock stores no fractions), a :class:`Clock`."""

    def now(self) -> datetime:
        return datetime.now().replace(microsecond=0)
