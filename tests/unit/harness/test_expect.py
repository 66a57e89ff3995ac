"""harness.expect: assertions stating the expected code or timeout, with records for reports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttlock_hil.harness.errors import DeviceError, ResponseTimeout
from ttlock_hil.harness.expect import (
    TIMEOUT,
    AssertionRecord,
    AssertionRecorder,
    current_recorder,
    default_recorder,
    expect_code,
    expect_ok,
    expect_timeout,
    recording,
)
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.session import Answer, Session
from ttlock_hil.harness.sim.faults import Fault
from ttlock_hil.protocol.codes import Code, lookup

from .conftest import DEADLINE, build_config, echo_environ, lock_entry, make_lab

UNLOCK = 0x47
STATUS = 0x14


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    config = build_config(tmp_path, [lock_entry("front-door", credentials="env:ECHO_CREDS")])
    lab = make_lab(config, echo=True, environ=echo_environ())
    yield lab
    await lab.aclose()


@pytest.fixture
def session(lab: Lab) -> Session:
    return lab.session("front-door")


@pytest.fixture
def recorder() -> AssertionRecorder:
    return AssertionRecorder()


def refuse(lab: Lab, error: int = 0x1E, command: int = UNLOCK) -> None:
    lab.virtual("front-door").faults.add(Fault.ERROR_REPLY, command=command, error=error)


async def send(session: Session, command: int = UNLOCK) -> Answer:
    async with asyncio.timeout(DEADLINE):
        return await session.request(command, b"\x00")


# --- expect_code ------------------------------------------------------------------------


async def test_the_expected_code_is_caught_and_recorded(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    refuse(lab)
    async with expect_code(Code.DOUBLE_LOCKED, recorder=recorder) as outcome:
        await send(session)
    assert isinstance(outcome.error, DeviceError)
    [record] = recorder.records
    assert record.passed
    assert (record.expected, record.observed) == (30, 30)
    assert record.command == "UNLOCK"
    assert record.device == "front-door"
    assert record.trace_path == str(session.trace_path)
    assert 0 <= record.latency < DEADLINE
    assert record.message == ""


async def test_the_awaited_form_returns_the_caught_error(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    refuse(lab)
    error = await expect_code(Code.DOUBLE_LOCKED, send(session), recorder=recorder)
    assert isinstance(error, DeviceError)
    assert error.error_byte == 0x1E
    assert recorder.records[0].passed


async def test_a_different_code_fails_with_both_codes_command_and_trace(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    refuse(lab, error=0x02)
    with pytest.raises(AssertionError) as caught:
        async with expect_code(Code.EKEY_EXPIRED, recorder=recorder):
            await send(session)
    message = str(caught.value)
    expired, observed = lookup(Code.EKEY_EXPIRED), lookup(Code.NO_PERMISSION)
    assert f"expected code 14 EKEY_EXPIRED ({expired.en})" in message
    assert f"observed 2 NO_PERMISSION ({observed.en})" in message
    assert "UNLOCK on front-door failed (DeviceError)" in message
    assert f"trace: {session.trace_path}" in message
    assert isinstance(caught.value.__cause__, DeviceError)
    [record] = recorder.records
    assert (record.passed, record.expected, record.observed) == (False, 14, 2)
    assert record.message == message


async def test_success_where_a_failure_was_expected_fails(
    session: Session, recorder: AssertionRecorder
) -> None:
    with pytest.raises(AssertionError, match=r"observed 0 OK .*: UNLOCK on front-door succeeded"):
        async with expect_code(Code.DOUBLE_LOCKED, recorder=recorder):
            await send(session)
    assert recorder.records[0].observed == 0


async def test_an_unknown_code_is_a_typo_caught_at_once() -> None:
    with pytest.raises(LookupError):
        expect_code(123456)


async def test_a_non_ttlock_error_propagates_unchanged_and_is_recorded(
    recorder: AssertionRecorder,
) -> None:
    with pytest.raises(KeyError):
        async with expect_code(Code.DOUBLE_LOCKED, recorder=recorder):
            raise KeyError("bug in the test")
    [record] = recorder.records
    assert record.observed is None
    assert not record.passed
    assert "KeyError" in record.message


async def test_cancellation_is_not_judged(recorder: AssertionRecorder) -> None:
    async def forever() -> None:
        async with expect_code(Code.DOUBLE_LOCKED, recorder=recorder):
            await asyncio.Event().wait()

    task = asyncio.ensure_future(forever())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.records == []


# --- expect_ok -----------------------------------------------------------------------------


async def test_expect_ok_returns_the_result(session: Session, recorder: AssertionRecorder) -> None:
    answer = await expect_ok(send(session, STATUS), recorder=recorder)
    assert isinstance(answer, Answer)
    assert answer.command == STATUS
    assert recorder.records[0].passed
    assert recorder.records[0].command == "SEARCH_STATUS"


async def test_expect_ok_fails_on_a_device_error(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    refuse(lab)
    with pytest.raises(AssertionError, match="expected code 0 OK"):
        async with expect_ok(recorder=recorder):
            await send(session)


async def test_awaiting_without_a_coroutine_is_a_usage_error() -> None:
    with pytest.raises(TypeError, match="async with"):
        await expect_ok()


# --- expect_timeout ------------------------------------------------------------------------


async def test_expect_timeout_passes_on_a_response_timeout(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    error = await expect_timeout(send(session), within=3.0, recorder=recorder)
    assert isinstance(error, ResponseTimeout)
    [record] = recorder.records
    assert record.expected == TIMEOUT
    assert record.observed == Code.RESPONSE_TIMEOUT
    assert record.passed
    assert lab.timeouts.command <= record.latency < 3.0


async def test_expect_timeout_fails_when_the_command_answers(
    session: Session, recorder: AssertionRecorder
) -> None:
    with pytest.raises(AssertionError, match=r"expected a timeout .* succeeded"):
        await expect_timeout(send(session), recorder=recorder)


async def test_expect_timeout_fails_on_another_error(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    refuse(lab)
    with pytest.raises(AssertionError, match="observed 30 DOUBLE_LOCKED"):
        await expect_timeout(send(session), recorder=recorder)


async def test_a_timeout_later_than_allowed_fails(
    lab: Lab, session: Session, recorder: AssertionRecorder
) -> None:
    lab.virtual("front-door").faults.add(Fault.SILENCE, command=UNLOCK)
    with pytest.raises(AssertionError, match=r"later than the allowed 0\.05 s"):
        await expect_timeout(send(session), within=0.05, recorder=recorder)
    assert not recorder.records[0].passed


# --- recorders ------------------------------------------------------------------------------


async def test_recording_makes_a_recorder_current_for_the_block(session: Session) -> None:
    mine = AssertionRecorder()
    assert current_recorder() is default_recorder()
    with recording(mine):
        assert current_recorder() is mine
        await expect_ok(send(session, STATUS))
    assert current_recorder() is default_recorder()
    assert len(mine.records) == 1


async def test_concurrent_tasks_keep_their_own_recorders(lab: Lab) -> None:
    async def one(name: str) -> AssertionRecorder:
        recorder = AssertionRecorder()
        with recording(recorder):
            async with expect_code(Code.DOUBLE_LOCKED):
                raise DeviceError(name, code=lookup(Code.DOUBLE_LOCKED), device=name)
        return recorder

    first, second = await asyncio.gather(one("a"), one("b"))
    assert [r.device for r in first.records] == ["a"]
    assert [r.device for r in second.records] == ["b"]


def test_records_are_json_ready_and_can_be_handed_over() -> None:
    recorder = AssertionRecorder()
    recorder.record(AssertionRecord(14, 2, False, 0.25, "UNLOCK", "fd", "t.jsonl", "boom"))
    recorder.record(AssertionRecord(TIMEOUT, 10017, True, 6.0, None, None, None))
    assert [r.passed for r in recorder.failed] == [False]
    text = json.dumps([r.to_dict() for r in recorder.records])
    assert json.loads(text)[0]["expected"] == 14
    assert len(recorder.clear()) == 2
    assert recorder.records == []


def test_a_failed_expectation_stops_at_the_tests_own_line(pytester: pytest.Pytester) -> None:
    """__tracebackhide__: the failure report shows the test, not the harness's internals."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        """
        from ttlock_hil.harness.errors import ResponseTimeout
        from ttlock_hil.harness.expect import expect_ok

        async def fails():
            raise ResponseTimeout.mapped("3.1.0", "no reply")

        async def test_unlock():
            async with expect_ok():
                await fails()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "async with expect_ok():" in text
    assert "harness/expect.py" not in text
