"""Sans-IO connection state machines for the two roles of a lock link (h11 style).

Each role is an ``Enum`` of states, one transition table ``{(state, event): state}``
and a small class that fires events into it; a move the table does not list
raises :class:`~ttlock_hil.protocol.errors.IllegalTransition` and changes nothing.

* :class:`LockConnection` is the **lock** role: setting mode → key handed out →
  paired, and the per-connection login (docs/protocol.md §4.3). It also decides,
  from a second table of data (:data:`GATE_RULES`), whether a command is
  allowed right now and, if not, which error byte the lock answers (§4.2 auth
  column, §5.1 bytes). The virtual lock drives it.
* :class:`AppConnection` is the **app** role: link up, notifications wired, one
  command in flight, replies matched to the request by their echoed opcode (§4.1:
  a push can arrive before the reply). It keeps a :class:`LockConnection` as
  its view of the lock, fed with the replies it receives, so the app's idea of
  login and key can never drift from the simulator's: both run the same table.

Nothing here knows about bytes on the wire: :mod:`ttlock_hil.protocol.app` (the
app role's frames, keys and events) and the virtual lock (the lock role) parse
frames and report opcodes and outcomes to these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, TypeVar

from .commands import LockCommand
from .crypto import DEFAULT_LOCK_KEY, KEY_SIZE
from .errormap import LockError
from .errors import IllegalTransition, MessageError, ProtocolError

_S = TypeVar("_S", bound=Enum)
_E = TypeVar("_E", bound=Enum)


def transition(table: Mapping[tuple[_S, _E], _S], state: _S, event: _E, *, role: str) -> _S:
    """The state ``event`` leads to from ``state``; :class:`IllegalTransition` if none."""
    try:
        return table[(state, event)]
    except KeyError:
        raise IllegalTransition(role=role, state=str(state.value), event=str(event.value)) from None


class KeyChoice(StrEnum):
    """Which AES key a frame is encrypted with (docs/protocol.md §3.1 key lifecycle)."""

    DEFAULT = "default"  # the factory key: setting mode and every GET_AES_KEY exchange
    LOCK = "lock"  # the lock's own key, handed out by GET_AES_KEY


class Auth(StrEnum):
    """What the current connection has proved to the lock (§4.3 logins)."""

    NONE = "none"
    ADMIN_CHALLENGED = "admin_challenged"  # 0x41 answered: may 0x30 (login) or 0x47/0x58 as admin
    ADMIN = "admin"  # 0x30 accepted, or the admin was added on this very connection
    USER_CHALLENGED = "user_challenged"  # 0x55 answered: may 0x47/0x58 as a user


# --------------------------------------------------------------------------- lock role


class LockState(Enum):
    """Where a lock is: its pairing (persisted) and, while connected, the login."""

    # Factory state: no admin, nobody connected; the advert has the setting-mode bit (§6).
    SETTING_MODE = "setting_mode"
    # Still in setting mode, an app connected; every frame uses the default key.
    SETTING_MODE_CONNECTED = "setting_mode_connected"
    # GET_AES_KEY answered: the new key is handed out and ADD_ADMIN must come with it (§4.3 step 3).
    KEY_ISSUED = "key_issued"
    # An admin exists (paired), nobody connected.
    PAIRED_IDLE = "paired_idle"
    # Paired, an app connected, nothing proved yet: only open commands (0x14, 0x34, …) work.
    CONNECTED = "connected"
    # 0x41 CHECK_ADMIN answered with psFromLock: 0x30 completes the admin login, 0x47/0x58 open.
    ADMIN_CHALLENGED = "admin_challenged"
    # Admin logged in (0x30 accepted, or ADD_ADMIN succeeded on this connection during init);
    # a later user login (0x55) keeps it (our decision, issue 13 deviation 4).
    ADMIN = "admin"
    # 0x55 CHECK_USER_TIME answered: the user's validity window covers now; 0x47/0x58 open.
    USER_CHALLENGED = "user_challenged"


class LockEvent(Enum):
    """What happens to a lock; command outcomes are mapped by :data:`RESULT_EVENTS`."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    COMMAND = "command"  # a command handled (or refused) without changing the state
    KEY_ISSUED = "key_issued"  # 0x19 GET_AES_KEY succeeded
    ADMIN_ADDED = "admin_added"  # 0x56 ADD_ADMIN succeeded
    ADMIN_CHALLENGE = "admin_challenge"  # 0x41 CHECK_ADMIN succeeded
    ADMIN_VERIFIED = "admin_verified"  # 0x30 CHECK_RANDOM succeeded
    USER_CHALLENGE = "user_challenge"  # 0x55 CHECK_USER_TIME succeeded
    LOGIN_FAILED = "login_failed"  # 0x41, 0x30 or 0x55 failed or was refused
    RESET = "reset"  # 0x52 RESET_LOCK succeeded


