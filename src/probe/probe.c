/* probe.c - see probe.h. */
#include "probe/probe.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/clock.h"
#include "util/excerpt.h"
#include "codec/jsonptr.h"
#include "util/rand.h"
#include "codec/template.h"

struct wsp_probe {
    /* this probe's own connection options: credentials differ per connection */
    wsp_auth_conn ac;
    bool auth_sent;
    wsp_err auth_err;
    uv_loop_t *loop;
    bool owns_loop;
    const wsp_probe_config *cfg;
    wsp_probe_done_cb cb;
    void *ud;
    wsp_conn *conn;
    wsp_conn *health;
    bool conn_done, health_done, reported;
    size_t step; /* index of the running step */
    uint64_t last_send_ns;
    uv_timer_t step_timer;
    wsp_step_result *results;
    uint8_t ping_payload[8];
    char last_unmatched[201];
    char *last_sent; /* the message of the last send step, for {{sent./pointer}} */
    size_t last_sent_len;
    bool have_unmatched;
    bool awaiting_close; /* every step held; waiting for the server's close (or a grace) */
    wsp_err verdict;
    /* --protocol: the conversation on top, the ack an EMIT_ACK waits for, the subscription */
    wsp_proto *proto;
    int64_t ack_id;
    char sub_id[16];
    unsigned sub_values;
};

/* With --expect-auth-required and nothing to expect, how long the server has to refuse an
 * open connection before the probe closes it (a server that checks a token asynchronously
 * closes a few milliseconds after the 101; closing at once would race it). */
#define AUTH_GRACE_US 1000000ull

void wsp_probe_config_init(wsp_probe_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->conn.url = &cfg->url;
    cfg->conn.tls_verify = true;
    cfg->conn.family = AF_UNSPEC;
    cfg->conn.timeout_us = WSP_PROBE_DEFAULT_TIMEOUT_US;
    cfg->conn.deadline_us = WSP_PROBE_DEFAULT_DEADLINE_US;
    cfg->conn.limits.max_frame = 16u << 20;
    cfg->conn.limits.max_message = 16u << 20;
    cfg->pong_timeout_us = 0;
}

void wsp_probe_conn_pin(wsp_conn_opts *conn, const wsp_url *url, const wsp_dns_pin *pins,
                        size_t npins)
{
    for (size_t i = 0; i < npins; i++)
        if (strcasecmp(pins[i].host, url->host) == 0 && pins[i].port == url->port) {
            conn->pinned = pins[i].addrs;
            conn->num_pinned = pins[i].num;
        }
}

void wsp_probe_config_finish(wsp_probe_config *cfg, const wsp_dns_pin *pins, size_t npins)
{
    wsp_probe_conn_pin(&cfg->conn, &cfg->url, pins, npins);
    if (cfg->conn.deadline_us && cfg->conn.timeout_us > cfg->conn.deadline_us)
        cfg->conn.timeout_us = cfg->conn.deadline_us;
    if (cfg->pong_timeout_us == 0)
        cfg->pong_timeout_us = cfg->conn.timeout_us;
}

int wsp_probe_config_add_step(wsp_probe_config *cfg, const wsp_step *step)
{
    wsp_step *s = realloc(cfg->steps, (cfg->num_steps + 1) * sizeof *s);
    if (!s)
        return -1;
    cfg->steps = s;
    cfg->steps[cfg->num_steps++] = *step;
    return 0;
}

void wsp_probe_config_cleanup(wsp_probe_config *cfg)
{
    for (size_t i = 0; i < cfg->num_steps; i++) {
        wsp_step *s = &cfg->steps[i];
        free(s->text);
        free(s->pointer);
        free(s->value_json);
        for (size_t k = 0; k < s->num_also; k++) {
            free(s->also_pointer[k]);
            free(s->also_value[k]);
        }
        wsp_regex_free(s->re);
    }
    free(cfg->steps);
    cfg->steps = NULL;
    cfg->num_steps = 0;
}

const char *wsp_step_kind_name(wsp_step_kind k)
{
    switch (k) {
    case WSP_STEP_SEND:
    case WSP_STEP_SEND_BINARY:
        return "send";
    case WSP_STEP_PING:
        return "ping";
    case WSP_STEP_EXPECT_TEXT:
    case WSP_STEP_EXPECT_REGEX:
    case WSP_STEP_EXPECT_JSON:
    case WSP_STEP_EXPECT_BINARY:
        return "expect";
    case WSP_STEP_EMIT:
        return "emit";
    case WSP_STEP_EMIT_ACK:
        return "emit_ack";
    case WSP_STEP_EXPECT_EVENT:
        return "expect_event";
    case WSP_STEP_SUBSCRIBE:
        return "subscribe";
    case WSP_STEP_EXPECT_COMPLETE:
        return "expect_complete";
    }
    return "step";
}

char *wsp_step_emit_args(const char *json)
{
    size_t lead = strspn(json, " \t\r\n");
    if (json[lead] == '[')
        return strdup(json);
    size_t n = strlen(json) + 3;
    char *a = malloc(n);
    if (a)
        snprintf(a, n, "[%s]", json);
    return a;
}

bool wsp_step_sends_only(wsp_step_kind k)
{
    return k == WSP_STEP_SEND || k == WSP_STEP_SEND_BINARY || k == WSP_STEP_EMIT;
}

bool wsp_sio_reserved(const char *name)
{
    static const char *const reserved[] = {
        "connect",     "connect_error",  "disconnect", "disconnecting",
        "newListener", "removeListener", NULL};
    for (size_t i = 0; reserved[i]; i++)
        if (strcmp(name, reserved[i]) == 0)
            return true;
    return false;
}

