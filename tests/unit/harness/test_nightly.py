"""``ttlock-hil nightly``: a night runs the suite, keeps its results and names what broke.

The main test runs two real nights of ``tests/hil`` against a one-lock virtual
lab. Between them the lock's "firmware" changes — the config selects a variant
that answers UNLOCK-without-login with NO_PERMISSION (2) instead of
USER_NOT_LOGGED_IN (18) — and the second night must name exactly that
regression, in ``diff.json``, ``results.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from ttlock_hil.harness.cli import main
from ttlock_hil.harness.nightly import (
    NightlyError,
    fold_attempts,
    git_sha,
    pytest_command,
    run_nightly,
)
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import Night, Outcome, TestResult

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
    return html[start : start + 1 + following.start()] if following else html[start:]


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


def test_options_pytest_refuses_are_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(NightlyError, match=r"pytest refused the options \(exit status 4\)"):
        run_nightly(
            config_path=_config(tmp_path / "lab.yaml", "sim:v3-keypad"),
            out=tmp_path / "nights",
            history=tmp_path / "history.sqlite",
            suite=_small_suite(tmp_path),
            pytest_args=["--hil-device=nope"],
            output=lambda line: None,
        )


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


def _result(test_id: str, outcome: Outcome, attempts: int = 1) -> TestResult:
    return TestResult(
        test_id=test_id,
        name=test_id,
        device="door",
        model="m",
        outcome=outcome,
        duration_s=0.1,
        attempts=attempts,
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
    assert (outcome.directory / "junit-rerun-1.xml").is_file()
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
    assert not list(outcome.directory.glob("junit-rerun-*.xml"))
    with pytest.raises(NightlyError, match="reruns"):
        run_nightly(config_path=_config(tmp_path / "lab2.yaml", "sim:v3-keypad"), reruns=-1)
