"""harness.session: one command in flight, replies matched, pushes routed, outcomes mapped.

The device behind ``sim:`` here is the transport-level EchoDevice (it answers every
request with a fixed success reply), so these tests are about the session's
mechanics; test_fault_mapping.py runs the same conditions against the virtual lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import time
from collections import deque
from enum import Enum
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic

from tests.unit.sim.conftest import REPLY_DATA, EchoDevice
from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.errors import (
    Busy,
    ConfigError,
    DeviceError,
    Disconnected,
    ReplyCrcError,
    ReplyUndecryptable,
    ResponseTimeout,
)
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.redaction import Redactor
from ttlock_hil.harness.session import (
    LINK_TRANSITIONS,
    OUTCOMES,
    REQUEST_TRANSITIONS,
    Answer,
    LinkEvent,
    LinkState,
    RequestEvent,
    RequestState,
    Session,
    last_request,
)
from ttlock_hil.harness.sim.backend import VirtualClientBackend
from ttlock_hil.harness.sim.device import DeviceKind
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.connection import AppState, transition
from ttlock_hil.protocol.errors import IllegalTransition
from ttlock_hil.protocol.messages import GatewayStatus, StatePush, parse_reply

from .conftest import (
    DEADLINE,
    ECHO_CREDENTIALS,
    build_config,
    echo_environ,
    gateway_entry,
    lingering_tasks,
    lock_entry,
    make_lab,
)

STATUS = 0x14
UNLOCK = 0x47


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return build_config(
        tmp_path,
        [lock_entry("front-door", credentials="env:ECHO_CREDS"), gateway_entry("gw")],
    )


@pytest.fixture
def lab(config: LabConfig) -> Lab:
    return make_lab(config, echo=True, environ=echo_environ())


@pytest.fixture
async def session(lab: Lab) -> Any:
    session = lab.session("front-door")
    yield session
    await session.aclose()


def echo(lab: Lab, name: str = "front-door") -> EchoDevice:
    device = lab.virtual(name).device
    assert isinstance(device, EchoDevice)
    return device


async def ask(session: Session, command: int = STATUS, **kwargs: Any) -> Answer:
    async with asyncio.timeout(DEADLINE):
        return await session.request(command, b"\x01\x02", **kwargs)


async def fails(session: Session, error: type[Exception], command: int = STATUS) -> Any:
    with pytest.raises(error) as caught:
        await ask(session, command)
    return caught.value


# --- the happy path ----------------------------------------------------------------------


async def test_a_request_returns_the_matching_reply(session: Session, lab: Lab) -> None:
    answer = await ask(session, STATUS)
    assert answer.command == STATUS
    assert answer.plaintext == bytes([STATUS, 0x01]) + REPLY_DATA
    assert answer.latency >= 0
    assert answer.plaintext.hex() not in repr(answer)
    assert session.connected
    assert session.app is not None
    assert session.app.state is AppState.IDLE
    assert len(echo(lab).requests) == 1


async def test_the_trace_records_tx_and_rx_with_verdict_and_code(session: Session) -> None:
    await ask(session, STATUS)
    await session.aclose()
    records = read_trace(session.trace_path)
    frames = [r for r in records if r["direction"] in ("tx", "rx")]
    assert [(r["direction"], r["verdict"], r["code"]) for r in frames] == [
        ("tx", "sent", None),
        ("rx", "ok", 0),
    ]
    assert frames[1]["decoded"]["crc_ok"] is True
    assert frames[1]["decoded"]["command"] == "SEARCH_STATUS"
    events = [r["decoded"]["event"] for r in records if r["direction"] == "event"]
    assert events[:3] == ["scan", "seen", "connected"]


async def test_the_last_request_is_visible_to_the_calling_task(session: Session) -> None:
    await ask(session, STATUS)
    info = last_request.get()
    assert info is not None
    assert (info.device, info.command, info.command_name) == ("front-door", STATUS, "SEARCH_STATUS")
    assert info.trace_path == session.trace_path


class SynchronousBackend(VirtualClientBackend):
    """Delivers notifications *inside* write_gatt_char: a reply before write returns."""

    def _soon(self, callback: Any, argument: Any) -> None:
        self._if_current(self._generation, callback, argument)


async def test_the_reply_waiter_exists_before_the_write(lab: Lab) -> None:
    session = lab.session("front-door")
    base = session.link.transport
    backend = type("Sync", (SynchronousBackend,), {"default_air": lab.air})
    session.link.transport = type(base)(base.moniker, base.address, base.scanner_backend, backend)
    try:
        answer = await ask(session, STATUS)
    finally:
        await session.aclose()
    assert answer.command == STATUS


async def test_a_second_command_while_one_is_in_flight_is_busy(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.DELAY, command=STATUS, seconds=0.1)
    first = asyncio.ensure_future(ask(session, STATUS, deadline=DEADLINE))
    await asyncio.sleep(0)
    try:
        error = await fails(session, Busy, UNLOCK)
    finally:
        assert (await first).command == STATUS
    assert error.code.code == Code.BLUETOOTH_BUSY
    assert error.command == UNLOCK
    assert "0x14" in error.message


async def test_a_failed_reply_raises_the_device_error_and_keeps_the_link(
    session: Session, lab: Lab
) -> None:
    await ask(session)
    lab.virtual("front-door").faults.add(Fault.ERROR_REPLY, command=UNLOCK, error=0x1E)
    error = await fails(session, DeviceError, UNLOCK)
    assert error.code.code == Code.DOUBLE_LOCKED == 30
    assert error.error_byte == 0x1E
    assert error.command == UNLOCK
    assert error.raw_reply is not None
    assert error.trace_path == session.trace_path
    assert "double-locked" in error.advice
    assert session.connected  # a well-formed refusal does not end the connection
    await ask(session)
    assert echo(lab).connects == 1


# --- pushes, strays, draining --------------------------------------------------------------


async def test_a_push_before_the_reply_goes_to_the_event_stream(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.PUSH_BEFORE_REPLY, command=UNLOCK)
    answer = await ask(session, UNLOCK)
    assert answer.command == UNLOCK
    event = await session.next_event(deadline=DEADLINE)
    assert isinstance(event.push, StatePush)
    assert event.push.battery == echo(lab).battery
    assert event.device == "front-door"
    assert session.queued_events == 0


async def test_events_iterate_as_they_arrive(session: Session, lab: Lab) -> None:
    await ask(session)
    echo(lab).pending_pushes.append(echo(lab).push_frame())
    async with asyncio.timeout(DEADLINE):
        async for event in session.events():
            assert isinstance(event.push, StatePush)
            break


async def test_next_event_times_out_when_nothing_comes(session: Session) -> None:
    await ask(session)
    with pytest.raises(TimeoutError):
        await session.next_event(deadline=0.05)


async def test_a_duplicate_reply_is_not_taken_for_the_next_one(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.DUPLICATE_NOTIFICATION, command=UNLOCK)
    await ask(session, UNLOCK)
    second = await ask(session, STATUS)
    assert second.command == STATUS
    strays = [r for r in read_trace(session.trace_path) if r["verdict"] == "stray"]
    assert len(strays) == 1


async def test_drain_drops_queued_events(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.PUSH_BEFORE_REPLY, times=2)
    await ask(session, UNLOCK)
    await ask(session, UNLOCK)
    assert session.queued_events == 2
    assert await session.drain() == 2
    assert session.queued_events == 0


# --- link and parse failures ---------------------------------------------------------------


async def test_a_drop_fails_the_waiting_command_at_once(session: Session, lab: Lab) -> None:
    await ask(session)
    lab.virtual("front-door").faults.add(Fault.DROP_LINK_BEFORE_REPLY, command=UNLOCK)
    started = time.monotonic()
    with pytest.raises(Disconnected) as caught:
        await ask(session, UNLOCK, deadline=DEADLINE)
    error = caught.value
    # Far sooner than the (long) command deadline: the drop itself ended the wait.
    assert time.monotonic() - started < DEADLINE / 4
    assert error.code.code == Code.DISCONNECTED
    assert error.command == UNLOCK
    assert session.app is None
    # The next command reconnects by itself.
    assert (await ask(session)).command == STATUS
    assert echo(lab).connects == 2


async def test_silence_is_a_response_timeout_and_the_next_command_works(
    session: Session, lab: Lab
) -> None:
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    started = time.monotonic()
    error = await fails(session, ResponseTimeout, UNLOCK)
    elapsed = time.monotonic() - started
    assert lab.timeouts.command <= elapsed < lab.timeouts.command + 2.0
    assert error.code.code == Code.RESPONSE_TIMEOUT
    assert isinstance(error, TimeoutError)
    assert (await ask(session)).command == STATUS
    records = read_trace(session.trace_path)
    assert any(r["decoded"].get("event") == "response-timeout" for r in records)


async def test_a_late_reply_does_not_answer_the_next_request(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.DELAY, command=UNLOCK, seconds=0.4)
    await fails(session, ResponseTimeout, UNLOCK)
    assert (await ask(session, UNLOCK)).command == UNLOCK
    await asyncio.sleep(0.3)  # past the moment the late reply was due
    assert session.queued_events == 0


async def test_a_delay_within_the_deadline_is_just_slow(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.DELAY, command=STATUS, seconds=0.1)
    answer = await ask(session, STATUS)
    assert answer.latency >= 0.1


async def test_a_bad_reply_crc_is_code_1_and_not_retried(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.CORRUPT_CRC, command=UNLOCK)
    error = await fails(session, ReplyCrcError, UNLOCK)
    assert error.code.code == Code.CRC_ERROR == 1
    assert error.raw_reply is not None
    unlocks = [frame for frame in echo(lab).requests if frame[9] == UNLOCK]
    assert len(unlocks) == 1  # the harness did not resend it
    assert (await ask(session)).command == STATUS


async def test_an_undecryptable_reply_says_the_lock_may_be_reset(
    session: Session, lab: Lab
) -> None:
    lab.virtual("front-door").faults.add(Fault.UNDECRYPTABLE_REPLY, command=UNLOCK)
    error = await fails(session, ReplyUndecryptable, UNLOCK)
    assert error.code.code == Code.LOCK_MAY_BE_RESET
    assert (await ask(session)).command == STATUS


async def test_a_half_frame_times_out_and_is_dropped(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.PARTIAL_FRAME, command=UNLOCK)
    await fails(session, ResponseTimeout, UNLOCK)
    assert (await ask(session)).command == STATUS


async def test_a_paired_lock_without_credentials_is_a_config_error(tmp_path: Path) -> None:
    lab = make_lab(build_config(tmp_path, [lock_entry()]), echo=True)
    session = lab.session("front-door")
    try:
        with pytest.raises(ConfigError, match="no credentials"):
            await ask(session)
    finally:
        await session.aclose()
    assert not lab.virtual("front-door").connected


async def test_a_closed_session_cannot_be_used(session: Session) -> None:
    await session.aclose()
    await session.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await session.connect()


# --- progress replies ----------------------------------------------------------------------


class SlowDevice(EchoDevice):
    """Answers UNLOCK with "processing" (error byte 0x24) before the real reply."""

    def receive(self, data: bytes) -> list[bytes]:
        replies = super().receive(data)
        if self.requests and self.requests[-1][9] == UNLOCK:
            return [self.error_reply(UNLOCK, 0x24), *replies]
        return replies


def slow_factory(preset: str, /, **kwargs: Any) -> SlowDevice:
    return SlowDevice(address=kwargs["address"])


async def test_processing_replies_are_progress_until_the_final_one(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry(credentials="env:ECHO_CREDS")])
    lab = make_lab(config, environ=echo_environ(), device_factory=slow_factory)
    session = lab.session("front-door")
    try:
        answer = await ask(session, UNLOCK)
    finally:
        await session.aclose()
    assert parse_reply(answer.progress[0]).is_processing
    assert parse_reply(answer.plaintext).ok
    verdicts = [r["verdict"] for r in read_trace(session.trace_path) if r["direction"] == "rx"]
    assert verdicts == ["processing", "ok"]


async def test_a_final_predicate_turns_replies_into_progress(session: Session, lab: Lab) -> None:
    lab.virtual("front-door").faults.add(Fault.DUPLICATE_NOTIFICATION, command=UNLOCK)
    seen: list[bytes] = []

    def second_copy(plaintext: bytes) -> bool:
        seen.append(plaintext)
        return len(seen) == 2

    answer = await ask(session, UNLOCK, final=second_copy)
    assert len(answer.progress) == 1
    assert answer.progress[0] == answer.plaintext


# --- gateways ----------------------------------------------------------------------------------


async def test_a_gateway_session_maps_the_status_byte(lab: Lab) -> None:
    # EchoDevice's gateway replies start with the opcode, where a gateway puts its
    # status byte (§7): opcode 0 reads as success, opcode 3 as BAD_WIFI_NAME.
    session = lab.session("gw")
    try:
        answer = await ask(session, 0x00)
        error = await fails(session, DeviceError, 0x03)
    finally:
        await session.aclose()
    assert session.kind is DeviceKind.GATEWAY
    assert answer.command == 0x00
    assert answer.plaintext[0] == GatewayStatus.SUCCESS
    assert error.code.code == Code.GATEWAY_BAD_SSID == 0x7F + GatewayStatus.BAD_WIFI_NAME
    assert error.error_byte == 3


# --- task hygiene ---------------------------------------------------------------------------------


async def test_the_lingering_task_check_sees_a_task_left_running() -> None:
    before = set(asyncio.all_tasks())
    leaked = asyncio.ensure_future(asyncio.Event().wait())
    try:
        assert lingering_tasks(before) == [leaked]
    finally:
        leaked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaked
    assert lingering_tasks(before) == []


async def test_a_closed_session_leaves_no_task_behind(session: Session, lab: Lab) -> None:
    before = set(asyncio.all_tasks())
    await ask(session)  # the virtual backend's push poller runs while connected
    assert lingering_tasks(before)
    await session.aclose()
    await asyncio.sleep(0)
    assert lingering_tasks(before) == []


# --- cancellation ----------------------------------------------------------------------------


async def test_a_cancelled_request_leaves_the_session_usable_and_its_late_reply_a_stray(
    session: Session, lab: Lab
) -> None:
    await ask(session)
    lab.virtual("front-door").faults.add(Fault.DELAY, command=UNLOCK, seconds=0.2)
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        # The caller gives up first (its own deadline, a watchdog): the request is cancelled.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await session.request(UNLOCK, b"\x01\x02", deadline=DEADLINE)
        assert (await ask(session, STATUS)).command == STATUS
        await asyncio.sleep(0.3)  # past the moment the late UNLOCK reply was due
        assert (await ask(session, STATUS)).command == STATUS
    finally:
        loop.set_exception_handler(None)
    assert errors == []
    assert session.queued_events == 0


async def test_closing_the_session_fails_the_request_in_flight_at_once(
    session: Session, lab: Lab
) -> None:
    await ask(session)
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    waiting = asyncio.ensure_future(ask(session, UNLOCK, deadline=DEADLINE))
    for _ in range(5):
        await asyncio.sleep(0)  # the request is written and waits for its reply
    assert session.app is not None
    assert session.app.pending == UNLOCK
    started = time.monotonic()
    await session.aclose()
    with pytest.raises(Disconnected) as caught:
        async with asyncio.timeout(DEADLINE):
            await waiting
    # Not a ResponseTimeout after the (long) deadline: our own close ended the wait.
    assert time.monotonic() - started < DEADLINE / 4
    assert caught.value.command == UNLOCK
    assert "session closed" in caught.value.message


async def test_a_progress_callback_that_raises_ends_the_request_with_its_error(
    tmp_path: Path,
) -> None:
    config = build_config(tmp_path, [lock_entry(credentials="env:ECHO_CREDS")])
    lab = make_lab(config, environ=echo_environ(), device_factory=slow_factory)
    session = lab.session("front-door")

    def bench_fails(_plaintext: bytes) -> None:
        raise RuntimeError("the card presenter is jammed")

    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="jammed"):
            await ask(session, UNLOCK, deadline=DEADLINE, on_progress=bench_fails)
        assert time.monotonic() - started < DEADLINE / 4
        assert (await ask(session, STATUS)).command == STATUS
    finally:
        await session.aclose()


async def test_concurrent_connects_share_one_connection(session: Session, lab: Lab) -> None:
    # A test connecting while another task's first command connects (lock.connect()
    # next to lock.status(), two gateway calls greeting at once) gets the same link,
    # not a second central waiting out the connect deadline (ConnectTimeout 10002).
    async with asyncio.timeout(DEADLINE):
        first, second, answer = await asyncio.gather(
            session.connect(), session.connect(), session.request(STATUS, b"\x01\x02")
        )
    assert first == second
    assert answer.command == STATUS
    assert echo(lab).connects == 1
    assert session.connected


# --- one outcome per request (issue 18, defect 1) ---------------------------------------------

RACES = 300
"""Requests per race test: a reply and the request's deadline come due together."""
RACE_DEADLINE = 0.01


