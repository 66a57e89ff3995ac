"""``ttlock-hil report diff|show`` over a history store."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.report import night, result
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import Night

FIRST, SECOND, THIRD = "2026-11-30T02-00-00Z", "2026-12-01T02-00-00Z", "2026-12-02T02-00-00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")


def fill(path: Path, *nights: Night) -> Path:
    with HistoryStore.open(path) as store:
        for n in nights:
            store.record_night(n)
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return fill(
        tmp_path / "reports" / "history.sqlite",
        night(0, [result("a"), result("b")]),
        night(
            1, [result("a"), result("b", outcome="failed", message="boom", trace="traces/b.jsonl")]
        ),
        night(2, [result("a", outcome="failed"), result("b"), result("c")]),
    )


@pytest.fixture
def config(tmp_path: Path, history: Path) -> Path:
    file = tmp_path / "hil-config.yaml"
    file.write_text("lab: bench-01\nreports: reports/\n", encoding="utf-8")
    return file


# ------------------------------------------------------------------------------ report diff


def test_diff_shows_the_latest_night_against_the_previous(
    capsys: pytest.CaptureFixture[str], history: Path
) -> None:
    status, out, err = run(capsys, "report", "diff", "--history", str(history))
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == (
        f"{THIRD} vs {SECOND}: 1 regression, 0 lost coverage, 1 fix, 1 new, 0 removed, "
        "0 passed on retry, 0 flip-flops, 0 still failing"
    )
    regression = next(line for line in out.splitlines() if "::a " in line)
    assert "passed → failed" in regression
    # b went passed, failed, passed over the three nights: fixed, and not flaky.
    assert "flip-flop" not in "\n".join(out.splitlines()[1:-1])


def test_diff_finds_the_store_through_the_config(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    status, out, _ = run(capsys, "report", "diff", "--config", str(config))
    assert status == 0
    assert out.startswith(f"{THIRD} vs {SECOND}")


def test_diff_since_and_night_choose_the_nights(
    capsys: pytest.CaptureFixture[str], history: Path
) -> None:
    status, out, _ = run(
        capsys, "report", "diff", "--history", str(history), "--night", SECOND, "--since", FIRST
    )
    assert status == 0
    assert out.startswith(f"{SECOND} vs {FIRST}: 1 regression")


def test_diff_as_json(capsys: pytest.CaptureFixture[str], history: Path) -> None:
    status, out, _ = run(capsys, "report", "diff", "--history", str(history), "--json")
    document = json.loads(out)
    assert status == 0
    assert (document["night_id"], document["previous_id"]) == (THIRD, SECOND)
    assert [c["test_id"] for c in document["regressions"]] == ["tests/hil/test_lock.py::a"]
    assert [c["test_id"] for c in document["new"]] == ["tests/hil/test_lock.py::c"]


def test_diff_notes_an_incomplete_latest_night(
    capsys: pytest.CaptureFixture[str], history: Path
) -> None:
    fill(history, night(3, [result("a")], complete=False))
    status, out, _ = run(capsys, "report", "diff", "--history", str(history))
    assert status == 0
    assert out.splitlines()[0] == (
        f"note: night 2026-12-03T02-00-00Z is incomplete (killed or still running); showing {THIRD}"
    )


@pytest.mark.parametrize("option", ["--night", "--since"])
def test_diff_of_an_unknown_night_is_exit_2(
    capsys: pytest.CaptureFixture[str], history: Path, option: str
) -> None:
    status, out, err = run(
        capsys, "report", "diff", "--history", str(history), option, "2020-01-01"
    )
    assert (status, out) == (2, "")
    assert_one_error_line(err, "no night '2020-01-01'", THIRD)


def test_diff_without_a_store_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    status, _, err = run(capsys, "report", "diff", "--history", str(missing))
    assert status == 2
    assert_one_error_line(err, f"history store {missing} does not exist", "ttlock-hil nightly")
    assert not missing.exists()


def test_diff_of_an_empty_store_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = fill(tmp_path / "h.sqlite")
    status, _, err = run(capsys, "report", "diff", "--history", str(empty))
    assert status == 2
    assert_one_error_line(err, "has no nights yet")


def test_diff_of_a_corrupt_store_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    corrupt = tmp_path / "h.sqlite"
    corrupt.write_bytes(b"garbage" * 1000)
    status, _, err = run(capsys, "report", "diff", "--history", str(corrupt))
    assert status == 2
    assert_one_error_line(err, "is corrupt", "move it aside")


def test_diff_with_a_bad_config_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "report", "diff", "--config", str(tmp_path / "missing.yaml"))
    assert status == 2
    assert_one_error_line(err, "config file not found")


# ------------------------------------------------------------------------------ report show


def test_show_regenerates_the_html_into_the_nights_directory(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    status, out, err = run(capsys, "report", "show", SECOND, "--config", str(config))
    expected = tmp_path / "reports" / SECOND / "report.html"
    assert (status, err) == (0, "")
    assert out == f"wrote {expected}\n"
    document = expected.read_text(encoding="utf-8")
    assert f"{SECOND} vs {FIRST}: 1 regression" in document
    assert '<a href="traces/b.jsonl" title="traces/b.jsonl">trace</a>' in document
    assert stat.S_IMODE(expected.stat().st_mode) == 0o644


def test_show_elsewhere_keeps_trace_links_working(
    capsys: pytest.CaptureFixture[str], history: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "elsewhere" / "r.html"
    status, _, _ = run(
        capsys, "report", "show", SECOND, "--history", str(history), "--out", str(out_file)
    )
    assert status == 0
    document = out_file.read_text(encoding="utf-8")
    href = f"../reports/{SECOND}/traces/b.jsonl"
    assert f'<a href="{href}" title="traces/b.jsonl">trace</a>' in document
    assert (
        out_file.parent / href
    ).resolve() == tmp_path / "reports" / SECOND / "traces" / "b.jsonl"


def test_show_into_a_directory_writes_report_html_there(
    capsys: pytest.CaptureFixture[str], history: Path, tmp_path: Path
) -> None:
    status, out, _ = run(
        capsys, "report", "show", THIRD, "--history", str(history), "--out", str(tmp_path)
    )
    assert status == 0
    assert (tmp_path / "report.html").is_file()
    assert out == f"wrote {tmp_path / 'report.html'}\n"


def test_show_of_an_unknown_night_is_exit_2(
    capsys: pytest.CaptureFixture[str], history: Path
) -> None:
    status, out, err = run(capsys, "report", "show", "nope", "--history", str(history))
    assert (status, out) == (2, "")
    assert_one_error_line(err, "no night 'nope'")


def test_report_without_a_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "report")
    assert status == 2
    assert err.strip().splitlines()[-1].startswith("error: ")


def test_the_installed_script_runs_report_diff(history: Path) -> None:
    script = Path(sys.executable).parent / "ttlock-hil"
    done = subprocess.run(
        [str(script), "report", "diff", "--history", str(history), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["night_id"] == THIRD
    missing = subprocess.run(
        [str(script), "report", "show", "nope", "--history", str(history)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no night 'nope'")
    assert "Traceback" not in missing.stderr


# ------------------------------------------------------------------------------ pipes


def script(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed ttlock-hil, its output through a real pipe."""
    command = [str(Path(sys.executable).parent / "ttlock-hil"), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def into_a_closed_pipe(*argv: str) -> tuple[int, str]:
    """Run the installed ttlock-hil with its stdout a pipe nobody reads any more (what
    ``| head`` leaves once it has its lines); returns the exit status and stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "ttlock-hil"), *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_diff_into_a_pipe_is_one_line_per_change(tmp_path: Path) -> None:
    # Measured: 122 lines for 2 regressions without a TTY (rich wrapped at 80 columns).
    long_message = "AssertionError: expected code 18 USER_NOT_LOGGED_IN, observed 2 " + "x" * 150
    history = fill(
        tmp_path / "h.sqlite",
        night(0, [result("a_rather_long_test_name_" * 3), result("b_another_long_one_" * 3)]),
        night(
            1,
            [
                result("a_rather_long_test_name_" * 3, outcome="failed", message=long_message),
                result("b_another_long_one_" * 3, outcome="error", message=long_message),
            ],
        ),
    )
    done = script("report", "diff", "--history", str(history))
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert len(lines) <= 5, done.stdout
    assert sum(1 for line in lines if long_message in line) == 2


def test_diff_json_into_a_closed_pipe_ends_quietly(history: Path) -> None:
    # Measured: `report diff --json | head` ended in a BrokenPipeError traceback.
    for extra in (["--json"], []):
        status, err = into_a_closed_pipe("report", "diff", "--history", str(history), *extra)
        assert (status, err) == (141, "")
