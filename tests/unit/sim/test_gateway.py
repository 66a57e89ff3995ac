"""The virtual gateway (G2/G3/G4, docs/protocol.md §7), through ``receive()`` and through bleak.

Every test runs twice: once handing bytes to ``receive()``, once over a
``BleakClient`` on the virtual backend (the ``driver`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ttlock_hil.harness.sim.device import DeviceKind, ManualClock, VirtualDevice
from ttlock_hil.harness.sim.gateway import VirtualGateway
from ttlock_hil.harness.sim.presets import ReplyOverride, WifiNetwork, gateway_preset
from ttlock_hil.protocol.app import Stray
from ttlock_hil.protocol.commands import GatewayCommand
from ttlock_hil.protocol.crypto import gateway_key
from ttlock_hil.protocol.errormap import gateway_status_code
from ttlock_hil.protocol.frame import build_gateway_frame, encode_gateway_command
from ttlock_hil.protocol.messages import (
    DEFAULT_PORT,
    DEFAULT_SERVER,
    ConfigIp,
    ConfigureAccount,
    ConfigureServer,
    ConfigureWifi,
    Echo,
    EnterDfu,
    GatewayModel,
    GatewayReply,
    GatewayStatus,
    GetNearbySsid,
    IpMode,
    SetApn,
    SsidEntry,
    SsidScanReply,
)

from .clients import BleakDriver, Driver, GatewayClient, SansIODriver

S = GatewayStatus
ACCOUNT = ConfigureAccount.with_password(
    uid=1001, password="hunter2", company_id=7, branch_id=8, name="Lab gateway", plug_version=2
)


@pytest.fixture(params=["receive", "bleak"])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    chosen: SansIODriver | BleakDriver = (
        SansIODriver() if request.param == "receive" else BleakDriver()
    )
    yield chosen
    await chosen.close()


def code(status: int) -> int:
    """The WeChat plugin code of a gateway status byte (0x7F + byte, §5.2)."""
    return gateway_status_code(status).code


def scan_finished(plaintext: bytes) -> bool:
    """The Wi-Fi scan's final reply: status 5, "done" (§7)."""
    return plaintext[0] == S.DONE


async def join_wifi(app: GatewayClient) -> None:
    assert await app.status(ConfigureWifi("MyWiFi", "secret123")) == S.PROCESSING
    assert await app.next_status() == S.SUCCESS  # the same request, still in flight


# --- the model -----------------------------------------------------------------------------


def test_a_gateway_is_a_virtual_device_with_the_gateway_gatt() -> None:
    gw = VirtualGateway("g2")
    assert isinstance(gw, VirtualDevice)
    assert gw.kind is DeviceKind.GATEWAY
    assert gw.gatt.service == "00001911-0000-1000-8000-00805f9b34fb"
    assert gw.name == "G2_ffeedd"
    assert gw.model is GatewayModel.G2


def test_the_advert_carries_the_gateway_header_and_the_reversed_mac() -> None:
    for name, type_byte in (("g2", 0x19), ("g3", 0x21), ("g4", 0x20)):
        gw = VirtualGateway(name)
        advert = gw.advertisement()
        ((company_id, rest),) = advert.manufacturer_data.items()
        assert company_id.to_bytes(2, "little") == bytes([0x11, type_byte])
        assert rest == bytes.fromhex(gw.address.replace(":", ""))[::-1]
        assert advert.service_uuids == [gw.gatt.service]


def test_device_information_has_model_network_mac_and_revisions() -> None:
    gw = VirtualGateway("g4")
    info = gw.device_information()
    preset = gateway_preset("g4")
    assert info == {
        "2a24": b"G4",
        "2a25": preset.network_mac.encode(),
        "2a26": preset.firmware.encode(),
        "2a27": preset.hardware.encode(),
    }


def test_error_reply_and_push_frame_are_well_formed_and_encrypted() -> None:
    gw = VirtualGateway("g3", address="01:02:03:04:05:06")
    key = gateway_key("01:02:03:04:05:06")
    assert gw.error_reply(0x03, S.NO_CABLE) == encode_gateway_command(0x03, b"\x09", key)
    assert gw.push_frame() == encode_gateway_command(GatewayCommand.ECHO, b"\x00", key)


