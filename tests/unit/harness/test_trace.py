"""harness.trace: JSON-lines frame traces, and redaction of every form of every secret."""

from __future__ import annotations

import base64
import gc
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ttlock_hil.harness import trace as trace_module
from ttlock_hil.harness.trace import (
    FLUSH_LINES,
    REDACTED,
    Direction,
    FrameTrace,
    Redactor,
    decode_frame,
    read_trace,
)
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY
from ttlock_hil.protocol.frame import (
    LOCK_TRAILER,
    LockFrame,
    encode_gateway_command,
    encode_lock_command,
    parse_frame,
)

from .secret_sample import (
    ADMIN_PS,
    CHECK_SUM,
    KEY,
    PASSCODE,
    UNLOCK_KEY,
    WIFI_PASSWORD,
    every_secret_form,
    run_redactor,
)


def write_session_full_of_secrets(path: Path, redactor: Redactor) -> None:
    add_admin_plain = ADMIN_PS.to_bytes(4, "big") + UNLOCK_KEY.to_bytes(4, "big") + b"SCIENER"
    passcode_plain = bytes([2, 1, len(PASSCODE)]) + PASSCODE.encode() + bytes(5)
    with FrameTrace(path, device="front-door", redactor=redactor) as trace:
        trace.event("connect", address="C1:23:45:67:89:AB", note=f"key {KEY.hex()}")
        # GET_AES_KEY reply: the new key, encrypted with the public default key.
        reply = encode_lock_command(LockCommand.RESPONSE, b"\x19\x01" + KEY, DEFAULT_LOCK_KEY)
        trace.rx(
            reply + LOCK_TRAILER,
            command=LockCommand.GET_AES_KEY,
            decoded={"status": 1, "plaintext": (b"\x19\x01" + KEY).hex(), "key": KEY},
        )
        trace.tx(
            encode_lock_command(LockCommand.ADD_ADMIN, add_admin_plain, KEY),
            command=LockCommand.ADD_ADMIN,
            decoded={
                "plaintext": add_admin_plain,
                "admin_ps": ADMIN_PS,
                "fields": [{"value": UNLOCK_KEY}, f"unlock={UNLOCK_KEY:#x}"],
            },
        )
        trace.tx(
            encode_lock_command(LockCommand.CHECK_RANDOM, CHECK_SUM.to_bytes(4, "big"), KEY),
            command=LockCommand.CHECK_RANDOM,
            decoded={"plaintext": CHECK_SUM.to_bytes(4, "big").hex()},
        )
        trace.tx(
            encode_lock_command(LockCommand.MANAGE_KEYBOARD_PASSWORD, passcode_plain, KEY),
            command=LockCommand.MANAGE_KEYBOARD_PASSWORD,
            decoded={"plaintext": passcode_plain, "new_passcode": PASSCODE},
        )
        # A frame that is not secret-bearing still gets its strings scrubbed.
        trace.rx(
            encode_lock_command(LockCommand.RESPONSE, b"\x14\x01\x2d\x00", KEY),
            command=LockCommand.SEARCH_STATUS,
            decoded={
                "battery": 45,
                "comment": f"admin {ADMIN_PS:010d} sum {CHECK_SUM} pin {PASSCODE}",
                "blob": KEY.hex(" ").upper(),
                "repr": repr(KEY),
                "b64": base64.b64encode(KEY).decode(),
                KEY.hex(): "a key used as a dict key",
                "le": UNLOCK_KEY.to_bytes(4, "little").hex(),
            },
        )
        trace.event(
            "assertion",
            verdict="fail",
            code=10017,
            message=f"wifi {WIFI_PASSWORD} / {WIFI_PASSWORD.encode().hex()}",
            digits=bytes(int(d) for d in PASSCODE).hex(),
        )
        # And every representation at once, as a careless decoder might dump them.
        trace.event("dump", forms=every_secret_form())


# --- the secret scan ----------------------------------------------------------------


def test_no_form_of_any_secret_reaches_the_trace_file(tmp_path: Path) -> None:
    path = tmp_path / "front-door.jsonl"
    write_session_full_of_secrets(path, run_redactor(enabled=True))
    content = path.read_bytes().decode("utf-8").lower()
    for form in every_secret_form():
        assert form.lower() not in content, form
    assert REDACTED in content


