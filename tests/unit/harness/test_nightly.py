"""``ttlock-hil nightly``: a night runs the suite, keeps its results and names what broke.

The main test runs two real nights of ``tests/hil`` against a one-lock virtual
lab. Between them the lock's "firmware" changes — the config selects a variant
that answers UNLOCK-without-login with NO_PERMISSION (2) instead of
USER_NOT_LOGGED_IN (18) — and the second night must name exactly that
regression, in ``diff.json``, ``results.json`` and ``report.html``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ttlock_hil.harness.cli import main
from ttlock_hil.harness.nightly import (
    DURATIONS_NAME,
    NightlyError,
    _write_durations,
    fold_attempts,
    git_sha,
    pytest_command,
    run_nightly,
    selection_of,
    tidy_paths,
)
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import Night, NightMeta, Outcome, TestResult, read_results
from ttlock_hil.harness.report.triage import FailureCategory

REGRESSED = "tests/hil/test_lock_codes.py::test_an_unlock_without_any_login_is_refused"


def _config(path: Path, address: str, *, lab: str = "nightly-test-lab") -> Path:
    data: dict[str, Any] = {
        "lab": lab,
        "plugin_version": "3.1.0",
        "timeouts": {"scan": 2.0, "connect": 1.0, "command": 1.0},
        "retry": {"attempts": 1, "backoff": [0.0]},
        "reports": "reports",
        "credentials_dir": "credentials",
        "devices": [
            {
                "name": "front-door",
                "kind": "lock",
                "model": "v3-keypad",
                "address": address,
                "features": ["passcode", "keypad", "auto_lock", "operation_log", "reset"],
            }
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _section(html: str, section_id: str) -> str:
    """The HTML of one report section (from its id to the next section)."""
    start = html.index(f'id="{section_id}"')
    following = re.search(r'<section id="', html[start + 1 :])
    found = html[start : start + 1 + following.start()] if following else html[start:]
    return found.replace("<wbr>", "")  # the break hints inside long names


def test_the_second_night_names_exactly_the_firmware_regression(tmp_path: Path) -> None:
    nights = tmp_path / "nights"
    history = tmp_path / "history.sqlite"
    lines: list[str] = []
    first = run_nightly(
        config_path=_config(tmp_path / "before.yaml", "sim:v3-keypad"),
        out=nights,
        history=history,
        output=lines.append,
    )
    assert first.exit_status == 0, "\n".join(lines[-30:])
    assert first.night.complete
    assert not first.night.failures
    assert first.night.counts[Outcome.PASSED] > 50

    lines.clear()
    second = run_nightly(
        config_path=_config(tmp_path / "after.yaml", "sim:v3-keypad_unlock-refusal-2"),
        out=nights,
        history=history,
        output=lines.append,
    )
    assert second.exit_status == 1
    assert any("1 failed" in line for line in lines), "pytest's progress was not passed on"

    # The diff: one regression, nothing else changed.
    assert second.diff.previous_id == first.night.night_id
    assert [(c.test_id, c.device) for c in second.diff.regressions] == [(REGRESSED, "front-door")]
    assert second.diff.fixes == second.diff.new == second.diff.removed == ()
    diff = json.loads((second.directory / "diff.json").read_text(encoding="utf-8"))
    assert [c["test_id"] for c in diff["regressions"]] == [REGRESSED]

    # results.json: the failure with its expected and observed code and its trace.
    night = Night.from_json(second.results.read_text(encoding="utf-8"))
    failed = [r for r in night.results if r.outcome.is_failure]
    assert [(r.test_id, r.expected, r.observed, r.command) for r in failed] == [
        (REGRESSED, 18, 2, "UNLOCK")
    ]
    assert failed[0].trace is not None
    assert (second.directory / failed[0].trace).is_file()

    # report.html: the regression is in the regressions section, and only there as a failure.
    html = second.html.read_text(encoding="utf-8")
    regressions = _section(html, "regressions")
    assert "test_an_unlock_without_any_login_is_refused" in regressions
    assert regressions.count("<tr") == 2  # header row + the one regression
    conformance = _section(html, "conformance")
    assert "1 mismatch" in conformance
    assert "without-login" in conformance

    # Everything of the night is in its directory, and the store has both nights.
    assert second.junit.is_file()
    assert any(second.traces.iterdir())
    assert second.directory == nights / second.night.night_id
    with HistoryStore.open(history, create=False) as store:
        assert [(n.night_id, n.complete) for n in store.list_nights()] == [
            (first.night.night_id, True),
            (second.night.night_id, True),
        ]
    devices = {d.name: d for d in second.night.devices}
    assert devices["front-door"].firmware == "6.0.6.210622"


SMALL_SUITE = """
async def test_status(lock):
    await lock.status()
