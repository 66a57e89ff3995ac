"""The app role of a TTLock link, complete and sans-IO (docs/architecture.md §11.3, h11 style).

One object per connection and device kind: :class:`LockApp` for a V3 lock,
:class:`GatewayApp` for a G2/G3/G4 gateway. A message goes in, the bytes to write
come out; received bytes go in, events come out. The object makes every decision
the wire asks of an app, so that its callers (the harness session, the simulator
tests, the quick-start example) only move bytes and keep time:

* **Keys** (docs/protocol.md §3.1): the default key in setting mode and for every
  GET_AES_KEY, the lock's own key after that, the key a successful GET_AES_KEY hands
  over learnt from that reply; a gateway's key derived from its MAC (§7). The choice
  is :class:`~ttlock_hil.protocol.connection.AppConnection`'s, from the same tables
  the lock role runs.
* **Bytes**: requests framed and encrypted (§2.1, §2.3); notifications reassembled
  by length in any chunking (§1.1), CRC-checked, decrypted and split into the reply
  envelope (§4.1: ``[echo][status][data]``; gateway ``[status][data]``, §7).
* **Matching** (§4.1): the reply to the request in flight echoes its opcode; error
  byte 0x24 (lock) or status 2 (gateway) is an interim "processing" answer; an
  echo-0x14 notification of a push shape is a push; anything else is a stray (a
  duplicate, a late reply after :meth:`~_AppRole.timeout`).
* **Codes** (§5): every outcome carries its TTLock code for the plugin version, from
  :mod:`ttlock_hil.protocol.errormap`, with the fallbacks of :func:`answer_code`; an
  unreadable frame is a :class:`Problem` whose code is its
  :class:`~ttlock_hil.protocol.errormap.LinkCondition`'s.

::

    app = LockApp(setting_mode=False, lock_key=key)
    app.connected()
    app.subscribed()                               # notifications are on: requests may go out
    write(app.send(CheckAdmin(admin_ps)).data)     # bytes for the write characteristic
    for event in app.receive_data(notification):   # whatever arrived, in any chunking
        match event:
            case Replied(ok=True): challenge = event.message    # a CheckAdminReply
            case Replied(): print(event.error_byte, event.code.code)
            case Progress() | Pushed() | Stray() | Problem() | RuleFailed(): ...

Nothing here waits. A deadline is the caller's: when it passes, the caller calls
:meth:`~_AppRole.timeout` and a reply that comes later is a :class:`Stray` with
reason ``"late"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias, TypeVar

from .codes import DEFAULT_PLUGIN_VERSION, Code, ErrorCode, PluginVersion, VersionLike, lookup
from .commands import GatewayCommand, LockCommand, command_name
from .connection import (
    APP_TRANSITIONS,
    SETTING_MODE_STATES,
    AppConnection,
    AppEvent,
    AppState,
    Auth,
    KeyChoice,
    LockState,
    Verdict,
    transition,
)
from .crypto import gateway_key
from .device import DeviceKind
from .errormap import (
    GATEWAY_STATUS_FALLBACK,
    LOCK_ERROR_FALLBACK,
    LinkCondition,
    gateway_status_code,
    link_code,
    lock_error_code,
    require_gateway_codes,
)
from .errors import CrcMismatch, DecryptError, MessageError, ProtocolError
from .frame import (
    LOCK_TRAILER,
    V3_HEADER,
    GatewayFrame,
    LockFrame,
    LockHeader,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)
from .messages import (
    COMMAND_RECEIVED,
    GATEWAY_MESSAGES,
    AesKeyReply,
    GatewayReply,
    GatewayRequest,
    GatewayStatus,
    LogPush,
    ReplyData,
    Request,
    SsidScanReply,
    StatePush,
    decode_gateway_reply,
    decode_reply_data,
    parse_gateway_reply,
    parse_push,
    parse_reply,
)
from .reassembly import FrameReassembler

__all__ = [
    "Event",
    "FinalRule",
    "GatewayApp",
    "LockApp",
    "Outgoing",
    "Problem",
    "Progress",
    "Pushed",
    "Replied",
    "RuleFailed",
    "Stray",
    "answer_code",
]

FinalRule: TypeAlias = Callable[[bytes], bool]
"""Given the plaintext of a successful reply to the request in flight: is it the last one?

