"""report.html and results.json: content, escaping, no network, and a real headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import socket
import socketserver
import stat
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.unit.report import DEVICES, night, result
from ttlock_hil.harness.report.diff import diff_against_history
from ttlock_hil.harness.report.history import HistoryStore
from ttlock_hil.harness.report.html import build_report, render_html, write_night_report
from ttlock_hil.harness.report.model import TIMEOUT, DeviceInfo, Night, Outcome, TestResult

HOSTILE_FIRMWARE = "<script>alert(1)</script>"
HOSTILE_NAME = '"><img src=x onerror=alert(2)>'
HOSTILE_MESSAGE = "</pre><script>document.documentElement.setAttribute('data-pwned','yes')</script>"
REGRESSED = "tests/hil/test_lock.py::test_double_locked"


def baseline_results() -> list:  # type: ignore[type-arg]
    return [
        result("test_unlock", command="UNLOCK", latency_ms=110.0, expected=0, observed=0),
        result(
            "test_double_locked",
            "back-door",
            command="UNLOCK",
            condition="double_locked",
            expected=30,
            observed=30,
            latency_ms=140.0,
        ),
        result(
            "test_silence",
            "gw-g2",
            command="ECHO",
            condition="silence",
            expected=TIMEOUT,
            observed=TIMEOUT,
        ),
        result("test_old"),
    ]


def tonight_results() -> list:  # type: ignore[type-arg]
    items = baseline_results()
    items[1] = result(
        "test_double_locked",
        "back-door",
        outcome="failed",
        command="UNLOCK",
        condition="double_locked",
        expected=30,
        observed=31,
        latency_ms=150.0,
        message="expected 30 DOUBLE_LOCKED, got 31\n" + HOSTILE_MESSAGE,
        trace="traces/back-door/test_double_locked.jsonl",
    )
    items[0] = result(
        "test_unlock", command="UNLOCK", latency_ms=400.0, expected=0, observed=0, attempts=2
    )
    items[3] = result("test_brand_new", "gw-g2")
    return items


HOSTILE_DEVICES = (
    DeviceInfo("front-door", "v3-keypad", "lock", "sim:v3-keypad", HOSTILE_FIRMWARE, 87),
    DEVICES[1],
    DEVICES[2],
    DeviceInfo(HOSTILE_NAME, "v3-padlock", "lock", "sim:v3-padlock", "1.0", 5),
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "reports" / "history.sqlite") as opened:
        for index in range(3):
            opened.record_night(night(index, baseline_results(), seed_codes_asserted=(0, 30)))
        yield opened


@pytest.fixture
def tonight(store: HistoryStore) -> Night:
    return store.record_night(
        night(3, tonight_results(), devices=HOSTILE_DEVICES, seed_codes_asserted=(0, 30, -3))
    )


@pytest.fixture
def html(tonight: Night, store: HistoryStore) -> str:
    return render_html(build_report(tonight, store))


def section(document: str, ident: str) -> str:
    """The text of ``<section id=ident>…</section>`` (or of the h3 block for diff parts)."""
    match = re.search(rf'<section id="{ident}">(.*?)</section>', document, re.S)
    assert match, f"no section {ident}"
    return match.group(1)


# ------------------------------------------------------------------------------ content


def test_summary_line_counts_outcomes_devices_and_duration(html: str) -> None:
    summary = section(html, "summary")
    assert "<b>3 passed</b>, <b>1 failed</b>, 0 errors, 0 skipped, 0 xfailed" in summary
    assert "3 min 0 s" in summary
    assert "4 devices" in summary
    assert "plugin 3.1.0" in summary


def part(document: str, ident: str) -> str:
    """One list of the diff: from its heading to the next heading or the section's end."""
    start = document.index(f'<h3 id="{ident}"')
    following = re.search(r"<h3 |</section>", document[start + 1 :])
    found = document[start : start + 1 + following.start()] if following else document[start:]
    return found.replace("<wbr>", "")  # the break hints inside long names


