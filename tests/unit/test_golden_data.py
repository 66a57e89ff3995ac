"""The golden data lives in the repository, byte for byte as received (tests/data/README.md)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, SEED_PATH, VECTORS_PATH

README = DATA_DIR / "README.md"


def recorded_hashes() -> dict[str, str]:
    """``file -> sha256`` from the table of tests/data/README.md."""
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", README.read_text("utf-8"), re.M)
    return dict(rows)


def test_the_readme_records_a_hash_for_each_golden_file() -> None:
    assert set(recorded_hashes()) == {"vectors/ttlock.json", "seeds/000_123d5e311bcbde49.txt"}


@pytest.mark.parametrize("name", sorted(recorded_hashes()))
def test_golden_file_is_unchanged_since_it_was_received(name: str) -> None:
    digest = hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()
    assert digest == recorded_hashes()[name], f"{name} was edited: golden data is never edited"


def test_the_fixtures_read_the_repositorys_copy_not_a_sibling_folder() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in (VECTORS_PATH, SEED_PATH):
        assert path.is_file()
        assert path.resolve().is_relative_to(root), path
