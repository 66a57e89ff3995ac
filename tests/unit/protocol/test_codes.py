"""The error-code registry matches the published seed row by row, and its queries behave."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SEED_PATH
from ttlock_hil.protocol.codes import (
    DEFAULT_PLUGIN_VERSION,
    Category,
    CategoryError,
    Code,
    ErrorCode,
    PluginVersion,
    PluginVersionError,
    all_codes,
    by_category,
    is_valid,
    lookup,
    parse_category,
    table_versions,
    valid_in,
)
from ttlock_hil.protocol.errors import ProtocolError, UnknownCode

# ----------------------------------------------------------------------------- the seed itself


def seed_path() -> Path:
    """The seed error-code table, kept in the repository as test data."""
    return SEED_PATH


@dataclass(frozen=True)
class SeedRow:
    value: int
    version: str | None
    absent: str | None
    description: str


_ROW = re.compile(r"^\s*\|\s*(-?\d+)\s*\|([^|]*)\|([^|]*)\|(.*)\|\s*$")


def parse_seed(text: str) -> list[SeedRow]:
    """The rows of the seed's markdown table (``|VALUE|VERSION|ABSENT|DESCRIPTION|``)."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        value, version, absent, description = match.groups()
        rows.append(
            SeedRow(
                int(value), version.strip() or None, absent.strip() or None, description.strip()
            )
        )
    return rows


@pytest.fixture(scope="module")
def seed_rows() -> list[SeedRow]:
    return parse_seed(seed_path().read_text(encoding="utf-8"))


def test_the_seed_has_121_rows_and_119_distinct_codes(seed_rows: list[SeedRow]) -> None:
    assert len(seed_rows) == 121
    assert len({row.value for row in seed_rows}) == 119
    assert [row.value for row in seed_rows].count(10101) == 3


def test_the_seeds_repeated_10101_rows_are_identical(seed_rows: list[SeedRow]) -> None:
    assert len({row for row in seed_rows if row.value == 10101}) == 1


def test_every_seed_row_matches_the_shipped_registry(seed_rows: list[SeedRow]) -> None:
    for row in seed_rows:
        entry = lookup(row.value)
        assert entry.code == row.value
        assert (str(entry.since) if entry.since else None) == row.version, row
        assert (str(entry.absent) if entry.absent else None) == row.absent, row
        assert entry.zh == row.description, row  # verbatim, 10304's typo included


def test_the_registry_has_exactly_the_seeds_distinct_codes(seed_rows: list[SeedRow]) -> None:
    assert [e.code for e in all_codes()] == sorted({row.value for row in seed_rows})
    assert len(all_codes()) == 119


def test_table_versions_are_the_versions_the_seed_names(seed_rows: list[SeedRow]) -> None:
    named = {v for row in seed_rows for v in (row.version, row.absent) if v}
    assert [str(v) for v in table_versions()] == sorted(named, key=PluginVersion.parse)


def test_10304_keeps_the_published_typo_and_gives_the_corrected_text() -> None:
    entry = lookup(10304)
    assert entry.zh == "效的请求地址"
    assert entry.zh_corrected == "无效的请求地址"
    assert entry.note is not None
    assert "效的请求地址" in entry.note


def test_only_10304_needs_a_corrected_chinese_text() -> None:
    assert [e.code for e in all_codes() if e.zh_corrected is not None] == [10304]


_PLATFORM_TAGS = {"iOS", "Android"}
_EN_CORRECTIONS = {11: ("falied", "failed")}  # the seed's English misspells 'failed'


def test_english_is_the_seeds_own_english_where_it_has_one(seed_rows: list[SeedRow]) -> None:
    checked = 0
    for row in seed_rows:
        match = re.search(r"\(([\x20-\x7e]+)\)$", row.description)
        if match is None or match[1] in _PLATFORM_TAGS:
            continue
        published = match[1]
        if row.value in _EN_CORRECTIONS:
            wrong, right = _EN_CORRECTIONS[row.value]
            published = published.replace(wrong, right)
            assert wrong in (lookup(row.value).note or "")
        assert lookup(row.value).en == published, row
        checked += 1
    assert checked == 25
    assert lookup(Code.OK).en == "OK"  # the seed writes "OK (操作成功)"
    assert lookup(Code.INVALID_COMMAND).en.startswith("Invalid command")


def test_every_code_has_an_english_text_and_a_category() -> None:
    for entry in all_codes():
        assert entry.en.strip(), entry.code
        assert entry.en.isascii(), entry.code
        assert isinstance(entry.category, Category)


# ------------------------------------------------------------------------------ Code constants