def test_the_diff_names_the_regression_fix_new_removed_and_flaky(html: str) -> None:
    diff = section(html, "diff")
    assert (
        "1 regression, 0 lost coverage, 0 fixes, 1 new, 1 removed, 1 passed on retry, "
        "0 flip-flops, 0 still failing"
    ) in diff
    regressions = part(diff, "regressions")
    assert "test_double_locked" in regressions
    assert "tests/hil/test_lock.py" in regressions
    assert "back-door" in regressions
    assert "test_brand_new" in part(diff, "new")
    assert "test_old" in part(diff, "removed")
    retry = part(diff, "passed-on-retry")
    assert "test_unlock" in retry
    assert "passed only on attempt 2" in retry
    # The empty lists are one line, each still reachable by its id.
    assert re.search(r'None tonight: .*<span id="fixes">Fixes</span>', diff)
    assert '<span id="flip-flops">' in diff


def test_the_test_by_device_matrix_has_one_column_per_device(html: str) -> None:
    matrix = section(html, "matrix")
    header = re.search(r"<thead>(.*?)</thead>", matrix, re.S)
    assert header
    columns = re.findall(r"<th>([^<]*)<small>(.*?)</small>", header.group(1))
    assert columns == [
        ("front-door", "v3-keypad"),
        ("back-door", "v3-fingerprint-ic"),
        ("gw-g2", "g2"),
        ("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;", "v3-padlock"),
    ]
    row = re.search(r"test_double_locked</code></th>(.*?)</tr>", matrix, re.S)
    assert row
    cells = re.findall(r"<td class=\"([a-z-]+)\"", row.group(1))
    assert cells == ["muted", "failed", "muted", "muted"]
    assert "✓ (retry)" in matrix


def test_two_devices_of_one_model_get_a_cell_each() -> None:
    # Measured: which of two same-model devices failed was only in a tooltip.
    twins = (
        DeviceInfo("door-1", "v3-keypad", "lock", "sim:v3-keypad"),
        DeviceInfo("door-2", "v3-keypad", "lock", "sim:v3-keypad"),
    )
    document = render_html(
        build_report(
            night(0, [result("a", "door-1"), result("a", "door-2", "failed")], devices=twins)
        )
    )
    row = re.search(r"::a</code></th>(.*?)</tr>", section(document, "matrix"), re.S)
    assert row
    assert re.findall(r'<td class="(\w+)" title="([\w-]+):', row.group(1)) == [
        ("passed", "door-1"),
        ("failed", "door-2"),
    ]


def test_the_conformance_matrix_colours_expected_against_observed(html: str) -> None:
    conf = section(html, "conformance")
    assert "3 cases: 2 match, 1 mismatch" in conf
    mismatch = re.search(r'<td class="mismatch" data-status="mismatch">(.*?)</td>', conf, re.S)
    assert mismatch
    assert ">30<" in mismatch.group(1)
    assert ">31<" in mismatch.group(1)
    assert "back-door" in mismatch.group(1)
    assert 'title="30 DOUBLE_LOCKED:' in mismatch.group(1)
    assert conf.count('data-status="match"') == 2
    assert "double_locked" in conf
    assert "timeout" in conf


def test_coverage_counts_the_codes_valid_in_the_plugin_version(html: str) -> None:
    cov = section(html, "coverage")
    assert re.search(r"<b>2 of \d+</b> codes valid in plugin 3.1.0", cov)
    assert '<span class="chip asserted" title="30 DOUBLE_LOCKED' in cov
    assert '<span class="chip outside"' in cov  # -3 does not exist in plugin 3.1.0


def test_latency_percentiles_per_command_and_device(html: str) -> None:
    latency = section(html, "latency")
    assert (
        "<td>UNLOCK</td><td>back-door</td><td class=num>1</td><td class=num>150.0</td>" in latency
    )
    assert (
        "<td>UNLOCK</td><td>front-door</td><td class=num>1</td><td class=num>400.0</td>" in latency
    )


def test_the_trend_plot_counts_failures_per_night(html: str) -> None:
    plot = section(html, "trend")
    bars = re.findall(r'<rect class="failures"[^>]*height="([0-9.]+)"', plot)
    assert len(bars) == 4  # four nights, one slot each
    assert float(bars[-1]) > 0
    assert [float(b) for b in bars[:-1]] == [0.0, 0.0, 0.0]
    assert "1 failures (0 errors), 3 passed, 0 skipped of 4" in plot
    assert ">1</text>" in plot  # the count is written on the bar


