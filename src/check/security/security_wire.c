/* security_wire.c - the origin.*, input.* and limits.* checks: handshakes from foreign origins,
 * and frames that break RFC 6455 or the endpoint's limits on purpose (raw sessions). Payloads
 * stay bounded: the largest message is twice the configured limit, and the 2^62 length is only
 * declared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "util/rand.h"
#include "check/security/security_int.h"
#include "codec/template.h"

#define DEFAULT_MAX_MESSAGE (64u * 1024u)

/* ---- origin ---- */

/* The allowed origin, or one made from the URL (same-origin): scheme://host[:port]. */
static void origin_of(const wsp_env *env, char *out, size_t cap)
{
    const char *a = wsp_sec_allowed_origin(env);
    if (a) {
        snprintf(out, cap, "%s", a);
        return;
    }
    const wsp_url *u = &env->base.url;
    bool dflt = u->port == (u->tls ? 443 : 80);
    char port[8] = "";
    if (!dflt)
        snprintf(port, sizeof port, ":%u", u->port);
    snprintf(out, cap, "%s://%s%s%s%s", u->tls ? "https" : "http", u->host_is_ipv6 ? "[" : "",
             u->host, u->host_is_ipv6 ? "]" : "", port);
}

/* Run probes with the valid credential from each origin (NULL: no Origin header), between two
 * baselines, and judge by the decision rules. */
static void origin_negatives(const wsp_env *env, wsp_check_result *out, const char *const *names,
                             const char *const *origins, size_t n, const char *what)
{
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_probe_config cfgs[12];
    const wsp_probe_config *cp[12];
    if (n > 12)
        n = 12;
    for (size_t i = 0; i < n; i++) {
        wsp_sec_cfg_from_env(env, &cfgs[i]);
        cfgs[i].conn.origin = origins[i];
        wsp_sec_cfg_add_marker(env, &cfgs[i]);
        cp[i] = &cfgs[i];
    }
    wsp_sec_batch *b = wsp_sec_batch_run(cp, n);
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    json_t *sent = json_object();
    for (size_t i = 0; b && i < n; i++) {
        json_object_set_new(sent, names[i], origins[i] ? json_string(origins[i]) : json_null());
        if (b->probes[i])
            wsp_sec_note(out, &t, names[i], b->probes[i], wsp_sec_judge(b->probes[i]));
        else
            wsp_sec_count(&t, names[i], WSP_SEC_UNREACHABLE);
    }
    json_object_set_new(out->evidence, "origins", sent);
    wsp_sec_batch_free(b);
    for (size_t i = 0; i < n; i++)
        wsp_probe_config_cleanup(&cfgs[i]);
    if (!b) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
    } else {
        bool after = wsp_sec_baseline(env, out, "baseline_after", false);
        wsp_sec_conclude(out, &t, after, what);
    }
}

void wsp_sec_origin_foreign(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    const char *names[] = {"foreign"};
    const char *origins[] = {"https://cswsh.example"};
    origin_negatives(env, out, names, origins, 1, "handshakes from a foreign origin");
    if (out->verdict == WSP_VERDICT_PASS) {
        json_t *f = json_object_get(out->evidence, "foreign");
        const char *o = json_string_value(json_object_get(f, "outcome"));
        if (o && strcmp(o, "refused_at_handshake") != 0)
            wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                          "the foreign origin was refused only after the upgrade (%s): refuse it "
                          "at the handshake (403)",
                          o);
    }
}

void wsp_sec_origin_bypass(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    char allowed[512];
    origin_of(env, allowed, sizeof allowed);
    const char *sep = strstr(allowed, "://");
    if (!sep) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the allowed origin '%.200s' has no scheme", allowed);
        return;
    }
    char scheme[16];
    snprintf(scheme, sizeof scheme, "%.*s", (int)(sep - allowed), allowed);
    const char *hostport = sep + 3;
    char host[300], port[16] = "";
    const char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
    if (colon && hostport[0] == '[')
        colon++;
    if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
        snprintf(port, sizeof port, "%s", colon);
    } else {
        snprintf(host, sizeof host, "%s", hostport);
    }
    char v[8][640];
    const char *names[8];
    size_t n = 0;
    names[n] = "null";
    snprintf(v[n++], sizeof v[0], "null");
    names[n] = "other_scheme";
    snprintf(v[n++], sizeof v[0], "%s://%s", strcmp(scheme, "https") == 0 ? "http" : "https",
             hostport);
    names[n] = "suffix";
    snprintf(v[n++], sizeof v[0], "%s://%s.attacker.example%s", scheme, host, port);
    names[n] = "prefix";
    snprintf(v[n++], sizeof v[0], "%s://attacker-%s%s", scheme, host, port);
    char dots[300];
    snprintf(dots, sizeof dots, "%s", host);
    bool had_dot = false;
    for (char *c = dots; *c; c++)
        if (*c == '.') {
            *c = 'x';
            had_dot = true;
        }
    if (had_dot) {
        names[n] = "dots_replaced";
        snprintf(v[n++], sizeof v[0], "%s://%s%s", scheme, dots, port);
    }
    names[n] = "lookalike";
    snprintf(v[n++], sizeof v[0], "%s://%c%s%s", scheme, host[0] ? host[0] : 'w', host, port);
    names[n] = "userinfo";
    snprintf(v[n++], sizeof v[0], "%s@attacker.example", allowed);
    const char *origins[8];
    for (size_t i = 0; i < n; i++)
        origins[i] = v[i];
    json_object_set_new(out->evidence, "allowed_origin", json_string(allowed));
    origin_negatives(env, out, names, origins, n, "lookalike origins");
}

