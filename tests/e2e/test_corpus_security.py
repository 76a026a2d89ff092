"""Conformance corpus: the security suite's verdicts do not depend on how many checks run at
once (issue 10: "the suite's verdicts are the same at --parallel 1 and at the default").

Each peer of the corpus that echoes (so that the success marker, correlated by id with
`--marker-expect '/id={{sent./id}}'`, comes back to the connection that sent it) gets the
production-safe suite twice: once with every check alone (`--parallel 1`) and once at the
default. The verdict of every check must be the same in both runs. The peers accept anyone, so
the truth for the authentication checks is known in advance too: an endpoint that serves a
client without credentials fails `auth.missing` (shown by the raw client of corpus_peers.py
first).
"""
import pytest

from conftest import exit_codes
from corpus_peers import corpus, open_raw  # noqa: F401

EXIT = exit_codes()
MARKER = ["--marker-send", '{"type":"chat_message","content":"marker","id":"{{uuid}}"}',
          "--marker-expect", "/id={{sent./id}}", "--timeout", "2s"]


def verdicts(wsprobe, url, *extra):
    r = wsprobe("security", url, "--json", *MARKER, *extra, timeout=90)
    assert r.json is not None and r.rc in (0, 1), r
    return {c["id"]: c["verdict"] for c in r.json["checks"]}, r


def echo_peers(corpus):
    return {
        "node-ws": lambda: corpus.node_ws("echo").url("/"),
        "node-ws-greet": lambda: corpus.node_ws("greet").url("/"),
        "faye": lambda: corpus.faye().url("/"),
        "bun": lambda: corpus.bun().url("/"),
        "python-deflate": lambda: corpus.py_deflate().url("/"),
        "nginx-proxy": lambda: corpus.mgr.nginx("ws-proxy", corpus.node_ws("echo")).url("/"),
    }


@pytest.mark.parametrize("name", ["node-ws", "node-ws-greet", "faye", "bun", "python-deflate",
                                  "nginx-proxy"])
def test_security_verdicts_do_not_depend_on_parallelism(wsprobe, corpus, name):
    url = echo_peers(corpus)[name]()
    # the truth: the endpoint serves a client without any credential
    with open_raw(int(url.rsplit(":", 1)[1].split("/")[0])) as c:
        c.send_text('{"type":"chat_message","content":"hi","id":"x1"}')
        f = c.recv(3)
        while f is not None and b'"x1"' not in f.payload:
            f = c.recv(3)
        assert f is not None, "the peer did not echo the marker"
    alone, r1 = verdicts(wsprobe, url, "--parallel", "1")
    together, r2 = verdicts(wsprobe, url)
    assert alone == together, "--parallel 1:\n%s\ndefault:\n%s" % (r1, r2)
    assert alone.get("auth.missing") == "fail", r1
