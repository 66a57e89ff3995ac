"""docs/simulator.md's runnable example runs and prints what the doc says it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "simulator_quickstart.py"
DOC = ROOT / "docs" / "simulator.md"

EXPECTED = [
    "sans-IO: ADD_ADMIN ok=True, setting mode=False",
    "sans-IO: unlock without login -> error 18",
    "bleak: found S202F_f69a04 (setting mode: False, battery 80%)",
    "bleak: unlocked, record 1, battery 80%",
    "bleak: status UNLOCKED",
    "bleak: injected error -> 30",
    "bleak: flat battery -> error 10",
    "done",
]


def test_the_quickstart_example_runs_and_prints_the_documented_lines() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == EXPECTED
    assert result.stderr == ""


def test_the_doc_shows_the_examples_output_and_points_at_it() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "examples/simulator_quickstart.py" in text
    for line in EXPECTED:
        assert line in text, f"docs/simulator.md does not show {line!r}"
