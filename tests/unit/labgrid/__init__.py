"""Tests of the labgrid integration (harness/labgrid, ``ttlock-hil lab nightly``).

Real labgrid processes on loopback only: a coordinator bound to 127.0.0.1 on a free port
in a temporary directory, one exporter per virtual bench PC (:mod:`.loopback`). Every
process a test starts is ended by its PID in the fixture's ``finally``.
"""
