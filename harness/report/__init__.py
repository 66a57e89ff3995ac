"""Nightly results: what a night ran, the history of nights, and the reports built from them.

The pieces, each in its own module:

* :mod:`ttlock_hil.harness.report.model` — :class:`~.model.Night`, :class:`~.model.TestResult`,
  :class:`~.model.DeviceInfo`:
  frozen dataclasses that round-trip through JSON (``results.json`` is a Night).
* :mod:`ttlock_hil.harness.report.history` — :class:`~.history.HistoryStore`, the
  SQLite history of nights. A night is begun (visible as *incomplete* at once),
  its results recorded and then finished, each step one transaction, so a killed
  run leaves an incomplete night and never a half-written one.
* :mod:`ttlock_hil.harness.report.diff` — a night, test by test, against each test's
  own last result (regressions, lost coverage, fixes, new, removed, passed on retry,
  flip-flops, still failing), the error-code conformance matrix and the trend.
* :mod:`ttlock_hil.harness.report.triage` — which pile a failure belongs to (product,
  link/infrastructure, harness) and why a test stopped running.
* :mod:`ttlock_hil.harness.report.html` — ``report.html`` (one self-contained file: inline CSS
  and SVG, no script, no network) and ``results.json``:
  :func:`~ttlock_hil.harness.report.html.write_night_report`.
* :mod:`ttlock_hil.harness.report.render_text` — the same diff for the terminal: tables on a
  terminal, one whole line per change in a pipe.

How the ``nightly`` command uses them::

    with HistoryStore.open(history_path(config)) as history:
        night_id = history.begin_night(NightMeta.starting(bench=config.lab, ...))
        ...  # run the suite; the plugin produces TestResult objects
        history.record_results(night_id, results)
        night = history.finish_night(night_id)
        paths = write_night_report(night, history, out_dir)

This module holds the errors only (so every submodule can import them without
cycles); import the API from the submodules.
"""

from __future__ import annotations

from pathlib import Path

from ttlock_hil.harness.errors import HarnessError

__all__ = ["ReportError", "StoreMissing", "StoreUnusable", "UnknownNight"]


class ReportError(HarnessError):
    """A night, its results or the history store cannot be used as asked.

    ``message`` says what is wrong, ``fix`` what to do about it; ``str(err)`` is
    one line (``"… — fix: …"``) that the CLI prints after ``error:``.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.message + (f" — fix: {self.fix}" if self.fix else "")


class StoreMissing(ReportError):
    """The history store file does not exist (and was not to be created)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"history store {self.path} does not exist",
            fix="run `ttlock-hil nightly` first, or point --history/--config at the right store",
        )


class StoreUnusable(ReportError):
    """The history store is corrupt, from a newer ttlock-hil, or not a history store at all."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"history store {self.path} {reason}",
            fix="move it aside (the next night starts a new store), or use the ttlock-hil "
            "that wrote it",
        )


class UnknownNight(ReportError, LookupError):
    """No night with this id is in the history store."""

    def __init__(self, night_id: str, known: list[str]) -> None:
        self.night_id = night_id
        self.known = known
        if known:
            recent = ", ".join(known[-3:])
            fix = f"use one of the stored nights (latest: {recent}); `ttlock-hil report diff` "
            fix += "shows the latest"
        else:
            fix = "the store has no nights yet: run `ttlock-hil nightly` first"
        super().__init__(f"no night {night_id!r} in the history store", fix=fix)
