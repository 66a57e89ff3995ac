"""Project-wide test configuration.

Hypothesis profiles: ``ci`` (default, quick) and ``fuzz`` (>= 100 000 examples
per property, no deadline); select with ``HYPOTHESIS_PROFILE=fuzz`` (``make fuzz``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA_DIR = Path(__file__).resolve().parent / "data"
"""The project's golden test data, kept byte for byte as received (tests/data/README.md)."""
VECTORS_PATH = DATA_DIR / "vectors" / "ttlock.json"
SEED_PATH = DATA_DIR / "seeds" / "000_123d5e311bcbde49.txt"


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    """The golden vectors of ``tests/data/vectors/ttlock.json`` (never edited)."""
    data = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return list(data["vectors"])


@pytest.fixture(scope="session")
def vectors_by_id(vectors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in vectors}
