"""``ttlock-hil lab nightly``: every tagged bench's night, in parallel, merged into one report.

:func:`run_lab_nightly` connects to the labgrid coordinator and, for every place carrying
the tags (``ttlock=yes``), in parallel:

1. reserves the place and waits in labgrid's queue while someone else holds it (a second
   ``lab nightly`` waits for the first, it never collides with it);
2. checks that the bench's exporter still exports its TTLockBench — a bench whose exporter
   is gone is **unavailable**: not run, not failed;
3. acquires the place and runs that bench's ``ttlock-hil nightly`` on the PC that owns its
   radio: here, or over SSH through labgrid's ``SSHDriver`` (the night is packed there and
   fetched with ``scp``); its output goes to ``benches/<place>/nightly.log``;
4. releases the place and cancels the reservation — in a ``finally``, so an interrupted
   run (SIGINT, SIGTERM) gives every place back; the bench's night is stopped first.

Then the bench nights are merged into one lab night — devices named ``<place>/<device>``,
so the matrix is bench × device × test — recorded in the lab's own history store and
reported like a single bench's night (``report.html``, ``results.json``, ``diff.json``: the
same per-test history, diff and failure piles). Each bench keeps its own report under
``benches/<place>/<night>/`` and its own history on its PC. ``lab.json`` lists the benches
with their status. A night missing a bench is *partial* (its selection names the missing
benches): its results count as each test's last result, but it is never the previous night.

Exit status (:attr:`LabOutcome.exit_status`): 0 when no bench night failed (unavailable
benches included: they are reported, not failed), 1 when a test failed or a bench's night
did not produce results, 128 + the signal when the lab night was stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import shlex
import signal
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.labgrid import BenchNightFailed, BenchUnavailable, LabgridError
from ttlock_hil.harness.labgrid.coordinator import Coordinator
from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.diff import NightDiff
from ttlock_hil.harness.report.history import DEFAULT_FILE_NAME, HistoryStore
from ttlock_hil.harness.report.html import (
    HTML_NAME,
    BenchLine,
    file_mode,
    write_night_report,
    write_text,
)
from ttlock_hil.harness.report.model import DeviceInfo, Night, Outcome, new_night_id
from ttlock_hil.harness.version import git_sha, harness_version

if TYPE_CHECKING:
    from ttlock_hil.harness.labgrid.bench import TTLockBench

__all__ = [
    "BENCHES_DIR",
    "LAB_JSON",
    "BenchOutcome",
    "BenchStatus",
    "LabOutcome",
    "merge_nights",
    "run_lab_nightly",
]

BENCHES_DIR: Final = "benches"
LAB_JSON: Final = "lab.json"
LOG_NAME: Final = "nightly.log"
DEFAULT_WAIT_S: Final = 6 * 3600.0
"""How long a bench waits in labgrid's queue before it is reported busy."""
DEFAULT_BENCH_TIMEOUT_S: Final = 4 * 3600.0
"""How long one bench's night may run before it is stopped."""
STOP_GRACE_S: Final = 20.0
"""How long a stopped bench night gets to end (its own grace is 10 s) before it is killed."""


class BenchStatus:
    """How a bench's part of the lab night ended."""

    PASSED: Final = "passed"
    FAILED: Final = "failed"  # its night ran and some test failed (or the night was cut short)
    UNAVAILABLE: Final = "unavailable"  # its exporter is gone: not run, not failed
    ERROR: Final = "error"  # its night produced no results (crash, SSH, timeout, busy)
    INTERRUPTED: Final = "interrupted"


@dataclass(frozen=True, slots=True)
class BenchOutcome:
    """One bench of the lab night."""

    place: str
    status: str
    host: str | None = None
    night: Night | None = None
    directory: Path | None = None
    """The bench night's directory, inside the lab night's."""
    reason: str | None = None
    waited_s: float = 0.0

    def to_dict(self, lab_dir: Path) -> dict[str, Any]:
        relative = None
        if self.directory is not None:
            relative = self.directory.relative_to(lab_dir).as_posix()
        counts = None
        if self.night is not None:
            counts = {o.value: n for o, n in self.night.counts.items()}
        return {
            "place": self.place,
            "status": self.status,
            "host": self.host,
            "night": self.night.night_id if self.night is not None else None,
            "report": f"{relative}/report.html" if relative else None,
            "counts": counts,
            "reason": self.reason,
            "waited_s": round(self.waited_s, 3),
        }


