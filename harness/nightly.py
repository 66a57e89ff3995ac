"""One night: run the HIL suite, keep its results, write the report.

:func:`run_nightly` is what ``ttlock-hil nightly`` (and ``make nightly``) does::

    outcome = run_nightly(config_path=None, out=None)   # hil-config.yaml, <reports>/
    print(outcome.html)                                  # reports/<night>/report.html

1. The lab config is loaded and checked first (a bad config is a usage error,
   before anything is recorded).
2. The night is **begun** in the history store (committed at once): a night
   killed from here on stays in the store as *incomplete*, never half-written.
3. The suite (``tests/hil``) runs in a pytest subprocess with its progress on
   the terminal: ``--junitxml`` writes ``junit.xml``; the plugin writes the
   frame traces into ``traces/`` and one JSON line per test and device into
   ``results.jsonl`` (each line flushed, so a killed run keeps what finished).
4. The results are recorded (one transaction) and the night finished (another).
5. ``report.html``, ``results.json`` and ``diff.json`` are written next to
   ``junit.xml``, the diff taken against the previous complete night of the store.

Everything of the night is in ``<out>/<night id>/`` — the id is the UTC start
time (``2026-11-30T02-00-00Z``). :attr:`NightlyOutcome.exit_status`: 0 when no
test failed, 1 when some failed (or the run was cut short); usage and config
problems raise :class:`~ttlock_hil.harness.errors.ConfigError` / :class:`NightlyError`
(exit status 2 at the CLI).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from ttlock_hil.harness.config import LabConfig, default_config_path, load_config
from ttlock_hil.harness.errors import HarnessError
from ttlock_hil.harness.report.diff import NightDiff, diff_against_history
from ttlock_hil.harness.report.history import HistoryStore, history_path
from ttlock_hil.harness.report.html import write_night_report
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
    "JUNIT_NAME",
    "RESULTS_LINES_NAME",
    "TRACES_DIR",
    "NightlyError",
    "NightlyOutcome",
    "default_suite",
    "fold_attempts",
    "git_sha",
    "harness_version",
    "project_root",
    "pytest_command",
    "run_nightly",
]

DIFF_NAME: Final = "diff.json"
JUNIT_NAME: Final = "junit.xml"
SUITE_SETTINGS_NAME: Final = "suite.ini"
"""The suite's pytest settings, shipped beside its tests (``tests/hil/suite.ini``)."""
RESULTS_LINES_NAME: Final = "results.jsonl"
TRACES_DIR: Final = "traces"
CACHE_DIR: Final = ".pytest-cache"
DEFAULT_RERUNS: Final = 1
"""Failed tests are run once more: a test that then passes is reported flaky, not broken."""

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
    the tests saw); ``diff`` what changed since the previous complete night
    (also in ``diff.json``); ``exit_status`` is the command's: 0 no failures, 1 failures
    or a run cut short; ``pytest_status`` pytest's own exit code.
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
        state = "" if self.night.complete else " — INCOMPLETE (the run was cut short)"
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


def _write_json(target: Path, document: object) -> None:
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, target)


