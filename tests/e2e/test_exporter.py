"""`wsprobe exporter` (docs/exporter.md) against real peers: wsprobe's own `serve`, Debian's
python3-websockets echo server, and Debian's Prometheus scraping the exporter. What each
metric must say is established from the peer (a raw request's status, the certificate's
notAfter, a refused TCP connect), not from what the exporter prints.
"""
import base64
import datetime
import http.client
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import free_port
from exporter_helpers import (one, parse_exposition, promtool_check, start_exporter,
                              start_prometheus, values)
from serve_helpers import SECRET, SECRET_ENV, start_serve

ENV = {SECRET_ENV: SECRET}


def module(name, allowed="ws://127.0.0.1:*/*", extra=""):
    return "  %s:\n    allowed_targets: ['%s']\n%s" % (name, allowed, extra)


MODULES = "modules:\n" + module("connect", extra="    auth:\n      jwt: {secret_env: %s, "
                                "claims: {sub: mon}}\n" % SECRET_ENV) + \
    module("bare") + \
    module("chat", extra="    auth:\n      jwt: {secret_env: %s}\n    conversation:\n"
           "      send: '{\"type\":\"chat_message\",\"content\":\"hi\",\"id\":\"{{uuid}}\"}'\n"
           "      expect: {json: {\"/id\": \"{{sent./id}}\"}}\n" % SECRET_ENV) + \
    module("echo", extra="    conversation:\n      send: hello-exporter\n"
           "      expect: {text: hello-exporter}\n") + \
    module("must_refuse", extra="    expect_auth_required: true\n")


@pytest.fixture
def serve(tmp_path):
    s = start_serve(tmp_path / "serve", tls=True)
    yield s
    s.stop()


@pytest.fixture
def exporter(tmp_path):
    e = start_exporter(tmp_path / "exporter", MODULES, env=ENV)
    yield e
    assert e.stop() == 0, e.log()[-3000:]  # SIGTERM: exit 0 (and, under ASan, no leak)


