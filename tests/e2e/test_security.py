"""End-to-end tests of `wsprobe security`: the catalog and its selection, exit codes, the
decision rules (a failed baseline is inconclusive, never pass; an endpoint that never answers
ends the suite in bounded time), JSON and JUnit shape, redaction of tokens, and the checks
against independent peers: Debian's python3-websockets servers written here, each with one
flaw (and one without), plus the hostile peer of tests/e2e/peers.

The mutation matrix against `wsprobe serve` is in test_security_matrix.py.
"""
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import PYTHON, read_ready, run_wsprobe, stop_process, _die_with_parent
from serve_helpers import SECRET, SECRET_ENV, OTHER_SECRET, start_serve

# The rows of SECURITY-CHECKS.md marked P1 or P2: the suite must have every one.
P1_P2 = {
    "auth.missing", "auth.unsigned", "auth.bad_signature", "auth.key_confusion",
    "auth.header_injection", "auth.claims", "auth.weak_secret", "auth.query_token",
    "origin.foreign", "origin.bypass", "origin.missing", "input.malformed",
    "input.invalid_utf8", "input.framing", "limits.message_size", "limits.fragments",
    "limits.deflate_bomb", "limits.slow_handshake", "limits.idle", "tls.versions",
    "tls.certificate", "transport.plaintext", "transport.hsts", "handshake.hygiene",
    "handshake.version",
}
STAGING_ONLY = {"auth.claims", "auth.expiry_on_open", "input.malformed", "input.xss",
                "limits.rate", "limits.connections"}
VERDICTS = {"pass", "fail", "warn", "inconclusive", "skip", "not_applicable"}

# ---------------------------------------------------------------------------------------------
# A python3-websockets chat server with one flaw at a time (or none).

FLAWED_SERVER = r'''
import argparse, asyncio, base64, hashlib, hmac, json, os, sys
import jwt, websockets

ap = argparse.ArgumentParser()
ap.add_argument("--flaw", default="none")
ap.add_argument("--secret-env")
ap.add_argument("--public-key")
a = ap.parse_args()
SECRET = os.environ[a.secret_env] if a.secret_env else None
PUB = open(a.public_key, "rb").read() if a.public_key else None

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def valid(tok):
    try:
        h64, p64, s64 = tok.split(".")
        hdr = json.loads(b64d(h64))
    except Exception:
        return False
    alg = str(hdr.get("alg", ""))
    if a.flaw == "alg_none" and alg.lower() == "none":
        return True                                   # FLAW: unsigned tokens accepted
    if a.flaw == "key_confusion" and alg == "HS256" and PUB:
        mac = hmac.new(PUB, (h64 + "." + p64).encode(), hashlib.sha256).digest()
        return hmac.compare_digest(mac, b64d(s64))    # FLAW: the public key as HMAC secret
    try:
        if PUB:
            jwt.decode(tok, PUB, algorithms=["RS256"])
        else:
            jwt.decode(tok, SECRET, algorithms=["HS256"])
        return True
    except Exception:
        return False

async def process_request(path, headers):
    if a.flaw == "leaky":
        # echoes the credential back in its refusal: wsprobe must redact it
        return (403, [("X-Seen", headers.get("Authorization", ""))],
                ("refused " + headers.get("Authorization", "")).encode())
    auth = headers.get("Authorization", "")
    if a.flaw != "no_auth" and not (auth.startswith("Bearer ") and valid(auth[7:])):
        return (401, [("WWW-Authenticate", "Bearer")], b"unauthorized\n")
    return None

async def handler(ws, path):
    async for msg in ws:
        try:
            m = json.loads(msg)
        except Exception:
            await ws.send(json.dumps({"type": "error", "error": "bad json"}))
            continue
        if isinstance(m, dict) and m.get("type") == "chat_message" and isinstance(m.get("content"), str):
            await ws.send(json.dumps({"type": "ack", "id": m.get("id")}))
        else:
            await ws.send(json.dumps({"type": "error", "error": "bad message"}))

async def main():
    # the allowed origin is the server's own http:// origin, known once it listens
    origins = None if a.flaw == "any_origin" else [None]              # FLAW: any origin
    max_size = None if a.flaw == "no_size_limit" else 65536           # FLAW: no size limit
    async with websockets.serve(handler, "127.0.0.1", 0, process_request=process_request,
                                origins=origins, max_size=max_size) as srv:
        port = srv.sockets[0].getsockname()[1]
        if origins is not None:
            origins.append("http://127.0.0.1:%d" % port)
        print("READY %d" % port, flush=True)
        await asyncio.sleep(120)

asyncio.run(main())
'''


