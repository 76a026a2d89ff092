/* test_plan.c - the plan loader (structure, located errors, secrets by reference only, caps on
 * hostile YAML), environment building, and the run/parity report helpers (exit policy,
 * scrubbing, normalised evidence, drift). No network: checks are not run here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "check/plan.h"
#include "util/redact.h"
#include "check/security/security.h"
#include "check/plancheck.h"
#include "report/runreport.h"

static wsp_plan *load(const char *text, wsp_plan_err *err)
{
    return wsp_plan_load_buffer("t.yaml", text, strlen(text), err);
}

static const char good[] =
    "name: demo\n"
    "environments:\n"
    "  staging:\n"
    "    url: wss://api.staging.example.com/ws\n"
    "    health: https://api.staging.example.com/health\n"
    "    origin: https://app.example.com\n"
    "    headers: {X-Team: chat}\n"
    "    resolve: ['api.staging.example.com:443:127.0.0.1']\n"
    "    timeout: 2s\n"
    "    tls: {insecure: true, min_version: '1.2'}\n"
    "    auth:\n"
    "      jwt: {secret_env: WSP_UNIT_SECRET, alg: HS256, ttl: 5m,\n"
    "            claims: {sub: e2e-bot, aud: chat, n: 3}}\n"
    "      in: header\n"
    "    limits: {max_message: 64K, rate_limit: 20, max_conns_per_ip: 8, handshake_timeout: 5s,\n"
    "             idle_timeout: 60s}\n"
    "  production:\n"
    "    url: ws://127.0.0.1:9/ws\n"
    "    auth: {token_env: WSP_UNIT_TOKEN, in: 'query:access_token'}\n"
    "checks:\n"
    "  - connect\n"
    "  - health\n"
    "  - conversation:\n"
    "      send: '{\"type\":\"chat_message\",\"id\":\"{{uuid}}\"}'\n"
    "      expect: {json: {\"/type\": ack, \"/id\": \"{{sent./id}}\"}, within: 2s}\n"
    "  - conversation\n"
    "  - concurrent: {connections: 5, each: conversation}\n"
    "  - expect_auth_required\n"
    "  - security: [auth, origin.foreign]\n";

/* How many checks of the real suite a name selects (security.h). */
static size_t suite_count(const char *name, bool staging)
{
    const wsp_check_def *const *all = NULL;
    size_t total = wsp_security_list(&all);
    const wsp_check_def **out = calloc(total, sizeof *out);
    assert_non_null(out);
    const char *names[1] = {name};
    size_t n = 0;
    assert_int_equal(wsp_security_select(names, 1, staging, out, &n, NULL), 0);
    free(out);
    return n;
}

static void test_good_plan(void **state)
{
    (void)state;
    wsp_plan_err err;
    wsp_plan *p = load(good, &err);
    assert_non_null(p);
    assert_int_equal(wsp_plan_env_count(p), 2);
    assert_string_equal(wsp_plan_env_name(p, 0), "staging");
    assert_true(wsp_plan_has_env(p, "production"));
    assert_false(wsp_plan_has_env(p, "prod"));
    /* six basic checks, then the production-safe auth group of the suite and origin.foreign */
    size_t auth = suite_count("auth", false);
    assert_int_equal(wsp_plan_check_count(p), 6 + auth + 1);
    assert_string_equal(wsp_plan_check_id(p, 0), "connect");
    assert_string_equal(wsp_plan_check_id(p, 2), "conversation");
    assert_string_equal(wsp_plan_check_id(p, 3), "conversation#2");
    assert_string_equal(wsp_plan_check_id(p, 6), "auth.missing");
    assert_string_equal(wsp_plan_check_id(p, 6 + auth), "origin.foreign");
    const wsp_check_item *it = wsp_plan_items(p);
    assert_ptr_equal(it[0].def, wsp_plancheck_find("connect"));
    /* normalised conversation parameters */
    const json_t *steps = json_object_get(it[2].params, "steps");
    assert_int_equal(json_array_size(steps), 2);
    assert_non_null(json_object_get(json_array_get(steps, 0), "send"));
    const json_t *pairs = json_object_get(json_array_get(steps, 1), "expect_json");
    assert_int_equal(json_array_size(pairs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pairs, 0), "value")),
                        "\"ack\"");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pairs, 1), "value")),
                        "{{sent./id}}");
    assert_int_equal(json_integer_value(json_object_get(it[2].params, "within_ms")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 1), "within_ms")),
                     2000);
    assert_null(it[3].params); /* the environment's marker */
    /* concurrent copies the first conversation's steps */
    assert_int_equal(json_integer_value(json_object_get(it[4].params, "connections")), 5);
    assert_true(json_equal(json_object_get(it[4].params, "each"), it[2].params));
    wsp_plan_free(p);
}