def test_two_failures_in_hundreds_of_tests_are_visible() -> None:
    # Measured: on a 0–100 % axis 2 failures in 359 tests did not show.
    many = [result(f"t{i}") for i in range(357)]
    nights = [
        night(0, many),
        night(1, [*many, result("x", outcome="failed"), result("y", outcome="error")]),
    ]
    points = build_report(nights[1]).trend
    assert points[-1].failures == 2
    document = render_html(build_report(nights[1]))
    (bar,) = re.findall(
        r'<rect class="failures" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)"',
        document,
    )
    assert float(bar) == pytest.approx(168.0)  # the whole failures axis: it tops out at 2


def test_nights_of_one_day_are_told_apart_on_the_trend(tmp_path: Path) -> None:
    # Measured: three nights of one day shared one x label.
    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        for hour in (2, 9, 17):
            started = night(0, [result()]).started.replace(hour=hour)
            finished = started + timedelta(minutes=3)
            store.record_night(
                night(0, [result()], night_id=f"n{hour}", started=started, finished=finished)
            )
        document = render_html(build_report(store.load_night("n17"), store))
    plot = section(document, "trend")
    assert [t for t in ("02:00", "09:00", "17:00") if f">{t}</text>" in plot] == [
        "02:00",
        "09:00",
        "17:00",
    ]


TRACE = "traces/back-door/test_double_locked.jsonl"


def test_each_failure_links_to_its_trace_relative_to_the_night(html: str, tonight: Night) -> None:
    failures = section(html, "failures")
    assert f'<a href="{TRACE}" title="{TRACE}">trace</a>' in failures
    rebased = render_html(build_report(tonight), trace_base="../2026-12-03T02-00-00Z/")
    assert f'<a href="../2026-12-03T02-00-00Z/{TRACE}" title="{TRACE}">trace</a>' in rebased


def test_failures_are_grouped_in_the_pile_to_look_at_first(tmp_path: Path) -> None:
    document = render_html(
        build_report(
            night(
                0,
                [
                    result(
                        "wrong",
                        outcome="failed",
                        expected=18,
                        observed=2,
                        message="AssertionError: expected code 18, observed 2",
                    ),
                    result(
                        "gone",
                        outcome="error",
                        message="Failed: bringing front-door to admin failed: no connection",
                    ),
                    result("bug", outcome="failed", message="TypeError: unsupported operand"),
                    result("bug2", outcome="failed", message="KeyError: 'x'"),
                ],
            )
        )
    )
    failures = section(document, "failures")
    assert "Device answered a different code (1)" in failures
    assert "Link / infrastructure (1)" in failures
    assert "Harness error (2)" in failures
    summary = section(document, "summary")
    assert re.search(r'href="#failures-product">1</a> device answered a different code', summary)
    assert re.search(r'href="#failures-harness">2</a> harness error', summary)


def test_a_message_repeating_its_trace_path_is_shown_without_it() -> None:
    message = f"AssertionError: expected code 30, observed 31 — trace: {TRACE}"
    document = render_html(
        build_report(night(0, [result(outcome="failed", message=message, trace=TRACE)]))
    )
    failures = section(document, "failures")
    assert "expected code 30, observed 31</div>" in failures
    assert f"— trace: {TRACE}" not in failures


def test_an_incomplete_night_says_so() -> None:
    document = render_html(build_report(night(0, [result()], complete=False)))
    assert "Incomplete night" in document


def test_an_interrupted_night_says_by_what_and_what_it_kept() -> None:
    cut = night(0, [result(), result("b")], complete=False, interrupted="SIGTERM")
    banner = section(render_html(build_report(cut)), "summary")
    assert "<b>Interrupted night</b>: stopped by SIGTERM; the 2 results" in banner


def test_a_filtered_night_says_it_is_never_the_previous_night() -> None:
    filtered = night(0, [result()], selection="-k unlock")
    banner = section(render_html(build_report(filtered)), "summary")
    assert "<b>Filtered night</b> (<code>-k unlock</code>)" in banner
    assert "never used as the previous night" in banner


