"""Advertisement parsing and building (docs/protocol.md §6)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.advert import (
    Advert,
    AdvertError,
    AdvertKind,
    GatewayType,
    LockType,
    build_gateway_advert,
    build_lock_advert,
    describe_scene,
    lock_local_name,
    lock_type_of,
    parse_bleak,
    parse_manufacturer_data,
    split_for_bleak,
)
from ttlock_hil.protocol.errors import ProtocolError

# The real sample of §6 (BLEMON issue #917): AD data after the 0xFF type byte.
BLEMON_SAMPLE = bytes.fromhex("0503021240b000f4f953657f8a43b9f0f7")


def vector_data(vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector["manufacturer_data_hex"])


# --- golden vectors (expectations derived from §6, not from the vector file) ---


def test_v3_vector_reads_unlocked_with_events_at_62_percent(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    # §6 V3 layout: 05 03 | scene 02 | flags 03 = unlocked(0x01)+hasEvents(0x02) | battery 0x3e = 62
    # | 4 bytes | MAC ff ee dd cc bb aa reversed.
    advert = parse_manufacturer_data(
        vector_data(vectors_by_id["adv.synthetic_v3_unlocked_events_62pct"])
    )
    assert advert.kind is AdvertKind.LOCK
    assert (advert.protocol_type, advert.protocol_version) == (5, 3)
    assert advert.lock_type is LockType.V3
    assert advert.scene == 2
    assert advert.unlocked is True
    assert advert.has_events is True
    assert advert.setting_mode is False
    assert advert.touch is False
    assert advert.dormant is False
    assert advert.battery == 62
    assert advert.mac == "AA:BB:CC:DD:EE:FF"


def test_setting_mode_vector_reads_setting_mode_and_locked(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    # §6: flags 0x04 = isSettingMode only, so bit 0 (unlocked) is clear.
    advert = parse_manufacturer_data(vector_data(vectors_by_id["adv.synthetic_setting_mode"]))
    assert advert.kind is AdvertKind.LOCK
    assert advert.setting_mode is True
    assert advert.unlocked is False
    assert advert.has_events is False
    assert advert.battery == 62
    assert advert.mac == "AA:BB:CC:DD:EE:FF"


def test_dfu_vector_reads_as_dfu_without_lock_fields(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    # §6: header (0x12, 0x19) = 18,25 is DFU mode; no flags or battery.
    advert = parse_manufacturer_data(vector_data(vectors_by_id["adv.dfu_18_25"]))
    assert advert.kind is AdvertKind.DFU
    assert (advert.protocol_type, advert.protocol_version) == (0x12, 0x19)
    assert advert.battery is None
    assert advert.unlocked is None
    assert advert.setting_mode is None


def test_vectors_bleak_company_id_matches_split(
    vectors: list[dict[str, Any]],
) -> None:
    adverts = [v for v in vectors if v["category"] == "advertisement"]
    assert len(adverts) == 3
    for vector in adverts:
        data = vector_data(vector)
        company_id, rest = split_for_bleak(data)
        assert company_id == int(vector["bleak_company_id"], 16)
        assert parse_bleak(company_id, rest) == parse_manufacturer_data(data)


def test_real_blemon_sample_is_dormant_with_events_and_64_percent() -> None:
    # §6: scene 2, flags 0x12 = hasEvents + dormant(0x10), battery 0x40, MAC = last 6 reversed.
    advert = parse_manufacturer_data(BLEMON_SAMPLE)
    assert advert.scene == 2
    assert advert.flags == 0x12
    assert advert.has_events is True
    assert advert.dormant is True
    assert advert.unlocked is None  # bit 0 is meaningless while dormant (§6, §9.7)
    assert advert.battery == 64
    assert advert.mac == "F7:F0:B9:43:8A:7F"


def test_blemon_sample_through_bleak_form() -> None:
    assert (
        split_for_bleak(BLEMON_SAMPLE)[0] == 773
    )  # 0x0305, HA-BLE manifest "manufacturer_id: 773"
    assert parse_bleak(773, BLEMON_SAMPLE[2:]).mac == "F7:F0:B9:43:8A:7F"


# --- headers and layouts ---


@pytest.mark.parametrize(
    ("type_byte", "expected"),
    [
        (0x19, GatewayType.G2),
        (0x21, GatewayType.G3),
        (0x20, GatewayType.G4),
        (0x22, GatewayType.G5),
        (0x23, GatewayType.G6),
    ],
)
def test_gateway_header_gives_its_generation(type_byte: int, expected: GatewayType) -> None:
    advert = parse_manufacturer_data(bytes([0x11, type_byte]) + bytes.fromhex("ffeeddccbbaa"))
    assert advert.kind is AdvertKind.GATEWAY
    assert advert.gateway_type is expected
    assert advert.mac == "AA:BB:CC:DD:EE:FF"
    assert advert.battery is None


def test_gateway_header_with_unknown_type_is_unknown() -> None:
    advert = parse_manufacturer_data(bytes([0x11, 0x77, 0, 0]))
    assert advert.kind is AdvertKind.UNKNOWN
    assert advert.gateway_type is None


@pytest.mark.parametrize("header", [(0x12, 0x19), (0x13, 0x19), (0xFF, 0xFF)])
def test_each_dfu_header_is_dfu(header: tuple[int, int]) -> None:
    assert parse_manufacturer_data(bytes(header)).kind is AdvertKind.DFU


def test_wristband_header_is_wristband() -> None:
    assert parse_manufacturer_data(bytes([0x34, 0x12])).kind is AdvertKind.WRISTBAND


def test_non_v3_header_reads_type_scene_flags_battery_at_long_offsets() -> None:
    # §6 "any other header": type d[4], version d[5], scene d[7], flags d[8], battery d[9].
    data = bytes([0x05, 0x04, 0, 0, 0x05, 0x04, 0, 0x03, 0x05, 0x50]) + bytes.fromhex(
        "665544332211"
    )
    advert = parse_manufacturer_data(data)
    assert advert.lock_type is LockType.V2S_PLUS
    assert (advert.protocol_type, advert.protocol_version, advert.scene) == (5, 4, 3)
    assert advert.unlocked is True
    assert advert.setting_mode is True
    assert advert.battery == 0x50
    assert advert.mac == "11:22:33:44:55:66"


@pytest.mark.parametrize(("ptype", "pver"), [(3, 0), (5, 1)])
def test_v2_and_v2s_locks_advertise_no_flags_or_battery(ptype: int, pver: int) -> None:
    data = bytes([ptype, pver, 0, 0, ptype, pver, 0, 0x02])
    advert = parse_manufacturer_data(data)
    assert advert.kind is AdvertKind.LOCK
    assert advert.scene == 2
    assert advert.flags is None
    assert advert.unlocked is None
    assert advert.battery is None
    assert advert.mac is None  # the 8 bytes are all header: no room for a MAC


def test_touch_bit_is_reported() -> None:
    assert parse_manufacturer_data(bytes([5, 3, 2, 0x08, 50])).touch is True


def test_mac_is_none_when_the_tail_would_overlap_the_fields() -> None:
    assert parse_manufacturer_data(bytes([5, 3, 2, 0x01, 50])).mac is None
    assert parse_manufacturer_data(bytes([5, 3, 2, 0x01, 50, 1, 2, 3, 4, 5])).mac is None
    assert parse_manufacturer_data(bytes([5, 3, 2, 0x01, 50, 1, 2, 3, 4, 5, 6])).mac is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "header"),
        (b"\x05", "header"),
        (bytes([5, 3, 2, 1]), "battery"),
        (bytes([5, 4, 0, 0, 5, 4, 0]), "scene"),
        (bytes([5, 4, 0, 0, 5, 4, 0, 2, 1]), "battery"),
    ],
)
def test_too_short_data_names_the_missing_field(data: bytes, field: str) -> None:
    with pytest.raises(AdvertError, match=field) as info:
        parse_manufacturer_data(data)
    assert info.value.field == field
    assert isinstance(info.value, ProtocolError)


def test_bleak_company_id_out_of_range_is_an_advert_error() -> None:
    with pytest.raises(AdvertError, match="company id"):
        parse_bleak(0x10000, b"")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((5, 3, 7), LockType.V3_CAR),
        ((5, 3, 2), LockType.V3),
        ((0x0A, 1, 1), LockType.CAR),
        ((0x0B, 1, 1), LockType.MOBI),
        ((3, 9, 1), LockType.V2),
        ((5, 4, 1), LockType.V2S_PLUS),
        ((5, 1, 1), LockType.V2S),
        ((9, 9, 1), None),
    ],
)
def test_lock_type_derivation_follows_section_2_1(
    args: tuple[int, int, int], expected: LockType | None
) -> None:
    assert lock_type_of(*args) is expected


def test_scene_descriptions() -> None:
    assert describe_scene(2) == "room lock"
    assert describe_scene(8) == "padlock"
    assert describe_scene(200) == "scene 200"


def test_to_dict_uses_names_for_enums() -> None:
    as_dict = parse_manufacturer_data(BLEMON_SAMPLE).to_dict()
    assert as_dict["kind"] == "lock"
    assert as_dict["lock_type"] == "V3"
    assert as_dict["gateway_type"] is None
    assert as_dict["flags"] == 0x12


# --- builders ---


def test_builder_reproduces_the_synthetic_vector(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    built = build_lock_advert(
        scene=2,
        unlocked=True,
        has_events=True,
        setting_mode=False,
        battery=62,
        mac="AA:BB:CC:DD:EE:FF",
    )
    assert built == vector_data(vectors_by_id["adv.synthetic_v3_unlocked_events_62pct"])


def test_builder_reproduces_the_setting_mode_vector(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    built = build_lock_advert(
        scene=2,
        unlocked=False,
        has_events=False,
        setting_mode=True,
        battery=62,
        mac="AA:BB:CC:DD:EE:FF",
    )
    assert built == vector_data(vectors_by_id["adv.synthetic_setting_mode"])


def test_gateway_builder_round_trips() -> None:
    built = build_gateway_advert("g3", "01:02:03:04:05:06")
    assert built == bytes.fromhex("1121060504030201")
    advert = parse_manufacturer_data(built)
    assert advert.gateway_type is GatewayType.G3
    assert advert.mac == "01:02:03:04:05:06"


def test_gateway_builder_rejects_unknown_type() -> None:
    with pytest.raises(AdvertError, match="G2, G3"):
        build_gateway_advert("G9", "01:02:03:04:05:06")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"battery": 101}, "battery"),
        ({"scene": 256}, "scene"),
        ({"protocol_type": 3, "protocol_version": 0}, "protocol_type"),
        ({"protocol_type": 5, "protocol_version": 1}, "protocol_type"),
        ({"protocol_type": 0x12, "protocol_version": 0x19}, "protocol_type"),
        ({"protocol_type": 0x11, "protocol_version": 0x19}, "protocol_type"),
    ],
)
def test_lock_builder_rejects_what_no_lock_advert_carries(
    overrides: dict[str, int], field: str
) -> None:
    args: dict[str, Any] = {
        "scene": 2,
        "unlocked": False,
        "has_events": False,
        "setting_mode": False,
        "battery": 50,
        "mac": "01:02:03:04:05:06",
    }
    args.update(overrides)
    with pytest.raises(AdvertError) as info:
        build_lock_advert(**args)
    assert info.value.field == field


def test_builder_rejects_a_bad_mac() -> None:
    with pytest.raises(ProtocolError, match="MAC"):
        build_gateway_advert("G2", "not-a-mac")


def test_lock_local_name_uses_last_three_mac_bytes_reversed() -> None:
    assert lock_local_name("S202F", "EE:C6:A2:04:9A:F6") == "S202F_f69a04"


def test_split_for_bleak_needs_the_header() -> None:
    with pytest.raises(AdvertError, match="header"):
        split_for_bleak(b"\x05")


macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02X}" for x in b))
flag_bearing_headers = st.sampled_from([(5, 3), (5, 4), (0x0A, 1), (0x0B, 1), (5, 9), (0x20, 0)])


lock_kwargs = st.fixed_dictionaries(
    {
        "scene": st.integers(0, 255),
        "unlocked": st.booleans(),
        "has_events": st.booleans(),
        "setting_mode": st.booleans(),
        "touch": st.booleans(),
        "dormant": st.booleans(),
        "battery": st.integers(0, 100),
        "mac": macs,
    }
)


@given(header=flag_bearing_headers, kwargs=lock_kwargs)
def test_lock_advert_round_trips(header: tuple[int, int], kwargs: dict[str, Any]) -> None:
    built = build_lock_advert(protocol_type=header[0], protocol_version=header[1], **kwargs)
    advert = parse_manufacturer_data(built)
    assert advert.kind is AdvertKind.LOCK
    assert (advert.protocol_type, advert.protocol_version) == header
    assert advert.lock_type is lock_type_of(*header, kwargs["scene"])
    assert advert.scene == kwargs["scene"]
    assert advert.unlocked == (None if kwargs["dormant"] else kwargs["unlocked"])
    for name in ("has_events", "setting_mode", "touch", "dormant", "battery", "mac"):
        assert getattr(advert, name) == kwargs[name], name
    company_id, rest = split_for_bleak(built)
    assert parse_bleak(company_id, rest) == advert


@given(gateway_type=st.sampled_from(list(GatewayType)), mac=macs)
def test_gateway_advert_round_trips(gateway_type: GatewayType, mac: str) -> None:
    advert = parse_manufacturer_data(build_gateway_advert(gateway_type, mac))
    assert (advert.kind, advert.gateway_type, advert.mac) == (AdvertKind.GATEWAY, gateway_type, mac)


@pytest.mark.fuzz
@given(st.binary(max_size=64))
def test_arbitrary_bytes_give_an_advert_or_an_advert_error(data: bytes) -> None:
    try:
        advert = parse_manufacturer_data(data)
    except AdvertError as exc:
        # Only "too short" can go wrong, and only below the longest fixed layout.
        error: AdvertError | None = exc
    else:
        error = None
    if error is not None:
        assert error.field in {"header", "scene", "battery"}
        assert len(data) < 10
    else:
        assert isinstance(advert, Advert)
        assert advert.protocol_type in range(256)
        if advert.mac is not None:
            assert len(advert.mac) == 17
        if advert.dormant:
            assert advert.unlocked is None
