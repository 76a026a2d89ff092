/* security.c - the catalog of security checks, selection, and the helpers every check shares:
 * probes made from the environment, the decision rules of SECURITY-CHECKS.md ("How a check
 * decides"), baselines, raw sessions that break the protocol on purpose, and redaction. The
 * checks themselves live in security_auth.c, security_wire.c and security_transport.c. */
#define _GNU_SOURCE /* memmem */
#include "check/security/security.h"
#include "util/excerpt.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdint.h>

#include <zlib.h>

#include "codec/jsonptr.h"
#include "util/rand.h"
#include "check/security/security_int.h"
#include "probe/setup.h"
#include "codec/template.h"

/* ---- the catalog ---- */

#define CHECK(ID, GROUP, PRI, PROD, FN, SUMMARY)                                                   \
    static const wsp_check_def def_##FN = {ID, GROUP, PRI, PROD, SUMMARY, wsp_sec_##FN, 0};
/* the same, with scheduling flags for the runner (check.h) */
#define CHECKF(ID, GROUP, PRI, PROD, FN, FLAGS, SUMMARY)                                           \
    static const wsp_check_def def_##FN = {ID, GROUP, PRI, PROD, SUMMARY, wsp_sec_##FN, FLAGS};

CHECK("auth.missing", "auth", 1, true, auth_missing,
      "no token, 'Bearer invalid' and a truncated JWT are refused")
CHECK("auth.unsigned", "auth", 1, true, auth_unsigned,
      "alg none (4 spellings), null and cut signatures, empty-secret HS256 are refused")
CHECK("auth.bad_signature", "auth", 1, true, auth_bad_signature,
      "a well-formed token signed with another key is refused")
CHECK("auth.key_confusion", "auth", 1, true, auth_key_confusion,
      "RS/ES endpoints: HS256 signed with the public key PEM is refused")
CHECK("auth.header_injection", "auth", 2, true, auth_header_injection,
      "embedded jwk, kid path traversal and SQL-ish kid are refused")
CHECK("auth.claims", "auth", 1, false, auth_claims,
      "validly signed tokens with exp past, nbf ahead, wrong aud or iss are refused")
CHECK("auth.weak_secret", "auth", 1, true, auth_weak_secret,
      "offline: the HS secret is not one of the common ones (nothing sent)")
CHECK("auth.query_token", "auth", 2, true, auth_query_token,
      "informational: whether a token in the URL is accepted (access logs)")
CHECKF("auth.expiry_on_open", "auth", 3, false, auth_expiry_on_open,
       WSP_CHECK_WAITS | WSP_CHECK_RAW_APP,
       "a connection is closed (1008) once its token expires; not served after")
CHECK("origin.foreign", "origin", 1, true, origin_foreign,
      "a valid credential from Origin https://cswsh.example is refused")
CHECK("origin.bypass", "origin", 1, true, origin_bypass,
      "null, http:// form, suffix, prefix, dot-swapped and lookalike origins are refused")
CHECK("origin.missing", "origin", 2, true, origin_missing,
      "informational: whether a request without Origin is served")
CHECKF("input.xss", "input", 3, false, input_xss, WSP_CHECK_RAW_APP,
       "markup sent through the app's message comes back neutralised or is refused")
CHECKF("input.malformed", "input", 2, false, input_malformed, WSP_CHECK_RAW_APP,
       "invalid JSON, wrong types, deep nesting, unknown types, __proto__ get an error")
CHECKF("input.invalid_utf8", "input", 2, true, input_invalid_utf8,
       WSP_CHECK_ALONE | WSP_CHECK_RAW_APP,
       "a text frame with C3 28 gets close 1007 or a drop, is never relayed or served")
CHECKF("input.framing", "input", 2, true, input_framing, WSP_CHECK_RAW_APP,
       "unmasked, RSV bits, reserved opcodes, long and fragmented pings get 1002 or a drop")
CHECKF("limits.message_size", "limits", 1, true, limits_message_size, WSP_CHECK_RAW_APP,
       "a message of L+1 bytes and a 2^62 length header get close 1009 (or 1008)")
CHECKF("limits.fragments", "limits", 2, true, limits_fragments, WSP_CHECK_RAW_APP,
       "continuation frames adding up to L+1 get close 1009")
CHECKF("limits.deflate_bomb", "limits", 2, true, limits_deflate_bomb, WSP_CHECK_RAW_APP,
       "with permessage-deflate: a few bytes inflating to 2L get close 1009")
CHECKF("limits.rate", "limits", 3, false, limits_rate, WSP_CHECK_WAITS | WSP_CHECK_RAW_APP,
       "messages at a multiple of the rate are throttled or closed")
CHECKF("limits.connections", "limits", 3, false, limits_connections,
       WSP_CHECK_ALONE | WSP_CHECK_RAW_APP,
       "N+1 connections from one client: the last gets 429/503 or close 1008/1013")
CHECKF("limits.slow_handshake", "limits", 2, true, limits_slow_handshake, WSP_CHECK_WAITS,
       "a request dripped one header line at a time is cut within H")
CHECKF("limits.idle", "limits", 2, true, limits_idle, WSP_CHECK_WAITS | WSP_CHECK_RAW_APP,
       "a silent open connection is closed within the idle limit")
CHECK("tls.versions", "transport", 1, true, tls_versions, "TLS 1.2/1.3 succeed, 1.0/1.1 fail")
CHECK("tls.certificate", "transport", 1, true, tls_certificate,
      "chain, name and dates hold; warn under 30 days")
CHECK("transport.plaintext", "transport", 1, true, transport_plaintext,
      "ws:// without credentials is refused (a redirect: warn)")
CHECK("transport.hsts", "transport", 2, true, transport_hsts,
      "HTTPS health answer carries HSTS max-age of a year or more")