def raw_upgrade_status(port, path="/ws", token=None):
    """The status a plain RFC 6455 upgrade request gets: the truth the metrics must tell."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request("GET", path, headers=h)
    st = c.getresponse().status
    c.close()
    return st


def test_probe_success_with_phases(serve, exporter):
    st, hdr, body = exporter.probe(serve.url(), "chat")
    assert st == 200 and hdr["Content-Type"].startswith("text/plain; version=0.0.4"), body
    s = parse_exposition(body)
    assert one(s, "wsprobe_probe_success") == 1
    phases = {l["phase"] for n, l, v in s if n == "wsprobe_phase_duration_seconds"}
    assert phases == {"resolve", "connect", "upgrade", "first_message", "roundtrip", "close"}
    assert all(0 < v < 5 for v in values(s, "wsprobe_phase_duration_seconds"))
    assert one(s, "wsprobe_http_status_code") == 101
    assert one(s, "wsprobe_ws_close_code") == 1000
    assert one(s, "wsprobe_messages", direction="sent") == 1
    assert one(s, "wsprobe_messages", direction="received") >= 1
    assert one(s, "wsprobe_bytes", direction="sent") > 100
    assert not values(s, "wsprobe_probe_failure_info")
    assert not values(s, "wsprobe_tls_version_info")  # ws://: no TLS phase, no TLS series
    rc, out = promtool_check(body)
    assert rc == 0 and out.strip() == "", out


def test_refused_upgrade_is_a_failure_with_its_class(serve, exporter):
    assert raw_upgrade_status(serve.port()) == 401  # serve refuses a client without a token
    st, _, body = exporter.probe(serve.url(), "bare")
    assert st == 200
    s = parse_exposition(body)
    assert one(s, "wsprobe_probe_success") == 0
    fi = [(l, v) for n, l, v in s if n == "wsprobe_probe_failure_info"]
    assert fi == [({"class": "UPGRADE_AUTH", "phase": "upgrade"}, 1.0)]
    assert one(s, "wsprobe_http_status_code") == 401
    assert promtool_check(body)[0] == 0
    # the same refusal is what expect_auth_required wants
    s = parse_exposition(exporter.probe(serve.url(), "must_refuse")[2])
    assert one(s, "wsprobe_probe_success") == 1


def test_auth_not_enforced_is_caught(tmp_path, exporter):
    open_serve = start_serve(tmp_path / "open", "--unsafe-no-auth", tls=False, auth=False)
    try:
        assert raw_upgrade_status(open_serve.port()) == 101  # it serves anyone
        s = parse_exposition(exporter.probe(open_serve.url(), "must_refuse")[2])
        assert one(s, "wsprobe_probe_success") == 0
        fi = [l for n, l, v in s if n == "wsprobe_probe_failure_info"]
        assert [f["class"] for f in fi] == ["AUTH_NOT_ENFORCED"]
    finally:
        open_serve.stop()


def test_third_party_echo_conversation(peers, exporter):
    echo = peers.echo()
    s = parse_exposition(exporter.probe(echo.url("/"), "echo")[2])
    assert one(s, "wsprobe_probe_success") == 1
    assert one(s, "wsprobe_phase_duration_seconds", phase="roundtrip") > 0


def test_stopped_target_flips_to_tcp_refused(tmp_path, exporter):
    port = free_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    s = parse_exposition(exporter.probe("ws://127.0.0.1:%d/ws" % port, "connect")[2])
    assert one(s, "wsprobe_probe_success") == 0
    assert [l for n, l, v in s if n == "wsprobe_probe_failure_info"] == [
        {"class": "TCP_REFUSED", "phase": "connect"}]
    assert not values(s, "wsprobe_http_status_code")  # no status line came


def test_wss_tls_version_and_certificate_expiry(tmp_path, serve):
    cfg = "modules:\n" + module("tls", allowed="wss://127.0.0.1:*/*",
                                extra="    tls: {cacert: %s}\n    auth:\n      jwt: "
                                "{secret_env: %s}\n" % (serve.ca, SECRET_ENV))
    e = start_exporter(tmp_path / "exp-tls", cfg, env=ENV)
    try:
        body = e.probe(serve.url(tls=True), "tls")[2]
        s = parse_exposition(body)
        assert one(s, "wsprobe_probe_success") == 1, body
        assert one(s, "wsprobe_phase_duration_seconds", phase="tls") > 0
        # the truth: what the server presents, read with Python's ssl module
        ctx = ssl.create_default_context(cafile=serve.ca)
        with socket.create_connection(("127.0.0.1", serve.port(tls=True)), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                version = t.version()
                not_after = ssl.cert_time_to_seconds(t.getpeercert()["notAfter"])
        assert [l["version"] for n, l, v in s if n == "wsprobe_tls_version_info"] == [version]
        assert one(s, "wsprobe_tls_cert_expiry_timestamp_seconds") == not_after
        assert promtool_check(body)[0] == 0
    finally:
        e.stop()


def test_openmetrics_when_asked(serve, exporter):
    accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    st, hdr, body = exporter.probe(serve.url(), "bare", headers={"Accept": accept})
    assert hdr["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith("# EOF\n")
    assert "# TYPE wsprobe_probe_failure info" in body
    assert "# UNIT wsprobe_probe_duration_seconds seconds" in body
    s = parse_exposition(body)
    assert one(s, "wsprobe_probe_success") == 0
    st, hdr, body = exporter.probe(serve.url(), "bare", headers={"Accept": "text/plain"})
    assert hdr["Content-Type"].startswith("text/plain") and "# EOF" not in body


def test_allow_list_refuses_what_is_not_listed(serve, exporter):
    for target in ["ws://127.0.0.2:%d/ws" % serve.port(),     # another address
                   "ws://localhost:%d/ws" % serve.port(),     # another name for it
                   "wss://127.0.0.1:%d/ws" % serve.port(tls=True)]:  # another scheme
        st, _, body = exporter.probe(target, "connect")
        assert st == 403 and "allowed_targets" in body and body.count("\n") == 1, (target, body)
    # userinfo could make an allowed host appear first: refused before any matching
    st, _, body = exporter.probe("ws://127.0.0.1:1@10.0.0.1/ws", "connect")
    assert st == 400 and ("userinfo" in body.lower() or "credentials" in body.lower()), body
    m = exporter.get("/metrics")[2]
    assert one(parse_exposition(m), "wsprobe_exporter_requests_refused_total",
               reason="target_not_allowed") == 3


def test_bad_requests_get_a_4xx_with_one_line(serve, exporter):
    cases = [
        ("/probe?target=%zz&module=connect", 400, "%"),
        ("/probe?module=connect", 400, "target="),
        ("/probe?target=ws://127.0.0.1:9/&module=nope", 400, "unknown module 'nope'"),
        ("/probe?target=http://127.0.0.1:9/&module=connect", 400, "scheme"),
        ("/probe?target=ws://127.0.0.1:9/&target=ws://x/&module=connect", 400, "twice"),
        ("/probe?target=ws%3A%2F%2F127.0.0.1%3A9%2F%0D%0AX:1&module=connect", 400, "control"),
        ("/nothing", 404, "not found"),
    ]
    for path, want, word in cases:
        st, hdr, body = exporter.get(path)
        assert st == want and word in body and body.endswith("\n") and body.count("\n") == 1, \
            (path, st, body)
    st, hdr, body = exporter.get("/probe?target=ws://127.0.0.1:9/&module=connect", method="POST")
    assert st == 405 and hdr["Allow"] == "GET"
    # enormous headers: 431, and the exporter still serves
    resp = exporter.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                        b"\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 431 ")
    resp = exporter.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert resp.startswith(b"HTTP/1.1 413 ")
    resp = exporter.raw(b"\x16\x03\x01\x00\x05hello\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400 ")
    assert exporter.get("/-/healthy")[0] == 200


def test_slow_client_does_not_block_scrapes(serve, exporter):
    slow = [exporter.raw(b"GET /probe?target=", read=False) for _ in range(20)]
    try:
        t0 = time.monotonic()
        st, _, body = exporter.probe(serve.url(), "connect")
        assert st == 200 and one(parse_exposition(body), "wsprobe_probe_success") == 1
        assert time.monotonic() - t0 < 5
    finally:
        for s in slow:
            s.close()


def test_silent_and_slow_connections_are_cut(exporter):
    silent = exporter.raw(b"", read=False)
    partial = exporter.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n", read=False)
    t0 = time.monotonic()
    for s in (silent, partial):
        s.settimeout(20)
    got = partial.recv(4096)
    assert got.startswith(b"HTTP/1.1 408 "), got
    assert silent.recv(4096) == b""  # closed without a word: it never asked anything
    assert 9 < time.monotonic() - t0 < 15
    silent.close()
    partial.close()
    m = parse_exposition(exporter.get("/metrics")[2])
    assert one(m, "wsprobe_exporter_requests_refused_total", reason="timeout") == 2


def test_scrape_timeout_bounds_the_probe(exporter, unanswered_port):
    t0 = time.monotonic()
    st, _, body = exporter.probe("ws://127.0.0.1:%d/ws" % unanswered_port, "connect",
                                 headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
    took = time.monotonic() - t0
    assert st == 200 and took < 1.5, took  # answered before Prometheus gives up
    s = parse_exposition(body)
    assert one(s, "wsprobe_probe_success") == 0
    assert 0.8 < one(s, "wsprobe_probe_duration_seconds") < 1.2


def test_max_concurrent_answers_503(tmp_path, unanswered_port):
    e = start_exporter(tmp_path / "exp-cap", MODULES, "--max-concurrent", "1", env=ENV)
    try:
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=e.probe(
            "ws://127.0.0.1:%d/ws" % unanswered_port, "connect",
            headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"})))
        t.start()
        time.sleep(0.5)
        st, hdr, body = e.probe("ws://127.0.0.1:%d/ws" % unanswered_port, "connect")
        assert st == 503 and hdr.get("Retry-After") == "1" and "max-concurrent" in body
        t.join(10)
        assert slow["r"][0] == 200
    finally:
        e.stop()


def test_config_errors_refuse_to_start(tmp_path):
    bad = {
        "no_allow": ("modules:\n  m:\n    timeout: 2s\n", "allowed_targets"),
        "portless": ("modules:\n  m:\n    allowed_targets: ['ws://127.0.0.1/*']\n", "port"),
        "url": ("modules:\n  m:\n    allowed_targets: ['ws://h:1/']\n    url: ws://x/\n",
                "unknown key"),
        "secret": ("modules:\n  m:\n    allowed_targets: ['ws://h:1/']\n    auth:\n"
                   "      jwt: {secret: hunter2hunter2}\n", "never written"),
        "unset": ("modules:\n  m:\n    allowed_targets: ['ws://h:1/']\n    auth:\n"
                  "      jwt: {secret_env: WSP_EXPORTER_UNSET_VAR}\n", "not set"),
        "both": ("modules:\n  m:\n    allowed_targets: ['ws://h:1/']\n    expect_auth_required:"
                 " true\n    auth: {token_env: HOME}\n", "two modules"),
    }
    for name, (text, word) in bad.items():
        rc, err = start_exporter(tmp_path / name, text, expect_fail=True)
        assert rc == 2 and word in err and "modules.yaml:" in err, (name, err)
        assert "hunter2" not in err
    rc, err = start_exporter(tmp_path / "listen", MODULES, "--listen", "10.255.0.1:0",
                             env=ENV, expect_fail=True)
    assert rc == 2 and "cannot listen" in err


def test_reload_keeps_the_old_config_when_the_new_is_bad(tmp_path, serve, exporter):
    cfg = exporter.workdir / "modules.yaml"
    cfg.write_text(MODULES + module("added"))
    st, _, body = exporter.get("/-/reload", method="POST")
    assert st == 200 and "added" in body
    assert exporter.probe(serve.url(), "added")[0] == 200
    cfg.write_text("modules:\n  broken: {allowed_targets: ['ftp://x']}\n")
    st, _, body = exporter.get("/-/reload", method="POST")
    assert st == 500 and "old configuration stays" in body and "modules.yaml:2:" in body
    assert exporter.probe(serve.url(), "added")[0] == 200  # still the old one
    m = parse_exposition(exporter.get("/metrics")[2])
    assert one(m, "wsprobe_exporter_config_last_reload_successful") == 0
    assert one(m, "wsprobe_exporter_config_reloads_total", result="failure") == 1
    cfg.write_text(MODULES)
    os.kill(exporter.proc.pid, signal.SIGHUP)
    end = time.monotonic() + 5
    while time.monotonic() < end and exporter.probe(serve.url(), "added")[0] != 400:
        time.sleep(0.1)
    assert exporter.probe(serve.url(), "added")[0] == 400  # SIGHUP read the file again
    assert exporter.get("/-/reload")[0] == 405


def test_own_metrics_pass_promtool(serve, exporter):
    exporter.probe(serve.url(), "connect")
    exporter.probe(serve.url(), "bare")
    body = exporter.get("/metrics")[2]
    rc, out = promtool_check(body)
    assert rc == 0 and out.strip() == "", out
    m = parse_exposition(body)
    assert one(m, "wsprobe_exporter_probes_total", module="connect", result="success") == 1
    assert one(m, "wsprobe_exporter_probes_total", module="bare", result="failure") == 1
    assert one(m, "wsprobe_exporter_probe_failures_total", module="bare",
               **{"class": "UPGRADE_AUTH"}) == 1
    assert one(m, "wsprobe_exporter_probe_duration_seconds_count", module="connect") == 1
    assert one(m, "process_resident_memory_bytes") > 1e6
    assert one(m, "wsprobe_exporter_probes_in_flight") == 0


def test_secrets_never_appear(tmp_path, serve):
    token_val = "tok-" + "z" * 40
    cfg = "modules:\n" + module("tok", extra="    auth: {token_env: WSP_EXP_TOKEN, in: "
                                "'query:access_token'}\n")
    e = start_exporter(tmp_path / "exp-secret", cfg, env=dict(ENV, WSP_EXP_TOKEN=token_val))
    try:
        texts = [e.probe(serve.url(), "tok")[2],
                 e.probe(serve.url(query="token=" + token_val), "tok")[2],
                 e.probe("ws://10.1.1.1:1/ws?token=" + token_val, "tok")[2],
                 e.get("/metrics")[2]]
        e.get("/-/reload", method="POST")
    finally:
        e.stop()
    texts.append(e.log())
    for t in texts:
        assert token_val not in t and SECRET not in t, t[:400]


def test_sigterm_lets_the_probe_in_flight_finish(tmp_path, unanswered_port):
    e = start_exporter(tmp_path / "exp-stop", MODULES, env=ENV)
    got = {}
    t = threading.Thread(target=lambda: got.update(r=e.probe(
        "ws://127.0.0.1:%d/ws" % unanswered_port, "connect",
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "2.5"})))
    t.start()
    time.sleep(0.5)
    e.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert e.proc.wait(10) == 0
    assert got["r"][0] == 200
    assert one(parse_exposition(got["r"][2]), "wsprobe_probe_success") == 0


def test_each_address_has_a_series_per_address(tmp_path, serve):
    port = serve.port()
    with pytest.raises(OSError):  # nothing listens on 127.0.0.2 at serve's port
        socket.create_connection(("127.0.0.2", port), timeout=2).close()
    cfg = "modules:\n" + module("every", allowed="ws://ws.test:*/*",
                                extra="    each_address: true\n    resolve: ['ws.test:%d:"
                                "127.0.0.1,127.0.0.2']\n    auth:\n      jwt: {secret_env: %s}"
                                "\n" % (port, SECRET_ENV))
    e = start_exporter(tmp_path / "exp-each", cfg, env=ENV)
    try:
        body = e.probe("ws://ws.test:%d/ws" % port, "every")[2]
    finally:
        e.stop()
    s = parse_exposition(body)
    assert [v for n, l, v in s if n == "wsprobe_probe_success" and "address" not in l] == [0]
    assert one(s, "wsprobe_probe_success", address="127.0.0.1") == 1
    assert one(s, "wsprobe_probe_success", address="127.0.0.2") == 0
    fi = [l for n, l, v in s if n == "wsprobe_probe_failure_info" and l.get("address")]
    assert fi == [{"address": "127.0.0.2", "class": "TCP_REFUSED", "phase": "connect"}]
    assert one(s, "wsprobe_http_status_code", address="127.0.0.1") == 101
    assert promtool_check(body)[0] == 0


def htpasswd_hash(user, password):
    """A bcrypt hash made by Apache's htpasswd (apache2-utils), not by the C library wsprobe
    uses to check it."""
    p = subprocess.run(["htpasswd", "-nbBC", "10", user, password], capture_output=True,
                       timeout=30, check=True)
    return p.stdout.decode().strip().split(":", 1)[1]


def test_web_config_basic_auth_and_tls(tmp_path, pki, serve):
    if not shutil_which("htpasswd"):
        pytest.skip("htpasswd (apache2-utils) is not installed")
    cert, key = pki.server_pair("trusted")
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                   "basic_auth_users:\n  prom: '%s'\n" % (cert, key, htpasswd_hash("prom", "pw-1")))
    e = start_exporter(tmp_path / "exp-web", MODULES, "--web.config.file", web, env=ENV,
                       scheme="https")
    ctx = ssl.create_default_context(cafile=str(pki.ca))

    def auth(u, p):
        return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (u, p)).encode()).decode()}
    try:
        st, hdr, _ = e.get("/metrics", context=ctx)
        assert st == 401 and hdr["WWW-Authenticate"].startswith("Basic")
        # two pipelined requests, each with the credential: both let in
        raw = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            a = auth("prom", "pw-1")["Authorization"].encode()
            t.sendall((b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nAuthorization: " + a +
                       b"\r\n\r\n") * 2)
            got = b""
            end = time.monotonic() + 5
            while got.count(b"HTTP/1.1 ") < 2 and time.monotonic() < end:
                got += t.recv(65536)
        assert got.count(b"HTTP/1.1 200 ") == 2, got
        assert e.get("/metrics", headers=auth("prom", "wrong"), context=ctx)[0] == 401
        assert e.get("/metrics", headers=auth("nobody", "pw-1"), context=ctx)[0] == 401
        t0 = time.monotonic()
        assert e.get("/metrics", headers=auth("prom", "pw-1"), context=ctx)[0] == 200
        first = time.monotonic() - t0
        t0 = time.monotonic()
        for _ in range(20):
            st, _, body = e.probe(serve.url(), "connect", headers=auth("prom", "pw-1"),
                                  context=ctx)
            assert st == 200 and one(parse_exposition(body), "wsprobe_probe_success") == 1
        cached = (time.monotonic() - t0) / 20
        print("first (bcrypt) %.1f ms, cached %.1f ms per scrape" % (first * 1e3, cached * 1e3))
        # plain HTTP to the TLS port gets no metrics
        resp = e.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        assert b"wsprobe_" not in resp
    finally:
        e.stop()
    assert "pw-1" not in e.log()


def test_web_config_errors(tmp_path):
    cases = {"unknown": ("tls_server_config:\n  cipher_suites: [X]\n", "not supported"),
             "plain": ("basic_auth_users:\n  u: hunter2\n", "bcrypt"),
             "half": ("tls_server_config:\n  cert_file: /etc/hostname\n", "together"),
             "key": ("basic_auth: {}\n", "unknown key")}
    for name, (text, word) in cases.items():
        web = tmp_path / (name + ".yml")
        web.write_text(text)
        rc, err = start_exporter(tmp_path / ("w-" + name), MODULES, "--web.config.file", web,
                                 env=ENV, expect_fail=True)
        assert rc == 2 and word in err, (name, err)
        assert "hunter2" not in err


def shutil_which(x):
    import shutil
    return shutil.which(x)


def test_prometheus_scrapes_the_exporter(tmp_path, serve, peers, exporter):
    echo = peers.echo()
    down = free_port()
    cfg = """global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: websocket
    metrics_path: /probe
    params: {module: [connect]}
    static_configs:
      - targets: ['%s', 'ws://127.0.0.1:%d/ws']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:%d
  - job_name: websocket_echo
    metrics_path: /probe
    params: {module: [echo]}
    static_configs:
      - targets: ['%s']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:%d
  - job_name: wsprobe_exporter
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % (serve.url(), down, exporter.port, echo.url("/"), exporter.port, exporter.port)
    prom = start_prometheus(tmp_path / "prom", cfg)
    try:
        res = prom.wait_for('wsprobe_probe_success{job="websocket"}', lambda r: len(r) == 2)
        by = {r["metric"]["instance"]: float(r["value"][1]) for r in res}
        assert by == {serve.url(): 1.0, "ws://127.0.0.1:%d/ws" % down: 0.0}, res
        res = prom.query('wsprobe_probe_failure_info{job="websocket"}')
        assert [(r["metric"]["instance"], r["metric"]["class"]) for r in res] == [
            ("ws://127.0.0.1:%d/ws" % down, "TCP_REFUSED")]
        res = prom.wait_for('wsprobe_probe_success{job="websocket_echo"}', lambda r: len(r) == 1)
        assert float(res[0]["value"][1]) == 1.0
        res = prom.wait_for('up', lambda r: len(r) == 4)
        assert all(float(r["value"][1]) == 1.0 for r in res), res  # every scrape parsed
        # the endpoint stops: the series flips to 0 with the class of a refused connection
        serve.stop()
        res = prom.wait_for('wsprobe_probe_success{instance="%s"}' % serve.url(),
                            lambda r: r and float(r[0]["value"][1]) == 0.0)
        assert float(res[0]["value"][1]) == 0.0
        res = prom.wait_for('wsprobe_probe_failure_info{instance="%s"}' % serve.url(),
                            lambda r: len(r) == 1)
        assert res[0]["metric"]["class"] == "TCP_REFUSED"
        res = prom.wait_for('sum(wsprobe_exporter_probes_total{job="wsprobe_exporter"})',
                            lambda r: r and float(r[0]["value"][1]) >= 3)
        assert float(res[0]["value"][1]) >= 3  # its own metrics, scraped as a plain target
    finally:
        prom.stop()


