"""Keyboard passcodes and the admin code on the virtual lock.

0x03 MANAGE_KEYBOARD_PASSWORD adds, deletes, modifies and clears passcodes,
0x07 PWD_LIST pages through them, 0x53 SET_ADMIN_KEYBOARD_PWD sets the keypad
admin ("super") code and 0x65 GET_ADMIN_CODE reads it (docs/protocol.md §4.2,
§4.3 step 6). The codes are secrets: they stay out of every repr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ttlock_hil.protocol.errormap import LockError
from ttlock_hil.protocol.messages import (
    MAX_SEED_CODE,
    PASSCODE_PAGING,
    AckReply,
    AdminCodeReply,
    Feature,
    GetAdminCode,
    GetPasscodeList,
    InitPasswords,
    LockDate,
    LogRecord,
    LogType,
    PasscodeAdd,
    PasscodeClear,
    PasscodeDelete,
    PasscodeListEntry,
    PasscodeListReply,
    PasscodeModify,
    PasscodeRecover,
    PasscodeReply,
    PasscodeType,
    PasswordSeed,
    Request,
    SetAdminPasscode,
)

from .lock_rules import FOREVER, Refused, Validity, window

if TYPE_CHECKING:
    from .lock_model import LockModel

__all__ = ["HANDLERS", "Keypad", "StoredPasscode"]

_PASSCODE_TYPES: Final = frozenset(
    {PasscodeType.PERMANENT, PasscodeType.COUNT, PasscodeType.PERIOD}
)


PASSCODE_SLOT_BYTES: Final = 20
"""Our decision: a 0x07 cursor is the passcode's memory offset, ``slot × 20`` — an opaque
number, as the one captured reply's ``0x00B4`` shows (docs/protocol.md §10.3.7)."""

_CYCLE_BASE: Final = 1000
_WORKDAYS: Final = frozenset(range(5))
_WEEKEND: Final = frozenset({5, 6})
_EVERY_DAY: Final = frozenset(range(7))


def cycle_days_and_hours(cycle_type: int) -> tuple[frozenset[int], int] | None:
    """Weekdays (0 = Monday) and hours of a cyclic passcode's ``cycleType``, or None.

    docs/protocol.md §10.3.2's **inference**, ``cycleType = 1000 + 24·(cloudType − 5) +
    (hours − 1)``: cloud type 5 weekend, 6 daily, 7 workdays, 8..14 Monday..Sunday.
    """
    offset = cycle_type - _CYCLE_BASE
    if not 0 <= offset < 24 * 10:
        return None
    cloud, hours = 5 + offset // 24, offset % 24 + 1
    days = {5: _WEEKEND, 6: _EVERY_DAY, 7: _WORKDAYS}.get(cloud, frozenset({cloud - 8}))
    return days, hours


@dataclass(frozen=True, slots=True, repr=False)
class StoredPasscode:
    """A keyboard passcode held by the lock (the code itself stays out of reprs).

    ``slot`` is where it sits in the lock's memory (the 0x07 cursor), ``cycle_type``
    the repetition of a cyclic passcode (type 4, only ever written by a recovery).
    """

    passcode_type: int
    validity: Validity
    slot: int = 0
    cycle_type: int | None = None

    def __repr__(self) -> str:
        return f"StoredPasscode(type={self.passcode_type}, validity={self.validity})"

    @property
    def one_time(self) -> bool:
        """Count passcodes (type 2) are what the vendor uses for one-time codes (§10.3.2);
        our decision: the lock uses one up with its first opening (§10.5 item 3)."""
        return self.passcode_type == PasscodeType.COUNT

    def works_at(self, now: datetime) -> bool:
        """Whether the keypad accepts it at lock-local ``now``."""
        if self.passcode_type != PasscodeType.CYCLIC:
            return self.validity.covers(LockDate.of(now))
        if LockDate.of(now) < self.validity.start or self.cycle_type is None:
            return False
        decoded = cycle_days_and_hours(self.cycle_type)
        if decoded is None:
            return False
        days, hours = decoded
        begin = self.validity.start.hour * 60 + self.validity.start.minute
        minute = now.hour * 60 + now.minute
        return now.weekday() in days and begin <= minute < begin + 60 * hours