int wsp_probe_steps_check(const wsp_probe_config *cfg, wsp_err *err)
{
    wsp_proto_kind pk = cfg->proto.kind;
    bool judged = false; /* an --expect-json here has an event, ack or subscription to judge */
    for (size_t i = 0; i < cfg->num_steps; i++) {
        const wsp_step *s = &cfg->steps[i];
        const char *name = wsp_step_kind_name(s->kind);
        switch (s->kind) {
        case WSP_STEP_EMIT:
        case WSP_STEP_EMIT_ACK:
        case WSP_STEP_EXPECT_EVENT:
            if (pk != WSP_PROTO_SOCKETIO)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu (%s) is a Socket.IO step: it needs --protocol "
                                   "socketio",
                                   i + 1, name);
            if (s->kind != WSP_STEP_EXPECT_EVENT && wsp_sio_reserved(s->text))
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu (%s): '%.100s' is a reserved Socket.IO event name "
                                   "(the client library refuses to emit it)",
                                   i + 1, name, s->text);
            judged = s->kind != WSP_STEP_EMIT;
            break;
        case WSP_STEP_SUBSCRIBE:
        case WSP_STEP_EXPECT_COMPLETE:
            if (pk != WSP_PROTO_GRAPHQL)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu (%s) is a GraphQL step: it needs --protocol graphql",
                                   i + 1, name);
            if (s->kind == WSP_STEP_SUBSCRIBE)
                judged = true;
            else if (!judged)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu (expect_complete) has no subscription before it "
                                   "(--subscribe)",
                                   i + 1);
            break;
        case WSP_STEP_EXPECT_TEXT:
        case WSP_STEP_EXPECT_REGEX:
        case WSP_STEP_EXPECT_BINARY:
            if (pk != WSP_PROTO_NONE)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu: under --protocol %s the server's messages are the "
                                   "protocol's packets, which wsprobe reads itself: expect %s, "
                                   "with --expect-json on %s",
                                   i + 1, wsp_proto_kind_name(pk),
                                   pk == WSP_PROTO_SOCKETIO ? "events (--expect-event) or acks "
                                                              "(--emit-ack)"
                                                            : "a subscription's values "
                                                              "(--subscribe)",
                                   pk == WSP_PROTO_SOCKETIO ? "their arguments" : "each payload");
            break;
        case WSP_STEP_EXPECT_JSON:
            if (pk != WSP_PROTO_NONE && !judged)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "step %zu: under --protocol %s an --expect-json applies to %s "
                                   "before it, and there is none",
                                   i + 1, wsp_proto_kind_name(pk),
                                   pk == WSP_PROTO_SOCKETIO
                                       ? "the arguments of the --expect-event or --emit-ack"
                                       : "the values of the --subscribe");
            break;
        case WSP_STEP_SEND:
        case WSP_STEP_SEND_BINARY:
        case WSP_STEP_PING:
            judged = false; /* the values or arguments an --expect-json judges follow their step */
            break;
        }
    }
    return 0;
}

static bool has_expectation(const wsp_probe_config *cfg)
{
    for (size_t i = 0; i < cfg->num_steps; i++)
        if (!wsp_step_sends_only(cfg->steps[i].kind))
            return true;
    return false;
}

/* --expect-auth-required turns "refused" into the expected outcome (issue 4). */
static void judge_auth_required(wsp_probe *p, const wsp_conn_record *r)
{
    bool replied = false, has_expect = false;
    for (size_t i = 0; i < p->cfg->num_steps; i++) {
        wsp_step_kind k = p->cfg->steps[i].kind;
        if (wsp_step_sends_only(k) || k == WSP_STEP_PING || k == WSP_STEP_SUBSCRIBE)
            continue;
        has_expect = true;
        replied |= p->results[i].ok;
    }
    int cc = r->close_code;
    if (p->verdict.cls == WSP_CLASS_APP_AUTH_REFUSED) {
        /* the protocol's own refusal: Socket.IO's CONNECT_ERROR, GraphQL's 4401/4403 */
        char m[sizeof p->verdict.msg];
        snprintf(m, sizeof m, "reachable, authentication enforced: %.400s", p->verdict.msg);
        wsp_err_clear(&p->verdict);
        snprintf(p->verdict.msg, sizeof p->verdict.msg, "%s", m);
    } else if (p->verdict.cls == WSP_CLASS_UPGRADE_AUTH &&
               (r->http_status == 401 || r->http_status == 403)) {
        wsp_err_clear(&p->verdict);
        snprintf(p->verdict.msg, sizeof p->verdict.msg,
                 "reachable, authentication enforced: the upgrade was refused with HTTP %d",
                 r->http_status);
    } else if (r->handshake_completed && !replied && r->closed_by == WSP_CLOSED_BY_SERVER &&
               (cc == 1008 || (cc >= 4001 && cc <= 4003))) {
        wsp_err_clear(&p->verdict);
        snprintf(p->verdict.msg, sizeof p->verdict.msg,
                 "reachable, authentication enforced: the server closed with %d before serving "
                 "a message",
                 cc);
    } else if (r->handshake_completed &&
               (replied || (!has_expect && p->verdict.cls == WSP_CLASS_OK))) {
        wsp_err_set(&p->verdict, WSP_CLASS_AUTH_NOT_ENFORCED,
                    replied ? "the endpoint accepted a connection without credentials (HTTP 101) "
                              "and answered a message"
                            : "the endpoint accepted a connection without credentials (HTTP 101)");
    }
}

static bool close_expected(const wsp_probe_config *cfg, int code)
{
    for (size_t i = 0; i < cfg->num_expect_close; i++)
        if (cfg->expect_close[i] == code)
            return true;
    return false;
}

/* The close rules of RFC 6455 section 7 applied to the conversation (the connection has
 * already told its own close from the server's, see conn.c on_ws_close). A server's close
 * before the last step held is WS_CLOSED whatever its code; with --expect-close, once every
 * step held, a named code is OK and any other WS_EXPECT_MISMATCH. The verdict is written to
 * the record, so every reader of the record sees the same one. */
