"""harness.lab: monikers resolved to transports, shared settings, credentials, scans, lifetime."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttlock_hil.harness.config import load_config
from ttlock_hil.harness.credentials import LockCredentials, load_credentials
from ttlock_hil.harness.errors import ConfigError, HarnessError, SessionClosed
from ttlock_hil.harness.lab import Lab, sim_address
from ttlock_hil.harness.sim.backend import VirtualClientBackend, VirtualScannerBackend
from ttlock_hil.harness.sim.device import DeviceKind
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.sim.lock import VirtualLock
from ttlock_hil.protocol.codes import PluginVersion
from ttlock_hil.protocol.messages import LockState

from .conftest import DEADLINE, build_config, gateway_entry, lock_entry, make_lab

RADIO = "C1:23:45:67:89:AB"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
CREDS = LockCredentials(aes_key=KEY, admin_ps=12345678, unlock_key=87654321)


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    config = build_config(
        tmp_path,
        [
            lock_entry("front-door", "v3-keypad"),
            lock_entry("back-door", "v3-fingerprint-ic", plugin_version="2.7.0"),
            gateway_entry("gw", "g2"),
        ],
    )
    lab = make_lab(config)
    yield lab
    await lab.aclose()


def radio_config(tmp_path: Path) -> Lab:
    text = f"""
lab: bench-01
adapters: [{{name: hci1}}]
devices:
  - {{name: real-door, kind: lock, model: s202f, address: '{RADIO.lower()}', adapter: hci1}}
  - {{name: real-gw, kind: gateway, model: g2, address: 'AA:BB:CC:DD:EE:01'}}
