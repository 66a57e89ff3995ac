"""What an app holds for an initialised lock ("lockData", docs/protocol.md §4.3), and the
one marker that stands in for a secret wherever one would be shown.

Both roles use :class:`LockData`: the simulator hands it out for a lock it paired, the
harness stores it (with validation and files: ``ttlock_hil.harness.credentials``). Its
``repr`` never shows the AES key, the admin password or the unlock key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .frame import V3_HEADER, LockHeader

__all__ = ["REDACTED", "LockData"]

REDACTED: Final = "«redacted»"
"""Shown instead of a secret in reprs, traces, logs and reports (one marker everywhere)."""


@dataclass(frozen=True, slots=True, repr=False)
class LockData:
    """The lockData of one lock: ``aes_key`` (GET_AES_KEY 0x19), ``admin_ps`` and
    ``unlock_key`` (ADD_ADMIN 0x56), ``lock_flag_pos`` and ``uid`` (CHECK_ADMIN 0x41,
    CHECK_USER_TIME 0x55), and the lock's version ``header``."""

    aes_key: bytes
    admin_ps: int
    unlock_key: int
    lock_flag_pos: int = 0
    uid: int = 0
    header: LockHeader = field(default=V3_HEADER)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(aes_key={REDACTED}, admin_ps={REDACTED}, "
            f"unlock_key={REDACTED}, lock_flag_pos={self.lock_flag_pos}, uid={self.uid}, "
            f"header={self.header})"
        )

    __str__ = __repr__
