"""The bench's own logic, without timing anything (figures come only from ``make bench``).

The implementations it compares must produce the same bytes, the floor must do the
work it claims, and the report must state every target and whether it was met.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import codec, nightly, radio_delay, run
from ttlock_hil.harness.config import default_config_path, load_config
from ttlock_hil.protocol.frame import parse_frame


def test_our_codec_and_the_floor_agree_on_every_workload() -> None:
    implementations = {"ours": codec.ours(), "floor": codec.floor()}
    codec.check_outputs(implementations)  # raises on any difference
    assert implementations["floor"]["decode"]() == codec.REPLY_PLAINTEXT
    frame = parse_frame(implementations["ours"]["encode"]())
    assert frame.command == codec.STATUS_QUERY


def test_the_floor_checks_the_crc_it_claims_to() -> None:
    floor = codec.Floor(codec.KEY)
    reply = bytearray(codec.reply_frame())
    reply[-1] ^= 0xFF
    try:
        floor.decode(bytes(reply))
    except ValueError:
        return
    raise AssertionError("the floor accepted a bad CRC")


def test_timed_rounds_interleave_every_implementation_and_workload() -> None:
    implementations = {"ours": codec.ours(), "floor": codec.floor()}
    samples = list(codec.timed_rounds(implementations, rounds=2, iterations=1))
    assert len(samples) == 2 * 3 * 2
    assert [s["impl"] for s in samples[:2]] == ["ours", "floor"]
    assert [s["impl"] for s in samples[6:8]] == ["floor", "ours"]  # the other goes first
    assert set(run.summarise(samples)) == {"encode", "decode", "reassemble"}


def synthetic_result(bare_ms: float) -> dict[str, Any]:
    row = {"ours": 2.0, "floor": 1.5, "ttlock-ble": 3.0, "ttlock-core": 0.5}
    windows = [
        {"after_commands": n, "cpu_ms_per_command": 0.3, "rss_mb": 60.0} for n in (500, 1000)
    ]
    result: dict[str, Any] = {
        "date": "2026-01-01T00:00:00+00:00",
        "environment": {
            "python": "3.11",
            "machine": "x86_64",
            "cpus": 2,
            "ttlock_hil": "0.1.0",
            "construct": "2.10.70",
            "cryptography": "51",
        },
        "codec": {
            "project_interpreter": {
                "python": "3.11",
                "us_per_op": {w: {"ours": 2.0, "floor": 1.5} for w in run.WORKLOADS},
            },
            "peers": {
                "packages": [{"distribution": "ttlock-ble", "version": "0.3.2"}],
                "environment": {"interpreter": "3.13.0"},
                "us_per_op": {w: dict(row) for w in run.WORKLOADS},
            },
            "ratios": {
                w: {f"ours/{k}": 2.0 / v for k, v in row.items() if k != "ours"}
                for w in run.WORKLOADS
            },
        },
        "round_trip": {
            "harness": {"cpu_ms": 0.3},
            "bare": {"cpu_ms": bare_ms},
            "cpu_ratio": 0.3 / bare_ms,
        },
        "parallel": {
            "runs": [
                {"delay_s": d, "locks": n, "wall_ratio_vs_1": 1.0, "cpu_ms_per_command": 0.3}
                for d in (0.0, 0.015)
                for n in (1, 16)
            ]
        },
        "soak": {
            "windows": windows,
            "cpu_ratio_last_vs_first": 1.0,
            "rss_ratio_last_vs_first": 1.0,
        },
    }
    result["targets"] = run.targets(result)
    return result


def test_every_target_is_checked_and_a_missed_one_is_marked() -> None:
    met = synthetic_result(bare_ms=0.2)
    assert all(t["met"] for t in met["targets"])
    missed = synthetic_result(bare_ms=0.1)  # the harness at 3x the bare client
    (trip,) = [t for t in missed["targets"] if t["target"].startswith("round trip: harness")]
    assert not trip["met"]
    table = run.markdown(missed)
    assert "| round trip: harness / bare bleak (CPU) | 3.000 | 2.0 × | **no** |" in table
    assert "15 ms delay: wall(16) / wall(1)" in table


def test_the_nightly_target_compares_the_most_devices_with_the_fewest_in_parallel() -> None:
    result = synthetic_result(bare_ms=0.2)
    runs = [
        {"devices": 6, "workers": 1, "wall_s": 60.0, "tests": 740, "cpu_ms_per_test": 17.0},
        {"devices": 6, "workers": 6, "wall_s": 20.0, "tests": 740, "cpu_ms_per_test": 25.0},
        {"devices": 24, "workers": 8, "wall_s": 36.0, "tests": 2334, "cpu_ms_per_test": 20.0},
    ]
    for item in runs:
        item["wall_ratio_vs_parallel_smallest"] = item["wall_s"] / 20.0
    result["nightly"] = {"counts": [6, 24], "runs": runs}
    (night,) = [t for t in run.targets(result) if t["target"].startswith("nightly")]
    assert night["target"] == "nightly, 15 ms delay: wall(24 devices) / wall(6)"
    assert (night["value"], night["met"]) == (1.8, False)
    table = run.markdown({**result, "targets": run.targets(result)})
    assert "| nightly, 6 devices (serial, 740 results) + 15 ms delay" in table
    assert "| nightly, 24 devices (8 workers, 2334 results)" in table


def test_the_bench_lab_takes_the_default_labs_devices_in_turn(tmp_path: Path) -> None:
    config = load_config(nightly.lab_config(tmp_path, 10))
    names = [d.name for d in config.devices]
    assert len(names) == len(set(names)) == 10
    default = load_config(default_config_path())
    models = [d.model for d in default.devices]
    assert [d.model for d in config.devices] == (models * 2)[:10]
    assert nightly.radio_workers(1) == 1


def test_the_radio_delay_hands_each_notification_over_late_in_order() -> None:
    calls: list[tuple[float, object, object, object]] = []

    class Loop:
        def call_later(self, delay: float, callback: object, *args: object) -> None:
            calls.append((delay, callback, *args))

    class Link:
        _loop = Loop()
        _if_open = "if-open"

    soon = radio_delay.delayed(0.015)
    soon(Link(), "deliver", b"first")
    soon(Link(), "deliver", b"second")
    assert calls == [
        (0.015, "if-open", "deliver", b"first"),
        (0.015, "if-open", "deliver", b"second"),
    ]
