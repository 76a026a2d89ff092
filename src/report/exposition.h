/* exposition.h - metrics in the Prometheus text exposition format (version 0.0.4) or in
 * OpenMetrics 1.0 text, written into a buffer: families (HELP, TYPE and, in OpenMetrics, UNIT)
 * with their samples; label values escaped; "# EOF" at the end of OpenMetrics. The probe's own
 * metrics (docs/exporter.md) are written by wsp_expo_probe from the result, so the exporter
 * holds no naming or formatting of its own.
 *
 * Names follow the Prometheus conventions: base units (seconds, bytes), `_total` only on
 * counters (added to the sample name by the writer, as OpenMetrics wants the family without
 * it), `_info` gauges of value 1 carrying labels. */
#ifndef WSP_EXPOSITION_H
#define WSP_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/probe.h"
#include "util/buf.h"

#define WSP_EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define WSP_EXPO_OM_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

typedef enum wsp_expo_type {
    WSP_EXPO_GAUGE,
    WSP_EXPO_COUNTER,   /* the family name without _total; samples get it */
    WSP_EXPO_INFO,      /* a gauge of 1 named NAME_info (OpenMetrics type info) */
    WSP_EXPO_HISTOGRAM, /* samples through wsp_expo_histogram */
} wsp_expo_type;

typedef struct wsp_expo {
    wsp_buf *out;
    bool openmetrics;
    bool failed; /* out of memory somewhere: the buffer is not to be sent */
    const char *family;
    wsp_expo_type type;
} wsp_expo;

/* Whether an Accept header value asks for OpenMetrics (application/openmetrics-text with a q
 * above every text/plain one it lists). */
bool wsp_expo_wants_openmetrics(const char *accept, size_t len);

void wsp_expo_init(wsp_expo *x, wsp_buf *out, bool openmetrics);
/* Start a family. `name` is the family name (a counter's without _total, an info's without
 * _info); `unit` is the OpenMetrics unit ("seconds", "bytes") or NULL; help is one line. */
void wsp_expo_family(wsp_expo *x, const char *name, wsp_expo_type type, const char *unit,
                     const char *help);
/* One sample of the current family: labels as name, value pairs (values escaped here), then
 * NULL. */
void wsp_expo_sample(wsp_expo *x, double value, ...) __attribute__((sentinel));
/* One histogram of the current family (type HISTOGRAM): counts[i] observations at most
 * bounds[i] (not cumulative; the writer sums), `over` above the last bound, their sum; with
 * one label (k, v) or none (k NULL). */
void wsp_expo_histogram(wsp_expo *x, const char *k, const char *v, const double *bounds,
                        const unsigned long long *counts, size_t n, unsigned long long over,
                        double sum);
/* The end of the exposition ("# EOF" in OpenMetrics). */
void wsp_expo_end(wsp_expo *x);

/* The format of one number: integers without a point, others in the shortest form that reads
 * back to the same double, +Inf, -Inf, NaN. Returns the length. */
int wsp_expo_number(double v, char *out, size_t cap);

/* One probe's metrics (docs/exporter.md "Metrics"): success, duration, the phases that
 * happened, the failure's class and phase, the HTTP status, TLS version and certificate expiry,
 * the close code, messages and bytes each way. Under --each-address, `n` probes, each with its
 * address: the whole (success, duration and failure_info without an address label, `whole` the
 * verdict) and every series of each address with an `address` label. For one probe pass n = 1,
 * addresses NULL and whole = its verdict. duration_s: the whole probe's time. */
void wsp_expo_probe(wsp_expo *x, wsp_probe *const *probes, const char *const *addresses, size_t n,
                    const wsp_err *whole, double duration_s);

/* The answer of a probe that never started (no address resolved, no time left for it):
 * success 0, the time spent, and the failure's class with `phase`. */
void wsp_expo_unprobed(wsp_expo *x, const wsp_err *why, const char *phase, double duration_s);

#endif
