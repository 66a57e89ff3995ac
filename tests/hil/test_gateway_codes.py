"""Every gateway code (128..136, = 0x7F + status byte, docs/protocol.md §5.2) provoked and asserted.

A wrong SSID or password and a Wi-Fi command to a gateway without Wi-Fi run on
real gateways too; an unplugged network, a missing SIM and status bytes no
known state produces need the bench (``hil_sim_only``).
"""

from __future__ import annotations

import asyncio

import pytest

from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.gateway import Gateway, IpSettings
from ttlock_hil.harness.sim import Fault, VirtualBench
from ttlock_hil.protocol.commands import GatewayCommand

from .conftest import WifiNetwork

pytestmark = pytest.mark.hil_gateway


@pytest.mark.hil_feature("gateway_wifi")
@pytest.mark.hil_case("CONFIGURE_WIFI", "unknown-ssid")
async def test_an_unknown_network_is_refused(gateway: Gateway, hil_expected: Expected) -> None:
    async with hil_expected.check():
        await gateway.configure_wifi("ttlock-hil-no-such-network", "whatever123")


@pytest.mark.hil_feature("gateway_wifi")
@pytest.mark.hil_case("CONFIGURE_WIFI", "wrong-password")
async def test_a_wrong_wifi_password_is_refused(
    gateway: Gateway, bench_wifi: WifiNetwork, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await gateway.configure_wifi(bench_wifi.ssid, bench_wifi.password + "-wrong")


@pytest.mark.hil_case("GET_NEARBY_SSID", "no-wifi")
async def test_a_gateway_without_wifi_refuses_a_wifi_scan(
    gateway: Gateway, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await gateway.scan_wifi()


@pytest.mark.hil_sim_only(reason="how real gateways answer an undecodable payload is undocumented")
@pytest.mark.hil_case("CONFIGURE_SERVER", "undecodable-payload")
async def test_an_undecodable_request_is_a_gateway_failure(
    gateway: Gateway, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await gateway.session.request(GatewayCommand.CONFIGURE_SERVER, b"\xff")


@pytest.mark.hil_sim_only(reason="needs the gateway's network unplugged")
@pytest.mark.hil_case("CONFIGURE_SERVER", "no-network")
async def test_a_gateway_without_network_cannot_take_its_server(
    gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.set(network_available=False)
    async with hil_expected.check():
        await gateway.configure_server()


@pytest.mark.hil_feature("gateway_cellular")
@pytest.mark.hil_sim_only(reason="needs the SIM card taken out")
@pytest.mark.hil_case("CONFIGURE_SERVER", "no-sim-card")
async def test_a_cellular_gateway_without_sim_card_is_reported(
    gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.set(sim_card=False)
    async with hil_expected.check():
        await gateway.configure_server()


@pytest.mark.hil_sim_only(reason="no known gateway state answers status 7")
@pytest.mark.hil_case("ECHO", "status-timeout")
async def test_a_gateway_timeout_status_is_reported(
    gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=GatewayCommand.ECHO, error=7)
    async with hil_expected.check():
        await gateway.echo()


@pytest.mark.hil_sim_only(reason="status 5 only ends a Wi-Fi scan on a real gateway")
@pytest.mark.hil_case("ECHO", "status-finished")
async def test_a_finished_status_to_another_command_is_reported(
    gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.ERROR_REPLY, command=GatewayCommand.ECHO, error=5)
    async with hil_expected.check():
        await gateway.echo()


@pytest.mark.hil_sim_only(reason="no known gateway state stays 'processing' forever")
@pytest.mark.hil_case("CONFIGURE_SERVER", "processing-forever")
async def test_processing_is_not_a_result(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    # Status 2 "command received, processing" (129) is not final: the harness keeps waiting.
    await fast_gateway.connect()
    virtual_device.inject(Fault.ERROR_REPLY, command=GatewayCommand.CONFIGURE_SERVER, error=2)
    async with hil_expected.check(within=2.0):
        await fast_gateway.configure_server()


@pytest.mark.hil_case("ECHO", "busy")
async def test_a_second_gateway_command_in_flight_is_refused(
    gateway: Gateway, hil_expected: Expected
) -> None:
    first = asyncio.ensure_future(gateway.echo())
    await asyncio.sleep(0)
    async with hil_expected.check():
        await gateway.echo()
    assert (await first).ok


@pytest.mark.hil_case("CONFIG_IP", "unencodable")
async def test_an_address_the_message_cannot_carry_is_refused_before_sending(
    gateway: Gateway, hil_expected: Expected
) -> None:
    async with hil_expected.check():
        await gateway.configure_ip(IpSettings(ip="999.1.1.1"))