def test_ready_token_from_a_file(tmp_path, serve):
    from conftest import run_wsprobe
    from serve_helpers import mint
    token = mint(sub="from-file")
    tf = tmp_path / "token"
    tf.write_text(token + "\n")  # as a mounted secret often ends
    tf.chmod(0o600)
    # the probe command: served with it, the token nowhere in the report
    r = run_wsprobe("probe", serve.url(), "--token-file", str(tf), "--json")
    assert r.rc == 0 and r.json["ok"] is True, r.stderr
    assert token not in r.stdout and token not in r.stderr
    r = run_wsprobe("probe", serve.url(), "--token-file", str(tmp_path / "missing"))
    assert r.rc == 2 and "--token-file" in r.stderr
    r = run_wsprobe("probe", serve.url(), "--token-file", str(tf), "--token-env", "HOME")
    assert r.rc == 2 and "give one" in r.stderr
    # a module of the exporter, reloaded when the file changes
    cfg = "modules:\n" + module("file", extra="    auth: {token_file: %s}\n" % tf)
    e = start_exporter(tmp_path / "exp-file", cfg)
    try:
        body = e.probe(serve.url(), "file")[2]
        assert one(parse_exposition(body), "wsprobe_probe_success") == 1 and token not in body
        tf.write_text("not-a-valid-token-for-serve")
        assert e.get("/-/reload", method="POST")[0] == 200
        s = parse_exposition(e.probe(serve.url(), "file")[2])
        assert [l["class"] for n, l, v in s if n == "wsprobe_probe_failure_info"] == [
            "UPGRADE_AUTH"]
    finally:
        e.stop()
    assert token not in e.log()


