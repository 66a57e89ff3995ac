"""Hotel and NB-IoT settings on the virtual lock (docs/protocol.md §10.3.3, §10.3.4).

* 0x64 CONFIGURE_HOTEL_DATA keeps one value per parameter (keys, hotel/building/floor,
  sectors, lift floors and mode, power saver); a GET answers ``[len][value]``, empty
  for a parameter never set (our decision).
* 0x12 keeps the NB-IoT server address; 0x13 the wake-up modes and times.

The lift-floor activation itself is the long form of 0x47 (§10.3.4), which the lock
answers like an unlock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    AckReply,
    HotelGet,
    HotelParam,
    HotelReply,
    HotelSet,
    NbAwakeModesReply,
    NbAwakeQuery,
    NbAwakeSetModes,
    NbAwakeSetReply,
    NbAwakeSetTimes,
    NbAwakeTime,
    NbAwakeTimesReply,
    NbAwakeWhat,
    NbServerAddress,
    Request,
)

from .lock_rules import Refused

if TYPE_CHECKING:
    from ttlock_hil.protocol.messages import ReplyData

    from .lock_model import LockModel

__all__ = ["HANDLERS", "HotelState", "NbState"]

_NB_MODE_BITS: Final = 0x0F
"""Keypad, card, fingerprint and the "9#" activation bit (§10.3.3)."""


@dataclass(slots=True, repr=False)
class HotelState:
    """Hotel parameters by type (the keys are secrets: no repr)."""

    values: dict[int, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"HotelState({sorted(self.values)} set)"


@dataclass(slots=True)
class NbState:
    """What an NB-IoT lock was told."""

    server: tuple[str, int] | None = None
    modes: int = 0
    times: tuple[NbAwakeTime, ...] = ()


def _known(para_type: int) -> HotelParam:
    try:
        return HotelParam(para_type)
    except ValueError:
        raise Refused(LockError.INVALID_PARAM, f"no hotel parameter {para_type}") from None


def on_hotel_get(lock: LockModel, request: HotelGet) -> HotelReply:
    param = _known(request.para_type)
    value = lock.memory.hotel.values.get(param, b"")
    return HotelReply(lock.battery, 1, param, value)


def on_hotel_set(lock: LockModel, request: HotelSet) -> HotelReply:
    param = _known(request.para_type)
    lock.memory.hotel.values[param] = request.value
    return HotelReply(lock.battery, 2, param)


def on_nb_server(lock: LockModel, request: NbServerAddress) -> AckReply:
    lock.memory.nb.server = (request.host, request.port)
    return AckReply(lock.battery)


def on_nb_query(lock: LockModel, request: NbAwakeQuery) -> ReplyData:
    nb = lock.memory.nb
    if request.what == NbAwakeWhat.MODES:
        return NbAwakeModesReply(lock.battery, nb.modes)
    if request.what == NbAwakeWhat.TIMES:
        return NbAwakeTimesReply(lock.battery, nb.times)
    raise Refused(LockError.INVALID_PARAM, f"nothing to query as {request.what}")


def on_nb_set_modes(lock: LockModel, request: NbAwakeSetModes) -> NbAwakeSetReply:
    if request.modes & ~_NB_MODE_BITS:
        raise Refused(LockError.INVALID_PARAM, f"unknown wake-up mode bits {request.modes:#x}")
    lock.memory.nb.modes = request.modes
    return NbAwakeSetReply(lock.battery, NbAwakeWhat.MODES)


def on_nb_set_times(lock: LockModel, request: NbAwakeSetTimes) -> NbAwakeSetReply:
    for time in request.times:
        if time.time_type not in (1, 2) or time.hour > 23 or time.minute > 59:
            raise Refused(LockError.INVALID_PARAM, f"impossible wake-up time {time}")
    lock.memory.nb.times = request.times
    return NbAwakeSetReply(lock.battery, NbAwakeWhat.TIMES)


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        HotelGet: on_hotel_get,
        HotelSet: on_hotel_set,
        NbServerAddress: on_nb_server,
        NbAwakeQuery: on_nb_query,
        NbAwakeSetModes: on_nb_set_modes,
        NbAwakeSetTimes: on_nb_set_times,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
