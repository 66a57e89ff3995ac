"""The distribution as a lab installs it: one import name, the plugin and the nightly from a wheel.

A wheel is built from this checkout and installed **non-editable** into a fresh
virtualenv, next to a throwaway lab project that has packages of its own called
``harness``, ``protocol`` and ``fixtures`` (all three are names other projects use;
``fixtures`` is a well-known testing library). pytest in that project must load our
plugin and pass a HIL test against the virtual lab, and ``ttlock-hil nightly`` from
the install must write a complete report with no checkout anywhere in sight.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
_INSTALL_TIMEOUT_S = 600


# --------------------------------------------------------------------- the declared layout


def test_every_package_folder_is_declared_under_the_one_import_name() -> None:
    declared = set(SETUPTOOLS["packages"])
    mapping: dict[str, str] = SETUPTOOLS["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    assert found == declared
    assert all(name == "ttlock_hil" or name.startswith("ttlock_hil.") for name in declared)


def test_the_design_cards_folders_stay_at_the_repository_root() -> None:
    mapping = SETUPTOOLS["package-dir"]
    assert mapping["ttlock_hil.protocol"] == "protocol"
    assert mapping["ttlock_hil.harness"] == "harness"
    assert mapping["ttlock_hil.fixtures"] == "fixtures"
    assert mapping["ttlock_hil.suite"] == "tests/hil"


def test_the_suites_own_settings_match_the_projects() -> None:
    """tests/hil/suite.ini (the nightly's) and pyproject.toml (make test's) agree."""
    suite = configparser.ConfigParser()
    suite.read(ROOT / "tests" / "hil" / "suite.ini", encoding="utf-8")
    ours = PYPROJECT["tool"]["pytest"]["ini_options"]
    for key in (
        "asyncio_mode",
        "asyncio_default_fixture_loop_scope",
        "asyncio_default_test_loop_scope",
    ):
        assert suite["pytest"][key] == ours[key], key
    assert (ROOT / "tests" / "hil" / suite["pytest"]["hil_expectations"]).resolve() == (
        ROOT / ours["hil_expectations"]
    ).resolve()
    assert set(suite["pytest"]["addopts"].split()) <= set(ours["addopts"].split())


# --------------------------------------------------------------------- the wheel, installed


@dataclass(frozen=True)
class Install:
    wheel: Path
    python: Path
    cli: Path
    lab: Path  # the throwaway lab project (its own harness/, protocol/, fixtures/)

    def run(self, *args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPATH", None)
        return subprocess.run(
            [str(a) for a in args],
            cwd=self.lab,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _must(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )


LAB_TEST = """
from harness import OWNER as HARNESS_OWNER
from protocol import OWNER as PROTOCOL_OWNER
from fixtures import OWNER as FIXTURES_OWNER


async def test_the_lab_packages_and_ours_live_side_by_side(lock):
    assert (HARNESS_OWNER, PROTOCOL_OWNER, FIXTURES_OWNER) == ("lab", "lab", "lab")
    status = await lock.status()
    assert 0 <= status.battery <= 100
"""


def _lab_project(where: Path) -> Path:
    lab = where / "lab-project"
    for name in ("harness", "protocol", "fixtures"):
        (lab / name).mkdir(parents=True)
        (lab / name / "__init__.py").write_text('OWNER = "lab"\n', "utf-8")
    (lab / "tests").mkdir()
    (lab / "tests" / "test_front_door.py").write_text(LAB_TEST, "utf-8")
    (lab / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "pythonpath = .\ntestpaths = tests\nhil_config = hil-config.yaml\n",
        "utf-8",
    )
    (lab / "hil-config.yaml").write_text(
        "lab: packaging-lab\n"
        "devices:\n"
        "  - {name: front-door, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n",
        "utf-8",
    )
    return lab


_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "reports",
    "credentials",
    "bench",
    "tests",
)
"""What the wheel is not built from: built and cached files, a run's reports and secrets
(setuptools takes the suite from ``tests/hil``, copied on its own)."""


@contextmanager
def _exclusive(lock: Path, timeout: float) -> Iterator[None]:
    """One process at a time (xdist workers of one run): a lock file created exclusively."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} held for {timeout:g} s") from None
            time.sleep(0.2)
    try:
        yield
    finally:
        os.close(handle)
        lock.unlink()


