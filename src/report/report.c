/* report.c - see report.h. */
#include "report/report.h"

#include "probe/each.h"

#include "util/excerpt.h"
#include "codec/http.h"
#include "util/redact.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

static const char *const secret_params[] = {
    "token",     "access_token", "id_token", "jwt",      "auth", "authorization",
    "key",       "api_key",      "apikey",   "password", "pass", "secret",
    "signature", "sig",          "bearer",   "session",
};

static bool is_secret_param(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof secret_params / sizeof secret_params[0]; i++)
        if (strlen(secret_params[i]) == len && strncasecmp(name, secret_params[i], len) == 0)
            return true;
    return false;
}

/* Append src[0..n) to out at *o, never past cap-1. */
static void put(char *out, size_t cap, size_t *o, const char *src, size_t n)
{
    if (*o >= cap)
        return;
    size_t room = cap - 1 - *o;
    if (n > room)
        n = room;
    memcpy(out + *o, src, n);
    *o += n;
    out[*o] = '\0';
}

/* Redact credential parameters in a query string starting at q (after '?'), up to end. */
static void redact_query(const char *q, const char *end, char *out, size_t cap, size_t *o)
{
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pend = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pend - q));
        if (eq && is_secret_param(q, (size_t)(eq - q))) {
            put(out, cap, o, q, (size_t)(eq - q) + 1);
            put(out, cap, o, "[redacted]", 10);
        } else {
            put(out, cap, o, q, (size_t)(pend - q));
        }
        if (amp)
            put(out, cap, o, "&", 1);
        q = amp ? amp + 1 : end;
    }
}

void wsp_report_redact_url(const char *url, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    const char *q = strchr(url, '?');
    if (!q) {
        put(out, cap, &o, url, strlen(url));
        return;
    }
    put(out, cap, &o, url, (size_t)(q - url) + 1);
    const char *frag = strchr(q, '#');
    const char *end = frag ? frag : q + strlen(q);
    redact_query(q + 1, end, out, cap, &o);
    if (frag)
        put(out, cap, &o, frag, strlen(frag));
}

/* "Bearer eyJhbGci..." -> "Bearer eyJ…[redacted]"; with `scheme` false (cookies: there is
 * no auth scheme, the first space ends a cookie) the whole value is the secret. */
static void redact_value(const char *v, size_t len, bool scheme, char *out, size_t cap, size_t *o)
{
    size_t i = 0;
    const char *sp = scheme ? memchr(v, ' ', len) : NULL;
    if (sp) {
        i = (size_t)(sp - v) + 1;
        put(out, cap, o, v, i);
    }
    /* the first characters help to tell tokens apart; a short credential shows none */
    put(out, cap, o, v + i, len - i >= 12 ? 3 : 0);
    put(out, cap, o, "\xe2\x80\xa6[redacted]", 13);
}

