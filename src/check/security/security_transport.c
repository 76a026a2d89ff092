/* security_transport.c - tls.*, transport.*, handshake.* and limits.slow_handshake: TLS
 * versions and the certificate, plaintext and HSTS, the upgrade's hygiene, and requests that a
 * WebSocket client library would never write (a wrong version, Hixie-76, a request dripped one
 * header line at a time), sent over a small blocking client of our own with a deadline on
 * every wait. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "report/report.h"
#include "util/clock.h"
#include "check/security/security_int.h"
#include "net/rawclient.h"
#include "net/tls.h"

/* The suite's raw client (net/rawclient.h), within timeout_us and the suite's deadline. */
typedef wsp_rawc rawc;

static int rawc_open(const wsp_env *env, rawc *c, uint64_t timeout_us, char *why, size_t cap)
{
    uint64_t deadline = wsp_clock_mono_ns() + wsp_sec_clamp_us(env, timeout_us) * 1000ull;
    return wsp_rawc_open(c, &env->base.url, &env->base.conn, deadline, why, cap);
}

/* A header's value in a response head (first occurrence), copied into out. */
static bool head_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
    }
    return false;
}

/* The lines of an upgrade request that carry the env's credential (header placements), and
 * the target (query placement). Returns 0 or -1. */
static int credential_lines(const wsp_env *env, char *target, size_t tcap, char *lines, size_t lcap)
{
    snprintf(target, tcap, "%s", env->base.url.target);
    lines[0] = '\0';
    if (!wsp_auth_active(&env->auth))
        return 0;
    wsp_err e;
    char *tok = wsp_auth_token(&env->auth, &e);
    if (!tok)
        return -1;
    wsp_auth_request r;
    memset(&r, 0, sizeof r);
    int rc = wsp_auth_request_make(&env->auth, tok, env->base.url.target, NULL, &r, &e);
    wsp_auth_token_free(tok);
    if (rc != 0)
        return -1;
    size_t n = 0;
    if (r.header)
        n += (size_t)snprintf(lines + n, lcap - n, "%s\r\n", r.header);
    if (r.subprotocols && n < lcap)
        n +=
            (size_t)snprintf(lines + n, lcap - n, "Sec-WebSocket-Protocol: %s\r\n", r.subprotocols);
    if (r.target)
        snprintf(target, tcap, "%s", r.target);
    for (size_t i = 0; i < env->base.conn.num_headers && n < lcap; i++)
        n += (size_t)snprintf(lines + n, lcap - n, "%s\r\n", env->base.conn.headers[i]);
    wsp_auth_request_cleanup(&r);
    return 0;
}

static uint64_t phase_timeout(const wsp_env *env)
{
    return wsp_sec_marker_wait_us(env); /* the phase timeout: one value for both */
}

/* ---- handshake.version ---- */

