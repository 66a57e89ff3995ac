"""Keyboard passcodes and the admin code on the virtual lock.

0x03 MANAGE_KEYBOARD_PASSWORD adds, deletes, modifies and clears passcodes,
0x07 PWD_LIST pages through them, 0x53 SET_ADMIN_KEYBOARD_PWD sets the keypad
admin ("super") code and 0x65 GET_ADMIN_CODE reads it (docs/protocol.md §4.2,
§4.3 step 6). The codes are secrets: they stay out of every repr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    AdminCodeReply,
    GetAdminCode,
    GetPasscodeList,
    LogRecord,
    LogType,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListEntry,
    PasscodeListReply,
    PasscodeModify,
    PasscodeReply,
    PasscodeType,
    Request,
    SetAdminPasscode,
)

from .lock_rules import Refused, Validity, fill_page, window

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "Keypad", "StoredPasscode"]

_PASSCODE_TYPES: Final = frozenset(
    {PasscodeType.PERMANENT, PasscodeType.COUNT, PasscodeType.PERIOD}
)


@dataclass(frozen=True, slots=True, repr=False)
class StoredPasscode:
    """A keyboard passcode held by the lock (the code itself stays out of reprs)."""

    passcode_type: int
    validity: Validity

    def __repr__(self) -> str:
        return f"StoredPasscode(type={self.passcode_type}, validity={self.validity})"


@dataclass(slots=True, repr=False)
class Keypad:
    """The passcodes the keypad accepts (by code) and its admin code (secrets: no repr)."""

    passcodes: dict[str, StoredPasscode] = field(default_factory=dict)
    admin_code: str | None = None

    def __repr__(self) -> str:
        admin = "set" if self.admin_code is not None else "none"
        return f"Keypad({len(self.passcodes)} passcodes, admin code {admin})"

    def taken(self, code: str) -> bool:
        """Whether ``code`` is already a passcode or the admin code."""
        return code in self.passcodes or code == self.admin_code


def _check_passcode(passcode: str) -> None:
    if not 4 <= len(passcode) <= 9:
        raise Refused(LockError.PASSWORD_LENGTH_INVALID, "passcodes have 4..9 digits")
    if not passcode.isdigit():
        raise Refused(LockError.INVALID_PARAM, "passcodes are decimal digits")


def on_passcode_add(lock: LockModel, request: PasscodeAdd) -> PasscodeReply:
    keypad = lock.memory.keypad
    _check_passcode(request.passcode)
    if keypad.taken(request.passcode):
        raise Refused(LockError.PASSWORD_EXIST)
    if len(keypad.passcodes) >= lock.preset.passcode_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "passcode memory full")
    if request.passcode_type not in _PASSCODE_TYPES:
        raise Refused(LockError.INVALID_PARAM, "unknown passcode type")
    validity = window(request.start, request.end)
    keypad.passcodes[request.passcode] = StoredPasscode(request.passcode_type, validity)
    return PasscodeReply(lock.battery, 2)


def on_passcode_delete(lock: LockModel, request: PasscodeDelete) -> PasscodeReply:
    if lock.memory.keypad.passcodes.pop(request.passcode, None) is None:
        raise Refused(LockError.PASSWORD_NOT_EXIST)
    lock.write_log(
        LogRecord.with_passcode(
            LogType.REMOVE_SINGLE_PASSWORD, lock.lock_date(), lock.battery, request.passcode
        )
    )
    return PasscodeReply(lock.battery, 3)


def on_passcode_modify(lock: LockModel, request: PasscodeModify) -> PasscodeReply:
    keypad = lock.memory.keypad
    old, new = request.old_passcode, request.new_passcode
    stored = keypad.passcodes.get(old)
    if stored is None:
        raise Refused(LockError.PASSWORD_NOT_EXIST)
    _check_passcode(new)
    if new != old and keypad.taken(new):
        raise Refused(LockError.PASSWORD_EXIST)
    validity = window(request.start, request.end)
    del keypad.passcodes[old]
    keypad.passcodes[new] = StoredPasscode(stored.passcode_type, validity)
    lock.write_log(
        LogRecord.with_passcode(
            LogType.KEYBOARD_MODIFY_PASSWORD, lock.lock_date(), lock.battery, old, new
        )
    )
    return PasscodeReply(lock.battery, 5)


def on_passcode_clear(lock: LockModel, request: PasscodeClear) -> PasscodeReply:
    lock.memory.keypad.passcodes.clear()
    now = lock.lock_date()
    # docs/protocol.md §4.5: type 8's tail is the deletion date, 5 bytes.
    tail = now.without_seconds().to_bytes(seconds=False)
    lock.write_log(LogRecord(LogType.REMOVE_ALL_PASSWORDS, now, lock.battery, tail))
    return PasscodeReply(lock.battery, 1)


def _list_entry(code: str, stored: StoredPasscode) -> PasscodeListEntry:
    permanent = stored.passcode_type == PasscodeType.PERMANENT
    end = None if permanent else stored.validity.end
    return PasscodeListEntry(stored.passcode_type, code, code, stored.validity.start, end)


def on_passcode_list(lock: LockModel, request: GetPasscodeList) -> PasscodeListReply:
    entries = [_list_entry(code, stored) for code, stored in lock.memory.keypad.passcodes.items()]
    if request.seq >= len(entries):
        return PasscodeListReply(0)  # the bare 00 00 that ends the list (§4.2)
    page = fill_page(entries, request.seq, lambda entry: len(entry.encode()))
    total = sum(len(entry.encode()) for entry in page)
    return PasscodeListReply(total, request.seq + len(page), tuple(page))


def on_set_admin_code(lock: LockModel, request: SetAdminPasscode) -> bytes:
    code = request.passcode
    if not 4 <= len(code) <= 9:
        raise Refused(LockError.PASSWORD_LENGTH_INVALID, "admin code has 4..9 digits")
    if lock.delete_passcode is not None and code == lock.delete_passcode:
        raise Refused(LockError.SUPER_PASSWORD_SAME_AS_DELETE)
    lock.memory.keypad.admin_code = code
    return b""


def on_get_admin_code(lock: LockModel, request: GetAdminCode) -> AdminCodeReply:
    return AdminCodeReply(lock.battery, lock.memory.keypad.admin_code or "")


HANDLERS: Final[Mapping[type[Request], Callable[[LockModel, Any], object]]] = MappingProxyType(
    {
        PasscodeAdd: on_passcode_add,
        PasscodeDelete: on_passcode_delete,
        PasscodeModify: on_passcode_modify,
        PasscodeClear: on_passcode_clear,
        GetPasscodeList: on_passcode_list,
        SetAdminPasscode: on_set_admin_code,
        GetAdminCode: on_get_admin_code,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
