/* test_hist.c - the latency histogram: error bound over the whole range, exact merge,
 * percentile edge cases, the JSON round trip and the HdrHistogram text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/hist.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static wsp_hist *new_hist(void)
{
    wsp_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    wsp_hist_init(h);
    return h;
}

/* Every value from 1 us to 1 h, log-uniformly sampled, comes back within 1 %. */
static void test_error_bound_whole_range(void **state)
{
    (void)state;
    const double lo = 1e3, hi = 3600e9; /* ns */
    for (int k = 0; k < 200000; k++) {
        double u = (double)(next_rand() >> 11) / 9007199254740992.0;
        uint64_t v = (uint64_t)(lo * __builtin_pow(hi / lo, u));
        unsigned i = wsp_hist_index(v);
        assert_true(i < WSP_HIST_BUCKETS);
        assert_true(wsp_hist_lowest(i) <= v && v <= wsp_hist_highest(i));
        double err = (double)(wsp_hist_highest(i) - wsp_hist_lowest(i)) / (double)v;
        assert_true(err <= 0.01);
    }
    /* the edges exactly */
    static const uint64_t edges[] = {0,   1,    127,  128,  255,
                                     256, 1000, 1023, 1024, WSP_HIST_VALUE_MAX};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) {
        unsigned i = wsp_hist_index(edges[k]);
        assert_true(wsp_hist_lowest(i) <= edges[k] && edges[k] <= wsp_hist_highest(i));
    }
    assert_int_equal(wsp_hist_index(WSP_HIST_VALUE_MAX), WSP_HIST_BUCKETS - 1);
    /* buckets tile the range with no gap or overlap */
    for (unsigned i = 1; i < WSP_HIST_BUCKETS; i++)
        assert_int_equal(wsp_hist_lowest(i), wsp_hist_highest(i - 1) + 1);
}

static void test_percentiles_within_bound(void **state)
{
    (void)state;
    wsp_hist *h = new_hist();
    /* 1..100000 us: the p-th percentile is p * 1000 us */
    for (uint64_t v = 1; v <= 100000; v++)
        wsp_hist_record(h, v * 1000);
    static const double ps[] = {1, 10, 50, 90, 99, 99.9, 99.99};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        double want = ps[k] * 1000.0 * 1000.0;
        double got = (double)wsp_hist_percentile(h, ps[k]);
        assert_true(got >= want * 0.99 && got <= want * 1.01);
    }
    assert_int_equal(wsp_hist_percentile(h, 0), 1000);
    assert_int_equal(wsp_hist_percentile(h, 100), 100000000);
    assert_int_equal(h->total, 100000);
    free(h);
}

static void test_edge_cases(void **state)
{
    (void)state;
    wsp_hist *h = new_hist();
    assert_int_equal(wsp_hist_percentile(h, 50), 0); /* empty */
    assert_true(wsp_hist_mean(h) == 0.0);
    wsp_hist_record(h, 5000);
    for (double p = 0; p <= 100; p += 12.5)
        assert_int_equal(wsp_hist_percentile(h, p), 5000); /* single value: min == max */
    wsp_hist_record_n(h, 7, 0);                            /* n = 0 records nothing */
    assert_int_equal(h->total, 1);
    wsp_hist_record(h, UINT64_MAX); /* clamped, counted */
    assert_int_equal(h->clamped, 1);
    assert_int_equal(h->max, WSP_HIST_VALUE_MAX);
    assert_int_equal(wsp_hist_percentile(h, 100), WSP_HIST_VALUE_MAX);
    /* the highest value equivalent to 5000's bucket: within 1 % above it */
    assert_in_range(wsp_hist_percentile(h, 50), 5000, 5050);
    assert_int_equal(wsp_hist_percentile(h, 150), WSP_HIST_VALUE_MAX); /* p clamped to 100 */
    free(h);
}

static void test_merge_is_exact(void **state)
{
    (void)state;
    wsp_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
    for (int k = 0; k < 50000; k++) {
        uint64_t v = next_rand() % 5000000000ull;
        wsp_hist_record(k % 3 ? a : b, v);
        wsp_hist_record(all, v);
    }
    wsp_hist_merge(a, b);
    assert_memory_equal(a->counts, all->counts, sizeof a->counts);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(wsp_hist_percentile(a, p), wsp_hist_percentile(all, p));
    free(a);
    free(b);
    free(all);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    wsp_hist *h = new_hist(), *back = new_hist();
    for (int k = 0; k < 1000; k++)
        wsp_hist_record(h, next_rand() % 100000000ull);
    json_t *j = wsp_hist_to_json(h, "ns");
    assert_non_null(j);
    char *text = json_dumps(j, 0);
    json_decref(j);
    json_error_t je;
    j = json_loads(text, 0, &je);
    free(text);
    assert_int_equal(wsp_hist_from_json(back, j), 0);
    assert_memory_equal(back->counts, h->counts, sizeof h->counts);
    assert_int_equal(back->min, h->min);
    assert_int_equal(back->max, h->max);
    /* a tampered total is refused */
    json_object_set_new(j, "total", json_integer(5));
    assert_int_equal(wsp_hist_from_json(back, j), -1);
    assert_int_equal(back->total, 0);
    json_decref(j);
    free(h);
    free(back);
}

static void test_hdr_text_format(void **state)
{
    (void)state;
    wsp_hist *h = new_hist();
    for (uint64_t v = 1; v <= 1000; v++)
        wsp_hist_record(h, v * 1000000); /* 1..1000 ms */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(wsp_hist_write_hdr(h, f, 1e6), 0);
    fclose(f);
    /* header, rows of 4 numbers with rising percentiles, a last row at 1.0, the footer */
    assert_non_null(strstr(buf, "Value"));
    assert_non_null(strstr(buf, "#[Max     ="));
    double prev = -1;
    int rows = 0, last_row = 0;
    for (char *line = buf; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        double v, q, inv;
        unsigned long long c;
        int n = sscanf(line, "%lf %lf %llu %lf", &v, &q, &c, &inv);
        if (n >= 3) {
            assert_true(q >= prev);
            prev = q;
            rows++;
            last_row = n == 3;
        }
    }
    assert_true(rows > 20);
    assert_true(last_row);
    assert_true(prev == 1.0);
    free(buf);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_bound_whole_range),
        cmocka_unit_test(test_percentiles_within_bound),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_merge_is_exact),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_hdr_text_format),
    };
    return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
