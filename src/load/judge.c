/* judge.c - what judges a load result: thresholds (parsed, evaluated, formatted) and the
 * comparison with a baseline. Pure. The result itself, its JSON, merging and human summary are
 * in report/loadresult.c. See load.h. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"
#include "util/threshold.h"

/* ---- thresholds ---- */

static int parse_percentile(const char *s, size_t n, double *p)
{
    /* "p50", "p99.9", "p999", "max", "mean" */
    if (n == 3 && strncmp(s, "max", 3) == 0) {
        *p = 100.0;
        return 0;
    }
    if (n == 4 && strncmp(s, "mean", 4) == 0) {
        *p = -1.0;
        return 0;
    }
    if (n < 2 || s[0] != 'p')
        return -1;
    char buf[16];
    if (n - 1 >= sizeof buf)
        return -1;
    memcpy(buf, s + 1, n - 1);
    buf[n - 1] = '\0';
    for (size_t i = 0; buf[i]; i++)
        if (!isdigit((unsigned char)buf[i]) && buf[i] != '.')
            return -1;
    char *end;
    double v = strtod(buf, &end);
    if (*end || end == buf)
        return -1;
    /* p999 means 99.9, p9999 99.99 (HdrHistogram's habit) */
    if (!strchr(buf, '.') && strlen(buf) > 2 && buf[0] == '9' && buf[1] == '9') {
        double d = 10.0;
        v = 0;
        for (size_t i = 0; buf[i]; i++) {
            if (i < 2)
                v = v * 10 + (buf[i] - '0');
            else {
                v += (buf[i] - '0') / d;
                d *= 10;
            }
        }
    }
    if (v <= 0 || v > 100)
        return -1;
    *p = v;
    return 0;
}

