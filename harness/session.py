"""A device session: I/O, deadlines and futures around the protocol's app role.

A :class:`Session` owns the :class:`~ttlock_hil.harness.link.Link` to one device, the
sans-IO app role of the current connection (:class:`~ttlock_hil.protocol.app.LockApp`
or :class:`~ttlock_hil.protocol.app.GatewayApp`) and the device's
:class:`~ttlock_hil.harness.trace.FrameTrace`. :meth:`Session.request` is the only way
a command reaches the device::

    answer = await session.request(LockCommand.SEARCH_STATUS, SearchStatus().encode())
    reply = parse_reply(answer.plaintext)

Everything the wire asks of an app — keys, framing, decryption, matching a reply
to its request, "processing" answers, pushes, the TTLock code of every outcome —
is the app role's (docs/architecture.md §11.3). The session moves its bytes, keeps
its deadlines and turns its events into results and exceptions.

Two state machines, as data (docs/architecture.md §11.5):

* :class:`LinkState` / :data:`LINK_TRANSITIONS`: the link is down, connecting, up,
  stale or closed. One connect at a time; concurrent callers share it.
* :class:`RequestState` / :data:`REQUEST_TRANSITIONS`: the request in flight is
  preparing, sending, waiting, then **exactly one** of answered, timed out, failed
  or cancelled. A second request while one is in flight raises
  :class:`~ttlock_hil.harness.errors.Busy` at once.

How a request runs (docs/architecture.md §11.7, docs/protocol.md §4.1):

1. The link is (re)connected if needed; login state starts fresh with it.
2. The reply waiter (a future) exists before the frame is written.
3. Once the frame is written, the deadline runs (``timeouts.command`` or
   ``deadline=``) as a loop timer. The reply and the deadline are both loop
   callbacks: whichever runs first settles the request, the other finds it settled
   and is dropped. A reply after the deadline is traced as a late stray; the
   result is :class:`~ttlock_hil.harness.errors.ResponseTimeout`.
4. A link drop fails the request in the same loop turn
   (:class:`~ttlock_hil.harness.errors.Disconnected`), and so does our own close.

Outcome → code comes with the app role's events, through the mapping tables of the
configured plugin version (:mod:`ttlock_hil.protocol.errormap`): a failed reply
raises :class:`~ttlock_hil.harness.errors.DeviceError` (§5.1, §5.2); link and
parse conditions raise the :mod:`ttlock_hil.harness.errors` class of their
:class:`~ttlock_hil.protocol.errormap.LinkCondition` (§5.3).

Two decisions worth knowing:

* **A reply the harness could not read makes the link stale.** After a response
  timeout, a reply with a bad CRC, an undecryptable or unparseable reply, a failed
  write or a caller that gave up, the device may have acted on the request without
  the app knowing (e.g. an admin challenge it now holds), and a late or half frame
  may still be on its way. The next request reconnects, so lock and app start from
  the same (logged-out) state. The timeout itself is raised first, so a 3 s
  deadline stays 3 s.
* **A bad reply CRC is not retried.** TTLOCK-CORE and KIND3R resend twice
  (docs/protocol.md §1.1 timing) — but the request may have run, and resending an
  UNLOCK or ADD_ADMIN is not harmless; the CRC error is the result under test
  (code 1, LOCK_CRC_CHECK_ERROR, §5.3). Tests that want the vendor behaviour
  retry themselves (:data:`ttlock_hil.harness.errors.NEVER_RETRIED` says the same).

The frame trace gets every tx/rx frame (decoded, verdict, mapped code) and the link
events. Secrets are given to the lab's :class:`~ttlock_hil.harness.redaction.Redactor`
*before* the frame that carries them is traced.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.app import (
    Event,
    FinalRule,
    GatewayApp,
    LockApp,
    Problem,
    Progress,
    Pushed,
    Replied,
    RuleFailed,
    Stray,
)
from ttlock_hil.protocol.codes import VersionLike
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.connection import AppState, Auth, transition
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import LinkCondition, link_code
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import V3_HEADER, LockHeader
from ttlock_hil.protocol.messages import (
    AesKeyReply,
    CheckAdminReply,
    CheckUserTimeReply,
    LogPush,
    StatePush,
)

from .config import RetryPolicy, Timeouts
from .errors import ConfigError, DeviceError, SessionClosed, TTLockError
from .link import Link, SeenDevice, Transport
from .redaction import Redactor
from .trace import FrameTrace

if TYPE_CHECKING:
    from .cassette import CassetteRecorder

__all__ = [
    "LINK_TRANSITIONS",
    "REQUEST_TRANSITIONS",
    "Answer",
    "DeviceEvent",
    "FinalPredicate",
    "LinkEvent",
    "LinkState",
    "RequestEvent",
    "RequestInfo",
    "RequestState",
    "Session",
    "last_request",
]

logger = logging.getLogger(__name__)

_EVENT_QUEUE_SIZE: Final = 256
"""Pushes kept for :meth:`Session.events`; older ones are dropped (and traced) beyond it."""

FinalPredicate = FinalRule
"""Given a matching reply's plaintext: is it the final one (else: progress)?"""

