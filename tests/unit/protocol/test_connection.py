"""Connection state machines of both roles (docs/protocol.md §4.1-§4.3), tested exhaustively."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from itertools import product
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ttlock_hil.protocol.commands import LockCommand as C
from ttlock_hil.protocol.connection import (
    APP_TRANSITIONS,
    CONNECTED_STATES,
    GATE_RULES,
    LOCK_TRANSITIONS,
    RESULT_EVENTS,
    AppConnection,
    AppEvent,
    AppState,
    Auth,
    Gate,
    KeyChoice,
    LockConnection,
    LockEvent,
    LockState,
    Reply,
    Stray,
    gate_of,
    transition,
)
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.errors import IllegalTransition, MessageError, ProtocolError

LOCK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")  # test key of the vectors
NEW_KEY = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")  # response.get_aes_key_ok

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


def paths_from(
    starts: Iterable[S], table: dict[tuple[S, E], S], events: Iterable[E]
) -> dict[S, tuple[S, list[E]]]:
    """Shortest event path to every reachable state: state → (start, events)."""
    found: dict[S, tuple[S, list[E]]] = {}
    queue: deque[tuple[S, S, list[E]]] = deque((s, s, []) for s in starts)
    events = list(events)
    while queue:
        start, state, path = queue.popleft()
        if state in found:
            continue
        found[state] = (start, path)
        for event in events:
            target = table.get((state, event))
            if target is not None and target not in found:
                queue.append((start, target, [*path, event]))
    return found


# --------------------------------------------------------------------------- the tables


@pytest.mark.parametrize(
    ("table", "states", "events"),
    [
        (LOCK_TRANSITIONS, LockState, LockEvent),
        (APP_TRANSITIONS, AppState, AppEvent),
    ],
    ids=["lock", "app"],
)
def test_transition_follows_the_table_for_every_state_and_event(
    table: dict[tuple[Enum, Enum], Enum], states: type[Enum], events: type[Enum]
) -> None:
    for state, event in product(states, events):
        if (state, event) in table:
            assert transition(table, state, event, role="r") is table[(state, event)]
        else:
            with pytest.raises(IllegalTransition) as info:
                transition(table, state, event, role="r")
            assert (info.value.role, info.value.state, info.value.event) == (
                "r",
                state.value,
                event.value,
            )
            assert isinstance(info.value, ProtocolError)


def test_every_lock_state_is_reachable_from_factory_or_paired() -> None:
    reachable = paths_from(
        [LockState.SETTING_MODE, LockState.PAIRED_IDLE], LOCK_TRANSITIONS, LockEvent
    )
    assert set(reachable) == set(LockState)


def test_every_app_state_is_reachable_and_closed_is_terminal() -> None:
    assert set(paths_from([AppState.DISCONNECTED], APP_TRANSITIONS, AppEvent)) == set(AppState)
    leaving_closed = {
        target for (state, _), target in APP_TRANSITIONS.items() if state is AppState.CLOSED
    }
    assert leaving_closed == {AppState.CLOSED}


def test_every_connected_lock_state_can_disconnect_and_handle_commands() -> None:
    for state in CONNECTED_STATES:
        assert (state, LockEvent.DISCONNECT) in LOCK_TRANSITIONS
        assert LOCK_TRANSITIONS[(state, LockEvent.COMMAND)] is state
        assert (state, LockEvent.LOGIN_FAILED) in LOCK_TRANSITIONS


def test_result_events_only_name_login_and_pairing_commands() -> None:
    commands = {command for command, _ in RESULT_EVENTS}
    assert commands == {
        C.GET_AES_KEY,
        C.ADD_ADMIN,
        C.CHECK_ADMIN,
        C.CHECK_RANDOM,
        C.CHECK_USER_TIME,
        C.RESET_LOCK,
    }


# --------------------------------------------------------------------------- lock role


LOCK_CALLS: dict[LockEvent, Callable[[LockConnection], object]] = {
    LockEvent.CONNECT: lambda c: c.connect(),
    LockEvent.DISCONNECT: lambda c: c.disconnect(),
    LockEvent.COMMAND: lambda c: c.on_result(C.SEARCH_STATUS, success=True),
    LockEvent.KEY_ISSUED: lambda c: c.on_result(C.GET_AES_KEY, success=True),
    LockEvent.ADMIN_ADDED: lambda c: c.on_result(C.ADD_ADMIN, success=True),
    LockEvent.ADMIN_CHALLENGE: lambda c: c.on_result(C.CHECK_ADMIN, success=True),
    LockEvent.ADMIN_VERIFIED: lambda c: c.on_result(C.CHECK_RANDOM, success=True),
    LockEvent.USER_CHALLENGE: lambda c: c.on_result(C.CHECK_USER_TIME, success=True),
    LockEvent.LOGIN_FAILED: lambda c: c.on_result(C.CHECK_ADMIN, success=False),
    LockEvent.RESET: lambda c: c.on_result(C.RESET_LOCK, success=True),
}
LOCK_PATHS = paths_from(
    [LockState.SETTING_MODE, LockState.PAIRED_IDLE], LOCK_TRANSITIONS, LockEvent
)


def lock_in(state: LockState) -> LockConnection:
    """A LockConnection brought to ``state`` through its public API only."""
    start, path = LOCK_PATHS[state]
    conn = LockConnection(setting_mode=start is LockState.SETTING_MODE)
    for event in path:
        LOCK_CALLS[event](conn)
    assert conn.state is state
    return conn


def test_lock_calls_cover_every_event() -> None:
    assert set(LOCK_CALLS) == set(LockEvent)


@pytest.mark.parametrize(
    ("state", "event"),
    list(product(LockState, LockEvent)),
    ids=lambda v: v.value,
)
def test_lock_public_api_moves_per_table_or_raises(state: LockState, event: LockEvent) -> None:
    conn = lock_in(state)
    expected = LOCK_TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition, match=event.value):
            LOCK_CALLS[event](conn)
        assert conn.state is state
    else:
        LOCK_CALLS[event](conn)
        assert conn.state is expected


def test_lock_starts_in_setting_mode_or_paired() -> None:
    assert LockConnection().state is LockState.SETTING_MODE
    assert LockConnection(setting_mode=False).state is LockState.PAIRED_IDLE


@pytest.mark.parametrize("state", sorted(CONNECTED_STATES, key=lambda s: s.value))
def test_gate_rules_answer_every_command_in_every_connected_state(state: LockState) -> None:
    setting_mode = lock_in(state).setting_mode
    for gate, gate_rule in GATE_RULES.items():
        if state in gate_rule.allowed:
            continue
        if setting_mode:
            refusal = gate_rule.refused_in_setting_mode
        else:
            refusal = gate_rule.refused_when_paired
        assert refusal is not None, f"{gate} has no answer in {state}"


@pytest.mark.parametrize("state", sorted(CONNECTED_STATES, key=lambda s: s.value))
def test_an_allowed_command_can_always_succeed_or_fail(state: LockState) -> None:
    # The gate and the transition table must agree: whatever the gate lets through
    # has a legal outcome either way, so a correct lock model never trips the table.
    conn = lock_in(state)
    for command in range(256):
        verdict = conn.predict(command)
        assert verdict.gate is gate_of(command)
        if verdict.allowed:
            assert verdict.error is None
            conn.outcome(command, success=True)
            conn.outcome(command, success=False)
        else:
            assert verdict.error is not None
            conn.outcome(command, success=False)
        assert conn.state is state  # predict and outcome change nothing


@pytest.mark.parametrize(
    "command",
    [C.AUDIO_MANAGE, C.MANAGE_KEYBOARD_PASSWORD, C.AUTO_LOCK_MANAGE, C.TIME_CALIBRATE, C.FR_MANAGE],
)
def test_hardware_confirmed_admin_commands_need_41_and_30(command: int) -> None:
    # §4.3 "Admin-gating confirmed on hardware": rejected without 41+30.
    conn = lock_in(LockState.CONNECTED)
    verdict = conn.on_command(command)
    assert (verdict.allowed, verdict.error) == (False, LockError.NO_PERMISSION)
    conn.on_result(C.CHECK_ADMIN, success=True)
    assert conn.predict(command).error == LockError.NO_PERMISSION  # 41 alone is not enough
    conn.on_result(C.CHECK_RANDOM, success=True)
    assert conn.on_command(command).allowed


@pytest.mark.parametrize("command", [C.GET_LOCK_TIME, C.SEARCH_STATUS])
def test_time_and_status_need_no_login(command: int) -> None:
    # §4.3: 0x34 get-time and 0x14 status are not admin-gated.
    assert lock_in(LockState.CONNECTED).on_command(command).allowed
    assert lock_in(LockState.SETTING_MODE_CONNECTED).on_command(command).allowed


@pytest.mark.parametrize("command", [C.UNLOCK, C.FUNCTION_LOCK])
def test_unlock_without_login_answers_user_not_login(command: int) -> None:
    verdict = lock_in(LockState.CONNECTED).on_command(command)
    assert (verdict.allowed, verdict.error) == (False, 0x12)
    assert verdict.gate is Gate.OPERATE
    assert "operate" in verdict.reason


def test_unlock_refusal_byte_can_be_the_vendor_no_permission() -> None:
    conn = LockConnection(setting_mode=False, operate_refusal=LockError.NO_PERMISSION)
    conn.connect()
    assert conn.on_command(C.UNLOCK).error == 2


@pytest.mark.parametrize(
    "login",
    [[C.CHECK_USER_TIME], [C.CHECK_ADMIN], [C.CHECK_ADMIN, C.CHECK_RANDOM]],
    ids=["user", "admin-challenge", "admin"],
)
def test_unlock_is_allowed_after_any_login(login: list[int]) -> None:
    # §4.3: user 55 → 47; admin 41 → 47 (vendor unlockByAdmin); full admin login too.
    conn = lock_in(LockState.CONNECTED)
    for command in login:
        assert conn.on_command(command).allowed
        conn.on_result(command, success=True)
    assert conn.on_command(C.UNLOCK).allowed
    assert conn.on_command(C.FUNCTION_LOCK).allowed


def test_add_admin_outside_setting_mode_answers_7() -> None:
    verdict = lock_in(LockState.ADMIN).on_command(C.ADD_ADMIN)
    assert (verdict.allowed, verdict.error) == (False, LockError.NOT_IN_SETTING_MODE)
    assert lock_in(LockState.CONNECTED).on_command(C.GET_AES_KEY).error == 7


def test_add_admin_before_the_key_was_handed_out_fails() -> None:
    verdict = lock_in(LockState.SETTING_MODE_CONNECTED).on_command(C.ADD_ADMIN)
    assert verdict.error == LockError.OPERATE_FAILED


@pytest.mark.parametrize("command", [C.UNLOCK, C.CHECK_ADMIN, C.RESET_LOCK, C.CHECK_RANDOM])
def test_setting_mode_refuses_everything_but_setup_and_status(command: int) -> None:
    assert lock_in(LockState.KEY_ISSUED).on_command(command).error == LockError.IN_SETTING_MODE


def test_check_random_without_check_admin_is_refused_and_counts_as_failed_login() -> None:
    conn = lock_in(LockState.USER_CHALLENGED)
    verdict = conn.on_command(C.CHECK_RANDOM)
    assert verdict.error == LockError.NO_PERMISSION
    assert conn.state is LockState.CONNECTED


def test_refused_plain_command_keeps_the_state() -> None:
    conn = lock_in(LockState.USER_CHALLENGED)
    assert not conn.on_command(C.AUDIO_MANAGE).allowed
    assert conn.state is LockState.USER_CHALLENGED


@pytest.mark.parametrize("state", [LockState.SETTING_MODE, LockState.PAIRED_IDLE])
def test_commands_without_a_link_are_illegal(state: LockState) -> None:
    conn = lock_in(state)
    with pytest.raises(IllegalTransition, match="command"):
        conn.on_command(C.SEARCH_STATUS)
    with pytest.raises(IllegalTransition):
        conn.on_result(C.SEARCH_STATUS, success=True)


def test_opcode_must_be_a_byte() -> None:
    conn = lock_in(LockState.CONNECTED)
    with pytest.raises(ProtocolError, match="one byte"):
        conn.on_command(0x100)
    with pytest.raises(ProtocolError, match="one byte"):
        conn.on_result(-1, success=True)


def test_lock_auth_setting_mode_and_keys_per_state() -> None:
    expected = {
        LockState.SETTING_MODE: (Auth.NONE, True, KeyChoice.DEFAULT),
        LockState.SETTING_MODE_CONNECTED: (Auth.NONE, True, KeyChoice.DEFAULT),
        LockState.KEY_ISSUED: (Auth.NONE, True, KeyChoice.LOCK),
        LockState.PAIRED_IDLE: (Auth.NONE, False, KeyChoice.LOCK),
        LockState.CONNECTED: (Auth.NONE, False, KeyChoice.LOCK),
        LockState.ADMIN_CHALLENGED: (Auth.ADMIN_CHALLENGED, False, KeyChoice.LOCK),
        LockState.ADMIN: (Auth.ADMIN, False, KeyChoice.LOCK),
        LockState.USER_CHALLENGED: (Auth.USER_CHALLENGED, False, KeyChoice.LOCK),
    }
    for state, (auth, setting_mode, key) in expected.items():
        conn = lock_in(state)
        assert (conn.auth, conn.setting_mode, conn.key_choice) == (auth, setting_mode, key)
        assert conn.connected is (state in CONNECTED_STATES)
        # §3.1: GET_AES_KEY always travels under the default key.
        assert conn.key_for(C.GET_AES_KEY) is KeyChoice.DEFAULT
        assert conn.key_for(C.ADD_ADMIN) is key
    assert "key_issued" in repr(lock_in(LockState.KEY_ISSUED))


def test_reset_returns_the_lock_to_setting_mode() -> None:
    conn = lock_in(LockState.ADMIN)
    assert conn.on_command(C.RESET_LOCK).allowed
    conn.on_result(C.RESET_LOCK, success=True)
    assert conn.setting_mode
    assert conn.disconnect() is LockState.SETTING_MODE


# --------------------------------------------------------------------------- app role


def app_send(conn: AppConnection) -> None:
    conn.send(C.SEARCH_STATUS)


def app_reply(conn: AppConnection) -> None:
    assert conn.pending is not None
    conn.receive(conn.pending, success=True)


def app_partial(conn: AppConnection) -> None:
    assert conn.pending is not None
    conn.receive(conn.pending, success=True, final=False)


APP_CALLS: dict[AppEvent, Callable[[AppConnection], object]] = {
    AppEvent.CONNECTED: lambda c: c.connected(),
    AppEvent.SUBSCRIBED: lambda c: c.subscribed(),
    AppEvent.SEND: app_send,
    AppEvent.REPLY: app_reply,
    AppEvent.PARTIAL_REPLY: app_partial,
    AppEvent.STRAY: lambda c: c.receive(0xEE, success=True),
    AppEvent.TIMEOUT: lambda c: c.timeout(),
    AppEvent.DISCONNECTED: lambda c: c.disconnected(),
}
APP_PATHS = paths_from([AppState.DISCONNECTED], APP_TRANSITIONS, AppEvent)
# A reply is told from a stray by the pending opcode: without one in flight the
# public API cannot even express "reply" (it classifies the notification as stray).
APP_REPLY_EVENTS = {AppEvent.REPLY, AppEvent.PARTIAL_REPLY}


def app_in(state: AppState) -> AppConnection:
    """A paired-lock AppConnection brought to ``state`` through its public API."""
    conn = AppConnection(setting_mode=False, lock_key=LOCK_KEY)
    for event in APP_PATHS[state][1]:
        APP_CALLS[event](conn)
    assert conn.state is state
    return conn


def test_app_calls_cover_every_event() -> None:
    assert set(APP_CALLS) == set(AppEvent)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (s, e)
        for s, e in product(AppState, AppEvent)
        if s is AppState.AWAITING_REPLY or e not in APP_REPLY_EVENTS
    ],
    ids=lambda v: v.value,
)
def test_app_public_api_moves_per_table_or_raises(state: AppState, event: AppEvent) -> None:
    conn = app_in(state)
    expected = APP_TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition, match=event.value) as info:
            APP_CALLS[event](conn)
        assert info.value.role == "app"
        assert conn.state is state
    else:
        APP_CALLS[event](conn)
        assert conn.state is expected


@pytest.mark.parametrize("state", [s for s in AppState if s is not AppState.AWAITING_REPLY])
def test_without_a_pending_command_every_notification_is_stray(state: AppState) -> None:
    conn = app_in(state)
    if (state, AppEvent.STRAY) in APP_TRANSITIONS:
        assert conn.receive(C.SEARCH_STATUS, success=True) == Stray(C.SEARCH_STATUS, True)
    else:
        with pytest.raises(IllegalTransition, match="stray"):
            conn.receive(C.SEARCH_STATUS, success=True)


def test_only_one_command_in_flight() -> None:
    conn = app_in(AppState.IDLE)
    conn.send(C.CHECK_ADMIN)
    with pytest.raises(IllegalTransition, match="awaiting_reply"):
        conn.send(C.SEARCH_STATUS)
    assert conn.pending == C.CHECK_ADMIN


def test_a_push_before_the_reply_is_stray_and_the_reply_still_completes() -> None:
    # §4.1: the lock pushes 0x14 heartbeats; match the reply on its echoed opcode.
    conn = app_in(AppState.IDLE)
    conn.send(C.GET_LOCK_TIME)
    assert conn.receive(C.SEARCH_STATUS, success=True) == Stray(C.SEARCH_STATUS, True)
    assert conn.state is AppState.AWAITING_REPLY
    assert conn.receive(C.GET_LOCK_TIME, success=True) == Reply(C.GET_LOCK_TIME, True)
    assert (conn.state, conn.pending) == (AppState.IDLE, None)


def test_partial_replies_keep_the_command_in_flight() -> None:
    # §4.2 IC add: status 2 "entered add mode", then the final reply with the card.
    conn = app_in(AppState.IDLE)
    conn.send(C.IC_MANAGE)
    assert conn.receive(C.IC_MANAGE, success=True, final=False) == Reply(C.IC_MANAGE, True, False)
    assert conn.pending == C.IC_MANAGE
    assert conn.receive(C.IC_MANAGE, success=True).final


def test_timeout_frees_the_slot_and_a_late_reply_is_stray() -> None:
    conn = app_in(AppState.IDLE)
    conn.send(C.UNLOCK)
    assert conn.timeout() == C.UNLOCK
    assert conn.state is AppState.IDLE
    assert isinstance(conn.receive(C.UNLOCK, success=True), Stray)


def test_disconnect_clears_the_pending_command_and_is_idempotent() -> None:
    conn = app_in(AppState.AWAITING_REPLY)
    conn.disconnected()
    conn.disconnected()
    assert (conn.state, conn.pending) == (AppState.CLOSED, None)
    assert conn.lock_view is LockState.PAIRED_IDLE


def test_app_tracks_admin_login_from_replies() -> None:
    conn = app_in(AppState.IDLE)
    assert conn.predict(C.AUDIO_MANAGE).error == LockError.NO_PERMISSION
    for command in (C.CHECK_ADMIN, C.CHECK_RANDOM):
        conn.send(command)
        conn.receive(command, success=True)
    assert conn.auth is Auth.ADMIN
    assert conn.predict(C.AUDIO_MANAGE).allowed


def test_a_failed_login_step_leaves_the_app_logged_out() -> None:
    conn = app_in(AppState.IDLE)
    conn.send(C.CHECK_ADMIN)
    conn.receive(C.CHECK_ADMIN, success=True)
    conn.send(C.CHECK_RANDOM)
    conn.receive(C.CHECK_RANDOM, success=False)
    assert conn.auth is Auth.NONE


def test_app_sends_what_the_lock_will_refuse() -> None:
    # HIL tests check refusals on purpose: the app role never blocks them.
    conn = app_in(AppState.IDLE)
    assert not conn.predict(C.UNLOCK).allowed
    conn.send(C.UNLOCK)
    assert conn.receive(C.UNLOCK, success=False) == Reply(C.UNLOCK, False)


def test_init_switches_from_the_default_key_to_the_lock_key() -> None:
    # §3.1 key lifecycle and §4.3 init: 45, 19 (default key) → K, then 56 with K.
    conn = AppConnection(setting_mode=True)
    conn.connected()
    conn.subscribed()
    assert conn.key_choice is KeyChoice.DEFAULT
    assert conn.key_for(C.INITIALIZATION) == DEFAULT_LOCK_KEY
    conn.send(C.GET_AES_KEY)
    assert conn.reply_key == DEFAULT_LOCK_KEY
    conn.receive(C.GET_AES_KEY, success=True, aes_key=NEW_KEY)
    assert (conn.key_choice, conn.lock_key) == (KeyChoice.LOCK, NEW_KEY)
    assert conn.key_for(C.ADD_ADMIN) == NEW_KEY
    assert conn.key_for(C.GET_AES_KEY) == DEFAULT_LOCK_KEY
    assert conn.reply_key == NEW_KEY
    conn.send(C.ADD_ADMIN)
    conn.receive(C.ADD_ADMIN, success=True)
    assert conn.auth is Auth.ADMIN
    assert conn.lock_view is LockState.ADMIN


def test_get_aes_key_success_must_hand_over_the_key() -> None:
    conn = AppConnection(setting_mode=True)
    conn.connected()
    conn.subscribed()
    conn.send(C.GET_AES_KEY)
    with pytest.raises(MessageError, match="16-byte key") as info:
        conn.receive(C.GET_AES_KEY, success=True)
    assert info.value.command == C.GET_AES_KEY
    assert conn.state is AppState.AWAITING_REPLY


def test_a_lock_breaking_its_table_raises_and_changes_nothing() -> None:
    conn = app_in(AppState.IDLE)
    conn.send(C.ADD_ADMIN)
    with pytest.raises(IllegalTransition, match="admin_added") as info:
        conn.receive(C.ADD_ADMIN, success=True)
    assert info.value.role == "lock (app view)"
    assert (conn.state, conn.pending, conn.lock_view) == (
        AppState.AWAITING_REPLY,
        C.ADD_ADMIN,
        LockState.CONNECTED,
    )


def test_app_constructor_checks_the_key() -> None:
    with pytest.raises(ProtocolError, match="lock key"):
        AppConnection(setting_mode=False)
    with pytest.raises(ProtocolError, match="16 bytes"):
        AppConnection(setting_mode=False, lock_key=b"short")


def test_app_repr_never_shows_the_key() -> None:
    conn = app_in(AppState.AWAITING_REPLY)
    text = repr(conn)
    assert LOCK_KEY.hex() not in text
    assert "pending=0x14" in text


def test_app_send_checks_the_opcode() -> None:
    with pytest.raises(ProtocolError, match="one byte"):
        app_in(AppState.IDLE).send(256)


# --------------------------------------------------------------------------- both roles


def exchange(app: AppConnection, lock: LockConnection, command: int, ok: bool) -> Reply | Stray:
    """One request/reply through both roles in memory, as the simulator will run it."""
    app.send(command)
    verdict = lock.on_command(command)
    success = ok and verdict.allowed
    if verdict.allowed:
        lock.on_result(command, success=success)
    learnt = NEW_KEY if command == C.GET_AES_KEY and success else None
    return app.receive(command, success=success, aes_key=learnt)


def test_full_init_then_admin_login_then_user_unlock_in_memory() -> None:
    lock = LockConnection()
    app = AppConnection(setting_mode=True)
    lock.connect()
    app.connected()
    app.subscribed()
    # §4.3 init order.
    for command in (C.INITIALIZATION, C.GET_AES_KEY, C.ADD_ADMIN, C.TIME_CALIBRATE):
        assert exchange(app, lock, command, ok=True) == Reply(command, True)
    for command in (C.SEARCH_DEVICE_FEATURE, C.AUDIO_MANAGE, C.OPERATE_FINISHED):
        assert exchange(app, lock, command, ok=True) == Reply(command, True)
    assert app.lock_view is lock.state is LockState.ADMIN
    app.disconnected()
    lock.disconnect()
    assert lock.state is LockState.PAIRED_IDLE

    app = AppConnection(setting_mode=lock.setting_mode, lock_key=NEW_KEY)
    lock.connect()
    app.connected()
    app.subscribed()
    assert exchange(app, lock, C.AUTO_LOCK_MANAGE, ok=True) == Reply(C.AUTO_LOCK_MANAGE, False)
    for command in (C.CHECK_ADMIN, C.CHECK_RANDOM, C.AUTO_LOCK_MANAGE):
        assert exchange(app, lock, command, ok=True).success
    assert exchange(app, lock, C.CHECK_USER_TIME, ok=True).success
    # The admin login stays for the whole connection (issue 13 deviation 4).
    assert (app.auth, lock.auth) == (Auth.ADMIN, Auth.ADMIN)
    assert exchange(app, lock, C.UNLOCK, ok=True).success
    assert exchange(app, lock, C.RESET_LOCK, ok=True).success


# --------------------------------------------------------------------------- stateful


opcodes = st.sampled_from(
    [
        C.GET_AES_KEY,
        C.INITIALIZATION,
        C.ADD_ADMIN,
        C.CHECK_ADMIN,
        C.CHECK_RANDOM,
        C.CHECK_USER_TIME,
        C.UNLOCK,
        C.FUNCTION_LOCK,
        C.SEARCH_STATUS,
        C.GET_LOCK_TIME,
        C.AUDIO_MANAGE,
        C.RESET_LOCK,
        C.TIME_CALIBRATE,
        0xEE,
    ]
)


class LockMachine(RuleBasedStateMachine):
    """Random calls: the lock never leaves its states; it moves per table or raises."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = LockConnection()

    @initialize(setting_mode=st.booleans())
    def start(self, setting_mode: bool) -> None:
        self.conn = LockConnection(setting_mode=setting_mode)

    def fire(self, event: LockEvent, call: Callable[[], object]) -> None:
        before = self.conn.state
        expected = LOCK_TRANSITIONS.get((before, event))
        try:
            call()
        except IllegalTransition:
            assert expected is None
            assert self.conn.state is before
        else:
            assert self.conn.state is expected

    @rule()
    def connect(self) -> None:
        self.fire(LockEvent.CONNECT, self.conn.connect)

    @rule()
    def disconnect(self) -> None:
        self.fire(LockEvent.DISCONNECT, self.conn.disconnect)

    @rule(command=opcodes, success=st.booleans())
    def result(self, command: int, success: bool) -> None:
        event = RESULT_EVENTS.get((command, success), LockEvent.COMMAND)
        self.fire(event, lambda: self.conn.on_result(command, success=success))

    @rule(command=opcodes)
    def command(self, command: int) -> None:
        before = self.conn.state
        try:
            verdict = self.conn.on_command(command)
        except IllegalTransition:
            assert before not in CONNECTED_STATES
            return
        if verdict.allowed:
            assert self.conn.state is before
        else:
            event = RESULT_EVENTS.get((command, False), LockEvent.COMMAND)
            assert self.conn.state is LOCK_TRANSITIONS[(before, event)]

    @invariant()
    def state_is_a_lock_state(self) -> None:
        assert isinstance(self.conn.state, LockState)


