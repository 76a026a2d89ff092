"""`wsprobe token` against an independent JWT implementation (Debian's python3-jwt).

Tokens minted by wsprobe verify with PyJWT for every algorithm, with keys made by the openssl
command line; claims come out typed; --jwt-ttl gives exp - iat. Every bad input exits 2 with a
"wsprobe: token: " message that names the option, prints nothing on stdout, and never shows the
secret (or a key's bytes) anywhere.
"""

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import jwt
import pytest

ROOT = Path(__file__).resolve().parents[2]
WSPROBE = os.environ.get("WSPROBE") or str(ROOT / "build" / "wsprobe")

SECRET = "e2e-Secret-Value-9f8e7d6c5b4a-do-not-print"
# a secret that is also a valid variable name, as when --jwt-secret-env "$SECRET" is typed
WORD_SECRET = "correcthorsebatterystaple"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$")


def run(*args, env=None):
    """Run `wsprobe token ARGS` with a minimal environment plus `env`."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(env or {})
    return subprocess.run([WSPROBE, "token", *args], env=e, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def mint(*args, env=None):
    p = run(*args, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert TOKEN_RE.match(p.stdout), p.stdout
    return p.stdout.strip()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Keys made by the openssl CLI: RSA 2048 and 1024, EC P-256 and P-384, Ed25519, a
    certificate, an encrypted key, and the public halves."""
    d = tmp_path_factory.mktemp("keys")
    k = {name: d / f"{name}.pem" for name in
         ("rsa", "rsa_pub", "rsa1024", "ec", "ec_trad", "ec_pub", "ec384", "ed25519", "cert",
          "encrypted")}
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k["rsa"])
    openssl("pkey", "-in", k["rsa"], "-pubout", "-out", k["rsa_pub"])
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
            "-out", k["rsa1024"])
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", k["ec"])
    # the traditional form, with an EC PARAMETERS block before the key
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", k["ec_trad"])
    openssl("pkey", "-in", k["ec"], "-pubout", "-out", k["ec_pub"])
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
            "-out", k["ec384"])
    openssl("genpkey", "-algorithm", "ED25519", "-out", k["ed25519"])
    openssl("req", "-x509", "-key", k["rsa"], "-subj", "/CN=wsprobe-test", "-days", "1",
            "-out", k["cert"])
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256",
            "-pass", "pass:" + SECRET, "-out", k["encrypted"])
    k["dir"] = d
    return k


@pytest.fixture()
def secret_file(tmp_path):
    p = tmp_path / "secret"
    p.write_text(SECRET + "\n")
    return p


# ---- tokens that verify with PyJWT ----

@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_from_env_verifies(alg):
    tok = mint("--jwt-alg", alg, "--jwt-secret-env", "APP_SECRET", "--jwt-claim", "sub=e2e",
               env={"APP_SECRET": SECRET})
    assert jwt.get_unverified_header(tok) == {"alg": alg, "typ": "JWT"}
    claims = jwt.decode(tok, SECRET, algorithms=[alg])
    assert claims["sub"] == "e2e"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tok, SECRET + "x", algorithms=[alg])


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_from_file_drops_one_newline(alg, secret_file):
    tok = mint("--jwt-alg", alg, "--jwt-secret-file", str(secret_file))
    jwt.decode(tok, SECRET, algorithms=[alg])


