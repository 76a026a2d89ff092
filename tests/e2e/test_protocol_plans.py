"""Plans that speak the protocols (docs/plans.md "Socket.IO and GraphQL"): an environment's
`protocol:`, `namespace:`, `connect_payload:` and credential placed by `auth.in`, and a
conversation's ordered `steps:` (emit, emit_ack, expect_event, subscribe, expect_complete and
the expectations they feed), run by `wsprobe run` against npm socket.io
(tests/node/sio_app_server.js) and npm graphql-ws (tests/node/gql_server.js); and the plan
errors, located and with exit 2 before any connection, for steps an environment cannot speak.

The verdicts asserted here are the probe's (tests/e2e/test_protocols.py shows each on the wire
with the command line); these tests assert that a plan reaches the same ones: the run's JSON
report (verdict, class, message, evidence, transcript) and its exit code.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_protocol_plans.py
"""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import check_schema, exit_codes, run_wsprobe
from corpus_peers import corpus  # noqa: F401  (fixture)

EXIT = exit_codes()
# The test servers' own token (tests/node/*.js), handed over in the environment as a pipeline
# would: the plans name the variable, never the value.
TOKEN_VAR = "WSPROBE_E2E_PROTO_TOKEN"
TOKEN_ENV = {TOKEN_VAR: "s3cret"}


def write_plan(tmp_path, text, name="plan.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def run_plan(tmp_path, text, env_name="local", *args, env=None, timeout=60):
    """Run the plan with --json=FILE; the report (or None when the run wrote none) and the
    result."""
    plan = write_plan(tmp_path, text)
    report = tmp_path / "report.json"
    if report.exists():
        report.unlink()
    r = run_wsprobe("run", plan, "--env", env_name, "--json=%s" % report, *args, env=env,
                    timeout=timeout)
    j = json.loads(report.read_text()) if report.exists() else None
    if j is not None:
        check_schema(j, str(r))
    return r, j


def checks(j):
    return {c["id"]: c for c in j["checks"]}


def sio_env(port, extra=""):
    return """
environments:
  local:
    url: ws://127.0.0.1:%d/
    protocol: socketio
    timeout: 5s
%s""" % (port, extra)


def gql_env(port, extra="    auth: {token_env: %s, in: init-payload}\n" % TOKEN_VAR):
    return """
environments:
  local:
    url: ws://127.0.0.1:%d/graphql
    protocol: graphql
    timeout: 5s
%s""" % (port, extra)


# ---------------------------------------------------------------------------------------------
# Socket.IO

def test_socketio_plan_event_and_ack_pass(corpus, tmp_path):
    app = corpus.sio_app()
    junit = tmp_path / "r.xml"
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - connect
  - conversation:
      name: greet-and-add
      steps:
        - expect_event: hello
        - expect: {json: {"/0/text": "hi"}}
        - emit_ack: {event: add, args: [2, 3]}
        - expect: {json: {"/0/sum": 5}}
""", "local", "--junit", junit)
    assert r.rc == 0, r
    assert j["ok"] is True and j["exit_code"] == 0, j
    c = checks(j)["greet-and-add"]
    assert (c["verdict"], c["class"]) == ("pass", "OK"), c
    assert c["evidence"]["steps"] == 4
    assert c["evidence"]["probe"]["class"] == "OK"
    assert c["evidence"]["status"] == 101
    # each step under its kind, in the order written
    kinds = re.findall(r"step (\d+) (\w+(?: json)?): ok", c["transcript"])
    assert kinds == [("1", "expect_event"), ("2", "expect json"), ("3", "emit_ack"),
                     ("4", "expect json")], c["transcript"]
    assert "step 3 emit_ack: ok - acknowledged" in c["transcript"], c["transcript"]
    assert checks(j)["connect"]["verdict"] == "pass"
    cases = {tc.get("name"): tc for tc in ET.parse(junit).getroot().iter("testcase")}
    assert cases["greet-and-add"].find("failure") is None
    assert cases["greet-and-add"].find("error") is None


def test_socketio_emit_forms_and_correlation(corpus, tmp_path):
    """The short form 'NAME JSON', a YAML list spread as several arguments, a plain string as
    one, and a JSON text with a placeholder whose value the expectation correlates with."""
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - conversation:
      name: forms
      steps:
        - emit: 'echo {"a": 1}'
        - expect_event: echo
        - expect: {json: {"/0/a": 1}}
        - emit: {event: echo, args: [1, {b: true}]}
        - expect_event: echo
        - expect: {json: {"/0": 1, "/1/b": true}}
        - emit: {event: echo, args: hello}
        - expect_event: echo
        - expect: {json: {"": ["hello"]}}
        - emit: {event: echo, args: '{"id": "{{uuid}}"}'}
        - expect_event: echo
        - expect: {json: {"/0/id": "{{sent./0/id}}"}}
        - ping
""")
    assert r.rc == 0, r
    c = checks(j)["forms"]
    assert (c["verdict"], c["class"], c["evidence"]["steps"]) == ("pass", "OK", 13), c


