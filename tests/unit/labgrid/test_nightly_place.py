"""``ttlock-hil nightly --coordinator``: the single bench's lock becomes a labgrid reservation."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.unit.labgrid.conftest import LabFactory
from tests.unit.labgrid.loopback import LoopbackLab, labgrid_env
from tests.unit.labgrid.test_lab_nightly import CLI, assert_all_let_go, run
from ttlock_hil.harness.labgrid import LabgridError, PlaceBusy
from ttlock_hil.harness.labgrid.coordinator import place_reserved


def bench_nightly(lab: LoopbackLab, *extra: str) -> list[str]:
    return [
        *CLI,
        "nightly",
        "--config",
        str(lab.root / "benches" / "bench-01" / "hil-config.yaml"),
        "--out",
        str(lab.root / "nights"),
        "--suite",
        str(lab.suite),
        "--reruns",
        "0",
        "--coordinator",
        lab.address,
        *extra,
    ]


def test_a_held_place_makes_the_nightly_busy_and_a_waiting_one_runs_after_it(
    new_lab: LabFactory,
) -> None:
    lab = new_lab(benches=("bench-01",))
    coordinator_log = lab.processes[0]
    with place_reserved(lab.address, "bench-01"):
        busy = run(bench_nightly(lab))
        assert busy.returncode == 75, busy.stdout + busy.stderr
        (line,) = busy.stderr.strip().splitlines()
        assert line.startswith("error: bench bench-01 is busy: labgrid place bench-01 is held by ")
        assert "fix: wait for it to finish (or pass --wait SECONDS" in line
        waiting = subprocess.Popen(
            bench_nightly(lab, "--wait", "60"),
            env=labgrid_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            time.sleep(1.0)
            assert waiting.poll() is None  # queued behind us, not failed
        except BaseException:
            waiting.kill()
            waiting.wait(timeout=10)
            raise
    try:
        output, _ = waiting.communicate(timeout=90)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait(timeout=10)
    assert waiting.returncode == 0, output
    assert "2 passed" in output
    # Ours, then the nightly's: each acquired and released once.
    log = coordinator_log.text()
    assert log.count("bench-01: place acquired by") == 2
    assert log.count("bench-01: place released") == 2
    assert_all_let_go(lab)


def test_a_place_the_coordinator_does_not_have_is_named_with_the_fix(
    new_lab: LabFactory,
) -> None:
    lab = new_lab(benches=("bench-01",))
    done = run(bench_nightly(lab, "--place", "bench-99"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert f"the coordinator {lab.address} has no place bench-99" in line
    assert "fix: create it: labgrid-client -p bench-99 create" in line
    assert_all_let_go(lab)


def test_place_reserved_gives_the_place_back_when_the_block_fails(new_lab: LabFactory) -> None:
    lab = new_lab(benches=("bench-01",))
    seen: list[str | None] = []

    def night_that_breaks() -> None:
        with place_reserved(lab.address, "bench-01"):
            seen.append(lab.places()["bench-01"].acquired)
            raise RuntimeError("the night broke")

    with pytest.raises(RuntimeError, match="the night broke"):
        night_that_breaks()
    assert seen[0] is not None  # it was held while the block ran
    assert_all_let_go(lab)

    def second_holder() -> None:
        with place_reserved(lab.address, "bench-01", wait_s=0.5):
            pass

    with place_reserved(lab.address, "bench-01"), pytest.raises(PlaceBusy):
        second_holder()
    assert_all_let_go(lab)
    assert issubclass(PlaceBusy, LabgridError)


def test_ctrl_c_while_queued_cancels_the_nightlys_reservation(new_lab: LabFactory) -> None:
    lab = new_lab(benches=("bench-01",))
    with place_reserved(lab.address, "bench-01"):
        waiting = subprocess.Popen(
            bench_nightly(lab, "--wait", "60"),
            env=labgrid_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while len(lab.reservations()) < 2:  # ours and its, waiting
                assert time.monotonic() < deadline, "the nightly never queued"
                time.sleep(0.1)
            waiting.send_signal(signal.SIGINT)
            output, _ = waiting.communicate(timeout=30)
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait(timeout=10)
        assert waiting.returncode == 130, output
        assert output.strip() == "error: interrupted"
        assert len(lab.reservations()) == 1  # ours only
    assert_all_let_go(lab)