static void judge_close(wsp_probe *p, wsp_conn_record *r)
{
    const wsp_probe_config *cfg = p->cfg;
    bool by_server = r->closed_by == WSP_CLOSED_BY_SERVER && r->close_code != WSP_WS_CLOSE_ABNORMAL;
    bool server_close =
        by_server && (r->err.cls == WSP_CLASS_OK || r->err.cls == WSP_CLASS_WS_CLOSED);
    char why[200] = "";
    if (r->close_reason[0])
        snprintf(why, sizeof why, " (\"%.120s\")", r->close_reason);
    if (!server_close) {
        if (r->err.cls == WSP_CLASS_OK && r->handshake_completed && !cfg->num_expect_close &&
            r->closed_by == WSP_CLOSED_BY_CLIENT && !r->close_acknowledged) {
            /* RFC 6455 7.1.2: the server must answer our close before it closes the TCP
             * connection; one that never does ends every connection of its clients abnormally */
            wsp_err_set(&r->err, WSP_CLASS_WS_DROPPED,
                        "the server did not answer our close frame (RFC 6455 7.1.2): it %s",
                        r->t_closed && r->t_closed - r->t_close_start < cfg->conn.timeout_us * 1000
                            ? "closed the TCP connection without a close frame"
                            : "sent nothing back before the timeout");
            wsp_err_hint(&r->err, "the server (or a proxy in front of it) must send a close frame "
                                  "back before closing: browsers report such an end as 1006");
            r->failed_phase = WSP_PHASE_CLOSING;
            return;
        }
        if (cfg->num_expect_close && r->err.cls == WSP_CLASS_OK && p->awaiting_close) {
            /* every step held and the probe closed first: the server never did */
            wsp_err_set(&r->err, WSP_CLASS_WS_MSG_TIMEOUT,
                        "the server did not close the connection within %.3gs (--expect-close)",
                        (double)cfg->conn.timeout_us / 1e6);
            wsp_err_hint(&r->err, "the server kept the connection open: if it should have closed "
                                  "it, check what makes it close (a message, a credential, a "
                                  "timer), or raise --timeout");
            r->failed_phase = WSP_PHASE_OPEN;
        }
        return;
    }
    int code = r->close_code;
    const wsp_proto_record *pr = p->proto ? wsp_proto_get_record(p->proto) : NULL;
    if (pr && !pr->t_ready) {
        /* the protocol's handshake never finished: nothing was verified */
        wsp_err_set(&r->err, WSP_CLASS_WS_CLOSED,
                    "the server closed the connection with code %d%s before %s", code, why,
                    cfg->proto.kind == WSP_PROTO_GRAPHQL ? "connection_ack"
                    : pr->t_open                         ? "the Socket.IO namespace was connected"
                                                         : "the Engine.IO open packet");
        wsp_err_hint(&r->err, "%s", wsp_ws_close_hint(code));
    } else if (p->step < cfg->num_steps) {
        /* the server ended the conversation before it was over */
        wsp_err_set(&r->err, WSP_CLASS_WS_CLOSED,
                    "the server closed the connection with code %d%s before step %zu held%s", code,
                    why, p->step + 1,
                    close_expected(cfg, code) ? " (a code --expect-close names, but too early)"
                                              : "");
        wsp_err_hint(&r->err, "%s", wsp_ws_close_hint(code));
    } else if (cfg->num_expect_close) {
        if (close_expected(cfg, code)) {
            wsp_err_clear(&r->err);
            return;
        }
        wsp_err_set(&r->err, WSP_CLASS_WS_EXPECT_MISMATCH,
                    "the server closed with code %d%s, not one --expect-close names", code, why);
        wsp_err_hint(&r->err, "%s", wsp_ws_close_hint(code));
    } else if (r->err.cls == WSP_CLASS_OK) {
        return; /* 1000 or 1001 after the last step held */
    }
    r->failed_phase = WSP_PHASE_OPEN;
    if (r->err.cls == WSP_CLASS_WS_CLOSED && cfg->conn.subprotocols && !r->subprotocol[0])
        wsp_err_hint(&r->err,
                     "the server chose none of the offered subprotocols ('%.200s') and closed: "
                     "offer the one it speaks with --subprotocol",
                     cfg->conn.subprotocols);
}

static void report_if_done(wsp_probe *p)
{
    if (p->reported || !p->conn_done || (p->health && !p->health_done))
        return;
    p->reported = true;
    /* the verdict: the WebSocket's first, then the health check's */
    wsp_conn_record *r = wsp_conn_get_record(p->conn);
    judge_close(p, r);
    if (p->proto)
        wsp_proto_judge(p->proto, r);
    p->verdict = r->err;
    if (p->cfg->expect_auth_required)
        judge_auth_required(p, r);
    if (p->verdict.cls == WSP_CLASS_OK && p->health) {
        const wsp_conn_record *h = wsp_conn_get_record(p->health);
        if (h->err.cls != WSP_CLASS_OK) {
            p->verdict = h->err;
            char m[sizeof p->verdict.msg];
            snprintf(m, sizeof m, "health check: %.480s", h->err.msg);
            snprintf(p->verdict.msg, sizeof p->verdict.msg, "%s", m);
        }
    }
    if (p->cb)
        p->cb(p, p->ud);
}

static void run_steps(wsp_probe *p);

static void step_timer_cb(uv_timer_t *t)
{
    wsp_probe *p = t->data;
    if (p->awaiting_close) {
        /* no close in time: close ourselves (judge_close turns it into the verdict) */
        wsp_conn_close(p->conn, WSP_WS_CLOSE_NORMAL, NULL);
        return;
    }
    if (p->step >= p->cfg->num_steps)
        return;
    const wsp_step *s = &p->cfg->steps[p->step];
    wsp_step_result *res = &p->results[p->step];
    double waited = (double)(s->timeout_us ? s->timeout_us : p->cfg->conn.timeout_us) / 1e6;
    if (s->kind == WSP_STEP_PING) {
        snprintf(res->detail, sizeof res->detail, "no pong within %.3gs", waited);
        wsp_conn_fail(p->conn, WSP_CLASS_WS_PONG_TIMEOUT,
                      "step %zu: ping not answered within %.3gs", p->step + 1, waited);
    } else if (s->kind == WSP_STEP_EMIT_ACK) {
        snprintf(res->detail, sizeof res->detail, "no ack within %.3gs", waited);
        wsp_conn_fail(p->conn, WSP_CLASS_WS_MSG_TIMEOUT,
                      "step %zu: no ack of '%.100s' (id %lld) within %.3gs", p->step + 1, s->text,
                      (long long)p->ack_id, waited);
        wsp_conn_record *r = wsp_conn_get_record(p->conn);
        if (r->err.cls == WSP_CLASS_WS_MSG_TIMEOUT)
            wsp_err_hint(&r->err,
                         "the server's handler for '%.100s' did not call its "
                         "acknowledgement callback (or has no such handler)",
                         s->text);
    } else if (p->cfg->proto.kind == WSP_PROTO_GRAPHQL && !p->have_unmatched) {
        bool done = s->kind == WSP_STEP_EXPECT_COMPLETE;
        snprintf(res->detail, sizeof res->detail, "no %s within %.3gs", done ? "complete" : "value",
                 waited);
        wsp_conn_fail(p->conn, WSP_CLASS_WS_MSG_TIMEOUT,
                      "step %zu: the subscription %s within %.3gs (%u value(s) so far)",
                      p->step + 1, done ? "did not complete" : "sent no value", waited,
                      p->sub_values);
    } else if (p->have_unmatched) {
        snprintf(res->detail, sizeof res->detail, "no message matched (%u skipped)", res->skipped);
        wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH,
                      "step %zu: %u message(s) came within %.3gs and none matched; last: %s",
                      p->step + 1, res->skipped, waited, p->last_unmatched);
    } else {
        snprintf(res->detail, sizeof res->detail, "nothing received within %.3gs", waited);
        wsp_conn_fail(p->conn, WSP_CLASS_WS_MSG_TIMEOUT,
                      "step %zu: no message arrived within %.3gs", p->step + 1, waited);
    }
}

