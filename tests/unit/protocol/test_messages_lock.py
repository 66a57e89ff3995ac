"""Lock messages (protocol.messages.lock) against the golden vectors, by example and by property."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from typing import Any, cast

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from ttlock_hil.protocol.commands import LockCommand
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.frame import LockFrame, parse_frame
from ttlock_hil.protocol.lockdata import REDACTED
from ttlock_hil.protocol.messages import (
    LOCK_MESSAGES,
    PERMANENT_END,
    PERMANENT_START,
    AddAdmin,
    AddAdminReply,
    AesKeyReply,
    AudioQuery,
    AudioSet,
    AudioSetVolume,
    AutoLockReply,
    AutoLockSet,
    CheckAdmin,
    CheckAdminReply,
    CheckRandom,
    CheckUserTime,
    DeviceInfoReply,
    EmptyReply,
    Feature,
    FeaturesReply,
    FrAddProgressReply,
    FrListReply,
    FunctionLock,
    GetAesKey,
    GetOperateLog,
    IcAdd,
    IcAddedReply,
    IcDelete,
    IcEntry,
    IcListReply,
    Initialization,
    LockDate,
    LockState,
    LogPush,
    LogRecord,
    LogType,
    OperateFinished,
    OperateLogReply,
    PassageModeAdd,
    PassageModeEntry,
    PassageModeType,
    PasscodeAdd,
    PasscodeClear,
    PasscodeListEntry,
    PasscodeListReply,
    PasscodeType,
    ReadDeviceInfo,
    Reply,
    ReplyData,
    Request,
    ResetLock,
    SearchDeviceFeature,
    SearchStatus,
    SetAdminPasscode,
    StatePush,
    StatusReply,
    TimeCalibrate,
    Unlock,
    UnlockReply,
    decode_reply,
    decode_reply_data,
    decode_request,
    parse_push,
    parse_reply,
)
from ttlock_hil.protocol.messages import _fields as fields
from ttlock_hil.protocol.messages import gateway as gateway_module
from ttlock_hil.protocol.messages import lock as lock_module
from ttlock_hil.protocol.messages import lock_extra as extra_module
from ttlock_hil.protocol.messages import wifi as wifi_module

TEST_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")

# --- strategies derived from each class's LAYOUT -------------------------------------------


def lock_dates(*, seconds: bool = True) -> st.SearchStrategy[LockDate]:
    return st.builds(
        LockDate,
        st.integers(2000, 2099),
        st.integers(1, 12),
        st.integers(1, 28),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59) if seconds else st.just(0),
    )


def _text(encoding: str, max_bytes: int) -> st.SearchStrategy[str]:
    alphabet = (
        st.characters(min_codepoint=0, max_codepoint=127)
        if encoding == "ascii"
        else st.characters(exclude_categories=["Cs"])
    )
    return st.text(alphabet, max_size=40).filter(lambda s: len(s.encode(encoding)) <= max_bytes)


def _ipv4() -> st.SearchStrategy[str]:
    return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


# Fields whose valid values are a small subset of what their codec can carry.
FIELD_OVERRIDES: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("IcAckReply", "op"): st.sampled_from([3, 4, 5]),
    ("FrAckReply", "op"): st.sampled_from([3, 4, 5]),
    ("PassageModeAckReply", "op"): st.sampled_from([2, 3, 4]),
    ("FrAddProgressReply", "status"): st.sampled_from([2, 3]),
    ("IcAddProgressReply", "status"): st.just(2),
    ("AudioSetVolume", "level"): st.integers(1, 5),
    ("WifiSleepAckReply", "op"): st.sampled_from([2, 4]),
    ("WifiSleepAdd", "weekday"): st.integers(1, 7),
    **{
        (cls, field): st.integers(0, top)
        for cls in ("WifiSleepAdd", "CyclicAdd", "CyclicRemove")
        for field, top in (
            ("start_hour", 23),
            ("end_hour", 23),
            ("start_minute", 59),
            ("end_minute", 59),
        )
    },
    ("CyclicAdd", "user"): st.binary(min_size=1, max_size=8),
    ("CyclicRemove", "user"): st.binary(min_size=1, max_size=8),
    ("PasscodeAdd", "passcode_type"): st.sampled_from([1, 2, 3, 4, 9]),
    ("PasscodeListEntry", "passcode_type"): st.sampled_from([1, 2, 3, 4, 9]),
}


def codec_strategy(codec: fields.Codec[Any]) -> st.SearchStrategy[Any]:
    """Values every codec of the messages package accepts (new codecs must be added here)."""
    if isinstance(codec, fields.UInt):
        return st.integers(0, (1 << (8 * codec.size)) - 1)
    if isinstance(codec, fields.Int8):
        return st.integers(-128, 127)
    if isinstance(codec, fields.Bool8 | lock_module.ZeroPad | fields.EndMarker):
        return st.booleans()
    if isinstance(codec, fields.EnumByte):
        return st.sampled_from(list(codec.enum)).filter(lambda m: m >= 0) | st.integers(0, 255)
    if isinstance(codec, fields.Date):
        return lock_dates(seconds=codec.seconds)
    if isinstance(codec, fields.Text):
        return _text(codec.encoding, 255)
    if isinstance(codec, fields.Digits):
        return st.text("0123456789", min_size=1, max_size=12)
    if isinstance(codec, fields.Raw):
        size = codec.size
        return st.binary(min_size=size or 0, max_size=size or 40)
    if isinstance(codec, fields.Trailing):
        return st.none() | codec_strategy(codec.inner)
    if isinstance(codec, fields.ListOf):
        return st.lists(struct_strategy(codec.item), max_size=5).map(tuple)
    if isinstance(codec, fields.Nested):
        return struct_strategy(codec.item)
    if isinstance(codec, fields.ByteList):
        return st.lists(st.integers(0, 255), max_size=12).map(tuple)
    if isinstance(codec, lock_module.CardNumber):
        return st.integers(0, 0xFFFFFFFF) | st.integers(0, (1 << 64) - 1)
    if isinstance(codec, lock_module.FeatureWords):
        return st.integers(0, (1 << 32) - 1) | st.integers(0, (1 << 256) - 1)
    if isinstance(codec, gateway_module.Ipv4):
        return _ipv4()
    if isinstance(codec, gateway_module.Md5Hex):
        return st.text("0123456789abcdef", min_size=32, max_size=32)
    if isinstance(codec, gateway_module._NamePart):
        return _text("utf-8", 49)
    if isinstance(codec, gateway_module._VersionPart):
        return st.integers(0, 9)
    if isinstance(codec, fields.Mac):
        return st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02X}" for x in b))
    if isinstance(codec, fields.LooseDate):
        return lock_dates(seconds=False) | st.binary(min_size=5, max_size=5).filter(
            _not_a_date
        ).map(fields.WireDate)
    if isinstance(codec, fields.Blob):
        return st.binary(max_size=40)
    if isinstance(codec, fields.CountedListOf):
        return st.lists(struct_strategy(codec.item), max_size=5).map(tuple)
    if isinstance(codec, fields.Conditional):
        return st.none() | codec_strategy(codec.inner)
    if isinstance(codec, extra_module._Bits):
        return st.integers(0, (1 << codec.bits) - 1)
    if isinstance(codec, extra_module._Seeds):
        seed = struct_strategy(extra_module.PasswordSeed)
        return st.lists(seed, min_size=10, max_size=10).map(tuple)
    raise AssertionError(f"no strategy for codec {codec!r}: add one to codec_strategy")


def _not_a_date(raw: bytes) -> bool:
    try:
        LockDate.from_bytes(raw)
    except MessageError:
        return True
    return False


# Classes whose fields constrain each other beyond what per-field strategies can reject cheaply.
CLASS_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "HotelSet": st.one_of(
        st.sampled_from(
            [
                extra_module.HotelSet.ic_key(),
                extra_module.HotelSet.aes_key(),
                extra_module.HotelSet.numbers(1, 2, 3),
                extra_module.HotelSet.sectors({1, 2}),
                extra_module.HotelSet.lift_work_mode(2),
                extra_module.HotelSet.power_saver_mode(0x0C),
                extra_module.HotelSet.power_saver_lock("AA:BB:CC:DD:EE:FF"),
            ]
        ),
        st.lists(st.integers(0, 255), max_size=20).map(extra_module.HotelSet.lift_floors),
        st.builds(extra_module.HotelSet, st.integers(9, 255), st.binary(max_size=30)),
    ),
}

_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {}


def struct_strategy(cls: type[fields.WireStruct]) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls``, built from its LAYOUT (invalid combinations rejected)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__name__ in CLASS_STRATEGIES:
        return CLASS_STRATEGIES[cls.__name__]
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _build_struct_strategy(cls)
    return _STRATEGIES[key]


def _build_struct_strategy(cls: type[fields.WireStruct]) -> st.SearchStrategy[Any]:
    codecs = {item.name: item.codec for item in cls.LAYOUT if isinstance(item, fields.F)}
    strategies = {
        name: FIELD_OVERRIDES[(cls.__name__, name)]
        if (cls.__name__, name) in FIELD_OVERRIDES
        else codec_strategy(codec)
        for name, codec in codecs.items()
    }
    trailing = [name for name, codec in codecs.items() if isinstance(codec, fields.Trailing)]

    def build(values: dict[str, Any]) -> Any:
        gap = False
        for name in trailing:  # an optional field after an absent one must be absent too
            values[name] = None if gap else values[name]
            gap = gap or values[name] is None
        try:
            return cls(**values)
        except MessageError:
            reject()

    return st.fixed_dictionaries(strategies).map(build)


def wire_classes(module: Any) -> list[type[fields.WireStruct]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, fields.WireStruct)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ == module.__name__
        and not obj.__name__.startswith("_")
    ]


LOCK_CLASSES = [
    *wire_classes(lock_module),
    *wire_classes(extra_module),
    *wire_classes(wifi_module),
]
REQUEST_CLASSES = [c for c in LOCK_CLASSES if issubclass(c, Request)]
REPLY_CLASSES = [c for c in LOCK_CLASSES if issubclass(c, ReplyData)]


def _name(cls: type) -> str:
    return cls.__name__


# --- vectors -----------------------------------------------------------------------------

# vector id → the message built from readable fields that must produce its plaintext
READABLE: dict[str, Request] = {
    "frame.init_0x45": Initialization(),
    "frame.get_aes_key_0x19": GetAesKey(),
    "frame.add_admin_0x56": AddAdmin(admin_ps=12345678, unlock_key=87654321),
    "frame.calibrate_time_0x43": TimeCalibrate(LockDate(2026, 1, 2, 3, 4, 5)),
    "frame.search_device_feature_0x01": SearchDeviceFeature(),
    "frame.check_admin_0x41": CheckAdmin(admin_ps=12345678, flag_pos=0, uid=0),
    "frame.check_random_0x30": CheckRandom.answer(ps=0x1DB78A8F, unlock_key=87654321),
    "frame.check_user_time_0x55": CheckUserTime(PERMANENT_START, PERMANENT_END, 0, 0),
    "frame.search_bicycle_status_0x14": SearchStatus(),
    "frame.auto_lock_query_0x36": lock_module.AutoLockQuery(),
    "frame.auto_lock_set5s_0x36": AutoLockSet(seconds=5),
    "frame.audio_query_0x62": AudioQuery(),
    "frame.operate_finished_0x57": OperateFinished(),
    "frame.get_operate_log_0x25": GetOperateLog(),
    "frame.add_passcode_permanent_0x03": PasscodeAdd(
        PasscodeType.PERMANENT, "123456", LockDate(2020, 1, 1), zero_padded=True
    ),
    "frame.add_passcode_permanent_0x03_official_layout": PasscodeAdd(
        PasscodeType.PERMANENT, "123456", LockDate(2020, 1, 1)
    ),
    "frame.add_passcode_period_0x03_official_layout": PasscodeAdd(
        PasscodeType.PERIOD, "123456", LockDate(2026, 1, 1, 8), LockDate(2026, 12, 31, 20)
    ),
    "frame.clear_passcodes_0x03": PasscodeClear(),
    "frame.reset_lock_0x52": ResetLock(),
    "frame.set_admin_keyboard_pwd_0x53": SetAdminPasscode("1234567"),
    "frame.unlock_0x47": Unlock.answer(ps=0x1DB78A8F, unlock_key=87654321, unix_time=1767225600),
    "frame.function_lock_0x58": FunctionLock(check_value=0x22F10A40, unix_time=1767225600),
}


def lock_frame_vectors(vectors: list[dict[str, Any]]) -> list[tuple[str, int, bytes]]:
    out = []
    for v in vectors:
        if v["category"] != "frame":
            continue
        frame = parse_frame(bytes.fromhex(v["expected_hex"]))
        assert isinstance(frame, LockFrame)
        out.append((v["id"], frame.command, bytes.fromhex(v["input"]["plaintext_hex"])))
    return out


def test_every_lock_frame_vector_decodes_to_a_message_that_encodes_back(
    vectors: list[dict[str, Any]],
) -> None:
    frames = lock_frame_vectors(vectors)
    assert len(frames) == len(READABLE)
    for vector_id, command, plaintext in frames:
        message = decode_request(command, plaintext)
        assert message.encode() == plaintext, vector_id
        assert command == message.COMMAND, vector_id


def test_every_lock_frame_vector_is_built_from_readable_fields(
    vectors: list[dict[str, Any]],
) -> None:
    for vector_id, command, plaintext in lock_frame_vectors(vectors):
        message = READABLE[vector_id]
        assert command == message.COMMAND
        assert message.encode() == plaintext, vector_id
        assert decode_request(command, plaintext) == message, vector_id


def test_check_admin_reads_like_the_spec_table() -> None:
    assert CheckAdmin(admin_ps=12345678, flag_pos=0, uid=0).encode().hex() == (
        "00bc614e00000000000000"
    )
    assert CheckAdmin(admin_ps=1, flag_pos=0x010203, uid=0x0A0B0C0D).encode().hex() == (
        "00000001" + "010203" + "0a0b0c0d"
    )


def test_the_legacy_v2_status_vector_carries_the_same_status_request(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    vector = vectors_by_id["v2.frame.0x14.seed42"]
    plaintext = vector["input"]["plaintext_ascii"].encode("ascii")
    assert decode_request(vector["input"]["command"], plaintext) == SearchStatus()


def _response_plaintext(vector: dict[str, Any]) -> bytes:
    frame = parse_frame(bytes.fromhex(vector["frame_hex"]))
    assert isinstance(frame, LockFrame)
    assert frame.command == LockCommand.RESPONSE
    plaintext = frame.decrypt(bytes.fromhex(vector["input"]["aes_key_hex"]))
    assert plaintext.hex() == vector["input"]["plaintext_hex"]
    return plaintext


def test_status_reply_vector_is_45_percent_and_locked(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    reply = parse_reply(_response_plaintext(vectors_by_id["response.status_locked_real_plaintext"]))
    assert (reply.command, reply.ok, reply.error_byte) == (LockCommand.SEARCH_STATUS, True, None)
    status = decode_reply(reply)
    assert isinstance(status, StatusReply)
    assert status.battery == 45
    assert status.lock_state is LockState.LOCKED
    assert status.extra == b"\x02"


def test_unlock_ok_vector_carries_battery_uid_unique_id_and_date(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    reply = parse_reply(_response_plaintext(vectors_by_id["response.unlock_ok"]))
    data = decode_reply(reply)
    assert data == UnlockReply(battery=42, uid=0, unique_id=1, date=LockDate(2026, 1, 1, 12, 0, 0))
    assert Reply.success(LockCommand.UNLOCK, data).encode() == reply.encode()


def test_check_admin_ok_vector_carries_the_ps(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    reply = parse_reply(_response_plaintext(vectors_by_id["response.check_admin_ok"]))
    assert decode_reply(reply) == CheckAdminReply(ps=0x1DB78A8F)


def test_get_aes_key_vector_carries_the_new_key(vectors_by_id: dict[str, dict[str, Any]]) -> None:
    reply = parse_reply(_response_plaintext(vectors_by_id["response.get_aes_key_ok"]))
    data = decode_reply(reply)
    assert isinstance(data, AesKeyReply)
    assert data.key == bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert "a1b2" not in repr(data)


def test_failed_unlock_vector_exposes_error_byte_0x1e_as_30(
    vectors_by_id: dict[str, dict[str, Any]],
) -> None:
    reply = parse_reply(
        _response_plaintext(vectors_by_id["response.unlock_fail_double_locked_0x1e"])
    )
    assert (reply.command, reply.ok, reply.error_byte) == (LockCommand.UNLOCK, False, 30)
    assert not reply.is_processing
    with pytest.raises(MessageError, match="error byte 0x1e"):
        decode_reply(reply)


# --- the envelope -----------------------------------------------------------------------


def test_a_reply_shorter_than_two_bytes_is_a_message_error() -> None:
    for plaintext in (b"", b"\x47"):
        with pytest.raises(MessageError, match="status"):
            parse_reply(plaintext)


def test_a_failed_reply_without_error_byte_still_parses() -> None:
    reply = parse_reply(b"\x47\x00")
    assert (reply.ok, reply.error_byte, reply.data) == (False, None, b"")
    assert Reply.failure(0x47, None).encode() == b"\x47\x00"


def test_error_byte_0x24_means_processing_not_failure() -> None:
    reply = Reply.failure(LockCommand.UNLOCK, 0x24)
    assert reply.encode() == b"\x47\x00\x24"
    assert reply.is_processing
    assert not Reply.failure(LockCommand.UNLOCK, 0x1E).is_processing


def test_success_reply_has_no_error_byte_even_with_data() -> None:
    reply = Reply.success(LockCommand.SEARCH_STATUS, StatusReply(45, LockState.UNLOCKED))
    assert reply.encode().hex() == "14012d01"
    assert reply.error_byte is None


def test_unknown_status_bytes_are_kept_as_they_are() -> None:
    reply = parse_reply(b"\x14\x07\x01")
    assert (reply.status, reply.ok, reply.error_byte) == (7, False, None)


# --- reply data by example ------------------------------------------------------------------


def test_status_reply_reports_unknown_for_other_state_bytes() -> None:
    status = decode_reply_data(0x14, b"\x50\x07")
    assert isinstance(status, StatusReply)
    assert status.state == 7
    assert status.lock_state is LockState.UNKNOWN
    assert decode_reply_data(0x14, b"\x50\x01") == StatusReply(0x50, LockState.UNLOCKED)


def test_features_reply_spreads_bits_over_u32_words() -> None:
    data = bytes.fromhex("64") + (1 << 15 | 1).to_bytes(4, "big") + (1 << 2).to_bytes(4, "big")
    features = decode_reply_data(0x01, data)
    assert isinstance(features, FeaturesReply)
    assert features.battery == 100
    assert features.has(Feature.PASSCODE)
    assert features.has(Feature.AUDIO_MANAGEMENT)
    assert features.has(34)
    assert features.known_features == {
        Feature.PASSCODE,
        Feature.AUDIO_MANAGEMENT,
        Feature.CYCLIC_IC_OR_FP,
    }
    assert not features.has(Feature.IC)
    assert features.encode() == data
    built = FeaturesReply.of(100, {Feature.PASSCODE, Feature.AUDIO_MANAGEMENT, 34})
    assert built == features


def test_features_reply_needs_whole_words() -> None:
    with pytest.raises(MessageError, match="features"):
        decode_reply_data(0x01, b"\x64\x00\x00")
    with pytest.raises(MessageError, match="features"):
        decode_reply_data(0x01, b"\x64")


def test_feature_enum_holds_the_documented_bit_numbers() -> None:
    assert int(Feature.PASSCODE) == 0
    assert int(Feature.AUTO_LOCK) == 4
    assert int(Feature.GET_ADMIN_CODE) == 18
    assert int(Feature.PASSAGE_MODE) == 22
    assert int(Feature.DOOR_SENSOR) == 45
    assert int(Feature.SUPPORT_LOCK_SUPERVISION) == 126


def test_add_admin_reply_must_be_sciener() -> None:
    assert decode_reply_data(0x56, b"SCIENER") == AddAdminReply()
    with pytest.raises(MessageError, match="vendor"):
        decode_reply_data(0x56, b"SCIENEX")
    with pytest.raises(MessageError):
        decode_reply_data(0x56, b"")


def test_auto_lock_reply_has_bounds_only_on_query() -> None:
    query = decode_reply_data(0x36, bytes.fromhex("5001000500010384"))
    assert query == AutoLockReply(0x50, 1, 5, 1, 900)
    assert decode_reply_data(0x36, b"\x50\x02") == AutoLockReply(0x50, 2)
    with pytest.raises(MessageError, match="earlier optional"):
        AutoLockReply(0x50, 1, None, 5)


def test_empty_replies_refuse_data() -> None:
    assert decode_reply_data(0x30, b"") == EmptyReply()
    with pytest.raises(MessageError, match="command 0x30"):
        decode_reply_data(0x30, b"\x00")


def test_fingerprint_list_end_of_list_capture() -> None:
    # TTLOCK-BLE capture of the list end: plaintext 06 01 64 06 ff ff
    reply = parse_reply(bytes.fromhex("06016406ffff"))
    assert decode_reply(reply) == FrListReply(battery=100, next_seq=0xFFFF)


def test_fingerprint_add_statuses_are_distinct_replies() -> None:
    assert decode_reply_data(0x06, b"\x64\x02\x03") == FrAddProgressReply(100, 3)
    added = decode_reply_data(0x06, bytes.fromhex("640201") + (0x0102030405).to_bytes(6, "big"))
    assert added == lock_module.FrAddedReply(100, 0x0102030405)
    with pytest.raises(MessageError):
        decode_reply_data(0x06, b"\x64\x02\x09")


def test_ic_replies_cover_list_add_mode_added_card_and_ack() -> None:
    entry = IcEntry(12345, LockDate(2026, 1, 1), LockDate(2027, 1, 1))
    listing = IcListReply(battery=80, next_seq=1, cards=(entry,))
    assert listing.encode().hex() == "50010001" + "00003039" + "1a01010000" + "1b01010000"
    assert decode_reply_data(0x05, listing.encode()) == listing
    assert decode_reply_data(0x05, b"\x50\x02\x02") == lock_module.IcAddProgressReply(80)
    added = decode_reply_data(0x05, bytes.fromhex("50020100003039"))
    assert added == IcAddedReply(80, 12345)
    wide = IcAddedReply(80, 1 << 40)
    assert len(wide.encode()) == 3 + 8
    assert decode_reply_data(0x05, wide.encode()) == wide
    assert decode_reply_data(0x05, b"\x50\x04") == lock_module.IcAckReply(80, 4)


def test_ic_list_with_one_wide_card_uses_8_bytes_for_all() -> None:
    cards = (
        IcEntry(1, LockDate(2026, 1, 1), LockDate(2027, 1, 1)),
        IcEntry(1 << 40, LockDate(2026, 1, 1), LockDate(2027, 1, 1)),
    )
    listing = IcListReply(battery=80, next_seq=2, cards=cards)
    assert len(listing.encode()) == 4 + 2 * 18
    assert decode_reply_data(0x05, listing.encode()) == listing


def test_ic_list_with_ragged_length_names_the_cards_field() -> None:
    with pytest.raises(MessageError, match="cards"):
        decode_reply_data(0x05, bytes.fromhex("50010001") + bytes(13))


def test_passcode_list_items_carry_type_specific_tails() -> None:
    permanent = PasscodeListEntry(1, "1234", "1234", LockDate(2026, 1, 1))
    period = PasscodeListEntry(3, "5678", "", LockDate(2026, 1, 1), LockDate(2026, 2, 1))
    cyclic = PasscodeListEntry(4, "9999", "9999", LockDate(2026, 1, 1), extra=b"\x01\x02")
    reply = PasscodeListReply(total_len=60, next_seq=3, entries=(permanent, period, cyclic))
    raw = reply.encode()
    assert raw[:4] == bytes.fromhex("003c0003")
    assert raw[4] == len(permanent.encode()) - 1
    assert decode_reply_data(0x07, raw) == reply
    assert decode_reply_data(0x07, b"\x00\x00") == PasscodeListReply(total_len=0)
    with pytest.raises(MessageError, match="end"):
        PasscodeListEntry(2, "1", "1", LockDate(2026, 1, 1))


def test_operate_log_records_decode_their_tails() -> None:
    when = LockDate(2026, 3, 4, 5, 6, 7)
    app = LogRecord.app(LogType.MOBILE_UNLOCK, when, 90, uid=7, record_id=99)
    code = LogRecord.with_passcode(LogType.KEYBOARD_PASSWORD_UNLOCK, when, 90, "123456")
    wrong = LogRecord.with_passcode(LogType.ERROR_PASSWORD_UNLOCK, when, 90, "000")
    card = LogRecord.with_card(LogType.IC_UNLOCK, when, 90, 0xCAFE)
    finger = LogRecord(LogType.FR_UNLOCK, when, 90, (0x0A0B0C).to_bytes(6, "big"))
    door = LogRecord(LogType.DOOR_REBOOT, when, 90)
    log = OperateLogReply(total_len=80, seq=6, records=(app, code, wrong, card, finger, door))
    raw = log.encode()
    assert raw[4:6] == bytes([16, LogType.MOBILE_UNLOCK])  # recLen counts type..tail
    assert raw[6:12] == when.to_bytes()
    parsed = decode_reply_data(0x25, raw)
    assert parsed == log
    assert isinstance(parsed, OperateLogReply)
    first, second, third, fourth, fifth, sixth = parsed.records
    assert (first.uid, first.record_id, first.passcode, first.card) == (7, 99, None, None)
    assert (second.passcode, second.new_passcode, second.uid) == ("123456", "", None)
    assert (third.passcode, third.new_passcode) == ("000", None)
    assert fourth.card == 0xCAFE
    assert fifth.fingerprint == 0x0A0B0C
    assert (sixth.uid, sixth.passcode, sixth.card, sixth.fingerprint) == (None, None, None, None)
    assert decode_reply_data(0x25, b"\x00\x00") == OperateLogReply(total_len=0)


def test_a_log_record_with_an_unknown_type_keeps_its_tail() -> None:
    raw = bytes([10, 200]) + LockDate(2026, 1, 1).to_bytes() + bytes([50, 0xAB, 0xCD])
    record = LogRecord.decode(raw)
    assert (record.log_type, record.tail, record.uid) == (200, b"\xab\xcd", None)
    assert record.encode() == raw


def test_a_malformed_log_tail_is_a_message_error() -> None:
    record = LogRecord(LogType.MOBILE_UNLOCK, LockDate(2026, 1, 1), 50, b"\x00\x01")
    with pytest.raises(MessageError, match="uid"):
        _ = record.uid


def test_a_log_record_longer_than_its_length_byte_is_refused() -> None:
    raw = bytes.fromhex("00010002") + bytes([30, 1]) + LockDate(2026, 1, 1).to_bytes()
    with pytest.raises(MessageError, match="LogRecord length"):
        decode_reply_data(0x25, raw)


def test_device_info_reply_strips_the_terminator() -> None:
    info = decode_reply_data(0x90, b"M201\x00")
    assert isinstance(info, DeviceInfoReply)
    assert info.text == "M201"
    assert DeviceInfoReply.of_text("M201") == info


# --- pushes ----------------------------------------------------------------------------------


def test_three_byte_echo_0x14_push_is_a_state_push() -> None:
    push = parse_push(parse_reply(bytes.fromhex("14014c0100")))
    assert push == StatePush(battery=0x4C, state=LockState.UNLOCKED, flag=0)


def test_fifteen_byte_echo_0x14_push_is_a_log_push() -> None:
    body = bytes([77]) + (5).to_bytes(4, "big") + (9).to_bytes(4, "big")
    body += LockDate(2026, 5, 6, 7, 8, 9).to_bytes()
    push = parse_push(Reply.success(0x14, body))
    assert push == LogPush(77, 5, 9, LockDate(2026, 5, 6, 7, 8, 9))


def test_other_replies_are_not_pushes() -> None:
    assert parse_push(parse_reply(bytes.fromhex("4701") + bytes(15))) is None
    assert parse_push(parse_reply(bytes.fromhex("14012d00"))) is None
    assert parse_push(Reply.failure(0x14, 1)) is None
    bad_date = bytes([77]) + bytes(8) + bytes.fromhex("1a0d01000000")
    with pytest.raises(MessageError, match="date"):
        parse_push(Reply.success(0x14, bad_date))


# --- requests by example ---------------------------------------------------------------------


def test_check_user_time_uses_the_permanent_window_by_default() -> None:
    assert CheckUserTime().encode().hex() == "00011f0e00630b1e0e0000000000000000"
    assert PERMANENT_START.to_bytes(seconds=False).hex() == "00011f0e00"
    assert PERMANENT_END.to_bytes(seconds=False).hex() == "630b1e0e00"


def test_unlock_long_form_adds_local_time_and_floors() -> None:
    long = Unlock(1, 2, LockDate(2026, 1, 2, 3, 4, 5), (3, 7))
    assert long.encode().hex() == "00000001" + "00000002" + "1a0102030405" + "020307"
    assert decode_request(0x47, long.encode()) == long
    assert decode_request(0x58, long.encode()) == FunctionLock(
        1, 2, LockDate(2026, 1, 2, 3, 4, 5), (3, 7)
    )
    with pytest.raises(MessageError, match="floors"):
        Unlock(1, 2, None, (1,))


def test_lock_and_unlock_share_a_layout_but_not_a_type() -> None:
    # so that a simulator's ``match`` on Unlock never catches a lock request
    assert not isinstance(FunctionLock(1, 2), Unlock)
    assert not isinstance(lock_module.FunctionLockReply(1, 2, 3, LockDate(2026, 1, 1)), UnlockReply)
    assert Unlock(1, 2).encode() == FunctionLock(1, 2).encode()


def test_passcode_add_enforces_the_official_layouts() -> None:
    with pytest.raises(MessageError, match="end"):
        PasscodeAdd(PasscodeType.PERMANENT, "1", LockDate(2026, 1, 1), LockDate(2027, 1, 1))
    with pytest.raises(MessageError, match="end"):
        PasscodeAdd(PasscodeType.COUNT, "1", LockDate(2026, 1, 1))
    with pytest.raises(MessageError, match="zero_padded"):
        PasscodeAdd(PasscodeType.PERIOD, "1", LockDate(2026, 1, 1), LockDate(2027, 1, 1), True)
    with pytest.raises(MessageError, match="zero_padded"):
        decode_request(3, bytes.fromhex("020101311401010000") + b"\x00\x00\x00\x00\x01")


def test_ic_requests_pick_4_or_8_byte_card_numbers() -> None:
    window = (LockDate(2026, 1, 1), LockDate(2027, 1, 1))
    assert IcDelete(0x01020304).encode().hex() == "0301020304"
    assert IcDelete(1 << 32).encode().hex() == "030000000100000000"
    assert decode_request(5, IcAdd(1 << 33, *window).encode()) == IcAdd(1 << 33, *window)
    assert decode_request(5, b"\x02") == lock_module.IcEnterAddMode()
    with pytest.raises(MessageError, match="card"):
        decode_request(5, b"\x03\x01\x02")


def test_audio_requests_tell_on_off_from_volume() -> None:
    assert decode_request(0x62, b"\x02\x01") == AudioSet(True)
    assert decode_request(0x62, bytes.fromhex("02010300")) == AudioSetVolume(3)
    with pytest.raises(MessageError, match="level"):
        AudioSetVolume(6)


def test_passage_mode_add_nests_one_entry() -> None:
    entry = PassageModeEntry(PassageModeType.WEEKLY, 1, 0, 8, 0, 18, 30)
    assert PassageModeAdd(entry).encode().hex() == "02" + "0101000800121e"
    assert decode_request(0x66, PassageModeAdd(entry).encode()) == PassageModeAdd(entry)


def test_read_device_info_takes_an_info_type() -> None:
    assert ReadDeviceInfo(lock_module.DeviceInfoType.FIRMWARE_REVISION).encode() == b"\x03"
    assert decode_request(0x90, b"\x0b") == ReadDeviceInfo(11)


def test_set_admin_passcode_sends_digit_values() -> None:
    with pytest.raises(MessageError, match="digits"):
        SetAdminPasscode("12a4")
    with pytest.raises(MessageError, match="digit values"):
        decode_request(0x53, b"\x01\x0a")


# --- errors and presentation ----------------------------------------------------------------


def test_errors_name_the_field_offset_and_layout() -> None:
    with pytest.raises(MessageError) as info:
        decode_request(0x41, bytes(6))
    text = str(info.value)
    assert info.value.command == 0x41
    assert "flag_pos at offset 4" in text
    assert "[admin_ps u32 BE][flag_pos lockFlagPos low 3 B BE][uid u32 BE]" in text


def test_trailing_bytes_are_reported() -> None:
    with pytest.raises(MessageError, match="1 unexpected trailing byte"):
        decode_request(0x25, b"\xff\xff\x00")


def test_a_wrong_operation_byte_lists_the_layouts() -> None:
    with pytest.raises(MessageError, match="fits none of") as info:
        decode_request(0x03, b"\x09")
    assert "PasscodeClear [op=01]" in str(info.value)


def test_a_bad_date_in_a_request_names_the_field() -> None:
    with pytest.raises(MessageError, match=r"date at offset 0: bytes 1a0d"):
        decode_request(0x43, bytes.fromhex("1a0d01000000"))


def test_unknown_and_undocumented_opcodes_are_message_errors() -> None:
    for command in (0x00, 0x02, 0x54, 0x61, 0x1234):
        with pytest.raises(MessageError, match="no message layout"):
            decode_request(command, b"")
        with pytest.raises(MessageError, match="no message layout"):
            decode_reply_data(command, b"")


def test_arguments_are_checked_when_building() -> None:
    with pytest.raises(MessageError, match=r"CheckAdmin.admin_ps must be 0..4294967295"):
        CheckAdmin(admin_ps=-1)
    with pytest.raises(MessageError, match="flag_pos"):
        CheckAdmin(admin_ps=1, flag_pos=1 << 24)
    with pytest.raises(MessageError, match="must be a LockDate"):
        TimeCalibrate("2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(MessageError, match="5-byte form"):
        CheckUserTime(start=LockDate(2026, 1, 1, 0, 0, 1))


def test_secrets_are_redacted_unless_asked() -> None:
    message = AddAdmin(admin_ps=12345678, unlock_key=87654321)
    assert "12345678" not in repr(message)
    assert REDACTED in repr(message)
    assert message.to_dict() == {"admin_ps": REDACTED, "unlock_key": REDACTED}
    assert message.to_dict(redact=False) == {"admin_ps": 12345678, "unlock_key": 87654321}
    assert "87654321" not in repr(Unlock.answer(0, 87654321, 0))


def test_to_dict_is_json_friendly() -> None:
    entry = IcEntry(5, LockDate(2026, 1, 1), LockDate(2027, 1, 1))
    listing = IcListReply(80, 1, (entry,))
    assert listing.to_dict() == {
        "battery": 80,
        "next_seq": 1,
        "cards": [{"card": 5, "start": "2026-01-01 00:00:00", "end": "2027-01-01 00:00:00"}],
    }


# --- LockDate ---------------------------------------------------------------------------------


def test_lock_dates_are_decimal_not_bcd() -> None:
    assert LockDate(2026, 12, 31, 23, 59, 58).to_bytes().hex() == "1a0c1f173b3a"
    assert LockDate.from_bytes(bytes.fromhex("1a0c1f173b")) == LockDate(2026, 12, 31, 23, 59)


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        ((1999, 1, 1), "year"),
        ((2100, 1, 1), "year"),
        ((2026, 13, 1), "month"),
        ((2026, 2, 29), "day must be 1..28"),
        ((2026, 4, 31), "day must be 1..30"),
        ((2026, 1, 1, 24), "hour"),
        ((2026, 1, 1, 0, 60), "minute"),
        ((2026, 1, 1, 0, 0, 60), "second"),
    ],
)
def test_lock_date_refuses_impossible_dates(parts: tuple[int, ...], problem: str) -> None:
    with pytest.raises(MessageError, match=problem):
        LockDate(*parts)


def test_lock_date_converts_from_and_to_datetime_like_values() -> None:
    import datetime

    moment = datetime.datetime(2028, 2, 29, 13, 14, 15)
    date = LockDate.of(moment)
    assert date == LockDate(2028, 2, 29, 13, 14, 15)
    assert datetime.datetime(*date.as_tuple()) == moment
    assert str(date) == "2028-02-29 13:14:15"
    assert repr(date) == "LockDate(2028, 2, 29, 13, 14, 15)"
    assert date.without_seconds().to_bytes(seconds=False).hex() == "1c021d0d0e"
    assert LockDate(2026, 1, 1) < LockDate(2026, 1, 1, 0, 0, 1)
    with pytest.raises(MessageError, match="5 or 6 bytes"):
        LockDate.from_bytes(b"\x1a")
    with pytest.raises(MessageError, match="year byte"):
        LockDate.from_bytes(bytes.fromhex("6401010000"))


# --- structure of the package -----------------------------------------------------------------


@pytest.mark.parametrize("cls", LOCK_CLASSES, ids=_name)
def test_layout_declares_exactly_the_dataclass_fields(cls: type[fields.WireStruct]) -> None:
    assert fields.layout_fields(cls) == [f.name for f in dataclasses.fields(cast(Any, cls))]
    assert "__dict__" not in dir(cls)  # slotted


def test_the_registry_covers_every_command_the_issue_names() -> None:
    required = {
        0x01, 0x03, 0x05, 0x06, 0x07, 0x14, 0x19, 0x25, 0x30, 0x34, 0x36, 0x37, 0x41, 0x43,
        0x45, 0x47, 0x52, 0x53, 0x55, 0x56, 0x57, 0x58, 0x59, 0x62, 0x65, 0x66, 0x90,
    }  # fmt: skip
    assert required <= set(LOCK_MESSAGES)
    for command, messages in LOCK_MESSAGES.items():
        assert all(command == cls.COMMAND for cls in messages.requests)
        assert all(cls.COMMAND in (command, None) for cls in messages.replies)


def test_every_request_and_reply_class_is_registered() -> None:
    registered = {c for m in LOCK_MESSAGES.values() for c in (*m.requests, *m.replies)}
    pushes = {StatePush, LogPush}
    assert set(REQUEST_CLASSES) <= registered
    assert set(REPLY_CLASSES) - pushes <= registered


# --- properties ---------------------------------------------------------------------------------

# The per-class properties run once per class (about a hundred), so each takes a
# fifth of the profile's examples; the aggregated fuzz test below takes them all.
PER_CLASS = settings(max_examples=max(60, settings().max_examples // 5))


@pytest.mark.parametrize("cls", LOCK_CLASSES, ids=_name)
@PER_CLASS
@given(data=st.data())
def test_every_class_round_trips(cls: type[fields.WireStruct], data: st.DataObject) -> None:
    message = data.draw(struct_strategy(cls))
    assert cls.decode(message.encode()) == message


@pytest.mark.parametrize("command", sorted(LOCK_MESSAGES), ids=hex)
@PER_CLASS
@given(data=st.data())
def test_registry_decoders_find_the_right_variant(command: int, data: st.DataObject) -> None:
    messages = LOCK_MESSAGES[LockCommand(command)]
    request = data.draw(st.one_of([struct_strategy(c) for c in messages.requests]))
    assert decode_request(command, request.encode()) == request
    reply = data.draw(st.one_of([struct_strategy(c) for c in messages.replies]))
    assert decode_reply_data(command, reply.encode()) == reply


def decode_or_message_error(decode: Any, raw: bytes) -> None:
    try:
        message = decode(raw)
    except MessageError:
        return
    # whatever decodes must survive another trip unchanged
    again = type(message).decode(message.encode())
    assert again == message


@pytest.mark.parametrize("cls", LOCK_CLASSES, ids=_name)
@PER_CLASS
@given(raw=st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_message_error(
    cls: type[fields.WireStruct], raw: bytes
) -> None:
    decode_or_message_error(cls.decode, raw)


COMMANDS = st.sampled_from(sorted(LOCK_MESSAGES)) | st.integers(0, 255)


@pytest.mark.fuzz
@given(command=COMMANDS, raw=st.binary(max_size=240))
def test_fuzz_lock_decoders_only_raise_message_error(command: int, raw: bytes) -> None:
    decode_or_message_error(lambda b: decode_request(command, b), raw)
    decode_or_message_error(lambda b: decode_reply_data(command, b), raw)
    try:
        reply = parse_reply(raw)
    except MessageError:
        return
    assert reply.encode() == raw
    with contextlib.suppress(MessageError):
        parse_push(reply)


@pytest.mark.parametrize(
    ("build", "secret"),
    [
        (lambda: SetAdminPasscode(passcode="12a4"), "12a4"),
        (lambda: CheckAdmin(admin_ps=2**32 + 987654, flag_pos=0, uid=0), "4295955"),
    ],
)
def test_a_rejected_secret_is_named_but_never_echoed(build: Any, secret: str) -> None:
    with pytest.raises(MessageError) as info:
        build()
    assert "value not shown" in str(info.value)
    assert secret not in str(info.value)
