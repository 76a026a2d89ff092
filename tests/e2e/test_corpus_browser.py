"""Conformance corpus: headless Chromium as a client of `wsprobe serve`.

A page (peers/corpus/browser/ws_page.html) is served by a static HTTP server on 127.0.0.1, so
its Origin is http://127.0.0.1:PORT. It opens a WebSocket to `wsprobe serve --echo` (token in
the query, or in the `bearer.TOKEN` subprotocol), sends "hello" and writes what happened (open,
message, error, close code) into the DOM, which `chromium --headless --dump-dom
--virtual-time-budget=...` prints. For wss the browser trusts the server's certificate through
--ignore-certificate-errors-spki-list (the SHA-256 of the leaf's public key; the narrow flag,
not --ignore-certificate-errors).

The server allows exactly one origin, the page's on static server "a"; the same page on static
server "b" is another origin. For each case the raw client first shows the server's answer
with the browser's Origin and token (101, 403, 401); then the browser's outcome; then
`wsprobe probe` with the same Origin and token must give the same verdict: OK where the
browser got the echo, the refusal class (UPGRADE_AUTH for 401/403) where it failed.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_corpus_browser.py
"""
import json
import ssl
import subprocess
import urllib.parse

import pytest

from conftest import wsprobe_path
from corpus_peers import (RawWS, browser_outcome, corpus, expect, show,  # noqa: F401
                          spki_hash)

SECRET_ENV = "CORPUS_BROWSER_SECRET"
SECRET = "corpus-browser-secret-0123456789abcdef0123"
OTHER_ENV = "CORPUS_BROWSER_OTHER"
OTHER = "a-different-secret-entirely-9876543210zyxw"
TOKEN_ENV = "CORPUS_BROWSER_TOKEN"


def mint(env_name, secret):
    r = subprocess.run([str(wsprobe_path()), "token", "--jwt-secret-env", env_name,
                        "--jwt-claim", "sub=browser"], capture_output=True, timeout=10,
                       env={"PATH": "/usr/bin:/bin", env_name: secret})
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


@pytest.fixture(scope="module")
def site(corpus):
    """static servers a (allowed origin) and b (another origin), and the server."""
    a = corpus.static("a")
    b = corpus.static("b")
    origin_a = "http://127.0.0.1:%d" % a.port
    srv = corpus.serve("--echo", "--jwt-secret-env", SECRET_ENV, "--allow-origin", origin_a,
                       env={SECRET_ENV: SECRET})
    return {"a": a, "b": b, "origin_a": origin_a, "origin_b": "http://127.0.0.1:%d" % b.port,
            "srv": srv, "token": mint(SECRET_ENV, SECRET), "bad": mint(OTHER_ENV, OTHER)}


def ws_url(site, token=None, tls=False):
    srv = site["srv"]
    url = "%s://127.0.0.1:%d/ws" % ("wss" if tls else "ws", srv.extra["wss"] if tls else srv.port)
    return url + ("?token=" + token if token else "")


def page(site, static, url, proto=None):
    q = {"url": url}
    if proto:
        q["proto"] = proto
    return "http://127.0.0.1:%d/ws_page.html?%s" % (site[static].port, urllib.parse.urlencode(q))


def raw_status(site, origin, token=None, proto=None, tls=False):
    srv = site["srv"]
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=str(srv.extra["ca"]))
    path = "/ws" + ("?token=" + token if token else "")
    c = RawWS(srv.extra["wss"] if tls else srv.port, path, origin=origin, tls=ctx,
              subprotocols=[proto] if proto else [])
    try:
        r = c.handshake()
        if r.status == 101:
            c.send_text("hello")
            assert c.recv(2).payload == b"hello"
        return r.status
    finally:
        c.close()


def echoed(outcome):
    return outcome["done"] and outcome["events"][:1] and \
        outcome["events"][0].startswith("open:") and "message:hello" in outcome["events"]


