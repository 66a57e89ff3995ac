"""The history of nights: an embedded SQLite store (stdlib :mod:`sqlite3`).

One file, by default ``<reports>/history.sqlite`` (``history:`` in
``hil-config.yaml`` moves it; :func:`history_path`). A night goes through three
steps, each committed on its own::

    night_id = store.begin_night(meta)        # row with complete=0, committed at once
    store.record_results(night_id, results)   # all of them in ONE transaction
    night = store.finish_night(night_id)      # complete=1 in ONE transaction

so a night killed at any point is in the store as *incomplete* (with the
results of every ``record_results`` call that returned) and never
half-written: a call interrupted mid-transaction leaves nothing of its batch
(SQLite's rollback journal/WAL recovery). Readers (``report diff`` while a night
runs) do not block the writer: the store uses WAL mode and a busy timeout.

The schema version is ``PRAGMA user_version`` and the file is tagged with
``PRAGMA application_id``; a store from a newer ttlock-hil, a corrupt file or
another program's database raise :class:`~ttlock_hil.harness.report.StoreUnusable`
("… move it aside") instead of being touched. A store of an older schema is
migrated in place when opened, in one transaction (:data:`_MIGRATIONS`): version 2
added what a night's scope is (``selection``, ``interrupted``, ``redacted``) and
each device's config, so a store a previous ttlock-hil wrote keeps working (its
nights read as whole, redacted nights without device configs).

Besides whole nights the store answers the questions a per-test diff asks
(:meth:`HistoryStore.test_histories`): for every test on every device, its
own last results before a night — whatever night they came from, filtered or
interrupted ones included, so a narrow run never erases another test's history.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from ttlock_hil.harness.config import LabConfig
from ttlock_hil.harness.report import ReportError, StoreMissing, StoreUnusable, UnknownNight
from ttlock_hil.harness.report.model import (
    CodeOrTimeout,
    DeviceInfo,
    Night,
    NightMeta,
    NightStats,
    Outcome,
    TestResult,
    codes_asserted,
    new_night_id,
)

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_FILE_NAME",
    "KEPT_NIGHTS",
    "SCHEMA_VERSION",
    "HistoryStore",
    "NightSummary",
    "PastResult",
    "TestHistory",
    "history_path",
]

SCHEMA_VERSION: Final = 3
"""``PRAGMA user_version`` of stores this ttlock-hil writes (and the newest it reads)."""

APPLICATION_ID: Final = 0x54544C48
"""``PRAGMA application_id`` of a history store: ASCII "TTLH"."""

DEFAULT_FILE_NAME: Final = "history.sqlite"

BUSY_TIMEOUT_S: Final = 10.0
"""How long a write waits for another process's transaction before giving up."""

KEPT_NIGHTS: Final = 16
"""How many complete nights a store keeps once loaded (the trend shows seven)."""

# Statements are split on ";" to run them one by one: no ";" inside comments.
_SCHEMA: Final = """
CREATE TABLE nights (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- begin order: what "previous night" means
    night_id TEXT NOT NULL UNIQUE,
    started TEXT NOT NULL,                  -- ISO 8601, UTC
    finished TEXT,
    complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    bench TEXT NOT NULL,
    harness_version TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    git_sha TEXT,
    seed_codes_asserted TEXT NOT NULL DEFAULT '[]',  -- JSON list of ints
    selection TEXT,                         -- what narrowed the run, NULL: the whole suite
    interrupted TEXT,                       -- the signal that stopped it, e.g. SIGTERM
    redacted INTEGER NOT NULL DEFAULT 1 CHECK (redacted IN (0, 1)),
    tier TEXT NOT NULL DEFAULT 'virtual'    -- where the sim: devices ran (docs/tiers.md)
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
    config TEXT,                            -- the device's lab config entry, canonical JSON
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
    expected TEXT,     -- JSON: an int code or "timeout", SQL NULL when none
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

# Each step takes a store from version N to N + 1 (the key); statements split on ";".
_MIGRATIONS: Final[dict[int, str]] = {
    1: """
