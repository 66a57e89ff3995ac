"""The diff for the terminal: rich tables on a terminal, whole plain lines anywhere else."""

from __future__ import annotations

import io

from rich.console import Console

from tests.unit.report import night, result
from ttlock_hil.harness.report.diff import NightDiff, diff_nights
from ttlock_hil.harness.report.render_text import diff_table, plain_lines, print_diff


def render(diff: NightDiff, note: str | None = None, *, terminal: bool = True) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=terminal)
    print_diff(diff, console, note=note)
    return out.getvalue()


BROKEN = (
    "front-door is broken: bring-up failed in tests/hil/test_lock.py::a[front-door]: front-door: "
    "failed with code 10002 CONNECT_TIMEOUT (Bluetooth connection timed out; make sure the device "
    "is nearby.): no connection within 10 s — trace: traces/a.jsonl"
)


def busy_night() -> NightDiff:
    before = night(
        0, [result("a"), result("b", outcome="failed"), result("gone"), result("c"), result("d")]
    )
    after = night(
        1,
        [
            result(
                "a",
                outcome="failed",
                message="AssertionError: expected code 30, observed 31\nsecond line",
                trace="t/a.jsonl",
            ),
            result("b"),
            result("fresh"),
            result("wobbly", attempts=2),
            result("c", outcome="skipped", message=BROKEN),
            result("d", outcome="skipped", message=BROKEN),
        ],
    )
    return diff_nights(after, before)


def test_every_section_is_printed_with_its_rows() -> None:
    text = render(busy_night())
    lines = text.splitlines()
    assert lines[0] == (
        "2026-12-01T02-00-00Z vs 2026-11-30T02-00-00Z: 1 regression, 2 lost coverage, 1 fix, "
        "2 new, 1 removed, 1 passed on retry, 0 flip-flops, 0 still failing"
    )
    assert "Regressions (passed → failed) (1)" in text
    regression = next(line for line in lines if "::a " in line)
    assert "front-door" in regression
    assert "passed → failed" in regression
    assert "[device answered a different code] AssertionError: expected code 30" in regression
    assert "second line" not in text  # one line of the message per row
    assert "t/a.jsonl" in regression
    assert "Fixes (failed → passed) (1)" in text
    assert "Removed tests (1)" in text
    assert "passed only on attempt 2" in text
    lost = next(line for line in lines if "broken at bring-up" in line)
    assert " 2 " in lost  # two tests, one row
    assert "none: Flaky: flip-flop, Still failing" in text


def test_a_first_night_prints_only_the_headline_and_passed_on_retry() -> None:
    text = render(diff_nights(night(0, [result("a")]), None), note="note: hello")
    assert text.splitlines()[0] == "note: hello"
    assert "no earlier night to compare" in text
    assert "none: Flaky: passed on retry" in text
    assert "Regressions" not in text


def test_without_a_terminal_each_change_is_one_whole_line() -> None:
    # Measured: 122 lines for 2 regressions in a pipe (rich wrapped at 80 columns).
    text = render(busy_night(), note="note: hello", terminal=False)
    lines = text.splitlines()
    assert lines == plain_lines(busy_night(), note="note: hello")
    assert len(lines) <= 16
    regression = next(line for line in lines if "::a " in line)
    assert regression.split() == [
        "tests/hil/test_lock.py::a",
        "front-door",
        "passed",
        "→",
        "failed",
        "[device",
        "answered",
        "a",
        "different",
        "code]",
        "AssertionError:",
        "expected",
        "code",
        "30,",
        "observed",
        "31",
        "—",
        "trace:",
        "t/a.jsonl",
    ]
    lost = next(line for line in lines if "broken at bring-up" in line)
    assert lost.split()[:3] == ["front-door", "2", "tests"]
    assert lost.endswith("no connection within 10 s — trace: traces/a.jsonl")
    assert max(len(line) for line in lines) > 80  # not wrapped to a made-up width


def test_plain_lines_align_the_columns_of_a_section() -> None:
    before = night(0, [result("a"), result("a-much-longer-name")])
    after = night(1, [result("a", outcome="failed"), result("a-much-longer-name", outcome="error")])
    lines = [line for line in plain_lines(diff_nights(after, before)) if line.startswith("  ")]
    assert len(lines) == 2
    assert lines[0].index("front-door") == lines[1].index("front-door")


def test_device_text_is_not_taken_as_rich_markup() -> None:
    before = night(0, [result("a")])
    after = night(1, [result("a", outcome="failed", message="[bold red]boom[/] [link=x]y[/link]")])
    table = diff_table("Regressions", "regressions", diff_nights(after, before).regressions)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(table)
    assert "[bold red]boom[/] [link=x]y[/link]" in out.getvalue()
    plain = render(diff_nights(after, before), terminal=False)
    assert "[bold red]boom[/] [link=x]y[/link]" in plain
