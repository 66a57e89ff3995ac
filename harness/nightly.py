"""One night: run the HIL suite, keep its results, write the report.

:func:`run_nightly` is what ``ttlock-hil nightly`` (and ``make nightly``) does::

    outcome = run_nightly(config_path=None, out=None)   # hil-config.yaml, <reports>/
    print(outcome.html)                                  # reports/<night>/report.html

1. The lab config is loaded and checked first (a bad config is a usage error,
   before anything is recorded).
2. The bench is locked: an OS file lock in the history store's directory
   (:func:`~ttlock_hil.harness.benchlock.bench_lock`). A second nightly on the same
   bench stops at once with :class:`~ttlock_hil.harness.benchlock.BenchBusy` naming
   the holder's PID and start time.
3. pytest collects the suite once with the night's arguments (``--collect-only``):
   an argument pytest refuses, or a selection that matches no test, is a
   :class:`NightlyError` before anything is recorded. Extra arguments other than
   output options (``-q``, ``-v``, ``--tb=…``, ``-r…``…), or any deselected test, make
   the night **filtered**: its results count as each test's last result, but it
   never serves as "the previous night".
4. The night is **begun** in the history store (committed at once): a night
   killed from here on stays in the store as *incomplete*, never half-written.
5. The suite (``tests/hil``) runs in a pytest subprocess, in a process group of
   its own, with its progress on the terminal — the devices in parallel, in
   pytest-xdist workers (:func:`worker_count`), each device's tests on one worker
   in the serial order, the results gathered by pytest itself: ``--junitxml`` writes
   ``junit.xml``; the plugin writes the frame traces into ``traces/`` and one
   JSON line per test and device into ``results.jsonl`` (each line flushed, so a
   stopped run keeps what finished).
6. **SIGTERM and SIGINT** (systemd stop, a CI cancel, ``timeout``, Ctrl-C) are
   forwarded to that process group as SIGINT — pytest's own clean stop: fixtures
   torn down, links closed — and after :data:`STOP_GRACE_S` whatever is left of
   the group is killed. The results streamed so far are imported and the night is
   marked *interrupted* by that signal; the exit status is ``128 + signal``
   (130, 143). A second signal kills the group at once. On Linux the pytest
   process also dies if the nightly itself is killed outright (``kill -9``).
7. The results are recorded (one transaction) and the night finished (another).
8. ``report.html``, ``results.json`` and ``diff.json`` are written next to
   ``junit.xml``: each test compared with its own last result, the previous
   night being the last full one. They are readable by others (0644) unless the
   lab says ``redact: false``: then the night's files are the owner's only (0600).

Everything of the night is in ``<out>/<night id>/`` — the id is the UTC start
time (``2026-11-30T02-00-00Z``). :attr:`NightlyOutcome.exit_status`: 0 when no
test failed, 1 when some failed (or the run was cut short), 128 + the signal when
it was stopped; usage and config problems raise
:class:`~ttlock_hil.harness.errors.ConfigError` / :class:`NightlyError` (exit
status 2 at the CLI), a stop before the night began :class:`NightlyStopped`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Final

from ttlock_hil.harness.benchlock import bench_lock
from ttlock_hil.harness.config import LabConfig, default_config_path, load_config
from ttlock_hil.harness.errors import HarnessError
from ttlock_hil.harness.report.diff import NightDiff
from ttlock_hil.harness.report.history import HistoryStore, history_path
from ttlock_hil.harness.report.html import PRIVATE_MODE, file_mode, write_night_report, write_text
from ttlock_hil.harness.report.model import (
    DeviceInfo,
    Night,
    NightMeta,
    Outcome,
    TestResult,
    read_results,
)
from ttlock_hil.harness.version import checkout_root, git_sha, harness_version

__all__ = [
    "DIFF_NAME",
    "DURATIONS_NAME",
    "JUNIT_NAME",
    "RESULTS_LINES_NAME",
    "STOP_GRACE_S",
    "TRACES_DIR",
    "WORKERS_PER_CPU",
    "NightlyError",
    "NightlyOutcome",
    "NightlyStopped",
    "default_suite",
    "fold_attempts",
    "git_sha",
    "harness_version",
    "project_root",
    "pytest_command",
    "run_nightly",
    "selection_of",
    "tidy_paths",
    "worker_count",
]

DIFF_NAME: Final = "diff.json"
DURATIONS_NAME: Final = "device-durations.json"
"""Each device's test time in the last full night, for a parallel night's scheduler
(``--hil-durations``: the devices planned onto the workers, each collecting its own)."""
JUNIT_NAME: Final = "junit.xml"
RERUN_JUNIT: Final = "reruns/rerun-{attempt}.xml"
"""A rerun's JUnit file: outside ``junit*.xml`` globs, so a CI counts each failure once
(in ``junit.xml``); the night's results fold the reruns in (``attempts``)."""
SUITE_SETTINGS_NAME: Final = "suite.ini"
"""The suite's pytest settings, shipped beside its tests (``tests/hil/suite.ini``)."""
RESULTS_LINES_NAME: Final = "results.jsonl"
TRACES_DIR: Final = "traces"
CACHE_DIR: Final = ".pytest-cache"
DEFAULT_RERUNS: Final = 1
"""Failed tests are run once more: a test that then passes is reported flaky, not broken."""
STOP_GRACE_S: Final = 10.0
"""How long pytest gets to stop cleanly after a forwarded SIGINT before its group is killed."""
FORKED_WORKERS: Final = sys.platform == "linux"
"""A parallel night's workers are forked from a process that imported pytest and the
harness once (``--hil-fork-workers``, :mod:`ttlock_hil.fixtures.forkserver`): Linux only."""
WORKERS_PER_CPU: Final = 9 if FORKED_WORKERS else 6
"""The most pytest-xdist workers a night of radio devices starts per CPU (``workers=None``):
such a worker mostly waits for the radio, so several share a CPU — but each one costs a
Python process. Started from nothing (about 0.55 s of CPU: the imports, collecting its
tests) every worker pays that at the same moment: 24 devices answering 15 ms late on 2
CPUs (``make bench``'s lab, its previous night known) took 27.9 s with 8 workers, 23.1 s
with 12 and 24.3 s with 16, hence six per CPU. Forked from the warm server (about 0.15 s
each, Linux) the same lab took 18.7 s with 12 workers, 17.0 s with 16, 15.7-16.0 s with 18
and 16.3-17.7 s with 24: nine per CPU. A lab of simulated devices gets one worker per
CPU: there the CPU does the devices' work too (docs/performance.md §5)."""
_POLL_S: Final = 0.05
_CUT_SHORT: Final = "the test did not run (interrupted?)"
"""The plugin's message for a test whose call never ended (fixtures/results.py): in a night
we stopped, that is the test the stop cut, which has no verdict — not an error of the test."""
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