def test_a_device_whose_config_changed_is_marked(tmp_path: Path) -> None:
    def device(address: str) -> DeviceInfo:
        return DeviceInfo(
            "front-door",
            "v3-keypad",
            "lock",
            address,
            config=json.dumps({"address": address, "model": "v3-keypad"}),
        )

    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        store.record_night(night(0, [result()], devices=(device("sim:v3-keypad"), DEVICES[2])))
        tonight = store.record_night(
            night(1, [result()], devices=(device("sim:v3-keypad_unlock-refusal-2"), DEVICES[2]))
        )
        document = render_html(build_report(tonight, store))
    summary = section(document, "summary")
    assert (
        '<span class="badge changed">config changed</span> <b>front-door</b>: address: ' in summary
    )
    assert "sim:v3-keypad → sim:v3-keypad_unlock-refusal-2" in summary
    assert "gw-g2" not in summary  # unchanged
    devices = section(document, "devices")
    assert devices.count("config changed") == 1
    assert "config changed" in section(document, "matrix")


def test_a_first_night_has_nothing_to_compare() -> None:
    document = render_html(build_report(night(0, [result()])))
    assert "no earlier night to compare" in section(document, "diff")


# ------------------------------------------------------------------------------ escaping


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_text.append(data)


def parse(document: str) -> _Elements:
    parser = _Elements()
    parser.feed(document)
    parser.close()
    return parser


def test_device_supplied_strings_are_escaped(html: str) -> None:
    assert HOSTILE_FIRMWARE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, not run
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    elements = parse(html)
    tags = {tag for tag, _ in elements.tags}
    assert "script" not in tags
    assert "img" not in tags
    handlers = [name for _, attrs in elements.tags for name, _ in attrs if name.startswith("on")]
    assert handlers == []


def test_a_trace_path_cannot_break_out_of_its_href() -> None:
    hostile = night(0, [result(outcome="failed", trace='traces/"><b onclick=x>.jsonl')])
    document = render_html(build_report(hostile))
    assert (
        '<a href="traces/%22%3E%3Cb%20onclick%3Dx%3E.jsonl" '
        'title="traces/&quot;&gt;&lt;b onclick=x&gt;.jsonl">trace</a>'
    ) in document


# ------------------------------------------------------------------------------ no network (static)

_URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset"}
_REMOTE = re.compile(r"^\s*([a-z][a-z0-9+.-]*:|//)", re.I)


def external_references(document: str) -> list[str]:
    """Everything in ``document`` a browser could fetch from the network."""
    elements = parse(document)
    found = []
    for tag, attrs in elements.tags:
        if tag in {"script", "link", "iframe", "object", "embed", "base"}:
            found.append(f"<{tag}>")
        for name, value in attrs:
            remote = value is not None and _REMOTE.match(value) is not None
            if name in _URL_ATTRIBUTES and remote and not str(value).lower().startswith("data:"):
                found.append(f"{tag}[{name}]={value}")
            if name == "style" and value and "url(" in value.replace(" ", "").lower():
                found.append(f"{tag}[style]={value}")
    css = "".join(elements.style_text).lower()
    if "@import" in css:
        found.append("@import")
    if "url(" in css.replace(" ", ""):
        found.append("url( in <style>")
    if "@font-face" in css:
        found.append("@font-face")
    return found


def test_the_static_check_catches_what_would_fetch() -> None:
    bad = (
        '<html><head><link rel=stylesheet href="https://cdn.example/x.css">'
        "<style>@import 'https://x/y.css'; body{background:url( //x/y.png )}</style></head>"
        '<body><img src="http://x/y.png"><a href="//x/y">a</a><svg><image xlink:href="https://x"/>'
        '</svg><div style="background:url(http://x)"></div><script src="x.js"></script>'
        "</body></html>"
    )
    found = external_references(bad)
    assert len(found) == 9, found


def test_the_report_references_nothing_remote(html: str) -> None:
    assert external_references(html) == []
    assert "http://" not in html
    assert "https://" not in html


def test_the_report_forbids_fetches_and_scripts_by_content_security_policy(html: str) -> None:
    policies = [
        dict(attrs)
        for tag, attrs in parse(html).tags
        if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"
    ]
    assert policies == [
        {
            "http-equiv": "Content-Security-Policy",
            "content": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        }
    ]


# ------------------------------------------------------------------------------ files