@pytest.mark.parametrize(
    "late_by", [0.0, 0.004], ids=["reply-exactly-at-the-deadline", "reply-just-after-it"]
)
async def test_a_reply_racing_the_deadline_gives_one_typed_outcome(
    session: Session, lab: Lab, caplog: pytest.LogCaptureFixture, late_by: float
) -> None:
    # The device's delay timer and the session's deadline come due in the same loop
    # turns: whichever the loop runs first settles the request, the other is dropped.
    # Before, a reply could complete a request whose wait the deadline had already
    # cancelled (InvalidStateError in the loop's exception handler), or the deadline
    # timed out an app the reply had just made idle (IllegalTransition, no TTLock code).
    delay = RACE_DEADLINE + late_by
    lab.virtual("front-door").faults.add(Fault.DELAY, command=UNLOCK, seconds=delay, times=None)
    loop = asyncio.get_running_loop()
    handled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: handled.append(context))
    outcomes = {"answer": 0, "timeout": 0}
    untyped: list[BaseException] = []
    timeouts: list[ResponseTimeout] = []
    try:
        for _ in range(RACES):
            try:
                async with asyncio.timeout(DEADLINE):
                    await session.request(UNLOCK, b"\x01\x02", deadline=RACE_DEADLINE)
            except ResponseTimeout as exc:
                timeouts.append(exc)
                outcomes["timeout"] += 1
                if late_by:
                    await asyncio.sleep(late_by * 2)  # the late reply lands on the stale link
            except Exception as exc:  # noqa: BLE001 - any other outcome is the defect
                untyped.append(exc)
            else:
                outcomes["answer"] += 1
        await asyncio.sleep(delay * 3)  # the last late reply, if any, lands now
        assert (await ask(session, STATUS)).command == STATUS  # usable, whoever won last
    finally:
        loop.set_exception_handler(None)
    assert untyped == []
    assert handled == []
    assert not [r for r in caplog.records if "Exception in callback" in r.getMessage()]
    assert sum(outcomes.values()) == RACES
    assert {(e.code.code, e.command) for e in timeouts} <= {(Code.RESPONSE_TIMEOUT, UNLOCK)}
    if late_by:
        assert outcomes["timeout"] > 0
        records = read_trace(session.trace_path)
        late = [r for r in records if r["direction"] == "rx" and r["verdict"] == "late"]
        assert 0 < len(late) <= outcomes["timeout"], "a reply after its deadline is a late stray"


