"""The §10 command set against the computed frames of docs/protocol.md §10 (data/sec10_frames.json).

Every computed frame of docs/protocol.md §10.6 — and those §10.1-§10.3 show inline — is
built here from readable fields, must encode to the document's plaintext and, framed
with the test key and header 5.3.1.1.1 (§10.0.3), to its frame byte for byte; and the
frame must decode back to the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import V3_HEADER, LockFrame, encode_lock_command, parse_frame
from ttlock_hil.protocol.messages import (
    AckReply,
    CyclicAdd,
    CyclicClear,
    CyclicUserType,
    FrAddProgressReply,
    FrAddStatus,
    FrTemplateChunk,
    FrTemplateChunkReply,
    FrTemplateHeader,
    FrTemplateReadyReply,
    HotelGet,
    HotelParam,
    HotelReply,
    HotelSet,
    InitPasswords,
    IpMode,
    LockDate,
    NbAwakeMode,
    NbAwakeModesReply,
    NbAwakeQuery,
    NbAwakeSetModes,
    NbAwakeSetTimes,
    NbAwakeTime,
    NbAwakeTimesReply,
    NbAwakeWhat,
    NbServerAddress,
    PasscodeListEntry,
    PasscodeRecover,
    PasscodeType,
    Request,
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
    WifiSleepAdd,
    WifiSleepClear,
    WifiSleepQuery,
    decode_reply_data,
    decode_request,
    parse_reply,
    template_checksum,
)

DATA = json.loads((Path(__file__).parent / "data" / "sec10_frames.json").read_text("utf-8"))
KEY = bytes.fromhex(DATA["key"])
FRAMES = {row["id"]: row for row in DATA["frames"]}

_SEEDS = [
    # §10.3.1's demo values: codes [1070, 5, 100, …, 800], keys ["9876543210", "0123456789", …]
    (1070, 9876543210),
    (5, 123456789),
    (100, 1032547698),
    (200, 5678901234),
    (300, 4321098765),
    (400, 2468013579),
    (500, 1357924680),
    (600, 3141592650),
    (700, 2718281690),
    (800, 9081726354),
]
TEMPLATE = bytes(range(60))
"""§10.2.2's dummy template: 60 bytes 00..3B."""

READABLE: dict[str, Request] = {
    "10.6.fa_gateway_account": WifiConfigAccount.with_password(
        uid=12345, password="123456", name="Lock gateway"
    ),
    "10.6.switch_set_b7_80": SwitchSet(items=0xB7, values=SwitchItem.WIFI_LONG_CONNECTION),
    "10.6.init_passwords_2026": InitPasswords.of(LockDate(2026, 3, 1), _SEEDS),
    "10.6.nb_set_awake_modes": NbAwakeSetModes(
        NbAwakeMode.KEYPAD | NbAwakeMode.CARD | NbAwakeMode.FINGERPRINT
    ),
    "10.6.hotel_get_power_saver_mode": HotelGet(HotelParam.POWER_SAVER_MODE),
    "10.6.hotel_set_ic_key": HotelSet.ic_key(),
    "10.6.hotel_set_aes_key": HotelSet.aes_key(),
    "10.6.hotel_set_numbers": HotelSet.numbers(hotel=1, building=2, floor=3),
    "10.6.hotel_set_sectors": HotelSet.sectors({1, 2}),
    "10.6.hotel_set_lift_floors": HotelSet.lift_floors([1, 2, 5]),
    "10.6.hotel_set_lift_work_mode": HotelSet.lift_work_mode(2),
    "10.6.hotel_set_power_saver_mode": HotelSet.power_saver_mode(0x04 | 0x08),
    "10.6.hotel_set_power_saver_lock": HotelSet.power_saver_lock("AA:BB:CC:DD:EE:FF"),
    "10.6.cyclic_clear_fr": CyclicClear(CyclicUserType.FINGERPRINT, (1).to_bytes(6, "big")),
    "10.6.cyclic_add_ic": CyclicAdd.weekly(CyclicUserType.IC, 12345678, 2, (9, 30), (17, 15)),
    "10.1.2.scan_wifi": WifiScan(),
    "10.1.3.config_wifi_ap": WifiConfigAp("MyWiFi", "secret123"),
    "10.1.4.config_server": WifiConfigServer(),
    "10.1.5.config_ip_dhcp": WifiConfigStaticIp(IpMode.DHCP),
    "10.1.5.config_ip_static": WifiConfigStaticIp(
        IpMode.STATIC, "192.168.1.100", "255.255.255.0", "192.168.1.1", "8.8.8.8", "8.8.4.4"
    ),
    "10.1.6.get_wifi_info": WifiGetInfo(),
    "10.1.8.sleep_query": WifiSleepQuery(0),
    "10.1.8.sleep_add_monday": WifiSleepAdd(1, 0, 0, 6, 0),
    "10.1.8.sleep_clear": WifiSleepClear(),
    "10.1.9.switch_get": SwitchQuery(),
    "10.2.1.recover_permanent": PasscodeRecover.of(
        PasscodeType.PERMANENT, "123456", LockDate(2026, 1, 1)
    ),
    "10.2.1.recover_period": PasscodeRecover.of(
        PasscodeType.PERIOD, "123456", LockDate(2026, 1, 1, 8), end=LockDate(2026, 12, 31, 20)
    ),
    "10.2.1.recover_cyclic": PasscodeRecover.of(
        PasscodeType.CYCLIC, "1234", LockDate(2026, 1, 1, 8), cycle_type=0x0407
    ),
    "10.2.2.template_header": FrTemplateHeader.for_template(
        TEMPLATE, temp_no=1, start=LockDate(2026, 1, 1), end=LockDate(2099, 12, 1)
    ),
    "10.2.2.template_chunk0": FrTemplateChunk.split(TEMPLATE, 28)[0],
    "10.2.2.template_chunk2": FrTemplateChunk.split(TEMPLATE, 28)[2],
    "10.3.3.nb_server": NbServerAddress(9999, "nb.example.com"),
    "10.3.3.nb_get_modes": NbAwakeQuery(NbAwakeWhat.MODES),
    "10.3.3.nb_set_times": NbAwakeSetTimes((NbAwakeTime(1, 8, 0), NbAwakeTime(2, 1, 0))),
    "10.3.5.cyclic_add_fr": CyclicAdd.weekly(CyclicUserType.FINGERPRINT, 1, 1, (8, 0), (18, 0)),
}


