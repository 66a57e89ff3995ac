"""Lock error bytes, gateway status bytes and link conditions map to codes valid in each plugin."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.codes import (
    Code,
    PluginVersion,
    PluginVersionError,
    all_codes,
    lookup,
    table_versions,
)
from ttlock_hil.protocol.errormap import (
    DEFAULT_PLUGIN_VERSION,
    GATEWAY_STATUS_FALLBACK,
    GATEWAY_STATUS_TABLE,
    LINK_CODE_TABLE,
    LOCK_ERROR_FALLBACK,
    LOCK_ERROR_TABLE,
    InvalidStatusByte,
    LinkCondition,
    gateway_status_code,
    is_gateway_processing,
    is_processing,
    link_code,
    link_mapping,
    lock_error_code,
    lock_error_row,
)
from ttlock_hil.protocol.errors import UnknownCode


def _probe_versions() -> list[PluginVersion]:
    """Every version the seed names, its neighbours, and versions before and after them all."""
    probes = {PluginVersion(0, 0, 0), PluginVersion(1, 0, 0), PluginVersion(99, 99, 99)}
    for v in table_versions():
        probes.add(v)
        probes.add(PluginVersion(v.major, v.minor, v.patch + 1))
        if v.patch:
            probes.add(PluginVersion(v.major, v.minor, v.patch - 1))
    return sorted(probes)


PROBES = _probe_versions()
_parts = st.integers(min_value=0, max_value=50)
_versions = st.builds(PluginVersion, _parts, _parts, _parts)


def test_the_default_plugin_version_is_3_1_0_and_is_what_the_functions_assume() -> None:
    assert DEFAULT_PLUGIN_VERSION == "3.1.0"
    assert link_code(LinkCondition.RESPONSE_TIMEOUT) == link_code(
        LinkCondition.RESPONSE_TIMEOUT, "3.1.0"
    )
    assert lock_error_code(0x25) == lock_error_code(0x25, "3.1.0")


# -------------------------------------------------------------------------------- lock errors


@pytest.mark.parametrize(
    ("byte", "code"),
    [
        (0x00, Code.OK),
        (0x01, Code.CRC_ERROR),
        (0x0A, Code.LOW_BATTERY),
        (0x17, Code.NO_DEFINED_ERROR),
        (0x1E, Code.DOUBLE_LOCKED),
        (0x1F, Code.RECORD_NOT_EXIST),
        (0x20, Code.INVALID_PARAM),
        (0x24, Code.COMMAND_RECEIVED),
        (0x25, Code.WIFI_BAD_SSID),
        (0x26, Code.WIFI_BAD_PASSWORD),
    ],
)
def test_a_lock_error_byte_is_reported_as_its_decimal_value(byte: int, code: int) -> None:
    assert lock_error_code(byte, "3.1.0").code == code == byte


def test_every_registry_code_0_to_38_is_a_lock_byte_mapped_to_itself() -> None:
    device_codes = [e.code for e in all_codes() if 0 <= e.code <= 0x26]
    mapped = [row for row in LOCK_ERROR_TABLE if row.code == row.byte]
    assert [row.byte for row in mapped] == device_codes
    assert len(mapped) == 32
    for row in mapped:
        assert row.basis.startswith("docs/protocol.md §5.1"), row
    unmapped = [row.byte for row in LOCK_ERROR_TABLE if row.code != row.byte]
    assert unmapped == [0x21, 0x27]  # §5.1 bytes the WX table has no code for


@pytest.mark.parametrize("byte", [0x04, 0x09, 0x0C, 0x19, 0x21, 0x22, 0x23, 0x27, 0x28, 0x7F, 0xFF])
def test_a_lock_byte_without_a_code_falls_back_to_operation_failed(byte: int) -> None:
    assert LOCK_ERROR_FALLBACK == Code.OPERATION_FAILED
    assert lock_error_code(byte, "3.1.0").code == Code.OPERATION_FAILED


def test_vendor_bytes_without_a_wx_code_say_it_is_our_decision() -> None:
    for byte in (0x21, 0x27):
        row = lock_error_row(byte)
        assert row is not None
        assert row.basis.startswith("our decision")
    assert lock_error_row(0x04) is None
    row = lock_error_row(0x1E)
    assert row is not None
    assert row.vendor_name == "LOCK_REVERSE"


def test_wifi_lock_bytes_fall_back_before_the_plugin_knew_them() -> None:
    assert lock_error_code(0x25, "2.7.5").code == Code.OPERATION_FAILED
    assert lock_error_code(0x25, "2.7.6").code == Code.WIFI_BAD_SSID


def test_only_command_received_means_processing() -> None:
    assert [b for b in range(256) if is_processing(b)] == [0x24]


@pytest.mark.parametrize("bad", [-1, 256, True, "1e", 1.0])
def test_a_lock_error_byte_must_be_one_byte(bad: object) -> None:
    with pytest.raises(InvalidStatusByte, match="lock error byte must be one byte") as info:
        lock_error_code(bad)  # type: ignore[arg-type]
    assert info.value.field == "lock error byte"
    with pytest.raises(InvalidStatusByte):
        is_processing(bad)  # type: ignore[arg-type]


def test_every_lock_byte_maps_to_a_code_valid_in_every_probed_version() -> None:
    for version in PROBES:
        for byte in range(256):
            assert lock_error_code(byte, version).is_valid_in(version), (byte, version)


# ------------------------------------------------------------------------------ gateway status


def test_gateway_status_zero_is_success() -> None:
    assert gateway_status_code(0).code == Code.OK
    assert gateway_status_code(0, "2.0.2").code == Code.OK


@pytest.mark.parametrize("status", range(1, 10))
def test_gateway_failure_status_is_0x7f_plus_the_byte(status: int) -> None:
    assert gateway_status_code(status, "3.1.0").code == 0x7F + status
    assert gateway_status_code(status, "2.6.0").category.value == "gateway"


def test_every_gateway_offset_row_says_the_offset_is_inferred() -> None:
    for row in GATEWAY_STATUS_TABLE:
        if row.status:
            assert row.code == 0x7F + row.status
            assert "INFERRED" in row.basis
    assert [row.status for row in GATEWAY_STATUS_TABLE] == list(range(10))


@pytest.mark.parametrize("status", [10, 0x7F, 0xFF])
def test_gateway_status_beyond_the_table_is_gateway_failed(status: int) -> None:
    assert GATEWAY_STATUS_FALLBACK == Code.GATEWAY_FAILED
    assert gateway_status_code(status).code == Code.GATEWAY_FAILED


def test_gateway_codes_do_not_exist_before_plugin_2_6_0() -> None:
    with pytest.raises(UnknownCode, match=r"from plugin 2\.6\.0"):
        gateway_status_code(3, "2.4.0")


def test_gateway_status_two_means_processing() -> None:
    assert [s for s in range(256) if is_gateway_processing(s)] == [2]
    with pytest.raises(InvalidStatusByte, match="gateway status byte"):
        gateway_status_code(-1)


def test_every_gateway_status_maps_to_a_code_valid_in_every_version_that_has_them() -> None:
    for version in PROBES:
        for status in range(256):
            try:
                entry = gateway_status_code(status, version)
            except UnknownCode:
                assert version < PluginVersion(2, 6, 0)
                continue
            assert entry.is_valid_in(version), (status, version)


# ---------------------------------------------------------------------------- link conditions


def test_every_link_condition_has_rows_whose_codes_are_registered_and_cited() -> None:
    for condition in LinkCondition:
        rows = [row for row in LINK_CODE_TABLE if row.condition is condition]
        assert rows, condition
        for row in rows:
            lookup(row.code)  # raises if the code is not registered
            assert "docs/protocol.md §5" in row.basis or row.basis.startswith(
                ("our decision", "WX table")
            ), row


@pytest.mark.parametrize("condition", list(LinkCondition))
def test_every_link_condition_maps_to_a_valid_code_in_every_probed_version(
    condition: LinkCondition,
) -> None:
    for version in PROBES:
        assert link_code(condition, version).is_valid_in(version), (condition, version)


@given(st.sampled_from(list(LinkCondition)), _versions)
def test_the_first_row_valid_in_the_version_wins(
    condition: LinkCondition, version: PluginVersion
) -> None:
    chosen = link_mapping(condition, version)
    rows = [row for row in LINK_CODE_TABLE if row.condition is condition]
    earlier = rows[: rows.index(chosen)]
    assert all(not lookup(row.code).is_valid_in(version) for row in earlier)
    assert lookup(chosen.code).is_valid_in(version)


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("2.4.0", Code.CONNECT_TIMEOUT),  # before both: vendor LOCK_CONNECT_FAIL → 10002
        ("2.6.0", Code.RESPONSE_TIMEOUT_LEGACY),
        ("2.6.9", Code.RESPONSE_TIMEOUT_LEGACY),
        ("2.7.0", Code.RESPONSE_TIMEOUT),  # both exist: the newer wins
        ("3.0.4", Code.RESPONSE_TIMEOUT),
        ("3.1.0", Code.RESPONSE_TIMEOUT),
    ],
)
def test_response_timeout_is_minus_3_or_10017_by_plugin_version(version: str, code: int) -> None:
    assert link_code(LinkCondition.RESPONSE_TIMEOUT, version).code == code


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        (LinkCondition.CONNECT_TIMEOUT, Code.CONNECT_TIMEOUT),
        (LinkCondition.DISCONNECTED, Code.DISCONNECTED),
        (LinkCondition.WRITE_FAILED, Code.WRITE_FAILED),
        (LinkCondition.NOTIFY_ENABLE_FAILED, Code.CHARACTERISTIC_ENABLE_FAILED),
        (LinkCondition.SERVICE_MISSING, Code.SERVICE_MISSING),
        (LinkCondition.CHARACTERISTIC_MISSING, Code.CHARACTERISTIC_MISSING),
        (LinkCondition.REPLY_CRC_ERROR, Code.CRC_ERROR),
        (LinkCondition.REPLY_UNDECRYPTABLE, Code.LOCK_MAY_BE_RESET),
        (LinkCondition.REPLY_UNPARSEABLE, Code.PARSE_FAILED),
        (LinkCondition.DEVICE_NOT_FOUND, Code.DEVICE_NOT_FOUND),
        (LinkCondition.BUSY, Code.BLUETOOTH_BUSY),
        (LinkCondition.INVALID_PARAMETERS, Code.INVALID_PARAMETERS),
        (LinkCondition.UNSUPPORTED, Code.UNSUPPORTED),
    ],
)
def test_link_conditions_in_plugin_3_1_0(condition: LinkCondition, code: int) -> None:
    assert link_code(condition, "3.1.0").code == code


@pytest.mark.parametrize(
    ("condition", "version", "code"),
    [
        (LinkCondition.NOTIFY_ENABLE_FAILED, "3.0.4", Code.NOTIFY_ENABLE_FAILED),
        (LinkCondition.SERVICE_MISSING, "3.0.4", Code.CHARACTERISTIC_MISSING),
        (LinkCondition.SERVICE_MISSING, "2.6.0", Code.NOTIFY_ENABLE_FAILED),
        (LinkCondition.CHARACTERISTIC_MISSING, "2.6.0", Code.NOTIFY_ENABLE_FAILED),
        (LinkCondition.BUSY, "2.1.1", Code.SEND_FAILED),
        (LinkCondition.INVALID_PARAMETERS, "2.0.2", Code.INVALID_PARAM),
        (LinkCondition.UNSUPPORTED, "2.0.2", Code.DEVICE_UNSUPPORTED_LEGACY),
    ],
)
def test_older_plugins_get_the_documented_fallbacks(
    condition: LinkCondition, version: str, code: int
) -> None:
    row = link_mapping(condition, version)
    assert row.code == code
    assert row.basis.startswith(("our decision", "WX table")), row


def test_a_link_condition_may_be_named_by_its_value() -> None:
    assert link_code("response_timeout", "3.1.0").code == Code.RESPONSE_TIMEOUT


def test_an_unknown_link_condition_names_the_valid_ones() -> None:
    with pytest.raises(UnknownCode, match="valid conditions: connect_timeout, disconnected"):
        link_code("radio_silence")


def test_a_malformed_plugin_version_is_rejected_by_every_mapping() -> None:
    with pytest.raises(PluginVersionError):
        link_code(LinkCondition.BUSY, "3.x")
    with pytest.raises(PluginVersionError):
        lock_error_code(0x1E, "3")
    with pytest.raises(PluginVersionError):
        gateway_status_code(1, "")
