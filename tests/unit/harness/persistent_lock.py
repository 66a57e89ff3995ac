"""A virtual lock whose state outlives the process, like a real lock's flash.

:class:`PersistentLock` wraps a :class:`~ttlock_hil.harness.sim.lock.VirtualLock` and
implements the :class:`~ttlock_hil.harness.sim.device.VirtualDevice` protocol by
delegation; after every call that can change the lock (a received request, a
connect or disconnect, pushes taken) it pickles the lock to a file, atomically
(:func:`ttlock_hil.harness.credentials.write_atomically`). A process killed at any
instant leaves the state of the last completed step on disk.

The crash test of ``init()`` runs the harness in a child process against a
``PersistentLock`` and kills it; the parent then loads the file with
:meth:`PersistentLock.load` and calls ``on_disconnect()`` on it — the link
died with the child — before looking at what the lock holds.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

from ttlock_hil.harness.credentials import write_atomically
from ttlock_hil.harness.sim.device import Advertisement, DeviceKind, GattProfile
from ttlock_hil.harness.sim.faults import frame_command
from ttlock_hil.harness.sim.lock import VirtualLock


class PersistentLock:
    """A VirtualDevice delegating to a VirtualLock kept in ``path`` (see the module docstring).

    ``create`` builds the lock when ``path`` does not exist yet. ``after_request``
    is called with the opcode of each request the lock processed, once its new
    state is on disk (and before the reply reaches the app).
    """

    def __init__(
        self,
        path: Path,
        create: Callable[[], VirtualLock],
        *,
        after_request: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock = self.load(self.path) if self.path.exists() else create()
        self._after_request = after_request
        self.save()

    @staticmethod
    def load(path: Path) -> VirtualLock:
        """The lock as last saved in ``path``."""
        lock = pickle.loads(Path(path).read_bytes())
        if not isinstance(lock, VirtualLock):
            raise TypeError(f"{path} does not hold a VirtualLock")
        return lock

    def save(self) -> None:
        write_atomically(self.path, pickle.dumps(self.lock))

    # --- VirtualDevice ------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.lock.name

    @property
    def address(self) -> str:
        return self.lock.address

    @property
    def kind(self) -> DeviceKind:
        return self.lock.kind

    @property
    def gatt(self) -> GattProfile:
        return self.lock.gatt

    def advertisement(self) -> Advertisement:
        return self.lock.advertisement()

    def receive(self, data: bytes) -> list[bytes]:
        replies = self.lock.receive(data)
        self.save()
        start = data.find(b"\x7f\x5a")
        command = frame_command(data[start:]) if start >= 0 else None
        if command is not None and self._after_request is not None:
            self._after_request(command)
        return replies

    def take_pushes(self) -> list[bytes]:
        pushes = self.lock.take_pushes()
        if pushes:
            self.save()
        return pushes

    def error_reply(self, command: int, error: int) -> bytes:
        return self.lock.error_reply(command, error)

    def push_frame(self) -> bytes:
        return self.lock.push_frame()

    def on_connect(self) -> None:
        self.lock.on_connect()
        self.save()

    def on_disconnect(self) -> None:
        self.lock.on_disconnect()
        self.save()