@dataclass(slots=True, repr=False)
class Keypad:
    """The passcodes the keypad accepts (by code) and its admin code (secrets: no repr)."""

    passcodes: dict[str, StoredPasscode] = field(default_factory=dict)
    admin_code: str | None = None
    seeds: tuple[PasswordSeed, ...] = ()
    """The offline-passcode seeds of 0x31 (ten years, §10.3.1); kept, not used (§10.5 item 1)."""
    seeds_first_year: int | None = None

    def __repr__(self) -> str:
        admin = "set" if self.admin_code is not None else "none"
        return f"Keypad({len(self.passcodes)} passcodes, admin code {admin})"

    def taken(self, code: str) -> bool:
        """Whether ``code`` is already a passcode or the admin code."""
        return code in self.passcodes or code == self.admin_code

    def store(
        self,
        code: str,
        passcode_type: int,
        validity: Validity,
        *,
        replaces: str | None = None,
        cycle_type: int | None = None,
    ) -> None:
        """Keep ``code`` in the slot of ``replaces`` (a modify) or in the first free one."""
        old = self.passcodes.pop(replaces, None) if replaces is not None else None
        if old is not None:
            slot = old.slot
        else:
            used = {stored.slot for stored in self.passcodes.values()}
            slot = next(n for n in range(len(used) + 1) if n not in used)
        self.passcodes[code] = StoredPasscode(passcode_type, validity, slot, cycle_type)


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
    keypad.store(request.passcode, request.passcode_type, validity)
    return PasscodeReply(lock.battery, 2)


def on_passcode_recover(lock: LockModel, request: PasscodeRecover) -> PasscodeReply:
    """0x03 op 6: write a passcode back with its window (§10.2.1), e.g. after a firmware
    upgrade. The per-item refusals are our reading of their names (§10.2.1 *inf.*):
    0x14 exists, 0x0F length, 0x16 memory full; a cyclic one (type 4) needs feature 40."""
    keypad = lock.memory.keypad
    code = request.new_passcode
    _check_passcode(code)
    if keypad.taken(code):
        raise Refused(LockError.PASSWORD_EXIST)
    if len(keypad.passcodes) >= lock.preset.passcode_capacity:
        raise Refused(LockError.NO_FREE_MEMORY, "passcode memory full")
    if request.passcode_type == PasscodeType.CYCLIC:
        if not lock.preset.has(Feature.CYCLIC_PASSCODE_RECOVERY):
            raise Refused(LockError.INVALID_PARAM, "no cyclic passcode recovery (feature 40)")
    elif request.passcode_type not in _PASSCODE_TYPES:
        raise Refused(LockError.INVALID_PARAM, "unknown passcode type")
    validity = window(request.start, request.end)
    keypad.store(code, request.passcode_type, validity, cycle_type=request.cycle_type)
    return PasscodeReply(lock.battery, 6)


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
    keypad.store(new, stored.passcode_type, validity, replaces=old, cycle_type=stored.cycle_type)
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
    dated = stored.passcode_type in (PasscodeType.COUNT, PasscodeType.PERIOD)
    end = (stored.validity.end or FOREVER) if dated else None
    cycle = stored.cycle_type if stored.passcode_type == PasscodeType.CYCLIC else None
    extra = cycle.to_bytes(2, "big") if cycle is not None else b""
    return PasscodeListEntry(stored.passcode_type, code, code, stored.validity.start, end, extra)


def on_passcode_list(lock: LockModel, request: GetPasscodeList) -> PasscodeListReply:
    """One passcode per reply; the cursor is its memory offset (:data:`PASSCODE_SLOT_BYTES`)."""
    stored = sorted(lock.memory.keypad.passcodes.items(), key=lambda item: item[1].slot)
    positioned = [
        (entry.slot * PASSCODE_SLOT_BYTES, _list_entry(code, entry)) for code, entry in stored
    ]
    return PASSCODE_PAGING.answer(
        request.seq, positioned, lock.battery, per_page=lock.preset.items_per_page
    )


def on_init_passwords(lock: LockModel, request: InitPasswords) -> AckReply:
    """0x31: keep the ten years of seeds (§10.3.1). Our decision: a code the vendor would
    never draw (above 1070) or two equal codes is 0x0B INIT_KEYBOARD_FAILED, the error the
    vendor names for this command."""
    codes = [seed.code for seed in request.seeds]
    if max(codes) > MAX_SEED_CODE or len(set(codes)) != len(codes):
        raise Refused(LockError.INIT_KEYBOARD_FAILED, "seed codes must be distinct, 0..1070")
    keypad = lock.memory.keypad
    keypad.seeds = request.seeds
    keypad.seeds_first_year = request.first_year
    return AckReply(lock.battery)


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
        PasscodeRecover: on_passcode_recover,
        InitPasswords: on_init_passwords,
        SetAdminPasscode: on_set_admin_code,
        GetAdminCode: on_get_admin_code,
    }
)
"""Request type → handler, for the pipeline's dispatch."""