def test_proxy_compress_and_health_modules(tmp_path, serve, peers):
    tiny = peers.tinyproxy()
    auth = "    auth:\n      jwt: {secret_env: %s}\n" % SECRET_ENV
    cfg = "modules:\n" + \
        module("proxied", extra=auth + "    proxy: http://127.0.0.1:%d\n" % tiny.port) + \
        module("deflate", extra=auth + "    compress: true\n    conversation:\n"
               "      send: '{\"type\":\"chat_message\",\"content\":\"zz\",\"id\":\"{{uuid}}\"}'\n"
               "      expect: {json: {\"/id\": \"{{sent./id}}\"}}\n") + \
        module("healthy", extra=auth + "    health: /health\n") + \
        module("unhealthy", extra=auth + "    health: /no-such-health\n")
    e = start_exporter(tmp_path / "exp-more", cfg, env=ENV)
    try:
        s = parse_exposition(e.probe(serve.url(), "proxied")[2])
        assert one(s, "wsprobe_probe_success") == 1
        assert one(s, "wsprobe_phase_duration_seconds", phase="proxy") > 0
        log = (tiny.workdir / "log").read_text(errors="replace")
        assert "127.0.0.1:%d" % serve.port() in log  # the tunnel went through tinyproxy
        s = parse_exposition(e.probe(serve.url(), "deflate")[2])
        assert one(s, "wsprobe_probe_success") == 1
        # the health URL is asked of the target's own host and port
        c = http.client.HTTPConnection("127.0.0.1", serve.port(), timeout=5)
        c.request("GET", "/health")
        assert c.getresponse().status == 200
        c.close()
        assert one(parse_exposition(e.probe(serve.url(), "healthy")[2]),
                   "wsprobe_probe_success") == 1
        s = parse_exposition(e.probe(serve.url(), "unhealthy")[2])
        assert one(s, "wsprobe_probe_success") == 0
        assert len(values(s, "wsprobe_probe_failure_info")) == 1
    finally:
        e.stop()


