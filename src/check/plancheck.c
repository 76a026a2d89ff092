/* plancheck.c - the basic plan checks: connect, health, conversation, concurrent,
 * expect_auth_required, hold. See plancheck.h. */
#include "check/plancheck.h"

#include "probe/each.h"
#include "probe/hold.h"
#include "check/security/security.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "codec/jsonptr.h"
#include "util/buf.h"
#include "util/regex.h"
#include "report/holdreport.h"
#include "report/report.h"
#include "codec/template.h"
#include "util/clock.h"

/* ---- probe configurations ---- */

static int add_step(wsp_probe_config *cfg, wsp_step *st, wsp_err *err)
{
    if (wsp_probe_config_add_step(cfg, st) != 0) {
        free(st->text);
        free(st->pointer);
        free(st->value_json);
        wsp_regex_free(st->re);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    return 0;
}

/* The pair of an expect_json step that selects the message: the one that correlates with what
 * was sent ({{sent...}}), else the first. */
static const json_t *json_selector(const json_t *pairs)
{
    size_t i;
    const json_t *pv;
    json_array_foreach(pairs, i, pv)
    {
        const char *v = json_string_value(json_object_get(pv, "value"));
        if (v && strstr(v, "{{sent."))
            return pv;
    }
    return json_array_get(pairs, 0);
}

static int steps_from_params(const json_t *params, const wsp_env *env, wsp_probe_config *cfg,
                             wsp_err *err)
{
    const json_t *steps = params ? json_object_get(params, "steps") : NULL;
    json_int_t within = params ? json_integer_value(json_object_get(params, "within_ms")) : 0;
    /* strict_order and close: the probe's own --strict-order and --expect-close */
    cfg->strict_order = params && json_is_true(json_object_get(params, "strict_order"));
    const json_t *codes = params ? json_object_get(params, "expect_close") : NULL;
    cfg->num_expect_close = 0;
    for (size_t k = 0; k < json_array_size(codes) && k < WSP_PROBE_MAX_CLOSE_CODES; k++)
        cfg->expect_close[cfg->num_expect_close++] =
            (int)json_integer_value(json_array_get(codes, k));
    if ((!steps || json_array_size(steps) == 0) && cfg->num_expect_close)
        return 0; /* close: alone: no message, the server's close is the conversation */
    if (!steps || json_array_size(steps) == 0) {
        /* the environment's success marker: the one conversation of the security suite */
        if (wsp_security_add_marker(env, cfg, within > 0 ? (uint64_t)within * 1000u : 0) != 0)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return 0;
    }
    size_t i;
    const json_t *js;
    json_array_foreach(steps, i, js)
    {
        wsp_step s = {0};
        json_int_t w = json_integer_value(json_object_get(js, "within_ms"));
        if (w <= 0)
            w = within;
        s.timeout_us = w > 0 ? (uint64_t)w * 1000u : 0;
        const char *t;
        const json_t *pairs;
        if ((t = json_string_value(json_object_get(js, "send")))) {
            s.kind = WSP_STEP_SEND;
            s.text = strdup(t);
        } else if ((t = json_string_value(json_object_get(js, "send_binary"))) ||
                   (t = json_string_value(json_object_get(js, "expect_binary")))) {
            bool expect = json_object_get(js, "expect_binary") != NULL;
            s.kind = expect ? WSP_STEP_EXPECT_BINARY : WSP_STEP_SEND_BINARY;
            wsp_err e;
            if (wsp_probe_binary_spec(expect ? "expect.binary" : "send_binary", t, expect, &s.text,
                                      &s.len, &s.by_digest, s.sha256, &e) != 0)
                return wsp_err_set(err, e.cls, "step %zu: %s", i + 1, e.msg);
            if (add_step(cfg, &s, err) != 0)
                return -1;
            continue;
        } else if ((t = json_string_value(json_object_get(js, "expect_text")))) {
            s.kind = WSP_STEP_EXPECT_TEXT;
            s.text = strdup(t);
        } else if ((t = json_string_value(json_object_get(js, "expect_regex")))) {
            s.kind = WSP_STEP_EXPECT_REGEX;
            wsp_err e;
            s.re = wsp_regex_new(t, &e);
            if (!s.re)
                return wsp_err_set(err, e.cls, "step %zu: bad regex: %s", i + 1, e.msg);
            s.text = strdup(t);
        } else if ((pairs = json_object_get(js, "expect_json"))) {
            const json_t *sel = json_selector(pairs);
            s.kind = WSP_STEP_EXPECT_JSON;
            s.pointer = strdup(json_string_value(json_object_get(sel, "pointer")));
            s.value_json = strdup(json_string_value(json_object_get(sel, "value")));
            /* the other pairs must hold on the same message */
            size_t k;
            const json_t *pv;
            json_array_foreach(pairs, k, pv)
            {
                if (pv == sel || s.num_also >= WSP_STEP_MAX_ALSO)
                    continue;
                s.also_pointer[s.num_also] =
                    strdup(json_string_value(json_object_get(pv, "pointer")));
                s.also_value[s.num_also] = strdup(json_string_value(json_object_get(pv, "value")));
                s.num_also++;
            }
            bool oom = !s.pointer || !s.value_json;
            for (size_t a = 0; a < s.num_also; a++)
                oom |= !s.also_pointer[a] || !s.also_value[a];
            if (oom) {
                free(s.pointer);
                free(s.value_json);
                for (size_t a = 0; a < s.num_also; a++) {
                    free(s.also_pointer[a]);
                    free(s.also_value[a]);
                }
                return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
            }
            if (add_step(cfg, &s, err) != 0)
                return -1;
            continue;
        } else if (json_is_true(json_object_get(js, "ping")) ||
                   json_is_true(json_object_get(js, "expect_complete"))) {
            s.kind = json_is_true(json_object_get(js, "ping")) ? WSP_STEP_PING
                                                               : WSP_STEP_EXPECT_COMPLETE;
            if (add_step(cfg, &s, err) != 0)
                return -1;
            continue;
        } else if ((t = json_string_value(json_object_get(js, "emit"))) ||
                   (t = json_string_value(json_object_get(js, "emit_ack"))) ||
                   (t = json_string_value(json_object_get(js, "subscribe")))) {
            /* the protocols' sends (probe.h): the name or the document, and its JSON (the
             * arguments, the variables; none: NULL), as --emit and --subscribe make them */
            bool sub = json_object_get(js, "subscribe") != NULL;
            s.kind = sub                               ? WSP_STEP_SUBSCRIBE
                     : json_object_get(js, "emit_ack") ? WSP_STEP_EMIT_ACK
                                                       : WSP_STEP_EMIT;
            const char *j = json_string_value(json_object_get(js, sub ? "variables" : "args"));
            /* an emit's arguments kept as an array, as the receiver gets them (probe.h) */
            if (j && !(s.value_json = sub ? strdup(j) : wsp_step_emit_args(j)))
                return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
            s.text = strdup(t);
        } else if ((t = json_string_value(json_object_get(js, "expect_event")))) {
            s.kind = WSP_STEP_EXPECT_EVENT;
            s.text = strdup(t);
        } else {
            return wsp_err_set(err, WSP_CLASS_USAGE, "step %zu: unknown kind", i + 1);
        }
        if (!s.text) {
            wsp_regex_free(s.re);
            free(s.value_json);
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        }
        s.len = strlen(s.text);
        if (add_step(cfg, &s, err) != 0)
            return -1;
    }
    return 0;
}

/* How many expect_json pairs a conversation has beyond the one that selects each message. */
static size_t unchecked_pairs(const json_t *params, char *names, size_t cap)
{
    size_t n = 0, o = 0, i;
    const json_t *js;
    if (cap)
        names[0] = '\0';
    json_array_foreach(params ? json_object_get(params, "steps") : NULL, i, js)
    {
        const json_t *pairs = json_object_get(js, "expect_json");
        const json_t *sel = pairs ? json_selector(pairs) : NULL;
        size_t k, checked = 0;
        const json_t *pv;
        json_array_foreach(pairs, k, pv)
        {
            /* the selector and up to WSP_STEP_MAX_ALSO more are checked on the message */
            if (pv == sel || checked++ < WSP_STEP_MAX_ALSO)
                continue;
            n++;
            if (o < cap)
                o += (size_t)snprintf(names + o, cap - o, "%s%s", o ? ", " : "",
                                      json_string_value(json_object_get(pv, "pointer")));
        }
    }
    return n;
}

/* Whether a conversation is the environment's marker: no steps and no close to wait for. */
static bool is_marker(const json_t *params)
{
    return json_array_size(params ? json_object_get(params, "steps") : NULL) == 0 &&
           json_array_size(params ? json_object_get(params, "expect_close") : NULL) == 0;
}

int wsp_plancheck_steps_check(const json_t *params, wsp_proto_kind kind, wsp_err *err)
{
    if (is_marker(params))
        return 0; /* the environment's, made for its protocol (security.h) */
    wsp_probe_config cfg;
    wsp_probe_config_init(&cfg);
    cfg.proto.kind = kind;
    int rc = steps_from_params(params, NULL, &cfg, err);
    if (rc == 0)
        rc = wsp_probe_steps_check(&cfg, err);
    wsp_probe_config_cleanup(&cfg);
    return rc;
}

int wsp_plancheck_conversation_config(const wsp_env *env, const json_t *params, bool with_auth,
                                      wsp_probe_config *cfg, wsp_err *err)
{
    *cfg = env->base;
    cfg->conn.url = &cfg->url;
    cfg->steps = NULL;
    cfg->num_steps = 0;
    cfg->has_health = false;
    cfg->expect_auth_required = false;
    cfg->auth = with_auth && wsp_auth_active(&env->auth) ? &env->auth : NULL;
    if (steps_from_params(params, env, cfg, err) != 0 || wsp_probe_steps_check(cfg, err) != 0) {
        wsp_probe_config_cleanup(cfg);
        return -1;
    }
    return 0;
}

static void base_config(const wsp_env *env, bool with_auth, wsp_probe_config *cfg)
{
    *cfg = env->base;
    cfg->conn.url = &cfg->url;
    cfg->steps = NULL;
    cfg->num_steps = 0;
    cfg->has_health = false;
    cfg->expect_auth_required = false;
    cfg->auth = with_auth && wsp_auth_active(&env->auth) ? &env->auth : NULL;
}

/* ---- evidence and transcripts ---- */

static void put_main(wsp_check_result *r, const char *key)
{
    json_t *e = json_object_get(r->evidence, key);
    static const char *const fields[] = {"status", "close_code", "handshake_ms", "class"};
    for (size_t i = 0; e && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(e, fields[i]);
        if (v)
            json_object_set(r->evidence, fields[i], v);
    }
}

/* A transcript is a summary: past TRANSCRIPT_MAX bytes the rest is left out. */
#define TRANSCRIPT_MAX (1u << 20)

static void append(wsp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(wsp_buf *b, const char *fmt, ...)
{
    if (b->len >= TRANSCRIPT_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    wsp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static const char *step_kind_name(wsp_step_kind k)
{
    switch (k) {
    case WSP_STEP_SEND:
        return "send";
    case WSP_STEP_SEND_BINARY:
        return "send binary";
    case WSP_STEP_EXPECT_TEXT:
        return "expect text";
    case WSP_STEP_EXPECT_REGEX:
        return "expect regex";
    case WSP_STEP_EXPECT_JSON:
        return "expect json";
    case WSP_STEP_EXPECT_BINARY:
        return "expect binary";
    case WSP_STEP_PING:
        return "ping";
    case WSP_STEP_EMIT:
    case WSP_STEP_EMIT_ACK:
    case WSP_STEP_EXPECT_EVENT:
    case WSP_STEP_SUBSCRIBE:
    case WSP_STEP_EXPECT_COMPLETE:
        return wsp_step_kind_name(k);
    }
    return "step";
}

char *wsp_plancheck_transcript(const wsp_probe *p, const char *url_text)
{
    wsp_buf buf = WSP_BUF_INIT;
    const wsp_conn_record *r = wsp_probe_record(p);
    const wsp_probe_config *cfg = wsp_probe_get_config(p);
    const wsp_err *v = wsp_probe_verdict(p);
    char red[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text ? url_text : "", red, sizeof red);
    append(&buf, "* %s%s\n", red, cfg->auth ? " (with the credential)" : "");
    if (r->used_address >= 0 && r->used_address < r->num_addresses)
        append(&buf, "* connected to %s port %u\n", r->addresses[r->used_address],
               (unsigned)r->port);
    if (r->tls_done)
        append(&buf, "* TLS %s %s, verified: %s\n", r->tls->version, r->tls->cipher,
               r->tls->verified ? "yes" : "no");
    if (r->http_head && r->http_head_len) {
        size_t rcap = r->http_head_len * 2 + 64;
        char *rh = malloc(rcap);
        if (rh) {
            wsp_report_redact_head(r->http_head, r->http_head_len, rh, rcap);
            const char *s = rh;
            while (*s) {
                const char *nl = strchr(s, '\n');
                size_t n = nl ? (size_t)(nl - s) : strlen(s);
                if (n && s[n - 1] == '\r')
                    n--;
                if (n)
                    append(&buf, "< %.*s\n", (int)n, s);
                s += nl ? (size_t)(nl - s) + 1 : strlen(s);
            }
            free(rh);
        }
    }
    const wsp_step_result *sr = wsp_probe_step_results(p);
    for (size_t i = 0; sr && i < cfg->num_steps; i++) {
        if (!sr[i].ran && !sr[i].ok)
            continue;
        append(&buf, "  step %zu %s: %s%s%s\n", i + 1, step_kind_name(cfg->steps[i].kind),
               sr[i].ok ? "ok" : "failed", sr[i].detail[0] ? " - " : "", sr[i].detail);
    }
    append(&buf, "  frames: %llu sent, %llu received; bytes: %llu out, %llu in\n",
           (unsigned long long)r->sent_frames, (unsigned long long)r->received_frames,
           (unsigned long long)r->tx_bytes, (unsigned long long)r->rx_bytes);
    if (r->close_code >= 0)
        append(&buf, "* close %d \"%.100s\" by %s\n", r->close_code, r->close_reason,
               r->closed_by == WSP_CLOSED_BY_SERVER ? "server" : "client");
    append(&buf, "= %s: %s\n", wsp_class_name(v->cls), v->msg);
    return wsp_buf_take(&buf, NULL);
}

static void add_transcript(wsp_check_result *r, const wsp_probe *p, const char *url,
                           const char *label)
{
    char *t = wsp_plancheck_transcript(p, url);
    if (!t)
        return;
    size_t old = r->transcript ? strlen(r->transcript) : 0;
    size_t n = old + strlen(label) + strlen(t) + 8;
    char *nb = realloc(r->transcript, n);
    if (!nb) {
        free(t);
        return;
    }
    snprintf(nb + old, n - old, "[%s]\n%s", label, t);
    r->transcript = nb;
    free(t);
}

/* Run one probe to completion and record it under `key`. Returns the finished probe. */
static wsp_probe *run_probe(const wsp_env *env, const wsp_probe_config *cfg, wsp_check_result *r,
                            const char *key)
{
    wsp_probe *p = wsp_probe_run(cfg);
    if (!p)
        return NULL;
    wsp_check_add_probe_evidence(r, key, p);
    add_transcript(r, p, env->url_text, key);
    return p;
}

/* A check's probe as it ran: one probe, or with each_address one per address (each), and the
 * verdict to judge by (the probe's, or every address's together). */
typedef struct checked {
    wsp_probe *p; /* the main evidence: the probe, or the first failing address's */
    wsp_probe_each *each;
    const wsp_err *v;
    wsp_err resolve_err; /* each_address: the addresses could not be had */
} checked;

/* Run the check's probe (each_address: against every address) and record the evidence under
 * `key` (each address under KEY@ADDRESS). 0, or -1 when out of memory. */
static int run_checked(const wsp_env *env, const wsp_probe_config *cfg, wsp_check_result *r,
                       const char *key, checked *c)
{
    memset(c, 0, sizeof *c);
    if (!env->each_address) {
        c->p = run_probe(env, cfg, r, key);
        c->v = c->p ? wsp_probe_verdict(c->p) : NULL;
        return c->p ? 0 : -1;
    }
    if (!(c->each = calloc(1, sizeof *c->each)))
        return -1;
    if (wsp_probe_each_resolve(cfg, c->each, &c->resolve_err) != 0) {
        c->v = &c->resolve_err;
        return 0;
    }
    if (wsp_probe_each_run(cfg, c->each) != 0)
        return -1;
    json_t *cases = json_array();
    for (size_t i = 0; i < c->each->n; i++) {
        char k[96], why[700];
        snprintf(k, sizeof k, "%s@%s", key, c->each->text[i]);
        wsp_check_add_probe_evidence(r, k, c->each->probes[i]);
        add_transcript(r, c->each->probes[i], env->url_text, k);
        const wsp_err *pv = wsp_probe_verdict(c->each->probes[i]);
        snprintf(why, sizeof why, "%s: %s", wsp_class_name(pv->cls), pv->msg);
        bool ok = pv->cls == WSP_CLASS_OK;
        json_array_append_new(cases, json_pack("{s:s, s:s, s:b, s:o, s:s}", "name",
                                               c->each->text[i], "kind", "address", "ok", ok,
                                               "failure", ok ? json_null() : json_string(why),
                                               "detail", ok ? "OK" : why));
    }
    json_object_set_new(r->evidence, "cases", cases); /* JUnit: a testcase per address */
    json_object_set_new(r->evidence, "addresses", json_integer((json_int_t)c->each->n));
    size_t main = c->each->first_failed < c->each->n ? c->each->first_failed : 0;
    char mk[96];
    snprintf(mk, sizeof mk, "%s@%s", key, c->each->text[main]);
    put_main(r, mk);
    c->p = c->each->probes[main];
    c->v = &c->each->verdict;
    return 0;
}

static void checked_release(checked *c)
{
    if (c->each) {
        wsp_probe_each_cleanup(c->each);
        free(c->each);
    } else {
        wsp_probe_free(c->p);
    }
    memset(c, 0, sizeof *c);
}

static void oom(wsp_check_result *r)
{
    wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
}

static void copy_hint(wsp_check_result *r, const wsp_err *v)
{
    if (v->hint[0])
        snprintf(r->hint, sizeof r->hint, "%s", v->hint);
}

/* ---- the checks ---- */

/* A response header's value from the kept head ("" when absent). */
static void head_value(const wsp_conn_record *rec, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    const char *h = rec->http_head;
    for (size_t i = 0; h && i + nl + 1 < rec->http_head_len; i++) {
        if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, name, nl) == 0 && h[i + nl] == ':') {
            size_t k = i + nl + 1, o = 0;
            while (k < rec->http_head_len && (h[k] == ' ' || h[k] == '\t'))
                k++;
            while (k < rec->http_head_len && h[k] != '\r' && h[k] != '\n' && o + 1 < cap)
                out[o++] = h[k++];
            out[o] = '\0';
            return;
        }
    }
}

/* What parity compares about the transport (SECURITY-CHECKS.md "Parity"): TLS version and
 * cipher, certificate issuer and an expiry bucket, the negotiated subprotocol and extensions,
 * and the Server header. */
static void add_transport_evidence(wsp_check_result *r, const wsp_probe *p)
{
    const wsp_conn_record *rec = wsp_probe_record(p);
    if (rec->tls_done) {
        const char *bucket = rec->tls->days_left < 0    ? "expired"
                             : rec->tls->days_left < 7  ? "under 7 days"
                             : rec->tls->days_left < 30 ? "under 30 days"
                             : rec->tls->days_left < 90 ? "under 90 days"
                                                        : "90 days or more";
        json_object_set_new(r->evidence, "tls",
                            json_pack("{s:s,s:s,s:s,s:s,s:b}", "version", rec->tls->version,
                                      "cipher", rec->tls->cipher, "issuer", rec->tls->issuer,
                                      "expiry", bucket, "verified", rec->tls->verified));
    }
    char server[128];
    head_value(rec, "server", server, sizeof server);
    json_object_set_new(r->evidence, "server", server[0] ? json_string(server) : json_null());
    json_object_set_new(r->evidence, "subprotocol",
                        rec->subprotocol[0] ? json_string(rec->subprotocol) : json_null());
    json_object_set_new(r->evidence, "extensions",
                        rec->extensions[0] ? json_string(rec->extensions) : json_null());
}

static void run_connect(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    (void)params;
    wsp_probe_config cfg;
    base_config(env, true, &cfg);
    checked c;
    if (run_checked(env, &cfg, r, "probe", &c) != 0) {
        checked_release(&c);
        oom(r);
        return;
    }
    if (c.p) {
        if (!c.each)
            put_main(r, "probe");
        add_transport_evidence(r, c.p);
    }
    const wsp_err *v = c.v;
    if (v->cls == WSP_CLASS_OK)
        wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      c.each ? "handshake completed (HTTP 101) on every address"
                             : "handshake completed (HTTP 101)");
    else {
        copy_hint(r, v);
        wsp_check_set(r, WSP_VERDICT_FAIL, v->cls, "%s", v->msg);
    }
    checked_release(&c);
}

typedef struct health_run {
    bool done;
} health_run;

static void health_done(wsp_conn *c, void *ud)
{
    (void)c;
    ((health_run *)ud)->done = true;
}

static void run_health(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    (void)params;
    if (!env->health_url) {
        wsp_check_set(r, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "the environment has no health URL (health: in the plan)");
        return;
    }
    wsp_url hu;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_url_parse(env->health_url, &hu, WSP_URL_ALLOW_HTTP, &e) != 0) {
        wsp_check_set(r, WSP_VERDICT_FAIL, e.cls, "health URL: %s", e.msg);
        return;
    }
    wsp_conn_opts o = env->base.conn;
    o.url = &hu;
    o.http_only = true;
    o.origin = NULL;
    o.subprotocols = NULL;
    if (strcasecmp(hu.host, env->base.url.host) != 0 || hu.port != env->base.url.port) {
        o.pinned = NULL;
        o.num_pinned = 0;
    }
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        oom(r);
        return;
    }
    health_run hr = {false};
    wsp_conn_cbs cbs = {NULL, NULL, health_done};
    wsp_conn *c = wsp_conn_new(&loop, &o, &cbs, &hr);
    if (!c) {
        uv_loop_close(&loop);
        {
            oom(r);
            return;
        }
    }
    wsp_conn_start(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    const wsp_conn_record *rec = wsp_conn_get_record(c);
    json_t *ev = json_pack("{s:s,s:o,s:o,s:I,s:I}", "class", wsp_class_name(rec->err.cls), "status",
                           rec->http_status ? json_integer(rec->http_status) : json_null(),
                           "close_code", json_null(), "bytes_tx", (json_int_t)rec->tx_bytes,
                           "bytes_rx", (json_int_t)rec->rx_bytes);
    if (ev) {
        json_object_set_new(r->evidence, "health", ev);
        json_object_set_new(r->evidence, "status",
                            rec->http_status ? json_integer(rec->http_status) : json_null());
        json_object_set_new(r->evidence, "class", json_string(wsp_class_name(rec->err.cls)));
        json_object_set_new(r->evidence, "bytes_tx", json_integer((json_int_t)rec->tx_bytes));
        json_object_set_new(r->evidence, "bytes_rx", json_integer((json_int_t)rec->rx_bytes));
        json_object_set_new(r->evidence, "probes", json_integer(1));
    }
    char red[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(env->health_url, red, sizeof red);
    char t[2048];
    snprintf(t, sizeof t, "[health]\n> GET %.600s\n< HTTP %d %s\n= %s: %s\n", red, rec->http_status,
             rec->http_reason, wsp_class_name(rec->err.cls), rec->err.msg);
    r->transcript = strdup(t);
    if (rec->err.cls == WSP_CLASS_OK && rec->http_status >= 200 && rec->http_status < 300)
        wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK, "health answered HTTP %d",
                      rec->http_status);
    else {
        copy_hint(r, &rec->err);
        wsp_check_set(r, WSP_VERDICT_FAIL,
                      rec->err.cls != WSP_CLASS_OK ? rec->err.cls : WSP_CLASS_UPGRADE_REJECTED,
                      "health check: %s", rec->err.msg[0] ? rec->err.msg : "not 2xx");
    }
    wsp_conn_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static void run_conversation(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    wsp_probe_config cfg;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_plancheck_conversation_config(env, params, true, &cfg, &e) != 0) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, e.cls, "could not build the conversation: %s",
                      e.msg);
        return;
    }
    checked c;
    if (run_checked(env, &cfg, r, "probe", &c) != 0) {
        checked_release(&c);
        wsp_probe_config_cleanup(&cfg);
        oom(r);
        return;
    }
    if (!c.each)
        put_main(r, "probe");
    const wsp_err *v = c.v;
    json_object_set_new(r->evidence, "steps", json_integer((json_int_t)cfg.num_steps));
    char names[256];
    size_t unchecked = unchecked_pairs(params, names, sizeof names);
    if (v->cls != WSP_CLASS_OK) {
        copy_hint(r, v);
        wsp_check_set(r, WSP_VERDICT_FAIL, v->cls, "%s", v->msg);
    } else if (unchecked) {
        json_object_set_new(r->evidence, "unchecked_pointers", json_string(names));
        snprintf(r->hint, sizeof r->hint,
                 "the probe engine matches one JSON pointer per message; split the expectation "
                 "or keep the correlating pointer only");
        wsp_check_set(r, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "the conversation held (%zu steps), but %s were not checked", cfg.num_steps,
                      names);
    } else {
        wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK, "the conversation held (%zu steps)%s",
                      cfg.num_steps, c.each ? " on every address" : "");
    }
    checked_release(&c);
    wsp_probe_config_cleanup(&cfg);
}