def test_receive_accepts_any_chunking() -> None:
    gw = VirtualGateway("g2")
    frame = encode_gateway_command(GatewayCommand.ECHO, Echo().encode(), gateway_key(gw.address))
    assert [gw.receive(frame[i : i + 1]) for i in range(len(frame) - 1)] == [[]] * (len(frame) - 1)
    assert len(gw.receive(frame[-1:])) == 1
    assert len(gw.receive(frame + frame)) == 2


# --- through both transports -----------------------------------------------------------------


async def test_echo_is_answered_success(driver: Driver) -> None:
    app = await GatewayClient.open(driver, VirtualGateway("g2"))
    assert await app.status(Echo()) == S.SUCCESS
    await app.close()


async def test_a_wifi_scan_streams_each_network_then_the_end_marker(driver: Driver) -> None:
    gw = VirtualGateway("g2")
    app = await GatewayClient.open(driver, gw)
    replies = await app.answers(GetNearbySsid(), final=scan_finished)
    assert [reply.message for reply in replies] == [
        SsidScanReply((SsidEntry("MyWiFi", -48),)),
        SsidScanReply((SsidEntry("Lab-5G", -63),)),
        SsidScanReply((SsidEntry("Guest", -80),)),
        SsidScanReply(finished=True),
    ]
    gw.networks = [WifiNetwork("Café ☕", rssi=-40)]
    replies = await app.answers(GetNearbySsid(), final=scan_finished)
    assert [reply.message for reply in replies] == [
        SsidScanReply((SsidEntry("Café ☕", -40),)),
        SsidScanReply(finished=True),
    ]
    assert code(S.DONE) == 132
    await app.close()


async def test_configure_wifi_refuses_unknown_ssids_and_wrong_passwords(driver: Driver) -> None:
    gw = VirtualGateway("g2")
    app = await GatewayClient.open(driver, gw)
    assert await app.status(ConfigureWifi("Nowhere", "x")) == S.BAD_WIFI_NAME
    assert code(S.BAD_WIFI_NAME) == 130
    assert await app.status(ConfigureWifi("MyWiFi", "wrong")) == S.BAD_WIFI_PASSWORD
    assert code(S.BAD_WIFI_PASSWORD) == 131
    assert gw.config.wifi_ssid is None
    await join_wifi(app)
    assert code(S.PROCESSING) == 129
    assert gw.config.wifi_ssid == "MyWiFi"
    await app.close()


async def test_the_wifi_success_follows_the_processing_reply_after_the_join_time(
    driver: Driver,
) -> None:
    clock = ManualClock()
    gw = VirtualGateway(gateway_preset("g2").evolve(wifi_join_seconds=3), clock=clock)
    app = await GatewayClient.open(driver, gw)
    assert await app.status(ConfigureWifi("Lab-5G", "correct horse")) == S.PROCESSING
    assert await app.quiet() == []  # still joining
    clock.advance(3)
    assert await app.next_status() == S.SUCCESS
    await app.close()


async def test_g2_init_sequence_wifi_server_account(driver: Driver) -> None:
    gw = VirtualGateway("g2")
    app = await GatewayClient.open(driver, gw)
    assert await app.status(ConfigureServer()) == S.NO_CABLE  # no Wi-Fi joined yet
    assert code(S.NO_CABLE) == 136
    await join_wifi(app)
    assert await app.status(ConfigureServer()) == S.SUCCESS
    assert await app.status(ACCOUNT) == S.SUCCESS
    assert gw.initialised
    assert gw.config.server == (DEFAULT_SERVER, DEFAULT_PORT)
    assert gw.config.account is not None
    assert (gw.config.account.uid, gw.config.account.name) == (1001, "Lab gateway")
    await app.close()
    # What was configured survives the link.
    again = await GatewayClient.open(driver, gw)
    assert await again.status(ConfigureServer("example.org", 1234)) == S.SUCCESS
    assert gw.config.server == ("example.org", 1234)
    await again.close()


