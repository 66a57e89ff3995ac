"""The diff of a night for the terminal (``ttlock-hil report diff``).

The same sections as ``report.html`` (regressions, lost coverage, flip-flops,
passed on retry, fixes, still failing, new, removed); empty sections are one
line so the output stays short on a good night. Device-supplied text is printed
as plain text (never interpreted as rich markup).

On a terminal each section is a rich table that fits its width. Anywhere else
(a pipe, a file, a CI log) there is no width to fit, and wrapping to a made-up
80 columns turns two regressions into a hundred lines: :func:`plain_lines`
prints one line per change instead — columns aligned, nothing wrapped, nothing
cut — so ``grep`` finds a test and its message on one line. Lost coverage is
grouped by device and reason in both forms: one failed bring-up is one line,
not one per test it took down.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ttlock_hil.harness.report.diff import NightDiff, TestChange
from ttlock_hil.harness.report.model import Outcome

__all__ = ["diff_table", "lost_coverage_groups", "plain_lines", "print_diff"]

_STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.ERROR: "bold red",
    Outcome.SKIPPED: "dim",
    Outcome.XFAILED: "yellow",
}

_SECTION_STYLE = {
    "regressions": "bold red",
    "lost_coverage": "bold magenta",
    "flip_flops": "yellow",
    "passed_on_retry": "yellow",
    "fixes": "green",
    "still_failing": "red",
    "new": "cyan",
    "removed": "magenta",
}

_FLAKY = ("passed_on_retry", "flip_flops")


def lost_coverage_groups(
    changes: Sequence[TestChange],
) -> list[tuple[tuple[str, str], list[TestChange]]]:
    """Lost coverage by ``(device, reason)``, in device then reason order."""
    groups: dict[tuple[str, str], list[TestChange]] = {}
    for change in changes:
        groups.setdefault((change.device, change.reason or "skipped"), []).append(change)
    return sorted(groups.items())


def _outcome(outcome: Outcome | None) -> Text:
    if outcome is None:
        return Text("—", style="dim")
    return Text(outcome.value, style=_STYLE[outcome])


def _transition(change: TestChange) -> Text:
    return Text.assemble(_outcome(change.before), " → ", _outcome(change.after))


def _note(name: str, change: TestChange) -> str:
    if name in _FLAKY or (name == "removed" and change.reason):
        return change.reason or ""
    text = (change.message or "").strip()
    first = text.splitlines()[0] if text else ""
    if change.trace is not None:
        first = first.replace(f" — trace: {change.trace}", "")
    if change.category is not None and name in ("regressions", "still_failing"):
        return f"[{change.category.heading}] {first}".rstrip()
    return first


def diff_table(title: str, name: str, changes: tuple[TestChange, ...]) -> Table:
    """One section of the diff as a table (``name`` is the NightDiff attribute)."""
    table = Table(
        title=Text(f"{title} ({len(changes)})", style=_SECTION_STYLE.get(name, "")),
        title_justify="left",
        show_lines=False,
        expand=False,
    )
    if name == "lost_coverage":
        table.add_column("device", no_wrap=True)
        table.add_column("tests", no_wrap=True, justify="right")
        table.add_column("why they did not run", overflow="fold")
        table.add_column("trace", overflow="fold")
        for (device, reason), members in lost_coverage_groups(changes):
            trace = next((c.trace for c in members if c.trace is not None), None)
            table.add_row(Text(device), Text(str(len(members))), Text(reason), Text(trace or "—"))
        return table
    table.add_column("test", overflow="fold")
    table.add_column("device", no_wrap=True)
    table.add_column("before → after", no_wrap=True)
    table.add_column("why" if name in _FLAKY else "message", overflow="fold")
    table.add_column("trace", overflow="fold")
    for change in changes:
        table.add_row(
            Text(change.test_id),
            Text(change.device),
            _transition(change),
            Text(_note(name, change)),
            Text(change.trace or "—"),
        )
    return table


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as aligned lines: every column padded but the last, nothing cut."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  " + "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def plain_lines(diff: NightDiff, *, note: str | None = None) -> list[str]:
    """The diff as plain lines for a pipe or a file: one line per change or lost-coverage
    group, aligned, never wrapped; empty sections collected into one line."""
    lines = [note] if note else []
    lines.append(diff.headline())
    empty: list[str] = []
    for name, title in diff.SECTIONS:
        if not diff.compared and name != "passed_on_retry":
            continue
        changes = diff.section(name)
        if not changes:
            empty.append(title.split(" (")[0])
            continue
        lines.append(f"{title} ({len(changes)}):")
        rows: list[list[str]] = []
        if name == "lost_coverage":
            for (device, reason), members in lost_coverage_groups(changes):
                trace = next((c.trace for c in members if c.trace is not None), None)
                count = f"{len(members)} test{'s' if len(members) != 1 else ''}"
                rows.append([device, count, reason + (f" — trace: {trace}" if trace else "")])
        else:
            for change in changes:
                before = change.before.value if change.before is not None else "—"
                after = change.after.value if change.after is not None else "—"
                note_text = _note(name, change)
                trace = f" — trace: {change.trace}" if change.trace else ""
                rows.append(
                    [change.test_id, change.device, f"{before} → {after}", note_text + trace]
                )
        lines.extend(line.rstrip() for line in _columns(rows))
    if empty:
        lines.append("none: " + ", ".join(empty))
    return lines


def print_diff(diff: NightDiff, console: Console, *, note: str | None = None) -> None:
    """Print the headline and every section of ``diff`` (``note``: an extra first line).

    Tables on a terminal; :func:`plain_lines` when the console is not a terminal.
    """
    if not console.is_terminal:
        for line in plain_lines(diff, note=note):
            console.print(Text(line), soft_wrap=True, crop=False)
        return
    if note:
        console.print(Text(note, style="yellow"))
    console.print(Text(diff.headline(), style="bold"))
    empty: list[str] = []
    for name, title in diff.SECTIONS:
        if not diff.compared and name != "passed_on_retry":
            continue
        changes = diff.section(name)
        if not changes:
            empty.append(title.split(" (")[0])
            continue
        console.print(diff_table(title, name, changes))
    if empty:
        console.print(Text("none: " + ", ".join(empty), style="dim"))