int wsp_load_threshold_parse(const char *text, wsp_load_threshold *t, wsp_err *err)
{
    memset(t, 0, sizeof *t);
    if (!text || strlen(text) >= sizeof t->text)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--threshold: too long or empty");
    snprintf(t->text, sizeof t->text, "%s", text);
    wsp_threshold_expr x;
    if (wsp_threshold_split("--threshold", text, &x, err) != 0)
        return -1;
    t->op = (wsp_load_op)x.op;
    double v = x.number;
    const char *unit = x.unit;
    size_t ulen = strlen(unit);
    char metric[48];
    snprintf(metric, sizeof metric, "%s", x.metric);

    /* connection_errors, message_errors: one kind; errors: both, each over its own count */
    const char *em = metric;
    if (strncmp(em, "connection_", 11) == 0) {
        t->scope = WSP_LOAD_E_CONNECTIONS;
        em += 11;
    } else if (strncmp(em, "message_", 8) == 0) {
        t->scope = WSP_LOAD_E_MESSAGES;
        em += 8;
    }
    if (strcmp(em, "errors") == 0 || strcmp(em, "error_rate") == 0) {
        if (ulen == 1 && unit[0] == '%') {
            t->kind = WSP_LOAD_M_ERROR_RATE;
            t->limit = v / 100.0;
        } else if (ulen == 0 && strcmp(em, "error_rate") == 0) {
            if (v > 1)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "--threshold '%s': an error rate is a fraction (0..1) or a "
                                   "percentage (0.1%%)",
                                   text);
            t->kind = WSP_LOAD_M_ERROR_RATE;
            t->limit = v;
        } else if (ulen == 0) {
            t->kind = WSP_LOAD_M_ERRORS;
            t->limit = v;
        } else {
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--threshold '%s': errors take %% (a rate) or no unit (a count)",
                               text);
        }
        return 0;
    }
    if (em != metric)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--threshold '%s': unknown metric '%s' (connection_ and message_ go "
                           "before errors or error_rate)",
                           text, metric);
    if (strcmp(metric, "rate") == 0 || strcmp(metric, "connections") == 0) {
        if (ulen && !(ulen == 2 && strncmp(unit, "/s", 2) == 0 && metric[0] == 'r'))
            return wsp_err_set(err, WSP_CLASS_USAGE, "--threshold '%s': %s takes a plain number",
                               text, metric);
        t->kind = metric[0] == 'r' ? WSP_LOAD_M_RATE : WSP_LOAD_M_CONNECTIONS;
        t->limit = v;
        return 0;
    }
    /* a latency: [uncorrected_|PHASE_]pNN */
    t->kind = WSP_LOAD_M_LATENCY;
    t->hist = WSP_LOAD_H_LATENCY;
    const char *pm = metric;
    static const struct {
        const char *prefix;
        wsp_load_hist_sel sel;
        wsp_load_phase ph;
    } prefixes[] = {
        {"uncorrected_", WSP_LOAD_H_UNCORRECTED, WSP_LOAD_PH_RESOLVE},
        {"resolve_", WSP_LOAD_H_PHASE, WSP_LOAD_PH_RESOLVE},
        {"connect_", WSP_LOAD_H_PHASE, WSP_LOAD_PH_CONNECT},
        {"tls_", WSP_LOAD_H_PHASE, WSP_LOAD_PH_TLS},
        {"upgrade_", WSP_LOAD_H_PHASE, WSP_LOAD_PH_UPGRADE},
        {"handshake_", WSP_LOAD_H_PHASE, WSP_LOAD_PH_HANDSHAKE},
        {"latency_", WSP_LOAD_H_LATENCY, WSP_LOAD_PH_RESOLVE},
        {"pong_", WSP_LOAD_H_PONG, WSP_LOAD_PH_RESOLVE},
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i].prefix);
        if (strncmp(pm, prefixes[i].prefix, pl) == 0) {
            t->hist = prefixes[i].sel;
            t->phase = prefixes[i].ph;
            pm += pl;
            break;
        }
    }
    if (parse_percentile(pm, strlen(pm), &t->percentile) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--threshold '%s': unknown metric '%s' (p50, p90, p95, p99, p99.9, "
                           "max, mean, optionally as uncorrected_p99, connect_p95, resolve_, "
                           "tls_, upgrade_, handshake_, pong_; or errors, error_rate, "
                           "connection_errors, message_errors, rate, connections)",
                           text, metric);
    double mul;
    if (ulen == 2 && strncmp(unit, "ns", 2) == 0)
        mul = 1;
    else if (ulen == 2 && strncmp(unit, "us", 2) == 0)
        mul = 1e3;
    else if (ulen == 2 && strncmp(unit, "ms", 2) == 0)
        mul = 1e6;
    else if (ulen == 1 && unit[0] == 's')
        mul = 1e9;
    else
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--threshold '%s': a latency needs a unit: ns, us, ms or s (like "
                           "p99<50ms)",
                           text);
    t->limit = v * mul;
    return 0;
}

static const wsp_hist *threshold_hist(const wsp_load_threshold *t, const wsp_load_result *r)
{
    switch (t->hist) {
    case WSP_LOAD_H_LATENCY:
        return &r->latency;
    case WSP_LOAD_H_UNCORRECTED:
        return &r->latency_uncorrected;
    case WSP_LOAD_H_PHASE:
        return &r->phase[t->phase];
    case WSP_LOAD_H_PONG:
        return &r->pong;
    }
    return &r->latency;
}

/* Never one rate over connections and messages together: errors<1% holds when both hold. */
static double error_rate(wsp_load_error_scope scope, const wsp_load_result *r)
{
    double c = wsp_load_result_conn_error_rate(r), m = wsp_load_result_msg_error_rate(r);
    if (scope == WSP_LOAD_E_CONNECTIONS)
        return c;
    if (scope == WSP_LOAD_E_MESSAGES)
        return m;
    return c > m ? c : m;
}