class Flawed:
    def __init__(self, proc, port):
        self.proc = proc
        self.port = port

    def url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port


@pytest.fixture
def flawed(tmp_path):
    procs = []
    script = tmp_path / "flawed_server.py"
    script.write_text(FLAWED_SERVER)

    def start(flaw="none", public_key=None):
        cmd = [PYTHON, str(script), "--flaw", flaw]
        if public_key:
            cmd += ["--public-key", str(public_key)]
        else:
            cmd += ["--secret-env", SECRET_ENV]
        env = dict(os.environ, **{SECRET_ENV: SECRET})
        log = tmp_path / ("flawed-%s.err" % flaw)
        err = open(log, "wb")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                             env=env, preexec_fn=_die_with_parent)
        err.close()
        procs.append(p)
        port = read_ready(p)
        if port is None:
            pytest.fail("flawed server did not start:\n%s" % log.read_text()[-2000:])
        return Flawed(p, port)
    yield start
    for p in procs:
        stop_process(p)


def security(url, *args, env=None, timeout=30):
    full = {SECRET_ENV: SECRET}
    if env:
        full.update(env)
    r = run_wsprobe("security", url, "--json", *args, env=full, timeout=timeout)
    assert r.json is not None, str(r)
    return r


def verdicts(r):
    return {c["id"]: c["verdict"] for c in r["checks"]}


# ---------------------------------------------------------------------------------------------
# The catalog and selection

def test_list_has_every_p1_p2_check_with_its_flags():
    r = run_wsprobe("security", "--list", "--json")
    assert r.rc == 0, str(r)
    rows = {c["id"]: c for c in r.json}
    assert P1_P2 <= set(rows), "missing: %s" % (P1_P2 - set(rows))
    for cid, c in rows.items():
        assert c["group"] in {"auth", "origin", "input", "limits", "transport", "handshake"}
        assert c["priority"] in (1, 2, 3)
        assert c["prod_safe"] is (cid not in STAGING_ONLY), cid
    text = run_wsprobe("security", "--list")
    assert text.rc == 0 and "auth.missing" in text.stdout


def test_selection_groups_ids_and_the_staging_filter(tmp_path):
    srv = start_serve(tmp_path / "serve", tls=False)
    try:
        r = security(srv.url(), "--checks", "auth", "--jwt-secret-env", SECRET_ENV)
        ids = [c["id"] for c in r["checks"]]
        assert ids and all(i.startswith("auth.") for i in ids)
        assert "auth.claims" not in ids  # staging only, not asked for
        r = security(srv.url(), "--checks", "auth", "--include-staging-only",
                     "--jwt-secret-env", SECRET_ENV)
        assert "auth.claims" in [c["id"] for c in r["checks"]]
        r = security(srv.url(), "--checks", "origin.foreign,handshake.version",
                     "--jwt-secret-env", SECRET_ENV)
        assert [c["id"] for c in r["checks"]] == ["origin.foreign", "handshake.version"]
        assert r.rc == 0
    finally:
        srv.stop()


@pytest.mark.parametrize("args", [
    ["--checks", "auth.claims"],            # staging-only by id without the flag
    ["--checks", "nonsense"],               # neither id nor group
    ["--jwt-secret", "s3cr3t-on-argv"],     # secrets never on the command line
    ["--timeout", "soon"],
    ["--endpoint-max-message", "lots"],
    None,                                   # no URL at all
])
def test_usage_errors_exit_2(args):
    argv = ["security"] + (["ws://127.0.0.1:1/ws"] + args if args is not None else [])
    r = run_wsprobe(*argv)
    assert r.rc == 2, str(r)
    assert r.stdout == ""
    assert "s3cr3t-on-argv" not in r.stderr