void wsp_report_redact_head(const char *head, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    const char *p = head, *end = head + len;
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        size_t linelen = (size_t)(le - p);
        if (first) {
            /* request line: GET /path?token=... HTTP/1.1 */
            const char *q = memchr(p, '?', linelen);
            const char *sp2 = q ? memchr(q, ' ', (size_t)(le - q)) : NULL;
            if (q && sp2) {
                put(out, cap, &o, p, (size_t)(q - p) + 1);
                redact_query(q + 1, sp2, out, cap, &o);
                put(out, cap, &o, sp2, (size_t)(le - sp2));
            } else {
                put(out, cap, &o, p, linelen);
            }
            first = false;
        } else if (colon) {
            size_t nlen = (size_t)(colon - p);
            bool secret = (nlen == 13 && strncasecmp(p, "Authorization", 13) == 0) ||
                          (nlen == 19 && strncasecmp(p, "Proxy-Authorization", 19) == 0) ||
                          (nlen == 6 && strncasecmp(p, "Cookie", 6) == 0) ||
                          (nlen == 10 && strncasecmp(p, "Set-Cookie", 10) == 0) ||
                          (nlen == 22 && strncasecmp(p, "Sec-WebSocket-Protocol", 22) == 0);
            if (secret) {
                const char *v = colon + 1;
                while (v < le && (*v == ' ' || *v == '\t'))
                    v++;
                const char *ve = le;
                while (ve > v && (ve[-1] == '\n' || ve[-1] == '\r'))
                    ve--;
                put(out, cap, &o, p, (size_t)(v - p));
                if (nlen == 22) {
                    /* keep protocol names, hide anything token-like (bearer.X, long values) */
                    const char *s = v;
                    while (s < ve) {
                        const char *c = memchr(s, ',', (size_t)(ve - s));
                        const char *e = c ? c : ve;
                        const char *dot = memchr(s, '.', (size_t)(e - s));
                        if (dot) { /* bearer.TOKEN: keep the prefix */
                            put(out, cap, &o, s, (size_t)(dot - s) + 1);
                            redact_value(dot + 1, (size_t)(e - dot - 1), true, out, cap, &o);
                        } else if (e - s > 40)
                            redact_value(s, (size_t)(e - s), true, out, cap, &o);
                        else
                            put(out, cap, &o, s, (size_t)(e - s));
                        if (c)
                            put(out, cap, &o, ",", 1);
                        s = c ? c + 1 : ve;
                    }
                } else {
                    bool cookie = nlen == 6 || nlen == 10;
                    redact_value(v, (size_t)(ve - v), !cookie, out, cap, &o);
                }
                put(out, cap, &o, ve, (size_t)(le - ve));
            } else {
                put(out, cap, &o, p, linelen);
            }
        } else {
            put(out, cap, &o, p, linelen);
        }
        p = le;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *ms_json(double ms)
{
    return json_real(round(ms * 1000.0) / 1000.0);
}

/* A string that may hold arbitrary bytes: invalid UTF-8 is replaced so the JSON stays valid. */
static json_t *bytes_json(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char buf[WSP_CONN_BODY_MAX + 1];
    size_t n = len < WSP_CONN_BODY_MAX ? len : WSP_CONN_BODY_MAX;
    for (size_t i = 0; i < n; i++)
        buf[i] = ((unsigned char)s[i] < 128 && s[i] != 0) ? s[i] : '?';
    return json_stringn(buf, n);
}

/* A string, NULL or empty as null; never dropped for invalid UTF-8 (bytes_json). */
static json_t *str_or_null(const char *s)
{
    return s && s[0] ? bytes_json(s, strlen(s)) : json_null();
}

static json_t *headers_json(const wsp_conn_record *r)
{
    json_t *h = json_object();
    if (!r->http_head)
        return h;
    wsp_http_header hdrs[WSP_HTTP_HEADERS_MAX];
    wsp_http_response res;
    memset(&res, 0, sizeof res);
    res.headers = hdrs;
    res.num_headers = WSP_HTTP_HEADERS_MAX;
    if (wsp_http_parse_response(r->http_head, r->http_head_len, &res, NULL) <= 0)
        return h;
    for (size_t i = 0; i < res.num_headers; i++) {
        char name[64];
        size_t n = hdrs[i].name_len < sizeof name - 1 ? hdrs[i].name_len : sizeof name - 1;
        for (size_t k = 0; k < n; k++)
            name[k] = (char)tolower((unsigned char)hdrs[i].name[k]);
        name[n] = '\0';
        if (strcmp(name, "set-cookie") == 0) {
            json_object_set_new(h, name, json_string("[redacted]"));
            continue;
        }
        json_object_set_new(h, name, bytes_json(hdrs[i].value, hdrs[i].value_len));
    }
    return h;
}

static void add_span(wsp_report_phase *out, size_t *n, const char *name, uint64_t t0, uint64_t from,
                     uint64_t to)
{
    if (!from || !to)
        return;
    out[*n] = (wsp_report_phase){name, wsp_conn_ms(from, to), wsp_conn_ms(t0, to)};
    (*n)++;
}

const char *wsp_report_failed_phase(const wsp_probe *p)
{
    const wsp_conn_record *r = wsp_probe_record(p);
    const wsp_proto_record *pr = wsp_probe_proto_record(p);
    if (r->err.cls != WSP_CLASS_OK && pr && pr->failed_phase)
        return pr->failed_phase;
    return wsp_conn_phase_name(r->err.cls != WSP_CLASS_OK ? r->failed_phase : WSP_PHASE_DONE);
}

size_t wsp_report_probe_phases(const wsp_probe *p, wsp_report_phase out[WSP_REPORT_PHASES_MAX])
{
    const wsp_conn_record *r = wsp_probe_record(p);
    const wsp_probe_config *cfg = wsp_probe_get_config(p);
    size_t n = 0;
    uint64_t t0 = r->t_start;
    add_span(out, &n, "resolve", t0, r->t_start, r->t_resolved);
    add_span(out, &n, "connect", t0, r->t_resolved, r->t_connected);
    if (r->proxy)
        add_span(out, &n, "proxy", t0, r->t_connected, r->proxy->t_tunnel);
    add_span(out, &n, "tls", t0, wsp_conn_t_ready(r), r->t_tls);
    add_span(out, &n, "upgrade", t0, r->t_request, r->t_upgraded);
    add_span(out, &n, "first_message", t0, r->t_upgraded, r->t_first_message);
    const wsp_proto_record *pr = wsp_probe_proto_record(p);
    if (pr && pr->kind == WSP_PROTO_SOCKETIO) {
        add_span(out, &n, "eio_open", t0, r->t_upgraded, pr->t_open);
        add_span(out, &n, "namespace_connect", t0, pr->t_open, pr->t_ready);
    } else if (pr) {
        add_span(out, &n, "connection_ack", t0, r->t_upgraded, pr->t_ready);
    }
    const wsp_step_result *sr = wsp_probe_step_results(p);
    for (size_t i = 0; i < cfg->num_steps; i++) {
        if (sr[i].ok && sr[i].t_done) {
            out[n++] =
                (wsp_report_phase){"roundtrip", sr[i].roundtrip_ms, wsp_conn_ms(t0, sr[i].t_done)};
            break;
        }
    }
    add_span(out, &n, "close", t0, r->t_close_start, r->t_closed);
    add_span(out, &n, "total", t0, r->t_start, r->t_end);
    return n;
}

/* Which proxy a connection took, and why, or why it went direct (a no_proxy entry). */
static json_t *proxy_json(const wsp_conn_proxy_record *pr)
{
    const wsp_proxy *p = pr->proxy;
    bool used = p->kind != WSP_PROXY_NONE;
    json_t *j = json_object();
    json_object_set_new(j, "used", json_boolean(used));
    json_object_set_new(j, "url", used ? json_string(p->shown) : json_null());
    json_object_set_new(j, "type", used ? json_string(wsp_proxy_kind_name(p->kind)) : json_null());
    json_object_set_new(j, "source", str_or_null(p->source));
    json_object_set_new(j, "variable", str_or_null(p->variable));
    json_object_set_new(j, "bypass", str_or_null(p->bypass));
    json_object_set_new(j, "bypass_source",
                        p->bypass[0] ? json_string(p->bypass_variable) : json_null());
    json_object_set_new(j, "credentials", json_boolean(used && p->has_credentials));
    json_object_set_new(j, "credentials_from",
                        used && p->has_credentials ? str_or_null(p->cred_source) : json_null());
    json_object_set_new(j, "tunnel_target", str_or_null(pr->tunnel_target));
    json_object_set_new(j, "connect_status", pr->status ? json_integer(pr->status) : json_null());
    json_object_set_new(j, "socks_reply",
                        pr->socks_reply >= 0 ? json_integer(pr->socks_reply) : json_null());
    return j;
}

static json_t *record_json_into(json_t *o, const wsp_conn_record *r)
{
    if (r->proxy)
        json_object_set_new(o, "proxy", proxy_json(r->proxy));
    json_t *addrs = json_array();
    for (int i = 0; i < r->num_addresses; i++)
        json_array_append_new(addrs, json_string(r->addresses[i]));
    json_object_set_new(o, "addresses", addrs);
    json_object_set_new(o, "address",
                        r->used_address >= 0 ? json_string(r->addresses[r->used_address])
                                             : json_null());
    json_object_set_new(o, "port", json_integer(r->port));
    if (r->num_addresses > 1 && r->attempts) {
        /* Happy Eyeballs (RFC 8305): which addresses were tried, and which won */
        static const char *const outcomes[] = {"not_tried", "won", "failed", "timeout",
                                               "abandoned"};
        json_t *at = json_array();
        for (int i = 0; i < r->num_addresses; i++)
            json_array_append_new(
                at, json_pack("{s:s, s:s, s:s}", "address", r->addresses[i], "family",
                              strchr(r->addresses[i], ':') ? "ipv6" : "ipv4", "outcome",
                              outcomes[r->attempts[i] <= 4 ? r->attempts[i] : 0]));
        json_object_set_new(o, "connect_attempts", at);
    }
    if (r->tls_used && r->tls) {
        json_t *t = json_object();
        json_object_set_new(t, "version", str_or_null(r->tls->version));
        json_object_set_new(t, "cipher", str_or_null(r->tls->cipher));
        json_object_set_new(t, "alpn", str_or_null(r->tls->alpn));
        json_object_set_new(t, "sni", str_or_null(r->tls->sni));
        json_object_set_new(t, "subject", str_or_null(r->tls->subject));
        json_object_set_new(t, "issuer", str_or_null(r->tls->issuer));
        json_t *sans = json_array();
        for (int i = 0; i < r->tls->num_sans; i++)
            json_array_append_new(sans, json_string(r->tls->sans[i]));
        json_object_set_new(t, "sans", sans);
        json_object_set_new(t, "days_left",
                            r->tls->have_cert ? json_integer(r->tls->days_left) : json_null());
        json_object_set_new(t, "verified", json_boolean(r->tls->have_cert && r->tls->verified));
        json_object_set_new(t, "verify_error", str_or_null(r->tls->verify_error));
        json_object_set_new(t, "handshake_completed", json_boolean(r->tls_done));
        json_object_set_new(o, "tls", t);
    } else {
        json_object_set_new(o, "tls", json_null());
    }
    if (r->http_status) {
        json_t *h = json_object();
        json_object_set_new(h, "status", json_integer(r->http_status));
        json_object_set_new(h, "reason", bytes_json(r->http_reason, strlen(r->http_reason)));
        json_object_set_new(h, "headers", headers_json(r));
        json_object_set_new(h, "location",
                            r->location ? bytes_json(r->location, strlen(r->location))
                                        : json_null());
        json_object_set_new(h, "body",
                            r->http_status != 101 && r->http_body_len
                                ? bytes_json(r->http_body, r->http_body_len)
                                : json_null());
        json_object_set_new(o, "http", h);
    } else {
        json_object_set_new(o, "http", json_null());
    }
    return o;
}

/* A binary step's bytes (base64, RFC 4648) or the digest it expects (lowercase hex). */
static json_t *binary_json(const wsp_step *st)
{
    json_t *b = json_object();
    if (st->by_digest) {
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", st->sha256[i]);
        json_object_set_new(b, "sha256", json_string(hex));
        return b;
    }
    json_object_set_new(b, "length", json_integer((json_int_t)st->len));
    size_t cap = 4 * ((st->len + 2) / 3) + 1;
    char *enc = malloc(cap);
    if (enc) {
        EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)st->text, (int)st->len);
        json_object_set_new(b, "base64", json_string(enc));
        free(enc);
    }
    return b;
}