CHECK("handshake.hygiene", "handshake", 2, true, handshake_hygiene,
      "correct Accept; no subprotocol or extension that was not offered")
CHECK("handshake.version", "handshake", 2, true, handshake_version,
      "Sec-WebSocket-Version 1337 and Hixie-76 get 4xx, never 101")

static const wsp_check_def *const catalog[] = {
    &def_auth_missing,
    &def_auth_unsigned,
    &def_auth_bad_signature,
    &def_auth_key_confusion,
    &def_auth_header_injection,
    &def_auth_claims,
    &def_auth_weak_secret,
    &def_auth_query_token,
    &def_auth_expiry_on_open,
    &def_origin_foreign,
    &def_origin_bypass,
    &def_origin_missing,
    &def_input_xss,
    &def_input_malformed,
    &def_input_invalid_utf8,
    &def_input_framing,
    &def_limits_message_size,
    &def_limits_fragments,
    &def_limits_deflate_bomb,
    &def_limits_rate,
    &def_limits_connections,
    &def_limits_slow_handshake,
    &def_limits_idle,
    &def_tls_versions,
    &def_tls_certificate,
    &def_transport_plaintext,
    &def_transport_hsts,
    &def_handshake_hygiene,
    &def_handshake_version,
};

#define CATALOG_N (sizeof catalog / sizeof catalog[0])

const wsp_check_def *wsp_security_find(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < CATALOG_N; i++)
        if (strcmp(catalog[i]->id, id) == 0)
            return catalog[i];
    return NULL;
}

size_t wsp_security_list(const wsp_check_def *const **out)
{
    if (out)
        *out = catalog;
    return CATALOG_N;
}

static const char *const groups[] = {"auth",      "origin",    "input", "limits",
                                     "transport", "handshake", "tls"};

bool wsp_security_is_group(const char *name)
{
    for (size_t i = 0; name && i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(name, groups[i]) == 0)
            return true;
    return false;
}

static bool in_group(const wsp_check_def *d, const char *g)
{
    if (strcmp(g, "all") == 0)
        return true;
    if (strcmp(g, "tls") == 0)
        return strncmp(d->id, "tls.", 4) == 0;
    return strcmp(d->group, g) == 0;
}

int wsp_security_select(const char *const *names, size_t num_names, bool include_staging,
                        const wsp_check_def **out, size_t *n_out, wsp_err *err)
{
    bool want[CATALOG_N] = {false};
    static const char *const all[] = {"all"};
    if (num_names == 0) {
        names = all;
        num_names = 1;
    }
    for (size_t k = 0; k < num_names; k++) {
        const char *nm = names[k];
        const wsp_check_def *d = wsp_security_find(nm);
        if (d) {
            if (!d->prod_safe && !include_staging)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "%s is not safe against production (staging only): add "
                                   "--include-staging-only to run it",
                                   nm);
            for (size_t i = 0; i < CATALOG_N; i++)
                want[i] |= catalog[i] == d;
            continue;
        }
        if (strcmp(nm, "all") != 0 && !wsp_security_is_group(nm))
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "'%.64s' is neither a check id nor a group (groups: auth, origin, "
                               "input, limits, transport, handshake, tls; ids: wsprobe security "
                               "--list)",
                               nm);
        for (size_t i = 0; i < CATALOG_N; i++)
            if (in_group(catalog[i], nm) && (catalog[i]->prod_safe || include_staging))
                want[i] = true;
    }
    size_t n = 0;
    for (size_t i = 0; i < CATALOG_N; i++)
        if (want[i])
            out[n++] = catalog[i];
    *n_out = n;
    return 0;
}

/* ---- the suite's deadline ---- */

uint64_t wsp_sec_clamp_us(const wsp_env *env, uint64_t us)
{
    uint64_t suite_deadline_ns = env->deadline_ns;
    if (!suite_deadline_ns)
        return us;
    uint64_t now = wsp_clock_mono_ns();
    uint64_t left = now >= suite_deadline_ns ? 1000 : (suite_deadline_ns - now) / 1000;
    if (left < 1000)
        left = 1000;
    return us == 0 || left < us ? left : us;
}

bool wsp_security_runs_alone(const wsp_check_def *d)
{
    return (d->flags & WSP_CHECK_ALONE) != 0;
}

/* ---- probes built from the environment ---- */

static const char default_marker_send[] =
    "{\"type\":\"chat_message\",\"content\":\"wsprobe marker {{uuid}}\",\"id\":\"{{uuid}}\"}";

const char *wsp_sec_allowed_origin(const wsp_env *env)
{
    return env->allowed_origin ? env->allowed_origin : env->base.conn.origin;
}

uint64_t wsp_sec_marker_wait_us(const wsp_env *env)
{
    uint64_t t = env->base.conn.timeout_us;
    return t ? t : WSP_PROBE_DEFAULT_TIMEOUT_US;
}

void wsp_sec_cfg_from_env(const wsp_env *env, wsp_probe_config *cfg)
{
    *cfg = env->base;
    cfg->conn.url = &cfg->url;
    cfg->steps = NULL;
    cfg->num_steps = 0;
    cfg->expect_auth_required = false;
    cfg->has_health = false;
    cfg->auth = &env->auth;
    cfg->conn.origin = wsp_sec_allowed_origin(env);
    cfg->conn.trace = NULL;
    cfg->conn.deadline_us = wsp_sec_clamp_us(env, cfg->conn.deadline_us);
}

char *wsp_sec_message(const char *tmpl, size_t *len_out)
{
    wsp_err e;
    wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
    return wsp_tmpl_expand(tmpl, &live, len_out, &e);
}

const char *wsp_sec_marker_template(const wsp_env *env)
{
    return env->marker_send ? env->marker_send : default_marker_send;
}

