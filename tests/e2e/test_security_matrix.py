"""The mutation proof of the security suite (issue 5), as one table-driven test.

Against hardened `wsprobe serve` every applicable check holds; against serve with one
`--unsafe-*` switch, exactly the checks that the switch must trip fail, and every other check
keeps the verdict it had against the hardened server. Both ws:// and wss:// listeners are
probed (wss brings the tls.* and transport.* checks in). Serve and wsprobe share the test secret
through --jwt-secret-env; the secret and every token must stay out of the output.
"""
import json

import pytest

from conftest import run_wsprobe
from serve_helpers import SECRET, SECRET_ENV, start_serve

# Serve's limits, short so the suite stays fast; wsprobe is told the same limits to test.
# (64 connections per client leaves room for the checks that run side by side)
SERVE_LIMITS = ["--handshake-timeout", "1s", "--idle-timeout", "1s", "--jwt-leeway", "0s",
                "--max-conns-per-ip", "64"]
PROBE_LIMITS = ["--handshake-timeout", "1s", "--idle-timeout", "1s", "--jwt-leeway", "0s",
                "--max-conns-per-ip", "64", "--timeout", "2s"]

# What hardened serve must show for every check of the catalog (wss:// listener). Informational
# checks keep their documented verdict: serve accepts ?token= (auth.query_token warns), and
# serves a client without Origin (origin.missing passes, noting it).
HARDENED = {
    "auth.missing": "pass",
    "auth.unsigned": "pass",
    "auth.bad_signature": "pass",
    "auth.key_confusion": "not_applicable",  # HS256 endpoint
    "auth.header_injection": "pass",
    "auth.claims": "pass",
    "auth.weak_secret": "pass",
    "auth.query_token": "warn",
    "auth.expiry_on_open": "pass",
    "origin.foreign": "pass",
    "origin.bypass": "pass",
    "origin.missing": "pass",
    "input.xss": "pass",
    "input.malformed": "pass",
    "input.invalid_utf8": "pass",
    "input.framing": "pass",
    "limits.message_size": "pass",
    "limits.fragments": "pass",
    "limits.deflate_bomb": "pass",  # serve accepts permessage-deflate and caps what it inflates
    "limits.rate": "pass",
    "limits.connections": "pass",
    "limits.slow_handshake": "pass",
    "limits.idle": "pass",
    "tls.versions": "pass",
    "tls.certificate": "pass",
    "transport.plaintext": "pass",
    "transport.hsts": "pass",
    "handshake.hygiene": "pass",
    "handshake.version": "pass",
}

# Over plain ws:// on loopback the transport checks do not apply.
WS_ONLY_NA = {"tls.versions", "tls.certificate", "transport.plaintext", "transport.hsts"}

# The table: switch -> the checks it must trip (every one of them fails; nothing else moves).
MATRIX = [
    (None, set()),
    ("--unsafe-no-auth", {"auth.missing", "auth.unsigned", "auth.bad_signature",
                          "auth.header_injection", "auth.claims", "auth.expiry_on_open"}),
    ("--unsafe-accept-alg-none", {"auth.unsigned"}),
    ("--unsafe-skip-claims", {"auth.claims", "auth.expiry_on_open"}),
    ("--unsafe-any-origin", {"origin.foreign", "origin.bypass"}),
    ("--unsafe-no-sanitize", {"input.xss"}),
    ("--unsafe-no-limits", {"limits.message_size", "limits.fragments", "limits.rate",
                            "limits.connections", "limits.slow_handshake", "limits.idle",
                            "limits.deflate_bomb"}),  # the inflate cap is the message limit
    ("--unsafe-no-inflate-limit", {"limits.deflate_bomb"}),
]


def run_suite(srv, tls):
    r = run_wsprobe("security", srv.url(tls=tls), "--json", "--include-staging-only",
                    "--jwt-secret-env", SECRET_ENV, "--cacert", srv.ca, *PROBE_LIMITS,
                    env={SECRET_ENV: SECRET}, timeout=30)
    assert r.json is not None, str(r)
    return r


@pytest.mark.parametrize("switch,tripped", MATRIX, ids=[m[0] or "hardened" for m in MATRIX])
@pytest.mark.parametrize("tls", [True, False], ids=["wss", "ws"])
def test_mutation_matrix(tmp_path, switch, tripped, tls):
    args = SERVE_LIMITS + ([switch] if switch else [])
    srv = start_serve(tmp_path / "serve", *args, tls=True)
    try:
        r = run_suite(srv, tls)
    finally:
        srv.stop()
    got = {c["id"]: c["verdict"] for c in r["checks"]}
    assert set(got) == set(HARDENED), "the suite must run the whole catalog\n%s" % r
    expected = dict(HARDENED)
    if not tls:
        for cid in WS_ONLY_NA:
            expected[cid] = "not_applicable"
    for cid in tripped:
        expected[cid] = "fail"
    wrong = {cid: (got[cid], expected[cid]) for cid in got if got[cid] != expected[cid]}
    assert not wrong, "verdicts (got, expected): %s\n%s" % (
        wrong, json.dumps([c for c in r["checks"] if c["id"] in wrong], indent=1)[:6000])
    # every check that ran carries evidence; a failure names what was accepted
    for c in r["checks"]:
        assert c["ran"] is True
        assert isinstance(c["evidence"], dict)
        if c["verdict"] == "fail":
            assert c["message"]
    assert r.rc == (1 if tripped else 0), str(r)
    assert r["summary"]["failed"] == len(tripped)
    # the shared secret and every token (the baseline's and the forged ones) stay out
    for text in (r.stdout, r.stderr):
        assert SECRET not in text
        assert "eyJ" not in text