def test_code_names_every_registry_code_exactly_once() -> None:
    assert len(Code.__members__) == 119  # an alias (two names, one value) would show here
    assert {int(c) for c in Code} == {e.code for e in all_codes()}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OK", 0),
        ("CRC_ERROR", 1),
        ("NO_PERMISSION", 2),
        ("DOUBLE_LOCKED", 30),
        ("RECORD_NOT_EXIST", 31),
        ("INVALID_PARAM", 32),
        ("COMMAND_RECEIVED", 36),
        ("GATEWAY_FAILED", 128),
        ("GATEWAY_NO_NETWORK", 136),
        ("RESPONSE_TIMEOUT_LEGACY", -3),
        ("LOCK_MAY_BE_RESET", 10001),
        ("RESPONSE_TIMEOUT", 10017),
        ("SERVICE_MISSING", 10513),
        ("BLUETOOTH_BUSY", 11013),
        ("INVALID_PARAMETERS", 11003),
        ("UNSUPPORTED", 11004),
    ],
)
def test_code_constants_have_the_published_values(name: str, value: int) -> None:
    assert Code[name] == value
    assert lookup(value).name == name


def test_error_code_is_frozen_and_slotted() -> None:
    entry = lookup(Code.DOUBLE_LOCKED)
    with pytest.raises(AttributeError):
        entry.code = 31  # type: ignore[misc]
    assert not hasattr(entry, "__dict__")
    assert str(entry).startswith("30 DOUBLE_LOCKED: ")


# ---------------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("codes", "category"),
    [
        ((-4, -3, -2, -1, 10022), Category.PLUGIN_CALLBACK_STATE),
        ((1, 2, 3, 5, 19, 23, 30, 31, 32, 10010, 10035), Category.LOCK_DEVICE),
        ((36, 37, 38), Category.WIFI_LOCK),
        ((*range(128, 137), 10011), Category.GATEWAY),
        ((10001, 10002, 10003, 10004, 10017, 10018, 10032, 10033, 10034), Category.BLUETOOTH_LINK),
        ((10036, 10513, 11013, 13007), Category.BLUETOOTH_LINK),
        ((11003, 11004, 11009, 11014), Category.PARAMETER),
        ((10302, 10304, 10305, 11101), Category.SERVER_NETWORK),
        ((11015, 11016, 11017, 11018), Category.FIRMWARE),
        ((0, 99999), Category.GENERIC),
    ],
)
def test_codes_fall_in_their_category(codes: tuple[int, ...], category: Category) -> None:
    for code in codes:
        assert lookup(code).category is category, code


def test_every_category_has_codes_and_the_categories_partition_the_registry() -> None:
    seen: list[int] = []
    for category in Category:
        members = by_category(category)
        assert members, category
        seen += [e.code for e in members]
    assert sorted(seen) == [e.code for e in all_codes()]


@pytest.mark.parametrize(
    "text", ["Bluetooth/link", "bluetooth link", "BLUETOOTH_LINK", "bluetooth-link"]
)
def test_a_category_can_be_named_by_value_or_member_name(text: str) -> None:
    assert parse_category(text) is Category.BLUETOOTH_LINK
    assert by_category(text) == by_category(Category.BLUETOOTH_LINK)


def test_an_unknown_category_names_the_valid_ones() -> None:
    with pytest.raises(CategoryError) as info:
        by_category("radio")
    for category in Category:
        assert repr(category.value) in str(info.value)
    assert isinstance(info.value, ProtocolError)


# ------------------------------------------------------------------------------ plugin versions


def test_plugin_versions_compare_numerically_not_as_strings() -> None:
    assert PluginVersion.parse("2.10.0") > PluginVersion.parse("2.9.2")
    assert PluginVersion.parse("3.1.0").as_tuple() == (3, 1, 0)
    assert str(PluginVersion.parse(" 3.0.4 ")) == "3.0.4"
    assert PluginVersion.parse(PluginVersion(3, 1, 0)) == PluginVersion(3, 1, 0)


@pytest.mark.parametrize("text", ["3.x", "3.1", "", "3.1.0.0", "v3.1.0", "-1.0.0", "3..0", "٣.1.0"])
def test_garbage_plugin_versions_are_a_typed_error(text: str) -> None:
    with pytest.raises(PluginVersionError, match=r"MAJOR\.MINOR\.PATCH") as info:
        PluginVersion.parse(text)
    assert info.value.value == text
    assert "3.1.0" in str(info.value)


def test_a_non_string_plugin_version_is_a_typed_error() -> None:
    with pytest.raises(PluginVersionError, match="must be a string"):
        PluginVersion.parse(310)  # type: ignore[arg-type]
    with pytest.raises(PluginVersionError, match="non-negative"):
        PluginVersion(3, -1, 0)