/* Whether the marker message, once expanded, carries a string or integer at /id. */
static bool marker_has_id(const wsp_env *env)
{
    size_t len = 0;
    char *m = wsp_sec_message(wsp_sec_marker_template(env), &len);
    if (!m)
        return false;
    json_error_t je;
    json_t *doc = json_loadb(m, len, 0, &je);
    free(m);
    json_t *id = doc ? wsp_jsonptr_get(doc, "/id") : NULL;
    bool ok = json_is_string(id) || json_is_integer(id);
    json_decref(doc);
    return ok;
}

void wsp_sec_marker_get(const wsp_env *env, wsp_sec_marker *m)
{
    memset(m, 0, sizeof *m);
    if (env->base.proto.kind != WSP_PROTO_NONE) {
        /* an ack answers its own emit's id; a value answers its own subscription's id */
        m->correlated = true;
        if (env->marker_expect_pointer) {
            m->ptr[0] = env->marker_expect_pointer;
            m->val[0] = env->marker_expect_value ? env->marker_expect_value : "";
            m->n = 1;
        }
        return;
    }
    if (env->marker_expect_pointer) {
        m->ptr[0] = env->marker_expect_pointer;
        m->val[0] = env->marker_expect_value ? env->marker_expect_value : "";
        m->n = 1;
    } else {
        /* the default: an ack; and, when the marker message has an id, the ack must return
         * that id, so that no other connection's ack (a broadcasting server, the suite's
         * other checks) can pass for ours (docs/security.md "Correlation") */
        m->ptr[0] = "/type";
        m->val[0] = env->marker_expect_value ? env->marker_expect_value : "ack";
        m->n = 1;
        if (marker_has_id(env)) {
            m->ptr[1] = "/id";
            m->val[1] = "{{sent./id}}";
            m->n = 2;
        }
    }
    for (size_t k = 0; k < m->n; k++) {
        m->corr[k] = strstr(m->val[k], "{{sent.") != NULL;
        m->correlated |= m->corr[k];
    }
}

int wsp_security_add_marker(const wsp_env *env, wsp_probe_config *cfg, uint64_t timeout_us)
{
    if (wsp_sec_cfg_add_marker(env, cfg) != 0)
        return -1;
    if (timeout_us)
        cfg->steps[cfg->num_steps - 1].timeout_us = timeout_us;
    return 0;
}

/* The marker's first step: a text message, or under a protocol its own request (Socket.IO:
 * an emit-ack of --marker-send 'EVENT JSON', correlated by its ack id; GraphQL: a subscribe
 * of the --marker-send document, whose first value answers it). */
static int marker_request(const wsp_env *env, wsp_probe_config *cfg)
{
    wsp_step s;
    memset(&s, 0, sizeof s);
    const char *t = wsp_sec_marker_template(env);
    switch (env->base.proto.kind) {
    case WSP_PROTO_NONE:
        s.kind = WSP_STEP_SEND;
        s.text = strdup(t);
        break;
    case WSP_PROTO_SOCKETIO: {
        wsp_err e; /* checked at start (cmd_security, the plan's marker): memory only here */
        s.kind = WSP_STEP_EMIT_ACK;
        if (wsp_probe_emit_spec("--marker-send", t, &s.text, &s.value_json, &e) != 0)
            return -1;
        break;
    }
    case WSP_PROTO_GRAPHQL:
        s.kind = WSP_STEP_SUBSCRIBE;
        s.text = strdup(t);
        break;
    }
    if (!s.text)
        return -1;
    s.len = strlen(s.text);
    s.timeout_us = wsp_sec_marker_wait_us(env);
    if (wsp_probe_config_add_step(cfg, &s) != 0) {
        free(s.text);
        free(s.value_json);
        return -1;
    }
    return 0;
}

int wsp_sec_cfg_add_marker(const wsp_env *env, wsp_probe_config *cfg)
{
    if (marker_request(env, cfg) != 0)
        return -1;
    if (env->base.proto.kind != WSP_PROTO_NONE && !env->marker_expect_pointer)
        return 0; /* the ack, or the first value, is the marker */
    wsp_step s;
    /* the probe expands {{sent./ptr}} against the message it sent (probe.h): a reply that
     * answers another connection does not match, and is skipped */
    wsp_sec_marker m;
    wsp_sec_marker_get(env, &m);
    memset(&s, 0, sizeof s);
    s.kind = WSP_STEP_EXPECT_JSON;
    s.pointer = strdup(m.ptr[0]);
    s.value_json = strdup(m.val[0]);
    bool ok = s.pointer && s.value_json;
    for (size_t k = 1; k < m.n && k - 1 < WSP_STEP_MAX_ALSO; k++) {
        s.also_pointer[s.num_also] = strdup(m.ptr[k]);
        s.also_value[s.num_also] = strdup(m.val[k]);
        ok &= s.also_pointer[s.num_also] && s.also_value[s.num_also];
        s.num_also++;
    }
    s.timeout_us = wsp_sec_marker_wait_us(env);
    if (!ok || wsp_probe_config_add_step(cfg, &s) != 0) {
        free(s.pointer);
        free(s.value_json);
        for (size_t k = 0; k < s.num_also; k++) {
            free(s.also_pointer[k]);
            free(s.also_value[k]);
        }
        return -1;
    }
    return 0;
}

const char *wsp_sec_outcome_name(wsp_sec_outcome o)
{
    switch (o) {
    case WSP_SEC_REFUSED_HS:
        return "refused_at_handshake";
    case WSP_SEC_REFUSED_OPEN:
        return "refused_after_open";
    case WSP_SEC_WEAK:
        return "closed_before_data";
    case WSP_SEC_SERVER_ERROR:
        return "server_error";
    case WSP_SEC_EDGE:
        return "edge_error";
    case WSP_SEC_SILENT:
        return "no_answer";
    case WSP_SEC_UNREACHABLE:
        return "unreachable";
    case WSP_SEC_ACCEPTED:
        return "accepted";
    }
    return "unreachable";
}

