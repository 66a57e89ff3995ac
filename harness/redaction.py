"""Redaction: secrets out of every trace, log line and report, in every form they take.

A :class:`Redactor` knows the secrets of the run — AES keys, admin passwords,
unlock keys, the CHECK_RANDOM sums, passcodes, any other secret text — and
replaces every textual form of them (decimal, zero-padded decimal, big- and
little-endian hex, spaced/colon hex, base64, Python bytes escapes, digit
values, ASCII hex) with ``«redacted»`` in every string of a record, and any
integer equal to a secret. Fields whose *name* says secret (``aes_key``,
``admin_ps``, ``unlock_key``, ``*password``, ``*passcode``, ``sum``, ``ps``…)
are redacted whatever their value.

Which frames lose their payload altogether is the trace's business
(:mod:`ttlock_hil.harness.trace`).

The same :class:`Redactor` filters log records (:class:`RedactingFilter`).
"""

from __future__ import annotations

import base64
import itertools
import logging
import threading
from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import Any, Final

from ttlock_hil.protocol.lockdata import REDACTED, LockData

__all__ = ["REDACTED", "RedactingFilter", "Redactor", "is_secret_field"]

_SECRET_FIELD_NAMES: Final = frozenset(
    {"aes_key", "key", "admin_ps", "unlock_key", "sum", "ps", "ps_from_lock", "secret"}
)
_SECRET_FIELD_SUFFIXES: Final = ("_key", "password", "passcode", "_secret", "_pwd", "admin_code")
_MIN_FORM: Final = 2
_MIN_SECRET_INT: Final = 256
_MIN_SUBSTRING: Final = 4
"""Forms shorter than this are redacted only as whole tokens (see :meth:`Redactor.text`)."""
_LONGER_KEY: Final = 8
"""Forms at least this long are indexed by this many first characters (:class:`_FormIndex`)."""


def is_secret_field(name: str) -> bool:
    """A field whose *name* says secret (``aes_key``, ``admin_ps``, ``*password``…)."""
    lowered = name.lower()
    return lowered in _SECRET_FIELD_NAMES or lowered.endswith(_SECRET_FIELD_SUFFIXES)


_WORD_CHARS: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
"""A short form must not touch one of these (after case folding) on either side."""

_CACHE_SIZE: Final = 4096
_CACHE_MAX_TEXT: Final = 512
"""Redacted strings up to this length are remembered (trace keys, names, repeated frames)."""

# Pairs Python's re treats as one letter under IGNORECASE that no simple case
# mapping joins (re._casefix); every other equivalence is lower/upper/lower.
_EXTRA_FOLDS: Final = {0x1FD3: "\u0390", 0x1FE3: "\u03b0", 0xFB05: "\ufb06"}