static void test_env_load(void **state)
{
    (void)state;
    setenv("WSP_UNIT_SECRET", "unit-secret-0123456789abcdef0123456789", 1);
    setenv("WSP_UNIT_TOKEN", "unit-token-abcdef", 1);
    wsp_plan_err err;
    wsp_plan *p = load(good, &err);
    assert_non_null(p);
    wsp_env env;
    assert_int_equal(wsp_plan_env_load(p, "staging", &env, &err), 0);
    assert_string_equal(env.name, "staging");
    assert_true(env.base.url.tls);
    assert_int_equal(env.base.url.port, 443);
    assert_non_null(env.base.conn.tls_ctx);
    assert_false(env.base.conn.tls_verify);
    assert_int_equal(env.base.conn.num_pinned, 1);
    assert_int_equal(env.base.conn.num_headers, 1);
    assert_string_equal(env.base.conn.headers[0], "X-Team: chat");
    assert_string_equal(env.base.conn.origin, "https://app.example.com");
    assert_string_equal(env.allowed_origin, "https://app.example.com");
    assert_int_equal(env.base.conn.timeout_us, 2000000);
    assert_true(wsp_auth_active(&env.auth));
    assert_non_null(env.auth.jwt);
    assert_int_equal(env.limits.max_message, 65536);
    assert_int_equal(env.limits.max_conns_per_client, 8);
    assert_true(env.limits.rate_per_s == 20);
    assert_int_equal(env.limits.idle_timeout_us, 60000000);
    assert_int_equal(wsp_plan_warning_count(p), 0);
    /* no marker in the plan: unset, so the suite's own default applies (an ack that returns
     * this connection's id), the same as for `wsprobe security` */
    assert_null(env.marker_send);
    assert_null(env.marker_expect_pointer);
    assert_string_equal(env.health_url, "https://api.staging.example.com/health");
    wsp_env_cleanup(&env);

    assert_int_equal(wsp_plan_env_load(p, "production", &env, &err), 0);
    assert_string_equal(env.auth.token, "unit-token-abcdef");
    assert_int_equal(env.auth.in, WSP_AUTH_IN_QUERY);
    assert_null(env.base.conn.tls_ctx);
    wsp_env_cleanup(&env);

    /* the token the environment read is registered with the redactor where it was read */
    char *red = wsp_redact("token=unit-token-abcdef", 23, NULL);
    assert_non_null(red);
    assert_null(strstr(red, "unit-token-abcdef"));
    free(red);

    /* a missing variable is located at the key that names it, without any value */
    unsetenv("WSP_UNIT_TOKEN");
    assert_int_equal(wsp_plan_env_load(p, "production", &env, &err), -1);
    assert_int_equal(err.line, 19);
    assert_int_equal(err.column, 23);
    assert_non_null(strstr(err.msg, "WSP_UNIT_TOKEN"));
    wsp_env_cleanup(&env);

    /* an unknown environment points at environments: and lists the names */
    assert_int_equal(wsp_plan_env_load(p, "prod", &env, &err), -1);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.msg, "staging, production"));
    wsp_env_cleanup(&env);
    char buf[1024];
    wsp_plan_err_format(&err, buf, sizeof buf);
    assert_true(strncmp(buf, "t.yaml:2:1: ", 12) == 0);
    wsp_plan_free(p);
    unsetenv("WSP_UNIT_SECRET");
}