static void run_concurrent(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    size_t n = (size_t)json_integer_value(json_object_get(params, "connections"));
    const json_t *each = json_object_get(params, "each");
    if (n == 0)
        n = 1;
    wsp_probe_config cfg;
    wsp_err e;
    wsp_err_clear(&e);
    if (each && json_is_object(each)) {
        if (wsp_plancheck_conversation_config(env, each, true, &cfg, &e) != 0) {
            wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, e.cls,
                          "could not build the conversation: %s", e.msg);
            return;
        }
    } else {
        base_config(env, true, &cfg);
    }
    uv_loop_t loop;
    wsp_probe **ps = calloc(n, sizeof *ps);
    if (!ps || uv_loop_init(&loop) != 0) {
        free(ps);
        wsp_probe_config_cleanup(&cfg);
        {
            oom(r);
            return;
        }
    }
    size_t made = 0;
    for (; made < n; made++)
        if (!(ps[made] = wsp_probe_new(&loop, &cfg, NULL, NULL)))
            break;
    if (made < n) {
        oom(r);
    } else {
        for (size_t i = 0; i < n; i++)
            wsp_probe_start(ps[i]);
        uv_run(&loop, UV_RUN_DEFAULT);
        wsp_class cls = wsp_report_many_class(ps, n);
        size_t ok = 0, shown = 0;
        uint64_t tx = 0, rx = 0;
        for (size_t i = 0; i < n; i++) {
            const wsp_conn_record *rec = wsp_probe_record(ps[i]);
            tx += rec->tx_bytes;
            rx += rec->rx_bytes;
            if (wsp_probe_verdict(ps[i])->cls == WSP_CLASS_OK)
                ok++;
        }
        /* the evidence of a representative connection: the first failure, else the first */
        for (size_t i = 0; i < n; i++)
            if (wsp_probe_verdict(ps[i])->cls != WSP_CLASS_OK) {
                shown = i;
                break;
            }
        wsp_check_add_probe_evidence(r, "probe", ps[shown]);
        add_transcript(r, ps[shown], env->url_text, "a representative connection");
        put_main(r, "probe");
        json_t *many = wsp_report_many_json(ps, n, env->url_text);
        if (many) {
            json_object_set(r->evidence, "by_class", json_object_get(many, "by_class"));
            json_object_set(r->evidence, "phases", json_object_get(many, "phases"));
            json_decref(many);
        }
        json_object_set_new(r->evidence, "connections", json_integer((json_int_t)n));
        json_object_set_new(r->evidence, "succeeded", json_integer((json_int_t)ok));
        json_object_set_new(r->evidence, "bytes_tx", json_integer((json_int_t)tx));
        json_object_set_new(r->evidence, "bytes_rx", json_integer((json_int_t)rx));
        json_object_set_new(r->evidence, "probes", json_integer((json_int_t)n));
        if (cls == WSP_CLASS_OK)
            wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK,
                          "%zu of %zu connections completed their conversation at once", ok, n);
        else
            wsp_check_set(r, WSP_VERDICT_FAIL, cls, "%zu of %zu connections failed (mostly %s)",
                          n - ok, n, wsp_class_name(cls));
    }
    for (size_t i = 0; i < made; i++)
        wsp_probe_free(ps[i]);
    free(ps);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    wsp_probe_config_cleanup(&cfg);
}

