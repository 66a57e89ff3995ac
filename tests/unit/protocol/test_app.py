"""protocol.app: the app role, bytes in and events out, checked against the golden vectors.

The device side here is the frame codec and the reply envelope (the lock role of
docs/protocol.md §4.1 in a few lines), so every byte the app reads is one a lock
or gateway would send; tests/unit/sim runs the same app role against the virtual
devices.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.app import (
    GatewayApp,
    LockApp,
    Outgoing,
    Problem,
    Progress,
    Pushed,
    Replied,
    RuleFailed,
    Stray,
    answer_code,
)
from ttlock_hil.protocol.codes import Code, table_versions
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.connection import AppState, Auth, KeyChoice, LockState
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, gateway_key
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import (
    LOCK_ERROR_FALLBACK,
    LinkCondition,
    LockError,
    link_code,
    lock_error_code,
)
from ttlock_hil.protocol.errors import (
    IllegalTransition,
    MessageError,
    ProtocolError,
    UnknownCode,
)
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    LockHeader,
    build_gateway_frame,
    build_legacy_frame,
    build_lock_frame,
    encode_gateway_command,
    encode_lock_command,
)
from ttlock_hil.protocol.login import check_value
from ttlock_hil.protocol.messages import (
    AddAdmin,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    ConfigureServer,
    ConfigureWifi,
    Echo,
    GatewayReply,
    GatewayStatus,
    GetAesKey,
    GetNearbySsid,
    IcAddedReply,
    IcAddProgressReply,
    IcEnterAddMode,
    Reply,
    ResetLock,
    SearchStatus,
    SsidEntry,
    SsidScanReply,
    StatePush,
    StatusReply,
    Unlock,
)

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")  # the vectors' test lock key
ISSUED = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")  # response.get_aes_key_ok
PS = 0x1DB78A8F
ADMIN_PS = 12345678
UNLOCK_KEY = 87654321
GATEWAY_MAC = "AA:BB:CC:DD:EE:FF"  # the gateway of the vectors
REPLY_HEADER = LockHeader(5, 3, 2, 1, 1)  # what real locks put on replies (§2.1)

Vectors = dict[str, dict[str, Any]]


def lock_reply(reply: Reply, key: bytes = KEY) -> bytes:
    """The wire bytes a lock notifies for ``reply`` (command 0x54, §4.1), CRLF included."""
    frame = encode_lock_command(LockCommand.RESPONSE, reply.encode(), key, header=REPLY_HEADER)
    return frame + LOCK_TRAILER


def paired(**kwargs: Any) -> LockApp:
    app = LockApp(setting_mode=False, lock_key=KEY, **kwargs)
    app.connected()
    app.subscribed()
    return app


def fresh() -> LockApp:
    app = LockApp(setting_mode=True)
    app.connected()
    app.subscribed()
    return app


def gateway(**kwargs: Any) -> GatewayApp:
    app = GatewayApp(GATEWAY_MAC, **kwargs)
    app.connected()
    app.subscribed()
    return app


def gateway_reply(command: int, plaintext: bytes) -> bytes:
    return encode_gateway_command(command, plaintext, gateway_key(GATEWAY_MAC))


# --- requests: the golden vectors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "request_"),
    [
        ("frame.check_admin_0x41", CheckAdmin(ADMIN_PS)),
        ("frame.check_random_0x30", CheckRandom(check_value(PS, UNLOCK_KEY))),
        ("frame.check_user_time_0x55", CheckUserTime()),
        ("frame.unlock_0x47", Unlock.answer(PS, UNLOCK_KEY, 1767225600)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_request_goes_out_as_the_vector_says(
    vectors_by_id: Vectors, vector: str, request_: Any
) -> None:
    expected = vectors_by_id[vector]
    sent = paired().send(request_)
    assert sent.frame.hex() == expected["expected_hex"]
    assert sent.data.hex() == expected["wire_hex"]  # the lock frame's 0D 0A trailer (§1.1)
    assert bytes(sent) == sent.data
    assert sent.key == KEY


@pytest.mark.parametrize(
    ("vector", "request_"),
    [
        ("gateway.echo_0x45_SCIENER", Echo()),
        ("gateway.config_wifi_0x02", ConfigureWifi("MyWiFi", "secret123")),
        ("gateway.config_server_0x03", ConfigureServer()),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_gateway_request_goes_out_as_the_vector_says(
    vectors_by_id: Vectors, vector: str, request_: Any
) -> None:
    sent = gateway().send(request_)
    assert sent.data.hex() == sent.frame.hex() == vectors_by_id[vector]["expected_hex"]
    assert sent.key.hex() == vectors_by_id["gateway.session_key"]["expected_hex"]


def test_an_opcode_with_its_plaintext_is_the_same_request_as_the_message() -> None:
    message = CheckAdmin(ADMIN_PS)
    assert paired().send(message).data == paired().send(0x41, message.encode()).data
    with pytest.raises(ProtocolError, match="not both"):
        paired().send(message, b"\x00")


# --- replies: the golden vectors -----------------------------------------------------------


def test_the_check_admin_reply_of_the_vectors_is_a_typed_challenge(vectors_by_id: Vectors) -> None:
    app = paired()
    app.send(CheckAdmin(ADMIN_PS))
    wire = bytes.fromhex(vectors_by_id["response.check_admin_ok"]["wire_hex"])
    (event,) = app.receive_data(wire)
    assert isinstance(event, Replied)
    assert (event.ok, event.error_byte, event.code.code) == (True, None, Code.OK)
    assert event.message == CheckAdminReply(PS)
    assert event.raw == wire[: -len(LOCK_TRAILER)]
    assert (app.state, app.pending, app.auth) == (AppState.IDLE, None, Auth.ADMIN_CHALLENGED)


def test_a_double_locked_refusal_of_the_vectors_is_30(vectors_by_id: Vectors) -> None:
    app = paired()
    app.send(Unlock.answer(PS, UNLOCK_KEY, 1767225600))
    wire = bytes.fromhex(vectors_by_id["response.unlock_fail_double_locked_0x1e"]["wire_hex"])
    (event,) = app.receive_data(wire)
    assert isinstance(event, Replied)
    assert (event.ok, event.error_byte, event.code.code) == (False, 0x1E, Code.DOUBLE_LOCKED)
    assert event.message is None  # a refusal carries no data
    assert app.state is AppState.IDLE


def test_the_real_status_plaintext_reads_as_a_locked_bolt(vectors_by_id: Vectors) -> None:
    app = paired()
    app.send(SearchStatus())
    wire = bytes.fromhex(vectors_by_id["response.status_locked_real_plaintext"]["wire_hex"])
    (event,) = app.receive_data(wire)
    assert isinstance(event, Replied)
    assert event.message == StatusReply(45, 0, b"\x02")
    assert event.data == bytes([45, 0, 2])


def test_the_key_a_get_aes_key_reply_hands_over_is_used_from_then_on(
    vectors_by_id: Vectors,
) -> None:
    app = fresh()
    sent = app.send(GetAesKey())
    assert sent.key == DEFAULT_LOCK_KEY  # setting mode: the factory key (§3.1)
    wire = bytes.fromhex(vectors_by_id["response.get_aes_key_ok"]["wire_hex"])
    (event,) = app.receive_data(wire)
    assert isinstance(event, Replied)
    assert event.key == DEFAULT_LOCK_KEY
    assert app.lock_key == ISSUED
    assert (app.lock_view, app.key_choice) == (LockState.KEY_ISSUED, KeyChoice.LOCK)
    assert app.send(AddAdmin(ADMIN_PS, UNLOCK_KEY)).key == ISSUED


def test_get_aes_key_always_travels_under_the_default_key() -> None:
    app = paired()
    assert app.send(GetAesKey()).key == DEFAULT_LOCK_KEY  # even on a paired lock (§3.1)
    (event,) = app.receive_data(lock_reply(Reply.failure(0x19, 7), DEFAULT_LOCK_KEY))
    assert isinstance(event, Replied)
    assert event.code.code == Code.NOT_IN_SETTING_MODE
    assert app.send(SearchStatus()).key == KEY


def test_after_a_reset_the_reply_is_read_with_the_old_key_and_the_default_key_follows() -> None:
    app = paired()
    for request, ok in ((CheckAdmin(ADMIN_PS), CheckAdminReply(PS)), (CheckRandom(1), b"")):
        app.send(request)
        app.receive_data(lock_reply(Reply.success(request.COMMAND, ok)))
    assert app.auth is Auth.ADMIN
    assert app.send(ResetLock()).key == KEY
    (event,) = app.receive_data(lock_reply(Reply.success(0x52)))
    assert isinstance(event, Replied)
    assert app.setting_mode
    assert app.send(SearchStatus()).key == DEFAULT_LOCK_KEY


# --- what else arrives -----------------------------------------------------------------------


def test_a_push_before_the_reply_is_a_push_and_the_reply_still_matches() -> None:
    app = paired()
    app.send(Unlock.answer(PS, UNLOCK_KEY, 0))
    push = lock_reply(Reply.success(0x14, StatePush(45, 1, 0)))
    reply = lock_reply(Reply.success(0x47, bytes(15)))
    events = app.receive_data(push + reply)
    assert [type(e) for e in events] == [Pushed, Replied]
    assert events[0].push == StatePush(45, 1, 0)  # type: ignore[union-attr]


def test_processing_is_progress_and_its_code_follows_the_plugin_version() -> None:
    for version in table_versions():
        app = paired(plugin_version=version)
        app.send(Unlock.answer(PS, UNLOCK_KEY, 0))
        (interim,) = app.receive_data(lock_reply(Reply.failure(0x47, LockError.COMMAND_RECEIVED)))
        assert isinstance(interim, Progress)
        assert interim.processing
        assert interim.code == lock_error_code(0x24, version)  # 36 from 2.7.6, 19 before
        assert app.pending == 0x47
        (final,) = app.receive_data(lock_reply(Reply.success(0x47, bytes(15))))
        assert isinstance(final, Replied)


def test_a_reply_nobody_waits_for_is_a_stray_and_a_late_one_says_so() -> None:
    app = paired()
    (unexpected,) = app.receive_data(lock_reply(Reply.success(0x34, bytes(6))))
    assert isinstance(unexpected, Stray)
    assert unexpected.reason == "unexpected"
    app.send(SearchStatus())
    assert app.timeout() == 0x14  # the caller's deadline passed
    assert app.state is AppState.IDLE
    (late,) = app.receive_data(lock_reply(Reply.success(0x14, bytes([45, 0, 2]))))
    assert isinstance(late, Stray)
    assert late.reason == "late"
    assert late.message == StatusReply(45, 0, b"\x02")


def test_a_duplicate_reply_is_not_taken_for_the_next_requests() -> None:
    app = paired()
    app.send(Unlock.answer(PS, UNLOCK_KEY, 0))
    reply = lock_reply(Reply.success(0x47, bytes(15)))
    first, copy = app.receive_data(reply + reply)
    assert isinstance(first, Replied)
    assert isinstance(copy, Stray)


def test_a_timeout_drops_a_half_received_frame() -> None:
    app = paired()
    app.send(SearchStatus())
    reply = lock_reply(Reply.success(0x14, bytes([45, 0, 2])))
    assert app.receive_data(reply[:9]) == []
    assert app.partial == reply[:9]
    app.timeout()
    assert app.partial == b""


@pytest.mark.parametrize(
    ("corrupt", "condition"),
    [
        (lambda f: f[:-3] + bytes([f[-3] ^ 0xFF]) + LOCK_TRAILER, LinkCondition.REPLY_CRC_ERROR),
        (lambda f: lock_reply(Reply.success(0x14), bytes(16)), LinkCondition.REPLY_UNDECRYPTABLE),
        (lambda f: build_lock_frame(0x54, bytes(15)), LinkCondition.REPLY_UNDECRYPTABLE),
        (lambda f: build_lock_frame(0x54, b""), LinkCondition.REPLY_UNPARSEABLE),
        (lambda f: build_legacy_frame(0x54, b"\x14\x01", seed=7), LinkCondition.REPLY_UNPARSEABLE),
    ],
    ids=["bad-crc", "other-key", "not-whole-blocks", "empty", "legacy-frame"],
)
def test_an_unreadable_reply_is_a_problem_with_its_code_and_ends_the_request(
    corrupt: Any, condition: LinkCondition
) -> None:
    for version in ("3.1.0", "2.6.0"):
        app = paired(plugin_version=version)
        app.send(SearchStatus())
        (event,) = app.receive_data(corrupt(lock_reply(Reply.success(0x14, bytes([1, 0, 2])))))
        assert isinstance(event, Problem)
        assert event.condition is condition
        assert event.code == link_code(condition, version)
        assert event.ended == 0x14
        assert app.state is AppState.IDLE
        # Nothing in flight: the same bytes only report the problem.
        (again,) = app.receive_data(corrupt(lock_reply(Reply.success(0x14, bytes([1, 0, 2])))))
        assert isinstance(again, Problem)
        assert again.ended is None


def test_a_frame_after_an_unreadable_one_is_still_read_in_any_chunking() -> None:
    app = paired()
    app.send(SearchStatus())
    good = lock_reply(Reply.success(0x34, bytes(6)))
    bad = good[:-3] + bytes([good[-3] ^ 0xFF]) + LOCK_TRAILER
    problem, *rest = app.receive_data(bad + good[:10])
    assert isinstance(problem, Problem)
    assert rest == []
    (stray,) = app.receive_data(good[10:])  # the half frame was kept
    assert isinstance(stray, Stray)
    assert stray.command == 0x34


def test_a_key_reply_without_a_key_is_unparseable_and_nothing_is_learnt() -> None:
    app = fresh()
    app.send(GetAesKey())
    (event,) = app.receive_data(lock_reply(Reply.success(0x19, b"short"), DEFAULT_LOCK_KEY))
    assert isinstance(event, Problem)
    assert event.condition is LinkCondition.REPLY_UNPARSEABLE
    assert (app.lock_key, app.lock_view) == (None, LockState.SETTING_MODE_CONNECTED)


def test_a_success_the_locks_table_forbids_is_unparseable_and_changes_no_state() -> None:
    app = paired()
    app.send(AddAdmin(1, 2))
    (event,) = app.receive_data(lock_reply(Reply.success(0x56, b"SCIENER")))
    assert isinstance(event, Problem)
    assert "lock (app view)" in event.detail  # a paired lock cannot add an admin
    assert event.ended == 0x56
    assert (app.state, app.lock_view) == (AppState.IDLE, LockState.CONNECTED)


def test_a_failed_reply_without_its_error_byte_falls_back_to_19() -> None:
    app = paired()
    app.send(SearchStatus())
    (event,) = app.receive_data(lock_reply(Reply.failure(0x14, None)))
    assert isinstance(event, Replied)
    assert (event.error_byte, event.code.code) == (None, LOCK_ERROR_FALLBACK)


# --- the final rule ------------------------------------------------------------------------


def is_added(plaintext: bytes) -> bool:
    try:
        IcAddedReply.decode(plaintext[2:])
    except MessageError:
        return False
    return True


def test_a_final_rule_turns_earlier_successes_into_progress() -> None:
    app = paired()
    app.send(IcEnterAddMode(), final=is_added)
    reading = lock_reply(Reply.success(0x05, IcAddProgressReply(80)))
    added = lock_reply(Reply.success(0x05, IcAddedReply(80, 0xDEADBEEF)))
    step, done = app.receive_data(reading + added)
    assert isinstance(step, Progress)
    assert not step.processing
    assert isinstance(done, Replied)
    assert done.message == IcAddedReply(80, 0xDEADBEEF)


def test_a_final_rule_that_raises_is_handed_back_and_the_app_stops_waiting() -> None:
    app = paired()
    jammed = RuntimeError("the card presenter is jammed")

    def rule(_plaintext: bytes) -> bool:
        raise jammed

    app.send(IcEnterAddMode(), final=rule)
    reply = lock_reply(Reply.success(0x05, IcAddProgressReply(80)))
    failed, copy = app.receive_data(reply + reply)  # nothing after it is lost
    assert isinstance(failed, RuleFailed)
    assert failed.error is jammed
    assert app.state is AppState.IDLE
    assert isinstance(copy, Stray)
    assert copy.reason == "late"


# --- the gateway ---------------------------------------------------------------------------


def test_a_gateway_status_is_its_code_and_processing_waits_for_the_final_one() -> None:
    app = gateway()
    app.send(ConfigureWifi("MyWiFi", "secret123"))
    (interim,) = app.receive_data(gateway_reply(0x02, bytes([GatewayStatus.PROCESSING])))
    assert isinstance(interim, Progress)
    assert (interim.processing, interim.code.code) == (True, 129)
    (final,) = app.receive_data(gateway_reply(0x02, bytes([GatewayStatus.BAD_WIFI_NAME])))
    assert isinstance(final, Replied)
    assert (final.ok, final.error_byte, final.code.code) == (False, 3, 130)
    assert final.message == GatewayReply(GatewayStatus.BAD_WIFI_NAME)


def test_the_wifi_scan_ends_with_its_done_status_which_is_a_success() -> None:
    app = gateway()

    def finished(plaintext: bytes) -> bool:
        return plaintext[0] == GatewayStatus.DONE

    app.send(GetNearbySsid(), final=finished)
    entry = SsidScanReply((SsidEntry("MyWiFi", -48),)).encode()
    done = SsidScanReply(finished=True).encode()
    step, last = app.receive_data(gateway_reply(0x01, entry) + gateway_reply(0x01, done))
    assert isinstance(step, Progress)
    assert step.message == SsidScanReply((SsidEntry("MyWiFi", -48),))
    assert isinstance(last, Replied)
    assert (last.ok, last.code.code) == (True, Code.OK)


def test_a_gateway_app_refuses_a_plugin_without_gateway_codes() -> None:
    # Plugins before 2.6.0 have no gateway codes (128..136 arrive in 2.6.0): the app
    # must not invent 128 for a failure there, so it refuses to start (issue 18, item 8).
    with pytest.raises(UnknownCode, match=r"2\.4\.0 has no gateway codes.*from plugin 2\.6\.0"):
        gateway(plugin_version="2.4.0")
    assert gateway(plugin_version="2.6.0").kind is DeviceKind.GATEWAY


@pytest.mark.parametrize("status", [None, 1, 6, 10, 255])
def test_a_gateway_answer_has_no_code_before_plugin_2_6_0(status: int | None) -> None:
    with pytest.raises(UnknownCode, match="gateway codes"):
        answer_code(DeviceKind.GATEWAY, status, "2.4.0")
    assert answer_code(DeviceKind.GATEWAY, 6, "3.1.0").code == 133
    assert answer_code(DeviceKind.GATEWAY, status, "2.6.0").code in range(128, 137)


def test_a_gateway_reply_under_another_key_or_without_a_status_is_a_problem() -> None:
    app = gateway()
    app.send(Echo())
    other = encode_gateway_command(GatewayCommand.ECHO, b"\x00", bytes(16))
    (event,) = app.receive_data(other)
    assert isinstance(event, Problem)
    assert event.condition is LinkCondition.REPLY_UNDECRYPTABLE
    assert app.auth is Auth.NONE
    app.send(Echo())
    empty = build_gateway_frame(GatewayCommand.ECHO, b"")
    (event,) = app.receive_data(empty)
    assert isinstance(event, Problem)
    assert (event.condition, event.detail) == (
        LinkCondition.REPLY_UNPARSEABLE,
        "empty reply plaintext",
    )


# --- the state machine ----------------------------------------------------------------------


def test_one_request_at_a_time_and_nothing_changes_when_refused() -> None:
    app = paired()
    app.send(SearchStatus())
    with pytest.raises(IllegalTransition, match="send"):
        app.send(CheckAdmin(ADMIN_PS))
    assert app.pending == 0x14


def test_nothing_is_sent_or_received_without_a_subscribed_link() -> None:
    app = LockApp(setting_mode=False, lock_key=KEY)
    with pytest.raises(IllegalTransition):
        app.send(SearchStatus())
    app.connected()
    with pytest.raises(IllegalTransition):
        app.receive_data(lock_reply(Reply.success(0x14)))
    app.subscribed()
    app.disconnected()
    with pytest.raises(IllegalTransition):
        app.receive_data(lock_reply(Reply.success(0x14)))


def test_a_payload_too_long_for_a_frame_leaves_the_app_idle() -> None:
    app = paired()
    with pytest.raises(ProtocolError, match="length"):
        app.send(0x14, bytes(300))
    assert app.state is AppState.IDLE


def test_a_legacy_header_is_refused_and_a_paired_lock_needs_its_key() -> None:
    with pytest.raises(ProtocolError, match="legacy"):
        LockApp(setting_mode=True, header=LockHeader(3))
    with pytest.raises(ProtocolError, match="lock key"):
        LockApp(setting_mode=False)


def test_reprs_never_show_keys_or_plaintexts() -> None:
    app = paired()
    sent = app.send(CheckAdmin(ADMIN_PS))
    (event,) = app.receive_data(lock_reply(Reply.success(0x41, CheckAdminReply(PS))))
    shown = repr(app) + repr(sent) + repr(event) + repr(Outgoing)
    for secret in (KEY.hex(), sent.data.hex(), event.plaintext.hex(), f"{PS}"):
        assert secret not in shown
    assert "CHECK_ADMIN" in repr(event)


# --- properties --------------------------------------------------------------------------------


SESSION = [
    lock_reply(Reply.success(0x14, StatePush(45, 1, 0))),
    lock_reply(Reply.failure(0x47, LockError.COMMAND_RECEIVED)),
    lock_reply(Reply.success(0x47, bytes(15))),
    lock_reply(Reply.success(0x47, bytes(15))),
]


@given(cuts=st.lists(st.integers(0, 400), max_size=20))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    data = b"".join(SESSION)
    whole = paired()
    whole.send(Unlock.answer(PS, UNLOCK_KEY, 0))
    expected = whole.receive_data(data)
    assert [type(e) for e in expected] == [Pushed, Progress, Replied, Stray]
    chunked = paired()
    chunked.send(Unlock.answer(PS, UNLOCK_KEY, 0))
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    got = []
    for start, end in itertools.pairwise(bounds):
        got += chunked.receive_data(data[start:end])
    assert got == expected


@given(
    echo=st.sampled_from([0x14, 0x41, 0x47, 0x25]),
    status=st.sampled_from([0, 1]),
    data=st.binary(max_size=40),
)
def test_the_reply_to_the_request_in_flight_carries_its_envelope_and_code(
    echo: int, status: int, data: bytes
) -> None:
    app = paired()
    app.send(echo, b"")
    (event,) = app.receive_data(lock_reply(Reply(echo, status, data)))
    assert isinstance(event, Replied | Progress | Pushed)
    if isinstance(event, Replied | Progress):
        assert event.plaintext == bytes([echo, status]) + data
        assert event.ok is (status == 1)
        if not event.ok:
            assert event.error_byte == (data[0] if data else None)
            assert event.code == answer_code(DeviceKind.LOCK, event.error_byte, "3.1.0")


@given(noise=st.binary(max_size=300))
def test_no_bytes_make_the_app_raise(noise: bytes) -> None:
    for app in (paired(), gateway()):
        app.send(0x14 if isinstance(app, LockApp) else GatewayCommand.ECHO, b"")
        events = app.receive_data(noise)
        assert all(isinstance(e, Replied | Progress | Stray | Pushed | Problem) for e in events)