bool wsp_sec_rejecting_code(int code)
{
    return code == 1002 || code == 1003 || code == 1007 || code == 1008 || code == 1009 ||
           code == 1013 || (code >= 4000 && code <= 4999);
}

wsp_sec_outcome wsp_sec_judge_record(const wsp_conn_record *r, bool marker_seen)
{
    if (marker_seen)
        return WSP_SEC_ACCEPTED;
    /* --protocol: the application refused on the open connection (Socket.IO's CONNECT_ERROR,
     * GraphQL's 4401/4403, or a GraphQL error answering the marker) */
    if (r->handshake_completed &&
        (r->err.cls == WSP_CLASS_APP_AUTH_REFUSED || r->err.cls == WSP_CLASS_APP_ERROR))
        return WSP_SEC_REFUSED_OPEN;
    if (!r->handshake_completed) {
        int st = r->http_status;
        if (st == 502 || st == 503 || st == 504)
            return WSP_SEC_EDGE;
        if (st >= 500)
            return WSP_SEC_SERVER_ERROR;
        if (st > 0 && st != 101)
            return WSP_SEC_REFUSED_HS;
        /* closed before a status line, after the request went out */
        if (st == 0 && r->t_request && r->err.cls == WSP_CLASS_HS_NO_RESPONSE)
            return WSP_SEC_REFUSED_HS;
        return WSP_SEC_UNREACHABLE;
    }
    if (r->closed_by == WSP_CLOSED_BY_SERVER) {
        if (r->close_code == 1011)
            return WSP_SEC_SERVER_ERROR;
        if (wsp_sec_rejecting_code(r->close_code))
            return WSP_SEC_REFUSED_OPEN;
        return WSP_SEC_WEAK;
    }
    if (r->err.cls == WSP_CLASS_WS_DROPPED)
        return WSP_SEC_REFUSED_OPEN;
    return WSP_SEC_SILENT;
}

wsp_sec_outcome wsp_sec_judge(const wsp_probe *p)
{
    const wsp_probe_config *cfg = wsp_probe_get_config(p);
    const wsp_step_result *sr = wsp_probe_step_results(p);
    bool marker = cfg->num_steps > 0 && sr[cfg->num_steps - 1].ok;
    return wsp_sec_judge_record(wsp_probe_record(p), marker);
}

wsp_sec_batch *wsp_sec_batch_run(const wsp_probe_config *const *cfgs, size_t n)
{
    wsp_sec_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->probes = calloc(n ? n : 1, sizeof *b->probes);
    if (!b->probes || uv_loop_init(&b->loop) != 0) {
        free(b->probes);
        free(b);
        return NULL;
    }
    b->n = n;
    for (size_t i = 0; i < n; i++)
        b->probes[i] = wsp_probe_new(&b->loop, cfgs[i], NULL, NULL);
    for (size_t i = 0; i < n; i++)
        if (b->probes[i])
            wsp_probe_start(b->probes[i]);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    return b;
}

void wsp_sec_batch_free(wsp_sec_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        wsp_probe_free(b->probes[i]);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    free(b->probes);
    free(b);
}

/* ---- baselines and tallies ---- */

bool wsp_sec_baseline(const wsp_env *env, wsp_check_result *out, const char *key, bool set_verdict)
{
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    if (wsp_sec_cfg_add_marker(env, &cfg) != 0) {
        wsp_probe_config_cleanup(&cfg);
        if (set_verdict)
            wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return false;
    }
    wsp_probe *p = wsp_probe_run(&cfg);
    bool ok = false;
    if (p) {
        const wsp_err *v = wsp_probe_verdict(p);
        ok = v->cls == WSP_CLASS_OK;
        wsp_check_add_probe_evidence(out, key, p);
        wsp_sec_marker m;
        wsp_sec_marker_get(env, &m);
        json_object_set_new(json_object_get(out->evidence, key), "marker_correlated",
                            json_boolean(m.correlated));
        if (!ok && set_verdict) {
            wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, v->cls,
                          "the baseline (%s: valid credential, allowed origin, success marker) "
                          "failed, so a refusal would prove nothing: %s: %.300s",
                          key, wsp_class_name(v->cls), v->msg);
            snprintf(out->hint, sizeof out->hint,
                     "make the baseline pass first (wsprobe probe with the same credential, "
                     "--origin and the marker conversation); a failing after-baseline can also "
                     "mean the endpoint banned this address during the check%s",
                     !env->marker_expect_pointer && m.correlated
                         ? "; the default marker wants the ack to return the id it sent "
                           "(/id={{sent./id}}): for an endpoint whose ack has no id, give "
                           "--marker-expect /type=ack"
                         : "");
        }
        wsp_probe_free(p);
    } else if (set_verdict) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
    }
    wsp_probe_config_cleanup(&cfg);
    return ok;
}

static void append_name(char *buf, size_t cap, const char *name)
{
    size_t n = strlen(buf);
    if (n + 2 >= cap)
        return;
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", name);
}

void wsp_sec_count(wsp_sec_tally *t, const char *name, wsp_sec_outcome o)
{
    t->n[o]++;
    if (o == WSP_SEC_ACCEPTED)
        append_name(t->accepted, sizeof t->accepted, name);
    else if (o == WSP_SEC_EDGE || o == WSP_SEC_SILENT || o == WSP_SEC_UNREACHABLE)
        append_name(t->unsure, sizeof t->unsure, name);
}