void wsp_sec_origin_missing(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    cfg.conn.origin = NULL;
    wsp_sec_cfg_add_marker(env, &cfg);
    wsp_sec_outcome o = wsp_sec_probe_once(&cfg, out, "no_origin");
    wsp_probe_config_cleanup(&cfg);
    json_object_set_new(out->evidence, "served_without_origin",
                        json_boolean(o == WSP_SEC_ACCEPTED));
    if (o == WSP_SEC_EDGE || o == WSP_SEC_SILENT || o == WSP_SEC_UNREACHABLE)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "no clear answer without an Origin header (%s)", wsp_sec_outcome_name(o));
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "informational: a request without Origin is %s (non-browser clients can "
                      "send any origin, so this is not a defence either way)",
                      o == WSP_SEC_ACCEPTED ? "served" : "refused");
}

/* ---- raw-session helpers ---- */

static uint64_t max_message(const wsp_env *env, const json_t *params)
{
    json_t *m = json_object_get(params, "max_message");
    if (json_is_integer(m) && json_integer_value(m) > 0)
        return (uint64_t)json_integer_value(m);
    return env->limits.max_message ? env->limits.max_message : DEFAULT_MAX_MESSAGE;
}

/* The marker message padded with trailing JSON whitespace to exactly `size` bytes (at least
 * the message itself). Heap. */
static char *padded_marker(const wsp_env *env, size_t size, size_t *len_out)
{
    size_t len = 0;
    char *m = wsp_sec_message(wsp_sec_marker_template(env), &len);
    if (!m)
        return NULL;
    if (size < len)
        size = len;
    char *p = realloc(m, size + 1);
    if (!p) {
        free(m);
        return NULL;
    }
    memset(p + len, ' ', size - len);
    p[size] = '\0';
    *len_out = size;
    return p;
}

typedef struct violation {
    const char *name;
    const uint8_t *data; /* raw bytes to send, or NULL to build a frame */
    size_t len;
    bool fin;
    unsigned opcode, rsv;
    bool masked;
    const void *payload;
    size_t plen;
    bool marker_after;
    const int *good_codes; /* close codes that are the expected answer, 0-terminated */
} violation;

/* One authenticated raw session: `on_open` breaks the protocol, then the success marker is
 * sent and the session ends as soon as it comes back. */
static void run_with_marker_after(const wsp_env *env, wsp_sec_raw *a,
                                  void (*on_open)(wsp_sec_raw *, void *), void *ud)
{
    memset(a, 0, sizeof *a);
    a->o.with_auth = true;
    a->o.on_open = on_open;
    a->o.ud = ud;
    a->o.marker_after = true;
    a->o.stop_on_marker = true;
    wsp_sec_raw *sp[] = {a};
    wsp_sec_raw_run(env, sp, 1);
}

static void send_violation(wsp_sec_raw *s, void *ud)
{
    const violation *v = ud;
    if (v->data)
        wsp_sec_raw_send(s, v->data, v->len);
    else
        wsp_sec_raw_frame(s, v->fin, v->opcode, v->rsv, v->payload, v->plen, v->masked);
}

static bool good_code(const violation *v, int code)
{
    for (const int *c = v->good_codes; c && *c; c++)
        if (*c == code)
            return true;
    return false;
}

/* Each violation on its own connection (credential applied), concurrently; a baseline before
 * and after. Pass on the expected close or a drop; fail when the marker came back. */
static void run_violations(const wsp_env *env, wsp_check_result *out, violation *v, size_t n,
                           const char *what, const char *expect)
{
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_sec_raw s[8];
    wsp_sec_raw *sp[8];
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].o.with_auth = true;
        s[i].o.on_open = send_violation;
        s[i].o.ud = &v[i];
        s[i].o.marker_after = v[i].marker_after;
        s[i].o.stop_on_marker = true;
        sp[i] = &s[i];
    }
    wsp_sec_raw_run(env, sp, n);
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    unsigned other_code = 0;
    json_t *fp = json_object();
    for (size_t i = 0; i < n; i++) {
        wsp_sec_outcome o =
            s[i].opened ? wsp_sec_judge_record(&s[i].rec, s[i].marker_seen) : WSP_SEC_UNREACHABLE;
        if (o == WSP_SEC_REFUSED_OPEN && s[i].rec.closed_by == WSP_CLOSED_BY_SERVER &&
            !good_code(&v[i], s[i].rec.close_code))
            other_code++;
        wsp_sec_raw_evidence(out, v[i].name, &s[i], wsp_sec_outcome_name(o));
        if (s[i].rec.close_code >= 0 && s[i].rec.closed_by == WSP_CLOSED_BY_SERVER) {
            char fpv[160];
            snprintf(fpv, sizeof fpv, "%d %s", s[i].rec.close_code, s[i].rec.close_reason);
            json_object_set_new(fp, v[i].name, json_string(fpv));
        }
        wsp_sec_count(&t, v[i].name, o);
        wsp_sec_raw_cleanup(&s[i]);
    }
    json_object_set_new(out->evidence, "close_fingerprint", fp);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    wsp_sec_conclude(out, &t, after, what);
    if (out->verdict == WSP_VERDICT_PASS && other_code)
        snprintf(out->message + strlen(out->message), sizeof out->message - strlen(out->message),
                 "; %u with a close code other than %s", other_code, expect);
}

/* ---- input ---- */

static const int codes_1007[] = {1007, 0};
static const int codes_1002[] = {1002, 0};
static const int codes_1009[] = {1009, 1008, 0};

