/* exposition.c - see exposition.h. */
#include "report/exposition.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/http.h"
#include "report/report.h"

void wsp_expo_init(wsp_expo *x, wsp_buf *out, bool openmetrics)
{
    *x = (wsp_expo){.out = out, .openmetrics = openmetrics};
}

static void put(wsp_expo *x, const char *s, size_t n)
{
    if (wsp_buf_put(x->out, s, n) != 0)
        x->failed = true;
}

static void puts_(wsp_expo *x, const char *s)
{
    put(x, s, strlen(s));
}

/* Escape for a label value (\\, \", \n) or, with help, for HELP text (\\, \n; and \" in
 * OpenMetrics, whose HELP escapes as label values do). */
static void escaped(wsp_expo *x, const char *s, bool help)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            puts_(x, "\\\\");
        else if (*p == '\n')
            puts_(x, "\\n");
        else if (*p == '"' && (!help || x->openmetrics))
            puts_(x, "\\\"");
        else
            put(x, p, 1);
    }
}

int wsp_expo_number(double v, char *out, size_t cap)
{
    if (isnan(v))
        return snprintf(out, cap, "NaN");
    if (isinf(v))
        return snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return snprintf(out, cap, "%.0f", v);
    int n = 0;
    for (int prec = 6; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return n;
}

void wsp_expo_family(wsp_expo *x, const char *name, wsp_expo_type type, const char *unit,
                     const char *help)
{
    x->family = name;
    x->type = type;
    char shown[160];
    /* the text format names the family as its samples are named; OpenMetrics without the
     * counter's _total and the info's _info */
    snprintf(shown, sizeof shown, "%s%s", name,
             x->openmetrics             ? ""
             : type == WSP_EXPO_COUNTER ? "_total"
             : type == WSP_EXPO_INFO    ? "_info"
                                        : "");
    puts_(x, "# HELP ");
    puts_(x, shown);
    puts_(x, " ");
    escaped(x, help, true);
    puts_(x, "\n# TYPE ");
    puts_(x, shown);
    puts_(x, x->openmetrics && type == WSP_EXPO_INFO ? " info\n"
             : type == WSP_EXPO_COUNTER              ? " counter\n"
             : type == WSP_EXPO_HISTOGRAM            ? " histogram\n"
                                                     : " gauge\n");
    if (x->openmetrics && unit) {
        puts_(x, "# UNIT ");
        puts_(x, shown);
        puts_(x, " ");
        puts_(x, unit);
        puts_(x, "\n");
    }
}

void wsp_expo_sample(wsp_expo *x, double value, ...)
{
    puts_(x, x->family);
    puts_(x, x->type == WSP_EXPO_COUNTER ? "_total" : x->type == WSP_EXPO_INFO ? "_info" : "");
    va_list ap;
    va_start(ap, value);
    const char *k;
    bool any = false;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        puts_(x, any ? "," : "{");
        puts_(x, k);
        puts_(x, "=\"");
        escaped(x, v ? v : "", false);
        puts_(x, "\"");
        any = true;
    }
    va_end(ap);
    if (any)
        puts_(x, "}");
    char num[40];
    wsp_expo_number(value, num, sizeof num);
    puts_(x, " ");
    puts_(x, num);
    puts_(x, "\n");
}

/* name + suffix {k="v",le="le"} value */
static void hist_line(wsp_expo *x, const char *suffix, const char *k, const char *v, const char *le,
                      double value)
{
    puts_(x, x->family);
    puts_(x, suffix);
    if (k || le) {
        puts_(x, "{");
        if (k) {
            puts_(x, k);
            puts_(x, "=\"");
            escaped(x, v ? v : "", false);
            puts_(x, le ? "\"," : "\"");
        }
        if (le) {
            puts_(x, "le=\"");
            puts_(x, le);
            puts_(x, "\"");
        }
        puts_(x, "}");
    }
    char num[40];
    wsp_expo_number(value, num, sizeof num);
    puts_(x, " ");
    puts_(x, num);
    puts_(x, "\n");
}

void wsp_expo_histogram(wsp_expo *x, const char *k, const char *v, const double *bounds,
                        const unsigned long long *counts, size_t n, unsigned long long over,
                        double sum)
{
    unsigned long long cum = 0;
    char le[40];
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        wsp_expo_number(bounds[i], le, sizeof le);
        size_t l = strlen(le);
        if (x->openmetrics && !strchr(le, '.') && !strchr(le, 'e'))
            snprintf(le + l, sizeof le - l, ".0"); /* OpenMetrics: canonical floats */
        hist_line(x, "_bucket", k, v, le, (double)cum);
    }
    cum += over;
    hist_line(x, "_bucket", k, v, "+Inf", (double)cum);
    hist_line(x, "_sum", k, v, NULL, sum);
    hist_line(x, "_count", k, v, NULL, (double)cum);
}

