"""No secret in an error of the record/replay feature, even a key pasted by mistake.

Each test here was a leak found by feeding the feature what a lab engineer might
(docs/replay.md): the key itself given to --credentials, a key file given as the
capture, a divergence of R1 in a list of passcodes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.replay import seeds
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.sim.replay import _normalised
from ttlock_hil.protocol.cassette import (
    Bindings,
    KeyUse,
    Notification,
    Template,
    TokenKind,
    TokenSpec,
)
from ttlock_hil.protocol.messages import (
    LogRecord,
    OperateLogReply,
    PasscodeListEntry,
    PasscodeListReply,
)
from ttlock_hil.protocol.messages._fields import LockDate

KEY = "00112233445566778899aabbccddeeff"


def one_error_line(err: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("ref", [KEY, f"hex:{KEY}", f"aes:{KEY}"])
def test_a_key_given_as_credentials_is_not_echoed(
    ref: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "paired.snoop"
    capture.write_bytes(seeds.paired_capture())
    argv = ["cassette", "import-btsnoop", str(capture), "--out", str(tmp_path / "c.json")]
    assert main([*argv, "--credentials", ref]) == 2
    err = capsys.readouterr().err
    one_error_line(err)
    assert KEY not in err
    assert "file:PATH or env:VAR" in err


def test_a_file_that_is_not_a_capture_is_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(bytes.fromhex(KEY))  # a key file given by mistake
    assert main(["cassette", "import-btsnoop", str(key_file), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    one_error_line(err)
    assert "not a btsnoop file" in err
    assert "DUfw" not in err  # repr of the key's bytes 44 55 66 77


def _passcode_list(code: str) -> bytes:
    entry = PasscodeListEntry(1, code, code, LockDate(2026, 1, 1))
    reply = PasscodeListReply(2 + len(entry.encode()), 0xFFFF, (entry,))
    return bytes([0x07, 1]) + reply.encode()


def test_an_r1_divergence_in_a_list_never_shows_its_passcodes() -> None:
    recorded, simulated = _passcode_list("135792"), _passcode_list("246801")
    note = Notification(
        kind="reply",
        at=0.0,
        header="5.3.1.1.1",
        encrypt=0xAA,
        key=KeyUse.LOCK,
        plaintext=Template.literal(recorded),
    )
    problem = _normalised(note, simulated, Bindings({}), 120.0)
    assert problem is not None
    assert problem.startswith("entries")
    assert "135792" not in problem
    assert "246801" not in problem


def _operate_log(passcode: bytes, battery: int) -> bytes:
    record = LogRecord(4, LockDate(2026, 1, 1, 12), battery, bytes([len(passcode)]) + passcode)
    reply = OperateLogReply(2 + len(record.encode()), 0, (record,))
    return bytes([0x25, 1]) + reply.encode()


def test_an_r1_divergence_never_shows_a_passcode_in_a_log_records_raw_tail() -> None:
    """The tail is raw bytes no layout marks secret; the recording made the passcode {s1}."""
    recorded, simulated = _operate_log(b"135792", 80), _operate_log(b"135792", 70)
    at = recorded.index(b"135792")
    template = Template((recorded[:at], "s1", recorded[at + 6 :]), {"s1": 6})
    bindings = Bindings({"s1": TokenSpec("s1", TokenKind.SECRET, 6, None, True, "unlock_key")})
    bindings.supply("s1", b"135792")
    note = Notification(
        kind="reply", at=0.0, header="5.3.1.1.1", encrypt=0xAA, key=KeyUse.LOCK, plaintext=template
    )
    problem = _normalised(note, simulated, bindings, 120.0)
    assert problem is not None
    assert problem.startswith("records differs")
    assert "135792" not in problem
    assert b"135792".hex() not in problem
