"""Our side of a labgrid coordinator, in process: places, reservations, acquire, release.

labgrid's own client session (``labgrid.remote.client.ClientSession``) keeps the
coordinator's places and resources up to date in this process; the requests go through its
gRPC stub. One connection serves every bench of a lab night, with no ``labgrid-client``
process per call. Every await has a deadline, and each failure is one of the typed errors
of :mod:`ttlock_hil.harness.labgrid` with its fix::

    async with Coordinator("labhost:20408") as coordinator:
        for place in coordinator.tagged({"ttlock": "yes"}):
            async with coordinator.hold(place.name, wait_s=3600) as bench:
                ...   # the place is reserved and acquired; bench is its TTLockBench

:meth:`Coordinator.hold` reserves the place (a reservation filtered on the place's own
name, so benches queue one by one), waits while the reservation is *waiting* (polling
refreshes it, as labgrid wants), acquires the place once it is allocated to us, and on the
way out — however it is left, a cancellation included — cancels the reservation and
releases the place, so the next one in the queue gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

from ttlock_hil.harness.labgrid import (
    BenchUnavailable,
    CoordinatorUnreachable,
    LabgridError,
    NoTaggedPlace,
    PlaceBusy,
    require_labgrid,
)

__all__ = [
    "BENCH_CLASS",
    "DEFAULT_PORT",
    "Coordinator",
    "PlaceInfo",
    "normalize_address",
    "place_reserved",
]

BENCH_CLASS: Final = "TTLockBench"
DEFAULT_PORT: Final = 20408
CALL_DEADLINE_S: Final = 10.0
"""How long one request to the coordinator may take."""
POLL_S: Final = 1.0
"""How often a waiting reservation is polled (labgrid expires one unpolled for 60 s)."""

# labgrid.remote.common.ReservationState, by value
_WAITING: Final = 0
_ALLOCATED: Final = 1
_ACQUIRED: Final = 2
_STATE_NAMES: Final = {0: "waiting", 1: "allocated", 2: "acquired", 3: "expired", 4: "invalid"}


def normalize_address(address: str) -> str:
    """``HOST[:PORT]`` with labgrid's default port when none is given; ``[IPv6]:PORT``.

    An address that cannot be one (no host, a port that is not 1..65535, an IPv6 address
    without brackets) is a :class:`LabgridError` (usage) here, not an "unreachable
    coordinator" after a failed connect that would send the lab to start one.
    """
    text = address.strip()
    fix = "pass --coordinator HOST:PORT, e.g. labhost:20408 or [fd00::1]:20408"
    if not text:
        raise LabgridError("the coordinator address is empty", fix=fix)
    if text.startswith("["):  # [::1]:20408
        host, bracket, rest = text[1:].partition("]")
        if not host or not bracket or not (rest == "" or rest.startswith(":")):
            raise LabgridError(f"the coordinator address {text!r} is not [IPv6]:PORT", fix=fix)
        port = rest[1:] if rest else str(DEFAULT_PORT)
        host = f"[{host}]"
    elif text.count(":") > 1:
        raise LabgridError(
            f"the coordinator address {text!r} is an IPv6 address without brackets",
            fix=f"write it as [{text}]:{DEFAULT_PORT} (brackets, then the port)",
        )
    else:
        host, colon, port = text.partition(":")
        port = port if colon else str(DEFAULT_PORT)
    if not host or any(c.isspace() for c in host):
        raise LabgridError(f"the coordinator address {text!r} has no host name", fix=fix)
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise LabgridError(
            f"the coordinator address {text!r} has no valid port ({port!r}: 1..65535)", fix=fix
        )
    return f"{host}:{int(port)}"


@dataclass(frozen=True, slots=True)
class PlaceInfo:
    """A place as the coordinator shows it now."""

    name: str
    tags: Mapping[str, str]
    acquired: str | None
    reservation: str | None
    bench: Mapping[str, Any] | None
    """The parameters of the TTLockBench it matches, ``None`` when none is exported."""
    bench_available: bool


class _LabgridLog(logging.Handler):
    """Keeps what labgrid's client logs (on the root logger) instead of letting Python print
    it: the last error becomes the reason of our one-line error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "labgrid" in record.pathname and record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage().splitlines()[0])


