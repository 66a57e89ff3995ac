"""harness.gateway: the Gateway API against the virtual G2/G3/G4, through the bleak path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.errors import InvalidParameters, Unsupported
from ttlock_hil.harness.expect import expect_code
from ttlock_hil.harness.gateway import Gateway, IpSettings
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.trace import read_trace
from ttlock_hil.protocol.codes import Code
from ttlock_hil.protocol.commands import GatewayCommand
from ttlock_hil.protocol.messages import GatewayModel, IpMode

from .conftest import DEADLINE, build_config, gateway_entry, make_lab

G = GatewayCommand


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return build_config(
        tmp_path,
        [gateway_entry("gw-g2", "g2"), gateway_entry("gw-g3", "g3"), gateway_entry("gw-g4", "g4")],
        timeouts={"scan": 1.0, "connect": 1.0, "command": 1.0},
    )


@pytest.fixture
async def lab(config: LabConfig) -> AsyncIterator[Lab]:
    lab = make_lab(config)
    yield lab
    await lab.aclose()


def virtual(lab: Lab, name: str) -> VirtualGateway:
    device = lab.virtual(name).device
    assert isinstance(device, VirtualGateway)
    return device


def sent(gateway: Gateway) -> list[int]:
    return [
        int(r["decoded"]["opcode"], 16)
        for r in read_trace(gateway.trace_path)
        if r["direction"] == "tx"
    ]


async def test_the_first_command_greets_the_gateway_with_echo(lab: Lab) -> None:
    gateway = lab.gateway("gw-g3")
    async with asyncio.timeout(DEADLINE):
        reply = await gateway.configure_server("gw.example.net", 2999)
        await gateway.disconnect()
        await gateway.configure_server()
    assert reply.ok
    assert sent(gateway) == [G.ECHO, G.CONFIGURE_SERVER, G.ECHO, G.CONFIGURE_SERVER]
    assert virtual(lab, "gw-g3").config.server == ("plug.sciener.cn", 2999)


async def test_echo_answers_success(lab: Lab) -> None:
    async with lab.gateway("gw-g2") as gateway, asyncio.timeout(DEADLINE):
        reply = await gateway.echo()
    assert reply.ok


async def test_scan_wifi_collects_every_streamed_network(lab: Lab) -> None:
    async with lab.gateway("gw-g2") as gateway, asyncio.timeout(DEADLINE):
        networks = await gateway.scan_wifi()
    expected = [(n.ssid, n.rssi) for n in virtual(lab, "gw-g2").networks]
    assert [(n.ssid, n.rssi) for n in networks] == expected
    assert len(expected) >= 2


async def test_configure_wifi_waits_through_processing(lab: Lab) -> None:
    network = virtual(lab, "gw-g2").networks[0]
    async with lab.gateway("gw-g2") as gateway, asyncio.timeout(DEADLINE):
        reply = await gateway.configure_wifi(network.ssid, network.password)
    assert reply.ok
    assert virtual(lab, "gw-g2").config.wifi_ssid == network.ssid
    verdicts = [r["verdict"] for r in read_trace(gateway.trace_path) if r["direction"] == "rx"]
    assert verdicts[-2:] == ["processing", "ok"]


@pytest.mark.parametrize(
    ("ssid", "password", "code"),
    [
        ("NoSuchNetwork", "x", Code.GATEWAY_BAD_SSID),
        ("MyWiFi", "wrong-password", Code.GATEWAY_BAD_WIFI_PASSWORD),
    ],
)
async def test_wifi_errors_map_to_gateway_codes(
    lab: Lab, ssid: str, password: str, code: Code
) -> None:
    async with lab.gateway("gw-g2") as gateway, expect_code(code):
        await gateway.configure_wifi(ssid, password)


async def test_g2_init_runs_wifi_server_account(lab: Lab) -> None:
    network = virtual(lab, "gw-g2").networks[0]
    async with lab.gateway("gw-g2") as gateway, asyncio.timeout(DEADLINE):
        result = await gateway.init(
            uid=4242,
            password="account-secret",
            name="bench gateway",
            ssid=network.ssid,
            wifi_password=network.password,
        )
    assert result.model is GatewayModel.G2
    assert result.commands == (G.CONFIGURE_WIFI, G.CONFIGURE_SERVER, G.CONFIGURE_ACCOUNT)
    assert sent(gateway) == [G.ECHO, *result.commands]
    device = virtual(lab, "gw-g2")
    assert device.initialised
    assert device.config.account is not None
    assert (device.config.account.uid, device.config.account.name) == (4242, "bench gateway")
    assert device.config.account.plug_version == GatewayModel.G2


async def test_g2_init_needs_the_wifi_credentials(lab: Lab) -> None:
    async with lab.gateway("gw-g2") as gateway:
        with pytest.raises(InvalidParameters, match="ssid"):
            await gateway.init(uid=1, password="p", name="n")


async def test_g3_init_with_a_static_ip(lab: Lab) -> None:
    async with lab.gateway("gw-g3") as gateway, asyncio.timeout(DEADLINE):
        result = await gateway.init(
            uid=7, password="pw", name="wired", ip=IpSettings(ip="192.168.1.50")
        )
    assert result.commands == (G.CONFIG_IP, G.CONFIGURE_SERVER, G.CONFIGURE_ACCOUNT)
    device = virtual(lab, "gw-g3")
    assert device.config.ip is not None
    assert device.config.ip.mode == IpMode.STATIC
    assert device.config.ip.ip == "192.168.1.50"
    assert device.config.account is not None
    assert device.config.account.plug_version == GatewayModel.G3


async def test_g4_init_with_an_apn_and_dhcp(lab: Lab) -> None:
    async with lab.gateway("gw-g4") as gateway, asyncio.timeout(DEADLINE):
        result = await gateway.init(uid=8, password="pw", name="cell", apn="internet", ip=None)
        await gateway.configure_ip()
    assert result.model is GatewayModel.G4
    assert result.commands == (G.SET_APN, G.CONFIGURE_SERVER, G.CONFIGURE_ACCOUNT)
    device = virtual(lab, "gw-g4")
    assert device.config.apn == "internet"
    assert device.config.ip is not None
    assert device.config.ip.mode == IpMode.DHCP


async def test_a_g4_without_sim_card_reports_code_135(lab: Lab) -> None:
    virtual(lab, "gw-g4").sim_card = False
    async with lab.gateway("gw-g4") as gateway, expect_code(Code.GATEWAY_NO_SIM_CARD):
        await gateway.configure_server()


async def test_a_command_the_model_lacks_is_invalid_command(lab: Lab) -> None:
    async with lab.gateway("gw-g4") as gateway, expect_code(Code.GATEWAY_INVALID_COMMAND):
        await gateway.scan_wifi()


async def test_a_g2_without_wifi_has_no_network(lab: Lab) -> None:
    async with lab.gateway("gw-g2") as gateway, expect_code(Code.GATEWAY_NO_NETWORK):
        await gateway.configure_account(uid=1, password="p", name="n")


async def test_enter_dfu(lab: Lab) -> None:
    async with lab.gateway("gw-g3") as gateway, asyncio.timeout(DEADLINE):
        assert (await gateway.enter_dfu()).ok
    assert virtual(lab, "gw-g3").config.dfu_requested


async def test_the_model_comes_from_the_advert_or_the_config(lab: Lab) -> None:
    gateway = lab.gateway("gw-g4")
    assert gateway.model is GatewayModel.G4  # from the config before connecting
    async with asyncio.timeout(DEADLINE):
        await gateway.connect()
    assert gateway.model is GatewayModel.G4  # from the advert's gateway type
    await gateway.aclose()
    odd = Gateway(lab.session("gw-g2"), model="gateway")
    with pytest.raises(Unsupported, match="g2, g3 or g4"):
        _ = odd.model
    await odd.aclose()


async def test_bad_arguments_are_invalid_parameters(lab: Lab) -> None:
    async with lab.gateway("gw-g3") as gateway:
        with pytest.raises(InvalidParameters, match="IPv4"):
            await gateway.configure_ip(IpSettings(ip="300.1.1.1"))
        with pytest.raises(InvalidParameters):
            await gateway.configure_account(uid=1, password="p", name="n", plug_version=12)
