"""The cassette device (R2) and the simulator replay (R1), sans-IO (harness/sim/replay.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ttlock_hil.harness.cassette import load_cassette
from ttlock_hil.harness.sim.device import ManualClock
from ttlock_hil.harness.sim.replay import CassetteDevice, replay_in_simulator
from ttlock_hil.protocol.advert import parse_bleak
from ttlock_hil.protocol.cassette import Cassette, ReplayMismatch
from ttlock_hil.protocol.crypto import DEFAULT_LOCK_KEY, aes_decrypt, aes_encrypt
from ttlock_hil.protocol.frame import build_lock_frame, parse_frame
from ttlock_hil.protocol.lockdata import LockData

SEEDS = Path(__file__).resolve().parents[2] / "replay" / "cassettes"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
CREDS = LockData(aes_key=KEY, admin_ps=12345678, unlock_key=87654321)


def paired() -> Cassette:
    return load_cassette(SEEDS / "vectors-paired.json")


def request(command: int, plaintext: bytes, key: bytes = KEY) -> bytes:
    return build_lock_frame(command, aes_encrypt(key, plaintext)) + b"\r\n"


def opened(frames: list[bytes], key: bytes = KEY) -> list[bytes]:
    return [aes_decrypt(key, parse_frame(f[:-2]).payload) for f in frames]  # type: ignore[union-attr]


def test_a_push_recorded_before_the_reply_comes_before_it() -> None:
    cassette = paired()
    unlock = cassette.interactions[2]
    reply, push = unlock.notifications
    cassette = cassette.with_interaction(
        2, dataclasses.replace(unlock, notifications=(push, reply))
    )
    device = CassetteDevice(cassette, credentials=CREDS)
    device.on_connect()
    device.receive(request(0x14, b"SCIENER"))
    (challenge,) = opened(device.receive(request(0x41, bytes.fromhex("00bc614e00000000000000"))))
    assert challenge == bytes.fromhex("41011db78a8f")  # the recorded lock-chosen value
    frames = device.receive(request(0x47, bytes.fromhex("22f10a406955b900")))
    assert [p[:2] for p in opened(frames)] == [b"\x14\x01", b"\x47\x01"]
    assert device.mismatches == []


def test_the_clock_is_stepped_to_each_requests_recorded_time() -> None:
    clock = ManualClock()
    CassetteDevice(paired(), credentials=CREDS, clock=clock)
    assert clock.now().isoformat() == paired().interactions[0].clock


def recorded_request(cassette: Cassette, index: int) -> bytes:
    bindings = cassette.bindings()
    bindings.supply_credentials(KEY, CREDS.admin_ps, CREDS.unlock_key)
    item = cassette.interactions[index]
    return request(item.command, item.request.render(bindings))


def test_a_request_of_the_next_connection_on_this_one_is_a_mismatch() -> None:
    cassette = paired()
    device = CassetteDevice(cassette, credentials=CREDS)
    device.on_connect()
    first = [i for i, item in enumerate(cassette.interactions) if item.connection == 1]
    for index in first:
        assert device.receive(recorded_request(cassette, index))
    # the recording reconnected here; this harness goes on on the same link
    assert device.receive(recorded_request(cassette, len(first))) == []
    with pytest.raises(ReplayMismatch, match="reconnected") as caught:
        device.check()
    assert caught.value.interaction == len(first) + 1


def test_check_names_the_first_recorded_request_that_never_came() -> None:
    device = CassetteDevice(paired(), credentials=CREDS)
    device.on_connect()
    device.receive(request(0x14, b"SCIENER"))
    device.check(complete=False)
    with pytest.raises(ReplayMismatch, match=r"stopped after 1 of 9") as caught:
        device.check()
    assert "interaction #2 CHECK_ADMIN" in str(caught.value)


def test_a_setting_mode_recording_advertises_setting_mode_and_hands_out_a_test_key() -> None:
    device = CassetteDevice(load_cassette(SEEDS / "vectors-init.json"))
    ((company, payload),) = device.advertisement().manufacturer_data.items()
    assert parse_bleak(company, payload).setting_mode
    device.on_connect()
    (reply,) = opened(device.receive(request(0x19, b"SCIENER", DEFAULT_LOCK_KEY)), DEFAULT_LOCK_KEY)
    assert reply == b"\x19\x01" + KEY


def test_r1_gives_one_result_per_interaction_in_order() -> None:
    results = replay_in_simulator(paired())
    assert [r.interaction.n for r in results] == list(range(1, 10))
    assert [r.verdict for r in results][:3] == ["normalised", "same", "normalised"]