typedef struct bad_case {
    const char *yaml;
    unsigned line, column;
    const char *needle; /* a word the message must contain */
} bad_case;

static const bad_case bad_cases[] = {
    {"", 1, 1, "empty"},
    {"- a\n- b\n", 1, 1, "mapping"},
    {"environments: {s: {url: ws://h/}}\n", 1, 1, "checks"},
    {"checks: [connect]\n", 1, 1, "environments"},
    {"environments: {s: {url: ws://h/}}\nchecks: [conect]\n", 2, 10, "unknown check"},
    {"environments: {s: {url: ws://h/}}\nchecks: connect\n", 2, 9, "list"},
    {"environments: {s: {url: [a]}}\nchecks: [connect]\n", 1, 25, "string"},
    {"environments: {s: {url: 'http://h/'}}\nchecks: [connect]\n", 1, 25, "url"},
    {"environments: {s: {url: ws://h/, bogus: 1}}\nchecks: [connect]\n", 1, 34, "unknown key"},
    {"environments: {s: {url: ws://h/, url: ws://g/}}\nchecks: [connect]\n", 1, 34, "twice"},
    {"environments: {s: {url: ws://h/, auth: {token: abc}}}\nchecks: [connect]\n", 1, 41,
     "token_env"},
    {"environments: {s: {url: ws://h/, auth: {jwt: {secret: abc}}}}\nchecks: [connect]\n", 1, 47,
     "secret_env"},
    {"environments: {s: {url: ws://h/, auth: {jwt: {alg: HS256}}}}\nchecks: [connect]\n", 1, 46,
     "secret_env"},
    {"environments: {s: {url: ws://h/, auth: {jwt: {secret_env: X, alg: none}}}}\n"
     "checks: [connect]\n",
     1, 67, "none"},
    {"environments: {s: {url: ws://h/, headers: {Authorization: Bearer x}}}\n"
     "checks: [connect]\n",
     1, 44, "credential"},
    {"environments: {s: {url: ws://h/, timeout: soon}}\nchecks: [connect]\n", 1, 43, "duration"},
    {"environments: {s: {url: ws://h/, limits: {rate: fast}}}\nchecks: [connect]\n", 1, 49,
     "number"},
    {"environments: {s: {url: ws://h/, tls: {min_version: '0.9'}}}\nchecks: [connect]\n", 1, 53,
     "1.2"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - concurrent: {connections: many}\n", 3, 31,
     "whole number"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - concurrent: {connections: 0}\n", 3, 31,
     "whole number"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - conversation: {send: x, expect: {json: "
     "{'nope': 1}}}\n",
     3, 45, "pointer"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - conversation: {send: x, expect: "
     "{regex: '('}}\n",
     3, 45, "regex"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - conversation: {send: '{{bogus}}'}\n", 3, 26,
     "send"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - connect: 3\n", 3, 14, "mapping"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - {connect: null, health: null}\n", 3, 5,
     "one check"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - security: [auth, bogus]\n", 3, 22,
     "unknown group"},
    {"environments: {s: {url: ws://h/}}\nchecks:\n  - security: [AUTH]\n", 3, 16, "unknown group"},
    {"environments: {s: {url: \"ws://h/\n", 2, 1, "YAML"},
    {"environments: {s: {url: ws://h/}}\nchecks: [connect]\nchecks: [health]\n", 3, 1, "twice"},
};

static void test_bad_plans_are_located(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        wsp_plan_err err;
        wsp_plan *p = load(c->yaml, &err);
        if (p || err.line != c->line || err.column != c->column || !strstr(err.msg, c->needle)) {
            print_error("case %zu: %s -> %u:%u %s\n", i, c->yaml, err.line, err.column,
                        p ? "(loaded)" : err.msg);
            bad++;
        }
        wsp_plan_free(p);
    }
    assert_int_equal(bad, 0);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        wsp_plan_err err;
        wsp_plan *p = load(c->yaml, &err);
        if (p || err.line != c->line || err.column != c->column || !strstr(err.msg, c->needle))
            print_error("case %zu: %s -> %u:%u %s\n", i, c->yaml, err.line, err.column,
                        p ? "(loaded)" : err.msg);
        assert_null(p);
        assert_int_equal(err.line, c->line);
        assert_int_equal(err.column, c->column);
        assert_non_null(strstr(err.msg, c->needle));
        assert_string_equal(err.file, "t.yaml");
    }
}

static void test_literal_secret_value_never_in_message(void **state)
{
    (void)state;
    wsp_plan_err err;
    wsp_plan *p = load("environments:\n  s:\n    url: ws://h/\n    auth:\n      password: "
                       "s3cr3t-value-xyz\nchecks: [connect]\n",
                       &err);
    assert_null(p);
    assert_null(strstr(err.msg, "s3cr3t-value-xyz"));
    assert_int_equal(err.line, 5);
}

static void test_alias_bomb_and_depth_are_capped(void **state)
{
    (void)state;
    /* nine levels of ten aliases each: 10^9 nodes if expanded */
    char buf[4096];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                              "*a%d]\n",
                              i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                              i - 1);
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "environments: {s: {url: ws://h/, auth: {jwt: {secret_env: X, "
                          "claims: {big: *a8}}}}}\nchecks: [connect]\n");
    wsp_plan_err err;
    wsp_plan *p = load(buf, &err);
    assert_null(p); /* unknown top-level keys a0..a8 are refused first, or the cap */
    /* the same bomb inside an allowed place */
    o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "environments:\n  s:\n    url: ws://h/\n    auth:\n      jwt:\n"
                          "        secret_env: X\n        claims:\n          a0: &a0 [x, x, x, "
                          "x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "          a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                              "*a%d, *a%d, *a%d]\n",
                              i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                              i - 1);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "checks: [connect]\n");
    p = load(buf, &err);
    assert_null(p);
    assert_non_null(strstr(err.msg, "too large"));

    /* nesting */
    char deep[2048];
    o = (size_t)snprintf(deep, sizeof deep,
                         "environments: {s: {url: ws://h/, auth: {jwt: {secret_env: X, claims: "
                         "{d: ");
    for (int i = 0; i < 60; i++)
        deep[o++] = '[';
    for (int i = 0; i < 60; i++)
        deep[o++] = ']';
    o += (size_t)snprintf(deep + o, sizeof deep - o, "}}}}}\nchecks: [connect]\n");
    p = load(deep, &err);
    assert_null(p);
    assert_non_null(strstr(err.msg, "deeper"));
}

