"""The radio path under BlueZ weather: each defect a bench would lose a night to.

Everything here runs the harness's own radio code (``address:`` a MAC, bleak's OS
backend) against the BlueZ double: the same calls a Linux lab PC makes to
``bluetoothd``. Faults reach the double through its control interface.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from ttlock_hil.harness.config import LabConfig, parse_config
from ttlock_hil.harness.errors import Disconnected, TTLockError
from ttlock_hil.harness.lab import Lab, sim_address
from ttlock_hil.harness.link import SeenDevice, _matches
from ttlock_hil.harness.tiers import running_tier
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.advert import build_lock_advert, parse_bleak, split_for_bleak
from ttlock_hil.protocol.codes import Code

needs_dbus = pytest.mark.skipif(
    os.environ.get("CI") != "true" and shutil.which("dbus-daemon") is None,
    reason="dbus-daemon not installed: apt-get install dbus-daemon (CI installs it)",
)

CONFIG = """
lab: radio-lab
timeouts: {scan: 3.0, connect: 3.0, command: 3.0}
credentials_dir: creds/
reports: reports/
devices:
  - {name: front-door, kind: lock, model: v3-keypad, address: "sim:v3-keypad"}
  - {name: gw, kind: gateway, model: g2, address: "sim:g2"}
"""


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    (tmp_path / "hil-config.yaml").write_text(CONFIG, "utf-8")
    return parse_config(CONFIG, file=tmp_path / "hil-config.yaml", base_dir=tmp_path)


@pytest.fixture
def bluez(config: LabConfig) -> Iterator[dict[str, str]]:
    with running_tier(config, "bluez") as variables:
        yield variables


@pytest.fixture
async def lab(config: LabConfig, bluez: dict[str, str]) -> AsyncIterator[Lab]:
    async with Lab(config, tier="bluez") as running:
        yield running


async def _bench(bus_address: str, member: str, signature: str, body: list[object]) -> object:
    bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/io/ttlock_hil/bench",
                interface="io.ttlock_hil.Bench1",
                member=member,
                signature=signature,
                body=body,
            )
        )
    finally:
        bus.disconnect()
    assert reply is not None
    assert reply.message_type is MessageType.METHOD_RETURN, reply.body
    return reply.body[0] if reply.body else None


# --- 1. one scanner per adapter --------------------------------------------------------


@needs_dbus
async def test_two_devices_connect_at_once_on_one_adapter(lab: Lab) -> None:
    async with lab.lock("front-door") as lock, lab.gateway("gw") as gateway:
        await asyncio.gather(lock.connect(), gateway.connect())
        assert lock.session.connected
        assert gateway.session.connected


# --- 2. a link bluetoothd still holds --------------------------------------------------

_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from ttlock_hil.harness.config import load_config
    from ttlock_hil.harness.lab import Lab

    async def main():
        lab = Lab(load_config(sys.argv[1]), tier="bluez")
        lock = lab.lock("front-door")
        await lock.connect()
        print("connected", flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


@needs_dbus
def test_a_killed_run_leaves_the_lock_connected_and_the_next_run_reuses_the_link(
    config: LabConfig, bluez: dict[str, str]
) -> None:
    assert config.source is not None
    env = dict(os.environ, **bluez)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(config.source)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "connected"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=5)
    finally:
        holder.kill()
        holder.wait(timeout=5)
        if holder.stdout is not None:
            holder.stdout.close()
    status = subprocess.run(
        [
            *(sys.executable, "-m", "ttlock_hil.harness.cli", "lock", "status"),
            *("--device", "front-door", "--config", str(config.source), "--tier", "bluez"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert "front-door: locked" in status.stdout


# --- 3. MTU and chunks ---------------------------------------------------------------


@needs_dbus
async def test_no_mtu_warning_and_the_trace_shows_the_real_mtu_and_20_byte_chunks(
    config: LabConfig, bluez: dict[str, str]
) -> None:
    await _bench(bluez["DBUS_SYSTEM_BUS_ADDRESS"], "SetMtu", "sq", [_mac("front-door"), 247])
    async with Lab(config, tier="bluez") as lab, lab.lock("front-door") as lock:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # bleak's "Using default MTU value" would raise
            await lock.status()
        trace = lock.session.trace_path
    connected = [r for r in read_trace(trace) if (r["decoded"] or {}).get("event") == "connected"]
    assert connected[-1]["decoded"]["mtu"] == 247
    assert connected[-1]["decoded"]["chunk"] == 20


# --- 5. bluetoothd going away ----------------------------------------------------------


@needs_dbus
async def test_bluetoothd_going_away_while_connected_is_a_disconnect(lab: Lab) -> None:
    lock = lab.lock("front-door")
    await lock.connect()
    await _bench(os.environ["DBUS_SYSTEM_BUS_ADDRESS"], "Vanish", "", [])
    with pytest.raises(TTLockError) as failed:
        await lock.status()
    assert isinstance(failed.value, Disconnected), failed.value
    assert failed.value.code.code == Code.DISCONNECTED


# --- 7. a stale GATT cache -------------------------------------------------------------


@needs_dbus
async def test_a_missing_service_clears_the_cache_and_retries_once(
    lab: Lab, bluez: dict[str, str]
) -> None:
    await _bench(
        bluez["DBUS_SYSTEM_BUS_ADDRESS"],
        "Inject",
        "sss",
        [_mac("front-door"), "SERVICE_MISSING", "{}"],
    )
    async with lab.lock("front-door") as lock:
        status = await lock.status()
    assert status.battery > 0
    fired = json.loads(
        str(await _bench(bluez["DBUS_SYSTEM_BUS_ADDRESS"], "Fired", "s", [_mac("front-door")]))
    )
    assert [item["fault"] for item in fired] == ["SERVICE_MISSING"]
    events = [(r["decoded"] or {}).get("event") for r in read_trace(lock.session.trace_path)]
    assert "cache-cleared" in events


# --- 8. macOS: devices by the MAC in their advert ----------------------------------------


def test_a_corebluetooth_uuid_matches_by_the_mac_in_the_ttlock_advert() -> None:
    mac = "C1:23:45:67:89:AB"
    data = build_lock_advert(
        scene=1, unlocked=False, has_events=False, setting_mode=False, battery=80, mac=mac
    )
    advert = parse_bleak(*split_for_bleak(data))
    seen = SeenDevice(
        address="8E1F2A3B-0000-4C5D-9E6F-112233445566", name="S202F", rssi=-60, advert=advert
    )
    assert advert.mac == mac
    assert _matches(seen, mac, None, None)
    assert not _matches(seen, "C1:23:45:67:89:AC", None, None)


def _mac(name: str) -> str:
    return sim_address("radio-lab", name)


# --- 9. the adapter chosen by its MAC ----------------------------------------------------

DOUBLE_ADAPTER_MAC = "00:1A:7D:DA:71:13"  # the double's hci0


def _radio_config(tmp_path: Path, adapter_mac: str) -> LabConfig:
    text = f"""
