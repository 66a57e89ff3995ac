"""``report.html`` and ``results.json`` of a night.

:func:`write_night_report` is the one call the ``nightly`` command needs: it
compares the night with the history store and writes both files into the
night's directory. ``report.html`` is a single self-contained file — inline CSS,
an inline SVG trend plot, no script, no font, image or style from anywhere — so
it can be archived as a CI artifact or mailed and still look the same. A
Content-Security-Policy meta tag (``default-src 'none'``) makes the browser
refuse any fetch or script even if a device-supplied string got through
escaping (they are all escaped: names, firmware, messages).

Sections, each with an ``id`` (for links and tests): ``summary``, ``diff``
(``regressions``, ``fixes``, ``new``, ``removed``, ``flaky``, ``still-failing``),
``matrix`` (model × test), ``conformance`` (model × command × condition),
``coverage`` (seed codes asserted), ``latency`` (p50/p90/max per command and
device), ``trend`` (pass rate and median latency over the last nights),
``failures`` (each with a link to its frame trace) and ``devices``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ttlock_hil.harness.report import ReportError
from ttlock_hil.harness.report.diff import (
    Conformance,
    ConformanceCell,
    Coverage,
    NightDiff,
    TestChange,
    TrendPoint,
    conformance,
    coverage,
    diff_against_history,
    trend,
)
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.model import (
    CodeOrTimeout,
    LatencyStats,
    Night,
    Outcome,
    TestResult,
    latency_stats,
)
from ttlock_hil.protocol.codes import lookup
from ttlock_hil.protocol.errors import UnknownCode

__all__ = [
    "HTML_NAME",
    "RESULTS_NAME",
    "TREND_NIGHTS",
    "NightReport",
    "ReportPaths",
    "build_report",
    "render_html",
    "write_night_report",
    "write_results_json",
]

HTML_NAME: Final = "report.html"
RESULTS_NAME: Final = "results.json"
TREND_NIGHTS: Final = 14
"""How many nights (tonight included) the trend plot shows."""


@dataclass(frozen=True, slots=True)
class NightReport:
    """Everything ``report.html`` shows, computed once (see :func:`build_report`)."""

    night: Night
    diff: NightDiff
    conformance: tuple[ConformanceCell, ...]
    coverage: Coverage
    latency: tuple[LatencyStats, ...]
    trend: tuple[TrendPoint, ...]


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where :func:`write_night_report` wrote the night's files."""

    html: Path
    results: Path


def build_report(
    night: Night,
    history: HistoryStore | None = None,
    *,
    since: str | None = None,
    trend_nights: int = TREND_NIGHTS,
) -> NightReport:
    """Compute the report of ``night``, comparing with ``history`` (None: a first night).

    ``since`` compares with that night instead of the previous complete one.
    The night need not be in the store yet.
    """
    if history is None:
        recent: list[Night] = [night]
    elif history.has_night(night.night_id):
        recent = history.last_n(trend_nights, upto=night.night_id)
    else:
        earlier = [n for n in history.last_n(trend_nights - 1) if n.night_id != night.night_id]
        recent = [*earlier, night]
    return NightReport(
        night=night,
        diff=diff_against_history(night, history, since=since),
        conformance=tuple(conformance(night)),
        coverage=coverage(night),
        latency=tuple(latency_stats(night.results)),
        trend=tuple(trend(recent)),
    )


def write_results_json(night: Night, path: str | Path) -> Path:
    """Write ``night`` as JSON (:meth:`Night.to_dict`) to ``path``, atomically."""
    target = Path(path)
    _write_atomically(target, night.to_json() + "\n")
    return target


def write_night_report(
    night: Night,
    history: HistoryStore | None,
    out_dir: str | Path,
    *,
    trend_nights: int = TREND_NIGHTS,
) -> ReportPaths:
    """Write ``report.html`` and ``results.json`` of ``night`` into ``out_dir``.

    ``out_dir`` is the night's directory (traces are linked relative to it) and
    is created if needed. ``history`` supplies the previous nights for the diff
    and the trend (None: the report of a first night). Each file is replaced
    atomically, so a reader never sees half a report.
    """
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create report directory {directory}: {exc.strerror}",
            fix="check the reports: path in hil-config.yaml or --out",
        ) from None
    report = build_report(night, history, trend_nights=trend_nights)
    results = write_results_json(night, directory / RESULTS_NAME)
    html = directory / HTML_NAME
    _write_atomically(html, render_html(report))
    return ReportPaths(html=html, results=results)