# Extra pytest arguments that change only what is printed, never which tests run. Any
# other argument may narrow the run, so the night counts as filtered (see selection_of).
_OUTPUT_FLAGS: Final = frozenset(
    {
        "-q",
        "--quiet",
        "-v",
        "--verbose",
        "-s",
        "-l",
        "--showlocals",
        "--no-header",
        "--no-summary",
        "--full-trace",
    }
)
_OUTPUT_OPTIONS: Final = frozenset(
    {"--tb", "--color", "--code-highlight", "--durations", "--durations-min", "--capture", "-r"}
)
_COLLECTED: Final = re.compile(
    r"(?:(?P<selected>\d+)/)?(?P<total>\d+) tests? collected"
    r"(?: \((?P<deselected>\d+) deselected\))?"
)

# pytest's exit codes (pytest.ExitCode), named here to keep pytest out of harness/.
_PYTEST_OK: Final = 0
_PYTEST_TESTS_FAILED: Final = 1
_PYTEST_INTERRUPTED: Final = 2
_PYTEST_INTERNAL_ERROR: Final = 3
_PYTEST_USAGE_ERROR: Final = 4
_PYTEST_NO_TESTS: Final = 5


class NightlyError(HarnessError):
    """The night cannot run as asked (no suite, pytest refused the options…): exit status 2."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.message + (f" — fix: {self.fix}" if self.fix else "")


class NightlyStopped(HarnessError):
    """SIGTERM/SIGINT arrived before the night began: nothing was recorded (exit 128 + signal)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {self.signal_name} before the night began; nothing was recorded"
        )