class Coordinator:
    """A connection to a labgrid coordinator (see the module docstring).

    One at a time per process: gRPC shares one connection between channels to the same
    address, and the coordinator tells its clients apart by connection.
    """

    def __init__(
        self,
        address: str,
        *,
        connect_s: float = CALL_DEADLINE_S,
        call_s: float = CALL_DEADLINE_S,
        poll_s: float = POLL_S,
    ) -> None:
        self.address = normalize_address(address)
        self.connect_s = connect_s
        self.call_s = call_s
        self.poll_s = poll_s
        self._session: Any = None
        self._log: _LabgridLog | None = None

    # --- connection -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        require_labgrid()
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")  # we start bench nights
        import grpc
        from labgrid.remote.client import ClientSession, ServerError

        loop = asyncio.get_running_loop()
        self._log = _LabgridLog()
        logging.getLogger().addHandler(self._log)
        session = ClientSession(self.address, loop)
        self._session = session
        try:
            await asyncio.wait_for(session.start(), self.connect_s)
        except TimeoutError:
            await self._close()
            raise CoordinatorUnreachable(
                self.address, f"no answer within {self.connect_s:g} s"
            ) from None
        except (ServerError, grpc.RpcError, OSError) as exc:  # one line, no traceback
            await self._close()
            said = self._log.errors[-1:] if self._log is not None else []
            reason = said[0] if said else (str(exc).strip() or type(exc).__name__)
            raise CoordinatorUnreachable(self.address, reason) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        session, self._session = self._session, None
        if self._log is not None:
            logging.getLogger().removeHandler(self._log)
        if session is None:
            return
        with contextlib.suppress(Exception):
            if session.pump_task is not None:
                await asyncio.wait_for(session.stop(), self.call_s)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.close(), self.call_s)

    def _live(self) -> Any:
        if self._session is None:
            raise LabgridError(
                f"not connected to the coordinator {self.address}",
                fix="use the Coordinator inside `async with`",
            )
        if self._session.stopping.is_set():
            raise CoordinatorUnreachable(self.address, "the connection was lost")
        return self._session

    async def _call(self, what: str, method: str, request: Any) -> Any:
        import grpc

        stub = self._live().stub
        try:
            return await asyncio.wait_for(getattr(stub, method)(request), self.call_s)
        except TimeoutError:
            raise CoordinatorUnreachable(
                self.address, f"{what}: no answer within {self.call_s:g} s"
            ) from None
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise CoordinatorUnreachable(self.address, f"{what}: {exc.details()}") from None
            raise LabgridError(
                f"the coordinator refused to {what}: {exc.details()}",
                fix="check the place with labgrid-client -p PLACE show",
            ) from None

    async def sync(self) -> None:
        """Wait until the coordinator's updates so far have reached this process."""
        session = self._live()
        try:
            synced = await asyncio.wait_for(session.sync_with_coordinator(), self.call_s)
        except TimeoutError:
            raise CoordinatorUnreachable(self.address, "no sync within the deadline") from None
        if not synced:
            raise CoordinatorUnreachable(self.address, "the connection was lost")

    # --- places -----------------------------------------------------------------------

    def places(self) -> dict[str, PlaceInfo]:
        """Every place, with the TTLockBench each one matches (if it is exported)."""
        session = self._live()
        found: dict[str, PlaceInfo] = {}
        for name, place in sorted(session.places.items()):
            bench: Mapping[str, Any] | None = None
            available = False
            for exporter, groups in sorted(session.resources.items()):
                for group_name, group in sorted(groups.items()):
                    for resource_name, entry in sorted(group.items()):
                        data = entry.data
                        if data.get("cls") != BENCH_CLASS:
                            continue  # another class, or a resource whose exporter left
                        path = (exporter, group_name, BENCH_CLASS, resource_name)
                        if place.getmatch(path) is not None and bench is None:
                            bench = dict(entry.args)
                            available = bool(entry.avail)
            found[name] = PlaceInfo(
                name=name,
                tags=dict(place.tags),
                acquired=place.acquired,
                reservation=place.reservation,
                bench=bench,
                bench_available=available,
            )
        return found

    def tagged(self, tags: Mapping[str, str]) -> list[PlaceInfo]:
        """The places carrying every tag of ``tags`` (:class:`NoTaggedPlace` when none)."""
        places = self.places()
        chosen = [
            place
            for place in places.values()
            if all(place.tags.get(key) == value for key, value in tags.items())
        ]
        if not chosen:
            raise NoTaggedPlace(self.address, dict(tags), list(places))
        return chosen

    def bench_of(self, place: str) -> Mapping[str, Any]:
        """The TTLockBench parameters of ``place``; :class:`BenchUnavailable` when its exporter
        is gone (or never exported one the place matches)."""
        info = self.places().get(place)
        if info is None:
            raise BenchUnavailable(place, "the place no longer exists on the coordinator")
        if info.bench is None:
            raise BenchUnavailable(
                place, "no exporter exports the TTLockBench it matches (exporter gone?)"
            )
        if not info.bench_available:
            raise BenchUnavailable(place, "its TTLockBench is exported but not available")
        return info.bench

    async def add_place(
        self, place: str, *, exporter: str, group: str, tags: Mapping[str, str]
    ) -> None:
        """Create ``place`` matching the TTLockBench of ``exporter``/``group``, with ``tags``
        (what ``labgrid-client create``, ``add-match`` and ``set-tags`` do, in one go)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        await self._call("create the place", "AddPlace", pb2.AddPlaceRequest(name=place))
        pattern = f"{exporter}/{group}/{BENCH_CLASS}"
        await self._call(
            "add the match",
            "AddPlaceMatch",
            pb2.AddPlaceMatchRequest(placename=place, pattern=pattern),
        )
        await self._call(
            "set the tags", "SetPlaceTags", pb2.SetPlaceTagsRequest(placename=place, tags=tags)
        )
        await self.sync()

    # --- reservations -----------------------------------------------------------------

    async def reserve(
        self,
        place: str,
        *,
        wait_s: float | None,
        tags: Mapping[str, str] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> str:
        """Reserve ``place`` (and its ``tags``) and wait until it is allocated to us; the token.

        ``wait_s``: how long to wait in the queue (``0``: not at all — :class:`PlaceBusy` at
        once when someone else holds it; ``None``: as long as it takes). ``on_wait`` hears
        once who the place is waiting for.
        """
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        _check_wait(wait_s)
        if place not in self._live().places:
            raise LabgridError(
                f"the coordinator {self.address} has no place {place}",
                fix=f"create it: labgrid-client -p {place} create, then add-match "
                f"EXPORTER/GROUP/{BENCH_CLASS} (docs/labgrid.md)",
            )
        wanted = {**(tags or {}), "name": place}
        request = pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter=wanted)}, prio=0.0
        )
        created = await self._call("create a reservation", "CreateReservation", request)
        token = str(created.reservation.token)
        try:
            await self._wait_allocated(place, token, wait_s, on_wait)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.cancel(token))
            raise
        return token

    async def _wait_allocated(
        self,
        place: str,
        token: str,
        wait_s: float | None,
        on_wait: Callable[[str], None] | None,
    ) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        deadline = None if wait_s is None else time.monotonic() + wait_s
        told = False
        while True:
            polled = await self._call(
                "poll the reservation", "PollReservation", pb2.PollReservationRequest(token=token)
            )
            state = int(polled.reservation.state)
            if state in (_ALLOCATED, _ACQUIRED):
                return
            if state != _WAITING:
                raise LabgridError(
                    f"the reservation of {place} is {_STATE_NAMES.get(state, state)}",
                    fix="check the place with labgrid-client -p PLACE show, then run again",
                )
            holder = self._holder(place)
            if deadline is not None and time.monotonic() >= deadline:
                raise PlaceBusy(place, holder)
            if on_wait is not None and not told:
                told = True
                on_wait(holder)
            pause = self.poll_s
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            await asyncio.sleep(pause)

    def _holder(self, place: str) -> str:
        info = self.places().get(place)
        if info is None:
            return "nobody (the place is gone)"
        if info.acquired:
            return info.acquired
        if info.reservation:
            return f"reservation {info.reservation}"
        return "a reservation ahead of ours"

    async def reservations(self) -> list[str]:
        """The tokens of every reservation the coordinator holds (anyone's)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        found = await self._call(
            "list the reservations", "GetReservations", pb2.GetReservationsRequest()
        )
        return [str(reservation.token) for reservation in found.reservations]

    async def cancel(self, token: str) -> None:
        """Cancel the reservation ``token``."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        await self._call(
            "cancel the reservation", "CancelReservation", pb2.CancelReservationRequest(token=token)
        )

    async def acquire(self, place: str) -> None:
        """Acquire ``place`` (it must be allocated to our reservation, or free)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        request = pb2.AcquirePlaceRequest(placename=place)
        await self._call("acquire the place", "AcquirePlace", request)
        await self.sync()

    async def release(self, place: str) -> None:
        """Release ``place``."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        request = pb2.ReleasePlaceRequest(placename=place)
        await self._call("release the place", "ReleasePlace", request)
        await self.sync()

    @contextlib.asynccontextmanager
    async def hold(
        self,
        place: str,
        *,
        wait_s: float | None,
        tags: Mapping[str, str] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Reserve, check the bench's exporter, acquire; yield its TTLockBench parameters;
        release and cancel on the way out (see the module docstring)."""
        token = await self.reserve(place, wait_s=wait_s, tags=tags, on_wait=on_wait)
        acquired = False
        try:
            await self.sync()
            bench = self.bench_of(place)
            await self.acquire(place)
            acquired = True
            yield bench
        finally:
            await asyncio.shield(self._let_go(place, token, acquired))

    async def _let_go(self, place: str, token: str, acquired: bool) -> None:
        """Cancel the reservation, then release the place; each tried even when the other
        fails. In this order the next reservation in the queue gets the place at once: the
        coordinator hands out a place when it is neither acquired nor reserved, and it sees
        a cancelled reservation's place as free only at its next scheduling, which the
        release is."""
        problems: list[Exception] = []
        try:
            await self.cancel(token)
        except LabgridError as exc:
            problems.append(exc)
        if acquired:
            try:
                await self.release(place)
            except LabgridError as exc:
                problems.append(exc)
        if problems:
            raise problems[0]


