"""The SQLite history store: round trip, atomic steps, killed nights, unusable files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.report import DEVICES, T0, night, result
from ttlock_hil.harness.config import parse_config
from ttlock_hil.harness.report import ReportError, StoreMissing, StoreUnusable, UnknownNight
from ttlock_hil.harness.report.history import (
    APPLICATION_ID,
    KEPT_NIGHTS,
    SCHEMA_VERSION,
    HistoryStore,
    history_path,
)
from ttlock_hil.harness.report.model import TIMEOUT, Night, NightMeta, NightStats, Outcome

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    with HistoryStore.open(tmp_path / "reports" / "history.sqlite") as opened:
        yield opened


def sample_night(index: int = 0, **fields: object) -> Night:
    return night(
        index,
        [
            result("test_unlock", latency_ms=120.5, command="UNLOCK", attempts=2),
            result(
                "test_double_locked",
                outcome="failed",
                expected=30,
                observed=31,
                command="UNLOCK",
                condition="double_locked",
                message="expected 30 DOUBLE_LOCKED, got 31",
                trace="traces/front-door.jsonl",
                firmware="5.3.1",
                battery=87,
            ),
            result("test_silence", device="gw-g2", expected=TIMEOUT, observed=TIMEOUT),
            result("test_fingerprint", outcome="skipped", message="no fingerprint reader"),
        ],
        seed_codes_asserted=(30,),
        **fields,
    )


# ------------------------------------------------------------------------------ round trip


def test_a_recorded_night_loads_back_equal(store: HistoryStore) -> None:
    original = sample_night()
    stored = store.record_night(original)
    assert stored == original
    assert store.load_night(original.night_id) == original


def test_a_complete_night_is_read_once_an_open_one_every_time(store: HistoryStore) -> None:
    first = sample_night()
    open_id = store.begin_night(sample_night(1).meta)
    done_id = store.record_night(first).night_id
    assert store.load_night(done_id) is store.load_night(done_id)  # kept: it cannot change
    # An open night is read again each time: results keep arriving.
    assert store.load_night(open_id).results == ()
    store.record_results(open_id, first.results[:1])
    assert store.load_night(open_id).results == first.results[:1]
    # Another store on the same file sees the same nights (nothing is kept across stores).
    with HistoryStore.open(store.path) as other:
        assert other.load_night(done_id) == store.load_night(done_id)
    # Only the last KEPT_NIGHTS complete nights loaded are kept.
    ids = [store.record_night(sample_night(2 + n)).night_id for n in range(KEPT_NIGHTS + 1)]
    kept = {night_id: store.load_night(night_id) for night_id in ids}
    assert store.load_night(ids[-1]) is kept[ids[-1]]
    assert store.load_night(ids[0]) is not kept[ids[0]]
    assert store.load_night(ids[0]) == kept[ids[0]]


def test_the_store_is_created_with_its_directory_wal_and_version(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.sqlite"
    HistoryStore.open(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_the_steps_of_a_night(store: HistoryStore) -> None:
    n = sample_night()
    night_id = store.begin_night(n.meta)
    assert night_id == "2026-11-30T02-00-00Z"
    begun = store.load_night(night_id)
    assert (begun.complete, begun.finished, begun.results) == (False, None, ())
    assert begun.devices == n.devices

    assert store.record_results(night_id, n.results[:2]) == 2
    assert store.record_results(night_id, iter(n.results[2:])) == 2
    finished = store.finish_night(night_id, finished=T0 + timedelta(minutes=3))
    assert finished.complete
    assert finished.results == n.results  # in recording order
    assert finished.seed_codes_asserted == (30,)  # derived from the results' expected codes


def test_two_nights_in_the_same_second_get_distinct_ids(store: HistoryStore) -> None:
    meta = sample_night().meta
    assert [store.begin_night(meta) for _ in range(3)] == [
        "2026-11-30T02-00-00Z",
        "2026-11-30T02-00-00Z-2",
        "2026-11-30T02-00-00Z-3",
    ]


def test_a_duplicate_result_stores_nothing_of_its_batch(store: HistoryStore) -> None:
    night_id = store.begin_night(sample_night().meta)
    store.record_results(night_id, [result("a")])
    with pytest.raises(ReportError, match=r"::a' on device 'front-door' is recorded twice"):
        store.record_results(night_id, [result("b"), result("c"), result("a")])
    assert [r.name for r in store.load_night(night_id).results] == ["a"]


def test_a_non_result_in_a_batch_stores_nothing_of_it(store: HistoryStore) -> None:
    night_id = store.begin_night(sample_night().meta)
    with pytest.raises(ReportError, match="not a TestResult"):
        store.record_results(night_id, [result("b"), {"test_id": "c"}])  # type: ignore[list-item]
    assert store.load_night(night_id).results == ()


def test_a_finished_night_is_closed(store: HistoryStore) -> None:
    stored = store.record_night(sample_night())
    with pytest.raises(ReportError, match="finished already"):
        store.record_results(stored.night_id, [result("late")])
    with pytest.raises(ReportError, match="finished already"):
        store.finish_night(stored.night_id)


def test_listing_counts_outcomes_and_shows_incomplete_nights(store: HistoryStore) -> None:
    store.record_night(sample_night(0))
    store.record_night(sample_night(1, complete=False))
    summaries = store.list_nights()
    assert [(s.night_id, s.complete) for s in summaries] == [
        ("2026-11-30T02-00-00Z", True),
        ("2026-12-01T02-00-00Z", False),
    ]
    first = summaries[0]
    assert (first.passed, first.failed, first.errors, first.skipped, first.xfailed) == (
        2,
        1,
        0,
        1,
        0,
    )
    assert first.total == 4


def test_previous_complete_night_skips_incomplete_ones(store: HistoryStore) -> None:
    store.record_night(sample_night(0))
    store.record_night(sample_night(1, complete=False))
    store.record_night(sample_night(2))
    previous = store.previous_complete_night("2026-12-02T02-00-00Z")
    assert previous is not None
    assert previous.night_id == "2026-11-30T02-00-00Z"
    assert store.previous_complete_night("2026-11-30T02-00-00Z") is None
    latest = store.previous_complete_night()
    assert latest is not None
    assert latest.night_id == "2026-12-02T02-00-00Z"


def test_last_n_is_oldest_first_and_ends_at_upto(store: HistoryStore) -> None:
    for index in range(6):
        store.record_night(sample_night(index, complete=index != 3))
    ids = [n.night_id[:10] for n in store.last_n(3)]
    assert ids == ["2026-12-02", "2026-12-04", "2026-12-05"]  # 12-03 is incomplete: left out
    assert [n.night_id[:10] for n in store.last_n(2, upto="2026-12-03T02-00-00Z")] == [
        "2026-12-02",
        "2026-12-03",  # upto itself is kept even though incomplete
    ]
    assert len(store.last_n(10, complete_only=False)) == 6
    assert store.last_n(0) == []


def test_trend_stats_read_from_the_store_are_those_of_the_loaded_nights(
    store: HistoryStore,
) -> None:
    store.record_night(sample_night(0))
    store.record_night(sample_night(1, selection="-k unlock"))
    store.record_night(sample_night(2, complete=False))
    store.record_night(sample_night(3, complete=False, interrupted="SIGTERM"))
    store.record_night(night(4, [result("test_plain")]))  # no latency, nothing failed
    store.record_night(night(5, []))  # no results at all
    # A store of its own: nothing loaded yet, so every figure comes from the two queries.
    with HistoryStore.open(store.path) as fresh:
        stats = fresh.last_n_stats(10, complete_only=False)
    nights = store.last_n(10, complete_only=False)
    assert stats == [NightStats.of(n) for n in nights]
    assert [s.night_id[:10] for s in stats] == [n.night_id[:10] for n in nights]
    assert stats[0].median_latency_ms == 120.5
    assert stats[0].pass_rate == 2 / 3  # two passed, one failed, one skipped
    assert stats[1].partial_reason == "filtered: -k unlock"
    assert stats[3].partial_reason == "interrupted by SIGTERM"
    assert stats[4].median_latency_ms is None
    assert stats[5].total == 0
    assert stats[5].pass_rate is None
    with HistoryStore.open(store.path) as fresh:
        upto = fresh.last_n_stats(2, upto=nights[2].night_id)
    # The filtered night is complete; the incomplete upto itself is kept (as last_n does).
    assert [s.night_id for s in upto] == [nights[1].night_id, nights[2].night_id]


def test_a_result_with_an_unknown_outcome_makes_the_trend_stats_unusable(
    store: HistoryStore,
) -> None:
    stored = store.record_night(sample_night(0))
    db = sqlite3.connect(store.path)
    try:
        db.execute("UPDATE results SET outcome = 'exploded' WHERE night_id = ?", (stored.night_id,))
        db.commit()
    finally:
        db.close()
    with HistoryStore.open(store.path) as fresh, pytest.raises(StoreUnusable, match="exploded"):
        fresh.last_n_stats(1)


def test_an_unknown_night_names_the_stored_ones(store: HistoryStore) -> None:
    store.record_night(sample_night(0))
    with pytest.raises(UnknownNight, match="no night '2030-01-01' in the history store") as caught:
        store.load_night("2030-01-01")
    assert "2026-11-30T02-00-00Z" in str(caught.value)
    assert isinstance(caught.value, LookupError)


def test_history_path_defaults_to_the_reports_directory(tmp_path: Path) -> None:
    config = parse_config(
        "lab: bench-01\nreports: out/\n", file=tmp_path / "c.yaml", base_dir=tmp_path
    )
    assert history_path(config) == tmp_path / "out" / "history.sqlite"
    moved = parse_config(
        "lab: bench-01\nhistory: db/h.sqlite\n", file=tmp_path / "c.yaml", base_dir=tmp_path
    )
    assert history_path(moved) == tmp_path / "db" / "h.sqlite"


# ------------------------------------------------------------------------------ unusable stores


def test_a_missing_store_is_not_created_when_reading(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with pytest.raises(StoreMissing, match="does not exist") as caught:
        HistoryStore.open(path, create=False)
    assert "ttlock-hil nightly" in str(caught.value)
    assert not path.exists()


def test_a_corrupt_file_says_move_it_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreUnusable, match="is corrupt") as caught:
        HistoryStore.open(path)
    assert "move it aside" in str(caught.value)


def read_everything(path: Path) -> None:
    with HistoryStore.open(path) as opened:
        for summary in opened.list_nights():
            opened.load_night(summary.night_id)


def test_a_store_with_damaged_pages_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as created:
        for index in range(20):
            created.record_night(sample_night(index))
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 4] = b"\xa5" * (page * 2)  # overwrite two b-tree pages
    path.write_bytes(bytes(data))
    with pytest.raises(StoreUnusable, match="move it aside"):
        read_everything(path)


def test_a_store_from_a_newer_ttlock_hil_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    HistoryStore.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreUnusable, match="is from a newer ttlock-hil") as caught:
        HistoryStore.open(path)
    assert "move it aside" in str(caught.value)
    assert path.read_bytes() == before


def test_another_programs_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreUnusable, match="not a ttlock-hil history store"):
        HistoryStore.open(path)


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreUnusable, match="is a directory"):
        HistoryStore.open(tmp_path)


# ------------------------------------------------------------------------------ killed nights

_CHILD = textwrap.dedent(
    """
    import sys, time
    from ttlock_hil.harness.report.history import HistoryStore
    from tests.unit.report import night, result

    path, stage = sys.argv[1], sys.argv[2]
    store = HistoryStore.open(path)
    night_id = store.begin_night(night(7, []).meta)
    print("begun", night_id, flush=True)
    if stage == "after-begin":
        time.sleep(120)
    store.record_results(night_id, [result("first-%d" % i) for i in range(3)])
    print("first batch committed", flush=True)

    def second_batch():
        for i in range(50):
            yield result("second-%d" % i)
        # 50 rows inserted in the open transaction: now the parent kills us.
        print("inside the second transaction", flush=True)
        time.sleep(120)
        yield result("never")

    store.record_results(night_id, second_batch())
    store.finish_night(night_id)
    print("finished (must not happen)", flush=True)
    """
)


def run_child_until(tmp_path: Path, stage: str, marker: str) -> tuple[Path, str]:
    """Run a night in a real subprocess and SIGKILL it once it printed ``marker``."""
    path = tmp_path / "history.sqlite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), stage],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith(marker):
                break
        else:
            raise AssertionError(f"child ended early: {lines} {child.stderr.read()}")  # type: ignore[union-attr]
        night_id = lines[0].split()[1]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    return path, night_id


def test_a_night_killed_right_after_it_began_is_visible_as_incomplete(tmp_path: Path) -> None:
    path, night_id = run_child_until(tmp_path, "after-begin", "begun")
    with HistoryStore.open(path, create=False) as store:
        (summary,) = store.list_nights()
        assert (summary.night_id, summary.complete, summary.total) == (night_id, False, 0)


def test_a_night_killed_mid_transaction_keeps_only_committed_batches(tmp_path: Path) -> None:
    path, night_id = run_child_until(tmp_path, "full", "inside the second transaction")
    with HistoryStore.open(path, create=False) as store:
        killed = store.load_night(night_id)
        assert killed.complete is False
        assert killed.finished is None
        # The first batch is there in full, nothing of the interrupted one.
        assert [r.name for r in killed.results] == ["first-0", "first-1", "first-2"]
        assert store.previous_complete_night() is None
        # The store is intact and takes the next night.
        next_night = store.record_night(sample_night(8))
        assert store.previous_complete_night() == next_night
        assert store.previous_complete_night(next_night.night_id) is None
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_a_reader_does_not_see_an_uncommitted_batch(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as writer, HistoryStore.open(path) as reader:
        night_id = writer.begin_night(sample_night().meta)
        seen_inside: list[int] = []

        def batch():  # type: ignore[no-untyped-def]
            yield result("a")
            seen_inside.append(len(reader.load_night(night_id).results))
            yield result("b")

        writer.record_results(night_id, batch())
        assert seen_inside == [0]
        assert len(reader.load_night(night_id).results) == 2
        assert reader.load_night(night_id).counts[Outcome.PASSED] == 2


# ------------------------------------------------------------------------------ schema 1 → 2

# What ttlock-hil wrote as schema 1 (verbatim): stores of labs that ran nightlies before
# version 2 must open, keep their nights and take new ones.
V1_SCHEMA = """
CREATE TABLE nights (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    night_id TEXT NOT NULL UNIQUE,
    started TEXT NOT NULL,
    finished TEXT,
    complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    bench TEXT NOT NULL,
    harness_version TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    git_sha TEXT,
    seed_codes_asserted TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE devices (
    night_id TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    firmware TEXT,
    battery INTEGER,
    PRIMARY KEY (night_id, name)
);
CREATE TABLE results (
    night_id TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    test_id TEXT NOT NULL,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration_s REAL NOT NULL,
    expected TEXT,
    observed TEXT,
    command TEXT,
    condition TEXT,
    latency_ms REAL,
    attempts INTEGER NOT NULL,
    message TEXT,
    trace TEXT,
    firmware TEXT,
    battery INTEGER,
    PRIMARY KEY (night_id, test_id, device)
);
CREATE INDEX results_by_key ON results (test_id, device);
"""


def version_1_store(path: Path) -> Path:
    """A store as ttlock-hil schema 1 left it: one finished night, one device, two results."""
    db = sqlite3.connect(path)
    try:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO nights (night_id, started, finished, complete, bench, harness_version, "
            "plugin_version, git_sha, seed_codes_asserted) VALUES "
            "('2026-11-30T02-00-00Z', '2026-11-30T02:00:00+00:00', '2026-11-30T02:03:00+00:00', "
            "1, 'bench-01', '0.1.0', '3.1.0', NULL, '[30]')"
        )
        db.execute(
            "INSERT INTO devices VALUES ('2026-11-30T02-00-00Z', 0, 'front-door', 'v3-keypad', "
            "'lock', 'sim:v3-keypad', '5.3.1', 87)"
        )
        for position, (name, outcome) in enumerate([("a", "passed"), ("b", "passed")]):
            db.execute(
                "INSERT INTO results (night_id, position, test_id, device, name, model, outcome, "
                "duration_s, attempts) VALUES ('2026-11-30T02-00-00Z', ?, ?, 'front-door', ?, "
                "'v3-keypad', ?, 0.25, 1)",
                (position, f"tests/hil/test_lock.py::{name}", name, outcome),
            )
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
        db.commit()
    finally:
        db.close()
    return path


def test_a_version_1_store_is_migrated_and_keeps_working(tmp_path: Path) -> None:
    path = version_1_store(tmp_path / "history.sqlite")
    with HistoryStore.open(path) as store:
        old = store.load_night("2026-11-30T02-00-00Z")
        assert (old.complete, old.selection, old.interrupted, old.redacted) == (
            True,
            None,
            None,
            True,
        )
        assert [r.name for r in old.results] == ["a", "b"]
        assert old.devices[0].config is None
        assert store.previous_full_night() == old  # an old night still serves as baseline
        tonight = store.record_night(night(1, [result("a"), result("b", outcome="failed")]))
        from ttlock_hil.harness.report.diff import diff_against_history

        diff = diff_against_history(tonight, store)
        assert diff.previous_id == old.night_id
        assert [c.name for c in diff.regressions] == ["b"]
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        columns = {row[1] for row in db.execute("PRAGMA table_info(nights)")}
        assert {"selection", "interrupted", "redacted"} <= columns
    finally:
        db.close()


def test_two_processes_opening_a_version_1_store_migrate_it_once(tmp_path: Path) -> None:
    path = version_1_store(tmp_path / "history.sqlite")
    first = HistoryStore.open(path)
    second = HistoryStore.open(path)  # already at version 2: nothing to do, no error
    first.close()
    second.close()
    with HistoryStore.open(path) as store:
        assert len(store.list_nights()) == 1


# ------------------------------------------------------------------------------ scope and pasts


def test_a_night_stopped_by_a_signal_is_marked_interrupted(store: HistoryStore) -> None:
    night_id = store.begin_night(sample_night().meta)
    store.record_results(night_id, [result("a")])
    stopped = store.mark_interrupted(night_id, "SIGTERM")
    assert (stopped.complete, stopped.interrupted, len(stopped.results)) == (False, "SIGTERM", 1)
    (summary,) = store.list_nights()
    assert (summary.interrupted, summary.full) == ("SIGTERM", False)
    with pytest.raises(ReportError, match="needs a reason"):
        store.mark_interrupted(store.begin_night(sample_night(1).meta), "")


def test_a_filtered_night_is_stored_with_its_selection(store: HistoryStore) -> None:
    stored = store.record_night(sample_night(selection="-k unlock", redacted=False))
    assert (stored.selection, stored.redacted, stored.full) == ("-k unlock", False, False)
    assert store.previous_full_night() is None
    full = store.record_night(sample_night(1))
    assert store.previous_full_night() == full
    assert store.previous_full_night(before=full.night_id) is None


def test_each_test_has_its_own_past_whatever_nights_ran_it(store: HistoryStore) -> None:
    store.record_night(night(0, [result("a"), result("b", outcome="failed")]))
    store.record_night(night(1, [result("a", outcome="skipped")], selection="-k a"))
    store.record_night(night(2, [result("b")], complete=False, interrupted="SIGINT"))
    last = store.record_night(night(3, [result("c")]))
    pasts = store.test_histories(last.night_id)
    a = pasts[("tests/hil/test_lock.py::a", "front-door")]
    assert [(p.night_id[:10], p.outcome.value) for p in a.recent] == [
        ("2026-12-01", "skipped"),
        ("2026-11-30", "passed"),
    ]
    assert a.last is not None
    assert a.last.outcome is Outcome.SKIPPED
    assert a.last_verdict is not None
    assert a.last_verdict.night_id == "2026-11-30T02-00-00Z"
    b = pasts[("tests/hil/test_lock.py::b", "front-door")]
    assert b.last_verdict is not None
    assert b.last_verdict.outcome is Outcome.PASSED
    assert ("tests/hil/test_lock.py::c", "front-door") not in pasts  # only before night 3
    assert ("tests/hil/test_lock.py::c", "front-door") in store.test_histories()


def test_a_verdict_older_than_the_recent_runs_is_still_the_baseline(store: HistoryStore) -> None:
    store.record_night(night(0, [result("a")]))
    for index in range(1, 5):
        store.record_night(night(index, [result("a", outcome="skipped")]))
    (past,) = store.test_histories(depth=2).values()
    assert len(past.recent) == 2
    assert past.last_verdict is not None
    assert past.last_verdict.night_id == "2026-11-30T02-00-00Z"
    with pytest.raises(ValueError, match="depth"):
        store.test_histories(depth=0)


def test_each_device_is_known_from_the_last_night_that_listed_it(store: HistoryStore) -> None:
    from ttlock_hil.harness.report.model import DeviceInfo

    store.record_night(night(0, [], devices=DEVICES))
    moved = DeviceInfo("front-door", "v3-keypad", "lock", "sim:v3-keypad", config='{"a": 1}')
    last = store.record_night(night(1, [], devices=(moved,)))
    devices = store.last_devices()
    assert devices["front-door"].config == '{"a": 1}'
    assert devices["gw-g2"] == DEVICES[2]
    assert store.last_devices(last.night_id)["front-door"] == DEVICES[0]


def test_the_tier_a_night_ran_on_is_kept(tmp_path: Path) -> None:
    meta = NightMeta.starting(bench="bench", plugin_version="3.1.0", tier="bluez")
    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        night_id = store.begin_night(meta)
        assert store.load_night(night_id).tier == "bluez"
        assert store.load_night(night_id).to_dict()["tier"] == "bluez"