/* A baseline with the credential. Returns true when it held. */
static bool baseline(const wsp_env *env, bool marker, wsp_check_result *r, const char *key,
                     wsp_class *cls)
{
    wsp_probe_config cfg;
    wsp_err e;
    wsp_err_clear(&e);
    if (marker) {
        if (wsp_plancheck_conversation_config(env, NULL, true, &cfg, &e) != 0) {
            *cls = e.cls;
            return false;
        }
    } else {
        base_config(env, true, &cfg);
    }
    wsp_probe *p = run_probe(env, &cfg, r, key);
    bool ok = p && wsp_probe_verdict(p)->cls == WSP_CLASS_OK;
    *cls = p ? wsp_probe_verdict(p)->cls : WSP_CLASS_INTERNAL;
    wsp_probe_free(p);
    wsp_probe_config_cleanup(&cfg);
    return ok;
}

static void run_auth_required(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    (void)params;
    bool have_cred = wsp_auth_active(&env->auth);
    /* a credential sent as the first message: the 101 says nothing, the marker does */
    bool marker = have_cred && env->auth.in == WSP_AUTH_IN_MESSAGE;
    wsp_class bcls = WSP_CLASS_OK;
    bool before = have_cred ? baseline(env, marker, r, "baseline_before", &bcls) : false;

    wsp_probe_config cfg;
    wsp_err e;
    wsp_err_clear(&e);
    if (marker) {
        if (wsp_plancheck_conversation_config(env, NULL, false, &cfg, &e) != 0) {
            oom(r);
            return;
        }
    } else {
        base_config(env, false, &cfg);
    }
    cfg.auth = NULL;
    cfg.expect_auth_required = true;
    wsp_probe *p = run_probe(env, &cfg, r, "probe");
    if (!p) {
        wsp_probe_config_cleanup(&cfg);
        {
            oom(r);
            return;
        }
    }
    put_main(r, "probe");
    const wsp_err *v = wsp_probe_verdict(p);
    wsp_class ncls = v->cls;
    char nmsg[sizeof v->msg];
    snprintf(nmsg, sizeof nmsg, "%s", v->msg);
    wsp_probe_free(p);
    wsp_probe_config_cleanup(&cfg);

    if (ncls == WSP_CLASS_AUTH_NOT_ENFORCED) {
        /* served without credentials: no baseline needed to prove that */
        snprintf(r->hint, sizeof r->hint,
                 "the endpoint serves clients without credentials: enforce authentication at "
                 "the upgrade (401/403) or close with 1008 before serving");
        wsp_check_set(r, WSP_VERDICT_FAIL, WSP_CLASS_AUTH_NOT_ENFORCED, "%s", nmsg);
        return;
    }
    if (ncls != WSP_CLASS_OK) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, ncls,
                      "the probe without credentials neither was served nor refused as "
                      "authentication: %s",
                      nmsg);
        return;
    }
    if (!have_cred) {
        snprintf(r->hint, sizeof r->hint,
                 "give the environment a credential (auth: {jwt: ...} or token_env) so that a "
                 "baseline can prove the endpoint serves authenticated clients");
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "refused without credentials, but there is no credential to show that the "
                      "endpoint works at all");
        return;
    }
    wsp_class acls = WSP_CLASS_OK;
    bool after = baseline(env, marker, r, "baseline_after", &acls);
    if (!before || !after) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, before ? acls : bcls,
                      "refused without credentials, but the baseline with the credential failed "
                      "%s (%s): the refusal proves nothing",
                      before ? "after" : "before", wsp_class_name(before ? acls : bcls));
        return;
    }
    wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK,
                  "%s; the credential's baselines before and after were served", nmsg);
}

