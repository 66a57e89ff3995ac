"""Failure piles (product, link, harness) and the reasons of lost coverage, from real messages."""

from __future__ import annotations

import pytest

from tests.unit.report import result
from ttlock_hil.harness.report.model import TIMEOUT
from ttlock_hil.harness.report.triage import (
    FailureCategory,
    failure_category,
    is_link_code,
    lost_coverage_reason,
    skip_reason,
)

# Messages as the plugin records them (fixtures/results.py: pytest's one-line crash message).
WRONG_CODE = (
    "AssertionError: expected code 18 USER_NOT_LOGGED_IN, observed 2 NO_PERMISSION: UNLOCK on "
    "front-door failed (DeviceError) — trace: traces/test_lock_codes.jsonl"
)
TIMED_OUT = (
    "AssertionError: expected code 0 OK, observed 10017 RESPONSE_TIMEOUT: UNLOCK on front-door "
    "failed (ResponseTimeout) — trace: traces/t.jsonl"
)
BRING_UP_TIMEOUT = (
    "Failed: bringing front-door to admin failed: front-door: failed with code 10002 "
    "CONNECT_TIMEOUT (Bluetooth connection timed out; make sure the device is nearby.): no "
    "connection within 1 s — trace: traces/t.jsonl"
)
BRING_UP_REFUSED = (
    "Failed: bringing front-door to admin failed: front-door: failed with code 3 "
    "ADMIN_CHECK_FAILED (Administrator check failed.) — trace: traces/t.jsonl"
)


@pytest.mark.parametrize(
    ("fields", "pile"),
    [
        ({"expected": 18, "observed": 2, "message": WRONG_CODE}, FailureCategory.PRODUCT),
        ({"message": WRONG_CODE}, FailureCategory.PRODUCT),  # expect_code without a case
        ({"message": "AssertionError: assert 'locked' == 'unlocked'"}, FailureCategory.PRODUCT),
        ({"message": "ttlock_hil.harness.errors.DeviceError: code 30"}, FailureCategory.PRODUCT),
        ({"expected": 0, "observed": TIMEOUT, "message": TIMED_OUT}, FailureCategory.LINK),
        ({"expected": 0, "observed": 10017, "message": TIMED_OUT}, FailureCategory.LINK),
        ({"message": TIMED_OUT}, FailureCategory.LINK),
        ({"message": BRING_UP_TIMEOUT}, FailureCategory.LINK),
        ({"message": BRING_UP_REFUSED}, FailureCategory.PRODUCT),
        ({"message": "Failed: bringing door to paired failed: OSError: adapter gone"}, "link"),
        ({"message": "ttlock_hil.harness.errors.Disconnected: link lost"}, FailureCategory.LINK),
        ({"message": "bleak.exc.BleakError: Not connected"}, FailureCategory.LINK),
        ({"message": "AttributeError: 'NoneType' object has no attribute 'foo'"}, "harness"),
        ({"message": "TypeError: int() argument must be a string"}, FailureCategory.HARNESS),
        ({"message": "ttlock_hil.harness.errors.Busy: a command is in flight"}, "harness"),
        ({"message": "Failed: front-door: cannot set up the simulated device"}, "harness"),
        ({"message": None}, FailureCategory.HARNESS),
    ],
)
def test_each_failure_lands_in_the_pile_to_look_at_first(
    fields: dict[str, object], pile: FailureCategory
) -> None:
    assert failure_category(result(outcome="failed", **fields)) is FailureCategory(pile)
    assert failure_category(result(outcome="error", **fields)) is FailureCategory(pile)


def test_only_failures_have_a_pile() -> None:
    for outcome in ("passed", "skipped", "xfailed"):
        assert failure_category(result(outcome=outcome, message=WRONG_CODE)) is None


def test_the_piles_have_headings_and_hints() -> None:
    assert FailureCategory.PRODUCT.heading == "device answered a different code"
    assert FailureCategory.LINK.heading == "link / infrastructure"
    assert FailureCategory.HARNESS.heading == "harness error"
    assert all(c.hint for c in FailureCategory)


def test_link_codes_are_the_ones_no_device_sent() -> None:
    assert is_link_code(TIMEOUT)
    assert is_link_code(10002)  # CONNECT_TIMEOUT
    assert not is_link_code(2)  # NO_PERMISSION: the lock said so
    assert not is_link_code(123456789)  # not in the registry
    assert not is_link_code(None)


BROKEN = (
    "front-door is broken: bring-up failed in test_small.py::test_a[front-door-v3-keypad]: "
    "front-door: failed with code 10002 CONNECT_TIMEOUT (Bluetooth connection timed out; make "
    "sure the device is nearby.): no connection within 1 s — trace: traces/test_small.test_a.jsonl"
)


def test_a_broken_device_skip_reads_broken_at_bring_up_with_its_trace() -> None:
    reason = skip_reason(BROKEN, "front-door")
    assert reason.broken
    assert reason.text == (
        "broken at bring-up: failed with code 10002 CONNECT_TIMEOUT (Bluetooth connection timed "
        "out; make sure the device is nearby.): no connection within 1 s"
    )
    assert reason.trace == "traces/test_small.test_a.jsonl"


def test_a_plugin_that_says_broken_at_bring_up_itself_is_taken_as_is() -> None:
    reason = skip_reason("broken at bring-up: adapter hci1 is off — trace: traces/x.jsonl")
    assert (reason.text, reason.trace, reason.broken) == (
        "broken at bring-up: adapter hci1 is off",
        "traces/x.jsonl",
        True,
    )


def test_other_skips_keep_their_reason() -> None:
    reason = lost_coverage_reason(result(outcome="skipped", message="lacks feature 'wifi'"))
    assert (reason.text, reason.trace, reason.broken) == ("lacks feature 'wifi'", None, False)
    assert skip_reason(None).text == "skipped (no reason given)"


def test_a_test_that_did_not_run_says_why() -> None:
    assert lost_coverage_reason(None, not_run="not run: interrupted by SIGTERM").text == (
        "not run: interrupted by SIGTERM"
    )
    assert lost_coverage_reason(None).text == "not run"