def test_write_night_report_writes_html_and_results_json(
    tmp_path: Path, tonight: Night, store: HistoryStore
) -> None:
    out = tmp_path / "reports" / tonight.night_id
    paths = write_night_report(tonight, store, out)
    assert paths.html == out / "report.html"
    assert paths.results == out / "results.json"
    assert Night.from_json(paths.results.read_text(encoding="utf-8")) == tonight
    assert REGRESSED in paths.html.read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json"]  # no temp files
    assert paths.diff == diff_against_history(tonight, store)  # the diff the report shows
    assert paths.diff.regressions  # ... which is not empty here


def test_write_night_report_for_a_night_not_yet_in_the_store(
    tmp_path: Path, store: HistoryStore
) -> None:
    fresh = night(3, tonight_results())
    paths = write_night_report(fresh, store, tmp_path / "n")
    document = paths.html.read_text(encoding="utf-8")
    assert "1 regression" in document
    assert section(document, "trend").count('<rect class="failures"') == 4


def test_write_night_report_without_history(tmp_path: Path) -> None:
    paths = write_night_report(night(0, [result()]), None, tmp_path / "first")
    assert "no earlier night to compare" in paths.html.read_text(encoding="utf-8")


def test_report_files_are_readable_by_others_unless_secrets_may_be_in_them(
    tmp_path: Path,
) -> None:
    # Measured: report.html and results.json were 0600: no web server could serve them.
    public = write_night_report(night(0, [result()]), None, tmp_path / "public")
    assert {stat.S_IMODE(p.stat().st_mode) for p in (public.html, public.results)} == {0o644}
    private = write_night_report(night(0, [result()], redacted=False), None, tmp_path / "private")
    assert {stat.S_IMODE(p.stat().st_mode) for p in (private.html, private.results)} == {0o600}


# ------------------------------------------------------------------------------ real Chromium

CHROMIUM_MISSING = "chromium not installed: apt-get install chromium"


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").is_file():
        found = "/usr/bin/chromium"
    return found


def require_chromium(path: str | None, environ: dict[str, str] | os._Environ[str]) -> str:
    """The browser, or skip — but fail on CI, where a missing browser must not hide the check."""
    if path is not None:
        return path
    if environ.get("CI") == "true":
        pytest.fail(CHROMIUM_MISSING)
    pytest.skip(CHROMIUM_MISSING)


def test_a_missing_chromium_skips_locally_with_the_install_hint() -> None:
    with pytest.raises(
        pytest.skip.Exception, match=r"^chromium not installed: apt-get install chromium$"
    ):
        require_chromium(None, {})
    with pytest.raises(pytest.skip.Exception):
        require_chromium(None, {"CI": "false"})


def test_a_missing_chromium_fails_on_ci() -> None:
    with pytest.raises(pytest.fail.Exception, match="chromium not installed"):
        require_chromium(None, {"CI": "true"})
    assert require_chromium("/usr/bin/chromium", {"CI": "true"}) == "/usr/bin/chromium"