/* RFC 6455 8.1: a text frame that is not UTF-8 must fail the connection (1007). The check
 * judges what the server did with the bytes: closed (1007, another refusal) or dropped: pass;
 * served the marker after them, or sent them back (to us as an echo, or as a broadcast to the
 * room we are in): fail. Our own parser refuses invalid UTF-8 from the server (ws.h) and fails
 * the connection with 1007 itself, so "sent them back" shows as that failure, told apart from
 * the server's own close 1007 by the parser's error. Runs alone (WSP_CHECK_ALONE): a server
 * that relays the bytes would break every connection the other checks hold open. */
void wsp_sec_input_invalid_utf8(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    static const uint8_t bad[] = {0xC3, 0x28};
    violation v = {.name = "c3_28",
                   .fin = true,
                   .opcode = WSP_WS_OP_TEXT,
                   .masked = true,
                   .payload = bad,
                   .plen = sizeof bad,
                   .marker_after = true,
                   .good_codes = codes_1007};
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_sec_raw a;
    run_with_marker_after(env, &a, send_violation, &v);
    const wsp_conn_record *r = &a.rec;
    /* the server sent a text message that is not UTF-8: ours, come back */
    bool sent_back = a.opened && r->err.cls == WSP_CLASS_WS_PROTOCOL &&
                     strstr(r->err.msg, WSP_WS_ERR_TEXT_UTF8) != NULL;
    /* the server closed, with a reason that is not UTF-8 (the bytes in its close reason) */
    bool bad_reason = a.opened && r->err.cls == WSP_CLASS_WS_PROTOCOL &&
                      strstr(r->err.msg, WSP_WS_ERR_CLOSE_UTF8) != NULL;
    wsp_sec_outcome o = a.opened ? wsp_sec_judge_record(r, a.marker_seen) : WSP_SEC_UNREACHABLE;
    if (bad_reason && !a.marker_seen)
        o = WSP_SEC_REFUSED_OPEN;
    const char *oname = sent_back && !a.marker_seen ? "sent_back" : wsp_sec_outcome_name(o);
    wsp_sec_raw_evidence(out, v.name, &a, oname);
    json_t *ev = json_object_get(out->evidence, v.name);
    json_object_set_new(ev, "server_sent_invalid_utf8", json_boolean(sent_back));
    json_object_set_new(out->evidence, "invalid_bytes_sent_back", json_boolean(sent_back));
    if (r->close_code >= 0 && r->closed_by == WSP_CLOSED_BY_SERVER) {
        char fpv[160];
        snprintf(fpv, sizeof fpv, "%d %s", r->close_code, r->close_reason);
        json_object_set_new(out->evidence, "close_fingerprint", json_pack("{s:s}", v.name, fpv));
    }
    bool other_code = o == WSP_SEC_REFUSED_OPEN && r->closed_by == WSP_CLOSED_BY_SERVER &&
                      !good_code(&v, r->close_code);
    wsp_sec_raw_cleanup(&a);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    if (sent_back && !a.marker_seen) {
        json_object_set_new(out->evidence, "outcomes", json_pack("{s:i}", "sent_back", 1));
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the server sent the invalid UTF-8 back (echoed or relayed as a text "
                      "message) instead of closing with 1007: wsprobe's parser refused it and "
                      "failed the connection itself");
        snprintf(out->hint, sizeof out->hint,
                 "validate text messages as UTF-8 before handling or relaying them, and close "
                 "with 1007 (RFC 6455 8.1); clients that receive the relayed bytes fail too");
    } else {
        wsp_sec_tally t;
        memset(&t, 0, sizeof t);
        wsp_sec_count(&t, v.name, o);
        wsp_sec_conclude(out, &t, after, "invalid UTF-8 text frames");
        if (out->verdict == WSP_VERDICT_PASS && bad_reason)
            wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                          "the server closed the connection, but with a close reason that is not "
                          "valid UTF-8 (RFC 6455 5.5.1)");
        else if (out->verdict == WSP_VERDICT_PASS && other_code)
            snprintf(out->message + strlen(out->message),
                     sizeof out->message - strlen(out->message), "; with close %d rather than 1007",
                     r->close_code);
    }
}

void wsp_sec_input_framing(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    static const char hello[] = "wsprobe";
    static uint8_t long_ping[126];
    memset(long_ping, 'p', sizeof long_ping);
    violation v[] = {
        {.name = "unmasked",
         .fin = true,
         .opcode = WSP_WS_OP_TEXT,
         .masked = false,
         .payload = hello,
         .plen = 7,
         .marker_after = true,
         .good_codes = codes_1002},
        {.name = "rsv_bits",
         .fin = true,
         .opcode = WSP_WS_OP_TEXT,
         .rsv = 0x70,
         .masked = true,
         .payload = hello,
         .plen = 7,
         .marker_after = true,
         .good_codes = codes_1002},
        {.name = "opcode_3",
         .fin = true,
         .opcode = 0x3,
         .masked = true,
         .payload = hello,
         .plen = 7,
         .marker_after = true,
         .good_codes = codes_1002},
        {.name = "opcode_b",
         .fin = true,
         .opcode = 0xB,
         .masked = true,
         .payload = hello,
         .plen = 7,
         .marker_after = true,
         .good_codes = codes_1002},
        {.name = "ping_126",
         .fin = true,
         .opcode = WSP_WS_OP_PING,
         .masked = true,
         .payload = long_ping,
         .plen = sizeof long_ping,
         .marker_after = true,
         .good_codes = codes_1002},
        {.name = "fragmented_ping",
         .fin = false,
         .opcode = WSP_WS_OP_PING,
         .masked = true,
         .payload = hello,
         .plen = 7,
         .marker_after = true,
         .good_codes = codes_1002},
    };
    run_violations(env, out, v, sizeof v / sizeof v[0], "protocol violations", "1002");
}

