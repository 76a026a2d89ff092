/* test_security.c - the security module without a network: the catalog (every P1 and P2 check
 * of SECURITY-CHECKS.md, flags, lookups), selection with the production/staging filter, the
 * decision rules as a table of records and outcomes, the verdict from a tally (fail beats
 * everything, a failed baseline is never a pass), and redaction of tokens and secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/jwt.h"
#include "check/security/security.h"
#include "check/security/security_int.h"
#include "util/redact.h"

/* SECURITY-CHECKS.md: the P1 and P2 rows, and which of all rows are staging only. */
static const char *const p1_p2[] = {
    "auth.missing",          "auth.unsigned",         "auth.bad_signature",  "auth.key_confusion",
    "auth.header_injection", "auth.claims",           "auth.weak_secret",    "auth.query_token",
    "origin.foreign",        "origin.bypass",         "origin.missing",      "input.malformed",
    "input.invalid_utf8",    "input.framing",         "limits.message_size", "limits.fragments",
    "limits.deflate_bomb",   "limits.slow_handshake", "limits.idle",         "tls.versions",
    "tls.certificate",       "transport.plaintext",   "transport.hsts",      "handshake.hygiene",
    "handshake.version",
};
static const char *const staging_only[] = {"auth.claims",     "auth.expiry_on_open",
                                           "input.malformed", "input.xss",
                                           "limits.rate",     "limits.connections"};

static bool is_staging(const char *id)
{
    for (size_t i = 0; i < sizeof staging_only / sizeof staging_only[0]; i++)
        if (strcmp(id, staging_only[i]) == 0)
            return true;
    return false;
}

static void test_catalog(void **state)
{
    (void)state;
    const wsp_check_def *const *defs;
    size_t n = wsp_security_list(&defs);
    assert_true(n >= sizeof p1_p2 / sizeof p1_p2[0]);
    for (size_t i = 0; i < n; i++) {
        const wsp_check_def *d = defs[i];
        assert_non_null(d->run);
        assert_non_null(d->summary);
        assert_true(d->priority >= 1 && d->priority <= 3);
        assert_true(wsp_security_is_group(d->group));
        assert_ptr_equal(wsp_security_find(d->id), d);
        /* the id's prefix names its group, except tls.* which is transport */
        size_t gl = strlen(d->group);
        assert_true(strncmp(d->id, d->group, gl) == 0 || strncmp(d->id, "tls.", 4) == 0);
        assert_int_equal(d->prod_safe, !is_staging(d->id));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(d->id, defs[j]->id);
    }
    for (size_t k = 0; k < sizeof p1_p2 / sizeof p1_p2[0]; k++) {
        const wsp_check_def *d = wsp_security_find(p1_p2[k]);
        assert_non_null(d);
        assert_true(d->priority <= 2);
    }
    assert_null(wsp_security_find("auth"));
    assert_null(wsp_security_find(""));
    assert_null(wsp_security_find(NULL));
    assert_false(wsp_security_is_group("auth.missing"));
    /* run on their own: one fills the connection slots, one breaks a relay's other clients */
    assert_true(wsp_security_runs_alone(wsp_security_find("limits.connections")));
    assert_true(wsp_security_runs_alone(wsp_security_find("input.invalid_utf8")));
    assert_false(wsp_security_runs_alone(wsp_security_find("input.framing")));
}

static size_t sel(const char *const *names, size_t k, bool staging, const wsp_check_def **out,
                  int *rc)
{
    size_t n = 0;
    wsp_err e;
    wsp_err_clear(&e);
    *rc = wsp_security_select(names, k, staging, out, &n, &e);
    if (*rc != 0) {
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
        assert_true(e.msg[0] != '\0');
    }
    return n;
}

