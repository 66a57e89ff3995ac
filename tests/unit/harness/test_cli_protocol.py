"""``ttlock-hil crc`` and ``frame encode|decode`` against every golden vector."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from ttlock_hil.harness.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _opcode(vector_id: str) -> str:
    match = re.search(r"0x([0-9a-f]{2})", vector_id)
    assert match
    return "0x" + match.group(1)


def test_crc_of_every_crc_vector(
    capsys: pytest.CaptureFixture[str], vectors: list[dict[str, Any]]
) -> None:
    for v in (v for v in vectors if v["category"] == "crc"):
        status, out, _ = run(capsys, "crc", v["input_hex"])
        assert (status, out) == (0, v["expected_hex"] + "\n"), v["id"]


def test_frame_encode_of_every_lock_request_vector(
    capsys: pytest.CaptureFixture[str], vectors: list[dict[str, Any]]
) -> None:
    checked = 0
    for v in (v for v in vectors if v["category"] == "frame"):
        inputs = v["input"]
        header = ".".join(str(x) for x in inputs["lock_version"])
        status, out, err = run(
            capsys,
            "frame",
            "encode",
            "--command",
            _opcode(v["id"]),
            "--plaintext",
            inputs["plaintext_hex"],
            "--key",
            inputs["aes_key_hex"],
            "--header",
            header,
        )
        assert status == 0, err
        assert out.strip() == v["expected_hex"], v["id"]
        checked += 1
    assert checked == 22


def test_frame_decode_of_every_lock_request_vector(
    capsys: pytest.CaptureFixture[str], vectors: list[dict[str, Any]]
) -> None:
    for v in (v for v in vectors if v["category"] == "frame"):
        inputs = v["input"]
        status, out, _ = run(
            capsys, "frame", "decode", v["wire_hex"], "--key", inputs["aes_key_hex"], "--json"
        )
        assert status == 0
        (obj,) = json.loads(out)
        ptype, sub, scene, org, suborg = inputs["lock_version"]
        assert obj["kind"] == "lock"
        assert (obj["protocol_type"], obj["sub_version"], obj["scene"]) == (ptype, sub, scene)
        assert (obj["organization"], obj["sub_organization"]) == (org, suborg)
        assert obj["command"] == int(_opcode(v["id"]), 16)
        assert obj["encrypt"] == 0xAA
        assert obj["crc"] == int(v["expected_hex"][-2:], 16)
        assert obj["crc_ok"] is True
        assert obj["plaintext"] == inputs["plaintext_hex"]
        assert obj["length"] == len(bytes.fromhex(obj["payload"]))
        assert obj["reply"] is None


def test_frame_decode_of_all_response_vectors_at_once(
    capsys: pytest.CaptureFixture[str], vectors: list[dict[str, Any]]
) -> None:
    responses = [v for v in vectors if v["category"] == "response"]
    keys = {v["input"]["aes_key_hex"] for v in responses}
    for key in keys:
        batch = [v for v in responses if v["input"]["aes_key_hex"] == key]
        capture = "".join(v["wire_hex"] for v in batch)
        status, out, _ = run(capsys, "frame", "decode", capture, "--key", key, "--json")
        assert status == 0
        decoded = json.loads(out)
        assert len(decoded) == len(batch)
        for v, obj in zip(batch, decoded, strict=True):
            plaintext = v["input"]["plaintext_hex"]
            assert obj["plaintext"] == plaintext
            assert obj["reply"]["command"] == int(plaintext[:2], 16)
            assert obj["reply"]["status"] == int(plaintext[2:4], 16)
            assert obj["reply"]["data"] == plaintext[4:]


def test_double_locked_reply_reports_error_code_30(
    capsys: pytest.CaptureFixture[str], vectors_by_id: dict[str, Any]
) -> None:
    v = vectors_by_id["response.unlock_fail_double_locked_0x1e"]
    status, out, _ = run(
        capsys, "frame", "decode", v["frame_hex"], "--key", v["input"]["aes_key_hex"], "--json"
    )
    assert status == 0
    reply = json.loads(out)[0]["reply"]
    assert (reply["command"], reply["status"], reply["error_code"]) == (0x47, 0, 30)


def test_gateway_vectors_encode_and_decode(
    capsys: pytest.CaptureFixture[str], vectors_by_id: dict[str, Any]
) -> None:
    mac = vectors_by_id["gateway.session_key"]["input"]["mac"]
    for vid, plaintext in (
        ("gateway.echo_0x45_SCIENER", b"SCIENER".hex()),
        ("gateway.config_wifi_0x02", vectors_by_id["gateway.config_wifi_0x02"]["plaintext_hex"]),
        (
            "gateway.config_server_0x03",
            vectors_by_id["gateway.config_server_0x03"]["plaintext_hex"],
        ),
    ):
        v = vectors_by_id[vid]
        status, out, _ = run(
            capsys,
            "frame",
            "encode",
            "--command",
            _opcode(vid),
            "--plaintext",
            plaintext,
            "--gateway-mac",
            mac,
        )
        assert (status, out.strip()) == (0, v["expected_hex"])
        status, out, _ = run(
            capsys,
            "frame",
            "encode",
            "--command",
            _opcode(vid),
            "--plaintext",
            plaintext,
            "--gateway",
            "--key",
            v["session_key_hex"],
        )
        assert (status, out.strip()) == (0, v["expected_hex"])
        for key_args in (["--gateway-mac", mac], ["--key", v["session_key_hex"]]):
            status, out, _ = run(capsys, "frame", "decode", v["expected_hex"], *key_args, "--json")
            obj = json.loads(out)[0]
            assert (status, obj["kind"], obj["plaintext"]) == (0, "gateway", plaintext)
            assert obj["crc_ok"] is True


def test_legacy_frame_vector_encodes_and_decodes(
    capsys: pytest.CaptureFixture[str], vectors_by_id: dict[str, Any]
) -> None:
    v = vectors_by_id["v2.frame.0x14.seed42"]
    status, out, _ = run(
        capsys,
        "frame",
        "encode",
        "--command",
        "0x14",
        "--plaintext",
        b"SCIENER".hex(),
        "--header",
        "3",
        "--seed",
        "42",
    )
    assert (status, out.strip() + "0d0a") == (0, v["wire_hex"])
    status, out, _ = run(capsys, "frame", "decode", v["wire_hex"], "--json")
    obj = json.loads(out)[0]
    assert (obj["kind"], obj["protocol_type"], obj["encrypt"]) == ("lock-legacy", 3, 42)
    assert obj["plaintext"] == b"SCIENER".hex()


def test_decode_reports_a_bad_crc_but_still_shows_the_frame(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "frame", "decode", "7f5a0503010001000145aa00ff", "--json")
    obj = json.loads(out)[0]
    assert status == 0
    assert (obj["crc"], obj["crc_ok"], obj["command"]) == (0xFF, False, 0x45)


def test_decode_without_key_leaves_plaintext_null(capsys: pytest.CaptureFixture[str]) -> None:
    frame = "7f5a0503010001000114aa1024a0a4d9c48635ec680c69627b3f3e49d2"
    status, out, _ = run(capsys, "frame", "decode", frame, "--json")
    assert status == 0
    assert json.loads(out)[0]["plaintext"] is None
    status, out, _ = run(capsys, "frame", "decode", frame)
    assert status == 0
    assert "give --key" in out


def test_decode_with_the_wrong_key_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    frame = "7f5a0503010001000114aa1024a0a4d9c48635ec680c69627b3f3e49d2"
    status, out, _ = run(capsys, "frame", "decode", frame, "--key", "00" * 16, "--json")
    obj = json.loads(out)[0]
    assert status == 0
    assert obj["plaintext"] is None
    assert "key" in obj["decrypt_error"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["crc", "zz"], "not a hex digit"),
        (["crc", "abc"], "odd number"),
        (["frame", "decode", "0102"], "byte 0"),
        (["frame", "decode", "7f5a0503010001000145aa00b30d0a7f5a05"], "byte 15"),
        (["frame", "decode", "7f5a0503010001000145aa00b3ff"], "byte 13"),
        (["frame", "decode", "7f5a05030100010001", "--json"], "cut short"),
        (["frame", "encode", "--command", "0x147", "--plaintext", ""], "one byte"),
        (["frame", "encode", "--command", "x", "--plaintext", ""], "not a number"),
        (["frame", "encode", "--command", "1", "--plaintext", "", "--key", "00"], "16 bytes"),
        (["frame", "encode", "--command", "1", "--plaintext", "", "--header", "3"], "--seed"),
        (["frame", "encode", "--command", "1", "--plaintext", "", "--header", "5.q"], "header"),
        (["frame", "encode", "--command", "1", "--plaintext", "", "--gateway"], "--key"),
        (["frame", "encode", "--command", "1", "--plaintext", "00" * 256], "255"),
        (["frame", "encode", "--plaintext", "00"], "--command"),
        (["frame", "decode", "725b4500", "--gateway-mac", "AA:BB"], "MAC"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert message in error_lines[0]
    assert "Traceback" not in err


_CLI = (sys.executable, "-m", "ttlock_hil.harness.cli")


def test_installed_script_round_trips_a_frame() -> None:
    encoded = subprocess.run(
        [*_CLI, "frame", "encode", "--command", "0x45", "--plaintext", ""],
        capture_output=True,
        text=True,
        check=True,
    )
    assert encoded.stdout.strip() == "7f5a0503010001000145aa00b3"
    bad = subprocess.run(
        [*_CLI, "frame", "decode", "nothex"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:")
    assert "Traceback" not in bad.stderr
