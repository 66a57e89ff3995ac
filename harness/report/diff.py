"""Comparisons a night report makes: each test against its own past, expected vs observed code.

* :func:`diff_nights` — this night, test by test and device by device, against
  **each test's own last result** on that device (:class:`~.history.TestHistory`):
  a filtered or interrupted night in between never erases a test's history, and
  a test that did not run last time is still compared with the last time it did.
  The lists:

  - **regressions** (last verdict passed → failed/error) and **fixes** (failed/error → passed),
  - **lost coverage** (passed last time → skipped tonight, or not run in a night
    that meant to run everything), each with its reason, e.g. ``"broken at
    bring-up: failed with code 10002 CONNECT_TIMEOUT …"``,
  - **new** (never ran on that device before) and **removed** (in the previous
    full night, gone from tonight's full run),
  - **still failing**,
  - flaky, split in two findings: **passed on retry** (tonight it passed only when
    run again) and **flip-flop** (failing now, after its verdict changed at least
    :data:`FLIP_MIN_CHANGES` times in its last :data:`FLIP_WINDOW` runs). A test that
    is passing again is not flip-flop flaky: a regression fixed the next night is
    a regression and a fix, not a flaky test on the nights after.

  "The previous night" (the headline's) is the last :attr:`~.model.Night.full` one:
  complete and not filtered. :func:`diff_against_history` takes the histories
  from a history store.
* :func:`conformance` — the error-code conformance matrix: per (model, command,
  condition) the expected code (or timeout) and what each device answered.
* :func:`coverage` — which codes of the seed table (valid in the night's plugin
  version, :func:`ttlock_hil.protocol.codes.valid_in`) the night's tests asserted.
* :func:`trend` — failures, pass rate and median latency per night, for the trend plot.

Skipped and xfailed results are neither pass nor fail: a test skipped tonight is
not a regression, a fix or a flip (it may be lost coverage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any, ClassVar, Final

from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.history import HistoryStore, PastResult, TestHistory
from ttlock_hil.harness.report.model import CodeOrTimeout, Night, NightStats, Outcome, TestResult
from ttlock_hil.harness.report.triage import (
    FailureCategory,
    failure_category,
    lost_coverage_reason,
)
from ttlock_hil.protocol.codes import PluginVersion, PluginVersionError, valid_in

__all__ = [
    "DIFF_FORMAT",
    "DIFF_FORMAT_VERSION",
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
    "histories_from",
    "trend",
]

FLIP_WINDOW: Final = 5
"""How many of a test's runs (tonight's included) the flip-flop check looks at."""

FLIP_MIN_CHANGES: Final = 2
"""Verdict changes within the window that make a failing test flip-flop (pass→fail→pass→fail
is 3; fail→pass→fail is 2)."""

DIFF_FORMAT: Final = "ttlock-hil/diff"
DIFF_FORMAT_VERSION: Final = 2
"""``diff.json``: version 2 split flaky into ``passed_on_retry`` and ``flip_flops`` and added
``lost_coverage``; ``flaky`` (both together) stays for readers of version 1."""


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

    ``before`` is the outcome the test is compared with — its own last verdict
    (regressions, fixes, still failing) or last result (lost coverage) — taken in
    night ``baseline_id``; ``after`` tonight's (``None`` where it did not run).
    ``message`` and ``trace`` come from tonight's result (the earlier one for a
    removed test; the bring-up's trace for coverage lost to a broken device).
    ``reason`` explains a flaky or lost-coverage entry. ``history`` is the
    outcome of the test's last runs, oldest first (flip-flops). ``category`` is
    the failure's pile when it fails tonight.
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
    baseline_id: str | None = None
    category: FailureCategory | None = None

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
        baseline: PastResult | None = None,
        trace: str | None = None,
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
            trace=trace if trace is not None else result.trace,
            reason=reason,
            history=history,
            baseline_id=baseline.night_id if baseline is not None else None,
            category=failure_category(result) if after is not None else None,
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
            "baseline_id": self.baseline_id,
            "category": self.category.value if self.category is not None else None,
        }


@dataclass(frozen=True, slots=True)
class NightDiff:
    """What changed in night ``night_id``, each test against its own past.

    ``previous_id`` is the last full night before it (``None`` when there is
    none); ``partial`` says why this night is partial (filtered, interrupted:
    :attr:`~.model.Night.partial_reason`), ``None`` for a full night.
    ``compared`` is False for a night with no earlier result of any test: then
    nothing is new, fixed or regressed, but passed-on-retry tests are listed.
    ``baselines`` are the nights the compared results came from, oldest first.
    """

    night_id: str
    previous_id: str | None
    regressions: tuple[TestChange, ...] = ()
    fixes: tuple[TestChange, ...] = ()
    lost_coverage: tuple[TestChange, ...] = ()
    new: tuple[TestChange, ...] = ()
    removed: tuple[TestChange, ...] = ()
    passed_on_retry: tuple[TestChange, ...] = ()
    flip_flops: tuple[TestChange, ...] = ()
    still_failing: tuple[TestChange, ...] = ()
    partial: str | None = None
    compared: bool = True
    baselines: tuple[str, ...] = ()

    SECTIONS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("regressions", "Regressions (passed → failed)"),
        ("lost_coverage", "Lost coverage (passed → skipped or not run)"),
        ("flip_flops", "Flaky: flip-flop (failing now, verdict keeps changing)"),
        ("passed_on_retry", "Flaky: passed on retry"),
        ("fixes", "Fixes (failed → passed)"),
        ("still_failing", "Still failing"),
        ("new", "New tests"),
        ("removed", "Removed tests"),
    )
    """``(attribute, title)`` of each list, in the order reports show them."""

    @property
    def has_previous(self) -> bool:
        """True when there was a previous full night."""
        return self.previous_id is not None

    @property
    def flaky(self) -> tuple[TestChange, ...]:
        """Both flaky findings together (passed on retry, then flip-flops)."""
        return self.passed_on_retry + self.flip_flops

    def section(self, name: str) -> tuple[TestChange, ...]:
        """One of the lists by attribute name (``"regressions"``, ``"lost_coverage"``…)."""
        if name not in {attr for attr, _ in self.SECTIONS}:
            raise KeyError(name)
        changes: tuple[TestChange, ...] = getattr(self, name)
        return changes

    def counts(self) -> str:
        """``"1 regression, 0 lost coverage, 0 fixes, …"``: every list's length."""
        return ", ".join(
            [
                _count(len(self.regressions), "regression", "regressions"),
                f"{len(self.lost_coverage)} lost coverage",
                _count(len(self.fixes), "fix", "fixes"),
                f"{len(self.new)} new",
                f"{len(self.removed)} removed",
                f"{len(self.passed_on_retry)} passed on retry",
                _count(len(self.flip_flops), "flip-flop", "flip-flops"),
                f"{len(self.still_failing)} still failing",
            ]
        )

    def headline(self) -> str:
        """One line, e.g. ``"N vs P: 1 regression, 0 lost coverage, 0 fixes, 2 new, …"``."""
        night = self.night_id + (f" ({self.partial})" if self.partial else "")
        if not self.compared:
            retry = f"; {len(self.passed_on_retry)} passed on retry" if self.passed_on_retry else ""
            return f"no earlier night to compare {night} with{retry}"
        against = self.previous_id if self.previous_id is not None else "earlier partial nights"
        return f"{night} vs {against}: {self.counts()}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``diff.json``)."""
        document: dict[str, Any] = {
            "format": DIFF_FORMAT,
            "format_version": DIFF_FORMAT_VERSION,
            "night_id": self.night_id,
            "previous_id": self.previous_id,
            "partial": self.partial,
            "compared": self.compared,
            "baselines": list(self.baselines),
        }
        for name, _ in self.SECTIONS:
            document[name] = [c.to_dict() for c in self.section(name)]
        document["flaky"] = [c.to_dict() for c in self.flaky]
        return document


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _sort(changes: list[TestChange]) -> tuple[TestChange, ...]:
    return tuple(sorted(changes, key=lambda c: (c.test_id, c.device)))