ALTER TABLE nights ADD COLUMN selection TEXT;
ALTER TABLE nights ADD COLUMN interrupted TEXT;
ALTER TABLE nights ADD COLUMN redacted INTEGER NOT NULL DEFAULT 1 CHECK (redacted IN (0, 1));
ALTER TABLE devices ADD COLUMN config TEXT
""",
    2: """
ALTER TABLE nights ADD COLUMN tier TEXT NOT NULL DEFAULT 'virtual'
""",
}

_RESULT_COLUMNS: Final = (
    "test_id",
    "device",
    "name",
    "model",
    "outcome",
    "duration_s",
    "expected",
    "observed",
    "command",
    "condition",
    "latency_ms",
    "attempts",
    "message",
    "trace",
    "firmware",
    "battery",
)


def history_path(config: LabConfig) -> Path:
    """Where the lab's history store lives: ``history:`` or ``<reports>/history.sqlite``."""
    if config.history is not None:
        return config.history
    return config.reports / DEFAULT_FILE_NAME


@dataclass(frozen=True, slots=True)
class NightSummary:
    """One line of :meth:`HistoryStore.list_nights`: a night without its results."""

    night_id: str
    started: datetime
    finished: datetime | None
    complete: bool
    bench: str
    plugin_version: str
    passed: int
    failed: int
    errors: int
    skipped: int
    xfailed: int

    selection: str | None = None
    interrupted: str | None = None

    @property
    def total(self) -> int:
        """Number of results recorded."""
        return self.passed + self.failed + self.errors + self.skipped + self.xfailed

    @property
    def full(self) -> bool:
        """A complete run of the whole suite (see :attr:`Night.full`)."""
        return self.complete and self.selection is None


