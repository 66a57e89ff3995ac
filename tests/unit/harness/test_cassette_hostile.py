"""Cassettes and captures under hostile input: one error with the fix, no traceback.

Each test here was a defect found by feeding the record/replay feature what a lab
engineer might (docs/replay.md): a capture with odd timestamps, a record path under a
file, a hand-edited cassette.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.replay import seeds
from ttlock_hil.harness.cassette import (
    MAX_CASSETTE_BYTES,
    import_btsnoop,
    load_cassette,
    save_cassette,
)
from ttlock_hil.harness.cli import main
from ttlock_hil.harness.errors import ConfigError
from ttlock_hil.harness.sim.replay import replay_in_simulator


def _restamped(capture: bytes, stamp: int) -> bytes:
    """The capture with every record's timestamp set to ``stamp``."""
    out, offset = bytearray(capture[:16]), 16
    while offset < len(capture):
        original, included, flags, drops, _ = struct.unpack_from(">IIIIQ", capture, offset)
        out += struct.pack(">IIIIQ", original, included, flags, drops, stamp)
        out += capture[offset + 24 : offset + 24 + included]
        offset += 24 + included
    return bytes(out)


YEAR_946 = 0x00E03AB44A676000 - 33_418_000_000_000_000  # what a damaged record held


@pytest.mark.parametrize("stamp", [0, 2**64 - 1, YEAR_946])
def test_a_capture_with_timestamps_out_of_range_still_imports(stamp: int) -> None:
    cassette = import_btsnoop(_restamped(seeds.init_capture(), stamp))
    assert [i.command for i in cassette.interactions] == [0x19, 0x56, 0x43]
    assert all(i.clock is None for i in cassette.interactions)
    assert all(r.ok for r in replay_in_simulator(cassette))  # and R1 replays it


def test_a_cassette_under_a_file_is_a_config_error(tmp_path: Path) -> None:
    cassette = import_btsnoop(seeds.init_capture())
    blocker = tmp_path / "reports"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ConfigError, match="is not a directory"):
        save_cassette(blocker / "cassettes" / "front-door.json", cassette)


def _edited(tmp_path: Path, change: Callable[[Any], object]) -> Path:
    data = json.loads(import_btsnoop(seeds.init_capture()).dumps())
    change(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


EDITS = {
    "n": lambda d: d["connections"][0].__setitem__("n", float("inf")),
    "clock": lambda d: d["interactions"][0].__setitem__("clock", 5),
    "clock-text": lambda d: d["interactions"][0].__setitem__("clock", "yesterday"),
    "clock-year": lambda d: d["interactions"][0].__setitem__("clock", "0946-09-25T05:16:58"),
    "device-header": lambda d: d["device"].__setitem__("header", 5),
    "request-header": lambda d: d["interactions"][0]["request"].__setitem__("header", "zz"),
    "reply-header": lambda d: d["interactions"][0]["notifications"][0].__setitem__("header", "zz"),
    "opcode": lambda d: d["interactions"][0].__setitem__("opcode", "0x1ff"),
    "encrypt": lambda d: d["interactions"][0]["notifications"][0].__setitem__("encrypt", "0x1ff"),
    "key-size": lambda d: d["tokens"]["aes_key"].__setitem__("bytes", 3),
    "latency": lambda d: d["interactions"][0].__setitem__("latency", []),
    "code": lambda d: d["interactions"][0].__setitem__("code", "0"),
    "preset": lambda d: d["device"].__setitem__("preset", 7),
    "battery": lambda d: d["connections"][0].__setitem__("battery", "full"),
    "random-size": lambda d: d["random"][0].__setitem__("hex", "ff"),
    "sum-of": lambda d: d["tokens"].__setitem__("sum9", {"kind": "sum", "bytes": 4, "of": {}}),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_hand_edited_cassette_is_refused_when_loaded(edit: str, tmp_path: Path) -> None:
    """Not a traceback later, in the middle of a replay."""
    with pytest.raises(ConfigError, match=r"interaction 1|connections|device|tokens|random"):
        load_cassette(_edited(tmp_path, EDITS[edit]))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as out:
        out.truncate(MAX_CASSETTE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ConfigError, match="more than a cassette holds"):
        load_cassette(huge)


def test_an_import_never_writes_over_its_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "app.btsnoop"
    capture.write_bytes(seeds.init_capture())
    before = capture.read_bytes()
    assert main(["cassette", "import-btsnoop", str(capture), "--out", str(capture)]) == 2
    assert "is the capture itself" in capsys.readouterr().err
    assert capture.read_bytes() == before