static void test_selection(void **state)
{
    (void)state;
    const wsp_check_def *const *defs;
    size_t total = wsp_security_list(&defs);
    const wsp_check_def **out = calloc(total, sizeof *out);
    assert_non_null(out);
    int rc;
    /* nothing named: every production-safe check, in catalog order */
    size_t n = sel(NULL, 0, false, out, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, total - sizeof staging_only / sizeof staging_only[0]);
    for (size_t i = 0; i < n; i++)
        assert_true(out[i]->prod_safe);
    n = sel(NULL, 0, true, out, &rc);
    assert_int_equal(n, total);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(out[i], defs[i]);
    /* a group, without and with staging */
    const char *auth[] = {"auth"};
    n = sel(auth, 1, false, out, &rc);
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(out[i]->group, "auth");
        assert_true(out[i]->prod_safe);
    }
    size_t with = sel(auth, 1, true, out, &rc);
    size_t staging_auth = 0;
    for (size_t i = 0; i < sizeof staging_only / sizeof staging_only[0]; i++)
        staging_auth += strncmp(staging_only[i], "auth.", 5) == 0;
    assert_int_equal(with, n + staging_auth);
    /* tls is an alias for the tls.* checks */
    const char *tls[] = {"tls"};
    n = sel(tls, 1, false, out, &rc);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->id, "tls.versions");
    assert_string_equal(out[1]->id, "tls.certificate");
    /* ids and groups mixed: catalog order, no duplicates */
    const char *mixed[] = {"origin.missing", "origin", "auth.missing", "origin.foreign"};
    n = sel(mixed, 4, false, out, &rc);
    assert_int_equal(n, 4);
    assert_string_equal(out[0]->id, "auth.missing");
    assert_string_equal(out[1]->id, "origin.foreign");
    assert_string_equal(out[2]->id, "origin.bypass");
    assert_string_equal(out[3]->id, "origin.missing");
    /* refused: unknown names, and staging-only ids without the flag */
    const char *bad[] = {"auth.nope"};
    sel(bad, 1, true, out, &rc);
    assert_int_equal(rc, -1);
    const char *stg[] = {"limits.rate"};
    sel(stg, 1, false, out, &rc);
    assert_int_equal(rc, -1);
    n = sel(stg, 1, true, out, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);
    free(out);
}

/* ---- the decision rules ---- */

typedef struct rule_case {
    const char *what;
    int status;
    bool completed;
    bool request_sent;
    wsp_class cls;
    wsp_closed_by by;
    int close_code;
    bool marker;
    wsp_sec_outcome want;
} rule_case;

static const rule_case rules[] = {
    {"401", 401, false, true, WSP_CLASS_UPGRADE_AUTH, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_HS},
    {"403", 403, false, true, WSP_CLASS_UPGRADE_AUTH, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_HS},
    {"426", 426, false, true, WSP_CLASS_UPGRADE_REJECTED, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_HS},
    {"302", 302, false, true, WSP_CLASS_UPGRADE_REDIRECT, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_HS},
    {"500", 500, false, true, WSP_CLASS_UPGRADE_SERVER_ERROR, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_SERVER_ERROR},
    {"502", 502, false, true, WSP_CLASS_UPGRADE_SERVER_ERROR, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_EDGE},
    {"503", 503, false, true, WSP_CLASS_UPGRADE_SERVER_ERROR, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_EDGE},
    {"504", 504, false, true, WSP_CLASS_UPGRADE_SERVER_ERROR, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_EDGE},
    {"closed before 101", 0, false, true, WSP_CLASS_HS_NO_RESPONSE, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_HS},
    {"no TCP", 0, false, false, WSP_CLASS_TCP_REFUSED, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_UNREACHABLE},
    {"no answer to the request", 0, false, true, WSP_CLASS_HS_TIMEOUT, WSP_CLOSED_BY_NONE, -1,
     false, WSP_SEC_UNREACHABLE},
    {"close 1008", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1008, false,
     WSP_SEC_REFUSED_OPEN},
    {"close 1002", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1002, false,
     WSP_SEC_REFUSED_OPEN},
    {"close 1009", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1009, false,
     WSP_SEC_REFUSED_OPEN},
    {"close 4001", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 4001, false,
     WSP_SEC_REFUSED_OPEN},
    {"close 1011", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1011, false,
     WSP_SEC_SERVER_ERROR},
    {"close 1000 before data", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1000,
     false, WSP_SEC_WEAK},
    {"close without code", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, -1, false,
     WSP_SEC_WEAK},
    {"dropped", 101, true, true, WSP_CLASS_WS_DROPPED, WSP_CLOSED_BY_NONE, -1, false,
     WSP_SEC_REFUSED_OPEN},
    {"open, nothing", 101, true, true, WSP_CLASS_WS_MSG_TIMEOUT, WSP_CLOSED_BY_CLIENT, 1000, false,
     WSP_SEC_SILENT},
    {"marker", 101, true, true, WSP_CLASS_OK, WSP_CLOSED_BY_CLIENT, 1000, true, WSP_SEC_ACCEPTED},
    {"marker then 1008", 101, true, true, WSP_CLASS_WS_CLOSED, WSP_CLOSED_BY_SERVER, 1008, true,
     WSP_SEC_ACCEPTED},
};