"""


def _small_suite(root: Path, *extra: tuple[str, str]) -> Path:
    suite = root / "suite"
    suite.mkdir()
    (suite / "test_small.py").write_text(SMALL_SUITE, encoding="utf-8")
    for name, text in extra:
        (suite / name).write_text(text, encoding="utf-8")
    return suite


def test_a_night_cut_short_stays_incomplete(tmp_path: Path) -> None:
    suite = _small_suite(tmp_path, ("test_broken.py", "def test_(:\n"))
    history = tmp_path / "history.sqlite"
    outcome = run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "nights",
        history=history,
        suite=suite,
        output=lambda line: None,
    )
    assert outcome.pytest_status == 2  # interrupted: a collection error
    assert outcome.exit_status == 1
    assert not outcome.night.complete
    assert "INCOMPLETE" in outcome.summary
    assert outcome.html.is_file()
    with HistoryStore.open(history, create=False) as store:
        assert [n.complete for n in store.list_nights()] == [False]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--hil-device=nope"], r"pytest refused the options \(exit status 4\): .*nope"),
        (["--bogus"], r"pytest refused the options \(exit status 4\): .*unrecognized .*--bogus"),
        (["-k", "no_test_is_called_this"], r"pytest collected no tests \(exit status 5\)"),
    ],
)
def test_arguments_pytest_refuses_fail_before_a_night_is_recorded(
    tmp_path: Path, args: list[str], said: str
) -> None:
    # Measured: every mistyped pytest argument left an incomplete night in the store.
    history = tmp_path / "history.sqlite"
    with pytest.raises(NightlyError, match=said) as caught:
        run_nightly(
            config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
            out=tmp_path / "nights",
            history=history,
            suite=_small_suite(tmp_path),
            pytest_args=args,
            output=lambda line: None,
        )
    assert str(caught.value).endswith(
        "no night was recorded — fix: check the pytest arguments after --"
    )
    assert not history.exists() or not HistoryStore.open(history).list_nights()
    assert not (tmp_path / "nights").exists()


def test_a_missing_suite_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(NightlyError, match="does not exist"):
        run_nightly(
            config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
            suite=tmp_path / "nowhere",
        )


def test_the_command_prints_the_summary_and_where_the_report_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "nightly",
            "--config",
            str(_config(tmp_path / "lab.yaml", "sim:v3-keypad")),
            "--out",
            str(tmp_path / "nights"),
            "--history",
            str(tmp_path / "history.sqlite"),
            "--suite",
            str(_small_suite(tmp_path)),
            "--",
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"night \S+: 1 passed, 0 skipped in [0-9.]+ s \(1 devices\)", out)
    report = re.search(r"report: (\S+report\.html)", out)
    assert report is not None
    assert Path(report.group(1)).is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nightly", "--config", "/nonexistent/lab.yaml"], "config file not found"),
        (["nightly", "stray"], "unexpected arguments 'stray'"),
    ],
)
def test_usage_and_config_errors_exit_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err


def _result(
    test_id: str, outcome: Outcome, attempts: int = 1, message: str | None = None
) -> TestResult:
    return TestResult(
        test_id=test_id,
        name=test_id,
        device="door",
        model="m",
        outcome=outcome,
        duration_s=0.1,
        attempts=attempts,
        message=message,
    )


def test_reruns_fold_into_one_result_with_their_attempts() -> None:
    folded = fold_attempts(
        [
            _result("a", Outcome.FAILED),
            _result("b", Outcome.PASSED),
            _result("a", Outcome.PASSED),
        ]
    )
    assert [(r.test_id, r.outcome, r.attempts) for r in folded] == [
        ("a", Outcome.PASSED, 2),
        ("b", Outcome.PASSED, 1),
    ]
    assert folded[0].flaky


def test_the_pytest_command_wires_results_traces_and_junit(tmp_path: Path) -> None:
    command = pytest_command(
        tmp_path / "suite",
        config_file=tmp_path / "lab.yaml",
        night_dir=tmp_path / "night",
        bench="bench-01",
        extra=["-k", "unlock"],
    )
    assert command[1:3] == ["-m", "pytest"]
    assert "-c" in command  # the project's pytest settings, whatever the suite
    assert f"--hil-config={tmp_path / 'lab.yaml'}" in command
    assert f"--hil-results={tmp_path / 'night' / 'results.jsonl'}" in command
    assert f"--hil-trace-dir={tmp_path / 'night' / 'traces'}" in command
    assert f"--junitxml={tmp_path / 'night' / 'junit.xml'}" in command
    assert command[-2:] == ["-k", "unlock"]


def _command(tmp_path: Path, extra: list[str]) -> list[str]:
    return pytest_command(
        tmp_path / "suite",
        config_file=tmp_path / "lab.yaml",
        night_dir=tmp_path / "night",
        bench="bench-01",
        extra=extra,
    )


def test_the_pytest_command_leaves_out_hypothesis_unless_asked(tmp_path: Path) -> None:
    # The suite has no property tests: the plugin would only import hypothesis in every
    # worker. A night that passes a --hypothesis-* option keeps the plugin (else pytest
    # would refuse the option).
    plain = _command(tmp_path, [])
    assert "no:hypothesispytest" in plain
    assert plain[plain.index("no:hypothesispytest") - 1] == "-p"
    assert "no:hypothesispytest" not in _command(tmp_path, ["--hypothesis-seed=3"])


def test_the_pytest_command_leaves_out_labgrid_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # labgrid's plugin imports labgrid in every process; the suite uses none of it. An
    # --lg-* option or LG_ENV (which the plugin reads) keeps it.
    monkeypatch.delenv("LG_ENV", raising=False)

    plain = _command(tmp_path, [])
    assert plain[plain.index("no:labgrid") - 1] == "-p"
    assert "no:labgrid" not in _command(tmp_path, ["--lg-env", "env.yaml"])
    monkeypatch.setenv("LG_ENV", "env.yaml")
    assert "no:labgrid" not in _command(tmp_path, [])


def test_a_parallel_night_hands_the_scheduler_last_nights_device_times(tmp_path: Path) -> None:
    # The devices are planned onto the workers (fixtures/partition.py): the nightly gives
    # each device's test time in the last full night; a filtered night is not "the last
    # night".
    night_dir = tmp_path / "night"
    night_dir.mkdir()
    with HistoryStore.open(tmp_path / "history.sqlite") as store:
        assert _write_durations(store, night_dir) is None  # no night yet
        full = store.begin_night(NightMeta.starting(bench="b", plugin_version="3.1.0"))
        store.record_results(
            full,
            [
                dataclasses.replace(_result("a", Outcome.PASSED), device="door", duration_s=1.5),
                dataclasses.replace(_result("b", Outcome.FAILED), device="door", duration_s=2.0),
                dataclasses.replace(_result("a", Outcome.PASSED), device="gw", duration_s=0.25),
            ],
        )
        store.finish_night(full)
        filtered = store.begin_night(
            NightMeta.starting(bench="b", plugin_version="3.1.0", selection="-k a")
        )
        store.record_results(
            filtered,
            [dataclasses.replace(_result("a", Outcome.PASSED), device="door", duration_s=99.0)],
        )
        store.finish_night(filtered)
        path = _write_durations(store, night_dir)
    assert path == night_dir / DURATIONS_NAME
    assert json.loads(path.read_text(encoding="utf-8")) == {"door": 3.5, "gw": 0.25}

    def command(workers: int) -> list[str]:
        return pytest_command(
            tmp_path / "suite",
            config_file=tmp_path / "lab.yaml",
            night_dir=night_dir,
            bench="b",
            workers=workers,
            durations=path,
        )

    assert f"--hil-durations={path}" in command(4)
    assert not any(arg.startswith("--hil-durations") for arg in command(1))


def test_the_git_sha_names_the_checkout() -> None:
    sha = git_sha()
    assert sha is not None
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", sha)


def test_no_git_sha_outside_a_checkout(tmp_path: Path) -> None:
    assert git_sha(tmp_path) is None


def test_the_history_store_is_sqlite(tmp_path: Path) -> None:
    # A store the nightly created can be read by any SQLite client (what labs archive).
    run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "nights",
        history=tmp_path / "history.sqlite",
        suite=_small_suite(tmp_path),
        output=lambda line: None,
    )
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone() == (1,)


FLAKY_SUITE = """
from pathlib import Path

