"""The diff as rich tables for the terminal."""

from __future__ import annotations

import io

from rich.console import Console

from tests.unit.report import night, result
from ttlock_hil.harness.report.diff import diff_nights
from ttlock_hil.harness.report.render_text import diff_table, print_diff


def render(diff, note: str | None = None) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    print_diff(diff, Console(file=out, width=200, color_system=None), note=note)
    return out.getvalue()


def test_every_section_is_printed_with_its_rows() -> None:
    before = night(0, [result("a"), result("b", outcome="failed"), result("gone")])
    after = night(
        1,
        [
            result(
                "a", outcome="failed", message="expected 30, got 31\nsecond line", trace="t/a.jsonl"
            ),
            result("b"),
            result("fresh"),
            result("wobbly", attempts=2),
        ],
    )
    text = render(diff_nights(after, before))
    lines = text.splitlines()
    assert lines[0] == (
        "2026-12-01T02-00-00Z vs 2026-11-30T02-00-00Z: 1 regression, 1 fix, 2 new, 1 removed, "
        "1 flaky, 0 still failing"
    )
    assert "Regressions (passed → failed) (1)" in text
    regression = next(line for line in lines if "::a " in line)
    assert "front-door" in regression
    assert "passed → failed" in regression
    assert "expected 30, got 31" in regression
    assert "second line" not in text  # one line of the message per row
    assert "t/a.jsonl" in regression
    assert "Fixes (failed → passed) (1)" in text
    assert "Removed tests (1)" in text
    assert "passed only on attempt 2" in text
    assert "Still failing: none" in text


def test_a_first_night_prints_only_the_headline_and_flaky() -> None:
    text = render(diff_nights(night(0, [result("a")]), None), note="note: hello")
    assert text.splitlines()[0] == "note: hello"
    assert "no previous complete night" in text
    assert "Flaky: none" in text
    assert "Regressions" not in text


def test_device_text_is_not_taken_as_rich_markup() -> None:
    before = night(0, [result("a")])
    after = night(1, [result("a", outcome="failed", message="[bold red]boom[/] [link=x]y[/link]")])
    table = diff_table("Regressions", "regressions", diff_nights(after, before).regressions)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(table)
    assert "[bold red]boom[/] [link=x]y[/link]" in out.getvalue()