void wsp_sec_note(wsp_check_result *out, wsp_sec_tally *t, const char *name, const wsp_probe *p,
                  wsp_sec_outcome o)
{
    wsp_check_add_probe_evidence(out, name, p);
    json_t *e = json_object_get(out->evidence, name);
    if (e)
        json_object_set_new(e, "outcome", json_string(wsp_sec_outcome_name(o)));
    wsp_sec_count(t, name, o);
}

wsp_sec_outcome wsp_sec_probe_once(const wsp_probe_config *cfg, wsp_check_result *out,
                                   const char *name)
{
    wsp_probe *p = wsp_probe_run(cfg);
    if (!p)
        return WSP_SEC_UNREACHABLE;
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    wsp_sec_outcome o = wsp_sec_judge(p);
    wsp_sec_note(out, &t, name, p, o);
    wsp_probe_free(p);
    return o;
}

wsp_verdict wsp_sec_conclude(wsp_check_result *out, const wsp_sec_tally *t, bool after_ok,
                             const char *what)
{
    unsigned total = 0;
    for (int i = 0; i <= WSP_SEC_ACCEPTED; i++)
        total += t->n[i];
    json_t *o = json_object();
    for (int i = 0; i <= WSP_SEC_ACCEPTED; i++)
        if (t->n[i])
            json_object_set_new(o, wsp_sec_outcome_name((wsp_sec_outcome)i), json_integer(t->n[i]));
    json_object_set_new(out->evidence, "outcomes", o);
    if (total == 0)
        return wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                             "none of the %s could be sent: nothing was proven", what);
    if (t->n[WSP_SEC_ACCEPTED])
        return wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                             "%s: %u of %u accepted (the success marker came back): %s", what,
                             t->n[WSP_SEC_ACCEPTED], total, t->accepted);
    if (t->unsure[0])
        return wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                             "no clear answer to %s: %s (no response, timeout or edge error)", what,
                             t->unsure);
    if (!after_ok) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "every one of %u %s was refused, but the baseline after them failed: the "
                      "refusals may come from a ban or an outage",
                      total, what);
        return out->verdict;
    }
    if (t->n[WSP_SEC_SERVER_ERROR])
        return wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                             "%s were refused, %u of them with a server error (5xx or close 1011) "
                             "rather than a clean refusal",
                             what, t->n[WSP_SEC_SERVER_ERROR]);
    if (t->n[WSP_SEC_WEAK])
        return wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                             "%s: all %u refused (%u weakly: 101 then a close before any data)",
                             what, total, t->n[WSP_SEC_WEAK]);
    return wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK, "%s: all %u refused", what, total);
}

/* ---- raw sessions ---- */

/* What every raw session of this process sent (FNV-1a hashes of the text and binary messages),
 * so that a server relaying one connection's message to the others (a broadcast) cannot make
 * it count as a reply on another connection. Checks run on several threads: one lock. A ring:
 * the oldest entries go first, which only matters past a few thousand messages. */
#define SENT_REGISTRY_N 4096
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t registry[SENT_REGISTRY_N];
static size_t registry_next, registry_used;

static uint64_t fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void registry_add(uint64_t h)
{
    pthread_mutex_lock(&registry_lock);
    registry[registry_next] = h;
    registry_next = (registry_next + 1) % SENT_REGISTRY_N;
    if (registry_used < SENT_REGISTRY_N)
        registry_used++;
    pthread_mutex_unlock(&registry_lock);
}

static bool registry_has(uint64_t h)
{
    bool hit = false;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_used && !hit; i++)
        hit = registry[i] == h;
    pthread_mutex_unlock(&registry_lock);
    return hit;
}

/* The marker's expected values, expanded against `sent` (NULL: none), as the probe reads an
 * expectation (probe.c): JSON when the expansion parses as JSON, else a string. want[k] is NULL
 * where a placeholder cannot be filled (a pointer missing from the sent message). Returns
 * whether every value was filled. */
static bool marker_wants(const wsp_sec_marker *m, const char *sent, size_t sent_len, json_t **want)
{
    wsp_tmpl_ctx ctx = wsp_probe_tmpl_ctx(sent, sent_len);
    bool all = true;
    for (size_t k = 0; k < m->n; k++) {
        wsp_err e;
        want[k] = wsp_probe_expected_value(m->val[k], &ctx, &e);
        all &= want[k] != NULL;
    }
    return all;
}

static bool pairs_hold(const wsp_sec_marker *m, json_t *doc, json_t *const *want)
{
    for (size_t k = 0; k < m->n; k++) {
        json_t *got = wsp_jsonptr_get(doc, m->ptr[k]);
        if (!want[k] || !got || !json_equal(want[k], got))
            return false;
    }
    return true;
}

void wsp_sec_raw_keep_sent(wsp_sec_raw *s, const void *data, size_t len)
{
    uint64_t h = fnv1a(data, len);
    registry_add(h);
    if (s->nsent >= WSP_SEC_SENT_MAX)
        return;
    if (!s->sent) {
        s->sent = calloc(WSP_SEC_SENT_MAX, sizeof *s->sent);
        if (!s->sent)
            return;
    }
    wsp_sec_sent *e = &s->sent[s->nsent++];
    memset(e, 0, sizeof *e);
    e->hash = h;
    if (s->marker.correlated)
        e->can_answer = marker_wants(&s->marker, data, len, e->want);
}

int wsp_sec_raw_send_text(wsp_sec_raw *s, const char *text, size_t len)
{
    wsp_sec_raw_keep_sent(s, text, len);
    return wsp_conn_send(s->c, WSP_WS_OP_TEXT, text, len);
}