/* The ping steps' round trips (--ping=N): how many were sent and answered, min, median, max
 * (of the answered ones). */
typedef struct ping_stats {
    size_t count, answered;
    double min, median, max;
} ping_stats;

static ping_stats ping_summary(const wsp_probe_config *cfg, const wsp_step_result *sr)
{
    ping_stats ps = {0};
    double *rt = malloc((cfg->num_steps ? cfg->num_steps : 1) * sizeof *rt);
    for (size_t i = 0; i < cfg->num_steps; i++) {
        if (cfg->steps[i].kind != WSP_STEP_PING)
            continue;
        ps.count++;
        if (sr[i].ok && rt)
            rt[ps.answered++] = sr[i].roundtrip_ms;
    }
    if (ps.answered) {
        size_t n = ps.answered;
        qsort(rt, n, sizeof *rt, cmp_double);
        ps.min = rt[0];
        ps.max = rt[n - 1];
        ps.median = n % 2 ? rt[n / 2] : (rt[n / 2 - 1] + rt[n / 2]) / 2;
    }
    free(rt);
    return ps;
}

/* NULL without ping steps. */
static json_t *pings_json(const ping_stats *ps)
{
    if (!ps->count)
        return NULL;
    bool any = ps->answered > 0;
    return json_pack("{s:I,s:I,s:o,s:o,s:o}", "count", (json_int_t)ps->count, "answered",
                     (json_int_t)ps->answered, "min_ms", any ? ms_json(ps->min) : json_null(),
                     "median_ms", any ? ms_json(ps->median) : json_null(), "max_ms",
                     any ? ms_json(ps->max) : json_null());
}

json_t *wsp_report_proto_json(const wsp_proto_record *pr)
{
    json_t *j = json_object();
    json_object_set_new(j, "kind", json_string(wsp_proto_kind_name(pr->kind)));
    json_object_set_new(j, "ready", json_boolean(pr->t_ready != 0));
    json_object_set_new(j, "server_pings", json_integer((json_int_t)pr->server_pings));
    json_object_set_new(j, "client_pings", json_integer((json_int_t)pr->client_pings));
    json_object_set_new(j, "pongs", json_integer((json_int_t)pr->pongs));
    if (pr->kind == WSP_PROTO_SOCKETIO) {
        json_object_set_new(
            j, "engineio",
            pr->t_open
                ? json_pack("{s:s,s:I,s:I,s:o}", "sid", pr->open.sid, "ping_interval_ms",
                            (json_int_t)pr->open.ping_interval_ms, "ping_timeout_ms",
                            (json_int_t)pr->open.ping_timeout_ms, "max_payload",
                            pr->open.max_payload ? json_integer((json_int_t)pr->open.max_payload)
                                                 : json_null())
                : json_null());
        json_object_set_new(j, "socketio_version",
                            pr->sio_version ? json_integer(pr->sio_version) : json_null());
        json_object_set_new(j, "sid", str_or_null(pr->sid));
        json_object_set_new(j, "events_skipped", json_integer((json_int_t)pr->events_skipped));
        json_object_set_new(j, "attachments", json_integer((json_int_t)pr->attachments));
        json_object_set_new(j, "attachment_bytes", json_integer((json_int_t)pr->attachment_bytes));
    }
    json_object_set_new(j, "disconnected", json_boolean(pr->disconnected));
    json_object_set_new(j, "disconnect_reason", str_or_null(pr->disconnect_reason));
    return j;
}