def test_socketio_correlation_can_fail(corpus, tmp_path):
    """The correlated value is really compared: the echo's id is not what was sent at /0/n."""
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - conversation:
      name: forms
      within: 2s
      steps:
        - emit: {event: echo, args: '{"id": "{{uuid}}", "n": "other"}'}
        - expect_event: echo
        - expect: {json: {"/0/id": "{{sent./0/n}}"}}
""")
    assert r.rc == 1, r
    c = checks(j)["forms"]
    assert (c["verdict"], c["class"]) == ("fail", "WS_EXPECT_MISMATCH"), c


def test_socketio_wrong_ack_value_fails(corpus, tmp_path):
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - conversation:
      name: add
      within: 3s
      steps:
        - emit_ack: add [2, 3]
        - expect: {json: {"/0/sum": 6}}
""")
    assert r.rc == 1, r
    assert j["ok"] is False and j["exit_code"] == 1
    c = checks(j)["add"]
    assert (c["verdict"], c["class"]) == ("fail", "WS_EXPECT_MISMATCH"), c
    assert "/0/sum" in c["message"] and "step 2" in c["message"], c
    assert '{"sum":5}' in c["message"], c  # what the ack carried
    assert j["summary"]["failed"] == 1


def test_socketio_namespace_refused_without_token(corpus, tmp_path):
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port, "    namespace: /chat\n") + """
checks:
  - connect
  - conversation:
      name: join
      steps:
        - emit_ack: {event: join, args: lobby}
        - expect: {json: {"/0/joined": lobby}}
""")
    assert r.rc == 1, r
    for cid in ("connect", "join"):
        c = checks(j)[cid]
        assert (c["verdict"], c["class"]) == ("fail", "APP_AUTH_REFUSED"), c
        assert "/chat" in c["message"], c
        assert c["hint"], c


def test_socketio_namespace_with_token_from_environment(corpus, tmp_path):
    """The token from the variable auth.token_env names, put in the CONNECT's auth beside the
    connect_payload the plan writes; the plan itself holds no secret."""
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port, """    namespace: /chat
    connect_payload: {client: e2e}
    auth: {token_env: %s, in: socketio-auth}
""" % TOKEN_VAR) + """
checks:
  - conversation:
      name: join
      steps:
        - emit_ack: {event: join, args: lobby}
        - expect: {json: {"/0/joined": lobby}}
  - concurrent:
      connections: 3
      each: join
""", env=TOKEN_ENV)
    assert r.rc == 0, r
    c = checks(j)
    assert (c["join"]["verdict"], c["join"]["class"]) == ("pass", "OK"), c["join"]
    assert c["concurrent"]["verdict"] == "pass", c["concurrent"]
    assert (c["concurrent"]["evidence"]["connections"],
            c["concurrent"]["evidence"]["succeeded"]) == (3, 3)
    assert "s3cret" not in json.dumps(j) and "s3cret" not in r.stdout


def test_socketio_inline_concurrent_steps(corpus, tmp_path):
    app = corpus.sio_app()
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - concurrent:
      connections: 4
      each:
        steps:
          - emit_ack: {event: add, args: [20, 22]}
          - expect: {json: {"/0/sum": 42}}
""")
    assert r.rc == 0, r
    c = checks(j)["concurrent"]
    assert (c["verdict"], c["evidence"]["succeeded"]) == ("pass", 4), c


# ---------------------------------------------------------------------------------------------
# GraphQL

def test_graphql_subscription_plan_passes(corpus, tmp_path):
    gql = corpus.gql()
    r, j = run_plan(tmp_path, gql_env(gql.port) + """
checks:
  - conversation:
      name: count
      steps:
        - subscribe:
            query: 'subscription ($to: Int) { count(to: $to) }'
            variables: {to: 3}
        - expect: {json: {"/data/count": 1}}
        - expect: {json: {"/data/count": 2}}
        - expect: {json: {"/data/count": 3}}
        - expect_complete: true