void wsp_sec_handshake_version(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    char host[300];
    wsp_url_host_header(&env->base.url, host, sizeof host);
    char target[WSP_URL_TARGET_MAX + 600];
    char cred[4096];
    if (credential_lines(env, target, sizeof target, cred, sizeof cred) != 0) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_USAGE,
                      "could not make the credential");
        return;
    }
    const char *origin = wsp_sec_allowed_origin(env);
    char origin_line[600] = "";
    if (origin)
        snprintf(origin_line, sizeof origin_line, "Origin: %s\r\n", origin);
    char *r0 = malloc(12288), *r1 = malloc(12288);
    if (!r0 || !r1) {
        free(r0);
        free(r1);
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    int l0 = snprintf(r0, 12288,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: "
                      "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 1337\r\n%s%s\r\n",
                      target, host, origin_line, cred);
    /* draft-hixie-thewebsocketprotocol-76 section 1.3, with its sample keys */
    int l1 = snprintf(r1, 12288,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: "
                      "WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%%0l 1 5\r\n"
                      "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n%s%s\r\n^n:ds[4U",
                      target, host, origin_line, cred);
    const char *names[] = {"version_1337", "hixie_76"};
    const char *reqs[] = {r0, r1};
    int lens[] = {l0, l1};
    unsigned fails = 0, warns = 0, unsure = 0, not426 = 0;
    for (int i = 0; i < 2; i++) {
        rawc c;
        char why[200];
        json_t *e = json_object();
        if (lens[i] <= 0 || lens[i] >= 12288 ||
            rawc_open(env, &c, phase_timeout(env), why, sizeof why) != 0) {
            json_object_set_new(e, "outcome", json_string("unreachable"));
            json_object_set_new(out->evidence, names[i], e);
            unsure++;
            continue;
        }
        int status;
        char head[4096];
        wsp_rawc_exchange(&c, reqs[i], (size_t)lens[i], &status, head, sizeof head);
        wsp_rawc_close(&c);
        char ver[64] = "";
        head_value(head, "Sec-WebSocket-Version", ver, sizeof ver);
        json_object_set_new(e, "status", status > 0 ? json_integer(status) : json_null());
        if (ver[0])
            json_object_set_new(e, "sec_websocket_version", json_string(ver));
        const char *o;
        if (status == 101) {
            o = "accepted";
            fails++;
        } else if (status >= 500) {
            o = "server_error";
            warns++;
        } else if (status >= 400) {
            o = "refused_at_handshake";
            if (i == 0 && status != 426)
                not426++;
        } else if (status == 0) {
            o = "closed_before_response";
        } else if (status < 0) {
            o = "no_answer";
            unsure++;
        } else {
            o = "refused_at_handshake";
        }
        json_object_set_new(e, "outcome", json_string(o));
        json_object_set_new(out->evidence, names[i], e);
    }
    free(r0);
    free(r1);
    if (fails)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "%u of 2 handshakes with an unsupported version got 101", fails);
    else if (unsure)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "%u of 2 handshakes got no answer", unsure);
    else if (warns)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "unsupported versions were refused with a server error (5xx) instead of "
                      "4xx");
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "version 1337 and Hixie-76 were refused%s",
                      not426 ? " (426 with Sec-WebSocket-Version: 13 would be better)" : "");
}

/* ---- limits.slow_handshake ---- */