def test_with_redaction_off_the_secrets_are_written(tmp_path: Path) -> None:
    path = tmp_path / "front-door.jsonl"
    write_session_full_of_secrets(path, run_redactor(enabled=False))
    content = path.read_text("utf-8").lower()
    assert REDACTED not in content
    for form in every_secret_form():
        assert json.dumps(form.lower(), ensure_ascii=False)[1:-1] in content, form


def test_the_redactor_lists_the_forms_it_scrubs() -> None:
    forms = {f.lower() for f in run_redactor(enabled=True).forms()}
    for form in (KEY.hex(), str(ADMIN_PS), f"{UNLOCK_KEY:08x}", PASSCODE):
        assert form in forms


# --- frame records ------------------------------------------------------------------


def test_a_secret_frame_keeps_header_length_and_crc_but_not_the_payload(tmp_path: Path) -> None:
    plain = ADMIN_PS.to_bytes(4, "big") + UNLOCK_KEY.to_bytes(4, "big") + b"SCIENER"
    raw = encode_lock_command(LockCommand.ADD_ADMIN, plain, KEY)
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.tx(
            raw, command=LockCommand.ADD_ADMIN, decoded={"length": 16, "plaintext": plain}
        )
    assert entry["raw"] == raw[:12].hex() + REDACTED + raw[-1:].hex()
    assert entry["decoded"] == {
        "length": 16,
        "plaintext": REDACTED,
        "command": "ADD_ADMIN",
        "opcode": "0x56",
    }
    assert raw[12:-1].hex() not in (tmp_path / "t.jsonl").read_text()


def test_masking_uses_the_length_byte_and_keeps_the_trailer(tmp_path: Path) -> None:
    raw = encode_lock_command(LockCommand.CHECK_RANDOM, b"\x0d\x0a\x0d\x0a", KEY) + LOCK_TRAILER
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.tx(raw, command=LockCommand.CHECK_RANDOM)
        truncated = trace.rx(raw[:20], command=LockCommand.CHECK_RANDOM)
        garbage = trace.rx(b"\x01\x02\x03", command=LockCommand.CHECK_RANDOM)
    assert entry["raw"] == raw[:12].hex() + REDACTED + raw[-3:].hex()
    assert truncated["raw"] == raw[:12].hex() + REDACTED
    assert garbage["raw"] == REDACTED


def test_a_frame_without_secrets_keeps_its_raw_bytes_in_full(tmp_path: Path) -> None:
    raw = encode_lock_command(LockCommand.SEARCH_STATUS, b"SCIENER", KEY)
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.tx(raw, command=LockCommand.SEARCH_STATUS, decoded={"plaintext": b"SCIENER"})
    assert entry["raw"] == raw.hex()
    assert entry["decoded"]["plaintext"] == b"SCIENER".hex()


def test_plain_int_commands_are_read_with_the_device_kind(tmp_path: Path) -> None:
    # 0x02 is CONFIGURE_WIFI (a password) on a gateway, ENTER_DFU_MODE on a lock.
    raw = encode_gateway_command(GatewayCommand.CONFIGURE_WIFI, b"ssid\x00pw", KEY)
    with FrameTrace(tmp_path / "g.jsonl", device="gw", redactor=Redactor(), kind="gateway") as gw:
        gateway_entry = gw.tx(raw, command=0x02, decoded={"ssid": "lab"})
    with FrameTrace(tmp_path / "l.jsonl", device="fd", redactor=Redactor()) as lock:
        lock_entry = lock.tx(raw, command=0x02, decoded={"mode": "dfu"})
    assert gateway_entry["decoded"]["command"] == "CONFIGURE_WIFI"
    assert gateway_entry["decoded"]["ssid"] == REDACTED
    assert gateway_entry["raw"] == raw[:4].hex() + REDACTED + raw[-1:].hex()
    assert lock_entry["decoded"]["command"] == "ENTER_DFU_MODE"
    assert lock_entry["decoded"]["mode"] == "dfu"


def test_unknown_opcodes_are_named_in_hex(tmp_path: Path) -> None:
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.rx(b"\x7f\x5a", command=0xEE)
    assert entry["decoded"] == {"command": "0xee", "opcode": "0xee"}


def test_fields_named_like_secrets_are_redacted_whatever_their_value(tmp_path: Path) -> None:
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.event(
            "login", admin_ps=5, unlock_key="x", wifi_password="p", ps=1, battery=80
        )
    decoded = entry["decoded"]
    assert decoded["admin_ps"] == decoded["unlock_key"] == decoded["ps"] == REDACTED
    assert decoded["wifi_password"] == REDACTED
    assert decoded["battery"] == 80