def test_secret_from_a_pipe():
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    p = subprocess.run([WSPROBE, "token", "--jwt-secret-file", "-"], env=e,
                       input=SECRET + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    jwt.decode(p.stdout.strip(), SECRET, algorithms=["HS256"])


def test_secret_file_keeps_all_but_one_newline(tmp_path):
    p = tmp_path / "s"
    p.write_bytes(SECRET.encode() + b"\n\n")
    tok = mint("--jwt-secret-file", str(p))
    jwt.decode(tok, SECRET + "\n", algorithms=["HS256"])


@pytest.mark.parametrize("alg,key,pub", [("RS256", "rsa", "rsa_pub"), ("ES256", "ec", "ec_pub")])
def test_asymmetric_verifies(keys, alg, key, pub):
    tok = mint("--jwt-alg", alg, "--jwt-key-file", str(keys[key]), "--jwt-claim", "sub=e2e")
    assert jwt.get_unverified_header(tok)["alg"] == alg
    claims = jwt.decode(tok, keys[pub].read_text(), algorithms=[alg])
    assert claims["sub"] == "e2e"


def test_es256_signature_is_jose_r_s(keys):
    """RFC 7518 section 3.4: 64 bytes R || S, not DER; many tokens, so that short R or S
    values (a leading zero byte) would show."""
    pub = keys["ec_pub"].read_text()
    for i in range(40):
        tok = mint("--jwt-alg", "ES256", "--jwt-key-file", str(keys["ec"]),
                   "--jwt-claim", f"n={i}")
        assert len(b64url_decode(tok.split(".")[2])) == 64
        jwt.decode(tok, pub, algorithms=["ES256"])


def test_alg_inferred_from_key(keys):
    tok = mint("--jwt-key-file", str(keys["rsa"]))
    assert jwt.get_unverified_header(tok)["alg"] == "RS256"
    jwt.decode(tok, keys["rsa_pub"].read_text(), algorithms=["RS256"])
    tok = mint("--jwt-key-file", str(keys["ec_trad"]))
    assert jwt.get_unverified_header(tok)["alg"] == "ES256"
    pub = subprocess.run(["openssl", "pkey", "-in", str(keys["ec_trad"]), "-pubout"],
                         check=True, capture_output=True, text=True).stdout
    jwt.decode(tok, pub, algorithms=["ES256"])


# ---- claims ----

def test_typed_claims():
    tok = mint("--jwt-secret-env", "S",
               "--jwt-claim", "int=42", "--jwt-claim", "neg=-7", "--jwt-claim", "float=1.5",
               "--jwt-claim", "yes=true", "--jwt-claim", "no=false", "--jwt-claim", "nil=null",
               "--jwt-claim", 'obj={"roles":["admin","ops"],"n":{"deep":1}}',
               "--jwt-claim", "arr=[1,\"two\",3.0]", "--jwt-claim", 'quoted="42"',
               "--jwt-claim", "text=hello world", "--jwt-claim", "zip=007",
               "--jwt-claim", "empty=", "--jwt-claim", "eq=a=b", "--jwt-claim", "sub=bot",
               env={"S": SECRET})
    c = jwt.decode(tok, SECRET, algorithms=["HS256"])
    assert c["int"] == 42 and type(c["int"]) is int
    assert c["neg"] == -7
    assert c["float"] == 1.5 and type(c["float"]) is float
    assert c["yes"] is True and c["no"] is False and c["nil"] is None
    assert c["obj"] == {"roles": ["admin", "ops"], "n": {"deep": 1}}
    assert c["arr"] == [1, "two", 3.0]
    assert c["quoted"] == "42"
    assert c["text"] == "hello world"
    assert c["zip"] == "007"
    assert c["empty"] == ""
    assert c["eq"] == "a=b"
    # given claims first, in order, then the computed ones
    payload = json.loads(b64url_decode(tok.split(".")[1]))
    assert list(payload)[:3] == ["int", "neg", "float"]
    assert list(payload)[-2:] == ["iat", "exp"]


@pytest.mark.parametrize("ttl,seconds", [("90s", 90), ("5m", 300), ("2h", 7200), ("1", 1)])
def test_ttl_gives_exp_minus_iat(ttl, seconds):
    tok = mint("--jwt-secret-env", "S", "--jwt-ttl", ttl, env={"S": SECRET})
    # the lifetime is what is checked, not whether it is still valid: a 1 s token may well have
    # expired by now on a loaded machine (seen under ASan with two workers)
    c = jwt.decode(tok, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert c["exp"] - c["iat"] == seconds


def test_default_lifetime_and_opt_outs():
    c = jwt.decode(mint("--jwt-secret-env", "S", env={"S": SECRET}), SECRET,
                   algorithms=["HS256"])
    assert c["exp"] - c["iat"] == 300
    tok = mint("--jwt-secret-env", "S", "--no-exp", "--no-iat", "--jwt-claim", "a=1",
               env={"S": SECRET})
    assert jwt.decode(tok, SECRET, algorithms=["HS256"]) == {"a": 1}


def test_negative_ttl_mints_expired_token():
    tok = mint("--jwt-secret-env", "S", "--jwt-ttl", "-1h", env={"S": SECRET})
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(tok, SECRET, algorithms=["HS256"])


def test_nbf_offset():
    tok = mint("--jwt-secret-env", "S", "--jwt-nbf", "10m", env={"S": SECRET})
    with pytest.raises(jwt.ImmatureSignatureError):
        jwt.decode(tok, SECRET, algorithms=["HS256"])
    c = jwt.decode(tok, SECRET, algorithms=["HS256"], options={"verify_nbf": False})
    assert c["nbf"] - c["iat"] == 600
    c = jwt.decode(mint("--jwt-secret-env", "S", "--jwt-nbf", "-30s", env={"S": SECRET}),
                   SECRET, algorithms=["HS256"])
    assert c["nbf"] - c["iat"] == -30


def test_jti_and_kid():
    a = mint("--jwt-secret-env", "S", "--jwt-jti", "--jwt-kid", "key-2024", env={"S": SECRET})
    b = mint("--jwt-secret-env", "S", "--jwt-jti", env={"S": SECRET})
    ca = jwt.decode(a, SECRET, algorithms=["HS256"])
    cb = jwt.decode(b, SECRET, algorithms=["HS256"])
    assert re.fullmatch(r"[0-9a-f]{32}", ca["jti"])
    assert ca["jti"] != cb["jti"]
    assert jwt.get_unverified_header(a) == {"alg": "HS256", "typ": "JWT", "kid": "key-2024"}
    c = jwt.decode(mint("--jwt-secret-env", "S", "--jwt-jti=base64url", env={"S": SECRET}),
                   SECRET, algorithms=["HS256"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", c["jti"])
    assert len(b64url_decode(c["jti"])) == 16


def test_explicit_registered_claims():
    tok = mint("--jwt-secret-env", "S", "--jwt-claim", "iat=1000", "--jwt-claim", "exp=4102444800",
               "--jwt-claim", "aud=chat", env={"S": SECRET})
    c = jwt.decode(tok, SECRET, algorithms=["HS256"], audience="chat")
    assert c["iat"] == 1000 and c["exp"] == 4102444800


def test_help():
    p = run("--help")
    assert p.returncode == 0
    for opt in ("--jwt-alg", "--jwt-secret-env", "--jwt-secret-file", "--jwt-key-file",
                "--jwt-claim", "--jwt-ttl", "--jwt-nbf", "--no-iat", "--jwt-jti", "--jwt-kid"):
        assert opt in p.stdout
    assert "--jwt-secret " not in p.stdout


# ---- bad input: exit 2, the option named, nothing on stdout, the secret never shown ----

def bad_cases(k, tmp):
    """(id, args, env, words the message must contain). Each case has the secret somewhere
    within reach: in the environment, in a file, or typed where it does not belong."""
    empty = tmp / "empty"
    empty.write_text("")
    newline_only = tmp / "newline"
    newline_only.write_text("\n")
    not_pem = tmp / "not.pem"
    not_pem.write_text(SECRET + "\n")
    broken = tmp / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\n" + SECRET + "\n-----END PRIVATE KEY-----\n")
    unreadable = tmp / "unreadable"
    unreadable.write_text(SECRET)
    unreadable.chmod(0)  # root reads it anyway, and then it is not a PEM file: still exit 2
    env = {"S": SECRET, "EMPTY": "", "PEM": k["rsa_pub"].read_text()}
    s = ["--jwt-secret-env", "S"]
    return [
        ("no-secret", [], env, ["--jwt-secret-env", "--jwt-secret-file"]),
        ("env-unset", ["--jwt-secret-env", "NOPE_UNSET"], env, ["--jwt-secret-env", "not set"]),
        ("env-empty", ["--jwt-secret-env", "EMPTY"], env, ["--jwt-secret-env", "empty"]),
        ("env-name-is-secret", ["--jwt-secret-env", SECRET], env, ["--jwt-secret-env"]),
        ("env-name-is-word-secret", ["--jwt-secret-env", WORD_SECRET], env,
         ["--jwt-secret-env", "not set"]),
        ("env-and-file", s + ["--jwt-secret-file", str(not_pem)], env,
         ["--jwt-secret-env", "--jwt-secret-file"]),
        ("secret-file-missing", ["--jwt-secret-file", str(tmp / "nope")], env,
         ["--jwt-secret-file", "cannot open"]),
        ("secret-file-dir", ["--jwt-secret-file", str(tmp)], env,
         ["--jwt-secret-file", "is a directory"]),
        ("secret-file-endless", ["--jwt-secret-file", "/dev/zero"], env,
         ["--jwt-secret-file", "is a device"]),
        ("secret-file-empty", ["--jwt-secret-file", str(empty)], env,
         ["--jwt-secret-file", "empty"]),
        ("secret-file-newline", ["--jwt-secret-file", str(newline_only)], env,
         ["--jwt-secret-file", "empty"]),
        ("secret-is-pem", ["--jwt-secret-env", "PEM"], env, ["--jwt-secret-env", "PEM"]),
        ("secret-option", ["--jwt-secret", SECRET], env, ["--jwt-secret", "command line"]),
        ("secret-option-eq", ["--jwt-secret=" + SECRET], env, ["--jwt-secret", "command line"]),
        ("secret-positional", s + [SECRET], env, ["not an option"]),
        ("unknown-option", s + ["--jwt-frobnicate=" + SECRET], env,
         ["--jwt-frobnicate", "unknown option"]),
        ("value-missing", ["--jwt-secret-env"], env, ["--jwt-secret-env", "needs a value"]),
        ("alg-none", s + ["--jwt-alg", "none"], env, ["--jwt-alg"]),
        ("alg-unknown", s + ["--jwt-alg", "PS256"], env, ["--jwt-alg", "unknown algorithm"]),
        ("alg-lowercase", s + ["--jwt-alg", "hs256"], env, ["--jwt-alg"]),
        ("hs-with-key-file", ["--jwt-alg", "HS256", "--jwt-key-file", str(k["rsa"])], env,
         ["--jwt-key-file"]),
        ("rs-with-secret", s + ["--jwt-alg", "RS256"], env, ["--jwt-secret-env", "--jwt-key-file"]),
        ("rs-without-key", ["--jwt-alg", "RS256"], env, ["--jwt-key-file"]),
        ("key-file-missing", ["--jwt-key-file", str(tmp / "nope.pem")], env,
         ["--jwt-key-file", "cannot open"]),
        ("key-file-unreadable", ["--jwt-key-file", str(unreadable)], env,
         ["--jwt-key-file", str(unreadable)]),
        ("key-rsa-for-es256", ["--jwt-alg", "ES256", "--jwt-key-file", str(k["rsa"])], env,
         ["--jwt-key-file", "RSA", "ES256"]),
        ("key-ec-for-rs256", ["--jwt-alg", "RS256", "--jwt-key-file", str(k["ec"])], env,
         ["--jwt-key-file", "EC", "RS256"]),
        ("key-p384", ["--jwt-alg", "ES256", "--jwt-key-file", str(k["ec384"])], env,
         ["--jwt-key-file", "P-256"]),
        ("key-ed25519", ["--jwt-key-file", str(k["ed25519"])], env, ["--jwt-key-file", "Ed25519"]),
        ("key-rsa1024", ["--jwt-key-file", str(k["rsa1024"])], env, ["--jwt-key-file", "2048"]),
        ("key-certificate", ["--jwt-key-file", str(k["cert"])], env,
         ["--jwt-key-file", "certificate"]),
        ("key-public", ["--jwt-alg", "RS256", "--jwt-key-file", str(k["rsa_pub"])], env,
         ["--jwt-key-file", "public key"]),
        ("key-encrypted", ["--jwt-key-file", str(k["encrypted"])], env,
         ["--jwt-key-file", "encrypted"]),
        ("key-not-pem", ["--jwt-key-file", str(not_pem)], env, ["--jwt-key-file", "not a PEM"]),
        ("key-broken-pem", ["--jwt-key-file", str(broken)], env, ["--jwt-key-file"]),
        ("claim-bad-json", s + ["--jwt-claim", 'ctx={"k":"' + SECRET + '"'], env,
         ["--jwt-claim", "not valid JSON"]),
        ("claim-bad-array", s + ["--jwt-claim", "roles=[admin"], env,
         ["--jwt-claim", "not valid JSON"]),
        ("claim-no-equals", s + ["--jwt-claim", SECRET], env, ["--jwt-claim", "K=V"]),
        ("claim-twice", s + ["--jwt-claim", "a=1", "--jwt-claim", "a=2"], env,
         ["--jwt-claim", "twice"]),
        ("claim-conflict", s + ["--jwt-ttl", "5m", "--jwt-claim", "exp=1"], env,
         ["--jwt-claim", "--jwt-ttl"]),
        ("ttl-bad", s + ["--jwt-ttl", "five minutes"], env, ["--jwt-ttl"]),
        ("ttl-subsecond", s + ["--jwt-ttl", "1500ms"], env, ["--jwt-ttl", "whole seconds"]),
        ("ttl-and-no-exp", s + ["--jwt-ttl", "5m", "--no-exp"], env, ["--jwt-ttl", "--no-exp"]),
        ("nbf-bad", s + ["--jwt-nbf", "tomorrow"], env, ["--jwt-nbf"]),
        ("jti-format", s + ["--jwt-jti=uuid"], env, ["--jwt-jti"]),
        ("flag-with-value", s + ["--no-iat=" + SECRET], env, ["--no-iat", "takes no value"]),
    ]


def test_bad_input_exits_2_naming_the_option(keys, tmp_path):
    for name, args, env, words in bad_cases(keys, tmp_path):
        p = run(*args, env=env)
        assert p.returncode == 2, (name, p.returncode, p.stderr)
        assert p.stdout == "", (name, p.stdout)
        assert p.stderr.startswith("wsprobe: token: "), (name, p.stderr)
        for w in words:
            assert w in p.stderr, (name, w, p.stderr)
        assert SECRET not in p.stderr and SECRET[:12] not in p.stderr, (name, p.stderr)
        assert WORD_SECRET not in p.stderr, (name, p.stderr)
        assert "MII" not in p.stderr, (name, p.stderr)  # no key material
        assert "AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr


def test_success_prints_only_the_token(keys):
    """The token is the one thing printed, on stdout; the secret is not in it in clear."""
    p = run("--jwt-secret-env", "S", "--jwt-claim", "sub=x", env={"S": SECRET})
    assert p.returncode == 0 and p.stderr == ""
    assert TOKEN_RE.match(p.stdout)
    assert SECRET not in p.stdout