AppRole = LockApp | GatewayApp


# --- the link's states ------------------------------------------------------------


class LinkState(Enum):
    """Where a session's link to its device is."""

    # No link: the next request connects (the start, after a drop, after disconnect()).
    DOWN = "down"
    # A connect is under way; other callers wait for it and share its link.
    CONNECTING = "connecting"
    # Up, notifications on, an app role of its own: requests go out.
    UP = "up"
    # Up, but a request ended without a reply the harness could read: the device may
    # have acted, a late frame may be on its way. The next request reconnects first.
    STALE = "stale"
    # aclose() ran. Terminal.
    CLOSED = "closed"


class LinkEvent(Enum):
    """What happens to a session's link."""

    CONNECT = "connect"  # a caller needs the link
    CONNECTED = "connected"  # found, connected, notifications on, app role made
    CONNECT_FAILED = "connect_failed"
    UNSURE = "unsure"  # a request ended without a readable reply (see STALE)
    DROPPED = "dropped"  # the device or the stack ended the link
    DISCONNECT = "disconnect"  # we closed the link
    CLOSE = "close"  # aclose()


_LS = LinkState
_LE = LinkEvent

LINK_TRANSITIONS: Final[dict[tuple[LinkState, LinkEvent], LinkState]] = {
    (_LS.DOWN, _LE.CONNECT): _LS.CONNECTING,
    (_LS.DOWN, _LE.DISCONNECT): _LS.DOWN,  # disconnect() is idempotent
    (_LS.DOWN, _LE.CLOSE): _LS.CLOSED,
    (_LS.CONNECTING, _LE.CONNECTED): _LS.UP,
    (_LS.CONNECTING, _LE.CONNECT_FAILED): _LS.DOWN,
    # A drop while notifications are being enabled: the connect itself then fails.
    (_LS.CONNECTING, _LE.DROPPED): _LS.CONNECTING,
    (_LS.CONNECTING, _LE.CLOSE): _LS.CLOSED,  # the connect in flight sees it and lets go
    (_LS.UP, _LE.UNSURE): _LS.STALE,
    (_LS.UP, _LE.DROPPED): _LS.DOWN,
    (_LS.UP, _LE.DISCONNECT): _LS.DOWN,
    (_LS.UP, _LE.CLOSE): _LS.CLOSED,
    (_LS.STALE, _LE.UNSURE): _LS.STALE,
    (_LS.STALE, _LE.DROPPED): _LS.DOWN,
    (_LS.STALE, _LE.DISCONNECT): _LS.DOWN,  # reconnecting starts with letting go
    (_LS.STALE, _LE.CLOSE): _LS.CLOSED,
}


# --- a request's states ----------------------------------------------------------