def refused(outcome):
    ev = outcome["events"]
    return outcome["done"] and not any(e.startswith("open:") for e in ev) and "error" in ev \
        and "close:1006" in ev


# --- valid token, allowed origin: the browser gets the echo, and so does wsprobe ----------------

def test_browser_query_token_allowed_origin(site, tmp_path, probe):
    assert raw_status(site, site["origin_a"], token=site["token"]) == 101
    out = browser_outcome(page(site, "a", ws_url(site, site["token"])), tmp_path)
    assert echoed(out) and "close:1000" in out["events"], out
    expect(probe(ws_url(site, site["token"]), "--origin", site["origin_a"], "--send", "hello",
                 "--expect-text", "hello"), "OK")


def test_browser_subprotocol_token_allowed_origin(site, tmp_path, probe):
    proto = "bearer." + site["token"]
    assert raw_status(site, site["origin_a"], proto=proto) == 101
    out = browser_outcome(page(site, "a", ws_url(site), proto=proto), tmp_path)
    assert echoed(out) and out["events"][0] == "open:" + proto, out
    j = expect(probe(ws_url(site), "--origin", site["origin_a"], "--token-env", TOKEN_ENV,
                     "--auth-in", "subprotocol", "--send", "hello", "--expect-text", "hello",
                     env={TOKEN_ENV: site["token"]}), "OK")
    # the server chose the offered protocol; the report keeps it but redacts the credential
    assert j["ws"]["subprotocol"].startswith("bearer."), show(j)
    assert site["token"] not in json.dumps(j), show(j)


def test_browser_wss_with_spki_pin(site, tmp_path, probe):
    srv = site["srv"]
    assert raw_status(site, site["origin_a"], token=site["token"], tls=True) == 101
    out = browser_outcome(page(site, "a", ws_url(site, site["token"], tls=True)), tmp_path,
                          spki=spki_hash(srv.extra["cert"]))
    assert echoed(out), out
    expect(probe(ws_url(site, site["token"], tls=True), "--cacert", srv.extra["ca"],
                 "--origin", site["origin_a"], "--send", "hello", "--expect-text", "hello"),
           "OK")


def test_browser_wss_without_pin_fails_like_an_untrusted_cert(site, tmp_path, probe):
    """Control: without the SPKI flag the browser does not trust the throwaway CA; neither
    does wsprobe without --cacert."""
    out = browser_outcome(page(site, "a", ws_url(site, site["token"], tls=True)), tmp_path)
    assert refused(out), out
    expect(probe(ws_url(site, site["token"], tls=True), "--origin", site["origin_a"],
                 "--send", "hello", "--expect-text", "hello"), "CERT_UNTRUSTED")


# --- refusals: the browser's connection fails; wsprobe names the refusal ------------------------

def test_browser_foreign_origin_is_refused(site, tmp_path, probe):
    assert raw_status(site, site["origin_b"], token=site["token"]) == 403
    out = browser_outcome(page(site, "b", ws_url(site, site["token"])), tmp_path)
    assert refused(out), out
    j = expect(probe(ws_url(site, site["token"]), "--origin", site["origin_b"], "--send",
                     "hello", "--expect-text", "hello"), "UPGRADE_AUTH")
    assert j["http"]["status"] == 403, show(j)


@pytest.mark.parametrize("which", ["none", "invalid"])
def test_browser_without_valid_token_is_refused(site, tmp_path, probe, which):
    token = None if which == "none" else site["bad"]
    assert raw_status(site, site["origin_a"], token=token) == 401
    out = browser_outcome(page(site, "a", ws_url(site, token)), tmp_path)
    assert refused(out), out
    j = expect(probe(ws_url(site, token), "--origin", site["origin_a"], "--send", "hello",
                     "--expect-text", "hello"), "UPGRADE_AUTH")
    assert j["http"]["status"] == 401, show(j)
