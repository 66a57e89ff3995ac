"""protocol.messages.paging: list paging declared once, read by the app and written by the lock.

The end markers and the one-item-per-reply rule are docs/protocol.md §10.3.7's; the
captured replies below are the ones that section quotes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.messages import (
    FINGERPRINT_PAGING,
    IC_PAGING,
    LIST_PAGINGS,
    LOG_PAGING,
    NEW_RECORDS,
    PASSAGE_MODE_PAGING,
    PASSCODE_PAGING,
    WIFI_SLEEP_PAGING,
    FrEntry,
    IcEntry,
    ListPaging,
    LockDate,
    LogRecord,
    PassageModeEntry,
    PasscodeListEntry,
    PasscodeListReply,
    decode_reply_data,
)

D = LockDate(2026, 1, 1)
E = LockDate(2099, 12, 31, 23, 59)

ITEMS: dict[str, Any] = {
    "passcodes": lambda n: PasscodeListEntry(1, f"{1000 + n}", f"{1000 + n}", D),
    "IC cards": lambda n: IcEntry(0x1000 + n, D, E),
    "fingerprints": lambda n: FrEntry(0xAB00 + n, D, E),
    "operate log": lambda n: LogRecord.app(1, LockDate(2026, 1, 1, 12, 0, n % 60), 80, 0, n),
    "passage modes": lambda n: PassageModeEntry(1, 1 + n % 7, 0, n % 24, 0, n % 24, 30),
    "Wi-Fi power-saving windows": lambda n: PassageModeEntry(1, 1 + n % 7, 1, 0, 0, 6, 0),
}
PAGINGS = sorted(LIST_PAGINGS.values(), key=lambda p: p.name)


def read_all(
    paging: ListPaging[Any, Any, Any], lock: Any, *, first: int | None = None
) -> tuple[list[Any], list[int]]:
    """The app's loop: ask, take the items, follow the cursor; returns items and cursors asked."""
    items: list[Any] = []
    asked: list[int] = []
    cursor: int | None = paging.first if first is None else first
    while cursor is not None:
        asked.append(cursor)
        request = paging.request(cursor)
        reply = decode_reply_data(paging.command, lock(request).encode())
        items.extend(paging.items(reply))
        cursor = paging.follow(reply, asked)
        assert len(asked) < 1000, "the list never ended"
    return items, asked


def serving(
    paging: ListPaging[Any, Any, Any], positioned: list[tuple[int, Any]], *, per_page: int = 1
) -> Any:
    def lock(request: Any) -> Any:
        cursor = paging.cursor(request)
        if cursor == NEW_RECORDS and paging is LOG_PAGING:
            cursor = 0  # the lock's read cursor: nothing read yet
        return paging.answer(cursor, positioned, 80, per_page=per_page)

    return lock


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
def test_a_lock_sends_one_item_per_reply_and_the_app_reads_them_all(
    paging: ListPaging[Any, Any, Any],
) -> None:
    items = [ITEMS[paging.name](n) for n in range(5)]
    positioned = list(enumerate(items))
    read, asked = read_all(paging, serving(paging, positioned))
    assert read == items
    assert len(asked) == len(items) + 1  # one request per item, then the end reply


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
def test_the_app_still_takes_pages_with_several_items(paging: ListPaging[Any, Any, Any]) -> None:
    items = [ITEMS[paging.name](n) for n in range(7)]
    read, asked = read_all(paging, serving(paging, list(enumerate(items)), per_page=3))
    assert read == items
    assert len(asked) == 4  # 3 + 3 + 1, then the end


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
def test_cursors_are_opaque_positions_not_indexes(paging: ListPaging[Any, Any, Any]) -> None:
    # §10.3.7: a real 0x07 reply carried 0x00B4 for a lock's only passcode.
    items = [ITEMS[paging.name](n) for n in range(3)]
    positioned = [(12 + 40 * n, item) for n, item in enumerate(items)]
    read, asked = read_all(paging, serving(paging, positioned))
    assert read == items
    assert asked[1:] == [52, 92, 93]


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
def test_an_empty_list_is_one_end_reply(paging: ListPaging[Any, Any, Any]) -> None:
    read, asked = read_all(paging, serving(paging, []))
    assert (read, asked) == ([], [paging.first])


