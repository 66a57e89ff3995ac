"""A device session: one command in flight, replies matched, every outcome a TTLock code.

A :class:`Session` owns the :class:`~ttlock_hil.harness.link.Link` to one device, the
sans-IO :class:`~ttlock_hil.protocol.connection.AppConnection` of the current connection
and the device's :class:`~ttlock_hil.harness.trace.FrameTrace`. :meth:`Session.request`
is the only way a command reaches the device::

    answer = await session.request(LockCommand.SEARCH_STATUS, SearchStatus().encode())
    reply = parse_reply(answer.plaintext)

How a request runs (docs/architecture.md §11.7, docs/protocol.md §4.1):

1. A second request while one is in flight raises :class:`~ttlock_hil.harness.errors.Busy`
   at once (one command per device; await the first).
2. The link is (re)connected if needed; login state starts fresh with it.
3. The reply waiter (a future) is registered, *then* the frame is written.
4. The reply is the notification whose echoed opcode (lock: plaintext[0];
   gateway: the frame's command byte) matches the request. Anything else is a
   push (routed to :meth:`events`) or a stray (traced, dropped). Intermediate
   replies ("processing", card/finger enrolment steps) are collected until the
   ``final`` predicate accepts one.
5. The wait has a deadline (``timeouts.command`` or ``timeout=``); a link drop
   fails it in the same loop turn (:class:`~ttlock_hil.harness.errors.Disconnected`).

Outcome → code, through the mapping tables of the configured plugin version
(:mod:`ttlock_hil.protocol.errormap`): a FAILED lock reply raises
:class:`~ttlock_hil.harness.errors.DeviceError` from its error byte (§5.1), a gateway
failure status from the status byte (§5.2); link and parse conditions raise
the :mod:`ttlock_hil.harness.errors` class of their
:class:`~ttlock_hil.protocol.errormap.LinkCondition`
(§5.3).

Two decisions worth knowing:

* **A reply the harness could not read ends the connection.** After a response
  timeout, a reply with a bad CRC, an undecryptable or unparseable reply, or a
  failed write, the device may have acted on the request without the app
  knowing (e.g. an admin challenge it now holds), and a late or half frame may
  still be on its way. The session marks the link stale; the next request
  reconnects, so lock and app start from the same (logged-out) state. The
  timeout itself is raised first, so a 3 s deadline stays 3 s.
* **A bad reply CRC is not retried.** TTLOCK-CORE and KIND3R resend twice
  (docs/protocol.md §1.1 timing) — but the request may have run, and resending an
  UNLOCK or ADD_ADMIN is not harmless; the CRC error is the result under test
  (code 1, LOCK_CRC_CHECK_ERROR, §5.3). Tests that want the vendor behaviour
  retry themselves (:data:`ttlock_hil.harness.errors.NEVER_RETRIED` says the same).

The frame trace gets every tx/rx frame (decoded, CRC verdict, mapped code) and
the link events. Secrets are given to the lab's :class:`~ttlock_hil.harness.trace.Redactor`
*before* the frame that carries them is traced.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar

from ttlock_hil.protocol.codes import VersionLike, lookup
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.connection import AppConnection, Auth, Stray
from ttlock_hil.protocol.crypto import gateway_key
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import (
    GATEWAY_STATUS_FALLBACK,
    LOCK_ERROR_FALLBACK,
    LinkCondition,
    gateway_status_code,
    link_code,
    lock_error_code,
)
from ttlock_hil.protocol.errors import CrcMismatch, DecryptError, MessageError, ProtocolError
from ttlock_hil.protocol.frame import (
    V3_HEADER,
    GatewayFrame,
    LockFrame,
    LockHeader,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)
from ttlock_hil.protocol.messages import (
    AesKeyReply,
    CheckAdminReply,
    CheckUserTimeReply,
    GatewayStatus,
    LogPush,
    StatePush,
    parse_push,
    parse_reply,
)

from .config import RetryPolicy, Timeouts
from .errors import ConfigError, DeviceError, TTLockError
from .link import Link, SeenDevice, Transport
from .trace import FrameTrace, Redactor

__all__ = [
    "Answer",
    "DeviceEvent",
    "RequestInfo",
    "Session",
    "last_request",
]

logger = logging.getLogger(__name__)

_EVENT_QUEUE_SIZE: Final = 256
"""Pushes kept for :meth:`Session.events`; older ones are dropped (and traced) beyond it."""


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


# --- per-kind wire handling ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Incoming:
    """One received frame, decoded as far as it goes."""

    echo: int | None = None
    plaintext: bytes | None = None
    key: bytes | None = None
    problem: LinkCondition | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    processing: bool
    status: int | None  # lock error byte / gateway status byte when not ok


class _Codec(Protocol):
    channel: DeviceKind
    trace_kind: str

    def encode(self, app: AppConnection, command: int, plaintext: bytes) -> tuple[bytes, bytes]:
        """(frame, key used)."""

    def decode(self, app: AppConnection, raw: bytes) -> _Incoming: ...

    def outcome(self, command: int, plaintext: bytes) -> _Outcome: ...

    def code(self, outcome: _Outcome, plugin_version: VersionLike) -> int | None: ...

    def device_error(
        self, outcome: _Outcome, plugin_version: VersionLike, **fields: Any
    ) -> DeviceError: ...

    def push(self, plaintext: bytes) -> StatePush | LogPush | None: ...


_F = TypeVar("_F", LockFrame, GatewayFrame)


def _open_frame(
    raw: bytes, key: bytes, expected: type[_F], link: str
) -> tuple[_F, bytes] | _Incoming:
    """Parse and decrypt one received frame, or say which link condition it is.

    The order of the checks is the order of the codes' precedence: a frame that
    fails its CRC is a CRC error (1) even if it would not decrypt either.
    """
    try:
        frame = parse_frame(raw)
    except CrcMismatch as exc:
        return _Incoming(key=key, problem=LinkCondition.REPLY_CRC_ERROR, detail=str(exc))
    except ProtocolError as exc:
        return _Incoming(key=key, problem=LinkCondition.REPLY_UNPARSEABLE, detail=str(exc))
    if not isinstance(frame, expected):
        return _Incoming(
            key=key,
            problem=LinkCondition.REPLY_UNPARSEABLE,
            detail=f"a {frame.kind.value} frame on {link}",
        )
    try:
        return frame, frame.decrypt(key)
    except DecryptError as exc:
        return _Incoming(key=key, problem=LinkCondition.REPLY_UNDECRYPTABLE, detail=str(exc))


class _LockCodec:
    """V3 lock frames (§2.1), AES with the key the connection state picks (§3.1)."""

    channel = DeviceKind.LOCK
    trace_kind = "lock"

    def __init__(self, header: LockHeader) -> None:
        self.header = header

    def encode(self, app: AppConnection, command: int, plaintext: bytes) -> tuple[bytes, bytes]:
        key = app.key_for(command)
        return encode_lock_command(command, plaintext, key, header=self.header), key

    def decode(self, app: AppConnection, raw: bytes) -> _Incoming:
        key = app.reply_key
        opened = _open_frame(raw, key, LockFrame, "a V3 lock link")
        if isinstance(opened, _Incoming):
            return opened
        _, plaintext = opened
        try:
            reply = parse_reply(plaintext)
        except MessageError as exc:
            return _Incoming(key=key, problem=LinkCondition.REPLY_UNPARSEABLE, detail=str(exc))
        return _Incoming(echo=reply.command, plaintext=plaintext, key=key)

    def outcome(self, command: int, plaintext: bytes) -> _Outcome:
        reply = parse_reply(plaintext)
        if reply.ok:
            return _Outcome(ok=True, processing=False, status=None)
        return _Outcome(ok=False, processing=reply.is_processing, status=reply.error_byte)

    def code(self, outcome: _Outcome, plugin_version: VersionLike) -> int | None:
        if outcome.ok:
            return 0
        if outcome.status is None:
            return int(LOCK_ERROR_FALLBACK)
        return lock_error_code(outcome.status, plugin_version).code

    def device_error(
        self, outcome: _Outcome, plugin_version: VersionLike, **fields: Any
    ) -> DeviceError:
        if outcome.status is None:
            return DeviceError(
                "failed reply without an error byte", code=lookup(LOCK_ERROR_FALLBACK), **fields
            )
        return DeviceError.from_lock_byte(outcome.status, plugin_version, **fields)

    def push(self, plaintext: bytes) -> StatePush | LogPush | None:
        try:
            return parse_push(parse_reply(plaintext))
        except MessageError:
            return None


class _GatewayCodec:
    """Gateway frames (§2.3), AES with the key derived from the MAC (§7)."""

    channel = DeviceKind.GATEWAY
    trace_kind = "gateway"

    def __init__(self, mac: str) -> None:
        self.key = gateway_key(mac)

    def encode(self, app: AppConnection, command: int, plaintext: bytes) -> tuple[bytes, bytes]:
        return encode_gateway_command(command, plaintext, self.key), self.key

    def decode(self, app: AppConnection, raw: bytes) -> _Incoming:
        key = self.key
        opened = _open_frame(raw, key, GatewayFrame, "a gateway link")
        if isinstance(opened, _Incoming):
            return opened
        frame, plaintext = opened
        if not plaintext:
            return _Incoming(
                key=key, problem=LinkCondition.REPLY_UNPARSEABLE, detail="empty reply plaintext"
            )
        return _Incoming(echo=frame.command, plaintext=plaintext, key=key)

    def outcome(self, command: int, plaintext: bytes) -> _Outcome:
        status = plaintext[0]
        # The SSID scan ends with status 5 "done" (§7): that is its success.
        done = command == GatewayCommand.GET_NEARBY_SSID and status == GatewayStatus.DONE
        if status == GatewayStatus.SUCCESS or done:
            return _Outcome(ok=True, processing=False, status=None)
        return _Outcome(ok=False, processing=status == GatewayStatus.PROCESSING, status=status)

    def code(self, outcome: _Outcome, plugin_version: VersionLike) -> int | None:
        if outcome.ok:
            return 0
        assert outcome.status is not None
        try:
            return gateway_status_code(outcome.status, plugin_version).code
        except ProtocolError:
            return None

    def device_error(
        self, outcome: _Outcome, plugin_version: VersionLike, **fields: Any
    ) -> DeviceError:
        assert outcome.status is not None
        try:
            return DeviceError.from_gateway_status(outcome.status, plugin_version, **fields)
        except ProtocolError:
            # Plugins before 2.6.0 have no gateway codes (errormap): the catch-all.
            return DeviceError(
                f"gateway status {outcome.status} (no code in plugin {plugin_version})",
                code=lookup(GATEWAY_STATUS_FALLBACK),
                error_byte=outcome.status,
                **fields,
            )

    def push(self, plaintext: bytes) -> StatePush | LogPush | None:
        return None  # no gateway push is documented (§7)


# --- the session ------------------------------------------------------------------

FinalPredicate = Callable[[bytes], bool]
"""Given a matching reply's plaintext: is it the final one (else: progress)?"""