FIRST_RUN_MARK = Path({mark!r})


async def test_status_first_time_unlucky(lock):
    await lock.status()
    if not FIRST_RUN_MARK.exists():
        FIRST_RUN_MARK.write_text("failed once")
        raise AssertionError("the first run of this test fails")


async def test_status_always_fine(lock):
    await lock.status()
"""

BROKEN_SUITE = """
async def test_status_never_good_enough(lock):
    await lock.status()
    raise AssertionError("this test always fails")
"""


def test_a_test_that_passes_only_on_rerun_is_flaky_not_failed(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    body = FLAKY_SUITE.format(mark=str(tmp_path / "first-run-done"))
    (suite / "test_flaky.py").write_text(body, encoding="utf-8")
    lines: list[str] = []
    outcome = run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "nights",
        history=tmp_path / "history.sqlite",
        suite=suite,
        output=lines.append,
    )
    assert any("rerunning the failed tests (rerun 1 of 1)" in line for line in lines)
    results = {r.name: r for r in outcome.night.results}
    flaky = results["test_status_first_time_unlucky"]
    assert (flaky.outcome, flaky.attempts) == (Outcome.PASSED, 2)
    steady = results["test_status_always_fine"]
    assert (steady.outcome, steady.attempts) == (Outcome.PASSED, 1)  # not run again
    assert [c.test_id for c in outcome.diff.flaky] == [flaky.test_id]
    assert outcome.exit_status == 0
    assert (outcome.directory / "reruns" / "rerun-1.xml").is_file()
    # A CI that globs junit*.xml counts the failure once: the rerun file is not matched.
    assert [p.name for p in outcome.directory.glob("junit*.xml")] == ["junit.xml"]
    first_junit = (outcome.directory / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="1"' in first_junit  # the first run is kept as it happened


def test_a_test_that_fails_every_time_fails_the_night_after_its_reruns(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_broken.py").write_text(BROKEN_SUITE, encoding="utf-8")
    outcome = run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "nights",
        history=tmp_path / "history.sqlite",
        suite=suite,
        output=lambda line: None,
        reruns=2,
    )
    (result,) = outcome.night.results
    assert (result.outcome, result.attempts) == (Outcome.FAILED, 3)
    assert outcome.exit_status == 1
    assert not outcome.diff.flaky


def test_reruns_can_be_turned_off(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_broken.py").write_text(BROKEN_SUITE, encoding="utf-8")
    outcome = run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "nights",
        history=tmp_path / "history.sqlite",
        suite=suite,
        output=lambda line: None,
        reruns=0,
    )
    (result,) = outcome.night.results
    assert (result.outcome, result.attempts) == (Outcome.FAILED, 1)
    assert not list(outcome.directory.glob("reruns/rerun-*.xml"))
    with pytest.raises(NightlyError, match="reruns"):
        run_nightly(config_path=_config(tmp_path / "lab2.yaml", "sim:v3-keypad"), reruns=-1)


# ------------------------------------------------------------------------- what narrows a night


@pytest.mark.parametrize(
    ("args", "selection"),
    [
        ([], None),
        (["-q"], None),
        (["-vv", "--tb=long", "-rA", "--color", "no", "-s"], None),
        (["-k", "unlock"], "-k unlock"),
        (["-k", "unlock and not lock"], "-k 'unlock and not lock'"),
        (["tests/hil/test_lock_api.py"], "tests/hil/test_lock_api.py"),
        (["--hil-device=front-door"], "--hil-device=front-door"),
        (["-x"], "-x"),
        (["-q", "-m", "not hil_destructive"], "-q -m 'not hil_destructive'"),
    ],
)
def test_only_output_options_leave_a_night_whole(args: list[str], selection: str | None) -> None:
    assert selection_of(args) == selection


def test_deselected_tests_make_a_night_filtered_whatever_the_arguments() -> None:
    assert selection_of(["-q"], deselected=38) == "-q (38 deselected)"
    assert selection_of([], deselected=3) == "3 deselected"
    assert selection_of(["-k", "a"], deselected=3) == "-k a"


def test_messages_are_kept_with_paths_relative_to_the_night_and_the_project(
    tmp_path: Path,
) -> None:
    night_dir = tmp_path / "nights" / "2026-11-30T02-00-00Z"
    root = tmp_path / "checkout"
    message = (
        f"front-door is broken: bring-up failed in x: timeout — trace: {night_dir}/traces/a.jsonl"
        f" (not in its features in {root}/hil-config.yaml)"
    )
    tidy = tidy_paths(_result("a", Outcome.SKIPPED, message=message), night_dir, root)
    assert tidy.message == (
        "front-door is broken: bring-up failed in x: timeout — trace: traces/a.jsonl"
        " (not in its features in hil-config.yaml)"
    )
    untouched = _result("b", Outcome.PASSED)
    assert tidy_paths(untouched, night_dir, root) is untouched


# ------------------------------------------------------------------------------ the measured nights


def test_a_filtered_night_then_a_regression(tmp_path: Path) -> None:
    # Measured: `nightly -- -k unlock` became the next night's baseline, and a real
    # regression the night after read "0 regressions, 416 new".
    nights, history = tmp_path / "nights", tmp_path / "history.sqlite"

    def run(address: str, *args: str) -> Any:
        return run_nightly(
            config_path=_config(tmp_path / "lab.yaml", address),
            out=nights,
            history=history,
            pytest_args=args,
            output=lambda line: None,
            reruns=0,
        )

    full = run("sim:v3-keypad")
    filtered = run("sim:v3-keypad", "-k", "unlock")
    assert filtered.night.selection == "-k unlock"
    assert filtered.night.complete
    assert not filtered.night.full
    assert filtered.diff.new == filtered.diff.removed == ()
    assert "filtered (-k unlock): never the previous night" in filtered.summary
    regressed = run("sim:v3-keypad_unlock-refusal-2")
    diff = regressed.diff
    assert diff.previous_id == full.night.night_id
    assert [(c.test_id, c.device) for c in diff.regressions] == [(REGRESSED, "front-door")]
    assert diff.regressions[0].baseline_id == filtered.night.night_id  # its own last result
    assert diff.new == diff.removed == diff.lost_coverage == ()
    assert diff.headline().startswith(
        f"{regressed.night.night_id} vs {full.night.night_id}: 1 regression, 0 lost coverage"
    )
    html = regressed.html.read_text(encoding="utf-8")
    assert "config changed" in _section(html, "summary")  # the address names the variant


TRANSIENT_CONFTEST = """
from pathlib import Path