class _Canary(socketserver.ThreadingTCPServer):
    """A local "proxy" that answers nothing and records the request line sent to it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CanaryHandler)
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def seen(self) -> list[str]:
        with self.lock:
            return list(self.requests)


class _CanaryHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Canary)
        self.request.settimeout(2.0)
        try:
            first = self.request.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
        except OSError:
            first = "<connection without a request line>"
        with server.lock:
            server.requests.append(first)


@pytest.fixture
def canary() -> Iterator[_Canary]:
    server = _Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def chromium() -> str:
    return require_chromium(find_chromium(), os.environ)


def chromium_command(browser: str, profile: Path, proxy_port: int, *args: str) -> list[str]:
    """Headless Chromium, flags from the brief, and no way off this machine.

    ``--proxy-server`` sends every http/https/ws request to the local canary
    (``<-loopback>`` drops the implicit localhost bypass) and
    ``--host-resolver-rules`` makes every host name but the canary's address
    unresolvable: whatever a page asks for, nothing leaves the machine. (The
    browser's own services — component updater, account checks — still knock
    on the canary despite ``--disable-background-networking``; that is why the
    page's requests are counted through DevTools, per page, not at the proxy.)
    """
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        *args,
    ]


def run_chromium(
    browser: str, tmp_path: Path, proxy_port: int, *args: str
) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = chromium_command(browser, profile, proxy_port, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class DevToolsPipe:
    """Chromium driven over ``--remote-debugging-pipe`` (DevTools protocol, NUL-framed JSON).

    Used to list the network requests *one page* makes (``Network.requestWillBeSent``
    events of that page's session), which the proxy alone cannot attribute.
    """

    def __init__(self, command: list[str]) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child: the protocol wants fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [*command, "--remote-debugging-pipe"],
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,  # noqa: PLW1509 - no threads start in between
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []  # type: ignore[type-arg]

    def _read(self, deadline: float) -> dict:  # type: ignore[type-arg]
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], deadline - time.monotonic())
            if not ready:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:  # type: ignore[type-arg]
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def page_requests(self, url: str) -> list[str]:
        """Load ``url`` in a new page; the URLs of every request that page made until load."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call("Network.enable", session=session)
        self.call("Page.enable", session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + 60

        def loaded() -> bool:
            return any(
                e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
                for e in self.events
            )

        while not loaded():
            self.events.append(self._read(deadline))
        # Requests may still start after the load event (a web font is fetched at first
        # layout): keep listening until the page has been quiet for a while.
        while True:
            try:
                self.events.append(self._read(min(deadline, time.monotonic() + 1.0)))
            except TimeoutError:
                break
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
        ]

    def open_page(self, url: str, width: int, height: int) -> str:
        """Load ``url`` in a new page of ``width`` × ``height`` CSS pixels; its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.call("Page.enable", session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + 60
        while not any(
            e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
            for e in self.events
        ):
            self.events.append(self._read(deadline))
        return str(session)

    def evaluate(self, session: str, expression: str) -> object:
        """The JSON value of ``expression`` in the page."""
        reply = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def screenshot(self, session: str) -> bytes:
        """The page's viewport as PNG."""
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=30)
            os.close(self._to_browser)
            os.close(self._from_browser)


@pytest.fixture
def devtools(chromium: str, canary: _Canary, tmp_path: Path) -> Iterator[DevToolsPipe]:
    pipe = DevToolsPipe(
        chromium_command(chromium, tmp_path / "devtools-profile", canary.server_address[1])
    )
    try:
        yield pipe
    finally:
        pipe.close()


def png_is_not_blank(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decoded scanlines) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = bytearray()
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(bytes(idat))))