def test_the_data_file_holds_every_row_of_section_10_6() -> None:
    # §10.6 has fifteen rows: FA, 0x68, 0x31, 0x13, nine 0x64 and two 0x70.
    rows = [row for row in DATA["frames"] if row["section"] == "10.6"]
    assert len(rows) == 15
    assert {row["command"] for row in rows} == {0xFA, 0x68, 0x31, 0x13, 0x64, 0x70}
    assert set(READABLE) == set(FRAMES)
    assert DATA["header"] == str(V3_HEADER)


@pytest.mark.parametrize("vector_id", sorted(FRAMES))
def test_each_computed_frame_is_built_byte_for_byte_from_readable_fields(vector_id: str) -> None:
    row = FRAMES[vector_id]
    message = READABLE[vector_id]
    assert row["command"] == message.COMMAND
    assert message.encode().hex() == row["plaintext"]
    frame = encode_lock_command(message.COMMAND, message.encode(), KEY, header=V3_HEADER)
    assert frame.hex() == row["frame"]


@pytest.mark.parametrize("vector_id", sorted(FRAMES))
def test_each_computed_frame_decodes_back_to_its_message(vector_id: str) -> None:
    row = FRAMES[vector_id]
    frame = parse_frame(bytes.fromhex(row["frame"]))
    assert isinstance(frame, LockFrame)
    assert frame.command == row["command"]
    plaintext = frame.decrypt(KEY)
    decoded = decode_request(frame.command, plaintext)
    assert decoded == READABLE[vector_id]
    assert decoded.encode() == plaintext


def test_init_passwords_pack_code_and_secret_into_six_bytes() -> None:
    # §10.3.1: code 1070 / key 9876543210 is 42 e2 4c b0 16 ea; 61 bytes in all.
    message = READABLE["10.6.init_passwords_2026"]
    assert isinstance(message, InitPasswords)
    assert message.encode()[1:7].hex() == "42e24cb016ea"
    assert len(message.encode()) == 61
    assert "9876543210" not in repr(message)


def test_init_passwords_start_a_year_early_on_the_first_of_january() -> None:
    # §10.3.1: "on 1 January the previous year".
    assert InitPasswords.of(LockDate(2026, 1, 1), _SEEDS).first_year == 25
    assert InitPasswords.of(LockDate(2026, 1, 2), _SEEDS).first_year == 26


def test_init_passwords_need_ten_seeds() -> None:
    with pytest.raises(MessageError, match="10 seeds"):
        InitPasswords.of(LockDate(2026, 3, 1), _SEEDS[:9])


def test_the_template_header_carries_length_and_byte_sum() -> None:
    # §10.2.2: checksum = sum of the template bytes mod 65536.
    assert template_checksum(TEMPLATE) == 0x06EA
    header = READABLE["10.2.2.template_header"]
    assert isinstance(header, FrTemplateHeader)
    assert (header.length, header.checksum) == (60, 0x06EA)
    chunks = FrTemplateChunk.split(TEMPLATE, 28)
    assert [len(c.data) for c in chunks] == [28, 28, 4]
    assert b"".join(c.data for c in chunks) == TEMPLATE