# --- the states, as data ----------------------------------------------------------------------


def reachable(start: Enum, table: dict[tuple[Any, Any], Any]) -> set[Any]:
    seen, queue = {start}, deque([start])
    while queue:
        state = queue.popleft()
        for (source, _), target in table.items():
            if source is state and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def test_every_link_state_is_reachable_and_closed_is_terminal() -> None:
    assert reachable(LinkState.DOWN, LINK_TRANSITIONS) == set(LinkState)
    assert not [key for key in LINK_TRANSITIONS if key[0] is LinkState.CLOSED]
    for state in LinkState:
        if state is not LinkState.CLOSED:
            assert LINK_TRANSITIONS[(state, LinkEvent.CLOSE)] is LinkState.CLOSED


def test_every_request_reaches_an_outcome_and_an_outcome_is_final() -> None:
    assert reachable(RequestState.PREPARING, REQUEST_TRANSITIONS) == set(RequestState)
    settling = {RequestEvent.REPLY, RequestEvent.DEADLINE, RequestEvent.ERROR, RequestEvent.CANCEL}
    for state in RequestState:
        ways_out = {event for (source, event) in REQUEST_TRANSITIONS if source is state}
        if state in OUTCOMES:
            # Only the write's late return is heard, and it changes nothing.
            assert ways_out <= {RequestEvent.WRITTEN}
            assert all(REQUEST_TRANSITIONS[(state, e)] is state for e in ways_out)
        else:
            assert {RequestEvent.ERROR, RequestEvent.CANCEL} <= ways_out
            assert ways_out & settling
    # The deadline runs only once the frame is written.
    assert [s for (s, e) in REQUEST_TRANSITIONS if e is RequestEvent.DEADLINE] == [
        RequestState.WAITING
    ]


