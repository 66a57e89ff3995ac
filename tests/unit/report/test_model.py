"""The night data model: validation, JSON round-trip, derived views."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.report import DEVICES, T0, night, result
from ttlock_hil.harness.config import parse_config
from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.model import (
    FORMAT_VERSION,
    TIMEOUT,
    DeviceInfo,
    Night,
    NightMeta,
    Outcome,
    TestResult,
    append_result,
    codes_asserted,
    latency_stats,
    new_night_id,
    percentile,
    read_results,
    shorten,
)
from ttlock_hil.protocol.codes import PluginVersion

# ------------------------------------------------------------------------------ strategies

_text = st.text(min_size=1, max_size=20)
_code = st.one_of(st.none(), st.just(TIMEOUT), st.integers(-5, 20000))
_number = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def results(draw: st.DrawFn) -> TestResult:
    return TestResult(
        test_id=draw(_text),
        name=draw(_text),
        device=draw(st.sampled_from([d.name for d in DEVICES])),
        model=draw(_text),
        outcome=draw(st.sampled_from(list(Outcome))),
        duration_s=draw(_number),
        expected=draw(_code),
        observed=draw(_code),
        command=draw(st.none() | _text),
        condition=draw(st.none() | _text),
        latency_ms=draw(st.none() | _number),
        attempts=draw(st.integers(1, 5)),
        message=draw(st.none() | st.text(max_size=80)),
        trace=draw(st.none() | st.from_regex(r"traces/[a-z0-9_-]{1,12}\.jsonl", fullmatch=True)),
        firmware=draw(st.none() | _text),
        battery=draw(st.none() | st.integers(0, 100)),
    )


@st.composite
def nights(draw: st.DrawFn) -> Night:
    items = draw(st.lists(results(), max_size=8, unique_by=lambda r: r.key))
    started = draw(
        st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
        )
    )
    complete = draw(st.booleans())
    return Night(
        night_id=new_night_id(started),
        started=started,
        finished=started + timedelta(seconds=draw(st.integers(0, 86400))) if complete else None,
        complete=complete,
        bench=draw(_text),
        harness_version="0.1.0",
        plugin_version=draw(st.sampled_from(["3.1.0", "2.6.0"])),
        git_sha=draw(st.none() | st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True)),
        devices=DEVICES,
        results=items,
        seed_codes_asserted=draw(st.lists(st.integers(-5, 20000), max_size=10)),
    )


# ------------------------------------------------------------------------------ round trip


@given(results())
def test_a_result_survives_a_json_round_trip(item: TestResult) -> None:
    assert TestResult.from_dict(json.loads(json.dumps(item.to_dict()))) == item


@settings(max_examples=60)  # a night is big to draw; the result test covers the fields
@given(nights())
def test_a_night_survives_a_json_round_trip(original: Night) -> None:
    again = Night.from_json(original.to_json())
    assert again == original
    assert again.results == original.results
    assert again.started.tzinfo is not None


def test_the_night_document_names_its_format_and_version() -> None:
    document = night(0, [result()]).to_dict()
    assert document["format"] == "ttlock-hil/night"
    assert document["format_version"] == FORMAT_VERSION
    assert document["started"] == "2026-11-30T02:00:00+00:00"
    assert document["results"][0]["outcome"] == "passed"


def test_a_night_document_from_a_newer_ttlock_hil_is_refused() -> None:
    document = night(0, [result()]).to_dict() | {"format_version": FORMAT_VERSION + 1}
    with pytest.raises(ReportError, match="newer") as caught:
        Night.from_dict(document)
    assert caught.value.fix == "upgrade ttlock-hil"


def test_an_unknown_key_in_a_result_is_named() -> None:
    data = result().to_dict() | {"colour": "red"}
    with pytest.raises(ReportError, match="unknown key\\(s\\) colour"):
        TestResult.from_dict(data)


def test_a_missing_key_in_a_result_is_named() -> None:
    data = result().to_dict()
    del data["outcome"]
    with pytest.raises(ReportError, match="missing key\\(s\\) outcome"):
        TestResult.from_dict(data)


def test_malformed_json_is_a_report_error() -> None:
    with pytest.raises(ReportError, match="malformed"):
        Night.from_json("{not json")


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("outcome", "exploded", "outcome 'exploded' is not one of passed, failed"),
        ("expected", "slow", "expected must be an error code"),
        ("observed", True, "observed must be an error code"),
        ("duration_s", -1.0, "duration_s must be a finite number >= 0"),
        ("latency_ms", float("nan"), "latency_ms must be a finite number"),
        ("attempts", 0, "attempts must be >= 1"),
        ("battery", 101, "battery must be a percentage"),
        ("device", "", "device must be a non-empty string"),
        ("trace", "/etc/passwd", "trace must be a path relative"),
        ("trace", "javascript:alert(1)", "trace must be a path relative"),
        ("trace", "https://evil.example/x", "trace must be a path relative"),
    ],
)
def test_a_bad_result_field_is_a_report_error_naming_it(
    field: str, value: object, needle: str
) -> None:
    with pytest.raises(ReportError) as caught:
        result(**{field: value})
    assert needle in str(caught.value)
    assert "test_unlock" in str(caught.value)
    assert caught.value.fix


def test_outcome_strings_become_outcome_members() -> None:
    assert result(outcome="xfailed").outcome is Outcome.XFAILED


def test_naive_times_are_refused_because_nights_compare_across_machines() -> None:
    with pytest.raises(ReportError, match="timezone-aware"):
        night(0, [], started=datetime(2026, 11, 30, 2, 0))


def test_a_night_cannot_finish_before_it_started() -> None:
    with pytest.raises(ReportError, match="before started"):
        night(0, [], finished=T0 - timedelta(seconds=1))


def test_a_test_reported_twice_for_one_device_is_refused() -> None:
    with pytest.raises(ReportError, match="reported twice"):
        night(0, [result(), result(outcome="failed")])


def test_the_same_test_on_two_devices_is_two_results() -> None:
    n = night(0, [result(device="front-door"), result(device="back-door")])
    assert set(n.by_key) == {
        ("tests/hil/test_lock.py::test_unlock", "front-door"),
        ("tests/hil/test_lock.py::test_unlock", "back-door"),
    }


def test_a_device_listed_twice_is_refused() -> None:
    with pytest.raises(ReportError, match="listed twice"):
        night(0, [], devices=(DEVICES[0], DEVICES[0]))


def test_night_ids_must_be_file_name_safe() -> None:
    with pytest.raises(ReportError, match="file-name safe"):
        night(0, [], night_id="../etc")


def test_a_device_with_a_battery_outside_0_100_is_refused() -> None:
    with pytest.raises(ReportError, match="device 'x': battery"):
        DeviceInfo("x", "m", "lock", "sim:m", None, -1)


def test_seed_codes_are_kept_sorted_and_unique() -> None:
    assert night(0, [], seed_codes_asserted=[30, 1, 30]).seed_codes_asserted == (1, 30)


# ------------------------------------------------------------------------------ derived views


def test_new_night_id_is_utc_and_file_name_safe() -> None:
    eastern = datetime(2026, 11, 29, 21, 0, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=-5)))
    assert new_night_id(eastern) == "2026-11-29T21-00-00Z"


def test_meta_of_a_new_night_takes_the_current_time_and_installed_version() -> None:
    before = datetime.now(UTC)
    meta = NightMeta.starting(bench="b", plugin_version=PluginVersion.parse("3.1.0"))
    assert before <= meta.started <= datetime.now(UTC)
    assert meta.night_id is None
    assert meta.plugin_version == "3.1.0"
    assert meta.harness_version == metadata.version("ttlock-hil")


def test_device_info_from_the_lab_config() -> None:
    config = parse_config(
        "lab: bench-01\ndevices:\n  - {name: gw, kind: gateway, model: g2, address: 'sim:g2'}\n"
    )
    info = DeviceInfo.from_config(config.device("gw"), firmware="1.2.0", battery=None)
    assert (info.name, info.model, info.kind, info.address, info.firmware, info.battery) == (
        "gw",
        "g2",
        "gateway",
        "sim:g2",
        "1.2.0",
        None,
    )
    assert info.settings["address"] == "sim:g2"
    assert "name" not in info.settings
    assert DeviceInfo.from_dict(info.to_dict()) == info


def test_a_device_config_change_is_named_field_by_field() -> None:
    def device(address: str, features: str) -> DeviceInfo:
        config = parse_config(
            "lab: b\ndevices:\n  - {name: fd, kind: lock, model: v3-keypad, "
            f"address: '{address}', features: [{features}], credentials: 'env:FD'}}\n"
        )
        return DeviceInfo.from_config(config.device("fd"))

    before = device("sim:v3-keypad", "passcode")
    after = device("sim:v3-keypad_unlock-refusal-2", "passcode, keypad")
    assert after.config_changes(before) == [
        "address: sim:v3-keypad → sim:v3-keypad_unlock-refusal-2",
        "features: [passcode] → [passcode, keypad]",
    ]
    assert before.config_changes(before) == []
    unknown = DeviceInfo("fd", "v3-keypad", "lock", "sim:v3-keypad")
    assert after.config_changes(unknown) == []  # a night recorded before configs were kept
    assert before.settings["credentials"] == "env:FD"  # a reference, never a secret


def test_a_device_config_must_be_a_json_object() -> None:
    with pytest.raises(ReportError, match="config must be a JSON object"):
        DeviceInfo("fd", "m", "lock", "sim:m", config="[1, 2]")


def test_a_filtered_or_interrupted_night_is_partial() -> None:
    assert night(0, [result()]).full
    assert night(0, [result()]).partial_reason is None
    filtered = night(0, [result()], selection="-k unlock")
    assert (filtered.full, filtered.partial_reason) == (False, "filtered: -k unlock")
    cut = night(0, [result()], complete=False, interrupted="SIGTERM")
    assert (cut.full, cut.partial_reason) == (False, "interrupted by SIGTERM")
    crashed = night(0, [result()], complete=False)
    assert crashed.partial_reason == "incomplete: the run did not finish"
    with pytest.raises(ReportError, match="a complete night cannot be interrupted"):
        night(0, [], interrupted="SIGTERM")


def test_the_scope_of_a_night_round_trips_through_json() -> None:
    original = night(0, [result()], complete=False, interrupted="SIGINT", selection="-k a")
    original = dataclasses.replace(original, redacted=False)
    assert Night.from_json(original.to_json()) == original
    assert original.meta.selection == "-k a"
    assert original.meta.redacted is False


def test_a_results_json_of_format_1_reads_as_a_whole_redacted_night() -> None:
    document = night(0, [result()]).to_dict()
    for key in ("selection", "interrupted", "redacted"):
        del document[key]
    document["format_version"] = 1
    for device in document["devices"]:
        del device["config"]
    old = Night.from_dict(document)
    assert (old.selection, old.interrupted, old.redacted, old.full) == (None, None, True, True)


def test_counts_failures_and_pass_rate() -> None:
    n = night(
        0,
        [
            result("a"),
            result("b", outcome="failed"),
            result("c", outcome="error"),
            result("d", outcome="skipped"),
            result("e", outcome="xfailed"),
            result("f"),
        ],
    )
    assert n.counts == {
        Outcome.PASSED: 2,
        Outcome.FAILED: 1,
        Outcome.SKIPPED: 1,
        Outcome.ERROR: 1,
        Outcome.XFAILED: 1,
    }
    assert [r.name for r in n.failures] == ["b", "c"]
    assert n.pass_rate == pytest.approx(2 / 4)
    assert n.duration_s == 180.0


def test_an_unfinished_night_lasts_as_long_as_its_tests() -> None:
    n = night(0, [result("a", duration_s=1.5), result("b", duration_s=2.0)], complete=False)
    assert n.duration_s == 3.5
    assert night(0, [result(outcome="skipped")]).pass_rate is None


def test_a_pass_on_a_retry_is_flaky_and_a_failure_on_every_try_is_not() -> None:
    assert result(attempts=2).flaky
    assert not result(attempts=1).flaky
    assert not result(attempts=3, outcome="failed").flaky


def test_conforms_compares_expected_and_observed() -> None:
    assert result(expected=30, observed=30).conforms is True
    assert result(expected=TIMEOUT, observed=31).conforms is False
    assert result().conforms is None


def test_codes_asserted_are_the_expected_codes_of_tests_that_ran() -> None:
    items = [
        result("a", expected=30),
        result("b", expected=31, outcome="failed"),
        result("c", expected=1, outcome="skipped"),
        result("d", expected=TIMEOUT),
        result("e", expected=30, device="back-door"),
    ]
    assert codes_asserted(items) == (30, 31)


def test_percentile_is_nearest_rank() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 50) == 35.0
    assert percentile(values, 90) == 50.0
    assert percentile(values, 100) == 50.0
    assert percentile([7.0], 50) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_latency_stats_per_command_and_device() -> None:
    items = [
        result(f"t{i}", command="UNLOCK", latency_ms=float(ms))
        for i, ms in enumerate([100, 120, 80, 400, 90, 110, 95, 105, 130, 99])
    ]
    items.append(result("g", device="gw-g2", command="ECHO", latency_ms=12.5))
    items.append(result("n", command="UNLOCK"))  # no latency measured: not counted
    stats = {(s.command, s.device): s for s in latency_stats(items)}
    unlock = stats[("UNLOCK", "front-door")]
    assert (unlock.count, unlock.p50_ms, unlock.p90_ms, unlock.max_ms) == (10, 100.0, 130.0, 400.0)
    assert stats[("ECHO", "gw-g2")].p90_ms == 12.5
    assert list(stats) == [("ECHO", "gw-g2"), ("UNLOCK", "front-door")]


def test_shorten_keeps_short_text_and_says_how_much_was_cut() -> None:
    assert shorten("abc", 5) == "abc"
    assert shorten("abcdefgh", 5) == "abcde… [3 more characters]"


def test_results_written_line_by_line_read_back_even_after_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    written = [result("a"), result("b", outcome="failed", expected=30, observed=31)]
    for item in written:
        append_result(path, item)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"test_id": "tests/hil/test_lock.py::c", "na')  # killed mid-line
    assert read_results(path) == written


def test_a_bad_line_in_the_middle_of_a_results_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_result(path, result("a"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"test_id": "x"}\n')
    append_result(path, result("b"))
    with pytest.raises(ReportError, match=r"results.jsonl:2: result: missing key\(s\) name"):
        read_results(path)