static void step_ok(wsp_probe *p, const char *detail)
{
    wsp_step_result *res = &p->results[p->step];
    res->ok = true;
    res->t_done = uv_hrtime();
    res->roundtrip_ms = p->last_send_ns ? (double)(uv_hrtime() - p->last_send_ns) / 1e6 : 0.0;
    snprintf(res->detail, sizeof res->detail, "%s", detail);
    uv_timer_stop(&p->step_timer);
    p->step++;
    p->have_unmatched = false;
    run_steps(p);
}

json_t *wsp_probe_expected_value(const char *tmpl, const wsp_tmpl_ctx *ctx, wsp_err *err)
{
    size_t len = 0;
    char *v = wsp_tmpl_expand(tmpl, ctx, &len, err);
    if (!v)
        return NULL;
    json_error_t je;
    json_t *want = json_loadb(v, len, JSON_DECODE_ANY, &je);
    if (!want)
        want = json_stringn(v, len);
    free(v);
    return want;
}

/* The expected text of a step, with {{sent./pointer}} and other placeholders filled in.
 * Returns a heap string or NULL (the failure is recorded on the connection). */
static char *expected_text(wsp_probe *p, const char *tmpl, size_t *len_out)
{
    wsp_tmpl_ctx ctx = wsp_probe_tmpl_ctx(p->last_sent, p->last_sent_len);
    wsp_err e;
    wsp_err_clear(&e);
    char *s = wsp_tmpl_expand(tmpl, &ctx, len_out, &e);
    if (!s)
        wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH, "step %zu: %s", p->step + 1, e.msg);
    return s;
}

/* Whether the value at `pointer` in doc equals the expected VALUE (with placeholders filled):
 * VALUE is JSON when it parses as JSON (1, true, "x", {"a":1}), else a string. */
static bool pair_matches(wsp_probe *p, json_t *doc, const char *pointer, const char *value_tmpl)
{
    wsp_tmpl_ctx ctx = wsp_probe_tmpl_ctx(p->last_sent, p->last_sent_len);
    wsp_err e;
    wsp_err_clear(&e);
    json_t *want = wsp_probe_expected_value(value_tmpl, &ctx, &e);
    if (!want) {
        wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH, "step %zu: %s", p->step + 1, e.msg);
        return false;
    }
    json_t *got = wsp_jsonptr_get(doc, pointer);
    bool ok = got && json_equal(want, got);
    json_decref(want);
    return ok;
}

/* --expect-json: every pair of the step holds on this one message. */
static bool json_matches(wsp_probe *p, const wsp_step *s, const uint8_t *data, size_t len)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return false;
    bool ok = pair_matches(p, doc, s->pointer, s->value_json);
    for (size_t k = 0; ok && k < s->num_also; k++)
        ok = pair_matches(p, doc, s->also_pointer[k], s->also_value[k]);
    json_decref(doc);
    return ok;
}

/* A message that does not answer the running expectation (a greeting, a broadcast, a
 * heartbeat): skipped until the step's timeout, counted and remembered for the report. */
static void skip_unrelated(wsp_probe *p, wsp_step_result *res, const wsp_ws_event *ev)
{
    res->skipped++;
    wsp_excerpt(p->last_unmatched, sizeof p->last_unmatched, ev->data, ev->len);
    p->have_unmatched = true;
}

/* A message that does not hold the running expectation `what`: skipped (the default), or with
 * --strict-order the step's failure, quoting the message. */
static void not_matched(wsp_probe *p, wsp_step_result *res, const wsp_ws_event *ev,
                        const char *what)
{
    if (!p->cfg->strict_order) {
        skip_unrelated(p, res, ev);
        return;
    }
    char ex[201];
    if (ev->type == WSP_WS_EV_BINARY)
        wsp_hex_excerpt(ex, sizeof ex, ev->data, ev->len); /* binary as hex */
    else
        wsp_excerpt(ex, sizeof ex, ev->data, ev->len);
    snprintf(res->detail, sizeof res->detail, "got: %s", ex);
    wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH, "step %zu: %s \"%s\"", p->step + 1, what,
                  ex);
}

/* The whole message is the subject (util/regex.h), matched within the regex's caps and what
 * is left of --deadline. A cap reached leaves the match undecided: the step fails at once
 * (docs/verdicts.md), never passes, and is not skipped as an unrelated message would be. */
static void expect_regex(wsp_probe *p, const wsp_step *s, wsp_step_result *res,
                         const wsp_ws_event *ev)
{
    const wsp_conn_record *r = wsp_conn_get_record(p->conn);
    uint64_t stop = p->cfg->conn.deadline_us ? r->t_start + p->cfg->conn.deadline_us * 1000u : 0;
    wsp_regex_result m = WSP_REGEX_LIMIT;
    if (!stop || uv_hrtime() < stop)
        m = wsp_regex_match(s->re, ev->data, ev->len, stop);
    if (m == WSP_REGEX_MATCH) {
        step_ok(p, "matched");
        return;
    }
    if (m == WSP_REGEX_NO_MATCH) {
        char what[200];
        snprintf(what, sizeof what, "the message does not match /%.80s/:", s->text);
        not_matched(p, res, ev, what);
        return;
    }
    if (stop && uv_hrtime() >= stop) {
        /* the deadline, not the pattern, ended it: the same verdict as the connection's own
         * deadline timer (conn.c) */
        snprintf(res->detail, sizeof res->detail, "the overall deadline passed");
        wsp_conn_fail(p->conn, WSP_CLASS_WS_MSG_TIMEOUT,
                      "the overall deadline passed while step %zu matched a %zu-byte message "
                      "against /%.80s/",
                      p->step + 1, ev->len, s->text);
        return;
    }
    snprintf(res->detail, sizeof res->detail, "%s", wsp_regex_result_text(m));
    wsp_class cls = m == WSP_REGEX_LIMIT ? WSP_CLASS_WS_EXPECT_MISMATCH : WSP_CLASS_INTERNAL;
    wsp_conn_fail(p->conn, cls,
                  "step %zu: %s on a %zu-byte message (/%.80s/): undecided, so the expectation "
                  "does not hold",
                  p->step + 1, wsp_regex_result_text(m), ev->len, s->text);
    wsp_conn_record *rw = wsp_conn_get_record(p->conn);
    if (m == WSP_REGEX_LIMIT && rw->err.cls == cls)
        wsp_err_hint(&rw->err,
                     "the pattern backtracks too much on this message (nested repeats such as "
                     "(a+)+, backreferences under a repeat): make it more specific (anchor it, "
                     "bound the repeats, use a++ or (?>...)); docs/regex.md");
}