@pytest.mark.parametrize(
    ("command", "data", "expected"),
    [
        # §10.1.2: "MyWiFi" at -60 dBm, battery 90 %; the end is [F2][01][battery].
        (0xF2, "5a064d7957694669c4", WifiNetworkReply(90, "MyWiFi", -60)),
        (0xF2, "5a", WifiScanEndReply(90)),
        # §10.1.6: the MAC comes byte-reversed.
        (0xF6, "50ffeeddccbbaac4", WifiInfoReply(80, "AA:BB:CC:DD:EE:FF", -60)),
        # §10.1.9: get → [batt][01][items][values].
        (0x68, "50010000009700000080", SwitchReply(80, 1, 0x97, 0x80)),
        # §10.2.2: ready for the template / one chunk acknowledged.
        (0x06, "500204000a001c", FrTemplateReadyReply(80, 10, 28)),
        (0x06, "50070002", FrTemplateChunkReply(80, 2)),
        # SDK331 4335-4369: add mode entered with the touch count; one touch read.
        (0x06, "50020204", FrAddProgressReply(80, FrAddStatus.ENTERED_ADD_MODE, total=4)),
        (0x06, "5002030104", FrAddProgressReply(80, FrAddStatus.PROGRESS, 1, 4)),
        (0x06, "500202", FrAddProgressReply(80, FrAddStatus.ENTERED_ADD_MODE)),
        # §10.3.3 replies.
        (0x13, "50010107", NbAwakeModesReply(80, 7)),
        (
            0x13,
            "50010202010800020100",
            NbAwakeTimesReply(80, (NbAwakeTime(1, 8, 0), NbAwakeTime(2, 1, 0))),
        ),
        (0x12, "50", AckReply(80)),
        # §10.3.4: a GET reply carries [len][value].
        (0x64, "5001070101", HotelReply(80, 1, HotelParam.POWER_SAVER_MODE, b"\x01")),
        # §10.1.3: the SDK reads no data from the final F3 success.
        (0xF3, "", AckReply()),
    ],
)
def test_replies_decode_as_the_section_describes(command: int, data: str, expected: Any) -> None:
    decoded = decode_reply_data(command, bytes.fromhex(data))
    assert decoded == expected
    assert decoded.encode().hex() == data


def test_switch_reply_tells_the_wifi_long_connection_bit() -> None:
    reply = SwitchReply(80, 1, 0x97, 0x80)
    assert reply.is_on(SwitchItem.WIFI_LONG_CONNECTION) is True
    assert reply.is_on(SwitchItem.TAMPER_ALERT) is False
    assert reply.is_on(SwitchItem.PASSAGE_MODE_AUTO_UNLOCK) is None  # not listed


def test_an_f3_processing_answer_is_error_byte_0x24() -> None:
    # §10.1.3: [F3][00][24] means "received, processing", not a failure.
    reply = parse_reply(bytes.fromhex("f30024"))
    assert (reply.command, reply.ok, reply.is_processing) == (
        LockCommand.WIFI_CONFIG_AP,
        False,
        True,
    )


def test_a_cyclic_list_entry_reports_its_cycle_type() -> None:
    # §10.3.2: a type-4 item carries cycleType u16 after the start date.
    entry = PasscodeListEntry(4, "1234", "1234", LockDate(2026, 1, 1, 8), extra=b"\x04\x07")
    assert entry.cycle_type == 0x0407
    assert PasscodeListEntry(1, "1234", "1234", LockDate(2026, 1, 1)).cycle_type is None


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: PasscodeRecover.of(PasscodeType.PERIOD, "1234", LockDate(2026, 1, 1)), "end"),
        (lambda: PasscodeRecover.of(PasscodeType.CYCLIC, "1234", LockDate(2026, 1, 1)), "cycle"),
        (lambda: WifiSleepAdd(8, 0, 0, 6, 0), "weekday"),
        (lambda: HotelSet(HotelParam.IC_KEY, b"\x01"), "6 bytes"),
        (lambda: HotelSet.sectors({17}), "sectors"),
        (lambda: FrTemplateChunk(0, b""), "data"),
        (lambda: WifiConfigAp("MyWiFi", "pässword"), "password"),
        (lambda: NbServerAddress(1, ""), "host"),
    ],
)
def test_impossible_arguments_are_refused_naming_the_field(build: Any, problem: str) -> None:
    with pytest.raises(MessageError, match=problem):
        build()
