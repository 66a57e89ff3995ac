"""The eight ways the virtual lock differed from hardware (issue 13), each as a client sees it.

Every test is a client behaving the way the evidence of docs/protocol.md describes
(BCD dates, a "read all" loop, one record per reply, the vendor's admin login kept for
the whole connection…) and fails against a simulator that answers otherwise. They run
over both byte pipes: ``receive()`` and bleak with the virtual backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ttlock_hil.harness.sim.gatt_table import gatt_table
from ttlock_hil.protocol.app import Pushed, Replied
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.messages import (
    AudioReply,
    AudioSetVolume,
    AutoLockQuery,
    AutoLockReply,
    FrAddedReply,
    FrEnterAddMode,
    FrQuery,
    GetOperateLog,
    GetPasscodeList,
    IcAdd,
    IcQuery,
    LogPush,
    LogType,
    PassageModeAdd,
    PassageModeEntry,
    PassageModeQuery,
    PasscodeAdd,
    PasscodeType,
    Unlock,
    decode_reply_data,
)

from .clients import DEADLINE, UNIX_TIME, BleakDriver, BleakTransport, Driver, LockClient
from .lock_scenarios import UNLOCK_KEY, admin, ends_with, paired_lock, window


@pytest.fixture(params=["receive", "bleak"])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    from .clients import SansIODriver

    opened: Any = SansIODriver() if request.param == "receive" else BleakDriver()
    yield opened
    await opened.close()


async def enrol(app: LockClient, lock: Any, finger: int) -> None:
    """Enrol ``finger`` the way a bench does: touch the sensor until the lock has it."""
    await app.request(FrEnterAddMode(), final=ends_with(FrAddedReply))
    for _ in range(20):
        if finger in lock.fingerprints:
            break
        lock.present_finger(finger)
    while not isinstance(await app.next_reply(), Replied):
        pass


def _bcd(*parts: int) -> bytes:
    return bytes((p // 10) << 4 | p % 10 for p in parts)


# --- 1. CHECK_USER_TIME dates in BCD (§9.2) --------------------------------------------------


async def test_1_a_bcd_permanent_window_logs_in_and_unlocks(driver: Driver) -> None:
    # TTLOCK-BLE encodes the vendor's "permanent" window 0001311400 / 9911301400 in BCD
    # and real locks accept it (docs/protocol.md §9.2).
    lock = paired_lock()
    app = await LockClient.open(driver, lock)
    plaintext = _bcd(0, 1, 31, 14, 0) + _bcd(99, 11, 30, 14, 0) + bytes(3) + bytes(4)
    assert plaintext.hex() == "0001311400" + "9911301400" + "00" * 7
    challenge = await app.request(LockCommand.CHECK_USER_TIME, plaintext)
    assert challenge.ok, f"error byte {challenge.error_byte}"
    ps = int.from_bytes(challenge.data, "big")
    opened = await app.request(Unlock.answer(ps, UNLOCK_KEY, UNIX_TIME))
    assert opened.ok, f"error byte {opened.error_byte}"
    assert lock.unlocked
    await app.close()


# --- 2. operate log: one record per reply, a cursor, an empty page past the end (§10.3.7) ----


async def test_2_the_log_comes_one_record_per_reply_and_ends_with_an_empty_page(
    driver: Driver,
) -> None:
    lock = paired_lock()
    start, _ = window(-1, 0)
    app = await admin(driver, lock)
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "246800", start))).ok
    for _ in range(5):
        lock.enter_passcode("246800")
    # A "read all" loop (vendor getOperationLog, KIND3R): from 0, follow seq until totalLen 0.
    per_reply: list[int] = []
    seq = 0
    while True:
        page = await app.data(GetOperateLog(seq))
        if page.total_len == 0:  # type: ignore[attr-defined]
            break
        per_reply.append(len(page.records))  # type: ignore[attr-defined]
        assert page.seq not in (None, seq)  # type: ignore[attr-defined]
        seq = page.seq  # type: ignore[attr-defined]
        assert len(per_reply) < 100
    assert per_reply == [1] * len(lock.log)
    # Past the last record: an empty page, never an error.
    far = await app.request(GetOperateLog(60000))
    assert far.ok, f"error byte {far.error_byte}"
    assert far.data == b"\x00\x00"
    await app.close()


# --- 3. lists: one item per reply, opaque cursors, the documented end (§10.3.7) ---------------


async def test_3_passcodes_cards_fingerprints_and_passage_modes_come_one_per_reply(
    driver: Driver,
) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(0, 5)
    for n in range(4):
        assert (await app.request(PasscodeAdd(PasscodeType.PERIOD, f"55500{n}", start, end))).ok
        assert (await app.request(IcAdd(0xC0DE0000 + n, start, end))).ok
        period = PassageModeEntry(1, n + 1, 0, 8, 0, 9, 0)
        assert (await app.request(PassageModeAdd(period))).ok
        await enrol(app, lock, 0xF0 + n)

    async def pages(first: Any, cursor_of: Any, items_of: Any, ended: Any) -> list[int]:
        counts: list[int] = []
        request = first
        while True:
            reply = await app.data(request)
            items = items_of(reply)
            if ended(reply):
                # The vendor does not parse the records of the reply that ends a list.
                assert items == ()
                return counts
            counts.append(len(items))
            request = cursor_of(reply)
            assert len(counts) < 50

    passcodes = await pages(
        GetPasscodeList(0),
        lambda r: GetPasscodeList(r.next_seq),
        lambda r: r.entries,
        lambda r: r.total_len == 0,
    )
    cards = await pages(
        IcQuery(0), lambda r: IcQuery(r.next_seq), lambda r: r.cards, lambda r: r.next_seq == 0xFFFF
    )
    prints = await pages(
        FrQuery(0),
        lambda r: FrQuery(r.next_seq),
        lambda r: r.fingerprints,
        lambda r: r.next_seq == 0xFFFF,
    )
    periods = await pages(
        PassageModeQuery(0),
        lambda r: PassageModeQuery(r.seq),
        lambda r: r.entries,
        lambda r: r.seq == 0xFF,
    )
    assert passcodes == cards == prints == periods == [1, 1, 1, 1]
    await app.close()


# --- 4. a user login keeps the admin login ------------------------------------------------------


async def test_4_an_admin_who_unlocks_as_a_user_is_still_the_admin(driver: Driver) -> None:
    # The vendor flow and KIND3R keep the admin login for the whole connection.
    lock = paired_lock()
    app = await admin(driver, lock)
    ps = await app.login_user(*window(-1, 1))
    assert (await app.unlock(ps, UNLOCK_KEY)).ok
    query = await app.request(AutoLockQuery())
    assert query.ok, f"error byte {query.error_byte}"
    assert isinstance(query.message, AutoLockReply)
    await app.close()


# --- 5. volume on a beeper-only model ------------------------------------------------------------


async def test_5_a_volume_set_on_a_beeper_only_lock_succeeds_as_a_no_op(driver: Driver) -> None:
    # Two physical locks answer SUCCESS (TTLOCK-BLE, issue 13).
    lock = paired_lock("v3-keypad")
    app = await admin(driver, lock)
    reply = await app.request(AudioSetVolume(4))
    assert reply.ok, f"error byte {reply.error_byte}"
    assert isinstance(reply.message, AudioReply)
    await app.close()


# --- 6. a "log written" push while connected (§4.1, §10.3.6) ----------------------------------


async def test_6_keypad_card_and_finger_openings_push_the_record_while_connected(
    driver: Driver,
) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(-1, 5)
    assert (await app.request(PasscodeAdd(PasscodeType.PERMANENT, "135790", start))).ok
    assert (await app.request(IcAdd(0xCAFE0001, start, end))).ok
    await enrol(app, lock, 0xF1)
    await app.quiet()
    for act in (
        lambda: lock.enter_passcode("135790"),
        lambda: lock.present_card(0xCAFE0001),
        lambda: lock.present_finger(0xF1),
    ):
        assert act()
        events = await app.quiet()
        pushes = [e.push for e in events if isinstance(e, Pushed)]
        assert len(pushes) == 1, events
        push = pushes[0]
        assert isinstance(push, LogPush)
        assert push.date == lock.log[-1].date
        assert push.battery == lock.battery
    assert [r.log_type for r in lock.log][-3:] == [
        LogType.KEYBOARD_PASSWORD_UNLOCK,
        LogType.IC_UNLOCK,
        LogType.FR_UNLOCK,
    ]
    await app.close()


# --- 7. fingerprint enrolment: one push per touch ---------------------------------------------


async def test_7_each_touch_of_an_enrolment_pushes_one_reply(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    entered = await app.request(FrEnterAddMode(), final=ends_with(FrAddedReply))
    assert entered.ok
    touches = lock.preset.fingerprint_touches
    assert touches > 1
    for touch in range(1, touches + 1):
        lock.present_finger(0x00000000ABCD)
        answers = [e for e in await app.quiet() if not isinstance(e, Pushed)]
        assert len(answers) == 1, f"touch {touch}: {answers}"
        data = decode_reply_data(0x06, answers[0].plaintext[2:])  # type: ignore[union-attr]
        if touch < touches:
            assert data.status == 3  # type: ignore[attr-defined]
        else:
            assert data == FrAddedReply(lock.battery, 0x00000000ABCD)
    await app.close()


# --- 8. the GATT table: Device Information has 2a29 (§10.4) ------------------------------------


async def test_8_device_information_has_the_manufacturer_name() -> None:
    lock = paired_lock()
    services = {s.uuid: s for s in gatt_table(lock, battery=lambda: lock.battery)}
    dis = services["0000180a-0000-1000-8000-00805f9b34fb"]
    # §10.4: 2a29 at value handle 0x0018, then 2a24, 2a27, 2a26.
    assert [(c.uuid[4:8], c.value_handle) for c in dis.characteristics] == [
        ("2a29", 0x0018),
        ("2a24", 0x001A),
        ("2a27", 0x001C),
        ("2a26", 0x001E),
    ]
    driver = BleakDriver()
    try:
        app = await LockClient.open(driver, lock)
        assert isinstance(app.transport, BleakTransport)
        async with asyncio.timeout(DEADLINE):
            name = await app.transport.client.read_gatt_char("2a29")
        assert bytes(name).decode("utf-8")
    finally:
        await driver.close()