json_t *wsp_report_probe_json(const wsp_probe *p, const char *url_text)
{
    const wsp_err *v = wsp_probe_verdict(p);
    const wsp_conn_record *r = wsp_probe_record(p);
    const wsp_probe_config *cfg = wsp_probe_get_config(p);
    json_t *o = json_object();
    if (!o)
        return NULL;
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text, url, sizeof url);
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "ok", json_boolean(v->cls == WSP_CLASS_OK));
    json_object_set_new(o, "class", json_string(wsp_class_name(v->cls)));
    json_object_set_new(o, "exit_code", json_integer(wsp_class_exit_code(v->cls)));
    json_object_set_new(o, "message",
                        v->msg[0] ? bytes_json(v->msg, strlen(v->msg))
                                  : json_string("every phase held"));
    json_object_set_new(o, "hint", json_string(v->hint));
    json_object_set_new(o, "failed_phase",
                        v->cls == WSP_CLASS_OK ? json_null()
                                               : json_string(wsp_report_failed_phase(p)));

    json_t *phases = json_object(), *marks = json_object();
    wsp_report_phase ph[WSP_REPORT_PHASES_MAX];
    size_t nph = wsp_report_probe_phases(p, ph);
    for (size_t i = 0; i < nph; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ms", ph[i].name);
        json_object_set_new(phases, key, ms_json(ph[i].ms));
        json_object_set_new(marks, key, ms_json(ph[i].at_ms));
    }
    json_object_set_new(o, "phases", phases);
    json_object_set_new(o, "marks", marks);

    record_json_into(o, r);

    json_t *ws = json_object();
    json_object_set_new(ws, "sent_frames", json_integer((json_int_t)r->sent_frames));
    json_object_set_new(ws, "received_frames", json_integer((json_int_t)r->received_frames));
    json_object_set_new(ws, "sent_bytes", json_integer((json_int_t)r->sent_bytes));
    json_object_set_new(ws, "received_bytes", json_integer((json_int_t)r->received_bytes));
    json_object_set_new(ws, "close_code",
                        r->close_code >= 0 ? json_integer(r->close_code) : json_null());
    json_object_set_new(ws, "close_reason", str_or_null(r->close_reason));
    json_object_set_new(ws, "closed_by",
                        r->closed_by == WSP_CLOSED_BY_CLIENT   ? json_string("client")
                        : r->closed_by == WSP_CLOSED_BY_SERVER ? json_string("server")
                                                               : json_null());
    json_object_set_new(ws, "close_acknowledged", json_boolean(r->close_acknowledged));
    json_object_set_new(ws, "subprotocol", str_or_null(r->subprotocol));
    json_t *exts = json_array();
    if (r->extensions[0]) {
        const char *s = r->extensions;
        while (*s) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            while (n && *s == ' ') {
                s++;
                n--;
            }
            json_array_append_new(exts, json_stringn(s, n));
            s += n + (c ? 1 : 0);
        }
    }
    json_object_set_new(ws, "extensions", exts);
    if (r->pmd) {
        const wsp_conn_pmd_record *pr = r->pmd;
        json_object_set_new(
            ws, "compression",
            json_pack("{s:s,s:b,s:o,s:I,s:I,s:I,s:I}", "offered", pr->offered, "accepted",
                      pr->accepted, "params", pr->accepted ? json_string(pr->params) : json_null(),
                      "sent_wire", (json_int_t)pr->sent_wire, "sent_inflated",
                      (json_int_t)pr->sent_inflated, "received_wire", (json_int_t)pr->received_wire,
                      "received_inflated", (json_int_t)pr->received_inflated));
    }
    json_object_set_new(o, "ws", ws);

    json_t *bytes = json_object();
    json_object_set_new(bytes, "tx", json_integer((json_int_t)r->tx_bytes));
    json_object_set_new(bytes, "rx", json_integer((json_int_t)r->rx_bytes));
    json_object_set_new(o, "bytes", bytes);

    const wsp_step_result *sr = wsp_probe_step_results(p);
    json_t *steps = json_array();
    for (size_t i = 0; i < cfg->num_steps; i++) {
        json_t *s = json_object();
        wsp_step_kind k = cfg->steps[i].kind;
        json_object_set_new(s, "kind", json_string(wsp_step_kind_name(k)));
        json_object_set_new(s, "ran", json_boolean(sr[i].ran));
        json_object_set_new(s, "ok", json_boolean(sr[i].ok));
        /* a step that held without waiting (a send, a subscribe) has no round trip */
        json_object_set_new(s, "roundtrip_ms",
                            sr[i].ok && sr[i].t_done ? ms_json(sr[i].roundtrip_ms) : json_null());
        json_object_set_new(s, "skipped", json_integer(sr[i].skipped));
        json_object_set_new(s, "detail", bytes_json(sr[i].detail, strlen(sr[i].detail)));
        if (k == WSP_STEP_SEND_BINARY || k == WSP_STEP_EXPECT_BINARY)
            json_object_set_new(s, "binary", binary_json(&cfg->steps[i]));
        json_array_append_new(steps, s);
    }
    json_object_set_new(o, "steps", steps);
    const wsp_proto_record *pr = wsp_probe_proto_record(p);
    if (pr)
        json_object_set_new(o, "protocol", wsp_report_proto_json(pr));
    ping_stats ps = ping_summary(cfg, sr);
    json_t *pings = pings_json(&ps);
    if (pings)
        json_object_set_new(o, "pings", pings);

    const wsp_conn_record *h = wsp_probe_health_record(p);
    if (h) {
        json_t *hj = json_object();
        json_object_set_new(hj, "ok", json_boolean(h->err.cls == WSP_CLASS_OK));
        json_object_set_new(hj, "class", json_string(wsp_class_name(h->err.cls)));
        json_object_set_new(hj, "status",
                            h->http_status ? json_integer(h->http_status) : json_null());
        json_object_set_new(hj, "total_ms", ms_json(wsp_conn_ms(h->t_start, h->t_end)));
        json_object_set_new(hj, "message", bytes_json(h->err.msg, strlen(h->err.msg)));
        json_object_set_new(o, "health", hj);
    }

    json_t *ev = json_object();
    json_object_set_new(ev, "network", json_boolean(r->network));
    json_object_set_new(ev, "handshake_completed", json_boolean(r->handshake_completed));
    json_object_set_new(o, "evidence", ev);
    wsp_redact_json(o);
    return o;
}

json_t *wsp_report_error_json(const char *url_text, const wsp_err *e)
{
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text ? url_text : "", url, sizeof url);
    json_t *o = json_pack(
        "{s:s, s:b, s:s, s:i, s:s, s:s, s:s, s:{}, s:{}, s:[], s:n, s:n, s:n, s:n,"
        " s:{s:i, s:i, s:i, s:i, s:n, s:n, s:n, s:b, s:n, s:[]},"
        " s:{s:i, s:i}, s:[], s:{s:b, s:b}}",
        "url", url, "ok", 0, "class", wsp_class_name(e->cls), "exit_code",
        wsp_class_exit_code(e->cls), "message", e->msg, "hint", e->hint, "failed_phase", "setup",
        "phases", "marks", "addresses", "address", "port", "tls", "http", "ws", "sent_frames", 0,
        "received_frames", 0, "sent_bytes", 0, "received_bytes", 0, "close_code", "close_reason",
        "closed_by", "close_acknowledged", 0, "subprotocol", "extensions", "bytes", "tx", 0, "rx",
        0, "steps", "evidence", "network", 0, "handshake_completed", 0);
    wsp_redact_json(o);
    return o;
}