/* A text message whose JSON-decoded strings we search. */
static bool json_has_text(json_t *j, const char *needle, const char **found)
{
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (strstr(s, needle)) {
            *found = s;
            return true;
        }
        return false;
    }
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) if (json_has_text(v, needle, found)) return true;
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) if (json_has_text(v, needle, found)) return true;
    }
    return false;
}

static bool markup_survives(const char *s)
{
    if (strchr(s, '<') || strchr(s, '>'))
        return true;
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, "javascript:", 11) == 0)
            return true;
    return false;
}

typedef struct xss_ctx {
    char msgs[6][700];
    size_t n;
    wsp_sec_raw *observer;
    wsp_sec_raw *sender;
    uint64_t wait_us;
} xss_ctx;

/* The observer saw every payload come back: their fate is known, the sender need not wait */
static void xss_observer_end(wsp_sec_raw *s, void *ud)
{
    xss_ctx *x = ud;
    wsp_sec_raw *snd = x->sender;
    if (s->tagged >= x->n && snd->c && !snd->done && wsp_conn_get_phase(snd->c) == WSP_PHASE_OPEN) {
        uv_timer_stop(&snd->timer);
        wsp_conn_close(snd->c, WSP_WS_CLOSE_NORMAL, NULL);
    }
}

static void send_xss(wsp_sec_raw *s, void *ud)
{
    xss_ctx *x = ud;
    /* the observer's wait counts from now: it must see what is about to be sent */
    wsp_sec_raw_rearm(x->observer, x->wait_us);
    for (size_t i = 0; i < x->n; i++)
        wsp_sec_raw_send_text(s, x->msgs[i], strlen(x->msgs[i]));
}

/* The six payloads, each tagged TAG0..TAG5, put through the app's message template (the
 * marker message with its marker text replaced) into x->msgs. false when the marker message is
 * not a JSON object (no field to carry them). */
static bool xss_messages(const wsp_env *env, const char *tag, xss_ctx *x)
{
    char payloads[6][400];
    snprintf(payloads[0], 400, "<script>alert('%s0')</script>", tag);
    snprintf(payloads[1], 400, "\"'><svg/onload=alert('%s1')>", tag);
    snprintf(payloads[2], 400, "<img src=x onerror=alert('%s2')>", tag);
    snprintf(payloads[3], 400, "javascript:alert('%s3')", tag);
    snprintf(payloads[4], 400,
             "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert('%s4') )//</stYle/</titLe/"
             "</teXtarEa/</scRipt/--!><sVg/<sVg/oNloAd=alert('%s4')//>",
             tag, tag);
    snprintf(payloads[5], 400, "&lt;b&gt;%s5", tag);
    /* through the app's message template: the marker message with its marker text replaced */
    const char *tmpl = wsp_sec_marker_template(env);
    for (size_t i = 0; i < 6; i++) {
        size_t len = 0;
        char *m = wsp_sec_message(tmpl, &len);
        json_error_t je;
        json_t *doc = m ? json_loadb(m, len, 0, &je) : NULL;
        free(m);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return false;
        }
        const char *k;
        json_t *val;
        bool put = false;
        json_object_foreach(doc, k, val)
        {
            if (json_is_string(val) && strstr(json_string_value(val), "wsprobe marker")) {
                json_object_set_new(doc, k, json_string(payloads[i]));
                put = true;
                break;
            }
        }
        if (!put)
            json_object_set_new(doc, "content", json_string(payloads[i]));
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (text)
            snprintf(x->msgs[x->n++], sizeof x->msgs[0], "%s", text);
        free(text);
    }
    return true;
}

/* What came back of each payload (either connection's messages): counted into n[0] unsafe,
 * n[1] neutralised, n[2] not echoed; the per-payload verdicts go in the evidence. */
static void xss_judge(const char *tag, const wsp_sec_raw *obs, const wsp_sec_raw *snd,
                      wsp_check_result *out, unsigned n[3])
{
    json_t *res = json_object();
    for (size_t i = 0; i < 6; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "%s%zu", tag, i);
        const char *found = NULL;
        bool seen = false;
        for (size_t m = 0; m < json_array_size(obs->messages_json) && !seen; m++)
            seen = json_has_text(json_array_get(obs->messages_json, m), needle, &found);
        for (size_t m = 0; m < json_array_size(snd->messages_json) && !seen; m++)
            seen = json_has_text(json_array_get(snd->messages_json, m), needle, &found);
        const char *verdict = !seen                    ? "not_echoed"
                              : markup_survives(found) ? "unsafe"
                                                       : "neutralised";
        if (!seen)
            n[2]++;
        else if (markup_survives(found))
            n[0]++;
        else
            n[1]++;
        char key[16];
        snprintf(key, sizeof key, "payload_%zu", i);
        json_object_set_new(res, key, json_string(verdict));
    }
    json_object_set_new(out->evidence, "payloads", res);
}