"""
    path = tmp_path / "bench.yaml"
    path.write_text(text, encoding="utf-8")
    return Lab(load_config(path), device_factory=_no_devices)


def _no_devices(preset: str, /, **_: object) -> VirtualLock:
    raise AssertionError("a radio-only lab builds no virtual device")


# --- transports -----------------------------------------------------------------------------


def test_a_sim_moniker_resolves_to_the_virtual_backends_of_the_lab_air(lab: Lab) -> None:
    transport = lab.transport("front-door")
    assert transport.moniker == "sim:v3-keypad"
    assert transport.address == sim_address("unit-lab", "front-door")
    assert transport.scanner_backend is not None
    assert transport.client_backend is not None
    assert issubclass(transport.scanner_backend, VirtualScannerBackend)
    assert issubclass(transport.client_backend, VirtualClientBackend)
    assert transport.client_backend.default_air is lab.air
    assert transport.adapter is None
    # One pair of backends for the whole lab: every sim device shares the air.
    assert lab.transport("gw").client_backend is transport.client_backend


def test_every_sim_device_is_on_the_air_built_from_its_preset(lab: Lab) -> None:
    kinds = {entry.address: type(entry.device) for entry in lab.air}
    assert kinds == {
        sim_address("unit-lab", "front-door"): VirtualLock,
        sim_address("unit-lab", "back-door"): VirtualLock,
        sim_address("unit-lab", "gw"): VirtualGateway,
    }
    front = lab.virtual("front-door").device
    assert isinstance(front, VirtualLock)
    assert front.preset.name == "v3-keypad"
    assert front.setting_mode  # no credentials: factory-fresh


def test_sim_addresses_are_stable_and_distinct() -> None:
    first = sim_address("lab", "front-door")
    assert first == sim_address("lab", "front-door")
    assert first != sim_address("lab", "back-door")
    assert first != sim_address("other-lab", "front-door")
    assert int(first[:2], 16) & 0xC0 == 0xC0  # static random address


def test_a_ble_address_resolves_to_the_os_backend(tmp_path: Path) -> None:
    lab = radio_config(tmp_path)
    transport = lab.transport("real-door")
    assert transport.scanner_backend is None
    assert transport.client_backend is None
    assert transport.address == RADIO
    assert transport.moniker == RADIO
    assert transport.adapter == "hci1"
    assert lab.transport("real-gw").adapter is None


def test_faults_exist_only_for_simulated_devices(tmp_path: Path) -> None:
    lab = radio_config(tmp_path)
    with pytest.raises(ConfigError, match="radio device"):
        lab.virtual("real-door")


def test_unknown_devices_and_wrong_kinds_are_config_errors(lab: Lab) -> None:
    with pytest.raises(ConfigError, match="did you mean 'front-door'"):
        lab.transport("front-dor")
    with pytest.raises(ConfigError, match="is a gateway"):
        lab.lock("gw")
    with pytest.raises(ConfigError, match="is a lock"):
        lab.gateway("front-door")


def test_a_gateway_under_a_plugin_without_gateway_codes_is_refused_before_it_connects(
    tmp_path: Path,
) -> None:
    # Validation refuses such a config; one copied in code (as --hil-plugin-version
    # does) must still not get a gateway whose failures would need an invented code.
    config = build_config(tmp_path, [lock_entry(), gateway_entry()])
    old = config.model_copy(update={"plugin_version": PluginVersion.parse("2.4.0")})
    lab = make_lab(old)
    with pytest.raises(ConfigError, match=r"plugin 2\.4\.0 has no gateway codes") as info:
        lab.gateway("gw")
    assert info.value.fix == 'set plugin_version: "2.6.0" or newer for this gateway'
    assert lab.lock("front-door") is not None


def test_shared_settings_come_from_the_config(lab: Lab) -> None:
    assert lab.timeouts == lab.config.timeouts
    assert lab.retry == lab.config.retry
    assert lab.plugin_version("front-door") == PluginVersion(3, 1, 0)
    assert lab.plugin_version("back-door") == PluginVersion(2, 7, 0)
    assert lab.trace_dir == lab.config.reports / "traces"
    assert lab.redactor.enabled
    assert lab.new_trace_path("gw") != lab.new_trace_path("gw")


def test_the_default_config_is_a_virtual_lab_of_presets() -> None:
    lab = Lab.load()
    devices = {entry.device.name for entry in lab.air}
    assert len(devices) == len(lab.config.devices)
    kinds = {lab.device(d.name).kind for d in lab.config.devices}
    assert kinds == {DeviceKind.LOCK, DeviceKind.GATEWAY}


# --- credentials ------------------------------------------------------------------------------


async def test_a_sim_lock_with_credentials_starts_paired_and_opens(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "door.json").write_text(CREDS.to_json(), encoding="utf-8")
    config = build_config(tmp_path, [lock_entry("door", credentials="file:creds/door.json")])
    async with make_lab(config) as lab:
        device = lab.virtual("door").device
        assert isinstance(device, VirtualLock)
        assert not device.setting_mode
        lock = lab.lock("door")
        assert lock.credentials == CREDS
        async with asyncio.timeout(DEADLINE):
            await lock.unlock()
            assert (await lock.status()).lock_state is LockState.UNLOCKED


def test_credentials_are_saved_in_place_for_file_references(tmp_path: Path) -> None:
    config = build_config(
        tmp_path,
        [lock_entry("door", credentials="file:creds/door.json"), lock_entry("other")],
    )
    lab = make_lab(config)
    assert lab.save_credentials("door", CREDS) == tmp_path / "creds" / "door.json"
    assert load_credentials("file:creds/door.json", tmp_path) == CREDS
    stored = lab.save_credentials("other", CREDS)
    assert stored == tmp_path / "credentials" / "other.json"
    assert lab.credentials("other") == CREDS


def test_env_credentials_are_read_from_the_given_environment(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry("door", credentials="env:DOOR")])
    lab = make_lab(config, environ={"DOOR": CREDS.to_json()})
    assert lab.credentials("door") == CREDS
    missing = make_lab(config, environ={})
    with pytest.raises(ConfigError, match="DOOR is not set"):
        missing.credentials("door")


# --- scans and lifetime -------------------------------------------------------------------------


async def test_scan_names_configured_devices_and_stops_once_all_are_seen(lab: Lab) -> None:
    started = time.monotonic()
    async with asyncio.timeout(DEADLINE):
        sightings = await lab.scan(duration=DEADLINE / 2)
    assert time.monotonic() - started < DEADLINE / 4
    named = {s.device: s.seen.advert.kind.value for s in sightings if s.seen.advert}
    assert named == {"front-door": "lock", "back-door": "lock", "gw": "gateway"}
    front = next(s for s in sightings if s.device == "front-door")
    assert front.seen.advert is not None
    assert front.seen.advert.setting_mode is True
    assert front.to_dict()["device"] == "front-door"


async def test_a_full_scan_runs_for_its_duration(lab: Lab) -> None:
    started = time.monotonic()
    async with asyncio.timeout(DEADLINE):
        await lab.scan(duration=0.2, until_all_seen=False)
    assert time.monotonic() - started >= 0.2


async def test_aclose_closes_every_session_it_opened(lab: Lab) -> None:
    lock = lab.lock("front-door")
    async with asyncio.timeout(DEADLINE):
        await lock.status()
    assert lab.virtual("front-door").connected
    await lab.aclose()
    assert not lab.virtual("front-door").connected
    assert lock.session.trace.closed


async def test_aclose_closes_the_other_sessions_when_one_fails_to_close(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, back = lab.lock("front-door"), lab.lock("back-door")
    async with asyncio.timeout(DEADLINE):
        await front.status()
        await back.status()

    async def broken_close() -> None:
        raise OSError("adapter went away")

    real_close = front.session.aclose
    monkeypatch.setattr(front.session, "aclose", broken_close)
    with pytest.raises(OSError, match="adapter went away"):
        await lab.aclose()
    assert not lab.virtual("back-door").connected
    await real_close()  # the "broken" one, for real, so no task outlives the test


async def test_the_log_file_gets_harness_logs_through_the_redactor(tmp_path: Path) -> None:
    config = build_config(tmp_path, [lock_entry("door")])
    log = tmp_path / "reports" / "lab.log"
    lab = make_lab(config, log_file=log)
    lab.redactor.add_u32(CREDS.admin_ps)
    logging.getLogger("ttlock_hil.harness.lab").info("admin password is %d", CREDS.admin_ps)
    await lab.aclose()
    logging.getLogger("ttlock_hil.harness.lab").info("after close")
    text = log.read_text(encoding="utf-8")
    assert "admin password is «redacted»" in text
    assert str(CREDS.admin_ps) not in text
    assert "after close" not in text
    assert logging.getLogger("harness").level == logging.NOTSET


async def test_a_lock_used_after_the_lab_closed_says_so_and_how_to_recover(lab: Lab) -> None:
    lock = lab.lock("front-door")
    await lab.aclose()
    with pytest.raises(SessionClosed, match=r"lab\.lock\('front-door'\)") as failed:
        await lock.status()
    assert isinstance(failed.value, HarnessError)
    assert isinstance(failed.value, RuntimeError)  # what it resembles
