"""``ttlock-hil lab nightly`` against a real coordinator and exporters on loopback.

Each lab is a coordinator bound to 127.0.0.1 on a free port in a temporary directory and
one exporter per virtual bench (:mod:`tests.unit.labgrid.loopback`); every process a test
starts — the labs' and the ``lab nightly`` commands' — is ended by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.labgrid.conftest import LabFactory
from tests.unit.labgrid.loopback import LoopbackLab, free_port, labgrid_env
from tests.unit.report.test_html import (  # the single-bench report's browser check
    DevToolsPipe,
    _Canary,
    external_references,
    run_chromium,
)
from ttlock_hil.harness.labgrid.coordinator import place_reserved
from ttlock_hil.harness.report.model import Night

CLI = [sys.executable, "-m", "ttlock_hil.harness.cli"]


def lab_nightly(lab_address: str, out: Path, *extra: str) -> list[str]:
    return [
        *CLI,
        "lab",
        "nightly",
        "--coordinator",
        lab_address,
        "--tag",
        "ttlock=yes",
        "--out",
        str(out),
        "--reruns",
        "0",
        *extra,
    ]


def run(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command in a session of its own; past ``timeout`` its whole process group (it
    and the bench nightlies it started) is killed by the group's id, its PID."""
    with subprocess.Popen(
        command,
        env=labgrid_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as popen:
        try:
            stdout, stderr = popen.communicate(timeout=timeout)
        finally:
            kill_group(popen)
    return subprocess.CompletedProcess(command, popen.returncode, stdout, stderr)


def kill_group(popen: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Kill what is left of the process group whose leader is ``popen`` (its PID)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    if popen.poll() is None:
        popen.wait(timeout=10)


@dataclass
class Running:
    """A ``lab nightly`` started in the background, its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def wait_for(self, line: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(line) < count:
            assert self.popen.poll() is None, f"exited {self.popen.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {count}× {line!r}:\n{self.text()}"
            time.sleep(0.05)

    def finish(self, timeout: float = 90) -> int:
        return self.popen.wait(timeout=timeout)

    def end(self) -> None:
        kill_group(self.popen)  # it, and any bench nightly it left behind


@pytest.fixture
def background(tmp_path: Path) -> Iterator[list[Running]]:
    """Start commands in the background; each is killed by its PID if still running."""
    started: list[Running] = []
    try:
        yield started
    finally:
        for running in started:
            running.end()


def start(started: list[Running], command: list[str], log: Path) -> Running:
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            command,
            env=labgrid_env(),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    running = Running(popen, log)
    started.append(running)
    return running


def lab_document(out: Path) -> tuple[Path, dict[str, object]]:
    (night_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return night_dir, json.loads((night_dir / "lab.json").read_text("utf-8"))


def bench_nights(night_dir: Path) -> dict[str, Night]:
    return {
        path.parent.parent.name: Night.from_json(path.read_text("utf-8"))
        for path in night_dir.glob("benches/*/*/results.json")
    }


def assert_all_let_go(lab: LoopbackLab) -> None:
    places = lab.places()
    assert {p.name: (p.acquired, p.reservation) for p in places.values()} == {
        name: (None, None) for name in places
    }
    assert lab.reservations() == []


def leftover_nightlies(marker: Path) -> list[str]:
    """Command lines of live processes that run a nightly under ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "nightly" in cmdline and str(marker) in cmdline:
            found.append(cmdline)
    return found


# ------------------------------------------------------------------------------ a whole lab night


@dataclass(frozen=True)
class LabNights:
    """Two ``lab nightly`` runs over one lab of three benches, the second started while the
    first held every place."""

    lab: LoopbackLab
    first: Path
    first_output: str
    second: Path
    second_output: str


@pytest.fixture(scope="module")
def lab_night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabNights]:
    """One lab of three benches and two concurrent ``lab nightly`` runs over it (shared,
    read-only); every process ended by its PID (each run's whole group) at the end."""
    lab = LoopbackLab(tmp_path_factory.mktemp("labgrid-lab"))
    started: list[Running] = []
    try:
        lab.start()
        first = start(started, lab_nightly(lab.address, lab.root / "a"), lab.root / "a.log")
        first.wait_for("the night runs here", count=3)
        second = start(started, lab_nightly(lab.address, lab.root / "b"), lab.root / "b.log")
        assert first.finish() == 0, first.text()
        assert second.finish() == 0, second.text()
        yield LabNights(lab, lab.root / "a", first.text(), lab.root / "b", second.text())
    finally:
        for running in started:
            running.end()
        lab.close()


def test_three_benches_run_in_parallel_into_one_merged_report(lab_night: LabNights) -> None:
    lab, out, stdout = lab_night.lab, lab_night.first, lab_night.first_output
    night_dir, document = lab_document(out)
    assert [b["status"] for b in document["benches"]] == ["passed"] * 3  # type: ignore[index,union-attr]
    nights = bench_nights(night_dir)
    assert sorted(nights) == ["bench-01", "bench-02", "bench-03"]
    # In parallel: every bench's night began before any of them ended.
    assert max(n.started for n in nights.values()) < min(
        n.finished for n in nights.values() if n.finished is not None
    )
    merged = Night.from_json((night_dir / "results.json").read_text("utf-8"))
    assert merged.bench == "lab"
    assert {d.name for d in merged.devices} == {
        "bench-01/front-door",
        "bench-02/front-door",
        "bench-03/front-door",
    }
    assert len(merged.results) == 6
    assert merged.full
    for name in ("report.html", "diff.json", "lab.json"):
        assert (night_dir / name).is_file(), name
    for bench in document["benches"]:  # type: ignore[union-attr]
        assert (night_dir / bench["report"]).is_file()  # type: ignore[index]
    assert "3 benches (3 passed); 6 passed, 0 skipped" in stdout
    assert f"report: {night_dir / 'report.html'}" in stdout
    assert_all_let_go(lab)


def test_each_bench_keeps_its_own_history_and_the_lab_its_own(lab_night: LabNights) -> None:
    lab, out = lab_night.lab, lab_night.first
    assert (out / "history.sqlite").is_file()
    for place in lab.benches:
        assert (lab.root / "benches" / place / "reports" / "history.sqlite").is_file()


# ------------------------------------------------------------------------------ queueing


def test_a_second_lab_nightly_waits_for_the_reservations_instead_of_colliding(
    lab_night: LabNights,
) -> None:
    assert lab_night.second_output.count("waiting for the reservation (held by ") == 3
    first = bench_nights(lab_document(lab_night.first)[0])
    second_dir, second_document = lab_document(lab_night.second)
    second = bench_nights(second_dir)
    assert sorted(second) == ["bench-01", "bench-02", "bench-03"]
    for place, night in first.items():
        assert night.finished is not None
        assert second[place].started >= night.finished, place  # one after the other
    assert all(b["waited_s"] > 0 for b in second_document["benches"])  # type: ignore[index,union-attr]
    assert [b["status"] for b in second_document["benches"]] == ["passed"] * 3  # type: ignore[index,union-attr]
    assert_all_let_go(lab_night.lab)


# ------------------------------------------------------------------------------ failures


def test_a_killed_exporter_marks_its_bench_unavailable_and_the_others_still_report(
    new_lab: LabFactory,
) -> None:
    lab = new_lab()
    lab.kill_exporter("bench-03")
    out = lab.root / "nights"
    done = run(lab_nightly(lab.address, out))
    assert done.returncode == 0, done.stdout + done.stderr  # unavailable is not failed
    night_dir, document = lab_document(out)
    statuses = {b["place"]: b["status"] for b in document["benches"]}  # type: ignore[index,union-attr]
    assert statuses == {"bench-01": "passed", "bench-02": "passed", "bench-03": "unavailable"}
    assert "bench-03: unavailable — no exporter exports the TTLockBench" in done.stdout
    merged = Night.from_json((night_dir / "results.json").read_text("utf-8"))
    assert len(merged.results) == 4
    assert merged.selection is not None
    assert merged.selection.startswith("bench-03 unavailable")
    assert "Traceback" not in done.stderr
    report = (night_dir / "report.html").read_text("utf-8")
    assert '<tr data-status="unavailable"><td>bench-03</td>' in report
    assert_all_let_go(lab)


def test_a_bench_whose_config_is_broken_or_whose_night_gives_no_results_is_an_error(
    new_lab: LabFactory,
) -> None:
    lab = new_lab(benches=("bench-01", "bench-02"), configs={"bench-01": "lab: [broken\n"})
    out = lab.root / "nights"
    done = run(lab_nightly(lab.address, out, "--", "-k", "no_such_test"))
    assert done.returncode == 1, done.stdout + done.stderr
    night_dir, document = lab_document(out)
    broken, empty = document["benches"]  # type: ignore[misc]
    assert broken["status"] == "error"
    assert "the night of bench bench-01 failed: its config cannot be used: " in broken["reason"]
    assert "hil-config.yaml" in broken["reason"]
    assert " — fix: " in broken["reason"]
    assert empty["status"] == "error"
    assert "its nightly wrote no results" in empty["reason"]
    log = (night_dir / "benches" / "bench-02" / "nightly.log").read_text("utf-8")
    assert "collected no tests" in log
    assert "Traceback" not in done.stdout + done.stderr
    assert_all_let_go(lab)


def test_an_interrupted_lab_night_stops_every_bench_and_releases_every_place(
    new_lab: LabFactory, background: list[Running]
) -> None:
    lab = new_lab()
    out = lab.root / "nights"
    running = start(background, lab_nightly(lab.address, out), lab.root / "run.log")
    running.wait_for("the night runs here", count=3)
    time.sleep(1.0)  # the bench nightlies are under way
    os.kill(running.popen.pid, signal.SIGTERM)
    assert running.finish(timeout=60) == 128 + signal.SIGTERM, running.text()
    assert "Traceback" not in running.text()
    assert_all_let_go(lab)
    assert leftover_nightlies(lab.root) == []
    merged = Night.from_json((lab_document(out)[0] / "results.json").read_text("utf-8"))
    assert merged.interrupted == "SIGTERM"


def test_a_lab_night_stopped_while_waiting_in_the_queue_cancels_its_reservation(
    new_lab: LabFactory, background: list[Running]
) -> None:
    lab = new_lab(benches=("bench-01",))
    out = lab.root / "nights"
    with place_reserved(lab.address, "bench-01"):
        running = start(background, lab_nightly(lab.address, out), lab.root / "run.log")
        running.wait_for("bench-01: waiting for the reservation (held by ")
        os.kill(running.popen.pid, signal.SIGINT)
        assert running.finish(timeout=60) == 128 + signal.SIGINT, running.text()
        assert len(lab.reservations()) == 1  # ours only: the waiting one was cancelled
    assert_all_let_go(lab)
    _, document = lab_document(out)
    assert [(b["place"], b["status"]) for b in document["benches"]] == [  # type: ignore[index,union-attr]
        ("bench-01", "interrupted")
    ]
    assert "Traceback" not in running.text()


def test_a_bench_busy_past_wait_or_running_past_its_timeout_is_an_error_with_the_reason(
    new_lab: LabFactory,
) -> None:
    lab = new_lab(benches=("bench-01",))
    with place_reserved(lab.address, "bench-01"):
        busy = run(lab_nightly(lab.address, lab.root / "busy", "--wait", "0.5"))
    assert busy.returncode == 1, busy.stdout + busy.stderr
    assert "bench-01: error — bench bench-01 is busy: labgrid place bench-01 is held by" in (
        busy.stdout
    )
    slow = run(lab_nightly(lab.address, lab.root / "slow", "--bench-timeout", "1"))
    assert slow.returncode == 1, slow.stdout + slow.stderr
    (bench,) = lab_document(lab.root / "slow")[1]["benches"]  # type: ignore[misc]
    assert bench["status"] == "error"
    assert "its night ran past 1 s and was stopped" in bench["reason"]
    assert leftover_nightlies(lab.root) == []
    assert_all_let_go(lab)


def test_an_unreachable_coordinator_is_one_line_with_the_fix(tmp_path: Path) -> None:
    began = time.monotonic()
    done = run(lab_nightly(f"127.0.0.1:{free_port()}", tmp_path / "out"))
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: the labgrid coordinator at 127.0.0.1:")
    assert "is unreachable" in line
    assert "fix: start labgrid-coordinator there" in line
    assert time.monotonic() - began < 30


def test_no_place_with_the_tag_is_a_usage_error_naming_the_places(
    lab_night: LabNights, tmp_path: Path
) -> None:
    lab = lab_night.lab
    command = lab_nightly(lab.address, tmp_path / "out")
    command[command.index("ttlock=yes")] = "ttlock=never"
    done = run(command)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "no place on the coordinator" in line
    assert "has the tag ttlock=never (places: bench-01, bench-02, bench-03)" in line
    assert "fix: tag each bench's place: labgrid-client -p PLACE set-tags ttlock=never" in line


# ------------------------------------------------------------------------------ the report, seen


def test_the_merged_report_renders_in_a_headless_browser_and_fetches_nothing(
    lab_night: LabNights,
    devtools: DevToolsPipe,
    chromium: str,
    canary: _Canary,
    tmp_path: Path,
) -> None:
    out = lab_night.first
    night_dir, document = lab_document(out)
    merged = night_dir / "report.html"
    html = merged.read_text("utf-8")
    assert external_references(html) == []
    url = merged.resolve().as_uri()
    assert devtools.page_requests(url) == [url]  # the file itself, nothing else
    bench_report = (night_dir / document["benches"][0]["report"]).resolve().as_uri()  # type: ignore[index]
    assert devtools.page_requests(bench_report) == [bench_report]
    dumped = run_chromium(chromium, tmp_path, canary.server_address[1], "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    matrix = dumped.stdout.split('id="matrix-table"')[1].split("</table>")[0]
    for place in ("bench-01", "bench-02", "bench-03"):
        assert f"{place}/front-door" in matrix  # bench × device columns, test rows
    assert "test_the_lock_unlocks" in matrix
    benches = dumped.stdout.split('id="benches-table"')[1].split("</table>")[0]
    assert benches.count('data-status="passed"') == 3