@pytest.mark.parametrize(
    ("table", "states", "events"),
    [
        (LINK_TRANSITIONS, LinkState, LinkEvent),
        (REQUEST_TRANSITIONS, RequestState, RequestEvent),
    ],
    ids=["link", "request"],
)
def test_an_illegal_move_names_the_move_the_place_and_the_state(
    table: dict[tuple[Any, Any], Any], states: type[Enum], events: type[Enum]
) -> None:
    for state, event in product(states, events):
        if (state, event) in table:
            continue
        with pytest.raises(IllegalTransition) as caught:
            transition(table, state, event, role="session front-door link")
        message = str(caught.value)
        assert "session front-door link" in message
        assert repr(event.value) in message
        assert repr(state.value) in message


async def test_the_link_state_follows_what_happens(session: Session, lab: Lab) -> None:
    assert session.state is LinkState.DOWN
    await ask(session)
    assert session.state is LinkState.UP
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    await fails(session, ResponseTimeout, UNLOCK)
    assert session.state is LinkState.STALE
    assert not session.connected
    await ask(session)  # reconnects first
    assert (session.state, echo(lab).connects) == (LinkState.UP, 2)
    lab.virtual("front-door").faults.add(Fault.DROP_LINK_BEFORE_REPLY, command=UNLOCK)
    await fails(session, Disconnected, UNLOCK)
    assert session.state is LinkState.DOWN
    await session.aclose()
    assert session.state is LinkState.CLOSED
    assert session.closed