class _CaseFold(dict[int, str]):
    """``str.translate`` table: each character to one representative of its case class.

    One character in, one character out, so offsets in the folded text are offsets
    in the original. Two characters fold alike exactly when ``re.IGNORECASE``
    matches one with the other (checked over every code point when written).
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = _EXTRA_FOLDS.get(code)
        if folded is None:
            lower = char.lower()
            lower = lower[0]  # 'İ' lowers to 'i' + a combining dot; re takes the 'i'
            upper = lower.upper()
            if len(upper) == 1:  # 'ß' uppers to 'SS': it stays itself
                lower = upper.lower()[0]
            folded = lower
        self[code] = folded
        return folded


_FOLD: Final = _CaseFold()


def _fold(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_FOLD)


class _FormIndex:
    """Every known form, folded, indexed so that a text is searched in one pass.

    Forms of 8+ characters are keyed by their first eight characters, forms of 4-7
    (matched anywhere too) by their first four, short ones (2-3, whole tokens only) by
    themselves. A text's eight- and four-character windows are intersected with the
    keys in C (``set.intersection`` over ``zip``), so a text without any secret costs
    one pass whatever the number of forms; only where a key occurs are the forms behind
    it compared. Adding a form touches one bucket: nothing is rebuilt.

    Why two lengths: a long-lived Lab learns two random secrets per login, each in a
    dozen forms, most of them hex. Keyed by four characters only, the keys soon covered a
    good part of the 65 536 hex four-grams, so every hex text of a trace hit more keys
    (and cost more) the more logins there had been; eight hex characters have four
    billion values, so a text hits a key only where a secret really is
    (docs/performance.md §4).
    """

    __slots__ = ("long", "long_keys", "longer", "longer_keys", "short", "short_keys")

    def __init__(self) -> None:
        self.longer: dict[str, tuple[str, ...]] = {}
        self.longer_keys: set[tuple[str, ...]] = set()
        self.long: dict[str, tuple[str, ...]] = {}
        self.long_keys: set[tuple[str, ...]] = set()
        self.short: set[str] = set()
        self.short_keys: set[tuple[str, ...]] = set()

    def add(self, form: str) -> None:
        folded = _fold(form)
        if folded == form:
            folded = form  # keep one string object where folding changes nothing
        if len(folded) >= _LONGER_KEY:
            _file(self.longer, self.longer_keys, folded[:_LONGER_KEY], folded)
        elif len(folded) >= _MIN_SUBSTRING:
            _file(self.long, self.long_keys, folded[:_MIN_SUBSTRING], folded)
        else:
            self.short.add(folded)
            self.short_keys.add(tuple(folded))

    def redact(self, value: str) -> str:
        folded = _fold(value)
        size = len(folded)
        starts: set[int] = set()
        if size >= _LONGER_KEY and self.longer_keys:
            grams8 = zip(*(folded[i:] for i in range(_LONGER_KEY)), strict=False)
            for key in self.longer_keys.intersection(grams8):
                _occurrences("".join(key), folded, starts)
        if size >= _MIN_SUBSTRING and self.long_keys:
            grams = zip(folded, folded[1:], folded[2:], folded[3:], strict=False)
            for key in self.long_keys.intersection(grams):
                _occurrences("".join(key), folded, starts)
        if self.short_keys:
            pairs = itertools.pairwise(folded)
            triples = zip(folded, folded[1:], folded[2:], strict=False)
            for key in self.short_keys.intersection(pairs).union(
                self.short_keys.intersection(triples)
            ):
                _occurrences("".join(key), folded, starts)
        if not starts:
            return value
        parts: list[str] = []
        end = 0  # where the last replacement ended
        for at in sorted(starts):
            if at < end:
                continue
            length = self._longest_at(folded, at)
            if length:
                parts.append(value[end:at])
                parts.append(REDACTED)
                end = at + length
        if not parts:
            return value
        parts.append(value[end:])
        return "".join(parts)

    def _longest_at(self, folded: str, at: int) -> int:
        """Length of the longest form that matches at ``at`` (0 for none)."""
        # Every form filed under eight characters is longer than every one under four.
        for form in self.longer.get(folded[at : at + _LONGER_KEY], ()):
            if folded.startswith(form, at):
                return len(form)
        for form in self.long.get(folded[at : at + _MIN_SUBSTRING], ()):
            if folded.startswith(form, at):
                return len(form)
        if self.short and (at == 0 or folded[at - 1] not in _WORD_CHARS):
            for length in (3, 2):
                after = at + length
                if (
                    after <= len(folded)
                    and folded[at:after] in self.short
                    and (after == len(folded) or folded[after] not in _WORD_CHARS)
                ):
                    return length
        return 0


def _file(
    buckets: dict[str, tuple[str, ...]], keys: set[tuple[str, ...]], prefix: str, form: str
) -> None:
    bucket = buckets.get(prefix, ())
    if form not in bucket:
        # Longest first: "00bc614e" wins over "00bc61" where both match.
        buckets[prefix] = tuple(sorted((*bucket, form), key=lambda f: (-len(f), f)))
        keys.add(tuple(prefix))


def _occurrences(needle: str, text: str, into: set[int]) -> None:
    at = text.find(needle)
    while at >= 0:
        into.add(at)
        at = text.find(needle, at + 1)


class Redactor:
    """Knows the secrets of a run and removes them from text and structured values.

    Secrets are learned as the run goes (the AES key of a freshly initialised
    lock, the passcode a test just added): call the ``add_*`` methods at the
    moment a secret comes into existence. ``Redactor(enabled=False)`` passes
    everything through untouched: the explicit opt-out (``redact: false``).
    Thread-safe, so one instance can serve traces and logging handlers.

    Matching: every form is found case-insensitively, the longest form wins where
    several start at the same place, scanning left to right; forms shorter than four
    characters count only as whole tokens (no letter or digit on either side). A
    new secret is added to an index (:class:`_FormIndex`), never compiled into a
    pattern, so learning the thousandth secret costs what learning the first did.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._forms: set[str] = set()
        self._ints: set[int] = set()
        self._lock = threading.Lock()
        self._index = _FormIndex()
        # Results by text; replaced (not cleared) when a form is added, so a result
        # computed with the old forms can only land in the dictionary being dropped.
        self._cache: dict[str, str] = {}
        # Dict keys (a small vocabulary: trace fields, decoded fields) to their redacted
        # name and whether the name says secret; replaced with ``_cache``, for the same
        # reason: a key that has become a secret form is redacted from then on.
        self._keys: dict[str, tuple[str, bool]] = {}

    def __repr__(self) -> str:
        state = "on" if self._enabled else "off"
        return f"Redactor({state}, {len(self._forms)} forms)"

    @property
    def enabled(self) -> bool:
        return self._enabled

    # --- learning secrets ---------------------------------------------------

    def add_bytes(self, value: bytes) -> None:
        """A binary secret (an AES key): hex, spaced/colon hex, base64, bytes escapes."""
        value = bytes(value)
        if not value:
            return
        forms = {
            value.hex(),
            value.hex(" "),
            value.hex(":"),
            value.hex("-"),
            base64.b64encode(value).decode("ascii").rstrip("="),
            base64.urlsafe_b64encode(value).decode("ascii").rstrip("="),
            repr(value)[2:-1],
        }
        self._add(forms)

    def add_u32(self, value: int) -> None:
        """A 32-bit secret (admin password, unlock key, a CHECK_RANDOM sum)."""
        value &= 0xFFFF_FFFF
        big = value.to_bytes(4, "big")
        forms = {str(value), f"{value:010d}", f"{value:x}", big[::-1].hex()}
        self._add(forms, ints={value})
        self.add_bytes(big)

    def add_passcode(self, code: str | int) -> None:
        """A keypad passcode: the digits, their wire forms (digit values, ASCII hex)."""
        text = str(code).strip()
        forms = {text}
        if text.isdigit():
            forms.add(bytes(int(d) for d in text).hex())  # SET_ADMIN_KEYBOARD_PWD form (§4.2 0x53)
            self._add(set(), ints={int(text)})
        forms.add(text.encode("utf-8").hex())  # ASCII on the wire (§4.2 0x03)
        self._add(forms)

    def add_text(self, value: str) -> None:
        """Any other secret string (Wi-Fi password, account password)."""
        if value:
            self._add({value, value.encode("utf-8").hex()})
        raw = value.encode("utf-8")
        if len(raw) >= _MIN_SUBSTRING:
            self._add({base64.b64encode(raw).decode("ascii").rstrip("=")})

    def add_credentials(self, creds: LockData) -> None:
        """The AES key, admin password and unlock key of a lock."""
        self.add_bytes(creds.aes_key)
        self.add_u32(creds.admin_ps)
        self.add_u32(creds.unlock_key)

    def _add(self, forms: set[str], *, ints: Iterable[int] = ()) -> None:
        with self._lock:
            # A one-character form ("5") or an integer below 256 cannot be told
            # apart from ordinary digits, lengths and codes; such degenerate
            # secrets are still caught in their longer forms (zero-padded,
            # 4-byte hex) and by secret-sounding field names.
            self._ints.update(i for i in ints if i >= _MIN_SECRET_INT)
            new = [f for f in forms if len(f) >= _MIN_FORM and f not in self._forms]
            if not new:
                return  # re-learning the same key on every login changes nothing
            self._forms.update(new)
            for form in new:
                self._index.add(form)
            self._cache = {}
            # After ``_cache``: a call that finds the new key dictionary finds the new
            # text cache too, so nothing computed with the old forms lands in it.
            self._keys = {}

    def forms(self) -> frozenset[str]:
        """Every textual form being redacted (for tests that scan artifacts)."""
        with self._lock:
            return frozenset(self._forms)

    # --- applying -------------------------------------------------------------

    def text(self, value: str) -> str:
        """``value`` with every known secret form replaced by ``«redacted»``."""
        # Only texts that went through the index are remembered (redaction on, forms
        # known, two characters or more), so a remembered one needs no further check.
        cache = self._cache
        done = cache.get(value)
        if done is not None:
            return done
        if not self._enabled or len(value) < _MIN_FORM or not self._forms:
            return value
        done = self._index.redact(value)
        if len(value) <= _CACHE_MAX_TEXT:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[value] = done
        return done

    def is_secret_int(self, value: int) -> bool:
        return self._enabled and not isinstance(value, bool) and value in self._ints

    def value(self, obj: Any) -> Any:
        """Redact a JSON-like value recursively (dict keys and values, lists, bytes → hex)."""
        if not self._enabled:
            return _jsonable(obj)
        return self._value(obj, self._keys)

    # Every trace record comes through here: the exact built-in types are told apart by
    # ``type(obj) is``, the leaves of a dict or list without a call of their own, and
    # anything else (subclasses: IntEnum, Mapping, tuple, bytes…) by ``_other``.

    def _value(self, obj: Any, keys: dict[str, tuple[str, bool]]) -> Any:
        kind = type(obj)
        if kind is dict:
            return self._mapping(obj, keys)
        if kind is str:
            return self.text(obj)
        if kind is int:
            return REDACTED if obj in self._ints else obj
        if obj is None or kind is bool or kind is float:
            return obj
        if kind is list:
            return self._sequence(obj, keys)
        return self._other(obj, keys)

    def _mapping(self, obj: Mapping[Any, Any], keys: dict[str, tuple[str, bool]]) -> Any:
        result: dict[str, Any] = {}
        ints = self._ints
        for key, item in obj.items():
            if type(key) is str:
                known = keys.get(key)
                if known is None:
                    known = (self.text(key), is_secret_field(key))
                    if len(key) <= _CACHE_MAX_TEXT:
                        if len(keys) >= _CACHE_SIZE:
                            keys.clear()
                        keys[key] = known
                name, secret = known
            else:
                name = self.text(str(key))
                secret = is_secret_field(str(key))
            if secret:
                result[name] = REDACTED
                continue
            kind = type(item)
            if kind is str:
                result[name] = self.text(item)
            elif kind is int:
                result[name] = REDACTED if item in ints else item
            elif item is None or kind is bool or kind is float:
                result[name] = item
            else:
                result[name] = self._value(item, keys)
        return result

    def _sequence(self, obj: Iterable[Any], keys: dict[str, tuple[str, bool]]) -> list[Any]:
        result: list[Any] = []
        ints = self._ints
        for item in obj:
            kind = type(item)
            if kind is str:
                result.append(self.text(item))
            elif kind is int:
                result.append(REDACTED if item in ints else item)
            elif item is None or kind is bool or kind is float:
                result.append(item)
            else:
                result.append(self._value(item, keys))
        return result

    def _other(self, obj: Any, keys: dict[str, tuple[str, bool]]) -> Any:
        """What ``_value`` does not take by exact type, one ``isinstance`` at a time."""
        if isinstance(obj, Mapping):
            return self._mapping(obj, keys)
        if isinstance(obj, list | tuple | set | frozenset):
            return self._sequence(obj, keys)
        if isinstance(obj, bytes | bytearray | memoryview):
            return self.text(bytes(obj).hex())
        if isinstance(obj, bool) or obj is None or isinstance(obj, float):
            return obj
        if isinstance(obj, int):
            if self.is_secret_int(obj):
                return REDACTED
            return int(obj)
        return self.text(str(obj))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    if isinstance(obj, IntEnum):
        return int(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


class RedactingFilter(logging.Filter):
    """A logging filter that applies a :class:`Redactor` to each record.

    The message is rendered (``msg % args``) and redacted, and so are the
    exception and stack texts. Attach it to *handlers* (a filter on a logger
    does not see records propagated from child loggers)::

        handler.addFilter(RedactingFilter(redactor))
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor.enabled:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback they
            # print is the redacted one.
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True