void wsp_sec_limits_slow_handshake(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    uint64_t lim = env->limits.handshake_timeout_us;
    if (!lim) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no handshake limit configured to test against "
                      "(--handshake-timeout DUR, plan limits.handshake_timeout)");
        return;
    }
    uint64_t grace = lim / 2 > 500000 ? lim / 2 : 500000;
    uint64_t step = lim / 4;
    if (step < 100000)
        step = 100000;
    if (step > 2000000)
        step = 2000000;
    json_object_set_new(out->evidence, "limit_ms", json_real((double)lim / 1e3));
    json_object_set_new(out->evidence, "line_every_ms", json_real((double)step / 1e3));
    rawc c;
    char why[200];
    if (rawc_open(env, &c, phase_timeout(env), why, sizeof why) != 0) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK, "could not connect: %s", why);
        return;
    }
    uint64_t t0 = wsp_clock_mono_ns();
    uint64_t wait = wsp_sec_clamp_us(env, lim + grace);
    uint64_t end = t0 + wait * 1000ull;
    c.deadline_ns = end;
    char host[300], line[400];
    wsp_url_host_header(&env->base.url, host, sizeof host);
    int n =
        snprintf(line, sizeof line, "GET %s HTTP/1.1\r\nHost: %s\r\n", env->base.url.target, host);
    bool closed = false;
    int status = -1;
    unsigned lines = 0;
    if (n > 0 && (size_t)n < sizeof line && wsp_rawc_write(&c, line, (size_t)n) == 0) {
        for (;;) {
            uint64_t next = wsp_clock_mono_ns() + step * 1000ull;
            if (next > end)
                next = end;
            char buf[512];
            ssize_t r = wsp_rawc_read(&c, buf, sizeof buf - 1, next);
            if (r >= 0 || r == -1) {
                if (r > 0) {
                    buf[r] = '\0';
                    if (strncmp(buf, "HTTP/1.", 7) == 0 && r >= 12)
                        status = (int)strtol(buf + 9, NULL, 10);
                }
                closed = true;
                break;
            }
            if (wsp_clock_mono_ns() >= end)
                break;
            n = snprintf(line, sizeof line, "X-Wsprobe-Slow-%u: %u\r\n", lines, lines);
            if (wsp_rawc_write(&c, line, (size_t)n) != 0) {
                closed = true;
                break;
            }
            lines++;
        }
    } else {
        closed = true;
    }
    double ms = (double)(wsp_clock_mono_ns() - t0) / 1e6;
    wsp_rawc_close(&c);
    json_object_set_new(out->evidence, "lines_sent", json_integer(lines));
    json_object_set_new(out->evidence, "cut_after_ms", closed ? json_real(ms) : json_null());
    json_object_set_new(out->evidence, "status", status > 0 ? json_integer(status) : json_null());
    if (closed)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "the unfinished request was cut after %.0f ms (limit %.0f ms)%s", ms,
                      (double)lim / 1e3, status > 0 ? " with an HTTP answer" : "");
    else if (wait < lim + grace)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the run's deadline ended the wait after %.0f ms, before the limit and its "
                      "grace",
                      ms);
    else
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "a request dripped one header line every %.0f ms was still open after "
                      "%.0f ms (limit %.0f ms): slowloris-style clients can hold connections",
                      (double)step / 1e3, ms, (double)lim / 1e3);
}

/* ---- transport ---- */

static bool host_is_loopback(const wsp_url *u)
{
    return strcmp(u->host, "localhost") == 0 || strncmp(u->host, "127.", 4) == 0 ||
           strcmp(u->host, "::1") == 0;
}

void wsp_sec_transport_plaintext(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    const wsp_url *u = &env->base.url;
    if (!u->tls && !env->plaintext_url) {
        if (host_is_loopback(u)) {
            wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                          "the endpoint under test is ws:// on loopback: nothing leaves the "
                          "machine");
            return;
        }
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the endpoint is served over plain ws://: credentials and messages cross "
                      "the network unencrypted");
        snprintf(out->hint, sizeof out->hint, "serve wss:// (TLS) and refuse ws://");
        return;
    }
    char url[WSP_URL_TARGET_MAX + 400];
    if (env->plaintext_url) {
        snprintf(url, sizeof url, "%s", env->plaintext_url);
    } else {
        snprintf(url, sizeof url, "ws://%s%s%s%s", u->host_is_ipv6 ? "[" : "", u->host,
                 u->host_is_ipv6 ? "]" : "", u->target);
    }
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    wsp_err e;
    if (wsp_url_parse(url, &cfg.url, 0, &e) != 0) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_USAGE,
                      "not run: the plaintext URL is not valid: %.300s", e.msg);
        return;
    }
    cfg.conn.url = &cfg.url;
    cfg.auth = NULL; /* without credentials */
    cfg.conn.pinned = NULL;
    cfg.conn.num_pinned = 0;
    if (env->base.conn.num_pinned > 0 && !env->plaintext_url) {
        /* --resolve pins the host for the TLS port; reuse its addresses on port 80 */
        static _Thread_local struct sockaddr_storage pins[WSP_CONN_MAX_PINNED];
        for (int i = 0; i < env->base.conn.num_pinned; i++) {
            pins[i] = env->base.conn.pinned[i];
            if (pins[i].ss_family == AF_INET)
                ((struct sockaddr_in *)&pins[i])->sin_port = htons(80);
            else
                ((struct sockaddr_in6 *)&pins[i])->sin6_port = htons(80);
        }
        cfg.conn.pinned = pins;
        cfg.conn.num_pinned = env->base.conn.num_pinned;
    }
    wsp_probe *p = wsp_probe_run(&cfg);
    if (!p) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    wsp_check_add_probe_evidence(out, "plaintext", p);
    char red[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url, red, sizeof red);
    json_object_set_new(out->evidence, "plaintext_url", json_string(red));
    const wsp_conn_record *r = wsp_probe_record(p);
    if (r->handshake_completed)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "a plaintext ws:// upgrade without credentials got 101");
    else if (r->http_status >= 300 && r->http_status < 400)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "plaintext ws:// is redirected (HTTP %d to %.200s): a client that follows "
                      "has already sent its first request in the clear",
                      r->http_status, r->location ? r->location : "");
    else if (r->http_status)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK, "plaintext ws:// is refused (HTTP %d)",
                      r->http_status);
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "nothing serves plaintext ws:// there (%s)", wsp_class_name(r->err.cls));
    wsp_probe_free(p);
    wsp_probe_config_cleanup(&cfg);
}

