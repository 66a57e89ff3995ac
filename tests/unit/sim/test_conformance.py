"""Conformance: golden request frames replayed into virtual devices (tests/data/vectors/).

The ``frame.*`` vectors are what KIND3R and the vendor SDK put on the wire, built
with key ``00112233…eeff``, header 5.3.1.1.1, adminPs 12345678, unlockKey
87654321 and a lock ps of 0x1DB78A8F (docs/protocol.md §4.3). They are replayed as an
app would send them — init into a setting-mode lock whose GET_AES_KEY hands out
that key, the rest into a lock paired with those credentials whose challenge is
that ps — and each reply must decode as the command's reply type. Where a
``response.*`` vector fixes the reply plaintext, the lock in the matching state
must produce that frame byte for byte.
"""

from __future__ import annotations

from typing import Any

import pytest

from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.sim.lock import DeviceError, VirtualLock
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.frame import LOCK_TRAILER, GatewayFrame, LockFrame, LockHeader, parse_frame
from ttlock_hil.protocol.messages import (
    AddAdminReply,
    AesKeyReply,
    AudioReply,
    AutoLockReply,
    CheckAdminReply,
    CheckUserTimeReply,
    EmptyReply,
    FeaturesReply,
    FunctionLockReply,
    GatewayStatus,
    LogType,
    OperateLogReply,
    PasscodeReply,
    RawReply,
    Reply,
    ReplyData,
    StatusReply,
    UnlockReply,
    decode_reply,
    parse_gateway_reply,
    parse_reply,
)

from .lock_scenarios import ADMIN_PS, KEY, PS, START, UNLOCK_KEY, Scripted

Vectors = dict[str, dict[str, Any]]

SETUP_SEQUENCE = (
    # §4.3 init, in the vendor's order, into a lock in setting mode.
    ("frame.init_0x45", RawReply),
    ("frame.get_aes_key_0x19", AesKeyReply),
    ("frame.add_admin_0x56", AddAdminReply),
    ("frame.calibrate_time_0x43", EmptyReply),
    ("frame.search_device_feature_0x01", FeaturesReply),
    ("frame.set_admin_keyboard_pwd_0x53", RawReply),
    ("frame.operate_finished_0x57", EmptyReply),
)
ADMIN_SEQUENCE = (
    # A later connection to the paired lock: admin login, then admin work, reset last.
    ("frame.check_admin_0x41", CheckAdminReply),
    ("frame.check_random_0x30", EmptyReply),
    ("frame.unlock_0x47", UnlockReply),
    ("frame.function_lock_0x58", FunctionLockReply),
    ("frame.search_bicycle_status_0x14", StatusReply),
    ("frame.auto_lock_query_0x36", AutoLockReply),
    ("frame.auto_lock_set5s_0x36", AutoLockReply),
    ("frame.audio_query_0x62", AudioReply),
    ("frame.get_operate_log_0x25", OperateLogReply),
    # All three add "123456": the clear between them makes room again.
    ("frame.add_passcode_permanent_0x03", PasscodeReply),
    ("frame.clear_passcodes_0x03", PasscodeReply),
    ("frame.add_passcode_permanent_0x03_official_layout", PasscodeReply),
    ("frame.clear_passcodes_0x03", PasscodeReply),
    ("frame.add_passcode_period_0x03_official_layout", PasscodeReply),
    ("frame.reset_lock_0x52", RawReply),
)
USER_SEQUENCE = (
    # A user's e-key: the permanent window of the vectors, then unlock.
    ("frame.check_user_time_0x55", CheckUserTimeReply),
    ("frame.unlock_0x47", UnlockReply),
)


def wire(vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector["wire_hex"])


def reply_frame(frame: bytes, key: bytes) -> Reply:
    assert frame.endswith(LOCK_TRAILER)
    parsed = parse_frame(frame)
    assert isinstance(parsed, LockFrame)
    assert parsed.header == LockHeader(5, 3, 2, 1, 1)  # what real V3 locks answer with (§2.1)
    assert (parsed.command, parsed.encrypt) == (LockCommand.RESPONSE, 0xAA)
    return parse_reply(parsed.decrypt(key))


def replay(
    lock: VirtualLock, vectors: Vectors, sequence: tuple[tuple[str, type[ReplyData]], ...]
) -> dict[str, ReplyData]:
    """Send each vector's wire bytes; every reply must succeed and decode as expected."""
    decoded: dict[str, ReplyData] = {}
    for vector_id, reply_type in sequence:
        vector = vectors[vector_id]
        request = parse_frame(wire(vector))
        assert isinstance(request, LockFrame)
        key = bytes.fromhex(vector["input"]["aes_key_hex"])
        (frame,) = lock.receive(wire(vector))
        reply = reply_frame(frame, key)
        assert reply.command == request.command, vector_id
        assert reply.ok, f"{vector_id}: error byte {reply.error_byte}"
        data = decode_reply(reply)
        assert isinstance(data, reply_type), (vector_id, data)
        decoded[vector_id] = data
    return decoded