void wsp_sec_input_xss(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    uint8_t r[4];
    wsp_rand_bytes(r, sizeof r);
    char tag[24];
    snprintf(tag, sizeof tag, "wspx%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    xss_ctx x;
    memset(&x, 0, sizeof x);
    if (!xss_messages(env, tag, &x)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the success marker message is not a JSON object, so there is "
                      "no field to carry the payloads");
        return;
    }
    wsp_sec_raw obs, snd;
    memset(&obs, 0, sizeof obs);
    memset(&snd, 0, sizeof snd);
    uint64_t wait = wsp_sec_marker_wait_us(env);
    obs.o.with_auth = true;
    obs.o.wait_us = wait;
    snd.o.with_auth = true;
    snd.o.on_open = send_xss;
    snd.o.ud = &x;
    snd.o.wait_us = wait;
    snd.o.after = &obs;
    /* the observer stops once it has seen every payload's tag, or at the wait; it watches the
     * room (the sender is another connection), and both keep only the messages with this
     * run's tag, so the suite's other traffic cannot crowd them out */
    x.observer = &obs;
    x.sender = &snd;
    x.wait_us = wait;
    obs.o.on_end = xss_observer_end;
    obs.o.ud = &x;
    obs.o.until_tags = tag;
    obs.o.until_count = 6;
    obs.o.watch_room = true;
    snd.o.until_tags = tag;
    wsp_sec_raw *sp[] = {&obs, &snd};
    wsp_sec_raw_run(env, sp, 2);
    wsp_sec_raw_evidence(out, "observer", &obs, NULL);
    wsp_sec_raw_evidence(out, "sender", &snd, NULL);
    unsigned n[3] = {0, 0, 0};
    xss_judge(tag, &obs, &snd, out, n);
    unsigned unsafe = n[0], neutral = n[1], missing = n[2];
    /* refused: the sender was closed with a rejecting code (an idle observer closed by the
     * server proves nothing about the payloads) */
    bool refused =
        snd.rec.closed_by == WSP_CLOSED_BY_SERVER && wsp_sec_rejecting_code(snd.rec.close_code);
    wsp_sec_raw_cleanup(&obs);
    wsp_sec_raw_cleanup(&snd);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    if (unsafe)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "%u of 6 markup payloads came back with their markup intact (JSON-decoded "
                      "text still holds < > or javascript:)",
                      unsafe);
    else if (!obs.opened || !snd.opened)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the observer or the sender could not open");
    else if (!after)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the baseline after the payloads failed");
    else if (neutral == 0 && !refused)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "no payload came back and none was refused: is the message template one "
                      "the endpoint broadcasts?");
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "%u payloads came back neutralised, %u were not echoed%s", neutral, missing,
                      refused ? " (the connection was closed)" : "");
}

typedef struct text_input {
    const char *name;
    char *text;
} text_input;

static void send_text(wsp_sec_raw *s, void *ud)
{
    const text_input *t = ud;
    wsp_sec_raw_send_text(s, t->text, strlen(t->text));
}

void wsp_sec_input_malformed(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    char deep[2101];
    for (int i = 0; i < 1000; i++) {
        deep[i] = '[';
        deep[1050 + i] = ']';
    }
    memset(deep + 1000, ' ', 50);
    deep[1025] = '1';
    deep[2050] = '\0';
    text_input in[] = {
        {"invalid_json", strdup("{\"type\":\"chat_message\",\"content\":")},
        {"wrong_types", strdup("{\"type\":\"chat_message\",\"content\":12345,\"id\":{\"x\":[]}}")},
        {"deep_nesting", strdup(deep)},
        {"unknown_type", strdup("{\"type\":\"wsprobe_unknown_type\",\"content\":\"x\"}")},
        {"proto", strdup("{\"__proto__\":{\"type\":\"chat_message\",\"admin\":true},"
                         "\"constructor\":{\"prototype\":{\"admin\":true}}}")},
    };
    size_t n = sizeof in / sizeof in[0];
    wsp_sec_raw s[5];
    wsp_sec_raw *sp[5];
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].o.with_auth = true;
        s[i].o.on_open = in[i].text ? send_text : NULL;
        s[i].o.ud = &in[i];
        s[i].o.wait_us = wsp_sec_marker_wait_us(env) / 4;
        s[i].o.stop_on_reply = true;
        sp[i] = &s[i];
    }
    wsp_sec_raw_run(env, sp, n);
    unsigned accepted = 0, handled = 0, silent = 0, unopened = 0;
    char acc[200] = "";
    for (size_t i = 0; i < n; i++) {
        const char *o;
        if (!s[i].opened) {
            o = "not_opened";
            unopened++;
        } else if (s[i].marker_seen) {
            o = "accepted";
            accepted++;
            snprintf(acc + strlen(acc), sizeof acc - strlen(acc), "%s%s", acc[0] ? ", " : "",
                     in[i].name);
        } else if (s[i].messages || s[i].rec.closed_by == WSP_CLOSED_BY_SERVER ||
                   s[i].rec.err.cls == WSP_CLASS_WS_DROPPED) {
            o = "error_or_close";
            handled++;
        } else {
            o = "ignored";
            silent++;
        }
        wsp_sec_raw_evidence(out, in[i].name, &s[i], o);
        json_object_set_new(json_object_get(out->evidence, in[i].name), "last_reply",
                            json_string(s[i].last_message));
        wsp_sec_raw_cleanup(&s[i]);
        free(in[i].text);
    }
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    if (accepted)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "malformed input was processed as valid (the success marker came back): %s",
                      acc);
    else if (!after)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the endpoint stopped serving valid requests after malformed input (the "
                      "baseline after failed)");
    else if (unopened)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "%u connections for malformed input could not open", unopened);
    else if (silent)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "%u malformed inputs were ignored silently (no error reply, no close); %u "
                      "got an error or a close",
                      silent, handled);
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "all %u malformed inputs got an error or a close, and the endpoint still "
                      "serves",
                      handled);
}

/* ---- limits ---- */

typedef struct sized {
    char *msg;
    size_t len;
    size_t fragments;
} sized;

