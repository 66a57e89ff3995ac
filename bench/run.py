"""``make bench``: every figure of docs/performance.md in one run.

Writes ``bench/results/<date>.json`` (everything measured, versions, targets, the
machine's load average at the start and the end) and
``bench/results/<date>.md`` (the table), and prints the table. ``--quick`` runs
every workload briefly (a smoke test of the bench itself, not figures to quote).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import codec, harness, nightly, peers

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ("encode", "decode", "reassemble")
LABELS = {
    "encode": "encode status query 0x14",
    "decode": "decode status reply (parse + CRC + decrypt)",
    "reassemble": "reassemble 2 chunks + parse",
}


def summarise(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median µs per operation by workload and implementation."""
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for sample in samples:
        grouped[(sample["workload"], sample["impl"])].append(sample["us_per_op"])
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for (workload, impl), values in grouped.items():
        table[workload][impl] = statistics.median(values)
    return dict(table)


def codec_section(rounds: int, iterations: int, log: Any) -> dict[str, Any]:
    section: dict[str, Any] = {"rounds": rounds, "iterations_per_round": iterations}
    local = {"ours": codec.ours(), "floor": codec.floor()}
    codec.check_outputs(local)
    section["project_interpreter"] = {
        "python": platform.python_version(),
        "us_per_op": summarise(list(codec.timed_rounds(local, rounds, iterations))),
    }
    venv = peers.ensure_venv(log)
    section["peers_venv"] = venv
    if "error" in venv:
        section["peers"] = {"error": venv["error"]}
        return section
    log(f"bench: codec side by side in {venv['python']}")
    records = peers.run_child(venv["python"], rounds, iterations)
    samples = [r["sample"] for r in records if "sample" in r]
    section["peers"] = {
        "packages": [r for r in records if "peer" in r],
        "environment": next(r for r in records if "interpreter" in r),
        "us_per_op": summarise(samples),
    }
    if venv["version"] < list(peers.TTLOCK_BLE_PYTHON):
        section["peers"]["note"] = (
            "ttlock-ble requires Python >= 3.14; none was available, so its codec modules "
            "(protocol/, crypto.py) were loaded on this interpreter without its package "
            "__init__ (its BLE client uses 3.14-only syntax)"
        )
    table = section["peers"]["us_per_op"]
    ratios: dict[str, dict[str, float]] = {}
    for workload in WORKLOADS:
        row = table[workload]
        ratios[workload] = {
            f"ours/{impl}": row["ours"] / row[impl] for impl in row if impl != "ours"
        }
    core = table.get("decode", {}).get("ttlock-core")
    if core is not None:
        section["peers"]["ttlock_core_decode_minus_encode_us"] = (
            core - table["encode"]["ttlock-core"]
        )
    section["ratios"] = ratios
    return section


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: float, unit: str = "×") -> None:
        checks.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "unit": unit,
                "met": value is not None and value <= limit,
            }
        )

    ratios = result["codec"].get("ratios", {})
    for workload in WORKLOADS:
        row = ratios.get(workload, {})
        check(f"{workload}: ours / ttlock-ble", row.get("ours/ttlock-ble"), 1.0)
        check(f"{workload}: ours / floor", row.get("ours/floor"), 2.0)
    trip = result["round_trip"]
    check("round trip: harness / bare bleak (CPU)", trip["cpu_ratio"], 2.0)
    check("round trip: CPU per command", trip["harness"]["cpu_ms"], 0.5, "ms")
    runs = result["parallel"]["runs"]
    delayed = {r["locks"]: r for r in runs if r["delay_s"]}
    if 16 in delayed:
        check("15 ms delay: wall(16) / wall(1)", delayed[16]["wall_ratio_vs_1"], 1.5)
        cpu_growth = delayed[max(delayed)]["cpu_ms_per_command"] / delayed[1]["cpu_ms_per_command"]
        check(f"15 ms delay: CPU/command at {max(delayed)} vs 1 locks", cpu_growth, 1.1)
    soak = result["soak"]
    check("soak: CPU/command last vs first window", soak["cpu_ratio_last_vs_first"], 1.1)
    check("soak: RSS last vs first window", soak["rss_ratio_last_vs_first"], 1.1)
    night = result.get("nightly")
    if night is not None:
        most, least = max(night["counts"]), min(night["counts"])
        parallel = {r["devices"]: r for r in night["runs"] if r["workers"] > 1}
        if most in parallel:
            check(
                f"nightly, 15 ms delay: wall({most} devices) / wall({least})",
                parallel[most]["wall_ratio_vs_parallel_smallest"],
                1.5,
            )
    return checks