def histories_from(
    nights: Sequence[Night], *, depth: int = FLIP_WINDOW - 1
) -> dict[tuple[str, str], TestHistory]:
    """Each test's past in ``nights`` (oldest first), as the history store would give it."""
    recent: dict[tuple[str, str], list[PastResult]] = {}
    verdict: dict[tuple[str, str], PastResult] = {}
    for night in reversed(nights):
        for result in night.results:
            past = PastResult(
                night.night_id, result.outcome, result.attempts, result.message, result.trace
            )
            runs = recent.setdefault(result.key, [])
            if len(runs) < depth:
                runs.append(past)
            if result.key not in verdict and _verdict(result.outcome) is not None:
                verdict[result.key] = past
    return {
        key: TestHistory(key[0], key[1], tuple(runs), verdict.get(key))
        for key, runs in recent.items()
    }


def diff_nights(
    current: Night,
    previous: Night | None,
    histories: Mapping[tuple[str, str], TestHistory] | None = None,
    *,
    window: int = FLIP_WINDOW,
    min_changes: int = FLIP_MIN_CHANGES,
) -> NightDiff:
    """Compare ``current``, test by test, with each test's own past.

    ``histories`` are the tests' earlier results (:meth:`HistoryStore.test_histories`,
    or :func:`histories_from` a list of nights); without them the only past is
    ``previous``. ``previous`` is the last full night (``None``: there is none): the
    headline's reference, and what "removed" is judged against.
    """
    if histories is None:
        histories = histories_from([previous] if previous is not None else [])
    tonight = current.by_key
    compared = bool(histories) or previous is not None
    lists: dict[str, list[TestChange]] = {name: [] for name, _ in NightDiff.SECTIONS}
    used: set[str] = set()
    for key, result in tonight.items():
        past = histories.get(key)
        now = _verdict(result.outcome)
        if result.flaky:
            lists["passed_on_retry"].append(
                TestChange.of(
                    result,
                    before=past.last.outcome if past and past.last else None,
                    after=result.outcome,
                    reason=f"passed only on attempt {result.attempts}",
                    baseline=past.last if past else None,
                )
            )
        if past is None:
            if compared:
                lists["new"].append(TestChange.of(result, before=None, after=result.outcome))
            continue
        baseline = past.last_verdict
        was = _verdict(baseline.outcome) if baseline is not None else None
        if baseline is not None and was is not None and now is not None:
            change = TestChange.of(
                result, before=baseline.outcome, after=result.outcome, baseline=baseline
            )
            if was and not now:
                lists["regressions"].append(change)
                used.add(baseline.night_id)
            elif not was and now:
                lists["fixes"].append(change)
                used.add(baseline.night_id)
            elif not was and not now:
                lists["still_failing"].append(change)
                used.add(baseline.night_id)
        last = past.last
        lost = last is not None and last.outcome is Outcome.PASSED
        if result.outcome is Outcome.SKIPPED and last is not None and lost:
            why = lost_coverage_reason(result)
            lists["lost_coverage"].append(
                TestChange.of(
                    result,
                    before=last.outcome,
                    after=result.outcome,
                    reason=why.text,
                    baseline=last,
                    trace=why.trace,
                )
            )
            used.add(last.night_id)
        if now is False and window > 1:
            runs = [r.outcome for r in reversed(past.recent[: window - 1])] + [result.outcome]
            verdicts = [v for v in (_verdict(o) for o in runs) if v is not None]
            flips = sum(1 for a, b in pairwise(verdicts) if a != b)
            if flips >= min_changes:
                lists["flip_flops"].append(
                    TestChange.of(
                        result,
                        before=runs[-2] if len(runs) > 1 else None,
                        after=result.outcome,
                        reason=f"failing now; verdict changed {flips} times in its last "
                        f"{len(runs)} runs",
                        history=tuple(runs),
                        baseline=past.last,
                    )
                )

    if previous is not None and current.selection is None:
        configured = {d.name for d in current.devices}
        for key, old in previous.by_key.items():
            if key in tonight:
                continue
            if current.complete:
                gone = (
                    f"device {old.device} is no longer configured"
                    if configured and old.device not in configured
                    else None
                )
                lists["removed"].append(
                    TestChange(
                        test_id=old.test_id,
                        device=old.device,
                        name=old.name,
                        model=old.model,
                        before=old.outcome,
                        after=None,
                        message=old.message,
                        trace=None,  # the trace lives in the previous night's directory
                        reason=gone,
                        baseline_id=previous.night_id,
                    )
                )
                continue
            past = histories.get(key)
            last = past.last if past is not None else None
            if last is not None and last.outcome is Outcome.PASSED:
                not_run = "not run: " + (current.partial_reason or "the night did not finish")
                lists["lost_coverage"].append(
                    TestChange(
                        test_id=old.test_id,
                        device=old.device,
                        name=old.name,
                        model=old.model,
                        before=last.outcome,
                        after=None,
                        reason=not_run,
                        baseline_id=last.night_id,
                    )
                )
                used.add(last.night_id)

    return NightDiff(
        night_id=current.night_id,
        previous_id=previous.night_id if previous is not None else None,
        partial=current.partial_reason,
        compared=compared,
        baselines=tuple(sorted(used)),
        **{name: _sort(changes) for name, changes in lists.items()},
    )