static void send_sized(wsp_sec_raw *s, void *ud)
{
    const sized *z = ud;
    if (z->fragments <= 1) {
        wsp_sec_raw_send_text(s, z->msg, z->len);
        return;
    }
    wsp_sec_raw_keep_sent(s, z->msg, z->len);
    /* RFC 6455 5.4: a text frame without FIN, continuations, the last with FIN */
    size_t per = z->len / z->fragments + 1, off = 0;
    for (size_t i = 0; off < z->len; i++) {
        size_t k = z->len - off < per ? z->len - off : per;
        bool last = off + k >= z->len;
        wsp_sec_raw_frame(s, last, i == 0 ? WSP_WS_OP_TEXT : WSP_WS_OP_CONT, 0, z->msg + off, k,
                          true);
        off += k;
    }
}

static void send_huge_header(wsp_sec_raw *s, void *ud)
{
    (void)ud;
    uint8_t hdr[WSP_WS_HEADER_MAX];
    uint8_t key[4] = {1, 2, 3, 4};
    wsp_rand_bytes(key, sizeof key);
    size_t h = wsp_ws_header_encode(hdr, true, WSP_WS_OP_BINARY, 0, 1ull << 62, key);
    uint8_t buf[WSP_WS_HEADER_MAX + 10];
    memcpy(buf, hdr, h);
    memset(buf + h, 'x', 10);
    wsp_sec_raw_send(s, buf, h + 10);
}

void wsp_sec_limits_message_size(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    uint64_t L = max_message(env, params);
    if (L > (4u << 20)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the limit %llu is above the 4 MiB this suite sends",
                      (unsigned long long)L);
        return;
    }
    json_object_set_new(out->evidence, "limit_bytes", json_integer((json_int_t)L));
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    sized z = {0};
    z.msg = padded_marker(env, (size_t)L + 1, &z.len);
    z.fragments = 1;
    wsp_sec_raw a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.o.with_auth = b.o.with_auth = true;
    a.o.on_open = send_sized;
    a.o.ud = &z;
    a.o.marker_after = true;
    a.o.stop_on_marker = b.o.stop_on_marker = true;
    b.o.on_open = send_huge_header;
    b.o.marker_after = true;
    wsp_sec_raw *sp[] = {&a, &b};
    wsp_sec_raw_run(env, sp, 2);
    free(z.msg);
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    wsp_sec_outcome oa =
        a.opened ? wsp_sec_judge_record(&a.rec, a.marker_seen) : WSP_SEC_UNREACHABLE;
    wsp_sec_outcome ob =
        b.opened ? wsp_sec_judge_record(&b.rec, b.marker_seen) : WSP_SEC_UNREACHABLE;
    wsp_sec_raw_evidence(out, "message_l_plus_1", &a, wsp_sec_outcome_name(oa));
    wsp_sec_raw_evidence(out, "length_2_62", &b, wsp_sec_outcome_name(ob));
    wsp_sec_count(&t, "message_l_plus_1", oa);
    wsp_sec_count(&t, "length_2_62", ob);
    bool codes_ok = (oa != WSP_SEC_REFUSED_OPEN || a.rec.close_code == 1009 ||
                     a.rec.close_code == 1008 || a.rec.close_code < 0) &&
                    (ob != WSP_SEC_REFUSED_OPEN || b.rec.close_code == 1009 ||
                     b.rec.close_code == 1008 || b.rec.close_code == 1002 || b.rec.close_code < 0);
    wsp_sec_raw_cleanup(&a);
    wsp_sec_raw_cleanup(&b);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    wsp_sec_conclude(out, &t, after, "oversized messages");
    if (out->verdict == WSP_VERDICT_PASS && !codes_ok)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "oversized messages were refused, but not with close 1009 (or 1008)");
}

void wsp_sec_limits_fragments(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    uint64_t L = max_message(env, params);
    if (L > (4u << 20)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the limit is above the 4 MiB this suite sends");
        return;
    }
    json_object_set_new(out->evidence, "limit_bytes", json_integer((json_int_t)L));
    sized z = {0};
    z.msg = padded_marker(env, (size_t)L + 1, &z.len);
    z.fragments = 4;
    violation v[] = {{.name = "fragments_l_plus_1", .good_codes = codes_1009}};
    (void)v;
    if (!wsp_sec_baseline(env, out, "baseline_before", true)) {
        free(z.msg);
        return;
    }
    wsp_sec_raw a;
    run_with_marker_after(env, &a, send_sized, &z);
    free(z.msg);
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    wsp_sec_outcome o =
        a.opened ? wsp_sec_judge_record(&a.rec, a.marker_seen) : WSP_SEC_UNREACHABLE;
    wsp_sec_raw_evidence(out, "fragments_l_plus_1", &a, wsp_sec_outcome_name(o));
    wsp_sec_count(&t, "fragments_l_plus_1", o);
    bool code_ok = o != WSP_SEC_REFUSED_OPEN || a.rec.close_code == 1009 ||
                   a.rec.close_code == 1008 || a.rec.close_code < 0;
    wsp_sec_raw_cleanup(&a);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    wsp_sec_conclude(out, &t, after, "fragmented oversized messages");
    if (out->verdict == WSP_VERDICT_PASS && !code_ok)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "the fragmented message was refused, but not with close 1009");
}

typedef struct bomb {
    uint8_t *data;
    size_t len;
    bool negotiated;
} bomb;

static void send_bomb(wsp_sec_raw *s, void *ud)
{
    bomb *b = ud;
    const wsp_conn_record *r = wsp_conn_get_record(s->c);
    b->negotiated = strstr(r->extensions, "permessage-deflate") != NULL;
    if (!b->negotiated) {
        wsp_conn_close(s->c, WSP_WS_CLOSE_NORMAL, NULL);
        return;
    }
    /* RFC 7692 7.2.1: a compressed message is a text frame with RSV1 */
    wsp_sec_raw_frame(s, true, WSP_WS_OP_TEXT, 0x40, b->data, b->len, true);
}

