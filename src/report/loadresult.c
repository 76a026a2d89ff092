/* loadresult.c - a load result's figures: JSON (with the exact histograms), merging, the human
 * summary. Pure: no I/O but the FILE given. See loadresult.h. */
#include "report/loadresult.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *wsp_load_phase_name(wsp_load_phase p)
{
    switch (p) {
    case WSP_LOAD_PH_RESOLVE:
        return "resolve";
    case WSP_LOAD_PH_CONNECT:
        return "connect";
    case WSP_LOAD_PH_TLS:
        return "tls";
    case WSP_LOAD_PH_UPGRADE:
        return "upgrade";
    case WSP_LOAD_PH_HANDSHAKE:
        return "handshake";
    case WSP_LOAD_PH_COUNT:
        break;
    }
    return "unknown";
}

wsp_load_result *wsp_load_result_new(void)
{
    wsp_load_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    wsp_hist_init(&r->latency);
    wsp_hist_init(&r->latency_uncorrected);
    wsp_hist_init(&r->send_lateness);
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        wsp_hist_init(&r->phase[p]);
    wsp_hist_init(&r->pong);
    r->agents = 1;
    snprintf(r->match, sizeof r->match, "any");
    return r;
}

void wsp_load_result_free(wsp_load_result *r)
{
    if (!r)
        return;
    free(r->series);
    free(r);
}

double wsp_load_result_bytes_per_conn(const wsp_load_result *r)
{
    if (!r->rss_measured_open || r->rss_measured_kib < r->rss_base_kib)
        return NAN;
    return (double)(r->rss_measured_kib - r->rss_base_kib) * 1024.0 / (double)r->rss_measured_open;
}

uint64_t wsp_load_result_not_opened(const wsp_load_result *r)
{
    uint64_t never =
        r->target_connections > r->conn_attempted ? r->target_connections - r->conn_attempted : 0;
    return never + r->conn_unfinished;
}

uint64_t wsp_load_result_errors(const wsp_load_result *r)
{
    uint64_t n = 0;
    for (int c = 0; c < WSP_CLASS_COUNT; c++)
        n += r->by_class[c];
    return n;
}

uint64_t wsp_load_result_msg_errors(const wsp_load_result *r)
{
    return r->msg_timeout + r->msg_mismatched + r->msg_lost;
}

uint64_t wsp_load_result_conn_errors(const wsp_load_result *r)
{
    return r->conn_failed + wsp_load_result_not_opened(r);
}

double wsp_load_result_conn_error_rate(const wsp_load_result *r)
{
    uint64_t of =
        r->target_connections > r->conn_attempted ? r->target_connections : r->conn_attempted;
    return of ? (double)wsp_load_result_conn_errors(r) / (double)of : 0.0;
}

double wsp_load_result_msg_error_rate(const wsp_load_result *r)
{
    return r->msg_sent ? (double)wsp_load_result_msg_errors(r) / (double)r->msg_sent : 0.0;
}

double wsp_load_result_matched_rate(const wsp_load_result *r)
{
    return r->measured_s > 0 ? (double)r->msg_matched / r->measured_s : 0.0;
}