/* 1 MiB of nesting (the size cap) in flow, block and mapping form is refused at the level past
 * WSP_PLAN_MAX_DEPTH, located there, before libyaml builds anything (issue 13: this took
 * minutes; the count of events read is asserted in test_yaml.c); a second document is refused
 * at its start, not ignored. */
static void test_nesting_and_second_document_refused_early(void **state)
{
    (void)state;
    static const char head[] = "environments: {s: {url: ws://h/}}\nchecks: ";
    static const struct {
        const char *unit, *sep;
        unsigned line, column;
    } forms[] = {
        {"[", "", 2, 40},     /* root mapping + 32 lists: the 32nd '[' opens level 33 */
        {"{a: ", "", 2, 133}, /* the 32nd '{' */
        {"- ", "\n", 3, 63},  /* a block list per "- " */
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        char *b = malloc(WSP_PLAN_MAX_BYTES);
        assert_non_null(b);
        size_t o = strlen(head), u = strlen(forms[f].unit);
        memcpy(b, head, o);
        memcpy(b + o, forms[f].sep, strlen(forms[f].sep));
        o += strlen(forms[f].sep);
        while (o + u <= WSP_PLAN_MAX_BYTES) {
            memcpy(b + o, forms[f].unit, u);
            o += u;
        }
        wsp_plan_err err;
        wsp_plan *p = wsp_plan_load_buffer("deep.yaml", b, o, &err);
        free(b);
        assert_null(p);
        assert_string_equal(err.msg, "nested deeper than 32 levels");
        assert_string_equal(err.file, "deep.yaml");
        assert_int_equal(err.line, forms[f].line);
        assert_int_equal(err.column, forms[f].column);
    }
    wsp_plan_err err;
    wsp_plan *p = load("environments: {s: {url: ws://h/}}\nchecks: [connect]\n---\n"
                       "checks: [health]\n",
                       &err);
    assert_null(p);
    assert_string_equal(err.msg, "a plan holds one YAML document; a second starts at 3:1");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 1);
    /* with an end marker, and empty: still a second document */
    p = load("environments: {s: {url: ws://h/}}\nchecks: [connect]\n...\n---\n", &err);
    assert_null(p);
    assert_int_equal(err.line, 4);
    /* one document between markers loads */
    p = load("---\nenvironments: {s: {url: ws://h/}}\nchecks: [connect]\n...\n", &err);
    assert_non_null(p);
    wsp_plan_free(p);
}

