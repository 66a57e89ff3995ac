"""harness.errors: one root, typed fields, builtin parents, codes from the mapping tables."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ttlock_hil.harness import errors
from ttlock_hil.harness.errors import (
    LINK_ERRORS,
    NEVER_RETRIED,
    TRANSIENT_ERRORS,
    Busy,
    CharacteristicMissing,
    ConfigError,
    ConnectTimeout,
    DeviceError,
    DeviceNotFound,
    Disconnected,
    HarnessError,
    InvalidParameters,
    NotifyFailed,
    ReplyCrcError,
    ReplyUndecryptable,
    ReplyUnparseable,
    ResponseTimeout,
    ServiceMissing,
    TTLockError,
    Unsupported,
    WriteFailed,
    link_error,
)
from ttlock_hil.protocol.codes import Code, lookup, table_versions
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.device import DeviceKind
from ttlock_hil.protocol.errormap import (
    GATEWAY_STATUS_FALLBACK,
    LOCK_ERROR_FALLBACK,
    LinkCondition,
    gateway_status_code,
    link_code,
    lock_error_code,
)
from ttlock_hil.protocol.errors import UnknownCode

LOCK, GATEWAY = DeviceKind.LOCK, DeviceKind.GATEWAY

ALL_TTLOCK_ERRORS = (DeviceError, *LINK_ERRORS.values())


# --- ConfigError ------------------------------------------------------------------


def test_config_error_renders_file_line_field_message_and_fix_on_one_line() -> None:
    err = ConfigError(
        "inline secrets are not allowed",
        file="hil-config.yaml",
        line=12,
        field="devices[1].credentials",
        fix="use env:VARNAME",
    )
    assert str(err) == (
        "hil-config.yaml:12: devices[1].credentials: inline secrets are not allowed"
        " — fix: use env:VARNAME"
    )
    assert "\n" not in str(err)
    assert (err.file, err.line, err.field, err.fix) == (
        Path("hil-config.yaml"),
        12,
        "devices[1].credentials",
        "use env:VARNAME",
    )


def test_config_error_leaves_out_the_parts_it_does_not_know() -> None:
    assert str(ConfigError("bad", field="aes_key")) == "aes_key: bad"
    assert str(ConfigError("bad", file="c.json")) == "c.json: bad"
    assert str(ConfigError("bad", line=3, fix="do it")) == "line 3: bad — fix: do it"


def test_located_fills_only_the_missing_location_parts() -> None:
    err = ConfigError("not set", field="x", fix="export it")
    located = err.located(file="hil-config.yaml", line=7, field="devices[0].credentials")
    assert str(located) == "hil-config.yaml:7: x: not set — fix: export it"
    kept = ConfigError("bad", file="a.json", line=2).located(file="b.yaml", line=9)
    assert (kept.file, kept.line) == (Path("a.json"), 2)


def test_every_harness_error_has_the_one_root() -> None:
    for cls in (ConfigError, TTLockError, *ALL_TTLOCK_ERRORS):
        assert issubclass(cls, HarnessError)


# --- builtin parents and the condition table ----------------------------------------


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (ConnectTimeout, TimeoutError),
        (ResponseTimeout, TimeoutError),
        (Disconnected, ConnectionError),
        (WriteFailed, ConnectionError),
        (NotifyFailed, ConnectionError),
        (ServiceMissing, LookupError),
        (CharacteristicMissing, LookupError),
        (DeviceNotFound, LookupError),
        (InvalidParameters, ValueError),
    ],
)
def test_link_errors_are_caught_by_the_builtin_they_resemble(
    cls: type[TTLockError], builtin: type[Exception]
) -> None:
    err = cls.mapped("3.1.0", device="front-door")
    with pytest.raises(builtin):
        raise err
    assert isinstance(err, TTLockError)


def test_only_timeouts_are_timeout_errors() -> None:
    timeouts = {cls for cls in ALL_TTLOCK_ERRORS if issubclass(cls, TimeoutError)}
    assert timeouts == {ConnectTimeout, ResponseTimeout}


def test_every_link_condition_has_an_exception_class_that_names_it_back() -> None:
    assert set(LINK_ERRORS) == set(LinkCondition)
    for condition, cls in LINK_ERRORS.items():
        assert cls.condition is condition


@pytest.mark.parametrize("version", [str(v) for v in table_versions()])
@pytest.mark.parametrize("condition", list(LinkCondition))
def test_link_error_carries_the_code_the_mapping_table_gives_for_the_version(
    condition: LinkCondition, version: str
) -> None:
    err = link_error(condition, version, "boom", device="front-door", command=LockCommand.UNLOCK)
    assert type(err) is LINK_ERRORS[condition]
    assert err.code == link_code(condition, version)
    assert err.code.is_valid_in(version)


def test_response_timeout_code_follows_the_plugin_generation() -> None:
    # docs/protocol.md §5.3 "no reply": -3 in the old plugins, 10017 from 2.7.0 on.
    assert ResponseTimeout.mapped("2.6.0").code.code == -3
    assert ResponseTimeout.mapped("3.1.0").code.code == Code.RESPONSE_TIMEOUT


def test_link_error_accepts_the_condition_value_string() -> None:
    assert type(link_error("disconnected", "3.1.0")) is Disconnected


def test_device_error_has_no_link_condition_to_map() -> None:
    with pytest.raises(TypeError, match="code="):
        DeviceError.mapped("3.1.0")


# --- fields and rendering ---------------------------------------------------------------


def test_str_shows_code_text_command_device_advice_and_trace_path(tmp_path: Path) -> None:
    trace = tmp_path / "front-door.jsonl"
    err = ResponseTimeout.mapped(
        "3.1.0",
        "no reply after 6.0 s",
        command=LockCommand.UNLOCK,
        device="front-door",
        trace_path=trace,
    )
    text = str(err)
    code = lookup(Code.RESPONSE_TIMEOUT)
    for part in (
        str(code.code),
        code.en,
        "UNLOCK",
        "0x47",
        "front-door",
        err.advice,
        str(trace),
        "no reply after 6.0 s",
    ):
        assert part in text


def test_fields_are_kept_as_given() -> None:
    raw = bytes.fromhex("7f5a0503020001000154aa00ff")
    err = DeviceError(
        "refused",
        code=lookup(Code.LOW_BATTERY),
        command=0x47,
        raw_reply=bytearray(raw),
        trace_path="reports/t.jsonl",
        device="back-door",
        error_byte=0x0A,
    )
    assert err.code.code == Code.LOW_BATTERY
    assert err.command == 0x47
    assert err.command_name == "UNLOCK"
    assert err.raw_reply == raw
    assert isinstance(err.raw_reply, bytes)
    assert err.trace_path == Path("reports/t.jsonl")
    assert err.device == "back-door"
    assert err.error_byte == 0x0A


def test_trace_path_can_be_attached_after_the_error_was_built(tmp_path: Path) -> None:
    err = Disconnected.mapped("3.1.0", device="front-door")
    assert "trace:" not in str(err)
    err.trace_path = tmp_path / "t.jsonl"
    assert f"trace: {tmp_path / 't.jsonl'}" in str(err)


def test_gateway_commands_are_named_from_their_own_table() -> None:
    err = ResponseTimeout.mapped("3.1.0", command=GatewayCommand.ECHO, device="gw-g2")
    assert err.command_name == "ECHO"
    assert "ECHO (0x45)" in str(err)


def test_an_error_without_a_command_says_so_plainly() -> None:
    err = ConnectTimeout.mapped("3.1.0", device="front-door")
    assert err.command_name is None
    assert str(err).startswith("front-door: failed with code 10002")


def test_default_advice_tells_the_engineer_what_to_do() -> None:
    assert ConnectTimeout.default_advice == (
        "lock out of range or asleep: touch the keypad to wake it, "
        "check the address in hil-config.yaml"
    )
    assert ReplyUndecryptable.default_advice == (
        "the lock was probably reset or these are another lock's credentials: "
        "re-initialise it or fix credentials"
    )
    for cls in ALL_TTLOCK_ERRORS:
        assert cls.default_advice.strip(), cls.__name__


def test_advice_can_be_overridden_per_error() -> None:
    err = Busy.mapped("3.1.0", advice="wait for the init flow to finish")
    assert err.advice == "wait for the init flow to finish"


# --- device errors --------------------------------------------------------------------


def test_lock_error_byte_maps_through_the_lock_table() -> None:
    err = DeviceError.from_answer(LOCK, 0x1E, "3.1.0", command=LockCommand.UNLOCK, device="fd")
    assert err.code == lock_error_code(0x1E, "3.1.0")
    assert err.code.code == Code.DOUBLE_LOCKED  # §5.1: 0x1E is reported as 30
    assert err.error_byte == 0x1E
    assert "double-locked" in err.advice


def test_gateway_status_maps_through_the_gateway_table() -> None:
    err = DeviceError.from_answer(GATEWAY, 3, "3.1.0", command=GatewayCommand.CONFIGURE_WIFI)
    assert err.code == gateway_status_code(3, "3.1.0")
    assert err.error_byte == 3
    assert err.command_name == "CONFIGURE_WIFI"


def test_a_failed_lock_reply_without_an_error_byte_falls_back_to_19() -> None:
    err = DeviceError.from_answer(LOCK, None, "3.1.0", command=LockCommand.UNLOCK)
    assert err.code.code == LOCK_ERROR_FALLBACK == 19
    assert err.error_byte is None
    assert "without an error byte" in err.message


def test_a_gateway_status_past_the_table_falls_back_to_128() -> None:
    err = DeviceError.from_answer(GATEWAY, 12, "2.6.0", command=GatewayCommand.CONFIGURE_WIFI)
    assert err.code.code == GATEWAY_STATUS_FALLBACK == 128
    assert err.error_byte == 12
    assert err.message == "gateway status 12"


def test_a_gateway_status_in_a_plugin_without_gateway_codes_is_not_given_an_invented_code() -> None:
    with pytest.raises(UnknownCode, match=r"2\.5\.0 has no gateway codes"):
        DeviceError.from_answer(GATEWAY, 3, "2.5.0", command=GatewayCommand.CONFIGURE_WIFI)


def test_device_error_without_specific_advice_gets_the_class_default() -> None:
    err = DeviceError.from_answer(LOCK, 0x15, "3.1.0")
    assert err.advice == DeviceError.default_advice


# --- retry vocabulary ----------------------------------------------------------------


def test_only_connection_timeouts_are_transient_never_a_response_timeout() -> None:
    timeouts = {name for name, cls in TRANSIENT_ERRORS.items() if issubclass(cls, TimeoutError)}
    assert timeouts == {"ConnectTimeout"}  # establishing a link, never a command
    assert "ResponseTimeout" in NEVER_RETRIED
    assert "DeviceNotFound" in TRANSIENT_ERRORS


def test_every_error_class_is_either_retryable_or_says_why_not() -> None:
    names = {cls.__name__ for cls in ALL_TTLOCK_ERRORS}
    assert names == set(TRANSIENT_ERRORS) | set(NEVER_RETRIED)
    assert not set(TRANSIENT_ERRORS) & set(NEVER_RETRIED)
    for name, cls in TRANSIENT_ERRORS.items():
        assert getattr(errors, name) is cls


# --- pickling --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "err",
    [
        ConfigError("bad", file="hil-config.yaml", line=3, field="lab", fix="fix it"),
        ConnectTimeout.mapped("3.1.0", "late", device="fd", command=LockCommand.UNLOCK),
        DeviceError.from_answer(LOCK, 0x0A, "3.1.0", raw_reply=b"\x01", trace_path="t.jsonl"),
        ReplyCrcError.mapped("2.6.0", device="fd"),
        ReplyUnparseable.mapped("3.1.0"),
        Unsupported.mapped("3.1.0"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling_with_their_fields(err: HarnessError) -> None:
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert copy.__dict__ == err.__dict__
