"""The seed cassettes are exactly what seeds.py builds from the public frames."""

from __future__ import annotations

from ttlock_hil.harness.cassette import load_cassette

from .conftest import CASSETTE_DIR
from .seeds import build


def test_the_seed_cassettes_are_built_from_the_public_frames() -> None:
    for name, cassette in build().items():
        stored = load_cassette(CASSETTE_DIR / name)
        assert stored.essence() == cassette.essence(), (
            f"{name} differs from what tests/replay/seeds.py builds: "
            "run python -m tests.replay.seeds"
        )
        assert stored.source == f"btsnoop:{name.replace('.json', '.btsnoop')}"