def test_compress_module_shrinks_the_wire(tmp_path, peers):
    echo = peers.echo()  # python3-websockets: permessage-deflate on by default
    msg = "wsprobe " * 500
    conv = "    conversation:\n      send: '%s'\n      expect: {text: '%s'}\n" % (msg, msg)
    cfg = "modules:\n" + module("plain", extra=conv) + \
        module("deflate", extra="    compress: true\n" + conv)
    e = start_exporter(tmp_path / "exp-deflate", cfg)
    try:
        got = {}
        for m in ("plain", "deflate"):
            s = parse_exposition(e.probe(echo.url("/"), m)[2])
            assert one(s, "wsprobe_probe_success") == 1
            got[m] = one(s, "wsprobe_bytes", direction="received")
    finally:
        e.stop()
    assert got["plain"] > len(msg) and got["deflate"] < got["plain"] / 4, got


def test_allow_any_target_is_explicit_and_warned(tmp_path, serve):
    cfg = "modules:\n  any:\n    timeout: 2s\n"
    rc, err = start_exporter(tmp_path / "no-flag", cfg, expect_fail=True)
    assert rc == 2 and "allowed_targets" in err
    e = start_exporter(tmp_path / "any", cfg, "--allow-any-target")
    try:
        assert "WARNING: --allow-any-target" in e.log()
        s = parse_exposition(e.probe(serve.url(), "any")[2])
        assert one(s, "wsprobe_http_status_code") == 401  # probed: no allow-list in the way
    finally:
        e.stop()