/* One plain HTTP(S) GET through the engine; calls back with the record. */
typedef struct http_get {
    wsp_conn_record rec;
    char head[WSP_CONN_HEAD_KEEP + 1];
} http_get;

static void get_done(wsp_conn *c, void *ud)
{
    http_get *g = ud;
    wsp_conn_record *r = wsp_conn_get_record(c);
    g->rec = *r;
    g->rec.http_head = NULL;
    snprintf(g->head, sizeof g->head, "%s", r->http_head ? r->http_head : "");
}

static int engine_get(const wsp_env *env, const wsp_url *url, http_get *g)
{
    static const wsp_conn_cbs cbs = {NULL, NULL, get_done};
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return -1;
    wsp_conn_opts o = env->base.conn;
    o.url = url;
    o.http_only = true;
    o.trace = NULL;
    o.deadline_us = wsp_sec_clamp_us(env, o.deadline_us);
    o.origin = NULL;
    if (url->port != env->base.url.port || strcmp(url->host, env->base.url.host) != 0) {
        o.pinned = NULL;
        o.num_pinned = 0;
    }
    memset(g, 0, sizeof *g);
    wsp_conn *c = wsp_conn_new(&loop, &o, &cbs, g);
    if (!c) {
        uv_loop_close(&loop);
        return -1;
    }
    wsp_conn_start(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    wsp_conn_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

void wsp_sec_transport_hsts(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    const wsp_url *u = &env->base.url;
    if (!u->tls) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the endpoint is ws://: HSTS concerns HTTPS");
        return;
    }
    char hu[WSP_URL_TARGET_MAX + 400];
    if (env->health_url && strncasecmp(env->health_url, "https://", 8) == 0)
        snprintf(hu, sizeof hu, "%s", env->health_url);
    else
        snprintf(hu, sizeof hu, "https://%s%s%s:%u/health", u->host_is_ipv6 ? "[" : "", u->host,
                 u->host_is_ipv6 ? "]" : "", u->port);
    wsp_url url;
    wsp_err e;
    if (wsp_url_parse(hu, &url, WSP_URL_ALLOW_HTTP, &e) != 0) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_USAGE, "not run: health URL: %.300s", e.msg);
        return;
    }
    http_get *g = malloc(sizeof *g);
    if (!g || engine_get(env, &url, g) != 0) {
        free(g);
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    json_object_set_new(out->evidence, "health_url", json_string(hu));
    json_object_set_new(out->evidence, "status",
                        g->rec.http_status ? json_integer(g->rec.http_status) : json_null());
    json_object_set_new(out->evidence, "bytes_tx", json_integer((json_int_t)g->rec.tx_bytes));
    json_object_set_new(out->evidence, "bytes_rx", json_integer((json_int_t)g->rec.rx_bytes));
    char v[256] = "";
    bool has = g->rec.http_status && head_value(g->head, "Strict-Transport-Security", v, sizeof v);
    if (!g->rec.http_status) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, g->rec.err.cls,
                      "no HTTP answer from %.200s: %.200s", hu, g->rec.err.msg);
    } else if (!has) {
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the HTTPS answer (HTTP %d) has no Strict-Transport-Security header",
                      g->rec.http_status);
        snprintf(out->hint, sizeof out->hint,
                 "add Strict-Transport-Security: max-age=31536000; includeSubDomains");
    } else {
        json_object_set_new(out->evidence, "hsts", json_string(v));
        const char *m = strcasestr(v, "max-age=");
        long long age = m ? strtoll(m + 8 + (m[8] == '"'), NULL, 10) : -1;
        json_object_set_new(out->evidence, "max_age", json_integer(age));
        if (age >= 31536000)
            wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK, "HSTS max-age=%lld (a year or more)",
                          age);
        else
            wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                          "HSTS max-age=%lld is under a year (31536000)", age);
    }
    free(g);
}