def pytest_command(
    suite: Path,
    *,
    config_file: Path,
    night_dir: Path,
    bench: str,
    extra: Sequence[str] = (),
    junit_name: str = JUNIT_NAME,
) -> list[str]:
    """The pytest invocation of a night (run from the project root).

    The suite's own settings (``suite.ini`` beside the tests: asyncio mode, the
    expectation table) are named explicitly, so they hold for an installed package, for
    a ``--suite`` outside the tree, and whatever ``pytest.ini`` the working directory has.
    In a checkout the rootdir is the checkout, so test ids read ``tests/hil/…``.
    pytest's cache lives in the night's directory: it remembers which tests
    failed, so that a rerun (``--lf``) takes exactly those, and nothing leaks
    from one night into the next.
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
        f"--hil-trace-dir={night_dir / TRACES_DIR}",
        f"--hil-results={night_dir / RESULTS_LINES_NAME}",
        f"--junitxml={night_dir / junit_name}",
        "-o",
        f"junit_suite_name=ttlock-hil {bench}",
        "-o",
        f"cache_dir={night_dir / CACHE_DIR}",
        "-rfE",  # the summary lists failures and errors; skip reasons are in the report
        *extra,
    ]


def _say(output: Callable[[str], None] | None, line: str) -> None:
    if output is None:
        print(line, flush=True)
    else:
        output(line)


def _run_pytest(command: list[str], *, cwd: Path, output: Callable[[str], None] | None) -> int:
    """Run pytest; its output goes to the terminal (or line by line to ``output``)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process: subprocess.Popen[str] = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=None if output is None else subprocess.PIPE,
        stderr=None if output is None else subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        if process.stdout is not None and output is not None:
            for line in process.stdout:
                output(line.rstrip("\n"))
        return process.wait()
    except BaseException:
        # Killed or interrupted: stop pytest too; the night stays incomplete in the store.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def run_nightly(
    *,
    config_path: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    history: str | os.PathLike[str] | None = None,
    suite: str | os.PathLike[str] | None = None,
    pytest_args: Sequence[str] = (),
    output: Callable[[str], None] | None = None,
    reruns: int = DEFAULT_RERUNS,
) -> NightlyOutcome:
    """Run one night (see the module docstring) and return where everything went.

    ``config_path``: the lab config (default ``hil-config.yaml``); ``out``: the
    directory nights go into (default the config's ``reports:``); ``history``:
    the store (default ``history:`` or ``<reports>/history.sqlite``); ``suite``:
    the test directory (default ``tests/hil``); ``pytest_args`` are passed on;
    ``output`` receives pytest's lines (default: straight to the terminal);
    ``reruns``: how many times the failed tests are run again (``--lf``), each
    rerun writing ``junit-rerun-N.xml``. A test that passes on a rerun counts as
    passed with ``attempts > 1`` — the report lists it as flaky; ``junit.xml``
    keeps the first run as it happened.
    """
    if reruns < 0:
        raise NightlyError(f"reruns must be 0 or more, got {reruns}", fix="use --reruns 0..3")
    config_file = Path(config_path).resolve() if config_path is not None else default_config_path()
    config = load_config(config_file)
    suite_dir = Path(suite).resolve() if suite is not None else default_suite()
    if not suite_dir.exists():
        raise NightlyError(
            f"the regression suite {suite_dir} does not exist",
            fix="run from a ttlock-hil checkout, or pass --suite DIR",
        )
    out_root = Path(out).resolve() if out is not None else config.reports
    store_path = Path(history).resolve() if history is not None else history_path(config)
    meta = NightMeta.starting(
        bench=config.lab,
        plugin_version=config.plugin_version,
        devices=[DeviceInfo.from_config(d) for d in config.devices],
        harness_version=harness_version(),
        git_sha=git_sha(),
    )
    with HistoryStore.open(store_path) as store:
        night_id = store.begin_night(meta)
        night_dir = out_root / night_id
        (night_dir / TRACES_DIR).mkdir(parents=True, exist_ok=True)
        command = pytest_command(
            suite_dir,
            config_file=config_file,
            night_dir=night_dir,
            bench=config.lab,
            extra=pytest_args,
        )
        status = _run_pytest(command, cwd=project_root(), output=output)
        attempt = 0
        while status == _PYTEST_TESTS_FAILED and attempt < reruns:
            attempt += 1
            _say(output, f"\nrerunning the failed tests (rerun {attempt} of {reruns})")
            rerun = pytest_command(
                suite_dir,
                config_file=config_file,
                night_dir=night_dir,
                bench=config.lab,
                extra=[*pytest_args, "--last-failed", "--last-failed-no-failures=none"],
                junit_name=f"junit-rerun-{attempt}.xml",
            )
            status = _run_pytest(rerun, cwd=project_root(), output=output)
        if status in (_PYTEST_USAGE_ERROR, _PYTEST_NO_TESTS):
            what = "refused the options" if status == _PYTEST_USAGE_ERROR else "collected no tests"
            raise NightlyError(
                f"pytest {what} (exit status {status}); night {night_id} stays incomplete",
                fix="read pytest's message above",
            )
        lines = night_dir / RESULTS_LINES_NAME
        results = fold_attempts(read_results(lines)) if lines.exists() else []
        store.record_results(night_id, results)
        if status in (_PYTEST_OK, _PYTEST_TESTS_FAILED):
            night = store.finish_night(night_id)
        else:
            night = store.load_night(night_id)  # interrupted or crashed: stays incomplete
        night = dataclasses.replace(night, devices=_devices_seen(config, night.results))
        paths = write_night_report(night, store, night_dir)
        diff = diff_against_history(night, store)
    _write_json(night_dir / DIFF_NAME, diff.to_dict())
    failed = bool(night.failures) or status != _PYTEST_OK or not night.complete
    return NightlyOutcome(
        night=night,
        diff=diff,
        directory=night_dir,
        html=paths.html,
        results=paths.results,
        junit=night_dir / JUNIT_NAME,
        traces=night_dir / TRACES_DIR,
        exit_status=1 if failed else 0,
        pytest_status=status,
    )