def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path, pki, serve):
    if not shutil_which("htpasswd"):
        pytest.skip("htpasswd (apache2-utils) is not installed")
    cert, key = pki.server_pair("trusted")
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                   "basic_auth_users:\n  prom: '%s'\n" % (cert, key,
                                                          htpasswd_hash("prom", "s3cret-pw")))
    (tmp_path / "pw").write_text("s3cret-pw")
    e = start_exporter(tmp_path / "exp-tls-auth", MODULES, "--web.config.file", web, env=ENV,
                       scheme="https")
    cfg = """global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: websocket
    scheme: https
    tls_config: {ca_file: %s}
    basic_auth: {username: prom, password_file: %s}
    metrics_path: /probe
    params: {module: [connect]}
    static_configs:
      - targets: ['%s']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: localhost:%d
  - job_name: wrong_password
    scheme: https
    tls_config: {ca_file: %s}
    basic_auth: {username: prom, password: not-it}
    static_configs:
      - targets: ['localhost:%d']
""" % (pki.ca, tmp_path / "pw", serve.url(), e.port, pki.ca, e.port)
    prom = start_prometheus(tmp_path / "prom-tls", cfg)
    try:
        res = prom.wait_for('wsprobe_probe_success{job="websocket"}', lambda r: len(r) == 1)
        assert res and float(res[0]["value"][1]) == 1.0, res
        res = prom.wait_for('up{job="wrong_password"}', lambda r: len(r) == 1)
        assert float(res[0]["value"][1]) == 0.0  # refused: 401
        res = prom.wait_for('up{job="websocket"}', lambda r: len(r) == 1)
        assert float(res[0]["value"][1]) == 1.0
    finally:
        prom.stop()
        e.stop()
    assert "s3cret-pw" not in e.log()


