"""Gateway messages (protocol.messages.gateway) against the golden vectors and by property."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.protocol.test_messages_lock import (
    PER_CLASS,
    decode_or_message_error,
    struct_strategy,
    wire_classes,
)
from ttlock_hil.protocol.commands import GatewayCommand
from ttlock_hil.protocol.crypto import gateway_key
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import GatewayFrame, encode_gateway_command, parse_frame
from ttlock_hil.protocol.messages import (
    DEFAULT_PORT,
    DEFAULT_SERVER,
    GATEWAY_MESSAGES,
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
    decode_gateway_reply,
    decode_gateway_request,
    decode_plug_name,
    encode_plug_name,
    parse_gateway_reply,
    parse_ssid_scan,
)
from ttlock_hil.protocol.messages import _fields as fields
from ttlock_hil.protocol.messages import gateway as gateway_module

GATEWAY_CLASSES = wire_classes(gateway_module)

# vector id → the request built from readable fields
READABLE = {
    "gateway.echo_0x45_SCIENER": Echo(),
    "gateway.config_wifi_0x02": ConfigureWifi(ssid="MyWiFi", password="secret123"),
    "gateway.config_server_0x03": ConfigureServer(host="plug.sciener.cn", port=2999),
}


def _name(cls: type) -> str:
    return cls.__name__


# --- vectors ----------------------------------------------------------------------------------


def test_every_gateway_frame_vector_carries_a_decodable_request(
    vectors: list[dict[str, Any]],
) -> None:
    frames = [v for v in vectors if v["category"] == "gateway" and "session_key_hex" in v]
    assert {v["id"] for v in frames} == set(READABLE)
    for vector in frames:
        key = bytes.fromhex(vector["session_key_hex"])
        frame = parse_frame(bytes.fromhex(vector["expected_hex"]))
        assert isinstance(frame, GatewayFrame)
        plaintext = frame.decrypt(key)
        if "plaintext_hex" in vector:
            assert plaintext.hex() == vector["plaintext_hex"]
        message = decode_gateway_request(frame.command, plaintext)
        assert message == READABLE[vector["id"]]
        assert message.encode() == plaintext
        assert (
            encode_gateway_command(message.COMMAND, message.encode(), key).hex()
            == (vector["expected_hex"])
        )


def test_the_vector_session_key_is_the_one_derived_from_the_mac(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    vector = vectors_by_id["gateway.session_key"]
    assert gateway_key(vector["input"]["mac"]).hex() == vector["expected_hex"]
    assert vectors_by_id["gateway.echo_0x45_SCIENER"]["session_key_hex"] == vector["expected_hex"]


def test_wifi_and_server_vectors_read_like_the_spec() -> None:
    assert ConfigureWifi("MyWiFi", "secret123").encode().hex() == (
        "06" + b"MyWiFi".hex() + "09" + b"secret123".hex()
    )
    assert ConfigureServer().encode() == b"\x0fplug.sciener.cn\x0b\xb7"
    assert (ConfigureServer().host, ConfigureServer().port) == (DEFAULT_SERVER, DEFAULT_PORT)


# --- requests by example -----------------------------------------------------------------------


def test_sciener_requests_refuse_other_payloads() -> None:
    for cls in (Echo, GetNearbySsid, EnterDfu):
        assert cls().encode() == b"SCIENER"
        assert decode_gateway_request(cls.COMMAND, b"SCIENER") == cls()
        with pytest.raises(MessageError, match="vendor"):
            decode_gateway_request(cls.COMMAND, b"SCIENEX")


def test_wifi_credentials_are_utf8_with_byte_lengths() -> None:
    message = ConfigureWifi("Café", "pässwörd")
    assert message.encode()[0] == len("Café".encode())
    assert decode_gateway_request(0x02, message.encode()) == message
    with pytest.raises(MessageError, match="at most 255 bytes"):
        ConfigureWifi("x" * 256, "")
    with pytest.raises(MessageError, match="password length"):
        decode_gateway_request(0x02, b"\x01a")


def test_configure_account_layout() -> None:
    message = ConfigureAccount.with_password(
        uid=0x01020304, password="123456", company_id=5, branch_id=6, name="gw-1"
    )
    assert message.password_md5 == "e10adc3949ba59abbe56e057f20f883e"
    raw = message.encode()
    assert len(raw) == 4 + 32 + 4 + 4 + 51
    assert raw[:4] == bytes.fromhex("01020304")
    assert raw[4:36] == b"e10adc3949ba59abbe56e057f20f883e"
    assert raw[36:44] == bytes.fromhex("0000000500000006")
    assert raw[44:] == b"gw-1\n2" + b"\n" * 45
    assert decode_gateway_request(0x04, raw) == message
    assert "e10adc" not in repr(message)


def test_configure_account_wants_a_lowercase_md5() -> None:
    digest = hashlib.md5(b"x", usedforsecurity=False).hexdigest()
    with pytest.raises(MessageError, match="32 lowercase hex"):
        ConfigureAccount(1, digest.upper(), 0, 0, "gw")
    with pytest.raises(MessageError, match="one digit"):
        ConfigureAccount(1, digest, 0, 0, "gw", plug_version=10)


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("", 2, b"\n2" + b"\n" * 49),
        ("G3-lab", 3, b"G3-lab\n3" + b"\n" * 43),
        ("a" * 49, 4, b"a" * 49 + b"\n4"),
        ("b" * 50, 2, b"b" * 49 + b"\n2"),
        ("c" * 80, 3, b"c" * 49 + b"\n3"),
    ],
)
def test_plug_name_field_follows_the_vendor_padding_rules(
    name: str, version: int, expected: bytes
) -> None:
    field = encode_plug_name(name, version)
    assert field == expected
    assert len(field) == 51
    assert decode_plug_name(field) == (name[:49], version)


def test_a_cut_multibyte_character_is_dropped_from_a_long_name() -> None:
    field = encode_plug_name("é" * 30, 2)  # 60 bytes: byte 49 is half an "é"
    assert decode_plug_name(field) == ("é" * 24, 2)


def test_malformed_name_fields_are_message_errors() -> None:
    with pytest.raises(MessageError, match="51 bytes"):
        decode_plug_name(b"gw\n2")
    with pytest.raises(MessageError, match="version digit"):
        decode_plug_name(b"x" * 51)
    with pytest.raises(MessageError, match="UTF-8"):
        decode_plug_name(b"\xff" * 49 + b"\n2")
    raw = ConfigureAccount(1, "0" * 32, 0, 0, "gw").encode()
    with pytest.raises(MessageError, match="name at offset 44"):
        decode_gateway_request(0x04, raw[:44] + b"x" * 51)


def test_config_ip_sends_five_addresses() -> None:
    message = ConfigIp(IpMode.STATIC, "192.168.1.10", "255.255.255.0", "192.168.1.1", "8.8.8.8")
    assert message.encode().hex() == "00" + "c0a8010a" + "ffffff00" + "c0a80101" + "08080808" + (
        "00000000"
    )
    assert decode_gateway_request(0x06, message.encode()) == message
    assert ConfigIp(IpMode.DHCP).encode() == b"\x01" + bytes(20)
    with pytest.raises(MessageError, match="dotted IPv4"):
        ConfigIp(IpMode.STATIC, "192.168.1.256")


def test_set_apn_is_plain_utf8() -> None:
    assert SetApn("internet.t-mobile").encode() == b"internet.t-mobile"
    assert decode_gateway_request(0x07, b"apn") == SetApn("apn")


# --- replies ------------------------------------------------------------------------------------


def test_gateway_reply_starts_with_the_status_byte() -> None:
    ok = parse_gateway_reply(b"\x00")
    assert (ok.status, ok.ok, ok.is_processing) == (GatewayStatus.SUCCESS, True, False)
    processing = parse_gateway_reply(b"\x02")
    assert (processing.ok, processing.is_processing) == (False, True)
    assert parse_gateway_reply(b"\x0c\x01").status == 12
    with pytest.raises(MessageError, match="status"):
        parse_gateway_reply(b"")


def test_ssid_scan_entries_and_terminator() -> None:
    first = SsidEntry("MyWiFi", -60)
    assert first.encode() == b"\x00\x06MyWiFi\xc4"
    chunk = parse_ssid_scan(first.encode() + SsidEntry("Café", -91).encode())
    assert chunk == SsidScanReply((first, SsidEntry("Café", -91)), finished=False)
    assert parse_ssid_scan(b"\x05") == SsidScanReply(finished=True)
    assert SsidScanReply((first,), True).encode() == first.encode() + b"\x05"
    with pytest.raises(MessageError, match="unexpected trailing"):
        parse_ssid_scan(b"\x05\x00")


def test_a_failed_scan_is_a_plain_gateway_reply() -> None:
    assert decode_gateway_reply(0x01, b"\x01") == GatewayReply(GatewayStatus.FAILED)
    assert decode_gateway_reply(0x01, first_entry := SsidEntry("a", 1).encode()) == SsidScanReply(
        (SsidEntry.decode(first_entry),)
    )
    with pytest.raises(MessageError, match="status"):
        parse_ssid_scan(b"\x01")


def test_other_commands_answer_with_the_status_envelope() -> None:
    assert decode_gateway_reply(0x04, b"\x00") == GatewayReply(GatewayStatus.SUCCESS)
    assert decode_gateway_reply(0x02, b"\x03") == GatewayReply(GatewayStatus.BAD_WIFI_NAME)


# --- registry -----------------------------------------------------------------------------------


def test_every_gateway_command_has_messages() -> None:
    assert set(GATEWAY_MESSAGES) == set(GatewayCommand)
    for command, messages in GATEWAY_MESSAGES.items():
        assert command == messages.request.COMMAND


def test_unknown_gateway_commands_are_message_errors() -> None:
    for command in (0x00, 0x08, 0x54, 0x300):
        with pytest.raises(MessageError, match="not a gateway command"):
            decode_gateway_request(command, b"")
        with pytest.raises(MessageError, match="not a gateway command"):
            decode_gateway_reply(command, b"\x00")


def test_model_digits_are_the_gateway_types() -> None:
    assert [int(m) for m in GatewayModel] == [2, 3, 4]
    message = ConfigureAccount(1, "0" * 32, 0, 0, "gw", GatewayModel.G4)
    decoded = decode_gateway_request(0x04, message.encode())
    assert isinstance(decoded, ConfigureAccount)
    assert decoded.plug_version is GatewayModel.G4


# --- properties ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", GATEWAY_CLASSES, ids=_name)
def test_layout_declares_exactly_the_dataclass_fields(cls: type[fields.WireStruct]) -> None:
    assert fields.layout_fields(cls) == [f.name for f in dataclasses.fields(cast(Any, cls))]


@pytest.mark.parametrize("cls", GATEWAY_CLASSES, ids=_name)
@PER_CLASS
@given(data=st.data())
def test_every_gateway_class_round_trips(cls: type[fields.WireStruct], data: st.DataObject) -> None:
    message = data.draw(struct_strategy(cls))
    assert cls.decode(message.encode()) == message


@pytest.mark.parametrize("command", sorted(GATEWAY_MESSAGES), ids=hex)
@PER_CLASS
@given(data=st.data())
def test_gateway_registry_decodes_what_each_role_builds(command: int, data: st.DataObject) -> None:
    messages = GATEWAY_MESSAGES[GatewayCommand(command)]
    request = data.draw(struct_strategy(messages.request))
    assert decode_gateway_request(command, request.encode()) == request
    reply = data.draw(st.one_of([struct_strategy(c) for c in messages.replies]))
    decoded = decode_gateway_reply(command, reply.encode())
    assert decoded.encode() == reply.encode()


@pytest.mark.parametrize("cls", GATEWAY_CLASSES, ids=_name)
@PER_CLASS
@given(raw=st.binary(max_size=120))
def test_arbitrary_bytes_decode_or_raise_message_error(
    cls: type[fields.WireStruct], raw: bytes
) -> None:
    decode_or_message_error(cls.decode, raw)


@pytest.mark.fuzz
@given(command=st.sampled_from(sorted(GATEWAY_MESSAGES)) | st.integers(0, 255), raw=st.binary())
def test_fuzz_gateway_decoders_only_raise_message_error(command: int, raw: bytes) -> None:
    decode_or_message_error(lambda b: decode_gateway_request(command, b), raw)
    decode_or_message_error(lambda b: decode_gateway_reply(command, b), raw)
    decode_or_message_error(parse_ssid_scan, raw)
