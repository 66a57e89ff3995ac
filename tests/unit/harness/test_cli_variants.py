"""ttlock-hil lock/scan on firmware variants: a ``sim:<preset>_<variant>`` device from the CLI.

Variants are resolved by the simulator's presets, so the config pytest accepts
is the config the command line accepts (docs/architecture.md §5, §7).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ttlock_hil.harness.cli import main
from ttlock_hil.harness.config import default_config_path


def lab_with(tmp_path: Path, address: str) -> Path:
    """The default virtual lab with one lock, ``door``, at ``address``."""
    data = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    data["devices"] = [
        {"name": "door", "kind": "lock", "model": "v3-keypad", "address": address},
    ]
    path = tmp_path / "hil-config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lock_status_works_on_a_firmware_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = lab_with(tmp_path, "sim:v3-keypad_unlock-refusal-2")
    code, out, err = run(
        capsys, "lock", "status", "--device", "door", "--config", str(config), "--json"
    )
    assert (code, err) == (0, "")
    result: dict[str, Any] = json.loads(out)
    assert (result["state"], result["setting_mode"]) == ("locked", True)


def test_a_variant_lock_unlocks_after_init_from_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The variant changes only the refusal without a login; a logged-in unlock still opens.
    config = lab_with(tmp_path, "sim:v3-keypad_unlock-refusal-2")
    code, out, err = run(
        capsys, "lock", "unlock", "--device", "door", "--config", str(config), "--init", "--json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["state"] == "unlocked"


def test_scan_sees_a_firmware_variant(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = lab_with(tmp_path, "sim:v3-keypad_passcode-delete-19")
    code, out, err = run(capsys, "scan", "--config", str(config), "--json")
    assert (code, err) == (0, "")
    assert [item["device"] for item in json.loads(out)] == ["door"]


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("sim:v3-keypad_unlock-refusal-3", ["unlock-refusal-3", "did you mean 'unlock-refusal-2'"]),
        ("sim:v3-keypd", ["'v3-keypd'", "did you mean 'v3-keypad'"]),
        ("sim:v3-keypd_unlock-refusal-2", ["'v3-keypd'", "did you mean 'v3-keypad'"]),
    ],
)
@pytest.mark.parametrize("command", ["lock", "scan"])
def test_an_unknown_preset_or_variant_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, address: str, words: list[str], command: str
) -> None:
    config = lab_with(tmp_path, address)
    argv = ["lock", "status", "--device", "door"] if command == "lock" else ["scan"]
    code, out, err = run(capsys, *argv, "--config", str(config))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {config}")
    for word in words:
        assert word in err