/* ---- human ---- */

typedef struct style {
    const char *ok, *bad, *dim, *bold, *off;
} style;

static void row(FILE *f, const style *st, const char *name, bool failed, double ms, bool has_ms,
                const char *what)
{
    fprintf(f, "  %-9s ", name);
    if (failed)
        fprintf(f, "%sFAIL%s      ", st->bad, st->off);
    else if (has_ms)
        fprintf(f, "%9.3f ms", ms);
    else
        fprintf(f, "%12s", "");
    fprintf(f, "  %s\n", what);
}

/* The protocol's handshake rows of the text report: eio_open and namespace_connect, or
 * connection_ack. */
static void proto_rows(FILE *f, const style *st, const wsp_probe *p, char *what, size_t cap)
{
    const wsp_proto_record *pr = wsp_probe_proto_record(p);
    const wsp_conn_record *r = wsp_probe_record(p);
    const char *fph = r->err.cls != WSP_CLASS_OK && pr ? pr->failed_phase : NULL;
    if (!pr || !r->handshake_completed)
        return;
    bool fo = fph && strcmp(fph, "eio_open") == 0;
    if (pr->kind == WSP_PROTO_SOCKETIO) {
        if (pr->t_open)
            snprintf(what, cap,
                     "sid %s, pingInterval %llu ms, pingTimeout %llu ms, maxPayload %llu",
                     pr->open.sid, (unsigned long long)pr->open.ping_interval_ms,
                     (unsigned long long)pr->open.ping_timeout_ms,
                     (unsigned long long)pr->open.max_payload);
        row(f, st, "eio_open", fo, wsp_conn_ms(r->t_upgraded, pr->t_open), pr->t_open != 0,
            fo || !pr->t_open ? r->err.msg : what);
        if (!pr->t_open)
            return;
        bool fc = fph && strcmp(fph, "namespace_connect") == 0;
        if (pr->t_ready)
            snprintf(what, cap, "namespace connected (Socket.IO v%d%s%s)",
                     pr->sio_version == 5 ? 5 : 4, pr->sid[0] ? ", sid " : "", pr->sid);
        row(f, st, "namespace", fc, wsp_conn_ms(pr->t_open, pr->t_ready), pr->t_ready != 0,
            pr->t_ready ? what : r->err.msg);
        return;
    }
    bool fa = fph && strcmp(fph, "connection_ack") == 0;
    row(f, st, "init_ack", fa, wsp_conn_ms(r->t_upgraded, pr->t_ready), pr->t_ready != 0,
        pr->t_ready ? "graphql-transport-ws" : r->err.msg);
}