lab: radio-lab
timeouts: {{scan: 3.0, connect: 3.0, command: 3.0}}
adapters:
  - {{name: hci7, mac: "{adapter_mac}"}}
devices:
  - {{name: door, kind: lock, model: v3-keypad, address: "{_mac("front-door")}", adapter: hci7}}
"""
    return parse_config(text, file=tmp_path / "radio.yaml", base_dir=tmp_path)


@needs_dbus
async def test_an_adapter_is_found_by_its_mac_when_its_hci_number_moved(
    tmp_path: Path, bluez: dict[str, str]
) -> None:
    async with Lab(_radio_config(tmp_path, DOUBLE_ADAPTER_MAC)) as lab, lab.lock("door") as lock:
        status = await lock.status()
        assert status.battery > 0
        assert lock.session.link.transport.adapter == "hci0"
        events = [(r["decoded"] or {}).get("event") for r in read_trace(lock.session.trace_path)]
    assert "adapter" in events


@needs_dbus
async def test_an_absent_adapter_mac_is_10030_naming_the_adapters_present(
    tmp_path: Path, bluez: dict[str, str]
) -> None:
    async with Lab(_radio_config(tmp_path, "00:11:22:33:44:55")) as lab, lab.lock("door") as lock:
        with pytest.raises(TTLockError) as failed:
            await lock.status()
    assert failed.value.code.code == Code.ADAPTER_OPEN_FAILED
    assert f"hci0 {DOUBLE_ADAPTER_MAC}" in str(failed.value)
