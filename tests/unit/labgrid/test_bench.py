"""The TTLockBench resource, its driver and strategy, on an in-process labgrid target."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from labgrid.strategy.common import StrategyError
from labgrid.target import Target

from tests.unit.labgrid.loopback import write_bench
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.labgrid import LabgridError
from ttlock_hil.harness.labgrid.bench import (
    Status,
    TTLockBench,
    TTLockBenchDriver,
    TTLockStrategy,
    bench_from_params,
    check_bench,
    nightly_command,
)

RADIO_CONFIG = """lab: radio-bench
reports: {reports}
adapters:
  - {{name: hci1}}
devices:
  - {{name: front-door, kind: lock, model: v3-keypad, address: 'C1:23:45:67:89:AB', adapter: hci1}}
"""


def bench_target(config: Path, **params: str) -> tuple[Target, TTLockStrategy]:
    target = Target("bench")
    TTLockBench(target, None, config=str(config), **params)
    TTLockBenchDriver(target, None)
    strategy = TTLockStrategy(target, None)
    return target, strategy


def test_every_parameter_is_a_flat_scalar_with_a_default() -> None:
    bench = TTLockBench(None, None)
    assert (bench.host, bench.config, bench.adapter, bench.tier) == (
        "localhost",
        "hil-config.yaml",
        "",
        "virtual",
    )
    assert (bench.user, bench.command, bench.workdir, bench.suite) == ("", "ttlock-hil", "/tmp", "")
    # An exporter's YAML may leave a value empty (None) or give a number: both become text.
    assert TTLockBench(None, None, adapter=None, workdir=7).adapter == ""  # type: ignore[arg-type]


def test_this_pc_and_another_pc_are_told_apart() -> None:
    for host in ("localhost", "127.0.0.1", "", socket.gethostname()):
        assert TTLockBench(None, None, host=host).local, host
    assert not TTLockBench(None, None, host="bench-pc-7.lab").local


def test_parameters_an_exporter_publishes_build_a_bench_and_unknown_ones_are_ignored() -> None:
    bench = bench_from_params({"host": "pc2", "config": "/srv/b.yaml", "future": "x"})
    assert (bench.host, bench.config) == ("pc2", "/srv/b.yaml")


def test_the_nightly_command_here_is_this_python_and_there_the_benchs_command() -> None:
    here = TTLockBench(None, None, config="/b/hil.yaml", suite="/b/suite")
    assert nightly_command(here, "/out", ["-k", "unlock"], reruns=0) == [
        sys.executable,
        "-m",
        "ttlock_hil.harness.cli",
        "nightly",
        "--config",
        "/b/hil.yaml",
        "--out",
        "/out",
        "--tier",
        "virtual",
        "--reruns",
        "0",
        "--suite",
        "/b/suite",
        "--",
        "-k",
        "unlock",
    ]
    there = TTLockBench(None, None, host="pc2", command="/opt/venv/bin/ttlock-hil", tier="bluez")
    command = nightly_command(there, "/tmp/night")
    assert command[:2] == ["/opt/venv/bin/ttlock-hil", "nightly"]
    assert command[command.index("--tier") + 1] == "bluez"


def test_the_adapter_the_bench_names_must_be_one_its_config_lists(tmp_path: Path) -> None:
    config = write_bench(
        tmp_path, "radio", config_text=RADIO_CONFIG.format(reports=tmp_path / "reports")
    )
    assert check_bench(TTLockBench(None, None, config=str(config), adapter="hci1")).lab == (
        "radio-bench"
    )
    with pytest.raises(ConfigError, match=r"adapter 'hci0' is not listed.*fix: add '- name: hci0'"):
        check_bench(TTLockBench(None, None, config=str(config), adapter="hci0"))
    with pytest.raises(ConfigError, match="tier 'radio' is unknown"):
        check_bench(TTLockBench(None, None, config=str(config), tier="radio"))


def test_a_missing_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        check_bench(TTLockBench(None, None, config=str(tmp_path / "nope.yaml")))


async def test_the_strategy_brings_the_bench_to_ready_and_the_driver_gives_a_working_lab(
    tmp_path: Path,
) -> None:
    target, strategy = bench_target(write_bench(tmp_path, "bench-01"), suite="")
    assert strategy.status is Status.unknown
    strategy.transition("ready")
    assert strategy.status is Status.ready
    driver = target.get_driver("TTLockBenchDriver")
    assert driver.nightly_command(tmp_path / "out")[3] == "nightly"
    async with driver.lab(trace_dir=tmp_path / "traces") as lab:
        lock = lab.lock("front-door")
        await lock.init()
        await lock.unlock()
        status = await lock.status()
        assert 0 <= status.battery <= 100
    strategy.transition("unknown")
    assert strategy.status is Status.unknown
    target.cleanup()


def test_the_strategy_refuses_a_bench_whose_config_is_broken(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("lab: [\n", "utf-8")
    target, strategy = bench_target(config)
    with pytest.raises(ConfigError):
        strategy.transition("ready")
    assert strategy.status is Status.unknown
    target.cleanup()


def test_factory_is_not_built_yet_and_says_so(tmp_path: Path) -> None:
    target, strategy = bench_target(write_bench(tmp_path, "bench-01"))
    with pytest.raises(StrategyError, match=r"factory .* is not built yet"):
        strategy.transition("factory")
    target.cleanup()


def test_a_lab_is_given_only_on_the_pc_that_owns_the_benchs_radio(tmp_path: Path) -> None:
    target, strategy = bench_target(write_bench(tmp_path, "bench-01"), host="lab-pc-9")
    strategy.transition("ready")
    driver = target.get_driver("TTLockBenchDriver")
    with pytest.raises(LabgridError, match=r"radio is on lab-pc-9, not on this PC — fix: run"):
        driver.lab()
    assert driver.nightly_command("/tmp/n")[0] == "ttlock-hil"  # its night runs over there
    target.cleanup()