static void probe_human(FILE *f, const wsp_probe *p, const char *url_text, bool color)
{
    style st = color ? (style){"\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"}
                     : (style){"", "", "", "", ""};
    const wsp_err *v = wsp_probe_verdict(p);
    const wsp_conn_record *r = wsp_probe_record(p);
    const wsp_probe_config *cfg = wsp_probe_get_config(p);
    bool failed = v->cls != WSP_CLASS_OK;
    wsp_conn_phase fp = r->err.cls != WSP_CLASS_OK ? r->failed_phase : WSP_PHASE_DONE;
    char url[WSP_URL_TARGET_MAX + 512], what[1024];
    wsp_report_redact_url(url_text, url, sizeof url);
    fprintf(f, "%swsprobe probe %s%s\n", st.bold, url, st.off);

    /* resolve */
    if (r->t_resolved || fp == WSP_PHASE_RESOLVE) {
        size_t o = 0;
        what[0] = '\0';
        for (int i = 0; i < r->num_addresses && o < sizeof what - 60; i++)
            o +=
                (size_t)snprintf(what + o, sizeof what - o, "%s%s", i ? ", " : "", r->addresses[i]);
        if (r->proxy && r->proxy->proxy->kind != WSP_PROXY_NONE)
            snprintf(what + o, sizeof what - o, " (the proxy)");
        else if (cfg->url.host_is_ip)
            snprintf(what + o, sizeof what - o, " (literal)");
        else if (cfg->conn.num_pinned)
            snprintf(what + o, sizeof what - o, " (--resolve)");
        row(f, &st, "resolve", fp == WSP_PHASE_RESOLVE, wsp_conn_ms(r->t_start, r->t_resolved),
            r->t_resolved != 0, fp == WSP_PHASE_RESOLVE ? v->msg : what);
    }
    if (r->t_connected || fp == WSP_PHASE_CONNECT) {
        snprintf(what, sizeof what, "%s port %u",
                 r->used_address >= 0 ? r->addresses[r->used_address] : "?", r->port);
        for (int i = 0, first = 1; r->attempts && i < r->num_addresses; i++) {
            static const char *const words[] = {"", "", "failed", "timed out", "abandoned"};
            if (i == r->used_address || r->attempts[i] < 2 || r->attempts[i] > 4)
                continue;
            size_t l = strlen(what);
            snprintf(what + l, sizeof what - l, "%s%s %s", first ? " (tried first: " : ", ",
                     r->addresses[i], words[r->attempts[i]]);
            first = 0;
        }
        if (strstr(what, "(tried first: "))
            snprintf(what + strlen(what), sizeof what - strlen(what), ")");
        row(f, &st, "connect", fp == WSP_PHASE_CONNECT, wsp_conn_ms(r->t_resolved, r->t_connected),
            r->t_connected != 0, fp == WSP_PHASE_CONNECT ? v->msg : what);
    }
    if (r->proxy && (r->proxy->proxy->kind != WSP_PROXY_NONE || r->proxy->proxy->bypass[0])) {
        const wsp_conn_proxy_record *pr = r->proxy;
        const wsp_proxy *px = pr->proxy;
        char why[96];
        if (px->variable[0])
            snprintf(why, sizeof why, "from %s", px->variable);
        else
            snprintf(why, sizeof why, "from %s", px->source);
        if (px->kind == WSP_PROXY_NONE)
            snprintf(what, sizeof what, "none: '%s' in %s sends this host direct", px->bypass,
                     px->bypass_variable);
        else if (!r->t_connected)
            snprintf(what, sizeof what, "%s (%s), not reached", px->shown, why);
        else if (pr->status)
            snprintf(what, sizeof what, "%s (%s%s), CONNECT %s: %d", px->shown, why,
                     px->has_credentials ? ", with credentials" : "", pr->tunnel_target,
                     pr->status);
        else
            snprintf(what, sizeof what, "%s (%s%s), tunnel to %s%s", px->shown, why,
                     px->has_credentials ? ", with credentials" : "", pr->tunnel_target,
                     pr->socks_reply == 0 ? ": opened" : "");
        bool px_failed = fp == WSP_PHASE_PROXY;
        row(f, &st, "proxy", px_failed, wsp_conn_ms(r->t_connected, pr->t_tunnel),
            pr->t_tunnel != 0, px_failed ? v->msg : what);
    }
    if (r->tls_used && r->tls) {
        if (r->tls_done)
            snprintf(what, sizeof what, "%s %s, %s, %s, %d days left", r->tls->version,
                     r->tls->cipher, r->tls->verified ? "verified" : "NOT verified (--insecure)",
                     r->tls->subject, r->tls->days_left);
        row(f, &st, "tls", fp == WSP_PHASE_TLS, wsp_conn_ms(wsp_conn_t_ready(r), r->t_tls),
            r->t_tls != 0, fp == WSP_PHASE_TLS ? v->msg : what);
    }
    if (r->t_request) {
        if (r->http_status)
            snprintf(what, sizeof what, "HTTP %d %s%s%s", r->http_status, r->http_reason,
                     r->subprotocol[0] ? ", subprotocol " : "", r->subprotocol);
        else
            snprintf(what, sizeof what, "no response");
        row(f, &st, "upgrade", fp == WSP_PHASE_UPGRADE, wsp_conn_ms(r->t_request, r->t_upgraded),
            r->t_upgraded != 0, what);
    }
    if (r->pmd && r->handshake_completed) {
        const wsp_conn_pmd_record *pr = r->pmd;
        if (pr->accepted)
            snprintf(what, sizeof what,
                     "permessage-deflate%s%s; sent %llu B as %llu, received %llu B as %llu",
                     pr->params[0] ? ": " : "", pr->params, (unsigned long long)pr->sent_inflated,
                     (unsigned long long)pr->sent_wire, (unsigned long long)pr->received_inflated,
                     (unsigned long long)pr->received_wire);
        else
            snprintf(what, sizeof what, "permessage-deflate offered, declined by the server");
        row(f, &st, "compress", false, 0, false, what);
    }
    proto_rows(f, &st, p, what, sizeof what);
    const wsp_step_result *sr = wsp_probe_step_results(p);
    for (size_t i = 0; i < cfg->num_steps; i++) {
        if (!sr[i].ran)
            continue;
        wsp_step_kind k = cfg->steps[i].kind;
        const char *name = k == WSP_STEP_EXPECT_EVENT      ? "event" /* the column's width */
                           : k == WSP_STEP_EXPECT_COMPLETE ? "complete"
                                                           : wsp_step_kind_name(k);
        row(f, &st, name, !sr[i].ok, sr[i].roundtrip_ms, sr[i].ok && sr[i].t_done, sr[i].detail);
    }
    if (r->closed_by != WSP_CLOSED_BY_NONE) {
        snprintf(what, sizeof what, "code %d by %s%s%s%s", r->close_code,
                 r->closed_by == WSP_CLOSED_BY_CLIENT ? "client" : "server",
                 r->close_reason[0] ? " \"" : "", r->close_reason, r->close_reason[0] ? "\"" : "");
        if (!r->close_acknowledged)
            snprintf(what + strlen(what), sizeof what - strlen(what), ", not acknowledged");
        row(f, &st, "close", false, wsp_conn_ms(r->t_close_start, r->t_closed), r->t_closed != 0,
            what);
    }
    const wsp_conn_record *h = wsp_probe_health_record(p);
    if (h) {
        snprintf(what, sizeof what, "HTTP %d", h->http_status);
        row(f, &st, "health", h->err.cls != WSP_CLASS_OK, wsp_conn_ms(h->t_start, h->t_end), true,
            h->err.cls != WSP_CLASS_OK ? h->err.msg : what);
    }
    ping_stats ps = ping_summary(cfg, sr);
    if (ps.count > 1) {
        if (ps.answered)
            snprintf(what, sizeof what, "%zu of %zu answered: min %.3f, median %.3f, max %.3f ms",
                     ps.answered, ps.count, ps.min, ps.median, ps.max);
        else
            snprintf(what, sizeof what, "none of %zu answered", ps.count);
        row(f, &st, "pings", ps.answered < ps.count, 0, false, what);
    }
    row(f, &st, "total", false, wsp_conn_ms(r->t_start, r->t_end), true, "");
    if (r->handshake_completed)
        fprintf(f, "  %-9s %llu frames / %llu bytes sent, %llu frames / %llu bytes received\n",
                "frames", (unsigned long long)r->sent_frames, (unsigned long long)r->sent_bytes,
                (unsigned long long)r->received_frames, (unsigned long long)r->received_bytes);
    else
        fprintf(f, "  %-9s nothing was sent: the WebSocket was never opened\n", "frames");
    if (!failed) {
        fprintf(f, "%sOK%s  %s\n", st.ok, st.off, v->msg[0] ? v->msg : "every phase held");
        return;
    }
    fprintf(f, "%sFAIL%s %s\n", st.bad, st.off, v->msg);
    fprintf(f, "  %-9s %s (exit %d)\n", "class", wsp_class_name(v->cls),
            wsp_class_exit_code(v->cls));
    if (r->location)
        fprintf(f, "  %-9s %s\n", "location", r->location);
    if (r->http_body_len) {
        char body[161];
        size_t blen = r->http_body_len;
        while (blen && (r->http_body[blen - 1] == '\n' || r->http_body[blen - 1] == '\r'))
            blen--; /* the body's last line break is not worth a '.' */
        wsp_excerpt(body, sizeof body, r->http_body, blen);
        fprintf(f, "  %-9s %s\n", "body", body);
    }
    fprintf(f, "  %-9s %s\n", "hint", v->hint);
}

/* ---- many ---- */

