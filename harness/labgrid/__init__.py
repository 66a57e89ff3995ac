"""A lab bigger than one PC: benches as labgrid places (docs/labgrid.md).

labgrid (the ``labgrid`` extra: ``pip install 'ttlock-hil[labgrid]'``) owns the lab's
inventory and who uses what: a coordinator, an exporter on each PC, places with tags,
reservations that queue. A TTLock bench is one place whose one resource,
:class:`~ttlock_hil.harness.labgrid.bench.TTLockBench`, says which PC owns the radio, where
the bench's ``hil-config.yaml`` is on that PC and which Bluetooth adapter it uses.

* :mod:`~ttlock_hil.harness.labgrid.bench` — the resource, the driver giving a ready
  :class:`~ttlock_hil.harness.lab.Lab` (and the nightly command line of its bench) and the
  strategy (``unknown → ready``), for labgrid's pytest plugin (``--lg-env``);
* :mod:`~ttlock_hil.harness.labgrid.coordinator` — our side of the coordinator, in process:
  tagged places, reservations, acquire and release, each with a deadline;
* :mod:`~ttlock_hil.harness.labgrid.labnight` — ``ttlock-hil lab nightly``: every tagged
  bench's night, in parallel, merged into one lab report.

This module holds the errors only and imports no labgrid, so a command can name the fix
when the extra is missing (:func:`require_labgrid`). Each error's ``str()`` is one line
ending in ``— fix: …``.
"""

from __future__ import annotations

import importlib.util

from ttlock_hil.harness.errors import HarnessError

__all__ = [
    "BenchNightFailed",
    "BenchUnavailable",
    "CoordinatorUnreachable",
    "LabgridError",
    "LabgridMissing",
    "NoTaggedPlace",
    "PlaceBusy",
    "require_labgrid",
]


class LabgridError(HarnessError):
    """Something of the labgrid side went wrong: ``message`` what, ``fix`` what to do."""

    def __init__(self, message: str, *, fix: str) -> None:
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message} — fix: {self.fix}"


class LabgridMissing(LabgridError):
    """labgrid is not installed in this environment."""

    def __init__(self) -> None:
        super().__init__(
            "labgrid is not installed", fix="pip install 'ttlock-hil[labgrid]' (labgrid 26.0.1)"
        )


class CoordinatorUnreachable(LabgridError):
    """No labgrid coordinator answered at the address within the deadline."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(
            f"the labgrid coordinator at {address} is unreachable ({reason})",
            fix="start labgrid-coordinator there (systemctl start labgrid-coordinator) or pass "
            "the right --coordinator HOST:PORT",
        )


class NoTaggedPlace(LabgridError):
    """The coordinator has no place with the tags asked for."""

    def __init__(self, address: str, tags: dict[str, str], known: list[str]) -> None:
        self.tags = dict(tags)
        self.known = list(known)
        wanted = " ".join(f"{k}={v}" for k, v in sorted(tags.items()))
        places = f" (places: {', '.join(sorted(known))})" if known else " (it has no places)"
        super().__init__(
            f"no place on the coordinator {address} has the tag {wanted}{places}",
            fix=f"tag each bench's place: labgrid-client -p PLACE set-tags {wanted}",
        )


class PlaceBusy(LabgridError):
    """The place is reserved or acquired by someone else and we were not to wait for it."""

    def __init__(self, place: str, holder: str) -> None:
        self.place = place
        self.holder = holder
        super().__init__(
            f"bench {place} is busy: labgrid place {place} is held by {holder}",
            fix="wait for it to finish (or pass --wait SECONDS to queue for the reservation)",
        )


class BenchUnavailable(LabgridError):
    """The bench's exporter is gone (or never exported the bench): not run, not failed."""

    def __init__(self, place: str, reason: str) -> None:
        self.place = place
        self.reason = reason
        super().__init__(
            f"bench {place} is unavailable: {reason}",
            fix="start labgrid-exporter on the bench's PC (systemctl start labgrid-exporter) "
            "and check that it exports the TTLockBench resource the place matches",
        )


class BenchNightFailed(LabgridError):
    """A bench's night did not produce a night (it crashed, timed out, or SSH failed)."""

    def __init__(self, place: str, reason: str, *, fix: str | None = None) -> None:
        self.place = place
        self.reason = reason
        super().__init__(
            f"the night of bench {place} failed: {reason}",
            fix=fix or "read that bench's nightly.log in the lab night's directory",
        )


def require_labgrid() -> None:
    """Raise :class:`LabgridMissing` unless labgrid can be imported."""
    if importlib.util.find_spec("labgrid") is None:
        raise LabgridMissing()