static void test_security_entries(void **state)
{
    (void)state;
    wsp_plan_err err;
    /* a group expands to the suite's checks; an id already there collapses */
    const char *y = "environments: {s: {url: ws://h/}}\nchecks:\n  - security: [auth, "
                    "auth.missing]\n";
    wsp_plan *p = load(y, &err);
    assert_non_null(p);
    size_t safe = suite_count("auth", false);
    assert_true(safe >= 1);
    assert_int_equal(wsp_plan_check_count(p), safe);
    assert_string_equal(wsp_plan_check_id(p, 0), "auth.missing");
    wsp_plan_free(p);
    /* staging-only checks only on request */
    size_t all = suite_count("auth", true);
    assert_true(all > safe);
    p = load("environments: {s: {url: ws://h/}}\nchecks:\n"
             "  - security: {checks: [auth], include_staging_only: true}\n",
             &err);
    assert_non_null(p);
    assert_int_equal(wsp_plan_check_count(p), all);
    wsp_plan_free(p);
    /* anything else is a plan error, located */
    p = load("environments: {s: {url: ws://h/}}\nchecks:\n  - security: [nosuch]\n", &err);
    assert_null(p);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 16);
    assert_non_null(strstr(err.msg, "nosuch"));
}

static void test_exit_policy(void **state)
{
    (void)state;
    assert_false(wsp_runreport_verdict_fails(WSP_VERDICT_PASS, true));
    assert_true(wsp_runreport_verdict_fails(WSP_VERDICT_FAIL, false));
    assert_true(wsp_runreport_verdict_fails(WSP_VERDICT_INCONCLUSIVE, false));
    assert_false(wsp_runreport_verdict_fails(WSP_VERDICT_WARN, false));
    assert_true(wsp_runreport_verdict_fails(WSP_VERDICT_WARN, true));
    assert_false(wsp_runreport_verdict_fails(WSP_VERDICT_SKIP, false));
    assert_true(wsp_runreport_verdict_fails(WSP_VERDICT_SKIP, true));
    assert_false(wsp_runreport_verdict_fails(WSP_VERDICT_NOT_APPLICABLE, false));
}

static void result(wsp_check_result *r, const char *id, wsp_verdict v, int status)
{
    wsp_check_result_init(r, id);
    r->verdict = v;
    r->ran = true;
    json_object_set_new(r->evidence, "status", json_integer(status));
    json_object_set_new(r->evidence, "handshake_ms", json_real(1.5 * status));
    json_object_set_new(r->evidence, "bytes_tx", json_integer(status * 3));
}

