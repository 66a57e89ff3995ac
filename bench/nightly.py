"""The nightly with 6, 12 and 24 virtual devices, each notification 15 ms late (a radio).

Each night is a whole ``ttlock-hil nightly`` (:func:`~ttlock_hil.harness.nightly.run_nightly`:
the pre-flight collection, the suite, reruns, the reports and the history) on a lab of N
virtual devices — the default lab's eight devices in turn (six locks, then the two
gateways), renamed — with :mod:`bench.radio_delay` loaded into its pytest processes.

* parallel: the devices in pytest-xdist workers, as many as a lab of radio devices gets
  (:func:`~ttlock_hil.harness.nightly.worker_count`: one per device, at most
  :data:`~ttlock_hil.harness.nightly.WORKERS_PER_CPU` per CPU) — with the delay, a virtual
  device waits like a radio one;
* serial (one pytest, the devices one after another): the reference, for the smallest lab.

Figures per night: wall time, wall(N)/wall(smallest N), the CPU of the whole process tree
(``RUSAGE_CHILDREN``) per test. The bench checks that every night of one N gives the same
(test, device, outcome) set whatever its workers, and that no test failed.

The nights' Python processes cache their bytecode in a directory of the bench
(``PYTHONPYCACHEPREFIX``) even where ``PYTHONDONTWRITEBYTECODE`` is set, as on any
machine that lets Python write its caches: otherwise each worker compiles every module
again (about 0.9 s of CPU per process measured on the bench machine).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench import radio_delay
from ttlock_hil.harness.config import default_config_path, load_config
from ttlock_hil.harness.nightly import WORKERS_PER_CPU, run_nightly


def lab_config(workdir: Path, devices: int) -> Path:
    """A lab of ``devices`` virtual devices: the default lab's devices in turn, renamed."""
    base = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    models = base["devices"]
    entries = []
    for n in range(devices):
        entry = dict(models[n % len(models)])
        entry["name"] = f"{entry['name']}-{n // len(models)}"
        entries.append(entry)
    data = {**base, "lab": f"bench-nightly-{devices}", "devices": entries}
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "hil-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def radio_workers(devices: int) -> int:
    """The workers a lab of ``devices`` radio devices gets by default."""
    return max(1, min(devices, WORKERS_PER_CPU * (os.cpu_count() or 1)))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _environment(delay: float, pycache: Path) -> Iterator[None]:
    """The nights' pytest processes: the radio delay loaded, bytecode cached by the bench."""
    wanted = {
        "PYTEST_PLUGINS": "bench.radio_delay",
        radio_delay.VARIABLE: str(delay),
        "PYTHONPYCACHEPREFIX": str(pycache),
        "PYTHONDONTWRITEBYTECODE": None,
    }
    previous = {key: os.environ.get(key) for key in wanted}
    try:
        for key, value in wanted.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def one_night(workdir: Path, devices: int, workers: int, delay: float) -> dict[str, Any]:
    """One night of ``devices`` devices in ``workers`` workers (1: serial)."""
    config = lab_config(workdir / f"lab-{devices}", devices)
    load_config(config)  # a bad lab is the bench's bug: fail before any night
    lines: list[str] = []
    with _environment(delay, workdir / "pycache"):
        cpu, wall = _children_cpu(), time.perf_counter()
        outcome = run_nightly(
            config_path=config,
            out=workdir / "nights",
            history=workdir / f"history-{devices}-{workers}.sqlite",
            output=lines.append,
            workers=workers,
        )
        wall = time.perf_counter() - wall
        cpu = _children_cpu() - cpu
    results = outcome.night.results
    return {
        "devices": devices,
        "workers": workers,
        "wall_s": wall,
        "night_s": outcome.night.duration_s,
        "cpu_s": cpu,
        "tests": len(results),
        "cpu_ms_per_test": cpu / max(1, len(results)) * 1e3,
        "outcomes": dict(Counter(r.outcome.value for r in results)),
        "exit_status": outcome.exit_status,
        "set": sorted((r.test_id, r.device, r.outcome.value) for r in results),
        "failures": [f"{r.test_id} on {r.device}" for r in results if r.outcome.is_failure],
        "tail": lines[-2:],
    }