async def test_g3_has_no_wifi_and_reports_a_missing_cable(driver: Driver) -> None:
    gw = VirtualGateway("g3")
    app = await GatewayClient.open(driver, gw)
    assert await app.status(ConfigureWifi("MyWiFi", "secret123")) == S.INVALID_COMMAND
    (scan,) = await app.answers(GetNearbySsid(), final=scan_finished)
    assert scan.message == GatewayReply(S.INVALID_COMMAND)
    assert code(S.INVALID_COMMAND) == 133
    assert await app.status(SetApn("internet")) == S.INVALID_COMMAND
    gw.network_available = False
    assert await app.status(ConfigureServer()) == S.NO_CABLE
    gw.network_available = True
    assert await app.status(ConfigureServer()) == S.SUCCESS
    assert await app.status(ACCOUNT) == S.SUCCESS
    await app.close()


async def test_g4_needs_a_sim_card_and_takes_an_apn(driver: Driver) -> None:
    gw = VirtualGateway("g4")
    gw.sim_card = False
    app = await GatewayClient.open(driver, gw)
    assert await app.status(ConfigureServer()) == S.NO_SIM_CARD
    assert await app.status(ACCOUNT) == S.NO_SIM_CARD
    assert code(S.NO_SIM_CARD) == 135
    gw.sim_card = True
    assert await app.status(SetApn("internet.example")) == S.SUCCESS
    assert gw.config.apn == "internet.example"
    assert await app.status(ConfigureServer()) == S.SUCCESS
    await app.close()
    g2 = await GatewayClient.open(driver, VirtualGateway("g2"))
    assert await g2.status(SetApn("internet.example")) == S.INVALID_COMMAND
    await g2.close()


async def test_ip_configuration_and_dfu_are_accepted(driver: Driver) -> None:
    gw = VirtualGateway("g3")
    app = await GatewayClient.open(driver, gw)
    static = ConfigIp(IpMode.STATIC, "192.168.1.10", "255.255.255.0", "192.168.1.1", "1.1.1.1")
    assert await app.status(static) == S.SUCCESS
    assert gw.config.ip == static
    assert await app.status(EnterDfu()) == S.SUCCESS
    assert gw.config.dfu_requested
    await app.close()


async def test_unknown_opcodes_are_6_and_malformed_payloads_are_1(driver: Driver) -> None:
    gw = VirtualGateway("g2")
    app = await GatewayClient.open(driver, gw)
    reply = await app.request(0x33, b"SCIENER")
    assert reply.message == GatewayReply(S.INVALID_COMMAND)
    reply = await app.request(GatewayCommand.ECHO, b"NOT-SCIENER")
    assert reply.message == GatewayReply(S.FAILED)
    assert code(S.FAILED) == 128
    await app.close()


async def test_a_bad_crc_is_answered_failed_and_an_undecryptable_frame_not_at_all(
    driver: Driver,
) -> None:
    gw = VirtualGateway("g2")
    app = await GatewayClient.open(driver, gw)
    good = encode_gateway_command(GatewayCommand.ECHO, Echo().encode(), gateway_key(gw.address))
    (reply,) = await app.raw(good[:-1] + bytes([good[-1] ^ 0x55]))
    assert isinstance(reply, Stray)  # the app sent nothing: nobody asked
    assert (reply.command, reply.error_byte) == (GatewayCommand.ECHO, S.FAILED)
    other_key = encode_gateway_command(GatewayCommand.ECHO, b"SCIENER", bytes(16))
    assert await app.raw(other_key) == []
    assert await app.raw(build_gateway_frame(GatewayCommand.ECHO, bytes(15))) == []
    assert await app.status(Echo()) == S.SUCCESS
    await app.close()


async def test_preset_overrides_swap_status_bytes(driver: Driver) -> None:
    quirky = gateway_preset("g2").evolve(
        overrides=(
            ReplyOverride(GatewayCommand.CONFIGURE_SERVER, S.TIME_OUT),
            ReplyOverride(GatewayCommand.CONFIGURE_WIFI, S.FAILED, replaces=S.BAD_WIFI_NAME),
        )
    )
    app = await GatewayClient.open(driver, VirtualGateway(quirky))
    assert await app.status(ConfigureWifi("Nowhere", "x")) == S.FAILED
    await join_wifi(app)
    assert await app.status(ConfigureServer()) == S.TIME_OUT
    await app.close()