def project_root() -> Path:
    """Where the night's pytest runs: this checkout, or the working directory of an install."""
    root = checkout_root()
    return root if root is not None else Path.cwd()


def default_suite() -> Path:
    """The regression suite: ``tests/hil`` of a checkout, shipped as ``ttlock_hil.suite``."""
    return Path(str(resources.files("ttlock_hil.suite"))).resolve()


@dataclass(frozen=True, slots=True)
class NightlyOutcome:
    """What a night produced and how it ended.

    ``night`` is the night as reported (devices with the firmware and battery
    the tests saw); ``diff`` what changed, each test against its own last result
    (also in ``diff.json``); ``exit_status`` is the command's: 0 no failures, 1 failures
    or a run cut short, 128 + the signal for a night stopped by SIGTERM/SIGINT;
    ``pytest_status`` pytest's own exit code.
    """

    night: Night
    diff: NightDiff
    directory: Path
    html: Path
    results: Path
    junit: Path
    traces: Path
    exit_status: int
    pytest_status: int

    @property
    def summary(self) -> str:
        """``night 2026-…: 120 passed, 2 failed, 8 skipped in 12.3 s (6 devices)``."""
        counts = self.night.counts
        parts = [f"{counts[Outcome.PASSED]} passed"]
        failed = counts[Outcome.FAILED]
        errors = counts[Outcome.ERROR]
        if failed:
            parts.append(f"{failed} failed")
        if errors:
            parts.append(f"{errors} errors")
        parts.append(f"{counts[Outcome.SKIPPED]} skipped")
        if counts[Outcome.XFAILED]:
            parts.append(f"{counts[Outcome.XFAILED]} xfailed")
        if self.night.interrupted is not None:
            state = (
                f" — INTERRUPTED by {self.night.interrupted} (the {len(self.night.results)} "
                "results that finished are kept)"
            )
        elif not self.night.complete:
            state = " — INCOMPLETE (the run was cut short)"
        elif self.night.selection is not None:
            state = f" — filtered ({self.night.selection}): never the previous night"
        else:
            state = ""
        return (
            f"night {self.night.night_id}: {', '.join(parts)} in {self.night.duration_s:.1f} s "
            f"({len(self.night.devices)} devices){state}"
        )


def fold_attempts(results: Iterable[TestResult]) -> list[TestResult]:
    """One result per ``(test_id, device)``: a test run again (a rerun) keeps its last
    outcome, with ``attempts`` counting the runs."""
    latest: dict[tuple[str, str], TestResult] = {}
    runs: dict[tuple[str, str], int] = {}
    for result in results:
        runs[result.key] = runs.get(result.key, 0) + result.attempts
        latest[result.key] = result
    return [
        dataclasses.replace(result, attempts=runs[key]) if runs[key] != result.attempts else result
        for key, result in latest.items()
    ]


def _devices_seen(config: LabConfig, results: Sequence[TestResult]) -> tuple[DeviceInfo, ...]:
    """Configured devices, with the firmware and first battery level the tests reported."""
    firmware: dict[str, str] = {}
    battery: dict[str, int] = {}
    for result in results:
        if result.firmware is not None:
            firmware.setdefault(result.device, result.firmware)
        if result.battery is not None:
            battery.setdefault(result.device, result.battery)
    return tuple(
        DeviceInfo.from_config(d, firmware=firmware.get(d.name), battery=battery.get(d.name))
        for d in config.devices
    )


