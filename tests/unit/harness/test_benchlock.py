"""One nightly per bench: the OS file lock on the history store's directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ttlock_hil.harness.benchlock import LOCK_FILE_NAME, BenchBusy, BenchHolder, bench_lock


def test_the_holder_is_written_into_the_lock_file(tmp_path: Path) -> None:
    with bench_lock(tmp_path / "reports", bench="bench-01") as path:
        assert path == tmp_path / "reports" / LOCK_FILE_NAME
        holder = json.loads(path.read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid()
        assert holder["bench"] == "bench-01"
        assert holder["started"].endswith("+00:00")
    assert path.read_text(encoding="utf-8") == ""  # released: nobody holds it


def test_a_second_holder_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    with (
        bench_lock(tmp_path, bench="bench-01"),
        pytest.raises(BenchBusy) as caught,
        bench_lock(tmp_path, bench="bench-01"),
    ):
        pass
    busy = caught.value
    assert busy.holder.pid == os.getpid()
    assert busy.holder.started is not None
    message = str(busy)
    assert message.startswith(f"bench bench-01 is busy: another nightly holds {tmp_path}")
    assert f"PID {os.getpid()}" in message
    assert f"started {busy.holder.started}" in message
    assert "— fix: wait for it to finish" in message
    with bench_lock(tmp_path):  # free again once the first is done
        pass


HOLDER = textwrap.dedent(
    """
    import sys, time
    from ttlock_hil.harness.benchlock import bench_lock
    with bench_lock(sys.argv[1], bench="bench-01"):
        print("holding", flush=True)
        time.sleep(60)
    """
)


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(BenchBusy, match=f"PID {holder.pid} on "), bench_lock(tmp_path):
            pass
        holder.send_signal(signal.SIGKILL)  # no chance to clean up
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5
        while True:
            try:
                with bench_lock(tmp_path):
                    break
            except BenchBusy:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_an_unreadable_holder_record_is_described_as_unknown(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE_NAME).write_text("not json", encoding="utf-8")
    holder = BenchHolder.read(tmp_path / LOCK_FILE_NAME)
    assert holder == BenchHolder(None, None)
    assert holder.describe() == "an unknown process"
    (tmp_path / LOCK_FILE_NAME).write_text("[1]", encoding="utf-8")
    assert BenchHolder.read(tmp_path / LOCK_FILE_NAME) == BenchHolder(None, None)
    assert BenchHolder.read(tmp_path / "missing") == BenchHolder(None, None)


def test_a_stale_record_without_a_holder_does_not_block(tmp_path: Path) -> None:
    stale = {"pid": 99999999, "started": "2020-01-01T00:00:00+00:00"}
    (tmp_path / LOCK_FILE_NAME).write_text(json.dumps(stale), encoding="utf-8")
    with bench_lock(tmp_path) as path:
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()


SPAWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    from ttlock_hil.harness.benchlock import bench_lock
    with bench_lock(sys.argv[1]):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 close_fds=False)
        print(child.pid, flush=True)
        time.sleep(60)
    """
)


def test_a_child_of_the_holder_does_not_keep_the_bench(tmp_path: Path) -> None:
    # pytest runs as the nightly's child: if the nightly dies, the bench must be free.
    holder = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    grandchild = int(holder.stdout.readline())
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        os.kill(grandchild, 0)  # still alive, with every inheritable descriptor
        deadline = time.monotonic() + 5
        while True:
            try:
                with bench_lock(tmp_path):
                    break
            except BenchBusy:
                assert time.monotonic() < deadline, "the grandchild kept the lock"
                time.sleep(0.05)
    finally:
        os.kill(grandchild, signal.SIGKILL)
        holder.stdout.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait()