void wsp_expo_end(wsp_expo *x)
{
    if (x->openmetrics)
        puts_(x, "# EOF\n");
}

bool wsp_expo_wants_openmetrics(const char *accept, size_t len)
{
    double om = -1, text = -1;
    for (size_t i = 0; i < len;) {
        size_t es, ee;
        i = wsp_http_list_next(accept, len, i, ',', &es, &ee);
        const char *e = accept + es;
        size_t el = ee - es, tl = 0;
        while (tl < el && e[tl] != ';' && e[tl] != ' ' && e[tl] != '\t')
            tl++;
        double q = 1;
        for (size_t k = tl; k + 2 < el; k++)
            if ((e[k] == ';' || e[k] == ' ') && (e[k + 1] == 'q' || e[k + 1] == 'Q') &&
                e[k + 2] == '=') {
                char num[16];
                size_t nl = 0;
                for (size_t m = k + 3; m < el && nl + 1 < sizeof num && e[m] != ';'; m++)
                    num[nl++] = e[m];
                num[nl] = '\0';
                q = strtod(num, NULL);
            }
        if (tl == 28 && strncasecmp(e, "application/openmetrics-text", 28) == 0)
            om = q > om ? q : om;
        else if (tl == 10 && strncasecmp(e, "text/plain", 10) == 0)
            text = q > text ? q : text;
    }
    return om > 0 && om > text;
}

/* ---- the probe's metrics ---- */

typedef struct view {
    const wsp_probe *p;
    const char *address; /* NULL: one probe, no label */
} view;

/* A sample of one probe: its address label when there is one, then the given label. */
static void sample_of(wsp_expo *x, const view *v, double value, const char *k, const char *val)
{
    if (v->address && k)
        wsp_expo_sample(x, value, "address", v->address, k, val, NULL);
    else if (v->address)
        wsp_expo_sample(x, value, "address", v->address, NULL);
    else if (k)
        wsp_expo_sample(x, value, k, val, NULL);
    else
        wsp_expo_sample(x, value, NULL);
}

/* The heads of the families every probe's answer has, one text each. */
static void success_family(wsp_expo *x)
{
    wsp_expo_family(x, "wsprobe_probe_success", WSP_EXPO_GAUGE, NULL,
                    "Whether the probe held: 1 when every phase, the conversation and the health "
                    "check held, else 0.");
}

static void duration_family(wsp_expo *x, double duration_s)
{
    wsp_expo_family(x, "wsprobe_probe_duration_seconds", WSP_EXPO_GAUGE, "seconds",
                    "How long the probe took, from the start to its verdict.");
    wsp_expo_sample(x, duration_s, NULL);
}

static void failure_family(wsp_expo *x)
{
    wsp_expo_family(x, "wsprobe_probe_failure", WSP_EXPO_INFO, NULL,
                    "Why the probe failed: its class (docs/exit-codes.md) and phase; present only "
                    "when it failed.");
}

void wsp_expo_unprobed(wsp_expo *x, const wsp_err *why, const char *phase, double duration_s)
{
    success_family(x);
    wsp_expo_sample(x, 0, NULL);
    duration_family(x, duration_s);
    failure_family(x);
    wsp_expo_sample(x, 1, "class", wsp_class_name(why->cls), "phase", phase, NULL);
}

/* What one record says for a family that only some probes have: false when it has nothing;
 * else the value, and the label's value for a family with a label. */
typedef bool (*record_field)(const wsp_conn_record *r, double *v, const char **label);

static bool http_status(const wsp_conn_record *r, double *v, const char **label)
{
    (void)label;
    *v = r->http_status;
    return r->http_status != 0;
}

static bool tls_version(const wsp_conn_record *r, double *v, const char **label)
{
    *v = 1;
    *label = r->tls ? r->tls->version : "";
    return r->tls && r->tls_done && r->tls->version[0];
}

static bool cert_expiry(const wsp_conn_record *r, double *v, const char **label)
{
    (void)label;
    *v = r->tls ? (double)r->tls->not_after : 0;
    return r->tls && r->tls->have_cert && r->tls->not_after;
}

static bool close_code(const wsp_conn_record *r, double *v, const char **label)
{
    (void)label;
    *v = r->close_code;
    return r->close_code >= 0;
}

