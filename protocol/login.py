"""The login proof: one definition of the check value both roles compute (docs/protocol.md §4.3).

A login step hands the app a challenge ``ps`` (0x41 CHECK_ADMIN and 0x55
CHECK_USER_TIME answer ``[psFromLock u32]``). The app proves that it holds the
lock's unlock key by sending ``(ps + unlockKey) mod 2^32`` in 0x30 CHECK_RANDOM,
0x47 UNLOCK or 0x58 FUNCTION_LOCK; the lock computes the same value and compares.
The app role (message builders, the harness) and the lock role (the virtual lock)
both call :func:`check_value`, so they cannot disagree about the arithmetic.
"""

from __future__ import annotations

from typing import Final

from .errors import ProtocolError

__all__ = ["U32_LIMIT", "check_value"]

U32_LIMIT: Final = 2**32
"""Challenges, unlock keys and check values are unsigned 32-bit fields (§4.2)."""


def check_value(ps: int, unlock_key: int) -> int:
    """``(ps + unlock_key) mod 2^32``: the proof that answers the challenge ``ps`` (§4.3).

    Both arguments are u32 fields of the protocol; anything else raises
    :class:`~ttlock_hil.protocol.errors.ProtocolError` naming the argument, never its
    value (an unlock key is a secret).

    >>> check_value(0x1DB78A8F, 87654321) == (0x1DB78A8F + 87654321) % 2**32
    True
    """
    for name, value in (("ps", ps), ("unlock_key", unlock_key)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < U32_LIMIT:
            raise ProtocolError(f"{name} must be an int in 0..2^32-1 (a u32 field of §4.3)")
    return (ps + unlock_key) % U32_LIMIT