def worker_count(config: LabConfig, workers: int | None = None) -> int:
    """How many pytest processes run a night's devices in parallel (1: one pytest, serial).

    ``workers`` when given (at least 1); else one per configured device, at most one per
    CPU for a lab of simulated devices only and :data:`WORKERS_PER_CPU` per CPU otherwise.
    Each worker takes whole devices, one after another, each device's tests in the serial
    order (:mod:`ttlock_hil.fixtures.xdist`).
    """
    if workers is not None:
        if workers < 1:
            raise NightlyError(f"workers must be 1 or more, got {workers}", fix="use --workers 1")
        return workers
    cpus = os.cpu_count() or 1
    simulated = all(device.sim_preset is not None for device in config.devices)
    most = cpus if simulated else WORKERS_PER_CPU * cpus
    return max(1, min(len(config.devices), most))


def tidy_paths(result: TestResult, night_dir: Path, root: Path | None = None) -> TestResult:
    """``result`` with the absolute paths in its message made relative: to the night's
    directory (``traces/…``, what the report links) and to the project ``root``."""
    if not result.message:
        return result
    message = result.message
    for base in (night_dir, root):
        if base is None:
            continue
        for form in {str(base), str(base.resolve())}:
            message = message.replace(form.rstrip(os.sep) + os.sep, "")
    return result if message == result.message else dataclasses.replace(result, message=message)


def selection_of(extra: Sequence[str], *, deselected: int = 0) -> str | None:
    """What narrows a night: ``None`` for the whole suite, else the arguments as typed.

    Output options (``-q``, ``-v``, ``--tb=short``, ``-rfE``…) do not narrow it;
    anything else might (``-k``, ``-m``, a path, ``--hil-device``, ``-x``…), and so
    does any test pytest deselected.
    """
    narrowing = False
    waiting_value = False
    for arg in extra:
        if waiting_value:
            waiting_value = False
            continue
        if arg in _OUTPUT_FLAGS or re.fullmatch(r"-[vq]+", arg):
            continue
        name, has_value, _ = arg.partition("=")
        if name in _OUTPUT_OPTIONS:
            waiting_value = not has_value
            continue
        if arg.startswith("-r") and len(arg) > 2:  # -rfE
            continue
        narrowing = True
    if not narrowing and deselected == 0:
        return None
    text = shlex.join(extra)
    if deselected and not narrowing:
        return f"{text} ({deselected} deselected)" if text else f"{deselected} deselected"
    return text


def pytest_command(
    suite: Path,
    *,
    config_file: Path,
    night_dir: Path,
    bench: str,
    extra: Sequence[str] = (),
    junit_name: str = JUNIT_NAME,
    tier: str = "virtual",
    workers: int = 1,
    durations: Path | None = None,
) -> list[str]:
    """The pytest invocation of a night (run from the project root).

    The suite's own settings (``suite.ini`` beside the tests: asyncio mode, the
    expectation table) are named explicitly, so they hold for an installed package, for
    a ``--suite`` outside the tree, and whatever ``pytest.ini`` the working directory has.
    In a checkout the rootdir is the checkout, so test ids read ``tests/hil/…``.
    pytest's cache lives in the night's directory: it remembers which tests
    failed, so that a rerun (``--lf``) takes exactly those, and nothing leaks
    from one night into the next. ``workers`` > 1 runs the devices in that many
    pytest-xdist workers (``-n``), each device on one of them; ``durations`` (a JSON file of
    device name → seconds) has the devices planned onto the workers up front, longest first,
    each worker collecting only its own (fixtures/partition.py).
    """
    ini = default_suite() / SUITE_SETTINGS_NAME
    root = checkout_root()
    settings = ["-c", str(ini), f"--rootdir={root if root is not None else suite}"]
    return [
        sys.executable,
        "-m",
        "pytest",
        *settings,
        str(suite),
        f"--hil-config={config_file}",
        f"--hil-tier={tier}",
        f"--hil-trace-dir={night_dir / TRACES_DIR}",
        f"--hil-results={night_dir / RESULTS_LINES_NAME}",
        f"--junitxml={night_dir / junit_name}",
        "-o",
        f"junit_suite_name=ttlock-hil {bench}",
        "-o",
        f"cache_dir={night_dir / CACHE_DIR}",
        "-rfE",  # the summary lists failures and errors; skip reasons are in the report
        "--tb=short",  # the report has each failure's message and trace; keep the log short
        *_without_unused_plugins(extra),
        *(["-n", str(workers)] if workers > 1 else []),
        *(["--hil-fork-workers"] if workers > 1 and FORKED_WORKERS else []),
        *([f"--hil-durations={durations}"] if workers > 1 and durations is not None else []),
        *extra,
    ]