void wsp_load_format_ns(double ns, char *buf, size_t cap)
{
    if (isnan(ns))
        snprintf(buf, cap, "no samples");
    else if (ns < 1e3)
        snprintf(buf, cap, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(buf, cap, "%.1fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, cap, "%.3gms", ns / 1e6);
    else
        snprintf(buf, cap, "%.3gs", ns / 1e9);
}

/* ---- JSON ---- */

static json_t *hist_summary(const wsp_hist *h)
{
    if (h->total == 0)
        return json_pack("{s:I}", "count", (json_int_t)0);
    return json_pack(
        "{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)h->total, "min",
        (double)h->min / 1e6, "p50", (double)wsp_hist_percentile(h, 50) / 1e6, "p90",
        (double)wsp_hist_percentile(h, 90) / 1e6, "p95", (double)wsp_hist_percentile(h, 95) / 1e6,
        "p99", (double)wsp_hist_percentile(h, 99) / 1e6, "p999",
        (double)wsp_hist_percentile(h, 99.9) / 1e6, "max", (double)h->max / 1e6, "mean",
        wsp_hist_mean(h) / 1e6, "stddev", wsp_hist_stddev(h) / 1e6);
}

json_t *wsp_load_result_to_json(const wsp_load_result *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    uint64_t errors = wsp_load_result_errors(r);
    json_object_set_new(o, "url", json_string(r->url));
    json_object_set_new(o, "ok", json_boolean(true)); /* the caller sets the verdict */
    json_object_set_new(o, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(o, "agents", json_integer((json_int_t)r->agents));
    json_object_set_new(o, "config",
                        json_pack("{s:I, s:f, s:f, s:f, s:f, s:i, s:i, s:s, s:f, s:s}",
                                  "connections", (json_int_t)r->target_connections, "rate", r->rate,
                                  "connect_rate", r->connect_rate, "duration_s", r->duration_s,
                                  "warmup_s", r->warmup_s, "threads", (int)r->threads, "pipeline",
                                  (int)r->pipeline, "match", r->match, "timer_slack_ms",
                                  (double)r->timer_slack_us / 1e3, "timer_slack",
                                  r->timer_slack_auto ? "auto" : "fixed"));
    json_object_set_new(o, "elapsed_s", json_real(r->elapsed_s));
    json_object_set_new(o, "measured_s", json_real(r->measured_s));
    double bpc = wsp_load_result_bytes_per_conn(r);
    json_object_set_new(
        o, "client",
        json_pack("{s:f, s:I, s:I, s:I, s:I, s:o}", "cpu_s", r->client_cpu_s, "max_rss_kib",
                  (json_int_t)r->client_rss_kib, "rss_base_kib", (json_int_t)r->rss_base_kib,
                  "rss_measured_kib", (json_int_t)r->rss_measured_kib, "rss_measured_open",
                  (json_int_t)r->rss_measured_open, "bytes_per_connection",
                  isnan(bpc) ? json_null() : json_integer((json_int_t)llround(bpc))));
    json_object_set_new(o, "connections",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "target",
                                  (json_int_t)r->target_connections, "attempted",
                                  (json_int_t)r->conn_attempted, "opened",
                                  (json_int_t)r->conn_opened, "failed", (json_int_t)r->conn_failed,
                                  "unfinished", (json_int_t)r->conn_unfinished, "not_opened",
                                  (json_int_t)wsp_load_result_not_opened(r), "peak_open",
                                  (json_int_t)r->conn_peak_open));
    json_object_set_new(
        o, "messages",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)r->msg_sent, "matched",
                  (json_int_t)r->msg_matched, "mismatched", (json_int_t)r->msg_mismatched,
                  "timeouts", (json_int_t)r->msg_timeout, "lost", (json_int_t)r->msg_lost, "unsent",
                  (json_int_t)r->msg_unsent, "unexpected", (json_int_t)r->msg_unexpected));
    json_object_set_new(o, "throughput",
                        json_pack("{s:f, s:f}", "sent_per_s",
                                  r->measured_s > 0 ? (double)r->msg_sent / r->measured_s : 0.0,
                                  "matched_per_s", wsp_load_result_matched_rate(r)));
    json_object_set_new(o, "latency_ms",
                        json_pack("{s:o, s:o}", "corrected", hist_summary(&r->latency),
                                  "uncorrected", hist_summary(&r->latency_uncorrected)));
    json_object_set_new(o, "send_lateness_ms", hist_summary(&r->send_lateness));
    json_object_set_new(o, "client_adds_latency", json_boolean(wsp_load_result_client_late(r)));
    json_t *ph = json_object();
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        json_object_set_new(ph, wsp_load_phase_name((wsp_load_phase)p), hist_summary(&r->phase[p]));
    json_object_set_new(o, "phases_ms", ph);
    if (r->ping_interval_s > 0)
        json_object_set_new(
            o, "pings",
            json_pack("{s:f, s:I, s:I, s:I, s:I, s:o}", "interval_s", r->ping_interval_s, "sent",
                      (json_int_t)r->ping_sent, "answered", (json_int_t)r->ping_answered,
                      "timeouts", (json_int_t)r->ping_timeout, "unfinished",
                      (json_int_t)r->ping_unfinished, "pong_ms", hist_summary(&r->pong)));
    json_t *bc = json_object(), *fe = json_object();
    for (int c = 0; c < WSP_CLASS_COUNT; c++) {
        if (!r->by_class[c])
            continue;
        json_object_set_new(bc, wsp_class_name((wsp_class)c),
                            json_integer((json_int_t)r->by_class[c]));
        if (r->first_error[c][0])
            json_object_set_new(fe, wsp_class_name((wsp_class)c), json_string(r->first_error[c]));
    }
    json_t *cc = json_object(), *hs = json_object();
    char key[16];
    for (int c = 0; c < WSP_LOAD_CLOSE_CODES; c++)
        if (r->close_codes[c]) {
            snprintf(key, sizeof key, "%d", c);
            json_object_set_new(cc, key, json_integer((json_int_t)r->close_codes[c]));
        }
    for (int c = 0; c < WSP_LOAD_HTTP_STATUSES; c++)
        if (r->http_status[c]) {
            snprintf(key, sizeof key, "%d", c);
            json_object_set_new(hs, key, json_integer((json_int_t)r->http_status[c]));
        }
    json_object_set_new(o, "errors",
                        json_pack("{s:I, s:f, s:f, s:o, s:o, s:o, s:o}", "total",
                                  (json_int_t)errors, "connection_rate",
                                  wsp_load_result_conn_error_rate(r), "message_rate",
                                  wsp_load_result_msg_error_rate(r), "by_class", bc, "close_codes",
                                  cc, "http_status", hs, "examples", fe));
    json_t *se = json_array();
    for (size_t s = 0; s < r->nseries; s++) {
        const wsp_load_second *e = &r->series[s];
        json_array_append_new(
            se, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "t",
                          (json_int_t)(s + 1), "open", (json_int_t)e->open, "opened",
                          (json_int_t)e->opened, "sent", (json_int_t)e->sent, "matched",
                          (json_int_t)e->matched, "errors", (json_int_t)e->errors, "p50_ms",
                          (double)e->p50_ns / 1e6, "p99_ms", (double)e->p99_ns / 1e6, "max_ms",
                          (double)e->max_ns / 1e6, "u_p50_ms", (double)e->u_p50_ns / 1e6,
                          "u_p99_ms", (double)e->u_p99_ns / 1e6));
    }
    json_object_set_new(o, "series", se);
    json_object_set_new(o, "series_percentiles",
                        json_string(r->series_merged ? "max over agents" : "exact"));
    json_t *hj = json_object();
    json_object_set_new(hj, "latency", wsp_hist_to_json(&r->latency, "ns"));
    json_object_set_new(hj, "latency_uncorrected", wsp_hist_to_json(&r->latency_uncorrected, "ns"));
    json_object_set_new(hj, "send_lateness", wsp_hist_to_json(&r->send_lateness, "ns"));
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        json_object_set_new(hj, wsp_load_phase_name((wsp_load_phase)p),
                            wsp_hist_to_json(&r->phase[p], "ns"));
    if (r->ping_interval_s > 0)
        json_object_set_new(hj, "pong", wsp_hist_to_json(&r->pong, "ns"));
    json_object_set_new(o, "histograms", hj);
    return o;
}