def _build_and_install(where: Path) -> tuple[Path, Path]:
    """Build the wheel from a copy of the source tree and install it into a new venv.

    A copy: ``pip wheel`` on the checkout itself writes ``build/`` and ``*.egg-info``
    there, and two builds at once (two xdist workers, two engineers) break each other.
    """
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    shutil.copytree(ROOT / "tests" / "hil", source / "tests" / "hil", ignore=_NOT_SOURCE)
    dist = where / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )
    _must(built, "building the wheel")
    (wheel,) = dist.glob("ttlock_hil-*.whl")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )
    _must(installed, "installing the wheel (needs the package registry for its dependencies)")
    return wheel, bin_dir


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """The wheel, built and installed once per run (shared by the run's xdist workers, as
    xdist documents), and a lab project of this process's own."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    where = shared / "packaging-install"
    with _exclusive(shared / "packaging-install.lock", 3 * _INSTALL_TIMEOUT_S):
        if not (where / "ready").exists():
            shutil.rmtree(where, ignore_errors=True)  # a build that failed half-way
            where.mkdir()
            wheel, bin_dir = _build_and_install(where)
            (where / "ready").write_text(f"{wheel}\n{bin_dir}\n", encoding="utf-8")
    wheel_text, bin_text = (where / "ready").read_text(encoding="utf-8").splitlines()
    bin_dir = Path(bin_text)
    lab = _lab_project(tmp_path_factory.mktemp("packaging-lab"))
    return Install(Path(wheel_text), bin_dir / "python", bin_dir / "ttlock-hil", lab)


def test_the_wheel_ships_only_the_one_import_name(install: Install) -> None:
    with zipfile.ZipFile(install.wheel) as wheel:
        tops = {name.split("/", 1)[0] for name in wheel.namelist()}
        names = set(wheel.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ttlock_hil"}
    for shipped in (
        "ttlock_hil/suite/expectations.yaml",
        "ttlock_hil/suite/suite.ini",
        "ttlock_hil/suite/conftest.py",
        "ttlock_hil/protocol/data/error_codes.json",
        "ttlock_hil/harness/data/default-hil-config.yaml",
        "ttlock_hil/py.typed",
    ):
        assert shipped in names, shipped


def test_the_installed_package_is_not_the_checkout(install: Install) -> None:
    where = install.run(install.python, "-c", "import ttlock_hil.harness as h; print(h.__file__)")
    _must(where, "importing the installed package")
    assert not Path(where.stdout.strip()).resolve().is_relative_to(ROOT)


def test_pytest_in_a_lab_project_loads_the_plugin_beside_the_labs_own_packages(
    install: Install,
) -> None:
    run = install.run(install.python, "-m", "pytest", "-p", "no:cacheprovider", "-v")
    _must(run, "pytest in the lab project")
    assert "test_the_lab_packages_and_ours_live_side_by_side[front-door" in run.stdout
    assert "1 passed" in run.stdout, run.stdout


def test_the_nightly_runs_from_the_wheel_and_writes_a_complete_report(install: Install) -> None:
    out = install.lab / "nights"
    run = install.run(install.cli, "nightly", "--out", out, timeout=600)
    _must(run, "ttlock-hil nightly from the wheel")
    (night,) = [d for d in out.iterdir() if d.is_dir()]
    for name in ("report.html", "results.json", "diff.json", "junit.xml"):
        assert (night / name).is_file(), name
    results = json.loads((night / "results.json").read_text("utf-8"))
    assert results["complete"] is True
    outcomes = {r["outcome"] for r in results["results"]}
    assert "passed" in outcomes
    assert "failed" not in outcomes
    assert len(results["results"]) > 300
    assert results["git_sha"] is None  # an installed wheel has no commit to report


def test_version_from_the_wheel_names_the_version_and_no_commit(install: Install) -> None:
    run = install.run(install.cli, "--version")
    _must(run, "ttlock-hil --version")
    version = install.wheel.name.split("-")[1]
    assert run.stdout.strip() == f"ttlock-hil {version}"
