"""protocol/ is sans-IO: no module in it may import I/O, clocks or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ttlock_hil import protocol

FORBIDDEN = {
    "asyncio",
    "bleak",
    "pytest",
    "time",
    "random",
    "socket",
    "secrets",
    "datetime",
    "os",
    "subprocess",
    "threading",
    "selectors",
    "ttlock_hil.harness",
    "ttlock_hil.fixtures",
    "bumble",
}

PROTOCOL_DIR = Path(protocol.__file__).resolve().parent
MODULES = sorted(PROTOCOL_DIR.rglob("*.py"))


def _root(module: str) -> str:
    """The top-level name, or the first two for our own namespace (ttlock_hil.harness)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "ttlock_hil" else parts[0]


def imported_roots(path: Path) -> set[str]:
    """Top-level names imported by ``path`` at run time.

    Imports under ``if TYPE_CHECKING:`` are for annotations only and never run (e.g.
    ``datetime`` in the ``Clock`` protocol's signature), so they are not counted.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(_root(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(_root(node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("__import__")
    return roots


def test_protocol_package_has_modules_to_check() -> None:
    assert len(MODULES) >= 5


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PROTOCOL_DIR)))
def test_protocol_module_imports_nothing_that_does_io(path: Path) -> None:
    bad = imported_roots(path) & (FORBIDDEN | {"__import__"})
    assert not bad, f"{path.name} imports {sorted(bad)}: protocol/ must stay sans-IO"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio\nfrom time import monotonic\nimport json\n"
        "from ttlock_hil.harness.lab import Lab\nfrom ttlock_hil.protocol import crc\n"
        "if TYPE_CHECKING:\n    from datetime import datetime\n"
    )
    assert imported_roots(sample) & FORBIDDEN == {"asyncio", "time", "ttlock_hil.harness"}
