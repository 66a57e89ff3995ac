"""``report.html`` and ``results.json`` of a night.

:func:`write_night_report` is the one call the ``nightly`` command needs: it
compares the night with the history store and writes both files into the
night's directory. ``report.html`` is a single self-contained file — inline CSS,
an inline SVG trend plot, no script, no font, image or style from anywhere — so
it can be archived as a CI artifact or mailed and still look the same. A
Content-Security-Policy meta tag (``default-src 'none'``) makes the browser
refuse any fetch or script even if a device-supplied string got through
escaping (they are all escaped: names, firmware, messages).

It is laid out to be read in half a minute on a 1280-pixel screen: the top
sections (``summary``, ``diff``, ``failures``) never need a horizontal scroll —
fixed table layouts, wrapped messages, each trace a short ``trace`` link (the
path in its tooltip), paths relative to the night's directory. Wide tables
further down (``matrix``, ``conformance``) scroll inside their own box.

Sections, each with an ``id`` (for links and tests): ``summary`` (counts, the
failure piles, devices whose config changed), ``diff`` (``regressions``,
``lost-coverage``, ``flip-flops``, ``passed-on-retry``, ``fixes``,
``still-failing``, ``new``, ``removed``), ``failures`` (grouped by pile:
``failures-product``, ``failures-link``, ``failures-harness``), ``matrix``
(test × device, one cell per device), ``conformance`` (model × command ×
condition), ``coverage`` (seed codes asserted), ``latency`` (p50/p90/max per
command and device), ``trend`` (failures and median latency over the last
nights, one slot per night) and ``devices``.

Files are written readable by others (0644) so a web server or a shared folder
can serve them — unless the night was run with ``redact: false`` (its messages
may hold secrets): then 0600, for the owner only.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ttlock_hil.harness.config import KNOWN_MODELS
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
    NightStats,
    Outcome,
    TestResult,
    latency_stats,
)
from ttlock_hil.harness.report.triage import FailureCategory, failure_category
from ttlock_hil.harness.textsafe import printable
from ttlock_hil.protocol.codes import lookup
from ttlock_hil.protocol.errors import UnknownCode

__all__ = [
    "HTML_NAME",
    "PRIVATE_MODE",
    "PUBLIC_MODE",
    "RESULTS_NAME",
    "TREND_NIGHTS",
    "BenchLine",
    "NightReport",
    "ReportPaths",
    "build_report",
    "file_mode",
    "render_html",
    "write_night_report",
    "write_results_json",
    "write_text",
]

HTML_NAME: Final = "report.html"
RESULTS_NAME: Final = "results.json"
TREND_NIGHTS: Final = 14
"""How many nights (tonight included) the trend plot shows."""

PUBLIC_MODE: Final = 0o644
"""Report files of a redacted night: anyone may read them (a web server, a shared folder)."""
PRIVATE_MODE: Final = 0o600
"""Report files of a night run with ``redact: false``: the owner only."""


def file_mode(night: Night) -> int:
    """The mode of ``night``'s report files: :data:`PUBLIC_MODE` unless it was not redacted."""
    return PUBLIC_MODE if night.redacted else PRIVATE_MODE


@dataclass(frozen=True, slots=True)
class BenchLine:
    """One bench of a lab night (``ttlock-hil lab nightly``, docs/labgrid.md): its status,
    what to know about it, and its own report relative to the lab night's directory."""

    place: str
    status: str
    detail: str = ""
    report: str | None = None

    def __post_init__(self) -> None:
        if self.report is not None and (self.report.startswith(("/", "\\")) or ":" in self.report):
            raise ReportError(
                f"bench {self.place}: report must be a path relative to the lab night, got "
                f"{self.report!r}",
                fix="give the bench's report.html relative to the lab night's directory",
            )


@dataclass(frozen=True, slots=True)
class NightReport:
    """Everything ``report.html`` shows, computed once (see :func:`build_report`).

    ``config_changes`` maps a device to what changed in its lab config since the
    last night that listed it (a device never seen before maps to ``["new device"]``).
    """

    night: Night
    diff: NightDiff
    conformance: tuple[ConformanceCell, ...]
    coverage: Coverage
    latency: tuple[LatencyStats, ...]
    trend: tuple[TrendPoint, ...]
    config_changes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    benches: tuple[BenchLine, ...] = ()
    """The benches of a lab night (empty for a single bench's night)."""


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where :func:`write_night_report` wrote the night's files, and the diff it reported."""

    html: Path
    results: Path
    diff: NightDiff
    """The report's diff (against each test's own past): ``diff.json`` of a night is this
    one, not a second computation of it."""


