"""A btsnoop captured on the Bumble tier imports into the cassette the harness recorded.

``ttlock-hil sim serve --snoop`` writes the served lock's HCI traffic while the harness,
in this process, runs a scenario over the exported controller with ``Lab(record=…)``.
The capture, imported (btsnoop → ACL → L2CAP → ATT → our reassembler), must give the
very cassette the session layer recorded: same requests, replies, tokens and
lock-chosen values, connection by connection.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from ttlock_hil.harness.cassette import import_btsnoop, load_cassette
from ttlock_hil.harness.lab import BUMBLE_HCI_VARIABLE

from .conftest import DEADLINE, build_config, make_lab
from .test_tier_bumble_serve import served

__all__ = ["served"]  # the serving process fixture, shared with the tier's own tests


async def test_a_bumble_capture_imports_into_the_recorded_cassette(
    tmp_path: Path, served: tuple[subprocess.Popen[bytes], str, str, Path]
) -> None:
    process, hci_spec, mac, capture = served
    config = build_config(
        tmp_path,
        [{"name": "door", "kind": "lock", "model": "v3-keypad", "address": mac}],
        timeouts={"scan": 3.0, "connect": 3.0, "command": 2.0},
    )
    recorded = tmp_path / "door.cassette.json"
    lab = make_lab(config, tier="bumble", environ={BUMBLE_HCI_VARIABLE: hci_spec}, record=recorded)
    try:
        lock = lab.lock("door")
        async with asyncio.timeout(DEADLINE * 3):
            await lock.init()
            await lock.unlock()
            await lock.disconnect()
            await lock.status()  # a second connection
    finally:
        async with asyncio.timeout(DEADLINE):
            await lab.aclose()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0  # the capture is closed with the server
    cassette = load_cassette(recorded)
    assert cassette.source == f"bumble ({hci_spec})"
    imported = import_btsnoop(capture.read_bytes(), name=capture.name, device="door")
    assert len(imported.connections) == 2
    assert imported.essence() == cassette.essence()
