"""harness.tiers: where sim: devices live, and the BlueZ tier brought up for a lab config.

The radio path (a Lab on tier ``bluez``) is driven here through bleak's own Linux
backend against the double, with nothing but the config telling it where to go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ttlock_hil.harness.config import LabConfig, parse_config
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.lab import Lab, sim_address
from ttlock_hil.harness.tiers import BUS_VARIABLE, bluez_spec, check_tier, running_tier
from ttlock_hil.protocol.messages import LockState

CONFIG = """
lab: tier-lab
timeouts: {scan: 5.0, connect: 5.0, command: 3.0}
devices:
  - {name: front-door, kind: lock, model: v3-keypad, address: "sim:v3-keypad"}
  - {name: gw, kind: gateway, model: g2, address: "sim:g2"}
  - {name: radio-door, kind: lock, model: v3-keypad, address: "C1:23:45:67:89:AB"}
"""

needs_dbus = pytest.mark.skipif(
    os.environ.get("CI") != "true" and shutil.which("dbus-daemon") is None,
    reason="dbus-daemon not installed: apt-get install dbus-daemon (CI installs it)",
)


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return parse_config(CONFIG, file=tmp_path / "hil-config.yaml", base_dir=tmp_path)


def test_the_tiers_are_named_and_an_unknown_one_is_a_config_error() -> None:
    assert check_tier("bluez") == "bluez"
    with pytest.raises(ConfigError, match="virtual, bluez"):
        check_tier("bumble-ish")
    with pytest.raises(ConfigError):
        Lab(parse_config(CONFIG), tier="radio")


def test_the_double_hosts_each_sim_device_at_its_stable_mac(config: LabConfig) -> None:
    spec = bluez_spec(config)
    assert [(d["preset"], d["address"]) for d in spec["devices"]] == [
        ("v3-keypad", sim_address("tier-lab", "front-door")),
        ("g2", sim_address("tier-lab", "gw")),
    ]  # the radio device is on the radio, not in the double


def test_on_the_bluez_tier_a_sim_device_is_reached_through_the_os_backend(
    config: LabConfig,
) -> None:
    transport = Lab(config, tier="bluez").transport("front-door")
    assert transport.client_backend is None
    assert transport.scanner_backend is None
    assert transport.address == sim_address("tier-lab", "front-door")
    virtual = Lab(config).transport("front-door")
    assert virtual.client_backend is not None  # tier 1: the in-process backend


def test_faults_in_process_are_refused_on_the_bluez_tier(config: LabConfig) -> None:
    with pytest.raises(ConfigError, match="BlueZ double"):
        Lab(config, tier="bluez").virtual("front-door")


@needs_dbus
async def test_a_lab_on_the_bluez_tier_inits_and_unlocks_a_virtual_lock(
    config: LabConfig,
) -> None:
    previous = os.environ.get(BUS_VARIABLE)
    with running_tier(config, "bluez") as variables:
        assert os.environ[BUS_VARIABLE] == variables[BUS_VARIABLE]
        lab = Lab(config, tier="bluez")
        async with lab, lab.lock("front-door") as lock:
            await lock.init()
            await lock.unlock()
            status = await lock.status()
            assert status.state == LockState.UNLOCKED
            assert lock.session.link.transport.client_backend is None  # bleak's own
    assert os.environ.get(BUS_VARIABLE) == previous


@needs_dbus
def test_sim_bluez_prints_the_bus_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "hil-config.yaml").write_text(CONFIG, "utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ttlock_hil.harness.cli",
            "sim",
            "bluez",
            "--config",
            str(tmp_path / "hil-config.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"export {BUS_VARIABLE}=unix:path=")
        socket = first.split("unix:path=", 1)[1].split(",", 1)[0]
        assert Path(socket).exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(socket).exists():
            time.sleep(0.02)
        assert not Path(socket).exists()  # bus gone, directory removed
    finally:
        process.kill()
        process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
