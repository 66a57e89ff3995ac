"""Fault injection: the sans-IO plan, the byte surgery, and each fault's effect through bleak."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakCharacteristicNotFoundError, BleakError
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.harness.sim.air import Air
from ttlock_hil.harness.sim.backend import VirtualClientBackend, VirtualScannerBackend
from ttlock_hil.harness.sim.faults import (
    Fault,
    FaultPlan,
    FaultRule,
    InvalidFault,
    RequestFaults,
    corrupt_crc,
    frame_command,
    garble_ciphertext,
    truncate_frame,
)
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, aes_decrypt
from ttlock_hil.protocol.errors import CrcMismatch, DecryptError
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    build_legacy_frame,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)

from .conftest import EchoDevice, Notifications, send, strip_trailer

DEADLINE = 3.0
QUIET = 0.08
"""How long a test listens to conclude that nothing arrives."""

# --- the plan (sans-IO) -------------------------------------------------------------


def test_a_rule_fires_once_by_default_then_disarms() -> None:
    plan = FaultPlan()
    rule = plan.add(Fault.SILENCE)
    assert plan.remaining(rule) == 1
    assert Fault.SILENCE in plan.on_request(0x47)
    assert not plan.on_request(0x47)
    assert plan.rules == ()
    assert plan.remaining(rule) == 0


def test_times_none_fires_always_and_times_n_fires_n_times() -> None:
    plan = FaultPlan()
    always = plan.add(Fault.CORRUPT_CRC, times=None)
    twice = plan.add(Fault.DUPLICATE_NOTIFICATION, times=2)
    fired = [set(r.fault for r in plan.on_request(0x14).rules) for _ in range(4)]
    assert fired == [
        {Fault.CORRUPT_CRC, Fault.DUPLICATE_NOTIFICATION},
        {Fault.CORRUPT_CRC, Fault.DUPLICATE_NOTIFICATION},
        {Fault.CORRUPT_CRC},
        {Fault.CORRUPT_CRC},
    ]
    assert plan.remaining(always) is None
    assert plan.remaining(twice) == 0


def test_command_filter_and_skip_count_only_matching_requests() -> None:
    plan = FaultPlan()
    plan.add(Fault.SILENCE, command=0x47, skip=1)
    assert not plan.on_request(0x47)  # skipped
    assert not plan.on_request(0x41)  # other command: not counted
    assert Fault.SILENCE in plan.on_request(0x47)
    assert not plan.on_request(0x47)


def test_of_two_rules_for_one_fault_the_first_fires_and_the_second_waits() -> None:
    plan = FaultPlan()
    first = plan.add(Fault.ERROR_REPLY, error=3)
    second = plan.add(Fault.ERROR_REPLY, error=7)
    assert plan.on_request(0x41).get(Fault.ERROR_REPLY) is first
    assert plan.on_request(0x41).get(Fault.ERROR_REPLY) is second
    assert [f.rule for f in plan.history] == [first, second]
    assert [f.command for f in plan.history] == [0x41, 0x41]


def test_remove_and_clear_disarm_rules_but_keep_history() -> None:
    plan = FaultPlan()
    kept = plan.add(Fault.MTU, mtu=185)
    dropped = plan.add(Fault.DELAY, seconds=0.5)
    assert plan.remove(dropped) is True
    assert plan.remove(dropped) is False
    assert plan.rules == (kept,)
    assert "MTU(left=1)" in repr(plan)
    plan.on_request(1)
    plan.add(Fault.SILENCE, times=None)
    plan.clear()
    assert len(plan) == 0
    assert not plan.on_request(1)
    assert len(plan.history) == 1


def test_link_faults_are_taken_per_occasion_and_ignored_by_requests() -> None:
    plan = FaultPlan()
    plan.add(Fault.NOTIFY_FAILED, skip=1)
    assert not plan.on_request(0x14)
    assert plan.take(Fault.NOTIFY_FAILED) is None  # skipped occasion
    assert plan.take(Fault.NOTIFY_FAILED) is not None
    assert plan.take(Fault.NOTIFY_FAILED) is None
    with pytest.raises(InvalidFault, match="on_request"):
        plan.take(Fault.SILENCE)


def test_write_failed_matches_writes_by_known_command() -> None:
    plan = FaultPlan()
    plan.add(Fault.WRITE_FAILED, command=0x47)
    assert plan.on_write(None) is None  # header not buffered yet: unknown command
    assert plan.on_write(0x41) is None
    assert plan.on_write(0x47) is not None
    plan.add(Fault.WRITE_FAILED)
    assert plan.on_write(None) is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fault": Fault.SILENCE, "seconds": 1.0}, "takes no parameter, got seconds="),
        ({"fault": Fault.DELAY}, "needs seconds="),
        ({"fault": Fault.DELAY, "seconds": -1}, "needs seconds="),
        ({"fault": Fault.DELAY, "seconds": 1, "error": 3}, "only seconds=, got error="),
        ({"fault": Fault.ERROR_REPLY}, "needs error="),
        ({"fault": Fault.ERROR_REPLY, "error": 256}, "needs error="),
        ({"fault": Fault.MTU, "mtu": 22}, "between 23 and 517"),
        ({"fault": Fault.PARTIAL_FRAME, "keep": 0}, "keep= must be >= 1"),
        ({"fault": Fault.CHARACTERISTIC_MISSING, "characteristic": "fff2"}, "'write' or 'notify'"),
        ({"fault": Fault.CONNECT_TIMEOUT, "command": 0x47}, "link fault .* drop command="),
        ({"fault": Fault.SILENCE, "command": 300}, "opcode byte"),
        ({"fault": Fault.SILENCE, "times": 0}, "times must be >= 1"),
        ({"fault": Fault.SILENCE, "skip": -1}, "skip must be >= 0"),
    ],
)
def test_impossible_rules_are_refused_with_the_fix(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFault, match=message):
        FaultPlan().add(**kwargs)


@pytest.mark.parametrize("fault", list(Fault))
def test_every_fault_documents_what_the_harness_reports(fault: Fault) -> None:
    doc = fault.__doc__ or ""
    assert len(doc) > 40
    if fault.expected_code is not None:
        assert str(fault.expected_code) in doc
    else:
        assert "No error" in doc or "decimal" in doc or "10017" in doc
    assert Fault(fault.value) is fault


def test_request_and_link_faults_are_told_apart() -> None:
    link = {f for f in Fault if f.is_link_level}
    assert link == {
        Fault.NOT_ADVERTISING,
        Fault.CONNECT_TIMEOUT,
        Fault.WRITE_FAILED,
        Fault.NOTIFY_FAILED,
        Fault.SERVICE_MISSING,
        Fault.CHARACTERISTIC_MISSING,
    }


# --- what a decision does to the replies (sans-IO) ------------------------------------

REPLY = encode_lock_command(0x54, bytes([0x47, 1]) + bytes(20), DEFAULT_LOCK_KEY) + LOCK_TRAILER
PUSH = encode_lock_command(0x54, bytes([0x14, 1, 80]), DEFAULT_LOCK_KEY) + LOCK_TRAILER
ERROR = encode_lock_command(0x54, bytes([0x47, 0, 0x1E]), DEFAULT_LOCK_KEY) + LOCK_TRAILER


def transform(*rules: FaultRule, replies: tuple[bytes, ...] = (REPLY,)) -> list[bytes]:
    def error_reply(error: int) -> bytes:
        assert error == 0x1E
        return ERROR

    return RequestFaults(0x47, rules).transform(
        replies, error_reply=error_reply, push_frame=lambda: PUSH
    )


def test_no_fault_passes_replies_unchanged() -> None:
    assert transform() == [REPLY]
    assert RequestFaults(0x47).delivers_request


def test_error_reply_replaces_the_reply_and_keeps_the_request_from_the_device() -> None:
    rule = FaultRule(Fault.ERROR_REPLY, error=0x1E)
    assert transform(rule) == [ERROR]
    assert not RequestFaults(0x47, (rule,)).delivers_request


def test_silence_drops_the_reply_but_not_an_injected_push() -> None:
    silence = FaultRule(Fault.SILENCE)
    assert transform(silence) == []
    assert transform(silence, FaultRule(Fault.PUSH_BEFORE_REPLY)) == [PUSH]


def test_push_comes_first_and_duplicates_double_each_reply() -> None:
    assert transform(FaultRule(Fault.PUSH_BEFORE_REPLY)) == [PUSH, REPLY]
    other = encode_lock_command(0x54, b"\x01\x01", DEFAULT_LOCK_KEY) + LOCK_TRAILER
    duplicate = FaultRule(Fault.DUPLICATE_NOTIFICATION)
    assert transform(duplicate, replies=(REPLY, other)) == [REPLY, REPLY, other, other]


def test_partial_keeps_only_a_prefix_of_the_first_reply() -> None:
    assert transform(FaultRule(Fault.PARTIAL_FRAME, keep=5), replies=(REPLY, PUSH)) == [REPLY[:5]]


def test_drop_before_reply_delivers_nothing() -> None:
    decision = RequestFaults(0x47, (FaultRule(Fault.DROP_LINK_BEFORE_REPLY),))
    assert decision.drop_before_reply
    assert (
        transform(FaultRule(Fault.DROP_LINK_BEFORE_REPLY), FaultRule(Fault.PUSH_BEFORE_REPLY)) == []
    )


def test_delay_mtu_and_drop_after_are_read_from_the_decision() -> None:
    decision = RequestFaults(
        0x47,
        (
            FaultRule(Fault.DELAY, seconds=0.25),
            FaultRule(Fault.MTU, mtu=100),
            FaultRule(Fault.DROP_LINK_AFTER_REPLY),
        ),
    )
    assert (decision.delay, decision.mtu, decision.drop_after_reply) == (0.25, 100, True)
    assert (RequestFaults(1).delay, RequestFaults(1).mtu) == (0.0, None)


# --- byte surgery -------------------------------------------------------------------


def test_frame_command_reads_each_layout_and_waits_for_the_header() -> None:
    v3 = encode_lock_command(0x47, b"\x01", DEFAULT_LOCK_KEY)
    legacy = build_legacy_frame(0x14, b"\x01\x02", seed=42)
    gateway = encode_gateway_command(0x45, b"SCIENER", DEFAULT_LOCK_KEY)
    assert frame_command(v3) == 0x47
    assert frame_command(legacy) == 0x14
    assert frame_command(gateway) == 0x45
    assert frame_command(v3[:9]) is None
    assert frame_command(b"\x7f\x5a") is None
    assert frame_command(b"\x00\x01\x02") is None


def test_frame_command_is_known_once_the_header_is_in_before_the_payload() -> None:
    v3 = encode_lock_command(0x47, b"\x01" * 20, DEFAULT_LOCK_KEY)  # 12-byte header, 32 payload
    gateway = encode_gateway_command(0x45, b"SCIENER", DEFAULT_LOCK_KEY)  # 4-byte header
    legacy = build_legacy_frame(0x14, b"\x01\x02", seed=42)  # 6-byte header
    assert [frame_command(v3[:n]) for n in (11, 12, 20)] == [None, 0x47, 0x47]
    assert [frame_command(gateway[:n]) for n in (3, 4)] == [None, 0x45]
    assert [frame_command(legacy[:n]) for n in (5, 6)] == [None, 0x14]
    assert frame_command(v3 + gateway) == 0x47, "the first frame of the buffer"


def test_corrupt_crc_breaks_only_the_crc_and_keeps_the_trailer() -> None:
    corrupted = corrupt_crc(REPLY)
    assert corrupted.endswith(LOCK_TRAILER)
    assert corrupted[:-3] == REPLY[:-3]
    with pytest.raises(CrcMismatch):
        parse_frame(corrupted)


@given(
    key=st.binary(min_size=16, max_size=16),
    plaintext=st.binary(min_size=1, max_size=80),
    gateway=st.booleans(),
)
def test_garbled_replies_have_a_valid_crc_and_never_decrypt(
    key: bytes, plaintext: bytes, gateway: bool
) -> None:
    if gateway:
        frame = encode_gateway_command(0x01, plaintext, key)
    else:
        frame = encode_lock_command(0x54, plaintext, key) + LOCK_TRAILER
    garbled = garble_ciphertext(frame)
    parsed = parse_frame(garbled)  # CRC and length are valid
    assert garbled.endswith(LOCK_TRAILER) != gateway
    with pytest.raises(DecryptError):
        aes_decrypt(key, parsed.payload)


def test_an_empty_payload_is_garbled_into_a_non_block_payload() -> None:
    empty = encode_lock_command(0x54, b"", None)
    assert len(parse_frame(garble_ciphertext(empty)).payload) == 15


def test_truncate_always_stays_short_of_a_complete_frame() -> None:
    assert truncate_frame(REPLY) == REPLY[: (len(REPLY) - 2) // 2]
    assert truncate_frame(REPLY, 3) == REPLY[:3]
    assert truncate_frame(REPLY, 500) == REPLY[: len(REPLY) - 3]


def test_surgery_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(InvalidFault, match="not a TTLock frame"):
        corrupt_crc(b"hello")
    with pytest.raises(InvalidFault, match="truncated"):
        corrupt_crc(REPLY[:20])
    with pytest.raises(InvalidFault, match="legacy frame: it is XOR-coded"):
        garble_ciphertext(build_legacy_frame(0x14, b"\x01\x02", seed=42))


def test_a_frame_with_a_bad_crc_can_still_be_garbled_and_truncated() -> None:
    corrupted = corrupt_crc(REPLY)
    assert parse_frame(garble_ciphertext(corrupted)).command == parse_frame(REPLY).command
    assert truncate_frame(corrupted, 5) == REPLY[:5]


# --- each fault through bleak ---------------------------------------------------------


def connect(air: Air, target: str, **kwargs: Any) -> BleakClient:
    kwargs.setdefault("timeout", 1.0)
    return BleakClient(target, backend=VirtualClientBackend, air=air, **kwargs)


async def exchange(
    air: Air, lock: EchoDevice, *commands: int, expect: int, listen: float = QUIET
) -> tuple[Notifications, bool]:
    """Send ``commands`` in one connection; wait for ``expect`` frames, then listen a bit.

    Returns the notifications and whether the link dropped on the device side.
    """
    notes = Notifications()
    dropped = asyncio.Event()
    client = connect(air, lock.address, disconnected_callback=lambda _c: dropped.set())
    async with asyncio.timeout(DEADLINE):
        await client.connect()
        try:
            await client.start_notify("fff4", notes)
            for command in commands:
                if client.is_connected:
                    await send(client, lock.request(command))
            await notes.wait_frames(expect)
            await asyncio.sleep(listen)
        finally:
            await client.disconnect()
    return notes, dropped.is_set()


async def test_silence_sends_nothing_and_the_device_never_sees_the_request(
    air: Air, lock: EchoDevice
) -> None:
    air.faults(lock.address).add(Fault.SILENCE, command=0x47)
    notes, _ = await exchange(air, lock, 0x47, 0x14, expect=1)
    assert notes.frames == [strip_trailer(lock.reply_to(0x14))]
    assert [frame_command(r) for r in lock.requests] == [0x14]


async def test_delay_holds_the_reply_back(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.DELAY, seconds=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    notes, _ = await exchange(air, lock, 0x14, expect=1, listen=0)
    assert loop.time() - started >= 0.2
    assert notes.frames == [strip_trailer(lock.reply_to(0x14))]


async def test_a_delayed_reply_is_void_after_disconnect(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.DELAY, seconds=0.05)
    notes = Notifications()
    async with asyncio.timeout(DEADLINE):
        async with connect(air, lock.address) as client:
            await client.start_notify("fff4", notes)
            await send(client, lock.request(0x14))
        await asyncio.sleep(0.1)
    assert notes.chunks == []
    assert len(lock.requests) == 1


async def test_corrupt_crc_once_then_clean(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.CORRUPT_CRC)
    notes, _ = await exchange(air, lock, 0x14, 0x14, expect=2)
    with pytest.raises(CrcMismatch):
        parse_frame(notes.frames[0])
    parse_frame(notes.frames[1])


async def test_corrupt_crc_always(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.CORRUPT_CRC, times=None)
    notes, _ = await exchange(air, lock, 0x14, 0x41, expect=2)
    for frame in notes.frames:
        with pytest.raises(CrcMismatch):
            parse_frame(frame)


async def test_drop_link_before_reply(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.DROP_LINK_BEFORE_REPLY, command=0x47)
    notes, dropped = await exchange(air, lock, 0x47, 0x14, expect=0)
    assert dropped
    assert notes.chunks == []
    assert [frame_command(r) for r in lock.requests] == [0x47]  # the lock acted
    assert air.get(lock.address).advertising


async def test_drop_link_after_reply(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.DROP_LINK_AFTER_REPLY)
    notes, dropped = await exchange(air, lock, 0x47, expect=1)
    assert dropped
    assert notes.frames == [strip_trailer(lock.reply_to(0x47))]


async def test_error_reply_carries_the_error_byte(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.ERROR_REPLY, command=0x41, error=0x03)
    notes, _ = await exchange(air, lock, 0x41, expect=1)
    assert notes.frames == [strip_trailer(lock.error_reply(0x41, 0x03))]
    plaintext = parse_frame(notes.frames[0]).decrypt(lock.key)  # type: ignore[union-attr]
    assert plaintext == bytes([0x41, 0x00, 0x03])
    assert lock.requests == []


async def test_partial_frame_never_completes(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.PARTIAL_FRAME, keep=25)
    notes, _ = await exchange(air, lock, 0x14, expect=0)
    assert [len(c) for c in notes.chunks] == [20, 5]
    assert notes.frames == []
    assert notes.reassembler.pending == lock.reply_to(0x14)[:25]


async def test_duplicate_notification_repeats_the_reply(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.DUPLICATE_NOTIFICATION)
    notes, _ = await exchange(air, lock, 0x14, expect=2)
    assert notes.frames == [strip_trailer(lock.reply_to(0x14))] * 2


async def test_push_before_reply(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.PUSH_BEFORE_REPLY)
    notes, _ = await exchange(air, lock, 0x47, expect=2)
    assert notes.frames == [strip_trailer(lock.push_frame()), strip_trailer(lock.reply_to(0x47))]


async def test_mtu_change_resizes_chunks_and_the_write_limit(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.MTU, mtu=50)
    notes = Notifications()
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        char = client.services.get_characteristic("fff2")
        assert char is not None
        await client.start_notify("fff4", notes)
        assert char.max_write_without_response_size == 20
        await send(client, lock.request(0x14))
        await notes.wait_frames(1)
        assert char.max_write_without_response_size == 47
        assert client.mtu_size == 50
        await send(client, lock.request(0x14), size=47)
        await notes.wait_frames(2)
    assert len(lock.reply_to(0x14)) == 47
    assert [len(c) for c in notes.chunks] == [47, 47]  # the first reply already uses MTU 50


async def test_undecryptable_reply_has_a_valid_crc(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.UNDECRYPTABLE_REPLY)
    notes, _ = await exchange(air, lock, 0x14, expect=1)
    frame = parse_frame(notes.frames[0])
    with pytest.raises(DecryptError):
        frame.decrypt(lock.key)  # type: ignore[union-attr]


async def test_not_advertising_hides_the_device_for_one_scan(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.NOT_ADVERTISING)
    scanner = VirtualScannerBackend.bind(air)
    async with asyncio.timeout(DEADLINE):
        missing = await BleakScanner.find_device_by_address(lock.address, 0.1, backend=scanner)
        found = await BleakScanner.find_device_by_address(lock.address, 1.0, backend=scanner)
    assert missing is None
    assert found is not None


async def test_not_advertising_fails_a_connection_attempt(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.NOT_ADVERTISING)
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(BleakError, match="NOT_ADVERTISING"):
            await connect(air, lock.address, timeout=0.05).connect()
        async with connect(air, lock.address) as client:
            assert client.is_connected


async def test_connect_timeout_hangs_until_the_callers_timeout(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.CONNECT_TIMEOUT)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(TimeoutError, match="CONNECT_TIMEOUT"):
            await connect(air, lock.address, timeout=0.15).connect()
    assert loop.time() - started >= 0.15
    assert lock.connects == 0


async def test_write_failed_raises_and_nothing_reaches_the_device(
    air: Air, lock: EchoDevice
) -> None:
    air.faults(lock.address).add(Fault.WRITE_FAILED, command=0x47)
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        with pytest.raises(BleakError, match="WRITE_FAILED"):
            await send(client, lock.request(0x47))
        await send(client, lock.request(0x14))
    assert [frame_command(r) for r in lock.requests] == [0x14]


async def test_notify_failed_makes_start_notify_raise(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.NOTIFY_FAILED)
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        with pytest.raises(BleakError, match="NOTIFY_FAILED"):
            await client.start_notify("fff4", Notifications())
        await client.start_notify("fff4", Notifications())


async def test_service_missing_removes_the_ttlock_service(air: Air, lock: EchoDevice) -> None:
    air.faults(lock.address).add(Fault.SERVICE_MISSING)
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        assert client.services.get_service("1910") is None
        assert client.services.get_characteristic("fff2") is None
        assert client.services.get_service("180f") is not None
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        assert client.services.get_service("1910") is not None


@pytest.mark.parametrize(
    ("which", "present"),
    [(None, set()), ("write", {"fff4"}), ("notify", {"fff2"})],
)
async def test_characteristic_missing(
    air: Air, lock: EchoDevice, which: str | None, present: set[str]
) -> None:
    air.faults(lock.address).add(Fault.CHARACTERISTIC_MISSING, characteristic=which)
    async with asyncio.timeout(DEADLINE), connect(air, lock.address) as client:
        service = client.services.get_service("1910")
        assert service is not None
        assert {c.uuid[4:8] for c in service.characteristics} == present
        if "fff4" not in present:
            with pytest.raises(BleakCharacteristicNotFoundError):
                await client.start_notify("fff4", Notifications())


async def test_fired_faults_are_recorded_with_their_command(air: Air, lock: EchoDevice) -> None:
    plan = air.faults(lock.address)
    plan.add(Fault.DUPLICATE_NOTIFICATION, command=0x41)
    await exchange(air, lock, 0x14, 0x41, expect=3)
    assert [(f.rule.fault, f.command) for f in plan.history] == [
        (Fault.DUPLICATE_NOTIFICATION, 0x41)
    ]