static void on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev)
{
    wsp_probe *p = ud;
    (void)c;
    if (p->proto && wsp_proto_on_message(p->proto, ev))
        return; /* the protocol's packet: it comes back as on_proto_msg */
    if (p->step >= p->cfg->num_steps)
        return;
    const wsp_step *s = &p->cfg->steps[p->step];
    wsp_step_result *res = &p->results[p->step];
    char what[200];
    if (ev->type == WSP_WS_EV_PONG) {
        if (s->kind == WSP_STEP_PING && ev->len == sizeof p->ping_payload &&
            memcmp(ev->data, p->ping_payload, ev->len) == 0)
            step_ok(p, "pong");
        return;
    }
    switch (s->kind) {
    case WSP_STEP_EXPECT_TEXT: {
        size_t wlen = 0;
        char *want = expected_text(p, s->text, &wlen);
        if (!want)
            return;
        bool same = ev->len == wlen && memcmp(ev->data, want, wlen) == 0;
        free(want);
        if (same) {
            step_ok(p, "matched");
        } else {
            snprintf(what, sizeof what, "expected the text \"%.80s\", got", s->text);
            not_matched(p, res, ev, what);
        }
        return;
    }
    case WSP_STEP_EXPECT_REGEX:
        expect_regex(p, s, res, ev);
        return;
    case WSP_STEP_EXPECT_BINARY: {
        bool same = ev->type == WSP_WS_EV_BINARY;
        if (same && s->by_digest) {
            uint8_t md[32];
            same = SHA256(ev->data, ev->len, md) && memcmp(md, s->sha256, sizeof md) == 0;
        } else if (same) {
            same = ev->len == s->len && memcmp(ev->data, s->text, s->len) == 0;
        }
        if (same) {
            step_ok(p, "matched");
        } else {
            snprintf(what, sizeof what, "expected a binary message of %zu bytes%s, got", s->len,
                     s->by_digest ? " with the given SHA-256" : "");
            not_matched(p, res, ev, what);
        }
        return;
    }
    case WSP_STEP_EXPECT_JSON:
        if (json_matches(p, s, ev->data, ev->len)) {
            step_ok(p, "matched");
        } else {
            snprintf(what, sizeof what, "the next message does not hold %.80s=%.80s:", s->pointer,
                     s->value_json);
            not_matched(p, res, ev, what);
        }
        return;
    case WSP_STEP_SEND:
    case WSP_STEP_SEND_BINARY:
    case WSP_STEP_PING:
    case WSP_STEP_EMIT:
    case WSP_STEP_EMIT_ACK:
    case WSP_STEP_EXPECT_EVENT:
    case WSP_STEP_SUBSCRIBE:
    case WSP_STEP_EXPECT_COMPLETE:
        return; /* under a protocol, its packets come as on_proto_msg */
    }
}

/* --- the conversation on top (--protocol) ------------------------------------------- */

/* The run of EXPECT_JSON steps after step i: [i + 1, end). */
static size_t json_run_end(const wsp_probe_config *cfg, size_t i)
{
    size_t e = i + 1;
    while (e < cfg->num_steps && cfg->steps[e].kind == WSP_STEP_EXPECT_JSON)
        e++;
    return e;
}

/* Whether every pair of the EXPECT_JSON steps [from, to) holds on doc; the first that does
 * not is returned in *failed. */
static bool run_holds(wsp_probe *p, json_t *doc, size_t from, size_t to, size_t *failed)
{
    for (size_t i = from; i < to; i++) {
        const wsp_step *s = &p->cfg->steps[i];
        bool ok = pair_matches(p, doc, s->pointer, s->value_json);
        for (size_t k = 0; ok && k < s->num_also; k++)
            ok = pair_matches(p, doc, s->also_pointer[k], s->also_value[k]);
        if (!ok) {
            *failed = i;
            return false;
        }
    }
    return true;
}

/* The running step and the EXPECT_JSON steps after it, up to `end`, held together. */
static void run_ok(wsp_probe *p, size_t end, const char *detail)
{
    uint64_t now = uv_hrtime();
    for (size_t i = p->step; i + 1 < end; i++) {
        wsp_step_result *r = &p->results[i];
        r->ran = r->ok = true;
        r->t_done = now;
        r->roundtrip_ms = p->last_send_ns ? (double)(now - p->last_send_ns) / 1e6 : 0.0;
        snprintf(r->detail, sizeof r->detail, "%s", detail);
    }
    p->step = end - 1;
    step_ok(p, detail); /* runs the steps after the run */
}

/* An event or ack's arguments failed the expectation of step `failed`: quote them. */
static void args_mismatch(wsp_probe *p, const wsp_proto_msg *m, size_t failed, const char *what)
{
    const wsp_step *f = &p->cfg->steps[failed];
    char ex[201];
    wsp_excerpt(ex, sizeof ex, m->raw, m->raw_len);
    snprintf(p->results[p->step].detail, sizeof p->results[p->step].detail, "got: %s", ex);
    wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH,
                  "step %zu: %s does not hold %.80s=%.80s (the arguments as a JSON array): %s",
                  failed + 1, what, f->pointer, f->value_json, ex);
}