import pytest

from ttlock_hil.harness.sim.faults import Fault

MARK = Path({mark!r})


@pytest.fixture(scope="session", autouse=True)
def a_transient_connect_timeout(hil_lab):
    # One connect attempt of the night times out, as a busy 2.4 GHz band does.
    if MARK.exists():
        hil_lab.virtual("front-door").faults.add(Fault.CONNECT_TIMEOUT, times=1)
"""

THREE_TESTS = """
async def test_a_status(lock):
    await lock.status()


async def test_b_status_again(lock):
    await lock.status()


async def test_c_status_once_more(lock):
    await lock.status()
"""


def test_a_transient_bring_up_failure_names_the_coverage_it_lost(tmp_path: Path) -> None:
    # Measured: one connect timeout at bring-up skipped 79 tests that passed the night
    # before, and the diff said "1 regression".
    mark = tmp_path / "bad-radio-night"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(TRANSIENT_CONFTEST.format(mark=str(mark)), "utf-8")
    (suite / "test_three.py").write_text(THREE_TESTS, encoding="utf-8")

    def run() -> Any:
        return run_nightly(
            config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
            out=tmp_path / "nights",
            history=tmp_path / "history.sqlite",
            suite=suite,
            output=lambda line: None,
            reruns=0,
        )

    assert run().exit_status == 0
    mark.write_text("tonight the band is busy", encoding="utf-8")
    bad = run()
    diff = bad.diff
    assert [c.name for c in diff.regressions] == ["test_a_status"]
    assert diff.regressions[0].category is FailureCategory.LINK
    lost = diff.lost_coverage
    assert [c.name for c in lost] == ["test_b_status_again", "test_c_status_once_more"]
    for change in lost:
        assert change.reason is not None
        assert change.reason.startswith(
            "broken at bring-up: failed with code 10002 CONNECT_TIMEOUT"
        )
        assert change.trace is not None
        assert change.trace.startswith("traces/")  # relative: the report links it
        assert (bad.directory / change.trace).is_file()
    assert "1 regression, 2 lost coverage" in diff.headline()
    html = bad.html.read_text(encoding="utf-8")
    lost_html = html.split('id="lost-coverage"')[1].split("<h3")[0]
    assert "broken at bring-up: failed with code 10002 CONNECT_TIMEOUT" in lost_html
    assert "2 tests" in lost_html
    assert str(bad.directory) not in html  # paths relative to the night


def test_the_command_names_lost_coverage_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = tmp_path / "bad-radio-night"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(TRANSIENT_CONFTEST.format(mark=str(mark)), "utf-8")
    (suite / "test_three.py").write_text(THREE_TESTS, encoding="utf-8")
    argv = [
        "nightly",
        "--config",
        str(_config(tmp_path / "lab.yaml", "sim:v3-keypad")),
        "--out",
        str(tmp_path / "nights"),
        "--history",
        str(tmp_path / "history.sqlite"),
        "--suite",
        str(suite),
        "--reruns",
        "0",
        "--",
        "-q",
    ]
    assert main(argv) == 0
    mark.write_text("busy band", encoding="utf-8")
    capsys.readouterr()
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "  regression: test_three.py::test_a_status on front-door (passed → error) " in out
    assert "[link / infrastructure]" in out
    assert re.search(
        r"  lost coverage: 2 tests on front-door — broken at bring-up: failed with code 10002", out
    )


TOGGLED = """
from pathlib import Path

