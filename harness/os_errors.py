"""An ``OSError`` told apart: the file system, or the Bluetooth stack.

Both raise ``OSError``: a full disk, a permission problem or a device name too long
for a file name, and a missing D-Bus socket or a dead adapter. Blaming Bluetooth for a
full disk sends an engineer to the wrong end of the bench; :func:`describe` names
what failed and the fix that fits.
"""

from __future__ import annotations

import errno
from typing import Final

__all__ = ["describe", "is_bluetooth"]

_DBUS_HINTS: Final = ("dbus", "bus_socket", "bluez", "hci")

_FS_FIXES: Final = {
    errno.ENOSPC: "free some space (df -h), or point reports:/--out at another disk",
    errno.EDQUOT: "free some space within your quota, or point reports:/--out elsewhere",
    errno.EACCES: "check the permissions of the path (ls -ld), or choose a writable one",
    errno.EPERM: "check the permissions of the path (ls -ld), or choose a writable one",
    errno.EROFS: "the file system is read-only: choose a writable path",
    errno.ENAMETOOLONG: "use a shorter device name or path (most file systems allow 255 bytes)",
    errno.ENOTDIR: "a file stands where a directory is needed: rename it or choose another path",
    errno.EISDIR: "a directory stands where a file is needed: name the file itself",
    errno.EEXIST: "something already exists at that path: remove it or choose another",
    errno.ENOENT: "create the directory first, or fix the path",
}


_FILELESS_FS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def is_bluetooth(exc: OSError) -> bool:
    """Whether ``exc`` comes from reaching the Bluetooth stack (D-Bus, BlueZ, the adapter)."""
    name = str(exc.filename or "") + str(exc.filename2 or "")
    if any(hint in name.lower() for hint in _DBUS_HINTS):
        return True
    # A file-system error names its file — except writes to a full or read-only disk.
    return exc.filename is None and exc.errno not in _FILELESS_FS


def describe(exc: OSError) -> str:
    """One line: what failed and the fix."""
    reason = exc.strerror or str(exc)
    if is_bluetooth(exc):
        return (
            f"Bluetooth is not usable: {reason} — fix: check the adapter (bluetoothctl show), "
            "that BlueZ and D-Bus run, and the adapters: of the config"
        )
    where = f" {exc.filename}" if exc.filename is not None else ""
    fix = _FS_FIXES.get(exc.errno or 0, "check the path, its permissions and free space")
    return f"cannot use{where}: {reason} — fix: {fix}"