def vector_lock(**kwargs: Any) -> VirtualLock:
    """Paired with the vectors' credentials; every challenge is the vectors' ps."""
    return VirtualLock.paired(
        aes_key=KEY,
        admin_ps=ADMIN_PS,
        unlock_key=UNLOCK_KEY,
        rng=Scripted(ps=PS),
        clock=ManualClock(START),
        **kwargs,
    )


def test_every_frame_vector_is_replayed(vectors: list[dict[str, Any]]) -> None:
    frame_ids = {v["id"] for v in vectors if v["category"] == "frame"}
    replayed = {vid for seq in (SETUP_SEQUENCE, ADMIN_SEQUENCE, USER_SEQUENCE) for vid, _ in seq}
    assert replayed == frame_ids


def test_the_init_vectors_pair_a_setting_mode_lock(vectors_by_id: Vectors) -> None:
    lock = VirtualLock("v3-keypad", rng=Scripted(), clock=ManualClock(START))
    decoded = replay(lock, vectors_by_id, SETUP_SEQUENCE)
    aes = decoded["frame.get_aes_key_0x19"]
    assert isinstance(aes, AesKeyReply)
    assert aes.key == KEY
    creds = lock.credentials
    assert creds is not None
    assert (creds.aes_key, creds.admin_ps, creds.unlock_key) == (KEY, ADMIN_PS, UNLOCK_KEY)
    assert lock.now.isoformat() == "2026-01-02T03:04:05"  # calibrate 26-01-02 03:04:05
    assert lock.admin_code == "1234567"  # 0x53 digit values 01..07


def test_the_admin_vectors_drive_a_paired_lock(vectors_by_id: Vectors) -> None:
    lock = vector_lock()
    decoded = replay(lock, vectors_by_id, ADMIN_SEQUENCE)
    check = decoded["frame.check_admin_0x41"]
    assert isinstance(check, CheckAdminReply)
    assert check.ps == PS
    status = decoded["frame.search_bicycle_status_0x14"]
    assert isinstance(status, StatusReply)
    assert status.state == 0  # locked again by function_lock
    assert decoded["frame.auto_lock_set5s_0x36"] == AutoLockReply(lock.battery, 2)
    log = decoded["frame.get_operate_log_0x25"]
    assert isinstance(log, OperateLogReply)
    # One record per reply, as hardware pages the log (§10.3.7); seq is the next one's cursor.
    assert [r.log_type for r in log.records] == [LogType.MOBILE_UNLOCK]
    assert log.seq == 1
    # The last step, reset, brought the lock back to the factory state.
    assert lock.setting_mode
    assert lock.credentials is None


def test_the_user_vectors_unlock_with_an_ekey(vectors_by_id: Vectors) -> None:
    lock = vector_lock()
    decoded = replay(lock, vectors_by_id, USER_SEQUENCE)
    assert decoded["frame.check_user_time_0x55"] == CheckUserTimeReply(PS)
    assert lock.unlocked


def test_the_passcode_vectors_store_what_they_say(vectors_by_id: Vectors) -> None:
    lock = vector_lock()
    replay(lock, vectors_by_id, ADMIN_SEQUENCE[:2])
    sequence = (
        ("frame.add_passcode_period_0x03_official_layout", PasscodeReply),
        ("frame.add_passcode_permanent_0x03", PasscodeReply),
    )
    (frame,) = lock.receive(wire(vectors_by_id[sequence[0][0]]))
    assert reply_frame(frame, KEY).ok
    period = lock.passcodes["123456"]
    assert (str(period.validity.start), str(period.validity.end)) == (
        "2026-01-01 08:00:00",
        "2026-12-31 20:00:00",
    )
    (frame,) = lock.receive(wire(vectors_by_id[sequence[1][0]]))
    assert reply_frame(frame, KEY).error_byte == DeviceError.PASSWORD_EXIST


# --- byte-identical replies (response.* vectors) --------------------------------------------


def expected_wire(vectors: Vectors, vector_id: str) -> bytes:
    vector = vectors[vector_id]
    assert bytes.fromhex(vector["frame_hex"]) + LOCK_TRAILER == bytes.fromhex(vector["wire_hex"])
    return bytes.fromhex(vector["wire_hex"])


