"""HTML reports (issue 18): every kind of report, made by real runs against real peers, written
with --html and by `wsprobe report FILE.json --html`, then opened in headless Chromium with
every network name unresolvable and a dead proxy: the DOM the browser built is asserted on
(the tables' values are the JSON report's; every chart has its axes and series), a screenshot
is saved in build/html-reports/, and each file is well-formed XML (xmllint) as polyglot XHTML
must be. Hostile strings (a server's close reason and message, a header, a test name with
<script>) must come out as text.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_html_reports.py
"""
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO, check_schema, run_wsprobe
from corpus_peers import CHROMIUM, CHROMIUM_FLAGS, corpus  # noqa: F401  (fixture)

SHOTS = REPO / "build" / "html-reports"
HOSTILE = "<script>alert('pwn')</script><img src=x onerror=alert(1)>"
SECRET_ENV = "HTML_REPORT_SECRET"
SECRET = "html-report-secret-0123456789abcdef01234567"


# --- the browser and the DOM ------------------------------------------------------------------

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""

    def cls(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)

    def find_all(self, pred):
        out = [self] if pred(self) else []
        for c in self.children:
            out += c.find_all(pred)
        return out

    def by_id(self, ident):
        found = self.find_all(lambda n: n.attrs.get("id") == ident)
        return found[0] if found else None


VOID = {"meta", "br", "img", "hr", "input", "link", "col", "area", "base", "source", "wbr"}


class DomParser(HTMLParser):
    """The serialised DOM (chromium --dump-dom) back into a tree."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        if self.cur.children:
            self.cur.children[-1].tail = getattr(self.cur.children[-1], "tail", "") + data
            t = Node("#text", {}, self.cur)
            t.text = data
            self.cur.children.append(t)
        else:
            self.cur.text += data


def browser_dom(html_path, name, tmp_path):
    """The DOM Chromium built of the file (no network: names unresolvable, a dead proxy), and a
    screenshot saved as build/html-reports/NAME.png."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (%s)" % CHROMIUM)
    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / ("profile-" + name)
    base = [CHROMIUM] + CHROMIUM_FLAGS + ["--user-data-dir=%s" % profile,
                                          "--proxy-server=127.0.0.1:9"]
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    url = Path(html_path).resolve().as_uri()
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, timeout=60, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = SHOTS / (name + ".png")
    subprocess.run(base + ["--screenshot=%s" % shot, "--window-size=1000,3000", url],
                   capture_output=True, timeout=60, env=env)
    assert shot.exists() and shot.stat().st_size > 1000, "no screenshot of %s" % name
    p = DomParser()
    p.feed(dom.stdout.decode("utf-8", "replace"))
    return p.root


