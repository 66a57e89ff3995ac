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

_HERE = Path(__file__).resolve().parent
_VECTOR_CANDIDATES = (
    Path(os.environ["TTLOCK_VECTORS"]) if "TTLOCK_VECTORS" in os.environ else None,
    _HERE.parent.parent / "shared" / "vectors" / "ttlock.json",
)


def _vectors_path() -> Path:
    for candidate in _VECTOR_CANDIDATES:
        if candidate is not None and candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "golden vectors not found: expected ../shared/vectors/ttlock.json beside the "
        "checkout, or set TTLOCK_VECTORS=/path/to/ttlock.json"
    )


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    """The golden vectors of ``../shared/vectors/ttlock.json`` (never edited)."""
    data = json.loads(_vectors_path().read_text(encoding="utf-8"))
    return list(data["vectors"])


@pytest.fixture(scope="session")
def vectors_by_id(vectors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in vectors}