wsp_class wsp_report_many_class(wsp_probe *const *ps, size_t n)
{
    unsigned counts[WSP_CLASS_COUNT] = {0};
    for (size_t i = 0; i < n; i++)
        counts[wsp_probe_verdict(ps[i])->cls]++;
    wsp_class best = WSP_CLASS_OK;
    for (int c = 1; c < WSP_CLASS_COUNT; c++) {
        if (!counts[c])
            continue;
        if (best == WSP_CLASS_OK || counts[c] > counts[best] ||
            (counts[c] == counts[best] &&
             wsp_class_exit_code((wsp_class)c) > wsp_class_exit_code(best)))
            best = (wsp_class)c;
    }
    return best;
}

typedef struct phase_stats {
    size_t count;
    double min, median, p95, max;
} phase_stats;

/* Nearest-rank percentiles over the connections that reached the phase. */
static phase_stats stats_of(double *v, size_t n)
{
    phase_stats s = {0};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    s.count = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = v[(n + 1) / 2 - 1];
    size_t r95 = (size_t)ceil(0.95 * (double)n);
    s.p95 = v[(r95 ? r95 : 1) - 1];
    return s;
}

typedef enum many_phase {
    MP_RESOLVE,
    MP_CONNECT,
    MP_TLS,
    MP_UPGRADE,
    MP_ROUNDTRIP,
    MP_TOTAL,
    MP_N
} many_phase;
static const char *const many_phase_names[MP_N] = {"resolve_ms", "connect_ms",   "tls_ms",
                                                   "upgrade_ms", "roundtrip_ms", "total_ms"};

static bool phase_value(const wsp_probe *p, many_phase ph, double *out)
{
    const wsp_conn_record *r = wsp_probe_record(p);
    switch (ph) {
    case MP_RESOLVE:
        *out = wsp_conn_ms(r->t_start, r->t_resolved);
        return r->t_resolved != 0;
    case MP_CONNECT:
        *out = wsp_conn_ms(r->t_resolved, r->t_connected);
        return r->t_connected != 0;
    case MP_TLS:
        *out = wsp_conn_ms(wsp_conn_t_ready(r), r->t_tls);
        return r->t_tls != 0;
    case MP_UPGRADE:
        *out = wsp_conn_ms(r->t_request, r->t_upgraded);
        return r->t_upgraded != 0;
    case MP_ROUNDTRIP: {
        const wsp_probe_config *cfg = wsp_probe_get_config(p);
        const wsp_step_result *sr = wsp_probe_step_results(p);
        for (size_t i = 0; i < cfg->num_steps; i++)
            if (sr[i].ok && sr[i].t_done) {
                *out = sr[i].roundtrip_ms;
                return true;
            }
        return false;
    }
    case MP_TOTAL:
        *out = wsp_conn_ms(r->t_start, r->t_end);
        return r->t_end != 0;
    case MP_N:
        break;
    }
    return false;
}

static phase_stats many_stats(wsp_probe *const *ps, size_t n, many_phase ph, double *scratch)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (phase_value(ps[i], ph, &scratch[k]))
            k++;
    return stats_of(scratch, k);
}

json_t *wsp_report_many_json(wsp_probe *const *ps, size_t n, const char *url_text)
{
    json_t *o = json_object();
    double *scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (!o || !scratch) {
        free(scratch);
        json_decref(o);
        return NULL;
    }
    size_t ok = 0;
    json_t *by = json_object();
    for (size_t i = 0; i < n; i++) {
        wsp_class c = wsp_probe_verdict(ps[i])->cls;
        if (c == WSP_CLASS_OK)
            ok++;
        const char *name = wsp_class_name(c);
        json_t *cur = json_object_get(by, name);
        json_object_set_new(by, name, json_integer(cur ? json_integer_value(cur) + 1 : 1));
    }
    wsp_class cls = wsp_report_many_class(ps, n);
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text, url, sizeof url);
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "connections", json_integer((json_int_t)n));
    json_object_set_new(o, "succeeded", json_integer((json_int_t)ok));
    json_object_set_new(o, "failed", json_integer((json_int_t)(n - ok)));
    json_object_set_new(o, "ok", json_boolean(cls == WSP_CLASS_OK));
    json_object_set_new(o, "class", json_string(wsp_class_name(cls)));
    json_object_set_new(o, "exit_code", json_integer(wsp_class_exit_code(cls)));
    json_object_set_new(o, "by_class", by);
    json_t *phases = json_object();
    for (int ph = 0; ph < MP_N; ph++) {
        phase_stats s = many_stats(ps, n, (many_phase)ph, scratch);
        if (!s.count)
            continue;
        json_t *j = json_object();
        json_object_set_new(j, "count", json_integer((json_int_t)s.count));
        json_object_set_new(j, "min", ms_json(s.min));
        json_object_set_new(j, "median", ms_json(s.median));
        json_object_set_new(j, "p95", ms_json(s.p95));
        json_object_set_new(j, "max", ms_json(s.max));
        json_object_set_new(phases, many_phase_names[ph], j);
    }
    json_object_set_new(o, "phases", phases);
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(results, wsp_report_probe_json(ps[i], url_text));
    json_object_set_new(o, "results", results);
    free(scratch);
    wsp_redact_json(o);
    return o;
}

static void many_human(FILE *f, wsp_probe *const *ps, size_t n, const char *url_text, bool color)
{
    style st = color ? (style){"\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"}
                     : (style){"", "", "", "", ""};
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text, url, sizeof url);
    fprintf(f, "%swsprobe probe %s: %zu connections%s\n", st.bold, url, n, st.off);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const wsp_err *v = wsp_probe_verdict(ps[i]);
        const wsp_conn_record *r = wsp_probe_record(ps[i]);
        if (v->cls == WSP_CLASS_OK) {
            ok++;
            fprintf(f, "  #%-4zu %sOK%s   %8.3f ms\n", i + 1, st.ok, st.off,
                    wsp_conn_ms(r->t_start, r->t_end));
        } else {
            fprintf(f, "  #%-4zu %sFAIL%s %s (exit %d): %s\n", i + 1, st.bad, st.off,
                    wsp_class_name(v->cls), wsp_class_exit_code(v->cls), v->msg);
        }
    }
    double *scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (scratch) {
        fprintf(f, "  %-13s %6s %10s %10s %10s %10s\n", "phase", "count", "min", "median", "p95",
                "max");
        for (int ph = 0; ph < MP_N; ph++) {
            phase_stats s = many_stats(ps, n, (many_phase)ph, scratch);
            if (!s.count)
                continue;
            fprintf(f, "  %-13s %6zu %10.3f %10.3f %10.3f %10.3f\n", many_phase_names[ph], s.count,
                    s.min, s.median, s.p95, s.max);
        }
        free(scratch);
    }
    wsp_class cls = wsp_report_many_class(ps, n);
    if (cls == WSP_CLASS_OK) {
        fprintf(f, "%sOK%s  %zu of %zu connections succeeded\n", st.ok, st.off, ok, n);
        return;
    }
    fprintf(f, "%sFAIL%s %zu of %zu connections succeeded\n", st.bad, st.off, ok, n);
    fprintf(f, "  %-9s %s (exit %d), the most common failure\n", "class", wsp_class_name(cls),
            wsp_class_exit_code(cls));
    fprintf(f, "  %-9s %s\n", "hint", wsp_class_default_hint(cls));
}

