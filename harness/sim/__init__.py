"""Virtual TTLock devices (lock role of :mod:`protocol`) and their bleak backends."""

from __future__ import annotations