def _write_durations(store: HistoryStore, night_dir: Path) -> Path | None:
    """Each device's test time in the last full night, as ``--hil-durations`` reads it
    (``None`` before the first full night)."""
    previous = store.previous_full_night()
    if previous is None or not previous.results:
        return None
    per_device: dict[str, float] = {}
    for result in previous.results:
        per_device[result.device] = per_device.get(result.device, 0.0) + result.duration_s
    path = night_dir / DURATIONS_NAME
    path.write_text(json.dumps(per_device, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _without_unused_plugins(extra: Sequence[str]) -> list[str]:
    """``-p no:`` for installed pytest plugins a night of the regression suite does not use.

    Each costs every pytest process of the night (the pre-flight, xdist's controller and
    every worker) CPU at its start or end for nothing (docs/performance.md §5):

    * hypothesis's plugin imports all of hypothesis at the end of the session (its
      terminal summary), about 0.1 s; the suite has no property tests, and ``@given``
      tests run without the plugin. A night whose pytest arguments name a
      ``--hypothesis-*`` option keeps it.
    * labgrid's plugin (the ``labgrid`` extra) imports labgrid when pytest starts, about
      0.2 s; the suite does not use its ``env``/``target`` fixtures, and the nightly's
      ``--coordinator`` talks to labgrid itself. A night given an ``--lg-*`` option, or
      run with ``LG_ENV`` set (which the plugin reads), keeps it.
    """
    unused = []
    if not any("hypothesis" in argument for argument in extra):
        unused += ["-p", "no:hypothesispytest"]
    if not any(argument.startswith("--lg") for argument in extra) and not os.environ.get("LG_ENV"):
        unused += ["-p", "no:labgrid"]
    return unused


def _say(output: Callable[[str], None] | None, line: str) -> None:
    if output is None:
        print(line, flush=True)
    else:
        output(line)


class _StopRequest:
    """SIGTERM/SIGINT received while a night runs: what the pytest runs must do about it."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: remember the first signal, count them all."""
        if self.signum is None:
            self.signum = signum
        self.count += 1


@contextmanager
def _stop_signals() -> Iterator[_StopRequest]:
    """Catch SIGTERM and SIGINT for the night (main thread only: elsewhere Python cannot)."""
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop.handle) for signum in _STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the pytest process gets SIGTERM if the nightly dies without forwarding (kill -9)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signum)