/* Render into memory, redact, then write: no path of the human view can leak a secret. */
static void write_redacted(FILE *f, char *buf, size_t len)
{
    size_t n = 0;
    char *r = wsp_redact(buf, len, &n);
    if (r)
        fwrite(r, 1, n, f);
    free(r);
    free(buf);
}

void wsp_report_probe_human(FILE *f, const wsp_probe *p, const char *url_text, bool color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    probe_human(m, p, url_text, color);
    fclose(m);
    write_redacted(f, buf, len);
}

void wsp_report_many_human(FILE *f, wsp_probe *const *ps, size_t n, const char *url_text,
                           bool color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    many_human(m, ps, n, url_text, color);
    fclose(m);
    write_redacted(f, buf, len);
}

/* ---- every command's JSON report ---- */

json_t *wsp_report_envelope(json_t *o, const char *command)
{
    json_t *e =
        json_pack("{s:s,s:i}", "command", command, "schema_version", WSP_REPORT_SCHEMA_VERSION);
    if (!e || !o || json_object_update(e, o) != 0) {
        json_decref(e);
        json_decref(o);
        return NULL;
    }
    json_decref(o);
    return e;
}

int wsp_report_json_write(json_t *o, const char *command, const char *path)
{
    json_t *e = wsp_report_envelope(o, command);
    if (!e) {
        errno = ENOMEM;
        return -1;
    }
    wsp_redact_json(e);
    bool to_stdout = !path || strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    int rc = -1;
    if (f) {
        rc = json_dumpf(e, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 &&
                     fputc('\n', f) != EOF && fflush(f) == 0
                 ? 0
                 : -1;
        int saved = errno;
        if (!to_stdout && fclose(f) != 0)
            rc = -1;
        else
            errno = saved;
    }
    json_decref(e);
    return rc;
}

json_t *wsp_report_each_json(const wsp_probe_each *e, const char *url_text)
{
    json_t *o = json_object();
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text, url, sizeof url);
    const wsp_err *v = &e->verdict;
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "each_address", json_true());
    json_object_set_new(o, "ok", json_boolean(v->cls == WSP_CLASS_OK));
    json_object_set_new(o, "class", json_string(wsp_class_name(v->cls)));
    json_object_set_new(o, "exit_code", json_integer(wsp_class_exit_code(v->cls)));
    char msg[600];
    size_t ok = 0;
    for (size_t i = 0; i < e->n; i++)
        ok += wsp_probe_verdict(e->probes[i])->cls == WSP_CLASS_OK;
    if (v->cls == WSP_CLASS_OK)
        snprintf(msg, sizeof msg, "all %zu addresses OK", e->n);
    else
        snprintf(msg, sizeof msg, "%s", v->msg);
    json_object_set_new(o, "message", bytes_json(msg, strlen(msg)));
    json_object_set_new(o, "hint", json_string(v->cls == WSP_CLASS_OK ? "" : v->hint));
    json_object_set_new(o, "succeeded", json_integer((json_int_t)ok));
    json_object_set_new(o, "failed", json_integer((json_int_t)(e->n - ok)));
    json_t *arr = json_array();
    for (size_t i = 0; i < e->n; i++) {
        const wsp_probe *p = e->probes[i];
        const wsp_err *pv = wsp_probe_verdict(p);
        json_t *rep = wsp_report_probe_json(p, url_text);
        json_t *a = json_object();
        json_object_set_new(a, "address", json_string(e->text[i]));
        json_object_set_new(a, "family",
                            json_string(e->addrs[i].ss_family == AF_INET6 ? "ipv6" : "ipv4"));
        json_object_set_new(a, "ok", json_boolean(pv->cls == WSP_CLASS_OK));
        json_object_set_new(a, "class", json_string(wsp_class_name(pv->cls)));
        json_object_set_new(a, "exit_code", json_integer(wsp_class_exit_code(pv->cls)));
        json_object_set_new(a, "message", json_incref(json_object_get(rep, "message")));
        json_object_set_new(a, "phases", json_incref(json_object_get(rep, "phases")));
        json_object_set_new(a, "report", rep);
        json_array_append_new(arr, a);
    }
    json_object_set_new(o, "addresses", arr);
    wsp_redact_json(o);
    return o;
}

void wsp_report_each_human(FILE *f, const wsp_probe_each *e, const char *url_text, bool color)
{
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "";
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url_text, url, sizeof url);
    fprintf(f, "%swsprobe probe %s%s (--each-address: %zu)\n", bold, url, off, e->n);
    for (size_t i = 0; i < e->n; i++) {
        const wsp_probe *p = e->probes[i];
        const wsp_err *v = wsp_probe_verdict(p);
        const wsp_conn_record *r = wsp_probe_record(p);
        char msg[sizeof v->msg];
        snprintf(msg, sizeof msg, "%s", v->msg[0] ? v->msg : "every phase held");
        wsp_redact_buf(msg, sizeof msg);
        fprintf(f, "  %-40s %s%-4s%s %8.3f ms  %s%s%s\n", e->text[i],
                v->cls == WSP_CLASS_OK ? green : red, v->cls == WSP_CLASS_OK ? "OK" : "FAIL", off,
                wsp_conn_ms(r->t_start, r->t_end),
                v->cls == WSP_CLASS_OK ? "" : wsp_class_name(v->cls),
                v->cls == WSP_CLASS_OK ? "" : ": ", msg);
    }
    const wsp_err *v = &e->verdict;
    if (v->cls == WSP_CLASS_OK) {
        fprintf(f, "%sOK%s  all %zu addresses OK\n", green, off, e->n);
        return;
    }
    char msg[sizeof v->msg];
    snprintf(msg, sizeof msg, "%s", v->msg);
    wsp_redact_buf(msg, sizeof msg);
    fprintf(f, "%sFAIL%s %s\n  class     %s (exit %d)\n  hint      %s\n", red, off, msg,
            wsp_class_name(v->cls), wsp_class_exit_code(v->cls), v->hint);
}
