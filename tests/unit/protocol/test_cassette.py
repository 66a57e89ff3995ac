"""Cassette templates, bindings, tokens and the JSON format (protocol/cassette.py)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttlock_hil.harness.trace import LOCK_SECRET_COMMANDS
from ttlock_hil.protocol.cassette import (
    Bindings,
    Cassette,
    CassetteError,
    Connection,
    DeviceInfo,
    Interaction,
    KeyUse,
    Notification,
    ReplayMismatch,
    Template,
    Tokenizer,
    TokenKind,
    TokenSpec,
    _iso_year,
    compare_outcomes,
    stand_in,
)
from ttlock_hil.protocol.commands import LockCommand

# docs/protocol.md §4.3 worked frames: adminPs 12345678, unlockKey 87654321, ps 1db78a8f.
ADMIN_PS, UNLOCK_KEY = 12345678, 87654321
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
TOKENS = {
    "admin_ps": TokenSpec("admin_ps", TokenKind.CREDENTIAL, 4),
    "unlock_key": TokenSpec("unlock_key", TokenKind.CREDENTIAL, 4),
    "r1": TokenSpec("r1", TokenKind.RANDOM, 4),
    "sum1": TokenSpec("sum1", TokenKind.SUM, 4, of="r1"),
    "s1": TokenSpec("s1", TokenKind.SECRET, 6, digits=True),
}


def test_a_template_reads_and_writes_its_text() -> None:
    text = "5601{admin_ps}{unlock_key}534349454e4552"
    template = Template.parse(text, TOKENS, where="t")
    assert template.text == text
    assert template.size == 2 + 4 + 4 + 7
    assert template.token_names == ("admin_ps", "unlock_key")


def test_rendering_needs_every_token_and_names_the_missing_one() -> None:
    template = Template.parse("{admin_ps}00", TOKENS, where="t")
    with pytest.raises(CassetteError, match=r"\{admin_ps\}.*credentials"):
        template.render(Bindings(TOKENS))
    bindings = Bindings(TOKENS)
    bindings.supply_credentials(KEY, ADMIN_PS, UNLOCK_KEY)
    assert template.render(bindings) == bytes.fromhex("00bc614e00")


def test_a_sum_is_the_challenge_plus_the_unlock_key() -> None:
    bindings = Bindings(TOKENS)
    bindings.supply("r1", bytes.fromhex("1db78a8f"))
    assert bindings.value("sum1") is None  # the unlock key is not known yet
    bindings.supply("unlock_key", UNLOCK_KEY.to_bytes(4, "big"))
    assert bindings.value("sum1") == bytes.fromhex("22f10a40")  # §4.3 check_random 30
    bindings.bind("sum1", b"\0\0\0\0")  # derived values are never bound
    assert bindings.value("sum1") == bytes.fromhex("22f10a40")


def test_comparing_binds_unknown_tokens_then_holds_them_to_it() -> None:
    template = Template.parse("0301{s1}", TOKENS, where="t")
    bindings = Bindings(TOKENS)
    assert template.compare(b"\x03\x01123456", bindings).ok
    assert bindings.value("s1") == b"123456"
    again = template.compare(b"\x03\x01654321", bindings)
    assert not again.ok
    assert again.tokens == ("s1",)
    literal = template.compare(b"\x03\x00123456", bindings)
    assert literal.differing == (1,)
    assert template.compare(b"\x03", bindings).size == (8, 1)


def test_masked_shows_token_spans_as_names_never_values() -> None:
    template = Template.parse("0301{s1}", TOKENS, where="t")
    shown = template.masked(b"\x03\x02123456")
    assert shown == "0302{s1}"
    assert "313233" not in shown


def test_the_tokenizer_turns_secrets_into_tokens_and_challenges_into_random_values() -> None:
    tokens = Tokenizer(secret_commands=LOCK_SECRET_COMMANDS)
    add_admin = ADMIN_PS.to_bytes(4, "big") + UNLOCK_KEY.to_bytes(4, "big") + b"SCIENER"
    assert tokens.request(LockCommand.ADD_ADMIN, add_admin).text == (
        "{admin_ps}{unlock_key}534349454e4552"
    )
    check_admin = bytes.fromhex("00bc614e00000000000000")
    assert tokens.request(LockCommand.CHECK_ADMIN, check_admin).text == "{admin_ps}00000000000000"
    assert tokens.reply(bytes.fromhex("41011db78a8f")).text == "4101{r1}"
    assert tokens.random == [{"token": "r1", "hex": "1db78a8f"}]
    assert tokens.request(LockCommand.CHECK_RANDOM, bytes.fromhex("22f10a40")).text == "{sum1}"
    assert tokens.tokens["sum1"].of == "r1"


def test_the_aes_key_of_get_aes_key_is_a_credential_listed_apart_without_its_value() -> None:
    tokens = Tokenizer()
    tokens.interaction = 1
    template = tokens.reply(b"\x19\x01" + KEY)
    assert template.text == "1901{aes_key}"
    assert tokens.random == [{"token": "aes_key", "bytes": 16, "interaction": 1}]
    assert KEY.hex() not in json.dumps(tokens.random)


def test_a_passcode_becomes_a_secret_token_wherever_it_appears_again() -> None:
    tokens = Tokenizer(secret_commands=LOCK_SECRET_COMMANDS)
    # §4.3: add passcode permanent, official layout
    add = bytes.fromhex("020106313233343536") + bytes.fromhex("1401010000")
    assert tokens.request(LockCommand.MANAGE_KEYBOARD_PASSWORD, add).text == "020106{s1}1401010000"
    assert tokens.tokens["s1"].digits
    # a list reply of a secret command, digits not declared secret by any layout
    listed = tokens.reply(bytes.fromhex("0701") + b"123456" + b"\x00" + b"98765")
    assert listed.text == "0701{s1}00{s2}"


def cassette(outcome: str = "ok", code: int | None = 0) -> Cassette:
    reply = Notification(
        "reply",
        0.01,
        "5.3.2.1.1",
        0xAA,
        KeyUse.LOCK,
        Template.parse("4101{r1}", TOKENS, where="t"),
    )
    item = Interaction(
        n=1,
        connection=1,
        at=0.0,
        clock="2026-01-01T12:00:00",
        command=LockCommand.CHECK_ADMIN,
        header="5.3.1.1.1",
        key=KeyUse.LOCK,
        request=Template.parse("{admin_ps}00000000000000", TOKENS, where="t"),
        notifications=(reply,),
        outcome=outcome,
        code=code,
        latency=0.01,
    )
    return Cassette(
        source="test",
        device=DeviceInfo("front-door", model="v3-keypad", header="5.3.2.1.1"),
        plugin_version="3.1.0",
        tokens=TOKENS,
        random=({"token": "r1", "hex": "1db78a8f", "interaction": 1},),
        connections=(Connection(1, 0.0, False, 80),),
        interactions=(item,),
    )


def test_a_cassette_survives_its_json() -> None:
    original = cassette()
    again = Cassette.loads(original.dumps())
    assert again.essence() == original.essence()
    assert again.interactions[0].reply is not None
    assert again.interactions[0].reply.echo == 0x41
    assert again.bindings().value("r1") == bytes.fromhex("1db78a8f")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: "{", "not JSON"),
        (lambda d: [], "JSON object"),
        (lambda d: {**d, "cassette": 9}, "format 9"),
        (lambda d: {**d, "tokens": {}}, "not declared"),
        (
            lambda d: {
                **d,
                "interactions": [
                    {
                        **d["interactions"][0],
                        "request": {"header": "5.3.1.1.1", "key": "lock", "plaintext": "xyz"},
                    }
                ],
            },
            "hex",
        ),
        (lambda d: {**d, "interactions": [{"n": 1}]}, "interaction 1"),
    ],
)
def test_a_broken_cassette_is_a_cassette_error_saying_where(edit: object, words: str) -> None:
    data = cassette().to_json()
    changed = edit(data)  # type: ignore[operator]
    text = changed if isinstance(changed, str) else json.dumps(changed)
    with pytest.raises(CassetteError, match=words):
        Cassette.loads(text, name="broken.json")


def test_outcomes_that_differ_are_mismatches_naming_the_interaction() -> None:
    assert compare_outcomes(cassette(), cassette()) == []
    problems = compare_outcomes(cassette(), cassette("device-error", 10002))
    assert len(problems) == 1
    assert isinstance(problems[0], ReplayMismatch)
    assert "interaction #1 CHECK_ADMIN" in str(problems[0])
    assert "expected: ok (code 0)" in str(problems[0])
    assert "actual:   device-error (code 10002)" in str(problems[0])


def test_a_stand_in_has_the_size_and_kind_of_the_secret() -> None:
    spec = TokenSpec("s1", TokenKind.SECRET, 7, digits=True)
    value = stand_in(spec)
    assert len(value) == 7
    assert value.isdigit()
    assert stand_in(spec) == value  # reproducible
    assert len(stand_in(TokenSpec("s2", TokenKind.SECRET, 16))) == 16


def test_a_second_pairing_gets_new_credential_tokens_and_a_wrong_password_stays_a_secret() -> None:
    tokens = Tokenizer(secret_commands=LOCK_SECRET_COMMANDS)
    tokens.know_credentials(KEY, ADMIN_PS, UNLOCK_KEY)
    assert tokens.key_token(KEY) == "aes_key"  # a frame under the first key
    check_admin = bytes.fromhex("00bc614e00000000000000")
    assert tokens.request(LockCommand.CHECK_ADMIN, check_admin).text.startswith("{admin_ps}")
    wrong = (ADMIN_PS + 1).to_bytes(4, "big") + bytes(7)
    assert tokens.request(LockCommand.CHECK_ADMIN, wrong).text == "{s1}00000000000000"
    tokens.reply(bytes.fromhex("41011db78a8f"))
    assert tokens.request(LockCommand.CHECK_RANDOM, bytes.fromhex("22f10a40")).text == "{sum1}"
    new_key = bytes(range(16))
    assert tokens.reply(b"\x19\x01" + new_key).text == "1901{aes_key2}"
    assert tokens.key_token(new_key) == "aes_key2"
    assert tokens.key_token(KEY) == "aes_key"
    add = (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"SCIENER"
    assert tokens.request(LockCommand.ADD_ADMIN, add).text == (
        "{admin_ps2}{unlock_key2}534349454e4552"
    )
    tokens.reply(bytes.fromhex("41010000000a"))  # challenge r2 = 10
    assert tokens.request(LockCommand.CHECK_RANDOM, (12).to_bytes(4, "big")).text == "{sum2}"
    assert tokens.tokens["sum2"].with_ == "unlock_key2"  # 10 + the new unlock key 2


def test_credentials_held_but_never_used_take_the_new_pairings_values() -> None:
    tokens = Tokenizer()
    tokens.know_credentials(KEY, ADMIN_PS, UNLOCK_KEY)  # the harness's, of a lock reset since
    assert tokens.reply(b"\x19\x01" + bytes(range(16))).text == "1901{aes_key}"
    add = (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"SCIENER"
    assert tokens.request(LockCommand.ADD_ADMIN, add).text == "{admin_ps}{unlock_key}534349454e4552"
    assert "aes_key2" not in tokens.tokens


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31)),
    st.sampled_from(["seconds", "minutes", "microseconds"]),
    st.sampled_from(["T", " "]),
)
def test_the_clock_check_reads_a_year_as_datetime_does(
    moment: datetime, spec: str, sep: str
) -> None:
    # protocol/ may not import datetime: the cassette's clock check does the calendar
    # by hand, and must agree with datetime.fromisoformat, which the replay uses.
    assert _iso_year(moment.isoformat(sep=sep, timespec=spec)) == moment.year


@pytest.mark.parametrize(
    "text", ["2026-02-29T00:00:00", "2026-13-01T00:00:00", "2026-01-01T24:00:00", "2026-1-1T00:00"]
)
def test_the_clock_check_refuses_what_is_no_moment(text: str) -> None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        pytest.fail(f"datetime reads {text!r}: not a case of refusal")
    assert _iso_year(text) is None