void wsp_sec_limits_deflate_bomb(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    uint64_t L = max_message(env, params);
    if (L > (4u << 20)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the limit is above the 4 MiB this suite inflates to");
        return;
    }
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    size_t plain_len = 0;
    char *plain = padded_marker(env, (size_t)(2 * L), &plain_len);
    bomb b = {0};
    if (plain) {
        uLong cap = compressBound((uLong)plain_len) + 16;
        b.data = malloc(cap);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (b.data && deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK) {
            zs.next_in = (Bytef *)plain;
            zs.avail_in = (uInt)plain_len;
            zs.next_out = b.data;
            zs.avail_out = (uInt)cap;
            deflate(&zs, Z_SYNC_FLUSH);
            b.len = cap - zs.avail_out;
            /* RFC 7692 7.2.1: drop the trailing 00 00 FF FF of the sync flush */
            if (b.len >= 4)
                b.len -= 4;
            deflateEnd(&zs);
        }
        free(plain);
    }
    if (!b.len) {
        free(b.data);
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL,
                      "could not build the compressed message");
        return;
    }
    wsp_sec_raw a;
    memset(&a, 0, sizeof a);
    a.o.with_auth = true;
    a.o.extensions = "permessage-deflate; server_no_context_takeover";
    a.o.allowed_rsv = 0x40;
    a.o.on_open = send_bomb;
    a.o.ud = &b;
    a.o.marker_after = true;
    a.o.stop_on_marker = true;
    wsp_sec_raw *sp[] = {&a};
    wsp_sec_raw_run(env, sp, 1);
    json_object_set_new(out->evidence, "compressed_bytes", json_integer((json_int_t)b.len));
    json_object_set_new(out->evidence, "inflated_bytes", json_integer((json_int_t)(2 * L)));
    free(b.data);
    if (!a.opened) {
        wsp_sec_raw_evidence(out, "bomb", &a, "not_opened");
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, a.rec.err.cls,
                      "could not open a connection offering permessage-deflate: %.300s",
                      a.rec.err.msg);
    } else if (!b.negotiated) {
        wsp_sec_raw_evidence(out, "bomb", &a, "no_compression");
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the endpoint does not accept permessage-deflate: no compression to abuse");
    } else {
        wsp_sec_tally t;
        memset(&t, 0, sizeof t);
        wsp_sec_outcome o = wsp_sec_judge_record(&a.rec, a.marker_seen);
        wsp_sec_raw_evidence(out, "bomb", &a, wsp_sec_outcome_name(o));
        wsp_sec_count(&t, "bomb", o);
        bool after = wsp_sec_baseline(env, out, "baseline_after", false);
        wsp_sec_conclude(out, &t, after, "compressed messages inflating past the limit");
    }
    wsp_sec_raw_cleanup(&a);
}

typedef struct burst {
    const char *tmpl;
    unsigned n;
    unsigned sent;
} burst;

/* n marker messages, each expanded on its own (a fresh id each), so that every ack names the
 * message it answers and none is counted twice */
static void send_burst(wsp_sec_raw *s, void *ud)
{
    burst *b = ud;
    for (unsigned i = 0; i < b->n && wsp_conn_get_phase(s->c) == WSP_PHASE_OPEN; i++) {
        size_t len = 0;
        char *m = wsp_sec_message(b->tmpl, &len);
        if (!m || wsp_sec_raw_send_text(s, m, len) != 0) {
            free(m);
            return;
        }
        free(m);
        b->sent++;
    }
}

void wsp_sec_limits_rate(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    double rate = env->limits.rate_per_s > 0 ? env->limits.rate_per_s : 20;
    unsigned n = (unsigned)(rate * 3 + 1);
    if (n > 300)
        n = 300;
    if (n < 10)
        n = 10;
    json_object_set_new(out->evidence, "rate_per_s", json_real(rate));
    json_object_set_new(out->evidence, "burst_size", json_integer(n));
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    burst b = {0};
    b.tmpl = wsp_sec_marker_template(env);
    b.n = n;
    wsp_sec_raw a;
    memset(&a, 0, sizeof a);
    a.o.with_auth = true;
    a.o.on_open = send_burst;
    a.o.ud = &b;
    a.o.wait_us = 1500000;
    a.o.until_count = n; /* stop early once every message was answered */
    wsp_sec_raw *sp[] = {&a};
    wsp_sec_raw_run(env, sp, 1);
    wsp_sec_raw_evidence(out, "burst", &a, NULL);
    json_object_set_new(out->evidence, "acks", json_integer(a.markers));
    json_object_set_new(out->evidence, "sent", json_integer(b.sent));
    bool closed = a.rec.closed_by == WSP_CLOSED_BY_SERVER &&
                  (a.rec.close_code == 1008 || a.rec.close_code == 1013 ||
                   (a.rec.close_code >= 4000 && a.rec.close_code <= 4999));
    /* replies of this connection's own that are neither acks nor our messages coming back */
    unsigned others = a.messages - a.marker_replies - a.echoes;
    if (a.messages < a.marker_replies + a.echoes)
        others = 0;
    bool opened = a.opened;
    wsp_sec_raw_cleanup(&a);
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    if (!opened)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the burst connection did not open");
    else if (closed)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "a burst of %u messages (3x %.3g/s) was cut with close %d after %u acks", n,
                      rate, a.rec.close_code, a.markers);
    else if (a.markers >= n)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "all %u messages of a burst at 3x the rate (%.3g/s) were served: no rate "
                      "limit",
                      n, rate);
    else if (others > 0 && after)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "the burst was throttled: %u acks, %u other replies", a.markers, others);
    else
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "%u of %u messages answered, no close: unclear whether this is a limit",
                      a.markers, n);
}