@dataclass(slots=True)
class _Pending:
    command: int
    future: asyncio.Future[tuple[bytes, bytes]]  # (raw, plaintext) of the final reply
    final: FinalPredicate | None
    on_progress: Callable[[bytes], object] | None
    started: float
    progress: list[bytes] = field(default_factory=list)


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
        self.trace = FrameTrace(trace_path, device=device, redactor=redactor, kind=self.kind.value)
        self._header = header
        self._lock_key = lock_key
        channel = DeviceKind.GATEWAY if self.kind is DeviceKind.GATEWAY else DeviceKind.LOCK
        self._link = Link(
            transport,
            device=device,
            channel=channel,
            timeouts=timeouts,
            retry=retry,
            plugin_version=plugin_version,
            on_frame=self._on_frame,
            on_lost=self._on_lost,
            trace=self.trace,
        )
        self._codec: _Codec | None = None
        self._app: AppConnection | None = None
        self._pending: _Pending | None = None
        self._busy = asyncio.Lock()
        self._connecting = asyncio.Lock()
        self._in_flight: int | None = None
        self._stale = False
        self._events: asyncio.Queue[DeviceEvent] = asyncio.Queue(maxsize=_EVENT_QUEUE_SIZE)
        self._closed = False

    def __repr__(self) -> str:
        state = "connected" if self.connected else "down"
        return f"<Session {self.device} ({self.kind.value}) {state}>"

    # --- state ------------------------------------------------------------------

    @property
    def link(self) -> Link:
        return self._link

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`: the session cannot be used again."""
        return self._closed

    @property
    def trace_path(self) -> Path:
        return self.trace.path

    @property
    def connected(self) -> bool:
        return self._link.connected and self._app is not None and not self._stale

    @property
    def seen(self) -> SeenDevice | None:
        """The advertisement found when connecting (setting mode, battery, MAC)."""
        return self._link.seen

    @property
    def app(self) -> AppConnection | None:
        """The sans-IO state of the current connection (``None`` while down)."""
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

    # --- connection -------------------------------------------------------------

    async def connect(self) -> SeenDevice:
        """Connect if not connected (reconnect after a drop or a stale link)."""
        if self._closed:
            raise RuntimeError(f"session {self.device} is closed")
        # One connect at a time: a second caller (lock.connect() next to a command,
        # two gateway calls greeting at once) waits for the first and shares its
        # link instead of starting a second central that waits out the connect
        # deadline, or replacing the connection state under a request in flight.
        async with self._connecting:
            if self._closed:
                raise RuntimeError(f"session {self.device} is closed")
            return await self._connect()

    async def _connect(self) -> SeenDevice:
        if self._stale:
            self._stale = False
            await self._reset_connection("stale link: reconnecting")
        if self._link.connected and self._app is not None:
            assert self._link.seen is not None
            return self._link.seen
        self._app = None
        seen = await self._link.connect()
        try:
            self._codec = self._make_codec(seen)
            app = self._make_app(seen)
        except BaseException:
            await self._link.disconnect()
            raise
        app.connected()
        app.subscribed()
        self._app = app
        return seen

    def _make_codec(self, seen: SeenDevice) -> _Codec:
        if self.kind is DeviceKind.GATEWAY:
            mac = seen.advert.mac if seen.advert is not None and seen.advert.mac else seen.address
            return _GatewayCodec(mac)
        if self._header.is_legacy:
            raise self.error(
                LinkCondition.UNSUPPORTED,
                f"header {self._header} is a legacy (protocol < 5) lock: only V3 locks are "
                "supported by the session",
            )
        return _LockCodec(self._header)

    def _make_app(self, seen: SeenDevice) -> AppConnection:
        if self.kind is DeviceKind.GATEWAY:
            # Gateways have no pairing: the AppConnection serves for "one command in
            # flight, replies matched by opcode"; its lock view stays in setting mode.
            return AppConnection(setting_mode=True)
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
        return AppConnection(setting_mode=setting_mode, lock_key=self._lock_key)

    async def disconnect(self) -> None:
        """Close the connection (the next request reconnects)."""
        await self._reset_connection("disconnect requested")

    async def _reset_connection(self, reason: str) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.disconnected()
        pending = self._pending
        if pending is not None:
            # Our own close: bleak reports no drop, so without this the request in
            # flight would wait out its deadline and end as a response timeout.
            self._fail_pending(
                self.error(LinkCondition.DISCONNECTED, reason, command=pending.command)
            )
        if self._link.connected:
            logger.debug("%s: closing the link: %s", self.device, reason)
        await self._link.disconnect()

    async def aclose(self) -> None:
        """Disconnect and close the trace. Idempotent."""
        if self._closed:
            return
        try:
            await self._reset_connection("session closed")
        finally:
            self._closed = True
            self.trace.close()

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
        if self._busy.locked():
            busy = self._in_flight
            what = f"0x{busy:02x}" if busy is not None else "a command"
            raise self.error(LinkCondition.BUSY, f"{what} is still in flight", command=command)
        async with self._busy:
            self._in_flight = command
            try:
                return await self._request(command, plaintext, deadline, final, on_progress)
            finally:
                self._in_flight = None

    async def _request(
        self,
        command: int,
        plaintext: bytes,
        wait: float | None,
        final: FinalPredicate | None,
        on_progress: Callable[[bytes], object] | None,
    ) -> Answer:
        last_request.set(RequestInfo(self.device, command, self.kind, self.trace_path))
        try:
            await self.connect()
        except TTLockError as exc:
            if exc.command is None:
                exc.command = command  # the command that could not be sent
            raise
        app, codec = self._app, self._codec
        assert app is not None
        assert codec is not None
        frame, key = codec.encode(app, command, plaintext)
        loop = asyncio.get_running_loop()
        pending = _Pending(command, loop.create_future(), final, on_progress, time.monotonic())
        app.send(command)
        # The waiter exists before the first byte leaves (aioesphomeapi's rule).
        self._pending = pending
        try:
            self.trace.frame("tx", frame, key=key, verdict="sent")
            try:
                await self._link.send(frame, command=command)
            except TTLockError:
                self._stale = True  # a half-written frame may sit in the device
                raise
            deadline = wait if wait is not None else self.timeouts.command
            try:
                async with asyncio.timeout(deadline):
                    raw, reply_plaintext = await pending.future
            except TimeoutError as exc:
                if self._app is app:
                    app.timeout()
                self._stale = True
                self._link.reset_reassembler()
                self.trace.event(
                    "response-timeout",
                    command=f"0x{command:02x}",
                    seconds=deadline,
                    verdict=LinkCondition.RESPONSE_TIMEOUT.value,
                    code=link_code(LinkCondition.RESPONSE_TIMEOUT, self.plugin_version).code,
                )
                raise self.error(
                    LinkCondition.RESPONSE_TIMEOUT,
                    f"no reply within {deadline:g} s",
                    command=command,
                ) from exc
        finally:
            self._pending = None
            if not pending.future.done():
                pending.future.cancel()
            if self._app is app and app.pending == command:
                # Left without the reply (the caller cancelled us, or the reply was
                # unreadable): the app must stop waiting, or the next send is an
                # illegal transition and the late reply would pass for one nobody
                # asked for. The device may have acted: start over, as after a timeout.
                app.timeout()
                self._stale = True
        latency = time.monotonic() - pending.started
        outcome = codec.outcome(command, reply_plaintext)
        if not outcome.ok:
            raise codec.device_error(
                outcome,
                self.plugin_version,
                command=command,
                raw_reply=raw,
                trace_path=self.trace_path,
                device=self.device,
            )
        return Answer(command, reply_plaintext, raw, latency, tuple(pending.progress))

    # --- receiving -----------------------------------------------------------------

    def _fail_pending(self, error: TTLockError) -> None:
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(error)

    def _caller_failed(
        self, raw: bytes, key: bytes | None, pending: _Pending, error: Exception
    ) -> None:
        """A ``final``/``on_progress`` callback raised: the request ends with its error.

        Raised inside the notification callback it would only reach the loop's
        exception handler, and the request would wait for its whole deadline and
        end as a response timeout the device did not cause.
        """
        self._trace_rx(raw, key, "caller-error", None, error=type(error).__name__)
        if not pending.future.done():
            pending.future.set_exception(error)

    def _on_lost(self, reason: str) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.disconnected()
        pending = self._pending
        if pending is not None:
            self._fail_pending(
                self.error(LinkCondition.DISCONNECTED, reason, command=pending.command)
            )

    def _trace_rx(
        self, raw: bytes, key: bytes | None, verdict: str, code: int | None, **extra: Any
    ) -> None:
        if not self.trace.closed:
            self.trace.frame("rx", raw, key=key, verdict=verdict, code=code, **extra)

    def _learn_secrets(self, echo: int, plaintext: bytes) -> bytes | None:
        """Register secrets a reply carries before it is traced; the AES key if any."""
        if self.kind is not DeviceKind.LOCK:
            return None
        reply = parse_reply(plaintext)
        if not reply.ok:
            return None
        if echo == LockCommand.GET_AES_KEY:
            key = AesKeyReply.decode(reply.data).key
            self.redactor.add_bytes(key)
            return key
        if echo == LockCommand.CHECK_ADMIN:
            self.redactor.add_u32(CheckAdminReply.decode(reply.data).ps)
        elif echo == LockCommand.CHECK_USER_TIME:
            self.redactor.add_u32(CheckUserTimeReply.decode(reply.data).ps)
        return None

    def _on_frame(self, raw: bytes) -> None:
        app, codec = self._app, self._codec
        if app is None or codec is None:
            self._trace_rx(raw, None, "stray", None)
            return
        incoming = codec.decode(app, raw)
        pending = self._pending
        if incoming.problem is not None:
            code = link_code(incoming.problem, self.plugin_version).code
            self._trace_rx(raw, incoming.key, incoming.problem.value, code)
            if pending is not None and not pending.future.done():
                # The request's reply is unreadable: report it, and start over next time.
                self._stale = True
                self._fail_pending(
                    self.error(
                        incoming.problem,
                        incoming.detail,
                        command=pending.command,
                        raw_reply=raw,
                    )
                )
            return
        assert incoming.echo is not None
        assert incoming.plaintext is not None
        echo, plaintext = incoming.echo, incoming.plaintext
        outcome = codec.outcome(echo, plaintext)
        matched = pending is not None and echo == pending.command and not pending.future.done()
        is_final = True
        if matched:
            assert pending is not None
            predicate = pending.final
            if outcome.ok and predicate is not None:
                try:
                    is_final = predicate(plaintext)
                except Exception as exc:  # noqa: BLE001 - re-raised in the requesting task
                    self._caller_failed(raw, incoming.key, pending, exc)
                    return
            else:
                is_final = not outcome.processing
        try:
            key = self._learn_secrets(echo, plaintext) if matched else None
            result = app.receive(echo, success=outcome.ok, final=is_final, aes_key=key)
        except ProtocolError as exc:
            # IllegalTransition: the lock reported a success its own table forbids;
            # MessageError: a key reply that does not hold a key.
            code = link_code(LinkCondition.REPLY_UNPARSEABLE, self.plugin_version).code
            self._trace_rx(raw, incoming.key, LinkCondition.REPLY_UNPARSEABLE.value, code)
            if matched and pending is not None:
                self._stale = True
                self._fail_pending(
                    self.error(
                        LinkCondition.REPLY_UNPARSEABLE,
                        str(exc),
                        command=pending.command,
                        raw_reply=raw,
                    )
                )
            return
        if isinstance(result, Stray):
            push = codec.push(plaintext)
            if push is None:
                self._trace_rx(raw, incoming.key, "stray", None)
                return
            self._trace_rx(raw, incoming.key, "push", None)
            self._queue_event(DeviceEvent(self.device, push, raw, time.monotonic()))
            return
        assert pending is not None
        if key is not None:
            self._lock_key = key
        mapped = codec.code(outcome, self.plugin_version)
        if not result.final:
            pending.progress.append(plaintext)
            self._trace_rx(
                raw, incoming.key, "processing" if not outcome.ok else "progress", mapped
            )
            if pending.on_progress is not None:
                try:
                    pending.on_progress(plaintext)
                except Exception as exc:  # noqa: BLE001 - re-raised in the requesting task
                    self._caller_failed(raw, incoming.key, pending, exc)
            return
        self._trace_rx(raw, incoming.key, "ok" if outcome.ok else "device-error", mapped)
        pending.future.set_result((raw, plaintext))

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
        if self._busy.locked():
            raise self.error(LinkCondition.BUSY, "cannot drain while a command is in flight")
        await asyncio.sleep(0)  # let notifications already scheduled land first
        dropped = 0
        while not self._events.empty():
            self._events.get_nowait()
            dropped += 1
        partial = self._link.reset_reassembler()
        self.trace.event("drain", events=dropped, partial_bytes=len(partial))
        if self._stale:
            self._stale = False
            await self._reset_connection("stale link drained")
        return dropped