# ---------------------------------------------------------------------------------------------
# Decision rules

def test_a_failed_baseline_is_inconclusive_never_pass(tmp_path):
    """wsprobe holds the wrong secret: every negative check's baseline is refused, so nothing
    may pass; the run exits 1."""
    srv = start_serve(tmp_path / "serve", tls=False)
    try:
        r = security(srv.url(), "--checks", "auth,origin,input,limits", "--jwt-secret-env",
                     "WRONG_SECRET", env={"WRONG_SECRET": OTHER_SECRET})
    finally:
        srv.stop()
    v = verdicts(r)
    negatives = [cid for cid in v if cid not in ("auth.weak_secret", "auth.key_confusion",
                                                   "limits.idle", "limits.slow_handshake")]
    assert negatives
    for cid in negatives:
        assert v[cid] in ("inconclusive", "not_applicable"), (cid, v[cid])
    inconclusive = [c for c in r["checks"] if c["verdict"] == "inconclusive"]
    assert inconclusive and all("baseline" in json.dumps(c["evidence"]) for c in inconclusive)
    assert r.rc == 1


def test_unreachable_endpoint_proves_nothing(refused_port):
    r = security("ws://127.0.0.1:%d/ws" % refused_port, "--jwt-secret-env", SECRET_ENV,
                 "--timeout", "1s")
    v = verdicts(r)
    assert "pass" not in {v[c] for c in v if c not in ("auth.weak_secret",)}, v
    assert r.rc == 1


def test_an_endpoint_that_never_answers_ends_in_bounded_time(peers):
    peer = peers.hostile("silent", hold=20)
    t0 = time.monotonic()
    r = security(peer.url("/ws"), "--jwt-secret-env", SECRET_ENV, "--timeout", "1s",
                 "--deadline", "10s", timeout=25)
    assert time.monotonic() - t0 < 20
    v = verdicts(r)
    assert all(v[c] != "pass" for c in v if c != "auth.weak_secret"), v
    assert r.rc == 1


@pytest.mark.parametrize("mode", ["bad-accept", "bad-subprotocol"])
def test_handshake_hygiene_fails_on_a_broken_101(peers, mode):
    peer = peers.hostile(mode)
    r = security(peer.url("/ws"), "--checks", "handshake.hygiene", "--timeout", "2s")
    c = r["checks"][0]
    assert c["verdict"] == "fail", str(r)
    assert c["class"] in ("HS_BAD_ACCEPT", "HS_NEGOTIATION")
    assert r.rc == 1


def test_json_and_junit_carry_the_evidence(tmp_path):
    srv = start_serve(tmp_path / "serve", tls=False)
    junit = tmp_path / "security.xml"
    try:
        r = security(srv.url(), "--jwt-secret-env", SECRET_ENV, "--junit", junit)
    finally:
        srv.stop()
    assert r.rc == 0, str(r)
    s = r["summary"]
    assert s["checks"] == len(r["checks"])
    verdicts = [c["verdict"] for c in r["checks"]]
    assert s["performed"] == sum(v in ("pass", "fail", "warn", "inconclusive") for v in verdicts)
    assert s["performed"] + s["skipped"] + s["not_applicable"] + s["not_started"] == s["checks"]
    for c in r["checks"]:
        assert c["verdict"] in VERDICTS
        assert c["prod_safe"] is True and c["priority"] in (1, 2, 3)
        assert isinstance(c["evidence"], dict)
        if c["verdict"] in ("pass", "fail", "warn"):
            assert c["evidence"], c["id"]
    missing = [c for c in r["checks"] if c["id"] == "auth.missing"][0]
    assert missing["evidence"]["no_token"]["status"] == 401
    assert missing["evidence"]["baseline_before"]["class"] == "OK"
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(r["checks"])
    props = {p.get("name") for p in root.iter("property")}
    assert "verdict" in props
    assert SECRET not in junit.read_text() and "eyJ" not in junit.read_text()


