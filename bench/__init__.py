"""make bench: the performance figures of docs/performance.md (not part of make test)."""