def test_chromium_renders_the_report_with_the_matrix_and_the_diff(
    chromium: str, canary: _Canary, tmp_path: Path, tonight: Night, store: HistoryStore
) -> None:
    paths = write_night_report(tonight, store, tmp_path / "night")
    url = paths.html.resolve().as_uri()
    port = canary.server_address[1]

    dumped = run_chromium(chromium, tmp_path, port, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert 'id="conformance-table"' in dom
    assert 'data-status="mismatch"' in dom
    assert 'id="matrix-table"' in dom
    regressions = dom.split('id="regressions"')[1].split("<h3")[0]
    assert "test_double_locked" in regressions
    assert "tests/hil/test_lock.py" in regressions
    assert 'id="trend-plot"' in dom
    # The hostile message is text: its script never ran against the DOM.
    assert 'data-pwned="yes"' not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom

    shot = tmp_path / "report.png"
    shown = run_chromium(
        chromium, tmp_path, port, f"--screenshot={shot}", "--window-size=1280,2400", url
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    data = shot.read_bytes()
    assert len(data) > 20_000
    width, height, distinct = png_is_not_blank(data)
    assert (width, height) == (1280, 2400)
    assert distinct > 50  # a rendered page, not a blank canvas


def test_chromium_loading_the_report_makes_no_network_request(
    devtools: DevToolsPipe, tmp_path: Path, tonight: Night, store: HistoryStore
) -> None:
    paths = write_night_report(tonight, store, tmp_path / "night")
    url = paths.html.resolve().as_uri()
    assert devtools.page_requests(url) == [url]  # the file itself, nothing else


def test_the_request_detector_sees_a_page_that_fetches(
    devtools: DevToolsPipe, canary: _Canary, tmp_path: Path
) -> None:
    # The control experiment: without it, "no request seen" could mean a blind detector.
    page = tmp_path / "fetching.html"
    page.write_text(
        "<!DOCTYPE html><html><head>"
        '<link rel="stylesheet" href="http://canary.invalid/a.css">'
        "<style>@font-face{font-family:W;src:url(https://fonts.canary.invalid/w.woff2)}"
        "body{font-family:W}</style></head>"
        '<body><img src="http://canary.invalid/b.png"><p>text in a web font</p></body></html>',
        encoding="utf-8",
    )
    requests = devtools.page_requests(page.as_uri())
    assert "http://canary.invalid/a.css" in requests
    assert "http://canary.invalid/b.png" in requests
    assert "https://fonts.canary.invalid/w.woff2" in requests
    # ...and they went to the local canary, not to the network. The canary records
    # on its own thread, possibly after the page's load event: wait for it.
    wanted = "GET http://canary.invalid/b.png HTTP/1.1"
    deadline = time.monotonic() + 10
    while wanted not in canary.seen() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wanted in canary.seen(), canary.seen()


def test_the_canary_port_is_a_real_listener(canary: _Canary) -> None:
    with socket.create_connection(canary.server_address, timeout=2) as sock:
        sock.sendall(b"GET http://probe.invalid/ HTTP/1.1\r\n\r\n")
    deadline = time.monotonic() + 5
    while not canary.seen() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert canary.seen() == ["GET http://probe.invalid/ HTTP/1.1"]


# ------------------------------------------------------------------------------ layout at 1280 px

LAB_DEVICES = (
    DeviceInfo("front-door", "v3-keypad", "lock", "sim:v3-keypad", "6.0.6.210622", 80),
    DeviceInfo("back-door", "v3-fingerprint-ic", "lock", "sim:v3-fingerprint-ic", "5.4.0", 64),
    DeviceInfo("shed-padlock", "v3-padlock", "lock", "sim:v3-padlock", "4.1.2", 55),
    DeviceInfo("office-wifi", "v3-wifi", "lock", "sim:v3-wifi", "7.0.1", 90),
    DeviceInfo("gw-g2", "g2", "gateway", "sim:g2", "1.2.0", None),
    DeviceInfo("gw-g4", "g4", "gateway", "sim:g4", "2.0.3", None),
)
NO_LOGIN = "tests/hil/test_lock_codes.py::test_an_unlock_without_any_login_is_refused"
EXPIRED = "tests/hil/test_lock_codes.py::test_an_expired_ekey_cannot_unlock_the_lock[ekey-expired]"
HEX_FRAME = "7f5a0503010001000145aa00b30d0a" * 12  # one long unbroken token


def lab_result(test_id: str, device: str, outcome: str = "passed", **fields: object) -> TestResult:
    model = next(d.model for d in LAB_DEVICES if d.name == device)
    name = test_id.rsplit("::", 1)[-1].split("[", maxsplit=1)[0]
    return TestResult(
        test_id=test_id,
        name=name,
        device=device,
        model=model,
        outcome=Outcome(outcome),
        duration_s=0.2,
        **fields,  # type: ignore[arg-type]
    )


def lab_results(*, regress: bool) -> list[TestResult]:
    items = []
    for device in LAB_DEVICES:
        for index in range(12):
            items.append(
                lab_result(f"tests/hil/test_lock_api.py::test_case_{index:02d}", device.name)
            )
    items += [lab_result(NO_LOGIN, "front-door"), lab_result(EXPIRED, "back-door")]
    if not regress:
        return items
    trace_1 = (
        "traces/test_lock_codes.test_an_unlock_without_any_login_is_refused"
        ".front-door-v3-keypad.jsonl"
    )
    trace_2 = (
        "traces/test_lock_codes.test_an_expired_ekey_cannot_unlock_the_lock.ekey-expired"
        ".back-door-v3-fingerprint-ic.jsonl"
    )
    items[-2] = lab_result(
        NO_LOGIN,
        "front-door",
        "failed",
        expected=18,
        observed=2,
        command="UNLOCK",
        condition="without-login",
        trace=trace_1,
        message="AssertionError: expected code 18 USER_NOT_LOGGED_IN, observed 2 NO_PERMISSION: "
        f"UNLOCK on front-door failed (DeviceError) — trace: {trace_1}",
    )
    items[-1] = lab_result(
        EXPIRED,
        "back-door",
        "failed",
        expected=14,
        observed="timeout",
        command="UNLOCK",
        condition="ekey-expired",
        trace=trace_2,
        message="AssertionError: expected code 14 EKEY_EXPIRED, observed 10017 RESPONSE_TIMEOUT: "
        f"UNLOCK on back-door failed (ResponseTimeout); last frame {HEX_FRAME}\n"
        "  while waiting for the reply of seq 41\n  the lock advertised battery 64 %\n"
        "  the link stayed up\n  the reply never came\n  and one more line",
    )
    return items


@pytest.fixture
def two_regressions(tmp_path: Path) -> Path:
    """A night of a six-device lab with two regressions, written as the nightly writes it."""
    with HistoryStore.open(tmp_path / "reports" / "history.sqlite") as store:
        for index in range(3):
            store.record_night(night(index, lab_results(regress=False), devices=LAB_DEVICES))
        tonight = store.record_night(night(3, lab_results(regress=True), devices=LAB_DEVICES))
        paths = write_night_report(tonight, store, tmp_path / "reports" / tonight.night_id)
    document = paths.html.read_text(encoding="utf-8")
    assert "2 regressions" in section(document, "diff")
    return paths.html


OVERFLOW = """JSON.stringify({
  page: [document.documentElement.scrollWidth, window.innerWidth],
  sections: ["summary", "diff", "failures"].map(id => {
    const el = document.getElementById(id);
    const wide = [...el.querySelectorAll("*")].filter(
      e => e.getBoundingClientRect().right > el.getBoundingClientRect().right + 0.5);
    return [id, el.scrollWidth, el.clientWidth, wide.length];
  }),
  rows: [...document.querySelectorAll("#regressions + table tbody tr")].map(
    tr => Math.round(tr.getBoundingClientRect().width)),
})"""


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_chromium_shows_the_top_sections_without_a_horizontal_scroll(
    devtools: DevToolsPipe, two_regressions: Path, width: int
) -> None:
    # Measured: at 1400 and 1920 px the tables overflowed; each failure row was 300–400 px.
    session = devtools.open_page(two_regressions.resolve().as_uri(), width, 800)
    measured = json.loads(str(devtools.evaluate(session, OVERFLOW)))
    page_width, viewport = measured["page"]
    assert page_width <= viewport, measured
    for ident, scroll_width, client_width, sticking_out in measured["sections"]:
        assert scroll_width <= client_width, (ident, measured)
        assert sticking_out == 0, (ident, measured)
    rows = measured["rows"]
    assert len(rows) == 2
    assert min(rows) >= min(width, 1400) - 100  # each regression spans the page


SCREENSHOT = Path("/tmp/ttlock-hil-report-two-regressions-1280x800.png")


def test_a_screenshot_of_a_night_with_two_regressions_at_1280_by_800(
    devtools: DevToolsPipe, two_regressions: Path
) -> None:
    session = devtools.open_page(two_regressions.resolve().as_uri(), 1280, 800)
    top = devtools.evaluate(
        session,
        "[...document.querySelectorAll('#regressions + table tbody tr')]"
        ".map(tr => tr.getBoundingClientRect().bottom)",
    )
    assert isinstance(top, list)
    assert len(top) == 2
    assert max(top) <= 800, "both regressions are on the first screen"
    data = devtools.screenshot(session)
    width, height, distinct = png_is_not_blank(data)
    assert (width, height) == (1280, 800)
    assert distinct > 50
    SCREENSHOT.write_bytes(data)  # kept for a human to look at


def test_a_device_of_a_model_ttlock_hil_does_not_know_is_marked() -> None:
    devices = (DeviceInfo("door", "v3-keypd", "lock", "C1:23:45:67:89:AB"), DEVICES[0])
    document = render_html(build_report(night(0, [result()], devices=devices)))
    rows = section(document, "devices").split("<tr>")
    door = next(row for row in rows if row.startswith("<td>door</td>"))
    assert "model not known to ttlock-hil</span> (did you mean v3-keypad?)" in door
    front = next(row for row in rows if row.startswith("<td>front-door</td>"))
    assert "model not known" not in front


def test_control_and_bidi_characters_in_a_message_are_shown_escaped() -> None:
    from ttlock_hil.harness.report.html import _e

    shown = _e("lock S202F\x1b[2J\u202eevil\r\nnext line")
    assert "\x1b" not in shown
    assert "\u202e" not in shown
    assert "\r" not in shown
    assert "\\x1b[2J" in shown
    assert "\nnext line" in shown  # line breaks stay