def diff_against_history(
    night: Night,
    history: HistoryStore | None,
    *,
    since: str | None = None,
    window: int = FLIP_WINDOW,
) -> NightDiff:
    """:func:`diff_nights` with each test's past taken from ``history``.

    The previous night is the last full night begun before ``night`` (the latest
    full one when ``night`` is not in the store). ``since`` names another night to
    compare with instead: then every test is compared with its result in that
    night only (two nights side by side). ``history=None`` gives a first-night diff.
    """
    if history is None:
        return diff_nights(night, None, {}, window=window)
    stored = history.has_night(night.night_id)
    before = night.night_id if stored else None
    if since is not None:
        chosen = history.load_night(since)
        order = [s.night_id for s in history.list_nights()]
        if stored and order.index(since) >= order.index(night.night_id):
            raise ReportError(
                f"--since {since} is not earlier than the night being reported ({night.night_id})",
                fix="name an earlier night",
            )
        return diff_nights(night, chosen, histories_from([chosen]), window=window)
    previous = history.previous_full_night(before)
    histories = history.test_histories(before, depth=max(window - 1, 1))
    return diff_nights(night, previous, histories, window=window)


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
    """One night on the trend plot: its counts, pass rate and median latency.

    ``partial`` is why the night is partial (filtered, interrupted), ``None`` for a full one.
    """

    night_id: str
    started: datetime
    complete: bool
    pass_rate: float | None
    median_latency_ms: float | None
    passed: int
    failed: int
    total: int
    errors: int = 0
    skipped: int = 0
    partial: str | None = None

    @property
    def failures(self) -> int:
        """Failed and errored results (``failed`` counts both)."""
        return self.failed


def trend(nights: Sequence[Night | NightStats]) -> list[TrendPoint]:
    """Counts, pass rate and median latency of each night, in the given (oldest-first) order."""
    points = []
    for night in nights:
        stats = night if isinstance(night, NightStats) else NightStats.of(night)
        counts = stats.counts
        points.append(
            TrendPoint(
                night_id=stats.night_id,
                started=stats.started,
                complete=stats.complete,
                pass_rate=stats.pass_rate,
                median_latency_ms=stats.median_latency_ms,
                passed=counts[Outcome.PASSED],
                failed=counts[Outcome.FAILED] + counts[Outcome.ERROR],
                total=stats.total,
                errors=counts[Outcome.ERROR],
                skipped=counts[Outcome.SKIPPED],
                partial=stats.partial_reason,
            )
        )
    return points
