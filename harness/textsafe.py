"""Text that came from a device, made safe to print.

An advertised name is chosen by whoever transmits nearby. Printed as is, ``ESC[2J``
clears the engineer's terminal and U+202E (right-to-left override) reorders what
follows; in a report, CR/LF and bidi controls spoof lines. :func:`printable` shows
such characters as visible escapes instead, and leaves every ordinary character —
any script, any emoji — alone.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["printable"]

# Bidirectional formatting characters (Unicode's "Cf" bidi controls).
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, limit: int | None = None, keep: str = "") -> str:
    """``text`` with control, bidi and other invisible format characters escaped.

    ``limit`` cuts the result to that many characters, ending in ``…``; ``keep`` names
    control characters to leave as they are (a report keeps its line breaks: ``"\n"``).
    """
    out = []
    for char in text:
        if char in keep:
            out.append(char)
            continue
        category = unicodedata.category(char)
        unsafe = category in ("Cc", "Cs", "Co", "Cn") or char in _BIDI
        unsafe = unsafe or (category == "Cf" and char not in "\u200d")  # keep emoji joiners
        out.append(_escape(char) if unsafe else char)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        return result[: max(limit - 1, 0)] + "…"
    return result
