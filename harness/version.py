"""Which ttlock-hil this is: the installed version, and the commit when run from a checkout.

A lab reads both in every report (``results.json``, ``report.html``, JUnit properties)
and from ``ttlock-hil --version``. The commit is asked of git only when the code runs
from a ttlock-hil checkout: an installed wheel may sit inside some other repository (a
virtualenv in a lab's own project), whose commit says nothing about this tool.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Final

__all__ = ["checkout_root", "git_sha", "harness_version", "version_line"]

_GIT_TIMEOUT_S: Final = 5.0


def checkout_root() -> Path | None:
    """The ttlock-hil checkout this code runs from, or ``None`` for an installed package.

    A checkout is the folder holding ``harness/`` (this package) beside ``pyproject.toml``
    and the regression suite ``tests/hil/`` (docs/architecture.md §2).
    """
    root = Path(__file__).resolve().parent.parent
    markers = (root / "pyproject.toml", root / "tests" / "hil", root / "protocol")
    return root if all(m.exists() for m in markers) else None


def harness_version() -> str:
    """The installed ttlock-hil version (``unknown`` when running from a bare tree)."""
    try:
        return metadata.version("ttlock-hil")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_sha(root: Path | None = None) -> str | None:
    """The commit of ``root`` (default: this checkout), ``+dirty`` when the tree has changes.

    ``None`` outside git, for an installed package, or when git is missing or slow.
    """
    where = root if root is not None else checkout_root()
    if where is None:
        return None
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not sha:
        return None
    return sha + ("+dirty" if dirty else "")


def version_line() -> str:
    """What ``ttlock-hil --version`` prints: ``ttlock-hil 0.1.0 (git 1a2b3c4d…)``."""
    sha = git_sha()
    return f"ttlock-hil {harness_version()}" + (f" (git {sha})" if sha else "")