@dataclass(frozen=True, slots=True)
class LabOutcome:
    """What a lab night produced."""

    night: Night
    diff: NightDiff
    directory: Path
    html: Path
    benches: tuple[BenchOutcome, ...]
    exit_status: int

    @property
    def summary(self) -> str:
        """``lab night …: 3 benches (2 passed, 1 unavailable); 800 passed … (12 devices)``."""
        by_status: dict[str, int] = {}
        for bench in self.benches:
            by_status[bench.status] = by_status.get(bench.status, 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in by_status.items())
        counts = self.night.counts
        tests = f"{counts[Outcome.PASSED]} passed"
        failed = counts[Outcome.FAILED] + counts[Outcome.ERROR]
        if failed:
            tests += f", {failed} failed"
        tests += f", {counts[Outcome.SKIPPED]} skipped"
        return (
            f"lab night {self.night.night_id}: {len(self.benches)} benches ({states}); "
            f"{tests} in {self.night.duration_s:.1f} s ({len(self.night.devices)} devices)"
        )


# ------------------------------------------------------------------------------ merging


def merge_nights(
    *,
    lab: str,
    started: datetime,
    finished: datetime | None,
    benches: Sequence[tuple[str, Night, str]],
    missing: Mapping[str, str] | None = None,
    interrupted: str | None = None,
) -> Night:
    """One lab night from the bench nights ``(place, night, directory relative to the lab
    night's)``: devices become ``<place>/<device>``, traces are re-based into the bench's
    directory. ``missing`` (place → why) makes the night partial, like a filtered one."""
    devices: list[DeviceInfo] = []
    results = []
    codes: set[int] = set()
    notes: list[str] = []
    for place, night, relative in benches:
        base = relative.rstrip("/") + "/"
        for device in night.devices:
            devices.append(dataclasses.replace(device, name=f"{place}/{device.name}"))
        for result in night.results:
            trace = base + result.trace if result.trace is not None else None
            results.append(
                dataclasses.replace(result, device=f"{place}/{result.device}", trace=trace)
            )
        codes.update(night.seed_codes_asserted)
        if night.selection is not None:
            notes.append(f"{place}: {night.selection}")
        elif not night.complete:
            notes.append(f"{place}: {night.partial_reason}")
    for place, why in sorted((missing or {}).items()):
        notes.append(f"{place} {why}")
    nights = [night for _, night, _ in benches]
    tiers = sorted({night.tier for night in nights}) or ["virtual"]
    complete = interrupted is None and all(night.complete for night in nights)
    plugin = nights[0].plugin_version if nights else "-"
    return Night(
        night_id=new_night_id(started),
        started=started,
        finished=finished if complete else None,
        complete=complete,
        bench=lab,
        harness_version=harness_version(),
        plugin_version=plugin,
        git_sha=git_sha(),
        devices=tuple(devices),
        results=tuple(results),
        seed_codes_asserted=tuple(sorted(codes)),
        selection="; ".join(notes) if notes else None,
        interrupted=interrupted,
        redacted=all(night.redacted for night in nights),
        tier=tiers[0] if len(tiers) == 1 else "mixed (" + " + ".join(tiers) + ")",
    )


# ------------------------------------------------------------------------------ running a bench


_TIMED_OUT: Final = 124
"""coreutils timeout's exit status when its SIGTERM stopped the command."""
FETCH_GRACE_S: Final = 120.0
"""How long a remote night may take past ``--bench-timeout`` to be packed and fetched."""


class SshLike(Protocol):
    """What a remote bench night needs of labgrid's ``SSHDriver``."""

    def run(self, cmd: str, timeout: float | None = None) -> tuple[list[str], list[str], int]: ...

    def get(self, filename: str, destination: str = ".") -> None: ...


SshFactory = Callable[[Mapping[str, Any]], SshLike]