static void proto_event(wsp_probe *p, const wsp_step *s, wsp_step_result *res,
                        const wsp_proto_msg *m)
{
    size_t end = json_run_end(p->cfg, p->step), failed = 0;
    bool named = s->kind == WSP_STEP_EXPECT_EVENT && strcmp(m->name, s->text) == 0;
    if (named && run_holds(p, m->args, p->step + 1, end, &failed)) {
        run_ok(p, end, "matched");
        return;
    }
    if (named && p->cfg->strict_order) {
        char what[140];
        snprintf(what, sizeof what, "the event '%.100s'", s->text);
        args_mismatch(p, m, failed, what);
        return;
    }
    /* another event, or this one with other arguments: unrelated until the timeout */
    res->skipped++;
    wsp_proto_note_skipped(p->proto);
    wsp_excerpt(p->last_unmatched, sizeof p->last_unmatched, m->raw, m->raw_len);
    p->have_unmatched = true;
    if (s->kind == WSP_STEP_EXPECT_EVENT && p->cfg->strict_order)
        wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH,
                      "step %zu: expected the event '%.100s', got %s", p->step + 1, s->text,
                      p->last_unmatched);
}

static void proto_ack(wsp_probe *p, const wsp_step *s, const wsp_proto_msg *m)
{
    if (s->kind != WSP_STEP_EMIT_ACK || m->ack_id != p->ack_id)
        return; /* an ack of an earlier emit */
    size_t end = json_run_end(p->cfg, p->step), failed = 0;
    if (run_holds(p, m->args, p->step + 1, end, &failed)) {
        run_ok(p, end, "acknowledged");
        return;
    }
    char what[140];
    snprintf(what, sizeof what, "the ack of '%.100s'", s->text);
    args_mismatch(p, m, failed, what); /* the ack is the answer: no other will come */
}

/* The GraphQL errors of a payload ({"errors": [...]}, or an `error` message's array), quoted
 * into out. Whether there were any. */
static bool gql_errors(const json_t *payload, char *out, size_t cap)
{
    const json_t *e = json_is_array(payload) ? payload : json_object_get(payload, "errors");
    if (!json_is_array(e) || json_array_size(e) == 0)
        return false;
    char *t = json_dumps(e, JSON_COMPACT);
    wsp_excerpt(out, cap, t ? t : "", t ? strlen(t) : 0);
    free(t);
    return true;
}

static void proto_next(wsp_probe *p, const wsp_step *s, wsp_step_result *res,
                       const wsp_proto_msg *m)
{
    p->sub_values++;
    if (s->kind != WSP_STEP_SUBSCRIBE && s->kind != WSP_STEP_EXPECT_JSON &&
        s->kind != WSP_STEP_EXPECT_COMPLETE) {
        res->skipped++; /* a value after the expected ones, while another step runs */
        return;
    }
    size_t failed = 0;
    if (s->kind == WSP_STEP_EXPECT_JSON && run_holds(p, m->args, p->step, p->step + 1, &failed)) {
        step_ok(p, "matched"); /* (an expectation may name the errors it wants) */
        return;
    }
    char ex[201], errs[201];
    wsp_excerpt(ex, sizeof ex, m->raw, m->raw_len);
    bool errors = gql_errors(m->args, errs, sizeof errs);
    if (!errors && s->kind == WSP_STEP_SUBSCRIBE) {
        step_ok(p, "a value came");
        return;
    }
    if (!errors && s->kind == WSP_STEP_EXPECT_COMPLETE) {
        res->skipped++; /* values before the awaited complete */
        return;
    }
    snprintf(res->detail, sizeof res->detail, "got: %s", ex);
    if (errors) {
        /* a query's execution errors come as a value: {"data": ..., "errors": [...]} */
        wsp_conn_fail(p->conn, WSP_CLASS_APP_ERROR,
                      "step %zu: value %u of the subscription carried GraphQL errors: %s",
                      p->step + 1, p->sub_values, errs);
        return;
    }
    wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH,
                  "step %zu: value %u of the subscription does not hold %.80s=%.80s: %s",
                  p->step + 1, p->sub_values, s->pointer, s->value_json, ex);
}

static void on_proto_msg(void *ud, const wsp_proto_msg *m)
{
    wsp_probe *p = ud;
    if (m->kind == WSP_PROTO_MSG_DISCONNECT) {
        if (p->step < p->cfg->num_steps) {
            const wsp_proto_record *pr = wsp_proto_get_record(p->proto);
            wsp_conn_fail(p->conn, WSP_CLASS_WS_CLOSED,
                          "the server ended the session (%s) before "
                          "step %zu held",
                          pr->disconnect_reason, p->step + 1);
        }
        return;
    }
    const wsp_step *s = p->step < p->cfg->num_steps ? &p->cfg->steps[p->step] : NULL;
    if (!s || (m->kind == WSP_PROTO_MSG_EVENT && s->kind != WSP_STEP_EXPECT_EVENT &&
               s->kind != WSP_STEP_EMIT_ACK)) {
        if (m->kind == WSP_PROTO_MSG_EVENT)
            wsp_proto_note_skipped(p->proto); /* no step waits for events now */
        return;
    }
    wsp_step_result *res = &p->results[p->step];
    bool ours = m->id && strcmp(m->id, p->sub_id) == 0;
    switch (m->kind) {
    case WSP_PROTO_MSG_EVENT:
        proto_event(p, s, res, m);
        return;
    case WSP_PROTO_MSG_ACK:
        proto_ack(p, s, m);
        return;
    case WSP_PROTO_MSG_NEXT:
        if (ours)
            proto_next(p, s, res, m);
        return;
    case WSP_PROTO_MSG_ERROR:
        if (ours) {
            char errs[201] = "";
            if (!gql_errors(m->args, errs, sizeof errs))
                wsp_excerpt(errs, sizeof errs, m->raw, m->raw_len);
            snprintf(res->detail, sizeof res->detail, "error: %s", errs);
            wsp_conn_fail(p->conn, WSP_CLASS_APP_ERROR,
                          "step %zu: the server answered the subscription with GraphQL errors: "
                          "%s",
                          p->step + 1, errs);
        }
        return;
    case WSP_PROTO_MSG_COMPLETE:
        if (!ours)
            return;
        p->sub_id[0] = '\0';
        if (s->kind == WSP_STEP_EXPECT_COMPLETE) {
            step_ok(p, "complete");
            return;
        }
        if (s->kind != WSP_STEP_SUBSCRIBE && s->kind != WSP_STEP_EXPECT_JSON)
            return; /* after its expectations held: the subscription is simply over */
        snprintf(res->detail, sizeof res->detail, "the subscription completed");
        wsp_conn_fail(p->conn, WSP_CLASS_WS_EXPECT_MISMATCH,
                      "step %zu: the subscription completed after %u value(s) while this step "
                      "waited for %s",
                      p->step + 1, p->sub_values,
                      s->kind == WSP_STEP_SUBSCRIBE ? "its first" : "another");
        return;
    case WSP_PROTO_MSG_DISCONNECT:
        return;
    }
}

