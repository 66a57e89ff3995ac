"""protocol.errormap.LockError: the one enum of lock error bytes (docs/protocol.md §5.1).

The mapping table, the gate table of protocol.connection and both roles use it.
"""

from __future__ import annotations

from ttlock_hil.protocol.connection import GATE_RULES, LockConnection
from ttlock_hil.protocol.errormap import (
    COMMAND_RECEIVED_BYTE,
    LOCK_ERROR_FALLBACK,
    LOCK_ERROR_TABLE,
    LockError,
    is_processing,
    lock_error_code,
)
from ttlock_hil.protocol.messages import COMMAND_RECEIVED, Reply


def test_every_row_of_the_mapping_table_is_keyed_by_a_member() -> None:
    assert all(isinstance(row.byte, LockError) for row in LOCK_ERROR_TABLE)
    rows = {row.byte for row in LOCK_ERROR_TABLE}
    # Only the byte TTLOCK-BLE saw (§5.1 last row) is not the vendor's: no row of its own.
    assert set(LockError) - rows == {LockError.UNRECOGNISED_STEP}


# Where our member name is not the vendor's minus ``LOCK_`` (shorter, or kept whole).
RENAMED = {
    LockError.IN_SETTING_MODE: "LOCK_IS_IN_SETTING_MODE",
    LockError.NO_ADMIN: "LOCK_NOT_EXIST_ADMIN",
    LockError.NOT_IN_SETTING_MODE: "LOCK_IS_IN_NO_SETTING_MODE",
    LockError.SUPER_PASSWORD_SAME_AS_DELETE: "LOCK_SUPER_PASSWORD_IS_SAME_WITH_DELETE_PASSWORD",
    LockError.LOCK_REVERSE: "LOCK_REVERSE",
}


def test_member_names_are_the_vendor_names_of_their_rows_without_the_prefix() -> None:
    for row in LOCK_ERROR_TABLE:
        if row.byte in RENAMED:
            assert RENAMED[row.byte] == row.vendor_name
        else:
            assert row.byte.name == row.vendor_name.removeprefix("LOCK_")


def test_the_wx_code_of_a_defined_byte_is_the_byte_in_decimal() -> None:
    assert lock_error_code(LockError.LOCK_REVERSE).code == 30
    assert lock_error_code(LockError.RECORD_NOT_EXIST).code == 31
    assert lock_error_code(LockError.UNRECOGNISED_STEP).code == LOCK_ERROR_FALLBACK


def test_processing_is_one_byte_in_every_home() -> None:
    assert COMMAND_RECEIVED_BYTE == COMMAND_RECEIVED == LockError.COMMAND_RECEIVED
    assert is_processing(LockError.COMMAND_RECEIVED)
    assert Reply.failure(0x47, LockError.COMMAND_RECEIVED).is_processing


def test_the_gate_table_refuses_with_members_of_the_same_enum() -> None:
    for rule in GATE_RULES.values():
        for refusal in (rule.refused_in_setting_mode, rule.refused_when_paired):
            assert refusal is None or isinstance(refusal, LockError)
    verdict = LockConnection(setting_mode=False)
    verdict.connect()
    assert verdict.predict(0x47).error is LockError.USER_NOT_LOGIN
