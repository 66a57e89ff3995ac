"""ttlock-hil scan / lock: the virtual lab from the command line, one-line errors, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from bleak.backends.scanner import BaseBleakScanner

from ttlock_hil.harness.cli import main
from ttlock_hil.harness.config import default_config_path, load_config

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A copy of the default virtual lab whose reports and credentials stay in tmp_path."""
    target = tmp_path / "hil-config.yaml"
    shutil.copy(default_config_path(), target)
    return target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- scan ------------------------------------------------------------------------------------


def test_scan_lists_every_device_of_the_default_lab(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "scan")
    assert (code, err) == (0, "")
    names = {line.split()[0] for line in out.splitlines()}
    assert names == {d.name for d in load_config().devices}
    front = next(line for line in out.splitlines() if line.startswith("front-door"))
    assert "lock V3" in front
    assert "setting mode" in front
    assert "battery 80 %" in front
    g2 = next(line for line in out.splitlines() if line.startswith("gw-g2"))
    assert "gateway G2" in g2


def test_scan_json_carries_the_parsed_adverts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", "--json")
    assert code == 0
    found = {item["device"]: item for item in json.loads(out)}
    front = found["front-door"]
    assert front["advert"]["kind"] == "lock"
    assert front["advert"]["setting_mode"] is True
    assert front["advert"]["mac"] == front["address"]
    assert found["gw-g4"]["advert"]["gateway_type"] == "G4"
    assert "00001911-0000-1000-8000-00805f9b34fb" in found["gw-g4"]["service_uuids"]


def test_a_full_scan_lasts_its_duration(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    started = time.monotonic()
    code, out, _ = run(capsys, "scan", "--config", str(config_file), "--full", "--duration", "0.3")
    assert code == 0
    assert time.monotonic() - started >= 0.3
    assert "front-door" in out


@pytest.mark.parametrize("duration", ["0", "-1", "soon"])
def test_a_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str], duration: str) -> None:
    code, _, err = run(capsys, "scan", "--duration", duration)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: argument --duration")


def test_a_broken_config_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("lab: x\ndevices:\n  - {name: a, kind: lok, model: m, address: 'sim:m'}\n")
    code, out, err = run(capsys, "scan", "--config", str(broken))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith(f"error: {broken}:3: devices[0].kind")