class AppMachine(RuleBasedStateMachine):
    """Random calls: the app never leaves its states; it moves per table or raises."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = AppConnection(setting_mode=False, lock_key=LOCK_KEY)

    def fire(self, event: AppEvent, call: Callable[[], object]) -> None:
        before, pending = self.conn.state, self.conn.pending
        expected = APP_TRANSITIONS.get((before, event))
        try:
            call()
        except IllegalTransition:
            # Either the app table forbids it, or the lock view did (a success the
            # lock could not have sent): in both cases nothing moved.
            assert (self.conn.state, self.conn.pending) == (before, pending)
        else:
            assert self.conn.state is expected

    @rule()
    def connected(self) -> None:
        self.fire(AppEvent.CONNECTED, self.conn.connected)

    @rule()
    def subscribed(self) -> None:
        self.fire(AppEvent.SUBSCRIBED, self.conn.subscribed)

    @rule(command=opcodes)
    def send(self, command: int) -> None:
        self.fire(AppEvent.SEND, lambda: self.conn.send(command))

    @rule(echo=opcodes, success=st.booleans(), final=st.booleans())
    def receive(self, echo: int, success: bool, final: bool) -> None:
        if self.conn.state is AppState.AWAITING_REPLY and echo == self.conn.pending:
            event = AppEvent.REPLY if final else AppEvent.PARTIAL_REPLY
        else:
            event = AppEvent.STRAY
        key = NEW_KEY if echo == C.GET_AES_KEY else None
        self.fire(event, lambda: self.conn.receive(echo, success=success, final=final, aes_key=key))

    @rule()
    def timeout(self) -> None:
        self.fire(AppEvent.TIMEOUT, self.conn.timeout)

    @rule()
    def disconnected(self) -> None:
        self.fire(AppEvent.DISCONNECTED, self.conn.disconnected)

    @invariant()
    def one_command_in_flight_exactly_when_awaiting(self) -> None:
        assert isinstance(self.conn.state, AppState)
        assert (self.conn.pending is not None) is (self.conn.state is AppState.AWAITING_REPLY)


class PairedMachine(RuleBasedStateMachine):
    """App and lock in memory: the app's view of the lock never drifts from the lock."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = LockConnection()
        self.app = AppConnection(setting_mode=True)

    @initialize(setting_mode=st.booleans())
    def start(self, setting_mode: bool) -> None:
        self.lock = LockConnection(setting_mode=setting_mode)
        self.key: bytes | None = None if setting_mode else LOCK_KEY
        self.app = AppConnection(setting_mode=setting_mode, lock_key=self.key)
        self.link_up()

    def link_up(self) -> None:
        self.lock.connect()
        self.app.connected()
        self.app.subscribed()

    @precondition(lambda self: self.app.state is AppState.IDLE)
    @rule(command=opcodes, ok=st.booleans())
    def command(self, command: int, ok: bool) -> None:
        exchange(self.app, self.lock, command, ok)

    @precondition(lambda self: self.app.state is AppState.IDLE)
    @rule()
    def push(self) -> None:
        assert isinstance(self.app.receive(C.SEARCH_STATUS, success=True), Stray)

    @precondition(lambda self: self.app.state is AppState.IDLE)
    @rule()
    def reconnect(self) -> None:
        self.app.disconnected()
        self.lock.disconnect()
        self.key = self.app.lock_key
        self.app = AppConnection(setting_mode=self.lock.setting_mode, lock_key=self.key)
        self.link_up()

    @invariant()
    def app_view_matches_the_lock(self) -> None:
        assert self.app.lock_view is self.lock.state
        assert self.app.auth is self.lock.auth
        assert self.app.key_choice is self.lock.key_choice


TestLockMachine = LockMachine.TestCase
TestAppMachine = AppMachine.TestCase
TestPairedMachine = PairedMachine.TestCase


@given(command=st.integers(0, 255))
def test_gate_of_unknown_commands_defaults_to_admin(command: int) -> None:
    gate = gate_of(command)
    if command not in {
        C.SEARCH_STATUS,
        C.GET_LOCK_TIME,
        C.GET_OPERATE_LOG,
        C.SEARCH_DEVICE_FEATURE,
        C.GET_AES_KEY,
        C.INITIALIZATION,
        C.ADD_ADMIN,
        C.CHECK_ADMIN,
        C.CHECK_USER_TIME,
        C.CHECK_RANDOM,
        C.UNLOCK,
        C.FUNCTION_LOCK,
        # §10.1.1: the Wi-Fi lock's scan, join, IP, server and info come before any login.
        C.WIFI_SCAN,
        C.WIFI_CONFIG_AP,
        C.WIFI_CONFIG_STATIC_IP,
        C.WIFI_CONFIG_SERVER,
        C.WIFI_GET_INFO,
    }:
        assert gate is Gate.ADMIN