def _run_pytest(
    command: list[str],
    *,
    cwd: Path,
    output: Callable[[str], None] | None,
    stop: _StopRequest,
    grace_s: float = STOP_GRACE_S,
) -> tuple[int, bool]:
    """Run pytest in a process group of its own; returns ``(exit status, stopped)``.

    Its output goes to the terminal (or line by line to ``output``). A stop
    request is forwarded to the group as SIGINT; after ``grace_s`` (or at a
    second signal) the group is killed. Whatever is left of the group when pytest
    ends is killed too: no process of the night outlives it.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    capture = output is not None
    process: subprocess.Popen[str] = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        encoding="utf-8",
        errors="replace",
        process_group=0,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    pgid = process.pid
    reader = None
    if capture:
        assert process.stdout is not None
        assert output is not None

        def pump(stream: Iterable[str], sink: Callable[[str], None]) -> None:
            for line in stream:
                sink(line.rstrip("\n"))

        reader = threading.Thread(target=pump, args=(process.stdout, output), daemon=True)
        reader.start()
    forwarded_at: float | None = None
    killed = False
    try:
        while not _has_exited(process.pid):
            time.sleep(_POLL_S)
            if stop.requested and forwarded_at is None:
                forwarded_at = time.monotonic()
                _signal_group(pgid, signal.SIGINT)
            overdue = forwarded_at is not None and time.monotonic() - forwarded_at > grace_s
            if not killed and (overdue or stop.count > 1):
                killed = True
                _signal_group(pgid, signal.SIGKILL)
    finally:
        # pytest has exited (or we are failing) but is not reaped yet: its pid still names
        # the group, so this reaches only what pytest started and left behind.
        _signal_group(pgid, signal.SIGKILL)
        status = process.wait()
        if reader is not None:
            reader.join(timeout=5.0)
        if process.stdout is not None:
            process.stdout.close()
    return status, forwarded_at is not None


def _has_exited(pid: int) -> bool:
    """True once ``pid`` has ended; it is left unreaped (a zombie keeps its group's id)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@dataclass(frozen=True, slots=True)
class _Collection:
    """What the pre-flight collection found."""

    status: int
    collected: int | None
    deselected: int
    lines: tuple[str, ...]


def _preflight(
    suite: Path,
    *,
    config_file: Path,
    bench: str,
    extra: Sequence[str],
    stop: _StopRequest,
    grace_s: float,
    tier: str = "virtual",
) -> _Collection:
    """Collect the suite with the night's arguments: pytest's verdict on them, no night yet."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ttlock-hil-preflight-") as temp:
        command = pytest_command(
            suite,
            config_file=config_file,
            night_dir=Path(temp),
            bench=bench,
            extra=[*extra, "--collect-only", "-q"],
            tier=tier,
        )
        status, _ = _run_pytest(
            command, cwd=project_root(), output=lines.append, stop=stop, grace_s=grace_s
        )
    collected, deselected = None, 0
    for line in lines:
        found = _COLLECTED.search(line)
        if found is not None:
            collected = int(found.group("selected") or found.group("total"))
            deselected = int(found.group("deselected") or 0)
    return _Collection(status, collected, deselected, tuple(lines))


def _failed_devices(lines: Path) -> int:
    """How many devices the failed tests of the night so far ran on (at least 1)."""
    results = fold_attempts(read_results(lines)) if lines.exists() else []
    return max(1, len({r.device for r in results if r.outcome.is_failure}))


def _cut_by_the_stop(result: TestResult) -> bool:
    return result.outcome is Outcome.ERROR and result.message == _CUT_SHORT


def _refusal(lines: Sequence[str]) -> str:
    said = [line.strip() for line in lines if "error" in line.lower() and line.strip()]
    return "; ".join(said[-3:]) if said else "; ".join(line.strip() for line in lines[-3:])


def _restrict(directory: Path) -> None:
    """``redact: false``: the night's files may hold secrets — owner only."""
    for path in [directory, *directory.rglob("*")]:
        with contextlib.suppress(OSError):  # a file that vanished needs no protection
            path.chmod(0o700 if path.is_dir() else PRIVATE_MODE)


@contextmanager
def _hold_bench(
    directory: Path, bench: str, coordinator: str | None, place: str | None, wait_s: float | None
) -> Iterator[None]:
    """The bench for the night: its file lock, and its labgrid place when a coordinator is
    configured (the reservation first: a queued nightly holds no lock while it waits)."""
    if coordinator is None:
        with bench_lock(directory, bench=bench):
            yield
        return
    from ttlock_hil.harness.labgrid.coordinator import place_reserved

    with (
        place_reserved(coordinator, place or bench, wait_s=wait_s),
        bench_lock(directory, bench=bench),
    ):
        yield


def run_nightly(
    *,
    config_path: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    history: str | os.PathLike[str] | None = None,
    suite: str | os.PathLike[str] | None = None,
    pytest_args: Sequence[str] = (),
    output: Callable[[str], None] | None = None,
    reruns: int = DEFAULT_RERUNS,
    stop_grace_s: float = STOP_GRACE_S,
    tier: str = "virtual",
    coordinator: str | None = None,
    place: str | None = None,
    wait_s: float | None = 0.0,
    workers: int | None = None,
) -> NightlyOutcome:
    """Run one night (see the module docstring) and return where everything went.

    ``config_path``: the lab config (default ``hil-config.yaml``); ``out``: the
    directory nights go into (default the config's ``reports:``); ``history``:
    the store (default ``history:`` or ``<reports>/history.sqlite``; its
    directory is the bench that is locked); ``suite``: the test directory
    (default ``tests/hil``); ``pytest_args`` are passed on; ``output`` receives
    pytest's lines (default: straight to the terminal); ``reruns``: how many
    times the failed tests are run again (``--lf``), each rerun writing
    ``reruns/rerun-N.xml`` (outside a ``junit*.xml`` glob, so CI counts each failure
    once). A test that passes on a rerun counts as passed with
    ``attempts > 1`` — the report lists it as passed on retry; ``junit.xml`` keeps
    the first run as it happened. ``stop_grace_s``: how long pytest gets to stop
    after a forwarded SIGTERM/SIGINT before its process group is killed. ``tier``: where
    the config's ``sim:`` devices live for the night (``--hil-tier``, docs/tiers.md).
    ``workers``: how many pytest processes run the devices in parallel (default:
    :func:`worker_count`'s; 1 runs them one after another in one pytest); a rerun uses no
    more workers than the failed tests have devices.

    ``coordinator`` (``HOST:PORT`` of a labgrid coordinator, docs/labgrid.md): the bench is
    then also the labgrid place ``place`` (default: the config's ``lab:``), reserved —
    waiting up to ``wait_s`` in labgrid's queue, ``None`` for as long as it takes — and
    acquired for the night, released after it
    (:func:`ttlock_hil.harness.labgrid.coordinator.place_reserved`).

    Raises :class:`~ttlock_hil.harness.benchlock.BenchBusy` when another nightly
    holds the bench (:class:`~ttlock_hil.harness.labgrid.PlaceBusy` for its place),
    :class:`NightlyError` for arguments pytest refuses (nothing recorded),
    :class:`NightlyStopped` for a stop before the night began.
    """
    if reruns < 0:
        raise NightlyError(f"reruns must be 0 or more, got {reruns}", fix="use --reruns 0..3")
    config_file = Path(config_path).resolve() if config_path is not None else default_config_path()
    config = load_config(config_file)
    parallel = worker_count(config, workers)
    suite_dir = Path(suite).resolve() if suite is not None else default_suite()
    if not suite_dir.exists():
        raise NightlyError(
            f"the regression suite {suite_dir} does not exist",
            fix="run from a ttlock-hil checkout, or pass --suite DIR",
        )
    out_root = Path(out).resolve() if out is not None else config.reports
    if out_root.exists() and not out_root.is_dir():
        raise NightlyError(
            f"--out {out_root} is a file, not a directory", fix="name a directory for the nights"
        )
    store_path = Path(history).resolve() if history is not None else history_path(config)
    hold = _hold_bench(store_path.parent, config.lab, coordinator, place, wait_s)
    with hold, _stop_signals() as stop:
        collection = _preflight(
            suite_dir,
            config_file=config_file,
            bench=config.lab,
            extra=pytest_args,
            stop=stop,
            grace_s=stop_grace_s,
            tier=tier,
        )
        if stop.signum is not None:
            raise NightlyStopped(stop.signum)
        if collection.status in (_PYTEST_USAGE_ERROR, _PYTEST_NO_TESTS):
            what = (
                "refused the options"
                if collection.status == _PYTEST_USAGE_ERROR
                else "collected no tests"
            )
            raise NightlyError(
                f"pytest {what} (exit status {collection.status}): "
                f"{_refusal(collection.lines)}; no night was recorded",
                fix="check the pytest arguments after --",
            )
        meta = NightMeta.starting(
            bench=config.lab,
            plugin_version=config.plugin_version,
            devices=[DeviceInfo.from_config(d) for d in config.devices],
            harness_version=harness_version(),
            git_sha=git_sha(),
            selection=selection_of(pytest_args, deselected=collection.deselected),
            redacted=config.redact,
            tier=tier,
        )
        with HistoryStore.open(store_path) as store:
            night_id = store.begin_night(meta)
            night_dir = out_root / night_id
            (night_dir / TRACES_DIR).mkdir(parents=True, exist_ok=True)
            durations = _write_durations(store, night_dir) if parallel > 1 else None
            command = pytest_command(
                suite_dir,
                config_file=config_file,
                night_dir=night_dir,
                bench=config.lab,
                extra=pytest_args,
                tier=tier,
                workers=parallel,
                durations=durations,
            )
            status, stopped = _run_pytest(
                command, cwd=project_root(), output=output, stop=stop, grace_s=stop_grace_s
            )
            attempt = 0
            while status == _PYTEST_TESTS_FAILED and attempt < reruns and not stop.requested:
                attempt += 1
                _say(output, f"\nrerunning the failed tests (rerun {attempt} of {reruns})")
                rerun = pytest_command(
                    suite_dir,
                    config_file=config_file,
                    night_dir=night_dir,
                    bench=config.lab,
                    extra=[*pytest_args, "--last-failed", "--last-failed-no-failures=none"],
                    junit_name=RERUN_JUNIT.format(attempt=attempt),
                    tier=tier,
                    workers=min(parallel, _failed_devices(night_dir / RESULTS_LINES_NAME)),
                    durations=durations,
                )
                status, stopped = _run_pytest(
                    rerun, cwd=project_root(), output=output, stop=stop, grace_s=stop_grace_s
                )
            lines = night_dir / RESULTS_LINES_NAME
            results = fold_attempts(read_results(lines)) if lines.exists() else []
            if stopped:
                results = [r for r in results if not _cut_by_the_stop(r)]
            root = project_root()
            store.record_results(night_id, [tidy_paths(r, night_dir, root) for r in results])
            if stopped:
                night = store.mark_interrupted(night_id, stop.name)
            elif status in (_PYTEST_OK, _PYTEST_TESTS_FAILED):
                night = store.finish_night(night_id)
            else:
                night = store.load_night(night_id)  # cut short or crashed: stays incomplete
            night = dataclasses.replace(night, devices=_devices_seen(config, night.results))
            if not config.redact:
                _restrict(night_dir)
            paths = write_night_report(night, store, night_dir)
            diff = paths.diff
    document = json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n"
    write_text(night_dir / DIFF_NAME, document, mode=file_mode(night))
    if stopped and stop.signum is not None:
        exit_status = 128 + stop.signum
    else:
        failed = bool(night.failures) or status != _PYTEST_OK or not night.complete
        exit_status = 1 if failed else 0
    return NightlyOutcome(
        night=night,
        diff=diff,
        directory=night_dir,
        html=paths.html,
        results=paths.results,
        junit=night_dir / JUNIT_NAME,
        traces=night_dir / TRACES_DIR,
        exit_status=exit_status,
        pytest_status=status,
    )