@dataclass(frozen=True, slots=True)
class PastResult:
    """One earlier result of a test on a device: which night, how it ended, why."""

    night_id: str
    outcome: Outcome
    attempts: int = 1
    message: str | None = None
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class TestHistory:
    """A test's own past on one device, before some night (:meth:`HistoryStore.test_histories`).

    ``recent`` are its last results, newest first (at most the number asked for);
    ``last_verdict`` its newest passed/failed/error result however old — the
    baseline a regression or a fix is judged against, even across nights that
    skipped the test or did not run it.
    """

    __test__ = False  # not a pytest test class

    test_id: str
    device: str
    recent: tuple[PastResult, ...] = field(default=())
    last_verdict: PastResult | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(test_id, device)``."""
        return (self.test_id, self.device)

    @property
    def last(self) -> PastResult | None:
        """The newest earlier result, whatever its outcome."""
        return self.recent[0] if self.recent else None


def _encode_code(value: CodeOrTimeout) -> str | None:
    return None if value is None else json.dumps(value)


def _decode_code(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class HistoryStore:
    """The SQLite history of nights. Open with :meth:`open`; use as a context manager.

    Not thread-safe (one connection); open one store per thread or process.

    A complete night never changes (only an open night takes results, a finish or an
    interruption), so the last :data:`KEPT_NIGHTS` complete nights loaded are kept: one
    night's report reads the previous full night three times and the trend's nights.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        """Use :meth:`open`; this wraps an already checked connection."""
        self.path = path
        self._db = connection
        self._complete: OrderedDict[str, Night] = OrderedDict()

    # --- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Self:
        """Open (and with ``create``, create) the store at ``path``.

        Raises :class:`~ttlock_hil.harness.report.StoreMissing` when the file does not exist
        and ``create`` is False, :class:`~ttlock_hil.harness.report.StoreUnusable` when it is
        corrupt, from a newer ttlock-hil or not a history store.
        """
        file = Path(path)
        if not file.exists():
            if not create:
                raise StoreMissing(file)
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ReportError(
                    f"cannot create the directory of history store {file}: {exc.strerror}",
                    fix="check the reports:/history: paths in hil-config.yaml",
                ) from None
        elif file.is_dir():
            raise StoreUnusable(file, "is a directory, not a file")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each step is
            # exactly one transaction and nothing is committed behind our back.
            connection = sqlite3.connect(file, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise ReportError(
                f"cannot open history store {file}: {exc}",
                fix="check the path and its permissions",
            ) from None
        connection.row_factory = sqlite3.Row
        try:
            cls._prepare(file, connection)
        except BaseException:
            connection.close()
            raise
        return cls(file, connection)

    @staticmethod
    def _prepare(file: Path, db: sqlite3.Connection) -> None:
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(file, f"is corrupt or not an SQLite file ({exc})") from None
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise StoreUnusable(file, "is not a ttlock-hil history store (another database)")
        if version > SCHEMA_VERSION:
            raise StoreUnusable(
                file,
                f"is from a newer ttlock-hil (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION})",
            )
        try:
            if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise StoreUnusable(file, "cannot be switched to WAL mode (read-only medium?)")
            if version == 0:
                HistoryStore._create_schema(db)
            else:
                problems = [row[0] for row in db.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise StoreUnusable(file, f"is corrupt ({'; '.join(problems[:3])})")
                if version < SCHEMA_VERSION:
                    HistoryStore._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(file, f"is corrupt ({exc})") from None

    @staticmethod
    def _create_schema(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created it while we waited for the lock.
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                # Statement by statement: executescript() would COMMIT our BEGIN first.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring an older store up to :data:`SCHEMA_VERSION`, all steps in one transaction.

        Another process may be migrating at the same time: the write lock (BEGIN
        IMMEDIATE) makes it wait, and the version is read again under the lock.
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a concurrent writer
        # waits (busy timeout) instead of failing half-way through our batch.
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ReportError(
                f"history store {self.path} is busy ({exc})",
                fix="another ttlock-hil is writing it; wait for it or use another --history",
            ) from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise ReportError(
                f"writing history store {self.path} failed: {exc}",
                fix="check free disk space and permissions; nothing of this step was stored",
            ) from None
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(self.path, f"is corrupt ({exc})") from None

    # --- writing a night ----------------------------------------------------------

    def begin_night(self, meta: NightMeta) -> str:
        """Record that a night started (incomplete) and return its id.

        The id is ``meta.night_id`` or derived from ``meta.started``; if a night
        with that id exists already, ``-2``, ``-3``… is appended.
        """
        base = meta.night_id if meta.night_id is not None else new_night_id(meta.started)
        with self._transaction() as db:
            night_id = base
            suffix = 1
            while db.execute("SELECT 1 FROM nights WHERE night_id = ?", (night_id,)).fetchone():
                suffix += 1
                night_id = f"{base}-{suffix}"
            db.execute(
                "INSERT INTO nights (night_id, started, complete, bench, harness_version, "
                "plugin_version, git_sha, selection, redacted, tier) "
                "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                (
                    night_id,
                    meta.started.isoformat(),
                    meta.bench,
                    meta.harness_version,
                    meta.plugin_version,
                    meta.git_sha,
                    meta.selection,
                    int(meta.redacted),
                    meta.tier,
                ),
            )
            db.executemany(
                "INSERT INTO devices (night_id, position, name, model, kind, address, "
                "firmware, battery, config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        night_id,
                        i,
                        d.name,
                        d.model,
                        d.kind,
                        d.address,
                        d.firmware,
                        d.battery,
                        d.config,
                    )
                    for i, d in enumerate(meta.devices)
                ],
            )
        return night_id

    def _night_row(self, night_id: str) -> sqlite3.Row:
        rows = self._read("SELECT * FROM nights WHERE night_id = ?", (night_id,))
        if not rows:
            raise UnknownNight(night_id, self._night_ids())
        return rows[0]

    def _open_night(self, night_id: str) -> None:
        if self._night_row(night_id)["complete"]:
            raise ReportError(
                f"night {night_id!r} is finished already; its results cannot change",
                fix="begin a new night with begin_night()",
            )

    def record_results(self, night_id: str, results: Iterable[TestResult]) -> int:
        """Add results to an unfinished night, all in one transaction; returns how many.

        ``results`` is consumed inside the transaction: if the process dies
        before this returns, none of them are stored. A ``(test_id, device)``
        already recorded for this night is a ReportError (and nothing of the
        batch is stored).
        """
        self._open_night(night_id)
        count = 0
        with self._transaction() as db:
            position = db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM results WHERE night_id = ?",
                (night_id,),
            ).fetchone()[0]
            for result in results:
                if not isinstance(result, TestResult):
                    raise ReportError(
                        f"record_results got {type(result).__name__}, not a TestResult",
                        fix="build TestResult objects (TestResult.from_dict for JSON)",
                    )
                values = result.to_dict()
                values["expected"] = _encode_code(result.expected)
                values["observed"] = _encode_code(result.observed)
                try:
                    db.execute(
                        f"INSERT INTO results (night_id, position, {', '.join(_RESULT_COLUMNS)}) "
                        f"VALUES (?, ?, {', '.join('?' for _ in _RESULT_COLUMNS)})",
                        (night_id, position, *(values[c] for c in _RESULT_COLUMNS)),
                    )
                except sqlite3.IntegrityError:
                    raise ReportError(
                        f"night {night_id!r}: test {result.test_id!r} on device "
                        f"{result.device!r} is recorded twice",
                        fix="report each test once per device (fold retries into attempts=)",
                    ) from None
                position += 1
                count += 1
        return count

    def finish_night(
        self,
        night_id: str,
        *,
        finished: datetime | None = None,
        seed_codes_asserted: Iterable[int] | None = None,
    ) -> Night:
        """Mark the night complete (one transaction) and return it as stored.

        ``finished`` defaults to now; ``seed_codes_asserted`` to the codes the
        recorded results asserted (:func:`~ttlock_hil.harness.report.model.codes_asserted`).
        """
        self._open_night(night_id)
        when = finished if finished is not None else datetime.now(UTC)
        current = self.load_night(night_id)
        if seed_codes_asserted is None:
            codes = list(codes_asserted(current.results))
        else:
            codes = sorted({int(c) for c in seed_codes_asserted})
        # Validate through the model before writing (aware time, not before start).
        Night(
            night_id=current.night_id,
            started=current.started,
            finished=when,
            complete=True,
            bench=current.bench,
            harness_version=current.harness_version,
            plugin_version=current.plugin_version,
        )
        with self._transaction() as db:
            db.execute(
                "UPDATE nights SET finished = ?, complete = 1, seed_codes_asserted = ? "
                "WHERE night_id = ? AND complete = 0",
                (when.astimezone(UTC).isoformat(), json.dumps(codes), night_id),
            )
        return self.load_night(night_id)

    def mark_interrupted(self, night_id: str, reason: str) -> Night:
        """Record that an unfinished night was stopped (``reason``: the signal, ``"SIGTERM"``).

        The night stays incomplete, with the results recorded so far; returns it as stored.
        """
        self._open_night(night_id)
        if not reason:
            raise ReportError("mark_interrupted needs a reason", fix='pass the signal, "SIGTERM"')
        with self._transaction() as db:
            db.execute(
                "UPDATE nights SET interrupted = ? WHERE night_id = ? AND complete = 0",
                (reason, night_id),
            )
        return self.load_night(night_id)

    def record_night(self, night: Night) -> Night:
        """Store a whole night at once (begin, record, finish if complete); returns it as stored.

        The stored id may differ from ``night.night_id`` if that id is taken.
        """
        night_id = self.begin_night(night.meta)
        self.record_results(night_id, night.results)
        if not night.complete:
            if night.interrupted is not None:
                return self.mark_interrupted(night_id, night.interrupted)
            return self.load_night(night_id)
        return self.finish_night(
            night_id,
            finished=night.finished if night.finished is not None else night.started,
            seed_codes_asserted=night.seed_codes_asserted,
        )

    # --- reading ------------------------------------------------------------------

    def _night_ids(self) -> list[str]:
        return [row["night_id"] for row in self._read("SELECT night_id FROM nights ORDER BY seq")]

    def has_night(self, night_id: str) -> bool:
        """True when a night with this id is stored (complete or not)."""
        return bool(self._read("SELECT 1 FROM nights WHERE night_id = ?", (night_id,)))

    def list_nights(self) -> list[NightSummary]:
        """Every night, oldest first, with its outcome counts."""
        rows = self._read(
            "SELECT n.night_id, n.started, n.finished, n.complete, n.bench, n.plugin_version, "
            "n.selection, n.interrupted, "
            + ", ".join(
                f"SUM(CASE WHEN r.outcome = '{o.value}' THEN 1 ELSE 0 END) AS {o.name.lower()}"
                for o in Outcome
            )
            + " FROM nights n LEFT JOIN results r ON r.night_id = n.night_id "
            "GROUP BY n.seq ORDER BY n.seq"
        )
        try:
            return [
                NightSummary(
                    night_id=row["night_id"],
                    started=datetime.fromisoformat(row["started"]),
                    finished=_time(row["finished"]),
                    complete=bool(row["complete"]),
                    bench=row["bench"],
                    plugin_version=row["plugin_version"],
                    passed=row["passed"] or 0,
                    failed=row["failed"] or 0,
                    errors=row["error"] or 0,
                    skipped=row["skipped"] or 0,
                    xfailed=row["xfailed"] or 0,
                    selection=row["selection"],
                    interrupted=row["interrupted"],
                )
                for row in rows
            ]
        except (ValueError, TypeError) as exc:
            raise StoreUnusable(self.path, f"is corrupt (bad night row: {exc})") from None

    def load_night(self, night_id: str) -> Night:
        """The night with this id, with its devices and results (UnknownNight if absent)."""
        kept = self._complete.get(night_id)
        if kept is not None:
            self._complete.move_to_end(night_id)
            return kept
        night = self._load_night(night_id)
        if night.complete:
            self._complete[night_id] = night
            if len(self._complete) > KEPT_NIGHTS:
                self._complete.popitem(last=False)
        return night

    def _load_night(self, night_id: str) -> Night:
        row = self._night_row(night_id)
        devices = self._read(
            "SELECT name, model, kind, address, firmware, battery, config FROM devices "
            "WHERE night_id = ? ORDER BY position",
            (night_id,),
        )
        results = self._read(
            f"SELECT {', '.join(_RESULT_COLUMNS)} FROM results WHERE night_id = ? "
            "ORDER BY position",
            (night_id,),
        )
        try:
            return Night(
                night_id=row["night_id"],
                started=datetime.fromisoformat(row["started"]),
                finished=_time(row["finished"]),
                complete=bool(row["complete"]),
                bench=row["bench"],
                harness_version=row["harness_version"],
                plugin_version=row["plugin_version"],
                git_sha=row["git_sha"],
                devices=tuple(DeviceInfo(**dict(d)) for d in devices),
                results=tuple(
                    TestResult(
                        **(
                            dict(r)
                            | {
                                "expected": _decode_code(r["expected"]),
                                "observed": _decode_code(r["observed"]),
                            }
                        )
                    )
                    for r in results
                ),
                seed_codes_asserted=tuple(json.loads(row["seed_codes_asserted"])),
                selection=row["selection"],
                interrupted=row["interrupted"],
                redacted=bool(row["redacted"]),
                tier=row["tier"],
            )
        except (ReportError, ValueError, TypeError) as exc:
            raise StoreUnusable(
                self.path, f"is corrupt (night {night_id!r} does not load: {exc})"
            ) from None

    def _seq(self, night_id: str) -> int:
        seq: int = self._night_row(night_id)["seq"]
        return seq

    def latest_night(self, *, complete_only: bool = True) -> Night | None:
        """The most recently begun night (complete ones only by default), or None."""
        where = "WHERE complete = 1 " if complete_only else ""
        rows = self._read(f"SELECT night_id FROM nights {where}ORDER BY seq DESC LIMIT 1")
        return self.load_night(rows[0]["night_id"]) if rows else None

    def previous_full_night(self, before: str | None = None) -> Night | None:
        """The last :attr:`~Night.full` night (complete, whole suite) begun before ``before``.

        ``before=None``: the latest full night. This is "the previous night" of a
        diff: a filtered or interrupted night never is.
        """
        clauses = ["complete = 1", "selection IS NULL"]
        params: list[Any] = []
        if before is not None:
            clauses.append("seq < ?")
            params.append(self._seq(before))
        rows = self._read(
            f"SELECT night_id FROM nights WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT 1",
            tuple(params),
        )
        return self.load_night(rows[0]["night_id"]) if rows else None

    def test_histories(
        self, before: str | None = None, *, depth: int = 5
    ) -> dict[tuple[str, str], TestHistory]:
        """Every test's own past on every device, in nights begun before night ``before``.

        ``before=None`` looks at every stored night (for a night not stored yet).
        Each :class:`TestHistory` holds the test's ``depth`` newest results and its
        newest verdict (passed, failed or error), from any night: complete or not,
        filtered or whole.
        """
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        where = ""
        params: list[Any] = []
        if before is not None:
            where = "WHERE n.seq < ?"
            params.append(self._seq(before))
        verdicts = "', '".join(o.value for o in Outcome if o is Outcome.PASSED or o.is_failure)
        # Newest first per (test, device); rank 1 of the verdict ranking is the baseline.
        rows = self._read(
            "SELECT * FROM (SELECT r.test_id, r.device, r.outcome, r.attempts, r.message, "
            "r.trace, n.night_id, n.seq, "
            "ROW_NUMBER() OVER (PARTITION BY r.test_id, r.device ORDER BY n.seq DESC) AS ranked, "
            f"CASE WHEN r.outcome IN ('{verdicts}') THEN ROW_NUMBER() OVER ("
            f"PARTITION BY r.test_id, r.device, r.outcome IN ('{verdicts}') ORDER BY n.seq DESC"
            ") END AS verdict_rank "
            f"FROM results r JOIN nights n ON n.night_id = r.night_id {where}) "
            "WHERE ranked <= ? OR verdict_rank = 1 ORDER BY test_id, device, seq DESC",
            (*params, depth),
        )
        recent: dict[tuple[str, str], list[PastResult]] = {}
        verdict: dict[tuple[str, str], PastResult] = {}
        try:
            for row in rows:
                key = (row["test_id"], row["device"])
                past = PastResult(
                    night_id=row["night_id"],
                    outcome=Outcome(row["outcome"]),
                    attempts=row["attempts"],
                    message=row["message"],
                    trace=row["trace"],
                )
                if row["ranked"] <= depth:
                    recent.setdefault(key, []).append(past)
                if row["verdict_rank"] == 1:
                    verdict[key] = past
        except ValueError as exc:
            raise StoreUnusable(self.path, f"is corrupt (bad result row: {exc})") from None
        return {
            key: TestHistory(key[0], key[1], tuple(recent.get(key, ())), verdict.get(key))
            for key in recent.keys() | verdict.keys()
        }

    def last_devices(self, before: str | None = None) -> dict[str, DeviceInfo]:
        """Each device's entry from the newest night (before ``before``) that listed it."""
        where = ""
        params: list[Any] = []
        if before is not None:
            where = "WHERE n.seq < ?"
            params.append(self._seq(before))
        rows = self._read(
            "SELECT d.name, d.model, d.kind, d.address, d.firmware, d.battery, d.config "
            f"FROM devices d JOIN nights n ON n.night_id = d.night_id {where} ORDER BY n.seq",
            tuple(params),
        )
        try:
            return {row["name"]: DeviceInfo(**dict(row)) for row in rows}
        except (ReportError, TypeError) as exc:
            raise StoreUnusable(self.path, f"is corrupt (bad device row: {exc})") from None

    def previous_complete_night(self, before: str | None = None) -> Night | None:
        """The last complete night begun before night ``before`` (or the latest one if None).

        ``before`` must be a stored night (UnknownNight otherwise); None when there
        is no such night (the first night has nothing to compare with).
        """
        if before is None:
            return self.latest_night()
        rows = self._read(
            "SELECT night_id FROM nights WHERE complete = 1 AND seq < ? ORDER BY seq DESC LIMIT 1",
            (self._seq(before),),
        )
        return self.load_night(rows[0]["night_id"]) if rows else None

    def last_n(self, n: int, *, upto: str | None = None, complete_only: bool = True) -> list[Night]:
        """The last ``n`` nights, oldest first, ending with night ``upto`` (included).

        ``upto=None`` ends with the latest night. With ``complete_only`` (the
        default) incomplete nights are left out — except ``upto`` itself.
        """
        return [self.load_night(night_id) for night_id in self._last_n_ids(n, upto, complete_only)]

    def _last_n_ids(self, n: int, upto: str | None, complete_only: bool) -> list[str]:
        if n < 1:
            return []
        clauses: list[str] = []
        params: list[Any] = []
        if upto is not None:
            clauses.append("seq <= ?")
            params.append(self._seq(upto))
        if complete_only:
            if upto is not None:
                clauses.append("(complete = 1 OR night_id = ?)")
                params.append(upto)
            else:
                clauses.append("complete = 1")
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self._read(
            f"SELECT night_id FROM nights {where}ORDER BY seq DESC LIMIT ?", (*params, n)
        )
        return [row["night_id"] for row in reversed(rows)]

    def last_n_stats(
        self, n: int, *, upto: str | None = None, complete_only: bool = True
    ) -> list[NightStats]:
        """:meth:`last_n`'s nights as trend points read them: counts and latencies only
        (two small queries a night instead of every result)."""
        return [self._stats(night_id) for night_id in self._last_n_ids(n, upto, complete_only)]

    def _stats(self, night_id: str) -> NightStats:
        kept = self._complete.get(night_id)
        if kept is not None:
            return NightStats.of(kept)
        row = self._night_row(night_id)
        outcomes = self._read(
            "SELECT outcome, COUNT(*) AS n FROM results WHERE night_id = ? GROUP BY outcome",
            (night_id,),
        )
        latencies = self._read(
            "SELECT latency_ms FROM results WHERE night_id = ? AND latency_ms IS NOT NULL",
            (night_id,),
        )
        counted = {r["outcome"]: r["n"] for r in outcomes}
        known = {o.value for o in Outcome}
        unknown = sorted(str(o) for o in counted if o not in known)
        if unknown:
            raise StoreUnusable(self.path, f"is corrupt (bad result row: outcome {unknown[0]!r})")
        try:
            return NightStats.from_rows(
                night_id,
                datetime.fromisoformat(row["started"]),
                bool(row["complete"]),
                counted,
                [float(r["latency_ms"]) for r in latencies],
                selection=row["selection"],
                interrupted=row["interrupted"],
            )
        except (ValueError, TypeError) as exc:
            raise StoreUnusable(
                self.path, f"is corrupt (night {night_id!r} does not load: {exc})"
            ) from None