def test_get_aes_key_reply_is_the_vector_frame(vectors_by_id: Vectors) -> None:
    vector = vectors_by_id["response.get_aes_key_ok"]
    issued = bytes.fromhex(vector["input"]["plaintext_hex"])[2:]
    lock = VirtualLock(rng=Scripted(key=issued))
    (frame,) = lock.receive(wire(vectors_by_id["frame.get_aes_key_0x19"]))
    assert frame == expected_wire(vectors_by_id, "response.get_aes_key_ok")
    assert vector["input"]["aes_key_hex"] == DEFAULT_LOCK_KEY.hex()


def test_check_admin_reply_is_the_vector_frame(vectors_by_id: Vectors) -> None:
    lock = vector_lock()
    (frame,) = lock.receive(wire(vectors_by_id["frame.check_admin_0x41"]))
    assert frame == expected_wire(vectors_by_id, "response.check_admin_ok")


def test_unlock_reply_is_the_vector_frame(vectors_by_id: Vectors) -> None:
    # Plaintext 47 01 | 2a | uid 0 | record 1 | 26-01-01 12:00:00: battery 42, first record.
    lock = vector_lock()
    lock.battery = 42
    lock.receive(wire(vectors_by_id["frame.check_admin_0x41"]))
    lock.receive(wire(vectors_by_id["frame.check_random_0x30"]))
    (frame,) = lock.receive(wire(vectors_by_id["frame.unlock_0x47"]))
    assert frame == expected_wire(vectors_by_id, "response.unlock_ok")


def test_status_reply_is_the_real_capture_frame(vectors_by_id: Vectors) -> None:
    # The real plaintext 14 01 2d 00 02: 45 %, locked, and the trailing 02 of the capture.
    lock = vector_lock()
    lock.battery = 45
    (frame,) = lock.receive(wire(vectors_by_id["frame.search_bicycle_status_0x14"]))
    assert frame == expected_wire(vectors_by_id, "response.status_locked_real_plaintext")


def test_double_locked_unlock_reply_is_the_vector_frame(vectors_by_id: Vectors) -> None:
    lock = vector_lock()
    lock.double_locked = True
    lock.receive(wire(vectors_by_id["frame.check_user_time_0x55"]))
    (frame,) = lock.receive(wire(vectors_by_id["frame.unlock_0x47"]))
    assert frame == expected_wire(vectors_by_id, "response.unlock_fail_double_locked_0x1e")


@pytest.mark.parametrize("vector_id", ["frame.unlock_0x47", "frame.function_lock_0x58"])
def test_bolt_commands_without_a_login_are_refused(vectors_by_id: Vectors, vector_id: str) -> None:
    lock = vector_lock()
    (frame,) = lock.receive(wire(vectors_by_id[vector_id]))
    assert reply_frame(frame, KEY).error_byte == DeviceError.USER_NOT_LOGIN


# --- gateway vectors (docs/protocol.md §7) -------------------------------------------------


def gateway_status(frame: bytes, command: int, key: bytes) -> int:
    parsed = parse_frame(frame)
    assert isinstance(parsed, GatewayFrame)
    assert parsed.command == command
    return parse_gateway_reply(parsed.decrypt(key)).status


def test_the_gateway_vectors_configure_a_g2(vectors_by_id: Vectors) -> None:
    key_vector = vectors_by_id["gateway.session_key"]
    gateway = VirtualGateway("g2", address=key_vector["input"]["mac"])
    key = bytes.fromhex(key_vector["expected_hex"])
    replies = gateway.receive(
        bytes.fromhex(vectors_by_id["gateway.echo_0x45_SCIENER"]["expected_hex"])
    )
    assert [gateway_status(f, GatewayCommand.ECHO, key) for f in replies] == [0]
    wifi = bytes.fromhex(vectors_by_id["gateway.config_wifi_0x02"]["expected_hex"])
    (processing,) = gateway.receive(wifi)
    assert gateway_status(processing, GatewayCommand.CONFIGURE_WIFI, key) == (
        GatewayStatus.PROCESSING
    )
    (joined,) = gateway.take_pushes()
    assert gateway_status(joined, GatewayCommand.CONFIGURE_WIFI, key) == GatewayStatus.SUCCESS
    assert gateway.config.wifi_ssid == "MyWiFi"
    server = bytes.fromhex(vectors_by_id["gateway.config_server_0x03"]["expected_hex"])
    (reply,) = gateway.receive(server)
    assert gateway_status(reply, GatewayCommand.CONFIGURE_SERVER, key) == GatewayStatus.SUCCESS
    assert gateway.config.server == ("plug.sciener.cn", 2999)