def _labgrid_ssh(bench: Mapping[str, Any]) -> SshLike:
    """An active ``SSHDriver`` to the bench's host (a throw-away labgrid target)."""
    import getpass

    from labgrid.driver.sshdriver import SSHDriver
    from labgrid.resource.networkservice import NetworkService
    from labgrid.target import Target

    target = Target(f"ttlock-{bench.get('host')}")
    NetworkService(
        target,
        None,
        address=str(bench.get("host")),
        username=str(bench.get("user") or getpass.getuser()),
    )
    driver = SSHDriver(target, None)
    target.activate(driver)
    return driver  # type: ignore[no-any-return]


async def _run_local(command: list[str], log: Path, timeout_s: float) -> int:
    """Run a bench night here, its output into ``log``; stopped (SIGTERM, then killed) when
    cancelled or past ``timeout_s``."""
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            return await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            await _stop(process)
            raise
        except asyncio.CancelledError:
            await asyncio.shield(_stop(process))
            raise


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)  # the nightly stops pytest cleanly and keeps results
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _run_remote(
    *,
    place: str,
    bench: Mapping[str, Any],
    command: list[str],
    remote_out: str,
    bench_dir: Path,
    log: Path,
    timeout_s: float,
    ssh_factory: SshFactory,
) -> int:
    """Run a bench night over SSH, pack it there, fetch and unpack it into ``bench_dir``."""
    quoted = shlex.quote(remote_out)
    archive = f"{remote_out}.tar.gz"
    # The night bounds itself on the bench (coreutils timeout: SIGTERM, then SIGKILL after
    # the grace, as _run_local does): SSHDriver.run's timeout would leave it running there
    # after its place is released.
    seconds = str(max(1, math.ceil(timeout_s)))  # 0 would be no limit at all
    bounded = ["timeout", "-s", "TERM", "-k", f"{STOP_GRACE_S:.0f}", seconds]
    script = (
        f"mkdir -p {quoted}; {shlex.join([*bounded, *command])}; status=$?; "
        f"tar -C {quoted} -czf {shlex.quote(archive)} .; exit $status"
    )

    host = str(bench.get("host"))

    def run() -> int:
        try:
            status = fetch()
        except LabgridError:
            raise
        except Exception as exc:  # noqa: BLE001 - labgrid's SSH errors: one line, not a traceback
            raise BenchNightFailed(
                place,
                f"over SSH to {host}: {str(exc).strip() or type(exc).__name__}",
                fix=f"check that `ssh {host}` works without a password and that "
                f"{shlex.join(command[:1])} is installed there",
            ) from None
        if status == _TIMED_OUT:
            raise TimeoutError(f"the night on {host} ran past {timeout_s:g} s")
        return status

    def fetch() -> int:
        ssh = ssh_factory(bench)
        stdout, stderr, status = ssh.run(script, timeout=timeout_s + STOP_GRACE_S + 30)
        with log.open("a", encoding="utf-8") as sink:
            sink.writelines(line + "\n" for line in [*stdout, *stderr])
        with tempfile.TemporaryDirectory(prefix="ttlock-hil-fetch-") as temp:
            ssh.get(archive, temp)
            fetched = Path(temp) / Path(archive).name
            if not fetched.is_file():
                raise BenchNightFailed(
                    place,
                    f"the night's archive {archive} did not arrive",
                    fix="check that tar and scp work on the bench's PC",
                )
            with tarfile.open(fetched) as packed:
                packed.extractall(bench_dir, filter="data")
        ssh.run(f"rm -rf {quoted} {shlex.quote(archive)}", timeout=60)
        return int(status)

    return await asyncio.wait_for(_in_daemon_thread(run, f"ssh-{place}"), timeout_s + FETCH_GRACE_S)


