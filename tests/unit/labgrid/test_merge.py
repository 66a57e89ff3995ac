"""Bench nights merged into one lab night, and a bench night run over SSH (a stand-in SSH)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.labgrid.loopback import TINY_SUITE, write_bench
from tests.unit.report import T0, night, result
from ttlock_hil.harness.labgrid import BenchNightFailed
from ttlock_hil.harness.labgrid.bench import TTLockBench, nightly_command
from ttlock_hil.harness.labgrid.labnight import _run_remote, merge_nights
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import Night


def bench_night(index: int, *results: Any, **fields: Any) -> Night:
    return night(index, list(results), **fields)


def test_devices_become_bench_slash_device_and_traces_point_into_the_bench() -> None:
    one = bench_night(0, result("test_unlock", trace="traces/front-door/a.jsonl"))
    two = bench_night(1, result("test_unlock", outcome="failed"), seed_codes_asserted=(30,))
    merged = merge_nights(
        lab="lab",
        started=T0,
        finished=T0 + timedelta(minutes=5),
        benches=[
            ("bench-01", one, "benches/bench-01/n1"),
            ("bench-02", two, "benches/bench-02/n2"),
        ],
    )
    assert {d.name for d in merged.devices} >= {"bench-01/front-door", "bench-02/back-door"}
    by_key = merged.by_key
    first = by_key[("tests/hil/test_lock.py::test_unlock", "bench-01/front-door")]
    assert first.trace == "benches/bench-01/n1/traces/front-door/a.jsonl"
    assert (
        by_key[("tests/hil/test_lock.py::test_unlock", "bench-02/front-door")].outcome == "failed"
    )
    assert merged.complete
    assert merged.selection is None
    assert merged.full
    assert merged.bench == "lab"
    assert 30 in merged.seed_codes_asserted
    assert len(merged.failures) == 1


def test_a_missing_bench_makes_the_lab_night_partial_and_says_why() -> None:
    merged = merge_nights(
        lab="lab",
        started=T0,
        finished=T0 + timedelta(minutes=1),
        benches=[("bench-01", bench_night(0, result()), "benches/bench-01/n")],
        missing={"bench-03": "unavailable: no exporter exports the TTLockBench it matches"},
    )
    assert merged.selection == (
        "bench-03 unavailable: no exporter exports the TTLockBench it matches"
    )
    assert not merged.full
    assert merged.partial_reason is not None
    assert "bench-03" in merged.partial_reason


def test_a_filtered_or_interrupted_bench_night_is_named_and_a_stopped_lab_is_interrupted() -> None:
    filtered = bench_night(0, result(), selection="-k unlock")
    merged = merge_nights(
        lab="lab",
        started=T0,
        finished=T0,
        benches=[("bench-01", filtered, "b1")],
        interrupted="SIGTERM",
    )
    assert merged.selection == "bench-01: -k unlock"
    assert merged.interrupted == "SIGTERM"
    assert not merged.complete
    assert merged.finished is None


def test_benches_on_different_tiers_make_a_mixed_lab_night() -> None:
    merged = merge_nights(
        lab="lab",
        started=T0,
        finished=T0,
        benches=[
            ("bench-01", bench_night(0, result(), tier="virtual"), "b1"),
            ("bench-02", bench_night(1, result(), tier="bluez"), "b2"),
        ],
    )
    assert merged.tier == "mixed (bluez + virtual)"


def test_the_merged_night_has_the_history_and_diff_of_a_single_bench(tmp_path: Path) -> None:
    from ttlock_hil.harness.report.diff import diff_against_history

    def lab_night(index: int, outcome: str) -> Night:
        bench = bench_night(index, result("test_unlock", outcome=outcome))
        return merge_nights(
            lab="lab",
            started=T0 + timedelta(days=index),
            finished=T0 + timedelta(days=index, minutes=1),
            benches=[("bench-01", bench, "b1")],
        )

    with HistoryStore.open(tmp_path / "history.sqlite") as store:
        store.record_night(lab_night(0, "passed"))
        tonight = store.record_night(lab_night(1, "failed"))
        diff = diff_against_history(tonight, store)
    assert [(c.test_id, c.device) for c in diff.regressions] == [
        ("tests/hil/test_lock.py::test_unlock", "bench-01/front-door")
    ]


# ------------------------------------------------------------------------------ over SSH


class LocalShell:
    """Stands in for labgrid's SSHDriver: runs the command in a local shell, copies files."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(self, cmd: str, timeout: float | None = None) -> tuple[list[str], list[str], int]:
        self.commands.append(cmd)
        done = subprocess.run(
            ["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout, check=False
        )
        return done.stdout.splitlines(), done.stderr.splitlines(), done.returncode

    def get(self, filename: str, destination: str = ".") -> None:
        shutil.copy(filename, destination)


def test_a_remote_bench_night_runs_over_ssh_is_packed_fetched_and_cleaned_up(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_tiny.py").write_text(TINY_SUITE, "utf-8")
    config = write_bench(tmp_path / "remote-pc", "bench-07")
    params: Mapping[str, Any] = {
        "host": "bench-pc-7",
        "config": str(config),
        "suite": str(suite),
        "command": f"{sys.executable} -m ttlock_hil.harness.cli",
        "workdir": str(tmp_path / "remote-tmp"),
    }
    bench = TTLockBench(None, None, **params)
    assert not bench.local
    remote_out = f"{bench.workdir}/night"
    shell = LocalShell()
    bench_dir = tmp_path / "lab-night" / "benches" / "bench-07"
    bench_dir.mkdir(parents=True)
    status = asyncio.run(
        _run_remote(
            place="bench-07",
            bench=params,
            command=nightly_command(bench, remote_out, reruns=0),
            remote_out=remote_out,
            bench_dir=bench_dir,
            log=bench_dir / "nightly.log",
            timeout_s=120,
            ssh_factory=lambda _: shell,
        )
    )
    assert status == 0, (bench_dir / "nightly.log").read_text("utf-8")
    (fetched,) = bench_dir.glob("*/results.json")
    assert Night.from_json(fetched.read_text("utf-8")).counts["passed"] == 2  # type: ignore[index]
    assert (fetched.parent / "report.html").is_file()
    assert "2 passed" in (bench_dir / "nightly.log").read_text("utf-8")
    assert shell.commands[-1].startswith("rm -rf ")
    assert not Path(remote_out).exists()  # cleaned up on the "remote" side


def test_an_ssh_failure_is_a_bench_night_failure_with_the_fix(tmp_path: Path) -> None:
    def unreachable(_: Mapping[str, Any]) -> Any:
        raise RuntimeError("ssh: connect to host bench-pc-9 port 22: No route to host")

    with pytest.raises(BenchNightFailed, match=r"over SSH to bench-pc-9: ssh: connect") as caught:
        asyncio.run(
            _run_remote(
                place="bench-09",
                bench={"host": "bench-pc-9"},
                command=["ttlock-hil", "nightly"],
                remote_out="/tmp/x",
                bench_dir=tmp_path,
                log=tmp_path / "nightly.log",
                timeout_s=5,
                ssh_factory=unreachable,
            )
        )
    assert "fix: check that `ssh bench-pc-9` works" in str(caught.value)
    assert caught.value.place == "bench-09"


# ------------------------------------------------------------------------------ the benches table


def test_the_merged_report_lists_each_bench_with_its_status_and_its_own_report() -> None:
    from ttlock_hil.harness.report.html import BenchLine, build_report, render_html

    merged = merge_nights(
        lab="lab",
        started=T0,
        finished=T0,
        benches=[("bench-01", bench_night(0, result()), "benches/bench-01/n")],
        missing={"bench-03": "unavailable: exporter gone"},
    )
    html = render_html(
        build_report(
            merged,
            benches=[
                BenchLine("bench-01", "passed", "1 passed", "benches/bench-01/n/report.html"),
                BenchLine("bench-03", "unavailable", "<exporter gone>"),
            ],
        )
    )
    table = html.split('id="benches-table"')[1].split("</table>")[0]
    assert '<tr data-status="passed"><td>bench-01</td>' in table
    assert 'href="benches/bench-01/n/report.html"' in table
    assert '<tr data-status="unavailable"><td>bench-03</td>' in table
    assert "&lt;exporter gone&gt;" in table  # text, not markup
    assert 'id="benches"' not in render_html(build_report(merged))  # a single bench: none


def test_a_bench_report_link_must_stay_inside_the_lab_night() -> None:
    from ttlock_hil.harness.report import ReportError
    from ttlock_hil.harness.report.html import BenchLine

    for bad in ("/srv/x/report.html", "https://x/report.html", "javascript:alert(1)"):
        with pytest.raises(ReportError, match="relative to the lab night"):
            BenchLine("bench-01", "passed", "", bad)