def well_formed(path):
    if not shutil.which("xmllint"):
        pytest.skip("xmllint is not installed")
    r = subprocess.run(["xmllint", "--noout", "--nonet", str(path)], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr.decode()[-2000:]


def self_contained(path):
    """Nothing the browser would fetch: no element that loads (script, img, link, iframe,
    object, embed), no src or href attribute, no url() or @import in the style."""
    import xml.etree.ElementTree as ET
    root = ET.parse(str(path)).getroot()
    for e in root.iter():
        tag = e.tag.split("}")[-1]
        assert tag not in ("script", "img", "link", "iframe", "object", "embed", "image"), tag
        for a in e.attrib:
            assert a.split("}")[-1] not in ("src", "href"), (tag, a)
        if tag == "style":
            assert "url(" not in (e.text or "") and "@import" not in (e.text or "")


def charts_ok(dom):
    charts = dom.find_all(lambda n: n.tag == "svg" and "chart" in n.cls())
    assert charts, "no chart"
    for c in charts:
        axes = c.find_all(lambda n: n.tag == "g" and "axis" in n.cls())
        kinds = {a for n in axes for a in n.cls() if a in ("x", "y")}
        assert kinds == {"x", "y"}, "chart %s lacks an axis" % c.attrs.get("id")
        assert c.find_all(lambda n: n.tag == "g" and "series" in n.cls()), \
            "chart %s has no series" % c.attrs.get("id")
    return {c.attrs.get("id"): c for c in charts}


def kv(dom, table_id):
    t = dom.by_id(table_id)
    assert t is not None, "no table #%s" % table_id
    rows = {}
    for tr in t.find_all(lambda n: n.tag == "tr"):
        cells = [c for c in tr.children if c.tag in ("th", "td")]
        if len(cells) == 2:
            rows[cells[0].all_text().strip()] = cells[1].all_text().strip()
    return rows


def same_number(text, value):
    if value is None:
        return text == "-"
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        return abs(float(text) - value) <= 1e-9 * max(1.0, abs(value))
    return text == str(value)


def assert_kv_matches(dom, table_id, obj):
    rows = kv(dom, table_id)
    for k, v in obj.items():
        if isinstance(v, (dict, list)):
            continue
        assert k in rows, "%s: no row %s" % (table_id, k)
        assert same_number(rows[k], v), "%s.%s: %r in the page, %r in the JSON" % (
            table_id, k, rows[k], v)


def table_rows(dom, table_id):
    t = dom.by_id(table_id)
    assert t is not None, "no table #%s" % table_id
    out = []
    for tr in t.find_all(lambda n: n.tag == "tr"):
        cells = [c.all_text().strip() for c in tr.children if c.tag == "td"]
        if cells:
            out.append(cells)
    return out


def render(cmd_args, tmp_path, name, env=None, timeout=120, ok_codes=(0, 1)):
    """Run a command with --json=FILE --html FILE; both files, the JSON parsed."""
    j, h = tmp_path / (name + ".json"), tmp_path / (name + ".html")
    r = run_wsprobe(*cmd_args, "--json=%s" % j, "--html", h, env=env, timeout=timeout)
    assert r.rc in ok_codes, r
    assert h.exists(), r
    well_formed(h)
    self_contained(h)
    report = json.loads(j.read_text())
    check_schema(report, str(r))
    return report, h


def report_again(json_path, tmp_path, name):
    """`wsprobe report` of the saved JSON gives the same page."""
    out = tmp_path / (name + "-again.html")
    r = run_wsprobe("report", json_path, "--html", out)
    assert r.rc == 0, r
    return out


# --- the reports ------------------------------------------------------------------------------

def test_load_report(corpus, tmp_path):
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    j, h = render(["load", "ws://127.0.0.1:%d/ws" % srv.port, "--connections", "4", "--rate",
                   "200", "--duration", "3s", "--message", "hi", "--echo"], tmp_path, "load")
    dom = browser_dom(h, "load", tmp_path)
    charts = charts_ok(dom)
    for cid in ("chart-throughput", "chart-latency-time", "chart-percentiles", "chart-phases"):
        assert cid in charts, cid
    lat = charts["chart-latency-time"]
    names = {g.attrs.get("data-name") for g in lat.find_all(lambda n: "series" in n.cls())}
    assert {"p99 corrected", "p99 uncorrected"} <= names, names
    thr = charts["chart-throughput"]
    sent = [g for g in thr.find_all(lambda n: n.attrs.get("data-name") == "sent")][0]
    assert int(sent.attrs["data-points"]) == len(j["series"])
    assert_kv_matches(dom, "latency-corrected", j["latency_ms"]["corrected"])
    assert_kv_matches(dom, "latency-uncorrected", j["latency_ms"]["uncorrected"])
    assert_kv_matches(dom, "messages", j["messages"])
    assert_kv_matches(dom, "connections", j["connections"])
    gates = table_rows(dom, "gates")
    assert [g[0] for g in gates] == [g["name"] for g in j["gates"]]
    assert [g[1] for g in gates] == [str(g["ok"]).lower() for g in j["gates"]]
    assert dom.by_id("verdict").all_text().strip() == ("OK" if j["ok"] else "FAILED")
    again = report_again(tmp_path / "load.json", tmp_path, "load")
    assert again.read_text() == h.read_text(), "report renders the saved JSON as --html did"


def test_load_merge_report(corpus, tmp_path):
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    parts = []
    for i in range(2):
        p = tmp_path / ("agent%d.json" % i)
        r = run_wsprobe("load", "ws://127.0.0.1:%d/ws" % srv.port, "--connections", "2", "--rate",
                        "50", "--duration", "1s", "--message", "hi", "--echo", "--json=%s" % p,
                        timeout=60)
        assert r.rc == 0, r
        parts.append(p)
    j, h = render(["load-merge"] + parts, tmp_path, "merge")
    dom = browser_dom(h, "load-merge", tmp_path)
    charts_ok(dom)
    assert_kv_matches(dom, "messages", j["messages"])


def test_hold_report(corpus, tmp_path):
    srv = corpus.serve("--echo", "--unsafe-no-auth", "--idle-timeout", "1500ms")
    j, h = render(["hold", "ws://127.0.0.1:%d/ws" % srv.port, "--duration", "3s",
                   "--per-strategy", "1", "--ping-ladder", "500ms"], tmp_path, "hold",
                  timeout=60)
    dom = browser_dom(h, "hold", tmp_path)
    charts = charts_ok(dom)
    tl = charts["chart-timeline"]
    lanes = {g.attrs.get("data-name"): int(g.attrs.get("data-points"))
             for g in tl.find_all(lambda n: n.tag == "g" and "series" in n.cls())}
    for s in j["strategies"]:
        assert lanes.get(s["name"]) == s["connections"], (lanes, s)
    rows = table_rows(dom, "strategies")
    assert [(r[0], int(r[2]), int(r[3])) for r in rows] == [
        (s["name"], s["opened"], s["held"]) for s in j["strategies"]]
    assert j["summary"] in dom.all_text()


def plan(tmp_path, text):
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    return p


def test_run_report_with_hostile_strings(peers, tmp_path):
    """A server that answers with markup: its message reaches the page as text only."""
    srv = peers.hostile("mismatch", text=HOSTILE)
    p = plan(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/ws
    timeout: 2s
checks:
  - connect
  - conversation:
      name: hostile
      send: hi
      expect: {json: {"/a": 1}, within: 1s}
      strict_order: true
""" % srv.port)
    j, h = render(["run", p, "--env", "local"], tmp_path, "run")
    dom = browser_dom(h, "run", tmp_path)
    assert not dom.find_all(lambda n: n.tag in ("script", "img", "iframe")), "markup came alive"
    text = dom.all_text()
    assert HOSTILE in text, "the hostile text is shown as text"
    rows = table_rows(dom, "checks")
    assert [(r[0], r[1], r[2]) for r in rows] == [(c["id"], c["verdict"], c["class"])
                                                for c in j["checks"]]
    assert_kv_matches(dom, "summary", j["summary"])


def test_run_report_hostile_close_reason(peers, tmp_path):
    """A close reason with markup (the server's words, 123 bytes at most) is text on the page."""
    reason = HOSTILE[:60]
    srv = peers.hostile("close-1008", text=reason)
    p = plan(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/ws
    timeout: 2s
checks:
  - conversation:
      name: closed
      send: hi
      expect: {text: hi, within: 1s}
""" % srv.port)
    j, h = render(["run", p, "--env", "local"], tmp_path, "run-close")
    assert reason in json.dumps(j), "the JSON carries the reason"
    dom = browser_dom(h, "run-close-reason", tmp_path)
    assert not dom.find_all(lambda n: n.tag in ("script", "img", "iframe"))
    assert reason in dom.all_text()


def test_security_report_hostile_header(peers, tmp_path):
    srv = peers.hostile("status", status=403, headers=["X-Evil: " + HOSTILE[:40]],
                        body=HOSTILE)
    j, h = render(["security", "ws://127.0.0.1:%d/ws" % srv.port, "--checks",
                   "handshake.version,transport.plaintext"], tmp_path, "security",
                  ok_codes=(0, 1, 20))
    dom = browser_dom(h, "security", tmp_path)
    assert not dom.find_all(lambda n: n.tag in ("script", "img", "iframe"))
    rows = table_rows(dom, "checks")
    assert [(r[0], r[1]) for r in rows] == [(c["id"], c["verdict"]) for c in j["checks"]]
    assert_kv_matches(dom, "summary", j["summary"])


def test_parity_report(tmp_path):
    from serve_helpers import SECRET, SECRET_ENV, start_serve
    common = ("--allow-origin", "https://app.example")
    hardened = start_serve(tmp_path / "hardened", *common, tls=False)
    unsafe = start_serve(tmp_path / "unsafe", *common, "--unsafe-any-origin",
                         "--unsafe-no-sanitize", tls=False)
    try:
        text = (REPO / "tests/e2e/plans/serve-parity.yaml").read_text()
        text = (text.replace("@HARDENED@", str(hardened.port()))
                .replace("@UNSAFE@", str(unsafe.port())).replace("@SECRET_ENV@", SECRET_ENV))
        p = plan(tmp_path, text)
        j, h = render(["parity", p, "--env", "hardened", "--env", "unsafe"], tmp_path,
                      "parity", env={SECRET_ENV: SECRET}, timeout=240, ok_codes=(1,))
    finally:
        hardened.stop()
        unsafe.stop()
    dom = browser_dom(h, "parity", tmp_path)
    matrix = dom.by_id("matrix")
    rows = matrix.find_all(lambda n: n.tag == "tr" and "data-id" in n.attrs)
    assert [r.attrs["data-id"] for r in rows] == [m["id"] for m in j["matrix"]]
    for r, m in zip(rows, j["matrix"]):
        cells = {c.attrs["data-env"]: c for c in r.children if c.attrs.get("data-env")}
        for env, v in m["verdicts"].items():
            assert cells[env].all_text().strip() == v
            assert ("drift" in cells[env].cls()) == (m["status"] == "drift")
    drifted = {m["id"] for m in j["matrix"] if m["status"] == "drift"}
    assert drifted == {"origin.foreign", "origin.bypass", "input.xss"}, drifted
    assert SECRET not in h.read_text()
    # a verdict that changed from a baseline is marked in its cell (drawn from the report's
    # regressions, as `parity --baseline` writes them)
    j["baseline"] = {"file": "base.json", "regressions": [
        {"environment": "unsafe", "id": "origin.foreign", "was": "pass", "now": "fail"}]}
    f = tmp_path / "parity-base.json"
    f.write_text(json.dumps(j))
    again = tmp_path / "parity-base.html"
    assert run_wsprobe("report", f, "--html", again).rc == 0
    dom = browser_dom(again, "parity-baseline", tmp_path)
    cell = [c for c in dom.find_all(lambda n: n.attrs.get("data-env") == "unsafe")
            if c.parent.attrs.get("data-id") == "origin.foreign"][0]
    assert "changed" in cell.cls()
    assert table_rows(dom, "regressions") == [["unsafe", "origin.foreign", "pass", "fail"]]


def test_audit_report_hostile_test_name(tmp_path):
    xml = tmp_path / "suite.xml"
    xml.write_text("""<?xml version="1.0"?>
<testsuite name="ws" tests="3">
  <testcase classname="net" name="%s" time="0"/>
  <testcase classname="net" name="test_ws_ok" time="0.250"/>
  <testcase classname="net" name="test_ws_fast" time="0.0001"/>
</testsuite>""" % HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace("'", "&apos;"))
    j, h = render(["audit", xml, "--network-tests", "net.*", "--floor", "net.*=5ms"], tmp_path,
                  "audit", ok_codes=(1,))
    dom = browser_dom(h, "audit", tmp_path)
    assert not dom.find_all(lambda n: n.tag in ("script", "img", "iframe"))
    assert HOSTILE in dom.all_text()
    charts = charts_ok(dom)
    assert "chart-durations" in charts and "chart-rules" in charts
    floor = charts["chart-durations"].find_all(lambda n: n.tag == "line" and "floor" in n.cls())
    assert floor, "the floor is drawn"
    assert j["network_durations"]["floor_ms"] == 5
    assert sum(j["network_durations"]["counts"]) == 3
    assert len(table_rows(dom, "findings")) == len(j["findings"])
    assert_kv_matches(dom, "summary", j["summary"])


# --- wsprobe report refuses what is not a report -----------------------------------------------

@pytest.mark.parametrize("content,why", [
    ('{"a": 1}', "command"),
    ('{"command": "load"}', "schema_version"),
    ('{"command": "probe", "schema_version": 1}', "probe"),
    ('{"command": "load", "schema_version": 7}', "7"),
    ("[1, 2]", "object"),
    ("not json", "not JSON"),
])
def test_report_refuses_what_is_not_a_report(tmp_path, content, why):
    f = tmp_path / "x.json"
    f.write_text(content)
    out = tmp_path / "x.html"
    r = run_wsprobe("report", f, "--html", out)
    assert r.rc == 2, r
    assert why in r.stderr, r
    assert not out.exists()


def test_report_needs_html(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('{"command": "run", "schema_version": 1, "checks": []}')
    assert run_wsprobe("report", f).rc == 2
    assert run_wsprobe("report", f, "--html", tmp_path / "ok.html").rc == 0


def test_large_load_report_size(tmp_path):
    """A 1-hour run's report (3,600 per-second points): the page stays under 2 MB (the time
    it takes is bench/bench_html.sh's figure, never a test's verdict)."""
    base = {"command": "load", "schema_version": 1, "url": "ws://h/", "ok": True, "exit_code": 0,
            "config": {"connections": 100}, "gates": [], "thresholds": [],
            "latency_ms": {"corrected": {"count": 1}, "uncorrected": {"count": 1}},
            "connections": {}, "messages": {}, "errors": {"by_class": {}, "close_codes": {},
                                                           "http_status": {}, "examples": {}},
            "phases_ms": {}, "histograms": {}}
    base["series"] = [{"t": i + 1, "open": 100, "opened": 0, "sent": 1000 + i % 7,
                       "matched": 1000, "errors": i % 3, "p50_ms": 1 + (i % 10) / 10,
                       "p99_ms": 5 + (i % 50) / 10, "max_ms": 20 + i % 13,
                       "u_p50_ms": 0.8, "u_p99_ms": 4.0} for i in range(3600)]
    f = tmp_path / "hour.json"
    f.write_text(json.dumps(base))
    out = tmp_path / "hour.html"
    r = run_wsprobe("report", f, "--html", out)
    assert r.rc == 0, r
    assert out.stat().st_size < 2 * 1024 * 1024, out.stat().st_size
    well_formed(out)


# --- found by review ----------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [
    # every end matches every nameless strategy: each must still be drawn once
    {"command": "hold", "schema_version": 1, "strategies": [1, 2, 3], "timeline": [{}, {}, {}]},
    {"command": "hold", "schema_version": 1, "strategies": [{"name": "a"}] * 200,
     "timeline": [{"strategy": "a"}] * 50},
    {"command": "parity", "schema_version": 1, "drift": 1e30, "matrix": [1, "x"],
     "environments": [None, 3]},
    {"command": "audit", "schema_version": 1,
     "network_durations": {"upper_ms": [0, -1, 1e308], "counts": [1, 2, 3], "floor_ms": None}},
    {"command": "load", "schema_version": 1, "series": [{"t": 1, "p50_ms": -5}],
     "errors": {"by_class": {"WS_CLOSED": 1234567}}},
])
def test_report_survives_odd_reports(tmp_path, doc):
    f = tmp_path / "odd.json"
    f.write_text(json.dumps(doc))
    out = tmp_path / "odd.html"
    r = run_wsprobe("report", f, "--html", out)
    assert r.rc == 0, r
    well_formed(out)
    text = out.read_text()
    assert "nan" not in text.lower().replace("nan-", "")
    if doc["command"] == "load":
        assert 'data-value="1234567"' in text, "counts are shown whole"
    if doc["command"] == "audit":
        assert "no floor" in text and "floor:" not in text


def test_every_table_has_its_tbody(corpus, tmp_path):
    """An HTML parser inserts <tbody>; an XML one does not: the page writes it."""
    import xml.etree.ElementTree as ET
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    _, h = render(["load", "ws://127.0.0.1:%d/ws" % srv.port, "--connections", "1", "--rate",
                   "10", "--duration", "1s", "--message", "hi", "--echo"], tmp_path, "tbody")
    ns = "{http://www.w3.org/1999/xhtml}"
    tables = list(ET.parse(str(h)).getroot().iter(ns + "table"))
    assert tables and all(c.tag == ns + "tbody" for t in tables for c in t)


def test_hold_keeps_its_output_options():
    for opt in ("--quiet", "-v"):
        assert run_wsprobe("hold", opt, "--help").rc == 0, opt


def test_hold_rungs_have_distinct_names():
    r = run_wsprobe("hold", "ws://127.0.0.1:9/", "--ping-ladder", "100.2ms,100.7ms",
                    "--duration", "1s", "--per-strategy", "1", "--json", timeout=30)
    names = [s["name"] for s in r["strategies"]]
    assert names == ["silent", "ping-100.2ms", "ping-100.7ms"], names
