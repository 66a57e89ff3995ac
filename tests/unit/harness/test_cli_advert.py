"""``ttlock-hil advert decode`` against the golden advertisement vectors (docs/protocol.md §6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ttlock_hil.harness.cli import main

CONTRACT_KEYS = {
    "kind",
    "protocol_type",
    "protocol_version",
    "scene",
    "unlocked",
    "has_events",
    "setting_mode",
    "touch",
    "dormant",
    "battery",
    "mac",
}

# Expected fields per vector, read off the §6 layout by hand (see test_advert.py).
EXPECTED: dict[str, dict[str, Any]] = {
    "adv.synthetic_v3_unlocked_events_62pct": {
        "kind": "lock",
        "protocol_type": 5,
        "protocol_version": 3,
        "scene": 2,
        "unlocked": True,
        "has_events": True,
        "setting_mode": False,
        "touch": False,
        "dormant": False,
        "battery": 62,
        "mac": "AA:BB:CC:DD:EE:FF",
    },
    "adv.synthetic_setting_mode": {
        "kind": "lock",
        "protocol_type": 5,
        "protocol_version": 3,
        "scene": 2,
        "unlocked": False,
        "has_events": False,
        "setting_mode": True,
        "touch": False,
        "dormant": False,
        "battery": 62,
        "mac": "AA:BB:CC:DD:EE:FF",
    },
    "adv.dfu_18_25": {
        "kind": "dfu",
        "protocol_type": 0x12,
        "protocol_version": 0x19,
        "scene": None,
        "unlocked": None,
        "has_events": None,
        "setting_mode": None,
        "touch": None,
        "dormant": None,
        "battery": None,
        "mac": "00:00:00:00:00:00",
    },
}


# The installed console script, as a user (or another tool) runs it.
SCRIPT = Path(sys.executable).with_name("ttlock-hil")


def decode_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["advert", "decode", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("vector_id", sorted(EXPECTED))
def test_decode_json_matches_each_vector(
    vector_id: str,
    vectors_by_id: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = decode_json(capsys, vectors_by_id[vector_id]["manufacturer_data_hex"])
    assert result.keys() >= CONTRACT_KEYS
    assert {key: result[key] for key in CONTRACT_KEYS} == EXPECTED[vector_id]


def test_every_advert_vector_is_covered(vectors: list[dict[str, Any]]) -> None:
    assert {v["id"] for v in vectors if v["category"] == "advertisement"} == set(EXPECTED)


def test_decode_with_bleak_company_id(
    vectors_by_id: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    vector = vectors_by_id["adv.synthetic_v3_unlocked_events_62pct"]
    rest = vector["manufacturer_data_hex"][4:]
    result = decode_json(capsys, "--company-id", vector["bleak_company_id"], rest)
    assert result["mac"] == "AA:BB:CC:DD:EE:FF"
    assert result["lock_type"] == "V3"


def test_decode_accepts_separators_and_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    result = decode_json(capsys, "0x05:03:02:03:3e:00:00:00:00:ff:ee:dd:cc:bb:aa")
    assert result["battery"] == 62


def test_readable_summary_of_the_real_dormant_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advert", "decode", "0503021240b000f4f953657f8a43b9f0f7"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "lock V3 (protocol 5.3), scene 2: room lock"
    assert "unknown (lock dormant)" in out
    assert "64 %" in out
    assert "F7:F0:B9:43:8A:7F" in out


def test_readable_summary_of_a_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advert", "decode", "1119ffeeddccbbaa"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["gateway G2", "  MAC          AA:BB:CC:DD:EE:FF"]


def test_readable_summary_of_a_lock_without_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advert", "decode", "0501000005010002"]) == 0
    out = capsys.readouterr().out
    assert "lock V2S" in out
    assert "not advertised" in out


@pytest.mark.parametrize(
    ("hex_text", "message"),
    [
        ("zz", "is not hex"),
        ("050", "is not hex"),
        ("05", "too short"),
        ("050302", "battery"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(
    hex_text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["advert", "decode", hex_text, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def test_bad_company_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advert", "decode", "--company-id", "0x10000", "00"]) == 2
    assert "error: argument --company-id" in capsys.readouterr().err


def test_decode_as_a_subprocess(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    vector = vectors_by_id["adv.synthetic_v3_unlocked_events_62pct"]
    done = subprocess.run(
        [
            str(SCRIPT),
            "advert",
            "decode",
            vector["manufacturer_data_hex"],
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {key: result[key] for key in CONTRACT_KEYS} == EXPECTED[vector["id"]]


def test_subprocess_bad_hex_exits_2_without_traceback() -> None:
    done = subprocess.run(
        [str(SCRIPT), "advert", "decode", "xyz"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