static void test_decision_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule_case *c = &rules[i];
        wsp_conn_record r;
        memset(&r, 0, sizeof r);
        r.http_status = c->status;
        r.handshake_completed = c->completed;
        r.t_request = c->request_sent ? 1 : 0;
        r.network = c->request_sent;
        r.err.cls = c->cls;
        r.closed_by = c->by;
        r.close_code = c->close_code;
        wsp_sec_outcome got = wsp_sec_judge_record(&r, c->marker);
        if (got != c->want)
            fail_msg("%s: got %s, want %s", c->what, wsp_sec_outcome_name(got),
                     wsp_sec_outcome_name(c->want));
    }
    assert_true(wsp_sec_rejecting_code(1007));
    assert_true(wsp_sec_rejecting_code(4999));
    assert_false(wsp_sec_rejecting_code(1000));
    assert_false(wsp_sec_rejecting_code(1011));
    assert_false(wsp_sec_rejecting_code(5000));
}

static wsp_verdict conclude(const wsp_sec_outcome *os, size_t n, bool after)
{
    wsp_check_result r;
    wsp_check_result_init(&r, "x");
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < n; i++)
        wsp_sec_count(&t, "v", os[i]);
    wsp_verdict v = wsp_sec_conclude(&r, &t, after, "probes");
    assert_true(r.message[0] != '\0');
    assert_non_null(json_object_get(r.evidence, "outcomes"));
    wsp_check_result_cleanup(&r);
    return v;
}

static void test_conclusions(void **state)
{
    (void)state;
    const wsp_sec_outcome refused[] = {WSP_SEC_REFUSED_HS, WSP_SEC_REFUSED_OPEN};
    assert_int_equal(conclude(refused, 2, true), WSP_VERDICT_PASS);
    /* the same refusals with a failed after-baseline prove nothing */
    assert_int_equal(conclude(refused, 2, false), WSP_VERDICT_INCONCLUSIVE);
    const wsp_sec_outcome one_in[] = {WSP_SEC_REFUSED_HS, WSP_SEC_ACCEPTED, WSP_SEC_SILENT};
    assert_int_equal(conclude(one_in, 3, false), WSP_VERDICT_FAIL);
    const wsp_sec_outcome silent[] = {WSP_SEC_REFUSED_HS, WSP_SEC_SILENT};
    assert_int_equal(conclude(silent, 2, true), WSP_VERDICT_INCONCLUSIVE);
    const wsp_sec_outcome edge[] = {WSP_SEC_EDGE};
    assert_int_equal(conclude(edge, 1, true), WSP_VERDICT_INCONCLUSIVE);
    const wsp_sec_outcome unreach[] = {WSP_SEC_UNREACHABLE};
    assert_int_equal(conclude(unreach, 1, true), WSP_VERDICT_INCONCLUSIVE);
    const wsp_sec_outcome err5xx[] = {WSP_SEC_REFUSED_HS, WSP_SEC_SERVER_ERROR};
    assert_int_equal(conclude(err5xx, 2, true), WSP_VERDICT_WARN);
    const wsp_sec_outcome weak[] = {WSP_SEC_WEAK, WSP_SEC_REFUSED_HS};
    assert_int_equal(conclude(weak, 2, true), WSP_VERDICT_PASS);
}

/* ---- the success marker and correlation ---- */

static wsp_sec_seen seen(wsp_sec_raw *s, const char *msg)
{
    return wsp_sec_raw_classify(s, true, (const uint8_t *)msg, strlen(msg), NULL);
}

