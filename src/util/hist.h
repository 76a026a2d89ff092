/* hist.h - a log-linear latency histogram in the manner of HdrHistogram: exact below 128 ns,
 * then 128 linear sub-buckets per power of two, so any recorded value is reported within 1/128
 * (0.8 %) of itself from 1 ns to 2^44 ns (about 4.9 hours; larger values are clamped and
 * counted). Fixed size, no allocation; histograms merge exactly (counts add), across threads,
 * runs and machines. Pure. */
#ifndef WSP_HIST_H
#define WSP_HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define WSP_HIST_SUB_BITS 7
#define WSP_HIST_SUB (1u << WSP_HIST_SUB_BITS) /* 128 */
#define WSP_HIST_MAX_EXP 44                    /* values up to 2^44 - 1 ns */
#define WSP_HIST_BUCKETS (WSP_HIST_SUB * (WSP_HIST_MAX_EXP - WSP_HIST_SUB_BITS + 1))
#define WSP_HIST_VALUE_MAX ((1ull << WSP_HIST_MAX_EXP) - 1)

typedef struct wsp_hist {
    uint64_t counts[WSP_HIST_BUCKETS];
    uint64_t total;
    uint64_t min, max; /* exact, of recorded values (after clamping) */
    uint64_t clamped;  /* values above WSP_HIST_VALUE_MAX, recorded as the maximum */
    double sum;        /* for the mean */
    double sum_sq;     /* for the standard deviation */
} wsp_hist;

void wsp_hist_init(wsp_hist *h);
/* Record `value` (nanoseconds, or any unit: the histogram does not care) `n` times. */
void wsp_hist_record_n(wsp_hist *h, uint64_t value, uint64_t n);
static inline void wsp_hist_record(wsp_hist *h, uint64_t value)
{
    wsp_hist_record_n(h, value, 1);
}
/* Add every count of src into dst: the result is exactly what recording both would give. */
void wsp_hist_merge(wsp_hist *dst, const wsp_hist *src);

/* The value at percentile p (0..100): the highest value equivalent to the bucket holding the
 * ceil(p/100 * total)-th smallest recording, never above the exact max; p = 0 gives the exact
 * min. 0 when the histogram is empty. */
uint64_t wsp_hist_percentile(const wsp_hist *h, double p);
double wsp_hist_mean(const wsp_hist *h);
double wsp_hist_stddev(const wsp_hist *h);

/* Bucket helpers (tests, serialisation). */
unsigned wsp_hist_index(uint64_t value);
uint64_t wsp_hist_lowest(unsigned index);
uint64_t wsp_hist_highest(unsigned index);

/* HdrHistogram's percentile-distribution text ("Value Percentile TotalCount 1/(1-Percentile)"
 * rows, then the #[Mean ...] footer), values divided by `unit` (1e6 for ns -> ms), so existing
 * plotting tools read it. Returns 0 or -1 on a write error. */
int wsp_hist_write_hdr(const wsp_hist *h, FILE *f, double unit);

/* Exact, sparse JSON form {"unit": unit, "total": n, "min": .., "max": .., "sum": .., "sum_sq":
 * .., "clamped": .., "buckets": [[index, count], ...]} and back. from_json returns 0, or -1 on a
 * malformed object (h is then empty). */
json_t *wsp_hist_to_json(const wsp_hist *h, const char *unit);
int wsp_hist_from_json(wsp_hist *h, const json_t *j);

#endif
