"""Device presets: the records, create_device, and agreement with the default lab config."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.sim import (
    FIRMWARE_VARIANTS,
    GATEWAY_PRESETS,
    LOCK_PRESETS,
    PRESETS,
    VARIANT_SEPARATOR,
    FirmwareVariant,
    GatewayPreset,
    LockPreset,
    ManualClock,
    PresetError,
    ReplyOverride,
    UnknownPreset,
    UnknownVariant,
    VirtualGateway,
    VirtualLock,
    create_device,
    get_preset,
)
from ttlock_hil.harness.sim.presets import gateway_preset, lock_preset
from ttlock_hil.protocol.advert import parse_bleak
from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.frame import LockHeader
from ttlock_hil.protocol.messages import Feature

ROOT = Path(__file__).resolve().parents[3]
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")

# What a bench's `features:` word in hil-config.yaml needs from a lock model.
FEATURE_WORDS = {
    "passcode": Feature.PASSCODE,
    "keypad": Feature.PASSCODE,
    "ic_card": Feature.IC,
    "fingerprint": Feature.FINGER_PRINT,
    "auto_lock": Feature.AUTO_LOCK,
    "audio": Feature.AUDIO_MANAGEMENT,
    "remote_unlock": Feature.CONFIG_GATEWAY_UNLOCK,
    "passage_mode": Feature.PASSAGE_MODE,
    "show_password": Feature.PASSWORD_DISPLAY_OR_HIDE,
    "admin_code": Feature.GET_ADMIN_CODE,
}
NO_FEATURE_BIT = {"operation_log", "reset", "wifi"}  # every lock has the first two


def lab_devices() -> list[dict[str, object]]:
    config = yaml.safe_load((ROOT / "hil-config.yaml").read_text(encoding="utf-8"))
    return list(config["devices"])


def test_the_required_models_exist() -> None:
    assert set(LOCK_PRESETS) >= {
        "v3-keypad",
        "v3-fingerprint-ic",
        "v3-padlock",
        "v3-wifi",
        "v3-hotel",
        "v3-nb",
    }
    assert set(GATEWAY_PRESETS) >= {"g2", "g3", "g4"}
    assert set(PRESETS) == set(LOCK_PRESETS) | set(GATEWAY_PRESETS)
    assert all(isinstance(PRESETS[name], LockPreset) for name in LOCK_PRESETS)
    assert all(isinstance(PRESETS[name], GatewayPreset) for name in GATEWAY_PRESETS)


@pytest.mark.parametrize("device", lab_devices(), ids=lambda d: str(d["name"]))
def test_every_sim_device_of_the_default_lab_has_a_matching_preset(
    device: dict[str, object],
) -> None:
    address = str(device["address"])
    assert address.startswith("sim:")
    preset = get_preset(address.removeprefix("sim:"))
    assert preset.name == device["model"]
    assert isinstance(preset, LockPreset if device["kind"] == "lock" else GatewayPreset)
    words = [str(word) for word in device.get("features", [])]  # type: ignore[attr-defined]
    for word in words:
        if isinstance(preset, LockPreset) and word not in NO_FEATURE_BIT:
            assert preset.has(FEATURE_WORDS[word]), f"{preset.name} lacks {word}"
        if word == "gateway_wifi":
            assert isinstance(preset, GatewayPreset)
            assert preset.has_wifi
        if word == "gateway_cellular":
            assert isinstance(preset, GatewayPreset)
            assert preset.has_cellular


def test_lock_presets_differ_where_the_models_do() -> None:
    keypad, fp_ic = lock_preset("v3-keypad"), lock_preset("v3-fingerprint-ic")
    padlock, wifi = lock_preset("v3-padlock"), lock_preset("v3-wifi")
    assert keypad.header == LockHeader(5, 3, 2, 1, 1)
    assert padlock.scene == 8  # §6: 8 = padlock
    assert not padlock.has(Feature.PASSCODE)
    assert padlock.passcode_capacity == 0
    assert fp_ic.has(Feature.IC)
    assert fp_ic.has(Feature.FINGER_PRINT)
    assert fp_ic.card_capacity > 0
    assert fp_ic.fingerprint_capacity > 0
    assert not keypad.has(Feature.IC)
    assert wifi.has(Feature.PASSCODE)
    macs = {p.mac for p in PRESETS.values()}
    assert len(macs) == len(PRESETS)  # each default device can share one Air


def test_gateway_presets_decide_wifi_and_cellular() -> None:
    g2, g3, g4 = gateway_preset("g2"), gateway_preset("g3"), gateway_preset("g4")
    assert (g2.has_wifi, g3.has_wifi, g4.has_wifi) == (True, False, False)
    assert (g2.has_cellular, g3.has_cellular, g4.has_cellular) == (False, False, True)
    assert g2.networks  # something to scan


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["mine"] = lock_preset("v3-keypad")  # type: ignore[index]


def test_an_unknown_preset_names_every_valid_one() -> None:
    with pytest.raises(UnknownPreset) as caught:
        create_device("v9-teleporter")
    message = str(caught.value)
    assert "'v9-teleporter'" in message
    for name in PRESETS:
        assert name in message
    assert caught.value.valid == sorted(PRESETS)
    assert isinstance(caught.value, LookupError)
    with pytest.raises(UnknownPreset, match="v3-keypad"):
        lock_preset("g2")
    with pytest.raises(UnknownPreset, match="g4"):
        gateway_preset("v3-keypad")


def test_create_device_builds_locks_in_setting_mode_and_gateways() -> None:
    lock = create_device("v3-fingerprint-ic")
    assert isinstance(lock, VirtualLock)
    assert lock.setting_mode
    assert lock.preset is PRESETS["v3-fingerprint-ic"]
    assert lock.address == "E4:5F:01:2A:3B:4C"
    assert lock.name == "SN9161_4c3b2a"
    gateway = create_device("g3")
    assert isinstance(gateway, VirtualGateway)
    assert gateway.preset is PRESETS["g3"]


def test_create_device_takes_name_address_clock_and_rng() -> None:
    clock = ManualClock()
    lock = create_device(
        "v3-keypad",
        name="Front door",
        address="aa:bb:cc:00:11:22",
        clock=clock,
        rng=random.Random(3),
    )
    assert isinstance(lock, VirtualLock)
    assert (lock.name, lock.address) == ("Front door", "AA:BB:CC:00:11:22")
    clock.advance(60)
    assert lock.now == clock.now()
    plain = create_device("v3-keypad", address="aa:bb:cc:00:11:22")
    assert plain.name == "S202F_221100"  # §6: prefix + last three MAC bytes reversed
    advert = lock.advertisement()
    ((company_id, rest),) = advert.manufacturer_data.items()
    assert parse_bleak(company_id, rest).mac == "AA:BB:CC:00:11:22"


def test_create_device_with_credentials_builds_a_paired_lock() -> None:
    creds = LockCredentials(
        aes_key=KEY, admin_ps=1, unlock_key=2, lock_flag_pos=3, uid=4, header=LockHeader(5, 3, 1)
    )
    lock = create_device("v3-padlock", credentials=creds)
    assert isinstance(lock, VirtualLock)
    assert not lock.setting_mode
    held = lock.credentials
    assert held is not None
    assert (held.aes_key, held.admin_ps, held.unlock_key) == (KEY, 1, 2)
    assert (held.lock_flag_pos, held.uid) == (3, 4)
    # The lock answers with its own header (scene 8), not the app's request header.
    assert lock.header == LockHeader(5, 3, 8, 1, 1)
    with pytest.raises(PresetError, match="gateway"):
        create_device("g2", credentials=creds)


def test_a_custom_preset_record_is_accepted() -> None:
    custom = lock_preset("v3-keypad").evolve(name="v3-keypad-big", passcode_capacity=500)
    lock = create_device(custom)
    assert isinstance(lock, VirtualLock)
    assert lock.preset.passcode_capacity == 500
    with pytest.raises(PresetError, match="not a lock preset"):
        VirtualLock(gateway_preset("g2"))  # type: ignore[arg-type]
    with pytest.raises(PresetError, match="not a gateway preset"):
        VirtualGateway(lock_preset("v3-keypad"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mac": "not-a-mac"}, "mac"),
        ({"battery": 101}, "battery"),
        ({"auto_lock_range": (10, 5)}, "auto_lock_range"),
        ({"card_capacity": -1}, "card_capacity"),
        ({"fingerprint_touches": 0}, "fingerprint_touches"),
        ({"header": LockHeader(3, 0, 0, 0, 0)}, "V3"),
        ({"wifi_join_seconds": -1}, "wifi_join_seconds"),
        ({"wifi_mac": "nope"}, "wifi_mac"),
        ({"items_per_page": 0}, "items_per_page"),
    ],
)
def test_impossible_lock_presets_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PresetError, match=message):
        lock_preset("v3-keypad").evolve(**changes)


def test_impossible_gateway_presets_and_overrides_are_refused() -> None:
    with pytest.raises(PresetError, match="network_mac"):
        gateway_preset("g2").evolve(network_mac="zz")
    with pytest.raises(PresetError, match="wifi_join_seconds"):
        gateway_preset("g2").evolve(wifi_join_seconds=-1)
    with pytest.raises(PresetError, match="error"):
        ReplyOverride(0x47, 0x100)
    with pytest.raises(PresetError, match="replaces"):
        ReplyOverride(0x47, 0x02, replaces=-1)


def test_presets_carry_the_strings_device_info_reports() -> None:
    for name in LOCK_PRESETS:
        preset = lock_preset(name)
        assert preset.model
        assert preset.firmware
        assert preset.hardware
        assert preset.manufacture_date.isdigit()
        lock = VirtualLock(preset)
        assert lock.device_information()["2a26"] == preset.firmware.encode()
        # §10.4: a real lock's Device Information starts with 2a29 (our string, "Sciener").
        assert next(iter(lock.device_information())) == "2a29"
        assert lock.device_information()["2a29"] == preset.manufacturer.encode()


def test_the_section_10_presets_have_the_features_their_commands_need() -> None:
    wifi, hotel, nb = lock_preset("v3-wifi"), lock_preset("v3-hotel"), lock_preset("v3-nb")
    assert wifi.has(Feature.WIFI_LOCK)
    assert wifi.wifi_networks
    assert wifi.wifi_mac is not None
    assert hotel.has(Feature.HOTEL_LOCK)
    assert hotel.has(Feature.CYCLIC_IC_OR_FP)
    assert nb.has(Feature.NB_LOCK)
    assert nb.has(Feature.NB_ACTIVATE)
    assert nb.nb_imei.isdigit()
    assert lock_preset("v3-fingerprint-ic").has(Feature.CYCLIC_PASSCODE_RECOVERY)
    assert all(lock_preset(name).items_per_page == 1 for name in LOCK_PRESETS)


# --- firmware variants: sim:<preset>_<variant> -------------------------------------------------


def test_a_plain_preset_name_is_the_preset_itself() -> None:
    device = create_device("v3-keypad", address="C0:00:00:00:00:01")
    assert isinstance(device, VirtualLock)
    assert device.preset is PRESETS["v3-keypad"]


def test_a_variant_is_its_preset_plus_its_reply_overrides() -> None:
    device = create_device("v3-keypad_unlock-refusal-2", address="C0:00:00:00:00:02")
    assert isinstance(device, VirtualLock)
    assert device.preset.name == "v3-keypad_unlock-refusal-2"
    assert device.preset.overrides == (ReplyOverride(LockCommand.UNLOCK, 0x02, replaces=0x12),)
    assert device.preset == PRESETS["v3-keypad"].evolve(
        name="v3-keypad_unlock-refusal-2", overrides=device.preset.overrides
    )


def test_every_way_to_build_a_device_accepts_a_variant() -> None:
    name = "v3-fingerprint-ic_passcode-delete-19"
    assert get_preset(name) == lock_preset(name)
    assert VirtualLock(name).preset == get_preset(name)
    paired = VirtualLock.paired(aes_key=KEY, admin_ps=1, unlock_key=2, preset=name)
    assert paired.preset.overrides == get_preset(name).overrides


def test_every_variant_is_named_without_the_separator_and_overrides_something() -> None:
    assert FIRMWARE_VARIANTS
    for name, variant in FIRMWARE_VARIANTS.items():
        assert variant.name == name
        assert VARIANT_SEPARATOR not in name
        assert variant.overrides, name
        assert variant.description, name
    assert all(VARIANT_SEPARATOR not in preset for preset in PRESETS)


def test_an_unknown_variant_suggests_the_nearest_and_lists_the_variants_of_its_kind() -> None:
    with pytest.raises(UnknownVariant) as caught:
        create_device("v3-keypad_unlock-refusal-3")
    error = caught.value
    assert isinstance(error, UnknownPreset)
    assert isinstance(error, LookupError)
    assert (error.name, error.preset, error.variant) == (
        "v3-keypad_unlock-refusal-3",
        "v3-keypad",
        "unlock-refusal-3",
    )
    assert "did you mean 'unlock-refusal-2'?" in str(error)
    assert error.valid == sorted(FIRMWARE_VARIANTS)
    assert "lock variants: passcode-delete-19, unlock-refusal-2" in str(error)


def test_a_lock_variant_does_not_apply_to_a_gateway() -> None:
    with pytest.raises(UnknownVariant, match="gateway variants: none"):
        create_device("g2_unlock-refusal-2")
    with pytest.raises(PresetError, match="is for lock presets"):
        FIRMWARE_VARIANTS["unlock-refusal-2"].apply(PRESETS["g2"])


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("v3-keypd", "v3-keypad"),
        ("v3-keypd_unlock-refusal-2", "v3-keypad"),
        ("v3-keypad-unlock-refusal-2", "v3-keypad_unlock-refusal-2"),
    ],
)
def test_an_unknown_preset_suggests_the_nearest_name(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownPreset, match=f"did you mean '{suggestion}'"):
        get_preset(name)


def test_a_variant_that_overrides_nothing_or_has_a_separator_is_refused() -> None:
    with pytest.raises(PresetError, match="overrides nothing"):
        FirmwareVariant("quiet", DeviceKind.LOCK, "nothing", ())
    with pytest.raises(PresetError, match="without '_'"):
        FirmwareVariant("a_b", DeviceKind.LOCK, "x", (ReplyOverride(0x47, 2),))