class RequestState(Enum):
    """Where a request is. The last four are outcomes: exactly one is reached."""

    # Accepted (one per session): the link is being made ready.
    PREPARING = "preparing"
    # Handed to the app role; its frame is being written. The waiter already exists.
    SENDING = "sending"
    # Written: the deadline runs.
    WAITING = "waiting"
    # The final reply came first (a device's refusal is an answer too).
    ANSWERED = "answered"
    # The deadline passed first: ResponseTimeout; a later reply is a late stray.
    TIMED_OUT = "timed_out"
    # An error came first: connect or write failed, link dropped or closed, the reply
    # was unreadable, a caller's callback raised.
    FAILED = "failed"
    # The caller went away (its task was cancelled) first.
    CANCELLED = "cancelled"


class RequestEvent(Enum):
    """What happens to a request."""

    SEND = "send"
    WRITTEN = "written"
    PROGRESS = "progress"  # an interim reply: still waiting
    REPLY = "reply"
    DEADLINE = "deadline"
    ERROR = "error"
    CANCEL = "cancel"


_RS = RequestState
_RE = RequestEvent

REQUEST_TRANSITIONS: Final[dict[tuple[RequestState, RequestEvent], RequestState]] = {
    (_RS.PREPARING, _RE.SEND): _RS.SENDING,
    (_RS.PREPARING, _RE.ERROR): _RS.FAILED,
    (_RS.PREPARING, _RE.CANCEL): _RS.CANCELLED,
    (_RS.SENDING, _RE.WRITTEN): _RS.WAITING,
    # A device may answer inside the write, before it returns (the waiter exists).
    (_RS.SENDING, _RE.PROGRESS): _RS.SENDING,
    (_RS.SENDING, _RE.REPLY): _RS.ANSWERED,
    (_RS.SENDING, _RE.ERROR): _RS.FAILED,
    (_RS.SENDING, _RE.CANCEL): _RS.CANCELLED,
    (_RS.WAITING, _RE.PROGRESS): _RS.WAITING,
    (_RS.WAITING, _RE.REPLY): _RS.ANSWERED,
    (_RS.WAITING, _RE.DEADLINE): _RS.TIMED_OUT,
    (_RS.WAITING, _RE.ERROR): _RS.FAILED,
    (_RS.WAITING, _RE.CANCEL): _RS.CANCELLED,
    # The write returns after the outcome was decided inside it: nothing changes.
    (_RS.ANSWERED, _RE.WRITTEN): _RS.ANSWERED,
    (_RS.FAILED, _RE.WRITTEN): _RS.FAILED,
}

OUTCOMES: Final = frozenset({_RS.ANSWERED, _RS.TIMED_OUT, _RS.FAILED, _RS.CANCELLED})
"""A request in one of these is settled: a later reply, deadline or error is dropped."""


@dataclass(eq=False, slots=True)
class _Request:
    """The request in flight: its state, its waiter, its deadline timer."""

    command: int
    on_progress: Callable[[bytes], object] | None
    role: str
    state: RequestState = RequestState.PREPARING
    app: AppRole | None = None
    future: asyncio.Future[Replied] | None = None
    timer: asyncio.TimerHandle | None = None
    started: float = 0.0
    progress: list[bytes] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        return self.state in OUTCOMES

    def fire(self, event: RequestEvent) -> RequestState:
        self.state = transition(REQUEST_TRANSITIONS, self.state, event, role=self.role)
        return self.state


# --- what the session hands back ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The latest request a task sent: what :mod:`ttlock_hil.harness.expect` names on success."""

    device: str
    command: int
    kind: DeviceKind
    trace_path: Path | None

    @property
    def command_name(self) -> str:
        enum: type[LockCommand] | type[GatewayCommand] = (
            GatewayCommand if self.kind is DeviceKind.GATEWAY else LockCommand
        )
        try:
            return enum(self.command).name
        except ValueError:
            return f"0x{self.command:02x}"


last_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "ttlock_hil_last_request", default=None
)
"""Set by :meth:`Session.request` in the calling task's context (read by assertions)."""