def _load(value: list[float] | None) -> str:
    return "n/a" if not value else " / ".join(f"{v:.2f}" for v in value)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# make bench, {result['date']}", ""]
    env = result["environment"]
    lines.append(
        f"Python {env['python']} ({env['machine']}, {env['cpus']} CPUs; load average "
        f"{_load(env.get('load_average_at_start'))} at the start, "
        f"{_load(env.get('load_average_at_end'))} at the end); "
        f"ttlock-hil {env['ttlock_hil']}; construct {env['construct']}; "
        f"cryptography {env['cryptography']}."
    )
    peers_info = result["codec"].get("peers", {})
    if "us_per_op" in peers_info:
        versions = ", ".join(
            f"{p['distribution']} {p.get('version', p.get('error'))}"
            for p in peers_info["packages"]
        )
        lines.append(
            f"Codec side by side in one process on Python "
            f"{peers_info['environment']['interpreter']}: {versions}."
        )
        if "note" in peers_info:
            lines.append(f"Note: {peers_info['note']}.")
        lines += [
            "",
            "| codec workload (µs/op, median) | ours | ttlock-ble | ttlock-core | floor "
            "| ours/ttlock-ble | ours/floor |",
            "|---|---|---|---|---|---|---|",
        ]
        for workload in WORKLOADS:
            row = peers_info["us_per_op"][workload]
            ratio = result["codec"]["ratios"][workload]
            lines.append(
                f"| {LABELS[workload]} | {row['ours']:.2f} | {row.get('ttlock-ble', 0):.2f} | "
                f"{row.get('ttlock-core', 0):.2f} | {row['floor']:.2f} | "
                f"{ratio.get('ours/ttlock-ble', float('nan')):.2f} | {ratio['ours/floor']:.2f} |"
            )
    local = result["codec"]["project_interpreter"]
    lines += [
        "",
        f"Project interpreter (Python {local['python']}), µs/op: "
        + "; ".join(
            f"{w} ours {local['us_per_op'][w]['ours']:.2f} / floor "
            f"{local['us_per_op'][w]['floor']:.2f}"
            for w in WORKLOADS
        )
        + ".",
        "",
    ]
    trip = result["round_trip"]
    lines += [
        "| harness | value |",
        "|---|---|",
        f"| `lock.status()` through Lab, CPU/command | {trip['harness']['cpu_ms']:.3f} ms |",
        f"| bare bleak client, CPU/command | {trip['bare']['cpu_ms']:.3f} ms |",
        f"| harness / bare (CPU) | {trip['cpu_ratio']:.2f}× |",
    ]
    for run in result["parallel"]["runs"]:
        lines.append(
            f"| {run['locks']} locks{' + 15 ms delay' if run['delay_s'] else ''}: "
            f"wall(N)/wall(1), CPU/command | {run['wall_ratio_vs_1']:.2f}, "
            f"{run['cpu_ms_per_command']:.3f} ms |"
        )
    night = result.get("nightly")
    if night is not None:
        for run in night["runs"]:
            how = "serial" if run["workers"] == 1 else f"{run['workers']} workers"
            lines.append(
                f"| nightly, {run['devices']} devices ({how}, {run['tests']} results) + 15 ms "
                f"delay: wall, wall/wall({min(night['counts'])} parallel), CPU/test | "
                f"{run['wall_s']:.1f} s, {run['wall_ratio_vs_parallel_smallest']:.2f}, "
                f"{run['cpu_ms_per_test']:.1f} ms |"
            )
        plain = night.get("no_delay")
        if plain is not None:
            for run in plain["runs"]:
                lines.append(
                    f"| nightly, the default {plain['devices']}-device lab, no delay, "
                    f"{run['workers']} worker(s): wall, wall/serial | {run['wall_s']:.1f} s, "
                    f"{run['wall_ratio_vs_serial']:.2f} |"
                )
    soak = result["soak"]
    first, last = soak["windows"][0], soak["windows"][-1]
    lines += [
        f"| soak, CPU/command first → last window | {first['cpu_ms_per_command']:.3f} → "
        f"{last['cpu_ms_per_command']:.3f} ms ({soak['cpu_ratio_last_vs_first']:.2f}×) |",
        f"| soak, RSS first → last window | {first['rss_mb']:.1f} → {last['rss_mb']:.1f} MB "
        f"({soak['rss_ratio_last_vs_first']:.3f}×) |",
        "",
        "| target | value | limit | met |",
        "|---|---|---|---|",
    ]
    for item in result["targets"]:
        value = "n/a" if item["value"] is None else f"{item['value']:.3f}"
        met = "yes" if item["met"] else "**no**"
        lines.append(f"| {item['target']} | {value} | {item['limit']} {item['unit']} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    quick = args.quick
    now = datetime.now(UTC)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result: dict[str, Any] = {
        "date": now.isoformat(timespec="seconds"),
        "quick": quick,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": load,
            "ttlock_hil": metadata.version("ttlock-hil"),
            "construct": metadata.version("construct"),
            "cryptography": metadata.version("cryptography"),
            "bleak": metadata.version("bleak"),
        },
    }
    log("bench: codec")
    result["codec"] = codec_section(3 if quick else 15, 500 if quick else 5000, log)
    with tempfile.TemporaryDirectory(prefix="ttlock-bench-") as tmp:
        workdir = Path(tmp)
        log("bench: round trip")
        result["round_trip"] = asyncio.run(
            harness.round_trip(workdir, 3 if quick else 9, 50 if quick else 300)
        )
        log("bench: locks in parallel")
        counts = [1, 4] if quick else [1, 4, 16, 64]
        result["parallel"] = asyncio.run(
            harness.parallel(workdir, counts, 5 if quick else 50, 3 if quick else 20)
        )
        log("bench: soak")
        commands, window = (400, 100) if quick else (10_000, 500)
        result["soak"] = asyncio.run(harness.soak(workdir, commands, window, unlock_every=10))
        log("bench: the nightly, 15 ms delay")
        counts = [2, 4] if quick else [6, 12, 24]
        result["nightly"] = nightly.nightly(
            workdir / "nightly", counts, 1 if quick else 2, harness.RADIO_DELAY
        )
        log("bench: the nightly of the default lab, no delay, 1/2/8 workers")
        result["nightly"]["no_delay"] = nightly.default_workers(
            workdir / "nightly",
            2 if quick else 8,
            1 if quick else 2,
            [1, 2] if quick else [1, 2, 8],
        )
    result["environment"]["load_average_at_end"] = (
        os.getloadavg() if hasattr(os, "getloadavg") else None
    )
    result["targets"] = targets(result)
    table = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = now.strftime("%Y-%m-%d") + ("-quick" if quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)
    log(f"bench: wrote {args.out / (stem + '.json')} and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
