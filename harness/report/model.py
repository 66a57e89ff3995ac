"""What one night ran and how it went: frozen dataclasses that round-trip through JSON.

A :class:`Night` is the whole record of one nightly run: when, on which bench,
with which harness and plugin version, the devices (:class:`DeviceInfo`) and one
:class:`TestResult` per test and device. ``night.to_dict()`` is what
``results.json`` holds and :meth:`Night.from_dict` reads it back (equal to the
original). :class:`NightMeta` is the part known before the first test runs
(what :meth:`ttlock_hil.harness.report.history.HistoryStore.begin_night` takes).

Results are keyed by ``(test_id, device)``: ``test_id`` is the pytest node id
*without* the device parameter (``tests/hil/test_lock.py::test_unlock``), so the
same test on two devices is two results and the same test on the same device
can be followed from night to night.

Expected and observed codes are TTLock error codes (``int``, see
:mod:`ttlock_hil.protocol.codes`), the string ``"timeout"`` (:data:`TIMEOUT`: the test
expects or saw no reply in time) or ``None`` (the test states no code / none
was observed).

Invalid values raise :class:`~ttlock_hil.harness.report.ReportError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias

from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.version import harness_version as installed_version

if TYPE_CHECKING:
    from ttlock_hil.harness.config import DeviceConfig
    from ttlock_hil.protocol.codes import PluginVersion

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MESSAGE_LIMIT",
    "TIMEOUT",
    "CodeOrTimeout",
    "DeviceInfo",
    "LatencyStats",
    "Night",
    "NightMeta",
    "NightStats",
    "Outcome",
    "TestResult",
    "append_result",
    "codes_asserted",
    "latency_stats",
    "new_night_id",
    "percentile",
    "read_results",
    "shorten",
]

TIMEOUT: Final = "timeout"
"""Stands for "no reply within the deadline" where a code would otherwise be."""

CodeOrTimeout: TypeAlias = int | Literal["timeout"] | None
"""An expected or observed result: a TTLock error code, ``"timeout"`` or ``None``."""

FORMAT: Final = "ttlock-hil/night"
"""The ``format`` key of ``results.json``, so a reader can tell what it holds."""

FORMAT_VERSION: Final = 3
"""Bumped when ``results.json`` changes incompatibly; :meth:`Night.from_dict` refuses newer.

