"""One lock's worth of secrets, and every form a careless log line could give them.

Shared by the trace and redaction tests: each scans what was written for every form.
"""

from __future__ import annotations

import base64

from ttlock_hil.harness.credentials import LockCredentials
from ttlock_hil.harness.redaction import Redactor

KEY = bytes.fromhex("8c2f9a41d07e53b6e9120a7fc4d83b25")
ADMIN_PS = 1_987_654_321
UNLOCK_KEY = 305_419_896
CREDS = LockCredentials(aes_key=KEY, admin_ps=ADMIN_PS, unlock_key=UNLOCK_KEY, uid=77)
PS_FROM_LOCK = 0x1DB78A8F  # a real ps from a capture (docs/protocol.md §4.3)
CHECK_SUM = (PS_FROM_LOCK + UNLOCK_KEY) % 2**32
PASSCODE = "7391046"
WIFI_PASSWORD = "correct-horse-battery"


def u32_forms(value: int) -> list[str]:
    big = value.to_bytes(4, "big")
    return [
        str(value),
        f"{value:010d}",
        big.hex(),
        big.hex().upper(),
        big[::-1].hex(),
        big.hex(" "),
        f"{value:#x}",
    ]


def bytes_forms(value: bytes) -> list[str]:
    return [
        value.hex(),
        value.hex().upper(),
        value.hex(" "),
        value.hex(":").upper(),
        base64.b64encode(value).decode(),
        repr(value)[2:-1],
    ]


def every_secret_form() -> list[str]:
    """Each representation a careless log line or decoder could produce."""
    return [
        *bytes_forms(KEY),
        *u32_forms(ADMIN_PS),
        *u32_forms(UNLOCK_KEY),
        *u32_forms(CHECK_SUM),
        PASSCODE,
        PASSCODE.encode().hex(),
        bytes(int(d) for d in PASSCODE).hex(),
        WIFI_PASSWORD,
        WIFI_PASSWORD.encode().hex(),
    ]


def run_redactor(enabled: bool) -> Redactor:
    redactor = Redactor(enabled=enabled)
    redactor.add_credentials(CREDS)
    redactor.add_u32(CHECK_SUM)
    redactor.add_passcode(PASSCODE)
    redactor.add_text(WIFI_PASSWORD)
    return redactor