static void test_parity_matrix(void **state)
{
    (void)state;
    wsp_check_result a[3], b[3];
    result(&a[0], "connect", WSP_VERDICT_PASS, 101);
    result(&b[0], "connect", WSP_VERDICT_PASS, 101);
    b[0].duration_ms = 99; /* volatile: not compared */
    json_object_set_new(b[0].evidence, "handshake_ms", json_real(77.0));
    result(&a[1], "origin.foreign", WSP_VERDICT_PASS, 403);
    result(&b[1], "origin.foreign", WSP_VERDICT_FAIL, 101);
    result(&a[2], "auth.missing", WSP_VERDICT_PASS, 401);
    result(&b[2], "auth.missing", WSP_VERDICT_INCONCLUSIVE, 503);
    wsp_runreport runs[2] = {{.plan_file = "p", .env_name = "staging", .results = a, .n = 3},
                             {.plan_file = "p", .env_name = "prod", .results = b, .n = 3}};
    json_t *j = wsp_parity_json(runs, 2, NULL, NULL);
    assert_non_null(j);
    const json_t *m = json_object_get(j, "matrix");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "status")), "same");
    assert_true(json_is_false(json_object_get(json_array_get(m, 0), "evidence_differs")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "status")),
                        "drift");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "status")),
                        "unproven");
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "drift")), 1);
    json_decref(j);

    /* a baseline where prod's origin check held: a regression */
    json_t *base =
        json_pack("{s:{s:{s:{s:s}}}}", "results", "prod", "origin.foreign", "verdict", "pass");
    j = wsp_parity_json(&runs[1], 1, base, "accepted.json");
    const json_t *regs = json_object_get(json_object_get(j, "baseline"), "regressions");
    assert_int_equal(json_array_size(regs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(regs, 0), "id")),
                        "origin.foreign");
    json_decref(j);
    json_decref(base);
    for (int i = 0; i < 3; i++) {
        wsp_check_result_cleanup(&a[i]);
        wsp_check_result_cleanup(&b[i]);
    }
}

static void test_run_json_and_junit(void **state)
{
    (void)state;
    wsp_check_result r[2];
    result(&r[0], "connect", WSP_VERDICT_PASS, 101);
    result(&r[1], "health", WSP_VERDICT_FAIL, 500);
    r[1].cls = WSP_CLASS_UPGRADE_SERVER_ERROR;
    snprintf(r[1].message, sizeof r[1].message, "bad \x01 bytes \xff and <xml> & \"quotes\"");
    r[1].transcript = strdup("< HTTP/1.1 500\n\x02");
    wsp_runreport rr = {.plan_file = "p.yaml",
                        .env_name = "s",
                        .url_text = "ws://h/?token=abc",
                        .results = r,
                        .n = 2};
    json_t *j = wsp_runreport_json(&rr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 1);
    assert_null(strstr(json_string_value(json_object_get(j, "url")), "abc"));
    const json_t *sum = json_object_get(j, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "passed")), 1);
    json_decref(j);
    char path[] = "/tmp/wsp-test-plan-junit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    wsp_err e;
    assert_int_equal(wsp_runreport_junit_write(&rr, 1, path, &e), 0);
    FILE *f = fopen(path, "rb");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    unlink(path);
    assert_non_null(strstr(buf,
                           "<failure message=\"UPGRADE_SERVER_ERROR: bad ? bytes ? and "
                           "&lt;xml&gt; &amp; &quot;quotes&quot;\" type=\"UPGRADE_SERVER_ERROR\""));
    assert_null(strstr(buf, "\x01"));
    assert_null(strstr(buf, "\x02"));
    assert_non_null(strstr(buf, "<property name=\"status\" value=\"500\"/>"));
    for (int i = 0; i < 2; i++)
        wsp_check_result_cleanup(&r[i]);
}

