/* hist.c - see hist.h. */
#include "util/hist.h"

#include <math.h>
#include <string.h>

void wsp_hist_init(wsp_hist *h)
{
    memset(h, 0, sizeof *h);
}

unsigned wsp_hist_index(uint64_t v)
{
    if (v > WSP_HIST_VALUE_MAX)
        v = WSP_HIST_VALUE_MAX;
    if (v < WSP_HIST_SUB)
        return (unsigned)v;                            /* the first 128 buckets are exact */
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - WSP_HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) - WSP_HIST_SUB; /* 0..127 */
    return (shift + 1) * WSP_HIST_SUB + sub;
}

uint64_t wsp_hist_lowest(unsigned i)
{
    if (i < WSP_HIST_SUB)
        return i;
    unsigned shift = i / WSP_HIST_SUB - 1;
    uint64_t sub = i % WSP_HIST_SUB;
    return (WSP_HIST_SUB + sub) << shift;
}

uint64_t wsp_hist_highest(unsigned i)
{
    if (i < WSP_HIST_SUB)
        return i;
    unsigned shift = i / WSP_HIST_SUB - 1;
    return wsp_hist_lowest(i) + (1ull << shift) - 1;
}

void wsp_hist_record_n(wsp_hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v > WSP_HIST_VALUE_MAX) {
        v = WSP_HIST_VALUE_MAX;
        h->clamped += n;
    }
    h->counts[wsp_hist_index(v)] += n;
    if (h->total == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->total += n;
    h->sum += (double)v * (double)n;
    h->sum_sq += (double)v * (double)v * (double)n;
}

void wsp_hist_merge(wsp_hist *dst, const wsp_hist *src)
{
    if (src->total == 0)
        return;
    for (unsigned i = 0; i < WSP_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    dst->sum_sq += src->sum_sq;
}

uint64_t wsp_hist_percentile(const wsp_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p > 100.0)
        p = 100.0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < WSP_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = wsp_hist_highest(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double wsp_hist_mean(const wsp_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

double wsp_hist_stddev(const wsp_hist *h)
{
    if (h->total == 0)
        return 0.0;
    double m = wsp_hist_mean(h);
    double var = h->sum_sq / (double)h->total - m * m;
    return var > 0 ? sqrt(var) : 0.0;
}

/* HdrHistogram's PercentileIterator: 5 ticks per half distance to 100 %. */
int wsp_hist_write_hdr(const wsp_hist *h, FILE *f, double unit)
{
    if (fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)") < 0)
        return -1;
    if (h->total) {
        double level = 0.0;
        for (int guard = 0; guard < 10000; guard++) {
            uint64_t v = wsp_hist_percentile(h, level);
            /* how many recordings are at or below v */
            uint64_t at = 0;
            for (unsigned i = 0; i < WSP_HIST_BUCKETS && wsp_hist_lowest(i) <= v; i++)
                at += h->counts[i];
            double q = (double)at / (double)h->total;
            if (at >= h->total) {
                fprintf(f, "%12.3f %1.12f %10llu\n", (double)h->max / unit, 1.0,
                        (unsigned long long)h->total);
                break;
            }
            fprintf(f, "%12.3f %1.12f %10llu %14.2f\n", (double)v / unit, q, (unsigned long long)at,
                    1.0 / (1.0 - q));
            /* advance the level past q by the next tick */
            while (level <= q * 100.0) {
                double half = pow(2.0, floor(log2(100.0 / (100.0 - level))) + 1);
                level += 100.0 / (5.0 * half);
                if (level >= 100.0)
                    break;
            }
            if (level >= 100.0)
                level = 100.0;
        }
    }
    return fprintf(f,
                   "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
                   "#[Max     = %12.3f, Total count    = %12llu]\n"
                   "#[Buckets = %12u, SubBuckets     = %12u]\n",
                   wsp_hist_mean(h) / unit, wsp_hist_stddev(h) / unit, (double)h->max / unit,
                   (unsigned long long)h->total, WSP_HIST_MAX_EXP - WSP_HIST_SUB_BITS + 1,
                   WSP_HIST_SUB) < 0
               ? -1
               : 0;
}

json_t *wsp_hist_to_json(const wsp_hist *h, const char *unit)
{
    json_t *b = json_array();
    for (unsigned i = 0; i < WSP_HIST_BUCKETS; i++)
        if (h->counts[i])
            json_array_append_new(b, json_pack("[I, I]", (json_int_t)i, (json_int_t)h->counts[i]));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:i, s:i, s:o}", "unit", unit, "total",
                     (json_int_t)h->total, "min", (json_int_t)h->min, "max", (json_int_t)h->max,
                     "clamped", (json_int_t)h->clamped, "sum", h->sum, "sum_sq", h->sum_sq,
                     "sub_buckets", WSP_HIST_SUB, "max_exp", WSP_HIST_MAX_EXP, "buckets", b);
}

int wsp_hist_from_json(wsp_hist *h, const json_t *j)
{
    wsp_hist_init(h);
    json_t *b = json_object_get(j, "buckets");
    json_t *sub = json_object_get(j, "sub_buckets"), *mexp = json_object_get(j, "max_exp");
    if (!json_is_array(b) || !json_is_integer(sub) || json_integer_value(sub) != WSP_HIST_SUB ||
        !json_is_integer(mexp) || json_integer_value(mexp) != WSP_HIST_MAX_EXP)
        return -1;
    size_t i;
    json_t *pair;
    json_array_foreach(b, i, pair)
    {
        json_t *ix = json_array_get(pair, 0), *cn = json_array_get(pair, 1);
        if (json_array_size(pair) != 2 || !json_is_integer(ix) || !json_is_integer(cn) ||
            json_integer_value(ix) < 0 || json_integer_value(ix) >= WSP_HIST_BUCKETS ||
            json_integer_value(cn) < 0)
            goto bad;
        h->counts[json_integer_value(ix)] += (uint64_t)json_integer_value(cn);
        h->total += (uint64_t)json_integer_value(cn);
    }
    json_t *tot = json_object_get(j, "total"), *mn = json_object_get(j, "min"),
           *mx = json_object_get(j, "max");
    if (!json_is_integer(tot) || (uint64_t)json_integer_value(tot) != h->total ||
        !json_is_integer(mn) || !json_is_integer(mx))
        goto bad;
    h->min = (uint64_t)json_integer_value(mn);
    h->max = (uint64_t)json_integer_value(mx);
    h->clamped = (uint64_t)json_integer_value(json_object_get(j, "clamped"));
    h->sum = json_number_value(json_object_get(j, "sum"));
    h->sum_sq = json_number_value(json_object_get(j, "sum_sq"));
    if (h->total && (h->min > h->max || wsp_hist_index(h->max) >= WSP_HIST_BUCKETS))
        goto bad;
    return 0;
bad:
    wsp_hist_init(h);
    return -1;
}