void wsp_sec_tls_certificate(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!env->base.url.tls) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the endpoint is ws://: no certificate");
        return;
    }
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    cfg.auth = NULL;
    wsp_probe *p = wsp_probe_run(&cfg);
    if (!p) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    wsp_check_add_probe_evidence(out, "tls_probe", p);
    const wsp_conn_record *r = wsp_probe_record(p);
    static const wsp_tls_info no_tls; /* a ws:// record has none */
    const wsp_tls_info *t = r->tls ? r->tls : &no_tls;
    if (r->tls_done || t->have_cert) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(t->version));
        json_object_set_new(o, "cipher", json_string(t->cipher));
        json_object_set_new(o, "subject", json_string(t->subject));
        json_object_set_new(o, "issuer", json_string(t->issuer));
        json_object_set_new(o, "days_left", json_integer(t->days_left));
        json_object_set_new(o, "expiry_bucket",
                            json_string(t->days_left < 0    ? "expired"
                                        : t->days_left < 30 ? "under_30_days"
                                        : t->days_left < 90 ? "under_90_days"
                                                            : "90_days_or_more"));
        json_object_set_new(o, "verified", json_boolean(t->verified));
        if (t->verify_error[0])
            json_object_set_new(o, "verify_error", json_string(t->verify_error));
        json_object_set_new(out->evidence, "tls", o);
    }
    wsp_class cls = r->err.cls;
    if (cls == WSP_CLASS_CERT_UNTRUSTED || cls == WSP_CLASS_CERT_NAME_MISMATCH ||
        cls == WSP_CLASS_CERT_EXPIRED)
        wsp_check_set(out, WSP_VERDICT_FAIL, cls, "%.400s", r->err.msg);
    else if (!r->tls_done)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, cls, "no TLS session: %.400s", r->err.msg);
    else if (!t->verified)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_CERT_UNTRUSTED,
                      "the certificate does not verify: %.300s",
                      t->verify_error[0] ? t->verify_error : "unknown reason");
    else if (t->days_left < 30)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "the certificate verifies but expires in %d days (under 30)", t->days_left);
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "chain, name and dates hold (%d days left, %s)", t->days_left, t->version);
    if (!env->base.conn.tls_verify)
        snprintf(out->message + strlen(out->message), sizeof out->message - strlen(out->message),
                 " [judged from the verification result; the run is --insecure]");
    wsp_probe_free(p);
    wsp_probe_config_cleanup(&cfg);
}