/* The limits keys before 0.2.0 still work, with a located warning naming the new key; both
 * spellings at once is an error. */
static void test_old_limits_keys(void **state)
{
    (void)state;
    static const char old[] = "environments:\n"
                              "  s:\n"
                              "    url: ws://127.0.0.1:9/ws\n"
                              "    limits: {rate: 7, connections: 3}\n"
                              "checks: [connect]\n";
    wsp_plan_err err;
    wsp_plan *p = wsp_plan_load_buffer("old.yaml", old, strlen(old), &err);
    assert_non_null(p);
    assert_int_equal(wsp_plan_warning_count(p), 2);
    assert_non_null(strstr(wsp_plan_warning(p, 0), "old.yaml:4:14: warning: "));
    assert_non_null(strstr(wsp_plan_warning(p, 0), "limits.rate_limit"));
    assert_non_null(strstr(wsp_plan_warning(p, 1), "limits.max_conns_per_ip"));
    wsp_env env;
    assert_int_equal(wsp_plan_env_load(p, "s", &env, &err), 0);
    assert_true(env.limits.rate_per_s == 7);
    assert_int_equal(env.limits.max_conns_per_client, 3);
    assert_int_equal(wsp_plan_warning_count(p), 2); /* said once */
    wsp_env_cleanup(&env);
    wsp_plan_free(p);
    static const char both[] = "environments:\n"
                               "  s: {url: ws://h/, limits: {rate: 7, rate_limit: 7}}\n"
                               "checks: [connect]\n";
    assert_null(wsp_plan_load_buffer("both.yaml", both, strlen(both), &err));
    assert_non_null(strstr(err.msg, "give rate_limit only"));
}

/* A conversation's steps: list, normalised into the params the checks build steps from, and
 * an environment that speaks Socket.IO. */