static void on_proto_ready(void *ud)
{
    run_steps(ud);
}

/* An emit or a subscribe: its JSON (arguments, variables) filled in at the moment of sending
 * and remembered as what was sent ({{sent./0/id}}). 0, or -1 with the connection failed. */
static int proto_send(wsp_probe *p, const wsp_step *s, wsp_step_result *res)
{
    size_t len = 0;
    char *json = NULL;
    wsp_err e;
    wsp_err_clear(&e);
    if (s->value_json) {
        wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
        json = wsp_tmpl_expand(s->value_json, &live, &len, &e);
        if (!json) {
            wsp_conn_fail(p->conn, e.cls, "step %zu: %s", p->step + 1, e.msg);
            return -1;
        }
    }
    int rc;
    if (s->kind == WSP_STEP_SUBSCRIBE) {
        p->sub_values = 0;
        rc = wsp_proto_subscribe(p->proto, s->text, json, p->sub_id, sizeof p->sub_id, &e);
    } else {
        rc = wsp_proto_emit(p->proto, s->text, json, s->kind == WSP_STEP_EMIT_ACK, &p->ack_id, &e);
    }
    if (rc != 0) {
        free(json);
        snprintf(res->detail, sizeof res->detail, "%.250s", e.msg);
        wsp_conn_fail(p->conn, e.cls, "step %zu: %s", p->step + 1, e.msg);
        return -1;
    }
    free(p->last_sent);
    p->last_sent = json;
    p->last_sent_len = len;
    p->last_send_ns = uv_hrtime();
    if (s->kind == WSP_STEP_SUBSCRIBE)
        snprintf(res->detail, sizeof res->detail, "operation %s", p->sub_id);
    else
        snprintf(res->detail, sizeof res->detail, "%s%.200s",
                 s->kind == WSP_STEP_EMIT_ACK ? "ack of " : "", s->text);
    return 0;
}

/* Run send steps at once; stop at the first step that waits. */
static void run_steps(wsp_probe *p)
{
    if (p->ac.req.first_message && !p->auth_sent) {
        /* --auth-in message: the credential is the first message after open */
        p->auth_sent = true;
        const char *m = p->ac.req.first_message;
        if (wsp_conn_send(p->conn, WSP_WS_OP_TEXT, m, strlen(m)) != 0) {
            wsp_conn_fail(p->conn, WSP_CLASS_WS_DROPPED, "could not send the credential message");
            return;
        }
    }
    if (p->proto && !wsp_proto_ready(p->proto))
        return; /* the protocol's handshake first (on_proto_ready) */
    while (p->step < p->cfg->num_steps) {
        if (wsp_conn_get_phase(p->conn) != WSP_PHASE_OPEN)
            return;
        const wsp_step *s = &p->cfg->steps[p->step];
        wsp_step_result *res = &p->results[p->step];
        res->ran = true;
        uint64_t t = s->timeout_us ? s->timeout_us : p->cfg->conn.timeout_us;
        switch (s->kind) {
        case WSP_STEP_SEND:
        case WSP_STEP_SEND_BINARY: {
            /* placeholders are filled per connection, at the moment of sending */
            size_t len = s->len;
            char *msg = NULL;
            if (s->kind == WSP_STEP_SEND && wsp_tmpl_has_vars(s->text)) {
                wsp_err e;
                wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
                msg = wsp_tmpl_expand(s->text, &live, &len, &e);
                if (!msg) {
                    wsp_conn_fail(p->conn, e.cls, "step %zu: %s", p->step + 1, e.msg);
                    return;
                }
            } else {
                msg = malloc(len + 1);
                if (!msg) {
                    wsp_conn_fail(p->conn, WSP_CLASS_INTERNAL, "out of memory");
                    return;
                }
                memcpy(msg, s->text, len);
                msg[len] = '\0';
            }
            free(p->last_sent);
            p->last_sent = msg;
            p->last_sent_len = len;
            p->last_send_ns = uv_hrtime();
            if (wsp_conn_send(p->conn, s->kind == WSP_STEP_SEND ? WSP_WS_OP_TEXT : WSP_WS_OP_BINARY,
                              msg, len) != 0) {
                wsp_conn_fail(p->conn, WSP_CLASS_WS_DROPPED, "step %zu: could not send",
                              p->step + 1);
                return;
            }
            res->ok = true;
            snprintf(res->detail, sizeof res->detail, "%zu bytes", len);
            p->step++;
            continue;
        }
        case WSP_STEP_PING:
            if (s->kind == WSP_STEP_PING && p->cfg->pong_timeout_us)
                t = p->cfg->pong_timeout_us;
            wsp_rand_bytes(p->ping_payload, sizeof p->ping_payload);
            p->last_send_ns = uv_hrtime();
            if (wsp_conn_send(p->conn, WSP_WS_OP_PING, p->ping_payload, sizeof p->ping_payload) !=
                0) {
                wsp_conn_fail(p->conn, WSP_CLASS_WS_DROPPED, "step %zu: could not send the ping",
                              p->step + 1);
                return;
            }
            uv_timer_start(&p->step_timer, step_timer_cb, (t + 999) / 1000, 0);
            return;
        case WSP_STEP_EMIT:
        case WSP_STEP_EMIT_ACK:
        case WSP_STEP_SUBSCRIBE:
            if (proto_send(p, s, res) != 0)
                return;
            if (s->kind == WSP_STEP_EMIT ||
                (s->kind == WSP_STEP_SUBSCRIBE && p->step + 1 < p->cfg->num_steps &&
                 (p->cfg->steps[p->step + 1].kind == WSP_STEP_EXPECT_JSON ||
                  p->cfg->steps[p->step + 1].kind == WSP_STEP_EXPECT_COMPLETE))) {
                res->ok = true;
                p->step++;
                continue;
            }
            /* an ack to wait for; a subscription nothing judges waits for its first value */
            uv_timer_start(&p->step_timer, step_timer_cb, (t + 999) / 1000, 0);
            return;
        case WSP_STEP_EXPECT_TEXT:
        case WSP_STEP_EXPECT_REGEX:
        case WSP_STEP_EXPECT_JSON:
        case WSP_STEP_EXPECT_BINARY:
        case WSP_STEP_EXPECT_EVENT:
        case WSP_STEP_EXPECT_COMPLETE:
            uv_timer_start(&p->step_timer, step_timer_cb, (t + 999) / 1000, 0);
            return;
        }
    }
    /* every step held: wait for the server's close when one is expected (or when the server
     * has a moment to refuse an unauthenticated client), else close politely (RFC 6455
     * 7.1.2) */
    uint64_t wait_us = 0;
    if (p->cfg->num_expect_close)
        wait_us = p->cfg->conn.timeout_us;
    else if (p->cfg->expect_auth_required && !has_expectation(p->cfg))
        wait_us = p->cfg->conn.timeout_us < AUTH_GRACE_US ? p->cfg->conn.timeout_us : AUTH_GRACE_US;
    if (wait_us) {
        p->awaiting_close = true;
        uv_timer_start(&p->step_timer, step_timer_cb, (wait_us + 999) / 1000, 0);
        return;
    }
    wsp_conn_close(p->conn, WSP_WS_CLOSE_NORMAL, NULL);
}