# --- decoding raw frames (golden vectors, docs/protocol.md §4.3) ----------------------------------

VECTOR_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_a_request_vector_decodes_to_its_plaintext(vectors_by_id: dict[str, Any]) -> None:
    vector = vectors_by_id["frame.search_bicycle_status_0x14"]
    decoded = decode_frame(bytes.fromhex(vector["wire_hex"]), key=VECTOR_KEY)
    assert decoded.fields == {
        "kind": "lock",
        "header": "5.3.1.1.1",
        "encrypt": "0xaa",
        "length": 16,
        "crc_ok": True,
        "plaintext": vector["input"]["plaintext_hex"],
    }
    assert decoded.command is LockCommand.SEARCH_STATUS


def test_a_failed_reply_vector_shows_echo_status_and_error_byte(
    vectors_by_id: dict[str, Any],
) -> None:
    vector = vectors_by_id["response.unlock_fail_double_locked_0x1e"]
    decoded = decode_frame(bytes.fromhex(vector["frame_hex"]), key=VECTOR_KEY)
    fields = decoded.fields
    assert fields["header"] == "5.3.2.1.1"
    assert (fields["echo"], fields["status"], fields["error_byte"]) == ("0x47", 0, 0x1E)
    assert decoded.command is LockCommand.UNLOCK


def test_a_reply_under_the_wrong_key_has_no_known_command(vectors_by_id: dict[str, Any]) -> None:
    vector = vectors_by_id["response.status_locked_real_plaintext"]
    decoded = decode_frame(bytes.fromhex(vector["frame_hex"]), key=KEY)
    assert decoded.fields["decrypt"] == "failed"
    assert "plaintext" not in decoded.fields
    assert decoded.command is None


def test_a_bad_crc_is_a_verdict_not_a_crash(vectors_by_id: dict[str, Any]) -> None:
    raw = bytearray.fromhex(vectors_by_id["frame.search_bicycle_status_0x14"]["expected_hex"])
    raw[-1] ^= 0xFF
    fields = decode_frame(bytes(raw), key=VECTOR_KEY).fields
    assert fields["crc_ok"] is False
    assert fields["plaintext"] == "534349454e4552"


def test_garbage_is_described_as_a_problem() -> None:
    decoded = decode_frame(b"\x00\x01\x02")
    assert decoded.fields["crc_ok"] is None
    assert "magic" in decoded.fields["problem"]
    assert decoded.command is None


def test_a_legacy_vector_is_decoded_without_a_key(vectors_by_id: dict[str, Any]) -> None:
    vector = vectors_by_id["v2.frame.0x14.seed42"]
    decoded = decode_frame(bytes.fromhex(vector["wire_hex"]))
    assert decoded.fields["kind"] == "lock-legacy"
    assert bytes.fromhex(decoded.fields["plaintext"]) == b"SCIENER"
    assert decoded.command is LockCommand.SEARCH_STATUS


def test_a_gateway_wifi_vector_is_masked_in_the_trace(
    tmp_path: Path, vectors_by_id: dict[str, Any]
) -> None:
    vector = vectors_by_id["gateway.config_wifi_0x02"]
    raw = bytes.fromhex(vector["expected_hex"])
    session_key = bytes.fromhex(vector["session_key_hex"])
    decoded = decode_frame(raw, key=session_key)
    assert decoded.command is GatewayCommand.CONFIGURE_WIFI
    assert decoded.fields["plaintext"] == vector["plaintext_hex"]
    path = tmp_path / "gw.jsonl"
    with FrameTrace(path, device="gw-g2", redactor=Redactor(), kind="gateway") as trace:
        entry = trace.frame("tx", raw, key=session_key)
    assert entry["decoded"]["command"] == "CONFIGURE_WIFI"
    assert entry["decoded"]["plaintext"] == REDACTED
    text = path.read_text("utf-8")
    assert vector["plaintext_hex"] not in text
    assert raw[4:-1].hex() not in text  # the gateway key derives from the public MAC