/* A family written only when some probe has it, its head before the first sample. */
static void optional_family(wsp_expo *x, const view *vs, size_t n, const char *name,
                            wsp_expo_type type, const char *unit, const char *help,
                            const char *label_key, record_field field)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        double v;
        const char *label = NULL;
        if (!field(wsp_probe_record(vs[i].p), &v, &label))
            continue;
        if (!any)
            wsp_expo_family(x, name, type, unit, help);
        any = true;
        sample_of(x, &vs[i], v, label_key, label);
    }
}

void wsp_expo_probe(wsp_expo *x, wsp_probe *const *probes, const char *const *addresses, size_t n,
                    const wsp_err *whole, double duration_s)
{
    view vs[64];
    if (n > sizeof vs / sizeof vs[0])
        n = sizeof vs / sizeof vs[0];
    for (size_t i = 0; i < n; i++)
        vs[i] = (view){probes[i], addresses ? addresses[i] : NULL};
    bool each = addresses != NULL;

    success_family(x);
    wsp_expo_sample(x, whole->cls == WSP_CLASS_OK, NULL);
    for (size_t i = 0; each && i < n; i++)
        sample_of(x, &vs[i], wsp_probe_verdict(vs[i].p)->cls == WSP_CLASS_OK, NULL, NULL);
    duration_family(x, duration_s);

    wsp_expo_family(x, "wsprobe_phase_duration_seconds", WSP_EXPO_GAUGE, "seconds",
                    "How long each phase of the probe took; phases that did not happen are "
                    "absent.");
    for (size_t i = 0; i < n; i++) {
        wsp_report_phase ph[WSP_REPORT_PHASES_MAX];
        size_t np = wsp_report_probe_phases(vs[i].p, ph);
        for (size_t k = 0; k < np; k++)
            if (strcmp(ph[k].name, "total") != 0)
                sample_of(x, &vs[i], round(ph[k].ms * 1e6) / 1e9, "phase", ph[k].name);
    }

    bool failed = whole->cls != WSP_CLASS_OK;
    for (size_t i = 0; i < n && !failed; i++)
        failed = wsp_probe_verdict(vs[i].p)->cls != WSP_CLASS_OK;
    if (failed) {
        failure_family(x);
        const char *phase = "done";
        for (size_t i = 0; i < n; i++)
            if (wsp_probe_verdict(vs[i].p)->cls == whole->cls) {
                phase = wsp_report_failed_phase(vs[i].p);
                break;
            }
        if (whole->cls != WSP_CLASS_OK)
            wsp_expo_sample(x, 1, "class", wsp_class_name(whole->cls), "phase", phase, NULL);
        for (size_t i = 0; each && i < n; i++) {
            const wsp_err *v = wsp_probe_verdict(vs[i].p);
            if (v->cls != WSP_CLASS_OK)
                wsp_expo_sample(x, 1, "address", vs[i].address, "class", wsp_class_name(v->cls),
                                "phase", wsp_report_failed_phase(vs[i].p), NULL);
        }
    }

    optional_family(x, vs, n, "wsprobe_http_status_code", WSP_EXPO_GAUGE, NULL,
                    "The status of the upgrade's HTTP response (101 when it upgraded); absent "
                    "when no status line came.",
                    NULL, http_status);
    optional_family(x, vs, n, "wsprobe_tls_version", WSP_EXPO_INFO, NULL,
                    "The TLS version the handshake agreed.", "version", tls_version);
    optional_family(x, vs, n, "wsprobe_tls_cert_expiry_timestamp_seconds", WSP_EXPO_GAUGE,
                    "seconds",
                    "When the server's leaf certificate expires (notAfter), in Unix seconds.", NULL,
                    cert_expiry);
    optional_family(x, vs, n, "wsprobe_ws_close_code", WSP_EXPO_GAUGE, NULL,
                    "The WebSocket close code (the server's, or ours when we closed first); "
                    "absent when no close frame carried one.",
                    NULL, close_code);
    wsp_expo_family(x, "wsprobe_messages", WSP_EXPO_GAUGE, NULL,
                    "Text and binary messages of this probe, each way.");
    for (size_t i = 0; i < n; i++) {
        const wsp_conn_record *r = wsp_probe_record(vs[i].p);
        sample_of(x, &vs[i], (double)r->sent_messages, "direction", "sent");
        sample_of(x, &vs[i], (double)r->received_messages, "direction", "received");
    }
    wsp_expo_family(x, "wsprobe_bytes", WSP_EXPO_GAUGE, "bytes",
                    "Bytes of this probe through the socket each way (over TLS, its records and "
                    "handshake).");
    for (size_t i = 0; i < n; i++) {
        const wsp_conn_record *r = wsp_probe_record(vs[i].p);
        sample_of(x, &vs[i], (double)r->tx_bytes, "direction", "sent");
        sample_of(x, &vs[i], (double)r->rx_bytes, "direction", "received");
    }
}