@dataclass(frozen=True, slots=True, repr=False)
class Answer:
    """The final reply to a request. ``plaintext`` may hold secrets: repr hides it.

    Lock: ``plaintext`` is the reply envelope ``[echo][status][data…]`` (§4.1);
    gateway: ``[status][data…]`` (§7). ``progress`` holds the plaintexts of the
    intermediate replies that came first, ``latency`` the seconds from the
    write to the final reply.
    """

    command: int
    plaintext: bytes
    raw: bytes
    latency: float
    progress: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Answer(command=0x{self.command:02x}, {len(self.plaintext)} plaintext bytes, "
            f"{len(self.progress)} progress, latency={self.latency:.3f}s)"
        )


@dataclass(frozen=True, slots=True, repr=False)
class DeviceEvent:
    """An unsolicited notification: a lock's state heartbeat or new-log push (§4.1)."""

    device: str
    push: StatePush | LogPush
    raw: bytes
    at: float
    """``time.monotonic()`` when it arrived."""

    def __repr__(self) -> str:
        return f"DeviceEvent({self.device!r}, {type(self.push).__name__}, at={self.at:.3f})"


# --- the session ------------------------------------------------------------------


class Session:
    """One device's command channel (see the module docstring).

    Built by :meth:`ttlock_hil.harness.lab.Lab.session` (or ``lab.lock()`` / ``lab.gateway()``).
    ``lock_key`` is the lock's AES key when known (credentials); ``header`` the
    lock's version header. Use ``async with session:`` or :meth:`aclose`.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        device: str,
        kind: DeviceKind,
        plugin_version: VersionLike,
        timeouts: Timeouts,
        retry: RetryPolicy,
        redactor: Redactor,
        trace_path: Path,
        lock_key: bytes | None = None,
        header: LockHeader = V3_HEADER,
    ) -> None:
        self.device = device
        self.kind = DeviceKind(kind)
        self.plugin_version = plugin_version
        self.timeouts = timeouts
        self.redactor = redactor
        self.trace = FrameTrace(trace_path, device=device, redactor=redactor, kind=self.kind)
        self._header = header
        self._lock_key = lock_key
        self._link = Link(
            transport,
            device=device,
            channel=self.kind,
            timeouts=timeouts,
            retry=retry,
            plugin_version=plugin_version,
            on_frame=self._on_frame,
            on_lost=self._on_lost,
            trace=self.trace,
        )
        self._state = LinkState.DOWN
        self._app: AppRole | None = None
        self._request: _Request | None = None
        self._connect_lock = asyncio.Lock()  # one connect (or disconnect) at a time
        self._events: asyncio.Queue[DeviceEvent] = asyncio.Queue(maxsize=_EVENT_QUEUE_SIZE)
        self.recorder: CassetteRecorder | None = None
        """Records the session as a cassette when set (``Lab(record=…)``, docs/replay.md)."""

    def __repr__(self) -> str:
        return f"<Session {self.device} ({self.kind.value}) {self._state.value}>"

    # --- state ------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """Where the link is (:class:`LinkState`)."""
        return self._state

    @property
    def link(self) -> Link:
        return self._link

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`: the session cannot be used again."""
        return self._state is LinkState.CLOSED

    @property
    def trace_path(self) -> Path:
        return self.trace.path

    @property
    def connected(self) -> bool:
        """Up and trusted: the next request goes out on this link."""
        return self._state is LinkState.UP and self._link.connected

    @property
    def seen(self) -> SeenDevice | None:
        """The advertisement found when connecting (setting mode, battery, MAC)."""
        return self._link.seen

    @property
    def app(self) -> AppRole | None:
        """The app role of the current connection (``None`` while down)."""
        return self._app

    @property
    def auth(self) -> Auth:
        """What this connection has proved to the lock (:class:`Auth.NONE` while down)."""
        return self._app.auth if self._app is not None and self.connected else Auth.NONE

    @property
    def lock_key(self) -> bytes | None:
        """The lock's AES key: from the credentials, or learnt from GET_AES_KEY."""
        return self._lock_key

    def use_credentials(self, lock_key: bytes, header: LockHeader) -> None:
        """Use a (new) key and header from the next connection on."""
        self._lock_key = lock_key
        self._header = header

    def error(self, condition: LinkCondition, message: str = "", **fields: Any) -> TTLockError:
        """The mapped exception for ``condition`` on this device (code, trace path)."""
        return self._link.error(condition, message, **fields)

    def _fire(self, event: LinkEvent) -> LinkState:
        self._state = transition(
            LINK_TRANSITIONS, self._state, event, role=f"session {self.device} link"
        )
        return self._state

    def _check_open(self) -> None:
        if self._state is LinkState.CLOSED:
            raise SessionClosed(self.device)

    # --- connection -------------------------------------------------------------

    async def connect(self) -> SeenDevice:
        """Connect if not connected (reconnect after a drop or a stale link)."""
        self._check_open()
        # One connect at a time: a second caller (lock.connect() next to a command,
        # two gateway calls greeting at once) waits for the first and shares its
        # link instead of starting a second central that waits out the connect
        # deadline, or replacing the app role under a request in flight.
        async with self._connect_lock:
            self._check_open()
            return await self._connect()

    async def _connect(self) -> SeenDevice:
        if self._state is LinkState.UP and not self._link.connected:
            # The device dropped the link and bleak's callback has not run yet: it is
            # gone all the same (the link ignores that callback once it reconnects).
            self._on_lost("the device dropped the link")
        if self._state is LinkState.STALE:
            await self._close_link("stale link: reconnecting", LinkEvent.DISCONNECT)
        if self._state is LinkState.UP:
            assert self._link.seen is not None
            return self._link.seen
        self._fire(LinkEvent.CONNECT)
        try:
            seen = await self._link.connect()
            app = self._make_app(seen)
        except BaseException:
            if self._state is LinkState.CONNECTING:
                self._fire(LinkEvent.CONNECT_FAILED)
            await self._link.disconnect()
            raise
        if self._state is not LinkState.CONNECTING:  # closed while connecting
            await self._link.disconnect()
            raise RuntimeError(f"session {self.device} was closed while connecting")
        app.connected()
        app.subscribed()
        self._app = app
        self._fire(LinkEvent.CONNECTED)
        if self.recorder is not None:
            battery = seen.advert.battery if seen.advert is not None else None
            self.recorder.connected(seen.setting_mode, battery)
        return seen

    def _make_app(self, seen: SeenDevice) -> AppRole:
        if self.kind is DeviceKind.GATEWAY:
            mac = seen.advert.mac if seen.advert is not None and seen.advert.mac else seen.address
            return GatewayApp(mac, plugin_version=self.plugin_version)
        if self._header.is_legacy:
            raise self.error(
                LinkCondition.UNSUPPORTED,
                f"header {self._header} is a legacy (protocol < 5) lock: only V3 locks are "
                "supported by the session",
            )
        setting_mode = seen.setting_mode
        if setting_mode is None:  # a lock that advertises no flags (§6)
            setting_mode = self._lock_key is None
        if not setting_mode and self._lock_key is None:
            raise ConfigError(
                f"{self.device}: the lock is paired (not in setting mode) but the harness has "
                "no credentials for it",
                field="credentials",
                fix="give credentials: env:VAR or file:PATH in the lab config, or reset the "
                "lock to setting mode and run init()",
            )
        return LockApp(
            setting_mode=setting_mode,
            lock_key=self._lock_key,
            header=self._header,
            plugin_version=self.plugin_version,
        )

    def _forget_app(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.disconnected()

    async def disconnect(self) -> None:
        """Close the connection (the next request reconnects)."""
        async with self._connect_lock:
            if self._state is not LinkState.CLOSED:
                await self._close_link("disconnect requested", LinkEvent.DISCONNECT)

    async def _close_link(self, reason: str, event: LinkEvent) -> None:
        self._forget_app()
        self._fire(event)
        request = self._request
        if request is not None and request.app is not None:
            # Our own close: bleak reports no drop, so without this the request in
            # flight would wait out its deadline and end as a response timeout. (A
            # request still preparing is the one this reconnect is for.)
            error = self.error(LinkCondition.DISCONNECTED, reason, command=request.command)
            self._settle(request, RequestEvent.ERROR, error=error)
        if self._link.connected:
            logger.debug("%s: closing the link: %s", self.device, reason)
        await self._link.disconnect()

    async def aclose(self) -> None:
        """Disconnect and close the trace. Idempotent."""
        if self._state is LinkState.CLOSED:
            return
        try:
            await self._close_link("session closed", LinkEvent.CLOSE)
        finally:
            self.trace.close()
            if self.recorder is not None:
                self.recorder.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- requests -----------------------------------------------------------------

    async def request(
        self,
        command: int,
        plaintext: bytes = b"",
        *,
        deadline: float | None = None,
        final: FinalPredicate | None = None,
        on_progress: Callable[[bytes], object] | None = None,
    ) -> Answer:
        """Send one command and wait for its final reply; raise its mapped error.

        ``deadline`` (seconds) overrides ``timeouts.command`` for this request (e.g.
        while the lock waits for a card). ``final`` decides which matching reply
        ends the request (default: any that is not "processing");
        ``on_progress`` is called with each intermediate reply's plaintext as it
        arrives (e.g. "the lock is ready for a card").
        """
        busy = self._request
        if busy is not None:
            raise self.error(
                LinkCondition.BUSY, f"0x{busy.command:02x} is still in flight", command=command
            )
        request = _Request(command, on_progress, role=f"session {self.device} request")
        self._request = request
        try:
            return await self._run(request, plaintext, deadline, final)
        finally:
            if not request.settled:
                # The caller went away (cancelled) before any outcome: the app stops
                # waiting, and the device may have acted: start over, as after a timeout.
                self._settle(request, RequestEvent.CANCEL, unsure=True)
            future = request.future
            if future is not None and future.done() and not future.cancelled():
                future.exception()  # retrieved: an outcome nobody awaited is not "lost"
            self._request = None

    async def _run(
        self,
        request: _Request,
        plaintext: bytes,
        wait: float | None,
        final: FinalPredicate | None,
    ) -> Answer:
        command = request.command
        last_request.set(RequestInfo(self.device, command, self.kind, self.trace_path))
        try:
            await self.connect()
        except TTLockError as exc:
            if exc.command is None:
                exc.command = command  # the command that could not be sent
            request.fire(RequestEvent.ERROR)
            raise
        except Exception:  # e.g. ConfigError: no credentials for a paired lock
            request.fire(RequestEvent.ERROR)
            raise
        app = self._app
        assert app is not None
        loop = asyncio.get_running_loop()
        try:
            outgoing = app.send(command, plaintext, final=final)
        except Exception:  # a payload no frame can carry: nothing was sent
            request.fire(RequestEvent.ERROR)
            raise
        # The waiter exists before the first byte leaves (aioesphomeapi's rule).
        request.app, request.future = app, loop.create_future()
        request.started = time.monotonic()
        request.fire(RequestEvent.SEND)
        # The trace records what was just built: no second encryption or parse.
        self.trace.frame("tx", outgoing.frame, plaintext=plaintext, verdict="sent")
        if self.recorder is not None:
            self.recorder.sent(command, plaintext, outgoing.frame, outgoing.key)
        try:
            await self._link.send(outgoing.frame, command=command)
        except TTLockError as exc:
            # A half-written frame may sit in the device, or the link dropped under the
            # write (then the drop may already have settled the request: that stands).
            self._settle(request, RequestEvent.ERROR, error=exc, unsure=True)
        else:
            request.fire(RequestEvent.WRITTEN)
            if request.state is RequestState.WAITING:
                seconds = wait if wait is not None else self.timeouts.command
                request.timer = loop.call_later(seconds, self._deadline_passed, request, seconds)
        try:
            replied = await request.future
        except TTLockError as exc:
            if self.recorder is not None:
                self.recorder.finished(type(exc).__name__, exc.code.code)
            raise
        latency = time.monotonic() - request.started
        if self.recorder is not None:
            self.recorder.finished("ok" if replied.ok else "device-error", replied.code.code)
        if not replied.ok:
            raise DeviceError.from_answer(
                self.kind,
                replied.error_byte,
                self.plugin_version,
                command=command,
                raw_reply=replied.raw,
                trace_path=self.trace_path,
                device=self.device,
            )
        return Answer(command, replied.plaintext, replied.raw, latency, tuple(request.progress))

    def _settle(
        self,
        request: _Request,
        event: RequestEvent,
        *,
        result: Replied | None = None,
        error: BaseException | None = None,
        unsure: bool = False,
    ) -> bool:
        """Give ``request`` its outcome, unless it has one: the first one stands.

        Returns False when the request was already settled (the caller traces and
        drops what came too late). ``unsure``: the request ends without a reply the
        harness could read, so the app role stops waiting and the link turns stale.
        """
        if request.settled:
            return False
        request.fire(event)
        if request.timer is not None:
            request.timer.cancel()
            request.timer = None
        app = self._app
        if unsure and app is not None and app is request.app:
            # Sent on this very link: the device may have acted, a late frame may come.
            if app.state is AppState.AWAITING_REPLY and app.pending == request.command:
                app.timeout()
            self._fire(LinkEvent.UNSURE)
        future = request.future
        # A cancelled waiter means its caller is gone: the outcome is recorded, not delivered.
        if future is not None and not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                assert result is not None
                future.set_result(result)
        return True

    def _deadline_passed(self, request: _Request, seconds: float) -> None:
        """The loop timer of a request's deadline: a timeout unless the reply came first."""
        request.timer = None
        error = self.error(
            LinkCondition.RESPONSE_TIMEOUT,
            f"no reply within {seconds:g} s",
            command=request.command,
        )
        if not self._settle(request, RequestEvent.DEADLINE, error=error, unsure=True):
            return
        self._link.reset_reassembler()
        self.trace.event(
            "response-timeout",
            command=f"0x{request.command:02x}",
            seconds=seconds,
            verdict=LinkCondition.RESPONSE_TIMEOUT.value,
            code=link_code(LinkCondition.RESPONSE_TIMEOUT, self.plugin_version).code,
        )

    # --- receiving -----------------------------------------------------------------

    def _on_lost(self, reason: str) -> None:
        self._forget_app()
        self._fire(LinkEvent.DROPPED)
        request = self._request
        if request is not None and request.app is not None:
            error = self.error(LinkCondition.DISCONNECTED, reason, command=request.command)
            self._settle(request, RequestEvent.ERROR, error=error)

    def _trace_rx(
        self,
        raw: bytes,
        key: bytes | None,
        verdict: str,
        code: int | None,
        *,
        plaintext: bytes | None = None,
        **extra: Any,
    ) -> None:
        """Trace a received frame; ``plaintext`` when the app already decrypted it."""
        if not self.trace.closed:
            if plaintext is not None:
                self.trace.frame(
                    "rx", raw, plaintext=plaintext, verdict=verdict, code=code, **extra
                )
            else:
                self.trace.frame("rx", raw, key=key, verdict=verdict, code=code, **extra)

    def _learn_secrets(self, event: Replied | Stray) -> None:
        """Give the redactor the secrets a reply carries, before it is traced."""
        wanted = (LockCommand.GET_AES_KEY, LockCommand.CHECK_ADMIN, LockCommand.CHECK_USER_TIME)
        if self.kind is not DeviceKind.LOCK or not event.ok or event.command not in wanted:
            return
        try:
            message = event.message
        except MessageError:
            return  # no layout: nothing it carries can be told apart
        if isinstance(message, AesKeyReply):
            self.redactor.add_bytes(message.key)
        elif isinstance(message, CheckAdminReply | CheckUserTimeReply):
            self.redactor.add_u32(message.ps)

    def _on_frame(self, raw: bytes) -> None:
        app = self._app
        if app is None:
            self._trace_rx(raw, None, "stray", None)
            return
        for event in app.receive_data(raw):
            self._on_event(app, event)

    def _on_event(self, app: AppRole, event: Event) -> None:
        if self.recorder is not None:
            self.recorder.received(event)
        request = self._request
        mine = request if request is not None and request.app is app else None
        if isinstance(event, Problem):
            self._trace_rx(event.raw, event.key, event.condition.value, event.code.code)
            if mine is not None and event.ended == mine.command:
                # The request's reply is unreadable: report it, and start over next time.
                error = self.error(
                    event.condition, event.detail, command=mine.command, raw_reply=event.raw
                )
                self._settle(mine, RequestEvent.ERROR, error=error, unsure=True)
        elif isinstance(event, RuleFailed):
            self._caller_failed(mine, event.raw, event.key, event.error)
        elif isinstance(event, Pushed):
            self._trace_rx(event.raw, event.key, "push", None)
            self._queue_event(DeviceEvent(self.device, event.push, event.raw, time.monotonic()))
        elif isinstance(event, Stray):
            self._learn_secrets(event)
            # "late": the reply to a request that already has its outcome (a timeout).
            verdict = "late" if event.reason == "late" else "stray"
            self._trace_rx(event.raw, event.key, verdict, None, plaintext=event.plaintext)
        elif isinstance(event, Progress):
            verdict = "processing" if event.processing else "progress"
            self._trace_rx(
                event.raw, event.key, verdict, event.code.code, plaintext=event.plaintext
            )
            if mine is not None and not mine.settled:
                mine.fire(RequestEvent.PROGRESS)
                mine.progress.append(event.plaintext)
                if mine.on_progress is not None:
                    try:
                        mine.on_progress(event.plaintext)
                    except Exception as exc:  # noqa: BLE001 - re-raised in the requesting task
                        self._caller_failed(mine, event.raw, event.key, exc)
        else:
            self._learn_secrets(event)
            if isinstance(app, LockApp) and event.command == LockCommand.GET_AES_KEY:
                self._lock_key = app.lock_key
            verdict = "ok" if event.ok else "device-error"
            self._trace_rx(
                event.raw, event.key, verdict, event.code.code, plaintext=event.plaintext
            )
            if mine is not None:
                self._settle(mine, RequestEvent.REPLY, result=event)

    def _caller_failed(
        self, request: _Request | None, raw: bytes, key: bytes | None, error: Exception
    ) -> None:
        """A ``final``/``on_progress`` callback raised: the request ends with its error.

        Raised inside the notification callback it would only reach the loop's
        exception handler, and the request would wait for its whole deadline and
        end as a response timeout the device did not cause.
        """
        self._trace_rx(raw, key, "caller-error", None, error=type(error).__name__)
        if request is not None:
            self._settle(request, RequestEvent.ERROR, error=error, unsure=True)

    # --- events ---------------------------------------------------------------------

    def _queue_event(self, event: DeviceEvent) -> None:
        if self._events.full():
            dropped = self._events.get_nowait()
            self.trace.event("event-dropped", reason="queue full", at=dropped.at)
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[DeviceEvent]:
        """Pushes as they arrive, forever: put a deadline around the loop."""
        while True:
            yield await self._events.get()

    async def next_event(self, deadline: float | None = None) -> DeviceEvent:
        """The next push; ``TimeoutError`` after ``deadline`` s (default: the command timeout)."""
        wait = deadline if deadline is not None else self.timeouts.command
        async with asyncio.timeout(wait):
            return await self._events.get()

    @property
    def queued_events(self) -> int:
        """How many pushes wait in :meth:`events`."""
        return self._events.qsize()

    async def drain(self) -> int:
        """Drop stale frames between tests: queued pushes, a half frame, a stale link.

        Returns how many queued events were dropped. Raises :class:`Busy` while a
        request is in flight.
        """
        if self._request is not None:
            raise self.error(LinkCondition.BUSY, "cannot drain while a command is in flight")
        await asyncio.sleep(0)  # let notifications already scheduled land first
        dropped = 0
        while not self._events.empty():
            self._events.get_nowait()
            dropped += 1
        partial = self._link.reset_reassembler()
        self.trace.event("drain", events=dropped, partial_bytes=len(partial))
        if self._state is LinkState.STALE:
            async with self._connect_lock:
                if self._state is LinkState.STALE:
                    await self._close_link("stale link drained", LinkEvent.DISCONNECT)
        return dropped
