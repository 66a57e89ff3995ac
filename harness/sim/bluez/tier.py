"""The BlueZ tier's processes: a private ``dbus-daemon`` and the double, started together
and ended by PID.

:class:`BluezTier` is what the CLI (``ttlock-hil sim bluez``) and the pytest plugin
(``--hil-tier bluez``) start. Both processes get a parent-death signal (Linux
``PR_SET_PDEATHSIG``), so a test run that is killed takes them with it; and each start
first ends the processes a previous, killed run of the same user left behind (their
PIDs are in a state file next to the bus socket, and are checked against the command
line before anything is signalled).

The double receives its device list as JSON on standard input (it may hold lock
credentials: they never touch the disk) and prints ``ready`` once it owns
``org.bluez``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

__all__ = ["BluezTier", "TierError", "cleanup_stale", "dbus_daemon_path"]

_STATE_NAME: Final = "tier.json"
_DIR_PREFIX: Final = "ttlock-hil-bluez-"
_DOUBLE_MODULE: Final = "ttlock_hil.harness.sim.bluez"
_START_TIMEOUT_S: Final = 10.0
_STOP_GRACE_S: Final = 3.0
_PR_SET_PDEATHSIG: Final = 1

_BUS_CONFIG: Final = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class TierError(RuntimeError):
    """The BlueZ tier cannot start (no dbus-daemon, the double failed): says what to do."""


def dbus_daemon_path() -> str | None:
    """The ``dbus-daemon`` binary, if installed (Debian package ``dbus-daemon``)."""
    return shutil.which("dbus-daemon")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end(pid: int, marker: str) -> bool:
    """SIGTERM (then SIGKILL) ``pid`` if its command line still holds ``marker``."""
    if not _alive(pid) or marker not in _cmdline(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    while time.monotonic() < deadline and _alive(pid) and marker in _cmdline(pid):
        time.sleep(0.02)
    if _alive(pid) and marker in _cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def cleanup_stale(base: Path | None = None) -> list[int]:
    """End the bus and double of earlier runs (of this user) that were killed; their PIDs."""
    root = Path(base) if base is not None else Path(tempfile.gettempdir())
    ended: list[int] = []
    for state_file in root.glob(f"{_DIR_PREFIX}*/{_STATE_NAME}"):
        directory = state_file.parent
        try:
            if directory.stat().st_uid != os.getuid():
                continue
            state = json.loads(state_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if _alive(int(state.get("owner", 0))):
            continue  # its run is still going: not stale
        for key in ("double", "daemon"):
            pid = int(state.get(key, 0))
            if pid and _end(pid, str(directory)):
                ended.append(pid)
        shutil.rmtree(directory, ignore_errors=True)
    return ended


class BluezTier:
    """A private system bus with the BlueZ double on it, hosting ``spec``'s devices.

    ``spec`` is the double's JSON input (see :mod:`ttlock_hil.harness.sim.bluez.__main__`).
    Use as a context manager, or :meth:`start` / :meth:`stop`. :attr:`address` is what
    ``DBUS_SYSTEM_BUS_ADDRESS`` must be for bleak to talk to it.
    """

    def __init__(self, spec: Mapping[str, Any], *, base: Path | None = None) -> None:
        self.spec = dict(spec)
        self.base = Path(base) if base is not None else Path(tempfile.gettempdir())
        self.directory: Path | None = None
        self.address: str | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.double: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"BluezTier({self.address or '-'}, {state})"

    def __enter__(self) -> BluezTier:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return (
            self.daemon is not None
            and self.daemon.poll() is None
            and self.double is not None
            and self.double.poll() is None
        )

    def start(self) -> str:
        """Start bus and double; returns the bus address. Raises :class:`TierError`."""
        began = time.monotonic()
        daemon_bin = dbus_daemon_path()
        if daemon_bin is None:
            raise TierError(
                "dbus-daemon is not installed: the BlueZ tier needs a private D-Bus — "
                "apt-get install dbus-daemon"
            )
        cleanup_stale(self.base)
        self.directory = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=self.base))
        socket = self.directory / "system_bus_socket"
        config = self.directory / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket), "utf-8")
        try:
            self.daemon = subprocess.Popen(
                [daemon_bin, f"--config-file={config}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - prctl only, before exec
            )
            self.address = self._first_line(self.daemon, "dbus-daemon").strip()
            self._write_state()
            self.double = subprocess.Popen(
                [sys.executable, "-m", _DOUBLE_MODULE, "--bus", self.address, str(self.directory)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
            assert self.double.stdin is not None
            self.double.stdin.write(json.dumps(self.spec).encode("utf-8"))
            self.double.stdin.close()
            self._write_state()
            line = self._first_line(self.double, "the BlueZ double")
            if line.strip() != "ready":
                raise TierError(f"the BlueZ double said {line.strip()!r} instead of 'ready'")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.address

    def _first_line(self, process: subprocess.Popen[bytes], what: str) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        fd = process.stdout.fileno()
        os.set_blocking(fd, False)
        buffer = b""
        while b"\n" not in buffer:
            if process.poll() is not None and not buffer:
                raise TierError(
                    f"{what} exited with status {process.returncode} before it was ready "
                    "(its error is above)"
                )
            if time.monotonic() > deadline:
                raise TierError(f"{what} was not ready within {_START_TIMEOUT_S:g} s")
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            if not chunk and process.poll() is not None:
                continue
            buffer += chunk
        return buffer.split(b"\n", 1)[0].decode("utf-8", errors="replace")

    def _write_state(self) -> None:
        assert self.directory is not None
        state = {
            "owner": os.getpid(),
            "daemon": self.daemon.pid if self.daemon is not None else 0,
            "double": self.double.pid if self.double is not None else 0,
            "address": self.address,
        }
        (self.directory / _STATE_NAME).write_text(json.dumps(state), "utf-8")

    def stop(self) -> None:
        """End the double, then the bus (by PID), and remove the directory."""
        for process in (self.double, self.daemon):
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_GRACE_S)
        for process in (self.double, self.daemon):
            if process is not None and process.stdout is not None:
                process.stdout.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def environment(self) -> dict[str, str]:
        """The variables a bleak process needs to use this tier."""
        if self.address is None:
            raise TierError("the BlueZ tier is not started")
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.address}