_L = LockState
_LE = LockEvent

LOCK_TRANSITIONS: Final[dict[tuple[LockState, LockEvent], LockState]] = {
    (_L.SETTING_MODE, _LE.CONNECT): _L.SETTING_MODE_CONNECTED,
    (_L.SETTING_MODE_CONNECTED, _LE.COMMAND): _L.SETTING_MODE_CONNECTED,
    (_L.SETTING_MODE_CONNECTED, _LE.LOGIN_FAILED): _L.SETTING_MODE_CONNECTED,
    (_L.SETTING_MODE_CONNECTED, _LE.KEY_ISSUED): _L.KEY_ISSUED,
    (_L.SETTING_MODE_CONNECTED, _LE.DISCONNECT): _L.SETTING_MODE,
    (_L.KEY_ISSUED, _LE.COMMAND): _L.KEY_ISSUED,
    (_L.KEY_ISSUED, _LE.LOGIN_FAILED): _L.KEY_ISSUED,
    (_L.KEY_ISSUED, _LE.KEY_ISSUED): _L.KEY_ISSUED,  # asked again: a fresh key replaces it
    (_L.KEY_ISSUED, _LE.ADMIN_ADDED): _L.ADMIN,  # init goes on without a login (§4.3 steps 4-8)
    # Our decision: a key handed out but never used is forgotten with the link; the next
    # app starts the init over (§3.1: re-initialisation starts from step 1).
    (_L.KEY_ISSUED, _LE.DISCONNECT): _L.SETTING_MODE,
    (_L.PAIRED_IDLE, _LE.CONNECT): _L.CONNECTED,
    (_L.CONNECTED, _LE.COMMAND): _L.CONNECTED,
    (_L.CONNECTED, _LE.ADMIN_CHALLENGE): _L.ADMIN_CHALLENGED,
    (_L.CONNECTED, _LE.USER_CHALLENGE): _L.USER_CHALLENGED,
    (_L.CONNECTED, _LE.LOGIN_FAILED): _L.CONNECTED,
    (_L.CONNECTED, _LE.DISCONNECT): _L.PAIRED_IDLE,
    (_L.ADMIN_CHALLENGED, _LE.COMMAND): _L.ADMIN_CHALLENGED,
    (_L.ADMIN_CHALLENGED, _LE.ADMIN_VERIFIED): _L.ADMIN,
    (_L.ADMIN_CHALLENGED, _LE.ADMIN_CHALLENGE): _L.ADMIN_CHALLENGED,
    (_L.ADMIN_CHALLENGED, _LE.USER_CHALLENGE): _L.USER_CHALLENGED,
    (_L.ADMIN_CHALLENGED, _LE.LOGIN_FAILED): _L.CONNECTED,
    (_L.ADMIN_CHALLENGED, _LE.DISCONNECT): _L.PAIRED_IDLE,
    (_L.ADMIN, _LE.COMMAND): _L.ADMIN,
    (_L.ADMIN, _LE.ADMIN_CHALLENGE): _L.ADMIN_CHALLENGED,  # a new login starts over
    # A user login (0x55) answered on an admin connection: the admin login stays for the
    # whole connection, as in the vendor flow and KIND3R (issue 13 deviation 4); 0x47/0x58
    # then operate with the user's challenge. Our decision, to be checked on hardware.
    (_L.ADMIN, _LE.USER_CHALLENGE): _L.ADMIN,
    # Our decision: a failed login step revokes what the connection had proved.
    (_L.ADMIN, _LE.LOGIN_FAILED): _L.CONNECTED,
    (_L.ADMIN, _LE.RESET): _L.SETTING_MODE_CONNECTED,
    (_L.ADMIN, _LE.DISCONNECT): _L.PAIRED_IDLE,
    (_L.USER_CHALLENGED, _LE.COMMAND): _L.USER_CHALLENGED,
    (_L.USER_CHALLENGED, _LE.ADMIN_CHALLENGE): _L.ADMIN_CHALLENGED,
    (_L.USER_CHALLENGED, _LE.USER_CHALLENGE): _L.USER_CHALLENGED,
    (_L.USER_CHALLENGED, _LE.LOGIN_FAILED): _L.CONNECTED,
    (_L.USER_CHALLENGED, _LE.DISCONNECT): _L.PAIRED_IDLE,
}