static void test_protocol_steps(void **state)
{
    (void)state;
    static const char plan[] =
        "environments:\n"
        "  s:\n"
        "    url: ws://h/\n"
        "    protocol: socketio\n"
        "    namespace: /chat\n"
        "    engineio: 3\n"
        "  g: {url: 'ws://h/graphql', protocol: graphql, connect_payload: {v: 1}}\n"
        "checks:\n"
        "  - conversation:\n"
        "      name: sio\n"
        "      within: 2s\n"
        "      steps:\n"
        "        - expect_event: hello\n"
        "        - expect: {json: {'/0/text': hi}}\n"
        "        - emit_ack: {event: add, args: [2, 3]}\n"
        "        - expect: {json: {'/0/sum': 5}}\n"
        "        - emit: 'note {\"a\": 1}'\n"
        "        - emit: {event: bare}\n"
        "        - emit: {event: one, args: {k: [true, null]}}\n"
        "        - ping\n";
    wsp_plan_err err;
    /* Socket.IO steps on the graphql environment: refused at load, naming it and the step */
    wsp_plan *p = load(plan, &err);
    assert_null(p);
    assert_int_equal(err.line, 9);
    assert_non_null(strstr(err.msg, "environment g"));
    assert_non_null(strstr(err.msg, "step 1 (expect_event)"));
    char text[sizeof plan + 256];
    snprintf(text, sizeof text, "%s", plan);
    char *g = strstr(text, "  g: {");
    memmove(g, strstr(g, "checks:"), strlen(strstr(g, "checks:")) + 1);
    p = load(text, &err);
    if (!p)
        print_error("%s\n", err.msg);
    assert_non_null(p);
    json_error_t je;
    json_t *want =
        json_loads("[{\"expect_event\": \"hello\"},"
                   " {\"expect_json\": [{\"pointer\": \"/0/text\", \"value\": \"\\\"hi\\\"\"}]},"
                   " {\"emit_ack\": \"add\", \"args\": \"[2,3]\"},"
                   " {\"expect_json\": [{\"pointer\": \"/0/sum\", \"value\": \"5\"}]},"
                   " {\"emit\": \"note\", \"args\": \"[{\\\"a\\\": 1}]\"},"
                   " {\"emit\": \"bare\"},"
                   " {\"emit\": \"one\", \"args\": \"[{\\\"k\\\":[true,null]}]\"},"
                   " {\"ping\": true}]",
                   0, &je);
    assert_non_null(want);
    const json_t *params = wsp_plan_items(p)[0].params;
    if (!json_equal(json_object_get(params, "steps"), want)) {
        char *got = json_dumps(json_object_get(params, "steps"), JSON_COMPACT);
        print_error("steps: %s\n", got ? got : "?");
        free(got);
    }
    assert_true(json_equal(json_object_get(params, "steps"), want));
    assert_int_equal(json_integer_value(json_object_get(params, "within_ms")), 2000);
    json_decref(want);
    wsp_env env;
    assert_int_equal(wsp_plan_env_load(p, "s", &env, &err), 0);
    assert_int_equal(env.base.proto.kind, WSP_PROTO_SOCKETIO);
    assert_int_equal(env.base.proto.eio, 3);
    assert_string_equal(env.base.proto.nsp, "/chat");
    assert_non_null(strstr(env.base.url.target, "EIO=3"));
    /* the conversation's probe: the steps of probe.h, judged fit by the command line's rule */
    wsp_probe_config cfg;
    wsp_err e;
    assert_int_equal(wsp_plancheck_conversation_config(&env, params, true, &cfg, &e), 0);
    assert_int_equal(cfg.num_steps, 8);
    assert_int_equal(cfg.steps[0].kind, WSP_STEP_EXPECT_EVENT);
    assert_int_equal(cfg.steps[2].kind, WSP_STEP_EMIT_ACK);
    assert_string_equal(cfg.steps[2].text, "add");
    assert_string_equal(cfg.steps[2].value_json, "[2,3]");
    assert_int_equal(cfg.steps[4].kind, WSP_STEP_EMIT);
    assert_null(cfg.steps[5].value_json);
    assert_string_equal(cfg.steps[6].value_json, "[{\"k\":[true,null]}]");
    assert_int_equal(cfg.steps[7].kind, WSP_STEP_PING);
    assert_int_equal(cfg.steps[1].timeout_us, 2000000);
    wsp_probe_config_cleanup(&cfg);
    wsp_env_cleanup(&env);
    /* GraphQL: subscribe with variables, expect_complete; the rule on other protocols */
    json_t *gp = json_loads("{\"steps\": [{\"subscribe\": \"subscription { n }\", "
                            "\"variables\": \"{\\\"a\\\":1}\"}, {\"expect_complete\": true}]}",
                            0, &je);
    assert_non_null(gp);
    assert_int_equal(wsp_plancheck_steps_check(gp, WSP_PROTO_GRAPHQL, &e), 0);
    assert_int_equal(wsp_plancheck_steps_check(gp, WSP_PROTO_SOCKETIO, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "step 1 (subscribe)"));
    assert_int_equal(wsp_plancheck_steps_check(NULL, WSP_PROTO_NONE, &e), 0);
    /* the marker is the environment's, built for its protocol when it runs */
    assert_int_equal(wsp_plancheck_steps_check(NULL, WSP_PROTO_GRAPHQL, &e), 0);
    json_decref(gp);
    wsp_plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plan),
        cmocka_unit_test(test_env_load),
        cmocka_unit_test(test_protocol_steps),
        cmocka_unit_test(test_old_limits_keys),
        cmocka_unit_test(test_bad_plans_are_located),
        cmocka_unit_test(test_literal_secret_value_never_in_message),
        cmocka_unit_test(test_alias_bomb_and_depth_are_capped),
        cmocka_unit_test(test_nesting_and_second_document_refused_early),
        cmocka_unit_test(test_security_entries),
        cmocka_unit_test(test_exit_policy),
        cmocka_unit_test(test_parity_matrix),
        cmocka_unit_test(test_run_json_and_junit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