def test_the_get_aes_key_reply_is_masked_by_its_echo(
    tmp_path: Path, vectors_by_id: dict[str, Any]
) -> None:
    vector = vectors_by_id["response.get_aes_key_ok"]
    raw = bytes.fromhex(vector["wire_hex"])
    new_key = bytes.fromhex(vector["input"]["plaintext_hex"])[2:]
    path = tmp_path / "t.jsonl"
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        entry = trace.frame("rx", raw, key=DEFAULT_LOCK_KEY, verdict="ok", code=0)
    assert entry["decoded"]["command"] == "GET_AES_KEY"
    assert entry["decoded"]["plaintext"] == REDACTED
    assert entry["decoded"]["status"] == 1
    assert entry["raw"] == raw[:12].hex() + REDACTED + raw[-3:].hex()
    text = path.read_text("utf-8")
    assert new_key.hex() not in text
    assert raw[12:-3].hex() not in text  # decryptable by anyone: the default key is public


def test_frame_records_a_decoded_request_with_extra_fields(
    tmp_path: Path, vectors_by_id: dict[str, Any]
) -> None:
    vector = vectors_by_id["frame.search_bicycle_status_0x14"]
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        entry = trace.frame(Direction.TX, bytes.fromhex(vector["wire_hex"]), key=VECTOR_KEY, try_=1)
    assert entry["raw"] == vector["wire_hex"]
    assert entry["decoded"]["command"] == "SEARCH_STATUS"
    assert entry["decoded"]["plaintext"] == vector["input"]["plaintext_hex"]
    assert entry["decoded"]["try_"] == 1


# --- the record format ------------------------------------------------------------------


def test_records_are_json_lines_with_time_offset_direction_and_verdict(tmp_path: Path) -> None:
    ticks = iter([100.0, 100.25, 101.5])
    wall = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    path = tmp_path / "front-door.jsonl"
    with FrameTrace(
        path,
        device="front-door",
        redactor=Redactor(),
        clock=lambda: next(ticks),
        wall_clock=lambda: wall,
    ) as trace:
        trace.tx(b"\x7f\x5a", command=LockCommand.SEARCH_STATUS, decoded={"crc_ok": True})
        trace.event("response-timeout", verdict="timeout", code=10017, after=6.0)
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "seq": 1,
        "t": "2026-01-02T03:04:05.678000+00:00",
        "elapsed": 0.25,
        "device": "front-door",
        "direction": "tx",
        "raw": "7f5a",
        "decoded": {"crc_ok": True, "command": "SEARCH_STATUS", "opcode": "0x14"},
        "verdict": None,
        "code": None,
    }
    assert second["seq"] == 2
    assert second["elapsed"] == 1.5
    assert second["direction"] == Direction.EVENT
    assert second["raw"] is None
    assert second["decoded"] == {"event": "response-timeout", "after": 6.0}
    assert (second["verdict"], second["code"]) == ("timeout", 10017)
    assert read_trace(path) == [first, second]


def test_reading_an_open_trace_writes_out_its_buffer_first(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trace = FrameTrace(path, device="fd", redactor=Redactor())
    trace.event("connect")
    assert path.read_text() == ""  # buffered
    assert len(read_trace(tmp_path / "." / "t.jsonl")) == 1  # any spelling of the path
    assert trace.pending == 0
    trace.close()
    assert trace.closed
    trace.close()  # idempotent


def test_a_closed_trace_refuses_records(tmp_path: Path) -> None:
    trace = FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor())
    trace.close()
    with pytest.raises(ValueError, match="closed"):
        trace.event("late")


def test_a_trace_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.jsonl"
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        trace.event("one")
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        trace.event("two")
    assert [r["decoded"]["event"] for r in read_trace(path)] == ["one", "two"]


def test_kind_must_be_lock_or_gateway(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor(), kind="padlock")


# --- buffering ----------------------------------------------------------------------------