/* Whether a text message is a marker reply; marks the message of ours it answers. */
static bool raw_marker(wsp_sec_raw *s, json_t *doc)
{
    if (!doc)
        return false;
    if (!s->marker.correlated)
        return pairs_hold(&s->marker, doc, s->fixed_want);
    /* newest first: the reply usually answers what was sent last */
    for (size_t i = s->nsent; i-- > 0;) {
        wsp_sec_sent *e = &s->sent[i];
        if (e->can_answer && pairs_hold(&s->marker, doc, e->want)) {
            if (!e->answered) {
                e->answered = true;
                s->markers++;
            }
            return true;
        }
    }
    return false;
}

/* Whether a message carries a correlated value (the marker's {{sent./ptr}}: /id by default)
 * that no message of ours has: it answers, or relays, another connection's message. */
static bool raw_other_correlation(const wsp_sec_raw *s, json_t *doc)
{
    if (!doc || !s->marker.correlated)
        return false;
    for (size_t k = 0; k < s->marker.n; k++) {
        if (!s->marker.corr[k])
            continue;
        json_t *got = wsp_jsonptr_get(doc, s->marker.ptr[k]);
        if (!got || json_is_null(got))
            continue;
        bool ours = false;
        for (size_t i = 0; i < s->nsent && !ours; i++)
            ours = s->sent[i].want[k] && json_equal(s->sent[i].want[k], got);
        if (!ours)
            return true;
    }
    return false;
}

static void raw_keepalive_cb(uv_timer_t *t)
{
    wsp_sec_raw *s = t->data;
    if (!s->done && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN)
        wsp_conn_send(s->c, WSP_WS_OP_PING, "wsprobe", 7);
}

static void raw_timer_cb(uv_timer_t *t)
{
    wsp_sec_raw *s = t->data;
    if (s->done)
        return;
    if (s->o.marker_at_end && !s->end_marker_sent && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN) {
        /* the wait is over and the connection is still open: is it still served? */
        s->end_marker_sent = true;
        uv_timer_stop(&s->keepalive);
        wsp_sec_raw_send_marker(s);
        uint64_t w = s->o.marker_wait_us ? s->o.marker_wait_us : wsp_sec_marker_wait_us(s->env);
        uv_timer_start(&s->timer, raw_timer_cb, (w + 999) / 1000, 0);
        return;
    }
    s->timed_out = wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN;
    wsp_conn_close(s->c, WSP_WS_CLOSE_NORMAL, NULL);
}

void wsp_sec_raw_rearm(wsp_sec_raw *s, uint64_t wait_us)
{
    if (s->done || !s->c || wsp_conn_get_phase(s->c) != WSP_PHASE_OPEN)
        return;
    /* a ping keeps the server's idle timer from ending a connection that only listens */
    wsp_conn_send(s->c, WSP_WS_OP_PING, "wsprobe", 7);
    uv_timer_start(&s->timer, raw_timer_cb, (wait_us + 999) / 1000, 0);
}

int wsp_sec_raw_send(wsp_sec_raw *s, const void *data, size_t len)
{
    return wsp_conn_send_raw(s->c, data, len);
}

int wsp_sec_raw_frame(wsp_sec_raw *s, bool fin, unsigned opcode, unsigned rsv, const void *data,
                      size_t len, bool masked)
{
    uint8_t hdr[WSP_WS_HEADER_MAX];
    uint8_t key[4] = {0x5a, 0x17, 0xc3, 0x9e};
    wsp_rand_bytes(key, sizeof key); /* RFC 6455 5.3: a fresh key per frame */
    size_t h = wsp_ws_header_encode(hdr, fin, opcode, rsv, len, masked ? key : NULL);
    uint8_t *buf = malloc(h + len + 1);
    if (!buf)
        return -1;
    memcpy(buf, hdr, h);
    if (len)
        memcpy(buf + h, data, len);
    if (masked)
        wsp_ws_mask(buf + h, len, key, 0);
    /* a whole message: kept, so that a server relaying it is recognised (struct wsp_sec_raw) */
    if (fin && (opcode == WSP_WS_OP_TEXT || opcode == WSP_WS_OP_BINARY))
        wsp_sec_raw_keep_sent(s, data, len);
    int rc = wsp_conn_send_raw(s->c, buf, h + len);
    free(buf);
    return rc;
}

int wsp_sec_raw_send_marker(wsp_sec_raw *s)
{
    size_t len = 0;
    char *m = wsp_sec_message(wsp_sec_marker_template(s->env), &len);
    if (!m)
        return -1;
    int rc = wsp_sec_raw_send_text(s, m, len);
    free(m);
    return rc;
}

static void raw_on_open(wsp_conn *c, void *ud)
{
    wsp_sec_raw *s = ud;
    (void)c;
    s->opened = true;
    s->t_open = uv_hrtime();
    if (s->have_areq && s->areq.first_message)
        wsp_sec_raw_send_text(s, s->areq.first_message, strlen(s->areq.first_message));
    for (size_t i = 0; i < s->npeers; i++) {
        wsp_sec_raw *d = s->peers[i];
        if (d->o.after == s && d->c && !d->started) {
            d->started = true;
            wsp_conn_start(d->c);
        }
    }
    if (s->o.on_open)
        s->o.on_open(s, s->o.ud);
    if (s->o.marker_after && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN)
        wsp_sec_raw_send_marker(s);
    if (!s->done && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN &&
        !uv_is_active((uv_handle_t *)&s->timer)) {
        uint64_t w = s->o.wait_us ? s->o.wait_us : wsp_sec_marker_wait_us(s->env);
        uv_timer_start(&s->timer, raw_timer_cb, (w + 999) / 1000, 0);
        if (s->o.keepalive_us)
            uv_timer_start(&s->keepalive, raw_keepalive_cb, (s->o.keepalive_us + 999) / 1000,
                           (s->o.keepalive_us + 999) / 1000);
    }
}

