"""A HIL test marked with its cassette runs in CI as it ran when it was recorded (R2).

``cassettes/virtual-front-door-unlock-passcode.json`` was recorded from this very test,
unmarked, on the default lab's front-door (``pytest tests/replay/test_marked.py
--hil-record DIR``, bring-up included). Marked, the plugin plays front-door from the
cassette: the harness must send what it sent then, and gets what it got then — the
passcode list included, though the cassette holds no passcode (the test's own request
binds it). R1 replays the same cassette against the simulator in test_fidelity.py.
"""

from __future__ import annotations

import pytest

from ttlock_hil.harness.lock import Lock


@pytest.mark.hil_model("v3-keypad")
@pytest.mark.hil_cassette("cassettes/virtual-front-door-unlock-passcode.json")
async def test_unlock_and_passcode_as_on_the_bench(lock: Lock) -> None:
    await lock.unlock()
    await lock.add_passcode("2468013")
    assert "2468013" in {entry.passcode for entry in await lock.list_passcodes()}