async def _in_daemon_thread(call: Callable[[], int], name: str) -> int:
    """``call()`` in a thread of its own that the deadline can leave behind.

    labgrid's ``SSHDriver`` blocks, and its ``get`` (scp) has no timeout: in
    ``asyncio.to_thread`` a hung copy would outlive the deadline in the loop's executor,
    which ``asyncio.run`` joins at its end, so the lab night would hang after giving the
    bench up. A daemon thread is abandoned instead (its scp ends with the process).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def settle(result: int | None, error: BaseException | None) -> None:
        if future.done():
            return  # the deadline passed: nobody waits for it any more
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(int(result or 0))

    def target() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def _check_local(place: str, bench: TTLockBench) -> None:
    """A bench of this PC: its config loads and lists its adapter, or BenchNightFailed with the
    config's own fix (before its place is used for a night that cannot run)."""
    from ttlock_hil.harness.labgrid.bench import check_bench

    try:
        check_bench(bench)
    except ConfigError as exc:
        raise BenchNightFailed(
            place,
            f"its config cannot be used: {str(exc).partition(' — fix: ')[0]}",
            fix=exc.fix or f"correct {bench.config}",
        ) from None


def _bench_night_dir(bench_dir: Path) -> Path | None:
    """The night directory a bench's nightly wrote under ``bench_dir`` (the newest)."""
    nights = sorted(p.parent for p in bench_dir.glob("*/results.json"))
    return nights[-1] if nights else None


@dataclass
class _LabRun:
    coordinator: Coordinator
    lab_dir: Path
    tags: Mapping[str, str]
    wait_s: float | None
    bench_timeout_s: float
    pytest_args: Sequence[str]
    reruns: int
    say: Callable[[str], None]
    ssh_factory: SshFactory

    async def bench(self, place: str) -> BenchOutcome:
        from ttlock_hil.harness.labgrid.bench import bench_from_params, nightly_command

        began = time.monotonic()
        waited = 0.0
        bench_dir = self.lab_dir / BENCHES_DIR / place
        host: str | None = None

        def waiting(holder: str) -> None:
            self.say(f"{place}: waiting for the reservation (held by {holder})")

        try:
            async with self.coordinator.hold(
                place, wait_s=self.wait_s, tags=self.tags, on_wait=waiting
            ) as params:
                waited = time.monotonic() - began
                bench = bench_from_params(dict(params))
                host = bench.host or "localhost"
                where = "here" if bench.local else f"on {host} over SSH"
                self.say(f"{place}: acquired after {waited:.1f} s; the night runs {where}")
                bench_dir.mkdir(parents=True, exist_ok=True)
                log = bench_dir / LOG_NAME
                if bench.local:
                    _check_local(place, bench)
                    command = nightly_command(
                        bench, bench_dir, list(self.pytest_args), reruns=self.reruns
                    )
                    await _run_local(command, log, self.bench_timeout_s)
                else:
                    name = f"ttlock-hil-{self.lab_dir.name}-{place}"
                    remote_out = f"{bench.workdir.rstrip('/')}/{name}"
                    command = nightly_command(
                        bench, remote_out, list(self.pytest_args), reruns=self.reruns
                    )
                    await _run_remote(
                        place=place,
                        bench=params,
                        command=command,
                        remote_out=remote_out,
                        bench_dir=bench_dir,
                        log=log,
                        timeout_s=self.bench_timeout_s,
                        ssh_factory=self.ssh_factory,
                    )
        except asyncio.CancelledError:
            # We were stopped (SIGINT/SIGTERM): the place is released; the bench's nightly
            # was stopped first and kept what finished, reported as interrupted.
            if _bench_night_dir(bench_dir) is None:
                return BenchOutcome(place, BenchStatus.INTERRUPTED, host, reason="stopped")
            return self._judge(place, host, bench_dir, waited)
        except BenchUnavailable as exc:
            self.say(f"{place}: unavailable — {exc.reason}")
            return BenchOutcome(place, BenchStatus.UNAVAILABLE, host, reason=exc.reason)
        except TimeoutError:
            reason = f"its night ran past {self.bench_timeout_s:g} s and was stopped"
            return self._error(place, host, BenchNightFailed(place, reason), waited)
        except LabgridError as exc:
            return self._error(place, host, exc, waited)
        except OSError as exc:
            return self._error(place, host, BenchNightFailed(place, str(exc)), waited)
        return self._judge(place, host, bench_dir, waited)

    def _error(
        self, place: str, host: str | None, exc: LabgridError, waited: float
    ) -> BenchOutcome:
        self.say(f"{place}: error — {exc}")
        return BenchOutcome(place, BenchStatus.ERROR, host, reason=str(exc), waited_s=waited)

    def _judge(self, place: str, host: str | None, bench_dir: Path, waited: float) -> BenchOutcome:
        night_dir = _bench_night_dir(bench_dir)
        if night_dir is None:
            failure = BenchNightFailed(
                place,
                f"its nightly wrote no results (see {bench_dir / LOG_NAME})",
                fix=f"read {bench_dir / LOG_NAME}; run that bench's nightly by hand to see why",
            )
            return self._error(place, host, failure, waited)
        try:
            night = Night.from_json((night_dir / "results.json").read_text("utf-8"))
        except (OSError, ReportError) as exc:
            failure = BenchNightFailed(place, f"its results.json is unreadable: {exc}")
            return self._error(place, host, failure, waited)
        if night.interrupted is not None:
            status = BenchStatus.INTERRUPTED
        elif night.failures or not night.complete:
            status = BenchStatus.FAILED
        else:
            status = BenchStatus.PASSED
        counts = night.counts
        self.say(
            f"{place}: {status} — {counts[Outcome.PASSED]} passed, "
            f"{counts[Outcome.FAILED] + counts[Outcome.ERROR]} failed, "
            f"{counts[Outcome.SKIPPED]} skipped"
        )
        return BenchOutcome(place, status, host, night, night_dir, waited_s=waited)