class NoAdapterScanner(BaseBleakScanner):
    """What bleak's BlueZ backend does on a machine without D-Bus: FileNotFoundError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, None)

    async def start(self) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    async def stop(self) -> None:
        return None


def test_a_radio_lab_without_a_usable_adapter_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OS backend is chosen by bleak; point it at a scanner that fails like BlueZ does.
    import bleak

    monkeypatch.setattr(bleak, "get_platform_scanner_backend_type", lambda: (NoAdapterScanner, "x"))
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        "lab: bench\ndevices:\n"
        "  - {name: door, kind: lock, model: s202f, address: 'C1:23:45:67:89:AB'}\n"
    )
    code, _, err = run(capsys, "scan", "--config", str(bench), "--duration", "0.2")
    assert code == 3  # a device or link failure, not a usage error (2)
    assert err.count("\n") == 1
    assert err.startswith("error: Bluetooth is not usable")
    assert "fix:" in err


def test_the_installed_script_scans_the_virtual_lab() -> None:
    script = Path(sys.executable).with_name("ttlock-hil")
    done = subprocess.run(
        [str(script), "scan", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {item["device"] for item in json.loads(done.stdout)} >= {"front-door", "gw-g2"}


# --- lock ---------------------------------------------------------------------------------------


def lock_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "lock", *argv, "--json")
    assert (code, err) == (0, "")
    result: dict[str, Any] = json.loads(out)
    return result


def test_status_works_on_a_factory_fresh_virtual_lock(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    result = lock_json(capsys, "status", "--device", "front-door", "--config", str(config_file))
    assert result["state"] == "locked"
    assert result["setting_mode"] is True
    assert result["initialised"] is False
    assert Path(result["trace"]).is_relative_to(config_file.parent / "reports" / "traces")


def test_unlock_of_a_factory_fresh_lock_says_to_init_it_first(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    code, out, err = run(
        capsys, "lock", "unlock", "--device", "front-door", "--config", str(config_file)
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "setting mode" in err
    assert "every new process" in err
    assert "--init" in err


@pytest.mark.parametrize(("operation", "state"), [("unlock", "unlocked"), ("lock", "locked")])
def test_init_then_operate_stores_credentials(
    capsys: pytest.CaptureFixture[str], config_file: Path, operation: str, state: str
) -> None:
    result = lock_json(
        capsys, operation, "--device", "back-door", "--config", str(config_file), "--init"
    )
    assert result["initialised"] is True
    assert result["state"] == state
    assert result["setting_mode"] is False
    credentials = config_file.parent / "credentials" / "back-door.json"
    assert Path(result["credentials"]) == credentials
    assert credentials.stat().st_mode & 0o077 == 0


def test_text_output_names_state_battery_and_trace(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    code, out, _ = run(
        capsys, "lock", "unlock", "--device", "front-door", "--config", str(config_file), "--init"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("front-door: initialised; credentials saved to ")
    assert lines[1] == "front-door: unlocked (battery 80 %) after unlock"
    assert lines[2].startswith("  trace: ")


@pytest.mark.parametrize(
    ("device", "message"),
    [("front-dor", "did you mean 'front-door'?"), ("gw-g2", "is a gateway, not a lock")],
)
def test_wrong_device_names_are_config_errors(
    capsys: pytest.CaptureFixture[str], config_file: Path, device: str, message: str
) -> None:
    code, _, err = run(capsys, "lock", "status", "--device", device, "--config", str(config_file))
    assert code == 2
    assert err.count("\n") == 1
    assert message in err


def test_a_device_failure_is_one_line_with_code_advice_and_trace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Credentials naming a legacy (protocol 3) header: the session refuses the lock
    # as unsupported (code 11004) once it is connected, a TTLockError like any other.
    data = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    data["devices"] = [
        {
            "name": "old-door",
            "kind": "lock",
            "model": "v3-keypad",
            "address": "sim:v3-keypad",
            "credentials": "file:old-door.json",
        }
    ]
    config = tmp_path / "hil-config.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    creds = {
        "aes_key": "00112233445566778899aabbccddeeff",
        "admin_ps": 123456789,
        "unlock_key": 987654321,
        "header": "3.1.1.1.1",
    }
    (tmp_path / "old-door.json").write_text(json.dumps(creds), encoding="utf-8")
    (tmp_path / "old-door.json").chmod(0o600)
    code, out, err = run(capsys, "lock", "status", "--device", "old-door", "--config", str(config))
    assert (code, out) == (3, "")  # a device failure: exit 3
    assert err.count("\n") == 1
    assert err.startswith("error: old-door: failed with code 11004 UNSUPPORTED")
    assert "— advice: " in err
    assert f"— trace: {tmp_path / 'reports' / 'traces'}" in err


def test_a_failing_radio_adapter_does_not_hide_the_virtual_devices_of_a_mixed_lab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bleak

    monkeypatch.setattr(bleak, "get_platform_scanner_backend_type", lambda: (NoAdapterScanner, "x"))
    bench = tmp_path / "mixed.yaml"
    bench.write_text(
        "lab: mixed\ndevices:\n"
        "  - {name: sim-door, kind: lock, model: v3-keypad, address: 'sim:v3-keypad'}\n"
        "  - {name: door, kind: lock, model: s202f, address: 'C1:23:45:67:89:AB'}\n"
    )
    code, out, err = run(capsys, "scan", "--config", str(bench), "--duration", "0.5")
    assert code == 0
    assert "sim-door" in out  # the virtual device is still reported
    assert "warning: a scanner failed: Bluetooth is not usable" in err


@pytest.mark.parametrize("where", ["under-a-file", "a-directory"])
def test_record_where_no_cassette_can_go_is_refused_before_the_lock_is_touched(
    capsys: pytest.CaptureFixture[str], config_file: Path, where: str
) -> None:
    # Found in review: the unlock happened first and the bad --record failed after it.
    blocker = config_file.parent / "not-a-dir"
    blocker.write_text("x")
    target = blocker / "s.json" if where == "under-a-file" else config_file.parent
    argv = ["lock", "unlock", "--device", "back-door", "--config", str(config_file), "--init"]
    code, out, err = run(capsys, *argv, "--record", str(target))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "record: " in err
    assert "fix:" in err
    assert not (config_file.parent / "credentials" / "back-door.json").exists()
