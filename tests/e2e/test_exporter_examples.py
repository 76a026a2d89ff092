"""examples/prometheus/ works as shipped: Prometheus's own tools accept the scrape config and the
rules, the rules' unit tests pass, systemd accepts the unit, the modules file starts the
exporter, and every metric the Grafana dashboard queries exists in a real exposition (Grafana is
not in Debian: its JSON is checked here, its queries against what the exporter writes)."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import REPO, wsprobe_path
from exporter_helpers import PROMTOOL, parse_exposition, start_exporter
from serve_helpers import SECRET, SECRET_ENV, start_serve

EX = REPO / "examples" / "prometheus"


def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def test_prometheus_config_and_rules(tmp_path):
    rc, out = run([PROMTOOL, "check", "config", "prometheus.yml"], cwd=EX)
    assert rc == 0 and "1 rule files found" in out, out
    rc, out = run([PROMTOOL, "check", "rules", "rules.yml"], cwd=EX)
    assert rc == 0, out
    rc, out = run([PROMTOOL, "test", "rules", "rules.test.yml"], cwd=EX)
    assert rc == 0 and "SUCCESS" in out, out
    # the unit tests can fail: a wrong expectation is caught
    shutil.copy(EX / "rules.yml", tmp_path / "rules.yml")
    (tmp_path / "t.yml").write_text((EX / "rules.test.yml").read_text().replace(
        "expires in 9.99 days", "expires in 20 days"))
    rc, out = run([PROMTOOL, "test", "rules", "t.yml"], cwd=tmp_path)
    assert rc != 0, out
    rules = (EX / "rules.yml").read_text()
    for alert in ("WebSocketEndpointDown", "WebSocketCertificateExpiringSoon",
                  "WebSocketHandshakeSlow", "WebSocketAuthNotEnforced"):
        assert "alert: " + alert in rules


def test_systemd_unit_verifies(tmp_path):
    sa = shutil.which("systemd-analyze")
    if not sa:
        pytest.skip("systemd-analyze is not installed")
    unit = (EX / "wsprobe-exporter.service").read_text()
    assert "DynamicUser=yes" in unit and "NoNewPrivileges=yes" in unit
    assert "ProtectSystem=strict" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # the unit names the installed binary; verify checks that ExecStart's file exists
    (tmp_path / "wsprobe-exporter.service").write_text(
        unit.replace("/usr/local/bin/wsprobe", str(wsprobe_path())))
    rc, out = run([sa, "verify", str(tmp_path / "wsprobe-exporter.service")])
    assert rc == 0 and out.strip() == "", out


def test_example_modules_start(tmp_path):
    e = start_exporter(tmp_path / "ex", (EX / "exporter.yml").read_text(),
                       env={"WSPROBE_JWT_SECRET": SECRET})
    try:
        assert e.get("/-/healthy")[0] == 200
        assert "4 modules: ws_connect ws_chat ws_auth_required ws_every_backend" in e.log()
    finally:
        assert e.stop() == 0


def exprs(dash):
    for p in dash["panels"]:
        for t in p.get("targets", []):
            yield p, t["expr"]


def test_grafana_dashboard_queries_real_metrics(tmp_path):
    dash = json.loads((EX / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["panels"]
    titles = {p["title"]: p for p in dash["panels"]}
    stacked = [p for p, e in exprs(dash) if "wsprobe_phase_duration_seconds" in e]
    assert stacked and stacked[0]["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == \
        "normal"
    assert any("wsprobe_probe_success" in e for _, e in exprs(dash))
    assert any("wsprobe_probe_failure_info" in e and "class" in e for _, e in exprs(dash))
    assert any("wsprobe_tls_cert_expiry_timestamp_seconds" in e for _, e in exprs(dash))
    assert "Certificate days left" in titles
    # a real exposition: a wss probe that holds, one that fails, and the exporter's own
    serve = start_serve(tmp_path / "serve", tls=True)
    cfg = ("modules:\n  tls:\n    allowed_targets: ['wss://127.0.0.1:*/*', 'ws://127.0.0.1:*/*']"
           "\n    tls: {cacert: %s}\n    auth:\n      jwt: {secret_env: %s}\n" % (serve.ca,
                                                                                 SECRET_ENV))
    e = start_exporter(tmp_path / "exp", cfg, env={SECRET_ENV: SECRET})
    try:
        text = e.probe(serve.url(tls=True), "tls")[2] + e.probe("ws://127.0.0.1:1/", "tls")[2]
        e.probe(serve.url(tls=True), "tls")
        text += e.get("/metrics")[2]
    finally:
        e.stop()
        serve.stop()
    names = {n for n, _, _ in parse_exposition(text)}
    for suffix in ("_bucket", "_sum", "_count"):
        names |= {n[:-len(suffix)] for n in names if n.endswith(suffix)}
    recorded = set(re.findall(r"record: ([a-z_:]+)", (EX / "rules.yml").read_text()))
    for panel, expr in exprs(dash):
        for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{|\[|\)|\s|$)", expr):
            if m.startswith("wsprobe_") or ":" in m:
                assert m in names or m in recorded, "%s: %s is in no exposition" % (
                    panel["title"], m)
    for rule_expr in re.findall(r"expr: (.*)", (EX / "rules.yml").read_text()):
        for m in re.findall(r"(?<![:a-z_])wsprobe_[a-z_]+", rule_expr):
            assert m in names, "rules.yml: %s is in no exposition" % m