def test_web_config_requires_a_verified_client_certificate(tmp_path, pki):
    cert, key = pki.server_pair("trusted")
    d = tmp_path / "client"
    d.mkdir()
    ext = d / "ext.cnf"
    ext.write_text("extendedKeyUsage=clientAuth\n")
    for cmd in (["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", str(d / "c.key"), "-subj", "/CN=prometheus", "-out",
                 str(d / "c.csr")],
                ["openssl", "x509", "-req", "-in", str(d / "c.csr"), "-CA", str(pki.ca), "-CAkey",
                 str(pki.ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out",
                 str(d / "c.pem")]):
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                   "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %s\n"
                   % (cert, key, pki.ca))
    e = start_exporter(tmp_path / "exp-mtls", MODULES, "--web.config.file", web, env=ENV,
                       scheme="https")
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            e.get("/-/healthy", context=ctx)  # no client certificate: refused in the handshake
        ctx.load_cert_chain(str(d / "c.pem"), str(d / "c.key"))
        assert e.get("/-/healthy", context=ctx)[0] == 200
    finally:
        e.stop()


# ---- found by review: each a regression test ----

def test_allow_list_matches_part_by_part(tmp_path):
    cfg = "modules:\n" + module("narrow", allowed="ws://*.example.com:*/*") + \
        module("v6", allowed="ws://[::1]:*/*") + module("public", allowed="ws://127.0.0.1:*/public/*")
    e = start_exporter(tmp_path / "exp-parts", cfg)
    try:
        # the path's text cannot pass for the host
        st, _, body = e.probe("ws://127.0.0.1:9/.example.com:443/", "narrow")
        assert st == 403, body
        # a bracketed IPv6 host is literal, not a character set
        st, _, body = e.probe("ws://[::1]:9/", "v6")
        assert st == 200, body
        # dot segments could leave the allowed path on the server's side
        for t in ("ws://127.0.0.1:9/public/../admin", "ws://127.0.0.1:9/public/%2e%2e/admin"):
            st, _, body = e.probe(t, "public")
            assert st == 400 and "dot" in body, (t, body)
        assert e.probe("ws://127.0.0.1:9/public/x", "public")[0] == 200
    finally:
        e.stop()