/* RFC 7692 7.2.2: inflate a compressed message (the 00 00 FF FF tail appended), at most
 * INFLATE_MAX bytes: enough to read a reply, never a bomb of our own. Heap or NULL. */
#define INFLATE_MAX (1u << 20)

static uint8_t *inflate_message(const uint8_t *in, size_t len, size_t *out_len)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t *out = malloc(INFLATE_MAX);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (!out || inflateInit2(&zs, -15) != Z_OK) {
        free(out);
        return NULL;
    }
    zs.next_out = out;
    zs.avail_out = INFLATE_MAX;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
        zs.next_in = (Bytef *)(uintptr_t)tail;
        zs.avail_in = sizeof tail;
        rc = inflate(&zs, Z_SYNC_FLUSH);
    }
    *out_len = INFLATE_MAX - zs.avail_out;
    inflateEnd(&zs);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        free(out);
        return NULL;
    }
    return out;
}

static void raw_handle_message(wsp_sec_raw *s, const wsp_ws_event *ev);

static void raw_on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev)
{
    wsp_sec_raw *s = ud;
    (void)c;
    if (ev->type != WSP_WS_EV_TEXT && ev->type != WSP_WS_EV_BINARY)
        return;
    if (ev->compressed) {
        size_t n = 0;
        uint8_t *plain = inflate_message(ev->data, ev->len, &n);
        if (!plain)
            return;
        wsp_ws_event e2 = *ev;
        e2.data = plain;
        e2.len = n;
        e2.compressed = false;
        raw_handle_message(s, &e2);
        free(plain);
        return;
    }
    raw_handle_message(s, ev);
}

void wsp_sec_raw_init_correlation(const wsp_env *env, wsp_sec_raw *s)
{
    wsp_sec_marker_get(env, &s->marker);
    if (!s->marker.correlated)
        marker_wants(&s->marker, NULL, 0, s->fixed_want);
}

wsp_sec_seen wsp_sec_raw_classify(wsp_sec_raw *s, bool text, const uint8_t *data, size_t len,
                                  json_t **doc_out)
{
    wsp_sec_seen r = {false, false, false};
    uint64_t h = fnv1a(data, len);
    for (size_t i = 0; i < s->nsent && !r.echo; i++)
        r.echo = s->sent[i].hash == h;
    json_t *doc = NULL;
    if (text) {
        json_error_t je;
        doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    }
    r.marker = text && raw_marker(s, doc);
    /* another connection's traffic (a broadcast of another check's message, an ack to another
     * connection) says nothing about what the server did with ours */
    r.foreign = !r.marker && !r.echo && !s->o.watch_room &&
                (raw_other_correlation(s, doc) || registry_has(h));
    if (doc_out)
        *doc_out = doc;
    else
        json_decref(doc);
    return r;
}

static void raw_handle_message(wsp_sec_raw *s, const wsp_ws_event *ev)
{
    json_t *doc = NULL;
    wsp_sec_seen k = wsp_sec_raw_classify(s, ev->type == WSP_WS_EV_TEXT, ev->data, ev->len, &doc);
    bool marker = k.marker, echo = k.echo;
    if (k.foreign) {
        s->foreign++;
        json_decref(doc);
        return;
    }
    s->messages++;
    if (echo)
        s->echoes++;
    wsp_excerpt(s->last_message, sizeof s->last_message, ev->data, ev->len);
    bool tagged =
        s->o.until_tags && memmem(ev->data, ev->len, s->o.until_tags, strlen(s->o.until_tags));
    /* with tags, keep only the tagged messages: others' traffic cannot crowd them out */
    if (ev->type == WSP_WS_EV_TEXT && json_array_size(s->messages_json) < 32 &&
        (!s->o.until_tags || tagged))
        json_array_append_new(s->messages_json,
                              doc ? json_incref(doc)
                                  : json_stringn((const char *)ev->data, ev->len));
    json_decref(doc);
    bool stop = s->o.stop_on_reply;
    if (marker) {
        s->marker_seen = true;
        s->marker_replies++;
        if (!s->marker.correlated)
            s->markers++;
        stop |= s->o.stop_on_marker;
        if (!s->o.until_tags && s->o.until_count && s->markers >= s->o.until_count)
            stop = true;
    }
    if (tagged) {
        s->tagged++;
        if (s->o.until_count && s->tagged >= s->o.until_count)
            stop = true;
    }
    if (stop && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN) {
        uv_timer_stop(&s->timer);
        wsp_conn_close(s->c, WSP_WS_CLOSE_NORMAL, NULL);
    }
}

static void raw_on_done(wsp_conn *c, void *ud)
{
    wsp_sec_raw *s = ud;
    s->done = true;
    uv_timer_stop(&s->timer);
    uv_timer_stop(&s->keepalive);
    s->rec = *wsp_conn_get_record(c);
    s->rec.http_head = NULL;
    s->rec.http_head_len = 0;
    if (s->t_open)
        s->open_ms = (double)(uv_hrtime() - s->t_open) / 1e6;
    if (s->o.on_end)
        s->o.on_end(s, s->o.ud);
}

static const wsp_conn_cbs raw_cbs = {raw_on_open, raw_on_message, raw_on_done};

