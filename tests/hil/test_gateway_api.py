"""Happy paths of every Gateway API command (G2 Wi-Fi, G3 wired, G4 4G), docs/protocol.md §7.

A G2 reaches its server over Wi-Fi, so the tests that need an uplink join the
bench's network first (``bench_wifi``; on a real bench from the environment).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ttlock_hil.harness.config import DeviceConfig
from ttlock_hil.harness.expect import expect_ok
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.gateway import Gateway, IpSettings
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.commands import GatewayCommand

from .conftest import WifiNetwork

pytestmark = pytest.mark.hil_gateway

_ACCOUNT = {"uid": 4242, "password": "bench-account-secret", "name": "ttlock-hil bench"}


async def _join_uplink(gateway: Gateway, device: DeviceConfig, wifi: WifiNetwork) -> None:
    """A G2 needs its Wi-Fi before server and account (G3/G4 have their uplink)."""
    if device.has("gateway_wifi"):
        await expect_ok(gateway.configure_wifi(wifi.ssid, wifi.password))


@pytest.mark.hil_case("ECHO", "ok")
async def test_the_gateway_answers_echo(
    gateway: Gateway, hil_expected: Expected, frame_trace: os.PathLike[str]
) -> None:
    async with hil_expected.check():
        reply = await gateway.echo()
    assert reply.ok
    # The harness's own evidence: the last exchange on the link is this ECHO and its
    # answer (a reply taken from anywhere else would not be traced as ECHO → ok).
    frames = [
        (record["direction"], record["decoded"].get("command"), record["verdict"])
        for record in read_trace(Path(frame_trace))
        if record["direction"] in ("tx", "rx")
    ]
    assert frames[-2:] == [("tx", "ECHO", "sent"), ("rx", "ECHO", "ok")]


@pytest.mark.hil_feature("gateway_wifi")
@pytest.mark.hil_case("GET_NEARBY_SSID", "ok")
async def test_a_wifi_scan_lists_the_bench_network(
    gateway: Gateway, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        networks = await gateway.scan_wifi()
    assert bench_wifi.ssid in {n.ssid for n in networks}


@pytest.mark.hil_feature("gateway_wifi")
@pytest.mark.hil_case("CONFIGURE_WIFI", "ok")
async def test_the_gateway_joins_the_bench_wifi(
    gateway: Gateway, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        reply = await gateway.configure_wifi(bench_wifi.ssid, bench_wifi.password)
    assert reply.ok


@pytest.mark.hil_case("CONFIGURE_SERVER", "ok")
async def test_the_server_address_is_configured(
    gateway: Gateway, hil_device: DeviceConfig, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    await _join_uplink(gateway, hil_device, bench_wifi)
    async with hil_expected.check():
        await gateway.configure_server()


@pytest.mark.hil_case("CONFIGURE_ACCOUNT", "ok")
async def test_the_account_is_configured(
    gateway: Gateway, hil_device: DeviceConfig, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    await _join_uplink(gateway, hil_device, bench_wifi)
    async with hil_expected.check():
        await gateway.configure_account(**_ACCOUNT)


@pytest.mark.hil_case("CONFIGURE_ACCOUNT", "init-sequence")
async def test_the_vendor_init_sequence_runs_for_the_gateway_type(
    gateway: Gateway, hil_device: DeviceConfig, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    wifi = {"ssid": bench_wifi.ssid, "wifi_password": bench_wifi.password}
    extra = wifi if hil_device.has("gateway_wifi") else {}
    if hil_device.has("gateway_cellular"):
        extra = {"apn": "internet"}
    async with hil_expected.check():
        result = await gateway.init(**_ACCOUNT, **extra)
    assert result.commands[-1] is GatewayCommand.CONFIGURE_ACCOUNT


@pytest.mark.hil_feature("gateway_ethernet")
@pytest.mark.hil_case("CONFIG_IP", "dhcp")
async def test_a_wired_gateway_is_set_to_dhcp(gateway: Gateway, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await gateway.configure_ip(IpSettings())


@pytest.mark.hil_feature("gateway_cellular")
@pytest.mark.hil_case("SET_APN", "ok")
async def test_a_cellular_gateway_takes_an_apn(gateway: Gateway, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await gateway.set_apn("internet")


@pytest.mark.hil_destructive
@pytest.mark.hil_case("ENTER_DFU", "ok")
async def test_the_gateway_accepts_firmware_update_mode(
    gateway: Gateway, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await gateway.enter_dfu()