def test_a_refused_request_is_answered_once(exporter):
    for req in (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", b"GET http://x/ HTTP/1.1\r\n\r\n",
                b"VERYLONGMETHOD / HTTP/1.1\r\n\r\n"):
        got = exporter.raw(req, timeout=1.0, all_answers=True)
        assert got.count(b"HTTP/1.1 400 ") == 1, got[:300]
    m = parse_exposition(exporter.get("/metrics")[2])
    assert one(m, "wsprobe_exporter_requests_refused_total", reason="bad_request") == 3


def test_a_pipelined_partial_head_still_times_out(exporter):
    s = exporter.raw(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nG", read=False)
    s.settimeout(20)
    got = b""
    t0 = time.monotonic()
    while b"408" not in got and time.monotonic() - t0 < 15:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in got, got
    assert 9 < time.monotonic() - t0 < 15


def test_two_content_lengths_are_refused(exporter):
    resp = exporter.raw(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                        b"Content-Length: 40\r\n\r\n" + b"GET /metrics HTTP/1.1\r\n\r\n" + b"x" * 13)
    assert resp.startswith(b"HTTP/1.1 413 ") and b"wsprobe_exporter" not in resp


def test_reload_does_not_stall_scrapes(tmp_path, serve):
    # wss modules without a cacert: each loads the system's trust store (tens of ms)
    mods = "".join(module("m%d" % i, allowed="wss://127.0.0.1:*/*") for i in range(40))
    e = start_exporter(tmp_path / "exp-big", "modules:\n" + mods)
    try:
        done = {}
        t = threading.Thread(target=lambda: done.update(r=e.get("/-/reload", method="POST")))
        t0 = time.monotonic()
        t.start()
        time.sleep(0.02)
        lat = []
        while t.is_alive() and len(lat) < 50:
            t1 = time.monotonic()
            assert e.get("/-/healthy")[0] == 200
            lat.append(time.monotonic() - t1)
        t.join(30)
        reload_s = time.monotonic() - t0
        assert done["r"][0] == 200 and "40 modules" in done["r"][2]
        print("reload of 40 wss modules: %.0f ms; /-/healthy meanwhile: max %.1f ms (%d)" % (
            reload_s * 1e3, max(lat or [0]) * 1e3, len(lat)))
        if lat:
            assert max(lat) < max(0.25, reload_s / 2)  # answered while the reload ran
    finally:
        e.stop()


def test_each_address_that_cannot_start_still_answers(tmp_path):
    # a literal address has one backend: --each-address refuses it before any connection
    cfg = "modules:\n" + module("every", extra="    each_address: true\n")
    e = start_exporter(tmp_path / "exp-each-lit", cfg)
    try:
        body = e.probe("ws://127.0.0.1:9/ws", "every")[2]
    finally:
        e.stop()
    s = parse_exposition(body)
    assert one(s, "wsprobe_probe_success") == 0
    assert [l for n, l, v in s if n == "wsprobe_probe_failure_info"] == [
        {"class": "USAGE", "phase": "resolve"}]
    assert promtool_check(body)[0] == 0