BROKEN = Path({mark!r})


async def test_unlock_like(lock):
    await lock.status()
    assert not BROKEN.exists(), "the firmware of tonight refuses"
"""


def test_a_fixed_regression_is_not_flaky_on_the_nights_after(tmp_path: Path) -> None:
    # Measured: a regression fixed the next night was still "flaky" on the following nights.
    mark = tmp_path / "broken-firmware"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_toggled.py").write_text(TOGGLED.format(mark=str(mark)), encoding="utf-8")
    diffs = []
    for broken in (False, True, False, False):
        if broken:
            mark.write_text("refuses", encoding="utf-8")
        else:
            mark.unlink(missing_ok=True)
        outcome = run_nightly(
            config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
            out=tmp_path / "nights",
            history=tmp_path / "history.sqlite",
            suite=suite,
            output=lambda line: None,
            reruns=0,
        )
        diffs.append(outcome.diff)
    assert [len(d.regressions) for d in diffs] == [0, 1, 0, 0]
    assert [len(d.fixes) for d in diffs] == [0, 0, 1, 0]
    assert [d.flaky for d in diffs] == [(), (), (), ()]
    assert diffs[1].regressions[0].category is FailureCategory.PRODUCT


def test_report_files_are_readable_by_others_unless_the_lab_keeps_secrets(tmp_path: Path) -> None:
    # Measured: report.html and results.json were written 0600.
    public = run_nightly(
        config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
        out=tmp_path / "public",
        history=tmp_path / "public" / "history.sqlite",
        suite=_small_suite(tmp_path),
        output=lambda line: None,
    )
    for name in ("report.html", "results.json", "diff.json"):
        assert stat.S_IMODE((public.directory / name).stat().st_mode) == 0o644, name
    secret_lab = _config(tmp_path / "secret.yaml", "sim:v3-keypad")
    secret_lab.write_text(
        secret_lab.read_text(encoding="utf-8") + "redact: false\n", encoding="utf-8"
    )
    private = run_nightly(
        config_path=secret_lab,
        out=tmp_path / "private",
        history=tmp_path / "private" / "history.sqlite",
        suite=tmp_path / "suite",
        output=lambda line: None,
    )
    assert not private.night.redacted
    for path in private.directory.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


# ------------------------------------------------------------------------------ stops and benches

SLOW_SUITE = """
import asyncio