bool wsp_load_threshold_eval(const wsp_load_threshold *t, const wsp_load_result *r, double *value)
{
    double v = 0;
    switch (t->kind) {
    case WSP_LOAD_M_LATENCY: {
        const wsp_hist *h = threshold_hist(t, r);
        if (h->total == 0) {
            *value = NAN;
            return false;
        }
        if (t->percentile < 0)
            v = wsp_hist_mean(h);
        else if (t->percentile >= 100)
            v = (double)h->max;
        else
            v = (double)wsp_hist_percentile(h, t->percentile);
        break;
    }
    case WSP_LOAD_M_ERROR_RATE:
        v = error_rate(t->scope, r);
        break;
    case WSP_LOAD_M_ERRORS:
        /* a connection that never opened counts as one that failed */
        v = t->scope == WSP_LOAD_E_CONNECTIONS ? (double)wsp_load_result_conn_errors(r)
            : t->scope == WSP_LOAD_E_MESSAGES
                ? (double)wsp_load_result_msg_errors(r)
                : (double)(wsp_load_result_errors(r) + wsp_load_result_not_opened(r));
        break;
    case WSP_LOAD_M_RATE:
        v = wsp_load_result_matched_rate(r);
        break;
    case WSP_LOAD_M_CONNECTIONS:
        v = (double)r->conn_opened;
        break;
    }
    *value = v;
    return wsp_threshold_holds((wsp_threshold_op)t->op, v, t->limit);
}

void wsp_load_threshold_format(const wsp_load_threshold *t, double value, char *buf, size_t cap)
{
    switch (t->kind) {
    case WSP_LOAD_M_LATENCY:
        wsp_load_format_ns(value, buf, cap);
        return;
    case WSP_LOAD_M_ERROR_RATE:
        snprintf(buf, cap, "%.4g%%", value * 100.0);
        return;
    case WSP_LOAD_M_ERRORS:
    case WSP_LOAD_M_CONNECTIONS:
        snprintf(buf, cap, "%.0f", value);
        return;
    case WSP_LOAD_M_RATE:
        snprintf(buf, cap, "%.0f/s", value);
        return;
    }
    snprintf(buf, cap, "%g", value);
}

/* ---- the default gates ---- */

/* Which gate a threshold judges instead of: errors of a kind replace the gate of that kind
 * (errors, error_rate: both), connections>=N the connections gate, rate the rate gate; a
 * latency threshold replaces none. */
static bool replaces(const wsp_load_threshold *t, wsp_load_gate_kind g)
{
    switch (t->kind) {
    case WSP_LOAD_M_ERROR_RATE:
    case WSP_LOAD_M_ERRORS:
        if (g == WSP_LOAD_GATE_CONNECTIONS)
            return t->scope != WSP_LOAD_E_MESSAGES;
        if (g == WSP_LOAD_GATE_MESSAGES)
            return t->scope != WSP_LOAD_E_CONNECTIONS;
        if (g == WSP_LOAD_GATE_PINGS)
            return t->kind == WSP_LOAD_M_ERRORS && t->scope == WSP_LOAD_E_ALL;
        return false;
    case WSP_LOAD_M_CONNECTIONS:
        return g == WSP_LOAD_GATE_CONNECTIONS;
    case WSP_LOAD_M_RATE:
        return g == WSP_LOAD_GATE_RATE;
    case WSP_LOAD_M_LATENCY:
        return false;
    }
    return false;
}