static void test_marker_pairs(void **state)
{
    (void)state;
    wsp_env env;
    wsp_env_init(&env);
    wsp_sec_marker m;
    /* the default: an ack that returns the id of the message this connection sent */
    wsp_sec_marker_get(&env, &m);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.ptr[0], "/type");
    assert_string_equal(m.val[0], "ack");
    assert_string_equal(m.ptr[1], "/id");
    assert_string_equal(m.val[1], "{{sent./id}}");
    assert_true(m.correlated && !m.corr[0] && m.corr[1]);
    /* the probe's expectation carries both pairs */
    wsp_probe_config cfg;
    wsp_probe_config_init(&cfg);
    assert_int_equal(wsp_sec_cfg_add_marker(&env, &cfg), 0);
    assert_int_equal(cfg.num_steps, 2);
    assert_int_equal(cfg.steps[1].kind, WSP_STEP_EXPECT_JSON);
    assert_string_equal(cfg.steps[1].pointer, "/type");
    assert_int_equal(cfg.steps[1].num_also, 1);
    assert_string_equal(cfg.steps[1].also_pointer[0], "/id");
    assert_string_equal(cfg.steps[1].also_value[0], "{{sent./id}}");
    wsp_probe_config_cleanup(&cfg);
    /* a marker message without an id: nothing to correlate on, the ack alone */
    env.marker_send = strdup("{\"type\":\"chat_message\",\"content\":\"x\"}");
    wsp_sec_marker_get(&env, &m);
    assert_int_equal(m.n, 1);
    assert_false(m.correlated);
    /* the user's expectation replaces the default, correlated when it names {{sent...}} */
    env.marker_expect_pointer = strdup("/id");
    env.marker_expect_value = strdup("{{sent./id}}");
    wsp_sec_marker_get(&env, &m);
    assert_int_equal(m.n, 1);
    assert_true(m.correlated);
    free(env.marker_expect_value);
    env.marker_expect_value = strdup("\"ack\"");
    wsp_sec_marker_get(&env, &m);
    assert_false(m.correlated);
    wsp_env_cleanup(&env);
}

static void test_correlation(void **state)
{
    (void)state;
    wsp_env env;
    wsp_env_init(&env);
    wsp_sec_raw a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    wsp_sec_raw_init_correlation(&env, &a);
    wsp_sec_raw_init_correlation(&env, &b);
    static const char mine[] = "{\"type\":\"chat_message\",\"content\":\"m\",\"id\":\"A-1\"}";
    static const char theirs[] = "{\"type\":\"chat_message\",\"content\":\"t\",\"id\":\"B-1\"}";
    static const char bare[] = "{\"type\":\"chat_message\",\"content\":";
    wsp_sec_raw_keep_sent(&a, mine, strlen(mine));
    wsp_sec_raw_keep_sent(&b, theirs, strlen(theirs));
    wsp_sec_raw_keep_sent(&b, bare, strlen(bare));
    /* our ack is the marker, and answers our message once */
    wsp_sec_seen k = seen(&a, "{\"type\":\"ack\",\"id\":\"A-1\"}");
    assert_true(k.marker && !k.foreign);
    assert_int_equal(a.markers, 1);
    k = seen(&a, "{\"id\":\"A-1\",\"type\":\"ack\"}");
    assert_true(k.marker);
    assert_int_equal(a.markers, 1);
    /* another connection's ack, and its message relayed to the room: skipped */
    k = seen(&a, "{\"type\":\"ack\",\"id\":\"B-1\"}");
    assert_true(!k.marker && k.foreign);
    k = seen(&a, theirs);
    assert_true(!k.marker && k.foreign);
    /* relayed bytes without an id that another session sent: skipped too */
    k = seen(&a, bare);
    assert_true(k.foreign);
    /* our own message relayed back: ours (an echo), not a marker */
    k = seen(&a, mine);
    assert_true(k.echo && !k.marker && !k.foreign);
    /* an error without an id cannot be placed: counted as ours */
    k = seen(&a, "{\"type\":\"error\",\"error\":\"bad\"}");
    assert_true(!k.marker && !k.foreign);
    /* an ack without the id does not pass for ours with the default marker */
    k = seen(&a, "{\"type\":\"ack\"}");
    assert_false(k.marker);
    /* an observer of the room counts everything */
    b.o.watch_room = true;
    k = seen(&b, mine);
    assert_false(k.foreign);
    wsp_sec_raw_cleanup(&a);
    wsp_sec_raw_cleanup(&b);
    /* --marker-expect /id={{sent./id}}: an integer id too, and only ours */
    env.marker_expect_pointer = strdup("/id");
    env.marker_expect_value = strdup("{{sent./id}}");
    memset(&a, 0, sizeof a);
    wsp_sec_raw_init_correlation(&env, &a);
    static const char num[] = "{\"type\":\"chat_message\",\"content\":\"n\",\"id\":42}";
    wsp_sec_raw_keep_sent(&a, num, strlen(num));
    assert_true(seen(&a, "{\"type\":\"ack\",\"id\":42}").marker);
    assert_true(seen(&a, "{\"type\":\"ack\",\"id\":43}").foreign);
    wsp_sec_raw_cleanup(&a);
    /* an uncorrelated marker (/type=ack): any ack is a marker, as the user asked */
    free(env.marker_expect_pointer);
    free(env.marker_expect_value);
    env.marker_expect_pointer = strdup("/type");
    env.marker_expect_value = strdup("ack");
    memset(&a, 0, sizeof a);
    wsp_sec_raw_init_correlation(&env, &a);
    assert_true(seen(&a, "{\"type\":\"ack\",\"id\":\"anyone\"}").marker);
    assert_int_equal(a.markers, 0); /* counted by the session's message handler */
    wsp_sec_raw_cleanup(&a);
    wsp_env_cleanup(&env);
}