def _check_wait(wait_s: float | None) -> None:
    """A wait in the queue is ``None`` (as long as it takes) or seconds, 0 or more: a nan
    (argparse's float takes it) compares false with every clock and would wait for ever."""
    if wait_s is not None and (math.isnan(wait_s) or wait_s < 0):
        raise LabgridError(
            f"--wait {wait_s} is not a number of seconds", fix="pass --wait SECONDS, 0 or more"
        )


@contextlib.contextmanager
def place_reserved(
    address: str, place: str, *, wait_s: float | None = 0.0, connect_s: float = CALL_DEADLINE_S
) -> Iterator[None]:
    """Hold the labgrid place ``place`` for a block of synchronous code (the single-bench
    nightly with a coordinator configured): reserve it — at once, or waiting ``wait_s`` in the
    queue — and acquire it; release it and cancel the reservation afterwards, however the
    block ends. The place stays ours between the two connections: labgrid keeps a place
    acquired until it is released. Raises :class:`PlaceBusy` when someone else holds it."""

    async def take() -> str:
        async with Coordinator(address, connect_s=connect_s) as coordinator:
            token = await coordinator.reserve(place, wait_s=wait_s)
            try:
                await coordinator.acquire(place)
            except BaseException:
                await asyncio.shield(coordinator.cancel(token))
                raise
            return token

    async def give(token: str) -> None:
        async with Coordinator(address, connect_s=connect_s) as coordinator:
            await coordinator._let_go(place, token, acquired=True)

    _check_wait(wait_s)
    token = asyncio.run(take())
    try:
        yield
    finally:
        asyncio.run(give(token))
