"""The rest of the lock's command set on the virtual lock (docs/protocol.md §10), client side.

Wi-Fi (§10.1), passcode recovery and count/cyclic passcodes (§10.2.1, §10.3.2), fingerprint
templates (§10.2.2), init passwords (§10.3.1), cyclic windows (§10.3.5), hotel (§10.3.4) and
NB-IoT (§10.3.3). Each runs over ``receive()`` and over bleak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.lock_cards import TEMPLATE_PACKET
from ttlock_hil.harness.sim.presets import lock_preset
from ttlock_hil.protocol.app import Progress, Pushed, Replied
from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    PASSCODE_PAGING,
    WIFI_SLEEP_PAGING,
    AckReply,
    CyclicAdd,
    CyclicClear,
    CyclicRemove,
    CyclicReply,
    CyclicUserType,
    DeviceInfoReply,
    DeviceInfoType,
    FrAdd,
    FrAddedReply,
    FrTemplateChunk,
    FrTemplateChunkReply,
    FrTemplateHeader,
    FrTemplateReadyReply,
    HotelGet,
    HotelParam,
    HotelReply,
    HotelSet,
    IcAdd,
    InitPasswords,
    IpMode,
    LockDate,
    NbAwakeModesReply,
    NbAwakeQuery,
    NbAwakeSetModes,
    NbAwakeSetReply,
    NbAwakeSetTimes,
    NbAwakeTime,
    NbAwakeTimesReply,
    NbAwakeWhat,
    NbServerAddress,
    PasscodeAdd,
    PasscodeRecover,
    PasscodeReply,
    PasscodeType,
    ReadDeviceInfo,
    SwitchItem,
    SwitchQuery,
    SwitchReply,
    SwitchSet,
    WifiConfigAccount,
    WifiConfigAp,
    WifiConfigServer,
    WifiConfigStaticIp,
    WifiGetInfo,
    WifiInfoReply,
    WifiNetworkReply,
    WifiScan,
    WifiScanEndReply,
    WifiSleepAckReply,
    WifiSleepAdd,
    WifiSleepClear,
)

from .clients import BleakDriver, Driver, LockClient, SansIODriver
from .lock_scenarios import START, admin, ends_with, paired_lock, read_all, window

E = LockError
SEEDS = [(code, 1234567890 + code) for code in range(1, 11)]


@pytest.fixture(params=["receive", "bleak"])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    opened: Any = SansIODriver() if request.param == "receive" else BleakDriver()
    yield opened
    await opened.close()


# --- Wi-Fi (§10.1) -----------------------------------------------------------------------


async def test_a_wifi_scan_answers_one_reply_per_network_then_the_end(driver: Driver) -> None:
    lock = paired_lock("v3-wifi")
    app = await LockClient.open(driver, lock)  # no login: the SDK scans right away (§10.1.1)
    answers = await app.answers(WifiScan(), final=ends_with(WifiScanEndReply))
    networks = [(a.message.ssid, a.message.rssi) for a in answers[:-1]]
    assert networks == [(n.ssid, n.rssi) for n in lock.preset.wifi_networks]
    assert all(isinstance(a.message, WifiNetworkReply) for a in answers[:-1])
    assert answers[-1].message == WifiScanEndReply(lock.battery)
    assert answers[-1].plaintext == bytes([0xF2, 0x01, lock.battery])  # exactly 3 bytes
    await app.close()


@pytest.mark.parametrize(
    ("ssid", "password", "outcome"),
    [
        ("MyWiFi", "secret123", None),
        ("NoSuchNetwork", "secret123", E.BAD_WIFI_NAME),
        ("MyWiFi", "wrong", E.BAD_WIFI_PASSWORD),
    ],
)
async def test_joining_a_network_answers_processing_then_the_outcome(
    driver: Driver, ssid: str, password: str, outcome: int | None
) -> None:
    clock = ManualClock(START)
    lock = paired_lock(lock_preset("v3-wifi").evolve(wifi_join_seconds=5), clock=clock)
    app = await LockClient.open(driver, lock)
    first = await app.request(WifiConfigAp(ssid, password))
    assert isinstance(first, Progress)
    assert (first.error_byte, first.processing) == (E.COMMAND_RECEIVED, True)
    assert [e for e in await app.quiet() if not isinstance(e, Pushed)] == []  # not yet
    clock.advance(5)
    final = await app.next_reply()
    assert isinstance(final, Replied)
    if outcome is None:
        assert final.ok
        assert final.message == AckReply(lock.battery)
        assert lock.memory.wifi.ssid == "MyWiFi"
    else:
        assert final.error_byte == outcome
        assert final.code.code == {E.BAD_WIFI_NAME: 37, E.BAD_WIFI_PASSWORD: 38}[outcome]
        assert lock.memory.wifi.ssid is None
    await app.close()


async def test_server_ip_info_and_account_are_kept(driver: Driver) -> None:
    lock = paired_lock("v3-wifi")
    app = await admin(driver, lock)
    assert await app.data(WifiGetInfo()) == WifiInfoReply(
        lock.battery, lock.preset.wifi_mac or "", -128
    )
    await app.answers(WifiConfigAp("MyWiFi", "secret123"))
    info = await app.data(WifiGetInfo())
    assert info == WifiInfoReply(lock.battery, "F0:9E:4A:77:21:C9", -48)
    assert await app.data(WifiConfigServer("lab.example", 4999)) == AckReply(lock.battery)
    static = WifiConfigStaticIp(IpMode.STATIC, "10.0.0.9", "255.0.0.0", "10.0.0.1")
    assert await app.data(static) == AckReply(lock.battery)
    account = WifiConfigAccount.with_password(uid=7, password="pw", name="Lab gateway")
    assert await app.data(account) == AckReply(lock.battery)
    wifi = lock.memory.wifi
    assert (wifi.server, wifi.ip, wifi.account) == (
        ("lab.example", 4999),
        static,
        (7, "Lab gateway"),
    )
    await app.close()


async def test_the_account_and_power_saving_need_the_admin(driver: Driver) -> None:
    lock = paired_lock("v3-wifi")
    app = await LockClient.open(driver, lock)
    account = WifiConfigAccount.with_password(uid=7, password="pw", name="x")
    assert await app.error(account) == E.NO_PERMISSION
    assert await app.error(WifiSleepClear()) == E.NO_PERMISSION
    await app.close()


async def test_power_saving_windows_are_added_listed_and_cleared(driver: Driver) -> None:
    lock = paired_lock("v3-wifi")
    app = await admin(driver, lock)
    for day in range(1, 8):
        assert await app.data(WifiSleepAdd(day, 0, 0, 6, 0)) == WifiSleepAckReply(lock.battery, 2)
    assert await app.error(WifiSleepAdd(1, 22, 0, 23, 0)) == E.NO_FREE_MEMORY
    windows, replies = await read_all(app, WIFI_SLEEP_PAGING)
    assert [w.week_or_day for w in windows] == list(range(1, 8))
    assert replies == 8
    assert await app.data(WifiSleepClear()) == WifiSleepAckReply(lock.battery, 4)
    assert (await read_all(app, WIFI_SLEEP_PAGING))[0] == []
    await app.close()


async def test_the_long_connection_switch_is_item_0x80(driver: Driver) -> None:
    lock = paired_lock("v3-wifi")
    app = await admin(driver, lock)
    item = SwitchItem.WIFI_LONG_CONNECTION
    assert await app.data(SwitchQuery()) == SwitchReply(lock.battery, 1, item, 0)
    assert await app.data(SwitchSet(item, item)) == SwitchReply(lock.battery, 2)
    reply = await app.data(SwitchQuery())
    assert isinstance(reply, SwitchReply)
    assert reply.is_on(item) is True
    assert await app.error(SwitchSet(SwitchItem.TAMPER_ALERT, 1)) == E.INVALID_PARAM
    await app.close()
    other = await admin(driver, paired_lock("v3-keypad"))
    assert await other.error(SwitchQuery()) == E.INVALID_COMMAND  # no switch items
    await other.close()


async def test_a_lock_without_wifi_answers_27(driver: Driver) -> None:
    app = await admin(driver, paired_lock("v3-keypad"))
    for message in (WifiScan(), WifiGetInfo(), WifiConfigAp("MyWiFi", "x"), WifiSleepClear()):
        assert await app.error(message) == E.INVALID_COMMAND
    await app.close()


# --- passcodes: recovery, count, cyclic (§10.2.1, §10.3.2) --------------------------------


async def test_a_recovered_passcode_keeps_its_window_and_type(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(-1, 5)
    for request in (
        PasscodeRecover.of(PasscodeType.PERMANENT, "111222", start),
        PasscodeRecover.of(PasscodeType.PERIOD, "333444", start, end=end),
        PasscodeRecover.of(PasscodeType.COUNT, "555666", start),
    ):
        assert await app.data(request) == PasscodeReply(lock.battery, 6)
    assert await app.error(PasscodeRecover.of(1, "111222", start)) == E.PASSWORD_EXIST
    assert await app.error(PasscodeRecover.of(1, "12", start)) == E.PASSWORD_LENGTH_INVALID
    listed = {e.passcode: e for e in (await read_all(app, PASSCODE_PAGING))[0]}
    assert listed["333444"].end == end
    assert listed["111222"].passcode_type == PasscodeType.PERMANENT
    await app.close()


async def test_a_cyclic_passcode_opens_only_inside_its_daily_hours(driver: Driver) -> None:
    clock = ManualClock(datetime(2026, 1, 5, 7, 59))  # a Monday
    lock = paired_lock("v3-fingerprint-ic", clock=clock)
    app = await admin(driver, lock)
    # cycleType 0x0407: daily, 8 hours from the start's 08:00 (§10.3.2 inference).
    recover = PasscodeRecover.of(4, "1234", LockDate(2026, 1, 1, 8), cycle_type=0x0407)
    assert await app.data(recover) == PasscodeReply(lock.battery, 6)
    listed = (await read_all(app, PASSCODE_PAGING))[0]
    assert [(e.passcode_type, e.cycle_type) for e in listed] == [(4, 0x0407)]
    assert not lock.enter_passcode("1234")
    clock.set(datetime(2026, 1, 5, 8, 0))
    assert lock.enter_passcode("1234")
    clock.set(datetime(2026, 1, 5, 16, 0))
    assert not lock.enter_passcode("1234")
    await app.close()
    keypad = await admin(driver, paired_lock("v3-keypad"))  # no feature 40
    assert await keypad.error(recover) == E.INVALID_PARAM
    await keypad.close()


async def test_a_count_passcode_opens_once(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    start, end = window(-1, 1)
    assert (await app.request(PasscodeAdd(PasscodeType.COUNT, "707070", start, end))).ok
    assert lock.enter_passcode("707070")
    assert not lock.enter_passcode("707070")
    assert "707070" not in lock.passcodes
    await app.close()


async def test_init_passwords_keep_ten_seeds_and_refuse_impossible_codes(driver: Driver) -> None:
    lock = paired_lock()
    app = await admin(driver, lock)
    request = InitPasswords.of(LockDate(2026, 1, 1), SEEDS)
    assert await app.data(request) == AckReply(lock.battery)
    assert lock.memory.keypad.seeds_first_year == 25  # 1 January: the year before
    assert len(lock.memory.keypad.seeds) == 10
    too_big = InitPasswords.of(LockDate(2026, 3, 1), [(1071, 1), *SEEDS[1:]])
    assert await app.error(too_big) == E.INIT_KEYBOARD_FAILED
    twice = InitPasswords.of(LockDate(2026, 3, 1), [SEEDS[0], *SEEDS[:9]])
    assert await app.error(twice) == E.INIT_KEYBOARD_FAILED
    await app.close()
    padlock = await admin(driver, paired_lock("v3-padlock"))
    assert await padlock.error(request) == E.INVALID_COMMAND
    await padlock.close()


# --- fingerprints: templates and the recovery add (§10.2.2) --------------------------------


async def test_a_fingerprint_template_is_uploaded_in_chunks(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    template = bytes(range(60))
    start, end = window(0, 30)
    header = FrTemplateHeader.for_template(template, temp_no=1, start=start, end=end)
    ready = await app.data(header)
    assert ready == FrTemplateReadyReply(lock.battery, 0, TEMPLATE_PACKET)
    chunks = FrTemplateChunk.split(template, TEMPLATE_PACKET)
    for chunk in chunks[:-1]:
        assert await app.data(chunk) == FrTemplateChunkReply(lock.battery, chunk.seq)
    answers = await app.answers(chunks[-1], final=ends_with(FrAddedReply))
    assert answers[0].message == FrTemplateChunkReply(lock.battery, chunks[-1].seq)
    added = answers[-1].message
    assert isinstance(added, FrAddedReply)
    assert lock.fingerprints[added.fingerprint].start == start
    await app.close()


async def test_a_template_out_of_order_or_with_a_wrong_checksum_is_32(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(0, 30)
    assert await app.error(FrTemplateChunk(0, b"x")) == E.INVALID_PARAM  # no header
    template = bytes(range(40))
    header = FrTemplateHeader.for_template(template, temp_no=2, start=start, end=end)
    assert (await app.request(header)).ok
    assert await app.error(FrTemplateChunk(1, template[:28])) == E.INVALID_PARAM
    wrong = FrTemplateHeader(2, 40, header.checksum ^ 1, start, end)
    assert (await app.request(wrong)).ok
    assert (await app.request(FrTemplateChunk(0, template[:28]))).ok
    assert await app.error(FrTemplateChunk(1, template[28:])) == E.INVALID_PARAM
    assert not lock.fingerprints
    await app.close()


async def test_a_known_fingerprint_is_added_back_by_its_id(driver: Driver) -> None:
    lock = paired_lock("v3-fingerprint-ic")
    app = await admin(driver, lock)
    start, end = window(0, 30)
    added = await app.data(FrAdd(0x0000AB0000FF, start, end))
    assert added == FrAddedReply(lock.battery, 0x0000AB0000FF)
    assert lock.fingerprints[0x0000AB0000FF].end == end
    await app.close()


# --- cyclic windows (§10.3.5) -----------------------------------------------------------


async def test_a_card_with_a_weekly_window_opens_only_inside_it(driver: Driver) -> None:
    clock = ManualClock(datetime(2026, 1, 6, 10, 0))  # a Tuesday
    lock = paired_lock("v3-fingerprint-ic", clock=clock)
    app = await admin(driver, lock)
    card = 12345678
    start, end = window(-1, 30)
    tuesday = CyclicAdd.weekly(CyclicUserType.IC, card, 2, (9, 30), (17, 15))
    assert await app.error(tuesday) == E.IC_CARD_NOT_EXIST
    assert (await app.request(IcAdd(card, start, end))).ok
    assert await app.data(tuesday) == CyclicReply(lock.battery, 2)
    assert lock.present_card(card)
    clock.advance(timedelta(days=1).total_seconds())  # Wednesday
    assert not lock.present_card(card)
    remove = CyclicRemove(*[getattr(tuesday, f) for f in tuesday.__dataclass_fields__])
    assert await app.data(remove) == CyclicReply(lock.battery, 3)
    assert await app.error(remove) == E.RECORD_NOT_EXIST
    assert lock.present_card(card)  # no windows left: the card's own window rules
    assert (await app.request(tuesday)).ok
    assert await app.data(CyclicClear(CyclicUserType.IC)) == CyclicReply(lock.battery, 4)
    assert lock.present_card(card)
    fob = CyclicAdd.weekly(CyclicUserType.KEY_FOB, 1, 1, (8, 0), (9, 0))
    assert await app.error(fob) == E.INVALID_PARAM
    await app.close()


# --- hotel (§10.3.4) and NB-IoT (§10.3.3) ---------------------------------------------------


async def test_hotel_parameters_are_set_and_read_back(driver: Driver) -> None:
    lock = paired_lock("v3-hotel")
    app = await admin(driver, lock)
    assert await app.data(HotelGet(HotelParam.POWER_SAVER_MODE)) == HotelReply(
        lock.battery, 1, HotelParam.POWER_SAVER_MODE, b""
    )
    for request in (
        HotelSet.ic_key(),
        HotelSet.aes_key(),
        HotelSet.numbers(1, 2, 3),
        HotelSet.sectors({1, 2}),
        HotelSet.lift_floors([1, 2, 5]),
        HotelSet.lift_work_mode(2),
        HotelSet.power_saver_mode(0x0C),
        HotelSet.power_saver_lock("AA:BB:CC:DD:EE:FF"),
    ):
        assert await app.data(request) == HotelReply(lock.battery, 2, request.para_type)
        read = await app.data(HotelGet(request.para_type))
        assert read == HotelReply(lock.battery, 1, request.para_type, request.value)
    assert await app.error(HotelGet(9)) == E.INVALID_PARAM
    short_key = await app.request(HotelSet.COMMAND, bytes.fromhex("02010178"))  # 1-byte IC key
    assert short_key.error_byte == E.INVALID_PARAM
    await app.close()
    other = await admin(driver, paired_lock("v3-keypad"))
    assert await other.error(HotelGet(HotelParam.IC_KEY)) == E.INVALID_COMMAND
    await other.close()


async def test_an_nb_lock_keeps_its_server_and_wake_up_settings(driver: Driver) -> None:
    lock = paired_lock("v3-nb")
    app = await admin(driver, lock)
    assert await app.data(NbServerAddress(9999, "nb.example.com")) == AckReply(lock.battery)
    assert lock.memory.nb.server == ("nb.example.com", 9999)
    assert await app.data(NbAwakeSetModes(7)) == NbAwakeSetReply(lock.battery, NbAwakeWhat.MODES)
    assert await app.data(NbAwakeQuery(NbAwakeWhat.MODES)) == NbAwakeModesReply(lock.battery, 7)
    times = (NbAwakeTime(1, 8, 0), NbAwakeTime(2, 1, 0))
    assert (await app.request(NbAwakeSetTimes(times))).ok
    assert await app.data(NbAwakeQuery(NbAwakeWhat.TIMES)) == NbAwakeTimesReply(lock.battery, times)
    assert await app.error(NbAwakeSetTimes((NbAwakeTime(3, 8, 0),))) == E.INVALID_PARAM
    assert await app.error(NbAwakeSetModes(0x10)) == E.INVALID_PARAM
    info = await app.data(ReadDeviceInfo(DeviceInfoType.NB_IMEI))
    assert isinstance(info, DeviceInfoReply)
    assert info.text == lock.preset.nb_imei
    rssi = await app.data(ReadDeviceInfo(DeviceInfoType.NB_RSSI))
    assert rssi == DeviceInfoReply(lock.preset.nb_rssi.to_bytes(1, "big", signed=True))
    await app.close()
    other = await admin(driver, paired_lock("v3-keypad"))
    assert await other.error(NbServerAddress(1, "x")) == E.INVALID_COMMAND
    assert await other.error(ReadDeviceInfo(DeviceInfoType.NB_IMEI)) == E.UNRECOGNISED_STEP
    await other.close()