void wsp_sec_limits_idle(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    uint64_t lim = env->limits.idle_timeout_us;
    if (!lim) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no idle limit configured to test against (--idle-timeout DUR, plan "
                      "limits.idle_timeout)");
        return;
    }
    uint64_t grace = lim / 2 > 500000 ? lim / 2 : 500000;
    json_object_set_new(out->evidence, "limit_ms", json_real((double)lim / 1e3));
    /* the baseline proves that an accepted connection is not simply closed at once */
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_sec_raw a;
    memset(&a, 0, sizeof a);
    a.o.with_auth = true;
    a.o.wait_us = lim + grace;
    wsp_sec_raw *sp[] = {&a};
    wsp_sec_raw_run(env, sp, 1);
    wsp_sec_raw_evidence(out, "silent", &a, NULL);
    /* only the server ending the connection counts: our own deadline is no idle limit */
    bool server_ended =
        a.rec.closed_by == WSP_CLOSED_BY_SERVER || a.rec.err.cls == WSP_CLASS_WS_DROPPED;
    if (!a.opened)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, a.rec.err.cls,
                      "the connection did not open: %.300s", a.rec.err.msg);
    else if (server_ended)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "the server closed a silent connection after %.0f ms (limit %.0f ms)",
                      a.open_ms, (double)lim / 1e3);
    else if (a.timed_out && a.open_ms * 1e3 + 50000 >= (double)(lim + grace))
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "a silent connection was still open after %.0f ms (limit %.0f ms)", a.open_ms,
                      (double)lim / 1e3);
    else
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the wait ended after %.0f ms, before the limit and its grace (%.0f ms): "
                      "the run's deadline or our own close, not the server's",
                      a.open_ms, (double)(lim + grace) / 1e3);
    wsp_sec_raw_cleanup(&a);
}

/* ---- limits.connections ---- */

#define CONNECTIONS_MAX 256

typedef struct flood {
    wsp_sec_raw *s;
    size_t n;
    size_t accounted; /* opened or ended */
    bool settled;
} flood;

static void flood_check(flood *f)
{
    if (f->settled || f->accounted < f->n)
        return;
    /* every connection is open or refused: hold briefly (a refusal after open shows), then
     * close them all */
    f->settled = true;
    for (size_t i = 0; i < f->n; i++)
        wsp_sec_raw_rearm(&f->s[i], 300000);
}

static void flood_open(wsp_sec_raw *s, void *ud)
{
    (void)s;
    flood *f = ud;
    f->accounted++;
    flood_check(f);
}

static void flood_end(wsp_sec_raw *s, void *ud)
{
    flood *f = ud;
    if (!s->opened)
        f->accounted++;
    flood_check(f);
}

void wsp_sec_limits_connections(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    int lim = env->limits.max_conns_per_client;
    if (lim <= 0) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no per-client connection limit configured (--max-conns-per-ip N, "
                      "plan limits.max_conns_per_ip)");
        return;
    }
    if (lim + 1 > CONNECTIONS_MAX) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the limit %d is above the %d connections this suite opens", lim,
                      CONNECTIONS_MAX - 1);
        return;
    }
    json_object_set_new(out->evidence, "limit", json_integer(lim));
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    size_t n = (size_t)lim + 1;
    wsp_sec_raw *s = calloc(n, sizeof *s);
    wsp_sec_raw **sp = calloc(n, sizeof *sp);
    if (!s || !sp) {
        free(s);
        free(sp);
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    flood f = {s, n, 0, false};
    for (size_t i = 0; i < n; i++) {
        s[i].o.with_auth = true;
        s[i].o.on_open = flood_open;
        s[i].o.on_end = flood_end;
        s[i].o.ud = &f;
        s[i].o.wait_us = wsp_sec_marker_wait_us(env);
        sp[i] = &s[i];
    }
    wsp_sec_raw_run(env, sp, n);
    unsigned held = 0, refused = 0, other = 0;
    json_t *statuses = json_object();
    for (size_t i = 0; i < n; i++) {
        const wsp_conn_record *r = &s[i].rec;
        bool limit_status = r->http_status == 429 || r->http_status == 503;
        bool limit_close = s[i].opened && r->closed_by == WSP_CLOSED_BY_SERVER &&
                           (r->close_code == 1008 || r->close_code == 1013);
        char key[16];
        snprintf(key, sizeof key, "%d", s[i].opened ? 101 : r->http_status);
        json_t *cur = json_object_get(statuses, key);
        json_object_set_new(statuses, key, json_integer(1 + (cur ? json_integer_value(cur) : 0)));
        if (limit_status || limit_close)
            refused++;
        else if (s[i].opened && r->closed_by != WSP_CLOSED_BY_SERVER)
            held++;
        else
            other++;
        wsp_sec_raw_cleanup(&s[i]);
    }
    free(s);
    free(sp);
    json_object_set_new(out->evidence, "statuses", statuses);
    json_object_set_new(out->evidence, "held", json_integer(held));
    json_object_set_new(out->evidence, "refused", json_integer(refused));
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    if (refused)
        wsp_check_set(out, after ? WSP_VERDICT_PASS : WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "%u of %zu connections from this client were refused (429/503 or close "
                      "1008/1013); %u held%s",
                      refused, n, held, after ? "" : "; but the baseline after failed");
    else if (held == n)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "all %zu connections from one client were held open at once (limit %d)", n,
                      lim);
    else
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "%u of %zu connections held, %u ended otherwise (no 429/503 or 1008/1013)",
                      held, n, other);
}
