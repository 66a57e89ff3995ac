"""One nightly per bench at a time: an OS file lock in the history store's directory.

A TTLock accepts one central at a time, so two nightlies on one bench fight over
the locks and both report nonsense. :func:`bench_lock` takes an exclusive
``flock(2)`` on ``<directory>/nightly.lock`` (the directory of the bench's
history store) for as long as a night runs::

    with bench_lock(store_path.parent, bench="bench-01"):
        ...  # run the night

A second nightly on the same bench gets :class:`BenchBusy` at once, naming the
holder's PID, host and start time, which the holder wrote into the lock file.
The operating system releases the lock when the holder exits — however it exits,
``kill -9`` included — so a stale file never blocks a bench: only a live holder does.
The lock is advisory: a process that does not ask for it is not stopped by it.

:func:`device_lock` is the same lock for one device, in its credentials store: the
pytest plugin holds each device it brings up for the rest of the run, so a second run
on the same device gets :class:`DeviceBusy` naming the holder instead of logins that
meet silence (the first run re-initialised the lock under it).
On Windows (no ``flock``) one byte far past the holder's record is locked with
``msvcrt.locking`` instead, with the same meaning.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ttlock_hil.harness.errors import HarnessError

__all__ = [
    "DEVICE_LOCK_SUFFIX",
    "LOCK_FILE_NAME",
    "BenchBusy",
    "BenchHolder",
    "DeviceBusy",
    "bench_lock",
    "device_lock",
]

LOCK_FILE_NAME: Final = "nightly.lock"
DEVICE_LOCK_SUFFIX: Final = ".in-use"

_WINDOWS_LOCK_OFFSET: Final = 1 << 20
"""Where the Windows lock byte lies: past the holder's record, which stays readable."""


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when someone else holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class BenchHolder:
    """Who holds a bench: what the holder wrote into the lock file (fields may be unknown)."""

    pid: int | None
    started: str | None
    host: str | None = None
    bench: str | None = None

    @classmethod
    def read(cls, path: Path) -> BenchHolder:
        """The holder recorded in ``path`` (unknown fields when it is empty or garbled)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(None, None)
        if not isinstance(data, dict):
            return cls(None, None)
        pid = data.get("pid")
        return cls(
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            started=str(data["started"]) if data.get("started") is not None else None,
            host=str(data["host"]) if data.get("host") is not None else None,
            bench=str(data["bench"]) if data.get("bench") is not None else None,
        )

    def describe(self) -> str:
        """``"PID 4242 on lab-pc, started 2026-11-30T02:00:00+00:00"``."""
        pid = f"PID {self.pid}" if self.pid is not None else "an unknown process"
        host = f" on {self.host}" if self.host else ""
        started = f", started {self.started}" if self.started else ""
        return f"{pid}{host}{started}"


class BenchBusy(HarnessError):
    """Another nightly holds this bench (its history store's directory)."""

    def __init__(self, path: Path, holder: BenchHolder, bench: str | None = None) -> None:
        self.path = path
        self.holder = holder
        self.bench = bench
        what = f"bench {bench}" if bench else f"the bench of {path.parent}"
        self.message = f"{what} is busy: another nightly holds {path} ({holder.describe()})"
        self.fix = "wait for it to finish (or stop it); a bench runs one nightly at a time"
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message} — fix: {self.fix}"


class DeviceBusy(HarnessError):
    """Another run (a pytest session, a nightly, a CLI session) holds this device."""

    def __init__(self, path: Path, holder: BenchHolder, device: str) -> None:
        self.path = path
        self.holder = holder
        self.device = device
        self.message = (
            f"device {device} is in use: another run holds {path} ({holder.describe()}); "
            "two runs on one device break each other's logins (they share its credentials)"
        )
        self.fix = (
            "wait for that run to end (or stop it), or give this run a lab config of its "
            "own (another credentials_dir)"
        )
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message} — fix: {self.fix}"


@contextmanager
def bench_lock(directory: str | os.PathLike[str], *, bench: str | None = None) -> Iterator[Path]:
    """Hold the bench of ``directory`` exclusively (see the module docstring); yields the
    lock file's path. Raises :class:`BenchBusy` at once when another process holds it."""
    path = Path(directory) / LOCK_FILE_NAME
    with _held(path, bench, lambda holder: BenchBusy(path, holder, bench)):
        yield path


@contextmanager
def device_lock(
    credentials_dir: str | os.PathLike[str], device: str, *, bench: str | None = None
) -> Iterator[Path]:
    """Hold ``device`` exclusively: ``<credentials_dir>/<device>.in-use``, the same kind of
    lock as :func:`bench_lock`. The credentials store is what two runs on one device
    share, so it is where they meet. Raises :class:`DeviceBusy` at once when held."""
    path = Path(credentials_dir) / f"{device}{DEVICE_LOCK_SUFFIX}"
    with _held(path, bench, lambda holder: DeviceBusy(path, holder, device)):
        yield path


@contextmanager
def _held(
    path: Path, bench: str | None, busy: Callable[[BenchHolder], HarnessError]
) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not inheritable (Python's default): the pytest child must not keep the bench after us.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise busy(BenchHolder.read(path))
        holder = {
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "bench": bench,
        }
        record = (json.dumps(holder) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, record)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # nobody holds it now; the file itself may stay
            _unlock(fd)
    finally:
        os.close(fd)
