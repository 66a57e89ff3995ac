"""harness.redaction: the redactor on its own, and log records passed through it."""

from __future__ import annotations

import io
import logging

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
