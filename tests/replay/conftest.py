"""The replay suite: the seed and bench cassettes of ``cassettes/``, replayed two ways.

* R1 (``test_fidelity.py``): each recorded interaction fed to the simulator, one test
  each; known divergences in ``divergences.yaml`` with their reasons.
* R2 (``test_harness_regression.py``, ``test_round_trip.py``): the cassette plays the
  lock on tier 1 and the harness must do exactly what it did on the bench.

docs/replay.md describes both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

HERE: Final = Path(__file__).resolve().parent
CASSETTE_DIR: Final = HERE / "cassettes"


def cassette_paths() -> list[Path]:
    return sorted(CASSETTE_DIR.glob("*.json"))


def divergences() -> list[dict[str, Any]]:
    entries = yaml.safe_load((HERE / "divergences.yaml").read_text(encoding="utf-8")) or []
    assert isinstance(entries, list)
    return entries