_parts = st.integers(min_value=0, max_value=10**6)
_versions = st.builds(PluginVersion, _parts, _parts, _parts)


@given(_parts, _parts, _parts)
def test_plugin_version_text_round_trips(major: int, minor: int, patch: int) -> None:
    text = f"{major}.{minor}.{patch}"
    version = PluginVersion.parse(text)
    assert str(version) == text
    assert version.as_tuple() == (major, minor, patch)


@given(_versions, _versions)
def test_plugin_version_order_is_tuple_order(a: PluginVersion, b: PluginVersion) -> None:
    assert (a < b) == (a.as_tuple() < b.as_tuple())
    assert (a == b) == (a.as_tuple() == b.as_tuple())


# ----------------------------------------------------------------------- validity per version


def test_the_default_plugin_version_is_3_1_0() -> None:
    assert DEFAULT_PLUGIN_VERSION == "3.1.0"


def _seed_valid(row: SeedRow, version: PluginVersion) -> bool:
    # Re-derived from the seed, independently of ErrorCode.is_valid_in.
    if row.version is not None and version.as_tuple() < PluginVersion.parse(row.version).as_tuple():
        return False
    return row.absent is None or version.as_tuple() < PluginVersion.parse(row.absent).as_tuple()


def test_valid_in_matches_the_seed_for_every_named_version_and_beyond(
    seed_rows: list[SeedRow],
) -> None:
    probes = [PluginVersion(0, 0, 0), PluginVersion(2, 5, 99), PluginVersion(99, 0, 0)]
    for version in [*table_versions(), *probes]:
        expected = sorted({row.value for row in seed_rows if _seed_valid(row, version)})
        assert [e.code for e in valid_in(version)] == expected, version
        assert [e.code for e in valid_in(str(version))] == expected


def test_response_timeout_codes_change_generation_at_3_1_0() -> None:
    assert is_valid(-3, "3.0.4")
    assert not is_valid(-3, "3.1.0")
    assert not is_valid(-3, "2.5.9")
    assert is_valid(10017, "3.1.0")
    assert not is_valid(10017, "2.6.0")
    assert is_valid(30, "0.0.0")  # no 'since': valid from the beginning


def test_is_valid_is_false_for_codes_not_in_the_registry() -> None:
    assert not is_valid(12, "3.1.0")


def test_is_valid_rejects_a_malformed_version() -> None:
    with pytest.raises(PluginVersionError):
        is_valid(30, "latest")


@given(st.sampled_from([e.code for e in all_codes()]), _versions)
def test_is_valid_agrees_with_valid_in(code: int, version: PluginVersion) -> None:
    assert is_valid(code, version) == (code in {e.code for e in valid_in(version)})


@given(st.sampled_from(all_codes()), _versions, _versions, _versions)
def test_validity_is_one_interval_bounded_by_since_and_absent(
    entry: ErrorCode, a: PluginVersion, b: PluginVersion, c: PluginVersion
) -> None:
    low, mid, high = sorted((a, b, c))
    if entry.is_valid_in(low) and entry.is_valid_in(high):
        assert entry.is_valid_in(mid)
    if entry.since is not None:
        assert entry.is_valid_in(entry.since) == (
            entry.absent is None or entry.since < entry.absent
        )
        if mid < entry.since:
            assert not entry.is_valid_in(mid)
    if entry.absent is not None:
        assert not entry.is_valid_in(entry.absent)
        if mid >= entry.absent:
            assert not entry.is_valid_in(mid)


@given(_versions, _versions)
def test_codes_gained_between_two_versions_were_introduced_between_them(
    a: PluginVersion, b: PluginVersion
) -> None:
    early, late = sorted((a, b))
    gained = {e.code for e in valid_in(late)} - {e.code for e in valid_in(early)}
    for code in gained:
        since = lookup(code).since
        assert since is not None
        assert early < since <= late


# -------------------------------------------------------------------------------------- lookup


def test_lookup_of_an_unknown_code_names_the_nearest_and_the_known_codes() -> None:
    with pytest.raises(UnknownCode, match=r"nearest: 11, 13") as info:
        lookup(12)
    assert "10000..10022" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_lookup_in_a_version_where_the_code_is_absent_says_when_it_existed() -> None:
    assert lookup(-3, "3.0.4").code == -3
    with pytest.raises(UnknownCode, match=r"since 2\.6\.0, absent from 3\.1\.0"):
        lookup(-3, "3.1.0")


def test_lookup_rejects_a_non_integer_code() -> None:
    with pytest.raises(UnknownCode, match="must be an int"):
        lookup("30")  # type: ignore[arg-type]
