"""A lab's own labgrid tests use our Lock API: labgrid's pytest plugin with ``--lg-env``.

labgrid's plugin aborts our plugin's in-process pytester runs, so the project runs with
``-p no:labgrid`` (pyproject.toml); here pytest runs in a subprocess with labgrid's plugin
loaded next to ours, against a place of a loopback coordinator (``RemotePlace``), the
place acquired as a lab does before its tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.labgrid.conftest import LabFactory
from tests.unit.labgrid.loopback import labgrid_env
from tests.unit.labgrid.test_lab_nightly import assert_all_let_go
from ttlock_hil.harness.labgrid.coordinator import place_reserved

ENV_YAML = """\
options:
  coordinator_address: {address}
imports:
  - ttlock_hil.harness.labgrid.bench
targets:
  main:
    resources:
      RemotePlace:
        name: bench-01
    drivers:
      TTLockBenchDriver: {{}}
      TTLockStrategy: {{}}
"""

LAB_TEST = """\
import pytest


@pytest.fixture
def bench(target, strategy):
    # labgrid drives its targets synchronously (RemotePlace runs an event loop of its own):
    # bring the bench to ready in a plain fixture, then use the Lock API in async tests.
    strategy.transition("ready")
    return target.get_driver("TTLockBenchDriver")


async def test_a_lock_of_the_place_through_our_api(bench, tmp_path):
    assert bench.bench.config.endswith("bench-01/hil-config.yaml")
    async with bench.lab(trace_dir=tmp_path) as lab:
        lock = lab.lock("front-door")
        await lock.init()
        await lock.unlock()
        status = await lock.status()
        assert 0 <= status.battery <= 100
"""

INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""


def test_labgrids_pytest_plugin_gives_a_ready_bench_whose_locks_answer(
    new_lab: LabFactory, tmp_path: Path
) -> None:
    lab = new_lab(benches=("bench-01",))
    project = tmp_path / "lab-project"
    project.mkdir()
    (project / "env.yaml").write_text(ENV_YAML.format(address=lab.address), "utf-8")
    (project / "test_bench.py").write_text(LAB_TEST, "utf-8")
    (project / "pytest.ini").write_text(INI, "utf-8")
    with place_reserved(lab.address, "bench-01"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-c",
                str(project / "pytest.ini"),
                f"--rootdir={project}",
                "-p",
                "no:cacheprovider",
                "--lg-env",
                str(project / "env.yaml"),
                "-v",
                str(project / "test_bench.py"),
            ],
            cwd=project,
            env=labgrid_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "labgrid-" in done.stdout  # labgrid's plugin was loaded, beside ours
    assert "ttlock-hil" in done.stdout
    assert "test_a_lock_of_the_place_through_our_api PASSED" in done.stdout
    assert_all_let_go(lab)
