"""Type-check the ``ttlock_hil`` package as it is installed, from the repository's folders.

mypy maps module names to files by directory, so it cannot follow setuptools'
``package-dir`` mapping (``ttlock_hil.protocol`` lives in ``protocol/``). This script
lays a throw-away tree ``build/typecheck/ttlock_hil/`` whose entries link to the real
folders (a directory symlink, or a copy where the OS refuses symlinks), runs
``mypy -p ttlock_hil`` on it with the settings of ``pyproject.toml``, and prints mypy's
messages with the real file paths, so an editor or a terminal can jump to them.

Nothing is committed as a link: lab PCs may run Windows, where committed symlinks are
unreliable (docs/architecture.md §2). A new module needs no step of its own: the tree
links whole folders and is laid anew on every run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
PACKAGE = "ttlock_hil"
# Sub-package name -> folder in the repository (the same mapping as pyproject.toml).
FOLDERS = {"protocol": "protocol", "harness": "harness", "fixtures": "fixtures"}


def _link(target: Path, link: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=target.is_dir())
    except OSError:  # no symlink privilege: a copy is checked instead
        if target.is_dir():
            shutil.copytree(target, link, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(target, link)


def lay_tree() -> dict[str, str]:
    """Build the link tree; returns {path prefix in the tree: real path prefix}."""
    if TREE.exists():
        shutil.rmtree(TREE)
    package = TREE / PACKAGE
    package.mkdir(parents=True)
    rewrites: dict[str, str] = {}
    for entry in (ROOT / PACKAGE).iterdir():
        if entry.name != "__pycache__":
            _link(entry, package / entry.name)
            rewrites[str(Path("build", "typecheck", PACKAGE, entry.name))] = str(
                Path(PACKAGE, entry.name)
            )
    for name, folder in FOLDERS.items():
        _link(ROOT / folder, package / name)
        rewrites[str(Path("build", "typecheck", PACKAGE, name))] = folder
    return rewrites


def main() -> int:
    from mypy import api

    rewrites = lay_tree()
    os.chdir(ROOT)
    os.environ["MYPYPATH"] = str(TREE.relative_to(ROOT))
    stdout, stderr, status = api.run(
        ["--config-file", "pyproject.toml", "-p", PACKAGE, *sys.argv[1:]],
    )
    # Longest prefix first, so build/typecheck/ttlock_hil/protocol wins over .../ttlock_hil.
    ordered = sorted(rewrites.items(), key=lambda item: -len(item[0]))
    for line in stdout.splitlines():
        shown = line
        for tree_path, real_path in ordered:
            if line.startswith(tree_path):
                shown = real_path + line[len(tree_path) :]
                break
        print(shown)
    if stderr:
        print(stderr, end="", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
