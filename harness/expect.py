"""Assertions that read as the test's intent: the code (or timeout) a command must end with.

::

    async with expect_code(Code.EKEY_EXPIRED):
        await lock.unlock(ekey=expired)

    await expect_code(Code.EKEY_EXPIRED, lock.unlock(ekey=expired))   # same, awaited
    await expect_timeout(lock.status())                              # a TTLock timeout
    status = await expect_ok(lock.status())                          # returns the result
    async with expect_ok():
        await lock.unlock()

The expected code is caught (the test goes on); anything else fails with an
:class:`AssertionError` whose message states the expected and observed code
(number, name and text), the command, the device and the frame trace path
(docs/architecture.md §11.10)::

    expected code 14 EKEY_EXPIRED (eKey expired), observed 0 OK (success):
    UNLOCK (0x47) on front-door succeeded — trace: reports/traces/front-door-….jsonl

Records for reports
-------------------
Every assertion, passed or failed, appends an :class:`AssertionRecord`
(expected, observed, latency, command, device, trace path) to the *current
recorder*: the :class:`AssertionRecorder` installed with :func:`recording`
(a context variable, so concurrent tests on one loop keep theirs apart), else
the process-wide :func:`default_recorder`. The pytest plugin installs one
recorder per test and reads ``recorder.records`` when the test ends::

    recorder = AssertionRecorder()
    with recording(recorder):
        ...  # run the test
    report(recorder.records)

``expect_*(…, recorder=r)`` writes to ``r`` explicitly instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, Literal, TypeVar

from ttlock_hil.protocol.codes import Code, ErrorCode, lookup

from .errors import TTLockError
from .session import last_request

__all__ = [
    "TIMEOUT",
    "AssertionRecord",
    "AssertionRecorder",
    "Expectation",
    "current_recorder",
    "default_recorder",
    "expect_code",
    "expect_ok",
    "expect_timeout",
    "recording",
]

T = TypeVar("T")

TIMEOUT: Final[Literal["timeout"]] = "timeout"
"""``AssertionRecord.expected`` of :func:`expect_timeout` (any TTLock timeout code)."""


@dataclass(frozen=True, slots=True)
class AssertionRecord:
    """One assertion's evidence, JSON-friendly (:meth:`to_dict`).

    ``expected``: the code number, or :data:`TIMEOUT`. ``observed``: the code
    the command ended with (0 on success), ``None`` if it raised something
    that is not a TTLock error. ``latency``: seconds the asserted block took.
    """

    expected: int | Literal["timeout"]
    observed: int | None
    passed: bool
    latency: float
    command: str | None
    device: str | None
    trace_path: str | None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "observed": self.observed,
            "passed": self.passed,
            "latency": round(self.latency, 6),
            "command": self.command,
            "device": self.device,
            "trace_path": self.trace_path,
            "message": self.message,
        }


class AssertionRecorder:
    """Collects :class:`AssertionRecord` objects in order (not thread-safe; one per test)."""

    def __init__(self) -> None:
        self.records: list[AssertionRecord] = []

    def __repr__(self) -> str:
        return f"AssertionRecorder({len(self.records)} records)"

    def record(self, record: AssertionRecord) -> None:
        self.records.append(record)

    def clear(self) -> list[AssertionRecord]:
        """Hand over and forget the records so far."""
        records, self.records = self.records, []
        return records

    @property
    def failed(self) -> list[AssertionRecord]:
        return [r for r in self.records if not r.passed]


_DEFAULT: Final = AssertionRecorder()
_current: contextvars.ContextVar[AssertionRecorder | None] = contextvars.ContextVar(
    "ttlock_hil_assertion_recorder", default=None
)


def default_recorder() -> AssertionRecorder:
    """The process-wide recorder used when no :func:`recording` is active."""
    return _DEFAULT


def current_recorder() -> AssertionRecorder:
    """The recorder assertions in this context write to."""
    recorder = _current.get()
    return recorder if recorder is not None else _DEFAULT


@contextlib.contextmanager
def recording(recorder: AssertionRecorder) -> Iterator[AssertionRecorder]:
    """Make ``recorder`` current for this context (and tasks created inside it)."""
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


def _describe(code: int | None) -> str:
    if code is None:
        return "no TTLock code"
    try:
        entry = lookup(code)
    except LookupError:
        return f"{code} (not in the registry)"
    return f"{entry.code} {entry.name} ({entry.en})"


def _code_number(code: Code | ErrorCode | int) -> int:
    number = code.code if isinstance(code, ErrorCode) else int(code)
    lookup(number)  # an unknown code is a typo in the test: fail loudly, now
    return number


class Expectation(Generic[T]):
    """One assertion: ``async with`` it around the command, or ``await`` it.

    After it ran: ``record`` is its :class:`AssertionRecord`, ``error`` the
    caught :class:`TTLockError` (expected failures), ``result`` the awaited
    value (awaited form, when the command succeeded).
    """

    def __init__(
        self,
        expected: int | Literal["timeout"],
        awaitable: Awaitable[T] | None,
        *,
        recorder: AssertionRecorder | None,
        within: float | None = None,
    ) -> None:
        self.expected = expected
        self._awaitable = awaitable
        self._recorder = recorder
        self._within = within
        self._started = 0.0
        self.record: AssertionRecord | None = None
        self.error: TTLockError | None = None
        self.result: T | None = None

    # --- context manager form ------------------------------------------------------

    async def __aenter__(self) -> Expectation[T]:
        self._started = time.monotonic()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        __tracebackhide__ = True  # a failed expectation stops at the test's own line
        return self._judge(exc)

    # --- awaited form ----------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Any]:
        __tracebackhide__ = True
        return self._run().__await__()

    async def _run(self) -> Any:
        __tracebackhide__ = True
        if self._awaitable is None:
            raise TypeError("nothing to await: pass the coroutine, or use 'async with'")
        self._started = time.monotonic()
        try:
            self.result = await self._awaitable
        except Exception as exc:
            if self._judge(exc):
                return self.error
            raise
        self._judge(None)
        return self.result

    # --- judging -----------------------------------------------------------------------

    def _judge(self, exc: BaseException | None) -> bool:
        """Record the outcome; True to swallow ``exc`` (the expected failure)."""
        __tracebackhide__ = True
        if exc is not None and not isinstance(exc, Exception):
            return False  # cancelled or interrupted: no outcome to judge
        latency = time.monotonic() - self._started
        info = last_request.get()
        if isinstance(exc, TTLockError):
            observed: int | None = exc.code.code
            command = exc.command_name or (info.command_name if info else None)
            device = exc.device or (info.device if info else None)
            trace = exc.trace_path or (info.trace_path if info else None)
        elif exc is None:
            observed = int(Code.OK)
            command = info.command_name if info else None
            device = info.device if info else None
            trace = info.trace_path if info else None
        else:
            observed = None
            command = info.command_name if info else None
            device = info.device if info else None
            trace = info.trace_path if info else None
        passed = self._passes(exc, observed)
        late = ""
        if passed and self._within is not None and latency > self._within:
            passed = False
            late = f" after {latency:.3f} s, later than the allowed {self._within:g} s"
        message = "" if passed else self._message(exc, observed, command, device, trace) + late
        self.record = AssertionRecord(
            expected=self.expected,
            observed=observed,
            passed=passed,
            latency=latency,
            command=command,
            device=device,
            trace_path=str(trace) if trace is not None else None,
            message=message,
        )
        recorder = self._recorder if self._recorder is not None else current_recorder()
        recorder.record(self.record)
        if isinstance(exc, TTLockError):
            self.error = exc
        if passed:
            return exc is not None
        if exc is not None and not isinstance(exc, TTLockError | AssertionError):
            return False  # not a TTLock outcome: let the original error speak (recorded)
        raise AssertionError(message) from exc

    def _passes(self, exc: BaseException | None, observed: int | None) -> bool:
        if self.expected == TIMEOUT:
            return isinstance(exc, TTLockError) and isinstance(exc, TimeoutError)
        return observed == self.expected and (exc is None or isinstance(exc, TTLockError))

    def _message(
        self,
        exc: BaseException | None,
        observed: int | None,
        command: str | None,
        device: str | None,
        trace: Path | str | None,
    ) -> str:
        if self.expected == TIMEOUT:
            wanted = "a timeout (ResponseTimeout/ConnectTimeout)"
        else:
            assert isinstance(self.expected, int)
            wanted = f"code {_describe(self.expected)}"
        if exc is None:
            got = f"{_describe(observed)}"
            what = "succeeded"
        elif isinstance(exc, TTLockError):
            got = _describe(observed)
            what = f"failed ({type(exc).__name__})"
        else:
            got = f"{type(exc).__name__}: {exc}"
            what = "raised a non-TTLock error"
        where = command or "the command"
        if device:
            where += f" on {device}"
        text = f"expected {wanted}, observed {got}: {where} {what}"
        text += f" — trace: {trace}" if trace is not None else " — trace: (none)"
        return text


def expect_code(
    code: Code | ErrorCode | int,
    awaitable: Awaitable[T] | None = None,
    *,
    recorder: AssertionRecorder | None = None,
) -> Expectation[T]:
    """Assert that the command ends with TTLock ``code`` (``Code.OK`` = success).

    ``async with expect_code(Code.EKEY_EXPIRED): await lock.unlock(...)``, or
    ``await expect_code(Code.EKEY_EXPIRED, lock.unlock(...))`` which returns the
    caught :class:`TTLockError` (the result when ``code`` is OK).
    """
    return Expectation(_code_number(code), awaitable, recorder=recorder)


def expect_ok(
    awaitable: Awaitable[T] | None = None, *, recorder: AssertionRecorder | None = None
) -> Expectation[T]:
    """Assert success (code 0); awaited, returns the command's result."""
    return Expectation(int(Code.OK), awaitable, recorder=recorder)


def expect_timeout(
    awaitable: Awaitable[T] | None = None,
    *,
    within: float | None = None,
    recorder: AssertionRecorder | None = None,
) -> Expectation[T]:
    """Assert the command ends with a TTLock timeout (response or connect).

    ``within`` (seconds) also bounds how long it may take to time out: a
    harness deadline that stretched (e.g. a silent retry) fails the assertion.
    Awaited, returns the caught error.
    """
    return Expectation(TIMEOUT, awaitable, recorder=recorder, within=within)