""", env=TOKEN_ENV)
    assert r.rc == 0, r
    c = checks(j)["count"]
    assert (c["verdict"], c["class"], c["evidence"]["steps"]) == ("pass", "OK", 5), c
    kinds = re.findall(r"step \d+ (\w+(?: json)?): ok", c["transcript"])
    assert kinds == ["subscribe", "expect json", "expect json", "expect json",
                     "expect_complete"], c["transcript"]
    assert "s3cret" not in json.dumps(j)


def test_graphql_wrong_value_fails(corpus, tmp_path):
    gql = corpus.gql()
    r, j = run_plan(tmp_path, gql_env(gql.port) + """
checks:
  - conversation:
      name: count
      within: 3s
      steps:
        - subscribe: 'subscription { count(to: 2) }'
        - expect: {json: {"/data/count": 1}}
        - expect: {json: {"/data/count": 7}}
""", env=TOKEN_ENV)
    assert r.rc == 1, r
    c = checks(j)["count"]
    assert (c["verdict"], c["class"]) == ("fail", "WS_EXPECT_MISMATCH"), c
    assert "step 3" in c["message"], c


def test_graphql_query_error_is_app_error(corpus, tmp_path):
    gql = corpus.gql()
    r, j = run_plan(tmp_path, gql_env(gql.port) + """
checks:
  - conversation:
      name: boom
      steps:
        - subscribe: '{ boom }'
        - expect: {json: {"/data/boom": "never"}}
  - conversation:
      name: hello
      steps:
        - subscribe: {query: '{ hello }'}
        - expect: {json: {"/data/hello": world}}
        - expect_complete
""", env=TOKEN_ENV)
    assert r.rc == 1, r
    c = checks(j)
    assert (c["boom"]["verdict"], c["boom"]["class"]) == ("fail", "APP_ERROR"), c["boom"]
    assert "boom failed" in c["boom"]["message"], c["boom"]
    assert (c["hello"]["verdict"], c["hello"]["class"]) == ("pass", "OK"), c["hello"]


def test_graphql_refused_without_init_payload_token(corpus, tmp_path):
    gql = corpus.gql()
    r, j = run_plan(tmp_path, gql_env(gql.port, "") + """
checks:
  - conversation:
      steps:
        - subscribe: '{ hello }'
        - expect: {json: {"/data/hello": world}}
""")
    assert r.rc == 1, r
    c = checks(j)["conversation"]
    assert (c["verdict"], c["class"]) == ("fail", "APP_AUTH_REFUSED"), c


# ---------------------------------------------------------------------------------------------
# Plan errors: exit 2, located, before any connection (the URLs point at a closed port; a run
# that connected would fail with TCP_REFUSED and exit 1 instead)

def plan_error(tmp_path, text, env=None, junit=None):
    args = ("--junit", junit) if junit else ()
    r, j = run_plan(tmp_path, text, "local", *args, env=env)
    assert r.rc == EXIT["USAGE"] == 2, r
    assert j is None, j  # no check ran, no report
    m = re.search(r"plan\.yaml:(\d+):(\d+): (.*)", r.stderr)
    assert m, r.stderr
    return int(m.group(1)), m.group(3)


def test_emit_without_protocol_is_a_usage_error(tmp_path, refused_port):
    junit = tmp_path / "r.xml"
    line, msg = plan_error(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/
checks:
  - conversation:
      name: greet
      steps:
        - emit: {event: add, args: [1, 2]}
""" % refused_port, junit=junit)
    assert line == 6, msg  # the check
    assert "greet" in msg and "step 1 (emit)" in msg and "Socket.IO" in msg, msg
    assert "protocol:" in msg, msg
    # the JUnit file says why nothing ran
    err = ET.parse(junit).getroot().find(".//testcase/error")
    assert err is not None and err.get("type") == "USAGE", ET.tostring(ET.parse(junit).getroot())


def test_emit_refused_on_any_environment_without_the_protocol(tmp_path, refused_port):
    """Checked on every environment, as its keys are: running the Socket.IO one does not hide
    that the other cannot run the plan."""
    _, msg = plan_error(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/
    protocol: socketio
  other:
    url: ws://127.0.0.1:%d/graphql
    protocol: graphql
checks:
  - conversation:
      steps:
        - expect_event: hello
""" % (refused_port, refused_port))
    assert "environment other" in msg and "step 1 (expect_event)" in msg, msg


def test_steps_beside_send_refused(tmp_path, refused_port):
    line, msg = plan_error(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/
    protocol: socketio
checks:
  - conversation:
      send: hello
      steps:
        - emit: hi
""" % refused_port)
    assert line == 8, msg
    assert "send" in msg and "steps" in msg, msg