@pytest.mark.parametrize(
    ("paging", "end"),
    [
        (PASSCODE_PAGING, "0000"),  # a bare 00 00
        (IC_PAGING, "5001ffff"),  # captured 55 01 ff ff (battery 0x55)
        (FINGERPRINT_PAGING, "5006ffff"),  # captured 64 06 ff ff (battery 0x64)
        (LOG_PAGING, "0000"),  # totalLen 0
        (PASSAGE_MODE_PAGING, "5001ff"),
        (WIFI_SLEEP_PAGING, "5001ff"),
    ],
    ids=lambda v: v.name if isinstance(v, ListPaging) else v,
)
def test_end_replies_are_the_documented_markers(
    paging: ListPaging[Any, Any, Any], end: str
) -> None:
    assert paging.end(0x50).encode().hex() == end
    assert paging.follow(paging.end(0x50)) is None


def test_the_captured_ic_and_fingerprint_ends_stop_the_app() -> None:
    # §10.3.7: 0x05 "55 01 ff ff", 0x06 "64 06 ff ff".
    assert IC_PAGING.follow(decode_reply_data(0x05, bytes.fromhex("5501ffff"))) is None
    assert FINGERPRINT_PAGING.follow(decode_reply_data(0x06, bytes.fromhex("6406ffff"))) is None


def test_the_captured_passcode_page_counts_what_follows_total_len() -> None:
    # §10.3.7 (KIND3R capture): 0017 00b4 14 01 06 "123456" 06 "123456" 0001010000.
    data = bytes.fromhex("001700b41401063132333435360631323334353600" + "01010000")
    reply = decode_reply_data(0x07, data)
    assert isinstance(reply, PasscodeListReply)
    entry = PasscodeListEntry(1, "123456", "123456", LockDate(2000, 1, 1))
    assert reply == PasscodeListReply(23, 0xB4, (entry,))
    assert PASSCODE_PAGING.page(0, (entry,), 0xB4) == reply
    assert PASSCODE_PAGING.follow(reply, [0]) == 0xB4


def test_a_passcode_list_that_hands_back_cursor_0_is_over() -> None:
    # §10.3.7 (TTLOCK-BLE, hardware): a real last item may come with nextSeq 0.
    last = PASSCODE_PAGING.page(0, (ITEMS["passcodes"](1),), 0)
    assert PASSCODE_PAGING.follow(last, [0, 0xB4]) is None
    # ... and the vendor also stops at nextSeq 0xFFFF.
    vendor_end = PasscodeListReply(23, 0xFFFF, (ITEMS["passcodes"](1),))
    assert PASSCODE_PAGING.follow(vendor_end, [0]) is None


def test_past_the_last_log_record_the_lock_answers_an_empty_page() -> None:
    # §10.3.7: never an error (a "read all" loop would walk the whole 16-bit range).
    records = [(n, ITEMS["operate log"](n)) for n in range(3)]
    assert LOG_PAGING.answer(60000, records, 80).encode().hex() == "0000"
    assert LOG_PAGING.request().seq == NEW_RECORDS


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
def test_a_lock_cannot_hand_out_the_end_marker_as_a_cursor(
    paging: ListPaging[Any, Any, Any],
) -> None:
    for bad in (paging.cursor_max + 1, -1):
        with pytest.raises(MessageError, match="cursor"):
            paging.page(80, (ITEMS[paging.name](0),), bad)


@pytest.mark.parametrize("paging", PAGINGS, ids=lambda p: p.name)
@given(
    gaps=st.lists(st.integers(1, 9), max_size=12),
    per_page=st.integers(1, 4),
)
def test_any_positions_and_page_size_read_back_in_order(
    paging: ListPaging[Any, Any, Any], gaps: list[int], per_page: int
) -> None:
    positions = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    items = [ITEMS[paging.name](n) for n in range(len(gaps))]
    read, _ = read_all(
        paging, serving(paging, list(zip(positions, items, strict=True)), per_page=per_page)
    )
    assert read == items