static void test_redaction(void **state)
{
    (void)state;
    wsp_check_result r;
    wsp_check_result_init(&r, "auth.x");
    const char *tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXZhbHVl";
    char buf[512];
    snprintf(buf, sizeof buf, "refused Bearer %s (again: %s)", tok, tok);
    json_object_set_new(r.evidence, "close_reason", json_string(buf));
    json_t *nested = json_pack("{s:[s,s]}", "list", "my-very-secret-value", "harmless");
    json_object_set_new(r.evidence, "nested", nested);
    snprintf(r.message, sizeof r.message, "got %s", tok);
    snprintf(r.hint, sizeof r.hint, "secret my-very-secret-value leaked by abc");
    wsp_redact_register("my-very-secret-value", 20);
    wsp_redact_register("abc", 3);
    wsp_check_result_redact(&r);
    char *dump = json_dumps(r.evidence, 0);
    assert_non_null(dump);
    assert_null(strstr(dump, "eyJhbGci"));
    assert_null(strstr(dump, "my-very-secret-value"));
    assert_non_null(strstr(dump, "[redacted]"));
    assert_non_null(strstr(dump, "harmless"));
    assert_non_null(strstr(dump, "refused Bearer eyJ\xe2\x80\xa6[redacted] (again: "
                                 "eyJ\xe2\x80\xa6[redacted])"));
    free(dump);
    assert_null(strstr(r.message, "eyJhbGci"));
    assert_null(strstr(r.hint, "my-very-secret-value"));
    /* secrets under 4 bytes are not used (they would blank out ordinary words) */
    assert_non_null(strstr(r.hint, "leaked by abc"));
    wsp_check_result_cleanup(&r);
    wsp_redact_clear();
}

/* ---- checks whose verdict needs no network ---- */

static char *hs_token(const char *secret)
{
    wsp_jwt_key *k = wsp_jwt_key_secret(secret, strlen(secret));
    assert_non_null(k);
    json_t *claims = json_pack("{s:s}", "sub", "unit");
    wsp_jwt_mint_opts o;
    memset(&o, 0, sizeof o);
    o.alg = WSP_JWT_ALG_HS256;
    o.key = k;
    o.claims = claims;
    o.now = 1700000000;
    o.exp = true;
    o.ttl = 300;
    char *tok = NULL;
    wsp_err e;
    assert_int_equal(wsp_jwt_mint(&o, &tok, &e), 0);
    json_decref(claims);
    wsp_jwt_key_free(k);
    return tok;
}