bool wsp_load_result_client_late(const wsp_load_result *r)
{
    if (!r->send_lateness.total || !r->latency.total)
        return false;
    double p99 = (double)wsp_hist_percentile(&r->send_lateness, 99);
    double med = (double)wsp_hist_percentile(&r->latency, 50);
    return p99 > 0.1 * med;
}

static uint64_t geti(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static double getf(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* A duration written in ms (a double), back in a whole unit: rounded, not truncated (1.001 ms
 * is 1001 us, not 1000), and a negative, missing or absurd value (a hostile file) clamped. */
static uint64_t getscaled(const json_t *o, const char *k, double scale)
{
    double v = getf(o, k) * scale;
    if (!(v > 0))
        return 0;
    return v >= 1.8e19 ? UINT64_MAX : (uint64_t)(v + 0.5);
}

int wsp_load_result_from_json(wsp_load_result *r, const json_t *j, wsp_err *err)
{
    json_t *hj = json_object_get(j, "histograms");
    json_t *cn = json_object_get(j, "connections"), *ms = json_object_get(j, "messages");
    json_t *er = json_object_get(j, "errors"), *cf = json_object_get(j, "config");
    if (!json_is_object(j) || !json_is_object(hj) || !json_is_object(cn) || !json_is_object(ms) ||
        !json_is_object(er))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "not a `wsprobe load --json` report (histograms, connections, "
                           "messages or errors missing)");
    if (wsp_hist_from_json(&r->latency, json_object_get(hj, "latency")) != 0 ||
        wsp_hist_from_json(&r->latency_uncorrected, json_object_get(hj, "latency_uncorrected")) !=
            0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "the latency histograms are malformed");
    /* absent from reports written before it was measured: then empty */
    const json_t *sl = json_object_get(hj, "send_lateness");
    if (sl && wsp_hist_from_json(&r->send_lateness, sl) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "the send_lateness histogram is malformed");
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        if (wsp_hist_from_json(&r->phase[p],
                               json_object_get(hj, wsp_load_phase_name((wsp_load_phase)p))) != 0)
            return wsp_err_set(err, WSP_CLASS_USAGE, "the %s histogram is malformed",
                               wsp_load_phase_name((wsp_load_phase)p));
    json_t *pg = json_object_get(j, "pings");
    if (json_is_object(pg)) {
        if (wsp_hist_from_json(&r->pong, json_object_get(hj, "pong")) != 0)
            return wsp_err_set(err, WSP_CLASS_USAGE, "the pong histogram is malformed");
        r->ping_interval_s = getf(pg, "interval_s");
        r->ping_sent = geti(pg, "sent");
        r->ping_answered = geti(pg, "answered");
        r->ping_timeout = geti(pg, "timeouts");
        r->ping_unfinished = geti(pg, "unfinished");
    }
    const char *url = json_string_value(json_object_get(j, "url"));
    snprintf(r->url, sizeof r->url, "%s", url ? url : "");
    r->agents = (unsigned)geti(j, "agents");
    if (!r->agents)
        r->agents = 1;
    r->interrupted = json_is_true(json_object_get(j, "interrupted"));
    r->elapsed_s = getf(j, "elapsed_s");
    r->measured_s = getf(j, "measured_s");
    json_t *cl = json_object_get(j, "client");
    r->client_cpu_s = getf(cl, "cpu_s");
    r->client_rss_kib = geti(cl, "max_rss_kib");
    r->rss_base_kib = geti(cl, "rss_base_kib");
    r->rss_measured_kib = geti(cl, "rss_measured_kib");
    r->rss_measured_open = geti(cl, "rss_measured_open");
    if (json_is_object(cf)) {
        r->target_connections = geti(cf, "connections");
        r->rate = getf(cf, "rate");
        r->connect_rate = getf(cf, "connect_rate");
        r->duration_s = getf(cf, "duration_s");
        r->warmup_s = getf(cf, "warmup_s");
        r->threads = (unsigned)geti(cf, "threads");
        r->pipeline = (unsigned)geti(cf, "pipeline");
        r->timer_slack_us = getscaled(cf, "timer_slack_ms", 1e3);
        const char *ts = json_string_value(json_object_get(cf, "timer_slack"));
        r->timer_slack_auto = ts && strcmp(ts, "auto") == 0;
        const char *m = json_string_value(json_object_get(cf, "match"));
        snprintf(r->match, sizeof r->match, "%s", m ? m : "any");
    }
    r->conn_attempted = geti(cn, "attempted");
    r->conn_opened = geti(cn, "opened");
    r->conn_failed = geti(cn, "failed");
    r->conn_peak_open = geti(cn, "peak_open");
    r->conn_unfinished = geti(cn, "unfinished");
    if (!r->target_connections)
        r->target_connections = geti(cn, "target");
    r->msg_sent = geti(ms, "sent");
    r->msg_matched = geti(ms, "matched");
    r->msg_mismatched = geti(ms, "mismatched");
    r->msg_timeout = geti(ms, "timeouts");
    r->msg_lost = geti(ms, "lost");
    r->msg_unsent = geti(ms, "unsent");
    r->msg_unexpected = geti(ms, "unexpected");
    const char *key;
    json_t *v;
    json_t *bc = json_object_get(er, "by_class"), *fe = json_object_get(er, "examples");
    json_object_foreach(bc, key, v)
    {
        int c = wsp_class_from_name(key);
        if (c < 0 || !json_is_integer(v) || json_integer_value(v) < 0)
            return wsp_err_set(err, WSP_CLASS_USAGE, "errors.by_class: unknown class '%s'", key);
        r->by_class[c] = (uint64_t)json_integer_value(v);
        const char *ex = json_string_value(json_object_get(fe, key));
        if (ex)
            snprintf(r->first_error[c], sizeof r->first_error[c], "%s", ex);
    }
    json_object_foreach(json_object_get(er, "close_codes"), key, v)
    {
        long c = strtol(key, NULL, 10);
        if (c >= 0 && c < WSP_LOAD_CLOSE_CODES && json_is_integer(v))
            r->close_codes[c] = (uint64_t)json_integer_value(v);
    }
    json_object_foreach(json_object_get(er, "http_status"), key, v)
    {
        long c = strtol(key, NULL, 10);
        if (c >= 0 && c < WSP_LOAD_HTTP_STATUSES && json_is_integer(v))
            r->http_status[c] = (uint64_t)json_integer_value(v);
    }
    json_t *se = json_object_get(j, "series");
    size_t n = json_array_size(se);
    free(r->series);
    r->series = NULL;
    r->nseries = 0;
    if (n) {
        r->series = calloc(n, sizeof *r->series);
        if (!r->series)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        r->nseries = n;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(se, i);
            wsp_load_second *s = &r->series[i];
            s->open = geti(e, "open");
            s->opened = geti(e, "opened");
            s->sent = geti(e, "sent");
            s->matched = geti(e, "matched");
            s->errors = geti(e, "errors");
            s->p50_ns = getscaled(e, "p50_ms", 1e6);
            s->p99_ns = getscaled(e, "p99_ms", 1e6);
            s->max_ns = getscaled(e, "max_ms", 1e6);
            s->u_p50_ns = getscaled(e, "u_p50_ms", 1e6); /* 0 in reports before 0.2 */
            s->u_p99_ns = getscaled(e, "u_p99_ms", 1e6);
        }
    }
    const char *sp = json_string_value(json_object_get(j, "series_percentiles"));
    r->series_merged = sp && strcmp(sp, "exact") != 0;
    return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

int wsp_load_result_merge(wsp_load_result *d, const wsp_load_result *s)
{
    if (s->nseries > d->nseries) {
        wsp_load_second *ns = realloc(d->series, s->nseries * sizeof *ns);
        if (!ns)
            return -1;
        memset(ns + d->nseries, 0, (s->nseries - d->nseries) * sizeof *ns);
        d->series = ns;
        d->nseries = s->nseries;
    }
    for (size_t i = 0; i < s->nseries; i++) {
        wsp_load_second *a = &d->series[i];
        const wsp_load_second *b = &s->series[i];
        a->open += b->open;
        a->opened += b->opened;
        a->sent += b->sent;
        a->matched += b->matched;
        a->errors += b->errors;
        a->p50_ns = max_u64(a->p50_ns, b->p50_ns);
        a->p99_ns = max_u64(a->p99_ns, b->p99_ns);
        a->max_ns = max_u64(a->max_ns, b->max_ns);
        a->u_p50_ns = max_u64(a->u_p50_ns, b->u_p50_ns);
        a->u_p99_ns = max_u64(a->u_p99_ns, b->u_p99_ns);
    }
    d->series_merged = true;
    if (!d->url[0])
        snprintf(d->url, sizeof d->url, "%s", s->url);
    d->agents += s->agents;
    d->target_connections += s->target_connections;
    d->rate += s->rate;
    d->connect_rate += s->connect_rate;
    if (s->duration_s > d->duration_s)
        d->duration_s = s->duration_s;
    if (s->warmup_s > d->warmup_s)
        d->warmup_s = s->warmup_s;
    d->threads += s->threads;
    if (s->pipeline > d->pipeline)
        d->pipeline = s->pipeline;
    if (s->timer_slack_us > d->timer_slack_us) /* the widest window bounds the lateness */
        d->timer_slack_us = s->timer_slack_us;
    if (strcmp(d->match, s->match) != 0 && d->agents > s->agents + 1)
        snprintf(d->match, sizeof d->match, "mixed");
    else
        snprintf(d->match, sizeof d->match, "%s", s->match);
    if (s->elapsed_s > d->elapsed_s)
        d->elapsed_s = s->elapsed_s;
    /* agents run side by side: the measured window is the longest one */
    if (s->measured_s > d->measured_s)
        d->measured_s = s->measured_s;
    d->interrupted |= s->interrupted;
    d->client_cpu_s += s->client_cpu_s;
    d->client_rss_kib += s->client_rss_kib;
    if (s->rss_measured_open) { /* an agent that took no sample adds nothing to the figure */
        d->rss_base_kib += s->rss_base_kib;
        d->rss_measured_kib += s->rss_measured_kib;
        d->rss_measured_open += s->rss_measured_open;
    }
    d->conn_attempted += s->conn_attempted;
    d->conn_opened += s->conn_opened;
    d->conn_failed += s->conn_failed;
    d->conn_peak_open += s->conn_peak_open;
    d->conn_unfinished += s->conn_unfinished;
    d->msg_sent += s->msg_sent;
    d->msg_matched += s->msg_matched;
    d->msg_mismatched += s->msg_mismatched;
    d->msg_timeout += s->msg_timeout;
    if (s->ping_interval_s > 0 &&
        (d->ping_interval_s == 0 || s->ping_interval_s < d->ping_interval_s))
        d->ping_interval_s = s->ping_interval_s;
    d->ping_sent += s->ping_sent;
    d->ping_answered += s->ping_answered;
    d->ping_timeout += s->ping_timeout;
    d->ping_unfinished += s->ping_unfinished;
    wsp_hist_merge(&d->pong, &s->pong);
    d->msg_lost += s->msg_lost;
    d->msg_unsent += s->msg_unsent;
    d->msg_unexpected += s->msg_unexpected;
    for (int c = 0; c < WSP_CLASS_COUNT; c++) {
        d->by_class[c] += s->by_class[c];
        if (!d->first_error[c][0] && s->first_error[c][0])
            snprintf(d->first_error[c], sizeof d->first_error[c], "%s", s->first_error[c]);
    }
    for (int c = 0; c < WSP_LOAD_CLOSE_CODES; c++)
        d->close_codes[c] += s->close_codes[c];
    for (int c = 0; c < WSP_LOAD_HTTP_STATUSES; c++)
        d->http_status[c] += s->http_status[c];
    wsp_hist_merge(&d->latency, &s->latency);
    wsp_hist_merge(&d->latency_uncorrected, &s->latency_uncorrected);
    wsp_hist_merge(&d->send_lateness, &s->send_lateness);
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        wsp_hist_merge(&d->phase[p], &s->phase[p]);
    return 0;
}

/* ---- human ---- */

static void hist_line(FILE *f, const char *label, const wsp_hist *h)
{
    char a[24], b[24], c[24], d[24], e[24];
    if (h->total == 0) {
        fprintf(f, "  %-12s no samples\n", label);
        return;
    }
    wsp_load_format_ns((double)wsp_hist_percentile(h, 50), a, sizeof a);
    wsp_load_format_ns((double)wsp_hist_percentile(h, 90), b, sizeof b);
    wsp_load_format_ns((double)wsp_hist_percentile(h, 99), c, sizeof c);
    wsp_load_format_ns((double)wsp_hist_percentile(h, 99.9), d, sizeof d);
    wsp_load_format_ns((double)h->max, e, sizeof e);
    fprintf(f, "  %-12s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %-9s (%llu)\n", label, a, b, c, d,
            e, (unsigned long long)h->total);
}

void wsp_load_result_human(FILE *f, const wsp_load_result *r, bool color)
{
    const char *bold = color ? "\033[1m" : "", *red = color ? "\033[31m" : "",
               *off = color ? "\033[0m" : "";
    fprintf(f, "%swsprobe load%s %s\n", bold, off, r->url);
    fprintf(f, "  %zu connections, %.0f msg/s, %.3gs measured after %.3gs warm-up, %u thread(s)\n",
            r->target_connections, r->rate, r->measured_s, r->warmup_s, r->threads);
    if (r->agents > 1)
        fprintf(f, "  %u agents merged\n", r->agents);
    if (r->interrupted)
        fprintf(f, "  %sinterrupted: a partial report%s\n", red, off);
    fprintf(f, "\n%sconnections%s  %llu attempted, %llu opened, %llu failed, peak %llu open\n",
            bold, off, (unsigned long long)r->conn_attempted, (unsigned long long)r->conn_opened,
            (unsigned long long)r->conn_failed, (unsigned long long)r->conn_peak_open);
    if (wsp_load_result_not_opened(r))
        fprintf(f,
                "  %s%llu of %zu never opened%s (%llu not attempted before the end, %llu still in "
                "their handshake): lengthen --duration or raise --connect-rate\n",
                red, (unsigned long long)wsp_load_result_not_opened(r), r->target_connections, off,
                (unsigned long long)(wsp_load_result_not_opened(r) - r->conn_unfinished),
                (unsigned long long)r->conn_unfinished);
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        if (r->phase[p].total)
            hist_line(f, wsp_load_phase_name((wsp_load_phase)p), &r->phase[p]);
    double bpc = wsp_load_result_bytes_per_conn(r);
    fprintf(f, "  client       %.2fs CPU, peak RSS %.1f MiB", r->client_cpu_s,
            (double)r->client_rss_kib / 1024.0);
    if (!isnan(bpc))
        fprintf(f, ", %.1f KiB per open connection (%llu open, mid-window)", bpc / 1024.0,
                (unsigned long long)r->rss_measured_open);
    fputc('\n', f);
    fprintf(f,
            "\n%smessages%s     %llu sent, %llu matched (%.0f/s), %llu timeouts, %llu "
            "mismatched, %llu lost, %llu unsent, %llu unexpected (skipped)\n",
            bold, off, (unsigned long long)r->msg_sent, (unsigned long long)r->msg_matched,
            wsp_load_result_matched_rate(r), (unsigned long long)r->msg_timeout,
            (unsigned long long)r->msg_mismatched, (unsigned long long)r->msg_lost,
            (unsigned long long)r->msg_unsent, (unsigned long long)r->msg_unexpected);
    if (r->msg_sent || r->latency.total) {
        fprintf(f, "  latency from the intended send time (corrected for coordinated omission):\n");
        hist_line(f, "corrected", &r->latency);
        fprintf(f, "  latency from the actual send time:\n");
        hist_line(f, "uncorrected", &r->latency_uncorrected);
        fprintf(f, "  how late the sends left (actual less intended send time):\n");
        hist_line(f, "lateness", &r->send_lateness);
        if (wsp_load_result_client_late(r))
            fprintf(f,
                    "  %swarning%s: p99 send lateness is over 10%% of the median corrected "
                    "latency: the client, not the server, is adding latency: lower --rate or "
                    "add --threads or --processes\n",
                    red, off);
    }
    if (r->ping_interval_s > 0) {
        fprintf(f,
                "\n%spings%s        every %.3gs on each connection: %llu sent, %llu answered, "
                "%llu timeouts, %llu unfinished at the end\n",
                bold, off, r->ping_interval_s, (unsigned long long)r->ping_sent,
                (unsigned long long)r->ping_answered, (unsigned long long)r->ping_timeout,
                (unsigned long long)r->ping_unfinished);
        hist_line(f, "pong", &r->pong);
    }
    uint64_t errors = wsp_load_result_errors(r);
    fprintf(f,
            "\n%serrors%s       %s%llu%s (%.4g%% of connections attempted failed, %.4g%% of "
            "messages sent failed)\n",
            bold, off, errors ? red : "", (unsigned long long)errors, off,
            wsp_load_result_conn_error_rate(r) * 100.0, wsp_load_result_msg_error_rate(r) * 100.0);
    for (int c = 0; c < WSP_CLASS_COUNT; c++)
        if (r->by_class[c])
            fprintf(f, "  %-22s %8llu  %s\n", wsp_class_name((wsp_class)c),
                    (unsigned long long)r->by_class[c], r->first_error[c]);
    bool any = false;
    for (int c = 0; c < WSP_LOAD_HTTP_STATUSES; c++)
        if (r->http_status[c]) {
            fprintf(f, "%s HTTP %d: %llu", any ? "," : "  refused upgrades:", c,
                    (unsigned long long)r->http_status[c]);
            any = true;
        }
    if (any)
        fputc('\n', f);
    any = false;
    for (int c = 0; c < WSP_LOAD_CLOSE_CODES; c++)
        if (r->close_codes[c]) {
            fprintf(f, "%s %d: %llu", any ? "," : "  server close codes:", c,
                    (unsigned long long)r->close_codes[c]);
            any = true;
        }
    if (any)
        fputc('\n', f);
}