Version 2 added ``selection``, ``interrupted`` and ``redacted`` to a night and ``config``
to a device; version 1 documents read back with their defaults (a whole, redacted night).
Version 3 added ``tier`` (where the lab's simulated devices ran, docs/tiers.md); older
documents read back as ``virtual``.
"""

_NIGHT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")

MESSAGE_LIMIT: Final = 2000
"""Longest failure message kept (characters); :func:`shorten` cuts to it."""


class Outcome(StrEnum):
    """How one test ended on one device (pytest's outcomes, retries folded in).

    pytest's non-strict ``xpassed`` is recorded as PASSED (the test did pass);
    a strict xpass is a pytest failure and is FAILED.
    """

    PASSED = "passed"
    FAILED = "failed"  # an assertion failed: the device did not do what the test expects
    SKIPPED = "skipped"  # not applicable, feature missing, device broken earlier
    ERROR = "error"  # the test could not run: fixture/bring-up error
    XFAILED = "xfailed"  # failed as the test declares it is expected to (known bug)

    @property
    def is_failure(self) -> bool:
        """True for outcomes a night is red for (failed, error)."""
        return self in (Outcome.FAILED, Outcome.ERROR)


def _fail(where: str, problem: str, fix: str) -> ReportError:
    return ReportError(f"{where}: {problem}", fix=fix)


def _check_str(where: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or (not optional and not value):
        kind = "a string or null" if optional else "a non-empty string"
        raise _fail(where, f"{name} must be {kind}, got {value!r}", f"pass {name} as text")


def _check_code(where: str, name: str, value: object) -> None:
    if value is None or value == TIMEOUT:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(
            where,
            f"{name} must be an error code (int), {TIMEOUT!r} or null, got {value!r}",
            f"give {name} as a TTLock error code such as 30, or {TIMEOUT!r}",
        )


def _check_number(where: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise _fail(
            where,
            f"{name} must be a finite number >= 0, got {value!r}",
            f"measure {name} with a monotonic clock",
        )


def _check_battery(where: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise _fail(
            where,
            f"battery must be a percentage 0..100 or null, got {value!r}",
            "report the battery level the device advertises (percent)",
        )


def _aware(where: str, name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise _fail(where, f"{name} must be a datetime, got {value!r}", "pass datetime.now(UTC)")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(
            where,
            f"{name} must be timezone-aware, got naive {value.isoformat()}",
            "pass datetime.now(UTC)",
        )
    return value.astimezone(UTC)


def _parse_time(where: str, name: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise _fail(where, f"{name} must be an ISO 8601 string, got {value!r}", "fix the file")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(where, f"{name} is not an ISO 8601 time: {value!r}", "fix the file") from None
    return _aware(where, name, parsed)


def _check_night_id(value: object) -> None:
    if not isinstance(value, str) or not _NIGHT_ID.match(value):
        raise _fail(
            "night",
            f"night_id must be file-name safe (letters, digits, '.', '-', '_'), got {value!r}",
            "derive it with new_night_id(started)",
        )


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (with a note saying how much was cut)."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[:limit] + f"… [{cut} more characters]"


def new_night_id(started: datetime) -> str:
    """The id of a night that started at ``started``: ``"2026-11-30T02-00-00Z"`` (UTC).

    File-name safe (it names the night's report directory) and sorts like the time.
    """
    return _aware("night", "started", started).strftime("%Y-%m-%dT%H-%M-%SZ")


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test on one device.

    ``attempts`` counts the runs (1 = first try); a test that *passed* with
    ``attempts > 1`` passed only on a retry and is reported as flaky.
    ``latency_ms`` is the command's round trip (request written → reply parsed)
    when the test measured one. ``trace`` is the frame trace file relative to
    the night's report directory. ``firmware``/``battery`` are the device's at
    the start of the test, when known.
    """

    __test__: ClassVar[bool] = False  # a data class, not a pytest test class

    test_id: str
    name: str
    device: str
    model: str
    outcome: Outcome
    duration_s: float
    expected: CodeOrTimeout = None
    observed: CodeOrTimeout = None
    command: str | None = None
    condition: str | None = None
    latency_ms: float | None = None
    attempts: int = 1
    message: str | None = None
    trace: str | None = None
    firmware: str | None = None
    battery: int | None = None

    def __post_init__(self) -> None:
        where = f"result {self.test_id!r}"
        _check_str(where, "test_id", self.test_id)
        where = f"result {self.test_id!r} [{self.device!r}]"
        for name in ("name", "device", "model"):
            _check_str(where, name, getattr(self, name))
        try:
            object.__setattr__(self, "outcome", Outcome(self.outcome))
        except ValueError:
            choices = ", ".join(o.value for o in Outcome)
            raise _fail(
                where, f"outcome {self.outcome!r} is not one of {choices}", f"use one of {choices}"
            ) from None
        _check_number(where, "duration_s", self.duration_s)
        _check_code(where, "expected", self.expected)
        _check_code(where, "observed", self.observed)
        for name in ("command", "condition", "message", "firmware"):
            _check_str(where, name, getattr(self, name), optional=True)
        _check_number(where, "latency_ms", self.latency_ms, optional=True)
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise _fail(where, f"attempts must be an int, got {self.attempts!r}", "count runs")
        if self.attempts < 1:
            raise _fail(where, f"attempts must be >= 1, got {self.attempts}", "count the first run")
        _check_battery(where, self.battery)
        if self.trace is not None:
            _check_str(where, "trace", self.trace)
            if _is_absolute_or_url(self.trace):
                raise _fail(
                    where,
                    f"trace must be a path relative to the night's directory, got {self.trace!r}",
                    "store traces under the night's directory and give the relative path",
                )

    @property
    def key(self) -> tuple[str, str]:
        """``(test_id, device)``: what identifies this result from night to night."""
        return (self.test_id, self.device)

    @property
    def flaky(self) -> bool:
        """True when the test passed only on a retry."""
        return self.outcome is Outcome.PASSED and self.attempts > 1

    @property
    def conforms(self) -> bool | None:
        """Whether the observed code is the expected one (``None`` when nothing is expected)."""
        if self.expected is None:
            return None
        return self.observed == self.expected

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (every field, ``outcome`` as its string)."""
        return {
            "test_id": self.test_id,
            "name": self.name,
            "device": self.device,
            "model": self.model,
            "outcome": self.outcome.value,
            "duration_s": self.duration_s,
            "expected": self.expected,
            "observed": self.observed,
            "command": self.command,
            "condition": self.condition,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
            "message": self.message,
            "trace": self.trace,
            "firmware": self.firmware,
            "battery": self.battery,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestResult:
        """The inverse of :meth:`to_dict`; unknown or missing keys are a ReportError."""
        return cls(**_fields_of(cls, data, "result"))


def _is_absolute_or_url(path: str) -> bool:
    # A trace becomes an href in report.html: anything with a scheme ("javascript:",
    # "https:") or an absolute path would escape the night's directory.
    posix = PurePosixPath(path.replace("\\", "/"))
    return posix.is_absolute() or ":" in path or path.startswith("//")


def _fields_of(cls: type, data: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail(what, f"expected an object, got {type(data).__name__}", "fix the file")
    declared = dataclasses.fields(cls)
    names = [f.name for f in declared]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise _fail(
            what,
            f"unknown key(s) {', '.join(unknown)}",
            f"keys are: {', '.join(names)} (a newer ttlock-hil wrote this?)",
        )
    required = [
        f.name
        for f in declared
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise _fail(what, f"missing key(s) {', '.join(missing)}", "fix the file")
    return dict(data)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as the night saw it: name/model from the lab config, firmware from the device.

    ``config`` is the device's entry of the lab config (everything but its name) as
    canonical JSON — what a report compares with the device's previous night to say
    "config changed". It never holds a secret: the config refuses inline credentials,
    so ``credentials`` is a reference (``env:NAME``, ``file:path``) at most.
    """

    name: str
    model: str
    kind: str
    address: str
    firmware: str | None = None
    battery: int | None = None
    config: str | None = None

    def __post_init__(self) -> None:
        where = f"device {self.name!r}"
        for name in ("name", "model", "kind", "address"):
            _check_str(where, name, getattr(self, name))
        _check_str(where, "firmware", self.firmware, optional=True)
        _check_battery(where, self.battery)
        _check_str(where, "config", self.config, optional=True)
        if self.config is not None:
            try:
                settings = json.loads(self.config)
            except json.JSONDecodeError:
                settings = None
            if not isinstance(settings, dict):
                raise _fail(
                    where,
                    f"config must be a JSON object, got {self.config!r}",
                    "build it with DeviceInfo.from_config",
                )

    @property
    def settings(self) -> dict[str, Any]:
        """:attr:`config` as a dict (empty when unknown)."""
        return dict(json.loads(self.config)) if self.config is not None else {}

    def config_changes(self, before: DeviceInfo) -> list[str]:
        """What differs in this device's config from ``before`` (the same device another
        night): ``["address: sim:a → sim:b"]``; empty when equal or when either is unknown."""
        if self.config is None or before.config is None or self.config == before.config:
            return []
        now, then = self.settings, before.settings
        changes = []
        for key in sorted(set(now) | set(then)):
            if now.get(key) != then.get(key):
                changes.append(f"{key}: {_setting(then.get(key))} → {_setting(now.get(key))}")
        return changes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "model": self.model,
            "kind": self.kind,
            "address": self.address,
            "firmware": self.firmware,
            "battery": self.battery,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceInfo:
        """The inverse of :meth:`to_dict`."""
        return cls(**_fields_of(cls, data, "device"))

    @classmethod
    def from_config(
        cls, device: DeviceConfig, *, firmware: str | None = None, battery: int | None = None
    ) -> DeviceInfo:
        """The entry of a configured device, with what the device reported about itself."""
        settings = device.model_dump(mode="json", exclude={"name"})
        return cls(
            name=device.name,
            model=device.model,
            kind=str(device.kind.value),
            address=device.address,
            firmware=firmware,
            battery=battery,
            config=json.dumps(settings, sort_keys=True, ensure_ascii=False),
        )


def _setting(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _check_devices(where: str, devices: tuple[DeviceInfo, ...]) -> None:
    seen: set[str] = set()
    for device in devices:
        if not isinstance(device, DeviceInfo):
            raise _fail(where, f"devices must be DeviceInfo, got {device!r}", "build DeviceInfo")
        if device.name in seen:
            raise _fail(where, f"device {device.name!r} is listed twice", "list each device once")
        seen.add(device.name)


@dataclass(frozen=True, slots=True)
class NightMeta:
    """What is known about a night before its first test: where, when, with what.

    ``night_id`` is derived from ``started`` (see :func:`new_night_id`) unless
    given; the history store may append ``-2``, ``-3``… when two nights start in
    the same second. ``selection`` is ``None`` for a run of the whole suite, else
    what narrowed it (the pytest arguments, e.g. ``"-k unlock"``): such a night is
    *partial* and never serves as the previous night. ``redacted`` is False when
    the lab config said ``redact: false`` (its files may hold secrets).
    """

    started: datetime
    bench: str
    harness_version: str
    plugin_version: str
    devices: Sequence[DeviceInfo] = ()
    git_sha: str | None = None
    night_id: str | None = None
    selection: str | None = None
    redacted: bool = True
    tier: str = "virtual"

    def __post_init__(self) -> None:
        object.__setattr__(self, "started", _aware("night", "started", self.started))
        _check_str("night", "tier", self.tier)
        object.__setattr__(self, "devices", tuple(self.devices))
        for name in ("bench", "harness_version", "plugin_version"):
            _check_str("night", name, getattr(self, name))
        _check_str("night", "git_sha", self.git_sha, optional=True)
        _check_str("night", "selection", self.selection, optional=True)
        if not isinstance(self.redacted, bool):
            raise _fail("night", f"redacted must be a bool, got {self.redacted!r}", "use True")
        if self.night_id is not None:
            _check_night_id(self.night_id)
        _check_devices("night", self.devices)  # type: ignore[arg-type]

    @classmethod
    def starting(
        cls,
        *,
        bench: str,
        plugin_version: str | PluginVersion,
        devices: Iterable[DeviceInfo] = (),
        harness_version: str | None = None,
        git_sha: str | None = None,
        started: datetime | None = None,
        selection: str | None = None,
        redacted: bool = True,
        tier: str = "virtual",
    ) -> NightMeta:
        """The meta of a night starting now (or at ``started``).

        ``harness_version`` defaults to the installed ttlock-hil's version.
        """
        return cls(
            started=started if started is not None else datetime.now(UTC),
            bench=bench,
            harness_version=harness_version if harness_version is not None else installed_version(),
            plugin_version=str(plugin_version),
            devices=tuple(devices),
            git_sha=git_sha,
            selection=selection,
            redacted=redacted,
            tier=tier,
        )


@dataclass(frozen=True, slots=True)
class Night:
    """One nightly run: its metadata, devices and results.

    ``complete`` is False for a night that never finished (killed, crashed, or
    still running); ``interrupted`` names the signal that stopped it
    (``"SIGTERM"``, ``"SIGINT"``) when the nightly was told to stop. ``selection``
    is what narrowed the run (``None``: the whole suite). A night that is not
    :attr:`full` is *partial* (:attr:`partial_reason`): its results still count
    as each test's last result, but it never serves as "the previous night".
    ``redacted`` is False when the lab said ``redact: false``.
    ``seed_codes_asserted`` are the error codes the night's tests asserted (see
    :func:`codes_asserted`). Sequences are stored as tuples.
    """

    night_id: str
    started: datetime
    finished: datetime | None
    complete: bool
    bench: str
    harness_version: str
    plugin_version: str
    git_sha: str | None = None
    devices: Sequence[DeviceInfo] = ()
    results: Sequence[TestResult] = ()
    seed_codes_asserted: Sequence[int] = ()
    selection: str | None = None
    interrupted: str | None = None
    redacted: bool = True
    tier: str = "virtual"

    def __post_init__(self) -> None:
        _check_night_id(self.night_id)
        where = f"night {self.night_id!r}"
        _check_str(where, "selection", self.selection, optional=True)
        _check_str(where, "interrupted", self.interrupted, optional=True)
        if self.interrupted is not None and self.complete:
            raise _fail(
                where,
                f"a complete night cannot be interrupted (by {self.interrupted})",
                "leave complete=False for a night that was stopped",
            )
        if not isinstance(self.redacted, bool):
            raise _fail(where, f"redacted must be a bool, got {self.redacted!r}", "use True")
        object.__setattr__(self, "started", _aware(where, "started", self.started))
        if self.finished is not None:
            finished = _aware(where, "finished", self.finished)
            if finished < self.started:
                raise _fail(
                    where,
                    f"finished {finished.isoformat()} is before started {self.started.isoformat()}",
                    "take both times from the same clock",
                )
            object.__setattr__(self, "finished", finished)
        if not isinstance(self.complete, bool):
            raise _fail(where, f"complete must be a bool, got {self.complete!r}", "use True/False")
        for name in ("bench", "harness_version", "plugin_version"):
            _check_str(where, name, getattr(self, name))
        _check_str(where, "git_sha", self.git_sha, optional=True)
        object.__setattr__(self, "devices", tuple(self.devices))
        object.__setattr__(self, "results", tuple(self.results))
        _check_devices(where, self.devices)  # type: ignore[arg-type]
        seen: set[tuple[str, str]] = set()
        for result in self.results:
            if not isinstance(result, TestResult):
                raise _fail(where, f"results must be TestResult, got {result!r}", "build them")
            if result.key in seen:
                raise _fail(
                    where,
                    f"test {result.test_id!r} on device {result.device!r} is reported twice",
                    "report each test once per device (fold retries into attempts=)",
                )
            seen.add(result.key)
        codes = []
        for code in self.seed_codes_asserted:
            if isinstance(code, bool) or not isinstance(code, int):
                raise _fail(where, f"seed_codes_asserted holds {code!r}", "list int codes only")
            codes.append(code)
        object.__setattr__(self, "seed_codes_asserted", tuple(sorted(set(codes))))

    # --- derived views --------------------------------------------------------------

    @property
    def meta(self) -> NightMeta:
        """The part of this night known before it ran."""
        return NightMeta(
            started=self.started,
            bench=self.bench,
            harness_version=self.harness_version,
            plugin_version=self.plugin_version,
            devices=self.devices,
            git_sha=self.git_sha,
            night_id=self.night_id,
            selection=self.selection,
            redacted=self.redacted,
            tier=self.tier,
        )

    @property
    def full(self) -> bool:
        """True for a complete run of the whole suite: the only kind of "previous night"."""
        return self.complete and self.selection is None

    @property
    def partial_reason(self) -> str | None:
        """Why this night is partial (``None`` for a :attr:`full` one), in a few words."""
        return _partial_reason(self.complete, self.selection, self.interrupted)

    @property
    def by_key(self) -> dict[tuple[str, str], TestResult]:
        """Results by ``(test_id, device)``."""
        return {r.key: r for r in self.results}

    @property
    def counts(self) -> dict[Outcome, int]:
        """How many results ended with each outcome (every outcome present, maybe 0)."""
        counter = Counter(r.outcome for r in self.results)
        return {outcome: counter.get(outcome, 0) for outcome in Outcome}

    @property
    def failures(self) -> tuple[TestResult, ...]:
        """The failed and errored results, in result order."""
        return tuple(r for r in self.results if r.outcome.is_failure)

    @property
    def duration_s(self) -> float:
        """Wall time of the night (sum of test durations while it has not finished)."""
        if self.finished is not None:
            return (self.finished - self.started).total_seconds()
        return float(sum(r.duration_s for r in self.results))

    @property
    def pass_rate(self) -> float | None:
        """Passed / (passed + failed + error); ``None`` when nothing ran to a verdict."""
        return _pass_rate(self.counts)

    @property
    def median_latency_ms(self) -> float | None:
        """Median command latency over every result that measured one."""
        return _median([r.latency_ms for r in self.results if r.latency_ms is not None])

    # --- JSON -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``results.json``."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "night_id": self.night_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished is not None else None,
            "complete": self.complete,
            "bench": self.bench,
            "harness_version": self.harness_version,
            "plugin_version": self.plugin_version,
            "git_sha": self.git_sha,
            "devices": [d.to_dict() for d in self.devices],
            "results": [r.to_dict() for r in self.results],
            "seed_codes_asserted": list(self.seed_codes_asserted),
            "selection": self.selection,
            "interrupted": self.interrupted,
            "redacted": self.redacted,
            "tier": self.tier,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (UTF-8 safe, non-ASCII kept)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Night:
        """Read a ``results.json`` document back (ReportError on anything unexpected)."""
        if not isinstance(data, Mapping):
            raise _fail("night", f"expected an object, got {type(data).__name__}", "fix the file")
        document = dict(data)
        fmt = document.pop("format", FORMAT)
        version = document.pop("format_version", FORMAT_VERSION)
        if fmt != FORMAT:
            raise _fail("night", f"format is {fmt!r}, not {FORMAT!r}", "pass a results.json")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise _fail(
                "night",
                f"format_version {version!r} is newer than this ttlock-hil reads "
                f"({FORMAT_VERSION})",
                "upgrade ttlock-hil",
            )
        fields = _fields_of(cls, document, "night")
        where = f"night {fields.get('night_id')!r}"
        fields["started"] = _parse_time(where, "started", fields.get("started"))
        if fields.get("finished") is not None:
            fields["finished"] = _parse_time(where, "finished", fields["finished"])
        for name, kind in (("devices", DeviceInfo), ("results", TestResult)):
            items = fields.get(name, [])
            if not isinstance(items, list):
                raise _fail(where, f"{name} must be a list", "fix the file")
            fields[name] = tuple(kind.from_dict(item) for item in items)
        codes = fields.get("seed_codes_asserted", [])
        if not isinstance(codes, list):
            raise _fail(where, "seed_codes_asserted must be a list", "fix the file")
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str) -> Night:
        """:meth:`from_dict` of JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(f"results JSON is malformed: {exc}", fix="regenerate it") from None
        return cls.from_dict(data)


def codes_asserted(results: Iterable[TestResult]) -> tuple[int, ...]:
    """The error codes that tests actually asserted (expected code of a test that ran).

    Skipped tests assert nothing; ``"timeout"`` is not a code. This is what
    :meth:`~.history.HistoryStore.finish_night` records unless told otherwise.
    """
    codes = {
        r.expected
        for r in results
        if isinstance(r.expected, int) and r.outcome is not Outcome.SKIPPED
    }
    return tuple(sorted(codes))


def append_result(path: str | Path, result: TestResult) -> None:
    """Append one result as a JSON line to ``path`` (created if missing).

    For a test runner in another process: each finished test is one flushed
    line, so a killed run leaves every result that completed.
    """
    line = json.dumps(result.to_dict(), ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()


def read_results(path: str | Path) -> list[TestResult]:
    """The results :func:`append_result` wrote, in order.

    A last line cut short by a kill is ignored; any other bad line is a ReportError
    naming the line.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    results: list[TestResult] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break  # the writer was killed mid-line
            raise ReportError(
                f"{path}:{number}: not a JSON result line", fix="regenerate the file"
            ) from None
        try:
            results.append(TestResult.from_dict(data))
        except ReportError as exc:
            raise ReportError(f"{path}:{number}: {exc.message}", fix=exc.fix) from None
    return results


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency percentiles of one command on one device (nearest-rank percentiles)."""

    command: str
    device: str
    count: int
    p50_ms: float
    p90_ms: float
    max_ms: float
    samples: tuple[float, ...] = field(default=(), repr=False)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of non-empty ``values``.

    Nearest rank (an observed value, no interpolation): with few samples per
    command a lab reads "p90 = 412 ms" as a latency that really happened.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return float(ordered[max(rank, 1) - 1])


def latency_stats(results: Iterable[TestResult]) -> list[LatencyStats]:
    """p50/p90/max latency per (command, device), sorted by command then device.

    Only results with both ``command`` and ``latency_ms`` count.
    """
    samples: dict[tuple[str, str], list[float]] = {}
    for r in results:
        if r.command is not None and r.latency_ms is not None:
            samples.setdefault((r.command, r.device), []).append(float(r.latency_ms))
    return [
        LatencyStats(
            command=command,
            device=device,
            count=len(values),
            p50_ms=percentile(values, 50),
            p90_ms=percentile(values, 90),
            max_ms=max(values),
            samples=tuple(values),
        )
        for (command, device), values in sorted(samples.items())
    ]


def _partial_reason(complete: bool, selection: str | None, interrupted: str | None) -> str | None:
    if interrupted is not None:
        return f"interrupted by {interrupted}"
    if not complete:
        return "incomplete: the run did not finish"
    if selection is not None:
        return f"filtered: {selection}"
    return None


def _pass_rate(counts: Mapping[Outcome, int]) -> float | None:
    ran = counts[Outcome.PASSED] + counts[Outcome.FAILED] + counts[Outcome.ERROR]
    return counts[Outcome.PASSED] / ran if ran else None


def _median(latencies: Sequence[float]) -> float | None:
    return float(statistics.median(latencies)) if latencies else None


@dataclass(frozen=True, slots=True)
class NightStats:
    """What a night's trend point shows of it: counts and latencies, not its results.

    A history store reads these with two queries per night
    (:meth:`~ttlock_hil.harness.report.history.HistoryStore.last_n_stats`) instead of
    loading every result; :meth:`of` makes them from a night in memory.
    """

    night_id: str
    started: datetime
    complete: bool
    counts: Mapping[Outcome, int]
    """Every outcome, maybe 0 (as :attr:`Night.counts`)."""
    median_latency_ms: float | None
    selection: str | None = None
    interrupted: str | None = None

    @classmethod
    def of(cls, night: Night) -> NightStats:
        return cls(
            night_id=night.night_id,
            started=night.started,
            complete=night.complete,
            counts=night.counts,
            median_latency_ms=night.median_latency_ms,
            selection=night.selection,
            interrupted=night.interrupted,
        )

    @classmethod
    def from_rows(
        cls,
        night_id: str,
        started: datetime,
        complete: bool,
        outcomes: Mapping[str, int],
        latencies: Sequence[float],
        *,
        selection: str | None = None,
        interrupted: str | None = None,
    ) -> NightStats:
        """From a store's rows: the count of each outcome value, the measured latencies."""
        return cls(
            night_id=night_id,
            started=started,
            complete=complete,
            counts={o: int(outcomes.get(o.value, 0)) for o in Outcome},
            median_latency_ms=_median(latencies),
            selection=selection,
            interrupted=interrupted,
        )

    @property
    def total(self) -> int:
        """How many results the night holds."""
        return sum(self.counts.values())

    @property
    def pass_rate(self) -> float | None:
        """As :attr:`Night.pass_rate`."""
        return _pass_rate(self.counts)

    @property
    def partial_reason(self) -> str | None:
        """As :attr:`Night.partial_reason`."""
        return _partial_reason(self.complete, self.selection, self.interrupted)