def _lab_dir(out: Path, night_id: str) -> Path:
    candidate = out / night_id
    serial = 2
    while candidate.exists():
        candidate = out / f"{night_id}-{serial}"
        serial += 1
    candidate.mkdir(parents=True)
    return candidate


def run_lab_nightly(
    *,
    coordinator: str,
    tags: Mapping[str, str],
    out: str | os.PathLike[str],
    lab: str = "lab",
    history: str | os.PathLike[str] | None = None,
    pytest_args: Sequence[str] = (),
    reruns: int = 1,
    wait_s: float | None = DEFAULT_WAIT_S,
    bench_timeout_s: float = DEFAULT_BENCH_TIMEOUT_S,
    output: Callable[[str], None] | None = None,
    ssh_factory: SshFactory | None = None,
    connect_s: float = 10.0,
    poll_s: float = 1.0,
) -> LabOutcome:
    """Run the lab night (see the module docstring); raises the typed errors of
    :mod:`ttlock_hil.harness.labgrid` for a coordinator that does not answer or no place
    with the tags, before any night begins."""
    out_root = Path(out).resolve()
    if out_root.exists() and not out_root.is_dir():
        raise LabgridError(f"--out {out_root} is a file", fix="name a directory for lab nights")
    say = output if output is not None else (lambda line: print(line, flush=True))
    store_path = Path(history).resolve() if history is not None else out_root / DEFAULT_FILE_NAME
    return asyncio.run(
        _lab_night(
            coordinator=Coordinator(coordinator, connect_s=connect_s, poll_s=poll_s),
            tags=tags,
            out_root=out_root,
            lab=lab,
            store_path=store_path,
            pytest_args=pytest_args,
            reruns=reruns,
            wait_s=wait_s,
            bench_timeout_s=bench_timeout_s,
            say=say,
            ssh_factory=ssh_factory or _labgrid_ssh,
        )
    )