async def test_a_drop_a_concurrent_connect_notices_first_fails_the_waiting_command_at_once(
    session: Session, lab: Lab
) -> None:
    await ask(session)
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    waiting = asyncio.ensure_future(ask(session, UNLOCK, deadline=DEADLINE))
    for _ in range(5):
        await asyncio.sleep(0)  # the request is written and waits for its reply
    assert session.app is not None
    assert session.app.pending == UNLOCK
    started = time.monotonic()
    assert lab.air.drop_link(echo(lab).address, "out of range")
    # In the same loop turn, before bleak's disconnected callback runs, another task
    # connects: it finds the link gone, and the request must not wait out its deadline.
    async with asyncio.timeout(DEADLINE):
        await session.connect()
    with pytest.raises(Disconnected) as caught:
        async with asyncio.timeout(DEADLINE):
            await waiting
    assert time.monotonic() - started < DEADLINE / 4
    assert caught.value.command == UNLOCK
    assert session.state is LinkState.UP
    assert echo(lab).connects == 2


class _DropAfterFirstChunk(VirtualClientBackend):
    """Drops the link (device side) right after the first chunk of a frame is written."""

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await super().write_gatt_char(characteristic, data, response)
        entry = self._entry
        if entry is not None:
            asyncio.get_running_loop().call_soon(entry.drop_link, "dropped between chunks")
            await asyncio.sleep(0)  # the drop lands before the next chunk is written


async def test_a_drop_between_two_chunks_is_one_disconnect_and_no_lost_exception(
    tmp_path: Path,
) -> None:
    config = build_config(tmp_path, [lock_entry("front-door")], attempts=1)
    lab = make_lab(config, echo=True)
    base = lab.transport("front-door")
    backend = type("Dropping", (_DropAfterFirstChunk,), {"default_air": lab.air})
    transport = dataclasses.replace(base, client_backend=backend)
    session = Session(
        transport,
        device="front-door",
        kind=DeviceKind.LOCK,
        plugin_version="3.1.0",
        timeouts=lab.timeouts,
        retry=lab.retry,
        redactor=Redactor(),
        trace_path=tmp_path / "t.jsonl",
        lock_key=ECHO_CREDENTIALS.aes_key,
        header=ECHO_CREDENTIALS.header,
    )
    lost: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: lost.append(context))
    try:
        with pytest.raises(Disconnected):
            await session.request(0x14, bytes(40))  # 3 chunks on the wire
        await session.aclose()
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert lost == [], [c.get("message") for c in lost]
