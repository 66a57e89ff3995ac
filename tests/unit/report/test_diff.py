"""The diff (each test against its own past), flaky findings, conformance, coverage and trend."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.report import DEVICES, night, result
from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.diff import (
    FLIP_WINDOW,
    Conformance,
    conformance,
    coverage,
    diff_against_history,
    diff_nights,
    histories_from,
    trend,
)
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import TIMEOUT, Night, Outcome
from ttlock_hil.harness.report.triage import FailureCategory
from ttlock_hil.protocol.codes import valid_in


def names(changes: tuple) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(c.name, c.device) for c in changes]


# ------------------------------------------------------------------------------ the diff


def test_pass_to_fail_is_a_regression_and_fail_to_pass_a_fix() -> None:
    before = night(0, [result("a"), result("b", outcome="failed"), result("c", outcome="error")])
    after = night(
        1,
        [
            result("a", outcome="failed", message="expected 30, got 31", trace="traces/a.jsonl"),
            result("b"),
            result("c"),
        ],
    )
    diff = diff_nights(after, before)
    assert names(diff.regressions) == [("a", "front-door")]
    regression = diff.regressions[0]
    assert (regression.before, regression.after) == (Outcome.PASSED, Outcome.FAILED)
    assert (regression.message, regression.trace) == ("expected 30, got 31", "traces/a.jsonl")
    assert names(diff.fixes) == [("b", "front-door"), ("c", "front-door")]
    assert diff.new == diff.removed == diff.flaky == diff.still_failing == ()
    assert diff.previous_id == before.night_id


def test_pass_to_error_is_a_regression_too() -> None:
    diff = diff_nights(night(1, [result("a", outcome="error")]), night(0, [result("a")]))
    assert names(diff.regressions) == [("a", "front-door")]


def test_the_same_test_is_followed_per_device() -> None:
    before = night(0, [result("a", device="front-door"), result("a", device="back-door")])
    after = night(1, [result("a", device="front-door"), result("a", "back-door", "failed")])
    assert names(diff_nights(after, before).regressions) == [("a", "back-door")]


def test_new_and_removed_tests() -> None:
    before = night(0, [result("a"), result("gone"), result("x", device="gw-g2")])
    after = night(
        1, [result("a"), result("fresh", outcome="failed"), result("x", device="front-door")]
    )
    diff = diff_nights(after, before)
    assert names(diff.new) == [("fresh", "front-door"), ("x", "front-door")]
    assert diff.new[0].after is Outcome.FAILED
    assert names(diff.removed) == [("gone", "front-door"), ("x", "gw-g2")]
    assert diff.removed[0].before is Outcome.PASSED
    assert diff.removed[0].after is None
    assert diff.regressions == ()


def test_failing_both_nights_is_still_failing_not_a_regression() -> None:
    diff = diff_nights(
        night(1, [result("a", outcome="failed")]), night(0, [result("a", outcome="error")])
    )
    assert names(diff.still_failing) == [("a", "front-door")]
    assert diff.regressions == diff.fixes == ()


@pytest.mark.parametrize("tonight", ["skipped", "xfailed"])
def test_a_skipped_or_xfailed_test_is_neither_regression_nor_fix(tonight: str) -> None:
    diff = diff_nights(night(1, [result("a", outcome=tonight)]), night(0, [result("a")]))
    assert diff.regressions == diff.fixes == diff.still_failing == ()


def test_a_pass_on_retry_is_flaky_passed_on_retry() -> None:
    diff = diff_nights(night(1, [result("a", attempts=3)]), night(0, [result("a")]))
    assert names(diff.passed_on_retry) == [("a", "front-door")]
    assert diff.passed_on_retry[0].reason == "passed only on attempt 3"
    assert diff.flip_flops == diff.regressions == ()
    assert names(diff.flaky) == [("a", "front-door")]


def test_a_pass_on_retry_is_listed_even_on_the_first_night() -> None:
    diff = diff_nights(night(0, [result("a", attempts=2), result("b")]), None)
    assert not diff.has_previous
    assert not diff.compared
    assert names(diff.passed_on_retry) == [("a", "front-door")]
    assert diff.new == diff.removed == diff.regressions == ()
    assert diff.headline() == (
        "no earlier night to compare 2026-11-30T02-00-00Z with; 1 passed on retry"
    )


def outcomes_over_nights(*outcomes: str) -> list[Night]:
    return [night(i, [result("a", outcome=o)]) for i, o in enumerate(outcomes)]


def test_a_test_failing_again_after_changing_verdicts_is_a_flip_flop() -> None:
    nights = outcomes_over_nights("passed", "failed", "passed", "failed")
    diff = diff_nights(nights[-1], nights[-2], histories_from(nights[:-1]))
    assert names(diff.flip_flops) == [("a", "front-door")]
    flip = diff.flip_flops[0]
    assert flip.reason == "failing now; verdict changed 3 times in its last 4 runs"
    assert flip.history == (Outcome.PASSED, Outcome.FAILED, Outcome.PASSED, Outcome.FAILED)
    assert names(diff.regressions) == [("a", "front-door")]  # and still a regression
    assert diff.passed_on_retry == ()


def test_a_fixed_regression_is_not_flaky_on_the_nights_after() -> None:
    # Measured: "verdict changed 2 times in the last 4 nights" on a test that passed again.
    nights = outcomes_over_nights("passed", "failed", "passed", "passed")
    fix_night = diff_nights(nights[2], nights[1], histories_from(nights[:2]))
    assert names(fix_night.fixes) == [("a", "front-door")]
    assert fix_night.flaky == ()
    after = diff_nights(nights[3], nights[2], histories_from(nights[:3]))
    assert after.flaky == ()
    assert after.regressions == after.fixes == ()


def test_one_change_is_a_regression_not_a_flip_flop() -> None:
    nights = outcomes_over_nights("passed", "passed", "passed", "passed", "failed")
    diff = diff_nights(nights[-1], nights[-2], histories_from(nights[:-1]))
    assert diff.flaky == ()
    assert names(diff.regressions) == [("a", "front-door")]


def test_flips_older_than_the_window_do_not_count() -> None:
    nights = outcomes_over_nights(
        "failed", "passed", "failed", "passed", "passed", "passed", "passed", "failed"
    )
    assert FLIP_WINDOW == 5
    diff = diff_nights(nights[-1], nights[-2], histories_from(nights[:-1]))
    # Its last five runs: passed, passed, passed, passed, failed → one change only.
    assert diff.flip_flops == ()
    assert names(diff.regressions) == [("a", "front-door")]


def test_skips_do_not_count_as_flips() -> None:
    nights = outcomes_over_nights("passed", "skipped", "failed", "skipped", "failed")
    assert diff_nights(nights[-1], nights[-2], histories_from(nights[:-1])).flip_flops == ()


def test_headline_counts_every_section() -> None:
    before = night(0, [result("a"), result("b", outcome="failed"), result("d")])
    after = night(
        1,
        [
            result("a", outcome="failed"),
            result("b"),
            result("c"),
            result("d", "front-door", "skipped"),
        ],
    )
    assert diff_nights(after, before).headline() == (
        "2026-12-01T02-00-00Z vs 2026-11-30T02-00-00Z: 1 regression, 1 lost coverage, 1 fix, "
        "1 new, 0 removed, 0 passed on retry, 0 flip-flops, 0 still failing"
    )


# ------------------------------------------------------------------------------ own baselines


def test_each_test_is_compared_with_its_own_last_result_across_a_filtered_night() -> None:
    # Measured: after `nightly -- -k unlock` a real regression read "0 regressions, 416 new".
    full = night(0, [result("unlock"), result("lock"), result("status")])
    filtered = night(1, [result("unlock")], selection="-k unlock")
    tonight = night(2, [result("unlock"), result("lock", outcome="failed"), result("status")])
    diff = diff_nights(tonight, full, histories_from([full, filtered]))
    assert names(diff.regressions) == [("lock", "front-door")]
    assert diff.regressions[0].baseline_id == full.night_id
    assert diff.new == diff.removed == diff.lost_coverage == ()
    assert diff.headline().startswith(f"{tonight.night_id} vs {full.night_id}: 1 regression,")


def test_a_filtered_night_is_compared_but_says_it_is_partial() -> None:
    full = night(0, [result("unlock"), result("lock")])
    filtered = night(1, [result("unlock", outcome="failed")], selection="-k unlock")
    diff = diff_nights(filtered, full, histories_from([full]))
    assert names(diff.regressions) == [("unlock", "front-door")]
    assert diff.removed == ()  # "lock" was not selected, not removed
    assert diff.partial == "filtered: -k unlock"
    assert diff.headline().startswith(f"{filtered.night_id} (filtered: -k unlock) vs ")


def test_a_regression_after_a_skipped_night_is_still_a_regression() -> None:
    nights = outcomes_over_nights("passed", "skipped", "failed")
    diff = diff_nights(nights[-1], nights[-2], histories_from(nights[:-1]))
    assert names(diff.regressions) == [("a", "front-door")]
    assert diff.regressions[0].before is Outcome.PASSED
    assert diff.regressions[0].baseline_id == nights[0].night_id


BROKEN = (
    "front-door is broken: bring-up failed in tests/hil/test_lock.py::test_a[front-door-v3-keypad]"
    ": front-door: failed with code 10002 CONNECT_TIMEOUT (Bluetooth connection timed out; make "
    "sure the device is nearby.): no connection within 10 s — trace: traces/test_lock.test_a.jsonl"
)


def test_coverage_lost_to_a_broken_device_is_named_with_its_bring_up_trace() -> None:
    before = night(0, [result("a"), result("b"), result("c")])
    after = night(
        1,
        [
            result(
                "a",
                outcome="error",
                message="Failed: bringing front-door to admin failed: "
                "front-door: failed with code 10002 CONNECT_TIMEOUT (…): no connection",
            ),
            result("b", outcome="skipped", message=BROKEN),
            result("c", outcome="skipped", message=BROKEN),
        ],
    )
    diff = diff_nights(after, before)
    assert names(diff.regressions) == [("a", "front-door")]
    assert diff.regressions[0].category is FailureCategory.LINK
    assert names(diff.lost_coverage) == [("b", "front-door"), ("c", "front-door")]
    lost = diff.lost_coverage[0]
    assert (lost.before, lost.after) == (Outcome.PASSED, Outcome.SKIPPED)
    assert lost.reason == (
        "broken at bring-up: failed with code 10002 CONNECT_TIMEOUT (Bluetooth connection timed "
        "out; make sure the device is nearby.): no connection within 10 s"
    )
    assert lost.trace == "traces/test_lock.test_a.jsonl"


def test_a_test_that_was_skipped_already_is_not_lost_again() -> None:
    nights = outcomes_over_nights("passed", "skipped", "skipped")
    assert diff_nights(nights[-1], nights[-2], histories_from(nights[:-1])).lost_coverage == ()


def test_tests_an_interrupted_night_did_not_reach_are_lost_coverage() -> None:
    full = night(0, [result("a"), result("b"), result("c", outcome="failed")])
    cut = night(1, [result("a")], complete=False, interrupted="SIGTERM")
    diff = diff_nights(cut, full)
    assert names(diff.lost_coverage) == [("b", "front-door")]  # c was failing: nothing lost
    assert diff.lost_coverage[0].reason == "not run: interrupted by SIGTERM"
    assert diff.lost_coverage[0].after is None
    assert diff.removed == ()
    assert diff.partial == "interrupted by SIGTERM"


def test_a_full_night_without_a_test_has_removed_it() -> None:
    before = night(0, [result("a"), result("gone"), result("x", device="gw-g2")])
    after = night(1, [result("a")], devices=DEVICES[:2])
    diff = diff_nights(after, before)
    assert names(diff.removed) == [("gone", "front-door"), ("x", "gw-g2")]
    assert diff.removed[0].reason is None
    assert diff.removed[1].reason == "device gw-g2 is no longer configured"
    assert diff.lost_coverage == ()


def test_a_diff_turns_into_json_ready_data() -> None:
    diff = diff_nights(night(1, [result("a", outcome="failed")]), night(0, [result("a")]))
    document = diff.to_dict()
    assert document["regressions"][0]["before"] == "passed"
    assert document["regressions"][0]["after"] == "failed"
    assert document["previous_id"] == "2026-11-30T02-00-00Z"


# ------------------------------------------------------------------------------ against a store


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    with HistoryStore.open(tmp_path / "history.sqlite") as opened:
        yield opened


def test_diff_against_history_uses_the_previous_full_night(store: HistoryStore) -> None:
    store.record_night(night(0, [result("a"), result("b")]))
    store.record_night(night(1, [result("a", outcome="failed")], complete=False))
    store.record_night(night(2, [result("b")], selection="-k b"))
    tonight = store.record_night(night(3, [result("a", outcome="failed"), result("b")]))
    diff = diff_against_history(tonight, store)
    assert diff.previous_id == "2026-11-30T02-00-00Z"
    # a's own last result is the incomplete night's failure: still failing, not a regression.
    assert names(diff.still_failing) == [("a", "front-door")]
    assert diff.still_failing[0].baseline_id == "2026-12-01T02-00-00Z"
    assert diff.regressions == ()
    assert diff.baselines == ("2026-12-01T02-00-00Z",)


def test_a_filtered_night_then_a_regression_against_a_store(store: HistoryStore) -> None:
    store.record_night(night(0, [result("unlock"), result("lock"), result("status")]))
    store.record_night(night(1, [result("unlock")], selection="-k unlock"))
    tonight = store.record_night(
        night(2, [result("unlock"), result("lock", outcome="failed"), result("status")])
    )
    diff = diff_against_history(tonight, store)
    assert (diff.previous_id, names(diff.regressions)) == (
        "2026-11-30T02-00-00Z",
        [("lock", "front-door")],
    )
    assert diff.new == diff.removed == ()


def test_diff_against_history_for_a_night_not_yet_stored(store: HistoryStore) -> None:
    store.record_night(night(0, [result("a")]))
    diff = diff_against_history(night(1, [result("a", outcome="failed")]), store)
    assert diff.previous_id == "2026-11-30T02-00-00Z"
    assert names(diff.regressions) == [("a", "front-door")]


def test_diff_against_history_since_a_chosen_night(store: HistoryStore) -> None:
    store.record_night(night(0, [result("a", outcome="failed")]))
    store.record_night(night(1, [result("a")]))
    tonight = store.record_night(night(2, [result("a")]))
    diff = diff_against_history(tonight, store, since="2026-11-30T02-00-00Z")
    assert diff.previous_id == "2026-11-30T02-00-00Z"
    assert names(diff.fixes) == [("a", "front-door")]
    with pytest.raises(ReportError, match="is not earlier than the night being reported"):
        diff_against_history(tonight, store, since=tonight.night_id)
    first = store.load_night("2026-11-30T02-00-00Z")
    with pytest.raises(ReportError, match="--since 2026-12-01T02-00-00Z is not earlier"):
        diff_against_history(first, store, since="2026-12-01T02-00-00Z")


def test_diff_against_history_sees_flip_flops_in_the_store(store: HistoryStore) -> None:
    for index, outcome in enumerate(["passed", "failed", "passed", "failed"]):
        store.record_night(night(index, [result("a", outcome=outcome)]))
    passing = store.record_night(night(4, [result("a")]))
    assert diff_against_history(passing, store).flip_flops == ()  # passing now: not flaky
    failing = store.record_night(night(5, [result("a", outcome="failed")]))
    diff = diff_against_history(failing, store)
    assert names(diff.flip_flops) == [("a", "front-door")]
    assert diff.flip_flops[0].reason == "failing now; verdict changed 4 times in its last 5 runs"


def test_a_fixed_regression_is_not_flaky_in_the_store_either(store: HistoryStore) -> None:
    for index, outcome in enumerate(["passed", "failed", "passed", "passed", "passed"]):
        stored = store.record_night(night(index, [result("a", outcome=outcome)]))
        assert diff_against_history(stored, store).flaky == ()


def test_without_a_store_the_night_is_a_first_night() -> None:
    diff = diff_against_history(night(0, [result("a")]), None)
    assert diff.previous_id is None


# ------------------------------------------------------------------------------ conformance


def test_conformance_groups_by_model_command_and_condition() -> None:
    n = night(
        0,
        [
            result("dl", expected=30, observed=30, command="UNLOCK", condition="double_locked"),
            result(
                "dl",
                "back-door",
                expected=30,
                observed=31,
                command="UNLOCK",
                condition="double_locked",
                outcome="failed",
            ),
            result(
                "to",
                "gw-g2",
                expected=TIMEOUT,
                observed=TIMEOUT,
                command="ECHO",
                condition="silence",
            ),
            result("fp", "back-door", expected=26, command="DELETE_FINGERPRINT", outcome="skipped"),
            result("xf", expected=24, observed=19, command="DELETE_IC", outcome="xfailed"),
            result("happy"),  # no expected code: not in the matrix
        ],
    )
    cells = {(c.model, c.command, c.condition): c for c in conformance(n)}
    assert set(cells) == {
        ("v3-keypad", "UNLOCK", "double_locked"),
        ("v3-fingerprint-ic", "UNLOCK", "double_locked"),
        ("g2", "ECHO", "silence"),
        ("v3-fingerprint-ic", "DELETE_FINGERPRINT", None),
        ("v3-keypad", "DELETE_IC", None),
    }
    assert cells[("v3-keypad", "UNLOCK", "double_locked")].status is Conformance.MATCH
    mismatch = cells[("v3-fingerprint-ic", "UNLOCK", "double_locked")]
    assert mismatch.status is Conformance.MISMATCH
    assert [(o.device, o.observed) for o in mismatch.observations] == [("back-door", 31)]
    assert cells[("g2", "ECHO", "silence")].status is Conformance.MATCH
    assert cells[("v3-fingerprint-ic", "DELETE_FINGERPRINT", None)].status is Conformance.NOT_RUN
    assert cells[("v3-keypad", "DELETE_IC", None)].status is Conformance.KNOWN


def test_a_failed_test_without_an_observed_code_is_a_mismatch() -> None:
    n = night(0, [result("a", expected=30, command="UNLOCK", outcome="error")])
    (cell,) = conformance(n)
    assert cell.status is Conformance.MISMATCH


def test_devices_of_one_model_share_a_cell() -> None:
    n = night(
        0,
        [
            result("a", "front-door", expected=30, observed=30, command="UNLOCK"),
            result("a", "second", expected=30, observed=30, command="UNLOCK", model="v3-keypad"),
        ],
    )
    (cell,) = conformance(n)
    assert [o.device for o in cell.observations] == ["front-door", "second"]


# ------------------------------------------------------------------------------ coverage and trend


def test_coverage_counts_codes_valid_in_the_plugin_version() -> None:
    valid = [e.code for e in valid_in("3.1.0")]
    n = night(0, [], seed_codes_asserted=[30, 31, 10017, -3])
    cov = coverage(n)
    assert cov.valid == tuple(valid)
    assert cov.covered == (30, 31, 10017)
    assert cov.outside == (-3,)  # -3 is gone in 3.1.0: a test asserts a code that cannot occur
    assert len(cov.missing) == len(valid) - 3
    assert cov.ratio == pytest.approx(3 / len(valid))


def test_coverage_of_an_unparseable_plugin_version_is_unknown_not_an_error() -> None:
    cov = coverage(night(0, [], plugin_version="latest", seed_codes_asserted=[30]))
    assert cov.valid is None
    assert cov.ratio is None
    assert cov.covered == (30,)


def test_trend_counts_failures_and_marks_partial_nights() -> None:
    nights = [
        night(0, [result("a", outcome="error"), result("b", outcome="failed"), result("c")]),
        night(1, [result("a", outcome="skipped")], selection="-k a"),
    ]
    first, second = trend(nights)
    assert (first.failures, first.errors, first.skipped, first.partial) == (2, 1, 0, None)
    assert (second.failures, second.skipped, second.partial) == (0, 1, "filtered: -k a")


def test_trend_has_pass_rate_and_median_latency_per_night() -> None:
    nights = [
        night(0, [result("a", latency_ms=100.0), result("b", latency_ms=300.0)]),
        night(
            1,
            [
                result("a", outcome="failed", latency_ms=50.0),
                result("b"),
                result("c", outcome="skipped"),
            ],
        ),
    ]
    points = trend(nights)
    assert [p.night_id for p in points] == [n.night_id for n in nights]
    assert (points[0].pass_rate, points[0].median_latency_ms) == (1.0, 200.0)
    assert (points[1].pass_rate, points[1].median_latency_ms) == (0.5, 50.0)
    assert (points[1].passed, points[1].failed, points[1].total) == (1, 1, 3)