def _write_atomically(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(
            f"cannot write {target}: {exc.strerror or exc}",
            fix="check free disk space and permissions of the report directory",
        ) from None


# --- rendering --------------------------------------------------------------------------

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;
 color:#1d1d1f;background:#fff;max-width:1400px}
h1{font-size:20px;margin:0 0 6px}
h2{font-size:16px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;margin:4px 0 10px}
th,td{border:1px solid #d4d4d8;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font:12px/1.4 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
pre{white-space:pre-wrap;margin:0;max-width:720px}
.summary{font-size:15px;padding:8px 10px;border-radius:4px}
.banner{padding:8px 10px;margin:8px 0;background:#fff3cd;border:1px solid #e5c069}
.ok{background:#dcf5dc}.bad{background:#fadada}
.passed,.match{background:#d5f2d5;color:#0f4d0f}
.failed,.mismatch{background:#f8d0d0;color:#7a0b0b}
.error{background:#eeb0b0;color:#5a0000}
.skipped,.not-run{background:#ececee;color:#55555a}
.xfailed,.known{background:#fbe7bf;color:#6b4a00}
.badge{display:inline-block;margin:1px;padding:0 5px;border-radius:3px;font-size:12px}
.chip{display:inline-block;min-width:46px;margin:1px;padding:1px 3px;text-align:center;
 border-radius:3px;font:11px ui-monospace,Menlo,Consolas,monospace}
.chip.asserted{background:#bfe9bf;color:#0f4d0f}.chip.missing{background:#f0f0f2;color:#8a8a90}
.chip.outside{background:#f8d0d0;color:#7a0b0b}
td a{overflow-wrap:anywhere}
.muted{color:#6e6e73}
.legend span{margin-right:8px}
svg text{font:11px system-ui,sans-serif;fill:#444}
"""

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_SYMBOL: Final = {
    Outcome.PASSED: "✓",
    Outcome.FAILED: "✗",
    Outcome.ERROR: "E",
    Outcome.SKIPPED: "–",
    Outcome.XFAILED: "x",
}

# Worst first: a matrix cell with several devices takes the colour of its worst result.
_SEVERITY: Final = (Outcome.ERROR, Outcome.FAILED, Outcome.XFAILED, Outcome.PASSED, Outcome.SKIPPED)


def _e(value: object) -> str:
    """Escaped text for element content and attribute values (quotes included)."""
    return escape(str(value), quote=True)


def _href(trace_base: str, trace: str) -> str:
    # Traces are relative paths (the model refuses schemes and absolute paths);
    # percent-encoding keeps odd characters from turning into markup or a scheme.
    return _e(quote(trace_base + trace, safe="/._-~"))


def _trace_link(trace_base: str, trace: str | None) -> str:
    if trace is None:
        return '<span class="muted">—</span>'
    return f'<a href="{_href(trace_base, trace)}">{_e(trace)}</a>'


def _code_text(value: CodeOrTimeout) -> str:
    return "—" if value is None else str(value)


def _code_title(value: CodeOrTimeout) -> str:
    if value is None:
        return "nothing observed"
    if isinstance(value, str):
        return "no reply within the deadline"
    try:
        entry = lookup(value)
    except UnknownCode:
        return f"{value}: not in the TTLock registry"
    return f"{entry.code} {entry.name}: {entry.en}"


def _code(value: CodeOrTimeout) -> str:
    return f'<span class="mono" title="{_e(_code_title(value))}">{_e(_code_text(value))}</span>'


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _table(headers: Sequence[str], rows: Iterable[str], *, id_: str | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    ident = f' id="{_e(id_)}"' if id_ else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(report: NightReport, *, trace_base: str = "") -> str:
    """The HTML document of ``report``.

    ``trace_base`` is prefixed to every trace href: empty when the file is
    written into the night's directory, e.g. ``"../2026-11-30T02-00-00Z/"`` when
    it is written elsewhere.
    """
    night = report.night
    title = f"ttlock-hil night {night.night_id} — {night.bench}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{_e(title)}</h1>",
        _summary(night),
        _diff_section(report.diff, trace_base),
        _matrix_section(night),
        _conformance_section(report.conformance),
        _coverage_section(report.coverage),
        _latency_section(report.latency),
        _trend_section(report.trend),
        _failures_section(night, trace_base),
        _devices_section(night),
        '<p class="muted">Self-contained report: no scripts, no network resources.</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary(night: Night) -> str:
    counts = night.counts
    failed = counts[Outcome.FAILED] + counts[Outcome.ERROR]
    devices = len(night.devices) or len({r.device for r in night.results})
    sha = f" ({_e(night.git_sha)})" if night.git_sha else ""
    line = (
        f"<b>{counts[Outcome.PASSED]} passed</b>, <b>{counts[Outcome.FAILED]} failed</b>, "
        f"{counts[Outcome.ERROR]} errors, {counts[Outcome.SKIPPED]} skipped, "
        f"{counts[Outcome.XFAILED]} xfailed · {_duration(night.duration_s)} · "
        f"{devices} device{'s' if devices != 1 else ''} · bench {_e(night.bench)} · "
        f"plugin {_e(night.plugin_version)} · ttlock-hil {_e(night.harness_version)}{sha}"
    )
    started = f"started {_e(night.started.isoformat())}"
    if night.finished is not None:
        started += f", finished {_e(night.finished.isoformat())}"
    banner = ""
    if not night.complete:
        banner = (
            '<p class="banner"><b>Incomplete night</b>: the run did not finish (killed, '
            "crashed or still running); only the results recorded so far are shown.</p>"
        )
    status = "bad" if failed or not night.complete else "ok"
    return (
        f'<section id="summary">{banner}<p class="summary {status}">{line}</p>'
        f'<p class="muted">{started}</p></section>'
    )


def _outcome_badge(outcome: Outcome | None) -> str:
    if outcome is None:
        return '<span class="muted">—</span>'
    return f'<span class="badge {outcome.value}">{_e(outcome.value)}</span>'


_SECTION_IDS: Final = {
    "regressions": "regressions",
    "fixes": "fixes",
    "new": "new",
    "removed": "removed",
    "flaky": "flaky",
    "still_failing": "still-failing",
}


def _change_row(change: TestChange, trace_base: str, flaky: bool) -> str:
    if flaky:
        history = " ".join(_SYMBOL[o] if o is not None else "·" for o in change.history)
        note = f"{_e(change.reason or '')}<br><span class='mono'>{_e(history)}</span>"
    else:
        note = f"<pre>{_e(change.message)}</pre>" if change.message else ""
    return (
        f"<tr><td><code>{_e(change.test_id)}</code></td><td>{_e(change.device)}</td>"
        f"<td>{_e(change.model)}</td><td>{_outcome_badge(change.before)} → "
        f"{_outcome_badge(change.after)}</td><td>{note}</td>"
        f"<td>{_trace_link(trace_base, change.trace)}</td></tr>"
    )


def _diff_section(diff: NightDiff, trace_base: str) -> str:
    parts = [f'<section id="diff"><h2>Since the previous night</h2><p>{_e(diff.headline())}</p>']
    for name, heading in diff.SECTIONS:
        changes = diff.section(name)
        if not diff.has_previous and name != "flaky":
            continue
        parts.append(f'<h3 id="{_SECTION_IDS[name]}">{_e(heading)} ({len(changes)})</h3>')
        if not changes:
            parts.append('<p class="muted">none</p>')
            continue
        flaky = name == "flaky"
        note = "why (verdicts, oldest first)" if flaky else "message"
        parts.append(
            _table(
                ["test", "device", "model", "before → after", note, "trace"],
                (_change_row(c, trace_base, flaky) for c in changes),
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _models(night: Night) -> list[str]:
    order: dict[str, None] = {}
    for device in night.devices:
        order.setdefault(device.model)
    for r in night.results:
        order.setdefault(r.model)
    return list(order)


def _matrix_section(night: Night) -> str:
    models = _models(night)
    cells: dict[tuple[str, str], list[TestResult]] = {}
    for r in night.results:
        cells.setdefault((r.test_id, r.model), []).append(r)
    rows = []
    for test_id in sorted({r.test_id for r in night.results}):
        tds = []
        for model in models:
            results = sorted(cells.get((test_id, model), []), key=lambda r: r.device)
            if not results:
                tds.append('<td class="muted">·</td>')
                continue
            worst = min(results, key=lambda r: _SEVERITY.index(r.outcome)).outcome
            badges = " ".join(
                f'<span title="{_e(r.device)}: {_e(r.outcome.value)}'
                f'{f" on attempt {r.attempts}" if r.attempts > 1 else ""}">'
                f"{_SYMBOL[r.outcome]}{' (retry)' if r.flaky else ''}</span>"
                for r in results
            )
            tds.append(f'<td class="{worst.value}">{badges}</td>')
        rows.append(f"<tr><th><code>{_e(test_id)}</code></th>{''.join(tds)}</tr>")
    legend = " ".join(
        f'<span class="badge {o.value}">{_SYMBOL[o]} {o.value}</span>' for o in Outcome
    )
    body = _table(["test", *models], rows, id_="matrix-table") if rows else "<p>no results</p>"
    return (
        f'<section id="matrix"><h2>Model × test</h2><p class="legend">{legend}</p>{body}</section>'
    )


def _conformance_section(cells: Sequence[ConformanceCell]) -> str:
    head = '<section id="conformance"><h2>Error-code conformance (model × command × condition)</h2>'
    if not cells:
        return head + "<p>No test stated an expected code this night.</p></section>"
    models = list(dict.fromkeys(c.model for c in cells))
    by_case: dict[tuple[str, str], dict[str, list[ConformanceCell]]] = {}
    for cell in cells:
        case = (cell.command, cell.condition or "")
        by_case.setdefault(case, {}).setdefault(cell.model, []).append(cell)
    rows = []
    for (command, condition), per_model in sorted(by_case.items()):
        tds = []
        for model in models:
            found = per_model.get(model)
            if not found:
                tds.append('<td class="muted">·</td>')
                continue
            tds.append("".join(_conformance_cell(c) for c in found))
        rows.append(
            f"<tr><th>{_e(command)}</th><td>{_e(condition) or '<span class=muted>—</span>'}</td>"
            f"{''.join(tds)}</tr>"
        )
    statuses = [c.status for c in cells]
    tally = ", ".join(f"{statuses.count(s)} {s.value}" for s in Conformance if statuses.count(s))
    legend = " ".join(f'<span class="badge {s.value}">{s.value}</span>' for s in Conformance)
    return (
        head + f"<p>{len(cells)} cases: {_e(tally)}. Each cell: expected code → observed code per "
        f'device.</p><p class="legend">{legend}</p>'
        + _table(["command", "condition", *models], rows, id_="conformance-table")
        + "</section>"
    )


def _conformance_cell(cell: ConformanceCell) -> str:
    observed = ", ".join(
        f'<span title="{_e(o.device)}: {_e(o.outcome.value)}">{_e(o.device)} {_code(o.observed)}'
        "</span>"
        if o.outcome is not Outcome.SKIPPED
        else f"<span>{_e(o.device)} skipped</span>"
        for o in cell.observations
    )
    return (
        f'<td class="{cell.status.value}" data-status="{cell.status.value}">'
        f"expected {_code(cell.expected)} → {observed}</td>"
    )


def _coverage_section(cov: Coverage) -> str:
    head = '<section id="coverage"><h2>Coverage of the seed\'s error codes</h2>'
    if cov.valid is None:
        listed = ", ".join(str(c) for c in cov.asserted) or "none"
        return (
            head + f"<p>Plugin version {_e(cov.plugin_version)} is not a version of the "
            f"code table; codes asserted: {_e(listed)}.</p></section>"
        )
    ratio = f" ({cov.ratio:.0%})" if cov.ratio is not None else ""
    chips = []
    asserted = set(cov.asserted)
    for code in cov.valid:
        kind = "asserted" if code in asserted else "missing"
        chips.append(f'<span class="chip {kind}" title="{_e(_code_title(code))}">{code}</span>')
    outside = ""
    if cov.outside:
        outside_chips = "".join(
            f'<span class="chip outside" title="{_e(_code_title(c))}">{c}</span>'
            for c in cov.outside
        )
        outside = (
            f"<p>Asserted but not valid in plugin {_e(cov.plugin_version)} "
            f"(a test expects a code this plugin cannot return): {outside_chips}</p>"
        )
    return (
        head + f"<p><b>{len(cov.covered)} of {len(cov.valid)}</b> codes valid in plugin "
        f"{_e(cov.plugin_version)} were asserted this night{ratio}.</p>"
        f'<p class="legend"><span class="chip asserted">asserted</span>'
        f'<span class="chip missing">not asserted</span></p>'
        f"<div>{''.join(chips)}</div>{outside}</section>"
    )


def _latency_section(stats: Sequence[LatencyStats]) -> str:
    head = '<section id="latency"><h2>Command latency (ms)</h2>'
    if not stats:
        return head + "<p>No latency was measured this night.</p></section>"
    rows = (
        f"<tr><td>{_e(s.command)}</td><td>{_e(s.device)}</td><td class=num>{s.count}</td>"
        f"<td class=num>{_ms(s.p50_ms)}</td><td class=num>{_ms(s.p90_ms)}</td>"
        f"<td class=num>{_ms(s.max_ms)}</td></tr>"
        for s in stats
    )
    return head + _table(["command", "device", "n", "p50", "p90", "max"], rows) + "</section>"


def _trend_section(points: Sequence[TrendPoint]) -> str:
    head = '<section id="trend"><h2>Trend over the last nights</h2>'
    if not points:
        return head + "<p>No nights.</p></section>"
    return head + _trend_svg(points) + "</section>"


def _trend_svg(points: Sequence[TrendPoint]) -> str:
    width, height = 760, 240
    left, right, top, bottom = 48, 64, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    latencies = [p.median_latency_ms for p in points if p.median_latency_ms is not None]
    top_ms = max(latencies) * 1.1 if latencies else 1.0

    def y_rate(rate: float) -> float:
        return top + plot_h * (1 - rate)

    def y_ms(ms: float) -> float:
        return top + plot_h * (1 - ms / top_ms)

    out = [
        f'<svg id="trend-plot" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="pass rate and median latency per night">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        yy = y_rate(frac)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{frac:.0%}</text>'
            f'<text x="{left + plot_w + 6}" y="{yy + 4:.1f}">{top_ms * frac:.0f} ms</text>'
        )
    rate_points = [
        (x(i), y_rate(p.pass_rate)) for i, p in enumerate(points) if p.pass_rate is not None
    ]
    ms_points = [
        (x(i), y_ms(p.median_latency_ms))
        for i, p in enumerate(points)
        if p.median_latency_ms is not None
    ]
    for series, colour, dash in ((rate_points, "#1f8a3b", ""), (ms_points, "#2f5fb3", "5 3")):
        if len(series) > 1:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in series)
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{extra}/>'
            )
    for i, p in enumerate(points):
        label = p.night_id[:10]
        out.append(
            f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_e(label)}</text>'
        )
        if p.pass_rate is not None:
            tip = (
                f"{p.night_id}: pass rate {p.pass_rate:.1%} ({p.passed} passed, {p.failed} "
                f"failed of {p.total}){'' if p.complete else ', incomplete'}"
            )
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y_rate(p.pass_rate):.1f}" r="4" fill="#1f8a3b">'
                f"<title>{_e(tip)}</title></circle>"
            )
        if p.median_latency_ms is not None:
            tip = f"{p.night_id}: median latency {p.median_latency_ms:.1f} ms"
            out.append(
                f'<rect x="{x(i) - 3:.1f}" y="{y_ms(p.median_latency_ms) - 3:.1f}" width="6" '
                f'height="6" fill="#2f5fb3"><title>{_e(tip)}</title></rect>'
            )
    legend_y = height - 14
    out.append(
        f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="4" fill="#1f8a3b"/>'
        f'<text x="{left + 16}" y="{legend_y}">pass rate (left axis)</text>'
        f'<rect x="{left + 170}" y="{legend_y - 7}" width="6" height="6" fill="#2f5fb3"/>'
        f'<text x="{left + 182}" y="{legend_y}">median latency (right axis)</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _failures_section(night: Night, trace_base: str) -> str:
    head = '<section id="failures"><h2>Failures</h2>'
    failures = night.failures
    if not failures:
        return head + "<p>No test failed.</p></section>"
    rows = (
        f'<tr class="{r.outcome.value}"><td><code>{_e(r.test_id)}</code></td>'
        f"<td>{_e(r.device)}</td><td>{_e(r.model)}</td><td>{_outcome_badge(r.outcome)}</td>"
        f"<td>{_code(r.expected)}</td><td>{_code(r.observed)}</td>"
        f"<td><pre>{_e(r.message or '')}</pre></td>"
        f"<td>{_trace_link(trace_base, r.trace)}</td></tr>"
        for r in failures
    )
    return (
        head
        + _table(
            ["test", "device", "model", "outcome", "expected", "observed", "message", "trace"],
            rows,
        )
        + "</section>"
    )


def _devices_section(night: Night) -> str:
    head = '<section id="devices"><h2>Devices</h2>'
    if not night.devices:
        return head + "<p>No devices recorded.</p></section>"
    rows = (
        f"<tr><td>{_e(d.name)}</td><td>{_e(d.model)}</td><td>{_e(d.kind)}</td>"
        f"<td class=mono>{_e(d.address)}</td><td>{_e(d.firmware or '—')}</td>"
        f"<td class=num>{'—' if d.battery is None else f'{d.battery}%'}</td></tr>"
        for d in night.devices
    )
    return (
        head
        + _table(["name", "model", "kind", "address", "firmware", "battery"], rows)
        + "</section>"
    )