def _config_changes(night: Night, history: HistoryStore | None) -> dict[str, tuple[str, ...]]:
    if history is None:
        return {}
    before = night.night_id if history.has_night(night.night_id) else None
    earlier = history.last_devices(before)
    if not earlier:
        return {}
    changes: dict[str, tuple[str, ...]] = {}
    for device in night.devices:
        previous = earlier.get(device.name)
        if previous is None:
            changes[device.name] = ("new device",)
            continue
        found = device.config_changes(previous)
        if found:
            changes[device.name] = tuple(found)
    return changes


def build_report(
    night: Night,
    history: HistoryStore | None = None,
    *,
    since: str | None = None,
    trend_nights: int = TREND_NIGHTS,
    benches: Sequence[BenchLine] = (),
) -> NightReport:
    """Compute the report of ``night``, comparing with ``history`` (None: a first night).

    ``since`` compares with that night instead of each test's own past.
    The night need not be in the store yet.
    """
    if history is None:
        recent: list[Night | NightStats] = [night]
    elif history.has_night(night.night_id):
        recent = [*history.last_n_stats(trend_nights, upto=night.night_id, complete_only=False)]
    else:
        earlier = [
            n
            for n in history.last_n_stats(trend_nights - 1, complete_only=False)
            if n.night_id != night.night_id
        ]
        recent = [*earlier, night]
    return NightReport(
        night=night,
        diff=diff_against_history(night, history, since=since),
        conformance=tuple(conformance(night)),
        coverage=coverage(night),
        latency=tuple(latency_stats(night.results)),
        trend=tuple(trend(recent)),
        config_changes=_config_changes(night, history),
        benches=tuple(benches),
    )


def write_results_json(night: Night, path: str | Path, *, mode: int | None = None) -> Path:
    """Write ``night`` as JSON (:meth:`Night.to_dict`) to ``path``, atomically.

    ``mode`` defaults to :func:`file_mode` of the night.
    """
    target = Path(path)
    write_text(target, night.to_json() + "\n", mode=file_mode(night) if mode is None else mode)
    return target


def write_night_report(
    night: Night,
    history: HistoryStore | None,
    out_dir: str | Path,
    *,
    trend_nights: int = TREND_NIGHTS,
    benches: Sequence[BenchLine] = (),
) -> ReportPaths:
    """Write ``report.html`` and ``results.json`` of ``night`` into ``out_dir``.

    ``out_dir`` is the night's directory (traces are linked relative to it) and
    is created if needed. ``history`` supplies the earlier nights for the diff,
    the trend and the config markers (None: the report of a first night). Each
    file is replaced atomically, so a reader never sees half a report; its mode
    is :func:`file_mode` (0644, or 0600 for a night run with ``redact: false``).
    """
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create report directory {directory}: {exc.strerror}",
            fix="check the reports: path in hil-config.yaml or --out",
        ) from None
    report = build_report(night, history, trend_nights=trend_nights, benches=benches)
    results = write_results_json(night, directory / RESULTS_NAME)
    html = directory / HTML_NAME
    write_text(html, render_html(report), mode=file_mode(night))
    return ReportPaths(html=html, results=results, diff=report.diff)