def test_skip_and_not_applicable_say_why(tmp_path):
    srv = start_serve(tmp_path / "serve", tls=False)
    try:
        r = security(srv.url(), "--checks", "limits.idle,limits.slow_handshake,auth.key_confusion,"
                     "tls.versions", "--jwt-secret-env", SECRET_ENV)
    finally:
        srv.stop()
    v = verdicts(r)
    assert v["limits.idle"] == "skip" and v["limits.slow_handshake"] == "skip"
    assert v["auth.key_confusion"] == "not_applicable" and v["tls.versions"] == "not_applicable"
    for c in r["checks"]:
        assert c["message"]
    assert r.rc == 0


def test_no_credential_cannot_prove_auth(tmp_path):
    """Without a credential the auth checks skip or are inconclusive; against a server that
    needs none, auth.missing fails."""
    srv = start_serve(tmp_path / "serve", tls=False)
    try:
        r = security(srv.url(), "--checks", "auth")
    finally:
        srv.stop()
    v = verdicts(r)
    assert v["auth.missing"] == "inconclusive"
    assert all(v[c] in ("skip", "inconclusive") for c in v), v
    srv = start_serve(tmp_path / "serve2", "--unsafe-no-auth", tls=False, auth=False)
    try:
        r = security(srv.url(), "--checks", "auth.missing")
    finally:
        srv.stop()
    assert verdicts(r)["auth.missing"] == "fail"
    assert r["checks"][0]["class"] == "AUTH_NOT_ENFORCED"


def test_token_in_query_is_reported(tmp_path):
    srv = start_serve(tmp_path / "serve", tls=False)
    try:
        r = security(srv.url(), "--checks", "auth.query_token,auth.missing", "--jwt-secret-env",
                     SECRET_ENV, "--auth-in", "query:token")
    finally:
        srv.stop()
    v = verdicts(r)
    assert v["auth.query_token"] == "warn"
    assert v["auth.missing"] == "pass"
    assert "eyJ" not in r.stdout


# ---------------------------------------------------------------------------------------------
# Independent peers: python3-websockets, one flaw each

FLAWS = [
    ("none", {}),
    ("any_origin", {"origin.foreign": "fail", "origin.bypass": "fail"}),
    ("alg_none", {"auth.unsigned": "fail"}),
    ("no_size_limit", {"limits.message_size": "fail", "limits.fragments": "fail",
                       "limits.deflate_bomb": "fail"}),
]
# what the flawless python server shows (it negotiates permessage-deflate, so the bomb applies;
# it refuses ?token=; no idle or handshake limit is given, so those checks skip)
PY_BASE = {
    "auth.missing": "pass", "auth.unsigned": "pass", "auth.bad_signature": "pass",
    "auth.key_confusion": "not_applicable", "auth.header_injection": "pass",
    "auth.weak_secret": "pass", "auth.query_token": "pass", "origin.foreign": "pass",
    "origin.bypass": "pass", "origin.missing": "pass", "input.invalid_utf8": "pass",
    "input.framing": "pass", "limits.message_size": "pass", "limits.fragments": "pass",
    "limits.deflate_bomb": "pass", "limits.slow_handshake": "skip", "limits.idle": "skip",
    "handshake.hygiene": "pass", "handshake.version": "pass",
}


@pytest.mark.parametrize("flaw,changes", FLAWS, ids=[f[0] for f in FLAWS])
def test_python_websockets_peers(flawed, flaw, changes):
    srv = flawed(flaw)
    r = security(srv.url(), "--checks", "auth,origin,input,limits,handshake", "--jwt-secret-env",
                 SECRET_ENV, "--origin", "http://127.0.0.1:%d" % srv.port, "--timeout", "2s")
    expected = dict(PY_BASE, **changes)
    got = verdicts(r)
    wrong = {c: (got.get(c), expected[c]) for c in expected if got.get(c) != expected[c]}
    assert not wrong, "verdicts (got, expected): %s\n%s" % (wrong, r.stdout[:8000])
    assert r.rc == (1 if changes else 0)


