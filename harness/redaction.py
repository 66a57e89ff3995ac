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
import logging
import re
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


def is_secret_field(name: str) -> bool:
    """A field whose *name* says secret (``aes_key``, ``admin_ps``, ``*password``…)."""
    lowered = name.lower()
    return lowered in _SECRET_FIELD_NAMES or lowered.endswith(_SECRET_FIELD_SUFFIXES)


class Redactor:
    """Knows the secrets of a run and removes them from text and structured values.

    Secrets are learned as the run goes (the AES key of a freshly initialised
    lock, the passcode a test just added): call the ``add_*`` methods at the
    moment a secret comes into existence. ``Redactor(enabled=False)`` passes
    everything through untouched: the explicit opt-out (``redact: false``).
    Thread-safe, so one instance can serve traces and logging handlers.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._forms: set[str] = set()
        self._ints: set[int] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

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
            before = len(self._forms)
            self._forms.update(f for f in forms if len(f) >= _MIN_FORM)
            self._ints.update(i for i in ints if i >= _MIN_SECRET_INT)
            if len(self._forms) != before:
                # Recompile only when a form is new: re-learning the same key on
                # every login must not rebuild the pattern each time.
                self._pattern = None

    def forms(self) -> frozenset[str]:
        """Every textual form being redacted (for tests that scan artifacts)."""
        with self._lock:
            return frozenset(self._forms)

    # --- applying -------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._forms:
                # Longest first so "00bc614e" wins over its substring "bc614e".
                alternatives = []
                for form in sorted(self._forms, key=lambda f: (-len(f), f)):
                    escaped = re.escape(form)
                    if len(form) < _MIN_SUBSTRING:
                        # A 3-digit secret would otherwise eat every "123" in a
                        # timestamp; short forms only count as whole tokens.
                        escaped = rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
                    alternatives.append(escaped)
                self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
            return self._pattern

    def text(self, value: str) -> str:
        """``value`` with every known secret form replaced by ``«redacted»``."""
        if not self._enabled:
            return value
        pattern = self._compiled()
        return pattern.sub(REDACTED, value) if pattern is not None else value

    def is_secret_int(self, value: int) -> bool:
        return self._enabled and not isinstance(value, bool) and value in self._ints

    def value(self, obj: Any) -> Any:
        """Redact a JSON-like value recursively (dict keys and values, lists, bytes → hex)."""
        if not self._enabled:
            return _jsonable(obj)
        if isinstance(obj, Mapping):
            result: dict[str, Any] = {}
            for key, item in obj.items():
                name = self.text(str(key))
                result[name] = REDACTED if is_secret_field(str(key)) else self.value(item)
            return result
        if isinstance(obj, list | tuple | set | frozenset):
            return [self.value(item) for item in obj]
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