Without a rule every reply is final except "processing" ones. Enrolments say which
reply ends them (the card-added data, §10.2), the Wi-Fi scan its end marker (§7).
"""


def answer_code(
    kind: DeviceKind, error_byte: int | None, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION
) -> ErrorCode:
    """The TTLock code of a device's answer that is not a success (docs/protocol.md §5).

    ``error_byte`` is a lock reply's error byte (plaintext[2], §5.1) or a gateway
    reply's status byte (plaintext[0], §5.2). The fallback rules, one place for both
    roles of the mapping:

    * a failed lock reply without an error byte → :data:`LOCK_ERROR_FALLBACK` (19);
    * a gateway answer without a status byte, or with one past the table →
      :data:`GATEWAY_STATUS_FALLBACK` (128), the plugin's catch-all for gateways.

    A plugin before ``GATEWAY_CODES_SINCE`` (2.6.0) has no gateway codes at all: a
    gateway answer there raises :class:`~ttlock_hil.protocol.errors.UnknownCode`
    rather than get an invented code (a :class:`GatewayApp` refuses such a version
    when it is built).
    """
    if kind is DeviceKind.LOCK:
        if error_byte is None:
            return lookup(LOCK_ERROR_FALLBACK)
        return lock_error_code(error_byte, plugin_version)
    if error_byte is None:
        require_gateway_codes(plugin_version)
        return lookup(GATEWAY_STATUS_FALLBACK)
    return gateway_status_code(error_byte, plugin_version)


# --------------------------------------------------------------------------- what goes out


@dataclass(frozen=True, slots=True, repr=False)
class Outgoing:
    """A request ready for the write characteristic. ``key`` is secret: repr hides it."""

    command: int
    frame: bytes
    """The frame itself, CRC included (what a trace records)."""
    data: bytes
    """What to write: the frame, and ``0D 0A`` after a lock frame (§1.1)."""
    key: bytes
    """The AES key the payload was encrypted with (and its reply will be read with)."""

    def __bytes__(self) -> bytes:
        return self.data

    def __repr__(self) -> str:
        return f"Outgoing({command_name(self.command)}, {len(self.data)} bytes)"


# --------------------------------------------------------------------------- what comes in


@dataclass(frozen=True, slots=True, repr=False)
class _Answer:
    """A frame the app could read: a decrypted reply envelope and its outcome.

    ``error_byte`` is the lock's error byte (§5.1) or the gateway's status byte
    (§5.2) when the answer is not a success; ``code`` is its TTLock code for the
    plugin version (0 for a success). ``plaintext`` and ``key`` may be secret:
    reprs never show them.
    """

    kind: DeviceKind
    command: int
    ok: bool
    error_byte: int | None
    code: ErrorCode
    plaintext: bytes
    raw: bytes
    key: bytes | None = field(default=None, compare=False)

    @property
    def data(self) -> bytes:
        """What follows the envelope: lock plaintext[2:], gateway plaintext[1:]."""
        return self.plaintext[2:] if self.kind is DeviceKind.LOCK else self.plaintext[1:]

    @property
    def message(self) -> ReplyData | GatewayReply | SsidScanReply | None:
        """The typed reply where a class exists (:mod:`ttlock_hil.protocol.messages`).

        A lock reply that did not succeed carries no data (``None``); a gateway reply
        is always typed. Raises :class:`~ttlock_hil.protocol.errors.MessageError` when
        the data does not fit the command's layout, or no layout is documented.
        """
        if self.kind is DeviceKind.GATEWAY:
            if self.command in GATEWAY_MESSAGES:
                return decode_gateway_reply(self.command, self.plaintext)
            return parse_gateway_reply(self.plaintext)
        if not self.ok:
            return None
        return decode_reply_data(self.command, self.data)

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"error_byte={self.error_byte}"
        return (
            f"{type(self).__name__}({self.kind.value} {self._name()}, {outcome}, "
            f"code={self.code.code}, {len(self.plaintext)} plaintext bytes)"
        )

    def _name(self) -> str:
        if self.kind is DeviceKind.GATEWAY:
            try:
                return GatewayCommand(self.command).name
            except ValueError:
                return f"0x{self.command:02x}"
        return command_name(self.command)


@dataclass(frozen=True, slots=True, repr=False)
class Replied(_Answer):
    """The final reply to the request in flight: the request is over, the app is idle."""


@dataclass(frozen=True, slots=True, repr=False)
class Progress(_Answer):
    """An interim reply: the request stays in flight.

    ``processing`` is true for "accepted, still working" (lock error byte 0x24, §4.1;
    gateway status 2, §5.2), false for a success the ``final`` rule did not accept
    (an enrolment step, one Wi-Fi scan result).
    """

    processing: bool = False


@dataclass(frozen=True, slots=True, repr=False)
class Stray(_Answer):
    """A readable frame nobody waits for. ``reason``: ``"late"`` for the reply to a request
    the app stopped waiting for, ``"unexpected"`` for anything else (a duplicate, an echo
    of another opcode)."""

    reason: str = "unexpected"


@dataclass(frozen=True, slots=True, repr=False)
class Pushed:
    """An unsolicited lock frame (§4.1): the state heartbeat or a log-written push."""

    push: StatePush | LogPush
    raw: bytes
    key: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Pushed({self.push!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Problem:
    """A frame the app could not read, with the TTLock code of its condition (§5.3).

    ``ended`` is the opcode of the request in flight, which this frame ended (the app
    stopped waiting: its reply was unreadable), or ``None`` when nothing was in flight.
    """

    condition: LinkCondition
    code: ErrorCode
    detail: str
    raw: bytes
    ended: int | None = None
    key: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        ended = "" if self.ended is None else f", ended 0x{self.ended:02x}"
        return f"Problem({self.condition.value}, code={self.code.code}{ended}: {self.detail})"


@dataclass(frozen=True, slots=True, repr=False)
class RuleFailed:
    """The ``final`` rule given to ``send()`` raised on the reply to the request in flight.

    The app stopped waiting (as after ``timeout()``); ``error`` is what the rule raised,
    for the caller to re-raise where the request was made.
    """

    command: int
    error: Exception
    raw: bytes
    key: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"RuleFailed(0x{self.command:02x}, {type(self.error).__name__})"


Event: TypeAlias = Replied | Progress | Stray | Pushed | Problem | RuleFailed
"""Everything :meth:`~_AppRole.receive_data` can report."""


@dataclass(frozen=True, slots=True)
class _Opened:
    """A frame decrypted down to its envelope: ``(echo, plaintext)``."""

    echo: int
    plaintext: bytes


@dataclass(frozen=True, slots=True)
class _Unreadable:
    condition: LinkCondition
    detail: str


# --------------------------------------------------------------------------- the roles


class _AppRole:
    """What a lock app and a gateway app share: the connection, reassembly, events."""

    kind: ClassVar[DeviceKind]

    def __init__(self, connection: AppConnection, plugin_version: VersionLike) -> None:
        self._conn = connection
        self.plugin_version = PluginVersion.parse(plugin_version)
        self._reassembler = FrameReassembler(self.kind)
        self._rule: FinalRule | None = None
        self._given_up: int | None = None  # opcode whose reply would now be late

    # --- state ---------------------------------------------------------------------

    @property
    def state(self) -> AppState:
        return self._conn.state

    @property
    def pending(self) -> int | None:
        """Opcode of the request in flight, if any."""
        return self._conn.pending

    @property
    def partial(self) -> bytes:
        """Bytes received that do not complete a frame yet."""
        return self._reassembler.pending

    # --- the link ------------------------------------------------------------------

    def connected(self) -> None:
        """The link is up; notifications are not on yet (nothing may be sent, §1.1)."""
        self._conn.connected()

    def subscribed(self) -> None:
        """Notifications are on: requests may be sent."""
        self._conn.subscribed()

    def disconnected(self) -> None:
        """The link is gone (our close or the peer's drop). Terminal: a new link, a new app."""
        self._conn.disconnected()
        self._reassembler.reset()
        self._rule = None

    # --- requests ------------------------------------------------------------------

    def _send(self, command: int, plaintext: bytes, final: FinalRule | None) -> Outgoing:
        # Checked before anything changes: a request that cannot go out leaves no trace.
        transition(APP_TRANSITIONS, self._conn.state, AppEvent.SEND, role=self._conn.role)
        frame, key, data = self._encode(command, plaintext)
        self._conn.send(command)
        self._rule = final
        self._given_up = None
        return Outgoing(command, frame, data, key)

    def timeout(self) -> int:
        """The caller stopped waiting for the request in flight; returns its opcode.

        Its deadline passed, or its caller went away. A half-received frame is
        dropped (the rest of it will not come on this request's behalf), and the
        reply, should it still arrive, is a :class:`Stray` with reason ``"late"``.
        """
        command = self._stop_waiting()
        self._reassembler.reset()
        return command

    def _stop_waiting(self) -> int:
        command = self._conn.timeout()
        self._given_up = command
        self._rule = None
        return command

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed what arrived on the notify characteristic; the events it completes, in order.

        Any chunking works: a frame ends where its length byte says (§1.1). Raises
        :class:`~ttlock_hil.protocol.errors.IllegalTransition` before the link is up
        or after it is gone.
        """
        transition(APP_TRANSITIONS, self._conn.state, AppEvent.STRAY, role=self._conn.role)
        return [self._handle(raw) for raw in self._reassembler.feed(data)]

    # --- one frame -----------------------------------------------------------------

    def _handle(self, raw: bytes) -> Event:
        key = self._reply_key()
        opened = self._open(raw, key)
        if isinstance(opened, _Unreadable):
            return self._problem(opened.condition, opened.detail, raw, key)
        echo, plaintext = opened.echo, opened.plaintext
        ok, error_byte, processing = self._outcome(echo, plaintext)
        code = lookup(Code.OK) if ok else answer_code(self.kind, error_byte, self.plugin_version)
        answer = (self.kind, echo, ok, error_byte, code, plaintext, raw, key)
        if self._conn.state is not AppState.AWAITING_REPLY or echo != self._conn.pending:
            self._conn.receive(echo, success=ok)
            # The reply to a request given up on, even in a push's shape: the status
            # reply is one (§4.1, "depends on what the app sent"), and the app sent it.
            if echo == self._given_up:
                return Stray(*answer, reason="late")
            push = self._push(echo, plaintext) if ok else None
            if push is not None:
                return Pushed(push, raw, key)
            return Stray(*answer, reason="unexpected")
        final = not processing
        if ok and self._rule is not None:
            try:
                final = bool(self._rule(plaintext))
            except Exception as exc:  # noqa: BLE001 - the caller's error, handed back as an event
                self._stop_waiting()
                return RuleFailed(echo, exc, raw, key)
        learnt: bytes | None = None
        if ok and final and echo == LockCommand.GET_AES_KEY and self.kind is DeviceKind.LOCK:
            try:
                learnt = AesKeyReply.decode(plaintext[2:]).key
            except MessageError as exc:
                return self._problem(LinkCondition.REPLY_UNPARSEABLE, str(exc), raw, key)
        try:
            self._conn.receive(echo, success=ok, final=final, aes_key=learnt)
        except ProtocolError as exc:
            # The lock reported a success its own table forbids (IllegalTransition of
            # "lock (app view)"): a reply the app cannot believe is a reply it cannot read.
            return self._problem(LinkCondition.REPLY_UNPARSEABLE, str(exc), raw, key)
        if not final:
            return Progress(*answer, processing=processing)
        self._rule = None
        return Replied(*answer)

    def _problem(
        self, condition: LinkCondition, detail: str, raw: bytes, key: bytes | None
    ) -> Problem:
        """An unreadable frame; while a request is in flight it was its reply: that ends it."""
        ended = None
        if self._conn.state is AppState.AWAITING_REPLY:
            ended = self._stop_waiting()  # bytes after this frame are kept: a frame may follow
        code = link_code(condition, self.plugin_version)
        return Problem(condition, code, detail, raw, ended, key)

    # --- per kind --------------------------------------------------------------------

    def _encode(self, command: int, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        """(frame, key, data to write)."""
        raise NotImplementedError

    def _reply_key(self) -> bytes:
        raise NotImplementedError

    def _open(self, raw: bytes, key: bytes) -> _Opened | _Unreadable:
        raise NotImplementedError

    def _outcome(self, echo: int, plaintext: bytes) -> tuple[bool, int | None, bool]:
        """(ok, error byte or status when not ok, processing)."""
        raise NotImplementedError

    def _push(self, echo: int, plaintext: bytes) -> StatePush | LogPush | None:
        return None


_F = TypeVar("_F", LockFrame, GatewayFrame)


def _parse(raw: bytes, expected: type[_F], link: str) -> _F | _Unreadable:
    """The frame, or why it is unreadable; a bad CRC wins over everything else (code 1)."""
    try:
        frame = parse_frame(raw)
    except CrcMismatch as exc:
        return _Unreadable(LinkCondition.REPLY_CRC_ERROR, str(exc))
    except ProtocolError as exc:
        return _Unreadable(LinkCondition.REPLY_UNPARSEABLE, str(exc))
    if isinstance(frame, expected):
        return frame
    # The reassembler keeps only frames with this link's magic: a legacy lock frame.
    return _Unreadable(LinkCondition.REPLY_UNPARSEABLE, f"a {frame.kind.value} frame on {link}")


class LockApp(_AppRole):
    """The app role towards one V3 lock over one connection (docs/protocol.md §2.1, §4).

    ``setting_mode`` is what the app believes before connecting (the advert's bit,
    §6): then the default key is used until GET_AES_KEY is answered. A paired lock
    needs ``lock_key`` (lockData ``aesKey``). ``header`` goes on every request (the
    vendor sends 5.3.1.1.1, §2.1). The app never refuses to send what the lock will
    refuse (tests send it on purpose); :meth:`predict` tells what the lock should answer.
    """

    kind = DeviceKind.LOCK

    def __init__(
        self,
        *,
        setting_mode: bool,
        lock_key: bytes | None = None,
        header: LockHeader = V3_HEADER,
        plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION,
    ) -> None:
        if header.is_legacy:
            raise ProtocolError(
                f"header {header} is a legacy (protocol type < 5) lock: the app role speaks V3"
            )
        super().__init__(
            AppConnection(setting_mode=setting_mode, lock_key=lock_key), plugin_version
        )
        self.header = header

    def __repr__(self) -> str:
        # Never the key: secrets stay out of reprs and logs.
        return f"<LockApp {self._conn!r}>"

    @property
    def lock_view(self) -> LockState:
        """The lock's state as the replies so far say it must be."""
        return self._conn.lock_view

    @property
    def setting_mode(self) -> bool:
        """Whether the lock is in setting mode, as the replies so far say."""
        return self._conn.lock_view in SETTING_MODE_STATES

    @property
    def auth(self) -> Auth:
        """What this connection has proved to the lock."""
        return self._conn.auth

    @property
    def key_choice(self) -> KeyChoice:
        return self._conn.key_choice

    @property
    def lock_key(self) -> bytes | None:
        """The lock's key: given at construction or learnt from GET_AES_KEY."""
        return self._conn.lock_key

    def predict(self, command: int) -> Verdict:
        """What the lock should answer to ``command`` now (the shared gate table)."""
        return self._conn.predict(command)

    def send(
        self,
        request: Request | int,
        plaintext: bytes | None = None,
        *,
        final: FinalRule | None = None,
    ) -> Outgoing:
        """The request to write: a message, or an opcode with its plaintext.

        It becomes the one in flight (:class:`IllegalTransition` while another is).
        """
        if isinstance(request, Request):
            if plaintext is not None:
                raise ProtocolError("send a message, or an opcode with its plaintext, not both")
            return self._send(request.COMMAND, request.encode(), final)
        return self._send(request, plaintext or b"", final)

    def _encode(self, command: int, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        key = self._conn.key_for(command)
        frame = encode_lock_command(command, plaintext, key, header=self.header)
        return frame, key, frame + LOCK_TRAILER

    def _reply_key(self) -> bytes:
        return self._conn.reply_key

    def _open(self, raw: bytes, key: bytes) -> _Opened | _Unreadable:
        frame = _parse(raw, LockFrame, "a V3 lock link")
        if isinstance(frame, _Unreadable):
            return frame
        try:
            plaintext = frame.decrypt(key)
        except DecryptError as exc:
            return _Unreadable(LinkCondition.REPLY_UNDECRYPTABLE, str(exc))
        try:
            reply = parse_reply(plaintext)
        except MessageError as exc:
            return _Unreadable(LinkCondition.REPLY_UNPARSEABLE, str(exc))
        return _Opened(reply.command, plaintext)

    def _outcome(self, echo: int, plaintext: bytes) -> tuple[bool, int | None, bool]:
        reply = parse_reply(plaintext)
        if reply.ok:
            return True, None, False
        return False, reply.error_byte, reply.error_byte == COMMAND_RECEIVED

    def _push(self, echo: int, plaintext: bytes) -> StatePush | LogPush | None:
        try:
            return parse_push(parse_reply(plaintext))
        except MessageError:  # the push shape, but not a valid push: a stray
            return None


class GatewayApp(_AppRole):
    """The app role towards one gateway over one connection (docs/protocol.md §2.3, §7).

    The key is AES of the reversed ``mac`` (§7); replies come in a frame with the
    request's opcode, plaintext ``[status][data]``. Gateways have no pairing and no
    login: the connection's lock view stays in setting mode and only serves "one
    request in flight, replies matched by opcode".
    """

    kind = DeviceKind.GATEWAY

    def __init__(
        self, mac: str | bytes, *, plugin_version: VersionLike = DEFAULT_PLUGIN_VERSION
    ) -> None:
        require_gateway_codes(plugin_version)
        super().__init__(AppConnection(setting_mode=True), plugin_version)
        self._key = gateway_key(mac)

    def __repr__(self) -> str:
        return f"<GatewayApp state={self.state.value}>"

    @property
    def auth(self) -> Auth:
        """Gateways have no login (§7): always :attr:`Auth.NONE`."""
        return Auth.NONE

    def send(
        self,
        request: GatewayRequest | int,
        plaintext: bytes | None = None,
        *,
        final: FinalRule | None = None,
    ) -> Outgoing:
        """The request to write: a message, or an opcode with its plaintext."""
        if isinstance(request, GatewayRequest):
            if plaintext is not None:
                raise ProtocolError("send a message, or an opcode with its plaintext, not both")
            return self._send(request.COMMAND, request.encode(), final)
        return self._send(request, plaintext or b"", final)

    def _encode(self, command: int, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        frame = encode_gateway_command(command, plaintext, self._key)
        return frame, self._key, frame

    def _reply_key(self) -> bytes:
        return self._key

    def _open(self, raw: bytes, key: bytes) -> _Opened | _Unreadable:
        frame = _parse(raw, GatewayFrame, "a gateway link")
        if isinstance(frame, _Unreadable):
            return frame
        try:
            plaintext = frame.decrypt(key)
        except DecryptError as exc:
            return _Unreadable(LinkCondition.REPLY_UNDECRYPTABLE, str(exc))
        if not plaintext:
            return _Unreadable(LinkCondition.REPLY_UNPARSEABLE, "empty reply plaintext")
        return _Opened(frame.command, plaintext)

    def _outcome(self, echo: int, plaintext: bytes) -> tuple[bool, int | None, bool]:
        status = plaintext[0]
        # The SSID scan ends with status 5 "done" (§7): that is its success.
        done = echo == GatewayCommand.GET_NEARBY_SSID and status == GatewayStatus.DONE
        if status == GatewayStatus.SUCCESS or done:
            return True, None, False
        return False, status, status == GatewayStatus.PROCESSING