def warm_up(workdir: Path, delay: float) -> None:
    """Fill the bench's bytecode cache (one collection), so no night pays for compiling."""
    from ttlock_hil.harness.nightly import default_suite, project_root

    config = lab_config(workdir / "lab-warm-up", 1)
    with _environment(delay, workdir / "pycache"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "--collect-only",
                str(default_suite()),
                f"--hil-config={config}",
                "-p",
                "no:cacheprovider",
            ],
            cwd=project_root(),
            check=False,
            capture_output=True,
        )


def default_workers(
    workdir: Path, devices: int, rounds: int, settings: list[int]
) -> dict[str, Any]:
    """The lab of ``devices`` without a delay (CPU-bound, like a virtual lab) at several
    worker counts, interleaved: why the nightly gives a simulated lab one worker per CPU."""
    nights: dict[int, list[dict[str, Any]]] = {w: [] for w in settings}
    for index in range(rounds):
        for workers in settings if index % 2 == 0 else list(reversed(settings)):
            nights[workers].append(one_night(workdir / "no-delay", devices, workers, 0.0))
    serial = statistics.median(n["wall_s"] for n in nights[1]) if 1 in nights else None
    runs = []
    for workers, mine in nights.items():
        wall = statistics.median(n["wall_s"] for n in mine)
        runs.append(
            {
                "workers": workers,
                "wall_s": wall,
                "wall_s_rounds": [round(n["wall_s"], 2) for n in mine],
                "wall_ratio_vs_serial": wall / serial if serial else None,
                "cpu_ms_per_test": statistics.median(n["cpu_ms_per_test"] for n in mine),
                "failures": sorted({f for n in mine for f in n["failures"]}),
            }
        )
    same = len({tuple(n["set"]) for mine in nights.values() for n in mine}) == 1
    return {"devices": devices, "delay_s": 0.0, "runs": runs, "same_results": same}


def nightly(workdir: Path, counts: list[int], rounds: int, delay: float) -> dict[str, Any]:
    """Each round: the serial night of the smallest lab, then each lab in parallel.

    Before the rounds each parallel lab runs one night that is not measured: a lab's
    history then holds its previous night, as it does for every night of a lab but its
    first, and the scheduler hands out the longest devices first (``--hil-durations``,
    fixtures/xdist.py). Without it the first round would measure a lab's first night.
    """
    warm_up(workdir, delay)
    smallest = min(counts)
    plan = [(smallest, 1)] + [(n, radio_workers(n)) for n in counts]
    for devices, workers in plan[1:]:
        one_night(workdir, devices, workers, delay)
    nights: list[dict[str, Any]] = []
    for index in range(rounds):
        order = plan if index % 2 == 0 else [plan[0], *reversed(plan[1:])]
        for devices, workers in order:
            nights.append(one_night(workdir, devices, workers, delay))
    runs: list[dict[str, Any]] = []
    for devices, workers in plan:
        mine = [n for n in nights if (n["devices"], n["workers"]) == (devices, workers)]
        runs.append(
            {
                "devices": devices,
                "workers": workers,
                "wall_s": statistics.median(n["wall_s"] for n in mine),
                "wall_s_rounds": [round(n["wall_s"], 2) for n in mine],
                "cpu_ms_per_test": statistics.median(n["cpu_ms_per_test"] for n in mine),
                "tests": mine[0]["tests"],
                "outcomes": mine[0]["outcomes"],
                "failures": sorted({f for n in mine for f in n["failures"]}),
            }
        )
    parallel = {r["devices"]: r for r in runs if r["workers"] > 1 or r["devices"] != smallest}
    base = parallel[smallest]["wall_s"]
    for run in runs:
        run["wall_ratio_vs_parallel_smallest"] = run["wall_s"] / base
    same = {
        str(devices): len({tuple(n["set"]) for n in nights if n["devices"] == devices}) == 1
        for devices in counts
    }
    return {
        "counts": counts,
        "rounds": rounds,
        "radio_delay_s": delay,
        "runs": runs,
        "same_results_whatever_the_workers": same,
        "serial_over_parallel_smallest": next(r for r in runs if r["workers"] == 1)["wall_s"]
        / base,
    }
