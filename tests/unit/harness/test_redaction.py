"""harness.redaction: the redactor on its own, and log records passed through it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttlock_hil.harness.redaction import REDACTED, RedactingFilter, Redactor, _jsonable
from ttlock_hil.protocol.commands import LockCommand

from .secret_sample import (
    ADMIN_PS,
    CHECK_SUM,
    KEY,
    PASSCODE,
    UNLOCK_KEY,
    WIFI_PASSWORD,
    every_secret_form,
    run_redactor,
)

# --- the redactor on its own ------------------------------------------------------------


def test_short_secrets_are_redacted_only_as_whole_tokens() -> None:
    redactor = Redactor()
    redactor.add_u32(123)
    assert redactor.text("pin 123, time 41234") == f"pin {REDACTED}, time 41234"


def test_degenerate_tiny_secrets_do_not_wipe_ordinary_numbers() -> None:
    redactor = Redactor()
    redactor.add_u32(5)
    assert redactor.value({"code": 5, "length": 16, "note": "5 of 16"}) == {
        "code": 5,
        "length": 16,
        "note": "5 of 16",
    }
    assert redactor.text("admin 0000000005 / 00000005") == f"admin {REDACTED} / {REDACTED}"


def test_longer_forms_win_over_their_substrings() -> None:
    redactor = Redactor()
    redactor.add_u32(0x00BC614E)
    assert redactor.text("ps=00bc614e") == f"ps={REDACTED}"


def test_secret_integers_are_redacted_in_structured_values() -> None:
    redactor = run_redactor(enabled=True)
    assert redactor.value({"n": ADMIN_PS, "m": 7, "flag": True}) == {
        "n": REDACTED,
        "m": 7,
        "flag": True,
    }


def test_a_disabled_redactor_still_makes_values_json_ready() -> None:
    redactor = run_redactor(enabled=False)
    assert redactor.value({"k": KEY, "t": (1, 2), "c": LockCommand.UNLOCK}) == {
        "k": KEY.hex(),
        "t": [1, 2],
        "c": 0x47,
    }
    assert redactor.text(KEY.hex()) == KEY.hex()


def test_secrets_learned_later_are_redacted_from_then_on() -> None:
    redactor = Redactor()
    assert redactor.text("pin 5555") == "pin 5555"
    redactor.add_passcode(5555)
    assert redactor.text("pin 5555") == f"pin {REDACTED}"


# --- logging ------------------------------------------------------------------------------


def make_logger(redactor: Redactor) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger(f"test.trace.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


def test_log_records_are_redacted_in_message_args_and_traceback() -> None:
    logger, stream = make_logger(run_redactor(enabled=True))
    logger.info("key %s admin %d sum %08x", KEY.hex(), ADMIN_PS, CHECK_SUM)
    logger.debug("raw bytes %r", KEY)
    try:
        raise ValueError(f"bad passcode {PASSCODE} for {WIFI_PASSWORD}")
    except ValueError:
        logger.exception("failed with unlock key %s", UNLOCK_KEY)
    logger.warning("stack", stack_info=True, extra={})
    output = stream.getvalue().lower()
    assert "traceback" in output
    assert REDACTED in output
    for form in every_secret_form():
        assert form.lower() not in output, form


def test_log_records_pass_untouched_when_redaction_is_off() -> None:
    logger, stream = make_logger(run_redactor(enabled=False))
    logger.info("key %s", KEY.hex())
    assert KEY.hex() in stream.getvalue()


def test_a_malformed_log_call_is_still_redacted() -> None:
    logger, stream = make_logger(run_redactor(enabled=True))
    logger.info("two args %s %s", KEY.hex())  # noqa: PLE1206 -- malformed on purpose
    assert KEY.hex() not in stream.getvalue()


# --- the index against a plain regex ------------------------------------------------------


def reference_redact(forms: Iterable[str], text: str) -> str:
    """The semantics in one regex, built afresh: what the index must do without one.

    Every form, case-insensitively; the longest first where several start at one
    place; forms under four characters only where no letter or digit touches them.
    """
    alternatives = []
    for form in sorted(forms, key=lambda f: (-len(f), f)):
        escaped = re.escape(form)
        if len(form) < 4:
            escaped = rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
        alternatives.append(escaped)
    if not alternatives:
        return text
    return re.compile("|".join(alternatives), re.IGNORECASE).sub(REDACTED, text)


# Hex digits, separators and the letters case folding treats specially (Kelvin sign,
# long s, dotted and dotless i, micro sign, sharp s, the pairs only re joins).
ALPHABET = (
    "0123456789abcdefABCDEF :-_+/=\\xXkKsSiI"
    "\u212a\u017f\u0130\u0131\u00b5\u03bc\u00df\u1e9e\u0390\u1fd3\u00e9\u00c9"
)
forms_strategy = st.lists(st.text(ALPHABET, min_size=2, max_size=9), max_size=12)


@settings(max_examples=400)
@given(forms_strategy, st.text(ALPHABET, max_size=60), st.data())
def test_the_index_redacts_exactly_what_one_regex_of_all_forms_would(
    forms: list[str], noise: str, data: st.DataObject
) -> None:
    # Plant some of the forms in the text, maybe in another case, between noise.
    pieces = [noise]
    for form in data.draw(st.lists(st.sampled_from(forms), max_size=4) if forms else st.just([])):
        planted = form.upper() if data.draw(st.booleans()) else form
        at = data.draw(st.integers(0, len(pieces[-1])))
        pieces.append(pieces[-1][:at] + planted + pieces[-1][at:])
    text = pieces[-1]
    redactor = Redactor()
    for form in forms:
        redactor.add_text(form)
    assert redactor.text(text) == reference_redact(redactor.forms(), text)
    assert redactor.text(text) == reference_redact(redactor.forms(), text)  # from the cache


@settings(max_examples=200)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6), st.data())
def test_numeric_secrets_are_redacted_as_one_regex_would(
    values: list[int], data: st.DataObject
) -> None:
    redactor = Redactor()
    for value in values:
        redactor.add_u32(value)
    sample = data.draw(st.sampled_from(sorted(redactor.forms())))
    text = f"ps={sample} n={values[0] % 1000} t=12:00:{values[-1] % 60:02d} {sample.upper()}x"
    assert redactor.text(text) == reference_redact(redactor.forms(), text)


def test_a_secret_learned_after_a_text_was_redacted_reaches_that_text_too() -> None:
    redactor = Redactor()
    redactor.add_passcode(1234)
    line = "codes 1234 and 987654"
    assert redactor.text(line) == f"codes {REDACTED} and 987654"  # now remembered
    redactor.add_passcode(987654)
    assert redactor.text(line) == f"codes {REDACTED} and {REDACTED}"


def test_learning_a_known_secret_again_adds_nothing() -> None:
    redactor = Redactor()
    redactor.add_bytes(KEY)
    forms = redactor.forms()
    redactor.add_bytes(KEY)
    assert redactor.forms() == forms


def test_text_that_cannot_hold_a_form_comes_back_as_it_was() -> None:
    redactor = Redactor()
    assert redactor.text("anything") == "anything"  # nothing known yet
    redactor.add_u32(ADMIN_PS)
    for text in ("", "x", "tx", "lock"):
        assert redactor.text(text) is text


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ("\u0390ab1", "x \u1fd3AB1 y"),  # Greek iota with dialytika and tonos, two code points
        ("\ufb05ab1", "x \ufb06AB1 y"),  # the two 'st' ligatures
        ("kk12", "x \u212aK12 y"),  # Kelvin sign
        ("ss12", "x \u017fS12 y"),  # long s
        ("ii12", "x \u0130\u013112 y"),  # dotted capital I, dotless i
        ("\u00b5s12", "x \u03bcS12 y"),  # micro sign and mu
        ("\u00df\u00df1", "x \u1e9e\u00df1 y"),  # sharp s and its capital
        ("ab", "x \u212aab y"),  # a Kelvin sign is a letter next to a short form
    ],
)
def test_case_folding_matches_pythons_regex_on_the_letters_that_differ(
    form: str, text: str
) -> None:
    redactor = Redactor()
    redactor.add_text(form)
    assert redactor.text(text) == reference_redact(redactor.forms(), text)


# --- structured values against today's semantics ------------------------------------------


def reference_text(redactor: Redactor, value: str) -> str:
    """``Redactor.text`` without its cache: the index alone (checked against a regex above)."""
    if not redactor.enabled or len(value) < 2 or not redactor.forms():
        return value
    return redactor._index.redact(value)


def reference_is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return lowered in {
        "aes_key",
        "key",
        "admin_ps",
        "unlock_key",
        "sum",
        "ps",
        "ps_from_lock",
        "secret",
    } or lowered.endswith(("_key", "password", "passcode", "_secret", "_pwd", "admin_code"))


def reference_value(redactor: Redactor, obj: Any) -> Any:
    """``Redactor.value`` as it was written before its fast path, one isinstance at a time
    (with redaction off it was and is ``_jsonable``, which the fast path left alone)."""
    if not redactor.enabled:
        return _jsonable(obj)
    if isinstance(obj, Mapping):
        result: dict[str, Any] = {}
        for key, item in obj.items():
            name = reference_text(redactor, str(key))
            result[name] = (
                REDACTED if reference_is_secret_field(str(key)) else reference_value(redactor, item)
            )
        return result
    if isinstance(obj, list | tuple | set | frozenset):
        return [reference_value(redactor, item) for item in obj]
    if isinstance(obj, bytes | bytearray | memoryview):
        return reference_text(redactor, bytes(obj).hex())
    if isinstance(obj, bool) or obj is None or isinstance(obj, float):
        return obj
    if isinstance(obj, int):
        if not isinstance(obj, bool) and obj in redactor._ints:
            return REDACTED
        return int(obj)
    return reference_text(redactor, str(obj))


class Level(IntEnum):
    LOW = 1
    SECRET = ADMIN_PS


class Mood(Enum):
    CALM = "calm"


class Name(str):
    """A str subclass: goes through str() like any other object."""


class Count(int):
    pass


class Ratio(float):
    pass


# Secrets the test may learn, as (method, argument); texts include trace field names, so a
# key that becomes a secret form must be redacted from then on.
SECRETS: list[tuple[str, Any]] = [
    ("add_u32", ADMIN_PS),
    ("add_u32", UNLOCK_KEY),
    ("add_u32", 0x00BC614E),
    ("add_u32", 300),
    ("add_passcode", PASSCODE),
    ("add_passcode", 4321),
    ("add_text", WIFI_PASSWORD),
    ("add_text", "verdict"),
    ("add_text", "raw"),
    ("add_text", "ok"),
    ("add_bytes", KEY),
    ("add_bytes", b"\x01\x02"),
]


def _forms_of(method: str, argument: Any) -> list[str]:
    scratch = Redactor()
    getattr(scratch, method)(argument)
    return sorted(scratch.forms())


ALL_FORMS = sorted({form for secret in SECRETS for form in _forms_of(*secret)})
SECRET_INTS = [ADMIN_PS, UNLOCK_KEY, 0x00BC614E, 300, 4321, int(PASSCODE), 5, 255, 256]
KEY_NAMES = [
    "seq",
    "t",
    "raw",
    "decoded",
    "verdict",
    "code",
    "command",
    "opcode",
    "ok",
    "aes_key",
    "AES_KEY",
    "admin_ps",
    "ps",
    "sum",
    "wifi_password",
    "user_Passcode",
    "new_secret",
    "x_pwd",
    "is_admin_code",
    "keyboard",
]


@st.composite
def texts_with_forms(draw: st.DrawFn) -> str:
    noise = draw(st.text("0123456789abcdefXYZ :-_=", max_size=12))
    form = draw(st.sampled_from(ALL_FORMS))
    form = draw(st.sampled_from([form, form.upper(), form.lower(), form.swapcase()]))
    at = draw(st.integers(0, len(noise)))
    return noise[:at] + form + noise[at:]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.sampled_from(SECRET_INTS),
    st.sampled_from([*Level, Mood.CALM, Count(ADMIN_PS), Count(7), Ratio(0.5)]),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(KEY_NAMES),
    texts_with_forms(),
    texts_with_forms().map(Name),
    st.binary(max_size=20),
    st.sampled_from([KEY, b"\x01\x02", bytearray(KEY)]),
)
keys = st.one_of(st.sampled_from(KEY_NAMES), texts_with_forms(), st.text(max_size=6))
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.dictionaries(keys, children, max_size=6),
        st.dictionaries(st.integers(0, 2**33), children, max_size=3),
        st.dictionaries(keys, children, max_size=3).map(MappingProxyType),
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
    ),
    max_leaves=40,
)


class Learn(tuple[str, Any]):
    """A step of the run that learns a secret (method name, argument)."""


def typed(value: Any) -> Any:
    """``value`` with the exact type of every part and the order of every dict: ``True``
    and ``1`` (or an IntEnum member and its int) compare equal, a JSON line does not."""
    if isinstance(value, dict):
        return dict, [(typed(k), typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return list, [typed(item) for item in value]
    return type(value), value


@settings(max_examples=300)
@given(
    st.booleans(), st.lists(st.one_of(st.sampled_from(SECRETS).map(Learn), json_like), max_size=8)
)
def test_structured_values_are_redacted_as_before_the_fast_path(
    enabled: bool, steps: list[Any]
) -> None:
    redactor = Redactor(enabled=enabled)
    redactor.add_u32(ADMIN_PS)  # something known from the start
    seen: list[Any] = []
    for step in steps:
        if isinstance(step, Learn):
            method, argument = step
            getattr(redactor, method)(argument)
        else:
            seen.append(step)
        # Every value so far, again: what was cached before a secret was learned must not
        # survive it.
        for value in seen:
            assert typed(redactor.value(value)) == typed(reference_value(redactor, value))