def write_text(target: Path, text: str, *, mode: int = PUBLIC_MODE) -> None:
    """Replace ``target`` with ``text`` atomically, with permission bits ``mode``.

    The bits are set on the temporary file before it takes the name, so the file
    is never visible with other permissions (``mkstemp`` makes it 0600 first).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temp, mode)
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
h1{font-size:20px;margin:0 0 6px;overflow-wrap:anywhere}
h2{font-size:16px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;margin:4px 0 10px}
th,td{border:1px solid #d4d4d8;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font:12px/1.4 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
pre{white-space:pre-wrap;margin:0;overflow-wrap:anywhere}
table.list{table-layout:fixed;width:100%}
table.list td,table.list th{overflow-wrap:anywhere}
.test b{font-weight:600}.test .where{display:block;color:#6e6e73;font-size:12px}
.msg{white-space:pre-wrap;overflow-wrap:anywhere;
 font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
details summary{cursor:pointer;color:#2f5fb3}
.wide{overflow-x:auto;max-width:100%}
.summary{font-size:15px;padding:8px 10px;border-radius:4px}
.banner{padding:8px 10px;margin:8px 0;background:#fff3cd;border:1px solid #e5c069}
.piles span{display:inline-block;margin:2px 8px 2px 0;padding:2px 8px;border-radius:3px}
.pile-product{background:#f8d0d0;color:#7a0b0b}.pile-link{background:#dde6f7;color:#1b3a73}
.pile-harness{background:#efe0f5;color:#56206b}.pile-none{background:#ececee;color:#55555a}
.ok{background:#dcf5dc}.bad{background:#fadada}
.passed,.match{background:#d5f2d5;color:#0f4d0f}
.failed,.mismatch{background:#f8d0d0;color:#7a0b0b}
.error{background:#eeb0b0;color:#5a0000}
.skipped,.not-run{background:#ececee;color:#55555a}
.xfailed,.known{background:#fbe7bf;color:#6b4a00}
.badge{display:inline-block;margin:1px;padding:0 5px;border-radius:3px;font-size:12px}
.changed{background:#fde2b8;color:#6b3d00;border:1px solid #e0a450}
.chip{display:inline-block;min-width:46px;margin:1px;padding:1px 3px;text-align:center;
 border-radius:3px;font:11px ui-monospace,Menlo,Consolas,monospace}
.chip.asserted{background:#bfe9bf;color:#0f4d0f}.chip.missing{background:#f0f0f2;color:#8a8a90}
.chip.outside{background:#f8d0d0;color:#7a0b0b}
td a{overflow-wrap:anywhere}
#matrix-table td{text-align:center;min-width:3em}
#matrix-table th small{display:block;font-weight:400;color:#6e6e73}
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

_MESSAGE_LINES: Final = 4
"""Lines of a failure message shown at once; the rest opens on a click."""


def _e(value: object) -> str:
    """Escaped text for element content and attribute values (quotes included).

    Control and bidi characters (a device's name, a message quoting one) are shown as
    visible escapes: an ESC or a right-to-left override could otherwise disguise what
    the page says. Line breaks stay.
    """
    return escape(printable(str(value), keep="\n"), quote=True)


def _href(trace_base: str, trace: str) -> str:
    # Traces are relative paths (the model refuses schemes and absolute paths);
    # percent-encoding keeps odd characters from turning into markup or a scheme.
    return _e(quote(trace_base + trace, safe="/._-~"))


def _trace_link(trace_base: str, trace: str | None) -> str:
    """A short ``trace`` link; the path is its tooltip (it would crowd the row)."""
    if trace is None:
        return '<span class="muted">—</span>'
    return f'<a href="{_href(trace_base, trace)}" title="{_e(trace)}">trace</a>'


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


def _list_table(columns: Sequence[tuple[str, int]], rows: Iterable[str]) -> str:
    """A table that fits its container: fixed layout, each column a share (percent)."""
    cols = "".join(f'<col style="width:{share}%">' for _, share in columns)
    head = "".join(f"<th>{_e(title)}</th>" for title, _ in columns)
    return (
        f'<table class="list"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _test_cell(test_id: str, name: str) -> str:
    """The test's name first, its file (and parameters) below: short lines that wrap."""
    where = test_id
    if "::" in test_id:
        where = test_id.rsplit("::", 1)[0]
    tail = test_id.rsplit("::", 1)[-1]
    shown = tail if tail.startswith(name) else name
    # <wbr> after each underscore: a long name breaks between its words, not inside one.
    name_html = _e(shown).replace("_", "_<wbr>")
    return f'<td class="test"><b>{name_html}</b><span class="where">{_e(where)}</span></td>'


def _device_cell(device: str, model: str) -> str:
    return f'<td>{_e(device)}<br><span class="muted">{_e(model)}</span></td>'


def _message(text: str | None, trace: str | None = None) -> str:
    """A wrapped message; its first lines shown, the rest on a click.

    The trace suffix the plugin appends (``— trace: PATH``) is dropped when the row
    links that trace already.
    """
    if not text:
        return ""
    if trace is not None:
        text = text.replace(f" — trace: {trace}", "")
    lines = text.splitlines() or [""]
    shown = "\n".join(lines[:_MESSAGE_LINES])
    if len(lines) <= _MESSAGE_LINES:
        return f'<div class="msg">{_e(shown)}</div>'
    rest = "\n".join(lines[_MESSAGE_LINES:])
    return (
        f'<div class="msg">{_e(shown)}</div><details><summary>{len(lines) - _MESSAGE_LINES} '
        f'more lines</summary><div class="msg">{_e(rest)}</div></details>'
    )


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
        _summary(report),
        _benches_section(report.benches, trace_base),
        _diff_section(report.diff, trace_base),
        _failures_section(night, trace_base),
        _matrix_section(night, report.config_changes),
        _conformance_section(report.conformance),
        _coverage_section(report.coverage),
        _latency_section(report.latency),
        _trend_section(report.trend),
        _devices_section(night, report.config_changes),
        '<p class="muted">Self-contained report: no scripts, no network resources.</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _benches_section(benches: Sequence[BenchLine], trace_base: str) -> str:
    """A lab night's benches: status, what to know, a link to each bench's own report."""
    if not benches:
        return ""
    rows = []
    for bench in benches:
        link = (
            f'<a href="{_href(trace_base, bench.report)}">report</a>'
            if bench.report is not None
            else ""
        )
        rows.append(
            f'<tr data-status="{_e(bench.status)}"><td>{_e(bench.place)}</td>'
            f"<td>{_e(bench.status)}</td><td>{_e(bench.detail)}</td><td>{link}</td></tr>"
        )
    table = _table(["bench", "status", "", "its own report"], rows, id_="benches-table")
    return f'<section id="benches"><h2>Benches</h2>{table}</section>'


def _banner(night: Night) -> str:
    if night.interrupted is not None:
        return (
            f'<p class="banner"><b>Interrupted night</b>: stopped by {_e(night.interrupted)}; '
            f"the {len(night.results)} results that finished before are shown. It is never "
            "used as the previous night.</p>"
        )
    if not night.complete:
        return (
            '<p class="banner"><b>Incomplete night</b>: the run did not finish (killed, '
            "crashed or still running); only the results recorded so far are shown.</p>"
        )
    if night.selection is not None:
        return (
            f'<p class="banner"><b>Filtered night</b> (<code>{_e(night.selection)}</code>): '
            "only part of the suite ran. Each test is compared with its own last result; this "
            "night is never used as the previous night.</p>"
        )
    return ""


def _piles(night: Night) -> str:
    failures = night.failures
    if not failures:
        return ""
    counts = {category: 0 for category in FailureCategory}
    for result in failures:
        category = failure_category(result)
        if category is not None:
            counts[category] += 1
    spans = "".join(
        f'<span class="pile-{c.value if n else "none"}"><a href="#failures-{c.value}">{n}</a> '
        f"{_e(c.heading)}</span>"
        for c, n in counts.items()
    )
    return f'<p class="piles">Failures by pile: {spans}</p>'


def _changed_devices(changes: Mapping[str, tuple[str, ...]]) -> str:
    if not changes:
        return ""
    items = "; ".join(
        f'<span class="badge changed">config changed</span> <b>{_e(name)}</b>: '
        f"{_e(', '.join(what))}"
        for name, what in changes.items()
    )
    return f"<p>Since the last night: {items}</p>"


def _summary(report: NightReport) -> str:
    night = report.night
    counts = night.counts
    failed = counts[Outcome.FAILED] + counts[Outcome.ERROR]
    devices = len(night.devices) or len({r.device for r in night.results})
    sha = f" ({_e(night.git_sha)})" if night.git_sha else ""
    line = (
        f"<b>{counts[Outcome.PASSED]} passed</b>, <b>{counts[Outcome.FAILED]} failed</b>, "
        f"{counts[Outcome.ERROR]} errors, {counts[Outcome.SKIPPED]} skipped, "
        f"{counts[Outcome.XFAILED]} xfailed · {_duration(night.duration_s)} · "
        f"{devices} device{'s' if devices != 1 else ''} · bench {_e(night.bench)} · "
        f"plugin {_e(night.plugin_version)} · tier {_e(night.tier)} · "
        f"ttlock-hil {_e(night.harness_version)}{sha}"
    )
    started = f"started {_e(night.started.isoformat())}"
    if night.finished is not None:
        started += f", finished {_e(night.finished.isoformat())}"
    status = "bad" if failed or not night.complete else "ok"
    return (
        f'<section id="summary">{_banner(night)}<p class="summary {status}">{line}</p>'
        f"{_piles(night)}{_changed_devices(report.config_changes)}"
        f'<p class="muted">{started}</p></section>'
    )


def _outcome_badge(outcome: Outcome | None) -> str:
    if outcome is None:
        return '<span class="muted">—</span>'
    return f'<span class="badge {outcome.value}">{_e(outcome.value)}</span>'


def _section_id(name: str) -> str:
    return name.replace("_", "-")


def _transition(change: TestChange, previous_id: str | None) -> str:
    text = f"{_outcome_badge(change.before)} → {_outcome_badge(change.after)}"
    if change.baseline_id is not None and change.baseline_id != previous_id:
        text += (
            f'<br><span class="muted" title="its last result">in {_e(change.baseline_id)}</span>'
        )
    if change.category is not None and change.after is not None and change.after.is_failure:
        text += (
            f'<br><a class="badge pile-{change.category.value}" '
            f'href="#failures-{change.category.value}">{_e(change.category.heading)}</a>'
        )
    return text


_CHANGE_COLUMNS: Final = (("test", 28), ("device", 12), ("before → after", 15), ("", 38), ("", 7))


def _change_row(change: TestChange, trace_base: str, name: str, previous_id: str | None) -> str:
    if name in ("passed_on_retry", "flip_flops"):
        history = " ".join(_SYMBOL[o] if o is not None else "·" for o in change.history)
        note = f"{_e(change.reason or '')}"
        if history:
            note += f'<br><span class="mono" title="oldest first">{_e(history)}</span>'
        if name == "flip_flops":
            note += _message(change.message, change.trace)
    elif name == "removed" and change.reason:
        note = _e(change.reason)
    else:
        note = _message(change.message, change.trace)
    return (
        f"<tr>{_test_cell(change.test_id, change.name)}{_device_cell(change.device, change.model)}"
        f"<td>{_transition(change, previous_id)}</td><td>{note}</td>"
        f"<td>{_trace_link(trace_base, change.trace)}</td></tr>"
    )


def _lost_coverage(changes: Sequence[TestChange], trace_base: str) -> str:
    """Lost coverage grouped by device and reason: one bring-up failure is one row."""
    groups: dict[tuple[str, str], list[TestChange]] = {}
    for change in changes:
        groups.setdefault((change.device, change.reason or "skipped"), []).append(change)
    rows = []
    for (device, reason), members in sorted(groups.items()):
        model = members[0].model
        trace = next((c.trace for c in members if c.trace is not None), None)
        names = "".join(f"<li><code>{_e(c.test_id)}</code></li>" for c in members)
        count = f"{len(members)} test{'s' if len(members) != 1 else ''}"
        tests = f"<details><summary>{count}</summary><ul>{names}</ul></details>"
        rows.append(
            f'<tr>{_device_cell(device, model)}<td><div class="msg">{_e(reason)}</div></td>'
            f"<td>{tests}</td><td>{_trace_link(trace_base, trace)}</td></tr>"
        )
    return _list_table((("device", 14), ("why they did not run", 52), ("tests", 26), ("", 8)), rows)


def _diff_section(diff: NightDiff, trace_base: str) -> str:
    parts = [f'<section id="diff"><h2>Since the previous night</h2><p>{_e(diff.headline())}</p>']
    if diff.compared:
        parts.append(
            '<p class="muted">Each test is compared with its own last result on the same '
            "device, whatever night it came from; filtered and interrupted nights never "
            "serve as the previous night.</p>"
        )
    empty = []
    for name, heading in diff.SECTIONS:
        changes = diff.section(name)
        if not diff.compared and name != "passed_on_retry":
            continue
        if not changes:
            # One line for every empty list keeps the regressions on the first screen.
            empty.append(f'<span id="{_section_id(name)}">{_e(heading.split(" (")[0])}</span>')
            continue
        parts.append(f'<h3 id="{_section_id(name)}">{_e(heading)} ({len(changes)})</h3>')
        if name == "lost_coverage":
            parts.append(_lost_coverage(changes, trace_base))
            continue
        note = "why (outcomes, oldest first)" if name in ("passed_on_retry", "flip_flops") else ""
        columns = list(_CHANGE_COLUMNS)
        columns[3] = (note or ("last message" if name == "removed" else "message"), 38)
        parts.append(
            _list_table(
                columns, (_change_row(c, trace_base, name, diff.previous_id) for c in changes)
            )
        )
    if empty:
        parts.append(f'<p class="muted">None tonight: {" · ".join(empty)}.</p>')
    parts.append("</section>")
    return "".join(parts)


def _failures_section(night: Night, trace_base: str) -> str:
    head = '<section id="failures"><h2>Failures</h2>'
    failures = night.failures
    if not failures:
        return head + "<p>No test failed.</p></section>"
    piles: dict[FailureCategory, list[TestResult]] = {c: [] for c in FailureCategory}
    for result in failures:
        piles[failure_category(result) or FailureCategory.HARNESS].append(result)
    parts = [head]
    for category, results in piles.items():
        if not results:
            parts.append(f'<span id="failures-{category.value}"></span>')
            continue
        parts.append(
            f'<h3 id="failures-{category.value}">{_e(category.heading.capitalize())} '
            f'({len(results)})</h3><p class="muted">{_e(category.hint)}</p>'
        )
        rows = (
            f'<tr class="{r.outcome.value}">{_test_cell(r.test_id, r.name)}'
            f"{_device_cell(r.device, r.model)}<td>{_outcome_badge(r.outcome)}<br>"
            f"{_code(r.expected)} → {_code(r.observed)}</td>"
            f"<td>{_message(r.message, r.trace)}</td>"
            f"<td>{_trace_link(trace_base, r.trace)}</td></tr>"
            for r in results
        )
        parts.append(
            _list_table(
                (
                    ("test", 28),
                    ("device", 12),
                    ("expected → observed", 13),
                    ("message", 40),
                    ("", 7),
                ),
                rows,
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _matrix_section(night: Night, changes: Mapping[str, tuple[str, ...]]) -> str:
    """Test × device: one cell per device, so two devices of one model are two columns."""
    devices: dict[str, str] = {d.name: d.model for d in night.devices}
    for r in night.results:
        devices.setdefault(r.device, r.model)
    cells = {r.key: r for r in night.results}
    rows = []
    for test_id in sorted({r.test_id for r in night.results}):
        tds = []
        for device in devices:
            found = cells.get((test_id, device))
            if found is None:
                tds.append('<td class="muted">·</td>')
                continue
            retry = f" on attempt {found.attempts}" if found.attempts > 1 else ""
            tds.append(
                f'<td class="{found.outcome.value}" title="{_e(device)}: '
                f'{_e(found.outcome.value)}{retry}">{_SYMBOL[found.outcome]}'
                f"{' (retry)' if found.flaky else ''}</td>"
            )
        rows.append(f"<tr><th><code>{_e(test_id)}</code></th>{''.join(tds)}</tr>")
    legend = " ".join(
        f'<span class="badge {o.value}">{_SYMBOL[o]} {o.value}</span>' for o in Outcome
    )
    marker = '<small class="badge changed">config changed</small>'
    header = "".join(
        f"<th>{_e(name)}<small>{_e(model)}</small>{marker if name in changes else ''}</th>"
        for name, model in devices.items()
    )
    body = (
        '<div class="wide"><table id="matrix-table"><thead><tr><th>test</th>'
        f"{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else "<p>no results</p>"
    )
    return (
        f'<section id="matrix"><h2>Test × device</h2><p class="legend">{legend}</p>{body}</section>'
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
        + '<div class="wide">'
        + _table(["command", "condition", *models], rows, id_="conformance-table")
        + "</div></section>"
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


def _nice_top(value: int) -> int:
    """The failures axis' top: the smallest of 1, 2, 5, 10, 20, 50… at or above ``value``."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _trend_labels(points: Sequence[TrendPoint]) -> list[tuple[str, str]]:
    """Two lines per night (date, time): distinct even for several nights of one day."""
    return [(p.started.strftime("%m-%d"), p.started.strftime("%H:%M")) for p in points]


def _trend_svg(points: Sequence[TrendPoint]) -> str:
    """One slot per night: a bar of its failures (failures axis, left) and a square for
    its median latency (right); a partial night's bar is hollow and marked."""
    width, height = 760, 250
    left, right, top, bottom = 48, 64, 16, 66
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)
    slot = plot_w / n
    top_failures = _nice_top(max(p.failures for p in points))
    latencies = [p.median_latency_ms for p in points if p.median_latency_ms is not None]
    top_ms = max(latencies) * 1.1 if latencies else 1.0

    def x(i: int) -> float:
        return left + slot * (i + 0.5)

    def y_count(count: float) -> float:
        return top + plot_h * (1 - count / top_failures)

    def y_ms(ms: float) -> float:
        return top + plot_h * (1 - ms / top_ms)

    out = [
        f'<svg id="trend-plot" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="failures and median latency per night">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        yy = top + plot_h * (1 - frac)
        count = top_failures * frac
        label = f"{count:.0f}" if count == int(count) else f"{count:.1f}"
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>'
            f'<text x="{left + plot_w + 6}" y="{yy + 4:.1f}">{top_ms * frac:.0f} ms</text>'
        )
    bar = min(28.0, slot * 0.6)
    for i, (p, (day, clock)) in enumerate(zip(points, _trend_labels(points), strict=True)):
        cx = x(i)
        kind = "" if p.partial is None else f", partial: {p.partial}"
        tip = (
            f"{p.night_id}: {p.failures} failures ({p.errors} errors), {p.passed} passed, "
            f"{p.skipped} skipped of {p.total}{kind}"
        )
        height_px = plot_h * p.failures / top_failures
        fill = ' fill="#d64545"' if p.partial is None else ' fill="#fff" stroke="#d64545"'
        out.append(
            f'<rect class="failures" x="{cx - bar / 2:.1f}" y="{y_count(p.failures):.1f}" '
            f'width="{bar:.1f}" height="{max(height_px, 0.0):.1f}"{fill}>'
            f"<title>{_e(tip)}</title></rect>"
            f'<text x="{cx:.1f}" y="{y_count(p.failures) - 4:.1f}" text-anchor="middle">'
            f"{p.failures}{'*' if p.partial is not None else ''}</text>"
            f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_e(day)}</text>'
            f'<text x="{cx:.1f}" y="{top + plot_h + 29}" text-anchor="middle">{_e(clock)}</text>'
        )
        if p.median_latency_ms is not None:
            tip = f"{p.night_id}: median latency {p.median_latency_ms:.1f} ms"
            out.append(
                f'<rect class="latency" x="{cx - 3:.1f}" y="{y_ms(p.median_latency_ms) - 3:.1f}" '
                f'width="6" height="6" fill="#2f5fb3"><title>{_e(tip)}</title></rect>'
            )
    legend_y = height - 10
    out.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#d64545"/>'
        f'<text x="{left + 14}" y="{legend_y}">failed + errors (left axis)</text>'
        f'<rect x="{left + 170}" y="{legend_y - 9}" width="10" height="10" fill="#fff" '
        'stroke="#d64545"/>'
        f'<text x="{left + 184}" y="{legend_y}">* partial night</text>'
        f'<rect x="{left + 290}" y="{legend_y - 7}" width="6" height="6" fill="#2f5fb3"/>'
        f'<text x="{left + 302}" y="{legend_y}">median latency (right axis)</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _devices_section(night: Night, changes: Mapping[str, tuple[str, ...]]) -> str:
    head = '<section id="devices"><h2>Devices</h2>'
    if not night.devices:
        return head + "<p>No devices recorded.</p></section>"
    rows = []
    for d in night.devices:
        what = changes.get(d.name)
        marker = (
            f'<span class="badge changed">config changed</span> {_e(", ".join(what))}'
            if what
            else '<span class="muted">unchanged</span>'
        )
        if d.model not in KNOWN_MODELS:
            near = difflib.get_close_matches(d.model, KNOWN_MODELS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            marker += (
                f'<br><span class="badge changed">model not known to ttlock-hil</span>{_e(hint)}'
                " its cases use the expectation table's default rows"
            )
        rows.append(
            f"<tr><td>{_e(d.name)}</td><td>{_e(d.model)}</td><td>{_e(d.kind)}</td>"
            f"<td class=mono>{_e(d.address)}</td><td>{_e(d.firmware or '—')}</td>"
            f"<td class=num>{'—' if d.battery is None else f'{d.battery}%'}</td>"
            f"<td>{marker}</td></tr>"
        )
    return (
        head
        + '<div class="wide">'
        + _table(["name", "model", "kind", "address", "firmware", "battery", "config"], rows)
        + "</div></section>"
    )