/* hold: connections held for the check's duration (probe/hold.h), with the environment's
 * credential, and with each_address against every address; the hold's report is the evidence
 * (`hold`), its parts the `cases` a JUnit report shows one by one. */
static void run_hold(const wsp_env *env, const json_t *params, wsp_check_result *r)
{
    wsp_hold_setup *hs = calloc(1, sizeof *hs);
    wsp_hold_result hr = {0};
    wsp_hold_verdict v = {0};
    wsp_err e;
    wsp_err_clear(&e);
    if (!hs) {
        oom(r);
        return;
    }
    wsp_hold_setup_init(hs);
    wsp_hold_config *c = &hs->cfg;
    if (wsp_hold_setup_from_json(hs, params, &e) != 0 || wsp_hold_setup_finish(hs, &e) != 0) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, e.cls, "could not set up the hold: %s", e.msg);
        goto done;
    }
    if (env->each_address && wsp_hold_resolve_addresses(c, &env->base, &e) != 0) {
        /* a name that does not resolve fails, as connect's does; a hold that cannot be set up
         * (a literal address, the file limit) proves nothing */
        copy_hint(r, &e);
        wsp_check_set(r, e.cls == WSP_CLASS_USAGE ? WSP_VERDICT_INCONCLUSIVE : WSP_VERDICT_FAIL,
                      e.cls, "%s", e.msg);
        goto done;
    }
    uint64_t need_ns = (c->duration_us + WSP_HOLD_CLOSE_GRACE_US) * 1000ull;
    if (env->deadline_ns && wsp_clock_mono_ns() + need_ns > env->deadline_ns) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_WAIT_DEADLINE,
                      "not held: the run's deadline comes before a %.3g s hold could end",
                      (double)c->duration_us / 1e6);
        goto done;
    }
    c->conn = &env->base.conn;
    c->auth = &env->auth;
    c->pong_timeout_us = env->base.pong_timeout_us;
    /* the environment's protocol (its send: and emit: were checked against it at load) */
    c->proto = env->base.proto.kind != WSP_PROTO_NONE ? &env->base.proto : NULL;
    if (wsp_hold_run(c, &hr, &e) != 0 || wsp_hold_judge(c, &hr, &v) != 0) {
        wsp_check_set(r, WSP_VERDICT_INCONCLUSIVE, e.cls ? e.cls : WSP_CLASS_INTERNAL,
                      "could not hold: %s", e.cls ? e.msg : "out of memory");
        goto done;
    }
    json_object_set_new(r->evidence, "hold", wsp_hold_report_json(c, &hr, &v, env->url_text));
    json_object_set_new(r->evidence, "cases", wsp_hold_report_cases(c, &hr, &v));
    if (v.ok)
        wsp_check_set(r, WSP_VERDICT_PASS, WSP_CLASS_OK, "%s", v.summary);
    else
        wsp_check_set(r, WSP_VERDICT_FAIL, v.cls, "%s", v.summary);
