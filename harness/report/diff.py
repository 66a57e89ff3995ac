"""Comparisons a night report makes: night vs previous night, expected vs observed code.

* :func:`diff_nights` — this night against the previous complete night, by
  ``(test_id, device)``: **regressions** (passed → failed/error), **fixes**
  (failed/error → passed), **new** and **removed** tests, **still failing**, and
  **flaky** tests: passed only on a retry tonight, or flip-flopping — at least
  :data:`FLIP_MIN_CHANGES` verdict changes over the last :data:`FLIP_WINDOW`
  nights. :func:`diff_against_history` picks the nights from a history store.
* :func:`conformance` — the error-code conformance matrix: per (model, command,
  condition) the expected code (or timeout) and what each device answered.
* :func:`coverage` — which codes of the seed table (valid in the night's plugin
  version, :func:`ttlock_hil.protocol.codes.valid_in`) the night's tests asserted.
* :func:`trend` — pass rate and median latency per night, for the trend plot.

Skipped and xfailed results are neither pass nor fail: a test that was skipped
tonight is not a regression, a fix, nor a flip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any, ClassVar, Final

from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import CodeOrTimeout, Night, Outcome, TestResult
from ttlock_hil.protocol.codes import PluginVersion, PluginVersionError, valid_in

__all__ = [
    "FLIP_MIN_CHANGES",
    "FLIP_WINDOW",
    "Conformance",
    "ConformanceCell",
    "Coverage",
    "NightDiff",
    "Observation",
    "TestChange",
    "TrendPoint",
    "conformance",
    "coverage",
    "diff_against_history",
    "diff_nights",
    "trend",
]

FLIP_WINDOW: Final = 5
"""How many nights (tonight included) the flip-flop check looks at."""

FLIP_MIN_CHANGES: Final = 2
"""Verdict changes within the window that make a test flaky (pass→fail→pass is 2)."""


def _verdict(outcome: Outcome | None) -> bool | None:
    """True for pass, False for fail/error, None for no verdict (skipped, xfailed, absent)."""
    if outcome is Outcome.PASSED:
        return True
    if outcome is not None and outcome.is_failure:
        return False
    return None


@dataclass(frozen=True, slots=True)
class TestChange:
    """One test on one device that the diff lists, with its outcome before and after.

    ``before``/``after`` are ``None`` where the test did not exist (new/removed).
    ``message`` and ``trace`` come from tonight's result (the previous night's
    for a removed test). ``reason`` explains a flaky entry. ``history`` is the
    outcome in each night of the flip-flop window, oldest first (``None`` where
    the test did not run).
    """

    __test__: ClassVar[bool] = False  # not a pytest test class

    test_id: str
    device: str
    name: str
    model: str
    before: Outcome | None
    after: Outcome | None
    message: str | None = None
    trace: str | None = None
    reason: str | None = None
    history: tuple[Outcome | None, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """``(test_id, device)``."""
        return (self.test_id, self.device)

    @classmethod
    def of(
        cls,
        result: TestResult,
        *,
        before: Outcome | None,
        after: Outcome | None,
        reason: str | None = None,
        history: tuple[Outcome | None, ...] = (),
    ) -> TestChange:
        """A change described by ``result`` (the newest result of that key)."""
        return cls(
            test_id=result.test_id,
            device=result.device,
            name=result.name,
            model=result.model,
            before=before,
            after=after,
            message=result.message,
            trace=result.trace,
            reason=reason,
            history=history,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "test_id": self.test_id,
            "device": self.device,
            "name": self.name,
            "model": self.model,
            "before": self.before.value if self.before is not None else None,
            "after": self.after.value if self.after is not None else None,
            "message": self.message,
            "trace": self.trace,
            "reason": self.reason,
            "history": [o.value if o is not None else None for o in self.history],
        }


@dataclass(frozen=True, slots=True)
class NightDiff:
    """What changed from ``previous_id`` to ``night_id``.

    ``previous_id`` is ``None`` when there was no earlier complete night: then
    nothing is new, removed, fixed or regressed (there is nothing to compare
    with), but retry-flaky tests are still listed. ``window`` names the nights
    the flip-flop check looked at, oldest first.
    """

    night_id: str
    previous_id: str | None
    regressions: tuple[TestChange, ...] = ()
    fixes: tuple[TestChange, ...] = ()
    new: tuple[TestChange, ...] = ()
    removed: tuple[TestChange, ...] = ()
    flaky: tuple[TestChange, ...] = ()
    still_failing: tuple[TestChange, ...] = ()
    window: tuple[str, ...] = ()

    SECTIONS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("regressions", "Regressions (passed → failed)"),
        ("fixes", "Fixes (failed → passed)"),
        ("new", "New tests"),
        ("removed", "Removed tests"),
        ("flaky", "Flaky"),
        ("still_failing", "Still failing"),
    )
    """``(attribute, title)`` of each list, in the order reports show them."""

    @property
    def has_previous(self) -> bool:
        """True when there was a previous complete night to compare with."""
        return self.previous_id is not None

    def section(self, name: str) -> tuple[TestChange, ...]:
        """One of the lists by attribute name (``"regressions"``, ``"fixes"``…)."""
        if name not in {attr for attr, _ in self.SECTIONS}:
            raise KeyError(name)
        changes: tuple[TestChange, ...] = getattr(self, name)
        return changes

    def headline(self) -> str:
        """One line: ``"1 regression, 0 fixes, 2 new, 0 removed, 1 flaky, 0 still failing"``."""
        if not self.has_previous:
            flaky = f"; {len(self.flaky)} flaky" if self.flaky else ""
            return f"no previous complete night to compare {self.night_id} with{flaky}"
        parts = [
            _count(len(self.regressions), "regression", "regressions"),
            _count(len(self.fixes), "fix", "fixes"),
            f"{len(self.new)} new",
            f"{len(self.removed)} removed",
            f"{len(self.flaky)} flaky",
            f"{len(self.still_failing)} still failing",
        ]
        return f"{self.night_id} vs {self.previous_id}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        document: dict[str, Any] = {
            "night_id": self.night_id,
            "previous_id": self.previous_id,
            "window": list(self.window),
        }
        for name, _ in self.SECTIONS:
            document[name] = [c.to_dict() for c in self.section(name)]
        return document


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _sort(changes: list[TestChange]) -> tuple[TestChange, ...]:
    return tuple(sorted(changes, key=lambda c: (c.test_id, c.device)))


def diff_nights(
    current: Night,
    previous: Night | None,
    recent: Sequence[Night] = (),
    *,
    window: int = FLIP_WINDOW,
    min_changes: int = FLIP_MIN_CHANGES,
) -> NightDiff:
    """Compare ``current`` with ``previous`` (None: the first night).

    ``recent`` are earlier nights, oldest first, for the flip-flop check (the
    last ``window - 1`` of them are used with ``current``; ``current`` may be
    among them already). Only tests that ran tonight can be flip-flop flaky.
    """
    earlier = [n for n in recent if n.night_id != current.night_id]
    nights = [*earlier[-(window - 1) :], current] if window > 1 else [current]
    tonight = current.by_key
    maps = [n.by_key for n in nights]
    flaky: list[TestChange] = []
    for key, result in tonight.items():
        history = tuple(m[key].outcome if key in m else None for m in maps)
        verdicts = [v for v in (_verdict(o) for o in history) if v is not None]
        flips = sum(1 for a, b in pairwise(verdicts) if a != b)
        if result.flaky:
            reason = f"passed only on attempt {result.attempts}"
        elif flips >= min_changes:
            reason = f"verdict changed {flips} times in the last {len(nights)} nights"
        else:
            continue
        flaky.append(
            TestChange.of(
                result,
                before=history[-2] if len(history) > 1 else None,
                after=result.outcome,
                reason=reason,
                history=history,
            )
        )
    window_ids = tuple(n.night_id for n in nights)
    if previous is None:
        return NightDiff(
            night_id=current.night_id, previous_id=None, flaky=_sort(flaky), window=window_ids
        )

    before = previous.by_key
    regressions: list[TestChange] = []
    fixes: list[TestChange] = []
    still: list[TestChange] = []
    new: list[TestChange] = []
    for key, result in tonight.items():
        old = before.get(key)
        if old is None:
            new.append(TestChange.of(result, before=None, after=result.outcome))
            continue
        was, now = _verdict(old.outcome), _verdict(result.outcome)
        change = TestChange.of(result, before=old.outcome, after=result.outcome)
        if was is True and now is False:
            regressions.append(change)
        elif was is False and now is True:
            fixes.append(change)
        elif was is False and now is False:
            still.append(change)
    removed = [
        TestChange.of(old, before=old.outcome, after=None)
        for key, old in before.items()
        if key not in tonight
    ]
    return NightDiff(
        night_id=current.night_id,
        previous_id=previous.night_id,
        regressions=_sort(regressions),
        fixes=_sort(fixes),
        new=_sort(new),
        removed=_sort(removed),
        flaky=_sort(flaky),
        still_failing=_sort(still),
        window=window_ids,
    )


def diff_against_history(
    night: Night,
    history: HistoryStore | None,
    *,
    since: str | None = None,
    window: int = FLIP_WINDOW,
) -> NightDiff:
    """:func:`diff_nights` with the nights taken from ``history``.

    The previous night is night ``since`` if given, else the last complete night
    begun before ``night`` (the latest complete one when ``night`` is not in the
    store). ``history=None`` gives a first-night diff.
    """
    if history is None:
        return diff_nights(night, None, window=window)
    stored = history.has_night(night.night_id)
    if since is not None:
        previous: Night | None = history.load_night(since)
        order = [s.night_id for s in history.list_nights()]
        if stored and order.index(since) >= order.index(night.night_id):
            raise ReportError(
                f"--since {since} is not earlier than the night being reported ({night.night_id})",
                fix="name an earlier night",
            )
    elif stored:
        previous = history.previous_complete_night(night.night_id)
    else:
        previous = history.latest_night()
    if stored:
        recent = history.last_n(window, upto=night.night_id)
    else:
        recent = [n for n in history.last_n(window) if n.night_id != night.night_id]
    return diff_nights(night, previous, recent, window=window)


# --- conformance ------------------------------------------------------------------------


class Conformance(StrEnum):
    """Verdict of one cell of the conformance matrix."""

    MATCH = "match"  # every device that ran answered the expected code
    MISMATCH = "mismatch"  # some device answered another code (or none)
    KNOWN = "known"  # mismatches, all on xfail-marked tests (known bugs)
    NOT_RUN = "not-run"  # every result was skipped


@dataclass(frozen=True, slots=True)
class Observation:
    """What one device answered for a conformance case."""

    device: str
    observed: CodeOrTimeout
    outcome: Outcome
    test_id: str
    trace: str | None = None

    def matches(self, expected: CodeOrTimeout) -> bool:
        """True when the device answered ``expected``."""
        return self.observed == expected


@dataclass(frozen=True, slots=True)
class ConformanceCell:
    """One (model, command, condition) case: the expected code and what devices answered."""

    model: str
    command: str
    condition: str | None
    expected: CodeOrTimeout
    observations: tuple[Observation, ...]

    @property
    def status(self) -> Conformance:
        """Match, mismatch, known (xfail) or not run."""
        ran = [o for o in self.observations if o.outcome is not Outcome.SKIPPED]
        if not ran:
            return Conformance.NOT_RUN
        wrong = [o for o in ran if not o.matches(self.expected)]
        if not wrong:
            return Conformance.MATCH
        if all(o.outcome is Outcome.XFAILED for o in wrong):
            return Conformance.KNOWN
        return Conformance.MISMATCH


def conformance(night: Night) -> list[ConformanceCell]:
    """The conformance matrix of ``night``: results that state a command and an expected code.

    Cells are sorted by command, condition, model; observations by device.
    """
    groups: dict[tuple[str, str, str | None, str], list[TestResult]] = {}
    for r in night.results:
        if r.command is None or r.expected is None:
            continue
        key = (r.command, r.condition or "", r.model, repr(r.expected))
        groups.setdefault(key, []).append(r)
    cells = []
    for (_command, _condition, _model, _expected), results in sorted(groups.items()):
        first = results[0]
        assert first.command is not None  # filtered above; narrows for mypy
        cells.append(
            ConformanceCell(
                model=first.model,
                command=first.command,
                condition=first.condition,
                expected=first.expected,
                observations=tuple(
                    Observation(r.device, r.observed, r.outcome, r.test_id, r.trace)
                    for r in sorted(results, key=lambda r: (r.device, r.test_id))
                ),
            )
        )
    return cells


# --- coverage of the seed's codes ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which codes of the seed table a night asserted, against those valid in its plugin version.

    ``valid`` is ``None`` when the night's plugin version cannot be parsed (an
    old or hand-edited store); ``outside`` lists asserted codes that do not
    exist in that version (a test asserting a code the plugin cannot return).
    """

    plugin_version: str
    valid: tuple[int, ...] | None
    asserted: tuple[int, ...]

    @property
    def covered(self) -> tuple[int, ...]:
        """Valid codes that were asserted."""
        if self.valid is None:
            return self.asserted
        chosen = set(self.asserted)
        return tuple(c for c in self.valid if c in chosen)

    @property
    def missing(self) -> tuple[int, ...]:
        """Valid codes no test asserted."""
        if self.valid is None:
            return ()
        chosen = set(self.asserted)
        return tuple(c for c in self.valid if c not in chosen)

    @property
    def outside(self) -> tuple[int, ...]:
        """Asserted codes that are not valid in the plugin version."""
        if self.valid is None:
            return ()
        allowed = set(self.valid)
        return tuple(c for c in self.asserted if c not in allowed)

    @property
    def ratio(self) -> float | None:
        """Covered / valid, or None when unknown."""
        if not self.valid:
            return None
        return len(self.covered) / len(self.valid)


def coverage(night: Night) -> Coverage:
    """The seed-code coverage of ``night`` (codes valid in ``night.plugin_version``)."""
    try:
        version = PluginVersion.parse(night.plugin_version)
    except PluginVersionError:
        return Coverage(night.plugin_version, None, tuple(night.seed_codes_asserted))
    valid = tuple(entry.code for entry in valid_in(version))
    return Coverage(str(version), valid, tuple(night.seed_codes_asserted))


# --- trend ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One night on the trend plot."""

    night_id: str
    started: datetime
    complete: bool
    pass_rate: float | None
    median_latency_ms: float | None
    passed: int
    failed: int
    total: int


def trend(nights: Sequence[Night]) -> list[TrendPoint]:
    """Pass rate and median latency of each night, in the given (oldest-first) order."""
    points = []
    for night in nights:
        counts = night.counts
        points.append(
            TrendPoint(
                night_id=night.night_id,
                started=night.started,
                complete=night.complete,
                pass_rate=night.pass_rate,
                median_latency_ms=night.median_latency_ms,
                passed=counts[Outcome.PASSED],
                failed=counts[Outcome.FAILED] + counts[Outcome.ERROR],
                total=len(night.results),
            )
        )
    return points
