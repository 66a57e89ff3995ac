"""harness.redaction: the redactor on its own, and log records passed through it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttlock_hil.harness.redaction import REDACTED, RedactingFilter, Redactor
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