async def _lab_night(
    *,
    coordinator: Coordinator,
    tags: Mapping[str, str],
    out_root: Path,
    lab: str,
    store_path: Path,
    pytest_args: Sequence[str],
    reruns: int,
    wait_s: float | None,
    bench_timeout_s: float,
    say: Callable[[str], None],
    ssh_factory: SshFactory,
) -> LabOutcome:
    stopped: list[int] = []
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        stopped.append(signum)
        if len(stopped) == 1 and main is not None:
            say(
                f"stopping: {signal.Signals(signum).name} — every bench night is stopped and "
                "every place released"
            )
            for task in benches:
                task.cancel()

    benches: list[asyncio.Task[BenchOutcome]] = []
    handled = []
    if sys.platform != "win32":
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(RuntimeError, ValueError):  # not the main thread
                loop.add_signal_handler(signum, stop, signum)
                handled.append(signum)
    try:
        async with coordinator:
            places = coordinator.tagged(tags)
            started = datetime.now(UTC)
            lab_dir = _lab_dir(out_root, new_night_id(started))
            say(
                f"lab night {lab_dir.name}: {len(places)} benches tagged "
                f"{' '.join(f'{k}={v}' for k, v in sorted(tags.items()))} on "
                f"{coordinator.address}: {', '.join(p.name for p in places)}"
            )
            run = _LabRun(
                coordinator,
                lab_dir,
                tags,
                wait_s,
                bench_timeout_s,
                pytest_args,
                reruns,
                say,
                ssh_factory,
            )
            if not stopped:  # a signal while connecting: no bench begins
                benches.extend(asyncio.create_task(run.bench(p.name)) for p in places)
            outcomes = [
                BenchOutcome(p.name, BenchStatus.INTERRUPTED, reason="stopped before it began")
                for p in places
            ]
            for index, task in enumerate(benches):
                with contextlib.suppress(asyncio.CancelledError):  # stopped before it began
                    outcomes[index] = await task
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    finished = datetime.now(UTC)
    interrupted = signal.Signals(stopped[0]).name if stopped else None
    return _report(
        lab=lab,
        lab_dir=lab_dir,
        store_path=store_path,
        started=started,
        finished=finished,
        outcomes=outcomes,
        interrupted=interrupted,
        stopped=stopped,
    )


def _bench_line(outcome: BenchOutcome, lab_dir: Path) -> BenchLine:
    """A bench's row in the merged report."""
    if outcome.night is not None:
        counts = outcome.night.counts
        failed = counts[Outcome.FAILED] + counts[Outcome.ERROR]
        detail = (
            f"{counts[Outcome.PASSED]} passed, {failed} failed, {counts[Outcome.SKIPPED]} skipped"
            f" on {outcome.host or 'localhost'}; waited {outcome.waited_s:.1f} s"
        )
    else:
        detail = outcome.reason or ""
    report = None
    if outcome.directory is not None:
        report = (outcome.directory / HTML_NAME).relative_to(lab_dir).as_posix()
    return BenchLine(outcome.place, outcome.status, detail, report)


def _report(
    *,
    lab: str,
    lab_dir: Path,
    store_path: Path,
    started: datetime,
    finished: datetime,
    outcomes: list[BenchOutcome],
    interrupted: str | None,
    stopped: list[int],
) -> LabOutcome:
    ran = [
        (o.place, o.night, o.directory.relative_to(lab_dir).as_posix())
        for o in outcomes
        if o.night is not None and o.directory is not None
    ]
    missing = {o.place: f"{o.status}: {o.reason}" for o in outcomes if o.night is None and o.reason}
    merged = merge_nights(
        lab=lab,
        started=started,
        finished=finished,
        benches=ran,
        missing=missing,
        interrupted=interrupted,
    )
    lines = [_bench_line(outcome, lab_dir) for outcome in outcomes]
    with HistoryStore.open(store_path) as store:
        night = store.record_night(merged)
        paths = write_night_report(night, store, lab_dir, benches=lines)
        diff = paths.diff
    mode = file_mode(night)
    write_text(lab_dir / "diff.json", json.dumps(diff.to_dict(), indent=2) + "\n", mode=mode)
    document = {
        "format": "ttlock-hil/lab-night",
        "night_id": night.night_id,
        "lab": lab,
        "benches": [o.to_dict(lab_dir) for o in outcomes],
    }
    write_text(lab_dir / LAB_JSON, json.dumps(document, indent=2) + "\n", mode=mode)
    if stopped:
        status = 128 + stopped[0]
    elif night.failures or any(
        o.status in (BenchStatus.FAILED, BenchStatus.ERROR, BenchStatus.INTERRUPTED)
        for o in outcomes
    ):
        status = 1
    else:
        status = 0
    return LabOutcome(night, diff, lab_dir, paths.html, tuple(outcomes), status)