def lines_on_disk(path: Path) -> list[dict[str, Any]]:
    """What the file holds now, without asking any trace to flush."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_routine_records_are_buffered_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        trace.event("connect")
        trace.tx(bytes.fromhex("7f5a"), verdict="sent")
        trace.rx(bytes.fromhex("7f5a"), verdict="ok", code=0)
        assert lines_on_disk(path) == []
        assert trace.pending == 3
        trace.flush()
        assert [r["seq"] for r in lines_on_disk(path)] == [1, 2, 3]
        trace.event("disconnected")
    assert len(lines_on_disk(path)) == 4  # close wrote the rest


@pytest.mark.parametrize(
    ("verdict", "code"),
    [("device-error", 10004), ("response-timeout", 10017), ("stray", None), (None, 10003)],
)
def test_a_record_that_reports_a_failure_is_on_disk_at_once(
    tmp_path: Path, verdict: str | None, code: int | None
) -> None:
    path = tmp_path / "t.jsonl"
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        trace.event("connect")
        trace.event("trouble", verdict=verdict, code=code)
        assert [r["decoded"]["event"] for r in lines_on_disk(path)] == ["connect", "trouble"]


def test_a_long_run_of_routine_records_is_written_out_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with FrameTrace(path, device="fd", redactor=Redactor()) as trace:
        for n in range(FLUSH_LINES + 3):
            trace.event("tick", n=n)
        assert len(lines_on_disk(path)) == FLUSH_LINES
        assert trace.pending == 3


def test_two_open_traces_on_one_file_keep_the_order_of_their_records(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with (
        FrameTrace(path, device="a", redactor=Redactor()) as first,
        FrameTrace(path, device="b", redactor=Redactor()) as second,
    ):
        first.event("one")
        second.event("two")
        first.event("three")
    assert [r["decoded"]["event"] for r in read_trace(path)] == ["one", "two", "three"]


def test_a_trace_nobody_closed_writes_its_buffer_when_collected(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trace = FrameTrace(path, device="fd", redactor=Redactor())
    trace.event("connect")
    del trace
    gc.collect()
    assert [r["decoded"]["event"] for r in lines_on_disk(path)] == ["connect"]


# --- frames the session has read already ----------------------------------------------------


def status_reply(key: bytes) -> tuple[bytes, bytes]:
    plaintext = bytes([LockCommand.SEARCH_STATUS, 1, 0x2D, 0])
    return encode_lock_command(LockCommand.RESPONSE, plaintext, key), plaintext


def without_time(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("seq", "t", "elapsed")}


def test_a_plaintext_from_the_session_gives_the_record_a_key_would(tmp_path: Path) -> None:
    raw, plaintext = status_reply(KEY)
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        by_key = trace.frame("rx", raw, key=KEY, verdict="ok", code=0)
        by_plaintext = trace.frame("rx", raw, plaintext=plaintext, verdict="ok", code=0)
        parsed = parse_frame(raw)
        by_frame = trace.frame("rx", raw, parsed=parsed, plaintext=plaintext, verdict="ok", code=0)
    assert without_time(by_plaintext) == without_time(by_key)
    assert without_time(by_frame) == without_time(by_key)
    assert by_key["decoded"]["echo"] == "0x14"


def test_a_frame_given_with_its_plaintext_is_neither_parsed_nor_decrypted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, plaintext = status_reply(KEY)
    parsed = parse_frame(raw)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed or decrypted a second time")

    monkeypatch.setattr(trace_module, "parse_frame", refuse)
    monkeypatch.setattr(trace_module, "dissect", refuse)
    monkeypatch.setattr(LockFrame, "decrypt", refuse)
    with FrameTrace(tmp_path / "t.jsonl", device="fd", redactor=Redactor()) as trace:
        record = trace.frame("rx", raw, parsed=parsed, plaintext=plaintext, verdict="ok")
    assert record["decoded"]["plaintext"] == plaintext.hex()


def test_a_plaintext_alone_spares_the_decrypt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, plaintext = status_reply(KEY)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("decrypted a second time")

    monkeypatch.setattr(LockFrame, "decrypt", refuse)
    decoded = decode_frame(raw, plaintext=plaintext)
    assert decoded.fields["plaintext"] == plaintext.hex()
    assert decoded.fields["crc_ok"] is True


def test_a_plaintext_with_a_bad_crc_frame_keeps_the_crc_verdict() -> None:
    raw, plaintext = status_reply(KEY)
    broken = raw[:-1] + bytes([raw[-1] ^ 0xFF])
    decoded = decode_frame(broken, plaintext=plaintext)
    assert decoded.fields["crc_ok"] is False
    assert decoded.fields["plaintext"] == plaintext.hex()
    assert decoded.command == LockCommand.SEARCH_STATUS


def test_a_plaintext_with_bytes_that_are_no_frame_describes_the_problem() -> None:
    decoded = decode_frame(b"\x01\x02\x03", plaintext=b"\x14\x01")
    assert "problem" in decoded.fields
    assert decoded.command is None
