"""protocol.login: the check value of docs/protocol.md §4.3, the one definition both roles use."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.errors import ProtocolError
from ttlock_hil.protocol.login import U32_LIMIT, check_value
from ttlock_hil.protocol.messages import CheckRandom, FunctionLock, Unlock

PS = 0x1DB78A8F  # the real ps of the vectors' capture (§4.3)
UNLOCK_KEY = 87654321
SECRET_KEY = 3_141_592_653

u32 = st.integers(0, U32_LIMIT - 1)


def test_the_check_value_of_the_vectors_is_ps_plus_the_unlock_key(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    # frame.check_random_0x30 carries exactly the value, big-endian (§4.3).
    plaintext = bytes.fromhex(vectors_by_id["frame.check_random_0x30"]["input"]["plaintext_hex"])
    assert check_value(PS, UNLOCK_KEY).to_bytes(4, "big") == plaintext
    unlock = bytes.fromhex(vectors_by_id["frame.unlock_0x47"]["input"]["plaintext_hex"])
    assert unlock[:4] == plaintext


@given(ps=u32, unlock_key=u32)
def test_the_check_value_is_the_sum_modulo_2_to_the_32(ps: int, unlock_key: int) -> None:
    value = check_value(ps, unlock_key)
    assert 0 <= value < U32_LIMIT
    assert (value - ps - unlock_key) % U32_LIMIT == 0
    assert value == check_value(unlock_key, ps)


@given(ps=u32, unlock_key=u32)
def test_the_app_messages_carry_the_same_check_value(ps: int, unlock_key: int) -> None:
    expected = check_value(ps, unlock_key)
    assert CheckRandom.answer(ps, unlock_key).check_value == expected
    assert Unlock.answer(ps, unlock_key, 0).check_value == expected
    assert FunctionLock.answer(ps, unlock_key, 0).check_value == expected


def test_a_sum_past_2_to_the_32_wraps() -> None:
    assert check_value(U32_LIMIT - 1, 2) == 1


@pytest.mark.parametrize(
    ("ps", "unlock_key", "named"),
    [(-1, 1, "ps"), (U32_LIMIT, 1, "ps"), (1, SECRET_KEY * 2, "unlock_key"), (True, 1, "ps")],
)
def test_an_argument_outside_u32_is_named_but_not_echoed(
    ps: int, unlock_key: int, named: str
) -> None:
    with pytest.raises(ProtocolError, match=named) as caught:
        check_value(ps, unlock_key)
    assert str(SECRET_KEY * 2) not in str(caught.value)