def test_key_confusion_on_an_rs256_peer(flawed, tmp_path):
    key = tmp_path / "rsa.pem"
    pub = tmp_path / "rsa.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)
    for flaw, want in (("none", "pass"), ("key_confusion", "fail")):
        srv = flawed(flaw, public_key=pub)
        r = security(srv.url(), "--checks", "auth.key_confusion,auth.bad_signature,auth.unsigned",
                     "--jwt-key-file", key, "--jwt-alg", "RS256", "--origin",
                     "http://127.0.0.1:%d" % srv.port)
        v = verdicts(r)
        assert v["auth.key_confusion"] == want, r.stdout[:6000]
        assert v["auth.bad_signature"] == "pass" and v["auth.unsigned"] == "pass", v


def test_forged_and_echoed_tokens_are_redacted(flawed):
    """A server that echoes the Authorization header in its refusal: neither the baseline token
    nor any forged token may reach the report."""
    srv = flawed("leaky")
    r = security(srv.url(), "--checks", "auth", "--jwt-secret-env", SECRET_ENV,
                 "--origin", "http://127.0.0.1:%d" % srv.port)
    for text in (r.stdout, r.stderr):
        assert "eyJ" not in text
        assert SECRET not in text


@pytest.mark.parametrize("mode", ["binary", "trickle", "endless-headers", "reset", "ssh",
                                  "bad-extension"])
def test_hostile_endpoints_never_crash_or_hang(peers, mode):
    """A broken endpoint makes checks fail or be inconclusive: the suite ends, in bounded
    time, with a report, and without a sanitizer finding (run_wsprobe checks stderr)."""
    peer = peers.hostile(mode, hold=15)
    t0 = time.monotonic()
    r = security(peer.url("/ws"), "--include-staging-only", "--jwt-secret-env", SECRET_ENV,
                 "--timeout", "1s", "--deadline", "8s", "--handshake-timeout", "1s",
                 "--idle-timeout", "1s", timeout=25)
    assert time.monotonic() - t0 < 20
    assert r.rc == 1, str(r)
    v = verdicts(r)
    # nothing that needs a working baseline may pass against a broken peer
    for cid in ("auth.missing", "auth.unsigned", "origin.foreign", "origin.bypass",
                "input.framing", "limits.message_size"):
        assert v[cid] in ("inconclusive", "fail"), (cid, v[cid])


def test_the_suite_deadline_is_a_hard_bound(peers):
    """--deadline ends the run near it even when every check is already running and each phase
    may take longer (--timeout 10s): checks cut short are inconclusive, never pass."""
    peer = peers.hostile("silent", hold=20)
    t0 = time.monotonic()
    r = security(peer.url("/ws"), "--include-staging-only", "--jwt-secret-env", SECRET_ENV,
                 "--timeout", "10s", "--deadline", "2s", "--parallel", "64", timeout=25)
    took = time.monotonic() - t0
    assert took < 5, "the suite took %.1fs with --deadline 2s" % took
    v = verdicts(r)
    assert all(v[c] != "pass" for c in v if c != "auth.weak_secret"), v
    assert r.rc == 1


def test_limits_a_python_peer_does_not_enforce(flawed):
    """python3-websockets closes neither an idle connection nor a request that never ends
    within half a second (its defaults are far longer): both limit checks must fail."""
    srv = flawed("none")
    r = security(srv.url(), "--checks", "limits.idle,limits.slow_handshake", "--jwt-secret-env",
                 SECRET_ENV, "--idle-timeout", "500ms", "--handshake-timeout", "500ms")
    v = verdicts(r)
    assert v == {"limits.idle": "fail", "limits.slow_handshake": "fail"}, r.stdout[:4000]
    assert r.rc == 1