import pytest


@pytest.mark.parametrize("step", range({steps}))
async def test_a_slow_step(lock, step):
    await lock.status()
    await asyncio.sleep({pause})
"""


def _slow_suite(root: Path, *, steps: int = 40, pause: float = 0.1) -> Path:
    suite = root / "slow-suite"
    suite.mkdir()
    (suite / "test_slow.py").write_text(
        SLOW_SUITE.format(steps=steps, pause=pause), encoding="utf-8"
    )
    return suite


def _process_table() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, process group, state) of every process (Linux /proc)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat_line.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _descendants(pid: int) -> dict[int, int]:
    """pid → process group of every living descendant of ``pid``."""
    table = _process_table()
    found: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, pgid, state) in table.items():
            if ppid == parent and child not in found and state != "Z":
                found[child] = pgid
                frontier.append(child)
    return found


def _alive(pids: Iterable[int]) -> list[int]:
    table = _process_table()
    return [pid for pid in pids if pid in table and table[pid][2] != "Z"]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _nightly_cli(
    tmp_path: Path, suite: Path, *extra: str, devices: int = 1
) -> subprocess.Popen[str]:
    log = (tmp_path / "nightly.log").open("w", encoding="utf-8")
    lab = tmp_path / "lab.yaml"
    config = _two_lock_config(lab) if devices == 2 else _config(lab, "sim:v3-keypad")
    command = [
        str(Path(sys.executable).parent / "ttlock-hil"),
        "nightly",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "nights"),
        "--history",
        str(tmp_path / "history.sqlite"),
        "--suite",
        str(suite),
        "--reruns",
        "0",
        *extra,
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    return process


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _streamed(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "nights").glob("*/results.jsonl") if p.stat().st_size > 0]


@pytest.mark.parametrize(
    ("signum", "status", "workers"),
    [(signal.SIGTERM, 143, 1), (signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 2)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-two-workers"],
)
def test_a_stop_at_a_random_point_keeps_the_results_and_leaves_no_process(
    tmp_path: Path, signum: int, status: int, workers: int
) -> None:
    # Measured: on SIGTERM the pytest child kept running and kept the devices, and the
    # store had the night incomplete with 0 results although 460 were streamed. With
    # workers, the xdist controller and its workers are that group too.
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, 2.0)
    nightly = _nightly_cli(
        tmp_path,
        _slow_suite(tmp_path),
        "--workers",
        str(workers),
        "--",
        "-q",
        devices=workers,
    )
    try:
        _wait_for(lambda: bool(_streamed(tmp_path)), "the first streamed result")
        time.sleep(delay)
        family = _descendants(nightly.pid)
        assert family, "pytest runs as the nightly's child"
        nightly.send_signal(signum)
        returned = nightly.wait(timeout=60)
    finally:
        if nightly.poll() is None:
            nightly.kill()
            nightly.wait()
    log = (tmp_path / "nightly.log").read_text(encoding="utf-8")
    context = f"seed {seed}, delay {delay:.2f} s\n{log[-3000:]}"
    assert returned == status, context
    assert _alive(family) == [], context  # no orphan: pytest and its group are gone
    groups = set(family.values())
    assert not [p for p, (_, g, s) in _process_table().items() if g in groups and s != "Z"]

    with HistoryStore.open(tmp_path / "history.sqlite", create=False) as store:
        (summary,) = store.list_nights()
        stored = store.load_night(summary.night_id)
    assert (stored.complete, stored.interrupted) == (False, signal.Signals(signum).name), context
    (lines,) = _streamed(tmp_path)
    cut = "the test did not run (interrupted?)"  # the one test the stop cut: no verdict
    streamed = [r for r in read_results(lines) if r.message != cut]
    assert len(stored.results) == len(streamed) > 0, context  # every streamed result is kept
    assert {r.key for r in stored.results} == {r.key for r in streamed}
    assert f"INTERRUPTED by {signal.Signals(signum).name}" in log, context
    report = (lines.parent / "report.html").read_text(encoding="utf-8")
    assert "<b>Interrupted night</b>" in report


def test_a_stop_before_the_night_began_records_nothing(tmp_path: Path) -> None:
    nightly = _nightly_cli(tmp_path, _slow_suite(tmp_path))
    try:
        _wait_for(
            lambda: any("--collect-only" in _command_line(p) for p in _descendants(nightly.pid)),
            "the pre-flight collection",
        )
        family = _descendants(nightly.pid)
        nightly.send_signal(signal.SIGTERM)
        returned = nightly.wait(timeout=60)
    finally:
        if nightly.poll() is None:
            nightly.kill()
            nightly.wait()
    log = (tmp_path / "nightly.log").read_text(encoding="utf-8")
    assert returned == 143, log
    assert "error: stopped by SIGTERM before the night began; nothing was recorded" in log
    assert _alive(family) == []
    history = tmp_path / "history.sqlite"
    assert not history.exists() or not HistoryStore.open(history).list_nights()


def test_a_second_nightly_on_the_same_bench_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Measured: two nightlies on one config ran at once and fought over the locks.
    first = _nightly_cli(tmp_path, _slow_suite(tmp_path, steps=60))
    try:
        lock_file = tmp_path / "nightly.lock"  # beside the history store
        _wait_for(
            lambda: lock_file.exists() and f'"pid": {first.pid}' in lock_file.read_text(),
            "the first nightly to hold the bench",
        )
        _wait_for(lambda: bool(_streamed(tmp_path)), "the first nightly to run its tests")
        holder = json.loads(lock_file.read_text(encoding="utf-8"))
        status = main(
            [
                "nightly",
                "--config",
                str(tmp_path / "lab.yaml"),
                "--out",
                str(tmp_path / "second"),
                "--history",
                str(tmp_path / "history.sqlite"),
                "--suite",
                str(tmp_path / "slow-suite"),
            ]
        )
        err = capsys.readouterr().err
        assert status == 75
        assert err.startswith("error: bench nightly-test-lab is busy: another nightly holds ")
        assert f"PID {first.pid}" in err
        assert f"started {holder['started']}" in err
        assert err.count("\n") == 1
        assert not (tmp_path / "second").exists()  # nothing of the refused night
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    with HistoryStore.open(tmp_path / "history.sqlite", create=False) as store:
        (only,) = store.list_nights()  # the first's, stopped; nothing of the refused one
    assert only.interrupted == "SIGTERM"


def test_the_night_runs_on_the_tier_it_is_given(tmp_path: Path) -> None:
    command = pytest_command(
        tmp_path / "suite",
        config_file=tmp_path / "lab.yaml",
        night_dir=tmp_path / "night",
        bench="bench-01",
        tier="bluez",
    )
    assert "--hil-tier=bluez" in command
    default = pytest_command(
        tmp_path / "suite", config_file=tmp_path / "lab.yaml", night_dir=tmp_path, bench="b"
    )
    assert "--hil-tier=virtual" in default


def test_nightly_refuses_an_unknown_tier(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nightly", "--tier", "radio"]) == 2
    assert "invalid choice: 'radio'" in capsys.readouterr().err


def test_an_out_that_is_a_file_is_one_error_line_and_records_no_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "afile"
    target.write_text("x", "utf-8")
    history = tmp_path / "history.sqlite"
    assert main(["nightly", "--out", str(target), "--history", str(history)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err
    assert "Traceback" not in err
    assert not history.exists()  # nothing was begun


PARALLEL_SUITE = """
import os
from pathlib import Path

