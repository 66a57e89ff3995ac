"""The virtual lock through its sans-IO entry point, ``receive()``.

The behaviour scenarios (``lock_scenarios.py``) run here through ``receive()``
— whole frames, and again cut into 7-byte pieces; the tests below cover what
only the sans-IO surface shows: chunking, implicit connection, pushes, the
advert, the bench API's checks, injected randomness.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.harness.sim.device import LOCK_GATT, DeviceKind, ManualClock, VirtualDevice
from ttlock_hil.harness.sim.lock import LOG_CAPACITY, VirtualLock
from ttlock_hil.harness.sim.lock_pipeline import HANDLERS
from ttlock_hil.harness.sim.presets import PresetError, lock_preset
from ttlock_hil.protocol.advert import Advert, parse_bleak
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.connection import Auth
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    LockFrame,
    LockHeader,
    build_legacy_frame,
    encode_lock_command,
    parse_frame,
)
from ttlock_hil.protocol.messages import (
    LOCK_MESSAGES,
    NEW_RECORDS,
    CheckAdmin,
    CheckRandom,
    GetAesKey,
    GetOperateLog,
    IcEnterAddMode,
    LogPush,
    Reply,
    Request,
    SearchStatus,
    StatePush,
    Unlock,
    decode_reply,
    parse_push,
    parse_reply,
)

from .clients import UNIX_TIME, SansIODriver
from .lock_scenarios import ADMIN_PS, KEY, PS, SCENARIOS, UNLOCK_KEY, Scenario, paired_lock


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_lock_behaviour_through_receive(scenario: Scenario) -> None:
    driver = SansIODriver()
    await scenario(driver)
    await driver.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_lock_behaviour_with_requests_cut_into_7_byte_writes(scenario: Scenario) -> None:
    driver = SansIODriver(chunk=7)
    await scenario(driver)
    await driver.close()


def wire(message: Request, key: bytes = KEY) -> bytes:
    """A request as an app writes it (V3 header 5.3.1.1.1, CRLF)."""
    return encode_lock_command(message.COMMAND, message.encode(), key) + LOCK_TRAILER


def reply_of(frame: bytes, key: bytes = KEY) -> Reply:
    parsed = parse_frame(frame)
    assert isinstance(parsed, LockFrame)
    return parse_reply(parsed.decrypt(key))


SESSION = (
    CheckAdmin(ADMIN_PS),
    CheckRandom.answer(PS, UNLOCK_KEY),
    Unlock.answer(PS, UNLOCK_KEY, UNIX_TIME),
    SearchStatus(),
    GetOperateLog(NEW_RECORDS),
)


# --- the device contract ------------------------------------------------------------


def test_a_virtual_lock_is_a_virtual_device_with_the_lock_gatt() -> None:
    lock = VirtualLock()
    assert isinstance(lock, VirtualDevice)
    assert lock.kind is DeviceKind.LOCK
    assert lock.gatt is LOCK_GATT
    assert (lock.name, lock.address) == ("S202F_f69a04", "EE:C6:A2:04:9A:F6")


def test_replies_carry_the_locks_header_0x54_0xaa_and_crlf() -> None:
    lock = paired_lock(header="5.3.8.1.1")
    (frame,) = lock.receive(wire(SearchStatus()))
    assert frame.endswith(LOCK_TRAILER)
    parsed = parse_frame(frame)
    assert isinstance(parsed, LockFrame)
    assert parsed.header == LockHeader(5, 3, 8, 1, 1)
    assert (parsed.command, parsed.encrypt) == (LockCommand.RESPONSE, 0xAA)
    assert reply_of(frame).command == LockCommand.SEARCH_STATUS


@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=25))
def test_receive_accepts_any_chunking(cuts: list[int]) -> None:
    data = b"".join(wire(m) for m in SESSION)
    whole = paired_lock().receive(data)
    assert len(whole) == len(SESSION)
    lock = paired_lock()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    got: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        got += lock.receive(data[start:end])
    assert got == whole
    assert lock.unlocked


def test_bytes_before_a_frame_and_between_frames_are_skipped() -> None:
    lock = paired_lock()
    replies = lock.receive(
        b"\x00\x0d\x0a" + wire(SearchStatus()) + b"garbage" + wire(SearchStatus())
    )
    assert [reply_of(f).ok for f in replies] == [True, True]


def test_receive_connects_implicitly_and_on_disconnect_ends_the_login() -> None:
    lock = paired_lock()
    assert not lock.connection_state.value.startswith("admin")
    for message in SESSION[:2]:
        lock.receive(wire(message))
    assert lock.auth is Auth.ADMIN
    lock.on_disconnect()
    assert lock.auth is Auth.NONE  # type: ignore[comparison-overlap]
    (frame,) = lock.receive(wire(SESSION[2]))
    assert reply_of(frame).error_byte == 0x12
    lock.on_connect()  # a second on_connect starts over as well
    assert lock.auth is Auth.NONE


def test_a_legacy_frame_gets_no_reply() -> None:
    lock = paired_lock()
    assert lock.receive(build_legacy_frame(0x14, b"SCIENER", seed=42) + LOCK_TRAILER) == []


def test_a_crc_error_in_setting_mode_is_answered_under_the_default_key() -> None:
    lock = VirtualLock()
    good = wire(SearchStatus(), DEFAULT_LOCK_KEY)
    (frame,) = lock.receive(good[:-3] + bytes([good[-3] ^ 1]) + LOCK_TRAILER)
    assert reply_of(frame, DEFAULT_LOCK_KEY) == Reply.failure(LockCommand.SEARCH_STATUS, 0x01)


# --- pushes, error replies, adverts -------------------------------------------------------


def test_error_reply_and_push_frame_use_the_key_in_force() -> None:
    fresh = VirtualLock()
    assert reply_of(fresh.error_reply(0x47, 0x1E), DEFAULT_LOCK_KEY) == Reply.failure(0x47, 0x1E)
    lock = paired_lock()
    lock.battery = 45
    assert reply_of(lock.error_reply(0x47, 0x1E)) == Reply.failure(0x47, 0x1E)
    push = parse_push(reply_of(lock.push_frame()))
    assert push == StatePush(45, 0, 0)


def test_pushes_are_queued_only_while_connected_and_taken_once() -> None:
    lock = paired_lock()
    lock.push_state()
    assert lock.take_pushes() == []
    lock.on_connect()
    lock.push_state()
    (push,) = lock.take_pushes()
    assert parse_push(reply_of(push)) == StatePush(lock.battery, 0, 0)
    assert lock.take_pushes() == []


def test_an_unfinished_card_add_ends_with_the_link() -> None:
    lock = paired_lock("v3-fingerprint-ic")
    for message in (*SESSION[:2], IcEnterAddMode()):
        lock.receive(wire(message))
    lock.on_disconnect()
    lock.on_connect()
    assert not lock.present_card(0xCAFE)  # now an unlock attempt with an unknown card
    (push,) = lock.take_pushes()  # the attempt's log record, not a card-added reply
    assert isinstance(parse_push(reply_of(push)), LogPush)
    assert not lock.cards


def test_the_advert_reflects_setting_mode_bolt_battery_and_new_records() -> None:
    def advert(lock: VirtualLock) -> Advert:
        ((company_id, rest),) = lock.advertisement().manufacturer_data.items()
        return parse_bleak(company_id, rest)

    fresh = advert(VirtualLock("v3-padlock"))
    assert fresh.setting_mode is True
    assert fresh.scene == 8
    assert fresh.battery == 60
    lock = paired_lock()
    lock.battery = 33
    before = advert(lock)
    assert (before.setting_mode, before.unlocked, before.has_events) == (False, False, False)
    assert before.battery == 33
    assert before.mac == lock.address
    lock.receive(b"".join(wire(m) for m in SESSION[:3]))
    after = advert(lock)
    assert (after.unlocked, after.has_events) == (True, True)
    lock.receive(wire(GetOperateLog(NEW_RECORDS)))
    assert advert(lock).has_events is False
    assert lock.advertisement().service_uuids == [LOCK_GATT.service]


# --- bench and construction checks --------------------------------------------------------


def test_bench_values_are_checked() -> None:
    lock = paired_lock()
    with pytest.raises(ValueError, match="battery"):
        lock.battery = 101
    with pytest.raises(ValueError, match="lock_flag_pos"):
        lock.lock_flag_pos = -1
    with pytest.raises(PresetError, match="no IC card reader"):
        lock.present_card(1)
    with pytest.raises(PresetError, match="no fingerprint sensor"):
        lock.present_finger(1)
    with pytest.raises(PresetError, match="no keypad"):
        paired_lock("v3-padlock").enter_passcode("1234")
    with pytest.raises(ValueError, match="fingerprint id"):
        paired_lock("v3-fingerprint-ic").present_finger()


def test_paired_checks_its_arguments_without_echoing_secrets() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        VirtualLock.paired(aes_key=bytes(15), admin_ps=1, unlock_key=2)
    with pytest.raises(ValueError, match="admin_ps") as caught:
        VirtualLock.paired(aes_key=KEY, admin_ps=2**32, unlock_key=2)
    assert str(2**32) not in str(caught.value)
    with pytest.raises(PresetError, match="rng"):
        VirtualLock(rng=42)  # type: ignore[arg-type]


def test_reprs_never_show_the_key_or_passwords() -> None:
    lock = paired_lock()
    lock.receive(wire(SESSION[0]))
    shown = repr(lock) + repr(lock.credentials) + repr(dict(lock.passcodes))
    for secret in (KEY.hex(), str(ADMIN_PS), str(UNLOCK_KEY)):
        assert secret not in shown
    assert "S202F_f69a04" in repr(lock)


def test_randomness_is_injected() -> None:
    def issued_key(rng: object) -> bytes:
        lock = VirtualLock(rng=rng)  # type: ignore[arg-type]
        (frame,) = lock.receive(wire(GetAesKey(), DEFAULT_LOCK_KEY))
        data = decode_reply(reply_of(frame, DEFAULT_LOCK_KEY))
        return data.key  # type: ignore[attr-defined,no-any-return]

    assert issued_key(random.Random(7)) == issued_key(random.Random(7))
    assert issued_key(random.Random(7)) != issued_key(random.Random(8))
    assert issued_key(None) != issued_key(None)
    assert issued_key(lambda n: bytes(range(n))) == bytes(range(16))
    with pytest.raises(PresetError, match="3 bytes"):
        issued_key(lambda n: b"abc")


def test_the_lock_clock_follows_the_injected_clock() -> None:
    clock = ManualClock()
    lock = VirtualLock(clock=clock)
    start = lock.now
    clock.advance(90)
    assert (lock.now - start).total_seconds() == 90


def test_the_log_keeps_the_newest_records() -> None:
    lock = paired_lock()
    for n in range(LOG_CAPACITY + 5):
        lock.enter_passcode(f"{n:06d}")
    assert len(lock.log) == LOG_CAPACITY
    assert lock.log[0].passcode == "000005"


def test_every_documented_request_has_a_handler() -> None:
    documented = {cls for messages in LOCK_MESSAGES.values() for cls in messages.requests}
    assert set(HANDLERS) == documented


def test_the_keypad_admin_code_opens_and_a_frozen_lock_stays_shut() -> None:
    lock = paired_lock()
    code = lock.admin_code
    assert code is not None
    assert lock.enter_passcode(code)
    assert lock.unlocked
    lock.frozen = True
    assert not lock.enter_passcode(code)


def test_lock_presets_without_admin_code_have_none_until_one_is_set() -> None:
    lock = paired_lock(lock_preset("v3-wifi"))
    assert lock.admin_code is None