@pytest.mark.parametrize("env_extra, steps, line, words", [
    # a Socket.IO setting without the protocol, located at its key
    ("    namespace: /chat\n", "        - send: hi\n", 5, ["namespace", "protocol: socketio"]),
    ("    connect_payload: {room: a}\n", "        - send: hi\n", 5, ["connect_payload"]),
    # a credential written in the payload is a secret in the plan
    ("    protocol: socketio\n    connect_payload: {token: abc}\n", "        - emit: hi\n", 6,
     ["token", "token_env"]),
    # steps the protocol cannot run
    ("    protocol: socketio\n", "        - expect: {text: hi}\n", 7, ["step 1", "packets"]),
    ("    protocol: socketio\n", "        - expect: {json: {'/0': 1}}\n", 7, ["step 1"]),
    ("    protocol: socketio\n", "        - emit: connect\n", 9, ["reserved"]),  # at the step
    ("    protocol: graphql\n", "        - expect_complete: true\n", 7, ["no subscription"]),
    ("    protocol: socketio\n", "        - subscribe: '{ a }'\n", 7, ["GraphQL step"]),
    # the shape of the list
    ("    protocol: socketio\n", "        - bogus: 1\n", 9, ["unknown step 'bogus'"]),
    ("    protocol: socketio\n", "        - {emit: a, ping: true}\n", 9, ["one step"]),
    ("    protocol: socketio\n", "        - emit: {event: a, args: '[1,'}\n", 9, ["not JSON"]),
    ("    protocol: socketio\n", "        - emit: 'a [1,'\n", 9, ["not JSON"]),
    ("    protocol: socketio\n", "        - emit: {args: [1]}\n", 9, ["event: NAME"]),
    ("    protocol: graphql\n", "        - subscribe: {query: '{ a }', variables: [1]}\n", 9,
     ["variables", "mapping"]),
    ("    protocol: socketio\n", "        - send: [a, b]\n", 9, ["one message"]),
])
def test_plan_errors_are_located(tmp_path, refused_port, env_extra, steps, line, words):
    got, msg = plan_error(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/
%schecks:
  - conversation:
      steps:
%s""" % (refused_port, env_extra, steps))
    for w in words:
        assert w in msg, (w, msg)
    assert got == line, (got, msg)


def test_too_many_steps_refused(tmp_path, refused_port):
    many = "".join("        - emit: e%d\n" % i for i in range(257))
    _, msg = plan_error(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/
    protocol: socketio
checks:
  - conversation:
      steps:
%s""" % (refused_port, many))
    assert "at most 256 steps" in msg, msg


# --- found by review: hold checks and the marker under a protocol ---------------------------

def test_hold_check_speaks_the_environments_protocol(corpus, tmp_path):
    """A hold: check on a Socket.IO environment answers Engine.IO's pings (300 ms + 300 ms
    here) and emits: every strategy lives the whole 2 s."""
    app = corpus.sio_app("--ping-interval", "300", "--ping-timeout", "300")
    r, j = run_plan(tmp_path, sio_env(app.port) + """
checks:
  - hold:
      name: keep
      duration: 2s
      per_strategy: 1
      ping_ladder: 500ms
      message_every: 400ms
      emit: 'echo {"id": "{{uuid}}"}'
      expect_lifetime: 1500ms
""")
    assert r.rc == 0, r
    c = checks(j)["keep"]
    assert c["verdict"] == "pass", c


@pytest.mark.parametrize("extra,check", [
    ("", "  - hold: {duration: 1s, message_every: 300ms, send: hi}"),   # send under socketio
    ("", "  - conversation"),                                            # marker without marker:
    ("", "  - origin.foreign"),                                          # a security check too
    ("    marker: {send: 'connect {}', expect: {json: {/0: 1}}}\n", "  - conversation"),
])
def test_protocol_plan_refusals_found_by_review(corpus, tmp_path, extra, check):
    r, j = run_plan(tmp_path, sio_env(9, extra) + "checks:\n" + check + "\n")
    assert r.rc == 2 and j is None, r
