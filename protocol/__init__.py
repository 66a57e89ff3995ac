"""Sans-IO TTLock protocol: bytes in, typed messages out, and back.

Nothing in this package performs I/O, reads a clock or draws random numbers:
keys, times and random values are arguments. ``tests/unit/protocol/test_purity.py``
enforces that rule by walking the imports of every module.
"""

from __future__ import annotations