static int raw_prepare(const wsp_env *env, wsp_sec_raw *s, uv_loop_t *loop)
{
    wsp_sec_raw_opts o = s->o;
    memset(s, 0, sizeof *s);
    s->o = o;
    s->env = env;
    s->url = env->base.url;
    s->copts = env->base.conn;
    s->copts.url = &s->url;
    s->copts.trace = NULL;
    s->copts.origin = o.origin ? o.origin : wsp_sec_allowed_origin(env);
    if (o.extensions)
        s->copts.extensions = o.extensions;
    s->copts.limits.allowed_rsv = o.allowed_rsv;
    s->copts.deadline_us = wsp_sec_clamp_us(env, s->copts.deadline_us);
    s->rec.close_code = -1;
    s->messages_json = json_array();
    wsp_sec_raw_init_correlation(env, s);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(loop, &s->keepalive);
    s->keepalive.data = s;
    s->timer_on = true;
    const wsp_auth *auth = o.auth ? o.auth : &env->auth;
    if (o.with_auth && wsp_auth_active(auth)) {
        wsp_err e;
        wsp_err_clear(&e);
        char *tok = wsp_auth_token(auth, &e);
        if (!tok || wsp_auth_request_make(auth, tok, s->url.target, s->copts.subprotocols, &s->areq,
                                          &e) != 0) {
            wsp_auth_token_free(tok);
            s->rec.err = e;
            s->done = true;
            return -1;
        }
        wsp_auth_token_free(tok);
        s->have_areq = true;
        if (s->areq.header && s->copts.num_headers < WSP_CONN_MAX_HEADERS)
            s->copts.headers[s->copts.num_headers++] = s->areq.header;
        if (s->areq.target)
            snprintf(s->url.target, sizeof s->url.target, "%s", s->areq.target);
        if (s->areq.subprotocols)
            s->copts.subprotocols = s->areq.subprotocols;
    }
    s->c = wsp_conn_new(loop, &s->copts, &raw_cbs, s);
    if (!s->c) {
        wsp_err_set(&s->rec.err, WSP_CLASS_INTERNAL, "out of memory");
        s->done = true;
        return -1;
    }
    return 0;
}

int wsp_sec_raw_run(const wsp_env *env, wsp_sec_raw *const *s, size_t n)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (raw_prepare(env, s[i], &loop) != 0)
            rc = -1;
    for (size_t i = 0; i < n; i++) {
        s[i]->peers = s;
        s[i]->npeers = n;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i]->c && !s[i]->o.after) {
            s[i]->started = true;
            wsp_conn_start(s[i]->c);
        }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < n; i++) {
        wsp_conn_free(s[i]->c);
        s[i]->c = NULL;
        if (s[i]->timer_on) {
            uv_close((uv_handle_t *)&s[i]->timer, NULL);
            uv_close((uv_handle_t *)&s[i]->keepalive, NULL);
        }
        s[i]->timer_on = false;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

void wsp_sec_raw_cleanup(wsp_sec_raw *s)
{
    if (!s)
        return;
    if (s->have_areq)
        wsp_auth_request_cleanup(&s->areq);
    s->have_areq = false;
    json_decref(s->messages_json);
    s->messages_json = NULL;
    for (size_t i = 0; i < s->nsent; i++)
        for (size_t k = 0; k < WSP_SEC_MARKER_PAIRS; k++)
            json_decref(s->sent[i].want[k]);
    free(s->sent);
    s->sent = NULL;
    s->nsent = 0;
    for (size_t k = 0; k < WSP_SEC_MARKER_PAIRS; k++) {
        json_decref(s->fixed_want[k]);
        s->fixed_want[k] = NULL;
    }
}

void wsp_sec_raw_evidence(wsp_check_result *out, const char *key, const wsp_sec_raw *s,
                          const char *outcome)
{
    const wsp_conn_record *r = &s->rec;
    json_t *e = json_object();
    json_object_set_new(e, "class", json_string(wsp_class_name(r->err.cls)));
    json_object_set_new(e, "message", json_string(r->err.msg));
    json_object_set_new(e, "status", r->http_status ? json_integer(r->http_status) : json_null());
    json_object_set_new(e, "close_code",
                        r->close_code >= 0 ? json_integer(r->close_code) : json_null());
    json_object_set_new(e, "close_reason", json_string(r->close_reason));
    json_object_set_new(e, "closed_by",
                        r->closed_by == WSP_CLOSED_BY_SERVER   ? json_string("server")
                        : r->closed_by == WSP_CLOSED_BY_CLIENT ? json_string("client")
                                                               : json_null());
    json_object_set_new(e, "handshake_ms",
                        r->t_upgraded && r->t_request
                            ? json_real(wsp_conn_ms(r->t_request, r->t_upgraded))
                            : json_null());
    json_object_set_new(e, "open_ms", s->opened ? json_real(s->open_ms) : json_null());
    json_object_set_new(e, "bytes_tx", json_integer((json_int_t)r->tx_bytes));
    json_object_set_new(e, "bytes_rx", json_integer((json_int_t)r->rx_bytes));
    json_object_set_new(e, "received_messages", json_integer(s->messages));
    if (s->echoes)
        json_object_set_new(e, "echoes", json_integer(s->echoes));
    if (s->foreign)
        json_object_set_new(e, "skipped_foreign", json_integer(s->foreign));
    json_object_set_new(e, "marker_seen", json_boolean(s->marker_seen));
    json_object_set_new(e, "still_open_at_end", json_boolean(s->timed_out));
    if (r->extensions[0])
        json_object_set_new(e, "extensions", json_string(r->extensions));
    if (outcome)
        json_object_set_new(e, "outcome", json_string(outcome));
    json_object_set_new(out->evidence, key, e);
    json_t *cur = json_object_get(out->evidence, "bytes_tx");
    json_object_set_new(
        out->evidence, "bytes_tx",
        json_integer((json_int_t)r->tx_bytes + (cur ? json_integer_value(cur) : 0)));
    cur = json_object_get(out->evidence, "bytes_rx");
    json_object_set_new(
        out->evidence, "bytes_rx",
        json_integer((json_int_t)r->rx_bytes + (cur ? json_integer_value(cur) : 0)));
    cur = json_object_get(out->evidence, "probes");
    json_object_set_new(out->evidence, "probes",
                        json_integer(1 + (cur ? json_integer_value(cur) : 0)));
}
