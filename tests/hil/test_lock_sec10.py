"""The rest of the lock's command set (docs/protocol.md §10): Wi-Fi locks, passcode recovery,
init passwords, fingerprint templates, cyclic windows, hotel and NB-IoT locks.

Each case runs on the locks whose model or feature has the command and names its code in
``expectations.yaml``; where a model lacks the command, the "unsupported" case asserts the
refusal instead. Only the Lock API is used, except where a bench must act (marked
``hil_sim_only``). What a case changes on the lock, it changes back.
"""

from __future__ import annotations

import pytest

from ttlock_hil.harness.expect import expect_ok
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.lock import Lock
from ttlock_hil.protocol.messages import (
    CyclicUserType,
    HotelParam,
    HotelSet,
    LockDate,
    NbAwakeMode,
    PasscodeType,
    SwitchItem,
)

from .conftest import WifiNetwork

_CARD = 0x5A5A00C1


# --- Wi-Fi locks (§10.1) ---------------------------------------------------------------------


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_SCAN", "ok")
async def test_a_wifi_lock_lists_the_bench_network(
    lock: Lock, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        networks = await lock.scan_wifi()
    assert bench_wifi.ssid in {n.ssid for n in networks}


@pytest.mark.hil_case("WIFI_SCAN", "unsupported")
async def test_a_lock_without_wifi_refuses_a_scan(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.scan_wifi()


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_CONFIG_AP", "ok")
async def test_a_wifi_lock_joins_the_bench_network(
    lock: Lock, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    # 0x24 "processing" first, then success (§10.1.3): the harness waits through it.
    async with hil_expected.check():
        await lock.configure_wifi(bench_wifi.ssid, bench_wifi.password)
    info = await expect_ok(lock.wifi_info())
    assert -128 < info.rssi < 0  # joined: a signal


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_GET_INFO", "ok")
async def test_a_wifi_lock_reports_its_wifi_mac(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        info = await lock.wifi_info()
    assert len(info.mac) == 17


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_CONFIG_SERVER", "ok")
async def test_a_wifi_lock_takes_the_vendor_server(lock: Lock, hil_expected: Expected) -> None:
    # The default of the vendor's plugin (§10.1.4): harmless to set on a bench lock.
    async with hil_expected.check():
        await lock.configure_wifi_server()


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_CONFIG_STATIC_IP", "dhcp")
async def test_a_wifi_lock_takes_dhcp(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.configure_wifi_ip()


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("WIFI_CONFIG_ACCOUNT", "ok")
async def test_a_wifi_lock_is_bound_to_an_account(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.configure_wifi_account(uid=12345, password="123456", name="ttlock-hil")


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("WIFI_SLEEP_MODE", "add")
async def test_power_saving_windows_are_added_read_and_cleared(
    lock: Lock, hil_expected: Expected
) -> None:
    try:
        async with hil_expected.check():
            await lock.add_wifi_power_saving(1, start=(0, 0), end=(6, 0))
        windows = await expect_ok(lock.wifi_power_saving())
        assert any(w.week_or_day == 1 and w.end_hour == 6 for w in windows)
    finally:
        await expect_ok(lock.clear_wifi_power_saving())
    assert await expect_ok(lock.wifi_power_saving()) == ()


@pytest.mark.hil_feature("wifi")
@pytest.mark.hil_case("SWITCH", "set")
async def test_the_wifi_long_connection_switch_is_set_and_restored(
    lock: Lock, hil_expected: Expected
) -> None:
    item = SwitchItem.WIFI_LONG_CONNECTION
    before = (await expect_ok(lock.switches())).is_on(item)
    assert before is not None, "the lock does not list the Wi-Fi long-connection item"
    try:
        async with hil_expected.check():
            await lock.set_switch(item, not before)
        assert (await expect_ok(lock.switches())).is_on(item) is (not before)
    finally:
        await expect_ok(lock.set_switch(item, before))


# --- passcodes: recovery and init passwords (§10.2.1, §10.3.1) ---------------------------------


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "recover")
async def test_a_passcode_is_written_back_with_its_window(
    lock: Lock, hil_expected: Expected
) -> None:
    start = LockDate(2026, 1, 1)
    try:
        async with hil_expected.check():
            await lock.recover_passcode("2468013", start=start)
        listed = {e.passcode: e for e in await expect_ok(lock.list_passcodes())}
        assert listed["2468013"].passcode_type == PasscodeType.PERMANENT
    finally:
        await expect_ok(lock.delete_passcode("2468013"))


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_case("MANAGE_KEYBOARD_PASSWORD", "recover-exists")
async def test_recovering_a_passcode_the_lock_has_is_refused(
    lock: Lock, hil_expected: Expected
) -> None:
    await expect_ok(lock.add_passcode("1357924"))
    try:
        async with hil_expected.check():
            await lock.recover_passcode("1357924", start=LockDate(2026, 1, 1))
    finally:
        await expect_ok(lock.delete_passcode("1357924"))


@pytest.mark.hil_feature("passcode")
@pytest.mark.hil_destructive
@pytest.mark.hil_case("INIT_PASSWORDS", "ok")
async def test_the_keypad_takes_ten_years_of_passcode_seeds(
    lock: Lock, hil_expected: Expected
) -> None:
    # It replaces the offline-passcode seeds the cloud knows: destructive on a real bench.
    async with hil_expected.check():
        request = await lock.reset_passcodes()
    assert len(request.seeds) == 10


# --- fingerprint templates (§10.2.2) --------------------------------------------------------------


@pytest.mark.hil_feature("fingerprint")
@pytest.mark.hil_sim_only(reason="a real sensor accepts only templates it can read")
@pytest.mark.hil_case("FR_MANAGE", "template")
async def test_a_fingerprint_template_is_uploaded_in_chunks(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        number = await lock.write_fingerprint_template(bytes(range(90)))
    assert number in {f.fingerprint for f in await expect_ok(lock.list_fingerprints())}
    await expect_ok(lock.delete_fingerprint(number))


# --- cyclic windows (§10.3.5) ---------------------------------------------------------------------


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("CYCLIC_CMD", "add")
async def test_a_card_gets_a_weekly_window(lock: Lock, hil_expected: Expected) -> None:
    await expect_ok(lock.add_ic_card(_CARD))
    try:
        await expect_ok(lock.clear_cyclic_windows(CyclicUserType.IC, _CARD))  # clear, then set
        async with hil_expected.check():
            await lock.add_cyclic_window(
                CyclicUserType.IC, _CARD, weekday=1, start=(9, 0), end=(17, 0)
            )
    finally:
        await expect_ok(lock.delete_ic_card(_CARD))


@pytest.mark.hil_feature("ic_card")
@pytest.mark.hil_case("CYCLIC_CMD", "card-missing")
async def test_a_window_for_an_unknown_card_is_refused(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.add_cyclic_window(
            CyclicUserType.IC, 0x0BADCAFE, weekday=1, start=(9, 0), end=(17, 0)
        )


@pytest.mark.hil_case("CYCLIC_CMD", "unsupported")
async def test_a_lock_without_cyclic_windows_refuses_them(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.clear_cyclic_windows(CyclicUserType.IC)


# --- hotel (§10.3.4) and NB-IoT (§10.3.3) locks ------------------------------------------------


@pytest.mark.hil_case("CONFIGURE_HOTEL_DATA", "set")
async def test_a_hotel_lock_keeps_its_hotel_building_and_floor(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.set_hotel_parameter(HotelSet.numbers(1, 2, 3))
    assert await expect_ok(lock.hotel_parameter(HotelParam.HOTEL_NUMBERS)) == bytes.fromhex(
        "0000010203"
    )


@pytest.mark.hil_case("CONFIGURE_HOTEL_DATA", "unsupported")
async def test_a_lock_that_is_no_hotel_lock_refuses_hotel_data(
    lock: Lock, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await lock.hotel_parameter(HotelParam.HOTEL_NUMBERS)


@pytest.mark.hil_case("CONFIGURE_NB_ADDRESS", "ok")
async def test_an_nb_lock_takes_its_server(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_nb_server("nb.example.com", 9999)


@pytest.mark.hil_case("CONFIGURE_NB_ADDRESS", "unsupported")
async def test_a_lock_without_nb_iot_refuses_a_server(lock: Lock, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await lock.set_nb_server("nb.example.com", 9999)


@pytest.mark.hil_case("NB_ACTIVATE_CONFIGURATION", "set")
async def test_an_nb_lock_wakes_up_on_the_modes_it_is_given(
    lock: Lock, hil_expected: Expected
) -> None:
    before = await expect_ok(lock.nb_awake_modes())
    try:
        async with hil_expected.check():
            await lock.set_nb_awake_modes(NbAwakeMode.KEYPAD | NbAwakeMode.CARD)
        assert await expect_ok(lock.nb_awake_modes()) == NbAwakeMode.KEYPAD | NbAwakeMode.CARD
    finally:
        await expect_ok(lock.set_nb_awake_modes(before))