static wsp_verdict run_check(const char *id, const char *url, const char *token,
                             wsp_check_result *r)
{
    wsp_env env;
    wsp_env_init(&env);
    wsp_err e;
    assert_int_equal(wsp_url_parse(url, &env.base.url, 0, &e), 0);
    env.base.conn.url = &env.base.url;
    if (token)
        assert_int_equal(wsp_auth_set_token(&env.auth, token, &e), 0);
    const wsp_check_def *d = wsp_security_find(id);
    assert_non_null(d);
    wsp_check_result_init(r, id);
    d->run(&env, NULL, r);
    wsp_env_cleanup(&env);
    assert_true(r->message[0] != '\0');
    return r->verdict;
}

static void test_offline_verdicts(void **state)
{
    (void)state;
    wsp_check_result r;
    /* a token signed with a secret from the list: found, and the secret never printed */
    char *weak = hs_token("changeme");
    assert_int_equal(run_check("auth.weak_secret", "ws://127.0.0.1:1/ws", weak, &r),
                     WSP_VERDICT_FAIL);
    char *dump = json_dumps(r.evidence, 0);
    assert_null(strstr(dump, "changeme"));
    assert_null(strstr(r.message, "changeme"));
    assert_non_null(json_object_get(r.evidence, "list_entry"));
    free(dump);
    wsp_check_result_cleanup(&r);
    free(weak);
    char *strong = hs_token("k7Qp2v9XzL0bN4mR8sT1wY6cJ3hF5dGa");
    assert_int_equal(run_check("auth.weak_secret", "ws://127.0.0.1:1/ws", strong, &r),
                     WSP_VERDICT_PASS);
    wsp_check_result_cleanup(&r);
    /* key confusion concerns RS/ES endpoints only */
    assert_int_equal(run_check("auth.key_confusion", "ws://127.0.0.1:1/ws", strong, &r),
                     WSP_VERDICT_NOT_APPLICABLE);
    wsp_check_result_cleanup(&r);
    free(strong);
    /* an opaque token: nothing to forge from */
    assert_int_equal(run_check("auth.unsigned", "ws://127.0.0.1:1/ws", "opaque-token-value", &r),
                     WSP_VERDICT_NOT_APPLICABLE);
    wsp_check_result_cleanup(&r);
    /* no credential: the forging checks cannot run */
    static const char *const need_cred[] = {"auth.unsigned", "auth.bad_signature",
                                            "auth.header_injection", "auth.weak_secret",
                                            "auth.query_token"};
    for (size_t i = 0; i < sizeof need_cred / sizeof need_cred[0]; i++) {
        assert_int_equal(run_check(need_cred[i], "ws://127.0.0.1:1/ws", NULL, &r),
                         WSP_VERDICT_SKIP);
        wsp_check_result_cleanup(&r);
    }
    /* no limit configured; no TLS on ws:// */
    assert_int_equal(run_check("limits.idle", "ws://127.0.0.1:1/ws", NULL, &r), WSP_VERDICT_SKIP);
    wsp_check_result_cleanup(&r);
    assert_int_equal(run_check("limits.slow_handshake", "ws://127.0.0.1:1/ws", NULL, &r),
                     WSP_VERDICT_SKIP);
    wsp_check_result_cleanup(&r);
    static const char *const tls_only[] = {"tls.versions", "tls.certificate", "transport.hsts"};
    for (size_t i = 0; i < sizeof tls_only / sizeof tls_only[0]; i++) {
        assert_int_equal(run_check(tls_only[i], "ws://127.0.0.1:1/ws", NULL, &r),
                         WSP_VERDICT_NOT_APPLICABLE);
        wsp_check_result_cleanup(&r);
    }
    assert_int_equal(run_check("transport.plaintext", "ws://127.0.0.1:1/ws", NULL, &r),
                     WSP_VERDICT_NOT_APPLICABLE);
    wsp_check_result_cleanup(&r);
    /* plain ws:// to a remote host is a finding (no connection needed to say so) */
    assert_int_equal(run_check("transport.plaintext", "ws://192.0.2.1:80/ws", NULL, &r),
                     WSP_VERDICT_FAIL);
    wsp_check_result_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog),        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_decision_rules), cmocka_unit_test(test_conclusions),
        cmocka_unit_test(test_redaction),      cmocka_unit_test(test_offline_verdicts),
        cmocka_unit_test(test_marker_pairs),   cmocka_unit_test(test_correlation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