done:
    wsp_hold_verdict_cleanup(&v);
    wsp_hold_result_cleanup(&hr);
    wsp_hold_setup_cleanup(hs);
    free(hs);
}

static const wsp_check_def basic_defs[] = {
    {"connect", "basic", 0, true, "a full handshake with the environment's credential",
     run_connect},
    {"health", "basic", 0, true, "an HTTP GET of the health URL answers 2xx", run_health},
    {"conversation", "basic", 0, true, "send and expect: the application answers",
     run_conversation},
    {"concurrent", "basic", 0, true, "N conversations at once all hold", run_concurrent},
    {"expect_auth_required", "basic", 0, true,
     "refused without credentials, served with them (baselines before and after)",
     run_auth_required},
    {"hold", "basic", 0, true,
     "connections held for a duration: idle timeouts, lifetime caps, drops (docs/hold.md)",
     run_hold, WSP_CHECK_WAITS},
};

const wsp_check_def *wsp_plancheck_find(const char *kind)
{
    for (size_t i = 0; i < sizeof basic_defs / sizeof basic_defs[0]; i++)
        if (strcmp(basic_defs[i].id, kind) == 0)
            return &basic_defs[i];
    return NULL;
}

const wsp_check_def *wsp_plancheck_all(size_t *n)
{
    *n = sizeof basic_defs / sizeof basic_defs[0];
    return basic_defs;
}