_C = LockCommand
RESULT_EVENTS: Final[dict[tuple[int, bool], LockEvent]] = {
    (_C.GET_AES_KEY, True): _LE.KEY_ISSUED,
    (_C.ADD_ADMIN, True): _LE.ADMIN_ADDED,
    (_C.CHECK_ADMIN, True): _LE.ADMIN_CHALLENGE,
    (_C.CHECK_RANDOM, True): _LE.ADMIN_VERIFIED,
    (_C.CHECK_USER_TIME, True): _LE.USER_CHALLENGE,
    (_C.RESET_LOCK, True): _LE.RESET,
    (_C.CHECK_ADMIN, False): _LE.LOGIN_FAILED,
    (_C.CHECK_RANDOM, False): _LE.LOGIN_FAILED,
    (_C.CHECK_USER_TIME, False): _LE.LOGIN_FAILED,
}
"""``(opcode, success)`` → event; every other outcome is :attr:`LockEvent.COMMAND`."""

SETTING_MODE_STATES: Final = frozenset({_L.SETTING_MODE, _L.SETTING_MODE_CONNECTED, _L.KEY_ISSUED})
CONNECTED_STATES: Final = frozenset(
    s for s in LockState if s not in {_L.SETTING_MODE, _L.PAIRED_IDLE}
)

_AUTH_OF_STATE: Final = {
    _L.ADMIN_CHALLENGED: Auth.ADMIN_CHALLENGED,
    _L.ADMIN: Auth.ADMIN,
    _L.USER_CHALLENGED: Auth.USER_CHALLENGED,
}


class Gate(StrEnum):
    """What a command needs before the lock executes it (§4.2 "auth" column)."""

    OPEN = "open"  # nothing: any connected app
    SETUP = "setup"  # setting mode (0x19 GET_AES_KEY, 0x45 INITIALIZATION)
    ADD_ADMIN = "add_admin"  # setting mode with the key handed out (0x56)
    LOGIN = "login"  # a paired lock: the first login step (0x41, 0x55)
    ANSWER = "answer"  # a pending 0x41 challenge (0x30 CHECK_RANDOM)
    OPERATE = "operate"  # any login step done (0x47 UNLOCK, 0x58 FUNCTION_LOCK)
    ADMIN = "admin"  # admin logged in: everything else


COMMAND_GATES: Final[dict[int, Gate]] = {
    # §4.3 "Admin-gating confirmed on hardware": 0x34 and 0x14 work without 41+30.
    _C.SEARCH_STATUS: Gate.OPEN,
    _C.GET_LOCK_TIME: Gate.OPEN,
    # §4.2: both KIND3R and TTLOCK-BLE read the log without a login on hardware.
    _C.GET_OPERATE_LOG: Gate.OPEN,
    # §4.2: KIND3R sends it before any login on every connect (and works).
    _C.SEARCH_DEVICE_FEATURE: Gate.OPEN,
    # §10.1.1: SDK 3.3.1 sends the Wi-Fi commands 0xF2-0xF6 right after connecting, with
    # no 0x41/0x30; the newest SDK still does for 0xF2 and 0xF6 ("a lock has to accept"
    # them, *inf.*). 0xFA and 0x8F come after an admin login (the default gate).
    _C.WIFI_SCAN: Gate.OPEN,
    _C.WIFI_CONFIG_AP: Gate.OPEN,
    _C.WIFI_CONFIG_STATIC_IP: Gate.OPEN,
    _C.WIFI_CONFIG_SERVER: Gate.OPEN,
    _C.WIFI_GET_INFO: Gate.OPEN,
    _C.GET_AES_KEY: Gate.SETUP,
    _C.INITIALIZATION: Gate.SETUP,
    _C.ADD_ADMIN: Gate.ADD_ADMIN,
    _C.CHECK_ADMIN: Gate.LOGIN,
    _C.CHECK_USER_TIME: Gate.LOGIN,
    _C.CHECK_RANDOM: Gate.ANSWER,
    _C.UNLOCK: Gate.OPERATE,
    _C.FUNCTION_LOCK: Gate.OPERATE,
}
"""Opcode → gate. Anything not listed needs an admin login, as §4.2 says of nearly
every other command (hardware-confirmed for 0x62, 0x03, 0x36, 0x43, 0x06)."""


