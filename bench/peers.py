"""The peers' own virtualenv (``bench/.venv-peers``) and the child process that measures them.

``ttlock`` 0.2.0 (ttlock-core) ships only ``cp312-abi3`` wheels; ``ttlock-ble`` 0.3.2
declares ``Requires-Python >= 3.14``. The project runs on 3.11, so the peers get a
virtualenv of their own on the newest interpreter found:

1. ``$TTLOCK_BENCH_PEER_PYTHON`` (a path), if set;
2. ``python3.14`` … ``python3.12`` on ``PATH``;
3. pyenv's versions (``~/.pyenv/versions/3.1[2-9]*``).

On an interpreter older than 3.14, ttlock-ble is installed with
``--ignore-requires-python --no-deps`` (its codec needs only cryptography, installed
beside it) and its codec modules are imported without its package ``__init__``,
whose BLE client uses 3.14 syntax (:func:`bench.codec._load_without_package_init`);
the results say so. construct and cryptography are pinned to the project's versions,
so AES costs the same on both sides.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-peers"
PEERS = {"ttlock-ble": "0.3.2", "ttlock": "0.2.0"}
MIN_PEER_PYTHON = (3, 12)
TTLOCK_BLE_PYTHON = (3, 14)


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]), int(out[1])


def find_interpreter() -> tuple[str, tuple[int, int]] | None:
    """The newest Python >= 3.12 on this machine (see the module docstring)."""
    candidates: list[str] = []
    if os.environ.get("TTLOCK_BENCH_PEER_PYTHON"):
        candidates.append(os.environ["TTLOCK_BENCH_PEER_PYTHON"])
    for minor in range(20, MIN_PEER_PYTHON[1] - 1, -1):
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append(found)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        for entry in pyenv.iterdir():
            if re.fullmatch(r"3\.\d+\.\d+", entry.name) and (entry / "bin/python").exists():
                candidates.append(str(entry / "bin/python"))
    best: tuple[str, tuple[int, int]] | None = None
    for python in candidates:
        version = _version_of(python)
        if version is None or version < MIN_PEER_PYTHON:
            continue
        if os.environ.get("TTLOCK_BENCH_PEER_PYTHON") == python:
            return python, version  # asked for by name: use it
        if best is None or version > best[1]:
            best = (python, version)
    return best


def ensure_venv(log: Any = print) -> dict[str, Any]:
    """Create (or reuse) the peers' virtualenv; returns what it holds, or why not."""
    found = find_interpreter()
    if found is None:
        return {"error": "no Python >= 3.12 found (set TTLOCK_BENCH_PEER_PYTHON)"}
    python, version = found
    pins = {
        "construct": metadata.version("construct"),
        "cryptography": metadata.version("cryptography"),
    }
    wanted = {"interpreter": python, "version": list(version), "peers": PEERS, "pins": pins}
    stamp = VENV / "bench-stamp.json"
    peer_python = VENV / "bin" / "python"
    if stamp.exists() and peer_python.exists():
        if json.loads(stamp.read_text()) == wanted:
            return {**wanted, "python": str(peer_python), "reused": True}
        shutil.rmtree(VENV)
    log(f"bench: creating {VENV} on {python} ({version[0]}.{version[1]})")
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = [str(peer_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, f"ttlock=={PEERS['ttlock']}", *(f"{k}=={v}" for k, v in pins.items())], check=True
    )
    ble = [f"ttlock-ble=={PEERS['ttlock-ble']}"]
    if version < TTLOCK_BLE_PYTHON:
        ble = ["--no-deps", "--ignore-requires-python", *ble]
    subprocess.run([*pip, *ble], check=True)
    stamp.write_text(json.dumps(wanted))
    return {**wanted, "python": str(peer_python), "reused": False}


def run_child(python: str, rounds: int, iterations: int) -> list[dict[str, Any]]:
    """Run bench/codec.py in the peers' interpreter and read its JSON lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [python, str(HERE / "codec.py"), str(rounds), str(iterations)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(HERE.parent),
        timeout=1800,
        check=False,
    )
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not records or not records[-1].get("done"):
        tail = proc.stderr.strip().splitlines()[-5:]
        raise RuntimeError(f"the peers' child failed ({proc.returncode}): {' | '.join(tail)}")
    return records


if __name__ == "__main__":
    print(json.dumps(ensure_venv(lambda text: print(text, file=sys.stderr)), indent=2))
