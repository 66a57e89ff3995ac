"""``ttlock-hil lab``'s command line, in process: tags, usage errors, labgrid missing."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from ttlock_hil.harness.cli import CliError, main
from ttlock_hil.harness.cli.lab_cmds import parse_tags
from ttlock_hil.harness.cli.nightly_cmds import labgrid_status
from ttlock_hil.harness.labgrid import (
    BenchNightFailed,
    BenchUnavailable,
    CoordinatorUnreachable,
    LabgridMissing,
    NoTaggedPlace,
    PlaceBusy,
    require_labgrid,
)
from ttlock_hil.harness.labgrid.coordinator import normalize_address

ROOT = Path(__file__).resolve().parents[3]


def test_tags_are_labgrids_key_value_pairs_and_default_to_ttlock_yes() -> None:
    assert parse_tags(None) == {"ttlock": "yes"}
    assert parse_tags(["ttlock=yes", "site=b_2"]) == {"ttlock": "yes", "site": "b_2"}
    for bad in ("ttlock", "Ttlock=yes", "t=yes", "ttlock=Yes!"):
        with pytest.raises(CliError, match="is not KEY=VALUE"):
            parse_tags([bad])


def test_the_coordinator_address_gets_labgrids_default_port() -> None:
    assert normalize_address("labhost") == "labhost:20408"
    assert normalize_address(" labhost:1234 ") == "labhost:1234"
    assert normalize_address("[::1]") == "[::1]:20408"
    assert normalize_address("[::1]:99") == "[::1]:99"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("labhost:99999", "no valid port"),
        ("labhost:0", "no valid port"),
        ("labhost:", "no valid port"),
        ("labhost:abc", "no valid port"),
        (":20408", "no host name"),
        ("a b:20408", "no host name"),
        ("::1", "without brackets"),
        ("fe80::1:20408", "without brackets"),
        ("[::1", "is not [IPv6]:PORT"),
        ("[]:20408", "is not [IPv6]:PORT"),
        ("[::1]:x", "no valid port"),
    ],
)
def test_an_address_that_cannot_be_one_is_a_usage_error_not_unreachable(
    address: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by hand: these were 'unreachable — fix: start labgrid-coordinator', exit 3."""
    assert main(["lab", "nightly", "--coordinator", address]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert problem in err
    assert "unreachable" not in err


@pytest.mark.parametrize("flag", ["--wait", "--bench-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_deadline_that_never_comes_is_a_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by hand: --wait nan waited in the queue for ever (nan compares false)."""
    assert main(["lab", "nightly", "--coordinator", "127.0.0.1:1", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{flag} must be a number of seconds, 0 or more" in err


def test_lab_nightly_needs_a_coordinator_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "nightly"]) == 2
    assert "--coordinator" in capsys.readouterr().err


def test_pytest_arguments_go_after_the_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "nightly", "--coordinator", "h:1", "unlock"]) == 2
    assert "error: unexpected arguments 'unlock' — fix: put pytest's after --" in (
        capsys.readouterr().err
    )
    assert main(["lab", "nightly", "--coordinator", "h:1", "--reruns", "-1"]) == 2
    assert "--reruns must be 0 or more" in capsys.readouterr().err


def test_without_labgrid_the_command_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "labgrid" else real(name, *a)
    )
    with pytest.raises(LabgridMissing):
        require_labgrid()
    assert main(["lab", "nightly", "--coordinator", "127.0.0.1:1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: labgrid is not installed — fix: pip install 'ttlock-hil[labgrid]' (labgrid 26.0.1)"
    )


def test_each_labgrid_failure_has_its_exit_status_and_one_line_with_a_fix() -> None:
    failures = [
        (PlaceBusy("bench-01", "pc/u"), 75),
        (CoordinatorUnreachable("h:1", "refused"), 3),
        (NoTaggedPlace("h:1", {"ttlock": "yes"}, []), 2),
        (BenchUnavailable("bench-03", "exporter gone"), 2),
        (BenchNightFailed("bench-02", "no results"), 2),
        (LabgridMissing(), 2),
    ]
    for error, status in failures:
        assert labgrid_status(error) == status
        text = str(error)
        assert "\n" not in text
        assert " — fix: " in text


def test_the_project_runs_its_tests_without_labgrids_pytest_plugin() -> None:
    """labgrid's plugin breaks our plugin's in-process pytester runs (docs/labgrid.md §7)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    addopts = project["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert addopts[addopts.index("no:labgrid") - 1 :][:2] == ["-p", "no:labgrid"]
    assert "labgrid==26.0.1" in project["project"]["optional-dependencies"]["labgrid"]
    assert "labgrid==26.0.1" in project["project"]["optional-dependencies"]["dev"]


@pytest.mark.parametrize("wait", [float("nan"), -1.0])
def test_a_wait_in_the_queue_that_never_ends_is_refused_before_connecting(wait: float) -> None:
    """Found by reading: nightly --coordinator --wait nan waited for a busy place for ever
    (a nan deadline is never passed); it failed only as 'unreachable' here."""
    from ttlock_hil.harness.labgrid import LabgridError
    from ttlock_hil.harness.labgrid.coordinator import place_reserved

    with (
        pytest.raises(LabgridError, match="is not a number of seconds"),
        place_reserved("127.0.0.1:1", "bench-01", wait_s=wait),
    ):
        pass