static void on_open(wsp_conn *c, void *ud)
{
    wsp_probe *p = ud;
    (void)c;
    if (p->proto)
        wsp_proto_on_open(p->proto); /* the steps run once it is ready */
    else
        run_steps(p);
}

static void on_done(wsp_conn *c, void *ud)
{
    wsp_probe *p = ud;
    if (c == p->conn) {
        uv_timer_stop(&p->step_timer); /* the health check's end must not stop a step's clock */
        if (p->proto)
            wsp_proto_on_done(p->proto);
        p->conn_done = true;
    } else {
        p->health_done = true;
    }
    report_if_done(p);
}

static const wsp_conn_cbs probe_cbs = {on_open, on_message, on_done};

/* Mint (or take) this probe's token and put it where the configuration says. A failure is
 * kept and reported as the verdict when the probe starts, before any connection. */
wsp_probe *wsp_probe_new(uv_loop_t *loop, const wsp_probe_config *cfg, wsp_probe_done_cb cb,
                         void *ud)
{
    wsp_probe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->results = calloc(cfg->num_steps ? cfg->num_steps : 1, sizeof *p->results);
    if (!p->results) {
        free(p);
        return NULL;
    }
    if (!loop) {
        loop = malloc(sizeof *loop);
        if (!loop || uv_loop_init(loop) != 0) {
            free(loop);
            free(p->results);
            free(p);
            return NULL;
        }
        p->owns_loop = true;
    }
    p->loop = loop;
    p->cfg = cfg;
    p->cb = cb;
    p->ud = ud;
    wsp_err_clear(&p->verdict);
    uv_timer_init(loop, &p->step_timer);
    p->step_timer.data = p;
    wsp_err_clear(&p->auth_err);
    (void)wsp_auth_conn_init(&p->ac, cfg->auth, &cfg->conn, &p->auth_err); /* reported at start */
    p->conn = wsp_conn_new(loop, &p->ac.opts, &probe_cbs, p);
    if (cfg->has_health)
        p->health = wsp_conn_new(loop, &cfg->health_conn, &probe_cbs, p);
    if (p->conn && cfg->proto.kind != WSP_PROTO_NONE) {
        static const wsp_proto_cbs pcbs = {on_proto_ready, on_proto_msg};
        p->proto = wsp_proto_new(loop, &cfg->proto, p->conn, p->ac.req.app_token,
                                 cfg->conn.timeout_us, &pcbs, p);
    }
    if (!p->conn || (cfg->has_health && !p->health) ||
        (cfg->proto.kind != WSP_PROTO_NONE && !p->proto)) {
        wsp_probe_free(p);
        return NULL;
    }
    return p;
}

void wsp_probe_start(wsp_probe *p)
{
    if (p->auth_err.cls != WSP_CLASS_OK) {
        wsp_conn_fail(p->conn, p->auth_err.cls, "credentials: %s", p->auth_err.msg);
        if (p->health)
            wsp_conn_fail(p->health, p->auth_err.cls, "not run");
        return;
    }
    if (p->health)
        wsp_conn_start(p->health);
    wsp_conn_start(p->conn);
}

static void step_timer_closed(uv_handle_t *h)
{
    wsp_probe *p = h->data;
    wsp_auth_conn_cleanup(&p->ac);
    free(p->last_sent);
    free(p->results);
    free(p);
}

void wsp_probe_free(wsp_probe *p)
{
    if (!p)
        return;
    uv_loop_t *own = p->owns_loop ? p->loop : NULL;
    wsp_proto_free(p->proto);
    wsp_conn_free(p->conn);
    wsp_conn_free(p->health);
    /* the probe lives until its timer's close completes on the loop */
    uv_close((uv_handle_t *)&p->step_timer, step_timer_closed);
    if (own) {
        uv_run(own, UV_RUN_DEFAULT);
        uv_loop_close(own);
        free(own);
    }
}

const wsp_err *wsp_probe_verdict(const wsp_probe *p)
{
    return &p->verdict;
}

const wsp_conn_record *wsp_probe_record(const wsp_probe *p)
{
    return wsp_conn_get_record(p->conn);
}

const wsp_conn_record *wsp_probe_health_record(const wsp_probe *p)
{
    return p->health ? wsp_conn_get_record(p->health) : NULL;
}

const wsp_step_result *wsp_probe_step_results(const wsp_probe *p)
{
    return p->results;
}

const wsp_probe_config *wsp_probe_get_config(const wsp_probe *p)
{
    return p->cfg;
}

const wsp_proto_record *wsp_probe_proto_record(const wsp_probe *p)
{
    return p->proto ? wsp_proto_get_record(p->proto) : NULL;
}

wsp_probe *wsp_probe_run(const wsp_probe_config *cfg)
{
    wsp_probe *p = wsp_probe_new(NULL, cfg, NULL, NULL);
    if (!p)
        return NULL;
    wsp_probe_start(p);
    uv_run(p->loop, UV_RUN_DEFAULT);
    return p;
}

wsp_tmpl_ctx wsp_probe_tmpl_ctx(const char *sent, size_t sent_len)
{
    wsp_tmpl_ctx c = {sent, sent_len, wsp_clock_real_ms, getenv};
    return c;
}
