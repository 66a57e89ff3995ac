"""The diff of a night for the terminal: rich tables (``ttlock-hil report diff``).

The same sections as ``report.html`` (regressions, fixes, new, removed, flaky,
still failing), each a table; empty sections are one dim line so the output
stays short on a good night. Device-supplied text is printed as plain text
(never interpreted as rich markup).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ttlock_hil.harness.report.diff import NightDiff, TestChange
from ttlock_hil.harness.report.model import Outcome

__all__ = ["diff_table", "print_diff"]

_STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.ERROR: "bold red",
    Outcome.SKIPPED: "dim",
    Outcome.XFAILED: "yellow",
}

_SECTION_STYLE = {
    "regressions": "bold red",
    "fixes": "green",
    "new": "cyan",
    "removed": "magenta",
    "flaky": "yellow",
    "still_failing": "red",
}


def _outcome(outcome: Outcome | None) -> Text:
    if outcome is None:
        return Text("—", style="dim")
    return Text(outcome.value, style=_STYLE[outcome])


def _transition(change: TestChange) -> Text:
    return Text.assemble(_outcome(change.before), " → ", _outcome(change.after))


def diff_table(title: str, name: str, changes: tuple[TestChange, ...]) -> Table:
    """One section of the diff as a table (``name`` is the NightDiff attribute)."""
    table = Table(
        title=Text(f"{title} ({len(changes)})", style=_SECTION_STYLE.get(name, "")),
        title_justify="left",
        show_lines=False,
        expand=False,
    )
    table.add_column("test", overflow="fold")
    table.add_column("device", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("before → after", no_wrap=True)
    table.add_column("why" if name == "flaky" else "message", overflow="fold")
    table.add_column("trace", overflow="fold")
    for change in changes:
        if name == "flaky":
            note = change.reason or ""
        else:
            note = (change.message or "").splitlines()[0] if change.message else ""
        table.add_row(
            Text(change.test_id),
            Text(change.device),
            Text(change.model),
            _transition(change),
            Text(note),
            Text(change.trace or "—"),
        )
    return table


def print_diff(diff: NightDiff, console: Console, *, note: str | None = None) -> None:
    """Print the headline and every section of ``diff`` (``note``: an extra first line)."""
    if note:
        console.print(Text(note, style="yellow"))
    console.print(Text(diff.headline(), style="bold"))
    for name, title in diff.SECTIONS:
        if not diff.has_previous and name != "flaky":
            continue
        changes = diff.section(name)
        if not changes:
            console.print(Text(f"{title}: none", style="dim"))
            continue
        console.print(diff_table(title, name, changes))
