"""ttlock-hil harness: asyncio + bleak I/O, sessions, reports, CLI."""

from __future__ import annotations