def gate_of(command: int) -> Gate:
    """The gate ``command`` must pass (:data:`COMMAND_GATES`, default :attr:`Gate.ADMIN`)."""
    return COMMAND_GATES.get(command, Gate.ADMIN)


@dataclass(frozen=True, slots=True)
class GateRule:
    """Where a gate lets commands through, and what the lock answers elsewhere."""

    allowed: frozenset[LockState]
    refused_in_setting_mode: LockError | None  # error byte while in a setting-mode state
    refused_when_paired: LockError | None  # error byte on a paired lock


_PAIRED_CONNECTED: Final = frozenset(
    {_L.CONNECTED, _L.ADMIN_CHALLENGED, _L.ADMIN, _L.USER_CHALLENGED}
)
_R = LockError

# The refusal bytes are our reading of §5.1 names; no capture shows them, except the
# shape "admin command without 41+30 is rejected" (§4.3). In setting mode only status
# and setup commands work: everything else is "lock in setting mode" (5).
GATE_RULES: Final[dict[Gate, GateRule]] = {
    Gate.OPEN: GateRule(CONNECTED_STATES, None, None),
    Gate.SETUP: GateRule(
        frozenset({_L.SETTING_MODE_CONNECTED, _L.KEY_ISSUED}), None, _R.NOT_IN_SETTING_MODE
    ),
    # ADD_ADMIN before GET_AES_KEY: no source shows it (the vendor always asks for the key
    # first); we answer "failed, undefined".
    Gate.ADD_ADMIN: GateRule(frozenset({_L.KEY_ISSUED}), _R.OPERATE_FAILED, _R.NOT_IN_SETTING_MODE),
    Gate.LOGIN: GateRule(_PAIRED_CONNECTED, _R.IN_SETTING_MODE, None),
    Gate.ANSWER: GateRule(frozenset({_L.ADMIN_CHALLENGED}), _R.IN_SETTING_MODE, _R.NO_PERMISSION),
    Gate.OPERATE: GateRule(
        frozenset({_L.ADMIN_CHALLENGED, _L.ADMIN, _L.USER_CHALLENGED}),
        _R.IN_SETTING_MODE,
        _R.USER_NOT_LOGIN,  # LockConnection(operate_refusal=…) overrides it
    ),
    Gate.ADMIN: GateRule(frozenset({_L.ADMIN}), _R.IN_SETTING_MODE, _R.NO_PERMISSION),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the lock executes ``command`` now; if not, the error byte it answers."""

    command: int
    gate: Gate
    allowed: bool
    error: int | None = None
    reason: str = ""


def _check_opcode(command: int) -> None:
    if not 0 <= command <= 0xFF:
        raise ProtocolError(f"an opcode is one byte, got {command}")


class LockConnection:
    """The lock role: pairing, per-connection login, command gating. No I/O.

    The virtual lock calls :meth:`connect` / :meth:`disconnect` with the link,
    :meth:`on_command` for each decrypted request (answering ``verdict.error``
    when refused) and :meth:`on_result` once it has executed an allowed one.

    ``operate_refusal`` is the byte answered to 0x47/0x58 without any login:
    0x12 USER_NOT_LOGIN by default; the vendor's ``LockError`` also has 0x02
    NO_PERMISSION, which some firmware may use instead. No capture settles which
    (docs/protocol.md has none), so a lock model can choose.
    """

    def __init__(
        self,
        *,
        setting_mode: bool = True,
        operate_refusal: int = LockError.USER_NOT_LOGIN,
        role: str = "lock",
    ) -> None:
        self._state = LockState.SETTING_MODE if setting_mode else LockState.PAIRED_IDLE
        self._operate_refusal = operate_refusal
        self.role = role

    def __repr__(self) -> str:
        return f"<LockConnection {self.role} state={self._state.value}>"

    @property
    def state(self) -> LockState:
        return self._state

    @property
    def auth(self) -> Auth:
        """What the current connection has proved (``NONE`` when disconnected)."""
        return _AUTH_OF_STATE.get(self._state, Auth.NONE)

    @property
    def setting_mode(self) -> bool:
        """True until an admin is added: the advert's setting-mode bit (§6)."""
        return self._state in SETTING_MODE_STATES

    @property
    def connected(self) -> bool:
        return self._state in CONNECTED_STATES

    @property
    def key_choice(self) -> KeyChoice:
        """Key of the next request other than GET_AES_KEY (see :meth:`key_for`)."""
        if self._state in (LockState.SETTING_MODE, LockState.SETTING_MODE_CONNECTED):
            return KeyChoice.DEFAULT
        return KeyChoice.LOCK

    def key_for(self, command: int) -> KeyChoice:
        """Key that encrypts ``command`` and its reply now.

        GET_AES_KEY always travels under the default key (§3.1, vendor ``a.f``
        resets the key before it), even when asked again after a key was issued.
        """
        if command == LockCommand.GET_AES_KEY:
            return KeyChoice.DEFAULT
        return self.key_choice

    def _fire(self, event: LockEvent) -> LockState:
        self._state = transition(LOCK_TRANSITIONS, self._state, event, role=self.role)
        return self._state

    def connect(self) -> LockState:
        """A central connected: login state starts from nothing."""
        return self._fire(LockEvent.CONNECT)

    def disconnect(self) -> LockState:
        """The link dropped: the login is lost, the pairing stays."""
        return self._fire(LockEvent.DISCONNECT)

    def predict(self, command: int) -> Verdict:
        """What the lock would do with ``command`` now; changes nothing."""
        _check_opcode(command)
        # A command can only arrive over a link: checked against the table.
        transition(LOCK_TRANSITIONS, self._state, LockEvent.COMMAND, role=self.role)
        gate = gate_of(command)
        rule = GATE_RULES[gate]
        if self._state in rule.allowed:
            return Verdict(command, gate, allowed=True)
        if gate is Gate.OPERATE and not self.setting_mode:
            error: int | None = self._operate_refusal
        elif self.setting_mode:
            error = rule.refused_in_setting_mode
        else:
            error = rule.refused_when_paired
        if error is None:  # pragma: no cover - GATE_RULES covers every refusal (tested)
            raise AssertionError(f"GATE_RULES has no refusal for {gate} in {self._state}")
        reason = f"0x{command:02x} needs gate {gate.value!r}, lock is {self._state.value!r}"
        return Verdict(command, gate, allowed=False, error=error, reason=reason)

    def on_command(self, command: int) -> Verdict:
        """Gate a received command. A refusal counts as that command failing.

        Raises :class:`IllegalTransition` when no app is connected.
        """
        verdict = self.predict(command)
        if not verdict.allowed:
            self._fire(RESULT_EVENTS.get((command, False), LockEvent.COMMAND))
        return verdict

    def on_result(self, command: int, *, success: bool) -> LockState:
        """Record the outcome of an executed command; returns the new state.

        Raises :class:`IllegalTransition` when the outcome is impossible here
        (e.g. ADD_ADMIN succeeding on a paired lock): a bug in the lock model,
        or, on the app side, a lock that broke the protocol.
        """
        self._state = self.outcome(command, success=success)
        return self._state

    def outcome(self, command: int, *, success: bool) -> LockState:
        """The state :meth:`on_result` would move to; changes nothing."""
        _check_opcode(command)
        event = RESULT_EVENTS.get((command, success), LockEvent.COMMAND)
        return transition(LOCK_TRANSITIONS, self._state, event, role=self.role)


# --------------------------------------------------------------------------- app role


class AppState(Enum):
    """Where the app's link to one device is."""

    # No link yet.
    DISCONNECTED = "disconnected"
    # Link up, notifications not enabled yet: a reply written now would be lost (§1.1).
    CONNECTED = "connected"
    # Notifications wired, nothing in flight: a command may be sent.
    IDLE = "idle"
    # Exactly one command in flight, waiting for the reply that echoes its opcode (§4.1).
    AWAITING_REPLY = "awaiting_reply"
    # The link is gone (either side closed it). Terminal: connect a new AppConnection.
    CLOSED = "closed"


class AppEvent(Enum):
    """What happens on the app's side of a link."""

    CONNECTED = "connected"
    SUBSCRIBED = "subscribed"  # CCCD written: notifications will arrive
    SEND = "send"
    REPLY = "reply"  # the final reply echoing the pending opcode
    PARTIAL_REPLY = "partial_reply"  # an intermediate one (IC/FR add steps, §4.2): more to come
    STRAY = "stray"  # a push, or a reply nobody is waiting for
    TIMEOUT = "timeout"  # the session's deadline for the pending command passed
    DISCONNECTED = "disconnected"


_A = AppState
_AE = AppEvent

APP_TRANSITIONS: Final[dict[tuple[AppState, AppEvent], AppState]] = {
    (_A.DISCONNECTED, _AE.CONNECTED): _A.CONNECTED,
    (_A.DISCONNECTED, _AE.DISCONNECTED): _A.CLOSED,  # the connect attempt failed
    (_A.CONNECTED, _AE.SUBSCRIBED): _A.IDLE,
    (_A.CONNECTED, _AE.DISCONNECTED): _A.CLOSED,
    (_A.IDLE, _AE.SEND): _A.AWAITING_REPLY,
    (_A.IDLE, _AE.STRAY): _A.IDLE,
    (_A.IDLE, _AE.DISCONNECTED): _A.CLOSED,
    (_A.AWAITING_REPLY, _AE.REPLY): _A.IDLE,
    (_A.AWAITING_REPLY, _AE.PARTIAL_REPLY): _A.AWAITING_REPLY,
    (_A.AWAITING_REPLY, _AE.STRAY): _A.AWAITING_REPLY,
    (_A.AWAITING_REPLY, _AE.TIMEOUT): _A.IDLE,
    (_A.AWAITING_REPLY, _AE.DISCONNECTED): _A.CLOSED,
    # Our own close and the peer's drop both report it: the second one is harmless.
    (_A.CLOSED, _AE.DISCONNECTED): _A.CLOSED,
}


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply to the pending command (``final`` false: an intermediate step)."""

    command: int
    success: bool
    final: bool = True


@dataclass(frozen=True, slots=True)
class Stray:
    """A notification that is not the pending command's reply: a push (e.g. the
    0x14 state heartbeat, §4.1) or a late reply after a timeout."""

    echo: int
    success: bool


class AppConnection:
    """The app role of one link: one command in flight, replies matched, key tracked.

    ``setting_mode`` is what the app believes before connecting (the advert's
    bit, §6): then the default key is used until GET_AES_KEY is answered. A
    paired lock needs ``lock_key`` (lockData ``aesKey``). The app never refuses
    to send a command the lock will refuse (tests send them on purpose);
    :meth:`predict` tells what the lock should answer.

    :class:`IllegalTransition` raised with role ``"lock (app view)"`` means the
    lock reported a success its own table forbids (or the app's ``setting_mode``
    belief was wrong); the app state is then left unchanged.
    """

    role = "app"

    def __init__(self, *, setting_mode: bool, lock_key: bytes | None = None) -> None:
        if lock_key is not None and len(lock_key) != KEY_SIZE:
            raise ProtocolError(f"lock key must be {KEY_SIZE} bytes, got {len(lock_key)}")
        if not setting_mode and lock_key is None:
            raise ProtocolError(
                "a paired lock needs its lock key (lockData aesKey); pass lock_key=, "
                "or setting_mode=True to initialise the lock"
            )
        self._state = AppState.DISCONNECTED
        self._pending: int | None = None
        self._lock_key = lock_key
        self._lock = LockConnection(setting_mode=setting_mode, role="lock (app view)")

    def __repr__(self) -> str:
        # Never the key: secrets stay out of reprs and logs.
        pending = "none" if self._pending is None else f"0x{self._pending:02x}"
        return (
            f"<AppConnection state={self._state.value} pending={pending} "
            f"lock={self._lock.state.value}>"
        )

    @property
    def state(self) -> AppState:
        return self._state

    @property
    def pending(self) -> int | None:
        """Opcode of the command in flight, if any."""
        return self._pending

    @property
    def lock_view(self) -> LockState:
        """The lock's state as the replies so far say it must be."""
        return self._lock.state

    @property
    def auth(self) -> Auth:
        return self._lock.auth

    @property
    def key_choice(self) -> KeyChoice:
        return self._lock.key_choice

    @property
    def lock_key(self) -> bytes | None:
        """The lock's key: given at construction or learnt from GET_AES_KEY."""
        return self._lock_key

    def _key(self, choice: KeyChoice) -> bytes:
        if choice is KeyChoice.DEFAULT:
            return DEFAULT_LOCK_KEY
        if self._lock_key is None:  # pragma: no cover - LOCK is only chosen once a key is known
            raise AssertionError("lock key expected")
        return self._lock_key

    def key_for(self, command: int) -> bytes:
        """The AES key to encrypt ``command`` with (and to decrypt its reply)."""
        return self._key(self._lock.key_for(command))

    @property
    def reply_key(self) -> bytes:
        """Key for decrypting the next notification: the pending command's, else the current."""
        if self._pending is not None:
            return self.key_for(self._pending)
        return self._key(self._lock.key_choice)

    def predict(self, command: int) -> Verdict:
        """What the lock should answer to ``command`` now (the shared gate table)."""
        return self._lock.predict(command)

    def _fire(self, event: AppEvent) -> AppState:
        self._state = transition(APP_TRANSITIONS, self._state, event, role=self.role)
        return self._state

    def connected(self) -> None:
        """The link is up (notifications not yet enabled)."""
        self._fire(AppEvent.CONNECTED)
        self._lock.connect()

    def subscribed(self) -> None:
        """Notifications are enabled: commands may be sent."""
        self._fire(AppEvent.SUBSCRIBED)

    def send(self, command: int) -> None:
        """``command`` is about to be written; it becomes the one in flight."""
        _check_opcode(command)
        self._fire(AppEvent.SEND)
        self._pending = command

    def receive(
        self,
        echo: int,
        *,
        success: bool,
        final: bool = True,
        aes_key: bytes | None = None,
    ) -> Reply | Stray:
        """A notification with reply envelope ``[echo][status]…`` arrived.

        It completes the pending command only if ``echo`` is its opcode; anything
        else comes back as :class:`Stray`. ``final=False`` marks an intermediate
        reply (the command stays in flight). The successful GET_AES_KEY reply
        must pass the key it carries as ``aes_key``: later commands use it.
        """
        _check_opcode(echo)
        if self._state is not AppState.AWAITING_REPLY or echo != self._pending:
            self._fire(AppEvent.STRAY)
            return Stray(echo, success)
        if not final:
            self._fire(AppEvent.PARTIAL_REPLY)
            return Reply(echo, success, final=False)
        learns_key = echo == LockCommand.GET_AES_KEY and success
        if learns_key and (aes_key is None or len(aes_key) != KEY_SIZE):
            raise MessageError(
                "a successful GET_AES_KEY reply must hand over the 16-byte key it carries "
                "(receive(..., aes_key=key))",
                command=echo,
            )
        # The lock view first: if the lock broke the protocol, nothing changes here.
        self._lock.outcome(echo, success=success)
        self._fire(AppEvent.REPLY)
        self._lock.on_result(echo, success=success)
        if learns_key:
            self._lock_key = aes_key
        self._pending = None
        return Reply(echo, success)

    def timeout(self) -> int:
        """The pending command's deadline passed; returns its opcode.

        A late reply to it will then arrive as :class:`Stray`.
        """
        self._fire(AppEvent.TIMEOUT)
        command, self._pending = self._pending, None
        if command is None:  # pragma: no cover - AWAITING_REPLY always has a pending opcode
            raise AssertionError("no pending command")
        return command

    def disconnected(self) -> None:
        """The link is gone (our close or the peer's drop): terminal."""
        self._fire(AppEvent.DISCONNECTED)
        self._pending = None
        if self._lock.connected:
            self._lock.disconnect()