void wsp_load_gates_eval(const wsp_load_result *r, const wsp_load_threshold *th, size_t nth,
                         wsp_load_gate out[WSP_LOAD_GATES])
{
    static const char *const names[WSP_LOAD_GATES] = {"connections", "messages", "rate", "pings"};
    bool offered = r->rate > 0;
    for (int g = 0; g < WSP_LOAD_GATES; g++) {
        wsp_load_gate *o = &out[g];
        memset(o, 0, sizeof *o);
        o->name = names[g];
        switch ((wsp_load_gate_kind)g) {
        case WSP_LOAD_GATE_CONNECTIONS:
            /* a connection asked for and never opened is no more a pass than one that failed */
            o->applies = true;
            o->not_opened = (double)wsp_load_result_not_opened(r);
            o->value = (double)r->conn_failed + o->not_opened;
            o->of = (double)(r->target_connections > r->conn_attempted ? r->target_connections
                                                                       : r->conn_attempted);
            break;
        case WSP_LOAD_GATE_MESSAGES:
            o->applies = offered;
            o->value = (double)wsp_load_result_msg_errors(r);
            o->of = (double)r->msg_sent;
            break;
        case WSP_LOAD_GATE_RATE:
            o->applies = offered;
            o->value = wsp_load_result_matched_rate(r);
            o->of = r->rate;
            /* the schedule's own grain is not a shortfall: each open connection may lose one
             * slot at the edge of the measured window (its first send lands an interval
             * fraction in), so that much comes off the 95 % */
            o->limit = r->rate * WSP_LOAD_RATE_GATE -
                       (r->measured_s > 0 ? (double)r->conn_opened / r->measured_s : 0.0);
            if (o->limit < 0)
                o->limit = 0;
            break;
        case WSP_LOAD_GATE_PINGS:
            o->applies = r->ping_interval_s > 0;
            o->value = (double)r->ping_timeout;
            o->of = (double)r->ping_sent;
            break;
        case WSP_LOAD_GATES:
            break;
        }
        o->held = g == WSP_LOAD_GATE_RATE ? o->value >= o->limit : o->value <= o->limit;
        for (size_t i = 0; i < nth && !o->replaced_by; i++)
            if (replaces(&th[i], (wsp_load_gate_kind)g))
                o->replaced_by = th[i].text;
        o->ok = !o->applies || o->held || o->replaced_by;
    }
}

void wsp_load_gate_format(const wsp_load_gate *g, char *buf, size_t cap)
{
    if (strcmp(g->name, "rate") == 0)
        snprintf(buf, cap, "%.0f/s matched of %.0f/s offered (at least %.0f/s)", g->value, g->of,
                 g->limit);
    else if (g->not_opened > 0)
        snprintf(buf, cap, "%.0f of %.0f did not open: %.0f failed, %.0f never opened (%.4g%%)",
                 g->value, g->of, g->value - g->not_opened, g->not_opened,
                 g->of > 0 ? g->value / g->of * 100.0 : 0.0);
    else
        snprintf(buf, cap, "%.0f of %.0f %s failed (%.4g%%)", g->value, g->of,
                 strcmp(g->name, "connections") != 0 ? "sent" : "attempted",
                 g->of > 0 ? g->value / g->of * 100.0 : 0.0);
}

/* ---- baseline ---- */

void wsp_load_compare_results(const wsp_load_result *base, const wsp_load_result *cur,
                              const wsp_load_tolerance *tol, wsp_load_compare *out)
{
    memset(out, 0, sizeof *out);
    static const double pcts[2] = {50, 99};
    static const char *const names[2] = {"p50", "p99"};
    for (int i = 0; i < 2; i++) {
        wsp_load_compare_item *it = &out->items[i];
        it->name = names[i];
        it->baseline = (double)wsp_hist_percentile(&base->latency, pcts[i]);
        it->current = (double)wsp_hist_percentile(&cur->latency, pcts[i]);
        double lim = it->baseline * (1.0 + tol->latency_rel);
        if (lim < it->baseline + (double)tol->latency_abs)
            lim = it->baseline + (double)tol->latency_abs;
        it->limit = lim;
        /* a run that measured nothing cannot be compared favourably */
        it->regressed = (cur->latency.total == 0 && base->latency.total > 0) || it->current > lim;
    }
    static const char *const rates[2] = {"connection_error_rate", "message_error_rate"};
    for (int i = 0; i < 2; i++) {
        wsp_load_compare_item *e = &out->items[2 + i];
        e->name = rates[i];
        e->baseline =
            i ? wsp_load_result_msg_error_rate(base) : wsp_load_result_conn_error_rate(base);
        e->current = i ? wsp_load_result_msg_error_rate(cur) : wsp_load_result_conn_error_rate(cur);
        e->limit = e->baseline + tol->error_rate_abs;
        e->regressed = e->current > e->limit;
    }
    for (int i = 0; i < WSP_LOAD_COMPARE_ITEMS; i++)
        out->regressed = out->regressed || out->items[i].regressed;
}
