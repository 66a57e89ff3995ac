"""R1, simulator fidelity: every recorded interaction of every cassette, fed to the simulator.

One test per interaction. The simulator is built from the cassette (preset, the lock's
header, test credentials), its randomness scripted with the recorded lock-chosen values
and its clock stepped through the recorded times; its replies must equal the recorded
ones, byte for byte or once volatile fields are set aside (battery, times within a
tolerance). A divergence passes only when ``divergences.yaml`` lists it with a reason,
and an entry whose divergence is gone fails, so the list stays true.
"""

from __future__ import annotations

import functools

import pytest

from ttlock_hil.harness.cassette import load_cassette
from ttlock_hil.harness.sim.replay import Fidelity, replay_in_simulator
from ttlock_hil.protocol.cassette import command_label

from .conftest import CASSETTE_DIR, cassette_paths, divergences


def interactions() -> list[object]:
    params = []
    for path in cassette_paths():
        for item in load_cassette(path).interactions:
            params.append(
                pytest.param(
                    path.name, item.n, id=f"{path.stem}-{item.n}-{command_label(item.command)}"
                )
            )
    return params


@functools.cache
def fidelity(name: str) -> dict[int, Fidelity]:
    cassette = load_cassette(CASSETTE_DIR / name)
    return {result.interaction.n: result for result in replay_in_simulator(cassette)}


def test_the_suite_has_cassettes_to_replay() -> None:
    assert len(cassette_paths()) >= 2
    assert len(interactions()) >= 10


@pytest.mark.parametrize(("name", "n"), interactions())
def test_the_simulator_answers_as_the_recorded_lock_did(name: str, n: int) -> None:
    result = fidelity(name)[n]
    known = [d for d in divergences() if d["cassette"] == name and d["interaction"] == n]
    if result.ok:
        assert not known, (
            f"{name} {result.interaction.label} no longer diverges ({result.verdict}): remove "
            "its entry from tests/replay/divergences.yaml"
        )
        return
    report = "\n  ".join(result.differences)
    assert known, f"{name} {result.interaction.label} diverges:\n  {report}"
    for difference in result.differences:
        assert any(d["contains"] in difference for d in known), (
            f"{name} {result.interaction.label}: a divergence the allowlist does not "
            f"explain:\n  {difference}"
        )


def test_every_allowlisted_divergence_names_an_interaction_and_a_reason() -> None:
    names = {path.name: load_cassette(path) for path in cassette_paths()}
    for entry in divergences():
        assert entry["cassette"] in names, entry
        numbers = {i.n for i in names[entry["cassette"]].interactions}
        assert entry["interaction"] in numbers, entry
        assert len(str(entry.get("reason", "")).split()) >= 8, f"say why: {entry}"
        assert entry.get("contains"), entry