import pytest

LOG = Path({log!r})
FIRST_RUN_MARK = Path({mark!r})


@pytest.mark.parametrize("n", range(3))
async def test_status(lock, hil_device, n):
    await lock.status()
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(f"{{hil_device.name}} {{os.environ.get('PYTEST_XDIST_WORKER')}} {{n}}\\n")


async def test_unlucky_once_on_the_back_door(lock, hil_device):
    await lock.status()
    if hil_device.name == "back-door" and not FIRST_RUN_MARK.exists():
        FIRST_RUN_MARK.write_text("failed once")
        raise AssertionError("the first run of this test fails")
"""


def _two_lock_config(path: Path) -> Path:
    _config(path, "sim:v3-keypad")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["devices"].append({**data["devices"][0], "name": "back-door"})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_parallel_night_runs_each_device_on_one_worker_and_keeps_one_result_per_test(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    log = tmp_path / "order.log"
    body = PARALLEL_SUITE.format(log=str(log), mark=str(tmp_path / "first-run-done"))
    (suite / "test_parallel.py").write_text(body, encoding="utf-8")
    lines: list[str] = []
    outcome = run_nightly(
        config_path=_two_lock_config(tmp_path / "lab.yaml"),
        out=tmp_path / "nights",
        history=tmp_path / "history.sqlite",
        suite=suite,
        output=lines.append,
        workers=2,
    )
    # Two workers, one device each, each device's tests in the serial order.
    runs = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    by_device = {name: [(w, n) for d, w, n in runs if d == name] for name, _, _ in runs}
    assert {name: {w for w, _ in ran} for name, ran in by_device.items()} in (
        {"front-door": {"gw0"}, "back-door": {"gw1"}},
        {"front-door": {"gw1"}, "back-door": {"gw0"}},
    )
    assert all([n for _, n in ran] == ["0", "1", "2"] for ran in by_device.values())
    # One result per test and device, the rerun folded in (one worker: one failed device).
    assert sorted((r.test_id.rsplit("::", 1)[1], r.device) for r in outcome.night.results) == [
        ("test_status[0]", "back-door"),
        ("test_status[0]", "front-door"),
        ("test_status[1]", "back-door"),
        ("test_status[1]", "front-door"),
        ("test_status[2]", "back-door"),
        ("test_status[2]", "front-door"),
        ("test_unlucky_once_on_the_back_door", "back-door"),
        ("test_unlucky_once_on_the_back_door", "front-door"),
    ]
    unlucky = {r.device: r for r in outcome.night.results if r.name.startswith("test_unlucky")}
    assert (unlucky["back-door"].outcome, unlucky["back-door"].attempts) == (Outcome.PASSED, 2)
    assert (unlucky["front-door"].outcome, unlucky["front-door"].attempts) == (Outcome.PASSED, 1)
    assert outcome.exit_status == 0
    assert any("rerunning the failed tests (rerun 1 of 1)" in line for line in lines)
    junit = (outcome.directory / "junit.xml").read_text(encoding="utf-8")
    assert 'name="bench" value="nightly-test-lab"' in junit  # recorded by the controller


def test_the_worker_count_is_one_per_device_up_to_the_cpus_for_simulated_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ttlock_hil.harness.config import load_config
    from ttlock_hil.harness.nightly import WORKERS_PER_CPU, worker_count

    one = load_config(_config(tmp_path / "one.yaml", "sim:v3-keypad"))
    two = load_config(_two_lock_config(tmp_path / "two.yaml"))
    radio = load_config(_config(tmp_path / "radio.yaml", "C1:23:45:67:89:AB"))
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert (worker_count(one), worker_count(two), worker_count(radio)) == (1, 1, 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert (worker_count(one), worker_count(two)) == (1, 2)
    assert worker_count(two, 5) == 5
    with pytest.raises(NightlyError, match="workers must be 1 or more"):
        worker_count(two, 0)
    # Radio devices mostly wait for the radio: several share a CPU.
    many = yaml.safe_load((tmp_path / "radio.yaml").read_text(encoding="utf-8"))
    many["devices"] = [
        {**many["devices"][0], "name": f"lock-{n}", "address": f"C1:23:45:67:89:{n:02X}"}
        for n in range(20)
    ]
    (tmp_path / "many.yaml").write_text(yaml.safe_dump(many), encoding="utf-8")
    assert worker_count(load_config(tmp_path / "many.yaml")) == WORKERS_PER_CPU * 2


def test_the_pytest_command_runs_workers_only_when_asked(tmp_path: Path) -> None:
    def command(workers: int) -> list[str]:
        return pytest_command(
            tmp_path / "suite",
            config_file=tmp_path / "lab.yaml",
            night_dir=tmp_path / "night",
            bench="bench-01",
            extra=["-k", "unlock"],
            workers=workers,
        )

    assert "-n" not in command(1)
    parallel = command(3)
    assert parallel[parallel.index("-n") + 1] == "3"
    assert parallel[-2:] == ["-k", "unlock"]  # the engineer's arguments still come last


def test_the_command_passes_workers_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise NightlyError("stop here")

    monkeypatch.setattr("ttlock_hil.harness.nightly.run_nightly", fake)
    assert main(["nightly", "--workers", "3"]) == 2
    assert seen["workers"] == 3
    assert main(["nightly"]) == 2
    assert seen["workers"] is None