void wsp_sec_tls_versions(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!env->base.url.tls) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the endpoint is ws://: no TLS");
        return;
    }
    static const char *const names[] = {"tls1_3", "tls1_2", "tls1_1", "tls1_0"};
    static const char *const vers[] = {"1.3", "1.2", "1.1", "1.0"};
    SSL_CTX *ctx[4] = {NULL};
    wsp_probe_config cfgs[4];
    const wsp_probe_config *cp[4];
    for (int i = 0; i < 4; i++) {
        int v = wsp_tls_version_parse(vers[i]);
        wsp_tls_config tc = {.insecure = true, .min_version = v, .max_version = v};
        wsp_err e;
        ctx[i] = wsp_tls_client_ctx_new(&tc, &e);
        if (ctx[i] && i >= 2) {
            /* offer the old versions for real: OpenSSL 3 refuses them below level 0 */
            SSL_CTX_set_security_level(ctx[i], 0);
            SSL_CTX_set_cipher_list(ctx[i], "DEFAULT:@SECLEVEL=0");
        }
        wsp_sec_cfg_from_env(env, &cfgs[i]);
        cfgs[i].auth = NULL;
        cfgs[i].conn.tls_ctx = ctx[i];
        cfgs[i].conn.tls_verify = false;
        cp[i] = &cfgs[i];
    }
    wsp_sec_batch *b = wsp_sec_batch_run(cp, 4);
    bool ok[4] = {false};
    json_t *sum = json_object();
    bool untested = false;
    for (int i = 0; b && i < 4; i++) {
        if (!b->probes[i] || !ctx[i]) {
            /* this client could not offer the version: say so, never count it as refused */
            json_object_set_new(sum, vers[i], json_string("not_tested"));
            untested = true;
            continue;
        }
        const wsp_conn_record *r = wsp_probe_record(b->probes[i]);
        ok[i] = r->tls_done;
        wsp_check_add_probe_evidence(out, names[i], b->probes[i]);
        json_object_set_new(sum, vers[i], json_string(ok[i] ? "accepted" : "refused"));
    }
    bool reachable = false;
    for (int i = 0; b && i < 4; i++)
        if (b->probes[i] && wsp_probe_record(b->probes[i])->network)
            reachable = true;
    wsp_sec_batch_free(b);
    for (int i = 0; i < 4; i++) {
        wsp_probe_config_cleanup(&cfgs[i]);
        SSL_CTX_free(ctx[i]);
    }
    json_object_set_new(out->evidence, "versions", sum);
    if (!reachable)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "no TCP connection could be made");
    else if (ok[2] || ok[3])
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK, "obsolete TLS accepted:%s%s",
                      ok[3] ? " 1.0" : "", ok[2] ? " 1.1" : "");
    else if (untested)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL,
                      "this build could not offer every TLS version (see versions)");
    else if (!ok[0] && !ok[1])
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_TLS_HANDSHAKE,
                      "neither TLS 1.2 nor 1.3 could be negotiated");
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK, "TLS%s%s accepted; 1.0 and 1.1 refused",
                      ok[0] ? " 1.3" : "", ok[1] ? " 1.2" : "");
}

void wsp_sec_handshake_hygiene(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    wsp_probe *p = wsp_probe_run(&cfg);
    if (!p) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    wsp_check_add_probe_evidence(out, "handshake", p);
    const wsp_conn_record *r = wsp_probe_record(p);
    json_object_set_new(out->evidence, "subprotocol", json_string(r->subprotocol));
    json_object_set_new(out->evidence, "extensions", json_string(r->extensions));
    char server[128] = "";
    if (r->http_head && head_value(r->http_head, "Server", server, sizeof server))
        json_object_set_new(out->evidence, "server", json_string(server));
    wsp_class cls = r->err.cls;
    if (cls == WSP_CLASS_HS_BAD_ACCEPT || cls == WSP_CLASS_HS_NEGOTIATION ||
        cls == WSP_CLASS_HS_BAD_HEADERS)
        wsp_check_set(out, WSP_VERDICT_FAIL, cls, "%.400s", r->err.msg);
    else if (r->handshake_completed)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "101 with the right Accept; nothing negotiated that was not offered");
    else
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, cls, "no 101 to judge: %.400s", r->err.msg);
    wsp_probe_free(p);
    wsp_probe_config_cleanup(&cfg);
}
